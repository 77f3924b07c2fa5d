//! `translate_block`: one decoded guest block to host code.
//!
//! Register use: RBX holds the `Cpu` pointer for the whole block; RAX, RCX, RDX, RSI, RDI
//! are scratch. Guest state lives in memory (`Cpu::state`), so the guest is exactly in sync
//! at every helper call and exit; RIP and `icount` are written lazily, before a helper
//! call (helpers fault and count) and at the exit.
//!
//! A few hot instructions get native code (`Form`); every other one calls the interpreter's
//! handler through [`helpers::step`].

use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi, VecAssembler};
use emu_core::cpu::flags::LazyOp;
use emu_core::decode::{Block, DecodedInsn};
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use crate::helpers;
use crate::layout::{self, gpr};

/// The ALU operations translated natively (ADC/SBB read CF and stay with the interpreter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alu {
    Add,
    Sub,
    Cmp,
    And,
    Or,
    Xor,
}

/// How one guest instruction is translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// MOV r32, r32.
    MovRegReg { dst: usize, src: usize },
    /// MOV r32, imm32.
    MovRegImm { dst: usize, imm: u32 },
    /// ALU r32, r32.
    AluRegReg { op: Alu, dst: usize, src: usize },
    /// ALU r32, imm.
    AluRegImm { op: Alu, dst: usize, imm: u32 },
    /// Calls the interpreter.
    Helper,
}

fn gpr32(r: Register) -> Option<usize> {
    r.is_gpr32().then(|| r as usize - Register::EAX as usize)
}

fn form_of(ins: &Instruction) -> Form {
    let reg = |n: u32| {
        (ins.op_kind(n) == OpKind::Register)
            .then(|| gpr32(ins.op_register(n)))
            .flatten()
    };
    match ins.code() {
        Code::Mov_r32_rm32 | Code::Mov_rm32_r32 => {
            if let (Some(dst), Some(src)) = (reg(0), reg(1)) {
                return Form::MovRegReg { dst, src };
            }
            return Form::Helper;
        }
        Code::Mov_r32_imm32 => {
            if let Some(dst) = reg(0) {
                return Form::MovRegImm {
                    dst,
                    imm: ins.immediate32(),
                };
            }
            return Form::Helper;
        }
        _ => {}
    }
    let op = match ins.mnemonic() {
        Mnemonic::Add => Alu::Add,
        Mnemonic::Sub => Alu::Sub,
        Mnemonic::Cmp => Alu::Cmp,
        Mnemonic::And => Alu::And,
        Mnemonic::Or => Alu::Or,
        Mnemonic::Xor => Alu::Xor,
        _ => return Form::Helper,
    };
    if ins.op_count() != 2 || ins.has_lock_prefix() {
        return Form::Helper;
    }
    let Some(dst) = reg(0) else {
        return Form::Helper;
    };
    match ins.op1_kind() {
        OpKind::Register => match reg(1) {
            Some(src) => Form::AluRegReg { op, dst, src },
            None => Form::Helper,
        },
        OpKind::Immediate8to32 | OpKind::Immediate32 => Form::AluRegImm {
            op,
            dst,
            imm: ins.immediate(1) as u32,
        },
        _ => Form::Helper,
    }
}

/// What the translation of a block came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TranslationStats {
    pub native: u64,
    pub helper: u64,
}

struct Emitter {
    ops: VecAssembler<X64Relocation>,
    exit: usize,
    /// Guest instructions run natively since `icount` was last written.
    uncounted: i32,
    /// RIP is not yet written for the instructions run natively since the last sync.
    rip_stale: bool,
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
            dynasm!(self.ops ; .arch x64 ; mov DWORD [rbx + layout::RIP], rip as i32);
            // The upper half of RIP is zero in IA-32 and stays so.
            self.rip_stale = false;
        }
    }

    fn leave(&mut self) {
        let exit = self.exit;
        dynasm!(self.ops ; .arch x64 ; jmp extern exit);
    }

    fn helper(&mut self, d: &DecodedInsn) {
        self.sync(d.instr.ip() as u32);
        let insn = d as *const DecodedInsn as i64;
        let step = helpers::step as extern "sysv64" fn(_, _) -> u32 as usize as i64;
        let exit = self.exit;
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, rbx
            ; mov rsi, QWORD insn
            ; mov rax, QWORD step
            ; call rax
            ; test eax, eax
            ; jnz extern exit
        );
    }

    /// Writes the lazy-flags record exactly as `emu_core::interp::alu` does: operands in
    /// EAX/ECX, result in EDX.
    fn record_flags(&mut self, op: Alu) {
        let (lazy, keep_operands) = match op {
            Alu::Add => (LazyOp::Add, true),
            Alu::Sub | Alu::Cmp => (LazyOp::Sub, true),
            Alu::And | Alu::Or | Alu::Xor => (LazyOp::Logic, false),
        };
        let op_and_size = (lazy as u32 as i64) | (4i64 << 32);
        if keep_operands {
            dynasm!(self.ops
                ; .arch x64
                ; mov DWORD [rbx + layout::LAZY_SRC1], eax
                ; mov DWORD [rbx + layout::LAZY_SRC2], ecx
            );
        } else {
            dynasm!(self.ops
                ; .arch x64
                ; mov QWORD [rbx + layout::LAZY_SRC1], 0
            );
            const _: () = assert!(layout::LAZY_SRC2 == layout::LAZY_SRC1 + 4);
        }
        dynasm!(self.ops
            ; .arch x64
            ; mov DWORD [rbx + layout::LAZY_RES], edx
            ; mov rsi, QWORD op_and_size
            ; mov QWORD [rbx + layout::LAZY_OP], rsi
        );
    }

    /// EDX = EAX op ECX.
    fn alu(&mut self, op: Alu) {
        dynasm!(self.ops ; .arch x64 ; mov edx, eax);
        match op {
            Alu::Add => dynasm!(self.ops ; .arch x64 ; add edx, ecx),
            Alu::Sub | Alu::Cmp => dynasm!(self.ops ; .arch x64 ; sub edx, ecx),
            Alu::And => dynasm!(self.ops ; .arch x64 ; and edx, ecx),
            Alu::Or => dynasm!(self.ops ; .arch x64 ; or edx, ecx),
            Alu::Xor => dynasm!(self.ops ; .arch x64 ; xor edx, ecx),
        }
        self.record_flags(op);
    }

    fn native(&mut self, form: Form) {
        match form {
            Form::MovRegReg { dst, src } => dynasm!(self.ops
                ; .arch x64
                ; mov eax, DWORD [rbx + gpr(src)]
                ; mov QWORD [rbx + gpr(dst)], rax
            ),
            Form::MovRegImm { dst, imm } => dynasm!(self.ops
                ; .arch x64
                ; mov eax, imm as i32
                ; mov QWORD [rbx + gpr(dst)], rax
            ),
            Form::AluRegReg { op, dst, src } => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov eax, DWORD [rbx + gpr(dst)]
                    ; mov ecx, DWORD [rbx + gpr(src)]
                );
                self.alu(op);
                if op != Alu::Cmp {
                    dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
                }
            }
            Form::AluRegImm { op, dst, imm } => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov eax, DWORD [rbx + gpr(dst)]
                    ; mov ecx, imm as i32
                );
                self.alu(op);
                if op != Alu::Cmp {
                    dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
                }
            }
            Form::Helper => unreachable!("helpers are emitted by `helper`"),
        }
        self.uncounted += 1;
        self.rip_stale = true;
    }
}

/// Host code for `block`, to be placed at `base`; blocks leave through `exit` (the
/// trampoline's epilogue). The code points into `block.insns`, so it is valid only while
/// the block lives: the engine stores it in `block.native` and nowhere else.
pub fn translate_block(block: &Block, base: usize, exit: usize) -> (Vec<u8>, TranslationStats) {
    let mut e = Emitter {
        ops: VecAssembler::new(base),
        exit,
        uncounted: 0,
        rip_stale: false,
    };
    let mut stats = TranslationStats::default();
    for d in block.insns.iter() {
        match form_of(&d.instr) {
            Form::Helper => {
                e.helper(d);
                stats.helper += 1;
            }
            form => {
                e.native(form);
                stats.native += 1;
            }
        }
    }
    let last = block.insns.last().expect("blocks are never empty");
    // After a helper RIP is already right; after native code it is the next instruction's.
    e.sync(last.next_rip);
    e.leave();
    let code = e
        .ops
        .finalize()
        .expect("translations use only extern targets");
    (code, stats)
}
