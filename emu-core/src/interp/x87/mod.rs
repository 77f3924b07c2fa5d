//! x87 FPU instructions: register stack, tags, status/control words, exceptions (#NM, #MF,
//! FERR), built on the 80-bit arithmetic in `crate::fpu::float80`.

use iced_x86::Instruction;

use crate::decode::Handler;

/// The handler for an x87 instruction, or `None` when `ins` is not one.
pub fn handler_for(ins: &Instruction) -> Option<Handler> {
    let _ = ins;
    None
}
