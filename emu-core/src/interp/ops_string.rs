//! String instructions with REP prefixes. Each iteration commits its register updates, so a
//! fault or an interrupt in the middle restarts the instruction where it stopped.

use iced_x86::{Instruction, Mnemonic};

use crate::cpu::core::Cpu;
use crate::cpu::flags::DF;
use crate::cpu::state::{ES, RCX, RDI, RDX, RSI};
use crate::exception::{Fault, Result};
use crate::interp::alu::{self, AluOp};
use crate::interp::operand::{asize, sreg};

/// Iterations run before a REP instruction yields so interrupts are not held off.
const REP_SLICE: u32 = 4096;

fn elem_size(m: Mnemonic) -> u32 {
    use Mnemonic::*;
    match m {
        Movsb | Stosb | Lodsb | Cmpsb | Scasb | Insb | Outsb => 1,
        Movsw | Stosw | Lodsw | Cmpsw | Scasw | Insw | Outsw => 2,
        _ => 4,
    }
}

struct Regs {
    wide: bool,
}

impl Regs {
    fn get(&self, cpu: &Cpu, r: usize) -> u32 {
        if self.wide {
            cpu.state.reg32(r)
        } else {
            cpu.state.reg16(r) as u32
        }
    }
    fn set(&self, cpu: &mut Cpu, r: usize, v: u32) {
        if self.wide {
            cpu.state.set_reg32(r, v)
        } else {
            cpu.state.set_reg16(r, v as u16)
        }
    }
    fn step(&self, cpu: &mut Cpu, r: usize, delta: u32) {
        let v = self.get(cpu, r).wrapping_add(delta);
        self.set(cpu, r, v);
    }
}

pub fn string(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let start_flags = cpu.state.lazy;
    let r = string_iterations(cpu, ins);
    // A fault in the middle of REP CMPS/SCAS leaves the flags as they were when the
    // instruction started, not those of the last completed iteration (host behaviour; the
    // restarted instruction recomputes them).
    if let Err(Fault::Exception(_)) = r {
        if ins.has_rep_prefix() || ins.has_repne_prefix() {
            cpu.state.lazy = start_flags;
        }
    }
    r
}

fn string_iterations(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let m = ins.mnemonic();
    let size = elem_size(m);
    let regs = Regs {
        wide: asize(ins) == 4,
    };
    let delta = if cpu.state.lazy.eflags_raw() & DF != 0 {
        size.wrapping_neg()
    } else {
        size
    };
    let rep = ins.has_rep_prefix() || ins.has_repne_prefix();
    let compares = matches!(
        m,
        Mnemonic::Cmpsb
            | Mnemonic::Cmpsw
            | Mnemonic::Cmpsd
            | Mnemonic::Scasb
            | Mnemonic::Scasw
            | Mnemonic::Scasd
    );
    let src_seg = sreg(ins.memory_segment());
    if matches!(
        m,
        Mnemonic::Insb
            | Mnemonic::Insw
            | Mnemonic::Insd
            | Mnemonic::Outsb
            | Mnemonic::Outsw
            | Mnemonic::Outsd
    ) {
        let port = cpu.state.reg16(RDX);
        cpu.check_io_permission(port, size)?;
    }
    let mut left = REP_SLICE;
    loop {
        if rep {
            if regs.get(cpu, RCX) == 0 {
                return Ok(());
            }
            if left == 0 {
                // Yield: come back to this same instruction.
                cpu.next_rip = cpu.state.rip;
                return Err(Fault::EndBlock);
            }
            left -= 1;
        }
        match m {
            Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd => {
                let v = cpu.read_mem(src_seg, regs.get(cpu, RSI), size)?;
                cpu.write_mem(ES, regs.get(cpu, RDI), size, v)?;
                regs.step(cpu, RSI, delta);
                regs.step(cpu, RDI, delta);
            }
            Mnemonic::Stosb | Mnemonic::Stosw | Mnemonic::Stosd => {
                let v = cpu.state.reg(0, size);
                cpu.write_mem(ES, regs.get(cpu, RDI), size, v)?;
                regs.step(cpu, RDI, delta);
            }
            Mnemonic::Lodsb | Mnemonic::Lodsw | Mnemonic::Lodsd => {
                let v = cpu.read_mem(src_seg, regs.get(cpu, RSI), size)?;
                cpu.state.set_reg(0, size, v);
                regs.step(cpu, RSI, delta);
            }
            Mnemonic::Cmpsb | Mnemonic::Cmpsw | Mnemonic::Cmpsd => {
                let a = cpu.read_mem(src_seg, regs.get(cpu, RSI), size)?;
                let b = cpu.read_mem(ES, regs.get(cpu, RDI), size)?;
                alu::alu(&mut cpu.state.lazy, AluOp::Cmp, a, b, size);
                regs.step(cpu, RSI, delta);
                regs.step(cpu, RDI, delta);
            }
            Mnemonic::Scasb | Mnemonic::Scasw | Mnemonic::Scasd => {
                let b = cpu.read_mem(ES, regs.get(cpu, RDI), size)?;
                let a = cpu.state.reg(0, size);
                alu::alu(&mut cpu.state.lazy, AluOp::Cmp, a, b, size);
                regs.step(cpu, RDI, delta);
            }
            Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd => {
                let di = regs.get(cpu, RDI);
                // The destination is probed before the port is read (a read may have effects).
                cpu.seg_linear(ES, di, size, true)?;
                let v = cpu.port_read(cpu.state.reg16(RDX), size as u8);
                cpu.write_mem(ES, di, size, v)?;
                regs.step(cpu, RDI, delta);
            }
            _ => {
                let v = cpu.read_mem(src_seg, regs.get(cpu, RSI), size)?;
                cpu.port_write(cpu.state.reg16(RDX), size as u8, v);
                regs.step(cpu, RSI, delta);
            }
        }
        if !rep {
            return Ok(());
        }
        let n = regs.get(cpu, RCX).wrapping_sub(1);
        regs.set(cpu, RCX, n);
        if compares {
            let zf = cpu.state.lazy.zf();
            // REPE stops on a mismatch, REPNE on a match.
            if ins.has_repe_prefix() && !zf || ins.has_repne_prefix() && zf {
                return Ok(());
            }
        }
    }
}
