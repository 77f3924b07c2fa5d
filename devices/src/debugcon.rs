//! QEMU's isa-debugcon: every byte written to the port goes to the output; reads return the
//! port's identification value 0xE9, which is how guests detect it.

use std::io::Write;

use emu_core::bus::PortDevice;

pub struct DebugCon {
    out: Box<dyn Write + Send>,
}

impl DebugCon {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        DebugCon { out }
    }
}

impl PortDevice for DebugCon {
    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        0xE9
    }

    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        let b = value as u8;
        // Output errors (a closed pipe) must not stop the guest.
        let _ = self.out.write_all(&[b]);
        if b == b'\n' {
            let _ = self.out.flush();
        }
    }
}

impl Drop for DebugCon {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_reach_the_sink_and_reads_identify() {
        let sink = Sink::default();
        let mut d = DebugCon::new(Box::new(sink.clone()));
        for b in b"hi\n" {
            d.write(0xE9, 1, *b as u32);
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"hi\n");
        assert_eq!(d.read(0xE9, 1), 0xE9);
    }
}
