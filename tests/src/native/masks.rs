//! Undefined results, from the Intel SDM (Vol. 2, instruction reference,
//! each instruction's "Flags Affected" / "FPU Flags Affected" section, and
//! Vol. 1 Appendix A "EFLAGS Cross-Reference" where noted).
//!
//! [`undefined_for`] decodes a case's snippet and returns what a comparison
//! must ignore: EFLAGS bits, GPR bits, memory bytes and x87 status-word bits
//! whose value the SDM leaves undefined. Conditions on counts and operands
//! (shift counts, a zero BSF/BSR source, ...) are evaluated with the case's
//! *input* state, which is exact for the first instruction of a snippet;
//! the generated snippets have at most one instruction that writes flags.

use super::case::{flags, Case, CodeSize, DATA_SIZE};
use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

/// What to ignore when comparing the final states of a case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UndefMask {
    /// EFLAGS bits whose final value is undefined.
    pub eflags: u32,
    /// Per-GPR bits whose final value is undefined.
    pub gpr: [u32; 8],
    /// Data-area byte ranges `(offset, len)` whose final value is undefined.
    pub mem: Vec<(u32, u32)>,
    /// x87 status-word bits whose final value is undefined.
    pub fsw: u16,
    /// One line per rule that applied, for reports.
    pub notes: Vec<String>,
}

impl UndefMask {
    /// Whether data-area byte `off` is undefined.
    pub fn mem_undefined(&self, off: usize) -> bool {
        self.mem
            .iter()
            .any(|&(o, l)| off >= o as usize && off < o as usize + l as usize)
    }
}

const CF: u32 = flags::CF;
const PF: u32 = flags::PF;
const AF: u32 = flags::AF;
const ZF: u32 = flags::ZF;
const SF: u32 = flags::SF;
const OF: u32 = flags::OF;
/// x87 condition codes.
const C0: u16 = 1 << 8;
const C1: u16 = 1 << 9;
const C2: u16 = 1 << 10;
const C3: u16 = 1 << 14;

/// Value of a general-purpose register (8/16/32-bit) in a GPR array.
pub fn gpr_value(gpr: &[u32; 8], reg: Register) -> Option<u32> {
    if !reg.is_gpr() || reg.size() > 4 {
        return None;
    }
    let n = reg.number();
    Some(match reg.size() {
        1 if n < 4 => gpr[n] & 0xFF,
        1 if n < 8 => (gpr[n - 4] >> 8) & 0xFF,
        1 => return None,
        2 => gpr[n] & 0xFFFF,
        _ => gpr[n],
    })
}

/// Bits of the full GPR a register occupies: (index, mask).
fn gpr_bits(reg: Register) -> Option<(usize, u32)> {
    if !reg.is_gpr() || reg.size() > 4 {
        return None;
    }
    let n = reg.number();
    Some(match reg.size() {
        1 if n < 4 => (n, 0xFF),
        1 if n < 8 => (n - 4, 0xFF00),
        1 => return None,
        2 => (n, 0xFFFF),
        _ => (n, 0xFFFF_FFFF),
    })
}

/// Effective address (data-area offset) of a memory operand, with the
/// address-size wrap-around.
pub fn effective_address(instr: &Instruction, gpr: &[u32; 8]) -> Option<u32> {
    let base = instr.memory_base();
    let index = instr.memory_index();
    let a16 = base.size() == 2
        || index.size() == 2
        || (base == Register::None && index == Register::None && instr.memory_displ_size() == 2);
    let mut ea = instr.memory_displacement32();
    if base != Register::None {
        ea = ea.wrapping_add(gpr_value(gpr, base)?);
    }
    if index != Register::None {
        ea = ea.wrapping_add(gpr_value(gpr, index)?.wrapping_mul(instr.memory_index_scale()));
    }
    Some(if a16 { ea & 0xFFFF } else { ea })
}

fn operand_value(instr: &Instruction, op: u32, case: &Case) -> Option<u32> {
    let bytes = instr.memory_size().size();
    match instr.op_kind(op) {
        OpKind::Register => gpr_value(&case.input.gpr, instr.op_register(op)),
        OpKind::Memory => {
            let ea = effective_address(instr, &case.input.gpr)? as usize;
            let mut v = 0u32;
            for i in (0..bytes.min(4)).rev() {
                v = (v << 8) | u32::from(*case.input.mem.get(ea + i)?);
            }
            Some(v)
        }
        OpKind::Immediate8 | OpKind::Immediate16 | OpKind::Immediate32 => {
            Some(instr.immediate(op) as u32)
        }
        OpKind::Immediate8to16 | OpKind::Immediate8to32 => Some(instr.immediate(op) as u32),
        _ => None,
    }
}

fn operand_bits(instr: &Instruction) -> u32 {
    match instr.op0_kind() {
        OpKind::Register => instr.op0_register().size() as u32 * 8,
        _ => instr.memory_size().size() as u32 * 8,
    }
}

/// Marks operand 0 (register or memory) as undefined.
fn undefined_destination(m: &mut UndefMask, instr: &Instruction, case: &Case) {
    match instr.op0_kind() {
        OpKind::Register => {
            if let Some((i, bits)) = gpr_bits(instr.op0_register()) {
                m.gpr[i] |= bits;
            }
        }
        OpKind::Memory => {
            if let Some(ea) = effective_address(instr, &case.input.gpr) {
                let len = instr.memory_size().size() as u32;
                if (ea as usize) < DATA_SIZE {
                    m.mem.push((ea, len));
                }
            }
        }
        _ => {}
    }
}

/// Shift/rotate count operand (1, imm8 or CL) before masking.
fn shift_count(instr: &Instruction, case: &Case) -> u32 {
    let last = instr.op_count() - 1;
    match instr.op_kind(last) {
        OpKind::Register => gpr_value(&case.input.gpr, instr.op_register(last)).unwrap_or(0) & 0xFF,
        _ => instr.immediate(last) as u32 & 0xFF,
    }
}

/// Undefined state after running `case`'s snippet.
pub fn undefined_for(case: &Case) -> UndefMask {
    let mut m = UndefMask::default();
    let bitness = match case.size {
        CodeSize::Bits16 => 16,
        CodeSize::Bits32 => 32,
    };
    let mut dec = Decoder::with_ip(bitness, &case.code, 0, DecoderOptions::NONE);
    while dec.can_decode() {
        let instr = dec.decode();
        if instr.is_invalid() {
            break;
        }
        apply(&mut m, &instr, case);
    }
    m
}

fn note(m: &mut UndefMask, s: String) {
    m.notes.push(s);
}

fn apply(m: &mut UndefMask, instr: &Instruction, case: &Case) {
    use Mnemonic as M;
    let mn = instr.mnemonic();
    match mn {
        // SDM Vol. 2: AND, OR, XOR, TEST — "The OF and CF flags are cleared;
        // the SF, ZF, and PF flags are set according to the result. The
        // state of the AF flag is undefined."
        M::And | M::Or | M::Xor | M::Test => {
            m.eflags |= AF;
            note(m, format!("{mn:?}: AF undefined"));
        }
        // SDM Vol. 2: MUL, IMUL — "The SF, ZF, AF, and PF flags are
        // undefined." (CF/OF defined.)
        M::Mul | M::Imul => {
            m.eflags |= SF | ZF | AF | PF;
            note(m, format!("{mn:?}: SF ZF AF PF undefined"));
        }
        // SDM Vol. 2: DIV, IDIV — "The CF, OF, SF, ZF, AF, and PF flags are
        // undefined."
        M::Div | M::Idiv => {
            m.eflags |= flags::STATUS;
            note(m, format!("{mn:?}: all status flags undefined"));
        }
        // SDM Vol. 2: SAL/SAR/SHL/SHR — "The CF flag contains the value of
        // the last bit shifted out ...; it is undefined for SHL and SHR
        // instructions where the count is greater than or equal to the size
        // (in bits) of the destination operand. The OF flag is affected only
        // for 1-bit shifts; otherwise, it is undefined. ... If the count is
        // 0, the flags are not affected. For a non-zero count, the AF flag is
        // undefined." The count is masked to 5 bits.
        M::Shl | M::Sal | M::Shr | M::Sar => {
            let count = shift_count(instr, case) & 0x1F;
            if count != 0 {
                m.eflags |= AF;
                if count != 1 {
                    m.eflags |= OF;
                }
                if mn != M::Sar && count >= operand_bits(instr) {
                    m.eflags |= CF;
                }
                note(
                    m,
                    format!(
                        "{mn:?} count {count}: AF{}{} undefined",
                        if count != 1 { " OF" } else { "" },
                        if mn != M::Sar && count >= operand_bits(instr) {
                            " CF"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
        // SDM Vol. 2: RCL/RCR/ROL/ROR — "If the masked count is 0, the flags
        // are not affected. ... The OF flag is defined only for the 1-bit
        // rotates; it is undefined in all other cases (except RCL and RCR
        // instructions only: a zero-bit rotate does nothing, that is affects
        // no flags)." The count is masked to 5 bits (before the modulo 9/17
        // of 8/16-bit RCL/RCR).
        M::Rol | M::Ror | M::Rcl | M::Rcr => {
            let count = shift_count(instr, case) & 0x1F;
            if count > 1 {
                m.eflags |= OF;
                note(m, format!("{mn:?} count {count}: OF undefined"));
            }
        }
        // SDM Vol. 2: SHLD/SHRD — "If the count is 1 or greater, the CF flag
        // is filled with the last bit shifted out ... For a 1-bit shift, the
        // OF flag is set if a sign change occurred; otherwise, it is
        // cleared. For shifts greater than 1 bit, the OF flag is undefined.
        // If a shift occurs, the AF flag is undefined. If the count operand
        // is 0, the flags are not affected. If the count is greater than the
        // operand size, the flags are undefined." Operation: "IF COUNT >
        // SIZE THEN (* Bad parameters *) DEST is undefined". Count is masked
        // to 5 bits.
        M::Shld | M::Shrd => {
            let count = shift_count(instr, case) & 0x1F;
            let size = operand_bits(instr);
            if count > size {
                m.eflags |= flags::STATUS;
                undefined_destination(m, instr, case);
                note(
                    m,
                    format!("{mn:?} count {count} > {size}: destination and flags undefined"),
                );
            } else if count != 0 {
                m.eflags |= AF;
                if count != 1 {
                    m.eflags |= OF;
                }
                note(
                    m,
                    format!(
                        "{mn:?} count {count}: AF{} undefined",
                        if count != 1 { " OF" } else { "" }
                    ),
                );
            }
        }
        // SDM Vol. 2: BT/BTS/BTR/BTC — "The CF flag contains the value of the
        // selected bit before it is changed. The ZF flag is unaffected. The
        // OF, SF, AF, and PF flags are undefined."
        M::Bt | M::Bts | M::Btr | M::Btc => {
            m.eflags |= OF | SF | AF | PF;
            note(m, format!("{mn:?}: OF SF AF PF undefined"));
        }
        // SDM Vol. 2: BSF/BSR — "The ZF flag is set to 1 if the source
        // operand is 0; otherwise, the ZF flag is cleared. The CF, OF, SF,
        // AF, and PF flags are undefined." Operation: "IF SRC = 0 THEN ZF :=
        // 1; DEST is undefined;"
        M::Bsf | M::Bsr => {
            m.eflags |= CF | OF | SF | AF | PF;
            let bits = operand_bits(instr);
            let src =
                operand_value(instr, 1, case).map(|v| if bits == 16 { v & 0xFFFF } else { v });
            if src == Some(0) || src.is_none() {
                undefined_destination(m, instr, case);
                note(
                    m,
                    format!("{mn:?}: CF OF SF AF PF undefined; source 0: destination undefined"),
                );
            } else {
                note(m, format!("{mn:?}: CF OF SF AF PF undefined"));
            }
        }
        // SDM Vol. 2: BSWAP — "When the BSWAP instruction references a
        // 16-bit register, the result is undefined."
        M::Bswap if instr.op0_register().size() == 2 => {
            undefined_destination(m, instr, case);
            note(m, "BSWAP r16: destination undefined".to_string());
        }
        // SDM Vol. 2: AAA, AAS — "The AF and CF flags are set to 1 if the
        // adjustment results in a decimal carry [borrow]; otherwise they are
        // set to 0. The OF, SF, ZF, and PF flags are undefined."
        M::Aaa | M::Aas => {
            m.eflags |= OF | SF | ZF | PF;
            note(m, format!("{mn:?}: OF SF ZF PF undefined"));
        }
        // SDM Vol. 2: DAA, DAS — "The CF and AF flags are set if the
        // adjustment results in a decimal carry [borrow] ... The SF, ZF, and
        // PF flags are set according to the result. The OF flag is
        // undefined."
        M::Daa | M::Das => {
            m.eflags |= OF;
            note(m, format!("{mn:?}: OF undefined"));
        }
        // SDM Vol. 2: AAM, AAD — "The SF, ZF, and PF flags are set according
        // to the resulting binary value in the AL register. The OF, AF, and
        // CF flags are undefined."
        M::Aam | M::Aad => {
            m.eflags |= OF | AF | CF;
            note(m, format!("{mn:?}: OF AF CF undefined"));
        }
        // SDM Vol. 2, x87 instructions, "FPU Flags Affected": C1 reports
        // stack overflow/underflow or the rounding direction; "C0, C2, C3:
        // Undefined." — FLD, FST/FSTP, FADD/FADDP, FSUB/FSUBR, FMUL,
        // FDIV/FDIVR, FSQRT, FILD, FIST/FISTP, FBLD, FBSTP, FCHS, FABS,
        // FRNDINT, FSCALE, FXCH, FLD1/FLDZ (FLD1/FLDL2T/... page), FINCSTP.
        M::Fld
        | M::Fst
        | M::Fstp
        | M::Fadd
        | M::Faddp
        | M::Fsub
        | M::Fsubp
        | M::Fsubr
        | M::Fsubrp
        | M::Fmul
        | M::Fmulp
        | M::Fdiv
        | M::Fdivp
        | M::Fdivr
        | M::Fdivrp
        | M::Fsqrt
        | M::Fild
        | M::Fist
        | M::Fistp
        | M::Fbld
        | M::Fbstp
        | M::Fchs
        | M::Fabs
        | M::Frndint
        | M::Fscale
        | M::Fxch
        | M::Fld1
        | M::Fldz
        | M::Fincstp => {
            m.fsw |= C0 | C2 | C3;
            note(m, format!("{mn:?}: x87 C0 C2 C3 undefined"));
        }
        // SDM Vol. 2: FFREE — "C0, C1, C2, C3 undefined."
        // FSTSW/FNSTSW — "The C0, C1, C2, and C3 are undefined."
        M::Ffree | M::Fnstsw | M::Fstsw => {
            m.fsw |= C0 | C1 | C2 | C3;
            note(m, format!("{mn:?}: x87 C0 C1 C2 C3 undefined"));
        }
        // Fully defined (SDM "Flags Affected" lists no undefined flag):
        // ADD ADC SUB SBB CMP INC DEC NEG NOT, XADD CMPXCHG CMPXCHG8B,
        // CMPS SCAS, SAHF POPF, CMC CLC STC CLD STD, FCOM/FUCOM/FTST (C1
        // cleared or underflow, C0 C2 C3 set by the compare), FXAM, FPREM.
        _ => {}
    }
}
