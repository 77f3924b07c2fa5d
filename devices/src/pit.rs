//! The Intel 8254 programmable interval timer (ports 0x40-0x43) and system control port B
//! (port 0x61: channel 2's gate, speaker data enable, channel 2's OUT and the refresh toggle).
//!
//! Behaviour from the 8254 data sheet: six counting modes, binary and BCD counting, LSB/MSB/
//! LSB-then-MSB access with separate read and write flip-flops, the counter latch command and
//! the read-back command with its status byte (OUT, null count, RW, mode, BCD).
//!
//! Nothing ticks. Each counter keeps the virtual time at which its counting element (CE)
//! started its current stretch of counting and how many input clocks had already elapsed then;
//! the CE value and OUT at any moment follow from the clocks elapsed since, at 1.193182 MHz of
//! virtual time from the machine's [`Clock`].
//!
//! Simplifications: a count is loaded into CE at the moment it is written (the data sheet's
//! "on the next CLK pulse" is folded into that instant), and a gate trigger loads CE at the
//! moment of the edge. At power-on every channel is in mode 3 (LSB-then-MSB) without a count:
//! nothing counts and OUT is high, so IRQ 0 stays quiet until firmware loads a count.
//!
//! # IRQ 0
//!
//! Channel 0's OUT drives IRQ 0 (the edge-triggered PIC latches rising edges). The wire follows
//! OUT's level; the one-clock low pulses of modes 2, 4 and 5 are rendered as a low-high step at
//! the instant OUT rises again (the end of the pulse, the start of the next period in mode 2).
//! Edges are delivered when the machine loop calls [`PortDevice::poll_timer`] (whose return
//! value asks for a call at the next rising edge) and whenever the guest touches channel 0.
//!
//! When several rising edges fell between two calls (a slow host in real-time mode; with the
//! instruction clock the loop calls exactly at each deadline), they are coalesced into one edge
//! and counted in [`Pit8254::coalesced_irq0_edges`]. The PIC's IRR holds one pending request
//! per line anyway, so a burst of edges before the CPU can take the interrupt would collapse in
//! the PIC just the same; re-injecting them later (KVM's "delay" lost-tick policy) instead
//! would hand the guest back-to-back timer interrupts with no time between them. The trade-off:
//! a guest that counts time by counting IRQ 0 (old Linux `jiffies++` per tick, DOS's BIOS tick
//! count) loses those ticks and its clock falls behind, while guests that read a clocksource
//! (modern Linux: TSC, HPET, or this PIT's counter) recover the elapsed time and are unaffected,
//! and nobody sees an interrupt storm after the emulator was stopped for a while.

use emu_core::bus::PortDevice;
use emu_core::clock::Clock;
use emu_core::irq::IrqLines;

/// The counters' input clock, in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// The ports this device decodes: the three counters, the control word, and port B.
pub const PIT_PORTS: [u16; 5] = [0x40, 0x41, 0x42, 0x43, 0x61];

const NS_PER_SEC: u128 = 1_000_000_000;

/// Port 0x61 bit 4 toggles with every DRAM refresh request (PIT channel 1 on the AT).
const REFRESH_TOGGLE_NS: i64 = 15_085;

/// Input clocks in `ns` nanoseconds (rounded down).
fn ticks_in(ns: u64) -> u64 {
    (ns as u128 * PIT_HZ as u128 / NS_PER_SEC) as u64
}

/// Nanoseconds until the `ticks`-th input clock: the least `t` with `ticks_in(t) >= ticks`.
fn ns_until_tick(ticks: u64) -> i64 {
    (ticks as u128 * NS_PER_SEC).div_ceil(PIT_HZ as u128) as i64
}

fn from_bcd(v: u16) -> u32 {
    (0..4)
        .rev()
        .fold(0, |acc, i| acc * 10 + ((v >> (4 * i)) & 0xF) as u32)
}

fn to_bcd(v: u32) -> u16 {
    (0..4).fold(0, |acc, i| {
        acc | (((v / 10u32.pow(i)) % 10) as u16) << (4 * i)
    })
}

/// One of the three counters. Times are signed nanoseconds of virtual time: measured from the
/// clock's zero inside the device, and from the moment of capture in a [`PitState`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PitChannel {
    /// Low six bits of the last control word: RW (5-4), mode (3-1), BCD (0).
    pub control: u8,
    /// The count register as written (raw; BCD digits in BCD mode).
    pub cr: u16,
    /// A complete count was written since the control word.
    pub count_written: bool,
    /// Write flip-flop (LSB-then-MSB): the next data write is the MSB.
    pub write_msb_next: bool,
    /// Read flip-flop (LSB-then-MSB): the next data read is the MSB.
    pub read_msb_next: bool,
    /// Counter latch command output, held until read or the counter is reprogrammed.
    pub count_latch: Option<u16>,
    /// Read-back status byte, held until read.
    pub status_latch: Option<u8>,
    /// The count register holds a count not yet loaded into CE.
    pub null_count: bool,
    pub gate: bool,
    /// CE is in a counting cycle (count loaded; one-shot triggered). Mode 0 disarms between
    /// the two bytes of a rewrite.
    pub armed: bool,
    /// The count CE is working with (1..=0x10000, or 10000 in BCD); 0 before the first load
    /// after a control word.
    pub n: u32,
    /// Input clocks CE had counted at `since_ns` (or, while stopped, in all).
    pub base: u64,
    /// While counting: when the current stretch of counting began.
    pub since_ns: Option<i64>,
    /// Modes 2 and 3: a count rewritten while counting takes over when the elapsed clocks
    /// reach this (end of the period in mode 2, of the half-cycle in mode 3).
    pub switch_at: Option<u64>,
    /// What CE reads while no count is loaded (its value when the control word came).
    pub held_ce: u16,
    /// OUT's rising edges up to this time have been accounted for (IRQ 0 for channel 0).
    pub seen_ns: i64,
}

impl PitChannel {
    fn power_on(gate: bool, now: i64) -> Self {
        PitChannel {
            // Mode 3, LSB-then-MSB, no count yet: OUT high, nothing counting.
            control: 0x36,
            gate,
            seen_ns: now,
            ..Default::default()
        }
    }

    /// Operating mode 0-5 (modes 6 and 7 are 2 and 3 with a don't-care bit).
    fn mode(&self) -> u8 {
        match (self.control >> 1) & 7 {
            m @ 6..=7 => m - 4,
            m => m,
        }
    }

    fn access(&self) -> u8 {
        (self.control >> 4) & 3
    }

    fn bcd(&self) -> bool {
        self.control & 1 != 0
    }

    fn modulus(&self) -> u64 {
        if self.bcd() {
            10_000
        } else {
            0x10000
        }
    }

    /// The count register as a count: 0 stands for the modulus.
    fn cr_count(&self) -> u32 {
        let v = if self.bcd() {
            from_bcd(self.cr)
        } else {
            self.cr as u32
        };
        if v == 0 {
            self.modulus() as u32
        } else {
            v
        }
    }

    fn elapsed(&self, now: i64) -> u64 {
        match self.since_ns {
            Some(s) => self.base + ticks_in(now.saturating_sub(s).max(0) as u64),
            None => self.base,
        }
    }

    /// The counting element now.
    fn ce(&self, now: i64) -> u16 {
        if self.n == 0 {
            return self.held_ce;
        }
        let (n, m, e) = (self.n as u64, self.modulus(), self.elapsed(now));
        let v = match self.mode() {
            // n, n-1, ..., 1, reload.
            2 => n - e % n,
            // Each half-cycle: CE loads n (n-1 when odd) and drops by two per clock.
            3 => {
                let p = e % n;
                let half = n.div_ceil(2);
                let j = if p < half { p } else { p - half };
                (n & !1) - 2 * j
            }
            // One-shots keep counting down through 0 and wrap.
            _ => (n % m + m - e % m) % m,
        } % m;
        if self.bcd() {
            to_bcd(v as u32)
        } else {
            v as u16
        }
    }

    fn out(&self, now: i64) -> bool {
        if !self.armed {
            // The level a control word sets: low in mode 0, high in the others.
            return self.mode() != 0;
        }
        let (n, e) = (self.n as u64, self.elapsed(now));
        let stopped = self.since_ns.is_none();
        match self.mode() {
            0 | 1 => e >= n,
            2 => stopped || n < 2 || e % n != n - 1,
            3 => stopped || e % n < n.div_ceil(2),
            _ => e != n,
        }
    }

    fn status(&self, now: i64) -> u8 {
        (self.out(now) as u8) << 7 | (self.null_count as u8) << 6 | self.control & 0x3F
    }

    /// OUT's rising edges with elapsed clocks in `(e0, e1]`.
    fn rises(&self, e0: u64, e1: u64) -> u64 {
        if !self.armed || e1 <= e0 {
            return 0;
        }
        let n = self.n as u64;
        match self.mode() {
            0 | 1 => (e0 < n && n <= e1) as u64,
            4 | 5 => (e0 <= n && n < e1) as u64,
            _ if n >= 2 => e1 / n - e0 / n,
            _ => 0,
        }
    }

    /// Elapsed clocks at OUT's first rising edge after `e`, if it will rise while counting.
    fn next_rise(&self, e: u64) -> Option<u64> {
        if !self.armed || self.since_ns.is_none() {
            return None;
        }
        let n = self.n as u64;
        match self.mode() {
            0 | 1 => (e < n).then_some(n),
            4 | 5 => (e <= n).then_some(n + 1),
            _ if n >= 2 => Some((e / n + 1) * n),
            _ => None,
        }
    }

    fn time_of(&self, e: u64) -> Option<i64> {
        self.since_ns
            .map(|s| s + ns_until_tick(e.saturating_sub(self.base)))
    }

    /// When the pending count of modes 2/3 takes over.
    fn switch_ns(&self) -> Option<i64> {
        self.time_of(self.switch_at?)
    }

    /// When OUT next rises or the pending count takes over, whichever is first.
    fn next_event_ns(&self, now: i64) -> Option<i64> {
        let rise = self
            .next_rise(self.elapsed(now))
            .and_then(|e| self.time_of(e));
        match (rise, self.switch_ns()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Brings the counter to `now` (applying a pending count whose time came) and returns how
    /// many times OUT rose since the last call.
    fn advance(&mut self, now: i64) -> u64 {
        let mut rises = 0;
        if let (Some(at), Some(t)) = (self.switch_at, self.switch_ns()) {
            if t <= now {
                rises += self.rises(self.elapsed(self.seen_ns), at);
                let old_n = self.n as u64;
                let n = self.cr_count();
                // Mode 3 switching at the end of a high half-cycle starts with a low half.
                self.base = if self.mode() == 3 && at % old_n != 0 {
                    (n as u64).div_ceil(2)
                } else {
                    0
                };
                self.n = n;
                self.since_ns = Some(t);
                self.switch_at = None;
                self.null_count = false;
                self.seen_ns = t;
            }
        }
        if now > self.seen_ns {
            rises += self.rises(self.elapsed(self.seen_ns), self.elapsed(now));
            self.seen_ns = now;
        }
        rises
    }

    /// CR -> CE: a new counting cycle starts now.
    fn load(&mut self, n: u32, now: i64) {
        self.n = n;
        self.base = 0;
        self.armed = true;
        self.null_count = false;
        self.switch_at = None;
        // The gate enables counting in modes 0, 2, 3 and 4; modes 1 and 5 load on a trigger.
        let counts = self.gate || matches!(self.mode(), 1 | 5);
        self.since_ns = counts.then_some(now);
        self.seen_ns = now;
    }

    fn stop(&mut self, now: i64) {
        if self.since_ns.is_some() {
            self.base = self.elapsed(now);
            self.since_ns = None;
            self.switch_at = None;
        }
    }

    fn control_word(&mut self, v: u8, now: i64) {
        self.held_ce = self.ce(now);
        *self = PitChannel {
            control: v & 0x3F,
            cr: self.cr,
            null_count: true,
            gate: self.gate,
            held_ce: self.held_ce,
            seen_ns: now,
            ..Default::default()
        };
    }

    fn latch_count(&mut self, now: i64) {
        // Further latch commands before the read are ignored.
        if self.count_latch.is_none() {
            self.count_latch = Some(self.ce(now));
        }
    }

    fn latch_status(&mut self, now: i64) {
        if self.status_latch.is_none() {
            self.status_latch = Some(self.status(now));
        }
    }

    fn read_data(&mut self, now: i64) -> u8 {
        if let Some(s) = self.status_latch.take() {
            return s;
        }
        let value = self.count_latch.unwrap_or_else(|| self.ce(now));
        let (byte, last) = match self.access() {
            1 => (value as u8, true),
            2 => ((value >> 8) as u8, true),
            _ => {
                let msb = self.read_msb_next;
                self.read_msb_next = !msb;
                let byte = if msb { value >> 8 } else { value } as u8;
                (byte, msb)
            }
        };
        if last {
            self.count_latch = None;
        }
        byte
    }

    fn write_data(&mut self, v: u8, now: i64) {
        match self.access() {
            1 => self.cr = v as u16,
            2 => self.cr = (v as u16) << 8,
            _ if !self.write_msb_next => {
                self.cr = (self.cr & 0xFF00) | v as u16;
                self.write_msb_next = true;
                if self.mode() == 0 {
                    // Mode 0: the first byte of a rewrite stops counting and drops OUT.
                    self.stop(now);
                    self.armed = false;
                    self.null_count = true;
                }
                return;
            }
            _ => {
                self.cr = (self.cr & 0x00FF) | (v as u16) << 8;
                self.write_msb_next = false;
            }
        }
        self.count_written = true;
        self.null_count = true;
        let n = self.cr_count();
        match self.mode() {
            0 | 4 => self.load(n, now),
            // Waits for a gate trigger.
            1 | 5 => {}
            _ if !self.armed => self.load(n, now),
            // Counting: the new count waits for the end of the period (mode 2) or of the
            // half-cycle (mode 3). Stopped by the gate: the trigger loads it.
            mode if self.since_ns.is_some() => {
                let (e, cur) = (self.elapsed(now), self.n as u64);
                let start = e - e % cur;
                let half = cur.div_ceil(2);
                self.switch_at = Some(if mode == 3 && e % cur < half {
                    start + half
                } else {
                    start + cur
                });
            }
            _ => {}
        }
    }

    fn set_gate(&mut self, high: bool, now: i64) {
        if high == self.gate {
            return;
        }
        self.gate = high;
        match (self.mode(), high) {
            // Modes 0 and 4: the gate only enables counting.
            (0 | 4, true) if self.armed && self.since_ns.is_none() => {
                self.since_ns = Some(now);
                self.seen_ns = now;
            }
            (0 | 4, false) => self.stop(now),
            // A rising edge triggers modes 1 and 5 and restarts modes 2 and 3.
            (1 | 2 | 3 | 5, true) if self.count_written => self.load(self.cr_count(), now),
            // Modes 2 and 3 stop with OUT high; modes 1 and 5 ignore a falling gate.
            (2 | 3, false) => self.stop(now),
            _ => {}
        }
    }

    fn shifted(mut self, by: i64) -> Self {
        self.since_ns = self.since_ns.map(|t| t + by);
        self.seen_ns += by;
        self
    }
}

/// Saveable state. Times in the channels are relative to the clock at capture (so `<= 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PitState {
    pub channels: [PitChannel; 3],
    /// Port 0x61 bits 0-3 as written.
    pub port61: u8,
    /// The level the device last drove on IRQ 0.
    pub irq0_level: bool,
}

/// The 8254 with port 0x61. Channels 0 and 1 have their gates tied high; channel 0's OUT is
/// IRQ 0; channel 2's gate is port 0x61 bit 0 and its OUT reads back in bit 5.
pub struct Pit8254 {
    clock: Clock,
    irq: IrqLines,
    channels: [PitChannel; 3],
    port61: u8,
    /// The level last driven on IRQ 0. Starts high, matching power-on OUT, without touching the
    /// wire: the first rising edge the PIC sees is then a real one.
    line: bool,
    coalesced: u64,
}

impl Pit8254 {
    pub fn new(clock: Clock, irq: IrqLines) -> Self {
        let now = clock.now_ns() as i64;
        Pit8254 {
            clock,
            irq,
            channels: [
                PitChannel::power_on(true, now),
                PitChannel::power_on(true, now),
                PitChannel::power_on(false, now),
            ],
            port61: 0,
            line: true,
            coalesced: 0,
        }
    }

    pub fn state(&self) -> PitState {
        let now = self.clock.now_ns() as i64;
        PitState {
            channels: self.channels.map(|c| c.shifted(-now)),
            port61: self.port61,
            irq0_level: self.line,
        }
    }

    /// Restores a state; the IRQ 0 wire itself is left to whoever restores the lines.
    pub fn restore(&mut self, s: PitState) {
        let now = self.clock.now_ns() as i64;
        self.channels = s.channels.map(|c| c.shifted(now));
        self.port61 = s.port61 & 0x0F;
        self.line = s.irq0_level;
    }

    /// Rising edges of channel 0's OUT merged into an earlier one because they fell between
    /// two polls (see the module documentation).
    pub fn coalesced_irq0_edges(&self) -> u64 {
        self.coalesced
    }

    /// The speaker's tone: channel 2 in square-wave mode with its gate and the speaker data
    /// bit both on.
    pub fn speaker_tone_hz(&self) -> Option<u32> {
        let c = &self.channels[2];
        let on = self.port61 & 3 == 3 && c.mode() == 3 && c.armed && c.since_ns.is_some();
        on.then(|| (PIT_HZ / c.n as u64) as u32)
    }

    fn now(&self) -> i64 {
        self.clock.now_ns() as i64
    }

    /// Brings channel `i` to `now`; for channel 0, delivers OUT's edges to IRQ 0 and makes the
    /// wire follow OUT.
    fn sync(&mut self, i: usize, now: i64) {
        let rises = self.channels[i].advance(now);
        if i != 0 {
            return;
        }
        if rises > 0 {
            if self.line {
                self.irq.set(0, false);
            }
            self.irq.set(0, true);
            self.line = true;
            self.coalesced += rises - 1;
        }
        let out = self.channels[0].out(now);
        if out != self.line {
            self.irq.set(0, out);
            self.line = out;
        }
    }

    /// Runs `f` on channel `i` at `now`, with OUT's edges accounted before and after.
    fn update(&mut self, i: usize, now: i64, f: impl FnOnce(&mut PitChannel)) {
        self.sync(i, now);
        f(&mut self.channels[i]);
        self.sync(i, now);
    }

    fn write_command(&mut self, v: u8, now: i64) {
        let select = (v >> 6) as usize;
        if select == 3 {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3
            // select counters 0-2.
            for i in (0..3).filter(|i| v & (2 << i) != 0) {
                self.update(i, now, |c| {
                    if v & 0x20 == 0 {
                        c.latch_count(now);
                    }
                    if v & 0x10 == 0 {
                        c.latch_status(now);
                    }
                });
            }
        } else if v & 0x30 == 0 {
            self.update(select, now, |c| c.latch_count(now));
        } else {
            self.update(select, now, |c| c.control_word(v, now));
        }
    }

    fn read_byte(&mut self, port: u16, now: i64) -> u8 {
        match port {
            0x40..=0x42 => {
                let i = (port - 0x40) as usize;
                let mut byte = 0;
                self.update(i, now, |c| byte = c.read_data(now));
                byte
            }
            0x61 => {
                self.sync(2, now);
                let refresh = (now.div_euclid(REFRESH_TOGGLE_NS) & 1) as u8;
                let out2 = self.channels[2].out(now) as u8;
                (self.port61 & 0x0F) | refresh << 4 | out2 << 5
            }
            // The control word register cannot be read: the data bus floats.
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, port: u16, v: u8, now: i64) {
        match port {
            0x40..=0x42 => self.update((port - 0x40) as usize, now, |c| c.write_data(v, now)),
            0x43 => self.write_command(v, now),
            0x61 => {
                // Bits 2-3 (NMI enables) are kept for reading back; 4-7 are read-only.
                self.port61 = v & 0x0F;
                self.update(2, now, |c| c.set_gate(v & 1 != 0, now));
            }
            _ => {}
        }
    }
}

impl PortDevice for Pit8254 {
    /// Wider accesses are split into byte accesses at consecutive ports.
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let now = self.now();
        (0..size.min(4) as u16).fold(0, |acc, k| {
            acc | (self.read_byte(port.wrapping_add(k), now) as u32) << (8 * k)
        })
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        let now = self.now();
        for k in 0..size.min(4) as u16 {
            self.write_byte(port.wrapping_add(k), (value >> (8 * k)) as u8, now);
        }
    }

    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        // A stale time cannot move the channel backwards.
        let now = (now_ns as i64).max(self.channels[0].seen_ns);
        self.sync(0, now);
        self.channels[0].next_event_ns(now).map(|t| t.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_core::clock::ClockMode;

    fn pit() -> (Pit8254, Clock, IrqLines) {
        let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
        let irq = IrqLines::new();
        (Pit8254::new(clock.clone(), irq.clone()), clock, irq)
    }

    /// Control word, then an LSB-then-MSB count.
    fn program(p: &mut Pit8254, control: u8, count: u16) {
        p.write(0x43, 1, control as u32);
        let port = 0x40 + (control >> 6) as u16;
        p.write(port, 1, count as u32 & 0xFF);
        p.write(port, 1, count as u32 >> 8);
    }

    /// Two unlatched (or latched) byte reads in LSB-then-MSB mode.
    fn read16(p: &mut Pit8254, ch: u16) -> u16 {
        let lo = p.read(0x40 + ch, 1);
        let hi = p.read(0x40 + ch, 1);
        (hi << 8 | lo) as u16
    }

    fn status(p: &mut Pit8254, ch: u16) -> u8 {
        p.write(0x43, 1, 0xE0 | 2 << ch);
        p.read(0x40 + ch, 1) as u8
    }

    #[test]
    fn time_conversion() {
        assert_eq!(ns_until_tick(1), 839);
        assert_eq!(ticks_in(838), 0);
        assert_eq!(ticks_in(839), 1);
        assert_eq!(ns_until_tick(1193), 999_848);
        assert_eq!(from_bcd(0x1234), 1234);
        assert_eq!(to_bcd(9876), 0x9876);
    }

    #[test]
    fn mode2_count_decreases_with_virtual_time_and_reloads() {
        let (mut p, clock, _) = pit();
        program(&mut p, 0x34, 1000);
        assert_eq!(read16(&mut p, 0), 1000);
        clock.sync_icount(839);
        assert_eq!(read16(&mut p, 0), 999);
        clock.sync_icount(83_810);
        assert_eq!(read16(&mut p, 0), 900);
        clock.sync_icount(838_095);
        assert_eq!(read16(&mut p, 0), 1, "last clock of the period");
        clock.sync_icount(838_096);
        assert_eq!(read16(&mut p, 0), 1000, "reloaded");
    }

    #[test]
    fn mode3_counts_down_by_two_each_half_cycle() {
        let (mut p, clock, _) = pit();
        program(&mut p, 0x36, 1000);
        assert_eq!(read16(&mut p, 0), 1000);
        clock.sync_icount(839);
        assert_eq!(read16(&mut p, 0), 998);
        clock.sync_icount(83_810);
        assert_eq!(read16(&mut p, 0), 800);
        assert_eq!(status(&mut p, 0) & 0x80, 0x80, "OUT high in the first half");
        clock.sync_icount(419_048);
        assert_eq!(read16(&mut p, 0), 1000, "second half reloads");
        assert_eq!(status(&mut p, 0) & 0x80, 0, "OUT low in the second half");

        // Odd count 5: CE reads 4, 2, 0 with OUT high for 3 clocks, then 4, 2 with OUT low.
        program(&mut p, 0x36, 5);
        let start = 419_048;
        let mut seen = vec![];
        for k in 0..6 {
            clock.sync_icount(start + ns_until_tick(k) as u64);
            seen.push((read16(&mut p, 0), status(&mut p, 0) >> 7));
        }
        assert_eq!(seen, [(4, 1), (2, 1), (0, 1), (4, 0), (2, 0), (4, 1)]);
    }

    #[test]
    fn count_of_zero_is_65536() {
        let (mut p, clock, _) = pit();
        program(&mut p, 0x34, 0);
        assert_eq!(read16(&mut p, 0), 0);
        clock.sync_icount(839);
        assert_eq!(read16(&mut p, 0), 0xFFFF);
        assert_eq!(p.poll_timer(839), Some(54_925_402));
    }

    #[test]
    fn latch_command_freezes_the_value_until_read() {
        let (mut p, clock, _) = pit();
        program(&mut p, 0x34, 1000);
        clock.sync_icount(83_810);
        p.write(0x43, 1, 0x00);
        clock.sync_icount(100_000);
        p.write(0x43, 1, 0x00); // ignored: the first latch is still unread
        clock.sync_icount(200_000);
        assert_eq!(read16(&mut p, 0), 900);
        assert_eq!(read16(&mut p, 0), 1000 - 238, "live again after both bytes");
    }

    #[test]
    fn read_back_status_and_count() {
        let (mut p, clock, _) = pit();
        p.write(0x61, 1, 1);
        p.write(0x43, 1, 0xB0); // channel 2, LSB-then-MSB, mode 0, binary
        assert_eq!(status(&mut p, 2), 0x70, "OUT low, null count, RW=3, mode 0");
        p.write(0x42, 1, 100);
        p.write(0x42, 1, 0);
        assert_eq!(status(&mut p, 2), 0x30, "count loaded");
        clock.sync_icount(83_810);
        assert_eq!(status(&mut p, 2), 0xB0, "terminal count: OUT high");

        // One command latching count and status of channels 0 and 2.
        program(&mut p, 0x37, 0x1234); // channel 0, mode 3, BCD
        clock.sync_icount(83_810 + 839);
        p.write(0x43, 1, 0xCA);
        clock.sync_icount(500_000);
        assert_eq!(
            p.read(0x40, 1),
            0xB7,
            "OUT high, count loaded, RW=3, mode 3, BCD"
        );
        assert_eq!(read16(&mut p, 0), 0x1232);
        assert_eq!(p.read(0x42, 1), 0xB0);
        assert_eq!(read16(&mut p, 2), 100u16.wrapping_sub(101));

        // Count and status latched by separate commands: the status is read first.
        clock.sync_icount(700_000); // 735 clocks into the count of 1234: second half-cycle
        p.write(0x43, 1, 0xD2); // latch count only, channel 0
        p.write(0x43, 1, 0xE2); // latch status only, channel 0
        clock.sync_icount(800_000);
        assert_eq!(p.read(0x40, 1), 0x37, "OUT low in the second half-cycle");
        assert_eq!(read16(&mut p, 0), 0x0998);
    }

    #[test]
    fn mode0_out_rises_at_terminal_count_with_one_irq0_edge() {
        let (mut p, clock, irq) = pit();
        program(&mut p, 0x30, 100);
        assert_eq!(irq.take_edges(), 0);
        assert_eq!(irq.levels() & 1, 0, "mode 0 drops OUT");
        assert_eq!(p.poll_timer(0), Some(83_810));
        assert_eq!(p.poll_timer(83_809), Some(83_810));
        assert_eq!(irq.take_edges(), 0);
        assert_eq!(p.poll_timer(83_810), None);
        assert_eq!(irq.take_edges(), 1);
        assert_eq!(irq.levels() & 1, 1, "OUT stays high");
        clock.sync_icount(10_000_000);
        assert_eq!(p.poll_timer(10_000_000), None);
        assert_eq!(irq.take_edges(), 0, "exactly one edge");
        // The counter wraps past zero and keeps counting.
        assert_eq!(
            read16(&mut p, 0),
            (100 - ticks_in(10_000_000) as i64) as u16
        );
    }

    #[test]
    fn mode0_first_byte_of_a_rewrite_stops_counting_until_the_second() {
        let (mut p, clock, irq) = pit();
        program(&mut p, 0x30, 1000);
        clock.sync_icount(83_000);
        p.write(0x40, 1, 0x10);
        assert_eq!(status(&mut p, 0) & 0xC0, 0x40, "OUT low, null count");
        clock.sync_icount(1_000_000);
        assert_eq!(read16(&mut p, 0), 901, "frozen");
        assert_eq!(p.poll_timer(1_000_000), None, "not counting");
        assert_eq!(irq.take_edges(), 0, "terminal count never came");
        p.write(0x40, 1, 0x00);
        assert_eq!(read16(&mut p, 0), 0x10);
        assert_eq!(p.poll_timer(1_000_000), Some(1_000_000 + 13_410));
        assert_eq!(p.poll_timer(1_013_410), None);
        assert_eq!(irq.take_edges(), 1);
    }

    #[test]
    fn mode2_interrupts_every_period() {
        let (mut p, _, irq) = pit();
        program(&mut p, 0x34, 1193);
        assert_eq!(irq.take_edges(), 0, "OUT was already high");
        // The machine loop polls at each returned deadline.
        let mut edges = vec![];
        let mut next = p.poll_timer(0);
        while let Some(t) = next.filter(|&t| t <= 10_000_000) {
            next = p.poll_timer(t);
            if irq.take_edges() & 1 != 0 {
                edges.push(t);
            }
        }
        let expected: Vec<u64> = (1..=10).map(|k| ns_until_tick(k * 1193) as u64).collect();
        assert_eq!(edges, expected);
        assert_eq!(edges[0], 999_848);
        assert_eq!(edges[9], 9_998_475);
        assert_eq!(next, Some(10_998_323));
        assert_eq!(p.coalesced_irq0_edges(), 0);
    }

    #[test]
    fn missed_periods_coalesce_into_one_edge() {
        let (mut p, _, irq) = pit();
        program(&mut p, 0x34, 1193);
        assert_eq!(p.poll_timer(10_000_000), Some(10_998_323));
        assert_eq!(irq.take_edges(), 1);
        assert_eq!(
            p.coalesced_irq0_edges(),
            9,
            "10 periods passed, one edge delivered"
        );
    }

    #[test]
    fn mode2_rewrite_takes_effect_at_the_next_period() {
        let (mut p, clock, irq) = pit();
        program(&mut p, 0x34, 1000);
        clock.sync_icount(83_810);
        p.write(0x40, 1, 500 & 0xFF);
        p.write(0x40, 1, 500 >> 8);
        assert_eq!(
            status(&mut p, 0) & 0x40,
            0x40,
            "null count until the reload"
        );
        assert_eq!(read16(&mut p, 0), 900, "current period unaffected");
        assert_eq!(p.poll_timer(83_810), Some(838_096));
        assert_eq!(p.poll_timer(838_096), Some(838_096 + 419_048));
        assert_eq!(irq.take_edges(), 1);
        clock.sync_icount(838_096 + 839);
        assert_eq!(read16(&mut p, 0), 499);
        assert_eq!(status(&mut p, 0) & 0x40, 0);
    }

    #[test]
    fn mode3_rewrite_takes_effect_at_the_half_cycle() {
        let (mut p, clock, irq) = pit();
        program(&mut p, 0x36, 1000);
        clock.sync_icount(83_810);
        p.write(0x40, 1, 200);
        p.write(0x40, 1, 0);
        // The high half ends at 500 clocks; the new count starts with a low half of 100.
        assert_eq!(p.poll_timer(83_810), Some(419_048));
        assert_eq!(p.poll_timer(419_048), Some(419_048 + 83_810));
        assert_eq!(irq.levels() & 1, 0, "the wire follows OUT low");
        clock.sync_icount(419_048);
        assert_eq!(read16(&mut p, 0), 200);
        // Then full periods of 200 clocks.
        let rise = 419_048 + 83_810;
        assert_eq!(
            p.poll_timer(rise),
            Some(419_048 + ns_until_tick(300) as u64)
        );
        assert_eq!(irq.take_edges(), 1);
        assert_eq!(irq.levels() & 1, 1);
    }

    #[test]
    fn mode4_strobes_once() {
        let (mut p, _, irq) = pit();
        program(&mut p, 0x38, 10);
        assert_eq!(irq.take_edges(), 0);
        assert_eq!(p.poll_timer(0), Some(ns_until_tick(11) as u64));
        assert_eq!(p.poll_timer(ns_until_tick(11) as u64), None);
        assert_eq!(irq.take_edges(), 1);
    }

    #[test]
    fn channel2_gate_and_out_through_port_61() {
        let (mut p, clock, _) = pit();
        p.write(0x61, 1, 0x03);
        assert_eq!(p.read(0x61, 1) & 0x0F, 0x03);
        assert_eq!(p.read(0x61, 1) & 0x10, 0);
        clock.sync_icount(15_085);
        assert_eq!(p.read(0x61, 1) & 0x10, 0x10, "refresh toggles");
        clock.sync_icount(30_170);
        assert_eq!(p.read(0x61, 1) & 0x10, 0);

        // Gate low: mode 0 holds its count.
        p.write(0x61, 1, 0x00);
        program(&mut p, 0xB0, 1000);
        clock.sync_icount(100_000);
        assert_eq!(read16(&mut p, 2), 1000);
        assert_eq!(p.read(0x61, 1) & 0x20, 0);

        // Linux's PIT calibration: gate on, speaker off, mode 0, poll bit 5.
        let v = (p.read(0x61, 1) & !0x02) | 0x01;
        p.write(0x61, 1, v);
        p.write(0x43, 1, 0xB0);
        p.write(0x42, 1, 11932 & 0xFF);
        p.write(0x42, 1, 11932 >> 8);
        let start = 100_000;
        let target = start + ns_until_tick(11932) as u64;
        let mut t = start;
        while p.read(0x61, 1) & 0x20 == 0 {
            t += 1000;
            clock.sync_icount(t);
        }
        assert!(t >= target && t < target + 1000, "{t} vs {target}");

        // Mode 0 pauses while the gate is low.
        program(&mut p, 0xB0, 1000);
        clock.sync_icount(t + 83_810);
        p.write(0x61, 1, 0x00);
        clock.sync_icount(t + 1_000_000);
        assert_eq!(read16(&mut p, 2), 900);
        p.write(0x61, 1, 0x01);
        clock.sync_icount(t + 1_000_000 + 839);
        assert_eq!(read16(&mut p, 2), 899);
    }

    #[test]
    fn gate_triggers_modes_1_and_5_and_restarts_modes_2_and_3() {
        let (mut p, clock, _) = pit();
        let out2 = |p: &mut Pit8254| p.read(0x61, 1) & 0x20 != 0;
        program(&mut p, 0xB2, 10); // mode 1
        assert!(out2(&mut p), "waits for a trigger with OUT high");
        assert_eq!(status(&mut p, 2) & 0x40, 0x40, "null count until triggered");
        p.write(0x61, 1, 1);
        assert!(!out2(&mut p), "triggered: OUT low");
        clock.sync_icount(ns_until_tick(5) as u64);
        p.write(0x61, 1, 0);
        p.write(0x61, 1, 1); // retrigger
        clock.sync_icount(ns_until_tick(14) as u64);
        assert!(!out2(&mut p), "retriggered one-shot still running");
        clock.sync_icount(ns_until_tick(15) as u64);
        assert!(out2(&mut p));

        p.write(0x61, 1, 0);
        let base = 20_000;
        clock.sync_icount(base);
        program(&mut p, 0xBA, 10); // mode 5
        p.write(0x61, 1, 1);
        clock.sync_icount(base + ns_until_tick(9) as u64);
        assert!(out2(&mut p));
        clock.sync_icount(base + ns_until_tick(10) as u64);
        assert!(!out2(&mut p), "strobe");
        clock.sync_icount(base + ns_until_tick(11) as u64);
        assert!(out2(&mut p));

        // Mode 3: gate low forces OUT high and stops; the rising edge reloads.
        program(&mut p, 0xB6, 100);
        let t = base + ns_until_tick(11) as u64;
        clock.sync_icount(t + ns_until_tick(60) as u64);
        assert!(!out2(&mut p));
        p.write(0x61, 1, 0);
        assert!(out2(&mut p));
        p.write(0x61, 1, 1);
        assert_eq!(read16(&mut p, 2), 100);
        assert_eq!(p.speaker_tone_hz(), None, "speaker data bit off");
        p.write(0x61, 1, 3);
        assert_eq!(p.speaker_tone_hz(), Some(11931));

        // Channel 0's gate is tied high: mode 1 never triggers.
        program(&mut p, 0x32, 10);
        assert_eq!(p.poll_timer(clock.now_ns() + 10_000_000), None);
    }

    #[test]
    fn bcd_counting() {
        let (mut p, clock, _) = pit();
        program(&mut p, 0x35, 0x1000); // mode 2, BCD 1000
        assert_eq!(read16(&mut p, 0), 0x1000);
        clock.sync_icount(839);
        assert_eq!(read16(&mut p, 0), 0x0999);
        assert_eq!(status(&mut p, 0) & 1, 1);
        assert_eq!(p.poll_timer(839), Some(838_096));

        // Count 0 in BCD is 10000, and a one-shot wraps from 0000 to 9999.
        program(&mut p, 0x31, 0);
        assert_eq!(read16(&mut p, 0), 0);
        clock.sync_icount(839 + 839);
        assert_eq!(read16(&mut p, 0), 0x9999);
        assert_eq!(p.poll_timer(1678), Some(839 + 8_380_952));
    }

    #[test]
    fn access_modes_and_flip_flops() {
        let (mut p, _, _) = pit();
        p.write(0x43, 1, 0x50); // channel 1, LSB only, mode 0
        p.write(0x41, 1, 0x34);
        assert_eq!(p.read(0x41, 1), 0x34);
        assert_eq!(p.read(0x41, 1), 0x34, "every read is the LSB");
        assert_eq!(p.channels[1].n, 0x34);
        p.write(0x43, 1, 0x60); // MSB only
        p.write(0x41, 1, 0x12);
        assert_eq!(p.read(0x41, 1), 0x12);
        assert_eq!(p.channels[1].n, 0x1200);

        // LSB-then-MSB: the read and write flip-flops are independent.
        p.write(0x43, 1, 0x74); // channel 1, mode 2
        p.write(0x41, 1, 0x78);
        p.write(0x41, 1, 0x56);
        assert_eq!(p.read(0x41, 1), 0x78);
        p.write(0x41, 1, 0x22);
        assert_eq!(p.read(0x41, 1), 0x56);
        p.write(0x41, 1, 0x11);
        assert_eq!(p.channels[1].cr, 0x1122);
        // A new control word resets both flip-flops.
        assert_eq!(p.read(0x41, 1), 0x78);
        p.write(0x43, 1, 0x74);
        p.write(0x41, 1, 0x01);
        p.write(0x41, 1, 0x02);
        assert_eq!(read16(&mut p, 1), 0x0201);
        // The control word register cannot be read.
        assert_eq!(p.read(0x43, 1), 0xFF);
    }

    #[test]
    fn state_round_trips_across_clocks() {
        let (mut p, clock, _) = pit();
        program(&mut p, 0x34, 1193);
        p.write(0x61, 1, 3);
        program(&mut p, 0xB6, 100);
        clock.sync_icount(5_000_123);
        p.poll_timer(5_000_123);
        let s = p.state();

        let (mut q, clock2, _) = pit();
        clock2.sync_icount(777);
        q.restore(s);
        assert_eq!(q.state(), s);
        for dt in [0, 839, 123_456, 2_000_000] {
            clock.sync_icount(5_000_123 + dt);
            clock2.sync_icount(777 + dt);
            assert_eq!(read16(&mut p, 0), read16(&mut q, 0));
            assert_eq!(read16(&mut p, 2), read16(&mut q, 2));
            assert_eq!(p.read(0x61, 1) & 0x2F, q.read(0x61, 1) & 0x2F);
        }
        let next = p.poll_timer(clock.now_ns()).unwrap();
        let next2 = q.poll_timer(clock2.now_ns()).unwrap();
        assert_eq!(next - 5_000_123, next2 - 777);
    }
}
