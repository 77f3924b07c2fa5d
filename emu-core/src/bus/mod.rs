//! The traits through which the core reaches devices: port I/O, memory-mapped I/O and bus
//! mastering (DMA).
//!
//! A device is a plain state machine; the bus owns port decoding. One device object may
//! answer ports, MMIO and DMA at once (a VGA card, the IDE controller behind PCI BARs), so it
//! is owned once, by the bus, and needs no shared-state locking. Devices never see the CPU.

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

    /// Memory-mapped I/O at physical `addr` (`size` 1, 2, 4 or 8 bytes, never crossing a
    /// page). `None`: this device does not decode the address. Only devices registered with
    /// [`PortBus::decode_mmio`] are asked; they decide from their own state (a PCI BAR moves).
    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        let _ = (addr, size);
        None
    }

    /// Returns whether the device decoded the write.
    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> bool {
        let _ = (addr, size, value);
        false
    }

    /// Bus mastering: a device that raised `REQ_DMA` moves its data here, between guest
    /// instructions, and raises its completion interrupt.
    fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        let _ = mem;
    }
}

/// Guest physical memory as a bus master sees it: RAM only, never faulting. Unbacked
/// addresses read as all ones and drop writes.
pub trait DmaMemory {
    fn dma_read(&mut self, phys: u64, buf: &mut [u8]);
    fn dma_write(&mut self, phys: u64, data: &[u8]);
}

/// Something that raises maskable interrupts (the PIC or APIC model), seen from the CPU.
pub trait InterruptController {
    /// An interrupt is waiting for the CPU (INTR asserted).
    fn has_interrupt(&mut self) -> bool;
    /// INTA cycle: the vector to deliver.
    fn acknowledge(&mut self) -> u8;

    /// Takes a pending NMI (the local APIC's LINT1/NMI delivery), which the CPU accepts
    /// whatever IF says, unless an earlier NMI's handler has not returned yet.
    fn take_nmi(&mut self) -> bool {
        false
    }

    /// The controller includes the CPU's local APIC (so CPUID may report one).
    fn has_local_apic(&self) -> bool {
        false
    }

    /// The guest wrote IA32_APIC_BASE (MSR 0x1B): bit 11 is the global enable, bits 12 and
    /// up the base of the local APIC's 4 KiB register page. Also called at reset.
    fn set_apic_base(&mut self, msr: u64) {
        let _ = msr;
    }
}
