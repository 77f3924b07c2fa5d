//! Arithmetic and logic: the values and flags of ALU operations, apart from operand plumbing.
//! The interpreter's handlers and the JIT's helpers call these same functions.

use crate::cpu::flags::{self, size_mask, szp, LazyFlags, LazyOp, AF, CF, OF};
use crate::exception::{Exception, Result};

/// The eight classic ALU ops in opcode order (`/r` field of 80-83).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add = 0,
    Or = 1,
    Adc = 2,
    Sbb = 3,
    And = 4,
    Sub = 5,
    Xor = 6,
    Cmp = 7,
}

#[inline(always)]
pub fn alu(f: &mut LazyFlags, op: AluOp, a: u32, b: u32, size: u32) -> u32 {
    let m = size_mask(size);
    let r = match op {
        AluOp::Add => {
            let r = a.wrapping_add(b);
            f.set(LazyOp::Add, size, a, b, r);
            r
        }
        AluOp::Adc => {
            let c = f.cf() as u32;
            let r = a.wrapping_add(b).wrapping_add(c);
            f.set(
                if c != 0 {
                    LazyOp::AdcCarry
                } else {
                    LazyOp::Add
                },
                size,
                a,
                b,
                r,
            );
            r
        }
        AluOp::Sub | AluOp::Cmp => {
            let r = a.wrapping_sub(b);
            f.set(LazyOp::Sub, size, a, b, r);
            r
        }
        AluOp::Sbb => {
            let c = f.cf() as u32;
            let r = a.wrapping_sub(b).wrapping_sub(c);
            f.set(
                if c != 0 {
                    LazyOp::SbbBorrow
                } else {
                    LazyOp::Sub
                },
                size,
                a,
                b,
                r,
            );
            r
        }
        AluOp::And => logic(f, a & b, size),
        AluOp::Or => logic(f, a | b, size),
        AluOp::Xor => logic(f, a ^ b, size),
    };
    r & m
}

#[inline(always)]
pub fn logic(f: &mut LazyFlags, r: u32, size: u32) -> u32 {
    f.set(LazyOp::Logic, size, 0, 0, r);
    r
}

#[inline(always)]
pub fn inc(f: &mut LazyFlags, a: u32, size: u32) -> u32 {
    let r = a.wrapping_add(1) & size_mask(size);
    f.set_incdec(LazyOp::Inc, size, a, r);
    r
}

#[inline(always)]
pub fn dec(f: &mut LazyFlags, a: u32, size: u32) -> u32 {
    let r = a.wrapping_sub(1) & size_mask(size);
    f.set_incdec(LazyOp::Dec, size, a, r);
    r
}

#[inline(always)]
pub fn neg(f: &mut LazyFlags, a: u32, size: u32) -> u32 {
    let r = 0u32.wrapping_sub(a) & size_mask(size);
    f.set(LazyOp::Sub, size, 0, a, r);
    r
}

fn sign_extend(v: u32, size: u32) -> i64 {
    match size {
        1 => v as u8 as i8 as i64,
        2 => v as u16 as i16 as i64,
        _ => v as i32 as i64,
    }
}

/// MUL: returns (low, high). CF=OF= high half nonzero; SF ZF PF from the low half as a P6
/// leaves them (undefined per the SDM), AF cleared.
pub fn mul(f: &mut LazyFlags, a: u32, b: u32, size: u32) -> (u32, u32) {
    let p = (a as u64 & size_mask(size) as u64) * (b as u64 & size_mask(size) as u64);
    let bits = size * 8;
    let lo = (p as u32) & size_mask(size);
    let hi = ((p >> bits) as u32) & size_mask(size);
    let co = if hi != 0 { CF | OF } else { 0 };
    f.set_arith(co | szp(lo, size));
    (lo, hi)
}

/// IMUL (all forms): returns (low, high); CF=OF= the product does not fit the low half.
pub fn imul(f: &mut LazyFlags, a: u32, b: u32, size: u32) -> (u32, u32) {
    let p = sign_extend(a, size) * sign_extend(b, size);
    let bits = size * 8;
    let lo = (p as u32) & size_mask(size);
    let hi = ((p >> bits) as u32) & size_mask(size);
    let fits = sign_extend(lo, size) == p;
    let co = if fits { 0 } else { CF | OF };
    f.set_arith(co | szp(lo, size));
    (lo, hi)
}

/// DIV: dividend (hi:lo) by `d`; #DE on zero divisor or quotient overflow.
pub fn div(hi: u32, lo: u32, d: u32, size: u32) -> Result<(u32, u32)> {
    let m = size_mask(size) as u64;
    let bits = size * 8;
    let n = ((hi as u64 & m) << bits) | (lo as u64 & m);
    let d = d as u64 & m;
    if d == 0 {
        return Err(Exception::de().into());
    }
    let q = n / d;
    if q > m {
        return Err(Exception::de().into());
    }
    Ok((q as u32, (n % d) as u32))
}

/// IDIV: signed; #DE on zero divisor or when the quotient does not fit.
pub fn idiv(hi: u32, lo: u32, d: u32, size: u32) -> Result<(u32, u32)> {
    let bits = size * 8;
    let m = size_mask(size) as u64;
    let raw = ((hi as u64 & m) << bits) | (lo as u64 & m);
    // Sign-extend the 2*size-bit dividend.
    let n = ((raw << (64 - 2 * bits)) as i64) >> (64 - 2 * bits);
    let d = sign_extend(d, size);
    if d == 0 {
        return Err(Exception::de().into());
    }
    let q = n.wrapping_div(d);
    let r = n.wrapping_rem(d);
    let (min, max) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
    if q < min || q > max || (n == i64::MIN && d == -1) {
        return Err(Exception::de().into());
    }
    Ok(((q as u32) & m as u32, (r as u32) & m as u32))
}

/// Flags for ops computed eagerly: CF and OF given, SZP from the result, AF given.
#[inline]
pub fn set_eager(f: &mut LazyFlags, res: u32, size: u32, cf: bool, of: bool, af: bool) {
    let mut v = szp(res, size);
    if cf {
        v |= CF;
    }
    if of {
        v |= OF;
    }
    if af {
        v |= AF;
    }
    f.set_arith(v);
}

pub use flags::parity;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_faults() {
        assert!(div(0, 10, 0, 4).is_err());
        assert!(div(1, 0, 1, 4).is_err(), "quotient overflow");
        assert_eq!(div(0, 100, 7, 1).unwrap(), (14, 2));
        assert!(
            idiv(0xFFFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 4).is_err(),
            "INT_MIN / -1"
        );
        assert_eq!(
            idiv(0xFF, 0xF9, 2, 1).unwrap(),
            (0xFD, 0xFF),
            "-7/2 = -3 rem -1"
        );
    }

    #[test]
    fn imul_overflow_flags() {
        let mut f = LazyFlags::default();
        let (lo, _) = imul(&mut f, 0x40, 2, 1);
        assert_eq!(lo, 0x80);
        assert!(f.cf() && f.of());
        imul(&mut f, 0xFF, 0xFF, 1); // -1 * -1 = 1 fits
        assert!(!f.cf() && !f.of());
    }
}
