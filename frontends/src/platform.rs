//! Assembles the PC: the port bus with its legacy devices, their interrupt lines and clock.

use std::io::Write;
use std::sync::Arc;

use std::path::Path;

use anyhow::{bail, Context, Result};
use devices::block::{DiskImage, DiskOptions};
use emu_core::bus::PortBus;
use emu_core::clock::Clock;
use emu_core::control::MachineControl;
use emu_core::irq::IrqLines;

use crate::cli::Args;
use devices::unimp::UnimpLog;

use crate::chardev;
use crate::sinks::output_sink;
use crate::terminal::{spawn_stdin_reader, RawTerminal};

/// The device bus and what must live as long as the machine runs.
pub struct Platform {
    pub io: PortBus,
    /// Raw mode of the controlling terminal, restored on drop.
    pub terminal: Option<RawTerminal>,
    /// What the VGA card shows.
    pub display: devices::vga::DisplayHandle,
}

/// The ISA devices every Ringside PC has.
pub fn build_port_bus(
    args: &Args,
    control: &Arc<MachineControl>,
    clock: &Clock,
    irq: &IrqLines,
) -> Result<Platform> {
    let mut terminal = None;
    let mut io = PortBus::default();
    let irq = irq.clone();
    if let Some(sink) = output_sink("debugcon", &args.debugcon)? {
        io.register(
            [args.debugcon_iobase],
            Box::new(devices::DebugCon::new(sink)),
        );
    }
    let post: Option<Box<dyn Write + Send>> = if args.post_codes {
        Some(Box::new(std::io::stderr()))
    } else {
        None
    };
    io.register([0x80], Box::new(devices::PostCard::new(post)));
    io.register(
        [0xF4],
        Box::new(devices::IsaDebugExit::new(control.clone())),
    );
    io.register(
        [0x92],
        Box::new(devices::SystemControlA::new(control.clone())),
    );
    io.register(
        [devices::ferr_latch::FERR_LATCH_PORT],
        Box::new(devices::ferr_latch::FerrLatch::new(irq.clone())),
    );
    let (below_4g, above_4g) = devices::cmos::split_ram(args.memory);
    io.register(
        devices::fw_cfg::FW_CFG_PORTS,
        Box::new(fw_cfg(below_4g, above_4g)),
    );
    let log = if args.logs("unimp") {
        UnimpLog::to(Box::new(std::io::stderr()))
    } else {
        UnimpLog::disabled()
    };
    let mut pci = devices::pci::pc(control.clone(), clock.clone(), irq.clone());
    pci.set_unimp_log(log.clone());
    let display = devices::vga::DisplayHandle::new();
    pci.register(
        2,
        0,
        Box::new(devices::vga::StdVga::new(
            crate::setup::vga_bios(args)?,
            clock.clone(),
            display.clone(),
            log.clone(),
        )),
    );
    // The interrupt controller's APIC pages are asked before the PCI BARs a guest might
    // place over them.
    let mut router = devices::apic::InterruptRouter::new(irq.clone(), clock.clone());
    router.set_unimp_log(log.clone());
    let intc = io.register_interrupt_controller(devices::apic::ROUTER_PORTS, Box::new(router));
    io.decode_mmio(intc);
    pci.register(
        devices::ide::PCI_DEVICE,
        devices::ide::PCI_FUNCTION,
        Box::new(ide_controller(args, &irq, control, &log)?),
    );
    let floppy = floppy_controller(args, &irq, control, &log)?;
    let floppy_types = [floppy.drive_type(0), floppy.drive_type(1)];
    io.register(devices::floppy::ports(), Box::new(floppy));
    let pci = io.register(devices::pci::ports(), Box::new(pci));
    io.set_default_port_device(pci);
    io.decode_mmio(pci);

    io.register(
        devices::pit::PIT_PORTS,
        Box::new(devices::pit::Pit8254::new(clock.clone(), irq.clone())),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut cmos = devices::cmos::Cmos::new(clock.clone(), irq.clone(), now);
    cmos.set_memory_size(args.memory);
    cmos.set_pc_config(args.boot_order(), floppy_types);
    io.register(devices::cmos::CMOS_PORTS, Box::new(cmos));
    let serials = args.serial_ports();
    let kbc = devices::i8042::I8042::new(irq.clone(), control.clone());
    // With the screen in this terminal, typing goes to the PC keyboard (unless a serial port
    // took standard input).
    if args.display == crate::cli::Display::Text && !serials.iter().any(|s| s == "stdio") {
        terminal = RawTerminal::enable();
        crate::terminal::spawn_keyboard_reader(
            terminal.is_some(),
            control.clone(),
            kbc.input_handle(),
        );
    }
    io.register(devices::i8042::I8042_PORTS, Box::new(kbc));
    if args.test_devices {
        let dev = devices::testdev::PcTestDev::new(irq.clone()).with_unimp_log(log.clone());
        let id = io.register(devices::testdev::ports(), Box::new(dev));
        io.decode_mmio(id);
    }
    if serials.len() > COM_PORTS.len() {
        bail!("at most {} --serial ports (COM1, COM2)", COM_PORTS.len());
    }
    if serials.iter().filter(|s| *s == "stdio").count() > 1 {
        bail!("only one --serial port can use stdio");
    }
    for (spec, (base, line)) in serials.iter().zip(COM_PORTS) {
        let Some(dev) = chardev::open("serial", spec)? else {
            continue;
        };
        let uart = devices::serial::Serial16550::new(base, line, irq.clone(), dev.output);
        let input = uart.input_handle();
        match dev.input {
            Some(chardev::Input::Stdin) => {
                terminal = RawTerminal::enable();
                spawn_stdin_reader(terminal.is_some(), control.clone(), move |b| {
                    input.send_bytes(b)
                });
            }
            Some(chardev::Input::Tcp(server)) => server.serve(move |b| input.send_bytes(b)),
            None => {}
        }
        io.register(uart.ports(), Box::new(uart));
    }
    Ok(Platform {
        io,
        terminal,
        display,
    })
}

/// QEMU's fw_cfg with what SeaBIOS reads on QEMU's pc machine, our ACPI tables through the
/// table loader included (so SeaBIOS installs them instead of building its own).
fn fw_cfg(below_4g: u64, above_4g: u64) -> devices::fw_cfg::FwCfg {
    let mut f = devices::fw_cfg::FwCfg::pc(below_4g, above_4g, 1, &[]);
    let acpi = firmware::acpi::AcpiConfig::seabios(below_4g);
    for (name, data) in firmware::table_loader::acpi_fw_cfg_files(&acpi) {
        f.add_file(&name, data);
    }
    f
}

fn open_image(path: &Path, opts: DiskOptions, what: &str) -> Result<DiskImage> {
    DiskImage::open(path, opts)
        .with_context(|| format!("cannot open {what} image '{}'", path.display()))
}

/// The PIIX3 IDE function with the drives QEMU's flags name: hda/hdb on the primary channel,
/// hdc (or the CD-ROM, as QEMU places -cdrom) and hdd on the secondary. Without --cdrom or
/// --hdc an empty CD-ROM drive sits at the secondary master, as on QEMU's pc machine.
fn ide_controller(
    args: &Args,
    irq: &IrqLines,
    control: &Arc<MachineControl>,
    log: &UnimpLog,
) -> Result<devices::ide::IdeController> {
    use devices::ide::{Drive, IdeController};
    let mut ide = IdeController::new(irq.clone(), control.clone(), log.clone());
    let disk_opts = DiskOptions {
        read_only: false,
        snapshot: args.snapshot,
    };
    let slots = [
        (&args.hda, 0, false),
        (&args.hdb, 0, true),
        (&args.hdc, 1, false),
        (&args.hdd, 1, true),
    ];
    for (path, channel, slave) in slots {
        if let Some(p) = path {
            let disk = open_image(p, disk_opts, "disk")?;
            if disk.len() < 512 {
                bail!("disk image '{}' is smaller than one sector", p.display());
            }
            ide.attach(channel, slave, Drive::HardDisk(disk));
        }
    }
    if args.hdc.is_none() {
        let medium = match &args.cdrom {
            Some(p) => {
                let iso = open_image(
                    p,
                    DiskOptions {
                        read_only: true,
                        snapshot: false,
                    },
                    "CD-ROM",
                )?;
                if iso.len() < 2048 {
                    bail!(
                        "CD-ROM image '{}' is smaller than one 2 KiB sector",
                        p.display()
                    );
                }
                Some(iso)
            }
            None => None,
        };
        ide.attach(1, false, Drive::CdRom(medium));
    }
    Ok(ide)
}

/// ISA DMA and the floppy controller with the --fda/--fdb images.
fn floppy_controller(
    args: &Args,
    irq: &IrqLines,
    control: &Arc<MachineControl>,
    log: &UnimpLog,
) -> Result<devices::floppy::IsaDmaFloppy> {
    let mut fdc = devices::floppy::IsaDmaFloppy::new(irq.clone(), control.clone(), log.clone());
    for (drive, path) in [(0, &args.fda), (1, &args.fdb)] {
        if let Some(p) = path {
            let opts = DiskOptions {
                read_only: false,
                snapshot: args.snapshot,
            };
            fdc.insert(drive, open_image(p, opts, "floppy")?)
                .with_context(|| format!("floppy image '{}'", p.display()))?;
        }
    }
    Ok(fdc)
}

/// COM1 and COM2: base port and ISA interrupt line.
const COM_PORTS: [(u16, u8); 2] = [
    (devices::serial::COM1_BASE, devices::serial::COM1_IRQ),
    (devices::serial::COM2_BASE, devices::serial::COM2_IRQ),
];
