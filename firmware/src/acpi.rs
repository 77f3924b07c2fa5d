//! ACPI tables for direct boot: RSDP, RSDT, FADT, FACS, a DSDT with `\_S5` and a MADT.
//!
//! Just enough for a guest to find ACPI, take the PIIX4 power-management block (00:01.3, the
//! `devices::pci::acpi_pm` model) into ACPI mode through the SMI command port, power off
//! through S5, and find the interrupt controllers.
//!
//! The MADT (ACPI 1.0b section 5.2.8, "Multiple APIC Description Table"; ACPI 6.x 5.2.12)
//! describes the APIC set of QEMU's `pc` machine with one CPU: a local APIC (ID 0) at
//! [`LOCAL_APIC_ADDR`], one I/O APIC (ID [`IO_APIC_ID`], GSI base 0) at [`IO_APIC_ADDR`], the
//! PCAT_COMPAT flag (8259 pair present too), interrupt source overrides ISA IRQ 0 -> GSI 2 (the
//! PIT is wired to I/O APIC pin 2, as on QEMU) and IRQ 9 -> GSI 9 level, active high (the SCI,
//! ACPI 5.2.12.5 says an SCI sharing a pin with an ISA IRQ must be described so), and NMI on
//! LINT1 of every processor. [`crate::mptable`] describes the same wiring for MP-table guests.
//! [`AcpiConfig::madt`] leaves it out for a machine without APICs. (A guest whose CPUID shows
//! no APIC ignores the MADT's APIC entries anyway: Linux's MADT parser returns -ENODEV then
//! and keeps the PICs.)
//!
//! The tables are one small blob (under 512 bytes) placed in the EBDA at [`ACPI_BASE`]
//! (0x9FC00, reserved in the e820 map and named by the BDA word at 0x40E). The F-segment holds
//! the read-only ROM, so the RSDP cannot go there; the ACPI spec has OSPM search the first KiB
//! of the EBDA as well, and the loader also passes the address in `boot_params.acpi_rsdp_addr`.
//!
//! Layout (offsets from the base, which must be 64-byte aligned for the FACS):
//!
//! | offset  | table                                   |
//! |---------|-----------------------------------------|
//! | `0x000` | RSDP (ACPI 1.0, revision 0, 20 bytes)   |
//! | `0x040` | FACS (64 bytes)                         |
//! | `0x080` | RSDT (FADT, then the MADT if any)       |
//! | `0x0C0` | FADT (revision 3, 244 bytes)            |
//! | `0x1C0` | DSDT (`\_SB.PCI0` root bridge, `Name (_S5, Package (4) {0, 0, 0, 0})`) |
//! | `0x220` | MADT (revision 1, 90 bytes)             |
//! | `0x280` | free: the MP table goes here ([`crate::mptable::MP_BASE`]) |
//!
//! The FADT describes the PM timer (PMBA + 8), as QEMU's does ([`AcpiConfig::pm_timer`]).
//! The FADT fills only the 32-bit block addresses; the X_ (GAS) fields stay zero so ACPICA
//! derives them from the 32-bit ones (no mismatch warnings). No GPE blocks, no reset register.

/// Where the loader puts the tables: the EBDA.
pub const ACPI_BASE: u64 = 0x9_FC00;

pub const RSDP_OFFSET: usize = 0x000;
pub const FACS_OFFSET: usize = 0x040;
pub const RSDT_OFFSET: usize = 0x080;
pub const FADT_OFFSET: usize = 0x0C0;
pub const DSDT_OFFSET: usize = 0x1C0;
pub const MADT_OFFSET: usize = 0x220;
/// First byte past the ACPI blob that other firmware tables may use.
pub const ACPI_END_OFFSET: usize = 0x280;

pub const HEADER_LEN: usize = 36;
pub const RSDP_LEN: usize = 20;
pub const FACS_LEN: usize = 64;
pub const FADT_LEN: usize = 244;
pub const FADT_REVISION: u8 = 3;
pub const MADT_REVISION: u8 = 1;

/// The APIC set the MADT and the MP table describe (QEMU's `pc` machine addresses).
pub const LOCAL_APIC_ADDR: u32 = 0xFEE0_0000;
pub const IO_APIC_ADDR: u32 = 0xFEC0_0000;
/// I/O APIC ID: 1, not 0, so it differs from the BSP's local APIC ID as the serial APIC bus
/// of P6-class parts requires (SeaBIOS numbers it after the CPUs the same way). The I/O APIC
/// model's ID register must reset to this value.
pub const IO_APIC_ID: u8 = 1;
/// The local APIC ID of the one processor (CPUID.1:EBX[31:24] reports 0).
pub const BSP_APIC_ID: u8 = 0;

pub const OEM_ID: &[u8; 6] = b"RINGSD";
pub const OEM_TABLE_ID: &[u8; 8] = b"RINGSIDE";
pub const CREATOR_ID: &[u8; 4] = b"RNGS";

/// FADT field offsets (ACPI 2.0 layout, FADT revision 3).
pub mod fadt {
    pub const FIRMWARE_CTRL: usize = 36;
    pub const DSDT: usize = 40;
    pub const PREFERRED_PM_PROFILE: usize = 45;
    pub const SCI_INT: usize = 46;
    pub const SMI_CMD: usize = 48;
    pub const ACPI_ENABLE: usize = 52;
    pub const ACPI_DISABLE: usize = 53;
    pub const PM1A_EVT_BLK: usize = 56;
    pub const PM1A_CNT_BLK: usize = 64;
    pub const PM_TMR_BLK: usize = 76;
    pub const GPE0_BLK: usize = 80;
    pub const GPE1_BLK: usize = 84;
    pub const PM1_EVT_LEN: usize = 88;
    pub const PM1_CNT_LEN: usize = 89;
    pub const PM2_CNT_LEN: usize = 90;
    pub const PM_TMR_LEN: usize = 91;
    pub const GPE0_BLK_LEN: usize = 92;
    pub const GPE1_BLK_LEN: usize = 93;
    pub const P_LVL2_LAT: usize = 96;
    pub const P_LVL3_LAT: usize = 98;
    pub const CENTURY: usize = 108;
    pub const IAPC_BOOT_ARCH: usize = 109;
    pub const FLAGS: usize = 112;
    pub const X_FIRMWARE_CTRL: usize = 132;
    pub const X_DSDT: usize = 140;

    /// Flags.
    pub const WBINVD: u32 = 1 << 0;
    pub const PROC_C1: u32 = 1 << 2;
    pub const SLP_BUTTON: u32 = 1 << 5;
    /// IAPC_BOOT_ARCH.
    pub const LEGACY_DEVICES: u16 = 1 << 0;
    pub const I8042: u16 = 1 << 1;
}

/// MADT field offsets, entry types and flags (ACPI 6.x section 5.2.12).
pub mod madt {
    pub const LOCAL_APIC_ADDRESS: usize = 36;
    pub const FLAGS: usize = 40;
    pub const ENTRIES: usize = 44;
    pub const PCAT_COMPAT: u32 = 1 << 0;

    pub const TYPE_LOCAL_APIC: u8 = 0;
    pub const TYPE_IO_APIC: u8 = 1;
    pub const TYPE_INTERRUPT_OVERRIDE: u8 = 2;
    pub const TYPE_LOCAL_APIC_NMI: u8 = 4;
    /// Processor Local APIC flags.
    pub const LAPIC_ENABLED: u32 = 1 << 0;
    /// MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2.
    pub const ACTIVE_HIGH: u16 = 0b01;
    pub const LEVEL: u16 = 0b11 << 2;
    /// Local APIC NMI: every processor.
    pub const ALL_PROCESSORS: u8 = 0xFF;
}

/// The chipset resources the FADT describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcpiConfig {
    /// I/O base of the PIIX4 PM block (PMBA).
    pub pm_base: u16,
    pub sci_irq: u16,
    pub smi_cmd: u16,
    pub acpi_enable: u8,
    pub acpi_disable: u8,
    /// CMOS index of the century byte (0: none).
    pub century: u8,
    /// Describe the PM timer (PMBA + 8) in the FADT. With it Linux picks the `acpi_pm`
    /// clocksource and runs the PIT clockevent one-shot, idling in HLT with no timer armed;
    /// the machine loop waits for input then instead of ending the run.
    pub pm_timer: bool,
    /// Add the MADT (the machine has a local APIC and an I/O APIC).
    pub madt: bool,
}

impl Default for AcpiConfig {
    /// The Ringside PC: PM block at 0x600, SCI on IRQ 9, APM control port 0xB2.
    fn default() -> Self {
        AcpiConfig {
            pm_base: 0x600,
            sci_irq: 9,
            smi_cmd: 0xB2,
            acpi_enable: 0xF1,
            acpi_disable: 0xF0,
            century: 0x32,
            pm_timer: true,
            madt: true,
        }
    }
}

/// The tables as they go into guest memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcpiTables {
    /// Guest-physical address of `bytes[0]`.
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl AcpiTables {
    pub fn rsdp_addr(&self) -> u64 {
        self.base + RSDP_OFFSET as u64
    }
}

/// Two's-complement byte sum: the value that makes `data` sum to zero.
pub fn checksum(data: &[u8]) -> u8 {
    data.iter()
        .fold(0u8, |a, &b| a.wrapping_add(b))
        .wrapping_neg()
}

fn wr16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn wr32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A system description table: the standard 36-byte header, then `body`, checksummed.
pub fn sdt(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; HEADER_LEN];
    t[0..4].copy_from_slice(signature);
    wr32(&mut t, 4, (HEADER_LEN + body.len()) as u32);
    t[8] = revision;
    t[10..16].copy_from_slice(OEM_ID);
    t[16..24].copy_from_slice(OEM_TABLE_ID);
    wr32(&mut t, 24, 1); // OEM revision
    t[28..32].copy_from_slice(CREATOR_ID);
    wr32(&mut t, 32, 1); // creator revision
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// The DSDT's AML: `Scope (\_SB) { Device (PCI0) { Name (_HID, EisaId ("PNP0A03"))
/// Name (_ADR, 0) } }` and `Name (_S5, Package (4) {0, 0, 0, 0})`. SLP_TYP 0 is what the PIIX4
/// model treats as soft-off (QEMU's value). With ACPI enabled Linux only scans the PCI buses
/// the namespace names, so the root bridge keeps bus 0 enumerated; it has no `_CRS` (Linux
/// assumes buses 00-ff and no windows; our functions have no BARs) and no `_PRT`.
pub fn dsdt_aml() -> Vec<u8> {
    vec![
        // ScopeOp, PkgLength 29, RootChar '\', "_SB_"
        0x10, 0x1D, b'\\', b'_', b'S', b'B', b'_', //
        // DeviceOp (ExtOpPrefix, 0x82), PkgLength 21, "PCI0"
        0x5B, 0x82, 0x15, b'P', b'C', b'I', b'0', //
        // Name (_HID, EisaId ("PNP0A03")): DWordPrefix, 0x030AD041
        0x08, b'_', b'H', b'I', b'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03, //
        // Name (_ADR, Zero)
        0x08, b'_', b'A', b'D', b'R', 0x00, //
        // NameOp "_S5_" PackageOp PkgLength 6, NumElements 4, ZeroOp x4
        0x08, b'_', b'S', b'5', b'_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,
    ]
}

/// ACPI 1.0 RSDP pointing at an RSDT at `rsdt`.
pub fn rsdp(rsdt: u32) -> [u8; RSDP_LEN] {
    let mut r = [0u8; RSDP_LEN];
    r[0..8].copy_from_slice(b"RSD PTR ");
    r[9..15].copy_from_slice(OEM_ID);
    r[15] = 0; // revision 0: ACPI 1.0, RSDT only
    wr32(&mut r, 16, rsdt);
    r[8] = checksum(&r);
    r
}

pub fn facs() -> [u8; FACS_LEN] {
    let mut f = [0u8; FACS_LEN];
    f[0..4].copy_from_slice(b"FACS");
    wr32(&mut f, 4, FACS_LEN as u32);
    f[32] = 1; // version (ACPI 2.0)
    f
}

/// FADT (revision 3) for `cfg`, pointing at the FACS and DSDT.
pub fn fadt(cfg: &AcpiConfig, facs: u32, dsdt: u32) -> Vec<u8> {
    use fadt::*;
    let mut t = vec![0u8; FADT_LEN];
    wr32(&mut t, FIRMWARE_CTRL, facs);
    wr32(&mut t, DSDT, dsdt);
    t[PREFERRED_PM_PROFILE] = 1; // desktop
    wr16(&mut t, SCI_INT, cfg.sci_irq);
    wr32(&mut t, SMI_CMD, cfg.smi_cmd as u32);
    t[ACPI_ENABLE] = cfg.acpi_enable;
    t[ACPI_DISABLE] = cfg.acpi_disable;
    let pm = cfg.pm_base as u32;
    wr32(&mut t, PM1A_EVT_BLK, pm);
    wr32(&mut t, PM1A_CNT_BLK, pm + 4);
    t[PM1_EVT_LEN] = 4;
    t[PM1_CNT_LEN] = 2;
    if cfg.pm_timer {
        wr32(&mut t, PM_TMR_BLK, pm + 8);
        t[PM_TMR_LEN] = 4;
    }
    // No GPE blocks (GPE0_BLK/GPE1_BLK and their lengths stay 0), no PM2.
    wr16(&mut t, P_LVL2_LAT, 0x0FFF); // > 100: C2 not supported
    wr16(&mut t, P_LVL3_LAT, 0x0FFF); // > 1000: C3 not supported
    t[CENTURY] = cfg.century;
    wr16(&mut t, IAPC_BOOT_ARCH, LEGACY_DEVICES | I8042);
    wr32(&mut t, FLAGS, WBINVD | PROC_C1 | SLP_BUTTON);
    // RESET_REG, X_FIRMWARE_CTRL, X_DSDT and the X_ blocks stay zero: ACPICA expands the
    // 32-bit fields.
    let body = t[HEADER_LEN..].to_vec();
    sdt(b"FACP", FADT_REVISION, &body)
}

/// MADT for one processor and one I/O APIC, wired as QEMU's `pc` machine (module docs).
pub fn madt(sci_irq: u8) -> Vec<u8> {
    use madt::*;
    let mut b = Vec::with_capacity(54);
    b.extend_from_slice(&LOCAL_APIC_ADDR.to_le_bytes());
    b.extend_from_slice(&PCAT_COMPAT.to_le_bytes());
    // Processor Local APIC: ACPI processor UID 0, APIC ID 0, enabled.
    b.extend_from_slice(&[TYPE_LOCAL_APIC, 8, 0, BSP_APIC_ID]);
    b.extend_from_slice(&LAPIC_ENABLED.to_le_bytes());
    // I/O APIC: its inputs are GSIs 0-23.
    b.extend_from_slice(&[TYPE_IO_APIC, 12, IO_APIC_ID, 0]);
    b.extend_from_slice(&IO_APIC_ADDR.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    let mut iso = |irq: u8, gsi: u32, flags: u16| {
        b.extend_from_slice(&[TYPE_INTERRUPT_OVERRIDE, 10, 0, irq]);
        b.extend_from_slice(&gsi.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
    };
    // The PIT output reaches I/O APIC pin 2; pin 0 carries the 8259's INTR.
    iso(0, 2, 0);
    // The SCI is level triggered, active high (not ISA's edge/high default).
    iso(sci_irq, sci_irq as u32, ACTIVE_HIGH | LEVEL);
    // NMI arrives on LINT1 of every processor (flags 0: bus defaults, edge/high).
    b.extend_from_slice(&[TYPE_LOCAL_APIC_NMI, 6, ALL_PROCESSORS, 0, 0, 1]);
    sdt(b"APIC", MADT_REVISION, &b)
}

/// Builds the whole table set for a blob at guest-physical `base` (64-byte aligned, below
/// 4 GiB).
pub fn build(base: u64, cfg: &AcpiConfig) -> AcpiTables {
    assert!(
        base.is_multiple_of(64) && base + 0x400 <= 1 << 32,
        "bad ACPI base {base:#x}"
    );
    let at = |off: usize| (base + off as u64) as u32;
    let dsdt = sdt(b"DSDT", 1, &dsdt_aml());
    let fadt = fadt(cfg, at(FACS_OFFSET), at(DSDT_OFFSET));
    let mut rsdt_entries = at(FADT_OFFSET).to_le_bytes().to_vec();
    // The SCI is an ISA IRQ (0-15) on this chipset; anything else has no override to give.
    let madt = (cfg.madt && cfg.sci_irq < 16).then(|| madt(cfg.sci_irq as u8));
    if madt.is_some() {
        rsdt_entries.extend_from_slice(&at(MADT_OFFSET).to_le_bytes());
    }
    let rsdt = sdt(b"RSDT", 1, &rsdt_entries);
    let end = match &madt {
        Some(m) => MADT_OFFSET + m.len(),
        None => DSDT_OFFSET + dsdt.len(),
    };
    let mut bytes = vec![0u8; end];
    let mut put = |off: usize, data: &[u8]| bytes[off..off + data.len()].copy_from_slice(data);
    put(RSDP_OFFSET, &rsdp(at(RSDT_OFFSET)));
    put(FACS_OFFSET, &facs());
    put(RSDT_OFFSET, &rsdt);
    put(FADT_OFFSET, &fadt);
    put(DSDT_OFFSET, &dsdt);
    if let Some(m) = &madt {
        put(MADT_OFFSET, m);
    }
    AcpiTables { base, bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd16(d: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([d[at], d[at + 1]])
    }
    fn rd32(d: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
    }
    fn sum(d: &[u8]) -> u8 {
        d.iter().fold(0u8, |a, &b| a.wrapping_add(b))
    }

    fn tables() -> AcpiTables {
        build(ACPI_BASE, &AcpiConfig::default())
    }

    /// The table at guest address `addr`, by its header's length.
    fn table_at(t: &AcpiTables, addr: u32) -> &[u8] {
        let off = (addr as u64 - t.base) as usize;
        let len = rd32(&t.bytes, off + 4) as usize;
        &t.bytes[off..off + len]
    }

    #[test]
    fn fits_in_the_ebda() {
        let t = tables();
        assert!(t.bytes.len() <= 0x400, "{} bytes", t.bytes.len());
        assert_eq!(ACPI_BASE + 0x400, 0xA_0000);
        assert_eq!(t.rsdp_addr() % 16, 0);
    }

    #[test]
    fn rsdp_is_valid() {
        let t = tables();
        let r = &t.bytes[..RSDP_LEN];
        assert_eq!(&r[0..8], b"RSD PTR ");
        assert_eq!(sum(r), 0);
        assert_eq!(r[15], 0, "ACPI 1.0 revision");
        assert_eq!(rd32(r, 16) as u64, ACPI_BASE + RSDT_OFFSET as u64);
    }

    #[test]
    fn chain_signatures_and_checksums() {
        let t = tables();
        let rsdt = table_at(&t, rd32(&t.bytes, 16));
        assert_eq!(&rsdt[0..4], b"RSDT");
        assert_eq!(rsdt.len(), HEADER_LEN + 8, "FADT and MADT");
        assert_eq!(sum(rsdt), 0);
        let fadt = table_at(&t, rd32(rsdt, HEADER_LEN));
        assert_eq!(&fadt[0..4], b"FACP");
        assert_eq!(fadt.len(), FADT_LEN);
        assert_eq!(fadt[8], FADT_REVISION);
        assert_eq!(sum(fadt), 0);
        let dsdt = table_at(&t, rd32(fadt, fadt::DSDT));
        assert_eq!(&dsdt[0..4], b"DSDT");
        assert_eq!(sum(dsdt), 0);
        let facs_off = (rd32(fadt, fadt::FIRMWARE_CTRL) as u64 - t.base) as usize;
        assert_eq!(facs_off % 64, 0, "FACS is 64-byte aligned");
        let facs = &t.bytes[facs_off..facs_off + FACS_LEN];
        assert_eq!(&facs[0..4], b"FACS");
        assert_eq!(rd32(facs, 4), 64);
        // Tables do not overlap.
        const {
            assert!(RSDP_LEN <= FACS_OFFSET);
            assert!(FACS_OFFSET + FACS_LEN <= RSDT_OFFSET);
            assert!(FADT_OFFSET + FADT_LEN <= DSDT_OFFSET);
        }
        assert!(RSDT_OFFSET + rsdt.len() <= FADT_OFFSET);
        assert!(DSDT_OFFSET + dsdt.len() <= MADT_OFFSET);
        let madt = table_at(&t, rd32(rsdt, HEADER_LEN + 4));
        assert_eq!(&madt[0..4], b"APIC");
        assert_eq!(sum(madt), 0);
        assert!(MADT_OFFSET + madt.len() <= ACPI_END_OFFSET);
        assert_eq!(t.bytes.len(), MADT_OFFSET + madt.len());
    }

    /// Walks the MADT's interrupt controller structures as OSPM does: (type, body).
    fn madt_entries(m: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        let mut at = madt::ENTRIES;
        while at < m.len() {
            let len = m[at + 1] as usize;
            assert!(len >= 2 && at + len <= m.len(), "entry at {at} overruns");
            v.push((m[at], m[at + 2..at + len].to_vec()));
            at += len;
        }
        v
    }

    #[test]
    fn madt_entries_parse_back() {
        let t = tables();
        let m = table_at(&t, (ACPI_BASE + MADT_OFFSET as u64) as u32);
        assert_eq!(m[8], MADT_REVISION);
        assert!(m[8] >= 1);
        assert_eq!(rd32(m, madt::LOCAL_APIC_ADDRESS), 0xFEE0_0000);
        assert_eq!(rd32(m, madt::FLAGS), madt::PCAT_COMPAT);
        let e = madt_entries(m);
        assert_eq!(e.len(), 5, "{e:x?}");
        // Processor Local APIC: UID 0, APIC ID 0, enabled.
        assert_eq!(e[0].0, madt::TYPE_LOCAL_APIC);
        assert_eq!(e[0].1, vec![0, 0, 1, 0, 0, 0]);
        // I/O APIC: ID matching the MP table, 0xFEC00000, GSI base 0.
        assert_eq!(e[1].0, madt::TYPE_IO_APIC);
        assert_eq!(e[1].1[0], IO_APIC_ID);
        assert_eq!(e[1].1[0], crate::mptable::MpConfig::default().io_apic_id);
        assert_eq!(rd32(&e[1].1, 2), 0xFEC0_0000);
        assert_eq!(rd32(&e[1].1, 6), 0);
        // Overrides: bus ISA, source, GSI, flags.
        assert_eq!(e[2].0, madt::TYPE_INTERRUPT_OVERRIDE);
        assert_eq!((e[2].1[0], e[2].1[1]), (0, 0));
        assert_eq!((rd32(&e[2].1, 2), rd16(&e[2].1, 6)), (2, 0), "IRQ0 -> GSI2");
        assert_eq!(e[3].0, madt::TYPE_INTERRUPT_OVERRIDE);
        assert_eq!((e[3].1[0], e[3].1[1]), (0, 9));
        assert_eq!(
            (rd32(&e[3].1, 2), rd16(&e[3].1, 6)),
            (9, 0x000D),
            "IRQ9 -> GSI9, level, active high"
        );
        // NMI on LINT1 of all processors.
        assert_eq!(e[4].0, madt::TYPE_LOCAL_APIC_NMI);
        assert_eq!(e[4].1, vec![0xFF, 0, 0, 1]);
    }

    #[test]
    fn without_madt() {
        let cfg = AcpiConfig {
            madt: false,
            ..AcpiConfig::default()
        };
        let t = build(ACPI_BASE, &cfg);
        let rsdt = table_at(&t, rd32(&t.bytes, 16));
        assert_eq!(rsdt.len(), HEADER_LEN + 4, "FADT only");
        assert_eq!(sum(rsdt), 0);
        assert!(!t.bytes.windows(4).any(|w| w == b"APIC"));
    }

    #[test]
    fn fadt_fields() {
        let t = tables();
        let f = &t.bytes[FADT_OFFSET..FADT_OFFSET + FADT_LEN];
        assert_eq!(rd16(f, 46), 9, "SCI_INT");
        assert_eq!(rd32(f, 48), 0xB2, "SMI_CMD");
        assert_eq!((f[52], f[53]), (0xF1, 0xF0), "ACPI_ENABLE/DISABLE");
        assert_eq!(rd32(f, 56), 0x600, "PM1a_EVT_BLK");
        assert_eq!(rd32(f, 60), 0, "PM1b_EVT_BLK");
        assert_eq!(rd32(f, 64), 0x604, "PM1a_CNT_BLK");
        assert_eq!(rd32(f, 68), 0, "PM1b_CNT_BLK");
        assert_eq!(rd32(f, 72), 0, "PM2_CNT_BLK");
        assert_eq!(rd32(f, 76), 0x608, "PM_TMR_BLK by default");
        assert_eq!((rd32(f, 80), rd32(f, 84)), (0, 0), "no GPE blocks");
        assert_eq!(&f[88..94], &[4, 2, 0, 4, 0, 0], "block lengths");
        assert_eq!(rd32(f, 36) as u64, ACPI_BASE + FACS_OFFSET as u64);
        assert_eq!(rd32(f, 40) as u64, ACPI_BASE + DSDT_OFFSET as u64);
        assert_eq!(f[108], 0x32, "CENTURY");
        assert_eq!(rd16(f, 109), 0x0003, "IAPC_BOOT_ARCH: legacy devices, 8042");
        assert_eq!(rd32(f, 112) & 1, 1, "WBINVD");
        // Reset register and X_ fields are zero.
        assert!(f[116..244].iter().all(|&b| b == 0));
    }

    #[test]
    fn fadt_without_pm_timer() {
        let cfg = AcpiConfig {
            pm_timer: false,
            ..AcpiConfig::default()
        };
        let t = build(ACPI_BASE, &cfg);
        let f = &t.bytes[FADT_OFFSET..FADT_OFFSET + FADT_LEN];
        assert_eq!(sum(f), 0);
        assert_eq!(rd32(f, 76), 0, "PM_TMR_BLK");
        assert_eq!(f[91], 0, "PM_TMR_LEN");
    }

    #[test]
    fn dsdt_has_s5() {
        let t = tables();
        let d = table_at(&t, (ACPI_BASE + DSDT_OFFSET as u64) as u32);
        let aml = &d[HEADER_LEN..];
        assert_eq!(d[8], 1, "DSDT revision 1: 32-bit integers");
        let s5 = [0x08, b'_', b'S', b'5', b'_', 0x12, 0x06, 0x04, 0, 0, 0, 0];
        assert!(aml.windows(s5.len()).any(|w| w == s5), "{aml:x?}");
        assert_eq!(&aml[..7], &[0x10, 0x1D, b'\\', b'_', b'S', b'B', b'_']);
        // PkgLengths cover exactly their packages: the scope ends where _S5 starts, the
        // device where the scope ends, and the AML ends with the package.
        assert_eq!(1 + aml[1] as usize, aml.len() - s5.len());
        assert_eq!(&aml[7..9], &[0x5B, 0x82]);
        assert_eq!(9 + aml[9] as usize, 1 + aml[1] as usize);
        assert_eq!(&aml[10..14], b"PCI0");
        let hid = [0x08, b'_', b'H', b'I', b'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03];
        assert!(aml.windows(hid.len()).any(|w| w == hid));
        assert_eq!(&aml[aml.len() - s5.len()..], &s5);
    }

    #[test]
    fn checksum_helper() {
        let mut d = vec![1, 2, 3, 250, 0];
        d[4] = checksum(&d);
        assert_eq!(sum(&d), 0);
    }
}
