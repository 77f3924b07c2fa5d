//! IDENTIFY DEVICE and IDENTIFY PACKET DEVICE data (ATA/ATAPI-6 sections 8.15 and 8.16),
//! with the words SeaBIOS (geometry, LBA48 count, word 93) and Linux libata (capabilities,
//! transfer modes, command sets) read.

use super::ata::{Device, MAX_MULT_SECTORS};

/// ATA string: two characters per word, the first in the high byte, space padded.
fn put_string(words: &mut [u16; 256], first: usize, len_words: usize, s: &str) {
    let bytes = s.as_bytes();
    for i in 0..len_words {
        let c = |k: usize| bytes.get(k).copied().unwrap_or(b' ') as u16;
        words[first + i] = c(2 * i) << 8 | c(2 * i + 1);
    }
}

fn to_bytes(words: &[u16; 256]) -> [u8; 512] {
    let mut out = [0u8; 512];
    for (i, w) in words.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Word 255: signature 0xA5 and a checksum making all 512 bytes sum to zero.
fn checksum(words: &mut [u16; 256]) {
    words[255] = 0x00A5;
    let sum = to_bytes(words).iter().fold(0u8, |a, &b| a.wrapping_add(b));
    words[255] |= (sum.wrapping_neg() as u16) << 8;
}

/// Selected-mode bits for words 62/63/88: the SET FEATURES transfer mode when it names
/// that kind (`class` = value >> 3).
fn selected(xfer_mode: u8, class: u8) -> u16 {
    if xfer_mode >> 3 == class {
        1 << (8 + (xfer_mode & 7))
    } else {
        0
    }
}

fn common(words: &mut [u16; 256], dev: &Device, model: &str) {
    put_string(words, 10, 10, &format!("RS{:08}", dev.index + 1));
    put_string(words, 23, 4, "1.0");
    put_string(words, 27, 20, model);
    words[48] = 1; // 32-bit PIO (PIIX data port)
    words[53] = 0x0007; // words 54-58, 64-70 and 88 valid
    words[62] = 0x0007 | selected(dev.s.xfer_mode, 2);
    words[63] = 0x0007 | selected(dev.s.xfer_mode, 4);
    words[64] = 0x0003; // PIO 3 and 4
    words[65] = 120;
    words[66] = 120;
    words[67] = 120;
    words[68] = 120;
    words[88] = 0x003F | selected(dev.s.xfer_mode, 8);
}

pub(crate) fn ata(dev: &Device) -> [u8; 512] {
    let mut w = [0u16; 256];
    let sectors = dev.sectors();
    let (cyl, heads, spt) = super::ata::default_geometry(sectors);
    w[0] = 0x0040; // fixed, non-removable ATA device
    w[1] = cyl;
    w[3] = heads as u16;
    w[4] = 512 * spt as u16;
    w[5] = 512;
    w[6] = spt as u16;
    w[20] = 3;
    w[21] = 512;
    w[22] = 4;
    common(&mut w, dev, "RINGSIDE HARDDISK");
    w[47] = 0x8000 | MAX_MULT_SECTORS as u16;
    // IORDY, LBA, DMA.
    w[49] = 1 << 11 | 1 << 9 | 1 << 8;
    w[51] = 0x200;
    w[52] = 0x200;
    let (ccyl, cheads, cspt) = (dev.s.cylinders, dev.s.heads, dev.s.spt);
    w[54] = ccyl;
    w[55] = cheads as u16;
    w[56] = cspt as u16;
    let chs_cap = ccyl as u32 * cheads as u32 * cspt as u32;
    w[57] = chs_cap as u16;
    w[58] = (chs_cap >> 16) as u16;
    if dev.s.mult_sectors != 0 {
        w[59] = 0x100 | dev.s.mult_sectors as u16;
    }
    let lba28 = sectors.min(0x0FFF_FFFF) as u32;
    w[60] = lba28 as u16;
    w[61] = (lba28 >> 16) as u16;
    w[80] = 0x00F0; // ATA-4 to ATA-7
    w[81] = 0x0016;
    w[82] = 1 << 14 | 1 << 5; // NOP, write cache
                              // Words 83/86: FLUSH CACHE EXT, FLUSH CACHE, 48-bit address.
    w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10;
    w[84] = 1 << 14;
    w[85] = 1 << 14 | u16::from(dev.s.write_cache) << 5;
    w[86] = 1 << 13 | 1 << 12 | 1 << 10;
    w[87] = 1 << 14;
    // Device 0 passed diagnostics by jumper (bit 0), bit 14 must be one; 80-wire cable.
    w[93] = 1 | 1 << 14 | 1 << 13;
    for i in 0..4 {
        w[100 + i] = (sectors >> (16 * i)) as u16;
    }
    checksum(&mut w);
    to_bytes(&w)
}

pub(crate) fn atapi(dev: &Device) -> [u8; 512] {
    let mut w = [0u16; 256];
    // ATAPI, CD/DVD device, removable, DRQ within 50 us, 12-byte packets.
    w[0] = 2 << 14 | 5 << 8 | 1 << 7 | 2 << 5;
    common(&mut w, dev, "RINGSIDE DVD-ROM");
    w[49] = 1 << 9 | 1 << 8; // LBA, DMA
    w[71] = 30;
    w[72] = 30;
    w[80] = 0x001E; // ATA/ATAPI-1 to -4
    w[82] = 1 << 14 | 1 << 4; // NOP, PACKET
    w[83] = 1 << 14;
    w[84] = 1 << 14;
    w[85] = 1 << 14 | 1 << 4;
    w[87] = 1 << 14;
    checksum(&mut w);
    to_bytes(&w)
}
