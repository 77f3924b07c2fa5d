//! The one virtual clock every device reads its time from.
//!
//! Two modes: `Realtime` follows the host's monotonic clock (what interactive users expect),
//! `Instructions` derives time from retired guest instructions (`--icount`), which makes runs
//! deterministic. Devices never read the host clock themselves; they hold a `Clock` handle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    Realtime,
    /// Each guest instruction takes `ns_per_insn` nanoseconds of virtual time.
    Instructions {
        ns_per_insn: u64,
    },
}

#[derive(Debug)]
struct Inner {
    mode: ClockMode,
    start: Instant,
    /// Instructions retired, as last reported by the CPU (Instructions mode).
    icount: AtomicU64,
    /// Virtual time skipped forward while the CPU idled (both modes).
    warp_ns: AtomicU64,
}

/// A cheap, cloneable handle to the machine's clock.
#[derive(Clone, Debug)]
pub struct Clock(Arc<Inner>);

impl Clock {
    pub fn new(mode: ClockMode) -> Self {
        Clock(Arc::new(Inner {
            mode,
            start: Instant::now(),
            icount: AtomicU64::new(0),
            warp_ns: AtomicU64::new(0),
        }))
    }

    pub fn mode(&self) -> ClockMode {
        self.0.mode
    }

    /// Nanoseconds of virtual time since the machine started.
    pub fn now_ns(&self) -> u64 {
        let warp = self.0.warp_ns.load(Ordering::Acquire);
        match self.0.mode {
            ClockMode::Realtime => self.0.start.elapsed().as_nanos() as u64 + warp,
            ClockMode::Instructions { ns_per_insn } => {
                self.0.icount.load(Ordering::Acquire) * ns_per_insn + warp
            }
        }
    }

    /// The CPU reports retired instructions before devices look at the time.
    #[inline]
    pub fn sync_icount(&self, icount: u64) {
        if matches!(self.0.mode, ClockMode::Instructions { .. }) {
            self.0.icount.store(icount, Ordering::Release);
        }
    }

    /// Instructions that fit before virtual time reaches `deadline_ns` (Instructions mode),
    /// or `None` in Realtime mode where the host clock decides.
    pub fn instructions_until(&self, deadline_ns: u64) -> Option<u64> {
        match self.0.mode {
            ClockMode::Realtime => None,
            ClockMode::Instructions { ns_per_insn } => {
                let now = self.now_ns();
                Some(deadline_ns.saturating_sub(now).div_ceil(ns_per_insn.max(1)))
            }
        }
    }

    /// Jumps virtual time forward to `deadline_ns` (an idle CPU in Instructions mode waits
    /// for nothing).
    pub fn warp_to(&self, deadline_ns: u64) {
        let now = self.now_ns();
        if deadline_ns > now {
            self.0
                .warp_ns
                .fetch_add(deadline_ns - now, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_time_is_deterministic() {
        let c = Clock::new(ClockMode::Instructions { ns_per_insn: 2 });
        c.sync_icount(1000);
        assert_eq!(c.now_ns(), 2000);
        assert_eq!(c.instructions_until(3000), Some(500));
        c.warp_to(10_000);
        assert_eq!(c.now_ns(), 10_000);
        c.sync_icount(1500);
        assert_eq!(c.now_ns(), 11_000);
    }

    #[test]
    fn realtime_moves_forward() {
        let c = Clock::new(ClockMode::Realtime);
        let a = c.now_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(c.now_ns() >= a + 1_000_000);
        assert_eq!(c.instructions_until(u64::MAX), None);
    }
}
