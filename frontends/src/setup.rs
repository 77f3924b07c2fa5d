//! Builds the machine the flags describe and runs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use emu_core::clock::{Clock, ClockMode};
use emu_core::control::MachineControl;
use emu_core::cpu::Cpu;
use emu_core::engine::{ExecutionEngine, Interpreter};
use emu_core::machine::{Machine, MachineExit};
use emu_core::memory::PhysicalMemory;

use crate::cli::{Args, Engine};

/// Largest ROM accepted (QEMU's limit for -bios on the PC machine is similar).
const MAX_ROM: u64 = 16 << 20;

/// Where Debian's `seabios` package installs its ROMs.
const SEABIOS_DIR: &str = "/usr/share/seabios";

/// The --bios file, with `seabios` standing for Debian's SeaBIOS.
pub fn bios_path(args: &Args) -> Result<Option<PathBuf>> {
    let Some(path) = &args.bios else {
        return Ok(None);
    };
    if path.as_os_str() != "seabios" {
        return Ok(Some(path.clone()));
    }
    let p = Path::new(SEABIOS_DIR).join("bios.bin");
    if !p.is_file() {
        bail!(
            "--bios seabios: {} not found; install it with `apt-get install seabios` or give --bios FILE",
            p.display()
        );
    }
    Ok(Some(p))
}

/// The VGA card's option ROM: --vga-bios, else vgabios-stdvga.bin beside the BIOS, else
/// Debian's. Without a BIOS nothing would run it, so none is looked for.
pub fn vga_bios(args: &Args) -> Result<Option<Vec<u8>>> {
    if let Some(p) = &args.vga_bios {
        let rom =
            std::fs::read(p).with_context(|| format!("cannot read VGA BIOS '{}'", p.display()))?;
        if rom.is_empty() || rom.len() > 256 << 10 {
            bail!(
                "VGA BIOS '{}' is {} bytes; expected 1 byte to 256 KiB",
                p.display(),
                rom.len()
            );
        }
        return Ok(Some(rom));
    }
    let Some(bios) = bios_path(args)? else {
        return Ok(None);
    };
    let beside = bios.parent().map(|d| d.join("vgabios-stdvga.bin"));
    let debian = Path::new(SEABIOS_DIR).join("vgabios-stdvga.bin");
    for candidate in beside.into_iter().chain([debian]) {
        if let Ok(rom) = std::fs::read(&candidate) {
            if !rom.is_empty() && rom.len() <= 256 << 10 {
                return Ok(Some(rom));
            }
        }
    }
    eprintln!("ringside: warning: no vgabios-stdvga.bin found (give --vga-bios FILE); the screen stays in its power-on text mode");
    Ok(None)
}

/// The ROM mapped below 4 GiB. With --kernel it is still mapped (the top-of-4G and F-segment
/// windows must decode) but never run, since the CPU starts at the kernel's entry point.
fn load_rom(args: &Args) -> Result<Vec<u8>> {
    let Some(path) = bios_path(args)? else {
        return Ok(firmware::demo::demo_rom());
    };
    let path = &path;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open ROM '{}'", path.display()))?;
    if meta.is_dir() {
        bail!("ROM '{}' is a directory", path.display());
    }
    let len = meta.len();
    if len == 0 {
        bail!("ROM '{}' is empty", path.display());
    }
    if len > MAX_ROM {
        bail!(
            "ROM '{}' is {} bytes; the largest supported is {} MiB",
            path.display(),
            len,
            MAX_ROM >> 20
        );
    }
    if len % 65536 != 0 {
        bail!(
            "ROM '{}' is {} bytes; a BIOS image must be a multiple of 64 KiB",
            path.display(),
            len
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read ROM '{}'", path.display()))
}

/// Does what a BIOS does before handing over to an ACPI OS: enables the PIIX4 PM function's
/// I/O block (00:01.3) at the address the FADT names, through PCI configuration mechanism #1.
fn enable_pm_block(cpu: &mut Cpu) {
    let cfg = |reg: u32| 0x8000_0000 | (1 << 11) | (3 << 8) | reg;
    let pm_base = firmware::acpi::AcpiConfig::default().pm_base as u32;
    cpu.io.write(0xCF8, 4, cfg(0x40)); // PMBA
    cpu.io.write(0xCFC, 4, pm_base | 1);
    cpu.io.write(0xCF8, 4, cfg(0x80)); // PMREGMISC: PMIOSE
    cpu.io.write(0xCFC, 1, 1);
}

/// Direct kernel boot, as QEMU's -kernel: a Multiboot kernel when the image has a Multiboot
/// header (and is not a bzImage), else Linux.
fn boot_kernel(args: &Args, kernel: &Path, cpu: &mut Cpu) -> Result<()> {
    let append = args.append.as_deref().unwrap_or("");
    let image = std::fs::read(kernel)
        .with_context(|| format!("cannot read kernel '{}'", kernel.display()))?;
    if firmware::multiboot::is_multiboot(&image) {
        let mods = args
            .initrd
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned());
        let info = firmware::multiboot::load_multiboot(cpu, kernel, mods.as_deref(), append)?;
        eprintln!(
            "ringside: Multiboot kernel, entry {:#x}, {} module(s)",
            info.entry,
            info.modules.len()
        );
    } else {
        let info = firmware::linux::load_linux(cpu, kernel, args.initrd.as_deref(), append)?;
        eprintln!(
            "ringside: Linux {} (boot protocol {}.{:02}), {} KiB at {:#x}, initrd {} KiB at {:#x}",
            info.header
                .kernel_version
                .as_deref()
                .unwrap_or("(no version string)"),
            info.header.version >> 8,
            info.header.version & 0xFF,
            info.kernel_size >> 10,
            info.kernel_addr,
            info.initrd_size >> 10,
            info.initrd_addr
        );
    }
    enable_pm_block(cpu);
    // The MP table as well as the MADT, for kernels booted with `acpi=off` (or pre-ACPI).
    firmware::mptable::install(&mut cpu.mem, &firmware::mptable::MpConfig::default());
    Ok(())
}

/// Writes the text screen as plain lines (for tests and scripts that check what a guest
/// showed); a graphics or blank screen writes a one-line description.
fn write_screen_text(display: &devices::vga::DisplayHandle, path: &Path) -> Result<()> {
    let text = match display.screen() {
        devices::vga::Screen::Text(t) => t.lines().join("\n") + "\n",
        devices::vga::Screen::Graphics { width, height, bpp } => {
            format!("[graphics {width}x{height}x{bpp}]\n")
        }
        devices::vga::Screen::Blank => "[blank]\n".into(),
    };
    std::fs::write(path, text)
        .with_context(|| format!("cannot write screen text to '{}'", path.display()))
}

pub fn run(args: &Args) -> Result<i32> {
    let rom = load_rom(args)?;
    let control = Arc::new(MachineControl::new());
    let mem = PhysicalMemory::new(args.memory, &rom).context("cannot allocate guest memory")?;
    let clock = Clock::new(ClockMode::Realtime);
    let irq = emu_core::irq::IrqLines::new();
    let platform = crate::platform::build_port_bus(args, &control, &clock, &irq)?;
    let mut _terminal = platform.terminal;
    let display = platform.display.clone();
    if args.display == crate::cli::Display::Text {
        if _terminal.is_none() {
            _terminal = crate::terminal::RawTerminal::enable();
        }
        crate::display_text::spawn(display.clone());
    }
    let mut cpu = Cpu::new(mem, platform.io, control);
    cpu.clock = clock;
    cpu.irq = irq;
    if let Some(kernel) = &args.kernel {
        boot_kernel(args, kernel, &mut cpu)?;
    }
    let engine: Box<dyn ExecutionEngine> = match args.cpu_engine {
        Engine::Interp => Box::new(Interpreter),
        Engine::Jit => {
            let mut jit = jit::JitEngine::new(args.jit_cache_mb)
                .context("cannot map the JIT's code cache")?;
            if args.trace.iter().any(|t| t == "jit") {
                jit.trace = Some(Box::new(std::io::stderr()));
            }
            if args.perfmap {
                let path = format!("/tmp/perf-{}.map", std::process::id());
                let file = std::fs::File::create(&path)
                    .with_context(|| format!("cannot create {path}"))?;
                jit.enable_perf_map(Box::new(std::io::BufWriter::new(file)));
            }
            Box::new(jit)
        }
    };
    if args.cpu_engine != Engine::Jit && args.trace.iter().any(|t| t == "jit") {
        bail!("--trace jit needs --cpu-engine jit");
    }
    let mut machine = Machine::new(cpu, engine);
    machine.no_reboot = args.no_reboot;
    let start = Instant::now();
    let exit = machine.run(args.max_insns);
    let secs = start.elapsed().as_secs_f64();
    if args.stats {
        let n = machine.cpu.icount;
        eprintln!(
            "ringside: {} instructions in {:.3} s ({:.1} MIPS), {} blocks decoded, {} TLB misses",
            n,
            secs,
            n as f64 / secs / 1e6,
            machine.cpu.icache.blocks_built,
            machine.cpu.tlb.misses
        );
        let engine_stats = machine.engine.stats();
        if !engine_stats.is_empty() {
            eprintln!("ringside: {}: {engine_stats}", machine.engine.name());
        }
    }
    if args.display == crate::cli::Display::Text {
        crate::display_text::restore_terminal();
    }
    if let Some(path) = &args.screen_text_on_exit {
        write_screen_text(&display, path)?;
    }
    let _ = std::io::stdout().flush();
    Ok(match exit {
        MachineExit::Exit(code) => code,
        MachineExit::TripleFault => {
            let s = &machine.cpu.state;
            eprintln!(
                "ringside: triple fault at {:04x}:{:08x}; exiting (--no-reboot)",
                s.seg[1].selector, s.rip
            );
            2
        }
        MachineExit::HaltedForever => {
            let s = &machine.cpu.state;
            eprintln!(
                "ringside: guest halted with interrupts disabled at {:04x}:{:08x}",
                s.seg[1].selector, s.rip
            );
            0
        }
        MachineExit::Stopped => 0,
        MachineExit::InstructionLimit => {
            let s = &machine.cpu.state;
            eprintln!(
                "ringside: stopped after {} instructions (--max-insns) at {:04x}:{:08x}",
                machine.cpu.icount, s.seg[1].selector, s.rip
            );
            0
        }
    })
}
