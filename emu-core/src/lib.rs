//! Ringside's core: CPU state, decoding, the interpreter, the MMU and the memory bus.
//!
//! This crate knows devices only through the bus traits in [`bus`] and execution engines only
//! through [`engine::ExecutionEngine`].

pub mod bus;
pub mod clock;
pub mod control;
pub mod cpu;
pub mod decode;
pub mod engine;
pub mod exception;
pub mod fpu;
pub mod interp;
pub mod irq;
pub mod machine;
pub mod memory;
pub mod mmu;
