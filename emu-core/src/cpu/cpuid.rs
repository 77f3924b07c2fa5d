//! CPUID: a P6-class (Pentium II) model that reports only what Ringside implements.

/// Family 6, model 5, stepping 2 (Pentium II "Deschutes").
pub const SIGNATURE: u32 = 0x0000_0652;

/// Feature bits of leaf 1 EDX that Ringside implements.
pub mod feature {
    pub const FPU: u32 = 1 << 0;
    pub const VME: u32 = 1 << 1;
    pub const DE: u32 = 1 << 2;
    pub const PSE: u32 = 1 << 3;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const PAE: u32 = 1 << 6;
    pub const CX8: u32 = 1 << 8;
    pub const APIC: u32 = 1 << 9;
    pub const SEP: u32 = 1 << 11;
    pub const MTRR: u32 = 1 << 12;
    pub const PGE: u32 = 1 << 13;
    pub const CMOV: u32 = 1 << 15;
    pub const PAT: u32 = 1 << 16;
    pub const MMX: u32 = 1 << 23;
    pub const FXSR: u32 = 1 << 24;
}
