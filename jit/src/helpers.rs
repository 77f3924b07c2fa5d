//! Rust functions translated code calls. They use the System V ABI so host code can call
//! them. `step` returns 0 to continue the block or nonzero to leave it; the memory helpers
//! are the slow paths of native loads and stores (TLB misses, page crossings, MMIO,
//! segment checks the inline path does not do) and report faults as described on each.

use emu_core::cpu::Cpu;
use emu_core::decode::DecodedInsn;
use emu_core::exception::Fault;

/// Runs one instruction with the interpreter's handler: the JIT's path for everything it
/// does not translate itself (one semantics for both engines).
pub extern "sysv64" fn step(cpu: &mut Cpu, d: &DecodedInsn) -> u32 {
    let go_on = cpu.step_insn(d);
    (!go_on || cpu.code_dirty) as u32
}

/// Makes the guest state precise for the instruction at `rip` (the `pending` natively run
/// instructions before it are counted) and delivers the fault.
#[cold]
fn fault(cpu: &mut Cpu, f: Fault, rip: u32, pending: u32) {
    cpu.state.rip = rip as u64;
    cpu.icount += pending as u64;
    if let Fault::Exception(e) = f {
        cpu.raise(e);
    }
}

/// Bit set in a load helper's result when the load faulted (the block must be left).
pub const LOAD_FAULTED: u64 = 1 << 32;

/// A 32-bit load from `seg:off`, as `MOV r32, m32` does it.
pub extern "sysv64" fn load32(cpu: &mut Cpu, off: u32, seg: u32, rip: u32, pending: u32) -> u64 {
    match cpu.read_mem(seg as usize, off, 4) {
        Ok(v) => v as u64,
        Err(f) => {
            fault(cpu, f, rip, pending);
            LOAD_FAULTED
        }
    }
}

/// A 32-bit store to `seg:off`, as `MOV m32, r32` does it. `rips` holds the instruction's
/// EIP (low half) and the next one's (high half). Returns nonzero when the block must be
/// left: the store faulted, or it overwrote translated code (then the guest state is
/// already advanced past the store).
pub extern "sysv64" fn store32(
    cpu: &mut Cpu,
    off: u32,
    seg: u32,
    value: u32,
    rips: u64,
    pending: u32,
) -> u32 {
    match cpu.write_mem(seg as usize, off, 4, value) {
        Ok(()) if cpu.code_dirty => {
            cpu.state.rip = rips >> 32;
            cpu.icount += pending as u64 + 1;
            1
        }
        Ok(()) => 0,
        Err(f) => {
            fault(cpu, f, rips as u32, pending);
            1
        }
    }
}
