//! Arithmetic: FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in every form (ST(0),ST(i); ST(i),ST(0); the
//! popping forms; m32fp/m64fp; m16int/m32int), FSQRT, FABS, FCHS, FRNDINT, FSCALE,
//! FPREM/FPREM1 and FXTRACT.

use iced_x86::{Instruction, Mnemonic as M};

use super::stack::{underflow_to, Stack};
use super::{enter, has_memory_operand, read_source, st_operand, Kind};
use crate::cpu::core::Cpu;
use crate::exception::Result;
use crate::fpu::float80::{self, F80Ext, FpEnv, FpFlags, INDEFINITE};
use crate::fpu::{FpuState, F80};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    SubR,
    Mul,
    Div,
    DivR,
}

fn compute(op: Op, a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    match op {
        Op::Add => float80::add(a, b, env, flags),
        Op::Sub => float80::sub(a, b, env, flags),
        Op::SubR => float80::sub(b, a, env, flags),
        Op::Mul => float80::mul(a, b, env, flags),
        Op::Div => float80::div(a, b, env, flags),
        Op::DivR => float80::div(b, a, env, flags),
    }
}

/// `dest = dest op src` where, in register forms, operand 0 is the destination.
fn binary(cpu: &mut Cpu, ins: &Instruction, op: Op) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let pop = matches!(
        ins.mnemonic(),
        M::Faddp | M::Fsubp | M::Fsubrp | M::Fmulp | M::Fdivp | M::Fdivrp
    );
    if has_memory_operand(ins) {
        let (b, mut flags) = read_source(cpu, ins)?;
        let f = &mut cpu.state.fpu;
        if f.is_empty(0) {
            underflow_to(f, 0, 0);
            return Ok(());
        }
        super::drop_load_de(f.st(0), &mut flags);
        if op == Op::DivR && float80::classify(f.st(0)) == float80::Class::Zero {
            // x / 0 takes the divide-by-zero path before the denormal check.
            flags.0 &= !FpFlags::DE;
        }
        let r = compute(op, f.st(0), b, f.env(), &mut flags);
        if f.commit(flags) {
            f.set_st(0, r);
        }
        return Ok(());
    }
    let (dst, src) = match ins.op_count() {
        0 => (1, 0),
        _ => (st_operand(ins, 0), st_operand(ins, 1)),
    };
    let f = &mut cpu.state.fpu;
    if f.is_empty(dst) || f.is_empty(src) {
        underflow_to(f, dst, pop as usize);
        return Ok(());
    }
    let mut flags = FpFlags::default();
    let r = compute(op, f.st(dst), f.st(src), f.env(), &mut flags);
    if f.commit(flags) {
        f.set_st(dst, r);
        if pop {
            f.pop();
        }
    }
    Ok(())
}

pub fn fadd(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    binary(cpu, ins, Op::Add)
}
pub fn fsub(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    binary(cpu, ins, Op::Sub)
}
pub fn fsubr(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    binary(cpu, ins, Op::SubR)
}
pub fn fmul(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    binary(cpu, ins, Op::Mul)
}
pub fn fdiv(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    binary(cpu, ins, Op::Div)
}
pub fn fdivr(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    binary(cpu, ins, Op::DivR)
}

/// ST(0) = f(ST(0)) with the usual underflow and commit rules.
pub(super) fn unary(
    cpu: &mut Cpu,
    ins: &Instruction,
    op: impl FnOnce(F80, FpEnv, &mut FpFlags) -> F80,
) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) {
        underflow_to(f, 0, 0);
        return Ok(());
    }
    let mut flags = FpFlags::default();
    let r = op(f.st(0), f.env(), &mut flags);
    if f.commit(flags) {
        f.set_st(0, r);
    }
    Ok(())
}

pub fn fsqrt(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, float80::sqrt)
}

pub fn frndint(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, float80::round_to_int)
}

pub fn fabs(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, |a, _, _| a.abs())
}

pub fn fchs(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, |a, _, _| a.negate())
}

/// ST(0) = f(ST(0), ST(1)), both required (FSCALE).
pub fn fscale(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(1) {
        underflow_to(f, 0, 0);
        return Ok(());
    }
    let mut flags = FpFlags::default();
    let r = float80::scale(f.st(0), f.st(1), f.env(), &mut flags);
    if f.commit(flags) {
        f.set_st(0, r);
    }
    Ok(())
}

fn remainder(cpu: &mut Cpu, ins: &Instruction, ieee: bool) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || f.is_empty(1) {
        // C2 = 0 as well: the (failed) reduction is not incomplete.
        f.fsw &= !super::stack::fsw::C2;
        underflow_to(f, 0, 0);
        return Ok(());
    }
    let mut flags = FpFlags::default();
    let (a, b, env) = (f.st(0), f.st(1), f.env());
    let r = if ieee {
        float80::rem_ieee(a, b, env, &mut flags)
    } else {
        float80::rem(a, b, env, &mut flags)
    };
    if f.commit(flags) {
        f.set_st(0, r.value);
        f.fsw = r.apply_cc(f.fsw);
    } else {
        // An unmasked exception keeps ST(0): C1 and C2 are cleared, C0 and C3 kept.
        f.fsw &= !(super::stack::fsw::C1 | super::stack::fsw::C2);
    }
    Ok(())
}

pub fn fprem(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    remainder(cpu, ins, false)
}

pub fn fprem1(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    remainder(cpu, ins, true)
}

/// Stack checks of the instructions that replace ST(0) and push a second result (FXTRACT,
/// FPTAN, FSINCOS): ST(0) must be in use and ST(7) free. On a fault the masked response is the
/// indefinite in both ST(0) and the pushed register. Returns false when the instruction is done.
pub(super) fn replace_and_push_ok(f: &mut FpuState) -> bool {
    let under = f.is_empty(0);
    if under || !f.is_empty(7) {
        if f.stack_fault(!under) {
            f.set_st(0, INDEFINITE);
            f.push(INDEFINITE);
        }
        return false;
    }
    true
}

pub fn fxtract(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if !replace_and_push_ok(f) {
        return Ok(());
    }
    let mut flags = FpFlags::default();
    let (sig, exp) = float80::xtract(f.st(0), &mut flags);
    if f.commit(flags) {
        f.set_st(0, exp);
        f.push(sig);
    }
    Ok(())
}
