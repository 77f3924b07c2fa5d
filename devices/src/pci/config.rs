//! A function's 256-byte configuration space with per-byte write and write-one-to-clear
//! masks, covering the common type 0 header (PCI Local Bus Specification 3.0, section 6.1).

/// Offsets in the type 0 header.
pub const VENDOR_ID: u8 = 0x00;
pub const DEVICE_ID: u8 = 0x02;
pub const COMMAND: u8 = 0x04;
pub const STATUS: u8 = 0x06;
pub const REVISION_ID: u8 = 0x08;
pub const PROG_IF: u8 = 0x09;
pub const CLASS_CODE: u8 = 0x0A;
pub const CACHE_LINE_SIZE: u8 = 0x0C;
pub const LATENCY_TIMER: u8 = 0x0D;
pub const HEADER_TYPE: u8 = 0x0E;
pub const SUBSYSTEM_VENDOR_ID: u8 = 0x2C;
pub const SUBSYSTEM_ID: u8 = 0x2E;
pub const INTERRUPT_LINE: u8 = 0x3C;
pub const INTERRUPT_PIN: u8 = 0x3D;

/// Header type bit 7: the device implements more than one function.
pub const HEADER_MULTIFUNCTION: u8 = 0x80;

/// Command bits a guest may set on our functions: I/O, memory, bus master, parity error
/// response, SERR# enable, interrupt disable.
const COMMAND_WMASK: u16 = 0x0547;
/// Status bits that are write-one-to-clear (error reporting bits 15:11 and 8).
const STATUS_W1C: u16 = 0xF900;

/// The subsystem IDs QEMU gives its emulated devices (Red Hat, "QEMU virtual machine"),
/// which Linux and firmware only print.
pub const QEMU_SUBSYSTEM_VENDOR: u16 = 0x1AF4;
pub const QEMU_SUBSYSTEM: u16 = 0x1100;

/// Identification written into the read-only part of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciId {
    pub vendor: u16,
    pub device: u16,
    /// Base class and subclass, e.g. 0x0600 for a host bridge.
    pub class: u16,
    pub prog_if: u8,
    pub revision: u8,
    pub header_type: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigSpace {
    pub data: [u8; 256],
    /// Bits the guest may change.
    pub wmask: [u8; 256],
    /// Bits cleared by writing one (applied in addition to `wmask`).
    pub w1cmask: [u8; 256],
}

impl ConfigSpace {
    /// A type 0 header with `id`; command, cache line size, latency timer and interrupt line
    /// writable, and (as QEMU does) the whole device-specific area 0x40-0xFF writable until
    /// the device narrows it with [`ConfigSpace::set_wmask`].
    pub fn new(id: PciId) -> Self {
        let mut c = ConfigSpace {
            data: [0; 256],
            wmask: [0; 256],
            w1cmask: [0; 256],
        };
        c.set_word(VENDOR_ID, id.vendor);
        c.set_word(DEVICE_ID, id.device);
        c.set_byte(REVISION_ID, id.revision);
        c.set_byte(PROG_IF, id.prog_if);
        c.set_word(CLASS_CODE, id.class);
        c.set_byte(HEADER_TYPE, id.header_type);
        c.set_word(SUBSYSTEM_VENDOR_ID, QEMU_SUBSYSTEM_VENDOR);
        c.set_word(SUBSYSTEM_ID, QEMU_SUBSYSTEM);
        c.set_wmask(COMMAND, 2, COMMAND_WMASK as u32);
        c.w1cmask[STATUS as usize] = STATUS_W1C as u8;
        c.w1cmask[STATUS as usize + 1] = (STATUS_W1C >> 8) as u8;
        c.wmask[CACHE_LINE_SIZE as usize] = 0xFF;
        c.wmask[LATENCY_TIMER as usize] = 0xFF;
        c.wmask[INTERRUPT_LINE as usize] = 0xFF;
        c.wmask[0x40..].fill(0xFF);
        c
    }

    pub fn byte(&self, reg: u8) -> u8 {
        self.data[reg as usize]
    }

    pub fn word(&self, reg: u8) -> u16 {
        self.read(reg, 2) as u16
    }

    pub fn dword(&self, reg: u8) -> u32 {
        self.read(reg, 4)
    }

    /// Direct stores for the device model, ignoring the masks.
    pub fn set_byte(&mut self, reg: u8, v: u8) {
        self.data[reg as usize] = v;
    }

    pub fn set_word(&mut self, reg: u8, v: u16) {
        self.set(reg, 2, v as u32);
    }

    pub fn set_dword(&mut self, reg: u8, v: u32) {
        self.set(reg, 4, v);
    }

    fn set(&mut self, reg: u8, size: u8, v: u32) {
        for i in 0..size as usize {
            if let Some(b) = self.data.get_mut(reg as usize + i) {
                *b = (v >> (8 * i)) as u8;
            }
        }
    }

    /// Sets the writable bits of `size` bytes at `reg` (little-endian `mask`).
    pub fn set_wmask(&mut self, reg: u8, size: u8, mask: u32) {
        for i in 0..size as usize {
            if let Some(b) = self.wmask.get_mut(reg as usize + i) {
                *b = (mask >> (8 * i)) as u8;
            }
        }
    }

    /// A guest read of `size` bytes at `reg`; bytes past the end read as ones.
    pub fn read(&self, reg: u8, size: u8) -> u32 {
        (0..size as usize).fold(0, |acc, i| {
            let b = self.data.get(reg as usize + i).copied().unwrap_or(0xFF);
            acc | (b as u32) << (8 * i)
        })
    }

    /// A guest write through the masks; bytes past the end are dropped.
    pub fn write(&mut self, reg: u8, size: u8, value: u32) {
        for i in 0..size as usize {
            let r = reg as usize + i;
            if r >= 256 {
                break;
            }
            let v = (value >> (8 * i)) as u8;
            let (w, c) = (self.wmask[r], self.w1cmask[r]);
            self.data[r] = (self.data[r] & !w) | (v & w);
            self.data[r] &= !(v & c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> PciId {
        PciId {
            vendor: 0x8086,
            device: 0x1237,
            class: 0x0600,
            prog_if: 0,
            revision: 2,
            header_type: 0,
        }
    }

    #[test]
    fn header_is_read_only_except_masks() {
        let mut c = ConfigSpace::new(id());
        c.write(0, 4, 0);
        assert_eq!(c.dword(0), 0x1237_8086);
        assert_eq!(c.dword(0x08), 0x0600_0002);
        c.write(COMMAND, 2, 0xFFFF);
        assert_eq!(c.word(COMMAND), COMMAND_WMASK);
        c.write(INTERRUPT_LINE, 1, 9);
        assert_eq!(c.byte(INTERRUPT_LINE), 9);
        c.write(0x10, 4, 0xFFFF_FFFF);
        assert_eq!(c.dword(0x10), 0, "no BARs");
        c.set_word(STATUS, 0x8200);
        c.write(STATUS, 2, 0x8000);
        assert_eq!(c.word(STATUS), 0x0200, "W1C error bit");
        assert_eq!(c.read(0xFE, 4), 0xFFFF_0000);
    }
}
