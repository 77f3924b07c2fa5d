//! Operand plumbing shared by all handlers: effective addresses, register numbers, and
//! read/write of an operand wherever it lives. Instruction semantics never live here.

use iced_x86::{Instruction, OpKind, Register};

use crate::cpu::core::Cpu;
use crate::exception::{Exception, Result};

/// Where an operand lives, resolved once so read-modify-write ops address it once.
#[derive(Clone, Copy, Debug)]
pub enum Loc {
    /// GPR by encoding number (8-bit: 0-3 low bytes, 4-7 high bytes of regs 0-3).
    Reg(usize),
    Mem {
        seg: usize,
        off: u32,
    },
}

/// Encoding number of a general register (the value that goes into ModRM).
#[inline(always)]
pub fn gpr(r: Register) -> usize {
    r.number()
}

/// Segment register number (ES=0 .. GS=5).
#[inline(always)]
pub fn sreg(r: Register) -> usize {
    (r as usize) - (Register::ES as usize)
}

/// Effective address offset of the memory operand, wrapped to the address size.
#[inline(always)]
pub fn effective_offset(cpu: &Cpu, ins: &Instruction) -> u32 {
    let mut ea = ins.memory_displacement32();
    let base = ins.memory_base();
    if base != Register::None {
        ea = ea.wrapping_add(cpu.state.gpr[base.number()] as u32);
    }
    let index = ins.memory_index();
    if index != Register::None {
        let iv = cpu.state.gpr[index.number()] as u32;
        ea = ea.wrapping_add(iv << ins.memory_index_scale().trailing_zeros());
    }
    if addr16(ins) {
        ea & 0xFFFF
    } else {
        ea
    }
}

/// Offset of a memory operand known to use 32-bit addressing with 32-bit base and index
/// registers (the table only picks handlers that call this for such encodings): no address
/// size check, and register numbers without iced's lookup table.
#[inline(always)]
pub fn effective_offset32(cpu: &Cpu, ins: &Instruction) -> u32 {
    let mut ea = ins.memory_displacement32();
    let base = ins.memory_base();
    if base != Register::None {
        ea = ea.wrapping_add(cpu.state.gpr[(base as usize - Register::EAX as usize) & 15] as u32);
    }
    let index = ins.memory_index();
    if index != Register::None {
        let iv = cpu.state.gpr[(index as usize - Register::EAX as usize) & 15] as u32;
        ea = ea.wrapping_add(iv << ins.memory_index_scale().trailing_zeros());
    }
    ea
}

/// The memory operand of `ins` can go through [`effective_offset32`].
pub fn flat_addressing32(ins: &Instruction) -> bool {
    let is_r32 = |r: Register| r == Register::None || r.is_gpr32();
    !addr16(ins) && is_r32(ins.memory_base()) && is_r32(ins.memory_index())
}

/// The memory operand uses 16-bit addressing (offsets wrap at 64 KiB).
#[inline(always)]
fn addr16(ins: &Instruction) -> bool {
    let (base, index) = (ins.memory_base(), ins.memory_index());
    base.size() == 2
        || index.size() == 2
        || (base == Register::None && index == Register::None && ins.memory_displ_size() == 2)
}

/// The offset `delta` bytes after `off` within a multi-part memory operand (far pointers,
/// BOUND pairs, descriptor-table images): it wraps at 64 KiB under 16-bit addressing.
#[inline]
pub fn next_offset(ins: &Instruction, off: u32, delta: u32) -> u32 {
    let next = off.wrapping_add(delta);
    if addr16(ins) {
        next & 0xFFFF
    } else {
        next
    }
}

/// Segment register number of the memory operand (after overrides and SS defaults).
#[inline(always)]
pub fn mem_seg(ins: &Instruction) -> usize {
    sreg(ins.memory_segment())
}

#[inline(always)]
pub fn mem_loc(cpu: &Cpu, ins: &Instruction) -> Loc {
    Loc::Mem {
        seg: mem_seg(ins),
        off: effective_offset(cpu, ins),
    }
}

/// Resolves operand `n` (register or memory).
#[inline(always)]
pub fn loc(cpu: &Cpu, ins: &Instruction, n: u32) -> Loc {
    match ins.op_kind(n) {
        OpKind::Register => Loc::Reg(gpr(ins.op_register(n))),
        _ => mem_loc(cpu, ins),
    }
}

impl Cpu {
    #[inline(always)]
    pub fn read_loc(&mut self, l: Loc, size: u32) -> Result<u32> {
        match l {
            Loc::Reg(r) => Ok(self.state.reg(r, size)),
            Loc::Mem { seg, off } => self.read_mem(seg, off, size),
        }
    }

    #[inline(always)]
    pub fn write_loc(&mut self, l: Loc, size: u32, v: u32) -> Result<()> {
        match l {
            Loc::Reg(r) => {
                self.state.set_reg(r, size, v);
                Ok(())
            }
            Loc::Mem { seg, off } => self.write_mem(seg, off, size, v),
        }
    }

    /// Reads operand `n` of any kind (register, memory or immediate).
    #[inline(always)]
    pub fn read_op(&mut self, ins: &Instruction, n: u32, size: u32) -> Result<u32> {
        match ins.op_kind(n) {
            OpKind::Register => Ok(self.state.reg(gpr(ins.op_register(n)), size)),
            OpKind::Memory => {
                let l = mem_loc(self, ins);
                self.read_loc(l, size)
            }
            _ => Ok(ins.immediate(n) as u32),
        }
    }
}

/// Operand size in bytes of operand `n` (1, 2 or 4).
#[inline(always)]
pub fn op_size(ins: &Instruction, n: u32) -> u32 {
    match ins.op_kind(n) {
        OpKind::Register => ins.op_register(n).size() as u32,
        OpKind::Memory => ins.memory_size().size() as u32,
        OpKind::Immediate8 => 1,
        OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
        _ => 4,
    }
}

/// Operand size the encoding selects (2 or 4), from iced's opcode table.
#[inline(always)]
pub fn osize(ins: &Instruction) -> u32 {
    match ins.code().op_code().operand_size() {
        16 => 2,
        _ => 4,
    }
}

/// Address size of an instruction without a ModRM memory operand (string ops, LOOP, JCXZ,
/// XLAT), from iced's opcode table or its implicit operands.
#[inline(always)]
pub fn asize(ins: &Instruction) -> u32 {
    match ins.code().op_code().address_size() {
        16 => 2,
        32 => 4,
        _ => {
            for n in 0..ins.op_count() {
                match ins.op_kind(n) {
                    OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI => return 2,
                    OpKind::MemorySegESI | OpKind::MemorySegEDI | OpKind::MemoryESEDI => return 4,
                    OpKind::Memory => {
                        let b = ins.memory_base();
                        return if b.size() == 2 || ins.memory_index().size() == 2 {
                            2
                        } else if b == Register::None && ins.memory_index() == Register::None {
                            ins.memory_displ_size().max(2)
                        } else {
                            4
                        };
                    }
                    _ => {}
                }
            }
            4
        }
    }
}

/// Raised by handlers for encodings the model does not implement.
#[inline]
pub fn undefined() -> Result<()> {
    Err(Exception::ud().into())
}
