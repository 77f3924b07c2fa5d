//! Software TLB: direct-mapped, one table for supervisor and one for user accesses.

pub const TLB_ENTRIES: usize = 1024;
/// A tag no page-aligned address can equal.
pub const INVALID_TAG: u32 = 1;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbEntry {
    /// Linear page address when reads (and fetches) may use `host`, else `INVALID_TAG`.
    pub read_tag: u32,
    /// Linear page address when writes may use `host` (page dirty, writable, holds no code).
    pub write_tag: u32,
    /// Host memory offset of the page.
    pub host: u64,
    /// The translation came from a global page (survives CR3 writes when CR4.PGE is set).
    pub global: u32,
    pub _pad: u32,
}

impl TlbEntry {
    pub const EMPTY: TlbEntry = TlbEntry {
        read_tag: INVALID_TAG,
        write_tag: INVALID_TAG,
        host: 0,
        global: 0,
        _pad: 0,
    };
}

/// Index 0: supervisor (CPL 0-2); index 1: user (CPL 3).
#[repr(C)]
pub struct Tlb {
    pub sets: [[TlbEntry; TLB_ENTRIES]; 2],
    /// Counters for `info tlb` and the benchmarks.
    pub hits: u64,
    pub misses: u64,
    pub flushes: u64,
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            sets: [[TlbEntry::EMPTY; TLB_ENTRIES]; 2],
            hits: 0,
            misses: 0,
            flushes: 0,
        }
    }
}

#[inline(always)]
pub fn index(lin: u32) -> usize {
    (lin >> 12) as usize & (TLB_ENTRIES - 1)
}

impl Tlb {
    #[inline(always)]
    pub fn entry(&self, user: usize, lin: u32) -> &TlbEntry {
        &self.sets[user][index(lin)]
    }

    #[inline(always)]
    pub fn entry_mut(&mut self, user: usize, lin: u32) -> &mut TlbEntry {
        &mut self.sets[user][index(lin)]
    }

    /// Everything (CR0.PG/WP changes, CR4 paging bits, A20 toggles).
    pub fn flush_all(&mut self) {
        self.flushes += 1;
        for set in self.sets.iter_mut() {
            set.fill(TlbEntry::EMPTY);
        }
    }

    /// A CR3 write: global translations stay when CR4.PGE is on.
    pub fn flush_nonglobal(&mut self) {
        self.flushes += 1;
        for e in self.sets.iter_mut().flat_map(|s| s.iter_mut()) {
            if e.global == 0 {
                *e = TlbEntry::EMPTY;
            }
        }
    }

    /// INVLPG: the page's entries, global or not.
    pub fn flush_page(&mut self, lin: u32) {
        let page = lin & !0xFFF;
        for set in self.sets.iter_mut() {
            let e = &mut set[index(lin)];
            if e.read_tag == page || e.write_tag == page {
                *e = TlbEntry::EMPTY;
            }
        }
    }

    /// Revokes fast writes to a host page (it now holds cached code).
    pub fn protect_host_page(&mut self, host: u64) {
        for e in self.sets.iter_mut().flat_map(|s| s.iter_mut()) {
            if e.host == host {
                e.write_tag = INVALID_TAG;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(t: &mut Tlb, lin: u32, global: bool) {
        let e = t.entry_mut(0, lin);
        e.read_tag = lin & !0xFFF;
        e.write_tag = lin & !0xFFF;
        e.host = 0x5000;
        e.global = global as u32;
    }

    #[test]
    fn cr3_flush_keeps_global_pages() {
        let mut t = Tlb::default();
        fill(&mut t, 0xC000_0000, true);
        fill(&mut t, 0x0804_8000, false);
        t.flush_nonglobal();
        assert_eq!(t.entry(0, 0xC000_0000).read_tag, 0xC000_0000);
        assert_eq!(t.entry(0, 0x0804_8000).read_tag, INVALID_TAG);
        t.flush_all();
        assert_eq!(t.entry(0, 0xC000_0000).read_tag, INVALID_TAG);
    }

    #[test]
    fn invlpg_drops_global_page_too() {
        let mut t = Tlb::default();
        fill(&mut t, 0xC000_1000, true);
        fill(&mut t, 0xC000_2000, true);
        t.flush_page(0xC000_1234);
        assert_eq!(t.entry(0, 0xC000_1000).read_tag, INVALID_TAG);
        assert_eq!(t.entry(0, 0xC000_2000).read_tag, 0xC000_2000);
    }

    #[test]
    fn code_pages_lose_fast_writes() {
        let mut t = Tlb::default();
        fill(&mut t, 0x1000, false);
        t.protect_host_page(0x5000);
        assert_eq!(t.entry(0, 0x1000).write_tag, INVALID_TAG);
        assert_eq!(t.entry(0, 0x1000).read_tag, 0x1000);
    }
}
