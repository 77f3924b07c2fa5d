//! What the screen shows, for front ends and tests: the published [`Screen`], the
//! [`DisplayHandle`] it is published through, and the text-mode extraction that follows the
//! CRTC the way the display hardware scans memory.
//!
//! Text extraction (IBM VGA Technical Reference, "CRT Controller Registers"):
//! - columns: horizontal display end CR01 + 1 (character clocks);
//! - rows: vertical display end (CR12 with overflow bits CR07.1/CR07.6) + 1 scan lines,
//!   divided by the character height, maximum scan line CR09 bits 4:0 + 1, doubled by the
//!   scan doubling bit CR09.7. So 400 lines with 16-line characters give 25 rows, with
//!   8-line characters 50;
//! - the memory address counter starts at CR0C:CR0D and advances by 2 x CR13 per row;
//! - memory address to plane offset: doubleword mode (CR14.6) shifts it left by two; word
//!   mode (CR17.6 clear) left by one with MA13 or MA15 (CR17.5) rotated into bit 0; byte
//!   mode uses it as is. The character is in plane 0 and the attribute in plane 1 at that
//!   offset;
//! - cursor: CR0E:CR0F relative to the start address, hidden by CR0A bit 5 or when its
//!   start scan line is below its end (CR0A/CR0B bits 4:0) or outside the character.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::memory::Vram;
use super::regs::{
    VgaRegs, AR10_8BIT, AR_MODE, CR0A_CURSOR_OFF, CR14_DWORD, CR17_ADDRESS_WRAP, CR17_BYTE_MODE,
    CR_CURSOR_END, CR_CURSOR_START, CR_HDISP_END, CR_MAX_SCAN, CR_MODE, CR_OFFSET, CR_UNDERLINE,
    GR05_SHIFT_INTERLEAVE, GR06_GRAPHICS, GR_MISC, GR_MODE, SR04_CHAIN4, SR_MEMORY_MODE,
};
use super::vbe::Vbe;

/// Largest text screen we extract (beyond anything a VGA CRTC timing can display).
const MAX_COLS: usize = 256;
const MAX_ROWS: usize = 256;

/// A text screen: `cells` holds `rows * cols` entries, each the character code in the low
/// byte and the attribute (foreground bits 3:0, background bits 6:4, blink or bright
/// background bit 7) in the high byte.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextScreen {
    pub cols: usize,
    pub rows: usize,
    pub cells: Vec<u16>,
    /// (row, column) when the cursor is shown.
    pub cursor: Option<(usize, usize)>,
}

impl TextScreen {
    /// A blank screen (spaces, light grey on black).
    pub fn new(cols: usize, rows: usize) -> Self {
        TextScreen {
            cols,
            rows,
            cells: vec![0x0720; cols * rows],
            cursor: None,
        }
    }

    pub fn cell(&self, row: usize, col: usize) -> Option<u16> {
        if col >= self.cols {
            return None;
        }
        self.cells.get(row * self.cols + col).copied()
    }

    pub fn row(&self, row: usize) -> &[u16] {
        let start = (row * self.cols).min(self.cells.len());
        let end = (start + self.cols).min(self.cells.len());
        &self.cells[start..end]
    }

    /// The rows as text (code page 437 mapped to Unicode), trailing blanks kept.
    pub fn lines(&self) -> Vec<String> {
        (0..self.rows)
            .map(|r| self.row(r).iter().map(|&c| cp437(c as u8)).collect())
            .collect()
    }

    /// Whether any row contains `needle` (matches do not span rows).
    pub fn contains(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }
}

/// What the card displays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Screen {
    /// Nothing: the screen is off or the palette is being loaded.
    #[default]
    Blank,
    Text(TextScreen),
    /// A graphics mode; pixels are not published (yet).
    Graphics {
        width: u32,
        height: u32,
        bpp: u32,
    },
}

#[derive(Default)]
struct Published {
    generation: u64,
    screen: Screen,
}

#[derive(Default)]
struct Shared {
    published: Mutex<Published>,
    changed: Condvar,
}

/// Where the card publishes its screen; cheap to clone, shared with a front-end thread.
/// The generation counts publications that changed the screen.
#[derive(Clone, Default)]
pub struct DisplayHandle(Arc<Shared>);

impl DisplayHandle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn generation(&self) -> u64 {
        self.0.published.lock().map(|p| p.generation).unwrap_or(0)
    }

    /// The current screen and its generation.
    pub fn snapshot(&self) -> (u64, Screen) {
        match self.0.published.lock() {
            Ok(p) => (p.generation, p.screen.clone()),
            Err(_) => (0, Screen::Blank),
        }
    }

    pub fn screen(&self) -> Screen {
        self.snapshot().1
    }

    /// The text screen, when the card is in a text mode.
    pub fn text(&self) -> Option<TextScreen> {
        match self.screen() {
            Screen::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Waits until the generation differs from `seen` or `timeout` passes; returns the
    /// current generation and screen (for a front-end thread).
    pub fn wait_changed(&self, seen: u64, timeout: Duration) -> (u64, Screen) {
        let Ok(guard) = self.0.published.lock() else {
            return (0, Screen::Blank);
        };
        match self
            .0
            .changed
            .wait_timeout_while(guard, timeout, |p| p.generation == seen)
        {
            Ok((p, _)) => (p.generation, p.screen.clone()),
            Err(_) => (0, Screen::Blank),
        }
    }

    /// Publishes `screen`; returns whether it differed from what was shown.
    pub(super) fn publish(&self, screen: Screen) -> bool {
        let Ok(mut p) = self.0.published.lock() else {
            return false;
        };
        if p.screen == screen {
            return false;
        }
        p.screen = screen;
        p.generation += 1;
        self.0.changed.notify_all();
        true
    }
}

impl std::fmt::Debug for DisplayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisplayHandle")
            .field("generation", &self.generation())
            .finish()
    }
}

/// Plane offset of memory address counter value `ma` (see the module documentation).
fn crtc_offset(regs: &VgaRegs, ma: u32) -> usize {
    let o = if regs.cr(CR_UNDERLINE) & CR14_DWORD != 0 {
        ma << 2
    } else if regs.cr(CR_MODE) & CR17_BYTE_MODE == 0 {
        let wrap_bit = if regs.cr(CR_MODE) & CR17_ADDRESS_WRAP != 0 {
            15
        } else {
            13
        };
        (ma << 1) | (ma >> wrap_bit & 1)
    } else {
        ma
    };
    (o & 0xFFFF) as usize
}

/// The screen the registers and VRAM describe.
pub fn extract(regs: &VgaRegs, vram: &Vram, vbe: &Vbe) -> Screen {
    if vbe.enabled() {
        return Screen::Graphics {
            width: vbe.xres() as u32,
            height: vbe.yres() as u32,
            bpp: vbe.bpp() as u32,
        };
    }
    if regs.blanked() {
        return Screen::Blank;
    }
    let lines = regs.vertical_display_lines();
    let max_scan = (regs.cr(CR_MAX_SCAN) & 0x1F) as u32 + 1;
    let double = if regs.cr(CR_MAX_SCAN) & 0x80 != 0 {
        2
    } else {
        1
    };
    let cols = regs.cr(CR_HDISP_END) as usize + 1;
    if regs.gr[GR_MISC] & GR06_GRAPHICS != 0 {
        return graphics_geometry(regs, cols as u32, lines / (max_scan * double));
    }
    let rows = (lines / (max_scan * double)) as usize;
    if rows == 0 || cols > MAX_COLS || rows > MAX_ROWS {
        return Screen::Blank;
    }
    let stride = 2 * regs.cr(CR_OFFSET) as u32;
    let start = regs.start_address() as u32;
    let mut cells = Vec::with_capacity(cols * rows);
    for r in 0..rows as u32 {
        let line = start.wrapping_add(r.wrapping_mul(stride));
        for c in 0..cols as u32 {
            let o = crtc_offset(regs, line.wrapping_add(c));
            let ch = vram.plane_byte(0, o) as u16;
            let attr = vram.plane_byte(1, o) as u16;
            cells.push(ch | attr << 8);
        }
    }
    let cursor = cursor_position(regs, start, stride, cols, rows, max_scan);
    Screen::Text(TextScreen {
        cols,
        rows,
        cells,
        cursor,
    })
}

fn cursor_position(
    regs: &VgaRegs,
    start: u32,
    stride: u32,
    cols: usize,
    rows: usize,
    char_height: u32,
) -> Option<(usize, usize)> {
    let cs = regs.cr(CR_CURSOR_START);
    let ce = regs.cr(CR_CURSOR_END) & 0x1F;
    if cs & CR0A_CURSOR_OFF != 0 || (cs & 0x1F) > ce || (cs & 0x1F) as u32 >= char_height {
        return None;
    }
    let rel = (regs.cursor_address() as u32).wrapping_sub(start) & 0xFFFF;
    if stride == 0 {
        return None;
    }
    let (row, col) = ((rel / stride) as usize, (rel % stride) as usize);
    (row < rows && col < cols).then_some((row, col))
}

/// Size and depth of a VGA graphics mode from the CRTC and mode registers.
fn graphics_geometry(regs: &VgaRegs, chars: u32, lines: u32) -> Screen {
    // Character clocks are 8 pixels wide in graphics modes whatever the dot clock.
    let mut width = chars * 8;
    let bpp = if regs.attr[AR_MODE] & AR10_8BIT != 0 || regs.seq[SR_MEMORY_MODE] & SR04_CHAIN4 != 0
    {
        // 256 colours: two dot clocks per pixel.
        width = chars * 4;
        8
    } else if regs.gr[GR_MODE] & GR05_SHIFT_INTERLEAVE != 0 {
        2
    } else {
        4
    };
    Screen::Graphics {
        width,
        height: lines,
        bpp,
    }
}

/// Code page 437 to Unicode, with the glyphs a VGA font shows for the control codes
/// (0x00 and 0xFF are blank, as on screen).
pub fn cp437(c: u8) -> char {
    const LOW: [char; 32] = [
        ' ', '☺', '☻', '♥', '♦', '♣', '♠', '•', '◘', '○', '◙', '♂', '♀', '♪', '♫', '☼', '►', '◄',
        '↕', '‼', '¶', '§', '▬', '↨', '↑', '↓', '→', '←', '∟', '↔', '▲', '▼',
    ];
    const HIGH: [char; 128] = [
        'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ',
        'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', 'á', 'í', 'ó', 'ú',
        'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', '░', '▒', '▓', '│', '┤', '╡',
        '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', '└', '┴', '┬', '├', '─', '┼', '╞', '╟',
        '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘',
        '┌', '█', '▄', '▌', '▐', '▀', 'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ',
        '∞', 'φ', 'ε', '∩', '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²',
        '■', ' ',
    ];
    match c {
        0x00..=0x1F => LOW[c as usize],
        0x7F => '⌂',
        0x20..=0x7E => c as char,
        _ => HIGH[(c - 0x80) as usize],
    }
}
