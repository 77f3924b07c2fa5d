//! The router driven the way firmware and Linux drive it: 8259 initialisation words, local
//! APIC and I/O APIC programming through MMIO, lines raised by "devices", and the CPU's
//! `has_interrupt` / `acknowledge` pair.

use super::local::{reg, ESR_ILLEGAL_REGISTER, ESR_SEND_ILLEGAL_VECTOR};
use super::*;
use emu_core::bus::{InterruptController, PortDevice};
use emu_core::clock::{Clock, ClockMode};
use emu_core::irq::IrqLines;

struct Pc {
    r: InterruptRouter,
    lines: IrqLines,
    clock: Clock,
}

fn pc() -> Pc {
    let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
    let lines = IrqLines::new();
    let r = InterruptRouter::new(lines.clone(), clock.clone());
    Pc { r, lines, clock }
}

/// The BIOS/Linux 8259 initialisation: vectors 0x08 (master) and 0x70 (slave), cascade on 2,
/// all inputs unmasked.
fn init_pics(r: &mut InterruptRouter) {
    for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01)] {
        r.write(port, 1, v);
    }
    for (port, v) in [(0xA0, 0x11), (0xA1, 0x70), (0xA1, 0x02), (0xA1, 0x01)] {
        r.write(port, 1, v);
    }
    r.write(0x21, 1, 0);
    r.write(0xA1, 1, 0);
}

fn lapic_w(r: &mut InterruptRouter, reg: u32, v: u32) {
    assert!(r.mmio_write(LAPIC_BASE + reg as u64, 4, v as u64));
}

fn lapic_r(r: &mut InterruptRouter, reg: u32) -> u32 {
    r.mmio_read(LAPIC_BASE + reg as u64, 4)
        .expect("LAPIC decodes") as u32
}

fn ioapic_w(r: &mut InterruptRouter, index: u32, v: u32) {
    assert!(r.mmio_write(IOAPIC_BASE, 4, index as u64));
    assert!(r.mmio_write(IOAPIC_BASE + 0x10, 4, v as u64));
}

fn ioapic_r(r: &mut InterruptRouter, index: u32) -> u32 {
    r.mmio_write(IOAPIC_BASE, 4, index as u64);
    r.mmio_read(IOAPIC_BASE + 0x10, 4).unwrap() as u32
}

/// Pin `pin` to `low` (vector, mode, trigger, mask) for physical APIC ID 0.
fn redirect(r: &mut InterruptRouter, pin: u32, low: u32) {
    ioapic_w(r, 0x11 + 2 * pin, 0);
    ioapic_w(r, 0x10 + 2 * pin, low);
}

/// What Linux does before using the I/O APIC: 8259 programmed and fully masked, the local
/// APIC software-enabled with spurious vector 0xFF, flat logical ID 1, LINT0 masked.
fn symmetric_mode(r: &mut InterruptRouter) {
    init_pics(r);
    r.write(0x21, 1, 0xFF);
    r.write(0xA1, 1, 0xFF);
    lapic_w(r, reg::DFR, 0xFFFF_FFFF);
    lapic_w(r, reg::LDR, 1 << 24);
    lapic_w(r, reg::TPR, 0);
    lapic_w(r, reg::SVR, 0x1FF);
    lapic_w(r, reg::LVT_LINT0, 0x1_0700);
    lapic_w(r, reg::LVT_LINT1, 0x400);
}

/// One CPU interrupt check: the vector delivered, if any.
fn take(r: &mut InterruptRouter) -> Option<u8> {
    r.has_interrupt().then(|| r.acknowledge())
}

fn eoi(r: &mut InterruptRouter) {
    lapic_w(r, reg::EOI, 0);
}

#[test]
fn the_8259_flow_works_through_the_router_in_power_on_state() {
    let Pc { mut r, lines, .. } = pc();
    init_pics(&mut r);
    assert!(!r.has_interrupt());
    lines.pulse(3);
    lines.pulse(0);
    assert_eq!(take(&mut r), Some(0x08), "IRQ 0 outranks IRQ 3");
    assert_eq!(take(&mut r), None, "IRQ 0 in service blocks IRQ 3");
    r.write(0x20, 1, 0x20);
    assert_eq!(take(&mut r), Some(0x0B));
    r.write(0x20, 1, 0x20);
    assert_eq!(take(&mut r), None);
    // Slave through the cascade, and ISR reads through OCW3.
    lines.pulse(14);
    assert_eq!(take(&mut r), Some(0x76));
    r.write(0xA0, 1, 0x0B);
    assert_eq!(r.read(0xA0, 1), 1 << 6);
    r.write(0xA0, 1, 0x20);
    r.write(0x20, 1, 0x20);
    // A request that vanished before INTA is the 8259's spurious IRQ 7.
    assert_eq!(r.acknowledge(), 0x0F);
    // Nothing of this touched the local APIC.
    assert_eq!(lapic_r(&mut r, reg::ISR + 0x10), 0);
    assert_eq!(lapic_r(&mut r, reg::SVR), 0xFF);
}

#[test]
fn local_apic_power_on_registers() {
    let Pc { mut r, .. } = pc();
    let expect = [
        (reg::ID, 0),
        (reg::VERSION, 0x0004_0014),
        (reg::TPR, 0),
        (reg::APR, 0),
        (reg::PPR, 0),
        (reg::LDR, 0),
        (reg::DFR, 0xFFFF_FFFF),
        (reg::SVR, 0xFF),
        (reg::ESR, 0),
        (reg::ICR_LOW, 0),
        (reg::ICR_HIGH, 0),
        (reg::LVT_TIMER, 0x1_0000),
        (reg::LVT_PERF, 0x1_0000),
        (reg::LVT_LINT0, 0x700),
        (reg::LVT_LINT1, 0x1_0000),
        (reg::LVT_ERROR, 0x1_0000),
        (reg::TIMER_INITIAL, 0),
        (reg::TIMER_CURRENT, 0),
        (reg::TIMER_DIVIDE, 0),
    ];
    for (offset, value) in expect {
        assert_eq!(lapic_r(&mut r, offset), value, "register {offset:#x}");
    }
    for i in 0..8 {
        for base in [reg::ISR, reg::TMR, reg::IRR] {
            assert_eq!(lapic_r(&mut r, base + 0x10 * i), 0);
        }
    }
    assert!(r.has_local_apic());
}

#[test]
fn register_access_widths_and_illegal_addresses() {
    let Pc { mut r, .. } = pc();
    // Byte and word reads return the bytes they cover; bytes 4-15 of a slot read 0.
    assert_eq!(r.mmio_read(LAPIC_BASE + 0x30, 1), Some(0x14));
    assert_eq!(r.mmio_read(LAPIC_BASE + 0x32, 1), Some(0x04));
    assert_eq!(r.mmio_read(LAPIC_BASE + 0x32, 2), Some(0x0004));
    assert_eq!(r.mmio_read(LAPIC_BASE + 0x34, 4), Some(0));
    assert_eq!(r.mmio_read(LAPIC_BASE + 0x30, 8), Some(0x0004_0014));
    // An 8-byte read straddling two slots: bytes 12-15 of DFR's slot, then SVR.
    assert_eq!(r.mmio_read(LAPIC_BASE + 0xEC, 8), Some(0xFF << 32));
    // Narrow and unaligned writes are dropped.
    assert!(r.mmio_write(LAPIC_BASE + reg::TPR as u64, 1, 0x50));
    assert!(r.mmio_write(LAPIC_BASE + reg::TPR as u64 + 4, 4, 0x50));
    assert_eq!(lapic_r(&mut r, reg::TPR), 0);
    // A 64-bit write lands its low half in the register.
    assert!(r.mmio_write(LAPIC_BASE + reg::TPR as u64, 8, 0xFFFF_FFFF_0000_0020));
    assert_eq!(lapic_r(&mut r, reg::TPR), 0x20);
    // The thermal LVT does not exist on this P6 APIC: illegal register address, reported in
    // ESR once a write latches it.
    assert_eq!(lapic_r(&mut r, 0x330), 0);
    assert_eq!(lapic_r(&mut r, reg::ESR), 0, "latched only by a write");
    lapic_w(&mut r, reg::ESR, 0);
    assert_eq!(lapic_r(&mut r, reg::ESR), ESR_ILLEGAL_REGISTER);
    lapic_w(&mut r, reg::ESR, 0);
    assert_eq!(lapic_r(&mut r, reg::ESR), 0);
    // Read-only registers ignore writes.
    lapic_w(&mut r, reg::VERSION, 0);
    lapic_w(&mut r, reg::IRR + 0x70, !0);
    assert_eq!(lapic_r(&mut r, reg::VERSION), 0x0004_0014);
    assert_eq!(lapic_r(&mut r, reg::IRR + 0x70), 0);
    // P6: 4-bit APIC ID, 4 writable DFR bits, spurious vector bits 3:0 hardwired.
    lapic_w(&mut r, reg::ID, 0xFF00_0000);
    assert_eq!(lapic_r(&mut r, reg::ID), 0x0F00_0000);
    lapic_w(&mut r, reg::DFR, 0);
    assert_eq!(lapic_r(&mut r, reg::DFR), 0x0FFF_FFFF);
    lapic_w(&mut r, reg::SVR, 0x1F0);
    assert_eq!(lapic_r(&mut r, reg::SVR), 0x1FF);
}

#[test]
fn every_offset_and_width_is_survivable() {
    let Pc { mut r, lines, .. } = pc();
    symmetric_mode(&mut r);
    for offset in 0..0x1000u64 {
        for size in [1u8, 2, 4, 8] {
            if offset % 0x1000 + size as u64 > 0x1000 {
                continue;
            }
            let v = 0xDEAD_BEEF_A5A5_5A5Au64.rotate_left(offset as u32);
            r.mmio_write(LAPIC_BASE + offset, size, v);
            r.mmio_read(LAPIC_BASE + offset, size);
            r.mmio_write(IOAPIC_BASE + offset, size, v);
            r.mmio_read(IOAPIC_BASE + offset, size);
            lines.pulse((offset % 16) as u8);
            // Bounded: a level-triggered LINT0 fed by a stuck 8259 request storms, as it would.
            for _ in 0..8 {
                if !r.has_interrupt() {
                    break;
                }
                r.acknowledge();
                eoi(&mut r);
            }
            r.poll_timer(offset * 1000);
        }
    }
}

#[test]
fn software_enable_and_disable_through_svr() {
    let Pc { mut r, lines, .. } = pc();
    init_pics(&mut r);
    r.write(0x21, 1, 0xFF);
    r.write(0xA1, 1, 0xFF);
    lapic_w(&mut r, reg::LDR, 1 << 24);
    lapic_w(&mut r, reg::SVR, 0x1FF);
    assert_eq!(lapic_r(&mut r, reg::SVR), 0x1FF);
    lapic_w(&mut r, reg::LVT_TIMER, 0x20);
    assert_eq!(lapic_r(&mut r, reg::LVT_TIMER), 0x20);
    // Software disable masks every LVT, and they stay masked.
    lapic_w(&mut r, reg::SVR, 0xFF);
    assert_eq!(lapic_r(&mut r, reg::LVT_TIMER), 0x1_0020);
    assert_eq!(lapic_r(&mut r, reg::LVT_LINT0), 0x1_0700);
    lapic_w(&mut r, reg::LVT_TIMER, 0x21);
    assert_eq!(lapic_r(&mut r, reg::LVT_TIMER), 0x1_0021);
    // Interrupts still reach IRR while software-disabled, but wait for the enable.
    redirect(&mut r, 4, 0x0000_0841); // logical destination 0 would match nobody...
    ioapic_w(&mut r, 0x19, 0x0100_0000); // ...so name logical APIC 1.
    lines.pulse(4);
    assert!(!r.has_interrupt());
    assert_eq!(
        lapic_r(&mut r, reg::IRR + 0x20),
        1 << 1,
        "vector 0x41 requested"
    );
    lapic_w(&mut r, reg::SVR, 0x1FF);
    assert_eq!(take(&mut r), Some(0x41));
    assert_eq!(lapic_r(&mut r, reg::ISR + 0x20), 1 << 1);
}

#[test]
fn io_apic_registers() {
    let Pc { mut r, .. } = pc();
    assert_eq!(ioapic_r(&mut r, 0x01), 0x0017_0011);
    assert_eq!(
        ioapic_r(&mut r, 0x00),
        0x0100_0000,
        "ID 1, as the firmware tables say"
    );
    ioapic_w(&mut r, 0x00, 0xFF00_0000);
    assert_eq!(ioapic_r(&mut r, 0x00), 0x0F00_0000);
    assert_eq!(
        ioapic_r(&mut r, 0x02),
        0x0F00_0000,
        "arbitration ID follows"
    );
    ioapic_w(&mut r, 0x01, 0);
    assert_eq!(ioapic_r(&mut r, 0x01), 0x0017_0011, "version is read-only");
    for pin in 0..24 {
        assert_eq!(
            ioapic_r(&mut r, 0x10 + 2 * pin),
            0x1_0000,
            "pin {pin} masked"
        );
        assert_eq!(ioapic_r(&mut r, 0x11 + 2 * pin), 0);
    }
    // Delivery status and remote IRR are read-only; reserved high bits read 0.
    ioapic_w(&mut r, 0x10 + 2 * 23, 0xFFFF_FFFF);
    ioapic_w(&mut r, 0x11 + 2 * 23, 0xFFFF_FFFF);
    assert_eq!(ioapic_r(&mut r, 0x10 + 2 * 23), 0x1_AFFF);
    assert_eq!(ioapic_r(&mut r, 0x11 + 2 * 23), 0xFF00_0000);
    assert_eq!(ioapic_r(&mut r, 0x40), 0, "beyond the table");
    // IOREGSEL reads back; IOWIN takes byte reads but not byte writes.
    r.mmio_write(IOAPIC_BASE, 1, 0x01);
    assert_eq!(r.mmio_read(IOAPIC_BASE, 4), Some(0x01));
    assert_eq!(r.mmio_read(IOAPIC_BASE + 0x12, 1), Some(0x17));
    r.mmio_write(IOAPIC_BASE, 4, 0x10);
    r.mmio_write(IOAPIC_BASE + 0x10, 1, 0x55);
    assert_eq!(ioapic_r(&mut r, 0x10), 0x1_0000);
    assert_eq!(r.mmio_read(IOAPIC_BASE + 0x1000, 4), None, "one page only");
}

#[test]
fn io_apic_routes_isa_irqs_by_priority_with_nesting_and_eoi_order() {
    let Pc { mut r, lines, .. } = pc();
    symmetric_mode(&mut r);
    // IRQ 0 (the PIT) is pin 2; IRQ 4 pin 4. Pin 0 is not the PIT.
    redirect(&mut r, 0, 0x50);
    redirect(&mut r, 2, 0x31);
    redirect(&mut r, 4, 0x41);
    lines.pulse(0);
    lines.pulse(4);
    assert_eq!(take(&mut r), Some(0x41), "class 4 before class 3");
    assert_eq!(lapic_r(&mut r, reg::PPR), 0x40);
    assert_eq!(take(&mut r), None, "0x31 is below the in-service class");
    assert_eq!(
        lapic_r(&mut r, reg::IRR + 0x10),
        1 << 0x11,
        "0x31 waits in IRR"
    );
    eoi(&mut r);
    assert_eq!(take(&mut r), Some(0x31));
    // A higher class nests over the one in service; EOIs unwind highest first.
    lines.pulse(4);
    assert_eq!(take(&mut r), Some(0x41));
    assert_eq!(lapic_r(&mut r, reg::ISR + 0x10), 1 << 0x11);
    assert_eq!(lapic_r(&mut r, reg::ISR + 0x20), 1 << 1);
    eoi(&mut r);
    assert_eq!(lapic_r(&mut r, reg::ISR + 0x20), 0, "EOI ends 0x41 first");
    assert_eq!(lapic_r(&mut r, reg::ISR + 0x10), 1 << 0x11);
    eoi(&mut r);
    assert_eq!(lapic_r(&mut r, reg::ISR + 0x10), 0);
    assert_eq!(take(&mut r), None, "pin 0 never fired, the 8259 is masked");

    // TPR holds back classes at or below its own.
    lapic_w(&mut r, reg::TPR, 0x40);
    lines.pulse(4);
    assert_eq!(take(&mut r), None);
    assert_eq!(lapic_r(&mut r, reg::PPR), 0x40);
    assert_eq!(lapic_r(&mut r, reg::APR), 0x40);
    lapic_w(&mut r, reg::TPR, 0x3F);
    assert_eq!(take(&mut r), Some(0x41));
    assert_eq!(lapic_r(&mut r, reg::PPR), 0x40, "ISR class beats TPR");
    eoi(&mut r);
    assert_eq!(lapic_r(&mut r, reg::PPR), 0x3F);
    lapic_w(&mut r, reg::TPR, 0);
    assert!(!r.local_apic().tmr_bit(0x41), "edge-triggered");
}

#[test]
fn level_triggered_sci_uses_remote_irr_and_is_redelivered_while_asserted() {
    let Pc { mut r, lines, .. } = pc();
    symmetric_mode(&mut r);
    // IRQ 9 as the MADT override says: level, active high.
    redirect(&mut r, 9, 0x8000 | 0x49);
    lines.set(9, true);
    assert_eq!(take(&mut r), Some(0x49));
    assert!(r.local_apic().tmr_bit(0x49));
    assert_ne!(ioapic_r(&mut r, 0x10 + 18) & (1 << 14), 0, "remote IRR set");
    for _ in 0..3 {
        assert_eq!(take(&mut r), None, "no repeat before the EOI");
    }
    // The handler did not clear the source: the EOI lets the pin send again.
    eoi(&mut r);
    assert_eq!(take(&mut r), Some(0x49));
    assert_ne!(ioapic_r(&mut r, 0x10 + 18) & (1 << 14), 0);
    // Now the source is quiet; the EOI clears remote IRR and nothing follows.
    lines.set(9, false);
    eoi(&mut r);
    assert_eq!(ioapic_r(&mut r, 0x10 + 18) & (1 << 14), 0);
    assert_eq!(take(&mut r), None);
    // Rewriting a level entry as edge clears a stuck remote IRR (Linux's workaround).
    lines.set(9, true);
    assert_eq!(take(&mut r), Some(0x49));
    redirect(&mut r, 9, 0x1_0049);
    redirect(&mut r, 9, 0x1_8049);
    assert_eq!(ioapic_r(&mut r, 0x10 + 18) & (1 << 14), 0);
    lines.set(9, false);
    eoi(&mut r);
}

#[test]
fn masked_pins_lose_edges_and_hold_levels() {
    let Pc { mut r, lines, .. } = pc();
    symmetric_mode(&mut r);
    redirect(&mut r, 4, 0x1_0041);
    lines.pulse(4);
    assert_eq!(take(&mut r), None);
    redirect(&mut r, 4, 0x41);
    assert_eq!(take(&mut r), None, "an edge on a masked pin is lost");
    redirect(&mut r, 10, 0x1_8052);
    lines.set(10, true);
    assert_eq!(take(&mut r), None);
    redirect(&mut r, 10, 0x8052);
    assert_eq!(
        take(&mut r),
        Some(0x52),
        "an asserted level is sent on unmask"
    );
    lines.set(10, false);
    eoi(&mut r);
    // Unmatched destinations reach nobody: logical APIC 2 does not exist.
    redirect(&mut r, 4, 0x841);
    ioapic_w(&mut r, 0x19, 0x0200_0000);
    lines.pulse(4);
    assert_eq!(take(&mut r), None);
    // Logical 1 in flat mode does.
    ioapic_w(&mut r, 0x19, 0x0100_0000);
    lines.pulse(4);
    assert_eq!(take(&mut r), Some(0x41));
}

#[test]
fn timer_one_shot_with_divider() {
    let Pc { mut r, clock, .. } = pc();
    symmetric_mode(&mut r);
    clock.sync_icount(100);
    lapic_w(&mut r, reg::TIMER_DIVIDE, 0x3); // divide by 16
    lapic_w(&mut r, reg::LVT_TIMER, 0xEF);
    lapic_w(&mut r, reg::TIMER_INITIAL, 1000);
    assert_eq!(r.poll_timer(100), Some(100 + 16_000));
    assert_eq!(lapic_r(&mut r, reg::TIMER_CURRENT), 1000);
    clock.sync_icount(100 + 1600 + 15);
    assert_eq!(lapic_r(&mut r, reg::TIMER_CURRENT), 900);
    assert_eq!(r.poll_timer(16_099), Some(16_100));
    assert!(!r.has_interrupt());
    assert_eq!(r.poll_timer(16_100), None, "one-shot: done");
    clock.sync_icount(20_000);
    assert_eq!(lapic_r(&mut r, reg::TIMER_CURRENT), 0);
    assert_eq!(take(&mut r), Some(0xEF));
    eoi(&mut r);
    assert_eq!(r.poll_timer(40_000), None);
    assert_eq!(take(&mut r), None);
    // Writing 0 stops a running timer.
    lapic_w(&mut r, reg::TIMER_INITIAL, 50);
    lapic_w(&mut r, reg::TIMER_INITIAL, 0);
    assert_eq!(r.poll_timer(100_000), None);
    assert_eq!(take(&mut r), None);
}

#[test]
fn timer_periodic_reloads_and_divide_changes_keep_the_count() {
    let Pc { mut r, clock, .. } = pc();
    symmetric_mode(&mut r);
    lapic_w(&mut r, reg::TIMER_DIVIDE, 0xB); // divide by 1
    lapic_w(&mut r, reg::LVT_TIMER, 0x2_00EC);
    lapic_w(&mut r, reg::TIMER_INITIAL, 100);
    assert_eq!(r.poll_timer(0), Some(100));
    assert_eq!(r.poll_timer(100), Some(200));
    assert_eq!(take(&mut r), Some(0xEC));
    eoi(&mut r);
    clock.sync_icount(150);
    assert_eq!(lapic_r(&mut r, reg::TIMER_CURRENT), 50);
    clock.sync_icount(200);
    assert_eq!(lapic_r(&mut r, reg::TIMER_CURRENT), 100, "reloaded at zero");
    // Late polls fold missed periods into one interrupt and stay on the grid.
    assert_eq!(r.poll_timer(450), Some(500));
    assert_eq!(take(&mut r), Some(0xEC));
    assert_eq!(take(&mut r), None);
    eoi(&mut r);
    // Divide by 2 from here: the 80 counts left take 160 ns.
    clock.sync_icount(520);
    assert_eq!(lapic_r(&mut r, reg::TIMER_CURRENT), 80);
    lapic_w(&mut r, reg::TIMER_DIVIDE, 0x0);
    assert_eq!(r.poll_timer(520), Some(680));
    assert_eq!(r.poll_timer(680), Some(880), "periods are now 100 x 2");
    assert_eq!(take(&mut r), Some(0xEC));
    eoi(&mut r);
    // Masked: counting goes on, nothing fires, nothing needs a wake-up.
    lapic_w(&mut r, reg::LVT_TIMER, 0x3_00EC);
    assert_eq!(r.poll_timer(900), None);
    assert_eq!(take(&mut r), None);
    clock.sync_icount(930);
    assert_eq!(lapic_r(&mut r, reg::TIMER_CURRENT), 75);
    // Back to one-shot mid-period: the count runs out once.
    lapic_w(&mut r, reg::LVT_TIMER, 0xEC);
    assert_eq!(r.poll_timer(930), Some(1080));
    assert_eq!(r.poll_timer(1080), None);
    assert_eq!(take(&mut r), Some(0xEC));
}

#[test]
fn self_ipis_through_the_icr() {
    let Pc { mut r, .. } = pc();
    symmetric_mode(&mut r);
    // Self shorthand.
    lapic_w(&mut r, reg::ICR_LOW, 0x4_0050);
    assert_eq!(take(&mut r), Some(0x50));
    eoi(&mut r);
    // All including self.
    lapic_w(&mut r, reg::ICR_LOW, 0x8_0051);
    assert_eq!(take(&mut r), Some(0x51));
    eoi(&mut r);
    // All excluding self: INIT and SIPI for application processors that do not exist.
    lapic_w(&mut r, reg::ICR_LOW, 0xC_4500);
    lapic_w(&mut r, reg::ICR_LOW, 0xC_4608);
    assert_eq!(take(&mut r), None);
    assert_eq!(
        lapic_r(&mut r, reg::ICR_LOW) & (1 << 12),
        0,
        "delivery idle"
    );
    // Physical destination 0 is this CPU; 1 is nobody.
    lapic_w(&mut r, reg::ICR_HIGH, 0x0100_0000);
    lapic_w(&mut r, reg::ICR_LOW, 0x0060);
    assert_eq!(take(&mut r), None);
    lapic_w(&mut r, reg::ICR_HIGH, 0);
    lapic_w(&mut r, reg::ICR_LOW, 0x0060);
    assert_eq!(take(&mut r), Some(0x60));
    eoi(&mut r);
    // Logical destination in flat mode: LDR is 1.
    lapic_w(&mut r, reg::ICR_HIGH, 0x0100_0000);
    lapic_w(&mut r, reg::ICR_LOW, 0x0861);
    assert_eq!(take(&mut r), Some(0x61));
    eoi(&mut r);
    // Illegal vector: a send error, nothing delivered.
    lapic_w(&mut r, reg::ICR_LOW, 0x4_0005);
    assert_eq!(take(&mut r), None);
    lapic_w(&mut r, reg::ESR, 0);
    assert_eq!(lapic_r(&mut r, reg::ESR), ESR_SEND_ILLEGAL_VECTOR);
    // NMI to self is kept for the CPU, once.
    lapic_w(&mut r, reg::ICR_LOW, 0x4_0400);
    assert!(r.nmi_pending());
    assert!(!r.has_interrupt(), "NMI is not INTR");
    assert!(r.take_nmi());
    assert!(!r.take_nmi());
}

#[test]
fn error_lvt_reports_illegal_vectors() {
    let Pc { mut r, .. } = pc();
    symmetric_mode(&mut r);
    lapic_w(&mut r, reg::LVT_ERROR, 0xFE);
    lapic_w(&mut r, reg::ICR_LOW, 0x4_0003);
    assert_eq!(take(&mut r), Some(0xFE));
    eoi(&mut r);
}

#[test]
fn spurious_vector_when_the_request_went_away() {
    let Pc { mut r, lines, .. } = pc();
    symmetric_mode(&mut r);
    assert_eq!(r.acknowledge(), 0xFF);
    lapic_w(&mut r, reg::SVR, 0x13F);
    assert_eq!(r.acknowledge(), 0x3F);
    // TPR raised between the check and INTA: spurious, and the request stays in IRR.
    redirect(&mut r, 4, 0x41);
    lines.pulse(4);
    assert!(r.has_interrupt());
    lapic_w(&mut r, reg::TPR, 0xF0);
    assert!(!r.has_interrupt());
    assert_eq!(r.acknowledge(), 0x3F);
    assert!(r.local_apic().irr_bit(0x41));
    assert!(
        !r.local_apic().isr_bit(0x3F),
        "spurious is never in service"
    );
    lapic_w(&mut r, reg::TPR, 0);
    assert_eq!(take(&mut r), Some(0x41));
}

#[test]
fn global_disable_falls_back_to_the_8259_and_relocation_moves_the_page() {
    let Pc { mut r, lines, .. } = pc();
    init_pics(&mut r);
    lapic_w(&mut r, reg::SVR, 0x1FF);
    lapic_w(&mut r, reg::LVT_LINT0, 0x1_0700);
    lines.pulse(1);
    assert_eq!(take(&mut r), None, "LINT0 masked: the 8259 is ignored");
    r.set_apic_base(LAPIC_BASE); // bit 11 clear
    assert_eq!(take(&mut r), Some(0x09), "PIC mode");
    r.write(0x20, 1, 0x20);
    assert_eq!(r.mmio_read(LAPIC_BASE + reg::VERSION as u64, 4), None);
    assert!(!r.mmio_write(LAPIC_BASE + reg::EOI as u64, 4, 0));
    assert!(r.mmio_read(IOAPIC_BASE, 4).is_some(), "the I/O APIC stays");
    assert_eq!(r.poll_timer(0), None);
    // The I/O APIC's messages find no local APIC.
    redirect(&mut r, 4, 0x41);
    r.write(0x21, 1, 1 << 4);
    lines.pulse(4);
    assert_eq!(take(&mut r), None);
    r.write(0x21, 1, 0);
    assert_eq!(take(&mut r), Some(0x0C), "the 8259 had latched it");
    r.write(0x20, 1, 0x20);
    // Re-enabled elsewhere: back in power-up state at the new base.
    let base = 0xFED0_0000u64;
    r.set_apic_base(base | 0x900);
    assert_eq!(r.mmio_read(LAPIC_BASE, 4), None);
    assert_eq!(r.mmio_read(base + reg::SVR as u64, 4), Some(0xFF));
    assert_eq!(r.mmio_read(base + reg::LVT_LINT0 as u64, 4), Some(0x700));
    lines.pulse(3);
    assert_eq!(take(&mut r), Some(0x0B), "virtual wire again");
}

#[test]
fn extint_through_lint0_ignores_apic_priorities() {
    let Pc { mut r, lines, .. } = pc();
    init_pics(&mut r);
    lapic_w(&mut r, reg::SVR, 0x1FF);
    lapic_w(&mut r, reg::TPR, 0xFF);
    lapic_w(&mut r, reg::LVT_LINT0, 0x8700); // SeaBIOS's virtual-wire setup
    lines.pulse(3);
    assert_eq!(take(&mut r), Some(0x0B));
    assert_eq!(
        lapic_r(&mut r, reg::ISR),
        0,
        "ExtINT is not in service in the APIC"
    );
    assert_eq!(lapic_r(&mut r, reg::PPR), 0xFF);
    r.write(0x20, 1, 0x20);
    // A fixed APIC interrupt goes first when both are pending.
    lapic_w(&mut r, reg::TPR, 0);
    lapic_w(&mut r, reg::ICR_LOW, 0x4_0070);
    lines.pulse(5);
    assert_eq!(take(&mut r), Some(0x70));
    assert_eq!(take(&mut r), Some(0x0D));
    r.write(0x20, 1, 0x20);
    eoi(&mut r);
    // LINT0 in NMI mode turns the 8259's INTR into an NMI on its rising edge.
    lapic_w(&mut r, reg::LVT_LINT0, 0x400);
    lines.pulse(6);
    assert!(!r.has_interrupt());
    assert!(r.take_nmi());
    assert!(!r.take_nmi());
    r.write(0x20, 1, 0x60 | 6); // specific EOI: nothing was in service, IRR 6 stays
    assert_eq!(r.pic().master.irr & (1 << 6), 1 << 6);
    // Fixed, edge-triggered: the INTR level is a wire into IRR; the 8259 sees no INTA.
    r.write(0x21, 1, 0xFF);
    lapic_w(&mut r, reg::LVT_LINT0, 0x62);
    r.write(0x21, 1, 0);
    assert_eq!(take(&mut r), Some(0x62));
    assert_eq!(take(&mut r), None, "one edge, one interrupt");
    assert!(!r.local_apic().tmr_bit(0x62));
    eoi(&mut r);
    assert_eq!(r.pic().master.isr, 0);
}

#[test]
fn extint_messages_from_the_io_apic_read_the_8259() {
    let Pc { mut r, lines, .. } = pc();
    symmetric_mode(&mut r);
    r.write(0x21, 1, !(1 << 4));
    redirect(&mut r, 4, 0x700);
    lines.pulse(4);
    assert_eq!(take(&mut r), Some(0x0C));
    assert_eq!(take(&mut r), None);
}

#[test]
fn has_interrupt_delivers_nothing_twice() {
    let Pc { mut r, lines, .. } = pc();
    init_pics(&mut r);
    lines.pulse(1);
    for _ in 0..5 {
        assert!(r.has_interrupt());
    }
    assert_eq!(r.acknowledge(), 0x09);
    for _ in 0..5 {
        assert!(!r.has_interrupt());
    }
    r.write(0x20, 1, 0x20);
    assert!(!r.has_interrupt(), "an acknowledged edge is gone");

    symmetric_mode(&mut r);
    redirect(&mut r, 4, 0x41);
    lines.pulse(4);
    for _ in 0..5 {
        assert!(r.has_interrupt());
    }
    assert_eq!(r.acknowledge(), 0x41);
    for _ in 0..5 {
        assert!(!r.has_interrupt());
    }
    eoi(&mut r);
    assert!(!r.has_interrupt());
    assert_eq!(r.acknowledge(), 0xFF);
}

#[test]
fn state_round_trip_and_reset() {
    let Pc { mut r, lines, .. } = pc();
    symmetric_mode(&mut r);
    redirect(&mut r, 9, 0x8049);
    lapic_w(&mut r, reg::LVT_TIMER, 0x2_00EC);
    lapic_w(&mut r, reg::TIMER_INITIAL, 1000);
    lines.set(9, true);
    assert_eq!(take(&mut r), Some(0x49));
    let saved = r.state();

    // Restored on a machine whose clock reads 10 us: the timer keeps its phase.
    let clock2 = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
    clock2.sync_icount(10_000);
    let mut copy = InterruptRouter::new(lines.clone(), clock2.clone());
    copy.restore(saved.clone());
    assert_eq!(copy.state(), saved);
    assert_eq!(lapic_r(&mut copy, reg::TIMER_CURRENT), 1000);
    // Divide configuration 0 is divide-by-2: 1000 counts take 2000 ns.
    assert_eq!(copy.poll_timer(11_000), Some(12_000));
    assert_eq!(take(&mut copy), None);
    assert_eq!(copy.poll_timer(12_000), Some(14_000));
    assert_eq!(take(&mut copy), Some(0xEC), "class 0xE nests over 0x49");
    eoi(&mut copy);
    assert_eq!(take(&mut copy), None, "0x49 waits for its EOI");
    eoi(&mut copy);
    assert_eq!(take(&mut copy), Some(0x49), "still asserted");

    // RESET: both APICs to power-up; the 8259 keeps its programming.
    lines.set(9, false);
    copy.reset();
    assert_eq!(lapic_r(&mut copy, reg::SVR), 0xFF);
    assert_eq!(ioapic_r(&mut copy, 0x10 + 18), 0x1_0000);
    assert_eq!(copy.pic().master.vector_base, 0x08);
    assert_eq!(copy.poll_timer(13_000), None);
    copy.write(0x21, 1, 0);
    lines.pulse(1);
    assert_eq!(take(&mut copy), Some(0x09));
}

#[test]
fn wired_on_the_port_bus_as_the_machine_does() {
    use emu_core::bus::PortBus;
    let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
    let lines = IrqLines::new();
    let mut io = PortBus::default();
    let id = io.register_interrupt_controller(
        ROUTER_PORTS,
        Box::new(InterruptRouter::new(lines.clone(), clock.clone())),
    );
    io.decode_mmio(id);
    for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01)] {
        io.write(port, 1, v);
    }
    io.write(0x21, 1, 0);
    assert_eq!(io.mmio_read(LAPIC_BASE + 0x30, 4), 0x0004_0014);
    assert_eq!(
        io.mmio_read(IOAPIC_BASE + 0x10, 4),
        0x0100_0000,
        "IOREGSEL 0: ID"
    );
    lines.pulse(0);
    let intc = io.interrupt_controller().unwrap();
    assert!(intc.has_local_apic());
    assert!(intc.has_interrupt());
    assert_eq!(intc.acknowledge(), 0x08);
    intc.set_apic_base(LAPIC_BASE);
    assert_eq!(io.mmio_read(LAPIC_BASE + 0x30, 4), 0xFFFF_FFFF, "open bus");
    assert_eq!(io.poll_timers(0), None);
}
