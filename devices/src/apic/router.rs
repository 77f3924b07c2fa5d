//! The machine's interrupt controller: the 8259A pair, the I/O APIC and the CPU's local APIC
//! as one device, because the ISA lines' latched edges can only be taken once and the CPU
//! asks one object for its next vector.
//!
//! Paths to the CPU's INTR (MP spec 1.4 section 3.6; SDM Vol. 3A 10.5.1):
//! - Local APIC globally disabled (IA32_APIC_BASE bit 11 clear): the 8259's INTR drives the
//!   CPU directly and INTA reads the 8259 (PIC mode, as with no APIC at all).
//! - Otherwise the local APIC decides. Its own fixed interrupts (I/O APIC, timer, error,
//!   self-IPIs) come first while it is software-enabled and their class beats PPR; then an
//!   ExtINT message from the I/O APIC; then the 8259's INTR through LINT0 when LVT LINT0 is
//!   unmasked ExtINT (virtual wire). ExtINT vectors come from the 8259 at INTA and bypass the
//!   APIC's priorities, IRR and ISR. When nothing is left at INTA, the result is the 8259's
//!   spurious IRQ 7 on the virtual-wire path, else the APIC's spurious vector (SDM 10.9).
//! - LINT0 at power-on is unmasked ExtINT (see `local`), so guests that only know the 8259
//!   work unchanged until they program the APIC.
//!
//! Every ISA line feeds both the 8259 pair and the I/O APIC (IRQ 0 on pin 2, IRQ n on pin n
//! otherwise; IRQ 2 is the cascade and reaches neither pin 0 nor pin 2).
//!
//! `has_interrupt` runs before every guest block while IF is set, so it costs two atomic
//! loads when nothing changed: the line levels against the last sample and the latched edges
//! against zero. Everything else that can change INTR (port and MMIO accesses, the timer,
//! INTA, the MSR) recomputes the cached answer when it happens.
//!
//! NMI (ICR NMI to self, NMI messages, LINT0 in NMI mode) is kept for the CPU to take with
//! [`InterruptRouter::take_nmi`].

use emu_core::bus::{InterruptController, PortDevice};
use emu_core::clock::Clock;
use emu_core::irq::IrqLines;

use super::io::{IoApic, IoApicState};
use super::local::{LocalApic, LocalApicState};
use crate::pic::{DualPic, DualPicState, PIC_PORTS};
use crate::unimp::UnimpLog;

/// The ports the router decodes: the 8259 pair and its ELCR.
pub const ROUTER_PORTS: [u16; 6] = PIC_PORTS;

/// ISA line bits to I/O APIC pin bits: IRQ 0 to pin 2, the cascade (IRQ 2) nowhere.
fn isa_to_gsi(lines: u32) -> u32 {
    (lines & 0xFFFA) | ((lines & 1) << 2)
}

/// Saveable state of the whole controller. The local APIC timer's times are relative to the
/// virtual clock at save time (wrapping), as the PIT's are, so a restored machine's clock
/// may start anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterruptRouterState {
    pub pic: DualPicState,
    pub lapic: LocalApicState,
    pub ioapic: IoApicState,
}

pub struct InterruptRouter {
    pic: DualPic,
    lapic: LocalApic,
    ioapic: IoApic,
    lines: IrqLines,
    clock: Clock,
    /// Line levels at the last sample.
    seen_levels: u32,
    /// The CPU's INTR as of the last change.
    intr: bool,
}

impl InterruptRouter {
    pub fn new(lines: IrqLines, clock: Clock) -> Self {
        let seen_levels = lines.levels();
        let mut r = InterruptRouter {
            pic: DualPic::detached(),
            lapic: LocalApic::new(),
            ioapic: IoApic::new(),
            lines,
            clock,
            seen_levels,
            intr: false,
        };
        r.sample();
        r.update();
        r
    }

    pub fn set_unimp_log(&mut self, log: UnimpLog) {
        self.lapic.set_unimp_log(log.clone());
        self.ioapic.set_unimp_log(log);
    }

    pub fn pic(&self) -> &DualPic {
        &self.pic
    }

    pub fn local_apic(&self) -> &LocalApic {
        &self.lapic
    }

    pub fn io_apic(&self) -> &IoApic {
        &self.ioapic
    }

    /// An NMI is waiting (the CPU takes it whatever IF says).
    pub fn nmi_pending(&self) -> bool {
        self.lapic.nmi_pending()
    }

    /// Takes a pending NMI.
    pub fn take_nmi(&mut self) -> bool {
        self.lapic.take_nmi()
    }

    pub fn state(&self) -> InterruptRouterState {
        let now = self.clock.now_ns();
        let mut lapic = self.lapic.state();
        lapic.timer_base_ns = lapic.timer_base_ns.wrapping_sub(now);
        lapic.timer_next_ns = lapic.timer_next_ns.map(|t| t.wrapping_sub(now));
        InterruptRouterState {
            pic: self.pic.state(),
            lapic,
            ioapic: self.ioapic.state(),
        }
    }

    /// Restores a state; the lines themselves are left to whoever restores the devices.
    pub fn restore(&mut self, s: InterruptRouterState) {
        let now = self.clock.now_ns();
        let mut lapic = s.lapic;
        lapic.timer_base_ns = lapic.timer_base_ns.wrapping_add(now);
        lapic.timer_next_ns = lapic.timer_next_ns.map(|t| t.wrapping_add(now));
        self.pic.restore(s.pic);
        self.lapic.restore(lapic);
        self.ioapic.restore(s.ioapic);
        self.seen_levels = self.lines.levels();
        self.update();
    }

    /// Takes the latched edges and current levels and hands them to both controllers.
    fn sample(&mut self) {
        let edges = self.lines.take_edges();
        let levels = self.lines.levels();
        self.seen_levels = levels;
        self.pic.input(edges, levels);
        let lapic = &mut self.lapic;
        self.ioapic
            .set_pins(isa_to_gsi(edges), isa_to_gsi(levels), &mut |m| {
                lapic.accept(m)
            });
    }

    fn lines_changed(&self) -> bool {
        self.lines.levels() != self.seen_levels || self.lines.peek_edges() != 0
    }

    fn sample_if_changed(&mut self) {
        if self.lines_changed() {
            self.sample();
        }
    }

    /// Recomputes the CPU's INTR after any change.
    fn update(&mut self) {
        // Level-triggered 8259 inputs follow the wire even when the guest just changed ELCR.
        self.pic.input(0, self.seen_levels);
        let pic_intr = self.pic.intr();
        self.intr = if self.lapic.enabled() {
            self.lapic.set_lint0(pic_intr);
            self.lapic.deliverable().is_some()
                || self.lapic.extint_pending()
                || (pic_intr && self.lapic.lint0_extint())
        } else {
            pic_intr
        };
    }

    fn eoi_broadcast(&mut self, vector: u8) {
        let lapic = &mut self.lapic;
        self.ioapic.eoi(vector, &mut |m| lapic.accept(m));
    }
}

impl InterruptController for InterruptRouter {
    fn take_nmi(&mut self) -> bool {
        InterruptRouter::take_nmi(self)
    }

    #[inline]
    fn has_interrupt(&mut self) -> bool {
        if self.lines_changed() {
            self.sample();
            self.update();
        }
        self.intr
    }

    fn acknowledge(&mut self) -> u8 {
        self.sample_if_changed();
        let vector = if !self.lapic.enabled() {
            self.pic.inta()
        } else if let Some(v) = self.lapic.deliverable() {
            self.lapic.start_service(v);
            v
        } else if self.lapic.take_extint() || self.lapic.lint0_extint() {
            // On the virtual wire a vanished request is the 8259's spurious IRQ 7, as
            // without an APIC.
            self.pic.inta()
        } else {
            self.lapic.spurious_vector()
        };
        self.update();
        vector
    }

    fn has_local_apic(&self) -> bool {
        true
    }

    fn set_apic_base(&mut self, msr: u64) {
        self.lapic.set_apic_base(msr);
        self.update();
    }
}

impl PortDevice for InterruptRouter {
    fn read(&mut self, port: u16, size: u8) -> u32 {
        self.sample_if_changed();
        let v = self.pic.read(port, size);
        // Poll mode acknowledges through a read.
        self.update();
        v
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        self.sample_if_changed();
        self.pic.write(port, size, value);
        self.update();
    }

    fn as_interrupt_controller(&mut self) -> Option<&mut dyn InterruptController> {
        Some(self)
    }

    /// The local APIC and the I/O APIC return to power-up state. The 8259 pair has no reset
    /// input and keeps its programming until the next ICW1, as before the APIC existed.
    fn reset(&mut self) {
        self.lapic.reset();
        self.ioapic.reset();
        self.sample();
        self.update();
    }

    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        let next = self.lapic.poll_timer(now_ns);
        self.update();
        next
    }

    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        let offset = (addr & 0xFFF) as u32;
        if self.lapic.decodes(addr) {
            let v = self.lapic.mmio_read(offset, size, self.clock.now_ns());
            // An illegal-register read can raise the error interrupt.
            self.update();
            Some(v)
        } else if self.ioapic.decodes(addr) {
            Some(self.ioapic.mmio_read(offset, size))
        } else {
            None
        }
    }

    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> bool {
        let offset = (addr & 0xFFF) as u32;
        if self.lapic.decodes(addr) {
            self.sample_if_changed();
            let now = self.clock.now_ns();
            if let Some(vector) = self.lapic.mmio_write(offset, size, value, now) {
                self.eoi_broadcast(vector);
            }
            self.update();
            true
        } else if self.ioapic.decodes(addr) {
            self.sample_if_changed();
            let lapic = &mut self.lapic;
            self.ioapic
                .mmio_write(offset, size, value, &mut |m| lapic.accept(m));
            self.update();
            true
        } else {
            false
        }
    }
}
