//! Boots Debian's i686 kernel directly (`--kernel`) with the busybox initramfs that
//! `scripts/fetch-guests.sh` builds; its /init prints markers, runs a few commands and powers
//! off through ACPI S5.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringside_tests::bin_path::{repo_root, ringside_bin};

#[test]
fn debian_kernel_boots_to_busybox_and_powers_off() {
    let guests = repo_root().join(".cache/guests");
    let kernel = guests.join("vmlinuz");
    let initrd = guests.join("initramfs.cpio.gz");
    assert!(
        kernel.exists() && initrd.exists(),
        "guests missing: run scripts/fetch-guests.sh"
    );
    let mut child = Command::new(ringside_bin())
        .arg("--kernel")
        .arg(&kernel)
        .arg("--initrd")
        .arg(&initrd)
        .args([
            "--append",
            "console=ttyS0 ringside.test=1 quiet",
            "--no-reboot",
            "--debugcon",
            "none",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ringside");
    let deadline = Instant::now() + Duration::from_secs(900);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Linux did not finish within 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("RINGSIDE-SHELL-READY"),
        "no shell marker:\n{text}\n{err}"
    );
    assert!(text.contains("uname: Linux 6."), "{text}");
    assert!(text.contains("sum: 42"), "busybox shell arithmetic: {text}");
    assert!(text.contains("RINGSIDE-TEST-DONE"), "{text}");
    // poweroff reaches ACPI S5 through our tables and the PIIX4 PM block: an exit request,
    // not a halted CPU.
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("halted"),
        "the guest halted instead of powering off: {err}"
    );
}
