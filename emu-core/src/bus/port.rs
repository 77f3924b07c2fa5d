//! The device bus: a flat table from port number to device, the devices that decode memory
//! addresses, and the bus masters' DMA hook.

use super::{DmaMemory, InterruptController, PortDevice};

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
    /// Devices asked, in registration order, about memory accesses outside RAM and ROM.
    mmio: Vec<usize>,
    /// The device that gets ports nobody registered (the PCI bus, whose BARs move).
    default_port_device: Option<usize>,
    /// Memory accesses no device decoded, for `--log unimp` style reporting.
    pub unclaimed_mmio_hits: u64,
}

impl Default for PortBus {
    fn default() -> Self {
        PortBus {
            devices: Vec::new(),
            map: vec![0; 0x10000],
            unclaimed_hits: 0,
            intc: None,
            mmio: Vec::new(),
            default_port_device: None,
            unclaimed_mmio_hits: 0,
        }
    }
}

impl PortBus {
    /// Claims `ports` for `device`. Later registrations win, so a machine can override.
    /// Returns the device's index for [`decode_mmio`](Self::decode_mmio) and friends.
    pub fn register(
        &mut self,
        ports: impl IntoIterator<Item = u16>,
        device: Box<dyn PortDevice>,
    ) -> usize {
        self.devices.push(device);
        let id = self.devices.len() as u16;
        for p in ports {
            self.map[p as usize] = id;
        }
        id as usize - 1
    }

    /// Device `id` is asked about memory accesses that miss RAM and ROM.
    pub fn decode_mmio(&mut self, id: usize) {
        self.mmio.push(id);
    }

    /// Device `id` receives accesses to every port no device registered.
    pub fn set_default_port_device(&mut self, id: usize) {
        self.default_port_device = Some(id);
    }

    pub fn mmio_read(&mut self, addr: u64, size: u8) -> u64 {
        for &id in &self.mmio {
            if let Some(v) = self.devices[id].mmio_read(addr, size) {
                return v;
            }
        }
        self.unclaimed_mmio_hits += 1;
        u64::MAX >> (64 - 8 * size as u32)
    }

    pub fn mmio_write(&mut self, addr: u64, size: u8, value: u64) {
        for &id in &self.mmio {
            if self.devices[id].mmio_write(addr, size, value) {
                return;
            }
        }
        self.unclaimed_mmio_hits += 1;
    }

    /// Lets every bus master move its pending data.
    pub fn run_dma(&mut self, mem: &mut dyn DmaMemory) {
        for d in self.devices.iter_mut() {
            d.run_dma(mem);
        }
    }

    /// Registers the device that is also the CPU's interrupt controller.
    pub fn register_interrupt_controller(
        &mut self,
        ports: impl IntoIterator<Item = u16>,
        device: Box<dyn PortDevice>,
    ) -> usize {
        let id = self.register(ports, device);
        self.intc = Some(id);
        id
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
            0 => match self.default_port_device {
                Some(id) => self.devices[id].read(port, size),
                None => {
                    self.unclaimed_hits += 1;
                    OPEN_BUS >> (32 - 8 * size as u32)
                }
            },
            id => self.devices[id as usize - 1].read(port, size),
        }
    }

    pub fn write(&mut self, port: u16, size: u8, value: u32) {
        match self.map[port as usize] {
            0 => match self.default_port_device {
                Some(id) => self.devices[id].write(port, size, value),
                None => self.unclaimed_hits += 1,
            },
            id => self.devices[id as usize - 1].write(port, size, value),
        }
    }
}
