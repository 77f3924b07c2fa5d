//! Data transfer: FLD/FILD/FBLD and the constants, FST/FSTP/FIST/FISTP/FBSTP, FXCH, FCMOVcc,
//! FFREE/FFREEP, FINCSTP/FDECSTP.

use iced_x86::{Instruction, MemorySize, Mnemonic as M};

use super::stack::{fsw, underflow_to, Stack};
use super::{
    enter, f80_from_bytes, f80_to_bytes, has_memory_operand, mem_operand, read_m80, st_operand,
    write_bytes, Kind,
};
use crate::cpu::core::Cpu;
use crate::exception::Result;
use crate::fpu::float80::{self, Constant, FpFlags, IntRounding, BCD_INDEFINITE, INDEFINITE};
use crate::fpu::{FpuState, F80};

/// Pushes `v` produced with `flags`: stack overflow if ST(7) is in use (masked response: push
/// the indefinite), nothing on an unmasked IE/DE, else the push with C1 = 0.
fn push_value(f: &mut FpuState, v: F80, flags: FpFlags) {
    if !f.is_empty(7) {
        if f.stack_fault(true) {
            f.push(INDEFINITE);
        }
        return;
    }
    // Only an unmasked IE (SNaN source) stops a load; a denormal source is loaded even with
    // DE unmasked (checked against the host).
    if f.commit_blocking(flags, fsw::IE) {
        f.push(v);
    }
}

pub fn fld(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    if has_memory_operand(ins) {
        let (seg, off) = mem_operand(cpu, ins);
        let mut flags = FpFlags::default();
        let v = match ins.memory_size() {
            MemorySize::Float32 => float80::from_f32_bits(cpu.read_mem(seg, off, 4)?, &mut flags),
            MemorySize::Float64 => float80::from_f64_bits(cpu.read_mem64(seg, off)?, &mut flags),
            _ => f80_from_bytes(&read_m80(cpu, ins, seg, off)?),
        };
        push_value(&mut cpu.state.fpu, v, flags);
        return Ok(());
    }
    let i = st_operand(ins, 0);
    let f = &mut cpu.state.fpu;
    if f.is_empty(i) {
        // Source empty: underflow (reported even when the stack is also full); the masked
        // response pushes the indefinite.
        if f.stack_fault(false) {
            f.push(INDEFINITE);
        }
        return Ok(());
    }
    let v = f.st(i);
    push_value(f, v, FpFlags::default());
    Ok(())
}

pub fn fild(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let (seg, off) = mem_operand(cpu, ins);
    let v = match ins.memory_size() {
        MemorySize::Int16 => float80::from_i16(cpu.read_mem(seg, off, 2)? as i16),
        MemorySize::Int32 => float80::from_i32(cpu.read_mem(seg, off, 4)? as i32),
        _ => float80::from_i64(cpu.read_mem64(seg, off)? as i64),
    };
    push_value(&mut cpu.state.fpu, v, FpFlags::default());
    Ok(())
}

pub fn fbld(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let (seg, off) = mem_operand(cpu, ins);
    let b = read_m80(cpu, ins, seg, off)?;
    push_value(&mut cpu.state.fpu, float80::from_bcd(b), FpFlags::default());
    Ok(())
}

pub fn fld_const(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let c = match ins.mnemonic() {
        M::Fld1 => Constant::One,
        M::Fldl2t => Constant::Log2Ten,
        M::Fldl2e => Constant::Log2E,
        M::Fldpi => Constant::Pi,
        M::Fldlg2 => Constant::Log10Two,
        M::Fldln2 => Constant::LnTwo,
        _ => Constant::Zero,
    };
    let f = &mut cpu.state.fpu;
    let v = float80::load_const(c, f.env().rounding);
    push_value(f, v, FpFlags::default());
    Ok(())
}

pub fn fst(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    store(cpu, ins, false)
}

pub fn fstp(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    store(cpu, ins, true)
}

pub fn fist(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    store(cpu, ins, false)
}

pub fn fistp(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    store(cpu, ins, true)
}

pub fn fbstp(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    store(cpu, ins, true)
}

/// The value a store writes to memory: the bytes plus the exceptions raised converting them.
fn convert_for_store(v: F80, ms: MemorySize, f: &FpuState, flags: &mut FpFlags) -> Vec<u8> {
    let env = f.env();
    let ir = IntRounding::Control;
    match ms {
        MemorySize::Float32 => float80::to_f32_bits(v, env, flags).to_le_bytes().to_vec(),
        MemorySize::Float64 => float80::to_f64_bits(v, env, flags).to_le_bytes().to_vec(),
        MemorySize::Float80 => f80_to_bytes(v).to_vec(),
        MemorySize::Int16 => float80::to_i16(v, ir, env, flags).to_le_bytes().to_vec(),
        MemorySize::Int32 => float80::to_i32(v, ir, env, flags).to_le_bytes().to_vec(),
        MemorySize::Int64 => float80::to_i64(v, ir, env, flags).to_le_bytes().to_vec(),
        _ => float80::to_bcd(v, env, flags).to_vec(),
    }
}

/// The masked response to an empty ST(0) in a store: the indefinite of the format.
fn indefinite_bytes(ms: MemorySize) -> Vec<u8> {
    match ms {
        MemorySize::Float32 => 0xFFC0_0000u32.to_le_bytes().to_vec(),
        MemorySize::Float64 => 0xFFF8_0000_0000_0000u64.to_le_bytes().to_vec(),
        MemorySize::Float80 => f80_to_bytes(INDEFINITE).to_vec(),
        MemorySize::Int16 => 0x8000u16.to_le_bytes().to_vec(),
        MemorySize::Int32 => 0x8000_0000u32.to_le_bytes().to_vec(),
        MemorySize::Int64 => 0x8000_0000_0000_0000u64.to_le_bytes().to_vec(),
        _ => BCD_INDEFINITE.to_vec(),
    }
}

/// FST/FSTP/FIST/FISTP/FBSTP to memory or (FST/FSTP) to ST(i).
fn store(cpu: &mut Cpu, ins: &Instruction, pop: bool) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    if !has_memory_operand(ins) {
        let i = st_operand(ins, 0);
        let f = &mut cpu.state.fpu;
        if f.is_empty(0) {
            underflow_to(f, i, pop as usize);
            return Ok(());
        }
        let v = f.st(0);
        f.set_st(i, v);
        f.set_c1(false);
        if pop {
            f.pop();
        }
        return Ok(());
    }
    let (seg, off) = mem_operand(cpu, ins);
    let ms = ins.memory_size();
    // Work on a copy so that a faulting write leaves the x87 state as it was.
    let mut f = cpu.state.fpu;
    let bytes = if f.is_empty(0) {
        if f.stack_fault(false) {
            Some(indefinite_bytes(ms))
        } else {
            None
        }
    } else {
        let mut flags = FpFlags::default();
        let b = convert_for_store(f.st(0), ms, &f, &mut flags);
        let exc = flags.exceptions();
        // Unmasked IE leaves memory alone; so do unmasked OE/UE for FST to memory.
        let trap = exc & !f.fcw & (fsw::IE | 0x08 | 0x10) != 0;
        if trap {
            if exc & !f.fcw & fsw::IE != 0 {
                f.fsw |= fsw::IE;
                f.set_c1(false);
            } else {
                f.fsw |= exc;
                f.set_c1(flags.c1());
            }
            f.update_summary();
            None
        } else {
            f.fsw |= exc;
            f.set_c1(flags.c1());
            f.update_summary();
            Some(b)
        }
    };
    if let Some(b) = bytes {
        if b.len() == 10 {
            // 80-bit stores are two stores (8 + 2 bytes), each checked on its own: a fault on
            // the upper part leaves the lower part written (as the host does).
            write_bytes(cpu, seg, off, &b[..8])?;
            write_bytes(cpu, seg, super::offset_add(ins, off, 8), &b[8..])?;
        } else {
            write_bytes(cpu, seg, off, &b)?;
        }
        if pop {
            f.pop();
        }
    }
    cpu.state.fpu = f;
    Ok(())
}

/// The stack index of the non-ST(0) operand of a two-register instruction (ST(1) when the
/// encoding names none).
fn other_operand(ins: &Instruction) -> usize {
    match ins.op_count() {
        0 => 1,
        1 => st_operand(ins, 0),
        _ => {
            let a = st_operand(ins, 0);
            if a != 0 {
                a
            } else {
                st_operand(ins, 1)
            }
        }
    }
}

pub fn fxch(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let i = other_operand(ins);
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(i) {
        if !f.stack_fault(false) {
            return Ok(());
        }
        for j in [0, i] {
            if f.is_empty(j) {
                f.set_st(j, INDEFINITE);
            }
        }
    } else {
        f.set_c1(false);
    }
    let (a, b) = (f.st(0), f.st(i));
    f.set_st(0, b);
    f.set_st(i, a);
    Ok(())
}

pub fn fcmov(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let i = st_operand(ins, 1);
    let cc = match ins.mnemonic() {
        M::Fcmovb => 0x2,
        M::Fcmovnb => 0x3,
        M::Fcmove => 0x4,
        M::Fcmovne => 0x5,
        M::Fcmovbe => 0x6,
        M::Fcmovnbe => 0x7,
        M::Fcmovu => 0xA,
        _ => 0xB,
    };
    let cond = cpu.state.lazy.condition(cc);
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(i) {
        underflow_to(f, 0, 0);
        return Ok(());
    }
    f.set_c1(false);
    if cond {
        let v = f.st(i);
        f.set_st(0, v);
    }
    Ok(())
}

pub fn ffree(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let i = st_operand(ins, 0);
    cpu.state.fpu.free(i);
    Ok(())
}

/// FFREEP (DF C0+i, undocumented but present since the 287): FFREE ST(i), then pop.
pub fn ffreep(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let i = st_operand(ins, 0);
    let f = &mut cpu.state.fpu;
    f.free(i);
    f.pop();
    Ok(())
}

pub fn fincstp(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    let t = f.top() + 1;
    f.set_top(t);
    f.set_c1(false);
    Ok(())
}

pub fn fdecstp(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    let t = f.top().wrapping_sub(1);
    f.set_top(t);
    f.set_c1(false);
    Ok(())
}
