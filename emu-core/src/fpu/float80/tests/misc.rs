//! FPREM/FPREM1/FRNDINT/FSCALE/FXTRACT/compares against the host.

use super::super::{
    compare, compare_unordered, examine, rem, rem_ieee, round_to_int, scale, test, xtract,
    CompareResult, F80Ext, FpFlags, RemResult, F80,
};
use super::arith::{any_pair, compare_binary, compare_binary_with};
use super::gen::{env_cw, finite, operand, related, Rng};
use super::host;
use super::{fx, run, SW_FLAGS_C1, SW_FLAGS_CC};

/// Dividend/divisor pairs with every exponent distance from "smaller" to "far partial".
fn rem_pair(r: &mut Rng) -> (F80, F80) {
    if r.below(4) == 0 {
        return any_pair(r);
    }
    let b = finite(r);
    let d = match r.below(4) {
        0 => r.range(-3, 3),
        1 => r.range(-3, 70),
        2 => r.range(60, 300),
        _ => r.range(-20, 20000),
    };
    let a = F80::from_parts(
        r.bool(),
        (b.exp() as i64 + d).clamp(0, 0x7FFE) as u16,
        finite(r).signif | if r.below(8) == 0 { 0 } else { 1 << 63 },
    );
    if classify_ok(a) {
        (a, b)
    } else {
        (finite(r), b)
    }
}

fn classify_ok(a: F80) -> bool {
    a.exp() == 0 || a.signif >> 63 != 0
}

fn check_rem(r: &mut Rng, ieee: bool) -> Option<String> {
    let (a, b) = rem_pair(r);
    let (env, cw) = env_cw(r, true);
    let h = if ieee {
        host::fprem1(a, b, cw)
    } else {
        host::fprem(a, b, cw)
    };
    let mut f = FpFlags::default();
    let res: RemResult = if ieee {
        rem_ieee(a, b, env, &mut f)
    } else {
        rem(a, b, env, &mut f)
    };
    let value = res.value;
    let got_sw = f.exceptions() | res.apply_cc((cw >> 16) as u16 & 0x4700);
    let want_sw = h.sw & SW_FLAGS_CC;
    (value != h.st0 || got_sw != want_sw).then(|| {
        format!(
            "{}({}, {}) cw={cw:08x}: got {} sw {got_sw:04x}, host {} sw {want_sw:04x}",
            if ieee { "fprem1" } else { "fprem" },
            fx(a),
            fx(b),
            fx(value),
            fx(h.st0)
        )
    })
}

#[test]
fn fprem_matches_host() {
    run("fprem", 20, 20000, |r| check_rem(r, false));
}

#[test]
fn fprem1_matches_host() {
    run("fprem1", 21, 20000, |r| check_rem(r, true));
}

#[test]
fn frndint_matches_host() {
    let pair = |r: &mut Rng| {
        let a = if r.bool() {
            operand(r)
        } else {
            F80::from_parts(
                r.bool(),
                r.range(16383 - 3, 16383 + 66) as u16,
                finite(r).signif | 1 << 63,
            )
        };
        (a, a)
    };
    run("frndint", 22, 20000, |r| {
        compare_binary_with(
            pair,
            "frndint",
            r,
            |a, _, e, f| round_to_int(a, e, f),
            host::frndint,
            true,
        )
    });
}

#[test]
fn fscale_matches_host() {
    let pair = |r: &mut Rng| {
        let a = operand(r);
        let b = match r.below(3) {
            0 => operand(r),
            1 => F80::from_parts(
                r.bool(),
                r.range(16383 - 2, 16383 + 16) as u16,
                finite(r).signif | 1 << 63,
            ),
            _ => related(r, a),
        };
        (a, b)
    };
    run("fscale", 23, 20000, |r| {
        compare_binary_with(pair, "fscale", r, scale, host::fscale, true)
    });
}

#[test]
fn fxtract_matches_host() {
    run("fxtract", 24, 10000, |r| {
        let a = operand(r);
        let (_env, cw) = env_cw(r, true);
        let h = host::fxtract(a, a, cw);
        let mut f = FpFlags::default();
        let (sig, exp) = xtract(a, &mut f);
        let got_sw = f.exceptions() | ((f.c1() as u16) << 9);
        let want_sw = h.sw & SW_FLAGS_C1;
        (sig != h.st0 || exp != h.st1 || got_sw != want_sw).then(|| {
            format!(
                "fxtract({}): got {} {} sw {got_sw:04x}, host {} {} sw {want_sw:04x}",
                fx(a),
                fx(sig),
                fx(exp),
                fx(h.st0),
                fx(h.st1)
            )
        })
    });
}

fn check_cmp(r: &mut Rng, kind: u8) -> Option<String> {
    let (a, b) = any_pair(r);
    let (_env, cw) = env_cw(r, false);
    let mut f = FpFlags::default();
    let (res, h) = match kind {
        0 => (compare(a, b, &mut f), host::fcom(a, b, cw)),
        1 => (compare_unordered(a, b, &mut f), host::fucom(a, b, cw)),
        _ => (test(a, &mut f), host::ftst(a, b, cw)),
    };
    let got_sw = f.exceptions() | res.cc().fsw_bits();
    let want_sw = h.sw & SW_FLAGS_CC;
    (got_sw != want_sw).then(|| {
        format!(
            "cmp{kind}({}, {}): got {res:?} sw {got_sw:04x}, host sw {want_sw:04x}",
            fx(a),
            fx(b)
        )
    })
}

#[test]
fn compares_match_host() {
    run("fcom", 25, 10000, |r| check_cmp(r, 0));
    run("fucom", 26, 10000, |r| check_cmp(r, 1));
    run("ftst", 27, 5000, |r| check_cmp(r, 2));
}

#[test]
fn fcomi_matches_host() {
    run("fcomi", 29, 5000, |r| {
        let (a, b) = any_pair(r);
        let unordered = r.bool();
        let (want_fl, want_sw) = host::fcomi(a, b, unordered);
        let mut f = FpFlags::default();
        let res = if unordered {
            compare_unordered(a, b, &mut f)
        } else {
            compare(a, b, &mut f)
        };
        (res.eflags() != want_fl || f.exceptions() != want_sw & 0x3F).then(|| {
            format!(
                "fcomi{unordered}({}, {}): got {res:?}, host flags {want_fl:x} sw {want_sw:04x}",
                fx(a),
                fx(b)
            )
        })
    });
}

#[test]
fn fxam_matches_host() {
    run("fxam", 28, 5000, |r| {
        let a = operand(r);
        let h = host::fxam(a, a, 0x037F | ((r.next() as u32 & 0x4700) << 16));
        let got = examine(a).fsw_bits();
        let want = h.sw & SW_FLAGS_CC;
        (got != want).then(|| format!("fxam({}): got {got:04x}, host {want:04x}", fx(a)))
    });
}

#[test]
fn compare_result_encodings() {
    assert_eq!(CompareResult::Unordered.cc().fsw_bits(), 0x4500);
    assert_eq!(CompareResult::Less.eflags(), 1);
}

#[allow(dead_code)]
fn unused(
    _: fn(&str, &mut Rng, super::arith::Binary, super::arith::HostBinary, bool) -> Option<String>,
) {
}
const _: () = {
    let _ = compare_binary;
};
