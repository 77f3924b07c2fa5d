//! The controller driven the way SeaBIOS and Linux's ata_piix/libata drive it: through its
//! ports, with interrupts observed on the IRQ lines and DMA through a fake memory.

use std::io::Write;
use std::sync::Mutex;

use super::*;
use crate::block::DiskOptions;

const P: u16 = PRIMARY_CMD;
const S: u16 = SECONDARY_CMD;
const BM: u16 = 0xC000;

// Register offsets.
const DATA: u16 = 0;
const ERROR: u16 = 1;
const FEATURE: u16 = 1;
const NSECT: u16 = 2;
const LBAL: u16 = 3;
const LBAM: u16 = 4;
const LBAH: u16 = 5;
const DEV: u16 = 6;
const CMD: u16 = 7;

use crate::test_support::Ram;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Byte `i` of sector `lba` in the test images: the LBA in the first four bytes, then a
/// pattern that differs between sectors.
fn pattern(lba: u64, i: usize, sector: usize) -> u8 {
    if i < 4 {
        (lba >> (8 * i)) as u8
    } else {
        (lba as usize * 31 + i * 7 + sector) as u8
    }
}

fn image(sectors: u64, sector: usize, read_only: bool) -> DiskImage {
    let mut v = vec![0u8; sectors as usize * sector];
    for (n, s) in v.chunks_mut(sector).enumerate() {
        for (i, b) in s.iter_mut().enumerate() {
            *b = pattern(n as u64, i, sector);
        }
    }
    DiskImage::in_memory(
        v,
        DiskOptions {
            read_only,
            ..Default::default()
        },
    )
}

fn expected(lba: u64, count: u64, sector: usize) -> Vec<u8> {
    (lba..lba + count)
        .flat_map(|l| (0..sector).map(move |i| pattern(l, i, sector)))
        .collect()
}

struct Rig {
    ide: IdeController,
    irq: IrqLines,
    control: Arc<MachineControl>,
    log: Sink,
    ram: Ram,
}

/// 16384-sector (8 MiB) disk as primary master, a CD (`cd` medium sectors, or none) as
/// primary slave, a read-only disk as secondary master.
fn rig_with(cd: Option<u64>) -> Rig {
    let irq = IrqLines::new();
    let control = Arc::new(MachineControl::new());
    let log = Sink::default();
    let mut ide = IdeController::new(
        irq.clone(),
        control.clone(),
        UnimpLog::to(Box::new(log.clone())),
    );
    ide.attach(0, false, Drive::HardDisk(image(16384, 512, false)));
    ide.attach(0, true, Drive::CdRom(cd.map(|n| image(n, 2048, true))));
    ide.attach(1, false, Drive::HardDisk(image(64, 512, true)));
    // What SeaBIOS's PCI setup does: BAR4, I/O and bus master enable.
    ide.config_write(BMIBA, 4, BM as u32);
    ide.config_write(0x04, 2, 0x0005);
    Rig {
        ide,
        irq,
        control,
        log,
        ram: Ram(vec![0; 1 << 20]),
    }
}

fn rig() -> Rig {
    rig_with(Some(100))
}

impl Rig {
    fn inb(&mut self, port: u16) -> u8 {
        self.ide.io_read(port, 1).expect("port decoded") as u8
    }
    fn outb(&mut self, port: u16, v: u8) {
        assert!(
            self.ide.io_write(port, 1, v as u32),
            "port {port:#x} decoded"
        );
    }
    fn inw(&mut self, port: u16) -> u16 {
        self.ide.io_read(port, 2).unwrap() as u16
    }
    fn outw(&mut self, port: u16, v: u16) {
        assert!(self.ide.io_write(port, 2, v as u32));
    }
    fn irq(&self, n: u8) -> bool {
        self.irq.levels() & (1 << n) != 0
    }
    fn status(&mut self, base: u16) -> u8 {
        self.inb(base + CMD)
    }
    fn alt_status(&mut self, base: u16) -> u8 {
        self.inb(if base == P {
            PRIMARY_CTL
        } else {
            SECONDARY_CTL
        })
    }
    fn devctl(&mut self, base: u16, v: u8) {
        self.outb(
            if base == P {
                PRIMARY_CTL
            } else {
                SECONDARY_CTL
            },
            v,
        );
    }
    fn read_bytes(&mut self, base: u16, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n.div_ceil(2) {
            out.extend_from_slice(&self.inw(base + DATA).to_le_bytes());
        }
        out.truncate(n);
        out
    }
    fn write_bytes(&mut self, base: u16, data: &[u8]) {
        for w in data.chunks(2) {
            self.outw(
                base + DATA,
                u16::from_le_bytes([w[0], *w.get(1).unwrap_or(&0)]),
            );
        }
    }
    /// LBA28 taskfile and command.
    fn ata28(&mut self, base: u16, dev: u8, cmd: u8, lba: u32, count: u8) {
        self.outb(base + DEV, 0xE0 | dev << 4 | ((lba >> 24) & 0xF) as u8);
        self.outb(base + NSECT, count);
        self.outb(base + LBAL, lba as u8);
        self.outb(base + LBAM, (lba >> 8) as u8);
        self.outb(base + LBAH, (lba >> 16) as u8);
        self.outb(base + CMD, cmd);
    }
    /// LBA48 taskfile (high-order bytes first) and command.
    fn ata48(&mut self, base: u16, cmd: u8, lba: u64, count: u16) {
        self.outb(base + DEV, 0x40);
        self.outb(base + NSECT, (count >> 8) as u8);
        self.outb(base + LBAL, (lba >> 24) as u8);
        self.outb(base + LBAM, (lba >> 32) as u8);
        self.outb(base + LBAH, (lba >> 40) as u8);
        self.outb(base + NSECT, count as u8);
        self.outb(base + LBAL, lba as u8);
        self.outb(base + LBAM, (lba >> 8) as u8);
        self.outb(base + LBAH, (lba >> 16) as u8);
        self.outb(base + CMD, cmd);
    }
    /// PIO data-in as libata does it: wait for the interrupt, acknowledge it with a
    /// Status read, move one block.
    fn pio_in_blocks(&mut self, base: u16, block: usize, blocks: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..blocks {
            assert!(self.irq(14), "interrupt before each data-in block");
            assert_eq!(self.status(base), 0x58);
            assert!(!self.irq(14), "status read drops INTRQ");
            out.extend(self.read_bytes(base, block));
        }
        assert_eq!(
            self.alt_status(base),
            0x50,
            "DRQ clear after the last block"
        );
        assert!(!self.irq(14), "no interrupt after the last data-in block");
        out
    }
    fn lba28_regs(&mut self, base: u16) -> u32 {
        let l = self.inb(base + LBAL) as u32;
        let m = self.inb(base + LBAM) as u32;
        let h = self.inb(base + LBAH) as u32;
        let d = self.inb(base + DEV) as u32;
        (d & 0xF) << 24 | h << 16 | m << 8 | l
    }
    fn drive(&self, ch: usize, unit: usize) -> DriveState {
        self.ide.state().channels[ch].drives[unit].clone().unwrap()
    }
    fn log_text(&self) -> String {
        String::from_utf8(self.log.0.lock().unwrap().clone()).unwrap()
    }

    // ATAPI on the primary slave.

    /// Issues PACKET with `cdb` and the byte count limit; returns after the packet went.
    fn packet(&mut self, cdb: &[u8], bcl: u16, dma: bool) {
        self.outb(P + DEV, 0xB0);
        self.outb(P + FEATURE, u8::from(dma));
        self.outb(P + LBAM, bcl as u8);
        self.outb(P + LBAH, (bcl >> 8) as u8);
        self.outb(P + CMD, 0xA0);
        assert_eq!(self.alt_status(P) & 0x88, 0x08, "DRQ for the packet");
        assert_eq!(self.inb(P + NSECT) & 3, 1, "CoD=1 IO=0");
        assert!(!self.irq(14), "no interrupt before the packet");
        let mut p = [0u8; 12];
        p[..cdb.len()].copy_from_slice(cdb);
        self.write_bytes(P, &p);
    }
    /// Reads every DRQ chunk of a PIO data-in packet command; returns the data and the
    /// chunk sizes, and checks the completion.
    fn atapi_pio_in(&mut self) -> (Vec<u8>, Vec<usize>) {
        let mut data = Vec::new();
        let mut chunks = Vec::new();
        loop {
            assert!(self.irq(14), "interrupt for each phase");
            let st = self.status(P);
            let reason = self.inb(P + NSECT) & 3;
            if st & 0x08 == 0 {
                assert_eq!(reason, 3, "completion: CoD=1 IO=1");
                return (data, chunks);
            }
            assert_eq!(reason, 2, "data to the host: CoD=0 IO=1");
            let n = self.inb(P + LBAM) as usize | (self.inb(P + LBAH) as usize) << 8;
            chunks.push(n);
            data.extend(self.read_bytes(P, n));
        }
    }
    /// A packet command expected to complete; returns its data.
    fn atapi(&mut self, cdb: &[u8]) -> Vec<u8> {
        self.packet(cdb, 0xFFFE, false);
        let (data, _) = self.atapi_pio_in();
        assert_eq!(
            self.alt_status(P) & 0x01,
            0,
            "command {:#04x} succeeded",
            cdb[0]
        );
        data
    }
    /// A packet command expected to fail; returns the sense it left.
    fn atapi_fails(&mut self, cdb: &[u8]) -> (u8, u8, u8) {
        self.packet(cdb, 0xFFFE, false);
        assert!(self.irq(14));
        assert_eq!(self.status(P) & 0x89, 0x01, "ERR, not BSY/DRQ");
        assert_eq!(self.inb(P + NSECT) & 3, 3);
        let err = self.inb(P + ERROR);
        let s = self.atapi(&[0x03, 0, 0, 0, 18]);
        assert_eq!(s[0], 0x70, "fixed format sense");
        assert_eq!(err >> 4, s[2], "Error register carries the sense key");
        (s[2], s[12], s[13])
    }
}

#[test]
fn pci_header_and_decoding() {
    let mut r = rig();
    assert_eq!(r.ide.config_read(0, 4), 0x7010_8086);
    assert_eq!(r.ide.config_read(0x08, 4) >> 8, 0x01_0180);
    // BAR4 sizing: 16 bytes of I/O.
    r.ide.config_write(BMIBA, 4, 0xFFFF_FFFF);
    assert_eq!(r.ide.config_read(BMIBA, 4), 0xFFFF_FFF1);
    assert_eq!(r.ide.bm_base(), None, "beyond the 64 KiB port space");
    r.ide.config_write(BMIBA, 4, BM as u32);
    assert_eq!(r.ide.bm_base(), Some(BM));
    // Power-on defaults decode both channels.
    let fresh = IdeController::new(
        IrqLines::new(),
        Arc::new(MachineControl::new()),
        UnimpLog::disabled(),
    );
    assert_eq!(fresh.config().word(0x04) & 1, 1);
    assert_eq!(fresh.config().word(0x40), 0x8000);
    assert_eq!(fresh.config().word(0x42), 0x8000);
    assert_eq!(fresh.bm_base(), None, "BAR4 unassigned");

    assert!(r.ide.io_read(0x1F7, 1).is_some());
    assert!(r.ide.io_read(0x3F7, 1).is_none(), "floppy's port");
    assert!(r.ide.io_read(0x1F8, 1).is_none());
    assert!(r.ide.io_read(BM + 16, 1).is_none());
    // Secondary decode off: its ports go elsewhere, the primary's stay.
    r.ide.config_write(0x42, 2, 0x0000);
    assert!(r.ide.io_read(0x177, 1).is_none());
    assert!(r.ide.io_read(0x376, 1).is_none());
    assert!(r.ide.io_read(0x1F7, 1).is_some());
    r.ide.config_write(0x42, 2, 0x8000);
    // I/O space disable turns everything off, bus master block included.
    r.ide.config_write(0x04, 2, 0x0004);
    assert!(r.ide.io_read(0x1F7, 1).is_none());
    assert!(r.ide.io_read(BM, 1).is_none());
    assert!(!r.ide.io_write(0x1F6, 1, 0xA0));
    r.ide.config_write(0x04, 2, 0x0005);
    // Machine reset returns to the defaults.
    r.ide.reset();
    assert_eq!(r.ide.config_read(BMIBA, 4), 1);
}

#[test]
fn identify_device_over_pio() {
    let mut r = rig();
    r.outb(P + DEV, 0xA0);
    assert_eq!(
        r.inb(P + DEV),
        0xA0,
        "SeaBIOS reads the Device register back"
    );
    r.outb(P + CMD, 0xEC);
    assert!(r.irq(14));
    assert_eq!(r.alt_status(P), 0x58);
    assert!(r.irq(14), "Alternate Status does not acknowledge");
    let b = r.pio_in_blocks(P, 512, 1);
    let w = |i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
    assert_eq!(w(0), 0x0040);
    assert_eq!(
        (w(1), w(3), w(6)),
        (16, 16, 63),
        "16384 sectors = 16 cylinders"
    );
    let model: Vec<u8> = (27..47).flat_map(|i| w(i).to_be_bytes()).collect();
    assert_eq!(
        String::from_utf8(model).unwrap().trim_end(),
        "RINGSIDE HARDDISK"
    );
    let serial: Vec<u8> = (10..20).flat_map(|i| w(i).to_be_bytes()).collect();
    assert!(String::from_utf8(serial).unwrap().starts_with("RS"));
    assert_eq!(w(47) & 0xFF, 16);
    assert_eq!(w(49) & 0x0300, 0x0300, "LBA and DMA");
    assert_eq!(w(53) & 7, 7);
    assert_eq!(w(59), 0x110, "multiple mode on, 16 sectors");
    assert_eq!(w(60) as u32 | (w(61) as u32) << 16, 16384);
    assert_eq!(w(63) & 7, 7);
    assert_eq!(w(83) & (1 << 10), 1 << 10, "LBA48 supported");
    assert_eq!(w(86) & (1 << 10), 1 << 10, "LBA48 enabled");
    assert_eq!(w(88) & 0x3F, 0x3F);
    assert_eq!(w(93) & 0x4041, 0x4001, "SeaBIOS keeps probing device 1");
    assert_eq!(
        (100..104)
            .map(|i| (w(i) as u64) << (16 * (i - 100)))
            .sum::<u64>(),
        16384
    );
    assert_eq!(w(255) & 0xFF, 0xA5);
    assert_eq!(b.iter().fold(0u8, |a, &x| a.wrapping_add(x)), 0, "checksum");

    // SET FEATURES transfer mode shows as selected.
    r.outb(P + FEATURE, 0x03);
    r.outb(P + NSECT, 0x22); // MWDMA2
    r.outb(P + CMD, 0xEF);
    assert_eq!(r.status(P), 0x50);
    r.outb(P + CMD, 0xEC);
    let b = r.pio_in_blocks(P, 512, 1);
    assert_eq!(u16::from_le_bytes([b[126], b[127]]), 0x0407);
}

#[test]
fn pio_read_lba28_several_sectors() {
    let mut r = rig();
    r.ata28(P, 0, 0x20, 5, 3);
    let data = r.pio_in_blocks(P, 512, 3);
    assert_eq!(data, expected(5, 3, 512));
    assert_eq!(r.lba28_regs(P), 8, "registers end past the transfer");
    // 32-bit data port reads (ata_piix's PIO32) see the same bytes.
    r.ata28(P, 0, 0x20, 7, 1);
    assert_eq!(r.status(P), 0x58);
    let mut v = Vec::new();
    for _ in 0..128 {
        v.extend_from_slice(&r.ide.io_read(P, 4).unwrap().to_le_bytes());
    }
    assert_eq!(v, expected(7, 1, 512));
    assert_eq!(r.alt_status(P), 0x50);
}

#[test]
fn pio_write_then_read_lba48() {
    let mut r = rig();
    let data: Vec<u8> = (0..1024).map(|i| (i * 13 + 5) as u8).collect();
    r.ata48(P, 0x34, 0x2345, 2);
    // First block: DRQ without an interrupt.
    assert_eq!(r.alt_status(P), 0x58);
    assert!(!r.irq(14));
    r.write_bytes(P, &data[..512]);
    assert!(r.irq(14), "interrupt asks for the next block");
    assert_eq!(r.status(P), 0x58);
    r.write_bytes(P, &data[512..]);
    assert!(r.irq(14), "completion interrupt");
    assert_eq!(r.status(P), 0x50);

    // HOB reads back the high-order bytes of the pair registers.
    r.ata48(P, 0x24, 0x2345, 2);
    let back = r.pio_in_blocks(P, 512, 2);
    assert_eq!(back, data);
    r.devctl(P, 0x80);
    assert_eq!(r.inb(P + LBAL), 0, "LBA bits 31:24");
    r.devctl(P, 0x00);
    assert_eq!(r.inb(P + LBAL), 0x47, "next LBA low byte");
    // Neighbours are untouched.
    r.ata28(P, 0, 0x20, 0x2344, 1);
    assert_eq!(r.pio_in_blocks(P, 512, 1), expected(0x2344, 1, 512));

    // A 48-bit address beyond the disk (bits 47:40 set) is not on the medium.
    r.ata48(P, 0x24, 0x0100_0000_0000, 1);
    assert_eq!(r.status(P), 0x41);
    assert_eq!(r.inb(P + ERROR), 0x10, "IDNF");
}

#[test]
fn read_and_write_multiple() {
    let mut r = rig();
    // SET MULTIPLE MODE 4, then READ MULTIPLE of 6: blocks of 4 and 2 sectors.
    r.outb(P + NSECT, 4);
    r.outb(P + CMD, 0xC6);
    assert_eq!(r.status(P), 0x50);
    r.ata28(P, 0, 0xC4, 100, 6);
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x58);
    let mut data = r.read_bytes(P, 2048);
    data.extend(r.pio_in_blocks(P, 1024, 1));
    assert_eq!(data, expected(100, 6, 512));

    let out: Vec<u8> = (0..2560).map(|i| (i % 251) as u8).collect();
    r.ata28(P, 0, 0xC5, 200, 5);
    assert_eq!(r.alt_status(P), 0x58);
    r.write_bytes(P, &out[..2048]);
    assert_eq!(r.status(P), 0x58);
    r.write_bytes(P, &out[2048..]);
    assert_eq!(r.status(P), 0x50);
    r.ata28(P, 0, 0x20, 200, 5);
    assert_eq!(r.pio_in_blocks(P, 512, 5), out);

    // Invalid block size aborts; disabled multiple mode aborts READ MULTIPLE.
    r.outb(P + NSECT, 3);
    r.outb(P + CMD, 0xC6);
    assert_eq!((r.status(P), r.inb(P + ERROR)), (0x41, 0x04));
    r.outb(P + NSECT, 0);
    r.outb(P + CMD, 0xC6);
    assert_eq!(r.status(P), 0x50);
    r.ata28(P, 0, 0xC4, 0, 1);
    assert_eq!(r.status(P), 0x41);
}

#[test]
fn chs_addressing_and_geometry() {
    let mut r = rig();
    // Default geometry 16 heads x 63 sectors: C/H/S 1/2/3 is LBA (1*16+2)*63+2.
    r.outb(P + DEV, 0xA2);
    r.outb(P + NSECT, 1);
    r.outb(P + LBAL, 3);
    r.outb(P + LBAM, 1);
    r.outb(P + LBAH, 0);
    r.outb(P + CMD, 0x20);
    assert_eq!(r.pio_in_blocks(P, 512, 1), expected(1136, 1, 512));
    assert_eq!(r.inb(P + LBAL), 4, "next sector");

    // INITIALIZE DEVICE PARAMETERS: 4 heads, 17 sectors per track.
    r.outb(P + DEV, 0xA3);
    r.outb(P + NSECT, 17);
    r.outb(P + CMD, 0x91);
    assert_eq!(r.status(P), 0x50);
    r.outb(P + DEV, 0xA1);
    r.outb(P + NSECT, 1);
    r.outb(P + LBAL, 1);
    r.outb(P + LBAM, 0);
    r.outb(P + CMD, 0x20);
    assert_eq!(r.pio_in_blocks(P, 512, 1), expected(17, 1, 512));
    r.outb(P + CMD, 0xEC);
    let id = r.pio_in_blocks(P, 512, 1);
    let w = |i: usize| u16::from_le_bytes([id[2 * i], id[2 * i + 1]]);
    assert_eq!((w(54), w(55), w(56)), (16384 / 68, 4, 17));
    assert_eq!((w(1), w(3), w(6)), (16, 16, 63), "default geometry stays");

    // Sector 0 and heads beyond the geometry do not exist.
    r.outb(P + DEV, 0xA0);
    r.outb(P + LBAL, 0);
    r.outb(P + CMD, 0x20);
    assert_eq!((r.status(P), r.inb(P + ERROR)), (0x41, 0x10));
    r.outb(P + DEV, 0xA5);
    r.outb(P + LBAL, 1);
    r.outb(P + CMD, 0x20);
    assert_eq!(r.status(P), 0x41);
}

fn prd(ram: &mut Ram, at: usize, entries: &[(u32, u32, bool)]) {
    for (i, &(addr, len, eot)) in entries.iter().enumerate() {
        let o = at + 8 * i;
        ram.0[o..o + 4].copy_from_slice(&addr.to_le_bytes());
        let c = (len & 0xFFFF) | if eot { 1 << 31 } else { 0 };
        ram.0[o + 4..o + 8].copy_from_slice(&c.to_le_bytes());
    }
}

impl Rig {
    fn run_dma(&mut self) {
        let mut ram = std::mem::replace(&mut self.ram, Ram(Vec::new()));
        self.ide.run_dma(&mut ram);
        self.ram = ram;
    }
    fn bm_setup(&mut self, table: u32, to_memory: bool) {
        self.ide.io_write(BM + 4, 4, table);
        self.outb(BM, if to_memory { 0x08 } else { 0 });
        self.outb(BM + 2, 0x06); // clear interrupt and error
    }
}

#[test]
fn dma_read_over_two_prd_entries() {
    let mut r = rig();
    prd(
        &mut r.ram,
        0x1000,
        &[(0x10000, 0x400, false), (0x20000, 0x200, true)],
    );
    r.bm_setup(0x1000, true);
    r.ata28(P, 0, 0xC8, 10, 3);
    assert_eq!(r.alt_status(P), 0x58, "waiting for the bus master");
    assert_eq!(r.control.take(REQ_DMA), 0, "not started yet");
    assert!(!r.irq(14));
    r.outb(BM, 0x09);
    assert_eq!(r.inb(BM + 2) & 1, 1, "active");
    assert_eq!(r.control.take(REQ_DMA), REQ_DMA);
    r.run_dma();
    let want = expected(10, 3, 512);
    assert_eq!(&r.ram.0[0x10000..0x10400], &want[..1024]);
    assert_eq!(&r.ram.0[0x20000..0x20200], &want[1024..]);
    assert_eq!(r.ram.0[0x20200], 0, "nothing past the transfer");
    assert!(r.irq(14));
    assert_eq!(r.inb(BM + 2) & 7, 0x04, "interrupt, not active");
    r.outb(BM, 0x08);
    assert_eq!(r.status(P), 0x50);
    assert!(!r.irq(14));
    r.outb(BM + 2, 0x04);
    assert_eq!(r.inb(BM + 2) & 7, 0);
    assert_eq!(r.lba28_regs(P), 13);
}

#[test]
fn dma_write_started_before_the_command() {
    let mut r = rig();
    let data: Vec<u8> = (0..1536).map(|i| (i * 3 + 1) as u8).collect();
    r.ram.0[0x30000..0x30300].copy_from_slice(&data[..0x300]);
    r.ram.0[0x40000..0x40300].copy_from_slice(&data[0x300..]);
    prd(
        &mut r.ram,
        0x2000,
        &[(0x30000, 0x300, false), (0x40000, 0x300, true)],
    );
    r.bm_setup(0x2000, false);
    // Linux starts the engine after the command, but either order works.
    r.outb(BM, 0x01);
    assert_eq!(r.control.take(REQ_DMA), 0);
    r.ata28(P, 0, 0xCA, 300, 3);
    assert_eq!(r.control.take(REQ_DMA), REQ_DMA);
    r.run_dma();
    assert!(r.irq(14));
    assert_eq!(r.inb(BM + 2) & 7, 0x04);
    r.outb(BM, 0x00);
    assert_eq!(r.status(P), 0x50);
    r.ata28(P, 0, 0x20, 300, 3);
    assert_eq!(r.pio_in_blocks(P, 512, 3), data);
}

#[test]
fn dma_prd_table_longer_or_shorter_than_the_transfer() {
    let mut r = rig();
    // Longer: the transfer ends inside the entry; active stays set, interrupt set.
    prd(&mut r.ram, 0x1000, &[(0x10000, 0x1000, true)]);
    r.bm_setup(0x1000, true);
    r.ata28(P, 0, 0xC8, 0, 1);
    r.outb(BM, 0x09);
    r.run_dma();
    assert_eq!(r.inb(BM + 2) & 7, 0x05);
    assert_eq!(&r.ram.0[0x10000..0x10200], &expected(0, 1, 512)[..]);
    r.outb(BM, 0x08);
    assert_eq!(r.inb(BM + 2) & 1, 0, "stop clears active");
    assert_eq!(r.status(P), 0x50);

    // Shorter: the table ends first; active clear, no interrupt.
    prd(&mut r.ram, 0x1000, &[(0x10000, 0x200, true)]);
    r.bm_setup(0x1000, true);
    r.ata28(P, 0, 0xC8, 0, 4);
    r.outb(BM, 0x09);
    r.run_dma();
    assert_eq!(r.inb(BM + 2) & 7, 0x00);
    assert!(!r.irq(14));
    assert_eq!(r.alt_status(P) & 0x88, 0, "command over");
    r.outb(BM, 0x08);

    // Byte count 0 means 64 KiB.
    prd(&mut r.ram, 0x1000, &[(0x40000, 0, true)]);
    r.bm_setup(0x1000, true);
    r.ata28(P, 0, 0xC8, 50, 128);
    r.outb(BM, 0x09);
    r.run_dma();
    assert_eq!(r.inb(BM + 2) & 7, 0x04);
    assert_eq!(&r.ram.0[0x40000..0x50000], &expected(50, 128, 512)[..]);
}

#[test]
fn dma_needs_bus_master_enable() {
    let mut r = rig();
    r.ide.config_write(0x04, 2, 0x0001);
    prd(&mut r.ram, 0x1000, &[(0x10000, 0x200, true)]);
    r.bm_setup(0x1000, true);
    r.ata28(P, 0, 0xC8, 1, 1);
    r.outb(BM, 0x09);
    assert_eq!(r.control.take(REQ_DMA), 0);
    r.run_dma();
    assert_eq!(r.ram.0[0x10000], 0, "no transfer");
    r.ide.config_write(0x04, 2, 0x0005);
    assert_eq!(r.control.take(REQ_DMA), REQ_DMA);
    r.run_dma();
    assert_eq!(&r.ram.0[0x10000..0x10200], &expected(1, 1, 512)[..]);
}

#[test]
fn interrupt_is_a_level_gated_by_nien() {
    let mut r = rig();
    r.devctl(P, 0x02);
    r.ata28(P, 0, 0x40, 0, 1); // READ VERIFY
    assert!(!r.irq(14), "nIEN masks the line");
    assert_eq!(r.inb(BM + 2) & 4, 0, "and the bus master interrupt bit");
    r.devctl(P, 0x00);
    assert!(r.irq(14), "pending interrupt shows once enabled");
    let _ = r.alt_status(P);
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x50);
    assert!(!r.irq(14));
    // A new command drops a pending interrupt before raising its own.
    r.ata28(P, 0, 0x40, 0, 1);
    assert!(r.irq(14));
    assert_eq!(r.inb(BM + 2) & 4, 4, "bus master status mirrors INTRQ");
    r.outb(P + CMD, 0xE5); // CHECK POWER MODE
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x50);
    assert_eq!(r.inb(P + NSECT), 0xFF, "active/idle");
    // The secondary channel has its own line.
    r.ata28(S, 0, 0x40, 0, 1);
    assert!(r.irq(15) && !r.irq(14));
    assert_eq!(r.status(S), 0x50);
    assert!(!r.irq(15));
}

#[test]
fn errors_abort_and_report() {
    let mut r = rig();
    r.ata28(P, 0, 0x20, 16383, 2);
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x41);
    assert_eq!(r.inb(P + ERROR), 0x10, "IDNF past the end");
    r.ata28(P, 0, 0x20, 16383, 1);
    assert_eq!(r.pio_in_blocks(P, 512, 1), expected(16383, 1, 512));

    r.outb(P + CMD, 0xB0); // SMART
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x41);
    assert_eq!(r.inb(P + ERROR), 0x04);
    r.outb(P + CMD, 0xB0);
    assert_eq!(
        r.log_text(),
        "ringside: ide: unimplemented: ATA command 0xB0\n",
        "reported once"
    );

    // Writes to a read-only disk abort, reads work.
    r.ata28(S, 0, 0x30, 0, 1);
    assert_eq!((r.status(S), r.inb(S + ERROR)), (0x41, 0x04));
    r.ata28(S, 0, 0xCA, 0, 1);
    assert_eq!(r.status(S), 0x41);
    r.ata28(S, 0, 0x20, 63, 1);
    assert!(r.irq(15));
    assert_eq!(r.status(S), 0x58);

    // A command while DRQ is set is ignored (the host must finish or reset).
    r.outb(S + CMD, 0xEC);
    assert_eq!(r.read_bytes(S, 512), expected(63, 1, 512));
}

#[test]
fn software_reset_signatures() {
    let mut r = rig();
    r.ata28(P, 0, 0x20, 0, 1);
    r.devctl(P, 0x04 | 0x02);
    assert_eq!(r.alt_status(P), 0x80, "BSY while SRST is held");
    r.devctl(P, 0x00);
    // Device 0 (ATA) is selected after the reset.
    assert_eq!(r.status(P), 0x50);
    let sig = |r: &mut Rig| [NSECT, LBAL, LBAM, LBAH, ERROR].map(|o| r.inb(P + o));
    assert_eq!(sig(&mut r), [1, 1, 0, 0, 1]);
    assert_eq!(r.inb(P + DEV) & 0x10, 0);
    // Device 1 (ATAPI): its own signature, DRDY clear.
    r.outb(P + DEV, 0xB0);
    assert_eq!(r.inb(P + DEV), 0xB0);
    assert_eq!(r.status(P), 0x00);
    assert_eq!(sig(&mut r), [1, 1, 0x14, 0xEB, 1]);
    assert!(!r.irq(14), "no interrupt after SRST");
    // The aborted read is gone.
    r.outb(P + DEV, 0xA0);
    assert_eq!(r.inw(P + DATA), 0);

    // Missing device 1 on the secondary channel reads as zeros and ignores commands;
    // the register probe fails as SeaBIOS expects.
    r.outb(S + DEV, 0xB0);
    r.outb(S + NSECT, 0x55);
    r.outb(S + LBAL, 0xAA);
    assert_eq!([r.inb(S + NSECT), r.inb(S + LBAL), r.status(S)], [0, 0, 0]);
    r.outb(S + CMD, 0xEC);
    assert!(!r.irq(15));
    r.outb(S + DEV, 0xA0);
    assert_eq!(r.inb(S + NSECT), 0x55, "writes reached device 0");

    // EXECUTE DEVICE DIAGNOSTIC: both signatures, device 0 interrupts.
    r.outb(P + DEV, 0xB0);
    r.outb(P + CMD, 0x90);
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x50);
    assert_eq!(sig(&mut r), [1, 1, 0, 0, 1]);
    r.outb(P + DEV, 0xB0);
    assert_eq!(sig(&mut r), [1, 1, 0x14, 0xEB, 1]);
}

#[test]
fn atapi_identify_and_signature() {
    let mut r = rig();
    r.outb(P + DEV, 0xB0);
    // IDENTIFY DEVICE aborts and leaves the packet signature.
    r.outb(P + CMD, 0xEC);
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x41);
    assert_eq!(r.inb(P + ERROR), 0x04);
    assert_eq!((r.inb(P + LBAM), r.inb(P + LBAH)), (0x14, 0xEB));
    // And the hard disk aborts IDENTIFY PACKET DEVICE (SeaBIOS tries it first).
    r.outb(P + DEV, 0xA0);
    r.outb(P + CMD, 0xA1);
    assert_eq!(r.status(P), 0x41);

    r.outb(P + DEV, 0xB0);
    r.outb(P + CMD, 0xA1);
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x58);
    let b = r.read_bytes(P, 512);
    let w = |i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
    assert_eq!(w(0), 0x85C0, "ATAPI CD-ROM, removable, 12-byte packets");
    assert_eq!((w(0) >> 8) & 0x1F, 5, "SeaBIOS's CD check");
    let model: Vec<u8> = (27..47).flat_map(|i| w(i).to_be_bytes()).collect();
    assert_eq!(
        String::from_utf8(model).unwrap().trim_end(),
        "RINGSIDE DVD-ROM"
    );
    assert_eq!(w(49) & 0x0300, 0x0300);
    assert_eq!(r.alt_status(P), 0x50);

    // DEVICE RESET: signature again, no interrupt.
    r.outb(P + CMD, 0x08);
    assert_eq!(r.status(P), 0x00);
    assert_eq!((r.inb(P + LBAM), r.inb(P + LBAH)), (0x14, 0xEB));
}

#[test]
fn atapi_inquiry_capacity_and_toc() {
    let mut r = rig();
    let inq = r.atapi(&[0x12, 0, 0, 0, 36]);
    assert_eq!(inq.len(), 36);
    assert_eq!(inq[0] & 0x1F, 5);
    assert_eq!(inq[1], 0x80, "removable");
    assert_eq!(&inq[8..16], b"RINGSIDE");
    assert!(inq[16..32].starts_with(b"DVD-ROM"));
    assert_eq!(r.atapi(&[0x12, 0, 0, 0, 5]).len(), 5, "allocation length");

    let cap = r.atapi(&[0x25]);
    assert_eq!(cap, [0, 0, 0, 99, 0, 0, 8, 0]);

    let toc = r.atapi(&[0x43, 0, 0, 0, 0, 0, 0, 0, 100]);
    assert_eq!(
        toc,
        [0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x14, 0xAA, 0, 0, 0, 0, 100]
    );
    let msf = r.atapi(&[0x43, 0x02, 0, 0, 0, 0, 0, 0, 100]);
    assert_eq!(&msf[8..12], &[0, 0, 2, 0], "track 1 at 00:02:00");
    assert_eq!(&msf[16..20], &[0, 0, 3, 25], "lead-out at 250 frames");
    let session = r.atapi(&[0x43, 0, 1, 0, 0, 0, 0, 0, 12]);
    assert_eq!(session, [0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0]);

    let mode = r.atapi(&[0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64]);
    assert_eq!(
        u16::from_be_bytes([mode[0], mode[1]]) as usize,
        mode.len() - 2
    );
    assert_eq!(mode[8], 0x2A);
    assert_eq!(mode[8 + 2] & 0x08, 0x08, "reads DVD");
    let all = r.atapi(&[0x5A, 0, 0x3F, 0, 0, 0, 0, 1, 0]);
    assert_eq!((all[8], all[16]), (0x01, 0x2A));

    let conf = r.atapi(&[0x46, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(
        u16::from_be_bytes([conf[6], conf[7]]),
        0x0008,
        "CD-ROM profile"
    );
    assert_eq!(
        u32::from_be_bytes([conf[0], conf[1], conf[2], conf[3]]) as usize,
        conf.len() - 4
    );
    let disc = r.atapi(&[0x51, 0, 0, 0, 0, 0, 0, 0, 34]);
    assert_eq!((disc[2], disc[3], disc[4]), (0x0E, 1, 1));

    r.atapi(&[0x1E, 0, 0, 0, 1]); // lock
    assert_eq!(
        r.atapi_fails(&[0x1B, 0, 0, 0, 0x02]),
        (0x02, 0x53, 0x02),
        "eject refused"
    );
    r.atapi(&[0x1E, 0, 0, 0, 0]);
    r.atapi(&[0x2B, 0, 0, 0, 0, 50]);
    assert_eq!(r.atapi_fails(&[0x2B, 0, 0, 0, 0, 100]), (0x05, 0x21, 0));
}

#[test]
fn atapi_read10_pio_in_byte_count_chunks() {
    let mut r = rig();
    // Three sectors through a 2500-byte limit: 2500 + 2500 + 1144.
    r.packet(&[0x28, 0, 0, 0, 0, 7, 0, 0, 3], 2500, false);
    let (data, chunks) = r.atapi_pio_in();
    assert_eq!(chunks, [2500, 2500, 1144]);
    assert_eq!(data, expected(7, 3, 2048));
    assert_eq!(r.alt_status(P), 0x50);

    // READ(12), whole sectors per chunk as SeaBIOS asks (limit = block size).
    r.packet(&[0xA8, 0, 0, 0, 0, 98, 0, 0, 0, 2], 2048, false);
    let (data, chunks) = r.atapi_pio_in();
    assert_eq!(chunks, [2048, 2048]);
    assert_eq!(data, expected(98, 2, 2048));

    assert_eq!(
        r.atapi_fails(&[0x28, 0, 0, 0, 0, 99, 0, 0, 2]),
        (0x05, 0x21, 0)
    );
    // Zero sectors is no transfer at all.
    assert!(r.atapi(&[0x28, 0, 0, 0, 0, 5, 0, 0, 0]).is_empty());
}

#[test]
fn atapi_read10_by_dma() {
    let mut r = rig();
    prd(
        &mut r.ram,
        0x1000,
        &[(0x10000, 0x1000, false), (0x20000, 0x800, true)],
    );
    r.bm_setup(0x1000, true);
    r.packet(&[0x28, 0, 0, 0, 0, 20, 0, 0, 3], 0xFFFE, true);
    assert!(!r.irq(14), "data goes by DMA, no PIO phase");
    r.outb(BM, 0x09);
    assert_eq!(r.control.take(REQ_DMA), REQ_DMA);
    r.run_dma();
    let want = expected(20, 3, 2048);
    assert_eq!(&r.ram.0[0x10000..0x11000], &want[..0x1000]);
    assert_eq!(&r.ram.0[0x20000..0x20800], &want[0x1000..]);
    assert!(r.irq(14));
    assert_eq!(r.inb(BM + 2) & 7, 0x04);
    r.outb(BM, 0x08);
    assert_eq!(r.status(P), 0x50);
    assert_eq!(r.inb(P + NSECT) & 3, 3);
}

#[test]
fn atapi_sense_after_illegal_request() {
    let mut r = rig();
    r.packet(&[0xFF], 0xFFFE, false);
    assert!(r.irq(14));
    assert_eq!(r.status(P), 0x41);
    assert_eq!(r.inb(P + ERROR), 0x54, "ILLEGAL REQUEST, ABRT");
    let s = r.atapi(&[0x03, 0, 0, 0, 18]);
    assert_eq!((s[2], s[12], s[13]), (0x05, 0x20, 0x00));
    assert_eq!(s[7], 10);
    let s = r.atapi(&[0x03, 0, 0, 0, 18]);
    assert_eq!((s[2], s[12]), (0, 0), "sense consumed");
    assert!(r.log_text().contains("ATAPI command 0xFF"));
    assert_eq!(
        r.atapi_fails(&[0x43, 0, 0, 0, 0, 0, 5, 0, 12]),
        (0x05, 0x24, 0)
    );
}

#[test]
fn atapi_medium_change_and_unit_attention() {
    let mut r = rig_with(None);
    assert_eq!(r.atapi_fails(&[0x00]), (0x02, 0x3A, 0x00), "no medium");
    assert_eq!(r.atapi_fails(&[0x25]), (0x02, 0x3A, 0x00));
    let ev = r.atapi(&[0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8]);
    assert_eq!(ev[4..6], [0, 0], "no event, no medium");
    let conf = r.atapi(&[0x46, 0, 0, 0, 0, 0, 0, 0, 8]);
    assert_eq!(&conf[6..8], &[0, 0], "no current profile");

    // A disc arrives (large enough to be a DVD).
    assert!(r
        .ide
        .change_medium(0, true, Some(image(400_000, 2048, true))));
    assert!(!r.ide.change_medium(0, false, None), "not a CD-ROM");
    // INQUIRY and GET EVENT STATUS do not consume the unit attention.
    r.atapi(&[0x12, 0, 0, 0, 36]);
    let ev = r.atapi(&[0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8]);
    assert_eq!(ev[2], 0x04, "media class");
    assert_eq!(ev[4..6], [2, 2], "new media, present");
    let ev = r.atapi(&[0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8]);
    assert_eq!(ev[4], 0, "reported once");
    assert_eq!(
        r.atapi_fails(&[0x00]),
        (0x06, 0x28, 0x00),
        "medium may have changed"
    );
    r.atapi(&[0x00]);
    let cap = r.atapi(&[0x25]);
    assert_eq!(
        u32::from_be_bytes([cap[0], cap[1], cap[2], cap[3]]),
        399_999
    );
    let conf = r.atapi(&[0x46, 0x02, 0, 0, 0, 0, 0, 0, 64]);
    assert_eq!(&conf[6..8], &[0, 0x10], "DVD-ROM profile");
    assert_eq!(conf.len(), 8 + 12, "one feature for RT=2");

    // Unit attention is also reported by REQUEST SENSE itself.
    assert!(r.ide.change_medium(0, true, Some(image(10, 2048, true))));
    let s = r.atapi(&[0x03, 0, 0, 0, 18]);
    assert_eq!((s[2], s[12]), (0x06, 0x28));
    r.atapi(&[0x00]);

    // Eject through START STOP UNIT, then load again.
    r.atapi(&[0x1B, 0, 0, 0, 0x02]);
    assert_eq!(r.atapi_fails(&[0x00]), (0x02, 0x3A, 0x00));
    r.atapi(&[0x1B, 0, 0, 0, 0x03]);
    assert_eq!(r.atapi_fails(&[0x00]), (0x06, 0x28, 0x00));
    r.atapi(&[0x00]);
}

#[test]
fn flush_cache_reaches_the_image() {
    let path = std::env::temp_dir().join(format!("ringside-ide-{}-flush", std::process::id()));
    std::fs::write(&path, vec![0u8; 64 * 512]).unwrap();
    let mut r = rig();
    r.ide.attach(
        1,
        true,
        Drive::HardDisk(DiskImage::open(&path, DiskOptions::default()).unwrap()),
    );
    r.outb(S + DEV, 0xB0);
    r.ata28(S, 1, 0x30, 3, 1);
    r.write_bytes(S, &[0x5A; 512]);
    assert_eq!(r.status(S), 0x50);
    r.outb(S + CMD, 0xE7);
    assert!(r.irq(15));
    assert_eq!(r.status(S), 0x50);
    r.outb(S + CMD, 0xEA);
    assert_eq!(r.status(S), 0x50);
    assert_eq!(r.drive(1, 1).flushes, 2);
    assert!(std::fs::read(&path).unwrap()[3 * 512..4 * 512]
        .iter()
        .all(|&b| b == 0x5A));
    r.ide.flush_all().unwrap();
    std::fs::remove_file(path).unwrap();
}

#[test]
fn native_max_address_and_power_commands() {
    let mut r = rig();
    r.outb(P + DEV, 0xE0);
    r.outb(P + CMD, 0xF8);
    assert_eq!(r.status(P), 0x50);
    assert_eq!(r.lba28_regs(P), 16383);
    r.outb(P + CMD, 0x27);
    assert_eq!(r.status(P), 0x50);
    assert_eq!(r.inb(P + LBAM), 0x3F);
    r.devctl(P, 0x80);
    assert_eq!(r.inb(P + LBAL), 0);
    r.devctl(P, 0);
    for cmd in [
        0xE0, 0xE1, 0xE2, 0xE3, 0x94, 0x95, 0x96, 0x97, 0xE6, 0x10, 0x70,
    ] {
        r.outb(P + CMD, cmd);
        assert!(r.irq(14), "command {cmd:#x} interrupts");
        assert_eq!(r.status(P), 0x50, "command {cmd:#x}");
    }
    r.outb(P + CMD, 0x98);
    assert_eq!((r.status(P), r.inb(P + NSECT)), (0x50, 0xFF));
    r.outb(P + FEATURE, 0x82);
    r.outb(P + CMD, 0xEF);
    assert_eq!(r.status(P), 0x50);
    assert!(!r.drive(0, 0).write_cache);
    r.outb(P + FEATURE, 0x03);
    r.outb(P + NSECT, 0x47); // UDMA7 does not exist
    r.outb(P + CMD, 0xEF);
    assert_eq!(r.status(P), 0x41);
}

#[test]
fn state_round_trips_mid_transfer() {
    let mut r = rig();
    r.ata28(P, 0, 0x20, 40, 2);
    assert_eq!(r.status(P), 0x58);
    let first = r.read_bytes(P, 100);
    let saved = r.ide.state();

    let mut other = rig();
    other.ide.restore(saved.clone());
    assert_eq!(other.ide.state(), saved);
    let mut rest = other.read_bytes(P, 412);
    assert!(other.irq(14));
    assert_eq!(other.status(P), 0x58);
    rest.extend(other.read_bytes(P, 512));
    let mut all = first;
    all.extend(rest);
    assert_eq!(all, expected(40, 2, 512));
    assert_eq!(other.alt_status(P), 0x50);
}

#[test]
fn hostile_guest_values_do_not_panic() {
    let mut r = rig();
    // Odd widths and offsets on every register.
    for port in (P..P + 8).chain([PRIMARY_CTL]).chain(BM..BM + 16) {
        for size in [1, 2, 4] {
            let _ = r.ide.io_read(port, size);
            r.ide.io_write(port, size, 0xFFFF_FFFF);
        }
    }
    r.devctl(P, 0);
    // A PRD table of 2-byte entries without EOT running into unbacked memory.
    for i in 0..64 {
        prd(&mut r.ram, 0x1000 + 8 * i, &[(0xFFFF_FFFE, 2, false)]);
    }
    r.ide.config_write(0x04, 2, 0x0005);
    r.bm_setup(0x1000, true);
    r.outb(P + DEV, 0xA0);
    r.ata28(P, 0, 0xC8, 0, 1);
    r.outb(BM, 0x09);
    r.run_dma();
    // A packet with a 1-byte limit still moves data, two bytes at a time.
    r.packet(&[0x12, 0, 0, 0, 8], 1, false);
    let (data, chunks) = r.atapi_pio_in();
    assert_eq!(data.len(), 8);
    assert!(chunks.iter().all(|&c| c == 2));
    // Every opcode on both device kinds.
    for cmd in 0..=255u8 {
        for dev in [0xA0, 0xB0] {
            r.devctl(P, 0x04);
            r.devctl(P, 0x00);
            r.outb(P + DEV, dev);
            r.outb(P + CMD, cmd);
            for _ in 0..300 {
                let _ = r.inw(P);
                r.outw(P, 0xFFFF);
            }
            r.run_dma();
        }
    }
    for op in 0..=255u8 {
        r.devctl(P, 0x04);
        r.devctl(P, 0x00);
        r.packet(
            &[
                op, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ],
            0x10,
            false,
        );
        for _ in 0..64 {
            let _ = r.inw(P);
        }
    }
}
