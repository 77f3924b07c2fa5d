//! Boots Debian's i686 kernel directly (`--kernel`) with the busybox initramfs that
//! `scripts/fetch-guests.sh` builds; its /init prints markers, runs a few commands and powers
//! off through ACPI S5.

use std::time::Duration;

use ringside_tests::guest::{guest_file, run_ringside};

/// Boots the kernel with `extra` appended to the test command line and checks the markers
/// and the ACPI poweroff; returns the guest's console output.
fn boot_to_test_done(engine: &str, extra: &str) -> String {
    let append = format!("console=ttyS0 ringside.test=1 quiet {extra}");
    let run = run_ringside(
        &[
            "--cpu-engine".as_ref(),
            engine.as_ref(),
            "--kernel".as_ref(),
            guest_file("vmlinuz").as_os_str(),
            "--initrd".as_ref(),
            guest_file("initramfs.cpio.gz").as_os_str(),
            "--append".as_ref(),
            append.as_ref(),
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
    run.stdout
}

/// The `timer irq:` line /init prints from /proc/interrupts.
fn timer_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("timer irq:"))
        .unwrap_or_else(|| panic!("no timer line: {text}"))
}

#[test]
fn debian_kernel_boots_to_busybox_and_powers_off() {
    let text = boot_to_test_done("interp", "");
    let timer = timer_line(&text);
    assert!(
        timer.contains("IO-APIC"),
        "the PIT reaches Linux through the I/O APIC: {timer}"
    );
}

/// With the APICs disabled by the guest, everything runs on the 8259 pair and the PIT.
#[test]
fn debian_kernel_runs_on_the_8259_with_noapic_nolapic() {
    let text = boot_to_test_done("interp", "noapic nolapic");
    let timer = timer_line(&text);
    assert!(timer.contains("XT-PIC"), "PIT through the 8259: {timer}");
    let ticks: u64 = timer
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {timer}"));
    assert!(ticks > 100, "the PIT kept interrupting: {timer}");
}

#[test]
fn debian_kernel_boots_under_the_jit() {
    let text = boot_to_test_done("jit", "");
    assert!(timer_line(&text).contains("IO-APIC"), "{text}");
}
