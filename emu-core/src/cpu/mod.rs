//! CPU architectural state.

pub mod cpuid;
pub mod flags;
pub mod segment;
pub mod state;

pub use state::CpuState;
