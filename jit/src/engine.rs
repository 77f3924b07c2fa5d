//! `JitEngine`: runs guest blocks as translated host code. The loop around blocks
//! (interrupts, requests, budget, finding the block) is the interpreter's own
//! [`Cpu::next_block`]; only running a block differs.

use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, DynasmApi, VecAssembler};
use emu_core::cpu::Cpu;
use emu_core::decode::Block;
use emu_core::engine::ExecutionEngine;
use emu_core::interp::{NextBlock, StopReason};

use crate::code_region::CodeRegion;
use std::cell::Cell;
use std::io::Write;

use crate::chain::ChainSlot;
use crate::jump_cache::JumpCache;
use crate::translate::{translate_block, ChainContext, TranslationStats};

/// Room asked for before assembling a block; longer translations are assembled again.
const MAX_GUESS: usize = 4096;

/// Default bound of the code region (`--jit-cache-mb`).
pub const DEFAULT_CACHE_MB: usize = 256;

/// The trampoline: `enter(cpu, code, ram, tlb_set, end, requests)` saves the callee-saved
/// registers, puts the `Cpu` pointer in RBX, the host address of guest RAM in R12, the TLB
/// set of the current privilege level in R13, the `icount` chained blocks stop at in R14
/// and the address of the machine's request word in R15, and jumps to `code`; translated
/// code jumps back to its epilogue.
type Enter = extern "sysv64" fn(
    cpu: *mut Cpu,
    code: usize,
    ram: usize,
    tlb_set: usize,
    end: u64,
    requests: usize,
);

#[derive(Clone, Copy, Debug, Default)]
pub struct JitStats {
    pub blocks_translated: u64,
    pub insns: TranslationStats,
    pub blocks_run: u64,
    /// Chained exits linked to their successor.
    pub links: u64,
}

pub struct JitEngine {
    region: CodeRegion,
    /// Links of chained exits; they die with the code region's contents.
    #[allow(clippy::vec_box)] // Boxed: translated code holds each slot's address.
    slots: Vec<Box<ChainSlot>>,
    jump_cache: JumpCache,
    /// The shared jump-cache lookup blocks end with (`translate::emit_jump_stub`).
    jump_stub: usize,
    /// Translated code stores here the link it found empty (see `chain`).
    link_request: Box<Cell<usize>>,
    enter: Enter,
    exit: usize,
    pub stats: JitStats,
    /// `--trace jit`: where translations are listed.
    pub trace: Option<Box<dyn std::io::Write>>,
    /// `--perfmap`: Linux perf's `/tmp/perf-PID.map`, one line per translation, so `perf
    /// report` names translated code by guest address.
    perf_map: Option<Box<dyn std::io::Write>>,
}

impl JitEngine {
    pub fn new(cache_mb: usize) -> std::io::Result<Self> {
        let mut region = CodeRegion::new(cache_mb.max(1) << 20)?;
        let base = region.next_addr(1024)?.expect("an empty region has room");
        let mut ops = VecAssembler::<X64Relocation>::new(base);
        dynasm!(ops
            ; .arch x64
            ; push rbx
            ; push rbp
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            // Six pushes after the return address: RSP is 16-byte aligned again after this,
            // as calls from translated code need.
            ; sub rsp, 8
            ; mov rbx, rdi
            ; mov r12, rdx
            ; mov r13, rcx
            ; mov r14, r8
            ; mov r15, r9
            ; jmp rsi
        );
        let exit_offset = ops.offset().0;
        dynasm!(ops
            ; .arch x64
            ; add rsp, 8
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbp
            ; pop rbx
            ; ret
        );
        let jump_cache = JumpCache::default();
        let jump_stub = base + ops.offset().0;
        crate::translate::emit_jump_stub(&mut ops, jump_cache.base(), base + exit_offset);
        let code = ops.finalize().map_err(std::io::Error::other)?;
        let at = region.append(&code)?;
        debug_assert_eq!(at, base);
        region.pin();
        // SAFETY: `at` is the start of the trampoline just assembled above for this address;
        // its code follows the System V ABI declared by `Enter` and the region stays mapped
        // (and executable outside `append`) for the engine's lifetime.
        let enter: Enter = unsafe { std::mem::transmute::<usize, Enter>(at) };
        Ok(JitEngine {
            region,
            slots: Vec::new(),
            jump_cache,
            jump_stub,
            link_request: Box::new(Cell::new(0)),
            enter,
            exit: at + exit_offset,
            stats: JitStats::default(),
            trace: None,
            perf_map: None,
        })
    }

    /// Fills the link the last block found empty if `block` is the successor it names.
    fn link(&mut self, block: &Block, code: usize) {
        let slot = self.link_request.replace(0);
        if slot == 0 {
            return;
        }
        // SAFETY: a nonzero request is the address of a `ChainSlot` boxed in `self.slots`
        // (translated code stores nothing else there), and requests are cleared whenever
        // `slots` is.
        let slot = unsafe { &*(slot as *const ChainSlot) };
        if slot.host == block.host && slot.eip == block.eip && slot.code32 == block.code32 {
            slot.target.set(code);
            self.stats.links += 1;
        }
    }

    /// Names the engine's own code (trampoline, exit, jump stub) in the perf map.
    pub fn enable_perf_map(&mut self, mut map: Box<dyn std::io::Write>) {
        let enter = self.enter as usize;
        let _ = writeln!(map, "{enter:x} {:x} ringside_jit_enter", self.exit - enter);
        let _ = writeln!(
            map,
            "{:x} {:x} ringside_jit_exit",
            self.exit,
            self.jump_stub - self.exit
        );
        let _ = writeln!(
            map,
            "{:x} 200 ringside_jit_jump_cache_lookup",
            self.jump_stub
        );
        self.perf_map = Some(map);
    }

    pub fn code_cache_flushes(&self) -> u64 {
        self.region.flushes
    }

    /// Host code for `block`, translating it on first use. A full region is flushed with
    /// every decoded block (their host code goes with it) and refilled.
    fn code_for(&mut self, cpu: &mut Cpu, block: &Block) -> usize {
        let code = block.native.get();
        if code != 0 {
            return code;
        }
        // Code is position-dependent (calls and exits are absolute): assemble once for a
        // guessed address, and again if the bytes land elsewhere.
        let mut len = MAX_GUESS;
        loop {
            let at = match self.region.next_addr(len) {
                Ok(Some(at)) => at,
                Ok(None) => {
                    self.region.flush();
                    self.slots.clear();
                    self.jump_cache.clear();
                    self.link_request.set(0);
                    cpu.icache.clear();
                    continue;
                }
                Err(e) => panic!("cannot map JIT code memory: {e}"),
            };
            let chain = ChainContext {
                link_request: self.link_request.as_ptr() as usize,
                jump_stub: self.jump_stub,
                slots: &mut self.slots,
            };
            let flat = crate::translate::flat_segments(&cpu.state);
            let (bytes, s) = translate_block(block, at, self.exit, chain, flat);
            if bytes.len() > len {
                len = bytes.len();
                continue;
            }
            let at = match self.region.append(&bytes) {
                Ok(at) => at,
                Err(e) => panic!("cannot change the JIT code cache's protection: {e}"),
            };
            self.stats.blocks_translated += 1;
            self.stats.insns.native += s.native;
            self.stats.insns.helper += s.helper;
            block.native.set(at);
            if let Some(m) = &mut self.perf_map {
                let _ = writeln!(
                    m,
                    "{at:x} {:x} guest_{:08x}_{}",
                    bytes.len(),
                    block.eip,
                    if block.code32 { 32 } else { 16 }
                );
            }
            if let Some(t) = &mut self.trace {
                // A broken trace sink must not stop the guest.
                let _ = t.write_all(crate::trace::describe_block(block, at, &bytes).as_bytes());
            }
            return at;
        }
    }
}

impl ExecutionEngine for JitEngine {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn run(&mut self, cpu: &mut Cpu, budget: u64) -> StopReason {
        let end = cpu.icount.saturating_add(budget);
        loop {
            let block = match cpu.next_block(end) {
                NextBlock::Stop(why) => return why,
                NextBlock::Again => continue,
                NextBlock::Run(b) => b,
            };
            if cpu.alignment_checking() {
                // Native loads and stores do not check alignment: such blocks are rare.
                cpu.interpret_block(&block);
                cpu.end_block();
                continue;
            }
            let code = self.code_for(cpu, &block);
            self.link(&block, code);
            self.jump_cache.insert(&block, code);
            self.stats.blocks_run += 1;
            let ram = cpu.mem.host.base_ptr() as usize;
            let tlb_set = cpu.tlb.sets[cpu.user()].as_ptr() as usize;
            let requests = cpu.control.pending_word() as *const _ as usize;
            (self.enter)(cpu, code, ram, tlb_set, end, requests);
            // `block` (and with it the instructions the code points at) lived until here.
            drop(block);
            cpu.end_block();
        }
    }

    fn stats(&self) -> String {
        let s = &self.stats;
        format!(
            "{} blocks translated ({} instructions native, {} through the interpreter), {} blocks entered from the dispatcher, {} links, {} code-cache flushes, {} KiB of code",
            s.blocks_translated,
            s.insns.native,
            s.insns.helper,
            s.blocks_run,
            s.links,
            self.region.flushes,
            self.region.used() / 1024
        )
    }
}
