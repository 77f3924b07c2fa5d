//! The PC's two cascaded Intel 8259A programmable interrupt controllers, with the PIIX edge/
//! level control registers (ELCR, ports 0x4D0/0x4D1). Behaviour from the 8259A data sheet:
//! initialisation words ICW1-4, operation words OCW1-3, fully nested priority with rotation,
//! automatic EOI, special mask mode, poll mode, and spurious IRQ 7/15.

use emu_core::bus::{InterruptController, PortDevice};
use emu_core::irq::IrqLines;

/// One 8259A.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pic8259 {
    pub irr: u8,
    pub isr: u8,
    pub imr: u8,
    /// ICW2: vector of IRQ 0 on this chip (low three bits zero).
    pub vector_base: u8,
    /// 0 ready, 1 expecting ICW2, 2 ICW3, 3 ICW4.
    pub init_step: u8,
    pub icw4_needed: bool,
    pub single: bool,
    pub auto_eoi: bool,
    pub rotate_on_auto_eoi: bool,
    /// OCW3: reads of the command port return ISR (else IRR).
    pub read_isr: bool,
    /// OCW3 poll command: the next command-port read is a poll.
    pub poll: bool,
    pub special_mask: bool,
    /// The lowest-priority IRQ is `priority_base - 1` (rotation).
    pub priority_base: u8,
    /// ELCR: level-triggered inputs.
    pub elcr: u8,
    /// Writable ELCR bits on this chip.
    pub elcr_mask: u8,
}

impl Pic8259 {
    fn new(elcr_mask: u8) -> Self {
        Pic8259 {
            elcr_mask,
            ..Default::default()
        }
    }

    /// Highest-priority IRQ set in `bits`, honouring rotation.
    fn highest(&self, bits: u8) -> Option<u8> {
        (0..8)
            .map(|i| (i + self.priority_base) & 7)
            .find(|&irq| bits & (1 << irq) != 0)
    }

    /// Priority rank of an IRQ (0 = highest).
    fn rank(&self, irq: u8) -> u8 {
        irq.wrapping_sub(self.priority_base) & 7
    }

    /// The IRQ this chip would present to the CPU now, if any.
    fn pending(&self) -> Option<u8> {
        let candidate = self.highest(self.irr & !self.imr)?;
        // In special mask mode in-service levels inhibit only themselves.
        let blocking = if self.special_mask {
            self.isr & !self.imr
        } else {
            self.isr
        };
        match self.highest(blocking) {
            Some(busy) if self.rank(busy) <= self.rank(candidate) => None,
            _ => Some(candidate),
        }
    }

    /// INTA for `irq`: moves it from IRR to ISR (unless automatic EOI).
    fn acknowledge(&mut self, irq: u8) {
        let bit = 1 << irq;
        if self.elcr & bit == 0 {
            self.irr &= !bit;
        }
        if self.auto_eoi {
            if self.rotate_on_auto_eoi {
                self.priority_base = (irq + 1) & 7;
            }
        } else {
            self.isr |= bit;
        }
    }

    fn write_command(&mut self, v: u8) {
        if v & 0x10 != 0 {
            // ICW1: start initialisation.
            *self = Pic8259 {
                elcr: self.elcr,
                elcr_mask: self.elcr_mask,
                ..Default::default()
            };
            self.init_step = 1;
            self.single = v & 0x02 != 0;
            self.icw4_needed = v & 0x01 != 0;
        } else if v & 0x08 != 0 {
            // OCW3.
            if v & 0x04 != 0 {
                self.poll = true;
            }
            if v & 0x02 != 0 {
                self.read_isr = v & 0x01 != 0;
            }
            if v & 0x40 != 0 {
                self.special_mask = v & 0x20 != 0;
            }
        } else {
            // OCW2.
            let level = v & 7;
            match v >> 5 {
                0 => self.rotate_on_auto_eoi = false,
                4 => self.rotate_on_auto_eoi = true,
                1 | 5 => {
                    if let Some(irq) = self.highest(self.isr) {
                        self.isr &= !(1 << irq);
                        if v >> 5 == 5 {
                            self.priority_base = (irq + 1) & 7;
                        }
                    }
                }
                3 => self.isr &= !(1 << level),
                6 => self.priority_base = (level + 1) & 7,
                7 => {
                    self.isr &= !(1 << level);
                    self.priority_base = (level + 1) & 7;
                }
                _ => {}
            }
        }
    }

    fn write_data(&mut self, v: u8) {
        self.init_step = match self.init_step {
            1 => {
                self.vector_base = v & 0xF8;
                match (self.single, self.icw4_needed) {
                    (false, _) => 2,
                    (true, true) => 3,
                    (true, false) => 0,
                }
            }
            2 => {
                if self.icw4_needed {
                    3
                } else {
                    0
                }
            }
            3 => {
                self.auto_eoi = v & 0x02 != 0;
                0
            }
            _ => {
                self.imr = v;
                0
            }
        };
    }

    fn read_command(&mut self) -> u8 {
        if self.poll {
            self.poll = false;
            return match self.pending() {
                Some(irq) => {
                    self.acknowledge(irq);
                    0x80 | irq
                }
                None => 0,
            };
        }
        if self.read_isr {
            self.isr
        } else {
            self.irr
        }
    }

    /// Feeds this chip's eight input lines: latched rising edges, and current levels for
    /// level-triggered inputs.
    fn sample(&mut self, edges: u8, levels: u8) {
        self.irr |= edges & !self.elcr;
        self.irr = (self.irr & !self.elcr) | (levels & self.elcr);
    }
}

/// Saveable state of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DualPicState {
    pub master: Pic8259,
    pub slave: Pic8259,
}

/// Master (IRQ 0-7, ports 0x20/0x21) and slave (IRQ 8-15, ports 0xA0/0xA1) on IRQ 2.
pub struct DualPic {
    pub master: Pic8259,
    pub slave: Pic8259,
    /// The lines this pair samples itself; `None` when an interrupt router feeds it
    /// ([`input`](Self::input)), because only one consumer may take the latched edges.
    lines: Option<IrqLines>,
}

/// The ports the pair decodes.
pub const PIC_PORTS: [u16; 6] = [0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1];

impl DualPic {
    /// A pair that is the machine's interrupt controller on its own, sampling `lines`.
    pub fn new(lines: IrqLines) -> Self {
        DualPic {
            lines: Some(lines),
            ..Self::detached()
        }
    }

    /// A pair whose inputs come from an interrupt router through [`input`](Self::input).
    pub fn detached() -> Self {
        // PIIX: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge-triggered.
        DualPic {
            master: Pic8259::new(0xF8),
            slave: Pic8259::new(0xDE),
            lines: None,
        }
    }

    pub fn state(&self) -> DualPicState {
        DualPicState {
            master: self.master,
            slave: self.slave,
        }
    }

    pub fn restore(&mut self, s: DualPicState) {
        self.master = s.master;
        self.slave = s.slave;
    }

    fn sample_lines(&mut self) {
        if let Some(lines) = &self.lines {
            let edges = lines.take_edges();
            let levels = lines.levels();
            self.input(edges, levels);
        }
    }

    /// Feeds the sixteen inputs: rising edges latched since the last call, and the current
    /// levels (which level-triggered inputs follow).
    pub fn input(&mut self, edges: u32, levels: u32) {
        self.master.sample(edges as u8, levels as u8);
        self.slave.sample((edges >> 8) as u8, (levels >> 8) as u8);
        self.cascade();
    }

    /// The slave's INT output is the master's IRQ 2 input.
    fn cascade(&mut self) {
        if self.slave.pending().is_some() {
            self.master.irr |= 1 << 2;
        } else {
            self.master.irr &= !(1 << 2);
        }
    }

    /// The master's INT output (the CPU's INTR, or the local APIC's LINT0).
    pub fn intr(&mut self) -> bool {
        self.cascade();
        self.master.pending().is_some()
    }

    /// The INTA cycle on inputs already sampled: the vector, or the spurious IRQ 7 of the
    /// chip whose request went away.
    pub fn inta(&mut self) -> u8 {
        self.cascade();
        let Some(irq) = self.master.pending() else {
            // The request went away during the INTA cycle: spurious IRQ 7.
            return self.master.vector_base | 7;
        };
        self.master.acknowledge(irq);
        if irq != 2 {
            return self.master.vector_base | irq;
        }
        match self.slave.pending() {
            Some(s) => {
                self.slave.acknowledge(s);
                self.slave.vector_base | s
            }
            None => self.slave.vector_base | 7,
        }
    }
}

impl InterruptController for DualPic {
    fn has_interrupt(&mut self) -> bool {
        self.sample_lines();
        self.intr()
    }

    fn acknowledge(&mut self) -> u8 {
        self.sample_lines();
        self.inta()
    }
}

impl PortDevice for DualPic {
    fn read(&mut self, port: u16, _size: u8) -> u32 {
        self.sample_lines();
        (match port {
            0x20 => self.master.read_command(),
            0x21 => self.master.imr,
            0xA0 => self.slave.read_command(),
            0xA1 => self.slave.imr,
            0x4D0 => self.master.elcr,
            0x4D1 => self.slave.elcr,
            _ => 0xFF,
        }) as u32
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        let v = value as u8;
        match port {
            0x20 => self.master.write_command(v),
            0x21 => self.master.write_data(v),
            0xA0 => self.slave.write_command(v),
            0xA1 => self.slave.write_data(v),
            0x4D0 => self.master.elcr = v & self.master.elcr_mask,
            0x4D1 => self.slave.elcr = v & self.slave.elcr_mask,
            _ => {}
        }
    }

    fn as_interrupt_controller(&mut self) -> Option<&mut dyn InterruptController> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BIOS/Linux initialisation: vectors 0x08 (master) and 0x70 (slave), cascade on 2.
    fn initialised() -> (DualPic, IrqLines) {
        let lines = IrqLines::new();
        let mut p = DualPic::new(lines.clone());
        for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01)] {
            p.write(port, 1, v);
        }
        for (port, v) in [(0xA0, 0x11), (0xA1, 0x70), (0xA1, 0x02), (0xA1, 0x01)] {
            p.write(port, 1, v);
        }
        p.write(0x21, 1, 0);
        p.write(0xA1, 1, 0);
        (p, lines)
    }

    #[test]
    fn edge_request_is_delivered_once_and_blocks_lower_priorities_until_eoi() {
        let (mut p, lines) = initialised();
        assert!(!p.has_interrupt());
        lines.pulse(3);
        lines.pulse(0);
        assert!(p.has_interrupt());
        assert_eq!(p.acknowledge(), 0x08, "IRQ 0 outranks IRQ 3");
        // IRQ 0 in service blocks IRQ 3 until EOI.
        assert!(!p.has_interrupt());
        p.write(0x20, 1, 0x20);
        assert!(p.has_interrupt());
        assert_eq!(p.acknowledge(), 0x0B);
        p.write(0x20, 1, 0x20);
        assert!(!p.has_interrupt());
    }

    #[test]
    fn slave_interrupts_cascade_through_irq2() {
        let (mut p, lines) = initialised();
        lines.pulse(14);
        assert!(p.has_interrupt());
        assert_eq!(p.acknowledge(), 0x76);
        assert_eq!(p.master.isr, 1 << 2);
        assert_eq!(p.slave.isr, 1 << 6);
        // Reading ISR through OCW3.
        p.write(0xA0, 1, 0x0B);
        assert_eq!(p.read(0xA0, 1), 1 << 6);
    }

    #[test]
    fn masked_lines_wait_and_level_lines_follow_the_wire() {
        let (mut p, lines) = initialised();
        p.write(0x21, 1, 1 << 4);
        lines.pulse(4);
        assert!(!p.has_interrupt(), "masked");
        p.write(0x21, 1, 0);
        assert_eq!(p.acknowledge(), 0x0C, "the edge stayed latched in IRR");
        p.write(0x20, 1, 0x20);
        // IRQ 11 level-triggered via ELCR: the request disappears with the line.
        p.write(0x4D1, 1, 1 << 3);
        lines.set(11, true);
        assert!(p.has_interrupt());
        lines.set(11, false);
        assert!(!p.has_interrupt());
    }

    #[test]
    fn spurious_irq7_when_request_vanishes() {
        let (mut p, _) = initialised();
        assert_eq!(p.acknowledge(), 0x0F);
        assert_eq!(p.master.isr, 0, "spurious IRQ 7 is not put in service");
    }

    #[test]
    fn auto_eoi_and_poll_mode() {
        let lines = IrqLines::new();
        let mut p = DualPic::new(lines.clone());
        for (port, v) in [(0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x03)] {
            p.write(port, 1, v);
        }
        p.write(0x21, 1, 0);
        lines.pulse(5);
        assert_eq!(p.acknowledge(), 0x25);
        assert_eq!(p.master.isr, 0, "automatic EOI");
        lines.pulse(6);
        p.write(0x20, 1, 0x0C); // poll
        assert_eq!(p.read(0x20, 1), 0x86);
    }
}
