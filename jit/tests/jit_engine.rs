//! Engine-level tests of the JIT: each builds a `Cpu` directly, runs guest code under
//! `JitEngine`, and compares the final state with the interpreter running the same code from
//! the same state (and, where it is simple to state, with the expected values).
//!
//! Covered: self-modifying code (a block patching its own next instruction, a loop patching
//! code it already ran, external writes between runs), precise exceptions in the middle of
//! a block (after natively translated instructions), code-cache flushes under pressure, and
//! long loops (registers, `icount`, and where budgets stop).

use std::sync::Arc;

use emu_core::bus::PortBus;
use emu_core::control::MachineControl;
use emu_core::cpu::segment::{
    SegmentCache, ATTR_ACCESSED, ATTR_CODE, ATTR_DB, ATTR_G, ATTR_P, ATTR_RW, ATTR_S,
};
use emu_core::cpu::state::{
    RunState, CR0_PE, CR0_PG, CS, DS, ES, FS, GS, RAX, RBP, RBX, RCX, RDI, RDX, RSI, RSP, SS,
};
use emu_core::cpu::{Cpu, VectorEvent};
use emu_core::engine::{ExecutionEngine, Interpreter};
use emu_core::interp::StopReason;
use emu_core::memory::PhysicalMemory;
use iced_x86::code_asm::*;
use iced_x86::BlockEncoderOptions;
use jit::JitEngine;

/// Guest RAM of every test machine.
const RAM: u64 = 4 << 20;
/// Where real-mode tests start (0000:7C00).
const REAL_ORG: u64 = 0x7C00;
/// Where 32-bit tests start (flat segments, linear = physical without paging).
const FLAT_ORG: u64 = 0x1_0000;
/// Budget per `run` call; tests loop until the CPU stops for another reason.
const SLICE: u64 = 100_000;
/// Bound on instructions per test run (a runaway guest fails instead of hanging).
const MAX_INSNS: u64 = 50_000_000;

// ---------------------------------------------------------------------------------------
// Machines

fn machine() -> Cpu {
    let mem = PhysicalMemory::new(RAM, &[0u8; 4096]).expect("guest memory");
    let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
    // Exceptions end the run and are recorded instead of vectoring through a table.
    cpu.intercept_vectors = true;
    // RESET leaves the processor signature in EDX: start from zeros.
    for r in 0..8 {
        cpu.state.set_reg32(r, 0);
    }
    cpu
}

/// Real mode at 0000:7C00 running `code`, SP = 0x7000.
fn real_mode(code: &[u8]) -> Cpu {
    let mut cpu = machine();
    cpu.mem.write_bytes(REAL_ORG, code);
    for seg in [CS, DS, ES, FS, GS, SS] {
        cpu.state.seg[seg] = SegmentCache::real_mode(0);
    }
    cpu.state.rip = REAL_ORG;
    cpu.state.set_reg32(RSP, 0x7000);
    cpu
}

/// A flat 4 GiB ring-0 segment: 32-bit code or writable data.
fn flat(selector: u16, code: bool) -> SegmentCache {
    let kind = if code { ATTR_CODE } else { 0 };
    SegmentCache {
        selector,
        attr: ATTR_P | ATTR_S | ATTR_RW | ATTR_ACCESSED | ATTR_DB | ATTR_G | kind,
        limit: 0xFFFF_FFFF,
        base: 0,
    }
}

/// 32-bit protected mode, CPL 0, flat CS/DS/ES/FS/GS/SS, running `code` at `org`,
/// ESP = 0x8000.
fn flat32(code: &[u8], org: u64) -> Cpu {
    let mut cpu = machine();
    cpu.mem.write_bytes(org, code);
    cpu.state.cr0 |= CR0_PE;
    cpu.state.seg[CS] = flat(0x08, true);
    for seg in [DS, ES, FS, GS, SS] {
        cpu.state.seg[seg] = flat(0x10, false);
    }
    cpu.state.cpl = 0;
    cpu.state.rip = org;
    cpu.state.set_reg32(RSP, 0x8000);
    cpu
}

/// Page directory and table addresses for [`with_paging`].
const PAGE_DIR: u64 = 0x1000;
const PAGE_TABLE: u64 = 0x2000;

/// Turns on paging with an identity map of the first 4 MiB (supervisor, writable) in which
/// the pages in `not_present` are missing.
fn with_paging(cpu: &mut Cpu, not_present: &[u32]) {
    cpu.mem.write_u32(PAGE_DIR, PAGE_TABLE as u32 | 0x3);
    for page in 0..1024u32 {
        let pte = if not_present.contains(&page) {
            0
        } else {
            (page << 12) | 0x3
        };
        cpu.mem.write_u32(PAGE_TABLE + page as u64 * 4, pte);
    }
    cpu.state.cr3 = PAGE_DIR;
    cpu.state.cr0 |= CR0_PE | CR0_PG;
}

// ---------------------------------------------------------------------------------------
// Assembling

/// Assembles with `build`, which gets the addresses of the labels it returns (zeros on the
/// first pass, the real ones on the second) so code can refer to its own instructions as
/// data. Absolute operands have a fixed size, so both passes lay the code out alike.
fn assemble(
    bits: u32,
    org: u64,
    build: impl Fn(&mut CodeAssembler, &[u64]) -> Result<Vec<CodeLabel>, IcedError>,
) -> (Vec<u8>, Vec<u64>) {
    let pass = |addrs: &[u64]| {
        let mut a = CodeAssembler::new(bits).expect("assembler");
        let labels = build(&mut a, addrs).expect("test code assembles");
        let r = a
            .assemble_options(org, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)
            .expect("test code encodes");
        let ips: Vec<u64> = labels
            .iter()
            .map(|l| r.label_ip(l).expect("label placed"))
            .collect();
        (r.inner.code_buffer, ips)
    };
    let (_, first) = pass(&[]);
    let (code, addrs) = pass(&first);
    let (_, again) = pass(&addrs);
    assert_eq!(addrs, again, "label addresses are stable between passes");
    (code, addrs)
}

/// `addrs[i]`, or 0 on the first pass.
fn at(addrs: &[u64], i: usize) -> u64 {
    addrs.get(i).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Running and comparing

/// The architectural state the tests compare.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Arch {
    gpr: [u32; 8],
    eip: u32,
    eflags: u32,
    cr2: u64,
    icount: u64,
    run_state: RunState,
    intercepted: Option<VectorEvent>,
}

fn arch(cpu: &Cpu) -> Arch {
    let mut gpr = [0; 8];
    for (i, r) in gpr.iter_mut().enumerate() {
        *r = cpu.state.reg32(i);
    }
    Arch {
        gpr,
        eip: cpu.state.eip(),
        eflags: cpu.state.eflags(),
        cr2: cpu.state.cr2,
        icount: cpu.icount,
        run_state: cpu.state.run_state,
        intercepted: cpu.intercepted,
    }
}

/// Runs in `slice`-instruction budgets until the CPU halts, shuts down (an intercepted
/// exception) or `MAX_INSNS` pass. Returns the `icount` at every budget stop.
fn run_sliced(engine: &mut dyn ExecutionEngine, cpu: &mut Cpu, slice: u64) -> Vec<u64> {
    let mut stops = Vec::new();
    loop {
        match engine.run(cpu, slice) {
            StopReason::Budget => {
                stops.push(cpu.icount);
                assert!(
                    cpu.icount < MAX_INSNS,
                    "{} ran away: EIP {:#x}",
                    engine.name(),
                    cpu.state.eip()
                );
            }
            StopReason::Halted | StopReason::Shutdown => return stops,
            StopReason::Request => panic!("no requests in these tests"),
        }
    }
}

fn run(engine: &mut dyn ExecutionEngine, cpu: &mut Cpu) {
    run_sliced(engine, cpu, SLICE);
}

/// Runs `make()` under the interpreter and under a fresh JIT; asserts both end in the same
/// state (including where every budget stopped them) and returns both machines.
fn both(make: impl Fn() -> Cpu) -> (Cpu, Cpu) {
    let mut jit = JitEngine::new(16).expect("JIT code cache");
    both_with(&mut jit, make, SLICE)
}

fn both_with(jit: &mut JitEngine, make: impl Fn() -> Cpu, slice: u64) -> (Cpu, Cpu) {
    let mut i = make();
    let i_stops = run_sliced(&mut Interpreter, &mut i, slice);
    let mut j = make();
    let j_stops = run_sliced(jit, &mut j, slice);
    assert_eq!(
        arch(&j),
        arch(&i),
        "JIT (left) and interpreter (right) differ"
    );
    assert_eq!(
        j_stops, i_stops,
        "budgets stopped the engines at different icounts"
    );
    assert!(
        jit.stats.blocks_translated > 0,
        "the JIT translated nothing: {}",
        jit.stats()
    );
    (i, j)
}

fn halted(cpu: &Cpu) {
    assert_eq!(
        cpu.intercepted,
        None,
        "unexpected exception at EIP {:#x}",
        cpu.state.eip()
    );
    assert_eq!(cpu.state.run_state, RunState::Halted);
}

// ---------------------------------------------------------------------------------------
// (a) A block patching its own next instruction

#[test]
fn block_patching_its_own_next_instruction_runs_the_patched_code() {
    // Real mode: native MOVs, a store that turns the following NOP into INC AX, more native
    // code after it, all one block.
    let (code, _) = assemble(16, REAL_ORG, |a, addrs| {
        let mut next = a.create_label();
        a.mov(eax, 5u32)?;
        a.mov(ebx, eax)?;
        a.mov(byte_ptr(at(addrs, 0) as u32), 0x40u32)?;
        a.set_label(&mut next)?;
        a.nop()?;
        a.add(eax, 0x10)?;
        a.mov(ecx, eax)?;
        a.hlt()?;
        Ok(vec![next])
    });
    let (_, j) = both(|| real_mode(&code));
    halted(&j);
    assert_eq!(
        j.state.reg32(RAX),
        0x16,
        "INC AX ran instead of the stale NOP"
    );
    assert_eq!(j.state.reg32(RBX), 5);
    assert_eq!(j.state.reg32(RCX), 0x16);
    assert!(j.icache.invalidations >= 1);
}

#[test]
fn patching_the_immediate_of_a_native_instruction_later_in_the_block() {
    // 32-bit: the store rewrites the imm32 of a MOV translated natively, three native
    // instructions further on in the same block.
    let (code, addrs) = assemble(32, FLAT_ORG, |a, addrs| {
        let mut site = a.create_label();
        a.mov(eax, 1u32)?;
        a.mov(dword_ptr(at(addrs, 0) as u32 + 1), 0x1234_5678u32)?;
        a.add(eax, 2)?;
        a.mov(edx, eax)?;
        a.xor(esi, esi)?;
        a.set_label(&mut site)?;
        a.mov(ebx, 0xDEAD_BEEFu32)?;
        a.add(ebx, eax)?;
        a.hlt()?;
        Ok(vec![site])
    });
    assert_eq!(
        code[(addrs[0] - FLAT_ORG) as usize],
        0xBB,
        "MOV EBX, imm32 at the site"
    );
    let (_, j) = both(|| flat32(&code, FLAT_ORG));
    halted(&j);
    assert_eq!(
        j.state.reg32(RBX),
        0x1234_5678 + 3,
        "the new immediate was used"
    );
    assert_eq!(j.state.reg32(RDX), 3);
}

#[test]
fn a_write_to_data_on_a_code_page_does_not_disturb_the_block() {
    // The stored-to bytes share the block's page but are not code: the block goes on (or
    // restarts) and computes the same result.
    let (code, _) = assemble(32, FLAT_ORG, |a, addrs| {
        let mut data = a.create_label();
        a.mov(eax, 7u32)?;
        a.mov(dword_ptr(at(addrs, 0) as u32), 0x55u32)?;
        a.add(eax, dword_ptr(at(addrs, 0) as u32))?;
        a.mov(ecx, eax)?;
        a.hlt()?;
        a.set_label(&mut data)?;
        a.dd(&[0])?;
        Ok(vec![data])
    });
    let (_, j) = both(|| flat32(&code, FLAT_ORG));
    halted(&j);
    assert_eq!(j.state.reg32(RCX), 0x5C);
}

// ---------------------------------------------------------------------------------------
// (b) A write into the running block that changes an instruction already executed

#[test]
fn loop_patching_an_instruction_it_already_ran_runs_the_new_code_next_iteration() {
    // top: add edx, 1 (native) ; mov byte [top + 2], 3 ; dec ecx ; jnz top
    // The first iteration adds 1, every later one 3.
    let (code, addrs) = assemble(32, FLAT_ORG, |a, addrs| {
        let mut top = a.create_label();
        a.mov(ecx, 10u32)?;
        a.xor(edx, edx)?;
        a.set_label(&mut top)?;
        a.add(edx, 1)?; // 83 C2 ib
        a.mov(byte_ptr(at(addrs, 0) as u32 + 2), 3u32)?;
        a.mov(eax, edx)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(vec![top])
    });
    let top = (addrs[0] - FLAT_ORG) as usize;
    assert_eq!(code[top..top + 3], [0x83, 0xC2, 0x01], "ADD EDX, imm8");
    let (_, j) = both(|| flat32(&code, FLAT_ORG));
    halted(&j);
    assert_eq!(j.state.reg32(RDX), 1 + 9 * 3);
    assert_eq!(j.state.reg32(RAX), 1 + 9 * 3);
    assert_eq!(j.state.reg32(RCX), 0);
}

#[test]
fn patch_from_another_block_mid_loop_replaces_translated_code() {
    // The loop body (native ADDs) is translated and run five times; then a separate block
    // on the same page rewrites its immediate, and the remaining iterations use the new one.
    let code = assemble(32, FLAT_ORG, |a, addrs| {
        let mut top = a.create_label();
        let mut skip = a.create_label();
        a.mov(ecx, 10u32)?;
        a.xor(edx, edx)?;
        a.xor(ebx, ebx)?;
        a.set_label(&mut top)?;
        a.add(edx, 0x100)?; // imm32 form: 81 C2 id
        a.add(ebx, edx)?;
        a.cmp(ecx, 6)?;
        a.jne(skip)?;
        a.mov(dword_ptr(at(addrs, 1) as u32 + 2), 0x7u32)?;
        a.set_label(&mut skip)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(vec![top, top])
    });
    let (code, addrs) = code;
    assert_eq!(code[(addrs[1] - FLAT_ORG) as usize], 0x81, "ADD EDX, imm32");
    let (_, j) = both(|| flat32(&code, FLAT_ORG));
    halted(&j);
    // Iterations with ECX = 10..6 add 0x100, ECX = 5..1 add 7.
    assert_eq!(j.state.reg32(RDX), 5 * 0x100 + 5 * 7);
    let mut want_edx = 0u32;
    let mut want_ebx = 0u32;
    for n in (1..=10).rev() {
        want_edx += if n > 5 { 0x100 } else { 7 };
        want_ebx += want_edx;
    }
    assert_eq!(j.state.reg32(RBX), want_ebx);
}

#[test]
fn code_on_another_page_patching_a_translated_page() {
    // A subroutine two pages away patches the caller's loop body.
    const SUB: u64 = FLAT_ORG + 0x2000;
    let (sub, _) = assemble(32, SUB, |a, _| {
        // Patches the caller's `mov esi, imm32` at the address in EDI.
        a.mov(dword_ptr(edi + 1), 0x4242u32)?;
        a.ret()?;
        Ok(vec![])
    });
    let (code, _) = assemble(32, FLAT_ORG, |a, addrs| {
        let mut top = a.create_label();
        a.mov(ecx, 4u32)?;
        a.xor(ebp, ebp)?;
        a.mov(edi, at(addrs, 1) as u32)?;
        a.set_label(&mut top)?;
        a.mov(esi, 1u32)?;
        a.add(ebp, esi)?;
        a.cmp(ecx, 3)?;
        let mut skip = a.create_label();
        a.jne(skip)?;
        a.call(SUB)?;
        a.set_label(&mut skip)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(vec![top, top])
    });
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        cpu.mem.write_bytes(SUB, &sub);
        cpu
    };
    let (_, j) = both(make);
    halted(&j);
    // ECX = 4, 3 add 1 (the patch comes after the ADD at ECX = 3); ECX = 2, 1 add 0x4242.
    assert_eq!(j.state.reg32(RBP), 2 + 2 * 0x4242);
}

#[test]
fn write_through_a_second_mapping_of_a_code_page_invalidates_it() {
    // Paging maps the code page twice; the store goes through the alias.
    const ALIAS: u32 = 0x30_0000;
    let (code, _) = assemble(32, FLAT_ORG, |a, addrs| {
        a.mov(ecx, 2u32)?;
        a.xor(ebx, ebx)?;
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.mov(eax, 0x11u32)?;
        a.add(ebx, eax)?;
        let alias = (at(addrs, 0) as u32)
            .wrapping_sub(FLAT_ORG as u32)
            .wrapping_add(ALIAS + 1);
        a.mov(dword_ptr(alias), 0x22u32)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(vec![top])
    });
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        with_paging(&mut cpu, &[]);
        // Linear 0x300000 -> physical FLAT_ORG.
        cpu.mem
            .write_u32(PAGE_TABLE + (ALIAS as u64 >> 12) * 4, FLAT_ORG as u32 | 0x3);
        cpu
    };
    let (_, j) = both(make);
    halted(&j);
    assert_eq!(j.state.reg32(RBX), 0x11 + 0x22);
}

// ---------------------------------------------------------------------------------------
// (c) External writes between runs

#[test]
fn external_write_between_runs_invalidates_translated_code() {
    let (code, _) = assemble(32, FLAT_ORG, |a, _| {
        a.mov(eax, 0x1111u32)?;
        a.add(eax, 0x22)?;
        a.mov(ebx, eax)?;
        a.hlt()?;
        Ok(vec![])
    });
    let mut jit = JitEngine::new(16).expect("JIT code cache");
    let mut engines: [(&str, &mut dyn ExecutionEngine); 2] =
        [("interp", &mut Interpreter), ("jit", &mut jit)];
    let mut results = Vec::new();
    for (name, engine) in engines.iter_mut() {
        let mut cpu = flat32(&code, FLAT_ORG);
        run(*engine, &mut cpu);
        halted(&cpu);
        assert_eq!(cpu.state.reg32(RBX), 0x1133, "{name}: first run");
        // A DMA-style write replaces the MOV's immediate (and not through the CPU).
        cpu.mem.write_bytes(FLAT_ORG + 1, &0x5000u32.to_le_bytes());
        cpu.state.rip = FLAT_ORG;
        cpu.state.run_state = RunState::Running;
        run(*engine, &mut cpu);
        halted(&cpu);
        assert_eq!(
            cpu.state.reg32(RBX),
            0x5022,
            "{name}: the new immediate ran"
        );
        results.push(arch(&cpu));
    }
    assert_eq!(results[0], results[1]);
    assert!(
        jit.stats.blocks_translated >= 2,
        "translated again after the write"
    );
}

#[test]
fn external_write_to_an_unrelated_page_keeps_translations() {
    let (code, _) = assemble(32, FLAT_ORG, |a, _| {
        a.mov(eax, 3u32)?;
        a.add(eax, 4)?;
        a.hlt()?;
        Ok(vec![])
    });
    let mut jit = JitEngine::new(16).expect("JIT code cache");
    let mut cpu = flat32(&code, FLAT_ORG);
    run(&mut jit, &mut cpu);
    let translated = jit.stats.blocks_translated;
    cpu.mem.write_bytes(0x20_0000, &[0xAA; 16]);
    cpu.state.rip = FLAT_ORG;
    cpu.state.run_state = RunState::Running;
    run(&mut jit, &mut cpu);
    halted(&cpu);
    assert_eq!(cpu.state.reg32(RAX), 7);
    assert_eq!(
        jit.stats.blocks_translated, translated,
        "the block was reused, not translated again"
    );
}

// ---------------------------------------------------------------------------------------
// (d) Precise faults in the middle of a block

/// Checks an intercepted fault: `vector` at `eip`, with the registers the instructions
/// before it wrote and none after.
fn faulted(cpu: &Cpu, vector: u8, error_code: Option<u32>, eip: u64) {
    assert_eq!(
        cpu.intercepted,
        Some(VectorEvent {
            vector,
            error_code,
            return_eip: eip as u32
        })
    );
    assert_eq!(cpu.state.run_state, RunState::Shutdown);
}

#[test]
fn divide_error_after_native_instructions_is_precise() {
    let (code, addrs) = assemble(16, REAL_ORG, |a, _| {
        let mut fault = a.create_label();
        a.mov(eax, 1u32)?;
        a.mov(ebx, 2u32)?;
        a.add(eax, ebx)?;
        a.xor(edx, edx)?;
        a.mov(ecx, 0u32)?;
        a.sub(ebx, 5)?; // flags: 2 - 5
        a.set_label(&mut fault)?;
        a.div(ecx)?;
        a.mov(esi, 7u32)?;
        a.add(eax, 1)?;
        a.hlt()?;
        Ok(vec![fault])
    });
    let (_, j) = both(|| real_mode(&code));
    faulted(&j, 0, None, addrs[0]);
    assert_eq!(j.state.reg32(RAX), 3);
    assert_eq!(j.state.reg32(RBX), 2u32.wrapping_sub(5));
    assert_eq!(j.state.reg32(RSI), 0, "nothing after the fault ran");
    assert_eq!(j.icount, 6, "six instructions retired before the fault");
    let cf = j.state.eflags() & 1;
    assert_eq!(cf, 1, "flags of SUB EBX, 5 (borrow)");
}

#[test]
fn page_fault_after_native_instructions_is_precise() {
    let (code, addrs) = assemble(32, FLAT_ORG, |a, _| {
        let mut fault = a.create_label();
        a.mov(eax, 0x100u32)?;
        a.mov(ebx, eax)?;
        a.add(ebx, 0x23)?;
        a.mov(ecx, 0xC0DEu32)?;
        a.set_label(&mut fault)?;
        a.mov(ecx, dword_ptr(0x30_0010))?;
        a.mov(edx, 0x99u32)?;
        a.mov(ebx, 0u32)?;
        a.hlt()?;
        Ok(vec![fault])
    });
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        with_paging(&mut cpu, &[0x300]);
        cpu
    };
    let (_, j) = both(make);
    faulted(&j, 14, Some(0), addrs[0]);
    assert_eq!(j.state.cr2, 0x30_0010);
    assert_eq!(j.state.reg32(RBX), 0x123);
    assert_eq!(
        j.state.reg32(RCX),
        0xC0DE,
        "the faulting load wrote nothing"
    );
    assert_eq!(j.state.reg32(RDX), 0, "nothing after the fault ran");
    assert_eq!(j.icount, 4);
}

#[test]
fn page_fault_on_a_store_reports_write_and_keeps_earlier_registers() {
    let (code, addrs) = assemble(32, FLAT_ORG, |a, _| {
        let mut fault = a.create_label();
        a.mov(edi, 0x30_0ABCu32)?;
        a.mov(eax, 0x77u32)?;
        a.or(eax, 0x100)?;
        a.set_label(&mut fault)?;
        a.mov(dword_ptr(edi), eax)?;
        a.mov(eax, 0u32)?;
        a.hlt()?;
        Ok(vec![fault])
    });
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        with_paging(&mut cpu, &[0x300]);
        cpu
    };
    let (_, j) = both(make);
    faulted(&j, 14, Some(0b10), addrs[0]);
    assert_eq!(j.state.cr2, 0x30_0ABC);
    assert_eq!(j.state.reg32(RAX), 0x177);
}

#[test]
fn segment_limit_fault_after_native_instructions_is_precise() {
    let (code, addrs) = assemble(32, FLAT_ORG, |a, _| {
        let mut fault = a.create_label();
        a.mov(esi, 0x5000u32)?;
        a.mov(eax, 0xFFFF_FFFFu32)?;
        a.add(eax, 1)?; // CF = ZF = 1
        a.mov(edx, esi)?;
        a.set_label(&mut fault)?;
        a.mov(eax, dword_ptr(esi))?; // beyond DS's limit
        a.mov(edx, 0u32)?;
        a.hlt()?;
        Ok(vec![fault])
    });
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        let mut data = flat(0x10, false);
        data.attr &= !ATTR_G;
        data.limit = 0xFFF;
        cpu.state.seg[DS] = data;
        cpu
    };
    let (_, j) = both(make);
    faulted(&j, 13, Some(0), addrs[0]);
    assert_eq!(j.state.reg32(RAX), 0);
    assert_eq!(j.state.reg32(RDX), 0x5000);
    assert_eq!(j.state.eflags() & 0x41, 0x41, "CF and ZF from ADD");
}

#[test]
fn fault_in_a_later_iteration_of_a_hot_loop_is_precise() {
    // Walks pages until one is not present: the loop block has run (translated) many times
    // before the fault.
    let (code, addrs) = assemble(32, FLAT_ORG, |a, _| {
        let mut top = a.create_label();
        let mut fault = a.create_label();
        a.mov(esi, 0x20_0000u32)?;
        a.xor(ecx, ecx)?;
        a.xor(ebx, ebx)?;
        a.set_label(&mut top)?;
        a.add(ecx, 1)?;
        a.add(ebx, ecx)?;
        a.set_label(&mut fault)?;
        a.mov(eax, dword_ptr(esi))?;
        a.add(esi, 0x1000)?;
        a.jmp(top)?;
        Ok(vec![fault])
    });
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        with_paging(&mut cpu, &[0x250]);
        cpu
    };
    let (_, j) = both(make);
    faulted(&j, 14, Some(0), addrs[0]);
    assert_eq!(j.state.cr2, 0x25_0000);
    assert_eq!(j.state.reg32(RSI), 0x25_0000);
    assert_eq!(j.state.reg32(RCX), 0x51);
    assert_eq!(j.state.reg32(RBX), 0x51 * 0x52 / 2);
    assert_eq!(j.icount, 3 + 0x50 * 5 + 2);
}

/// NOPs, then four native instructions running up to the end of a page (the block ends
/// there), then `tail` at the start of the next page. Returns the code, the page end and the
/// number of instructions before it.
fn up_to_page_end(tail: &[u8]) -> (Vec<u8>, u64, u64) {
    const END: u64 = FLAT_ORG + 0x1000;
    let (body, _) = assemble(32, 0, |a, _| {
        a.mov(eax, 0x10u32)?;
        a.add(eax, 0x20)?;
        a.mov(ebx, eax)?;
        a.sub(ebx, 1)?;
        Ok(vec![])
    });
    let mut code = vec![0x90; 0x1000 - body.len()]; // NOPs (through the interpreter)
    code.extend_from_slice(&body);
    let insns = (0x1000 - body.len()) as u64 + 4;
    code.extend_from_slice(tail);
    (code, END, insns)
}

#[test]
fn code_fetch_page_fault_after_a_block_ending_in_native_code() {
    // The block ends with native instructions at the page end; the next page is missing.
    let (code, end, insns) = up_to_page_end(&[0xF4]);
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        with_paging(&mut cpu, &[(end >> 12) as u32]);
        cpu
    };
    let (_, j) = both(make);
    faulted(&j, 14, Some(0), end);
    assert_eq!(j.state.cr2, end);
    assert_eq!(j.state.reg32(RBX), 0x2F);
    assert_eq!(j.icount, insns);
}

#[test]
fn instruction_crossing_into_a_missing_page_faults_at_its_start() {
    // NOPs, MOV EAX, imm32 (native), then MOV ECX, imm32 starting two bytes before the
    // missing page.
    let end = FLAT_ORG + 0x1000;
    let mut code = vec![0x90; 0x1000 - 7];
    code.extend_from_slice(&[0xB8, 0x78, 0x56, 0x34, 0x12]);
    code.extend_from_slice(&[0xB9, 0x44, 0x33, 0x22, 0x11, 0xF4]);
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        with_paging(&mut cpu, &[(end >> 12) as u32]);
        cpu
    };
    let (_, j) = both(make);
    faulted(&j, 14, Some(0), end - 2);
    assert_eq!(j.state.cr2, end, "the first byte not fetched");
    assert_eq!(j.state.reg32(RAX), 0x1234_5678);
    assert_eq!(j.state.reg32(RCX), 0);
    assert_eq!(j.icount, 0x1000 - 7 + 1);
}

#[test]
fn code_segment_limit_fault_after_native_instructions() {
    // CS ends right after native code: fetching past it raises #GP(0) at the limit.
    let (code, _) = assemble(32, FLAT_ORG, |a, _| {
        a.mov(eax, 1u32)?;
        a.mov(ecx, 2u32)?;
        a.add(eax, ecx)?;
        a.xor(ecx, 0x77)?;
        a.hlt()?; // beyond the limit
        Ok(vec![])
    });
    let limit = FLAT_ORG + code.len() as u64 - 2; // the last byte before HLT
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        let mut code_seg = flat(0x08, true);
        code_seg.attr &= !ATTR_G;
        code_seg.limit = limit as u32;
        cpu.state.seg[CS] = code_seg;
        cpu
    };
    let (_, j) = both(make);
    faulted(&j, 13, Some(0), limit + 1);
    assert_eq!(j.state.reg32(RAX), 3);
    assert_eq!(j.state.reg32(RCX), 0x75);
    assert_eq!(j.icount, 4);
}

// ---------------------------------------------------------------------------------------
// (e) Code-cache flushes under pressure

/// A long straight line of blocks (`blocks` of 64 instructions, INC through the interpreter
/// mixed with native ADD/MOV), run `passes` times, then HLT. Returns the code.
fn straight_line(org: u64, blocks: u32, passes: u32) -> Vec<u8> {
    let (code, _) = assemble(32, org, |a, _| {
        let mut top = a.create_label();
        a.mov(ebp, passes)?;
        a.xor(eax, eax)?;
        a.xor(ebx, ebx)?;
        a.xor(edx, edx)?;
        a.set_label(&mut top)?;
        for b in 0..blocks {
            for i in 0..64u32 {
                match i % 4 {
                    0 => a.add(ebx, (b % 100) as i32)?,
                    1 => a.mov(edx, ebx)?,
                    _ => a.inc(eax)?,
                }
            }
        }
        a.dec(ebp)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(vec![])
    });
    code
}

#[test]
fn code_cache_flushes_under_pressure_and_keeps_running_correctly() {
    // `JitEngine::new(1)` is the smallest cache (1 MiB): about 1,500 blocks with 32
    // interpreter calls each overflow it more than once per pass.
    const ORG: u64 = 0x10_0000;
    const BLOCKS: u32 = 1500;
    const PASSES: u32 = 3;
    let code = straight_line(ORG, BLOCKS, PASSES);
    assert!((code.len() as u64) < RAM - ORG);
    let mut jit = JitEngine::new(1).expect("JIT code cache");
    let (_, j) = both_with(&mut jit, || flat32(&code, ORG), SLICE);
    halted(&j);
    assert!(jit.code_cache_flushes() > 0, "no flush: {}", jit.stats());
    assert_eq!(j.state.reg32(RAX), PASSES * BLOCKS * 32);
    let per_pass: u32 = (0..BLOCKS).map(|b| (b % 100) * 16).sum();
    assert_eq!(j.state.reg32(RBX), PASSES * per_pass);
    assert_eq!(j.state.reg32(RDX), j.state.reg32(RBX));
    assert!(
        jit.stats.blocks_translated > (PASSES * BLOCKS) as u64,
        "blocks were translated again after flushes: {}",
        jit.stats()
    );
}

#[test]
fn one_engine_survives_flushes_across_many_machines() {
    // A JIT engine (as the differential tests use it) running many short-lived CPUs:
    // every machine's code lands in the same 1 MiB cache, which flushes while other
    // machines' decode caches are long gone.
    let mut jit = JitEngine::new(1).expect("JIT code cache");
    let code = straight_line(FLAT_ORG, 200, 1);
    for round in 0..12 {
        let (_, j) = both_with(&mut jit, || flat32(&code, FLAT_ORG), SLICE);
        halted(&j);
        assert_eq!(j.state.reg32(RAX), 200 * 32, "round {round}");
    }
    assert!(jit.code_cache_flushes() > 0, "no flush: {}", jit.stats());
}

#[test]
fn flush_while_code_patches_itself() {
    // Cache pressure and self-modifying code at once: a loop patches its own immediate
    // every iteration while a long straight line keeps the 1 MiB cache flushing.
    const ORG: u64 = 0x10_0000;
    let filler = straight_line(0x20_0000, 700, 1);
    let (code, _) = assemble(32, ORG, |a, addrs| {
        let mut top = a.create_label();
        a.mov(edi, 8u32)?;
        a.xor(esi, esi)?;
        a.set_label(&mut top)?;
        a.mov(ecx, 1u32)?;
        a.add(esi, ecx)?;
        a.add(dword_ptr(at(addrs, 1) as u32 + 1), 1u32)?;
        a.call(0x20_0000u64)?;
        a.dec(edi)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(vec![top, top])
    });
    // The filler ends in HLT; make it return instead.
    let mut filler = filler;
    let last = filler.len() - 1;
    assert_eq!(filler[last], 0xF4);
    filler[last] = 0xC3;
    let make = || {
        let mut cpu = flat32(&code, ORG);
        cpu.mem.write_bytes(0x20_0000, &filler);
        cpu
    };
    let mut jit = JitEngine::new(1).expect("JIT code cache");
    let (_, j) = both_with(&mut jit, make, SLICE);
    halted(&j);
    assert!(jit.code_cache_flushes() > 0, "no flush: {}", jit.stats());
    // ECX took the values 1..=8.
    assert_eq!(j.state.reg32(RSI), (1..=8).sum::<u32>());
    // The filler clears EAX on entry.
    assert_eq!(j.state.reg32(RAX), 700 * 32);
}

// ---------------------------------------------------------------------------------------
// (f) Long loops

#[test]
fn long_loop_matches_the_interpreter_in_registers_icount_and_budget_stops() {
    const N: u32 = 300_000;
    let (code, _) = assemble(32, FLAT_ORG, |a, _| {
        let mut top = a.create_label();
        a.mov(ecx, N)?;
        a.xor(eax, eax)?;
        a.xor(ebx, ebx)?;
        a.mov(edx, 0x1234_5678u32)?;
        a.set_label(&mut top)?;
        a.add(eax, 3)?; // native
        a.xor(edx, eax)?; // native
        a.sub(ebx, edx)?; // native
        a.inc(edi)?; // interpreter
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(vec![])
    });
    let mut expect = [0u32; 4]; // eax, ebx, edx, edi
    expect[2] = 0x1234_5678;
    for _ in 0..N {
        expect[0] = expect[0].wrapping_add(3);
        expect[2] ^= expect[0];
        expect[1] = expect[1].wrapping_sub(expect[2]);
        expect[3] = expect[3].wrapping_add(1);
    }
    // An odd budget makes stops land in the middle of the loop body.
    let mut jit = JitEngine::new(16).expect("JIT code cache");
    let (_, j) = both_with(&mut jit, || flat32(&code, FLAT_ORG), 9_999);
    halted(&j);
    assert_eq!(
        [
            j.state.reg32(RAX),
            j.state.reg32(RBX),
            j.state.reg32(RDX),
            j.state.reg32(RDI)
        ],
        expect
    );
    assert_eq!(j.icount, 4 + 6 * N as u64 + 1);
    // The loop ran as translated code, its back edge chained rather than dispatched.
    assert!(jit.stats.insns.native > 0, "{}", jit.stats());
    assert!(jit.stats.links >= 1, "{}", jit.stats());
    assert!(jit.stats.blocks_run < N as u64 / 10, "{}", jit.stats());
}

#[test]
fn long_real_mode_loop_matches_the_interpreter() {
    // LOOP with 16-bit CX in real mode, 32-bit native ALU forms through the 0x66 prefix.
    let (code, _) = assemble(16, REAL_ORG, |a, _| {
        let mut outer = a.create_label();
        let mut inner = a.create_label();
        a.mov(ebp, 5u32)?;
        a.xor(eax, eax)?;
        a.set_label(&mut outer)?;
        a.mov(cx, 0xFFFFu32)?;
        a.set_label(&mut inner)?;
        a.add(eax, 0x1001)?;
        a.and(eax, 0x0FFF_FFFF)?;
        a.cmp(eax, ecx)?;
        a.loop_(inner)?;
        a.sub(ebp, 1)?;
        a.jnz(outer)?;
        a.hlt()?;
        Ok(vec![])
    });
    let (_, j) = both(|| real_mode(&code));
    halted(&j);
    let mut want = 0u32;
    for _ in 0..5 * 0xFFFF {
        want = want.wrapping_add(0x1001) & 0x0FFF_FFFF;
    }
    assert_eq!(j.state.reg32(RAX), want);
    assert_eq!(j.state.reg32(RBP), 0);
}

// ---------------------------------------------------------------------------------------
// Segments assumed flat by a translation

#[test]
fn a_block_translated_for_flat_segments_notices_a_segment_that_is_no_longer_flat() {
    // mov eax, [ebx] ; mov [ebx+8], eax ; hlt -- run twice; between the runs DS gets a
    // base of 0x100 (as a guest loading another descriptor would), so the second run's
    // accesses must land 0x100 higher.
    let (code, _) = assemble(32, FLAT_ORG, |a, _| {
        a.mov(eax, dword_ptr(ebx))?;
        a.mov(dword_ptr(ebx + 8), eax)?;
        a.hlt()?;
        Ok(vec![])
    });
    let make = || {
        let mut cpu = flat32(&code, FLAT_ORG);
        cpu.state.set_reg32(RBX, 0x3000);
        cpu.mem.write_u32(0x3000, 0x1111_1111);
        cpu.mem.write_u32(0x3100, 0x2222_2222);
        cpu
    };
    let mut jit = JitEngine::new(16).expect("JIT code cache");
    let mut interp = emu_core::engine::Interpreter;
    let mut runs = Vec::new();
    for engine in [&mut jit as &mut dyn ExecutionEngine, &mut interp] {
        let mut cpu = make();
        run(engine, &mut cpu);
        halted(&cpu);
        cpu.state.seg[DS].base = 0x100;
        cpu.state.rip = FLAT_ORG;
        cpu.state.run_state = emu_core::cpu::state::RunState::Running;
        run(engine, &mut cpu);
        halted(&cpu);
        runs.push((
            cpu.state.reg32(RAX),
            cpu.mem.read_u32(0x3008),
            cpu.mem.read_u32(0x3108),
        ));
    }
    assert_eq!(runs[0], runs[1], "JIT vs interpreter");
    assert_eq!(runs[0], (0x2222_2222, 0x1111_1111, 0x2222_2222));
}
