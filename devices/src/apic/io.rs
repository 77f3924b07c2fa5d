//! Intel 82093AA I/O APIC (datasheet 290566): 24 interrupt pins, each with a 64-bit
//! redirection entry, reached through an index (IOREGSEL, +0x00) and a data window (IOWIN,
//! +0x10) in the 4 KiB page at [`IOAPIC_BASE`].
//!
//! Registers (datasheet 3.2): 0x00 ID (bits 27:24), 0x01 version (0x0017_0011: version 0x11,
//! maximum redirection entry 23), 0x02 arbitration ID (read-only, follows the ID),
//! 0x10 + 2n / 0x11 + 2n the low and high halves of pin n's entry. Other indexes read 0.
//!
//! Delivery (datasheet 3.2.4, SDM Vol. 3A 10.11):
//! - Edge-triggered pins send a message on each rising edge while unmasked. An edge on a
//!   masked pin is lost ("ignored", not held pending).
//! - Level-triggered fixed/lowest-priority pins send while asserted, unmasked and with remote
//!   IRR clear; an accepting local APIC sets remote IRR, which the EOI broadcast for the
//!   entry's vector clears, and a pin still asserted then sends again.
//! - Writing an entry as edge-triggered clears its remote IRR, as QEMU does: Linux relies on
//!   it to unstick remote IRR on I/O APICs without an EOI register (version 0x11).
//! - Polarity is stored, not applied: the board's wires already carry "asserted" as high for
//!   every pin the firmware tables describe (ISA lines active high, the SCI override level
//!   active high), and QEMU ignores it the same way.
//! - The delivery status bit (12) reads 0: messages are delivered at once.
//!
//! Accesses: IOREGSEL takes any width (only bits 7:0 exist); IOWIN needs 32-bit accesses
//! (datasheet 3.1), narrower reads return the bytes they cover, narrower writes are dropped
//! and reported through `--log unimp`.

use super::bits::*;
use super::{ApicMessage, DeliveryMode};
use crate::unimp::UnimpLog;

/// Physical base of the register page (PIIX3 default).
pub const IOAPIC_BASE: u64 = 0xFEC0_0000;
pub const IOAPIC_PINS: usize = 24;
/// Version register: version 0x11, maximum redirection entry 23.
pub const VERSION: u32 = 0x0017_0011;

pub const IOREGSEL: u32 = 0x00;
pub const IOWIN: u32 = 0x10;

const PIN_MASK: u32 = (1 << IOAPIC_PINS) - 1;
/// Low half: vector, delivery mode, destination mode, polarity, trigger mode, mask.
const REDIR_LOW_BITS: u32 = VECTOR | 0x700 | DEST_LOGICAL | ACTIVE_LOW | LEVEL | MASKED;
const REDIR_HIGH_BITS: u32 = 0xFF00_0000;

/// Saveable state of the I/O APIC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoApicState {
    pub id: u8,
    pub ioregsel: u8,
    pub redir: [u64; IOAPIC_PINS],
    /// Pins asserted at the last sample.
    pub pins: u32,
}

impl IoApicState {
    pub fn power_on() -> Self {
        IoApicState {
            // The ID our MADT and MP table (and SeaBIOS's) give it: after the one CPU's 0,
            // as the P6 serial APIC bus needs unique IDs. Linux checks the two agree.
            id: 1,
            ioregsel: 0,
            redir: [MASKED as u64; IOAPIC_PINS],
            pins: 0,
        }
    }
}

#[derive(Debug)]
pub struct IoApic {
    s: IoApicState,
    unimp: UnimpLog,
}

impl Default for IoApic {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the I/O APIC's messages go: returns whether a local APIC accepted the message.
pub type MessageSink<'a> = &'a mut dyn FnMut(&ApicMessage) -> bool;

impl IoApic {
    pub fn new() -> Self {
        IoApic {
            s: IoApicState::power_on(),
            unimp: UnimpLog::disabled(),
        }
    }

    pub fn set_unimp_log(&mut self, log: UnimpLog) {
        self.unimp = log;
    }

    pub fn state(&self) -> IoApicState {
        self.s.clone()
    }

    pub fn restore(&mut self, s: IoApicState) {
        self.s = s;
    }

    pub fn reset(&mut self) {
        self.s = IoApicState::power_on();
    }

    pub fn decodes(&self, addr: u64) -> bool {
        addr & !0xFFF == IOAPIC_BASE
    }

    /// Pin `pin`'s redirection entry.
    pub fn entry(&self, pin: usize) -> u64 {
        self.s.redir.get(pin).copied().unwrap_or(0)
    }

    fn message(entry: u64) -> ApicMessage {
        let low = entry as u32;
        ApicMessage {
            vector: low as u8,
            mode: DeliveryMode::from_bits(low),
            logical: low & DEST_LOGICAL != 0,
            dest: (entry >> 56) as u8,
            level: low & LEVEL != 0,
        }
    }

    /// Level-triggered fixed or lowest-priority entries use remote IRR; anything else
    /// (NMI, SMI, INIT, ExtINT) is sent on the edge only.
    fn uses_remote_irr(entry: u64) -> bool {
        let low = entry as u32;
        low & LEVEL != 0
            && matches!(
                DeliveryMode::from_bits(low),
                DeliveryMode::Fixed | DeliveryMode::LowestPriority
            )
    }

    /// New input: `edges` rose since the last call, `levels` are asserted now (both by pin).
    pub fn set_pins(&mut self, edges: u32, levels: u32, sink: MessageSink) {
        self.s.pins = levels & PIN_MASK;
        let mut rising = edges & PIN_MASK;
        while rising != 0 {
            let pin = rising.trailing_zeros() as usize;
            rising &= rising - 1;
            let entry = self.s.redir[pin];
            if entry as u32 & MASKED == 0 && !Self::uses_remote_irr(entry) {
                self.send(pin, sink);
            }
        }
        self.service_levels(sink);
    }

    fn send(&mut self, pin: usize, sink: MessageSink) -> bool {
        let entry = self.s.redir[pin];
        let msg = Self::message(entry);
        if matches!(
            msg.mode,
            DeliveryMode::Smi | DeliveryMode::Init | DeliveryMode::StartUp | DeliveryMode::Reserved
        ) {
            self.unimp
                .report("ioapic", format_args!("{:?} delivery mode", msg.mode));
        }
        sink(&msg)
    }

    /// Sends every asserted level-triggered pin that is not waiting for its EOI.
    fn service_levels(&mut self, sink: MessageSink) {
        let mut asserted = self.s.pins;
        while asserted != 0 {
            let pin = asserted.trailing_zeros() as usize;
            asserted &= asserted - 1;
            let entry = self.s.redir[pin];
            let low = entry as u32;
            if Self::uses_remote_irr(entry)
                && low & (MASKED | REMOTE_IRR) == 0
                && self.send(pin, sink)
            {
                self.s.redir[pin] |= REMOTE_IRR as u64;
            }
        }
    }

    /// A local APIC broadcast the EOI of level-triggered `vector` (SDM 10.8.5).
    pub fn eoi(&mut self, vector: u8, sink: MessageSink) {
        for entry in self.s.redir.iter_mut() {
            if Self::uses_remote_irr(*entry) && *entry as u8 == vector {
                *entry &= !(REMOTE_IRR as u64);
            }
        }
        self.service_levels(sink);
    }

    /// Reads the register `index` selects.
    pub fn read_register(&self, index: u8) -> u32 {
        match index {
            0x00 => (self.s.id as u32) << 24,
            0x01 => VERSION,
            0x02 => (self.s.id as u32) << 24,
            0x10..=0x3F => {
                let entry = self.s.redir[((index - 0x10) >> 1) as usize];
                if index & 1 == 0 {
                    entry as u32
                } else {
                    (entry >> 32) as u32
                }
            }
            _ => 0,
        }
    }

    pub fn write_register(&mut self, index: u8, value: u32, sink: MessageSink) {
        match index {
            0x00 => self.s.id = (value >> 24) as u8 & 0x0F,
            0x10..=0x3F => {
                let pin = ((index - 0x10) >> 1) as usize;
                let entry = &mut self.s.redir[pin];
                if index & 1 == 0 {
                    let mut low = (value & REDIR_LOW_BITS) | (*entry as u32 & REMOTE_IRR);
                    if low & LEVEL == 0 {
                        low &= !REMOTE_IRR;
                    }
                    *entry = (*entry & !0xFFFF_FFFF) | low as u64;
                    // Unmasking (or turning level-triggered) an asserted pin sends it now.
                    self.service_levels(sink);
                } else {
                    *entry = (*entry & 0xFFFF_FFFF) | ((value & REDIR_HIGH_BITS) as u64) << 32;
                }
            }
            // Version and arbitration ID are read-only; other indexes do not exist.
            _ => {}
        }
    }

    /// A read of `size` bytes at `offset` in the page.
    pub fn mmio_read(&mut self, offset: u32, size: u8) -> u64 {
        let offset = offset & 0xFFF;
        let size = size.min(8) as u32;
        let mut out = 0u64;
        for i in 0..size {
            let at = offset + i;
            let byte = match at {
                0x00 => self.s.ioregsel as u32,
                0x10..=0x13 => self.read_register(self.s.ioregsel) >> (8 * (at - 0x10)),
                _ => 0,
            };
            out |= ((byte & 0xFF) as u64) << (8 * i);
        }
        out
    }

    pub fn mmio_write(&mut self, offset: u32, size: u8, value: u64, sink: MessageSink) {
        match offset & 0xFFF {
            IOREGSEL => self.s.ioregsel = value as u8,
            IOWIN if size >= 4 => {
                let index = self.s.ioregsel;
                self.write_register(index, value as u32, sink);
            }
            IOWIN => self
                .unimp
                .report("ioapic", "IOWIN write narrower than 32 bits"),
            _ => {}
        }
    }
}
