//! Deterministic operand generation biased toward x87 edge cases.

use super::super::{F80Ext, FpEnv, F80};

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    pub fn bool(&mut self) -> bool {
        self.next() & 1 != 0
    }

    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// A 64-bit significand pattern (integer bit not forced), biased to rounding-sensitive shapes.
pub fn sig_pattern(r: &mut Rng) -> u64 {
    let x = r.next();
    match r.below(14) {
        0 => u64::MAX,
        1 => 1 << 63,
        2 => (1 << 63) | 1,
        3 => u64::MAX - 1,
        // Exactly halfway / just around halfway for 24, 53 and 64 bits.
        4 => (x & !0xFF_FFFF_FFFF) | (1 << 39),
        5 => (x & !0x7FF) | (1 << 10),
        6 => (x & !0xFF_FFFF_FFFF) | (1 << 39) | (r.below(2) << r.below(39)),
        7 => (x & !0x7FF) | 0x3FF | (r.below(2) << 10),
        8 => x & !0xFF_FFFF_FFFF,
        9 => x & !0x7FF,
        10 => x | 0xFF_FFFF_FFFF,
        // Sparse bits.
        11 => (1 << 63) | (1 << r.below(63)) | (1 << r.below(63)),
        _ => x,
    }
}

/// A random operand of any class, biased to edge cases.
pub fn operand(r: &mut Rng) -> F80 {
    let s = r.bool();
    let sig = sig_pattern(r);
    match r.below(24) {
        0 => F80::zero(s),
        1 | 2 => {
            let d = (sig >> 1) >> r.below(63);
            F80::from_parts(s, 0, d.max(1))
        }
        3 => F80::from_parts(s, 0, sig | (1 << 63)),
        4 | 5 => F80::from_parts(s, r.range(1, 4) as u16, sig | (1 << 63)),
        6 | 7 => F80::from_parts(s, r.range(0x7FFB, 0x7FFE) as u16, sig | (1 << 63)),
        8 => F80::infinity(s),
        9 => F80::from_parts(s, 0x7FFF, sig | (3 << 62)),
        10 => {
            let m = (sig & !(1 << 62)) | (1 << 63);
            F80::from_parts(s, 0x7FFF, if m << 1 == 0 { m | 1 } else { m })
        }
        11 => {
            // Unsupported: unnormal, pseudo-infinity, pseudo-NaN.
            match r.below(3) {
                0 => F80::from_parts(s, r.range(1, 0x7FFE) as u16, sig >> 1),
                1 => F80::from_parts(s, 0x7FFF, 0),
                _ => F80::from_parts(s, 0x7FFF, (sig >> 1).max(1)),
            }
        }
        12..=17 => F80::from_parts(s, r.range(16383 - 70, 16383 + 70) as u16, sig | (1 << 63)),
        _ => F80::from_parts(s, r.range(1, 0x7FFE) as u16, sig | (1 << 63)),
    }
}

/// A normal or denormal finite operand (no specials), biased to edge cases.
pub fn finite(r: &mut Rng) -> F80 {
    loop {
        let x = operand(r);
        if x.exp() != 0x7FFF && (x.exp() == 0 || x.signif >> 63 != 0) {
            return x;
        }
    }
}

/// A second operand correlated with `a` (close exponents, cancellation, equal magnitudes).
pub fn related(r: &mut Rng, a: F80) -> F80 {
    let s = r.bool();
    let e = a.exp() as i64;
    let clamp = |e: i64| e.clamp(0, 0x7FFE) as u16;
    let sig = sig_pattern(r) | (1 << 63);
    match r.below(12) {
        0 => a,
        1 => a.negate(),
        2 => F80::from_parts(s, clamp(e), sig),
        3 => F80::from_parts(s, clamp(e + r.range(-3, 3)), sig),
        4 => F80::from_parts(s, clamp(e + r.range(-70, 70)), sig),
        5 => F80 {
            signif: a.signif.wrapping_add(r.range(-2, 2) as u64),
            sign_exp: a.sign_exp ^ ((s as u16) << 15),
        },
        6 => F80::from_parts(s, clamp(e + r.range(-16400, 16400)), sig),
        7 => F80::from_parts(s, clamp(0x7FFE - e + r.range(-66, 66)), sig),
        8 => F80::from_parts(s, clamp(2 * 16383 - e + r.range(-3, 3)), sig),
        _ => operand(r),
    }
}

/// One of the twelve RC × PC combinations, plus masks (all masked unless `unmask` allows
/// leaving OE/UE unmasked). Bits 16..32 of the returned word are condition codes to preset in
/// FSW (random) for the register-form host helpers.
pub fn env_cw(r: &mut Rng, unmask: bool) -> (FpEnv, u32) {
    let rc = r.below(4) as u16;
    let pc = [0u16, 2, 3][r.below(3) as usize];
    let mut masks = 0x3Fu16;
    if unmask && r.below(4) == 0 {
        masks &= !(0x18 & r.next() as u16);
    }
    let cw = 0x0040 | (rc << 10) | (pc << 8) | masks;
    let pre = (r.next() as u32 & 0x4700) << 16;
    (FpEnv::from_fcw(cw), cw as u32 | pre)
}
