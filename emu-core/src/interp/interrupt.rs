//! Delivering exceptions and interrupts: real-mode IVT, and double/triple fault rules.
//! Protected-mode IDT gates live in `pmode_interrupt.rs`.

use crate::cpu::core::Cpu;
use crate::cpu::flags::{AC, IF, RF, TF};
use crate::cpu::segment::SegmentCache;
use crate::cpu::state::{RunState, CS};
use crate::exception::{vector, Exception, ExceptionClass, Fault};

/// Where an event comes from; decides the return address and the gate DPL check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// INTR from the interrupt controller (or NMI).
    External,
    /// INT n, INT3, INTO: gate DPL is checked against CPL; returns after the instruction.
    Software,
    /// INT1 (ICEBP, F1): a trap with no DPL check.
    Icebp,
    /// A fault or trap raised by an instruction.
    Exception,
}

impl Cpu {
    /// Delivers an exception raised by the current instruction (EIP still points at it),
    /// turning faults during delivery into #DF and a fault during #DF into shutdown
    /// (SDM Vol. 3, 6.15 "Interrupt 8").
    pub fn raise(&mut self, e: Exception) {
        let mut e = e;
        if let Some(first) = self.delivering {
            let a = Exception::class(first);
            let b = Exception::class(e.vector);
            use ExceptionClass::*;
            let double = matches!(
                (a, b),
                (Contributory, Contributory) | (PageFault, Contributory) | (PageFault, PageFault)
            );
            if a == DoubleFault {
                self.triple_fault();
                return;
            }
            if double {
                e = Exception::with_code(vector::DF, 0);
            }
        }
        let outer = self.delivering;
        self.delivering = Some(e.vector);
        let rip = self.state.eip();
        let r = self.deliver(e.vector, e.error_code, rip, Source::Exception);
        match r {
            Ok(()) => self.delivering = outer,
            Err(e2) => {
                self.raise(e2);
                self.delivering = outer;
            }
        }
    }

    /// Delivers a hardware interrupt between instructions.
    pub fn deliver_interrupt(&mut self, vector: u8, source: Source) {
        let rip = self.state.eip();
        if let Err(e) = self.deliver(vector, None, rip, source) {
            self.raise(e);
        }
    }

    /// INT n / INT3 / INTO / INT1 from a handler: faults during delivery belong to the
    /// instruction. On success `next_rip` is the handler's entry point.
    pub fn software_interrupt(
        &mut self,
        vector: u8,
        source: Source,
    ) -> crate::exception::Result<()> {
        let ret = self.next_rip as u32;
        self.deliver(vector, None, ret, source)?;
        Err(Fault::EndBlock)
    }

    fn triple_fault(&mut self) {
        self.state.run_state = RunState::Shutdown;
        self.delivering = None;
    }

    /// Vectors through the IVT or IDT. Sets `state.rip` and `next_rip` to the handler.
    pub(crate) fn deliver(
        &mut self,
        vector: u8,
        error_code: Option<u32>,
        return_eip: u32,
        source: Source,
    ) -> Result<(), Exception> {
        if self.state.run_state == RunState::Halted {
            self.state.run_state = RunState::Running;
        }
        self.deliveries += 1;
        if self.intercept_vectors {
            return self.intercept(vector, error_code, return_eip, source);
        }
        if self.state.protected_mode() {
            return self.deliver_protected(vector, error_code, return_eip, source);
        }
        self.deliver_real(vector, return_eip)
    }

    /// Records the event instead of entering the handler. Software interrupts still get the
    /// gate privilege check a real IDT would apply: vectors 3 and 4 (INT3, INTO) are
    /// reachable from ring 3, as under Linux, and others raise #GP(vector * 8 + 2).
    fn intercept(
        &mut self,
        vector: u8,
        error_code: Option<u32>,
        return_eip: u32,
        source: Source,
    ) -> Result<(), Exception> {
        if source == Source::Software
            && self.state.protected_mode()
            && self.state.cpl > 0
            && !matches!(vector, 3 | 4)
        {
            return Err(Exception::gp(crate::exception::idt_error(vector, false)));
        }
        self.intercepted = Some(crate::cpu::core::VectorEvent {
            vector,
            error_code,
            return_eip,
        });
        self.state.run_state = RunState::Shutdown;
        Ok(())
    }

    /// Real mode: FLAGS, CS, IP pushed; IF, TF, AC cleared (SDM Vol. 2, INT n pseudo-code).
    fn deliver_real(&mut self, vector: u8, return_eip: u32) -> Result<(), Exception> {
        let off = vector as u32 * 4;
        if off + 3 > self.state.idtr.limit {
            return Err(Exception::gp(crate::exception::idt_error(vector, false)));
        }
        let entry = (self.state.idtr.base as u32).wrapping_add(off);
        let ip = self.read_lin_sys(entry, 2).map_err(fault_exc)?;
        let cs = self
            .read_lin_sys(entry.wrapping_add(2), 2)
            .map_err(fault_exc)?;
        let flags = self.state.eflags();
        let old_cs = self.state.seg[CS].selector as u32;
        self.push(2, flags).map_err(fault_exc)?;
        self.push(2, old_cs).map_err(fault_exc)?;
        self.push(2, return_eip & 0xFFFF).map_err(fault_exc)?;
        self.state.lazy.set_bits(IF | TF | AC | RF, false);
        self.load_real_cs(cs as u16, ip);
        Ok(())
    }

    /// Loads CS the real-mode way and jumps to `ip`.
    pub fn load_real_cs(&mut self, selector: u16, ip: u32) {
        let attr_db = self.state.seg[CS].attr & crate::cpu::segment::ATTR_DB;
        let mut cs = SegmentCache::real_mode(selector);
        // Real mode keeps the cached limit and size bits; only base and selector change.
        cs.limit = self.state.seg[CS].limit;
        cs.attr |= attr_db;
        if self.state.v8086() {
            cs = SegmentCache::v8086(selector);
        }
        self.state.seg[CS] = cs;
        self.state.rip = ip as u64;
        self.next_rip = ip as u64;
    }
}

/// Unwraps an exception from a memory helper's `Fault` (they never end blocks).
#[inline]
pub fn fault_exc(f: Fault) -> Exception {
    match f {
        Fault::Exception(e) => e,
        Fault::EndBlock => Exception::gp0(),
    }
}
