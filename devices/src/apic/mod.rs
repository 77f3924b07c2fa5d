//! The APIC interrupt architecture of a uniprocessor P6-class PC: the CPU's local APIC, an
//! 82093AA I/O APIC and the 8259A pair, combined into one [`InterruptRouter`] that is the
//! machine's interrupt controller.
//!
//! References: Intel SDM Vol. 3A chapter 10 ("Advanced Programmable Interrupt Controller",
//! chapter 11 in newer editions); Intel 82093AA I/O APIC datasheet (290566); MultiProcessor
//! Specification 1.4 section 3.6 (PIC, virtual-wire and symmetric I/O modes).
//!
//! Wiring, as on QEMU's `pc` machine (what our MADT and MP table describe):
//! - ISA IRQ 0 (the PIT) reaches I/O APIC pin (GSI) 2, ISA IRQ n reaches pin n for the other
//!   lines; pin 0 (the 8259's INTR in some boards) and pins 16-23 are unconnected.
//! - Every ISA line also reaches the 8259 pair, whose INTR output is the local APIC's LINT0
//!   pin (virtual-wire mode when LVT LINT0 is ExtINT).
//! - LINT1 (NMI on real boards) is not connected; its LVT register is kept.
//!
//! Modules: [`local`] (the local APIC), [`io`] (the I/O APIC), [`router`] (the glue the CPU
//! sees). The I/O APIC and the local APIC talk through [`ApicMessage`]s, the model of the
//! APIC bus.

pub mod io;
pub mod local;
pub mod router;

#[cfg(test)]
mod tests;

pub use io::{IoApic, IoApicState, IOAPIC_BASE};
pub use local::{LocalApic, LocalApicState, APIC_BUS_HZ, LAPIC_BASE};
pub use router::{InterruptRouter, InterruptRouterState, ROUTER_PORTS};

/// Delivery modes of LVT entries, ICR and redirection entries (SDM Vol. 3A 10.5.1, 10.6.1;
/// 82093AA 3.2.4). The encoding is the same everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryMode {
    Fixed,
    LowestPriority,
    Smi,
    Nmi,
    Init,
    StartUp,
    ExtInt,
    /// 011: reserved.
    Reserved,
}

impl DeliveryMode {
    /// Decodes bits 10:8 of an LVT, ICR or redirection entry.
    pub fn from_bits(entry: u32) -> Self {
        match (entry >> 8) & 7 {
            0 => DeliveryMode::Fixed,
            1 => DeliveryMode::LowestPriority,
            2 => DeliveryMode::Smi,
            3 => DeliveryMode::Reserved,
            4 => DeliveryMode::Nmi,
            5 => DeliveryMode::Init,
            6 => DeliveryMode::StartUp,
            _ => DeliveryMode::ExtInt,
        }
    }
}

/// An interrupt message on the APIC bus (from the I/O APIC or an IPI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApicMessage {
    pub vector: u8,
    pub mode: DeliveryMode,
    /// Logical destination mode (else physical).
    pub logical: bool,
    pub dest: u8,
    /// Level-triggered (the local APIC sets TMR and will broadcast the EOI).
    pub level: bool,
}

/// Entry bits shared by LVT entries, the ICR and redirection entries.
pub(crate) mod bits {
    pub const VECTOR: u32 = 0xFF;
    pub const DEST_LOGICAL: u32 = 1 << 11;
    pub const ACTIVE_LOW: u32 = 1 << 13;
    pub const REMOTE_IRR: u32 = 1 << 14;
    pub const LEVEL: u32 = 1 << 15;
    pub const MASKED: u32 = 1 << 16;
}
