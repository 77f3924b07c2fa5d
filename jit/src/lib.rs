//! Ringside's dynamic binary translator: decoded guest blocks (from the interpreter's decode
//! cache) become x86-64 host code, assembled with dynasmrt into a bounded W^X code region.
//! Hot simple instructions run as native code; every other instruction calls the
//! interpreter's handler, so each instruction's semantics exist once.

mod chain;
mod code_region;
pub mod engine;
mod helpers;
mod jump_cache;
mod layout;
mod trace;
mod translate;

pub use engine::{JitEngine, JitStats, DEFAULT_CACHE_MB};
