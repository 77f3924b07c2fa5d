//! Emulated devices. Each is a plain state machine behind `emu_core::bus` traits; interrupt
//! lines, clocks and output sinks are handed in.

pub mod apic;
pub mod block;
pub mod cmos;
pub mod debug_exit;
pub mod debugcon;
pub mod ferr_latch;
pub mod floppy;
pub mod fw_cfg;
pub mod i8042;
pub mod ide;
pub mod pci;
pub mod pic;
pub mod pit;
pub mod port92;
pub mod post;
pub mod serial;
pub mod testdev;
pub mod unimp;

#[cfg(test)]
mod test_support;
pub mod vga;

pub use debug_exit::IsaDebugExit;
pub use debugcon::DebugCon;
pub use pic::DualPic;
pub use port92::SystemControlA;
pub use post::PostCard;
