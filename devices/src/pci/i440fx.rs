//! Intel 82441FX PCI and memory controller (the i440FX host bridge, 00:00.0).
//!
//! Modelled registers: the PAM (programmable attribute map) registers 0x59-0x5F, which
//! decide whether reads and writes in 0xC0000-0xFFFFF go to the ROM/bus or to shadow RAM,
//! and SMRAM control (0x72), which is stored with its lock semantics but does not map
//! anything (no SMM). Every PAM write that changes a range's mode is forwarded to the
//! machine through [`MachineControl::request_shadow`].

use std::sync::Arc;

use emu_core::control::{MachineControl, ShadowChange, ShadowMode};

use super::config::{ConfigSpace, PciId};
use super::PciFunction;

pub const VENDOR: u16 = 0x8086;
pub const DEVICE: u16 = 0x1237;

/// PAM0; PAM0-PAM6 are 0x59-0x5F.
pub const PAM0: u8 = 0x59;
pub const SMRAM: u8 = 0x72;

/// SMRAM control bits (82441FX data sheet, 3.2.19).
const SMRAM_G_SMRAME: u8 = 0x08;
const SMRAM_D_LCK: u8 = 0x10;
const SMRAM_D_OPEN: u8 = 0x40;
/// C_BASE_SEG: hardwired 010 (SMRAM at 0xA0000).
const SMRAM_DEFAULT: u8 = 0x02;

/// The 13 PAM-controlled ranges: (start, length, register, high nibble?).
const PAM_RANGES: [(u32, u32, u8, bool); 13] = [
    (0xF0000, 0x10000, 0x59, true),
    (0xC0000, 0x4000, 0x5A, false),
    (0xC4000, 0x4000, 0x5A, true),
    (0xC8000, 0x4000, 0x5B, false),
    (0xCC000, 0x4000, 0x5B, true),
    (0xD0000, 0x4000, 0x5C, false),
    (0xD4000, 0x4000, 0x5C, true),
    (0xD8000, 0x4000, 0x5D, false),
    (0xDC000, 0x4000, 0x5D, true),
    (0xE0000, 0x4000, 0x5E, false),
    (0xE4000, 0x4000, 0x5E, true),
    (0xE8000, 0x4000, 0x5F, false),
    (0xEC000, 0x4000, 0x5F, true),
];

/// A PAM nibble's RE (bit 0) and WE (bit 1) as a shadow mode.
pub fn pam_mode(nibble: u8) -> ShadowMode {
    match nibble & 3 {
        0 => ShadowMode::Rom,
        1 => ShadowMode::RamReadOnly,
        2 => ShadowMode::RamWriteOnly,
        _ => ShadowMode::RamReadWrite,
    }
}

/// Saveable state: the configuration bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I440fxState {
    pub config: [u8; 256],
}

pub struct I440fx {
    cfg: ConfigSpace,
    control: Arc<MachineControl>,
}

impl I440fx {
    pub fn new(control: Arc<MachineControl>) -> Self {
        let mut cfg = ConfigSpace::new(PciId {
            vendor: VENDOR,
            device: DEVICE,
            class: 0x0600,
            prog_if: 0,
            revision: 0x02,
            header_type: 0,
        });
        cfg.set_word(super::config::COMMAND, 0x0006);
        cfg.set_word(super::config::STATUS, 0x0280);
        // PAM0's low nibble is reserved.
        cfg.set_wmask(PAM0, 1, 0x30);
        cfg.set_wmask(PAM0 + 1, 4, 0x3333_3333);
        cfg.set_wmask(PAM0 + 5, 2, 0x3333);
        cfg.set_byte(SMRAM, SMRAM_DEFAULT);
        cfg.set_wmask(SMRAM, 1, 0); // handled by hand
        I440fx { cfg, control }
    }

    /// Back to power-on values, asking the machine to unmap any shadow RAM that was on.
    pub fn reset(&mut self) {
        let old = self.modes();
        let control = self.control.clone();
        *self = I440fx::new(control);
        self.request_changes(&old);
    }

    pub fn config(&self) -> &ConfigSpace {
        &self.cfg
    }

    /// PAM register `n` (0-6).
    pub fn pam(&self, n: usize) -> u8 {
        self.cfg.byte(PAM0 + n as u8)
    }

    pub fn smram(&self) -> u8 {
        self.cfg.byte(SMRAM)
    }

    fn modes(&self) -> [ShadowMode; 13] {
        PAM_RANGES.map(|(_, _, reg, high)| {
            let v = self.cfg.byte(reg);
            pam_mode(if high { v >> 4 } else { v })
        })
    }

    /// The whole window as merged changes (for a machine rebuilding its memory map).
    pub fn shadow_map(&self) -> Vec<ShadowChange> {
        merge(self.modes().iter().copied().map(Some))
    }

    /// Requests the ranges whose mode differs from `old`, adjacent ones merged.
    fn request_changes(&self, old: &[ShadowMode; 13]) {
        let new = self.modes();
        let changed = (0..13).map(|i| (new[i] != old[i]).then_some(new[i]));
        for change in merge(changed) {
            self.control.request_shadow(change);
        }
    }

    pub fn state(&self) -> I440fxState {
        I440fxState {
            config: self.cfg.data,
        }
    }

    /// Restores the registers and asks the machine to apply the whole shadow map.
    pub fn restore(&mut self, s: I440fxState) {
        self.cfg.data = s.config;
        for change in self.shadow_map() {
            self.control.request_shadow(change);
        }
    }

    fn write_smram(&mut self, v: u8) {
        let old = self.smram();
        let new = if old & SMRAM_D_LCK != 0 {
            // Locked until reset: only G_SMRAME changes, D_OPEN stays clear.
            (old & !SMRAM_G_SMRAME) | (v & SMRAM_G_SMRAME)
        } else {
            let mut n = (v & 0x78) | SMRAM_DEFAULT;
            if n & SMRAM_D_LCK != 0 {
                n &= !SMRAM_D_OPEN;
            }
            n
        };
        self.cfg.set_byte(SMRAM, new);
    }
}

/// Merges per-range `Some(mode)` entries into runs of contiguous ranges with one mode, in
/// address order (0xEC000-0xEFFFF runs on into 0xF0000).
fn merge(entries: impl Iterator<Item = Option<ShadowMode>>) -> Vec<ShadowChange> {
    let mut items: Vec<(u32, u32, ShadowMode)> = PAM_RANGES
        .iter()
        .zip(entries)
        .filter_map(|(&(start, len, _, _), m)| m.map(|m| (start, len, m)))
        .collect();
    items.sort_by_key(|&(start, _, _)| start);
    let mut out: Vec<ShadowChange> = Vec::new();
    for (start, len, mode) in items {
        match out.last_mut() {
            Some(last) if last.mode == mode && last.start + last.len == start => last.len += len,
            _ => out.push(ShadowChange { start, len, mode }),
        }
    }
    out
}

impl PciFunction for I440fx {
    fn config_read(&mut self, reg: u8, size: u8) -> u32 {
        self.cfg.read(reg, size)
    }

    fn config_write(&mut self, reg: u8, size: u8, value: u32) {
        let old = self.modes();
        self.cfg.write(reg, size, value);
        let end = reg as u32 + size as u32;
        if (reg as u32) <= SMRAM as u32 && end > SMRAM as u32 {
            self.write_smram((value >> (8 * (SMRAM - reg))) as u8);
        }
        if (reg as u32) < PAM0 as u32 + 7 && end > PAM0 as u32 {
            self.request_changes(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_joins_e_and_f_segments() {
        let m = merge((0..13).map(|i| (i == 0 || i == 12).then_some(ShadowMode::RamReadOnly)));
        assert_eq!(
            m,
            vec![ShadowChange {
                start: 0xEC000,
                len: 0x14000,
                mode: ShadowMode::RamReadOnly
            }]
        );
    }

    #[test]
    fn smram_lock() {
        let mut h = I440fx::new(Arc::new(MachineControl::new()));
        h.config_write(SMRAM, 1, 0x4A);
        assert_eq!(h.smram(), 0x4A);
        h.config_write(SMRAM, 1, 0x1A | 0x40);
        assert_eq!(h.smram(), 0x1A, "locking closes D_OPEN");
        h.config_write(SMRAM, 1, 0x42);
        assert_eq!(h.smram(), 0x12, "locked: only G_SMRAME writable");
    }
}
