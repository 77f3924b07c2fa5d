//! QEMU's firmware configuration device ("fw_cfg") as the i440FX PC has it and SeaBIOS reads
//! it: port 0x510 selects an item (16-bit write, little-endian), port 0x511 streams the
//! selected item's bytes (each byte read advances an offset; reads past the end return 0).
//!
//! Only the traditional port interface is modelled: `FW_CFG_ID` reports 1 (no DMA bit), so
//! firmware never uses the DMA address register at 0x514, which is not claimed.
//!
//! Items are addressed by 16-bit keys. Bit 15 (`ARCH_LOCAL`) selects the architecture's own
//! table, bit 14 (the old write channel) is ignored, and the low 14 bits index the table, which
//! holds the well-known items 0x00-0x1F and `FILE_SLOTS` (32) file slots from 0x20. Selecting
//! an index beyond the last file slot selects nothing (reads give 0). Any selection, valid or
//! not, resets the offset to 0. Reset selects the signature.
//!
//! Files are named items listed in the file directory (key 0x19): a big-endian count followed
//! by one 64-byte entry per file (`size` u32 BE, `select` u16 BE, reserved u16, `name[56]`
//! NUL-padded). As on current QEMU machine types the files are kept sorted by name and numbered
//! 0x20, 0x21, ... in that order, so adding a file whose name sorts before existing ones moves
//! their keys up; `file_key` gives a file's current key. The directory item is sized for all 32
//! slots (4 + 32 * 64 bytes, unused entries zero), as QEMU's is.
//!
//! Port access sizes follow QEMU's combined I/O region: byte reads of either port read data; a
//! 16-bit write to either port selects; byte writes (the data write path QEMU removed in 2.4)
//! and other sizes are ignored; reads wider than a byte are invalid there and return 0 without
//! advancing the offset.

use std::collections::BTreeMap;

use emu_core::bus::PortDevice;

/// The selector port (16-bit writes).
pub const FW_CFG_SELECTOR_PORT: u16 = 0x510;
/// The data port (8-bit reads).
pub const FW_CFG_DATA_PORT: u16 = 0x511;
/// The ports the device decodes (no DMA register).
pub const FW_CFG_PORTS: [u16; 2] = [FW_CFG_SELECTOR_PORT, FW_CFG_DATA_PORT];

// Generic keys.
pub const FW_CFG_SIGNATURE: u16 = 0x00;
pub const FW_CFG_ID: u16 = 0x01;
pub const FW_CFG_UUID: u16 = 0x02;
pub const FW_CFG_RAM_SIZE: u16 = 0x03;
pub const FW_CFG_NOGRAPHIC: u16 = 0x04;
pub const FW_CFG_NB_CPUS: u16 = 0x05;
pub const FW_CFG_NUMA: u16 = 0x0d;
pub const FW_CFG_BOOT_MENU: u16 = 0x0e;
pub const FW_CFG_MAX_CPUS: u16 = 0x0f;
pub const FW_CFG_FILE_DIR: u16 = 0x19;
/// Key of the first file slot.
pub const FW_CFG_FILE_FIRST: u16 = 0x20;
/// Number of file slots (QEMU's default `x-file-slots`).
pub const FW_CFG_FILE_SLOTS: u16 = 0x20;

// x86 keys (arch-local table).
pub const FW_CFG_ARCH_LOCAL: u16 = 0x8000;
pub const FW_CFG_ACPI_TABLES: u16 = FW_CFG_ARCH_LOCAL;
pub const FW_CFG_SMBIOS_ENTRIES: u16 = FW_CFG_ARCH_LOCAL + 1;
pub const FW_CFG_IRQ0_OVERRIDE: u16 = FW_CFG_ARCH_LOCAL + 2;
pub const FW_CFG_E820_TABLE: u16 = FW_CFG_ARCH_LOCAL + 3;
pub const FW_CFG_HPET: u16 = FW_CFG_ARCH_LOCAL + 4;

/// `FW_CFG_ID` bit: the traditional port interface (the only one offered).
const VERSION_TRADITIONAL: u32 = 0x01;
/// Bits of a key that index a table.
const ENTRY_MASK: u16 = 0x3FFF;
/// Exclusive limit of a table index.
const MAX_ENTRY: u16 = FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS;
/// Bytes in one directory entry, and of its name field (NUL included).
const DIR_ENTRY_SIZE: usize = 64;
const FILE_NAME_SIZE: usize = 56;

/// e820 entry types.
const E820_RAM: u32 = 1;
/// Entries in QEMU's fixed-size legacy reservation table (`FW_CFG_E820_TABLE`).
const LEGACY_E820_ENTRIES: usize = 16;
/// Bytes in one packed e820 entry (u64 address, u64 length, u32 type).
const E820_ENTRY_SIZE: usize = 20;
const FOUR_GIB: u64 = 1 << 32;

/// Saveable (guest-mutable) state: the item contents are configuration, rebuilt by the
/// front end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FwCfgState {
    /// The key last written to the selector, or `None` if it was out of range.
    pub selector: Option<u16>,
    /// Next byte of the selected item the data port returns.
    pub offset: u32,
}

/// The fw_cfg device: items by key, files, and the current selection.
pub struct FwCfg {
    /// Non-file items, by key with the write-channel bit cleared.
    items: BTreeMap<u16, Vec<u8>>,
    /// Files sorted by name; file `i` has key `FW_CFG_FILE_FIRST + i`.
    files: Vec<(String, Vec<u8>)>,
    /// The directory item, rebuilt whenever a file is added.
    dir: Vec<u8>,
    s: FwCfgState,
}

impl Default for FwCfg {
    fn default() -> Self {
        Self::new()
    }
}

impl FwCfg {
    /// An empty device (not even the signature) with the signature key selected. The
    /// directory item exists from the start, listing no files.
    pub fn new() -> Self {
        let mut f = FwCfg {
            items: BTreeMap::new(),
            files: Vec::new(),
            dir: Vec::new(),
            s: FwCfgState {
                selector: Some(FW_CFG_SIGNATURE),
                offset: 0,
            },
        };
        f.rebuild_dir();
        f
    }

    /// The device QEMU's i440FX machine presents to SeaBIOS (TCG, no HPET, no ACPI or SMBIOS
    /// tables of its own, no kernel), for `ram_below_4g` bytes of RAM from address 0 and
    /// `ram_above_4g` bytes from 4 GiB (the front end splits RAM as QEMU's `pc_init1` does,
    /// see `cmos::split_ram`), `cpus` CPUs (all present at boot, also the APIC ID limit) and
    /// the boot device paths `boot_order` (OpenFirmware paths as QEMU's `bootindex` produces,
    /// first tried first).
    ///
    /// Items:
    /// - 0x00 signature "QEMU"; 0x01 ID 1 (u32); 0x02 UUID, 16 zero bytes;
    /// - 0x03 RAM size (u64): the whole RAM, below plus above 4 GiB (QEMU stores
    ///   `ms->ram_size`; SeaBIOS itself takes the sizes from CMOS and `etc/e820`);
    /// - 0x04 nographic 0 (u16, a display is present); 0x0e boot menu 0 (u16: no `-boot
    ///   menu=on`, so SeaBIOS shows no F12 menu; it reads this as `etc/show-boot-menu`);
    /// - 0x05 NB_CPUS and 0x0f MAX_CPUS (u16; SeaBIOS reads the latter as `etc/max-cpus`);
    /// - 0x0d NUMA: node count 0, one zero node number per CPU, no node sizes (u64 each);
    /// - 0x8000 ACPI tables: empty (no `-acpitable`; SeaBIOS reads a count of 0);
    /// - 0x8002 IRQ0 override 1 (u32; SeaBIOS's `etc/irq0-override`, the MADT entry
    ///   mapping ISA IRQ 0 to GSI 2);
    /// - 0x8003 legacy e820 table: QEMU's fixed-size reservation table as older QEMU
    ///   provided it (u32 count, then 16 packed 20-byte entries), count 0 because the machine
    ///   reserves nothing (QEMU only reserves the KVM TSS/identity-map pages). SeaBIOS reads
    ///   it only when `etc/e820` is missing; current QEMU no longer provides it.
    /// - 0x8004 HPET: absent (QEMU has an "unset" record there; only old ACPI builders read it).
    ///
    /// Files (names as SeaBIOS looks them up):
    /// - `etc/e820`: the memory map SeaBIOS adds to its own (RAM 0..`ram_below_4g` and
    ///   4 GiB..4 GiB+`ram_above_4g`, type 1, packed {u64 address, u64 length, u32 type} LE);
    /// - `etc/boot-fail-wait`: u32 0xFFFF_FFFF, QEMU's default (`-boot reboot-timeout`
    ///   unset): after "No bootable device." SeaBIOS waits forever instead of rebooting
    ///   after its own 60 s default;
    /// - `etc/boot-cpus`: u16 `cpus`, how many CPUs SeaBIOS waits for at SMP bring-up (it
    ///   falls back to CMOS 0x5F + 1 when absent);
    /// - `bootorder`: the paths joined by newlines and NUL-terminated; omitted when
    ///   `boot_order` is empty (SeaBIOS then keeps its default order).
    ///
    /// The machine adds `etc/table-loader` and `etc/acpi/*` (firmware::table_loader) so
    /// SeaBIOS installs our ACPI tables and moves the PM base to 0x600, as on QEMU.
    ///
    /// Not provided (SeaBIOS's defaults apply): `etc/boot-menu-wait` (QEMU adds it only for
    /// `-boot splash-time`), `etc/smbios/*` (SeaBIOS builds its own
    /// SMBIOS), `etc/msr_feature_control`, `etc/reserved-memory-end` (no memory hotplug),
    /// `etc/extra-pci-roots`, `bios-geometry`, option ROM files (`genroms/*`, `vgaroms/*`).
    pub fn pc(ram_below_4g: u64, ram_above_4g: u64, cpus: u16, boot_order: &[&str]) -> Self {
        let mut f = FwCfg::new();
        f.add_item(FW_CFG_SIGNATURE, b"QEMU".to_vec());
        f.add_item(FW_CFG_ID, VERSION_TRADITIONAL.to_le_bytes().to_vec());
        f.add_item(FW_CFG_UUID, vec![0; 16]);
        f.add_item(FW_CFG_NOGRAPHIC, 0u16.to_le_bytes().to_vec());
        f.add_item(FW_CFG_BOOT_MENU, 0u16.to_le_bytes().to_vec());
        f.add_file("etc/boot-fail-wait", u32::MAX.to_le_bytes().to_vec());

        f.add_item(FW_CFG_NB_CPUS, cpus.to_le_bytes().to_vec());
        f.add_item(FW_CFG_MAX_CPUS, cpus.to_le_bytes().to_vec());
        f.add_item(
            FW_CFG_RAM_SIZE,
            (ram_below_4g + ram_above_4g).to_le_bytes().to_vec(),
        );
        f.add_item(FW_CFG_ACPI_TABLES, Vec::new());
        f.add_item(FW_CFG_IRQ0_OVERRIDE, 1u32.to_le_bytes().to_vec());
        f.add_item(
            FW_CFG_E820_TABLE,
            vec![0; 4 + LEGACY_E820_ENTRIES * E820_ENTRY_SIZE],
        );
        f.add_file("etc/e820", e820_table(ram_below_4g, ram_above_4g));
        // Node count, then per CPU (APIC ID) its node, then per node its size; no nodes.
        f.add_item(FW_CFG_NUMA, vec![0; 8 * (1 + cpus as usize)]);
        f.add_file("etc/boot-cpus", cpus.to_le_bytes().to_vec());

        if !boot_order.is_empty() {
            let mut order = boot_order.join("\n").into_bytes();
            order.push(0);
            f.add_file("bootorder", order);
        }
        f
    }

    /// Sets item `key` (bit 14 ignored), replacing what was there. File keys (the directory
    /// and the file slots of the generic table) belong to `add_file`; `key` must be below
    /// 0x40 in either table.
    pub fn add_item(&mut self, key: u16, data: Vec<u8>) {
        let key = key & !(ENTRY_MASK + 1);
        let index = key & ENTRY_MASK;
        assert!(index < MAX_ENTRY, "fw_cfg key {key:#x} out of range");
        assert!(
            key & FW_CFG_ARCH_LOCAL != 0 || (index != FW_CFG_FILE_DIR && index < FW_CFG_FILE_FIRST),
            "fw_cfg key {key:#x} is reserved for files"
        );
        assert!(data.len() < u32::MAX as usize);
        self.items.insert(key, data);
    }

    /// Adds file `name` (at most 55 bytes, no NUL) to the directory, or replaces the contents
    /// of the file of that name. Returns its key, valid until a file whose name sorts before
    /// it is added (see `file_key`). At most `FW_CFG_FILE_SLOTS` files.
    pub fn add_file(&mut self, name: &str, data: Vec<u8>) -> u16 {
        assert!(
            !name.is_empty() && name.len() < FILE_NAME_SIZE && !name.contains('\0'),
            "bad fw_cfg file name {name:?}"
        );
        assert!(data.len() < u32::MAX as usize);
        let index = match self.files.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => {
                self.files[i].1 = data;
                i
            }
            Err(i) => {
                assert!(
                    self.files.len() < FW_CFG_FILE_SLOTS as usize,
                    "fw_cfg file slots exhausted"
                );
                self.files.insert(i, (name.to_string(), data));
                i
            }
        };
        self.rebuild_dir();
        FW_CFG_FILE_FIRST + index as u16
    }

    /// The current key of file `name`.
    pub fn file_key(&self, name: &str) -> Option<u16> {
        self.files
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| FW_CFG_FILE_FIRST + i as u16)
    }

    /// The contents of item `key`, if it exists (files included).
    pub fn item(&self, key: u16) -> Option<&[u8]> {
        let index = key & ENTRY_MASK;
        if key & FW_CFG_ARCH_LOCAL == 0 {
            if index == FW_CFG_FILE_DIR {
                return Some(&self.dir);
            }
            if index >= FW_CFG_FILE_FIRST {
                let file = (index - FW_CFG_FILE_FIRST) as usize;
                return self.files.get(file).map(|(_, d)| d.as_slice());
            }
        }
        self.items
            .get(&(key & (FW_CFG_ARCH_LOCAL | ENTRY_MASK)))
            .map(Vec::as_slice)
    }

    /// Writes `key` to the selector: selects it (or nothing, when out of range) and rewinds.
    pub fn select(&mut self, key: u16) {
        self.s.offset = 0;
        self.s.selector = ((key & ENTRY_MASK) < MAX_ENTRY).then_some(key);
    }

    /// Device reset: the signature is selected.
    pub fn reset(&mut self) {
        self.select(FW_CFG_SIGNATURE);
    }

    /// One byte from the data port.
    pub fn read_data(&mut self) -> u8 {
        let offset = self.s.offset as usize;
        let byte = self
            .s
            .selector
            .and_then(|key| self.item(key))
            .and_then(|data| data.get(offset).copied());
        match byte {
            Some(b) => {
                self.s.offset += 1;
                b
            }
            None => 0,
        }
    }

    pub fn state(&self) -> FwCfgState {
        self.s
    }

    pub fn restore(&mut self, s: FwCfgState) {
        self.s = s;
    }

    fn rebuild_dir(&mut self) {
        let mut dir = vec![0; 4 + DIR_ENTRY_SIZE * FW_CFG_FILE_SLOTS as usize];
        dir[..4].copy_from_slice(&(self.files.len() as u32).to_be_bytes());
        for (i, (name, data)) in self.files.iter().enumerate() {
            let e = &mut dir[4 + i * DIR_ENTRY_SIZE..4 + (i + 1) * DIR_ENTRY_SIZE];
            e[0..4].copy_from_slice(&(data.len() as u32).to_be_bytes());
            e[4..6].copy_from_slice(&(FW_CFG_FILE_FIRST + i as u16).to_be_bytes());
            e[8..8 + name.len()].copy_from_slice(name.as_bytes());
        }
        self.dir = dir;
    }
}

/// The `etc/e820` contents: low RAM as one entry from 0, then RAM above 4 GiB if any.
fn e820_table(ram_below_4g: u64, ram_above_4g: u64) -> Vec<u8> {
    let mut t = Vec::new();
    let mut entry = |address: u64, length: u64, kind: u32| {
        t.extend_from_slice(&address.to_le_bytes());
        t.extend_from_slice(&length.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
    };
    entry(0, ram_below_4g, E820_RAM);
    if ram_above_4g > 0 {
        entry(FOUR_GIB, ram_above_4g, E820_RAM);
    }
    t
}

impl PortDevice for FwCfg {
    fn read(&mut self, _port: u16, size: u8) -> u32 {
        if size == 1 {
            self.read_data() as u32
        } else {
            0
        }
    }

    fn write(&mut self, _port: u16, size: u8, value: u32) {
        if size == 2 {
            self.select(value as u16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmos::split_ram;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn select(f: &mut FwCfg, key: u16) {
        f.write(0x510, 2, key as u32);
    }

    fn read_bytes(f: &mut FwCfg, n: usize) -> Vec<u8> {
        (0..n).map(|_| f.read(0x511, 1) as u8).collect()
    }

    fn read_item(f: &mut FwCfg, key: u16, n: usize) -> Vec<u8> {
        select(f, key);
        read_bytes(f, n)
    }

    fn pc_128m() -> FwCfg {
        FwCfg::pc(128 * MIB, 0, 1, &[])
    }

    /// (address, length, type) entries of an e820 blob.
    fn e820_entries(data: &[u8]) -> Vec<(u64, u64, u32)> {
        assert_eq!(data.len() % 20, 0);
        data.chunks(20)
            .map(|e| {
                (
                    u64::from_le_bytes(e[0..8].try_into().unwrap()),
                    u64::from_le_bytes(e[8..16].try_into().unwrap()),
                    u32::from_le_bytes(e[16..20].try_into().unwrap()),
                )
            })
            .collect()
    }

    /// (size, select, name) entries of the directory read through the ports.
    fn directory(f: &mut FwCfg) -> Vec<(u32, u16, String)> {
        select(f, FW_CFG_FILE_DIR);
        let count = u32::from_be_bytes(read_bytes(f, 4).try_into().unwrap());
        (0..count)
            .map(|_| {
                let e = read_bytes(f, 64);
                let size = u32::from_be_bytes(e[0..4].try_into().unwrap());
                let key = u16::from_be_bytes(e[4..6].try_into().unwrap());
                assert_eq!(&e[6..8], &[0, 0]);
                let name = &e[8..];
                let len = name.iter().position(|&b| b == 0).unwrap();
                assert!(name[len..].iter().all(|&b| b == 0));
                (size, key, String::from_utf8(name[..len].to_vec()).unwrap())
            })
            .collect()
    }

    #[test]
    fn signature_reads_byte_by_byte() {
        let mut f = pc_128m();
        // Selected at power-on.
        assert_eq!(read_bytes(&mut f, 4), b"QEMU");
        select(&mut f, FW_CFG_SIGNATURE);
        for &c in b"QEMU" {
            assert_eq!(f.read(0x511, 1), c as u32);
        }
        // Byte reads of the selector port read data too (QEMU's combined region).
        select(&mut f, FW_CFG_SIGNATURE);
        assert_eq!(f.read(0x510, 1), b'Q' as u32);
        // Wider reads are invalid: 0, and the offset stays.
        assert_eq!(f.read(0x511, 2), 0);
        assert_eq!(f.read(0x511, 1), b'E' as u32);
    }

    #[test]
    fn id_is_traditional_interface_only() {
        let mut f = pc_128m();
        assert_eq!(read_item(&mut f, FW_CFG_ID, 4), [1, 0, 0, 0]);
        assert_eq!(read_item(&mut f, FW_CFG_UUID, 16), [0; 16]);
    }

    #[test]
    fn scalar_items() {
        let mut f = FwCfg::pc(3 * GIB, 2 * GIB, 4, &[]);
        // RAM size is the whole RAM, as QEMU stores ms->ram_size.
        let ram = read_item(&mut f, FW_CFG_RAM_SIZE, 8);
        assert_eq!(u64::from_le_bytes(ram.try_into().unwrap()), 5 * GIB);
        assert_eq!(read_item(&mut f, FW_CFG_NB_CPUS, 2), [4, 0]);
        assert_eq!(read_item(&mut f, FW_CFG_MAX_CPUS, 2), [4, 0]);
        assert_eq!(read_item(&mut f, FW_CFG_NOGRAPHIC, 2), [0, 0]);
        assert_eq!(read_item(&mut f, FW_CFG_BOOT_MENU, 2), [0, 0]);
        assert_eq!(read_item(&mut f, FW_CFG_IRQ0_OVERRIDE, 4), [1, 0, 0, 0]);
        assert_eq!(f.item(FW_CFG_NUMA), Some(&[0u8; 40][..]));
        assert_eq!(f.item(FW_CFG_ACPI_TABLES), Some(&[][..]));
        assert_eq!(read_item(&mut f, FW_CFG_ACPI_TABLES, 2), [0, 0]);
        assert_eq!(f.item(FW_CFG_HPET), None);
        // Legacy reservation table: count 0, room for 16 entries.
        let legacy = f.item(FW_CFG_E820_TABLE).unwrap();
        assert_eq!(legacy.len(), 4 + 16 * 20);
        assert!(legacy.iter().all(|&b| b == 0));
    }

    #[test]
    fn ram_size_128m() {
        let mut f = pc_128m();
        let ram = read_item(&mut f, FW_CFG_RAM_SIZE, 8);
        assert_eq!(u64::from_le_bytes(ram.try_into().unwrap()), 128 * MIB);
    }

    #[test]
    fn file_directory_format() {
        let mut f = FwCfg::pc(128 * MIB, 0, 2, &["/pci@i0cf8/ide@1,1/drive@0/disk@0"]);
        let dir = directory(&mut f);
        let names: Vec<&str> = dir.iter().map(|(_, _, n)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "bootorder",
                "etc/boot-cpus",
                "etc/boot-fail-wait",
                "etc/e820"
            ]
        );
        let keys: Vec<u16> = dir.iter().map(|&(_, k, _)| k).collect();
        assert_eq!(keys, [0x20, 0x21, 0x22, 0x23]);
        let sizes: Vec<u32> = dir.iter().map(|&(s, _, _)| s).collect();
        assert_eq!(sizes, [34, 2, 4, 20]);
        // The directory item is sized for every slot.
        assert_eq!(
            f.item(FW_CFG_FILE_DIR).unwrap().len(),
            4 + 64 * FW_CFG_FILE_SLOTS as usize
        );
        for (size, key, name) in &dir {
            assert_eq!(f.file_key(name), Some(*key));
            assert_eq!(f.item(*key).unwrap().len(), *size as usize);
        }
        // Reading files by their keys.
        let key = f.file_key("bootorder").unwrap();
        assert_eq!(
            read_item(&mut f, key, 34),
            b"/pci@i0cf8/ide@1,1/drive@0/disk@0\0"
        );
        let key = f.file_key("etc/boot-fail-wait").unwrap();
        assert_eq!(read_item(&mut f, key, 4), [0xFF; 4]);
        let key = f.file_key("etc/boot-cpus").unwrap();
        assert_eq!(read_item(&mut f, key, 2), [2, 0]);
    }

    #[test]
    fn files_sorted_by_name_keys_follow() {
        let mut f = FwCfg::new();
        assert_eq!(f.add_file("opt/b", vec![1]), 0x20);
        assert_eq!(f.add_file("opt/c", vec![2, 2]), 0x21);
        // Sorts first: the others move up, as in QEMU.
        assert_eq!(f.add_file("opt/a", vec![3, 3, 3]), 0x20);
        assert_eq!(f.file_key("opt/b"), Some(0x21));
        assert_eq!(f.file_key("opt/c"), Some(0x22));
        assert_eq!(f.file_key("opt/d"), None);
        assert_eq!(read_item(&mut f, 0x22, 2), [2, 2]);
        // Same name replaces the contents.
        assert_eq!(f.add_file("opt/b", vec![9, 9]), 0x21);
        let dir = directory(&mut f);
        assert_eq!(
            dir,
            [
                (3, 0x20, "opt/a".to_string()),
                (2, 0x21, "opt/b".to_string()),
                (2, 0x22, "opt/c".to_string()),
            ]
        );
        // An empty device has an empty directory.
        let mut e = FwCfg::new();
        assert_eq!(read_item(&mut e, FW_CFG_FILE_DIR, 4), [0; 4]);
    }

    #[test]
    fn bootorder_joins_paths_and_is_omitted_when_empty() {
        let f = FwCfg::pc(128 * MIB, 0, 1, &["/a@1", "/b@2"]);
        let key = f.file_key("bootorder").unwrap();
        assert_eq!(f.item(key).unwrap(), b"/a@1\n/b@2\0");
        assert_eq!(pc_128m().file_key("bootorder"), None);
    }

    #[test]
    fn e820_128m() {
        let mut f = pc_128m();
        let key = f.file_key("etc/e820").unwrap();
        let data = read_item(&mut f, key, 20);
        assert_eq!(e820_entries(&data), [(0, 128 * MIB, 1)]);
        assert_eq!(f.item(key).unwrap().len(), 20);
    }

    #[test]
    fn e820_5g_split_like_i440fx() {
        // QEMU's pc_init1: at 3.5 GiB or more, 3 GiB below 4 GiB and the rest above.
        let (below, above) = split_ram(5 * GIB);
        assert_eq!((below, above), (3 * GIB, 2 * GIB));
        let mut f = FwCfg::pc(below, above, 1, &[]);
        let key = f.file_key("etc/e820").unwrap();
        let data = read_item(&mut f, key, 40);
        assert_eq!(
            e820_entries(&data),
            [(0, 3 * GIB, 1), (4 * GIB, 2 * GIB, 1)]
        );
        let ram = read_item(&mut f, FW_CFG_RAM_SIZE, 8);
        assert_eq!(u64::from_le_bytes(ram.try_into().unwrap()), 5 * GIB);
    }

    #[test]
    fn reads_past_end_return_zero() {
        let mut f = pc_128m();
        assert_eq!(read_item(&mut f, FW_CFG_SIGNATURE, 8), b"QEMU\0\0\0\0");
        // Missing items, out-of-range keys read zero too.
        assert_eq!(read_item(&mut f, FW_CFG_HPET, 4), [0; 4]);
        assert_eq!(read_item(&mut f, 0x3F, 4), [0; 4]);
        assert_eq!(read_item(&mut f, 0x40, 4), [0; 4]);
        assert_eq!(f.state().selector, None);
        assert_eq!(read_item(&mut f, 0xFFFF, 4), [0; 4]);
    }

    #[test]
    fn reselecting_resets_offset() {
        let mut f = pc_128m();
        assert_eq!(read_item(&mut f, FW_CFG_SIGNATURE, 2), b"QE");
        assert_eq!(read_item(&mut f, FW_CFG_SIGNATURE, 2), b"QE");
        // Past the end, then reselect.
        read_bytes(&mut f, 10);
        assert_eq!(read_item(&mut f, FW_CFG_SIGNATURE, 1), b"Q");
        // The write-channel bit is ignored in the lookup.
        assert_eq!(read_item(&mut f, 0x4000, 4), b"QEMU");
        // Byte writes (old data writes) and 32-bit writes do not select.
        select(&mut f, FW_CFG_ID);
        f.write(0x510, 1, 0);
        f.write(0x511, 1, 0);
        f.write(0x510, 4, 0);
        assert_eq!(read_bytes(&mut f, 1), [1]);
        // Reset selects the signature.
        f.reset();
        assert_eq!(read_bytes(&mut f, 4), b"QEMU");
    }

    #[test]
    fn state_round_trips() {
        let mut f = pc_128m();
        select(&mut f, FW_CFG_SIGNATURE);
        read_bytes(&mut f, 2);
        let s = f.state();
        assert_eq!(
            s,
            FwCfgState {
                selector: Some(0),
                offset: 2
            }
        );
        let mut g = pc_128m();
        g.restore(s);
        assert_eq!(read_bytes(&mut g, 2), b"MU");
    }

    #[test]
    fn add_item_replaces() {
        let mut f = pc_128m();
        f.add_item(FW_CFG_BOOT_MENU, 1u16.to_le_bytes().to_vec());
        assert_eq!(read_item(&mut f, FW_CFG_BOOT_MENU, 2), [1, 0]);
        f.add_item(0x8005, vec![7]);
        assert_eq!(read_item(&mut f, 0x8005, 1), [7]);
        assert_eq!(read_item(&mut f, 0x0005, 2), [1, 0]);
    }
}
