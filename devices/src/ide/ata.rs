//! One device on an IDE channel: its register file (ATA/ATAPI-6 section 7), the PIO data
//! protocols (section 9: PIO data-in, PIO data-out, non-data, DMA) and the ATA command set.
//! Packet commands live in `atapi.rs`, IDENTIFY data in `identify.rs`.
//!
//! Every command completes at once: the device is never seen BSY (except while SRST is
//! held), which the protocols allow since hosts poll BSY before anything else. Data moves
//! through `buf`, one DRQ block at a time (a sector, a READ MULTIPLE block, an ATAPI byte
//! count chunk); longer transfers refill it when the host has drained it.

use std::io;

use super::identify;
use crate::block::DiskImage;
use crate::unimp::UnimpLog;

pub const SECTOR_SIZE: u32 = 512;
pub const CD_SECTOR_SIZE: u32 = 2048;
/// Largest READ/WRITE MULTIPLE block (IDENTIFY word 47), as QEMU's drives.
pub const MAX_MULT_SECTORS: u8 = 16;

// Status register (section 7.15).
pub const BSY: u8 = 0x80;
pub const DRDY: u8 = 0x40;
/// Device seek complete; obsolete in ATA-6 but set by every drive DOS-era software met.
pub const DSC: u8 = 0x10;
pub const DRQ: u8 = 0x08;
pub const ERR: u8 = 0x01;

// Error register.
pub const UNC: u8 = 0x40;
pub const IDNF: u8 = 0x10;
pub const ABRT: u8 = 0x04;

// ATAPI interrupt reason (the Sector Count register during packet commands).
pub const IREASON_COD: u8 = 0x01;
pub const IREASON_IO: u8 = 0x02;

/// What is attached to a channel position.
pub enum Drive {
    HardDisk(DiskImage),
    /// An ATAPI CD/DVD drive, with or without a medium; 2048-byte sectors, read-only.
    CdRom(Option<DiskImage>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Disk,
    Cdrom,
}

/// The command block registers as the device holds them. Writes reach both devices of a
/// channel; each 48-bit register pair keeps the previous value as its high-order byte
/// (section 6.20, "48-bit Address feature set").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskFile {
    pub feature: u8,
    pub hob_feature: u8,
    pub nsector: u8,
    pub hob_nsector: u8,
    pub sector: u8,
    pub hob_sector: u8,
    pub lcyl: u8,
    pub hob_lcyl: u8,
    pub hcyl: u8,
    pub hob_hcyl: u8,
    pub device: u8,
}

/// What the current data transfer is, and so what happens when `buf` has been moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Idle,
    /// PIO data-in of READ SECTORS/MULTIPLE: the next block follows, or the command ends.
    AtaRead,
    /// PIO data-out of WRITE SECTORS/MULTIPLE: the block is written when full.
    AtaWrite,
    /// A single data-in block (IDENTIFY): the command ends when it is drained.
    ReplyIn,
    /// Receiving the 12-byte command packet.
    Packet,
    /// An ATAPI PIO data-in chunk of the announced byte count.
    AtapiIn,
    /// Waiting for the bus master; `to_medium` for writes.
    Dma { to_medium: bool },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddrMode {
    #[default]
    Lba28,
    Lba48,
    Chs,
}

/// Data on its way to the host: a reply built in memory followed by medium sectors read
/// lazily, so a long READ never sits in memory whole and a byte count that splits sectors
/// (ATAPI chunks, PRD entries) costs nothing special.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    /// Next sector of the medium to stage.
    pub lba: u64,
    /// Sectors not yet staged.
    pub sectors: u64,
    pub sector_size: u32,
    pub staged: Vec<u8>,
    pub pos: usize,
}

/// Sectors staged per medium read: large enough to make one system call per 64 KiB.
const STAGE_BYTES: u64 = 64 * 1024;

impl Stream {
    pub fn reply(data: Vec<u8>) -> Self {
        Stream {
            staged: data,
            ..Default::default()
        }
    }

    pub fn medium(lba: u64, sectors: u64, sector_size: u32) -> Self {
        Stream {
            lba,
            sectors,
            sector_size,
            ..Default::default()
        }
    }

    pub fn left(&self) -> u64 {
        let staged = self.staged.len().saturating_sub(self.pos) as u64;
        staged.saturating_add(self.sectors.saturating_mul(self.sector_size as u64))
    }

    /// Appends the next `n` bytes (or what is left) to `out`.
    pub fn pull(
        &mut self,
        image: &mut Option<DiskImage>,
        n: usize,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let mut need = n;
        while need > 0 {
            if self.pos < self.staged.len() {
                let take = need.min(self.staged.len() - self.pos);
                out.extend_from_slice(&self.staged[self.pos..self.pos + take]);
                self.pos += take;
                need -= take;
            } else if self.sectors > 0 && self.sector_size > 0 {
                let ss = self.sector_size as u64;
                let k = self.sectors.min((STAGE_BYTES / ss).max(1));
                let img = image
                    .as_mut()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no medium"))?;
                self.staged.resize((k * ss) as usize, 0);
                let offset = self
                    .lba
                    .checked_mul(ss)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad LBA"))?;
                img.read_at(offset, &mut self.staged)?;
                self.pos = 0;
                self.lba += k;
                self.sectors -= k;
            } else {
                break;
            }
        }
        Ok(())
    }
}

/// SCSI sense data (SPC-3 section 4.5): key, additional sense code and qualifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sense {
    pub key: u8,
    pub asc: u8,
    pub ascq: u8,
}

/// Medium and sense state of a packet device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AtapiState {
    pub sense: Sense,
    /// "Medium may have changed" is owed to the next command that does not tolerate it.
    pub unit_attention: bool,
    /// GET EVENT STATUS NOTIFICATION media event code not yet reported (0: none).
    pub media_event: u8,
    pub tray_open: bool,
    pub locked: bool,
    /// Byte count limit of the running PACKET command.
    pub byte_limit: u16,
    /// The running PACKET command moves its data by DMA (Features bit 0).
    pub dma: bool,
}

/// Everything of a device but its medium: what a snapshot saves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriveState {
    pub tf: TaskFile,
    pub status: u8,
    pub error: u8,
    /// INTRQ pending in the device (the channel drives the line for the selected one).
    pub intrq: bool,
    /// INTRQ was asserted since the channel last looked (for the bus master status bit).
    pub raised: bool,
    /// READ/WRITE MULTIPLE block size; 0 = multiple mode disabled.
    pub mult_sectors: u8,
    /// Logical geometry for CHS commands (INITIALIZE DEVICE PARAMETERS changes it).
    pub cylinders: u16,
    pub heads: u8,
    pub spt: u8,
    pub write_cache: bool,
    /// Last SET FEATURES transfer mode value (0 = PIO default).
    pub xfer_mode: u8,
    pub phase: Phase,
    pub buf: Vec<u8>,
    pub pos: usize,
    pub stream: Stream,
    /// ATA transfers: next sector to move with the host, sectors left, sectors per block.
    pub xfer_lba: u64,
    pub xfer_left: u64,
    pub block_sectors: u64,
    pub addr_mode: AddrMode,
    pub atapi: AtapiState,
    /// FLUSH CACHE commands that reached the image (diagnostics and tests).
    pub flushes: u64,
}

pub(crate) struct Device {
    pub kind: Kind,
    pub image: Option<DiskImage>,
    /// Position on the controller (channel * 2 + slave), for the serial number.
    pub index: u8,
    pub s: DriveState,
}

/// Geometry reported in IDENTIFY words 1/3/6: 16 heads, 63 sectors, cylinders from the size
/// capped at 16383 (ATA-6 section 6.2.1 for devices of 8.4 GB and more).
pub fn default_geometry(sectors: u64) -> (u16, u8, u8) {
    let cyl = (sectors / (16 * 63)).clamp(1, 16383);
    (cyl as u16, 16, 63)
}

/// Outcome of a bus master transfer, for [`Device::dma_finish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaEnd {
    Done,
    /// The PRD table ended before the transfer.
    PrdShort,
    Failed,
}

impl Device {
    pub fn new(drive: Drive, index: u8) -> Self {
        let (kind, image) = match drive {
            Drive::HardDisk(img) => (Kind::Disk, Some(img)),
            Drive::CdRom(img) => (Kind::Cdrom, img),
        };
        let mut d = Device {
            kind,
            image,
            index,
            s: DriveState::default(),
        };
        d.hard_reset();
        d
    }

    /// Sectors of the medium in the device's own sector size (0 without a medium).
    pub fn sectors(&self) -> u64 {
        match (&self.image, self.kind) {
            (Some(img), Kind::Disk) => img.len() / SECTOR_SIZE as u64,
            (Some(img), Kind::Cdrom) if !self.s.atapi.tray_open => {
                img.len() / CD_SECTOR_SIZE as u64
            }
            _ => 0,
        }
    }

    pub fn medium_present(&self) -> bool {
        self.sectors() > 0
    }

    /// Power-on or hardware reset: settings back to their defaults too.
    pub fn hard_reset(&mut self) {
        let atapi = AtapiState {
            // The medium and its lock state belong to the drive mechanics, not the reset.
            tray_open: self.s.atapi.tray_open,
            unit_attention: self.s.atapi.unit_attention,
            media_event: self.s.atapi.media_event,
            ..Default::default()
        };
        let flushes = self.s.flushes;
        let (cylinders, heads, spt) = default_geometry(self.sectors());
        self.s = DriveState {
            cylinders,
            heads,
            spt,
            write_cache: true,
            mult_sectors: if self.kind == Kind::Disk {
                MAX_MULT_SECTORS
            } else {
                0
            },
            atapi,
            flushes,
            ..Default::default()
        };
        self.after_reset();
    }

    /// SRST, EXECUTE DEVICE DIAGNOSTIC, DEVICE RESET: the signature and diagnostic code
    /// (section 9.12), settings kept.
    pub fn after_reset(&mut self) {
        self.abort_transfer();
        self.set_signature();
        self.s.error = 0x01;
        // Packet devices clear DRDY until the host has looked at them (section 9.12).
        self.s.status = match self.kind {
            Kind::Disk => DRDY | DSC,
            Kind::Cdrom => 0,
        };
        self.s.intrq = false;
    }

    pub fn set_signature(&mut self) {
        let tf = &mut self.s.tf;
        tf.nsector = 1;
        tf.sector = 1;
        (tf.lcyl, tf.hcyl) = match self.kind {
            Kind::Disk => (0, 0),
            Kind::Cdrom => (0x14, 0xEB),
        };
        tf.device = 0;
    }

    pub fn abort_transfer(&mut self) {
        self.s.phase = Phase::Idle;
        self.s.buf.clear();
        self.s.pos = 0;
        self.s.stream = Stream::default();
        self.s.xfer_left = 0;
    }

    pub fn raise_irq(&mut self) {
        self.s.intrq = true;
        self.s.raised = true;
    }

    fn complete(&mut self) {
        self.abort_transfer();
        self.s.status = DRDY | DSC;
        self.s.error = 0;
    }

    fn ok_irq(&mut self) {
        self.complete();
        self.raise_irq();
    }

    pub fn abort(&mut self) {
        self.fail(ABRT);
    }

    fn fail(&mut self, error: u8) {
        self.abort_transfer();
        self.s.status = DRDY | ERR;
        self.s.error = error;
        self.raise_irq();
    }

    /// PIO data-in of one block the host reads next.
    fn start_pio_in(&mut self, data: Vec<u8>, phase: Phase) {
        self.s.buf = data;
        self.s.pos = 0;
        self.s.phase = phase;
        self.s.status = DRDY | DSC | DRQ;
        self.s.error = 0;
        self.raise_irq();
    }

    fn data_in(&self) -> bool {
        matches!(
            self.s.phase,
            Phase::AtaRead | Phase::ReplyIn | Phase::AtapiIn
        )
    }

    fn data_out(&self) -> bool {
        matches!(self.s.phase, Phase::AtaWrite | Phase::Packet)
    }

    /// A read of the data register: `size` bytes of the current block, little-endian.
    /// Outside a PIO data-in phase the result is indeterminate; we return 0 as QEMU.
    pub fn read_data(&mut self, size: u8, log: &UnimpLog) -> u32 {
        if self.s.status & DRQ == 0 || !self.data_in() {
            return 0;
        }
        let mut v = 0u32;
        for i in 0..size.min(4) as u32 {
            if let Some(&b) = self.s.buf.get(self.s.pos) {
                v |= (b as u32) << (8 * i);
                self.s.pos += 1;
            }
        }
        if self.s.pos >= self.s.buf.len() {
            self.block_done(log);
        }
        v
    }

    pub fn write_data(&mut self, size: u8, value: u32, log: &UnimpLog) {
        if self.s.status & DRQ == 0 || !self.data_out() {
            return;
        }
        for i in 0..size.min(4) as u32 {
            if let Some(b) = self.s.buf.get_mut(self.s.pos) {
                *b = (value >> (8 * i)) as u8;
                self.s.pos += 1;
            }
        }
        if self.s.pos >= self.s.buf.len() {
            self.block_done(log);
        }
    }

    /// The host has moved the whole DRQ block.
    fn block_done(&mut self, log: &UnimpLog) {
        match self.s.phase {
            Phase::AtaRead => {
                let n = (self.s.buf.len() as u64) / SECTOR_SIZE as u64;
                self.advance(n);
                self.next_read_block();
            }
            Phase::AtaWrite => self.write_block(),
            Phase::ReplyIn => self.complete(),
            Phase::Packet => self.exec_packet(log),
            Phase::AtapiIn => self.atapi_next_chunk(),
            Phase::Idle | Phase::Dma { .. } => {}
        }
    }

    /// `n` sectors moved with the host: the registers point past them, as QEMU's do (DOS
    /// era CHS drivers read them back).
    fn advance(&mut self, n: u64) {
        self.s.xfer_lba = self.s.xfer_lba.saturating_add(n);
        self.s.xfer_left = self.s.xfer_left.saturating_sub(n);
        self.set_address(self.s.xfer_lba);
        let left = self.s.xfer_left;
        self.s.tf.nsector = left as u8;
        if self.s.addr_mode == AddrMode::Lba48 {
            self.s.tf.hob_nsector = (left >> 8) as u8;
        }
    }

    fn next_read_block(&mut self) {
        let n = self.s.xfer_left.min(self.s.block_sectors.max(1));
        if n == 0 {
            self.complete();
            return;
        }
        let mut data = vec![0u8; (n * SECTOR_SIZE as u64) as usize];
        let offset = self.s.xfer_lba * SECTOR_SIZE as u64;
        match self
            .image
            .as_mut()
            .map(|img| img.read_at(offset, &mut data))
        {
            Some(Ok(())) => self.start_pio_in(data, Phase::AtaRead),
            _ => self.fail(UNC),
        }
    }

    /// Opens the next PIO data-out block (the first one without an interrupt, section
    /// 9.8: the host writes it as soon as DRQ is set).
    fn next_write_block(&mut self, irq: bool) {
        let n = self.s.xfer_left.min(self.s.block_sectors.max(1));
        self.s.buf = vec![0u8; (n * SECTOR_SIZE as u64) as usize];
        self.s.pos = 0;
        self.s.phase = Phase::AtaWrite;
        self.s.status = DRDY | DSC | DRQ;
        if irq {
            self.raise_irq();
        }
    }

    fn write_block(&mut self) {
        let offset = self.s.xfer_lba * SECTOR_SIZE as u64;
        let data = std::mem::take(&mut self.s.buf);
        let res = match self.image.as_mut() {
            Some(img) => img.write_at(offset, &data),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no medium")),
        };
        if res.is_err() {
            self.fail(UNC);
            return;
        }
        self.advance(data.len() as u64 / SECTOR_SIZE as u64);
        if self.s.xfer_left > 0 {
            self.next_write_block(true);
        } else {
            self.ok_irq();
        }
    }

    /// The address of an ATA command: LBA (28 or 48 bits) or CHS through the logical
    /// geometry. `None` for a CHS address outside the geometry.
    fn address(&self, ext: bool) -> Option<u64> {
        let tf = &self.s.tf;
        if ext {
            return Some(
                (tf.hob_hcyl as u64) << 40
                    | (tf.hob_lcyl as u64) << 32
                    | (tf.hob_sector as u64) << 24
                    | (tf.hcyl as u64) << 16
                    | (tf.lcyl as u64) << 8
                    | tf.sector as u64,
            );
        }
        if tf.device & 0x40 != 0 {
            return Some(
                ((tf.device & 0x0F) as u64) << 24
                    | (tf.hcyl as u64) << 16
                    | (tf.lcyl as u64) << 8
                    | tf.sector as u64,
            );
        }
        let (heads, spt) = (self.s.heads as u64, self.s.spt as u64);
        let cyl = (tf.hcyl as u64) << 8 | tf.lcyl as u64;
        let head = (tf.device & 0x0F) as u64;
        let sec = tf.sector as u64;
        if sec == 0 || sec > spt || head >= heads {
            return None;
        }
        Some((cyl * heads + head) * spt + sec - 1)
    }

    fn set_address(&mut self, lba: u64) {
        let (heads, spt) = (self.s.heads.max(1) as u64, self.s.spt.max(1) as u64);
        let tf = &mut self.s.tf;
        match self.s.addr_mode {
            AddrMode::Lba48 => {
                tf.sector = lba as u8;
                tf.lcyl = (lba >> 8) as u8;
                tf.hcyl = (lba >> 16) as u8;
                tf.hob_sector = (lba >> 24) as u8;
                tf.hob_lcyl = (lba >> 32) as u8;
                tf.hob_hcyl = (lba >> 40) as u8;
            }
            AddrMode::Lba28 => {
                tf.sector = lba as u8;
                tf.lcyl = (lba >> 8) as u8;
                tf.hcyl = (lba >> 16) as u8;
                tf.device = (tf.device & 0xF0) | ((lba >> 24) & 0x0F) as u8;
            }
            AddrMode::Chs => {
                let cyl = lba / (heads * spt);
                let r = lba % (heads * spt);
                tf.sector = (r % spt + 1) as u8;
                tf.lcyl = cyl as u8;
                tf.hcyl = (cyl >> 8) as u8;
                tf.device = (tf.device & 0xF0) | (r / spt) as u8 & 0x0F;
            }
        }
    }

    fn count(&self, ext: bool) -> u64 {
        let tf = &self.s.tf;
        if ext {
            match (tf.hob_nsector as u64) << 8 | tf.nsector as u64 {
                0 => 65536,
                n => n,
            }
        } else {
            match tf.nsector {
                0 => 256,
                n => n as u64,
            }
        }
    }

    /// Decodes and checks the address and count of a media access command; fails the
    /// command (IDNF) when the range is not on the medium.
    fn media_range(&mut self, ext: bool) -> Option<(u64, u64)> {
        self.s.addr_mode = if ext {
            AddrMode::Lba48
        } else if self.s.tf.device & 0x40 != 0 {
            AddrMode::Lba28
        } else {
            AddrMode::Chs
        };
        let count = self.count(ext);
        match self.address(ext) {
            Some(lba) if lba.checked_add(count).is_some_and(|e| e <= self.sectors()) => {
                Some((lba, count))
            }
            _ => {
                self.fail(IDNF);
                None
            }
        }
    }

    /// A command written to the Command register (EXECUTE DEVICE DIAGNOSTIC is the
    /// channel's, as it involves both devices).
    pub fn command(&mut self, cmd: u8, log: &UnimpLog) {
        self.s.intrq = false;
        if self.kind == Kind::Cdrom {
            self.atapi_ata_command(cmd, log);
            return;
        }
        match cmd {
            0xEC => {
                let id = identify::ata(self);
                self.start_pio_in(id.to_vec(), Phase::ReplyIn);
            }
            0x20 | 0x21 | 0x24 | 0xC4 | 0x29 => {
                let ext = cmd == 0x24 || cmd == 0x29;
                let multiple = cmd == 0xC4 || cmd == 0x29;
                if multiple && self.s.mult_sectors == 0 {
                    self.abort();
                    return;
                }
                if let Some((lba, count)) = self.media_range(ext) {
                    self.s.xfer_lba = lba;
                    self.s.xfer_left = count;
                    self.s.block_sectors = if multiple {
                        self.s.mult_sectors as u64
                    } else {
                        1
                    };
                    self.next_read_block();
                }
            }
            0x30 | 0x31 | 0x34 | 0xC5 | 0x39 => {
                let ext = cmd == 0x34 || cmd == 0x39;
                let multiple = cmd == 0xC5 || cmd == 0x39;
                if (multiple && self.s.mult_sectors == 0) || self.read_only() {
                    self.abort();
                    return;
                }
                if let Some((lba, count)) = self.media_range(ext) {
                    self.s.xfer_lba = lba;
                    self.s.xfer_left = count;
                    self.s.block_sectors = if multiple {
                        self.s.mult_sectors as u64
                    } else {
                        1
                    };
                    self.s.error = 0;
                    self.next_write_block(false);
                }
            }
            0xC8 | 0xC9 | 0x25 | 0xCA | 0xCB | 0x35 => {
                let ext = cmd == 0x25 || cmd == 0x35;
                let to_medium = matches!(cmd, 0xCA | 0xCB | 0x35);
                if to_medium && self.read_only() {
                    self.abort();
                    return;
                }
                if let Some((lba, count)) = self.media_range(ext) {
                    self.s.xfer_lba = lba;
                    self.s.xfer_left = count;
                    self.s.stream = if to_medium {
                        Stream::default()
                    } else {
                        Stream::medium(lba, count, SECTOR_SIZE)
                    };
                    self.s.buf.clear();
                    self.s.phase = Phase::Dma { to_medium };
                    self.s.status = DRDY | DSC | DRQ;
                    self.s.error = 0;
                }
            }
            0x40..=0x42 => {
                if let Some((lba, count)) = self.media_range(cmd == 0x42) {
                    // Nothing to verify on an image; the registers end past the range.
                    self.s.xfer_lba = lba;
                    self.s.xfer_left = count;
                    self.advance(count);
                    self.ok_irq();
                }
            }
            0xC6 => {
                let n = self.s.tf.nsector;
                if n > MAX_MULT_SECTORS || !(n == 0 || n.is_power_of_two()) {
                    self.abort();
                } else {
                    self.s.mult_sectors = n;
                    self.ok_irq();
                }
            }
            0xE7 | 0xEA => {
                let res = self.image.as_mut().map_or(Ok(()), |img| img.flush());
                self.s.flushes += 1;
                match res {
                    Ok(()) => self.ok_irq(),
                    Err(_) => self.abort(),
                }
            }
            0xF8 | 0x27 => {
                let max = self.sectors().saturating_sub(1);
                let ext = cmd == 0x27;
                self.s.addr_mode = if ext {
                    AddrMode::Lba48
                } else {
                    AddrMode::Lba28
                };
                self.set_address(if ext { max } else { max.min(0x0FFF_FFFF) });
                self.ok_irq();
            }
            0x91 => {
                let spt = self.s.tf.nsector;
                let heads = (self.s.tf.device & 0x0F) + 1;
                if spt == 0 {
                    self.abort();
                    return;
                }
                let per_cyl = heads as u64 * spt as u64;
                // Capacity through CHS stops at 16,514,064 sectors (ATA-6 6.2.1).
                let cyl = (self.sectors().min(16_514_064) / per_cyl).min(65535);
                self.s.heads = heads;
                self.s.spt = spt;
                self.s.cylinders = cyl as u16;
                self.ok_irq();
            }
            0x10..=0x1F => {
                self.s.tf.lcyl = 0;
                self.s.tf.hcyl = 0;
                self.ok_irq();
            }
            0x70..=0x7F => self.ok_irq(),
            0xEF => self.set_features(log),
            0x94..=0x99 | 0xE0..=0xE3 | 0xE5 | 0xE6 => self.power_command(cmd),
            // DEVICE RESET, PACKET and IDENTIFY PACKET DEVICE are packet-device commands.
            0x08 | 0xA0 | 0xA1 => self.abort(),
            // NOP always aborts (section 8.21).
            0x00 => self.abort(),
            _ => {
                log.report("ide", format_args!("ATA command 0x{cmd:02X}"));
                self.abort();
            }
        }
    }

    fn read_only(&self) -> bool {
        self.image.as_ref().is_none_or(|img| img.is_read_only())
    }

    /// IDLE, STANDBY, SLEEP, CHECK POWER MODE: the device never spins down.
    pub fn power_command(&mut self, cmd: u8) {
        if matches!(cmd, 0xE5 | 0x98) {
            // Active or idle.
            self.s.tf.nsector = 0xFF;
        }
        self.ok_irq();
    }

    pub fn set_features(&mut self, log: &UnimpLog) {
        let value = self.s.tf.nsector;
        match self.s.tf.feature {
            0x03 => {
                let mode = value & 0x07;
                let ok = match value >> 3 {
                    0 => mode <= 1,
                    1 => mode <= 4,
                    2 => mode <= 2,
                    4 => mode <= 2,
                    8 => mode <= 5,
                    _ => false,
                };
                if !ok {
                    self.abort();
                    return;
                }
                self.s.xfer_mode = value;
            }
            0x02 => self.s.write_cache = true,
            0x82 => self.s.write_cache = false,
            // Read look-ahead, reverting to power-on defaults: nothing to change here.
            0xAA | 0x55 | 0x66 | 0xCC => {}
            f => log.report("ide", format_args!("SET FEATURES 0x{f:02X} (accepted)")),
        }
        self.ok_irq();
    }

    // Bus master side.

    pub fn dma_pending(&self) -> Option<bool> {
        match self.s.phase {
            Phase::Dma { to_medium } => Some(to_medium),
            _ => None,
        }
    }

    /// Bytes the bus master still has to move.
    pub fn dma_remaining(&self) -> u64 {
        match self.s.phase {
            Phase::Dma { to_medium: true } => {
                (self.s.xfer_left * SECTOR_SIZE as u64).saturating_sub(self.s.buf.len() as u64)
            }
            Phase::Dma { to_medium: false } => self.s.stream.left(),
            _ => 0,
        }
    }

    /// Device to memory: the next `n` bytes.
    pub fn dma_pull(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<()> {
        self.s.stream.pull(&mut self.image, n, out)
    }

    /// Memory to device: collects whole sectors and writes them in 64 KiB runs.
    pub fn dma_push(&mut self, data: &[u8]) -> io::Result<()> {
        self.s.buf.extend_from_slice(data);
        if self.s.buf.len() as u64 >= STAGE_BYTES {
            self.flush_dma_writes()?;
        }
        Ok(())
    }

    fn flush_dma_writes(&mut self) -> io::Result<()> {
        let whole = self.s.buf.len() / SECTOR_SIZE as usize * SECTOR_SIZE as usize;
        if whole == 0 {
            return Ok(());
        }
        let offset = self.s.xfer_lba * SECTOR_SIZE as u64;
        let img = self
            .image
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no medium"))?;
        img.write_at(offset, &self.s.buf[..whole])?;
        self.s.buf.drain(..whole);
        self.advance(whole as u64 / SECTOR_SIZE as u64);
        Ok(())
    }

    /// The bus master is done with this command.
    pub fn dma_finish(&mut self, end: DmaEnd) {
        let to_medium = self.dma_pending() == Some(true);
        let mut end = end;
        if to_medium && end != DmaEnd::Failed && self.flush_dma_writes().is_err() {
            end = DmaEnd::Failed;
        }
        if self.kind == Kind::Disk && !to_medium && end == DmaEnd::Done {
            let n = self.s.xfer_left;
            self.advance(n);
        }
        match (end, self.kind) {
            (DmaEnd::Done, Kind::Disk) => self.ok_irq(),
            (DmaEnd::Done, Kind::Cdrom) => self.atapi_ok(),
            // As QEMU: the command ends without an interrupt and the bus master status
            // (active clear, interrupt clear) tells the driver what happened.
            (DmaEnd::PrdShort, _) => self.complete(),
            (DmaEnd::Failed, Kind::Disk) => self.abort(),
            (DmaEnd::Failed, Kind::Cdrom) => self.atapi_error(super::atapi::MEDIUM_ERROR, 0x11, 0),
        }
    }
}
