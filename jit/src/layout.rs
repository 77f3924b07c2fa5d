//! Where translated code finds things: byte offsets from the `Cpu` pointer it keeps in RBX.

use std::mem::offset_of;

use emu_core::cpu::flags::LazyFlags;
use emu_core::cpu::segment::SegmentCache;
use emu_core::cpu::state::CpuState;
use emu_core::cpu::Cpu;
use emu_core::mmu::TlbEntry;

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

/// `state.seg[0]`; segment `n` is `n * size_of::<SegmentCache>()` further.
pub const SEG0: i32 = (STATE + offset_of!(CpuState, seg)) as i32;
pub const SEG_ATTR: i32 = offset_of!(SegmentCache, attr) as i32;
pub const SEG_LIMIT: i32 = offset_of!(SegmentCache, limit) as i32;
/// The low half of the 64-bit base.
pub const SEG_BASE: i32 = offset_of!(SegmentCache, base) as i32;
pub const CS_INDEX: i32 = emu_core::cpu::state::CS as i32;

pub const TLB_READ_TAG: i32 = offset_of!(TlbEntry, read_tag) as i32;
pub const TLB_WRITE_TAG: i32 = offset_of!(TlbEntry, write_tag) as i32;
pub const TLB_HOST: i32 = offset_of!(TlbEntry, host) as i32;
pub const LAZY_EFLAGS: i32 = (LAZY + offset_of!(LazyFlags, eflags)) as i32;
