//! The Bochs VBE extensions ("DISPI" interface) that Bochs, QEMU's standard VGA and their
//! VGA BIOSes share: an index register at port 0x1CE and a 16-bit data register at 0x1CF
//! (0x1D0 is an alias as in QEMU), also reachable through BAR2 at 0x500.
//!
//! Registers (Bochs `vbe.h`, QEMU `hw/display/vga.c` behaviour):
//! - 0 ID: writes of 0xB0C0-0xB0C5 are stored and read back (the version handshake the
//!   BIOS and Linux's bochs driver do); other values are ignored.
//! - 1 XRES, 2 YRES, 3 BPP (4, 8, 15, 16, 24, 32), 6 VIRT_WIDTH, 7 VIRT_HEIGHT (read-only
//!   in effect: derived from VRAM size), 8 X_OFFSET, 9 Y_OFFSET: stored as written while
//!   disabled and fixed up against the limits whenever the mode is (or becomes) enabled.
//! - 4 ENABLE: bit 0 enabled, bit 1 GETCAPS (XRES/YRES/BPP then read as the maxima),
//!   bit 5 8-bit DAC, bit 6 LFB enabled, bit 7 do not clear VRAM on enable.
//! - 5 BANK: 64 KiB bank shown at 0xA0000 while enabled.
//! - 0xA VIDEO_MEMORY_64K: VRAM size in 64 KiB units (read-only).
//!
//! Limits: 2560x1600 at 32 bpp (16,384,000 bytes fits the 16 MiB VRAM); any mode whose
//! lines do not fit is cut down to the lines that do, as QEMU does.

use super::memory::VRAM_SIZE;

pub const INDEX_PORT: u16 = 0x1CE;
pub const DATA_PORT: u16 = 0x1CF;
/// QEMU's alias of the data register (used on non-x86 hosts, harmless here).
pub const DATA_PORT_ALIAS: u16 = 0x1D0;

pub const INDEX_ID: u16 = 0;
pub const INDEX_XRES: u16 = 1;
pub const INDEX_YRES: u16 = 2;
pub const INDEX_BPP: u16 = 3;
pub const INDEX_ENABLE: u16 = 4;
pub const INDEX_BANK: u16 = 5;
pub const INDEX_VIRT_WIDTH: u16 = 6;
pub const INDEX_VIRT_HEIGHT: u16 = 7;
pub const INDEX_X_OFFSET: u16 = 8;
pub const INDEX_Y_OFFSET: u16 = 9;
pub const INDEX_VIDEO_MEMORY_64K: u16 = 0xA;
const REG_COUNT: usize = 10;

pub const ID0: u16 = 0xB0C0;
pub const ID5: u16 = 0xB0C5;

pub const ENABLED: u16 = 0x01;
pub const GETCAPS: u16 = 0x02;
pub const DAC_8BIT: u16 = 0x20;
pub const LFB_ENABLED: u16 = 0x40;
pub const NO_CLEAR_MEM: u16 = 0x80;

pub const MAX_XRES: u16 = 2560;
pub const MAX_YRES: u16 = 1600;
pub const MAX_BPP: u16 = 32;

const BANK_MASK: u16 = (VRAM_SIZE >> 16) as u16 - 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VbeState {
    pub index: u16,
    pub regs: [u16; REG_COUNT],
}

/// What a DISPI write asks of the card beyond storing the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VbeEffect {
    None,
    /// The mode changed (display must be republished).
    ModeChanged,
    /// Just enabled without NO_CLEAR_MEM: clear this many bytes of VRAM from offset 0.
    Clear(usize),
    /// An index the card does not implement.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vbe {
    pub index: u16,
    pub regs: [u16; REG_COUNT],
}

impl Default for Vbe {
    fn default() -> Self {
        Self::new()
    }
}

impl Vbe {
    pub fn new() -> Self {
        let mut regs = [0; REG_COUNT];
        regs[INDEX_ID as usize] = ID5;
        regs[INDEX_BPP as usize] = 8;
        regs[INDEX_XRES as usize] = 640;
        regs[INDEX_YRES as usize] = 480;
        Vbe { index: 0, regs }
    }

    pub fn reg(&self, index: u16) -> u16 {
        self.regs.get(index as usize).copied().unwrap_or(0)
    }

    pub fn enabled(&self) -> bool {
        self.reg(INDEX_ENABLE) & ENABLED != 0
    }

    pub fn xres(&self) -> u16 {
        self.reg(INDEX_XRES)
    }

    pub fn yres(&self) -> u16 {
        self.reg(INDEX_YRES)
    }

    pub fn bpp(&self) -> u16 {
        self.reg(INDEX_BPP)
    }

    /// Byte offset of the bank shown at 0xA0000.
    pub fn bank_offset(&self) -> usize {
        ((self.reg(INDEX_BANK) & BANK_MASK) as usize) << 16
    }

    /// Bytes per scan line of the virtual screen.
    pub fn line_offset(&self) -> usize {
        line_bytes(self.reg(INDEX_VIRT_WIDTH), self.bpp())
    }

    /// VRAM offset of the first visible pixel (X_OFFSET, Y_OFFSET).
    pub fn start_offset(&self) -> usize {
        let x = self.reg(INDEX_X_OFFSET) as usize;
        self.reg(INDEX_Y_OFFSET) as usize * self.line_offset() + line_bytes(x as u16, self.bpp())
    }

    pub fn read_data(&self) -> u16 {
        let caps = self.reg(INDEX_ENABLE) & GETCAPS != 0;
        match self.index {
            INDEX_XRES if caps => MAX_XRES,
            INDEX_YRES if caps => MAX_YRES,
            INDEX_BPP if caps => MAX_BPP,
            INDEX_VIDEO_MEMORY_64K => (VRAM_SIZE >> 16) as u16,
            i => self.reg(i),
        }
    }

    pub fn write_data(&mut self, v: u16) -> VbeEffect {
        let i = self.index;
        match i {
            INDEX_ID => {
                if (ID0..=ID5).contains(&v) {
                    self.regs[0] = v;
                }
                VbeEffect::None
            }
            INDEX_XRES | INDEX_YRES | INDEX_BPP | INDEX_VIRT_WIDTH | INDEX_X_OFFSET
            | INDEX_Y_OFFSET => {
                self.regs[i as usize] = v;
                self.fixup();
                VbeEffect::ModeChanged
            }
            INDEX_BANK => {
                self.regs[i as usize] = v & BANK_MASK;
                VbeEffect::None
            }
            INDEX_ENABLE => {
                let was = self.enabled();
                let mut effect = VbeEffect::ModeChanged;
                if v & ENABLED != 0 && !was {
                    self.regs[INDEX_VIRT_WIDTH as usize] = 0;
                    self.regs[INDEX_X_OFFSET as usize] = 0;
                    self.regs[INDEX_Y_OFFSET as usize] = 0;
                    self.regs[INDEX_ENABLE as usize] = v;
                    self.fixup();
                    if v & NO_CLEAR_MEM == 0 {
                        effect = VbeEffect::Clear(self.yres() as usize * self.line_offset());
                    }
                } else {
                    self.regs[INDEX_ENABLE as usize] = v;
                    if v & ENABLED == 0 {
                        self.regs[INDEX_BANK as usize] = 0;
                    }
                }
                effect
            }
            INDEX_VIRT_HEIGHT | INDEX_VIDEO_MEMORY_64K => VbeEffect::None,
            _ => VbeEffect::Unknown,
        }
    }

    /// Brings the registers within what the VRAM and our limits allow (only while enabled,
    /// so a driver may program them in any order first).
    fn fixup(&mut self) {
        if !self.enabled() {
            return;
        }
        let r = &mut self.regs;
        if !matches!(r[INDEX_BPP as usize], 4 | 8 | 15 | 16 | 24 | 32) {
            r[INDEX_BPP as usize] = 8;
        }
        let bpp = r[INDEX_BPP as usize];
        let x = (r[INDEX_XRES as usize] & !7).clamp(8, MAX_XRES);
        r[INDEX_XRES as usize] = x;
        let y = r[INDEX_YRES as usize].clamp(1, MAX_YRES);
        // The virtual width is at least the visible one and its lines must fit VRAM.
        let mut vw = r[INDEX_VIRT_WIDTH as usize].max(x);
        if line_bytes(vw, bpp) * y as usize > VRAM_SIZE {
            vw = x;
        }
        r[INDEX_VIRT_WIDTH as usize] = vw;
        let line = line_bytes(vw, bpp).max(1);
        let lines = (VRAM_SIZE / line).min(u16::MAX as usize) as u16;
        r[INDEX_YRES as usize] = y.min(lines);
        r[INDEX_VIRT_HEIGHT as usize] = lines;
        let max_x = vw - x;
        let max_y = lines - r[INDEX_YRES as usize];
        r[INDEX_X_OFFSET as usize] = r[INDEX_X_OFFSET as usize].min(max_x);
        r[INDEX_Y_OFFSET as usize] = r[INDEX_Y_OFFSET as usize].min(max_y);
    }

    pub fn state(&self) -> VbeState {
        VbeState {
            index: self.index,
            regs: self.regs,
        }
    }

    pub fn restore(&mut self, s: VbeState) {
        self.index = s.index;
        self.regs = s.regs;
        self.regs[INDEX_BANK as usize] &= BANK_MASK;
        self.fixup();
    }
}

/// Bytes taken by `pixels` pixels at `bpp`.
pub fn line_bytes(pixels: u16, bpp: u16) -> usize {
    let p = pixels as usize;
    match bpp {
        4 => p.div_ceil(2),
        15 | 16 => p * 2,
        24 => p * 3,
        32 => p * 4,
        _ => p,
    }
}
