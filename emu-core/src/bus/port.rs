//! The I/O port bus: a flat table from port number to device.

use super::{InterruptController, PortDevice};

/// Reads from ports nobody decodes float high on ISA, so return all ones.
const OPEN_BUS: u32 = 0xFFFF_FFFF;

pub struct PortBus {
    devices: Vec<Box<dyn PortDevice>>,
    /// Per port: index + 1 into `devices`, or 0 when unclaimed.
    map: Vec<u16>,
    /// Unclaimed ports the guest touched, for `--log unimp` style reporting.
    pub unclaimed_hits: u64,
    /// Index into `devices` of the interrupt controller, if one is registered.
    intc: Option<usize>,
}

impl Default for PortBus {
    fn default() -> Self {
        PortBus {
            devices: Vec::new(),
            map: vec![0; 0x10000],
            unclaimed_hits: 0,
            intc: None,
        }
    }
}

impl PortBus {
    /// Claims `ports` for `device`. Later registrations win, so a machine can override.
    pub fn register(&mut self, ports: impl IntoIterator<Item = u16>, device: Box<dyn PortDevice>) {
        self.devices.push(device);
        let id = self.devices.len() as u16;
        for p in ports {
            self.map[p as usize] = id;
        }
    }

    /// Registers the device that is also the CPU's interrupt controller.
    pub fn register_interrupt_controller(
        &mut self,
        ports: impl IntoIterator<Item = u16>,
        device: Box<dyn PortDevice>,
    ) {
        self.register(ports, device);
        self.intc = Some(self.devices.len() - 1);
    }

    /// The interrupt controller, when the machine has one.
    #[inline]
    pub fn interrupt_controller(&mut self) -> Option<&mut dyn InterruptController> {
        let id = self.intc?;
        self.devices[id].as_interrupt_controller()
    }

    /// Machine RESET for every device.
    pub fn reset_devices(&mut self) {
        for d in self.devices.iter_mut() {
            d.reset();
        }
    }

    /// Fires due device timers; returns the earliest next deadline.
    pub fn poll_timers(&mut self, now_ns: u64) -> Option<u64> {
        self.devices
            .iter_mut()
            .filter_map(|d| d.poll_timer(now_ns))
            .min()
    }

    pub fn has_interrupt_controller(&self) -> bool {
        self.intc.is_some()
    }

    pub fn read(&mut self, port: u16, size: u8) -> u32 {
        match self.map[port as usize] {
            0 => {
                self.unclaimed_hits += 1;
                OPEN_BUS >> (32 - 8 * size as u32)
            }
            id => self.devices[id as usize - 1].read(port, size),
        }
    }

    pub fn write(&mut self, port: u16, size: u8, value: u32) {
        match self.map[port as usize] {
            0 => self.unclaimed_hits += 1,
            id => self.devices[id as usize - 1].write(port, size, value),
        }
    }
}
