//! Data movement: MOV forms, stack ops, conversions, segment loads, flag transfers.

use iced_x86::{Code, Instruction, OpKind, Register};

use crate::cpu::core::Cpu;
use crate::cpu::flags::{AF, CF, PF, SF, ZF};
use crate::cpu::state::{RAX, RBP, RBX, RDX, RSP, SS};
use crate::exception::{Exception, Fault, Result};
use crate::interp::far::FlagsWriter;
use crate::interp::operand::{
    effective_offset, gpr, loc, mem_loc, mem_seg, next_offset, op_size, osize, sreg, Loc,
};

pub fn mov(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let v = cpu.read_op(ins, 1, size)?;
    let dst = loc(cpu, ins, 0);
    cpu.write_loc(dst, size, v)
}

pub fn mov_r32_r32(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let v = cpu.state.reg32(gpr(ins.op1_register()));
    cpu.state.set_reg32(gpr(ins.op0_register()), v);
    Ok(())
}

/// MOV r32, [mem] with 32-bit addressing: the commonest load, without operand decoding.
pub fn mov_r32_m32(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let off = crate::interp::operand::effective_offset32(cpu, ins);
    let v = cpu.read_mem(mem_seg(ins), off, 4)?;
    cpu.state.set_reg32(gpr(ins.op0_register()), v);
    Ok(())
}

/// MOV [mem], r32 with 32-bit addressing.
pub fn mov_m32_r32(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let off = crate::interp::operand::effective_offset32(cpu, ins);
    let v = cpu.state.reg32(gpr(ins.op1_register()));
    cpu.write_mem(mem_seg(ins), off, 4, v)
}

pub fn mov_r32_imm(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    cpu.state
        .set_reg32(gpr(ins.op0_register()), ins.immediate32());
    Ok(())
}

/// MOV with a moffs operand (A0-A3): iced reports it as a memory operand too.
pub fn movzx(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let src = op_size(ins, 1);
    let v = cpu.read_op(ins, 1, src)?;
    cpu.state
        .set_reg(gpr(ins.op0_register()), op_size(ins, 0), v);
    Ok(())
}

pub fn movsx(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let src = op_size(ins, 1);
    let v = cpu.read_op(ins, 1, src)?;
    let v = if src == 1 {
        v as u8 as i8 as i32 as u32
    } else {
        v as u16 as i16 as i32 as u32
    };
    cpu.state
        .set_reg(gpr(ins.op0_register()), op_size(ins, 0), v);
    Ok(())
}

pub fn lea(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if ins.op1_kind() != OpKind::Memory {
        return Err(Exception::ud().into());
    }
    let ea = effective_offset(cpu, ins);
    cpu.state
        .set_reg(gpr(ins.op0_register()), op_size(ins, 0), ea);
    Ok(())
}

pub fn xchg(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let a_loc = loc(cpu, ins, 0);
    let b_loc = loc(cpu, ins, 1);
    let a = cpu.read_loc(a_loc, size)?;
    let b = cpu.read_loc(b_loc, size)?;
    // Memory side first: if it faults, the register is untouched.
    if let Loc::Mem { .. } = a_loc {
        cpu.write_loc(a_loc, size, b)?;
        cpu.write_loc(b_loc, size, a)
    } else {
        cpu.write_loc(b_loc, size, a)?;
        cpu.write_loc(a_loc, size, b)
    }
}

pub fn nop(_: &mut Cpu, _: &Instruction) -> Result<()> {
    Ok(())
}

pub fn push(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    let v = match ins.op0_kind() {
        OpKind::Register if ins.op0_register().is_segment_register() => {
            cpu.state.seg[sreg(ins.op0_register())].selector as u32
        }
        OpKind::Register => cpu.state.reg(gpr(ins.op0_register()), size),
        OpKind::Memory => cpu.read_op(ins, 0, size)?,
        _ => ins.immediate(0) as u32,
    };
    cpu.push(size, v)
}

pub fn pop(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    if ins.op0_kind() == OpKind::Register && ins.op0_register().is_segment_register() {
        let v = cpu.read_mem(SS, cpu.sp(), size)?;
        let seg = sreg(ins.op0_register());
        let r = cpu.load_segment(seg, v as u16);
        if let Err(Fault::Exception(e)) = r {
            return Err(e.into());
        }
        cpu.set_sp(cpu.sp_offset(size));
        return r;
    }
    let v = cpu.read_mem(SS, cpu.sp(), size)?;
    let old_sp = cpu.state.gpr[RSP];
    cpu.set_sp(cpu.sp_offset(size));
    // POP [ESP+x] computes its address with the incremented ESP (SDM Vol. 2, POP).
    let dst = loc(cpu, ins, 0);
    if let Err(e) = cpu.write_loc(dst, size, v) {
        cpu.state.gpr[RSP] = old_sp;
        return Err(e);
    }
    Ok(())
}

/// PUSHA/PUSHAD push slot by slot: a fault part-way leaves the slots already written in
/// memory and (E)SP as it was (host behaviour).
pub fn pusha(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    // The value pushed for (E)SP is the register at operand size, whatever SS.B says.
    let sp0 = cpu.state.reg(RSP, size);
    let esp0 = cpu.state.gpr[RSP];
    for r in 0..8 {
        let v = if r == RSP {
            sp0
        } else {
            cpu.state.reg(r, size)
        };
        if let Err(e) = cpu.push(size, v) {
            cpu.state.gpr[RSP] = esp0;
            return Err(e);
        }
    }
    Ok(())
}

/// POPA/POPAD pop slot by slot: a fault part-way keeps the registers already loaded and
/// restores (E)SP (host behaviour).
pub fn popa(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    let esp0 = cpu.state.gpr[RSP];
    for r in (0..8).rev() {
        match cpu.pop(size) {
            Ok(v) if r != RSP => cpu.state.set_reg(r, size, v),
            Ok(_) => {}
            Err(e) => {
                cpu.state.gpr[RSP] = esp0;
                return Err(e);
            }
        }
    }
    Ok(())
}

pub fn pushf(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if cpu.state.v8086() && cpu.iopl() < 3 {
        return Err(Exception::gp0().into());
    }
    let size = osize(ins);
    // VM and RF are never pushed as set (SDM Vol. 2, PUSHF).
    let v = cpu.state.eflags() & !(crate::cpu::flags::VM | crate::cpu::flags::RF);
    cpu.push(size, v)
}

pub fn popf(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if cpu.state.v8086() && cpu.iopl() < 3 {
        return Err(Exception::gp0().into());
    }
    let size = osize(ins);
    let v = cpu.pop(size)?;
    cpu.write_flags_checked(v, size, FlagsWriter::Popf);
    // TF or IF may have changed: let the loop look at them.
    Err(Fault::EndBlock)
}

pub fn cbw_cwde(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if ins.code() == Code::Cbw {
        let v = cpu.state.reg8(0) as i8 as i16 as u16;
        cpu.state.set_reg16(RAX, v);
    } else {
        let v = cpu.state.reg16(RAX) as i16 as i32 as u32;
        cpu.state.set_reg32(RAX, v);
    }
    Ok(())
}

pub fn cwd_cdq(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if ins.code() == Code::Cwd {
        let v = if cpu.state.reg16(RAX) & 0x8000 != 0 {
            0xFFFF
        } else {
            0
        };
        cpu.state.set_reg16(RDX, v);
    } else {
        let v = if cpu.state.reg32(RAX) & 0x8000_0000 != 0 {
            u32::MAX
        } else {
            0
        };
        cpu.state.set_reg32(RDX, v);
    }
    Ok(())
}

pub fn lahf(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    let f = cpu.state.eflags() as u8;
    cpu.state.set_reg8(4, f);
    Ok(())
}

pub fn sahf(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    let ah = cpu.state.reg8(4) as u32;
    let mask = SF | ZF | AF | PF | CF;
    let f = (cpu.state.eflags() & !mask) | (ah & mask);
    cpu.state.set_eflags(f);
    Ok(())
}

pub fn xlat(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let asz = crate::interp::operand::asize(ins);
    let bx = if asz == 2 {
        cpu.state.reg16(RBX) as u32
    } else {
        cpu.state.reg32(RBX)
    };
    let off = bx.wrapping_add(cpu.state.reg8(0) as u32);
    let off = if asz == 2 { off & 0xFFFF } else { off };
    let v = cpu.read_mem(sreg(ins.memory_segment()), off, 1)?;
    cpu.state.set_reg8(0, v as u8);
    Ok(())
}

pub fn enter(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    let alloc = ins.immediate(0) as u32 & 0xFFFF;
    let level = ins.immediate(1) as u32 & 0x1F;
    let saved_sp = cpu.state.gpr[RSP];
    let saved_bp = cpu.state.gpr[RBP];
    let r = (|| -> Result<()> {
        let bp = cpu.state.reg(RBP, if cpu.state.stack32() { 4 } else { 2 });
        cpu.push(size, cpu.state.reg(RBP, size))?;
        let frame = cpu.state.reg(RSP, size);
        let mut bp_walk = bp;
        for _ in 1..level {
            bp_walk = if cpu.state.stack32() {
                bp_walk.wrapping_sub(size)
            } else {
                bp_walk.wrapping_sub(size) & 0xFFFF
            };
            let v = cpu.read_mem(SS, bp_walk, size)?;
            cpu.push(size, v)?;
        }
        if level > 0 {
            cpu.push(size, frame)?;
        }
        cpu.state.set_reg(RBP, size, frame);
        let sp = cpu.sp_offset(alloc.wrapping_neg());
        // The final stack must be writable (ENTER faults before committing on real parts).
        cpu.seg_linear(SS, sp, 1, true)?;
        cpu.set_sp(sp);
        Ok(())
    })();
    if r.is_err() {
        cpu.state.gpr[RSP] = saved_sp;
        cpu.state.gpr[RBP] = saved_bp;
    }
    r
}

pub fn leave(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = osize(ins);
    let bp = if cpu.state.stack32() {
        cpu.state.reg32(RBP)
    } else {
        cpu.state.reg16(RBP) as u32
    };
    let v = cpu.read_mem(SS, bp, size)?;
    cpu.set_sp(bp);
    cpu.set_sp(cpu.sp_offset(size));
    cpu.state.set_reg(RBP, size, v);
    Ok(())
}

/// MOV Sreg, r/m16 and MOV r/m, Sreg.
pub fn mov_sreg(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if ins.op0_kind() == OpKind::Register && ins.op0_register().is_segment_register() {
        let seg = sreg(ins.op0_register());
        if seg == crate::cpu::state::CS {
            return Err(Exception::ud().into());
        }
        let v = cpu.read_op(ins, 1, 2)?;
        let r = cpu.load_segment(seg, v as u16);
        return if seg == SS {
            r.and(Err(Fault::EndBlock))
        } else {
            r
        };
    }
    let v = cpu.state.seg[sreg(ins.op1_register())].selector as u32;
    match loc(cpu, ins, 0) {
        // A register destination gets the selector zero-extended at 32-bit operand size.
        Loc::Reg(r) => {
            cpu.state.set_reg(r, op_size(ins, 0), v);
            Ok(())
        }
        l => cpu.write_loc(l, 2, v),
    }
}

/// LDS/LES/LFS/LGS/LSS: far pointer load.
pub fn load_far_pointer(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let Loc::Mem { seg, off } = mem_loc(cpu, ins) else {
        return Err(Exception::ud().into());
    };
    let size = op_size(ins, 0);
    let v = cpu.read_mem(seg, off, size)?;
    let sel = cpu.read_mem(seg, next_offset(ins, off, size), 2)? as u16;
    let target = match ins.mnemonic() {
        iced_x86::Mnemonic::Lds => Register::DS,
        iced_x86::Mnemonic::Les => Register::ES,
        iced_x86::Mnemonic::Lfs => Register::FS,
        iced_x86::Mnemonic::Lgs => Register::GS,
        _ => Register::SS,
    };
    let r = cpu.load_segment(sreg(target), sel);
    if let Err(Fault::Exception(e)) = r {
        return Err(e.into());
    }
    cpu.state.set_reg(gpr(ins.op0_register()), size, v);
    r
}

pub fn bound(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let Loc::Mem { seg, off } = mem_loc(cpu, ins) else {
        return Err(Exception::ud().into());
    };
    let idx = cpu.state.reg(gpr(ins.op0_register()), size);
    let sx = |v: u32| {
        if size == 2 {
            v as u16 as i16 as i32
        } else {
            v as i32
        }
    };
    // The lower bound is read and checked before the upper one is fetched: an index below
    // it raises #BR even when the upper bound lies past the segment limit (host behaviour).
    let lo = cpu.read_mem(seg, off, size)?;
    if sx(idx) < sx(lo) {
        return Err(Exception::new(crate::exception::vector::BR).into());
    }
    let hi = cpu.read_mem(seg, next_offset(ins, off, size), size)?;
    if sx(idx) > sx(hi) {
        return Err(Exception::new(crate::exception::vector::BR).into());
    }
    Ok(())
}
