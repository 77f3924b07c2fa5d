//! A National Semiconductor 16550A UART, as wired on a PC (COM1 at 0x3F8 on IRQ 4, COM2 at
//! 0x2F8 on IRQ 3). Behaviour from the PC16550D data sheet: the eight registers with the
//! divisor latch behind LCR.DLAB, 16-byte receive FIFO with trigger levels 1/4/8/14 and the
//! character timeout, all four interrupt sources in their priority order, loopback with MSR
//! mirroring MCR, overrun, the scratch register. MCR.OUT2 gates the interrupt line, as the
//! PC's buffer on that pin does (and loopback forces OUT2 inactive, so no interrupts reach the
//! line in loopback, though IIR still reports them).
//!
//! Transmission is instant: a byte written to THR goes straight to the output (or, in
//! loopback, into the receive FIFO), THR is empty again at once and the THRE interrupt is
//! re-armed, as QEMU's model does; the driver sees THRE after every write and stops when it
//! disables ETBEI once its buffer is empty, so nothing loops.
//!
//! Input comes from another thread through [`SerialInput`], a lock-free channel. The device
//! takes bytes only when the receive FIFO (or the single RBR without FIFOs) has room, so host
//! input is never overrun: it waits in the channel until the guest reads. Bytes are pulled on
//! reads of RBR and LSR and in `poll_timer`, which also runs the character timeout in virtual
//! time.
//!
//! The rust-vmm `vm-superio` serial was evaluated and not used: it has no FIFO control
//! register (the FIFO is always on, no trigger levels, no character timeout), reports only
//! the THRE and received-data interrupts (no line-status or modem-status sources), and its
//! `Trigger` only signals events, it cannot lower a level, which `IrqLines` and OUT2 gating
//! need.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use emu_core::bus::PortDevice;
use emu_core::irq::IrqLines;

pub const COM1_BASE: u16 = 0x3F8;
pub const COM1_IRQ: u8 = 4;
pub const COM2_BASE: u16 = 0x2F8;
pub const COM2_IRQ: u8 = 3;

/// The UART's input clock divided by 16: the baud rate at divisor 1.
const BASE_BAUD: u64 = 115_200;
const FIFO_SIZE: usize = 16;

// Register offsets.
const RBR_THR_DLL: u16 = 0;
const IER_DLM: u16 = 1;
const IIR_FCR: u16 = 2;
const LCR: u16 = 3;
const MCR: u16 = 4;
const LSR: u16 = 5;
const MSR: u16 = 6;
const SCR: u16 = 7;

// IER bits.
const IER_ERBFI: u8 = 0x01;
const IER_ETBEI: u8 = 0x02;
const IER_ELSI: u8 = 0x04;
const IER_EDSSI: u8 = 0x08;

// IIR values.
const IIR_NONE: u8 = 0x01;
const IIR_MSR: u8 = 0x00;
const IIR_THRE: u8 = 0x02;
const IIR_RDA: u8 = 0x04;
const IIR_LSR: u8 = 0x06;
const IIR_TIMEOUT: u8 = 0x0C;
const IIR_FIFO_ON: u8 = 0xC0;

// FCR bits.
const FCR_ENABLE: u8 = 0x01;
const FCR_RX_RESET: u8 = 0x02;
/// Bits FCR keeps: enable, DMA mode select, receiver trigger.
const FCR_KEPT: u8 = 0xC9;

// LCR bits.
const LCR_DLAB: u8 = 0x80;

// MCR bits.
const MCR_DTR: u8 = 0x01;
const MCR_RTS: u8 = 0x02;
const MCR_OUT1: u8 = 0x04;
const MCR_OUT2: u8 = 0x08;
const MCR_LOOP: u8 = 0x10;

// LSR bits.
const LSR_DR: u8 = 0x01;
/// Overrun, the one receive error a virtual line has (no parity, framing errors or breaks,
/// so LSR bits 2-4 and 7 stay clear).
const LSR_OE: u8 = 0x02;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;

// MSR bits.
const MSR_DCTS: u8 = 0x01;
const MSR_DDSR: u8 = 0x02;
const MSR_TERI: u8 = 0x04;
const MSR_DDCD: u8 = 0x08;
const MSR_CTS: u8 = 0x10;
const MSR_DSR: u8 = 0x20;
const MSR_RI: u8 = 0x40;
const MSR_DCD: u8 = 0x80;
/// Modem inputs outside loopback: a terminal is attached (carrier, DSR, CTS), no ring.
const MSR_LINES_ATTACHED: u8 = MSR_DCD | MSR_DSR | MSR_CTS;

/// Saveable state: the registers, the receive FIFO and the pending-interrupt latches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialState {
    pub dll: u8,
    pub dlm: u8,
    /// Low four bits only.
    pub ier: u8,
    /// FIFO enable, DMA mode and receiver trigger bits of the last FCR write.
    pub fcr: u8,
    pub lcr: u8,
    /// Low five bits only.
    pub mcr: u8,
    /// Latched LSR error bits (only OE occurs); DR, THRE and TEMT are derived.
    pub lsr_errors: u8,
    /// Latched MSR delta bits (DCTS, DDSR, TERI, DDCD); the line bits are derived.
    pub msr_deltas: u8,
    pub scr: u8,
    /// Receive FIFO, oldest first (at most one byte with FIFOs disabled).
    pub rx_fifo: VecDeque<u8>,
    /// THR-empty interrupt latch: set when THR empties or ETBEI is enabled, cleared by an IIR
    /// read that reports it, a THR write or disabling ETBEI.
    pub thre_pending: bool,
    /// Character timeout indication (FIFO mode).
    pub timeout_pending: bool,
    /// Virtual time at which the character timeout fires; `None` restarts the timer at the
    /// next `poll_timer` (after receive FIFO activity).
    pub timeout_deadline: Option<u64>,
}

impl Default for SerialState {
    /// The state after a master reset (divisor left at 12, 9600 baud, as QEMU does).
    fn default() -> Self {
        SerialState {
            dll: 12,
            dlm: 0,
            ier: 0,
            fcr: 0,
            lcr: 0,
            mcr: 0,
            lsr_errors: 0,
            msr_deltas: 0,
            scr: 0,
            rx_fifo: VecDeque::with_capacity(FIFO_SIZE),
            thre_pending: false,
            timeout_pending: false,
            timeout_deadline: None,
        }
    }
}

/// The front end's side of the receive line: a cloneable, `Send` handle whose bytes the
/// device takes when the guest has room for them.
#[derive(Clone, Debug)]
pub struct SerialInput {
    tx: mpsc::Sender<u8>,
    /// Bytes sent and not yet taken by the device (counted before sending, so the device
    /// never sees more bytes than the count).
    pending: Arc<AtomicUsize>,
}

impl SerialInput {
    /// Queues one byte for the guest. False when the device no longer exists.
    pub fn send(&self, byte: u8) -> bool {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(byte).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Queues bytes for the guest. False when the device no longer exists.
    pub fn send_bytes(&self, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.send(b))
    }

    /// Bytes queued that the device has not taken yet.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

/// One 16550A on eight consecutive I/O ports.
pub struct Serial16550 {
    s: SerialState,
    base: u16,
    irq_line: u8,
    irq: IrqLines,
    out: Box<dyn Write + Send>,
    /// Output written and not yet flushed (flushed on newline and in `poll_timer`).
    unflushed: bool,
    input_tx: mpsc::Sender<u8>,
    input_rx: mpsc::Receiver<u8>,
    input_pending: Arc<AtomicUsize>,
}

impl Serial16550 {
    pub fn new(base_port: u16, irq_line: u8, irq: IrqLines, out: Box<dyn Write + Send>) -> Self {
        let (input_tx, input_rx) = mpsc::channel();
        Serial16550 {
            s: SerialState::default(),
            base: base_port,
            irq_line,
            irq,
            out,
            unflushed: false,
            input_tx,
            input_rx,
            input_pending: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The ports to register the device on.
    pub fn ports(&self) -> std::ops::Range<u16> {
        self.base..self.base + 8
    }

    /// A handle through which another thread feeds the receive line.
    pub fn input_handle(&self) -> SerialInput {
        SerialInput {
            tx: self.input_tx.clone(),
            pending: self.input_pending.clone(),
        }
    }

    pub fn state(&self) -> SerialState {
        self.s.clone()
    }

    pub fn restore(&mut self, s: SerialState) {
        self.s = s;
        self.s.ier &= 0x0F;
        self.s.mcr &= 0x1F;
        let cap = self.rx_capacity();
        self.s.rx_fifo.truncate(cap);
        self.update_irq();
    }

    /// Master reset (the MR pin): registers to their reset values, FIFO emptied. Input
    /// queued by the front end stays queued.
    pub fn reset(&mut self) {
        self.s = SerialState::default();
        self.update_irq();
    }

    fn fifo_enabled(&self) -> bool {
        self.s.fcr & FCR_ENABLE != 0
    }

    fn loopback(&self) -> bool {
        self.s.mcr & MCR_LOOP != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() {
            FIFO_SIZE
        } else {
            1
        }
    }

    fn rx_trigger(&self) -> usize {
        [1, 4, 8, 14][(self.s.fcr >> 6) as usize]
    }

    fn divisor(&self) -> u64 {
        u64::from(u16::from_le_bytes([self.s.dll, self.s.dlm]).max(1))
    }

    /// Bits on the wire per character: start, data, parity, stop.
    fn char_bits(&self) -> u64 {
        let data = 5 + u64::from(self.s.lcr & 3);
        let parity = u64::from(self.s.lcr >> 3 & 1);
        let stop = if self.s.lcr & 4 != 0 { 2 } else { 1 };
        1 + data + parity + stop
    }

    /// Four character times at the programmed rate and format.
    pub fn char_timeout_ns(&self) -> u64 {
        4 * self.char_bits() * self.divisor() * 1_000_000_000 / BASE_BAUD
    }

    /// The modem status inputs: the attached terminal's, or MCR's outputs in loopback.
    fn msr_lines(&self) -> u8 {
        if self.loopback() {
            let m = self.s.mcr;
            (if m & MCR_RTS != 0 { MSR_CTS } else { 0 })
                | (if m & MCR_DTR != 0 { MSR_DSR } else { 0 })
                | (if m & MCR_OUT1 != 0 { MSR_RI } else { 0 })
                | (if m & MCR_OUT2 != 0 { MSR_DCD } else { 0 })
        } else {
            MSR_LINES_ATTACHED
        }
    }

    fn lsr(&self) -> u8 {
        let dr = if self.s.rx_fifo.is_empty() { 0 } else { LSR_DR };
        // Instant transmission: THR and the shift register are always empty.
        dr | self.s.lsr_errors | LSR_THRE | LSR_TEMT
    }

    /// The highest-priority pending, enabled interrupt (IIR bits 0-3), if any.
    fn interrupt_id(&self) -> Option<u8> {
        let ier = self.s.ier;
        let rx = self.s.rx_fifo.len();
        if ier & IER_ELSI != 0 && self.s.lsr_errors != 0 {
            Some(IIR_LSR)
        } else if ier & IER_ERBFI != 0
            && rx > 0
            && (!self.fifo_enabled() || rx >= self.rx_trigger())
        {
            Some(IIR_RDA)
        } else if ier & IER_ERBFI != 0 && self.fifo_enabled() && self.s.timeout_pending {
            Some(IIR_TIMEOUT)
        } else if ier & IER_ETBEI != 0 && self.s.thre_pending {
            Some(IIR_THRE)
        } else if ier & IER_EDSSI != 0 && self.s.msr_deltas != 0 {
            Some(IIR_MSR)
        } else {
            None
        }
    }

    /// Drives the interrupt line: a pending interrupt, gated by OUT2 (forced inactive in
    /// loopback).
    fn update_irq(&mut self) {
        let gate = self.s.mcr & (MCR_OUT2 | MCR_LOOP) == MCR_OUT2;
        let level = gate && self.interrupt_id().is_some();
        self.irq.set(self.irq_line, level);
    }

    /// Receive FIFO activity: restarts the character timeout timer.
    fn rx_activity(&mut self) {
        self.s.timeout_deadline = None;
    }

    /// A character arrives at the receiver (from the line or the loopback path).
    fn receive(&mut self, byte: u8) {
        if self.s.rx_fifo.len() < self.rx_capacity() {
            self.s.rx_fifo.push_back(byte);
        } else if self.fifo_enabled() {
            // The FIFO keeps its contents; the character in the shift register is lost.
            self.s.lsr_errors |= LSR_OE;
        } else {
            // Without FIFOs the new character overwrites the unread one in RBR.
            self.s.lsr_errors |= LSR_OE;
            self.s.rx_fifo.clear();
            self.s.rx_fifo.push_back(byte);
        }
        self.rx_activity();
    }

    /// Takes queued input while the receiver has room (the line is disconnected in loopback).
    fn pull_input(&mut self) {
        if self.loopback() {
            return;
        }
        while self.s.rx_fifo.len() < self.rx_capacity()
            && self.input_pending.load(Ordering::Acquire) > 0
        {
            match self.input_rx.try_recv() {
                Ok(b) => {
                    self.input_pending.fetch_sub(1, Ordering::AcqRel);
                    self.receive(b);
                }
                Err(_) => break,
            }
        }
    }

    fn transmit(&mut self, byte: u8) {
        let byte = byte & (0xFFu16 >> (3 - (self.s.lcr & 3))) as u8;
        if self.loopback() {
            self.receive(byte);
        } else {
            // Output errors (a closed pipe) must not stop the guest.
            let _ = self.out.write_all(&[byte]);
            self.unflushed = true;
            if byte == b'\n' {
                self.flush();
            }
        }
        // THR and the shift register are empty again at once.
        self.s.thre_pending = true;
    }

    fn flush(&mut self) {
        if self.unflushed {
            let _ = self.out.flush();
            self.unflushed = false;
        }
    }

    fn read_reg(&mut self, offset: u16) -> u8 {
        let dlab = self.s.lcr & LCR_DLAB != 0;
        let v = match offset {
            RBR_THR_DLL if dlab => self.s.dll,
            RBR_THR_DLL => {
                let b = self.s.rx_fifo.pop_front().unwrap_or(0);
                self.s.timeout_pending = false;
                self.rx_activity();
                self.pull_input();
                b
            }
            IER_DLM if dlab => self.s.dlm,
            IER_DLM => self.s.ier,
            IIR_FCR => {
                let id = self.interrupt_id();
                if id == Some(IIR_THRE) {
                    self.s.thre_pending = false;
                }
                let fifo = if self.fifo_enabled() { IIR_FIFO_ON } else { 0 };
                id.unwrap_or(IIR_NONE) | fifo
            }
            LCR => self.s.lcr,
            MCR => self.s.mcr,
            LSR => {
                self.pull_input();
                let v = self.lsr();
                self.s.lsr_errors = 0;
                v
            }
            MSR => {
                let v = self.msr_lines() | self.s.msr_deltas;
                self.s.msr_deltas = 0;
                v
            }
            SCR => self.s.scr,
            _ => 0xFF,
        };
        self.update_irq();
        v
    }

    fn write_reg(&mut self, offset: u16, v: u8) {
        let dlab = self.s.lcr & LCR_DLAB != 0;
        match offset {
            RBR_THR_DLL if dlab => self.s.dll = v,
            RBR_THR_DLL => {
                self.s.thre_pending = false;
                self.transmit(v);
            }
            IER_DLM if dlab => self.s.dlm = v,
            IER_DLM => {
                let v = v & 0x0F;
                let changed = self.s.ier ^ v;
                self.s.ier = v;
                if changed & IER_ETBEI != 0 {
                    // Enabling ETBEI with THR empty raises THRE at once; disabling drops it.
                    self.s.thre_pending = v & IER_ETBEI != 0;
                }
            }
            IIR_FCR => self.write_fcr(v),
            LCR => self.s.lcr = v,
            MCR => {
                let old_lines = self.msr_lines();
                self.s.mcr = v & 0x1F;
                let new_lines = self.msr_lines();
                let changed = old_lines ^ new_lines;
                if changed & MSR_CTS != 0 {
                    self.s.msr_deltas |= MSR_DCTS;
                }
                if changed & MSR_DSR != 0 {
                    self.s.msr_deltas |= MSR_DDSR;
                }
                if old_lines & MSR_RI != 0 && new_lines & MSR_RI == 0 {
                    self.s.msr_deltas |= MSR_TERI;
                }
                if changed & MSR_DCD != 0 {
                    self.s.msr_deltas |= MSR_DDCD;
                }
                self.pull_input();
            }
            // LSR and MSR are read-only (writes are factory test on the 16550).
            LSR | MSR => {}
            SCR => self.s.scr = v,
            _ => {}
        }
        self.update_irq();
    }

    fn write_fcr(&mut self, v: u8) {
        let mut v = v;
        if (v ^ self.s.fcr) & FCR_ENABLE != 0 {
            // Switching the FIFOs on or off empties them.
            v |= FCR_RX_RESET;
        }
        if v & FCR_RX_RESET != 0 {
            self.s.rx_fifo.clear();
            self.s.timeout_pending = false;
            self.rx_activity();
        }
        // TX reset (bit 2) has nothing to do: transmission is instant.
        // Other bits program only while FCR0 is written as 1.
        self.s.fcr = if v & FCR_ENABLE != 0 { v & FCR_KEPT } else { 0 };
        self.pull_input();
    }

    fn offset(&self, port: u16) -> Option<u16> {
        let off = port.wrapping_sub(self.base);
        (off < 8).then_some(off)
    }
}

impl PortDevice for Serial16550 {
    /// Byte registers; wider accesses read consecutive registers.
    fn read(&mut self, port: u16, size: u8) -> u32 {
        (0..size.min(4)).fold(0, |acc, i| {
            let b = match self.offset(port.wrapping_add(u16::from(i))) {
                Some(off) => self.read_reg(off),
                None => 0xFF,
            };
            acc | u32::from(b) << (8 * i)
        })
    }

    /// Byte registers; wider accesses write consecutive registers.
    fn write(&mut self, port: u16, size: u8, value: u32) {
        for i in 0..size.min(4) {
            if let Some(off) = self.offset(port.wrapping_add(u16::from(i))) {
                self.write_reg(off, (value >> (8 * i)) as u8);
            }
        }
    }

    /// Takes queued input and runs the character timeout. Returns the timeout deadline while
    /// the receive FIFO holds characters; otherwise nothing is due (input that does not fit
    /// waits for the guest's next RBR or LSR read).
    fn poll_timer(&mut self, now_ns: u64) -> Option<u64> {
        self.flush();
        self.pull_input();
        let mut next = None;
        if self.fifo_enabled() && !self.s.rx_fifo.is_empty() && !self.s.timeout_pending {
            match self.s.timeout_deadline {
                Some(d) if now_ns >= d => {
                    self.s.timeout_pending = true;
                    self.s.timeout_deadline = None;
                }
                Some(d) => next = Some(d),
                None => {
                    let d = now_ns + self.char_timeout_ns();
                    self.s.timeout_deadline = Some(d);
                    next = Some(d);
                }
            }
        }
        self.update_irq();
        next
    }
}

impl Drop for Serial16550 {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const BASE: u16 = COM1_BASE;
    const IRQ: u8 = COM1_IRQ;

    /// An output sink the test can look into.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A UART programmed for 8N1 (the reset LCR means five-bit words).
    fn uart() -> (Serial16550, IrqLines, Sink) {
        let lines = IrqLines::new();
        let sink = Sink::default();
        let mut u = Serial16550::new(BASE, IRQ, lines.clone(), Box::new(sink.clone()));
        wr(&mut u, LCR, 0x03);
        (u, lines, sink)
    }

    fn rd(u: &mut Serial16550, off: u16) -> u8 {
        u.read(BASE + off, 1) as u8
    }

    fn wr(u: &mut Serial16550, off: u16, v: u8) {
        u.write(BASE + off, 1, u32::from(v));
    }

    fn line(l: &IrqLines) -> bool {
        l.levels() & (1 << IRQ) != 0
    }

    #[test]
    fn transmit_reaches_the_sink() {
        let (mut u, _, sink) = uart();
        for &b in b"hi\n" {
            assert_ne!(rd(&mut u, LSR) & LSR_THRE, 0);
            wr(&mut u, RBR_THR_DLL, b);
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"hi\n");
        assert_eq!(rd(&mut u, LSR), LSR_THRE | LSR_TEMT);
        // Seven data bits send only seven.
        wr(&mut u, LCR, 0x02);
        wr(&mut u, RBR_THR_DLL, 0xC1);
        assert_eq!(sink.0.lock().unwrap().last(), Some(&0x41));
    }

    #[test]
    fn divisor_latch_sits_behind_dlab() {
        let (mut u, _, sink) = uart();
        wr(&mut u, IER_DLM, 0x05);
        wr(&mut u, LCR, 0x83);
        assert_eq!(rd(&mut u, RBR_THR_DLL), 12, "reset divisor");
        wr(&mut u, RBR_THR_DLL, 0x01);
        wr(&mut u, IER_DLM, 0x00);
        assert_eq!(rd(&mut u, RBR_THR_DLL), 0x01);
        assert_eq!(rd(&mut u, IER_DLM), 0x00);
        wr(&mut u, LCR, 0x03);
        assert_eq!(rd(&mut u, IER_DLM), 0x05, "IER kept its value");
        assert!(sink.0.lock().unwrap().is_empty(), "DLL writes are not data");
        // 115200 baud 8N1: ten bits of 8.68 us, four characters.
        assert_eq!(u.char_timeout_ns(), 4 * 10 * 1_000_000_000 / 115_200);
        // IER keeps four bits; the scratch register keeps all eight.
        wr(&mut u, IER_DLM, 0xFF);
        assert_eq!(rd(&mut u, IER_DLM), 0x0F);
        wr(&mut u, SCR, 0xA5);
        assert_eq!(rd(&mut u, SCR), 0xA5);
    }

    #[test]
    fn received_data_raises_the_line_through_out2_and_drops_when_drained() {
        let (mut u, lines, _) = uart();
        let input = u.input_handle();
        wr(&mut u, IER_DLM, IER_ERBFI);
        assert!(input.send_bytes(b"ab"));
        // Without FIFOs RBR holds one byte; the second waits in the channel.
        assert_eq!(u.poll_timer(0), None);
        assert_eq!(input.pending(), 1);
        assert_eq!(rd(&mut u, LSR) & LSR_DR, LSR_DR);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_RDA);
        assert!(
            !line(&lines),
            "OUT2 clear: the PC's buffer keeps the line low"
        );
        wr(&mut u, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        assert!(line(&lines));
        assert_eq!(rd(&mut u, RBR_THR_DLL), b'a');
        assert!(line(&lines), "reading RBR took the next byte");
        assert_eq!(rd(&mut u, RBR_THR_DLL), b'b');
        assert!(!line(&lines));
        assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_NONE);
        assert_eq!(input.pending(), 0);
        // A byte arriving later is taken at the next poll, with a fresh rising edge.
        lines.take_edges();
        input.send(b'c');
        u.poll_timer(1_000);
        assert!(line(&lines));
        assert_eq!(lines.take_edges() & (1 << IRQ), 1 << IRQ);
    }

    #[test]
    fn fifo_trigger_level_and_character_timeout() {
        let (mut u, lines, _) = uart();
        let input = u.input_handle();
        wr(&mut u, LCR, 0x83);
        wr(&mut u, RBR_THR_DLL, 1);
        wr(&mut u, LCR, 0x03);
        wr(&mut u, IIR_FCR, 0x81 | FCR_RX_RESET); // FIFO on, trigger 8
        wr(&mut u, MCR, MCR_OUT2);
        wr(&mut u, IER_DLM, IER_ERBFI);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_NONE);

        // Three bytes: below the trigger, so only the timeout will report them.
        input.send_bytes(b"xyz");
        let t = u.char_timeout_ns();
        assert_eq!(u.poll_timer(1_000), Some(1_000 + t));
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_NONE);
        assert!(!line(&lines));
        assert_eq!(u.poll_timer(1_000 + t / 2), Some(1_000 + t), "not yet");
        assert_eq!(u.poll_timer(1_000 + t), None);
        assert!(line(&lines));
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_TIMEOUT);
        // Reading a character clears the timeout and restarts the timer.
        assert_eq!(rd(&mut u, RBR_THR_DLL), b'x');
        assert!(!line(&lines));
        assert_eq!(u.poll_timer(2_000_000), Some(2_000_000 + t));
        u.poll_timer(2_000_000 + t);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_TIMEOUT);
        rd(&mut u, RBR_THR_DLL);
        rd(&mut u, RBR_THR_DLL);
        assert_eq!(u.poll_timer(3_000_000), None, "empty FIFO: no timer");
        assert!(!line(&lines));

        // Eight bytes reach the trigger at once; the FIFO holds sixteen, the rest wait.
        input.send_bytes(&[7; 20]);
        u.poll_timer(4_000_000);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_RDA);
        assert!(line(&lines));
        assert_eq!(input.pending(), 4);
        for _ in 0..12 {
            rd(&mut u, RBR_THR_DLL);
        }
        assert_eq!(input.pending(), 0, "reads made room for the rest");
        assert_eq!(
            rd(&mut u, IIR_FCR),
            IIR_FIFO_ON | IIR_RDA,
            "still 8 in the FIFO"
        );
        rd(&mut u, RBR_THR_DLL);
        assert_eq!(
            rd(&mut u, IIR_FCR),
            IIR_FIFO_ON | IIR_NONE,
            "7 left: below trigger"
        );

        // RX reset empties the FIFO.
        wr(&mut u, IIR_FCR, 0x81 | FCR_RX_RESET);
        assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
        // Trigger level 1 reports a single byte at once.
        wr(&mut u, IIR_FCR, 0x01);
        input.send(b'q');
        u.poll_timer(5_000_000);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_RDA);
    }

    #[test]
    fn thre_interrupt_on_enable_cleared_by_iir_read() {
        let (mut u, lines, _) = uart();
        wr(&mut u, MCR, MCR_OUT2);
        wr(&mut u, IER_DLM, IER_ETBEI);
        assert!(
            line(&lines),
            "enabling ETBEI with THR empty interrupts at once"
        );
        assert_eq!(rd(&mut u, IIR_FCR), IIR_THRE);
        assert!(!line(&lines));
        assert_eq!(rd(&mut u, IIR_FCR), IIR_NONE, "the read cleared it");
        // Linux's UART_BUG_THRE probe: disabling and re-enabling re-arms it.
        wr(&mut u, IER_DLM, 0);
        wr(&mut u, IER_DLM, IER_ETBEI);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_THRE);
        // Rewriting IER with ETBEI already set does not.
        wr(&mut u, IER_DLM, IER_ETBEI);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_NONE);
        // THR drains at once and re-arms it.
        wr(&mut u, RBR_THR_DLL, b'a');
        assert!(line(&lines));
        // Disabling ETBEI drops it (how a driver with nothing to send stops).
        wr(&mut u, IER_DLM, 0);
        assert!(!line(&lines));
        assert_eq!(rd(&mut u, IIR_FCR), IIR_NONE);
    }

    #[test]
    fn loopback_echoes_thr_and_mirrors_mcr_in_msr() {
        let (mut u, lines, sink) = uart();
        let input = u.input_handle();
        assert_eq!(
            rd(&mut u, MSR),
            MSR_DCD | MSR_DSR | MSR_CTS,
            "a terminal is attached"
        );
        // Linux's autoconfig test: loopback with RTS and OUT2 reads back CTS and DCD.
        wr(&mut u, MCR, MCR_LOOP | MCR_RTS | MCR_OUT2);
        assert_eq!(rd(&mut u, MSR) & 0xF0, MSR_CTS | MSR_DCD);
        wr(&mut u, MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
        assert_eq!(
            rd(&mut u, MSR),
            MSR_DSR | MSR_RI | MSR_DCTS | MSR_DDSR | MSR_DDCD
        );
        wr(&mut u, MCR, MCR_LOOP | MCR_DTR);
        assert_eq!(rd(&mut u, MSR), MSR_DSR | MSR_TERI, "trailing edge of RI");
        assert_eq!(rd(&mut u, MSR), MSR_DSR, "deltas clear on read");

        input.send(b'!');
        wr(&mut u, RBR_THR_DLL, 0x5A);
        assert_eq!(rd(&mut u, LSR) & LSR_DR, LSR_DR);
        assert_eq!(rd(&mut u, RBR_THR_DLL), 0x5A);
        assert!(
            sink.0.lock().unwrap().is_empty(),
            "nothing reached the line"
        );
        assert_eq!(
            rd(&mut u, LSR) & LSR_DR,
            0,
            "the line input is disconnected"
        );
        // Loopback forces OUT2 inactive: pending interrupts do not reach the PC's line.
        wr(&mut u, MCR, MCR_LOOP | MCR_OUT2);
        wr(&mut u, IER_DLM, IER_ETBEI);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_THRE);
        wr(&mut u, IER_DLM, 0);
        wr(&mut u, IER_DLM, IER_ETBEI);
        assert!(!line(&lines));
        wr(&mut u, MCR, MCR_OUT2);
        assert!(line(&lines));
        assert_eq!(
            rd(&mut u, RBR_THR_DLL),
            b'!',
            "line input back after loopback"
        );
    }

    #[test]
    fn overrun_when_the_fifo_overflows() {
        let (mut u, lines, _) = uart();
        wr(&mut u, IIR_FCR, 0x01);
        wr(&mut u, MCR, MCR_LOOP);
        for b in 0..17 {
            wr(&mut u, RBR_THR_DLL, b);
        }
        assert_eq!(rd(&mut u, LSR) & (LSR_OE | LSR_DR), LSR_OE | LSR_DR);
        assert_eq!(rd(&mut u, LSR) & LSR_OE, 0, "OE clears on read");
        // The FIFO kept the first sixteen; the seventeenth was lost.
        let got: Vec<u8> = (0..16).map(|_| rd(&mut u, RBR_THR_DLL)).collect();
        assert_eq!(got, (0..16).collect::<Vec<u8>>());
        assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);

        // Without FIFOs the new character overwrites RBR; line status interrupt reports it.
        wr(&mut u, IIR_FCR, 0x00);
        wr(&mut u, IER_DLM, IER_ELSI);
        wr(&mut u, RBR_THR_DLL, 1);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_NONE);
        wr(&mut u, RBR_THR_DLL, 2);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_LSR);
        wr(&mut u, MCR, MCR_OUT2);
        assert!(line(&lines));
        assert_eq!(rd(&mut u, LSR), LSR_OE | LSR_DR | LSR_THRE | LSR_TEMT);
        assert!(!line(&lines));
        assert_eq!(rd(&mut u, RBR_THR_DLL), 2);
    }

    #[test]
    fn iir_reports_sources_in_priority_order() {
        let (mut u, _, _) = uart();
        wr(&mut u, IIR_FCR, 0x41); // FIFO on, trigger 4
        wr(&mut u, MCR, MCR_LOOP);
        for b in 0..17 {
            wr(&mut u, RBR_THR_DLL, b); // overrun, FIFO full, THR empty again
        }
        wr(&mut u, MCR, MCR_LOOP | MCR_RTS); // CTS changes: a modem status delta
        wr(&mut u, IER_DLM, 0x0F);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_LSR);
        rd(&mut u, LSR);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_RDA);
        for _ in 0..16 {
            rd(&mut u, RBR_THR_DLL);
        }
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_THRE);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_MSR);
        assert_eq!(rd(&mut u, MSR) & MSR_DCTS, MSR_DCTS);
        assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ON | IIR_NONE);
    }

    #[test]
    fn fifo_detection_as_linux_does_it() {
        let (mut u, _, _) = uart();
        assert_eq!(rd(&mut u, IIR_FCR) & 0xC0, 0, "8250 mode after reset");
        wr(&mut u, IIR_FCR, 0x01);
        assert_eq!(rd(&mut u, IIR_FCR) >> 6, 3, "16550A: both FIFO bits");
        // The EFR probe reads offset 2 with DLAB set: a 16550A answers IIR, never 0.
        wr(&mut u, LCR, 0xBF);
        assert_ne!(rd(&mut u, IIR_FCR), 0);
        wr(&mut u, LCR, 0x03);
        // A 64-byte FIFO request is not honoured (IIR bit 5 stays clear).
        wr(&mut u, IIR_FCR, 0x21);
        assert_eq!(rd(&mut u, IIR_FCR) & 0x20, 0);
        // Word access reads consecutive registers; ports past the UART float.
        wr(&mut u, SCR, 0x42);
        assert_eq!(u.read(BASE + 6, 2), 0x4200 | u32::from(MSR_LINES_ATTACHED));
        assert_eq!(u.read(BASE + 7, 2), 0xFF42);
    }

    #[test]
    fn input_handle_feeds_from_another_thread() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<SerialInput>();
        send::<Serial16550>();

        let (mut u, _, _) = uart();
        let input = u.input_handle();
        std::thread::spawn(move || input.send_bytes(b"hello"))
            .join()
            .unwrap();
        wr(&mut u, IIR_FCR, 0x01);
        let mut got = Vec::new();
        while rd(&mut u, LSR) & LSR_DR != 0 {
            got.push(rd(&mut u, RBR_THR_DLL));
        }
        assert_eq!(got, b"hello");
    }

    /// Linux's 8250 interrupt handler against instant transmission: each pass reads IIR,
    /// sends up to a FIFO's worth while LSR.THRE and IER.THRI, and disables THRI once its
    /// buffer is empty. The loop must end well inside the driver's 512-pass limit.
    #[test]
    fn linux_style_tx_interrupt_loop_terminates() {
        let (mut u, lines, sink) = uart();
        wr(&mut u, IIR_FCR, 0x81 | FCR_RX_RESET);
        wr(&mut u, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        let msg: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let mut pos = 0;
        let mut ier = IER_ERBFI | IER_ELSI;
        wr(&mut u, IER_DLM, ier);
        // start_tx
        ier |= IER_ETBEI;
        wr(&mut u, IER_DLM, ier);
        assert!(line(&lines));
        let mut passes = 0;
        while rd(&mut u, IIR_FCR) & IIR_NONE == 0 {
            passes += 1;
            assert!(passes < 512, "too much work for irq");
            let lsr = rd(&mut u, LSR);
            if lsr & LSR_THRE != 0 && ier & IER_ETBEI != 0 {
                for _ in 0..FIFO_SIZE {
                    if pos == msg.len() {
                        break;
                    }
                    wr(&mut u, RBR_THR_DLL, msg[pos]);
                    pos += 1;
                }
                if pos == msg.len() {
                    ier &= !IER_ETBEI; // __stop_tx
                    wr(&mut u, IER_DLM, ier);
                }
            }
        }
        assert_eq!(*sink.0.lock().unwrap(), msg);
        assert!(passes <= msg.len().div_ceil(FIFO_SIZE));
        assert!(
            !line(&lines),
            "the line drops so the next request is a new edge"
        );
    }

    #[test]
    fn state_round_trips() {
        let (mut u, _, _) = uart();
        wr(&mut u, IIR_FCR, 0xC1);
        wr(&mut u, MCR, MCR_LOOP | MCR_OUT2);
        wr(&mut u, RBR_THR_DLL, 0x33);
        wr(&mut u, RBR_THR_DLL, 0x44);
        wr(&mut u, IER_DLM, IER_ERBFI | IER_ETBEI);
        wr(&mut u, SCR, 9);
        let s = u.state();
        assert_eq!(s.rx_fifo, [0x33, 0x44]);

        let (mut v, lines, _) = uart();
        v.restore(s.clone());
        assert_eq!(v.state(), s);
        wr(&mut v, MCR, MCR_OUT2);
        assert!(line(&lines), "restored THRE pending reaches the line");
        assert_eq!(rd(&mut v, IIR_FCR), IIR_FIFO_ON | IIR_THRE);
        assert_eq!(rd(&mut v, RBR_THR_DLL), 0x33);
        assert_eq!(rd(&mut v, RBR_THR_DLL), 0x44);
        assert_eq!(rd(&mut v, SCR), 9);

        v.reset();
        assert_eq!(v.state(), SerialState::default());
        assert_eq!(v.state().lcr, 0);
        assert!(!line(&lines));
    }
}
