//! Where translated code finds things: byte offsets from the `Cpu` pointer it keeps in RBX.

use std::mem::offset_of;

use emu_core::cpu::flags::LazyFlags;
use emu_core::cpu::state::CpuState;
use emu_core::cpu::Cpu;

const STATE: usize = offset_of!(Cpu, state);

/// `state.gpr[n]` (64 bits).
pub const fn gpr(n: usize) -> i32 {
    (STATE + offset_of!(CpuState, gpr) + n * 8) as i32
}

pub const RIP: i32 = (STATE + offset_of!(CpuState, rip)) as i32;
pub const ICOUNT: i32 = offset_of!(Cpu, icount) as i32;

const LAZY: usize = STATE + offset_of!(CpuState, lazy);
/// `lazy.op` and `lazy.size` are adjacent: one 64-bit store writes both.
pub const LAZY_OP: i32 = (LAZY + offset_of!(LazyFlags, op)) as i32;
pub const LAZY_SIZE: i32 = (LAZY + offset_of!(LazyFlags, size)) as i32;
pub const LAZY_SRC1: i32 = (LAZY + offset_of!(LazyFlags, src1)) as i32;
pub const LAZY_SRC2: i32 = (LAZY + offset_of!(LazyFlags, src2)) as i32;
pub const LAZY_RES: i32 = (LAZY + offset_of!(LazyFlags, res)) as i32;

const _: () = assert!(LAZY_SIZE == LAZY_OP + 4, "op and size share one store");
