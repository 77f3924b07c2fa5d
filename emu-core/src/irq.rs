//! Interrupt request lines between devices and the interrupt controller.
//!
//! Devices hold a clone of `IrqLines` and drive their line's level; the controller samples
//! levels and latched rising edges when the CPU asks for an interrupt. Shared atomics keep
//! devices free of any reference to the controller (and work across threads, for the window
//! and serial front ends).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
struct Lines {
    level: AtomicU32,
    /// Rising edges since the controller last looked.
    edges: AtomicU32,
}

/// The 16 ISA interrupt lines (IRQ0-15).
#[derive(Clone, Debug, Default)]
pub struct IrqLines(Arc<Lines>);

impl IrqLines {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drives line `irq` to `high`.
    pub fn set(&self, irq: u8, high: bool) {
        let bit = 1u32 << irq;
        if high {
            let old = self.0.level.fetch_or(bit, Ordering::AcqRel);
            if old & bit == 0 {
                self.0.edges.fetch_or(bit, Ordering::AcqRel);
            }
        } else {
            self.0.level.fetch_and(!bit, Ordering::AcqRel);
        }
    }

    /// A rising and falling edge (an edge-triggered request that leaves the line low).
    pub fn pulse(&self, irq: u8) {
        self.set(irq, true);
        self.set(irq, false);
    }

    pub fn levels(&self) -> u32 {
        self.0.level.load(Ordering::Acquire)
    }

    /// Takes the rising edges latched since the last call.
    pub fn take_edges(&self) -> u32 {
        self.0.edges.swap(0, Ordering::AcqRel)
    }

    /// Anything the controller has not looked at yet (cheap check for the CPU loop).
    pub fn peek_edges(&self) -> u32 {
        self.0.edges.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_latch_until_taken() {
        let l = IrqLines::new();
        l.pulse(4);
        assert_eq!(l.levels(), 0);
        assert_eq!(l.take_edges(), 1 << 4);
        assert_eq!(l.take_edges(), 0);
        l.set(1, true);
        l.set(1, true);
        assert_eq!(l.take_edges(), 1 << 1, "holding a line high is one edge");
        assert_eq!(l.levels(), 1 << 1);
    }
}
