//! The bounded memory translated code lives in: a set of chunks, each either writable or
//! executable, never both (W^X). Appending flips one chunk to writable, copies, and flips it
//! back; chunks are small so a flip touches few page-table entries.

use memmap2::{Mmap, MmapMut};

/// Bytes per chunk. Translations never span chunks.
pub const CHUNK: usize = 256 << 10;

struct Chunk {
    /// Executable between appends; `None` only while flipping.
    map: Option<Mmap>,
    base: usize,
    used: usize,
}

impl Chunk {
    fn new() -> std::io::Result<Self> {
        let mut map = MmapMut::map_anon(CHUNK)?;
        let base = map.as_mut_ptr() as usize;
        Ok(Chunk {
            map: Some(map.make_exec()?),
            base,
            used: 0,
        })
    }

    fn append(&mut self, code: &[u8]) -> std::io::Result<usize> {
        let at = self.used;
        let mut w = self
            .map
            .take()
            .expect("restored after every flip")
            .make_mut()?;
        w[at..at + code.len()].copy_from_slice(code);
        self.map = Some(w.make_exec()?);
        self.used += code.len();
        Ok(self.base + at)
    }
}

pub struct CodeRegion {
    chunks: Vec<Chunk>,
    /// Chunks the bound allows.
    max_chunks: usize,
    /// The chunk new code goes to.
    current: usize,
    /// Bytes at the start of the first chunk that survive `flush` (the entry trampoline).
    pinned: usize,
    pub flushes: u64,
}

impl CodeRegion {
    pub fn new(len: usize) -> std::io::Result<Self> {
        Ok(CodeRegion {
            chunks: vec![Chunk::new()?],
            max_chunks: len.div_ceil(CHUNK).max(1),
            current: 0,
            pinned: 0,
            flushes: 0,
        })
    }

    /// Address the next appended code of `len` bytes will start at, or `None` when the
    /// region is full. Maps a new chunk when the current one has no room.
    pub fn next_addr(&mut self, len: usize) -> std::io::Result<Option<usize>> {
        assert!(
            len <= CHUNK,
            "a {len}-byte translation is larger than a code chunk"
        );
        if CHUNK - self.chunks[self.current].used < len {
            if self.current + 1 == self.max_chunks {
                return Ok(None);
            }
            self.current += 1;
            if self.current == self.chunks.len() {
                self.chunks.push(Chunk::new()?);
            }
        }
        let c = &self.chunks[self.current];
        Ok(Some(c.base + c.used))
    }

    /// Copies in `code`, assembled for the address `next_addr(code.len())` gave.
    pub fn append(&mut self, code: &[u8]) -> std::io::Result<usize> {
        self.chunks[self.current].append(code)
    }

    /// Bytes of code held.
    pub fn used(&self) -> usize {
        self.chunks[..=self.current].iter().map(|c| c.used).sum()
    }

    /// Keeps what is there now across flushes (call once, after the trampoline).
    pub fn pin(&mut self) {
        self.pinned = self.chunks[0].used;
    }

    /// Forgets every translation (their blocks must be forgotten too). Chunks stay mapped.
    pub fn flush(&mut self) {
        for c in &mut self.chunks {
            c.used = 0;
        }
        self.chunks[0].used = self.pinned;
        self.current = 0;
        self.flushes += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_chunks_up_to_the_bound_and_flush_keeps_the_pinned_part() {
        let mut r = CodeRegion::new(2 * CHUNK).unwrap();
        let a = r.next_addr(100).unwrap().unwrap();
        assert_eq!(r.append(&[0xC3; 100]).unwrap(), a);
        r.pin();
        let b = r.next_addr(CHUNK - 200).unwrap().unwrap();
        assert_eq!(b, a + 100, "same chunk while it has room");
        r.append(&vec![0x90; CHUNK - 200]).unwrap();
        let c = r.next_addr(1000).unwrap().unwrap();
        r.append(&[0x90; 1000]).unwrap();
        assert_ne!(c, a + CHUNK - 100, "a second chunk");
        assert_eq!(r.used(), CHUNK - 100 + 1000);
        r.next_addr(CHUNK - 1000).unwrap().unwrap();
        r.append(&vec![0x90; CHUNK - 1000]).unwrap();
        assert!(r.next_addr(10).unwrap().is_none(), "over the bound");
        r.flush();
        assert_eq!(r.next_addr(10).unwrap(), Some(a + 100));
        assert_eq!(r.flushes, 1);
    }
}
