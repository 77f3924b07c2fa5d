//! QEMU's standard VGA (`-vga std`): an IBM VGA compatible register set and memory path, the
//! Bochs VBE (DISPI) extensions, a 16 MiB linear framebuffer and the VGA BIOS in the
//! expansion ROM, as PCI function 1234:1111.
//!
//! - [`regs`]: the VGA registers and their port protocols;
//! - [`memory`]: planar VRAM and the CPU access path (latches, read and write modes);
//! - [`vbe`]: the DISPI registers;
//! - [`text`]: what the screen shows ([`Screen`], [`TextScreen`]) and the [`DisplayHandle`]
//!   it is published through;
//! - [`pci`]: configuration space, BARs and the expansion ROM.
//!
//! Decoded without any configuration (as QEMU and real VGA-compatible PCI cards do): ports
//! 0x3B4/0x3B5/0x3BA and 0x3D4/0x3D5/0x3DA (only the block Miscellaneous Output bit 0 selects
//! answers; the other reads 0xFF), 0x3C0-0x3CF, the DISPI ports 0x1CE/0x1CF/0x1D0, and the
//! memory window GR06 selects within 0xA0000-0xBFFFF (while Miscellaneous Output bit 1
//! enables RAM access). While VBE is enabled at 8 bpp or more, 0xA0000-0xAFFFF is instead
//! the 64 KiB bank of VRAM the BANK register selects, linearly (QEMU reaches the same result
//! through chain-4). Accesses wider than a byte to the legacy ports are split into
//! consecutive byte ports (`out dx, ax` to 0x3C4 writes index and data); memory accesses
//! into consecutive bytes, lowest address first.
//!
//! Input Status 1 follows fixed 70 Hz, 449-line timing (mode 3's) on the virtual clock:
//! vertical retrace during lines 412-413, "display disabled" during lines 400-448 and the
//! last fifth of every line.
//!
//! The screen is published from `poll_timer`, at most every 20 ms of virtual time and only
//! when a VRAM write or a display register write happened since the last publication; a
//! publication identical to the previous screen does not advance the generation.

pub mod memory;
pub mod pci;
pub mod regs;
pub mod text;
pub mod vbe;

#[cfg(test)]
mod tests;

use emu_core::clock::Clock;

use crate::pci::config::ConfigSpace;
use crate::pci::PciFunction;
use crate::unimp::UnimpLog;

use memory::{Vram, LEGACY_BASE, LEGACY_END, VRAM_SIZE};
use regs::{VgaRegs, MISC_RAM_ENABLE, ST1_DISPLAY_DISABLED, ST1_VRETRACE};
pub use text::{cp437, DisplayHandle, Screen, TextScreen};
use vbe::{Vbe, VbeEffect, VbeState};

/// Virtual time between publications (50 Hz).
pub const PUBLISH_INTERVAL_NS: u64 = 20_000_000;

/// Display timing used for Input Status 1: 31.778 us lines (25.175 MHz / 800 dots), 449
/// lines per frame (about 70 Hz).
const LINE_NS: u64 = 31_778;
const FRAME_LINES: u64 = 449;
const ACTIVE_LINES: u64 = 400;
const VRETRACE_LINES: std::ops::Range<u64> = 412..414;

const NAME: &str = "vga";

/// Whether the card decodes legacy register port `port`.
pub fn is_vga_port(port: u16) -> bool {
    matches!(
        port,
        0x3B4 | 0x3B5 | 0x3BA | 0x3C0..=0x3CF | 0x3D4 | 0x3D5 | 0x3DA
    )
}

/// Everything that defines the card, for snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StdVgaState {
    pub config: [u8; 256],
    pub regs: VgaRegs,
    pub vram: Vec<u8>,
    pub latch: u32,
    pub vbe: VbeState,
}

pub struct StdVga {
    cfg: ConfigSpace,
    rom: Vec<u8>,
    rom_size: u32,
    regs: VgaRegs,
    vram: Vram,
    vbe: Vbe,
    clock: Clock,
    display: DisplayHandle,
    log: UnimpLog,
    /// Something the screen shows may have changed since the last publication.
    dirty: bool,
    last_publish: Option<u64>,
}

impl StdVga {
    /// A card in its power-on state (mode 3). `rom` is the VGA BIOS image served through the
    /// expansion ROM BAR (none: the BAR is not implemented).
    pub fn new(rom: Option<Vec<u8>>, clock: Clock, display: DisplayHandle, log: UnimpLog) -> Self {
        let rom = rom.unwrap_or_default();
        let rom_size = pci::rom_bar_size(rom.len());
        StdVga {
            cfg: pci::config_space(rom_size),
            rom,
            rom_size,
            regs: VgaRegs::mode3(),
            vram: Vram::new(),
            vbe: Vbe::new(),
            clock,
            display,
            log,
            dirty: true,
            last_publish: None,
        }
    }

    pub fn display(&self) -> DisplayHandle {
        self.display.clone()
    }

    pub fn regs(&self) -> &VgaRegs {
        &self.regs
    }

    pub fn vbe(&self) -> &Vbe {
        &self.vbe
    }

    pub fn vram(&self) -> &[u8] {
        &self.vram.data
    }

    pub fn config(&self) -> &ConfigSpace {
        &self.cfg
    }

    /// The screen as the registers and VRAM describe it now (not published).
    pub fn current_screen(&self) -> Screen {
        text::extract(&self.regs, &self.vram, &self.vbe)
    }

    /// Publishes the current screen now, whatever the rate limit.
    pub fn publish_now(&mut self, now_ns: u64) {
        self.display.publish(self.current_screen());
        self.dirty = false;
        self.last_publish = Some(now_ns);
    }

    /// Input Status 1 at the current virtual time.
    fn status1(&self) -> u8 {
        let t = self.clock.now_ns() % (LINE_NS * FRAME_LINES);
        let (line, dot) = (t / LINE_NS, t % LINE_NS);
        let mut v = 0;
        if VRETRACE_LINES.contains(&line) {
            v |= ST1_VRETRACE;
        }
        if line >= ACTIVE_LINES || dot >= LINE_NS * 4 / 5 {
            v |= ST1_DISPLAY_DISABLED;
        }
        v
    }

    fn port_read_byte(&mut self, port: u16) -> u8 {
        let status = self.status1();
        self.regs.read(port, || status).unwrap_or(0xFF)
    }

    fn port_write_byte(&mut self, port: u16, v: u8) {
        if let Some(visible) = self.regs.write(port, v) {
            self.dirty |= visible;
        }
        if matches!(port, 0x3CB | 0x3CD) {
            self.log.report(NAME, format_args!("port {port:#x}"));
        }
    }

    fn dispi_write(&mut self, v: u16) {
        match self.vbe.write_data(v) {
            VbeEffect::None => {}
            VbeEffect::ModeChanged => self.dirty = true,
            VbeEffect::Clear(len) => {
                let len = len.min(VRAM_SIZE);
                self.vram.data[..len].fill(0);
                self.dirty = true;
            }
            VbeEffect::Unknown => self
                .log
                .report(NAME, format_args!("DISPI index {:#x}", self.vbe.index)),
        }
        self.regs.dac_8bit = self.vbe.reg(vbe::INDEX_ENABLE) & vbe::DAC_8BIT != 0;
    }

    /// VRAM index of `addr` in the VBE bank window, when that window is active.
    fn bank_window(&self, addr: u64) -> Option<Option<usize>> {
        if !self.vbe.enabled() || self.vbe.bpp() == 4 {
            return None;
        }
        Some(
            (0xA0000..0xB0000)
                .contains(&addr)
                .then(|| self.vbe.bank_offset() + (addr - 0xA0000) as usize),
        )
    }

    /// Offset of `addr` in the VGA memory window, if decoded.
    fn vga_window(&self, addr: u64) -> Option<usize> {
        if self.regs.misc & MISC_RAM_ENABLE == 0 {
            return None;
        }
        let (base, len) = memory::window(&self.regs);
        (base..base + len)
            .contains(&addr)
            .then(|| (addr - base) as usize)
    }

    fn legacy_read_byte(&mut self, addr: u64) -> Option<u8> {
        if let Some(bank) = self.bank_window(addr) {
            return bank.map(|i| self.vram.linear_read(i));
        }
        let off = self.vga_window(addr)?;
        Some(self.vram.read(&self.regs, off))
    }

    fn legacy_write_byte(&mut self, addr: u64, v: u8) -> bool {
        if let Some(bank) = self.bank_window(addr) {
            return match bank {
                Some(i) => {
                    self.vram.linear_write(i, v);
                    self.dirty = true;
                    true
                }
                None => false,
            };
        }
        match self.vga_window(addr) {
            Some(off) => {
                self.vram.write(&self.regs, off, v);
                self.dirty = true;
                true
            }
            None => false,
        }
    }

    /// BAR2: QEMU's MMIO view of the VGA ports, DISPI registers and extended registers.
    fn bar2_read(&mut self, off: u64, size: u8) -> u64 {
        let mut v = 0u64;
        for i in 0..size.min(8) as u64 {
            let o = off + i;
            let b = match o {
                0x400..=0x41F => self.port_read_byte(0x3C0 + (o - 0x400) as u16),
                0x500..=0x515 => {
                    self.vbe.index = ((o - 0x500) >> 1) as u16;
                    (self.vbe.read_data() >> (8 * (o & 1))) as u8
                }
                0x600..=0x607 => {
                    let reg = if o < 0x604 {
                        pci::QEXT_SIZE
                    } else {
                        pci::QEXT_LITTLE_ENDIAN
                    };
                    (reg >> (8 * (o & 3))) as u8
                }
                _ => 0xFF,
            };
            v |= (b as u64) << (8 * i);
        }
        v
    }

    fn bar2_write(&mut self, off: u64, size: u8, value: u64) {
        let size = size.min(8) as u64;
        let mut i = 0;
        while i < size {
            let o = off + i;
            let b = (value >> (8 * i)) as u8;
            match o {
                0x400..=0x41F => self.port_write_byte(0x3C0 + (o - 0x400) as u16, b),
                0x500..=0x515 => {
                    // A whole register when both of its bytes are in this access, else the
                    // one byte merged into the current value.
                    self.vbe.index = ((o - 0x500) >> 1) as u16;
                    let cur = self.vbe.read_data();
                    let v = if o & 1 == 0 && i + 1 < size {
                        i += 1;
                        (value >> (8 * (i - 1))) as u16
                    } else {
                        let sh = 8 * (o & 1);
                        (cur & !(0xFF << sh)) | (b as u16) << sh
                    };
                    self.dispi_write(v);
                }
                0x604..=0x607 => {
                    let want = (pci::QEXT_LITTLE_ENDIAN >> (8 * (o & 3))) as u8;
                    if b != want {
                        self.log.report(NAME, "big-endian framebuffer");
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    pub fn state(&self) -> StdVgaState {
        StdVgaState {
            config: self.cfg.data,
            regs: self.regs.clone(),
            vram: self.vram.data.clone(),
            latch: self.vram.latch,
            vbe: self.vbe.state(),
        }
    }

    pub fn restore(&mut self, s: StdVgaState) {
        self.cfg.data = s.config;
        self.regs = s.regs.sanitized();
        self.vram.data = s.vram;
        self.vram.data.resize(VRAM_SIZE, 0);
        self.vram.latch = s.latch;
        self.vbe.restore(s.vbe);
        self.regs.dac_8bit = self.vbe.reg(vbe::INDEX_ENABLE) & vbe::DAC_8BIT != 0;
        self.dirty = true;
        self.last_publish = None;
    }
}

/// Assembles `size` little-endian bytes from `f` at consecutive addresses.
fn gather(size: u8, mut f: impl FnMut(u64) -> u8) -> u64 {
    (0..size.min(8) as u64).fold(0, |acc, i| acc | (f(i) as u64) << (8 * i))
}

impl PciFunction for StdVga {
    fn config_read(&mut self, reg: u8, size: u8) -> u32 {
        self.cfg.read(reg, size)
    }

    fn config_write(&mut self, reg: u8, size: u8, value: u32) {
        self.cfg.write(reg, size, value);
    }

    fn io_read(&mut self, port: u16, size: u8) -> Option<u32> {
        match port {
            vbe::INDEX_PORT => Some(self.vbe.index as u32 & ones(size)),
            vbe::DATA_PORT | vbe::DATA_PORT_ALIAS => Some(self.vbe.read_data() as u32 & ones(size)),
            p if is_vga_port(p) => Some(gather(size.min(4), |i| {
                let p = port.wrapping_add(i as u16);
                if is_vga_port(p) {
                    self.port_read_byte(p)
                } else {
                    0xFF
                }
            }) as u32),
            _ => None,
        }
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) -> bool {
        match port {
            vbe::INDEX_PORT => {
                self.vbe.index = (value & ones(size)) as u16;
                if size == 4 {
                    // `out dx, eax` at 0x1CE: the high half lands on the data port.
                    self.dispi_write((value >> 16) as u16);
                }
            }
            vbe::DATA_PORT | vbe::DATA_PORT_ALIAS => self.dispi_write((value & ones(size)) as u16),
            p if is_vga_port(p) => {
                for i in 0..size.min(4) {
                    let p = port.wrapping_add(i as u16);
                    if is_vga_port(p) {
                        self.port_write_byte(p, (value >> (8 * i)) as u8);
                    }
                }
            }
            _ => return false,
        }
        true
    }

    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        if (LEGACY_BASE..LEGACY_END).contains(&addr) {
            // The first byte decides whether the access is ours.
            let first = self.legacy_read_byte(addr)?;
            return Some(gather(size, |i| {
                if i == 0 {
                    first
                } else {
                    self.legacy_read_byte(addr + i).unwrap_or(0xFF)
                }
            }));
        }
        if let Some(off) = pci::lfb_offset(&self.cfg, addr) {
            return Some(gather(size, |i| self.vram.linear_read(off + i as usize)));
        }
        if let Some(off) = pci::mmio_offset(&self.cfg, addr) {
            return Some(self.bar2_read(off, size));
        }
        let off = pci::rom_offset(&self.cfg, self.rom_size, addr)?;
        Some(gather(size, |i| {
            self.rom.get(off + i as usize).copied().unwrap_or(0xFF)
        }))
    }

    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> bool {
        if (LEGACY_BASE..LEGACY_END).contains(&addr) {
            if !self.legacy_write_byte(addr, value as u8) {
                return false;
            }
            for i in 1..size.min(8) as u64 {
                self.legacy_write_byte(addr + i, (value >> (8 * i)) as u8);
            }
            return true;
        }
        if let Some(off) = pci::lfb_offset(&self.cfg, addr) {
            for i in 0..size.min(8) as usize {
                self.vram.linear_write(off + i, (value >> (8 * i)) as u8);
            }
            self.dirty = true;
            return true;
        }
        if let Some(off) = pci::mmio_offset(&self.cfg, addr) {
            self.bar2_write(off, size, value);
            return true;
        }
        // ROM writes are decoded and dropped.
        pci::rom_offset(&self.cfg, self.rom_size, addr).is_some()
    }

    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        if !self.dirty {
            return None;
        }
        let due = self
            .last_publish
            .map_or(now_ns, |t| t.saturating_add(PUBLISH_INTERVAL_NS));
        if now_ns < due {
            return Some(due);
        }
        self.publish_now(now_ns);
        None
    }

    fn reset(&mut self) {
        // VRAM keeps its contents over a reset, as on real cards.
        self.cfg = pci::config_space(self.rom_size);
        self.regs = VgaRegs::mode3();
        self.vbe = Vbe::new();
        self.vram.latch = 0;
        self.dirty = true;
    }
}

fn ones(size: u8) -> u32 {
    u32::MAX >> (32 - 8 * size.clamp(1, 4) as u32)
}
