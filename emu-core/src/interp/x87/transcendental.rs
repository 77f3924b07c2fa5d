//! Transcendentals: F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS, FPTAN.

use iced_x86::Instruction;

use super::arith::{replace_and_push_ok, unary};
use super::stack::{fsw, underflow_to, Stack};
use super::{enter, Kind};
use crate::cpu::core::Cpu;
use crate::exception::Result;
use crate::fpu::float80::{self, FpEnv, FpFlags};
use crate::fpu::{FpuState, F80};

pub fn f2xm1(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, float80::f2xm1)
}

/// ST(1) = f(ST(0), ST(1)), then pop (FYL2X, FYL2XP1, FPATAN).
fn into_st1_and_pop(
    cpu: &mut Cpu,
    ins: &Instruction,
    op: fn(F80, F80, FpEnv, &mut FpFlags) -> F80,
) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(1) {
        underflow_to(f, 1, 1);
        return Ok(());
    }
    let mut flags = FpFlags::default();
    let r = op(f.st(0), f.st(1), f.env(), &mut flags);
    if f.commit(flags) {
        f.set_st(1, r);
        f.pop();
    }
    Ok(())
}

pub fn fyl2x(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    into_st1_and_pop(cpu, ins, float80::fyl2x)
}

pub fn fyl2xp1(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    into_st1_and_pop(cpu, ins, float80::fyl2xp1)
}

pub fn fpatan(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    into_st1_and_pop(cpu, ins, float80::fpatan)
}

fn set_c2(f: &mut FpuState, on: bool) {
    f.fsw = (f.fsw & !fsw::C2) | if on { fsw::C2 } else { 0 };
}

/// FSIN/FCOS: ST(0) = f(ST(0)); out of range (|x| ≥ 2^63) sets C2 and leaves ST(0) alone.
fn trig(
    cpu: &mut Cpu,
    ins: &Instruction,
    op: fn(F80, FpEnv, &mut FpFlags) -> Option<F80>,
) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) {
        set_c2(f, false);
        underflow_to(f, 0, 0);
        return Ok(());
    }
    let mut flags = FpFlags::default();
    match op(f.st(0), f.env(), &mut flags) {
        None => {
            set_c2(f, true);
            f.set_c1(false);
        }
        Some(r) => {
            if f.commit(flags) {
                set_c2(f, false);
                f.set_st(0, r);
            }
        }
    }
    Ok(())
}

pub fn fsin(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    trig(cpu, ins, float80::fsin)
}

pub fn fcos(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    trig(cpu, ins, float80::fcos)
}

/// FSINCOS/FPTAN: ST(0) = first result, then push the second.
fn trig_push(
    cpu: &mut Cpu,
    ins: &Instruction,
    op: fn(F80, FpEnv, &mut FpFlags) -> Option<(F80, F80)>,
) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if !replace_and_push_ok(f) {
        set_c2(f, false);
        return Ok(());
    }
    let mut flags = FpFlags::default();
    match op(f.st(0), f.env(), &mut flags) {
        None => {
            set_c2(f, true);
            f.set_c1(false);
        }
        Some((first, second)) => {
            if f.commit(flags) {
                set_c2(f, false);
                f.set_st(0, first);
                f.push(second);
            }
        }
    }
    Ok(())
}

pub fn fsincos(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    trig_push(cpu, ins, float80::fsincos)
}

pub fn fptan(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    trig_push(cpu, ins, float80::fptan)
}
