//! The architectural state of one x86 CPU.
//!
//! One plain `#[repr(C)]` struct so the JIT can address every field by offset and snapshots can
//! copy it whole. Registers are 64 bits wide even though only IA-32 is implemented today, so long
//! mode needs no layout change.

use crate::cpu::flags::LazyFlags;
use crate::cpu::segment::{DescriptorTable, SegmentCache};
use crate::fpu::FpuState;

/// General-purpose register numbers in encoding order.
pub const RAX: usize = 0;
pub const RCX: usize = 1;
pub const RDX: usize = 2;
pub const RBX: usize = 3;
pub const RSP: usize = 4;
pub const RBP: usize = 5;
pub const RSI: usize = 6;
pub const RDI: usize = 7;

/// Segment register numbers in encoding order (the `sreg` field of ModRM).
pub const ES: usize = 0;
pub const CS: usize = 1;
pub const SS: usize = 2;
pub const DS: usize = 3;
pub const FS: usize = 4;
pub const GS: usize = 5;

/// Model-specific registers a P6-class part has and guests touch.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msrs {
    pub apic_base: u64,
    pub sysenter_cs: u64,
    pub sysenter_esp: u64,
    pub sysenter_eip: u64,
    pub pat: u64,
    pub mtrr_cap: u64,
    pub mtrr_def_type: u64,
    pub mtrr_fixed: [u64; 11],
    pub mtrr_var: [u64; 16],
    pub misc_enable: u64,
    pub bios_sign_id: u64,
}

/// Why the CPU is not fetching instructions.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RunState {
    #[default]
    Running = 0,
    /// HLT: waits for an unmasked interrupt (or NMI/reset).
    Halted = 1,
    /// Triple fault or shutdown: waits for reset.
    Shutdown = 2,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CpuState {
    pub gpr: [u64; 16],
    pub rip: u64,
    /// EFLAGS bits that are not computed lazily (and the arithmetic ones when `lazy` is idle).
    pub lazy: LazyFlags,
    pub seg: [SegmentCache; 6],
    pub gdtr: DescriptorTable,
    pub idtr: DescriptorTable,
    pub ldtr: SegmentCache,
    pub tr: SegmentCache,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub cr8: u64,
    pub dr: [u64; 8],
    pub efer: u64,
    pub msr: Msrs,
    /// Time-stamp counter offset: TSC = instruction clock + this.
    pub tsc_offset: u64,
    pub fpu: FpuState,
    /// Current privilege level (normally CS.RPL; kept apart because real and v8086 modes differ).
    pub cpl: u8,
    /// The next instruction may not be interrupted (after STI, MOV SS, POP SS).
    pub interrupt_shadow: u8,
    /// An NMI handler is running (NMIs are blocked until the next IRET).
    pub nmi_blocked: u8,
    pub a20_enabled: u8,
    pub run_state: RunState,
}

pub const CR0_PE: u64 = 1 << 0;
pub const CR0_MP: u64 = 1 << 1;
pub const CR0_EM: u64 = 1 << 2;
pub const CR0_TS: u64 = 1 << 3;
pub const CR0_ET: u64 = 1 << 4;
pub const CR0_NE: u64 = 1 << 5;
pub const CR0_WP: u64 = 1 << 16;
pub const CR0_AM: u64 = 1 << 18;
pub const CR0_NW: u64 = 1 << 29;
pub const CR0_CD: u64 = 1 << 30;
pub const CR0_PG: u64 = 1 << 31;

pub const CR4_VME: u64 = 1 << 0;
pub const CR4_PVI: u64 = 1 << 1;
pub const CR4_TSD: u64 = 1 << 2;
pub const CR4_DE: u64 = 1 << 3;
pub const CR4_PSE: u64 = 1 << 4;
pub const CR4_PAE: u64 = 1 << 5;
pub const CR4_MCE: u64 = 1 << 6;
pub const CR4_PGE: u64 = 1 << 7;
pub const CR4_PCE: u64 = 1 << 8;
pub const CR4_OSFXSR: u64 = 1 << 9;
pub const CR4_OSXMMEXCPT: u64 = 1 << 10;

impl Default for CpuState {
    fn default() -> Self {
        let mut s = CpuState {
            gpr: [0; 16],
            rip: 0,
            lazy: LazyFlags::default(),
            seg: [SegmentCache::default(); 6],
            gdtr: DescriptorTable::default(),
            idtr: DescriptorTable::default(),
            ldtr: SegmentCache::default(),
            tr: SegmentCache::default(),
            cr0: 0,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            cr8: 0,
            dr: [0; 8],
            efer: 0,
            msr: Msrs::default(),
            tsc_offset: 0,
            fpu: FpuState::default(),
            cpl: 0,
            interrupt_shadow: 0,
            nmi_blocked: 0,
            a20_enabled: 1,
            run_state: RunState::Running,
        };
        s.reset();
        s
    }
}

impl CpuState {
    /// Power-on / RESET state as the SDM (Vol. 3, 9.1.1) lists it.
    pub fn reset(&mut self) {
        let fpu = FpuState::default();
        *self = CpuState {
            gpr: [0; 16],
            rip: 0xFFF0,
            lazy: LazyFlags::with_eflags(0x2),
            seg: [SegmentCache::real_mode(0); 6],
            gdtr: DescriptorTable {
                base: 0,
                limit: 0xFFFF,
            },
            idtr: DescriptorTable {
                base: 0,
                limit: 0xFFFF,
            },
            ldtr: SegmentCache::system(0x82),
            tr: SegmentCache::system(0x8B),
            cr0: CR0_ET | CR0_CD | CR0_NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            cr8: 0,
            dr: [0, 0, 0, 0, 0, 0, 0xFFFF_0FF0, 0x400],
            efer: 0,
            msr: Msrs {
                apic_base: 0xFEE0_0900,
                pat: 0x0007_0406_0007_0406,
                mtrr_cap: 0x508,
                ..Msrs::default()
            },
            tsc_offset: 0,
            fpu,
            cpl: 0,
            interrupt_shadow: 0,
            nmi_blocked: 0,
            a20_enabled: self.a20_enabled,
            run_state: RunState::Running,
        };
        // EDX holds the processor signature after reset (family 6, model 5, stepping 2: a
        // Pentium II, matching what CPUID reports).
        self.gpr[RDX] = crate::cpu::cpuid::SIGNATURE as u64;
        self.seg[CS] = SegmentCache::real_mode(0xF000);
        self.seg[CS].base = 0xFFFF_0000;
    }

    #[inline(always)]
    pub fn protected_mode(&self) -> bool {
        self.cr0 & CR0_PE != 0
    }

    #[inline(always)]
    pub fn paging(&self) -> bool {
        self.cr0 & CR0_PG != 0
    }

    #[inline(always)]
    pub fn v8086(&self) -> bool {
        self.lazy.eflags_raw() & crate::cpu::flags::VM != 0
    }

    /// Real mode (not protected, not v8086).
    #[inline(always)]
    pub fn real_mode(&self) -> bool {
        !self.protected_mode()
    }

    /// The code segment's default operand/address size is 32 bits.
    #[inline(always)]
    pub fn code32(&self) -> bool {
        self.seg[CS].is_32bit()
    }

    /// The stack segment's B bit: ESP rather than SP.
    #[inline(always)]
    pub fn stack32(&self) -> bool {
        self.seg[SS].is_32bit()
    }

    #[inline(always)]
    pub fn eip(&self) -> u32 {
        self.rip as u32
    }

    #[inline(always)]
    pub fn reg32(&self, n: usize) -> u32 {
        self.gpr[n] as u32
    }

    /// Writes a 32-bit register; on IA-32 the upper half stays zero.
    #[inline(always)]
    pub fn set_reg32(&mut self, n: usize, v: u32) {
        self.gpr[n] = v as u64;
    }

    #[inline(always)]
    pub fn reg16(&self, n: usize) -> u16 {
        self.gpr[n] as u16
    }

    #[inline(always)]
    pub fn set_reg16(&mut self, n: usize, v: u16) {
        self.gpr[n] = (self.gpr[n] & !0xFFFF) | v as u64;
    }

    /// 8-bit register by its encoding number: 0-3 are AL,CL,DL,BL; 4-7 are AH,CH,DH,BH.
    #[inline(always)]
    pub fn reg8(&self, n: usize) -> u8 {
        if n < 4 {
            self.gpr[n] as u8
        } else {
            (self.gpr[n - 4] >> 8) as u8
        }
    }

    #[inline(always)]
    pub fn set_reg8(&mut self, n: usize, v: u8) {
        if n < 4 {
            self.gpr[n] = (self.gpr[n] & !0xFF) | v as u64;
        } else {
            self.gpr[n - 4] = (self.gpr[n - 4] & !0xFF00) | ((v as u64) << 8);
        }
    }

    /// Reads a register of `size` bytes (1, 2 or 4) by encoding number.
    #[inline(always)]
    pub fn reg(&self, n: usize, size: u32) -> u32 {
        match size {
            1 => self.reg8(n) as u32,
            2 => self.reg16(n) as u32,
            _ => self.reg32(n),
        }
    }

    #[inline(always)]
    pub fn set_reg(&mut self, n: usize, size: u32, v: u32) {
        match size {
            1 => self.set_reg8(n, v as u8),
            2 => self.set_reg16(n, v as u16),
            _ => self.set_reg32(n, v),
        }
    }

    pub fn eflags(&self) -> u32 {
        self.lazy.eflags()
    }

    pub fn set_eflags(&mut self, v: u32) {
        self.lazy.set_eflags(v);
    }
}
