//! The register stack and the status word: TOP, tags, pushes and pops, stack faults, and how an
//! operation's exception flags land in FSW (SDM Vol. 1, 8.1-8.5).

use crate::fpu::float80::{CondCodes, FpEnv, FpFlags, INDEFINITE};
use crate::fpu::{FpuState, F80};

/// FSW bits.
pub(super) mod fsw {
    pub const IE: u16 = 0x0001;
    pub const DE: u16 = 0x0002;
    pub const ZE: u16 = 0x0004;
    pub const SF: u16 = 0x0040;
    pub const ES: u16 = 0x0080;
    pub const C1: u16 = 0x0200;
    pub const C2: u16 = 0x0400;
    pub const TOP: u16 = 0x3800;
    pub const B: u16 = 0x8000;
    /// The six exception flags.
    pub const EXC: u16 = 0x003F;
}

/// Tag values (two bits per physical register).
pub(super) mod tag {
    pub const VALID: u16 = 0;
    pub const ZERO: u16 = 1;
    pub const SPECIAL: u16 = 2;
    pub const EMPTY: u16 = 3;
}

/// The tag the hardware assigns to a register holding `v`.
pub(super) fn tag_for(v: F80) -> u16 {
    let exp = v.sign_exp & 0x7FFF;
    if exp == 0x7FFF {
        tag::SPECIAL
    } else if exp == 0 {
        if v.signif == 0 {
            tag::ZERO
        } else {
            tag::SPECIAL
        }
    } else if v.signif >> 63 == 0 {
        tag::SPECIAL
    } else {
        tag::VALID
    }
}

/// Recomputes the full tag word from `empty` (bit i set = R[i] empty) and the contents.
pub(super) fn tags_from_empty(f: &FpuState, empty: u8) -> u16 {
    let mut t = 0;
    for (phys, r) in f.regs.iter().enumerate() {
        let v = if empty & (1 << phys) != 0 {
            tag::EMPTY
        } else {
            tag_for(*r)
        };
        t |= v << (2 * phys);
    }
    t
}

/// Register-stack and status-word operations on the x87 state.
pub(super) trait Stack {
    fn phys(&self, i: usize) -> usize;
    fn st(&self, i: usize) -> F80;
    fn is_empty(&self, i: usize) -> bool;
    fn set_st(&mut self, i: usize, v: F80);
    fn free(&mut self, i: usize);
    fn set_top(&mut self, top: usize);
    fn push(&mut self, v: F80);
    fn pop(&mut self);
    fn env(&self) -> FpEnv;
    fn set_c1(&mut self, on: bool);
    fn set_cc(&mut self, cc: CondCodes);
    fn update_summary(&mut self);
    fn stack_fault(&mut self, overflow: bool) -> bool;
    fn commit(&mut self, flags: FpFlags) -> bool;
    fn commit_blocking(&mut self, flags: FpFlags, blocking: u16) -> bool;
}

impl Stack for FpuState {
    /// Physical register number of ST(i).
    #[inline]
    fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }

    #[inline]
    fn st(&self, i: usize) -> F80 {
        self.regs[self.phys(i)]
    }

    #[inline]
    fn is_empty(&self, i: usize) -> bool {
        (self.ftw >> (2 * self.phys(i))) & 3 == tag::EMPTY
    }

    /// Writes ST(i) and tags it from its contents.
    fn set_st(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.ftw = (self.ftw & !(3 << (2 * p))) | (tag_for(v) << (2 * p));
    }

    /// Tags ST(i) empty (FFREE).
    fn free(&mut self, i: usize) {
        let p = self.phys(i);
        self.ftw |= 3 << (2 * p);
    }

    fn set_top(&mut self, top: usize) {
        self.fsw = (self.fsw & !fsw::TOP) | (((top & 7) as u16) << 11);
    }

    /// Decrements TOP and writes the new ST(0).
    fn push(&mut self, v: F80) {
        let t = self.top().wrapping_sub(1);
        self.set_top(t);
        self.set_st(0, v);
    }

    /// Tags ST(0) empty and increments TOP.
    fn pop(&mut self) {
        self.free(0);
        let t = self.top() + 1;
        self.set_top(t);
    }

    #[inline]
    fn env(&self) -> FpEnv {
        FpEnv::from_fcw(self.fcw)
    }

    fn set_c1(&mut self, on: bool) {
        self.fsw = (self.fsw & !fsw::C1) | if on { fsw::C1 } else { 0 };
    }

    /// Writes C0..C3.
    fn set_cc(&mut self, cc: CondCodes) {
        self.fsw = (self.fsw & !CondCodes::FSW_MASK) | cc.fsw_bits();
    }

    /// ES and B summarise the unmasked exception flags (B mirrors ES since the 387).
    fn update_summary(&mut self) {
        if self.fsw & !self.fcw & fsw::EXC != 0 {
            self.fsw |= fsw::ES | fsw::B;
        } else {
            self.fsw &= !(fsw::ES | fsw::B);
        }
    }

    /// Stack overflow or underflow: IE and SF set, C1 = 1 for overflow, 0 for underflow.
    /// Returns true when IE is masked (the caller then delivers the masked response).
    fn stack_fault(&mut self, overflow: bool) -> bool {
        self.fsw |= fsw::IE | fsw::SF;
        self.set_c1(overflow);
        self.update_summary();
        self.fcw & fsw::IE != 0
    }

    /// Lands an operation's flags in FSW. Returns false when an unmasked IE, DE or ZE was
    /// raised: the hardware then leaves the destination (and TOP) alone and records only those
    /// pre-computation exceptions, with C1 cleared. Otherwise all exceptions are recorded and C1
    /// reports rounding up; the caller writes the result (a wrapped one under unmasked OE/UE).
    fn commit(&mut self, flags: FpFlags) -> bool {
        self.commit_blocking(flags, fsw::IE | fsw::DE | fsw::ZE)
    }

    /// [`Stack::commit`] where only the unmasked exceptions in `blocking` suppress the result
    /// (FLD m32/m64 loads a denormal even when DE is unmasked).
    fn commit_blocking(&mut self, flags: FpFlags, blocking: u16) -> bool {
        let exc = flags.exceptions();
        const PRE: u16 = fsw::IE | fsw::DE | fsw::ZE;
        if exc & blocking & !self.fcw != 0 {
            self.fsw |= exc & PRE;
            self.set_c1(false);
            self.update_summary();
            return false;
        }
        self.fsw |= exc;
        self.set_c1(flags.c1());
        self.update_summary();
        true
    }
}

/// The masked response to a stack fault on an instruction that writes ST(`dst`) and maybe
/// pops: ST(dst) gets the QNaN indefinite.
pub(super) fn underflow_to(f: &mut FpuState, dst: usize, pops: usize) {
    if f.stack_fault(false) {
        f.set_st(dst, INDEFINITE);
        for _ in 0..pops {
            f.pop();
        }
    }
}
