//! Intel MultiProcessor Specification 1.4 tables for direct boot: what an MP-table guest (Linux
//! without ACPI, older kernels, hobby SMP kernels) reads to find the CPU, the buses, the I/O
//! APIC and how the ISA interrupts reach it.
//!
//! MP spec 1.4 chapter 4 (MP Configuration Table): the **floating pointer structure** ("_MP_",
//! 16 bytes, 4.1) must lie in the first KiB of the EBDA, the last KiB of base memory, or the
//! BIOS ROM at 0xF0000-0xFFFFF. Our ROM is read-only and belongs to whatever BIOS image is
//! mapped, and the EBDA (0x9FC00, named by the BDA word at 0x40E) starts with the ACPI tables
//! ([`crate::acpi`]), so the structure goes just after them at [`MP_BASE`] (EBDA offset 0x280,
//! still in its first KiB, which is also the last KiB of the 639 KiB of base memory), with the
//! **configuration table** ("PCMP", 4.2) right behind it. Both fit below 0xA0000 (a test checks).
//!
//! The configuration table describes the machine as QEMU's `pc` machine and SeaBIOS's
//! `mptable.c` do for one CPU, entries sorted by type as 4.3 requires:
//! - processor (4.3.1): local APIC ID 0, enabled, bootstrap processor, Ringside's CPUID
//!   signature and leaf-1 EDX feature flags (with the APIC bit, since the table says there is
//!   one);
//! - buses (4.3.2): PCI as bus 0 and ISA as bus 1 (SeaBIOS's numbering);
//! - the I/O APIC (4.3.3): ID [`crate::acpi::IO_APIC_ID`] (the MADT's), version 0x11 (82093AA),
//!   enabled, at 0xFEC00000;
//! - I/O interrupt assignments (4.3.4): ISA IRQ 0 -> pin 2 (the PIT goes through the
//!   IRQ0->INTIN2 override, as in the MADT; source IRQ 2, the cascade, is left out), ISA IRQ n ->
//!   pin n for 1 and 3-15, all "conforms to bus" (edge, active high) except IRQ 9, the ACPI SCI,
//!   which is level triggered, active high as QEMU wires it;
//! - local interrupt assignments (4.3.5): ExtINT (the 8259's INTR) on LINT0 and NMI on LINT1,
//!   for every local APIC (ID 0xFF).
//!
//! Feature byte 2 bit 7 (IMCRP) is clear: the machine has no IMCR and comes up in virtual-wire
//! mode (spec 3.6.2.2), which is what the ExtINT-on-LINT0 entry describes. No PCI interrupt
//! entries: no Ringside PCI function raises INTx yet (the PM function's SCI is IRQ 9). No
//! extended table.

use emu_core::cpu::cpuid::{feature, SIGNATURE};
use emu_core::memory::PhysicalMemory;

use crate::acpi::{
    ACPI_BASE, ACPI_END_OFFSET, BSP_APIC_ID, IO_APIC_ADDR, IO_APIC_ID, LOCAL_APIC_ADDR,
};

/// Where [`install`] puts the floating pointer: in the EBDA after the ACPI tables.
pub const MP_BASE: u64 = ACPI_BASE + ACPI_END_OFFSET as u64;
/// End of the EBDA's first KiB, where the floating pointer must lie.
pub const EBDA_FIRST_KIB_END: u64 = ACPI_BASE + 0x400;

pub const FLOATING_LEN: usize = 16;
pub const HEADER_LEN: usize = 44;
pub const SPEC_REV_1_4: u8 = 4;

/// Entry types (MP spec Table 4-3) and their lengths.
pub const ENTRY_PROCESSOR: u8 = 0;
pub const ENTRY_BUS: u8 = 1;
pub const ENTRY_IO_APIC: u8 = 2;
pub const ENTRY_IO_INTERRUPT: u8 = 3;
pub const ENTRY_LOCAL_INTERRUPT: u8 = 4;
pub const PROCESSOR_LEN: usize = 20;
pub const OTHER_ENTRY_LEN: usize = 8;

/// Processor entry CPU flags.
pub const CPU_ENABLED: u8 = 1 << 0;
pub const CPU_BSP: u8 = 1 << 1;
/// I/O APIC entry flags.
pub const IO_APIC_ENABLED: u8 = 1 << 0;
/// Interrupt types (Table 4-9).
pub const INT_VECTORED: u8 = 0;
pub const INT_NMI: u8 = 1;
pub const INT_EXTINT: u8 = 3;
/// Interrupt entry flags: polarity bits 1:0 (01 active high), trigger bits 3:2 (11 level);
/// 0 means "conforms to the bus" (ISA: edge, active high).
pub const PO_ACTIVE_HIGH: u16 = 0b01;
pub const EL_LEVEL: u16 = 0b11 << 2;
/// Destination "all local APICs".
pub const ALL_LOCAL_APICS: u8 = 0xFF;

pub const PCI_BUS_ID: u8 = 0;
pub const ISA_BUS_ID: u8 = 1;

pub const OEM_ID: &[u8; 8] = b"RINGSIDE";
pub const PRODUCT_ID: &[u8; 12] = b"RINGSIDE PC ";

/// What the tables say about the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpConfig {
    /// Version register of the local APIC model (0x14: integrated xAPIC, what SeaBIOS reports
    /// on QEMU).
    pub local_apic_version: u8,
    pub io_apic_id: u8,
    /// 0x11 (82093AA I/O APIC, as QEMU's).
    pub io_apic_version: u8,
    /// CPUID leaf 1 EAX.
    pub cpu_signature: u32,
    /// CPUID leaf 1 EDX.
    pub cpu_features: u32,
    /// The ISA IRQ of the ACPI SCI (level triggered, active high).
    pub sci_irq: u8,
}

impl Default for MpConfig {
    fn default() -> Self {
        use feature::*;
        MpConfig {
            local_apic_version: 0x14,
            io_apic_id: IO_APIC_ID,
            io_apic_version: 0x11,
            cpu_signature: SIGNATURE,
            // What Ringside's CPUID reports once the machine has a local APIC.
            cpu_features: FPU
                | PSE
                | TSC
                | MSR
                | PAE
                | CX8
                | APIC
                | SEP
                | MTRR
                | PGE
                | CMOV
                | PAT
                | FXSR,
            sci_irq: 9,
        }
    }
}

/// The floating pointer and configuration table as they go into guest memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpTable {
    /// Guest-physical address of `bytes[0]` (the floating pointer).
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl MpTable {
    /// Address of the configuration table.
    pub fn config_addr(&self) -> u64 {
        self.base + FLOATING_LEN as u64
    }
}

fn checksum(data: &[u8]) -> u8 {
    crate::acpi::checksum(data)
}

fn interrupt(kind: u8, int_type: u8, flags: u16, bus: u8, irq: u8, dest: u8, pin: u8) -> [u8; 8] {
    let f = flags.to_le_bytes();
    [kind, int_type, f[0], f[1], bus, irq, dest, pin]
}

/// The configuration table's entries, in the order MP spec 4.3 requires.
fn entries(cfg: &MpConfig) -> (Vec<u8>, u16) {
    let mut e = Vec::new();
    let mut count = 0u16;
    // Processor.
    e.extend_from_slice(&[
        ENTRY_PROCESSOR,
        BSP_APIC_ID,
        cfg.local_apic_version,
        CPU_ENABLED | CPU_BSP,
    ]);
    e.extend_from_slice(&cfg.cpu_signature.to_le_bytes());
    e.extend_from_slice(&cfg.cpu_features.to_le_bytes());
    e.extend_from_slice(&[0; 8]);
    count += 1;
    // Buses, by ascending bus ID.
    for (id, name) in [(PCI_BUS_ID, b"PCI   "), (ISA_BUS_ID, b"ISA   ")] {
        e.extend_from_slice(&[ENTRY_BUS, id]);
        e.extend_from_slice(name);
        count += 1;
    }
    // I/O APIC.
    e.extend_from_slice(&[
        ENTRY_IO_APIC,
        cfg.io_apic_id,
        cfg.io_apic_version,
        IO_APIC_ENABLED,
    ]);
    e.extend_from_slice(&IO_APIC_ADDR.to_le_bytes());
    count += 1;
    // ISA interrupts.
    for irq in 0..16u8 {
        let pin = match irq {
            0 => 2,
            2 => continue,
            n => n,
        };
        let flags = if irq == cfg.sci_irq {
            PO_ACTIVE_HIGH | EL_LEVEL
        } else {
            0
        };
        e.extend_from_slice(&interrupt(
            ENTRY_IO_INTERRUPT,
            INT_VECTORED,
            flags,
            ISA_BUS_ID,
            irq,
            cfg.io_apic_id,
            pin,
        ));
        count += 1;
    }
    // Local interrupts: the 8259 in virtual-wire mode on LINT0, NMI on LINT1.
    for (int_type, lint) in [(INT_EXTINT, 0), (INT_NMI, 1)] {
        e.extend_from_slice(&interrupt(
            ENTRY_LOCAL_INTERRUPT,
            int_type,
            0,
            ISA_BUS_ID,
            0,
            ALL_LOCAL_APICS,
            lint,
        ));
        count += 1;
    }
    (e, count)
}

/// Builds the floating pointer at guest-physical `base` (16-byte aligned, below 1 MiB) followed
/// by the configuration table.
pub fn build(base: u64, cfg: &MpConfig) -> MpTable {
    assert!(
        base.is_multiple_of(16) && base < 0x10_0000,
        "bad MP table base {base:#x}"
    );
    let config_addr = (base + FLOATING_LEN as u64) as u32;
    let (body, count) = entries(cfg);

    let mut t = vec![0u8; HEADER_LEN];
    t[0..4].copy_from_slice(b"PCMP");
    t[4..6].copy_from_slice(&((HEADER_LEN + body.len()) as u16).to_le_bytes());
    t[6] = SPEC_REV_1_4;
    t[8..16].copy_from_slice(OEM_ID);
    t[16..28].copy_from_slice(PRODUCT_ID);
    // OEM table pointer and size (28..34) stay 0: none.
    t[34..36].copy_from_slice(&count.to_le_bytes());
    t[36..40].copy_from_slice(&LOCAL_APIC_ADDR.to_le_bytes());
    // Extended table length and checksum (40, 42) stay 0: none.
    t.extend_from_slice(&body);
    t[7] = checksum(&t);

    let mut f = [0u8; FLOATING_LEN];
    f[0..4].copy_from_slice(b"_MP_");
    f[4..8].copy_from_slice(&config_addr.to_le_bytes());
    f[8] = 1; // length in 16-byte paragraphs
    f[9] = SPEC_REV_1_4;
    // Feature byte 1 = 0: a configuration table is present (no default configuration).
    // Feature byte 2 = 0: IMCRP clear, virtual-wire mode.
    f[10] = checksum(&f);

    let mut bytes = f.to_vec();
    bytes.extend_from_slice(&t);
    MpTable { base, bytes }
}

/// Writes the MP tables at [`MP_BASE`] and the BIOS data area words that lead a guest's
/// search to the EBDA (its segment at 0x40E, base memory in KiB at 0x413). Call after the
/// kernel loader, which writes the ACPI tables just below.
pub fn install(mem: &mut PhysicalMemory, cfg: &MpConfig) -> MpTable {
    let t = build(MP_BASE, cfg);
    mem.write_bytes(t.base, &t.bytes);
    mem.write_bytes(0x40E, &((ACPI_BASE >> 4) as u16).to_le_bytes());
    mem.write_bytes(0x413, &((ACPI_BASE >> 10) as u16).to_le_bytes());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(d: &[u8]) -> u8 {
        d.iter().fold(0u8, |a, &b| a.wrapping_add(b))
    }
    fn rd16(d: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([d[at], d[at + 1]])
    }
    fn rd32(d: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
    }

    /// Finds "_MP_" as Linux's `smp_scan_config` does: 16-byte steps, length and checksum.
    fn scan(mem: &mut PhysicalMemory, start: u64, len: u64) -> Option<u64> {
        (start..start + len).step_by(16).find(|&a| {
            let mut f = [0u8; 16];
            mem.read_bytes(a, &mut f);
            &f[0..4] == b"_MP_" && f[8] == 1 && sum(&f) == 0
        })
    }

    fn table() -> MpTable {
        build(MP_BASE, &MpConfig::default())
    }

    #[test]
    fn placement_avoids_acpi_and_stays_in_the_ebda_first_kib() {
        let t = table();
        let acpi = crate::acpi::build(ACPI_BASE, &crate::acpi::AcpiConfig::default());
        assert!(
            acpi.base + acpi.bytes.len() as u64 <= t.base,
            "overlaps ACPI"
        );
        assert!(t.base + FLOATING_LEN as u64 <= EBDA_FIRST_KIB_END);
        assert!(
            t.base + t.bytes.len() as u64 <= 0xA_0000,
            "{} bytes do not fit below the VGA window",
            t.bytes.len()
        );
        assert_eq!(t.base % 16, 0);
    }

    #[test]
    fn floating_pointer() {
        let t = table();
        let f = &t.bytes[..FLOATING_LEN];
        assert_eq!(&f[0..4], b"_MP_");
        assert_eq!(sum(f), 0);
        assert_eq!(rd32(f, 4) as u64, t.config_addr());
        assert_eq!((f[8], f[9]), (1, 4), "length 1 paragraph, spec 1.4");
        assert_eq!(&f[11..16], &[0; 5], "no default config, no IMCR");
    }

    /// Parses the configuration table back: (type, entry bytes).
    fn parse(t: &MpTable) -> (Vec<u8>, Vec<(u8, Vec<u8>)>) {
        let c = &t.bytes[FLOATING_LEN..];
        let len = rd16(c, 4) as usize;
        assert_eq!(len, c.len());
        let hdr = c[..HEADER_LEN].to_vec();
        let mut v = Vec::new();
        let mut at = HEADER_LEN;
        while at < len {
            let n = if c[at] == ENTRY_PROCESSOR {
                PROCESSOR_LEN
            } else {
                OTHER_ENTRY_LEN
            };
            v.push((c[at], c[at..at + n].to_vec()));
            at += n;
        }
        assert_eq!(at, len);
        (hdr, v)
    }

    #[test]
    fn config_table_header() {
        let t = table();
        let c = &t.bytes[FLOATING_LEN..];
        assert_eq!(&c[0..4], b"PCMP");
        assert_eq!(sum(c), 0, "base table checksum");
        assert_eq!(c[6], 4);
        assert_eq!(&c[8..16], b"RINGSIDE");
        assert_eq!(rd32(c, 36), 0xFEE0_0000);
        assert_eq!((rd16(c, 40), c[42]), (0, 0), "no extended table");
        let (_, e) = parse(&t);
        assert_eq!(rd16(c, 34) as usize, e.len(), "entry count");
        // Sorted by type.
        assert!(e.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn entries_parse_back() {
        let t = table();
        let (_, e) = parse(&t);
        let of = |k: u8| -> Vec<&Vec<u8>> { e.iter().filter(|x| x.0 == k).map(|x| &x.1).collect() };
        let cpu = of(ENTRY_PROCESSOR);
        assert_eq!(cpu.len(), 1);
        assert_eq!(cpu[0][1], 0, "APIC ID");
        assert_eq!(cpu[0][3], CPU_ENABLED | CPU_BSP);
        assert_eq!(rd32(cpu[0], 4), 0x652);
        assert_ne!(rd32(cpu[0], 8) & feature::APIC, 0);
        assert_ne!(rd32(cpu[0], 8) & feature::FPU, 0);

        let buses = of(ENTRY_BUS);
        assert_eq!(buses.len(), 2);
        assert_eq!((buses[0][1], &buses[0][2..8]), (0, &b"PCI   "[..]));
        assert_eq!((buses[1][1], &buses[1][2..8]), (1, &b"ISA   "[..]));

        let io = of(ENTRY_IO_APIC);
        assert_eq!(io.len(), 1);
        assert_eq!(io[0][1], IO_APIC_ID);
        assert_eq!((io[0][2], io[0][3]), (0x11, 1));
        assert_eq!(rd32(io[0], 4), 0xFEC0_0000);

        let ints = of(ENTRY_IO_INTERRUPT);
        assert_eq!(ints.len(), 15, "IRQs 0-15 but 2");
        let mut pins = [None; 16];
        for i in &ints {
            assert_eq!(i[1], INT_VECTORED);
            assert_eq!(i[4], ISA_BUS_ID);
            assert_eq!(i[6], IO_APIC_ID);
            assert!(pins[i[5] as usize].is_none(), "IRQ {} twice", i[5]);
            pins[i[5] as usize] = Some((i[7], rd16(i, 2)));
        }
        assert_eq!(pins[0], Some((2, 0)), "IRQ0 -> INTIN2");
        assert_eq!(pins[2], None, "the cascade has no entry");
        assert_eq!(pins[9], Some((9, 0x0D)), "SCI: level, active high");
        for irq in [1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15] {
            assert_eq!(pins[irq], Some((irq as u8, 0)), "IRQ {irq}");
        }

        let locals = of(ENTRY_LOCAL_INTERRUPT);
        assert_eq!(locals.len(), 2);
        assert_eq!(
            (locals[0][1], locals[0][6], locals[0][7]),
            (INT_EXTINT, 0xFF, 0)
        );
        assert_eq!(
            (locals[1][1], locals[1][6], locals[1][7]),
            (INT_NMI, 0xFF, 1)
        );
    }

    #[test]
    fn install_is_found_by_the_linux_scan() {
        let mut mem = PhysicalMemory::new(16 << 20, &[0xF4; 0x10000]).unwrap();
        let acpi = crate::acpi::build(ACPI_BASE, &crate::acpi::AcpiConfig::default());
        mem.write_bytes(acpi.base, &acpi.bytes);
        let t = install(&mut mem, &MpConfig::default());
        // Linux: the first KiB, the last KiB of base memory (639 KiB), the BIOS ROM, the EBDA.
        assert_eq!(scan(&mut mem, 0, 0x400), None);
        assert_eq!(scan(&mut mem, 639 * 0x400, 0x400), Some(t.base));
        let ebda = (mem.read_u32(0x40E) & 0xFFFF) as u64 * 16;
        assert_eq!(scan(&mut mem, ebda, 0x400), Some(t.base));
        // The ACPI tables are intact.
        let mut back = vec![0u8; acpi.bytes.len()];
        mem.read_bytes(acpi.base, &mut back);
        assert_eq!(back, acpi.bytes);
        let mut cfg = vec![0u8; t.bytes.len() - FLOATING_LEN];
        mem.read_bytes(t.config_addr(), &mut cfg);
        assert_eq!(sum(&cfg), 0);
    }
}
