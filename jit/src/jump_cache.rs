//! The jump cache: where a chained block goes when its successor is not a static link
//! (returns, indirect jumps, successors in another page). Translated code looks the
//! successor up itself: CS:EIP through the TLB to a host offset, then this direct-mapped
//! table of recently dispatched blocks, keyed like the decode cache. A hit jumps straight
//! into the successor's code; a miss leaves through the dispatcher, which fills the entry.
//!
//! Entries hold their block alive (so the `valid` flag the lookup reads stays readable) and
//! are only used while that flag says the block was not invalidated.

use std::rc::Rc;

use emu_core::decode::Block;

pub const JUMP_ENTRIES: usize = 4096;

/// One entry, read by translated code.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct JumpEntry {
    /// Host offset of the block's first byte; `usize::MAX` when empty.
    pub host: usize,
    pub eip: u32,
    pub code32: u32,
    /// The block's host code.
    pub code: usize,
    /// Address of the block's `valid` flag (a `Cell<bool>`).
    pub valid: usize,
}

impl JumpEntry {
    /// Entries are 32 bytes: translated code scales an index by shifting.
    pub const SIZE_SHIFT: i8 = 5;
}

const _: () = assert!(std::mem::size_of::<JumpEntry>() == 1 << JumpEntry::SIZE_SHIFT);

const EMPTY: JumpEntry = JumpEntry {
    host: usize::MAX,
    eip: 0,
    code32: 0,
    code: 0,
    valid: 0,
};

/// The hash translated code computes too (see `translate::Emitter::jump_cache_exit`).
pub fn jump_index(host: usize, eip: u32) -> usize {
    (host ^ eip.rotate_left(7) as usize) & (JUMP_ENTRIES - 1)
}

pub struct JumpCache {
    entries: Box<[JumpEntry]>,
    holders: Vec<Option<Rc<Block>>>,
}

impl Default for JumpCache {
    fn default() -> Self {
        JumpCache {
            entries: vec![EMPTY; JUMP_ENTRIES].into_boxed_slice(),
            holders: vec![None; JUMP_ENTRIES],
        }
    }
}

impl JumpCache {
    /// Address of the table for translated code.
    pub fn base(&self) -> usize {
        self.entries.as_ptr() as usize
    }

    pub fn insert(&mut self, block: &Rc<Block>, code: usize) {
        let i = jump_index(block.host, block.eip);
        let e = &mut self.entries[i];
        if e.host == block.host && e.eip == block.eip && e.code == code {
            return;
        }
        *e = JumpEntry {
            host: block.host,
            eip: block.eip,
            code32: block.code32 as u32,
            code,
            valid: &block.valid as *const _ as usize,
        };
        self.holders[i] = Some(block.clone());
    }

    /// Forgets everything (the code region was flushed).
    pub fn clear(&mut self) {
        self.entries.fill(EMPTY);
        self.holders.fill(None);
    }
}
