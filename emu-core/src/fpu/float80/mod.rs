//! Pure-Rust 80-bit extended-precision arithmetic with x87 semantics.
//!
//! This module is the math library behind the x87 instruction handlers. It never touches host
//! floating point: every result is computed with integer arithmetic (128-bit intermediates,
//! a 128-bit-significand software float for the transcendentals) and rounded the way an Intel
//! x87 does. The tests run every operation on the host's x87 as an oracle.
//!
//! # Conventions
//!
//! * Values are [`F80`] (explicit integer bit, bias 16383); [`F80Ext`] adds field accessors
//!   and constructors (`sign`, `exp`, `from_parts`, `negate`, ...).
//! * The caller passes an [`FpEnv`]: FCW.RC, FCW.PC and the exception masks, decoded by
//!   [`FpEnv::from_fcw`]. Nothing is global.
//! * Every operation takes `flags: &mut FpFlags` and ORs into it the exceptions it raises
//!   (IE, DE, ZE, OE, UE, PE, with FSW's bit numbering) and [`FpFlags::C1`] when the result
//!   was rounded up in magnitude (FSW.C1). Start each instruction with `FpFlags::default()`,
//!   OR `flags.exceptions()` into FSW and copy `flags.c1()` into FSW.C1 (stack faults, which
//!   also use C1, are the handler's business).
//! * Two-operand instructions take their operands in register order where the x87 fixes one:
//!   `rem`/`rem_ieee`/`scale`/`fyl2x`/`fyl2xp1`/`fpatan` take (ST(0), ST(1)). `sub(a, b)` is
//!   `a − b` and `div(a, b)` is `a / b`; the reversed forms swap the arguments.
//! * Returned values are the *masked* responses (QNaN indefinite, ∞, denormal, ...), with
//!   one exception: when OE or UE is *unmasked* in `env`, a register result is returned with
//!   its exponent wrapped by ∓24576, as the hardware delivers it before trapping, and UE is
//!   then reported for every tiny result, exact or not. When an unmasked IE, DE or ZE is
//!   raised the hardware leaves the destination alone; that decision belongs to the handler.
//! * Precision control applies only where the x87 applies it: `add`, `sub`, `mul`, `div`,
//!   `sqrt` (so FIADD & co. are `from_i32` + `add`). Everything else rounds to 64 bits.
//!
//! # API summary
//!
//! | module | items |
//! | --- | --- |
//! | this one | [`FpEnv`], [`Rounding`], [`Precision`], [`FpFlags`], [`CondCodes`], [`F80Ext`] |
//! | [`classify`](mod@classify) | [`classify()`], [`Class`], [`is_nan`], [`examine`] (FXAM), [`INDEFINITE`] |
//! | [`arith`] | [`add`], [`sub`], [`mul`], [`div`], [`sqrt`] |
//! | [`misc`] | [`rem`] (FPREM), [`rem_ieee`] (FPREM1) → [`RemResult`], [`round_to_int`] (FRNDINT), [`scale`] (FSCALE), [`xtract`] (FXTRACT), [`compare`] (FCOM/FCOMI), [`compare_unordered`] (FUCOM/FUCOMI), [`test()`] (FTST) → [`CompareResult`] |
//! | [`convert`] | [`from_f32_bits`], [`from_f64_bits`], [`to_f32_bits`], [`to_f64_bits`], [`from_i16`], [`from_i32`], [`from_i64`], [`to_i16`], [`to_i32`], [`to_i64`] (FIST or FISTTP per [`IntRounding`]), [`from_bcd`] (FBLD), [`to_bcd`] (FBSTP) |
//! | [`trans`] | [`f2xm1`], [`fyl2x`], [`fyl2xp1`], [`fsin`], [`fcos`], [`fsincos`], [`fptan`], [`fpatan`] |
//! | [`consts`] | [`load_const`] with [`Constant`] (FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ) |
//!
//! FLD/FST of an 80-bit memory operand are plain copies and need nothing from here.
//!
//! # Hardware details reproduced (all checked against a host x87)
//!
//! * Tininess is detected after rounding; the masked underflow flag needs an inexact result.
//! * NaNs: an SNaN is quieted (IE); of an SNaN and a QNaN the QNaN wins; of two NaNs of the
//!   same kind the larger significand wins (the positive one on a tie).
//! * Pseudo-denormals are accepted as operands (DE) and come out normalized; unnormals,
//!   pseudo-NaNs and pseudo-infinities give IE and the indefinite.
//! * FPREM/FPREM1 with an exponent difference D ≥ 64 do a partial reduction down to a
//!   difference of 32 + (D mod 32), with a truncated quotient (C2 = 1, Q bits 0); on special
//!   operands they leave C0/C3 alone ([`RemResult::apply_cc`]).
//! * FSCALE by ±0 returns the operand untouched; results beyond even the wrapped range give
//!   ∞/0 under unmasked OE/UE.
//! * Stores (FST m32/m64, FIST, FISTTP, FBSTP) never raise DE; with OE/UE unmasked FST to
//!   memory traps without writing (the returned bits are then meaningless).
//! * FCW.PC = 01 (reserved) acts as 64-bit precision.
//! * The transcendentals follow the hardware's quirks listed in [`trans`].
//!
//! # Accuracy
//!
//! Everything except the transcendentals is exact: correctly rounded per RC/PC and
//! bit-identical to the host x87, flags and condition codes included, on every tested case.
//! The transcendentals are computed to ~120 bits and rounded once; against the host they are
//! bit-identical (value and flags) in 95–99.5% of the tested cases depending on the
//! instruction and within one ulp in all of them — see [`trans`].

#![deny(unsafe_code)]

use super::state::F80;

pub mod arith;
pub mod classify;
pub mod consts;
pub mod convert;
pub mod misc;
mod nan;
mod round;
pub mod trans;
mod wide;

#[cfg(test)]
mod tests;

pub use arith::{add, div, mul, sqrt, sub};
pub use classify::{classify, examine, is_nan, Class, INDEFINITE};
pub use consts::{load_const, Constant};
pub use convert::{
    from_bcd, from_f32_bits, from_f64_bits, from_i16, from_i32, from_i64, to_bcd, to_f32_bits,
    to_f64_bits, to_i16, to_i32, to_i64, IntRounding, BCD_INDEFINITE,
};
pub use misc::{
    compare, compare_unordered, rem, rem_ieee, round_to_int, scale, test, xtract, CompareResult,
    RemResult,
};
pub use trans::{f2xm1, fcos, fpatan, fptan, fsin, fsincos, fyl2x, fyl2xp1};

/// FCW.RC: rounding control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// 00: round to nearest, ties to even.
    #[default]
    Nearest,
    /// 01: round down, toward −∞.
    Down,
    /// 10: round up, toward +∞.
    Up,
    /// 11: round toward zero (truncate).
    Zero,
}

/// FCW.PC: precision control (significand width of FADD/FSUB/FMUL/FDIV/FSQRT results).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 00: 24-bit significand.
    Single24,
    /// 10: 53-bit significand.
    Double53,
    /// 11: 64-bit significand.
    #[default]
    Extended64,
}

impl Precision {
    /// Significand bits kept.
    pub const fn bits(self) -> u32 {
        match self {
            Precision::Single24 => 24,
            Precision::Double53 => 53,
            Precision::Extended64 => 64,
        }
    }
}

/// The part of the FPU control word the arithmetic needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FpEnv {
    pub rounding: Rounding,
    pub precision: Precision,
    /// FCW bits 0..5 (1 = masked), laid out like [`FpFlags`]. Only the OE and UE masks change
    /// what this library returns (see the module documentation).
    pub masks: u8,
}

impl Default for FpEnv {
    /// The FNINIT state: round to nearest, 64-bit precision, all exceptions masked.
    fn default() -> Self {
        FpEnv {
            rounding: Rounding::Nearest,
            precision: Precision::Extended64,
            masks: 0x3F,
        }
    }
}

impl FpEnv {
    /// All exceptions masked, with the given rounding and precision.
    pub const fn new(rounding: Rounding, precision: Precision) -> Self {
        FpEnv {
            rounding,
            precision,
            masks: 0x3F,
        }
    }

    /// Decode an x87 control word. The reserved PC encoding 01 behaves as 64-bit precision on
    /// the hardware this was checked on (tested) and is treated the same way here.
    pub const fn from_fcw(fcw: u16) -> Self {
        let rounding = match (fcw >> 10) & 3 {
            0 => Rounding::Nearest,
            1 => Rounding::Down,
            2 => Rounding::Up,
            _ => Rounding::Zero,
        };
        let precision = match (fcw >> 8) & 3 {
            0 => Precision::Single24,
            2 => Precision::Double53,
            _ => Precision::Extended64,
        };
        FpEnv {
            rounding,
            precision,
            masks: (fcw & 0x3F) as u8,
        }
    }

    /// The same environment with 64-bit precision (for operations that ignore FCW.PC).
    pub(crate) const fn extended(self) -> Self {
        FpEnv {
            rounding: self.rounding,
            precision: Precision::Extended64,
            masks: self.masks,
        }
    }

    #[inline]
    pub(crate) const fn masked(self, bit: u8) -> bool {
        self.masks & bit != 0
    }
}

/// Exception flags (FSW bit numbering) plus the C1 "rounded up" indication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FpFlags(pub u8);

impl FpFlags {
    /// Invalid operation.
    pub const IE: u8 = 0x01;
    /// Denormal operand.
    pub const DE: u8 = 0x02;
    /// Zero divide.
    pub const ZE: u8 = 0x04;
    /// Overflow.
    pub const OE: u8 = 0x08;
    /// Underflow.
    pub const UE: u8 = 0x10;
    /// Precision (inexact).
    pub const PE: u8 = 0x20;
    /// Not an exception: the result was rounded up in magnitude (goes to FSW.C1).
    pub const C1: u8 = 0x80;

    /// The exception bits (0..5), positioned as in FSW.
    #[inline]
    pub const fn exceptions(self) -> u16 {
        (self.0 & 0x3F) as u16
    }

    /// FSW.C1 after the instruction (when no stack fault occurred).
    #[inline]
    pub const fn c1(self) -> bool {
        self.0 & Self::C1 != 0
    }

    #[inline]
    pub const fn contains(self, bits: u8) -> bool {
        self.0 & bits == bits
    }

    #[inline]
    pub fn raise(&mut self, bits: u8) {
        self.0 |= bits;
    }
}

/// Exponent bias of the 80-bit format.
pub const BIAS: i32 = 16383;
/// Maximum biased exponent (infinities and NaNs).
pub const EXP_MAX: u16 = 0x7FFF;

/// Field accessors and constructors for [`F80`] (a trait so that `state.rs` stays untouched).
pub trait F80Ext: Sized {
    /// Build from sign, biased exponent (15 bits) and significand.
    fn from_parts(sign: bool, exp: u16, signif: u64) -> Self;
    /// The sign bit.
    fn sign(self) -> bool;
    /// The biased exponent (0..=0x7FFF).
    fn exp(self) -> u16;
    /// Flip the sign (FCHS).
    fn negate(self) -> Self;
    /// Clear the sign (FABS).
    fn abs(self) -> Self;
    /// ±0.
    fn zero(sign: bool) -> Self;
    /// ±∞.
    fn infinity(sign: bool) -> Self;
    /// ±1.0.
    fn one(sign: bool) -> Self;
}

impl F80Ext for F80 {
    #[inline]
    fn from_parts(sign: bool, exp: u16, signif: u64) -> F80 {
        F80 {
            signif,
            sign_exp: ((sign as u16) << 15) | (exp & 0x7FFF),
        }
    }
    #[inline]
    fn sign(self) -> bool {
        self.sign_exp & 0x8000 != 0
    }
    #[inline]
    fn exp(self) -> u16 {
        self.sign_exp & 0x7FFF
    }
    #[inline]
    fn negate(self) -> F80 {
        F80 {
            signif: self.signif,
            sign_exp: self.sign_exp ^ 0x8000,
        }
    }
    #[inline]
    fn abs(self) -> F80 {
        F80 {
            signif: self.signif,
            sign_exp: self.sign_exp & 0x7FFF,
        }
    }
    #[inline]
    fn zero(sign: bool) -> F80 {
        F80::from_parts(sign, 0, 0)
    }
    #[inline]
    fn infinity(sign: bool) -> F80 {
        F80::from_parts(sign, EXP_MAX, 1 << 63)
    }
    #[inline]
    fn one(sign: bool) -> F80 {
        F80::from_parts(sign, BIAS as u16, 1 << 63)
    }
}

/// FSW condition-code bits produced by FXAM, FPREM/FPREM1 and the compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CondCodes {
    pub c0: bool,
    pub c1: bool,
    pub c2: bool,
    pub c3: bool,
}

impl CondCodes {
    /// FSW mask of the four condition-code bits.
    pub const FSW_MASK: u16 = 0x4700;

    /// The bits positioned as in FSW (C0 = bit 8, C1 = 9, C2 = 10, C3 = 14).
    pub const fn fsw_bits(self) -> u16 {
        ((self.c0 as u16) << 8)
            | ((self.c1 as u16) << 9)
            | ((self.c2 as u16) << 10)
            | ((self.c3 as u16) << 14)
    }

    /// Decode from a status word.
    pub const fn from_fsw(fsw: u16) -> Self {
        CondCodes {
            c0: fsw & 0x100 != 0,
            c1: fsw & 0x200 != 0,
            c2: fsw & 0x400 != 0,
            c3: fsw & 0x4000 != 0,
        }
    }
}
