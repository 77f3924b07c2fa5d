//! Command-line flags, named after QEMU's where QEMU has one.

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    Interp,
    Jit,
}

#[derive(Parser, Debug)]
#[command(
    name = "ringside",
    version,
    about = "A full-system x86 PC emulator by binary translation"
)]
pub struct Args {
    /// ROM image run from reset (F000:FFF0), mapped at the top of 4 GiB, as QEMU's -bios.
    /// Without it Ringside runs its built-in demo ROM.
    #[arg(long, value_name = "FILE")]
    pub bios: Option<std::path::PathBuf>,

    /// Linux bzImage booted directly through the 32-bit boot protocol, as QEMU's -kernel: the
    /// CPU starts at the kernel's entry point instead of the reset vector, and no BIOS runs.
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<std::path::PathBuf>,

    /// Initial ramdisk for --kernel, as QEMU's -initrd.
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

    /// COM1: stdio, none or file:PATH (QEMU's -serial). Keyboard input on stdio goes to the
    /// guest's COM1.
    #[arg(long, value_name = "DEST", default_value = "stdio")]
    pub serial: String,

    /// Print a `POST xx` line on stderr for each write to port 0x80.
    #[arg(long)]
    pub post_codes: bool,

    /// Exit instead of resetting on triple fault.
    #[arg(long)]
    pub no_reboot: bool,

    /// Execution engine.
    #[arg(long, value_enum, default_value_t = Engine::Interp)]
    pub cpu_engine: Engine,

    /// Stop after this many guest instructions (for tests and benchmarks).
    #[arg(long, value_name = "N")]
    pub max_insns: Option<u64>,

    /// Print guest instructions per second on exit.
    #[arg(long)]
    pub stats: bool,
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
