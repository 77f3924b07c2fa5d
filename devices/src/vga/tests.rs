use std::sync::Arc;

use emu_core::bus::PortDevice;
use emu_core::clock::{Clock, ClockMode};
use emu_core::control::MachineControl;
use emu_core::irq::IrqLines;

use super::memory::plane_index;
use super::regs::*;
use super::*;

const VGABIOS: &str = "/work/main/.cache/guests/vgabios-stdvga.bin";

struct Rig {
    vga: StdVga,
    clock: Clock,
    display: DisplayHandle,
}

fn rig_with_rom(rom: Option<Vec<u8>>) -> Rig {
    let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
    let display = DisplayHandle::new();
    let vga = StdVga::new(rom, clock.clone(), display.clone(), UnimpLog::disabled());
    Rig {
        vga,
        clock,
        display,
    }
}

fn rig() -> Rig {
    rig_with_rom(None)
}

impl Rig {
    fn outb(&mut self, port: u16, v: u8) {
        assert!(self.vga.io_write(port, 1, v as u32), "port {port:#x}");
    }
    fn outw(&mut self, port: u16, v: u16) {
        assert!(self.vga.io_write(port, 2, v as u32), "port {port:#x}");
    }
    fn inb(&mut self, port: u16) -> u8 {
        self.vga.io_read(port, 1).expect("decoded") as u8
    }
    fn inw(&mut self, port: u16) -> u16 {
        self.vga.io_read(port, 2).expect("decoded") as u16
    }
    fn seq(&mut self, i: u8, v: u8) {
        self.outb(0x3C4, i);
        self.outb(0x3C5, v);
    }
    fn gr(&mut self, i: u8, v: u8) {
        self.outb(0x3CE, i);
        self.outb(0x3CF, v);
    }
    fn crtc(&mut self, i: u8, v: u8) {
        self.outb(0x3D4, i);
        self.outb(0x3D5, v);
    }
    fn read_crtc(&mut self, i: u8) -> u8 {
        self.outb(0x3D4, i);
        self.inb(0x3D5)
    }
    fn attr(&mut self, i: u8, v: u8) {
        self.inb(0x3DA);
        self.outb(0x3C0, i | AR_PAS);
        self.outb(0x3C0, v);
    }
    fn writeb(&mut self, addr: u64, v: u8) {
        assert!(self.vga.mmio_write(addr, 1, v as u64), "{addr:#x}");
    }
    fn readb(&mut self, addr: u64) -> u8 {
        self.vga.mmio_read(addr, 1).expect("decoded") as u8
    }
    fn dispi(&mut self, index: u16, v: u16) {
        self.outw(vbe::INDEX_PORT, index);
        self.outw(vbe::DATA_PORT, v);
    }
    fn read_dispi(&mut self, index: u16) -> u16 {
        self.outw(vbe::INDEX_PORT, index);
        self.inw(vbe::DATA_PORT)
    }
    /// Writes text with `attr` at row/column of an 80-column screen at 0xB8000.
    fn put(&mut self, row: u64, col: u64, s: &str, attr: u8) {
        for (i, b) in s.bytes().enumerate() {
            let a = 0xB8000 + (row * 80 + col + i as u64) * 2;
            let word = b as u64 | (attr as u64) << 8;
            assert!(self.vga.mmio_write(a, 2, word));
        }
    }
    /// Lets 20 ms of virtual time pass and polls, as the machine loop does.
    fn poll(&mut self) -> Option<u64> {
        self.clock
            .warp_to(self.clock.now_ns() + PUBLISH_INTERVAL_NS);
        self.vga.poll_timer(self.clock.now_ns())
    }
    fn text(&mut self) -> TextScreen {
        self.poll();
        self.display.text().expect("a text screen")
    }
    fn plane(&self, plane: usize, offset: usize) -> u8 {
        self.vga.vram()[plane_index(plane, offset)]
    }
    /// Mode 12h-style planar memory access: A0000 64 KiB, sequential, write mode 0.
    fn planar(&mut self) {
        self.seq(2, 0x0F);
        self.seq(4, 0x06);
        self.gr(5, 0x00);
        self.gr(6, 0x05);
        self.gr(1, 0x00);
        self.gr(3, 0x00);
        self.gr(8, 0xFF);
    }
    /// Fills the four planes at `offset` through the map mask.
    fn fill_planes(&mut self, offset: u64, bytes: [u8; 4]) {
        let saved = self.vga.regs().gr;
        // Write mode 0, no set/reset, no rotation or logical operation, all bits.
        for (i, v) in [(1, 0), (3, 0), (5, 0), (8, 0xFF)] {
            self.gr(i, v);
        }
        for (p, b) in bytes.iter().enumerate() {
            self.seq(2, 1 << p);
            self.writeb(0xA0000 + offset, *b);
        }
        self.seq(2, 0x0F);
        for i in [1, 3, 5, 8] {
            self.gr(i as u8, saved[i]);
        }
    }
    fn planes_at(&self, offset: usize) -> [u8; 4] {
        [0, 1, 2, 3].map(|p| self.plane(p, offset))
    }
}

#[test]
fn pci_identity_matches_qemu_std_vga() {
    let mut r = rig();
    assert_eq!(r.vga.config_read(0x00, 4), 0x1111_1234);
    assert_eq!(r.vga.config_read(0x08, 4), 0x0300_0002);
    assert_eq!(r.vga.config_read(0x2C, 4), 0x1100_1AF4);
    assert_eq!(
        r.vga.config_read(0x10, 4),
        0x08,
        "prefetchable 32-bit memory BAR"
    );
    r.vga.config_write(0x10, 4, 0xFFFF_FFFF);
    assert_eq!(r.vga.config_read(0x10, 4), 0xFF00_0008, "16 MiB");
    r.vga.config_write(0x18, 4, 0xFFFF_FFFF);
    assert_eq!(r.vga.config_read(0x18, 4), 0xFFFF_F000, "4 KiB MMIO");
    r.vga.config_write(0x30, 4, 0xFFFF_FFFF);
    assert_eq!(r.vga.config_read(0x30, 4), 0, "no ROM, no ROM BAR");
    r.vga.config_write(0x40, 4, 0xFFFF_FFFF);
    assert_eq!(r.vga.config_read(0x40, 4), 0);
}

#[test]
fn text_written_to_b8000_is_published_after_a_poll() {
    let mut r = rig();
    r.put(0, 0, "Hello, VGA", 0x1F);
    r.put(24, 70, "bottom", 0x07);
    assert_eq!(r.display.screen(), Screen::Blank, "nothing before a poll");
    let t = r.text();
    assert_eq!((t.cols, t.rows), (80, 25));
    assert_eq!(t.cell(0, 0), Some(0x1F48));
    assert!(t.lines()[0].starts_with("Hello, VGA"));
    assert!(t.lines()[24].ends_with("bottom    "));
    assert!(t.contains("VGA") && !t.contains("Goodbye"));
    assert_eq!(t.cursor, Some((0, 0)), "mode 3 cursor is on");
    // Byte-wide and dword-wide writes land in the same cells.
    r.writeb(0xB8000 + 2 * 81, b'Z');
    assert!(r.vga.mmio_write(0xB8000 + 2 * 82, 4, 0x0E41_0E42));
    let t = r.text();
    assert_eq!(&t.lines()[1][1..4], "ZBA");
    assert_eq!(t.cell(1, 2), Some(0x0E42));
    assert_eq!(r.vga.mmio_read(0xB8000, 2), Some(0x1F48));
}

#[test]
fn crtc_start_address_and_offset_move_the_screen() {
    let mut r = rig();
    r.put(0, 0, "first", 7);
    r.put(1, 0, "second", 7);
    r.crtc(0x0C, 0);
    r.crtc(0x0D, 80);
    let t = r.text();
    assert!(t.lines()[0].starts_with("second"));
    assert_eq!(t.cursor, None, "cursor at 0 is above the new start");
    // CR13 = 0x50: 160 characters per row, the screen shows every other 80-column row.
    r.crtc(0x0D, 0);
    r.crtc(0x13, 0x50);
    r.put(2, 0, "third", 7);
    let t = r.text();
    assert!(t.lines()[0].starts_with("first"));
    assert!(t.lines()[1].starts_with("third"));
}

#[test]
fn eight_line_characters_give_80x50() {
    let mut r = rig();
    // Mode 3 with an 8x8 font: maximum scan line 7 (line compare bit 9 kept), 400 lines.
    let cr09 = r.read_crtc(0x09);
    r.crtc(0x09, (cr09 & 0xE0) | 7);
    r.crtc(0x0A, 0x06);
    r.crtc(0x0B, 0x07);
    r.put(49, 0, "last row", 0x07);
    let pos: u16 = 49 * 80 + 3;
    r.crtc(0x0E, (pos >> 8) as u8);
    r.crtc(0x0F, pos as u8);
    let t = r.text();
    assert_eq!((t.cols, t.rows), (80, 50));
    assert!(t.lines()[49].starts_with("last row"));
    assert_eq!(t.cursor, Some((49, 3)));
    // Double scanning halves the rows again.
    r.crtc(0x09, 0x80 | 7);
    assert_eq!(r.text().rows, 25);
}

#[test]
fn cursor_location_and_disable() {
    let mut r = rig();
    let pos = 5 * 80 + 7;
    r.crtc(0x0E, (pos >> 8) as u8);
    r.crtc(0x0F, pos as u8);
    assert_eq!(r.text().cursor, Some((5, 7)));
    r.crtc(0x0A, 0x20 | 0x0D);
    assert_eq!(r.text().cursor, None, "CR0A bit 5");
    r.crtc(0x0A, 0x0F);
    r.crtc(0x0B, 0x0E);
    assert_eq!(r.text().cursor, None, "start below end");
    r.crtc(0x0A, 0x00);
    r.crtc(0x0F, 0xFF);
    r.crtc(0x0E, 0x3F);
    assert_eq!(r.text().cursor, None, "past the screen");
}

#[test]
fn misc_output_selects_mono_or_colour_crtc() {
    let mut r = rig();
    assert_eq!(r.inb(0x3CC), 0x67);
    r.outb(0x3D4, 0x0E);
    assert_eq!(r.inb(0x3D4), 0x0E);
    assert_eq!(r.inb(0x3B4), 0xFF, "mono block inactive in colour mode");
    r.outb(0x3C2, 0x66);
    assert_eq!(r.inb(0x3D5), 0xFF);
    r.outb(0x3B4, 0x0F);
    r.outb(0x3B5, 0x42);
    assert_eq!(r.inb(0x3B5), 0x42);
    assert_eq!(r.vga.regs().cr(0x0F), 0x42);
    assert_eq!(r.vga.io_read(0x3B0, 1), None, "not decoded");
    assert_eq!(r.vga.io_read(0x3BC, 1), None, "left to a parallel port");
}

#[test]
fn word_writes_to_index_ports_set_index_and_data() {
    let mut r = rig();
    r.outw(0x3D4, 0x120E);
    assert_eq!(r.read_crtc(0x0E), 0x12);
    r.outw(0x3C4, 0x0402);
    assert_eq!(r.vga.regs().seq[2], 0x04);
    r.outw(0x3CE, 0xFF05);
    assert_eq!(r.vga.regs().gr[5], 0x7B, "reserved bits read as zero");
    assert_eq!(r.inw(0x3CE), 0x7B05);
}

#[test]
fn crtc_protect_bit_guards_registers_0_to_7() {
    let mut r = rig();
    r.crtc(0x11, 0x8E);
    r.crtc(0x01, 0x27);
    assert_eq!(r.read_crtc(0x01), 0x4F);
    r.crtc(0x07, 0x00);
    assert_eq!(r.read_crtc(0x07), 0x0F, "only line compare bit 8 changes");
    r.crtc(0x11, 0x0E);
    r.crtc(0x01, 0x27);
    assert_eq!(r.read_crtc(0x01), 0x27);
}

#[test]
fn attribute_flip_flop_is_reset_by_input_status_1() {
    let mut r = rig();
    r.inb(0x3DA);
    r.outb(0x3C0, 0x31); // index 0x11 (overscan), PAS set
                         // Leave the flip-flop on "data", then reset it by reading 0x3DA.
    r.inb(0x3DA);
    r.outb(0x3C0, 0x32);
    assert_eq!(r.inb(0x3C0), 0x32, "treated as an index");
    r.outb(0x3C0, 0x0F);
    assert_eq!(r.inb(0x3C1), 0x0F);
    assert_eq!(r.vga.regs().attr[0x12], 0x0F);
    // Clearing PAS blanks the screen; setting it again restores the text.
    r.put(0, 0, "x", 7);
    r.inb(0x3DA);
    r.outb(0x3C0, 0x00);
    r.poll();
    assert_eq!(r.display.screen(), Screen::Blank);
    r.inb(0x3DA);
    r.outb(0x3C0, 0x20);
    assert!(r.text().contains("x"));
}

#[test]
fn dac_read_and_write_sequences() {
    let mut r = rig();
    r.outb(0x3C8, 5);
    for v in [0x3F, 0x7F, 0x01, 0x02, 0x03, 0x04] {
        r.outb(0x3C9, v);
    }
    assert_eq!(r.inb(0x3C8), 7, "two entries written");
    assert_eq!(r.inb(0x3C7), 0, "write mode");
    r.outb(0x3C7, 5);
    assert_eq!(r.inb(0x3C7), 3, "read mode");
    let got: Vec<u8> = (0..6).map(|_| r.inb(0x3C9)).collect();
    assert_eq!(
        got,
        [0x3F, 0x3F, 0x01, 0x02, 0x03, 0x04],
        "6-bit components"
    );
    // The power-on palette is the EGA one: entry 0x3F is white, 0x14 brown.
    r.outb(0x3C7, 0x14);
    let brown: Vec<u8> = (0..3).map(|_| r.inb(0x3C9)).collect();
    assert_eq!(brown, [42, 21, 0]);
    assert_eq!(r.inb(0x3C6), 0xFF);
}

#[test]
fn write_mode_0_set_reset_rotate_logical_ops_and_bit_mask() {
    let mut r = rig();
    r.planar();
    // Set/reset on all planes: the CPU byte is ignored.
    r.gr(1, 0x0F);
    r.gr(0, 0x05);
    r.writeb(0xA0000, 0x12);
    assert_eq!(r.planes_at(0), [0xFF, 0x00, 0xFF, 0x00]);
    // Set/reset on planes 0 and 1 only: planes 2 and 3 take the CPU byte.
    r.gr(1, 0x03);
    r.writeb(0xA0001, 0x5A);
    assert_eq!(r.planes_at(1), [0xFF, 0x00, 0x5A, 0x5A]);
    r.gr(1, 0);
    // Rotate right by one.
    r.gr(3, 0x01);
    r.writeb(0xA0002, 0x03);
    assert_eq!(r.planes_at(2), [0x81; 4]);
    // Logical operations combine with the latches loaded by a read.
    r.fill_planes(3, [0xF0; 4]);
    for (op, want) in [(0x08, 0x30), (0x10, 0xFC), (0x18, 0xCC)] {
        r.fill_planes(3, [0xF0; 4]);
        r.readb(0xA0003);
        r.gr(3, op);
        r.writeb(0xA0003, 0x3C);
        assert_eq!(r.planes_at(3), [want; 4], "op {op:#x}");
    }
    // Bit mask: masked-off bits come from the latches.
    r.gr(3, 0);
    r.fill_planes(4, [0xF0, 0x0F, 0xAA, 0x55]);
    r.readb(0xA0004);
    r.gr(8, 0x0F);
    r.writeb(0xA0004, 0x0A);
    assert_eq!(r.planes_at(4), [0xFA, 0x0A, 0xAA, 0x5A]);
    // The map mask keeps planes out of the write.
    r.gr(8, 0xFF);
    r.seq(2, 0x06);
    r.writeb(0xA0004, 0x00);
    assert_eq!(r.planes_at(4), [0xFA, 0x00, 0x00, 0x5A]);
}

#[test]
fn write_modes_1_2_3() {
    let mut r = rig();
    r.planar();
    r.fill_planes(10, [0x11, 0x22, 0x33, 0x44]);
    // Mode 1: latches copied (the VRAM-to-VRAM copy used for scrolling).
    r.gr(5, 0x01);
    r.readb(0xA000A);
    r.writeb(0xA0020, 0xEE);
    assert_eq!(r.planes_at(0x20), [0x11, 0x22, 0x33, 0x44]);
    // Mode 2: CPU bits 3:0 are the colour of every pixel the bit mask selects.
    r.gr(5, 0x02);
    r.writeb(0xA0021, 0x06);
    assert_eq!(r.planes_at(0x21), [0x00, 0xFF, 0xFF, 0x00]);
    r.readb(0xA000A);
    r.gr(8, 0x80);
    r.writeb(0xA0022, 0x09);
    assert_eq!(r.planes_at(0x22), [0x91, 0x22, 0x33, 0xC4]);
    // Mode 3: the set/reset colour through (rotated CPU byte AND bit mask).
    r.gr(8, 0xF0);
    r.gr(0, 0x0C);
    r.gr(5, 0x03);
    r.readb(0xA000A);
    r.writeb(0xA0023, 0x3C);
    // mask = 0x3C & 0xF0 = 0x30.
    assert_eq!(r.planes_at(0x23), [0x01, 0x02, 0x33, 0x74]);
}

#[test]
fn read_modes_0_and_1() {
    let mut r = rig();
    r.planar();
    r.fill_planes(7, [0xFF, 0x0F, 0x00, 0xF0]);
    for plane in 0..4u8 {
        r.gr(4, plane);
        assert_eq!(r.readb(0xA0007), [0xFF, 0x0F, 0x00, 0xF0][plane as usize]);
    }
    // Read mode 1: pixels 7-4 have colour 0b1001, pixels 3-0 0b0011.
    r.gr(5, 0x08);
    r.gr(7, 0x0F);
    r.gr(2, 0x09);
    assert_eq!(r.readb(0xA0007), 0xF0);
    r.gr(2, 0x03);
    assert_eq!(r.readb(0xA0007), 0x0F);
    r.gr(2, 0x05);
    assert_eq!(r.readb(0xA0007), 0x00);
    // Only plane 0 matters: every pixel has bit 0 set.
    r.gr(7, 0x01);
    r.gr(2, 0x01);
    assert_eq!(r.readb(0xA0007), 0xFF);
    r.gr(7, 0x00);
    assert_eq!(r.readb(0xA0007), 0xFF, "no plane cares: all match");
}

#[test]
fn chain4_mode_13h_addressing() {
    let mut r = rig();
    // Mode 13h: chain 4, 256-colour shift, A0000 64 KiB graphics, 200 double-scanned lines.
    r.seq(2, 0x0F);
    r.seq(4, 0x0E);
    r.gr(5, 0x40);
    r.gr(6, 0x05);
    r.crtc(0x09, 0x41);
    r.crtc(0x14, 0x40);
    r.crtc(0x17, 0xA3);
    r.attr(0x10, 0x41);
    for i in 0..8u8 {
        r.writeb(0xA0000 + i as u64, 0x10 + i);
    }
    for i in 0..8usize {
        assert_eq!(r.plane(i & 3, i & !3), 0x10 + i as u8, "pixel {i}");
        assert_eq!(r.readb(0xA0000 + i as u64), 0x10 + i as u8);
    }
    assert_eq!(r.plane(1, 1), 0, "nothing outside the chained offsets");
    r.writeb(0xAFFFF, 0x99);
    assert_eq!(r.plane(3, 0xFFFC), 0x99);
    assert_eq!(r.vga.mmio_read(0xB8000, 1), None, "64 KiB window");
    r.poll();
    assert_eq!(
        r.display.screen(),
        Screen::Graphics {
            width: 320,
            height: 200,
            bpp: 8
        }
    );
}

#[test]
fn odd_even_text_memory_lives_in_planes_0_and_1() {
    let mut r = rig();
    r.put(0, 3, "A", 0x4E);
    assert_eq!(r.plane(0, 6), b'A');
    assert_eq!(r.plane(1, 6), 0x4E);
    assert_eq!(r.plane(0, 7), 0);
    assert_eq!(r.plane(1, 7), 0);
    // A read with read map select 2 reads plane 2/3 (font planes).
    r.gr(4, 2);
    assert_eq!(r.readb(0xB8006), 0);
    r.gr(4, 0);
    assert_eq!(r.readb(0xB8007), 0x4E);
}

#[test]
fn font_loading_sequence_writes_plane_2_and_text_survives() {
    let mut r = rig();
    r.put(0, 0, "Font", 0x07);
    // What VGA BIOSes do to load a font (SeaVGABIOS get_font_access).
    r.seq(0x02, 0x04);
    r.seq(0x04, 0x07);
    r.gr(0x04, 0x02);
    r.gr(0x05, 0x00);
    r.gr(0x06, 0x04);
    let glyph: Vec<u8> = (0..16).map(|i| 0x80 >> (i % 8)).collect();
    for (i, b) in glyph.iter().enumerate() {
        r.writeb(0xA0000 + 0x41 * 32 + i as u64, *b);
    }
    for (i, b) in glyph.iter().enumerate() {
        assert_eq!(r.readb(0xA0000 + 0x41 * 32 + i as u64), *b);
        assert_eq!(r.plane(2, 0x41 * 32 + i), *b);
    }
    r.poll();
    assert!(
        matches!(r.display.screen(), Screen::Text(_)),
        "GR06 bit 0 clear"
    );
    // release_font_access.
    r.seq(0x02, 0x03);
    r.seq(0x04, 0x03);
    r.gr(0x04, 0x00);
    r.gr(0x05, 0x10);
    r.gr(0x06, 0x0E);
    let t = r.text();
    assert!(t.lines()[0].starts_with("Font"), "planes 0 and 1 untouched");
    assert_eq!(r.readb(0xB8000), b'F');
    assert_eq!(r.vga.mmio_read(0xA0000, 1), None, "window back at B8000");
    r.put(0, 0, "Next", 0x07);
    assert_eq!(
        r.plane(2, 0x41 * 32),
        0x80,
        "text writes leave the font alone"
    );
}

#[test]
fn retrace_bits_follow_the_clock() {
    let mut r = rig();
    let frame = LINE_NS * FRAME_LINES;
    let mut vr = 0u64;
    let mut de = 0u64;
    let mut edges = 0;
    let mut last = r.inb(0x3DA) & ST1_VRETRACE;
    let steps = 4 * frame / 1000;
    for _ in 0..steps {
        r.clock.warp_to(r.clock.now_ns() + 1000);
        let s = r.inb(0x3DA);
        assert_eq!(s & !0x09, 0, "only bits 0 and 3");
        if s & ST1_VRETRACE != 0 {
            vr += 1;
            assert_ne!(
                s & ST1_DISPLAY_DISABLED,
                0,
                "retrace is outside the display"
            );
        }
        if s & ST1_DISPLAY_DISABLED != 0 {
            de += 1;
        }
        if s & ST1_VRETRACE != last {
            edges += 1;
        }
        last = s & ST1_VRETRACE;
    }
    assert!(
        (7..=8).contains(&edges),
        "about 70 Hz: {edges} edges in 4 frames"
    );
    // Two lines in 449 of retrace; 49 lines plus a fifth of the rest display-disabled.
    let expect_vr = steps * 2 / FRAME_LINES;
    assert!(vr.abs_diff(expect_vr) <= 8, "{vr} vs {expect_vr}");
    assert!(de > steps / 5 && de < steps / 2, "{de} of {steps}");
}

#[test]
fn idle_screen_is_not_republished() {
    let mut r = rig();
    r.put(0, 0, "idle", 7);
    assert_eq!(r.poll(), None);
    let g = r.display.generation();
    assert!(g >= 1);
    for _ in 0..5 {
        assert_eq!(r.poll(), None, "no deadline while idle");
    }
    assert_eq!(r.display.generation(), g);
    // A write that does not change the picture marks dirty but publishes nothing new.
    r.put(0, 0, "idle", 7);
    r.poll();
    assert_eq!(r.display.generation(), g);
    // A change is published once, and only when the 20 ms have passed.
    r.put(0, 0, "busy", 7);
    r.poll();
    let now = r.clock.now_ns();
    assert_eq!(r.display.generation(), g + 1);
    r.put(0, 0, "more", 7);
    assert_eq!(r.vga.poll_timer(now + 1), Some(now + PUBLISH_INTERVAL_NS));
    assert_eq!(r.display.generation(), g + 1, "rate limited");
    assert_eq!(r.vga.poll_timer(now + PUBLISH_INTERVAL_NS), None);
    assert_eq!(r.display.generation(), g + 2);
    assert!(r.display.text().unwrap().contains("more"));
}

#[test]
fn vbe_id_handshake_caps_and_memory_size() {
    let mut r = rig();
    assert_eq!(r.read_dispi(vbe::INDEX_ID), 0xB0C5);
    r.dispi(vbe::INDEX_ID, 0xB0C0);
    assert_eq!(r.read_dispi(vbe::INDEX_ID), 0xB0C0);
    r.dispi(vbe::INDEX_ID, 0xB0C4);
    assert_eq!(r.read_dispi(vbe::INDEX_ID), 0xB0C4);
    r.dispi(vbe::INDEX_ID, 0x1234);
    assert_eq!(
        r.read_dispi(vbe::INDEX_ID),
        0xB0C4,
        "unknown versions ignored"
    );
    assert_eq!(r.inw(vbe::INDEX_PORT), vbe::INDEX_ID);
    assert_eq!(r.read_dispi(vbe::INDEX_VIDEO_MEMORY_64K), 256);
    r.dispi(vbe::INDEX_ENABLE, vbe::GETCAPS);
    assert_eq!(r.read_dispi(vbe::INDEX_XRES), vbe::MAX_XRES);
    assert_eq!(r.read_dispi(vbe::INDEX_YRES), vbe::MAX_YRES);
    assert_eq!(r.read_dispi(vbe::INDEX_BPP), 32);
    assert!(
        vbe::line_bytes(vbe::MAX_XRES, 32) * vbe::MAX_YRES as usize <= memory::VRAM_SIZE,
        "the largest mode fits"
    );
    r.dispi(vbe::INDEX_ENABLE, 0);
    assert_eq!(r.read_dispi(vbe::INDEX_XRES), 640);
    assert_eq!(r.read_dispi(0x0B), 0, "unknown index");
    r.outw(vbe::INDEX_PORT, 0x0B);
    r.outw(vbe::DATA_PORT, 0x55);
}

#[test]
fn vbe_1024x768x32_through_the_linear_framebuffer() {
    let mut r = rig();
    // What SeaVGABIOS / bochs-drm do: disable, program, enable with LFB.
    r.dispi(vbe::INDEX_ENABLE, 0);
    r.dispi(vbe::INDEX_XRES, 1024);
    r.dispi(vbe::INDEX_YRES, 768);
    r.dispi(vbe::INDEX_BPP, 32);
    r.dispi(vbe::INDEX_ENABLE, vbe::ENABLED | vbe::LFB_ENABLED);
    assert_eq!(r.read_dispi(vbe::INDEX_VIRT_WIDTH), 1024);
    assert_eq!(
        r.read_dispi(vbe::INDEX_VIRT_HEIGHT) as usize,
        memory::VRAM_SIZE / 4096
    );
    r.poll();
    assert_eq!(
        r.display.screen(),
        Screen::Graphics {
            width: 1024,
            height: 768,
            bpp: 32
        }
    );
    // BAR0: size, assign, enable memory decoding.
    let lfb = 0xE000_0000u64;
    assert_eq!(r.vga.mmio_read(lfb, 4), None, "unassigned");
    r.vga.config_write(0x10, 4, 0xFFFF_FFFF);
    assert_eq!(r.vga.config_read(0x10, 4), 0xFF00_0008);
    r.vga.config_write(0x10, 4, lfb as u32);
    assert_eq!(r.vga.mmio_read(lfb, 4), None, "memory decoding off");
    r.vga.config_write(0x04, 2, 0x0003);
    let pixel = (10 * 1024 + 5) * 4;
    assert!(r.vga.mmio_write(lfb + pixel, 4, 0x00FF_8040));
    assert_eq!(
        r.vga.vram()[pixel as usize..pixel as usize + 4],
        [0x40, 0x80, 0xFF, 0]
    );
    assert_eq!(r.vga.mmio_read(lfb + pixel, 4), Some(0x00FF_8040));
    assert!(
        r.vga.mmio_write(lfb + 0xFF_FFF8, 8, u64::MAX),
        "last bytes of VRAM"
    );
    assert_eq!(r.vga.mmio_read(lfb + 0x100_0000, 1), None, "past the BAR");
    // The banked window shows 64 KiB of the same VRAM.
    r.dispi(vbe::INDEX_BANK, 1);
    r.writeb(0xA0004, 0x77);
    assert_eq!(r.vga.vram()[0x10004], 0x77);
    r.dispi(vbe::INDEX_BANK, 0);
    assert_eq!(r.readb(0xA0000 + pixel), 0x40);
    assert_eq!(
        r.vga.mmio_read(0xB8000, 1),
        None,
        "only A0000-AFFFF while VBE is on"
    );
    // Re-enabling without NO_CLEAR_MEM clears the screen; with it, VRAM is kept.
    r.dispi(vbe::INDEX_ENABLE, 0);
    r.dispi(
        vbe::INDEX_ENABLE,
        vbe::ENABLED | vbe::LFB_ENABLED | vbe::NO_CLEAR_MEM,
    );
    assert_eq!(r.vga.mmio_read(lfb + pixel, 4), Some(0x00FF_8040));
    r.dispi(vbe::INDEX_ENABLE, 0);
    r.dispi(vbe::INDEX_ENABLE, vbe::ENABLED | vbe::LFB_ENABLED);
    assert_eq!(r.vga.mmio_read(lfb + pixel, 4), Some(0));
    // Disabling returns to the VGA text screen.
    r.dispi(vbe::INDEX_ENABLE, 0);
    r.poll();
    assert!(matches!(r.display.screen(), Screen::Text(_)));
}

#[test]
fn vbe_rejects_modes_that_do_not_fit() {
    let mut r = rig();
    r.dispi(vbe::INDEX_XRES, 4000);
    r.dispi(vbe::INDEX_YRES, 3000);
    r.dispi(vbe::INDEX_BPP, 7);
    r.dispi(vbe::INDEX_ENABLE, vbe::ENABLED | vbe::NO_CLEAR_MEM);
    assert_eq!(r.read_dispi(vbe::INDEX_XRES), vbe::MAX_XRES);
    assert_eq!(r.read_dispi(vbe::INDEX_YRES), vbe::MAX_YRES);
    assert_eq!(r.read_dispi(vbe::INDEX_BPP), 8);
    r.dispi(vbe::INDEX_BPP, 32);
    r.dispi(vbe::INDEX_VIRT_WIDTH, 0xFFFF);
    assert_eq!(r.read_dispi(vbe::INDEX_VIRT_WIDTH), vbe::MAX_XRES);
    r.dispi(vbe::INDEX_Y_OFFSET, 0xFFFF);
    let y = r.read_dispi(vbe::INDEX_Y_OFFSET) as usize;
    assert!((y + vbe::MAX_YRES as usize) * vbe::MAX_XRES as usize * 4 <= memory::VRAM_SIZE);
    assert!(r.vga.vbe().start_offset() < memory::VRAM_SIZE);
}

#[test]
fn bar2_mmio_reaches_vga_and_dispi_registers() {
    let mut r = rig();
    let base = 0xFEBF_0000u64;
    r.vga.config_write(0x18, 4, base as u32);
    r.vga.config_write(0x04, 2, 0x0002);
    assert_eq!(r.vga.mmio_read(base + 0x500, 2), Some(0xB0C5));
    assert!(r.vga.mmio_write(base + 0x502, 2, 800));
    assert_eq!(r.read_dispi(vbe::INDEX_XRES), 800);
    assert_eq!(r.vga.mmio_read(base + 0x600, 4), Some(8));
    assert_eq!(r.vga.mmio_read(base + 0x604, 4), Some(0x1E1E_1E1E));
    // 0x3C0 + 0x14 = 0x3D4: the CRTC index.
    assert!(r.vga.mmio_write(base + 0x414, 2, 0x330E));
    assert_eq!(r.read_crtc(0x0E), 0x33);
    assert_eq!(r.vga.mmio_read(base + 0x40C, 1), Some(0x67), "misc output");
}

#[test]
fn rom_bar_sizing_and_reading() {
    let mut rom = vec![0u8; 40_000];
    rom[0] = 0x55;
    rom[1] = 0xAA;
    rom[2] = (40_000 / 512) as u8;
    rom[39_999] = 0xC3;
    let mut r = rig_with_rom(Some(rom));
    assert_eq!(r.vga.config_read(0x30, 4), 0);
    r.vga.config_write(0x30, 4, 0xFFFF_FFFE);
    assert_eq!(r.vga.config_read(0x30, 4), 0xFFFF_0000, "64 KiB");
    let base = 0xFEB0_0000u64;
    r.vga.config_write(0x30, 4, base as u32 | 1);
    assert_eq!(r.vga.mmio_read(base, 2), None, "memory decoding off");
    r.vga.config_write(0x04, 2, 0x0002);
    assert_eq!(r.vga.mmio_read(base, 2), Some(0xAA55));
    assert_eq!(r.vga.mmio_read(base + 39_999, 1), Some(0xC3));
    assert_eq!(r.vga.mmio_read(base + 40_000, 4), Some(0xFFFF_FFFF));
    assert!(r.vga.mmio_write(base, 1, 0), "decoded, dropped");
    assert_eq!(r.vga.mmio_read(base, 1), Some(0x55));
    assert_eq!(r.vga.mmio_read(base + 0x1_0000, 1), None);
    r.vga.config_write(0x30, 4, base as u32);
    assert_eq!(r.vga.mmio_read(base, 1), None, "enable bit clear");
}

#[test]
fn debian_vgabios_through_the_rom_bar() {
    let Ok(bios) = std::fs::read(VGABIOS) else {
        eprintln!("skipped: {VGABIOS} not present");
        return;
    };
    let mut r = rig_with_rom(Some(bios.clone()));
    r.vga.config_write(0x30, 4, 0xFFFF_F800);
    let mask = r.vga.config_read(0x30, 4);
    let size = (!(mask & 0xFFFF_F800)).wrapping_add(1) as usize;
    assert!(size.is_power_of_two() && size >= bios.len() && size / 2 < bios.len());
    let base = 0xFEB4_0000u64;
    r.vga.config_write(0x30, 4, base as u32 | 1);
    r.vga.config_write(0x04, 2, 0x0002);
    let mut image = Vec::new();
    for i in (0..bios.len() as u64).step_by(4) {
        let v = r.vga.mmio_read(base + i, 4).unwrap() as u32;
        image.extend_from_slice(&v.to_le_bytes());
    }
    image.truncate(bios.len());
    assert_eq!(image, bios);
    assert_eq!(&image[..2], &[0x55, 0xAA]);
    let len = image[2] as usize * 512;
    assert!(len <= image.len());
    let sum = image[..len].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    assert_eq!(sum, 0, "option ROM checksum");
    // The PCI data structure names our device.
    let pcir = u16::from_le_bytes([image[0x18], image[0x19]]) as usize;
    assert_eq!(&image[pcir..pcir + 4], b"PCIR");
    assert_eq!(
        u32::from_le_bytes(image[pcir + 4..pcir + 8].try_into().unwrap()),
        0x1111_1234
    );
}

#[test]
fn legacy_window_follows_memory_map_select_and_ram_enable() {
    let mut r = rig();
    assert_eq!(r.vga.mmio_read(0xA0000, 1), None, "mode 3 maps B8000 only");
    assert_eq!(r.vga.mmio_read(0xB0000, 1), None);
    r.gr(6, 0x0A); // B0000, 32 KiB, odd/even (mode 7)
    assert!(r.vga.mmio_write(0xB0000, 2, 0x0741));
    assert_eq!(r.vga.mmio_read(0xB8000, 1), None);
    r.gr(6, 0x02); // A0000-BFFFF
    assert_eq!(r.vga.mmio_read(0xA0000, 2), Some(0x0741));
    assert!(r.vga.mmio_read(0xBFFFF, 1).is_some());
    r.outb(0x3C2, 0x65); // RAM access disabled
    assert_eq!(r.vga.mmio_read(0xA0000, 1), None);
    assert!(!r.vga.mmio_write(0xA0000, 1, 0));
    assert_eq!(r.vga.mmio_read(0xC0000, 1), None, "not ours");
}

#[test]
fn reset_returns_to_mode_3_and_keeps_vram() {
    let mut r = rig();
    r.put(0, 0, "kept", 7);
    r.gr(6, 0x05);
    r.dispi(vbe::INDEX_ENABLE, vbe::ENABLED | vbe::NO_CLEAR_MEM);
    r.vga.config_write(0x10, 4, 0xE000_0000);
    r.vga.reset();
    assert_eq!(r.vga.regs(), &VgaRegs::mode3());
    assert!(!r.vga.vbe().enabled());
    assert_eq!(r.vga.config_read(0x10, 4), 0x08);
    assert!(r.text().contains("kept"));
}

#[test]
fn state_round_trip() {
    let mut r = rig();
    r.put(3, 4, "saved", 0x2F);
    r.crtc(0x0D, 80);
    r.dispi(vbe::INDEX_XRES, 800);
    r.vga.config_write(0x10, 4, 0xE000_0000);
    r.planar();
    r.readb(0xA0000);
    let s = r.vga.state();
    let mut q = rig();
    q.vga.restore(s.clone());
    assert_eq!(q.vga.state(), s);
    assert_eq!(q.vga.current_screen(), r.vga.current_screen());
    let mut damaged = s;
    damaged.vram.truncate(10);
    damaged.regs.crtc.clear();
    damaged.regs.dac_sub = 9;
    q.vga.restore(damaged);
    q.vga.current_screen();
    q.inb(0x3C9);
}

#[test]
fn hostile_guest_cannot_panic_the_card() {
    let mut r = rig_with_rom(Some(vec![0x55, 0xAA, 1]));
    let mut x = 0x1234_5678_9ABC_DEF0u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let sizes = [1u8, 2, 4, 8];
    for _ in 0..200_000 {
        let v = next();
        let size = sizes[(v >> 8) as usize & 3];
        match v & 7 {
            0 | 1 => {
                let port = 0x3B0 + (v >> 16) as u16 % 0x30;
                r.vga.io_write(port, size.min(4), (v >> 32) as u32);
            }
            2 => {
                let port = 0x1CE + (v >> 16) as u16 % 3;
                r.vga.io_write(port, size.min(4), (v >> 32) as u32);
            }
            3 => {
                let port = 0x3B0 + (v >> 16) as u16 % 0x30;
                r.vga.io_read(port, size.min(4));
            }
            4 => {
                let addr = 0xA0000 + (v >> 16) % 0x20000;
                r.vga.mmio_write(addr, size, v);
            }
            5 => {
                let addr = 0xA0000 + (v >> 16) % 0x20000;
                r.vga.mmio_read(addr, size);
            }
            6 => r
                .vga
                .config_write((v >> 16) as u8, size.min(4), (v >> 24) as u32),
            _ => {
                let addr = (v >> 24) as u32 as u64;
                r.vga.mmio_write(addr, size, v);
                r.vga.mmio_read(addr, size);
            }
        }
        if v % 1000 == 0 {
            r.poll();
        }
    }
    r.vga.current_screen();
}

#[test]
fn behind_the_pci_bus_like_the_machine_wires_it() {
    let control = Arc::new(MachineControl::new());
    let clock = Clock::new(ClockMode::Instructions { ns_per_insn: 1 });
    let mut bus = crate::pci::pc(control, clock.clone(), IrqLines::new());
    let display = DisplayHandle::new();
    let vga = StdVga::new(None, clock.clone(), display.clone(), UnimpLog::disabled());
    bus.register(2, 0, Box::new(vga));
    assert_eq!(bus.config_read(2, 0, 0, 4), 0x1111_1234);
    // memtest86+ or a directly booted kernel: text straight into 0xB8000.
    for (i, b) in b"Booting".iter().enumerate() {
        bus.mmio_write(0xB8000 + 2 * i as u64, 2, 0x0700 | *b as u64);
    }
    bus.write(0x3D4, 2, 0x000E);
    bus.write(0x3D4, 2, 0x070F);
    assert_eq!(bus.read(0x3DA, 1) & !0x09, 0);
    assert_eq!(bus.unclaimed_ports, 0);
    clock.warp_to(1_000_000);
    bus.poll_timer(clock.now_ns());
    let t = display.text().expect("text");
    assert!(t.lines()[0].starts_with("Booting"));
    assert_eq!(t.cursor, Some((0, 7)));
}

#[test]
fn cp437_mapping() {
    assert_eq!(cp437(b'A'), 'A');
    assert_eq!(cp437(0x00), ' ');
    assert_eq!(cp437(0x01), '☺');
    assert_eq!(cp437(0x7F), '⌂');
    assert_eq!(cp437(0xB3), '│');
    assert_eq!(cp437(0xC4), '─');
    assert_eq!(cp437(0xDB), '█');
    assert_eq!(cp437(0xE1), 'ß');
    assert_eq!(cp437(0xFE), '■');
}
