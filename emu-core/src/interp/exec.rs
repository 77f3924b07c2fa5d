//! The interpreter's main loop: find or build the decoded block at CS:EIP, run its
//! instructions, deliver exceptions and interrupts between them.

use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl, Instruction};

use crate::cpu::core::Cpu;
use crate::cpu::flags::IF;
use crate::cpu::state::{RunState, CS};
use crate::decode::{Block, DecodedInsn};
use crate::exception::{Exception, Fault};
use crate::interp::table::handler_for;
use crate::memory::{PageTarget, PAGE_SIZE};

/// The PC wires the FPU's FERR# output to IRQ 13.
pub const FERR_IRQ: u8 = 13;

/// Longest block: bounds how long interrupts and requests wait.
const MAX_BLOCK: usize = 64;

/// Why `run` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The instruction budget ran out.
    Budget,
    /// A request from `MachineControl` needs the machine's attention.
    Request,
    /// HLT with interrupts disabled or no interrupt source: nothing will ever happen.
    Halted,
    /// Triple fault or shutdown.
    Shutdown,
}

fn decode_one(bytes: &[u8], code32: bool, eip: u32) -> (Instruction, DecoderError) {
    let mut d = Decoder::with_ip(
        if code32 { 32 } else { 16 },
        bytes,
        eip as u64,
        DecoderOptions::NONE,
    );
    let mut ins = Instruction::default();
    d.decode_out(&mut ins);
    (ins, d.last_error())
}

/// Prefix bytes an instruction may repeat (legacy prefixes of IA-32).
fn is_prefix(b: u8) -> bool {
    matches!(
        b,
        0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0x66 | 0x67 | 0xF0 | 0xF2 | 0xF3
    )
}

/// An undecodable instruction that is only too long (prefixes pushing a valid instruction
/// past 15 bytes) raises #GP(0), not #UD (SDM Vol. 2, 2.3.11).
fn too_long(bytes: &[u8], code32: bool) -> bool {
    let prefixes = bytes.iter().take_while(|&&b| is_prefix(b)).count();
    if prefixes == 0 || prefixes >= bytes.len() {
        return prefixes >= 15;
    }
    let (ins, err) = decode_one(&bytes[prefixes..], code32, 0);
    err == DecoderError::None && ins.code() != iced_x86::Code::INVALID && prefixes + ins.len() > 15
}

fn decoded(ins: Instruction, code32: bool) -> DecodedInsn {
    let next = ins.next_ip() as u32;
    DecodedInsn {
        handler: handler_for(&ins),
        next_rip: if code32 { next } else { next & 0xFFFF },
        instr: ins,
    }
}

/// Bytes of code available at CS:EIP before the CS limit cuts them off.
fn limit_room(cpu: &Cpu, eip: u32) -> u64 {
    let cs = &cpu.state.seg[CS];
    if eip > cs.limit {
        0
    } else {
        (cs.limit - eip) as u64 + 1
    }
}

/// One instruction that cannot be cached: it crosses a page, runs from MMIO, or touches the
/// CS limit. Fetches its bytes one at a time so faults name the right address.
fn fetch_slow(cpu: &mut Cpu, eip: u32) -> Result<DecodedInsn, Exception> {
    let code32 = cpu.state.code32();
    let base = cpu.state.seg[CS].base as u32;
    let room = limit_room(cpu, eip).min(15) as usize;
    let mut bytes = Vec::with_capacity(15);
    loop {
        let (ins, err) = decode_one(&bytes, code32, eip);
        if err == DecoderError::None {
            return Ok(decoded(ins, code32));
        }
        if err != DecoderError::NoMoreBytes || bytes.len() >= 15 {
            return Ok(decoded(Instruction::default(), code32));
        }
        if bytes.len() >= room {
            return Err(Exception::gp0());
        }
        let off = if code32 {
            eip.wrapping_add(bytes.len() as u32)
        } else {
            (eip + bytes.len() as u32) & 0xFFFF
        };
        let lin = base.wrapping_add(off);
        let user = cpu.state.cpl == 3;
        let phys = match cpu.translate(lin, false, user) {
            Ok(p) => p,
            Err(Fault::Exception(e)) => return Err(e),
            Err(Fault::EndBlock) => unreachable!("translate never ends blocks"),
        };
        bytes.push(cpu.phys_read(phys, 1) as u8);
    }
}

/// Finds or builds the block at CS:EIP. `Ok(Err(insn))` means "execute this single uncached
/// instruction".
fn block_at(cpu: &mut Cpu) -> Result<Result<std::rc::Rc<Block>, DecodedInsn>, Exception> {
    let eip = cpu.state.eip();
    let code32 = cpu.state.code32();
    let lin = (cpu.state.seg[CS].base as u32).wrapping_add(eip);
    let (_, target) = match cpu.fetch_target(lin) {
        Ok(t) => t,
        Err(Fault::Exception(e)) => return Err(e),
        Err(Fault::EndBlock) => unreachable!(),
    };
    let host = match target {
        PageTarget::Host { offset, .. } => offset + (lin & 0xFFF) as usize,
        _ => return fetch_slow(cpu, eip).map(Err),
    };
    if let Some(b) = cpu.icache.lookup(host, eip, code32) {
        return Ok(Ok(b));
    }
    let page_room = PAGE_SIZE as usize - (lin & 0xFFF) as usize;
    let mut room = page_room.min(limit_room(cpu, eip) as usize);
    if !code32 {
        // 16-bit IP wraps at 64 KiB: the block stops there.
        room = room.min(0x1_0000 - (eip as usize & 0xFFFF));
    }
    let bytes = &cpu.mem.host.bytes()[host..host + room];
    let mut d = Decoder::with_ip(
        if code32 { 32 } else { 16 },
        bytes,
        eip as u64,
        DecoderOptions::NONE,
    );
    let mut insns = Vec::new();
    let mut ins = Instruction::default();
    while d.can_decode() && insns.len() < MAX_BLOCK {
        d.decode_out(&mut ins);
        if d.last_error() == DecoderError::NoMoreBytes {
            break;
        }
        let ends = ins.flow_control() != FlowControl::Next;
        let at = (ins.ip() as u32).wrapping_sub(eip) as usize;
        let mut d = decoded(ins, code32);
        if ins.code() == iced_x86::Code::INVALID
            && too_long(&bytes[at..(at + 32).min(bytes.len())], code32)
        {
            d.handler = crate::interp::ops_system::too_long;
        }
        insns.push(d);
        if ends {
            break;
        }
    }
    if insns.is_empty() {
        return fetch_slow(cpu, eip).map(Err);
    }
    let page = host & !(PAGE_SIZE as usize - 1);
    if !cpu.mem.is_code(page) {
        cpu.mem.mark_code(page);
        cpu.tlb.protect_host_page(page as u64);
    }
    let block = Block {
        host,
        eip,
        code32,
        insns: insns.into_boxed_slice(),
        valid: std::cell::Cell::new(true),
        native: std::cell::Cell::new(0),
    };
    Ok(Ok(cpu.icache.insert(block)))
}

/// What the engine-independent part of the run loop decided (see [`Cpu::next_block`]).
pub enum NextBlock {
    /// Return to the machine loop.
    Stop(StopReason),
    /// Something other than a block ran (an interrupt was delivered, a single instruction
    /// stepped, an exception raised): ask again.
    Again,
    /// Run this block, then call [`Cpu::end_block`].
    Run(std::rc::Rc<Block>),
}

impl Cpu {
    /// Runs one decoded instruction; returns false when the block must end. Engines call this
    /// for every instruction they do not translate themselves.
    #[inline(always)]
    pub fn step_insn(&mut self, d: &DecodedInsn) -> bool {
        self.next_rip = d.next_rip as u64;
        match (d.handler)(self, &d.instr) {
            Ok(()) => {
                self.state.rip = self.next_rip;
                self.icount += 1;
                true
            }
            Err(Fault::EndBlock) => {
                self.state.rip = self.next_rip;
                self.icount += 1;
                false
            }
            Err(Fault::Exception(e)) => {
                self.raise(e);
                false
            }
        }
    }

    /// Drops cached blocks whose code the guest overwrote.
    fn flush_written_code(&mut self) {
        self.code_dirty = false;
        for page in std::mem::take(&mut self.mem.code_written) {
            self.icache.invalidate_page(page);
        }
    }

    /// Executes one instruction (debugger single step, interrupt shadows).
    pub fn step(&mut self) {
        match block_at(self) {
            Ok(Ok(b)) => {
                let d = b.insns[0].clone();
                self.step_insn(&d);
            }
            Ok(Err(d)) => {
                self.step_insn(&d);
            }
            Err(e) => self.raise(e),
        }
        if self.code_dirty {
            self.flush_written_code();
        }
    }

    /// Legacy x87 error reporting (CR0.NE = 0): FERR# reaches the PIC as IRQ 13, which stays
    /// latched until software writes port 0xF0 (SDM Vol. 1, 8.7 and appendix D).
    #[cold]
    fn signal_ferr(&mut self) {
        self.state.fpu.ferr = 2;
        self.irq.set(FERR_IRQ, true);
    }

    /// Takes a pending maskable interrupt if the CPU can accept one now.
    #[inline]
    fn poll_interrupt(&mut self) -> bool {
        let if_set = self.state.lazy.eflags_raw() & IF != 0;
        let nmi_open = self.state.nmi_blocked == 0;
        if !if_set && !nmi_open {
            return false;
        }
        let Some(intc) = self.io.interrupt_controller() else {
            return false;
        };
        if nmi_open && intc.take_nmi() {
            // NMIs stay blocked until the handler's IRET (SDM Vol. 3, 6.7.1).
            self.state.nmi_blocked = 1;
            if self.state.run_state == RunState::Halted {
                self.state.run_state = RunState::Running;
            }
            self.deliver_interrupt(2, crate::interp::interrupt::Source::External);
            return true;
        }
        if !if_set {
            return false;
        }
        let Some(intc) = self.io.interrupt_controller() else {
            return false;
        };
        if !intc.has_interrupt() {
            return false;
        }
        let vector = intc.acknowledge();
        if self.state.run_state == RunState::Halted {
            self.state.run_state = RunState::Running;
        }
        self.deliver_interrupt(vector, crate::interp::interrupt::Source::External);
        true
    }

    /// Runs until `budget` instructions retired or something needs the caller.
    pub fn run(&mut self, budget: u64) -> StopReason {
        let end = self.icount.saturating_add(budget);
        loop {
            let block = match self.next_block(end) {
                NextBlock::Stop(why) => return why,
                NextBlock::Again => continue,
                NextBlock::Run(b) => b,
            };
            self.interpret_block(&block);
            self.end_block();
        }
    }

    /// Runs a block's instructions with their handlers until one ends it or overwrites code.
    #[inline]
    pub fn interpret_block(&mut self, block: &Block) {
        for d in block.insns.iter() {
            if !self.step_insn(d) {
                break;
            }
            if self.code_dirty {
                break;
            }
        }
    }

    /// Everything between two blocks that does not depend on the engine: requests, halts,
    /// interrupt shadows and delivery, the budget (`end` is an `icount`), debug traps, and
    /// finding the next block.
    pub fn next_block(&mut self, end: u64) -> NextBlock {
        if self.control.pending() != 0 {
            return NextBlock::Stop(StopReason::Request);
        }
        // DMA and debugger writes into code pages land here between blocks.
        if !self.mem.code_written.is_empty() {
            self.flush_written_code();
        }
        if self.state.fpu.ferr == 1 {
            self.signal_ferr();
        }
        match self.state.run_state {
            RunState::Running => {}
            RunState::Halted => {
                if !self.poll_interrupt() {
                    return NextBlock::Stop(StopReason::Halted);
                }
                return NextBlock::Again;
            }
            RunState::Shutdown => return NextBlock::Stop(StopReason::Shutdown),
        }
        if self.state.interrupt_shadow != 0 {
            self.state.interrupt_shadow = 0;
            self.refresh_alignment_check();
            self.step();
            return NextBlock::Again;
        }
        self.poll_interrupt();
        if self.icount >= end {
            return NextBlock::Stop(StopReason::Budget);
        }
        self.refresh_alignment_check();
        if self.needs_debug_steps() {
            self.step_debug();
            return NextBlock::Again;
        }
        match block_at(self) {
            Ok(Ok(b)) => NextBlock::Run(b),
            Ok(Err(d)) => {
                self.step_insn(&d);
                self.end_block();
                NextBlock::Again
            }
            Err(e) => {
                self.raise(e);
                NextBlock::Again
            }
        }
    }

    /// After a block: drops cached blocks whose code it overwrote.
    #[inline]
    pub fn end_block(&mut self) {
        if self.code_dirty {
            self.flush_written_code();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::PortBus;
    use crate::control::MachineControl;
    use crate::cpu::segment::SegmentCache;
    use crate::cpu::state::{RAX, RSP, SS};
    use crate::memory::PhysicalMemory;
    use std::sync::Arc;

    /// Real mode at 0000:7C00 running `code`.
    fn cpu_with(code: &[u8]) -> Cpu {
        let mem = PhysicalMemory::new(1 << 20, &[0u8; 4096]).unwrap();
        let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
        cpu.mem.write_bytes(0x7C00, code);
        cpu.state.seg[CS] = SegmentCache::real_mode(0);
        cpu.state.seg[SS] = SegmentCache::real_mode(0);
        cpu.state.rip = 0x7C00;
        cpu.state.set_reg16(RSP, 0x7000);
        cpu
    }

    /// An interrupt controller that raises NMIs on demand and never INTR.
    struct NmiSource(std::rc::Rc<std::cell::Cell<u32>>);
    impl crate::bus::PortDevice for NmiSource {
        fn read(&mut self, _: u16, _: u8) -> u32 {
            0
        }
        fn write(&mut self, _: u16, _: u8, _: u32) {}
        fn as_interrupt_controller(&mut self) -> Option<&mut dyn crate::bus::InterruptController> {
            Some(self)
        }
    }
    impl crate::bus::InterruptController for NmiSource {
        fn has_interrupt(&mut self) -> bool {
            false
        }
        fn acknowledge(&mut self) -> u8 {
            unreachable!("no INTR")
        }
        fn take_nmi(&mut self) -> bool {
            let n = self.0.get();
            self.0.set(n.saturating_sub(1));
            n > 0
        }
    }

    #[test]
    fn nmi_is_taken_with_if_clear_and_blocked_until_iret() {
        // cli ; hlt ; hlt -- the NMI handler at 0x7D00: inc ax ; iret
        let mut cpu = cpu_with(&[0xFA, 0xF4, 0xF4]);
        cpu.mem.write_bytes(0x7D00, &[0x40, 0xCF]);
        cpu.mem.write_u32(2 * 4, 0x0000_7D00);
        let pending = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut io = PortBus::default();
        io.register_interrupt_controller([0x20], Box::new(NmiSource(pending.clone())));
        cpu.io = io;
        assert_eq!(cpu.run(100), StopReason::Halted);
        assert_eq!(cpu.state.reg16(RAX), 0);
        // Two NMIs arrive: the first wakes the HLT despite IF = 0; the second waits for the
        // first handler's IRET, then runs, and the CPU halts again at the next HLT.
        pending.set(2);
        assert_eq!(cpu.run(100), StopReason::Halted);
        assert_eq!(
            cpu.state.reg16(RAX),
            2,
            "both handlers ran, one after the other"
        );
        assert_eq!(pending.get(), 0);
        assert_eq!(cpu.state.nmi_blocked, 0, "IRET unblocked NMIs");
    }

    #[test]
    fn block_patching_its_own_next_instruction_runs_the_new_code() {
        // mov byte [0x7C05], 0x40 ; nop (becomes inc ax) ; hlt
        let mut cpu = cpu_with(&[0xC6, 0x06, 0x05, 0x7C, 0x40, 0x90, 0xF4]);
        assert_eq!(cpu.run(100), StopReason::Halted);
        assert_eq!(
            cpu.state.reg16(RAX),
            1,
            "the patched INC AX ran, not the stale NOP"
        );
        assert!(cpu.icache.invalidations >= 1);
    }

    #[test]
    fn writes_from_outside_the_cpu_invalidate_cached_code() {
        // inc ax ; hlt
        let mut cpu = cpu_with(&[0x40, 0xF4]);
        cpu.run(100);
        assert_eq!(cpu.state.reg16(RAX), 1);
        // A DMA-style physical write replaces INC AX with DEC AX.
        assert!(cpu.mem.is_code(0x7000));
        cpu.mem.write_bytes(0x7C00, &[0x48]);
        assert_eq!(cpu.mem.code_written, vec![0x7000]);
        cpu.state.rip = 0x7C00;
        cpu.state.run_state = RunState::Running;
        cpu.run(100);
        assert_eq!(cpu.state.reg16(RAX), 0, "the new DEC AX ran");
    }

    #[test]
    fn hot_loops_are_decoded_once() {
        // mov cx, 1000 ; l: inc ax ; loop l ; hlt
        let mut cpu = cpu_with(&[0xB9, 0xE8, 0x03, 0x40, 0xE2, 0xFD, 0xF4]);
        cpu.run(10_000);
        assert_eq!(cpu.state.reg16(RAX), 1000);
        assert!(
            cpu.icache.blocks_built <= 4,
            "built {} blocks",
            cpu.icache.blocks_built
        );
    }

    #[test]
    fn legacy_x87_error_reporting_raises_irq13() {
        use iced_x86::code_asm::*;
        // CR0.NE is clear after reset: an unmasked divide-by-zero is reported through FERR#.
        let mut a = CodeAssembler::new(16).unwrap();
        a.fninit().unwrap();
        a.fldcw(word_ptr(0x600)).unwrap();
        a.fld1().unwrap();
        a.fldz().unwrap();
        a.fdivp(st1, st0).unwrap();
        a.wait().unwrap();
        a.hlt().unwrap();
        let code = a.assemble(0x7C00).unwrap();
        let mut cpu = cpu_with(&code);
        cpu.mem.write_bytes(0x600, &0x037Bu16.to_le_bytes());
        cpu.run(100);
        assert_eq!(
            cpu.state.eip(),
            0x7C00 + code.len() as u32,
            "no #MF without CR0.NE"
        );
        assert_ne!(cpu.irq.levels() & (1 << FERR_IRQ), 0, "IRQ 13 asserted");
    }

    #[test]
    fn writes_to_data_on_a_code_page_keep_working() {
        // mov word [0x7C20], 0x1234 ; mov ax, [0x7C20] ; hlt  (data next to code)
        let mut cpu = cpu_with(&[0xC7, 0x06, 0x20, 0x7C, 0x34, 0x12, 0xA1, 0x20, 0x7C, 0xF4]);
        cpu.run(100);
        assert_eq!(cpu.state.reg16(RAX), 0x1234);
    }
}
