//! Boots Debian's i686 kernel directly (`--kernel`) with the busybox initramfs that
//! `scripts/fetch-guests.sh` builds; its /init prints markers, runs a few commands and powers
//! off through ACPI S5.

use std::time::Duration;

use ringside_tests::guest::{guest_file, run_ringside};

#[test]
fn debian_kernel_boots_to_busybox_and_powers_off() {
    let run = run_ringside(
        &[
            "--kernel".as_ref(),
            guest_file("vmlinuz").as_os_str(),
            "--initrd".as_ref(),
            guest_file("initramfs.cpio.gz").as_os_str(),
            "--append".as_ref(),
            "console=ttyS0 ringside.test=1 quiet".as_ref(),
            "--no-reboot".as_ref(),
            "--debugcon".as_ref(),
            "none".as_ref(),
        ],
        Duration::from_secs(900),
    );
    let (text, err) = (&run.stdout, &run.stderr);
    assert!(
        text.contains("RINGSIDE-SHELL-READY"),
        "no shell marker:\n{text}\n{err}"
    );
    assert!(text.contains("uname: Linux 6."), "{text}");
    assert!(text.contains("sum: 42"), "busybox shell arithmetic: {text}");
    assert!(text.contains("RINGSIDE-TEST-DONE"), "{text}");
    // poweroff reaches ACPI S5 through our tables and the PIIX4 PM block: an exit request,
    // not a halted CPU.
    assert_eq!(run.code, Some(0), "{err}");
    assert!(
        !err.contains("halted"),
        "the guest halted instead of powering off: {err}"
    );
}
