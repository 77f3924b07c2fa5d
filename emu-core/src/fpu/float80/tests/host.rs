//! The oracle: run an instruction on the host's x87 and capture the result registers and FSW.
//!
//! Every asm block starts with FNINIT + FLDCW, loads its operands, runs the instruction under
//! test, stores FSW with FNSTSW and then the whole register file with FNSAVE (non-waiting, so
//! an unmasked OE/UE stays pending and never traps; FNSAVE then reinitialises the FPU, leaving
//! the x87 stack empty and FCW at its 0x037F default as the Rust ABI expects).

#![allow(unsafe_code)]

use super::super::F80;
use core::arch::asm;

/// Host result: the top two stack registers after the instruction and its status word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    pub st0: F80,
    pub st1: F80,
    pub sw: u16,
}

pub fn bytes(x: F80) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&x.signif.to_le_bytes());
    b[8..].copy_from_slice(&x.sign_exp.to_le_bytes());
    b
}

pub fn from_bytes(b: &[u8]) -> F80 {
    F80 {
        signif: u64::from_le_bytes(b[..8].try_into().unwrap()),
        sign_exp: u16::from_le_bytes(b[8..10].try_into().unwrap()),
    }
}

fn unpack_save(save: &[u8; 108], sw: u16) -> Host {
    Host {
        st0: from_bytes(&save[28..38]),
        st1: from_bytes(&save[38..48]),
        sw,
    }
}

/// Two-operand register instruction with ST(0) = a and ST(1) = b. `cw` holds FCW in bits 0..16
/// and, in bits 16..32, FSW bits (condition codes) to set before the instruction, so that a
/// condition code the instruction leaves alone would show.
macro_rules! host_rr {
    ($(#[$m:meta])* $name:ident, $($insn:literal),+) => {
        $(#[$m])*
        pub fn $name(a: F80, b: F80, cw: u32) -> Host {
            let ina = bytes(a);
            let inb = bytes(b);
            let mut save = [0u8; 108];
            let mut env = [0u8; 28];
            let mut sw: u16 = 0;
            let pre = (cw >> 16) as u16 & 0x4700;
            let cw = cw as u16;
            // SAFETY: the block reads only `cw` (2 bytes) and the two 10-byte operand buffers,
            // writes only `sw` (2 bytes), `env` (28 bytes = FNSTENV image) and `save` (108 bytes
            // = FNSAVE image, 32-bit format), all of which are live locals of the right size. It declares every x87 register
            // clobbered and ends with FNSAVE, which empties the stack and restores FCW 0x037F.
            unsafe {
                asm!(
                    "fninit",
                    "fnstenv [{env}]",
                    "or word ptr [{env} + 4], {pre:x}",
                    "fldenv [{env}]",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{b}]",
                    "fld tbyte ptr [{a}]",
                    $($insn,)+
                    "fnstsw word ptr [{sw}]",
                    "fnsave [{save}]",
                    cw = in(reg) &cw,
                    a = in(reg) ina.as_ptr(),
                    b = in(reg) inb.as_ptr(),
                    sw = in(reg) &mut sw,
                    save = in(reg) save.as_mut_ptr(),
                    env = in(reg) env.as_mut_ptr(),
                    pre = in(reg) pre,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            unpack_save(&save, sw)
        }
    };
}

host_rr!(fadd, "fadd st(0), st(1)");
host_rr!(
    /// `ST(1) ← ST(1) + ST(0)`: the result is in `st1`.
    fadd_rev,
    "fadd st(1), st(0)"
);
host_rr!(fsub, "fsub st(0), st(1)");
host_rr!(fsubr, "fsubr st(0), st(1)");
host_rr!(fmul, "fmul st(0), st(1)");
host_rr!(
    /// `ST(1) ← ST(1) · ST(0)`: the result is in `st1`.
    fmul_rev,
    "fmul st(1), st(0)"
);
host_rr!(fdiv, "fdiv st(0), st(1)");
host_rr!(fdivr, "fdivr st(0), st(1)");
host_rr!(fsqrt, "fsqrt");
host_rr!(fprem, "fprem");
host_rr!(fprem1, "fprem1");
host_rr!(frndint, "frndint");
host_rr!(fscale, "fscale");
host_rr!(fxtract, "fxtract");
host_rr!(fcom, "fcom st(1)");
host_rr!(fucom, "fucom st(1)");
host_rr!(ftst, "ftst");
host_rr!(fxam, "fxam");
host_rr!(f2xm1, "f2xm1");
host_rr!(fyl2x, "fyl2x");
host_rr!(fyl2xp1, "fyl2xp1");
host_rr!(fsin, "fsin");
host_rr!(fcos, "fcos");
host_rr!(fsincos, "fsincos");
host_rr!(fptan, "fptan");
host_rr!(fpatan, "fpatan");
host_rr!(fld1, "fld1");
host_rr!(fldl2t, "fldl2t");
host_rr!(fldl2e, "fldl2e");
host_rr!(fldpi, "fldpi");
host_rr!(fldlg2, "fldlg2");
host_rr!(fldln2, "fldln2");
host_rr!(fldz, "fldz");

/// Load from memory: `FLD`/`FILD`/`FBLD` of up to 10 bytes at `src`.
macro_rules! host_load {
    ($name:ident, $insn:literal, $n:literal) => {
        pub fn $name(src: [u8; $n], cw: u16) -> Host {
            let mut save = [0u8; 108];
            let mut sw: u16 = 0;
            // SAFETY: reads `cw` and the `$n`-byte `src` buffer (the instruction's operand size),
            // writes `sw` and the 108-byte FNSAVE image; all x87 registers are declared
            // clobbered and FNSAVE leaves the stack empty with FCW 0x037F.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    $insn,
                    "fnstsw word ptr [{sw}]",
                    "fnsave [{save}]",
                    cw = in(reg) &cw,
                    src = in(reg) src.as_ptr(),
                    sw = in(reg) &mut sw,
                    save = in(reg) save.as_mut_ptr(),
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            unpack_save(&save, sw)
        }
    };
}

host_load!(fld_m32, "fld dword ptr [{src}]", 4);
host_load!(fld_m64, "fld qword ptr [{src}]", 8);
host_load!(fild_m16, "fild word ptr [{src}]", 2);
host_load!(fild_m32, "fild dword ptr [{src}]", 4);
host_load!(fild_m64, "fild qword ptr [{src}]", 8);
host_load!(fbld, "fbld tbyte ptr [{src}]", 10);

/// Store to memory: `FSTP`/`FISTP`/`FISTTP`/`FBSTP` of ST(0) = x into an `$n`-byte buffer
/// (pre-filled with 0x5A so an unwritten destination shows).
macro_rules! host_store {
    ($name:ident, $insn:literal, $n:literal) => {
        pub fn $name(x: F80, cw: u16) -> ([u8; $n], u16) {
            let inx = bytes(x);
            let mut out = [0x5Au8; $n];
            let mut save = [0u8; 108];
            let mut sw: u16 = 0;
            // SAFETY: reads `cw` and the 10-byte operand, writes the `$n`-byte `out` buffer
            // (the instruction's operand size), `sw` and the 108-byte FNSAVE image; all x87
            // registers are declared clobbered and FNSAVE leaves the stack empty, FCW 0x037F.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{x}]",
                    $insn,
                    "fnstsw word ptr [{sw}]",
                    "fnsave [{save}]",
                    cw = in(reg) &cw,
                    x = in(reg) inx.as_ptr(),
                    dst = in(reg) out.as_mut_ptr(),
                    sw = in(reg) &mut sw,
                    save = in(reg) save.as_mut_ptr(),
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            (out, sw)
        }
    };
}

host_store!(fstp_m32, "fstp dword ptr [{dst}]", 4);
host_store!(fstp_m64, "fstp qword ptr [{dst}]", 8);
host_store!(fistp_m16, "fistp word ptr [{dst}]", 2);
host_store!(fistp_m32, "fistp dword ptr [{dst}]", 4);
host_store!(fistp_m64, "fistp qword ptr [{dst}]", 8);
host_store!(fisttp_m16, "fisttp word ptr [{dst}]", 2);
host_store!(fisttp_m32, "fisttp dword ptr [{dst}]", 4);
host_store!(fisttp_m64, "fisttp qword ptr [{dst}]", 8);
host_store!(fbstp, "fbstp tbyte ptr [{dst}]", 10);

/// FCOMI/FUCOMI ST(0) = a with ST(1) = b: returns (the EFLAGS bits ZF|PF|CF, FSW).
pub fn fcomi(a: F80, b: F80, unordered: bool) -> (u32, u16) {
    let ina = bytes(a);
    let inb = bytes(b);
    let mut save = [0u8; 108];
    let mut sw: u16 = 0;
    let mut fl: u64;
    // SAFETY: reads the two 10-byte operand buffers, writes `sw` and the 108-byte FNSAVE image
    // (live locals of the right sizes); PUSHFQ/POP balance the stack inside the block. All x87
    // registers are declared clobbered; FNSAVE leaves the stack empty and FCW at 0x037F.
    unsafe {
        if unordered {
            asm!(
                "fninit",
                "fld tbyte ptr [{b}]",
                "fld tbyte ptr [{a}]",
                "fucomi st, st(1)",
                "pushfq",
                "pop {fl}",
                "fnstsw word ptr [{sw}]",
                "fnsave [{save}]",
                a = in(reg) ina.as_ptr(),
                b = in(reg) inb.as_ptr(),
                sw = in(reg) &mut sw,
                save = in(reg) save.as_mut_ptr(),
                fl = out(reg) fl,
                out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
            );
        } else {
            asm!(
                "fninit",
                "fld tbyte ptr [{b}]",
                "fld tbyte ptr [{a}]",
                "fcomi st, st(1)",
                "pushfq",
                "pop {fl}",
                "fnstsw word ptr [{sw}]",
                "fnsave [{save}]",
                a = in(reg) ina.as_ptr(),
                b = in(reg) inb.as_ptr(),
                sw = in(reg) &mut sw,
                save = in(reg) save.as_mut_ptr(),
                fl = out(reg) fl,
                out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
            );
        }
    }
    ((fl & 0x45) as u32, sw)
}
