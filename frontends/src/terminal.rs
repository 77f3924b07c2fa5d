//! The interactive terminal: raw mode so every key (Ctrl-C included) reaches the guest, and
//! QEMU's escape key, Ctrl-A, for commands to the emulator itself.

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;

use emu_core::control::MachineControl;

/// The escape key: Ctrl-A, as QEMU's `-nographic` and `-serial mon:stdio`.
pub const ESCAPE: u8 = 0x01;

const HELP: &str = "\r\nC-a h    print this help\r\n\
C-a x    exit the emulator\r\n\
C-a a    send C-a to the guest\r\n";

/// Raw mode on standard input while alive; the terminal is restored on drop, also when the
/// emulator exits with an error.
pub struct RawTerminal(());

impl RawTerminal {
    /// Switches a terminal on standard input to raw mode; `None` when stdin is not a
    /// terminal (a pipe from a test or script), which is then read as is.
    pub fn enable() -> Option<Self> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        crossterm::terminal::enable_raw_mode().ok()?;
        Some(RawTerminal(()))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// What a key typed after the escape key means.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Quit,
    Help,
    SendEscape,
    Unknown,
}

fn command(key: u8) -> Command {
    match key {
        b'x' | b'X' => Command::Quit,
        b'h' | b'H' | b'?' => Command::Help,
        b'a' | ESCAPE => Command::SendEscape,
        _ => Command::Unknown,
    }
}

/// Splits typed bytes into guest input and emulator commands. Keeps the "escape seen" state
/// across reads, since the two keys often arrive in separate reads.
#[derive(Default)]
pub struct EscapeFilter {
    escaped: bool,
}

impl EscapeFilter {
    /// Returns the bytes for the guest and whether the user asked to quit; help goes to
    /// `out`.
    fn feed(&mut self, input: &[u8], out: &mut impl Write) -> (Vec<u8>, bool) {
        let mut guest = Vec::with_capacity(input.len());
        for &b in input {
            if !self.escaped {
                if b == ESCAPE {
                    self.escaped = true;
                } else {
                    guest.push(b);
                }
                continue;
            }
            self.escaped = false;
            match command(b) {
                Command::Quit => return (guest, true),
                Command::Help => {
                    let _ = out.write_all(HELP.as_bytes());
                    let _ = out.flush();
                }
                Command::SendEscape => guest.push(ESCAPE),
                Command::Unknown => {}
            }
        }
        (guest, false)
    }
}

/// Feeds standard input to `send` from a thread of its own. With a raw terminal, Ctrl-A
/// commands are interpreted; Ctrl-A x asks the machine to exit with status 0.
pub fn spawn_stdin_reader(
    raw: bool,
    control: Arc<MachineControl>,
    send: impl Fn(&[u8]) -> bool + Send + 'static,
) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        let mut filter = EscapeFilter::default();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
            let (bytes, quit) = if raw {
                filter.feed(&buf[..n], &mut std::io::stderr())
            } else {
                (buf[..n].to_vec(), false)
            };
            if !bytes.is_empty() && !send(&bytes) {
                break;
            }
            if quit {
                control.request_exit(0);
                break;
            }
        }
    });
}

/// Types standard input on the emulated PS/2 keyboard (`--display text`). One thread reads
/// stdin; another passes the bytes through the Ctrl-A filter (with a raw terminal) and
/// `TerminalKeys`, waiting at most `ESCAPE_TIMEOUT` while an escape sequence is unfinished
/// so that a lone ESC becomes the Escape key. Ctrl-A x asks the machine to exit with status 0.
pub fn spawn_keyboard_reader(
    raw: bool,
    control: Arc<MachineControl>,
    keyboard: devices::i8042::InputHandle,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || keyboard_loop(rx, raw, &control, &keyboard));
}

/// The translating half of `spawn_keyboard_reader`: returns when input ends, the user quits
/// or the keyboard is gone.
fn keyboard_loop(
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    raw: bool,
    control: &MachineControl,
    keyboard: &devices::i8042::InputHandle,
) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut filter = EscapeFilter::default();
    let mut keys = crate::keys::TerminalKeys::new();
    loop {
        let chunk = if keys.has_pending() {
            match rx.recv_timeout(crate::keys::ESCAPE_TIMEOUT) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => break,
            }
        };
        let (events, quit) = match chunk {
            None => (keys.flush_pending(), false),
            Some(c) => {
                let (bytes, quit) = if raw {
                    filter.feed(&c, &mut std::io::stderr())
                } else {
                    (c, false)
                };
                (keys.feed(&bytes), quit)
            }
        };
        for (key, pressed) in events {
            if !keyboard.key(key, pressed) {
                return;
            }
        }
        if quit {
            control.request_exit(0);
            return;
        }
    }
    // Input ended: what is left was typed.
    for (key, pressed) in keys.flush_pending() {
        keyboard.key(key, pressed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_commands() {
        let mut f = EscapeFilter::default();
        let mut out = Vec::new();
        assert_eq!(f.feed(b"ls\x03\r", &mut out), (b"ls\x03\r".to_vec(), false));
        assert_eq!(f.feed(b"a\x01", &mut out), (b"a".to_vec(), false));
        assert_eq!(
            f.feed(b"a", &mut out),
            (vec![ESCAPE], false),
            "C-a a sends C-a, across reads"
        );
        assert_eq!(f.feed(b"\x01h", &mut out), (vec![], false));
        assert!(String::from_utf8_lossy(&out).contains("exit the emulator"));
        assert_eq!(f.feed(b"y\x01xz", &mut out), (b"y".to_vec(), true));
        assert_eq!(f.feed(b"\x01q!", &mut out), (b"!".to_vec(), false));
    }

    #[test]
    fn typed_bytes_reach_the_8042_and_a_lone_esc_times_out() {
        use devices::i8042::I8042;
        use emu_core::bus::PortDevice;
        let control = Arc::new(MachineControl::new());
        let mut kbc = I8042::new(emu_core::irq::IrqLines::new(), control.clone());
        kbc.write(0x64, 1, 0x60);
        kbc.write(0x60, 1, 0x47);
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = kbc.input_handle();
        let c2 = control.clone();
        let t = std::thread::spawn(move || keyboard_loop(rx, true, &c2, &handle));
        tx.send(b"a\x1b".to_vec()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        tx.send(b"\x1b[A\x01x".to_vec()).unwrap();
        t.join().unwrap();
        let mut got = vec![];
        for ms in 0..100u64 {
            kbc.poll_timer(ms * 1_000_000);
            while kbc.read(0x64, 1) & 1 != 0 {
                got.push(kbc.read(0x60, 1) as u8);
            }
        }
        // a, Escape (after the timeout), Up; then Ctrl-A x quits.
        assert_eq!(got, [0x1E, 0x9E, 0x01, 0x81, 0xE0, 0x48, 0xE0, 0xC8]);
        assert_ne!(control.pending() & emu_core::control::REQ_EXIT, 0);
    }
}
