//! F2XM1, FYL2X, FYL2XP1, FSIN, FCOS, FSINCOS, FPTAN, FPATAN.
//!
//! Operand order follows the register stack: the first argument is ST(0), the second ST(1).
//! Results are computed in `Wide` (128-bit significand, relative error about 2^-120) and
//! then rounded once per FCW.RC to 64 bits (FCW.PC does not apply). Apart from exact special
//! cases, PE is always raised and C1 reports whether the delivered result was rounded up.
//!
//! FSIN/FCOS/FSINCOS/FPTAN reduce their argument modulo π/2 exactly, but with the 66-bit π
//! the x87 uses internally (0xC90FDAA22168C234C·2^-66), so that results for large arguments
//! follow the hardware rather than the mathematically exact function. Arguments with
//! |x| ≥ 2^63 are out of range: the functions return `None` (C2 = 1, operand unchanged).
//!
//! # Hardware behaviour reproduced
//!
//! Besides the special-operand tables of the SDM, these were found on the host and are
//! modelled (all covered by the tests):
//!
//! * |x| < 2^-68: FSIN/FPTAN return x and FCOS returns 1, unrounded, with PE (and UE for a
//!   denormal x) but C1 = 0, in every rounding mode.
//! * FPTAN whose reduced argument r has |r| < 2^-33: the hardware's tan r is a hair below
//!   |r| (exactly r for a power of two); −1/tan r in odd quadrants likewise a hair above.
//! * FPATAN with x > 0 and y/x < 2^-40: returns the correctly rounded quotient y/x.
//! * F2XM1 with |x| > 1 and FYL2XP1 with x ≤ −1 (outside Intel's domains) return x with PE.
//! * FYL2X with x = 2^k reports PE; for k < 0 its log2 is a hair smaller than |k|.
//! * FYL2X/FYL2XP1 compute log2 as if truncated to 67 bits before multiplying by y; F2XM1
//!   and FPATAN results carry a bias of about −7·2^-70 and −2^-70 (relative, toward zero).
//! * FPTAN pushes the NaN (not 1.0) for a NaN or invalid operand; FSINCOS reports C1 of the
//!   cosine.
//!
//! # Accuracy against the host x87
//!
//! Random edge-biased operands (see the tests), all RC and OE/UE mask combinations, ~1.6–2.4
//! million cases per instruction (`FLOAT80_STRESS=300`, release):
//!
//! | instruction | value and flags bit-exact | same value, only C1 (or UE at 2^-16382) differs | one ulp off | worse |
//! | --- | --- | --- | --- | --- |
//! | FSIN | 99.34% | 0.14% | 0.52% | 0 |
//! | FCOS | 99.41% | 0.13% | 0.46% | 0 |
//! | FSINCOS (both results) | 98.94% | 0.12% | 0.94% | 0 |
//! | FPTAN | 96.50% | 0.70% | 2.80% | 0 |
//! | FPATAN | 99.00% | 0.15% | 0.85% | 0 |
//! | F2XM1 (−1 ≤ x ≤ 1) | 96.45% | 0.74% | 2.81% | 0 |
//! | FYL2X | 95.41% | 0.62% | 3.97% | 0 |
//! | FYL2XP1 | 97.69% | 0.25% | 2.06% | 0 |
//!
//! The residual differences are the hardware's own rounding errors: it is not correctly
//! rounded (our values are, up to the modelled quirks), so results whose exact value lies near
//! a rounding boundary can land on either side.

use super::arith::{div_finite, mul_finite};
use super::classify::{classify, Class, Unpacked, INDEFINITE};
use super::consts::{LN_TWO_128, LOG2_E_128, PI_128};
use super::convert::from_i64;
use super::misc::canonical;
use super::nan::{binary_special, check_denormal, unary_special};
use super::round::WRAP;
use super::wide::Wide;
use super::{F80Ext, FpEnv, FpFlags, BIAS, F80};

const LN2: Wide = Wide::constant((-1, LN_TWO_128.1));
const LOG2E: Wide = Wide::constant((0, LOG2_E_128.1));
const PI: Wide = Wide::constant((1, PI_128.1));

/// atan(j/16) for j = 1..=16, as (exponent, significand) of a [`Wide`].
const ATAN_J16: [(i32, u128); 16] = [
    (-5, 0xFFAADDB967EF4E36CB2792DC0E2E0D51),
    (-4, 0xFEADD4D5617B6E32C897989F3E888EF7),
    (-3, 0xBDCBDA5E72D811347B0B4F881C9C7487),
    (-3, 0xFADBAFC96406EB156DC79EF5F7A217E5),
    (-2, 0x9B13B9B83F5E5E69C5ABB498D27AF328),
    (-2, 0xB7B0CA0F26F784738AA32122DCFE4483),
    (-2, 0xD327761E611FE5B6427C95E9001E7136),
    (-2, 0xED63382B0DDA7B456FE445ECBC3A8D03),
    (-1, 0x832BF4A6D9867E2A4B6A09CB61A515C0),
    (-1, 0x8F005D5EF7F59F9B5C835E1665C43747),
    (-1, 0x9A2F80E671BDDA204226F8E2204FF3BC),
    (-1, 0xA4BC7D1934F7092419A87F2A457DAC9E),
    (-1, 0xAEAC4C38B4D8C08014725E2F3E52070A),
    (-1, 0xB8053E2BC2319E73CB2DA55210A4443D),
    (-1, 0xC0CE85B8AC52664089DD62C46E92FA24),
    (-1, 0xC90FDAA22168C234C4C6628B80DC1CD1),
];

/// Systematic error of the hardware's F2XM1 and FPATAN, in units of 2^-70 relative toward
/// zero, measured against a host x87 (see `Wide::round_biased`): reproducing it raises the
/// bit-exact share of F2XM1 from ~93% to ~97%. FSIN/FCOS/FPTAN show no such bias.
const BIAS_F2XM1: u32 = 7;
const BIAS_FPATAN: u32 = 1;

/// FYL2X/FYL2XP1 behave as if log2 were truncated to this many bits before the multiplication
/// by y (again measured: bit-exact share ~91% → ~95% for FYL2X, ~95% → ~97% for FYL2XP1).
const LOG2_BITS: u32 = 67;

/// FPATAN with 0 < y/x < 2^-TINY_ATAN returns y/x.
const TINY_ATAN: i32 = 40;

/// FSIN/FCOS/FPTAN with |x| < 2^-TINY_TRIG return x (or 1) unrounded.
const TINY_TRIG: i32 = 68;

/// FPTAN with |x| < 2^-SMALL_TAN (and not tiny) returns x nudged toward zero.
const SMALL_TAN: i32 = 33;

/// The x87's internal π with 66 significant bits, as π66 = PI66 / 2^64.
const PI66: u128 = 0x3_243F_6A88_85A3_08D3;

// ---------------------------------------------------------------------------------------------
// Kernels on Wide values.

/// e^t − 1 for |t| ≤ 0.75 (Taylor series, Horner form).
fn expm1_small(t: Wide) -> Wide {
    let mut acc = Wide::ONE;
    for n in (2..=36).rev() {
        acc = Wide::ONE.add(t.mul(acc).div_small(n));
    }
    t.mul(acc)
}

/// atanh(s) = s + s³/3 + s⁵/5 + … for |s| ≤ 0.18.
fn atanh_small(s: Wide) -> Wide {
    let s2 = s.mul(s);
    let mut acc = Wide::ONE.div_small(57);
    for k in (0..28).rev() {
        acc = Wide::ONE.div_small(2 * k + 1).add(s2.mul(acc));
    }
    s.mul(acc)
}

/// atan(u) = u − u³/3 + u⁵/5 − … for |u| ≤ 1/32.
fn atan_small(u: Wide) -> Wide {
    let u2 = u.mul(u);
    let mut acc = Wide::ONE.div_small(29);
    for k in (0..14).rev() {
        acc = Wide::ONE.div_small(2 * k + 1).sub(u2.mul(acc));
    }
    u.mul(acc)
}

/// atan(t) for 0 ≤ t ≤ 1: atan(t) = atan(j/16) + atan((t − j/16) / (1 + t·j/16)).
fn atan01(t: Wide) -> Wide {
    // j = round(16 t)
    let j = if t.is_zero() || t.exp < -5 {
        0
    } else {
        let fixed = t.sig >> (127 - 5 - t.exp); // t · 32
        (fixed.div_ceil(2) as usize).min(16)
    };
    if j == 0 {
        return atan_small(t);
    }
    let c = Wide::from_scaled(false, j as u128, -4);
    let u = t.sub(c).div(Wide::ONE.add(t.mul(c)));
    Wide::constant(ATAN_J16[j - 1]).add(atan_small(u))
}

/// ln(v) for v > 0: v = m·2^e with m in [√½, √2), ln m = 2·atanh((m − 1)/(m + 1)).
/// Returns (e, ln m) separately so that callers can avoid cancellation.
fn ln_parts(v: Wide) -> (i32, Wide) {
    let mut e = v.exp;
    let mut m = Wide {
        neg: false,
        exp: 0,
        sig: v.sig,
    };
    // √2 · 2^127 ≈ 0xB504F333F9DE6484...
    if m.sig > 0xB504_F333_F9DE_6484_597D_89B3_754A_BE9F {
        m = m.scale(-1);
        e += 1;
    }
    let s = m.sub(Wide::ONE).div(m.add(Wide::ONE));
    (e, atanh_small(s).scale(1))
}

/// log2(v) for v > 0.
fn log2_wide(v: Wide) -> Wide {
    let (e, ln_m) = ln_parts(v);
    Wide::from_i64(e as i64).add(ln_m.mul(LOG2E))
}

/// sin and cos of |r| ≤ ~0.8 (Taylor series).
fn sin_cos_small(r: Wide) -> (Wide, Wide) {
    let r2 = r.mul(r);
    let mut s = Wide::ONE;
    let mut c = Wide::ONE;
    for n in (1..=17u32).rev() {
        s = Wide::ONE.sub(r2.mul(s).div_small((2 * n) * (2 * n + 1)));
        c = Wide::ONE.sub(r2.mul(c).div_small((2 * n - 1) * (2 * n)));
    }
    (r.mul(s), c)
}

/// Reduce a finite nonzero |x| < 2^63: |x| = k·(π66/2) + r with |r| ≤ π66/4 (exactly).
/// Returns (k mod 4, r).
fn reduce(x: F80) -> (u32, Wide) {
    let u = Unpacked::normalized(x);
    let e = u.exp - BIAS;
    if e < -1 {
        return (0, Wide::from_f80(x.abs()));
    }
    // |x| / (π66/2) = sig · 2^(e+2) / PI66.
    let n = (u.sig as u128) << (e + 2);
    let mut k = n / PI66;
    let mut rem = n % PI66;
    let mut neg = false;
    if 2 * rem > PI66 {
        k += 1;
        rem = PI66 - rem;
        neg = true;
    }
    (k as u32 & 3, Wide::from_scaled(neg, rem, -65))
}

/// (sin x, cos x) in Wide precision for finite |x| < 2^63.
fn sin_cos_wide(x: F80) -> (Wide, Wide) {
    let (q, r) = reduce(x);
    let (s, c) = sin_cos_small(r);
    let (s, c) = match q {
        0 => (s, c),
        1 => (c, s.neg()),
        2 => (s.neg(), c.neg()),
        _ => (c.neg(), s),
    };
    (if x.sign() { s.neg() } else { s }, c)
}

// ---------------------------------------------------------------------------------------------
// Instructions.

/// F2XM1: 2^x − 1, defined by Intel for −1 ≤ x ≤ 1 (larger arguments are computed as the
/// mathematical function, which the hardware does not promise).
pub fn f2xm1(x: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = unary_special(x, flags) {
        return r;
    }
    match classify(x) {
        Class::Zero => return x,
        Class::Infinity => return if x.sign() { F80::one(true) } else { x },
        _ => {}
    }
    check_denormal(x, flags);
    let w = Wide::from_f80(x);
    if w.exp >= 0 {
        // PE is reported even for the exact cases.
        flags.raise(FpFlags::PE);
        if x.abs() == F80::one(false) {
            // 2^1 − 1 = 1 and 2^−1 − 1 = −½.
            return if x.sign() {
                F80::from_parts(true, (BIAS - 1) as u16, 1 << 63)
            } else {
                x
            };
        }
        // Outside the architectural domain the hardware returns the operand.
        return canonical(x);
    }
    expm1_small(w.mul(LN2)).round_biased(BIAS_F2XM1, env, flags)
}

/// FYL2X: y · log2(x) with x = ST(0), y = ST(1) (the result replaces ST(1), then pop).
pub fn fyl2x(x: F80, y: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = binary_special(x, y, flags) {
        return r;
    }
    let (cx, cy) = (classify(x), classify(y));
    let invalid = |flags: &mut FpFlags| {
        flags.raise(FpFlags::IE);
        INDEFINITE
    };
    if x.sign() && cx != Class::Zero {
        return invalid(flags);
    }
    let y_inf = cy == Class::Infinity;
    let y_zero = cy == Class::Zero;
    if cx == Class::Zero {
        if y_zero {
            return invalid(flags);
        }
        if !y_inf {
            // Like a division by zero, this takes precedence over DE.
            flags.raise(FpFlags::ZE);
        }
        return F80::infinity(!y.sign());
    }
    check_denormal(x, flags);
    check_denormal(y, flags);
    if cx == Class::Infinity {
        if y_zero {
            return invalid(flags);
        }
        return F80::infinity(y.sign());
    }
    // x finite positive.
    let u = Unpacked::normalized(x);
    let e = u.exp - BIAS;
    let exact_log = u.sig == 1 << 63; // x = 2^e
    if y_inf {
        if exact_log && e == 0 {
            return invalid(flags);
        }
        return F80::infinity(y.sign() ^ (e < 0));
    }
    if y_zero || (exact_log && e == 0) {
        return F80::zero(y.sign() ^ (e < 0));
    }
    if exact_log {
        // x = 2^e: the hardware reports PE even though y·e may be exact; for e < 0 its log2
        // comes out a hair smaller in magnitude than |e|, which shows under directed rounding.
        flags.raise(FpFlags::PE);
        if e > 0 {
            let p = mul_finite(y, from_i64(e as i64), 64, env.extended(), flags);
            if p.exp() == 0 {
                flags.raise(FpFlags::UE);
            }
            return p;
        }
        let p = Wide::from_f80(y).mul(Wide::from_i64(e as i64));
        return Wide {
            sig: p.sig - 1,
            ..p
        }
        .round(env, flags);
    }
    let l2 = log2_wide(Wide::from_f80(x)).truncate(LOG2_BITS);
    Wide::from_f80(y).mul(l2).round(env, flags)
}

/// FYL2XP1: y · log2(1 + x) with x = ST(0), y = ST(1); Intel defines it for
/// |x| < 1 − √2/2.
pub fn fyl2xp1(x: F80, y: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = binary_special(x, y, flags) {
        return r;
    }
    let (cx, cy) = (classify(x), classify(y));
    let invalid = |flags: &mut FpFlags| {
        flags.raise(FpFlags::IE);
        INDEFINITE
    };
    if x.sign() && cx == Class::Infinity {
        return invalid(flags);
    }
    check_denormal(x, flags);
    check_denormal(y, flags);
    if cx == Class::Zero {
        if cy == Class::Infinity {
            return invalid(flags);
        }
        return F80::zero(x.sign() ^ y.sign());
    }
    if cx == Class::Infinity {
        if cy == Class::Zero {
            return invalid(flags);
        }
        return F80::infinity(y.sign());
    }
    match cy {
        Class::Zero => return F80::zero(x.sign() ^ y.sign()),
        Class::Infinity => return F80::infinity(x.sign() ^ y.sign()),
        _ => {}
    }
    let wx = Wide::from_f80(x);
    if x.sign() && !wx.abs_lt(Wide::ONE) {
        // x ≤ −1 (outside the architectural domain): the hardware returns x.
        flags.raise(FpFlags::PE);
        return canonical(x);
    }
    let l2 = if wx.exp < -2 {
        // log2(1 + x) = 2·atanh(x / (2 + x)) · log2(e), no cancellation.
        let s = wx.div(Wide::from_i64(2).add(wx));
        atanh_small(s).scale(1).mul(LOG2E)
    } else {
        log2_wide(Wide::ONE.add(wx))
    };
    Wide::from_f80(y)
        .mul(l2.truncate(LOG2_BITS))
        .round(env, flags)
}

/// FPATAN: atan(y / x) in the quadrant of (x, y), with x = ST(0), y = ST(1) (the result
/// replaces ST(1), then pop).
pub fn fpatan(x: F80, y: F80, env: FpEnv, flags: &mut FpFlags) -> F80 {
    if let Some(r) = binary_special(x, y, flags) {
        return r;
    }
    check_denormal(x, flags);
    check_denormal(y, flags);
    let (cx, cy) = (classify(x), classify(y));
    let sign = y.sign();
    let signed = |w: Wide| if sign { w.neg() } else { w };
    let half_pi = PI.scale(-1);
    let r = match (cx, cy) {
        (_, Class::Zero) => {
            if x.sign() {
                signed(PI)
            } else {
                return F80::zero(sign);
            }
        }
        (Class::Infinity, Class::Infinity) => {
            let quarter = PI.scale(-2);
            signed(if x.sign() {
                quarter.mul(Wide::from_i64(3))
            } else {
                quarter
            })
        }
        (Class::Infinity, _) => {
            if x.sign() {
                signed(PI)
            } else {
                return F80::zero(sign);
            }
        }
        (_, Class::Infinity) | (Class::Zero, _) => signed(half_pi),
        _ => {
            let (ax, ay) = (Wide::from_f80(x).abs(), Wide::from_f80(y).abs());
            if !x.sign() && ay.exp - ax.exp < -TINY_ATAN {
                // Tiny ratio: the hardware delivers the rounded quotient y/x itself.
                let q = div_finite(y, x, 64, env.extended(), flags);
                flags.raise(FpFlags::PE);
                if q.exp() == 0 {
                    flags.raise(FpFlags::UE);
                }
                return q;
            }
            let a = if ay.abs_lt(ax) || ay == ax {
                let t = atan01(ay.div(ax));
                if x.sign() {
                    PI.sub(t)
                } else {
                    t
                }
            } else {
                let t = atan01(ax.div(ay));
                if x.sign() {
                    half_pi.add(t)
                } else {
                    half_pi.sub(t)
                }
            };
            signed(a)
        }
    };
    r.round_biased(BIAS_FPATAN, env, flags)
}

/// Common prologue of the trigonometric instructions: `Err(result)` for special operands,
/// `Ok(None)` for out-of-range, `Ok(Some(()))` to compute.
fn trig_special(x: F80, flags: &mut FpFlags) -> Result<Option<()>, F80> {
    if let Some(r) = unary_special(x, flags) {
        return Err(r);
    }
    match classify(x) {
        Class::Infinity => {
            flags.raise(FpFlags::IE);
            Err(INDEFINITE)
        }
        Class::Zero => Ok(Some(())),
        _ if x.exp() as i32 >= BIAS + 63 => Ok(None),
        _ => {
            check_denormal(x, flags);
            Ok(Some(()))
        }
    }
}

/// For |x| < 2^-68 the hardware skips the evaluation: sin x = tan x = x and cos x = 1, with
/// PE (and UE for a tiny x) but no rounding.
fn tiny_trig(x: F80, env: FpEnv, flags: &mut FpFlags) -> Option<F80> {
    if x.signif == 0 || (x.exp() as i32) >= BIAS - TINY_TRIG {
        return None;
    }
    flags.raise(FpFlags::PE);
    let r = canonical(x);
    if r.exp() == 0 {
        // A true denormal (a pseudo-denormal was just normalized) is an inexact tiny result.
        flags.raise(FpFlags::UE);
        if !env.masked(FpFlags::UE) {
            let u = Unpacked::normalized(x);
            return Some(F80::from_parts(x.sign(), (u.exp + WRAP) as u16, u.sig));
        }
    }
    Some(r)
}

/// FSIN. `None`: |x| ≥ 2^63, C2 = 1 and ST(0) unchanged (C2 = 0 otherwise).
pub fn fsin(x: F80, env: FpEnv, flags: &mut FpFlags) -> Option<F80> {
    match trig_special(x, flags) {
        Err(r) => Some(r),
        Ok(None) => None,
        Ok(Some(())) if x.signif == 0 => Some(x),
        Ok(Some(())) => {
            Some(tiny_trig(x, env, flags).unwrap_or_else(|| sin_cos_wide(x).0.round(env, flags)))
        }
    }
}

/// FCOS. `None`: |x| ≥ 2^63, C2 = 1 and ST(0) unchanged.
pub fn fcos(x: F80, env: FpEnv, flags: &mut FpFlags) -> Option<F80> {
    match trig_special(x, flags) {
        Err(r) => Some(r),
        Ok(None) => None,
        Ok(Some(())) if x.signif == 0 => Some(F80::one(false)),
        Ok(Some(())) => {
            if tiny_trig(x, env, &mut FpFlags::default()).is_some() {
                flags.raise(FpFlags::PE);
                return Some(F80::one(false));
            }
            Some(sin_cos_wide(x).1.round(env, flags))
        }
    }
}

/// FSINCOS: `(sin, cos)`; sin replaces ST(0), then cos is pushed (so cos ends in ST(0) and
/// sin in ST(1)). `None`: |x| ≥ 2^63, C2 = 1, nothing pushed.
pub fn fsincos(x: F80, env: FpEnv, flags: &mut FpFlags) -> Option<(F80, F80)> {
    match trig_special(x, flags) {
        Err(r) => Some((r, r)),
        Ok(None) => None,
        Ok(Some(())) if x.signif == 0 => Some((x, F80::one(false))),
        Ok(Some(())) => {
            if let Some(s) = tiny_trig(x, env, flags) {
                return Some((s, F80::one(false)));
            }
            let (s, c) = sin_cos_wide(x);
            let mut fs = FpFlags::default();
            let s = s.round(env, &mut fs);
            let c = c.round(env, flags);
            // C1 reports the cosine's rounding; the other flags accumulate.
            flags.raise(fs.0 & !FpFlags::C1);
            Some((s, c))
        }
    }
}

/// FPTAN: `(tan, 1.0)`; tan replaces ST(0), then 1.0 is pushed (for a NaN or invalid operand
/// the NaN is pushed instead of 1.0). `None`: |x| ≥ 2^63, C2 = 1, nothing pushed.
pub fn fptan(x: F80, env: FpEnv, flags: &mut FpFlags) -> Option<(F80, F80)> {
    let one = F80::one(false);
    match trig_special(x, flags) {
        // A NaN result is pushed in place of the 1.0 as well.
        Err(r) => Some((r, r)),
        Ok(None) => None,
        Ok(Some(())) if x.signif == 0 => Some((x, one)),
        Ok(Some(())) => {
            if let Some(t) = tiny_trig(x, env, flags) {
                return Some((t, one));
            }
            let (q, r) = reduce(x);
            if r.exp < -SMALL_TAN {
                // Here tan r = r + r³/3 is within half an ulp of r, but the hardware's value
                // comes out a hair *below* |r| (exactly r for a power of two), which shows in
                // C1 and under directed rounding; for odd quadrants its −1/tan r is then a
                // hair above 1/|r| in magnitude. Model that.
                let r = if x.sign() { r.neg() } else { r };
                let pow2 = r.sig << 1 == 0;
                let t = if q & 1 == 0 {
                    r
                } else {
                    Wide::ONE.div(r).neg()
                };
                if pow2 {
                    // Exact: r itself, or −1/r.
                    flags.raise(FpFlags::PE);
                    let mut scratch = FpFlags::default();
                    return Some((t.round_exact(env, &mut scratch), one));
                }
                let nudged = if q & 1 == 0 { t.sig - 1 } else { t.sig + 1 };
                return Some((Wide { sig: nudged, ..t }.round(env, flags), one));
            }
            let (s, c) = sin_cos_wide(x);
            Some((s.div(c).round(env, flags), one))
        }
    }
}
