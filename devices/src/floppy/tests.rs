//! The device driven through its ports the way SeaBIOS and Linux drive it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use emu_core::bus::PortDevice;
use emu_core::control::{MachineControl, REQ_DMA};
use emu_core::irq::IrqLines;

use super::dma8237::{DeviceData, IsaDma};
use super::media::*;
use super::*;
use crate::block::{DiskImage, DiskOptions};
use crate::unimp::UnimpLog;

const DOR: u16 = 0x3F2;
const MSR: u16 = 0x3F4;
const FIFO: u16 = 0x3F5;
const DIR: u16 = 0x3F7;
const CCR: u16 = 0x3F7;

use crate::test_support::Ram;

/// Byte `i` of sector `lba` of a test image.
fn pattern(lba: usize, i: usize) -> u8 {
    (lba as u8).wrapping_mul(37).wrapping_add(i as u8) ^ ((i >> 8) as u8).wrapping_mul(0x55)
}

fn image_of(format: &MediaFormat, read_only: bool) -> DiskImage {
    let size = format.size() as usize;
    let bytes = (0..size).map(|o| pattern(o / 512, o % 512)).collect();
    DiskImage::in_memory(
        bytes,
        DiskOptions {
            read_only,
            ..Default::default()
        },
    )
}

fn format(name: &str) -> &'static MediaFormat {
    FORMATS.iter().find(|f| f.name == name).unwrap()
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Rig {
    dev: IsaDmaFloppy,
    irq: IrqLines,
    control: Arc<MachineControl>,
    ram: Ram,
    log: Sink,
}

impl Rig {
    fn new() -> Self {
        let irq = IrqLines::new();
        let control = Arc::new(MachineControl::new());
        let log = Sink::default();
        let dev = IsaDmaFloppy::new(
            irq.clone(),
            control.clone(),
            UnimpLog::to(Box::new(log.clone())),
        );
        Rig {
            dev,
            irq,
            control,
            ram: Ram(vec![0; 1 << 20]),
            log,
        }
    }

    /// A machine with `name` media in drive A:, controller reset and the drive
    /// recalibrated at the medium's data rate.
    fn with(name: &str, read_only: bool) -> Self {
        let mut r = Rig::new();
        let f = format(name);
        r.dev.insert(0, image_of(f, read_only)).unwrap();
        r.reset_controller();
        r.out(CCR, f.rate);
        r.cmd(&[0x03, 0xAF, 0x02]);
        r.cmd(&[0x07, 0x00]);
        assert!(r.irq6());
        assert_eq!(r.cmd_result(&[0x08]), [0x20, 0]);
        r
    }

    fn out(&mut self, port: u16, v: u8) {
        self.dev.write(port, 1, v as u32);
    }

    fn inb(&mut self, port: u16) -> u8 {
        self.dev.read(port, 1) as u8
    }

    fn irq6(&self) -> bool {
        self.irq.levels() & (1 << FDC_IRQ) != 0
    }

    /// Sends a command the way Linux's `output_byte` does: each byte only when MSR says the
    /// controller wants one.
    fn cmd(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let msr = self.inb(MSR);
            assert_eq!(msr & 0xC0, 0x80, "controller not ready for a command byte");
            self.out(FIFO, b);
        }
    }

    /// Reads the result phase the way Linux's `result()` does.
    fn results(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..16 {
            let msr = self.inb(MSR);
            if msr & 0xD0 == 0xD0 {
                out.push(self.inb(FIFO));
            } else {
                assert_eq!(msr & 0xF0, 0x80, "not back in the command phase");
                return out;
            }
        }
        panic!("result phase never ended");
    }

    fn cmd_result(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.cmd(bytes);
        self.results()
    }

    /// The machine's DMA turn, if one was asked for.
    fn dma_turn(&mut self) -> bool {
        let asked = self.control.take(REQ_DMA) != 0;
        if asked {
            self.dev.run_dma(&mut self.ram);
        }
        asked
    }

    /// Programs 8237 channel 2 as SeaBIOS does.
    fn setup_dma(&mut self, addr: u32, count: u16, mode: u8) {
        self.out(0x0A, 0x06);
        self.out(0x0C, 0);
        self.out(0x04, addr as u8);
        self.out(0x04, (addr >> 8) as u8);
        self.out(0x0C, 0);
        self.out(0x05, count as u8);
        self.out(0x05, (count >> 8) as u8);
        self.out(0x0B, mode);
        self.out(0x81, (addr >> 16) as u8);
        self.out(0x0A, 0x02);
    }

    fn reset_controller(&mut self) {
        self.out(DOR, 0x08);
        assert_eq!(self.inb(MSR), 0, "held in reset");
        self.out(DOR, 0x0C);
        assert!(self.irq6(), "reset interrupt");
        for d in 0..4 {
            assert_eq!(self.cmd_result(&[0x08]), [0xC0 | d, 0]);
            assert!(!self.irq6());
        }
    }

    fn dma_word(&mut self, port: u16) -> u16 {
        self.out(0x0C, 0);
        let lo = self.inb(port) as u16;
        lo | (self.inb(port) as u16) << 8
    }

    fn logged(&self) -> String {
        String::from_utf8(self.log.0.lock().unwrap().clone()).unwrap()
    }

    fn image_sector(&mut self, lba: usize) -> Vec<u8> {
        let mut img = self.dev.eject(0).unwrap();
        let mut buf = vec![0; 512];
        img.read_at(lba as u64 * 512, &mut buf).unwrap();
        self.dev.insert(0, img).unwrap();
        buf
    }
}

#[test]
fn reset_then_four_sense_interrupts() {
    let mut r = Rig::new();
    r.dev.insert(0, image_of(format("1.44M"), false)).unwrap();
    assert_eq!(r.inb(MSR), 0x80, "power-on: idle, ready for a command");
    assert_eq!(r.inb(DOR), 0x0C);
    r.reset_controller();
    // A fifth poll finds nothing: invalid command.
    assert_eq!(r.cmd_result(&[0x08]), [0x80]);
    // A DSR software reset interrupts too and clears itself.
    r.out(MSR, 0x80);
    assert!(r.irq6());
    assert_eq!(r.inb(DOR) & 0x04, 0x04);
    assert_eq!(r.cmd_result(&[0x08]), [0xC0, 0]);
    // SeaBIOS senses once and goes on: the next interrupt ends the polling sequence.
    r.cmd(&[0x07, 0x00]);
    assert_eq!(r.cmd_result(&[0x08]), [0x20, 0]);
    assert_eq!(r.cmd_result(&[0x08]), [0x80]);
}

#[test]
fn version_dumpreg_configure_lock_and_part_id() {
    let mut r = Rig::with("1.44M", false);
    assert_eq!(r.cmd_result(&[0x10]), [0x90]);
    // Linux's probe: CONFIGURE, PERPENDICULAR, UNLOCK, PART ID (invalid on an 82077AA).
    r.cmd(&[0x13, 0x00, 0x1A, 0x00]);
    r.cmd(&[0x12, 0x00]);
    assert_eq!(r.cmd_result(&[0x14]), [0x00]);
    assert_eq!(r.cmd_result(&[0x18]), [0x80]);
    assert_eq!(r.cmd_result(&[0x94]), [0x10], "LOCK");
    r.cmd(&[0x12, 0x80 | 0x08 | 0x03]);
    let d = r.cmd_result(&[0x0E]);
    assert_eq!(d.len(), 10);
    assert_eq!(&d[4..6], &[0xAF, 0x02], "SPECIFY parameters");
    assert_eq!(d[7], 0x80 | 0x0B, "LOCK, D0 and GAP/WGATE");
    assert_eq!(d[8], 0x1A);
    // A software reset keeps the locked FIFO settings but not EIS/POLL or GAP/WGATE.
    r.out(MSR, 0x80);
    for _ in 0..4 {
        r.cmd_result(&[0x08]);
    }
    let d = r.cmd_result(&[0x0E]);
    assert_eq!(d[8], 0x0A);
    assert_eq!(d[7], 0x80 | 0x08);
    assert_eq!(r.cmd_result(&[0x14]), [0x00], "UNLOCK");
    assert!(r.logged().contains("fdc: unimplemented: command 0x18"));
}

#[test]
fn specify_has_no_result_and_no_interrupt() {
    let mut r = Rig::with("1.44M", false);
    r.cmd(&[0x03, 0xDF]);
    assert_eq!(r.inb(MSR), 0x90, "mid-command: busy, wants more");
    r.out(FIFO, 0x03);
    assert_eq!(r.inb(MSR), 0x80);
    assert!(!r.irq6());
    assert_eq!(&r.cmd_result(&[0x0E])[4..6], &[0xDF, 0x03]);
}

#[test]
fn seek_recalibrate_and_relative_seek() {
    let mut r = Rig::with("1.44M", false);
    r.cmd(&[0x0F, 0x00, 10]);
    assert!(r.irq6());
    assert_eq!(r.inb(MSR), 0x81, "drive 0 busy until sensed");
    assert_eq!(r.cmd_result(&[0x08]), [0x20, 10]);
    assert!(!r.irq6());
    assert_eq!(r.inb(MSR), 0x80);
    assert_eq!(r.cmd_result(&[0x04, 0x04]), [0x28 | 0x04], "not on track 0");
    r.cmd(&[0xCF, 0x00, 5]);
    assert_eq!(r.cmd_result(&[0x08]), [0x20, 15]);
    r.cmd(&[0x8F, 0x00, 20]);
    assert_eq!(r.cmd_result(&[0x08]), [0x20, 0], "stops at track 0");
    r.cmd(&[0x0F, 0x00, 40]);
    r.cmd_result(&[0x08]);
    r.cmd(&[0x07, 0x00]);
    assert_eq!(r.cmd_result(&[0x08]), [0x20, 0]);
    assert_eq!(r.cmd_result(&[0x04, 0x00]), [0x28 | 0x10]);
    // Drive B: is not attached: no track 0 signal.
    r.cmd(&[0x07, 0x01]);
    assert_eq!(r.cmd_result(&[0x08]), [0x71, 0]);
}

#[test]
fn read_data_by_dma_across_heads() {
    let mut r = Rig::with("1.44M", false);
    // Sectors 17-18 of head 0 and 1-2 of head 1, cylinder 0: LBAs 16..20.
    r.setup_dma(0x1_2340, 4 * 512 - 1, 0x46);
    r.cmd(&[0xE6, 0x00, 0, 0, 17, 2, 18, 0x1B, 0xFF]);
    assert_eq!(
        r.inb(MSR),
        0x10,
        "execution: no host access until DMA is done"
    );
    assert_eq!(r.inb(0x08) & 0x40, 0x40, "DREQ2 in the 8237 status");
    assert!(!r.irq6());
    assert!(r.dma_turn());
    for lba in 16..20 {
        for i in 0..512 {
            assert_eq!(r.ram.0[0x1_2340 + (lba - 16) * 512 + i], pattern(lba, i));
        }
    }
    assert_eq!(r.ram.0[0x1_2340 + 2048], 0, "nothing past the count");
    assert!(r.irq6());
    assert_eq!(r.inb(MSR), 0xD0);
    assert_eq!(r.inb(FIFO), 0x04, "ST0: normal termination on head 1");
    assert!(!r.irq6(), "the first result byte acknowledges INT");
    let rest = r.results();
    assert_eq!(rest, [0, 0, 0, 1, 3, 2], "ST1 ST2 C H R N");
    // The 8237 after the transfer.
    assert_eq!(r.dma_word(0x04), 0x2B40, "current address");
    assert_eq!(
        r.dma_word(0x05),
        0xFFFF,
        "current count past terminal count"
    );
    assert_eq!(r.inb(0x08), 0x04, "TC on channel 2, no request");
    assert_eq!(r.inb(0x08), 0x00, "reading status clears TC");
    assert_eq!(r.inb(0x0F) & 0x04, 0x04, "channel masked at TC");
}

#[test]
fn terminal_count_in_the_middle_of_a_track_ends_normally() {
    let mut r = Rig::with("1.44M", false);
    r.cmd(&[0x0F, 0x00, 2]);
    r.cmd_result(&[0x08]);
    // Linux reads to EOT = 18 and lets the DMA count end the command after 3 sectors.
    r.setup_dma(0x8000, 3 * 512 - 1, 0x46);
    r.cmd(&[0x46, 0x04, 2, 1, 5, 2, 18, 0x1B, 0xFF]);
    assert!(r.dma_turn());
    let lba = (2 * 2 + 1) * 18 + 4;
    assert_eq!(r.ram.0[0x8000 + 512 * 2 + 3], pattern(lba + 2, 3));
    assert_eq!(r.results(), [0x04, 0, 0, 2, 1, 8, 2]);
}

#[test]
fn read_past_the_end_of_the_track() {
    let mut r = Rig::with("1.44M", false);
    // No MT: sectors 17 and 18, then the end of the track without terminal count.
    r.setup_dma(0x4000, 3 * 512 - 1, 0x46);
    r.cmd(&[0x46, 0x00, 0, 0, 17, 2, 18, 0x1B, 0xFF]);
    assert!(r.dma_turn());
    assert_eq!(
        r.results(),
        [0x40, 0x80, 0, 1, 0, 1, 2],
        "abnormal, end of cylinder"
    );
    assert_eq!(r.dma_word(0x05), 511, "one sector's worth of count left");
    assert_eq!(r.ram.0[0x4000 + 1024], 0);
    // EOT beyond the physical track ends at its last sector all the same.
    r.setup_dma(0x4000, 3 * 512 - 1, 0x46);
    r.cmd(&[0x46, 0x00, 0, 0, 18, 2, 20, 0x1B, 0xFF]);
    assert!(r.dma_turn());
    assert_eq!(r.results(), [0x40, 0x80, 0, 1, 0, 1, 2]);
    // A sector the track does not have: no data.
    r.setup_dma(0x4000, 511, 0x46);
    r.cmd(&[0x46, 0x00, 0, 0, 19, 2, 19, 0x1B, 0xFF]);
    assert!(!r.dma_turn(), "fails before any DMA");
    assert_eq!(r.results(), [0x40, 0x04, 0, 0, 0, 19, 2]);
    // A cylinder the medium does not have: no address marks at all.
    r.cmd(&[0x46, 0x00, 85, 0, 1, 2, 18, 0x1B, 0xFF]);
    assert_eq!(r.results(), [0x40, 0x01, 0, 85, 0, 1, 2]);
    r.cmd(&[0x0F, 0x00, 0]);
    assert_eq!(r.cmd_result(&[0x08]), [0x20, 0]);
}

#[test]
fn write_data_reaches_the_image() {
    let mut r = Rig::with("1.44M", false);
    for i in 0..1024 {
        r.ram.0[0x2_0000 + i] = (i * 3) as u8;
    }
    r.setup_dma(0x2_0000, 1023, 0x4A);
    r.cmd(&[0xC5, 0x04, 3, 1, 7, 2, 18, 0x1B, 0xFF]);
    assert!(r.dma_turn());
    assert_eq!(r.results(), [0x04, 0, 0, 3, 1, 9, 2]);
    let lba = (3 * 2 + 1) * 18 + 6;
    let s0 = r.image_sector(lba);
    let s1 = r.image_sector(lba + 1);
    assert!(s0.iter().enumerate().all(|(i, &b)| b == (i * 3) as u8));
    assert!(s1
        .iter()
        .enumerate()
        .all(|(i, &b)| b == ((i + 512) * 3) as u8));
    assert_eq!(r.image_sector(lba + 2)[0], pattern(lba + 2, 0), "untouched");
    // Terminal count inside a sector: the rest of it is written as zeros.
    r.setup_dma(0x2_0000, 99, 0x4A);
    r.cmd(&[0xC5, 0x00, 3, 0, 1, 2, 18, 0x1B, 0xFF]);
    assert!(r.dma_turn());
    assert_eq!(r.results(), [0x00, 0, 0, 3, 0, 2, 2]);
    let s = r.image_sector(3 * 2 * 18);
    assert!(s[..100]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i * 3) as u8));
    assert!(s[100..].iter().all(|&b| b == 0));
    // And it reads back through READ DATA.
    r.setup_dma(0x3_0000, 511, 0x46);
    r.cmd(&[0x66, 0x00, 3, 0, 1, 2, 1, 0x1B, 0xFF]);
    assert!(r.dma_turn());
    assert_eq!(r.results(), [0x00, 0, 0, 4, 0, 1, 2]);
    assert_eq!(&r.ram.0[0x3_0000..0x3_0000 + 512], &s[..]);
    r.dev.flush_all().unwrap();
}

#[test]
fn no_medium() {
    let mut r = Rig::with("1.44M", false);
    r.dev.eject(0).unwrap();
    assert_eq!(r.inb(DIR), 0x80, "disk change line");
    assert_eq!(r.cmd_result(&[0x04, 0x00]), [0x28 | 0x40 | 0x10]);
    r.setup_dma(0x4000, 511, 0x46);
    r.cmd(&[0xE6, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
    assert!(!r.dma_turn());
    assert!(r.irq6());
    assert_eq!(r.results(), [0x40, 0x01, 0, 0, 0, 1, 2]);
    assert_eq!(r.cmd_result(&[0x4A, 0x00])[..2], [0x40, 0x01], "READ ID");
    // Seeking cannot clear the change line without a disk.
    r.cmd(&[0x0F, 0x00, 5]);
    r.cmd_result(&[0x08]);
    assert_eq!(r.inb(DIR), 0x80);
}

#[test]
fn write_protected_medium() {
    let mut r = Rig::with("1.44M", true);
    assert_eq!(r.cmd_result(&[0x04, 0x00]), [0x28 | 0x40 | 0x10]);
    r.setup_dma(0x4000, 511, 0x4A);
    r.cmd(&[0xC5, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
    assert!(!r.dma_turn(), "refused before any DMA");
    assert_eq!(r.results(), [0x40, 0x02, 0, 0, 0, 1, 2]);
    r.cmd(&[0x4D, 0x00, 2, 18, 0x6C, 0xF6]);
    assert_eq!(r.results()[..2], [0x40, 0x02]);
    assert_eq!(r.image_sector(0)[5], pattern(0, 5));
    // Reading is fine.
    r.setup_dma(0x4000, 511, 0x46);
    r.cmd(&[0xE6, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
    assert!(r.dma_turn());
    assert_eq!(r.results()[..3], [0x04, 0, 0]);
}

#[test]
fn disk_change_line() {
    let mut r = Rig::new();
    r.dev.insert(0, image_of(format("1.44M"), false)).unwrap();
    r.reset_controller();
    r.out(DOR, 0x1C);
    assert_eq!(r.inb(DIR), 0x80, "set at power-on");
    r.cmd(&[0x07, 0x00]);
    r.cmd_result(&[0x08]);
    assert_eq!(r.inb(DIR), 0x80, "no step pulse, no reset of the line");
    r.cmd(&[0x0F, 0x00, 1]);
    r.cmd_result(&[0x08]);
    assert_eq!(r.inb(DIR), 0x00, "a step with a disk in clears it");
    // Drive B: is not attached.
    r.out(DOR, 0x2D);
    assert_eq!(r.inb(DIR), 0x00);
    r.out(DOR, 0x1C);
    let img = r.dev.eject(0).unwrap();
    assert_eq!(r.inb(DIR), 0x80);
    r.dev.insert(0, img).unwrap();
    assert_eq!(r.inb(DIR), 0x80);
    r.cmd(&[0x0F, 0x00, 2]);
    r.cmd_result(&[0x08]);
    assert_eq!(r.inb(DIR), 0x00);
}

#[test]
fn dma_registers_read_back() {
    let mut r = Rig::new();
    r.out(0x0D, 0);
    assert_eq!(r.inb(0x0F), 0xFF, "master clear masks everything");
    r.out(0x0C, 0);
    r.out(0x02, 0x34);
    r.out(0x02, 0x12);
    r.out(0x03, 0xFF);
    r.out(0x03, 0x01);
    assert_eq!(r.dma_word(0x02), 0x1234);
    assert_eq!(r.dma_word(0x03), 0x01FF);
    // DMA2: channel 5's address and count at 0xC4 and 0xC6, odd ports aliasing.
    r.out(0xD8, 0);
    r.out(0xC4, 0x78);
    r.out(0xC5, 0x56);
    r.out(0xD8, 0);
    assert_eq!(r.inb(0xC4), 0x78);
    assert_eq!(r.inb(0xC4), 0x56);
    r.out(0x8B, 0x12);
    r.out(0x81, 0x0A);
    r.out(0x84, 0x99);
    assert_eq!([r.inb(0x8B), r.inb(0x81), r.inb(0x84)], [0x12, 0x0A, 0x99]);
    r.out(0x0E, 0);
    assert_eq!(r.inb(0x0F), 0xF0, "clear mask register");
    r.out(0x0F, 0x05);
    assert_eq!(r.inb(0x0F), 0xF5, "write all mask bits");
    r.out(0x0A, 0x04 | 1);
    assert_eq!(r.inb(0x0F), 0xF7, "single mask bit");
    assert_eq!(r.inb(0xDE), 0xFF, "DMA2 mask after reset");
    // Port 0x80 is not ours.
    assert!(!ports().contains(&0x80));
    assert!(!ports().contains(&0x3F6));
    assert_eq!(ports().len(), 16 + 15 + 32 + 7);
}

#[test]
fn masked_channel_waits_without_spinning() {
    let mut r = Rig::with("1.44M", false);
    r.setup_dma(0x5000, 511, 0x46);
    r.out(0x0A, 0x06);
    r.cmd(&[0xE6, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
    assert!(!r.dma_turn(), "no DMA turn while the channel is masked");
    r.dev.run_dma(&mut r.ram);
    assert_eq!(r.inb(MSR), 0x10);
    assert_eq!(r.inb(0x08), 0x40, "the request is visible");
    // The DMA gate in the DOR also holds DRQ (and INT) back.
    r.out(DOR, 0x14);
    r.out(0x0A, 0x02);
    assert!(!r.dma_turn());
    r.out(DOR, 0x1C);
    assert!(r.dma_turn());
    // MT: the end of head 0's track continues on head 1 (data sheet table: H complemented).
    assert_eq!(r.results(), [0x04, 0, 0, 0, 1, 1, 2]);
    assert_eq!(r.ram.0[0x5000 + 9], pattern(0, 9));
}

#[test]
fn dma_gate_holds_the_interrupt() {
    let mut r = Rig::with("1.44M", false);
    r.out(DOR, 0x14);
    r.cmd(&[0x0F, 0x00, 3]);
    assert!(!r.irq6());
    r.out(DOR, 0x1C);
    assert!(r.irq6());
    assert_eq!(r.cmd_result(&[0x08]), [0x20, 3]);
}

#[test]
fn non_dma_read_and_write() {
    let mut r = Rig::with("1.44M", false);
    r.cmd(&[0x03, 0xAF, 0x03]);
    r.cmd(&[0x46, 0x00, 0, 0, 2, 2, 3, 0x1B, 0xFF]);
    assert!(r.irq6(), "data request interrupt");
    assert!(!r.dma_turn());
    let mut data = Vec::new();
    while r.inb(MSR) & 0xE0 == 0xE0 {
        data.push(r.inb(FIFO));
    }
    assert_eq!(data.len(), 1024);
    assert!(data
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern(1 + i / 512, i % 512)));
    // No terminal count without DMA: the controller runs into EOT.
    assert_eq!(r.results(), [0x40, 0x80, 0, 1, 0, 1, 2]);
    assert!(!r.irq6());
    r.cmd(&[0x45, 0x00, 1, 0, 1, 2, 1, 0x1B, 0xFF]);
    assert_eq!(r.inb(MSR), 0xB0);
    for i in 0..512 {
        r.out(FIFO, i as u8 ^ 0x5A);
    }
    assert_eq!(r.results(), [0x40, 0x80, 0, 2, 0, 1, 2]);
    let s = r.image_sector(36);
    assert!(s.iter().enumerate().all(|(i, &b)| b == i as u8 ^ 0x5A));
}

#[test]
fn data_rate_decides_what_read_id_finds() {
    let mut r = Rig::new();
    r.dev.insert(0, image_of(format("720K"), false)).unwrap();
    assert_eq!(r.dev.drive_type(0), DRIVE_720K);
    r.reset_controller();
    r.out(CCR, RATE_500K);
    assert_eq!(r.cmd_result(&[0x4A, 0x00])[..2], [0x40, 0x01]);
    r.out(CCR, RATE_250K);
    assert_eq!(r.cmd_result(&[0x4A, 0x00]), [0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(
        r.cmd_result(&[0x4A, 0x04]),
        [0x04, 0, 0, 0, 1, 2, 2],
        "the disk turns"
    );
    // FM never finds an MFM address mark.
    assert_eq!(r.cmd_result(&[0x0A, 0x00])[..2], [0x40, 0x01]);
    // A 360K disk answers at 250 and 300 kbit/s, not at 500.
    let mut r = Rig::new();
    r.dev.insert(0, image_of(format("360K"), false)).unwrap();
    r.reset_controller();
    for (rate, ok) in [(RATE_300K, true), (RATE_250K, true), (RATE_500K, false)] {
        r.out(CCR, rate);
        assert_eq!(
            r.cmd_result(&[0x4A, 0x04])[0] & 0xC0 == 0,
            ok,
            "rate {rate}"
        );
    }
    // Single-sided media have no head 1.
    let mut r = Rig::new();
    r.dev.insert(0, image_of(format("180K"), false)).unwrap();
    r.reset_controller();
    r.out(CCR, RATE_250K);
    assert_eq!(r.cmd_result(&[0x4A, 0x04])[..2], [0x44, 0x01]);
}

#[test]
fn format_track_by_dma() {
    let mut r = Rig::with("1.44M", false);
    r.cmd(&[0x0F, 0x00, 4]);
    r.cmd_result(&[0x08]);
    for s in 0..18usize {
        r.ram.0[0x6000 + s * 4..0x6000 + s * 4 + 4].copy_from_slice(&[4, 1, s as u8 + 1, 2]);
    }
    r.setup_dma(0x6000, 18 * 4 - 1, 0x4A);
    r.cmd(&[0x4D, 0x04, 2, 18, 0x6C, 0xF6]);
    assert!(r.dma_turn());
    assert_eq!(r.results()[..3], [0x04, 0, 0]);
    let first = (4 * 2 + 1) * 18;
    for lba in [first, first + 9, first + 17] {
        assert!(r.image_sector(lba).iter().all(|&b| b == 0xF6));
    }
    assert_eq!(r.image_sector(first + 18)[0], pattern(first + 18, 0));
    assert_eq!(r.image_sector(first - 1)[0], pattern(first - 1, 0));
    // As SeaBIOS does it: no seek first, the IDs say which cylinder (here 6, head 0).
    for s in 0..18usize {
        r.ram.0[0x6000 + s * 4..0x6000 + s * 4 + 4].copy_from_slice(&[6, 0, s as u8 + 1, 2]);
    }
    r.setup_dma(0x6000, 18 * 4 - 1, 0x4A);
    r.cmd(&[0x4D, 0x00, 2, 18, 0x6C, 0xE5]);
    assert!(r.dma_turn());
    assert_eq!(r.results()[..3], [0x00, 0, 0]);
    assert!(r.image_sector(6 * 36 + 5).iter().all(|&b| b == 0xE5));
    assert_eq!(
        r.image_sector(4 * 36)[0],
        pattern(4 * 36, 0),
        "head 0 of cylinder 4 kept"
    );
    // Terminal count ends the format early.
    r.setup_dma(0x6000, 2 * 4 - 1, 0x4A);
    r.cmd(&[0x4D, 0x00, 2, 18, 0x6C, 0x11]);
    assert!(r.dma_turn());
    assert_eq!(r.results()[..3], [0x00, 0, 0]);
    assert_eq!(r.image_sector(6 * 36 + 1)[0], 0x11);
    assert_eq!(r.image_sector(6 * 36 + 2)[0], 0xE5);
}

#[test]
fn verify_counts_sectors() {
    let mut r = Rig::with("1.44M", false);
    // EC = 1: two sectors from 16, then three (the last one is the track's last).
    assert_eq!(
        r.cmd_result(&[0x56, 0x80, 0, 0, 16, 2, 18, 0x1B, 2]),
        [0x00, 0, 0, 0, 0, 18, 2]
    );
    assert_eq!(
        r.cmd_result(&[0x56, 0x80, 0, 0, 16, 2, 18, 0x1B, 3]),
        [0x00, 0, 0, 1, 0, 1, 2]
    );
    // With MT the count goes on to head 1.
    assert_eq!(
        r.cmd_result(&[0xD6, 0x80, 0, 0, 17, 2, 18, 0x1B, 4]),
        [0x04, 0, 0, 0, 1, 3, 2]
    );
    // Without MT, five sectors from 16 run off the track.
    assert_eq!(
        r.cmd_result(&[0x56, 0x80, 0, 0, 16, 2, 18, 0x1B, 5]),
        [0x40, 0x80, 0, 1, 0, 1, 2]
    );
    // EC = 0 verifies up to EOT.
    assert_eq!(
        r.cmd_result(&[0xD6, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]),
        [0x00, 0, 0, 1, 0, 1, 2]
    );
}

#[test]
fn unsupported_commands_take_their_parameters() {
    let mut r = Rig::with("1.44M", false);
    r.cmd(&[0x4C, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF]);
    assert!(r.irq6());
    assert_eq!(r.results()[0], 0x40);
    assert!(r.logged().contains("READ DELETED DATA"));
    assert_eq!(r.cmd_result(&[0x10]), [0x90], "still in step");
}

#[test]
fn media_sizes_and_drive_types() {
    let mut r = Rig::new();
    let err = r
        .dev
        .insert(
            0,
            DiskImage::in_memory(vec![0; 1000], DiskOptions::default()),
        )
        .unwrap_err();
    assert!(err.to_string().contains("1.44M") && !err.to_string().contains('\n'));
    assert_eq!(r.dev.drive_type(0), 0);
    r.dev.insert(0, image_of(format("1.44M"), false)).unwrap();
    r.dev.insert(1, image_of(format("1.2M"), false)).unwrap();
    assert_eq!(r.dev.cmos_drive_types(), 0x42);
    // A 1.44M drive takes 720K media but not 5.25" ones.
    r.dev.insert(0, image_of(format("720K"), false)).unwrap();
    assert!(r.dev.insert(0, image_of(format("360K"), false)).is_err());
    assert!(r.dev.insert(2, image_of(format("360K"), false)).is_err());
    for (name, t) in [
        ("160K", 1),
        ("180K", 1),
        ("320K", 1),
        ("360K", 1),
        ("1.2M", 2),
        ("720K", 3),
        ("1.44M", 4),
        ("2.88M", 5),
    ] {
        assert_eq!(format_for_size(format(name).size()).unwrap().drive_type, t);
    }
    assert_eq!(format("2.88M").size(), 2_949_120);
    assert_eq!(format("160K").size(), 163_840);
}

#[test]
fn state_survives_a_round_trip_mid_command() {
    let mut r = Rig::with("1.44M", false);
    r.setup_dma(0x7000, 511, 0x46);
    r.cmd(&[0xE6, 0x00, 0, 0, 3, 2, 3, 0x1B, 0xFF]);
    let saved = r.dev.state();
    let img = r.dev.eject(0).unwrap();
    let mut fresh = IsaDmaFloppy::new(r.irq.clone(), r.control.clone(), UnimpLog::disabled());
    fresh.insert(0, img).unwrap();
    fresh.restore(saved.clone());
    assert_eq!(fresh.state(), saved);
    r.dev = fresh;
    assert!(r.dma_turn());
    assert_eq!(r.results(), [0x04, 0, 0, 0, 1, 1, 2]);
    assert_eq!(r.ram.0[0x7000 + 1], pattern(2, 1));
    // A damaged state cannot make the device panic.
    let mut bad = saved;
    if let Some(t) = bad.fdc.transfer.as_mut() {
        t.buf.clear();
        t.pos = 99;
    }
    bad.fdc.result_pos = 50;
    r.dev.restore(bad);
    r.dev.run_dma(&mut r.ram);
    assert_eq!(r.inb(MSR), 0x80);
}

#[test]
fn machine_reset_returns_to_power_on() {
    let mut r = Rig::with("1.44M", false);
    r.setup_dma(0x7000, 511, 0x46);
    r.cmd(&[0xE6, 0x00, 0, 0, 3, 2, 3, 0x1B, 0xFF]);
    r.dev.reset();
    assert!(!r.irq6());
    assert_eq!(r.inb(MSR), 0x80);
    assert_eq!(r.inb(0x0F), 0xFF);
    r.control.take(REQ_DMA);
    r.dev.run_dma(&mut r.ram);
    assert_eq!(r.ram.0[0x7000], 0);
}

#[test]
fn dma_decrement_autoinit_and_word_channels() {
    let mut dma = IsaDma::new(UnimpLog::disabled());
    let mut ram = Ram(vec![0; 1 << 20]);
    // Channel 1, decrement + auto-initialise + write to memory.
    dma.write(0x0C, 0);
    dma.write(0x02, 0x03);
    dma.write(0x02, 0x10);
    dma.write(0x03, 3);
    dma.write(0x03, 0);
    dma.write(0x83, 0x02);
    dma.write(0x0B, 0x20 | 0x10 | 0x04 | 1);
    dma.write(0x0A, 1);
    let out = dma.transfer(1, &mut ram, DeviceData::ToMemory(&[1, 2, 3, 4, 5, 6]));
    assert_eq!(out, super::dma8237::Transferred { bytes: 4, tc: true });
    assert_eq!(&ram.0[0x2_1000..0x2_1004], &[4, 3, 2, 1]);
    assert!(
        dma.channel_ready(1),
        "auto-initialise keeps the channel unmasked"
    );
    assert_eq!(dma.read(0x08, 0), 0x02);
    dma.write(0x0C, 0);
    assert_eq!(
        [dma.read(0x02, 0), dma.read(0x02, 0)],
        [0x03, 0x10],
        "reloaded"
    );
    // Channel 5 moves words: page bits 23:17, word address.
    dma.write(0xD8, 0);
    dma.write(0xC4, 0x00);
    dma.write(0xC4, 0x80);
    dma.write(0xC6, 1);
    dma.write(0xC6, 0);
    dma.write(0x8B, 0x03);
    dma.write(0xD6, 0x08 | 1);
    dma.write(0xD4, 1);
    for (i, b) in ram.0[0x3_0000..0x3_0004].iter_mut().enumerate() {
        *b = 0xA0 + i as u8;
    }
    let mut buf = [0u8; 6];
    let out = dma.transfer(5, &mut ram, DeviceData::FromMemory(&mut buf));
    assert_eq!(out.bytes, 4);
    assert!(out.tc);
    assert_eq!(buf, [0xA0, 0xA1, 0xA2, 0xA3, 0, 0]);
    assert!(!dma.channel_ready(5));
    // The address wraps inside the 64K page.
    dma.write(0x0C, 0);
    dma.write(0x06, 0xFF);
    dma.write(0x06, 0xFF);
    dma.write(0x07, 1);
    dma.write(0x07, 0);
    dma.write(0x82, 0x04);
    dma.write(0x0B, 0x44 | 3);
    dma.write(0x0A, 3);
    dma.transfer(3, &mut ram, DeviceData::ToMemory(&[7, 8]));
    assert_eq!(ram.0[0x4_FFFF], 7);
    assert_eq!(ram.0[0x4_0000], 8);
    assert_eq!(ram.0[0x5_0000], 0);
}

#[test]
fn random_port_traffic_never_panics() {
    let mut r = Rig::new();
    r.dev.insert(0, image_of(format("1.44M"), false)).unwrap();
    r.dev.insert(1, image_of(format("360K"), true)).unwrap();
    let ports = ports();
    let mut seed = 0x1234_5678u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..200_000 {
        let v = next();
        // Mostly the FDC, so that commands get far enough to move data.
        let port = if v & 3 != 0 {
            0x3F0 + (v >> 8) as u16 % 8
        } else {
            ports[(v >> 8) as usize % ports.len()]
        };
        let value = (next() >> 5) as u8;
        if v & 0x10 != 0 {
            r.dev
                .write(port, 1 + (v >> 20) as u8 % 4, value as u32 * 0x0101_0101);
        } else {
            r.dev.read(port, 1);
        }
        if v & 0x3F == 0 {
            r.dma_turn();
        }
    }
    r.dev.flush_all().unwrap();
}
