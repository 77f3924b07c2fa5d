//! Port 0x80 POST codes, shown like a POST diagnostic card: one `POST xx` line per write.

use std::io::Write;

use emu_core::bus::PortDevice;

pub struct PostCard {
    /// Last code written: a real card shows it; reads return it too, as on many chipsets.
    pub last: u8,
    out: Option<Box<dyn Write + Send>>,
}

impl PostCard {
    /// `out` receives the lines; `None` keeps the codes silent (port 0x80 still decodes).
    pub fn new(out: Option<Box<dyn Write + Send>>) -> Self {
        PostCard { last: 0, out }
    }
}

impl PortDevice for PostCard {
    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        self.last as u32
    }

    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        self.last = value as u8;
        if let Some(out) = &mut self.out {
            let _ = writeln!(out, "POST {:02x}", self.last);
        }
    }
}
