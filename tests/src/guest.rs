//! Running `ringside` on a real guest from a test: output collected on threads (a chatty
//! kernel must never block on a full pipe), a deadline, and the guest images' location.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bin_path::{repo_root, ringside_bin};

/// What a finished run left behind.
pub struct GuestRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl GuestRun {
    /// Both streams, for assertion messages.
    pub fn transcript(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A file `scripts/fetch-guests.sh` put in `.cache/guests`.
pub fn guest_file(name: &str) -> PathBuf {
    let p = repo_root().join(".cache/guests").join(name);
    assert!(
        p.exists(),
        "{} missing: run scripts/fetch-guests.sh",
        p.display()
    );
    p
}

/// Runs `ringside` with `args` until it exits or `timeout` passes (then it is killed and the
/// test fails with what it printed).
pub fn run_ringside<S: AsRef<std::ffi::OsStr>>(args: &[S], timeout: Duration) -> GuestRun {
    let mut child = Command::new(ringside_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ringside");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = GuestRun {
        code: status.and_then(|s| s.code()),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "ringside did not finish within {timeout:?}:\n{}",
        run.transcript()
    );
    run
}
