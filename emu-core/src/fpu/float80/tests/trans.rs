//! Transcendentals against the host: bit-exact on most cases, within one ulp on all.

use super::super::{
    classify, f2xm1, fcos, fpatan, fptan, fsin, fsincos, fyl2x, fyl2xp1, Class, F80Ext, FpEnv,
    FpFlags, F80,
};
use super::gen::{env_cw, finite, operand, sig_pattern, Rng};
use super::host::{self, Host};
use super::{fx, SW_FLAGS_C1};

/// Position of a value on the ordered line of 80-bit encodings (None for NaN/unsupported).
fn key(x: F80) -> Option<i128> {
    match classify(x) {
        Class::QNaN | Class::SNaN | Class::Unsupported => None,
        _ => {
            let k = ((x.exp() as i128) << 63) + (x.signif & !(1 << 63)) as i128;
            Some(if x.sign() { -k } else { k })
        }
    }
}

/// Distance in ulps (u64::MAX when not comparable). ±0 are the same point.
fn ulps(a: F80, b: F80) -> u64 {
    if a == b {
        return 0;
    }
    match (key(a), key(b)) {
        (Some(x), Some(y)) => (x - y).unsigned_abs().min(u64::MAX as u128) as u64,
        _ => u64::MAX,
    }
}

#[derive(Default)]
struct Stats {
    n: usize,
    exact: usize,
    c1_only: usize,
    one_ulp: usize,
    bad: Vec<String>,
    bad_count: usize,
}

impl Stats {
    /// Record one comparison of results (several values may be produced) and status words.
    fn record(
        &mut self,
        what: impl Fn() -> String,
        got: &[F80],
        want: &[F80],
        got_sw: u16,
        want_sw: u16,
    ) {
        self.n += 1;
        let worst = got
            .iter()
            .zip(want)
            .map(|(&g, &w)| ulps(g, w))
            .max()
            .unwrap_or(0);
        // UE may legitimately differ for results at the underflow threshold (the host's own
        // error decides on which side of 2^-16382 its unrounded value falls).
        let at_threshold = got.iter().chain(want).any(|x| x.exp() <= 1);
        let benign = if at_threshold {
            0x0200 | 0x0010
        } else {
            0x0200
        };
        let ok = match worst {
            // Bit-exact values: the flags must match too, C1 included for "exact"; a C1
            // difference alone is counted separately (it happens when the true result lies
            // within the host's own error of a representable number).
            0 if got_sw == want_sw => {
                self.exact += 1;
                true
            }
            0 if (got_sw ^ want_sw) & !benign == 0 => {
                self.c1_only += 1;
                true
            }
            // One ulp apart: the host's error straddles a rounding boundary.
            1 if (got_sw ^ want_sw) & !benign == 0 => {
                self.one_ulp += 1;
                true
            }
            _ => false,
        };
        if !ok {
            self.bad_count += 1;
            if self.bad.len() < 25 {
                let g: Vec<_> = got.iter().map(|&x| fx(x)).collect();
                let w: Vec<_> = want.iter().map(|&x| fx(x)).collect();
                self.bad.push(format!(
                    "{}: got {g:?} sw {got_sw:04x}, host {w:?} sw {want_sw:04x}",
                    what()
                ));
            }
        }
    }

    fn finish(self, name: &str) {
        let pct = |k: usize| 100.0 * k as f64 / self.n.max(1) as f64;
        println!(
            "{name}: {} cases, {:.2}% bit-exact (value and flags), {:.2}% same value but C1 (or UE at the underflow threshold) differs, {:.2}% one ulp, {} worse",
            self.n,
            pct(self.exact),
            pct(self.c1_only),
            pct(self.one_ulp),
            self.bad_count
        );
        assert!(
            self.bad.is_empty(),
            "{name}: {} bad cases, first:\n{}",
            self.bad_count,
            self.bad.join("\n")
        );
    }
}

fn sw_of(f: FpFlags) -> u16 {
    f.exceptions() | ((f.c1() as u16) << 9)
}

fn n_cases(n: usize) -> usize {
    n * super::stress()
}

/// A value in [−1, 1] (mostly), biased to small magnitudes and the ends.
fn unit_arg(r: &mut Rng) -> F80 {
    match r.below(10) {
        0 => operand(r),
        1 => F80::from_parts(r.bool(), 16383, (1 << 63) | (r.below(4) << r.below(3))),
        2 => F80::from_parts(r.bool(), 16382, u64::MAX - r.below(4)),
        3 => F80::from_parts(
            r.bool(),
            r.range(1, 16383 - 1) as u16,
            sig_pattern(r) | 1 << 63,
        ),
        _ => F80::from_parts(
            r.bool(),
            r.range(16383 - 70, 16383 - 1) as u16,
            sig_pattern(r) | 1 << 63,
        ),
    }
}

fn unary_test(
    name: &str,
    seed: u64,
    n: usize,
    gen: fn(&mut Rng) -> F80,
    ours: fn(F80, FpEnv, &mut FpFlags) -> F80,
    theirs: fn(F80, F80, u32) -> Host,
) {
    let mut r = Rng::new(seed);
    let mut st = Stats::default();
    for _ in 0..n_cases(n) {
        let x = gen(&mut r);
        let (env, cw) = env_cw(&mut r, true);
        let h = theirs(x, x, cw);
        let mut f = FpFlags::default();
        let got = ours(x, env, &mut f);
        st.record(
            || format!("{name}({}) cw={cw:08x}", fx(x)),
            &[got],
            &[h.st0],
            sw_of(f),
            h.sw & SW_FLAGS_C1,
        );
    }
    st.finish(name);
}

#[test]
fn f2xm1_vs_host() {
    unary_test("f2xm1", 60, 6000, unit_arg, f2xm1, host::f2xm1);
}

/// Positive arguments for logarithms: anything, near 1, powers of two.
fn log_arg(r: &mut Rng) -> F80 {
    match r.below(8) {
        0 => operand(r),
        1 => F80::from_parts(false, 16383, (1 << 63) | (r.next() >> r.range(1, 63))),
        2 => F80::from_parts(false, 16382, u64::MAX - (r.next() >> r.range(1, 63))),
        3 => F80::from_parts(false, r.range(0, 0x7FFE) as u16, 1 << 63),
        _ => finite(r).abs(),
    }
}

fn binary_test(
    name: &str,
    seed: u64,
    n: usize,
    gen: fn(&mut Rng) -> (F80, F80),
    ours: fn(F80, F80, FpEnv, &mut FpFlags) -> F80,
    theirs: fn(F80, F80, u32) -> Host,
) {
    let mut r = Rng::new(seed);
    let mut st = Stats::default();
    for _ in 0..n_cases(n) {
        let (x, y) = gen(&mut r);
        let (env, cw) = env_cw(&mut r, true);
        let h = theirs(x, y, cw);
        let mut f = FpFlags::default();
        let got = ours(x, y, env, &mut f);
        st.record(
            || format!("{name}({}, {}) cw={cw:08x}", fx(x), fx(y)),
            &[got],
            &[h.st0],
            sw_of(f),
            h.sw & SW_FLAGS_C1,
        );
    }
    st.finish(name);
}

fn y_arg(r: &mut Rng) -> F80 {
    match r.below(4) {
        0 => operand(r),
        1 => F80::one(r.bool()),
        _ => F80::from_parts(
            r.bool(),
            r.range(16383 - 20, 16383 + 20) as u16,
            sig_pattern(r) | 1 << 63,
        ),
    }
}

#[test]
fn fyl2x_vs_host() {
    binary_test(
        "fyl2x",
        61,
        8000,
        |r| (log_arg(r), y_arg(r)),
        fyl2x,
        host::fyl2x,
    );
}

#[test]
fn fyl2xp1_vs_host() {
    let gen = |r: &mut Rng| {
        let x = match r.below(6) {
            0 => operand(r),
            1 => F80::from_parts(
                r.bool(),
                16381,
                sig_pattern(r) & 0x9400_0000_0000_0000 | 1 << 63,
            ),
            _ => F80::from_parts(r.bool(), r.range(1, 16381) as u16, sig_pattern(r) | 1 << 63),
        };
        (x, y_arg(r))
    };
    binary_test("fyl2xp1", 62, 8000, gen, fyl2xp1, host::fyl2xp1);
}

#[test]
fn fpatan_vs_host() {
    let gen = |r: &mut Rng| {
        let x = if r.below(4) == 0 {
            operand(r)
        } else {
            y_arg(r)
        };
        let y = match r.below(4) {
            0 => operand(r),
            1 => F80 {
                signif: x.signif,
                sign_exp: x.sign_exp ^ ((r.bool() as u16) << 15),
            },
            _ => F80::from_parts(
                r.bool(),
                (x.exp() as i64 + r.range(-70, 70)).clamp(0, 0x7FFE) as u16,
                sig_pattern(r) | 1 << 63,
            ),
        };
        (x, y)
    };
    binary_test("fpatan", 63, 8000, gen, fpatan, host::fpatan);
}

/// Trigonometric arguments: small, moderate, huge, out of range, and very close to multiples
/// of the x87's π/2.
fn trig_arg(r: &mut Rng) -> F80 {
    match r.below(8) {
        0 => operand(r),
        1 => F80::from_parts(
            r.bool(),
            r.range(16383 - 70, 16383 + 3) as u16,
            sig_pattern(r) | 1 << 63,
        ),
        2 => F80::from_parts(
            r.bool(),
            r.range(16383, 16383 + 64) as u16,
            sig_pattern(r) | 1 << 63,
        ),
        3 => F80::from_parts(
            r.bool(),
            r.range(1, 16383 - 70) as u16,
            sig_pattern(r) | 1 << 63,
        ),
        _ => {
            // k · π66/2 (truncated to 64 bits) nudged by a few ulps.
            let k = (r.next() >> r.range(2, 63)).max(1) as u128;
            let p = k * 0x3_243F_6A88_85A3_08D3u128; // k·π66/2 · 2^65
            let lz = p.leading_zeros();
            let sig = ((p << lz) >> 64) as u64;
            let exp = 16383 + 127 - lz as i64 - 65;
            let sig = sig.wrapping_add(r.range(-3, 3) as u64) | 1 << 63;
            F80::from_parts(r.bool(), exp as u16, sig)
        }
    }
}

#[test]
fn fsin_fcos_vs_host() {
    for (name, seed, ours, theirs) in [
        (
            "fsin",
            64u64,
            fsin as fn(F80, FpEnv, &mut FpFlags) -> Option<F80>,
            host::fsin as fn(F80, F80, u32) -> Host,
        ),
        ("fcos", 65, fcos, host::fcos),
    ] {
        let mut r = Rng::new(seed);
        let mut st = Stats::default();
        for _ in 0..n_cases(8000) {
            let x = trig_arg(&mut r);
            let (env, cw) = env_cw(&mut r, true);
            let h = theirs(x, x, cw);
            let mut f = FpFlags::default();
            let got = ours(x, env, &mut f);
            let got_sw = sw_of(f) | if got.is_none() { 0x0400 } else { 0 };
            st.record(
                || format!("{name}({}) cw={cw:08x}", fx(x)),
                &[got.unwrap_or(x)],
                &[h.st0],
                got_sw,
                h.sw & (SW_FLAGS_C1 | 0x0400),
            );
        }
        st.finish(name);
    }
}

#[test]
fn fsincos_fptan_vs_host() {
    for (name, seed, ours, theirs) in [
        (
            "fsincos",
            66u64,
            fsincos as fn(F80, FpEnv, &mut FpFlags) -> Option<(F80, F80)>,
            host::fsincos as fn(F80, F80, u32) -> Host,
        ),
        ("fptan", 67, fptan, host::fptan),
    ] {
        let mut r = Rng::new(seed);
        let mut st = Stats::default();
        for _ in 0..n_cases(8000) {
            let x = trig_arg(&mut r);
            let (env, cw) = env_cw(&mut r, true);
            // ST(1) starts as a marker so that "nothing pushed" shows.
            let marker = F80::from_parts(false, 0x1234, 1 << 63);
            let h = theirs(x, marker, cw);
            let mut f = FpFlags::default();
            let got = ours(x, env, &mut f);
            let got_sw = sw_of(f) | if got.is_none() { 0x0400 } else { 0 };
            let (g0, g1) = match got {
                Some((a, b)) => (b, a),
                None => (x, marker),
            };
            st.record(
                || format!("{name}({}) cw={cw:08x}", fx(x)),
                &[g0, g1],
                &[h.st0, h.st1],
                got_sw,
                h.sw & (SW_FLAGS_C1 | 0x0400),
            );
        }
        st.finish(name);
    }
}
