//! Segment registers with their hidden descriptor caches, and descriptor decoding.

/// Access-rights bits, laid out as bits 8..23 of a descriptor's high dword shifted down by 8.
pub const ATTR_ACCESSED: u16 = 1 << 0;
/// Data: writable. Code: readable.
pub const ATTR_RW: u16 = 1 << 1;
/// Data: expand-down. Code: conforming.
pub const ATTR_DC: u16 = 1 << 2;
pub const ATTR_CODE: u16 = 1 << 3;
/// S: code/data (1) or system (0).
pub const ATTR_S: u16 = 1 << 4;
pub const ATTR_DPL_SHIFT: u16 = 5;
pub const ATTR_P: u16 = 1 << 7;
pub const ATTR_AVL: u16 = 1 << 12;
pub const ATTR_L: u16 = 1 << 13;
/// D/B: 32-bit default size (code) or big stack/upper bound (data).
pub const ATTR_DB: u16 = 1 << 14;
pub const ATTR_G: u16 = 1 << 15;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentCache {
    pub selector: u16,
    pub attr: u16,
    /// Byte-granular limit (already scaled by G).
    pub limit: u32,
    pub base: u64,
}

impl SegmentCache {
    /// A segment as real mode leaves it: base = selector * 16, 64 KiB, writable data.
    pub fn real_mode(selector: u16) -> Self {
        SegmentCache {
            selector,
            attr: ATTR_P | ATTR_S | ATTR_RW | ATTR_ACCESSED,
            limit: 0xFFFF,
            base: (selector as u64) << 4,
        }
    }

    /// A v8086-mode segment: like real mode, but DPL 3.
    pub fn v8086(selector: u16) -> Self {
        let mut s = Self::real_mode(selector);
        s.attr |= 3 << ATTR_DPL_SHIFT;
        s
    }

    /// A system segment (LDT/TSS) with the given type byte as after reset.
    pub fn system(type_and_present: u16) -> Self {
        SegmentCache {
            selector: 0,
            attr: type_and_present,
            limit: 0xFFFF,
            base: 0,
        }
    }

    /// Decodes a raw 8-byte descriptor.
    pub fn from_descriptor(selector: u16, raw: u64) -> Self {
        let lo = raw as u32;
        let hi = (raw >> 32) as u32;
        let base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000);
        let mut limit = (lo & 0xFFFF) | (hi & 0x000F_0000);
        let attr = ((hi >> 8) & 0xF0FF) as u16;
        if attr & ATTR_G != 0 {
            limit = (limit << 12) | 0xFFF;
        }
        SegmentCache {
            selector,
            attr,
            limit,
            base: base as u64,
        }
    }

    #[inline(always)]
    pub fn is_32bit(&self) -> bool {
        self.attr & ATTR_DB != 0
    }
    #[inline(always)]
    pub fn present(&self) -> bool {
        self.attr & ATTR_P != 0
    }
    #[inline(always)]
    pub fn dpl(&self) -> u8 {
        ((self.attr >> ATTR_DPL_SHIFT) & 3) as u8
    }
    #[inline(always)]
    pub fn rpl(&self) -> u8 {
        (self.selector & 3) as u8
    }
    /// Code or data (S=1) rather than a system descriptor.
    #[inline(always)]
    pub fn is_code_or_data(&self) -> bool {
        self.attr & ATTR_S != 0
    }
    #[inline(always)]
    pub fn is_code(&self) -> bool {
        self.is_code_or_data() && self.attr & ATTR_CODE != 0
    }
    #[inline(always)]
    pub fn is_conforming(&self) -> bool {
        self.is_code() && self.attr & ATTR_DC != 0
    }
    #[inline(always)]
    pub fn is_expand_down(&self) -> bool {
        self.is_code_or_data() && self.attr & (ATTR_CODE | ATTR_DC) == ATTR_DC
    }
    /// May be read: any data segment or a readable code segment.
    #[inline(always)]
    pub fn readable(&self) -> bool {
        self.attr & ATTR_CODE == 0 || self.attr & ATTR_RW != 0
    }
    /// May be written: a writable data segment.
    #[inline(always)]
    pub fn writable(&self) -> bool {
        self.attr & (ATTR_CODE | ATTR_RW) == ATTR_RW
    }
    /// System descriptor type (low four bits) when S=0.
    #[inline(always)]
    pub fn system_type(&self) -> u8 {
        (self.attr & 0xF) as u8
    }

    /// The valid offset range `[lo, hi]` for accesses through this segment.
    #[inline(always)]
    pub fn offset_bounds(&self) -> (u32, u32) {
        if self.is_expand_down() {
            let upper = if self.is_32bit() { u32::MAX } else { 0xFFFF };
            (self.limit.wrapping_add(1), upper)
        } else {
            (0, self.limit)
        }
    }

    /// Raw descriptor bytes that reproduce this cache (for task switches and SMM-like saves).
    pub fn to_descriptor(&self) -> u64 {
        let limit = if self.attr & ATTR_G != 0 {
            self.limit >> 12
        } else {
            self.limit
        };
        let base = self.base as u32;
        let lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16);
        let hi = ((base >> 16) & 0xFF)
            | (((self.attr as u32) & 0xF0FF) << 8)
            | (limit & 0xF_0000)
            | (base & 0xFF00_0000);
        lo as u64 | ((hi as u64) << 32)
    }
}

/// GDTR / IDTR.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescriptorTable {
    pub base: u64,
    pub limit: u32,
}

/// System descriptor types (S=0).
pub mod system_type {
    pub const TSS16_AVAILABLE: u8 = 1;
    pub const LDT: u8 = 2;
    pub const TSS16_BUSY: u8 = 3;
    pub const CALL_GATE16: u8 = 4;
    pub const TASK_GATE: u8 = 5;
    pub const INTERRUPT_GATE16: u8 = 6;
    pub const TRAP_GATE16: u8 = 7;
    pub const TSS32_AVAILABLE: u8 = 9;
    pub const TSS32_BUSY: u8 = 11;
    pub const CALL_GATE32: u8 = 12;
    pub const INTERRUPT_GATE32: u8 = 14;
    pub const TRAP_GATE32: u8 = 15;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_code_descriptor_decodes() {
        // The classic flat 4 GiB ring-0 code segment: 0x00CF9A000000FFFF.
        let s = SegmentCache::from_descriptor(0x08, 0x00CF_9A00_0000_FFFF);
        assert_eq!(s.base, 0);
        assert_eq!(s.limit, 0xFFFF_FFFF);
        assert!(s.is_code() && s.is_32bit() && s.present() && s.readable());
        assert!(!s.writable());
        assert_eq!(s.dpl(), 0);
        assert_eq!(s.to_descriptor(), 0x00CF_9A00_0000_FFFF);
    }

    #[test]
    fn expand_down_bounds() {
        // 16-bit expand-down data segment with limit 0x0FFF: valid offsets 0x1000..=0xFFFF.
        let s = SegmentCache::from_descriptor(0x10, 0x0000_9600_0000_0FFF);
        assert!(s.is_expand_down());
        assert_eq!(s.offset_bounds(), (0x1000, 0xFFFF));
    }
}
