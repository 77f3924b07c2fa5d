//! The `ringside` command line: the demo guest, and bad input ending in one-line errors.

use std::process::Command;

use ringside_tests::bin_path::ringside_bin;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(ringside_bin())
        .args(args)
        .output()
        .expect("run ringside");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_guest_reaches_ring_3_and_back() {
    let (code, out, err) = run(&["--no-reboot"]);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("real mode"), "{out}");
    assert!(out.contains("paging on"), "{out}");
    assert!(out.contains("hello from ring 3"), "{out}");
    assert!(out.contains("Goodbye"), "{out}");
    assert!(err.contains("halted"), "{err}");
}

#[test]
fn demo_guest_runs_the_same_under_the_jit_and_traces_its_translations() {
    let (code, out, err) = run(&["--no-reboot", "--cpu-engine", "jit", "--trace", "jit"]);
    assert_eq!(code, 0, "stderr: {err}");
    let (_, interp_out, _) = run(&["--no-reboot"]);
    assert_eq!(out, interp_out, "same guest output under both engines");
    // The reset vector's far jump is the first block; every block lists guest and host code.
    assert!(err.contains("jit: block at 0000fff0 (16-bit"), "{err}");
    assert!(err.contains("  guest:") && err.contains("  host:"), "{err}");
    assert!(
        err.contains("helpers::step (the interpreter runs it)"),
        "calls into the interpreter are named: {err}"
    );
    assert!(
        err.contains("qword ptr [rbx+"),
        "native code addresses the CPU state through RBX: {err}"
    );
}

fn assert_one_line_error(args: &[&str], needle: &str) {
    let (code, _, err) = run(args);
    assert_ne!(code, 0);
    assert_ne!(code, 101, "panicked: {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn bad_roms_are_refused_clearly() {
    let dir = std::env::temp_dir().join(format!("ringside-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let odd = dir.join("odd.bin");
    std::fs::write(&odd, vec![0u8; 1000]).unwrap();
    let huge = dir.join("huge.bin");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    assert_one_line_error(&["--bios", "/nonexistent/rom.bin"], "cannot open ROM");
    assert_one_line_error(&["--bios", empty.to_str().unwrap()], "is empty");
    assert_one_line_error(&["--bios", odd.to_str().unwrap()], "multiple of 64 KiB");
    assert_one_line_error(&["--bios", huge.to_str().unwrap()], "largest supported");
    assert_one_line_error(&["--bios", dir.to_str().unwrap()], "directory");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_flags_are_refused_clearly() {
    assert_one_line_error(&["--frobnicate"], "unexpected argument");
    assert_one_line_error(&["-m", "12Q"], "invalid size");
    assert_one_line_error(&["--debugcon", "serial"], "unknown --debugcon");
    assert_one_line_error(&["--trace", "everything"], "unknown trace item");
    assert_one_line_error(&["--trace", "jit"], "--trace jit needs --cpu-engine jit");
    assert_one_line_error(
        &["--cpu-engine", "jit", "--jit-cache-mb", "0"],
        "jit-cache-mb",
    );
}

#[test]
fn garbage_guest_runs_without_panicking() {
    // A ROM of 0xFF bytes: #UD through a real-mode IVT of zeros, then whatever RAM holds. It
    // must stay inside the emulator and end in order.
    let dir = std::env::temp_dir().join(format!("ringside-garbage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rom = dir.join("ff.bin");
    std::fs::write(&rom, vec![0xFFu8; 65536]).unwrap();
    for engine in ["interp", "jit"] {
        let (code, _, err) = run(&[
            "--bios",
            rom.to_str().unwrap(),
            "--no-reboot",
            "--max-insns",
            "1000000",
            "--cpu-engine",
            engine,
        ]);
        assert_eq!(code, 0, "{engine}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn triple_fault_exits_under_no_reboot() {
    // LIDT with limit 0, then UD2: #UD cannot be delivered (#GP), nor can the #GP (#DF), nor
    // the #DF: shutdown, which --no-reboot turns into exit status 2.
    let dir = std::env::temp_dir().join(format!("ringside-triple-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut image = vec![0xF4u8; 65536];
    image[0xFFF0..].copy_from_slice(&[
        0x2E, 0x0F, 0x01, 0x1E, 0xF8, 0xFF, 0x0F, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let rom = dir.join("triple.bin");
    std::fs::write(&rom, &image).unwrap();
    let (code, _, err) = run(&["--bios", rom.to_str().unwrap(), "--no-reboot"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("triple fault"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn multiboot_kernels_boot_with_modules() {
    let build = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-roms/build");
    let m0 = build.join("mbtest-mod0.bin");
    let m1 = build.join("mbtest-mod1.bin");
    let mods = format!("{} first arg,{}", m0.display(), m1.display());
    for kernel in ["mbtest.elf", "mbtest-kludge.bin"] {
        let k = build.join(kernel);
        assert!(
            k.exists(),
            "{} missing: run test-roms/build.sh",
            k.display()
        );
        let (code, out, err) = run(&[
            "--kernel",
            k.to_str().unwrap(),
            "--initrd",
            &mods,
            "--append",
            "mbtest.append=ok mods=2",
            "--no-reboot",
        ]);
        assert_eq!(code, 33, "{kernel}: {out}\n{err}");
        assert!(out.contains("PASS mbtest"), "{kernel}: {out}");
        assert!(err.contains("Multiboot kernel"), "{err}");
    }
    // A Multiboot header with a broken checksum is refused before the guest starts.
    let mut bad = std::fs::read(build.join("mbtest-kludge.bin")).unwrap();
    let at = bad
        .windows(4)
        .position(|w| w == 0x1BAD_B002u32.to_le_bytes())
        .unwrap();
    bad[at + 8] ^= 1;
    let path = std::env::temp_dir().join(format!("ringside-mb-{}.bin", std::process::id()));
    std::fs::write(&path, bad).unwrap();
    assert_one_line_error(&["--kernel", path.to_str().unwrap()], "checksum");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn pc_testdev_answers_under_test_devices() {
    // Without the flag the scratch port floats; this only checks the flag wiring, the device
    // itself is unit-tested in devices::testdev.
    let (code, _, err) = run(&["--test-devices", "--no-reboot", "--max-insns", "100000"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_guest_files_are_refused_before_the_guest_starts() {
    let dir = std::env::temp_dir().join(format!("ringside-badfiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    // A bzImage cut short: the setup header promises more than the file holds.
    let guests = ringside_tests::bin_path::repo_root().join(".cache/guests");
    if let Ok(kernel) = std::fs::read(guests.join("vmlinuz")) {
        std::fs::write(p("short-bz"), &kernel[..kernel.len() / 2]).unwrap();
        assert_one_line_error(&["--kernel", &p("short-bz")], "short-bz");
        // A boot protocol older than 2.02 (no 32-bit entry with a command line pointer).
        let mut old = kernel.clone();
        old[0x206..0x208].copy_from_slice(&0x0201u16.to_le_bytes());
        std::fs::write(p("old-bz"), &old).unwrap();
        assert_one_line_error(&["--kernel", &p("old-bz")], "protocol");
        let good = guests.join("vmlinuz");
        assert_one_line_error(
            &[
                "--kernel",
                good.to_str().unwrap(),
                "--initrd",
                "/nonexistent/initrd",
            ],
            "cannot read initrd",
        );
    }
    assert_one_line_error(&["--kernel", "/nonexistent/bzImage"], "cannot read kernel");
    std::fs::write(p("garbage"), vec![0x90u8; 4096]).unwrap();
    assert_one_line_error(&["--kernel", &p("garbage")], "garbage");
    assert_one_line_error(
        &["--hda", "/nonexistent/disk.img"],
        "cannot open disk image",
    );
    assert_one_line_error(&["--hda", dir.to_str().unwrap()], "Is a directory");
    std::fs::write(p("empty.img"), b"").unwrap();
    assert_one_line_error(&["--hdb", &p("empty.img")], "empty");
    std::fs::write(p("tiny.iso"), vec![0u8; 100]).unwrap();
    assert_one_line_error(
        &["--cdrom", &p("tiny.iso")],
        "smaller than one 2 KiB sector",
    );
    std::fs::write(p("odd.flp"), vec![0u8; 1000 * 1024]).unwrap();
    assert_one_line_error(&["--fda", &p("odd.flp")], "odd.flp");
    assert_one_line_error(&["--boot", "x"], "unknown boot device");
    assert_one_line_error(&["--serial", "pty"], "unknown --serial destination");
    assert_one_line_error(&["--log", "everything"], "unknown log item");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serial_tcp_port_in_use_is_a_clear_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp:{}", busy.local_addr().unwrap());
    assert_one_line_error(&["--serial", &addr], "cannot listen on");
}
