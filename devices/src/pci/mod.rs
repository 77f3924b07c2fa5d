//! PCI configuration space of QEMU's `pc` machine: configuration mechanism #1 on ports
//! 0xCF8/0xCFC, the i440FX host bridge (00:00.0), the PIIX3 ISA bridge (00:01.0) with its
//! reset control register at 0xCF9, and the PIIX4 ACPI power management function (00:01.3)
//! with its PM I/O block and the APM ports 0xB2/0xB3.
//!
//! Only bus 0 exists. Other functions (VGA, IDE, NICs) are added with [`PciBus::register`].
//! The bus owns them: it is the machine's default port device and an MMIO decoder, and hands
//! each port, memory access, DMA turn and timer poll to the functions, which decode their own
//! BARs (so a BAR the firmware moves needs no remapping anywhere else).
//!
//! The machine should call [`PciBus::reset`] on every system reset (a 0xCF9 reset does it
//! itself): it returns the PAM registers to ROM and asks the machine to remap.

pub mod acpi_pm;
pub mod config;
pub mod i440fx;
pub mod piix3;

use std::sync::Arc;

use emu_core::bus::{DmaMemory, PortDevice};
use emu_core::clock::Clock;
use emu_core::control::{MachineControl, REQ_RESET};
use emu_core::irq::IrqLines;

use crate::unimp::UnimpLog;

pub use acpi_pm::{AcpiPm, AcpiPmState};
pub use config::{ConfigSpace, PciId};
pub use i440fx::{I440fx, I440fxState};
pub use piix3::{Piix3, Piix3State};

/// One function's configuration space as seen through the host bridge. `reg` is the byte
/// offset (0-255) and `size` 1, 2 or 4; accesses never cross a dword boundary except from
/// misbehaving guests, and `reg + size` may then pass 256.
pub trait PciFunction {
    fn config_read(&mut self, reg: u8, size: u8) -> u32;
    fn config_write(&mut self, reg: u8, size: u8, value: u32);

    /// A port access the function decodes (legacy ports or an enabled I/O BAR); `None` when
    /// it does not.
    fn io_read(&mut self, port: u16, size: u8) -> Option<u32> {
        let _ = (port, size);
        None
    }
    /// Returns whether the function decoded the write.
    fn io_write(&mut self, port: u16, size: u8, value: u32) -> bool {
        let _ = (port, size, value);
        false
    }
    /// A memory access outside RAM/ROM that the function decodes (memory BAR, expansion ROM
    /// BAR, legacy windows such as VGA's 0xA0000).
    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        let _ = (addr, size);
        None
    }
    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> bool {
        let _ = (addr, size, value);
        false
    }
    /// Bus mastering, after the function raised `REQ_DMA`.
    fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        let _ = mem;
    }
    /// Timers, as `PortDevice::poll_timer`.
    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        let _ = now_ns;
        None
    }
    /// Machine RESET.
    fn reset(&mut self) {}
}

pub const CONFIG_ADDRESS: u16 = 0xCF8;
pub const CONFIG_DATA: u16 = 0xCFC;
/// PIIX3 reset control register.
pub const RESET_CONTROL: u16 = 0xCF9;

/// Device/function numbers as `devfn` (device << 3 | function).
pub const fn devfn(device: u8, function: u8) -> u8 {
    (device << 3) | (function & 7)
}
pub const HOST_BRIDGE_DEVFN: u8 = devfn(0, 0);
pub const ISA_BRIDGE_DEVFN: u8 = devfn(1, 0);
pub const PM_DEVFN: u8 = devfn(1, 3);

/// CONFIG_ADDRESS bits that hold state: enable (31), bus (23:16), device (15:11),
/// function (10:8), register (7:2).
const CONFIG_ADDRESS_MASK: u32 = 0x80FF_FFFC;
const CONFIG_ENABLE: u32 = 1 << 31;

/// The fixed ports [`PciBus`] decodes; BARs (the PM block's among them) arrive through the
/// bus's default-port route.
pub fn ports() -> Vec<u16> {
    let mut p: Vec<u16> = (CONFIG_ADDRESS..=0xCFF).collect();
    p.extend([acpi_pm::APMC, acpi_pm::APMS]);
    p
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciBusState {
    pub config_address: u32,
    pub host: I440fxState,
    pub isa: Piix3State,
    pub pm: AcpiPmState,
}

pub struct PciBus {
    config_address: u32,
    pub host: I440fx,
    pub isa: Piix3,
    pub pm: AcpiPm,
    /// Functions added by the machine, by devfn.
    others: Vec<(u8, Box<dyn PciFunction>)>,
    /// Ports that reached the bus and that no function decoded (the machine's open bus).
    pub unclaimed_ports: u64,
    log: UnimpLog,
    control: Arc<MachineControl>,
}

/// The standard `pc` set: i440FX at 00:00.0, PIIX3 at 00:01.0, PIIX4 PM at 00:01.3.
pub fn pc(control: Arc<MachineControl>, clock: Clock, irq: IrqLines) -> PciBus {
    PciBus {
        config_address: 0,
        host: I440fx::new(control.clone()),
        isa: Piix3::new(),
        pm: AcpiPm::new(control.clone(), clock, irq),
        others: Vec::new(),
        unclaimed_ports: 0,
        log: UnimpLog::disabled(),
        control,
    }
}

impl PciBus {
    /// Adds a function at 00:`device`.`function`; a later registration at the same address
    /// replaces the earlier one. The built-in functions' addresses are taken.
    pub fn register(&mut self, device: u8, function: u8, f: Box<dyn PciFunction>) {
        assert!(device < 32 && function < 8, "bad PCI address");
        let df = devfn(device, function);
        assert!(
            ![HOST_BRIDGE_DEVFN, ISA_BRIDGE_DEVFN, PM_DEVFN].contains(&df),
            "00:{device:02x}.{function} is built in"
        );
        self.others.retain(|(d, _)| *d != df);
        self.others.push((df, f));
    }

    /// Where accesses to ports nobody decodes are reported (`--log unimp`).
    pub fn set_unimp_log(&mut self, log: UnimpLog) {
        self.log = log;
    }

    pub fn config_address(&self) -> u32 {
        self.config_address
    }

    /// PIRQA-D route registers of the ISA bridge (0x80 = disabled).
    pub fn pirq_routes(&self) -> [u8; 4] {
        self.isa.pirq_routes()
    }

    /// ACPI power button press (the front end's "system_powerdown").
    pub fn power_button(&mut self) {
        self.pm.power_button();
    }

    /// Power-on state of the chipset registers.
    pub fn reset(&mut self) {
        self.config_address = 0;
        self.host.reset();
        self.isa.reset();
        self.pm.reset();
        for (_, f) in self.others.iter_mut() {
            f.reset();
        }
    }

    fn function(&mut self, df: u8) -> Option<&mut dyn PciFunction> {
        match df {
            HOST_BRIDGE_DEVFN => Some(&mut self.host),
            ISA_BRIDGE_DEVFN => Some(&mut self.isa),
            PM_DEVFN => Some(&mut self.pm),
            _ => self
                .others
                .iter_mut()
                .find(|(d, _)| *d == df)
                .map(|(_, f)| f.as_mut() as &mut dyn PciFunction),
        }
    }

    /// Function and register selected by CONFIG_ADDRESS for a data access at `port`.
    fn target(&self, port: u16) -> Option<(u8, u8)> {
        let a = self.config_address;
        if a & CONFIG_ENABLE == 0 || (a >> 16) & 0xFF != 0 {
            return None;
        }
        let reg = (a & 0xFC) as u8 | (port & 3) as u8;
        Some(((a >> 8) as u8, reg))
    }

    /// Reads a function's configuration space directly (for the machine and tests).
    pub fn config_read(&mut self, device: u8, function: u8, reg: u8, size: u8) -> u32 {
        match self.function(devfn(device, function)) {
            Some(f) => f.config_read(reg, size),
            None => ones(size),
        }
    }

    pub fn config_write(&mut self, device: u8, function: u8, reg: u8, size: u8, value: u32) {
        if let Some(f) = self.function(devfn(device, function)) {
            f.config_write(reg, size, value);
        }
    }

    pub fn state(&self) -> PciBusState {
        PciBusState {
            config_address: self.config_address,
            host: self.host.state(),
            isa: self.isa.state(),
            pm: self.pm.state(),
        }
    }

    /// Restores the chipset; the machine gets a shadow request for the whole PAM window.
    pub fn restore(&mut self, s: PciBusState) {
        self.config_address = s.config_address;
        self.host.restore(s.host);
        self.isa.restore(s.isa);
        self.pm.restore(s.pm);
    }
}

impl PciBus {
    /// Port 0xCF9: a reset request resets the chipset and then the machine.
    fn write_rcr(&mut self, v: u8) {
        if self.isa.write_rcr(v) {
            self.reset();
            self.control.raise(REQ_RESET);
        }
    }
}

fn ones(size: u8) -> u32 {
    u32::MAX >> (32 - 8 * size.clamp(1, 4) as u32)
}

impl PortDevice for PciBus {
    fn reset(&mut self) {
        PciBus::reset(self);
    }

    fn read(&mut self, port: u16, size: u8) -> u32 {
        match port {
            RESET_CONTROL if size == 1 => self.isa.rcr() as u32,
            CONFIG_ADDRESS..=0xCFB => {
                // Dword reads return the register; narrower reads see its bytes.
                (self.config_address >> (8 * (port - CONFIG_ADDRESS))) & ones(size)
            }
            CONFIG_DATA..=0xCFF => match self.target(port) {
                Some((df, reg)) => match self.function(df) {
                    Some(f) => f.config_read(reg, size),
                    None => ones(size),
                },
                None => ones(size),
            },
            acpi_pm::APMC | acpi_pm::APMS => self.pm.apm_read(port) as u32,
            _ => match self.pm.io_offset(port) {
                Some(off) => self.pm.io_read(off, size),
                None => self
                    .others
                    .iter_mut()
                    .find_map(|(_, f)| f.io_read(port, size))
                    .unwrap_or_else(|| {
                        self.unclaimed_ports += 1;
                        self.log
                            .report("bus", format_args!("read from I/O port {port:#06x}"));
                        ones(size)
                    }),
            },
        }
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        match port {
            RESET_CONTROL if size == 1 => self.write_rcr(value as u8),
            // Only dword writes reach CONFIG_ADDRESS; narrower ones go to the ISA bus.
            CONFIG_ADDRESS if size == 4 => self.config_address = value & CONFIG_ADDRESS_MASK,
            CONFIG_ADDRESS..=0xCFB => {}
            CONFIG_DATA..=0xCFF => {
                if let Some((df, reg)) = self.target(port) {
                    if let Some(f) = self.function(df) {
                        f.config_write(reg, size, value);
                    }
                }
            }
            acpi_pm::APMC | acpi_pm::APMS => self.pm.apm_write(port, value as u8),
            _ => {
                if let Some(off) = self.pm.io_offset(port) {
                    self.pm.io_write(off, size, value)
                } else if !self
                    .others
                    .iter_mut()
                    .any(|(_, f)| f.io_write(port, size, value))
                {
                    self.unclaimed_ports += 1;
                    self.log
                        .report("bus", format_args!("write to I/O port {port:#06x}"));
                }
            }
        }
    }

    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        let pm = self.pm.poll(now_ns);
        self.others
            .iter_mut()
            .filter_map(|(_, f)| f.poll_timer(now_ns))
            .chain(pm)
            .min()
    }

    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        self.others
            .iter_mut()
            .find_map(|(_, f)| f.mmio_read(addr, size))
    }

    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> bool {
        self.others
            .iter_mut()
            .any(|(_, f)| f.mmio_write(addr, size, value))
    }

    fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        for (_, f) in self.others.iter_mut() {
            f.run_dma(mem);
        }
    }
}

#[cfg(test)]
mod tests;
