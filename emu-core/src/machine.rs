//! The machine loop: runs an engine on the CPU and answers what stops it (exit requests,
//! resets, A20 changes, triple faults, a guest halted for good).

use crate::control::{REQ_A20, REQ_DMA, REQ_EXIT, REQ_MEMMAP, REQ_RESET, REQ_STOP};
use crate::cpu::core::Cpu;
use crate::engine::ExecutionEngine;
use crate::interp::StopReason;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineExit {
    /// The guest asked to exit (isa-debug-exit, ACPI poweroff) with this process status.
    Exit(i32),
    /// Triple fault with `--no-reboot`.
    TripleFault,
    /// HLT with nothing that could ever wake the CPU.
    HaltedForever,
    /// A stop request (debugger, monitor).
    Stopped,
    /// The instruction limit given to `run` was reached.
    InstructionLimit,
}

pub struct Machine {
    pub cpu: Cpu,
    pub engine: Box<dyn ExecutionEngine>,
    /// Exit on triple fault instead of resetting (QEMU's -no-reboot).
    pub no_reboot: bool,
    pub resets: u64,
}

/// Instructions per engine call: bounds the latency of requests from other threads.
const SLICE: u64 = 1 << 20;
/// With the host clock driving time, device timers are looked at about this often
/// (50k instructions: well under a millisecond).
const REALTIME_SLICE: u64 = 50_000;
/// Longest host sleep of a halted CPU before requests are looked at again.
const MAX_IDLE_SLEEP_NS: u64 = 2_000_000;

impl Machine {
    pub fn new(cpu: Cpu, engine: Box<dyn ExecutionEngine>) -> Self {
        Machine {
            cpu,
            engine,
            no_reboot: false,
            resets: 0,
        }
    }

    /// Runs until the guest exits or stops, or `limit` instructions retire.
    pub fn run(&mut self, limit: Option<u64>) -> MachineExit {
        let end = limit.map(|l| self.cpu.icount.saturating_add(l));
        loop {
            let clock = self.cpu.clock.clone();
            clock.sync_icount(self.cpu.icount);
            let next_timer = self.cpu.io.poll_timers(clock.now_ns());
            let mut budget = match end {
                Some(e) if self.cpu.icount >= e => return MachineExit::InstructionLimit,
                Some(e) => (e - self.cpu.icount).min(SLICE),
                None => SLICE,
            };
            budget = match (
                clock.instructions_until(next_timer.unwrap_or(u64::MAX)),
                next_timer,
            ) {
                (Some(n), _) => budget.min(n.max(1)),
                (None, Some(_)) => budget.min(REALTIME_SLICE),
                (None, None) => budget,
            };
            let why = self.engine.run(&mut self.cpu, budget);
            let control = self.cpu.control.clone();
            let req = control.take(REQ_A20 | REQ_RESET | REQ_STOP | REQ_MEMMAP | REQ_DMA);
            if req & REQ_DMA != 0 {
                self.cpu.io.run_dma(&mut self.cpu.mem);
            }
            if req & REQ_A20 != 0 {
                self.cpu.set_a20(control.a20());
            }
            if req & REQ_MEMMAP != 0 {
                for change in control.take_shadow_changes() {
                    self.cpu.mem.apply_shadow(change);
                }
                self.cpu.tlb.flush_all();
                self.cpu.icache.clear();
            }
            if control.pending() & REQ_EXIT != 0 {
                return MachineExit::Exit(control.exit_code());
            }
            if req & REQ_RESET != 0 {
                self.reset();
                continue;
            }
            if req & REQ_STOP != 0 {
                return MachineExit::Stopped;
            }
            match why {
                StopReason::Shutdown => {
                    if self.no_reboot {
                        return MachineExit::TripleFault;
                    }
                    self.reset();
                }
                // A DMA completion just raised its interrupt: let the CPU take it before idling.
                StopReason::Halted if req & REQ_DMA != 0 => {}
                StopReason::Halted => {
                    let interrupts_off =
                        self.cpu.state.lazy.eflags_raw() & crate::cpu::flags::IF == 0;
                    // The guest may have programmed a timer just before halting.
                    clock.sync_icount(self.cpu.icount);
                    let next_timer = self.cpu.io.poll_timers(clock.now_ns());
                    if interrupts_off || !self.cpu.io.has_interrupt_controller() {
                        return MachineExit::HaltedForever;
                    }
                    match (next_timer, clock.mode()) {
                        (Some(deadline), _) => self.idle_until(&clock, deadline),
                        // Nothing scheduled, but input from another thread (serial, keyboard)
                        // can still wake the guest: wait for it on host time.
                        (None, crate::clock::ClockMode::Realtime) => {
                            std::thread::sleep(std::time::Duration::from_nanos(MAX_IDLE_SLEEP_NS))
                        }
                        (None, crate::clock::ClockMode::Instructions { .. }) => {
                            return MachineExit::HaltedForever
                        }
                    }
                }
                StopReason::Budget | StopReason::Request => {}
            }
        }
    }

    /// A halted CPU waits for the next timer: real time sleeps, instruction time jumps.
    fn idle_until(&mut self, clock: &crate::clock::Clock, deadline_ns: u64) {
        match clock.mode() {
            crate::clock::ClockMode::Realtime => {
                let wait = deadline_ns
                    .saturating_sub(clock.now_ns())
                    .min(MAX_IDLE_SLEEP_NS);
                std::thread::sleep(std::time::Duration::from_nanos(wait));
            }
            crate::clock::ClockMode::Instructions { .. } => clock.warp_to(deadline_ns),
        }
    }

    pub fn reset(&mut self) {
        self.resets += 1;
        self.cpu.reset();
        self.cpu.io.reset_devices();
    }
}
