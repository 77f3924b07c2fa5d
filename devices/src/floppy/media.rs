//! Floppy media formats and drive types.
//!
//! A raw image carries no geometry, so the format is recognised from its size, as QEMU and
//! Bochs do. Only the standard IBM PC formats are accepted: 160K, 180K, 320K and 360K 5.25"
//! double density, 1.2M 5.25" high density, 720K, 1.44M and 2.88M 3.5". Every one has
//! 512-byte sectors (size code N = 2) recorded in MFM.
//!
//! Drive types are the CMOS register 0x10 nibbles (IBM AT BIOS convention, also what SeaBIOS
//! reads): 1 = 360K 5.25", 2 = 1.2M 5.25", 3 = 720K 3.5", 4 = 1.44M 3.5", 5 = 2.88M 3.5".
//!
//! Data rates are the 82077AA's DSR/CCR encoding (datasheet, "Data Rate Select"):
//! 0 = 500 kbit/s, 1 = 300 kbit/s, 2 = 250 kbit/s, 3 = 1 Mbit/s.

use std::io;

pub const RATE_500K: u8 = 0;
pub const RATE_300K: u8 = 1;
pub const RATE_250K: u8 = 2;
pub const RATE_1M: u8 = 3;

/// CMOS drive types.
pub const DRIVE_NONE: u8 = 0;
pub const DRIVE_360K: u8 = 1;
pub const DRIVE_1200K: u8 = 2;
pub const DRIVE_720K: u8 = 3;
pub const DRIVE_1440K: u8 = 4;
pub const DRIVE_2880K: u8 = 5;

pub const SECTOR_SIZE: usize = 512;
/// Sector size code of every supported format (128 << 2 = 512).
pub const SECTOR_SIZE_CODE: u8 = 2;

/// One recorded format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaFormat {
    pub name: &'static str,
    pub cylinders: u8,
    pub heads: u8,
    pub sectors: u8,
    /// The drive type this medium is native to.
    pub drive_type: u8,
    /// The data rate the medium is recorded at.
    pub rate: u8,
    /// 5.25" double-density media spin at 300 rpm in a 360K drive (read at 250 kbit/s) and at
    /// 360 rpm in a 1.2M drive (300 kbit/s). The model has no rotation speed, so it accepts
    /// both; that is also what lets SeaBIOS (which tries 300 kbit/s first for a type 1 drive)
    /// and Linux (250 kbit/s) both find the medium on their first attempt.
    pub alt_rate: Option<u8>,
}

impl MediaFormat {
    pub fn size(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors as u64 * SECTOR_SIZE as u64
    }

    pub fn accepts_rate(&self, rate: u8) -> bool {
        rate == self.rate || self.alt_rate == Some(rate)
    }

    /// Byte offset of sector `r` (1-based) on `cyl`/`head`, if the medium has it.
    pub fn offset(&self, cyl: u8, head: u8, r: u8) -> Option<u64> {
        if cyl >= self.cylinders || head >= self.heads || r == 0 || r > self.sectors {
            return None;
        }
        let lba =
            (cyl as u64 * self.heads as u64 + head as u64) * self.sectors as u64 + (r as u64 - 1);
        Some(lba * SECTOR_SIZE as u64)
    }
}

const fn dd525(name: &'static str, heads: u8, sectors: u8) -> MediaFormat {
    MediaFormat {
        name,
        cylinders: 40,
        heads,
        sectors,
        drive_type: DRIVE_360K,
        rate: RATE_250K,
        alt_rate: Some(RATE_300K),
    }
}

pub const FORMATS: [MediaFormat; 8] = [
    dd525("160K", 1, 8),
    dd525("180K", 1, 9),
    dd525("320K", 2, 8),
    dd525("360K", 2, 9),
    MediaFormat {
        name: "1.2M",
        cylinders: 80,
        heads: 2,
        sectors: 15,
        drive_type: DRIVE_1200K,
        rate: RATE_500K,
        alt_rate: None,
    },
    MediaFormat {
        name: "720K",
        cylinders: 80,
        heads: 2,
        sectors: 9,
        drive_type: DRIVE_720K,
        rate: RATE_250K,
        alt_rate: None,
    },
    MediaFormat {
        name: "1.44M",
        cylinders: 80,
        heads: 2,
        sectors: 18,
        drive_type: DRIVE_1440K,
        rate: RATE_500K,
        alt_rate: None,
    },
    MediaFormat {
        name: "2.88M",
        cylinders: 80,
        heads: 2,
        sectors: 36,
        drive_type: DRIVE_2880K,
        rate: RATE_1M,
        alt_rate: None,
    },
];

/// The format of an image of `size` bytes.
pub fn format_for_size(size: u64) -> io::Result<&'static MediaFormat> {
    FORMATS.iter().find(|f| f.size() == size).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a floppy image must be exactly 160K, 180K, 320K, 360K, 720K, 1.2M, 1.44M \
                 or 2.88M (this one is {size} bytes)"
            ),
        )
    })
}

/// Whether a drive of type `drive` can read `media` (a 1.44M drive reads 720K disks, a 1.2M
/// drive reads 360K disks, a 2.88M drive reads every 3.5" format).
pub fn drive_accepts(drive: u8, media: &MediaFormat) -> bool {
    match drive {
        DRIVE_360K => media.drive_type == DRIVE_360K,
        DRIVE_1200K => matches!(media.drive_type, DRIVE_360K | DRIVE_1200K),
        DRIVE_720K => media.drive_type == DRIVE_720K,
        DRIVE_1440K => matches!(media.drive_type, DRIVE_720K | DRIVE_1440K),
        DRIVE_2880K => matches!(media.drive_type, DRIVE_720K | DRIVE_1440K | DRIVE_2880K),
        _ => false,
    }
}

pub fn drive_type_name(drive: u8) -> &'static str {
    match drive {
        DRIVE_360K => "360K 5.25\"",
        DRIVE_1200K => "1.2M 5.25\"",
        DRIVE_720K => "720K 3.5\"",
        DRIVE_1440K => "1.44M 3.5\"",
        DRIVE_2880K => "2.88M 3.5\"",
        _ => "no",
    }
}
