//! `--trace jit`: each translation shown as the guest instructions and the host code made
//! for them, so learners can watch binary translation happen.

use std::fmt::Write;

use emu_core::decode::Block;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

/// The listing of one translated block: guest code at its EIP, host code at `host_addr`.
pub fn describe_block(block: &Block, host_addr: usize, code: &[u8]) -> String {
    let mut f = IntelFormatter::new();
    f.options_mut().set_first_operand_char_index(8);
    let mut out = String::new();
    let bits = if block.code32 { 32 } else { 16 };
    let _ = writeln!(
        out,
        "jit: block at {:08x} ({bits}-bit, {} instructions) -> {} bytes at {host_addr:#x}",
        block.eip,
        block.insns.len(),
        code.len()
    );
    let _ = writeln!(out, "  guest:");
    for d in block.insns.iter() {
        let mut s = String::new();
        f.format(&d.instr, &mut s);
        let _ = writeln!(out, "    {:08x}  {s}", d.instr.ip());
    }
    let _ = writeln!(out, "  host:");
    let mut dec = Decoder::with_ip(64, code, host_addr as u64, DecoderOptions::NONE);
    for ins in dec.iter() {
        let mut s = String::new();
        f.format(&ins, &mut s);
        // Name the Rust helpers the code calls, and the guest instruction they are given.
        let imm = ins.immediate64();
        let note = if ins.code() == iced_x86::Code::Mov_r64_imm64 {
            helper_name(imm as usize).map(str::to_string).or_else(|| {
                block
                    .insns
                    .iter()
                    .find(|d| std::ptr::eq(*d, imm as usize as *const _))
                    .map(|d| format!("the guest instruction at {:08x}", d.instr.ip()))
            })
        } else {
            None
        };
        match note {
            Some(n) => {
                let _ = writeln!(out, "    {:012x}  {s:<40} ; {n}", ins.ip());
            }
            None => {
                let _ = writeln!(out, "    {:012x}  {s}", ins.ip());
            }
        }
    }
    out
}

fn helper_name(addr: usize) -> Option<&'static str> {
    use crate::helpers::*;
    let known: [(usize, &str); 5] = [
        (
            step as extern "sysv64" fn(_, _) -> u32 as usize,
            "helpers::step (the interpreter runs it)",
        ),
        (
            step_slow as extern "sysv64" fn(_, _, _) -> u32 as usize,
            "helpers::step_slow (slow path: the interpreter runs it)",
        ),
        (
            fold_carry as extern "sysv64" fn(_) as usize,
            "helpers::fold_carry",
        ),
        (
            condition as extern "sysv64" fn(_, _) -> u32 as usize,
            "helpers::condition",
        ),
        (
            carry as extern "sysv64" fn(_) -> u32 as usize,
            "helpers::carry",
        ),
    ];
    known.iter().find(|(a, _)| *a == addr).map(|(_, n)| *n)
}
