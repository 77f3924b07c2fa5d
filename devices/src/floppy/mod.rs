//! The PC's ISA DMA controllers and floppy disk controller, as one bus device.
//!
//! The floppy controller's data moves through DMA channel 2, so [`IsaDmaFloppy`] owns the two
//! 8237As ([`dma8237`]), their page registers and the 82077AA ([`fdc`]) with its drives:
//! one owner, no shared state. Ports:
//! - 0x00-0x0F: 8237 #1 (channels 0-3); 0xC0-0xDF: 8237 #2 (channels 4-7);
//! - 0x81-0x8F: page registers (0x80 is the POST card's);
//! - 0x3F0-0x3F5 and 0x3F7: the floppy controller (0x3F6 belongs to the IDE controller);
//! - IRQ 6.
//!
//! A READ, WRITE or FORMAT in DMA mode raises `REQ_DMA`; the machine then calls
//! [`PortDevice::run_dma`] between guest instructions, which moves the data through channel
//! 2 as its mode register says and ends the command (result phase and interrupt). When the
//! channel is masked, the controller disabled or the DOR's DMA gate off, the command waits,
//! as on real hardware, until a port write makes the transfer possible; nothing spins.
//!
//! Media are raw images of the standard PC formats ([`media`]); [`IsaDmaFloppy::drive_type`]
//! gives the CMOS register 0x10 nibble for each drive.

pub mod dma8237;
pub mod fdc;
pub mod media;

#[cfg(test)]
mod tests;

use std::io;
use std::sync::Arc;

use emu_core::bus::{DmaMemory, PortDevice};
use emu_core::control::{MachineControl, REQ_DMA};
use emu_core::irq::IrqLines;

use crate::block::DiskImage;
use crate::unimp::UnimpLog;

use dma8237::{DeviceData, IsaDma, IsaDmaState};
use fdc::{Fdc, FdcState, Phase, TransferOp, MAX_ATTACHED};
use media::{drive_accepts, drive_type_name, format_for_size};

pub const FDC_BASE: u16 = 0x3F0;
pub const FDC_IRQ: u8 = 6;
pub const FDC_DMA_CHANNEL: usize = 2;

/// Every port the device decodes.
pub fn ports() -> Vec<u16> {
    let mut p: Vec<u16> = (0x00..=0x0F).collect();
    p.extend(0x81..=0x8F);
    p.extend(0xC0..=0xDF);
    p.extend(FDC_BASE..=FDC_BASE + 5);
    p.push(FDC_BASE + 7);
    p
}

/// Saveable state of the whole device (the attached images are not part of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsaDmaFloppyState {
    pub dma: IsaDmaState,
    pub fdc: FdcState,
}

pub struct IsaDmaFloppy {
    dma: IsaDma,
    fdc: Fdc,
    irq: IrqLines,
    control: Arc<MachineControl>,
}

impl IsaDmaFloppy {
    pub fn new(irq: IrqLines, control: Arc<MachineControl>, log: UnimpLog) -> Self {
        IsaDmaFloppy {
            dma: IsaDma::new(log.clone()),
            fdc: Fdc::new(log),
            irq,
            control,
        }
    }

    /// Puts `image` in drive `drive` (0 = A:, 1 = B:). The first medium a drive sees decides
    /// the drive's type; later media must be ones that drive can read.
    pub fn insert(&mut self, drive: usize, image: DiskImage) -> io::Result<()> {
        if drive >= MAX_ATTACHED {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("there is no floppy drive {drive} (only A: and B:)"),
            ));
        }
        let format = format_for_size(image.len())?;
        let d = &mut self.fdc.drives[drive];
        if d.drive_type == 0 {
            d.drive_type = format.drive_type;
        } else if !drive_accepts(d.drive_type, format) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {} floppy does not fit drive {} ({} drive)",
                    format.name,
                    drive_letter(drive),
                    drive_type_name(d.drive_type)
                ),
            ));
        }
        if let Some(mut old) = d.image.take() {
            let _ = old.flush();
        }
        d.image = Some(image);
        d.format = Some(format);
        self.fdc.s.changed[drive] = true;
        Ok(())
    }

    /// Attaches an empty drive of CMOS type `drive_type` (1-5), for media inserted later.
    pub fn attach_drive(&mut self, drive: usize, drive_type: u8) -> io::Result<()> {
        if drive >= MAX_ATTACHED || !(media::DRIVE_360K..=media::DRIVE_2880K).contains(&drive_type)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot attach floppy drive {drive} of type {drive_type}"),
            ));
        }
        self.fdc.drives[drive].drive_type = drive_type;
        Ok(())
    }

    /// Removes drive `drive`'s medium, flushed, and raises its disk change line.
    pub fn eject(&mut self, drive: usize) -> Option<DiskImage> {
        let d = self.fdc.drives.get_mut(drive)?;
        let mut image = d.image.take()?;
        d.format = None;
        let _ = image.flush();
        self.fdc.s.changed[drive] = true;
        Some(image)
    }

    /// The CMOS drive type of drive `drive` (0 when none is attached).
    pub fn drive_type(&self, drive: usize) -> u8 {
        self.fdc.drives.get(drive).map_or(0, |d| d.drive_type)
    }

    /// CMOS register 0x10: drive A's type in the high nibble, B's in the low one.
    pub fn cmos_drive_types(&self) -> u8 {
        self.drive_type(0) << 4 | (self.drive_type(1) & 0x0F)
    }

    /// Makes everything the guest wrote durable.
    pub fn flush_all(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for d in self.fdc.drives.iter_mut() {
            if let Some(img) = d.image.as_mut() {
                let r = img.flush();
                if result.is_ok() {
                    result = r;
                }
            }
        }
        result
    }

    pub fn state(&self) -> IsaDmaFloppyState {
        IsaDmaFloppyState {
            dma: self.dma.state(),
            fdc: self.fdc.s.clone(),
        }
    }

    pub fn restore(&mut self, s: IsaDmaFloppyState) {
        self.dma.restore(s.dma);
        let mut f = s.fdc;
        // A transfer whose buffer does not fit its operation cannot be continued.
        let consistent = f.transfer.as_ref().is_none_or(|t| {
            let len = if t.op == TransferOp::Format { 4 } else { 512 };
            t.buf.len() == len && t.pos <= len && (t.drive as usize) < fdc::DRIVES
        });
        if !consistent || (f.phase == Phase::Execution) != f.transfer.is_some() {
            f.phase = Phase::Command;
            f.transfer = None;
            f.cmd.clear();
        }
        f.result_pos = f.result_pos.min(f.result.len());
        f.reset_polls = f.reset_polls.min(fdc::DRIVES as u8);
        self.fdc.s = f;
        self.sync();
    }

    fn read_byte(&mut self, port: u16) -> u8 {
        match port {
            0x00..=0x0F | 0x81..=0x8F | 0xC0..=0xDF => {
                let dreq = (self.fdc.drq() as u8) << FDC_DMA_CHANNEL;
                self.dma.read(port, dreq)
            }
            0x3F0..=0x3F5 | 0x3F7 => self.fdc.read(port - FDC_BASE),
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, port: u16, value: u8) {
        match port {
            0x00..=0x0F | 0x81..=0x8F | 0xC0..=0xDF => self.dma.write(port, value),
            0x3F0..=0x3F5 | 0x3F7 => self.fdc.write(port - FDC_BASE, value),
            _ => {}
        }
    }

    /// Drives IRQ 6 and asks for a DMA turn when a waiting transfer can now proceed.
    fn sync(&mut self) {
        self.irq.set(FDC_IRQ, self.fdc.irq_level());
        if self.fdc.drq() && self.dma.channel_ready(FDC_DMA_CHANNEL) {
            self.control.raise(REQ_DMA);
        }
    }
}

fn drive_letter(drive: usize) -> char {
    (b'A' + drive as u8) as char
}

impl PortDevice for IsaDmaFloppy {
    /// Wider accesses are split into byte accesses to consecutive ports, as the ISA bus
    /// does for an 8-bit device.
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let mut v = 0u32;
        for i in 0..size.min(4) {
            v |= (self.read_byte(port.wrapping_add(i as u16)) as u32) << (8 * i);
        }
        self.sync();
        v
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        for i in 0..size.min(4) {
            self.write_byte(port.wrapping_add(i as u16), (value >> (8 * i)) as u8);
        }
        self.sync();
    }

    fn reset(&mut self) {
        self.dma.reset();
        self.fdc.hardware_reset();
        self.sync();
    }

    fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        // Each turn either moves bytes, finishes the command or stops: bounded by the
        // sectors on a track.
        while self.fdc.drq() && self.dma.channel_ready(FDC_DMA_CHANNEL) {
            let Some(t) = self.fdc.s.transfer.as_mut() else {
                break;
            };
            let pos = t.pos.min(t.buf.len());
            let data = match t.op {
                TransferOp::Read => DeviceData::ToMemory(&t.buf[pos..]),
                TransferOp::Write | TransferOp::Format => DeviceData::FromMemory(&mut t.buf[pos..]),
            };
            let moved = self.dma.transfer(FDC_DMA_CHANNEL, mem, data);
            if !self.fdc.exchanged(moved.bytes, moved.tc) {
                break;
            }
        }
        self.sync();
    }
}
