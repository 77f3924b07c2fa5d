//! Guest physical memory: RAM, ROM and MMIO regions, with tracking of pages that hold code.
//!
//! RAM and ROM live in one host mapping (`HostMemory`) so a TLB entry can name any page by a
//! single offset. Everything that is not RAM or ROM is `PageTarget::Bus`: the CPU sends those
//! accesses to the device bus (`PortBus::mmio_read`), where PCI BARs can move at run time.

pub mod host;

use crate::bus::DmaMemory;
pub use host::HostMemory;

pub const PAGE_SIZE: u64 = 4096;
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);
const LOW_PAGES: usize = 0x100; // the first MiB, page by page

/// What a physical page is backed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageTarget {
    /// Host memory at `offset` (page aligned).
    Host { offset: usize, writable: bool },
    /// Not RAM or ROM: the device bus decodes it (MMIO), or nothing does and reads float high.
    Bus,
}

pub struct PhysicalMemory {
    pub host: HostMemory,
    ram_size: u64,
    rom_offset: usize,
    rom_size: usize,
    /// The first MiB page by page: conventional RAM, the VGA window, ROM shadows.
    low_map: [PageTarget; LOW_PAGES],
    /// `low_map` as the board powers up (ROM in the shadow window), for `ShadowMode::Rom`.
    power_on_low_map: [PageTarget; LOW_PAGES],
    /// One bit per host page that has decoded instructions cached.
    code_pages: Vec<u64>,
    /// Host pages whose cached code was overwritten since the CPU last looked.
    pub code_written: Vec<usize>,
    /// Cleared when the A20 gate masks address bit 20.
    pub a20_mask: u64,
}

impl PhysicalMemory {
    /// RAM of `ram_size` bytes at physical 0 and a ROM image ending at 4 GiB (its last 128 KiB,
    /// or all of a smaller one, also appear below 1 MiB, as on a PC).
    pub fn new(ram_size: u64, rom: &[u8]) -> std::io::Result<Self> {
        let rom_size = rom.len().next_multiple_of(PAGE_SIZE as usize);
        let ram_pages = ram_size.next_multiple_of(PAGE_SIZE) as usize;
        let mut host = HostMemory::new(ram_pages + rom_size)?;
        host.bytes_mut()[ram_pages..ram_pages + rom.len()].copy_from_slice(rom);
        let mut low_map = [PageTarget::Bus; LOW_PAGES];
        for (page, slot) in low_map.iter_mut().enumerate().take(0xA0) {
            let addr = page as u64 * PAGE_SIZE;
            if addr < ram_size {
                *slot = PageTarget::Host {
                    offset: addr as usize,
                    writable: true,
                };
            }
        }
        let isa_rom = rom_size.min(128 * 1024);
        let isa_first = (0x10_0000 - isa_rom) / PAGE_SIZE as usize;
        for (i, slot) in low_map[isa_first..].iter_mut().enumerate() {
            let in_rom = rom_size - isa_rom + i * PAGE_SIZE as usize;
            *slot = PageTarget::Host {
                offset: ram_pages + in_rom,
                writable: false,
            };
        }
        let total_pages = host.len() / PAGE_SIZE as usize;
        Ok(PhysicalMemory {
            host,
            ram_size,
            rom_offset: ram_pages,
            rom_size,
            low_map,
            power_on_low_map: low_map,
            code_pages: vec![0; total_pages.div_ceil(64)],
            code_written: Vec::new(),
            a20_mask: !0,
        })
    }

    pub fn ram_size(&self) -> u64 {
        self.ram_size
    }

    /// Changes what backs a page below 1 MiB (chipset shadow-RAM control).
    pub fn set_low_page(&mut self, page: usize, target: PageTarget) {
        self.low_map[page] = target;
    }

    /// The power-on layout of the first MiB (RESET also resets the chipset).
    pub fn reset_low_map(&mut self) {
        self.low_map = self.power_on_low_map;
    }

    /// Applies a chipset shadow setting to the pages of `[start, start + len)` below 1 MiB.
    /// Write-only RAM is approximated as reads from the ROM with writes dropped: a page has
    /// one backing here.
    pub fn apply_shadow(&mut self, change: crate::control::ShadowChange) {
        use crate::control::ShadowMode;
        let first = (change.start as u64 / PAGE_SIZE) as usize;
        let last =
            ((change.start as u64 + change.len as u64).div_ceil(PAGE_SIZE) as usize).min(LOW_PAGES);
        for page in first..last {
            let ram = (page as u64 * PAGE_SIZE) as usize;
            let in_ram = (ram as u64) < self.ram_size;
            self.low_map[page] = match change.mode {
                ShadowMode::RamReadWrite if in_ram => PageTarget::Host {
                    offset: ram,
                    writable: true,
                },
                ShadowMode::RamReadOnly if in_ram => PageTarget::Host {
                    offset: ram,
                    writable: false,
                },
                _ => self.power_on_low_map[page],
            };
        }
    }

    /// Classifies the page holding `phys` (A20 already applied).
    pub fn page_target(&self, phys: u64) -> PageTarget {
        let page = phys & PAGE_MASK;
        if page < 0x10_0000 {
            return self.low_map[(page / PAGE_SIZE) as usize];
        }
        let rom_base = (1u64 << 32) - self.rom_size as u64;
        if page >= rom_base && page < (1 << 32) {
            return PageTarget::Host {
                offset: self.rom_offset + (page - rom_base) as usize,
                writable: false,
            };
        }
        if page < self.ram_size {
            return PageTarget::Host {
                offset: page as usize,
                writable: true,
            };
        }
        PageTarget::Bus
    }

    /// Reads `size` (1..=8) bytes that do not cross a page. Device memory (`PageTarget::Bus`)
    /// reads as open bus here; the CPU sends such accesses to the device bus instead.
    pub fn read_in_page(&mut self, phys: u64, size: u8) -> u64 {
        match self.page_target(phys) {
            PageTarget::Host { offset, .. } => {
                self.host.read(offset + (phys & !PAGE_MASK) as usize, size)
            }
            PageTarget::Bus => u64::MAX >> (64 - 8 * size as u32),
        }
    }

    /// Writes `size` (1..=8) bytes that do not cross a page.
    pub fn write_in_page(&mut self, phys: u64, size: u8, value: u64) {
        match self.page_target(phys) {
            PageTarget::Host {
                offset,
                writable: true,
            } => {
                let at = offset + (phys & !PAGE_MASK) as usize;
                self.note_host_write(at);
                self.host.write(at, size, value);
            }
            PageTarget::Host {
                writable: false, ..
            }
            | PageTarget::Bus => {}
        }
    }

    /// Reads any span of physical memory (DMA, debugger, loaders): never faults.
    pub fn read_bytes(&mut self, mut phys: u64, buf: &mut [u8]) {
        for b in buf {
            *b = self.read_in_page(phys & self.a20_mask, 1) as u8;
            phys += 1;
        }
    }

    /// Writes any span of physical memory, ROM included when `force` (loaders place images).
    pub fn write_bytes(&mut self, mut phys: u64, data: &[u8]) {
        for &b in data {
            self.write_in_page(phys & self.a20_mask, 1, b as u64);
            phys += 1;
        }
    }

    pub fn read_u32(&mut self, phys: u64) -> u32 {
        if phys & !PAGE_MASK <= PAGE_SIZE - 4 {
            return self.read_in_page(phys & self.a20_mask, 4) as u32;
        }
        let mut b = [0; 4];
        self.read_bytes(phys, &mut b);
        u32::from_le_bytes(b)
    }

    pub fn read_u64(&mut self, phys: u64) -> u64 {
        if phys & !PAGE_MASK <= PAGE_SIZE - 8 {
            return self.read_in_page(phys & self.a20_mask, 8);
        }
        let mut b = [0; 8];
        self.read_bytes(phys, &mut b);
        u64::from_le_bytes(b)
    }

    pub fn write_u32(&mut self, phys: u64, v: u32) {
        self.write_bytes(phys, &v.to_le_bytes());
    }

    // ---- bus-master access ----------------------------------------------------------------

    /// The RAM span of `[phys, phys + len)` that starts at `phys` and stays inside one page,
    /// as a host offset and length; `None` when the page is not writable RAM.
    fn ram_span(&self, phys: u64, len: usize, write: bool) -> Option<(usize, usize)> {
        let in_page = (PAGE_SIZE - (phys & !PAGE_MASK)) as usize;
        match self.page_target(phys) {
            PageTarget::Host { offset, writable } if writable || !write => {
                Some((offset + (phys & !PAGE_MASK) as usize, len.min(in_page)))
            }
            _ => None,
        }
    }

    // ---- code tracking -------------------------------------------------------------------

    /// Marks a host page as holding cached instructions.
    pub fn mark_code(&mut self, host_offset: usize) {
        let p = host_offset / PAGE_SIZE as usize;
        self.code_pages[p / 64] |= 1 << (p % 64);
    }

    #[inline]
    pub fn is_code(&self, host_offset: usize) -> bool {
        let p = host_offset / PAGE_SIZE as usize;
        self.code_pages[p / 64] & (1 << (p % 64)) != 0
    }

    /// Called for every write to host memory that did not go through a TLB write entry (TLB
    /// entries for code pages are never writable, so every code write comes here).
    #[inline]
    pub fn note_host_write(&mut self, host_offset: usize) {
        if self.is_code(host_offset) {
            let p = host_offset / PAGE_SIZE as usize;
            self.code_pages[p / 64] &= !(1 << (p % 64));
            self.code_written.push(p * PAGE_SIZE as usize);
        }
    }
}

/// Bus masters (IDE, floppy DMA) see RAM and ROM page by page; device memory is skipped, as
/// peer-to-peer DMA is nothing a PC guest relies on. Writes into code pages are reported like
/// CPU writes so stale translations are dropped.
impl DmaMemory for PhysicalMemory {
    fn dma_read(&mut self, mut phys: u64, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let phys_a20 = phys & self.a20_mask;
            let want = buf.len() - done;
            match self.ram_span(phys_a20, want, false) {
                Some((at, n)) => {
                    buf[done..done + n].copy_from_slice(&self.host.bytes()[at..at + n]);
                    done += n;
                    phys += n as u64;
                }
                None => {
                    let n = want.min((PAGE_SIZE - (phys & !PAGE_MASK)) as usize);
                    buf[done..done + n].fill(0xFF);
                    done += n;
                    phys += n as u64;
                }
            }
        }
    }

    fn dma_write(&mut self, mut phys: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let phys_a20 = phys & self.a20_mask;
            let want = data.len() - done;
            let n = match self.ram_span(phys_a20, want, true) {
                Some((at, n)) => {
                    self.note_host_write(at);
                    self.host.bytes_mut()[at..at + n].copy_from_slice(&data[done..done + n]);
                    n
                }
                None => want.min((PAGE_SIZE - (phys & !PAGE_MASK)) as usize),
            };
            done += n;
            phys += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_appears_at_top_and_below_1mib() {
        let mut rom = vec![0u8; 64 * 1024];
        rom[0xFFF0] = 0xEA;
        let mut m = PhysicalMemory::new(1 << 20, &rom).unwrap();
        assert_eq!(m.read_in_page(0xFFFF_FFF0, 1), 0xEA);
        assert_eq!(m.read_in_page(0xFFFF0, 1), 0xEA);
        // ROM is read-only.
        m.write_in_page(0xFFFF0, 1, 0x90);
        assert_eq!(m.read_in_page(0xFFFF0, 1), 0xEA);
    }

    #[test]
    fn ram_and_unmapped() {
        let mut m = PhysicalMemory::new(2 << 20, &[0u8; 4096]).unwrap();
        m.write_u32(0x1000, 0xDEADBEEF);
        assert_eq!(m.read_u32(0x1000), 0xDEADBEEF);
        // Page-crossing accesses are split.
        m.write_u32(0x1FFE, 0x11223344);
        assert_eq!(m.read_u32(0x1FFE), 0x11223344);
        // Beyond RAM reads float high.
        assert_eq!(m.read_u32(0x1000_0000), 0xFFFF_FFFF);
        // The VGA hole has no RAM behind it.
        assert_eq!(m.read_in_page(0xA0000, 1), 0xFF);
    }

    #[test]
    fn shadow_ram_over_the_bios_window() {
        use crate::control::{ShadowChange, ShadowMode};
        let mut rom = vec![0u8; 128 * 1024];
        rom[0x1_0000] = 0xAB; // physical 0xF0000
        let mut m = PhysicalMemory::new(2 << 20, &rom).unwrap();
        let rw = ShadowChange {
            start: 0xF0000,
            len: 0x10000,
            mode: ShadowMode::RamReadWrite,
        };
        m.apply_shadow(rw);
        assert_eq!(
            m.read_in_page(0xF0000, 1),
            0,
            "RAM behind the window is empty"
        );
        m.write_in_page(0xF0000, 1, 0xCD);
        m.apply_shadow(ShadowChange {
            mode: ShadowMode::RamReadOnly,
            ..rw
        });
        m.write_in_page(0xF0000, 1, 0x11);
        assert_eq!(
            m.read_in_page(0xF0000, 1),
            0xCD,
            "read-only shadow keeps the copy"
        );
        m.apply_shadow(ShadowChange {
            mode: ShadowMode::Rom,
            ..rw
        });
        assert_eq!(m.read_in_page(0xF0000, 1), 0xAB);
        m.apply_shadow(rw);
        m.reset_low_map();
        assert_eq!(m.read_in_page(0xF0000, 1), 0xAB);
    }

    #[test]
    fn writes_to_code_pages_are_reported_once() {
        let mut m = PhysicalMemory::new(1 << 20, &[0u8; 4096]).unwrap();
        m.mark_code(0x3000);
        m.write_in_page(0x3010, 1, 1);
        m.write_in_page(0x3020, 1, 1);
        assert_eq!(m.code_written, vec![0x3000]);
        assert!(!m.is_code(0x3000));
    }

    #[test]
    fn dma_spans_pages_and_skips_rom() {
        let mut rom = vec![0u8; 64 * 1024];
        rom[0] = 0x5A;
        let mut m = PhysicalMemory::new(1 << 20, &rom).unwrap();
        m.mark_code(0x2000);
        let data: Vec<u8> = (0..6000u32).map(|i| i as u8).collect();
        m.dma_write(0x1F00, &data);
        let mut back = vec![0; 6000];
        m.dma_read(0x1F00, &mut back);
        assert_eq!(back, data);
        assert_eq!(m.code_written, vec![0x2000], "DMA into code is noticed");
        m.dma_write(0xFFFF_0000, &[1, 2, 3]);
        let mut b = [0u8; 2];
        m.dma_read(0xFFFF_0000, &mut b);
        assert_eq!(b, [0x5A, 0], "ROM is read-only to bus masters");
        m.dma_read(0x4000_0000, &mut b);
        assert_eq!(b, [0xFF, 0xFF], "nothing decodes beyond RAM");
    }
}
