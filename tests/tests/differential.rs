//! Differential tests: every unprivileged integer and x87 template, in 16- and 32-bit code,
//! run natively on the host CPU and in Ringside under both CPU engines (the interpreter,
//! single-stepped, and the JIT, running whole blocks) from the same state.
//! `RINGSIDE_DIFF_SEEDS` raises the number of seeds per template (the benchmark-style job).
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use ringside_tests::emulated::{EmulatedEngine, EngineKind};
use ringside_tests::native::{compare, generate, templates, CodeSize, ExecEngine, NativeEngine};

/// The engines every case must match native execution under.
const ENGINES: [EngineKind; 2] = [EngineKind::Interp, EngineKind::Jit];

#[test]
fn integer_isa_matches_native_execution() {
    let seeds: u64 = std::env::var("RINGSIDE_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let mut native = NativeEngine::new().expect("native engine (modify_ldt)");
    let mut engines: Vec<EmulatedEngine> =
        ENGINES.iter().map(|&k| EmulatedEngine::new(k)).collect();
    // Runs a case the JIT got wrong through the interpreter's block loop too, to tell JIT
    // bugs from differences of running whole blocks.
    let mut blocks = EmulatedEngine::new(EngineKind::InterpBlocks);
    let mut failures = Vec::new();
    let mut failed_per_engine = vec![0usize; ENGINES.len()];
    let mut engines_disagree = 0;
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
                let mut outcomes = Vec::with_capacity(ENGINES.len());
                for (i, emu) in engines.iter_mut().enumerate() {
                    let got = emu.run(&case);
                    if let Err(m) = compare(&case, &want, &got) {
                        failed_per_engine[i] += 1;
                        let mut note = String::new();
                        if emu.engine == EngineKind::Jit {
                            let blocks_ok = compare(&case, &want, &blocks.run(&case)).is_ok();
                            note = format!(
                                " [interpreter block loop {}]",
                                if blocks_ok {
                                    "matches native"
                                } else {
                                    "differs too"
                                }
                            );
                        }
                        failures.push(format!(
                            "{} ({:?}, seed {seed}) under {}{note}:\n{m}",
                            t.name,
                            size,
                            emu.engine.name()
                        ));
                    }
                    outcomes.push(got);
                }
                // The engines share every instruction's semantics, so they agree even on what
                // the SDM leaves undefined (runs are deterministic whichever engine is used).
                if outcomes.iter().any(|o| *o != outcomes[0]) {
                    engines_disagree += 1;
                    failures.push(format!(
                        "{} ({:?}, seed {seed}): the engines' outcomes differ:\n{}",
                        t.name,
                        size,
                        ENGINES
                            .iter()
                            .zip(&outcomes)
                            .map(|(k, o)| format!("{}: {o:?}", k.name()))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ));
                }
            }
        }
    }
    let mut summary: Vec<String> = ENGINES
        .iter()
        .zip(&failed_per_engine)
        .map(|(k, n)| format!("{} differs from native in {n}", k.name()))
        .collect();
    summary.push(format!("engines disagree in {engines_disagree}"));
    let shown: Vec<_> = failures.iter().take(15).cloned().collect();
    assert!(
        failures.is_empty(),
        "{} failures in {cases} cases ({}); first ones:\n{}",
        failures.len(),
        summary.join(", "),
        shown.join("\n\n")
    );
    // The JIT really ran the cases (as translated blocks, not through a fallback).
    let jit = engines
        .iter()
        .find(|e| e.engine == EngineKind::Jit)
        .and_then(|e| e.jit_stats())
        .expect("the JIT ran");
    eprintln!("{cases} cases; JIT: {jit}");
    assert!(!jit.starts_with("0 blocks translated"), "JIT stats: {jit}");
}
