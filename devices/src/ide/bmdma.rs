//! The bus master IDE function (82371SB data sheet section 2.7 and 3.5; "Programming
//! Interface for Bus Master IDE Controller", SFF-8038i): per channel a command register
//! (+0: bit 0 start/stop, bit 3 direction), a status register (+2: bit 0 active, bit 1
//! error and bit 2 interrupt write-one-to-clear, bits 5-6 drive DMA capable) and the
//! physical address of the PRD table (+4, dword aligned).
//!
//! A transfer runs whole in one `run_dma` turn once both the drive has a DMA command and
//! the guest has set the start bit. PRD entries are 8 bytes: buffer address (bit 0 zero),
//! byte count in bits 15:1 (0 = 64 KiB) and end-of-table in bit 31. The final state
//! follows the data sheet's table for the status register:
//! - transfer done and the table used to its end: active clear, interrupt set;
//! - transfer done with table space left: active stays set, interrupt set;
//! - table exhausted first: active clear and no interrupt (QEMU ends the command there).

use emu_core::bus::DmaMemory;

use super::ata::{Device, DmaEnd};

pub const CMD_START: u8 = 0x01;
/// Direction: the bus master writes to memory (a device read).
pub const CMD_TO_MEMORY: u8 = 0x08;
pub const STATUS_ACTIVE: u8 = 0x01;
pub const STATUS_ERROR: u8 = 0x02;
pub const STATUS_INTERRUPT: u8 = 0x04;
const STATUS_CAPABLE: u8 = 0x60;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BmRegs {
    pub cmd: u8,
    pub status: u8,
    pub prd: u32,
}

impl BmRegs {
    pub fn read(&self, off: u16) -> u8 {
        match off {
            0 => self.cmd & (CMD_START | CMD_TO_MEMORY),
            2 => self.status,
            4..=7 => (self.prd >> (8 * (off - 4))) as u8,
            _ => 0,
        }
    }

    pub fn write(&mut self, off: u16, v: u8) {
        match off {
            0 => {
                let was = self.cmd & CMD_START != 0;
                let now = v & CMD_START != 0;
                if now && !was {
                    self.status |= STATUS_ACTIVE;
                } else if was && !now {
                    // Stopping aborts whatever the drive had not moved yet.
                    self.status &= !STATUS_ACTIVE;
                }
                self.cmd = v & (CMD_START | CMD_TO_MEMORY);
            }
            2 => {
                let cleared = v & (STATUS_ERROR | STATUS_INTERRUPT);
                self.status = (self.status & !cleared & !STATUS_CAPABLE) | (v & STATUS_CAPABLE);
            }
            4..=7 => {
                let shift = 8 * (off - 4) as u32;
                let prd = (self.prd & !(0xFF << shift)) | (v as u32) << shift;
                self.prd = prd & !3;
            }
            _ => {}
        }
    }
}

/// Moves the drive's pending DMA transfer through the PRD table.
pub(crate) fn transfer(bm: &mut BmRegs, dev: &mut Device, mem: &mut dyn DmaMemory) {
    let Some(to_medium) = dev.dma_pending() else {
        return;
    };
    let mut left = dev.dma_remaining();
    let mut table = bm.prd & !3;
    let mut chunk = Vec::new();
    let mut stay_active = false;
    let end = loop {
        if left == 0 {
            break DmaEnd::Done;
        }
        let mut entry = [0u8; 8];
        mem.dma_read(table as u64, &mut entry);
        table = table.wrapping_add(8);
        let base = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) & !1;
        let raw = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
        let len = match raw & 0xFFFE {
            0 => 0x1_0000u64,
            n => n as u64,
        };
        let eot = raw & 1 << 31 != 0;
        let n = len.min(left) as usize;
        chunk.clear();
        let moved = if to_medium {
            chunk.resize(n, 0);
            mem.dma_read(base as u64, &mut chunk);
            dev.dma_push(&chunk)
        } else {
            dev.dma_pull(n, &mut chunk).map(|()| {
                mem.dma_write(base as u64, &chunk);
            })
        };
        if moved.is_err() {
            break DmaEnd::Failed;
        }
        left -= n as u64;
        if left == 0 {
            stay_active = (n as u64) < len || !eot;
            break DmaEnd::Done;
        }
        if eot {
            break DmaEnd::PrdShort;
        }
    };
    if !stay_active {
        bm.status &= !STATUS_ACTIVE;
    }
    dev.dma_finish(end);
}
