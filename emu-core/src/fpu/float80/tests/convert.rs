//! Conversions against the host: FLD/FST m32/m64, FILD/FIST/FISTTP, FBLD/FBSTP.

use super::super::{
    from_bcd, from_f32_bits, from_f64_bits, from_i16, from_i32, from_i64, to_bcd, to_f32_bits,
    to_f64_bits, to_i16, to_i32, to_i64, F80Ext, FpFlags, IntRounding, F80,
};
use super::gen::{env_cw, finite, operand, sig_pattern, Rng};
use super::host;
use super::{fx, run, SW_FLAGS_C1};

fn sw_of(f: FpFlags) -> u16 {
    f.exceptions() | ((f.c1() as u16) << 9)
}

/// Bit patterns of an IEEE format biased to zeros, denormals, extremes, infinities and NaNs.
fn ieee_bits(r: &mut Rng, ew: u32, fw: u32) -> u64 {
    let emax = (1u64 << ew) - 1;
    let frac = sig_pattern(r) >> (64 - fw);
    let e = match r.below(8) {
        0 => 0,
        1 => emax,
        2 => 1,
        3 => emax - 1,
        _ => r.below(emax + 1),
    };
    let f = if r.below(8) == 0 { 0 } else { frac };
    ((r.bool() as u64) << (ew + fw)) | (e << fw) | f
}

#[test]
fn fld_m32_m64_match_host() {
    run("fld m32", 40, 10000, |r| {
        let bits = ieee_bits(r, 8, 23) as u32;
        let h = host::fld_m32(bits.to_le_bytes(), 0x037F);
        let mut f = FpFlags::default();
        let got = from_f32_bits(bits, &mut f);
        (got != h.st0 || sw_of(f) != h.sw & SW_FLAGS_C1).then(|| {
            format!(
                "fld m32 {bits:08x}: got {} {:04x}, host {} {:04x}",
                fx(got),
                sw_of(f),
                fx(h.st0),
                h.sw
            )
        })
    });
    run("fld m64", 41, 10000, |r| {
        let bits = ieee_bits(r, 11, 52);
        let h = host::fld_m64(bits.to_le_bytes(), 0x037F);
        let mut f = FpFlags::default();
        let got = from_f64_bits(bits, &mut f);
        (got != h.st0 || sw_of(f) != h.sw & SW_FLAGS_C1).then(|| {
            format!(
                "fld m64 {bits:016x}: got {} {:04x}, host {} {:04x}",
                fx(got),
                sw_of(f),
                fx(h.st0),
                h.sw
            )
        })
    });
}

/// Operands for stores: anything, plus values around the target format's range.
fn store_operand(r: &mut Rng, bias: i64, p: i64) -> F80 {
    match r.below(3) {
        0 => operand(r),
        1 => {
            let e = 16383 - bias + r.range(-p - 3, 3);
            F80::from_parts(
                r.bool(),
                e.clamp(0, 0x7FFE) as u16,
                finite(r).signif | 1 << 63,
            )
        }
        _ => {
            let e = 16383 + bias + r.range(-3, 2);
            F80::from_parts(r.bool(), e as u16, finite(r).signif | 1 << 63)
        }
    }
}

#[test]
fn fst_m32_m64_match_host() {
    run("fst m32", 42, 20000, |r| {
        let x = store_operand(r, 127, 24);
        let (env, cw) = env_cw(r, true);
        let (mem, sw) = host::fstp_m32(x, cw as u16);
        let mut f = FpFlags::default();
        let got = to_f32_bits(x, env, &mut f);
        let trapped = f.0 & (FpFlags::OE | FpFlags::UE) & !env.masks != 0;
        let want = u32::from_le_bytes(mem);
        let bad = sw_of(f) != sw & SW_FLAGS_C1
            || if trapped {
                want != 0x5A5A_5A5A
            } else {
                got != want
            };
        bad.then(|| {
            format!(
                "fst m32 {} cw={cw:04x}: got {got:08x} {:04x}, host {want:08x} {:04x}",
                fx(x),
                sw_of(f),
                sw & SW_FLAGS_C1
            )
        })
    });
    run("fst m64", 43, 20000, |r| {
        let x = store_operand(r, 1023, 53);
        let (env, cw) = env_cw(r, true);
        let (mem, sw) = host::fstp_m64(x, cw as u16);
        let mut f = FpFlags::default();
        let got = to_f64_bits(x, env, &mut f);
        let trapped = f.0 & (FpFlags::OE | FpFlags::UE) & !env.masks != 0;
        let want = u64::from_le_bytes(mem);
        let bad = sw_of(f) != sw & SW_FLAGS_C1
            || if trapped {
                want != 0x5A5A_5A5A_5A5A_5A5A
            } else {
                got != want
            };
        bad.then(|| {
            format!(
                "fst m64 {} cw={cw:04x}: got {got:016x} {:04x}, host {want:016x} {:04x}",
                fx(x),
                sw_of(f),
                sw & SW_FLAGS_C1
            )
        })
    });
}

#[test]
fn fild_matches_host() {
    run("fild", 44, 6000, |r| {
        let v = match r.below(4) {
            0 => r.next() as i64,
            1 => (r.next() as i64) >> r.below(64),
            2 => [0, -1, 1, i64::MIN, i64::MAX][r.below(5) as usize],
            _ => r.range(-70000, 70000),
        };
        let (h16, h32, h64) = (
            host::fild_m16((v as i16).to_le_bytes(), 0x037F),
            host::fild_m32((v as i32).to_le_bytes(), 0x037F),
            host::fild_m64(v.to_le_bytes(), 0x037F),
        );
        let (g16, g32, g64) = (from_i16(v as i16), from_i32(v as i32), from_i64(v));
        (g16 != h16.st0
            || g32 != h32.st0
            || g64 != h64.st0
            || (h16.sw | h32.sw | h64.sw) & 0x3F != 0)
            .then(|| format!("fild {v}: got {} {} {}", fx(g16), fx(g32), fx(g64)))
    });
}

/// Operands for integer stores: anything, plus values near integers and the type limits.
fn int_operand(r: &mut Rng) -> F80 {
    match r.below(4) {
        0 => operand(r),
        1 => F80::from_parts(
            r.bool(),
            (16383 + r.range(-3, 66)) as u16,
            sig_pattern(r) | 1 << 63,
        ),
        2 => {
            // Around ±2^15, ±2^31, ±2^63.
            let k = [15i64, 31, 63][r.below(3) as usize];
            let sig = if r.bool() {
                (1 << 63) | (r.below(8) << r.below(50))
            } else {
                u64::MAX - (r.below(8) << r.below(50))
            };
            F80::from_parts(r.bool(), (16383 + k + r.range(-1, 0)) as u16, sig)
        }
        _ => {
            // Halfway cases.
            let e = r.range(0, 62);
            let int = (r.next() >> (63 - e)) | (1 << e);
            let sig = (int << (63 - e)) | if e < 63 { 1 << (62 - e) } else { 0 };
            F80::from_parts(r.bool(), (16383 + e) as u16, sig)
        }
    }
}

#[test]
fn fist_fisttp_match_host() {
    run("fist", 45, 20000, |r| {
        let x = int_operand(r);
        let (env, cw) = env_cw(r, false);
        let cw = cw as u16;
        let mut out = Vec::new();
        for (w, mode) in [
            (16, IntRounding::Control),
            (32, IntRounding::Control),
            (64, IntRounding::Control),
            (16, IntRounding::Truncate),
            (32, IntRounding::Truncate),
            (64, IntRounding::Truncate),
        ] {
            let mut f = FpFlags::default();
            let (got, (want, sw)) = match (w, mode) {
                (16, IntRounding::Control) => (to_i16(x, mode, env, &mut f) as i64, {
                    let (m, s) = host::fistp_m16(x, cw);
                    (i16::from_le_bytes(m) as i64, s)
                }),
                (32, IntRounding::Control) => (to_i32(x, mode, env, &mut f) as i64, {
                    let (m, s) = host::fistp_m32(x, cw);
                    (i32::from_le_bytes(m) as i64, s)
                }),
                (64, IntRounding::Control) => (to_i64(x, mode, env, &mut f), {
                    let (m, s) = host::fistp_m64(x, cw);
                    (i64::from_le_bytes(m), s)
                }),
                (16, _) => (to_i16(x, mode, env, &mut f) as i64, {
                    let (m, s) = host::fisttp_m16(x, cw);
                    (i16::from_le_bytes(m) as i64, s)
                }),
                (32, _) => (to_i32(x, mode, env, &mut f) as i64, {
                    let (m, s) = host::fisttp_m32(x, cw);
                    (i32::from_le_bytes(m) as i64, s)
                }),
                _ => (to_i64(x, mode, env, &mut f), {
                    let (m, s) = host::fisttp_m64(x, cw);
                    (i64::from_le_bytes(m), s)
                }),
            };
            if got != want || sw_of(f) != sw & SW_FLAGS_C1 {
                out.push(format!(
                    "{mode:?}{w} {} cw={cw:04x}: got {got} {:04x}, host {want} {:04x}",
                    fx(x),
                    sw_of(f),
                    sw & SW_FLAGS_C1
                ));
            }
        }
        (!out.is_empty()).then(|| out.join("; "))
    });
}

#[test]
fn fbld_fbstp_match_host() {
    run("fbld", 46, 5000, |r| {
        let mut b = [0u8; 10];
        for byte in b.iter_mut().take(9) {
            *byte = if r.below(16) == 0 {
                r.next() as u8
            } else {
                (r.below(10) as u8) << 4 | r.below(10) as u8
            };
        }
        b[9] = if r.bool() { 0x80 } else { 0 }
            | if r.below(8) == 0 {
                r.next() as u8 & 0x7F
            } else {
                0
            };
        let h = host::fbld(b, 0x037F);
        let got = from_bcd(b);
        (got != h.st0 || h.sw & 0x3F != 0).then(|| {
            format!(
                "fbld {b:02x?}: got {}, host {} {:04x}",
                fx(got),
                fx(h.st0),
                h.sw
            )
        })
    });
    run("fbstp", 47, 20000, |r| {
        let x = if r.bool() {
            int_operand(r)
        } else {
            F80::from_parts(
                r.bool(),
                (16383 + r.range(50, 60)) as u16,
                sig_pattern(r) | 1 << 63,
            )
        };
        let (env, cw) = env_cw(r, false);
        let (want, sw) = host::fbstp(x, cw as u16);
        let mut f = FpFlags::default();
        let got = to_bcd(x, env, &mut f);
        (got != want || sw_of(f) != sw & SW_FLAGS_C1).then(|| {
            format!(
                "fbstp {} cw={cw:04x}: got {got:02x?} {:04x}, host {want:02x?} {:04x}",
                fx(x),
                sw_of(f),
                sw & SW_FLAGS_C1
            )
        })
    });
}
