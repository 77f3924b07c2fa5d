//! The built-in demo ROM that `ringside` runs with no arguments: a tour of the x86 privilege
//! machinery in a few hundred bytes. It starts at the reset vector in real mode, enters
//! protected mode, turns on paging with a 4 MiB page, drops to ring 3 with IRET, makes system
//! calls through an interrupt gate, and reports each step on the debug console (port 0xE9).
//!
//! Assembled at run time with iced-x86's code assembler, so no external assembler is needed.

use iced_x86::code_asm::*;

/// ROM layout (offsets in the 64 KiB image, mapped at physical 0xF0000).
const ROM_BASE: u32 = 0xF0000;
const CODE16: u32 = 0x0000;
const GDTR: u32 = 0x1000;
const GDT: u32 = 0x1010;
const CODE32: u32 = 0x2000;
const STRINGS: u32 = 0x3000;

/// RAM used by the demo.
const PAGE_DIR: u32 = 0x10000;
const IDT: u32 = 0x11000;
const TSS: u32 = 0x12000;
const KERNEL_STACK: u32 = 0x80000;
const USER_STACK: u32 = 0x70000;

const KERNEL_CS: u32 = 0x08;
const KERNEL_DS: u32 = 0x10;
const USER_CS: u32 = 0x18 | 3;
const USER_DS: u32 = 0x20 | 3;
const TSS_SEL: u32 = 0x28;

const MESSAGES: [&str; 6] = [
    "Ringside demo: reset vector reached, running in real mode\n",
    "Ringside demo: protected mode, 32-bit flat segments\n",
    "Ringside demo: paging on (4 MiB page, CR4.PSE)\n",
    "Ringside demo: hello from ring 3, via INT 0x80 (CPL 3 -> 0 through an interrupt gate)\n",
    "Ringside demo: ring 3 asked to stop; halting in ring 0. Goodbye!\n",
    "",
];

fn message_offsets() -> (Vec<u8>, Vec<u32>) {
    let mut blob = Vec::new();
    let mut offs = Vec::new();
    for m in MESSAGES {
        offs.push(STRINGS + blob.len() as u32);
        blob.extend_from_slice(m.as_bytes());
        blob.push(0);
    }
    (blob, offs)
}

fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    (limit as u64 & 0xFFFF)
        | ((base as u64 & 0xFF_FFFF) << 16)
        | ((access as u64) << 40)
        | (((limit as u64 >> 16) & 0xF) << 48)
        | ((flags as u64 & 0xF) << 52)
        | (((base as u64 >> 24) & 0xFF) << 56)
}

fn real_mode_part(msgs: &[u32]) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(16)?;
    let mut print = a.create_label();
    let mut next = a.create_label();
    let mut done = a.create_label();
    a.cli()?;
    a.push(cs)?;
    a.pop(ds)?;
    a.mov(si, msgs[0] as u16 as u32)?;
    a.call(print)?;
    a.lgdt(ptr(GDTR))?;
    a.mov(eax, cr0)?;
    a.or(eax, 1)?;
    a.mov(cr0, eax)?;
    // jmp dword KERNEL_CS:code32 (66 EA imm32 imm16)
    a.db(&[0x66, 0xEA])?;
    a.db(&(ROM_BASE + CODE32).to_le_bytes())?;
    a.db(&(KERNEL_CS as u16).to_le_bytes())?;
    // print: DS:SI -> port 0xE9 until NUL.
    a.set_label(&mut print)?;
    a.nop()?;
    a.set_label(&mut next)?;
    a.lodsb()?;
    a.test(al, al)?;
    a.jz(done)?;
    a.out(0xE9, al)?;
    a.jmp(next)?;
    a.set_label(&mut done)?;
    a.ret()?;
    a.assemble((ROM_BASE + CODE16) as u64)
}

const USER32: u32 = 0x2400;
const SYSCALL32: u32 = 0x2500;
const PRINT32: u32 = 0x2600;

fn lin(off: u32) -> u32 {
    ROM_BASE + off
}

/// Kernel entry: segments, paging, IDT gate, TSS, then IRET to ring 3.
fn kernel_part(msgs: &[u32]) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    a.mov(ax, KERNEL_DS)?;
    a.mov(ds, ax)?;
    a.mov(es, ax)?;
    a.mov(ss, ax)?;
    a.mov(esp, KERNEL_STACK)?;
    a.mov(esi, lin(msgs[1]))?;
    a.call(lin(PRINT32) as u64)?;
    // Identity-map the first 4 MiB with one user-accessible, writable 4 MiB page.
    a.mov(dword_ptr(PAGE_DIR), 0x87u32)?;
    a.mov(eax, PAGE_DIR)?;
    a.mov(cr3, eax)?;
    a.mov(eax, cr4)?;
    a.or(eax, 0x10)?;
    a.mov(cr4, eax)?;
    a.mov(eax, cr0)?;
    a.or(eax, 0x8000_0000u32 as i32)?;
    a.mov(cr0, eax)?;
    a.mov(esi, lin(msgs[2]))?;
    a.call(lin(PRINT32) as u64)?;
    // IDT entry 0x80: 32-bit interrupt gate, DPL 3.
    let entry = lin(SYSCALL32);
    a.mov(
        dword_ptr(IDT + 0x80 * 8),
        (KERNEL_CS << 16) | (entry & 0xFFFF),
    )?;
    a.mov(
        dword_ptr(IDT + 0x80 * 8 + 4),
        (entry & 0xFFFF_0000) | 0xEE00,
    )?;
    a.lidt(ptr(lin(GDTR) + 8))?;
    // TSS: the ring-0 stack for the privilege change.
    a.mov(dword_ptr(TSS + 4), KERNEL_STACK)?;
    a.mov(dword_ptr(TSS + 8), KERNEL_DS)?;
    a.mov(ax, TSS_SEL)?;
    a.ltr(ax)?;
    // IRET to ring 3.
    a.push(USER_DS)?;
    a.push(USER_STACK)?;
    a.push(0x2)?;
    a.push(USER_CS)?;
    a.push(lin(USER32))?;
    a.iretd()?;
    a.assemble(lin(CODE32) as u64)
}

/// Ring 3: print through the kernel, then ask it to stop.
fn user_part(msgs: &[u32]) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    // IRET to ring 3 nulled DS and ES (their DPL 0 < CPL 3): load ring-3 data segments.
    a.mov(ax, USER_DS)?;
    a.mov(ds, ax)?;
    a.mov(es, ax)?;
    a.xor(eax, eax)?;
    a.mov(esi, lin(msgs[3]))?;
    a.int(0x80)?;
    a.mov(eax, 1)?;
    a.int(0x80)?;
    a.jmp(lin(USER32 + 8) as u64)?;
    a.assemble(lin(USER32) as u64)
}

/// The system call handler: EAX 0 prints the string at ESI, EAX 1 stops the machine.
fn syscall_part(msgs: &[u32]) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut exit = a.create_label();
    let mut halt = a.create_label();
    a.cmp(eax, 1)?;
    a.je(exit)?;
    a.call(lin(PRINT32) as u64)?;
    a.iretd()?;
    a.set_label(&mut exit)?;
    a.mov(esi, lin(msgs[4]))?;
    a.call(lin(PRINT32) as u64)?;
    a.set_label(&mut halt)?;
    a.cli()?;
    a.hlt()?;
    a.jmp(halt)?;
    a.assemble(lin(SYSCALL32) as u64)
}

/// print: DS:ESI -> port 0xE9 until NUL.
fn print_part() -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut next = a.create_label();
    let mut done = a.create_label();
    a.set_label(&mut next)?;
    a.lodsb()?;
    a.test(al, al)?;
    a.jz(done)?;
    a.out(0xE9, al)?;
    a.jmp(next)?;
    a.set_label(&mut done)?;
    a.ret()?;
    a.assemble(lin(PRINT32) as u64)
}

/// The 64 KiB demo ROM image.
pub fn demo_rom() -> Vec<u8> {
    let mut rom = vec![0xF4u8; 0x10000];
    let (strings, msgs) = message_offsets();
    let put = |rom: &mut Vec<u8>, at: u32, bytes: &[u8]| {
        rom[at as usize..at as usize + bytes.len()].copy_from_slice(bytes)
    };
    let code16 = real_mode_part(&msgs).expect("demo ROM real-mode part assembles");
    put(&mut rom, CODE16, &code16);
    let parts = [
        (CODE32, kernel_part(&msgs)),
        (USER32, user_part(&msgs)),
        (SYSCALL32, syscall_part(&msgs)),
        (PRINT32, print_part()),
    ];
    for (at, code) in parts {
        put(&mut rom, at, &code.expect("demo ROM part assembles"));
    }
    put(&mut rom, STRINGS, &strings);
    let gdt = [
        0,
        descriptor(0, 0xFFFFF, 0x9A, 0xC),
        descriptor(0, 0xFFFFF, 0x92, 0xC),
        descriptor(0, 0xFFFFF, 0xFA, 0xC),
        descriptor(0, 0xFFFFF, 0xF2, 0xC),
        descriptor(TSS, 0x67, 0x89, 0x0),
    ];
    let gdt_bytes: Vec<u8> = gdt.iter().flat_map(|d| d.to_le_bytes()).collect();
    // GDTR (limit, base) followed by IDTR (limit, base) for LIDT.
    put(
        &mut rom,
        GDTR,
        &((gdt_bytes.len() - 1) as u16).to_le_bytes(),
    );
    put(&mut rom, GDTR + 2, &(ROM_BASE + GDT).to_le_bytes());
    put(&mut rom, GDTR + 8, &(0x7FFu16).to_le_bytes());
    put(&mut rom, GDTR + 10, &IDT.to_le_bytes());
    put(&mut rom, GDT, &gdt_bytes);
    // Reset vector: jmp far F000:CODE16.
    put(
        &mut rom,
        0xFFF0,
        &[0xEA, CODE16 as u8, (CODE16 >> 8) as u8, 0x00, 0xF0],
    );
    rom
}

#[cfg(test)]
mod tests {
    #[test]
    fn rom_is_64k_with_reset_jump() {
        let rom = super::demo_rom();
        assert_eq!(rom.len(), 65536);
        assert_eq!(rom[0xFFF0], 0xEA);
    }
}
