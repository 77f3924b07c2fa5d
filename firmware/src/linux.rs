//! Direct Linux boot without a BIOS, as QEMU's `-kernel/-initrd/-append` do.
//!
//! Follows the Linux x86 boot protocol (`Documentation/arch/x86/boot.rst`) and enters the kernel
//! through its **32-bit boot protocol**: the protected-mode part of the bzImage is placed at
//! 1 MiB, a "zero page" (`struct boot_params`) is built in low memory with the setup header copied
//! from the image, an e820 map, the command line and the initrd location, and the CPU is put
//! straight into flat 32-bit protected mode at `code32_start` with `ESI` pointing at the zero
//! page. The real-mode setup code in the image never runs, so no BIOS services are needed.
//!
//! Guest memory layout used here:
//!
//! | address            | contents                                          |
//! |--------------------|---------------------------------------------------|
//! | `0x5000`           | boot GDT (null, null, `__BOOT_CS` 0x10, `__BOOT_DS` 0x18) |
//! | below `0x7000`     | initial stack (the kernel sets up its own at once) |
//! | `0x7000..0x8000`   | `boot_params` (zero page)                         |
//! | `0x20000`          | kernel command line, NUL terminated               |
//! | `0x9FC00..0xA0000` | EBDA: ACPI tables (`crate::acpi`), RSDP first     |
//! | `0x100000`         | protected-mode kernel (`code32_start`)            |
//! | top of RAM         | initrd, page aligned, below `initrd_addr_max`     |
//!
//! `screen_info` describes the VGA card as its power-on state leaves it, which is what a BIOS
//! would have set before the real-mode setup code (skipped by the 32-bit entry) recorded it:
//! mode 3, 80x25 colour text at `0xB8000`, 16-line characters, cursor at the top left. With it
//! the kernel's `vgacon` drives the screen (`console=tty0`).

use std::fmt;
use std::path::{Path, PathBuf};

use emu_core::cpu::segment::{DescriptorTable, SegmentCache};
use emu_core::cpu::state::{RunState, CR0_ET, CR0_PE, CS, DS, ES, FS, GS, RSI, RSP, SS};
use emu_core::cpu::Cpu;
use emu_core::memory::PhysicalMemory;

/// "HdrS" read as a little-endian dword at offset 0x202.
pub const HDRS_MAGIC: u32 = 0x5372_6448;
/// Oldest boot protocol accepted: 2.04 (32-bit `syssize`; every bzImage since Linux 2.6.14).
pub const MIN_PROTOCOL: u16 = 0x0204;

/// `loadflags` bits.
pub const LOADED_HIGH: u8 = 0x01;
pub const KEEP_SEGMENTS: u8 = 0x40;
pub const CAN_USE_HEAP: u8 = 0x80;

/// Where the loader puts things.
pub const GDT_ADDR: u64 = 0x5000;
pub const STACK_TOP: u64 = 0x7000;
pub const BOOT_PARAMS_ADDR: u64 = 0x7000;
pub const CMDLINE_ADDR: u64 = 0x2_0000;
pub const KERNEL_ADDR: u64 = 0x10_0000;
/// Highest initrd byte on a 32-bit kernel without a header limit, and a cap that keeps the initrd
/// inside the i386 direct map (lowmem ends at 896 MiB), as QEMU does.
pub const INITRD_CAP: u64 = 0x37FF_FFFF;

/// Boot GDT selectors the 32-bit protocol requires.
pub const BOOT_CS: u16 = 0x10;
pub const BOOT_DS: u16 = 0x18;
/// Flat 4 GiB, 32-bit, present, DPL 0: execute/read code and read/write data (accessed set).
pub const BOOT_CS_DESC: u64 = 0x00CF_9B00_0000_FFFF;
pub const BOOT_DS_DESC: u64 = 0x00CF_9300_0000_FFFF;

/// Offsets inside `boot_params` (and, for the setup header, inside the image).
pub mod off {
    pub const EXT_MEM_K: usize = 0x002;
    /// `acpi_rsdp_addr` (boot protocol 2.14+).
    pub const ACPI_RSDP_ADDR: usize = 0x070;
    /// `screen_info` fields.
    pub const ORIG_VIDEO_MODE: usize = 0x006;
    pub const ORIG_VIDEO_COLS: usize = 0x007;
    pub const ORIG_VIDEO_EGA_BX: usize = 0x00A;
    pub const ORIG_VIDEO_LINES: usize = 0x00E;
    pub const ORIG_VIDEO_IS_VGA: usize = 0x00F;
    pub const ORIG_VIDEO_POINTS: usize = 0x010;
    pub const ALT_MEM_K: usize = 0x1E0;
    pub const E820_ENTRIES: usize = 0x1E8;
    pub const SETUP_HEADER: usize = 0x1F1;
    pub const SETUP_SECTS: usize = 0x1F1;
    pub const SYSSIZE: usize = 0x1F4;
    pub const VID_MODE: usize = 0x1FA;
    pub const BOOT_FLAG: usize = 0x1FE;
    pub const JUMP: usize = 0x200;
    pub const HEADER: usize = 0x202;
    pub const VERSION: usize = 0x206;
    pub const KERNEL_VERSION: usize = 0x20E;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const LOADFLAGS: usize = 0x211;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21C;
    pub const HEAP_END_PTR: usize = 0x224;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const INITRD_ADDR_MAX: usize = 0x22C;
    pub const KERNEL_ALIGNMENT: usize = 0x230;
    pub const RELOCATABLE_KERNEL: usize = 0x234;
    pub const XLOADFLAGS: usize = 0x236;
    pub const CMDLINE_SIZE: usize = 0x238;
    pub const PREF_ADDRESS: usize = 0x258;
    pub const INIT_SIZE: usize = 0x260;
    /// End of the setup header area inside `boot_params` (`edd_mbr_sig_buffer` follows).
    pub const SETUP_HEADER_LIMIT: usize = 0x290;
    pub const E820_TABLE: usize = 0x2D0;
}

/// Entries `boot_params.e820_table` has room for.
pub const E820_MAX_ENTRIES: usize = 128;
pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;

/// What went wrong loading a kernel or initrd; every variant names the file concerned.
#[derive(Debug)]
pub enum LinuxError {
    Io {
        what: &'static str,
        file: PathBuf,
        source: std::io::Error,
    },
    Truncated {
        file: PathBuf,
        len: usize,
        needed: usize,
        what: &'static str,
    },
    BadMagic {
        file: PathBuf,
    },
    OldProtocol {
        file: PathBuf,
        version: u16,
    },
    NotBzImage {
        file: PathBuf,
    },
    CmdlineTooLong {
        file: PathBuf,
        len: usize,
        max: usize,
    },
    CmdlineHasNul,
    RamTooSmall {
        file: PathBuf,
        needed: u64,
        ram: u64,
    },
    InitrdTooBig {
        file: PathBuf,
        size: u64,
        room: u64,
    },
}

impl fmt::Display for LinuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LinuxError::*;
        match self {
            Io { what, file, source } => {
                write!(f, "cannot read {what} '{}': {source}", file.display())
            }
            Truncated {
                file,
                len,
                needed,
                what,
            } => write!(
                f,
                "kernel '{}' is truncated: {len} bytes, but {what} needs {needed}",
                file.display()
            ),
            BadMagic { file } => write!(
                f,
                "'{}' is not a Linux x86 bzImage (no \"HdrS\" setup header magic at 0x202)",
                file.display()
            ),
            OldProtocol { file, version } => write!(
                f,
                "kernel '{}' uses boot protocol {}.{:02}; at least {}.{:02} is required",
                file.display(),
                version >> 8,
                version & 0xFF,
                MIN_PROTOCOL >> 8,
                MIN_PROTOCOL & 0xFF
            ),
            NotBzImage { file } => write!(
                f,
                "kernel '{}' is a zImage (LOADED_HIGH clear); only bzImages load at 1 MiB",
                file.display()
            ),
            CmdlineTooLong { file, len, max } => write!(
                f,
                "command line is {len} bytes; kernel '{}' accepts at most {max}",
                file.display()
            ),
            CmdlineHasNul => write!(f, "command line contains a NUL byte"),
            RamTooSmall { file, needed, ram } => write!(
                f,
                "kernel '{}' needs RAM up to {needed:#x} to decompress and run, \
                 but the guest has only {} MiB",
                file.display(),
                ram >> 20
            ),
            InitrdTooBig { file, size, room } => write!(
                f,
                "initrd '{}' is {size} bytes; only {room} bytes fit between the kernel and the \
                 highest address it may occupy (raise -m)",
                file.display()
            ),
        }
    }
}

/// The I/O error's text is part of `Display` already, so `source()` stays `None` and reports
/// that print the whole chain do not repeat it.
impl std::error::Error for LinuxError {}

pub type Result<T> = std::result::Result<T, LinuxError>;

/// The fields of a bzImage's setup header the loader uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Real-mode setup sectors (0 in the file already replaced by 4).
    pub setup_sects: u8,
    pub version: u16,
    pub loadflags: u8,
    /// Protected-mode code size in 16-byte paragraphs (as the header says).
    pub syssize: u32,
    pub code32_start: u32,
    /// Highest address the initrd may occupy (0x37FFFFFF before protocol 2.03).
    pub initrd_addr_max: u32,
    /// 0 before protocol 2.05.
    pub kernel_alignment: u32,
    pub relocatable: bool,
    pub xloadflags: u16,
    /// Longest command line, NUL excluded (255 before protocol 2.06).
    pub cmdline_size: u32,
    /// Preferred load address (protocol 2.10+), else 0.
    pub pref_address: u64,
    /// Linear memory the kernel needs from its run address while booting (2.10+), else 0.
    pub init_size: u32,
    /// The kernel's version string, if the header points at one.
    pub kernel_version: Option<String>,
    /// Offset of the first byte after the setup header (0x202 + the jump's displacement).
    pub header_end: usize,
}

impl SetupHeader {
    /// Offset of the protected-mode kernel in the image file.
    pub fn kernel_offset(&self) -> usize {
        (self.setup_sects as usize + 1) * 512
    }
}

fn rd8(d: &[u8], at: usize) -> u8 {
    d[at]
}
fn rd16(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}
fn rd32(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
}
fn rd64(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
}
fn wr16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn wr32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn wr64(d: &mut [u8], at: usize, v: u64) {
    d[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Parses and validates a bzImage's setup header. `file` only names the image in errors.
pub fn parse_setup_header(image: &[u8], file: &Path) -> Result<SetupHeader> {
    let truncated = |needed: usize, what: &'static str| LinuxError::Truncated {
        file: file.to_path_buf(),
        len: image.len(),
        needed,
        what,
    };
    // The fixed part of the header up to `version`.
    if image.len() < off::VERSION + 2 {
        return Err(truncated(off::VERSION + 2, "the setup header"));
    }
    if rd32(image, off::HEADER) != HDRS_MAGIC {
        return Err(LinuxError::BadMagic {
            file: file.to_path_buf(),
        });
    }
    let version = rd16(image, off::VERSION);
    if version < MIN_PROTOCOL {
        return Err(LinuxError::OldProtocol {
            file: file.to_path_buf(),
            version,
        });
    }
    // The jump at 0x200 is a short jump over the header: its displacement says where it ends.
    let header_end = 0x202 + rd8(image, off::JUMP + 1) as usize;
    let needed_hdr = header_end
        .max(off::CMDLINE_SIZE + 4)
        .max(off::CMD_LINE_PTR + 4);
    if image.len() < needed_hdr {
        return Err(truncated(needed_hdr, "the setup header"));
    }
    let has = |at: usize, len: usize| at + len <= header_end;
    let loadflags = rd8(image, off::LOADFLAGS);
    if loadflags & LOADED_HIGH == 0 {
        return Err(LinuxError::NotBzImage {
            file: file.to_path_buf(),
        });
    }
    let mut setup_sects = rd8(image, off::SETUP_SECTS);
    if setup_sects == 0 {
        setup_sects = 4;
    }
    let initrd_addr_max = if version >= 0x0203 {
        rd32(image, off::INITRD_ADDR_MAX)
    } else {
        INITRD_CAP as u32
    };
    let (kernel_alignment, relocatable) = if version >= 0x0205 {
        (
            rd32(image, off::KERNEL_ALIGNMENT),
            rd8(image, off::RELOCATABLE_KERNEL) != 0,
        )
    } else {
        (0, false)
    };
    let xloadflags = if version >= 0x020C && has(off::XLOADFLAGS, 2) {
        rd16(image, off::XLOADFLAGS)
    } else {
        0
    };
    let cmdline_size = if version >= 0x0206 {
        rd32(image, off::CMDLINE_SIZE)
    } else {
        255
    };
    let (pref_address, init_size) = if version >= 0x020A && has(off::INIT_SIZE, 4) {
        (rd64(image, off::PREF_ADDRESS), rd32(image, off::INIT_SIZE))
    } else {
        (0, 0)
    };
    let hdr = SetupHeader {
        setup_sects,
        version,
        loadflags,
        syssize: rd32(image, off::SYSSIZE),
        code32_start: rd32(image, off::CODE32_START),
        initrd_addr_max,
        kernel_alignment,
        relocatable,
        xloadflags,
        cmdline_size,
        pref_address,
        init_size,
        kernel_version: None,
        header_end,
    };
    let koff = hdr.kernel_offset();
    if image.len() <= koff {
        return Err(truncated(koff + 1, "the real-mode setup code"));
    }
    let kernel_version = match rd16(image, off::KERNEL_VERSION) {
        0 => None,
        p => {
            let at = p as usize + 0x200;
            image.get(at..koff.min(image.len())).and_then(|s| {
                let end = s.iter().position(|&b| b == 0)?;
                Some(String::from_utf8_lossy(&s[..end]).into_owned())
            })
        }
    };
    let pm_size = (image.len() - koff) as u64;
    if (hdr.syssize as u64) * 16 > pm_size + 16 {
        return Err(truncated(
            koff + hdr.syssize as usize * 16,
            "the protected-mode kernel (syssize)",
        ));
    }
    Ok(SetupHeader {
        kernel_version,
        ..hdr
    })
}

/// One BIOS e820 map entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

/// The PC memory map for `ram_size` bytes of RAM: conventional memory up to the EBDA, the EBDA,
/// the BIOS area at 0xF0000, and extended memory from 1 MiB.
pub fn e820_map(ram_size: u64) -> Vec<E820Entry> {
    let e = |addr, end: u64, kind| E820Entry {
        addr,
        size: end - addr,
        kind,
    };
    let mut map = vec![
        e(0, 0x9_FC00.min(ram_size), E820_RAM),
        e(0x9_FC00, 0xA_0000, E820_RESERVED),
        e(0xF_0000, 0x10_0000, E820_RESERVED),
    ];
    if ram_size > 0x10_0000 {
        map.push(e(0x10_0000, ram_size, E820_RAM));
    }
    map
}

/// Where the loader put things, for the zero page and for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxBootInfo {
    pub header: SetupHeader,
    /// Guest-physical entry point (`code32_start`).
    pub entry: u32,
    pub boot_params: u64,
    pub kernel_addr: u64,
    pub kernel_size: u64,
    /// End of the memory the kernel needs while decompressing and booting.
    pub kernel_extent_end: u64,
    pub cmdline_addr: u64,
    pub cmdline_len: usize,
    /// Initrd address and size (0, 0 without one).
    pub initrd_addr: u64,
    pub initrd_size: u64,
    pub e820: Vec<E820Entry>,
}

/// Builds the 4 KiB zero page from the image's setup header and the layout in `info`.
pub fn build_boot_params(image: &[u8], info: &LinuxBootInfo, ram_size: u64) -> Vec<u8> {
    let mut bp = vec![0u8; 4096];
    // The setup header as the image has it, then the loader's fields on top.
    let end = info
        .header
        .header_end
        .min(off::SETUP_HEADER_LIMIT)
        .min(image.len());
    bp[off::SETUP_HEADER..end].copy_from_slice(&image[off::SETUP_HEADER..end]);
    bp[off::SETUP_SECTS] = info.header.setup_sects;
    // screen_info: the VGA card's power-on text mode (see the module documentation).
    bp[off::ORIG_VIDEO_MODE] = 3;
    bp[off::ORIG_VIDEO_COLS] = 80;
    bp[off::ORIG_VIDEO_LINES] = 25;
    // BL = 3: 256 KiB of VGA memory (anything but 0x10, which would mean CGA/MDA); BH = 0:
    // colour.
    wr16(&mut bp, off::ORIG_VIDEO_EGA_BX, 0x0003);
    bp[off::ORIG_VIDEO_IS_VGA] = 1;
    wr16(&mut bp, off::ORIG_VIDEO_POINTS, 16);
    let ext_k = ram_size.saturating_sub(0x10_0000) >> 10;
    wr16(&mut bp, off::EXT_MEM_K, ext_k.min(0xFFFF) as u16);
    wr32(&mut bp, off::ALT_MEM_K, ext_k.min(u32::MAX as u64) as u32);
    wr16(&mut bp, off::VID_MODE, 0xFFFF); // "normal"
    bp[off::TYPE_OF_LOADER] = 0xFF; // undefined loader
    bp[off::LOADFLAGS] = (info.header.loadflags | CAN_USE_HEAP) & !KEEP_SEGMENTS;
    wr32(&mut bp, off::CODE32_START, info.entry);
    // Relative to the (never run) real-mode setup segment, as a loader at 0x10000 would set it.
    wr16(&mut bp, off::HEAP_END_PTR, 0xFE00);
    wr32(&mut bp, off::CMD_LINE_PTR, info.cmdline_addr as u32);
    wr32(&mut bp, off::RAMDISK_IMAGE, info.initrd_addr as u32);
    wr32(&mut bp, off::RAMDISK_SIZE, info.initrd_size as u32);
    let n = info.e820.len().min(E820_MAX_ENTRIES);
    bp[off::E820_ENTRIES] = n as u8;
    for (i, e) in info.e820.iter().take(n).enumerate() {
        let at = off::E820_TABLE + i * 20;
        wr64(&mut bp, at, e.addr);
        wr64(&mut bp, at + 8, e.size);
        wr32(&mut bp, at + 16, e.kind);
    }
    bp
}

fn page_up(v: u64) -> u64 {
    (v + 0xFFF) & !0xFFF
}

/// Plans the layout for `image` (already validated) and an initrd of `initrd_size` bytes in
/// `ram_size` bytes of RAM, checking that everything fits.
pub fn plan(
    image: &[u8],
    header: SetupHeader,
    kernel_file: &Path,
    initrd: Option<(u64, &Path)>,
    cmdline: &str,
    ram_size: u64,
) -> Result<LinuxBootInfo> {
    if cmdline.as_bytes().contains(&0) {
        return Err(LinuxError::CmdlineHasNul);
    }
    if cmdline.len() > header.cmdline_size as usize {
        return Err(LinuxError::CmdlineTooLong {
            file: kernel_file.to_path_buf(),
            len: cmdline.len(),
            max: header.cmdline_size as usize,
        });
    }
    let kernel_size = (image.len() - header.kernel_offset()) as u64;
    // The 32-bit entry is at the load address; a relocatable kernel decompresses itself to the
    // load address rounded up to kernel_alignment (but not below pref_address), others to
    // pref_address (LOAD_PHYSICAL_ADDR).
    let run_addr = if header.version >= 0x020A {
        let aligned = if header.relocatable && header.kernel_alignment.is_power_of_two() {
            let a = header.kernel_alignment as u64;
            (KERNEL_ADDR + a - 1) & !(a - 1)
        } else {
            KERNEL_ADDR
        };
        aligned.max(header.pref_address)
    } else {
        KERNEL_ADDR
    };
    let kernel_extent_end =
        page_up((KERNEL_ADDR + kernel_size).max(run_addr + header.init_size as u64));
    if kernel_extent_end > ram_size {
        return Err(LinuxError::RamTooSmall {
            file: kernel_file.to_path_buf(),
            needed: kernel_extent_end,
            ram: ram_size,
        });
    }
    let (initrd_addr, initrd_size) = match initrd {
        None => (0, 0),
        Some((size, file)) => {
            let max = (header.initrd_addr_max as u64)
                .min(ram_size - 1)
                .min(INITRD_CAP);
            let top = max + 1;
            let room = top.saturating_sub(kernel_extent_end);
            let addr = top.saturating_sub(size) & !0xFFF;
            if size > room || addr < kernel_extent_end {
                return Err(LinuxError::InitrdTooBig {
                    file: file.to_path_buf(),
                    size,
                    room: (top & !0xFFF).saturating_sub(kernel_extent_end),
                });
            }
            (addr, size)
        }
    };
    Ok(LinuxBootInfo {
        entry: KERNEL_ADDR as u32,
        boot_params: BOOT_PARAMS_ADDR,
        kernel_addr: KERNEL_ADDR,
        kernel_size,
        kernel_extent_end,
        cmdline_addr: CMDLINE_ADDR,
        cmdline_len: cmdline.len(),
        initrd_addr,
        initrd_size,
        e820: e820_map(ram_size),
        header,
    })
}

fn read_file(what: &'static str, file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|source| LinuxError::Io {
        what,
        file: file.to_path_buf(),
        source,
    })
}

/// Loads `kernel` (a bzImage), an optional initrd and the command line into the guest's memory
/// and puts the CPU at the kernel's 32-bit entry point.
pub fn load_linux(
    cpu: &mut Cpu,
    kernel: &Path,
    initrd: Option<&Path>,
    cmdline: &str,
) -> Result<LinuxBootInfo> {
    let image = read_file("kernel", kernel)?;
    let initrd_data = initrd
        .map(|p| read_file("initrd", p).map(|d| (d, p)))
        .transpose()?;
    load_linux_bytes(
        cpu,
        &image,
        kernel,
        initrd_data.as_ref().map(|(d, p)| (d.as_slice(), *p)),
        cmdline,
    )
}

/// `load_linux` with the files already read; the paths only name them in errors.
pub fn load_linux_bytes(
    cpu: &mut Cpu,
    image: &[u8],
    kernel_file: &Path,
    initrd: Option<(&[u8], &Path)>,
    cmdline: &str,
) -> Result<LinuxBootInfo> {
    let header = parse_setup_header(image, kernel_file)?;
    let ram_size = cpu.mem.ram_size();
    let info = plan(
        image,
        header,
        kernel_file,
        initrd.map(|(d, p)| (d.len() as u64, p)),
        cmdline,
        ram_size,
    )?;

    let mem = &mut cpu.mem;
    mem.write_bytes(info.kernel_addr, &image[info.header.kernel_offset()..]);
    if let Some((data, _)) = initrd {
        mem.write_bytes(info.initrd_addr, data);
    }
    let mut line = cmdline.as_bytes().to_vec();
    line.push(0);
    mem.write_bytes(info.cmdline_addr, &line);
    let mut bp = build_boot_params(image, &info, ram_size);
    let acpi = write_acpi_and_bda(mem);
    // 2.14+ kernels get the RSDP address.
    if info.header.version >= 0x020E {
        wr64(&mut bp, off::ACPI_RSDP_ADDR, acpi.rsdp_addr());
    }
    mem.write_bytes(info.boot_params, &bp);
    write_boot_gdt(mem);

    enter_protected_mode(cpu, &info);
    Ok(info)
}

/// ACPI tables in the EBDA, where the RSDP scan finds them, and a BIOS data area as a BIOS
/// would leave it: EBDA segment and base memory in KiB. Shared with the Multiboot loader.
pub fn write_acpi_and_bda(mem: &mut PhysicalMemory) -> crate::acpi::AcpiTables {
    let acpi = crate::acpi::build(crate::acpi::ACPI_BASE, &crate::acpi::AcpiConfig::default());
    mem.write_bytes(acpi.base, &acpi.bytes);
    mem.write_bytes(0x40E, &0x9FC0u16.to_le_bytes());
    mem.write_bytes(0x413, &639u16.to_le_bytes());
    acpi
}

/// The boot GDT at [`GDT_ADDR`]: null, null, [`BOOT_CS`], [`BOOT_DS`].
pub fn write_boot_gdt(mem: &mut PhysicalMemory) {
    let gdt = [0u64, 0, BOOT_CS_DESC, BOOT_DS_DESC];
    let gdt_bytes: Vec<u8> = gdt.iter().flat_map(|d| d.to_le_bytes()).collect();
    mem.write_bytes(GDT_ADDR, &gdt_bytes);
}

/// CPU state the 32-bit boot protocol asks for: flat protected mode, paging off, interrupts off,
/// `CS` = `__BOOT_CS`, `DS` = `ES` = `SS` = `__BOOT_DS`, `ESI` = zero page, `EBP` = `EDI` =
/// `EBX` = 0.
pub fn enter_protected_mode(cpu: &mut Cpu, info: &LinuxBootInfo) {
    enter_flat_protected_mode(cpu, info.entry);
    cpu.state.gpr[RSI] = info.boot_params;
}

/// Flat 32-bit protected mode at `entry` through the boot GDT ([`write_boot_gdt`]): paging
/// off, interrupts off, A20 on, all general registers 0 but `ESP` = [`STACK_TOP`]. The Linux
/// and Multiboot loaders set their own registers on top.
pub fn enter_flat_protected_mode(cpu: &mut Cpu, entry: u32) {
    cpu.reset();
    let s = &mut cpu.state;
    s.gpr = [0; 16];
    s.gdtr = DescriptorTable {
        base: GDT_ADDR,
        limit: 4 * 8 - 1,
    };
    // No IDT yet: a fault before the kernel installs one shuts the machine down.
    s.idtr = DescriptorTable { base: 0, limit: 0 };
    s.cr0 = CR0_PE | CR0_ET;
    s.seg[CS] = SegmentCache::from_descriptor(BOOT_CS, BOOT_CS_DESC);
    for r in [DS, ES, SS, FS, GS] {
        s.seg[r] = SegmentCache::from_descriptor(BOOT_DS, BOOT_DS_DESC);
    }
    s.cpl = 0;
    s.set_eflags(0x2);
    s.gpr[RSP] = STACK_TOP;
    s.rip = entry as u64;
    s.run_state = RunState::Running;
    cpu.set_a20(true);
    cpu.tlb.flush_all();
    cpu.icache.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_core::cpu::state::{RBP, RBX, RDI};
    use std::sync::Arc;

    /// A minimal bzImage: boot sector + `setup_sects` sectors of setup, then `pm` bytes of
    /// "protected-mode kernel".
    fn synthetic(version: u16, setup_sects: u8, pm: usize) -> Vec<u8> {
        let sects = if setup_sects == 0 { 4 } else { setup_sects };
        let mut img = vec![0u8; (sects as usize + 1) * 512 + pm];
        img[off::SETUP_SECTS] = setup_sects;
        wr32(&mut img, off::SYSSIZE, pm.div_ceil(16) as u32);
        wr16(&mut img, off::BOOT_FLAG, 0xAA55);
        img[off::JUMP] = 0xEB;
        img[off::JUMP + 1] = 0x6A; // header ends at 0x26C, as in 2.15
        wr32(&mut img, off::HEADER, HDRS_MAGIC);
        wr16(&mut img, off::VERSION, version);
        wr16(&mut img, off::KERNEL_VERSION, 0x300 - 0x200);
        img[0x300..0x306].copy_from_slice(b"6.1.0\0");
        img[off::LOADFLAGS] = LOADED_HIGH;
        wr32(&mut img, off::CODE32_START, 0x10_0000);
        wr32(&mut img, off::INITRD_ADDR_MAX, 0x7FFF_FFFF);
        wr32(&mut img, off::KERNEL_ALIGNMENT, 0x100_0000);
        img[off::RELOCATABLE_KERNEL] = 1;
        wr32(&mut img, off::CMDLINE_SIZE, 2047);
        wr64(&mut img, off::PREF_ADDRESS, 0x100_0000);
        wr32(&mut img, off::INIT_SIZE, 0x40_0000);
        let k = (sects as usize + 1) * 512;
        for (i, b) in img[k..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        img
    }

    fn path() -> &'static Path {
        Path::new("bzImage")
    }

    #[test]
    fn parses_valid_header() {
        let img = synthetic(0x020F, 30, 5000);
        let h = parse_setup_header(&img, path()).unwrap();
        assert_eq!(h.setup_sects, 30);
        assert_eq!(h.version, 0x020F);
        assert_eq!(h.kernel_offset(), 31 * 512);
        assert_eq!(h.code32_start, 0x10_0000);
        assert_eq!(h.initrd_addr_max, 0x7FFF_FFFF);
        assert_eq!(h.kernel_alignment, 0x100_0000);
        assert!(h.relocatable);
        assert_eq!(h.cmdline_size, 2047);
        assert_eq!(h.pref_address, 0x100_0000);
        assert_eq!(h.init_size, 0x40_0000);
        assert_eq!(h.header_end, 0x26C);
        assert_eq!(h.kernel_version.as_deref(), Some("6.1.0"));
    }

    #[test]
    fn zero_setup_sects_means_four() {
        let img = synthetic(0x0204, 0, 100);
        let h = parse_setup_header(&img, path()).unwrap();
        assert_eq!(h.setup_sects, 4);
        assert_eq!(h.kernel_offset(), 5 * 512);
        assert_eq!(h.cmdline_size, 255, "2.04 has no cmdline_size field");
        assert!(!h.relocatable, "2.04 has no relocatable_kernel field");
    }

    #[test]
    fn bad_magic() {
        let mut img = synthetic(0x020F, 4, 100);
        img[off::HEADER] = b'X';
        let e = parse_setup_header(&img, path()).unwrap_err();
        assert!(matches!(e, LinuxError::BadMagic { .. }));
        assert!(e.to_string().contains("bzImage"), "{e}");
    }

    #[test]
    fn old_protocol() {
        let img = synthetic(0x0202, 4, 100);
        let e = parse_setup_header(&img, path()).unwrap_err();
        assert!(matches!(
            e,
            LinuxError::OldProtocol {
                version: 0x0202,
                ..
            }
        ));
        assert!(e.to_string().contains("2.02"), "{e}");
        assert!(e.to_string().contains("2.04"), "{e}");
    }

    #[test]
    fn zimage_rejected() {
        let mut img = synthetic(0x020F, 4, 100);
        img[off::LOADFLAGS] = 0;
        assert!(matches!(
            parse_setup_header(&img, path()),
            Err(LinuxError::NotBzImage { .. })
        ));
    }

    #[test]
    fn truncated() {
        let img = synthetic(0x020F, 30, 5000);
        for len in [0, 0x100, 0x207, 0x220, 31 * 512, 31 * 512 + 100] {
            let e = parse_setup_header(&img[..len], path()).unwrap_err();
            assert!(matches!(e, LinuxError::Truncated { .. }), "len {len}: {e}");
            assert!(e.to_string().contains("bzImage"), "{e}");
        }
    }

    #[test]
    fn e820_layout() {
        let m = e820_map(128 << 20);
        assert_eq!(
            m,
            vec![
                E820Entry {
                    addr: 0,
                    size: 0x9_FC00,
                    kind: E820_RAM
                },
                E820Entry {
                    addr: 0x9_FC00,
                    size: 0x400,
                    kind: E820_RESERVED
                },
                E820Entry {
                    addr: 0xF_0000,
                    size: 0x1_0000,
                    kind: E820_RESERVED
                },
                E820Entry {
                    addr: 0x10_0000,
                    size: (128 << 20) - 0x10_0000,
                    kind: E820_RAM
                },
            ]
        );
    }

    #[test]
    fn boot_params_layout() {
        let img = synthetic(0x020F, 30, 5000);
        let h = parse_setup_header(&img, path()).unwrap();
        let ram = 64 << 20;
        let info = plan(
            &img,
            h,
            path(),
            Some((100_000, Path::new("initrd"))),
            "console=ttyS0",
            ram,
        )
        .unwrap();
        let bp = build_boot_params(&img, &info, ram);
        assert_eq!(bp.len(), 4096);
        assert_eq!(rd32(&bp, off::HEADER), HDRS_MAGIC, "setup header copied");
        assert_eq!(rd16(&bp, off::VERSION), 0x020F);
        assert_eq!(bp[off::SETUP_SECTS], 30);
        assert_eq!(bp[off::TYPE_OF_LOADER], 0xFF);
        assert_eq!(bp[off::LOADFLAGS], LOADED_HIGH | CAN_USE_HEAP);
        assert_eq!(rd16(&bp, off::VID_MODE), 0xFFFF);
        assert_eq!(rd32(&bp, 0x228), CMDLINE_ADDR as u32, "cmd_line_ptr");
        assert_eq!(rd32(&bp, 0x214), 0x10_0000, "code32_start");
        // Initrd: page aligned, at the top of RAM.
        let image = rd32(&bp, 0x218) as u64;
        assert_eq!(rd32(&bp, 0x21C), 100_000, "ramdisk_size");
        assert_eq!(image & 0xFFF, 0);
        assert!(image + 100_000 <= ram && image + 100_000 + 4096 > ram);
        assert!(image >= info.kernel_extent_end);
        // e820
        assert_eq!(bp[0x1E8], 4, "e820_entries");
        assert_eq!(rd64(&bp, 0x2D0), 0);
        assert_eq!(rd64(&bp, 0x2D8), 0x9_FC00);
        assert_eq!(rd32(&bp, 0x2E0), E820_RAM);
        assert_eq!(rd64(&bp, 0x2D0 + 3 * 20), 0x10_0000);
        assert_eq!(rd64(&bp, 0x2D0 + 3 * 20 + 8), ram - 0x10_0000);
        assert_eq!(rd32(&bp, 0x2D0 + 3 * 20 + 16), E820_RAM);
        assert_eq!(rd32(&bp, 0x2D0 + 2 * 20 + 16), E820_RESERVED);
        // The VGA card's power-on text mode, as vgacon reads it.
        assert_eq!(
            [bp[0x06], bp[0x07], bp[0x0E], bp[0x0F]],
            [3, 80, 25, 1],
            "mode, columns, lines, isVGA"
        );
        assert_eq!(rd16(&bp, 0x10), 16, "character height");
        assert_ne!(rd16(&bp, 0x0A) & 0xFF, 0x10, "EGA/VGA, not CGA");
        assert_eq!(rd16(&bp, off::EXT_MEM_K), ((ram - 0x10_0000) >> 10) as u16);
    }

    #[test]
    fn plan_errors() {
        let img = synthetic(0x020F, 4, 1000);
        let h = parse_setup_header(&img, path()).unwrap();
        let long = "x".repeat(2048);
        assert!(matches!(
            plan(&img, h.clone(), path(), None, &long, 64 << 20),
            Err(LinuxError::CmdlineTooLong { max: 2047, .. })
        ));
        // Runs at 16 MiB and needs 4 MiB there.
        assert!(matches!(
            plan(&img, h.clone(), path(), None, "", 16 << 20),
            Err(LinuxError::RamTooSmall { .. })
        ));
        let e = plan(
            &img,
            h.clone(),
            path(),
            Some((60 << 20, Path::new("big.cpio"))),
            "",
            64 << 20,
        )
        .unwrap_err();
        assert!(matches!(e, LinuxError::InitrdTooBig { .. }));
        assert!(e.to_string().contains("big.cpio"), "{e}");
        assert!(plan(
            &img,
            h,
            path(),
            Some((40 << 20, Path::new("i"))),
            "",
            64 << 20
        )
        .is_ok());
    }

    #[test]
    fn loads_into_a_cpu() {
        let mem = emu_core::memory::PhysicalMemory::new(64 << 20, &[0xF4; 0x10000]).unwrap();
        let control = Arc::new(emu_core::control::MachineControl::new());
        let mut cpu = Cpu::new(mem, emu_core::bus::PortBus::default(), control);
        let img = synthetic(0x020F, 4, 3000);
        let initrd = vec![0x5Au8; 10_000];
        let info = load_linux_bytes(
            &mut cpu,
            &img,
            path(),
            Some((&initrd, Path::new("initrd"))),
            "console=ttyS0",
        )
        .unwrap();
        let s = &cpu.state;
        assert_eq!(s.rip, 0x10_0000);
        assert_eq!(s.gpr[RSI], BOOT_PARAMS_ADDR);
        assert_eq!((s.gpr[RBP], s.gpr[RDI], s.gpr[RBX]), (0, 0, 0));
        assert!(s.protected_mode() && !s.paging());
        assert_eq!(s.eflags() & emu_core::cpu::flags::IF, 0);
        assert_eq!(s.seg[CS].selector, 0x10);
        assert!(s.code32());
        assert_eq!((s.seg[CS].base, s.seg[CS].limit), (0, 0xFFFF_FFFF));
        for r in [DS, ES, SS] {
            assert_eq!(s.seg[r].selector, 0x18);
            assert_eq!((s.seg[r].base, s.seg[r].limit), (0, 0xFFFF_FFFF));
        }
        assert_eq!(s.gdtr.base, GDT_ADDR);
        assert_eq!(cpu.mem.read_u64(GDT_ADDR + 0x10), BOOT_CS_DESC);
        assert_eq!(cpu.mem.read_u64(GDT_ADDR + 0x18), BOOT_DS_DESC);
        let mut k = vec![0u8; 3000];
        cpu.mem.read_bytes(0x10_0000, &mut k);
        assert_eq!(&k[..], &img[5 * 512..]);
        let mut l = vec![0u8; 14];
        cpu.mem.read_bytes(CMDLINE_ADDR, &mut l);
        assert_eq!(&l, b"console=ttyS0\0");
        assert_eq!(
            cpu.mem.read_u32(BOOT_PARAMS_ADDR + 0x218) as u64,
            info.initrd_addr
        );
        let mut r = vec![0u8; 10_000];
        cpu.mem.read_bytes(info.initrd_addr, &mut r);
        assert_eq!(r, initrd);
        // ACPI: RSDP in the EBDA, its address in boot_params.
        let mut sig = [0u8; 8];
        cpu.mem.read_bytes(crate::acpi::ACPI_BASE, &mut sig);
        assert_eq!(&sig, b"RSD PTR ");
        assert_eq!(
            cpu.mem
                .read_u64(BOOT_PARAMS_ADDR + off::ACPI_RSDP_ADDR as u64),
            crate::acpi::ACPI_BASE
        );
        assert_eq!(
            (cpu.mem.read_u32(0x40E) & 0xFFFF) as u64 * 16,
            crate::acpi::ACPI_BASE,
            "BDA EBDA segment"
        );
    }
}
