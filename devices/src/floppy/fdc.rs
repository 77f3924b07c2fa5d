//! The Intel 82077AA floppy disk controller in PC-AT mode, with up to two drives.
//!
//! From the Intel 82077AA data sheet: the register descriptions (DOR, TDR, MSR, DSR, FIFO,
//! DIR, CCR; SRA/SRB do not exist in PC-AT mode and read as open bus), "Reset" (the DOR and
//! DSR software resets, the four polling interrupts, what LOCK keeps), the command
//! descriptions with the status registers ST0-ST3, and the table of C/H/R after a transfer
//! ends (MT, EOT). Where the data sheet leaves room, QEMU's `hw/block/fdc.c`
//! shows what BIOSes and Linux rely on.
//!
//! Commands: READ DATA, WRITE DATA, VERIFY, FORMAT TRACK, READ ID, SPECIFY, SENSE DRIVE
//! STATUS, SENSE INTERRUPT STATUS, RECALIBRATE, SEEK, RELATIVE SEEK, VERSION (0x90),
//! DUMPREG, CONFIGURE, LOCK, PERPENDICULAR MODE. READ TRACK, READ/WRITE DELETED DATA and the
//! SCAN commands are taken with their parameters and end in abnormal termination (reported
//! as unimplemented); other opcodes are invalid (ST0 0x80, as the real part answers PART ID,
//! which is how Linux tells an 82077AA from an 82078).
//!
//! The model is instantaneous: seeks complete at once, reads and writes finish on the
//! machine's next DMA turn (`run_dma`), non-DMA transfers as fast as the host reads the
//! FIFO. Deliberate deviations, all shared with QEMU because guests depend on them:
//! - Every data command seeks implicitly to its cylinder, with or without CONFIGURE's EIS
//!   bit (SeaBIOS never issues SEEK before READ DATA). ST0's SE bit is reported only with
//!   EIS, as the data sheet describes.
//! - A multi-sector transfer treats the last sector of the physical track as the end of the
//!   track even when EOT is larger. SeaBIOS computes EOT as start + count - 1, so a read
//!   that continues on head 1 (MT) would otherwise stop with "no data".
//! - FORMAT TRACK places each sector by the C/H/R of the ID it is given, seeking to C
//!   (SeaBIOS formats without seeking); IDs the image's fixed layout cannot hold are dropped
//!   and reported.
//! - A drive without a medium, or reading at the wrong data rate or in FM, answers at once
//!   with "missing address mark" instead of spinning forever without index pulses.
//!
//! The data rate is checked against the medium (as QEMU's `check_media_rate`): SeaBIOS and
//! Linux find out which format is in a drive by trying rates until READ ID or READ DATA
//! succeeds.

use crate::block::DiskImage;
use crate::unimp::UnimpLog;

use super::media::{MediaFormat, RATE_250K, SECTOR_SIZE, SECTOR_SIZE_CODE};

/// Number of drive select codes; only drives 0 and 1 can be attached.
pub const DRIVES: usize = 4;
pub const MAX_ATTACHED: usize = 2;
pub const VERSION_82077AA: u8 = 0x90;

// Register offsets from 0x3F0.
pub const REG_SRA: u16 = 0;
pub const REG_SRB: u16 = 1;
pub const REG_DOR: u16 = 2;
pub const REG_TDR: u16 = 3;
/// MSR (read) / DSR (write).
pub const REG_MSR: u16 = 4;
pub const REG_FIFO: u16 = 5;
/// DIR (read) / CCR (write).
pub const REG_DIR: u16 = 7;

// DOR bits.
pub const DOR_SELECT: u8 = 0x03;
pub const DOR_NRESET: u8 = 0x04;
/// In PC-AT mode this gates the DRQ and INT outputs.
pub const DOR_DMA_GATE: u8 = 0x08;

// MSR bits.
pub const MSR_RQM: u8 = 0x80;
pub const MSR_DIO: u8 = 0x40;
pub const MSR_NDMA: u8 = 0x20;
pub const MSR_CB: u8 = 0x10;

// DSR bits.
const DSR_SWRESET: u8 = 0x80;
const RATE_MASK: u8 = 0x03;

// ST0.
pub const ST0_ABNORMAL: u8 = 0x40;
pub const ST0_INVALID: u8 = 0x80;
pub const ST0_POLLED: u8 = 0xC0;
pub const ST0_SE: u8 = 0x20;
pub const ST0_EC: u8 = 0x10;
// ST1.
pub const ST1_EN: u8 = 0x80;
pub const ST1_DE: u8 = 0x20;
pub const ST1_ND: u8 = 0x04;
pub const ST1_NW: u8 = 0x02;
pub const ST1_MA: u8 = 0x01;
// ST2.
pub const ST2_CM: u8 = 0x40;
pub const ST2_DD: u8 = 0x20;
pub const ST2_WC: u8 = 0x10;
pub const ST2_SN: u8 = 0x04;
pub const ST2_BC: u8 = 0x02;
// ST3.
pub const ST3_WP: u8 = 0x40;
pub const ST3_T0: u8 = 0x10;
/// Bits 5 and 3 of ST3 read as one on the 82077AA.
const ST3_ONES: u8 = 0x28;

// CONFIGURE's second parameter.
const CFG_EIS: u8 = 0x40;
const CFG_EFIFO: u8 = 0x20;
const CFG_KEPT_BY_LOCK: u8 = CFG_EFIFO | 0x0F;

/// Where the controller is in a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Command,
    Execution,
    Result,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferOp {
    Read,
    Write,
    Format,
}

/// A data transfer in its execution phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub op: TransferOp,
    /// Non-DMA (SPECIFY's ND): the host moves the bytes through the FIFO.
    pub pio: bool,
    pub drive: u8,
    /// The physical head (the HD bit).
    pub head: u8,
    /// The sector ID being transferred (for FORMAT, the last ID received).
    pub c: u8,
    pub h: u8,
    pub r: u8,
    pub n: u8,
    pub eot: u8,
    pub mt: bool,
    pub mfm: bool,
    /// ST0 bits to report besides IC, head and drive (SE after an implied seek).
    pub st0: u8,
    /// The sector (or, for FORMAT, the 4-byte ID) being exchanged, and how far.
    pub buf: Vec<u8>,
    pub pos: usize,
    /// Image offset of the sector in `buf`.
    pub offset: u64,
    /// FORMAT: IDs still to come and the filler byte.
    pub format_left: u8,
    pub fill: u8,
}

/// Saveable controller state. The media are not part of it: a restored machine must have
/// the same images attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdcState {
    pub dor: u8,
    pub tdr: u8,
    /// DSR bits other than the data rate (precompensation, power down).
    pub dsr: u8,
    /// Data rate select (DSR/CCR bits 1:0).
    pub rate: u8,
    pub phase: Phase,
    pub cmd: Vec<u8>,
    pub result: Vec<u8>,
    pub result_pos: usize,
    pub transfer: Option<Transfer>,
    /// INT from a result phase or a non-DMA data request; cleared by the first result byte.
    pub result_int: bool,
    /// INT from the end of a reset; cleared by SENSE INTERRUPT STATUS.
    pub reset_int: bool,
    /// Polling statuses SENSE INTERRUPT STATUS still owes after a reset (drives 4-n..3).
    pub reset_polls: u8,
    /// ST0 of a finished seek or recalibrate, per drive, until sensed.
    pub seek_status: [Option<u8>; DRIVES],
    /// SPECIFY's two parameter bytes (SRT/HUT, HLT/ND).
    pub specify: [u8; 2],
    /// CONFIGURE's second parameter (EIS, EFIFO, POLL, FIFOTHR) and PRETRK.
    pub config: u8,
    pub pretrk: u8,
    pub lock: bool,
    /// PERPENDICULAR MODE: D3-D0 in bits 5:2, GAP, WGATE.
    pub perpendicular: u8,
    /// EOT of the last data command (DUMPREG reports it).
    pub last_eot: u8,
    /// Cylinder under each drive's heads (the controller's PCN; the model keeps the two
    /// equal).
    pub pcn: [u8; DRIVES],
    /// Each drive's disk change line.
    pub changed: [bool; DRIVES],
    /// The sector READ ID last found per drive (the model's notion of rotation).
    pub rotation: [u8; DRIVES],
}

impl Default for FdcState {
    /// Power-on. DOR comes up out of reset with the DMA gate on, as QEMU's does: SeaBIOS
    /// assumes a controller the BIOS already enabled and never sets the gate before waiting
    /// for its first interrupt.
    fn default() -> Self {
        FdcState {
            dor: DOR_NRESET | DOR_DMA_GATE,
            tdr: 0,
            dsr: 0,
            rate: RATE_250K,
            phase: Phase::Command,
            cmd: Vec::new(),
            result: Vec::new(),
            result_pos: 0,
            transfer: None,
            result_int: false,
            reset_int: false,
            reset_polls: 0,
            seek_status: [None; DRIVES],
            specify: [0; 2],
            config: CFG_EFIFO,
            pretrk: 0,
            lock: false,
            perpendicular: 0,
            last_eot: 0,
            pcn: [0; DRIVES],
            changed: [true; DRIVES],
            rotation: [0; DRIVES],
        }
    }
}

/// A drive and its medium.
#[derive(Default)]
pub struct Drive {
    /// CMOS drive type; 0 when no drive is attached.
    pub drive_type: u8,
    pub image: Option<DiskImage>,
    pub format: Option<&'static MediaFormat>,
}

impl Drive {
    fn attached(&self) -> bool {
        self.drive_type != 0
    }

    fn read_only(&self) -> bool {
        self.image.as_ref().is_some_and(|i| i.is_read_only())
    }
}

/// What the first byte of a command asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    ReadData,
    WriteData,
    Verify,
    Format,
    ReadId,
    Specify,
    SenseDrive,
    Recalibrate,
    SenseInterrupt,
    Seek,
    RelativeSeek,
    Version,
    Dumpreg,
    Configure,
    Lock,
    Perpendicular,
    /// Real 82077AA commands the model does not carry out.
    Unsupported(&'static str),
}

/// The command an opcode selects and its length in bytes, opcode included.
fn decode(op: u8) -> Option<(Command, usize)> {
    use Command::*;
    // Bits 7:5 of the data commands are MT, MFM and SK; the masks keep the bits the
    // data sheet fixes for each.
    let c = match op {
        _ if op & 0x1F == 0x06 => (ReadData, 9),
        _ if op & 0x3F == 0x05 => (WriteData, 9),
        _ if op & 0x1F == 0x16 => (Verify, 9),
        _ if op & 0xBF == 0x0D => (Format, 6),
        _ if op & 0xBF == 0x0A => (ReadId, 2),
        _ if op & 0x1F == 0x0C => (Unsupported("READ DELETED DATA"), 9),
        _ if op & 0x3F == 0x09 => (Unsupported("WRITE DELETED DATA"), 9),
        _ if op & 0xBF == 0x02 => (Unsupported("READ TRACK"), 9),
        _ if matches!(op & 0x1F, 0x11 | 0x19 | 0x1D) => (Unsupported("SCAN"), 9),
        0x03 => (Specify, 3),
        0x04 => (SenseDrive, 2),
        0x07 => (Recalibrate, 2),
        0x08 => (SenseInterrupt, 1),
        0x0F => (Seek, 3),
        0x8F | 0xCF => (RelativeSeek, 3),
        0x10 => (Version, 1),
        0x0E => (Dumpreg, 1),
        0x13 => (Configure, 4),
        0x14 | 0x94 => (Lock, 1),
        0x12 => (Perpendicular, 2),
        _ => return None,
    };
    Some(c)
}

/// Why a sector could not be found: ST1 and ST2 bits.
type NotFound = (u8, u8);

pub struct Fdc {
    pub s: FdcState,
    pub drives: [Drive; DRIVES],
    log: UnimpLog,
}

impl Fdc {
    pub fn new(log: UnimpLog) -> Self {
        Fdc {
            s: FdcState::default(),
            drives: Default::default(),
            log,
        }
    }

    /// RESET of the machine: the controller to power-on state. Drives keep their heads'
    /// position and their disk change lines; those belong to the drive, not the controller.
    pub fn hardware_reset(&mut self) {
        let pcn = self.s.pcn;
        let changed = self.s.changed;
        self.s = FdcState {
            pcn,
            changed,
            ..FdcState::default()
        };
    }

    fn in_reset(&self) -> bool {
        self.s.dor & DOR_NRESET == 0
    }

    /// The INT output as the PC sees it (the DMA gate also gates INT in PC-AT mode).
    pub fn irq_level(&self) -> bool {
        let s = &self.s;
        let pending = s.result_int || s.reset_int || s.seek_status.iter().any(Option::is_some);
        pending && s.dor & DOR_DMA_GATE != 0 && !self.in_reset()
    }

    /// A DMA transfer is waiting in its execution phase.
    pub fn wants_dma(&self) -> bool {
        self.s.phase == Phase::Execution && self.s.transfer.as_ref().is_some_and(|t| !t.pio)
    }

    /// DRQ reaches the 8237 (PC-AT mode gates it with DOR bit 3).
    pub fn drq(&self) -> bool {
        self.wants_dma() && self.s.dor & DOR_DMA_GATE != 0 && !self.in_reset()
    }

    pub fn read(&mut self, reg: u16) -> u8 {
        match reg {
            REG_DOR => self.s.dor,
            REG_TDR => self.s.tdr,
            REG_MSR => self.msr(),
            REG_FIFO => self.read_fifo(),
            REG_DIR => {
                let d = (self.s.dor & DOR_SELECT) as usize;
                if self.drives[d].attached() && self.s.changed[d] {
                    0x80
                } else {
                    0
                }
            }
            // SRA and SRB exist in PS/2 modes only.
            _ => 0xFF,
        }
    }

    pub fn write(&mut self, reg: u16, value: u8) {
        if reg == REG_DOR {
            self.write_dor(value);
            return;
        }
        // The other registers are held in reset with the rest of the chip.
        if self.in_reset() {
            return;
        }
        match reg {
            REG_TDR => self.s.tdr = value & 0x03,
            REG_MSR => {
                self.s.rate = value & RATE_MASK;
                self.s.dsr = value & 0x7C;
                if value & DSR_SWRESET != 0 {
                    // The DSR reset clears itself: the chip comes straight back out.
                    self.soft_reset();
                    self.reset_done();
                }
            }
            REG_FIFO => self.write_fifo(value),
            REG_DIR => self.s.rate = value & RATE_MASK,
            _ => {}
        }
    }

    fn write_dor(&mut self, value: u8) {
        let was_reset = self.in_reset();
        self.s.dor = value;
        match (was_reset, self.in_reset()) {
            (false, true) => self.soft_reset(),
            (true, false) => {
                self.soft_reset();
                self.reset_done();
            }
            _ => {}
        }
    }

    /// What a DOR or DSR reset clears (data sheet, "Reset"): the command in progress, pending
    /// interrupts, CONFIGURE (except what LOCK protects), PERPENDICULAR MODE's GAP and WGATE.
    /// SPECIFY and the data rate survive.
    fn soft_reset(&mut self) {
        let s = &mut self.s;
        s.phase = Phase::Command;
        s.cmd.clear();
        s.result.clear();
        s.result_pos = 0;
        s.transfer = None;
        s.result_int = false;
        s.reset_int = false;
        s.reset_polls = 0;
        s.seek_status = [None; DRIVES];
        if s.lock {
            s.config &= CFG_KEPT_BY_LOCK;
        } else {
            s.config = CFG_EFIFO;
            s.pretrk = 0;
        }
        s.perpendicular &= 0x3C;
    }

    /// Leaving reset with polling enabled: an interrupt, and a "ready changed" status for
    /// each of the four drive selects, collected by four SENSE INTERRUPT STATUS commands.
    fn reset_done(&mut self) {
        self.s.reset_int = true;
        self.s.reset_polls = DRIVES as u8;
    }

    fn msr(&self) -> u8 {
        if self.in_reset() {
            return 0;
        }
        let busy = self
            .s
            .seek_status
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .fold(0u8, |b, (d, _)| b | 1 << d);
        let phase = match self.s.phase {
            Phase::Command if self.s.cmd.is_empty() => MSR_RQM,
            Phase::Command => MSR_RQM | MSR_CB,
            Phase::Result => MSR_RQM | MSR_DIO | MSR_CB,
            Phase::Execution => match &self.s.transfer {
                Some(t) if t.pio && t.op == TransferOp::Read => {
                    MSR_RQM | MSR_DIO | MSR_NDMA | MSR_CB
                }
                Some(t) if t.pio => MSR_RQM | MSR_NDMA | MSR_CB,
                _ => MSR_CB,
            },
        };
        phase | busy
    }

    fn read_fifo(&mut self) -> u8 {
        match self.s.phase {
            Phase::Result => {
                let v = self
                    .s
                    .result
                    .get(self.s.result_pos)
                    .copied()
                    .unwrap_or(0xFF);
                self.s.result_pos += 1;
                // The first result byte acknowledges the interrupt.
                self.s.result_int = false;
                if self.s.result_pos >= self.s.result.len() {
                    self.s.phase = Phase::Command;
                    self.s.result.clear();
                    self.s.result_pos = 0;
                }
                v
            }
            Phase::Execution => {
                let Some(t) = self.s.transfer.as_mut() else {
                    return 0xFF;
                };
                if !t.pio || t.op != TransferOp::Read {
                    return 0xFF;
                }
                let v = t.buf.get(t.pos).copied().unwrap_or(0xFF);
                self.exchanged(1, false);
                v
            }
            Phase::Command => 0xFF,
        }
    }

    fn write_fifo(&mut self, value: u8) {
        match self.s.phase {
            Phase::Command => {
                self.s.cmd.push(value);
                let Some((cmd, len)) = decode(self.s.cmd[0]) else {
                    self.log
                        .report("fdc", format_args!("command 0x{:02X}", self.s.cmd[0]));
                    self.s.cmd.clear();
                    self.enter_result(vec![ST0_INVALID], false);
                    return;
                };
                if self.s.cmd.len() >= len {
                    self.execute(cmd);
                }
            }
            Phase::Execution => {
                let Some(t) = self.s.transfer.as_mut() else {
                    return;
                };
                if !t.pio || t.op == TransferOp::Read {
                    return;
                }
                if let Some(b) = t.buf.get_mut(t.pos) {
                    *b = value;
                    self.exchanged(1, false);
                }
            }
            // Writes while the controller has bytes for the host are lost.
            Phase::Result => {}
        }
    }

    fn enter_result(&mut self, bytes: Vec<u8>, interrupt: bool) {
        self.s.cmd.clear();
        self.s.phase = Phase::Result;
        self.s.result = bytes;
        self.s.result_pos = 0;
        if interrupt {
            self.s.result_int = true;
            // A new interrupt condition ends the post-reset polling sequence (as QEMU does;
            // SeaBIOS senses only once after a reset).
            self.s.reset_polls = 0;
            self.s.reset_int = false;
        }
    }

    fn command_done(&mut self) {
        self.s.cmd.clear();
        self.s.phase = Phase::Command;
    }

    fn execute(&mut self, cmd: Command) {
        let p = std::mem::take(&mut self.s.cmd);
        let drive = (p.get(1).copied().unwrap_or(0) & 3) as usize;
        let head = (p.get(1).copied().unwrap_or(0) >> 2) & 1;
        match cmd {
            Command::Specify => {
                self.s.specify = [p[1], p[2]];
                self.command_done();
            }
            Command::SenseDrive => {
                let d = &self.drives[drive];
                let mut st3 = ST3_ONES | head << 2 | drive as u8;
                if d.attached() {
                    if self.s.pcn[drive] == 0 {
                        st3 |= ST3_T0;
                    }
                    // Without a disk the write-protect sensor sees no notch: protected.
                    if d.image.is_none() || d.read_only() {
                        st3 |= ST3_WP;
                    }
                }
                self.enter_result(vec![st3], false);
            }
            Command::Recalibrate => {
                let st0 = if self.drives[drive].attached() {
                    self.step_to(drive, 0);
                    ST0_SE | drive as u8
                } else {
                    // No TRK0 signal after the maximum number of step pulses.
                    ST0_ABNORMAL | ST0_SE | ST0_EC | drive as u8
                };
                self.seek_finished(drive, st0);
            }
            Command::Seek => {
                self.step_to(drive, p[2]);
                self.seek_finished(drive, ST0_SE | drive as u8);
            }
            Command::RelativeSeek => {
                let pcn = self.s.pcn[drive];
                let target = if p[0] & 0x40 != 0 {
                    pcn.saturating_add(p[2])
                } else {
                    pcn.saturating_sub(p[2])
                };
                self.step_to(drive, target);
                self.seek_finished(drive, ST0_SE | drive as u8);
            }
            Command::SenseInterrupt => self.sense_interrupt(),
            Command::Version => self.enter_result(vec![VERSION_82077AA], false),
            Command::Dumpreg => {
                let s = &self.s;
                let bytes = vec![
                    s.pcn[0],
                    s.pcn[1],
                    s.pcn[2],
                    s.pcn[3],
                    s.specify[0],
                    s.specify[1],
                    s.last_eot,
                    (s.lock as u8) << 7 | (s.perpendicular & 0x3F),
                    s.config,
                    s.pretrk,
                ];
                self.enter_result(bytes, false);
            }
            Command::Configure => {
                self.s.config = p[2] & 0x7F;
                self.s.pretrk = p[3];
                self.command_done();
            }
            Command::Lock => {
                self.s.lock = p[0] & 0x80 != 0;
                self.enter_result(vec![(self.s.lock as u8) << 4], false);
            }
            Command::Perpendicular => {
                // OW (bit 7) allows the per-drive bits to change; GAP and WGATE always do.
                self.s.perpendicular = if p[1] & 0x80 != 0 {
                    p[1] & 0x3F
                } else {
                    (self.s.perpendicular & 0x3C) | (p[1] & 0x03)
                };
                self.command_done();
            }
            Command::ReadId => self.read_id(drive, head, p[0] & 0x40 != 0),
            Command::ReadData => self.start_transfer(TransferOp::Read, &p),
            Command::WriteData => self.start_transfer(TransferOp::Write, &p),
            Command::Verify => self.verify(&p),
            Command::Format => self.start_format(&p),
            Command::Unsupported(name) => {
                self.log.report("fdc", name);
                let st2 = if name == "SCAN" { ST2_SN } else { ST2_CM };
                let st0 = ST0_ABNORMAL | head << 2 | drive as u8;
                self.enter_result(vec![st0, 0, st2, p[2], p[3], p[4], p[5]], true);
            }
        }
    }

    /// Moves `drive`'s heads. A step pulse with a disk in the drive resets its disk change
    /// line, so a seek that does not move leaves the line alone.
    fn step_to(&mut self, drive: usize, cyl: u8) {
        if !self.drives[drive].attached() || self.s.pcn[drive] == cyl {
            return;
        }
        self.s.pcn[drive] = cyl;
        if self.drives[drive].image.is_some() {
            self.s.changed[drive] = false;
        }
    }

    fn seek_finished(&mut self, drive: usize, st0: u8) {
        self.command_done();
        self.s.seek_status[drive] = Some(st0);
        self.s.reset_polls = 0;
        self.s.reset_int = false;
    }

    fn sense_interrupt(&mut self) {
        if self.s.reset_polls > 0 {
            let d = DRIVES - self.s.reset_polls as usize;
            self.s.reset_polls -= 1;
            self.s.reset_int = false;
            let bytes = vec![ST0_POLLED | d as u8, self.s.pcn[d]];
            self.enter_result(bytes, false);
            return;
        }
        let pending = self.s.seek_status.iter().position(Option::is_some);
        match pending {
            Some(d) => {
                let st0 = self.s.seek_status[d].take().unwrap_or(0);
                self.enter_result(vec![st0, self.s.pcn[d]], false);
            }
            // Nothing to report: the command is invalid.
            None => self.enter_result(vec![ST0_INVALID], false),
        }
    }

    /// Finds sector (c, h, r, n) under `drive`'s head `head`; returns its image offset.
    fn locate(&self, drive: usize, head: u8, id: [u8; 4], mfm: bool) -> Result<u64, NotFound> {
        let [c, h, r, n] = id;
        let d = &self.drives[drive];
        let (Some(fmt), Some(_)) = (d.format, d.image.as_ref()) else {
            return Err((ST1_MA, 0));
        };
        let cyl = self.s.pcn[drive];
        if !mfm || !fmt.accepts_rate(self.s.rate) || cyl >= fmt.cylinders || head >= fmt.heads {
            // No ID field the controller can decode passes the head.
            return Err((ST1_MA, 0));
        }
        if c != cyl {
            return Err((ST1_ND, if c == 0xFF { ST2_BC } else { ST2_WC }));
        }
        if h != head || n != SECTOR_SIZE_CODE {
            return Err((ST1_ND, 0));
        }
        fmt.offset(cyl, head, r).ok_or((ST1_ND, 0))
    }

    fn read_id(&mut self, drive: usize, head: u8, mfm: bool) {
        let cyl = self.s.pcn[drive];
        let spt = self.drives[drive].format.map_or(1, |f| f.sectors.max(1));
        let r = self.s.rotation[drive] % spt + 1;
        let base = head << 2 | drive as u8;
        let result = match self.locate(drive, head, [cyl, head, r, SECTOR_SIZE_CODE], mfm) {
            Ok(_) => {
                self.s.rotation[drive] = r;
                vec![base, 0, 0, cyl, head, r, SECTOR_SIZE_CODE]
            }
            Err((st1, st2)) => vec![base | ST0_ABNORMAL, st1, st2, cyl, head, r, 2],
        };
        self.enter_result(result, true);
    }

    /// The parameters every data command shares (bytes 1-6 of READ/WRITE/VERIFY), after an
    /// implied seek to the command's cylinder.
    fn transfer_from_command(&mut self, op: TransferOp, p: &[u8]) -> Transfer {
        let drive = p[1] & 3;
        let c = p[2];
        let mut st0 = 0;
        if self.drives[drive as usize].attached() && self.s.pcn[drive as usize] != c {
            self.step_to(drive as usize, c);
            if self.s.config & CFG_EIS != 0 {
                st0 |= ST0_SE;
            }
        }
        self.s.last_eot = p[6];
        Transfer {
            op,
            pio: self.s.specify[1] & 1 != 0,
            drive,
            head: (p[1] >> 2) & 1,
            c,
            h: p[3],
            r: p[4],
            n: p[5],
            eot: p[6],
            mt: p[0] & 0x80 != 0,
            mfm: p[0] & 0x40 != 0,
            st0,
            buf: Vec::new(),
            pos: 0,
            offset: 0,
            format_left: 0,
            fill: 0,
        }
    }

    fn start_transfer(&mut self, op: TransferOp, p: &[u8]) {
        let mut t = self.transfer_from_command(op, p);
        if op == TransferOp::Write && self.drives[t.drive as usize].read_only() {
            return self.finish(t, ST0_ABNORMAL, ST1_NW, 0);
        }
        match self.load_sector(&mut t) {
            Ok(()) => self.enter_execution(t),
            Err((st1, st2)) => self.finish(t, ST0_ABNORMAL, st1, st2),
        }
    }

    fn enter_execution(&mut self, t: Transfer) {
        if t.pio {
            // Non-DMA: INT asks the host for the data.
            self.s.result_int = true;
            self.s.reset_polls = 0;
            self.s.reset_int = false;
        }
        self.s.transfer = Some(t);
        self.s.phase = Phase::Execution;
    }

    /// Finds the transfer's current sector and prepares its buffer.
    fn load_sector(&mut self, t: &mut Transfer) -> Result<(), NotFound> {
        let drive = t.drive as usize;
        t.offset = self.locate(drive, t.head, [t.c, t.h, t.r, t.n], t.mfm)?;
        t.pos = 0;
        t.buf.clear();
        t.buf.resize(SECTOR_SIZE, 0);
        if t.op == TransferOp::Read {
            let Some(img) = self.drives[drive].image.as_mut() else {
                return Err((ST1_MA, 0));
            };
            img.read_at(t.offset, &mut t.buf)
                .map_err(|_| (ST1_DE, ST2_DD))?;
        }
        Ok(())
    }

    /// The sector after the transfer's current one and whether the command's end of track
    /// (or cylinder, with MT) was reached, per the data sheet's C/H/R table: past EOT, MT
    /// continues on head 1 at sector 1, otherwise C + 1, R = 1 (and H complemented with MT).
    fn advance(&self, t: &mut Transfer) -> bool {
        let spt = self.drives[t.drive as usize]
            .format
            .map_or(u8::MAX, |f| f.sectors);
        if t.r != t.eot && t.r < spt {
            t.r = t.r.wrapping_add(1);
            return false;
        }
        t.r = 1;
        if t.mt {
            t.h ^= 1;
            if t.head == 0 {
                t.head = 1;
                return false;
            }
            t.head = 0;
        }
        t.c = t.c.wrapping_add(1);
        true
    }

    /// `bytes` more bytes of the transfer were exchanged with the host (DMA or FIFO), the
    /// last of them with terminal count if `tc`. Returns whether the execution phase goes on.
    pub fn exchanged(&mut self, bytes: usize, tc: bool) -> bool {
        let Some(mut t) = self.s.transfer.take() else {
            return false;
        };
        t.pos = (t.pos + bytes).min(t.buf.len());
        if t.pos < t.buf.len() {
            if !tc {
                self.s.transfer = Some(t);
                return bytes > 0;
            }
            // Terminal count inside a sector: a write fills the rest with zeros, a format
            // drops the partial ID.
            if t.op == TransferOp::Format {
                return self.finish_ok(t);
            }
            t.buf[t.pos..].fill(0);
            t.pos = t.buf.len();
        }
        self.sector_done(t, tc)
    }

    fn sector_done(&mut self, mut t: Transfer, tc: bool) -> bool {
        let drive = t.drive as usize;
        match t.op {
            TransferOp::Read => {}
            TransferOp::Write => {
                let ok = self.drives[drive]
                    .image
                    .as_mut()
                    .is_some_and(|img| img.write_at(t.offset, &t.buf).is_ok());
                if !ok {
                    self.finish(t, ST0_ABNORMAL, ST1_DE, ST2_DD);
                    return false;
                }
            }
            TransferOp::Format => {
                if let Err((st1, st2)) = self.format_sector(&mut t) {
                    self.finish(t, ST0_ABNORMAL, st1, st2);
                    return false;
                }
                t.format_left = t.format_left.saturating_sub(1);
                if t.format_left == 0 || tc {
                    return self.finish_ok(t);
                }
                t.pos = 0;
                t.buf.fill(0);
                self.s.transfer = Some(t);
                return true;
            }
        }
        self.s.rotation[drive] = t.r;
        let end_of_track = self.advance(&mut t);
        if tc {
            return self.finish_ok(t);
        }
        if end_of_track {
            // Without terminal count the controller ran off the end of its track.
            self.finish(t, ST0_ABNORMAL, ST1_EN, 0);
            return false;
        }
        match self.load_sector(&mut t) {
            Ok(()) => {
                self.s.transfer = Some(t);
                true
            }
            Err((st1, st2)) => {
                self.finish(t, ST0_ABNORMAL, st1, st2);
                false
            }
        }
    }

    fn finish_ok(&mut self, t: Transfer) -> bool {
        self.finish(t, 0, 0, 0);
        false
    }

    /// Ends a data command: the seven result bytes and the interrupt.
    fn finish(&mut self, t: Transfer, ic: u8, st1: u8, st2: u8) {
        let st0 = ic | t.st0 | t.head << 2 | t.drive;
        self.s.transfer = None;
        self.enter_result(vec![st0, st1, st2, t.c, t.h, t.r, t.n], true);
    }

    fn verify(&mut self, p: &[u8]) {
        let mut t = self.transfer_from_command(TransferOp::Read, p);
        // EC (byte 1 bit 7): byte 8 is a sector count rather than DTL.
        let count = (p[1] & 0x80 != 0).then_some(p[8]);
        let mut done: u16 = 0;
        // Bounded: R only grows until a sector is missing or the track ends.
        loop {
            if let Err((st1, st2)) =
                self.locate(t.drive as usize, t.head, [t.c, t.h, t.r, t.n], t.mfm)
            {
                return self.finish(t, ST0_ABNORMAL, st1, st2);
            }
            done += 1;
            let end_of_track = self.advance(&mut t);
            if count.is_some_and(|n| done >= n as u16) {
                return self.finish(t, 0, 0, 0);
            }
            if end_of_track {
                return match count {
                    // The count ran past the end of the track.
                    Some(_) => self.finish(t, ST0_ABNORMAL, ST1_EN, 0),
                    None => self.finish(t, 0, 0, 0),
                };
            }
        }
    }

    fn start_format(&mut self, p: &[u8]) {
        let drive = (p[1] & 3) as usize;
        let head = (p[1] >> 2) & 1;
        let cyl = self.s.pcn[drive];
        let mut t = Transfer {
            op: TransferOp::Format,
            pio: self.s.specify[1] & 1 != 0,
            drive: drive as u8,
            head,
            c: cyl,
            h: head,
            r: 1,
            n: p[2],
            eot: p[3],
            mt: false,
            mfm: p[0] & 0x40 != 0,
            st0: 0,
            buf: vec![0; 4],
            pos: 0,
            offset: 0,
            format_left: p[3],
            fill: p[5],
        };
        self.s.last_eot = p[3];
        let d = &self.drives[drive];
        let Some(fmt) = d.format.filter(|_| d.image.is_some()) else {
            return self.finish(t, ST0_ABNORMAL, ST1_MA, 0);
        };
        if d.read_only() {
            return self.finish(t, ST0_ABNORMAL, ST1_NW, 0);
        }
        if !t.mfm || !fmt.accepts_rate(self.s.rate) {
            // An image cannot hold a track recorded in another density.
            self.log
                .report("fdc", "FORMAT TRACK in a density the image cannot hold");
            return self.finish(t, ST0_ABNORMAL, ST1_MA, 0);
        }
        if p[2] != SECTOR_SIZE_CODE || p[3] != fmt.sectors {
            self.log
                .report("fdc", "FORMAT TRACK with a geometry other than the image's");
        }
        if t.format_left == 0 {
            return self.finish(t, 0, 0, 0);
        }
        t.r = 0;
        self.enter_execution(t);
    }

    /// Writes one formatted sector for the ID in the transfer buffer. The ID's C, H and R
    /// place the sector, with an implied seek to C (QEMU does the same; SeaBIOS formats
    /// without seeking first).
    fn format_sector(&mut self, t: &mut Transfer) -> Result<(), NotFound> {
        let [c, h, r, n] = [t.buf[0], t.buf[1], t.buf[2], t.buf[3]];
        (t.c, t.h, t.r, t.n) = (c, h, r, n);
        let drive = t.drive as usize;
        let Some(fmt) = self.drives[drive].format else {
            return Err((ST1_MA, 0));
        };
        // The image has one fixed layout: IDs that do not describe it cannot be kept.
        let Some(offset) = fmt
            .offset(c, h, r)
            .filter(|_| n == SECTOR_SIZE_CODE && h == t.head)
        else {
            self.log
                .report("fdc", "FORMAT TRACK sector IDs outside the image's layout");
            return Ok(());
        };
        self.step_to(drive, c);
        let filler = [t.fill; SECTOR_SIZE];
        match self.drives[drive]
            .image
            .as_mut()
            .map(|img| img.write_at(offset, &filler))
        {
            Some(Ok(())) => Ok(()),
            _ => Err((ST1_DE, 0)),
        }
    }
}
