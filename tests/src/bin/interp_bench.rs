//! Benchmark (not a test): the interpreter's guest instructions per second on a CPU-bound
//! integer loop, a checksum/copy routine and an LZ77 decompressor, in 32-bit protected mode.
//!
//!     cargo run --release -p ringside-tests --bin interp_bench

use std::sync::Arc;
use std::time::Instant;

use emu_core::bus::PortBus;
use emu_core::control::MachineControl;
use emu_core::cpu::segment::SegmentCache;
use emu_core::cpu::state::{CR0_PE, CS, DS, ES, SS};
use emu_core::cpu::Cpu;
use emu_core::memory::PhysicalMemory;
use iced_x86::code_asm::*;

const CODE: u64 = 0x10_0000;

fn flat(code: bool) -> SegmentCache {
    let access: u64 = if code { 0x9B } else { 0x93 };
    SegmentCache::from_descriptor(
        if code { 8 } else { 16 },
        0xFFFF | (access << 40) | (0xF << 48) | (0xC << 52),
    )
}

fn run(name: &str, code: Vec<u8>, data: &[(u64, &[u8])]) {
    let mem = PhysicalMemory::new(64 << 20, &[0u8; 4096]).unwrap();
    let mut cpu = Cpu::new(mem, PortBus::default(), Arc::new(MachineControl::new()));
    cpu.mem.write_bytes(CODE, &code);
    for (at, bytes) in data {
        cpu.mem.write_bytes(*at, bytes);
    }
    cpu.state.cr0 |= CR0_PE;
    cpu.state.seg[CS] = flat(true);
    for s in [DS, ES, SS] {
        cpu.state.seg[s] = flat(false);
    }
    cpu.state.set_reg32(4, 0x8_0000);
    cpu.state.rip = CODE;
    let start = Instant::now();
    cpu.run(u64::MAX);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<40} {:>12} instructions {:>8.3} s {:>8.1} MIPS",
        cpu.icount,
        secs,
        cpu.icount as f64 / secs / 1e6
    );
}

fn simple_loop() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut l = a.create_label();
    a.mov(ecx, 100_000_000u32)?;
    a.xor(eax, eax)?;
    a.set_label(&mut l)?;
    a.add(eax, ecx)?;
    a.dec(ecx)?;
    a.jnz(l)?;
    a.cli()?;
    a.hlt()?;
    a.assemble(CODE)
}

/// A "real code" mix: Adler-32 over a 64 KiB buffer, then a byte copy, repeated.
fn checksum_mix() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut outer = a.create_label();
    let mut inner = a.create_label();
    let mut copy = a.create_label();
    a.mov(ebp, 200u32)?;
    a.set_label(&mut outer)?;
    a.mov(esi, 0x20_0000u32)?;
    a.mov(ecx, 0x1_0000u32)?;
    a.mov(ebx, 1u32)?;
    a.xor(edx, edx)?;
    a.set_label(&mut inner)?;
    a.movzx(eax, byte_ptr(esi))?;
    a.add(ebx, eax)?;
    a.cmp(ebx, 65521)?;
    a.cmovae(eax, ebx)?;
    a.add(edx, ebx)?;
    a.inc(esi)?;
    a.dec(ecx)?;
    a.jnz(inner)?;
    a.mov(dword_ptr(esi), edx)?;
    a.mov(esi, 0x20_0000u32)?;
    a.mov(edi, 0x30_0000u32)?;
    a.mov(ecx, 0x1000u32)?;
    a.set_label(&mut copy)?;
    a.mov(eax, dword_ptr(esi))?;
    a.mov(dword_ptr(edi), eax)?;
    a.add(esi, 4)?;
    a.add(edi, 4)?;
    a.dec(ecx)?;
    a.jnz(copy)?;
    a.dec(ebp)?;
    a.jnz(outer)?;
    a.cli()?;
    a.hlt()?;
    a.assemble(CODE)
}

/// Input of the decompression workload: an LZ77 stream. Token t < 0x80: t + 1 literal bytes
/// follow; t >= 0x80: copy (t & 0x7F) + 3 bytes from a 16-bit little-endian distance back.
fn lz_stream(out_len: usize) -> Vec<u8> {
    let mut seed = 0x1234_5678u32;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut s = Vec::new();
    let mut produced = 0usize;
    while produced < out_len {
        if produced < 256 || rnd() % 3 == 0 {
            let n = (rnd() % 16 + 1) as usize;
            s.push((n - 1) as u8);
            for _ in 0..n {
                s.push(b'a' + (rnd() % 26) as u8);
            }
            produced += n;
        } else {
            let len = (rnd() % 60 + 3) as usize;
            let dist = (rnd() as usize % produced.min(4096)) + 1;
            s.push(0x80 | (len - 3) as u8);
            s.extend_from_slice(&(dist as u16).to_le_bytes());
            produced += len;
        }
    }
    s
}

const LZ_IN: u32 = 0x20_0000;
const LZ_OUT: u32 = 0x40_0000;

/// Decompresses the LZ77 stream at LZ_IN into LZ_OUT, 100 times: byte loads and stores,
/// compares, branches, REP MOVSB for literals and an overlapping byte copy for matches.
fn lz_decompress(stream_len: u32) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut again = a.create_label();
    let mut token = a.create_label();
    let mut matched = a.create_label();
    let mut copy = a.create_label();
    let mut done = a.create_label();
    a.mov(ebp, 100u32)?;
    a.set_label(&mut again)?;
    a.cld()?;
    a.mov(esi, LZ_IN)?;
    a.mov(edi, LZ_OUT)?;
    a.mov(edx, LZ_IN + stream_len)?;
    a.set_label(&mut token)?;
    a.cmp(esi, edx)?;
    a.jae(done)?;
    a.movzx(ecx, byte_ptr(esi))?;
    a.inc(esi)?;
    a.test(cl, 0x80)?;
    a.jnz(matched)?;
    a.inc(ecx)?;
    a.rep().movsb()?;
    a.jmp(token)?;
    a.set_label(&mut matched)?;
    a.and(ecx, 0x7F)?;
    a.add(ecx, 3)?;
    a.movzx(eax, word_ptr(esi))?;
    a.add(esi, 2)?;
    a.mov(ebx, edi)?;
    a.sub(ebx, eax)?;
    a.set_label(&mut copy)?;
    a.mov(al, byte_ptr(ebx))?;
    a.mov(byte_ptr(edi), al)?;
    a.inc(ebx)?;
    a.inc(edi)?;
    a.dec(ecx)?;
    a.jnz(copy)?;
    a.jmp(token)?;
    a.set_label(&mut done)?;
    a.dec(ebp)?;
    a.jnz(again)?;
    a.cli()?;
    a.hlt()?;
    a.assemble(CODE)
}

fn main() {
    run("integer loop (add/dec/jnz)", simple_loop().unwrap(), &[]);
    run("checksum + copy mix", checksum_mix().unwrap(), &[]);
    let stream = lz_stream(256 * 1024);
    run(
        "LZ77 decompression (256 KiB x 100)",
        lz_decompress(stream.len() as u32).unwrap(),
        &[(LZ_IN as u64, &stream)],
    );
}
