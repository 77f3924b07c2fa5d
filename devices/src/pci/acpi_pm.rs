//! Intel 82371AB (PIIX4) power management function, placed at 00:01.3 as on QEMU's `pc`
//! machine (next to a PIIX3 ISA bridge), and the ACPI fixed hardware behind it.
//!
//! Configuration: PMBA (0x40, I/O base of the 64-byte PM block, bit 0 hardwired), PMREGMISC
//! (0x80, bit 0 enables the block), SMBus base (0x90) and host configuration (0xD2) stored
//! only. DEVACTB (0x58) reads with APMC_EN (0x5B bit 1) set, as QEMU does without SMM, so
//! SeaBIOS believes SMM is already initialised and never raises an SMI.
//!
//! I/O block (ACPI 1.0 fixed registers, offsets from PMBA):
//! - +0 PM1a_STS (write one to clear), +2 PM1a_EN;
//! - +4 PM1a_CNT: SCI_EN, SLP_TYP (bits 12:10), SLP_EN (bit 13, write-only). SLP_EN with
//!   SLP_TYP = 0 is soft-off (S5): the machine exits with status 0. 0 is the `_S5` value
//!   QEMU's PIIX4 DSDT uses, and our DSDT must use the same. Other sleep types (QEMU's S3 is
//!   1) are ignored.
//! - +8 PM_TMR: 24-bit free-running counter at 3.579545 MHz from the virtual clock;
//!   TMR_STS is set whenever bit 23 changes.
//! - other offsets (PIIX4 processor/global/device registers) read as 0, writes dropped.
//!
//! The block is decoded at PMBA (0x600 under QEMU's tables, 0xB000 where SeaBIOS builds its
//! own) once PMREGMISC enables it. QEMU also has a GPE0 block at 0xAFE0 and PCI hotplug
//! registers at 0xAE00; neither is modelled (our FADT must not point at them).
//!
//! APM control/status ports 0xB2/0xB3: ACPI_ENABLE (0xF1) written to 0xB2 sets SCI_EN,
//! ACPI_DISABLE (0xF0) clears it (the FADT's SMI_CMD handshake); no SMI is generated.
//!
//! The SCI is ISA IRQ 9, a level driven high while PM1_STS & PM1_EN has a timer, global,
//! power button or RTC event (as QEMU, regardless of SCI_EN).

use std::sync::Arc;

use emu_core::clock::Clock;
use emu_core::control::MachineControl;
use emu_core::irq::IrqLines;

use super::config::{ConfigSpace, PciId, INTERRUPT_PIN, STATUS};
use super::PciFunction;

pub const VENDOR: u16 = 0x8086;
pub const DEVICE: u16 = 0x7113;

/// Configuration registers.
pub const PMBA: u8 = 0x40;
pub const DEVACTB: u8 = 0x58;
pub const PMREGMISC: u8 = 0x80;
pub const SMBBA: u8 = 0x90;
pub const SMBHSTCFG: u8 = 0xD2;

/// Where our direct-boot setup and QEMU's ACPI tables put the PM block.
pub const PM_BASE: u16 = 0x600;
pub const PM_LEN: u16 = 0x40;
/// APM control (SMI command) and status ports.
pub const APMC: u16 = 0xB2;
pub const APMS: u16 = 0xB3;

pub const PM_TIMER_HZ: u64 = 3_579_545;
pub const SCI_IRQ: u8 = 9;

pub const TMR_STS: u16 = 1 << 0;
pub const BM_STS: u16 = 1 << 4;
pub const GBL_STS: u16 = 1 << 5;
pub const PWRBTN_STS: u16 = 1 << 8;
pub const RTC_STS: u16 = 1 << 10;
pub const WAK_STS: u16 = 1 << 15;
pub const TMR_EN: u16 = 1 << 0;
pub const PWRBTN_EN: u16 = 1 << 8;
pub const SCI_EN: u16 = 1 << 0;
pub const SLP_EN: u16 = 1 << 13;
/// SLP_TYP value meaning soft-off (S5) on this chipset model.
pub const SLP_TYP_S5: u16 = 0;

const SCI_EVENTS: u16 = TMR_STS | GBL_STS | PWRBTN_STS | RTC_STS;
const ACPI_ENABLE: u8 = 0xF1;
const ACPI_DISABLE: u8 = 0xF0;

/// PM timer ticks at virtual time `ns`.
pub fn pm_ticks(ns: u64) -> u64 {
    (ns as u128 * PM_TIMER_HZ as u128 / 1_000_000_000) as u64
}

/// The first virtual time at which the timer has counted `ticks`.
fn ns_for_ticks(ticks: u64) -> u64 {
    (ticks as u128 * 1_000_000_000).div_ceil(PM_TIMER_HZ as u128) as u64
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcpiPmState {
    pub config: [u8; 256],
    pub pm1_sts: u16,
    pub pm1_en: u16,
    pub pm1_cnt: u16,
    /// PM timer ticks >> 23 when TMR_STS was last evaluated.
    pub tmr_epoch: u64,
    pub apm_cnt: u8,
    pub apm_sts: u8,
}

pub struct AcpiPm {
    cfg: ConfigSpace,
    control: Arc<MachineControl>,
    clock: Clock,
    irq: IrqLines,
    pm1_sts: u16,
    pm1_en: u16,
    pm1_cnt: u16,
    tmr_epoch: u64,
    apm_cnt: u8,
    apm_sts: u8,
    sci: bool,
}

impl AcpiPm {
    pub fn new(control: Arc<MachineControl>, clock: Clock, irq: IrqLines) -> Self {
        let mut cfg = ConfigSpace::new(PciId {
            vendor: VENDOR,
            device: DEVICE,
            class: 0x0680,
            prog_if: 0,
            revision: 0x03,
            header_type: 0,
        });
        cfg.set_word(STATUS, 0x0280);
        cfg.set_byte(INTERRUPT_PIN, 1);
        // PMBA: 64-byte I/O block, bits 15:6; bit 0 (I/O space indicator) hardwired.
        cfg.set_dword(PMBA, 1);
        cfg.set_wmask(PMBA, 4, 0xFFC0);
        // No SMM: APMC_EN reads as already set.
        cfg.set_byte(DEVACTB + 3, 0x02);
        cfg.set_wmask(DEVACTB + 3, 1, 0xFD);
        cfg.set_wmask(PMREGMISC, 1, 0x01);
        // SMBus base: 16-byte I/O block, bits 15:4; bit 0 hardwired.
        cfg.set_dword(SMBBA, 1);
        cfg.set_wmask(SMBBA, 4, 0xFFF0);
        let tmr_epoch = pm_ticks(clock.now_ns()) >> 23;
        AcpiPm {
            cfg,
            control,
            clock,
            irq,
            pm1_sts: 0,
            pm1_en: 0,
            pm1_cnt: 0,
            tmr_epoch,
            apm_cnt: 0,
            apm_sts: 0,
            sci: false,
        }
    }

    pub fn reset(&mut self) {
        let fresh = AcpiPm::new(self.control.clone(), self.clock.clone(), self.irq.clone());
        let was = self.sci;
        *self = fresh;
        self.sci = was;
        self.update_sci();
    }

    pub fn config(&self) -> &ConfigSpace {
        &self.cfg
    }

    /// The programmed PM I/O base.
    pub fn pmba(&self) -> u16 {
        (self.cfg.dword(PMBA) & 0xFFC0) as u16
    }

    /// The programmed SMBus I/O base (stored only).
    pub fn smbus_base(&self) -> u16 {
        (self.cfg.dword(SMBBA) & 0xFFF0) as u16
    }

    /// The PM block answers at PMBA once PMREGMISC enables it.
    pub fn io_enabled(&self) -> bool {
        self.cfg.byte(PMREGMISC) & 1 != 0 && self.pmba() != 0
    }

    /// The register offset of `port` when the PM block decodes it.
    pub fn io_offset(&self, port: u16) -> Option<u16> {
        let base = self.pmba();
        (self.io_enabled() && (base..base + PM_LEN).contains(&port)).then(|| port - base)
    }

    pub fn pm1_sts(&mut self) -> u16 {
        self.update_timer_status(self.clock.now_ns());
        self.pm1_sts
    }

    pub fn pm1_en(&self) -> u16 {
        self.pm1_en
    }

    pub fn pm1_cnt(&self) -> u16 {
        self.pm1_cnt
    }

    /// The current 24-bit PM timer value.
    pub fn timer(&self) -> u32 {
        (pm_ticks(self.clock.now_ns()) & 0xFF_FFFF) as u32
    }

    /// The power button was pressed: a PWRBTN event when the OS enabled it (ACPI shutdown).
    pub fn power_button(&mut self) {
        if self.pm1_en & PWRBTN_EN != 0 {
            self.pm1_sts |= PWRBTN_STS;
            self.update_sci();
        }
    }

    fn update_timer_status(&mut self, now_ns: u64) {
        let epoch = pm_ticks(now_ns) >> 23;
        if epoch != self.tmr_epoch {
            self.tmr_epoch = epoch;
            self.pm1_sts |= TMR_STS;
        }
    }

    fn update_sci(&mut self) {
        let level = self.pm1_sts & self.pm1_en & SCI_EVENTS != 0;
        if level != self.sci {
            self.sci = level;
            self.irq.set(SCI_IRQ, level);
        }
    }

    /// Timer overflow events; the next bit-23 change when the OS wants them.
    pub fn poll(&mut self, now_ns: u64) -> Option<u64> {
        self.update_timer_status(now_ns);
        self.update_sci();
        (self.pm1_en & TMR_EN != 0).then(|| ns_for_ticks((self.tmr_epoch + 1) << 23))
    }

    /// A read of `size` bytes at `offset` in the PM block (decoding already checked).
    pub fn io_read(&mut self, offset: u16, size: u8) -> u32 {
        let now = self.clock.now_ns();
        self.update_timer_status(now);
        let tmr = (pm_ticks(now) & 0xFF_FFFF) as u32;
        (0..size as u16).fold(0, |acc, i| {
            let off = offset + i;
            let b = match off {
                0..=1 => self.pm1_sts >> (8 * off),
                2..=3 => self.pm1_en >> (8 * (off - 2)),
                4..=5 => self.pm1_cnt >> (8 * (off - 4)),
                8..=11 => (tmr >> (8 * (off - 8))) as u16,
                _ => 0,
            } as u8;
            acc | (b as u32) << (8 * i)
        })
    }

    /// A write of `size` bytes at `offset` in the PM block; byte lanes apply one by one
    /// (SLP_TYP and SLP_EN share the high byte of PM1_CNT).
    pub fn io_write(&mut self, offset: u16, size: u8, value: u32) {
        self.update_timer_status(self.clock.now_ns());
        for i in 0..size as u16 {
            let off = offset + i;
            let b = (value >> (8 * i)) as u8 as u16;
            match off {
                0..=1 => self.pm1_sts &= !(b << (8 * off)),
                2..=3 => {
                    let s = 8 * (off - 2);
                    self.pm1_en = (self.pm1_en & !(0xFF << s)) | (b << s);
                }
                4..=5 => {
                    let s = 8 * (off - 4);
                    let cnt = (self.pm1_cnt & !(0xFF << s)) | (b << s);
                    if cnt & SLP_EN != 0 {
                        self.sleep((cnt >> 10) & 7);
                    }
                    self.pm1_cnt = cnt & !SLP_EN;
                }
                _ => {}
            }
        }
        self.update_sci();
    }

    fn sleep(&mut self, typ: u16) {
        if typ == SLP_TYP_S5 {
            self.control.request_exit(0);
        }
    }

    pub fn apm_read(&self, port: u16) -> u8 {
        if port == APMC {
            self.apm_cnt
        } else {
            self.apm_sts
        }
    }

    pub fn apm_write(&mut self, port: u16, v: u8) {
        if port == APMC {
            self.apm_cnt = v;
            match v {
                ACPI_ENABLE => self.pm1_cnt |= SCI_EN,
                ACPI_DISABLE => self.pm1_cnt &= !SCI_EN,
                _ => {}
            }
        } else {
            self.apm_sts = v;
        }
    }

    pub fn state(&self) -> AcpiPmState {
        AcpiPmState {
            config: self.cfg.data,
            pm1_sts: self.pm1_sts,
            pm1_en: self.pm1_en,
            pm1_cnt: self.pm1_cnt,
            tmr_epoch: self.tmr_epoch,
            apm_cnt: self.apm_cnt,
            apm_sts: self.apm_sts,
        }
    }

    pub fn restore(&mut self, s: AcpiPmState) {
        self.cfg.data = s.config;
        self.pm1_sts = s.pm1_sts;
        self.pm1_en = s.pm1_en;
        self.pm1_cnt = s.pm1_cnt;
        self.tmr_epoch = s.tmr_epoch;
        self.apm_cnt = s.apm_cnt;
        self.apm_sts = s.apm_sts;
        self.update_sci();
    }
}

impl PciFunction for AcpiPm {
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
    use emu_core::clock::ClockMode;

    fn pm() -> (AcpiPm, Clock, IrqLines, Arc<MachineControl>) {
        let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
        let irq = IrqLines::new();
        let control = Arc::new(MachineControl::new());
        let pm = AcpiPm::new(control.clone(), clock.clone(), irq.clone());
        (pm, clock, irq, control)
    }

    #[test]
    fn config_registers() {
        let (mut p, ..) = pm();
        assert_eq!(p.config_read(0, 4), 0x7113_8086);
        assert_eq!(p.config_read(0x08, 4), 0x0680_0003);
        assert_eq!(p.config_read(PMBA, 4), 1);
        p.config_write(PMBA, 4, 0x0000_0601);
        assert_eq!(p.config_read(PMBA, 4), 0x0601);
        assert_eq!(p.pmba(), 0x600);
        assert!(!p.io_enabled());
        p.config_write(PMREGMISC, 1, 0xFF);
        assert_eq!(p.config_read(PMREGMISC, 1), 1);
        assert!(p.io_enabled());
        p.config_write(SMBBA, 4, 0x701);
        assert_eq!(p.smbus_base(), 0x700);
        p.config_write(DEVACTB, 4, 0);
        assert_eq!(p.config_read(DEVACTB, 4), 0x0200_0000, "APMC_EN stays set");
    }

    #[test]
    fn timer_overflow_raises_sci() {
        let (mut p, clock, irq, _) = pm();
        p.io_write(2, 2, TMR_EN as u32);
        let deadline = p.poll(clock.now_ns()).unwrap();
        assert_eq!(pm_ticks(deadline), 1 << 23);
        assert_eq!(pm_ticks(deadline - 1), (1 << 23) - 1);
        assert_eq!(irq.levels() & (1 << SCI_IRQ), 0);
        clock.sync_icount(deadline);
        p.poll(clock.now_ns());
        assert_eq!(p.pm1_sts() & TMR_STS, TMR_STS);
        assert_ne!(irq.levels() & (1 << SCI_IRQ), 0);
        p.io_write(0, 1, TMR_STS as u32);
        assert_eq!(p.pm1_sts() & TMR_STS, 0);
        assert_eq!(irq.levels() & (1 << SCI_IRQ), 0);
    }

    #[test]
    fn acpi_enable_via_apmc_and_power_button() {
        let (mut p, _, irq, _) = pm();
        p.apm_write(APMC, ACPI_ENABLE);
        assert_eq!(p.io_read(4, 2), SCI_EN as u32);
        p.apm_write(APMC, ACPI_DISABLE);
        assert_eq!(p.io_read(4, 2), 0);
        p.power_button();
        assert_eq!(p.pm1_sts(), 0, "not enabled");
        p.io_write(2, 2, PWRBTN_EN as u32);
        p.power_button();
        assert_eq!(p.io_read(0, 2), PWRBTN_STS as u32);
        assert_ne!(irq.levels() & (1 << SCI_IRQ), 0);
        p.io_write(0, 2, 0xFFFF);
        assert_eq!(irq.levels() & (1 << SCI_IRQ), 0);
    }

    #[test]
    fn other_sleep_types_do_not_exit() {
        let (mut p, _, _, control) = pm();
        p.io_write(4, 2, (1 << 10) as u32 | SLP_EN as u32);
        assert_eq!(control.pending(), 0);
        assert_eq!(p.pm1_cnt(), 1 << 10, "SLP_EN reads as zero");
    }

    #[test]
    fn state_round_trip() {
        let (mut p, ..) = pm();
        p.config_write(PMBA, 4, 0x601);
        p.io_write(2, 2, 0x0121);
        let s = p.state();
        let (mut q, ..) = pm();
        q.restore(s.clone());
        assert_eq!(q.state(), s);
    }
}
