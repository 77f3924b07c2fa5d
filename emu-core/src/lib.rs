//! Ringside's core: CPU state, decoding, the interpreter, the MMU and the memory bus.
//!
//! This crate knows devices only through the bus traits in [`bus`] and execution engines only
//! through [`engine::ExecutionEngine`].

pub mod cpu;
pub mod exception;
pub mod fpu;
