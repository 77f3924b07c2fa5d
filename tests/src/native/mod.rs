//! Native oracle for differential testing of unprivileged x86 instructions.
//!
//! The host CPU (x86-64, Linux) runs short snippets in a 32-bit or 16-bit
//! code segment of the test process ([`NativeEngine`]); the emulator runs
//! the same [`Case`]s through its own [`ExecEngine`] implementation and
//! [`compare()`] reports the differences, ignoring what the Intel SDM leaves
//! undefined ([`masks`]). [`generate()`] builds seeded cases from instruction
//! [`templates`].
//!
//! Environment every engine must model (see [`exec`] for how the native side
//! builds it):
//!
//! * CPL 3, IOPL 0, IF 1, TF/AC 0; EFLAGS input/output are limited to
//!   CF PF AF ZF SF OF DF ([`flags::SNAPSHOT`]) plus bit 1;
//! * DS, ES, FS, GS and SS all have their base at the data area
//!   ([`DATA_SIZE`] bytes, [`CpuSnapshot::mem`]) and limit `0xFFFF`,
//!   expand-up, writable; in 16-bit cases they are 16-bit (B=0) segments, in
//!   32-bit cases 32-bit (B=1): accesses past offset `0xFFFF` raise #GP(0)
//!   (#SS(0) through SS);
//! * CS is a readable code segment of the case's size; the snippet's EIP is
//!   not part of the state, exceptions report `fault_ip` relative to the
//!   snippet start;
//! * an exception ends the run; traps (#BP, #OF) report the next
//!   instruction;
//! * with `fpu: None` the x87 starts from FNINIT state and is not reported.
//!
//! Vectors raised through the host kernel are the hardware vectors; on Linux
//! `INT n` for any `n` other than 3 and 4 (and 0x80, which the generator
//! never emits) raises #GP with error code `n * 8 + 2`.

pub mod case;
pub mod compare;
pub mod exec;
pub mod generate;
pub mod masks;

pub use case::*;
pub use compare::{compare, describe_case, disassemble, run_differential, Mismatch};
pub use exec::{NativeEngine, MAX_CODE_LEN};
pub use generate::{
    find_templates, generate, templates, Form, Generator, Kind, Rng, StrOp, Template,
};
pub use masks::{undefined_for, UndefMask};

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn engine() -> NativeEngine {
        NativeEngine::new().expect("native engine setup (modify_ldt)")
    }

    /// Input with recognisable registers, ESP in the middle of the data area.
    fn input() -> CpuSnapshot {
        let mut s = CpuSnapshot::zeroed();
        s.gpr = [
            0x1111_1111,
            0x2222_2222,
            0x3333_3333,
            0x4444_4444,
            0x0000_8000,
            0x6666_6666,
            0x7777_7777,
            0x8888_8888,
        ];
        for (i, b) in s.mem.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7);
        }
        s
    }

    fn run(size: CodeSize, code: &[u8], f: impl FnOnce(&mut CpuSnapshot)) -> Outcome {
        let mut inp = input();
        f(&mut inp);
        engine().run(&Case {
            size,
            code: code.to_vec(),
            input: inp,
        })
    }

    fn completed(o: &Outcome) -> &CpuSnapshot {
        match o {
            Outcome::Completed(s) => s,
            other => panic!("expected completion, got {other:?}"),
        }
    }

    #[test]
    fn add_sets_known_flags_in_both_modes() {
        for (size, code) in [
            (CodeSize::Bits32, &[0x01, 0xD8][..]),
            (CodeSize::Bits16, &[0x66, 0x01, 0xD8][..]),
        ] {
            // add eax, ebx: 0xFFFFFFFF + 1
            let o = run(size, code, |s| {
                s.gpr[EAX] = 0xFFFF_FFFF;
                s.gpr[EBX] = 1;
                s.eflags = flags::FIXED | flags::OF | flags::SF;
            });
            let s = completed(&o);
            assert_eq!(s.gpr[EAX], 0);
            assert_eq!(
                s.eflags,
                flags::FIXED | flags::CF | flags::PF | flags::AF | flags::ZF,
                "{size}"
            );
            // 0x7FFFFFFF + 1: OF SF AF PF, no CF/ZF
            let o = run(size, code, |s| {
                s.gpr[EAX] = 0x7FFF_FFFF;
                s.gpr[EBX] = 1;
            });
            let s = completed(&o);
            assert_eq!(s.gpr[EAX], 0x8000_0000);
            assert_eq!(
                s.eflags,
                flags::FIXED | flags::OF | flags::SF | flags::AF | flags::PF,
                "{size}"
            );
        }
    }

    #[test]
    fn input_flags_are_loaded() {
        // adc eax, ebx with CF=1: 0 + 0 + 1
        let o = run(CodeSize::Bits32, &[0x11, 0xD8], |s| {
            s.gpr[EAX] = 0;
            s.gpr[EBX] = 0;
            s.eflags = flags::FIXED | flags::CF;
        });
        assert_eq!(completed(&o).gpr[EAX], 1);
        // lahf: SF ZF AF PF CF into AH (bit 1 reads as 1)
        let o = run(CodeSize::Bits16, &[0x9F], |s| {
            s.eflags = flags::FIXED | flags::SF | flags::AF | flags::CF;
        });
        assert_eq!(completed(&o).gpr[EAX], 0x1111_9311);
    }

    #[test]
    fn add16_wraps_and_keeps_upper_half() {
        // add ax, bx in a 16-bit code segment
        let o = run(CodeSize::Bits16, &[0x01, 0xD8], |s| {
            s.gpr[EAX] = 0x1234_FFFF;
            s.gpr[EBX] = 0xABCD_0001;
        });
        let s = completed(&o);
        assert_eq!(s.gpr[EAX], 0x1234_0000);
        assert_eq!(s.gpr[EBX], 0xABCD_0001);
        assert_eq!(s.eflags & (flags::CF | flags::ZF), flags::CF | flags::ZF);
    }

    #[test]
    fn div_by_zero_is_de_with_state_unchanged() {
        for size in [CodeSize::Bits16, CodeSize::Bits32] {
            // nop; div ebx (32-bit operand in both modes)
            let code: &[u8] = if size == CodeSize::Bits16 {
                &[0x90, 0x66, 0xF7, 0xF3]
            } else {
                &[0x90, 0xF7, 0xF3]
            };
            let o = run(size, code, |s| s.gpr[EBX] = 0);
            match o {
                Outcome::Exception {
                    vector,
                    error_code,
                    fault_ip,
                    state,
                } => {
                    assert_eq!((vector, error_code, fault_ip), (0, None, 1));
                    let mut want = input().gpr;
                    want[EBX] = 0;
                    assert_eq!(state.gpr, want);
                    assert_eq!(state.mem, input().mem);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn ud2_int3_into_bound_aam0() {
        for size in [CodeSize::Bits16, CodeSize::Bits32] {
            let vec_of = |o: Outcome| match o {
                Outcome::Exception {
                    vector,
                    error_code,
                    fault_ip,
                    ..
                } => (vector, error_code, fault_ip),
                other => panic!("{other:?}"),
            };
            assert_eq!(vec_of(run(size, &[0x0F, 0x0B], |_| {})), (6, None, 0));
            // int3 is a trap: reported after the instruction.
            assert_eq!(vec_of(run(size, &[0x90, 0xCC], |_| {})), (3, None, 2));
            assert_eq!(
                vec_of(run(size, &[0xCE], |s| s.eflags |= flags::OF)),
                (4, None, 1)
            );
            assert!(matches!(run(size, &[0xCE], |_| {}), Outcome::Completed(_)));
            // bound ax/eax, [0x100] with bounds 0..0 and index 0x1111/0x11111111
            let bound: &[u8] = if size == CodeSize::Bits16 {
                &[0x62, 0x06, 0x00, 0x01]
            } else {
                &[0x62, 0x05, 0, 1, 0, 0]
            };
            assert_eq!(
                vec_of(run(size, bound, |s| s.mem[0x100..0x108].fill(0))),
                (5, None, 0)
            );
            // aam 0
            assert_eq!(vec_of(run(size, &[0xD4, 0x00], |_| {})), (0, None, 0));
            // int 0x21: #GP with the IDT error code
            assert_eq!(
                vec_of(run(size, &[0xCD, 0x21], |_| {})),
                (13, Some(0x21 * 8 + 2), 0)
            );
        }
    }

    #[test]
    fn segment_limit_faults() {
        // mov ax, [0xFFFF]: word crosses the limit -> #GP(0)
        let o = run(CodeSize::Bits16, &[0xA1, 0xFF, 0xFF], |_| {});
        assert!(
            matches!(
                o,
                Outcome::Exception {
                    vector: 13,
                    error_code: Some(0),
                    ..
                }
            ),
            "{o:?}"
        );
        // 32-bit: mov eax, [0x10000] -> #GP(0)
        let o = run(CodeSize::Bits32, &[0xA1, 0x00, 0x00, 0x01, 0x00], |_| {});
        assert!(
            matches!(
                o,
                Outcome::Exception {
                    vector: 13,
                    error_code: Some(0),
                    ..
                }
            ),
            "{o:?}"
        );
        // 16-bit push with SP=1: word at 0xFFFF -> #SS(0)
        let o = run(CodeSize::Bits16, &[0x50], |s| s.gpr[ESP] = 1);
        assert!(
            matches!(
                o,
                Outcome::Exception {
                    vector: 12,
                    error_code: Some(0),
                    ..
                }
            ),
            "{o:?}"
        );
    }

    #[test]
    fn stack_ops_use_the_data_area() {
        // 16-bit: push ax; push bx; pop cx. SP moves by 2, ESP[31:16] kept.
        let o = run(CodeSize::Bits16, &[0x50, 0x53, 0x59], |s| {
            s.gpr[ESP] = 0xABCD_0100
        });
        let s = completed(&o);
        assert_eq!(s.gpr[ESP], 0xABCD_00FE);
        assert_eq!(s.gpr[ECX], 0x2222_4444);
        assert_eq!(&s.mem[0xFC..0x100], &[0x44, 0x44, 0x11, 0x11]);
        // 16-bit SP wraps: push ax with SP=0 writes at 0xFFFE.
        let o = run(CodeSize::Bits16, &[0x50], |s| s.gpr[ESP] = 0);
        let s = completed(&o);
        assert_eq!(s.gpr[ESP], 0xFFFE);
        assert_eq!(&s.mem[0xFFFE..], &[0x11, 0x11]);
        // 32-bit: push eax; pushfd
        let o = run(CodeSize::Bits32, &[0x50, 0x9C], |s| {
            s.eflags = flags::FIXED | flags::CF
        });
        let s = completed(&o);
        assert_eq!(s.gpr[ESP], 0x7FF8);
        assert_eq!(&s.mem[0x7FFC..0x8000], &[0x11; 4]);
        // pushfd stores IF=1, bit 1, CF.
        assert_eq!(&s.mem[0x7FF8..0x7FFC], &[0x03, 0x02, 0, 0]);
    }

    #[test]
    fn addressing_and_segment_overrides() {
        // 16-bit: mov [bx+si+4], eax with BX+SI wrapping to 0.
        let o = run(CodeSize::Bits16, &[0x66, 0x89, 0x40, 0x04], |s| {
            s.gpr[EBX] = 0x1234_FFFF;
            s.gpr[ESI] = 0x0000_0001;
        });
        assert_eq!(&completed(&o).mem[4..8], &[0x11; 4]);
        // 32-bit: fs: mov eax, [0x10]; gs: mov ebx, [0x14]
        let o = run(
            CodeSize::Bits32,
            &[0x64, 0xA1, 0x10, 0, 0, 0, 0x65, 0x8B, 0x1D, 0x14, 0, 0, 0],
            |s| {
                s.mem[0x10..0x18].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
            },
        );
        let s = completed(&o);
        assert_eq!((s.gpr[EAX], s.gpr[EBX]), (0x0403_0201, 0x0807_0605));
        // rep movsb, DF=1, 3 bytes from 0x102..0x100 to 0x202..0x200
        let o = run(CodeSize::Bits32, &[0xF3, 0xA4], |s| {
            s.gpr[ESI] = 0x102;
            s.gpr[EDI] = 0x202;
            s.gpr[ECX] = 3;
            s.eflags |= flags::DF;
        });
        let s = completed(&o);
        assert_eq!((s.gpr[ESI], s.gpr[EDI], s.gpr[ECX]), (0xFF, 0x1FF, 0));
        assert_eq!(&s.mem[0x200..0x203], &input().mem[0x100..0x103]);
        assert_eq!(s.eflags & flags::DF, flags::DF);
    }

    #[test]
    fn x87_state_and_mf() {
        // fld1; fadd st0, st0 -> 2.0 with TOP decremented
        let o = run(CodeSize::Bits16, &[0xD9, 0xE8, 0xD8, 0xC0], |s| {
            s.fpu = Some(FpuState::default())
        });
        let f = completed(&o).fpu.clone().expect("x87 state");
        assert_eq!(f.top(), 7);
        assert_eq!(f.st[0], [0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x40]);
        assert_eq!(f.tag, 0x3FFF);
        // fld1; fldz; fdivp with ZE unmasked, then fwait -> #MF at the fwait
        let o = run(
            CodeSize::Bits32,
            &[0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9, 0x9B],
            |s| {
                s.fpu = Some(FpuState {
                    control: 0x037B,
                    ..FpuState::default()
                })
            },
        );
        match o {
            Outcome::Exception {
                vector: 16,
                fault_ip: 6,
                state,
                ..
            } => {
                let f = state.fpu.expect("x87 state at #MF");
                assert_eq!(f.status & 0x0084, 0x0084, "ZE and ES set");
            }
            other => panic!("{other:?}"),
        }
        // Without an x87 input the state is not reported.
        assert!(completed(&run(CodeSize::Bits32, &[0x90], |_| {}))
            .fpu
            .is_none());
    }

    #[test]
    fn compare_masks_undefined_flags_only() {
        // and eax, ebx: AF undefined.
        let case = Case {
            size: CodeSize::Bits32,
            code: vec![0x21, 0xD8],
            input: input(),
        };
        let expected = engine().run(&case);
        let mut actual = expected.clone();
        if let Outcome::Completed(s) = &mut actual {
            s.eflags ^= flags::AF;
        }
        assert!(compare(&case, &expected, &actual).is_ok());
        if let Outcome::Completed(s) = &mut actual {
            s.eflags ^= flags::CF;
            s.mem[0x1234] ^= 1;
        }
        let err = compare(&case, &expected, &actual).expect_err("CF and memory differ");
        let text = err.to_string();
        assert!(text.contains("differing CF"), "{text}");
        assert!(text.contains("mem[1234]"), "{text}");
        assert!(text.contains("and eax,ebx"), "{text}");
        // shl eax, 3: OF and AF undefined, CF defined.
        let case = Case {
            size: CodeSize::Bits32,
            code: vec![0xC1, 0xE0, 0x03],
            input: input(),
        };
        let m = undefined_for(&case);
        assert_eq!(m.eflags, flags::OF | flags::AF);
        // bsf eax, ebx with ebx = 0: destination undefined.
        let mut inp = input();
        inp.gpr[EBX] = 0;
        let m = undefined_for(&Case {
            size: CodeSize::Bits32,
            code: vec![0x0F, 0xBC, 0xC3],
            input: inp,
        });
        assert_eq!(m.gpr[EAX], 0xFFFF_FFFF);
        // A different exception is reported as such.
        let de = Outcome::Exception {
            vector: 0,
            error_code: None,
            fault_ip: 0,
            state: input(),
        };
        let err = compare(&case, &expected, &de).expect_err("outcome differs");
        assert!(err.to_string().contains("exception 0 #DE"), "{err}");
    }

    #[test]
    fn watchdog_stops_endless_snippets() {
        // jmp $ : the 2 s watchdog turns it into a panic; the engine stays usable.
        let r = std::panic::catch_unwind(|| run(CodeSize::Bits16, &[0xEB, 0xFE], |_| {}));
        let msg = r.expect_err("endless loop must panic");
        let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("did not finish"), "{msg}");
        assert_eq!(
            completed(&run(CodeSize::Bits32, &[0x40], |_| {})).gpr[EAX],
            0x1111_1112
        );
    }

    #[test]
    fn generator_is_deterministic() {
        for t in templates().iter().step_by(37) {
            for size in [CodeSize::Bits16, CodeSize::Bits32] {
                assert_eq!(generate(t, size, 42), generate(t, size, 42), "{}", t.name);
            }
        }
        assert_ne!(
            generate(&templates()[0], CodeSize::Bits32, 1),
            generate(&templates()[0], CodeSize::Bits32, 2)
        );
    }

    /// Every template, both code sizes, a few seeds: runs natively without
    /// disturbing the test process, and running a case twice gives the same
    /// outcome.
    #[test]
    fn every_template_runs_natively_and_repeatably() {
        let mut e = engine();
        let start = Instant::now();
        let mut runs = 0;
        let mut exceptions = 0;
        for t in templates() {
            for size in [CodeSize::Bits16, CodeSize::Bits32] {
                for seed in 0..3 {
                    let case = generate(t, size, seed);
                    let first = e.run(&case);
                    let second = e.run(&case);
                    if let Err(m) = compare(&case, &first, &second) {
                        panic!("{} ({size}, seed {seed}) is not repeatable:\n{m}", t.name);
                    }
                    runs += 2;
                    exceptions += usize::from(matches!(first, Outcome::Exception { .. }));
                }
            }
        }
        eprintln!(
            "{} templates, {runs} native runs ({exceptions} cases raised exceptions) in {:?}",
            templates().len(),
            start.elapsed()
        );
        assert!(templates().len() > 500);
    }
}
