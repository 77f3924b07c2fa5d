//! The interpreter: one handler per instruction, chosen at decode time from `table.rs`.

pub mod alu;
pub mod debug;
pub mod exec;
pub mod far;
pub mod gates;
pub mod interrupt;
pub mod operand;
pub mod ops_alu;
pub mod ops_bit;
pub mod ops_control;
pub mod ops_data;
pub mod ops_shift;
pub mod ops_string;
pub mod ops_system;
pub mod pmode_interrupt;
pub mod segments;
pub mod table;
pub mod task;
pub mod x87;

pub use exec::{NextBlock, StopReason};
