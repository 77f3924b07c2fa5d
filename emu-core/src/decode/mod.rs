//! Cache of decoded basic blocks, keyed by host (physical) location and invalidated when the
//! guest writes to a page that holds cached code.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use iced_x86::Instruction;

use crate::memory::PAGE_SIZE;

/// Runs one decoded instruction. The handler is chosen once, at decode time.
pub type Handler = fn(&mut crate::cpu::core::Cpu, &Instruction) -> crate::exception::Result<()>;

#[derive(Clone)]
pub struct DecodedInsn {
    pub instr: Instruction,
    pub handler: Handler,
    /// EIP after this instruction, wrapped to 16 bits in 16-bit code.
    pub next_rip: u32,
}

pub struct Block {
    /// Host offset of the first byte.
    pub host: usize,
    pub eip: u32,
    pub code32: bool,
    pub insns: Box<[DecodedInsn]>,
    /// Cleared when guest code overwrote the block's page.
    pub valid: Cell<bool>,
    /// Host code an execution engine made for this block (the JIT's entry address), 0 if
    /// none. It lives and dies with the block, so invalidation needs no second bookkeeping.
    pub native: Cell<usize>,
}

const FAST_SLOTS: usize = 4096;

#[derive(Default)]
pub struct DecodeCache {
    blocks: HashMap<(usize, u32, bool), Rc<Block>>,
    /// Host page -> blocks starting in it.
    by_page: HashMap<usize, Vec<(usize, u32, bool)>>,
    fast: Vec<Option<Rc<Block>>>,
    pub blocks_built: u64,
    pub invalidations: u64,
}

#[inline(always)]
fn slot(host: usize, eip: u32) -> usize {
    (host ^ (eip as usize).rotate_left(7)) & (FAST_SLOTS - 1)
}

/// Blocks can outlive their cache (an engine may hold them, as the JIT's jump cache does):
/// when the cache goes, so does their validity.
impl Drop for DecodeCache {
    fn drop(&mut self) {
        self.clear();
    }
}

impl DecodeCache {
    /// The cached block for code at `host` entered at `eip` with the given code size.
    #[inline(always)]
    pub fn lookup(&mut self, host: usize, eip: u32, code32: bool) -> Option<Rc<Block>> {
        if self.fast.is_empty() {
            self.fast = vec![None; FAST_SLOTS];
        }
        let s = slot(host, eip);
        if let Some(b) = &self.fast[s] {
            if b.host == host && b.eip == eip && b.code32 == code32 && b.valid.get() {
                return Some(b.clone());
            }
        }
        let b = self.blocks.get(&(host, eip, code32))?.clone();
        self.fast[s] = Some(b.clone());
        Some(b)
    }

    pub fn insert(&mut self, block: Block) -> Rc<Block> {
        let key = (block.host, block.eip, block.code32);
        let page = block.host & !(PAGE_SIZE as usize - 1);
        let b = Rc::new(block);
        self.blocks_built += 1;
        if let Some(old) = self.blocks.insert(key, b.clone()) {
            old.valid.set(false);
        } else {
            self.by_page.entry(page).or_default().push(key);
        }
        if !self.fast.is_empty() {
            self.fast[slot(key.0, key.1)] = Some(b.clone());
        }
        b
    }

    /// Drops every block that starts in the host page `page`.
    pub fn invalidate_page(&mut self, page: usize) {
        if let Some(keys) = self.by_page.remove(&page) {
            self.invalidations += 1;
            for k in keys {
                if let Some(b) = self.blocks.remove(&k) {
                    b.valid.set(false);
                }
            }
        }
    }

    pub fn clear(&mut self) {
        for b in self.blocks.values() {
            b.valid.set(false);
        }
        self.blocks.clear();
        self.by_page.clear();
        self.fast.clear();
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}
