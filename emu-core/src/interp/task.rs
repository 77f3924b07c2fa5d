//! Hardware task switching (SDM Vol. 3, chapter 7).

use crate::cpu::core::Cpu;
use crate::exception::{selector_error, Exception, Result};

impl Cpu {
    /// Task switch through a task gate in the IDT.
    pub(crate) fn task_switch_via_gate(
        &mut self,
        tss_sel: u16,
        _error_code: Option<u32>,
        _return_eip: u32,
    ) -> core::result::Result<(), Exception> {
        // Not implemented yet: behave as an invalid gate target.
        Err(Exception::gp(selector_error(tss_sel)))
    }

    /// IRET with NT set: return to the task in the back link.
    pub(crate) fn task_return(&mut self) -> Result<()> {
        Err(Exception::ts(0).into())
    }
}
