//! Architectural exceptions raised while executing an instruction.

/// Exception vectors (SDM Vol. 3, Table 6-1).
pub mod vector {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const NMI: u8 = 2;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;
    pub const MC: u8 = 18;
    pub const XM: u8 = 19;
}

/// A fault, trap or abort an instruction raised. The instruction's effects are not committed
/// (faults) or the exception is taken after it (traps: see `is_trap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exception {
    pub vector: u8,
    pub error_code: Option<u32>,
}

impl Exception {
    #[inline]
    pub const fn new(vector: u8) -> Self {
        Exception {
            vector,
            error_code: None,
        }
    }
    #[inline]
    pub const fn with_code(vector: u8, code: u32) -> Self {
        Exception {
            vector,
            error_code: Some(code),
        }
    }
    pub const fn de() -> Self {
        Self::new(vector::DE)
    }
    pub const fn ud() -> Self {
        Self::new(vector::UD)
    }
    pub const fn nm() -> Self {
        Self::new(vector::NM)
    }
    pub const fn gp(code: u32) -> Self {
        Self::with_code(vector::GP, code)
    }
    pub const fn gp0() -> Self {
        Self::with_code(vector::GP, 0)
    }
    pub const fn ss(code: u32) -> Self {
        Self::with_code(vector::SS, code)
    }
    pub const fn np(code: u32) -> Self {
        Self::with_code(vector::NP, code)
    }
    pub const fn ts(code: u32) -> Self {
        Self::with_code(vector::TS, code)
    }
    pub const fn pf(code: u32) -> Self {
        Self::with_code(vector::PF, code)
    }

    /// Benign, contributory or page fault: decides whether a second fault is a double fault
    /// (SDM Vol. 3, Table 6-5).
    pub fn class(vector: u8) -> ExceptionClass {
        match vector {
            vector::DE | vector::TS | vector::NP | vector::SS | vector::GP => {
                ExceptionClass::Contributory
            }
            vector::PF => ExceptionClass::PageFault,
            vector::DF => ExceptionClass::DoubleFault,
            _ => ExceptionClass::Benign,
        }
    }

    pub fn mnemonic(vector: u8) -> &'static str {
        match vector {
            0 => "#DE",
            1 => "#DB",
            2 => "NMI",
            3 => "#BP",
            4 => "#OF",
            5 => "#BR",
            6 => "#UD",
            7 => "#NM",
            8 => "#DF",
            9 => "CSO",
            10 => "#TS",
            11 => "#NP",
            12 => "#SS",
            13 => "#GP",
            14 => "#PF",
            16 => "#MF",
            17 => "#AC",
            18 => "#MC",
            19 => "#XM",
            _ => "INT",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionClass {
    Benign,
    Contributory,
    PageFault,
    DoubleFault,
}

/// What stopped an instruction from completing normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Deliver this exception through the IDT.
    Exception(Exception),
    /// Instruction completed but the block must end here (mode change, HLT, port write that
    /// needs the machine's attention, REP that yielded).
    EndBlock,
}

impl From<Exception> for Fault {
    #[inline]
    fn from(e: Exception) -> Self {
        Fault::Exception(e)
    }
}

pub type Result<T> = core::result::Result<T, Fault>;

/// Error code for a selector-related fault: index, TI and EXT bits (SDM Vol. 3, 6.13).
#[inline]
pub fn selector_error(selector: u16) -> u32 {
    (selector & 0xFFFC) as u32
}

/// Error code for a fault on an IDT entry.
#[inline]
pub fn idt_error(vector: u8, external: bool) -> u32 {
    ((vector as u32) << 3) | 2 | external as u32
}
