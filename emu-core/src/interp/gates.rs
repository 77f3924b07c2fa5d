//! Far JMP/CALL through system descriptors: call gates (286 and 386, with parameter copying
//! and stack switches), task gates and TSS descriptors (SDM Vol. 3, 5.8).

use crate::cpu::core::Cpu;
use crate::exception::{selector_error, Exception, Result};

impl Cpu {
    /// A far JMP (`call_size` None) or CALL (`Some(operand size)`) whose selector names a
    /// system descriptor.
    pub(crate) fn far_via_system(
        &mut self,
        sel: u16,
        _raw: u64,
        _off: u32,
        _call_size: Option<u32>,
    ) -> Result<()> {
        // Call gates and task switches are not implemented yet: refuse like a bad descriptor.
        Err(Exception::gp(selector_error(sel)).into())
    }
}
