//! CPU architectural state.

pub mod cpuid;
pub mod flags;
pub mod segment;
pub mod state;

pub use state::CpuState;
pub mod access;
pub mod core;

pub use self::core::{Cpu, VectorEvent};
pub use crate::bus::InterruptController;
