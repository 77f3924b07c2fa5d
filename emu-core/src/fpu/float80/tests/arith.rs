//! add/sub/mul/div/sqrt against the host.

use super::super::{add, div, mul, sqrt, sub, FpEnv, FpFlags, F80};
use super::gen::{env_cw, operand, related, Rng};
use super::host::{self, Host};
use super::{fx, run, SW_FLAGS_C1};

pub type Binary = fn(F80, F80, FpEnv, &mut FpFlags) -> F80;
pub type HostBinary = fn(F80, F80, u32) -> Host;

pub fn compare_binary_with(
    gen: fn(&mut Rng) -> (F80, F80),
    name: &str,
    r: &mut Rng,
    ours: Binary,
    theirs: HostBinary,
    unmask: bool,
) -> Option<String> {
    let (a, b) = gen(r);
    let (env, cw) = env_cw(r, unmask);
    let h = theirs(a, b, cw);
    let mut f = FpFlags::default();
    let got = ours(a, b, env, &mut f);
    let want_sw = h.sw & SW_FLAGS_C1;
    let got_sw = f.exceptions() | ((f.c1() as u16) << 9);
    if got != h.st0 || want_sw != got_sw {
        Some(format!(
            "{name}({}, {}) cw={cw:08x}: got {} sw {got_sw:04x}, host {} sw {want_sw:04x}",
            fx(a),
            fx(b),
            fx(got),
            fx(h.st0)
        ))
    } else {
        None
    }
}

fn swap(h: Host) -> Host {
    Host {
        st0: h.st1,
        st1: h.st0,
        sw: h.sw,
    }
}

/// Independent or correlated operands of any class.
pub fn any_pair(r: &mut Rng) -> (F80, F80) {
    let a = operand(r);
    let b = if r.bool() { related(r, a) } else { operand(r) };
    (a, b)
}

pub fn compare_binary(
    name: &str,
    r: &mut Rng,
    ours: Binary,
    theirs: HostBinary,
    unmask: bool,
) -> Option<String> {
    compare_binary_with(any_pair, name, r, ours, theirs, unmask)
}

#[test]
fn add_matches_host() {
    run("add", 1, 20000, |r| {
        compare_binary("add", r, add, host::fadd, true)
    });
    run("add_rev", 2, 4000, |r| {
        compare_binary(
            "add_rev",
            r,
            |a, b, e, f| add(b, a, e, f),
            |a, b, c: u32| swap(host::fadd_rev(a, b, c)),
            true,
        )
    });
}

#[test]
fn sub_matches_host() {
    run("sub", 3, 20000, |r| {
        compare_binary("sub", r, sub, host::fsub, true)
    });
    run("subr", 4, 4000, |r| {
        compare_binary("subr", r, |a, b, e, f| sub(b, a, e, f), host::fsubr, true)
    });
}

#[test]
fn mul_matches_host() {
    run("mul", 5, 20000, |r| {
        compare_binary("mul", r, mul, host::fmul, true)
    });
    run("mul_rev", 6, 4000, |r| {
        compare_binary(
            "mul_rev",
            r,
            |a, b, e, f| mul(b, a, e, f),
            |a, b, c: u32| swap(host::fmul_rev(a, b, c)),
            true,
        )
    });
}

#[test]
fn div_matches_host() {
    run("div", 7, 20000, |r| {
        compare_binary("div", r, div, host::fdiv, true)
    });
    run("divr", 8, 4000, |r| {
        compare_binary("divr", r, |a, b, e, f| div(b, a, e, f), host::fdivr, true)
    });
}

#[test]
fn sqrt_matches_host() {
    run("sqrt", 9, 20000, |r| {
        compare_binary("sqrt", r, |a, _b, e, f| sqrt(a, e, f), host::fsqrt, true)
    });
}

#[test]
fn reserved_precision_control_matches_host() {
    // FCW.PC = 01 is reserved; check that `FpEnv::from_fcw` treats it like the hardware.
    run("pc01", 10, 4000, |r| {
        let (a, b) = any_pair(r);
        let cw = 0x0140u16 | ((r.below(4) as u16) << 10) | 0x3F;
        let env = FpEnv::from_fcw(cw);
        let h = host::fadd(a, b, cw as u32);
        let mut f = FpFlags::default();
        let got = add(a, b, env, &mut f);
        let got_sw = f.exceptions() | ((f.c1() as u16) << 9);
        (got != h.st0 || got_sw != h.sw & SW_FLAGS_C1).then(|| {
            format!(
                "pc01 add({}, {}) cw={cw:04x}: got {} host {}",
                fx(a),
                fx(b),
                fx(got),
                fx(h.st0)
            )
        })
    });
}
