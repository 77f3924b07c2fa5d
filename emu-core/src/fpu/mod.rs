//! x87 floating-point unit: register state and 80-bit extended-precision arithmetic.

pub mod float80;
pub mod state;

pub use state::{FpuState, F80};
