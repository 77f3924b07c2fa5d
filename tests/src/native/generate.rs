//! Seeded generation of test cases from instruction templates.
//!
//! A [`Template`] names one instruction form (an iced-x86 [`Code`] per code
//! size), whether its r/m operand is a register or memory, and a [`Kind`]
//! that says how to choose values for it (shift counts, dividends, string
//! pointers, stack room, ...). [`generate`] turns a template, a code size and
//! a seed into a [`Case`]:
//!
//! * registers get a mix of edge values (0, 1, all ones, sign boundaries, ...)
//!   of the operand's width and random values; ESP points into the data area
//!   with room for pushes, rarely at its edges;
//! * EFLAGS gets random CF PF AF ZF SF OF DF;
//! * the 64 KiB data area is random bytes, and a memory operand's addressing
//!   registers and displacement are solved so the effective address lands in
//!   it (16-bit forms in 16-bit code, 32-bit forms with SIB in 32-bit code, and
//!   the other address size via 0x67 a tenth of the time); a few percent of
//!   accesses deliberately cross the 0xFFFF limit;
//! * the instruction is encoded with iced-x86, with optional segment-override
//!   and LOCK prefixes.

use super::case::{flags, Case, CodeSize, CpuSnapshot, FpuState, DATA_SIZE, ESP};
use iced_x86::{
    Code, Encoder, Instruction, MemoryOperand, Mnemonic, OpCodeOperandKind as K, Register,
    RepPrefixKind,
};
use std::sync::OnceLock;

/// splitmix64: tiny, seedable, good enough for test-case generation.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    /// A random element.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u32) as usize]
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Whether a template's r/m operand is a register or memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// No r/m operand.
    None,
    /// r/m operand is a register (mod = 11).
    Reg,
    /// r/m operand (or the `m` operand) is memory.
    Mem,
}

/// How values are chosen for a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Registers, memory and immediates all edge/random.
    Plain,
    /// Like `Plain`, and a LOCK prefix a tenth of the time (valid with a
    /// memory destination, #UD otherwise).
    Lockable,
    /// Shift/rotate (incl. SHLD/SHRD): the count (CL or imm8) is drawn from
    /// the count classes 0 1 7 8 9 15 16 17 31 32 33 255 or random.
    Shift,
    /// BSF/BSR: the source is zero a fifth of the time.
    BitScan,
    /// MUL/IMUL (one operand): implicit EAX/EDX.
    Mul,
    /// DIV/IDIV: dividend/divisor shaped so that about half the cases do
    /// not fault, plus divide-by-zero and quotient-overflow cases.
    Div,
    /// BT/BTS/BTR/BTC; with a register bit offset and a memory operand the
    /// offset reaches up to +-1 KiB (rarely anywhere) from the operand.
    BitTest,
    /// CMPXCHG: accumulator equals the destination half the time.
    Cmpxchg,
    /// CMPXCHG8B: EDX:EAX equals the memory operand half the time.
    Cmpxchg8b,
    /// String instruction; the template's code selects which one, the
    /// generator picks REP/REPE/REPNE or none, address size and DF.
    Str(StrOp),
    /// PUSH/POP/PUSHA/POPA/PUSHF/POPF/LEAVE: ESP (and EBP) in the data area.
    Stack,
    /// ENTER with small frame sizes and nesting levels 0..=3 (rarely more).
    Enter,
    /// XLAT with (E)BX + AL inside the data area.
    Xlat,
    /// BOUND with the index inside/below/above the bounds.
    Bound,
    /// DAA/DAS/AAA/AAS: BCD-ish AL/AH values.
    Bcd,
    /// AAM/AAD imm8: base 10, 0 (AAM 0 -> #DE) or random.
    AamAad,
    /// `jcc +2; mov al, 1`.
    Jcc,
    /// `loop/loope/loopne/jcxz/jecxz +2; mov al, 1` with small counts.
    CxBranch,
    /// `l: add eax, ecx; loop l` (backward loop, small counts).
    LoopBack,
    /// LEA: any effective address (no access).
    Lea,
    /// x87 instruction with random x87 state, memory operand of the right
    /// format, FWAIT appended half the time.
    X87,
    /// INT3 / INT 3 / INTO / UD2.
    Trap,
}

/// String operation of a [`Kind::Str`] template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    /// MOVS.
    Movs,
    /// STOS.
    Stos,
    /// LODS.
    Lods,
    /// CMPS.
    Cmps,
    /// SCAS.
    Scas,
}

/// One instruction form to generate cases for.
#[derive(Clone, Debug)]
pub struct Template {
    /// Readable name, e.g. `ADD r/m32, r32 [mem]`.
    pub name: String,
    /// Mnemonic of the instruction under test.
    pub mnemonic: Mnemonic,
    /// Operand size in bits (8, 16, 32, 64 or 80), 0 when not meaningful.
    pub op_size: u32,
    /// Register or memory r/m operand.
    pub form: Form,
    /// Value-selection strategy.
    pub kind: Kind,
    code16: Code,
    code32: Code,
}

impl Template {
    /// The iced-x86 code used in the given code size.
    pub fn code(&self, size: CodeSize) -> Code {
        match size {
            CodeSize::Bits16 => self.code16,
            CodeSize::Bits32 => self.code32,
        }
    }
}

fn rm_kind(k: K) -> bool {
    matches!(k, K::r8_or_mem | K::r16_or_mem | K::r32_or_mem)
}

/// Memory operand size implied by an instruction form.
fn code_memory_size(code: Code) -> iced_x86::MemorySize {
    let mut i = Instruction::default();
    i.set_code(code);
    i.memory_size()
}

fn operand_bits(code: Code) -> u32 {
    let info = code.op_code();
    for i in 0..info.op_count() {
        match info.op_kind(i) {
            K::r8_or_mem | K::r8_reg | K::r8_opcode | K::al => return 8,
            K::r16_or_mem | K::r16_reg | K::r16_rm | K::r16_opcode | K::ax => return 16,
            K::r32_or_mem | K::r32_reg | K::r32_rm | K::r32_opcode | K::eax => return 32,
            K::mem => return code_memory_size(code).size() as u32 * 8,
            _ => {}
        }
    }
    match code_memory_size(code).size() {
        0 => info.operand_size(),
        n => n as u32 * 8,
    }
}

fn add_templates(out: &mut Vec<Template>, code16: Code, code32: Code, kind: Kind) {
    let info = code32.op_code();
    let kinds: Vec<K> = (0..info.op_count()).map(|i| info.op_kind(i)).collect();
    let forms: &[Form] = if kinds.iter().any(|k| rm_kind(*k)) {
        &[Form::Reg, Form::Mem]
    } else if kinds.contains(&K::mem) {
        &[Form::Mem]
    } else {
        &[Form::None]
    };
    let base = match kind {
        Kind::Jcc | Kind::CxBranch => format!(
            "{} +2; MOV AL, 1 ({} / {})",
            info.instruction_string(),
            code16.op_code().op_code_string(),
            info.op_code_string()
        ),
        Kind::LoopBack => format!("l: ADD EAX, ECX; {} l", info.instruction_string()),
        _ => format!("{} ({})", info.instruction_string(), info.op_code_string()),
    };
    for &form in forms {
        let name = match form {
            Form::Reg => format!("{base} [reg]"),
            Form::Mem => format!("{base} [mem]"),
            Form::None => base.clone(),
        };
        out.push(Template {
            name,
            mnemonic: code32.mnemonic(),
            op_size: operand_bits(code32),
            form,
            kind,
            code16,
            code32,
        });
    }
}

/// All templates.
pub fn templates() -> &'static [Template] {
    static T: OnceLock<Vec<Template>> = OnceLock::new();
    T.get_or_init(build_templates)
}

/// Templates whose name contains `filter` (case-insensitive).
pub fn find_templates(filter: &str) -> Vec<&'static Template> {
    let f = filter.to_ascii_lowercase();
    templates()
        .iter()
        .filter(|t| t.name.to_ascii_lowercase().contains(&f))
        .collect()
}

fn build_templates() -> Vec<Template> {
    use Code as C;
    let mut v = Vec::new();
    fn same(v: &mut Vec<Template>, codes: &[Code], kind: Kind) {
        for &c in codes {
            add_templates(v, c, c, kind);
        }
    }
    // ALU: ADD OR ADC SBB AND SUB XOR CMP in all encodings.
    #[rustfmt::skip]
    let alu: &[Code] = &[
        C::Add_rm8_r8, C::Add_rm16_r16, C::Add_rm32_r32, C::Add_r8_rm8, C::Add_r16_rm16, C::Add_r32_rm32,
        C::Add_AL_imm8, C::Add_AX_imm16, C::Add_EAX_imm32, C::Add_rm8_imm8, C::Add_rm16_imm16,
        C::Add_rm32_imm32, C::Add_rm8_imm8_82, C::Add_rm16_imm8, C::Add_rm32_imm8,
        C::Or_rm8_r8, C::Or_rm16_r16, C::Or_rm32_r32, C::Or_r8_rm8, C::Or_r16_rm16, C::Or_r32_rm32,
        C::Or_AL_imm8, C::Or_AX_imm16, C::Or_EAX_imm32, C::Or_rm8_imm8, C::Or_rm16_imm16,
        C::Or_rm32_imm32, C::Or_rm8_imm8_82, C::Or_rm16_imm8, C::Or_rm32_imm8,
        C::Adc_rm8_r8, C::Adc_rm16_r16, C::Adc_rm32_r32, C::Adc_r8_rm8, C::Adc_r16_rm16, C::Adc_r32_rm32,
        C::Adc_AL_imm8, C::Adc_AX_imm16, C::Adc_EAX_imm32, C::Adc_rm8_imm8, C::Adc_rm16_imm16,
        C::Adc_rm32_imm32, C::Adc_rm8_imm8_82, C::Adc_rm16_imm8, C::Adc_rm32_imm8,
        C::Sbb_rm8_r8, C::Sbb_rm16_r16, C::Sbb_rm32_r32, C::Sbb_r8_rm8, C::Sbb_r16_rm16, C::Sbb_r32_rm32,
        C::Sbb_AL_imm8, C::Sbb_AX_imm16, C::Sbb_EAX_imm32, C::Sbb_rm8_imm8, C::Sbb_rm16_imm16,
        C::Sbb_rm32_imm32, C::Sbb_rm8_imm8_82, C::Sbb_rm16_imm8, C::Sbb_rm32_imm8,
        C::And_rm8_r8, C::And_rm16_r16, C::And_rm32_r32, C::And_r8_rm8, C::And_r16_rm16, C::And_r32_rm32,
        C::And_AL_imm8, C::And_AX_imm16, C::And_EAX_imm32, C::And_rm8_imm8, C::And_rm16_imm16,
        C::And_rm32_imm32, C::And_rm8_imm8_82, C::And_rm16_imm8, C::And_rm32_imm8,
        C::Sub_rm8_r8, C::Sub_rm16_r16, C::Sub_rm32_r32, C::Sub_r8_rm8, C::Sub_r16_rm16, C::Sub_r32_rm32,
        C::Sub_AL_imm8, C::Sub_AX_imm16, C::Sub_EAX_imm32, C::Sub_rm8_imm8, C::Sub_rm16_imm16,
        C::Sub_rm32_imm32, C::Sub_rm8_imm8_82, C::Sub_rm16_imm8, C::Sub_rm32_imm8,
        C::Xor_rm8_r8, C::Xor_rm16_r16, C::Xor_rm32_r32, C::Xor_r8_rm8, C::Xor_r16_rm16, C::Xor_r32_rm32,
        C::Xor_AL_imm8, C::Xor_AX_imm16, C::Xor_EAX_imm32, C::Xor_rm8_imm8, C::Xor_rm16_imm16,
        C::Xor_rm32_imm32, C::Xor_rm8_imm8_82, C::Xor_rm16_imm8, C::Xor_rm32_imm8,
        C::Cmp_rm8_r8, C::Cmp_rm16_r16, C::Cmp_rm32_r32, C::Cmp_r8_rm8, C::Cmp_r16_rm16, C::Cmp_r32_rm32,
        C::Cmp_AL_imm8, C::Cmp_AX_imm16, C::Cmp_EAX_imm32, C::Cmp_rm8_imm8, C::Cmp_rm16_imm16,
        C::Cmp_rm32_imm32, C::Cmp_rm8_imm8_82, C::Cmp_rm16_imm8, C::Cmp_rm32_imm8,
    ];
    for &c in alu {
        let lockable = !matches!(c.mnemonic(), Mnemonic::Cmp)
            && matches!(
                c.op_code().op_kind(0),
                K::r8_or_mem | K::r16_or_mem | K::r32_or_mem
            );
        add_templates(
            &mut v,
            c,
            c,
            if lockable {
                Kind::Lockable
            } else {
                Kind::Plain
            },
        );
    }
    #[rustfmt::skip]
    same(&mut v, &[
        C::Test_rm8_r8, C::Test_rm16_r16, C::Test_rm32_r32, C::Test_AL_imm8, C::Test_AX_imm16,
        C::Test_EAX_imm32, C::Test_rm8_imm8, C::Test_rm16_imm16, C::Test_rm32_imm32,
        C::Test_rm8_imm8_F6r1, C::Test_rm16_imm16_F7r1, C::Test_rm32_imm32_F7r1,
        C::Inc_r16, C::Inc_r32, C::Dec_r16, C::Dec_r32,
        C::Imul_r16_rm16, C::Imul_r32_rm32, C::Imul_r16_rm16_imm16, C::Imul_r32_rm32_imm32,
        C::Imul_r16_rm16_imm8, C::Imul_r32_rm32_imm8,
        C::Bswap_r16, C::Bswap_r32,
        C::Xchg_r16_AX, C::Xchg_r32_EAX,
        C::Movzx_r16_rm8, C::Movzx_r32_rm8, C::Movzx_r16_rm16, C::Movzx_r32_rm16,
        C::Movsx_r16_rm8, C::Movsx_r32_rm8, C::Movsx_r16_rm16, C::Movsx_r32_rm16,
        C::Mov_rm8_r8, C::Mov_rm16_r16, C::Mov_rm32_r32, C::Mov_r8_rm8, C::Mov_r16_rm16, C::Mov_r32_rm32,
        C::Mov_r8_imm8, C::Mov_r16_imm16, C::Mov_r32_imm32, C::Mov_rm8_imm8, C::Mov_rm16_imm16,
        C::Mov_rm32_imm32,
        C::Cbw, C::Cwde, C::Cwd, C::Cdq, C::Lahf, C::Sahf, C::Cmc, C::Clc, C::Stc, C::Cld, C::Std,
        C::Salc,
        C::Seto_rm8, C::Setno_rm8, C::Setb_rm8, C::Setae_rm8, C::Sete_rm8, C::Setne_rm8,
        C::Setbe_rm8, C::Seta_rm8, C::Sets_rm8, C::Setns_rm8, C::Setp_rm8, C::Setnp_rm8,
        C::Setl_rm8, C::Setge_rm8, C::Setle_rm8, C::Setg_rm8,
        C::Cmovo_r16_rm16, C::Cmovo_r32_rm32, C::Cmovno_r16_rm16, C::Cmovno_r32_rm32,
        C::Cmovb_r16_rm16, C::Cmovb_r32_rm32, C::Cmovae_r16_rm16, C::Cmovae_r32_rm32,
        C::Cmove_r16_rm16, C::Cmove_r32_rm32, C::Cmovne_r16_rm16, C::Cmovne_r32_rm32,
        C::Cmovbe_r16_rm16, C::Cmovbe_r32_rm32, C::Cmova_r16_rm16, C::Cmova_r32_rm32,
        C::Cmovs_r16_rm16, C::Cmovs_r32_rm32, C::Cmovns_r16_rm16, C::Cmovns_r32_rm32,
        C::Cmovp_r16_rm16, C::Cmovp_r32_rm32, C::Cmovnp_r16_rm16, C::Cmovnp_r32_rm32,
        C::Cmovl_r16_rm16, C::Cmovl_r32_rm32, C::Cmovge_r16_rm16, C::Cmovge_r32_rm32,
        C::Cmovle_r16_rm16, C::Cmovle_r32_rm32, C::Cmovg_r16_rm16, C::Cmovg_r32_rm32,
    ], Kind::Plain);
    #[rustfmt::skip]
    same(&mut v, &[
        C::Inc_rm8, C::Inc_rm16, C::Inc_rm32, C::Dec_rm8, C::Dec_rm16, C::Dec_rm32,
        C::Neg_rm8, C::Neg_rm16, C::Neg_rm32, C::Not_rm8, C::Not_rm16, C::Not_rm32,
        C::Xchg_rm8_r8, C::Xchg_rm16_r16, C::Xchg_rm32_r32,
        C::Xadd_rm8_r8, C::Xadd_rm16_r16, C::Xadd_rm32_r32,
    ], Kind::Lockable);
    same(
        &mut v,
        &[
            C::Bsf_r16_rm16,
            C::Bsf_r32_rm32,
            C::Bsr_r16_rm16,
            C::Bsr_r32_rm32,
        ],
        Kind::BitScan,
    );
    same(
        &mut v,
        &[
            C::Mul_rm8,
            C::Mul_rm16,
            C::Mul_rm32,
            C::Imul_rm8,
            C::Imul_rm16,
            C::Imul_rm32,
        ],
        Kind::Mul,
    );
    same(
        &mut v,
        &[
            C::Div_rm8,
            C::Div_rm16,
            C::Div_rm32,
            C::Idiv_rm8,
            C::Idiv_rm16,
            C::Idiv_rm32,
        ],
        Kind::Div,
    );
    #[rustfmt::skip]
    same(&mut v, &[
        C::Rol_rm8_1, C::Rol_rm16_1, C::Rol_rm32_1, C::Rol_rm8_CL, C::Rol_rm16_CL, C::Rol_rm32_CL,
        C::Rol_rm8_imm8, C::Rol_rm16_imm8, C::Rol_rm32_imm8,
        C::Ror_rm8_1, C::Ror_rm16_1, C::Ror_rm32_1, C::Ror_rm8_CL, C::Ror_rm16_CL, C::Ror_rm32_CL,
        C::Ror_rm8_imm8, C::Ror_rm16_imm8, C::Ror_rm32_imm8,
        C::Rcl_rm8_1, C::Rcl_rm16_1, C::Rcl_rm32_1, C::Rcl_rm8_CL, C::Rcl_rm16_CL, C::Rcl_rm32_CL,
        C::Rcl_rm8_imm8, C::Rcl_rm16_imm8, C::Rcl_rm32_imm8,
        C::Rcr_rm8_1, C::Rcr_rm16_1, C::Rcr_rm32_1, C::Rcr_rm8_CL, C::Rcr_rm16_CL, C::Rcr_rm32_CL,
        C::Rcr_rm8_imm8, C::Rcr_rm16_imm8, C::Rcr_rm32_imm8,
        C::Shl_rm8_1, C::Shl_rm16_1, C::Shl_rm32_1, C::Shl_rm8_CL, C::Shl_rm16_CL, C::Shl_rm32_CL,
        C::Shl_rm8_imm8, C::Shl_rm16_imm8, C::Shl_rm32_imm8,
        C::Sal_rm8_1, C::Sal_rm16_1, C::Sal_rm32_1, C::Sal_rm8_CL, C::Sal_rm16_CL, C::Sal_rm32_CL,
        C::Sal_rm8_imm8, C::Sal_rm16_imm8, C::Sal_rm32_imm8,
        C::Shr_rm8_1, C::Shr_rm16_1, C::Shr_rm32_1, C::Shr_rm8_CL, C::Shr_rm16_CL, C::Shr_rm32_CL,
        C::Shr_rm8_imm8, C::Shr_rm16_imm8, C::Shr_rm32_imm8,
        C::Sar_rm8_1, C::Sar_rm16_1, C::Sar_rm32_1, C::Sar_rm8_CL, C::Sar_rm16_CL, C::Sar_rm32_CL,
        C::Sar_rm8_imm8, C::Sar_rm16_imm8, C::Sar_rm32_imm8,
        C::Shld_rm16_r16_imm8, C::Shld_rm32_r32_imm8, C::Shld_rm16_r16_CL, C::Shld_rm32_r32_CL,
        C::Shrd_rm16_r16_imm8, C::Shrd_rm32_r32_imm8, C::Shrd_rm16_r16_CL, C::Shrd_rm32_r32_CL,
    ], Kind::Shift);
    #[rustfmt::skip]
    same(&mut v, &[
        C::Bt_rm16_r16, C::Bt_rm32_r32, C::Bt_rm16_imm8, C::Bt_rm32_imm8,
        C::Bts_rm16_r16, C::Bts_rm32_r32, C::Bts_rm16_imm8, C::Bts_rm32_imm8,
        C::Btr_rm16_r16, C::Btr_rm32_r32, C::Btr_rm16_imm8, C::Btr_rm32_imm8,
        C::Btc_rm16_r16, C::Btc_rm32_r32, C::Btc_rm16_imm8, C::Btc_rm32_imm8,
    ], Kind::BitTest);
    same(
        &mut v,
        &[C::Cmpxchg_rm8_r8, C::Cmpxchg_rm16_r16, C::Cmpxchg_rm32_r32],
        Kind::Cmpxchg,
    );
    same(&mut v, &[C::Cmpxchg8b_m64], Kind::Cmpxchg8b);
    for (codes, op) in [
        (
            [C::Movsb_m8_m8, C::Movsw_m16_m16, C::Movsd_m32_m32],
            StrOp::Movs,
        ),
        (
            [C::Stosb_m8_AL, C::Stosw_m16_AX, C::Stosd_m32_EAX],
            StrOp::Stos,
        ),
        (
            [C::Lodsb_AL_m8, C::Lodsw_AX_m16, C::Lodsd_EAX_m32],
            StrOp::Lods,
        ),
        (
            [C::Cmpsb_m8_m8, C::Cmpsw_m16_m16, C::Cmpsd_m32_m32],
            StrOp::Cmps,
        ),
        (
            [C::Scasb_AL_m8, C::Scasw_AX_m16, C::Scasd_EAX_m32],
            StrOp::Scas,
        ),
    ] {
        for c in codes {
            for form in ["", "REP "] {
                let mut t = Vec::new();
                add_templates(&mut t, c, c, Kind::Str(op));
                for mut t in t {
                    // Two templates per string op: without and with a REP-class prefix.
                    t.name = format!("{form}{}", t.name);
                    v.push(t);
                }
            }
        }
    }
    #[rustfmt::skip]
    same(&mut v, &[
        C::Push_r16, C::Push_r32, C::Pop_r16, C::Pop_r32, C::Push_rm16, C::Push_rm32,
        C::Pop_rm16, C::Pop_rm32, C::Push_imm16, C::Pushd_imm32, C::Pushw_imm8, C::Pushd_imm8,
        C::Pushaw, C::Pushad, C::Popaw, C::Popad, C::Pushfw, C::Pushfd, C::Popfw, C::Popfd,
        C::Leavew, C::Leaved,
    ], Kind::Stack);
    same(
        &mut v,
        &[C::Enterw_imm16_imm8, C::Enterd_imm16_imm8],
        Kind::Enter,
    );
    same(&mut v, &[C::Xlat_m8], Kind::Xlat);
    same(
        &mut v,
        &[C::Bound_r16_m1616, C::Bound_r32_m3232],
        Kind::Bound,
    );
    same(&mut v, &[C::Daa, C::Das, C::Aaa, C::Aas], Kind::Bcd);
    same(&mut v, &[C::Aam_imm8, C::Aad_imm8], Kind::AamAad);
    same(&mut v, &[C::Lea_r16_m, C::Lea_r32_m], Kind::Lea);
    same(&mut v, &[C::Int3, C::Into, C::Ud2], Kind::Trap);
    add_templates(&mut v, C::Int_imm8, C::Int_imm8, Kind::Trap);
    #[rustfmt::skip]
    let jcc: &[(Code, Code)] = &[
        (C::Jo_rel8_16, C::Jo_rel8_32), (C::Jno_rel8_16, C::Jno_rel8_32), (C::Jb_rel8_16, C::Jb_rel8_32),
        (C::Jae_rel8_16, C::Jae_rel8_32), (C::Je_rel8_16, C::Je_rel8_32), (C::Jne_rel8_16, C::Jne_rel8_32),
        (C::Jbe_rel8_16, C::Jbe_rel8_32), (C::Ja_rel8_16, C::Ja_rel8_32), (C::Js_rel8_16, C::Js_rel8_32),
        (C::Jns_rel8_16, C::Jns_rel8_32), (C::Jp_rel8_16, C::Jp_rel8_32), (C::Jnp_rel8_16, C::Jnp_rel8_32),
        (C::Jl_rel8_16, C::Jl_rel8_32), (C::Jge_rel8_16, C::Jge_rel8_32), (C::Jle_rel8_16, C::Jle_rel8_32),
        (C::Jg_rel8_16, C::Jg_rel8_32),
        (C::Jo_rel16, C::Jo_rel32_32), (C::Jno_rel16, C::Jno_rel32_32), (C::Jb_rel16, C::Jb_rel32_32),
        (C::Jae_rel16, C::Jae_rel32_32), (C::Je_rel16, C::Je_rel32_32), (C::Jne_rel16, C::Jne_rel32_32),
        (C::Jbe_rel16, C::Jbe_rel32_32), (C::Ja_rel16, C::Ja_rel32_32), (C::Js_rel16, C::Js_rel32_32),
        (C::Jns_rel16, C::Jns_rel32_32), (C::Jp_rel16, C::Jp_rel32_32), (C::Jnp_rel16, C::Jnp_rel32_32),
        (C::Jl_rel16, C::Jl_rel32_32), (C::Jge_rel16, C::Jge_rel32_32), (C::Jle_rel16, C::Jle_rel32_32),
        (C::Jg_rel16, C::Jg_rel32_32),
    ];
    for &(c16, c32) in jcc {
        add_templates(&mut v, c16, c32, Kind::Jcc);
    }
    // LOOP*/JCXZ with the default address size and with a 0x67 prefix.
    #[rustfmt::skip]
    let cx: &[(Code, Code)] = &[
        (C::Loop_rel8_16_CX, C::Loop_rel8_32_ECX), (C::Loop_rel8_16_ECX, C::Loop_rel8_32_CX),
        (C::Loope_rel8_16_CX, C::Loope_rel8_32_ECX), (C::Loope_rel8_16_ECX, C::Loope_rel8_32_CX),
        (C::Loopne_rel8_16_CX, C::Loopne_rel8_32_ECX), (C::Loopne_rel8_16_ECX, C::Loopne_rel8_32_CX),
        (C::Jcxz_rel8_16, C::Jecxz_rel8_32), (C::Jecxz_rel8_16, C::Jcxz_rel8_32),
    ];
    for &(c16, c32) in cx {
        add_templates(&mut v, c16, c32, Kind::CxBranch);
    }
    add_templates(
        &mut v,
        C::Loop_rel8_16_CX,
        C::Loop_rel8_32_ECX,
        Kind::LoopBack,
    );
    #[rustfmt::skip]
    same(&mut v, &[
        C::Fld_m32fp, C::Fld_m64fp, C::Fld_m80fp, C::Fst_m32fp, C::Fst_m64fp, C::Fstp_m32fp,
        C::Fstp_m64fp, C::Fstp_m80fp, C::Fadd_m32fp, C::Fadd_m64fp, C::Fmul_m32fp, C::Fmul_m64fp,
        C::Fdiv_m32fp, C::Fdiv_m64fp, C::Fsub_m32fp, C::Fsubr_m64fp, C::Fdivr_m32fp,
        C::Fcom_m32fp, C::Fcom_m64fp, C::Fcomp_m64fp,
        C::Fild_m16int, C::Fild_m32int, C::Fild_m64int, C::Fist_m16int, C::Fist_m32int,
        C::Fistp_m16int, C::Fistp_m32int, C::Fistp_m64int, C::Fbld_m80bcd, C::Fbstp_m80bcd,
        C::Fadd_st0_sti, C::Fadd_sti_st0, C::Faddp_sti_st0, C::Fmul_st0_sti, C::Fdiv_st0_sti,
        C::Fdivr_sti_st0, C::Fsub_st0_sti, C::Fcom_st0_sti, C::Fcompp, C::Fucom_st0_sti, C::Fld_sti,
        C::Fst_sti, C::Fstp_sti, C::Fxch_st0_sti,
        C::Fsqrt, C::Fchs, C::Fabs, C::Frndint, C::Fprem, C::Fscale, C::Fxam, C::Ftst, C::Fld1, C::Fldz,
        C::Fnstsw_AX, C::Fincstp, C::Ffree_sti,
    ], Kind::X87);
    v
}

const EDGE8: [u32; 12] = [
    0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x0F, 0x10, 0x09, 0x99, 0x55, 0xAA,
];
const EDGE16: [u32; 10] = [
    0, 1, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE, 0x00FF, 0x0100, 0x7F, 0x80,
];
#[rustfmt::skip]
const EDGE32: [u32; 12] = [
    0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 0xFFFF, 0x1_0000, 0x7FFF, 0x8000, 0xFF, 0x80,
];
const COUNTS: [u32; 12] = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255];

const R8: [Register; 8] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::AH,
    Register::CH,
    Register::DH,
    Register::BH,
];
const R16: [Register; 8] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
];
const R32: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];

/// (GPR index, bit shift, width in bits) of a general-purpose register.
fn reg_slot(r: Register) -> (usize, u32, u32) {
    let n = r.number();
    match r.size() {
        1 if n < 4 => (n, 0, 8),
        1 => (n - 4, 8, 8),
        2 => (n, 0, 16),
        _ => (n, 0, 32),
    }
}

fn mask(bits: u32) -> u32 {
    if bits >= 32 {
        u32::MAX
    } else {
        (1 << bits) - 1
    }
}

/// A chosen instruction operand.
#[derive(Clone, Copy, Debug)]
enum Op {
    R(Register),
    /// Memory operand and the offset it accesses.
    M(MemoryOperand, u32),
    I(i32),
    U(u32),
}

struct Builder<'a> {
    rng: &'a mut Rng,
    size: CodeSize,
    gpr: [u32; 8],
    /// Registers the template needs for its own values: not used for
    /// addressing.
    reserved: u8,
    /// Registers whose value was fixed by a memory operand's addressing.
    addr_fixed: u8,
    mem: Vec<u8>,
    eflags: u32,
    fpu: Option<FpuState>,
    op_bits: u32,
}

impl Builder<'_> {
    fn edge_or_random(&mut self, bits: u32) -> u32 {
        let r = self.rng.below(100);
        let v = if r < 40 {
            match bits {
                8 => self.rng.pick(&EDGE8),
                16 => self.rng.pick(&EDGE16),
                _ => self.rng.pick(&EDGE32),
            }
        } else if r < 50 {
            self.rng.below(17)
        } else {
            self.rng.next_u32()
        };
        v & mask(bits)
    }

    fn set_reg(&mut self, r: Register, v: u32) {
        let (i, sh, w) = reg_slot(r);
        let m = mask(w) << sh;
        self.gpr[i] = (self.gpr[i] & !m) | ((v << sh) & m);
    }

    fn get_reg(&self, r: Register) -> u32 {
        let (i, sh, w) = reg_slot(r);
        (self.gpr[i] >> sh) & mask(w)
    }

    fn reg_is_fixed(&self, r: Register) -> bool {
        self.addr_fixed & (1 << reg_slot(r).0) != 0
    }

    /// Sets a register the template chose as an operand, unless addressing
    /// already fixed its value.
    fn set_operand_reg(&mut self, r: Register, v: u32) {
        if !self.reg_is_fixed(r) {
            self.set_reg(r, v);
        }
    }

    fn write_mem(&mut self, off: u32, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let a = off as usize + i;
            if a < DATA_SIZE {
                self.mem[a] = *b;
            }
        }
    }

    fn read_mem(&self, off: u32, len: u32) -> u64 {
        let mut v = 0u64;
        for i in (0..len).rev() {
            let a = off as usize + i as usize;
            v = (v << 8) | u64::from(*self.mem.get(a).unwrap_or(&0));
        }
        v
    }

    fn op_value(&self, op: Op, bits: u32) -> u32 {
        match op {
            Op::R(r) => self.get_reg(r),
            Op::M(_, ea) => self.read_mem(ea, bits / 8) as u32,
            Op::I(i) => i as u32,
            Op::U(u) => u,
        }
    }

    fn set_op_value(&mut self, op: Op, bits: u32, v: u32) {
        match op {
            Op::R(r) => self.set_operand_reg(r, v),
            Op::M(_, ea) => self.write_mem(ea, &v.to_le_bytes()[..(bits / 8) as usize]),
            _ => {}
        }
    }

    fn reserve(&mut self, idx: usize) {
        self.reserved |= 1 << idx;
    }

    fn stack_value(&mut self) -> u32 {
        let low = if self.rng.chance(4) {
            self.rng.pick(&[0, 1, 2, 4, 0xFFFE, 0xFFFF, 0x1_0000])
        } else {
            self.rng.range(0x200, 0xFE00) & if self.rng.chance(90) { !3 } else { !0 }
        };
        match self.size {
            CodeSize::Bits16 => (self.rng.next_u32() & 0xFFFF_0000) | (low & 0xFFFF),
            CodeSize::Bits32 => low,
        }
    }

    /// Picks an effective address for an access of `bytes` bytes.
    fn pick_ea(&mut self, bytes: u32) -> u32 {
        let bytes = bytes.max(1);
        let r = self.rng.below(100);
        if r < 3 {
            // Crosses the 0xFFFF limit: #GP/#SS. A byte access at 0x10000
            // forces 32-bit addressing.
            if bytes == 1 {
                0x1_0000
            } else {
                0xFFFF - self.rng.below(bytes - 1)
            }
        } else if r < 10 {
            self.rng.below(16)
        } else if r < 17 {
            0x1_0000 - bytes - self.rng.below(16)
        } else {
            self.rng.below(0x1_0000 - bytes + 1)
        }
    }

    fn free_regs(&self, allow_esp: bool) -> Vec<usize> {
        (0..8)
            .filter(|&i| {
                (self.reserved | self.addr_fixed) & (1 << i) == 0 && (allow_esp || i != ESP)
            })
            .collect()
    }

    fn segment_override(&mut self) -> Register {
        if self.rng.chance(15) {
            self.rng.pick(&[
                Register::ES,
                Register::SS,
                Register::FS,
                Register::GS,
                Register::DS,
            ])
        } else {
            Register::None
        }
    }

    fn use_addr16(&mut self) -> bool {
        match self.size {
            CodeSize::Bits16 => !self.rng.chance(10),
            CodeSize::Bits32 => self.rng.chance(8),
        }
    }

    /// Builds a memory operand whose effective address is `ea`, fixing the
    /// addressing registers' values.
    fn address(&mut self, ea: u32, allow_esp: bool) -> MemoryOperand {
        let seg = self.segment_override();
        if ea <= 0xFFFF && self.use_addr16() {
            if let Some(m) = self.address16(ea, seg) {
                return m;
            }
        }
        self.address32(ea, seg, allow_esp)
    }

    fn address16(&mut self, ea: u32, seg: Register) -> Option<MemoryOperand> {
        use Register as R;
        const FORMS: [(Register, Register); 9] = [
            (R::BX, R::SI),
            (R::BX, R::DI),
            (R::BP, R::SI),
            (R::BP, R::DI),
            (R::SI, R::None),
            (R::DI, R::None),
            (R::BP, R::None),
            (R::BX, R::None),
            (R::None, R::None),
        ];
        let free = self.free_regs(false);
        let ok = |r: Register| r == R::None || free.contains(&reg_slot(r).0);
        let forms: Vec<_> = FORMS.iter().filter(|(b, i)| ok(*b) && ok(*i)).collect();
        let &(base, index) = self.rng.pick(&forms);
        let displ_size = if base == R::None {
            2
        } else if base == R::BP && index == R::None {
            self.rng.pick(&[1, 2])
        } else {
            self.rng.pick(&[0, 1, 2])
        };
        let disp: u32 = match displ_size {
            0 => 0,
            1 => self.rng.below(256) as u8 as i8 as i32 as u32,
            _ => self.rng.below(0x1_0000),
        };
        let mut rest = ea.wrapping_sub(disp);
        if index != R::None {
            let iv = self.rng.next_u32();
            self.gpr[reg_slot(index).0] = iv;
            self.addr_fixed |= 1 << reg_slot(index).0;
            rest = rest.wrapping_sub(iv);
        }
        let disp = if base == R::None { ea } else { disp };
        if base != R::None {
            let i = reg_slot(base).0;
            self.gpr[i] = (self.rng.next_u32() & 0xFFFF_0000) | (rest & 0xFFFF);
            self.addr_fixed |= 1 << i;
        }
        let displacement = if displ_size == 1 {
            i64::from(disp as i32)
        } else {
            i64::from(disp & 0xFFFF)
        };
        Some(MemoryOperand::new(
            base,
            index,
            1,
            displacement,
            displ_size,
            false,
            seg,
        ))
    }

    fn address32(&mut self, ea: u32, seg: Register, allow_esp: bool) -> MemoryOperand {
        let free_base = self.free_regs(allow_esp);
        let base = if !free_base.is_empty() && self.rng.chance(80) {
            Some(self.rng.pick(&free_base))
        } else {
            None
        };
        let free_index: Vec<usize> = self
            .free_regs(false)
            .into_iter()
            .filter(|&i| Some(i) != base)
            .collect();
        let index = if !free_index.is_empty() && self.rng.chance(50) {
            Some(self.rng.pick(&free_index))
        } else {
            None
        };
        let scale = self.rng.pick(&[1u32, 2, 4, 8]);
        let mut displ_size = if base.is_none() {
            4
        } else {
            self.rng.pick(&[0, 1, 4])
        };
        let mut disp: u32 = match displ_size {
            0 => 0,
            1 => self.rng.below(256) as u8 as i8 as i32 as u32,
            _ => {
                if self.rng.chance(50) {
                    self.rng.below(0x2_0000).wrapping_sub(0x1_0000)
                } else {
                    self.rng.next_u32()
                }
            }
        };
        let mut rest = ea;
        if let Some(i) = index {
            let iv = if self.rng.chance(50) {
                self.rng.below(0x800)
            } else {
                self.rng.next_u32()
            };
            self.gpr[i] = iv;
            self.addr_fixed |= 1 << i;
            rest = rest.wrapping_sub(iv.wrapping_mul(scale));
        }
        match base {
            Some(b) => {
                self.gpr[b] = rest.wrapping_sub(disp);
                self.addr_fixed |= 1 << b;
            }
            None => {
                disp = rest;
                displ_size = 4;
            }
        }
        let reg = |i: Option<usize>| i.map_or(Register::None, |i| R32[i]);
        MemoryOperand::new(
            reg(base),
            reg(index),
            if index.is_some() { scale } else { 1 },
            i64::from(disp as i32),
            displ_size,
            false,
            seg,
        )
    }

    fn random_fp80(&mut self) -> [u8; 10] {
        let sign = u16::from(self.rng.chance(50)) << 15;
        let (mant, exp): (u64, u16) = match self.rng.below(12) {
            0 => (0, 0),
            1 => (1 << 63, 0x3FFF),
            2 => (1 << 63, 0x7FFF),
            3 => (0xC000_0000_0000_0000, 0x7FFF),
            4 => ((1 << 63) | (self.rng.next_u64() >> 2), 0x7FFF),
            5 => (self.rng.next_u64() >> 1, 0),
            6 => (
                (1 << 63) | self.rng.next_u64(),
                self.rng.range(1, 0x7FFE) as u16,
            ),
            7 => (
                (1 << 63) | (self.rng.next_u64() & !0xFFFF_FFFF),
                self.rng.range(0x3FF0, 0x401E) as u16,
            ),
            _ => (
                (1 << 63) | self.rng.next_u64(),
                self.rng.range(0x3FC0, 0x4040) as u16,
            ),
        };
        let mut r = [0u8; 10];
        r[..8].copy_from_slice(&mant.to_le_bytes());
        r[8..].copy_from_slice(&(exp | sign).to_le_bytes());
        r
    }

    fn random_fpu(&mut self) -> FpuState {
        let mut control = 0x037F;
        if self.rng.chance(30) {
            control = (control & !0x0F00) | (self.rng.below(16) as u16) << 8;
        }
        if self.rng.chance(20) {
            control &= !(self.rng.below(64) as u16);
        }
        control |= 0x40;
        let top = self.rng.below(8) as u16;
        let cc = (self.rng.below(16) as u16) & 0xF;
        let status = (top << 11) | ((cc & 8) << 11) | ((cc & 7) << 8);
        let mut f = FpuState {
            control,
            status,
            tag: 0,
            st: [[0; 10]; 8],
        };
        let full = self.rng.below(100);
        let mut tag = 0u16;
        for i in 0..8 {
            f.st[i] = self.random_fp80();
            let valid = match full {
                0..=9 => false,
                10..=19 => true,
                _ => i < 3 || self.rng.chance(40),
            };
            let phys = (top as usize + i) & 7;
            if !valid {
                tag |= 3 << (2 * phys);
            }
        }
        f.tag = tag;
        f.derive_tag();
        f
    }

    fn random_mem_value(&mut self, ms: iced_x86::MemorySize) -> Vec<u8> {
        use iced_x86::MemorySize as M;
        match ms {
            M::Float32 => {
                let v: u32 = match self.rng.below(8) {
                    0 => 0,
                    1 => 0x3F80_0000,
                    2 => 0x7F80_0000,
                    3 => 0x7FC0_0000,
                    4 => 0x7FA0_0000,
                    5 => self.rng.below(0x80_0000),
                    _ => (self.rng.next_u32() & 0x807F_FFFF) | (self.rng.range(100, 155) << 23),
                };
                let s = u32::from(self.rng.chance(50)) << 31;
                (v | s).to_le_bytes().to_vec()
            }
            M::Float64 => {
                let v: u64 = match self.rng.below(8) {
                    0 => 0,
                    1 => 0x3FF0_0000_0000_0000,
                    2 => 0x7FF0_0000_0000_0000,
                    3 => 0x7FF8_0000_0000_0000,
                    4 => 0x7FF4_0000_0000_0000,
                    5 => self.rng.next_u64() >> 12,
                    _ => {
                        (self.rng.next_u64() & 0x000F_FFFF_FFFF_FFFF)
                            | (u64::from(self.rng.range(0x3C0, 0x440)) << 52)
                    }
                };
                let s = u64::from(self.rng.chance(50)) << 63;
                (v | s).to_le_bytes().to_vec()
            }
            M::Float80 => self.random_fp80().to_vec(),
            M::Bcd => {
                let mut b = [0u8; 10];
                for x in b.iter_mut().take(9) {
                    *x = if self.rng.chance(95) {
                        (self.rng.below(10) as u8) << 4 | self.rng.below(10) as u8
                    } else {
                        self.rng.below(256) as u8
                    };
                }
                b[9] = if self.rng.chance(50) { 0x80 } else { 0 };
                b.to_vec()
            }
            M::Int16 => (self.edge_or_random(16) as u16).to_le_bytes().to_vec(),
            M::Int32 => self.edge_or_random(32).to_le_bytes().to_vec(),
            M::Int64 => {
                let v = if self.rng.chance(50) {
                    i64::from(self.edge_or_random(32) as i32) as u64
                } else {
                    self.rng.next_u64()
                };
                v.to_le_bytes().to_vec()
            }
            _ => Vec::new(),
        }
    }
}

fn make(code: Code, ops: &[Op]) -> Instruction {
    use Op::*;
    let r = match *ops {
        [] => Ok(Instruction::with(code)),
        [R(a)] => Instruction::with1(code, a),
        [M(a, _)] => Instruction::with1(code, a),
        [I(a)] => Instruction::with1(code, a),
        [U(a)] => Instruction::with1(code, a),
        [R(a), R(b)] => Instruction::with2(code, a, b),
        [R(a), M(b, _)] => Instruction::with2(code, a, b),
        [R(a), I(b)] => Instruction::with2(code, a, b),
        [R(a), U(b)] => Instruction::with2(code, a, b),
        [M(a, _), R(b)] => Instruction::with2(code, a, b),
        [M(a, _), I(b)] => Instruction::with2(code, a, b),
        [M(a, _), U(b)] => Instruction::with2(code, a, b),
        [U(a), U(b)] => Instruction::with2(code, a, b),
        [R(a), R(b), R(c)] => Instruction::with3(code, a, b, c),
        [R(a), R(b), I(c)] => Instruction::with3(code, a, b, c),
        [R(a), R(b), U(c)] => Instruction::with3(code, a, b, c),
        [R(a), M(b, _), I(c)] => Instruction::with3(code, a, b, c),
        [R(a), M(b, _), U(c)] => Instruction::with3(code, a, b, c),
        [M(a, _), R(b), R(c)] => Instruction::with3(code, a, b, c),
        [M(a, _), R(b), U(c)] => Instruction::with3(code, a, b, c),
        _ => panic!("no iced constructor for {code:?} {ops:?}"),
    };
    r.unwrap_or_else(|e| panic!("{code:?} {ops:?}: {e}"))
}

fn encode(size: CodeSize, instrs: &[Instruction]) -> Vec<u8> {
    let mut enc = Encoder::new(size.bitness());
    let mut ip = 0u64;
    for i in instrs {
        let n = enc
            .encode(i, ip)
            .unwrap_or_else(|e| panic!("encode {i:?} ({:?}) in {size}: {e}", i.code()));
        ip += n as u64;
    }
    enc.take_buffer()
}

fn mov_al_1() -> Instruction {
    Instruction::with2(Code::Mov_r8_imm8, Register::AL, 1u32).expect("mov al, 1")
}

/// Generates one case for `t` in code size `size` from `seed`.
///
/// The random stream depends on the seed, the template's name and the code
/// size, so different templates get different values for the same seed.
pub fn generate(t: &Template, size: CodeSize, seed: u64) -> Case {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in t.name.bytes().chain([size.bitness() as u8]) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let mut rng = Rng::new(seed ^ h);
    Generator { rng: &mut rng }.case(t, size)
}

/// Generates cases from a caller-owned [`Rng`].
pub struct Generator<'a> {
    /// Random source.
    pub rng: &'a mut Rng,
}

impl Generator<'_> {
    /// One case for `t` in code size `size`.
    pub fn case(&mut self, t: &Template, size: CodeSize) -> Case {
        let mut mem = vec![0u8; DATA_SIZE];
        self.rng.fill(&mut mem);
        let mut b = Builder {
            rng: &mut *self.rng,
            size,
            gpr: [0; 8],
            reserved: 0,
            addr_fixed: 0,
            mem,
            eflags: 0,
            fpu: None,
            op_bits: t.op_size,
        };
        for i in 0..8 {
            let bits = b.rng.pick(&[8, 16, 32, b.op_bits.clamp(8, 32)]);
            let v = b.edge_or_random(bits);
            let upper = b.rng.next_u32() & !mask(bits);
            b.gpr[i] = if bits == 8 && b.rng.chance(30) {
                (upper & !0xFF00) | (v << 8) | (b.rng.below(256))
            } else {
                upper | v
            };
        }
        b.gpr[ESP] = b.stack_value();
        b.eflags = (b.rng.next_u32() & flags::SNAPSHOT) | flags::FIXED;
        let code = build(&mut b, t);
        Case {
            size,
            code,
            input: CpuSnapshot {
                gpr: b.gpr,
                eflags: b.eflags,
                mem: b.mem,
                fpu: b.fpu,
            },
        }
    }
}

fn reg_pool(k: K) -> Option<&'static [Register; 8]> {
    match k {
        K::r8_reg | K::r8_opcode | K::r8_or_mem => Some(&R8),
        K::r16_reg | K::r16_opcode | K::r16_rm | K::r16_or_mem => Some(&R16),
        K::r32_reg | K::r32_opcode | K::r32_rm | K::r32_or_mem => Some(&R32),
        _ => None,
    }
}

fn build(b: &mut Builder<'_>, t: &Template) -> Vec<u8> {
    let size = b.size;
    let code = t.code(size);
    let info = code.op_code();
    let kinds: Vec<K> = (0..info.op_count()).map(|i| info.op_kind(i)).collect();
    let mem_size = code_memory_size(code);
    let mem_bytes = (mem_size.size() as u32).max(1);

    match t.kind {
        Kind::Str(op) => return build_string(b, t, op),
        Kind::Jcc | Kind::CxBranch | Kind::LoopBack => return build_branch(b, t),
        Kind::Xlat => return build_xlat(b),
        _ => {}
    }

    // Implicit registers the template needs control over.
    match t.kind {
        Kind::Mul | Kind::Div => {
            b.reserve(0);
            b.reserve(2);
        }
        Kind::Cmpxchg => b.reserve(0),
        Kind::Cmpxchg8b => (0..4).for_each(|i| b.reserve(i)),
        Kind::Stack | Kind::Enter => {
            b.reserve(ESP);
            b.reserve(5);
        }
        Kind::Xlat => {
            b.reserve(0);
            b.reserve(3);
        }
        _ => {}
    }
    if kinds.contains(&K::cl) {
        b.reserve(1);
    }

    // Pick the register operands first so that those needing a specific value
    // can be kept out of the addressing.
    let regs: Vec<Option<Register>> = kinds
        .iter()
        .map(|&k| {
            if rm_kind(k) && t.form == Form::Mem {
                None
            } else {
                reg_pool(k).map(|pool| b.rng.pick(pool))
            }
        })
        .collect();
    if matches!(t.kind, Kind::BitTest | Kind::Bound) && t.form == Form::Mem {
        for r in regs.iter().flatten() {
            b.reserve(reg_slot(*r).0);
        }
    }
    // Bit offset for BT* with a register offset and memory operand.
    let mut bt_offset: Option<i64> = None;
    if t.kind == Kind::BitTest
        && t.form == Form::Mem
        && kinds.get(1).is_some_and(|k| reg_pool(*k).is_some())
    {
        let bits = t.op_size;
        let off: i64 = if b.rng.chance(5) {
            if bits == 16 {
                i64::from(b.rng.next_u32() as u16 as i16)
            } else {
                i64::from(b.rng.next_u32() as i32)
            }
        } else {
            i64::from(b.rng.below(0x4000) as i32 - 0x2000)
        };
        bt_offset = Some(off);
    }

    let mut ops = Vec::new();
    for (i, &k) in kinds.iter().enumerate() {
        let op = match k {
            _ if rm_kind(k) && t.form == Form::Mem || k == K::mem => {
                let allow_esp = matches!(
                    t.kind,
                    Kind::Plain | Kind::Lockable | Kind::Lea | Kind::BitScan
                );
                let ea = match (t.kind, bt_offset) {
                    (Kind::Lea, _) if b.rng.chance(50) => b.rng.next_u32(),
                    (_, Some(off)) => {
                        let unit = i64::from(t.op_size / 8);
                        let delta = off.div_euclid(i64::from(t.op_size)) * unit;
                        if (-0x1000..0x1000).contains(&delta) {
                            b.rng.range(0x1100, 0xEE00)
                        } else {
                            // The final address is out of the area anyway (#GP);
                            // any base will do.
                            b.rng.below(0x1_0000 - unit as u32)
                        }
                    }
                    _ => b.pick_ea(mem_bytes),
                };
                let m = b.address(ea, allow_esp);
                Op::M(m, ea)
            }
            K::al => Op::R(Register::AL),
            K::ax => Op::R(Register::AX),
            K::eax => Op::R(Register::EAX),
            K::cl => Op::R(Register::CL),
            K::imm8_const_1 => Op::U(1),
            K::imm8 => Op::U(match t.kind {
                Kind::Shift => {
                    if b.rng.chance(75) {
                        b.rng.pick(&COUNTS)
                    } else {
                        b.rng.below(256)
                    }
                }
                Kind::AamAad => match b.rng.below(10) {
                    0..=3 => 10,
                    4 => 0,
                    5 => 1,
                    6 => 16,
                    _ => b.rng.below(256),
                },
                Kind::Enter => {
                    if b.rng.chance(90) {
                        b.rng.below(4)
                    } else {
                        b.rng.below(256)
                    }
                }
                Kind::Trap => 3,
                _ => b.edge_or_random(8),
            }),
            K::imm16 => Op::U(if t.kind == Kind::Enter {
                if b.rng.chance(80) {
                    b.rng.below(0x40)
                } else {
                    b.rng.below(0x400)
                }
            } else {
                b.edge_or_random(16)
            }),
            K::imm32 => Op::U(b.edge_or_random(32)),
            K::imm8sex16 | K::imm8sex32 => Op::I(i32::from(b.edge_or_random(8) as u8 as i8)),
            K::st0 => Op::R(Register::ST0),
            K::sti_opcode => Op::R(match b.rng.below(8) {
                0 => Register::ST0,
                1 => Register::ST1,
                2 => Register::ST2,
                3 => Register::ST3,
                4 => Register::ST4,
                5 => Register::ST5,
                6 => Register::ST6,
                _ => Register::ST7,
            }),
            _ => match regs[i] {
                Some(r) => Op::R(r),
                None => panic!("unsupported operand kind {k:?} in {code:?}"),
            },
        };
        ops.push(op);
    }
    // Fixed-register operand variants (iced lists e.g. `xchg ax, r16`'s AX
    // as an operand): keep only what `make` needs.
    let mut instr = make(code, &ops);

    // Values for register operands that addressing did not fix.
    for op in &ops {
        if let Op::R(r) = *op {
            if r.is_gpr()
                && !b.reg_is_fixed(r)
                && b.reserved & (1 << reg_slot(r).0) == 0
                && b.rng.chance(50)
            {
                let bits = r.size() as u32 * 8;
                let v = b.edge_or_random(bits);
                b.set_reg(r, v);
            }
        }
        if let Op::M(_, ea) = *op {
            if matches!(t.op_size, 8 | 16 | 32) && b.rng.chance(50) && t.kind != Kind::X87 {
                let v = b.edge_or_random(t.op_size);
                b.write_mem(ea, &v.to_le_bytes()[..t.op_size as usize / 8]);
            }
        }
    }
    let rm = ops
        .iter()
        .copied()
        .find(|o| matches!(o, Op::M(..)))
        .or_else(|| kinds.iter().position(|k| rm_kind(*k)).map(|i| ops[i]));

    let mut extra: Vec<Instruction> = Vec::new();
    let bits = t.op_size;
    match t.kind {
        Kind::Plain | Kind::Lea => {}
        Kind::BitScan => {
            if b.rng.chance(20) {
                b.set_op_value(rm.expect("bsf/bsr have r/m"), bits, 0);
            }
        }
        Kind::Lockable => {
            if b.rng.chance(10) {
                instr.set_has_lock_prefix(true);
            }
        }
        Kind::Shift => {
            if kinds.contains(&K::cl) {
                let c = if b.rng.chance(75) {
                    b.rng.pick(&COUNTS)
                } else {
                    b.rng.below(256)
                };
                b.set_reg(Register::CL, c);
            }
        }
        Kind::Mul => {
            let (lo, hi) = implicit_pair(bits);
            let v = b.edge_or_random(bits);
            b.set_reg(lo, v);
            if let Some(hi) = hi {
                let v = b.edge_or_random(bits);
                b.set_reg(hi, v);
            }
        }
        Kind::Div => shape_division(b, t, rm.expect("div has an r/m operand")),
        Kind::BitTest => {
            if let Some(off) = bt_offset {
                let r = match ops[1] {
                    Op::R(r) => r,
                    _ => unreachable!(),
                };
                b.set_reg(r, off as u32);
            }
            if b.rng.chance(10) && code.mnemonic() != Mnemonic::Bt {
                instr.set_has_lock_prefix(true);
            }
        }
        Kind::Cmpxchg => {
            let dest = rm.expect("cmpxchg has r/m");
            let acc = implicit_pair(bits).0;
            if b.rng.chance(50) {
                let v = b.op_value(dest, bits);
                b.set_reg(acc, v);
            } else {
                let v = b.edge_or_random(bits);
                b.set_reg(acc, v);
            }
            if b.rng.chance(10) {
                instr.set_has_lock_prefix(true);
            }
        }
        Kind::Cmpxchg8b => {
            if let Some(Op::M(_, ea)) = rm {
                if b.rng.chance(50) {
                    let v = b.read_mem(ea, 8);
                    b.gpr[0] = v as u32;
                    b.gpr[2] = (v >> 32) as u32;
                }
            }
            if b.rng.chance(10) {
                instr.set_has_lock_prefix(true);
            }
        }
        Kind::Stack => {
            b.gpr[5] = b.rng.range(0x100, 0xFF00);
            if size == CodeSize::Bits16 {
                b.gpr[5] |= b.rng.next_u32() & 0xFFFF_0000;
            }
            if matches!(code.mnemonic(), Mnemonic::Popf | Mnemonic::Popfd) {
                // Never pop TF (single-step into the epilogue), AC, NT or ID.
                let sp = stack_offset(b);
                let w = b.read_mem(sp, 4) as u32 & !(0x0024_4100);
                b.write_mem(sp, &w.to_le_bytes()[..if bits == 16 { 2 } else { 4 }]);
            }
            if matches!(code.mnemonic(), Mnemonic::Leave) {
                let lo = b.rng.range(0x100, 0xFF00);
                b.gpr[5] = match size {
                    CodeSize::Bits16 => (b.rng.next_u32() & 0xFFFF_0000) | lo,
                    CodeSize::Bits32 => lo,
                };
            }
        }
        Kind::Enter => {
            b.gpr[5] = b.rng.range(0x800, 0xF000);
            if size == CodeSize::Bits16 {
                b.gpr[5] |= b.rng.next_u32() & 0xFFFF_0000;
            }
            if !b.rng.chance(5) {
                b.gpr[ESP] = (b.gpr[ESP] & 0xFFFF_0000) | (b.rng.range(0x2000, 0xF000) & !3);
                if size == CodeSize::Bits32 {
                    b.gpr[ESP] &= 0xFFFF;
                }
            }
        }
        Kind::Bound => {
            if let (Op::R(r), Some(Op::M(_, ea))) = (ops[0], rm) {
                let bits = t.op_size;
                let idx = b.edge_or_random(bits);
                b.set_reg(r, idx);
                let sx = |v: u32| {
                    if bits == 16 {
                        i64::from(v as u16 as i16)
                    } else {
                        i64::from(v as i32)
                    }
                };
                let i = sx(idx);
                let (lo, hi) = match b.rng.below(4) {
                    0 | 1 => (i - i64::from(b.rng.below(4)), i + i64::from(b.rng.below(4))),
                    2 => (i + 1 + i64::from(b.rng.below(4)), i + 8),
                    _ => (i - 8, i - 1 - i64::from(b.rng.below(4))),
                };
                let bytes = (bits / 8) as usize;
                let mut v = (lo as u32).to_le_bytes()[..bytes].to_vec();
                v.extend_from_slice(&(hi as u32).to_le_bytes()[..bytes]);
                if b.rng.chance(85) {
                    b.write_mem(ea, &v);
                }
            }
        }
        Kind::Bcd => {
            let al = if b.rng.chance(50) {
                b.rng.pick(&[
                    0x00, 0x09, 0x0A, 0x0F, 0x10, 0x19, 0x1A, 0x90, 0x99, 0x9A, 0x9F, 0xA0, 0xF9,
                    0xFA, 0xFF,
                ])
            } else {
                b.rng.below(256)
            };
            b.set_reg(Register::AL, al);
        }
        Kind::AamAad => {
            if b.rng.chance(50) {
                let v = b
                    .rng
                    .pick(&[0x0000, 0x0909, 0x0063, 0x00FF, 0xFFFF, 0x0A0A, 0x8000]);
                b.set_reg(Register::AX, v);
            }
        }
        Kind::Trap => {}
        Kind::X87 => {
            b.fpu = Some(b.random_fpu());
            if let Some(Op::M(_, ea)) = rm {
                let v = b.random_mem_value(mem_size);
                if !v.is_empty() && b.rng.chance(85) {
                    b.write_mem(ea, &v);
                }
            }
            if b.rng.chance(50) {
                extra.push(Instruction::with(Code::Wait));
            }
        }
        Kind::Str(_) | Kind::Jcc | Kind::CxBranch | Kind::LoopBack | Kind::Xlat => unreachable!(),
    }
    let mut all = vec![instr];
    all.extend(extra);
    encode(size, &all)
}

fn build_xlat(b: &mut Builder<'_>) -> Vec<u8> {
    // xlat: [seg:(E)BX + AL]
    let a16 = b.use_addr16();
    let seg = b.segment_override();
    let al = b.rng.below(256);
    b.set_reg(Register::AL, al);
    let base = if a16 {
        b.gpr[3] = b.rng.next_u32();
        Register::BX
    } else {
        b.gpr[3] = if b.rng.chance(3) {
            0x1_0000 - al
        } else {
            b.rng.below(0x1_0000 - al)
        };
        Register::EBX
    };
    let m = MemoryOperand::new(base, Register::AL, 1, 0, 0, false, seg);
    encode(
        b.size,
        &[Instruction::with1(Code::Xlat_m8, m).expect("xlat")],
    )
}

/// Offset of the top of stack (SS:SP or SS:ESP).
fn stack_offset(b: &Builder<'_>) -> u32 {
    match b.size {
        CodeSize::Bits16 => b.gpr[ESP] & 0xFFFF,
        CodeSize::Bits32 => b.gpr[ESP],
    }
}

/// Accumulator (and high half) registers of MUL/DIV for an operand size.
fn implicit_pair(bits: u32) -> (Register, Option<Register>) {
    match bits {
        8 => (Register::AX, None),
        16 => (Register::AX, Some(Register::DX)),
        _ => (Register::EAX, Some(Register::EDX)),
    }
}

fn shape_division(b: &mut Builder<'_>, t: &Template, divisor_op: Op) {
    let bits = t.op_size;
    let m = mask(bits);
    let signed = t.mnemonic == Mnemonic::Idiv;
    let r = b.rng.below(100);
    let mut divisor = if r < 8 {
        0
    } else if r < 35 {
        b.rng.pick(&[1, 2, 3, 10, m, m >> 1, (m >> 1) + 1, m - 1]) & m
    } else if r < 65 {
        b.rng.range(1, 255) & m
    } else {
        b.rng.next_u32() & m
    };
    if divisor == 0 && r >= 8 {
        divisor = 1;
    }
    let sx = |v: u32| -> i64 {
        match bits {
            8 => i64::from(v as u8 as i8),
            16 => i64::from(v as u16 as i16),
            _ => i64::from(v as i32),
        }
    };
    let d = u64::from(divisor);
    // Dividend as a 2*bits value.
    let dividend: u64 = match b.rng.below(100) {
        0..=49 => {
            if signed {
                // Sign-extended low half: quotient always fits unless MIN / -1.
                let lo = b.edge_or_random(bits);
                (sx(lo) as u64) & mask2(bits)
            } else {
                let hi = if d == 0 {
                    0
                } else {
                    u64::from(b.rng.next_u32()) % d
                };
                (hi << bits) | u64::from(b.rng.next_u32() & m)
            }
        }
        50..=59 => {
            if signed {
                // MIN / -1 overflows.
                divisor = m;
                (sx(1 << (bits - 1)) as u64) & mask2(bits)
            } else {
                // Largest dividend with a fitting quotient.
                (d.saturating_sub(1) << bits) | u64::from(m)
            }
        }
        _ => ((u64::from(b.rng.next_u32()) << 32) | u64::from(b.rng.next_u32())) & mask2(bits),
    };
    match bits {
        8 => b.set_reg(Register::AX, dividend as u32),
        16 => {
            b.set_reg(Register::AX, dividend as u32);
            b.set_reg(Register::DX, (dividend >> 16) as u32);
        }
        _ => {
            b.set_reg(Register::EAX, dividend as u32);
            b.set_reg(Register::EDX, (dividend >> 32) as u32);
        }
    }
    b.set_op_value(divisor_op, bits, divisor);
}

fn mask2(bits: u32) -> u64 {
    if bits >= 32 {
        u64::MAX
    } else {
        (1u64 << (2 * bits)) - 1
    }
}

fn build_string(b: &mut Builder<'_>, t: &Template, op: StrOp) -> Vec<u8> {
    let size = b.size;
    let rep = t.name.starts_with("REP ");
    let unit = t.op_size / 8;
    let a16 = b.use_addr16();
    let address_size = if a16 { 16 } else { 32 };
    let seg = if matches!(op, StrOp::Movs | StrOp::Lods | StrOp::Cmps) {
        b.segment_override()
    } else {
        Register::None
    };
    let rep_kind = if !rep {
        RepPrefixKind::None
    } else if matches!(op, StrOp::Cmps | StrOp::Scas) {
        if b.rng.chance(50) {
            RepPrefixKind::Repe
        } else {
            RepPrefixKind::Repne
        }
    } else {
        RepPrefixKind::Repe
    };
    let count = if rep {
        match b.rng.below(10) {
            0 => 0,
            1 => 1,
            _ => b.rng.range(2, 9),
        }
    } else {
        b.rng.next_u32()
    };
    let df = b.rng.chance(50);
    b.eflags = (b.eflags & !flags::DF) | if df { flags::DF } else { 0 };
    let reps = if rep { count } else { 1 };
    let span = reps * unit;
    let pointer = |b: &mut Builder<'_>| -> u32 {
        if a16 {
            // 16-bit pointers wrap inside the segment; upper bits are ignored.
            let lo = if b.rng.chance(10) {
                b.rng.pick(&[0, 1, 2, 0xFFFF, 0xFFFE, 0xFFFC])
            } else {
                b.rng.below(0x1_0000)
            };
            (b.rng.next_u32() & 0xFFFF_0000) | lo
        } else if b.rng.chance(5) {
            b.rng.pick(&[0, 2, 0xFFFC, 0xFFFE, 0xFFFF, 0x1_0000])
        } else {
            b.rng.range(span + 16, 0xFFFF - span - 16)
        }
    };
    let si = pointer(b);
    let di = pointer(b);
    b.gpr[6] = si;
    b.gpr[7] = di;
    if rep && a16 {
        b.gpr[1] = (b.rng.next_u32() & 0xFFFF_0000) | count;
    } else {
        b.gpr[1] = count;
    }
    let (si, di) = if a16 {
        (si & 0xFFFF, di & 0xFFFF)
    } else {
        (si, di)
    };
    // Make compares run for a while before they differ.
    match op {
        StrOp::Cmps if b.rng.chance(60) => {
            let n = b.rng.below(reps + 1) * unit;
            for k in 0..n {
                let (s, d) = if df {
                    (
                        si.wrapping_add(unit).wrapping_sub(1 + k),
                        di.wrapping_add(unit).wrapping_sub(1 + k),
                    )
                } else {
                    (si.wrapping_add(k), di.wrapping_add(k))
                };
                let (s, d) = if a16 {
                    (s & 0xFFFF, d & 0xFFFF)
                } else {
                    (s, d)
                };
                if (s as usize) < DATA_SIZE && (d as usize) < DATA_SIZE {
                    b.mem[d as usize] = b.mem[s as usize];
                }
            }
        }
        StrOp::Scas if b.rng.chance(60) => {
            let k = b.rng.below(reps.max(1));
            let at = if df {
                di.wrapping_sub(k * unit)
            } else {
                di.wrapping_add(k * unit)
            };
            let at = if a16 { at & 0xFFFF } else { at };
            let v = b.read_mem(at, unit) as u32;
            let acc = match unit {
                1 => Register::AL,
                2 => Register::AX,
                _ => Register::EAX,
            };
            b.set_reg(acc, v);
        }
        _ => {}
    }
    let code = t.code(size);
    let instr = match (op, unit) {
        (StrOp::Movs, 1) => Instruction::with_movsb(address_size, seg, rep_kind),
        (StrOp::Movs, 2) => Instruction::with_movsw(address_size, seg, rep_kind),
        (StrOp::Movs, _) => Instruction::with_movsd(address_size, seg, rep_kind),
        (StrOp::Stos, 1) => Instruction::with_stosb(address_size, rep_kind),
        (StrOp::Stos, 2) => Instruction::with_stosw(address_size, rep_kind),
        (StrOp::Stos, _) => Instruction::with_stosd(address_size, rep_kind),
        (StrOp::Lods, 1) => Instruction::with_lodsb(address_size, seg, rep_kind),
        (StrOp::Lods, 2) => Instruction::with_lodsw(address_size, seg, rep_kind),
        (StrOp::Lods, _) => Instruction::with_lodsd(address_size, seg, rep_kind),
        (StrOp::Cmps, 1) => Instruction::with_cmpsb(address_size, seg, rep_kind),
        (StrOp::Cmps, 2) => Instruction::with_cmpsw(address_size, seg, rep_kind),
        (StrOp::Cmps, _) => Instruction::with_cmpsd(address_size, seg, rep_kind),
        (StrOp::Scas, 1) => Instruction::with_scasb(address_size, rep_kind),
        (StrOp::Scas, 2) => Instruction::with_scasw(address_size, rep_kind),
        (StrOp::Scas, _) => Instruction::with_scasd(address_size, rep_kind),
    }
    .unwrap_or_else(|e| panic!("{code:?}: {e}"));
    debug_assert_eq!(instr.code(), code);
    encode(size, &[instr])
}

fn build_branch(b: &mut Builder<'_>, t: &Template) -> Vec<u8> {
    let size = b.size;
    let code = t.code(size);
    match t.kind {
        Kind::Jcc => {
            // Target: past the 2-byte `mov al, 1` that follows the branch.
            let probe = encode(size, &[Instruction::with_branch(code, 0).expect("jcc")]);
            let target = probe.len() as u64 + 2;
            encode(
                size,
                &[
                    Instruction::with_branch(code, target).expect("jcc"),
                    mov_al_1(),
                ],
            )
        }
        Kind::CxBranch => {
            let cx = if b.rng.chance(60) {
                b.rng.pick(&[0, 1, 2, 0xFFFF, 0x1_0000, 0x1_0001])
            } else {
                b.rng.next_u32()
            };
            b.gpr[1] = cx;
            let probe = encode(size, &[Instruction::with_branch(code, 0).expect("loop")]);
            let target = probe.len() as u64 + 2;
            encode(
                size,
                &[
                    Instruction::with_branch(code, target).expect("loop"),
                    mov_al_1(),
                ],
            )
        }
        _ => {
            // l: add eax, ecx ; loop l
            let add =
                Instruction::with2(Code::Add_r32_rm32, Register::EAX, Register::ECX).expect("add");
            let add_len = encode(size, &[add]).len() as u64;
            let n = b.rng.range(1, 20);
            b.gpr[1] = match size {
                // A CX of 0 runs 65536 times: still quick.
                CodeSize::Bits16 if b.rng.chance(10) => b.rng.next_u32() & 0xFFFF_0000,
                CodeSize::Bits16 => (b.rng.next_u32() & 0xFFFF_0000) | n,
                CodeSize::Bits32 => n,
            };
            let lp = Instruction::with_branch(code, 0).expect("loop");
            let mut enc = Encoder::new(size.bitness());
            enc.encode(&add, 0).expect("add");
            enc.encode(&lp, add_len).expect("loop");
            enc.take_buffer()
        }
    }
}
