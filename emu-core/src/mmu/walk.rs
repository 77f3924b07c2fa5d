//! Guest page-table walks: 32-bit paging with 4 KiB and 4 MiB (PSE) pages, and PAE paging
//! (SDM Vol. 3, 4.3 and 4.4). The walk sets accessed and dirty bits as hardware does and
//! produces the page-fault error code when the access is refused.

use crate::cpu::state::{CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE};
use crate::memory::PhysicalMemory;

const P: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const A: u64 = 1 << 5;
const D: u64 = 1 << 6;
const PS: u64 = 1 << 7;
const G: u64 = 1 << 8;

/// Page-fault error code bits (SDM Vol. 3, 4.7).
pub const PF_PRESENT: u32 = 1 << 0;
pub const PF_WRITE: u32 = 1 << 1;
pub const PF_USER: u32 = 1 << 2;
pub const PF_RSVD: u32 = 1 << 3;

/// Physical address bits of this P6-class model (PAE entries above this are reserved).
const MAXPHYADDR: u32 = 36;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub write: bool,
    /// CPL 3 (user) rather than supervisor.
    pub user: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageWalk {
    /// Physical address of the byte addressed (before A20 masking).
    pub phys: u64,
    /// Writes at this privilege level are allowed and the dirty bit is already set, so later
    /// writes need no walk.
    pub write_fast: bool,
    pub global: bool,
}

/// Translates `lin` for `access`, setting A/D bits. `Err` carries the #PF error code.
pub fn walk(
    mem: &mut PhysicalMemory,
    cr0: u64,
    cr3: u64,
    cr4: u64,
    lin: u32,
    access: Access,
) -> Result<PageWalk, u32> {
    let mut err = 0;
    if access.write {
        err |= PF_WRITE;
    }
    if access.user {
        err |= PF_USER;
    }
    // Each level: (entry address, entry, entry size 4 or 8).
    let mut levels: [(u64, u64, u8); 3] = [(0, 0, 0); 3];
    let mut n = 0;
    let (leaf, page_bits) = if cr4 & CR4_PAE != 0 {
        let rsvd = !0u64 << MAXPHYADDR;
        let pdpte_addr = (cr3 & 0xFFFF_FFE0) + ((lin >> 30) as u64) * 8;
        let pdpte = mem.read_u64(pdpte_addr);
        if pdpte & P == 0 {
            return Err(err);
        }
        // PDPTE bits 1,2,5-8 are reserved in PAE mode as well.
        if pdpte & (rsvd | 0x1E6) != 0 {
            return Err(err | PF_PRESENT | PF_RSVD);
        }
        let pde_addr = (pdpte & 0x000F_FFFF_FFFF_F000) + (((lin >> 21) & 0x1FF) as u64) * 8;
        let pde = mem.read_u64(pde_addr);
        if pde & P == 0 {
            return Err(err);
        }
        levels[n] = (pde_addr, pde, 8);
        n += 1;
        if pde & PS != 0 {
            if pde & (rsvd | 0x001F_E000) != 0 {
                return Err(err | PF_PRESENT | PF_RSVD);
            }
            (pde, 21)
        } else {
            if pde & rsvd != 0 {
                return Err(err | PF_PRESENT | PF_RSVD);
            }
            let pte_addr = (pde & 0x000F_FFFF_FFFF_F000) + (((lin >> 12) & 0x1FF) as u64) * 8;
            let pte = mem.read_u64(pte_addr);
            if pte & P == 0 {
                return Err(err);
            }
            if pte & rsvd != 0 {
                return Err(err | PF_PRESENT | PF_RSVD);
            }
            levels[n] = (pte_addr, pte, 8);
            n += 1;
            (pte, 12)
        }
    } else {
        let pde_addr = (cr3 & 0xFFFF_F000) + ((lin >> 22) as u64) * 4;
        let pde = mem.read_u32(pde_addr) as u64;
        if pde & P == 0 {
            return Err(err);
        }
        levels[n] = (pde_addr, pde, 4);
        n += 1;
        if pde & PS != 0 && cr4 & CR4_PSE != 0 {
            // Without PSE-36, bits 13..=21 of a 4 MiB PDE are reserved (SDM Vol. 3, Table 4-5).
            if pde & 0x003F_E000 != 0 {
                return Err(err | PF_PRESENT | PF_RSVD);
            }
            (pde, 22)
        } else {
            let pte_addr = (pde & 0xFFFF_F000) + (((lin >> 12) & 0x3FF) as u64) * 4;
            let pte = mem.read_u32(pte_addr) as u64;
            if pte & P == 0 {
                return Err(err);
            }
            levels[n] = (pte_addr, pte, 4);
            n += 1;
            (pte, 12)
        }
    };
    let all = levels[..n].iter().fold(RW | US, |acc, l| acc & l.1);
    let user_ok = all & US != 0;
    let write_ok = all & RW != 0;
    if access.user && !user_ok {
        return Err(err | PF_PRESENT);
    }
    let may_write = if access.user {
        write_ok
    } else {
        write_ok || cr0 & CR0_WP == 0
    };
    if access.write && !may_write {
        return Err(err | PF_PRESENT);
    }
    // Accessed bits on every level; dirty on the leaf for writes (SDM Vol. 3, 4.8).
    for (i, &(addr, entry, size)) in levels[..n].iter().enumerate() {
        let is_leaf = i == n - 1;
        let mut new = entry | A;
        if is_leaf && access.write {
            new |= D;
        }
        if new != entry {
            if size == 8 {
                mem.write_bytes(addr, &new.to_le_bytes());
            } else {
                mem.write_u32(addr, new as u32);
            }
        }
    }
    let dirty = access.write || leaf & D != 0;
    let frame_mask = if page_bits == 12 {
        0x000F_FFFF_FFFF_F000
    } else {
        0x000F_FFFF_FFFF_F000 & !((1u64 << page_bits) - 1)
    };
    let phys = (leaf & frame_mask) | (lin as u64 & ((1u64 << page_bits) - 1));
    Ok(PageWalk {
        phys,
        write_fast: may_write && dirty,
        global: leaf & G != 0 && cr4 & CR4_PGE != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::state::CR0_PG;

    const CR0: u64 = CR0_PG | 1;

    fn mem() -> PhysicalMemory {
        PhysicalMemory::new(4 << 20, &[0; 4096]).unwrap()
    }

    #[test]
    fn four_k_page_sets_accessed_then_dirty() {
        let mut m = mem();
        m.write_u32(0x1000 + 4, 0x2000 | 7); // PDE for 0x0040_0000
        m.write_u32(0x2000 + 20, 0x0003_0000 | 7); // PTE for 0x0040_5000
        let r = walk(
            &mut m,
            CR0,
            0x1000,
            0,
            0x0040_5123,
            Access {
                write: false,
                user: true,
            },
        );
        assert_eq!(r.unwrap().phys, 0x0003_0123);
        assert!(!r.unwrap().write_fast);
        assert_eq!(m.read_u32(0x2000 + 20) & 0x60, 0x20);
        let w = walk(
            &mut m,
            CR0,
            0x1000,
            0,
            0x0040_5123,
            Access {
                write: true,
                user: true,
            },
        );
        assert!(w.unwrap().write_fast);
        assert_eq!(m.read_u32(0x2000 + 20) & 0x60, 0x60);
        assert_eq!(m.read_u32(0x1000 + 4) & 0x60, 0x20, "PDE gets A, never D");
    }

    #[test]
    fn fault_codes() {
        let mut m = mem();
        let user_read = Access {
            write: false,
            user: true,
        };
        let user_write = Access {
            write: true,
            user: true,
        };
        let sup_write = Access {
            write: true,
            user: false,
        };
        // Not present PDE.
        assert_eq!(
            walk(&mut m, CR0, 0x1000, 0, 0x1000, user_write),
            Err(PF_WRITE | PF_USER)
        );
        // Supervisor-only, read-only page.
        m.write_u32(0x1000, 0x2000 | 7);
        m.write_u32(0x2000, 0x5000 | 1);
        assert_eq!(
            walk(&mut m, CR0, 0x1000, 0, 0x0, user_read),
            Err(PF_PRESENT | PF_USER)
        );
        // Ring 0 may write a read-only page unless CR0.WP.
        assert!(walk(&mut m, CR0, 0x1000, 0, 0x0, sup_write).is_ok());
        assert_eq!(
            walk(&mut m, CR0 | CR0_WP, 0x1000, 0, 0x0, sup_write),
            Err(PF_PRESENT | PF_WRITE)
        );
    }

    #[test]
    fn pse_and_global() {
        let mut m = mem();
        // 4 MiB page at 0xC0000000 -> 0x00400000, global.
        m.write_u32(0x1000 + 4 * 0x300, 0x0040_0000 | 0x183);
        let acc = Access {
            write: false,
            user: false,
        };
        let r = walk(&mut m, CR0, 0x1000, CR4_PSE | CR4_PGE, 0xC012_3456, acc).unwrap();
        assert_eq!(r.phys, 0x0052_3456);
        assert!(r.global);
        // Without CR4.PSE the PS bit is ignored and the entry is a page table pointer.
        let r = walk(&mut m, CR0, 0x1000, 0, 0xC012_3456, acc);
        assert!(r.is_err() || r.unwrap().phys != 0x0052_3456);
    }

    #[test]
    fn pae_three_levels_and_reserved_bits() {
        let mut m = mem();
        let acc = Access {
            write: true,
            user: false,
        };
        m.write_bytes(0x1000, &(0x2000u64 | 1).to_le_bytes()); // PDPTE 0
        m.write_bytes(0x2000 + 8 * 2, &(0x3000u64 | 3).to_le_bytes()); // PDE for 0x0040_0000
        m.write_bytes(0x3000 + 8, &(0x0007_0000u64 | 3).to_le_bytes());
        let r = walk(&mut m, CR0, 0x1000, CR4_PAE, 0x0040_1010, acc).unwrap();
        assert_eq!(r.phys, 0x0007_0010);
        // Bit 63 (XD) is reserved on a part without NX.
        m.write_bytes(0x3000 + 8, &(0x8000_0000_0007_0003u64).to_le_bytes());
        assert_eq!(
            walk(&mut m, CR0, 0x1000, CR4_PAE, 0x0040_1010, acc),
            Err(PF_PRESENT | PF_WRITE | PF_RSVD)
        );
    }
}
