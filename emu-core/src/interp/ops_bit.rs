//! Bit tests and scans, byte swaps, conditional set/move, BCD adjust, flag bit instructions.

use iced_x86::{Instruction, Mnemonic, OpKind};

use crate::cpu::core::Cpu;
use crate::cpu::flags::{szp, AF, CF, DF, ZF};
use crate::cpu::state::RAX;
use crate::exception::{Exception, Result};
use crate::interp::operand::{effective_offset, gpr, loc, mem_seg, op_size, Loc};

#[inline(always)]
fn cc(ins: &Instruction) -> u8 {
    ins.condition_code() as u8 - 1
}

pub fn setcc(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let v = cpu.state.lazy.condition(cc(ins)) as u32;
    let dst = loc(cpu, ins, 0);
    cpu.write_loc(dst, 1, v)
}

/// CMOVcc reads its source even when the condition is false (a fault still happens), and a
/// 32-bit destination is written either way only when the condition holds on IA-32.
pub fn cmovcc(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let v = cpu.read_op(ins, 1, size)?;
    if cpu.state.lazy.condition(cc(ins)) {
        cpu.state.set_reg(gpr(ins.op0_register()), size, v);
    }
    Ok(())
}

pub fn bswap(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let r = gpr(ins.op0_register());
    if ins.op0_register().size() == 2 {
        // BSWAP r16 is undefined; P6 parts clear the low word.
        cpu.state.set_reg16(r, 0);
    } else {
        let v = cpu.state.reg32(r).swap_bytes();
        cpu.state.set_reg32(r, v);
    }
    Ok(())
}

/// BT/BTS/BTR/BTC. With a register bit offset and a memory operand the offset is signed and
/// may address memory outside the operand (SDM Vol. 2, BT "bit base").
pub fn bit_test(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let bits = size * 8;
    let (dst, bit) = match (ins.op0_kind(), ins.op1_kind()) {
        (OpKind::Memory, OpKind::Register) => {
            let offset = cpu.state.reg(gpr(ins.op1_register()), size);
            let signed = if size == 2 {
                offset as u16 as i16 as i64
            } else {
                offset as i32 as i64
            };
            let byte_disp = (signed >> 3) & !((size as i64) - 1);
            let base = effective_offset(cpu, ins);
            let off = base.wrapping_add(byte_disp as u32);
            let off = if crate::interp::operand::asize(ins) == 2 {
                off & 0xFFFF
            } else {
                off
            };
            (
                Loc::Mem {
                    seg: mem_seg(ins),
                    off,
                },
                (offset & (bits - 1)),
            )
        }
        (_, OpKind::Register) => (
            loc(cpu, ins, 0),
            cpu.state.reg(gpr(ins.op1_register()), size) & (bits - 1),
        ),
        _ => (loc(cpu, ins, 0), (ins.immediate(1) as u32) & (bits - 1)),
    };
    let v = cpu.read_loc(dst, size)?;
    let old = (v >> bit) & 1;
    let new = match ins.mnemonic() {
        Mnemonic::Bts => Some(v | (1 << bit)),
        Mnemonic::Btr => Some(v & !(1 << bit)),
        Mnemonic::Btc => Some(v ^ (1 << bit)),
        _ => None,
    };
    if let Some(n) = new {
        cpu.write_loc(dst, size, n)?;
    }
    cpu.state.lazy.set_bits(CF, old != 0);
    Ok(())
}

/// BSF/BSR: ZF=1 and the destination unchanged when the source is zero (P6 behaviour).
pub fn bit_scan(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let v = cpu.read_op(ins, 1, size)?;
    if v == 0 {
        cpu.state.lazy.set_bits(ZF, true);
        return Ok(());
    }
    let idx = if matches!(ins.mnemonic(), Mnemonic::Bsf | Mnemonic::Tzcnt) {
        v.trailing_zeros()
    } else {
        31 - v.leading_zeros()
    };
    cpu.state.set_reg(gpr(ins.op0_register()), size, idx);
    cpu.state.lazy.set_bits(ZF, false);
    Ok(())
}

// ---- BCD (SDM Vol. 2, DAA/DAS/AAA/AAS/AAM/AAD) -----------------------------------------

pub fn daa_das(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let f = cpu.state.eflags();
    let old_al = cpu.state.reg8(0);
    let old_cf = f & CF != 0;
    let mut al = old_al;
    let mut cf = false;
    let mut af = false;
    let sub = ins.mnemonic() == Mnemonic::Das;
    if al & 0x0F > 9 || f & AF != 0 {
        al = if sub {
            al.wrapping_sub(6)
        } else {
            al.wrapping_add(6)
        };
        cf = old_cf || if sub { old_al < 6 } else { old_al > 0xF9 };
        af = true;
    }
    if old_al > 0x99 || old_cf {
        al = if sub {
            al.wrapping_sub(0x60)
        } else {
            al.wrapping_add(0x60)
        };
        cf = true;
    }
    cpu.state.set_reg8(0, al);
    let mut nf = szp(al as u32, 1);
    if cf {
        nf |= CF;
    }
    if af {
        nf |= AF;
    }
    cpu.state.lazy.set_arith(nf);
    Ok(())
}

pub fn aaa_aas(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let f = cpu.state.eflags();
    let mut ax = cpu.state.reg16(RAX);
    let adjust = (ax & 0x0F) > 9 || f & AF != 0;
    if adjust {
        if ins.mnemonic() == Mnemonic::Aaa {
            ax = ax.wrapping_add(0x106);
        } else {
            // As AAA adds 0x106 to AX, AAS subtracts 6 from all of AX (the borrow reaches
            // AH) and then 1 from AH: what the host CPU does.
            ax = ax.wrapping_sub(6).wrapping_sub(0x100);
        }
    }
    ax &= 0xFF0F;
    cpu.state.set_reg16(RAX, ax);
    let nf = if adjust { AF | CF } else { 0 } | szp(ax as u32 & 0xFF, 1);
    cpu.state.lazy.set_arith(nf);
    Ok(())
}

pub fn aam(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let base = ins.immediate(0) as u8;
    if base == 0 {
        return Err(Exception::de().into());
    }
    let al = cpu.state.reg8(0);
    let (ah, al) = (al / base, al % base);
    cpu.state.set_reg16(RAX, (ah as u16) << 8 | al as u16);
    cpu.state.lazy.set_arith(szp(al as u32, 1));
    Ok(())
}

pub fn aad(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let base = ins.immediate(0) as u8;
    let ax = cpu.state.reg16(RAX);
    let al = ((ax >> 8) as u8).wrapping_mul(base).wrapping_add(ax as u8);
    cpu.state.set_reg16(RAX, al as u16);
    cpu.state.lazy.set_arith(szp(al as u32, 1));
    Ok(())
}

/// SALC (undocumented D6): AL = CF ? 0xFF : 0.
pub fn salc(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    let v = if cpu.state.lazy.cf() { 0xFF } else { 0 };
    cpu.state.set_reg8(0, v);
    Ok(())
}

pub fn clc(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    cpu.state.lazy.set_bits(CF, false);
    Ok(())
}
pub fn stc(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    cpu.state.lazy.set_bits(CF, true);
    Ok(())
}
pub fn cmc(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    let cf = cpu.state.lazy.cf();
    cpu.state.lazy.set_bits(CF, !cf);
    Ok(())
}
pub fn cld(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    cpu.state.lazy.set_bits(DF, false);
    Ok(())
}
pub fn std(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    cpu.state.lazy.set_bits(DF, true);
    Ok(())
}
