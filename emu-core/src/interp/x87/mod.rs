//! x87 FPU instructions: register stack, tags, status/control words, exceptions (#NM, #MF,
//! FERR), built on the 80-bit arithmetic in `crate::fpu::float80`.
//!
//! Every handler starts with [`enter`], which applies, in the hardware's order:
//!
//! 1. #NM: CR0.EM or CR0.TS set (WAIT/FWAIT: only CR0.TS with CR0.MP; FXSAVE/FXRSTOR: #UD
//!    for CR0.EM, #NM for CR0.TS);
//! 2. for waiting instructions (all but FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE,
//!    FXSAVE, FXRSTOR and the 8087/287 no-ops), a pending unmasked exception (FSW.ES): #MF
//!    when CR0.NE = 1, otherwise the legacy FERR# request `FpuState::ferr` is raised and the
//!    instruction runs;
//! 3. for non-control instructions, FIP/FCS (this instruction's EIP and CS selector), FOP
//!    (rebuilt from iced's opcode tables and the operands: the low three bits of the escape
//!    opcode and the ModRM byte, exact for every encoding) and, with a memory operand,
//!    FDP/FDS (its offset and segment selector; register-only instructions leave them alone).
//!
//! Then the handler reads its memory operand (faults leave the x87 state untouched except
//! for the pointers above), checks for stack faults, calls float80 and commits.

mod arith;
mod compare;
mod control;
mod load_store;
mod stack;
mod transcendental;

#[cfg(test)]
mod tests;

use iced_x86::{Instruction, MemorySize, Mnemonic as M, OpCodeOperandKind, Register};

use crate::cpu::core::Cpu;
use crate::cpu::state::{CR0_EM, CR0_MP, CR0_NE, CR0_TS, CS};
use crate::decode::Handler;
use crate::exception::{vector, Exception, Result};
use crate::fpu::float80::{self, FpFlags};
use crate::fpu::F80;
use crate::interp::operand::{effective_offset, mem_seg};

/// The handler for an x87 instruction, or `None` when `ins` is not one.
pub fn handler_for(ins: &Instruction) -> Option<Handler> {
    use arith as a;
    use compare as c;
    use control as k;
    use load_store as l;
    use transcendental as t;
    Some(match ins.mnemonic() {
        M::Wait => k::fwait,
        M::Fninit => k::fninit,
        M::Finit => k::finit,
        M::Fnclex => k::fnclex,
        M::Fclex => k::fclex,
        M::Fnstcw => k::fnstcw,
        M::Fstcw => k::fstcw,
        M::Fldcw => k::fldcw,
        M::Fnstsw => k::fnstsw,
        M::Fstsw => k::fstsw,
        M::Fnstenv => k::fnstenv,
        M::Fstenv => k::fstenv,
        M::Fldenv => k::fldenv,
        M::Fnsave => k::fnsave,
        M::Fsave => k::fsave,
        M::Frstor => k::frstor,
        M::Fxsave => k::fxsave,
        M::Fxrstor => k::fxrstor,
        M::Fnop => k::fnop,
        M::Fneni | M::Fndisi | M::Fnsetpm => k::legacy_nop,
        M::Feni | M::Fdisi | M::Fsetpm => k::legacy_nop_wait,

        M::Fld => l::fld,
        M::Fild => l::fild,
        M::Fbld => l::fbld,
        M::Fst => l::fst,
        M::Fstp | M::Fstpnce => l::fstp,
        M::Fist => l::fist,
        M::Fistp => l::fistp,
        M::Fbstp => l::fbstp,
        M::Fld1 | M::Fldl2t | M::Fldl2e | M::Fldpi | M::Fldlg2 | M::Fldln2 | M::Fldz => {
            l::fld_const
        }
        M::Fxch => l::fxch,
        M::Fcmovb
        | M::Fcmove
        | M::Fcmovbe
        | M::Fcmovu
        | M::Fcmovnb
        | M::Fcmovne
        | M::Fcmovnbe
        | M::Fcmovnu => l::fcmov,
        M::Ffree => l::ffree,
        M::Ffreep => l::ffreep,
        M::Fincstp => l::fincstp,
        M::Fdecstp => l::fdecstp,

        M::Fadd | M::Faddp | M::Fiadd => a::fadd,
        M::Fsub | M::Fsubp | M::Fisub => a::fsub,
        M::Fsubr | M::Fsubrp | M::Fisubr => a::fsubr,
        M::Fmul | M::Fmulp | M::Fimul => a::fmul,
        M::Fdiv | M::Fdivp | M::Fidiv => a::fdiv,
        M::Fdivr | M::Fdivrp | M::Fidivr => a::fdivr,
        M::Fsqrt => a::fsqrt,
        M::Fabs => a::fabs,
        M::Fchs => a::fchs,
        M::Frndint => a::frndint,
        M::Fscale => a::fscale,
        M::Fprem => a::fprem,
        M::Fprem1 => a::fprem1,
        M::Fxtract => a::fxtract,

        M::Fcom | M::Fcomp | M::Fcompp | M::Ficom | M::Ficomp => c::fcom,
        M::Fucom | M::Fucomp | M::Fucompp => c::fucom,
        M::Fcomi | M::Fcomip => c::fcomi,
        M::Fucomi | M::Fucomip => c::fucomi,
        M::Ftst => c::ftst,
        M::Fxam => c::fxam,

        M::F2xm1 => t::f2xm1,
        M::Fyl2x => t::fyl2x,
        M::Fyl2xp1 => t::fyl2xp1,
        M::Fpatan => t::fpatan,
        M::Fsin => t::fsin,
        M::Fcos => t::fcos,
        M::Fsincos => t::fsincos,
        M::Fptan => t::fptan,

        // FISTTP is SSE3 and FRSTPM a 287XL instruction: #UD on a Pentium II (the general
        // table's default).
        _ => return None,
    })
}

/// How an instruction interacts with the exception and pointer machinery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Waiting, non-control: checks pending exceptions, updates FIP/FCS/FOP/FDP/FDS.
    Compute,
    /// Waiting control instruction (FLDCW, FLDENV, FRSTOR): checks pending exceptions only.
    WaitingControl,
    /// No-wait control instruction (FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE).
    NoWait,
}

/// #NM, then #MF / FERR#, then the instruction and data pointers (see the module docs).
pub(super) fn enter(cpu: &mut Cpu, ins: &Instruction, kind: Kind) -> Result<()> {
    if cpu.state.cr0 & (CR0_EM | CR0_TS) != 0 {
        return Err(Exception::nm().into());
    }
    if kind != Kind::NoWait {
        check_pending(cpu)?;
    }
    if kind == Kind::Compute {
        set_pointers(cpu, ins);
    }
    Ok(())
}

/// A pending unmasked exception at a waiting instruction: #MF (CR0.NE = 1) or FERR#.
pub(super) fn check_pending(cpu: &mut Cpu) -> Result<()> {
    if cpu.state.fpu.fsw & stack::fsw::ES != 0 {
        if cpu.state.cr0 & CR0_NE != 0 {
            return Err(Exception::new(vector::MF).into());
        }
        cpu.state.fpu.ferr = 1;
    }
    Ok(())
}

/// WAIT/FWAIT's own #NM rule: only CR0.TS together with CR0.MP.
pub(super) fn wait_nm(cpu: &Cpu) -> Result<()> {
    let cr0 = cpu.state.cr0;
    if cr0 & CR0_TS != 0 && cr0 & CR0_MP != 0 {
        return Err(Exception::nm().into());
    }
    Ok(())
}

fn set_pointers(cpu: &mut Cpu, ins: &Instruction) {
    let fop = fop(ins);
    let has_mem = (0..ins.op_count()).any(|n| ins.op_kind(n) == iced_x86::OpKind::Memory);
    let (fdp, fds) = if has_mem {
        (
            effective_offset(cpu, ins),
            cpu.state.seg[mem_seg(ins)].selector,
        )
    } else {
        (cpu.state.fpu.fdp, cpu.state.fpu.fds)
    };
    let f = &mut cpu.state.fpu;
    f.fip = cpu.state.rip as u32;
    f.fcs = cpu.state.seg[CS].selector;
    f.fop = fop;
    f.fdp = fdp;
    f.fds = fds;
}

/// The 11-bit FOP: low three bits of the escape byte, then the ModRM byte.
pub(super) fn fop(ins: &Instruction) -> u16 {
    let info = ins.code().op_code();
    let op = info.op_code();
    if info.op_code_len() == 2 {
        // Register form "Dx yy(+i)": the second byte is the ModRM.
        let mut modrm = op & 0xFF;
        for n in 0..info.op_count() {
            if info.op_kind(n) == OpCodeOperandKind::sti_opcode {
                modrm += st_index(ins.op_register(n)) as u32;
            }
        }
        return (((op >> 8) & 7) << 8 | modrm) as u16;
    }
    let reg = info.group_index().max(0) as u32;
    let (md, rm) = modrm_mem(ins);
    (((op & 7) << 8) | (md << 6) | (reg << 3) | rm) as u16
}

/// ModRM mod and rm fields of a memory operand, rebuilt from its addressing form.
fn modrm_mem(ins: &Instruction) -> (u32, u32) {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let disp = ins.memory_displ_size();
    let a16 = base.size() == 2
        || index.size() == 2
        || (base == Register::None && index == Register::None && disp == 2);
    if a16 {
        let rm = match (base, index) {
            (Register::BX, Register::SI) => 0,
            (Register::BX, Register::DI) => 1,
            (Register::BP, Register::SI) => 2,
            (Register::BP, Register::DI) => 3,
            (Register::SI, Register::None) => 4,
            (Register::DI, Register::None) => 5,
            (Register::None, Register::None) => return (0, 6),
            (Register::BP, Register::None) => 6,
            _ => 7,
        };
        let md = match disp {
            0 => 0,
            1 => 1,
            _ => 2,
        };
        return (md, rm);
    }
    if base == Register::None {
        // disp32 alone (rm 5) or SIB without base (mod 0, rm 4).
        return (0, if index == Register::None { 5 } else { 4 });
    }
    let md = match disp {
        0 => 0,
        1 => 1,
        _ => 2,
    };
    let rm = if index != Register::None || base == Register::ESP {
        4
    } else {
        base.number() as u32
    };
    (md, rm)
}

/// i of an ST(i) register operand.
#[inline]
pub(super) fn st_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::ST0 as usize) & 7
}

/// i of operand `n` when it is ST(i).
#[inline]
pub(super) fn st_operand(ins: &Instruction, n: u32) -> usize {
    st_index(ins.op_register(n))
}

/// `off + k` in the memory operand's address size (16-bit offsets wrap at 64 KiB).
pub(super) fn offset_add(ins: &Instruction, off: u32, k: u32) -> u32 {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let a16 = base.size() == 2
        || index.size() == 2
        || (base == Register::None && index == Register::None && ins.memory_displ_size() == 2);
    let v = off.wrapping_add(k);
    if a16 {
        v & 0xFFFF
    } else {
        v
    }
}

/// Whether the instruction's first operand is in memory.
#[inline]
pub(super) fn has_memory_operand(ins: &Instruction) -> bool {
    ins.op_count() >= 1 && ins.op0_kind() == iced_x86::OpKind::Memory
}

/// The memory operand's segment and offset.
#[inline]
pub(super) fn mem_operand(cpu: &Cpu, ins: &Instruction) -> (usize, u32) {
    (mem_seg(ins), effective_offset(cpu, ins))
}

/// Reads `N` bytes at seg:off after checking the whole access (so limits fault as one access).
pub(super) fn read_bytes<const N: usize>(cpu: &mut Cpu, seg: usize, off: u32) -> Result<[u8; N]> {
    let lin = cpu.seg_linear(seg, off, N as u32, false)?;
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        let n = if N - i >= 4 {
            4
        } else if N - i >= 2 {
            2
        } else {
            1
        };
        let v = cpu.read_lin(lin.wrapping_add(i as u32), n as u32)?;
        out[i..i + n].copy_from_slice(&v.to_le_bytes()[..n]);
        i += n;
    }
    Ok(out)
}

/// Reads an 80-bit operand as the hardware does: 8 bytes, then 2 more whose offset wraps at
/// 64 KiB under 16-bit addressing (the stores split the same way).
pub(super) fn read_m80(cpu: &mut Cpu, ins: &Instruction, seg: usize, off: u32) -> Result<[u8; 10]> {
    let lo = read_bytes::<8>(cpu, seg, off)?;
    let hi = read_bytes::<2>(cpu, seg, crate::interp::operand::next_offset(ins, off, 8))?;
    let mut out = [0u8; 10];
    out[..8].copy_from_slice(&lo);
    out[8..].copy_from_slice(&hi);
    Ok(out)
}

/// Writes `bytes` at seg:off; every byte is checked writable before the first lands.
pub(super) fn write_bytes(cpu: &mut Cpu, seg: usize, off: u32, bytes: &[u8]) -> Result<()> {
    let len = bytes.len() as u32;
    let lin = cpu.seg_linear(seg, off, len, true)?;
    cpu.check_writable(lin, len)?;
    write_lin_bytes(cpu, lin, bytes)
}

/// Writes `bytes` at a linear address already checked.
pub(super) fn write_lin_bytes(cpu: &mut Cpu, lin: u32, bytes: &[u8]) -> Result<()> {
    let mut i = 0;
    while i < bytes.len() {
        let n = if bytes.len() - i >= 4 {
            4
        } else if bytes.len() - i >= 2 {
            2
        } else {
            1
        };
        let mut w = [0u8; 4];
        w[..n].copy_from_slice(&bytes[i..i + n]);
        cpu.write_lin(lin.wrapping_add(i as u32), n as u32, u32::from_le_bytes(w))?;
        i += n;
    }
    Ok(())
}

pub(super) fn f80_from_bytes(b: &[u8]) -> F80 {
    F80 {
        signif: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        sign_exp: u16::from_le_bytes([b[8], b[9]]),
    }
}

pub(super) fn f80_to_bytes(v: F80) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&v.signif.to_le_bytes());
    b[8..].copy_from_slice(&v.sign_exp.to_le_bytes());
    b
}

/// Reads the memory source operand of an arithmetic or compare instruction as an 80-bit value.
/// A signalling NaN keeps its signalling bit (the arithmetic raises IE and chooses among NaN
/// operands as the hardware does); a denormal raises DE.
pub(super) fn read_source(cpu: &mut Cpu, ins: &Instruction) -> Result<(F80, FpFlags)> {
    let (seg, off) = mem_operand(cpu, ins);
    let mut flags = FpFlags::default();
    let v = match ins.memory_size() {
        MemorySize::Float32 => {
            let bits = cpu.read_mem(seg, off, 4)?;
            if bits & 0x7F80_0000 == 0x7F80_0000 && bits & 0x007F_FFFF != 0 && bits & 0x40_0000 == 0
            {
                F80 {
                    signif: (1 << 63) | ((bits as u64 & 0x7F_FFFF) << 40),
                    sign_exp: ((bits >> 16) as u16 & 0x8000) | 0x7FFF,
                }
            } else {
                float80::from_f32_bits(bits, &mut flags)
            }
        }
        MemorySize::Float64 => {
            let bits = cpu.read_mem64(seg, off)?;
            let frac = bits & 0x000F_FFFF_FFFF_FFFF;
            if bits & 0x7FF0_0000_0000_0000 == 0x7FF0_0000_0000_0000
                && frac != 0
                && frac & (1 << 51) == 0
            {
                F80 {
                    signif: (1 << 63) | (frac << 11),
                    sign_exp: ((bits >> 48) as u16 & 0x8000) | 0x7FFF,
                }
            } else {
                float80::from_f64_bits(bits, &mut flags)
            }
        }
        MemorySize::Int16 => float80::from_i16(cpu.read_mem(seg, off, 2)? as i16),
        MemorySize::Int32 => float80::from_i32(cpu.read_mem(seg, off, 4)? as i32),
        _ => return Err(Exception::ud().into()),
    };
    Ok((v, flags))
}

/// A denormal memory operand's DE (raised while converting it) is not reported when the
/// register operand is a NaN or an unsupported encoding: the hardware takes the NaN/invalid
/// path before it checks for denormals.
pub(super) fn drop_load_de(reg: F80, flags: &mut FpFlags) {
    use float80::Class;
    if matches!(
        float80::classify(reg),
        Class::QNaN | Class::SNaN | Class::Unsupported
    ) {
        flags.0 &= !FpFlags::DE;
    }
}
