//! The single rounding point of the library: exact (or sticky-jammed) value in, rounded 80-bit
//! result plus OE/UE/PE/C1 out, following the x87's rules for precision control, tininess and
//! masked/unmasked overflow and underflow.

use super::{F80Ext, FpEnv, FpFlags, Rounding, F80};

/// Exponent adjustment applied to results delivered with OE/UE unmasked.
pub(crate) const WRAP: i32 = 24576;

/// Shift right by `n` (any amount), OR-ing everything shifted out into bit 0.
#[inline]
pub(crate) fn shr_jam128(x: u128, n: u32) -> u128 {
    if n == 0 {
        x
    } else if n >= 128 {
        (x != 0) as u128
    } else {
        (x >> n) | ((x << (128 - n) != 0) as u128)
    }
}

/// Whether to add one unit in the last place, given the discarded bits `rem`, the weight of
/// half a unit `half`, the parity of the kept part and the sign.
#[inline]
pub(crate) fn round_up(rem: u128, half: u128, odd: bool, sign: bool, rc: Rounding) -> bool {
    if rem == 0 {
        return false;
    }
    match rc {
        Rounding::Nearest => rem > half || (rem == half && odd),
        Rounding::Zero => false,
        Rounding::Up => !sign,
        Rounding::Down => sign,
    }
}

/// True if an overflowing result becomes infinity (rather than the largest finite value).
#[inline]
pub(crate) fn overflow_to_inf(sign: bool, rc: Rounding) -> bool {
    match rc {
        Rounding::Nearest => true,
        Rounding::Zero => false,
        Rounding::Up => !sign,
        Rounding::Down => sign,
    }
}

/// Round and pack the value (−1)^sign · (sig / 2^127) · 2^(exp − 16383), where `sig` is any
/// nonzero 128-bit integer (normalized here) and `sticky` says that nonzero bits lie below
/// `sig`'s least significant bit. The significand is rounded to `bits` (24, 53 or 64) per
/// `env.rounding`; the exponent range is always the 80-bit one, and denormal results are rounded
/// at the same fixed bit position of the 64-bit field, as the x87 does under precision control.
///
/// A zero `sig` (with no sticky) yields a zero of the given sign.
pub(crate) fn round_pack(
    sign: bool,
    exp: i32,
    sig: u128,
    sticky: bool,
    bits: u32,
    env: FpEnv,
    flags: &mut FpFlags,
) -> F80 {
    if sig == 0 {
        if !sticky {
            return F80::zero(sign);
        }
        // Only sticky bits: a positive value far below anything representable.
        return round_pack(sign, exp - 200, 1, false, bits, env, flags);
    }
    let lz = sig.leading_zeros();
    let mut sig = sig << lz;
    let exp = exp - lz as i32;
    if sticky {
        sig |= 1;
    }
    let drop = 128 - bits;
    let unit = 1u128 << drop;
    let half = unit >> 1;
    let mask = unit - 1;
    let rc = env.rounding;

    if exp < 1 {
        // Tininess is detected after rounding (as if the exponent range were unbounded).
        let rem = sig & mask;
        let carries = round_up(rem, half, sig & unit != 0, sign, rc) && (sig | mask) == u128::MAX;
        let tiny = exp < 0 || !carries;
        // With UE unmasked the result is delivered with its exponent wrapped by +24576.
        if tiny && !env.masked(FpFlags::UE) {
            flags.raise(FpFlags::UE);
            if exp + WRAP < 1 {
                // Out of range even after wrapping (only FSCALE gets here): a zero.
                flags.raise(FpFlags::PE);
                return F80::zero(sign);
            }
            return round_normal(sign, exp + WRAP, sig, bits, env, flags);
        }
        let shifted = shr_jam128(sig, (1 - exp) as u32);
        let rem = shifted & mask;
        let kept = shifted & !mask;
        let inc = round_up(rem, half, kept & unit != 0, sign, rc);
        let out = if inc { kept + unit } else { kept };
        if rem != 0 {
            flags.raise(FpFlags::PE);
            if tiny {
                flags.raise(FpFlags::UE);
            }
        }
        if inc {
            flags.raise(FpFlags::C1);
        }
        let e = (out >> 127) as u16; // carried into the integer bit: smallest normal
        return F80::from_parts(sign, e, (out >> 64) as u64);
    }
    round_normal(sign, exp, sig, bits, env, flags)
}

/// Round a normalized `sig` with exponent `exp >= 1`, handling overflow.
fn round_normal(
    sign: bool,
    mut exp: i32,
    sig: u128,
    bits: u32,
    env: FpEnv,
    flags: &mut FpFlags,
) -> F80 {
    let drop = 128 - bits;
    let unit = 1u128 << drop;
    let mask = unit - 1;
    let rem = sig & mask;
    let kept = sig & !mask;
    let inc = round_up(rem, unit >> 1, kept & unit != 0, sign, env.rounding);
    let mut out = kept;
    if inc {
        out = kept.wrapping_add(unit);
        if out == 0 {
            out = 1 << 127;
            exp += 1;
        }
    }
    if exp >= 0x7FFF {
        flags.raise(FpFlags::OE);
        if !env.masked(FpFlags::OE) && exp - WRAP >= 0x7FFF {
            // Out of range even after wrapping (only FSCALE gets here): an infinity.
            flags.raise(FpFlags::PE | FpFlags::C1);
            return F80::infinity(sign);
        }
        if env.masked(FpFlags::OE) {
            flags.raise(FpFlags::PE);
            if overflow_to_inf(sign, env.rounding) {
                flags.raise(FpFlags::C1);
                return F80::infinity(sign);
            }
            let max = !((1u64 << (64 - bits)) - 1);
            return F80::from_parts(sign, 0x7FFE, max);
        }
        // Unmasked: deliver the result with the exponent wrapped by −24576.
        exp -= WRAP;
    }
    if rem != 0 {
        flags.raise(FpFlags::PE);
    }
    if inc {
        flags.raise(FpFlags::C1);
    }
    F80::from_parts(sign, exp as u16, (out >> 64) as u64)
}
