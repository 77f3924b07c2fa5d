//! System instructions: interrupt flag, HLT, port I/O, control/debug registers, descriptor
//! tables, CPUID, TSC and MSRs, SYSENTER/SYSEXIT, and the descriptor-inspecting LAR/LSL/VERx.

use iced_x86::{Instruction, Mnemonic, OpKind};

use crate::cpu::core::Cpu;
use crate::cpu::cpuid::{feature, SIGNATURE};
use crate::cpu::flags::{IF, VM, ZF};
use crate::cpu::segment::{system_type, SegmentCache};
use crate::cpu::state::*;
use crate::exception::{selector_error, Exception, Fault, Result};
use crate::interp::operand::{gpr, loc, mem_loc, op_size, Loc};

/// Privileged instructions need CPL 0 (#GP(0) otherwise, including v8086 mode).
#[inline]
fn require_cpl0(cpu: &Cpu) -> Result<()> {
    if cpu.state.protected_mode() && cpu.state.cpl != 0 {
        return Err(Exception::gp0().into());
    }
    Ok(())
}

/// IOPL-sensitive instructions (CLI, STI) without VME/PVI.
fn require_iopl(cpu: &Cpu) -> Result<()> {
    if cpu.state.protected_mode() && cpu.state.cpl > cpu.iopl() {
        return Err(Exception::gp0().into());
    }
    Ok(())
}

pub fn cli(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    require_iopl(cpu)?;
    cpu.state.lazy.set_bits(IF, false);
    Ok(())
}

pub fn sti(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    require_iopl(cpu)?;
    if cpu.state.lazy.eflags_raw() & IF == 0 {
        cpu.state.lazy.set_bits(IF, true);
        // The instruction after STI runs before any interrupt (SDM Vol. 2, STI).
        cpu.state.interrupt_shadow = 1;
        return Err(Fault::EndBlock);
    }
    Ok(())
}

pub fn hlt(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    cpu.state.run_state = RunState::Halted;
    Err(Fault::EndBlock)
}

impl Cpu {
    /// Port read with the virtual clock brought up to date for the device.
    pub fn port_read(&mut self, port: u16, size: u8) -> u32 {
        self.clock.sync_icount(self.icount);
        self.io.read(port, size)
    }

    pub fn port_write(&mut self, port: u16, size: u8, value: u32) {
        self.clock.sync_icount(self.icount);
        self.io.write(port, size, value);
    }

    /// I/O permission: CPL <= IOPL, or every bit for the ports in the TSS I/O bitmap is clear
    /// (SDM Vol. 1, 19.5). Always consulted in v8086 mode.
    pub fn check_io_permission(&mut self, port: u16, size: u32) -> Result<()> {
        if !self.state.protected_mode() || (!self.state.v8086() && self.state.cpl <= self.iopl()) {
            return Ok(());
        }
        let tr = self.state.tr;
        let tss32 = matches!(
            tr.system_type(),
            system_type::TSS32_AVAILABLE | system_type::TSS32_BUSY
        );
        if !tss32 || tr.limit < 0x67 {
            return Err(Exception::gp0().into());
        }
        let base = tr.base as u32;
        let map = self.read_lin_sys(base + 0x66, 2)?;
        let byte = map + port as u32 / 8;
        if byte + 1 > tr.limit {
            return Err(Exception::gp0().into());
        }
        let bits = self.read_lin_sys(base + byte, 2)?;
        let mask = ((1u32 << size) - 1) << (port % 8);
        if bits & mask != 0 {
            return Err(Exception::gp0().into());
        }
        Ok(())
    }
}

fn io_port(cpu: &Cpu, ins: &Instruction, n: u32) -> u16 {
    match ins.op_kind(n) {
        OpKind::Register => cpu.state.reg16(RDX),
        _ => ins.immediate(n) as u16,
    }
}

pub fn in_(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 0);
    let port = io_port(cpu, ins, 1);
    cpu.check_io_permission(port, size)?;
    let v = cpu.port_read(port, size as u8);
    cpu.state.set_reg(RAX, size, v);
    Ok(())
}

pub fn out(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let size = op_size(ins, 1);
    let port = io_port(cpu, ins, 0);
    cpu.check_io_permission(port, size)?;
    let v = cpu.state.reg(RAX, size);
    cpu.port_write(port, size as u8, v);
    // A device may have asked the machine for something (exit, reset, A20, IRQ).
    Err(Fault::EndBlock)
}

pub fn cpuid(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    let leaf = cpu.state.reg32(RAX);
    let (a, b, c, d) = match leaf {
        0 => (
            2,
            u32::from_le_bytes(*b"Genu"),
            u32::from_le_bytes(*b"ntel"),
            u32::from_le_bytes(*b"ineI"),
        ),
        1 => {
            use feature::*;
            // Only what Ringside implements: no VME, no I/O breakpoints (DE), no machine
            // checks, no MMX. The APIC bit follows the machine and IA32_APIC_BASE's global
            // enable, as on real parts; EBX[31:24] is the initial APIC ID (0).
            let mut edx = FPU | PSE | TSC | MSR | PAE | CX8 | SEP | MTRR | PGE | CMOV | PAT | FXSR;
            let apic_on = cpu.state.msr.apic_base & (1 << 11) != 0;
            if apic_on
                && cpu
                    .io
                    .interrupt_controller()
                    .is_some_and(|i| i.has_local_apic())
            {
                edx |= APIC;
            }
            (SIGNATURE, 0, 0, edx)
        }
        // Leaf 2: cache descriptors of a Pentium II (16K L1 I/D, 512K L2, TLBs).
        2 => (0x0302_0101, 0, 0, 0x0C04_0843),
        _ => (0, 0, 0, 0),
    };
    cpu.state.set_reg32(RAX, a);
    cpu.state.set_reg32(RBX, b);
    cpu.state.set_reg32(RCX, c);
    cpu.state.set_reg32(RDX, d);
    Ok(())
}

pub fn rdtsc(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    if cpu.state.cr4 & CR4_TSD != 0 && cpu.state.protected_mode() && cpu.state.cpl != 0 {
        return Err(Exception::gp0().into());
    }
    let t = cpu.tsc();
    cpu.state.set_reg32(RAX, t as u32);
    cpu.state.set_reg32(RDX, (t >> 32) as u32);
    Ok(())
}

pub fn rdmsr(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    let v = cpu.read_msr(cpu.state.reg32(RCX)).ok_or(Exception::gp0())?;
    cpu.state.set_reg32(RAX, v as u32);
    cpu.state.set_reg32(RDX, (v >> 32) as u32);
    Ok(())
}

pub fn wrmsr(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    let v = (cpu.state.reg32(RDX) as u64) << 32 | cpu.state.reg32(RAX) as u64;
    if !cpu.write_msr(cpu.state.reg32(RCX), v) {
        return Err(Exception::gp0().into());
    }
    Ok(())
}

impl Cpu {
    pub fn read_msr(&self, n: u32) -> Option<u64> {
        let m = &self.state.msr;
        Some(match n {
            0x10 => self.tsc(),
            0x17 => 0, // IA32_PLATFORM_ID
            0x1B => m.apic_base,
            0x8B => m.bios_sign_id,
            0xFE => m.mtrr_cap,
            0x174 => m.sysenter_cs,
            0x175 => m.sysenter_esp,
            0x176 => m.sysenter_eip,
            0x179 => 0, // MCG_CAP: no machine-check banks
            0x17A => 0,
            0x1A0 => m.misc_enable,
            0x200..=0x20F => m.mtrr_var[(n - 0x200) as usize],
            0x250 => m.mtrr_fixed[0],
            0x258 | 0x259 => m.mtrr_fixed[(n - 0x258 + 1) as usize],
            0x268..=0x26F => m.mtrr_fixed[(n - 0x268 + 3) as usize],
            0x277 => m.pat,
            0x2FF => m.mtrr_def_type,
            _ => return None,
        })
    }

    pub fn write_msr(&mut self, n: u32, v: u64) -> bool {
        let m = &mut self.state.msr;
        match n {
            0x10 => self.state.tsc_offset = v.wrapping_sub(self.tsc_raw()),
            0x1B => {
                m.apic_base = v & 0xF_FFFF_F900;
                if let Some(intc) = self.io.interrupt_controller() {
                    intc.set_apic_base(v & 0xF_FFFF_F900);
                }
            }
            0x8B => m.bios_sign_id = v,
            0x174 => m.sysenter_cs = v & 0xFFFF,
            0x175 => m.sysenter_esp = v,
            0x176 => m.sysenter_eip = v,
            0x179 | 0x17A => {}

            0x1A0 => m.misc_enable = v,
            0x200..=0x20F => m.mtrr_var[(n - 0x200) as usize] = v,
            0x250 => m.mtrr_fixed[0] = v,
            0x258 | 0x259 => m.mtrr_fixed[(n - 0x258 + 1) as usize] = v,
            0x268..=0x26F => m.mtrr_fixed[(n - 0x268 + 3) as usize] = v,
            0x277 => m.pat = v,
            0x2FF => m.mtrr_def_type = v,
            _ => return false,
        }
        true
    }
}

pub fn mov_cr(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    if ins.op0_register().is_cr() {
        let n = ins.op0_register().number();
        let v = cpu.state.reg32(gpr(ins.op1_register())) as u64;
        cpu.write_cr(n, v)?;
        return Err(Fault::EndBlock);
    }
    let n = ins.op1_register().number();
    let v = match n {
        0 => cpu.state.cr0,
        2 => cpu.state.cr2,
        3 => cpu.state.cr3,
        4 => cpu.state.cr4,
        _ => return Err(Exception::ud().into()),
    };
    cpu.state.set_reg32(gpr(ins.op0_register()), v as u32);
    Ok(())
}

impl Cpu {
    /// Writes a control register with the reserved-bit and consistency checks of the SDM
    /// (Vol. 3, 2.5), flushing what the change invalidates.
    pub fn write_cr(&mut self, n: usize, v: u64) -> Result<()> {
        match n {
            0 => {
                let v = v | CR0_ET;
                if v & CR0_PG != 0 && v & CR0_PE == 0 || v & CR0_NW != 0 && v & CR0_CD == 0 {
                    return Err(Exception::gp0().into());
                }
                let old = self.state.cr0;
                self.state.cr0 = v & 0xE005_003F;
                if (old ^ self.state.cr0) & (CR0_PG | CR0_WP | CR0_PE) != 0 {
                    self.tlb.flush_all();
                }
                if (old ^ self.state.cr0) & CR0_PE != 0 && self.state.cr0 & CR0_PE == 0 {
                    self.state.cpl = 0;
                }
            }
            2 => self.state.cr2 = v,
            3 => {
                self.state.cr3 = v & 0xFFFF_FFFF;
                self.tlb.flush_nonglobal();
            }
            4 => {
                // Bits of features CPUID reports; anything else is reserved (#GP).
                let supported = CR4_TSD | CR4_PSE | CR4_PAE | CR4_PGE | CR4_OSFXSR;
                if v & !supported != 0 {
                    return Err(Exception::gp0().into());
                }
                let old = self.state.cr4;
                self.state.cr4 = v;
                if (old ^ v) & (CR4_PSE | CR4_PAE | CR4_PGE) != 0 {
                    self.tlb.flush_all();
                }
            }
            _ => return Err(Exception::ud().into()),
        }
        Ok(())
    }
}

pub fn mov_dr(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    let (dst_is_dr, n) = if ins.op0_register().is_dr() {
        (true, ins.op0_register().number())
    } else {
        (false, ins.op1_register().number())
    };
    // DR4/DR5 alias DR6/DR7 (this model has no CR4.DE to make them #UD).
    let n = match n {
        4 | 5 => n + 2,
        n => n,
    };
    if dst_is_dr {
        let v = cpu.state.reg32(gpr(ins.op1_register())) as u64;
        cpu.state.dr[n] = match n {
            6 => (v & 0xE00F) | 0xFFFF_0FF0,
            7 => (v & 0xFFFF_23FF) | 0x400,
            _ => v,
        };
        cpu.debug_registers_changed();
        return Err(Fault::EndBlock);
    } else {
        let v = cpu.state.dr[n] as u32;
        cpu.state.set_reg32(gpr(ins.op0_register()), v);
    }
    Ok(())
}

/// LGDT/LIDT: with 16-bit operand size only 24 bits of base are used.
pub fn lgdt_lidt(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    let Loc::Mem { seg, off } = mem_loc(cpu, ins) else {
        return Err(Exception::ud().into());
    };
    let limit = cpu.read_mem(seg, off, 2)?;
    let mut base = cpu.read_mem(seg, crate::interp::operand::next_offset(ins, off, 2), 4)?;
    if crate::interp::operand::osize(ins) == 2 {
        base &= 0x00FF_FFFF;
    }
    let t = crate::cpu::segment::DescriptorTable {
        base: base as u64,
        limit,
    };
    if ins.mnemonic() == Mnemonic::Lgdt {
        cpu.state.gdtr = t;
    } else {
        cpu.state.idtr = t;
    }
    Ok(())
}

pub fn sgdt_sidt(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let Loc::Mem { seg, off } = mem_loc(cpu, ins) else {
        return Err(Exception::ud().into());
    };
    let t = if ins.mnemonic() == Mnemonic::Sgdt {
        cpu.state.gdtr
    } else {
        cpu.state.idtr
    };
    let mut base = t.base as u32;
    if crate::interp::operand::osize(ins) == 2 {
        // A 16-bit SGDT stores 0xFF in the top byte on 286-compatible parts; the P6 stores
        // the 24-bit base with a zero top byte.
        base &= 0x00FF_FFFF;
    }
    cpu.seg_linear(seg, off, 6, true)?;
    cpu.write_mem(seg, off, 2, t.limit)?;
    cpu.write_mem(
        seg,
        crate::interp::operand::next_offset(ins, off, 2),
        4,
        base,
    )
}

fn require_pmode(cpu: &Cpu) -> Result<()> {
    if !cpu.state.protected_mode() || cpu.state.v8086() {
        return Err(Exception::ud().into());
    }
    Ok(())
}

pub fn lldt(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_pmode(cpu)?;
    require_cpl0(cpu)?;
    let sel = cpu.read_op(ins, 0, 2)? as u16;
    if sel & 0xFFFC == 0 {
        cpu.state.ldtr = SegmentCache {
            selector: sel,
            ..SegmentCache::default()
        };
        return Ok(());
    }
    if sel & 4 != 0 {
        return Err(Exception::gp(selector_error(sel)).into());
    }
    let raw = cpu.read_descriptor(sel)?;
    let d = SegmentCache::from_descriptor(sel, raw);
    if d.is_code_or_data() || d.system_type() != system_type::LDT {
        return Err(Exception::gp(selector_error(sel)).into());
    }
    if !d.present() {
        return Err(Exception::np(selector_error(sel)).into());
    }
    cpu.state.ldtr = d;
    Ok(())
}

pub fn ltr(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_pmode(cpu)?;
    require_cpl0(cpu)?;
    let sel = cpu.read_op(ins, 0, 2)? as u16;
    if sel & 0xFFFC == 0 || sel & 4 != 0 {
        return Err(Exception::gp(selector_error(sel)).into());
    }
    let raw = cpu.read_descriptor(sel)?;
    let d = SegmentCache::from_descriptor(sel, raw);
    let t = d.system_type();
    if d.is_code_or_data()
        || !(t == system_type::TSS16_AVAILABLE || t == system_type::TSS32_AVAILABLE)
    {
        return Err(Exception::gp(selector_error(sel)).into());
    }
    if !d.present() {
        return Err(Exception::np(selector_error(sel)).into());
    }
    // Mark the TSS busy in the GDT.
    let at = (cpu.state.gdtr.base as u32).wrapping_add((sel & 0xFFF8) as u32 + 5);
    let b = ((raw >> 40) as u8) | 2;
    cpu.write_lin_sys(at, 1, b as u32)?;
    let mut d = d;
    d.attr |= 2;
    cpu.state.tr = d;
    Ok(())
}

pub fn sldt_str(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_pmode(cpu)?;
    let v = if ins.mnemonic() == Mnemonic::Sldt {
        cpu.state.ldtr.selector
    } else {
        cpu.state.tr.selector
    } as u32;
    match loc(cpu, ins, 0) {
        Loc::Reg(r) => {
            cpu.state.set_reg(r, op_size(ins, 0), v);
            Ok(())
        }
        l => cpu.write_loc(l, 2, v),
    }
}

pub fn smsw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    let v = cpu.state.cr0 as u32;
    match loc(cpu, ins, 0) {
        Loc::Reg(r) => {
            cpu.state.set_reg(r, op_size(ins, 0), v);
            Ok(())
        }
        l => cpu.write_loc(l, 2, v & 0xFFFF),
    }
}

/// LMSW: loads PE, MP, EM, TS; it can set PE but never clear it.
pub fn lmsw(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    let v = cpu.read_op(ins, 0, 2)? as u64;
    let cr0 = cpu.state.cr0;
    let new = (cr0 & !0xE) | (v & 0xF) | (cr0 & CR0_PE);
    cpu.write_cr(0, new)?;
    Err(Fault::EndBlock)
}

pub fn clts(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    cpu.state.cr0 &= !CR0_TS;
    Ok(())
}

pub fn invlpg(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_cpl0(cpu)?;
    let Loc::Mem { seg, off } = mem_loc(cpu, ins) else {
        return Err(Exception::ud().into());
    };
    let lin = (cpu.state.seg[seg].base as u32).wrapping_add(off);
    cpu.tlb.flush_page(lin);
    Ok(())
}

pub fn invd_wbinvd(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    require_cpl0(cpu)
}

/// SYSENTER (SDM Vol. 2): flat ring-0 segments derived from SYSENTER_CS.
pub fn sysenter(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    let cs_sel = cpu.state.msr.sysenter_cs as u16;
    if !cpu.state.protected_mode() || cs_sel & 0xFFFC == 0 {
        return Err(Exception::gp0().into());
    }
    cpu.state
        .lazy
        .set_bits(VM | IF | crate::cpu::flags::RF, false);
    cpu.state.seg[CS] = flat_segment(cs_sel & 0xFFFC, 0x9B);
    cpu.state.seg[SS] = flat_segment((cs_sel & 0xFFFC) + 8, 0x93);
    cpu.state.cpl = 0;
    cpu.state.set_reg32(RSP, cpu.state.msr.sysenter_esp as u32);
    cpu.next_rip = cpu.state.msr.sysenter_eip as u32 as u64;
    Err(Fault::EndBlock)
}

/// SYSEXIT: back to ring 3 at EDX with ESP = ECX.
pub fn sysexit(cpu: &mut Cpu, _: &Instruction) -> Result<()> {
    let cs_sel = cpu.state.msr.sysenter_cs as u16;
    if !cpu.state.protected_mode() || cpu.state.cpl != 0 || cs_sel & 0xFFFC == 0 {
        return Err(Exception::gp0().into());
    }
    cpu.state.seg[CS] = flat_segment(((cs_sel & 0xFFFC) + 16) | 3, 0xFB);
    cpu.state.seg[SS] = flat_segment(((cs_sel & 0xFFFC) + 24) | 3, 0xF3);
    cpu.state.cpl = 3;
    cpu.state.set_reg32(RSP, cpu.state.reg32(RCX));
    cpu.next_rip = cpu.state.reg32(RDX) as u64;
    Err(Fault::EndBlock)
}

/// A flat 4 GiB 32-bit segment with the given access byte (SYSENTER/SYSEXIT fixed values).
fn flat_segment(selector: u16, access: u16) -> SegmentCache {
    SegmentCache {
        selector,
        attr: access | crate::cpu::segment::ATTR_DB | crate::cpu::segment::ATTR_G,
        limit: 0xFFFF_FFFF,
        base: 0,
    }
}

/// LAR/LSL/VERR/VERW: probe a descriptor without faulting; ZF reports success.
pub fn descriptor_probe(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_pmode(cpu)?;
    let m = ins.mnemonic();
    let src = if matches!(m, Mnemonic::Verr | Mnemonic::Verw) {
        0
    } else {
        1
    };
    let sel = cpu.read_op(ins, src, 2)? as u16;
    let d = if sel & 0xFFFC == 0 {
        None
    } else {
        cpu.read_descriptor(sel)
            .ok()
            .map(|raw| (raw, SegmentCache::from_descriptor(sel, raw)))
    };
    let ok = d.filter(|(_, s)| {
        let rpl = (sel & 3) as u8;
        let priv_ok =
            (s.is_code() && s.is_conforming()) || (s.dpl() >= cpu.state.cpl && s.dpl() >= rpl);
        let type_ok = if s.is_code_or_data() {
            match m {
                Mnemonic::Verr => s.readable(),
                Mnemonic::Verw => s.writable(),
                _ => true,
            }
        } else {
            let t = s.system_type();
            match m {
                Mnemonic::Lar => matches!(t, 1 | 2 | 3 | 4 | 5 | 9 | 11 | 12),
                Mnemonic::Lsl => matches!(t, 1 | 2 | 3 | 9 | 11),
                _ => false,
            }
        };
        priv_ok && type_ok
    });
    match ok {
        Some((raw, s)) => {
            cpu.state.lazy.set_bits(ZF, true);
            let size = if src == 1 { op_size(ins, 0) } else { 0 };
            match m {
                Mnemonic::Lar => {
                    let v = ((raw >> 32) as u32) & 0x00F0_FF00;
                    cpu.state.set_reg(gpr(ins.op0_register()), size, v);
                }
                Mnemonic::Lsl => cpu.state.set_reg(gpr(ins.op0_register()), size, s.limit),
                _ => {}
            }
        }
        None => cpu.state.lazy.set_bits(ZF, false),
    }
    Ok(())
}

/// ARPL: raise the RPL of the destination selector to the source's.
pub fn arpl(cpu: &mut Cpu, ins: &Instruction) -> Result<()> {
    require_pmode(cpu)?;
    let dst = loc(cpu, ins, 0);
    let d = cpu.read_loc(dst, 2)?;
    let s = cpu.state.reg16(gpr(ins.op1_register())) as u32;
    if d & 3 < s & 3 {
        cpu.write_loc(dst, 2, (d & !3) | (s & 3))?;
        cpu.state.lazy.set_bits(ZF, true);
    } else {
        cpu.state.lazy.set_bits(ZF, false);
    }
    Ok(())
}

/// An instruction longer than 15 bytes.
pub fn too_long(_: &mut Cpu, _: &Instruction) -> Result<()> {
    Err(Exception::gp0().into())
}

pub fn ud(_: &mut Cpu, _: &Instruction) -> Result<()> {
    Err(Exception::ud().into())
}
