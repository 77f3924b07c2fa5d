//! `translate_block`: one decoded guest block to host code.
//!
//! Register use: RBX holds the `Cpu` pointer, R12 the base of guest RAM in host memory and
//! R13 the TLB set for the block's privilege level (both set by the trampoline); RAX, RCX,
//! RDX, RSI, RDI and R8-R9 are scratch. Guest state lives in memory (`Cpu::state`), so it is
//! exact at every helper call and exit; RIP and `icount` are written lazily, before a
//! helper call and at the exit, and the memory helpers' slow paths make them precise
//! themselves when a fault happens.
//!
//! A few hot instructions get native code (`Form`); every other one calls the interpreter's
//! handler through [`helpers::step`]. Native forms reproduce exactly what the interpreter's
//! handler for the same encoding does (differential tests compare the two).

use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};
use emu_core::cpu::flags::LazyOp;
use emu_core::cpu::segment::{ATTR_CODE, ATTR_DB, ATTR_DC, ATTR_P, ATTR_RW};
use emu_core::cpu::state::{RSP, SS};
use emu_core::decode::{Block, DecodedInsn};
use emu_core::mmu::tlb::TLB_ENTRIES;
use iced_x86::{Code, FlowControl, Instruction, Mnemonic, OpKind, Register};

use crate::chain::{may_chain_through, static_successors, ChainSlot};
use crate::helpers;
use crate::layout::{self, gpr};

/// The ALU operations translated natively (ADC/SBB read CF and stay with the interpreter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alu {
    Add,
    /// ADC/SBB: the carry-in is in EBP while the instruction runs.
    Adc,
    Sbb,
    Sub,
    Cmp,
    And,
    Or,
    Xor,
    Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shift {
    Shl,
    Shr,
    Sar,
}

/// A memory operand with 32-bit addressing through 32-bit registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mem {
    seg: usize,
    base: Option<usize>,
    index: Option<usize>,
    shift: u8,
    disp: u32,
}

/// A general register as stored in `CpuState::gpr`: byte offset from RBX and width.
/// AH-BH are byte 1 of the first four registers; 32-bit writes clear bits 32-63 (as
/// `set_reg32`), narrower ones leave the rest alone (as `set_reg16`/`set_reg8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RegSlot {
    off: i32,
    size: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Reg(RegSlot),
    Imm(u32),
    Mem(Mem),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dst {
    Reg(RegSlot),
    Mem(Mem),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BranchKind {
    Jmp,
    Call,
    /// RET with the immediate's extra bytes to release.
    Ret(u16),
}

/// How one guest instruction is translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// MOV of 1, 2 or 4 bytes between registers, memory and immediates.
    Mov {
        size: u8,
        dst: Dst,
        src: Src,
    },
    /// MOVZX/MOVSX r32 from an 8- or 16-bit register or memory operand.
    Extend {
        signed: bool,
        from: u8,
        dst: usize,
        src: Src,
    },
    /// LEA r32, m (32-bit addressing).
    Lea {
        dst: usize,
        mem: Mem,
    },
    /// ADD/SUB/CMP/AND/OR/XOR/TEST of 1, 2 or 4 bytes on registers, memory, immediates.
    Alu {
        op: Alu,
        size: u8,
        dst: Dst,
        src: Src,
    },
    /// SETcc r8 / CMOVcc r32, r32.
    Setcc {
        cc: u8,
        dst: RegSlot,
    },
    Cmovcc {
        cc: u8,
        dst: usize,
        src: Src,
    },
    /// SHL/SHR/SAR r32 by an immediate (1-31) or by CL.
    Shift {
        op: Shift,
        dst: usize,
        count: Option<u8>,
    },
    /// IMUL r32, r32 and IMUL r32, r32, imm.
    Imul {
        dst: usize,
        src: usize,
        imm: Option<u32>,
    },
    /// INC/DEC of 1, 2 or 4 bytes in a register or memory.
    IncDec {
        dec: bool,
        size: u8,
        dst: Dst,
    },
    /// PUSH r32 / PUSH imm32 / POP r32 with a 32-bit stack.
    Push {
        src: Src,
    },
    Pop {
        dst: usize,
    },
    /// Near JMP/CALL (direct or through a register or memory) and RET with 32-bit operands:
    /// they end the block with EIP at the target.
    Branch {
        kind: BranchKind,
        target: Src,
    },
    /// Jcc (see `Emitter::condition`).
    JccFused {
        cc: u8,
        target: u32,
    },
    /// Calls the interpreter.
    Helper,
}

fn gpr32(r: Register) -> Option<usize> {
    r.is_gpr32().then(|| r as usize - Register::EAX as usize)
}

fn reg_slot(r: Register) -> Option<RegSlot> {
    if r.is_gpr32() {
        return Some(RegSlot {
            off: gpr(r as usize - Register::EAX as usize),
            size: 4,
        });
    }
    if r.is_gpr16() {
        return Some(RegSlot {
            off: gpr(r as usize - Register::AX as usize),
            size: 2,
        });
    }
    if r.is_gpr8() {
        let n = r as usize - Register::AL as usize;
        // iced orders AL CL DL BL AH CH DH BH first; SPL.. and R8L.. are 64-bit only.
        return match n {
            0..=3 => Some(RegSlot {
                off: gpr(n),
                size: 1,
            }),
            4..=7 => Some(RegSlot {
                off: gpr(n - 4) + 1,
                size: 1,
            }),
            _ => None,
        };
    }
    None
}

fn mem_operand(ins: &Instruction) -> Option<Mem> {
    let opt = |r: Register| match r {
        Register::None => Some(None),
        r => gpr32(r).map(Some),
    };
    // 32-bit addressing only: 16-bit forms wrap at 64 KiB and take the interpreter's path.
    if ins.memory_displ_size() == 2 {
        return None;
    }
    let seg = ins.memory_segment();
    if !seg.is_segment_register() {
        return None;
    }
    Some(Mem {
        seg: seg as usize - Register::ES as usize,
        base: opt(ins.memory_base())?,
        index: opt(ins.memory_index())?,
        shift: ins.memory_index_scale().trailing_zeros() as u8,
        disp: ins.memory_displacement32(),
    })
}

fn form_of(ins: &Instruction) -> Form {
    form_of_inner(ins).unwrap_or(Form::Helper)
}

fn form_of_inner(ins: &Instruction) -> Option<Form> {
    let reg = |n: u32| {
        (ins.op_kind(n) == OpKind::Register)
            .then(|| gpr32(ins.op_register(n)))
            .flatten()
    };
    let src = |n: u32| -> Option<Src> {
        match ins.op_kind(n) {
            OpKind::Register => reg_slot(ins.op_register(n)).map(Src::Reg),
            OpKind::Memory => mem_operand(ins).map(Src::Mem),
            OpKind::Immediate8 | OpKind::Immediate16 | OpKind::Immediate32 => {
                Some(Src::Imm(ins.immediate(n) as u32))
            }
            _ => None,
        }
    };
    if ins.has_lock_prefix() || ins.has_rep_prefix() || ins.has_repne_prefix() {
        return None;
    }
    let size_of = |s: Src| match s {
        Src::Reg(r) => Some(r.size),
        Src::Mem(_) => Some(ins.memory_size().size() as u8),
        Src::Imm(_) => None,
    };
    let form = match ins.mnemonic() {
        Mnemonic::Mov if ins.op_count() == 2 => {
            let dst = match src(0)? {
                Src::Reg(r) => Dst::Reg(r),
                Src::Mem(m) => Dst::Mem(m),
                Src::Imm(_) => return None,
            };
            let s = src(1)?;
            let size = match dst {
                Dst::Reg(r) => r.size,
                Dst::Mem(_) => size_of(s).unwrap_or(ins.memory_size().size() as u8),
            };
            if !matches!(size, 1 | 2 | 4) || size_of(s).is_some_and(|n| n != size) {
                return None;
            }
            Form::Mov { size, dst, src: s }
        }
        Mnemonic::Movzx | Mnemonic::Movsx => {
            let s = src(1)?;
            let from = size_of(s)?;
            Form::Extend {
                signed: ins.mnemonic() == Mnemonic::Movsx,
                from,
                dst: reg(0)?,
                src: s,
            }
        }
        Mnemonic::Lea if ins.code() == Code::Lea_r32_m => Form::Lea {
            dst: reg(0)?,
            mem: mem_operand(ins)?,
        },
        Mnemonic::Shl | Mnemonic::Sal | Mnemonic::Shr | Mnemonic::Sar => {
            let op = match ins.mnemonic() {
                Mnemonic::Shr => Shift::Shr,
                Mnemonic::Sar => Shift::Sar,
                _ => Shift::Shl,
            };
            let dst = reg(0)?;
            let count = match ins.op_count() {
                1 => Some(1),
                _ if ins.op1_kind() == OpKind::Register => None,
                _ => Some((ins.immediate(1) & 0x1F) as u8),
            };
            // A zero immediate count changes nothing: leave it to the interpreter.
            if count == Some(0) {
                return None;
            }
            Form::Shift { op, dst, count }
        }
        Mnemonic::Imul if ins.op_count() >= 2 => Form::Imul {
            dst: reg(0)?,
            src: reg(1)?,
            imm: (ins.op_count() == 3).then(|| ins.immediate(2) as u32),
        },
        Mnemonic::Inc | Mnemonic::Dec => {
            let (dst, size) = match src(0)? {
                Src::Reg(r) => (Dst::Reg(r), r.size),
                Src::Mem(m) => (Dst::Mem(m), ins.memory_size().size() as u8),
                Src::Imm(_) => return None,
            };
            if !matches!(size, 1 | 2 | 4) {
                return None;
            }
            Form::IncDec {
                dec: ins.mnemonic() == Mnemonic::Dec,
                size,
                dst,
            }
        }
        Mnemonic::Push if ins.code() == Code::Push_r32 => Form::Push {
            src: Src::Reg(reg_slot(ins.op0_register())?),
        },
        Mnemonic::Push if matches!(ins.code(), Code::Pushd_imm32 | Code::Pushd_imm8) => {
            Form::Push {
                src: Src::Imm(ins.immediate(0) as u32),
            }
        }
        Mnemonic::Jmp | Mnemonic::Call => {
            let kind = if ins.mnemonic() == Mnemonic::Jmp {
                BranchKind::Jmp
            } else {
                BranchKind::Call
            };
            let target = match ins.code() {
                Code::Jmp_rel32_32 | Code::Jmp_rel8_32 | Code::Call_rel32_32 => {
                    Src::Imm(ins.near_branch32())
                }
                Code::Jmp_rm32 | Code::Call_rm32 => match ins.op0_kind() {
                    OpKind::Register => Src::Reg(reg_slot(ins.op0_register())?),
                    OpKind::Memory => Src::Mem(mem_operand(ins)?),
                    _ => return None,
                },
                _ => return None,
            };
            Form::Branch { kind, target }
        }
        Mnemonic::Ret => match ins.code() {
            Code::Retnd => Form::Branch {
                kind: BranchKind::Ret(0),
                target: Src::Imm(0),
            },
            Code::Retnd_imm16 => Form::Branch {
                kind: BranchKind::Ret(ins.immediate16()),
                target: Src::Imm(0),
            },
            _ => return None,
        },
        Mnemonic::Pop if ins.code() == Code::Pop_r32 => Form::Pop { dst: reg(0)? },
        _ if ins.flow_control() == FlowControl::ConditionalBranch => {
            let jcc = ins.condition_code() != iced_x86::ConditionCode::None
                && !matches!(
                    ins.mnemonic(),
                    Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne
                );
            if !jcc {
                return None;
            }
            let t = ins.near_branch_target() as u32;
            let target = if ins.op0_kind() == OpKind::NearBranch16 {
                t & 0xFFFF
            } else {
                t
            };
            Form::JccFused {
                cc: ins.condition_code() as u8 - 1,
                target,
            }
        }
        m if ins.condition_code() != iced_x86::ConditionCode::None => {
            let cc = ins.condition_code() as u8 - 1;
            match m {
                Mnemonic::Seto
                | Mnemonic::Setno
                | Mnemonic::Setb
                | Mnemonic::Setae
                | Mnemonic::Sete
                | Mnemonic::Setne
                | Mnemonic::Setbe
                | Mnemonic::Seta
                | Mnemonic::Sets
                | Mnemonic::Setns
                | Mnemonic::Setp
                | Mnemonic::Setnp
                | Mnemonic::Setl
                | Mnemonic::Setge
                | Mnemonic::Setle
                | Mnemonic::Setg => match src(0)? {
                    Src::Reg(r) if r.size == 1 => Form::Setcc { cc, dst: r },
                    _ => return None,
                },
                Mnemonic::Cmovo
                | Mnemonic::Cmovno
                | Mnemonic::Cmovb
                | Mnemonic::Cmovae
                | Mnemonic::Cmove
                | Mnemonic::Cmovne
                | Mnemonic::Cmovbe
                | Mnemonic::Cmova
                | Mnemonic::Cmovs
                | Mnemonic::Cmovns
                | Mnemonic::Cmovp
                | Mnemonic::Cmovnp
                | Mnemonic::Cmovl
                | Mnemonic::Cmovge
                | Mnemonic::Cmovle
                | Mnemonic::Cmovg => Form::Cmovcc {
                    cc,
                    dst: reg(0)?,
                    src: match src(1)? {
                        Src::Reg(r) if r.size == 4 => Src::Reg(r),
                        Src::Mem(m) if ins.memory_size().size() == 4 => Src::Mem(m),
                        _ => return None,
                    },
                },
                _ => return None,
            }
        }
        m => {
            let op = match m {
                Mnemonic::Add => Alu::Add,
                Mnemonic::Adc => Alu::Adc,
                Mnemonic::Sbb => Alu::Sbb,
                Mnemonic::Sub => Alu::Sub,
                Mnemonic::Cmp => Alu::Cmp,
                Mnemonic::And => Alu::And,
                Mnemonic::Or => Alu::Or,
                Mnemonic::Xor => Alu::Xor,
                Mnemonic::Test => Alu::Test,
                _ => return None,
            };
            if ins.op_count() != 2 {
                return None;
            }
            let dst = match src(0)? {
                Src::Reg(r) => Dst::Reg(r),
                Src::Mem(m) => Dst::Mem(m),
                Src::Imm(_) => return None,
            };
            let size = match dst {
                Dst::Reg(r) => r.size,
                Dst::Mem(_) => ins.memory_size().size() as u8,
            };
            let s = match ins.op1_kind() {
                OpKind::Immediate8
                | OpKind::Immediate16
                | OpKind::Immediate32
                | OpKind::Immediate8to16
                | OpKind::Immediate8to32 => Src::Imm(ins.immediate(1) as u32),
                _ => src(1)?,
            };
            if !matches!(size, 1 | 2 | 4) || size_of(s).is_some_and(|n| n != size) {
                return None;
            }
            Form::Alu {
                op,
                size,
                dst,
                src: s,
            }
        }
    };
    Some(form)
}

/// What the translation of a block came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TranslationStats {
    pub native: u64,
    pub helper: u64,
}

const SEG_SIZE: i32 = std::mem::size_of::<emu_core::cpu::segment::SegmentCache>() as i32;

/// A flat segment: base 0, 4 GiB limit, present, expand-up, writable data, 32-bit (B set,
/// for stacks). Accesses through it need no segment checks.
const FLAT_MASK: u16 = ATTR_P | ATTR_CODE | ATTR_DC | ATTR_RW | ATTR_DB;
const FLAT_WANT: u16 = ATTR_P | ATTR_RW | ATTR_DB;

/// The segment registers that are flat in `state` (bit n = segment n).
pub fn flat_segments(state: &emu_core::cpu::CpuState) -> u8 {
    state.seg.iter().enumerate().fold(0, |m, (n, s)| {
        let flat = s.base == 0 && s.limit == u32::MAX && s.attr & FLAT_MASK == FLAT_WANT;
        m | ((flat as u8) << n)
    })
}

/// How a form touches the arithmetic flags, for `dead_flags`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagUse {
    /// Reads them, or may leave the block (a fault or exit shows them to the guest).
    Observes,
    /// Replaces all six without reading them, and cannot fault.
    Overwrites,
    /// Neither.
    Ignores,
}

fn flag_use(f: &Form) -> FlagUse {
    let mem = |s: &Src| matches!(s, Src::Mem(_));
    match f {
        Form::Mov { dst, src, .. } if matches!(dst, Dst::Reg(_)) && !mem(src) => FlagUse::Ignores,
        Form::Extend { src, .. } if !mem(src) => FlagUse::Ignores,
        Form::Lea { .. } => FlagUse::Ignores,
        Form::Alu { op, dst, src, .. }
            if matches!(dst, Dst::Reg(_)) && !mem(src) && !matches!(op, Alu::Adc | Alu::Sbb) =>
        {
            FlagUse::Overwrites
        }
        // A CL count may be zero, which leaves the flags as they were.
        Form::Shift { count: Some(_), .. } | Form::Imul { .. } => FlagUse::Overwrites,
        _ => FlagUse::Observes,
    }
}

/// For each instruction: whether the flags it produces are overwritten by a later one of
/// the block before anything could observe them (a reader, a possible fault, a helper, the
/// block's end). Such an instruction skips writing its flags.
fn dead_flags(forms: &[Form]) -> Vec<bool> {
    let mut dead = vec![false; forms.len()];
    // Scanning backwards: is the flag state at this point overwritten before observed?
    let mut overwritten_later = false;
    for i in (0..forms.len()).rev() {
        dead[i] = overwritten_later;
        match flag_use(&forms[i]) {
            FlagUse::Observes => overwritten_later = false,
            FlagUse::Overwrites => overwritten_later = true,
            FlagUse::Ignores => {}
        }
    }
    dead
}

/// The segments a form's memory accesses use (bit n = segment n).
fn segments_of(f: &Form) -> u8 {
    let mem = |s: &Src| match s {
        Src::Mem(m) => 1 << m.seg,
        _ => 0,
    };
    let dst = |d: &Dst| match d {
        Dst::Mem(m) => 1 << m.seg,
        _ => 0,
    };
    let stack = 1 << SS;
    match f {
        Form::Mov { dst: d, src, .. } | Form::Alu { dst: d, src, .. } => dst(d) | mem(src),
        Form::Extend { src, .. } | Form::Cmovcc { src, .. } => mem(src),
        Form::IncDec { dst: d, .. } => dst(d),
        Form::Push { .. } | Form::Pop { .. } => stack,
        Form::Branch { kind, target } => {
            let s = if matches!(kind, BranchKind::Jmp) {
                0
            } else {
                stack
            };
            s | mem(target)
        }
        _ => 0,
    }
}
const TLB_ENTRY_SIZE: i32 = std::mem::size_of::<emu_core::mmu::TlbEntry>() as i32;
const _: () = assert!(TLB_ENTRY_SIZE == 24 && TLB_ENTRIES == 1024);

/// A slow path emitted after the block: label, where to rejoin, the instruction and the
/// natively run instructions before it.
struct SlowPath {
    slow: DynamicLabel,
    join: DynamicLabel,
    insn: i64,
    pending: i32,
}

struct Emitter {
    ops: VecAssembler<X64Relocation>,
    /// Segments (bit n = segment register n) this block's memory accesses use that were
    /// flat at translation; a guard at the entry checks they still are.
    flat: u8,
    /// The current instruction's slow-path label, once something jumps to it.
    slow: Option<DynamicLabel>,
    slow_paths: Vec<SlowPath>,
    exit: usize,
    /// Guest instructions run natively since `icount` was last written.
    uncounted: i32,
    /// RIP is not yet written for the instructions run natively since the last sync.
    rip_stale: bool,
    /// The host flags hold the guest's arithmetic flags (a native ALU op set them and
    /// nothing since clobbered them).
    flags_live: bool,
    /// The lazy-flags record was written by a native ALU op of this kind and size, so the
    /// host flags can be recomputed from it.
    flags_record: Option<(Alu, u8)>,
    /// The current instruction's flags are overwritten before anything can see them
    /// (`dead_flags`): it need not store them.
    flags_dead: bool,
}

impl Emitter {
    /// Brings RIP (to `rip`) and `icount` up to date before a helper or the exit.
    fn sync(&mut self, rip: u32) {
        if self.uncounted > 0 {
            let n = self.uncounted;
            dynasm!(self.ops ; .arch x64 ; add QWORD [rbx + layout::ICOUNT], n);
            self.uncounted = 0;
        }
        if self.rip_stale {
            // The upper half of RIP is zero in IA-32 and stays so.
            dynasm!(self.ops ; .arch x64 ; mov DWORD [rbx + layout::RIP], rip as i32);
            self.rip_stale = false;
        }
        self.flags_live = false;
    }

    fn leave(&mut self) {
        let exit = self.exit;
        dynasm!(self.ops ; .arch x64 ; jmp extern exit);
    }

    fn call(&mut self, f: usize) {
        dynasm!(self.ops
            ; .arch x64
            ; mov rax, QWORD f as i64
            ; call rax
        );
    }

    fn helper(&mut self, d: &DecodedInsn) {
        self.sync(d.instr.ip() as u32);
        self.flags_record = None;
        // It may load a segment register: later accesses check their segments again.
        self.flat = 0;
        let insn = d as *const DecodedInsn as i64;
        let exit = self.exit;
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, rbx
            ; mov rsi, QWORD insn
        );
        self.call(helpers::step as extern "sysv64" fn(_, _) -> u32 as usize);
        dynasm!(self.ops
            ; .arch x64
            ; test eax, eax
            ; jnz extern exit
        );
    }

    /// Writes the lazy-flags record exactly as `emu_core::interp::alu` does: operands in
    /// EAX/ECX, result in EDX (all 32-bit, as the interpreter computes them at every size).
    /// Only MOVs: the host flags survive.
    fn record_flags(&mut self, op: Alu, size: u8) {
        let (lazy, keep_operands) = match op {
            Alu::Add | Alu::Adc => (LazyOp::Add, true),
            Alu::Sub | Alu::Sbb | Alu::Cmp => (LazyOp::Sub, true),
            Alu::And | Alu::Or | Alu::Xor | Alu::Test => (LazyOp::Logic, false),
        };
        let op_and_size = (lazy as u32 as i64) | ((size as i64) << 32);
        // With a carry-in of 1, ADC/SBB record AdcCarry/SbbBorrow, the next kinds.
        const _: () = assert!(
            LazyOp::AdcCarry as u32 == LazyOp::Add as u32 + 1
                && LazyOp::SbbBorrow as u32 == LazyOp::Sub as u32 + 1
        );
        if keep_operands {
            dynasm!(self.ops
                ; .arch x64
                ; mov DWORD [rbx + layout::LAZY_SRC1], eax
                ; mov DWORD [rbx + layout::LAZY_SRC2], ecx
            );
        } else {
            const _: () = assert!(layout::LAZY_SRC2 == layout::LAZY_SRC1 + 4);
            dynasm!(self.ops
                ; .arch x64
                ; mov QWORD [rbx + layout::LAZY_SRC1], 0
            );
        }
        dynasm!(self.ops
            ; .arch x64
            ; mov DWORD [rbx + layout::LAZY_RES], edx
            ; mov rsi, QWORD op_and_size
        );
        if matches!(op, Alu::Adc | Alu::Sbb) {
            // LEA, not ADD: the host flags must survive.
            dynasm!(self.ops ; .arch x64 ; lea rsi, [rsi + rbp]);
        }
        dynasm!(self.ops
            ; .arch x64
            ; mov QWORD [rbx + layout::LAZY_OP], rsi
        );
    }

    /// EDX = EAX op ECX (zero-extended operands, 32-bit result as the interpreter keeps
    /// it), the lazy record written, and the host flags those of the `size`-byte operation.
    fn alu(&mut self, op: Alu, size: u8) {
        dynasm!(self.ops ; .arch x64 ; mov edx, eax);
        match op {
            Alu::Add => dynasm!(self.ops ; .arch x64 ; add edx, ecx),
            Alu::Adc => dynasm!(self.ops ; .arch x64 ; add edx, ecx ; add edx, ebp),
            Alu::Sub | Alu::Cmp => dynasm!(self.ops ; .arch x64 ; sub edx, ecx),
            Alu::Sbb => dynasm!(self.ops ; .arch x64 ; sub edx, ecx ; sub edx, ebp),
            Alu::And | Alu::Test => dynasm!(self.ops ; .arch x64 ; and edx, ecx),
            Alu::Or => dynasm!(self.ops ; .arch x64 ; or edx, ecx),
            Alu::Xor => dynasm!(self.ops ; .arch x64 ; xor edx, ecx),
        }
        // The host flags: redo narrow operations at their size, and carry-in operations
        // with the carry in CF.
        match (op, size) {
            (Alu::Adc, 1) => dynasm!(self.ops ; .arch x64 ; bt ebp, 0 ; mov r8d, eax ; adc r8b, cl),
            (Alu::Adc, 2) => dynasm!(self.ops ; .arch x64 ; bt ebp, 0 ; mov r8d, eax ; adc r8w, cx),
            (Alu::Adc, _) => {
                dynasm!(self.ops ; .arch x64 ; bt ebp, 0 ; mov r8d, eax ; adc r8d, ecx)
            }
            (Alu::Sbb, 1) => dynasm!(self.ops ; .arch x64 ; bt ebp, 0 ; mov r8d, eax ; sbb r8b, cl),
            (Alu::Sbb, 2) => dynasm!(self.ops ; .arch x64 ; bt ebp, 0 ; mov r8d, eax ; sbb r8w, cx),
            (Alu::Sbb, _) => {
                dynasm!(self.ops ; .arch x64 ; bt ebp, 0 ; mov r8d, eax ; sbb r8d, ecx)
            }
            (_, 4) => {}
            (Alu::Add, 1) => dynasm!(self.ops ; .arch x64 ; mov r8d, eax ; add r8b, cl),
            (Alu::Add, _) => dynasm!(self.ops ; .arch x64 ; mov r8d, eax ; add r8w, cx),
            (Alu::Sub | Alu::Cmp, 1) => dynasm!(self.ops ; .arch x64 ; cmp al, cl),
            (Alu::Sub | Alu::Cmp, _) => dynasm!(self.ops ; .arch x64 ; cmp ax, cx),
            (_, 1) => dynasm!(self.ops ; .arch x64 ; test dl, dl),
            (_, _) => dynasm!(self.ops ; .arch x64 ; test dx, dx),
        }
        if !self.flags_dead {
            self.record_flags(op, size);
        }
    }

    /// Makes the host flags the guest's: they already are, or they are recomputed from the
    /// lazy record a native ALU op of this block wrote. Callers check `flags_known` first.
    fn host_flags(&mut self) {
        if self.flags_live {
            return;
        }
        let (op, size) = self.flags_record.expect("flags are known");
        match (op, size) {
            (Alu::Adc | Alu::Sbb, _) => unreachable!("carry-in records are not replayed"),
            (Alu::Add, 4) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_SRC1] ; add eax, DWORD [rbx + layout::LAZY_SRC2]),
            (Alu::Add, 2) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_SRC1] ; add ax, WORD [rbx + layout::LAZY_SRC2]),
            (Alu::Add, _) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_SRC1] ; add al, BYTE [rbx + layout::LAZY_SRC2]),
            (Alu::Sub | Alu::Cmp, 4) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_SRC1] ; cmp eax, DWORD [rbx + layout::LAZY_SRC2]),
            (Alu::Sub | Alu::Cmp, 2) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_SRC1] ; cmp ax, WORD [rbx + layout::LAZY_SRC2]),
            (Alu::Sub | Alu::Cmp, _) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_SRC1] ; cmp al, BYTE [rbx + layout::LAZY_SRC2]),
            (_, 4) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_RES] ; test eax, eax),
            (_, 2) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_RES] ; test ax, ax),
            (_, _) => dynasm!(self.ops ; .arch x64
                ; mov eax, DWORD [rbx + layout::LAZY_RES] ; test al, al),
        }
        self.flags_live = true;
    }

    fn flags_known(&self) -> bool {
        self.flags_live || self.flags_record.is_some()
    }

    /// ADD/SUB/CMP/AND/OR/XOR/TEST, as `ops_alu::binop` (and `test`): both operands read,
    /// the result written back except for CMP/TEST, then the flag record.
    fn alu_form(&mut self, d: &DecodedInsn, op: Alu, size: u8, dst: Dst, src: Src) {
        let writes = !matches!(op, Alu::Cmp | Alu::Test);
        match dst {
            Dst::Reg(r) => self.with_source(d, src, size, |e| {
                dynasm!(e.ops ; .arch x64 ; mov ecx, eax);
                e.load_value(Src::Reg(r));
                e.alu(op, size);
                if writes {
                    dynasm!(e.ops ; .arch x64 ; mov eax, edx);
                    e.store_reg(r);
                }
            }),
            Dst::Mem(m) => {
                self.effective_offset(m);
                self.fast_address(m.seg, size, writes, false);
                dynasm!(self.ops ; .arch x64 ; mov rdi, rdx);
                self.load_value(src);
                dynasm!(self.ops ; .arch x64 ; mov ecx, eax ; mov rdx, rdi);
                self.load_host(size);
                self.alu(op, size);
                if writes {
                    match size {
                        1 => dynasm!(self.ops ; .arch x64 ; mov BYTE [rdi], dl),
                        2 => dynasm!(self.ops ; .arch x64 ; mov WORD [rdi], dx),
                        _ => dynasm!(self.ops ; .arch x64 ; mov DWORD [rdi], edx),
                    }
                }
                self.slow_path_and_join(d);
            }
        }
    }

    /// Puts condition `cc` in the host flags and returns the host condition code that
    /// tests it: the guest's own when the translator knows the flags (`host_flags`),
    /// else NE after asking the interpreter's `LazyFlags::condition`.
    fn condition(&mut self, cc: u8) -> u8 {
        if self.flags_known() {
            self.host_flags();
            return cc;
        }
        dynasm!(self.ops ; .arch x64 ; mov rdi, rbx ; mov esi, cc as i32);
        self.call(helpers::condition as extern "sysv64" fn(_, _) -> u32 as usize);
        dynasm!(self.ops ; .arch x64 ; test eax, eax);
        5
    }

    /// EBP = the carry-in for ADC/SBB.
    fn carry_in(&mut self) {
        if self.flags_known() {
            self.host_flags();
            dynasm!(self.ops ; .arch x64 ; setc al ; movzx ebp, al);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov rdi, rbx);
            self.call(helpers::carry as extern "sysv64" fn(_) -> u32 as usize);
            dynasm!(self.ops ; .arch x64 ; mov ebp, eax);
        }
    }

    /// SETcc r8 and CMOVcc r32, r32.
    fn setcc(&mut self, cc: u8, dst: RegSlot) {
        let cc = self.condition(cc);
        macro_rules! set {
            ($($n:literal => $i:ident),*) => {
                match cc {
                    $($n => dynasm!(self.ops ; .arch x64 ; $i al),)*
                    _ => unreachable!("condition codes are 4 bits"),
                }
            };
        }
        set!(0 => seto, 1 => setno, 2 => setb, 3 => setae, 4 => sete, 5 => setne, 6 => setbe,
            7 => seta, 8 => sets, 9 => setns, 10 => setp, 11 => setnp, 12 => setl, 13 => setge,
            14 => setle, 15 => setg);
        dynasm!(self.ops ; .arch x64 ; mov BYTE [rbx + dst.off], al);
    }

    /// CMOVcc r32, r/m32, as `ops_bit::cmovcc`: the source is read (and may fault) either
    /// way; it waits in EBP while the condition is evaluated.
    fn cmovcc(&mut self, d: &DecodedInsn, cc: u8, dst: usize, src: Src) {
        match src {
            Src::Mem(m) => {
                self.effective_offset(m);
                self.fast_address(m.seg, 4, false, false);
                self.load_host(4);
                dynasm!(self.ops ; .arch x64 ; mov ebp, eax);
                // The inline checks changed the host flags.
                self.flags_live = false;
            }
            _ => {
                self.load_value(src);
                dynasm!(self.ops ; .arch x64 ; mov ebp, eax);
            }
        }
        let cc = self.condition(cc);
        dynasm!(self.ops ; .arch x64 ; mov eax, DWORD [rbx + gpr(dst)]);
        macro_rules! cmov {
            ($($n:literal => $i:ident),*) => {
                match cc {
                    $($n => dynasm!(self.ops ; .arch x64 ; $i eax, ebp),)*
                    _ => unreachable!("condition codes are 4 bits"),
                }
            };
        }
        cmov!(0 => cmovo, 1 => cmovno, 2 => cmovb, 3 => cmovae, 4 => cmove, 5 => cmovne,
            6 => cmovbe, 7 => cmova, 8 => cmovs, 9 => cmovns, 10 => cmovp, 11 => cmovnp,
            12 => cmovl, 13 => cmovge, 14 => cmovle, 15 => cmovg);
        dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rax);
        if matches!(src, Src::Mem(_)) {
            self.slow_path_and_join(d);
        }
    }

    /// ESI = the operand's offset (effective address before segmentation).
    fn effective_offset(&mut self, m: Mem) {
        dynasm!(self.ops ; .arch x64 ; mov esi, m.disp as i32);
        if let Some(b) = m.base {
            dynasm!(self.ops ; .arch x64 ; add esi, DWORD [rbx + gpr(b)]);
        }
        if let Some(i) = m.index {
            dynasm!(self.ops
                ; .arch x64
                ; mov eax, DWORD [rbx + gpr(i)]
                ; shl eax, m.shift as i8
                ; add esi, eax
            );
        }
    }

    /// The inline part of a `size`-byte access at `seg`:ESI: if the segment is a present
    /// expand-up data segment allowing the access (and, for `stack`, a 32-bit one), the
    /// offset is within its limit, and the TLB holds the page for this kind of access with
    /// all bytes inside it, RDX = host address and control goes on; anything else jumps to
    /// the local label `slow`. Clobbers RAX, RCX, RDX.
    fn fast_address(&mut self, seg: usize, size: u8, write: bool, stack: bool) {
        let seg_index = seg;
        let seg = layout::SEG0 + seg as i32 * SEG_SIZE;
        let (mut mask, mut want) = if write {
            (ATTR_P | ATTR_CODE | ATTR_DC | ATTR_RW, ATTR_P | ATTR_RW)
        } else {
            (ATTR_P | ATTR_CODE | ATTR_DC, ATTR_P)
        };
        if stack {
            mask |= ATTR_DB;
            want |= ATTR_DB;
        }
        let tag = if write {
            layout::TLB_WRITE_TAG
        } else {
            layout::TLB_READ_TAG
        };
        let last = size as i32 - 1;
        let slow = self.slow_label();
        if self.flat & (1 << seg_index) != 0 {
            // Checked flat at the block's entry: no segment checks, linear = offset. (A
            // wrap past 4 GiB is a page crossing, which the TLB check below refuses.)
            dynasm!(self.ops ; .arch x64 ; mov eax, esi);
            self.tlb_lookup(tag, last, slow);
            return;
        }
        dynasm!(self.ops
            ; .arch x64
            ; movzx eax, WORD [rbx + seg + layout::SEG_ATTR]
            ; and eax, mask as i32
            ; cmp eax, want as i32
            ; jne =>slow
        );
        if size == 1 {
            dynasm!(self.ops
                ; .arch x64
                ; cmp esi, DWORD [rbx + seg + layout::SEG_LIMIT]
                ; ja =>slow
            );
        } else {
            // The last byte too, and the offset must not wrap around 4 GiB.
            dynasm!(self.ops
                ; .arch x64
                ; lea eax, [rsi + last]
                ; cmp eax, esi
                ; jb =>slow
                ; cmp eax, DWORD [rbx + seg + layout::SEG_LIMIT]
                ; ja =>slow
            );
        }
        dynasm!(self.ops
            ; .arch x64
            ; mov eax, esi
            ; add eax, DWORD [rbx + seg + layout::SEG_BASE]
        );
        self.tlb_lookup(tag, last, slow);
    }

    /// RDX = host address of the linear address in EAX, from the TLB entry for `tag` (read
    /// or write); `slow` when the entry does not map it. The entry is chosen by the first
    /// byte's page but compared with the last byte's (`last` bytes on): an access crossing
    /// into the next page (a different entry) never matches.
    fn tlb_lookup(&mut self, tag: i32, last: i32, slow: DynamicLabel) {
        dynasm!(self.ops
            ; .arch x64
            ; mov ecx, eax
            ; shr ecx, 12
            ; and ecx, (TLB_ENTRIES - 1) as i32
            ; imul ecx, ecx, TLB_ENTRY_SIZE
            ; lea edx, [rax + last]
            ; and edx, -4096i32
            ; cmp edx, DWORD [r13 + rcx + tag]
            ; jne =>slow
            ; mov edx, eax
            ; and edx, 0xFFF
            ; mov rcx, QWORD [r13 + rcx + layout::TLB_HOST]
            ; add rcx, r12
            ; lea rdx, [rcx + rdx]
        );
    }

    /// The block's entry guard: every segment in `flat` is still flat.
    fn flat_guard(&mut self, failed: DynamicLabel) {
        for n in 0..6 {
            if self.flat & (1 << n) == 0 {
                continue;
            }
            let seg = layout::SEG0 + n * SEG_SIZE;
            dynasm!(self.ops
                ; .arch x64
                ; cmp DWORD [rbx + seg + layout::SEG_LIMIT], -1
                ; jne =>failed
                ; cmp QWORD [rbx + seg + layout::SEG_BASE], 0
                ; jne =>failed
                ; movzx eax, WORD [rbx + seg + layout::SEG_ATTR]
                ; and eax, FLAT_MASK as i32
                ; cmp eax, FLAT_WANT as i32
                ; jne =>failed
            );
        }
    }

    /// The label the current instruction's fast path jumps to when it does not apply.
    fn slow_label(&mut self) -> DynamicLabel {
        match self.slow {
            Some(l) => l,
            None => {
                let l = self.ops.new_dynamic_label();
                self.slow = Some(l);
                l
            }
        }
    }

    /// The join after the current instruction's fast path. Its slow path, where the
    /// interpreter runs the whole instruction (`helpers::step_slow`), is emitted after the
    /// block (`emit_slow_paths`), so the fast path runs straight through.
    fn slow_path_and_join(&mut self, d: &DecodedInsn) {
        let slow = self.slow_label();
        self.slow = None;
        let join = self.ops.new_dynamic_label();
        dynasm!(self.ops ; .arch x64 ; =>join);
        self.slow_paths.push(SlowPath {
            slow,
            join,
            insn: d as *const DecodedInsn as i64,
            pending: self.uncounted,
        });
    }

    /// The out-of-line slow paths, after the block's last exit.
    fn emit_slow_paths(&mut self) {
        let exit = self.exit;
        for p in std::mem::take(&mut self.slow_paths) {
            dynasm!(self.ops
                ; .arch x64
                ; =>p.slow
                ; mov rdi, rbx
                ; mov rsi, QWORD p.insn
                ; mov edx, p.pending
            );
            self.call(helpers::step_slow as extern "sysv64" fn(_, _, _) -> u32 as usize);
            dynasm!(self.ops
                ; .arch x64
                ; test eax, eax
                ; jnz extern exit
                ; jmp =>p.join
            );
        }
    }

    /// EAX = the zero-extended `size`-byte value at host address RDX.
    fn load_host(&mut self, size: u8) {
        match size {
            1 => dynasm!(self.ops ; .arch x64 ; movzx eax, BYTE [rdx]),
            2 => dynasm!(self.ops ; .arch x64 ; movzx eax, WORD [rdx]),
            _ => dynasm!(self.ops ; .arch x64 ; mov eax, DWORD [rdx]),
        }
    }

    /// EAX = the zero-extended register or immediate (not memory).
    fn load_value(&mut self, src: Src) {
        match src {
            Src::Reg(r) => match r.size {
                1 => dynasm!(self.ops ; .arch x64 ; movzx eax, BYTE [rbx + r.off]),
                2 => dynasm!(self.ops ; .arch x64 ; movzx eax, WORD [rbx + r.off]),
                _ => dynasm!(self.ops ; .arch x64 ; mov eax, DWORD [rbx + r.off]),
            },
            Src::Imm(v) => dynasm!(self.ops ; .arch x64 ; mov eax, v as i32),
            Src::Mem(_) => unreachable!("memory sources go through `fast_address`"),
        }
    }

    /// The register gets EAX (`set_reg32` clears the upper half; narrower writes merge).
    fn store_reg(&mut self, r: RegSlot) {
        match r.size {
            1 => dynasm!(self.ops ; .arch x64 ; mov BYTE [rbx + r.off], al),
            2 => dynasm!(self.ops ; .arch x64 ; mov WORD [rbx + r.off], ax),
            _ => dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + r.off], rax),
        }
    }

    /// EAX = the operand, then `then` with the value in EAX. Memory operands get the
    /// fast path with the interpreter as the slow path for the whole instruction.
    fn with_source(&mut self, d: &DecodedInsn, src: Src, size: u8, then: impl FnOnce(&mut Self)) {
        match src {
            Src::Mem(m) => {
                self.effective_offset(m);
                self.fast_address(m.seg, size, false, false);
                self.load_host(size);
                then(self);
                self.slow_path_and_join(d);
            }
            _ => {
                self.load_value(src);
                then(self);
            }
        }
    }

    fn mov(&mut self, d: &DecodedInsn, size: u8, dst: Dst, src: Src) {
        match dst {
            Dst::Reg(r) => self.with_source(d, src, size, |e| e.store_reg(r)),
            Dst::Mem(m) => {
                self.effective_offset(m);
                self.fast_address(m.seg, size, true, false);
                self.load_value(src);
                match size {
                    1 => dynasm!(self.ops ; .arch x64 ; mov BYTE [rdx], al),
                    2 => dynasm!(self.ops ; .arch x64 ; mov WORD [rdx], ax),
                    _ => dynasm!(self.ops ; .arch x64 ; mov DWORD [rdx], eax),
                }
                self.slow_path_and_join(d);
            }
        }
    }

    /// The inline part of pushing EDI (a 32-bit value) on a 32-bit stack; jumps to `slow`
    /// when the fast path does not apply.
    fn push_edi(&mut self) {
        dynasm!(self.ops
            ; .arch x64
            ; mov esi, DWORD [rbx + gpr(RSP)]
            ; sub esi, 4
        );
        self.fast_address(SS, 4, true, true);
        dynasm!(self.ops
            ; .arch x64
            ; mov DWORD [rdx], edi
            ; mov QWORD [rbx + gpr(RSP)], rsi
        );
    }

    fn push(&mut self, d: &DecodedInsn, src: Src) {
        self.load_value(src);
        dynasm!(self.ops ; .arch x64 ; mov edi, eax);
        self.push_edi();
        self.slow_path_and_join(d);
    }

    /// JMP/CALL/RET: EAX = the target (checked against the CS limit: beyond it the
    /// interpreter raises the #GP on the slow path), the return address pushed or popped,
    /// EIP written. The block ends here, so EIP and `icount` are brought up to date on
    /// both paths and the block's tail needs no sync.
    fn branch(&mut self, d: &DecodedInsn, kind: BranchKind, target: Src) {
        let code_seg = layout::SEG0 + layout::CS_INDEX * SEG_SIZE;
        let slow = self.slow_label();
        match (kind, target) {
            (BranchKind::Ret(extra), _) => {
                dynasm!(self.ops ; .arch x64 ; mov esi, DWORD [rbx + gpr(RSP)]);
                self.fast_address(SS, 4, false, true);
                let release = 4 + extra as i32;
                dynasm!(self.ops
                    ; .arch x64
                    ; mov eax, DWORD [rdx]
                    ; cmp eax, DWORD [rbx + code_seg + layout::SEG_LIMIT]
                    ; ja =>slow
                    ; add esi, release
                    ; mov QWORD [rbx + gpr(RSP)], rsi
                );
            }
            (_, Src::Mem(m)) => {
                self.effective_offset(m);
                self.fast_address(m.seg, 4, false, false);
                self.load_host(4);
            }
            (_, src) => self.load_value(src),
        }
        if !matches!(kind, BranchKind::Ret(_)) {
            dynasm!(self.ops
                ; .arch x64
                ; cmp eax, DWORD [rbx + code_seg + layout::SEG_LIMIT]
                ; ja =>slow
            );
        }
        if kind == BranchKind::Call {
            // The target waits in EBP while the return address goes on the stack.
            let ret = d.next_rip as i32;
            dynasm!(self.ops ; .arch x64 ; mov ebp, eax ; mov edi, ret);
            self.push_edi();
            dynasm!(self.ops ; .arch x64 ; mov eax, ebp);
        }
        dynasm!(self.ops ; .arch x64 ; mov DWORD [rbx + layout::RIP], eax);
        self.slow_path_and_join(d);
        let n = self.uncounted + 1;
        dynasm!(self.ops ; .arch x64 ; add QWORD [rbx + layout::ICOUNT], n);
    }

    fn pop(&mut self, d: &DecodedInsn, dst: usize) {
        dynasm!(self.ops ; .arch x64 ; mov esi, DWORD [rbx + gpr(RSP)]);
        self.fast_address(SS, 4, false, true);
        // ESP moves first: POP ESP leaves the popped value in ESP.
        dynasm!(self.ops
            ; .arch x64
            ; mov eax, DWORD [rdx]
            ; add esi, 4
            ; mov QWORD [rbx + gpr(RSP)], rsi
            ; mov QWORD [rbx + gpr(dst)], rax
        );
        self.slow_path_and_join(d);
    }

    /// Replaces the six arithmetic flags with the bits in EAX (as `LazyFlags::set_eflags`
    /// after a shift or multiply computed all of them). Clobbers ESI.
    fn set_arith_flags(&mut self) {
        let keep = !emu_core::cpu::flags::ARITH as i32;
        dynasm!(self.ops
            ; .arch x64
            ; mov esi, DWORD [rbx + layout::LAZY_EFLAGS]
            ; and esi, keep
            ; or esi, eax
            ; mov DWORD [rbx + layout::LAZY_EFLAGS], esi
            ; mov DWORD [rbx + layout::LAZY_OP], LazyOp::Idle as i32
        );
    }

    /// SHL/SHR/SAR r32, as `ops_shift::shift`: CF the last bit out, OF the SDM's count-1
    /// rule for every count (SHL: MSB xor CF, SHR: the old MSB, SAR: 0), SZP from the
    /// result, AF cleared. A zero CL count changes nothing.
    fn shift(&mut self, op: Shift, dst: usize, count: Option<u8>) {
        dynasm!(self.ops ; .arch x64 ; mov edi, DWORD [rbx + gpr(dst)] ; mov edx, edi);
        match count {
            Some(c) => match op {
                Shift::Shl => dynasm!(self.ops ; .arch x64 ; shl edx, c as i8),
                Shift::Shr => dynasm!(self.ops ; .arch x64 ; shr edx, c as i8),
                Shift::Sar => dynasm!(self.ops ; .arch x64 ; sar edx, c as i8),
            },
            None => {
                dynasm!(self.ops
                    ; .arch x64
                    ; movzx ecx, BYTE [rbx + gpr(1)]
                    ; and ecx, 0x1F
                    ; jz >unchanged
                );
                match op {
                    Shift::Shl => dynasm!(self.ops ; .arch x64 ; shl edx, cl),
                    Shift::Shr => dynasm!(self.ops ; .arch x64 ; shr edx, cl),
                    Shift::Sar => dynasm!(self.ops ; .arch x64 ; sar edx, cl),
                }
            }
        }
        if self.flags_dead {
            dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
            if count.is_none() {
                dynasm!(self.ops ; .arch x64 ; unchanged:);
            }
            return;
        }
        // LAHF: SF ZF - AF - PF - CF in AH; AF is undefined after a shift: keep SF ZF PF CF.
        dynasm!(self.ops
            ; .arch x64
            ; lahf
            ; movzx eax, ah
            ; and eax, 0xC5
        );
        match op {
            Shift::Shl => dynasm!(self.ops
                ; .arch x64
                ; mov ecx, edx
                ; shr ecx, 31
                ; xor ecx, eax
                ; and ecx, 1
                ; shl ecx, 11
                ; or eax, ecx
            ),
            Shift::Shr => dynasm!(self.ops
                ; .arch x64
                ; mov ecx, edi
                ; shr ecx, 31
                ; shl ecx, 11
                ; or eax, ecx
            ),
            Shift::Sar => {}
        }
        self.set_arith_flags();
        dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
        if count.is_none() {
            dynasm!(self.ops ; .arch x64 ; unchanged:);
        }
    }

    /// IMUL r32, r32[, imm], as `alu::imul`: CF = OF = the product does not fit 32 bits,
    /// SZP from the low half, AF cleared.
    fn imul(&mut self, dst: usize, src: usize, imm: Option<u32>) {
        match imm {
            Some(v) => dynasm!(self.ops
                ; .arch x64
                ; imul edx, DWORD [rbx + gpr(src)], v as i32
            ),
            None => dynasm!(self.ops
                ; .arch x64
                ; mov edx, DWORD [rbx + gpr(dst)]
                ; imul edx, DWORD [rbx + gpr(src)]
            ),
        }
        if self.flags_dead {
            dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
            return;
        }
        dynasm!(self.ops
            ; .arch x64
            ; seto cl
            ; movzx ecx, cl
            ; imul ecx, ecx, 0x801
            ; test edx, edx
            ; lahf
            ; movzx eax, ah
            ; and eax, 0xC4
            ; or eax, ecx
        );
        self.set_arith_flags();
        dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
    }

    /// INC/DEC r32, as `alu::inc`/`alu::dec`: CF is folded into `eflags` from the current
    /// flags (the host's, when a native ALU op just set them), then an Inc/Dec record.
    fn inc_dec(&mut self, d: &DecodedInsn, dec: bool, size: u8, dst: Dst) {
        if self.flags_known() {
            self.host_flags();
            dynasm!(self.ops
                ; .arch x64
                ; setc cl
                ; movzx ecx, cl
                ; mov eax, DWORD [rbx + layout::LAZY_EFLAGS]
                ; and eax, !1
                ; or eax, ecx
                ; mov DWORD [rbx + layout::LAZY_EFLAGS], eax
            );
        } else {
            // Before the operand: the call clobbers the scratch registers. (Folding CF
            // early is harmless if the access then faults: the flags' value is the same.)
            dynasm!(self.ops ; .arch x64 ; mov rdi, rbx);
            self.call(helpers::fold_carry as extern "sysv64" fn(_) as usize);
        }
        let (op, delta) = if dec {
            (LazyOp::Dec, -1)
        } else {
            (LazyOp::Inc, 1)
        };
        let op_and_size = (op as u32 as i64) | ((size as i64) << 32);
        let mask = emu_core::cpu::flags::size_mask(size as u32) as i32;
        match dst {
            Dst::Reg(r) => self.load_value(Src::Reg(r)),
            Dst::Mem(m) => {
                self.effective_offset(m);
                self.fast_address(m.seg, size, true, false);
                dynasm!(self.ops ; .arch x64 ; mov rdi, rdx);
                self.load_host(size);
            }
        }
        // The record keeps the result masked to the operand size, as `alu::inc` does.
        dynasm!(self.ops
            ; .arch x64
            ; lea edx, [rax + delta]
            ; and edx, mask
            ; mov DWORD [rbx + layout::LAZY_SRC1], eax
            ; mov DWORD [rbx + layout::LAZY_SRC2], 1
            ; mov DWORD [rbx + layout::LAZY_RES], edx
            ; mov rsi, QWORD op_and_size
            ; mov QWORD [rbx + layout::LAZY_OP], rsi
        );
        match dst {
            Dst::Reg(r) => {
                dynasm!(self.ops ; .arch x64 ; mov eax, edx);
                self.store_reg(r);
            }
            Dst::Mem(_) => {
                match size {
                    1 => dynasm!(self.ops ; .arch x64 ; mov BYTE [rdi], dl),
                    2 => dynasm!(self.ops ; .arch x64 ; mov WORD [rdi], dx),
                    _ => dynasm!(self.ops ; .arch x64 ; mov DWORD [rdi], edx),
                }
                self.slow_path_and_join(d);
            }
        }
    }

    /// A conditional jump on the live host flags. Taken: check the target against the CS
    /// limit (else let the interpreter raise #GP) and leave with RIP = target. Not taken:
    /// fall through to the block's end.
    fn jcc_fused(&mut self, d: &DecodedInsn, cc: u8, target: u32) {
        let cc = self.condition(cc);
        macro_rules! jcc_to_taken {
            ($($n:literal => $j:ident),*) => {
                match cc {
                    $($n => dynasm!(self.ops ; .arch x64 ; $j >taken),)*
                    _ => unreachable!("condition codes are 4 bits"),
                }
            };
        }
        jcc_to_taken!(0 => jo, 1 => jno, 2 => jb, 3 => jae, 4 => je, 5 => jne, 6 => jbe,
            7 => ja, 8 => js, 9 => jns, 10 => jp, 11 => jnp, 12 => jl, 13 => jge, 14 => jle,
            15 => jg);
        dynasm!(self.ops ; .arch x64 ; jmp >not_taken ; taken:);
        let n = self.uncounted;
        dynasm!(self.ops
            ; .arch x64
            ; cmp DWORD [rbx + layout::SEG0 + layout::CS_INDEX * SEG_SIZE + layout::SEG_LIMIT], target as i32
            ; jb >beyond
            ; add QWORD [rbx + layout::ICOUNT], n + 1
            ; mov DWORD [rbx + layout::RIP], target as i32
            ; jmp >tail
            ; beyond:
        );
        // The interpreter's JCC sees the same lazy flags and raises the #GP.
        let (uncounted, stale) = (self.uncounted, self.rip_stale);
        self.helper(d);
        self.leave();
        (self.uncounted, self.rip_stale) = (uncounted, stale);
        dynasm!(self.ops ; .arch x64 ; not_taken:);
    }

    /// If RIP is `eip`, the budget lasts and no request is pending: continue in the linked
    /// successor, or ask the dispatcher to link it. Otherwise fall through.
    fn chain_exit(&mut self, eip: u32, slot: i64, link_request: usize) {
        let exit = self.exit;
        dynasm!(self.ops
            ; .arch x64
            ; cmp DWORD [rbx + layout::RIP], eip as i32
            ; jne >skip
            ; mov rax, QWORD [rbx + layout::ICOUNT]
            ; cmp rax, r14
            ; jae >skip
            ; cmp DWORD [r15], 0
            ; jne >skip
            ; mov rax, QWORD slot
            ; mov rcx, QWORD [rax]
            ; test rcx, rcx
            ; jz >request
            ; jmp rcx
            ; request:
            ; mov rcx, QWORD link_request as i64
            ; mov QWORD [rcx], rax
            ; jmp extern exit
            ; skip:
        );
    }

    /// Continue through the jump cache (see `emit_jump_stub`).
    fn jump_cache_exit(&mut self, stub: usize, code32: bool) {
        dynasm!(self.ops
            ; .arch x64
            ; mov r8d, code32 as i32
            ; jmp extern stub
        );
    }

    /// Emits one natively translated instruction.
    fn native(&mut self, d: &DecodedInsn, form: Form) {
        // What the instruction leaves of the host flags and of the known flag record.
        let mut live = false;
        let mut record = self.flags_record;
        match form {
            Form::Mov { size, dst, src } => {
                // Register and immediate MOVs are plain host MOVs; memory ones check.
                if matches!((dst, src), (Dst::Reg(_), Src::Reg(_) | Src::Imm(_))) {
                    live = self.flags_live;
                }
                self.mov(d, size, dst, src);
            }
            Form::Extend {
                signed,
                from,
                dst,
                src,
            } => self.with_source(d, src, from, |e| {
                match (signed, from) {
                    (true, 1) => dynasm!(e.ops ; .arch x64 ; movsx eax, al),
                    (true, _) => dynasm!(e.ops ; .arch x64 ; movsx eax, ax),
                    _ => {}
                }
                dynasm!(e.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rax);
            }),
            Form::Lea { dst, mem } => {
                self.effective_offset(mem);
                dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rsi);
            }
            Form::Alu { op, size, dst, src } => {
                if matches!(op, Alu::Adc | Alu::Sbb) {
                    self.carry_in();
                }
                self.alu_form(d, op, size, dst, src);
                live = true;
                record =
                    (!matches!(op, Alu::Adc | Alu::Sbb) && !self.flags_dead).then_some((op, size));
                if matches!(dst, Dst::Mem(_)) || matches!(src, Src::Mem(_)) {
                    // The join after the slow path: the interpreter left the flags in
                    // the record only.
                    live = false;
                }
            }
            Form::Setcc { cc, dst } => {
                live = self.flags_known();
                self.setcc(cc, dst);
            }
            Form::Cmovcc { cc, dst, src } => {
                live = self.flags_known() && !matches!(src, Src::Mem(_));
                self.cmovcc(d, cc, dst, src);
            }
            Form::Shift { op, dst, count } => {
                self.shift(op, dst, count);
                record = None;
            }
            Form::Imul { dst, src, imm } => {
                self.imul(dst, src, imm);
                record = None;
            }
            Form::IncDec { dec, size, dst } => {
                self.inc_dec(d, dec, size, dst);
                record = None;
            }
            Form::Push { src } => self.push(d, src),
            Form::Branch { kind, target } => {
                self.branch(d, kind, target);
                // EIP and the count are current: nothing left for the block's tail.
                self.uncounted = 0;
                self.rip_stale = false;
                self.flags_live = false;
                self.flags_record = record;
                return;
            }
            Form::Pop { dst } => self.pop(d, dst),
            Form::JccFused { cc, target } => self.jcc_fused(d, cc, target),
            Form::Helper => unreachable!("helpers are emitted by `helper`"),
        }
        self.uncounted += 1;
        self.rip_stale = true;
        self.flags_live = live;
        self.flags_record = record;
    }
}

/// Where chained exits keep their links.
pub struct ChainContext<'a> {
    /// Receives the address of an empty link that was reached (the dispatcher fills it).
    pub link_request: usize,
    /// The shared jump-cache lookup (`emit_jump_stub`).
    pub jump_stub: usize,
    #[allow(clippy::vec_box)] // Boxed: translated code holds each slot's address.
    pub slots: &'a mut Vec<Box<ChainSlot>>,
}

pub fn translate_block(
    block: &Block,
    base: usize,
    exit: usize,
    chain: ChainContext,
    flat: u8,
) -> (Vec<u8>, TranslationStats) {
    let forms: Vec<Form> = block.insns.iter().map(|d| form_of(&d.instr)).collect();
    let flat = flat & forms.iter().fold(0, |m, f| m | segments_of(f));
    let mut e = Emitter {
        ops: VecAssembler::new(base),
        flat,
        slow: None,
        slow_paths: Vec::new(),
        exit,
        uncounted: 0,
        rip_stale: false,
        flags_live: false,
        flags_record: None,
        flags_dead: false,
    };
    let mut stats = TranslationStats::default();
    let guard_failed = e.ops.new_dynamic_label();
    e.flat_guard(guard_failed);
    let dead = dead_flags(&forms);
    for ((d, form), dead) in block.insns.iter().zip(forms).zip(dead) {
        e.flags_dead = dead;
        match form {
            Form::Helper => {
                e.helper(d);
                stats.helper += 1;
            }
            form => {
                e.native(d, form);
                stats.native += 1;
            }
        }
    }
    let last = block.insns.last().expect("blocks are never empty");
    // After a helper RIP is already right; after native code it is the next instruction's.
    e.sync(last.next_rip);
    dynasm!(e.ops ; .arch x64 ; tail:);
    if block.insns.iter().all(|d| may_chain_through(&d.instr)) {
        for eip in static_successors(&last.instr, last.next_rip) {
            let page_offset = (block.host & 0xFFF) as i64 + eip as i64 - block.eip as i64;
            if !(0..0x1000).contains(&page_offset) {
                continue;
            }
            let slot = Box::new(ChainSlot {
                target: std::cell::Cell::new(0),
                host: (block.host & !0xFFF) + page_offset as usize,
                eip,
                code32: block.code32,
            });
            let slot_addr = &*slot as *const ChainSlot as i64;
            chain.slots.push(slot);
            e.chain_exit(eip, slot_addr, chain.link_request);
        }
        e.jump_cache_exit(chain.jump_stub, block.code32);
    }
    e.leave();
    e.emit_slow_paths();
    if flat != 0 {
        // The segments changed since translation: the interpreter runs the whole block.
        let block_addr = block as *const Block as i64;
        dynasm!(e.ops
            ; .arch x64
            ; =>guard_failed
            ; mov rdi, rbx
            ; mov rsi, QWORD block_addr
        );
        e.call(helpers::interpret_block as extern "sysv64" fn(_, _) as usize);
        e.leave();
    }
    let code = e
        .ops
        .finalize()
        .expect("translations use only extern targets");
    (code, stats)
}

/// The jump-cache lookup every chained block ends with, shared (it is long): if the budget
/// lasts and no request is pending, find the block at CS:EIP through the TLB (as the
/// dispatcher's `block_at` would) in the jump cache's `table` and continue in it; otherwise
/// leave through `exit`. Takes the code size of the block that jumps here in R8D.
pub fn emit_jump_stub(ops: &mut VecAssembler<X64Relocation>, table: usize, exit: usize) {
    use crate::jump_cache::{JumpEntry, JUMP_ENTRIES};
    use std::mem::offset_of;
    // (Not named `cs`: dynasm would read that as the register.)
    let code_seg = layout::SEG0 + layout::CS_INDEX * SEG_SIZE;
    let entry_shift = JumpEntry::SIZE_SHIFT;
    dynasm!(ops
        ; .arch x64
        ; mov rax, QWORD [rbx + layout::ICOUNT]
        ; cmp rax, r14
        ; jae >miss
        ; cmp DWORD [r15], 0
        ; jne >miss
        // Linear address and its TLB entry (read permission = fetch).
        ; mov eax, DWORD [rbx + layout::RIP]
        ; mov ecx, eax
        ; add ecx, DWORD [rbx + code_seg + layout::SEG_BASE]
        ; mov edx, ecx
        ; shr edx, 12
        ; and edx, (TLB_ENTRIES - 1) as i32
        ; imul edx, edx, TLB_ENTRY_SIZE
        ; mov esi, ecx
        ; and esi, -4096i32
        ; cmp esi, DWORD [r13 + rdx + layout::TLB_READ_TAG]
        ; jne >miss
        ; mov rsi, QWORD [r13 + rdx + layout::TLB_HOST]
        ; and ecx, 0xFFF
        ; add rsi, rcx
        // The entry for (host, EIP).
        ; mov edi, eax
        ; rol edi, 7
        ; mov rdx, rsi
        ; xor rdx, rdi
        ; and edx, (JUMP_ENTRIES - 1) as i32
        ; shl edx, entry_shift
        ; mov rdi, QWORD table as i64
        ; add rdi, rdx
        ; cmp rsi, QWORD [rdi + offset_of!(JumpEntry, host) as i32]
        ; jne >miss
        ; cmp eax, DWORD [rdi + offset_of!(JumpEntry, eip) as i32]
        ; jne >miss
        ; cmp r8d, DWORD [rdi + offset_of!(JumpEntry, code32) as i32]
        ; jne >miss
        ; mov rcx, QWORD [rdi + offset_of!(JumpEntry, valid) as i32]
        ; cmp BYTE [rcx], 0
        ; je >miss
        ; jmp QWORD [rdi + offset_of!(JumpEntry, code) as i32]
        ; miss:
        ; jmp extern exit
    );
}
