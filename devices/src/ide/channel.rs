//! One IDE channel: two device positions sharing the command block (8 ports) and the
//! control block (Alternate Status / Device Control), ATA/ATAPI-6 section 7.
//!
//! Register writes reach both devices (each keeps its own copy, so each can answer with its
//! own signature); reads and the command go to the device selected by the DEV bit. A
//! missing device 1 reads as zeros, as on QEMU, which is what makes Linux's and SeaBIOS's
//! probes (write 0x55/0xAA, read back) find nothing there.

use super::ata::{Device, Kind, BSY, DRQ};
use super::bmdma::{BmRegs, STATUS_INTERRUPT};
use crate::unimp::UnimpLog;

// Device Control register.
pub const NIEN: u8 = 0x02;
pub const SRST: u8 = 0x04;
pub const HOB: u8 = 0x80;

const EXECUTE_DEVICE_DIAGNOSTIC: u8 = 0x90;

/// Channel registers that are not any one device's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelRegs {
    /// Selected device (Device register bit 4).
    pub unit: u8,
    pub devctl: u8,
    /// Level the channel's IRQ line was last driven to.
    pub irq_level: bool,
    pub bm: BmRegs,
}

#[derive(Default)]
pub(crate) struct Channel {
    pub devs: [Option<Device>; 2],
    pub regs: ChannelRegs,
}

impl Channel {
    fn selected(&mut self) -> Option<&mut Device> {
        self.devs[self.regs.unit as usize & 1].as_mut()
    }

    /// A read of command block register `off` (0-7).
    pub fn read_cmd(&mut self, off: u16, size: u8, log: &UnimpLog) -> u32 {
        if off == 0 {
            return match self.selected() {
                Some(d) => d.read_data(size, log),
                None => 0,
            };
        }
        // Wider accesses to the byte registers see consecutive registers.
        (0..size.min(4) as u16).fold(0u32, |acc, i| {
            acc | (self.read_reg(off + i) as u32) << (8 * i)
        })
    }

    fn read_reg(&mut self, off: u16) -> u8 {
        let hob = self.regs.devctl & HOB != 0;
        let Some(d) = self.selected() else {
            return if off > 7 { 0xFF } else { 0 };
        };
        let tf = &d.s.tf;
        match off {
            1 => d.s.error,
            2 if hob => tf.hob_nsector,
            2 => tf.nsector,
            3 if hob => tf.hob_sector,
            3 => tf.sector,
            4 if hob => tf.hob_lcyl,
            4 => tf.lcyl,
            5 if hob => tf.hob_hcyl,
            5 => tf.hcyl,
            6 => tf.device,
            7 => {
                // Reading Status acknowledges the interrupt (section 7.15.5).
                d.s.intrq = false;
                d.s.status
            }
            _ => 0xFF,
        }
    }

    pub fn write_cmd(&mut self, off: u16, size: u8, value: u32, log: &UnimpLog) {
        if off == 0 {
            if let Some(d) = self.selected() {
                d.write_data(size, value, log);
            }
            return;
        }
        for i in 0..size.min(4) as u16 {
            self.write_reg(off + i, (value >> (8 * i)) as u8, log);
        }
    }

    fn write_reg(&mut self, off: u16, v: u8, log: &UnimpLog) {
        if !(1..=7).contains(&off) {
            return;
        }
        // Any command block write clears HOB (ATA/ATAPI-6 7.9.6).
        self.regs.devctl &= !HOB;
        if off == 7 {
            self.command(v, log);
            return;
        }
        if off == 6 {
            self.regs.unit = (v >> 4) & 1;
        }
        for d in self.devs.iter_mut().flatten() {
            let tf = &mut d.s.tf;
            match off {
                1 => (tf.hob_feature, tf.feature) = (tf.feature, v),
                2 => (tf.hob_nsector, tf.nsector) = (tf.nsector, v),
                3 => (tf.hob_sector, tf.sector) = (tf.sector, v),
                4 => (tf.hob_lcyl, tf.lcyl) = (tf.lcyl, v),
                5 => (tf.hob_hcyl, tf.hcyl) = (tf.hcyl, v),
                _ => tf.device = v,
            }
        }
    }

    fn command(&mut self, cmd: u8, log: &UnimpLog) {
        if cmd == EXECUTE_DEVICE_DIAGNOSTIC {
            // Both devices execute it whatever DEV selects (section 8.11).
            if self.devs.iter().any(Option::is_some) {
                self.diagnose();
            }
            return;
        }
        let Some(d) = self.selected() else {
            // Commands to a missing device 1 go nowhere.
            return;
        };
        // While BSY or DRQ only DEVICE RESET to a packet device is accepted (section 9.1).
        if d.s.status & (BSY | DRQ) != 0 && !(cmd == 0x08 && d.kind == Kind::Cdrom) {
            return;
        }
        d.command(cmd, log);
    }

    /// EXECUTE DEVICE DIAGNOSTIC: both devices run it, report code 0x01 (passed; device 0
    /// would say 0x81 for a failed device 1) with their signatures, and device 0 is
    /// selected and interrupts (section 8.11).
    fn diagnose(&mut self) {
        for d in self.devs.iter_mut().flatten() {
            d.after_reset();
        }
        self.regs.unit = 0;
        if let Some(d) = self.devs.iter_mut().flatten().next() {
            d.raise_irq();
        }
    }

    /// Alternate Status: the same value, no acknowledge.
    pub fn alt_status(&self) -> u8 {
        self.devs[self.regs.unit as usize & 1]
            .as_ref()
            .map_or(0, |d| d.s.status)
    }

    pub fn write_devctl(&mut self, v: u8) {
        let was = self.regs.devctl & SRST != 0;
        let now = v & SRST != 0;
        self.regs.devctl = v;
        if now && !was {
            for d in self.devs.iter_mut().flatten() {
                d.abort_transfer();
                d.s.status = BSY;
                d.s.intrq = false;
            }
        } else if was && !now {
            // Reset done: signatures, diagnostic codes, device 0 selected (section 9.2).
            for d in self.devs.iter_mut().flatten() {
                d.after_reset();
            }
            self.regs.unit = 0;
        }
    }

    /// Power-on state.
    pub fn hard_reset(&mut self) {
        self.regs = ChannelRegs {
            irq_level: self.regs.irq_level,
            ..Default::default()
        };
        for d in self.devs.iter_mut().flatten() {
            d.hard_reset();
        }
    }

    /// INTRQ of the selected device, gated by nIEN. Latches the bus master interrupt bit
    /// for interrupts the selected device raised while the line was enabled.
    pub fn update_irq(&mut self) -> bool {
        let enabled = self.regs.devctl & NIEN == 0;
        let unit = self.regs.unit as usize & 1;
        let mut level = false;
        for (i, d) in self.devs.iter_mut().enumerate() {
            let Some(d) = d else { continue };
            let raised = std::mem::take(&mut d.s.raised);
            if i == unit {
                if raised && enabled {
                    self.regs.bm.status |= STATUS_INTERRUPT;
                }
                level = d.s.intrq && enabled;
            }
        }
        level
    }

    /// A device is waiting for the bus master and the bus master is started.
    pub fn dma_ready(&self) -> bool {
        self.regs.bm.cmd & super::bmdma::CMD_START != 0
            && self
                .devs
                .iter()
                .flatten()
                .any(|d| d.dma_pending().is_some())
    }

    pub fn dma_device(&mut self) -> Option<&mut Device> {
        let unit = self.regs.unit as usize & 1;
        let (a, b) = self.devs.split_at_mut(1);
        let (sel, other) = if unit == 0 {
            (&mut a[0], &mut b[0])
        } else {
            (&mut b[0], &mut a[0])
        };
        if sel.as_ref().is_some_and(|d| d.dma_pending().is_some()) {
            sel.as_mut()
        } else {
            other.as_mut().filter(|d| d.dma_pending().is_some())
        }
    }
}
