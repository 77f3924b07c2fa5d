//! FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ.
//!
//! The x87 holds these constants with more than 64 significand bits and rounds them to 64 bits
//! per FCW.RC (precision control does not apply, no exception is raised and C1 is cleared).
//! Here each constant is stored with 128 significand bits and rounded the same way.

use super::round::round_up;
use super::{F80Ext, Rounding, F80};

/// The constants the x87 can load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Constant {
    /// FLD1: +1.0.
    One,
    /// FLDL2T: log2(10).
    Log2Ten,
    /// FLDL2E: log2(e).
    Log2E,
    /// FLDPI: π.
    Pi,
    /// FLDLG2: log10(2).
    Log10Two,
    /// FLDLN2: ln(2).
    LnTwo,
    /// FLDZ: +0.0.
    Zero,
}

/// (biased exponent, 128-bit significand) of the irrational constants.
pub(crate) const PI_128: (u16, u128) = (0x4000, 0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1);
pub(crate) const LOG2_TEN_128: (u16, u128) = (0x4000, 0xD49A_784B_CD1B_8AFE_492B_F6FF_4DAF_DB4C);
pub(crate) const LOG2_E_128: (u16, u128) = (0x3FFF, 0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E88);
pub(crate) const LOG10_TWO_128: (u16, u128) = (0x3FFD, 0x9A20_9A84_FBCF_F798_8F89_59AC_0B7C_9178);
pub(crate) const LN_TWO_128: (u16, u128) = (0x3FFE, 0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF);

/// The value FLDxx pushes under rounding control `rc`.
pub fn load_const(c: Constant, rc: Rounding) -> F80 {
    let (exp, sig) = match c {
        Constant::One => return F80::one(false),
        Constant::Zero => return F80::zero(false),
        Constant::Log2Ten => LOG2_TEN_128,
        Constant::Log2E => LOG2_E_128,
        Constant::Pi => PI_128,
        Constant::Log10Two => LOG10_TWO_128,
        Constant::LnTwo => LN_TWO_128,
    };
    let hi = (sig >> 64) as u64;
    let lo = sig & u64::MAX as u128;
    // All these constants have significands far from all-ones, so no carry out is possible.
    let up = round_up(lo, 1 << 63, hi & 1 != 0, false, rc);
    F80::from_parts(false, exp, hi + up as u64)
}
