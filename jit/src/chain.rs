//! Block chaining: a block whose instructions cannot change anything the loop between
//! blocks looks at (interrupt flag, pending interrupts, debug state, mode, device state)
//! continues straight into its successor's host code, as long as the instruction budget
//! lasts and no request is pending.
//!
//! Links go only to successors that start in the same guest page: a page is invalidated
//! as a whole, so a link never outlives its target, and a same-page successor needs no
//! new address translation. A link starts empty; the first time it is taken the block
//! leaves through the dispatcher, which fills it once the successor is translated.

use iced_x86::{FlowControl, Instruction, Mnemonic as M, OpKind};

/// One exit's link, read by translated code (`target`, 0 until linked).
#[repr(C)]
pub struct ChainSlot {
    pub target: std::cell::Cell<usize>,
    /// The successor it may link to: host offset and EIP of its first instruction.
    pub host: usize,
    pub eip: u32,
    pub code32: bool,
}

/// Instructions that may run inside a chained block: they touch registers, flags, memory
/// and the stack only (or, like CLI, can only hold interrupts off). Anything else (port
/// I/O, system registers, segment loads, setting IF or TF, far transfers, HLT) sends the
/// block back to the dispatcher. x87 instructions may chain because `helpers::step` leaves
/// the block when one raises FERR#.
pub fn may_chain_through(ins: &Instruction) -> bool {
    let x87 = ins.mnemonic() == M::Wait || format!("{:?}", ins.mnemonic()).starts_with('F');
    let ok =
        x87 || matches!(
            ins.mnemonic(),
            M::Pushf
                | M::Pushfd
                | M::Cli
                | M::Rdtsc
                | M::Cpuid
                | M::Lfence
                | M::Mfence
                | M::Sfence
                | M::Pause
                | M::Cmpxchg8b
                | M::Xlatb
                | M::Cmpxchg16b
        ) || matches!(
            ins.mnemonic(),
            M::Add
                | M::Or
                | M::Adc
                | M::Sbb
                | M::And
                | M::Sub
                | M::Xor
                | M::Cmp
                | M::Test
                | M::Inc
                | M::Dec
                | M::Neg
                | M::Not
                | M::Mul
                | M::Imul
                | M::Div
                | M::Idiv
                | M::Xadd
                | M::Cmpxchg
                | M::Rol
                | M::Ror
                | M::Rcl
                | M::Rcr
                | M::Shl
                | M::Sal
                | M::Shr
                | M::Sar
                | M::Shld
                | M::Shrd
                | M::Bt
                | M::Bts
                | M::Btr
                | M::Btc
                | M::Bsf
                | M::Bsr
                | M::Bswap
                | M::Seto
                | M::Setno
                | M::Setb
                | M::Setae
                | M::Sete
                | M::Setne
                | M::Setbe
                | M::Seta
                | M::Sets
                | M::Setns
                | M::Setp
                | M::Setnp
                | M::Setl
                | M::Setge
                | M::Setle
                | M::Setg
                | M::Cmovo
                | M::Cmovno
                | M::Cmovb
                | M::Cmovae
                | M::Cmove
                | M::Cmovne
                | M::Cmovbe
                | M::Cmova
                | M::Cmovs
                | M::Cmovns
                | M::Cmovp
                | M::Cmovnp
                | M::Cmovl
                | M::Cmovge
                | M::Cmovle
                | M::Cmovg
                | M::Mov
                | M::Movzx
                | M::Movsx
                | M::Lea
                | M::Xchg
                | M::Nop
                | M::Push
                | M::Pop
                | M::Cbw
                | M::Cwde
                | M::Cwd
                | M::Cdq
                | M::Leave
                | M::Movsb
                | M::Movsw
                | M::Movsd
                | M::Stosb
                | M::Stosw
                | M::Stosd
                | M::Lodsb
                | M::Lodsw
                | M::Lodsd
                | M::Cmpsb
                | M::Cmpsw
                | M::Cmpsd
                | M::Scasb
                | M::Scasw
                | M::Scasd
                | M::Clc
                | M::Stc
                | M::Cmc
                | M::Cld
                | M::Std
                | M::Lahf
                | M::Sahf
                | M::Jmp
                | M::Call
                | M::Ret
                | M::Jo
                | M::Jno
                | M::Jb
                | M::Jae
                | M::Je
                | M::Jne
                | M::Jbe
                | M::Ja
                | M::Js
                | M::Jns
                | M::Jp
                | M::Jnp
                | M::Jl
                | M::Jge
                | M::Jle
                | M::Jg
                | M::Loop
                | M::Loope
                | M::Loopne
                | M::Jcxz
                | M::Jecxz
        );
    if !ok {
        return false;
    }
    // No segment, control or debug register operands (MOV/POP Sreg load segments), no
    // far forms (JMP/CALL/RET far change CS).
    let regs_ok = (0..ins.op_count()).all(|i| {
        ins.op_kind(i) != OpKind::Register || {
            let r = ins.op_register(i);
            let system = r.is_cr() || r.is_dr() || r.is_tr();
            let segment_load = r.is_segment_register() && ins.mnemonic() != M::Push;
            !system && !segment_load
        }
    });
    let far =
        matches!(ins.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32) || is_far_memory(ins);
    regs_ok && !far
}

fn is_far_memory(ins: &Instruction) -> bool {
    matches!(
        ins.code(),
        iced_x86::Code::Jmp_m1616
            | iced_x86::Code::Jmp_m1632
            | iced_x86::Code::Call_m1616
            | iced_x86::Code::Call_m1632
    )
}

/// EIPs the block may continue at that are known at translation time: the fall-through
/// and direct branch targets (not returns or indirect jumps).
pub fn static_successors(last: &Instruction, next_rip: u32) -> Vec<u32> {
    let target = || {
        let t = last.near_branch_target() as u32;
        if matches!(last.op0_kind(), OpKind::NearBranch16) {
            t & 0xFFFF
        } else {
            t
        }
    };
    match last.flow_control() {
        FlowControl::Next => vec![next_rip],
        FlowControl::ConditionalBranch => vec![target(), next_rip],
        FlowControl::UnconditionalBranch | FlowControl::Call
            if matches!(last.op0_kind(), OpKind::NearBranch16 | OpKind::NearBranch32) =>
        {
            vec![target()]
        }
        _ => Vec::new(),
    }
}
