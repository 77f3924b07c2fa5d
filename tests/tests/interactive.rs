//! The interactive serial console in a real terminal (a pty from util-linux's `script`):
//! typing reaches the busybox shell, Ctrl-C interrupts the guest's foreground program (the
//! terminal is raw, so the emulator does not catch it), and Ctrl-A x quits the emulator.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringside_tests::bin_path::ringside_bin;
use ringside_tests::guest::guest_file;

fn wait_for(out: &Arc<Mutex<String>>, needle: &str, from: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        {
            let text = out.lock().unwrap();
            if let Some(at) = text[from.min(text.len())..].find(needle) {
                return from + at + needle.len();
            }
            assert!(
                Instant::now() < deadline,
                "'{needle}' did not appear within {limit:?}; terminal so far:\n{text}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `cmd` on a new pty (util-linux's `script` copies our pipe to it and back); returns
/// the child, everything the terminal showed so far (filled by a thread), and its keyboard.
fn spawn_in_pty(cmd: &str) -> (Child, Arc<Mutex<String>>, ChildStdin) {
    let mut child = Command::new("script")
        .args(["-qfec", cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) must be installed");
    let out = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let keys = child.stdin.take().unwrap();
    (child, out, keys)
}

#[test]
fn serial_console_in_a_terminal_types_interrupts_and_quits() {
    let cmd = format!(
        "{} --kernel {} --initrd {} --append 'console=ttyS0 quiet' --debugcon none",
        ringside_bin().display(),
        guest_file("vmlinuz").display(),
        guest_file("initramfs.cpio.gz").display()
    );
    let (mut child, out, mut keys) = spawn_in_pty(&cmd);
    let mut at = wait_for(&out, "RINGSIDE-SHELL-READY", 0, Duration::from_secs(600));
    // Typing: the shell computes what we typed.
    keys.write_all(b"echo typed-$((6*7))\r").unwrap();
    at = wait_for(&out, "typed-42", at, Duration::from_secs(60));
    // Ctrl-C reaches the guest: without it the sleep would hold the shell for 1000 s.
    keys.write_all(b"sleep 1000\r").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    keys.write_all(b"\x03").unwrap();
    keys.write_all(b"echo after-$((1+1))\r").unwrap();
    wait_for(&out, "after-2", at, Duration::from_secs(60));
    // Ctrl-A x quits the emulator with status 0.
    let quit = Instant::now();
    keys.write_all(b"\x01x").unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            quit.elapsed() < Duration::from_secs(30),
            "Ctrl-A x did not quit:\n{}",
            out.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}\n{}", out.lock().unwrap());
}

#[test]
fn vga_text_console_in_a_terminal_takes_keyboard_input() {
    let screen = std::env::temp_dir().join(format!("ringside-vgacon-{}.txt", std::process::id()));
    let cmd = format!(
        "{} --kernel {} --initrd {} --append 'console=tty0 quiet' --display text \
         --debugcon none --screen-text-on-exit {}",
        ringside_bin().display(),
        guest_file("vmlinuz").display(),
        guest_file("initramfs.cpio.gz").display(),
        screen.display()
    );
    let (mut child, out, mut keys) = spawn_in_pty(&cmd);
    // The terminal shows the VGA screen: the shell marker arrives drawn by the renderer.
    let at = wait_for(&out, "RINGSIDE-SHELL-READY", 0, Duration::from_secs(600));
    std::thread::sleep(Duration::from_secs(2));
    // Typed keys become PS/2 scan codes through the 8042; Linux's atkbd and vgacon echo them.
    keys.write_all(b"echo kbd-$((6*7))\r").unwrap();
    wait_for(&out, "kbd-42", at, Duration::from_secs(60));
    keys.write_all(b"\x01x").unwrap();
    let quit = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            quit.elapsed() < Duration::from_secs(30),
            "Ctrl-A x did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&screen).unwrap_or_default();
    let _ = std::fs::remove_file(&screen);
    assert!(
        text.lines().any(|l| l.contains("echo kbd-$((6*7))")),
        "the typed command is on the VGA screen:\n{text}"
    );
    assert!(text.lines().any(|l| l.trim() == "kbd-42"), "{text}");
}
