//! Video memory and the VGA's CPU access path (IBM VGA Technical Reference, "Graphics
//! Controller Registers" and "Sequencer Registers"; FreeVGA "VGA/SVGA Video Memory
//! Operations").
//!
//! Layout: one flat array of [`VRAM_SIZE`] bytes, which is also what BAR0 (the linear
//! framebuffer) shows. As in QEMU's standard VGA, the first 256 KiB hold the four 64 KiB VGA
//! planes interleaved: byte `4 * offset + plane`. So a planar access touches one 32-bit word
//! and the latches are that word.
//!
//! CPU address translation inside the window selected by GR06 (memory map select):
//! - chain 4 (SR04 bit 3): the two low address bits select the plane, the plane offset is
//!   the address with those bits cleared, as on IBM's VGA (the CRTC's doubleword mode reads
//!   it back the same way);
//! - odd/even (writes: SR04 bit 2 clear; reads: GR05 bit 4 set): address bit 0 selects
//!   plane 0/1 (or 2/3 through the read map select bit 1 and the map mask), the plane offset
//!   is the address with bit 0 cleared. The Miscellaneous Output page bit is not used, as in
//!   QEMU and Bochs (mode 3 sets it and software expects characters at even offsets);
//! - otherwise planar: the plane offset is the address; reads return the plane GR04 selects,
//!   writes go to the planes SR02 enables.
//!
//! Every read loads the four latches. Read mode 0 returns a plane byte, read mode 1 the
//! colour-compare result (GR02, GR07). Write modes (GR05 bits 1:0):
//! - 0: the CPU byte rotated right by GR03 bits 2:0, replaced per plane by the set/reset
//!   value (GR00) where GR01 enables it;
//! - 1: the latches, unchanged;
//! - 2: CPU bits 3:0 expanded, one per plane;
//! - 3: the set/reset value, with the rotated CPU byte ANDed into the bit mask;
//!
//! modes 0, 2 and 3 then apply the logical operation with the latches (GR03 bits 4:3:
//! replace, AND, OR, XOR) and the bit mask (GR08: clear bits keep the latch).

use super::regs::{
    VgaRegs, GR05_ODD_EVEN, GR_BIT_MASK, GR_COLOR_COMPARE, GR_COLOR_DONT_CARE, GR_DATA_ROTATE,
    GR_ENABLE_SET_RESET, GR_MISC, GR_MODE, GR_READ_MAP, GR_SET_RESET, SR04_CHAIN4,
    SR04_ODD_EVEN_DISABLE, SR_MAP_MASK, SR_MEMORY_MODE,
};

/// 16 MiB: the BAR0 size QEMU's standard VGA uses by default, enough for 2560x1600x32.
pub const VRAM_SIZE: usize = 16 << 20;
/// One VGA plane.
pub const PLANE_SIZE: usize = 64 << 10;

pub const LEGACY_BASE: u64 = 0xA0000;
pub const LEGACY_END: u64 = 0xC0000;

/// The window GR06 bits 3:2 select, as (start, length) in physical memory.
pub fn window(regs: &VgaRegs) -> (u64, u64) {
    match (regs.gr[GR_MISC] >> 2) & 3 {
        0 => (0xA0000, 0x20000),
        1 => (0xA0000, 0x10000),
        2 => (0xB0000, 0x8000),
        _ => (0xB8000, 0x8000),
    }
}

/// Byte `offset` of `plane` in VRAM.
pub fn plane_index(plane: usize, offset: usize) -> usize {
    ((offset & (PLANE_SIZE - 1)) << 2) | (plane & 3)
}

/// Expands the low four bits of `v` into one byte mask per plane.
fn expand(v: u8) -> u32 {
    (0..4).fold(0, |acc, p| {
        acc | if v >> p & 1 != 0 { 0xFF << (8 * p) } else { 0 }
    })
}

fn bytes4(v: u8) -> u32 {
    u32::from_le_bytes([v; 4])
}

/// VRAM and the latches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vram {
    pub data: Vec<u8>,
    pub latch: u32,
}

impl Default for Vram {
    fn default() -> Self {
        Self::new()
    }
}

impl Vram {
    pub fn new() -> Self {
        Vram {
            data: vec![0; VRAM_SIZE],
            latch: 0,
        }
    }

    pub fn plane_byte(&self, plane: usize, offset: usize) -> u8 {
        self.data
            .get(plane_index(plane, offset))
            .copied()
            .unwrap_or(0)
    }

    /// The four planes at `offset`, plane 0 in the low byte.
    fn planes(&self, offset: usize) -> u32 {
        let i = plane_index(0, offset);
        match self.data.get(i..i + 4) {
            Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            None => 0,
        }
    }

    fn set_planes(&mut self, offset: usize, value: u32, enable: u8) {
        let i = plane_index(0, offset);
        if let Some(b) = self.data.get_mut(i..i + 4) {
            for (p, byte) in b.iter_mut().enumerate() {
                if enable >> p & 1 != 0 {
                    *byte = (value >> (8 * p)) as u8;
                }
            }
        }
    }

    /// A CPU byte read at `addr`, an offset inside the legacy window.
    pub fn read(&mut self, regs: &VgaRegs, addr: usize) -> u8 {
        let mode = regs.seq[SR_MEMORY_MODE];
        let (offset, plane) = if mode & SR04_CHAIN4 != 0 {
            (addr & !3, addr & 3)
        } else if regs.gr[GR_MODE] & GR05_ODD_EVEN != 0 {
            (addr & !1, (regs.gr[GR_READ_MAP] & 2) as usize | (addr & 1))
        } else {
            (addr, (regs.gr[GR_READ_MAP] & 3) as usize)
        };
        self.latch = self.planes(offset);
        if regs.gr[GR_MODE] & 0x08 == 0 {
            return (self.latch >> (8 * plane)) as u8;
        }
        // Read mode 1: a pixel matches when every plane it cares about equals the compare
        // colour.
        let care = expand(regs.gr[GR_COLOR_DONT_CARE]);
        let want = expand(regs.gr[GR_COLOR_COMPARE]);
        let diff = (self.latch ^ want) & care;
        let mismatch = (diff | diff >> 8 | diff >> 16 | diff >> 24) as u8;
        !mismatch
    }

    /// A CPU byte write at `addr`, an offset inside the legacy window.
    pub fn write(&mut self, regs: &VgaRegs, addr: usize, v: u8) {
        let mode = regs.seq[SR_MEMORY_MODE];
        let mut enable = regs.seq[SR_MAP_MASK] & 0x0F;
        let offset = if mode & SR04_CHAIN4 != 0 {
            enable &= 1 << (addr & 3);
            addr & !3
        } else if mode & SR04_ODD_EVEN_DISABLE == 0 {
            enable &= if addr & 1 == 0 { 0b0101 } else { 0b1010 };
            addr & !1
        } else {
            addr
        };
        if enable == 0 {
            return;
        }
        let gr = &regs.gr;
        let rotated = v.rotate_right((gr[GR_DATA_ROTATE] & 7) as u32);
        let set_reset = expand(gr[GR_SET_RESET]);
        let mut mask = gr[GR_BIT_MASK];
        let data = match gr[GR_MODE] & 3 {
            0 => {
                let sr_enable = expand(gr[GR_ENABLE_SET_RESET]);
                (bytes4(rotated) & !sr_enable) | (set_reset & sr_enable)
            }
            1 => {
                self.set_planes(offset, self.latch, enable);
                return;
            }
            2 => expand(v),
            _ => {
                mask &= rotated;
                set_reset
            }
        };
        let data = match (gr[GR_DATA_ROTATE] >> 3) & 3 {
            0 => data,
            1 => data & self.latch,
            2 => data | self.latch,
            _ => data ^ self.latch,
        };
        let mask = bytes4(mask);
        let value = (data & mask) | (self.latch & !mask);
        self.set_planes(offset, value, enable);
    }

    /// A byte of the linear framebuffer view (BAR0, the VBE window).
    pub fn linear_read(&self, index: usize) -> u8 {
        self.data.get(index).copied().unwrap_or(0xFF)
    }

    pub fn linear_write(&mut self, index: usize, v: u8) {
        if let Some(b) = self.data.get_mut(index) {
            *b = v;
        }
    }
}
