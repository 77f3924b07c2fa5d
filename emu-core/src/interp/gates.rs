//! Far JMP/CALL through system descriptors: call gates (286 and 386, with parameter copying
//! and stack switches), task gates and TSS descriptors (SDM Vol. 3, 5.8).

use crate::cpu::core::Cpu;
use crate::cpu::segment::{system_type, SegmentCache};
use crate::cpu::state::{CS, RSP, SS};
use crate::exception::{selector_error, Exception, Fault, Result};
use crate::interp::interrupt::fault_exc;
use crate::interp::task::TaskReason;

impl Cpu {
    /// A far JMP (`call_size` None) or CALL (`Some(operand size)`) whose selector names a
    /// system descriptor.
    pub(crate) fn far_via_system(
        &mut self,
        sel: u16,
        raw: u64,
        off: u32,
        call_size: Option<u32>,
    ) -> Result<()> {
        let _ = off; // the offset of a far pointer through a gate or TSS is ignored
        let d = SegmentCache::from_descriptor(sel, raw);
        let gp = Exception::gp(selector_error(sel));
        let cpl = self.state.cpl;
        let rpl = (sel & 3) as u8;
        let reason = if call_size.is_some() {
            TaskReason::Call
        } else {
            TaskReason::Jump
        };
        match d.system_type() {
            system_type::CALL_GATE16 | system_type::CALL_GATE32 => {
                self.through_call_gate(sel, raw, call_size.is_some())
            }
            system_type::TASK_GATE => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(gp.into());
                }
                if !d.present() {
                    return Err(Exception::np(selector_error(sel)).into());
                }
                let tss_sel = (raw >> 16) as u16;
                let ret = self.next_rip as u32;
                self.task_switch(tss_sel, reason, None, ret)?;
                Err(Fault::EndBlock)
            }
            system_type::TSS16_AVAILABLE | system_type::TSS32_AVAILABLE => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(gp.into());
                }
                // Presence, limit and busy checks are the task switch's.
                let ret = self.next_rip as u32;
                self.task_switch(sel, reason, None, ret)?;
                Err(Fault::EndBlock)
            }
            _ => Err(gp.into()),
        }
    }

    /// JMP or CALL through a 286 or 386 call gate (SDM Vol. 2, JMP/CALL "CALL-GATE").
    fn through_call_gate(&mut self, gate_sel: u16, raw: u64, call: bool) -> Result<()> {
        let gate = SegmentCache::from_descriptor(gate_sel, raw);
        let cpl = self.state.cpl;
        let rpl = (gate_sel & 3) as u8;
        if gate.dpl() < cpl || rpl > gate.dpl() {
            return Err(Exception::gp(selector_error(gate_sel)).into());
        }
        if !gate.present() {
            return Err(Exception::np(selector_error(gate_sel)).into());
        }
        let gate32 = gate.system_type() == system_type::CALL_GATE32;
        let target_sel = (raw >> 16) as u16;
        let offset = if gate32 {
            (raw as u32 & 0xFFFF) | ((raw >> 32) as u32 & 0xFFFF_0000)
        } else {
            raw as u32 & 0xFFFF
        };
        let params = ((raw >> 32) & 0x1F) as u32;
        if target_sel & 0xFFFC == 0 {
            return Err(Exception::gp0().into());
        }
        let cgp = Exception::gp(selector_error(target_sel));
        let craw = self.read_descriptor(target_sel)?;
        let cs = SegmentCache::from_descriptor(target_sel, craw);
        if !cs.is_code() {
            return Err(cgp.into());
        }
        if call {
            if cs.dpl() > cpl {
                return Err(cgp.into());
            }
        } else if cs.is_conforming() && cs.dpl() > cpl || !cs.is_conforming() && cs.dpl() != cpl {
            return Err(cgp.into());
        }
        if !cs.present() {
            return Err(Exception::np(selector_error(target_sel)).into());
        }
        if !call {
            self.set_cs(cs, craw, cpl, offset)?;
            return Err(Fault::EndBlock);
        }
        let size = if gate32 { 4 } else { 2 };
        let ret = self.next_rip as u32;
        let old_cs = self.state.seg[CS].selector as u32;
        if !cs.is_conforming() && cs.dpl() < cpl {
            self.call_gate_inner(cs, craw, offset, size, params, old_cs, ret)?;
            return Err(Fault::EndBlock);
        }
        // Same privilege: push CS:EIP with the gate's width.
        let sp = self.sp_offset((2 * size).wrapping_neg());
        self.seg_linear(SS, sp, 2 * size, true)?;
        if offset > cs.limit {
            return Err(Exception::gp0().into());
        }
        let esp = self.state.gpr[RSP];
        let r = (|| {
            self.push(size, old_cs)?;
            self.push(size, ret)?;
            self.set_cs(cs, craw, cpl, offset)
        })();
        if let Err(e) = r {
            self.state.gpr[RSP] = esp;
            return Err(e);
        }
        Err(Fault::EndBlock)
    }

    /// CALL through a gate to a more privileged non-conforming segment: stack switch from
    /// the TSS, parameter copy (SDM Vol. 2, CALL "MORE-PRIVILEGE").
    #[allow(clippy::too_many_arguments)]
    fn call_gate_inner(
        &mut self,
        cs: SegmentCache,
        craw: u64,
        offset: u32,
        size: u32,
        params: u32,
        old_cs: u32,
        ret: u32,
    ) -> Result<()> {
        let new_cpl = cs.dpl();
        let (ss_sel, new_esp) = self.tss_stack(new_cpl)?;
        let ss = self.load_stack_for_cpl(ss_sel, new_cpl, 0)?;
        // Parameters from the old stack (with the old privilege and stack).
        let mut vals = [0u32; 32];
        for (i, v) in vals.iter_mut().enumerate().take(params as usize) {
            *v = self.read_mem(SS, self.sp_offset(i as u32 * size), size)?;
        }
        let old_ss = self.state.seg[SS].selector as u32;
        let old_esp = self.state.reg32(RSP);
        let saved_ss = self.state.seg[SS];
        let saved_cpl = self.state.cpl;
        self.state.seg[SS] = ss;
        self.state.set_reg32(RSP, new_esp);
        self.state.cpl = new_cpl;
        let total = (params + 4) * size;
        let r = (|| -> Result<()> {
            let sp = self.sp_offset(total.wrapping_neg());
            if self.seg_linear(SS, sp, total, true).is_err() {
                return Err(Exception::ss(selector_error(ss_sel)).into());
            }
            if offset > cs.limit {
                return Err(Exception::gp0().into());
            }
            self.push(size, old_ss)?;
            self.push(size, old_esp)?;
            for i in (0..params as usize).rev() {
                self.push(size, vals[i])?;
            }
            self.push(size, old_cs)?;
            self.push(size, ret)?;
            let ss_raw = self.read_descriptor(ss_sel)?;
            self.mark_accessed(ss_sel, ss_raw)?;
            self.set_cs(cs, craw, new_cpl, offset)
        })();
        if let Err(e) = r {
            self.state.seg[SS] = saved_ss;
            self.state.set_reg32(RSP, old_esp);
            self.state.cpl = saved_cpl;
            return Err(Fault::Exception(fault_exc(e)));
        }
        self.state.seg[SS].attr |= crate::cpu::segment::ATTR_ACCESSED;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use crate::bus::PortBus;
    use crate::control::MachineControl;
    use crate::cpu::core::Cpu;
    use crate::cpu::segment::SegmentCache;
    use crate::cpu::state::{CS, DS, ES, FS, GS, RSP, SS};
    use crate::exception::{Exception, Fault};
    use crate::memory::PhysicalMemory;

    pub const GDT: u64 = 0x1000;

    /// Raw descriptor: base, byte limit (< 1 MiB), access byte, flags nibble (G/D/L/AVL).
    pub fn desc(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
        let lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16);
        let hi = ((base >> 16) & 0xFF)
            | ((access as u32) << 8)
            | (limit & 0xF_0000)
            | (((flags & 0xF) as u32) << 20)
            | (base & 0xFF00_0000);
        lo as u64 | ((hi as u64) << 32)
    }

    pub fn gate(sel: u16, off: u32, access: u8, params: u8) -> u64 {
        let lo = (off & 0xFFFF) | ((sel as u32) << 16);
        let hi = (off & 0xFFFF_0000) | ((access as u32) << 8) | (params as u32 & 0x1F);
        lo as u64 | ((hi as u64) << 32)
    }

    pub fn put_desc(cpu: &mut Cpu, sel: u16, raw: u64) {
        let at = GDT + (sel & 0xFFF8) as u64;
        cpu.mem.write_u32(at, raw as u32);
        cpu.mem.write_u32(at + 4, (raw >> 32) as u32);
    }

    pub fn get_desc(cpu: &mut Cpu, sel: u16) -> u64 {
        cpu.mem.read_u64(GDT + (sel & 0xFFF8) as u64)
    }

    /// A protected-mode CPU with a GDT at 0x1000:
    /// 0x08 ring-0 code, 0x10 ring-0 data, 0x18 ring-3 code, 0x20 ring-3 data,
    /// 0x28 ring-1 code, 0x30 ring-1 data (all flat 32-bit, limit 0xFFFFF bytes),
    /// 0x38 16-bit ring-0 data.
    pub fn pm_cpu() -> Cpu {
        let mem = PhysicalMemory::new(4 << 20, &[0; 65536]).unwrap();
        let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
        cpu.state.cr0 |= 1;
        cpu.state.gdtr.base = GDT;
        cpu.state.gdtr.limit = 0x3FF;
        put_desc(&mut cpu, 0x08, desc(0, 0xFFFFF, 0x9A, 0x4));
        put_desc(&mut cpu, 0x10, desc(0, 0xFFFFF, 0x92, 0x4));
        put_desc(&mut cpu, 0x18, desc(0, 0xFFFFF, 0xFA, 0x4));
        put_desc(&mut cpu, 0x20, desc(0, 0xFFFFF, 0xF2, 0x4));
        put_desc(&mut cpu, 0x28, desc(0, 0xFFFFF, 0xBA, 0x4));
        put_desc(&mut cpu, 0x30, desc(0, 0xFFFFF, 0xB2, 0x4));
        put_desc(&mut cpu, 0x38, desc(0, 0xFFFF, 0x92, 0x0));
        set_ring(&mut cpu, 0);
        cpu
    }

    /// Loads flat caches for ring `r` (0, 1 or 3) directly.
    pub fn set_ring(cpu: &mut Cpu, r: u8) {
        let (c, d) = match r {
            0 => (0x08u16, 0x10u16),
            1 => (0x29, 0x31),
            _ => (0x1B, 0x23),
        };
        let craw = get_desc(cpu, c);
        let draw = get_desc(cpu, d);
        cpu.state.seg[CS] = SegmentCache::from_descriptor(c, craw);
        for s in [SS, DS, ES, FS, GS] {
            cpu.state.seg[s] = SegmentCache::from_descriptor(d, draw);
        }
        cpu.state.cpl = r;
    }

    /// A 32-bit TSS at `base` with ring-0 stack 0x10:esp0 and ring-1 stack 0x31:esp1.
    pub fn put_tss32(cpu: &mut Cpu, base: u64, esp0: u32, esp1: u32) {
        cpu.mem.write_u32(base + 4, esp0);
        cpu.mem.write_u32(base + 8, 0x10);
        cpu.mem.write_u32(base + 0xC, esp1);
        cpu.mem.write_u32(base + 0x10, 0x31);
    }

    #[test]
    fn call_gate_to_ring0_copies_params() {
        let mut cpu = pm_cpu();
        // TSS at 0x3000 as TR (busy 32-bit TSS at GDT 0x40).
        put_tss32(&mut cpu, 0x3000, 0x9000, 0);
        put_desc(&mut cpu, 0x40, desc(0x3000, 0x67, 0x8B, 0));
        cpu.state.tr = SegmentCache::from_descriptor(0x40, get_desc(&mut cpu, 0x40));
        // 386 call gate DPL 3 -> 0x08:0x5000, 2 dword parameters.
        put_desc(&mut cpu, 0x50, gate(0x08, 0x5000, 0xEC, 2));
        set_ring(&mut cpu, 3);
        cpu.state.set_reg32(RSP, 0x8000);
        cpu.mem.write_u32(0x8000, 0x1111);
        cpu.mem.write_u32(0x8004, 0x2222);
        cpu.next_rip = 0x4321;
        assert_eq!(cpu.far_call(0x53, 0, 4), Err(Fault::EndBlock));
        assert_eq!(cpu.state.cpl, 0);
        assert_eq!(cpu.state.seg[CS].selector, 0x08);
        assert_eq!(cpu.state.seg[SS].selector, 0x10);
        assert_eq!(cpu.next_rip, 0x5000);
        let esp = cpu.state.reg32(RSP);
        assert_eq!(esp, 0x9000 - 24);
        let rd = |cpu: &mut Cpu, a: u32| cpu.mem.read_u32(a as u64);
        assert_eq!(rd(&mut cpu, esp), 0x4321);
        assert_eq!(rd(&mut cpu, esp + 4), 0x1B);
        assert_eq!(rd(&mut cpu, esp + 8), 0x1111);
        assert_eq!(rd(&mut cpu, esp + 12), 0x2222);
        assert_eq!(rd(&mut cpu, esp + 16), 0x8000);
        assert_eq!(rd(&mut cpu, esp + 20), 0x23);
        // RET far 8 back to ring 3 pops it all.
        assert_eq!(cpu.far_ret(4, 8), Err(Fault::EndBlock));
        assert_eq!(cpu.state.cpl, 3);
        assert_eq!(cpu.state.reg32(RSP), 0x8008);
        assert_eq!(cpu.next_rip, 0x4321);
    }

    #[test]
    fn call_gate_16bit_pushes_words() {
        let mut cpu = pm_cpu();
        put_tss32(&mut cpu, 0x3000, 0x9000, 0);
        put_desc(&mut cpu, 0x40, desc(0x3000, 0x67, 0x8B, 0));
        cpu.state.tr = SegmentCache::from_descriptor(0x40, get_desc(&mut cpu, 0x40));
        put_desc(&mut cpu, 0x50, gate(0x08, 0x1234, 0xE4, 1));
        set_ring(&mut cpu, 3);
        cpu.state.set_reg32(RSP, 0x8000);
        cpu.mem.write_u32(0x8000, 0xBEEF);
        cpu.next_rip = 0x77;
        assert_eq!(cpu.far_call(0x53, 0, 4), Err(Fault::EndBlock));
        let esp = cpu.state.reg32(RSP);
        assert_eq!(esp, 0x9000 - 10);
        let w = |cpu: &mut Cpu, a: u32| cpu.mem.read_u32(a as u64) & 0xFFFF;
        assert_eq!(w(&mut cpu, esp), 0x77);
        assert_eq!(w(&mut cpu, esp + 2), 0x1B);
        assert_eq!(w(&mut cpu, esp + 4), 0xBEEF);
        assert_eq!(w(&mut cpu, esp + 6), 0x8000);
        assert_eq!(w(&mut cpu, esp + 8), 0x23);
        assert_eq!(cpu.next_rip, 0x1234);
    }

    #[test]
    fn call_gate_privilege_checks() {
        let mut cpu = pm_cpu();
        // Gate DPL 0 from ring 3: #GP(gate selector).
        put_desc(&mut cpu, 0x50, gate(0x08, 0x5000, 0x8C, 0));
        set_ring(&mut cpu, 3);
        assert_eq!(
            cpu.far_call(0x50, 0, 4),
            Err(Fault::Exception(Exception::gp(0x50)))
        );
        // Not present: #NP(gate selector).
        put_desc(&mut cpu, 0x58, gate(0x08, 0x5000, 0x6C, 0));
        assert_eq!(
            cpu.far_call(0x5B, 0, 4),
            Err(Fault::Exception(Exception::np(0x58)))
        );
        // Null target: #GP(0).
        put_desc(&mut cpu, 0x60, gate(0x00, 0x5000, 0xEC, 0));
        assert_eq!(
            cpu.far_call(0x63, 0, 4),
            Err(Fault::Exception(Exception::gp(0)))
        );
        // Target is data: #GP(target).
        put_desc(&mut cpu, 0x68, gate(0x10, 0x5000, 0xEC, 0));
        assert_eq!(
            cpu.far_call(0x6B, 0, 4),
            Err(Fault::Exception(Exception::gp(0x10)))
        );
        // JMP through a gate to a more privileged non-conforming segment: #GP(target).
        put_desc(&mut cpu, 0x70, gate(0x08, 0x5000, 0xEC, 0));
        assert_eq!(
            cpu.far_jump(0x73, 0),
            Err(Fault::Exception(Exception::gp(0x08)))
        );
        assert_eq!(cpu.state.cpl, 3);
        // JMP through a gate to the same ring works.
        put_desc(&mut cpu, 0x78, gate(0x18, 0x6000, 0xEC, 0));
        assert_eq!(cpu.far_jump(0x7B, 0), Err(Fault::EndBlock));
        assert_eq!(cpu.next_rip, 0x6000);
        assert_eq!(cpu.state.seg[CS].selector, 0x1B);
    }

    #[test]
    fn call_gate_same_privilege() {
        let mut cpu = pm_cpu();
        put_desc(&mut cpu, 0x50, gate(0x08, 0x5000, 0x8C, 3));
        cpu.state.set_reg32(RSP, 0x8000);
        cpu.next_rip = 0x99;
        assert_eq!(cpu.far_call(0x50, 0, 2), Err(Fault::EndBlock));
        assert_eq!(cpu.state.reg32(RSP), 0x7FF8);
        assert_eq!(cpu.mem.read_u32(0x7FF8), 0x99);
        assert_eq!(cpu.mem.read_u32(0x7FFC), 0x08);
        assert_eq!(cpu.next_rip, 0x5000);
        assert_eq!(cpu.state.cpl, 0);
    }
}
