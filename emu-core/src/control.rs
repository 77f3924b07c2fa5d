//! Requests that reach the running CPU from devices and other threads (exit, reset, stop,
//! A20). The CPU polls them at block boundaries: one relaxed atomic load.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

pub const REQ_EXIT: u32 = 1 << 0;
pub const REQ_RESET: u32 = 1 << 1;
/// Stop executing and return to the caller (debugger break, monitor `stop`).
pub const REQ_STOP: u32 = 1 << 2;
/// The A20 gate line changed (port 0x92 or the keyboard controller).
pub const REQ_A20: u32 = 1 << 3;
/// Interrupt controller state changed (INTR may be asserted).
pub const REQ_IRQ: u32 = 1 << 4;

#[derive(Debug, Default)]
pub struct MachineControl {
    requests: AtomicU32,
    exit_code: AtomicI32,
    a20: AtomicBool,
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
}
