//! Tests. On x86-64 the host's own x87 is the oracle (see `host`): every operation is run on
//! thousands of seeded, edge-biased operands (see `gen`) under all RC/PC combinations and
//! compared bit for bit, status word included. `golden` holds known-answer vectors that run
//! on any architecture.
//!
//! `FLOAT80_STRESS=<n>` sets the multiplier of the random case counts (default 4).

mod golden;

#[cfg(target_arch = "x86_64")]
mod arith;
#[cfg(target_arch = "x86_64")]
mod consts;
#[cfg(target_arch = "x86_64")]
mod convert;
#[cfg(target_arch = "x86_64")]
mod gen;
#[cfg(target_arch = "x86_64")]
mod host;
#[cfg(target_arch = "x86_64")]
mod misc;
#[cfg(target_arch = "x86_64")]
mod trans;

#[cfg(target_arch = "x86_64")]
pub use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::F80;
    use super::gen;

    /// Format an 80-bit value as `sexp:signif`.
    pub fn fx(x: F80) -> String {
        format!("{:04x}:{:016x}", x.sign_exp, x.signif)
    }

    /// FSW bits compared for ordinary results: the six exception flags and C1.
    pub const SW_FLAGS_C1: u16 = 0x023F;
    /// The six exception flags plus all condition codes.
    pub const SW_FLAGS_CC: u16 = 0x473F;

    /// The case-count multiplier: `FLOAT80_STRESS` if set, else 4.
    pub fn stress() -> usize {
        std::env::var("FLOAT80_STRESS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4)
    }

    /// Run `n` cases; `case` returns `Some(description)` on a mismatch. Panics listing the
    /// first mismatches, if any.
    pub fn run(
        name: &str,
        seed: u64,
        n: usize,
        mut case: impl FnMut(&mut gen::Rng) -> Option<String>,
    ) {
        let n = n * stress();
        let mut rng = gen::Rng::new(seed);
        let mut bad = Vec::new();
        let mut count = 0;
        for _ in 0..n {
            if let Some(m) = case(&mut rng) {
                count += 1;
                if bad.len() < 25 {
                    bad.push(m);
                }
            }
        }
        if count != 0 {
            panic!("{name}: {count}/{n} mismatches, first:\n{}", bad.join("\n"));
        }
    }
}
