//! Firmware: what runs before (or instead of) a guest's own boot code.

pub mod acpi;
pub mod demo;
pub mod linux;
pub mod mptable;
pub mod multiboot;
pub mod table_loader;
