//! Command-line flags, named after QEMU's where QEMU has one.

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// The interpreter: decodes once per block, runs each instruction's handler.
    Interp,
    /// The binary translator: blocks become x86-64 host code.
    Jit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Display {
    /// The VGA text screen drawn in this terminal (serial then defaults to none).
    Text,
    /// No screen; the guest is reached through its serial port.
    None,
}

#[derive(Parser, Debug)]
#[command(
    name = "ringside",
    version,
    about = "A full-system x86 PC emulator by binary translation"
)]
pub struct Args {
    /// ROM image run from reset (F000:FFF0), mapped at the top of 4 GiB, as QEMU's -bios.
    /// `seabios` picks Debian's SeaBIOS (/usr/share/seabios/bios.bin). Without it Ringside
    /// runs its built-in demo ROM.
    #[arg(long, value_name = "FILE")]
    pub bios: Option<std::path::PathBuf>,

    /// VGA BIOS for the PCI VGA card's option ROM. Default: vgabios-stdvga.bin beside the
    /// --bios file, else Debian's /usr/share/seabios/vgabios-stdvga.bin.
    #[arg(long, value_name = "FILE")]
    pub vga_bios: Option<std::path::PathBuf>,

    /// IDE primary master hard disk image (raw), as QEMU's -hda.
    #[arg(long, value_name = "FILE")]
    pub hda: Option<std::path::PathBuf>,

    /// IDE primary slave hard disk image.
    #[arg(long, value_name = "FILE")]
    pub hdb: Option<std::path::PathBuf>,

    /// IDE secondary master hard disk image (the CD-ROM's place; not with --cdrom).
    #[arg(long, value_name = "FILE", conflicts_with = "cdrom")]
    pub hdc: Option<std::path::PathBuf>,

    /// IDE secondary slave hard disk image.
    #[arg(long, value_name = "FILE")]
    pub hdd: Option<std::path::PathBuf>,

    /// ISO image in the ATAPI CD-ROM drive (IDE secondary master), as QEMU's -cdrom.
    #[arg(long, value_name = "FILE")]
    pub cdrom: Option<std::path::PathBuf>,

    /// Floppy image in drive A: (1.44 MB and the other PC formats), as QEMU's -fda.
    #[arg(long, value_name = "FILE")]
    pub fda: Option<std::path::PathBuf>,

    /// Floppy image in drive B:.
    #[arg(long, value_name = "FILE")]
    pub fdb: Option<std::path::PathBuf>,

    /// Boot order for the BIOS, as QEMU's -boot: letters a (floppy), c (hard disk),
    /// d (CD-ROM), in priority order. Default: c, then d, then a.
    #[arg(long, value_name = "ORDER", value_parser = parse_boot_order)]
    pub boot: Option<String>,

    /// Disk writes go to a throw-away overlay; the image files are left untouched.
    #[arg(long)]
    pub snapshot: bool,

    /// What shows the VGA screen.
    #[arg(long, value_enum, default_value_t = Display::None)]
    pub display: Display,

    /// Extra diagnostics on stderr, comma-separated, as QEMU's -d: `unimp` reports guest
    /// requests the device models do not implement (once per kind).
    #[arg(long, value_name = "ITEMS", value_delimiter = ',', value_parser = parse_log_item)]
    pub log: Vec<String>,

    /// Traces on stderr, comma-separated: `jit` lists every translated block with its
    /// guest instructions and the host code made for them (with `--cpu-engine jit`).
    #[arg(long, value_name = "ITEMS", value_delimiter = ',', value_parser = parse_trace_item)]
    pub trace: Vec<String>,

    /// At exit, write the VGA text screen to FILE as plain text lines (what a user would
    /// read on the screen; for scripts and tests).
    #[arg(long, value_name = "FILE")]
    pub screen_text_on_exit: Option<std::path::PathBuf>,

    /// QEMU's test devices: pc-testdev (ports 0xE0-0xE7, IRQ control at 0x2000, MMIO at
    /// 0xFF000000) beside the always-present isa-debug-exit.
    #[arg(long)]
    pub test_devices: bool,

    /// Linux bzImage booted directly through the 32-bit boot protocol, as QEMU's -kernel: the
    /// CPU starts at the kernel's entry point instead of the reset vector, and no BIOS runs.
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<std::path::PathBuf>,

    /// Initial ramdisk for --kernel, as QEMU's -initrd. For a Multiboot kernel: its modules,
    /// comma-separated, each a file optionally followed by its arguments (",," is a comma).
    #[arg(long, value_name = "FILE", requires = "kernel")]
    pub initrd: Option<std::path::PathBuf>,

    /// Kernel command line for --kernel, as QEMU's -append.
    #[arg(long, value_name = "STRING", requires = "kernel")]
    pub append: Option<String>,

    /// Guest RAM size; K, M and G suffixes accepted.
    #[arg(short = 'm', long = "memory", value_name = "SIZE", default_value = "128M", value_parser = parse_size)]
    pub memory: u64,

    /// Where port 0xE9 output goes: stdio, none or file:PATH (QEMU's isa-debugcon).
    #[arg(long, value_name = "DEST", default_value = "stdio")]
    pub debugcon: String,

    /// The debug console's port, as QEMU's isa-debugcon `iobase` (SeaBIOS logs to 0x402).
    #[arg(long, value_name = "PORT", default_value = "0xe9", value_parser = parse_port)]
    pub debugcon_iobase: u16,

    /// A serial port: stdio, none, file:PATH or tcp:HOST:PORT (a server; one client at a
    /// time), as QEMU's -serial. The first use is COM1, a second COM2. Default: stdio for
    /// COM1 (none with --display text). On stdio the terminal is raw: Ctrl-C reaches the
    /// guest, and Ctrl-A x quits (Ctrl-A h lists the keys).
    #[arg(long, value_name = "DEST")]
    pub serial: Vec<String>,

    /// Print a `POST xx` line on stderr for each write to port 0x80.
    #[arg(long)]
    pub post_codes: bool,

    /// Exit instead of resetting on triple fault.
    #[arg(long)]
    pub no_reboot: bool,

    /// Execution engine.
    #[arg(long, value_enum, default_value_t = Engine::Interp)]
    pub cpu_engine: Engine,

    /// Write /tmp/perf-PID.map so Linux `perf` names translated code by guest address
    /// (with `--cpu-engine jit`), as QEMU's -perfmap.
    #[arg(long)]
    pub perfmap: bool,

    /// Size bound of the JIT's translated-code cache; when full it is flushed and refilled.
    #[arg(long, value_name = "MB", default_value_t = jit::DEFAULT_CACHE_MB,
          value_parser = clap::builder::ValueParser::new(
              clap::builder::TypedValueParser::map(
                  clap::value_parser!(u16).range(1..=4096), usize::from)))]
    pub jit_cache_mb: usize,

    /// Stop after this many guest instructions (for tests and benchmarks).
    #[arg(long, value_name = "N")]
    pub max_insns: Option<u64>,

    /// Print guest instructions per second on exit.
    #[arg(long)]
    pub stats: bool,
}

impl Args {
    /// The serial ports' destinations, COM1 first, with the default applied.
    pub fn serial_ports(&self) -> Vec<String> {
        if !self.serial.is_empty() {
            return self.serial.clone();
        }
        match self.display {
            Display::Text => vec!["none".into()],
            Display::None => vec!["stdio".into()],
        }
    }

    pub fn logs(&self, item: &str) -> bool {
        self.log.iter().any(|i| i == item)
    }

    /// The --boot order, or QEMU's default (hard disk, CD-ROM, floppy).
    pub fn boot_order(&self) -> &str {
        self.boot.as_deref().unwrap_or("cda")
    }
}

/// Accepts QEMU's `-boot` spellings: `d`, `cad`, `order=dc`, `once=d`.
pub fn parse_boot_order(s: &str) -> Result<String, String> {
    let order = s
        .strip_prefix("order=")
        .or_else(|| s.strip_prefix("once="))
        .unwrap_or(s);
    if order.is_empty() {
        return Err("empty boot order (use letters a, c and d, e.g. --boot d)".into());
    }
    for c in order.chars() {
        if !matches!(c, 'a' | 'c' | 'd') {
            return Err(format!(
                "unknown boot device '{c}' (a = floppy, c = hard disk, d = CD-ROM)"
            ));
        }
    }
    Ok(order.to_string())
}

pub fn parse_log_item(s: &str) -> Result<String, String> {
    match s {
        "unimp" => Ok(s.to_string()),
        other => Err(format!("unknown log item '{other}' (known: unimp)")),
    }
}

pub fn parse_trace_item(s: &str) -> Result<String, String> {
    match s {
        "jit" => Ok(s.to_string()),
        other => Err(format!("unknown trace item '{other}' (known: jit)")),
    }
}

/// Parses a port number in hex (`0x402`) or decimal.
pub fn parse_port(s: &str) -> Result<u16, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("invalid port '{s}' (use e.g. 0x402)"))
}

/// Parses `128M`, `1G`, `65536`, `640K`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1 << 20),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size '{s}' (use e.g. 128M or 1G)"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size '{s}' is too large"))?;
    if !(1 << 20..=3584 << 20).contains(&bytes) {
        return Err(format!("memory size '{s}' must be between 1M and 3584M"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_flags() {
        let a = Args::try_parse_from([
            "ringside",
            "--kernel",
            "bz",
            "--initrd",
            "rd",
            "--append",
            "console=ttyS0",
        ])
        .unwrap();
        assert_eq!(a.kernel.as_deref(), Some(std::path::Path::new("bz")));
        assert_eq!(a.initrd.as_deref(), Some(std::path::Path::new("rd")));
        assert_eq!(a.append.as_deref(), Some("console=ttyS0"));
        let e = Args::try_parse_from(["ringside", "--initrd", "rd"]).unwrap_err();
        assert!(e.to_string().contains("--kernel"), "{e}");
        assert!(Args::try_parse_from(["ringside", "--append", "x"]).is_err());
    }

    #[test]
    fn media_and_boot_flags() {
        let a = Args::try_parse_from([
            "ringside", "--hda", "d.img", "--cdrom", "x.iso", "--boot", "order=dc", "--log",
            "unimp",
        ])
        .unwrap();
        assert_eq!(a.boot_order(), "dc");
        assert!(a.logs("unimp"));
        assert_eq!(a.serial_ports(), ["stdio"]);
        let e = Args::try_parse_from(["ringside", "--boot", "z"]).unwrap_err();
        assert!(e.to_string().contains("unknown boot device 'z'"), "{e}");
        assert!(Args::try_parse_from(["ringside", "--cdrom", "a", "--hdc", "b"]).is_err());
        assert!(Args::try_parse_from(["ringside", "--log", "everything"]).is_err());
        let t = Args::try_parse_from(["ringside", "--display", "text"]).unwrap();
        assert_eq!(t.serial_ports(), ["none"]);
        let two =
            Args::try_parse_from(["ringside", "--serial", "none", "--serial", "file:x"]).unwrap();
        assert_eq!(two.serial_ports(), ["none", "file:x"]);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("128M").unwrap(), 128 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(
            parse_size("64").unwrap(),
            64 << 20,
            "bare numbers are MiB, as in QEMU"
        );
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("8G").is_err());
    }
}
