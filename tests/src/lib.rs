//! Integration test support for Ringside.

// Native oracle: runs snippets on the host CPU in 16/32-bit code segments
// (x86-64 Linux only), generates cases and compares outcomes.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod native;
