//! Control transfers within and across segments, and software interrupts.

use iced_x86::{Code, Instruction, OpKind};

use crate::cpu::core::Cpu;
use crate::cpu::state::{CS, RCX};
use crate::exception::{Exception, Result};
use crate::interp::interrupt::Source;
use crate::interp::operand::{asize, mem_loc, op_size, osize, Loc};

/// Jumps to `target` (an EIP) after the CS limit check (#GP(0) when beyond it).
#[inline(always)]
fn near_jump(cpu: &mut Cpu, target: u32) -> Result<()> {
    if target > cpu.state.seg[CS].limit {
        return Err(Exception::gp0().into());
    }
    cpu.next_rip = target as u64;
    Ok(())
}

#[inline(always)]
fn branch_target(ins: &Instruction) -> u32 {
    let t = ins.near_branch_target() as u32;
    if osize(ins) == 2 {
        t & 0xFFFF
    } else {
        t
    }
}

pub fn jcc(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if cpu.state.lazy.condition(ins.condition_code() as u8 - 1) {
        near_jump(cpu, branch_target(ins))?;
    }
    Ok(())
}

pub fn jmp(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    match ins.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 => near_jump(cpu, branch_target(ins)),
        OpKind::FarBranch16 | OpKind::FarBranch32 => {
            let off = if ins.op0_kind() == OpKind::FarBranch16 {
                ins.far_branch16() as u32
            } else {
                ins.far_branch32()
            };
            cpu.far_jump(ins.far_branch_selector(), off)
        }
        _ if is_far_indirect(ins) => {
            let (sel, off) = read_far_pointer(cpu, ins)?;
            cpu.far_jump(sel, off)
        }
        _ => {
            let size = op_size(ins, 0);
            let t = cpu.read_op(ins, 0, size)?;
            near_jump(cpu, t)
        }
    }
}

fn is_far_indirect(ins: &Instruction) -> bool {
    matches!(
        ins.code(),
        Code::Jmp_m1616 | Code::Jmp_m1632 | Code::Call_m1616 | Code::Call_m1632
    )
}

fn read_far_pointer(cpu: &mut Cpu, ins: &Instruction) -> Result<(u16, u32)> {
    let Loc::Mem { seg, off } = mem_loc(cpu, ins) else {
        return Err(Exception::ud().into());
    };
    let size = if matches!(ins.code(), Code::Jmp_m1616 | Code::Call_m1616) {
        2
    } else {
        4
    };
    let o = cpu.read_mem(seg, off, size)?;
    let s = cpu.read_mem(seg, crate::interp::operand::next_offset(ins, off, size), 2)?;
    Ok((s as u16, o))
}

pub fn call(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    match ins.op0_kind() {
        OpKind::NearBranch16 | OpKind::NearBranch32 => {
            let t = branch_target(ins);
            if t > cpu.state.seg[CS].limit {
                return Err(Exception::gp0().into());
            }
            cpu.push(size, cpu.next_rip as u32)?;
            cpu.next_rip = t as u64;
            Ok(())
        }
        OpKind::FarBranch16 | OpKind::FarBranch32 => {
            let off = if ins.op0_kind() == OpKind::FarBranch16 {
                ins.far_branch16() as u32
            } else {
                ins.far_branch32()
            };
            cpu.far_call(ins.far_branch_selector(), off, size)
        }
        _ if is_far_indirect(ins) => {
            let (sel, off) = read_far_pointer(cpu, ins)?;
            cpu.far_call(sel, off, size)
        }
        _ => {
            let t = cpu.read_op(ins, 0, size)?;
            if t > cpu.state.seg[CS].limit {
                return Err(Exception::gp0().into());
            }
            cpu.push(size, cpu.next_rip as u32)?;
            cpu.next_rip = t as u64;
            Ok(())
        }
    }
}

pub fn ret(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    let t = cpu.read_mem(crate::cpu::state::SS, cpu.sp(), size)?;
    if t > cpu.state.seg[CS].limit {
        return Err(Exception::gp0().into());
    }
    let imm = if ins.op_count() > 0 {
        ins.immediate(0) as u32
    } else {
        0
    };
    cpu.set_sp(cpu.sp_offset(size + imm));
    cpu.next_rip = t as u64;
    Ok(())
}

pub fn retf(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let imm = if ins.op_count() > 0 {
        ins.immediate(0) as u32
    } else {
        0
    };
    cpu.far_ret(osize(ins), imm)
}

pub fn iret(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    cpu.iret(osize(ins))
}

/// LOOP/LOOPE/LOOPNE/JCXZ/JECXZ: the counter is CX or ECX by address size.
pub fn loop_jcxz(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let wide = asize(ins) == 4;
    let count = if wide {
        cpu.state.reg32(RCX)
    } else {
        cpu.state.reg16(RCX) as u32
    };
    let take = match ins.mnemonic() {
        iced_x86::Mnemonic::Jcxz | iced_x86::Mnemonic::Jecxz => count == 0,
        m => {
            let n = count.wrapping_sub(1);
            if wide {
                cpu.state.set_reg32(RCX, n)
            } else {
                cpu.state.set_reg16(RCX, n as u16)
            }
            let n = if wide { n } else { n & 0xFFFF };
            match m {
                iced_x86::Mnemonic::Loope => n != 0 && cpu.state.lazy.zf(),
                iced_x86::Mnemonic::Loopne => n != 0 && !cpu.state.lazy.zf(),
                _ => n != 0,
            }
        }
    };
    if take {
        near_jump(cpu, branch_target(ins))?;
    }
    Ok(())
}

pub fn int(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    cpu.software_interrupt(ins.immediate(0) as u8, Source::Software)
}

pub fn int3(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    cpu.software_interrupt(crate::exception::vector::BP, Source::Software)
}

pub fn int1(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    cpu.software_interrupt(crate::exception::vector::DB, Source::Icebp)
}

pub fn into(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    if cpu.state.lazy.of() {
        return cpu.software_interrupt(crate::exception::vector::OF, Source::Software);
    }
    Ok(())
}
