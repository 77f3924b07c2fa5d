//! A 128-bit-significand software float used as the working precision of the
//! transcendentals. Every operation truncates, so each contributes at most a couple of units of
//! 2^-127 relative error; the algorithms in `trans` avoid cancellation, keeping final errors
//! around 2^-120, far below the 2^-64 needed to round correctly almost always.

use super::classify::Unpacked;
use super::round::round_pack;
use super::{FpEnv, FpFlags, BIAS, F80};

/// value = (−1)^neg · (sig / 2^127) · 2^exp, with bit 127 of `sig` set (or `sig == 0` for zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wide {
    pub neg: bool,
    pub exp: i32,
    pub sig: u128,
}

impl Wide {
    pub const ZERO: Wide = Wide {
        neg: false,
        exp: 0,
        sig: 0,
    };
    pub const ONE: Wide = Wide {
        neg: false,
        exp: 0,
        sig: 1 << 127,
    };

    /// A constant given as (exponent, normalized significand).
    pub const fn constant(c: (i32, u128)) -> Wide {
        Wide {
            neg: false,
            exp: c.0,
            sig: c.1,
        }
    }

    /// An exact finite F80 (zero, denormal or normal).
    pub fn from_f80(x: F80) -> Wide {
        if x.signif == 0 {
            return Wide::ZERO;
        }
        let u = Unpacked::normalized(x);
        Wide {
            neg: u.sign,
            exp: u.exp - BIAS,
            sig: (u.sig as u128) << 64,
        }
    }

    /// The exact value n · 2^scale.
    pub fn from_scaled(neg: bool, n: u128, scale: i32) -> Wide {
        if n == 0 {
            return Wide::ZERO;
        }
        let lz = n.leading_zeros();
        Wide {
            neg,
            exp: scale + 127 - lz as i32,
            sig: n << lz,
        }
    }

    pub fn from_i64(v: i64) -> Wide {
        Wide::from_scaled(v < 0, v.unsigned_abs() as u128, 0)
    }

    pub fn is_zero(self) -> bool {
        self.sig == 0
    }

    pub fn neg(self) -> Wide {
        Wide {
            neg: !self.neg,
            ..self
        }
    }

    pub fn abs(self) -> Wide {
        Wide { neg: false, ..self }
    }

    /// Multiply by 2^k (exact).
    pub fn scale(self, k: i32) -> Wide {
        if self.is_zero() {
            self
        } else {
            Wide {
                exp: self.exp + k,
                ..self
            }
        }
    }

    fn normalize(neg: bool, exp: i32, sig: u128) -> Wide {
        if sig == 0 {
            return Wide::ZERO;
        }
        let lz = sig.leading_zeros();
        Wide {
            neg,
            exp: exp - lz as i32,
            sig: sig << lz,
        }
    }

    pub fn mul(self, o: Wide) -> Wide {
        if self.is_zero() || o.is_zero() {
            return Wide::ZERO;
        }
        const M: u128 = u64::MAX as u128;
        let (a1, a0) = (self.sig >> 64, self.sig & M);
        let (b1, b0) = (o.sig >> 64, o.sig & M);
        let p00 = a0 * b0;
        let p01 = a0 * b1;
        let p10 = a1 * b0;
        let p11 = a1 * b1;
        let mid = (p00 >> 64) + (p01 & M) + (p10 & M);
        let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        let lo_top = (mid & M) >> 63; // the bit just below `hi`
        let neg = self.neg ^ o.neg;
        if hi >> 127 != 0 {
            Wide {
                neg,
                exp: self.exp + o.exp + 1,
                sig: hi,
            }
        } else {
            Wide {
                neg,
                exp: self.exp + o.exp,
                sig: (hi << 1) | lo_top,
            }
        }
    }

    pub fn add(self, o: Wide) -> Wide {
        if self.is_zero() {
            return o;
        }
        if o.is_zero() {
            return self;
        }
        let (x, y) = if (self.exp, self.sig) >= (o.exp, o.sig) {
            (self, o)
        } else {
            (o, self)
        };
        let d = (x.exp - y.exp) as u32 + 1;
        let xs = x.sig >> 1;
        // Jam whatever is shifted out into the last bit, so that a correction far below the
        // precision still moves the result in the right direction (this keeps e.g.
        // sin(x) = x − x³/6 just below x for tiny x, which directed rounding needs).
        let ys = if d >= 128 {
            1
        } else {
            (y.sig >> d) | ((y.sig << (128 - d) != 0) as u128)
        };
        if x.neg == y.neg {
            Wide::normalize(x.neg, x.exp + 1, xs + ys)
        } else {
            Wide::normalize(x.neg, x.exp + 1, xs - ys)
        }
    }

    pub fn sub(self, o: Wide) -> Wide {
        self.add(o.neg())
    }

    pub fn div(self, o: Wide) -> Wide {
        debug_assert!(!o.is_zero());
        if self.is_zero() {
            return Wide::ZERO;
        }
        let d = o.sig;
        let mut r = self.sig;
        let mut exp = self.exp - o.exp;
        let mut hi = false;
        if r < d {
            hi = r >> 127 != 0;
            r <<= 1;
            exp -= 1;
        }
        let mut q: u128 = 0;
        for _ in 0..128 {
            q <<= 1;
            if hi || r >= d {
                r = r.wrapping_sub(d);
                q |= 1;
            }
            hi = r >> 127 != 0;
            r <<= 1;
        }
        Wide {
            neg: self.neg ^ o.neg,
            exp,
            sig: q,
        }
    }

    /// Divide by a small positive integer.
    pub fn div_small(self, n: u32) -> Wide {
        if self.is_zero() {
            return self;
        }
        let n = n as u128;
        let q = self.sig / n;
        let r = self.sig % n;
        let lz = q.leading_zeros();
        let sig = (q << lz) | ((r << lz) / n);
        Wide {
            neg: self.neg,
            exp: self.exp - lz as i32,
            sig,
        }
    }

    /// Round to an F80 with 64-bit precision. The value is taken to be inexact (the true
    /// result is transcendental), so PE is always raised.
    pub fn round(self, env: FpEnv, flags: &mut FpFlags) -> F80 {
        round_pack(
            self.neg,
            self.exp + BIAS,
            self.sig,
            true,
            64,
            env.extended(),
            flags,
        )
    }

    /// Shrink the magnitude by `k`·2^-70 (relative) and round. The hardware's F2XM1, FYL2X,
    /// FYL2XP1 and FPATAN results carry a small systematic bias toward zero (internal
    /// truncation); reproducing it makes many more results bit-identical.
    pub fn round_biased(self, k: u32, env: FpEnv, flags: &mut FpFlags) -> F80 {
        self.shrink(k).round(env, flags)
    }

    /// The value truncated (toward zero) to `bits` significant bits.
    pub fn truncate(self, bits: u32) -> Wide {
        Wide {
            sig: self.sig & !((1u128 << (128 - bits)) - 1),
            ..self
        }
    }

    /// The value with its magnitude reduced by `k`·2^-70 (relative).
    pub fn shrink(self, k: u32) -> Wide {
        if self.is_zero() || k == 0 {
            return self;
        }
        let d = Wide {
            neg: !self.neg,
            exp: self.exp - 70,
            sig: self.sig,
        };
        self.add(d.mul(Wide::from_i64(k as i64)))
    }

    /// Round a value known to be exact (no sticky bits below `sig`).
    pub fn round_exact(self, env: FpEnv, flags: &mut FpFlags) -> F80 {
        round_pack(
            self.neg,
            self.exp + BIAS,
            self.sig,
            false,
            64,
            env.extended(),
            flags,
        )
    }

    /// Compare magnitudes.
    pub fn abs_lt(self, o: Wide) -> bool {
        if self.is_zero() || o.is_zero() {
            return self.is_zero() && !o.is_zero();
        }
        (self.exp, self.sig) < (o.exp, o.sig)
    }
}
