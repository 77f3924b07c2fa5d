//! Control instructions: WAIT/FWAIT, FNINIT, FNCLEX, FLDCW/FNSTCW, FNSTSW, the environment and
//! state images (FNSTENV/FLDENV, FNSAVE/FRSTOR in 16- and 32-bit, real- and protected-mode
//! layouts; FXSAVE/FXRSTOR), FNOP and the 8087/287 leftovers (FNENI, FNDISI, FNSETPM: no-ops).

use iced_x86::{Instruction, MemorySize, OpKind};

use super::stack::{tags_from_empty, Stack};
use super::{
    check_pending, enter, f80_from_bytes, f80_to_bytes, mem_operand, read_bytes, wait_nm,
    write_bytes, write_lin_bytes, Kind,
};
use crate::cpu::core::Cpu;
use crate::cpu::flags::VM;
use crate::cpu::state::{CR0_EM, CR0_TS, CR4_OSFXSR, RAX};
use crate::exception::{Exception, Result};
use crate::fpu::FpuState;

/// FCW bits that exist (bit 6 reads as 1; bits 7 and 13..15 are reserved and read 0).
fn sanitize_fcw(v: u16) -> u16 {
    (v & 0x1F3F) | 0x0040
}

pub fn fwait(cpu: &mut Cpu, _ins: &Instruction) -> Result<()> {
    wait_nm(cpu)?;
    check_pending(cpu)
}

pub fn fnop(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::Compute)
}

/// FNENI/FNDISI/FNSETPM: ignored since the 387.
pub fn legacy_nop(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::NoWait)
}

/// The waiting forms FENI/FDISI/FSETPM (only if the decoder merges the WAIT).
pub fn legacy_nop_wait(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)
}

pub fn fninit(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::NoWait)?;
    cpu.state.fpu.finit();
    Ok(())
}

pub fn finit(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    cpu.state.fpu.finit();
    Ok(())
}

fn clex(f: &mut FpuState) {
    // Exception flags, SF, ES and B.
    f.fsw &= !0x80FF;
}

pub fn fnclex(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::NoWait)?;
    clex(&mut cpu.state.fpu);
    Ok(())
}

pub fn fclex(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    clex(&mut cpu.state.fpu);
    Ok(())
}

fn store_cw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let (seg, off) = mem_operand(cpu, ins);
    let v = cpu.state.fpu.fcw;
    cpu.write_mem(seg, off, 2, v as u32)
}

pub fn fnstcw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::NoWait)?;
    store_cw(cpu, ins)
}

pub fn fstcw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    store_cw(cpu, ins)
}

pub fn fldcw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    let (seg, off) = mem_operand(cpu, ins);
    let v = cpu.read_mem(seg, off, 2)? as u16;
    let f = &mut cpu.state.fpu;
    f.fcw = sanitize_fcw(v);
    // Unmasking a flag that is already set makes it pending for the next waiting instruction.
    f.update_summary();
    Ok(())
}

fn store_sw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let v = cpu.state.fpu.fsw;
    if ins.op0_kind() == OpKind::Register {
        cpu.state.set_reg16(RAX, v);
        return Ok(());
    }
    let (seg, off) = mem_operand(cpu, ins);
    cpu.write_mem(seg, off, 2, v as u32)
}

pub fn fnstsw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::NoWait)?;
    store_sw(cpu, ins)
}

pub fn fstsw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    store_sw(cpu, ins)
}

/// Real-address and virtual-8086 mode use the real-mode image layouts.
fn real_format(cpu: &Cpu) -> bool {
    !cpu.state.protected_mode() || cpu.state.lazy.eflags_raw() & VM != 0
}

/// Whether the image is the 32-bit (28/108-byte) one.
fn big_image(ins: &Instruction) -> bool {
    matches!(
        ins.memory_size(),
        MemorySize::FpuEnv28 | MemorySize::FpuState108
    )
}

/// The FNSTENV image (14 or 28 bytes) of `f`.
fn env_image(f: &FpuState, big: bool, real: bool) -> Vec<u8> {
    let fop = (f.fop & 0x7FF) as u32;
    // The real-mode layouts hold 20-bit (32-bit in the big image) linear addresses.
    let fip_lin = ((f.fcs as u32) << 4).wrapping_add(f.fip);
    let fdp_lin = ((f.fds as u32) << 4).wrapping_add(f.fdp);
    if big {
        let words: [u32; 7] = if real {
            [
                0xFFFF_0000 | f.fcw as u32,
                0xFFFF_0000 | f.fsw as u32,
                0xFFFF_0000 | f.ftw as u32,
                0xFFFF_0000 | (fip_lin & 0xFFFF),
                fop | ((fip_lin >> 16) << 12),
                0xFFFF_0000 | (fdp_lin & 0xFFFF),
                (fdp_lin >> 16) << 12,
            ]
        } else {
            [
                0xFFFF_0000 | f.fcw as u32,
                0xFFFF_0000 | f.fsw as u32,
                0xFFFF_0000 | f.ftw as u32,
                f.fip,
                f.fcs as u32 | (fop << 16),
                f.fdp,
                0xFFFF_0000 | f.fds as u32,
            ]
        };
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    } else {
        let words: [u16; 7] = if real {
            [
                f.fcw,
                f.fsw,
                f.ftw,
                fip_lin as u16,
                (((fip_lin >> 16) & 0xF) << 12) as u16 | fop as u16,
                fdp_lin as u16,
                (((fdp_lin >> 16) & 0xF) << 12) as u16,
            ]
        } else {
            [
                f.fcw,
                f.fsw,
                f.ftw,
                f.fip as u16,
                f.fcs,
                f.fdp as u16,
                f.fds,
            ]
        };
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// Loads an environment image into `f` (the registers must already hold their new contents:
/// the tags are recomputed from them, only "empty" is taken from the image).
fn load_env(f: &mut FpuState, img: &[u8], big: bool, real: bool) {
    let (w, n): (Vec<u32>, usize) = if big {
        (
            img.chunks(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            7,
        )
    } else {
        (
            img.chunks(2)
                .map(|c| u16::from_le_bytes(c.try_into().expect("2 bytes")) as u32)
                .collect(),
            7,
        )
    };
    debug_assert_eq!(w.len(), n);
    f.fcw = sanitize_fcw(w[0] as u16);
    f.fsw = w[1] as u16;
    let tw = w[2] as u16;
    let mut empty = 0u8;
    for phys in 0..8 {
        if (tw >> (2 * phys)) & 3 == 3 {
            empty |= 1 << phys;
        }
    }
    f.ftw = tags_from_empty(f, empty);
    if real {
        let (ip_hi, dp_hi) = if big {
            ((w[4] >> 12) & 0xFFFF, (w[6] >> 12) & 0xFFFF)
        } else {
            ((w[4] >> 12) & 0xF, (w[6] >> 12) & 0xF)
        };
        f.fip = (w[3] & 0xFFFF) | (ip_hi << 16);
        f.fop = (w[4] & 0x7FF) as u16;
        f.fcs = 0;
        f.fdp = (w[5] & 0xFFFF) | (dp_hi << 16);
        f.fds = 0;
    } else if big {
        f.fip = w[3];
        f.fcs = w[4] as u16;
        f.fop = ((w[4] >> 16) & 0x7FF) as u16;
        f.fdp = w[5];
        f.fds = w[6] as u16;
    } else {
        f.fip = w[3];
        f.fcs = w[4] as u16;
        f.fdp = w[5];
        f.fds = w[6] as u16;
    }
    f.update_summary();
}

/// FNSTENV/FNSAVE image: the environment, plus ST(0)..ST(7) for FNSAVE.
fn save_image(cpu: &Cpu, ins: &Instruction, with_regs: bool) -> Vec<u8> {
    let f = &cpu.state.fpu;
    let mut img = env_image(f, big_image(ins), real_format(cpu));
    if with_regs {
        for i in 0..8 {
            img.extend_from_slice(&f80_to_bytes(f.st(i)));
        }
    }
    img
}

fn do_fnstenv(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let img = save_image(cpu, ins, false);
    let (seg, off) = mem_operand(cpu, ins);
    write_bytes(cpu, seg, off, &img)?;
    // FNSTENV then masks all exceptions (the status word is left as it was).
    cpu.state.fpu.fcw |= 0x3F;
    Ok(())
}

pub fn fnstenv(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::NoWait)?;
    do_fnstenv(cpu, ins)
}

pub fn fstenv(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    do_fnstenv(cpu, ins)
}

fn do_fnsave(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let img = save_image(cpu, ins, true);
    let (seg, off) = mem_operand(cpu, ins);
    write_bytes(cpu, seg, off, &img)?;
    cpu.state.fpu.finit();
    Ok(())
}

pub fn fnsave(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::NoWait)?;
    do_fnsave(cpu, ins)
}

pub fn fsave(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    do_fnsave(cpu, ins)
}

pub fn fldenv(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    let (seg, off) = mem_operand(cpu, ins);
    let big = big_image(ins);
    let img: Vec<u8> = if big {
        read_bytes::<28>(cpu, seg, off)?.to_vec()
    } else {
        read_bytes::<14>(cpu, seg, off)?.to_vec()
    };
    let real = real_format(cpu);
    load_env(&mut cpu.state.fpu, &img, big, real);
    Ok(())
}

pub fn frstor(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    enter(cpu, ins, Kind::WaitingControl)?;
    let (seg, off) = mem_operand(cpu, ins);
    let big = big_image(ins);
    let img: Vec<u8> = if big {
        read_bytes::<108>(cpu, seg, off)?.to_vec()
    } else {
        read_bytes::<94>(cpu, seg, off)?.to_vec()
    };
    let env_len = if big { 28 } else { 14 };
    let real = real_format(cpu);
    let f = &mut cpu.state.fpu;
    // Registers first (in stack order relative to the new TOP), then the environment, whose
    // tags are derived from them.
    let sw_at = if big { 4 } else { 2 };
    let top = ((u16::from_le_bytes([img[sw_at], img[sw_at + 1]]) >> 11) & 7) as usize;
    for i in 0..8 {
        let at = env_len + 10 * i;
        f.regs[(top + i) & 7] = f80_from_bytes(&img[at..at + 10]);
    }
    load_env(f, &img[..env_len], big, real);
    Ok(())
}

/// CR0.EM makes FXSAVE/FXRSTOR #UD; CR0.TS makes them #NM. The operand must be 16-byte
/// aligned (#GP(0)). Returns the operand's linear address.
fn fx_enter(cpu: &mut Cpu, ins: &Instruction, write: bool) -> Result<u32> {
    if cpu.state.cr0 & CR0_EM != 0 {
        return Err(Exception::ud().into());
    }
    if cpu.state.cr0 & CR0_TS != 0 {
        return Err(Exception::nm().into());
    }
    let (seg, off) = mem_operand(cpu, ins);
    let lin = cpu.seg_linear(seg, off, 512, write)?;
    if lin & 15 != 0 {
        return Err(Exception::gp0().into());
    }
    Ok(lin)
}

/// FXSAVE's default MXCSR_MASK (all MXCSR bits but DAZ).
const MXCSR_MASK: u32 = 0xFFBF;

pub fn fxsave(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let lin = fx_enter(cpu, ins, true)?;
    cpu.check_writable(lin, 512)?;
    let f = cpu.state.fpu;
    let mut head = [0u8; 32];
    head[0..2].copy_from_slice(&f.fcw.to_le_bytes());
    head[2..4].copy_from_slice(&f.fsw.to_le_bytes());
    let mut abridged = 0u8;
    for phys in 0..8 {
        if (f.ftw >> (2 * phys)) & 3 != 3 {
            abridged |= 1 << phys;
        }
    }
    head[4] = abridged;
    head[6..8].copy_from_slice(&(f.fop & 0x7FF).to_le_bytes());
    head[8..12].copy_from_slice(&f.fip.to_le_bytes());
    head[12..14].copy_from_slice(&f.fcs.to_le_bytes());
    head[16..20].copy_from_slice(&f.fdp.to_le_bytes());
    head[20..22].copy_from_slice(&f.fds.to_le_bytes());
    let sse = cpu.state.cr4 & CR4_OSFXSR != 0;
    if sse {
        head[24..28].copy_from_slice(&f.mxcsr.to_le_bytes());
        head[28..32].copy_from_slice(&MXCSR_MASK.to_le_bytes());
        write_lin_bytes(cpu, lin, &head)?;
    } else {
        write_lin_bytes(cpu, lin, &head[..24])?;
    }
    let mut regs = [0u8; 128];
    for i in 0..8 {
        regs[16 * i..16 * i + 10].copy_from_slice(&f80_to_bytes(f.st(i)));
    }
    write_lin_bytes(cpu, lin.wrapping_add(32), &regs)?;
    if sse {
        let mut xmm = [0u8; 128];
        for (i, x) in f.xmm.iter().enumerate() {
            xmm[16 * i..16 * i + 16].copy_from_slice(&x.to_le_bytes());
        }
        write_lin_bytes(cpu, lin.wrapping_add(160), &xmm)?;
    }
    Ok(())
}

pub fn fxrstor(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    fx_enter(cpu, ins, false)?;
    let (seg, off) = mem_operand(cpu, ins);
    let img = read_bytes::<288>(cpu, seg, off)?;
    let sse = cpu.state.cr4 & CR4_OSFXSR != 0;
    let mxcsr = u32::from_le_bytes(img[24..28].try_into().expect("4 bytes"));
    if sse && mxcsr & !MXCSR_MASK != 0 {
        return Err(Exception::gp0().into());
    }
    let f = &mut cpu.state.fpu;
    f.fcw = sanitize_fcw(u16::from_le_bytes([img[0], img[1]]));
    f.fsw = u16::from_le_bytes([img[2], img[3]]);
    f.fop = u16::from_le_bytes([img[6], img[7]]) & 0x7FF;
    f.fip = u32::from_le_bytes(img[8..12].try_into().expect("4 bytes"));
    f.fcs = u16::from_le_bytes([img[12], img[13]]);
    f.fdp = u32::from_le_bytes(img[16..20].try_into().expect("4 bytes"));
    f.fds = u16::from_le_bytes([img[20], img[21]]);
    let top = f.top();
    for i in 0..8 {
        f.regs[(top + i) & 7] = f80_from_bytes(&img[32 + 16 * i..42 + 16 * i]);
    }
    f.ftw = tags_from_empty(f, !img[4]);
    if sse {
        f.mxcsr = mxcsr;
        for (i, x) in f.xmm.iter_mut().enumerate() {
            let at = 160 + 16 * i;
            *x = u128::from_le_bytes(img[at..at + 16].try_into().expect("16 bytes"));
        }
    }
    f.update_summary();
    Ok(())
}
