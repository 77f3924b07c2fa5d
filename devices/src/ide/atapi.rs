//! The packet device (ATAPI CD/DVD drive): the ATA commands a packet device accepts
//! (ATA/ATAPI-6 section 8, "Packet Command feature set"), the PACKET protocol (section 9.10:
//! byte count limit in LBA Mid/High, interrupt reason in Sector Count, one DRQ chunk per
//! interrupt) and the SCSI commands SeaBIOS and Linux's sr driver send (MMC-3, SPC-3).
//!
//! Errors end the command with ERR and the sense key in Error bits 7:4; the host reads the
//! details with REQUEST SENSE. A medium inserted after power-on owes one UNIT ATTENTION
//! (06/28/00) to the first command that does not tolerate it, as MMC requires and QEMU does.

use super::ata::{
    Device, Phase, Sense, Stream, ABRT, CD_SECTOR_SIZE, DRDY, DRQ, DSC, ERR, IREASON_COD,
    IREASON_IO,
};
use super::identify;
use crate::unimp::UnimpLog;

pub const NO_SENSE: u8 = 0x00;
pub const NOT_READY: u8 = 0x02;
pub const MEDIUM_ERROR: u8 = 0x03;
pub const ILLEGAL_REQUEST: u8 = 0x05;
pub const UNIT_ATTENTION: u8 = 0x06;

pub const ASC_INVALID_OPCODE: u8 = 0x20;
pub const ASC_LBA_OUT_OF_RANGE: u8 = 0x21;
pub const ASC_INVALID_FIELD: u8 = 0x24;
pub const ASC_MEDIUM_CHANGED: u8 = 0x28;
pub const ASC_SAVING_NOT_SUPPORTED: u8 = 0x39;
pub const ASC_NO_MEDIUM: u8 = 0x3A;
pub const ASC_REMOVAL_PREVENTED: u8 = 0x53;

// Packet opcodes.
const TEST_UNIT_READY: u8 = 0x00;
const REQUEST_SENSE: u8 = 0x03;
const INQUIRY: u8 = 0x12;
const START_STOP_UNIT: u8 = 0x1B;
const PREVENT_ALLOW: u8 = 0x1E;
const READ_CAPACITY: u8 = 0x25;
const READ_10: u8 = 0x28;
const SEEK_10: u8 = 0x2B;
const READ_TOC: u8 = 0x43;
const GET_CONFIGURATION: u8 = 0x46;
const GET_EVENT_STATUS: u8 = 0x4A;
const READ_DISC_INFO: u8 = 0x51;
const MODE_SENSE_10: u8 = 0x5A;
const READ_12: u8 = 0xA8;

/// GET EVENT STATUS NOTIFICATION media event codes (MMC-3 table 90).
pub const EVENT_NEW_MEDIA: u8 = 2;
pub const EVENT_MEDIA_REMOVAL: u8 = 3;

/// A disc this large cannot be a CD (80 minutes of 2048-byte sectors): report DVD-ROM.
const CD_MAX_SECTORS: u64 = 80 * 60 * 75;

const PROFILE_CD_ROM: u16 = 0x0008;
const PROFILE_DVD_ROM: u16 = 0x0010;

fn be16(b: &[u8]) -> usize {
    u16::from_be_bytes([b[0], b[1]]) as usize
}

fn be32(b: &[u8]) -> u64 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64
}

/// Logical block to the MSF address of a data track starting at 00:02:00.
fn msf(lba: u64) -> [u8; 4] {
    let l = lba + 150;
    [
        0,
        (l / (75 * 60)).min(255) as u8,
        (l / 75 % 60) as u8,
        (l % 75) as u8,
    ]
}

fn addr(lba: u64, use_msf: bool) -> [u8; 4] {
    if use_msf {
        msf(lba)
    } else {
        (lba as u32).to_be_bytes()
    }
}

impl Device {
    /// ATA commands sent to the packet device.
    pub(super) fn atapi_ata_command(&mut self, cmd: u8, log: &UnimpLog) {
        match cmd {
            0xA1 => {
                let id = identify::atapi(self);
                self.start_reply(id.to_vec());
            }
            0xA0 => {
                // Byte count limit 0 is invalid and 0xFFFF odd; both mean "as much as
                // fits" here, so no chunk is ever empty.
                let bcl = (self.s.tf.hcyl as u16) << 8 | self.s.tf.lcyl as u16;
                self.s.atapi.byte_limit = match bcl {
                    0 | 0xFFFF => 0xFFFE,
                    n => n,
                };
                self.s.atapi.dma = self.s.tf.feature & 0x01 != 0;
                self.s.buf = vec![0; 12];
                self.s.pos = 0;
                self.s.phase = Phase::Packet;
                self.s.tf.nsector = IREASON_COD;
                // DRQ within 50 us (IDENTIFY PACKET word 0 bits 6:5): no interrupt before
                // the packet.
                self.s.status = DRDY | DSC | DRQ;
                self.s.error = 0;
            }
            0x08 => {
                // DEVICE RESET: signature, no interrupt (section 8.7).
                self.after_reset();
            }
            // IDENTIFY DEVICE and READ SECTORS abort with the signature so the host learns
            // it talks to a packet device (section 8.15, 8.27).
            0xEC | 0x20 | 0x21 => {
                self.set_signature();
                self.abort();
            }
            0xEF => self.set_features(log),
            0xE0..=0xE3 | 0xE5 | 0xE6 | 0x94..=0x99 => self.power_command(cmd),
            0x00 => self.abort(),
            _ => {
                log.report("ide", format_args!("ATA command 0x{cmd:02X} on ATAPI"));
                self.set_signature();
                self.abort();
            }
        }
    }

    /// IDENTIFY PACKET DEVICE: a PIO data-in block like IDENTIFY DEVICE.
    fn start_reply(&mut self, data: Vec<u8>) {
        self.s.buf = data;
        self.s.pos = 0;
        self.s.phase = Phase::ReplyIn;
        self.s.status = DRDY | DSC | DRQ;
        self.s.error = 0;
        self.raise_irq();
    }

    pub(super) fn atapi_ok(&mut self) {
        self.abort_transfer();
        self.s.status = DRDY | DSC;
        self.s.error = 0;
        self.s.tf.nsector = IREASON_IO | IREASON_COD;
        self.raise_irq();
    }

    pub(super) fn atapi_error(&mut self, key: u8, asc: u8, ascq: u8) {
        self.abort_transfer();
        self.s.atapi.sense = Sense { key, asc, ascq };
        self.s.status = DRDY | ERR;
        self.s.error = key << 4 | if key == ILLEGAL_REQUEST { ABRT } else { 0 };
        self.s.tf.nsector = IREASON_IO | IREASON_COD;
        self.raise_irq();
    }

    /// Sends `data` (cut to the allocation length) to the host.
    fn reply(&mut self, mut data: Vec<u8>, alloc: usize) {
        data.truncate(alloc);
        self.s.stream = Stream::reply(data);
        self.start_data_in();
    }

    fn start_data_in(&mut self) {
        if self.s.stream.left() == 0 {
            self.atapi_ok();
        } else if self.s.atapi.dma {
            self.s.phase = Phase::Dma { to_medium: false };
            self.s.status = DRDY | DSC | DRQ;
            self.s.tf.nsector = IREASON_IO;
        } else {
            self.atapi_next_chunk();
        }
    }

    /// The next PIO DRQ chunk: at most the byte count limit (even when the transfer goes
    /// on), its size in LBA Mid/High; or the completion when nothing is left.
    pub(super) fn atapi_next_chunk(&mut self) {
        let left = self.s.stream.left();
        if left == 0 {
            self.atapi_ok();
            return;
        }
        let limit = self.s.atapi.byte_limit as u64;
        let n = if left > limit {
            (limit & !1).max(2)
        } else {
            left
        };
        let mut data = Vec::with_capacity(n as usize);
        if self
            .s
            .stream
            .pull(&mut self.image, n as usize, &mut data)
            .is_err()
        {
            self.atapi_error(MEDIUM_ERROR, 0x11, 0);
            return;
        }
        self.s.tf.lcyl = n as u8;
        self.s.tf.hcyl = (n >> 8) as u8;
        self.s.tf.nsector = IREASON_IO;
        self.s.buf = data;
        self.s.pos = 0;
        self.s.phase = Phase::AtapiIn;
        self.s.status = DRDY | DSC | DRQ;
        self.raise_irq();
    }

    /// The host has written the 12-byte packet.
    pub(super) fn exec_packet(&mut self, log: &UnimpLog) {
        let mut cdb = [0u8; 12];
        let n = self.s.buf.len().min(12);
        cdb[..n].copy_from_slice(&self.s.buf[..n]);
        self.s.buf.clear();
        let op = cdb[0];

        // Sense data lives until the next command (SPC-3 5.11); REQUEST SENSE reads it.
        if op != REQUEST_SENSE {
            self.s.atapi.sense = Sense::default();
        }
        let tolerates_ua = matches!(
            op,
            INQUIRY | REQUEST_SENSE | GET_CONFIGURATION | GET_EVENT_STATUS
        );
        if self.s.atapi.unit_attention && !tolerates_ua {
            self.s.atapi.unit_attention = false;
            self.atapi_error(UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
            return;
        }
        let needs_medium = matches!(
            op,
            TEST_UNIT_READY
                | READ_CAPACITY
                | READ_10
                | READ_12
                | READ_TOC
                | SEEK_10
                | READ_DISC_INFO
        );
        if needs_medium && !self.medium_present() {
            self.atapi_error(NOT_READY, ASC_NO_MEDIUM, 0);
            return;
        }
        let sectors = self.sectors();

        match op {
            TEST_UNIT_READY => self.atapi_ok(),
            REQUEST_SENSE => {
                let mut sense = self.s.atapi.sense;
                if sense.key == NO_SENSE {
                    // No stored sense: report the current condition (SPC-3 6.27).
                    if self.s.atapi.unit_attention {
                        self.s.atapi.unit_attention = false;
                        sense = Sense {
                            key: UNIT_ATTENTION,
                            asc: ASC_MEDIUM_CHANGED,
                            ascq: 0,
                        };
                    } else if !self.medium_present() {
                        sense = Sense {
                            key: NOT_READY,
                            asc: ASC_NO_MEDIUM,
                            ascq: 0,
                        };
                    }
                }
                self.s.atapi.sense = Sense::default();
                let mut b = vec![0u8; 18];
                b[0] = 0x70;
                b[2] = sense.key;
                b[7] = 10;
                b[12] = sense.asc;
                b[13] = sense.ascq;
                self.reply(b, cdb[4] as usize);
            }
            INQUIRY => {
                if cdb[1] & 0x01 != 0 {
                    // No vital product data pages.
                    self.atapi_error(ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
                    return;
                }
                let mut b = vec![0u8; 36];
                b[0] = 0x05; // CD/DVD device
                b[1] = 0x80; // removable
                b[2] = 0x05; // SPC-3
                b[3] = 0x02; // response data format
                b[4] = 31;
                b[8..16].copy_from_slice(b"RINGSIDE");
                b[16..32].copy_from_slice(b"DVD-ROM         ");
                b[32..36].copy_from_slice(b"1.0 ");
                self.reply(b, be16(&cdb[3..5]));
            }
            READ_CAPACITY => {
                let mut b = Vec::with_capacity(8);
                b.extend_from_slice(
                    &(sectors.saturating_sub(1).min(u32::MAX as u64) as u32).to_be_bytes(),
                );
                b.extend_from_slice(&CD_SECTOR_SIZE.to_be_bytes());
                self.reply(b, 8);
            }
            READ_10 | READ_12 => {
                let lba = be32(&cdb[2..6]);
                let count = if op == READ_10 {
                    be16(&cdb[7..9]) as u64
                } else {
                    be32(&cdb[6..10])
                };
                if lba.saturating_add(count) > sectors {
                    self.atapi_error(ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
                    return;
                }
                self.s.stream = Stream::medium(lba, count, CD_SECTOR_SIZE);
                self.start_data_in();
            }
            SEEK_10 => {
                if be32(&cdb[2..6]) >= sectors {
                    self.atapi_error(ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
                } else {
                    self.atapi_ok();
                }
            }
            READ_TOC => self.read_toc(&cdb, sectors, log),
            MODE_SENSE_10 => self.mode_sense(&cdb, log),
            START_STOP_UNIT => {
                let (loej, start) = (cdb[4] & 0x02 != 0, cdb[4] & 0x01 != 0);
                if loej && start {
                    if self.s.atapi.tray_open {
                        self.s.atapi.tray_open = false;
                        if self.image.is_some() {
                            self.s.atapi.unit_attention = true;
                            self.s.atapi.media_event = EVENT_NEW_MEDIA;
                        }
                    }
                } else if loej {
                    if self.s.atapi.locked {
                        self.atapi_error(NOT_READY, ASC_REMOVAL_PREVENTED, 0x02);
                        return;
                    }
                    if !self.s.atapi.tray_open {
                        self.s.atapi.tray_open = true;
                        self.s.atapi.media_event = EVENT_MEDIA_REMOVAL;
                    }
                }
                self.atapi_ok();
            }
            PREVENT_ALLOW => {
                self.s.atapi.locked = cdb[4] & 0x01 != 0;
                self.atapi_ok();
            }
            GET_CONFIGURATION => self.get_configuration(&cdb),
            GET_EVENT_STATUS => {
                if cdb[1] & 0x01 == 0 {
                    // Only polled operation is supported (MMC-3 6.1.5).
                    self.atapi_error(ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
                    return;
                }
                let b = if cdb[4] & 0x10 != 0 {
                    let code = std::mem::take(&mut self.s.atapi.media_event);
                    let present = if self.medium_present() { 0x02 } else { 0 };
                    let open = u8::from(self.s.atapi.tray_open);
                    vec![0, 6, 0x04, 0x10, code, present | open, 0, 0]
                } else {
                    // No event class requested that we support: NEA set.
                    vec![0, 2, 0x80, 0x10]
                };
                self.reply(b, be16(&cdb[7..9]));
            }
            READ_DISC_INFO => {
                if cdb[1] & 0x07 != 0 {
                    self.atapi_error(ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
                    return;
                }
                let mut b = vec![0u8; 34];
                b[1] = 32;
                b[2] = 0x0E; // last session complete, disc finalized
                b[3] = 1; // first track
                b[4] = 1; // sessions
                b[5] = 1; // first track of the last session
                b[6] = 1; // last track of the last session
                b[7] = 0x20; // unrestricted use
                self.reply(b, be16(&cdb[7..9]));
            }
            _ => {
                log.report("ide", format_args!("ATAPI command 0x{op:02X}"));
                self.atapi_error(ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
            }
        }
    }

    /// READ TOC/PMA/ATIP (MMC-3 6.26): one data track starting at LBA 0, one session.
    fn read_toc(&mut self, cdb: &[u8; 12], sectors: u64, log: &UnimpLog) {
        let use_msf = cdb[1] & 0x02 != 0;
        let mut format = cdb[2] & 0x0F;
        if format == 0 {
            // The format used to live in the control byte's vendor bits (SFF-8020).
            format = cdb[9] >> 6;
        }
        let start = cdb[6];
        let alloc = be16(&cdb[7..9]);
        let mut b = vec![0, 0, 1, 1];
        match format {
            0 => {
                if start > 1 && start != 0xAA {
                    self.atapi_error(ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
                    return;
                }
                if start <= 1 {
                    b.extend_from_slice(&[0, 0x14, 1, 0]);
                    b.extend_from_slice(&addr(0, use_msf));
                }
                b.extend_from_slice(&[0, 0x14, 0xAA, 0]);
                b.extend_from_slice(&addr(sectors, use_msf));
            }
            1 => {
                b.extend_from_slice(&[0, 0x14, 1, 0]);
                b.extend_from_slice(&addr(0, use_msf));
            }
            f => {
                log.report("ide", format_args!("READ TOC format {f}"));
                self.atapi_error(ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
                return;
            }
        }
        let len = (b.len() - 2) as u16;
        b[..2].copy_from_slice(&len.to_be_bytes());
        self.reply(b, alloc);
    }

    /// MODE SENSE(10) (SPC-3 6.10): the read error recovery page and the MMC capabilities
    /// page; no block descriptors.
    fn mode_sense(&mut self, cdb: &[u8; 12], log: &UnimpLog) {
        let pc = cdb[2] >> 6;
        let page = cdb[2] & 0x3F;
        if pc == 3 {
            self.atapi_error(ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED, 0);
            return;
        }
        let medium_type = if self.medium_present() { 0x01 } else { 0x70 };
        let mut b = vec![0, 0, medium_type, 0, 0, 0, 0, 0];
        let error_recovery = [0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0];
        let mut caps = [0u8; 20];
        caps[0] = 0x2A;
        caps[1] = 0x12;
        caps[2] = 0x0B; // reads CD-R, CD-RW, DVD-ROM
        caps[4] = 0x71; // audio play, mode 2 form 1 and 2, multi-session
                        // Lock, eject, tray loading mechanism; bit 1 is the current lock state.
        caps[6] = 0x29 | (u8::from(self.s.atapi.locked) << 1);
        caps[8..10].copy_from_slice(&706u16.to_be_bytes()); // 4x (KB/s)
        caps[10..12].copy_from_slice(&2u16.to_be_bytes()); // volume levels
        caps[12..14].copy_from_slice(&512u16.to_be_bytes()); // buffer (KB)
        caps[14..16].copy_from_slice(&706u16.to_be_bytes());
        match page {
            0x01 => b.extend_from_slice(&error_recovery),
            0x2A => b.extend_from_slice(&caps),
            0x3F => {
                b.extend_from_slice(&error_recovery);
                b.extend_from_slice(&caps);
            }
            p => {
                log.report("ide", format_args!("MODE SENSE page 0x{p:02X}"));
                self.atapi_error(ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
                return;
            }
        }
        let len = (b.len() - 2) as u16;
        b[..2].copy_from_slice(&len.to_be_bytes());
        self.reply(b, be16(&cdb[7..9]));
    }

    /// GET CONFIGURATION (MMC-3 5.2): profile list, core, removable medium and random
    /// readable features.
    fn get_configuration(&mut self, cdb: &[u8; 12]) {
        let rt = cdb[1] & 0x03;
        let first = be16(&cdb[2..4]) as u16;
        let present = self.medium_present();
        let profile = match (present, self.sectors() > CD_MAX_SECTORS) {
            (false, _) => 0,
            (true, true) => PROFILE_DVD_ROM,
            (true, false) => PROFILE_CD_ROM,
        };
        let dvd = profile == PROFILE_DVD_ROM;
        let features: [(u16, bool, Vec<u8>); 4] = [
            (
                0x0000,
                true,
                vec![
                    0x00,
                    0x10,
                    u8::from(profile == PROFILE_DVD_ROM),
                    0,
                    0x00,
                    0x08,
                    u8::from(profile == PROFILE_CD_ROM),
                    0,
                ],
            ),
            // Core: ATAPI physical interface, version 2 with the DBE bit.
            (0x0001, true, vec![0, 0, 0, 2, 0x01, 0, 0, 0]),
            (0x0003, true, vec![0x29, 0, 0, 0]),
            (
                0x0010,
                present,
                vec![0, 0, 0x08, 0x00, 0, if dvd { 16 } else { 1 }, 0, 0],
            ),
        ];
        let mut b = vec![0u8; 8];
        b[6..8].copy_from_slice(&profile.to_be_bytes());
        for (code, current, data) in features {
            let wanted = match rt {
                0 => code >= first,
                1 => code >= first && current,
                2 => code == first,
                _ => false,
            };
            if !wanted {
                continue;
            }
            let version = if code == 0x0001 { 2 << 2 } else { 0 };
            // Persistent bit for the features that do not depend on the medium.
            let persistent = if code == 0x0010 { 0 } else { 0x02 };
            let flags = version | persistent | u8::from(current);
            b.extend_from_slice(&code.to_be_bytes());
            b.push(flags);
            b.push(data.len() as u8);
            b.extend_from_slice(&data);
        }
        let len = (b.len() - 4) as u32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        self.reply(b, be16(&cdb[7..9]));
    }
}
