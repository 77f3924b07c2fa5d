//! Unit tests: x87 instructions executed through `Cpu::step` in real mode.

use std::sync::Arc;

use crate::bus::PortBus;
use crate::control::MachineControl;
use crate::cpu::core::{Cpu, VectorEvent};
use crate::cpu::segment::SegmentCache;
use crate::cpu::state::{CR0_EM, CR0_MP, CR0_NE, CR0_TS, CS, DS, RAX, RSP, SS};
use crate::fpu::F80;
use crate::memory::PhysicalMemory;

const ORG: u32 = 0x7C00;

fn cpu_with(code: &[u8]) -> Cpu {
    let mem = PhysicalMemory::new(4 << 20, &[0u8; 4096]).unwrap();
    let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
    cpu.mem.write_bytes(ORG as u64, code);
    for s in [CS, SS, DS] {
        cpu.state.seg[s] = SegmentCache::real_mode(0);
    }
    cpu.state.rip = ORG as u64;
    cpu.state.set_reg16(RSP, 0x7000);
    cpu.state.cr0 |= CR0_NE | CR0_MP;
    cpu.intercept_vectors = true;
    cpu
}

/// Runs until EIP reaches `ORG + len` or an exception is intercepted.
fn run(cpu: &mut Cpu, len: usize) -> Option<VectorEvent> {
    for _ in 0..1000 {
        if cpu.state.rip == (ORG as usize + len) as u64 || cpu.intercepted.is_some() {
            break;
        }
        cpu.step();
    }
    cpu.intercepted
}

fn exec(code: &[u8]) -> (Cpu, Option<VectorEvent>) {
    let mut cpu = cpu_with(code);
    let ev = run(&mut cpu, code.len());
    (cpu, ev)
}

const FNINIT: [u8; 2] = [0xDB, 0xE3];
const FLD1: [u8; 2] = [0xD9, 0xE8];
const FLDZ: [u8; 2] = [0xD9, 0xEE];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn push_add_pop() {
    // fninit; fld1; fld1; faddp st1, st; fnstsw ax
    let code = cat(&[&FNINIT, &FLD1, &FLD1, &[0xDE, 0xC1], &[0xDF, 0xE0]]);
    let (cpu, ev) = exec(&code);
    assert_eq!(ev, None);
    let f = &cpu.state.fpu;
    assert_eq!(f.top(), 7);
    assert_eq!(
        f.regs[7],
        F80 {
            signif: 1 << 63,
            sign_exp: 0x4000
        }
    );
    assert_eq!(f.ftw, 0x3FFF);
    assert_eq!(cpu.state.reg16(RAX), 0x3800);
    // FOP of FADDP ST(1),ST(0) = DE C1.
    assert_eq!(f.fop, 0x6C1);
    assert_eq!(f.fip, ORG + 6);
}

#[test]
fn nm_rules() {
    let mut cpu = cpu_with(&FLD1);
    cpu.state.cr0 |= CR0_TS;
    assert_eq!(run(&mut cpu, 2).map(|e| e.vector), Some(7));

    let mut cpu = cpu_with(&FLD1);
    cpu.state.cr0 |= CR0_EM;
    assert_eq!(run(&mut cpu, 2).map(|e| e.vector), Some(7));

    // WAIT: #NM only for TS with MP.
    let mut cpu = cpu_with(&[0x9B]);
    cpu.state.cr0 |= CR0_TS;
    assert_eq!(run(&mut cpu, 1).map(|e| e.vector), Some(7));
    let mut cpu = cpu_with(&[0x9B]);
    cpu.state.cr0 = (cpu.state.cr0 | CR0_TS) & !CR0_MP;
    assert_eq!(run(&mut cpu, 1), None);
    let mut cpu = cpu_with(&[0x9B]);
    cpu.state.cr0 |= CR0_EM;
    assert_eq!(run(&mut cpu, 1), None);

    // FXSAVE: #UD with EM, #NM with TS.
    let fxsave = [0x0F, 0xAE, 0x06, 0x00, 0x10];
    let mut cpu = cpu_with(&fxsave);
    cpu.state.cr0 |= CR0_EM;
    assert_eq!(run(&mut cpu, 5).map(|e| e.vector), Some(6));
    let mut cpu = cpu_with(&fxsave);
    cpu.state.cr0 |= CR0_TS;
    assert_eq!(run(&mut cpu, 5).map(|e| e.vector), Some(7));
}

/// fninit; fldcw [0x500] (ZE unmasked); fld1; fldz; fdivp; fwait
fn divide_by_zero_code() -> Vec<u8> {
    cat(&[
        &FNINIT,
        &[0xD9, 0x2E, 0x00, 0x05],
        &FLD1,
        &FLDZ,
        &[0xDE, 0xF9],
        &[0x9B],
    ])
}

#[test]
fn mf_at_next_waiting_instruction() {
    let code = divide_by_zero_code();
    let mut cpu = cpu_with(&code);
    cpu.mem.write_bytes(0x500, &0x037Bu16.to_le_bytes());
    let ev = run(&mut cpu, code.len()).expect("#MF");
    assert_eq!(ev.vector, 16);
    // A fault on the FWAIT; the x87 pointers still name the FDIVP.
    assert_eq!(ev.return_eip, ORG + 12);
    let f = &cpu.state.fpu;
    assert_eq!(f.fip, ORG + 10);
    assert_eq!(f.fop, 0x6F9);
    assert_eq!(f.fsw & 0x80FF, 0x8084, "ZE, ES, B");
    assert_eq!(f.ferr, 0);
}

#[test]
fn ferr_without_ne() {
    let code = divide_by_zero_code();
    let mut cpu = cpu_with(&code);
    cpu.state.cr0 &= !CR0_NE;
    cpu.mem.write_bytes(0x500, &0x037Bu16.to_le_bytes());
    assert_eq!(run(&mut cpu, code.len()), None);
    assert_eq!(cpu.state.fpu.ferr, 1);
}

#[test]
fn no_wait_instructions_ignore_pending_exceptions() {
    // ... fdivp; fnstsw ax; fnclex; fwait
    let mut code = divide_by_zero_code();
    code.pop();
    code.extend_from_slice(&[0xDF, 0xE0, 0xDB, 0xE2, 0x9B]);
    let mut cpu = cpu_with(&code);
    cpu.mem.write_bytes(0x500, &0x037Bu16.to_le_bytes());
    assert_eq!(run(&mut cpu, code.len()), None);
    assert_eq!(cpu.state.reg16(RAX) & 0x80FF, 0x8084);
    assert_eq!(cpu.state.fpu.fsw & 0x80FF, 0);
}

#[test]
fn fop_of_memory_forms() {
    // fadd dword [bx+si+4]; fld qword [bp+0] ; a32 fld dword [ebx+eax*4]
    let code = cat(&[&FNINIT, &FLD1, &[0xD8, 0x40, 0x04], &[0xDD, 0x46, 0x00]]);
    let mut cpu = cpu_with(&code);
    cpu.state.set_reg16(3, 0x600); // BX
    run(&mut cpu, 7);
    assert_eq!(cpu.state.fpu.fop, 0x040);
    assert_eq!(cpu.state.fpu.fdp, 0x604);
    run(&mut cpu, code.len());
    assert_eq!(cpu.state.fpu.fop, 0x546);

    let code = cat(&[&FNINIT, &[0x67, 0xD9, 0x04, 0x83]]);
    let (cpu, _) = exec(&code);
    assert_eq!(cpu.state.fpu.fop, 0x104);
}

#[test]
fn fnstenv_real_mode_layout() {
    // fninit; fld1; fnstenv [0x600] (16-bit); o32 fnstenv [0x700]
    let code = cat(&[
        &FNINIT,
        &FLD1,
        &[0xD9, 0x36, 0x00, 0x06],
        &[0x66, 0xD9, 0x36, 0x00, 0x07],
    ]);
    let (mut cpu, ev) = exec(&code);
    assert_eq!(ev, None);
    let mut e16 = [0u8; 14];
    cpu.mem.read_bytes(0x600, &mut e16);
    let w = |b: &[u8], i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
    assert_eq!(w(&e16, 0), 0x037F);
    assert_eq!(w(&e16, 1), 0x3800);
    assert_eq!(w(&e16, 2), 0x3FFF);
    assert_eq!(w(&e16, 3), (ORG + 2) as u16);
    assert_eq!(w(&e16, 4), 0x1E8); // FOP D9 E8, FIP[19:16] = 0
    let mut e32 = [0u8; 28];
    cpu.mem.read_bytes(0x700, &mut e32);
    let d = |i: usize| u32::from_le_bytes(e32[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!(d(0), 0xFFFF_037F);
    assert_eq!(d(3), 0xFFFF_0000 | (ORG + 2));
    assert_eq!(d(4), 0x1E8);
    // FNSTENV masks every exception afterwards.
    assert_eq!(cpu.state.fpu.fcw, 0x037F);
}

#[test]
fn fnsave_frstor_round_trip() {
    // fninit; fld1; fldz; fnsave [0x600]; frstor [0x600]
    let code = cat(&[
        &FNINIT,
        &FLD1,
        &FLDZ,
        &[0xDD, 0x36, 0x00, 0x06],
        &[0xDD, 0x26, 0x00, 0x06],
    ]);
    let (cpu, ev) = exec(&code);
    assert_eq!(ev, None);
    let f = &cpu.state.fpu;
    assert_eq!(f.top(), 6);
    assert_eq!(f.ftw, 0x1FFF);
    assert_eq!(f.regs[6], F80::default());
    assert_eq!(f.regs[7].sign_exp, 0x3FFF);
}

#[test]
fn fxsave_alignment_and_layout() {
    // fninit; fld1; fxsave [0x608] -> #GP
    let code = cat(&[&FNINIT, &FLD1, &[0x0F, 0xAE, 0x06, 0x08, 0x06]]);
    let (_, ev) = exec(&code);
    assert_eq!(ev.map(|e| (e.vector, e.error_code)), Some((13, Some(0))));
    // fxsave [0x600]; fninit; fxrstor [0x600]
    let code = cat(&[
        &FNINIT,
        &FLD1,
        &[0x0F, 0xAE, 0x06, 0x00, 0x06],
        &FNINIT,
        &[0x0F, 0xAE, 0x0E, 0x00, 0x06],
    ]);
    let (mut cpu, ev) = exec(&code);
    assert_eq!(ev, None);
    let mut img = [0u8; 48];
    cpu.mem.read_bytes(0x600, &mut img);
    assert_eq!(&img[0..5], &[0x7F, 0x03, 0x00, 0x38, 0x80]);
    assert_eq!(u16::from_le_bytes([img[6], img[7]]), 0x1E8);
    assert_eq!(&img[32..42], &[0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x3F]);
    let f = &cpu.state.fpu;
    assert_eq!((f.top(), f.ftw), (7, 0x3FFF));
}

#[test]
fn fcomi_sets_eflags() {
    // fninit; fld1; fldz; fcomi st, st(1) -> 0 < 1: CF
    let code = cat(&[&FNINIT, &FLD1, &FLDZ, &[0xDB, 0xF1]]);
    let (cpu, _) = exec(&code);
    assert_eq!(cpu.state.eflags() & 0x8D5, 0x001);
}

#[test]
fn stack_overflow_masked_pushes_indefinite() {
    let mut code = FNINIT.to_vec();
    for _ in 0..9 {
        code.extend_from_slice(&FLD1);
    }
    let (cpu, _) = exec(&code);
    let f = &cpu.state.fpu;
    assert_eq!(f.fsw & 0x0241, 0x0241, "IE, SF, C1 = overflow");
    assert_eq!(f.st_value(0), crate::fpu::float80::INDEFINITE);
}

trait StValue {
    fn st_value(&self, i: usize) -> F80;
}

impl StValue for crate::fpu::FpuState {
    fn st_value(&self, i: usize) -> F80 {
        self.regs[(self.top() + i) & 7]
    }
}
