//! Operand classification (x87 encodings, including the unsupported ones) and FXAM.

use super::F80;
use super::{CondCodes, F80Ext, EXP_MAX};

/// The class of an 80-bit encoding as the x87 arithmetic sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Exponent 0, significand 0.
    Zero,
    /// Exponent 0, integer bit clear, significand nonzero.
    Denormal,
    /// Exponent 0, integer bit set (never produced; accepted as an operand with DE).
    PseudoDenormal,
    /// Exponent 1..=0x7FFE, integer bit set.
    Normal,
    /// Exponent 0x7FFF, significand 0x8000_0000_0000_0000.
    Infinity,
    /// Exponent 0x7FFF, bits 63 and 62 set.
    QNaN,
    /// Exponent 0x7FFF, bit 63 set, bit 62 clear, nonzero fraction.
    SNaN,
    /// Pseudo-NaN, pseudo-infinity (exponent 0x7FFF, integer bit clear) and unnormal
    /// (exponent 1..=0x7FFE, integer bit clear). Arithmetic on these raises IE.
    Unsupported,
}

/// The QNaN floating-point indefinite (the default NaN): sign 1, exponent 0x7FFF,
/// significand 0xC000_0000_0000_0000.
pub const INDEFINITE: F80 = F80 {
    signif: 0xC000_0000_0000_0000,
    sign_exp: 0xFFFF,
};

/// Classify an encoding.
pub fn classify(x: F80) -> Class {
    let e = x.exp();
    let int = x.signif >> 63 != 0;
    match e {
        0 if x.signif == 0 => Class::Zero,
        0 if int => Class::PseudoDenormal,
        0 => Class::Denormal,
        EXP_MAX if !int => Class::Unsupported,
        EXP_MAX if x.signif << 1 == 0 => Class::Infinity,
        EXP_MAX if x.signif & (1 << 62) != 0 => Class::QNaN,
        EXP_MAX => Class::SNaN,
        _ if int => Class::Normal,
        _ => Class::Unsupported,
    }
}

/// True for QNaN and SNaN (not for pseudo-NaNs, which are unsupported).
pub fn is_nan(x: F80) -> bool {
    matches!(classify(x), Class::QNaN | Class::SNaN)
}

/// FXAM on a non-empty register: C1 = sign, C3/C2/C0 = class. (The "empty" class 101 is the
/// handler's business.) Pseudo-denormals report as denormal, unnormals and pseudo-NaN/∞ as
/// unsupported (000).
pub fn examine(x: F80) -> CondCodes {
    let (c3, c2, c0) = match classify(x) {
        Class::Unsupported => (false, false, false),
        Class::QNaN | Class::SNaN => (false, false, true),
        Class::Normal => (false, true, false),
        Class::Infinity => (false, true, true),
        Class::Zero => (true, false, false),
        Class::Denormal | Class::PseudoDenormal => (true, true, false),
    };
    CondCodes {
        c0,
        c1: x.sign(),
        c2,
        c3,
    }
}

/// A finite operand in unpacked form: value = (-1)^sign · sig · 2^(exp − 16383 − 63).
/// Denormals and pseudo-denormals get `exp = 1` (their effective exponent); `sig` is then
/// not necessarily normalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unpacked {
    pub sign: bool,
    pub exp: i32,
    pub sig: u64,
}

impl Unpacked {
    /// Unpack a zero, denormal, pseudo-denormal or normal value.
    pub fn of(x: F80) -> Unpacked {
        let e = x.exp() as i32;
        Unpacked {
            sign: x.sign(),
            exp: e.max(1),
            sig: x.signif,
        }
    }

    /// Unpack and shift the significand so bit 63 is set (exponent may drop below 1).
    /// Must not be called on zero.
    pub fn normalized(x: F80) -> Unpacked {
        let mut u = Unpacked::of(x);
        let s = u.sig.leading_zeros();
        u.sig <<= s;
        u.exp -= s as i32;
        u
    }
}
