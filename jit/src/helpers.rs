//! Rust functions translated code calls. They use the System V ABI so host code can call
//! them, and return 0 to continue the block or nonzero to leave it.

use emu_core::cpu::Cpu;
use emu_core::decode::DecodedInsn;

/// Runs one instruction with the interpreter's handler: the JIT's path for everything it
/// does not translate itself (one semantics for both engines).
pub extern "sysv64" fn step(cpu: &mut Cpu, d: &DecodedInsn) -> u32 {
    let go_on = cpu.step_insn(d);
    (!go_on || cpu.code_dirty) as u32
}
