//! System control port A (0x92): fast A20 gate (bit 1) and fast reset (bit 0).

use std::sync::Arc;

use emu_core::bus::PortDevice;
use emu_core::control::{MachineControl, REQ_RESET};

pub struct SystemControlA {
    control: Arc<MachineControl>,
    value: u8,
}

impl SystemControlA {
    pub fn new(control: Arc<MachineControl>) -> Self {
        SystemControlA {
            control,
            value: 0x02,
        }
    }
}

impl PortDevice for SystemControlA {
    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        (self.value & !1) as u32 | if self.control.a20() { 2 } else { 0 }
    }

    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        let v = value as u8;
        self.value = v;
        let a20 = v & 2 != 0;
        if a20 != self.control.a20() {
            self.control.set_a20(a20);
        }
        if v & 1 != 0 {
            self.control.raise(REQ_RESET);
        }
    }
}
