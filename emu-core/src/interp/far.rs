//! Far control transfers: JMP/CALL/RET/IRET across segments, in real, v8086 and protected
//! mode (SDM Vol. 2 pseudo-code of each). Call gates and task switches are in `gates.rs`
//! and `task.rs`.

use crate::cpu::core::Cpu;
use crate::cpu::flags::{AC, ID, IF, IOPL, NT, RF, VIF, VIP, VM};
use crate::cpu::segment::SegmentCache;
use crate::cpu::state::{CS, DS, ES, FS, GS, RSP, SS};
use crate::exception::{selector_error, Exception, Fault, Result};

/// How far a flags write (POPF, IRET) may reach.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FlagsWriter {
    Popf,
    Iret,
}

impl Cpu {
    /// Writes EFLAGS with the privilege rules of POPF/IRET: IOPL only at CPL 0, IF only when
    /// CPL <= IOPL, VM/VIP/VIF never from POPF. `size` 2 keeps the upper half.
    pub fn write_flags_checked(&mut self, v: u32, size: u32, who: FlagsWriter) {
        let old = self.state.eflags();
        let mut changeable = 0x0000_7FD5 | AC | ID; // arithmetic, TF, IF, DF, IOPL, NT, AC, ID
        if who == FlagsWriter::Iret {
            changeable |= RF;
        }
        if self.state.protected_mode() {
            if self.state.cpl > 0 {
                changeable &= !IOPL;
            }
            if self.state.cpl > self.iopl() {
                changeable &= !IF;
            }
        }
        if who == FlagsWriter::Iret && self.state.cpl == 0 && self.state.protected_mode() {
            changeable |= VM | VIF | VIP;
        }
        if size == 2 {
            changeable &= 0xFFFF;
        }
        self.state
            .set_eflags((old & !changeable) | (v & changeable));
    }

    pub fn far_jump(&mut self, sel: u16, off: u32) -> Result<()> {
        if !self.state.protected_mode() || self.state.v8086() {
            self.load_real_cs(sel, off);
            return Err(Fault::EndBlock);
        }
        let (cs, raw) = self.code_descriptor(sel)?;
        if !cs.is_code_or_data() {
            return self.far_via_system(sel, raw, off, None);
        }
        self.check_direct_code(&cs, sel)?;
        let cpl = self.state.cpl;
        self.set_cs(cs, raw, cpl, off)?;
        Err(Fault::EndBlock)
    }

    /// Checks for a direct far JMP/CALL to a code segment at the same privilege.
    fn check_direct_code(&self, cs: &SegmentCache, sel: u16) -> Result<()> {
        let gp = Exception::gp(selector_error(sel));
        if !cs.is_code() {
            return Err(gp.into());
        }
        let cpl = self.state.cpl;
        if cs.is_conforming() {
            if cs.dpl() > cpl {
                return Err(gp.into());
            }
        } else if (sel & 3) as u8 > cpl || cs.dpl() != cpl {
            return Err(gp.into());
        }
        if !cs.present() {
            return Err(Exception::np(selector_error(sel)).into());
        }
        Ok(())
    }

    pub fn far_call(&mut self, sel: u16, off: u32, size: u32) -> Result<()> {
        let ret = self.next_rip as u32;
        let old_cs = self.state.seg[CS].selector as u32;
        if !self.state.protected_mode() || self.state.v8086() {
            // Both pushes must fit before anything changes.
            let sp = self.sp_offset((2 * size).wrapping_neg());
            self.seg_linear(SS, sp, 2 * size, true)?;
            self.push(size, old_cs)?;
            self.push(size, ret)?;
            self.load_real_cs(sel, off);
            return Err(Fault::EndBlock);
        }
        let (cs, raw) = self.code_descriptor(sel)?;
        if !cs.is_code_or_data() {
            return self.far_via_system(sel, raw, off, Some(size));
        }
        self.check_direct_code(&cs, sel)?;
        let esp = self.state.gpr[RSP];
        let r = (|| {
            self.push(size, old_cs)?;
            self.push(size, ret)
        })();
        if let Err(e) = r {
            self.state.gpr[RSP] = esp;
            return Err(e);
        }
        let cpl = self.state.cpl;
        if let Err(e) = self.set_cs(cs, raw, cpl, off) {
            self.state.gpr[RSP] = esp;
            return Err(e);
        }
        Err(Fault::EndBlock)
    }

    /// RET far with `imm` bytes of parameters to release.
    pub fn far_ret(&mut self, size: u32, imm: u32) -> Result<()> {
        let eip = self.read_mem(SS, self.sp(), size)?;
        let sel = self.read_mem(SS, self.sp_offset(size), size)? as u16;
        if !self.state.protected_mode() || self.state.v8086() {
            self.set_sp(self.sp_offset(2 * size + imm));
            self.load_real_cs(sel, eip);
            return Err(Fault::EndBlock);
        }
        let (cs, raw) = self.code_descriptor(sel)?;
        let rpl = (sel & 3) as u8;
        let gp = Exception::gp(selector_error(sel));
        if !cs.is_code() || rpl < self.state.cpl {
            return Err(gp.into());
        }
        if cs.is_conforming() && cs.dpl() > rpl || !cs.is_conforming() && cs.dpl() != rpl {
            return Err(gp.into());
        }
        if !cs.present() {
            return Err(Exception::np(selector_error(sel)).into());
        }
        if rpl == self.state.cpl {
            self.set_cs(cs, raw, rpl, eip)?;
            self.set_sp(self.sp_offset(2 * size + imm));
            return Err(Fault::EndBlock);
        }
        // Return to an outer ring: its SS:ESP sits above the parameters.
        let at = self.sp_offset(2 * size + imm);
        let new_esp = self.read_mem(SS, at, size)?;
        let new_ss = self.read_mem(SS, at.wrapping_add(size), size)? as u16;
        self.return_to_outer(cs, raw, rpl, eip, new_ss, new_esp, size, imm)?;
        Err(Fault::EndBlock)
    }

    #[allow(clippy::too_many_arguments)]
    fn return_to_outer(
        &mut self,
        cs: SegmentCache,
        raw: u64,
        rpl: u8,
        eip: u32,
        ss_sel: u16,
        esp: u32,
        size: u32,
        imm: u32,
    ) -> Result<()> {
        let gp = Exception::gp(selector_error(ss_sel));
        if ss_sel & 0xFFFC == 0 || (ss_sel & 3) as u8 != rpl {
            return Err(gp.into());
        }
        let ss_raw = self.read_descriptor(ss_sel)?;
        let ss = SegmentCache::from_descriptor(ss_sel, ss_raw);
        if !ss.writable() || ss.dpl() != rpl {
            return Err(gp.into());
        }
        if !ss.present() {
            return Err(Exception::ss(selector_error(ss_sel)).into());
        }
        self.set_cs(cs, raw, rpl, eip)?;
        self.mark_accessed(ss_sel, ss_raw)?;
        self.state.seg[SS] = ss;
        let esp = esp.wrapping_add(imm);
        if size == 4 || ss.is_32bit() {
            self.state
                .set_reg32(RSP, if size == 2 { esp & 0xFFFF } else { esp });
        } else {
            self.state.set_reg16(RSP, esp as u16);
        }
        self.null_inaccessible_segments();
        Ok(())
    }

    pub fn iret(&mut self, size: u32) -> Result<()> {
        if !self.state.protected_mode() {
            let ip = self.read_mem(SS, self.sp(), size)?;
            let cs = self.read_mem(SS, self.sp_offset(size), size)? as u16;
            let fl = self.read_mem(SS, self.sp_offset(2 * size), size)?;
            if size == 2 && ip > self.state.seg[CS].limit {
                return Err(Exception::gp0().into());
            }
            self.set_sp(self.sp_offset(3 * size));
            self.load_real_cs(cs, ip);
            self.write_flags_checked(fl, size, FlagsWriter::Iret);
            self.state.nmi_blocked = 0;
            return Err(Fault::EndBlock);
        }
        if self.state.v8086() {
            // IRET in v8086 mode is IOPL-sensitive (SDM Vol. 3, 20.2.7).
            if self.iopl() < 3 {
                return Err(Exception::gp0().into());
            }
            let ip = self.read_mem(SS, self.sp(), size)?;
            let cs = self.read_mem(SS, self.sp_offset(size), size)? as u16;
            let fl = self.read_mem(SS, self.sp_offset(2 * size), size)?;
            self.set_sp(self.sp_offset(3 * size));
            self.load_real_cs(cs, ip);
            let keep = self.state.eflags() & (IOPL | VM | VIP | VIF);
            let fl = if size == 2 {
                (self.state.eflags() & 0xFFFF_0000) | (fl & 0xFFFF)
            } else {
                fl
            };
            self.state
                .set_eflags((fl & !(IOPL | VM | VIP | VIF)) | keep);
            return Err(Fault::EndBlock);
        }
        if self.state.eflags() & NT != 0 {
            return self.task_return();
        }
        let eip = self.read_mem(SS, self.sp(), size)?;
        let sel = self.read_mem(SS, self.sp_offset(size), size)? as u16;
        let fl = self.read_mem(SS, self.sp_offset(2 * size), size)?;
        self.state.nmi_blocked = 0;
        if fl & VM != 0 && self.state.cpl == 0 && size == 4 {
            return self.iret_to_v8086(eip, sel, fl);
        }
        let (cs, raw) = self.code_descriptor(sel)?;
        let rpl = (sel & 3) as u8;
        let gp = Exception::gp(selector_error(sel));
        if !cs.is_code() || rpl < self.state.cpl {
            return Err(gp.into());
        }
        if cs.is_conforming() && cs.dpl() > rpl || !cs.is_conforming() && cs.dpl() != rpl {
            return Err(gp.into());
        }
        if !cs.present() {
            return Err(Exception::np(selector_error(sel)).into());
        }
        if rpl == self.state.cpl {
            self.set_cs(cs, raw, rpl, eip)?;
            self.set_sp(self.sp_offset(3 * size));
            self.write_flags_checked(fl, size, FlagsWriter::Iret);
            return Err(Fault::EndBlock);
        }
        let at = self.sp_offset(3 * size);
        let esp = self.read_mem(SS, at, size)?;
        let ss = self.read_mem(SS, at.wrapping_add(size), size)? as u16;
        // Flags are written with the old CPL's rights, before the ring changes.
        let old_cpl = self.state.cpl;
        self.return_to_outer(cs, raw, rpl, eip, ss, esp, size, 0)?;
        let new_cpl = self.state.cpl;
        self.state.cpl = old_cpl;
        self.write_flags_checked(fl, size, FlagsWriter::Iret);
        self.state.cpl = new_cpl;
        Err(Fault::EndBlock)
    }

    /// IRET from ring 0 with VM set in the popped flags (SDM Vol. 2, IRET "RETURN-TO-VIRTUAL-8086-MODE").
    fn iret_to_v8086(&mut self, eip: u32, cs: u16, fl: u32) -> Result<()> {
        let mut vals = [0u32; 6];
        for (i, v) in vals.iter_mut().enumerate() {
            *v = self.read_mem(SS, self.sp_offset(12 + 4 * i as u32), 4)?;
        }
        let [esp, ss, es, ds, fs, gs] = vals;
        self.state.set_eflags(fl);
        self.state.seg[CS] = SegmentCache::v8086(cs);
        self.state.seg[SS] = SegmentCache::v8086(ss as u16);
        self.state.seg[ES] = SegmentCache::v8086(es as u16);
        self.state.seg[DS] = SegmentCache::v8086(ds as u16);
        self.state.seg[FS] = SegmentCache::v8086(fs as u16);
        self.state.seg[GS] = SegmentCache::v8086(gs as u16);
        self.state.set_reg32(RSP, esp);
        self.state.cpl = 3;
        self.next_rip = (eip & 0xFFFF) as u64;
        Err(Fault::EndBlock)
    }

    /// IF as seen by CLI/STI/PUSHF in v8086 mode without VME is the real IF.
    pub fn interrupts_enabled(&self) -> bool {
        self.state.lazy.eflags_raw() & IF != 0
    }
}
