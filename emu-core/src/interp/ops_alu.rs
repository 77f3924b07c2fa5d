//! Handlers for arithmetic and logic instructions: operand plumbing around `alu.rs`.

use iced_x86::{Instruction, OpKind};

use crate::cpu::core::Cpu;
use crate::cpu::state::{RAX, RDX};
use crate::exception::Result;
use crate::interp::alu::{self, AluOp};
use crate::interp::operand::{gpr, loc, op_size, Loc};

/// ADD/OR/ADC/SBB/AND/SUB/XOR/CMP in every form. Flags commit only after the write succeeds.
#[inline(always)]
fn binop(cpu: &mut Cpu, ins: &Instruction, op: AluOp) -> Result<()> {
    let size = op_size(ins, 0);
    let dst = loc(cpu, ins, 0);
    let a = cpu.read_loc(dst, size)?;
    let b = cpu.read_op(ins, 1, size)?;
    let mut f = cpu.state.lazy;
    let r = alu::alu(&mut f, op, a, b, size);
    if op != AluOp::Cmp {
        cpu.write_loc(dst, size, r)?;
    }
    cpu.state.lazy = f;
    Ok(())
}

macro_rules! binop_handler {
    ($name:ident, $op:expr) => {
        pub fn $name(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
            binop(cpu, ins, $op)
        }
    };
}
binop_handler!(add, AluOp::Add);
binop_handler!(or, AluOp::Or);
binop_handler!(adc, AluOp::Adc);
binop_handler!(sbb, AluOp::Sbb);
binop_handler!(and, AluOp::And);
binop_handler!(sub, AluOp::Sub);
binop_handler!(xor, AluOp::Xor);
binop_handler!(cmp, AluOp::Cmp);

/// Fast forms for the hottest encodings: 32-bit register operands, no memory, no fault.
pub fn alu_r32_imm<const OP: u8>(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let op = ALU_OPS[OP as usize];
    let r = gpr(ins.op0_register());
    let a = cpu.state.reg32(r);
    let v = alu::alu(&mut cpu.state.lazy, op, a, ins.immediate(1) as u32, 4);
    if op != AluOp::Cmp {
        cpu.state.set_reg32(r, v);
    }
    Ok(())
}

pub fn alu_r32_r32<const OP: u8>(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let op = ALU_OPS[OP as usize];
    let r = gpr(ins.op0_register());
    let a = cpu.state.reg32(r);
    let b = cpu.state.reg32(gpr(ins.op1_register()));
    let v = alu::alu(&mut cpu.state.lazy, op, a, b, 4);
    if op != AluOp::Cmp {
        cpu.state.set_reg32(r, v);
    }
    Ok(())
}

/// The ALU ops by their `/r` number, for the const-generic fast forms.
pub const ALU_OPS: [AluOp; 8] = [
    AluOp::Add,
    AluOp::Or,
    AluOp::Adc,
    AluOp::Sbb,
    AluOp::And,
    AluOp::Sub,
    AluOp::Xor,
    AluOp::Cmp,
];

pub fn inc_r32(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let r = gpr(ins.op0_register());
    let a = cpu.state.reg32(r);
    let v = alu::inc(&mut cpu.state.lazy, a, 4);
    cpu.state.set_reg32(r, v);
    Ok(())
}

pub fn dec_r32(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let r = gpr(ins.op0_register());
    let a = cpu.state.reg32(r);
    let v = alu::dec(&mut cpu.state.lazy, a, 4);
    cpu.state.set_reg32(r, v);
    Ok(())
}

pub fn test(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let a = cpu.read_op(ins, 0, size)?;
    let b = cpu.read_op(ins, 1, size)?;
    alu::logic(&mut cpu.state.lazy, a & b, size);
    Ok(())
}

/// INC/DEC/NEG/NOT: one operand read, modified and written back.
#[inline(always)]
fn unary(
    cpu: &mut Cpu,
    ins: &Instruction,
    f: fn(&mut crate::cpu::flags::LazyFlags, u32, u32) -> u32,
) -> Result<()> {
    let size = op_size(ins, 0);
    let dst = loc(cpu, ins, 0);
    let a = cpu.read_loc(dst, size)?;
    let mut fl = cpu.state.lazy;
    let r = f(&mut fl, a, size);
    cpu.write_loc(dst, size, r)?;
    cpu.state.lazy = fl;
    Ok(())
}

pub fn inc(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, alu::inc)
}
pub fn dec(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, alu::dec)
}
pub fn neg(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    unary(cpu, ins, alu::neg)
}
pub fn not(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let dst = loc(cpu, ins, 0);
    let a = cpu.read_loc(dst, size)?;
    cpu.write_loc(dst, size, !a)
}

/// Writes the double-width result of MUL/IMUL one-operand forms: AX, DX:AX or EDX:EAX.
fn write_wide(cpu: &mut Cpu, size: u32, lo: u32, hi: u32) {
    if size == 1 {
        cpu.state
            .set_reg16(RAX, (lo & 0xFF | (hi & 0xFF) << 8) as u16);
    } else {
        cpu.state.set_reg(RAX, size, lo);
        cpu.state.set_reg(RDX, size, hi);
    }
}

pub fn mul(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let b = cpu.read_op(ins, 0, size)?;
    let a = cpu.state.reg(RAX, size);
    let (lo, hi) = alu::mul(&mut cpu.state.lazy, a, b, size);
    write_wide(cpu, size, lo, hi);
    Ok(())
}

pub fn imul(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    match ins.op_count() {
        1 => {
            let size = op_size(ins, 0);
            let b = cpu.read_op(ins, 0, size)?;
            let a = cpu.state.reg(RAX, size);
            let (lo, hi) = alu::imul(&mut cpu.state.lazy, a, b, size);
            write_wide(cpu, size, lo, hi);
        }
        n => {
            let size = op_size(ins, 0);
            let (a, b) = if n == 2 {
                (cpu.read_op(ins, 0, size)?, cpu.read_op(ins, 1, size)?)
            } else {
                (cpu.read_op(ins, 1, size)?, ins.immediate(2) as u32)
            };
            let (lo, _) = alu::imul(&mut cpu.state.lazy, a, b, size);
            cpu.state.set_reg(gpr(ins.op0_register()), size, lo);
        }
    }
    Ok(())
}

/// DIV or IDIV arithmetic: (high, low, divisor, size) -> (quotient, remainder).
type DivideFn = fn(u32, u32, u32, u32) -> crate::exception::Result<(u32, u32)>;

fn divide(cpu: &mut Cpu, ins: &Instruction, f: DivideFn) -> Result<()> {
    let size = op_size(ins, 0);
    let d = cpu.read_op(ins, 0, size)?;
    let (hi, lo) = if size == 1 {
        let ax = cpu.state.reg16(RAX) as u32;
        (ax >> 8, ax & 0xFF)
    } else {
        (cpu.state.reg(RDX, size), cpu.state.reg(RAX, size))
    };
    let (q, r) = f(hi, lo, d, size)?;
    if size == 1 {
        cpu.state
            .set_reg16(RAX, ((r & 0xFF) << 8 | (q & 0xFF)) as u16);
    } else {
        cpu.state.set_reg(RAX, size, q);
        cpu.state.set_reg(RDX, size, r);
    }
    // Flags after DIV/IDIV are undefined; a P6 leaves them unchanged in practice only for
    // some, so we leave all of them unchanged.
    Ok(())
}

pub fn div(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    divide(cpu, ins, alu::div)
}
pub fn idiv(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    divide(cpu, ins, alu::idiv)
}

/// XADD: exchange and add.
pub fn xadd(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let dst = loc(cpu, ins, 0);
    let a = cpu.read_loc(dst, size)?;
    let src = gpr(ins.op1_register());
    let b = cpu.state.reg(src, size);
    let mut f = cpu.state.lazy;
    let r = alu::alu(&mut f, AluOp::Add, a, b, size);
    cpu.write_loc(dst, size, r)?;
    cpu.state.lazy = f;
    cpu.state.set_reg(src, size, a);
    if let Loc::Reg(d) = dst {
        // XADD r, r: the destination gets the sum even when both name the same register.
        cpu.state.set_reg(d, size, r);
    }
    Ok(())
}

/// CMPXCHG: compare accumulator with destination; the destination is always written (the
/// locked bus cycle writes back the old value on mismatch).
pub fn cmpxchg(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let dst = loc(cpu, ins, 0);
    let d = cpu.read_loc(dst, size)?;
    let acc = cpu.state.reg(RAX, size);
    let mut f = cpu.state.lazy;
    alu::alu(&mut f, AluOp::Cmp, acc, d, size);
    if acc & crate::cpu::flags::size_mask(size) == d {
        let src = cpu.state.reg(gpr(ins.op1_register()), size);
        cpu.write_loc(dst, size, src)?;
    } else {
        cpu.write_loc(dst, size, d)?;
        cpu.state.set_reg(RAX, size, d);
    }
    cpu.state.lazy = f;
    Ok(())
}

pub fn cmpxchg8b(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    if ins.op0_kind() != OpKind::Memory {
        return crate::interp::operand::undefined();
    }
    let Loc::Mem { seg, off } = crate::interp::operand::mem_loc(cpu, ins) else {
        unreachable!()
    };
    let v = cpu.read_mem64(seg, off)?;
    let s = &cpu.state;
    let cmp = (s.reg32(RDX) as u64) << 32 | s.reg32(RAX) as u64;
    if v == cmp {
        let new =
            (s.reg32(crate::cpu::state::RCX) as u64) << 32 | s.reg32(crate::cpu::state::RBX) as u64;
        cpu.write_mem64(seg, off, new)?;
        cpu.state.lazy.set_bits(crate::cpu::flags::ZF, true);
    } else {
        cpu.write_mem64(seg, off, v)?;
        cpu.state.set_reg32(RAX, v as u32);
        cpu.state.set_reg32(RDX, (v >> 32) as u32);
        cpu.state.lazy.set_bits(crate::cpu::flags::ZF, false);
    }
    Ok(())
}
