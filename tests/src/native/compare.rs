//! Comparing two outcomes of the same case, with a readable report.

use super::case::{flags, Case, CodeSize, CpuSnapshot, FpuState, Outcome, GPR_NAMES};
use super::masks::{undefined_for, UndefMask};
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use std::fmt::{self, Write as _};

/// Maximum number of differing data-area bytes listed in a report.
const MAX_MEM_LINES: usize = 16;

/// Disassembles a snippet: one line per instruction, `offset  bytes  text`.
pub fn disassemble(size: CodeSize, code: &[u8]) -> String {
    let mut dec = Decoder::with_ip(size.bitness(), code, 0, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    let mut out = String::new();
    while dec.can_decode() {
        let pos = dec.position();
        let instr = dec.decode();
        let mut text = String::new();
        fmt.format(&instr, &mut text);
        let bytes: Vec<String> = code[pos..pos + instr.len()]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let _ = writeln!(out, "  {pos:04X}  {:<24} {text}", bytes.join(" "));
    }
    out
}

/// Names of the set flags among `mask`, e.g. `CF ZF`.
pub fn flag_names(value: u32, mask: u32) -> String {
    const NAMES: [(u32, &str); 7] = [
        (flags::CF, "CF"),
        (flags::PF, "PF"),
        (flags::AF, "AF"),
        (flags::ZF, "ZF"),
        (flags::SF, "SF"),
        (flags::DF, "DF"),
        (flags::OF, "OF"),
    ];
    let v: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| value & mask & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "-".to_string()
    } else {
        v.join(" ")
    }
}

fn regs_line(s: &CpuSnapshot) -> String {
    let mut out = String::new();
    for (n, v) in GPR_NAMES.iter().zip(s.gpr) {
        let _ = write!(out, "{n}={v:08X} ");
    }
    let _ = write!(
        out,
        "eflags={:04X} [{}]",
        s.eflags,
        flag_names(s.eflags, flags::SNAPSHOT)
    );
    out
}

fn fp80_text(r: &[u8; 10]) -> String {
    let mant = u64::from_le_bytes(r[..8].try_into().expect("8 bytes"));
    let se = u16::from_le_bytes([r[8], r[9]]);
    format!("{se:04X}:{mant:016X}")
}

fn fpu_line(f: &FpuState) -> String {
    let mut out = format!(
        "fcw={:04X} fsw={:04X} ftw={:04X}",
        f.control, f.status, f.tag
    );
    for i in 0..8 {
        if !f.is_empty(i) {
            let _ = write!(out, " st{i}={}", fp80_text(&f.st[i]));
        }
    }
    out
}

/// Snippet bytes, disassembly and input state of a case.
pub fn describe_case(case: &Case) -> String {
    let bytes: Vec<String> = case.code.iter().map(|b| format!("{b:02X}")).collect();
    let mut out = format!("{} snippet: {}\n", case.size, bytes.join(" "));
    out += &disassemble(case.size, &case.code);
    let _ = writeln!(out, "input:  {}", regs_line(&case.input));
    if let Some(f) = &case.input.fpu {
        let _ = writeln!(out, "        {}", fpu_line(f));
    }
    out
}

fn outcome_head(o: &Outcome) -> String {
    match o {
        Outcome::Completed(_) => "completed".to_string(),
        Outcome::Exception {
            vector,
            error_code,
            fault_ip,
            ..
        } => {
            let name = match vector {
                0 => "#DE",
                1 => "#DB",
                3 => "#BP",
                4 => "#OF",
                5 => "#BR",
                6 => "#UD",
                7 => "#NM",
                12 => "#SS",
                13 => "#GP",
                14 => "#PF",
                16 => "#MF",
                17 => "#AC",
                19 => "#XM",
                _ => "#?",
            };
            match error_code {
                Some(e) => format!("exception {vector} {name}({e:#x}) at +{fault_ip:#x}"),
                None => format!("exception {vector} {name} at +{fault_ip:#x}"),
            }
        }
    }
}

/// Two outcomes of one case that differ beyond what the SDM leaves
/// undefined. `Display` gives the full report.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// Case description (bytes, disassembly, input state).
    pub case: String,
    /// One line per difference.
    pub differences: Vec<String>,
    /// Expected and actual outcome summaries (final register lines).
    pub summary: String,
    /// Undefined-result rules that were applied.
    pub masked: Vec<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.case)?;
        write!(f, "{}", self.summary)?;
        writeln!(f, "differences:")?;
        for d in &self.differences {
            writeln!(f, "  {d}")?;
        }
        if !self.masked.is_empty() {
            writeln!(f, "ignored (undefined per SDM): {}", self.masked.join("; "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// Compares `actual` against `expected` for `case`.
///
/// The kind of outcome, exception vector, error code and fault offset must
/// match exactly. States are compared register by register, flag by flag
/// (the flags in [`flags::SNAPSHOT`]), byte by byte over the data area and,
/// when both sides captured it, the x87 control word, status word, tag word
/// and the contents of non-empty registers. For completed outcomes the
/// [`undefined_for`] mask is applied to EFLAGS, GPRs and memory; the x87
/// status-word mask applies to both kinds (an FWAIT fault follows the
/// arithmetic instruction that left C0/C2/C3 undefined). Faulting
/// instructions leave no undefined results behind, so exception states are
/// otherwise compared exactly.
pub fn compare(case: &Case, expected: &Outcome, actual: &Outcome) -> Result<(), Mismatch> {
    let mask = undefined_for(case);
    let mut diffs = Vec::new();
    let head_e = outcome_head(expected);
    let head_a = outcome_head(actual);
    if head_e != head_a {
        diffs.push(format!("outcome: expected {head_e}, actual {head_a}"));
    }
    let completed =
        matches!(expected, Outcome::Completed(_)) && matches!(actual, Outcome::Completed(_));
    let state_mask = if completed {
        mask.clone()
    } else {
        UndefMask {
            fsw: mask.fsw,
            ..UndefMask::default()
        }
    };
    compare_states(
        case,
        expected.state(),
        actual.state(),
        &state_mask,
        &mut diffs,
    );
    if diffs.is_empty() {
        return Ok(());
    }
    let summary = format!(
        "expected: {head_e}\n          {}\nactual:   {head_a}\n          {}\n",
        regs_line(expected.state()),
        regs_line(actual.state())
    );
    Err(Mismatch {
        case: describe_case(case),
        differences: diffs,
        summary,
        masked: if completed { mask.notes } else { Vec::new() },
    })
}

fn compare_states(
    case: &Case,
    e: &CpuSnapshot,
    a: &CpuSnapshot,
    m: &UndefMask,
    diffs: &mut Vec<String>,
) {
    for (i, name) in GPR_NAMES.iter().enumerate() {
        let d = (e.gpr[i] ^ a.gpr[i]) & !m.gpr[i];
        if d != 0 {
            diffs.push(format!(
                "{name}: expected {:08X}, actual {:08X} (bits {d:08X}; input {:08X})",
                e.gpr[i], a.gpr[i], case.input.gpr[i]
            ));
        }
    }
    let fm = flags::SNAPSHOT & !m.eflags;
    let d = (e.eflags ^ a.eflags) & fm;
    if d != 0 {
        diffs.push(format!(
            "eflags: expected [{}], actual [{}], differing {} (input [{}])",
            flag_names(e.eflags, fm),
            flag_names(a.eflags, fm),
            flag_names(d, d),
            flag_names(case.input.eflags, flags::SNAPSHOT)
        ));
    }
    if e.mem.len() != a.mem.len() {
        diffs.push(format!(
            "data area: expected {} bytes, actual {}",
            e.mem.len(),
            a.mem.len()
        ));
    } else {
        let bad: Vec<usize> = (0..e.mem.len())
            .filter(|&i| e.mem[i] != a.mem[i] && !m.mem_undefined(i))
            .collect();
        for &i in bad.iter().take(MAX_MEM_LINES) {
            diffs.push(format!(
                "mem[{i:04X}]: expected {:02X}, actual {:02X} (input {:02X})",
                e.mem[i],
                a.mem[i],
                case.input.mem.get(i).copied().unwrap_or(0)
            ));
        }
        if bad.len() > MAX_MEM_LINES {
            diffs.push(format!("... {} differing bytes in all", bad.len()));
        }
    }
    match (&e.fpu, &a.fpu) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => diffs.push(format!(
            "x87 state: expected {}, actual {}",
            if e.fpu.is_some() { "captured" } else { "none" },
            if a.fpu.is_some() { "captured" } else { "none" }
        )),
        (Some(fe), Some(fa)) => {
            if fe.control != fa.control {
                diffs.push(format!(
                    "fcw: expected {:04X}, actual {:04X}",
                    fe.control, fa.control
                ));
            }
            let d = (fe.status ^ fa.status) & !m.fsw;
            if d != 0 {
                diffs.push(format!(
                    "fsw: expected {:04X}, actual {:04X} (bits {d:04X}, ignoring {:04X})",
                    fe.status, fa.status, m.fsw
                ));
            }
            if fe.tag != fa.tag {
                diffs.push(format!(
                    "ftw: expected {:04X}, actual {:04X}",
                    fe.tag, fa.tag
                ));
            }
            for i in 0..8 {
                if !fe.is_empty(i) && fe.st[i] != fa.st[i] {
                    diffs.push(format!(
                        "st{i}: expected {}, actual {}",
                        fp80_text(&fe.st[i]),
                        fp80_text(&fa.st[i])
                    ));
                }
            }
        }
    }
}

/// Runs every case on both engines and returns the mismatches.
pub fn run_differential(
    reference: &mut dyn super::case::ExecEngine,
    under_test: &mut dyn super::case::ExecEngine,
    cases: &[Case],
) -> Vec<Mismatch> {
    cases
        .iter()
        .filter_map(|c| compare(c, &reference.run(c), &under_test.run(c)).err())
        .collect()
}
