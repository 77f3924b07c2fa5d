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
//!
//! # Relocatable tables for SeaBIOS
//!
//! [`build_relocatable`] builds the same table set (FACS, DSDT, FADT, MADT, RSDT and an RSDP)
//! for QEMU's fw_cfg "linker/loader" interface ([`crate::table_loader`]): the tables are one
//! blob (`etc/acpi/tables`) whose internal pointers hold offsets into that blob, the RSDP is
//! a second blob (`etc/acpi/rsdp`, its RSDT pointer an offset into the tables), and a list of
//! [`Fixup`]s says which fields the firmware must turn into addresses and which checksums it
//! must compute once it has placed the blobs. SeaBIOS then installs our tables exactly as it
//! installs QEMU's instead of building its own.
//!
//! Compared with direct boot:
//! - The PM block is at 0x600 in both, on this path because SeaBIOS puts it there: SeaBIOS's `piix4_pm_setup` (`src/fw/pciinit.c`)
//!   writes PMBA = `acpi_pm_base` | 1 and runs its own PM-timer clock at `acpi_pm_base` + 8.
//!   `acpi_pm_base` starts as `PORT_ACPI_PM_BASE` (0xB000, where SeaBIOS's own tables put
//!   the block), but `qemu_cfg_init` (`src/fw/paravirt.c`) moves it to 0x600 ("Moving
//!   pm_base to 0x600") whenever fw_cfg has an `etc/table-loader` file, since QEMU's tables
//!   say 0x600. Debian's SeaBIOS 1.16.2 does so (seen in its debug log), so with our loader
//!   files the block is at [`SEABIOS_LOADER_PM_BASE`] = 0x600, the same as direct boot.
//!   [`AcpiConfig::seabios`] says so explicitly.
//! - The DSDT is [`dsdt_aml_pc`]: besides `\_S5` and the root bridge it has the root
//!   bridge's `_CRS` (the windows SeaBIOS assigns BARs in), the `_PRT` for SeaBIOS's PIRQ
//!   routing and the PS/2 devices. It does not fit the 96 bytes the EBDA layout leaves, and
//!   direct boot programs no PIRQ routes for a `_PRT` to describe, so direct boot keeps
//!   [`dsdt_aml`].
//! - The FADT also fills X_DSDT (QEMU's revision 3 FADT does), patched like DSDT.

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

/// Where SeaBIOS places the PIIX4 PM block when fw_cfg has `etc/table-loader` (its
/// `qemu_cfg_init` moves `acpi_pm_base` there, as QEMU's tables expect).
pub const SEABIOS_LOADER_PM_BASE: u16 = 0x600;
/// Where SeaBIOS places it otherwise, building its own tables (`PORT_ACPI_PM_BASE`).
pub const SEABIOS_OWN_TABLES_PM_BASE: u16 = 0xB000;
/// The top of the PCI memory window below 4 GiB: the I/O APIC page follows (QEMU's
/// `pci_hole` ends there too).
pub const PCI_MEM_END: u32 = 0xFEBF_FFFF;

/// The ISA IRQs SeaBIOS routes PIRQA-D to (`pci_irqs` in its `src/fw/pciinit.c`, written to
/// the PIIX3's PIRQRC registers 0x60-0x63 by `piix_isa_bridge_setup` and set level-triggered
/// in the ELCR). The DSDT's `_PRT` hands these out as static GSIs.
pub const SEABIOS_PIRQ_IRQS: [u8; 4] = [10, 10, 11, 11];

/// The PIRQ (0 = PIRQA) that interrupt pin `pin` (0 = INTA#) of a device in slot `slot` of
/// bus 0 drives on the PIIX3: the pins rotate by slot, slot 1 INTA# being PIRQA (QEMU's
/// `pci_slot_get_pirq`, SeaBIOS's `piix_pci_slot_get_irq`).
pub fn piix_slot_pirq(slot: u8, pin: u8) -> usize {
    (slot as usize + pin as usize + 3) & 3
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
    /// Start of the 32-bit PCI memory window the root bridge's `_CRS` describes (up to
    /// [`PCI_MEM_END`]): the end of RAM below 4 GiB, as QEMU's `pci_hole` starts. Only the
    /// relocatable tables' DSDT uses it.
    pub pci_mem_start: u32,
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
            pci_mem_start: 0x8000_0000,
        }
    }
}

impl AcpiConfig {
    /// The Ringside PC as SeaBIOS leaves it when it installs our tables from fw_cfg, with
    /// `ram_below_4g` bytes of RAM from address 0: the PM block at
    /// [`SEABIOS_LOADER_PM_BASE`], the PCI memory window from the end of that RAM.
    pub fn seabios(ram_below_4g: u64) -> Self {
        AcpiConfig {
            pm_base: SEABIOS_LOADER_PM_BASE,
            pci_mem_start: ram_below_4g.min(PCI_MEM_END as u64 + 1) as u32,
            ..AcpiConfig::default()
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
    fadt_with_x_dsdt(cfg, facs, dsdt, 0)
}

/// [`fadt`] with X_DSDT set too (0: left empty, ACPICA then uses DSDT).
fn fadt_with_x_dsdt(cfg: &AcpiConfig, facs: u32, dsdt: u32, x_dsdt: u64) -> Vec<u8> {
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
    // RESET_REG, X_FIRMWARE_CTRL and the X_ blocks stay zero: ACPICA expands the 32-bit
    // fields. (ACPI 2.0+ wants only one of FIRMWARE_CTRL and X_FIRMWARE_CTRL set.)
    t[X_DSDT..X_DSDT + 8].copy_from_slice(&x_dsdt.to_le_bytes());
    let body = t[HEADER_LEN..].to_vec();
    sdt(b"FACP", FADT_REVISION, &body)
}

/// RSDT listing the tables at `entries`.
pub fn rsdt(entries: &[u32]) -> Vec<u8> {
    let body: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
    sdt(b"RSDT", 1, &body)
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

/// The MADT `cfg` asks for. The SCI is an ISA IRQ (0-15) on this chipset; anything else has
/// no override to give, so no MADT then either.
fn madt_for(cfg: &AcpiConfig) -> Option<Vec<u8>> {
    (cfg.madt && cfg.sci_irq < 16).then(|| madt(cfg.sci_irq as u8))
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
    let mut rsdt_entries = vec![at(FADT_OFFSET)];
    let madt = madt_for(cfg);
    if madt.is_some() {
        rsdt_entries.push(at(MADT_OFFSET));
    }
    let rsdt = rsdt(&rsdt_entries);
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

/// A small AML encoder (ACPI 6.x chapter 20, "ACPI Machine Language Specification") for the
/// terms our DSDTs use: names, integers, packages, buffers, scopes, devices and the small
/// resource descriptors of a `_CRS`. Each function returns the encoded bytes of one term.
pub mod aml {
    pub const ZERO_OP: u8 = 0x00;
    pub const ONE_OP: u8 = 0x01;
    pub const NAME_OP: u8 = 0x08;
    pub const BYTE_PREFIX: u8 = 0x0A;
    pub const WORD_PREFIX: u8 = 0x0B;
    pub const DWORD_PREFIX: u8 = 0x0C;
    pub const STRING_PREFIX: u8 = 0x0D;
    pub const QWORD_PREFIX: u8 = 0x0E;
    pub const SCOPE_OP: u8 = 0x10;
    pub const BUFFER_OP: u8 = 0x11;
    pub const PACKAGE_OP: u8 = 0x12;
    pub const DUAL_NAME_PREFIX: u8 = 0x2E;
    pub const MULTI_NAME_PREFIX: u8 = 0x2F;
    pub const EXT_OP_PREFIX: u8 = 0x5B;
    /// Second byte of DeviceOp (after [`EXT_OP_PREFIX`]).
    pub const DEVICE_OP: u8 = 0x82;
    pub const ROOT_CHAR: u8 = b'\\';

    /// PkgLength (20.2.4) of a package whose contents after the PkgLength are `len` bytes.
    /// The encoded value counts the PkgLength bytes too: one byte holds up to 63, two to
    /// 2^12 - 1, three to 2^20 - 1, four to 2^28 - 1 (low nibble first, then whole bytes).
    pub fn pkg_length(len: usize) -> Vec<u8> {
        for n in 1..=4usize {
            let total = len + n;
            let limit = if n == 1 {
                1 << 6
            } else {
                1 << (4 + 8 * (n - 1))
            };
            if total >= limit {
                continue;
            }
            if n == 1 {
                return vec![total as u8];
            }
            let mut v = vec![(((n - 1) << 6) | (total & 0xF)) as u8];
            v.extend((1..n).map(|i| (total >> (4 + 8 * (i - 1))) as u8));
            return v;
        }
        panic!("AML package of {len} bytes is too long")
    }

    /// NameString (20.2.2) for a path such as `\_SB.PCI0`, `_HID` or `ISA`: an optional
    /// root prefix, then dot-separated segments of 1-4 characters (`A`-`Z`, `_`, digits
    /// after the first), each padded to four with `_`.
    pub fn name_string(path: &str) -> Vec<u8> {
        let (root, rest) = match path.strip_prefix('\\') {
            Some(rest) => (true, rest),
            None => (false, path),
        };
        let segs: Vec<[u8; 4]> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('.').map(name_seg).collect()
        };
        let mut v = Vec::new();
        if root {
            v.push(ROOT_CHAR);
        }
        match segs.len() {
            0 => v.push(0), // NullName
            1 => {}
            2 => v.push(DUAL_NAME_PREFIX),
            n => {
                assert!(n < 256, "AML path {path:?} too deep");
                v.extend_from_slice(&[MULTI_NAME_PREFIX, n as u8]);
            }
        }
        segs.iter().for_each(|s| v.extend_from_slice(s));
        v
    }

    fn name_seg(seg: &str) -> [u8; 4] {
        let b = seg.as_bytes();
        assert!(
            (1..=4).contains(&b.len())
                && (b[0].is_ascii_uppercase() || b[0] == b'_')
                && b.iter()
                    .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'),
            "bad AML name segment {seg:?}"
        );
        let mut s = [b'_'; 4];
        s[..b.len()].copy_from_slice(b);
        s
    }

    /// An integer in its shortest encoding: ZeroOp, OneOp or a Byte/Word/DWord/QWord
    /// constant.
    pub fn integer(v: u64) -> Vec<u8> {
        match v {
            0 => vec![ZERO_OP],
            1 => vec![ONE_OP],
            2..=0xFF => vec![BYTE_PREFIX, v as u8],
            0x100..=0xFFFF => [&[WORD_PREFIX][..], &(v as u16).to_le_bytes()].concat(),
            0x1_0000..=0xFFFF_FFFF => dword(v as u32),
            _ => [&[QWORD_PREFIX][..], &v.to_le_bytes()].concat(),
        }
    }

    /// A DWordConst whatever the value (what ASL compilers emit for `EisaId`).
    pub fn dword(v: u32) -> Vec<u8> {
        [&[DWORD_PREFIX][..], &v.to_le_bytes()].concat()
    }

    /// A String (ASCII, NUL-terminated).
    pub fn string(s: &str) -> Vec<u8> {
        assert!(s.is_ascii() && !s.contains('\0'));
        [&[STRING_PREFIX][..], s.as_bytes(), &[0]].concat()
    }

    /// `Name (path, value)`.
    pub fn name(path: &str, value: &[u8]) -> Vec<u8> {
        [&[NAME_OP][..], &name_string(path), value].concat()
    }

    /// `Package (n) { elements }`.
    pub fn package(elements: &[Vec<u8>]) -> Vec<u8> {
        assert!(elements.len() < 256, "Package with more than 255 elements");
        let mut body = vec![elements.len() as u8];
        elements.iter().for_each(|e| body.extend_from_slice(e));
        [&[PACKAGE_OP][..], &pkg_length(body.len()), &body].concat()
    }

    /// `Buffer () { bytes }`.
    pub fn buffer(bytes: &[u8]) -> Vec<u8> {
        let body = [&integer(bytes.len() as u64)[..], bytes].concat();
        [&[BUFFER_OP][..], &pkg_length(body.len()), &body].concat()
    }

    /// `Scope (path) { body }`.
    pub fn scope(path: &str, body: &[u8]) -> Vec<u8> {
        let inner = [&name_string(path)[..], body].concat();
        [&[SCOPE_OP][..], &pkg_length(inner.len()), &inner].concat()
    }

    /// `Device (path) { body }`.
    pub fn device(path: &str, body: &[u8]) -> Vec<u8> {
        let inner = [&name_string(path)[..], body].concat();
        [
            &[EXT_OP_PREFIX, DEVICE_OP][..],
            &pkg_length(inner.len()),
            &inner,
        ]
        .concat()
    }

    /// `EisaId ("PNP0A03")`'s value: three letters in 5 bits each, then four hex digits,
    /// stored big-endian (ACPI 6.x 6.1.5, `_HID`).
    pub fn eisa_id(id: &str) -> u32 {
        let b = id.as_bytes();
        assert!(
            b.len() == 7
                && b[..3].iter().all(u8::is_ascii_uppercase)
                && b[3..].iter().all(u8::is_ascii_hexdigit),
            "bad EISA ID {id:?}"
        );
        let letters = b[..3]
            .iter()
            .fold(0u16, |a, &c| (a << 5) | (c - 0x40) as u16);
        let product = u16::from_str_radix(&id[3..], 16).unwrap_or(0);
        let [l0, l1] = letters.to_be_bytes();
        let [p0, p1] = product.to_be_bytes();
        u32::from_le_bytes([l0, l1, p0, p1])
    }

    /// Small I/O port descriptor (ACPI 6.x 6.4.2.5) for `len` fixed ports at `base`,
    /// decoding 16 address bits: `IO (Decode16, base, base, 1, len)`.
    pub fn io16(base: u16, len: u8) -> Vec<u8> {
        let [lo, hi] = base.to_le_bytes();
        vec![0x47, 0x01, lo, hi, lo, hi, 0x01, len]
    }

    /// The PCI configuration ports the root bridge consumes:
    /// `IO (Decode16, 0x0CF8, 0x0CF8, 1, 8)`.
    pub fn io_config() -> Vec<u8> {
        io16(0x0CF8, 8)
    }

    /// Small IRQ descriptor without the information byte (6.4.2.1): `IRQNoFlags () {irq}`,
    /// meaning edge-triggered, active high, exclusive.
    pub fn irq_no_flags(irq: u8) -> Vec<u8> {
        assert!(irq < 16);
        let [lo, hi] = (1u16 << irq).to_le_bytes();
        vec![0x22, lo, hi]
    }

    /// Word Address Space descriptor (6.4.3.5.3) for a window the bridge produces:
    /// resource type `kind` (1 I/O, 2 bus numbers), fixed minimum and maximum, positive
    /// decode, `flags` the type-specific flags, covering `min..=max`, no translation.
    fn word_space(kind: u8, flags: u8, min: u16, max: u16) -> Vec<u8> {
        let len = max.wrapping_sub(min).wrapping_add(1);
        let mut v = vec![0x88, 13, 0, kind, MIN_MAX_FIXED, flags, 0, 0];
        for x in [min, max, 0, len] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    /// General flags: \_MIF and \_MAF set, producer, positive decode.
    const MIN_MAX_FIXED: u8 = 0b1100;

    /// `WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, n)`.
    pub fn word_bus_number(min: u16, max: u16) -> Vec<u8> {
        word_space(2, 0, min, max)
    }

    /// `WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max,
    /// 0, n)`.
    pub fn word_io(min: u16, max: u16) -> Vec<u8> {
        word_space(1, 0b11, min, max)
    }

    /// `DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
    /// 0, min, max, 0, n)` (6.4.3.5.2).
    pub fn dword_memory(min: u32, max: u32) -> Vec<u8> {
        let len = max.wrapping_sub(min).wrapping_add(1);
        // Type-specific flags: read/write (bit 0), cacheable (bits 2:1 = 01).
        let mut v = vec![0x87, 23, 0, 0, MIN_MAX_FIXED, 0b011];
        for x in [0, min, max, 0, len] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    /// `ResourceTemplate () { descriptors }`: a buffer ending with the End Tag (6.4.2.9),
    /// whose checksum byte 0 means "treat as valid".
    pub fn resource_template(descriptors: &[Vec<u8>]) -> Vec<u8> {
        let mut b: Vec<u8> = descriptors.concat();
        b.extend_from_slice(&[0x79, 0x00]);
        buffer(&b)
    }
}

/// The DSDT's AML for the tables SeaBIOS installs ([`build_relocatable`]):
///
/// ```text
/// Scope (\_SB) {
///     Device (PCI0) {
///         Name (_HID, EisaId ("PNP0A03"))   // PCI root bridge
///         Name (_ADR, 0)
///         Name (_UID, 0)
///         Name (_BBN, 0)                    // bus 0
///         Name (_CRS, ResourceTemplate () {
///             WordBusNumber (...) { 0x00-0xFF }
///             IO (Decode16, 0x0CF8, 0x0CF8, 1, 8)   // config mechanism #1
///             WordIO (...) { 0x0000-0x0CF7 }  WordIO (...) { 0x0D00-0xFFFF }
///             DWordMemory (...) { 0xA0000-0xBFFFF }  // VGA window
///             DWordMemory (...) { pci_mem_start-0xFEBFFFFF }
///         })
///         Name (_PRT, Package (128) {       // slots 0-31, INTA#-INTD#
///             Package (4) { 0x0000FFFF, 0, 0, 10 }, ...
///         })
///         Device (ISA) {                    // PIIX3 at 00:01.0
///             Name (_ADR, 0x00010000)
///             Device (KBD) { Name (_HID, EisaId ("PNP0303")) Name (_CRS, ...) }
///             Device (MOU) { Name (_HID, EisaId ("PNP0F13")) Name (_CRS, ...) }
///         }
///     }
/// }
/// Name (_S5, Package (4) { 0, 0, 0, 0 })
/// ```
///
/// `_PRT` (ACPI 6.x 6.2.13) gives each slot's pins a static GSI, as QEMU's tables did before
/// they grew link devices: slot `s` pin `p` drives PIRQ [`piix_slot_pirq`]`(s, p)`, which
/// SeaBIOS routes to ISA IRQ [`SEABIOS_PIRQ_IRQS`] (10, 10, 11, 11); on the i440FX PC ISA IRQ
/// n is I/O APIC pin n (GSI n), so the same numbers serve PIC and APIC mode. A static entry
/// carries no polarity, so Linux programs the pin level/active low; the I/O APIC model
/// ignores polarity as QEMU's does (module docs of `devices::apic::io`).
///
/// `KBD` and `MOU` name the 8042's resources (ports 0x60/0x64, IRQ 1; IRQ 12) so Linux's
/// i8042 driver finds them through PnP, and so a SeaBIOS built with its DSDT parser
/// (`CONFIG_ACPI_PARSE`), which skips PS/2 set-up when the DSDT names no PNP0303, still
/// initialises the keyboard.
///
/// The root bridge's `_CRS` is QEMU's for the i440FX: without one Linux finds "no
/// compatible bridge window" for every BAR and reassigns them. The memory window runs from
/// [`AcpiConfig::pci_mem_start`] (the end of RAM below 4 GiB; SeaBIOS allocates BARs from
/// 2 GiB or higher within it) to [`PCI_MEM_END`].
pub fn dsdt_aml_pc(cfg: &AcpiConfig) -> Vec<u8> {
    use aml::*;
    let prt: Vec<Vec<u8>> = (0..32u8)
        .flat_map(|slot| {
            (0..4u8).map(move |pin| {
                let gsi = SEABIOS_PIRQ_IRQS[piix_slot_pirq(slot, pin)];
                package(&[
                    integer(((slot as u64) << 16) | 0xFFFF),
                    integer(pin as u64),
                    integer(0),
                    integer(gsi as u64),
                ])
            })
        })
        .collect();
    let pci_crs = [
        word_bus_number(0, 0xFF),
        io_config(),
        word_io(0, 0x0CF7),
        word_io(0x0D00, 0xFFFF),
        dword_memory(0xA_0000, 0xB_FFFF),
        dword_memory(cfg.pci_mem_start, PCI_MEM_END),
    ];
    let kbd = device(
        "KBD",
        &[
            name("_HID", &dword(eisa_id("PNP0303"))),
            name(
                "_CRS",
                &resource_template(&[io16(0x60, 1), io16(0x64, 1), irq_no_flags(1)]),
            ),
        ]
        .concat(),
    );
    let mou = device(
        "MOU",
        &[
            name("_HID", &dword(eisa_id("PNP0F13"))),
            name("_CRS", &resource_template(&[irq_no_flags(12)])),
        ]
        .concat(),
    );
    let isa = device(
        "ISA",
        &[name("_ADR", &integer(0x0001_0000)), kbd, mou].concat(),
    );
    let pci0 = device(
        "PCI0",
        &[
            name("_HID", &dword(eisa_id("PNP0A03"))),
            name("_ADR", &integer(0)),
            name("_UID", &integer(0)),
            name("_BBN", &integer(0)),
            name("_CRS", &resource_template(&pci_crs)),
            name("_PRT", &package(&prt)),
            isa,
        ]
        .concat(),
    );
    [
        scope("\\_SB", &pci0),
        name(
            "_S5",
            &package(&[integer(0), integer(0), integer(0), integer(0)]),
        ),
    ]
    .concat()
}

/// One of the two blobs of a relocatable table set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Blob {
    /// FACS, DSDT, FADT, MADT, RSDT (`etc/acpi/tables`).
    Tables,
    /// The RSDP (`etc/acpi/rsdp`).
    Rsdp,
}

/// What the firmware must do to a blob once it has placed both, in list order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixup {
    /// Add the address of `target` to the `size`-byte little-endian value at `offset` of
    /// `blob` (which holds an offset into `target`).
    Pointer {
        blob: Blob,
        offset: u32,
        size: u8,
        target: Blob,
    },
    /// Make bytes `start..start + len` of `blob` sum to zero by adjusting the byte at `at`.
    Checksum {
        blob: Blob,
        start: u32,
        len: u32,
        at: u32,
    },
}

/// Where a table sits in the tables blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedTable {
    pub signature: [u8; 4],
    pub offset: usize,
    pub len: usize,
}

/// The table set before the firmware places it (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelocatableTables {
    /// FACS (at offset 0), DSDT, FADT, MADT, RSDT, each at an 8-byte aligned offset.
    pub tables: Vec<u8>,
    pub rsdp: Vec<u8>,
    pub placed: Vec<PlacedTable>,
    /// Per table: the pointers inside it, then its checksum; the RSDP's last.
    pub fixups: Vec<Fixup>,
}

/// Alignment the tables blob needs: 64 for the FACS at its start (ACPI 6.x 5.2.10).
pub const TABLES_ALIGN: u32 = 64;
/// Alignment of the RSDP: OSPM scans 16-byte boundaries (ACPI 6.x 5.2.5.1).
pub const RSDP_ALIGN: u32 = 16;

impl RelocatableTables {
    /// Appends `table`, whose fields at `pointers` (offset within the table, size) hold
    /// offsets into the tables blob; `checksum` says the table is an SDT whose checksum
    /// (byte 9) the firmware computes. Returns the table's offset.
    fn push(&mut self, table: &[u8], pointers: &[(usize, u8)], checksum: bool) -> usize {
        let offset = self.tables.len().next_multiple_of(8);
        self.tables.resize(offset, 0);
        self.tables.extend_from_slice(table);
        let signature = table[0..4].try_into().expect("4-byte signature");
        self.placed.push(PlacedTable {
            signature,
            offset,
            len: table.len(),
        });
        for &(at, size) in pointers {
            self.fixups.push(Fixup::Pointer {
                blob: Blob::Tables,
                offset: (offset + at) as u32,
                size,
                target: Blob::Tables,
            });
        }
        if checksum {
            // Left zero until the firmware has patched the pointers (as QEMU leaves it).
            self.tables[offset + 9] = 0;
            self.fixups.push(Fixup::Checksum {
                blob: Blob::Tables,
                start: offset as u32,
                len: table.len() as u32,
                at: (offset + 9) as u32,
            });
        }
        offset
    }

    /// The table with `signature`, if present.
    pub fn table(&self, signature: &[u8; 4]) -> Option<PlacedTable> {
        self.placed
            .iter()
            .find(|t| &t.signature == signature)
            .copied()
    }
}

/// Builds the table set for `cfg` as blobs for the fw_cfg table loader: pointers hold
/// offsets into the tables blob, the firmware adds the blob's address ([`Fixup`]). The DSDT
/// is [`dsdt_aml_pc`]; pass [`AcpiConfig::seabios`] for the PM block SeaBIOS programs.
pub fn build_relocatable(cfg: &AcpiConfig) -> RelocatableTables {
    let mut r = RelocatableTables {
        tables: Vec::new(),
        rsdp: Vec::new(),
        placed: Vec::new(),
        fixups: Vec::new(),
    };
    // The FACS has no checksum and comes first, so the blob's alignment is its alignment.
    let facs_at = r.push(&facs(), &[], false);
    let dsdt_at = r.push(&sdt(b"DSDT", 1, &dsdt_aml_pc(cfg)), &[], true);
    let fadt_table = fadt_with_x_dsdt(cfg, facs_at as u32, dsdt_at as u32, dsdt_at as u64);
    let fadt_pointers = [(fadt::FIRMWARE_CTRL, 4), (fadt::DSDT, 4), (fadt::X_DSDT, 8)];
    let mut entries = vec![r.push(&fadt_table, &fadt_pointers, true) as u32];
    if let Some(m) = madt_for(cfg) {
        entries.push(r.push(&m, &[], true) as u32);
    }
    let rsdt_pointers: Vec<(usize, u8)> = (0..entries.len())
        .map(|i| (HEADER_LEN + 4 * i, 4))
        .collect();
    let rsdt_at = r.push(&rsdt(&entries), &rsdt_pointers, true);

    let mut p = rsdp(rsdt_at as u32);
    p[8] = 0;
    r.rsdp = p.to_vec();
    r.fixups.push(Fixup::Pointer {
        blob: Blob::Rsdp,
        offset: 16,
        size: 4,
        target: Blob::Tables,
    });
    r.fixups.push(Fixup::Checksum {
        blob: Blob::Rsdp,
        start: 0,
        len: RSDP_LEN as u32,
        at: 8,
    });
    r
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

    /// An AML object as the parse-back test reads it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Obj {
        Int(u64),
        Str(String),
        Buf(Vec<u8>),
        Pkg(Vec<Obj>),
    }

    /// A strict reader for the AML subset [`aml`] writes: every PkgLength must end exactly
    /// where its contents end, and anything else is an error.
    struct AmlReader<'a> {
        d: &'a [u8],
        at: usize,
        /// Named objects by absolute path (`\_SB_.PCI0._HID`); devices and scopes too, as
        /// `Int(0)` placeholders under their own paths.
        names: Vec<(String, Obj)>,
        devices: Vec<String>,
    }

    impl<'a> AmlReader<'a> {
        fn parse(d: &'a [u8]) -> Result<Self, String> {
            let mut r = AmlReader {
                d,
                at: 0,
                names: Vec::new(),
                devices: Vec::new(),
            };
            r.term_list(d.len(), "\\")?;
            Ok(r)
        }
        fn byte(&mut self) -> Result<u8, String> {
            let b = *self.d.get(self.at).ok_or("truncated")?;
            self.at += 1;
            Ok(b)
        }
        fn le(&mut self, n: usize) -> Result<u64, String> {
            let mut v = 0u64;
            for i in 0..n {
                v |= (self.byte()? as u64) << (8 * i);
            }
            Ok(v)
        }
        /// Returns the end offset of the package.
        fn pkg_length(&mut self) -> Result<usize, String> {
            let start = self.at;
            let b0 = self.byte()?;
            let n = (b0 >> 6) as usize;
            let len = if n == 0 {
                b0 as usize & 0x3F
            } else {
                if b0 & 0x30 != 0 {
                    return Err(format!("PkgLength reserved bits at {start}"));
                }
                let mut len = b0 as usize & 0xF;
                for i in 0..n {
                    len |= (self.byte()? as usize) << (4 + 8 * i);
                }
                len
            };
            let end = start + len;
            if end > self.d.len() {
                return Err(format!("PkgLength at {start} overruns"));
            }
            Ok(end)
        }
        fn seg(&mut self) -> Result<String, String> {
            let s: Vec<u8> = (0..4).map(|_| self.byte()).collect::<Result<_, _>>()?;
            if !(s[0].is_ascii_uppercase() || s[0] == b'_')
                || !s
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
            {
                return Err(format!("bad NameSeg {s:?}"));
            }
            Ok(String::from_utf8(s).unwrap())
        }
        /// A NameString resolved against `scope`.
        fn name_string(&mut self, scope: &str) -> Result<String, String> {
            let root = self.d.get(self.at) == Some(&b'\\');
            if root {
                self.at += 1;
            }
            let segs = match self.d.get(self.at).copied() {
                Some(0x00) => {
                    self.at += 1;
                    vec![]
                }
                Some(0x2E) => {
                    self.at += 1;
                    vec![self.seg()?, self.seg()?]
                }
                Some(0x2F) => {
                    self.at += 1;
                    let n = self.byte()?;
                    (0..n).map(|_| self.seg()).collect::<Result<_, _>>()?
                }
                _ => vec![self.seg()?],
            };
            let base = if root { "\\" } else { scope };
            let mut p = base.to_string();
            for s in segs {
                if !p.ends_with('\\') {
                    p.push('.');
                }
                p.push_str(&s);
            }
            Ok(p)
        }
        fn data(&mut self) -> Result<Obj, String> {
            let op = self.byte()?;
            Ok(match op {
                0x00 => Obj::Int(0),
                0x01 => Obj::Int(1),
                0xFF => Obj::Int(u64::MAX),
                0x0A => Obj::Int(self.le(1)?),
                0x0B => Obj::Int(self.le(2)?),
                0x0C => Obj::Int(self.le(4)?),
                0x0E => Obj::Int(self.le(8)?),
                0x0D => {
                    let mut s = String::new();
                    loop {
                        match self.byte()? {
                            0 => break,
                            c => s.push(c as char),
                        }
                    }
                    Obj::Str(s)
                }
                0x12 => {
                    let end = self.pkg_length()?;
                    let n = self.byte()?;
                    let mut v = Vec::new();
                    for _ in 0..n {
                        v.push(self.data()?);
                    }
                    if self.at != end {
                        return Err(format!("Package ends at {} not {end}", self.at));
                    }
                    Obj::Pkg(v)
                }
                0x11 => {
                    let end = self.pkg_length()?;
                    let Obj::Int(size) = self.data()? else {
                        return Err("Buffer size is not an integer".into());
                    };
                    let bytes = self.d[self.at..end].to_vec();
                    if bytes.len() as u64 != size {
                        return Err(format!("Buffer of {} bytes says {size}", bytes.len()));
                    }
                    self.at = end;
                    Obj::Buf(bytes)
                }
                _ => return Err(format!("unexpected data op {op:#x} at {}", self.at - 1)),
            })
        }
        fn term_list(&mut self, end: usize, scope: &str) -> Result<(), String> {
            while self.at < end {
                match self.byte()? {
                    0x08 => {
                        let path = self.name_string(scope)?;
                        let obj = self.data()?;
                        if self.names.iter().any(|(p, _)| *p == path) {
                            return Err(format!("{path} defined twice"));
                        }
                        self.names.push((path, obj));
                    }
                    0x10 => {
                        let e = self.pkg_length()?;
                        let path = self.name_string(scope)?;
                        self.term_list(e, &path)?;
                    }
                    0x5B if self.d.get(self.at) == Some(&0x82) => {
                        self.at += 1;
                        let e = self.pkg_length()?;
                        let path = self.name_string(scope)?;
                        self.devices.push(path.clone());
                        self.term_list(e, &path)?;
                    }
                    op => return Err(format!("unexpected op {op:#x} at {}", self.at - 1)),
                }
            }
            if self.at != end {
                return Err(format!("term list ends at {} not {end}", self.at));
            }
            Ok(())
        }
        fn get(&self, path: &str) -> Option<&Obj> {
            self.names.iter().find(|(p, _)| p == path).map(|(_, o)| o)
        }
    }

    fn int(v: u64) -> Obj {
        Obj::Int(v)
    }

    #[test]
    fn direct_boot_dsdt_parses_back() {
        let aml = dsdt_aml();
        let r = AmlReader::parse(&aml).unwrap();
        assert_eq!(r.devices, vec!["\\_SB_.PCI0"]);
        assert_eq!(r.get("\\_SB_.PCI0._HID"), Some(&int(0x030A_D041)));
        assert_eq!(r.get("\\_SB_.PCI0._ADR"), Some(&int(0)));
        assert_eq!(r.get("\\_S5_"), Some(&Obj::Pkg(vec![int(0); 4])));
    }

    #[test]
    fn pc_dsdt_parses_back() {
        let aml = dsdt_aml_pc(&AcpiConfig::seabios(0x0800_0000));
        let r = AmlReader::parse(&aml).unwrap();
        assert_eq!(
            r.devices,
            vec![
                "\\_SB_.PCI0",
                "\\_SB_.PCI0.ISA_",
                "\\_SB_.PCI0.ISA_.KBD_",
                "\\_SB_.PCI0.ISA_.MOU_"
            ]
        );
        let pci = |n: &str| r.get(&format!("\\_SB_.PCI0.{n}"));
        assert_eq!(pci("_HID"), Some(&int(aml::eisa_id("PNP0A03") as u64)));
        assert_eq!(pci("_ADR"), Some(&int(0)));
        assert_eq!(pci("_UID"), Some(&int(0)));
        assert_eq!(pci("_BBN"), Some(&int(0)));
        assert_eq!(pci("ISA_._ADR"), Some(&int(0x0001_0000)));
        let Some(Obj::Buf(crs)) = pci("_CRS") else {
            panic!("no _CRS")
        };
        assert_eq!(
            crs_descriptors(crs),
            vec![
                // WordBusNumber 0-0xFF: producer, min/max fixed.
                vec![0x88, 13, 0, 2, 0x0C, 0, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0, 1],
                vec![0x47, 1, 0xF8, 0x0C, 0xF8, 0x0C, 1, 8],
                // WordIO 0-0xCF7 and 0xD00-0xFFFF, entire range.
                vec![0x88, 13, 0, 1, 0x0C, 3, 0, 0, 0, 0, 0xF7, 0x0C, 0, 0, 0xF8, 0x0C],
                vec![0x88, 13, 0, 1, 0x0C, 3, 0, 0, 0, 0x0D, 0xFF, 0xFF, 0, 0, 0, 0xF3],
                // DWordMemory 0xA0000-0xBFFFF and 128 MiB-0xFEBFFFFF, cacheable, RW.
                [
                    &[0x87, 23, 0, 0, 0x0C, 3][..],
                    &[0; 4],
                    &0xA_0000u32.to_le_bytes(),
                    &0xB_FFFFu32.to_le_bytes(),
                    &[0; 4],
                    &0x2_0000u32.to_le_bytes()
                ]
                .concat(),
                [
                    &[0x87, 23, 0, 0, 0x0C, 3][..],
                    &[0; 4],
                    &0x0800_0000u32.to_le_bytes(),
                    &0xFEBF_FFFFu32.to_le_bytes(),
                    &[0; 4],
                    &0xF6C0_0000u32.to_le_bytes()
                ]
                .concat(),
                vec![0x79, 0],
            ]
        );
        assert_eq!(r.get("\\_S5_"), Some(&Obj::Pkg(vec![int(0); 4])));

        // _PRT: one entry per slot and pin, the GSI SeaBIOS's routing gives it.
        let Some(Obj::Pkg(prt)) = pci("_PRT") else {
            panic!("no _PRT")
        };
        assert_eq!(prt.len(), 128);
        for (i, e) in prt.iter().enumerate() {
            let (slot, pin) = ((i / 4) as u64, (i % 4) as u64);
            let Obj::Pkg(f) = e else { panic!("entry {i}") };
            assert_eq!(f.len(), 4);
            assert_eq!(f[0], int((slot << 16) | 0xFFFF), "address of entry {i}");
            assert_eq!(f[1], int(pin));
            assert_eq!(f[2], int(0), "static GSI: source 0");
            // SeaBIOS's piix_pci_slot_get_irq with 1-based pins: pci_irqs[(pin - 1 + slot
            // - 1) & 3].
            let seabios = [10, 10, 11, 11][((pin + 1) - 1 + slot).wrapping_sub(1) as usize & 3];
            assert_eq!(f[3], int(seabios), "GSI of slot {slot} pin {pin}");
        }
        // Slot 1 INTA# is PIRQA (IRQ 10); slot 1 INTC# PIRQC (11); slot 3 INTA# PIRQC.
        assert_eq!(
            prt[4],
            Obj::Pkg(vec![int(0x1FFFF), int(0), int(0), int(10)])
        );
        assert_eq!(
            prt[6],
            Obj::Pkg(vec![int(0x1FFFF), int(2), int(0), int(11)])
        );
        assert_eq!(
            prt[12],
            Obj::Pkg(vec![int(0x3FFFF), int(0), int(0), int(11)])
        );

        // PS/2 devices: IO 0x60 and 0x64, IRQ 1; IRQ 12.
        let kbd = "\\_SB_.PCI0.ISA_.KBD_";
        assert_eq!(
            r.get(&format!("{kbd}._HID")),
            Some(&int(0x0303_D041)),
            "PNP0303"
        );
        assert_eq!(
            r.get(&format!("{kbd}._CRS")),
            Some(&Obj::Buf(vec![
                0x47, 1, 0x60, 0, 0x60, 0, 1, 1, 0x47, 1, 0x64, 0, 0x64, 0, 1, 1, 0x22, 0x02, 0x00,
                0x79, 0
            ]))
        );
        let mou = "\\_SB_.PCI0.ISA_.MOU_";
        assert_eq!(r.get(&format!("{mou}._HID")), Some(&int(0x130F_D041)));
        assert_eq!(
            r.get(&format!("{mou}._CRS")),
            Some(&Obj::Buf(vec![0x22, 0x00, 0x10, 0x79, 0]))
        );
    }

    /// Splits a resource template into its descriptors by their length fields (small items:
    /// bits 2:0 of the tag; large items: a u16 after the tag), ending at the End Tag.
    fn crs_descriptors(b: &[u8]) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut at = 0;
        while at < b.len() {
            let len = if b[at] & 0x80 != 0 {
                3 + u16::from_le_bytes([b[at + 1], b[at + 2]]) as usize
            } else {
                1 + (b[at] & 7) as usize
            };
            assert!(at + len <= b.len(), "descriptor at {at} overruns");
            v.push(b[at..at + len].to_vec());
            if b[at] == 0x79 {
                assert_eq!(at + len, b.len(), "End Tag is last");
            }
            at += len;
        }
        v
    }

    #[test]
    fn aml_reader_rejects_bad_lengths() {
        // The reader must catch a PkgLength one byte short or long, or the tests above
        // would prove nothing.
        let good = aml::scope("\\_SB", &aml::name("_ADR", &aml::integer(0)));
        assert!(AmlReader::parse(&good).is_ok());
        let mut short = good.clone();
        short[1] -= 1;
        assert!(AmlReader::parse(&short).is_err());
        let mut long = good.clone();
        long[1] += 1;
        assert!(AmlReader::parse(&long).is_err());
    }

    #[test]
    fn aml_pkg_length_boundaries() {
        // One byte up to 63 in total (the byte included).
        assert_eq!(aml::pkg_length(0), vec![1]);
        assert_eq!(aml::pkg_length(62), vec![63]);
        // 63 + 1 = 64 does not fit one byte: two bytes, 65 = 0x41.
        assert_eq!(aml::pkg_length(63), vec![0x41, 0x04]);
        assert_eq!(aml::pkg_length(0xFFD), vec![0x4F, 0xFF]);
        assert_eq!(aml::pkg_length(0xFFE), vec![0x81, 0x00, 0x01]);
        assert_eq!(aml::pkg_length(0x12345), vec![0x88, 0x34, 0x12]);
        // The length that a package carries decodes back to itself for every size.
        for len in 0..70_000usize {
            let p = aml::pkg_length(len);
            let n = (p[0] >> 6) as usize;
            assert_eq!(p.len(), n + 1);
            let total = if n == 0 {
                p[0] as usize
            } else {
                (1..=n).fold(p[0] as usize & 0xF, |a, i| {
                    a | (p[i] as usize) << (4 + 8 * (i - 1))
                })
            };
            assert_eq!(total, len + p.len(), "len {len}");
        }
    }

    #[test]
    fn aml_names_and_integers() {
        assert_eq!(aml::name_string("_HID"), b"_HID");
        assert_eq!(aml::name_string("ISA"), b"ISA_");
        assert_eq!(aml::name_string("\\_SB"), b"\\_SB_");
        assert_eq!(aml::name_string("\\"), b"\\\0");
        assert_eq!(aml::name_string("\\_SB.PCI0"), b"\\\x2E_SB_PCI0");
        assert_eq!(aml::name_string("_SB.PCI0.ISA"), b"\x2F\x03_SB_PCI0ISA_");
        assert_eq!(aml::integer(0), [0x00]);
        assert_eq!(aml::integer(1), [0x01]);
        assert_eq!(aml::integer(10), [0x0A, 10]);
        assert_eq!(aml::integer(0xFFFF), [0x0B, 0xFF, 0xFF]);
        assert_eq!(aml::integer(0x1_FFFF), [0x0C, 0xFF, 0xFF, 1, 0]);
        assert_eq!(aml::integer(1 << 32), [0x0E, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(aml::string("ab"), [0x0D, b'a', b'b', 0]);
        assert_eq!(aml::eisa_id("PNP0A03"), 0x030A_D041);
        assert_eq!(
            aml::eisa_id("PNP0C0F").to_le_bytes(),
            [0x41, 0xD0, 0x0C, 0x0F]
        );
        // The encoder and the hand-assembled direct-boot DSDT agree.
        let hid = aml::name("_HID", &aml::dword(aml::eisa_id("PNP0A03")));
        assert!(dsdt_aml().windows(hid.len()).any(|w| w == hid));
    }

    #[test]
    #[should_panic(expected = "bad AML name segment")]
    fn aml_rejects_long_names() {
        aml::name_string("PCI00");
    }

    #[test]
    fn relocatable_layout() {
        let r = build_relocatable(&AcpiConfig::seabios(128 << 20));
        let sigs: Vec<&[u8; 4]> = r.placed.iter().map(|t| &t.signature).collect();
        assert_eq!(sigs, [b"FACS", b"DSDT", b"FACP", b"APIC", b"RSDT"]);
        assert_eq!(r.placed[0].offset, 0, "FACS at the 64-byte aligned start");
        for w in r.placed.windows(2) {
            assert!(w[0].offset + w[0].len <= w[1].offset, "{w:?} overlap");
            assert_eq!(w[1].offset % 8, 0);
        }
        let last = r.placed.last().unwrap();
        assert_eq!(r.tables.len(), last.offset + last.len);
        for t in &r.placed {
            let bytes = &r.tables[t.offset..t.offset + t.len];
            assert_eq!(rd32(bytes, 4) as usize, t.len, "{:?} length", t.signature);
        }
        // Pointers are offsets into the blob (FACS at 0), checksums are left to the loader.
        let fadt_t = r.table(b"FACP").unwrap();
        let f = &r.tables[fadt_t.offset..fadt_t.offset + fadt_t.len];
        let dsdt_t = r.table(b"DSDT").unwrap();
        assert_eq!(rd32(f, fadt::FIRMWARE_CTRL), 0);
        assert_eq!(rd32(f, fadt::DSDT) as usize, dsdt_t.offset);
        assert_eq!(rd32(f, fadt::X_DSDT) as usize, dsdt_t.offset);
        assert_eq!(rd32(f, fadt::X_DSDT + 4), 0);
        assert_eq!(f[9], 0, "checksum left to the loader");
        assert_eq!(rd32(f, fadt::PM1A_EVT_BLK), 0x600);
        assert_eq!(rd32(f, fadt::PM1A_CNT_BLK), 0x604);
        assert_eq!(rd32(f, fadt::PM_TMR_BLK), 0x608);
        let rsdt_t = r.table(b"RSDT").unwrap();
        let rs = &r.tables[rsdt_t.offset..rsdt_t.offset + rsdt_t.len];
        assert_eq!(rd32(rs, HEADER_LEN) as usize, fadt_t.offset);
        assert_eq!(
            rd32(rs, HEADER_LEN + 4) as usize,
            r.table(b"APIC").unwrap().offset
        );
        assert_eq!(r.rsdp.len(), RSDP_LEN);
        assert_eq!(&r.rsdp[..8], b"RSD PTR ");
        assert_eq!(rd32(&r.rsdp, 16) as usize, rsdt_t.offset);
        // The DSDT is the PC one.
        let d = &r.tables[dsdt_t.offset..dsdt_t.offset + dsdt_t.len];
        assert_eq!(
            &d[HEADER_LEN..],
            &dsdt_aml_pc(&AcpiConfig::seabios(128 << 20))[..]
        );
    }

    #[test]
    fn relocatable_fixup_order() {
        let r = build_relocatable(&AcpiConfig::seabios(128 << 20));
        // Every table but the FACS gets exactly one checksum over exactly itself, and no
        // pointer inside a table comes after its checksum.
        let mut checksummed = Vec::new();
        for (i, f) in r.fixups.iter().enumerate() {
            match *f {
                Fixup::Checksum {
                    blob: Blob::Tables,
                    start,
                    len,
                    at,
                } => {
                    let t = r
                        .placed
                        .iter()
                        .find(|t| t.offset == start as usize)
                        .expect("checksum over a table");
                    assert_eq!(t.len, len as usize);
                    assert_eq!(at, start + 9);
                    checksummed.push(t.signature);
                    for later in &r.fixups[i + 1..] {
                        if let Fixup::Pointer {
                            blob: Blob::Tables,
                            offset,
                            ..
                        } = *later
                        {
                            assert!(!(start..start + len).contains(&offset), "{later:?}");
                        }
                    }
                }
                Fixup::Pointer { size, offset, .. } => {
                    assert!(matches!(size, 4 | 8), "{f:?}");
                    assert!(offset as usize + size as usize <= r.tables.len());
                }
                Fixup::Checksum { .. } => {}
            }
        }
        assert_eq!(checksummed, [*b"DSDT", *b"FACP", *b"APIC", *b"RSDT"]);
        let n = r.fixups.len();
        assert_eq!(
            r.fixups[n - 2..],
            [
                Fixup::Pointer {
                    blob: Blob::Rsdp,
                    offset: 16,
                    size: 4,
                    target: Blob::Tables
                },
                Fixup::Checksum {
                    blob: Blob::Rsdp,
                    start: 0,
                    len: 20,
                    at: 8
                }
            ]
        );
        // FADT: FIRMWARE_CTRL, DSDT, X_DSDT; RSDT: two entries; RSDP: one.
        let pointers = r
            .fixups
            .iter()
            .filter(|f| matches!(f, Fixup::Pointer { .. }))
            .count();
        assert_eq!(pointers, 6);
    }

    #[test]
    fn relocatable_without_madt() {
        let r = build_relocatable(&AcpiConfig {
            madt: false,
            ..AcpiConfig::seabios(128 << 20)
        });
        assert!(r.table(b"APIC").is_none());
        let rsdt_t = r.table(b"RSDT").unwrap();
        assert_eq!(rsdt_t.len, HEADER_LEN + 4);
    }

    #[test]
    fn direct_boot_fadt_keeps_x_dsdt_empty() {
        // Refactoring for the relocatable path must not change the direct-boot bytes.
        let t = tables();
        let f = &t.bytes[FADT_OFFSET..FADT_OFFSET + FADT_LEN];
        assert_eq!(&f[fadt::X_DSDT..fadt::X_DSDT + 8], &[0; 8]);
        let sea = AcpiConfig::seabios(128 << 20);
        assert_eq!((sea.pm_base, sea.pci_mem_start), (0x600, 0x0800_0000));
        assert_eq!(AcpiConfig::seabios(3 << 30).pci_mem_start, 0xC000_0000);
        assert_eq!(AcpiConfig::default().pm_base, 0x600);
    }
}
