//! The traits through which the core reaches devices: port I/O and memory-mapped I/O.
//!
//! A device is a plain state machine with `read`/`write` at device-relative offsets; the bus
//! owns the address decoding. Devices never see the CPU.

pub mod port;

pub use port::PortBus;

/// A device on the 64 KiB I/O port space. `size` is 1, 2 or 4 bytes.
pub trait PortDevice {
    fn read(&mut self, port: u16, size: u8) -> u32;
    fn write(&mut self, port: u16, size: u8, value: u32);

    /// The device is also the CPU's interrupt controller (the 8259 pair, later the APIC
    /// glue): one object, programmed through ports and asked for vectors by the CPU.
    fn as_interrupt_controller(&mut self) -> Option<&mut dyn InterruptController> {
        None
    }

    /// Machine RESET (triple fault, 0xCF9, port 0x92, keyboard controller): back to power-on
    /// state where the hardware resets too.
    fn reset(&mut self) {}

    /// Devices with timers: called by the machine loop with the virtual time; fires what is
    /// due and returns when the device next needs a call (absolute nanoseconds), if ever.
    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        let _ = now_ns;
        None
    }
}

/// Something that raises maskable interrupts (the PIC or APIC model), seen from the CPU.
pub trait InterruptController {
    /// An interrupt is waiting for the CPU (INTR asserted).
    fn has_interrupt(&mut self) -> bool;
    /// INTA cycle: the vector to deliver.
    fn acknowledge(&mut self) -> u8;
}

/// A device mapped into the physical address space. `offset` is relative to the region base;
/// `size` is 1, 2, 4 or 8 bytes.
pub trait MmioDevice {
    fn read(&mut self, offset: u64, size: u8) -> u64;
    fn write(&mut self, offset: u64, size: u8, value: u64);
}
