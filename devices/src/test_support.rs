//! Helpers shared by the device models' unit tests.

use emu_core::bus::DmaMemory;

/// Guest RAM as a bus master sees it.
pub struct Ram(pub Vec<u8>);

impl DmaMemory for Ram {
    fn dma_read(&mut self, phys: u64, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.0.get(phys as usize + i).copied().unwrap_or(0xFF);
        }
    }
    fn dma_write(&mut self, phys: u64, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            if let Some(m) = self.0.get_mut(phys as usize + i) {
                *m = b;
            }
        }
    }
}
