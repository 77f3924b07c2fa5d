//! Intel 82371SB (PIIX3) PCI-to-ISA bridge, function 0 of device 1 (00:01.0).
//!
//! Modelled: the header (multifunction, so firmware probes 01.1-01.7), the power-on values
//! of the ISA bridge registers as the data sheet lists them, the PIRQ route control
//! registers 0x60-0x63 (stored; [`Piix3::pirq_route`] tells the machine where PCI INTA#-
//! INTD# go), and the reset control register at I/O port 0xCF9 (decoded by the bus).
//! The ELCR (0x4D0/0x4D1) lives with the 8259 model.

use super::config::{ConfigSpace, PciId, COMMAND, HEADER_MULTIFUNCTION, STATUS};
use super::PciFunction;

pub const VENDOR: u16 = 0x8086;
pub const DEVICE: u16 = 0x7000;

/// PIRQRC[A:D].
pub const PIRQRC: u8 = 0x60;
/// Route register bit 7: routing disabled.
const IRQROUTEN_DISABLE: u8 = 0x80;

/// Reset control register bits (port 0xCF9).
const RCR_SYS_RST: u8 = 0x02;
const RCR_RST_CPU: u8 = 0x04;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piix3State {
    pub config: [u8; 256],
    pub rcr: u8,
}

pub struct Piix3 {
    cfg: ConfigSpace,
    rcr: u8,
}

impl Default for Piix3 {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix3 {
    pub fn new() -> Self {
        let mut cfg = ConfigSpace::new(PciId {
            vendor: VENDOR,
            device: DEVICE,
            class: 0x0601,
            prog_if: 0,
            revision: 0,
            header_type: HEADER_MULTIFUNCTION,
        });
        cfg.set_word(COMMAND, 0x0007);
        cfg.set_word(STATUS, 0x0200);
        // Power-on values (82371SB data sheet, section 2.2).
        for (reg, v) in [
            (0x4C, 0x4D), // IORT
            (0x4E, 0x03), // XBCS
            (0x60, 0x80),
            (0x61, 0x80),
            (0x62, 0x80),
            (0x63, 0x80),
            (0x69, 0x02), // TOM
            (0x70, 0x80), // MBIRQ0
            (0x76, 0x0C), // MBDMA0
            (0x77, 0x0C), // MBDMA1
            (0x78, 0x02), // PCSC
            (0xA0, 0x08), // SMICNTL
            (0xA8, 0x0F), // FTMR
        ] {
            cfg.set_byte(reg, v);
        }
        // Bits 6:4 of the route registers are reserved.
        cfg.set_wmask(PIRQRC, 4, 0x8F8F_8F8F);
        Piix3 { cfg, rcr: 0 }
    }

    pub fn reset(&mut self) {
        *self = Piix3::new();
    }

    pub fn config(&self) -> &ConfigSpace {
        &self.cfg
    }

    /// The raw PIRQ route control registers for INTA#-INTD# (PIRQA-PIRQD).
    pub fn pirq_routes(&self) -> [u8; 4] {
        [0, 1, 2, 3].map(|i| self.cfg.byte(PIRQRC + i))
    }

    /// The ISA IRQ PIRQ `n` (0 = A) is routed to, or `None` when routing is disabled or the
    /// IRQ number is one the PIIX3 does not allow (0-2, 8, 13).
    pub fn pirq_route(&self, n: usize) -> Option<u8> {
        let v = self.cfg.byte(PIRQRC + n as u8);
        let irq = v & 0x0F;
        (v & IRQROUTEN_DISABLE == 0 && !matches!(irq, 0..=2 | 8 | 13)).then_some(irq)
    }

    /// Reset control register read (port 0xCF9).
    pub fn rcr(&self) -> u8 {
        self.rcr
    }

    /// Reset control register write; true when the write resets the system. Bit 2 (RCPU)
    /// written as one resets; bit 1 (SRST) chooses hard over soft reset, but both reset the
    /// whole machine here as in QEMU (0x04, 0x06 and 0x0E all reset).
    pub fn write_rcr(&mut self, v: u8) -> bool {
        if v & RCR_RST_CPU != 0 {
            return true;
        }
        self.rcr = v & RCR_SYS_RST;
        false
    }

    pub fn state(&self) -> Piix3State {
        Piix3State {
            config: self.cfg.data,
            rcr: self.rcr,
        }
    }

    pub fn restore(&mut self, s: Piix3State) {
        self.cfg.data = s.config;
        self.rcr = s.rcr;
    }
}

impl PciFunction for Piix3 {
    fn config_read(&mut self, reg: u8, size: u8) -> u32 {
        self.cfg.read(reg, size)
    }

    fn config_write(&mut self, reg: u8, size: u8, value: u32) {
        self.cfg.write(reg, size, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pirq_routes() {
        let mut p = Piix3::new();
        assert_eq!(p.pirq_routes(), [0x80; 4]);
        assert_eq!(p.pirq_route(0), None);
        // SeaBIOS routes A-D to 10, 10, 11, 11.
        p.config_write(PIRQRC, 4, 0x0B0B_0A0A);
        assert_eq!(p.pirq_route(0), Some(10));
        assert_eq!(p.pirq_route(3), Some(11));
        p.config_write(PIRQRC + 1, 1, 0xFD);
        assert_eq!(p.pirq_routes()[1], 0x8D);
        assert_eq!(p.pirq_route(1), None);
        p.config_write(PIRQRC + 2, 1, 0x08);
        assert_eq!(p.pirq_route(2), None, "IRQ 8 is not routable");
    }

    #[test]
    fn rcr() {
        let mut p = Piix3::new();
        assert!(!p.write_rcr(0x02));
        assert_eq!(p.rcr(), 0x02);
        assert!(p.write_rcr(0x06));
        assert!(p.write_rcr(0x0E));
    }
}
