//! The PIIX3 IDE controller, PCI function 00:01.1 (Intel 82371SB data sheet, section 2.4
//! "PCI configuration registers - IDE interface" and 2.7 "Bus master IDE I/O registers"),
//! with ATA hard disks and ATAPI CD/DVD drives behind it.
//!
//! Configuration: vendor 8086, device 7010, class 01:01, programming interface 0x80 (both
//! channels fixed in compatibility mode, bus master capable), as QEMU's `piix3-ide`. BAR0-3
//! do not exist in compatibility mode; BAR4 (0x20, BMIBA) is the 16-byte bus master block.
//! IDETIM (0x40 primary, 0x42 secondary; bit 15 = IDE decode enable) and SIDETIM (0x44)
//! are writable, the timing bits only stored.
//!
//! Decoding, as the data sheet describes it: the command register's I/O space enable gates
//! everything; the legacy ports of a channel (0x1F0-0x1F7 + 0x3F6, IRQ 14; 0x170-0x177 +
//! 0x376, IRQ 15) also need that channel's IDETIM decode enable, and the bus master block
//! needs BMIBA assigned (non-zero). 0x3F7/0x377 belong to the floppy controller.
//!
//! Power-on defaults deliberately differ from the data sheet in two bits, so that guests
//! find both channels the way they do on QEMU (whose model decodes the legacy ports
//! unconditionally): I/O space enable is set and both IDETIM decode enables are set.
//! SeaBIOS would set them itself (`piix_ide_setup` writes 0x8000 to 0x40 and 0x42), but a
//! Linux kernel started directly finds channels with decode disabled switched off for good
//! (ata_piix's prereset tests 0x41 bit 7 and 0x43 bit 7).
//!
//! Interrupts: INTRQ is a level; the selected device drives it unless nIEN is set. Reading
//! Status (not Alternate Status) or writing a command drops it. Each assertion also sets the
//! bus master status interrupt bit, which DMA drivers check.
//!
//! DMA: when a drive has a DMA command waiting and the bus master start bit is set (either
//! order), the controller raises `REQ_DMA`; the machine then calls `run_dma`, which moves
//! the whole transfer through the PRD table (see `bmdma.rs`). Bus mastering also needs the
//! command register's bus master enable.

mod ata;
mod atapi;
mod bmdma;
mod channel;
mod identify;

use std::io;
use std::sync::Arc;

use emu_core::bus::DmaMemory;
use emu_core::control::{MachineControl, REQ_DMA};
use emu_core::irq::IrqLines;

use crate::block::DiskImage;
use crate::pci::config::{ConfigSpace, PciId, COMMAND, STATUS};
use crate::pci::PciFunction;
use crate::unimp::UnimpLog;

pub use ata::{AddrMode, AtapiState, Drive, DriveState, Phase, Sense, Stream, TaskFile};
pub use bmdma::BmRegs;
pub use channel::ChannelRegs;

use channel::Channel;

pub const VENDOR: u16 = 0x8086;
pub const DEVICE: u16 = 0x7010;

/// Where the machine registers the function (device 1, function 1).
pub const PCI_DEVICE: u8 = 1;
pub const PCI_FUNCTION: u8 = 1;

pub const PRIMARY_CMD: u16 = 0x1F0;
pub const PRIMARY_CTL: u16 = 0x3F6;
pub const SECONDARY_CMD: u16 = 0x170;
pub const SECONDARY_CTL: u16 = 0x376;
pub const PRIMARY_IRQ: u8 = 14;
pub const SECONDARY_IRQ: u8 = 15;

const CMD_BASES: [u16; 2] = [PRIMARY_CMD, SECONDARY_CMD];
const CTL_PORTS: [u16; 2] = [PRIMARY_CTL, SECONDARY_CTL];
const IRQS: [u8; 2] = [PRIMARY_IRQ, SECONDARY_IRQ];

/// Bus master IDE base address (BAR4).
pub const BMIBA: u8 = 0x20;
/// IDE timing registers; bit 15 enables decoding of the channel's legacy ports.
pub const IDETIM: [u8; 2] = [0x40, 0x42];
pub const SIDETIM: u8 = 0x44;
const IDETIM_DECODE: u16 = 0x8000;

const COMMAND_IO: u16 = 0x0001;
const COMMAND_BUS_MASTER: u16 = 0x0004;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelState {
    pub regs: ChannelRegs,
    pub drives: [Option<DriveState>; 2],
}

/// The controller without its media: configuration space, channel and drive registers,
/// transfers in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdeState {
    pub config: [u8; 256],
    pub channels: [ChannelState; 2],
}

pub struct IdeController {
    cfg: ConfigSpace,
    channels: [Channel; 2],
    irq: IrqLines,
    control: Arc<MachineControl>,
    log: UnimpLog,
}

enum Target {
    Cmd(usize, u16),
    Ctl(usize),
    Bm(usize, u16),
}

fn config_space() -> ConfigSpace {
    let mut cfg = ConfigSpace::new(PciId {
        vendor: VENDOR,
        device: DEVICE,
        class: 0x0101,
        prog_if: 0x80,
        revision: 0,
        header_type: 0,
    });
    cfg.set_word(STATUS, 0x0280); // medium DEVSEL timing, fast back-to-back
    cfg.set_word(COMMAND, COMMAND_IO);
    // Only I/O space and bus master enable exist on this function.
    cfg.set_wmask(COMMAND, 2, (COMMAND_IO | COMMAND_BUS_MASTER) as u32);
    // BMIBA: 16-byte I/O block; bit 0 (I/O space) hardwired. The PIIX3 has only bits 15:4,
    // but firmware sizes I/O BARs as 32-bit (SeaBIOS reads 0xFFF1 as a 4 GiB block), so the
    // upper half is writable as on QEMU; a base above 64 KiB is not decoded.
    cfg.set_dword(BMIBA, 1);
    cfg.set_wmask(BMIBA, 4, 0xFFFF_FFF0);
    cfg.wmask[0x40..].fill(0);
    for reg in IDETIM {
        cfg.set_word(reg, IDETIM_DECODE);
        cfg.set_wmask(reg, 2, 0xFFFF);
    }
    cfg.set_wmask(SIDETIM, 1, 0xFF);
    cfg
}

impl IdeController {
    pub fn new(irq: IrqLines, control: Arc<MachineControl>, log: UnimpLog) -> Self {
        IdeController {
            cfg: config_space(),
            channels: Default::default(),
            irq,
            control,
            log,
        }
    }

    /// Attaches `drive` as master or slave of `channel` (0 primary, 1 secondary),
    /// replacing what was there. Machine configuration, not guest-reachable.
    pub fn attach(&mut self, channel: usize, slave: bool, drive: Drive) {
        assert!(channel < 2, "IDE channel {channel} does not exist");
        let index = (channel * 2 + usize::from(slave)) as u8;
        self.channels[channel].devs[usize::from(slave)] = Some(ata::Device::new(drive, index));
    }

    /// Inserts (`Some`) or removes (`None`) the medium of the CD-ROM at that position, as
    /// a user at the drive would; a new medium raises unit attention once. Returns false
    /// when no CD-ROM is there.
    pub fn change_medium(
        &mut self,
        channel: usize,
        slave: bool,
        medium: Option<DiskImage>,
    ) -> bool {
        let Some(d) = self
            .channels
            .get_mut(channel)
            .and_then(|c| c.devs[usize::from(slave)].as_mut())
            .filter(|d| d.kind == ata::Kind::Cdrom)
        else {
            return false;
        };
        let a = &mut d.s.atapi;
        if medium.is_some() {
            a.unit_attention = true;
            a.media_event = atapi::EVENT_NEW_MEDIA;
            a.tray_open = false;
        } else if d.image.is_some() {
            a.media_event = atapi::EVENT_MEDIA_REMOVAL;
        }
        a.locked = false;
        d.image = medium;
        true
    }

    /// Makes every write durable (machine exit).
    pub fn flush_all(&mut self) -> io::Result<()> {
        for c in self.channels.iter_mut() {
            for d in c.devs.iter_mut().flatten() {
                if let Some(img) = d.image.as_mut() {
                    img.flush()?;
                }
            }
        }
        Ok(())
    }

    pub fn config(&self) -> &ConfigSpace {
        &self.cfg
    }

    /// The bus master block's base port, when assigned.
    pub fn bm_base(&self) -> Option<u16> {
        let bar = self.cfg.dword(BMIBA) & 0xFFFF_FFF0;
        (bar != 0 && bar <= 0xFFF0).then_some(bar as u16)
    }

    pub fn state(&self) -> IdeState {
        let chan = |c: &Channel| ChannelState {
            regs: c.regs.clone(),
            drives: [0, 1].map(|i| c.devs[i].as_ref().map(|d| d.s.clone())),
        };
        IdeState {
            config: self.cfg.data,
            channels: [chan(&self.channels[0]), chan(&self.channels[1])],
        }
    }

    /// Restores registers and transfers; drives are matched by position (the media are
    /// the machine's, attached before).
    pub fn restore(&mut self, s: IdeState) {
        self.cfg.data = s.config;
        for (i, (c, cs)) in self.channels.iter_mut().zip(s.channels).enumerate() {
            c.regs = cs.regs;
            for (d, ds) in c.devs.iter_mut().zip(cs.drives) {
                if let (Some(d), Some(ds)) = (d.as_mut(), ds) {
                    d.s = ds;
                }
            }
            self.irq.set(IRQS[i], c.regs.irq_level);
        }
    }

    fn target(&self, port: u16) -> Option<Target> {
        let command = self.cfg.word(COMMAND);
        if command & COMMAND_IO == 0 {
            return None;
        }
        for c in 0..2 {
            if self.cfg.word(IDETIM[c]) & IDETIM_DECODE == 0 {
                continue;
            }
            if (CMD_BASES[c]..CMD_BASES[c] + 8).contains(&port) {
                return Some(Target::Cmd(c, port - CMD_BASES[c]));
            }
            if port == CTL_PORTS[c] {
                return Some(Target::Ctl(c));
            }
        }
        let base = self.bm_base()?;
        let off = port.wrapping_sub(base);
        (off < 16).then_some(Target::Bm(off as usize / 8, off % 8))
    }

    /// After any access to channel `c`: drive its IRQ line and ask for a DMA turn if a
    /// transfer can run.
    fn sync(&mut self, c: usize) {
        let ch = &mut self.channels[c];
        let level = ch.update_irq();
        if level != ch.regs.irq_level {
            ch.regs.irq_level = level;
            self.irq.set(IRQS[c], level);
        }
        if ch.dma_ready() && self.cfg.word(COMMAND) & COMMAND_BUS_MASTER != 0 {
            self.control.raise(REQ_DMA);
        }
    }
}

fn ones(size: u8) -> u32 {
    u32::MAX >> (32 - 8 * size.clamp(1, 4) as u32)
}

impl PciFunction for IdeController {
    fn config_read(&mut self, reg: u8, size: u8) -> u32 {
        self.cfg.read(reg, size)
    }

    fn config_write(&mut self, reg: u8, size: u8, value: u32) {
        self.cfg.write(reg, size, value);
        // Bus master enable may have just made a waiting transfer possible.
        for c in 0..2 {
            self.sync(c);
        }
    }

    fn io_read(&mut self, port: u16, size: u8) -> Option<u32> {
        let v = match self.target(port)? {
            Target::Cmd(c, off) => {
                let v = self.channels[c].read_cmd(off, size, &self.log);
                self.sync(c);
                v
            }
            Target::Ctl(c) => self.channels[c].alt_status() as u32 | (ones(size) & !0xFF),
            Target::Bm(c, off) => {
                let bm = &self.channels[c].regs.bm;
                (0..size.min(4) as u16).fold(0u32, |acc, i| {
                    let o = off + i;
                    let b = if o < 8 { bm.read(o) } else { 0xFF };
                    acc | (b as u32) << (8 * i)
                })
            }
        };
        Some(v)
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) -> bool {
        let Some(t) = self.target(port) else {
            return false;
        };
        match t {
            Target::Cmd(c, off) => {
                self.channels[c].write_cmd(off, size, value, &self.log);
                self.sync(c);
            }
            Target::Ctl(c) => {
                self.channels[c].write_devctl(value as u8);
                self.sync(c);
            }
            Target::Bm(c, off) => {
                for i in 0..size.min(4) as u16 {
                    if off + i < 8 {
                        self.channels[c]
                            .regs
                            .bm
                            .write(off + i, (value >> (8 * i)) as u8);
                    }
                }
                self.sync(c);
            }
        }
        true
    }

    fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        if self.cfg.word(COMMAND) & COMMAND_BUS_MASTER == 0 {
            return;
        }
        for c in 0..2 {
            let ch = &mut self.channels[c];
            if !ch.dma_ready() {
                continue;
            }
            let mut bm = std::mem::take(&mut ch.regs.bm);
            if let Some(dev) = ch.dma_device() {
                bmdma::transfer(&mut bm, dev, mem);
            }
            ch.regs.bm = bm;
            self.sync(c);
        }
    }

    fn reset(&mut self) {
        self.cfg = config_space();
        for (i, c) in self.channels.iter_mut().enumerate() {
            c.hard_reset();
            c.regs.irq_level = false;
            self.irq.set(IRQS[i], false);
        }
    }
}

#[cfg(test)]
mod tests;
