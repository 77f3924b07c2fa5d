//! Protected-mode interrupt and exception delivery through IDT gates (SDM Vol. 3, 6.10-6.12,
//! and the INT n pseudo-code in Vol. 2): interrupt and trap gates (286 and 386), privilege
//! changes with a stack switch from the TSS, delivery out of virtual-8086 mode, task gates.

use crate::cpu::core::Cpu;
use crate::cpu::flags::{IF, NT, RF, TF, VM};
use crate::cpu::segment::{system_type, SegmentCache, ATTR_P};
use crate::cpu::state::{CS, DS, ES, FS, GS, SS};
use crate::exception::{idt_error, selector_error, Exception};
use crate::interp::interrupt::{fault_exc, Source};

impl Cpu {
    pub(crate) fn deliver_protected(
        &mut self,
        vector: u8,
        error_code: Option<u32>,
        return_eip: u32,
        source: Source,
    ) -> Result<(), Exception> {
        // EXT: the event came from outside the program (an interrupt, an earlier exception,
        // or INT1), not from INT n/INT3/INTO (SDM Vol. 3, 6.13).
        let ext = matches!(source, Source::External | Source::Exception | Source::Icebp);
        let idt_code = idt_error(vector, ext);
        let off = vector as u32 * 8;
        if off + 7 > self.state.idtr.limit {
            return Err(Exception::gp(idt_code));
        }
        let at = (self.state.idtr.base as u32).wrapping_add(off);
        let lo = self.read_lin_sys(at, 4).map_err(fault_exc)?;
        let hi = self
            .read_lin_sys(at.wrapping_add(4), 4)
            .map_err(fault_exc)?;
        let gate_type = ((hi >> 8) & 0x1F) as u8;
        let gate_dpl = ((hi >> 13) & 3) as u8;
        let present = hi & (1 << 15) != 0;
        let is_gate = matches!(
            gate_type,
            system_type::TASK_GATE
                | system_type::INTERRUPT_GATE16
                | system_type::TRAP_GATE16
                | system_type::INTERRUPT_GATE32
                | system_type::TRAP_GATE32
        );
        if !is_gate {
            return Err(Exception::gp(idt_code));
        }
        // Software interrupts may not reach gates more privileged than the caller, and in
        // v8086 mode INT n with IOPL < 3 goes to the monitor as #GP(0).
        if source == Source::Software {
            if self.state.v8086() && self.iopl() < 3 {
                return Err(Exception::gp0());
            }
            if gate_dpl < self.state.cpl {
                return Err(Exception::gp(idt_code));
            }
        }
        if !present {
            return Err(Exception::np(idt_code));
        }
        let selector = (lo >> 16) as u16;
        if gate_type == system_type::TASK_GATE {
            return self.task_switch_via_gate(selector, error_code, return_eip);
        }
        let offset = if gate_type & 8 != 0 {
            (lo & 0xFFFF) | (hi & 0xFFFF_0000)
        } else {
            lo & 0xFFFF
        };
        let gate32 = gate_type & 8 != 0;
        let trap = gate_type & 1 != 0;

        // The target code segment.
        if selector & 0xFFFC == 0 {
            return Err(Exception::gp(ext as u32));
        }
        let ext_bit = ext as u32;
        let raw = self
            .read_descriptor(selector)
            .map_err(|_| Exception::gp(selector_error(selector) | ext_bit))?;
        let target = SegmentCache::from_descriptor(selector, raw);
        // A gate never leads to a less privileged segment.
        if !target.is_code() || target.dpl() > self.state.cpl {
            return Err(Exception::gp(selector_error(selector) | ext_bit));
        }
        if !target.present() {
            return Err(Exception::np(selector_error(selector) | ext_bit));
        }
        let old_flags = self.state.eflags();
        let old_cs = self.state.seg[CS].selector as u32;
        let old_ss = self.state.seg[SS].selector as u32;
        let old_esp = self.state.reg32(crate::cpu::state::RSP);
        let from_v86 = old_flags & VM != 0;
        let new_cpl = if target.is_conforming() {
            self.state.cpl
        } else {
            target.dpl()
        };
        let size = if gate32 { 4 } else { 2 };

        if from_v86 && new_cpl != 0 {
            return Err(Exception::gp(selector_error(selector) | ext_bit));
        }
        if new_cpl < self.state.cpl || from_v86 {
            // Inner privilege: switch to the stack named in the TSS for `new_cpl`.
            let (ss_sel, esp) = self.tss_stack(new_cpl)?;
            let ss = self.load_stack_for_cpl(ss_sel, new_cpl, ext_bit)?;
            let saved = (self.state.seg, self.state.cpl);
            self.state.seg[SS] = ss;
            self.state.set_reg32(crate::cpu::state::RSP, esp);
            self.state.cpl = new_cpl;
            let r = (|| -> crate::exception::Result<()> {
                if from_v86 {
                    for s in [GS, FS, DS, ES] {
                        let v = saved.0[s].selector as u32;
                        self.push(size, v)?;
                    }
                }
                self.push(size, old_ss)?;
                self.push(size, old_esp)?;
                self.push(size, old_flags)?;
                self.push(size, old_cs)?;
                self.push(size, return_eip)?;
                if let Some(code) = error_code {
                    self.push(size, code)?;
                }
                Ok(())
            })();
            if let Err(f) = r {
                self.state.seg = saved.0;
                self.state.cpl = saved.1;
                self.state.set_reg32(crate::cpu::state::RSP, old_esp);
                return Err(fault_exc(f));
            }
            if from_v86 {
                for s in [GS, FS, DS, ES] {
                    self.state.seg[s] = SegmentCache {
                        attr: 0,
                        ..SegmentCache::default()
                    };
                }
            }
        } else {
            if target.dpl() != self.state.cpl && !target.is_conforming() {
                return Err(Exception::gp(selector_error(selector) | ext_bit));
            }
            let esp = old_esp;
            let r = (|| -> crate::exception::Result<()> {
                self.push(size, old_flags)?;
                self.push(size, old_cs)?;
                self.push(size, return_eip)?;
                if let Some(code) = error_code {
                    self.push(size, code)?;
                }
                Ok(())
            })();
            if let Err(f) = r {
                self.state.set_reg32(crate::cpu::state::RSP, esp);
                return Err(fault_exc(f));
            }
        }
        if offset > target.limit {
            return Err(Exception::gp(ext_bit));
        }
        let mut cs = target;
        cs.selector = (selector & !3) | new_cpl as u16;
        cs.attr |= crate::cpu::segment::ATTR_ACCESSED;
        self.state.seg[CS] = cs;
        self.state.cpl = new_cpl;
        let mut clear = TF | NT | RF | VM;
        if !trap {
            clear |= IF;
        }
        self.state.lazy.set_bits(clear, false);
        self.state.rip = offset as u64;
        self.next_rip = offset as u64;
        Ok(())
    }

    /// IOPL field of EFLAGS.
    #[inline]
    pub fn iopl(&self) -> u8 {
        ((self.state.lazy.eflags_raw() >> 12) & 3) as u8
    }

    /// SS:ESP for privilege level `cpl` from the current TSS (SDM Vol. 3, 7.2.1).
    pub fn tss_stack(&mut self, cpl: u8) -> Result<(u16, u32), Exception> {
        let tr = self.state.tr;
        let tss32 = matches!(
            tr.system_type(),
            system_type::TSS32_BUSY | system_type::TSS32_AVAILABLE
        );
        let (off, width) = if tss32 {
            (4 + cpl as u32 * 8, 4)
        } else {
            (2 + cpl as u32 * 4, 2)
        };
        if off + width * 2 - 1 > tr.limit || tr.attr & ATTR_P == 0 {
            return Err(Exception::ts(selector_error(tr.selector)));
        }
        let base = tr.base as u32;
        let esp = self
            .read_lin_sys(base.wrapping_add(off), width)
            .map_err(fault_exc)?;
        let ss = self
            .read_lin_sys(base.wrapping_add(off + width), 2)
            .map_err(fault_exc)?;
        Ok((ss as u16, esp))
    }

    /// Checks and loads the stack segment for an inner-privilege transfer (#TS on failure).
    pub fn load_stack_for_cpl(
        &mut self,
        sel: u16,
        cpl: u8,
        ext: u32,
    ) -> Result<SegmentCache, Exception> {
        let ts = Exception::ts(selector_error(sel) | ext);
        if sel & 0xFFFC == 0 || (sel & 3) as u8 != cpl {
            return Err(ts);
        }
        let raw = self.read_descriptor(sel).map_err(|_| ts)?;
        let ss = SegmentCache::from_descriptor(sel, raw);
        if !ss.writable() || ss.dpl() != cpl {
            return Err(ts);
        }
        if !ss.present() {
            return Err(Exception::ss(selector_error(sel) | ext));
        }
        Ok(ss)
    }
}
