//! `Cpu`: the architectural state together with what executing it needs (memory, ports, TLB,
//! decoded-instruction cache). Engines (interpreter, JIT) run a `Cpu`.

use std::sync::Arc;

use crate::bus::PortBus;
use crate::clock::{Clock, ClockMode};
use crate::control::MachineControl;
use crate::cpu::state::CpuState;
use crate::decode::DecodeCache;
use crate::memory::PhysicalMemory;
use crate::mmu::Tlb;

pub struct Cpu {
    pub state: CpuState,
    pub tlb: Box<Tlb>,
    pub mem: PhysicalMemory,
    pub io: PortBus,
    pub icache: DecodeCache,
    pub control: Arc<MachineControl>,
    /// The machine's virtual clock (devices hold clones).
    pub clock: Clock,
    /// Interrupt lines the CPU itself drives (FERR# on IRQ 13).
    pub irq: crate::irq::IrqLines,
    /// Guest instructions retired: the basis of the virtual clock and the TSC.
    pub icount: u64,
    /// EIP the current instruction continues at unless it jumps (set before each handler).
    pub next_rip: u64,
    /// A write hit a page holding cached code: the running block may be stale.
    pub code_dirty: bool,
    /// Delivering an exception right now (for double/triple fault detection).
    pub(crate) delivering: Option<u8>,
    /// Stop at the entry of every interrupt/exception handler instead of entering it
    /// (debugger `catch`, differential tests). The event lands in `intercepted`.
    pub intercept_vectors: bool,
    pub intercepted: Option<VectorEvent>,
    /// Events delivered so far (tells a single step whether it entered a handler).
    pub(crate) deliveries: u64,
    /// DR6 B0-B3 bits of data breakpoints hit by the current instruction.
    pub(crate) data_hits: u32,
    /// Alignment checking is on: CR0.AM, EFLAGS.AC and CPL 3 (refreshed at block starts).
    pub(crate) ac_active: bool,
}

/// An interrupt or exception the CPU was about to deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorEvent {
    pub vector: u8,
    pub error_code: Option<u32>,
    /// EIP the handler would return to.
    pub return_eip: u32,
}

impl Cpu {
    pub fn new(mem: PhysicalMemory, io: PortBus, control: Arc<MachineControl>) -> Self {
        Cpu {
            state: CpuState::default(),
            tlb: Box::default(),
            mem,
            io,
            icache: DecodeCache::default(),
            control,
            clock: Clock::new(ClockMode::Instructions { ns_per_insn: 1 }),
            irq: crate::irq::IrqLines::new(),
            icount: 0,
            next_rip: 0,
            code_dirty: false,
            delivering: None,
            intercept_vectors: false,
            intercepted: None,
            deliveries: 0,
            data_hits: 0,
            ac_active: false,
        }
    }

    /// RESET: architectural state to its power-on values, caches dropped; memory kept.
    pub fn reset(&mut self) {
        self.state.reset();
        self.mem.a20_mask = !0;
        self.mem.reset_low_map();
        self.state.a20_enabled = 1;
        self.tlb.flush_all();
        self.icache.clear();
        self.delivering = None;
    }

    /// The TLB set for the current privilege level.
    #[inline(always)]
    pub fn user(&self) -> usize {
        (self.state.cpl == 3) as usize
    }

    /// Opens or closes the A20 gate (keyboard controller, port 0x92).
    pub fn set_a20(&mut self, enabled: bool) {
        if enabled != (self.state.a20_enabled != 0) {
            self.state.a20_enabled = enabled as u8;
            self.mem.a20_mask = if enabled { !0 } else { !(1 << 20) };
            self.tlb.flush_all();
            self.icache.clear();
        }
    }

    /// The time-stamp counter ticks at 1 GHz of virtual time, so it agrees with the PIT, the
    /// PM timer and the APIC timer. (A TSC counting instructions made Linux mark it unstable
    /// against the other clocks, and starved its jitter entropy source, whose self-test then
    /// spun for seconds.) In `Instructions` clock mode it stays deterministic.
    pub fn tsc(&self) -> u64 {
        self.tsc_raw().wrapping_add(self.state.tsc_offset)
    }

    /// The counter before the guest's IA32_TIME_STAMP_COUNTER writes.
    pub fn tsc_raw(&self) -> u64 {
        self.clock.sync_icount(self.icount);
        self.clock.now_ns()
    }
}
