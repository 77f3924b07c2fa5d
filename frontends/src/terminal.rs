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
}
