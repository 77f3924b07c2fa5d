//! The PC/AT's two Intel 8237A DMA controllers and the 74LS612 page registers.
//!
//! Behaviour from the 8237A data sheet (register descriptions and transfer modes) and the
//! PC/AT wiring as the PIIX3 data sheet's DMA register descriptions document it:
//! - DMA1 (ports 0x00-0x0F) serves the 8-bit channels 0-3; DMA2 (0xC0-0xDF, register n at
//!   0xC0 + 2n, odd ports aliasing the even ones because A0 is not wired) serves the 16-bit
//!   channels 4-7, whose address and count registers count words. Channel 4 cascades DMA1.
//! - Per channel: base and current address and count (written through the byte pointer
//!   flip-flop, read back as the current values), the mode register (verify / write to memory
//!   / read from memory, auto-initialise, address decrement, demand/single/block/cascade).
//! - Per chip: command register (bit 2 disables the controller), status (terminal count bits
//!   3:0, cleared by reading; request bits 7:4), request register, mask register (single bit,
//!   all bits, clear all), master clear, temporary register.
//! - Page registers 0x81-0x8F supply address bits 23:16 (8-bit channels) or 23:17 (16-bit
//!   channels); the address counter wraps inside the page, as real hardware does, which is
//!   why DOS-era software avoids buffers that cross a 64K boundary. 0x80 is the POST card and
//!   is not decoded here; the unused page ports are plain scratch registers.
//!
//! Transfers are performed on demand by the owning device ([`IsaDma::transfer`]), in bulk
//! between guest instructions. A transfer ends at terminal count (the count rolling from 0 to
//! 0xFFFF): the TC status bit is set and the channel either reloads (auto-initialise) or masks
//! itself. Memory-to-memory transfers and software DMA requests (the request register) are
//! accepted and stored but do nothing; they are reported through the unimplemented log.
//!
//! The cascade input (channel 4's mask) is not checked: QEMU does not either, and a guest
//! booted without a BIOS (our direct Linux boot) never unmasks it.

use emu_core::bus::DmaMemory;

use crate::unimp::UnimpLog;

/// Page register port (minus 0x80) for each channel.
const PAGE_INDEX: [usize; 8] = [0x7, 0x3, 0x1, 0x2, 0xF, 0xB, 0x9, 0xA];

// Mode register fields.
const MODE_TYPE_SHIFT: u8 = 2;
const TYPE_WRITE: u8 = 1;
const TYPE_READ: u8 = 2;
const MODE_AUTOINIT: u8 = 0x10;
const MODE_DECREMENT: u8 = 0x20;
const MODE_CASCADE: u8 = 0xC0;

// Command register bits.
const CMD_MEM_TO_MEM: u8 = 0x01;
const CMD_DISABLE: u8 = 0x04;

/// One channel's registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelState {
    pub base_addr: u16,
    pub base_count: u16,
    pub cur_addr: u16,
    pub cur_count: u16,
    /// Mode register (bits 1:0, the channel select, are kept as written).
    pub mode: u8,
}

/// One 8237A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dma8237State {
    pub ch: [ChannelState; 4],
    pub command: u8,
    /// Terminal count bits (3:0) since the last status read.
    pub tc: u8,
    /// Software request bits (3:0).
    pub request: u8,
    /// Mask bits (3:0); set masks the channel.
    pub mask: u8,
    /// Byte pointer flip-flop: the next address/count access is the high byte.
    pub flip_flop: bool,
    pub temp: u8,
}

impl Default for Dma8237State {
    /// After RESET or master clear: everything clear, all channels masked.
    fn default() -> Self {
        Dma8237State {
            ch: [ChannelState::default(); 4],
            command: 0,
            tc: 0,
            request: 0,
            mask: 0x0F,
            flip_flop: false,
            temp: 0,
        }
    }
}

impl Dma8237State {
    fn master_clear(&mut self) {
        let ch = self.ch;
        *self = Dma8237State::default();
        // Master clear leaves the address, count and mode registers alone.
        self.ch = ch;
    }
}

/// Both controllers and the page registers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IsaDmaState {
    pub chips: [Dma8237State; 2],
    /// Indexed by port - 0x80 (entry 0 unused: port 0x80 belongs to the POST card).
    pub pages: [u8; 16],
}

/// What a bulk transfer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes exchanged with the device.
    pub bytes: usize,
    /// The channel reached terminal count on the last of them.
    pub tc: bool,
}

/// The device's side of a transfer.
pub enum DeviceData<'a> {
    /// The device produces the bytes (a disk read): they go to memory in a "write" transfer.
    ToMemory(&'a [u8]),
    /// The device consumes the bytes (a disk write): they come from memory in a "read"
    /// transfer.
    FromMemory(&'a mut [u8]),
}

impl DeviceData<'_> {
    fn len(&self) -> usize {
        match self {
            DeviceData::ToMemory(d) => d.len(),
            DeviceData::FromMemory(d) => d.len(),
        }
    }
}

pub struct IsaDma {
    s: IsaDmaState,
    log: UnimpLog,
}

impl IsaDma {
    pub fn new(log: UnimpLog) -> Self {
        IsaDma {
            s: IsaDmaState::default(),
            log,
        }
    }

    pub fn state(&self) -> IsaDmaState {
        self.s.clone()
    }

    pub fn restore(&mut self, s: IsaDmaState) {
        self.s = s;
    }

    /// RESET: both controllers cleared and masked, page registers zero.
    pub fn reset(&mut self) {
        self.s = IsaDmaState::default();
    }

    /// Whether DREQ on `channel` would be served now: controller enabled, channel unmasked
    /// and not in cascade mode.
    pub fn channel_ready(&self, channel: usize) -> bool {
        let Some(chip) = self.s.chips.get(channel / 4) else {
            return false;
        };
        let c = channel % 4;
        chip.command & CMD_DISABLE == 0
            && chip.mask & (1 << c) == 0
            && chip.ch[c].mode & MODE_CASCADE != MODE_CASCADE
    }

    /// Reads an 8237 or page register. `dreq` holds the channels (bit per channel 0-7) whose
    /// device is requesting service, for the status register's request bits.
    pub fn read(&mut self, port: u16, dreq: u8) -> u8 {
        match port {
            0x00..=0x0F => self.read_chip(0, (port & 0xF) as usize, dreq & 0x0F),
            0xC0..=0xDF => self.read_chip(1, ((port - 0xC0) >> 1) as usize, dreq >> 4),
            0x81..=0x8F => self.s.pages[(port & 0xF) as usize],
            _ => 0xFF,
        }
    }

    pub fn write(&mut self, port: u16, value: u8) {
        match port {
            0x00..=0x0F => self.write_chip(0, (port & 0xF) as usize, value),
            0xC0..=0xDF => self.write_chip(1, ((port - 0xC0) >> 1) as usize, value),
            0x81..=0x8F => self.s.pages[(port & 0xF) as usize] = value,
            _ => {}
        }
    }

    fn read_chip(&mut self, chip: usize, reg: usize, dreq: u8) -> u8 {
        let d = &mut self.s.chips[chip];
        match reg {
            0..=7 => {
                let ch = &d.ch[reg / 2];
                let word = if reg.is_multiple_of(2) {
                    ch.cur_addr
                } else {
                    ch.cur_count
                };
                let high = d.flip_flop;
                d.flip_flop = !high;
                if high {
                    (word >> 8) as u8
                } else {
                    word as u8
                }
            }
            8 => {
                let v = d.tc | ((d.request | dreq) & 0x0F) << 4;
                d.tc = 0;
                v
            }
            0xD => d.temp,
            // Not readable on the 8237A; the PIIX reads the mask back here.
            0xF => 0xF0 | d.mask,
            _ => 0xFF,
        }
    }

    fn write_chip(&mut self, chip: usize, reg: usize, value: u8) {
        let d = &mut self.s.chips[chip];
        match reg {
            0..=7 => {
                let high = d.flip_flop;
                d.flip_flop = !high;
                let ch = &mut d.ch[reg / 2];
                let (base, cur) = if reg.is_multiple_of(2) {
                    (&mut ch.base_addr, &mut ch.cur_addr)
                } else {
                    (&mut ch.base_count, &mut ch.cur_count)
                };
                *base = if high {
                    (*base & 0x00FF) | (value as u16) << 8
                } else {
                    (*base & 0xFF00) | value as u16
                };
                // Writing the base register writes the current register too.
                *cur = *base;
            }
            8 => {
                d.command = value;
                if value & CMD_MEM_TO_MEM != 0 {
                    self.log.report("dma", "8237 memory-to-memory transfer");
                }
            }
            9 => {
                let bit = 1 << (value & 3);
                if value & 4 != 0 {
                    d.request |= bit;
                    self.log.report("dma", "8237 software DMA request");
                } else {
                    d.request &= !bit;
                }
            }
            0xA => {
                let bit = 1 << (value & 3);
                if value & 4 != 0 {
                    d.mask |= bit;
                } else {
                    d.mask &= !bit;
                }
            }
            0xB => d.ch[(value & 3) as usize].mode = value,
            0xC => d.flip_flop = false,
            0xD => d.master_clear(),
            0xE => d.mask = 0,
            0xF => d.mask = value & 0x0F,
            _ => {}
        }
    }

    /// Performs DMA cycles on `channel` for the device's data, until the data is exhausted or
    /// the channel reaches terminal count. Nothing moves if the channel is not ready.
    ///
    /// The transfer type comes from the channel's mode register, as on the real bus: a
    /// "verify" transfer (type 0), or one whose direction does not match the device's, runs
    /// its cycles (addresses and counts advance) without touching memory, and a device
    /// expecting data then receives the floating bus (0xFF). A 16-bit channel moves whole
    /// words; an odd trailing byte is left.
    pub fn transfer(
        &mut self,
        channel: usize,
        mem: &mut dyn DmaMemory,
        mut data: DeviceData<'_>,
    ) -> Transferred {
        let mut out = Transferred::default();
        if !self.channel_ready(channel) {
            return out;
        }
        let chip = channel / 4;
        let c = channel % 4;
        let width = if chip == 1 { 2usize } else { 1 };
        let page = self.s.pages[PAGE_INDEX[channel]];
        let len = data.len();
        let d = &mut self.s.chips[chip];
        let ch = &mut d.ch[c];
        let kind = (ch.mode >> MODE_TYPE_SHIFT) & 3;
        let decrement = ch.mode & MODE_DECREMENT != 0;
        while out.bytes + width <= len {
            // The largest run that is contiguous in memory: up to terminal count, the end
            // of the device's data, or the address counter wrapping inside the page.
            let until_tc = ch.cur_count as usize + 1;
            let until_end = (len - out.bytes) / width;
            let until_wrap = if decrement {
                ch.cur_addr as usize + 1
            } else {
                0x1_0000 - ch.cur_addr as usize
            };
            let n = until_tc.min(until_end).min(until_wrap);
            let low = if decrement {
                ch.cur_addr.wrapping_sub((n - 1) as u16)
            } else {
                ch.cur_addr
            };
            let phys = if width == 1 {
                (page as u64) << 16 | low as u64
            } else {
                ((page & 0xFE) as u64) << 16 | (low as u64) << 1
            };
            let range = out.bytes..out.bytes + n * width;
            match &mut data {
                DeviceData::ToMemory(src) if kind == TYPE_WRITE => {
                    let chunk = &src[range];
                    if decrement {
                        let mut rev = chunk.to_vec();
                        reverse_units(&mut rev, width);
                        mem.dma_write(phys, &rev);
                    } else {
                        mem.dma_write(phys, chunk);
                    }
                }
                DeviceData::ToMemory(_) => {}
                DeviceData::FromMemory(dst) if kind == TYPE_READ => {
                    let chunk = &mut dst[range];
                    mem.dma_read(phys, chunk);
                    if decrement {
                        reverse_units(chunk, width);
                    }
                }
                DeviceData::FromMemory(dst) => dst[range].fill(0xFF),
            }
            out.bytes += n * width;
            ch.cur_addr = if decrement {
                ch.cur_addr.wrapping_sub(n as u16)
            } else {
                ch.cur_addr.wrapping_add(n as u16)
            };
            ch.cur_count = ch.cur_count.wrapping_sub(n as u16);
            if n == until_tc {
                out.tc = true;
                d.tc |= 1 << c;
                if ch.mode & MODE_AUTOINIT != 0 {
                    ch.cur_addr = ch.base_addr;
                    ch.cur_count = ch.base_count;
                } else {
                    d.mask |= 1 << c;
                }
                break;
            }
        }
        out
    }
}

/// Reverses the order of `width`-byte units in `buf` (bytes within a unit keep their order).
fn reverse_units(buf: &mut [u8], width: usize) {
    if width == 1 {
        buf.reverse();
        return;
    }
    let units = buf.len() / width;
    for i in 0..units / 2 {
        let j = units - 1 - i;
        for k in 0..width {
            buf.swap(i * width + k, j * width + k);
        }
    }
}
