//! The one table of instructions: which handler runs each decoded instruction. Hot encodings
//! get specialised handlers; everything else the general handler for its mnemonic.

use iced_x86::{Code, Instruction, Mnemonic as M, OpKind};

use crate::decode::Handler;
use crate::interp::{ops_alu as alu, ops_bit as bit, ops_control as ctl, ops_data as data};
use crate::interp::{ops_shift as shift, ops_string as string, ops_system as sys};

pub fn handler_for(ins: &Instruction) -> Handler {
    // Specialised forms first.
    match ins.code() {
        Code::Mov_r32_rm32 | Code::Mov_rm32_r32
            if ins.op0_kind() == OpKind::Register && ins.op1_kind() == OpKind::Register =>
        {
            return data::mov_r32_r32
        }
        Code::Mov_r32_rm32
            if ins.op1_kind() == OpKind::Memory
                && crate::interp::operand::flat_addressing32(ins) =>
        {
            return data::mov_r32_m32
        }
        Code::Mov_rm32_r32
            if ins.op0_kind() == OpKind::Memory
                && crate::interp::operand::flat_addressing32(ins) =>
        {
            return data::mov_m32_r32
        }
        Code::Mov_r32_imm32 => return data::mov_r32_imm,
        Code::Inc_r32 => return alu::inc_r32,
        Code::Dec_r32 => return alu::dec_r32,
        Code::Jmp_m1616 | Code::Jmp_m1632 => return ctl::jmp,
        Code::Call_m1616 | Code::Call_m1632 => return ctl::call,
        Code::INVALID => return sys::ud,
        _ => {}
    }
    if let Some(h) = fast_alu(ins) {
        return h;
    }
    if let Some(h) = crate::interp::x87::handler_for(ins) {
        return h;
    }
    match ins.mnemonic() {
        M::Add => alu::add,
        M::Or => alu::or,
        M::Adc => alu::adc,
        M::Sbb => alu::sbb,
        M::And => alu::and,
        M::Sub => alu::sub,
        M::Xor => alu::xor,
        M::Cmp => alu::cmp,
        M::Test => alu::test,
        M::Inc => alu::inc,
        M::Dec => alu::dec,
        M::Neg => alu::neg,
        M::Not => alu::not,
        M::Mul => alu::mul,
        M::Imul => alu::imul,
        M::Div => alu::div,
        M::Idiv => alu::idiv,
        M::Xadd => alu::xadd,
        M::Cmpxchg => alu::cmpxchg,
        M::Cmpxchg8b => alu::cmpxchg8b,

        M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar => {
            shift::shift_rotate
        }
        M::Shld | M::Shrd => shift::shld_shrd,

        M::Bt | M::Bts | M::Btr | M::Btc => bit::bit_test,
        // Without BMI1/LZCNT, F3 0F BC/BD are BSF/BSR with an ignored REP prefix.
        M::Bsf | M::Bsr | M::Tzcnt | M::Lzcnt => bit::bit_scan,
        M::Bswap => bit::bswap,
        M::Daa | M::Das => bit::daa_das,
        M::Aaa | M::Aas => bit::aaa_aas,
        M::Aam => bit::aam,
        M::Aad => bit::aad,
        M::Salc => bit::salc,
        M::Clc => bit::clc,
        M::Stc => bit::stc,
        M::Cmc => bit::cmc,
        M::Cld => bit::cld,
        M::Std => bit::std,
        M::Seto
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
        | M::Setg => bit::setcc,
        M::Cmovo
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
        | M::Cmovg => bit::cmovcc,

        M::Mov => match (ins.op0_kind(), ins.op1_kind()) {
            (OpKind::Register, _) if ins.op0_register().is_segment_register() => data::mov_sreg,
            (_, OpKind::Register) if ins.op1_register().is_segment_register() => data::mov_sreg,
            (OpKind::Register, _) if ins.op0_register().is_cr() => sys::mov_cr,
            (_, OpKind::Register) if ins.op1_register().is_cr() => sys::mov_cr,
            (OpKind::Register, _) if ins.op0_register().is_dr() => sys::mov_dr,
            (_, OpKind::Register) if ins.op1_register().is_dr() => sys::mov_dr,
            (OpKind::Register, _) if ins.op0_register().is_tr() => sys::ud,
            (_, OpKind::Register) if ins.op1_register().is_tr() => sys::ud,
            _ => data::mov,
        },
        M::Movzx => data::movzx,
        M::Movsx => data::movsx,
        M::Lea => data::lea,
        M::Xchg => data::xchg,
        M::Nop => data::nop,
        M::Push => data::push,
        M::Pop => data::pop,
        M::Pusha | M::Pushad => data::pusha,
        M::Popa | M::Popad => data::popa,
        M::Pushf | M::Pushfd => data::pushf,
        M::Popf | M::Popfd => data::popf,
        M::Cbw | M::Cwde => data::cbw_cwde,
        M::Cwd | M::Cdq => data::cwd_cdq,
        M::Lahf => data::lahf,
        M::Sahf => data::sahf,
        M::Xlatb => data::xlat,
        M::Enter => data::enter,
        M::Leave => data::leave,
        M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => data::load_far_pointer,
        M::Bound => data::bound,

        M::Jo
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
        | M::Jg => ctl::jcc,
        M::Jmp => ctl::jmp,
        M::Call => ctl::call,
        M::Ret => ctl::ret,
        M::Retf => ctl::retf,
        M::Iret | M::Iretd => ctl::iret,
        M::Loop | M::Loope | M::Loopne | M::Jcxz | M::Jecxz => ctl::loop_jcxz,
        M::Int => ctl::int,
        M::Int3 => ctl::int3,
        M::Int1 => ctl::int1,
        M::Into => ctl::into,

        M::Movsb
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
        | M::Insb
        | M::Insw
        | M::Insd
        | M::Outsb
        | M::Outsw
        | M::Outsd => string::string,

        M::Cli => sys::cli,
        M::Sti => sys::sti,
        M::Hlt => sys::hlt,
        M::In => sys::in_,
        M::Out => sys::out,
        M::Cpuid => sys::cpuid,
        M::Rdtsc => sys::rdtsc,
        M::Rdmsr => sys::rdmsr,
        M::Wrmsr => sys::wrmsr,
        M::Lgdt | M::Lidt => sys::lgdt_lidt,
        M::Sgdt | M::Sidt => sys::sgdt_sidt,
        M::Lldt => sys::lldt,
        M::Ltr => sys::ltr,
        M::Sldt | M::Str => sys::sldt_str,
        M::Smsw => sys::smsw,
        M::Lmsw => sys::lmsw,
        M::Clts => sys::clts,
        M::Invlpg => sys::invlpg,
        M::Invd | M::Wbinvd => sys::invd_wbinvd,
        M::Sysenter => sys::sysenter,
        M::Sysexit => sys::sysexit,
        M::Lar | M::Lsl | M::Verr | M::Verw => sys::descriptor_probe,
        M::Arpl => sys::arpl,
        M::Wait => data::nop,
        // PAUSE (F3 90) is a NOP on parts before the Pentium 4.
        M::Pause => data::nop,
        // Hint and prefetch NOPs of the P6 (0F 18-1F).
        M::Prefetchnta | M::Prefetcht0 | M::Prefetcht1 | M::Prefetcht2 => data::nop,
        _ => sys::ud,
    }
}

/// ALU ops on 32-bit registers with a register or immediate source (no memory, no faults):
/// the bulk of hot integer code.
fn fast_alu(ins: &Instruction) -> Option<Handler> {
    use crate::interp::ops_alu::{alu_r32_imm, alu_r32_r32};
    let n = match ins.mnemonic() {
        M::Add => 0,
        M::Or => 1,
        M::Adc => 2,
        M::Sbb => 3,
        M::And => 4,
        M::Sub => 5,
        M::Xor => 6,
        M::Cmp => 7,
        _ => return None,
    };
    if ins.op_count() != 2 || ins.op0_kind() != OpKind::Register || ins.op0_register().size() != 4 {
        return None;
    }
    let by_reg: [Handler; 8] = [
        alu_r32_r32::<0>,
        alu_r32_r32::<1>,
        alu_r32_r32::<2>,
        alu_r32_r32::<3>,
        alu_r32_r32::<4>,
        alu_r32_r32::<5>,
        alu_r32_r32::<6>,
        alu_r32_r32::<7>,
    ];
    let by_imm: [Handler; 8] = [
        alu_r32_imm::<0>,
        alu_r32_imm::<1>,
        alu_r32_imm::<2>,
        alu_r32_imm::<3>,
        alu_r32_imm::<4>,
        alu_r32_imm::<5>,
        alu_r32_imm::<6>,
        alu_r32_imm::<7>,
    ];
    match ins.op1_kind() {
        OpKind::Register if ins.op1_register().size() == 4 => Some(by_reg[n]),
        OpKind::Immediate8to32 | OpKind::Immediate32 => Some(by_imm[n]),
        _ => None,
    }
}
