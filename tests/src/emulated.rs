//! Ringside's CPU engines as an [`ExecEngine`], modelling the environment the native oracle
//! runs snippets in (see `native/mod.rs`): CPL 3, IOPL 0, IF 1, data segments based at the
//! data area with a 64 KiB limit, a code segment of the case's size.
//!
//! [`EngineKind::Interp`] single-steps the interpreter (`Cpu::step`), stopping as soon as EIP
//! reaches the end of the snippet. The block engines ([`EngineKind::Jit`] and, for telling
//! JIT bugs from block-loop bugs, [`EngineKind::InterpBlocks`]) run whole blocks through
//! `ExecutionEngine::run`: a UD2 terminator after the snippet ends the last block, and the
//! #UD it raises at the snippet's end counts as normal completion.

use std::sync::Arc;

use emu_core::bus::PortBus;
use emu_core::control::MachineControl;
use emu_core::cpu::segment::SegmentCache;
use emu_core::cpu::state::{RunState, CR0_MP, CR0_NE, CR0_PE, CS, DS, ES, FS, GS, SS};
use emu_core::cpu::Cpu;
use emu_core::engine::{ExecutionEngine, Interpreter};
use emu_core::fpu::F80;
use emu_core::memory::PhysicalMemory;

use crate::native::{flags, Case, CodeSize, CpuSnapshot, ExecEngine, FpuState, Outcome, DATA_SIZE};

const DATA_BASE: u64 = 0x10_0000;
const CODE_BASE: u64 = 0x20_0000;
/// Enough for the longest REP string case the generator makes.
const STEP_LIMIT: u64 = 1_000_000;

/// UD2: ends the snippet for the block engines.
const TERMINATOR: [u8; 2] = [0x0F, 0x0B];
/// #UD.
const UD_VECTOR: u8 = 6;
/// The JIT's code cache for differential runs (MiB). One engine serves many cases.
const JIT_CACHE_MB: usize = 16;

/// Which engine runs the cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// The interpreter, one `Cpu::step` at a time (the reference behaviour).
    #[default]
    Interp,
    /// The interpreter's block loop (`Cpu::run`) with the UD2 terminator, as the JIT runs.
    InterpBlocks,
    /// The JIT (`jit::JitEngine`), whole blocks at a time.
    Jit,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Interp => "interp",
            EngineKind::InterpBlocks => "interp-blocks",
            EngineKind::Jit => "jit",
        }
    }
}

#[derive(Default)]
pub struct EmulatedEngine {
    pub engine: EngineKind,
    /// Created on first use and kept across cases (cases get fresh `Cpu`s and decode caches;
    /// the code cache fills up and flushes as it would in a long-running machine).
    jit: Option<jit::JitEngine>,
}

impl EmulatedEngine {
    pub fn new(engine: EngineKind) -> Self {
        EmulatedEngine { engine, jit: None }
    }

    /// The JIT engine's counters, if it ran anything.
    pub fn jit_stats(&self) -> Option<String> {
        self.jit.as_ref().map(|j| j.stats())
    }

    /// Single steps until EIP reaches `end` (the historical interpreter path).
    fn run_stepping(cpu: &mut Cpu, end: u64) {
        for _ in 0..STEP_LIMIT {
            if cpu.state.rip == end || cpu.state.run_state != RunState::Running {
                break;
            }
            cpu.step();
        }
    }

    /// Runs whole blocks until the terminator's #UD at `end`, another exception, or the step
    /// budget. The terminator's #UD is forgotten: the case completed.
    fn run_blocks(engine: &mut dyn ExecutionEngine, cpu: &mut Cpu, end: u64) {
        while cpu.state.run_state == RunState::Running && cpu.icount < STEP_LIMIT {
            if cpu.state.rip == end {
                // The budget ran out exactly at the end: done, as the stepping path would be.
                break;
            }
            engine.run(cpu, STEP_LIMIT - cpu.icount);
        }
        if let Some(ev) = cpu.intercepted {
            if ev.vector == UD_VECTOR && ev.return_eip as u64 == end {
                cpu.intercepted = None;
                cpu.state.rip = end;
                cpu.state.run_state = RunState::Running;
            }
        }
    }
}

fn segment(base: u64, big: bool, code: bool) -> SegmentCache {
    // Access byte: present, DPL 3, code (execute/read) or data (read/write), accessed.
    let access: u64 = if code { 0xFB } else { 0xF3 };
    let flags: u64 = if big { 0x4 } else { 0x0 };
    let limit = 0xFFFFu64;
    let raw = (limit & 0xFFFF)
        | ((base & 0xFF_FFFF) << 16)
        | (access << 40)
        | (flags << 52)
        | ((base >> 24) << 56);
    let sel = if code { 0x1B } else { 0x23 };
    SegmentCache::from_descriptor(sel, raw)
}

impl ExecEngine for EmulatedEngine {
    fn run(&mut self, case: &Case) -> Outcome {
        let mem = PhysicalMemory::new(4 << 20, &[0u8; 4096]).expect("guest memory");
        let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
        cpu.mem.write_bytes(DATA_BASE, &case.input.mem);
        cpu.mem.write_bytes(CODE_BASE, &case.code);
        if self.engine != EngineKind::Interp {
            cpu.mem
                .write_bytes(CODE_BASE + case.code.len() as u64, &TERMINATOR);
        }
        let big = case.size == CodeSize::Bits32;
        let s = &mut cpu.state;
        // The host runs user code with CR0.NE = 1 (native #MF) and CR0.MP = 1.
        s.cr0 |= CR0_PE | CR0_NE | CR0_MP;
        s.fpu.finit();
        if let Some(f) = &case.input.fpu {
            load_fpu(&mut s.fpu, f);
        }
        for seg in [DS, ES, FS, GS, SS] {
            s.seg[seg] = segment(DATA_BASE, big, false);
        }
        s.seg[CS] = segment(CODE_BASE, big, true);
        s.cpl = 3;
        s.rip = 0;
        for (i, v) in case.input.gpr.iter().enumerate() {
            s.set_reg32(i, *v);
        }
        s.set_eflags((case.input.eflags & flags::SNAPSHOT) | flags::IF | flags::FIXED);
        cpu.intercept_vectors = true;
        let end = case.code.len() as u64;
        match self.engine {
            EngineKind::Interp => Self::run_stepping(&mut cpu, end),
            EngineKind::InterpBlocks => Self::run_blocks(&mut Interpreter, &mut cpu, end),
            EngineKind::Jit => {
                let jit = self.jit.get_or_insert_with(|| {
                    jit::JitEngine::new(JIT_CACHE_MB).expect("JIT code cache")
                });
                Self::run_blocks(jit, &mut cpu, end)
            }
        }
        let mut out = CpuSnapshot::zeroed();
        for (i, v) in out.gpr.iter_mut().enumerate() {
            *v = cpu.state.reg32(i);
        }
        out.eflags = (cpu.state.eflags() & flags::SNAPSHOT) | flags::FIXED;
        out.mem = vec![0; DATA_SIZE];
        cpu.mem.read_bytes(DATA_BASE, &mut out.mem);
        out.fpu = case.input.fpu.as_ref().map(|_| save_fpu(&cpu.state.fpu));
        match cpu.intercepted {
            Some(ev) => Outcome::Exception {
                vector: ev.vector,
                error_code: ev.error_code,
                fault_ip: ev.return_eip,
                state: out,
            },
            None => Outcome::Completed(out),
        }
    }
}

/// Loads a snapshot's x87 state (stack-order registers) into the emulator's physical registers,
/// as FXRSTOR does: only "empty or not" is taken from the tag word.
fn load_fpu(f: &mut emu_core::fpu::FpuState, s: &FpuState) {
    f.fcw = s.control;
    f.fsw = s.status;
    let top = s.top() as usize;
    for (i, r) in s.st.iter().enumerate() {
        f.regs[(top + i) & 7] = F80 {
            signif: u64::from_le_bytes(r[..8].try_into().expect("8 bytes")),
            sign_exp: u16::from_le_bytes([r[8], r[9]]),
        };
    }
    let mut derived = s.clone();
    derived.derive_tag();
    f.ftw = derived.tag;
}

/// The emulator's x87 state in snapshot form (the tag word as the emulator keeps it).
fn save_fpu(f: &emu_core::fpu::FpuState) -> FpuState {
    let top = f.top();
    let mut st = [[0u8; 10]; 8];
    for (i, r) in st.iter_mut().enumerate() {
        let v = f.regs[(top + i) & 7];
        r[..8].copy_from_slice(&v.signif.to_le_bytes());
        r[8..].copy_from_slice(&v.sign_exp.to_le_bytes());
    }
    FpuState {
        control: f.fcw,
        status: f.fsw,
        tag: f.ftw,
        st,
    }
}
