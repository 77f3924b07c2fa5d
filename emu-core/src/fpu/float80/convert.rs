//! FLD/FST m32 and m64, FILD/FIST/FISTTP, FBLD/FBSTP.

use super::classify::{classify, Class, Unpacked};
use super::misc::from_u64;
use super::round::{overflow_to_inf, round_up, shr_jam128};
use super::{F80Ext, FpEnv, FpFlags, BIAS, F80};

/// Geometry of an IEEE binary interchange format.
struct Format {
    /// Significand bits including the hidden bit.
    p: u32,
    /// Exponent bias (the maximum biased exponent is `2 * bias + 1`).
    bias: i32,
}

const SINGLE: Format = Format { p: 24, bias: 127 };
const DOUBLE: Format = Format { p: 53, bias: 1023 };

/// Load an IEEE value (`bits` holds sign, exponent and fraction as in memory).
fn from_ieee(bits: u64, f: &Format, flags: &mut FpFlags) -> F80 {
    let frac_bits = f.p - 1;
    let ew = exp_width(f);
    let sign = (bits >> (frac_bits + ew)) & 1 != 0;
    let e = ((bits >> frac_bits) & ((1 << ew) - 1)) as i32;
    let frac = bits & ((1u64 << frac_bits) - 1);
    let emax = (1 << ew) - 1;
    if e == emax {
        if frac == 0 {
            return F80::infinity(sign);
        }
        let quiet_bit = 1u64 << (frac_bits - 1);
        if frac & quiet_bit == 0 {
            flags.raise(FpFlags::IE);
        }
        return F80::from_parts(sign, 0x7FFF, (1 << 63) | (1 << 62) | (frac << (64 - f.p)));
    }
    if e == 0 {
        if frac == 0 {
            return F80::zero(sign);
        }
        flags.raise(FpFlags::DE);
        let lz = frac.leading_zeros();
        // value = frac · 2^(1 − bias − frac_bits)
        let exp = 1 - f.bias - frac_bits as i32 + 63 - lz as i32;
        return F80::from_parts(sign, (exp + BIAS) as u16, frac << lz);
    }
    F80::from_parts(
        sign,
        (e - f.bias + BIAS) as u16,
        (1 << 63) | (frac << (64 - f.p)),
    )
}

const fn exp_width(f: &Format) -> u32 {
    if f.p == 24 {
        8
    } else {
        11
    }
}

/// Store as an IEEE value, rounding per RC (FCW.PC does not apply).
fn to_ieee(x: F80, f: &Format, env: FpEnv, flags: &mut FpFlags) -> u64 {
    let frac_bits = f.p - 1;
    let ew = exp_width(f);
    let emax = (1i32 << ew) - 1;
    let sign_bit = (x.sign() as u64) << (frac_bits + ew);
    let inf = sign_bit | ((emax as u64) << frac_bits);
    let quiet_bit = 1u64 << (frac_bits - 1);
    match classify(x) {
        Class::Unsupported => {
            flags.raise(FpFlags::IE);
            return (1 << (frac_bits + ew)) | ((emax as u64) << frac_bits) | quiet_bit;
        }
        Class::SNaN | Class::QNaN => {
            if x.signif & (1 << 62) == 0 {
                flags.raise(FpFlags::IE);
            }
            let payload = (x.signif << 1) >> (64 - frac_bits);
            return inf | quiet_bit | payload;
        }
        Class::Infinity => return inf,
        Class::Zero => return sign_bit,
        _ => {}
    }
    // Stores never raise DE, even for an 80-bit denormal source.
    let sign = x.sign();
    let u = Unpacked::normalized(x);
    let mut t = u.exp - BIAS + f.bias; // target biased exponent of the integer bit
    let sig = (u.sig as u128) << 64;
    let drop = 128 - f.p;
    let unit = 1u128 << drop;
    let mask = unit - 1;
    let rc = env.rounding;
    let (mut kept, rem, tiny) = if t >= 1 {
        (sig & !mask, sig & mask, false)
    } else {
        // Tininess after rounding: would rounding to p bits at the unbounded exponent still
        // leave the value below the smallest normal?
        let carries =
            round_up(sig & mask, unit >> 1, sig & unit != 0, sign, rc) && (sig | mask) == u128::MAX;
        let tiny = t < 0 || !carries;
        if tiny && !env.masked(FpFlags::UE) {
            // The store traps: the destination is not written.
            flags.raise(FpFlags::UE);
            return sign_bit;
        }
        let s = shr_jam128(sig, (1 - t) as u32);
        t = 0;
        (s & !mask, s & mask, tiny)
    };
    let up = round_up(rem, unit >> 1, kept & unit != 0, sign, rc);
    if up {
        kept = kept.wrapping_add(unit);
        if kept == 0 {
            kept = 1 << 127;
            t += 1;
        } else if t == 0 && kept >> 127 != 0 {
            t = 1;
        }
    }
    if t == 0 && kept >> 127 != 0 {
        t = 1;
    }
    if t >= emax {
        flags.raise(FpFlags::OE);
        if !env.masked(FpFlags::OE) {
            // The store traps: the destination is not written (and PE is not reported).
            return inf;
        }
        flags.raise(FpFlags::PE);
        if overflow_to_inf(sign, rc) {
            flags.raise(FpFlags::C1);
            return inf;
        }
        return sign_bit | (((emax - 1) as u64) << frac_bits) | ((1 << frac_bits) - 1);
    }
    if rem != 0 {
        flags.raise(FpFlags::PE);
        if tiny {
            flags.raise(FpFlags::UE);
        }
    }
    if up {
        flags.raise(FpFlags::C1);
    }
    let m = (kept >> drop) as u64 & ((1 << frac_bits) - 1);
    sign_bit | ((t as u64) << frac_bits) | m
}

/// FLD m32: load a single-precision bit pattern (exact; SNaN raises IE and is quieted, a
/// denormal raises DE).
pub fn from_f32_bits(bits: u32, flags: &mut FpFlags) -> F80 {
    from_ieee(bits as u64, &SINGLE, flags)
}

/// FLD m64: load a double-precision bit pattern.
pub fn from_f64_bits(bits: u64, flags: &mut FpFlags) -> F80 {
    from_ieee(bits, &DOUBLE, flags)
}

/// FST m32: round to single precision per RC. With OE or UE raised and unmasked, the
/// hardware does not write memory; the returned bits are then meaningless.
pub fn to_f32_bits(x: F80, env: FpEnv, flags: &mut FpFlags) -> u32 {
    to_ieee(x, &SINGLE, env, flags) as u32
}

/// FST m64: round to double precision per RC (same trap rule as [`to_f32_bits`]).
pub fn to_f64_bits(x: F80, env: FpEnv, flags: &mut FpFlags) -> u64 {
    to_ieee(x, &DOUBLE, env, flags)
}

/// FILD m16.
pub fn from_i16(v: i16) -> F80 {
    from_i64(v as i64)
}

/// FILD m32.
pub fn from_i32(v: i32) -> F80 {
    from_i64(v as i64)
}

/// FILD m64 (exact).
pub fn from_i64(v: i64) -> F80 {
    from_u64(v < 0, v.unsigned_abs())
}

/// How FIST/FISTP (per FCW.RC) and FISTTP (truncate) round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntRounding {
    /// FIST/FISTP: round per `env.rounding`.
    Control,
    /// FISTTP: truncate toward zero.
    Truncate,
}

/// Round to an integer of `bits` bits; out-of-range, NaN, ∞ and unsupported give IE and the
/// integer indefinite (the most negative value).
fn to_int(x: F80, bits: u32, mode: IntRounding, env: FpEnv, flags: &mut FpFlags) -> i64 {
    let indefinite = i64::MIN >> (64 - bits);
    match classify(x) {
        Class::Zero => return 0,
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Infinity => {
            flags.raise(FpFlags::IE);
            return indefinite;
        }
        _ => {}
    }
    // No DE: integer stores do not check for denormal operands.
    let rc = match mode {
        IntRounding::Control => env.rounding,
        IntRounding::Truncate => super::Rounding::Zero,
    };
    let sign = x.sign();
    let u = Unpacked::of(x);
    let e = u.exp - BIAS;
    if e >= 64 {
        flags.raise(FpFlags::IE);
        return indefinite;
    }
    let frac_bits = 63 - e; // >= 0
    let fixed: u128 = if frac_bits <= 64 {
        (u.sig as u128) << (64 - frac_bits) as u32
    } else {
        shr_jam128((u.sig as u128) << 64, frac_bits as u32)
    };
    let int = fixed >> 64;
    let rem = fixed & u64::MAX as u128;
    let up = round_up(rem, 1 << 63, int & 1 != 0, sign, rc);
    let mag = int + up as u128;
    let limit = 1u128 << (bits - 1); // |min|
    if mag > limit || (mag == limit && !sign) {
        flags.raise(FpFlags::IE);
        return indefinite;
    }
    if rem != 0 {
        flags.raise(FpFlags::PE);
    }
    if up {
        flags.raise(FpFlags::C1);
    }
    let m = mag as i128;
    (if sign { -m } else { m }) as i64
}

/// FIST/FISTP/FISTTP m16.
pub fn to_i16(x: F80, mode: IntRounding, env: FpEnv, flags: &mut FpFlags) -> i16 {
    to_int(x, 16, mode, env, flags) as i16
}

/// FIST/FISTP/FISTTP m32.
pub fn to_i32(x: F80, mode: IntRounding, env: FpEnv, flags: &mut FpFlags) -> i32 {
    to_int(x, 32, mode, env, flags) as i32
}

/// FISTP/FISTTP m64.
pub fn to_i64(x: F80, mode: IntRounding, env: FpEnv, flags: &mut FpFlags) -> i64 {
    to_int(x, 64, mode, env, flags)
}

/// The packed-BCD indefinite that FBSTP stores on invalid operation.
pub const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];

/// FBLD: 18 packed BCD digits (byte 0 holds the two least significant digits, low nibble
/// first) and the sign in bit 7 of byte 9. Nibbles above 9 are weighted like digits.
pub fn from_bcd(b: [u8; 10]) -> F80 {
    let mut v: u64 = 0;
    for i in (0..9).rev() {
        v = v * 100 + (b[i] >> 4) as u64 * 10 + (b[i] & 0xF) as u64;
    }
    from_u64(b[9] & 0x80 != 0, v)
}

/// FBSTP: round per RC to an integer and store as 18 packed BCD digits; NaN, ∞, unsupported
/// and magnitudes of 10^18 or more give IE and [`BCD_INDEFINITE`].
pub fn to_bcd(x: F80, env: FpEnv, flags: &mut FpFlags) -> [u8; 10] {
    let mut out = [0u8; 10];
    out[9] = (x.sign() as u8) << 7;
    let v = match classify(x) {
        Class::Zero => 0,
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Infinity => {
            flags.raise(FpFlags::IE);
            return BCD_INDEFINITE;
        }
        _ => {
            let mut f = FpFlags::default();
            let i = to_int(x, 64, IntRounding::Control, env, &mut f);
            if f.contains(FpFlags::IE) || i.unsigned_abs() >= 1_000_000_000_000_000_000 {
                flags.raise(FpFlags::IE | (f.0 & FpFlags::DE));
                return BCD_INDEFINITE;
            }
            flags.raise(f.0);
            i.unsigned_abs()
        }
    };
    let mut v = v;
    for byte in out.iter_mut().take(9) {
        let lo = (v % 10) as u8;
        v /= 10;
        let hi = (v % 10) as u8;
        v /= 10;
        *byte = (hi << 4) | lo;
    }
    out
}
