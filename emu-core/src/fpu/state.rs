//! x87 register state as FXSAVE lays it out conceptually.

/// An 80-bit extended-precision value: explicit-integer-bit significand and sign/exponent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct F80 {
    pub signif: u64,
    /// Bit 15 is the sign; bits 0..15 the biased exponent (bias 16383).
    pub sign_exp: u16,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpuState {
    /// Physical registers R0..R7 (ST(i) is R[(top + i) & 7]).
    pub regs: [F80; 8],
    /// Control word.
    pub fcw: u16,
    /// Status word with TOP in bits 11..13.
    pub fsw: u16,
    /// Full tag word: two bits per physical register (00 valid, 01 zero, 10 special, 11 empty).
    pub ftw: u16,
    /// Last non-control opcode (11 bits).
    pub fop: u16,
    pub fip: u32,
    pub fcs: u16,
    pub fds: u16,
    pub fdp: u32,
    pub mxcsr: u32,
    pub xmm: [u128; 8],
    /// Legacy FERR# request (CR0.NE = 0): set when a waiting x87 instruction finds an unmasked
    /// exception pending; the interrupt controller turns it into IRQ13 and clears it.
    pub ferr: u8,
}

impl Default for FpuState {
    /// The state after RESET/FINIT-less power-on: FCW 0x0040, all tags empty (SDM Vol. 3, 9.1.2).
    fn default() -> Self {
        FpuState {
            regs: [F80::default(); 8],
            fcw: 0x0040,
            fsw: 0,
            ftw: 0xFFFF,
            fop: 0,
            fip: 0,
            fcs: 0,
            fds: 0,
            fdp: 0,
            mxcsr: 0x1F80,
            xmm: [0; 8],
            ferr: 0,
        }
    }
}

impl FpuState {
    /// FNINIT: FCW 0x037F, status cleared, all tags empty; data registers keep their bits.
    pub fn finit(&mut self) {
        self.fcw = 0x037F;
        self.fsw = 0;
        self.ftw = 0xFFFF;
        self.fop = 0;
        self.fip = 0;
        self.fcs = 0;
        self.fds = 0;
        self.fdp = 0;
    }

    #[inline]
    pub fn top(&self) -> usize {
        ((self.fsw >> 11) & 7) as usize
    }
}
