//! Debug features of the architecture (SDM Vol. 3, chapter 17): single-step traps (EFLAGS.TF),
//! instruction and data breakpoints in DR0-DR3/DR7, DR6 status bits, and EFLAGS.RF.
//!
//! When any of them is armed the CPU runs one instruction at a time through `step_debug`, so
//! the block loop pays nothing for them otherwise. Pages holding a data breakpoint get no TLB
//! entries, so every access to them takes the slow path, which records hits.

use crate::cpu::core::Cpu;
use crate::cpu::flags::{RF, TF};
use crate::cpu::state::CS;
use crate::exception::{vector, Exception};

/// DR6 bits.
pub const DR6_B_MASK: u64 = 0xF;
pub const DR6_BS: u64 = 1 << 14;

/// One enabled breakpoint decoded from DR7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Breakpoint {
    index: usize,
    addr: u32,
    len: u32,
    /// 0 execute, 1 write, 3 read or write (2, I/O, is not supported on this model).
    rw: u32,
}

fn breakpoints(dr: &[u64; 8]) -> impl Iterator<Item = Breakpoint> + '_ {
    let dr7 = dr[7];
    (0..4).filter_map(move |n| {
        if (dr7 >> (2 * n)) & 3 == 0 {
            return None;
        }
        let rw = ((dr7 >> (16 + 4 * n)) & 3) as u32;
        let len = match (dr7 >> (18 + 4 * n)) & 3 {
            0 => 1,
            1 => 2,
            2 => 8,
            _ => 4,
        };
        // Data breakpoint addresses are aligned down to their length (SDM Vol. 3, 17.2.5).
        let addr = (dr[n] as u32) & !(len - 1);
        Some(Breakpoint {
            index: n,
            addr,
            len,
            rw,
        })
    })
}

impl Cpu {
    /// TF, RF or an enabled breakpoint: instructions must run one at a time.
    #[inline(always)]
    pub(crate) fn needs_debug_steps(&self) -> bool {
        self.state.lazy.eflags_raw() & (TF | RF) != 0 || self.state.dr[7] & 0xFF != 0
    }

    /// An enabled data breakpoint covers some byte of the page holding `lin`.
    pub(crate) fn data_breakpoint_in_page(&self, lin: u32) -> bool {
        let page = lin & !0xFFF;
        breakpoints(&self.state.dr)
            .filter(|b| b.rw & 1 != 0)
            .any(|b| b.addr & !0xFFF == page || (b.addr + b.len - 1) & !0xFFF == page)
    }

    /// Records data breakpoint hits for an access of `size` bytes at `lin`.
    pub(crate) fn note_data_access(&mut self, lin: u32, size: u32, write: bool) {
        let last = lin.wrapping_add(size - 1);
        for b in breakpoints(&self.state.dr) {
            let wanted = b.rw == 3 || (b.rw == 1 && write);
            if wanted && lin < b.addr + b.len && last >= b.addr {
                self.data_hits |= 1 << b.index;
            }
        }
    }

    /// DR6 B bits of instruction breakpoints at the linear address `lin`.
    fn code_breakpoint_hits(&self, lin: u32) -> u32 {
        breakpoints(&self.state.dr)
            .filter(|b| b.rw == 0 && b.addr == lin)
            .fold(0, |acc, b| acc | 1 << b.index)
    }

    /// Debug registers changed: TLB entries for newly watched pages must go.
    pub fn debug_registers_changed(&mut self) {
        self.tlb.flush_all();
    }

    /// Runs one instruction with the debug rules: an instruction breakpoint faults before it
    /// (unless RF is set), a single-step or data breakpoint traps after it.
    pub(crate) fn step_debug(&mut self) {
        let flags = self.state.lazy.eflags_raw();
        let rf = flags & RF != 0;
        if !rf {
            let lin = (self.state.seg[CS].base as u32).wrapping_add(self.state.eip());
            let hits = self.code_breakpoint_hits(lin);
            if hits != 0 {
                self.state.dr[6] = (self.state.dr[6] & !DR6_B_MASK) | hits as u64;
                self.raise(Exception::new(vector::DB));
                return;
            }
        }
        let tf = flags & TF != 0;
        let deliveries = self.deliveries;
        let icount = self.icount;
        self.data_hits = 0;
        self.step();
        let completed = self.icount > icount;
        if !completed {
            return;
        }
        if rf {
            // RF suppresses breakpoints for exactly one instruction.
            self.state.lazy.set_bits(RF, false);
        }
        let mut dr6 = 0;
        if self.data_hits != 0 {
            dr6 |= self.data_hits as u64;
        }
        // The single-step trap follows an instruction that began with TF set, unless it
        // entered a handler (INT n and friends clear TF on the way in).
        if tf && self.deliveries == deliveries {
            dr6 |= DR6_BS;
        }
        if dr6 != 0 {
            self.state.dr[6] = (self.state.dr[6] & !(DR6_B_MASK | DR6_BS)) | dr6;
            self.raise(Exception::new(vector::DB));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::PortBus;
    use crate::control::MachineControl;
    use crate::cpu::segment::SegmentCache;
    use crate::cpu::state::{RSP, SS};
    use crate::memory::PhysicalMemory;
    use std::sync::Arc;

    /// Real mode at 0000:7C00 running `code`, with the #DB vector pointing at 0000:0500.
    fn cpu_with(code: &[u8]) -> Cpu {
        let mem = PhysicalMemory::new(1 << 20, &[0u8; 4096]).unwrap();
        let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
        cpu.mem.write_bytes(0x7C00, code);
        cpu.mem.write_bytes(4, &[0x00, 0x05, 0x00, 0x00]);
        cpu.mem.write_bytes(0x500, &[0xF4]);
        cpu.state.seg[CS] = SegmentCache::real_mode(0);
        cpu.state.seg[SS] = SegmentCache::real_mode(0);
        cpu.state.idtr.base = 0;
        cpu.state.rip = 0x7C00;
        cpu.state.set_reg16(RSP, 0x7000);
        cpu
    }

    fn pushed_ip(cpu: &mut Cpu) -> u32 {
        let mut b = [0u8; 2];
        cpu.mem.read_bytes(0x7000 - 6, &mut b);
        u16::from_le_bytes(b) as u32
    }

    #[test]
    fn single_step_traps_after_the_instruction() {
        let mut cpu = cpu_with(&[0x90, 0x90]);
        cpu.state.lazy.set_bits(TF, true);
        cpu.step_debug();
        assert_eq!(cpu.state.eip(), 0x500, "entered the #DB handler");
        assert_eq!(
            pushed_ip(&mut cpu),
            0x7C01,
            "trap: return address is the next instruction"
        );
        assert_ne!(cpu.state.dr[6] & DR6_BS, 0);
        assert_eq!(
            cpu.state.lazy.eflags_raw() & TF,
            0,
            "handler runs with TF clear"
        );
    }

    #[test]
    fn instruction_breakpoint_faults_before_and_rf_skips_it() {
        let mut cpu = cpu_with(&[0x90, 0x90]);
        cpu.state.dr[0] = 0x7C00;
        cpu.state.dr[7] = 0b01;
        cpu.step_debug();
        assert_eq!(cpu.state.eip(), 0x500);
        assert_eq!(
            pushed_ip(&mut cpu),
            0x7C00,
            "fault: return address is the instruction"
        );
        assert_eq!(cpu.state.dr[6] & DR6_B_MASK, 1);
        // With RF set the breakpoint is ignored once, and RF clears afterwards.
        let mut cpu = cpu_with(&[0x90, 0x90]);
        cpu.state.dr[0] = 0x7C00;
        cpu.state.dr[7] = 0b01;
        cpu.state.lazy.set_bits(RF, true);
        cpu.step_debug();
        assert_eq!(cpu.state.eip(), 0x7C01);
        assert_eq!(cpu.state.lazy.eflags_raw() & RF, 0);
    }

    #[test]
    fn data_breakpoint_traps_after_a_write_but_not_a_read() {
        // mov [0x600], al
        let mut cpu = cpu_with(&[0xA2, 0x00, 0x06, 0xA0, 0x00, 0x06]);
        cpu.state.dr[0] = 0x600;
        cpu.state.dr[7] = 0b01 | (0b01 << 16);
        cpu.debug_registers_changed();
        cpu.step_debug();
        assert_eq!(cpu.state.eip(), 0x500);
        assert_eq!(pushed_ip(&mut cpu), 0x7C03);
        assert_eq!(cpu.state.dr[6] & DR6_B_MASK, 1);
        // A read (mov al, [0x600]) does not match a write-only breakpoint.
        let mut cpu = cpu_with(&[0xA0, 0x00, 0x06]);
        cpu.state.dr[0] = 0x600;
        cpu.state.dr[7] = 0b01 | (0b01 << 16);
        cpu.step_debug();
        assert_eq!(cpu.state.eip(), 0x7C03);
    }

    #[test]
    fn dr7_decoding() {
        let mut dr = [0u64; 8];
        dr[0] = 0x1003;
        dr[1] = 0x2000;
        // DR0: enabled (L0), write, 4 bytes; DR1: enabled (G1), execute, 1 byte.
        dr[7] = 0b1000 | 0b01 | (0b1101 << 16);
        let v: Vec<_> = breakpoints(&dr).collect();
        assert_eq!(
            v[0],
            Breakpoint {
                index: 0,
                addr: 0x1000,
                len: 4,
                rw: 1
            }
        );
        assert_eq!(
            v[1],
            Breakpoint {
                index: 1,
                addr: 0x2000,
                len: 1,
                rw: 0
            }
        );
    }
}
