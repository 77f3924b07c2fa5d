//! Direct boot of Multiboot v1 kernels, as QEMU's `-kernel` does when the image carries a
//! Multiboot header (Multiboot Specification 0.6.96).
//!
//! **Header** (spec 3.1): the magic 0x1BADB002 at a 4-byte aligned offset in the first 8192
//! bytes, then `flags` and a `checksum` that makes the three dwords sum to 0. Flags bits 0-15
//! are requirements a loader must refuse if it cannot meet them: bit 0 (page-align modules:
//! we always do, as QEMU), bit 1 (memory information: always given), bit 2 (video mode: there
//! is no display, so the request is ignored and the info structure says no video information
//! is available, as QEMU does); bits 3-15 are refused. Bit 16 selects the **a.out kludge**:
//! the header's `header_addr`, `load_addr`, `load_end_addr`, `bss_end_addr` and `entry_addr`
//! say where the file goes (3.1.3); without it the image must be an **ELF32** i386 executable
//! whose `PT_LOAD` segments are placed at their physical addresses, bss zeroed. The entry is
//! `e_entry`, translated to a physical address when it falls inside a segment whose virtual
//! and physical addresses differ (a higher-half kernel; GRUB does the same).
//!
//! **Modules** (3.3) are placed page-aligned above the kernel (from 1 MiB at the lowest), each
//! with the string QEMU gives it: the whole `-initrd` entry, i.e. the file name followed by any
//! arguments. `-initrd` takes a comma-separated list (",," for a literal comma), see
//! [`parse_module_list`].
//!
//! **Information structure** (3.3) at [`INFO_ADDR`]: `mem_lower`/`mem_upper` and the memory
//! map from the same e820 map the Linux loader builds ([`crate::linux::e820_map`]), the
//! command line as QEMU builds it (the kernel path, a space, the `--append` text), the module
//! list, and the boot loader name "Ringside". No boot device (there is no BIOS disk), no
//! symbol table, no drives, APM, VBE or framebuffer information.
//!
//! **Machine state** (3.2): `EAX` = 0x2BADB002, `EBX` = the information structure, flat 4 GiB
//! code and data segments (the Linux loader's boot GDT at 0x5000: `CS` = 0x10, the others
//! 0x18), `CR0.PE` set, paging off, `EFLAGS.IF` and `VM` clear, A20 on. `ESP` is 0x7000 (the
//! spec leaves it undefined). The ACPI tables and the BIOS data area words are written as for
//! Linux, so a kernel can find ACPI (and the MP table when the front end installs one).
//!
//! Guest memory used by the loader:
//!
//! | address              | contents                                        |
//! |----------------------|-------------------------------------------------|
//! | `0x400..0x500`       | BIOS data area (EBDA segment, base memory size) |
//! | `0x5000..0x7000`     | boot GDT, then the initial stack below 0x7000   |
//! | `0x8000..`           | information structure, memory map, module list, strings |
//! | `0x9FC00..0xA0000`   | EBDA: ACPI (and MP) tables                       |
//! | kernel's addresses   | the kernel's segments                           |
//! | above the kernel     | modules, each page aligned                      |
//!
//! A kernel segment must lie inside RAM (one e820 RAM range) and clear of the loader's areas;
//! anything else is refused with an error naming the file, never silently clipped.

use std::fmt;
use std::path::{Path, PathBuf};

use emu_core::cpu::state::{RAX, RBX};
use emu_core::cpu::Cpu;

use crate::linux::{e820_map, E820Entry, E820_RAM};

/// Header magic (in the image) and the magic the loader leaves in `EAX`.
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// The header must lie in the first 8192 bytes, 4-byte aligned.
pub const SEARCH_LEN: usize = 8192;

/// Header `flags`.
pub const PAGE_ALIGN: u32 = 1 << 0;
pub const MEMORY_INFO: u32 = 1 << 1;
pub const VIDEO_MODE: u32 = 1 << 2;
pub const AOUT_KLUDGE: u32 = 1 << 16;
/// Requirement bits (0-15) this loader honours.
pub const SUPPORTED_REQUIRED: u32 = PAGE_ALIGN | MEMORY_INFO | VIDEO_MODE;

/// Information structure `flags` and field offsets (spec 3.3).
pub mod info {
    pub const MEMORY: u32 = 1 << 0;
    pub const BOOTDEV: u32 = 1 << 1;
    pub const CMDLINE: u32 = 1 << 2;
    pub const MODS: u32 = 1 << 3;
    pub const MEM_MAP: u32 = 1 << 6;
    pub const BOOT_LOADER_NAME: u32 = 1 << 9;
    pub const VBE: u32 = 1 << 11;
    pub const FRAMEBUFFER: u32 = 1 << 12;

    pub const FLAGS: usize = 0;
    pub const MEM_LOWER: usize = 4;
    pub const MEM_UPPER: usize = 8;
    pub const BOOT_DEVICE: usize = 12;
    pub const CMDLINE_PTR: usize = 16;
    pub const MODS_COUNT: usize = 20;
    pub const MODS_ADDR: usize = 24;
    pub const MMAP_LENGTH: usize = 44;
    pub const MMAP_ADDR: usize = 48;
    pub const BOOT_LOADER_NAME_PTR: usize = 64;
    /// Size of the structure up to and including the VBE fields (0.6.96).
    pub const LEN: usize = 88;
    /// One module: `mod_start`, `mod_end` (exclusive), `string`, reserved.
    pub const MODULE_LEN: usize = 16;
    /// One memory map entry: `size` (20, not counting itself), `base_addr`, `length`, `type`.
    pub const MMAP_ENTRY_LEN: usize = 24;
}

/// Where the information structure and everything it points to goes.
pub const INFO_ADDR: u64 = 0x8000;
/// The information area may grow up to here (the EBDA starts at 0x9FC00).
pub const INFO_LIMIT: u64 = 0x8_0000;
pub const LOADER_NAME: &str = "Ringside";

const ELF_HEADER_LEN: usize = 52;
const ELF_PHDR_LEN: usize = 32;
const PT_LOAD: u32 = 1;
const ET_EXEC: u16 = 2;
const EM_386: u16 = 3;

/// What went wrong loading a Multiboot kernel or module; every variant names the file.
#[derive(Debug)]
pub enum MultibootError {
    Io {
        what: &'static str,
        file: PathBuf,
        source: std::io::Error,
    },
    NoHeader {
        file: PathBuf,
    },
    BadChecksum {
        file: PathBuf,
        offset: usize,
    },
    UnsupportedFlags {
        file: PathBuf,
        flags: u32,
    },
    Truncated {
        file: PathBuf,
        len: usize,
        needed: u64,
        what: &'static str,
    },
    BadElf {
        file: PathBuf,
        reason: String,
    },
    BadAout {
        file: PathBuf,
        reason: String,
    },
    OutsideRam {
        file: PathBuf,
        start: u64,
        end: u64,
        ram: u64,
    },
    Overlap {
        file: PathBuf,
        start: u64,
        end: u64,
        area: &'static str,
        area_start: u64,
        area_end: u64,
    },
    ModuleTooBig {
        file: PathBuf,
        addr: u64,
        size: u64,
        ram: u64,
    },
    InfoTooBig {
        len: u64,
        max: u64,
    },
    StringHasNul {
        what: &'static str,
    },
}

impl fmt::Display for MultibootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MultibootError::*;
        match self {
            Io { what, file, source } => {
                write!(f, "cannot read {what} '{}': {source}", file.display())
            }
            NoHeader { file } => write!(
                f,
                "'{}' has no Multiboot header (magic 0x1BADB002) in its first 8 KiB",
                file.display()
            ),
            BadChecksum { file, offset } => write!(
                f,
                "kernel '{}': Multiboot header at offset {offset:#x} has a bad checksum",
                file.display()
            ),
            UnsupportedFlags { file, flags } => write!(
                f,
                "kernel '{}': Multiboot header requires features {flags:#x} this loader lacks \
                 (flags bits 3-15)",
                file.display()
            ),
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
            BadElf { file, reason } => {
                write!(f, "kernel '{}': unsupported ELF: {reason}", file.display())
            }
            BadAout { file, reason } => write!(
                f,
                "kernel '{}': bad Multiboot a.out kludge addresses: {reason}",
                file.display()
            ),
            OutsideRam {
                file,
                start,
                end,
                ram,
            } => write!(
                f,
                "kernel '{}': segment {start:#x}..{end:#x} is not inside RAM (the guest has \
                 {} MiB; usable: below 0x9fc00 and 1 MiB up)",
                file.display(),
                ram >> 20
            ),
            Overlap {
                file,
                start,
                end,
                area,
                area_start,
                area_end,
            } => write!(
                f,
                "kernel '{}': segment {start:#x}..{end:#x} overlaps the {area} at \
                 {area_start:#x}..{area_end:#x}",
                file.display()
            ),
            ModuleTooBig {
                file,
                addr,
                size,
                ram,
            } => write!(
                f,
                "module '{}' ({size} bytes at {addr:#x}) does not fit in {} MiB of RAM \
                 (raise -m)",
                file.display(),
                ram >> 20
            ),
            InfoTooBig { len, max } => write!(
                f,
                "Multiboot information (command lines, module list) is {len} bytes; at most \
                 {max} fit"
            ),
            StringHasNul { what } => write!(f, "{what} contains a NUL byte"),
        }
    }
}

/// The I/O error's text is part of `Display` already (as `LinuxError`).
impl std::error::Error for MultibootError {}

pub type Result<T> = std::result::Result<T, MultibootError>;

fn rd16(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}
fn rd32(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}
fn wr32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn wr64(d: &mut [u8], at: usize, v: u64) {
    d[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn page_up(v: u64) -> u64 {
    v.saturating_add(0xFFF) & !0xFFF
}

/// The a.out kludge fields (header offsets 12-28).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AoutKludge {
    pub header_addr: u32,
    pub load_addr: u32,
    pub load_end_addr: u32,
    pub bss_end_addr: u32,
    pub entry_addr: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultibootHeader {
    /// File offset of the magic.
    pub offset: usize,
    pub flags: u32,
    pub aout: Option<AoutKludge>,
}

/// Offsets of 4-byte aligned header magics whose whole 12-byte header lies in the search area.
fn magics(image: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let end = image.len().min(SEARCH_LEN);
    (0..end.saturating_sub(11))
        .step_by(4)
        .filter(move |&i| rd32(image, i) == HEADER_MAGIC)
}

fn checksum_ok(image: &[u8], at: usize) -> bool {
    rd32(image, at)
        .wrapping_add(rd32(image, at + 4))
        .wrapping_add(rd32(image, at + 8))
        == 0
}

/// Whether the front end should boot `image` with this loader rather than the Linux one: it
/// has a Multiboot magic in its first 8 KiB (a bad checksum is reported by the loader, not
/// taken as "not Multiboot") and is not a bzImage ("HdrS" at 0x202; a bzImage that also
/// carries a Multiboot header boots through the Linux protocol, as with QEMU).
pub fn is_multiboot(image: &[u8]) -> bool {
    let bzimage = image.len() >= 0x206 && rd32(image, 0x202) == crate::linux::HDRS_MAGIC;
    !bzimage && magics(image).next().is_some()
}

/// Finds and validates the Multiboot header. `file` only names the image in errors.
pub fn parse_header(image: &[u8], file: &Path) -> Result<MultibootHeader> {
    let mut first_bad = None;
    let offset = magics(image)
        .find(|&i| {
            let ok = checksum_ok(image, i);
            if !ok && first_bad.is_none() {
                first_bad = Some(i);
            }
            ok
        })
        .ok_or_else(|| match first_bad {
            Some(offset) => MultibootError::BadChecksum {
                file: file.to_path_buf(),
                offset,
            },
            None => MultibootError::NoHeader {
                file: file.to_path_buf(),
            },
        })?;
    let flags = rd32(image, offset + 4);
    let unsupported = flags & 0xFFFF & !SUPPORTED_REQUIRED;
    if unsupported != 0 {
        return Err(MultibootError::UnsupportedFlags {
            file: file.to_path_buf(),
            flags: unsupported,
        });
    }
    let aout = if flags & AOUT_KLUDGE != 0 {
        if image.len() < offset + 32 {
            return Err(MultibootError::Truncated {
                file: file.to_path_buf(),
                len: image.len(),
                needed: offset as u64 + 32,
                what: "the Multiboot a.out kludge fields",
            });
        }
        let f = |n: usize| rd32(image, offset + 12 + 4 * n);
        Some(AoutKludge {
            header_addr: f(0),
            load_addr: f(1),
            load_end_addr: f(2),
            bss_end_addr: f(3),
            entry_addr: f(4),
        })
    } else {
        None
    };
    Ok(MultibootHeader {
        offset,
        flags,
        aout,
    })
}

/// A piece of the kernel: `file_len` bytes from `file_offset` at guest-physical `addr`, then
/// zeros up to `mem_len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub addr: u64,
    pub file_offset: usize,
    pub file_len: usize,
    pub mem_len: u64,
}

impl Segment {
    pub fn end(&self) -> u64 {
        self.addr + self.mem_len
    }
}

/// Where the kernel goes and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    pub segments: Vec<Segment>,
    /// Guest-physical entry point.
    pub entry: u32,
}

impl KernelLayout {
    /// First byte past the highest segment (bss included).
    pub fn end(&self) -> u64 {
        self.segments.iter().map(Segment::end).max().unwrap_or(0)
    }
}

fn aout_layout(
    image: &[u8],
    file: &Path,
    hdr: &MultibootHeader,
    a: &AoutKludge,
) -> Result<KernelLayout> {
    let bad = |reason: String| MultibootError::BadAout {
        file: file.to_path_buf(),
        reason,
    };
    if a.load_addr > a.header_addr {
        return Err(bad(format!(
            "load_addr {:#x} is above header_addr {:#x}",
            a.load_addr, a.header_addr
        )));
    }
    // The header's file offset minus its distance from the load address is where loading
    // starts in the file.
    let before = (a.header_addr - a.load_addr) as usize;
    let Some(file_offset) = hdr.offset.checked_sub(before) else {
        return Err(bad(format!(
            "header_addr - load_addr ({before:#x}) exceeds the header's file offset ({:#x})",
            hdr.offset
        )));
    };
    let file_len = if a.load_end_addr == 0 {
        image.len() - file_offset
    } else {
        if a.load_end_addr < a.load_addr {
            return Err(bad(format!(
                "load_end_addr {:#x} is below load_addr {:#x}",
                a.load_end_addr, a.load_addr
            )));
        }
        let len = (a.load_end_addr - a.load_addr) as usize;
        if file_offset + len > image.len() {
            return Err(MultibootError::Truncated {
                file: file.to_path_buf(),
                len: image.len(),
                needed: (file_offset + len) as u64,
                what: "load_end_addr",
            });
        }
        len
    };
    let load_end = a.load_addr as u64 + file_len as u64;
    let mem_end = if a.bss_end_addr == 0 {
        load_end
    } else if (a.bss_end_addr as u64) < load_end {
        return Err(bad(format!(
            "bss_end_addr {:#x} is below the end of the loaded image {load_end:#x}",
            a.bss_end_addr
        )));
    } else {
        a.bss_end_addr as u64
    };
    Ok(KernelLayout {
        segments: vec![Segment {
            addr: a.load_addr as u64,
            file_offset,
            file_len,
            mem_len: mem_end - a.load_addr as u64,
        }],
        entry: a.entry_addr,
    })
}

fn elf_layout(image: &[u8], file: &Path) -> Result<KernelLayout> {
    let bad = |reason: &str| MultibootError::BadElf {
        file: file.to_path_buf(),
        reason: reason.to_string(),
    };
    let truncated = |needed: u64, what: &'static str| MultibootError::Truncated {
        file: file.to_path_buf(),
        len: image.len(),
        needed,
        what,
    };
    if image.len() < 4 || &image[0..4] != b"\x7fELF" {
        return Err(bad(
            "not an ELF file, and the Multiboot header has no a.out kludge (flags bit 16)",
        ));
    }
    if image.len() < ELF_HEADER_LEN {
        return Err(truncated(ELF_HEADER_LEN as u64, "the ELF header"));
    }
    match image[4] {
        1 => {}
        2 => return Err(bad("64-bit (ELFCLASS64); Multiboot v1 kernels are ELF32")),
        c => return Err(bad(&format!("unknown ELF class {c}"))),
    }
    if image[5] != 1 {
        return Err(bad("not little-endian"));
    }
    let machine = rd16(image, 18);
    if machine != EM_386 {
        return Err(bad(&format!("machine {machine} is not i386 (3)")));
    }
    let kind = rd16(image, 16);
    if kind != ET_EXEC {
        return Err(bad(&format!("type {kind} is not an executable (ET_EXEC)")));
    }
    let e_entry = rd32(image, 24);
    let phoff = rd32(image, 28) as u64;
    let phentsize = rd16(image, 42) as u64;
    let phnum = rd16(image, 44) as u64;
    if phentsize < ELF_PHDR_LEN as u64 {
        return Err(bad(&format!("program header size {phentsize} < 32")));
    }
    let ph_end = phoff + phentsize * phnum;
    if ph_end > image.len() as u64 {
        return Err(truncated(ph_end, "the ELF program headers"));
    }
    let mut segments = Vec::new();
    let mut entry = None;
    for i in 0..phnum {
        let at = (phoff + i * phentsize) as usize;
        let p = |n: usize| rd32(image, at + 4 * n);
        let (p_type, offset, vaddr, paddr, filesz, memsz) = (p(0), p(1), p(2), p(3), p(4), p(5));
        if p_type != PT_LOAD || memsz == 0 {
            continue;
        }
        if filesz > memsz {
            return Err(bad(&format!(
                "segment {i}: file size {filesz:#x} exceeds memory size {memsz:#x}"
            )));
        }
        let file_end = offset as u64 + filesz as u64;
        if file_end > image.len() as u64 {
            return Err(truncated(file_end, "an ELF PT_LOAD segment"));
        }
        if (vaddr..vaddr.wrapping_add(memsz)).contains(&e_entry) && entry.is_none() {
            entry = Some((e_entry - vaddr).wrapping_add(paddr));
        }
        segments.push(Segment {
            addr: paddr as u64,
            file_offset: offset as usize,
            file_len: filesz as usize,
            mem_len: memsz as u64,
        });
    }
    if segments.is_empty() {
        return Err(bad("no PT_LOAD segments"));
    }
    Ok(KernelLayout {
        segments,
        entry: entry.unwrap_or(e_entry),
    })
}

/// Where the image's header says its pieces go (a.out kludge or ELF).
pub fn kernel_layout(image: &[u8], file: &Path, hdr: &MultibootHeader) -> Result<KernelLayout> {
    match &hdr.aout {
        Some(a) => aout_layout(image, file, hdr, a),
        None => elf_layout(image, file),
    }
}

/// One module as the loader received it.
#[derive(Clone, Copy, Debug)]
pub struct ModuleData<'a> {
    pub data: &'a [u8],
    /// The module's string (file name and arguments, as QEMU).
    pub cmdline: &'a str,
    /// Names the module in errors.
    pub file: &'a Path,
}

/// A module argument parsed from QEMU's `-initrd` syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleArg {
    pub path: PathBuf,
    pub cmdline: String,
}

/// Splits QEMU's Multiboot `-initrd` list: modules separated by ',', ",," a literal comma;
/// each entry is the module's string, its first space-separated word the file to load.
pub fn parse_module_list(spec: &str) -> Vec<ModuleArg> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = spec.chars().peekable();
    let mut push = |cur: &mut String| {
        let s = std::mem::take(cur);
        let path = s.split(' ').next().unwrap_or("");
        if !path.is_empty() {
            out.push(ModuleArg {
                path: PathBuf::from(path),
                cmdline: s.clone(),
            });
        }
    };
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                cur.push(',');
            } else {
                push(&mut cur);
            }
        } else {
            cur.push(c);
        }
    }
    push(&mut cur);
    out
}

/// One module in guest memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedModule {
    pub start: u64,
    /// Exclusive, as GRUB and QEMU report `mod_end`.
    pub end: u64,
    pub cmdline: String,
}

/// Where the loader put things.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultibootBootInfo {
    pub header: MultibootHeader,
    pub kernel: KernelLayout,
    /// Guest-physical entry point.
    pub entry: u32,
    /// The information structure (`EBX`).
    pub info_addr: u64,
    /// Length of the information area from `info_addr`.
    pub info_len: u64,
    pub cmdline: String,
    pub modules: Vec<PlacedModule>,
    pub mem_lower: u32,
    pub mem_upper: u32,
    pub e820: Vec<E820Entry>,
}

/// A bump allocator over the information area, building its bytes.
struct InfoArea {
    bytes: Vec<u8>,
}

impl InfoArea {
    fn alloc(&mut self, len: usize, align: usize) -> usize {
        let at = self.bytes.len().next_multiple_of(align);
        self.bytes.resize(at + len, 0);
        at
    }
    fn string(&mut self, s: &str) -> u32 {
        let at = self.alloc(s.len() + 1, 1);
        self.bytes[at..at + s.len()].copy_from_slice(s.as_bytes());
        (INFO_ADDR + at as u64) as u32
    }
}

/// Builds the information area (structure first) for the given layout.
pub fn build_info(
    cmdline: &str,
    modules: &[PlacedModule],
    e820: &[E820Entry],
    mem_lower: u32,
    mem_upper: u32,
) -> Vec<u8> {
    use info::*;
    let mut a = InfoArea {
        bytes: vec![0; LEN],
    };
    let mmap = a.alloc(e820.len() * MMAP_ENTRY_LEN, 8);
    for (i, e) in e820.iter().enumerate() {
        let at = mmap + i * MMAP_ENTRY_LEN;
        wr32(&mut a.bytes, at, (MMAP_ENTRY_LEN - 4) as u32);
        wr64(&mut a.bytes, at + 4, e.addr);
        wr64(&mut a.bytes, at + 12, e.size);
        wr32(&mut a.bytes, at + 20, e.kind);
    }
    let mods = a.alloc(modules.len() * MODULE_LEN, 16);
    for (i, m) in modules.iter().enumerate() {
        let s = a.string(&m.cmdline);
        let at = mods + i * MODULE_LEN;
        wr32(&mut a.bytes, at, m.start as u32);
        wr32(&mut a.bytes, at + 4, m.end as u32);
        wr32(&mut a.bytes, at + 8, s);
    }
    let cmd = a.string(cmdline);
    let name = a.string(LOADER_NAME);
    let b = &mut a.bytes;
    wr32(
        b,
        FLAGS,
        MEMORY | CMDLINE | MODS | MEM_MAP | BOOT_LOADER_NAME,
    );
    wr32(b, MEM_LOWER, mem_lower);
    wr32(b, MEM_UPPER, mem_upper);
    wr32(b, CMDLINE_PTR, cmd);
    wr32(b, MODS_COUNT, modules.len() as u32);
    wr32(b, MODS_ADDR, (INFO_ADDR + mods as u64) as u32);
    wr32(b, MMAP_LENGTH, (e820.len() * MMAP_ENTRY_LEN) as u32);
    wr32(b, MMAP_ADDR, (INFO_ADDR + mmap as u64) as u32);
    wr32(b, BOOT_LOADER_NAME_PTR, name);
    a.bytes
}

/// Plans the whole boot for a parsed kernel, modules of the given sizes and names, and the
/// command line, checking that everything fits in `ram_size` bytes of RAM.
pub fn plan(
    header: MultibootHeader,
    kernel: KernelLayout,
    kernel_file: &Path,
    modules: &[(u64, &str, &Path)],
    cmdline: &str,
    ram_size: u64,
) -> Result<(MultibootBootInfo, Vec<u8>)> {
    let e820 = e820_map(ram_size);
    let ram_kib = |start: u64| {
        e820.iter()
            .find(|e| e.kind == E820_RAM && e.addr == start)
            .map_or(0, |e| (e.size >> 10).min(u32::MAX as u64) as u32)
    };
    let (mem_lower, mem_upper) = (ram_kib(0), ram_kib(0x10_0000));

    // Modules from the first page above the kernel (and not below 1 MiB).
    let mut cursor = page_up(kernel.end().max(0x10_0000));
    let mut placed = Vec::with_capacity(modules.len());
    for &(size, name, file) in modules {
        if name.contains('\0') {
            return Err(MultibootError::StringHasNul {
                what: "a module string",
            });
        }
        let start = cursor;
        let end = start.saturating_add(size);
        if end > ram_size || end > 1 << 32 {
            return Err(MultibootError::ModuleTooBig {
                file: file.to_path_buf(),
                addr: start,
                size,
                ram: ram_size,
            });
        }
        placed.push(PlacedModule {
            start,
            end,
            cmdline: name.to_string(),
        });
        cursor = page_up(end);
    }
    if cmdline.contains('\0') {
        return Err(MultibootError::StringHasNul {
            what: "the command line",
        });
    }
    let bytes = build_info(cmdline, &placed, &e820, mem_lower, mem_upper);
    let info_len = bytes.len() as u64;
    if INFO_ADDR + info_len > INFO_LIMIT {
        return Err(MultibootError::InfoTooBig {
            len: info_len,
            max: INFO_LIMIT - INFO_ADDR,
        });
    }

    let areas: [(&'static str, u64, u64); 3] = [
        ("BIOS data area", 0x400, 0x500),
        (
            "boot GDT and stack",
            crate::linux::GDT_ADDR,
            crate::linux::STACK_TOP,
        ),
        ("Multiboot information", INFO_ADDR, INFO_ADDR + info_len),
    ];
    for s in &kernel.segments {
        let (start, end) = (s.addr, s.end());
        let in_ram = e820
            .iter()
            .any(|e| e.kind == E820_RAM && start >= e.addr && end <= e.addr + e.size);
        if !in_ram {
            return Err(MultibootError::OutsideRam {
                file: kernel_file.to_path_buf(),
                start,
                end,
                ram: ram_size,
            });
        }
        if let Some(&(area, a0, a1)) = areas.iter().find(|&&(_, a0, a1)| start < a1 && a0 < end) {
            return Err(MultibootError::Overlap {
                file: kernel_file.to_path_buf(),
                start,
                end,
                area,
                area_start: a0,
                area_end: a1,
            });
        }
    }
    let entry = kernel.entry;
    Ok((
        MultibootBootInfo {
            header,
            kernel,
            entry,
            info_addr: INFO_ADDR,
            info_len,
            cmdline: cmdline.to_string(),
            modules: placed,
            mem_lower,
            mem_upper,
            e820,
        },
        bytes,
    ))
}

fn read_file(what: &'static str, file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|source| MultibootError::Io {
        what,
        file: file.to_path_buf(),
        source,
    })
}

/// The command line QEMU gives a Multiboot kernel: its path, a space, the `-append` text.
pub fn kernel_cmdline(kernel: &Path, append: &str) -> String {
    format!("{} {append}", kernel.display())
}

/// Loads the Multiboot kernel `kernel`, the modules listed in `modules` (QEMU's `-initrd`
/// syntax, [`parse_module_list`]) and the command line into the guest's memory, and puts the
/// CPU at the kernel's entry point.
pub fn load_multiboot(
    cpu: &mut Cpu,
    kernel: &Path,
    modules: Option<&str>,
    append: &str,
) -> Result<MultibootBootInfo> {
    let image = read_file("kernel", kernel)?;
    let args = modules.map(parse_module_list).unwrap_or_default();
    let datas = args
        .iter()
        .map(|m| read_file("module", &m.path))
        .collect::<Result<Vec<_>>>()?;
    let mods: Vec<ModuleData> = args
        .iter()
        .zip(&datas)
        .map(|(m, d)| ModuleData {
            data: d,
            cmdline: &m.cmdline,
            file: &m.path,
        })
        .collect();
    load_multiboot_bytes(cpu, &image, kernel, &mods, &kernel_cmdline(kernel, append))
}

/// `load_multiboot` with the files already read; `cmdline` is the whole string the kernel
/// gets ([`kernel_cmdline`]).
pub fn load_multiboot_bytes(
    cpu: &mut Cpu,
    image: &[u8],
    kernel_file: &Path,
    modules: &[ModuleData],
    cmdline: &str,
) -> Result<MultibootBootInfo> {
    let header = parse_header(image, kernel_file)?;
    let kernel = kernel_layout(image, kernel_file, &header)?;
    let sizes: Vec<(u64, &str, &Path)> = modules
        .iter()
        .map(|m| (m.data.len() as u64, m.cmdline, m.file))
        .collect();
    let (info, info_bytes) = plan(
        header,
        kernel,
        kernel_file,
        &sizes,
        cmdline,
        cpu.mem.ram_size(),
    )?;

    let mem = &mut cpu.mem;
    for s in &info.kernel.segments {
        mem.write_bytes(s.addr, &image[s.file_offset..s.file_offset + s.file_len]);
        // The bss: RAM may hold an earlier run's bytes after a reset. In pieces, so a
        // kernel declaring a huge bss costs no host allocation of its size.
        let zeros = [0u8; 0x1_0000];
        let mut at = s.addr + s.file_len as u64;
        while at < s.end() {
            let n = (s.end() - at).min(zeros.len() as u64);
            mem.write_bytes(at, &zeros[..n as usize]);
            at += n;
        }
    }
    for (m, placed) in modules.iter().zip(&info.modules) {
        mem.write_bytes(placed.start, m.data);
    }
    mem.write_bytes(info.info_addr, &info_bytes);
    crate::linux::write_acpi_and_bda(mem);
    crate::linux::write_boot_gdt(mem);

    crate::linux::enter_flat_protected_mode(cpu, info.entry);
    cpu.state.gpr[RAX] = BOOTLOADER_MAGIC as u64;
    cpu.state.gpr[RBX] = info.info_addr;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_core::cpu::state::{CS, DS, ES, FS, GS, SS};
    use std::sync::Arc;

    const RAM: u64 = 32 << 20;

    fn cpu() -> Cpu {
        let mem = emu_core::memory::PhysicalMemory::new(RAM, &[0xF4; 0x10000]).unwrap();
        let control = Arc::new(emu_core::control::MachineControl::new());
        Cpu::new(mem, emu_core::bus::PortBus::default(), control)
    }

    fn mb_header(flags: u32) -> Vec<u8> {
        let mut h = Vec::new();
        for v in [
            HEADER_MAGIC,
            flags,
            0u32.wrapping_sub(HEADER_MAGIC.wrapping_add(flags)),
        ] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h
    }

    struct Seg {
        paddr: u32,
        vaddr: u32,
        data: Vec<u8>,
        memsz: u32,
    }

    /// An ELF32 executable: header, program headers, then each segment's data at a 0x100
    /// aligned offset from 0x100 on. `class`/`machine`/`kind` allow broken variants.
    fn elf(segs: &[Seg], entry: u32, class: u8, machine: u16, kind: u16) -> Vec<u8> {
        let mut img = vec![0u8; 0x100];
        img[0..4].copy_from_slice(b"\x7fELF");
        img[4] = class;
        img[5] = 1;
        img[6] = 1;
        img[16..18].copy_from_slice(&kind.to_le_bytes());
        img[18..20].copy_from_slice(&machine.to_le_bytes());
        wr32(&mut img, 20, 1);
        wr32(&mut img, 24, entry);
        wr32(&mut img, 28, 52);
        img[40..42].copy_from_slice(&52u16.to_le_bytes());
        img[42..44].copy_from_slice(&32u16.to_le_bytes());
        img[44..46].copy_from_slice(&(segs.len() as u16).to_le_bytes());
        let mut phdrs = Vec::new();
        for s in segs {
            let off = img.len().next_multiple_of(0x100);
            img.resize(off, 0);
            img.extend_from_slice(&s.data);
            let mut p = [0u8; 32];
            wr32(&mut p, 0, PT_LOAD);
            wr32(&mut p, 4, off as u32);
            wr32(&mut p, 8, s.vaddr);
            wr32(&mut p, 12, s.paddr);
            wr32(&mut p, 16, s.data.len() as u32);
            wr32(&mut p, 20, s.memsz);
            wr32(&mut p, 24, 7);
            wr32(&mut p, 28, 0x10);
            phdrs.extend_from_slice(&p);
        }
        assert!(52 + phdrs.len() <= 0x100);
        img[52..52 + phdrs.len()].copy_from_slice(&phdrs);
        img
    }

    /// Text at 1 MiB starting with the Multiboot header, data + bss at 2 MiB.
    fn good_elf() -> Vec<u8> {
        let mut text = mb_header(PAGE_ALIGN | MEMORY_INFO);
        text.extend((0..500u32).map(|i| (i * 3) as u8));
        let data: Vec<u8> = (0..300u32).map(|i| (i * 5 + 1) as u8).collect();
        elf(
            &[
                Seg {
                    paddr: 0x10_0000,
                    vaddr: 0x10_0000,
                    memsz: text.len() as u32,
                    data: text,
                },
                Seg {
                    paddr: 0x20_0000,
                    vaddr: 0x20_0000,
                    data,
                    memsz: 0x3000,
                },
            ],
            0x10_0010,
            1,
            EM_386,
            ET_EXEC,
        )
    }

    /// A flat a.out-kludge image meant for `load_addr` = 0x100000, the header at file offset
    /// 0x40, text/data of 0x200 bytes, bss to 0x101000.
    fn good_kludge(load_end: u32) -> Vec<u8> {
        let mut img: Vec<u8> = (0..0x300u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut h = mb_header(PAGE_ALIGN | AOUT_KLUDGE);
        for v in [0x10_0040u32, 0x10_0000, load_end, 0x10_1000, 0x10_0080] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        img[0x40..0x40 + h.len()].copy_from_slice(&h);
        img
    }

    fn path() -> &'static Path {
        Path::new("kernel.elf")
    }

    fn read_str(cpu: &mut Cpu, addr: u32) -> String {
        let mut v = Vec::new();
        for i in 0..4096u64 {
            let mut b = [0u8];
            cpu.mem.read_bytes(addr as u64 + i, &mut b);
            if b[0] == 0 {
                break;
            }
            v.push(b[0]);
        }
        String::from_utf8(v).unwrap()
    }

    fn read(cpu: &mut Cpu, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        cpu.mem.read_bytes(addr, &mut v);
        v
    }

    #[test]
    fn elf_kernel_with_modules() {
        let mut c = cpu();
        // Garbage where the bss goes: the loader must zero it.
        c.mem.write_bytes(0x20_0000, &[0xAA; 0x3000]);
        let img = good_elf();
        let m0: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let m1 = vec![0x77u8; 100];
        let mods = [
            ModuleData {
                data: &m0,
                cmdline: "m0.bin arg=1",
                file: Path::new("m0.bin"),
            },
            ModuleData {
                data: &m1,
                cmdline: "m1.bin",
                file: Path::new("m1.bin"),
            },
        ];
        let cmdline = kernel_cmdline(path(), "console=ttyS0 x=1");
        assert_eq!(cmdline, "kernel.elf console=ttyS0 x=1");
        let info = load_multiboot_bytes(&mut c, &img, path(), &mods, &cmdline).unwrap();

        // Segments, bss zeroed.
        assert_eq!(read(&mut c, 0x10_0000, 512), img[0x100..0x100 + 512]);
        assert_eq!(read(&mut c, 0x20_0000, 300), img[0x300..0x300 + 300]);
        assert!(read(&mut c, 0x20_0000 + 300, 0x3000 - 300)
            .iter()
            .all(|&b| b == 0));

        // Entry state (spec 3.2).
        let s = &c.state;
        assert_eq!(s.rip, 0x10_0010);
        assert_eq!(s.gpr[RAX], 0x2BAD_B002);
        assert_eq!(s.gpr[RBX], INFO_ADDR);
        assert!(s.protected_mode() && !s.paging());
        assert_eq!(s.eflags() & emu_core::cpu::flags::IF, 0);
        assert_eq!(s.eflags() & (1 << 17), 0, "VM");
        assert!(s.code32());
        for r in [CS, DS, ES, FS, GS, SS] {
            assert_eq!((s.seg[r].base, s.seg[r].limit), (0, 0xFFFF_FFFF), "seg {r}");
        }
        assert_eq!(c.mem.a20_mask, u64::MAX, "A20 on");

        // The information structure.
        let b = INFO_ADDR;
        let flags = c.mem.read_u32(b);
        assert_eq!(
            flags,
            info::MEMORY | info::CMDLINE | info::MODS | info::MEM_MAP | info::BOOT_LOADER_NAME
        );
        assert_eq!(flags & (info::BOOTDEV | info::VBE | info::FRAMEBUFFER), 0);
        assert_eq!(c.mem.read_u32(b + 4), 639, "mem_lower");
        assert_eq!(
            c.mem.read_u32(b + 8) as u64,
            (RAM - 0x10_0000) >> 10,
            "mem_upper"
        );
        let p = c.mem.read_u32(b + 16);
        assert_eq!(read_str(&mut c, p), "kernel.elf console=ttyS0 x=1");
        let p = c.mem.read_u32(b + 64);
        assert_eq!(read_str(&mut c, p), "Ringside");

        // Modules: page aligned, above the kernel (bss included), in order, end exclusive.
        assert_eq!(c.mem.read_u32(b + 20), 2);
        let mods_addr = c.mem.read_u32(b + 24) as u64;
        let mut prev_end = 0x20_3000;
        for (i, (data, name)) in [(&m0, "m0.bin arg=1"), (&m1, "m1.bin")].iter().enumerate() {
            let at = mods_addr + 16 * i as u64;
            let start = c.mem.read_u32(at) as u64;
            let end = c.mem.read_u32(at + 4) as u64;
            assert_eq!(start % 4096, 0, "module {i} page aligned");
            assert!(start >= prev_end, "module {i} at {start:#x} overlaps");
            assert_eq!(end - start, data.len() as u64);
            assert_eq!(&read(&mut c, start, data.len()), *data);
            let s = c.mem.read_u32(at + 8);
            assert_eq!(read_str(&mut c, s), *name);
            prev_end = end;
        }
        assert_eq!(info.modules[0].start, 0x20_3000);

        // Memory map: the e820 map, 24-byte strides with size 20.
        let len = c.mem.read_u32(b + 44) as u64;
        let mut at = c.mem.read_u32(b + 48) as u64;
        let end = at + len;
        let mut got = Vec::new();
        while at < end {
            let size = c.mem.read_u32(at) as u64;
            assert_eq!(size, 20);
            got.push(E820Entry {
                addr: c.mem.read_u64(at + 4),
                size: c.mem.read_u64(at + 12),
                kind: c.mem.read_u32(at + 20),
            });
            at += size + 4;
        }
        assert_eq!(got, e820_map(RAM));
        assert_eq!(got, info.e820);

        // The information area does not overlap anything the kernel got, and ACPI is there.
        assert!(INFO_ADDR + info.info_len <= INFO_LIMIT);
        assert_eq!(&read(&mut c, crate::acpi::ACPI_BASE, 8), b"RSD PTR ");
    }

    #[test]
    fn aout_kludge_kernel() {
        let mut c = cpu();
        c.mem.write_bytes(0x10_0000, &[0xAA; 0x1000]);
        let img = good_kludge(0x10_0200);
        let info = load_multiboot_bytes(&mut c, &img, path(), &[], "k").unwrap();
        assert_eq!(info.header.offset, 0x40);
        assert_eq!(
            info.kernel.segments,
            vec![Segment {
                addr: 0x10_0000,
                file_offset: 0,
                file_len: 0x200,
                mem_len: 0x1000
            }]
        );
        assert_eq!(read(&mut c, 0x10_0000, 0x200), img[..0x200]);
        assert!(
            read(&mut c, 0x10_0200, 0xE00).iter().all(|&b| b == 0),
            "bss"
        );
        assert_eq!(c.state.rip, 0x10_0080);
        assert_eq!(c.state.gpr[RAX], 0x2BAD_B002);
        assert_eq!(c.mem.read_u32(INFO_ADDR + 20), 0, "no modules");

        // load_end_addr 0: the rest of the file.
        let img = good_kludge(0);
        let h = parse_header(&img, path()).unwrap();
        let k = kernel_layout(&img, path(), &h).unwrap();
        assert_eq!(k.segments[0].file_len, 0x300);
        assert_eq!(k.end(), 0x10_1000);
    }

    #[test]
    fn aout_header_not_at_the_load_start() {
        // header_addr - load_addr = 0x40 = the header's file offset: loading starts at 0.
        // Move the load address up by 0x20: loading starts 0x20 into the file. (The
        // checksum covers only magic and flags.)
        let mut img = good_kludge(0x10_0200);
        wr32(&mut img, 0x40 + 16, 0x10_0020);
        let h = parse_header(&img, path()).unwrap();
        let k = kernel_layout(&img, path(), &h).unwrap();
        assert_eq!(k.segments[0].addr, 0x10_0020);
        assert_eq!(k.segments[0].file_offset, 0x20);
        assert_eq!(k.segments[0].file_len, 0x1E0);
    }

    #[test]
    fn higher_half_entry_is_translated() {
        let mut text = mb_header(0);
        text.resize(0x100, 0x90);
        let img = elf(
            &[Seg {
                paddr: 0x10_0000,
                vaddr: 0xC010_0000,
                memsz: 0x100,
                data: text,
            }],
            0xC010_0020,
            1,
            EM_386,
            ET_EXEC,
        );
        let h = parse_header(&img, path()).unwrap();
        let k = kernel_layout(&img, path(), &h).unwrap();
        assert_eq!(k.entry, 0x10_0020);
        assert_eq!(k.segments[0].addr, 0x10_0000);
    }

    #[test]
    fn detection() {
        assert!(is_multiboot(&good_elf()));
        assert!(is_multiboot(&good_kludge(0)));
        assert!(!is_multiboot(&[0u8; 10_000]));
        assert!(!is_multiboot(&[]));
        // Past the first 8 KiB does not count.
        let mut late = vec![0u8; 12_000];
        late[8192..8204].copy_from_slice(&mb_header(0));
        assert!(!is_multiboot(&late));
        assert!(matches!(
            parse_header(&late, path()),
            Err(MultibootError::NoHeader { .. })
        ));
        // Unaligned magic does not count.
        let mut unaligned = vec![0u8; 100];
        unaligned[6..18].copy_from_slice(&mb_header(0));
        assert!(!is_multiboot(&unaligned));
        // A bzImage goes to the Linux loader even with a Multiboot magic inside.
        let mut bz = vec![0u8; 0x1000];
        bz[0x202..0x206].copy_from_slice(&crate::linux::HDRS_MAGIC.to_le_bytes());
        bz[0x400..0x40C].copy_from_slice(&mb_header(0));
        assert!(!is_multiboot(&bz));
    }

    fn err(img: &[u8]) -> MultibootError {
        let mut c = cpu();
        let e = load_multiboot_bytes(&mut c, img, path(), &[], "k").unwrap_err();
        let text = e.to_string();
        assert!(!text.contains('\n'), "one line: {text}");
        assert!(text.contains("kernel.elf"), "names the file: {text}");
        e
    }

    #[test]
    fn header_errors() {
        let mut bad = good_elf();
        bad[0x108] ^= 1; // checksum
        assert!(matches!(
            err(&bad),
            MultibootError::BadChecksum { offset: 0x100, .. }
        ));
        assert!(matches!(err(&[0u8; 64]), MultibootError::NoHeader { .. }));
        let mut img = vec![0u8; 64];
        img[0..12].copy_from_slice(&mb_header(1 << 3));
        assert!(matches!(
            err(&img),
            MultibootError::UnsupportedFlags { flags: 8, .. }
        ));
        // Bit 2 (video) is accepted and ignored; bits 16+ other than the kludge too.
        let mut text = mb_header(VIDEO_MODE | 1 << 20);
        text.resize(0x40, 0);
        let img = elf(
            &[Seg {
                paddr: 0x10_0000,
                vaddr: 0x10_0000,
                memsz: 0x40,
                data: text,
            }],
            0x10_0000,
            1,
            EM_386,
            ET_EXEC,
        );
        let mut c = cpu();
        load_multiboot_bytes(&mut c, &img, path(), &[], "k").unwrap();
        assert_eq!(
            c.mem.read_u32(INFO_ADDR) & (info::VBE | info::FRAMEBUFFER),
            0
        );
    }

    #[test]
    fn truncated_images() {
        // Kludge fields cut off.
        let img = good_kludge(0x10_0200);
        assert!(matches!(
            err(&img[..0x50]),
            MultibootError::Truncated { needed: 0x60, .. }
        ));
        // load_end_addr beyond the file.
        assert!(matches!(
            err(&good_kludge(0x10_0400)),
            MultibootError::Truncated { needed: 0x400, .. }
        ));
        // ELF segment data cut off.
        let img = good_elf();
        assert!(matches!(
            err(&img[..img.len() - 10]),
            MultibootError::Truncated { .. }
        ));
        // Program headers cut off (the Multiboot header stays in).
        let mut img = good_elf();
        let len = img.len() as u32;
        wr32(&mut img, 28, len - 16);
        assert!(matches!(err(&img), MultibootError::Truncated { .. }));
    }

    #[test]
    fn unsupported_elf() {
        let text = || {
            let mut t = mb_header(0);
            t.resize(0x40, 0);
            t
        };
        let seg = || Seg {
            paddr: 0x10_0000,
            vaddr: 0x10_0000,
            memsz: 0x40,
            data: text(),
        };
        for (class, machine, kind, what) in [
            (2, EM_386, ET_EXEC, "64-bit"),
            (1, 62, ET_EXEC, "not i386"),
            (1, EM_386, 3, "ET_EXEC"),
        ] {
            let e = err(&elf(&[seg()], 0x10_0000, class, machine, kind));
            assert!(matches!(e, MultibootError::BadElf { .. }), "{e}");
            assert!(e.to_string().contains(what), "{e}");
        }
        // Neither ELF nor kludge.
        let mut flat = vec![0u8; 0x100];
        flat[0x10..0x1C].copy_from_slice(&mb_header(0));
        assert!(matches!(err(&flat), MultibootError::BadElf { .. }));
        // filesz > memsz.
        let mut s = seg();
        s.memsz = 0x20;
        assert!(matches!(
            err(&elf(&[s], 0x10_0000, 1, EM_386, ET_EXEC)),
            MultibootError::BadElf { .. }
        ));
    }

    fn kludge_at(load: u32, bss_end: u32) -> Vec<u8> {
        let mut img = vec![0u8; 0x100];
        let mut h = mb_header(AOUT_KLUDGE);
        for v in [load, load, load + 0x100, bss_end, load] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        img[..h.len()].copy_from_slice(&h);
        img
    }

    #[test]
    fn placement_errors() {
        // Beyond RAM, in the VGA/BIOS hole, across the EBDA.
        for load in [RAM as u32 - 0x80, 0xA_0000, 0x9_FB80, 0xFFFF_0000] {
            let e = err(&kludge_at(load, 0));
            assert!(
                matches!(e, MultibootError::OutsideRam { .. }),
                "{load:#x}: {e}"
            );
        }
        // The bss running off the end of RAM.
        assert!(matches!(
            err(&kludge_at(0x10_0000, RAM as u32 + 0x1000)),
            MultibootError::OutsideRam { .. }
        ));
        // Onto the loader's own areas.
        for (load, area) in [
            (0x8000, "Multiboot information"),
            (0x5000, "boot GDT"),
            (0x480, "BIOS data area"),
        ] {
            let e = err(&kludge_at(load, 0));
            assert!(
                matches!(e, MultibootError::Overlap { .. }) && e.to_string().contains(area),
                "{e}"
            );
        }
        // Low memory clear of those is fine.
        let mut c = cpu();
        load_multiboot_bytes(&mut c, &kludge_at(0x1_0000, 0x1_2000), path(), &[], "k").unwrap();
        assert_eq!(c.state.rip, 0x1_0000);
        // Bad kludge arithmetic.
        let mut img = kludge_at(0x10_0000, 0);
        wr32(&mut img, 16, 0x10_0010); // load_addr above header_addr
        assert!(matches!(err(&img), MultibootError::BadAout { .. }));
        let img = kludge_at(0x10_0000, 0x10_0080); // bss_end below load end
        assert!(matches!(err(&img), MultibootError::BadAout { .. }));
    }

    #[test]
    fn module_errors() {
        let mut c = cpu();
        let big = vec![0u8; RAM as usize];
        let mods = [ModuleData {
            data: &big,
            cmdline: "big.bin",
            file: Path::new("big.bin"),
        }];
        let e = load_multiboot_bytes(&mut c, &good_elf(), path(), &mods, "k").unwrap_err();
        assert!(matches!(e, MultibootError::ModuleTooBig { .. }));
        assert!(e.to_string().contains("big.bin"), "{e}");
        let e = load_multiboot_bytes(&mut c, &good_elf(), path(), &[], "a\0b").unwrap_err();
        assert!(matches!(e, MultibootError::StringHasNul { .. }));
        let long = "x".repeat(INFO_LIMIT as usize);
        let e = load_multiboot_bytes(&mut c, &good_elf(), path(), &[], &long).unwrap_err();
        assert!(matches!(e, MultibootError::InfoTooBig { .. }));
    }

    #[test]
    fn module_list_syntax() {
        assert_eq!(
            parse_module_list("a.bin x=1 y,b.bin,,c,"),
            vec![
                ModuleArg {
                    path: "a.bin".into(),
                    cmdline: "a.bin x=1 y".into()
                },
                ModuleArg {
                    path: "b.bin,c".into(),
                    cmdline: "b.bin,c".into()
                },
            ]
        );
        assert!(parse_module_list("").is_empty());
    }

    #[test]
    fn load_multiboot_reads_files() {
        let dir = std::env::temp_dir().join(format!("ringside-mb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let k = dir.join("k.elf");
        let m = dir.join("m.bin");
        std::fs::write(&k, good_elf()).unwrap();
        std::fs::write(&m, b"MOD0data").unwrap();
        let mut c = cpu();
        let spec = format!("{} hello", m.display());
        let info = load_multiboot(&mut c, &k, Some(&spec), "quiet").unwrap();
        assert_eq!(info.cmdline, format!("{} quiet", k.display()));
        assert_eq!(info.modules[0].cmdline, spec);
        assert_eq!(read(&mut c, info.modules[0].start, 8), b"MOD0data");
        let e = load_multiboot(&mut c, &k, Some("/nonexistent/mod"), "").unwrap_err();
        assert!(
            matches!(e, MultibootError::Io { what: "module", .. }),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
