//! Rust functions translated code calls. They use the System V ABI so host code can call
//! them, and return 0 to continue the block or nonzero to leave it.

use emu_core::cpu::Cpu;
use emu_core::decode::DecodedInsn;

/// Runs one instruction with the interpreter's handler: the JIT's path for everything it
/// does not translate itself (one semantics for both engines). RIP and `icount` are
/// current when it is called.
pub extern "sysv64" fn step(cpu: &mut Cpu, d: &DecodedInsn) -> u32 {
    let go_on = cpu.step_insn(d);
    // FERR# (an x87 error under CR0.NE = 0) is signalled by the dispatcher.
    (!go_on || cpu.code_dirty || cpu.state.fpu.ferr == 1) as u32
}

/// The slow path of a native instruction (TLB miss, page crossing, MMIO, a segment the
/// inline checks do not cover, a 16-bit stack): the interpreter runs the whole
/// instruction. Translated code has not yet counted the `pending` instructions it ran
/// natively before this one, nor written RIP; both are made exact here so a fault is
/// precise, and put back afterwards when the block goes on.
pub extern "sysv64" fn step_slow(cpu: &mut Cpu, d: &DecodedInsn, pending: u32) -> u32 {
    cpu.state.rip = d.instr.ip() as u32 as u64;
    cpu.icount += pending as u64;
    if !cpu.step_insn(d) || cpu.code_dirty {
        return 1;
    }
    cpu.icount -= pending as u64 + 1;
    0
}

/// CF as the lazy record defines it, folded into `eflags` (what INC/DEC keep).
pub extern "sysv64" fn fold_carry(cpu: &mut Cpu) {
    let f = &mut cpu.state.lazy;
    let cf = f.cf() as u32;
    f.eflags = (f.eflags & !emu_core::cpu::flags::CF) | cf;
}

/// Condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc) on the current flags: for
/// conditional instructions whose flags the translator does not know.
pub extern "sysv64" fn condition(cpu: &Cpu, cc: u32) -> u32 {
    cpu.state.lazy.condition(cc as u8) as u32
}

/// CF on the current flags (the carry-in of ADC/SBB).
pub extern "sysv64" fn carry(cpu: &Cpu) -> u32 {
    cpu.state.lazy.cf() as u32
}

/// A block whose segments are no longer what its translation assumed (see
/// `translate::flat_segments`): the interpreter runs it.
pub extern "sysv64" fn interpret_block(cpu: &mut Cpu, block: &emu_core::decode::Block) {
    cpu.interpret_block(block);
}
