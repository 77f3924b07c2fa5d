//! The MMU: guest page walks and the software TLB that caches them as host memory offsets.
//!
//! The TLB is Ringside's shadow page table: a linear page maps straight to a host offset with
//! the permissions of the current privilege level, so a hit costs one compare.

pub mod tlb;
pub mod walk;

pub use tlb::{Tlb, TlbEntry};
pub use walk::{walk, Access, PageWalk};
