//! Integration test support for Ringside: the native-execution oracle and the emulator
//! engine it is compared with.

pub mod bin_path;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod emulated;
pub mod guest;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod native;
