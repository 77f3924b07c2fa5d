//! Finds the `ringside` binary built beside the running test executable.

use std::path::PathBuf;

/// `target/<profile>/ringside` for tests running from `target/<profile>/deps/`.
pub fn ringside_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("ringside");
    assert!(
        bin.exists(),
        "{} not built: run `cargo build --release --bin ringside` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}
