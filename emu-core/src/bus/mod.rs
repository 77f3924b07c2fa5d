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
}

/// A device mapped into the physical address space. `offset` is relative to the region base;
/// `size` is 1, 2, 4 or 8 bytes.
pub trait MmioDevice {
    fn read(&mut self, offset: u64, size: u8) -> u64;
    fn write(&mut self, offset: u64, size: u8, value: u64);
}
