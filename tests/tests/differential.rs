//! Differential tests: every unprivileged integer and x87 template, in 16- and 32-bit code,
//! run natively on the host CPU and in Ringside's interpreter from the same state.
//! `RINGSIDE_DIFF_SEEDS` raises the number of seeds per template (the benchmark-style job).
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use ringside_tests::emulated::EmulatedEngine;
use ringside_tests::native::{compare, generate, templates, CodeSize, ExecEngine, NativeEngine};

#[test]
fn integer_isa_matches_native_execution() {
    let seeds: u64 = std::env::var("RINGSIDE_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let mut native = NativeEngine::new().expect("native engine (modify_ldt)");
    let mut emu = EmulatedEngine;
    let mut failures = Vec::new();
    let mut cases = 0;
    // RINGSIDE_DIFF_FILTER narrows the run to templates whose name contains it.
    let filter = std::env::var("RINGSIDE_DIFF_FILTER").unwrap_or_default();
    for t in templates()
        .iter()
        .filter(|t| t.name.contains(filter.as_str()))
    {
        for size in [CodeSize::Bits16, CodeSize::Bits32] {
            for seed in 0..seeds {
                let case = generate(t, size, seed);
                cases += 1;
                let want = native.run(&case);
                let got = emu.run(&case);
                if let Err(m) = compare(&case, &want, &got) {
                    failures.push(format!("{} ({:?}, seed {seed}):\n{m}", t.name, size));
                }
            }
        }
    }
    let shown: Vec<_> = failures.iter().take(15).cloned().collect();
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ; first ones:\n{}",
        failures.len(),
        shown.join("\n\n")
    );
}
