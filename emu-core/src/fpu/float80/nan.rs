//! NaN propagation and the special-operand prologue shared by the arithmetic.

use super::classify::{classify, Class, INDEFINITE};
use super::{FpFlags, F80};

/// Set the quiet bit.
#[inline]
pub(crate) fn quiet(x: F80) -> F80 {
    F80 {
        signif: x.signif | (1 << 62),
        sign_exp: x.sign_exp,
    }
}

/// x87 rule for two NaN operands (either may be the only NaN): SNaN operands raise IE; a lone
/// NaN is returned quieted; an SNaN/QNaN pair gives the QNaN; two NaNs of the same kind give
/// the one with the larger significand (quieted), the positive one on a tie.
pub(crate) fn propagate2(a: F80, b: F80, flags: &mut FpFlags) -> F80 {
    let ca = classify(a);
    let cb = classify(b);
    if ca == Class::SNaN || cb == Class::SNaN {
        flags.raise(FpFlags::IE);
    }
    let a_nan = matches!(ca, Class::QNaN | Class::SNaN);
    let b_nan = matches!(cb, Class::QNaN | Class::SNaN);
    match (a_nan, b_nan) {
        (true, true) if ca != cb => {
            // One signaling, one quiet: the quiet one.
            if ca == Class::QNaN {
                a
            } else {
                b
            }
        }
        (true, true) => {
            if a.signif > b.signif {
                quiet(a)
            } else if b.signif > a.signif {
                quiet(b)
            } else if a.sign_exp <= b.sign_exp {
                quiet(a)
            } else {
                quiet(b)
            }
        }
        (true, false) => quiet(a),
        (false, true) => quiet(b),
        (false, false) => INDEFINITE,
    }
}

/// Prologue of a two-operand arithmetic instruction: unsupported encodings give IE and the
/// indefinite; NaNs propagate. Returns `None` when both operands are numbers (zero, denormal,
/// normal or infinity).
pub(crate) fn binary_special(a: F80, b: F80, flags: &mut FpFlags) -> Option<F80> {
    let ca = classify(a);
    let cb = classify(b);
    if ca == Class::Unsupported || cb == Class::Unsupported {
        flags.raise(FpFlags::IE);
        return Some(INDEFINITE);
    }
    let nan = |c| matches!(c, Class::QNaN | Class::SNaN);
    if nan(ca) || nan(cb) {
        return Some(propagate2(a, b, flags));
    }
    None
}

/// Prologue of a one-operand instruction.
pub(crate) fn unary_special(a: F80, flags: &mut FpFlags) -> Option<F80> {
    match classify(a) {
        Class::Unsupported => {
            flags.raise(FpFlags::IE);
            Some(INDEFINITE)
        }
        Class::SNaN => {
            flags.raise(FpFlags::IE);
            Some(quiet(a))
        }
        Class::QNaN => Some(a),
        _ => None,
    }
}

/// Raise DE if the operand is a denormal or pseudo-denormal.
#[inline]
pub(crate) fn check_denormal(x: F80, flags: &mut FpFlags) {
    if matches!(classify(x), Class::Denormal | Class::PseudoDenormal) {
        flags.raise(FpFlags::DE);
    }
}
