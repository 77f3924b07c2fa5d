//! FLDxx constants against the host for every RC and PC.

use super::super::{load_const, Constant, FpEnv, F80};
use super::fx;
use super::host;

#[test]
fn constants_match_host() {
    type HostFn = fn(F80, F80, u32) -> host::Host;
    let table: [(Constant, HostFn); 7] = [
        (Constant::One, host::fld1),
        (Constant::Log2Ten, host::fldl2t),
        (Constant::Log2E, host::fldl2e),
        (Constant::Pi, host::fldpi),
        (Constant::Log10Two, host::fldlg2),
        (Constant::LnTwo, host::fldln2),
        (Constant::Zero, host::fldz),
    ];
    for (c, h) in table {
        for rc in 0..4u16 {
            for pc in 0..4u16 {
                let cw = 0x037F & !0x0F00 | (rc << 10) | (pc << 8);
                let env = FpEnv::from_fcw(cw);
                let want = h(F80::default(), F80::default(), (cw as u32) | 0x0200_0000);
                let got = load_const(c, env.rounding);
                assert_eq!(
                    got,
                    want.st0,
                    "{c:?} cw={cw:04x}: got {}, host {}",
                    fx(got),
                    fx(want.st0)
                );
                assert_eq!(
                    want.sw & 0x023F,
                    0,
                    "{c:?} cw={cw:04x}: flags/C1 {:04x}",
                    want.sw
                );
            }
        }
    }
}
