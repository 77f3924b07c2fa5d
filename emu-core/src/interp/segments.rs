//! Segment register loads with every protected-mode descriptor check (SDM Vol. 3, 5.5-5.10,
//! and the MOV/POP/LDS pseudo-code in Vol. 2).

use crate::cpu::core::Cpu;
use crate::cpu::segment::{SegmentCache, ATTR_ACCESSED, ATTR_DB, ATTR_P, ATTR_RW, ATTR_S};
use crate::cpu::state::{CS, SS};
use crate::exception::{selector_error, Exception, Fault, Result};
use crate::interp::interrupt::fault_exc;

impl Cpu {
    /// Reads the 8-byte descriptor a selector names; #GP(selector) when outside its table.
    pub fn read_descriptor(&mut self, sel: u16) -> core::result::Result<u64, Exception> {
        let (base, limit) = self.descriptor_table(sel)?;
        let off = (sel & 0xFFF8) as u32;
        if off + 7 > limit {
            return Err(Exception::gp(selector_error(sel)));
        }
        let at = base.wrapping_add(off);
        let lo = self.read_lin_sys(at, 4).map_err(fault_exc)? as u64;
        let hi = self
            .read_lin_sys(at.wrapping_add(4), 4)
            .map_err(fault_exc)? as u64;
        Ok(lo | (hi << 32))
    }

    fn descriptor_table(&self, sel: u16) -> core::result::Result<(u32, u32), Exception> {
        if sel & 4 != 0 {
            let l = &self.state.ldtr;
            if l.selector & 0xFFFC == 0 || l.attr & ATTR_P == 0 {
                return Err(Exception::gp(selector_error(sel)));
            }
            Ok((l.base as u32, l.limit))
        } else {
            Ok((self.state.gdtr.base as u32, self.state.gdtr.limit))
        }
    }

    /// Sets the accessed bit of a descriptor in memory, as loading it does.
    pub fn mark_accessed(&mut self, sel: u16, raw: u64) -> core::result::Result<(), Exception> {
        if raw & (1 << 40) == 0 {
            let (base, _) = self.descriptor_table(sel)?;
            let at = base.wrapping_add((sel & 0xFFF8) as u32 + 5);
            let b = ((raw >> 40) as u8) | 1;
            self.write_lin_sys(at, 1, b as u32).map_err(fault_exc)?;
        }
        Ok(())
    }

    /// Loads a data segment register (ES/SS/DS/FS/GS) from `sel`: real/v8086-mode semantics
    /// or the protected-mode checks.
    pub fn load_segment(&mut self, seg: usize, sel: u16) -> Result<()> {
        if !self.state.protected_mode() || self.state.v8086() {
            let v86 = self.state.v8086();
            let s = &mut self.state.seg[seg];
            s.selector = sel;
            s.base = (sel as u64) << 4;
            // Real mode changes base and selector only, so "unreal" limits survive; the
            // access rights become those of a writable data segment.
            s.attr = (s.attr & ATTR_DB) | ATTR_P | ATTR_S | ATTR_RW | ATTR_ACCESSED;
            if v86 {
                *s = SegmentCache::v8086(sel);
            }
            if seg == SS {
                self.state.interrupt_shadow = 1;
            }
            return Ok(());
        }
        let cpl = self.state.cpl;
        let rpl = (sel & 3) as u8;
        let gp = Exception::gp(selector_error(sel));
        if sel & 0xFFFC == 0 {
            if seg == SS {
                return Err(Exception::gp0().into());
            }
            // A null selector loads an unusable segment; using it faults later.
            self.state.seg[seg] = SegmentCache {
                selector: sel,
                ..SegmentCache::default()
            };
            return Ok(());
        }
        let raw = self.read_descriptor(sel)?;
        let d = SegmentCache::from_descriptor(sel, raw);
        if seg == SS {
            if rpl != cpl || !d.writable() || d.dpl() != cpl {
                return Err(gp.into());
            }
            if !d.present() {
                return Err(Exception::ss(selector_error(sel)).into());
            }
            self.state.interrupt_shadow = 1;
        } else {
            if !d.is_code_or_data() || !d.readable() {
                return Err(gp.into());
            }
            // Data and non-conforming code: both RPL and CPL must be <= DPL.
            if !d.is_conforming() && (rpl > d.dpl() || cpl > d.dpl()) {
                return Err(gp.into());
            }
            if !d.present() {
                return Err(Exception::np(selector_error(sel)).into());
            }
        }
        self.mark_accessed(sel, raw)?;
        let mut d = d;
        d.attr |= ATTR_ACCESSED;
        self.state.seg[seg] = d;
        if seg == SS {
            return Err(Fault::EndBlock);
        }
        Ok(())
    }

    /// After a return to an outer privilege level, data segments the new CPL may not use
    /// are nulled (SDM Vol. 2, RET/IRET pseudo-code).
    pub fn null_inaccessible_segments(&mut self) {
        for seg in [
            crate::cpu::state::ES,
            crate::cpu::state::DS,
            crate::cpu::state::FS,
            crate::cpu::state::GS,
        ] {
            let s = &self.state.seg[seg];
            let data_or_nc = !s.is_code() || !s.is_conforming();
            if data_or_nc && s.dpl() < self.state.cpl {
                self.state.seg[seg] = SegmentCache::default();
            }
        }
    }

    /// Checks and decodes a code segment for a direct far JMP/CALL/RET/IRET target.
    pub fn code_descriptor(
        &mut self,
        sel: u16,
    ) -> core::result::Result<(SegmentCache, u64), Exception> {
        if sel & 0xFFFC == 0 {
            return Err(Exception::gp0());
        }
        let raw = self.read_descriptor(sel)?;
        Ok((SegmentCache::from_descriptor(sel, raw), raw))
    }

    /// Installs a checked code segment at privilege `cpl` and jumps to `eip`.
    pub fn set_cs(&mut self, mut cs: SegmentCache, raw: u64, cpl: u8, eip: u32) -> Result<()> {
        if eip > cs.limit {
            return Err(Exception::gp0().into());
        }
        self.mark_accessed(cs.selector, raw)?;
        cs.selector = (cs.selector & !3) | cpl as u16;
        cs.attr |= ATTR_ACCESSED;
        self.state.seg[CS] = cs;
        self.state.cpl = cpl;
        self.next_rip = eip as u64;
        Ok(())
    }
}
