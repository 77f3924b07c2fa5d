//! The card's PCI face, as QEMU's `-vga std` (`VGA` device) presents it: vendor 0x1234,
//! device 0x1111, class 0x0300 (VGA-compatible controller), revision 2, QEMU's subsystem IDs.
//!
//! - BAR0: 16 MiB prefetchable 32-bit memory, the linear framebuffer (all of VRAM).
//! - BAR2: 4 KiB memory, QEMU's register window: 0x400-0x41F the VGA ports 0x3C0-0x3DF,
//!   0x500-0x515 the DISPI registers (index * 2), 0x600-0x607 QEMU's extended registers
//!   (size, byte order).
//! - Expansion ROM BAR (0x30): the VGA BIOS, sized to the next power of two of its length
//!   (at least 2 KiB, the PCI minimum), decoded while bit 0 and the command register's
//!   memory bit are set (PCI Local Bus Specification 3.0, 6.2.5.2).
//!
//! Legacy ports and the 0xA0000 window are decoded whatever the command register says, as
//! QEMU does, so a guest started without firmware (direct Linux boot) still has a console.

use super::super::pci::config::{ConfigSpace, PciId, COMMAND};

pub const VENDOR: u16 = 0x1234;
pub const DEVICE: u16 = 0x1111;
pub const CLASS_VGA: u16 = 0x0300;
pub const REVISION: u8 = 0x02;

pub const BAR0: u8 = 0x10;
pub const BAR2: u8 = 0x18;
pub const ROM_BAR: u8 = 0x30;

/// Command register bit 1: memory space enable.
pub const COMMAND_MEMORY: u16 = 0x02;
/// Memory BAR type bits: prefetchable (bit 3), 32-bit (bits 2:1 = 0).
const BAR_PREFETCH: u32 = 0x08;
const ROM_ENABLE: u32 = 0x01;

pub const LFB_SIZE: u32 = super::memory::VRAM_SIZE as u32;
pub const MMIO_SIZE: u32 = 0x1000;

/// Offsets in the BAR2 window.
pub const MMIO_VGA_PORTS: u64 = 0x400;
pub const MMIO_DISPI: u64 = 0x500;
pub const MMIO_QEXT: u64 = 0x600;
/// QEMU's extended register block: size (bytes) and byte-order registers.
pub const QEXT_SIZE: u32 = 8;
pub const QEXT_LITTLE_ENDIAN: u32 = 0x1E1E_1E1E;

/// The expansion ROM BAR size for a ROM of `len` bytes (0: no ROM BAR).
pub fn rom_bar_size(len: usize) -> u32 {
    if len == 0 {
        return 0;
    }
    len.next_power_of_two().clamp(2048, 1 << 24) as u32
}

/// A fresh configuration space for a card with a ROM BAR of `rom_size` bytes.
pub fn config_space(rom_size: u32) -> ConfigSpace {
    let mut c = ConfigSpace::new(PciId {
        vendor: VENDOR,
        device: DEVICE,
        class: CLASS_VGA,
        prog_if: 0,
        revision: REVISION,
        header_type: 0,
    });
    c.set_dword(BAR0, BAR_PREFETCH);
    c.set_wmask(BAR0, 4, !(LFB_SIZE - 1));
    c.set_wmask(BAR2, 4, !(MMIO_SIZE - 1));
    if rom_size != 0 {
        c.set_wmask(ROM_BAR, 4, (!(rom_size - 1) & 0xFFFF_F800) | ROM_ENABLE);
    }
    // No capabilities and no device-specific registers.
    c.wmask[0x40..].fill(0);
    c
}

fn memory_enabled(c: &ConfigSpace) -> bool {
    c.word(COMMAND) & COMMAND_MEMORY != 0
}

fn bar_base(c: &ConfigSpace, reg: u8, size: u32) -> Option<u64> {
    let base = c.dword(reg) & !(size - 1);
    (memory_enabled(c) && base != 0).then_some(base as u64)
}

/// Offset of `addr` in the framebuffer BAR when it is decoded there.
pub fn lfb_offset(c: &ConfigSpace, addr: u64) -> Option<usize> {
    let base = bar_base(c, BAR0, LFB_SIZE)?;
    let off = addr.checked_sub(base)?;
    (off < LFB_SIZE as u64).then_some(off as usize)
}

pub fn mmio_offset(c: &ConfigSpace, addr: u64) -> Option<u64> {
    let base = bar_base(c, BAR2, MMIO_SIZE)?;
    let off = addr.checked_sub(base)?;
    (off < MMIO_SIZE as u64).then_some(off)
}

pub fn rom_offset(c: &ConfigSpace, rom_size: u32, addr: u64) -> Option<usize> {
    if rom_size == 0 || c.dword(ROM_BAR) & ROM_ENABLE == 0 {
        return None;
    }
    let base = (c.dword(ROM_BAR) & !(rom_size - 1) & 0xFFFF_F800) as u64;
    if !memory_enabled(c) || base == 0 {
        return None;
    }
    let off = addr.checked_sub(base)?;
    (off < rom_size as u64).then_some(off as usize)
}
