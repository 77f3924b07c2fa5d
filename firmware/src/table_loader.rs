//! QEMU's fw_cfg "linker/loader" (`etc/table-loader`): how a BIOS is told to place ACPI
//! tables it did not build.
//!
//! The blob is a sequence of 128-byte little-endian commands (QEMU
//! `hw/acpi/bios-linker-loader.c`, executed by SeaBIOS `src/fw/romfile_loader.c`): a `u32`
//! command, then a union padded to 124 bytes. File names are fw_cfg file names in 56-byte
//! NUL-padded fields (SeaBIOS rejects a name without a NUL in its last byte).
//!
//! | command            | layout after the command word                                    |
//! |--------------------|------------------------------------------------------------------|
//! | 1 `ALLOCATE`       | `file[56]`, `align: u32`, `zone: u8` (1 high memory, 2 F segment) |
//! | 2 `ADD_POINTER`    | `dest_file[56]`, `src_file[56]`, `offset: u32`, `size: u8`        |
//! | 3 `ADD_CHECKSUM`   | `file[56]`, `offset: u32`, `start: u32`, `length: u32`            |
//! | 4 `WRITE_POINTER`  | not used here (it writes an address back to QEMU through DMA)    |
//!
//! `ALLOCATE` copies the file into memory of the zone at the alignment (a power of two;
//! SeaBIOS raises it to at least 16) and must come before any command naming the file.
//! `ADD_POINTER` adds the address `src_file` was placed at to the `size`-byte (1, 2, 4 or
//! 8) little-endian value at `offset` in `dest_file`, so pointers are stored as offsets into
//! the pointee file. `ADD_CHECKSUM` subtracts the byte sum of `start..start + length` from
//! the byte at `offset`, making the range sum to zero whatever that byte held; it must
//! therefore follow every pointer patched inside the range. Unknown commands are skipped.
//!
//! [`acpi_fw_cfg_files`] returns the three fw_cfg files for Ringside's own tables
//! ([`crate::acpi::build_relocatable`]), commanded as QEMU orders them: allocate the tables
//! (high memory, 64-byte aligned for the FACS) and the RSDP (F segment, 16-byte aligned),
//! then for each table its pointers and its checksum, the RSDP last. With them SeaBIOS's
//! `qemu_platform_setup` finds an RSDP after running the loader and skips its own
//! `acpi_setup`.

use crate::acpi::{build_relocatable, AcpiConfig, Blob, Fixup, RSDP_ALIGN, TABLES_ALIGN};

/// The fw_cfg file holding the commands.
pub const TABLE_LOADER_FILE: &str = "etc/table-loader";
/// The fw_cfg file holding the tables the RSDT points at (QEMU's `ACPI_BUILD_TABLE_FILE`).
pub const ACPI_TABLES_FILE: &str = "etc/acpi/tables";
/// The fw_cfg file holding the RSDP (QEMU's `ACPI_BUILD_RSDP_FILE`).
pub const ACPI_RSDP_FILE: &str = "etc/acpi/rsdp";

/// Bytes in one command.
pub const COMMAND_SIZE: usize = 128;
/// Bytes in a file name field, NUL included.
pub const FILE_NAME_SIZE: usize = 56;

pub const COMMAND_ALLOCATE: u32 = 1;
pub const COMMAND_ADD_POINTER: u32 = 2;
pub const COMMAND_ADD_CHECKSUM: u32 = 3;
pub const COMMAND_WRITE_POINTER: u32 = 4;

/// Where `ALLOCATE` places a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// High memory below 4 GiB (SeaBIOS's `ZoneHigh`, reserved in its e820 map).
    High = 1,
    /// The F segment (0xF0000-0xFFFFF), where OSPM scans for the RSDP.
    FSeg = 2,
}

/// One loader command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Allocate {
        file: String,
        align: u32,
        zone: Zone,
    },
    AddPointer {
        dest_file: String,
        src_file: String,
        offset: u32,
        size: u8,
    },
    AddChecksum {
        file: String,
        offset: u32,
        start: u32,
        length: u32,
    },
}

/// Why a blob is not a valid command sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The blob is not a whole number of commands (SeaBIOS then runs none).
    Length(usize),
    /// Command at this index has a name with no terminating NUL, or not UTF-8.
    FileName(usize),
    /// Command at this index has a zone other than 1 or 2.
    Zone(usize),
}

impl Command {
    /// The command's 128 bytes.
    pub fn encode(&self) -> [u8; COMMAND_SIZE] {
        let mut c = [0u8; COMMAND_SIZE];
        let mut put = |at: usize, bytes: &[u8]| c[at..at + bytes.len()].copy_from_slice(bytes);
        match self {
            Command::Allocate { file, align, zone } => {
                put(0, &COMMAND_ALLOCATE.to_le_bytes());
                put(4, &name_field(file));
                put(60, &align.to_le_bytes());
                put(64, &[*zone as u8]);
            }
            Command::AddPointer {
                dest_file,
                src_file,
                offset,
                size,
            } => {
                put(0, &COMMAND_ADD_POINTER.to_le_bytes());
                put(4, &name_field(dest_file));
                put(60, &name_field(src_file));
                put(116, &offset.to_le_bytes());
                put(120, &[*size]);
            }
            Command::AddChecksum {
                file,
                offset,
                start,
                length,
            } => {
                put(0, &COMMAND_ADD_CHECKSUM.to_le_bytes());
                put(4, &name_field(file));
                put(60, &offset.to_le_bytes());
                put(64, &start.to_le_bytes());
                put(68, &length.to_le_bytes());
            }
        }
        c
    }
}

/// A file name as a 56-byte NUL-padded field.
fn name_field(name: &str) -> [u8; FILE_NAME_SIZE] {
    assert!(
        !name.is_empty() && name.len() < FILE_NAME_SIZE && !name.contains('\0'),
        "bad loader file name {name:?}"
    );
    let mut f = [0u8; FILE_NAME_SIZE];
    f[..name.len()].copy_from_slice(name.as_bytes());
    f
}

fn u32_at(c: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([c[at], c[at + 1], c[at + 2], c[at + 3]])
}

/// The commands of a loader blob, skipping unknown ones (`WRITE_POINTER` included) as
/// SeaBIOS does. Validates what SeaBIOS would reject wholesale or per command; the
/// semantic checks (alignment a power of two, files allocated before use, ranges inside
/// files) belong to whoever executes the commands.
pub fn decode(blob: &[u8]) -> Result<Vec<Command>, DecodeError> {
    if !blob.len().is_multiple_of(COMMAND_SIZE) {
        return Err(DecodeError::Length(blob.len()));
    }
    let mut cmds = Vec::new();
    for (i, c) in blob.chunks_exact(COMMAND_SIZE).enumerate() {
        let name = |at: usize| {
            let f = &c[at..at + FILE_NAME_SIZE];
            let len = f
                .iter()
                .position(|&b| b == 0)
                .ok_or(DecodeError::FileName(i))?;
            String::from_utf8(f[..len].to_vec()).map_err(|_| DecodeError::FileName(i))
        };
        cmds.push(match u32_at(c, 0) {
            COMMAND_ALLOCATE => Command::Allocate {
                file: name(4)?,
                align: u32_at(c, 60),
                zone: match c[64] {
                    1 => Zone::High,
                    2 => Zone::FSeg,
                    _ => return Err(DecodeError::Zone(i)),
                },
            },
            COMMAND_ADD_POINTER => Command::AddPointer {
                dest_file: name(4)?,
                src_file: name(60)?,
                offset: u32_at(c, 116),
                size: c[120],
            },
            COMMAND_ADD_CHECKSUM => Command::AddChecksum {
                file: name(4)?,
                offset: u32_at(c, 60),
                start: u32_at(c, 64),
                length: u32_at(c, 68),
            },
            _ => continue,
        });
    }
    Ok(cmds)
}

/// The blob for `cmds`.
pub fn encode(cmds: &[Command]) -> Vec<u8> {
    cmds.iter().flat_map(|c| c.encode()).collect()
}

fn file_of(blob: Blob) -> &'static str {
    match blob {
        Blob::Tables => ACPI_TABLES_FILE,
        Blob::Rsdp => ACPI_RSDP_FILE,
    }
}

/// The loader commands that place Ringside's relocatable tables.
pub fn acpi_commands(fixups: &[Fixup]) -> Vec<Command> {
    let mut cmds = vec![
        Command::Allocate {
            file: ACPI_TABLES_FILE.into(),
            align: TABLES_ALIGN,
            zone: Zone::High,
        },
        Command::Allocate {
            file: ACPI_RSDP_FILE.into(),
            align: RSDP_ALIGN,
            zone: Zone::FSeg,
        },
    ];
    cmds.extend(fixups.iter().map(|f| match *f {
        Fixup::Pointer {
            blob,
            offset,
            size,
            target,
        } => Command::AddPointer {
            dest_file: file_of(blob).into(),
            src_file: file_of(target).into(),
            offset,
            size,
        },
        Fixup::Checksum {
            blob,
            start,
            len,
            at,
        } => Command::AddChecksum {
            file: file_of(blob).into(),
            offset: at,
            start,
            length: len,
        },
    }));
    cmds
}

/// The fw_cfg files (name, contents) that hand Ringside's ACPI tables for `cfg` to SeaBIOS:
/// `etc/acpi/rsdp`, `etc/acpi/tables` and `etc/table-loader`. Use
/// [`AcpiConfig::seabios`] so the FADT's PM block is where SeaBIOS puts it (0x600 once
/// it sees `etc/table-loader`) and the PCI window starts at the end of low RAM.
pub fn acpi_fw_cfg_files(cfg: &AcpiConfig) -> Vec<(String, Vec<u8>)> {
    let r = build_relocatable(cfg);
    vec![
        (ACPI_RSDP_FILE.to_string(), r.rsdp),
        (ACPI_TABLES_FILE.to_string(), r.tables),
        (
            TABLE_LOADER_FILE.to_string(),
            encode(&acpi_commands(&r.fixups)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acpi::{fadt, HEADER_LEN, RSDP_LEN};
    use std::collections::HashMap;

    fn rd32(d: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
    }
    fn rd64(d: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
    }
    fn sum(d: &[u8]) -> u8 {
        d.iter().fold(0u8, |a, &b| a.wrapping_add(b))
    }

    #[test]
    fn command_layout() {
        let a = Command::Allocate {
            file: "etc/acpi/tables".into(),
            align: 64,
            zone: Zone::High,
        }
        .encode();
        assert_eq!(rd32(&a, 0), 1);
        assert_eq!(&a[4..19], b"etc/acpi/tables");
        assert!(a[19..60].iter().all(|&b| b == 0));
        assert_eq!(rd32(&a, 60), 64);
        assert_eq!(a[64], 1);
        assert!(a[65..].iter().all(|&b| b == 0));

        let p = Command::AddPointer {
            dest_file: "etc/acpi/rsdp".into(),
            src_file: "etc/acpi/tables".into(),
            offset: 16,
            size: 4,
        }
        .encode();
        assert_eq!(rd32(&p, 0), 2);
        assert_eq!(&p[4..17], b"etc/acpi/rsdp");
        assert_eq!(&p[60..75], b"etc/acpi/tables");
        assert_eq!(rd32(&p, 116), 16);
        assert_eq!(p[120], 4);
        assert!(p[121..].iter().all(|&b| b == 0));

        let c = Command::AddChecksum {
            file: "etc/acpi/rsdp".into(),
            offset: 8,
            start: 0,
            length: 20,
        }
        .encode();
        assert_eq!(rd32(&c, 0), 3);
        assert_eq!((rd32(&c, 60), rd32(&c, 64), rd32(&c, 68)), (8, 0, 20));
        assert!(c[72..].iter().all(|&b| b == 0));
    }

    #[test]
    fn decode_round_trip_and_errors() {
        let r = build_relocatable(&AcpiConfig::seabios(128 << 20));
        let cmds = acpi_commands(&r.fixups);
        let blob = encode(&cmds);
        assert_eq!(blob.len(), cmds.len() * COMMAND_SIZE);
        assert_eq!(decode(&blob), Ok(cmds.clone()));
        // Unknown commands (WRITE_POINTER here) are skipped, as SeaBIOS skips them.
        let mut with_unknown = blob.clone();
        let mut wp = [0u8; COMMAND_SIZE];
        wp[0] = COMMAND_WRITE_POINTER as u8;
        with_unknown.splice(COMMAND_SIZE..COMMAND_SIZE, wp);
        assert_eq!(decode(&with_unknown), Ok(cmds));
        assert_eq!(
            decode(&blob[..blob.len() - 1]),
            Err(DecodeError::Length(blob.len() - 1))
        );
        let mut no_nul = blob.clone();
        no_nul[4..60].fill(b'a');
        assert_eq!(decode(&no_nul), Err(DecodeError::FileName(0)));
        let mut bad_zone = blob;
        bad_zone[64] = 3;
        assert_eq!(decode(&bad_zone), Err(DecodeError::Zone(0)));
    }

    /// A BIOS running the loader, as SeaBIOS's `romfile_loader_execute` does, but strict:
    /// anything SeaBIOS would warn about fails the test.
    struct Loader {
        /// fw_cfg files by name.
        files: HashMap<String, Vec<u8>>,
        /// Placed files: name -> (address, bytes in memory).
        placed: HashMap<String, (u64, Vec<u8>)>,
        next_high: u64,
        next_fseg: u64,
    }

    impl Loader {
        fn new(files: &[(String, Vec<u8>)], high: u64, fseg: u64) -> Self {
            Loader {
                files: files.iter().cloned().collect(),
                placed: HashMap::new(),
                next_high: high,
                next_fseg: fseg,
            }
        }

        fn run(&mut self) {
            let cmds = decode(&self.files[TABLE_LOADER_FILE]).expect("loader blob decodes");
            for c in cmds {
                match c {
                    Command::Allocate { file, align, zone } => {
                        assert!(align.is_power_of_two(), "{file}: align {align}");
                        assert!(!self.placed.contains_key(&file), "{file} allocated twice");
                        let data = self.files[&file].clone();
                        assert!(!data.is_empty());
                        // SeaBIOS allocates at least 16-byte aligned.
                        let align = align.max(16) as u64;
                        let next = match zone {
                            Zone::High => &mut self.next_high,
                            Zone::FSeg => &mut self.next_fseg,
                        };
                        let addr = next.next_multiple_of(align);
                        *next = addr + data.len() as u64 + 3; // keep the next one unaligned
                        if zone == Zone::FSeg {
                            assert!((0xF_0000..=0xF_FFFF).contains(&addr));
                            assert!(addr + data.len() as u64 <= 0x10_0000);
                        }
                        self.placed.insert(file, (addr, data));
                    }
                    Command::AddPointer {
                        dest_file,
                        src_file,
                        offset,
                        size,
                    } => {
                        let src = self.placed.get(&src_file).expect("src allocated").0;
                        let dest = &mut self.placed.get_mut(&dest_file).expect("dest allocated").1;
                        assert!(matches!(size, 1 | 2 | 4 | 8));
                        let (o, n) = (offset as usize, size as usize);
                        assert!(o + n <= dest.len(), "pointer outside {dest_file}");
                        let mut v = [0u8; 8];
                        v[..n].copy_from_slice(&dest[o..o + n]);
                        let p = u64::from_le_bytes(v).wrapping_add(src);
                        dest[o..o + n].copy_from_slice(&p.to_le_bytes()[..n]);
                    }
                    Command::AddChecksum {
                        file,
                        offset,
                        start,
                        length,
                    } => {
                        let d = &mut self.placed.get_mut(&file).expect("allocated").1;
                        let (o, s, l) = (offset as usize, start as usize, length as usize);
                        assert!(o < d.len() && s + l <= d.len());
                        d[o] = d[o].wrapping_sub(sum(&d[s..s + l]));
                    }
                }
            }
        }

        /// `len` bytes of guest memory at `addr`, from whichever placed file holds them.
        fn mem(&self, addr: u64, len: usize) -> &[u8] {
            for (a, d) in self.placed.values() {
                if addr >= *a && addr + len as u64 <= a + d.len() as u64 {
                    let o = (addr - a) as usize;
                    return &d[o..o + len];
                }
            }
            panic!("{addr:#x}+{len} is in no placed file")
        }

        /// The SDT at `addr`, by its length field.
        fn table(&self, addr: u64) -> &[u8] {
            let len = rd32(self.mem(addr, 8), 4) as usize;
            self.mem(addr, len)
        }
    }

    /// Runs the loader with the tables placed at (about) `high` and the RSDP in the F
    /// segment at (about) `fseg`, then walks the tables as an OS would.
    fn load_and_check(cfg: &AcpiConfig, high: u64, fseg: u64) -> Loader {
        let files = acpi_fw_cfg_files(cfg);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [ACPI_RSDP_FILE, ACPI_TABLES_FILE, TABLE_LOADER_FILE]);
        let mut l = Loader::new(&files, high, fseg);
        l.run();
        assert_eq!(l.placed.len(), 2, "both ACPI files placed");

        let (tables_at, tables) = &l.placed[ACPI_TABLES_FILE];
        assert_eq!(tables_at % 64, 0);
        assert!(*tables_at + tables.len() as u64 <= 1 << 32);

        // The RSDP as OSPM finds it: 16-byte aligned in the F segment, signature, checksum.
        let (rsdp_at, rsdp) = &l.placed[ACPI_RSDP_FILE];
        assert_eq!(rsdp_at % 16, 0);
        assert_eq!(rsdp.len(), RSDP_LEN);
        assert_eq!(&rsdp[..8], b"RSD PTR ");
        assert_eq!(sum(rsdp), 0, "RSDP checksum");
        assert_eq!(&rsdp[9..15], b"RINGSD");

        // RSDT -> FADT, MADT; FADT -> FACS, DSDT.
        let rsdt_at = rd32(rsdp, 16) as u64;
        assert!(rsdt_at >= *tables_at, "RSDT pointer relocated");
        let rsdt = l.table(rsdt_at);
        assert_eq!(&rsdt[..4], b"RSDT");
        assert_eq!(sum(rsdt), 0, "RSDT checksum");
        let entries: Vec<u64> = (HEADER_LEN..rsdt.len())
            .step_by(4)
            .map(|o| rd32(rsdt, o) as u64)
            .collect();
        let sigs: Vec<&[u8]> = entries.iter().map(|&a| &l.table(a)[..4]).collect();
        let expected: &[&[u8]] = if cfg.madt {
            &[b"FACP", b"APIC"]
        } else {
            &[b"FACP"]
        };
        assert_eq!(sigs, expected);
        for &a in &entries {
            let t = l.table(a);
            assert_eq!(sum(t), 0, "{} checksum", String::from_utf8_lossy(&t[..4]));
            assert_eq!(&t[10..16], b"RINGSD");
        }
        let f = l.table(entries[0]);
        let facs_at = rd32(f, fadt::FIRMWARE_CTRL) as u64;
        assert_eq!(facs_at % 64, 0, "FACS 64-byte aligned");
        let facs = l.mem(facs_at, 64);
        assert_eq!(&facs[..4], b"FACS");
        assert_eq!(rd32(facs, 4), 64);
        let dsdt_at = rd32(f, fadt::DSDT) as u64;
        assert_eq!(rd64(f, fadt::X_DSDT), dsdt_at, "X_DSDT relocated like DSDT");
        let dsdt = l.table(dsdt_at);
        assert_eq!(&dsdt[..4], b"DSDT");
        assert_eq!(sum(dsdt), 0, "DSDT checksum");
        assert_eq!(&dsdt[HEADER_LEN..], &crate::acpi::dsdt_aml_pc(cfg)[..]);
        // The PM block is where the caller said SeaBIOS programs it.
        let pm = cfg.pm_base as u32;
        assert_eq!(rd32(f, fadt::PM1A_EVT_BLK), pm);
        assert_eq!(rd32(f, fadt::PM1A_CNT_BLK), pm + 4);
        assert_eq!(rd32(f, fadt::PM_TMR_BLK), pm + 8);
        l
    }

    #[test]
    fn seabios_places_valid_tables() {
        let cfg = AcpiConfig::seabios(128 << 20);
        let a = load_and_check(&cfg, 0x07FD_F000, 0xF_5A34);
        // Placed elsewhere, the same files still give valid tables, at other addresses:
        // nothing depends on where the firmware puts them.
        let b = load_and_check(&cfg, 0x3FF0_0007, 0xE_FFF9 + 0x10);
        assert_ne!(a.placed[ACPI_TABLES_FILE].0, b.placed[ACPI_TABLES_FILE].0);
        assert_ne!(a.placed[ACPI_RSDP_FILE].1, b.placed[ACPI_RSDP_FILE].1);
    }

    #[test]
    fn seabios_without_madt() {
        let cfg = AcpiConfig {
            madt: false,
            ..AcpiConfig::seabios(128 << 20)
        };
        load_and_check(&cfg, 0x0100_0000, 0xF_0000);
    }

    #[test]
    fn allocations_come_first_and_checksums_follow_pointers() {
        let files = acpi_fw_cfg_files(&AcpiConfig::seabios(128 << 20));
        let cmds = decode(&files[2].1).unwrap();
        assert_eq!(
            cmds[..2],
            [
                Command::Allocate {
                    file: ACPI_TABLES_FILE.into(),
                    align: 64,
                    zone: Zone::High
                },
                Command::Allocate {
                    file: ACPI_RSDP_FILE.into(),
                    align: 16,
                    zone: Zone::FSeg
                }
            ]
        );
        assert!(cmds[2..]
            .iter()
            .all(|c| !matches!(c, Command::Allocate { .. })));
        // No pointer is patched inside a range already checksummed.
        for (i, c) in cmds.iter().enumerate() {
            if let Command::AddChecksum {
                file,
                start,
                length,
                ..
            } = c
            {
                for later in &cmds[i + 1..] {
                    if let Command::AddPointer {
                        dest_file, offset, ..
                    } = later
                    {
                        assert!(
                            dest_file != file || !(*start..start + length).contains(offset),
                            "{later:?} after {c:?}"
                        );
                    }
                }
            }
        }
        // The last two commands finish the RSDP.
        assert!(matches!(
            &cmds[cmds.len() - 2..],
            [Command::AddPointer { dest_file: p, .. }, Command::AddChecksum { file: c, .. }]
                if p == ACPI_RSDP_FILE && c == ACPI_RSDP_FILE
        ));
    }
}
