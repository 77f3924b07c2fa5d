//! SeaBIOS (Debian's) boots real media on Ringside's PC: SYSLINUX from an IDE hard disk and
//! ISOLINUX from an El Torito CD on the ATAPI drive, each loading Debian's kernel and the
//! busybox initramfs, whose test script prints markers and powers off through ACPI.

use std::time::Duration;

use ringside_tests::guest::{guest_file, run_ringside, GuestRun};

const LIMIT: Duration = Duration::from_secs(900);

/// Each boot runs under both execution engines: `name::interp` and `name::jit`.
macro_rules! under_both_engines {
    ($($name:ident),*) => {
        $(mod $name {
            #[test]
            fn interp() {
                super::$name("interp")
            }
            #[test]
            fn jit() {
                super::$name("jit")
            }
        })*
    };
}

under_both_engines!(
    seabios_boots_syslinux_from_ide_disk,
    seabios_boots_isolinux_from_el_torito_cd,
    seabios_boots_a_floppy_whose_int13_reads_and_writes_reach_the_image,
    memtest86plus_tests_memory_on_the_vga_text_screen
);

fn assert_linux_ran_its_test(run: &GuestRun) {
    let t = run.transcript();
    assert!(run.stdout.contains("RINGSIDE-SHELL-READY"), "{t}");
    assert!(run.stdout.contains("sum: 42"), "{t}");
    assert!(run.stdout.contains("RINGSIDE-TEST-DONE"), "{t}");
    assert_eq!(
        run.code,
        Some(0),
        "poweroff ends the run with status 0: {t}"
    );
}

fn seabios_boots_syslinux_from_ide_disk(engine: &str) {
    let disk = guest_file("hda-syslinux.img");
    let before = std::fs::read(&disk).unwrap();
    let run = run_ringside(
        &[
            "--cpu-engine".as_ref(),
            engine.as_ref(),
            "--bios".as_ref(),
            guest_file("bios.bin").as_os_str(),
            "--hda".as_ref(),
            disk.as_os_str(),
            "--snapshot".as_ref(),
            "--no-reboot".as_ref(),
            "--debugcon".as_ref(),
            "none".as_ref(),
        ],
        LIMIT,
    );
    assert_linux_ran_its_test(&run);
    // SYSLINUX's own banner reached the serial port before the kernel's.
    assert!(run.stdout.contains("SYSLINUX"), "{}", run.transcript());
    assert!(
        std::fs::read(&disk).unwrap() == before,
        "--snapshot must leave the image untouched (SYSLINUX writes ldlinux.sys's counters)"
    );
}

fn seabios_boots_isolinux_from_el_torito_cd(engine: &str) {
    let run = run_ringside(
        &[
            "--cpu-engine".as_ref(),
            engine.as_ref(),
            "--bios".as_ref(),
            guest_file("bios.bin").as_os_str(),
            "--cdrom".as_ref(),
            guest_file("cdrom-isolinux.iso").as_os_str(),
            "--boot".as_ref(),
            "d".as_ref(),
            "--no-reboot".as_ref(),
            "--debugcon".as_ref(),
            "none".as_ref(),
        ],
        LIMIT,
    );
    assert_linux_ran_its_test(&run);
    assert!(run.stdout.contains("ISOLINUX"), "{}", run.transcript());
}

fn seabios_boots_a_floppy_whose_int13_reads_and_writes_reach_the_image(engine: &str) {
    // A copy, written in place (no --snapshot): the boot sector's INT 13h write must land in
    // the file at LBA 1448.
    let image = ringside_tests::bin_path::repo_root().join("test-roms/build/fdboot.img");
    assert!(image.exists(), "run test-roms/build.sh");
    let copy =
        std::env::temp_dir().join(format!("ringside-fd-{engine}-{}.img", std::process::id()));
    std::fs::copy(&image, &copy).unwrap();
    let run = run_ringside(
        &[
            "--cpu-engine".as_ref(),
            engine.as_ref(),
            "--bios".as_ref(),
            guest_file("bios.bin").as_os_str(),
            "--fda".as_ref(),
            copy.as_os_str(),
            "--boot".as_ref(),
            "a".as_ref(),
            "--serial".as_ref(),
            "none".as_ref(),
            "--no-reboot".as_ref(),
        ],
        LIMIT,
    );
    let written = std::fs::read(&copy).unwrap();
    let _ = std::fs::remove_file(&copy);
    assert!(run.stdout.contains("FDBOOT: PASS"), "{}", run.transcript());
    assert_eq!(run.code, Some(33), "{}", run.transcript());
    let sector = &written[1448 * 512..1449 * 512];
    assert_eq!(&sector[..2], &0xBEEFu16.to_le_bytes());
    assert_eq!(&sector[510..], &0x4110u16.to_le_bytes());
}

fn memtest86plus_tests_memory_on_the_vga_text_screen(engine: &str) {
    let screen = std::env::temp_dir().join(format!(
        "ringside-memtest-{engine}-{}.txt",
        std::process::id()
    ));
    let run = run_ringside(
        &[
            "--cpu-engine".as_ref(),
            engine.as_ref(),
            "--kernel".as_ref(),
            guest_file("memtest86+ia32.bin").as_os_str(),
            "-m".as_ref(),
            "32M".as_ref(),
            "--max-insns".as_ref(),
            "2500000000".as_ref(),
            "--screen-text-on-exit".as_ref(),
            screen.as_os_str(),
            "--serial".as_ref(),
            "none".as_ref(),
        ],
        LIMIT,
    );
    let text = std::fs::read_to_string(&screen).unwrap_or_default();
    let _ = std::fs::remove_file(&screen);
    let t = format!("{}\n--- screen ---\n{text}", run.transcript());
    assert_eq!(run.code, Some(0), "{t}");
    assert!(text.contains("Memtest86+ v6"), "banner: {t}");
    assert!(text.contains("Pentium II"), "our CPUID model: {t}");
    assert!(text.contains("Memory  :   32MB"), "the RAM it found: {t}");
    // Past the first test: the pass bar and a later test are on screen, with no errors.
    assert!(text.contains("Pass  "), "{t}");
    assert!(
        text.lines()
            .any(|l| l.contains("Test #") && !l.contains("Test #0 ")),
        "{t}"
    );
    assert!(text.contains("Errors: 0"), "{t}");
}
