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

/// Up to `max` iterations of a forward REP MOVS/STOS with 32-bit addressing done at once,
/// as long as they stay within one page of each operand, both pages are in the TLB as
/// plain RAM for this access (so no MMIO, no code pages, no watched pages), the segments
/// allow every byte, and the copy cannot overlap its own output differently from the
/// element-by-element order. Returns how many ran (0: take the one-at-a-time path, which
/// also fills the TLB or raises the fault).
fn bulk_run(cpu: &mut Cpu, m: Mnemonic, src_seg: usize, size: u32, max: u32) -> u32 {
    if cpu.alignment_checking() || cpu.state.dr[7] & 0xFF != 0 {
        return 0;
    }
    let movs = matches!(m, Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd);
    let count = cpu.state.reg32(RCX).min(max);
    let di = cpu.state.reg32(RDI);
    let si = cpu.state.reg32(RSI);
    let room = |off: u32, base: u64| {
        let lin = (base as u32).wrapping_add(off);
        (0x1000 - (lin & 0xFFF)) / size
    };
    let mut n = count.min(room(di, cpu.state.seg[ES].base));
    if movs {
        n = n.min(room(si, cpu.state.seg[src_seg].base));
    }
    if n == 0 {
        return 0;
    }
    let bytes = n * size;
    let Ok(dst_lin) = cpu.seg_linear(ES, di, bytes, true) else {
        return 0;
    };
    let user = cpu.user();
    let dst = cpu.tlb.entry(user, dst_lin);
    if dst.write_tag != dst_lin & !0xFFF {
        return 0;
    }
    let dst_at = dst.host as usize + (dst_lin & 0xFFF) as usize;
    if movs {
        let Ok(src_lin) = cpu.seg_linear(src_seg, si, bytes, false) else {
            return 0;
        };
        let src = cpu.tlb.entry(user, src_lin);
        if src.read_tag != src_lin & !0xFFF {
            return 0;
        }
        let src_at = src.host as usize + (src_lin & 0xFFF) as usize;
        // Forward element order equals a memmove unless the output runs into input not yet
        // read.
        if dst_at > src_at && dst_at < src_at + bytes as usize {
            return 0;
        }
        cpu.mem
            .host
            .bytes_mut()
            .copy_within(src_at..src_at + bytes as usize, dst_at);
        cpu.state.set_reg32(RSI, si.wrapping_add(bytes));
    } else {
        let v = cpu.state.reg(0, size).to_le_bytes();
        let out = &mut cpu.mem.host.bytes_mut()[dst_at..dst_at + bytes as usize];
        for chunk in out.chunks_exact_mut(size as usize) {
            chunk.copy_from_slice(&v[..size as usize]);
        }
    }
    cpu.state.set_reg32(RDI, di.wrapping_add(bytes));
    cpu.state.set_reg32(RCX, cpu.state.reg32(RCX) - n);
    n
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
    let bulk = rep
        && regs.wide
        && delta == size
        && matches!(
            m,
            Mnemonic::Movsb
                | Mnemonic::Movsw
                | Mnemonic::Movsd
                | Mnemonic::Stosb
                | Mnemonic::Stosw
                | Mnemonic::Stosd
        );
    loop {
        if rep {
            if regs.get(cpu, RCX) == 0 {
                return Ok(());
            }
            if bulk && left > 0 {
                let done = bulk_run(cpu, m, src_seg, size, left);
                left -= done;
                if done > 0 {
                    continue;
                }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::bus::PortBus;
    use crate::control::MachineControl;
    use crate::cpu::core::Cpu;
    use crate::cpu::segment::SegmentCache;
    use crate::cpu::state::{CS, DS, ES, RCX, RDI, RSI, SS};
    use crate::memory::PhysicalMemory;

    /// Real-mode-style segments but 32-bit addressing (0x67 prefixes) over 1 MiB.
    fn cpu_with(code: &[u8]) -> Cpu {
        let mem = PhysicalMemory::new(1 << 20, &[0u8; 4096]).unwrap();
        let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
        cpu.mem.write_bytes(0x7C00, code);
        for s in [CS, DS, ES, SS] {
            cpu.state.seg[s] = SegmentCache::real_mode(0);
            cpu.state.seg[s].limit = 0xF_FFFF;
        }
        cpu.state.rip = 0x7C00;
        cpu
    }

    #[test]
    fn rep_movsb_onto_its_own_tail_replicates_like_single_steps() {
        // a32 rep movsb ; hlt -- with EDI = ESI + 1, each byte copies the one before it:
        // the first byte fills the whole range (no memmove semantics).
        let mut cpu = cpu_with(&[0x67, 0xF3, 0xA4, 0xF4]);
        cpu.mem.write_bytes(0x2000, &[0xAB, 1, 2, 3, 4, 5, 6, 7]);
        cpu.state.set_reg32(RSI, 0x2000);
        cpu.state.set_reg32(RDI, 0x2001);
        cpu.state.set_reg32(RCX, 0x1800);
        cpu.run(1000);
        let mut out = vec![0; 0x1801];
        cpu.mem.read_bytes(0x2000, &mut out);
        assert!(
            out.iter().all(|&b| b == 0xAB),
            "replicated across two pages"
        );
        assert_eq!(cpu.state.reg32(RCX), 0);
        assert_eq!(cpu.state.reg32(RDI), 0x3801);
    }

    #[test]
    fn rep_stosd_and_movsd_across_pages_match_their_definition() {
        // o32 a32 rep stosd ; hlt -- from an unaligned address straddling page ends.
        let mut cpu = cpu_with(&[0x66, 0x67, 0xF3, 0xAB, 0xF4]);
        cpu.state.set_reg32(0, 0x1234_5678);
        cpu.state.set_reg32(RDI, 0x10FFE);
        cpu.state.set_reg32(RCX, 3000);
        cpu.run(100_000);
        assert_eq!(cpu.state.reg32(RDI), 0x10FFE + 12000);
        // o32 a32 rep movsd ; hlt -- copies it 0x20000 higher.
        let mut copy = cpu_with(&[0x66, 0x67, 0xF3, 0xA5, 0xF4]);
        let mut filled = vec![0; 12000];
        cpu.mem.read_bytes(0x10FFE, &mut filled);
        copy.mem.write_bytes(0x10FFE, &filled);
        copy.state.set_reg32(RSI, 0x10FFE);
        copy.state.set_reg32(RDI, 0x30FFE);
        copy.state.set_reg32(RCX, 3000);
        copy.run(100_000);
        for i in 0..3000u64 {
            assert_eq!(cpu.mem.read_u32(0x10FFE + 4 * i), 0x1234_5678, "stos {i}");
            assert_eq!(copy.mem.read_u32(0x30FFE + 4 * i), 0x1234_5678, "movs {i}");
        }
        assert_eq!(cpu.mem.read_u32(0x10FFE + 12000), 0, "nothing past the end");
        assert_eq!(copy.state.reg32(RSI), 0x10FFE + 12000);
        assert_eq!(copy.state.reg32(RCX), 0);
    }
}
