//! What a terminal in raw mode sends, turned into PC key presses and releases for the
//! emulated PS/2 keyboard (`--display text`).
//!
//! A terminal sends characters, not keys, so this works backwards from the character to the
//! key a US-layout PC keyboard would press for it: letters (Shift for capitals), digits,
//! punctuation with or without Shift, Enter (CR and LF), Backspace (DEL and BS), Tab, Escape,
//! Ctrl+letter (C0 controls), and Alt+key, which xterm's default `metaSendsEscape` sends as
//! ESC followed by the key. Function and editing keys arrive as the escape sequences xterm
//! sends (xterm's ctlseqs, "PC-Style Function Keys"; ECMA-48 section 5.4 for the CSI
//! syntax): SS3 (`ESC O x`) and CSI (`ESC [ params final`) forms of the arrows, Home/End,
//! F1-F4, the `ESC [ n ~` forms of Insert/Delete/PgUp/PgDn/F5-F12 (and the rxvt/VT220
//! Home/End/F1-F4 numbers), the modifier parameter (`ESC [ 1;5A` is Ctrl+Up: 1 + Shift(1) +
//! Alt(2) + Ctrl(4) + Meta(8)), Shift+Tab (`ESC [ Z`) and the keypad in application mode.
//! Sequences with no PC key (bracketed paste marks, focus and mouse reports) and UTF-8
//! characters outside ASCII are consumed and ignored.
//!
//! Escape is ambiguous: the Escape key sends a lone ESC, which also starts every sequence.
//! `feed` therefore keeps an unfinished sequence (a lone ESC included) pending, so a sequence
//! split across reads still decodes, and the caller calls [`TerminalKeys::flush_pending`]
//! when no more input arrived within [`ESCAPE_TIMEOUT`] of the last read: the pending ESC is
//! then the Escape key (and `ESC [` with nothing after it is Alt+[). Terminals write a whole
//! sequence at once, so its bytes arrive far inside that time, the same rule (and about the
//! same delay) as vim's `ttimeoutlen` and tmux's `escape-time`.
//!
//! Each character becomes a whole stroke: the modifiers pressed, the key pressed and
//! released, the modifiers released in reverse order. Key repeat is the terminal's: a held
//! key arrives as repeated characters, so as repeated strokes.

use std::time::Duration;

use devices::i8042::KeyCode;

/// How long after the last input an unfinished escape sequence is resolved as typed keys.
pub const ESCAPE_TIMEOUT: Duration = Duration::from_millis(25);

/// Longest escape sequence kept pending: anything longer is no key a terminal sends, and a
/// peer that never ends a sequence must not grow the buffer without bound.
const MAX_SEQUENCE: usize = 32;

const ESC: u8 = 0x1B;

// Modifier bits, in xterm's parameter order (parameter = 1 + bits).
const SHIFT: u8 = 1;
const ALT: u8 = 2;
const CTRL: u8 = 4;
const META: u8 = 8;

/// Modifier keys in the order they are pressed (and released in reverse).
const MODIFIER_KEYS: [(u8, KeyCode); 4] = [
    (CTRL, KeyCode::LeftCtrl),
    (ALT, KeyCode::LeftAlt),
    (META, KeyCode::LeftMeta),
    (SHIFT, KeyCode::LeftShift),
];

/// One key with the modifiers held around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Stroke {
    mods: u8,
    key: KeyCode,
}

impl Stroke {
    fn new(mods: u8, key: KeyCode) -> Self {
        Stroke { mods, key }
    }

    fn push_events(self, out: &mut Vec<(KeyCode, bool)>) {
        let held = || {
            MODIFIER_KEYS
                .iter()
                .filter(move |(bit, _)| self.mods & bit != 0)
        };
        out.extend(held().map(|&(_, k)| (k, true)));
        out.push((self.key, true));
        out.push((self.key, false));
        out.extend(held().rev().map(|&(_, k)| (k, false)));
    }
}

/// What the bytes at the front of the buffer mean.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// `len` bytes that type this key (or nothing, for input with no PC key).
    Key(usize, Option<Stroke>),
    /// The bytes so far start a sequence that is not finished.
    Incomplete,
}

/// The key and Shift state for a printable ASCII character on a US keyboard.
fn printable(c: u8) -> Option<Stroke> {
    use KeyCode::*;
    let plain = |k| Some(Stroke::new(0, k));
    let shifted = |k| Some(Stroke::new(SHIFT, k));
    match c {
        b'a'..=b'z' => plain(letter(c - b'a')),
        b'A'..=b'Z' => shifted(letter(c - b'A')),
        b'1'..=b'9' => plain(
            [
                Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9,
            ][(c - b'1') as usize],
        ),
        b'0' => plain(Digit0),
        b' ' => plain(Space),
        b'`' => plain(Backquote),
        b'~' => shifted(Backquote),
        b'!' => shifted(Digit1),
        b'@' => shifted(Digit2),
        b'#' => shifted(Digit3),
        b'$' => shifted(Digit4),
        b'%' => shifted(Digit5),
        b'^' => shifted(Digit6),
        b'&' => shifted(Digit7),
        b'*' => shifted(Digit8),
        b'(' => shifted(Digit9),
        b')' => shifted(Digit0),
        b'-' => plain(Minus),
        b'_' => shifted(Minus),
        b'=' => plain(Equal),
        b'+' => shifted(Equal),
        b'[' => plain(LeftBracket),
        b'{' => shifted(LeftBracket),
        b']' => plain(RightBracket),
        b'}' => shifted(RightBracket),
        b'\\' => plain(Backslash),
        b'|' => shifted(Backslash),
        b';' => plain(Semicolon),
        b':' => shifted(Semicolon),
        b'\'' => plain(Quote),
        b'"' => shifted(Quote),
        b',' => plain(Comma),
        b'<' => shifted(Comma),
        b'.' => plain(Period),
        b'>' => shifted(Period),
        b'/' => plain(Slash),
        b'?' => shifted(Slash),
        _ => None,
    }
}

/// Letter `i` of the alphabet (0 = A).
fn letter(i: u8) -> KeyCode {
    use KeyCode::*;
    const LETTERS: [KeyCode; 26] = [
        A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z,
    ];
    LETTERS[usize::from(i % 26)]
}

/// One ASCII byte that is not ESC.
fn ascii(c: u8) -> Option<Stroke> {
    use KeyCode::*;
    match c {
        b'\r' | b'\n' => Some(Stroke::new(0, Enter)),
        0x08 | 0x7F => Some(Stroke::new(0, Backspace)),
        b'\t' => Some(Stroke::new(0, Tab)),
        // Ctrl+Space (and Ctrl+@) send NUL.
        0x00 => Some(Stroke::new(CTRL, Space)),
        0x01..=0x1A => Some(Stroke::new(CTRL, letter(c - 1))),
        0x1C => Some(Stroke::new(CTRL, Backslash)),
        0x1D => Some(Stroke::new(CTRL, RightBracket)),
        // Ctrl+^ and Ctrl+_ are shifted keys on a US keyboard.
        0x1E => Some(Stroke::new(CTRL | SHIFT, Digit6)),
        0x1F => Some(Stroke::new(CTRL | SHIFT, Minus)),
        _ => printable(c),
    }
}

/// Length of the UTF-8 sequence a lead byte starts; 1 for a stray byte (skipped alone).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

/// xterm's modifier parameter (1 + bits) as modifier bits; absent or 1 means none.
fn modifier_param(p: Option<u32>) -> u8 {
    match p {
        Some(m @ 2..=16) => (m - 1) as u8,
        _ => 0,
    }
}

/// The key for an SS3 or CSI sequence's final byte (arrows, Home/End, F1-F4, Shift+Tab).
fn final_key(f: u8) -> Option<(u8, KeyCode)> {
    use KeyCode::*;
    Some(match f {
        b'A' => (0, ArrowUp),
        b'B' => (0, ArrowDown),
        b'C' => (0, ArrowRight),
        b'D' => (0, ArrowLeft),
        b'H' => (0, Home),
        b'F' => (0, End),
        b'E' => (0, Numpad5), // the keypad centre ("begin")
        b'P' => (0, F1),
        b'Q' => (0, F2),
        b'R' => (0, F3),
        b'S' => (0, F4),
        b'Z' => (SHIFT, Tab),
        _ => return None,
    })
}

/// The keypad in application mode (DECKPAM), SS3 only.
fn keypad_key(f: u8) -> Option<KeyCode> {
    use KeyCode::*;
    Some(match f {
        b'M' => NumpadEnter,
        b'j' => NumpadMultiply,
        b'k' => NumpadAdd,
        b'm' => NumpadSubtract,
        b'n' => NumpadDecimal,
        b'o' => NumpadDivide,
        b'p'..=b'y' => [
            Numpad0, Numpad1, Numpad2, Numpad3, Numpad4, Numpad5, Numpad6, Numpad7, Numpad8,
            Numpad9,
        ][(f - b'p') as usize],
        _ => return None,
    })
}

/// The key for `ESC [ n ~` (VT220 editing keys and xterm's F5-F12; rxvt's Home/End and
/// F1-F4 numbers too).
fn tilde_key(n: u32) -> Option<KeyCode> {
    use KeyCode::*;
    Some(match n {
        1 | 7 => Home,
        2 => Insert,
        3 => Delete,
        4 | 8 => End,
        5 => PageUp,
        6 => PageDown,
        11 => F1,
        12 => F2,
        13 => F3,
        14 => F4,
        15 => F5,
        17 => F6,
        18 => F7,
        19 => F8,
        20 => F9,
        21 => F10,
        23 => F11,
        24 => F12,
        _ => return None,
    })
}

/// Decodes `ESC [ ...` at the front of `buf` (which starts with the two bytes); `None` when
/// the bytes are no CSI sequence.
fn csi(buf: &[u8]) -> Option<Parsed> {
    // ECMA-48 5.4: parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, a final byte
    // 0x40-0x7E.
    let Some(end) = buf[2..].iter().position(|b| !(0x20..=0x3F).contains(b)) else {
        return Some(unfinished(buf));
    };
    let len = 2 + end + 1;
    let body = &buf[2..2 + end];
    let f = buf[2 + end];
    if !(0x40..=0x7E).contains(&f) {
        return None;
    }
    // Private parameters ('<', '=', '>', '?': mouse and other reports) and intermediates
    // mean no key.
    if !body.iter().all(|b| b.is_ascii_digit() || *b == b';') {
        return Some(Parsed::Key(len, None));
    }
    let params: Vec<Option<u32>> = body
        .split(|&b| b == b';')
        .map(|p| {
            (!p.is_empty()).then(|| {
                p.iter().fold(0u32, |n, &d| {
                    n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
                })
            })
        })
        .collect();
    let param = |i: usize| params.get(i).copied().flatten();
    let stroke = if f == b'~' {
        param(0)
            .and_then(tilde_key)
            .map(|k| Stroke::new(modifier_param(param(1)), k))
    } else {
        final_key(f).map(|(m, k)| Stroke::new(m | modifier_param(param(1)), k))
    };
    Some(Parsed::Key(len, stroke))
}

/// Decodes `ESC O ...` at the front of `buf` (which starts with the two bytes); `None` when
/// the bytes are no SS3 sequence. Some terminals put a modifier digit before the final byte
/// (`ESC O 5 P`).
fn ss3(buf: &[u8]) -> Option<Parsed> {
    let digits = buf[2..].iter().take_while(|b| b.is_ascii_digit()).count();
    let Some(&f) = buf.get(2 + digits) else {
        return Some(unfinished(buf));
    };
    if !(0x40..=0x7E).contains(&f) {
        return None;
    }
    let mods = std::str::from_utf8(&buf[2..2 + digits])
        .ok()
        .and_then(|s| s.parse().ok());
    let mods = modifier_param(mods);
    let stroke = match (final_key(f), keypad_key(f)) {
        (Some((m, k)), _) => Some(Stroke::new(m | mods, k)),
        (None, Some(k)) => Some(Stroke::new(mods, k)),
        (None, None) => None,
    };
    Some(Parsed::Key(2 + digits + 1, stroke))
}

/// A sequence whose final byte has not arrived: wait for it, unless it is already longer
/// than any key sends (then it is dropped whole).
fn unfinished(buf: &[u8]) -> Parsed {
    if buf.len() >= MAX_SEQUENCE {
        Parsed::Key(buf.len(), None)
    } else {
        Parsed::Incomplete
    }
}

/// Decodes one character or sequence at the front of `buf` (not empty). With `flushing`,
/// nothing more will come, so an unfinished sequence is resolved as the keys typed.
fn parse(buf: &[u8], flushing: bool) -> Parsed {
    let c = buf[0];
    if c == ESC {
        return escape(buf, flushing);
    }
    if c < 0x80 {
        return Parsed::Key(1, ascii(c));
    }
    // A UTF-8 character: no key on a US PC keyboard; wait for all its bytes to skip them.
    let n = utf8_len(c);
    if buf.len() < n && !flushing {
        return Parsed::Incomplete;
    }
    Parsed::Key(n.min(buf.len()), None)
}

fn with_alt(s: Stroke) -> Stroke {
    Stroke::new(s.mods | ALT, s.key)
}

fn escape(buf: &[u8], flushing: bool) -> Parsed {
    let Some(&next) = buf.get(1) else {
        return if flushing {
            Parsed::Key(1, Some(Stroke::new(0, KeyCode::Escape)))
        } else {
            Parsed::Incomplete
        };
    };
    let seq = match next {
        // Escape pressed, then whatever follows on its own.
        ESC => return Parsed::Key(1, Some(Stroke::new(0, KeyCode::Escape))),
        b'[' => csi(buf),
        b'O' => ss3(buf),
        _ => None,
    };
    match seq {
        Some(Parsed::Incomplete) if flushing => {}
        Some(parsed) => return parsed,
        None => {}
    }
    if next == b'[' || next == b'O' {
        // Not a sequence after all, or one that never went on: Alt+[ or Alt+O, and what
        // follows read as typed.
        return Parsed::Key(2, ascii(next).map(with_alt));
    }
    // Alt+key: ESC then the key's own bytes (an unfinished UTF-8 character waits too).
    match parse(&buf[1..], flushing) {
        Parsed::Key(n, stroke) => Parsed::Key(1 + n, stroke.map(with_alt)),
        Parsed::Incomplete => Parsed::Incomplete,
    }
}

/// Turns terminal input into PC key strokes, keeping an unfinished escape sequence between
/// calls.
#[derive(Debug, Default)]
pub struct TerminalKeys {
    /// Bytes of an unfinished sequence or UTF-8 character.
    pending: Vec<u8>,
}

impl TerminalKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `bytes` into key presses (`true`) and releases, in order. An unfinished
    /// sequence at the end (a lone ESC included) waits for the next call or for
    /// [`flush_pending`](Self::flush_pending).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<(KeyCode, bool)> {
        self.pending.extend_from_slice(bytes);
        self.decode(false)
    }

    /// Whether an unfinished sequence waits: the caller should call
    /// [`flush_pending`](Self::flush_pending) if no input follows within [`ESCAPE_TIMEOUT`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// No more input came: an unfinished sequence is what the user typed (a lone ESC is the
    /// Escape key, `ESC [` is Alt+[); a partial UTF-8 character is dropped.
    pub fn flush_pending(&mut self) -> Vec<(KeyCode, bool)> {
        self.decode(true)
    }

    fn decode(&mut self, flushing: bool) -> Vec<(KeyCode, bool)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < self.pending.len() {
            match parse(&self.pending[pos..], flushing) {
                Parsed::Key(n, stroke) => {
                    if let Some(s) = stroke {
                        s.push_events(&mut out);
                    }
                    pos += n.max(1);
                }
                Parsed::Incomplete => break,
            }
        }
        self.pending.drain(..pos.min(self.pending.len()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyCode::*;

    /// Events of one stroke: modifiers down, key down and up, modifiers up in reverse.
    fn stroke(mods: &[KeyCode], key: KeyCode) -> Vec<(KeyCode, bool)> {
        let mut v: Vec<_> = mods.iter().map(|&m| (m, true)).collect();
        v.push((key, true));
        v.push((key, false));
        v.extend(mods.iter().rev().map(|&m| (m, false)));
        v
    }

    fn strokes(list: &[(&[KeyCode], KeyCode)]) -> Vec<(KeyCode, bool)> {
        list.iter().flat_map(|&(m, k)| stroke(m, k)).collect()
    }

    /// Feeds `bytes` to a fresh decoder and flushes, as after the escape timeout.
    fn keys(bytes: &[u8]) -> Vec<(KeyCode, bool)> {
        let mut t = TerminalKeys::new();
        let mut v = t.feed(bytes);
        v.extend(t.flush_pending());
        v
    }

    #[test]
    fn printable_ascii_on_a_us_layout() {
        assert_eq!(
            keys(b"aZ1! ~`"),
            strokes(&[
                (&[], A),
                (&[LeftShift], Z),
                (&[], Digit1),
                (&[LeftShift], Digit1),
                (&[], Space),
                (&[LeftShift], Backquote),
                (&[], Backquote),
            ])
        );
        assert_eq!(
            keys(b"{|}:\"<>?_+"),
            strokes(&[
                (&[LeftShift], LeftBracket),
                (&[LeftShift], Backslash),
                (&[LeftShift], RightBracket),
                (&[LeftShift], Semicolon),
                (&[LeftShift], Quote),
                (&[LeftShift], Comma),
                (&[LeftShift], Period),
                (&[LeftShift], Slash),
                (&[LeftShift], Minus),
                (&[LeftShift], Equal),
            ])
        );
        // Every printable character has a key, and no two share key and Shift state.
        let mut seen = std::collections::HashSet::new();
        for c in 0x20u8..0x7F {
            let s = printable(c).unwrap_or_else(|| panic!("{:?} has no key", c as char));
            assert!(seen.insert(s), "{:?} duplicates {s:?}", c as char);
        }
        assert_eq!(seen.len(), 95);
    }

    #[test]
    fn enter_backspace_tab_and_ctrl_letters() {
        assert_eq!(
            keys(b"\r\n\x7f\x08\t"),
            strokes(&[
                (&[], Enter),
                (&[], Enter),
                (&[], Backspace),
                (&[], Backspace),
                (&[], Tab),
            ])
        );
        assert_eq!(
            keys(b"\x03\x04\x1a\x02\x00\x1f"),
            strokes(&[
                (&[LeftCtrl], C),
                (&[LeftCtrl], D),
                (&[LeftCtrl], Z),
                (&[LeftCtrl], B),
                (&[LeftCtrl], Space),
                (&[LeftCtrl, LeftShift], Minus),
            ])
        );
    }

    #[test]
    fn lone_escape_waits_for_the_timeout() {
        let mut t = TerminalKeys::new();
        assert_eq!(t.feed(b"\x1b"), []);
        assert!(t.has_pending());
        assert_eq!(t.flush_pending(), stroke(&[], Escape));
        assert!(!t.has_pending());
        assert_eq!(t.flush_pending(), [], "flushing twice gives nothing");
        // Two presses in one read: the first is certain at once, the second waits.
        assert_eq!(t.feed(b"\x1b\x1b"), stroke(&[], Escape));
        assert_eq!(t.flush_pending(), stroke(&[], Escape));
        // Escape then Enter typed quickly is Alt+Enter, as every terminal program reads it.
        assert_eq!(t.feed(b"\x1b\r"), stroke(&[LeftAlt], Enter));
    }

    #[test]
    fn arrows_in_normal_and_application_mode() {
        let arrows = strokes(&[
            (&[], ArrowUp),
            (&[], ArrowDown),
            (&[], ArrowRight),
            (&[], ArrowLeft),
        ]);
        let mut t = TerminalKeys::new();
        assert_eq!(t.feed(b"\x1b[A\x1b[B\x1b[C\x1b[D"), arrows);
        assert_eq!(t.feed(b"\x1bOA\x1bOB\x1bOC\x1bOD"), arrows);
        assert!(
            !t.has_pending(),
            "complete sequences decode without a timeout"
        );
    }

    #[test]
    fn editing_keys() {
        let mut t = TerminalKeys::new();
        let home_end = strokes(&[(&[], Home), (&[], End)]);
        assert_eq!(t.feed(b"\x1b[H\x1b[F"), home_end);
        assert_eq!(t.feed(b"\x1bOH\x1bOF"), home_end);
        assert_eq!(t.feed(b"\x1b[1~\x1b[4~"), home_end);
        assert_eq!(t.feed(b"\x1b[7~\x1b[8~"), home_end, "rxvt");
        assert_eq!(
            t.feed(b"\x1b[2~\x1b[3~\x1b[5~\x1b[6~"),
            strokes(&[(&[], Insert), (&[], Delete), (&[], PageUp), (&[], PageDown)])
        );
        assert_eq!(t.feed(b"\x1b[Z"), stroke(&[LeftShift], Tab));
    }

    #[test]
    fn function_keys() {
        let mut t = TerminalKeys::new();
        let f1_4 = strokes(&[(&[], F1), (&[], F2), (&[], F3), (&[], F4)]);
        assert_eq!(t.feed(b"\x1bOP\x1bOQ\x1bOR\x1bOS"), f1_4);
        assert_eq!(t.feed(b"\x1b[11~\x1b[12~\x1b[13~\x1b[14~"), f1_4);
        assert_eq!(
            t.feed(b"\x1b[15~\x1b[17~\x1b[18~\x1b[19~\x1b[20~\x1b[21~\x1b[23~\x1b[24~"),
            strokes(&[
                (&[], F5),
                (&[], F6),
                (&[], F7),
                (&[], F8),
                (&[], F9),
                (&[], F10),
                (&[], F11),
                (&[], F12),
            ])
        );
        // Numbers xterm does not send (16, 22) are no key.
        assert_eq!(t.feed(b"\x1b[16~\x1b[22~"), []);
    }

    #[test]
    fn modifier_parameters() {
        let mut t = TerminalKeys::new();
        assert_eq!(t.feed(b"\x1b[1;5A"), stroke(&[LeftCtrl], ArrowUp));
        assert_eq!(t.feed(b"\x1b[1;2D"), stroke(&[LeftShift], ArrowLeft));
        assert_eq!(t.feed(b"\x1b[1;3H"), stroke(&[LeftAlt], Home));
        assert_eq!(t.feed(b"\x1b[1;2P"), stroke(&[LeftShift], F1));
        assert_eq!(t.feed(b"\x1b[3;5~"), stroke(&[LeftCtrl], Delete));
        assert_eq!(t.feed(b"\x1b[15;3~"), stroke(&[LeftAlt], F5));
        assert_eq!(
            t.feed(b"\x1b[24;8~"),
            stroke(&[LeftCtrl, LeftAlt, LeftShift], F12)
        );
        assert_eq!(t.feed(b"\x1bO5P"), stroke(&[LeftCtrl], F1));
        // A parameter of 1 or none means no modifier; nonsense ones are ignored.
        assert_eq!(t.feed(b"\x1b[1;1B"), stroke(&[], ArrowDown));
        assert_eq!(t.feed(b"\x1b[;C"), stroke(&[], ArrowRight));
        assert_eq!(t.feed(b"\x1b[1;99999999999C"), stroke(&[], ArrowRight));
    }

    #[test]
    fn alt_is_escape_then_the_key() {
        assert_eq!(
            keys(b"\x1ba\x1bA\x1b\x03\x1b1"),
            strokes(&[
                (&[LeftAlt], A),
                (&[LeftAlt, LeftShift], A),
                (&[LeftCtrl, LeftAlt], C),
                (&[LeftAlt], Digit1),
            ])
        );
        // Alt+[ and Alt+O look like the start of a sequence until the timeout.
        let mut t = TerminalKeys::new();
        assert_eq!(t.feed(b"\x1b["), []);
        assert_eq!(t.flush_pending(), stroke(&[LeftAlt], LeftBracket));
        assert_eq!(t.feed(b"\x1bO"), []);
        assert_eq!(t.flush_pending(), stroke(&[LeftAlt, LeftShift], O));
        // A CSI that never finished: Alt+[, then the rest as typed.
        assert_eq!(t.feed(b"\x1b[1;"), []);
        assert_eq!(
            t.flush_pending(),
            strokes(&[(&[LeftAlt], LeftBracket), (&[], Digit1), (&[], Semicolon)])
        );
        // Followed by something no sequence can contain: Alt+O, then Enter.
        assert_eq!(
            t.feed(b"\x1bO\r"),
            strokes(&[(&[LeftAlt, LeftShift], O), (&[], Enter)])
        );
    }

    #[test]
    fn sequences_split_across_reads() {
        let mut t = TerminalKeys::new();
        assert_eq!(t.feed(b"x\x1b[1"), stroke(&[], X));
        assert!(t.has_pending());
        assert_eq!(t.feed(b";5A"), stroke(&[LeftCtrl], ArrowUp));
        assert!(!t.has_pending());
        assert_eq!(t.feed(b"\x1b"), []);
        assert_eq!(t.feed(b"[15"), []);
        assert_eq!(t.feed(b"~y"), strokes(&[(&[], F5), (&[], Y)]));
        assert_eq!(t.feed(b"\x1bO"), []);
        assert_eq!(t.feed(b"P"), stroke(&[], F1));
        assert_eq!(t.feed(b"\x1b"), []);
        assert_eq!(t.feed(b"q"), stroke(&[LeftAlt], Q));
    }

    #[test]
    fn utf8_without_a_pc_key_is_ignored() {
        let mut t = TerminalKeys::new();
        assert_eq!(t.feed("é€😀a".as_bytes()), stroke(&[], A));
        // Split inside a character: the rest is still recognised and skipped.
        assert_eq!(t.feed(b"\xe2\x82"), []);
        assert_eq!(t.feed(b"\xacb"), stroke(&[], B));
        // Stray continuation bytes and invalid leads are skipped one by one.
        assert_eq!(t.feed(b"\x80\xff\xc0c"), stroke(&[], C));
        // Alt with a non-ASCII character: nothing.
        assert_eq!(t.feed("\x1bé".as_bytes()), []);
        // A truncated character at the timeout is dropped.
        assert_eq!(t.feed(b"\xe2"), []);
        assert_eq!(t.flush_pending(), []);
        assert!(!t.has_pending());
    }

    #[test]
    fn sequences_with_no_key_are_consumed() {
        let mut t = TerminalKeys::new();
        // Bracketed paste marks, focus reports, an SGR mouse report, modifyOtherKeys.
        assert_eq!(
            t.feed(b"\x1b[200~hi\x1b[201~\x1b[I\x1b[O\x1b[<0;10;5M\x1b[27;5;9~"),
            strokes(&[(&[], H), (&[], I)])
        );
        assert!(!t.has_pending());
        // A sequence that never ends is dropped once it is longer than any key's.
        let mut endless = b"\x1b[".to_vec();
        endless.extend([b'1'; 40]);
        assert_eq!(t.feed(&endless), []);
        assert!(!t.has_pending());
        assert_eq!(t.feed(b"1A"), strokes(&[(&[], Digit1), (&[LeftShift], A)]));
    }

    #[test]
    fn keypad_in_application_mode() {
        assert_eq!(
            keys(b"\x1bOM\x1bOp\x1bOy\x1bOk"),
            strokes(&[
                (&[], NumpadEnter),
                (&[], Numpad0),
                (&[], Numpad9),
                (&[], NumpadAdd),
            ])
        );
    }

    #[test]
    fn every_byte_gives_balanced_strokes() {
        // Whatever arrives, each press is released and nothing stays held.
        for a in 0u8..=255 {
            for b in [0u8, b'[', b'O', b'5', b'A', 0x1B, 0xC3, 0x7F] {
                let mut held = std::collections::HashSet::new();
                for (k, down) in keys(&[a, b, b'~']) {
                    if down {
                        assert!(held.insert(k), "{a:#x} {b:#x}: {k:?} pressed twice");
                    } else {
                        assert!(held.remove(&k), "{a:#x} {b:#x}: {k:?} released unpressed");
                    }
                }
                assert!(held.is_empty(), "{a:#x} {b:#x}: {held:?} left held");
            }
        }
    }
}
