//! Runs every guest test program in `test-roms/` (built by `test-roms/build.sh`) under every
//! CPU engine and checks it reports `PASS` and exits through isa-debug-exit with status 33
//! (0x10 << 1 | 1).

use std::process::Command;
use std::time::Duration;

use ringside_tests::bin_path::{repo_root, ringside_bin};

/// The engine configurations every program runs under: a name for messages and the
/// `ringside` arguments selecting it. The JIT also runs with the smallest code cache.
const ENGINES: &[(&str, &[&str])] = &[
    ("interp", &["--cpu-engine", "interp"]),
    ("jit", &["--cpu-engine", "jit"]),
    (
        "jit (1 MiB cache)",
        &["--cpu-engine", "jit", "--jit-cache-mb", "1"],
    ),
];

/// Programs whose checks Ringside does not pass yet under an engine (each prints its failing
/// checks), as (engine name, program). They must still run to an orderly end: no panic, no
/// hang.
const NOT_YET_PASSING: &[(&str, &str)] = &[];

fn run_rom(name: &str, engine: &str, engine_args: &[&str]) -> (i32, String) {
    let rom = repo_root()
        .join("test-roms/build")
        .join(format!("{name}.bin"));
    assert!(
        rom.exists(),
        "{} missing: run test-roms/build.sh",
        rom.display()
    );
    let mut child = Command::new(ringside_bin())
        .args([
            "--bios",
            rom.to_str().unwrap(),
            "--no-reboot",
            "--max-insns",
            "200000000",
            "--stats",
        ])
        .args(engine_args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ringside");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} under {engine}: timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn roms() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo_root().join("test-roms"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "asm").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn test_roms_pass() {
    let mut failed = Vec::new();
    let names = roms();
    assert!(!names.is_empty(), "no test programs in test-roms/");
    for &(engine, engine_args) in ENGINES {
        for name in &names {
            let (code, text) = run_rom(name, engine, engine_args);
            assert_ne!(
                code, 101,
                "{name} under {engine}: emulator panicked:\n{text}"
            );
            if engine_args.contains(&"jit") {
                // `--stats` names the engine that ran: make sure it was the JIT.
                assert!(
                    text.contains("ringside: jit: ") && !text.contains("jit: 0 blocks translated"),
                    "{name} under {engine}: the JIT did not run:\n{text}"
                );
            }
            let passed = code == 33 && text.contains(&format!("PASS {name}"));
            if NOT_YET_PASSING.contains(&(engine, name.as_str())) {
                assert!(
                    !passed,
                    "{name} passes under {engine} now: remove it from NOT_YET_PASSING"
                );
                continue;
            }
            if !passed {
                failed.push(format!("{name} under {engine} (status {code}):\n{text}"));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "test ROMs failed:\n{}",
        failed.join("\n")
    );
}
