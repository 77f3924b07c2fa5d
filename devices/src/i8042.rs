//! The Intel 8042 keyboard controller (ports 0x60/0x64) with a PS/2 keyboard (IRQ 1) and a
//! PS/2 mouse (IRQ 12).
//!
//! The controller is instant: the input buffer is never busy, and a byte moves from a device
//! into the single output buffer as soon as the buffer is empty (controller replies first, then
//! the keyboard, then the mouse). A device's IRQ line is high while the output buffer holds one
//! of its bytes and the command byte enables its interrupt, so every byte is a rising edge.
//!
//! Behaviour follows what SeaBIOS (`ps2port.c`, `kbd.c`, `mouse.c`) and Linux (`i8042.c`,
//! `atkbd.c`, `psmouse`) use: the command byte and internal RAM, port enable/disable and tests,
//! the output port (A20 and reset), the set 2 → set 1 translation, the keyboard's command set
//! with scan code sets 1, 2 and 3, and a mouse with stream/remote/wrap modes and the
//! IntelliMouse (id 3, wheel) and IntelliMouse Explorer (id 4, wheel and buttons 4/5)
//! extensions. Not modelled: typematic repeat (the front end repeats key presses), sample-rate
//! pacing and resolution scaling of mouse movement.
//!
//! Host input comes from other threads through [`InputHandle`], a lock-free channel with a
//! count of queued events (as `serial::SerialInput`). The controller takes the next key event
//! only when the keyboard's FIFO is empty, and the next mouse event only when the mouse has
//! reported everything before it, so a burst is paced the way a real keyboard paces its
//! bytes: nothing is dropped for want of buffer space, a command reply is never stuck behind
//! a long run of scan codes, and a click (press then release) is never merged into one
//! packet. Events are taken after each read of the data port and in `poll_timer`, which asks
//! to be called again every [`INPUT_POLL_NS`] only while events wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use emu_core::bus::PortDevice;
use emu_core::control::{MachineControl, REQ_RESET};
use emu_core::irq::IrqLines;

/// The ports the controller decodes: data (0x60) and status/command (0x64).
pub const I8042_PORTS: [u16; 2] = [0x60, 0x64];
pub const KBD_IRQ: u8 = 1;
pub const AUX_IRQ: u8 = 12;

/// How often `poll_timer` looks at the input queue while events wait for the guest (virtual
/// nanoseconds): about the time a real keyboard needs to clock out a scan code byte.
pub const INPUT_POLL_NS: u64 = 1_000_000;

// Status register (read 0x64).
const STS_OBF: u8 = 0x01;
const STS_SYS: u8 = 0x04;
/// The last write went to port 0x64.
const STS_CMD: u8 = 0x08;
/// Keyboard lock switch: set means not inhibited.
const STS_UNLOCKED: u8 = 0x10;
/// The output buffer holds a byte from the mouse.
const STS_AUX_OBF: u8 = 0x20;

// Command byte (internal RAM byte 0).
pub const CB_KBD_INT: u8 = 0x01;
pub const CB_AUX_INT: u8 = 0x02;
pub const CB_SYS: u8 = 0x04;
pub const CB_KBD_DIS: u8 = 0x10;
pub const CB_AUX_DIS: u8 = 0x20;
pub const CB_XLATE: u8 = 0x40;

// Output port (0xD0/0xD1).
const OUT_RESET: u8 = 0x01; // low resets the CPU
const OUT_A20: u8 = 0x02;
const OUT_KBD_OBF: u8 = 0x10;
const OUT_AUX_OBF: u8 = 0x20;

// Device replies.
const ACK: u8 = 0xFA;
const RESEND: u8 = 0xFE;
const BAT_OK: u8 = 0xAA;
const ECHO: u8 = 0xEE;

/// Key data a device buffers before it drops events (the hardware's 16-byte FIFO; Linux's
/// `i8042_flush` gives up on a controller that delivers much more).
const KBD_QUEUE_LIMIT: usize = 16;
const MOUSE_QUEUE_LIMIT: usize = 16;

/// The 8042's set 2 → set 1 translation for bytes below 0x80 (0x83 and 0x84 are the only
/// higher bytes that change; the rest pass through).
#[rustfmt::skip]
const SET2_TO_SET1: [u8; 128] = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
];

/// Translates one byte coming from the keyboard. An 0xF0 break prefix is swallowed and sets
/// bit 7 of the next translated byte.
fn translate(b: u8, break_pending: &mut bool) -> Option<u8> {
    if b == 0xF0 {
        *break_pending = true;
        return None;
    }
    let t = match b {
        0x00..=0x7F => SET2_TO_SET1[b as usize],
        0x83 => 0x41,
        0x84 => 0x54,
        _ => b,
    };
    Some(if std::mem::take(break_pending) {
        t | 0x80
    } else {
        t
    })
}

macro_rules! keys {
    ($($(#[$doc:meta])* $name:ident = $set2:literal, $set3:literal;)*) => {
        /// PC keys. The discriminant is the set-2 make code: the low byte, with an E0 prefix
        /// when the high byte is 0xE0. Two keys are special: `PrintScreen` (E0 12 E0 7C, or
        /// E0 7C / 84 under Shift or Ctrl / Alt) and `Pause` (E1 14 77 E1 F0 14 F0 77, or
        /// E0 7E E0 F0 7E under Ctrl; make only).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum KeyCode {
            $($(#[$doc])* $name = $set2,)*
        }

        impl KeyCode {
            pub const ALL: &'static [KeyCode] = &[$(KeyCode::$name,)*];

            /// Scan code set 3 code (one byte, break is F0 + code); 0 if the key has none.
            fn set3(self) -> u8 {
                match self {
                    $(KeyCode::$name => $set3,)*
                }
            }
        }
    };
}

keys! {
    Escape = 0x76, 0x08;
    F1 = 0x05, 0x07;
    F2 = 0x06, 0x0F;
    F3 = 0x04, 0x17;
    F4 = 0x0C, 0x1F;
    F5 = 0x03, 0x27;
    F6 = 0x0B, 0x2F;
    F7 = 0x83, 0x37;
    F8 = 0x0A, 0x3F;
    F9 = 0x01, 0x47;
    F10 = 0x09, 0x4F;
    F11 = 0x78, 0x56;
    F12 = 0x07, 0x5E;
    PrintScreen = 0xE07C, 0x57;
    ScrollLock = 0x7E, 0x5F;
    Pause = 0xE177, 0x62;

    Backquote = 0x0E, 0x0E;
    Digit1 = 0x16, 0x16;
    Digit2 = 0x1E, 0x1E;
    Digit3 = 0x26, 0x26;
    Digit4 = 0x25, 0x25;
    Digit5 = 0x2E, 0x2E;
    Digit6 = 0x36, 0x36;
    Digit7 = 0x3D, 0x3D;
    Digit8 = 0x3E, 0x3E;
    Digit9 = 0x46, 0x46;
    Digit0 = 0x45, 0x45;
    Minus = 0x4E, 0x4E;
    Equal = 0x55, 0x55;
    Backspace = 0x66, 0x66;

    Tab = 0x0D, 0x0D;
    Q = 0x15, 0x15;
    W = 0x1D, 0x1D;
    E = 0x24, 0x24;
    R = 0x2D, 0x2D;
    T = 0x2C, 0x2C;
    Y = 0x35, 0x35;
    U = 0x3C, 0x3C;
    I = 0x43, 0x43;
    O = 0x44, 0x44;
    P = 0x4D, 0x4D;
    LeftBracket = 0x54, 0x54;
    RightBracket = 0x5B, 0x5B;
    Backslash = 0x5D, 0x5C;

    CapsLock = 0x58, 0x14;
    A = 0x1C, 0x1C;
    S = 0x1B, 0x1B;
    D = 0x23, 0x23;
    F = 0x2B, 0x2B;
    G = 0x34, 0x34;
    H = 0x33, 0x33;
    J = 0x3B, 0x3B;
    K = 0x42, 0x42;
    L = 0x4B, 0x4B;
    Semicolon = 0x4C, 0x4C;
    Quote = 0x52, 0x52;
    Enter = 0x5A, 0x5A;

    LeftShift = 0x12, 0x12;
    /// The extra key left of Z on ISO keyboards.
    IntlBackslash = 0x61, 0x13;
    Z = 0x1A, 0x1A;
    X = 0x22, 0x22;
    C = 0x21, 0x21;
    V = 0x2A, 0x2A;
    B = 0x32, 0x32;
    N = 0x31, 0x31;
    M = 0x3A, 0x3A;
    Comma = 0x41, 0x41;
    Period = 0x49, 0x49;
    Slash = 0x4A, 0x4A;
    RightShift = 0x59, 0x59;

    LeftCtrl = 0x14, 0x11;
    LeftMeta = 0xE01F, 0x8B;
    LeftAlt = 0x11, 0x19;
    Space = 0x29, 0x29;
    RightAlt = 0xE011, 0x39;
    RightMeta = 0xE027, 0x8C;
    Menu = 0xE02F, 0x8D;
    RightCtrl = 0xE014, 0x58;

    Insert = 0xE070, 0x67;
    Home = 0xE06C, 0x6E;
    PageUp = 0xE07D, 0x6F;
    Delete = 0xE071, 0x64;
    End = 0xE069, 0x65;
    PageDown = 0xE07A, 0x6D;
    ArrowUp = 0xE075, 0x63;
    ArrowLeft = 0xE06B, 0x61;
    ArrowDown = 0xE072, 0x60;
    ArrowRight = 0xE074, 0x6A;

    NumLock = 0x77, 0x76;
    NumpadDivide = 0xE04A, 0x77;
    NumpadMultiply = 0x7C, 0x7E;
    NumpadSubtract = 0x7B, 0x84;
    NumpadAdd = 0x79, 0x7C;
    NumpadEnter = 0xE05A, 0x79;
    NumpadDecimal = 0x71, 0x71;
    Numpad0 = 0x70, 0x70;
    Numpad1 = 0x69, 0x69;
    Numpad2 = 0x72, 0x72;
    Numpad3 = 0x7A, 0x7A;
    Numpad4 = 0x6B, 0x6B;
    Numpad5 = 0x73, 0x73;
    Numpad6 = 0x74, 0x74;
    Numpad7 = 0x6C, 0x6C;
    Numpad8 = 0x75, 0x75;
    Numpad9 = 0x7D, 0x7D;

    IntlRo = 0x51, 0x00;
    IntlYen = 0x6A, 0x00;
    Convert = 0x64, 0x86;
    NonConvert = 0x67, 0x85;
    KanaMode = 0x13, 0x87;

    Power = 0xE037, 0x00;
    Sleep = 0xE03F, 0x00;
    Wake = 0xE05E, 0x00;
    AudioVolumeMute = 0xE023, 0x9C;
    AudioVolumeDown = 0xE021, 0x9D;
    AudioVolumeUp = 0xE032, 0x95;
    MediaPlayPause = 0xE034, 0x00;
    MediaStop = 0xE03B, 0x98;
    MediaTrackNext = 0xE04D, 0x93;
    MediaTrackPrevious = 0xE015, 0x94;
}

impl KeyCode {
    /// The set-2 make code (0xE0xx for E0-prefixed keys; see the type's note on `Pause`).
    pub fn set2(self) -> u16 {
        self as u16
    }

    /// Bit in `Ps2Keyboard::modifiers` for the modifier keys that change what
    /// `PrintScreen` and `Pause` send.
    fn modifier_bit(self) -> u8 {
        match self {
            KeyCode::LeftCtrl => 0x01,
            KeyCode::RightCtrl => 0x02,
            KeyCode::LeftShift => 0x04,
            KeyCode::RightShift => 0x08,
            KeyCode::LeftAlt => 0x10,
            KeyCode::RightAlt => 0x20,
            _ => 0,
        }
    }
}

const MOD_CTRL: u8 = 0x03;
const MOD_SHIFT: u8 = 0x0C;
const MOD_ALT: u8 = 0x30;

/// The set-2 bytes for a key press or release (`modifiers` as in `Ps2Keyboard`).
fn set2_sequence(key: KeyCode, pressed: bool, modifiers: u8) -> Vec<u8> {
    let code = key.set2();
    match (key, pressed) {
        (KeyCode::Pause, false) => vec![],
        (KeyCode::Pause, true) if modifiers & MOD_CTRL != 0 => vec![0xE0, 0x7E, 0xE0, 0xF0, 0x7E],
        (KeyCode::Pause, true) => vec![0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77],
        (KeyCode::PrintScreen, _) if modifiers & MOD_ALT != 0 => {
            if pressed {
                vec![0x84]
            } else {
                vec![0xF0, 0x84]
            }
        }
        (KeyCode::PrintScreen, true) if modifiers & (MOD_CTRL | MOD_SHIFT) == 0 => {
            vec![0xE0, 0x12, 0xE0, 0x7C]
        }
        (KeyCode::PrintScreen, false) if modifiers & (MOD_CTRL | MOD_SHIFT) == 0 => {
            vec![0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12]
        }
        _ => {
            let mut v = Vec::with_capacity(3);
            if code >> 8 == 0xE0 {
                v.push(0xE0);
            }
            if !pressed {
                v.push(0xF0);
            }
            v.push(code as u8);
            v
        }
    }
}

/// A PS/2 (MF2) keyboard: command interpreter and its output FIFO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ps2Keyboard {
    /// Bytes waiting to go to the controller.
    pub queue: VecDeque<u8>,
    /// Scan code set 1, 2 or 3.
    pub scan_set: u8,
    /// Scanning enabled (key events are reported).
    pub scanning: bool,
    /// LED state from command 0xED: bit 0 Scroll, 1 Num, 2 Caps Lock.
    pub leds: u8,
    /// Typematic rate/delay byte from command 0xF3.
    pub typematic: u8,
    /// Command waiting for its argument byte.
    pub pending: Option<u8>,
    /// Last byte sent to the controller (for 0xFE resend).
    pub last_sent: u8,
    /// Held modifier keys (see `KeyCode::modifier_bit`).
    pub modifiers: u8,
}

impl Default for Ps2Keyboard {
    fn default() -> Self {
        Ps2Keyboard {
            queue: VecDeque::new(),
            scan_set: 2,
            scanning: true,
            leds: 0,
            typematic: 0x2B,
            pending: None,
            last_sent: 0,
            modifiers: 0,
        }
    }
}

impl Ps2Keyboard {
    fn pop(&mut self) -> Option<u8> {
        let b = self.queue.pop_front()?;
        self.last_sent = b;
        Some(b)
    }

    fn send(&mut self, bytes: &[u8]) {
        self.queue.extend(bytes);
    }

    /// A byte from the host (through port 0x60).
    pub fn write(&mut self, b: u8) {
        if let Some(cmd) = self.pending {
            // Arguments are below the command range; a command aborts the wait.
            if b < 0xED {
                match cmd {
                    0xED => self.leds = b & 7,
                    0xF3 => self.typematic = b & 0x7F,
                    0xF0 => {
                        self.send(&[ACK]);
                        match b {
                            0 => self.send(&[self.scan_set]),
                            1..=3 => self.scan_set = b,
                            _ => {}
                        }
                        self.pending = None;
                        return;
                    }
                    _ => {} // 0xFB-0xFD key lists: every key is acknowledged.
                }
                if matches!(cmd, 0xED | 0xF3) {
                    self.pending = None;
                }
                self.send(&[ACK]);
                return;
            }
            self.pending = None;
        }
        match b {
            0xED | 0xF0 | 0xF3 | 0xFB..=0xFD => {
                self.pending = Some(b);
                self.send(&[ACK]);
            }
            0xEE => self.send(&[ECHO]),
            0xF2 => self.send(&[ACK, 0xAB, 0x83]),
            0xF4 => {
                self.queue.clear();
                self.scanning = true;
                self.send(&[ACK]);
            }
            0xF5 | 0xF6 => {
                self.queue.clear();
                self.typematic = 0x2B;
                self.scanning = b == 0xF6;
                self.send(&[ACK]);
            }
            // Set-3 key types (all typematic / make-break / make only): acknowledged, ignored.
            0xF7..=0xFA => self.send(&[ACK]),
            0xFE => self.send(&[self.last_sent]),
            0xFF => {
                *self = Ps2Keyboard {
                    last_sent: self.last_sent,
                    modifiers: self.modifiers,
                    ..Default::default()
                };
                self.send(&[ACK, BAT_OK]);
            }
            _ => self.send(&[RESEND]),
        }
    }

    /// A key changed state on the host keyboard.
    pub fn key(&mut self, key: KeyCode, pressed: bool) {
        let bit = key.modifier_bit();
        if pressed {
            self.modifiers |= bit;
        } else {
            self.modifiers &= !bit;
        }
        if !self.scanning {
            return;
        }
        let bytes = match self.scan_set {
            1 => {
                let mut brk = false;
                set2_sequence(key, pressed, self.modifiers)
                    .into_iter()
                    .filter_map(|b| translate(b, &mut brk))
                    .collect()
            }
            3 => match (key.set3(), pressed) {
                (0, _) => vec![],
                (c, true) => vec![c],
                (c, false) => vec![0xF0, c],
            },
            _ => set2_sequence(key, pressed, self.modifiers),
        };
        // Drop the whole event rather than send half a sequence.
        if self.queue.len() + bytes.len() <= KBD_QUEUE_LIMIT {
            self.send(&bytes);
        }
    }
}

/// A PS/2 mouse with the IntelliMouse wheel extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ps2Mouse {
    /// Bytes waiting to go to the controller.
    pub queue: VecDeque<u8>,
    /// Command waiting for its argument byte (0xE8, 0xF3).
    pub pending: Option<u8>,
    pub sample_rate: u8,
    /// 0-3: 1, 2, 4, 8 counts/mm.
    pub resolution: u8,
    pub scaling_2to1: bool,
    /// Remote mode (report only on 0xEB), else stream mode.
    pub remote: bool,
    /// Data reporting enabled (0xF4) in stream mode.
    pub reporting: bool,
    /// Wrap (echo) mode.
    pub wrap: bool,
    /// Device id: 0 plain, 3 IntelliMouse, 4 IntelliMouse Explorer.
    pub id: u8,
    /// The last three sample rates set, oldest first (the id knock sequences).
    pub rates: [u8; 3],
    /// Unreported movement in PS/2 sense: x right, y up, z negative for the wheel turned up.
    pub dx: i32,
    pub dy: i32,
    pub dz: i32,
    /// Button state: bit 0 left, 1 right, 2 middle, 3 button 4, 4 button 5.
    pub buttons: u8,
    /// Buttons as last reported.
    pub reported_buttons: u8,
    /// Last byte sent to the controller (for 0xFE resend).
    pub last_sent: u8,
}

impl Default for Ps2Mouse {
    fn default() -> Self {
        Ps2Mouse {
            queue: VecDeque::new(),
            pending: None,
            sample_rate: 100,
            resolution: 2,
            scaling_2to1: false,
            remote: false,
            reporting: false,
            wrap: false,
            id: 0,
            rates: [0; 3],
            dx: 0,
            dy: 0,
            dz: 0,
            buttons: 0,
            reported_buttons: 0,
            last_sent: 0,
        }
    }
}

/// Clamps a movement to the 9-bit two's complement range; `true` if it did not fit.
fn fit9(v: i32) -> (i32, bool) {
    let c = v.clamp(-256, 255);
    (c, c != v)
}

/// 2:1 scaling of a reported movement (stream mode only).
fn scale_2to1(v: i32) -> i32 {
    let m = match v.abs() {
        0 => 0,
        1 | 2 => 1,
        3 => 3,
        4 => 6,
        5 => 9,
        a => 2 * a,
    };
    (m * v.signum()).clamp(-256, 255)
}

impl Ps2Mouse {
    fn pop(&mut self) -> Option<u8> {
        let b = self.queue.pop_front()?;
        self.last_sent = b;
        // Room freed: report movement that was held back.
        self.stream();
        Some(b)
    }

    fn send(&mut self, bytes: &[u8]) {
        self.queue.extend(bytes);
    }

    fn packet_size(&self) -> usize {
        if self.id >= 3 {
            4
        } else {
            3
        }
    }

    fn clear_counters(&mut self) {
        self.dx = 0;
        self.dy = 0;
        self.dz = 0;
        self.reported_buttons = self.buttons;
    }

    fn set_defaults(&mut self) {
        self.sample_rate = 100;
        self.resolution = 2;
        self.scaling_2to1 = false;
        self.remote = false;
        self.reporting = false;
        self.clear_counters();
    }

    fn set_sample_rate(&mut self, rate: u8) {
        self.sample_rate = rate;
        self.rates = [self.rates[1], self.rates[2], rate];
        match (self.id, self.rates) {
            (0, [200, 100, 80]) => self.id = 3,
            (3, [200, 200, 80]) => self.id = 4,
            _ => {}
        }
    }

    /// Queues one movement packet. In stream mode the movement is split over packets and
    /// nothing is lost; a remote-mode read reports all it has, with the overflow bits set
    /// when the counters went past nine bits.
    fn push_packet(&mut self, stream: bool) {
        let (x, x_over) = fit9(self.dx);
        let (y, y_over) = fit9(self.dy);
        let z = match self.id {
            3 | 4 => self.dz.clamp(-8, 7),
            _ => 0,
        };
        let (rx, ry, x_over, y_over) = if stream {
            self.dx -= x;
            self.dy -= y;
            self.dz -= z;
            if self.scaling_2to1 {
                (scale_2to1(x), scale_2to1(y), false, false)
            } else {
                (x, y, false, false)
            }
        } else {
            self.dx = 0;
            self.dy = 0;
            self.dz = 0;
            (x, y, x_over, y_over)
        };
        if self.id < 3 {
            self.dz = 0;
        }
        let b = self.buttons;
        let head = 0x08
            | (b & 0x07)
            | u8::from(rx < 0) << 4
            | u8::from(ry < 0) << 5
            | u8::from(x_over) << 6
            | u8::from(y_over) << 7;
        self.send(&[head, rx as u8, ry as u8]);
        match self.id {
            3 => self.send(&[z as u8]),
            4 => self.send(&[(z as u8 & 0x0F) | (b & 0x18) << 1]),
            _ => {}
        }
        self.reported_buttons = b;
    }

    /// Stream mode: queues packets for pending movement while the FIFO has room.
    fn stream(&mut self) {
        if self.remote || !self.reporting || self.wrap {
            return;
        }
        while self.queue.len() + self.packet_size() <= MOUSE_QUEUE_LIMIT
            && (self.dx != 0
                || self.dy != 0
                || self.dz != 0
                || self.buttons != self.reported_buttons)
        {
            self.push_packet(true);
        }
    }

    /// Host mouse input: `dx` right, `dy` down, `dz` wheel turned up (away from the user).
    pub fn event(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8) {
        self.buttons = buttons & 0x1F;
        if !self.remote && !self.reporting {
            // Stream mode with reporting off: the movement is gone.
            return;
        }
        const LIMIT: i32 = 1 << 16;
        self.dx = self.dx.saturating_add(dx).clamp(-LIMIT, LIMIT);
        self.dy = self.dy.saturating_sub(dy).clamp(-LIMIT, LIMIT);
        if self.id >= 3 {
            self.dz = self.dz.saturating_sub(dz).clamp(-LIMIT, LIMIT);
        }
        self.stream();
    }

    /// A byte from the host (through controller command 0xD4).
    pub fn write(&mut self, b: u8) {
        if self.wrap && b != 0xEC && b != 0xFF {
            self.send(&[b]);
            return;
        }
        if let Some(cmd) = self.pending.take() {
            match cmd {
                0xE8 => self.resolution = b & 3,
                _ => self.set_sample_rate(b),
            }
            self.send(&[ACK]);
            return;
        }
        match b {
            0xE6 | 0xE7 => {
                self.scaling_2to1 = b == 0xE7;
                self.send(&[ACK]);
            }
            0xE8 | 0xF3 => {
                self.pending = Some(b);
                self.send(&[ACK]);
            }
            0xE9 => {
                let btn = self.buttons;
                let status = u8::from(self.remote) << 6
                    | u8::from(self.reporting) << 5
                    | u8::from(self.scaling_2to1) << 4
                    | (btn & 1) << 2
                    | (btn & 4) >> 1
                    | (btn & 2) >> 1;
                self.send(&[ACK, status, self.resolution, self.sample_rate]);
            }
            0xEA | 0xF0 => {
                self.remote = b == 0xF0;
                self.clear_counters();
                self.send(&[ACK]);
            }
            0xEB => {
                self.send(&[ACK]);
                self.push_packet(false);
            }
            0xEC => self.send(&[ACK]),
            0xEE => {
                self.wrap = true;
                self.clear_counters();
                self.send(&[ACK]);
            }
            0xF2 => {
                self.clear_counters();
                self.send(&[ACK, self.id]);
            }
            0xF4 => {
                self.reporting = true;
                self.clear_counters();
                self.send(&[ACK]);
            }
            0xF5 => {
                self.reporting = false;
                self.queue.clear();
                self.clear_counters();
                self.send(&[ACK]);
            }
            0xF6 => {
                self.queue.clear();
                self.set_defaults();
                self.send(&[ACK]);
            }
            0xFE => self.send(&[self.last_sent]),
            0xFF => {
                *self = Ps2Mouse {
                    buttons: self.buttons,
                    reported_buttons: self.buttons,
                    last_sent: self.last_sent,
                    ..Default::default()
                };
                self.send(&[ACK, BAT_OK, 0x00]);
            }
            _ => self.send(&[RESEND]),
        }
    }
}

/// One piece of host input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputEvent {
    Key {
        key: KeyCode,
        pressed: bool,
    },
    /// As [`I8042::mouse_event`].
    Mouse {
        dx: i32,
        dy: i32,
        dz: i32,
        buttons: u8,
    },
}

/// The front end's side of the keyboard and mouse cables: a cloneable, `Send` handle whose
/// events the controller takes when the guest has room for them.
#[derive(Clone, Debug)]
pub struct InputHandle {
    tx: mpsc::Sender<InputEvent>,
    /// Events sent and not yet taken by the controller (counted before sending, so the
    /// controller never sees more events than the count).
    pending: Arc<AtomicUsize>,
}

impl InputHandle {
    /// Queues one event. False when the controller no longer exists.
    pub fn send(&self, event: InputEvent) -> bool {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(event).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// A key press or release. False when the controller no longer exists.
    pub fn key(&self, key: KeyCode, pressed: bool) -> bool {
        self.send(InputEvent::Key { key, pressed })
    }

    /// Mouse movement and buttons, as [`I8042::mouse_event`]. False when the controller no
    /// longer exists.
    pub fn mouse(&self, dx: i32, dy: i32, dz: i32, buttons: u8) -> bool {
        self.send(InputEvent::Mouse {
            dx,
            dy,
            dz,
            buttons,
        })
    }

    /// Events queued that the controller has not taken yet.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

/// Saveable state of the controller and both devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I8042State {
    /// Internal RAM; byte 0 is the command byte.
    pub ram: [u8; 32],
    /// Output port (A20 in bit 1, reset in bit 0; the OBF bits are computed on read).
    pub output_port: u8,
    /// Output buffer contents, still readable once the buffer was emptied.
    pub out_data: u8,
    pub out_full: bool,
    /// The output buffer byte came from the mouse side.
    pub out_aux: bool,
    /// The last write went to port 0x64 (status bit 3).
    pub last_was_command: bool,
    /// Controller command waiting for its data byte at port 0x60.
    pub pending: Option<u8>,
    /// Controller replies and 0xD2/0xD3 bytes waiting for the output buffer (`true`: mouse).
    pub replies: VecDeque<(u8, bool)>,
    /// Translation swallowed an 0xF0 break prefix.
    pub xlate_break: bool,
    pub keyboard: Ps2Keyboard,
    pub mouse: Ps2Mouse,
}

impl Default for I8042State {
    fn default() -> Self {
        let mut ram = [0; 32];
        ram[0] = CB_KBD_INT | CB_AUX_INT;
        I8042State {
            ram,
            output_port: 0xCF,
            out_data: 0,
            out_full: false,
            out_aux: false,
            last_was_command: false,
            pending: None,
            replies: VecDeque::new(),
            xlate_break: false,
            keyboard: Ps2Keyboard::default(),
            mouse: Ps2Mouse::default(),
        }
    }
}

/// The 8042 with its keyboard and mouse.
pub struct I8042 {
    irq: IrqLines,
    control: Arc<MachineControl>,
    s: I8042State,
    input_tx: mpsc::Sender<InputEvent>,
    input_rx: mpsc::Receiver<InputEvent>,
    input_pending: Arc<AtomicUsize>,
    /// An event taken from the channel that the devices had no room for yet. Host-side input,
    /// like the channel, so not part of the saved state.
    staged: Option<InputEvent>,
}

impl I8042 {
    pub fn new(irq: IrqLines, control: Arc<MachineControl>) -> Self {
        let (input_tx, input_rx) = mpsc::channel();
        I8042 {
            irq,
            control,
            s: I8042State::default(),
            input_tx,
            input_rx,
            input_pending: Arc::new(AtomicUsize::new(0)),
            staged: None,
        }
    }

    /// A handle through which other threads type on the keyboard and move the mouse.
    pub fn input_handle(&self) -> InputHandle {
        InputHandle {
            tx: self.input_tx.clone(),
            pending: self.input_pending.clone(),
        }
    }

    /// Host input is waiting for the guest to make room.
    fn input_waiting(&self) -> bool {
        self.staged.is_some() || self.input_pending.load(Ordering::Acquire) > 0
    }

    /// Whether the devices can take `ev` now without dropping or merging anything.
    fn ready_for(&self, ev: &InputEvent) -> bool {
        match ev {
            // One key's bytes at a time, as a real keyboard sends them.
            InputEvent::Key { .. } => self.s.keyboard.queue.is_empty(),
            // The mouse folds movement and buttons into its counters, so an event before
            // the last one was reported would merge a press and release into nothing.
            InputEvent::Mouse { .. } => self.s.mouse.queue.is_empty(),
        }
    }

    /// Takes queued host input while the devices have room for it.
    fn pull_input(&mut self) {
        loop {
            let ev = match self.staged.take() {
                Some(ev) => ev,
                None if self.input_pending.load(Ordering::Acquire) == 0 => return,
                None => match self.input_rx.try_recv() {
                    Ok(ev) => {
                        self.input_pending.fetch_sub(1, Ordering::AcqRel);
                        ev
                    }
                    Err(_) => return,
                },
            };
            if !self.ready_for(&ev) {
                self.staged = Some(ev);
                return;
            }
            match ev {
                InputEvent::Key { key, pressed } => self.key_event(key, pressed),
                InputEvent::Mouse {
                    dx,
                    dy,
                    dz,
                    buttons,
                } => self.mouse_event(dx, dy, dz, buttons),
            }
        }
    }

    pub fn state(&self) -> I8042State {
        self.s.clone()
    }

    pub fn restore(&mut self, s: I8042State) {
        self.s = s;
        self.update_irq();
    }

    /// Power-on state (machine reset). Input queued by the front end stays queued.
    pub fn reset(&mut self) {
        self.s = I8042State::default();
        self.update_irq();
    }

    /// The command byte (translation, interrupt enables, port disables, system flag).
    pub fn command_byte(&self) -> u8 {
        self.s.ram[0]
    }

    /// Keyboard LEDs as the guest set them: bit 0 Scroll, 1 Num, 2 Caps Lock.
    pub fn keyboard_leds(&self) -> u8 {
        self.s.keyboard.leds
    }

    /// A host key press or release.
    pub fn key_event(&mut self, key: KeyCode, pressed: bool) {
        self.s.keyboard.key(key, pressed);
        self.fill();
    }

    /// Host mouse input: relative movement (`dx` right, `dy` down, `dz` wheel turned up) and
    /// the buttons held (bit 0 left, 1 right, 2 middle, 3 button 4, 4 button 5).
    pub fn mouse_event(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8) {
        self.s.mouse.event(dx, dy, dz, buttons);
        self.fill();
    }

    fn update_irq(&self) {
        let s = &self.s;
        let cb = s.ram[0];
        self.irq
            .set(KBD_IRQ, s.out_full && !s.out_aux && cb & CB_KBD_INT != 0);
        self.irq
            .set(AUX_IRQ, s.out_full && s.out_aux && cb & CB_AUX_INT != 0);
    }

    /// Moves the next byte into an empty output buffer: controller replies, then the
    /// keyboard (unless disabled; translated if enabled), then the mouse (unless disabled).
    fn fill(&mut self) {
        let s = &mut self.s;
        while !s.out_full {
            let cb = s.ram[0];
            let kbd_open = cb & CB_KBD_DIS == 0;
            let aux_open = cb & CB_AUX_DIS == 0;
            let (b, aux) = if let Some(r) = s.replies.pop_front() {
                r
            } else if let Some(b) = kbd_open.then(|| s.keyboard.pop()).flatten() {
                if cb & CB_XLATE == 0 {
                    (b, false)
                } else {
                    match translate(b, &mut s.xlate_break) {
                        Some(t) => (t, false),
                        None => continue, // a break prefix: take the next byte
                    }
                }
            } else if let Some(b) = aux_open.then(|| s.mouse.pop()).flatten() {
                (b, true)
            } else {
                break;
            };
            s.out_data = b;
            s.out_aux = aux;
            s.out_full = true;
        }
        self.update_irq();
    }

    fn reply(&mut self, b: u8, aux: bool) {
        self.s.replies.push_back((b, aux));
    }

    fn set_a20(&mut self, on: bool) {
        if on {
            self.s.output_port |= OUT_A20;
        } else {
            self.s.output_port &= !OUT_A20;
        }
        if on != self.control.a20() {
            self.control.set_a20(on);
        }
    }

    fn read_output_port(&self) -> u8 {
        let s = &self.s;
        let mut v = s.output_port & !(OUT_A20 | OUT_KBD_OBF | OUT_AUX_OBF);
        if self.control.a20() {
            v |= OUT_A20;
        }
        if s.out_full {
            v |= if s.out_aux { OUT_AUX_OBF } else { OUT_KBD_OBF };
        }
        v
    }

    fn write_output_port(&mut self, v: u8) {
        self.s.output_port = v;
        self.set_a20(v & OUT_A20 != 0);
        if v & OUT_RESET == 0 {
            self.control.raise(REQ_RESET);
        }
    }

    fn read_status(&self) -> u8 {
        let s = &self.s;
        let mut v = STS_UNLOCKED;
        if s.out_full {
            v |= STS_OBF;
            if s.out_aux {
                v |= STS_AUX_OBF;
            }
        }
        if s.ram[0] & CB_SYS != 0 {
            v |= STS_SYS;
        }
        if s.last_was_command {
            v |= STS_CMD;
        }
        v
    }

    fn read_data(&mut self) -> u8 {
        let v = self.s.out_data;
        if self.s.out_full {
            self.s.out_full = false;
            // Lower the line first so the next byte is a fresh edge.
            self.update_irq();
            self.fill();
            self.pull_input();
        }
        v
    }

    fn write_command(&mut self, cmd: u8) {
        self.s.last_was_command = true;
        self.s.pending = None;
        match cmd {
            0x20..=0x3F => self.reply(self.s.ram[(cmd & 0x1F) as usize], false),
            0x60..=0x7F | 0xD1..=0xD4 => self.s.pending = Some(cmd),
            0xA4 => self.reply(0xF1, false), // no password installed
            0xA7 => self.s.ram[0] |= CB_AUX_DIS,
            0xA8 => self.s.ram[0] &= !CB_AUX_DIS,
            0xA9 | 0xAB => self.reply(0x00, false), // port test: no error
            0xAA => {
                self.s.ram[0] |= CB_SYS;
                self.reply(0x55, false);
            }
            0xAD => self.s.ram[0] |= CB_KBD_DIS,
            0xAE => self.s.ram[0] &= !CB_KBD_DIS,
            // Input port: keyboard not inhibited, no manufacturing jumper.
            0xC0 => self.reply(0xA0, false),
            0xD0 => self.reply(self.read_output_port(), false),
            0xDD => self.set_a20(false),
            0xDF => self.set_a20(true),
            0xE0 => self.reply(0x00, false), // test inputs
            // Pulse output port bits 0-3 low for those clear in the command: bit 0 is reset.
            0xF0..=0xFF if cmd & 1 == 0 => self.control.raise(REQ_RESET),
            _ => {}
        }
        self.fill();
    }

    fn write_data(&mut self, v: u8) {
        self.s.last_was_command = false;
        match self.s.pending.take() {
            Some(c @ 0x60..=0x7F) => {
                let idx = (c & 0x1F) as usize;
                if idx == 0 && (self.s.ram[0] ^ v) & CB_XLATE != 0 {
                    self.s.xlate_break = false;
                }
                self.s.ram[idx] = v;
            }
            Some(0xD1) => self.write_output_port(v),
            Some(0xD2) => self.reply(v, false),
            Some(0xD3) => self.reply(v, true),
            Some(0xD4) => {
                // Talking to a device enables its port.
                self.s.ram[0] &= !CB_AUX_DIS;
                self.s.mouse.write(v);
            }
            _ => {
                self.s.ram[0] &= !CB_KBD_DIS;
                self.s.keyboard.write(v);
            }
        }
        self.fill();
    }
}

impl PortDevice for I8042 {
    fn reset(&mut self) {
        I8042::reset(self);
    }

    fn read(&mut self, port: u16, _size: u8) -> u32 {
        (match port {
            0x60 => self.read_data(),
            0x64 => self.read_status(),
            _ => 0xFF,
        }) as u32
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        match port {
            0x60 => self.write_data(value as u8),
            0x64 => self.write_command(value as u8),
            _ => {}
        }
    }

    /// Takes queued host input; asks to be called again only while some of it waits (an idle
    /// controller costs the machine loop nothing).
    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        self.pull_input();
        self.input_waiting()
            .then(|| now_ns.saturating_add(INPUT_POLL_NS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (I8042, IrqLines, Arc<MachineControl>) {
        let lines = IrqLines::new();
        let control = Arc::new(MachineControl::new());
        let k = I8042::new(lines.clone(), control.clone());
        (k, lines, control)
    }

    fn cmd(k: &mut I8042, c: u8) {
        k.write(0x64, 1, c as u32);
    }

    fn data(k: &mut I8042, v: u8) {
        k.write(0x60, 1, v as u32);
    }

    fn status(k: &mut I8042) -> u8 {
        k.read(0x64, 1) as u8
    }

    fn set_cb(k: &mut I8042, cb: u8) {
        cmd(k, 0x60);
        data(k, cb);
    }

    /// Reads everything in the output buffer: (byte, status before the read).
    fn drain(k: &mut I8042) -> Vec<(u8, u8)> {
        let mut out = vec![];
        while status(k) & STS_OBF != 0 {
            let st = status(k);
            out.push((k.read(0x60, 1) as u8, st));
            assert!(out.len() < 100);
        }
        out
    }

    fn bytes(k: &mut I8042) -> Vec<u8> {
        drain(k).into_iter().map(|(b, _)| b).collect()
    }

    fn to_mouse(k: &mut I8042, v: u8) {
        cmd(k, 0xD4);
        data(k, v);
    }

    #[test]
    fn self_test_port_tests_and_status_bits() {
        let (mut k, _, _) = setup();
        assert_eq!(status(&mut k), STS_UNLOCKED, "empty, no system flag yet");
        cmd(&mut k, 0xAA);
        let st = status(&mut k);
        assert_eq!(st & (STS_OBF | STS_CMD | STS_AUX_OBF), STS_OBF | STS_CMD);
        assert_eq!(k.read(0x60, 1), 0x55);
        assert_ne!(
            status(&mut k) & STS_SYS,
            0,
            "self test sets the system flag"
        );
        assert_eq!(status(&mut k) & STS_OBF, 0);
        cmd(&mut k, 0xAB);
        assert_eq!(bytes(&mut k), [0x00]);
        cmd(&mut k, 0xA9);
        assert_eq!(bytes(&mut k), [0x00]);
        assert_eq!(k.read(0x60, 1), 0x00, "empty buffer rereads the last byte");
    }

    #[test]
    fn command_byte_read_write_and_port_enables() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, 0x47);
        assert_eq!(status(&mut k) & STS_CMD, 0, "last write was data");
        cmd(&mut k, 0x20);
        assert_eq!(bytes(&mut k), [0x47]);
        cmd(&mut k, 0xA7);
        cmd(&mut k, 0xAD);
        cmd(&mut k, 0x20);
        assert_eq!(bytes(&mut k), [0x47 | CB_AUX_DIS | CB_KBD_DIS]);
        cmd(&mut k, 0xA8);
        cmd(&mut k, 0xAE);
        assert_eq!(k.command_byte(), 0x47);
        // Other internal RAM bytes.
        cmd(&mut k, 0x65);
        data(&mut k, 0x99);
        cmd(&mut k, 0x25);
        assert_eq!(bytes(&mut k), [0x99]);
    }

    #[test]
    fn keyboard_reset_acks_and_raises_irq1_per_byte() {
        let (mut k, lines, _) = setup();
        set_cb(&mut k, CB_KBD_INT);
        lines.take_edges();
        data(&mut k, 0xFF);
        assert_eq!(lines.take_edges(), 1 << 1);
        assert_eq!(lines.levels(), 1 << 1);
        assert_eq!(status(&mut k) & (STS_OBF | STS_AUX_OBF), STS_OBF);
        assert_eq!(k.read(0x60, 1), 0xFA);
        assert_eq!(lines.take_edges(), 1 << 1, "next byte is a new edge");
        assert_eq!(k.read(0x60, 1), 0xAA);
        assert_eq!(lines.levels(), 0, "read lowers the line");
        assert_eq!(lines.take_edges(), 0);
        assert_eq!(status(&mut k) & STS_OBF, 0);

        // Interrupts off: data but no IRQ.
        set_cb(&mut k, 0);
        data(&mut k, 0xEE);
        assert_eq!(lines.take_edges(), 0);
        assert_eq!(bytes(&mut k), [0xEE]);
    }

    #[test]
    fn keyboard_commands() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, 0);
        data(&mut k, 0xF2);
        assert_eq!(bytes(&mut k), [0xFA, 0xAB, 0x83]);
        data(&mut k, 0xED);
        data(&mut k, 0x05);
        assert_eq!(bytes(&mut k), [0xFA, 0xFA]);
        assert_eq!(k.keyboard_leds(), 5);
        data(&mut k, 0xF0);
        data(&mut k, 0x00);
        assert_eq!(bytes(&mut k), [0xFA, 0xFA, 0x02], "default set 2");
        data(&mut k, 0xF0);
        data(&mut k, 0x03);
        data(&mut k, 0xF0);
        data(&mut k, 0x00);
        assert_eq!(bytes(&mut k), [0xFA, 0xFA, 0xFA, 0xFA, 0x03]);
        data(&mut k, 0xF3);
        data(&mut k, 0x20);
        assert_eq!(bytes(&mut k), [0xFA, 0xFA]);
        assert_eq!(k.state().keyboard.typematic, 0x20);
        data(&mut k, 0xF5);
        assert_eq!(bytes(&mut k), [0xFA]);
        k.key_event(KeyCode::A, true);
        assert!(bytes(&mut k).is_empty(), "scanning disabled");
        data(&mut k, 0xF4);
        data(&mut k, 0x12);
        assert_eq!(bytes(&mut k), [0xFA, 0xFE], "unknown command");
        data(&mut k, 0xFE);
        assert_eq!(bytes(&mut k), [0xFE], "resend repeats the last byte");
        // Translated identify: 0x83 becomes 0x41.
        set_cb(&mut k, CB_XLATE);
        data(&mut k, 0xF2);
        assert_eq!(bytes(&mut k), [0xFA, 0xAB, 0x41]);
    }

    #[test]
    fn key_press_set2_raw_and_translated_to_set1() {
        let (mut k, lines, _) = setup();
        set_cb(&mut k, CB_KBD_INT);
        lines.take_edges();
        k.key_event(KeyCode::A, true);
        assert_eq!(lines.take_edges(), 1 << 1);
        k.key_event(KeyCode::A, false);
        assert_eq!(bytes(&mut k), [0x1C, 0xF0, 0x1C]);

        set_cb(&mut k, CB_KBD_INT | CB_XLATE);
        k.key_event(KeyCode::A, true);
        k.key_event(KeyCode::A, false);
        assert_eq!(bytes(&mut k), [0x1E, 0x9E]);
    }

    #[test]
    fn extended_and_special_keys() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, 0);
        k.key_event(KeyCode::RightCtrl, true);
        k.key_event(KeyCode::RightCtrl, false);
        assert_eq!(bytes(&mut k), [0xE0, 0x14, 0xE0, 0xF0, 0x14]);
        set_cb(&mut k, CB_XLATE);
        k.key_event(KeyCode::RightCtrl, true);
        k.key_event(KeyCode::RightCtrl, false);
        assert_eq!(bytes(&mut k), [0xE0, 0x1D, 0xE0, 0x9D]);

        k.key_event(KeyCode::PrintScreen, true);
        k.key_event(KeyCode::PrintScreen, false);
        assert_eq!(
            bytes(&mut k),
            [0xE0, 0x2A, 0xE0, 0x37, 0xE0, 0xB7, 0xE0, 0xAA]
        );
        k.key_event(KeyCode::Pause, true);
        k.key_event(KeyCode::Pause, false);
        assert_eq!(bytes(&mut k), [0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5]);

        set_cb(&mut k, 0);
        k.key_event(KeyCode::PrintScreen, true);
        assert_eq!(bytes(&mut k), [0xE0, 0x12, 0xE0, 0x7C]);
        k.key_event(KeyCode::PrintScreen, false);
        assert_eq!(bytes(&mut k), [0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12]);
        k.key_event(KeyCode::Pause, true);
        assert_eq!(
            bytes(&mut k),
            [0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77]
        );
        // With Alt held, Print Screen is SysRq; with Ctrl, Pause is Break.
        k.key_event(KeyCode::LeftAlt, true);
        k.key_event(KeyCode::PrintScreen, true);
        k.key_event(KeyCode::LeftAlt, false);
        assert_eq!(bytes(&mut k), [0x11, 0x84, 0xF0, 0x11]);
        k.key_event(KeyCode::LeftCtrl, true);
        k.key_event(KeyCode::Pause, true);
        assert_eq!(bytes(&mut k), [0x14, 0xE0, 0x7E, 0xE0, 0xF0, 0x7E]);
    }

    #[test]
    fn scan_code_sets_1_and_3_from_the_keyboard() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, 0);
        data(&mut k, 0xF0);
        data(&mut k, 0x01);
        assert_eq!(bytes(&mut k), [0xFA, 0xFA]);
        k.key_event(KeyCode::A, true);
        k.key_event(KeyCode::ArrowUp, false);
        assert_eq!(bytes(&mut k), [0x1E, 0xE0, 0xC8]);
        data(&mut k, 0xF0);
        data(&mut k, 0x03);
        assert_eq!(bytes(&mut k), [0xFA, 0xFA]);
        k.key_event(KeyCode::RightCtrl, true);
        k.key_event(KeyCode::RightCtrl, false);
        assert_eq!(bytes(&mut k), [0x58, 0xF0, 0x58]);
    }

    #[test]
    fn every_key_translates_to_distinct_set1_codes() {
        let mut seen = std::collections::HashSet::new();
        for &key in KeyCode::ALL {
            let mut brk = false;
            let make: Vec<u8> = set2_sequence(key, true, 0)
                .into_iter()
                .filter_map(|b| translate(b, &mut brk))
                .collect();
            assert!(seen.insert(make.clone()), "{key:?} duplicates {make:02x?}");
            assert!(make.iter().all(|&b| b != 0xFF), "{key:?}");
        }
    }

    #[test]
    fn keyboard_port_disable_holds_data() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, CB_KBD_DIS);
        k.key_event(KeyCode::B, true);
        assert_eq!(status(&mut k) & STS_OBF, 0);
        cmd(&mut k, 0xAE);
        assert_eq!(bytes(&mut k), [0x32]);
    }

    #[test]
    fn mouse_enable_and_movement_packet_on_irq12() {
        let (mut k, lines, _) = setup();
        set_cb(&mut k, CB_KBD_INT | CB_AUX_INT);
        lines.take_edges();
        to_mouse(&mut k, 0xF4);
        assert_eq!(lines.take_edges(), 1 << 12);
        let st = status(&mut k);
        assert_eq!(st & (STS_OBF | STS_AUX_OBF), STS_OBF | STS_AUX_OBF);
        assert_eq!(k.read(0x60, 1), 0xFA);
        assert_eq!(lines.levels(), 0);

        // Right 5, up 3, left button.
        k.mouse_event(5, -3, 0, 1);
        let got = drain(&mut k);
        assert_eq!(
            got.iter().map(|&(b, _)| b).collect::<Vec<_>>(),
            [0x09, 5, 3]
        );
        assert!(got.iter().all(|&(_, st)| st & STS_AUX_OBF != 0));
        assert_eq!(lines.take_edges(), 1 << 12, "IRQ 12 only");

        // Left 2, down 300 (split over two packets), buttons released.
        k.mouse_event(-2, 300, 0, 0);
        assert_eq!(
            bytes(&mut k),
            [0x38, 0xFE, 0x00, 0x28, 0x00, 0xD4],
            "-256 then -44, sign bits, no overflow"
        );
        // Status request.
        to_mouse(&mut k, 0xE9);
        assert_eq!(bytes(&mut k), [0xFA, 0x20, 2, 100]);
        // Reset.
        to_mouse(&mut k, 0xFF);
        assert_eq!(bytes(&mut k), [0xFA, 0xAA, 0x00]);
        k.mouse_event(1, 1, 0, 0);
        assert!(bytes(&mut k).is_empty(), "reporting off after reset");
    }

    #[test]
    fn intellimouse_knock_gives_id_3_and_4_byte_packets() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, CB_AUX_INT);
        to_mouse(&mut k, 0xF2);
        assert_eq!(bytes(&mut k), [0xFA, 0x00]);
        for rate in [200, 100, 80] {
            to_mouse(&mut k, 0xF3);
            to_mouse(&mut k, rate);
        }
        to_mouse(&mut k, 0xF2);
        assert_eq!(
            bytes(&mut k),
            [0xFA; 6]
                .into_iter()
                .chain([0xFA, 0x03])
                .collect::<Vec<_>>()
        );
        to_mouse(&mut k, 0xF4);
        assert_eq!(bytes(&mut k), [0xFA]);
        k.mouse_event(0, 0, 1, 0);
        assert_eq!(bytes(&mut k), [0x08, 0, 0, 0xFF], "wheel up is -1");
        k.mouse_event(1, 0, -2, 4);
        assert_eq!(bytes(&mut k), [0x0C, 1, 0, 2]);

        // Explorer knock: id 4, buttons 4/5 in the fourth byte.
        for rate in [200, 200, 80] {
            to_mouse(&mut k, 0xF3);
            to_mouse(&mut k, rate);
        }
        to_mouse(&mut k, 0xF2);
        assert_eq!(bytes(&mut k)[6..], [0xFA, 0x04]);
        k.mouse_event(0, 0, 1, 0x08);
        assert_eq!(bytes(&mut k), [0x08, 0, 0, 0x1F]);
    }

    #[test]
    fn mouse_remote_mode_reports_overflow() {
        let (mut k, _, _) = setup();
        to_mouse(&mut k, 0xF0);
        assert_eq!(bytes(&mut k), [0xFA]);
        k.mouse_event(300, 2, 0, 2);
        assert!(bytes(&mut k).is_empty(), "remote mode waits for a read");
        to_mouse(&mut k, 0xEB);
        assert_eq!(bytes(&mut k), [0xFA, 0x6A, 0xFF, 0xFE]);
        to_mouse(&mut k, 0xEB);
        assert_eq!(bytes(&mut k), [0xFA, 0x0A, 0, 0], "counters were cleared");
    }

    #[test]
    fn mouse_wrap_mode_and_aux_loopback() {
        let (mut k, lines, _) = setup();
        set_cb(&mut k, CB_AUX_INT | CB_AUX_DIS);
        lines.take_edges();
        // Linux's AUX_LOOP (0xD3) test: the byte comes back as mouse data on IRQ 12.
        cmd(&mut k, 0xD3);
        data(&mut k, 0xA5);
        assert_eq!(lines.take_edges(), 1 << 12);
        assert_eq!(
            drain(&mut k),
            [(0xA5, STS_OBF | STS_AUX_OBF | STS_UNLOCKED)]
        );
        cmd(&mut k, 0xD2);
        data(&mut k, 0x5A);
        assert_eq!(drain(&mut k), [(0x5A, STS_OBF | STS_UNLOCKED)]);
        to_mouse(&mut k, 0xEE);
        to_mouse(&mut k, 0x12);
        to_mouse(&mut k, 0xEC);
        assert_eq!(bytes(&mut k), [0xFA, 0x12, 0xFA]);
    }

    #[test]
    fn a20_through_output_port_and_dd_df() {
        let (mut k, _, control) = setup();
        assert!(control.a20());
        cmd(&mut k, 0xD1);
        data(&mut k, 0xDD);
        assert!(!control.a20());
        cmd(&mut k, 0xD0);
        assert_eq!(bytes(&mut k)[0] & OUT_A20, 0);
        cmd(&mut k, 0xD1);
        data(&mut k, 0xDF);
        assert!(control.a20());
        cmd(&mut k, 0xD0);
        assert_eq!(bytes(&mut k)[0] & OUT_A20, OUT_A20);
        cmd(&mut k, 0xDD);
        assert!(!control.a20());
        cmd(&mut k, 0xDF);
        assert!(control.a20());
        assert_eq!(control.take(REQ_RESET), 0);
    }

    #[test]
    fn reset_through_pulse_and_output_port() {
        let (mut k, _, control) = setup();
        cmd(&mut k, 0xFF);
        assert_eq!(control.take(REQ_RESET), 0, "0xFF pulses nothing");
        cmd(&mut k, 0xFE);
        assert_eq!(control.take(REQ_RESET), REQ_RESET);
        cmd(&mut k, 0xD1);
        data(&mut k, 0xFE);
        assert_eq!(control.take(REQ_RESET), REQ_RESET);
    }

    /// A driver's interrupt handler: one data read per IRQ 1 edge, with the machine loop
    /// polling timers every millisecond, until `n` bytes arrived or 1000 ms passed. Returns
    /// the bytes and the status seen before each read.
    fn irq1_driver(k: &mut I8042, lines: &IrqLines, n: usize) -> Vec<(u8, u8)> {
        let mut got = vec![];
        for ms in 0..1000u64 {
            k.poll_timer(ms * INPUT_POLL_NS);
            while lines.take_edges() & (1 << KBD_IRQ) != 0 {
                let st = status(k);
                got.push((k.read(0x60, 1) as u8, st));
            }
            if got.len() >= n {
                break;
            }
        }
        got
    }

    #[test]
    fn keys_from_another_thread_arrive_translated_in_order_on_irq1() {
        let (mut k, lines, _) = setup();
        // What SeaBIOS and Linux program: translation on, both interrupts, system flag.
        set_cb(&mut k, CB_KBD_INT | CB_AUX_INT | CB_SYS | CB_XLATE);
        lines.take_edges();
        let input = k.input_handle();
        std::thread::spawn(move || {
            for (key, pressed) in [
                (KeyCode::A, true),
                (KeyCode::A, false),
                (KeyCode::LeftShift, true),
                (KeyCode::B, true),
                (KeyCode::B, false),
                (KeyCode::LeftShift, false),
                (KeyCode::ArrowUp, true),
                (KeyCode::ArrowUp, false),
            ] {
                assert!(input.key(key, pressed));
            }
        })
        .join()
        .unwrap();
        assert_eq!(status(&mut k) & STS_OBF, 0, "nothing arrives before a poll");
        let expected = [0x1E, 0x9E, 0x2A, 0x30, 0xB0, 0xAA, 0xE0, 0x48, 0xE0, 0xC8];
        let got = irq1_driver(&mut k, &lines, expected.len());
        assert_eq!(got.iter().map(|&(b, _)| b).collect::<Vec<_>>(), expected);
        assert!(got
            .iter()
            .all(|&(_, st)| st & (STS_OBF | STS_AUX_OBF) == STS_OBF));
        assert_eq!(lines.levels(), 0);
        assert_eq!(k.poll_timer(2_000_000_000), None);
        assert_eq!(k.input_handle().pending(), 0);
    }

    #[test]
    fn a_burst_larger_than_the_buffers_arrives_completely() {
        let (mut k, lines, _) = setup();
        set_cb(&mut k, CB_KBD_INT | CB_XLATE);
        lines.take_edges();
        let input = k.input_handle();
        // 40 strokes of Right Ctrl: 160 bytes, ten times the keyboard's FIFO.
        for _ in 0..40 {
            input.key(KeyCode::RightCtrl, true);
            input.key(KeyCode::RightCtrl, false);
        }
        // The guest does not read for a while: nothing may be lost meanwhile.
        for ms in 0..50 {
            assert_eq!(
                k.poll_timer(ms * INPUT_POLL_NS),
                Some((ms + 1) * INPUT_POLL_NS),
                "events wait, so the controller keeps asking"
            );
        }
        assert!(input.pending() > 60, "still queued: {}", input.pending());
        let got = irq1_driver(&mut k, &lines, 160);
        let one = [0xE0, 0x1D, 0xE0, 0x9D];
        assert_eq!(got.len(), 160);
        for chunk in got.chunks(4) {
            assert_eq!(chunk.iter().map(|&(b, _)| b).collect::<Vec<_>>(), one);
        }
        assert_eq!(k.poll_timer(0), None);
    }

    #[test]
    fn input_waits_while_the_keyboard_port_is_disabled() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, CB_KBD_DIS);
        let input = k.input_handle();
        for key in [KeyCode::Q, KeyCode::W, KeyCode::E] {
            input.key(key, true);
        }
        assert_eq!(k.poll_timer(0), Some(INPUT_POLL_NS));
        assert_eq!(status(&mut k) & STS_OBF, 0);
        assert_eq!(input.pending(), 1, "one key in the keyboard, one staged");
        cmd(&mut k, 0xAE);
        let mut got = bytes(&mut k);
        assert_eq!(k.poll_timer(INPUT_POLL_NS), None);
        got.extend(bytes(&mut k));
        assert_eq!(got, [0x15, 0x1D, 0x24]);
    }

    #[test]
    fn keys_typed_while_scanning_is_off_are_lost_but_do_not_block() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, 0);
        data(&mut k, 0xF5);
        assert_eq!(bytes(&mut k), [0xFA]);
        let input = k.input_handle();
        input.key(KeyCode::A, true);
        assert_eq!(
            k.poll_timer(0),
            None,
            "taken and dropped, as a real keyboard"
        );
        data(&mut k, 0xF4);
        assert_eq!(bytes(&mut k), [0xFA]);
        input.key(KeyCode::A, false);
        assert_eq!(k.poll_timer(0), None);
        assert_eq!(bytes(&mut k), [0xF0, 0x1C]);
    }

    #[test]
    fn idle_controller_asks_for_no_polls() {
        let (mut k, _, _) = setup();
        let _input = k.input_handle();
        assert_eq!(k.poll_timer(0), None);
        assert_eq!(k.poll_timer(123_456_789), None);
        // A single event fits at once: no further poll needed either.
        _input.key(KeyCode::Space, true);
        assert_eq!(k.poll_timer(5), None);
        assert_eq!(bytes(&mut k), [0x29]);
    }

    #[test]
    fn mouse_clicks_from_the_handle_are_not_merged() {
        let (mut k, lines, _) = setup();
        set_cb(&mut k, CB_AUX_INT);
        to_mouse(&mut k, 0xF4);
        assert_eq!(bytes(&mut k), [0xFA]);
        lines.take_edges();
        let input = k.input_handle();
        input.mouse(3, 0, 0, 1);
        input.mouse(0, 0, 0, 0);
        input.mouse(0, 2, 0, 0);
        let mut got = vec![];
        for ms in 0..100 {
            k.poll_timer(ms * INPUT_POLL_NS);
            while lines.take_edges() & (1 << AUX_IRQ) != 0 {
                assert_ne!(status(&mut k) & STS_AUX_OBF, 0);
                got.push(k.read(0x60, 1) as u8);
            }
        }
        assert_eq!(got, [0x09, 3, 0, 0x08, 0, 0, 0x28, 0, 0xFE]);
        assert_eq!(k.poll_timer(0), None);
    }

    #[test]
    fn a_handle_outliving_the_controller_reports_it() {
        let (k, _, _) = setup();
        let input = k.input_handle();
        drop(k);
        assert!(!input.key(KeyCode::A, true));
        assert_eq!(input.pending(), 0);
    }

    #[test]
    fn state_round_trip() {
        let (mut k, _, _) = setup();
        set_cb(&mut k, CB_KBD_INT | CB_XLATE);
        to_mouse(&mut k, 0xF4);
        k.key_event(KeyCode::Enter, true);
        k.key_event(KeyCode::Enter, false);
        let saved = k.state();

        let lines = IrqLines::new();
        let mut k2 = I8042::new(lines.clone(), Arc::new(MachineControl::new()));
        k2.restore(saved.clone());
        assert_eq!(k2.state(), saved);
        assert_eq!(
            lines.levels(),
            0,
            "the mouse ACK in the buffer: no keyboard line"
        );
        assert_eq!(bytes(&mut k2), bytes(&mut k));
    }
}
