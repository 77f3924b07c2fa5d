//! The I/O port bus: a flat table from port number to device.

use super::PortDevice;

/// Reads from ports nobody decodes float high on ISA, so return all ones.
const OPEN_BUS: u32 = 0xFFFF_FFFF;

pub struct PortBus {
    devices: Vec<Box<dyn PortDevice>>,
    /// Per port: index + 1 into `devices`, or 0 when unclaimed.
    map: Vec<u16>,
    /// Unclaimed ports the guest touched, for `--log unimp` style reporting.
    pub unclaimed_hits: u64,
}

impl Default for PortBus {
    fn default() -> Self {
        PortBus {
            devices: Vec::new(),
            map: vec![0; 0x10000],
            unclaimed_hits: 0,
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
