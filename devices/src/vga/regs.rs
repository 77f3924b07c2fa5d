//! The VGA register file: Miscellaneous Output, sequencer, graphics controller, attribute
//! controller, CRT controller and the DAC, with their index/data port protocols (IBM VGA
//! Technical Reference, "Registers"; FreeVGA's register pages use the same names).
//!
//! Ports (colour addresses shown; the CRTC and Input Status 1 / Feature Control move to
//! 0x3Bx when Miscellaneous Output bit 0 selects monochrome emulation, and the other block
//! then reads as 0xFF as on real cards):
//! - 0x3C0 attribute index/data (one flip-flop, reset by reading Input Status 1), 0x3C1 data
//!   read;
//! - 0x3C2 Miscellaneous Output write / Input Status 0 read; 0x3CC Miscellaneous Output read;
//!   0x3CA Feature Control read, written at 0x3DA;
//! - 0x3C4/0x3C5 sequencer, 0x3CE/0x3CF graphics controller, 0x3D4/0x3D5 CRTC;
//! - 0x3C6 PEL mask, 0x3C7 DAC state read / read index write, 0x3C8 write index, 0x3C9 data
//!   (three accesses per entry, red-green-blue, auto-incrementing);
//! - 0x3DA Input Status 1: bit 0 "display disabled" (either retrace or blanking), bit 3
//!   vertical retrace, computed from the virtual clock by the caller.
//!
//! Bits a register does not implement read as zero (the write masks below are the IBM VGA
//! register layouts). CRTC registers 0-7 honour the protect bit (CR11 bit 7), which leaves
//! CR07 bit 4 writable. CRTC indexes above 0x18 are stored and read back as QEMU's
//! standard VGA does, since no VGA-compatible software depends on them.

/// Sequencer registers 0-4 (reset, clocking mode, map mask, character map select, memory
/// mode).
pub const SEQ_COUNT: usize = 5;
pub const SEQ_MASK: [u8; SEQ_COUNT] = [0x03, 0x3D, 0x0F, 0x3F, 0x0E];
/// Graphics controller registers 0-8.
pub const GR_COUNT: usize = 9;
pub const GR_MASK: [u8; GR_COUNT] = [0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF];
/// Attribute controller registers 0x00-0x14.
pub const AR_COUNT: usize = 0x15;
/// Palette registers are 6 bits; mode control, overscan, colour plane enable, horizontal
/// pel panning, colour select.
pub const AR_MASK: [u8; AR_COUNT] = [
    0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F, 0x3F,
    0xEF, 0xFF, 0x3F, 0x0F, 0x0F,
];
/// CRTC registers 0x00-0x18 are the VGA's; the array covers the whole index byte.
pub const CRTC_COUNT: usize = 256;

// Sequencer indexes.
pub const SR_CLOCKING: usize = 1;
pub const SR_MAP_MASK: usize = 2;
pub const SR_MEMORY_MODE: usize = 4;
/// SR01 bit 5: screen off.
pub const SR01_SCREEN_OFF: u8 = 0x20;
/// SR01 bit 3: dot clock divided by two (320-pixel modes).
pub const SR01_DOT_CLOCK_HALF: u8 = 0x08;
/// SR04 bit 2: odd/even addressing disabled (sequential) for CPU writes.
pub const SR04_ODD_EVEN_DISABLE: u8 = 0x04;
/// SR04 bit 3: chain 4.
pub const SR04_CHAIN4: u8 = 0x08;

// Graphics controller indexes.
pub const GR_SET_RESET: usize = 0;
pub const GR_ENABLE_SET_RESET: usize = 1;
pub const GR_COLOR_COMPARE: usize = 2;
pub const GR_DATA_ROTATE: usize = 3;
pub const GR_READ_MAP: usize = 4;
pub const GR_MODE: usize = 5;
pub const GR_MISC: usize = 6;
pub const GR_COLOR_DONT_CARE: usize = 7;
pub const GR_BIT_MASK: usize = 8;
/// GR05 bit 4: host odd/even addressing for CPU reads.
pub const GR05_ODD_EVEN: u8 = 0x10;
/// GR05 bit 5: CGA-style shift register interleave (2 bpp modes).
pub const GR05_SHIFT_INTERLEAVE: u8 = 0x20;
/// GR06 bit 0: graphics (alphanumerics disabled).
pub const GR06_GRAPHICS: u8 = 0x01;

// Attribute controller.
pub const AR_MODE: usize = 0x10;
/// Attribute index bit 5: palette address source; clear while the CPU loads the palette,
/// which blanks the screen.
pub const AR_PAS: u8 = 0x20;
/// AR10 bit 6: 8-bit colour (256-colour modes).
pub const AR10_8BIT: u8 = 0x40;

// CRTC indexes.
pub const CR_HDISP_END: usize = 0x01;
pub const CR_OVERFLOW: usize = 0x07;
pub const CR_MAX_SCAN: usize = 0x09;
pub const CR_CURSOR_START: usize = 0x0A;
pub const CR_CURSOR_END: usize = 0x0B;
pub const CR_START_HI: usize = 0x0C;
pub const CR_START_LO: usize = 0x0D;
pub const CR_CURSOR_HI: usize = 0x0E;
pub const CR_CURSOR_LO: usize = 0x0F;
pub const CR_VRETRACE_END: usize = 0x11;
pub const CR_VDISP_END: usize = 0x12;
pub const CR_OFFSET: usize = 0x13;
pub const CR_UNDERLINE: usize = 0x14;
pub const CR_MODE: usize = 0x17;
/// CR0A bit 5: cursor off.
pub const CR0A_CURSOR_OFF: u8 = 0x20;
/// CR11 bit 7: CR00-CR07 write protect.
pub const CR11_PROTECT: u8 = 0x80;
/// CR14 bit 6: doubleword addressing.
pub const CR14_DWORD: u8 = 0x40;
/// CR17 bit 6: byte mode (clear: word mode); bit 5: word-mode wrap uses MA15 (else MA13).
pub const CR17_BYTE_MODE: u8 = 0x40;
pub const CR17_ADDRESS_WRAP: u8 = 0x20;

/// Miscellaneous Output bit 0: colour emulation (CRTC at 0x3D4); bit 1: CPU access to
/// video RAM enabled.
pub const MISC_COLOR: u8 = 0x01;
pub const MISC_RAM_ENABLE: u8 = 0x02;

/// Input Status 1 bits.
pub const ST1_DISPLAY_DISABLED: u8 = 0x01;
pub const ST1_VRETRACE: u8 = 0x08;

/// DAC state register values (0x3C7 read): the last index written was the read index (3)
/// or the write index (0).
const DAC_STATE_READ: u8 = 0x03;
const DAC_STATE_WRITE: u8 = 0x00;

/// The whole register file. Plain data so it can be saved, compared and restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VgaRegs {
    pub misc: u8,
    pub feature: u8,
    pub seq_index: u8,
    pub seq: [u8; SEQ_COUNT],
    pub gr_index: u8,
    pub gr: [u8; GR_COUNT],
    /// Index register with the PAS bit; `attr_data_next` is the flip-flop.
    pub attr_index: u8,
    pub attr_data_next: bool,
    pub attr: [u8; AR_COUNT],
    pub crtc_index: u8,
    pub crtc: Vec<u8>,
    pub pel_mask: u8,
    pub dac_read_index: u8,
    pub dac_write_index: u8,
    /// Colour component (0-2) of the next data access.
    pub dac_sub: u8,
    pub dac_state: u8,
    /// The components latched by data writes until the third completes the entry.
    pub dac_cache: [u8; 3],
    /// 256 entries of red, green, blue; 6 significant bits unless `dac_8bit`.
    pub palette: Vec<u8>,
    /// The Bochs VBE 8-bit DAC switch (VBE_DISPI_8BIT_DAC).
    pub dac_8bit: bool,
}

/// The standard BIOS parameter table entry for mode 3 (80x25 colour text, 720x400, 16-line
/// characters): what a VGA BIOS leaves behind after INT 10h AX=0003h.
const MODE3_MISC: u8 = 0x67;
const MODE3_SEQ: [u8; SEQ_COUNT] = [0x03, 0x00, 0x03, 0x00, 0x02];
const MODE3_CRTC: [u8; 0x19] = [
    0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
    0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
];
const MODE3_ATTR: [u8; AR_COUNT] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
    0x0C, 0x00, 0x0F, 0x08, 0x00,
];
const MODE3_GR: [u8; GR_COUNT] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF];

impl Default for VgaRegs {
    fn default() -> Self {
        Self::mode3()
    }
}

impl VgaRegs {
    /// Power-on state: mode 3 as the BIOS would program it, with the 64-colour EGA palette
    /// in DAC entries 0-63, so software that writes to 0xB8000 without a BIOS shows text.
    pub fn mode3() -> Self {
        let mut crtc = vec![0; CRTC_COUNT];
        crtc[..MODE3_CRTC.len()].copy_from_slice(&MODE3_CRTC);
        let mut palette = vec![0; 768];
        for i in 0..64usize {
            // EGA 6-bit colour rgbRGB: the primary bit gives 2/3 intensity, the secondary 1/3.
            let c = |primary: usize, secondary: usize| {
                (((i >> primary) & 1) * 42 + ((i >> secondary) & 1) * 21) as u8
            };
            palette[i * 3] = c(2, 5);
            palette[i * 3 + 1] = c(1, 4);
            palette[i * 3 + 2] = c(0, 3);
        }
        VgaRegs {
            misc: MODE3_MISC,
            feature: 0,
            seq_index: 0,
            seq: MODE3_SEQ,
            gr_index: 0,
            gr: MODE3_GR,
            attr_index: AR_PAS,
            attr_data_next: false,
            attr: MODE3_ATTR,
            crtc_index: 0,
            crtc,
            pel_mask: 0xFF,
            dac_read_index: 0,
            dac_write_index: 0,
            dac_sub: 0,
            dac_state: DAC_STATE_WRITE,
            dac_cache: [0; 3],
            palette,
            dac_8bit: false,
        }
    }

    pub fn color(&self) -> bool {
        self.misc & MISC_COLOR != 0
    }

    pub fn cr(&self, index: usize) -> u8 {
        self.crtc.get(index).copied().unwrap_or(0)
    }

    /// CRTC start address (CR0C:CR0D), in character-clock (memory address counter) units.
    pub fn start_address(&self) -> u16 {
        u16::from_be_bytes([self.cr(CR_START_HI), self.cr(CR_START_LO)])
    }

    pub fn cursor_address(&self) -> u16 {
        u16::from_be_bytes([self.cr(CR_CURSOR_HI), self.cr(CR_CURSOR_LO)])
    }

    /// Vertical display end in scan lines (CR12 with overflow bits CR07.1 and CR07.6).
    pub fn vertical_display_lines(&self) -> u32 {
        let ov = self.cr(CR_OVERFLOW) as u32;
        let end = self.cr(CR_VDISP_END) as u32 | (ov >> 1 & 1) << 8 | (ov >> 6 & 1) << 9;
        end + 1
    }

    /// The screen shows only the overscan colour: the CPU owns the palette (PAS clear) or
    /// the sequencer turned the screen off.
    pub fn blanked(&self) -> bool {
        self.attr_index & AR_PAS == 0 || self.seq[SR_CLOCKING] & SR01_SCREEN_OFF != 0
    }

    /// Does this port address the CRTC block that Misc Output bit 0 does not select?
    fn inactive_crtc_block(&self, port: u16) -> bool {
        matches!(port, 0x3B0..=0x3BF) == self.color()
    }

    /// A byte read of a legacy register port; `status1` is the current Input Status 1.
    /// Returns None for ports the card does not decode.
    pub fn read(&mut self, port: u16, status1: impl FnOnce() -> u8) -> Option<u8> {
        let v = match port {
            0x3B4 | 0x3B5 | 0x3BA | 0x3D4 | 0x3D5 | 0x3DA if self.inactive_crtc_block(port) => 0xFF,
            0x3C0 => self.attr_index,
            0x3C1 => self
                .attr
                .get((self.attr_index & 0x1F) as usize)
                .copied()
                .unwrap_or(0),
            0x3C2 => 0, // Input Status 0: no switch sense, no CRT interrupt (as QEMU)
            0x3C3 => 0,
            0x3C4 => self.seq_index,
            0x3C5 => self.seq.get(self.seq_index as usize).copied().unwrap_or(0),
            0x3C6 => self.pel_mask,
            0x3C7 => self.dac_state,
            0x3C8 => self.dac_write_index,
            0x3C9 => self.dac_read(),
            0x3CA => self.feature,
            0x3CC => self.misc,
            0x3CE => self.gr_index,
            0x3CF => self.gr.get(self.gr_index as usize).copied().unwrap_or(0),
            0x3B4 | 0x3D4 => self.crtc_index,
            0x3B5 | 0x3D5 => self.cr(self.crtc_index as usize),
            0x3BA | 0x3DA => {
                self.attr_data_next = false;
                status1()
            }
            0x3CB | 0x3CD => 0,
            _ => return None,
        };
        Some(v)
    }

    /// A byte write to a legacy register port. Returns None for ports the card does not
    /// decode, else whether the write may change what the screen shows.
    pub fn write(&mut self, port: u16, v: u8) -> Option<bool> {
        let visible = match port {
            0x3B4 | 0x3B5 | 0x3BA | 0x3D4 | 0x3D5 | 0x3DA if self.inactive_crtc_block(port) => {
                false
            }
            0x3C0 => {
                if self.attr_data_next {
                    let i = (self.attr_index & 0x1F) as usize;
                    if let (Some(r), Some(m)) = (self.attr.get_mut(i), AR_MASK.get(i)) {
                        *r = v & m;
                    }
                } else {
                    self.attr_index = v & 0x3F;
                }
                self.attr_data_next = !self.attr_data_next;
                true
            }
            0x3C2 => {
                self.misc = v;
                true
            }
            0x3C4 => {
                self.seq_index = v & 0x07;
                false
            }
            0x3C5 => {
                let i = self.seq_index as usize;
                if let (Some(r), Some(m)) = (self.seq.get_mut(i), SEQ_MASK.get(i)) {
                    *r = v & m;
                }
                true
            }
            0x3C6 => {
                self.pel_mask = v;
                true
            }
            0x3C7 => {
                self.dac_read_index = v;
                self.dac_sub = 0;
                self.dac_state = DAC_STATE_READ;
                false
            }
            0x3C8 => {
                self.dac_write_index = v;
                self.dac_sub = 0;
                self.dac_state = DAC_STATE_WRITE;
                false
            }
            0x3C9 => {
                self.dac_write(v);
                true
            }
            0x3CE => {
                self.gr_index = v & 0x0F;
                false
            }
            0x3CF => {
                let i = self.gr_index as usize;
                if let (Some(r), Some(m)) = (self.gr.get_mut(i), GR_MASK.get(i)) {
                    *r = v & m;
                }
                true
            }
            0x3B4 | 0x3D4 => {
                self.crtc_index = v;
                false
            }
            0x3B5 | 0x3D5 => {
                self.crtc_write(v);
                true
            }
            0x3BA | 0x3DA => {
                self.feature = v;
                false
            }
            0x3C1 | 0x3C3 | 0x3CA | 0x3CB | 0x3CC | 0x3CD => false,
            _ => return None,
        };
        Some(visible)
    }

    fn crtc_write(&mut self, v: u8) {
        let i = self.crtc_index as usize;
        let protected = self.cr(CR_VRETRACE_END) & CR11_PROTECT != 0;
        let v = match i {
            0..=6 if protected => return,
            // Line compare bit 8 stays writable under protection.
            CR_OVERFLOW if protected => (self.cr(CR_OVERFLOW) & !0x10) | (v & 0x10),
            _ => v,
        };
        if let Some(r) = self.crtc.get_mut(i) {
            *r = v;
        }
    }

    fn dac_component(&self, v: u8) -> u8 {
        if self.dac_8bit {
            v
        } else {
            v & 0x3F
        }
    }

    fn dac_write(&mut self, v: u8) {
        let sub = (self.dac_sub as usize).min(2);
        self.dac_cache[sub] = self.dac_component(v);
        if sub == 2 {
            let base = self.dac_write_index as usize * 3;
            if let Some(entry) = self.palette.get_mut(base..base + 3) {
                entry.copy_from_slice(&self.dac_cache);
            }
            self.dac_sub = 0;
            self.dac_write_index = self.dac_write_index.wrapping_add(1);
        } else {
            self.dac_sub = sub as u8 + 1;
        }
    }

    fn dac_read(&mut self) -> u8 {
        let sub = (self.dac_sub as usize).min(2);
        let v = self
            .palette
            .get(self.dac_read_index as usize * 3 + sub)
            .copied()
            .unwrap_or(0);
        if sub == 2 {
            self.dac_sub = 0;
            self.dac_read_index = self.dac_read_index.wrapping_add(1);
        } else {
            self.dac_sub = sub as u8 + 1;
        }
        v
    }

    /// Restores a saved register file, repairing sizes a damaged snapshot might carry.
    pub fn sanitized(mut self) -> Self {
        self.crtc.resize(CRTC_COUNT, 0);
        self.palette.resize(768, 0);
        self.dac_sub = self.dac_sub.min(2);
        self
    }
}
