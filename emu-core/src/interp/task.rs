//! Hardware task switching (SDM Vol. 3, chapter 7, and the "TASK-SWITCH" parts of the JMP,
//! CALL, IRET and INT n pseudo-code in Vol. 2). Both 32-bit and 16-bit (286) TSSes.

use crate::cpu::core::Cpu;
use crate::cpu::flags::{NT, VM};
use crate::cpu::segment::{system_type, SegmentCache, ATTR_ACCESSED};
use crate::cpu::state::{CR0_TS, CS, DS, ES, FS, GS, SS};
use crate::exception::{selector_error, vector, Exception, Fault, Result};
use crate::interp::interrupt::fault_exc;

/// What started a task switch: decides the busy-bit, NT and back-link handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskReason {
    Jump,
    Call,
    Iret,
    /// Interrupt or exception through a task gate in the IDT.
    Interrupt,
}

type XResult<T> = core::result::Result<T, Exception>;

/// The dynamic fields of a TSS as read before the switch commits.
struct TssImage {
    cr3: u32,
    eip: u32,
    eflags: u32,
    gpr: [u32; 8],
    /// ES, CS, SS, DS, FS, GS selectors (encoding order).
    seg: [u16; 6],
    ldt: u16,
    /// T flag (32-bit TSS byte 0x64 bit 0): debug trap on entry to the task.
    trap: bool,
}

impl Cpu {
    /// Task switch through a task gate in the IDT.
    pub(crate) fn task_switch_via_gate(
        &mut self,
        tss_sel: u16,
        error_code: Option<u32>,
        return_eip: u32,
    ) -> core::result::Result<(), Exception> {
        self.task_switch(tss_sel, TaskReason::Interrupt, error_code, return_eip)
    }

    /// IRET with NT set: return to the task in the back link.
    pub(crate) fn task_return(&mut self) -> Result<()> {
        let base = self.state.tr.base as u32;
        let link = self.read_lin_sys(base, 2)? as u16;
        self.state.nmi_blocked = 0;
        let ret = self.next_rip as u32;
        self.task_switch(link, TaskReason::Iret, None, ret)?;
        Err(Fault::EndBlock)
    }

    /// A full hardware task switch to the TSS `sel` names. `return_eip` is the EIP saved in
    /// the outgoing TSS; `error_code` is pushed on the new task's stack (exceptions).
    /// Faults before the commit point leave the old task untouched; faults while loading the
    /// new task's segments are raised in the new task's context (`state.rip` is its EIP).
    pub(crate) fn task_switch(
        &mut self,
        sel: u16,
        reason: TaskReason,
        error_code: Option<u32>,
        return_eip: u32,
    ) -> XResult<()> {
        let iret = reason == TaskReason::Iret;
        let nests = matches!(reason, TaskReason::Call | TaskReason::Interrupt);
        let bad = |s: u16| {
            if iret {
                Exception::ts(selector_error(s))
            } else {
                Exception::gp(selector_error(s))
            }
        };
        // The TSS descriptor: in the GDT, a TSS, busy for IRET and available otherwise.
        if sel & 4 != 0 || sel & 0xFFFC == 0 {
            return Err(bad(sel));
        }
        let raw =
            self.read_descriptor(sel)
                .map_err(|e| if e.vector == vector::GP { bad(sel) } else { e })?;
        let d = SegmentCache::from_descriptor(sel, raw);
        let t = d.system_type();
        let is_tss = !d.is_code_or_data()
            && matches!(
                t,
                system_type::TSS16_AVAILABLE
                    | system_type::TSS16_BUSY
                    | system_type::TSS32_AVAILABLE
                    | system_type::TSS32_BUSY
            );
        if !is_tss || (t & 2 != 0) != iret {
            return Err(bad(sel));
        }
        if !d.present() {
            return Err(Exception::np(selector_error(sel)));
        }
        let new32 = t & 8 != 0;
        if d.limit < if new32 { 0x67 } else { 0x2B } {
            return Err(Exception::ts(selector_error(sel)));
        }
        let old = self.state.tr;
        let old32 = old.system_type() & 8 != 0;
        if old.limit < if old32 { 0x5F } else { 0x29 } {
            return Err(Exception::ts(selector_error(old.selector)));
        }

        // Everything that can page-fault happens before the commit point: read the new
        // TSS (under the old CR3) and probe the writes to come.
        let nb = d.base as u32;
        let img = self.read_tss(nb, new32).map_err(fault_exc)?;
        let ob = old.base as u32;
        let (first, last) = if old32 { (0x20, 0x5D) } else { (0x0E, 0x29) };
        self.translate(ob.wrapping_add(first), true, false)
            .map_err(fault_exc)?;
        self.translate(ob.wrapping_add(last), true, false)
            .map_err(fault_exc)?;
        if nests {
            self.translate(nb, true, false).map_err(fault_exc)?;
        }

        // ---- commit ----
        if matches!(reason, TaskReason::Jump | TaskReason::Iret) && old.selector & 0xFFFC != 0 {
            self.set_tss_busy(old.selector, false)?;
        }
        let mut flags = self.state.eflags();
        if iret {
            flags &= !NT;
        }
        self.save_tss(ob, old32, return_eip, flags)
            .map_err(fault_exc)?;
        if nests {
            self.write_lin_sys(nb, 2, old.selector as u32)
                .map_err(fault_exc)?;
        }
        if !iret {
            self.set_tss_busy(sel, true)?;
        }
        let mut tr = d;
        tr.attr |= 2; // busy
        self.state.tr = tr;
        self.state.cr0 |= CR0_TS;

        if new32 && self.state.paging() {
            self.write_cr(3, img.cr3 as u64).map_err(fault_exc)?;
        }
        let mut fl = img.eflags;
        if nests {
            fl |= NT;
        }
        if !new32 {
            fl &= 0xFFFF;
        }
        self.state.set_eflags(fl);
        for (i, v) in img.gpr.iter().enumerate() {
            self.state.set_reg32(i, *v);
        }
        let eip = if new32 { img.eip } else { img.eip & 0xFFFF };
        self.state.rip = eip as u64;
        self.next_rip = eip as u64;
        // Selectors first, with unusable caches, so a fault below is reported in the new
        // task with its selectors in place.
        for (s, &v) in img.seg.iter().enumerate() {
            self.state.seg[s] = SegmentCache {
                selector: v,
                ..SegmentCache::default()
            };
        }
        self.state.ldtr = SegmentCache {
            selector: img.ldt,
            ..SegmentCache::default()
        };
        let v86 = fl & VM != 0;
        self.state.cpl = if v86 { 3 } else { (img.seg[CS] & 3) as u8 };

        self.load_task_ldt(img.ldt)?;
        if v86 {
            for (s, &v) in img.seg.iter().enumerate() {
                self.state.seg[s] = SegmentCache::v8086(v);
            }
        } else {
            self.load_task_segments(&img.seg)?;
            if eip > self.state.seg[CS].limit {
                return Err(Exception::gp0());
            }
        }
        if let Some(code) = error_code {
            let size = if new32 { 4 } else { 2 };
            self.push(size, code).map_err(fault_exc)?;
        }
        if img.trap {
            // Debug trap before the new task's first instruction (DR6.BT).
            self.state.dr[6] |= 1 << 15;
            return Err(Exception::new(vector::DB));
        }
        Ok(())
    }

    /// Reads the fields a task switch loads from a TSS at linear `base`.
    fn read_tss(&mut self, base: u32, tss32: bool) -> Result<TssImage> {
        let at = |o: u32| base.wrapping_add(o);
        let mut img = TssImage {
            cr3: 0,
            eip: 0,
            eflags: 0,
            gpr: [0; 8],
            seg: [0; 6],
            ldt: 0,
            trap: false,
        };
        if tss32 {
            img.cr3 = self.read_lin_sys(at(0x1C), 4)?;
            img.eip = self.read_lin_sys(at(0x20), 4)?;
            img.eflags = self.read_lin_sys(at(0x24), 4)?;
            for i in 0..8 {
                img.gpr[i] = self.read_lin_sys(at(0x28 + 4 * i as u32), 4)?;
            }
            for i in 0..6 {
                img.seg[i] = self.read_lin_sys(at(0x48 + 4 * i as u32), 2)? as u16;
            }
            img.ldt = self.read_lin_sys(at(0x60), 2)? as u16;
            img.trap = self.read_lin_sys(at(0x64), 1)? & 1 != 0;
        } else {
            img.eip = self.read_lin_sys(at(0x0E), 2)?;
            img.eflags = self.read_lin_sys(at(0x10), 2)?;
            // A 286 TSS leaves the upper register halves all ones, FS and GS null.
            for i in 0..8 {
                img.gpr[i] = 0xFFFF_0000 | self.read_lin_sys(at(0x12 + 2 * i as u32), 2)?;
            }
            for i in 0..4 {
                img.seg[i] = self.read_lin_sys(at(0x22 + 2 * i as u32), 2)? as u16;
            }
            img.ldt = self.read_lin_sys(at(0x2A), 2)? as u16;
        }
        Ok(img)
    }

    /// Saves the outgoing task's dynamic state into its TSS at linear `base`.
    fn save_tss(&mut self, base: u32, tss32: bool, eip: u32, eflags: u32) -> Result<()> {
        let at = |o: u32| base.wrapping_add(o);
        if tss32 {
            self.write_lin_sys(at(0x20), 4, eip)?;
            self.write_lin_sys(at(0x24), 4, eflags)?;
            for i in 0..8 {
                let v = self.state.reg32(i);
                self.write_lin_sys(at(0x28 + 4 * i as u32), 4, v)?;
            }
            for i in 0..6 {
                let v = self.state.seg[i].selector as u32;
                self.write_lin_sys(at(0x48 + 4 * i as u32), 2, v)?;
            }
        } else {
            self.write_lin_sys(at(0x0E), 2, eip)?;
            self.write_lin_sys(at(0x10), 2, eflags)?;
            for i in 0..8 {
                let v = self.state.reg32(i);
                self.write_lin_sys(at(0x12 + 2 * i as u32), 2, v)?;
            }
            for i in 0..4 {
                let v = self.state.seg[i].selector as u32;
                self.write_lin_sys(at(0x22 + 2 * i as u32), 2, v)?;
            }
        }
        Ok(())
    }

    /// Sets or clears the busy bit of the TSS descriptor `sel` names in the GDT.
    fn set_tss_busy(&mut self, sel: u16, busy: bool) -> XResult<()> {
        let at = (self.state.gdtr.base as u32).wrapping_add((sel & 0xFFF8) as u32 + 5);
        let b = self.read_lin_sys(at, 1).map_err(fault_exc)?;
        let b = if busy { b | 2 } else { b & !2 };
        self.write_lin_sys(at, 1, b).map_err(fault_exc)
    }

    /// LDTR from the new TSS: #TS(LDT selector) unless null or a present LDT in the GDT.
    fn load_task_ldt(&mut self, sel: u16) -> XResult<()> {
        let ts = Exception::ts(selector_error(sel));
        if sel & 4 != 0 {
            return Err(ts);
        }
        if sel & 0xFFFC == 0 {
            return Ok(());
        }
        let raw = self.read_descriptor(sel).map_err(|_| ts)?;
        let d = SegmentCache::from_descriptor(sel, raw);
        if d.is_code_or_data() || d.system_type() != system_type::LDT || !d.present() {
            return Err(ts);
        }
        self.state.ldtr = d;
        Ok(())
    }

    /// CS, SS and the data segments of the new task, checked against the new CPL
    /// (= CS.RPL): #TS(selector) for invalid ones, #SS/#NP for absent ones.
    fn load_task_segments(&mut self, sels: &[u16; 6]) -> XResult<()> {
        let cpl = (sels[CS] & 3) as u8;
        // Code segment.
        let c = sels[CS];
        let ts = Exception::ts(selector_error(c));
        if c & 0xFFFC == 0 {
            return Err(ts);
        }
        let raw = self.read_descriptor(c).map_err(|_| ts)?;
        let d = SegmentCache::from_descriptor(c, raw);
        if !d.is_code()
            || !d.is_conforming() && d.dpl() != cpl
            || d.is_conforming() && d.dpl() > cpl
        {
            return Err(ts);
        }
        if !d.present() {
            return Err(Exception::np(selector_error(c)));
        }
        self.mark_accessed(c, raw)?;
        let mut d = d;
        d.attr |= ATTR_ACCESSED;
        self.state.seg[CS] = d;

        // Stack segment.
        let s = sels[SS];
        let ts = Exception::ts(selector_error(s));
        if s & 0xFFFC == 0 || (s & 3) as u8 != cpl {
            return Err(ts);
        }
        let raw = self.read_descriptor(s).map_err(|_| ts)?;
        let d = SegmentCache::from_descriptor(s, raw);
        if !d.writable() || !d.is_code_or_data() || d.dpl() != cpl {
            return Err(ts);
        }
        if !d.present() {
            return Err(Exception::ss(selector_error(s)));
        }
        self.mark_accessed(s, raw)?;
        let mut d = d;
        d.attr |= ATTR_ACCESSED;
        self.state.seg[SS] = d;

        // Data segments.
        for seg in [DS, ES, FS, GS] {
            let s = sels[seg];
            if s & 0xFFFC == 0 {
                continue;
            }
            let ts = Exception::ts(selector_error(s));
            let raw = self.read_descriptor(s).map_err(|_| ts)?;
            let d = SegmentCache::from_descriptor(s, raw);
            if !d.is_code_or_data() || !d.readable() {
                return Err(ts);
            }
            let rpl = (s & 3) as u8;
            if !d.is_conforming() && (d.dpl() < cpl || d.dpl() < rpl) {
                return Err(ts);
            }
            if !d.present() {
                return Err(Exception::np(selector_error(s)));
            }
            self.mark_accessed(s, raw)?;
            let mut d = d;
            d.attr |= ATTR_ACCESSED;
            self.state.seg[seg] = d;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::state::{CR0_TS, RAX, RSP};
    use crate::interp::gates::tests::{desc, gate, get_desc, pm_cpu, put_desc};
    use crate::interp::interrupt::Source;

    const A: u64 = 0x3000;
    const B: u64 = 0x3200;

    /// TR = busy 32-bit TSS A (0x40); available 32-bit TSS B (0x48) that starts at
    /// 0x08:0x7000 with EAX=0xB0B0, ESP=0x6000, EFLAGS=0x2.
    fn two_tasks() -> Cpu {
        let mut cpu = pm_cpu();
        put_desc(&mut cpu, 0x40, desc(A as u32, 0x67, 0x8B, 0));
        put_desc(&mut cpu, 0x48, desc(B as u32, 0x67, 0x89, 0));
        cpu.state.tr = SegmentCache::from_descriptor(0x40, get_desc(&mut cpu, 0x40));
        let w = |cpu: &mut Cpu, o: u64, v: u32| cpu.mem.write_u32(B + o, v);
        w(&mut cpu, 0x20, 0x7000);
        w(&mut cpu, 0x24, 0x2);
        w(&mut cpu, 0x28, 0xB0B0);
        w(&mut cpu, 0x38, 0x6000);
        for (i, s) in [0x10u32, 0x08, 0x10, 0x10, 0, 0].iter().enumerate() {
            w(&mut cpu, 0x48 + 4 * i as u64, *s);
        }
        cpu.state.set_reg32(RAX, 0xA0A0);
        cpu.state.set_reg32(RSP, 0x5000);
        cpu
    }

    fn busy(cpu: &mut Cpu, sel: u16) -> bool {
        get_desc(cpu, sel) & (2 << 40) != 0
    }

    #[test]
    fn call_and_iret_between_tasks() {
        let mut cpu = two_tasks();
        cpu.next_rip = 0x1234;
        assert_eq!(cpu.far_call(0x48, 0, 4), Err(Fault::EndBlock));
        assert_eq!(cpu.state.tr.selector, 0x48);
        assert_eq!(cpu.next_rip, 0x7000);
        assert_eq!(cpu.state.rip, 0x7000);
        assert_eq!(cpu.state.reg32(RAX), 0xB0B0);
        assert_eq!(cpu.state.reg32(RSP), 0x6000);
        assert_eq!(cpu.state.seg[CS].selector, 0x08);
        assert!(cpu.state.eflags() & NT != 0);
        assert!(cpu.state.cr0 & CR0_TS != 0);
        assert!(busy(&mut cpu, 0x40) && busy(&mut cpu, 0x48));
        assert_eq!(cpu.mem.read_u32(B) & 0xFFFF, 0x40, "back link");
        assert_eq!(cpu.mem.read_u32(A + 0x20), 0x1234, "saved EIP");
        assert_eq!(cpu.mem.read_u32(A + 0x28), 0xA0A0, "saved EAX");
        assert_eq!(cpu.mem.read_u32(A + 0x38), 0x5000, "saved ESP");
        assert_eq!(cpu.mem.read_u32(A + 0x4C) & 0xFFFF, 0x08, "saved CS");

        cpu.next_rip = 0x7005;
        assert_eq!(cpu.iret(4), Err(Fault::EndBlock));
        assert_eq!(cpu.state.tr.selector, 0x40);
        assert_eq!(cpu.next_rip, 0x1234);
        assert_eq!(cpu.state.reg32(RAX), 0xA0A0);
        assert_eq!(cpu.state.reg32(RSP), 0x5000);
        assert!(busy(&mut cpu, 0x40));
        assert!(!busy(&mut cpu, 0x48));
        assert_eq!(cpu.mem.read_u32(B + 0x20), 0x7005);
        assert!(
            cpu.mem.read_u32(B + 0x24) & NT == 0,
            "NT cleared in the saved flags"
        );
        assert!(cpu.state.eflags() & NT == 0);
    }

    #[test]
    fn jump_clears_old_busy_and_checks() {
        let mut cpu = two_tasks();
        // A busy TSS cannot be jumped to.
        assert_eq!(
            cpu.far_jump(0x40, 0),
            Err(Fault::Exception(Exception::gp(0x40)))
        );
        // Ring 3 cannot reach a DPL-0 TSS.
        crate::interp::gates::tests::set_ring(&mut cpu, 3);
        assert_eq!(
            cpu.far_jump(0x4B, 0),
            Err(Fault::Exception(Exception::gp(0x48)))
        );
        crate::interp::gates::tests::set_ring(&mut cpu, 0);
        assert_eq!(cpu.far_jump(0x48, 0), Err(Fault::EndBlock));
        assert!(!busy(&mut cpu, 0x40));
        assert!(busy(&mut cpu, 0x48));
        assert!(cpu.state.eflags() & NT == 0);
        assert_eq!(cpu.mem.read_u32(B) & 0xFFFF, 0, "no back link on JMP");
    }

    #[test]
    fn descriptor_faults() {
        let mut cpu = two_tasks();
        put_desc(&mut cpu, 0x50, desc(B as u32, 0x60, 0x89, 0));
        assert_eq!(
            cpu.far_jump(0x50, 0),
            Err(Fault::Exception(Exception::ts(0x50)))
        );
        put_desc(&mut cpu, 0x58, desc(B as u32, 0x67, 0x09, 0));
        assert_eq!(
            cpu.far_jump(0x58, 0),
            Err(Fault::Exception(Exception::np(0x58)))
        );
        assert_eq!(cpu.state.tr.selector, 0x40);
        // Through a task gate (DPL 3) from ring 0.
        put_desc(&mut cpu, 0x60, gate(0x48, 0, 0xE5, 0));
        cpu.next_rip = 0x99;
        assert_eq!(cpu.far_call(0x60, 0, 4), Err(Fault::EndBlock));
        assert_eq!(cpu.state.tr.selector, 0x48);
        assert_eq!(cpu.mem.read_u32(A + 0x20), 0x99);
    }

    #[test]
    fn bad_cs_faults_in_new_task() {
        let mut cpu = two_tasks();
        cpu.mem.write_u32(B + 0x4C, 0x10); // CS = data segment
        assert_eq!(
            cpu.far_jump(0x48, 0),
            Err(Fault::Exception(Exception::ts(0x10)))
        );
        assert_eq!(cpu.state.tr.selector, 0x48);
        assert_eq!(cpu.state.rip, 0x7000);
        assert_eq!(cpu.state.reg32(RAX), 0xB0B0);
    }

    #[test]
    fn idt_task_gate_pushes_error_code() {
        let mut cpu = two_tasks();
        cpu.state.idtr.base = 0x2000;
        cpu.state.idtr.limit = 0x7FF;
        let g = gate(0x48, 0, 0x85, 0);
        cpu.mem.write_u32(0x2000 + 13 * 8, g as u32);
        cpu.mem.write_u32(0x2000 + 13 * 8 + 4, (g >> 32) as u32);
        cpu.deliver(13, Some(0x18), 0x4444, Source::Exception)
            .unwrap();
        assert_eq!(cpu.state.tr.selector, 0x48);
        assert_eq!(cpu.state.reg32(RSP), 0x5FFC);
        assert_eq!(cpu.mem.read_u32(0x5FFC), 0x18);
        assert!(cpu.state.eflags() & NT != 0);
        assert_eq!(cpu.mem.read_u32(A + 0x20), 0x4444);
        assert_eq!(cpu.mem.read_u32(B) & 0xFFFF, 0x40);
    }

    #[test]
    fn tss_trap_flag_raises_debug_trap() {
        let mut cpu = two_tasks();
        cpu.mem.write_u32(B + 0x64, 1);
        assert_eq!(
            cpu.far_jump(0x48, 0),
            Err(Fault::Exception(Exception::new(vector::DB)))
        );
        assert_eq!(cpu.state.tr.selector, 0x48);
        assert_eq!(cpu.state.rip, 0x7000);
        assert!(cpu.state.dr[6] & (1 << 15) != 0);
    }

    #[test]
    fn switch_to_16bit_tss() {
        let mut cpu = two_tasks();
        let c = 0x3400u64;
        put_desc(&mut cpu, 0x68, desc(c as u32, 0x2B, 0x81, 0));
        let w = |cpu: &mut Cpu, o: u64, v: u16| {
            cpu.mem.write_bytes(c + o, &v.to_le_bytes());
        };
        w(&mut cpu, 0x0E, 0x0100);
        w(&mut cpu, 0x10, 0x0002);
        w(&mut cpu, 0x12, 0x1234);
        w(&mut cpu, 0x1A, 0x0F00);
        w(&mut cpu, 0x22, 0x38);
        w(&mut cpu, 0x24, 0x08);
        w(&mut cpu, 0x26, 0x10);
        w(&mut cpu, 0x28, 0x38);
        cpu.next_rip = 0x55;
        assert_eq!(cpu.far_call(0x68, 0, 4), Err(Fault::EndBlock));
        assert_eq!(cpu.state.tr.selector, 0x68);
        assert_eq!(cpu.next_rip, 0x100);
        assert_eq!(cpu.state.reg32(RAX), 0xFFFF_1234);
        assert_eq!(cpu.state.seg[DS].selector, 0x38);
        assert_eq!(cpu.state.seg[FS].selector, 0);
        assert!(get_desc(&mut cpu, 0x68) & (2 << 40) != 0);
        assert_eq!(cpu.mem.read_u32(c) & 0xFFFF, 0x40);
        // And back.
        assert_eq!(cpu.iret(2), Err(Fault::EndBlock));
        assert_eq!(cpu.state.tr.selector, 0x40);
        assert_eq!(cpu.next_rip, 0x55);
        assert_eq!(cpu.state.seg[ES].selector, 0x10);
    }
}
