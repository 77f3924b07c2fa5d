//! QEMU's `pc-testdev` (hw/misc/pc-testdev.c), the ISA test device kvm-unit-tests and other
//! guest test suites drive: scratch registers that read back what was written, a way to pull
//! ISA interrupt lines from the guest, and a scratch MMIO window.
//!
//! | where                     | what |
//! |---------------------------|------|
//! | ports `0xE0-0xE3`         | "ioport": one 32-bit register; an access of `size` bytes at `0xE0 + n` reads or writes bytes `n..n+size` of it (bytes past the register are dropped on write and read as 0) |
//! | ports `0xE4-0xE7`         | "flush page": a dword write names a guest page QEMU `mprotect`s and restores so KVM must refault it. Nothing of that is visible to the guest, and Ringside keeps no host mapping to drop, so the write is accepted and ignored; reads give 0. Other write sizes are invalid in QEMU and are dropped (and reported) |
//! | ports `0xE8-0xEB`         | "ioport-byte": the same 32-bit register, implemented byte by byte in QEMU (its accesses are split into single bytes); the guest sees the same values as through `0xE0`. [`ports`] leaves 0xE9 to the debug console |
//! | ports `0x2000-0x2017`     | IRQ lines: a byte write of `v` to `0x2000 + n` drives ISA line `n` to `v != 0`. QEMU decodes 24 ports but the ISA bus has 16 lines (QEMU would abort on 16-23); we drop those writes and report them. Reads give 0; wider writes are invalid in QEMU and dropped |
//! | memory `0xFF000000`, 64 KiB | "iomem": scratch memory, any size, little endian |
//!
//! QEMU's `IOMEM_LEN` is 0x10000, so the window is 64 KiB, not one page. It sits 16 MiB below
//! 4 GiB: the machine's BIOS ROM is mapped in its last `rom size` bytes below 4 GiB
//! (`emu_core::memory::PhysicalMemory`) and ROM pages win over MMIO, so only a 16 MiB ROM
//! (the largest the front end accepts) would hide it; RAM never reaches it (at most 3.5 GiB).
//!
//! The device has no reset handler in QEMU, so its registers survive a machine reset here too;
//! lines it raised stay raised until the guest lowers them.

use emu_core::bus::PortDevice;
use emu_core::irq::IrqLines;

use crate::unimp::UnimpLog;

pub const IOPORT: u16 = 0xE0;
pub const FLUSH_PAGE: u16 = 0xE4;
pub const IOPORT_BYTE: u16 = 0xE8;
/// Inside the ioport-byte range, but the debug console's port.
const DEBUGCON: u16 = 0xE9;
pub const IRQ_BASE: u16 = 0x2000;
/// Ports QEMU decodes for IRQ lines (only the first 16 are ISA lines).
pub const IRQ_PORTS: u16 = 24;
pub const ISA_IRQS: u16 = 16;
pub const IOMEM_BASE: u64 = 0xFF00_0000;
pub const IOMEM_LEN: usize = 0x1_0000;

/// Everything the guest can observe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcTestDevState {
    pub ioport_data: u32,
    /// `IOMEM_LEN` bytes.
    pub iomem: Vec<u8>,
}

pub struct PcTestDev {
    irq: IrqLines,
    unimp: UnimpLog,
    ioport_data: u32,
    iomem: Vec<u8>,
}

/// The ports the device answers, for `PortBus::register`: all of the above but 0xE9, which
/// stays with the debug console (Ringside's test programs print there); the bus routes an
/// access by its first port, so wider accesses at 0xE8 still reach this device. Register the
/// device with `PortBus::decode_mmio` too for the iomem window.
pub fn ports() -> impl Iterator<Item = u16> {
    (IOPORT..IOPORT_BYTE + 4)
        .filter(|&p| p != DEBUGCON)
        .chain(IRQ_BASE..IRQ_BASE + IRQ_PORTS)
}

/// Bits of the 32-bit register an access of `size` bytes at byte `lane` covers, as a mask
/// (lanes past byte 3 fall off) and the shift to its first bit.
fn lanes(lane: u16, size: u8) -> (u32, u32) {
    let shift = (lane as u32 & 3) * 8;
    let bits = (size.clamp(1, 4) as u32) * 8;
    let mask = ((u64::MAX >> (64 - bits)) << shift) as u32;
    (mask, shift)
}

impl PcTestDev {
    pub fn new(irq: IrqLines) -> Self {
        PcTestDev {
            irq,
            unimp: UnimpLog::disabled(),
            ioport_data: 0,
            iomem: vec![0; IOMEM_LEN],
        }
    }

    /// Reports invalid accesses to `log` (`--log unimp`).
    pub fn with_unimp_log(mut self, log: UnimpLog) -> Self {
        self.unimp = log;
        self
    }

    pub fn state(&self) -> PcTestDevState {
        PcTestDevState {
            ioport_data: self.ioport_data,
            iomem: self.iomem.clone(),
        }
    }

    /// Restores a saved state; an `iomem` of the wrong length is cut or zero-filled to
    /// `IOMEM_LEN`.
    pub fn restore(&mut self, s: PcTestDevState) {
        self.ioport_data = s.ioport_data;
        self.iomem = s.iomem;
        self.iomem.resize(IOMEM_LEN, 0);
    }

    fn iomem_offset(addr: u64, size: u8) -> Option<usize> {
        let off = addr.checked_sub(IOMEM_BASE)?;
        (off < IOMEM_LEN as u64 && (1..=8).contains(&size)).then_some(off as usize)
    }
}

impl PortDevice for PcTestDev {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        match port {
            IOPORT..=0xE3 | IOPORT_BYTE..=0xEB => {
                let (mask, shift) = lanes(port, size);
                (self.ioport_data & mask) >> shift
            }
            // Flush page and IRQ lines read as 0 (QEMU's read handlers).
            _ => 0,
        }
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        match port {
            IOPORT..=0xE3 | IOPORT_BYTE..=0xEB => {
                let (mask, shift) = lanes(port, size);
                self.ioport_data = (self.ioport_data & !mask) | ((value << shift) & mask);
            }
            FLUSH_PAGE if size == 4 => {
                // Nothing guest-visible to do (module docs).
            }
            FLUSH_PAGE..=0xE7 => self.unimp.report(
                "pc-testdev",
                format_args!(
                    "flush-page write of {size} bytes at port {port:#x} (dword at 0xE4 only)"
                ),
            ),
            IRQ_BASE..=0x2017 => {
                let line = port - IRQ_BASE;
                if size != 1 {
                    self.unimp.report(
                        "pc-testdev",
                        format_args!("IRQ-line write of {size} bytes (byte writes only)"),
                    );
                } else if line < ISA_IRQS {
                    self.irq.set(line as u8, value & 0xFF != 0);
                } else {
                    self.unimp.report(
                        "pc-testdev",
                        format_args!("IRQ line {line} (the ISA bus has 16)"),
                    );
                }
            }
            _ => {}
        }
    }

    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        let off = Self::iomem_offset(addr, size)?;
        let mut b = [0u8; 8];
        let n = (size as usize).min(IOMEM_LEN - off);
        b[..n].copy_from_slice(&self.iomem[off..off + n]);
        Some(u64::from_le_bytes(b))
    }

    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> bool {
        let Some(off) = Self::iomem_offset(addr, size) else {
            return false;
        };
        let n = (size as usize).min(IOMEM_LEN - off);
        self.iomem[off..off + n].copy_from_slice(&value.to_le_bytes()[..n]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_core::bus::PortBus;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    fn dev() -> (PcTestDev, IrqLines) {
        let irq = IrqLines::new();
        (PcTestDev::new(irq.clone()), irq)
    }

    #[test]
    fn scratch_register_reads_back_at_every_size() {
        let (mut d, _) = dev();
        d.write(0xE0, 4, 0x1234_5678);
        assert_eq!(d.read(0xE0, 4), 0x1234_5678);
        assert_eq!(d.read(0xE0, 2), 0x5678);
        assert_eq!(d.read(0xE2, 2), 0x1234);
        assert_eq!(
            [
                d.read(0xE0, 1),
                d.read(0xE1, 1),
                d.read(0xE2, 1),
                d.read(0xE3, 1)
            ],
            [0x78, 0x56, 0x34, 0x12]
        );
        // A byte write changes one lane only.
        d.write(0xE2, 1, 0xAB);
        assert_eq!(d.read(0xE0, 4), 0x12AB_5678);
        d.write(0xE1, 2, 0xCDEF);
        assert_eq!(d.read(0xE0, 4), 0x12CD_EF78);
        // Lanes past the register fall off: a dword at 0xE3 writes byte 3 only.
        d.write(0xE3, 4, 0x4433_2211);
        assert_eq!(d.read(0xE0, 4), 0x11CD_EF78);
        assert_eq!(d.read(0xE3, 4), 0x11);
    }

    #[test]
    fn byte_port_is_the_same_register() {
        let (mut d, _) = dev();
        d.write(0xE8, 4, 0xDEAD_BEEF);
        assert_eq!(d.read(0xE0, 4), 0xDEAD_BEEF);
        assert_eq!(d.read(0xEA, 2), 0xDEAD);
        d.write(0xE1, 1, 0x00);
        assert_eq!(d.read(0xE8, 4), 0xDEAD_00EF);
    }

    #[test]
    fn flush_page_is_accepted_and_reads_zero() {
        let (mut d, _) = dev();
        d.write(0xE0, 4, 0x55AA_55AA);
        d.write(0xE4, 4, 0x0010_0000);
        assert_eq!(d.read(0xE4, 4), 0);
        assert_eq!(
            d.read(0xE0, 4),
            0x55AA_55AA,
            "the scratch register is untouched"
        );
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn irq_lines_follow_byte_writes() {
        let sink = Sink::default();
        let irq = IrqLines::new();
        let mut d =
            PcTestDev::new(irq.clone()).with_unimp_log(UnimpLog::to(Box::new(sink.clone())));
        d.write(0x2000 + 10, 1, 1);
        assert_eq!(irq.levels(), 1 << 10);
        assert_eq!(
            irq.take_edges(),
            1 << 10,
            "a rising edge for edge-triggered inputs"
        );
        d.write(0x2000 + 3, 1, 0x80);
        assert_eq!(
            irq.levels(),
            (1 << 10) | (1 << 3),
            "any non-zero value raises"
        );
        d.write(0x2000 + 10, 1, 0);
        assert_eq!(irq.levels(), 1 << 3);
        assert_eq!(d.read(0x2003, 1), 0);
        // Word writes are invalid; lines 16-23 do not exist. Both are reported once.
        d.write(0x2004, 2, 1);
        d.write(0x2000 + 20, 1, 1);
        d.write(0x2000 + 20, 1, 1);
        d.write(0xE5, 1, 1);
        assert_eq!(irq.levels(), 1 << 3);
        let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 3, "{log}");
        assert!(log.contains("IRQ line 20"), "{log}");
    }

    #[test]
    fn iomem_window() {
        let (mut d, _) = dev();
        assert!(d.mmio_write(IOMEM_BASE + 0x10, 4, 0x1122_3344));
        assert_eq!(d.mmio_read(IOMEM_BASE + 0x10, 4), Some(0x1122_3344));
        assert_eq!(d.mmio_read(IOMEM_BASE + 0x11, 1), Some(0x33));
        assert!(d.mmio_write(IOMEM_BASE + 0xFFF8, 8, 0x0102_0304_0506_0708));
        assert_eq!(
            d.mmio_read(IOMEM_BASE + 0xFFF8, 8),
            Some(0x0102_0304_0506_0708)
        );
        assert_eq!(d.mmio_read(IOMEM_BASE + 0xFFFC, 2), Some(0x0304));
        // Outside the window: not decoded.
        assert_eq!(d.mmio_read(IOMEM_BASE + IOMEM_LEN as u64, 4), None);
        assert_eq!(d.mmio_read(IOMEM_BASE - 4, 4), None);
        assert!(!d.mmio_write(0xFEC0_0000, 4, 1));
        assert_eq!(d.mmio_read(0, 1), None);
    }

    #[test]
    fn through_the_port_bus() {
        let irq = IrqLines::new();
        let mut bus = PortBus::default();
        let id = bus.register(ports(), Box::new(PcTestDev::new(irq.clone())));
        bus.decode_mmio(id);
        bus.write(0xE0, 4, 0xCAFE_F00D);
        assert_eq!(bus.read(0xE8, 2), 0xF00D);
        bus.write(0x2001, 1, 1);
        assert_eq!(irq.levels(), 1 << 1);
        bus.mmio_write(IOMEM_BASE + 0x800, 2, 0xBEEF);
        assert_eq!(bus.mmio_read(IOMEM_BASE + 0x800, 2), 0xBEEF);
        assert_eq!(bus.unclaimed_mmio_hits, 0);
        bus.mmio_read(IOMEM_BASE + 0x1_0000, 4);
        assert_eq!(bus.unclaimed_mmio_hits, 1);
        assert_eq!(bus.read(0xEC, 1), 0xFF, "0xEC is not ours");
        let p: Vec<u16> = ports().collect();
        assert_eq!(p.len(), 11 + 24);
        assert!(!p.contains(&0xE9), "0xE9 stays with the debug console");
        assert!(p.contains(&0xE4) && p.contains(&0xEB) && p.contains(&0x2017));
    }

    #[test]
    fn state_round_trip() {
        let (mut d, _) = dev();
        d.write(0xE0, 4, 0x0BAD_CAFE);
        d.mmio_write(IOMEM_BASE + 5, 1, 0x42);
        let s = d.state();
        let (mut e, _) = dev();
        e.restore(s.clone());
        assert_eq!(e.state(), s);
        assert_eq!(e.read(0xE0, 4), 0x0BAD_CAFE);
        assert_eq!(e.mmio_read(IOMEM_BASE + 5, 1), Some(0x42));
        e.restore(PcTestDevState {
            ioport_data: 1,
            iomem: vec![1, 2, 3],
        });
        assert_eq!(
            e.mmio_read(IOMEM_BASE + 0xFFFF, 1),
            Some(0),
            "short iomem padded"
        );
        assert_eq!(e.mmio_read(IOMEM_BASE + 2, 1), Some(3));
    }
}
