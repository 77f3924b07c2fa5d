//! The Motorola MC146818 real-time clock and its battery-backed RAM, the PC's "CMOS": ports
//! 0x70 (index; bit 7 masks NMI) and 0x71 (data) for the clock registers and the first 128
//! bytes, 0x72/0x73 for the upper 128 bytes (the PIIX/ICH extended bank).
//!
//! Behaviour from the MC146818A data sheet with the PC's 32.768 kHz time base: time and
//! calendar in BCD or binary, 12- or 24-hour, an alarm with "don't care" fields, the periodic,
//! alarm and update-ended interrupts on IRQ 8, UIP, SET, and the divider reset.
//!
//! Time model. The clock is a count of seconds (`time`, the calendar the registers show read
//! as UTC) plus the phase of the divider chain, which runs from the machine's virtual clock:
//! divider cycle `c` (32.768 kHz) falls at `origin_ns + (c - origin_cycles) / 32768 s`. An
//! update (the seconds ticking) happens at every multiple of 32768 cycles, periodic ticks at
//! every multiple of the selected period. Nothing runs in the background: every port access and
//! every `poll_timer` call first brings the chip up to the current virtual time in O(1)
//! (`advance`), adding the whole seconds elapsed and setting PF, UF and AF for what happened
//! in between. So the time is always current when read and the flags are right without any
//! polling, and `poll_timer` only asks to be called back when an interrupt can come out of
//! the chip: the next periodic tick when PIE is set, the next update when UIE or AIE is set
//! (the alarm is checked at each update), else never. The host's wall-clock time is read once,
//! by the front end, and handed to `new`.
//!
//! The update is instantaneous at the second boundary; UIP reads 1 during the 244 µs (8 cycles)
//! before it, which is what guests poll for. While SET is 1 the time registers are plain bytes
//! the guest edits (updates are skipped, periodic ticks go on); clearing SET reads them back
//! into the count of seconds, so a date briefly invalid in the middle of a series of writes is
//! harmless. Written while SET is 0, a register takes effect at once. Changing the data mode or
//! 12/24-hour bit while SET is 0 converts the registers (the chip would leave the bytes and
//! misread them until rewritten; guests rewrite them). The day of week counts on its own as on
//! the chip: it is kept as an offset from the weekday of the date (1 = Sunday at power-on).

use emu_core::bus::PortDevice;
use emu_core::clock::Clock;
use emu_core::irq::IrqLines;

/// The ports the chip decodes.
pub const CMOS_PORTS: [u16; 4] = [0x70, 0x71, 0x72, 0x73];
/// The ISA interrupt line of the clock.
pub const RTC_IRQ: u8 = 8;

// Clock register indices.
const SECONDS: u8 = 0x00;
const ALARM_SECONDS: u8 = 0x01;
const MINUTES: u8 = 0x02;
const ALARM_MINUTES: u8 = 0x03;
const HOURS: u8 = 0x04;
const ALARM_HOURS: u8 = 0x05;
const DAY_OF_WEEK: u8 = 0x06;
const DATE: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const REG_A: u8 = 0x0A;
const REG_B: u8 = 0x0B;
const REG_C: u8 = 0x0C;
const REG_D: u8 = 0x0D;
/// The IBM AT century byte; the clock carries into it.
const CENTURY: u8 = 0x32;

const A_UIP: u8 = 0x80;
const A_DIVIDER: u8 = 0x70;
const A_RATE: u8 = 0x0F;

const B_SET: u8 = 0x80;
const B_PIE: u8 = 0x40;
const B_AIE: u8 = 0x20;
const B_UIE: u8 = 0x10;
const B_DM_BINARY: u8 = 0x04;
const B_24H: u8 = 0x02;

const C_IRQF: u8 = 0x80;
const C_PF: u8 = 0x40;
const C_AF: u8 = 0x20;
const C_UF: u8 = 0x10;
/// Each enable bit of register B sits where its flag does in register C.
const INTERRUPT_BITS: u8 = C_PF | C_AF | C_UF;

const D_VRT: u8 = 0x80;

/// Divider cycles per second (the 32.768 kHz time base).
const CYCLES_PER_SECOND: u64 = 32_768;
/// UIP rises this many cycles (244 µs) before each update.
const UIP_CYCLES: u64 = 8;
const NS_PER_SECOND: u64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Checksummed range of the standard AT configuration bytes, and where the sum goes.
const CHECKSUM_FIRST: usize = 0x10;
const CHECKSUM_LAST: usize = 0x2D;
const CHECKSUM_HI: usize = 0x2E;
const CHECKSUM_LO: usize = 0x2F;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
/// RAM up to this size is all mapped below 4 GiB.
const MAX_RAM_BELOW_4G: u64 = 0xE000_0000;
/// Larger RAM keeps 3 GiB below 4 GiB (a gigabyte-aligned PCI hole) and the rest above.
const RAM_BELOW_4G_WHEN_SPLIT: u64 = 0xC000_0000;

/// Saveable state of the chip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmosState {
    /// Registers 0x00-0x0D and the NVRAM 0x0E-0xFF. The time bytes (and 0x32) are the
    /// guest's while SET is 1 and a rendering of `time` otherwise; register C holds the flags;
    /// the UIP bit of A and register D are computed.
    pub ram: [u8; 256],
    /// Selected byte in the lower bank (port 0x70, bit 7 cleared).
    pub index: u8,
    /// Selected byte in the upper bank (port 0x72), 0-0x7F.
    pub upper_index: u8,
    /// Bit 7 of the last write to port 0x70.
    pub nmi_masked: bool,
    /// The time the registers show, in seconds since 1970-01-01 00:00:00 of that calendar.
    pub time: i64,
    /// Added to the weekday of the date (0 = Sunday) to give the day-of-week register.
    pub dow_offset: u8,
    /// Virtual time at which the divider chain stood at cycle `origin_cycles`.
    pub origin_ns: u64,
    pub origin_cycles: u64,
    /// Divider cycle up to which updates and periodic ticks have been accounted for.
    pub cursor: u64,
}

/// The MC146818 RTC with its NVRAM.
pub struct Cmos {
    s: CmosState,
    clock: Clock,
    irq: IrqLines,
}

impl Cmos {
    /// A chip showing `start_unix_time` (the host's time at machine start, read by the front
    /// end) at the current virtual time, running in 24-hour BCD mode with the divider on,
    /// 1024 Hz periodic rate selected, no interrupts enabled. The first update comes 1 s later.
    pub fn new(clock: Clock, irq: IrqLines, start_unix_time: i64) -> Self {
        let mut ram = [0; 256];
        ram[REG_A as usize] = 0x26;
        ram[REG_B as usize] = B_24H;
        ram[REG_D as usize] = D_VRT;
        let origin_ns = clock.now_ns();
        Cmos {
            s: CmosState {
                ram,
                index: 0,
                upper_index: 0,
                nmi_masked: false,
                time: start_unix_time,
                dow_offset: 0,
                origin_ns,
                origin_cycles: 0,
                cursor: 0,
            },
            clock,
            irq,
        }
    }

    pub fn state(&self) -> CmosState {
        self.s.clone()
    }

    /// Takes a saved state; the interrupt line is driven to the restored IRQF. The divider's
    /// phase is kept in virtual nanoseconds, so the machine's clock must resume at the virtual
    /// time it was saved at.
    pub fn restore(&mut self, s: CmosState) {
        self.s = s;
        self.irq
            .set(RTC_IRQ, self.s.ram[REG_C as usize] & C_IRQF != 0);
    }

    /// NMI disabled by bit 7 of port 0x70.
    pub fn nmi_masked(&self) -> bool {
        self.s.nmi_masked
    }

    /// Sets one byte for the front end (boot order, drive types). The clock registers
    /// 0x00-0x0D and the century byte 0x32 behave as a guest write to port 0x71; bytes
    /// 0x10-0x2D update the checksum.
    pub fn set_byte(&mut self, index: u8, v: u8) {
        if index <= REG_D || index == CENTURY {
            self.write_reg(index, v);
        } else {
            self.s.ram[index as usize] = v;
            if (CHECKSUM_FIRST..=CHECKSUM_LAST).contains(&(index as usize)) {
                self.update_checksum();
            }
        }
    }

    /// Fills the memory size bytes SeaBIOS, other BIOSes and Linux read, for `ram_bytes` of
    /// RAM laid out as `split_ram` says: 0x15/0x16 base memory in KiB, 0x17/0x18 and
    /// 0x30/0x31 extended memory in KiB above 1 MiB, 0x34/0x35 memory between 16 MiB and
    /// 4 GiB in 64 KiB units, 0x5B-0x5D memory above 4 GiB in 64 KiB units (QEMU's layout).
    pub fn set_memory_size(&mut self, ram_bytes: u64) {
        let (below, above) = split_ram(ram_bytes);
        let base = (below / KIB).min(640);
        let extended = (below.saturating_sub(MIB) / KIB).min(0xFFFF);
        let above_16m = (below.saturating_sub(16 * MIB) / (64 * KIB)).min(0xFFFF);
        let above_4g = (above / (64 * KIB)).min(0xFF_FFFF);
        let ram = &mut self.s.ram;
        for (index, value, bytes) in [
            (0x15, base, 2),
            (0x17, extended, 2),
            (0x30, extended, 2),
            (0x34, above_16m, 2),
            (0x5B, above_4g, 3),
        ] {
            for i in 0..bytes {
                ram[index + i] = (value >> (8 * i)) as u8;
            }
        }
        self.update_checksum();
    }

    /// The BIOS configuration bytes QEMU's `pc` machine sets: the boot order (0x3D: first
    /// device in bits 3:0, second in 7:4; 0x38 bits 7:4: third, bit 0: skip the floppy boot
    /// signature check), floppy drive types (0x10: drive A in bits 7:4, B in 3:0) and the
    /// equipment byte (0x14: floppies present and count, FPU, PS/2 mouse, VGA).
    /// `boot_order` holds QEMU's letters: a = floppy, c = hard disk, d = CD-ROM.
    pub fn set_pc_config(&mut self, boot_order: &str, floppy_types: [u8; 2]) {
        let code = |c: char| match c {
            'a' => 1u8,
            'c' => 2,
            'd' => 3,
            'n' => 4,
            _ => 0,
        };
        let mut order = boot_order.chars().map(code);
        let (first, second, third) = (
            order.next().unwrap_or(0),
            order.next().unwrap_or(0),
            order.next().unwrap_or(0),
        );
        self.set_byte(0x3D, second << 4 | first);
        self.set_byte(0x38, third << 4);
        self.set_byte(0x10, floppy_types[0] << 4 | (floppy_types[1] & 0xF));
        let drives = floppy_types.iter().filter(|&&t| t != 0).count() as u8;
        let mut equipment = 0x02 | 0x04; // FPU, PS/2 mouse; bits 5:4 = 0: EGA/VGA
        if drives > 0 {
            equipment |= 0x01 | (drives - 1) << 6;
        }
        self.set_byte(0x14, equipment);
    }

    fn update_checksum(&mut self) {
        let ram = &mut self.s.ram;
        let sum: u16 = ram[CHECKSUM_FIRST..=CHECKSUM_LAST]
            .iter()
            .map(|&b| b as u16)
            .sum();
        ram[CHECKSUM_HI] = (sum >> 8) as u8;
        ram[CHECKSUM_LO] = sum as u8;
    }

    fn reg(&self, index: u8) -> u8 {
        self.s.ram[index as usize]
    }

    /// Divider bits 000, 001 and 010 run (the PC's crystal is 32.768 kHz whatever the guest
    /// selects); 11x holds the chain in reset and the test modes 011-101 are treated alike.
    fn divider_running(&self) -> bool {
        self.reg(REG_A) & A_DIVIDER <= 0x20
    }

    /// Cycles of the periodic interrupt, if a rate is selected. Rates 1 and 2 act as 8 and 9
    /// with a 32.768 kHz time base.
    fn period_cycles(&self) -> Option<u64> {
        match self.reg(REG_A) & A_RATE {
            0 => None,
            1 => Some(1 << 7),
            2 => Some(1 << 8),
            rate => Some(1 << (rate - 1)),
        }
    }

    fn cycles_at(&self, now_ns: u64) -> u64 {
        let elapsed = now_ns.saturating_sub(self.s.origin_ns) as u128;
        self.s.origin_cycles + (elapsed * CYCLES_PER_SECOND as u128 / NS_PER_SECOND as u128) as u64
    }

    /// The first virtual time at which the divider has reached `cycles`.
    fn ns_at(&self, cycles: u64) -> u64 {
        let c = cycles.saturating_sub(self.s.origin_cycles) as u128;
        self.s.origin_ns + (c * NS_PER_SECOND as u128).div_ceil(CYCLES_PER_SECOND as u128) as u64
    }

    /// Brings the chip up to `now_ns`: whole seconds elapsed, and the flags of the periodic
    /// ticks, updates and alarm matches in between.
    fn advance(&mut self, now_ns: u64) {
        if !self.divider_running() {
            return;
        }
        let from = self.s.cursor;
        let to = self.cycles_at(now_ns);
        if to <= from {
            return;
        }
        self.s.cursor = to;
        let mut flags = 0;
        if let Some(p) = self.period_cycles() {
            if to / p > from / p {
                flags |= C_PF;
            }
        }
        let updates = to / CYCLES_PER_SECOND - from / CYCLES_PER_SECOND;
        if updates > 0 && self.reg(REG_B) & B_SET == 0 {
            let before = self.s.time;
            self.s.time += updates as i64;
            flags |= C_UF;
            if self.reg(REG_C) & C_AF == 0 && self.alarm_in(before, updates) {
                flags |= C_AF;
            }
        }
        if flags != 0 {
            self.s.ram[REG_C as usize] |= flags;
            self.update_irq();
        }
    }

    /// IRQF and the line follow the flags and their enables.
    fn update_irq(&mut self) {
        let c = self.reg(REG_C);
        let irqf = c & self.reg(REG_B) & INTERRUPT_BITS != 0;
        if irqf != (c & C_IRQF != 0) {
            self.s.ram[REG_C as usize] = if irqf { c | C_IRQF } else { c & !C_IRQF };
            self.irq.set(RTC_IRQ, irqf);
        }
    }

    /// Whether the alarm matches after any of the `updates` updates following `before`
    /// (at most one day of them needs looking at: every time of day comes round).
    fn alarm_in(&self, before: i64, updates: u64) -> bool {
        let first = updates.saturating_sub(SECONDS_PER_DAY as u64 - 1).max(1);
        (first..=updates).any(|k| self.alarm_matches(before + k as i64))
    }

    fn alarm_matches(&self, time: i64) -> bool {
        let of_day = time.rem_euclid(SECONDS_PER_DAY);
        let b = self.reg(REG_B);
        let now = [
            (ALARM_SECONDS, encode((of_day % 60) as u8, b)),
            (ALARM_MINUTES, encode((of_day / 60 % 60) as u8, b)),
            (ALARM_HOURS, encode_hour((of_day / 3600) as u8, b)),
        ];
        now.iter().all(|&(alarm, value)| {
            let a = self.reg(alarm);
            a & 0xC0 == 0xC0 || a == value
        })
    }

    /// Writes `time` into the time registers in the current mode.
    fn render_time(&mut self) {
        let b = self.reg(REG_B);
        let days = self.s.time.div_euclid(SECONDS_PER_DAY);
        let of_day = self.s.time.rem_euclid(SECONDS_PER_DAY);
        let (year, month, date) = civil_from_days(days);
        let weekday = (days + 4).rem_euclid(7) as u8; // 1970-01-01 was a Thursday.
        let ram = &mut self.s.ram;
        ram[SECONDS as usize] = encode((of_day % 60) as u8, b);
        ram[MINUTES as usize] = encode((of_day / 60 % 60) as u8, b);
        ram[HOURS as usize] = encode_hour((of_day / 3600) as u8, b);
        ram[DAY_OF_WEEK as usize] = encode((weekday + self.s.dow_offset) % 7 + 1, b);
        ram[DATE as usize] = encode(date, b);
        ram[MONTH as usize] = encode(month, b);
        ram[YEAR as usize] = encode(year.rem_euclid(100) as u8, b);
        ram[CENTURY as usize] = encode(year.div_euclid(100).rem_euclid(100) as u8, b);
    }

    /// Reads the time registers back into `time` (out-of-range fields carry over, as the
    /// calendar arithmetic does with them).
    fn parse_time(&mut self) {
        let b = self.reg(REG_B);
        let [second, minute, hour_byte, dow, date, month, year, century] = [
            SECONDS,
            MINUTES,
            HOURS,
            DAY_OF_WEEK,
            DATE,
            MONTH,
            YEAR,
            CENTURY,
        ]
        .map(|index| self.reg(index));
        let field = |v: u8| decode(v, b) as i64;
        let hour = if b & B_24H != 0 {
            field(hour_byte)
        } else {
            let pm = if hour_byte & 0x80 != 0 { 12 } else { 0 };
            field(hour_byte & 0x7F) % 12 + pm
        };
        let days =
            days_from_civil(field(century) * 100 + field(year), field(month), 1) + field(date) - 1;
        self.s.time = days * SECONDS_PER_DAY + hour * 3600 + field(minute) * 60 + field(second);
        let weekday = (days + 4).rem_euclid(7);
        self.s.dow_offset = (field(dow) - 1 - weekday).rem_euclid(7) as u8;
    }

    fn is_time_register(index: u8) -> bool {
        matches!(
            index,
            SECONDS | MINUTES | HOURS | DAY_OF_WEEK | DATE | MONTH | YEAR | CENTURY
        )
    }

    fn read_reg(&mut self, index: u8) -> u8 {
        let now = self.clock.now_ns();
        self.advance(now);
        match index {
            i if Self::is_time_register(i) => {
                if self.reg(REG_B) & B_SET == 0 {
                    self.render_time();
                }
                self.reg(i)
            }
            REG_A => {
                let uip = self.divider_running()
                    && self.reg(REG_B) & B_SET == 0
                    && self.cycles_at(now) % CYCLES_PER_SECOND >= CYCLES_PER_SECOND - UIP_CYCLES;
                self.reg(REG_A) | if uip { A_UIP } else { 0 }
            }
            REG_C => {
                let c = self.reg(REG_C);
                self.s.ram[REG_C as usize] = 0;
                if c & C_IRQF != 0 {
                    self.irq.set(RTC_IRQ, false);
                }
                c
            }
            REG_D => D_VRT,
            i => self.reg(i),
        }
    }

    fn write_reg(&mut self, index: u8, v: u8) {
        let now = self.clock.now_ns();
        self.advance(now);
        match index {
            i if Self::is_time_register(i) => {
                if self.reg(REG_B) & B_SET != 0 {
                    self.s.ram[i as usize] = v;
                } else {
                    self.render_time();
                    self.s.ram[i as usize] = v;
                    self.parse_time();
                }
            }
            REG_A => {
                let was_running = self.divider_running();
                self.s.ram[REG_A as usize] = v & !A_UIP;
                if !was_running && self.divider_running() {
                    // Out of reset, the first update comes half a second later.
                    self.s.origin_ns = now;
                    self.s.origin_cycles = CYCLES_PER_SECOND / 2;
                    self.s.cursor = CYCLES_PER_SECOND / 2;
                }
            }
            REG_B => {
                let old = self.reg(REG_B);
                // Setting SET clears UIE (data sheet).
                let new = if v & B_SET != 0 { v & !B_UIE } else { v };
                if old & B_SET == 0 && new & B_SET != 0 {
                    self.render_time();
                }
                self.s.ram[REG_B as usize] = new;
                if old & B_SET != 0 && new & B_SET == 0 {
                    self.parse_time();
                }
                self.update_irq();
            }
            REG_C | REG_D => {}
            i => self.s.ram[i as usize] = v,
        }
    }

    fn read_port(&mut self, port: u16) -> u8 {
        match port {
            0x71 => self.read_reg(self.s.index),
            0x73 => self.s.ram[0x80 | self.s.upper_index as usize],
            // The index ports are write-only.
            _ => 0xFF,
        }
    }

    fn write_port(&mut self, port: u16, v: u8) {
        match port {
            0x70 => {
                self.s.index = v & 0x7F;
                self.s.nmi_masked = v & 0x80 != 0;
            }
            0x71 => self.write_reg(self.s.index, v),
            0x72 => self.s.upper_index = v & 0x7F,
            0x73 => self.s.ram[0x80 | self.s.upper_index as usize] = v,
            _ => {}
        }
    }
}

impl PortDevice for Cmos {
    /// Wider accesses act as byte accesses to consecutive ports, as on the ISA bus.
    fn read(&mut self, port: u16, size: u8) -> u32 {
        (0..size.min(4)).fold(0, |v, i| {
            v | ((self.read_port(port.wrapping_add(i as u16)) as u32) << (8 * i))
        })
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        for i in 0..size.min(4) {
            self.write_port(port.wrapping_add(i as u16), (value >> (8 * i)) as u8);
        }
    }

    /// Sets the flags due by `now_ns`; the next deadline is the next periodic tick (PIE) or
    /// update (UIE, AIE, unless SET), whichever is first. Without an interrupt enabled nothing
    /// needs a call: everything is brought up to date at the next port access.
    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        self.advance(now_ns);
        if !self.divider_running() {
            return None;
        }
        let c = self.s.cursor.max(self.cycles_at(now_ns));
        let b = self.reg(REG_B);
        let periodic = self
            .period_cycles()
            .filter(|_| b & B_PIE != 0)
            .map(|p| (c / p + 1) * p);
        let update = (b & (B_AIE | B_UIE) != 0 && b & B_SET == 0)
            .then(|| (c / CYCLES_PER_SECOND + 1) * CYCLES_PER_SECOND);
        let next = match (periodic, update) {
            (Some(p), Some(u)) => Some(p.min(u)),
            (p, u) => p.or(u),
        };
        next.map(|cycles| self.ns_at(cycles))
    }
}

/// How `ram_bytes` of RAM is laid out (QEMU's i440fx layout): all below 4 GiB up to 3.5 GiB,
/// else 3 GiB below and the rest from 4 GiB up. Returns (below 4 GiB, above 4 GiB).
pub fn split_ram(ram_bytes: u64) -> (u64, u64) {
    if ram_bytes >= MAX_RAM_BELOW_4G {
        (RAM_BELOW_4G_WHEN_SPLIT, ram_bytes - RAM_BELOW_4G_WHEN_SPLIT)
    } else {
        (ram_bytes, 0)
    }
}

/// A register value in the data mode of register B `b`.
fn encode(v: u8, b: u8) -> u8 {
    if b & B_DM_BINARY != 0 {
        v
    } else {
        ((v / 10) << 4) | (v % 10)
    }
}

fn decode(v: u8, b: u8) -> u8 {
    if b & B_DM_BINARY != 0 {
        v
    } else {
        (v >> 4) * 10 + (v & 0x0F)
    }
}

/// The hours register for `hour` (0-23): 12-hour mode counts 12, 1, ..., 11 with bit 7 for PM.
fn encode_hour(hour: u8, b: u8) -> u8 {
    if b & B_24H != 0 {
        encode(hour, b)
    } else {
        let h12 = match hour % 12 {
            0 => 12,
            h => h,
        };
        encode(h12, b) | if hour >= 12 { 0x80 } else { 0 }
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date `year`-`month`-`day`. Months outside
/// 1-12 carry into the year and days outside the month into the next or previous months.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year + (month - 1).div_euclid(12);
    let month = (month - 1).rem_euclid(12) + 1;
    // Count from 0000-03-01 so the leap day ends the year: a 400-year cycle is 146097 days.
    let y = if month <= 2 { year - 1 } else { year };
    let cycle = y.div_euclid(400);
    let year_of_cycle = y - cycle * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    // 719468 days from 0000-03-01 to 1970-01-01.
    cycle * 146_097 + day_of_cycle - 719_468
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let cycle = z.div_euclid(146_097);
    let day_of_cycle = z - cycle * 146_097;
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_cycle + cycle * 400 + if month <= 2 { 1 } else { 0 };
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_core::clock::ClockMode;

    /// 2023-11-14 22:13:20 UTC, a Tuesday.
    const START: i64 = 1_700_000_000;

    fn rtc(start: i64) -> (Cmos, Clock, IrqLines) {
        let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
        let irq = IrqLines::new();
        (Cmos::new(clock.clone(), irq.clone(), start), clock, irq)
    }

    fn rd(c: &mut Cmos, index: u8) -> u8 {
        c.write(0x70, 1, index as u32);
        c.read(0x71, 1) as u8
    }

    fn wr(c: &mut Cmos, index: u8, v: u8) {
        c.write(0x70, 1, index as u32);
        c.write(0x71, 1, v as u32);
    }

    /// (seconds, minutes, hours, day of week, date, month, year, century).
    fn time(c: &mut Cmos) -> [u8; 8] {
        [
            SECONDS,
            MINUTES,
            HOURS,
            DAY_OF_WEEK,
            DATE,
            MONTH,
            YEAR,
            CENTURY,
        ]
        .map(|i| rd(c, i))
    }

    /// Sets the time under SET with register B `mode` and leaves B = `mode`.
    fn set_time(c: &mut Cmos, mode: u8, t: [u8; 8]) {
        wr(c, REG_B, B_SET | mode);
        for (i, v) in [
            SECONDS,
            MINUTES,
            HOURS,
            DAY_OF_WEEK,
            DATE,
            MONTH,
            YEAR,
            CENTURY,
        ]
        .into_iter()
        .zip(t)
        {
            wr(c, i, v);
        }
        wr(c, REG_B, mode);
    }

    fn irq8_edges(lines: &IrqLines) -> u32 {
        (lines.take_edges() >> RTC_IRQ) & 1
    }

    #[test]
    fn civil_dates_convert_both_ways() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2023, 13, 1), days_from_civil(2024, 1, 1));
        assert_eq!(days_from_civil(2023, 2, 29), days_from_civil(2023, 3, 1));
        let mut prev = civil_from_days(-800_000);
        for d in -799_999..800_000 {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m as i64, day as i64), d);
            // Consecutive days: next day of the month, or the 1st of the next month.
            let expected_next_first = if prev.1 == 12 {
                (prev.0 + 1, 1)
            } else {
                (prev.0, prev.1 + 1)
            };
            assert!(
                (y, m, day) == (prev.0, prev.1, prev.2 + 1)
                    || (day == 1 && (y, m) == expected_next_first),
                "{prev:?} -> {:?}",
                (y, m, day)
            );
            prev = (y, m, day);
        }
    }

    #[test]
    fn reads_the_start_time_in_bcd_and_binary() {
        let (mut c, _, _) = rtc(START);
        assert_eq!(rd(&mut c, REG_A), 0x26);
        assert_eq!(rd(&mut c, REG_B), 0x02);
        assert_eq!(rd(&mut c, REG_D), 0x80, "VRT");
        assert_eq!(time(&mut c), [0x20, 0x13, 0x22, 3, 0x14, 0x11, 0x23, 0x20]);
        wr(&mut c, REG_B, B_24H | B_DM_BINARY);
        assert_eq!(time(&mut c), [20, 13, 22, 3, 14, 11, 23, 20]);
    }

    #[test]
    fn twelve_hour_mode_sets_the_pm_bit() {
        let (mut c, _, _) = rtc(START);
        wr(&mut c, REG_B, 0);
        assert_eq!(rd(&mut c, HOURS), 0x90, "10 PM in BCD");
        wr(&mut c, REG_B, B_DM_BINARY);
        assert_eq!(rd(&mut c, HOURS), 0x8A, "10 PM in binary");
        // Midnight and noon read 12.
        let (mut c, _, _) = rtc(START - 22 * 3600);
        wr(&mut c, REG_B, 0);
        assert_eq!(rd(&mut c, HOURS), 0x12);
        let (mut c, _, _) = rtc(START - 10 * 3600);
        wr(&mut c, REG_B, 0);
        assert_eq!(rd(&mut c, HOURS), 0x92);
        // Writing 1 PM in 12-hour mode, read back in 24-hour mode.
        wr(&mut c, HOURS, 0x81);
        wr(&mut c, REG_B, B_24H);
        assert_eq!(rd(&mut c, HOURS), 0x13);
    }

    #[test]
    fn seconds_advance_with_virtual_time_only() {
        let (mut c, clock, _) = rtc(START);
        clock.sync_icount(999_999_999);
        assert_eq!(rd(&mut c, SECONDS), 0x20);
        clock.sync_icount(1_000_000_000);
        assert_eq!(rd(&mut c, SECONDS), 0x21);
        clock.sync_icount(61_000_000_000);
        assert_eq!(rd(&mut c, SECONDS), 0x21);
        assert_eq!(rd(&mut c, MINUTES), 0x14);
        // A day and a half without looking.
        clock.sync_icount(61_000_000_000 + 36 * 3600 * NS_PER_SECOND);
        assert_eq!(time(&mut c), [0x21, 0x14, 0x10, 5, 0x16, 0x11, 0x23, 0x20]);
    }

    #[test]
    fn rollovers_of_minutes_hours_days_months_and_years() {
        const BCD24: u8 = B_24H;
        const BCD12: u8 = 0;
        #[rustfmt::skip]
        let cases: [(u8, [u8; 8], [u8; 8]); 10] = [
            // (mode, set to, one second later)
            (BCD24, [0x59, 0x34, 0x12, 2, 0x10, 0x06, 0x24, 0x20], [0x00, 0x35, 0x12, 2, 0x10, 0x06, 0x24, 0x20]),
            (BCD24, [0x59, 0x59, 0x12, 2, 0x10, 0x06, 0x24, 0x20], [0x00, 0x00, 0x13, 2, 0x10, 0x06, 0x24, 0x20]),
            (BCD24, [0x59, 0x59, 0x23, 4, 0x30, 0x04, 0x24, 0x20], [0x00, 0x00, 0x00, 5, 0x01, 0x05, 0x24, 0x20]),
            // Leap year: Feb 28 -> Feb 29 -> Mar 1; not in 2023 nor 2100.
            (BCD24, [0x59, 0x59, 0x23, 4, 0x28, 0x02, 0x24, 0x20], [0x00, 0x00, 0x00, 5, 0x29, 0x02, 0x24, 0x20]),
            (BCD24, [0x59, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20], [0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20]),
            (BCD24, [0x59, 0x59, 0x23, 3, 0x28, 0x02, 0x23, 0x20], [0x00, 0x00, 0x00, 4, 0x01, 0x03, 0x23, 0x20]),
            (BCD24, [0x59, 0x59, 0x23, 1, 0x28, 0x02, 0x00, 0x21], [0x00, 0x00, 0x00, 2, 0x01, 0x03, 0x00, 0x21]),
            // Dec 31 -> Jan 1 with the century.
            (BCD24, [0x59, 0x59, 0x23, 5, 0x31, 0x12, 0x99, 0x20], [0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00, 0x21]),
            // 12-hour mode: 11:59:59 AM -> 12 PM, 11:59:59 PM -> 12 AM the next day.
            (BCD12, [0x59, 0x59, 0x11, 1, 0x01, 0x01, 0x24, 0x20], [0x00, 0x00, 0x92, 1, 0x01, 0x01, 0x24, 0x20]),
            (BCD12, [0x59, 0x59, 0x91, 7, 0x31, 0x12, 0x23, 0x20], [0x00, 0x00, 0x12, 1, 0x01, 0x01, 0x24, 0x20]),
        ];
        for (mode, set, after) in cases {
            let (mut c, clock, _) = rtc(START);
            set_time(&mut c, mode, set);
            assert_eq!(time(&mut c), set, "reads back as written");
            clock.sync_icount(NS_PER_SECOND);
            assert_eq!(time(&mut c), after, "one second after {set:02x?}");
        }
        // Binary mode too.
        let (mut c, clock, _) = rtc(START);
        let binary = B_24H | B_DM_BINARY;
        set_time(&mut c, binary, [59, 59, 23, 5, 31, 12, 99, 20]);
        clock.sync_icount(NS_PER_SECOND);
        assert_eq!(time(&mut c), [0, 0, 0, 6, 1, 1, 0, 21]);
    }

    #[test]
    fn set_freezes_updates_and_the_written_time_takes_effect() {
        let (mut c, clock, _) = rtc(START);
        clock.sync_icount(400_000_000);
        wr(&mut c, REG_B, B_SET | B_24H);
        clock.sync_icount(5_000_000_000);
        assert_eq!(rd(&mut c, SECONDS), 0x20, "no updates while SET");
        // A date that is invalid for a moment while the month is still November.
        wr(&mut c, DATE, 0x31);
        wr(&mut c, MONTH, 0x01);
        wr(&mut c, YEAR, 0x25);
        wr(&mut c, SECONDS, 0x00);
        assert_eq!(rd(&mut c, DATE), 0x31);
        wr(&mut c, REG_B, B_24H);
        assert_eq!(time(&mut c), [0x00, 0x13, 0x22, 3, 0x31, 0x01, 0x25, 0x20]);
        // The divider kept its phase: the next update is at the next whole second.
        clock.sync_icount(5_999_999_999);
        assert_eq!(rd(&mut c, SECONDS), 0x00);
        clock.sync_icount(6_000_000_000);
        assert_eq!(rd(&mut c, SECONDS), 0x01);
        // A write without SET takes effect at once and keeps counting.
        wr(&mut c, MINUTES, 0x45);
        clock.sync_icount(7_000_000_000);
        assert_eq!(time(&mut c), [0x02, 0x45, 0x22, 3, 0x31, 0x01, 0x25, 0x20]);
        // SET clears UIE.
        wr(&mut c, REG_B, B_SET | B_UIE | B_24H);
        assert_eq!(rd(&mut c, REG_B), B_SET | B_24H);
    }

    #[test]
    fn uip_is_set_for_244_us_before_each_update() {
        let (mut c, clock, _) = rtc(START);
        let uip = |c: &mut Cmos| rd(c, REG_A) & A_UIP != 0;
        assert!(!uip(&mut c));
        clock.sync_icount(999_755_859);
        assert!(!uip(&mut c));
        clock.sync_icount(999_755_860); // 32760 / 32768 s
        assert!(uip(&mut c));
        assert_eq!(rd(&mut c, SECONDS), 0x20, "not yet updated");
        clock.sync_icount(999_999_999);
        assert!(uip(&mut c));
        clock.sync_icount(1_000_000_000);
        assert!(!uip(&mut c));
        assert_eq!(rd(&mut c, SECONDS), 0x21);
        clock.sync_icount(1_999_900_000);
        assert!(uip(&mut c));
        wr(&mut c, REG_B, B_SET | B_24H);
        assert!(!uip(&mut c), "SET clears UIP");
        assert_eq!(rd(&mut c, REG_A) & !A_UIP, 0x26);
    }

    #[test]
    fn periodic_interrupt_at_1024_hz() {
        let (mut c, clock, lines) = rtc(START);
        assert_eq!(c.poll_timer(0), None, "no interrupt enabled: no deadline");
        wr(&mut c, REG_B, B_PIE | B_24H);
        let mut edges = 0;
        let mut now = 0;
        while let Some(deadline) = c.poll_timer(now) {
            if deadline > 100_000_000 {
                break;
            }
            assert!(deadline > now);
            now = deadline;
            clock.sync_icount(now);
            c.poll_timer(now);
            if irq8_edges(&lines) == 1 {
                edges += 1;
                assert_eq!(lines.levels() >> RTC_IRQ & 1, 1);
                assert_eq!(rd(&mut c, REG_C), C_IRQF | C_PF);
                assert_eq!(lines.levels() >> RTC_IRQ & 1, 0, "reading C lowers IRQ 8");
                assert_eq!(rd(&mut c, REG_C), 0, "reading C clears it");
            }
        }
        // 100 ms at 1024 Hz: 102.4 periods.
        assert_eq!(edges, 102);
    }

    #[test]
    fn unacknowledged_periodic_interrupt_is_one_edge() {
        let (mut c, clock, lines) = rtc(START);
        wr(&mut c, REG_B, B_PIE | B_24H);
        for ms in 1..=10 {
            clock.sync_icount(ms * 1_000_000);
            c.poll_timer(ms * 1_000_000);
        }
        assert_eq!(irq8_edges(&lines), 1);
        assert_eq!(rd(&mut c, REG_C), C_IRQF | C_PF);
        clock.sync_icount(11_000_000);
        c.poll_timer(11_000_000);
        assert_eq!(irq8_edges(&lines), 1, "a new edge once C was read");
    }

    #[test]
    fn periodic_rates_follow_register_a() {
        let (mut c, _, _) = rtc(START);
        wr(&mut c, REG_B, B_PIE | B_24H);
        let period = |c: &mut Cmos, a: u8| {
            wr(c, REG_A, a);
            c.poll_timer(0)
        };
        assert_eq!(period(&mut c, 0x26), Some(976_563), "1024 Hz");
        assert_eq!(period(&mut c, 0x2F), Some(500_000_000), "2 Hz");
        assert_eq!(period(&mut c, 0x23), Some(122_071), "8192 Hz");
        assert_eq!(
            period(&mut c, 0x21),
            Some(3_906_250),
            "rate 1 acts as 8: 256 Hz"
        );
        assert_eq!(period(&mut c, 0x28), Some(3_906_250));
        assert_eq!(
            period(&mut c, 0x22),
            Some(7_812_500),
            "rate 2 acts as 9: 128 Hz"
        );
        assert_eq!(period(&mut c, 0x20), None, "rate 0: no periodic interrupt");
        wr(&mut c, REG_B, B_UIE | B_PIE | B_24H);
        assert_eq!(period(&mut c, 0x20), Some(1_000_000_000), "the next update");
    }

    #[test]
    fn alarm_fires_once_at_the_programmed_time_with_dont_care_hours() {
        let (mut c, clock, lines) = rtc(START); // 22:13:20
        wr(&mut c, REG_A, 0x20);
        wr(&mut c, ALARM_SECONDS, 0x05);
        wr(&mut c, ALARM_MINUTES, 0x14);
        wr(&mut c, ALARM_HOURS, 0xC0);
        wr(&mut c, REG_B, B_AIE | B_24H);
        let mut fired_at = vec![];
        let mut now = 0;
        // For an hour, until 23:13:20.
        while now < 3600 * NS_PER_SECOND {
            now = c.poll_timer(now).expect("AIE asks for each update");
            clock.sync_icount(now);
            c.poll_timer(now);
            if irq8_edges(&lines) == 1 {
                fired_at.push(time(&mut c));
                assert_eq!(rd(&mut c, REG_C), C_IRQF | C_AF | C_UF);
            }
        }
        assert_eq!(fired_at, [[0x05, 0x14, 0x22, 3, 0x14, 0x11, 0x23, 0x20]]);
        clock.sync_icount(3645 * NS_PER_SECOND);
        c.poll_timer(3645 * NS_PER_SECOND);
        assert_eq!(irq8_edges(&lines), 1, "23:14:05 matches too");
        assert_eq!(rd(&mut c, HOURS), 0x23);
    }

    #[test]
    fn alarm_and_update_flags_are_set_without_their_enables() {
        let (mut c, clock, lines) = rtc(START);
        wr(&mut c, ALARM_SECONDS, 0x00);
        wr(&mut c, ALARM_MINUTES, 0x00);
        wr(&mut c, ALARM_HOURS, 0x03);
        // Nothing polls for a day: the flags catch up at the next access.
        clock.sync_icount(86_400 * NS_PER_SECOND);
        assert_eq!(
            rd(&mut c, REG_C),
            C_PF | C_AF | C_UF,
            "03:00:00 came by; PF too, at the power-on rate"
        );
        wr(&mut c, REG_A, 0x20);
        assert_eq!(irq8_edges(&lines), 0);
        // An impossible alarm never matches.
        wr(&mut c, ALARM_HOURS, 0x24);
        clock.sync_icount(3 * 86_400 * NS_PER_SECOND);
        assert_eq!(rd(&mut c, REG_C), C_UF);
        // Enabling an interrupt whose flag is already set raises IRQ 8 at once.
        clock.sync_icount(4 * 86_400 * NS_PER_SECOND);
        wr(&mut c, REG_B, B_UIE | B_24H);
        assert_eq!(irq8_edges(&lines), 1);
        assert_eq!(rd(&mut c, REG_C), C_IRQF | C_UF);
    }

    #[test]
    fn update_ended_interrupt_once_per_second() {
        let (mut c, clock, lines) = rtc(START);
        wr(&mut c, REG_A, 0x20);
        wr(&mut c, REG_B, B_UIE | B_24H);
        let mut now = 0;
        for second in 1..=5u8 {
            let deadline = c.poll_timer(now).unwrap();
            assert_eq!(deadline, second as u64 * NS_PER_SECOND);
            // Halfway there: nothing.
            now = deadline - 500_000_000;
            clock.sync_icount(now);
            assert_eq!(c.poll_timer(now), Some(deadline));
            assert_eq!(irq8_edges(&lines), 0);
            now = deadline;
            clock.sync_icount(now);
            c.poll_timer(now);
            assert_eq!(irq8_edges(&lines), 1);
            assert_eq!(rd(&mut c, REG_C), C_IRQF | C_UF);
            assert_eq!(rd(&mut c, SECONDS), 0x20 + second);
        }
    }

    #[test]
    fn divider_reset_stops_the_clock_and_the_first_update_follows_half_a_second_later() {
        let (mut c, clock, _) = rtc(START);
        wr(&mut c, REG_A, 0x66);
        clock.sync_icount(10 * NS_PER_SECOND);
        assert_eq!(rd(&mut c, SECONDS), 0x20);
        assert_eq!(c.poll_timer(10 * NS_PER_SECOND), None);
        wr(&mut c, REG_A, 0x26);
        clock.sync_icount(10_499_999_999);
        assert_eq!(rd(&mut c, SECONDS), 0x20);
        clock.sync_icount(10_500_000_000);
        assert_eq!(rd(&mut c, SECONDS), 0x21);
        clock.sync_icount(11_500_000_000);
        assert_eq!(rd(&mut c, SECONDS), 0x22);
    }

    #[test]
    fn boot_order_floppies_and_equipment_as_qemu_sets_them() {
        let (mut c, _, _) = rtc(START);
        c.set_pc_config("dca", [4, 0]);
        assert_eq!(rd(&mut c, 0x3D), 0x23, "CD-ROM, then hard disk");
        assert_eq!(rd(&mut c, 0x38), 0x10, "then floppy; signature check on");
        assert_eq!(rd(&mut c, 0x10), 0x40, "1.44 MB in drive A");
        assert_eq!(rd(&mut c, 0x14), 0x07, "one floppy, FPU, mouse, VGA");
        c.set_pc_config("c", [4, 2]);
        assert_eq!((rd(&mut c, 0x3D), rd(&mut c, 0x38)), (0x02, 0x00));
        assert_eq!(rd(&mut c, 0x14), 0x47, "two floppies");
        c.set_pc_config("c", [0, 0]);
        assert_eq!(rd(&mut c, 0x14), 0x06);
    }

    #[test]
    fn memory_size_bytes_and_checksum() {
        let (mut c, _, _) = rtc(START);
        c.set_memory_size(128 * MIB);
        let bytes = |c: &mut Cmos, range: std::ops::RangeInclusive<u8>| {
            range.map(|i| rd(c, i)).collect::<Vec<_>>()
        };
        assert_eq!(bytes(&mut c, 0x15..=0x18), [0x80, 0x02, 0xFF, 0xFF]);
        assert_eq!(bytes(&mut c, 0x30..=0x31), [0xFF, 0xFF]);
        assert_eq!(bytes(&mut c, 0x34..=0x35), [0x00, 0x07], "112 MiB / 64 KiB");
        assert_eq!(bytes(&mut c, 0x5B..=0x5D), [0, 0, 0]);
        assert_eq!(bytes(&mut c, 0x2E..=0x2F), [0x02, 0x80]);
        c.set_byte(0x10, 0x40); // a 1.44 MB floppy
        assert_eq!(bytes(&mut c, 0x2E..=0x2F), [0x02, 0xC0]);

        let (mut c, _, _) = rtc(START);
        c.set_memory_size(4096 * MIB);
        assert_eq!(split_ram(4096 * MIB), (3072 * MIB, 1024 * MIB));
        assert_eq!(bytes(&mut c, 0x15..=0x18), [0x80, 0x02, 0xFF, 0xFF]);
        assert_eq!(bytes(&mut c, 0x34..=0x35), [0x00, 0xBF], "3 GiB - 16 MiB");
        assert_eq!(
            bytes(&mut c, 0x5B..=0x5D),
            [0x00, 0x40, 0x00],
            "1 GiB / 64 KiB"
        );

        let (mut c, _, _) = rtc(START);
        c.set_memory_size(8 * MIB);
        assert_eq!(bytes(&mut c, 0x17..=0x18), [0x00, 0x1C], "7168 KiB");
        assert_eq!(bytes(&mut c, 0x34..=0x35), [0, 0]);
        let sum: u8 = 0x80 + 0x02 + 0x1C;
        assert_eq!(bytes(&mut c, 0x2E..=0x2F), [0, sum]);
    }

    #[test]
    fn nmi_mask_upper_bank_and_wide_accesses() {
        let (mut c, _, _) = rtc(START);
        c.write(0x70, 1, 0x80 | 0x40);
        assert!(c.nmi_masked());
        c.write(0x71, 1, 0xAB);
        c.write(0x70, 1, 0x40);
        assert!(!c.nmi_masked());
        assert_eq!(c.read(0x71, 1), 0xAB);
        c.write(0x72, 1, 0x40);
        c.write(0x73, 1, 0xCD);
        assert_eq!(c.read(0x73, 1), 0xCD, "upper byte 0xC0");
        assert_eq!(c.state().ram[0xC0], 0xCD);
        assert_eq!(c.state().ram[0x40], 0xAB);
        // out dx, ax to 0x70: index in AL, data in AH.
        c.write(0x70, 2, 0x5A_41);
        assert_eq!(rd(&mut c, 0x41), 0x5A);
        assert_eq!(c.read(0x70, 1), 0xFF, "the index port is write-only");
        // Registers C and D are read-only.
        wr(&mut c, REG_D, 0);
        assert_eq!(rd(&mut c, REG_D), D_VRT);
    }

    #[test]
    fn state_round_trips() {
        let (mut c, clock, lines) = rtc(START);
        wr(&mut c, REG_A, 0x20);
        wr(&mut c, REG_B, B_UIE | B_24H);
        wr(&mut c, DAY_OF_WEEK, 6);
        c.set_memory_size(64 * MIB);
        clock.sync_icount(1_500_000_000);
        c.poll_timer(1_500_000_000);
        let saved = c.state();
        assert_eq!(saved.ram[REG_C as usize], C_IRQF | C_UF);

        let mut d = Cmos::new(clock.clone(), lines.clone(), 0);
        d.restore(saved.clone());
        assert_eq!(d.state(), saved);
        assert_eq!(time(&mut d), time(&mut c));
        assert_eq!(rd(&mut d, DAY_OF_WEEK), 6, "the guest's day of week");
        assert_eq!(rd(&mut d, REG_C), C_IRQF | C_UF);
        assert_eq!(lines.levels() >> RTC_IRQ & 1, 0);
    }
}
