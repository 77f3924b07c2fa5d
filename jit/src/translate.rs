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
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi, VecAssembler};
use emu_core::cpu::flags::LazyOp;
use emu_core::cpu::segment::{ATTR_CODE, ATTR_DC, ATTR_P, ATTR_RW};
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
    Sub,
    Cmp,
    And,
    Or,
    Xor,
    Test,
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

/// How one guest instruction is translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// MOV r32, r32.
    MovRegReg { dst: usize, src: usize },
    /// MOV r32, imm32.
    MovRegImm { dst: usize, imm: u32 },
    /// MOV r32, m32.
    Load { dst: usize, mem: Mem },
    /// MOV m32, r32.
    Store { src: usize, mem: Mem },
    /// LEA r32, m (32-bit addressing).
    Lea { dst: usize, mem: Mem },
    /// ALU r32, r32.
    AluRegReg { op: Alu, dst: usize, src: usize },
    /// ALU r32, imm.
    AluRegImm { op: Alu, dst: usize, imm: u32 },
    /// Jcc right after a native ALU instruction whose host flags are still live.
    JccFused { cc: u8, target: u32 },
    /// Calls the interpreter.
    Helper,
}

fn gpr32(r: Register) -> Option<usize> {
    r.is_gpr32().then(|| r as usize - Register::EAX as usize)
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

fn form_of(ins: &Instruction, flags_live: bool) -> Form {
    let reg = |n: u32| {
        (ins.op_kind(n) == OpKind::Register)
            .then(|| gpr32(ins.op_register(n)))
            .flatten()
    };
    let mem = |n: u32| {
        (ins.op_kind(n) == OpKind::Memory)
            .then(|| mem_operand(ins))
            .flatten()
    };
    match ins.code() {
        Code::Mov_r32_rm32 | Code::Mov_rm32_r32 => {
            return match (reg(0), reg(1), mem(0), mem(1)) {
                (Some(dst), Some(src), ..) => Form::MovRegReg { dst, src },
                (Some(dst), _, _, Some(mem)) => Form::Load { dst, mem },
                (_, Some(src), Some(mem), _) => Form::Store { src, mem },
                _ => Form::Helper,
            };
        }
        Code::Mov_r32_imm32 => {
            return match reg(0) {
                Some(dst) => Form::MovRegImm {
                    dst,
                    imm: ins.immediate32(),
                },
                None => Form::Helper,
            };
        }
        Code::Lea_r32_m => {
            return match (reg(0), mem(1)) {
                (Some(dst), Some(mem)) => Form::Lea { dst, mem },
                _ => Form::Helper,
            };
        }
        _ => {}
    }
    if ins.flow_control() == FlowControl::ConditionalBranch
        && ins.mnemonic() != Mnemonic::Jecxz
        && ins.mnemonic() != Mnemonic::Jcxz
        && !matches!(
            ins.mnemonic(),
            Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne
        )
    {
        if flags_live && ins.condition_code() != iced_x86::ConditionCode::None {
            let t = ins.near_branch_target() as u32;
            let target = if ins.op0_kind() == OpKind::NearBranch16 {
                t & 0xFFFF
            } else {
                t
            };
            return Form::JccFused {
                cc: ins.condition_code() as u8 - 1,
                target,
            };
        }
        return Form::Helper;
    }
    let op = match ins.mnemonic() {
        Mnemonic::Add => Alu::Add,
        Mnemonic::Sub => Alu::Sub,
        Mnemonic::Cmp => Alu::Cmp,
        Mnemonic::And => Alu::And,
        Mnemonic::Or => Alu::Or,
        Mnemonic::Xor => Alu::Xor,
        Mnemonic::Test => Alu::Test,
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

const SEG_SIZE: i32 = std::mem::size_of::<emu_core::cpu::segment::SegmentCache>() as i32;
const TLB_ENTRY_SIZE: i32 = std::mem::size_of::<emu_core::mmu::TlbEntry>() as i32;
const _: () = assert!(TLB_ENTRY_SIZE == 24 && TLB_ENTRIES == 1024);

struct Emitter {
    ops: VecAssembler<X64Relocation>,
    exit: usize,
    /// Guest instructions run natively since `icount` was last written.
    uncounted: i32,
    /// RIP is not yet written for the instructions run natively since the last sync.
    rip_stale: bool,
    /// The host flags hold the flags of the last guest instruction (a native ALU op).
    flags_live: bool,
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
    /// EAX/ECX, result in EDX. Only MOVs: the host flags survive.
    fn record_flags(&mut self, op: Alu) {
        let (lazy, keep_operands) = match op {
            Alu::Add => (LazyOp::Add, true),
            Alu::Sub | Alu::Cmp => (LazyOp::Sub, true),
            Alu::And | Alu::Or | Alu::Xor | Alu::Test => (LazyOp::Logic, false),
        };
        let op_and_size = (lazy as u32 as i64) | (4i64 << 32);
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
            ; mov QWORD [rbx + layout::LAZY_OP], rsi
        );
    }

    /// EDX = EAX op ECX, with the host flags of the operation left live.
    fn alu(&mut self, op: Alu) {
        dynasm!(self.ops ; .arch x64 ; mov edx, eax);
        match op {
            Alu::Add => dynasm!(self.ops ; .arch x64 ; add edx, ecx),
            Alu::Sub | Alu::Cmp => dynasm!(self.ops ; .arch x64 ; sub edx, ecx),
            Alu::And | Alu::Test => dynasm!(self.ops ; .arch x64 ; and edx, ecx),
            Alu::Or => dynasm!(self.ops ; .arch x64 ; or edx, ecx),
            Alu::Xor => dynasm!(self.ops ; .arch x64 ; xor edx, ecx),
        }
        self.record_flags(op);
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

    /// The inline part of a 4-byte access at `m.seg`:ESI: if the segment is a present
    /// expand-up data segment allowing the access, the offset is within its limit, and the
    /// TLB holds the page for this kind of access with the 4 bytes inside it, RDX = host
    /// address and control goes on; anything else jumps to the local label `slow`.
    /// Clobbers RAX, RCX, RDX.
    fn fast_address(&mut self, m: Mem, write: bool) {
        let seg = layout::SEG0 + m.seg as i32 * SEG_SIZE;
        let (mask, want) = if write {
            (ATTR_P | ATTR_CODE | ATTR_DC | ATTR_RW, ATTR_P | ATTR_RW)
        } else {
            (ATTR_P | ATTR_CODE | ATTR_DC, ATTR_P)
        };
        let tag = if write {
            layout::TLB_WRITE_TAG
        } else {
            layout::TLB_READ_TAG
        };
        dynasm!(self.ops
            ; .arch x64
            ; movzx eax, WORD [rbx + seg + layout::SEG_ATTR]
            ; and eax, mask as i32
            ; cmp eax, want as i32
            ; jne >slow
            ; lea eax, [rsi + 3]
            ; cmp eax, esi
            ; jb >slow
            ; cmp eax, DWORD [rbx + seg + layout::SEG_LIMIT]
            ; ja >slow
            ; mov eax, esi
            ; add eax, DWORD [rbx + seg + layout::SEG_BASE]
            ; mov ecx, eax
            ; shr ecx, 12
            ; and ecx, (TLB_ENTRIES - 1) as i32
            ; imul ecx, ecx, TLB_ENTRY_SIZE
            ; mov edx, eax
            ; and edx, -4096i32
            ; cmp edx, DWORD [r13 + rcx + tag]
            ; jne >slow
            ; mov edx, eax
            ; and edx, 0xFFF
            ; cmp edx, 0xFFC
            ; ja >slow
            ; mov rcx, QWORD [r13 + rcx + layout::TLB_HOST]
            ; add rcx, r12
            ; lea rdx, [rcx + rdx]
        );
    }

    fn load(&mut self, d: &DecodedInsn, dst: usize, m: Mem) {
        self.effective_offset(m);
        self.fast_address(m, false);
        let exit = self.exit;
        // (Not named `rip`: dynasm would read that as the register.)
        let insn_eip = d.instr.ip() as u32 as i32;
        let pending = self.uncounted;
        dynasm!(self.ops
            ; .arch x64
            ; mov eax, DWORD [rdx]
            ; jmp >done
            ; slow:
            ; mov rdi, rbx
            ; mov edx, m.seg as i32
            ; mov ecx, insn_eip
            ; mov r8d, pending
        );
        self.call(helpers::load32 as extern "sysv64" fn(_, _, _, _, _) -> u64 as usize);
        dynasm!(self.ops
            ; .arch x64
            ; mov rcx, rax
            ; shr rcx, 32
            ; jnz extern exit
            ; done:
            ; mov QWORD [rbx + gpr(dst)], rax
        );
    }

    fn store(&mut self, d: &DecodedInsn, src: usize, m: Mem) {
        self.effective_offset(m);
        self.fast_address(m, true);
        let exit = self.exit;
        let rips = (d.instr.ip() as u32 as i64) | ((d.next_rip as i64) << 32);
        let pending = self.uncounted;
        dynasm!(self.ops
            ; .arch x64
            ; mov eax, DWORD [rbx + gpr(src)]
            ; mov DWORD [rdx], eax
            ; jmp >done
            ; slow:
            ; mov rdi, rbx
            ; mov edx, m.seg as i32
            ; mov ecx, DWORD [rbx + gpr(src)]
            ; mov r8, QWORD rips
            ; mov r9d, pending
        );
        self.call(helpers::store32 as extern "sysv64" fn(_, _, _, _, _, _) -> u32 as usize);
        dynasm!(self.ops
            ; .arch x64
            ; test eax, eax
            ; jnz extern exit
            ; done:
        );
    }

    /// A conditional jump on the live host flags. Taken: check the target against the CS
    /// limit (else let the interpreter raise #GP) and leave with RIP = target. Not taken:
    /// fall through to the block's end.
    fn jcc_fused(&mut self, d: &DecodedInsn, cc: u8, target: u32) {
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

    /// Emits one natively translated instruction.
    fn native(&mut self, d: &DecodedInsn, form: Form) {
        let mut flags_live = false;
        match form {
            Form::MovRegReg { dst, src } => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov eax, DWORD [rbx + gpr(src)]
                    ; mov QWORD [rbx + gpr(dst)], rax
                );
                flags_live = self.flags_live;
            }
            Form::MovRegImm { dst, imm } => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov eax, imm as i32
                    ; mov QWORD [rbx + gpr(dst)], rax
                );
                flags_live = self.flags_live;
            }
            Form::Load { dst, mem } => self.load(d, dst, mem),
            Form::Store { src, mem } => self.store(d, src, mem),
            Form::Lea { dst, mem } => {
                self.effective_offset(mem);
                dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rsi);
            }
            Form::AluRegReg { op, dst, src } => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov eax, DWORD [rbx + gpr(dst)]
                    ; mov ecx, DWORD [rbx + gpr(src)]
                );
                self.alu(op);
                if !matches!(op, Alu::Cmp | Alu::Test) {
                    dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
                }
                flags_live = true;
            }
            Form::AluRegImm { op, dst, imm } => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov eax, DWORD [rbx + gpr(dst)]
                    ; mov ecx, imm as i32
                );
                self.alu(op);
                if !matches!(op, Alu::Cmp | Alu::Test) {
                    dynasm!(self.ops ; .arch x64 ; mov QWORD [rbx + gpr(dst)], rdx);
                }
                flags_live = true;
            }
            Form::JccFused { cc, target } => self.jcc_fused(d, cc, target),
            Form::Helper => unreachable!("helpers are emitted by `helper`"),
        }
        self.uncounted += 1;
        self.rip_stale = true;
        self.flags_live = flags_live;
    }
}

/// Host code for `block`, to be placed at `base`; blocks leave through `exit` (the
/// trampoline's epilogue). The code points into `block.insns`, so it is valid only while
/// the block lives: the engine stores it in `block.native` and nowhere else.
/// Where chained exits keep their links.
pub struct ChainContext<'a> {
    /// Receives the address of an empty link that was reached (the dispatcher fills it).
    pub link_request: usize,
    #[allow(clippy::vec_box)] // Boxed: translated code holds each slot's address.
    pub slots: &'a mut Vec<Box<ChainSlot>>,
}

pub fn translate_block(
    block: &Block,
    base: usize,
    exit: usize,
    chain: ChainContext,
) -> (Vec<u8>, TranslationStats) {
    let mut e = Emitter {
        ops: VecAssembler::new(base),
        exit,
        uncounted: 0,
        rip_stale: false,
        flags_live: false,
    };
    let mut stats = TranslationStats::default();
    for d in block.insns.iter() {
        match form_of(&d.instr, e.flags_live) {
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
    }
    e.leave();
    let code = e
        .ops
        .finalize()
        .expect("translations use only extern targets");
    (code, stats)
}
