//! Port 0xF0 on a PC: a write clears the latched x87 error request (IRQ 13), the IGNNE#
//! handshake of DOS-era FPU error handlers (SDM Vol. 1, appendix D.2).

use emu_core::bus::PortDevice;
use emu_core::irq::IrqLines;

pub const FERR_LATCH_PORT: u16 = 0xF0;

pub struct FerrLatch {
    irq: IrqLines,
}

impl FerrLatch {
    pub fn new(irq: IrqLines) -> Self {
        FerrLatch { irq }
    }
}

impl PortDevice for FerrLatch {
    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        0xFF
    }

    fn write(&mut self, _port: u16, _size: u8, _value: u32) {
        self.irq.set(emu_core::interp::exec::FERR_IRQ, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_lowers_irq13() {
        let irq = IrqLines::new();
        irq.set(13, true);
        let mut l = FerrLatch::new(irq.clone());
        l.write(FERR_LATCH_PORT, 1, 0);
        assert_eq!(irq.levels() & (1 << 13), 0);
    }
}
