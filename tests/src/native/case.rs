//! Snapshot, case and outcome types shared by every execution engine.

use std::fmt;

/// Size of the data area every case runs against, in bytes.
///
/// DS, ES, FS, GS and SS all have their base at the start of this area and a
/// limit of `0xFFFF`, so a memory operand's effective address is an offset
/// into [`CpuSnapshot::mem`].
pub const DATA_SIZE: usize = 0x1_0000;

/// Index of EAX in [`CpuSnapshot::gpr`] (hardware register-number order).
pub const EAX: usize = 0;
/// Index of ECX in [`CpuSnapshot::gpr`].
pub const ECX: usize = 1;
/// Index of EDX in [`CpuSnapshot::gpr`].
pub const EDX: usize = 2;
/// Index of EBX in [`CpuSnapshot::gpr`].
pub const EBX: usize = 3;
/// Index of ESP in [`CpuSnapshot::gpr`].
pub const ESP: usize = 4;
/// Index of EBP in [`CpuSnapshot::gpr`].
pub const EBP: usize = 5;
/// Index of ESI in [`CpuSnapshot::gpr`].
pub const ESI: usize = 6;
/// Index of EDI in [`CpuSnapshot::gpr`].
pub const EDI: usize = 7;

/// Register names in [`CpuSnapshot::gpr`] order.
pub const GPR_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/// EFLAGS bits.
pub mod flags {
    /// Carry flag.
    pub const CF: u32 = 1 << 0;
    /// Reserved bit 1, always set.
    pub const FIXED: u32 = 1 << 1;
    /// Parity flag.
    pub const PF: u32 = 1 << 2;
    /// Auxiliary carry flag.
    pub const AF: u32 = 1 << 4;
    /// Zero flag.
    pub const ZF: u32 = 1 << 6;
    /// Sign flag.
    pub const SF: u32 = 1 << 7;
    /// Trap flag (never set by the harness).
    pub const TF: u32 = 1 << 8;
    /// Interrupt flag (always 1 in the native environment, not recorded).
    pub const IF: u32 = 1 << 9;
    /// Direction flag.
    pub const DF: u32 = 1 << 10;
    /// Overflow flag.
    pub const OF: u32 = 1 << 11;
    /// The six arithmetic status flags.
    pub const STATUS: u32 = CF | PF | AF | ZF | SF | OF;
    /// Flags a snapshot holds: the status flags and DF. Bit 1 is always set
    /// in addition. IF (1), IOPL (0), TF/AC (0) are fixed by the environment
    /// and are not part of a snapshot; a `pushf` inside a snippet stores
    /// them as `IF=1, IOPL=0`.
    pub const SNAPSHOT: u32 = STATUS | DF;
}

/// Code-segment default size a snippet runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeSize {
    /// 16-bit code segment (D=0) with 16-bit data/stack segments (B=0).
    Bits16,
    /// 32-bit code segment (D=1) with 32-bit data/stack segments (B=1).
    Bits32,
}

impl CodeSize {
    /// 16 or 32.
    pub fn bitness(self) -> u32 {
        match self {
            CodeSize::Bits16 => 16,
            CodeSize::Bits32 => 32,
        }
    }
}

impl fmt::Display for CodeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-bit", self.bitness())
    }
}

/// x87 state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FpuState {
    /// Control word (FCW).
    pub control: u16,
    /// Status word (FSW), including TOP in bits 11..=13.
    pub status: u16,
    /// Full tag word in FSTENV layout: two bits per *physical* register
    /// R0..R7 (00 valid, 01 zero, 10 special, 11 empty). Only "empty or not"
    /// is architectural input state; the other three values are derived from
    /// the register contents (see [`FpuState::derive_tag`]).
    pub tag: u16,
    /// Registers in stack order: `st[i]` is ST(i), as FNSAVE stores them.
    /// Each is an 80-bit extended value, little-endian (64-bit significand
    /// then 16-bit sign/exponent).
    pub st: [[u8; 10]; 8],
}

impl Default for FpuState {
    /// The state after FNINIT.
    fn default() -> Self {
        FpuState {
            control: 0x037F,
            status: 0,
            tag: 0xFFFF,
            st: [[0; 10]; 8],
        }
    }
}

impl FpuState {
    /// TOP field of the status word.
    pub fn top(&self) -> u32 {
        u32::from(self.status >> 11) & 7
    }

    /// Whether ST(i) is empty according to the tag word.
    pub fn is_empty(&self, i: usize) -> bool {
        let phys = (self.top() as usize + i) & 7;
        (self.tag >> (2 * phys)) & 3 == 3
    }

    /// Tag value the hardware reports for a non-empty register with these
    /// contents: 1 for zero, 2 for NaN/infinity/denormal/unnormal, 0 otherwise.
    pub fn classify(reg: &[u8; 10]) -> u16 {
        let mant = u64::from_le_bytes(reg[..8].try_into().expect("8 bytes"));
        let exp = u16::from_le_bytes([reg[8], reg[9]]) & 0x7FFF;
        if exp == 0x7FFF {
            2
        } else if exp == 0 {
            if mant == 0 {
                1
            } else {
                2
            }
        } else if mant >> 63 == 0 {
            2
        } else {
            0
        }
    }

    /// Rebuilds the full tag word from the empty/non-empty information in
    /// `self.tag` and the register contents, as FNSTENV would report it.
    pub fn derive_tag(&mut self) {
        let mut tag = 0u16;
        for phys in 0..8 {
            let empty = (self.tag >> (2 * phys)) & 3 == 3;
            let st = (phys + 8 - self.top() as usize) & 7;
            let t = if empty {
                3
            } else {
                Self::classify(&self.st[st])
            };
            tag |= t << (2 * phys);
        }
        self.tag = tag;
    }
}

/// Architectural state before or after a snippet.
#[derive(Clone, PartialEq, Eq)]
pub struct CpuSnapshot {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (see [`EAX`]..[`EDI`]).
    /// ESP is an offset into the data area (SS has the same base as DS).
    pub gpr: [u32; 8],
    /// EFLAGS, restricted to [`flags::SNAPSHOT`] plus bit 1.
    pub eflags: u32,
    /// The data area, [`DATA_SIZE`] bytes.
    pub mem: Vec<u8>,
    /// x87 state. In an input snapshot `None` means "FNINIT state, not
    /// captured"; engines then return `None` too.
    pub fpu: Option<FpuState>,
}

impl CpuSnapshot {
    /// All-zero registers, flags = bit 1 only, zeroed data area, no x87 state.
    pub fn zeroed() -> Self {
        CpuSnapshot {
            gpr: [0; 8],
            eflags: flags::FIXED,
            mem: vec![0; DATA_SIZE],
            fpu: None,
        }
    }
}

impl fmt::Debug for CpuSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The data area is too big to print; show a checksum instead.
        let sum = self.mem.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut s = f.debug_struct("CpuSnapshot");
        for (name, v) in GPR_NAMES.iter().zip(self.gpr) {
            s.field(name, &format_args!("{v:#010x}"));
        }
        s.field("eflags", &format_args!("{:#06x}", self.eflags))
            .field("mem_fnv64", &format_args!("{sum:#018x}"))
            .field("fpu", &self.fpu)
            .finish()
    }
}

/// A snippet plus the state it starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Code-segment size.
    pub size: CodeSize,
    /// Machine code. The snippet ends where the engine appends its epilogue:
    /// control must fall off the end (no `ret`).
    pub code: Vec<u8>,
    /// Starting state.
    pub input: CpuSnapshot,
}

/// Result of running a [`Case`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The snippet ran to its end.
    Completed(CpuSnapshot),
    /// The snippet raised an exception.
    Exception {
        /// Exception vector (0 #DE, 3 #BP, 4 #OF, 5 #BR, 6 #UD, 12 #SS,
        /// 13 #GP, 14 #PF, 16 #MF, ...).
        vector: u8,
        /// Error code, for the vectors that push one (8, 10..=14, 17, 21).
        error_code: Option<u32>,
        /// EIP at the exception minus the snippet's start: the faulting
        /// instruction for faults, the next instruction for traps (#BP, #OF).
        fault_ip: u32,
        /// Registers, flags, memory and x87 state at the exception.
        state: CpuSnapshot,
    },
}

impl Outcome {
    /// The final state, whichever way the snippet ended.
    pub fn state(&self) -> &CpuSnapshot {
        match self {
            Outcome::Completed(s) => s,
            Outcome::Exception { state, .. } => state,
        }
    }
}

/// Something that can run a [`Case`]: the host CPU ([`super::NativeEngine`])
/// or the emulator.
pub trait ExecEngine {
    /// Runs the case from its input state and reports how it ended.
    fn run(&mut self, case: &Case) -> Outcome;
}

/// Whether an exception vector pushes an error code.
pub fn vector_has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21)
}
