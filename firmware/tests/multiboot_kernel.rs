//! Boots the Multiboot test kernel (`test-roms/multiboot/mbtest.asm`, both the ELF and the
//! a.out-kludge build) through `firmware::multiboot` and runs it in the interpreter: the kernel
//! checks the entry state and the information structure itself and reports on port 0xE9,
//! then exits through an isa-debug-exit stand-in on port 0xF4 (status 33 = pass).
//!
//! The images come from `test-roms/multiboot/build.sh`, which this test runs when they are
//! missing (it needs nasm and binutils' ld).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use emu_core::bus::{PortBus, PortDevice};
use emu_core::control::MachineControl;
use emu_core::cpu::Cpu;
use emu_core::engine::Interpreter;
use emu_core::machine::{Machine, MachineExit};
use emu_core::memory::PhysicalMemory;
use firmware::multiboot::{self, ModuleData};

/// Port 0xE9 output and isa-debug-exit semantics on 0xF4, without the devices crate.
struct Console {
    out: Arc<Mutex<Vec<u8>>>,
    control: Arc<MachineControl>,
}

impl PortDevice for Console {
    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        0xFFFF_FFFF
    }
    fn write(&mut self, port: u16, _size: u8, value: u32) {
        match port {
            0xE9 => self.out.lock().unwrap().push(value as u8),
            _ => self.control.request_exit(((value << 1) | 1) as i32),
        }
    }
}

fn build_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-roms/build")
}

fn ensure_built() {
    let dir = build_dir();
    let needed = [
        "mbtest.elf",
        "mbtest-kludge.bin",
        "mbtest-mod0.bin",
        "mbtest-mod1.bin",
    ];
    if needed.iter().all(|n| dir.join(n).exists()) {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-roms/multiboot/build.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .status()
        .expect("run test-roms/multiboot/build.sh");
    assert!(status.success(), "test-roms/multiboot/build.sh failed");
}

fn boot(kernel: &str, append: &str, mods: &[(&str, &str)]) -> (MachineExit, String) {
    ensure_built();
    let dir = build_dir();
    let control = Arc::new(MachineControl::new());
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut io = PortBus::default();
    io.register(
        [0xE9, 0xF4],
        Box::new(Console {
            out: out.clone(),
            control: control.clone(),
        }),
    );
    let mem = PhysicalMemory::new(64 << 20, &[0xF4; 0x10000]).unwrap();
    let mut cpu = Cpu::new(mem, io, control);
    let image = std::fs::read(dir.join(kernel)).unwrap();
    assert!(multiboot::is_multiboot(&image));
    let datas: Vec<(Vec<u8>, String, PathBuf)> = mods
        .iter()
        .map(|(file, args)| {
            let p = dir.join(file);
            let line = if args.is_empty() {
                file.to_string()
            } else {
                format!("{file} {args}")
            };
            (std::fs::read(&p).unwrap(), line, p)
        })
        .collect();
    let modules: Vec<ModuleData> = datas
        .iter()
        .map(|(d, line, p)| ModuleData {
            data: d,
            cmdline: line,
            file: p,
        })
        .collect();
    let cmdline = multiboot::kernel_cmdline(Path::new(kernel), append);
    multiboot::load_multiboot_bytes(&mut cpu, &image, Path::new(kernel), &modules, &cmdline)
        .unwrap();
    let mut machine = Machine::new(cpu, Box::new(Interpreter));
    machine.no_reboot = true;
    let exit = machine.run(Some(20_000_000));
    let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    (exit, text)
}

fn assert_passes(kernel: &str) {
    let (exit, text) = boot(
        kernel,
        "mbtest.append=ok mods=2",
        &[("mbtest-mod0.bin", "first arg"), ("mbtest-mod1.bin", "")],
    );
    assert_eq!(exit, MachineExit::Exit(33), "{kernel}:\n{text}");
    assert!(text.contains("MB: magic ok"), "{text}");
    assert!(
        text.contains(&format!("MB: cmdline={kernel} mbtest.append=ok mods=2")),
        "{text}"
    );
    assert!(text.contains("string=mbtest-mod0.bin first arg"), "{text}");
    assert!(text.contains("MB: loader=Ringside"), "{text}");
    assert!(text.contains("MB: PASS\nPASS mbtest\n"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    if std::env::var_os("MBTEST_VERBOSE").is_some() {
        eprintln!("{text}");
    }
}

#[test]
fn elf_kernel_passes() {
    assert_passes("mbtest.elf");
}

#[test]
fn aout_kludge_kernel_passes() {
    assert_passes("mbtest-kludge.bin");
}

/// The kernel's own checks can fail: a wrong module count and a missing marker are caught.
#[test]
fn kernel_reports_failures() {
    let (exit, text) = boot("mbtest.elf", "mods=2", &[("mbtest-mod1.bin", "")]);
    assert_eq!(exit, MachineExit::Exit(35), "{text}");
    assert!(
        text.contains("FAIL mbtest: command line lacks mbtest.append=ok"),
        "{text}"
    );
    assert!(text.contains("FAIL mbtest: mods_count differs"), "{text}");
    assert!(
        text.contains("FAIL mbtest: summary: 00000002h checks failed"),
        "{text}"
    );
}
