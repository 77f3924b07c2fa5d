//! Guest memory accesses: segmentation checks, then linear addresses through the TLB.

use crate::cpu::core::Cpu;
use crate::cpu::segment::{ATTR_CODE, ATTR_DC, ATTR_P, ATTR_RW};
use crate::cpu::state::SS;
use crate::exception::{Exception, Result};
use crate::memory::{PageTarget, PAGE_MASK};
use crate::mmu::{self, tlb::INVALID_TAG, Access};

/// Address bits that must be clear for an access of `size` bytes under alignment checking
/// (SDM Vol. 3, Table 6-7: words 2, doublewords 4, quadwords and 80-bit values 8).
#[inline]
fn alignment_mask(size: u32) -> u32 {
    match size {
        0 | 1 => 0,
        2 | 3 => 1,
        4..=7 => 3,
        _ => 7,
    }
}

impl Cpu {
    /// Checks an access of `size` bytes at `seg:off` and returns its linear address
    /// (SDM Vol. 3, 5.3 limit checking and 5.4 type checking).
    #[inline(always)]
    pub fn seg_linear(&self, seg: usize, off: u32, size: u32, write: bool) -> Result<u32> {
        let s = &self.state.seg[seg];
        let last = off.wrapping_add(size - 1);
        let in_limit = if s.attr & (ATTR_CODE | ATTR_DC) != ATTR_DC {
            last >= off && last <= s.limit
        } else {
            // Expand-down: valid offsets are (limit, upper bound].
            let upper = if s.is_32bit() { u32::MAX } else { 0xFFFF };
            off > s.limit && last >= off && last <= upper
        };
        let rights = if write {
            s.attr & (ATTR_P | ATTR_CODE | ATTR_RW) == (ATTR_P | ATTR_RW)
        } else {
            s.attr & ATTR_P != 0 && s.attr & (ATTR_CODE | ATTR_RW) != ATTR_CODE
        };
        if in_limit && rights {
            if self.ac_active && off & alignment_mask(size) != 0 {
                return Err(Exception::with_code(crate::exception::vector::AC, 0).into());
            }
            Ok((s.base as u32).wrapping_add(off))
        } else {
            Err(Self::segment_fault(seg).into())
        }
    }

    /// Alignment checking is in force (recomputed when a block starts; everything that can
    /// change CR0.AM, EFLAGS.AC or the CPL ends its block).
    pub fn refresh_alignment_check(&mut self) {
        let s = &self.state;
        self.ac_active = s.cr0 & crate::cpu::state::CR0_AM != 0
            && s.lazy.eflags_raw() & crate::cpu::flags::AC != 0
            && s.cpl == 3;
    }

    /// Alignment checking is in force for the current block (translated code leaves such
    /// blocks to the interpreter).
    #[inline]
    pub fn alignment_checking(&self) -> bool {
        self.ac_active
    }

    /// #SS(0) for the stack segment, #GP(0) for the others.
    #[inline]
    pub fn segment_fault(seg: usize) -> Exception {
        if seg == SS {
            Exception::ss(0)
        } else {
            Exception::gp0()
        }
    }

    #[inline(always)]
    pub fn read_mem(&mut self, seg: usize, off: u32, size: u32) -> Result<u32> {
        let lin = self.seg_linear(seg, off, size, false)?;
        self.read_lin(lin, size)
    }

    #[inline(always)]
    pub fn write_mem(&mut self, seg: usize, off: u32, size: u32, v: u32) -> Result<()> {
        let lin = self.seg_linear(seg, off, size, true)?;
        self.write_lin(lin, size, v)
    }

    pub fn read_mem64(&mut self, seg: usize, off: u32) -> Result<u64> {
        let lin = self.seg_linear(seg, off, 8, false)?;
        let lo = self.read_lin(lin, 4)? as u64;
        let hi = self.read_lin(lin.wrapping_add(4), 4)? as u64;
        Ok(lo | (hi << 32))
    }

    pub fn write_mem64(&mut self, seg: usize, off: u32, v: u64) -> Result<()> {
        let lin = self.seg_linear(seg, off, 8, true)?;
        self.check_writable(lin, 8)?;
        self.write_lin(lin, 4, v as u32)?;
        self.write_lin(lin.wrapping_add(4), 4, (v >> 32) as u32)
    }

    /// Reads `size` bytes at a linear address with the current privilege.
    #[inline(always)]
    pub fn read_lin(&mut self, lin: u32, size: u32) -> Result<u32> {
        let e = self.tlb.entry(self.user(), lin);
        if e.read_tag == lin & !0xFFF && (lin & 0xFFF) <= 0x1000 - size {
            let at = e.host as usize + (lin & 0xFFF) as usize;
            return Ok(self.mem.host.read(at, size as u8) as u32);
        }
        self.read_lin_slow(lin, size, self.state.cpl == 3)
    }

    #[inline(always)]
    pub fn write_lin(&mut self, lin: u32, size: u32, v: u32) -> Result<()> {
        let e = self.tlb.entry(self.user(), lin);
        if e.write_tag == lin & !0xFFF && (lin & 0xFFF) <= 0x1000 - size {
            let at = e.host as usize + (lin & 0xFFF) as usize;
            self.mem.host.write(at, size as u8, v as u64);
            return Ok(());
        }
        self.write_lin_slow(lin, size, v, self.state.cpl == 3)
    }

    /// A supervisor-mode access whatever the CPL: descriptor tables, TSS, IDT (SDM Vol. 3,
    /// 4.6 "implicit supervisor-mode accesses").
    pub fn read_lin_sys(&mut self, lin: u32, size: u32) -> Result<u32> {
        self.read_lin_slow(lin, size, false)
    }

    pub fn write_lin_sys(&mut self, lin: u32, size: u32, v: u32) -> Result<()> {
        self.write_lin_slow(lin, size, v, false)
    }

    /// Probes that all `size` bytes at `lin` may be written, without writing (so a multi-part
    /// store faults before any part lands).
    pub fn check_writable(&mut self, lin: u32, size: u32) -> Result<()> {
        let user = self.state.cpl == 3;
        self.translate(lin, true, user)?;
        let last = lin.wrapping_add(size - 1);
        if last & !0xFFF != lin & !0xFFF {
            self.translate(last, true, user)?;
        }
        Ok(())
    }

    /// Linear to physical for an access, with #PF (and CR2) on refusal. Fills the TLB.
    pub fn translate(&mut self, lin: u32, write: bool, user: bool) -> Result<u64> {
        self.tlb.misses += 1;
        let (phys, write_fast, global) = if self.state.paging() {
            let s = &self.state;
            match mmu::walk(
                &mut self.mem,
                s.cr0,
                s.cr3,
                s.cr4,
                lin,
                Access { write, user },
            ) {
                Ok(w) => (w.phys, w.write_fast, w.global),
                Err(code) => {
                    self.state.cr2 = lin as u64;
                    return Err(Exception::pf(code).into());
                }
            }
        } else {
            (lin as u64, true, false)
        };
        let phys = phys & self.mem.a20_mask;
        let watched = self.state.dr[7] & 0xFF != 0 && self.data_breakpoint_in_page(lin);
        if let (PageTarget::Host { offset, writable }, false) =
            (self.mem.page_target(phys), watched)
        {
            let page = lin & !0xFFF;
            let may_write = writable && write_fast && !self.mem.is_code(offset);
            let e = &mut self.tlb.sets[user as usize][crate::mmu::tlb::index(lin)];
            *e = crate::mmu::TlbEntry {
                read_tag: page,
                write_tag: if may_write { page } else { INVALID_TAG },
                host: offset as u64,
                global: global as u32,
                ..crate::mmu::TlbEntry::EMPTY
            };
        }
        Ok(phys)
    }

    fn read_lin_slow(&mut self, lin: u32, size: u32, user: bool) -> Result<u32> {
        if (lin & 0xFFF) + size > 0x1000 {
            let mut v = 0u32;
            for i in 0..size {
                let b = self.read_lin_slow(lin.wrapping_add(i), 1, user)?;
                v |= b << (8 * i);
            }
            return Ok(v);
        }
        let phys = self.translate(lin, false, user)?;
        if self.state.dr[7] & 0xFF != 0 {
            self.note_data_access(lin, size, false);
        }
        Ok(self.phys_read(phys, size as u8) as u32)
    }

    fn write_lin_slow(&mut self, lin: u32, size: u32, v: u32, user: bool) -> Result<()> {
        if (lin & 0xFFF) + size > 0x1000 {
            // Both pages must accept the write before either byte lands.
            let second = lin.wrapping_add(size - 1);
            self.translate(lin, true, user)?;
            self.translate(second, true, user)?;
            for i in 0..size {
                self.write_lin_slow(lin.wrapping_add(i), 1, v >> (8 * i), user)?;
            }
            return Ok(());
        }
        let phys = self.translate(lin, true, user)?;
        if self.state.dr[7] & 0xFF != 0 {
            self.note_data_access(lin, size, true);
        }
        self.phys_write(phys, size as u8, v as u64);
        if !self.mem.code_written.is_empty() {
            self.code_dirty = true;
        }
        Ok(())
    }

    /// A physical access inside one page: RAM and ROM directly, anything else on the device
    /// bus (MMIO, PCI BARs, the VGA window).
    pub fn phys_read(&mut self, phys: u64, size: u8) -> u64 {
        match self.mem.page_target(phys) {
            PageTarget::Host { .. } => self.mem.read_in_page(phys, size),
            PageTarget::Bus => {
                self.clock.sync_icount(self.icount);
                self.io.mmio_read(phys, size)
            }
        }
    }

    pub fn phys_write(&mut self, phys: u64, size: u8, value: u64) {
        match self.mem.page_target(phys) {
            PageTarget::Host { .. } => self.mem.write_in_page(phys, size, value),
            PageTarget::Bus => {
                self.clock.sync_icount(self.icount);
                self.io.mmio_write(phys, size, value)
            }
        }
    }

    /// Physical page and host offset of the code at a linear address (instruction fetch).
    pub fn fetch_target(&mut self, lin: u32) -> Result<(u64, PageTarget)> {
        let user = self.state.cpl == 3;
        let e = self.tlb.entry(self.user(), lin);
        if e.read_tag == lin & !0xFFF {
            let offset = e.host as usize;
            return Ok((
                0,
                PageTarget::Host {
                    offset,
                    writable: false,
                },
            ));
        }
        let phys = self.translate(lin, false, user)?;
        Ok((phys & PAGE_MASK, self.mem.page_target(phys)))
    }

    // ---- stack ---------------------------------------------------------------------------

    /// Current stack pointer, as SP or ESP depending on SS.B.
    #[inline(always)]
    pub fn sp(&self) -> u32 {
        if self.state.stack32() {
            self.state.gpr[crate::cpu::state::RSP] as u32
        } else {
            self.state.gpr[crate::cpu::state::RSP] as u16 as u32
        }
    }

    #[inline(always)]
    pub fn set_sp(&mut self, v: u32) {
        if self.state.stack32() {
            self.state.set_reg32(crate::cpu::state::RSP, v);
        } else {
            self.state.set_reg16(crate::cpu::state::RSP, v as u16);
        }
    }

    /// Offset `delta` from the current stack pointer, wrapped to the stack's width.
    #[inline(always)]
    pub fn sp_offset(&self, delta: u32) -> u32 {
        let v = self.sp().wrapping_add(delta);
        if self.state.stack32() {
            v
        } else {
            v & 0xFFFF
        }
    }

    #[inline(always)]
    pub fn push(&mut self, size: u32, v: u32) -> Result<()> {
        let sp = self.sp_offset(size.wrapping_neg());
        self.write_mem(SS, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    #[inline(always)]
    pub fn pop(&mut self, size: u32) -> Result<u32> {
        let v = self.read_mem(SS, self.sp(), size)?;
        self.set_sp(self.sp_offset(size));
        Ok(v)
    }
}
