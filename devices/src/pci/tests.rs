use super::*;
use emu_core::clock::ClockMode;
use emu_core::control::{ShadowChange, ShadowMode, REQ_EXIT, REQ_MEMMAP};

struct Rig {
    bus: PciBus,
    control: Arc<MachineControl>,
    clock: Clock,
}

fn rig() -> Rig {
    let control = Arc::new(MachineControl::new());
    let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
    let bus = pc(control.clone(), clock.clone(), IrqLines::new());
    Rig {
        bus,
        control,
        clock,
    }
}

fn addr(device: u8, function: u8, reg: u8) -> u32 {
    0x8000_0000 | (device as u32) << 11 | (function as u32) << 8 | (reg as u32 & 0xFC)
}

impl Rig {
    fn cfg_read(&mut self, device: u8, function: u8, reg: u8, size: u8) -> u32 {
        self.bus.write(0xCF8, 4, addr(device, function, reg));
        self.bus.read(0xCFC + (reg & 3) as u16, size)
    }

    fn cfg_write(&mut self, device: u8, function: u8, reg: u8, size: u8, value: u32) {
        self.bus.write(0xCF8, 4, addr(device, function, reg));
        self.bus.write(0xCFC + (reg & 3) as u16, size, value);
    }

    /// What SeaBIOS does to turn the PM block on.
    fn enable_pm(&mut self) {
        self.cfg_write(1, 3, 0x40, 4, 0x601);
        self.cfg_write(1, 3, 0x80, 1, 0x01);
    }
}

#[test]
fn fixed_ports_cover_config_and_apm() {
    let p = ports();
    assert!(p.contains(&0xCF8) && p.contains(&0xCF9) && p.contains(&0xCFF));
    assert!(p.contains(&0xB2) && p.contains(&0xB3));
    assert_eq!(
        p.len(),
        8 + 2,
        "BARs are decoded through the default port route"
    );
}

#[test]
fn host_bridge_ids_through_mechanism_1() {
    let mut r = rig();
    assert_eq!(r.cfg_read(0, 0, 0x00, 4), 0x1237_8086);
    assert_eq!(r.cfg_read(0, 0, 0x00, 2), 0x8086);
    assert_eq!(r.cfg_read(0, 0, 0x02, 2), 0x1237);
    assert_eq!(r.cfg_read(0, 0, 0x01, 1), 0x80);
    assert_eq!(r.cfg_read(0, 0, 0x03, 1), 0x12);
    assert_eq!(r.cfg_read(0, 0, 0x0A, 2), 0x0600);
    assert_eq!(r.cfg_read(0, 0, 0x0B, 1), 0x06);
    assert_eq!(r.cfg_read(0, 0, 0x08, 1), 0x02, "revision");
    assert_eq!(r.cfg_read(0, 0, 0x0E, 1), 0x00);
    assert_eq!(r.cfg_read(0, 0, 0x2C, 4), 0x1100_1AF4, "subsystem");
    // CONFIG_ADDRESS reads back (low two bits and reserved bits zero).
    r.bus.write(0xCF8, 4, 0x8000_0803);
    assert_eq!(r.bus.read(0xCF8, 4), 0x8000_0800);
    // A byte write to 0xCFB does not touch CONFIG_ADDRESS (Linux's type 1 probe).
    r.bus.write(0xCFB, 1, 0x01);
    assert_eq!(r.bus.read(0xCF8, 4), 0x8000_0800);
}

#[test]
fn isa_bridge_and_pm_ids() {
    let mut r = rig();
    assert_eq!(r.cfg_read(1, 0, 0x00, 4), 0x7000_8086);
    assert_eq!(r.cfg_read(1, 0, 0x0A, 2), 0x0601);
    assert_eq!(r.cfg_read(1, 0, 0x0E, 1), 0x80, "multifunction");
    assert_eq!(r.cfg_read(1, 0, 0x60, 4), 0x8080_8080);
    r.cfg_write(1, 0, 0x60, 4, 0x0B0B_0A0A);
    assert_eq!(r.bus.pirq_routes(), [0x0A, 0x0A, 0x0B, 0x0B]);
    assert_eq!(r.cfg_read(1, 3, 0x00, 4), 0x7113_8086);
    assert_eq!(r.cfg_read(1, 3, 0x0A, 2), 0x0680);
    assert_eq!(r.cfg_read(1, 3, 0x3D, 1), 1, "INTA#");
}

#[test]
fn absent_functions_and_disabled_access_read_ones() {
    let mut r = rig();
    assert_eq!(r.cfg_read(2, 0, 0, 4), 0xFFFF_FFFF);
    assert_eq!(r.cfg_read(1, 1, 0, 2), 0xFFFF);
    assert_eq!(r.cfg_read(31, 7, 0x3F, 1), 0xFF);
    // Bus 1 does not exist.
    r.bus.write(0xCF8, 4, 0x8001_0000);
    assert_eq!(r.bus.read(0xCFC, 4), 0xFFFF_FFFF);
    // Enable bit clear: no configuration cycle.
    r.bus.write(0xCF8, 4, 0x0000_0000);
    assert_eq!(r.bus.read(0xCFC, 4), 0xFFFF_FFFF);
    assert_eq!(r.bus.read(0xCFE, 2), 0xFFFF);
    r.bus.write(0xCF8, 4, addr(1, 0, 0x60) & !CONFIG_ENABLE);
    r.bus.write(0xCFC, 1, 0x05);
    assert_eq!(
        r.bus.pirq_routes()[0],
        0x80,
        "write without enable bit dropped"
    );
}

#[test]
fn registered_function_answers() {
    struct Fixed(u32);
    impl PciFunction for Fixed {
        fn config_read(&mut self, reg: u8, size: u8) -> u32 {
            (self.0 >> (8 * (reg & 3))) & ones(size)
        }
        fn config_write(&mut self, _reg: u8, _size: u8, value: u32) {
            self.0 = value;
        }
    }
    let mut r = rig();
    r.bus.register(2, 0, Box::new(Fixed(0x1111_1234)));
    assert_eq!(r.cfg_read(2, 0, 0, 4), 0x1111_1234);
    assert_eq!(r.cfg_read(2, 0, 2, 2), 0x1111);
    r.cfg_write(2, 0, 0, 4, 0xABCD_0001);
    assert_eq!(r.bus.config_read(2, 0, 0, 4), 0xABCD_0001);
}

#[test]
fn pam_writes_request_shadow_changes() {
    let mut r = rig();
    r.cfg_write(0, 0, 0x59, 1, 0x30);
    assert_ne!(r.control.pending() & REQ_MEMMAP, 0);
    assert_eq!(
        r.control.take_shadow_changes(),
        vec![ShadowChange {
            start: 0xF0000,
            len: 0x10000,
            mode: ShadowMode::RamReadWrite
        }]
    );
    // Rewriting the same value changes nothing.
    r.cfg_write(0, 0, 0x59, 1, 0x30);
    assert!(r.control.take_shadow_changes().is_empty());
    // One nibble: 0xC4000-0xC7FFF read-only.
    r.cfg_write(0, 0, 0x5A, 1, 0x10);
    assert_eq!(
        r.control.take_shadow_changes(),
        vec![ShadowChange {
            start: 0xC4000,
            len: 0x4000,
            mode: ShadowMode::RamReadOnly
        }]
    );
    assert_eq!(r.cfg_read(0, 0, 0x5A, 1), 0x10);
    // Reserved bits (PAM0 low nibble, bits 2-3 of each nibble) stay clear.
    r.cfg_write(0, 0, 0x59, 1, 0xFF);
    assert_eq!(r.cfg_read(0, 0, 0x59, 1), 0x30);
    r.control.take_shadow_changes();
}

#[test]
fn seabios_make_writable_dword_pam_writes() {
    let mut r = rig();
    // SeaBIOS reads 0x58/0x5C as dwords, sets PAM1-6 to 0x33 and PAM0 to 0x30.
    let lo = r.cfg_read(0, 0, 0x58, 4);
    let hi = r.cfg_read(0, 0, 0x5C, 4);
    assert_eq!((lo, hi), (0, 0));
    r.cfg_write(0, 0, 0x58, 4, 0x3333_3000);
    r.cfg_write(0, 0, 0x5C, 4, 0x3333_3333);
    // First dword: PAM0-2 (0xF0000 and 0xC0000-0xCFFFF); second: PAM3-6.
    let changes = r.control.take_shadow_changes();
    assert_eq!(
        changes,
        vec![
            ShadowChange {
                start: 0xC0000,
                len: 0x10000,
                mode: ShadowMode::RamReadWrite
            },
            ShadowChange {
                start: 0xF0000,
                len: 0x10000,
                mode: ShadowMode::RamReadWrite
            },
            ShadowChange {
                start: 0xD0000,
                len: 0x20000,
                mode: ShadowMode::RamReadWrite
            },
        ]
    );
    // Then read-only for the BIOS, write-only oddity for one segment.
    r.cfg_write(0, 0, 0x59, 1, 0x10);
    r.cfg_write(0, 0, 0x5F, 1, 0x32);
    assert_eq!(
        r.control.take_shadow_changes(),
        vec![
            ShadowChange {
                start: 0xF0000,
                len: 0x10000,
                mode: ShadowMode::RamReadOnly
            },
            ShadowChange {
                start: 0xE8000,
                len: 0x4000,
                mode: ShadowMode::RamWriteOnly
            },
        ]
    );
    assert_eq!(r.bus.host.shadow_map().len(), 4);
}

#[test]
fn reset_control_register() {
    let mut r = rig();
    r.bus.write(0xCF9, 1, 0x02);
    assert_eq!(r.bus.read(0xCF9, 1), 0x02);
    assert_eq!(r.control.pending() & REQ_RESET, 0);
    // CONFIG_ADDRESS is untouched by the byte access.
    r.bus.write(0xCF8, 4, 0x8000_0000);
    r.bus.write(0xCF9, 1, 0x02);
    assert_eq!(r.bus.read(0xCF8, 4), 0x8000_0000);
    // Make the BIOS writable, then reset: the PAM registers go back to ROM.
    r.cfg_write(0, 0, 0x59, 1, 0x30);
    r.control.take_shadow_changes();
    r.bus.write(0xCF9, 1, 0x06);
    assert_ne!(r.control.take(REQ_RESET), 0);
    assert_eq!(
        r.control.take_shadow_changes(),
        vec![ShadowChange {
            start: 0xF0000,
            len: 0x10000,
            mode: ShadowMode::Rom
        }]
    );
    assert_eq!(r.bus.host.pam(0), 0);
    r.bus.write(0xCF9, 1, 0x0E);
    assert_ne!(r.control.take(REQ_RESET), 0);
}

#[test]
fn pm_timer_runs_at_3_579545_mhz_and_wraps() {
    let mut r = rig();
    r.enable_pm();
    assert_eq!(r.bus.read(0x608, 4), 0);
    r.clock.sync_icount(1_000_000_000); // one second
    assert_eq!(r.bus.read(0x608, 4), 3_579_545);
    r.clock.sync_icount(1_000); // 1 us: 3.58 ticks
    assert_eq!(r.bus.read(0x608, 4), 3);
    // 2^24 ticks take about 4.687 s; the counter wraps to zero.
    let wrap_ns = (1u64 << 24) * 1_000_000_000 / acpi_pm::PM_TIMER_HZ + 1;
    r.clock.sync_icount(wrap_ns);
    assert!(r.bus.read(0x608, 4) < 4);
    r.clock.sync_icount(wrap_ns - 2);
    assert_eq!(r.bus.read(0x608, 4), 0xFF_FFFF);
    // Byte and word reads see the same counter; writes are ignored.
    r.bus.write(0x608, 4, 0);
    assert_eq!(r.bus.read(0x60A, 1), 0xFF);
    assert_eq!(r.bus.read(0x608, 2), 0xFFFF);
    assert_eq!(r.bus.read(0x60B, 1), 0);
    // TMR_STS is set by the bit-23 changes that happened.
    assert_eq!(r.bus.read(0x600, 2) & 1, 1);
}

#[test]
fn pm_block_decoded_only_when_enabled_at_its_base() {
    let mut r = rig();
    r.clock.sync_icount(1_000_000);
    assert_eq!(r.bus.read(0x608, 4), 0xFFFF_FFFF);
    r.bus.write(0x604, 2, 0x2000);
    assert_eq!(r.control.pending() & REQ_EXIT, 0);
    // SeaBIOS's base, 0xB000: decoded there and not at 0x600.
    r.cfg_write(1, 3, 0x40, 4, 0xB001);
    r.cfg_write(1, 3, 0x80, 1, 1);
    assert_eq!(r.bus.pm.pmba(), 0xB000);
    assert_eq!(r.bus.read(0x608, 4), 0xFFFF_FFFF);
    assert_ne!(r.bus.read(0xB008, 4), 0xFFFF_FFFF, "PM timer at 0xB008");
    // Any base works, and the old one is released.
    r.cfg_write(1, 3, 0x40, 4, 0x7001);
    assert_ne!(r.bus.read(0x7008, 4), 0xFFFF_FFFF);
    assert_eq!(r.bus.read(0xB008, 4), 0xFFFF_FFFF);
    r.enable_pm();
    assert_ne!(r.bus.read(0x608, 4), 0xFFFF_FFFF);
}

#[test]
fn poweroff_via_pm1a_cnt() {
    let mut r = rig();
    r.enable_pm();
    // SLP_TYP without SLP_EN does nothing.
    r.bus.write(0x604, 2, 0x0001);
    assert_eq!(r.control.pending() & REQ_EXIT, 0);
    assert_eq!(r.bus.read(0x604, 2), 0x0001);
    // Linux: SLP_TYP = 0 (_S5), then SLP_EN.
    r.bus.write(0x604, 2, 0x0001 | 0x2000);
    assert_ne!(r.control.pending() & REQ_EXIT, 0);
    assert_eq!(r.control.exit_code(), 0);
    assert_eq!(r.bus.read(0x604, 2), 0x0001, "SLP_EN is write-only");

    // A byte write to the high half works too.
    let mut r = rig();
    r.enable_pm();
    r.bus.write(0x605, 1, 0x20);
    assert_ne!(r.control.pending() & REQ_EXIT, 0);
}

#[test]
fn apm_port_enables_acpi_mode() {
    let mut r = rig();
    r.enable_pm();
    r.bus.write(0xB2, 1, 0xF1);
    assert_eq!(r.bus.read(0x604, 2) & 1, 1, "SCI_EN");
    assert_eq!(r.bus.read(0xB2, 1), 0xF1);
    r.bus.write(0xB3, 1, 0x55);
    assert_eq!(r.bus.read(0xB3, 1), 0x55);
}

#[test]
fn bus_state_round_trip() {
    let mut r = rig();
    r.enable_pm();
    r.cfg_write(0, 0, 0x59, 1, 0x10);
    r.cfg_write(1, 0, 0x60, 1, 0x0A);
    r.bus.write(0xCF8, 4, addr(0, 0, 0x58));
    let s = r.bus.state();
    let mut q = rig();
    q.bus.restore(s.clone());
    assert_eq!(q.bus.state(), s);
    assert_eq!(
        q.control.take_shadow_changes(),
        vec![
            ShadowChange {
                start: 0xC0000,
                len: 0x30000,
                mode: ShadowMode::Rom
            },
            ShadowChange {
                start: 0xF0000,
                len: 0x10000,
                mode: ShadowMode::RamReadOnly
            },
        ]
    );
    assert!(q.bus.pm.io_enabled());
}
