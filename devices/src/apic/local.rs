//! The local APIC of a P6-family processor (SDM Vol. 3A chapter 10), as the one CPU of the
//! machine sees it through its 4 KiB register page.
//!
//! - Version register 0x0004_0014: an integrated APIC (version 0x14, QEMU's value) with five
//!   LVT entries (max LVT entry 4): timer, performance counters, LINT0, LINT1, error, the P6
//!   set (SDM 10.4.8; no thermal sensor entry, which needs the Pentium 4's thermal monitor that
//!   CPUID does not report). Reading the absent thermal or CMCI entries is an illegal register
//!   address, like any reserved offset.
//! - 4-bit APIC ID (bits 27:24) and physical destinations compared on 4 bits with 0xF as
//!   broadcast, as on the P6's APIC bus. Flat and cluster logical destinations (DFR).
//! - Spurious vector bits 3:0 hardwired to 1 (P6 and Pentium, SDM 10.9).
//! - Priorities (SDM 10.8.3): PPR from TPR and the highest in-service vector; an IRR vector is
//!   delivered only when its priority class is above PPR's. APR follows the P6 formula.
//! - Timer (SDM 10.5.4): one-shot and periodic, divide configuration 1-128. The APIC bus
//!   clock is [`APIC_BUS_HZ`] = 1 GHz (QEMU's choice), so one timer tick at divide-by-1 is one
//!   nanosecond of virtual time. No TSC-deadline mode (CPUID does not report it; bit 18 of the
//!   LVT timer entry is reserved and reads 0).
//! - Registers are 32 bits wide at 16-byte-aligned offsets. Reads of any size return the
//!   bytes they cover (bytes 4-15 of each slot read 0). Writes must be 32-bit (or wider) and
//!   16-byte aligned; SDM 10.4.1 leaves anything else model specific, and like QEMU we drop
//!   them (reported once through `--log unimp`).
//! - Software disable (SVR bit 8 clear, SDM 10.4.7.2): every LVT mask bit is set and cannot be
//!   cleared; interrupts still reach IRR but none is delivered to the core until software
//!   enables the APIC again (what QEMU does); NMI messages still pass.
//! - Global disable (IA32_APIC_BASE bit 11 clear, SDM 10.4.3): the register page vanishes
//!   and the state returns to power-up (the processor "may return" there; we always do, so
//!   re-enabling through the MSR, as front-side-bus processors allow, starts clean).
//!
//! Power-up state (SDM 10.4.7.1) with one deliberate difference: LVT LINT0 resets to ExtINT,
//! unmasked (0x700), as QEMU's `apic_reset_common` long did for the BSP ("LINT0 delivery mode
//! on CPU #0 is set to ExtInt at initialization time typically by BIOS"; a 2016 QEMU change
//! dropped it as contrary to the SDM, and downstreams such as Proxmox revert that change).
//! QEMU then hands the 8259's INTR to the CPU whenever the APIC is globally disabled or LINT0
//! is unmasked, whatever SVR says (`apic_accept_pic_intr`), which is what happens here too.
//! Real boards rely on the BIOS to program virtual-wire mode (MP spec 3.6.2.2; SeaBIOS writes
//! LINT0 = 0x8700 with SVR enabled); Ringside also boots guests with no BIOS at all (Linux
//! directly, test ROMs), and those must keep getting the 8259's interrupts while they leave
//! the APIC alone. Linux reads LINT0 at setup: unmasked on the BSP means "the BIOS set up
//! virtual wire", and it keeps ExtINT there (as on QEMU), masking each 8259 input the I/O
//! APIC takes over.

use super::bits::*;
use super::{ApicMessage, DeliveryMode};
use crate::unimp::UnimpLog;

/// Default physical base of the register page.
pub const LAPIC_BASE: u64 = 0xFEE0_0000;
/// The APIC bus (timer input) frequency.
pub const APIC_BUS_HZ: u64 = 1_000_000_000;
/// Version register: version 0x14, max LVT entry 4.
pub const VERSION: u32 = 0x0004_0014;

/// IA32_APIC_BASE fields.
pub const MSR_GLOBAL_ENABLE: u64 = 1 << 11;
const MSR_BASE_MASK: u64 = 0xF_FFFF_F000;

/// Error status register bits (P6 set).
pub const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
pub const ESR_RECV_ILLEGAL_VECTOR: u32 = 1 << 6;
pub const ESR_ILLEGAL_REGISTER: u32 = 1 << 7;

pub const SVR_ENABLE: u32 = 1 << 8;
const SVR_WRITABLE: u32 = 0x3F0;
pub const TIMER_PERIODIC: u32 = 1 << 17;

/// Register offsets in the page.
pub mod reg {
    pub const ID: u32 = 0x020;
    pub const VERSION: u32 = 0x030;
    pub const TPR: u32 = 0x080;
    pub const APR: u32 = 0x090;
    pub const PPR: u32 = 0x0A0;
    pub const EOI: u32 = 0x0B0;
    pub const LDR: u32 = 0x0D0;
    pub const DFR: u32 = 0x0E0;
    pub const SVR: u32 = 0x0F0;
    pub const ISR: u32 = 0x100;
    pub const TMR: u32 = 0x180;
    pub const IRR: u32 = 0x200;
    pub const ESR: u32 = 0x280;
    pub const ICR_LOW: u32 = 0x300;
    pub const ICR_HIGH: u32 = 0x310;
    pub const LVT_TIMER: u32 = 0x320;
    pub const LVT_PERF: u32 = 0x340;
    pub const LVT_LINT0: u32 = 0x350;
    pub const LVT_LINT1: u32 = 0x360;
    pub const LVT_ERROR: u32 = 0x370;
    pub const TIMER_INITIAL: u32 = 0x380;
    pub const TIMER_CURRENT: u32 = 0x390;
    pub const TIMER_DIVIDE: u32 = 0x3E0;
}

/// Writable bits of each LVT entry (SDM Figure 10-8); the rest read 0 or are status.
const LVT_TIMER_BITS: u32 = VECTOR | MASKED | TIMER_PERIODIC;
const LVT_PERF_BITS: u32 = VECTOR | 0x700 | MASKED;
const LVT_LINT_BITS: u32 = VECTOR | 0x700 | ACTIVE_LOW | LEVEL | MASKED;
const LVT_ERROR_BITS: u32 = VECTOR | MASKED;
/// ICR low: vector, delivery mode, destination mode, level, trigger mode, shorthand.
const ICR_LOW_BITS: u32 = 0x000C_CFFF;

/// Saveable state of the local APIC. Times are absolute virtual nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalApicState {
    /// IA32_APIC_BASE bits 35:12.
    pub base: u64,
    /// IA32_APIC_BASE bit 11.
    pub global_enable: bool,
    pub id: u8,
    pub tpr: u8,
    /// Logical APIC ID (LDR bits 31:24).
    pub ldr: u8,
    /// Destination format model (DFR bits 31:28): 0xF flat, 0x0 cluster.
    pub dfr_model: u8,
    pub svr: u32,
    pub irr: [u32; 8],
    pub isr: [u32; 8],
    pub tmr: [u32; 8],
    /// ESR as last latched by a write.
    pub esr: u32,
    /// Errors detected since the last ESR write.
    pub esr_pending: u32,
    pub icr_low: u32,
    pub icr_high: u32,
    pub lvt_timer: u32,
    pub lvt_perf: u32,
    pub lvt_lint0: u32,
    pub lvt_lint1: u32,
    pub lvt_error: u32,
    pub timer_initial: u32,
    pub timer_divide: u32,
    /// The timer count was `timer_base_count` at `timer_base_ns` (0: stopped).
    pub timer_base_ns: u64,
    pub timer_base_count: u32,
    /// When the count next reaches zero.
    pub timer_next_ns: Option<u64>,
    /// Last level seen on LINT0 (the 8259's INTR), for edge-sensitive modes.
    pub lint0_level: bool,
    pub nmi_pending: bool,
    /// An ExtINT message (from the I/O APIC) waits for the INTA cycle.
    pub extint_pending: bool,
}

impl LocalApicState {
    pub fn power_on() -> Self {
        LocalApicState {
            base: LAPIC_BASE,
            global_enable: true,
            id: 0,
            tpr: 0,
            ldr: 0,
            dfr_model: 0xF,
            svr: 0xFF,
            irr: [0; 8],
            isr: [0; 8],
            tmr: [0; 8],
            esr: 0,
            esr_pending: 0,
            icr_low: 0,
            icr_high: 0,
            lvt_timer: MASKED,
            lvt_perf: MASKED,
            // See the module documentation: virtual wire from power-on.
            lvt_lint0: 0x700,
            lvt_lint1: MASKED,
            lvt_error: MASKED,
            timer_initial: 0,
            timer_divide: 0,
            timer_base_ns: 0,
            timer_base_count: 0,
            timer_next_ns: None,
            lint0_level: false,
            nmi_pending: false,
            extint_pending: false,
        }
    }
}

fn test_bit(words: &[u32; 8], v: u8) -> bool {
    words[(v >> 5) as usize] & (1 << (v & 31)) != 0
}

fn set_bit(words: &mut [u32; 8], v: u8, on: bool) {
    let w = &mut words[(v >> 5) as usize];
    if on {
        *w |= 1 << (v & 31);
    } else {
        *w &= !(1 << (v & 31));
    }
}

/// The highest vector set in a 256-bit register.
fn highest(words: &[u32; 8]) -> Option<u8> {
    (0..8)
        .rev()
        .find(|&i| words[i] != 0)
        .map(|i| (i as u32 * 32 + 31 - words[i].leading_zeros()) as u8)
}

/// The local APIC. Knows nothing of the CPU: the router asks it what to deliver.
#[derive(Debug)]
pub struct LocalApic {
    s: LocalApicState,
    unimp: UnimpLog,
}

impl Default for LocalApic {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalApic {
    pub fn new() -> Self {
        LocalApic {
            s: LocalApicState::power_on(),
            unimp: UnimpLog::disabled(),
        }
    }

    pub fn set_unimp_log(&mut self, log: UnimpLog) {
        self.unimp = log;
    }

    pub fn state(&self) -> LocalApicState {
        self.s.clone()
    }

    pub fn restore(&mut self, s: LocalApicState) {
        self.s = s;
    }

    pub fn reset(&mut self) {
        self.s = LocalApicState::power_on();
    }

    /// Physical base of the register page.
    pub fn base(&self) -> u64 {
        self.s.base
    }

    /// Globally enabled through IA32_APIC_BASE.
    pub fn enabled(&self) -> bool {
        self.s.global_enable
    }

    /// SVR bit 8.
    pub fn software_enabled(&self) -> bool {
        self.s.svr & SVR_ENABLE != 0
    }

    /// Whether `addr` falls in the register page (only while globally enabled).
    pub fn decodes(&self, addr: u64) -> bool {
        self.s.global_enable && addr & !0xFFF == self.s.base
    }

    /// The CPU wrote IA32_APIC_BASE.
    pub fn set_apic_base(&mut self, msr: u64) {
        let enable = msr & MSR_GLOBAL_ENABLE != 0;
        let base = msr & MSR_BASE_MASK;
        if self.s.global_enable && !enable {
            let id = self.s.id;
            self.s = LocalApicState::power_on();
            self.s.id = id;
        }
        self.s.base = base;
        self.s.global_enable = enable;
    }

    pub fn tpr(&self) -> u8 {
        self.s.tpr
    }

    /// Processor priority (SDM 10.8.3.1).
    pub fn ppr(&self) -> u8 {
        let isrv = highest(&self.s.isr).unwrap_or(0);
        if self.s.tpr >> 4 >= isrv >> 4 {
            self.s.tpr
        } else {
            isrv & 0xF0
        }
    }

    /// Arbitration priority (SDM 10.8.3.1, P6 formula).
    pub fn apr(&self) -> u8 {
        let tpr = self.s.tpr;
        let irrv = highest(&self.s.irr).unwrap_or(0);
        let isrv = highest(&self.s.isr).unwrap_or(0);
        if tpr >> 4 >= irrv >> 4 && tpr >> 4 > isrv >> 4 {
            tpr
        } else {
            (tpr & 0xF0).max(irrv & 0xF0).max(isrv & 0xF0)
        }
    }

    /// The vector the core would take now: the highest requested one whose priority class is
    /// above the processor priority, while the APIC is software enabled.
    pub fn deliverable(&self) -> Option<u8> {
        if !self.s.global_enable || !self.software_enabled() {
            return None;
        }
        let v = highest(&self.s.irr)?;
        (v >> 4 > self.ppr() >> 4).then_some(v)
    }

    /// INTA for a vector [`deliverable`](Self::deliverable) returned: IRR to ISR.
    pub fn start_service(&mut self, vector: u8) {
        set_bit(&mut self.s.irr, vector, false);
        set_bit(&mut self.s.isr, vector, true);
    }

    pub fn irr_bit(&self, vector: u8) -> bool {
        test_bit(&self.s.irr, vector)
    }

    pub fn isr_bit(&self, vector: u8) -> bool {
        test_bit(&self.s.isr, vector)
    }

    pub fn tmr_bit(&self, vector: u8) -> bool {
        test_bit(&self.s.tmr, vector)
    }

    /// What INTA returns when the interrupt went away (SDM 10.9).
    pub fn spurious_vector(&self) -> u8 {
        self.s.svr as u8
    }

    /// LVT LINT0 passes the 8259's INTR as an ExtINT (virtual-wire mode).
    pub fn lint0_extint(&self) -> bool {
        self.s.global_enable
            && self.s.lvt_lint0 & MASKED == 0
            && DeliveryMode::from_bits(self.s.lvt_lint0) == DeliveryMode::ExtInt
    }

    /// Takes an ExtINT message for the coming INTA cycle.
    pub fn take_extint(&mut self) -> bool {
        std::mem::take(&mut self.s.extint_pending)
    }

    pub fn extint_pending(&self) -> bool {
        self.s.extint_pending
    }

    pub fn nmi_pending(&self) -> bool {
        self.s.nmi_pending
    }

    /// Takes a pending NMI (ICR NMI to self, an NMI message, LINT0 in NMI mode).
    pub fn take_nmi(&mut self) -> bool {
        std::mem::take(&mut self.s.nmi_pending)
    }

    /// Records an error; raises the error LVT interrupt if it is unmasked (SDM 10.5.3).
    fn error(&mut self, bits: u32) {
        self.s.esr_pending |= bits;
        let lvt = self.s.lvt_error;
        if lvt & MASKED == 0 {
            let v = lvt as u8;
            if v < 16 {
                // Not delivered, and not reported again through itself.
                self.s.esr_pending |= ESR_RECV_ILLEGAL_VECTOR;
            } else {
                set_bit(&mut self.s.irr, v, true);
                set_bit(&mut self.s.tmr, v, false);
            }
        }
    }

    /// A fixed interrupt arrives: IRR, and TMR for its trigger mode. Vectors 0-15 are
    /// illegal (SDM 10.5.2).
    fn receive(&mut self, vector: u8, level: bool) -> bool {
        if vector < 16 {
            self.error(ESR_RECV_ILLEGAL_VECTOR);
            return false;
        }
        set_bit(&mut self.s.irr, vector, true);
        set_bit(&mut self.s.tmr, vector, level);
        true
    }

    /// Whether a message's destination names this APIC.
    fn matches(&self, logical: bool, dest: u8) -> bool {
        if !logical {
            let d = dest & 0x0F;
            return d == 0x0F || d == self.s.id & 0x0F;
        }
        let ldr = self.s.ldr;
        match self.s.dfr_model {
            0xF => ldr & dest != 0,
            0x0 => {
                let cluster = dest >> 4;
                (cluster == 0xF || cluster == ldr >> 4) && dest & ldr & 0x0F != 0
            }
            _ => false,
        }
    }

    /// A message on the APIC bus (from the I/O APIC). Returns whether this APIC accepted it.
    pub fn accept(&mut self, msg: &ApicMessage) -> bool {
        if !self.s.global_enable || !self.matches(msg.logical, msg.dest) {
            return false;
        }
        match msg.mode {
            // One CPU: it is always the lowest-priority one.
            DeliveryMode::Fixed | DeliveryMode::LowestPriority => {
                self.receive(msg.vector, msg.level);
            }
            DeliveryMode::Nmi => self.s.nmi_pending = true,
            DeliveryMode::ExtInt => self.s.extint_pending = true,
            other => self
                .unimp
                .report("lapic", format_args!("{other:?} interrupt message")),
        }
        true
    }

    /// The 8259's INTR output on LINT0. ExtINT is sampled at INTA (`lint0_extint`); the
    /// other modes treat the pin as a wire (SDM 10.5.1).
    pub fn set_lint0(&mut self, level: bool) {
        let rising = level && !self.s.lint0_level;
        self.s.lint0_level = level;
        let lvt = self.s.lvt_lint0;
        if !self.s.global_enable || lvt & MASKED != 0 {
            return;
        }
        match DeliveryMode::from_bits(lvt) {
            DeliveryMode::ExtInt => {}
            DeliveryMode::Fixed => {
                let vector = lvt as u8;
                if lvt & LEVEL == 0 {
                    if rising {
                        self.receive(vector, false);
                    }
                } else if level && lvt & REMOTE_IRR == 0 && self.receive(vector, true) {
                    // Not again until the EOI for this vector.
                    self.s.lvt_lint0 |= REMOTE_IRR;
                }
            }
            DeliveryMode::Nmi if rising => self.s.nmi_pending = true,
            DeliveryMode::Nmi => {}
            other if rising => self
                .unimp
                .report("lapic", format_args!("LINT0 delivery mode {other:?}")),
            _ => {}
        }
    }

    fn divisor(&self) -> u64 {
        let d = self.s.timer_divide;
        let code = (d & 3) | ((d >> 1) & 4);
        if code == 7 {
            1
        } else {
            2 << code
        }
    }

    fn periodic(&self) -> bool {
        self.s.lvt_timer & TIMER_PERIODIC != 0
    }

    /// The timer's current count at `now_ns`.
    pub fn current_count(&self, now_ns: u64) -> u32 {
        let base = self.s.timer_base_count as u64;
        if base == 0 {
            return 0;
        }
        // Restored states may carry any base: a time before it counts as no time at all.
        let ticks = now_ns.saturating_sub(self.s.timer_base_ns) / self.divisor();
        let initial = self.s.timer_initial as u64;
        if ticks < base {
            (base - ticks) as u32
        } else if self.periodic() && initial != 0 {
            // Reloaded at each zero crossing.
            (initial - (ticks - base) % initial) as u32
        } else {
            0
        }
    }

    /// Starts counting down from `count` at `now_ns`.
    fn start_count(&mut self, count: u32, now_ns: u64) {
        self.s.timer_base_ns = now_ns;
        self.s.timer_base_count = count;
        self.s.timer_next_ns =
            (count != 0).then(|| now_ns.saturating_add(count as u64 * self.divisor()));
    }

    /// Fires the timer if it is due; returns when it next needs a call.
    pub fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        if !self.s.global_enable {
            return None;
        }
        if let Some(due) = self.s.timer_next_ns.filter(|&t| now_ns >= t) {
            if self.s.lvt_timer & MASKED == 0 {
                self.receive(self.s.lvt_timer as u8, false);
            }
            let initial = self.s.timer_initial as u64;
            self.s.timer_next_ns = if self.periodic() && initial != 0 {
                // Periods missed between two polls fold into this one interrupt.
                let period = initial * self.divisor();
                let periods = (now_ns - due) / period + 1;
                Some(due.saturating_add(periods.saturating_mul(period)))
            } else {
                None
            };
        }
        // A masked timer still counts, but nothing needs the machine to wake up for it.
        self.s
            .timer_next_ns
            .filter(|_| self.s.lvt_timer & MASKED == 0)
    }

    fn write_lvt(&self, old: u32, value: u32, writable: u32) -> u32 {
        let mut v = (value & writable) | (old & REMOTE_IRR);
        if !self.software_enabled() {
            v |= MASKED;
        }
        v
    }

    /// Reads the 32-bit register at 16-byte-aligned offset `reg`.
    pub fn read_register(&mut self, reg: u32, now_ns: u64) -> u32 {
        let s = &self.s;
        match reg {
            reg::ID => (s.id as u32) << 24,
            reg::VERSION => VERSION,
            reg::TPR => s.tpr as u32,
            reg::APR => self.apr() as u32,
            reg::PPR => self.ppr() as u32,
            reg::EOI => 0,
            reg::LDR => (s.ldr as u32) << 24,
            reg::DFR => (s.dfr_model as u32) << 28 | 0x0FFF_FFFF,
            reg::SVR => s.svr,
            0x100..=0x170 => s.isr[((reg - reg::ISR) >> 4) as usize],
            0x180..=0x1F0 => s.tmr[((reg - reg::TMR) >> 4) as usize],
            0x200..=0x270 => s.irr[((reg - reg::IRR) >> 4) as usize],
            reg::ESR => s.esr,
            reg::ICR_LOW => s.icr_low,
            reg::ICR_HIGH => s.icr_high,
            reg::LVT_TIMER => s.lvt_timer,
            reg::LVT_PERF => s.lvt_perf,
            reg::LVT_LINT0 => s.lvt_lint0,
            reg::LVT_LINT1 => s.lvt_lint1,
            reg::LVT_ERROR => s.lvt_error,
            reg::TIMER_INITIAL => s.timer_initial,
            reg::TIMER_CURRENT => self.current_count(now_ns),
            reg::TIMER_DIVIDE => s.timer_divide,
            _ => {
                self.error(ESR_ILLEGAL_REGISTER);
                0
            }
        }
    }

    /// Writes the 32-bit register at `reg`. Returns the vector of a level-triggered
    /// interrupt that an EOI just ended, for the I/O APIC (SDM 10.8.5).
    pub fn write_register(&mut self, reg: u32, value: u32, now_ns: u64) -> Option<u8> {
        match reg {
            reg::ID => self.s.id = (value >> 24) as u8 & 0x0F,
            reg::TPR => self.s.tpr = value as u8,
            reg::EOI => return self.eoi(),
            reg::LDR => self.s.ldr = (value >> 24) as u8,
            reg::DFR => self.s.dfr_model = (value >> 28) as u8,
            reg::SVR => {
                let svr = (value & SVR_WRITABLE) | 0x0F;
                if svr & SVR_ENABLE == 0 {
                    for lvt in [
                        &mut self.s.lvt_timer,
                        &mut self.s.lvt_perf,
                        &mut self.s.lvt_lint0,
                        &mut self.s.lvt_lint1,
                        &mut self.s.lvt_error,
                    ] {
                        *lvt |= MASKED;
                    }
                }
                self.s.svr = svr;
            }
            reg::ESR => {
                // A write latches the errors seen since the previous one (SDM 10.5.3).
                self.s.esr = std::mem::take(&mut self.s.esr_pending);
            }
            reg::ICR_LOW => {
                self.s.icr_low = value & ICR_LOW_BITS;
                self.send_ipi();
            }
            reg::ICR_HIGH => self.s.icr_high = value & 0xFF00_0000,
            reg::LVT_TIMER => {
                let old = self.s.lvt_timer;
                self.s.lvt_timer = self.write_lvt(old, value, LVT_TIMER_BITS);
                if (old ^ self.s.lvt_timer) & TIMER_PERIODIC != 0 {
                    // The count so far ran in the old mode; continue from it in the new one.
                    let periodic = self.s.lvt_timer;
                    self.s.lvt_timer = old;
                    let count = self.current_count(now_ns);
                    self.s.lvt_timer = periodic;
                    self.start_count(count, now_ns);
                }
            }
            reg::LVT_PERF => {
                self.s.lvt_perf = self.write_lvt(self.s.lvt_perf, value, LVT_PERF_BITS)
            }
            reg::LVT_LINT0 => {
                self.s.lvt_lint0 = self.write_lvt(self.s.lvt_lint0, value, LVT_LINT_BITS)
            }
            reg::LVT_LINT1 => {
                self.s.lvt_lint1 = self.write_lvt(self.s.lvt_lint1, value, LVT_LINT_BITS)
            }
            reg::LVT_ERROR => {
                self.s.lvt_error = self.write_lvt(self.s.lvt_error, value, LVT_ERROR_BITS)
            }
            reg::TIMER_INITIAL => {
                self.s.timer_initial = value;
                self.start_count(value, now_ns);
            }
            reg::TIMER_DIVIDE => {
                // The count reached so far continues at the new rate.
                let count = self.current_count(now_ns);
                self.s.timer_divide = value & 0xB;
                self.start_count(count, now_ns);
            }
            // Read-only registers ignore writes.
            reg::VERSION | reg::APR | reg::PPR | reg::TIMER_CURRENT => {}
            0x100..=0x270 => {}
            _ => self.error(ESR_ILLEGAL_REGISTER),
        }
        None
    }

    /// EOI: the highest in-service vector is done.
    fn eoi(&mut self) -> Option<u8> {
        let v = highest(&self.s.isr)?;
        set_bit(&mut self.s.isr, v, false);
        if !test_bit(&self.s.tmr, v) {
            return None;
        }
        // A level-triggered LINT0 interrupt may be taken again.
        if self.s.lvt_lint0 as u8 == v {
            self.s.lvt_lint0 &= !REMOTE_IRR;
        }
        Some(v)
    }

    /// The ICR was written: send the IPI. This is the only CPU, so only messages that
    /// include self have a receiver; INIT and SIPI for application processors go nowhere.
    fn send_ipi(&mut self) {
        let icr = self.s.icr_low;
        let vector = icr as u8;
        let mode = DeliveryMode::from_bits(icr);
        let to_self = match (icr >> 18) & 3 {
            0 => self.matches(icr & DEST_LOGICAL != 0, (self.s.icr_high >> 24) as u8),
            1 | 2 => true,
            _ => false,
        };
        match mode {
            DeliveryMode::Fixed | DeliveryMode::LowestPriority => {
                if vector < 16 {
                    self.error(ESR_SEND_ILLEGAL_VECTOR);
                } else if to_self {
                    self.receive(vector, false);
                }
            }
            DeliveryMode::Nmi => {
                if to_self {
                    self.s.nmi_pending = true;
                }
            }
            // INIT level de-assert only resynchronises arbitration IDs.
            DeliveryMode::Init if icr & LEVEL != 0 && icr & (1 << 14) == 0 => {}
            DeliveryMode::Init | DeliveryMode::StartUp => {
                if to_self {
                    self.unimp
                        .report("lapic", format_args!("{mode:?} IPI to self"));
                }
            }
            DeliveryMode::Smi | DeliveryMode::ExtInt | DeliveryMode::Reserved => {
                if to_self {
                    self.unimp.report("lapic", format_args!("{mode:?} IPI"));
                }
            }
        }
    }

    /// A read of `size` bytes at `offset` in the page.
    pub fn mmio_read(&mut self, offset: u32, size: u8, now_ns: u64) -> u64 {
        let offset = offset & 0xFFF;
        let size = size.min(8) as u32;
        let mut out = 0u64;
        let mut i = 0;
        while i < size {
            let at = offset + i;
            let slot = at & 0xF;
            let span = (size - i).min(16 - slot);
            if slot < 4 {
                let bytes = span.min(4 - slot);
                let v = (self.read_register(at & 0xFF0, now_ns) >> (8 * slot)) as u64;
                let mask = if bytes >= 4 {
                    0xFFFF_FFFF
                } else {
                    (1u64 << (8 * bytes)) - 1
                };
                out |= (v & mask) << (8 * i);
            }
            i += span;
        }
        out
    }

    /// A write of `size` bytes at `offset`. Returns an EOI to broadcast, as
    /// [`write_register`](Self::write_register).
    pub fn mmio_write(&mut self, offset: u32, size: u8, value: u64, now_ns: u64) -> Option<u8> {
        let offset = offset & 0xFFF;
        if offset & 0xF != 0 || size < 4 {
            self.unimp
                .report("lapic", "register write narrower than 32 bits or unaligned");
            return None;
        }
        self.write_register(offset, value as u32, now_ns)
    }
}
