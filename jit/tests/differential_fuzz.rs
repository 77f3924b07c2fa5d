//! Seeded differential fuzzing of the JIT against the interpreter: random sequences of the
//! instructions the translator handles natively (every width and operand kind), mixed with
//! instructions that stay with the interpreter and with forward conditional jumps, run from
//! random register values in flat 32-bit protected mode. Both engines must leave identical
//! registers, EFLAGS, memory, EIP and instruction counts.
//!
//! One JIT engine serves every case, each on a fresh machine with its code at the same
//! addresses: translations, links and jump-cache entries of a machine that is gone must
//! never run (its decode cache invalidates its blocks when dropped).
//!
//! `RINGSIDE_JIT_FUZZ_CASES` sets the number of sequences (default 2000).

use std::sync::Arc;

use emu_core::bus::PortBus;
use emu_core::control::MachineControl;
use emu_core::cpu::segment::SegmentCache;
use emu_core::cpu::state::{RunState, CR0_PE, CS, DS, ES, FS, GS, SS};
use emu_core::cpu::Cpu;
use emu_core::engine::ExecutionEngine;
use emu_core::memory::PhysicalMemory;
use iced_x86::code_asm::*;
use jit::JitEngine;

/// Close to a page end, so some accesses cross it and take the slow path.
const DATA: u32 = 0x1_0F00;
const STACK_TOP: u32 = 0x3_0800;
const CODE: u32 = 0x2_0000;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    /// Values that reach flag edge cases often.
    fn value(&mut self) -> u32 {
        match self.below(6) {
            0 => 0,
            1 => 0xFFFF_FFFF,
            2 => 0x8000_0000,
            3 => 0x7FFF_FFFF,
            4 => self.below(0x100) as u32,
            _ => self.next() as u32,
        }
    }
}

// EBX (data base), ESI (index) and ESP stay out of the destinations, so addresses stay
// inside the data area.
const R32: [AsmRegister32; 5] = [eax, ecx, edx, edi, ebp];
const R16: [AsmRegister16; 5] = [ax, cx, dx, di, bp];
const R8: [AsmRegister8; 6] = [al, cl, dl, ah, ch, dh];

fn mem(r: &mut Rng) -> AsmMemoryOperand {
    let disp = (r.below(0x3F) * 4 + r.below(4)) as i32;
    if r.below(2) == 0 {
        ebx + disp
    } else {
        ebx + esi * 4 + disp
    }
}

/// One random instruction (sometimes a forward Jcc over the next one).
fn emit(a: &mut CodeAssembler, r: &mut Rng) -> Result<(), IcedError> {
    let d32 = r.pick(&R32);
    let s32 = r.pick(&R32);
    let d16 = r.pick(&R16);
    let s16 = r.pick(&R16);
    let d8 = r.pick(&R8);
    let s8 = r.pick(&R8);
    let imm = r.value();
    let m = mem(r);
    match r.below(43) {
        0 => a.mov(d32, s32),
        1 => a.mov(d32, imm),
        2 => a.mov(d32, dword_ptr(m)),
        3 => a.mov(dword_ptr(m), s32),
        4 => a.mov(d16, word_ptr(m)),
        5 => a.mov(byte_ptr(m), s8),
        6 => a.mov(d8, s8),
        7 => a.mov(d16, s16),
        8 => a.movzx(d32, byte_ptr(m)),
        9 => a.movsx(d32, word_ptr(m)),
        10 => a.movzx(d32, s8),
        11 => a.movsx(d32, s16),
        12 => a.lea(d32, dword_ptr(m)),
        13..=18 => {
            let op = r.below(8);
            macro_rules! alu {
                ($d:expr, $s:expr) => {
                    match op {
                        0 => a.add($d, $s),
                        1 => a.or($d, $s),
                        2 => a.adc($d, $s),
                        3 => a.sbb($d, $s),
                        4 => a.and($d, $s),
                        5 => a.sub($d, $s),
                        6 => a.xor($d, $s),
                        _ => a.cmp($d, $s),
                    }
                };
            }
            match r.below(9) {
                0 => alu!(d32, s32),
                1 => alu!(d32, imm as i32),
                2 => alu!(d32, dword_ptr(m)),
                3 => alu!(dword_ptr(m), s32),
                4 => alu!(dword_ptr(m), imm as i32),
                5 => alu!(d8, s8),
                6 => alu!(d8, imm as u8 as i32),
                7 => alu!(d16, s16),
                _ => alu!(word_ptr(m), imm as u16 as i32),
            }
        }
        19 => a.test(d32, s32),
        20 => a.test(byte_ptr(m), imm as u8 as u32),
        21 => match r.below(3) {
            0 => a.shl(d32, (r.below(32)) as u32),
            1 => a.shr(d32, (r.below(32)) as u32),
            _ => a.sar(d32, (r.below(32)) as u32),
        },
        22 => match r.below(3) {
            0 => a.shl(d32, cl),
            1 => a.shr(d32, cl),
            _ => a.sar(d32, cl),
        },
        23 => a.imul_2(d32, s32),
        24 => a.imul_3(d32, s32, imm as i32),
        25 => match r.below(4) {
            0 => a.inc(d32),
            1 => a.inc(d8),
            2 => a.inc(dword_ptr(m)),
            _ => a.inc(word_ptr(m)),
        },
        26 => match r.below(4) {
            0 => a.dec(d32),
            1 => a.dec(d16),
            2 => a.dec(byte_ptr(m)),
            _ => a.dec(dword_ptr(m)),
        },
        27 => {
            a.push(s32)?;
            a.pop(d32)
        }
        28 => a.push(s32),
        29 => a.pop(d32),
        30 => {
            let cc = r.below(16);
            macro_rules! set {
                ($($n:literal => $i:ident),*) => {
                    match cc { $($n => a.$i(d8),)* _ => unreachable!() }
                };
            }
            set!(0 => seto, 1 => setno, 2 => setb, 3 => setae, 4 => sete, 5 => setne,
                6 => setbe, 7 => seta, 8 => sets, 9 => setns, 10 => setp, 11 => setnp,
                12 => setl, 13 => setge, 14 => setle, 15 => setg)
        }
        31 => {
            let cc = r.below(16);
            macro_rules! cmov {
                ($($n:literal => $i:ident),*) => {
                    match (cc, r.below(2)) {
                        $(($n, 0) => a.$i(d32, s32),)*
                        $(($n, _) => a.$i(d32, dword_ptr(m)),)*
                        _ => unreachable!(),
                    }
                };
            }
            cmov!(0 => cmovo, 1 => cmovno, 2 => cmovb, 3 => cmovae, 4 => cmove, 5 => cmovne,
                6 => cmovbe, 7 => cmova, 8 => cmovs, 9 => cmovns, 10 => cmovp, 11 => cmovnp,
                12 => cmovl, 13 => cmovge, 14 => cmovle, 15 => cmovg)
        }
        32 => {
            // A forward Jcc over one instruction: ends the block, exercises chaining.
            let mut skip = a.create_label();
            match r.below(6) {
                0 => a.je(skip)?,
                1 => a.jb(skip)?,
                2 => a.jl(skip)?,
                3 => a.jbe(skip)?,
                4 => a.js(skip)?,
                _ => a.jo(skip)?,
            }
            a.add(d32, 1)?;
            a.set_label(&mut skip)?;
            a.nop()
        }
        39 => {
            // CALL to the next instruction: pushes its address, popped at once.
            let mut next = a.create_label();
            a.call(next)?;
            a.set_label(&mut next)?;
            a.pop(d32)
        }
        40 | 41 => {
            // CALL a subroutine that returns (RET, or RET 4 releasing a pushed argument).
            let (mut sub, mut after) = (a.create_label(), a.create_label());
            let with_arg = r.below(2) == 0;
            if with_arg {
                a.push(s32)?;
            }
            a.call(sub)?;
            a.jmp(after)?;
            a.set_label(&mut sub)?;
            a.add(d32, 7)?;
            if with_arg {
                a.ret_1(4)?;
            } else {
                a.ret()?;
            }
            a.set_label(&mut after)?;
            a.nop()
        }
        // Instructions the interpreter keeps: they leave the flags in other states.
        33 => a.neg(d32),
        34 => a.rol(d32, (r.below(32)) as u32),
        35 => a.stc(),
        36 => a.clc(),
        37 => a.cmc(),
        38 => a.bt(d32, s32),
        42 => a.push(imm as i32),
        _ => a.xchg(d32, s32),
    }
}

fn flat(selector: u16, code: bool) -> SegmentCache {
    let access: u64 = if code { 0x9A } else { 0x92 };
    SegmentCache::from_descriptor(selector, 0x00CF_0000_0000_FFFF | (access << 40))
}

fn machine(code: &[u8], regs: &[u32; 8], eflags: u32, data: &[u8]) -> Cpu {
    let mem = PhysicalMemory::new(1 << 20, &[0u8; 4096]).unwrap();
    let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
    cpu.mem.write_bytes(CODE as u64, code);
    cpu.mem.write_bytes(DATA as u64, data);
    let s = &mut cpu.state;
    s.cr0 |= CR0_PE;
    s.seg[CS] = flat(0x08, true);
    for seg in [DS, ES, FS, GS, SS] {
        s.seg[seg] = flat(0x10, false);
    }
    for (i, v) in regs.iter().enumerate() {
        s.set_reg32(i, *v);
    }
    s.set_reg32(3, DATA); // EBX
    s.set_reg32(6, (regs[6] & 15) * 4); // ESI
    s.set_reg32(4, STACK_TOP); // ESP
    s.set_eflags(eflags & 0x8D5); // arithmetic flags and DF clear, IF clear
    s.rip = CODE as u64;
    cpu
}

struct Outcome {
    regs: [u32; 8],
    eflags: u32,
    eip: u32,
    icount: u64,
    data: Vec<u8>,
    stack: Vec<u8>,
}

fn outcome(cpu: &mut Cpu) -> Outcome {
    let mut regs = [0; 8];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = cpu.state.reg32(i);
    }
    let mut data = vec![0; 0x200];
    cpu.mem.read_bytes(DATA as u64, &mut data);
    let mut stack = vec![0; 0x100];
    cpu.mem.read_bytes((STACK_TOP - 0x100) as u64, &mut stack);
    Outcome {
        regs,
        eflags: cpu.state.eflags(),
        eip: cpu.state.eip(),
        icount: cpu.icount,
        data,
        stack,
    }
}

/// Runs to the sequence's HLT; `Err` says where it was instead.
fn run_to_halt(cpu: &mut Cpu, engine: &mut dyn ExecutionEngine) -> Result<(), String> {
    for _ in 0..100 {
        engine.run(cpu, 10_000);
        if cpu.state.run_state != RunState::Running {
            return Ok(());
        }
    }
    Err(format!(
        "{} did not reach the HLT: EIP {:08x} after {} instructions",
        engine.name(),
        cpu.state.eip(),
        cpu.icount
    ))
}

fn describe(code: &[u8]) -> String {
    let mut d = iced_x86::Decoder::with_ip(32, code, CODE as u64, 0);
    let mut f = iced_x86::IntelFormatter::new();
    let mut out = String::new();
    for ins in d.iter() {
        let mut s = String::new();
        iced_x86::Formatter::format(&mut f, &ins, &mut s);
        out += &format!("  {:08x} {s}\n", ins.ip());
    }
    out
}

#[test]
fn jit_matches_interpreter_on_random_sequences() {
    let cases: u64 = std::env::var("RINGSIDE_JIT_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut jit = JitEngine::new(16).unwrap();
    let mut interp = emu_core::engine::Interpreter;
    let mut failures = Vec::new();
    for seed in 1..=cases {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut a = CodeAssembler::new(32).unwrap();
        let len = 5 + r.below(40);
        for _ in 0..len {
            emit(&mut a, &mut r).unwrap();
        }
        a.hlt().unwrap();
        let code = a.assemble(CODE as u64).unwrap();
        let mut regs = [0u32; 8];
        for v in regs.iter_mut() {
            *v = r.value();
        }
        let eflags = r.next() as u32;
        let data: Vec<u8> = (0..0x200).map(|_| r.next() as u8).collect();

        let mut a_cpu = machine(&code, &regs, eflags, &data);
        let mut b_cpu = machine(&code, &regs, eflags, &data);
        let ran = run_to_halt(&mut a_cpu, &mut interp).and(run_to_halt(&mut b_cpu, &mut jit));
        if let Err(e) = ran {
            failures.push(format!("seed {seed}: {e}\n{}", describe(&code)));
            continue;
        }
        let want = outcome(&mut a_cpu);
        let got = outcome(&mut b_cpu);

        let mut diffs = Vec::new();
        for i in 0..8 {
            if want.regs[i] != got.regs[i] {
                diffs.push(format!(
                    "reg {i}: interp {:08x} jit {:08x}",
                    want.regs[i], got.regs[i]
                ));
            }
        }
        if want.eflags != got.eflags {
            diffs.push(format!(
                "eflags: interp {:08x} jit {:08x}",
                want.eflags, got.eflags
            ));
        }
        if (want.eip, want.icount) != (got.eip, got.icount) {
            diffs.push(format!(
                "eip/icount: interp {:08x}/{} jit {:08x}/{}",
                want.eip, want.icount, got.eip, got.icount
            ));
        }
        if want.data != got.data || want.stack != got.stack {
            diffs.push("memory differs".into());
        }
        if !diffs.is_empty() {
            failures.push(format!(
                "seed {seed}: {}\n{}",
                diffs.join("; "),
                describe(&code)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} sequences differ; first:\n{}",
        failures.len(),
        failures.first().unwrap()
    );
}
