//! Requests that reach the running CPU from devices and other threads (exit, reset, stop,
//! A20). The CPU polls them at block boundaries: one relaxed atomic load.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::Mutex;

pub const REQ_EXIT: u32 = 1 << 0;
pub const REQ_RESET: u32 = 1 << 1;
/// Stop executing and return to the caller (debugger break, monitor `stop`).
pub const REQ_STOP: u32 = 1 << 2;
/// The A20 gate line changed (port 0x92 or the keyboard controller).
pub const REQ_A20: u32 = 1 << 3;
/// Interrupt controller state changed (INTR may be asserted).
pub const REQ_IRQ: u32 = 1 << 4;
/// The chipset changed what backs part of the first MiB (shadow RAM control).
pub const REQ_MEMMAP: u32 = 1 << 5;
/// A bus master has data to move (`PortDevice::run_dma`).
pub const REQ_DMA: u32 = 1 << 6;

/// What backs a range of the 0xC0000-0xFFFFF window (the i440FX PAM settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShadowMode {
    /// Reads and writes go to the bus: the ROM (or nothing).
    Rom,
    /// Reads come from RAM, writes are dropped.
    RamReadOnly,
    /// Reads and writes go to RAM.
    RamReadWrite,
    /// Writes go to RAM, reads come from the ROM.
    RamWriteOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShadowChange {
    pub start: u32,
    pub len: u32,
    pub mode: ShadowMode,
}

#[derive(Debug, Default)]
pub struct MachineControl {
    requests: AtomicU32,
    exit_code: AtomicI32,
    a20: AtomicBool,
    /// Not on a hot path: chipset writes are rare.
    shadow_changes: Mutex<Vec<ShadowChange>>,
}

impl MachineControl {
    pub fn new() -> Self {
        MachineControl {
            a20: AtomicBool::new(true),
            ..Default::default()
        }
    }

    #[inline(always)]
    pub fn pending(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The request word itself: translated code polls it between chained blocks.
    pub fn pending_word(&self) -> &AtomicU32 {
        &self.requests
    }

    pub fn raise(&self, req: u32) {
        self.requests.fetch_or(req, Ordering::AcqRel);
    }

    /// Takes and clears the given requests, returning which were set.
    pub fn take(&self, mask: u32) -> u32 {
        self.requests.fetch_and(!mask, Ordering::AcqRel) & mask
    }

    /// Asks the machine to exit with `code` as the process status.
    pub fn request_exit(&self, code: i32) {
        self.exit_code.store(code, Ordering::Release);
        self.raise(REQ_EXIT);
    }

    pub fn exit_code(&self) -> i32 {
        self.exit_code.load(Ordering::Acquire)
    }

    pub fn set_a20(&self, on: bool) {
        self.a20.store(on, Ordering::Release);
        self.raise(REQ_A20);
    }

    pub fn a20(&self) -> bool {
        self.a20.load(Ordering::Acquire)
    }

    /// Asks the machine to remap part of the shadow window before the next instruction.
    pub fn request_shadow(&self, change: ShadowChange) {
        self.shadow_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change);
        self.raise(REQ_MEMMAP);
    }

    pub fn take_shadow_changes(&self) -> Vec<ShadowChange> {
        std::mem::take(
            &mut *self
                .shadow_changes
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }
}
