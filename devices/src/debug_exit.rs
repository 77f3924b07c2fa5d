//! QEMU's isa-debug-exit: writing V makes the emulator exit with status (V << 1) | 1.

use std::sync::Arc;

use emu_core::bus::PortDevice;
use emu_core::control::MachineControl;

pub struct IsaDebugExit {
    control: Arc<MachineControl>,
}

impl IsaDebugExit {
    pub fn new(control: Arc<MachineControl>) -> Self {
        IsaDebugExit { control }
    }
}

impl PortDevice for IsaDebugExit {
    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        0xFFFF_FFFF
    }

    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        // QEMU uses the full written value; the process status keeps its low byte.
        self.control.request_exit(((value << 1) | 1) as i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_core::control::REQ_EXIT;

    #[test]
    fn exit_status_is_value_shifted_or_one() {
        let c = Arc::new(MachineControl::new());
        let mut d = IsaDebugExit::new(c.clone());
        d.write(0xF4, 1, 0x10);
        assert_eq!(c.pending() & REQ_EXIT, REQ_EXIT);
        assert_eq!(c.exit_code(), 33);
    }
}
