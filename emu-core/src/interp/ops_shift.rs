//! Shifts and rotates, SHLD/SHRD (SDM Vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD).

use iced_x86::{Instruction, Mnemonic};

use crate::cpu::core::Cpu;
use crate::cpu::flags::{size_mask, szp, LazyFlags, CF, OF};
use crate::exception::Result;
use crate::interp::operand::{loc, op_size};

/// Result and new arithmetic flags of a shift/rotate; `None` when the count leaves
/// everything unchanged.
pub fn shift(f: &LazyFlags, m: Mnemonic, a: u32, count: u32, size: u32) -> Option<(u32, u32)> {
    let bits = size * 8;
    let mask = size_mask(size);
    let a = a & mask;
    let count = count & 0x1F;
    if count == 0 {
        return None;
    }
    let msb = |v: u32| (v >> (bits - 1)) & 1;
    let old = f.eflags();
    let keep = old & !(CF | OF);
    let (r, cf, of) = match m {
        Mnemonic::Shl | Mnemonic::Sal => {
            let wide = (a as u64) << count;
            let r = wide as u32 & mask;
            let cf = ((wide >> bits) & 1) as u32;
            (r, cf, msb(r) ^ cf)
        }
        Mnemonic::Shr => {
            let r = ((a as u64) >> count) as u32;
            let cf = ((a as u64 >> (count - 1)) & 1) as u32;
            (r, cf, msb(a))
        }
        Mnemonic::Sar => {
            let sa = ((a << (32 - bits)) as i32 >> (32 - bits)) as i64;
            let r = (sa >> count.min(63)) as u32 & mask;
            let cf = ((sa >> (count - 1).min(63)) & 1) as u32;
            (r, cf, 0)
        }
        Mnemonic::Rol => {
            let c = count % bits;
            let r = if c == 0 {
                a
            } else {
                ((a << c) | (a >> (bits - c))) & mask
            };
            let cf = r & 1;
            (r, cf, msb(r) ^ cf)
        }
        Mnemonic::Ror => {
            let c = count % bits;
            let r = if c == 0 {
                a
            } else {
                ((a >> c) | (a << (bits - c))) & mask
            };
            let cf = msb(r);
            (r, cf, msb(r) ^ ((r >> (bits - 2)) & 1))
        }
        Mnemonic::Rcl => {
            let c = count % (bits + 1);
            if c == 0 {
                return None;
            }
            let cin = (old & CF) as u64;
            let v = ((cin << bits) | a as u64) as u128;
            let width = bits + 1;
            let rot = ((v << c) | (v >> (width - c))) & ((1u128 << width) - 1);
            let r = rot as u32 & mask;
            let cf = ((rot >> bits) & 1) as u32;
            (r, cf, msb(r) ^ cf)
        }
        Mnemonic::Rcr => {
            let c = count % (bits + 1);
            if c == 0 {
                return None;
            }
            let cin = (old & CF) as u64;
            let v = ((cin << bits) | a as u64) as u128;
            let width = bits + 1;
            let rot = ((v >> c) | (v << (width - c))) & ((1u128 << width) - 1);
            let r = rot as u32 & mask;
            let cf = ((rot >> bits) & 1) as u32;
            (r, cf, msb(a) ^ (old & CF))
        }
        _ => unreachable!("not a shift"),
    };
    let mut flags = keep | if cf != 0 { CF } else { 0 } | if of != 0 { OF } else { 0 };
    // Rotates change only CF and OF; shifts also set SF, ZF, PF (AF undefined: cleared).
    if matches!(
        m,
        Mnemonic::Shl | Mnemonic::Sal | Mnemonic::Shr | Mnemonic::Sar
    ) {
        flags = (flags & !(crate::cpu::flags::ARITH & !(CF | OF))) | szp(r, size);
    }
    Some((r, flags))
}

fn shift_count(cpu: &Cpu, ins: &Instruction) -> u32 {
    if ins.op_count() < 2 {
        return 1;
    }
    match ins.op1_kind() {
        iced_x86::OpKind::Register => cpu.state.reg8(1) as u32, // CL
        _ => ins.immediate(1) as u32,
    }
}

pub fn shift_rotate(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let dst = loc(cpu, ins, 0);
    let a = cpu.read_loc(dst, size)?;
    let count = shift_count(cpu, ins);
    if let Some((r, flags)) = shift(&cpu.state.lazy, ins.mnemonic(), a, count, size) {
        cpu.write_loc(dst, size, r)?;
        cpu.state.lazy.set_eflags(flags);
    }
    Ok(())
}

/// SHLD/SHRD: result and flags; `None` for a zero count.
pub fn double_shift(
    f: &LazyFlags,
    left: bool,
    dst: u32,
    src: u32,
    count: u32,
    size: u32,
) -> Option<(u32, u32)> {
    let count = count & 0x1F;
    if count == 0 {
        return None;
    }
    let bits = size * 8;
    let mask = size_mask(size) as u64;
    let (d, s) = (dst as u64 & mask, src as u64 & mask);
    let (r, cf) = if left {
        // dst:src shifted left; for 16-bit counts beyond 16 the P6 keeps shifting src bits in.
        let v = (d << bits) | s;
        let v = if bits == 16 { (v << 16) | s } else { v };
        let total = if bits == 16 { 48 } else { 64 };
        let shifted = (v as u128) << count;
        let r = (shifted >> (total - bits)) as u64 & mask;
        let cf = (shifted >> total) as u64 & 1;
        (r as u32, cf as u32)
    } else {
        let v = (s << bits) | d;
        let v = if bits == 16 { v | (d << 32) } else { v };
        let r = (v >> count) & mask;
        let cf = (v >> (count - 1)) & 1;
        (r as u32, cf as u32)
    };
    let msb = |v: u32| (v >> (bits - 1)) & 1;
    let of = msb(r) ^ msb(dst & mask as u32);
    let mut flags = f.eflags() & !crate::cpu::flags::ARITH;
    flags |= szp(r, size);
    if cf != 0 {
        flags |= CF;
    }
    if of != 0 {
        flags |= OF;
    }
    Some((r, flags))
}

pub fn shld_shrd(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let dst = loc(cpu, ins, 0);
    let a = cpu.read_loc(dst, size)?;
    let b = cpu.state.reg(ins.op1_register().number(), size);
    let count = match ins.op2_kind() {
        iced_x86::OpKind::Register => cpu.state.reg8(1) as u32,
        _ => ins.immediate(2) as u32,
    };
    let left = ins.mnemonic() == Mnemonic::Shld;
    if let Some((r, flags)) = double_shift(&cpu.state.lazy, left, a, b, count, size) {
        cpu.write_loc(dst, size, r)?;
        cpu.state.lazy.set_eflags(flags);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(m: Mnemonic, a: u32, c: u32, size: u32, cf_in: bool) -> (u32, u32) {
        let f = LazyFlags::with_eflags(if cf_in { CF } else { 0 });
        shift(&f, m, a, c, size).unwrap()
    }

    #[test]
    fn shl_and_shr_carry() {
        assert_eq!(run(Mnemonic::Shl, 0x81, 1, 1, false).0, 0x02);
        assert_ne!(run(Mnemonic::Shl, 0x81, 1, 1, false).1 & CF, 0);
        assert_eq!(run(Mnemonic::Shr, 0x01, 1, 4, false).1 & CF, CF);
        assert_eq!(run(Mnemonic::Sar, 0x8000_0000, 31, 4, false).0, 0xFFFF_FFFF);
    }

    #[test]
    fn rcl_uses_carry_and_mod_nine() {
        // RCL AL, 9 with CF=1 rotates the whole 9-bit ring once around: unchanged.
        assert!(shift(&LazyFlags::with_eflags(CF), Mnemonic::Rcl, 0x55, 9, 1).is_none());
        assert_eq!(run(Mnemonic::Rcl, 0x80, 1, 1, true), (0x01, CF | OF | 2));
    }

    #[test]
    fn zero_count_is_no_op() {
        assert!(shift(&LazyFlags::default(), Mnemonic::Shl, 5, 32, 4).is_none());
    }

    #[test]
    fn shld_shrd_values() {
        let f = LazyFlags::default();
        assert_eq!(
            double_shift(&f, true, 0x1234_5678, 0x9ABC_DEF0, 8, 4)
                .unwrap()
                .0,
            0x3456_789A
        );
        assert_eq!(
            double_shift(&f, false, 0x1234_5678, 0x9ABC_DEF0, 8, 4)
                .unwrap()
                .0,
            0xF012_3456
        );
    }
}
