//! FADD/FSUB/FMUL/FDIV/FSQRT: exact computation, one rounding (honouring FCW.PC).

use super::classify::{classify, Class, Unpacked, INDEFINITE};
use super::nan::{binary_special, check_denormal, unary_special};
use super::round::{round_pack, shr_jam128};
use super::{F80Ext, FpEnv, FpFlags, Rounding, BIAS, F80};

/// `a + b` (FADD).
pub fn add(a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    add_signed(a, b, false, env, flags)
}

/// `a - b` (FSUB; FSUBR is `sub(b, a)`).
pub fn sub(a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    add_signed(a, b, true, env, flags)
}

fn add_signed(a: F80, b: F80, negate_b: bool, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = binary_special(a, b, flags) {
        return r;
    }
    let b = if negate_b { b.negate() } else { b };
    check_denormal(a, flags);
    check_denormal(b, flags);
    let (ca, cb) = (classify(a), classify(b));
    match (ca == Class::Infinity, cb == Class::Infinity) {
        (true, true) if a.sign() != b.sign() => {
            flags.raise(FpFlags::IE);
            return INDEFINITE;
        }
        (true, _) => return a,
        (false, true) => return b,
        _ => {}
    }
    add_finite(a, b, env.precision.bits(), env, flags)
}

/// Exact sum of two finite operands, rounded to `bits`.
pub(crate) fn add_finite(a: F80, b: F80, bits: u32, env: FpEnv, flags: &mut FpFlags) -> F80 {
    let (mut big, mut small) = (Unpacked::of(a), Unpacked::of(b));
    if big.exp < small.exp {
        core::mem::swap(&mut big, &mut small);
    }
    let d = (big.exp - small.exp) as u32;
    let x = (big.sig as u128) << 62;
    let y = shr_jam128((small.sig as u128) << 62, d);
    let (sign, s) = if big.sign == small.sign {
        (big.sign, x + y)
    } else if x >= y {
        (big.sign, x - y)
    } else {
        (small.sign, y - x)
    };
    if s == 0 {
        let sign = if a.sign() == b.sign() {
            a.sign()
        } else {
            env.rounding == Rounding::Down
        };
        return F80::zero(sign);
    }
    round_pack(sign, big.exp + 2, s, false, bits, env, flags)
}

/// `a * b` (FMUL).
pub fn mul(a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = binary_special(a, b, flags) {
        return r;
    }
    check_denormal(a, flags);
    check_denormal(b, flags);
    let sign = a.sign() ^ b.sign();
    let (ca, cb) = (classify(a), classify(b));
    if ca == Class::Infinity || cb == Class::Infinity {
        if ca == Class::Zero || cb == Class::Zero {
            flags.raise(FpFlags::IE);
            return INDEFINITE;
        }
        return F80::infinity(sign);
    }
    mul_finite(a, b, env.precision.bits(), env, flags)
}

/// Exact product of two finite operands, rounded to `bits`.
pub(crate) fn mul_finite(a: F80, b: F80, bits: u32, env: FpEnv, flags: &mut FpFlags) -> F80 {
    let sign = a.sign() ^ b.sign();
    let (ua, ub) = (Unpacked::of(a), Unpacked::of(b));
    let p = ua.sig as u128 * ub.sig as u128;
    if p == 0 {
        return F80::zero(sign);
    }
    round_pack(sign, ua.exp + ub.exp - BIAS + 1, p, false, bits, env, flags)
}

/// `a / b` (FDIV; FDIVR is `div(b, a)`).
pub fn div(a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = binary_special(a, b, flags) {
        return r;
    }
    let sign = a.sign() ^ b.sign();
    let (ca, cb) = (classify(a), classify(b));
    let a_inf = ca == Class::Infinity;
    let b_inf = cb == Class::Infinity;
    let a_zero = ca == Class::Zero;
    let b_zero = cb == Class::Zero;
    if (a_inf && b_inf) || (a_zero && b_zero) {
        flags.raise(FpFlags::IE);
        return INDEFINITE;
    }
    if b_zero && !a_inf {
        flags.raise(FpFlags::ZE);
        return F80::infinity(sign);
    }
    check_denormal(a, flags);
    check_denormal(b, flags);
    if a_inf {
        return F80::infinity(sign);
    }
    if b_inf || a_zero {
        return F80::zero(sign);
    }
    div_finite(a, b, env.precision.bits(), env, flags)
}

/// Quotient of two finite nonzero operands, rounded to `bits`.
pub(crate) fn div_finite(a: F80, b: F80, bits: u32, env: FpEnv, flags: &mut FpFlags) -> F80 {
    let sign = a.sign() ^ b.sign();
    let (ua, ub) = (Unpacked::normalized(a), Unpacked::normalized(b));
    let d = ub.sig as u128;
    let n = (ua.sig as u128) << 64;
    let (q1, r1) = (n / d, n % d);
    let n2 = r1 << 64;
    let (q2, r2) = (n2 / d, n2 % d);
    // sa/sb = (q1·2^64 + q2 + r2/d) / 2^128, and q1 < 2^65.
    let sig = (q1 << 63) | (q2 >> 1);
    let sticky = q2 & 1 != 0 || r2 != 0;
    round_pack(sign, ua.exp - ub.exp + BIAS, sig, sticky, bits, env, flags)
}

/// Integer square root of a 128-bit value: (floor(sqrt(n)), n − floor(sqrt(n))²).
pub(crate) fn isqrt128(mut n: u128) -> (u128, u128) {
    let mut res: u128 = 0;
    let mut bit: u128 = 1 << 126;
    while bit > n {
        bit >>= 2;
    }
    while bit != 0 {
        if n >= res + bit {
            n -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    (res, n)
}

/// `sqrt(a)` (FSQRT).
pub fn sqrt(a: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = unary_special(a, flags) {
        return r;
    }
    let c = classify(a);
    if c == Class::Zero {
        return a;
    }
    if a.sign() {
        flags.raise(FpFlags::IE);
        return INDEFINITE;
    }
    check_denormal(a, flags);
    if c == Class::Infinity {
        return a;
    }
    let u = Unpacked::normalized(a);
    let e = u.exp - BIAS; // unbiased exponent of the integer bit
                          // a = N · 2^(2k) with N = sig · 2^64 or sig · 2^63, whichever makes the power even.
    let (n, k2) = if e.rem_euclid(2) == 1 {
        ((u.sig as u128) << 64, e - 127)
    } else {
        ((u.sig as u128) << 63, e - 126)
    };
    let (r, rem) = isqrt128(n);
    let guard = rem > r;
    let s = (r << 64) | ((guard as u128) << 63);
    round_pack(
        false,
        k2 / 2 + 63 + BIAS,
        s,
        rem != 0,
        env.precision.bits(),
        env,
        flags,
    )
}
