//! Assembles the PC: the port bus with its legacy devices, their interrupt lines and clock.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use emu_core::bus::PortBus;
use emu_core::clock::Clock;
use emu_core::control::MachineControl;
use emu_core::irq::IrqLines;

use crate::cli::Args;
use crate::sinks::output_sink;

/// The ISA devices every Ringside PC has.
pub fn build_port_bus(
    args: &Args,
    control: &Arc<MachineControl>,
    clock: &Clock,
    irq: &IrqLines,
) -> Result<PortBus> {
    let mut io = PortBus::default();
    let irq = irq.clone();
    if let Some(sink) = output_sink("debugcon", &args.debugcon)? {
        io.register([0xE9], Box::new(devices::DebugCon::new(sink)));
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
        Box::new(devices::fw_cfg::FwCfg::pc(below_4g, above_4g, 1, &[])),
    );
    let pci = devices::pci::pc(control.clone(), clock.clone(), irq.clone());
    let pci = io.register(devices::pci::ports(), Box::new(pci));
    io.set_default_port_device(pci);
    io.decode_mmio(pci);
    io.register_interrupt_controller(
        devices::pic::PIC_PORTS,
        Box::new(devices::DualPic::new(irq.clone())),
    );
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
    io.register(devices::cmos::CMOS_PORTS, Box::new(cmos));
    io.register(
        devices::i8042::I8042_PORTS,
        Box::new(devices::i8042::I8042::new(irq.clone(), control.clone())),
    );
    if let Some(sink) = output_sink("serial", &args.serial)? {
        let com1 = devices::serial::Serial16550::new(
            devices::serial::COM1_BASE,
            devices::serial::COM1_IRQ,
            irq.clone(),
            sink,
        );
        if args.serial == "stdio" {
            spawn_stdin_reader(com1.input_handle());
        }
        io.register(com1.ports(), Box::new(com1));
    }
    Ok(io)
}

/// Feeds standard input to the guest's COM1 from a thread of its own.
fn spawn_stdin_reader(input: devices::serial::SerialInput) {
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || !input.send_bytes(&buf[..n]) {
                break;
            }
        }
    });
}
