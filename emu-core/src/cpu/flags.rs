//! EFLAGS with lazy evaluation of the six arithmetic flags.
//!
//! Most arithmetic results are never tested, or only ZF/CF are. An ALU op therefore records its
//! operands, result and kind; a flag is computed only when something reads it. The record is
//! plain data in `CpuState`, so the JIT can write it directly and snapshots carry it.

pub const CF: u32 = 1 << 0;
pub const PF: u32 = 1 << 2;
pub const AF: u32 = 1 << 4;
pub const ZF: u32 = 1 << 6;
pub const SF: u32 = 1 << 7;
pub const TF: u32 = 1 << 8;
pub const IF: u32 = 1 << 9;
pub const DF: u32 = 1 << 10;
pub const OF: u32 = 1 << 11;
pub const IOPL: u32 = 3 << 12;
pub const NT: u32 = 1 << 14;
pub const RF: u32 = 1 << 16;
pub const VM: u32 = 1 << 17;
pub const AC: u32 = 1 << 18;
pub const VIF: u32 = 1 << 19;
pub const VIP: u32 = 1 << 20;
pub const ID: u32 = 1 << 21;

/// The flags an ALU record can supply.
pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
/// Bit 1 always reads as one.
pub const FIXED_ONE: u32 = 1 << 1;
/// Every bit software can ever see set on a P6-class part.
pub const SUPPORTED: u32 = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

/// Which operation produced the pending flag record.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LazyOp {
    /// No record: `eflags` holds the arithmetic flags.
    #[default]
    Idle = 0,
    Add,
    /// ADC with carry-in 1 (ADC with carry-in 0 is recorded as `Add`).
    AdcCarry,
    Sub,
    /// SBB with borrow-in 1.
    SbbBorrow,
    /// AND/OR/XOR/TEST: CF=OF=0.
    Logic,
    /// INC/DEC keep CF, which was folded into `eflags` when the record was made.
    Inc,
    Dec,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LazyFlags {
    /// All flag bits; the arithmetic ones are stale while `op` is not `Idle`.
    pub eflags: u32,
    pub op: LazyOp,
    /// Operand size in bytes: 1, 2 or 4.
    pub size: u32,
    pub src1: u32,
    pub src2: u32,
    pub res: u32,
}

#[inline(always)]
fn sign_bit(size: u32) -> u32 {
    1u32 << (size * 8 - 1)
}

#[inline(always)]
pub fn size_mask(size: u32) -> u32 {
    if size >= 4 {
        u32::MAX
    } else {
        (1u32 << (size * 8)) - 1
    }
}

/// PF: set when the low byte of the result has an even number of one bits.
#[inline(always)]
pub fn parity(v: u32) -> bool {
    (v as u8).count_ones() & 1 == 0
}

impl LazyFlags {
    pub fn with_eflags(v: u32) -> Self {
        LazyFlags {
            eflags: (v & SUPPORTED) | FIXED_ONE,
            ..Default::default()
        }
    }

    /// `eflags` without resolving the record: correct for the non-arithmetic bits only.
    #[inline(always)]
    pub fn eflags_raw(&self) -> u32 {
        self.eflags
    }

    #[inline(always)]
    pub fn set(&mut self, op: LazyOp, size: u32, src1: u32, src2: u32, res: u32) {
        self.op = op;
        self.size = size;
        self.src1 = src1;
        self.src2 = src2;
        self.res = res;
    }

    /// Records INC/DEC, which leave CF as it was.
    #[inline(always)]
    pub fn set_incdec(&mut self, op: LazyOp, size: u32, src1: u32, res: u32) {
        let cf = self.cf();
        self.eflags = (self.eflags & !CF) | cf as u32;
        self.set(op, size, src1, 1, res);
    }

    #[inline(always)]
    pub fn cf(&self) -> bool {
        let m = size_mask(self.size);
        match self.op {
            LazyOp::Idle | LazyOp::Inc | LazyOp::Dec => self.eflags & CF != 0,
            LazyOp::Add => (self.res & m) < (self.src1 & m),
            LazyOp::AdcCarry => (self.res & m) <= (self.src1 & m),
            LazyOp::Sub => (self.src1 & m) < (self.src2 & m),
            LazyOp::SbbBorrow => (self.src1 & m) <= (self.src2 & m),
            LazyOp::Logic => false,
        }
    }

    #[inline(always)]
    pub fn zf(&self) -> bool {
        match self.op {
            LazyOp::Idle => self.eflags & ZF != 0,
            _ => self.res & size_mask(self.size) == 0,
        }
    }

    #[inline(always)]
    pub fn sf(&self) -> bool {
        match self.op {
            LazyOp::Idle => self.eflags & SF != 0,
            _ => self.res & sign_bit(self.size) != 0,
        }
    }

    #[inline(always)]
    pub fn of(&self) -> bool {
        let s = || sign_bit(self.size);
        match self.op {
            LazyOp::Idle => self.eflags & OF != 0,
            LazyOp::Add | LazyOp::AdcCarry | LazyOp::Inc => {
                (self.src1 ^ self.res) & (self.src2 ^ self.res) & s() != 0
            }
            LazyOp::Sub | LazyOp::SbbBorrow | LazyOp::Dec => {
                (self.src1 ^ self.src2) & (self.src1 ^ self.res) & s() != 0
            }
            LazyOp::Logic => false,
        }
    }

    #[inline(always)]
    pub fn pf(&self) -> bool {
        match self.op {
            LazyOp::Idle => self.eflags & PF != 0,
            _ => parity(self.res),
        }
    }

    #[inline(always)]
    pub fn af(&self) -> bool {
        match self.op {
            LazyOp::Idle => self.eflags & AF != 0,
            LazyOp::Logic => false,
            _ => (self.src1 ^ self.src2 ^ self.res) & 0x10 != 0,
        }
    }

    /// The full EFLAGS value.
    pub fn eflags(&self) -> u32 {
        if self.op == LazyOp::Idle {
            return self.eflags;
        }
        let mut f = self.eflags & !ARITH;
        f |= self.cf() as u32 * CF;
        f |= self.pf() as u32 * PF;
        f |= self.af() as u32 * AF;
        f |= self.zf() as u32 * ZF;
        f |= self.sf() as u32 * SF;
        f |= self.of() as u32 * OF;
        f
    }

    /// Replaces every flag; drops the pending record.
    pub fn set_eflags(&mut self, v: u32) {
        self.op = LazyOp::Idle;
        self.eflags = (v & SUPPORTED) | FIXED_ONE;
    }

    /// Resolves the record into `eflags` so single bits can be edited in place.
    #[inline]
    pub fn materialize(&mut self) {
        if self.op != LazyOp::Idle {
            self.eflags = self.eflags();
            self.op = LazyOp::Idle;
        }
    }

    /// Sets or clears the bits of `mask` (any flags) after resolving the record.
    #[inline]
    pub fn set_bits(&mut self, mask: u32, on: bool) {
        self.materialize();
        if on {
            self.eflags |= mask;
        } else {
            self.eflags &= !mask;
        }
    }

    /// Replaces the arithmetic flags with explicit values (for ops whose flags are computed
    /// eagerly: shifts, multiplies, BCD, bit tests).
    #[inline]
    pub fn set_arith(&mut self, arith: u32) {
        self.materialize();
        self.eflags = (self.eflags & !ARITH) | (arith & ARITH);
    }

    /// Evaluates a condition code (the low nibble of Jcc/SETcc/CMOVcc opcodes).
    #[inline(always)]
    pub fn condition(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        r ^ (cc & 1 != 0)
    }
}

/// The SZP flags of a result, for ops that compute flags eagerly.
#[inline(always)]
pub fn szp(res: u32, size: u32) -> u32 {
    let mut f = 0;
    if res & size_mask(size) == 0 {
        f |= ZF;
    }
    if res & sign_bit(size) != 0 {
        f |= SF;
    }
    if parity(res) {
        f |= PF;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(op: LazyOp, size: u32, a: u32, b: u32, r: u32) -> u32 {
        let mut l = LazyFlags::with_eflags(0);
        l.set(op, size, a, b, r);
        l.eflags() & ARITH
    }

    #[test]
    fn add_flags() {
        // 0x7F + 1 = 0x80: OF, SF, AF; no carry.
        assert_eq!(rec(LazyOp::Add, 1, 0x7F, 1, 0x80), OF | SF | AF);
        // 0xFF + 1 = 0x00: CF, ZF, AF, PF.
        assert_eq!(rec(LazyOp::Add, 1, 0xFF, 1, 0x100), CF | ZF | AF | PF);
        // 32-bit: 0xFFFFFFFF + 0xFFFFFFFF = 0xFFFFFFFE, CF, SF, AF.
        assert_eq!(rec(LazyOp::Add, 4, !0, !0, !0 - 1), CF | SF | AF);
    }

    #[test]
    fn adc_with_carry_wraps_to_same_value() {
        // a + 0xFF + 1 == a (mod 256) must carry.
        assert_eq!(rec(LazyOp::AdcCarry, 1, 0x12, 0xFF, 0x12) & CF, CF);
        assert_eq!(rec(LazyOp::Add, 1, 0x12, 0, 0x12) & CF, 0);
    }

    #[test]
    fn sub_and_sbb_flags() {
        // 0 - 1 = 0xFFFF: borrow, sign, AF, PF.
        assert_eq!(rec(LazyOp::Sub, 2, 0, 1, 0xFFFF), CF | SF | AF | PF);
        // 0x8000 - 1 = 0x7FFF: signed overflow, AF.
        assert_eq!(rec(LazyOp::Sub, 2, 0x8000, 1, 0x7FFF), OF | AF | PF);
        // SBB 5 - 5 - 1 borrows.
        assert_eq!(rec(LazyOp::SbbBorrow, 4, 5, 5, u32::MAX) & CF, CF);
    }

    #[test]
    fn inc_keeps_carry() {
        let mut l = LazyFlags::with_eflags(0);
        l.set(LazyOp::Sub, 4, 0, 1, u32::MAX); // sets CF
        l.set_incdec(LazyOp::Inc, 4, u32::MAX, 0);
        assert!(l.cf());
        assert!(l.zf());
        assert!(!l.of());
        l.set_incdec(LazyOp::Inc, 1, 0x7F, 0x80);
        assert!(l.of());
        assert!(l.cf());
    }

    #[test]
    fn conditions_match_flags() {
        let mut l = LazyFlags::with_eflags(0);
        l.set(LazyOp::Sub, 4, 3, 5, 3u32.wrapping_sub(5));
        assert!(l.condition(0x2)); // B
        assert!(l.condition(0xC)); // L
        assert!(!l.condition(0x4)); // E
        assert!(l.condition(0x6)); // BE
        assert!(!l.condition(0xF)); // G
        l.set(LazyOp::Sub, 4, 0x8000_0000, 1, 0x7FFF_FFFF);
        assert!(l.condition(0x0)); // O
        assert!(l.condition(0xC)); // L: SF(0) != OF(1)
    }

    #[test]
    fn materialize_round_trips() {
        let mut l = LazyFlags::with_eflags(IF | DF);
        l.set(LazyOp::Add, 1, 0xFF, 1, 0x100);
        let before = l.eflags();
        l.materialize();
        assert_eq!(l.op, LazyOp::Idle);
        assert_eq!(l.eflags(), before);
        assert_eq!(before & (IF | DF | FIXED_ONE), IF | DF | FIXED_ONE);
    }
}
