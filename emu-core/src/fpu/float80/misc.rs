//! FPREM, FPREM1, FRNDINT, FSCALE, FXTRACT and the compares.

use super::classify::{classify, Class, Unpacked, INDEFINITE};
use super::nan::{binary_special, check_denormal, propagate2, unary_special};
use super::round::{round_pack, round_up};
use super::{CondCodes, F80Ext, FpEnv, FpFlags, BIAS, F80};
use core::cmp::Ordering;

/// Result of FPREM/FPREM1: the new ST(0) and the condition codes (C2 = reduction incomplete;
/// when complete, C0/C3/C1 = quotient bits Q2/Q1/Q0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemResult {
    pub value: F80,
    pub cc: CondCodes,
    /// False when the instruction leaves C0 and C3 unchanged (NaN, unsupported or invalid
    /// operands): only C1 and C2 (both cleared) are written then.
    pub writes_c0_c3: bool,
}

impl RemResult {
    /// The status word after the instruction: `fsw` with the condition codes updated (the
    /// exception flags are not included; take them from the `FpFlags`).
    pub fn apply_cc(self, fsw: u16) -> u16 {
        let mask = if self.writes_c0_c3 {
            CondCodes::FSW_MASK
        } else {
            0x0600
        };
        (fsw & !mask) | (self.cc.fsw_bits() & mask)
    }
}

/// FPREM: partial remainder of `a` (ST(0)) by `b` (ST(1)) with a truncated quotient.
///
/// With an exponent difference D < 64 the reduction is complete (C2 = 0, C0/C3/C1 = Q2/Q1/Q0).
/// Otherwise, like the hardware, it reduces to an exponent difference of N = 32 + (D mod 32):
/// `a − b·QQ·2^(D−N)` with `QQ = trunc(a / (b·2^(D−N)))`, C2 = 1 and C0/C3/C1 = 0; the guest
/// repeats FPREM until C2 = 0. The result is always exact.
pub fn rem(a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> RemResult {
    remainder(a, b, false, env, flags)
}

/// FPREM1: IEEE partial remainder of `a` (ST(0)) by `b` (ST(1)), quotient rounded to nearest
/// even when the reduction completes (D < 64); partial steps are as for [`rem`] (truncated).
pub fn rem_ieee(a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> RemResult {
    remainder(a, b, true, env, flags)
}

fn remainder(a: F80, b: F80, nearest: bool, env: FpEnv, flags: &mut FpFlags) -> RemResult {
    let special = |value| RemResult {
        value,
        cc: CondCodes::default(),
        writes_c0_c3: false,
    };
    let done = |value| RemResult {
        value,
        cc: CondCodes::default(),
        writes_c0_c3: true,
    };
    if let Some(r) = binary_special(a, b, flags) {
        return special(r);
    }
    let (ca, cb) = (classify(a), classify(b));
    if ca == Class::Infinity || cb == Class::Zero {
        flags.raise(FpFlags::IE);
        return special(INDEFINITE);
    }
    check_denormal(a, flags);
    check_denormal(b, flags);
    if ca == Class::Zero {
        return done(a);
    }
    let env = env.extended();
    let ua = Unpacked::normalized(a);
    let ub = Unpacked::normalized(b);
    let d = ua.exp - ub.exp;
    if cb == Class::Infinity {
        return done(canonical(a));
    }
    if d < if nearest { -1 } else { 0 } {
        // |a| < |b| (or < |b|/2): the quotient is zero and a is the remainder (a tiny one is
        // still reported as an underflow when UE is unmasked).
        return done(round_pack(
            a.sign(),
            ua.exp + 64,
            ua.sig as u128,
            false,
            64,
            env,
            flags,
        ));
    }
    if d >= 64 {
        // Partial reduction: bring the exponent difference down to N = 32 + (D mod 32) with
        // a truncated quotient, as the hardware does.
        let n = 32 + (d & 31);
        let shift = d - n;
        let num = (ua.sig as u128) << n;
        let r = num % ub.sig as u128;
        let cc = CondCodes {
            c2: true,
            ..CondCodes::default()
        };
        let done = |value| RemResult {
            value,
            cc,
            writes_c0_c3: true,
        };
        let value = if r == 0 {
            F80::zero(a.sign())
        } else {
            round_pack(a.sign(), ub.exp + 64 + shift, r, false, 64, env, flags)
        };
        return done(value);
    }
    // Complete reduction: exact quotient and remainder at the scale of b / 2.
    let num = (ua.sig as u128) << (d + 1);
    let den = (ub.sig as u128) << 1;
    let mut q = num / den;
    let mut r = num % den;
    let mut sign = a.sign();
    if nearest && (2 * r > den || (2 * r == den && q & 1 != 0)) {
        q += 1;
        r = den - r;
        sign = !sign;
    }
    let cc = CondCodes {
        c0: q & 4 != 0,
        c3: q & 2 != 0,
        c1: q & 1 != 0,
        c2: false,
    };
    let value = if r == 0 {
        F80::zero(a.sign())
    } else {
        round_pack(sign, ub.exp + 63, r, false, 64, env, flags)
    };
    RemResult {
        value,
        cc,
        writes_c0_c3: true,
    }
}

/// FRNDINT: round to an integral value per RC (64-bit precision; FCW.PC is ignored).
pub fn round_to_int(a: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = unary_special(a, flags) {
        return r;
    }
    match classify(a) {
        Class::Zero | Class::Infinity => return a,
        _ => {}
    }
    check_denormal(a, flags);
    let u = Unpacked::of(a);
    let e = u.exp - BIAS; // the integer bit is worth 2^e
    if e >= 63 {
        return a;
    }
    // Fixed point with 64 fraction bits below the integer position (more are jammed).
    let frac_bits = (63 - e) as u32;
    let fixed: u128 = if frac_bits <= 64 {
        (u.sig as u128) << (64 - frac_bits)
    } else {
        super::round::shr_jam128((u.sig as u128) << 64, frac_bits)
    };
    let int = fixed >> 64;
    let rem = fixed & u64::MAX as u128;
    let up = round_up(rem, 1 << 63, int & 1 != 0, a.sign(), env.rounding);
    let int = int + up as u128;
    if rem != 0 {
        flags.raise(FpFlags::PE);
    }
    if up {
        flags.raise(FpFlags::C1);
    }
    if int == 0 {
        return F80::zero(a.sign());
    }
    from_u64(a.sign(), int as u64)
}

/// A finite value passed through unchanged, except that a pseudo-denormal becomes the equal
/// normal (exponent 1). No flags: this is how FPREM/FSCALE return an operand they leave alone.
pub(crate) fn canonical(a: F80) -> F80 {
    if a.exp() == 0 && a.signif >> 63 != 0 {
        F80::from_parts(a.sign(), 1, a.signif)
    } else {
        a
    }
}

/// An exact integer magnitude as an F80.
pub(crate) fn from_u64(sign: bool, m: u64) -> F80 {
    if m == 0 {
        return F80::zero(sign);
    }
    let lz = m.leading_zeros();
    F80::from_parts(sign, (BIAS + 63 - lz as i32) as u16, m << lz)
}

/// FSCALE: `a · 2^trunc(b)` (64-bit precision).
pub fn scale(a: F80, b: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = binary_special(a, b, flags) {
        return r;
    }
    let (ca, cb) = (classify(a), classify(b));
    if cb == Class::Infinity {
        let grow = !b.sign();
        return match (ca, grow) {
            (Class::Zero, true) | (Class::Infinity, false) => {
                flags.raise(FpFlags::IE);
                INDEFINITE
            }
            (Class::Zero, false) | (Class::Infinity, true) => a,
            _ => {
                check_denormal(a, flags);
                if grow {
                    F80::infinity(a.sign())
                } else {
                    F80::zero(a.sign())
                }
            }
        };
    }
    check_denormal(a, flags);
    check_denormal(b, flags);
    if ca == Class::Zero || ca == Class::Infinity {
        return a;
    }
    if cb == Class::Zero {
        // Scaling by ±0 returns the operand as is (no underflow even for a denormal).
        return canonical(a);
    }
    let n = trunc_clamped(b, 1 << 20);
    let u = Unpacked::of(a);
    round_pack(
        a.sign(),
        u.exp + 64 + n,
        u.sig as u128,
        false,
        64,
        env.extended(),
        flags,
    )
}

/// trunc(b) for a finite b, clamped to ±limit.
fn trunc_clamped(b: F80, limit: i32) -> i32 {
    let u = Unpacked::of(b);
    let e = u.exp - BIAS;
    let mag = if e < 0 {
        0
    } else if e >= 31 {
        limit
    } else {
        ((u.sig >> (63 - e)) as i32).min(limit)
    };
    if b.sign() {
        -mag
    } else {
        mag
    }
}

/// FXTRACT: returns `(significand, exponent)`; the exponent replaces ST(0), then the
/// significand is pushed (so it ends in ST(0) and the exponent in ST(1)). Exact: no rounding.
/// ±0 gives ZE with (±0, −∞); ±∞ gives (±∞, +∞); a NaN gives the (quieted) NaN twice.
pub fn xtract(a: F80, flags: &mut FpFlags) -> (F80, F80) {
    if let Some(r) = unary_special(a, flags) {
        return (r, r);
    }
    match classify(a) {
        Class::Zero => {
            flags.raise(FpFlags::ZE);
            (a, F80::infinity(true))
        }
        Class::Infinity => (a, F80::infinity(false)),
        _ => {
            check_denormal(a, flags);
            let u = Unpacked::normalized(a);
            let e = u.exp - BIAS;
            (
                F80::from_parts(a.sign(), BIAS as u16, u.sig),
                from_u64(e < 0, e.unsigned_abs() as u64),
            )
        }
    }
}

/// Outcome of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareResult {
    Less,
    Equal,
    Greater,
    Unordered,
}

impl CompareResult {
    /// The FCOM/FUCOM/FTST condition codes (C3, C2, C0; C1 = 0).
    pub fn cc(self) -> CondCodes {
        let (c3, c2, c0) = match self {
            CompareResult::Greater => (false, false, false),
            CompareResult::Less => (false, false, true),
            CompareResult::Equal => (true, false, false),
            CompareResult::Unordered => (true, true, true),
        };
        CondCodes {
            c0,
            c1: false,
            c2,
            c3,
        }
    }

    /// The FCOMI/FUCOMI EFLAGS bits (ZF = 0x40, PF = 0x04, CF = 0x01).
    pub fn eflags(self) -> u32 {
        match self {
            CompareResult::Greater => 0,
            CompareResult::Less => 0x01,
            CompareResult::Equal => 0x40,
            CompareResult::Unordered => 0x45,
        }
    }
}

/// FCOM/FCOMI (ordered): IE for any NaN or unsupported operand.
pub fn compare(a: F80, b: F80, flags: &mut FpFlags) -> CompareResult {
    compare_impl(a, b, true, flags)
}

/// FUCOM/FUCOMI (unordered): IE only for SNaN or unsupported operands.
pub fn compare_unordered(a: F80, b: F80, flags: &mut FpFlags) -> CompareResult {
    compare_impl(a, b, false, flags)
}

/// FTST: compare with +0.0.
pub fn test(a: F80, flags: &mut FpFlags) -> CompareResult {
    compare(a, F80::zero(false), flags)
}

fn compare_impl(a: F80, b: F80, ordered: bool, flags: &mut FpFlags) -> CompareResult {
    let (ca, cb) = (classify(a), classify(b));
    if ca == Class::Unsupported || cb == Class::Unsupported {
        flags.raise(FpFlags::IE);
        return CompareResult::Unordered;
    }
    let nan = |c| matches!(c, Class::QNaN | Class::SNaN);
    if nan(ca) || nan(cb) {
        if ordered {
            flags.raise(FpFlags::IE);
        } else {
            let _ = propagate2(a, b, flags);
        }
        return CompareResult::Unordered;
    }
    check_denormal(a, flags);
    check_denormal(b, flags);
    match compare_numbers(a, b) {
        Ordering::Less => CompareResult::Less,
        Ordering::Equal => CompareResult::Equal,
        Ordering::Greater => CompareResult::Greater,
    }
}

/// Numeric order of two non-NaN supported values (zeros equal regardless of sign).
pub(crate) fn compare_numbers(a: F80, b: F80) -> Ordering {
    /// A signed key that orders like the value: magnitude as (normalized exponent, significand).
    fn key(x: F80) -> i128 {
        let mag = match classify(x) {
            Class::Zero => 0,
            Class::Infinity => i128::MAX,
            _ => {
                // Normalized exponents of denormals go down to −62; offset to keep them > 0.
                let u = Unpacked::normalized(x);
                ((u.exp as i128 + 100) << 64) | u.sig as i128
            }
        };
        if x.sign() {
            -mag
        } else {
            mag
        }
    }
    key(a).cmp(&key(b))
}
