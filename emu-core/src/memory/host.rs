//! Host memory backing guest RAM and ROM: one lazily committed anonymous mapping, so a 4 GiB
//! guest costs only the pages it touches.

use memmap2::MmapMut;

pub struct HostMemory {
    map: MmapMut,
}

impl HostMemory {
    pub fn new(len: usize) -> std::io::Result<Self> {
        Ok(HostMemory {
            map: MmapMut::map_anon(len.max(1))?,
        })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// Base address of the mapping, for the JIT's inline TLB fast path.
    pub fn base_ptr(&mut self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    #[inline(always)]
    pub fn read(&self, at: usize, size: u8) -> u64 {
        let m = &self.map[..];
        match size {
            1 => m[at] as u64,
            2 => u16::from_le_bytes([m[at], m[at + 1]]) as u64,
            4 => u32::from_le_bytes(m[at..at + 4].try_into().unwrap()) as u64,
            _ => u64::from_le_bytes(m[at..at + 8].try_into().unwrap()),
        }
    }

    #[inline(always)]
    pub fn write(&mut self, at: usize, size: u8, v: u64) {
        let m = &mut self.map[..];
        match size {
            1 => m[at] = v as u8,
            2 => m[at..at + 2].copy_from_slice(&(v as u16).to_le_bytes()),
            4 => m[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes()),
            _ => m[at..at + 8].copy_from_slice(&v.to_le_bytes()),
        }
    }
}
