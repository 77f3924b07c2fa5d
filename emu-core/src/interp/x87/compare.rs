//! Comparisons and classification: FCOM/FCOMP/FCOMPP, FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP,
//! FCOMI/FCOMIP/FUCOMI/FUCOMIP, FTST, FXAM.

use iced_x86::{Instruction, Mnemonic as M};

use super::stack::Stack;
use super::{enter, has_memory_operand, read_source, st_operand, Kind};
use crate::cpu::core::Cpu;
use crate::exception::Result;
use crate::fpu::float80::{self, CompareResult, CondCodes, F80Ext, FpFlags};
use crate::fpu::F80;

/// Where the result of a comparison goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    /// C3 C2 C0 (C1 = 0).
    CondCodes,
    /// ZF PF CF (OF SF AF cleared), C1 = 0.
    Eflags,
}

fn pops(ins: &Instruction) -> usize {
    match ins.mnemonic() {
        M::Fcompp | M::Fucompp => 2,
        M::Fcomp | M::Fucomp | M::Ficomp | M::Fcomip | M::Fucomip => 1,
        _ => 0,
    }
}

fn deliver(cpu: &mut Cpu, dest: Dest, r: CompareResult) {
    match dest {
        Dest::CondCodes => cpu.state.fpu.set_cc(r.cc()),
        Dest::Eflags => {
            cpu.state.lazy.set_arith(r.eflags());
            cpu.state.fpu.set_c1(false);
        }
    }
}

fn compare(cpu: &mut Cpu, ins: &Instruction, ordered: bool, dest: Dest) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let n = pops(ins);
    let (b, mut flags, other) = if has_memory_operand(ins) {
        let (b, fl) = read_source(cpu, ins)?;
        (Some(b), fl, 0)
    } else {
        let i = match ins.op_count() {
            0 => 1,
            1 => st_operand(ins, 0),
            _ => st_operand(ins, 1),
        };
        (None, FpFlags::default(), i)
    };
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) || (b.is_none() && f.is_empty(other)) {
        // The result is "unordered" whether or not IE is masked; only the pops wait for a
        // masked IE.
        let masked = f.stack_fault(false);
        deliver(cpu, dest, CompareResult::Unordered);
        if masked {
            for _ in 0..n {
                cpu.state.fpu.pop();
            }
        }
        return Ok(());
    }
    let a = f.st(0);
    let b = b.unwrap_or_else(|| f.st(other));
    super::drop_load_de(a, &mut flags);
    let r = if ordered {
        float80::compare(a, b, &mut flags)
    } else {
        float80::compare_unordered(a, b, &mut flags)
    };
    finish(cpu, flags, dest, r, n);
    Ok(())
}

/// Commits a comparison: the result is delivered even under an unmasked IE/DE (then as the
/// hardware does: unordered for IE), but the pops happen only without such a fault.
fn finish(cpu: &mut Cpu, flags: FpFlags, dest: Dest, r: CompareResult, pops: usize) {
    if cpu.state.fpu.commit(flags) {
        deliver(cpu, dest, r);
        for _ in 0..pops {
            cpu.state.fpu.pop();
        }
    } else {
        deliver(cpu, dest, r);
    }
}

pub fn fcom(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    compare(cpu, ins, true, Dest::CondCodes)
}

pub fn fucom(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    compare(cpu, ins, false, Dest::CondCodes)
}

pub fn fcomi(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    compare(cpu, ins, true, Dest::Eflags)
}

pub fn fucomi(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    compare(cpu, ins, false, Dest::Eflags)
}

pub fn ftst(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    if f.is_empty(0) {
        f.stack_fault(false);
        f.set_cc(CompareResult::Unordered.cc());
        return Ok(());
    }
    let mut flags = FpFlags::default();
    let r = float80::test(f.st(0), &mut flags);
    finish(cpu, flags, Dest::CondCodes, r, 0);
    Ok(())
}

/// FXAM: the class of ST(0) in C3 C2 C0 and its sign in C1; an empty register reports
/// C3 C2 C0 = 101 and the sign of whatever the register holds.
pub fn fxam(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)?;
    let f = &mut cpu.state.fpu;
    let v: F80 = f.st(0);
    let cc = if f.is_empty(0) {
        CondCodes {
            c0: true,
            c1: v.sign(),
            c2: false,
            c3: true,
        }
    } else {
        float80::examine(v)
    };
    f.set_cc(cc);
    Ok(())
}
