//! Running a snippet natively on the host CPU, in a 16-bit or 32-bit code
//! segment, from a 64-bit Linux process.
//!
//! # How it works
//!
//! One process-wide *region* of 64 KiB (RWX, mapped below 2 GiB with
//! `MAP_32BIT`) holds a control block, x87 save areas, a scratch stack, two
//! 64-bit stubs and the per-run trampoline (prologue + snippet + epilogue).
//! A second 64 KiB mapping below 2 GiB is the *data area*. Four LDT entries
//! are installed once with `modify_ldt`:
//!
//! | selector | base   | limit  | kind                                  |
//! |----------|--------|--------|---------------------------------------|
//! | `0x07`   | region | 0xFFFF | 16-bit code, readable                 |
//! | `0x0F`   | region | 0xFFFF | 32-bit data (control block, B=1)      |
//! | `0x17`   | data   | 0xFFFF | 16-bit data (DS/ES/FS/GS/SS, B=0)     |
//! | `0x1F`   | data   | 0xFFFF | 32-bit data (DS/ES/FS/GS/SS, B=1)     |
//!
//! 32-bit snippets run in the kernel's flat compatibility-mode code segment
//! `0x23`; 16-bit snippets in the LDT code segment `0x07`. The 64-bit entry
//! stub saves the callee-saved registers, RSP, the segment registers and the
//! x87/SSE state (FXSAVE64), then far-jumps into the trampoline. The prologue
//! switches to the scratch stack, loads the x87 state (FXRSTOR, or FNINIT),
//! EFLAGS (PUSHFD/POPFD on the scratch stack), ES/FS/GS, the GPRs, SS:ESP and
//! finally DS. After the snippet the epilogue reloads DS from CS-relative
//! memory (no GPR or flag is touched), stores the eight GPRs, switches to the
//! scratch stack, stores EFLAGS and the x87 state, and far-jumps to the 64-bit
//! return stub (selector `0x33`), which restores segment registers, the FS/GS
//! bases (`arch_prctl`), the host x87/SSE state, DF=0, and returns.
//!
//! The snippet's own stack writes therefore only ever touch the data area.
//!
//! # Exceptions
//!
//! For the duration of a run, handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL,
//! SIGTRAP and SIGALRM are installed (SA_SIGINFO | SA_ONSTACK, on a private
//! alternate stack: the snippet's ESP is not a usable 64-bit stack). Only our
//! trampolines ever run outside 64-bit mode in this process, so when the
//! interrupted context's CS is not `0x33` the handler knows it interrupted
//! the snippet: it records trap number, error code, EIP, CS, the GPRs,
//! EFLAGS and the FXSAVE image from the signal frame into the control block,
//! and rewrites the saved context to resume at the 64-bit return stub (CS
//! `0x33`, host SS and RSP, EFLAGS `0x202`). A fault in 64-bit code is not
//! ours: the handler resets the signal to its default action and returns, so
//! the process dies as it would have without us. The previous handlers and
//! alternate stack are restored after every run. SIGALRM (`alarm(2)`) is a
//! watchdog against snippets that never end: it is forwarded (`tgkill`) to
//! the running thread if another thread receives it, and turns into a panic
//! of [`NativeEngine::run`](super::ExecEngine::run). The handler never
//! touches thread-local storage, since FS may hold the snippet's data
//! segment when it runs.
//!
//! # Global state
//!
//! Signal handlers cannot be given a context pointer, so the handler reads the
//! region address from one static atomic (`ACTIVE`), non-zero only while a
//! run is in progress. Runs are serialised by the mutex around `Shared`,
//! which also owns the mappings and the LDT entries (the LDT is per process).

use super::case::{
    flags, vector_has_error_code, Case, CodeSize, CpuSnapshot, ExecEngine, FpuState, Outcome,
    DATA_SIZE,
};
use iced_x86::IcedError;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

const REGION_SIZE: usize = 0x1_0000;

// Control-block layout (offsets from the region base; the CTL data segment
// has its base there, so these are also its segment offsets).
const IN_GPR: u32 = 0x00;
const IN_EFLAGS: u32 = 0x20;
const SEL_DATA_SLOT: u32 = 0x24;
const SEL_CTL_SLOT: u32 = 0x26;
const FAR_RET: u32 = 0x28; // m16:32 -> 64-bit return stub
const FAR_ENTER: u32 = 0x30; // m16:32 -> trampoline
const OUT_GPR: u32 = 0x40;
const OUT_EFLAGS: u32 = 0x60;
const FAULTED: u32 = 0x64; // 0 none, 1 exception, 2 watchdog
const TRAPNO: u32 = 0x68;
const ERR: u32 = 0x6C;
const FAULT_EIP: u32 = 0x70;
const FAULT_CS: u32 = 0x74;
const FAULT_SIG: u32 = 0x78;
const FX_VALID: u32 = 0x7C;
const HOST_RSP: u32 = 0x80;
const HOST_FSBASE: u32 = 0x88;
const HOST_GSBASE: u32 = 0x90;
const HOST_DS: u32 = 0x98;
const HOST_ES: u32 = 0x9A;
const HOST_FS: u32 = 0x9C;
const HOST_GS: u32 = 0x9E;
const HOST_SS: u32 = 0xA0;
const RUN_TID: u32 = 0xA4;
const FX_IN: u32 = 0x200;
const FX_OUT: u32 = 0x400;
const HOST_FX: u32 = 0x600;
const SCRATCH_TOP: u32 = 0x1000;
const ENTRY64: u32 = 0x1000;
const RET64: u32 = 0x1100;
const TRAMP: u32 = 0x2000;
/// Room kept after the snippet for the epilogue.
const EPILOGUE_ROOM: usize = 0x200;
/// Longest snippet the native engine accepts.
pub const MAX_CODE_LEN: usize = REGION_SIZE - TRAMP as usize - 0x100 - EPILOGUE_ROOM;

// LDT layout.
const LDT_CODE16: u32 = 0;
const LDT_CTL: u32 = 1;
const LDT_DATA16: u32 = 2;
const LDT_DATA32: u32 = 3;

const fn ldt_selector(index: u32) -> u16 {
    ((index << 3) | 4 | 3) as u16
}

const SEL_CODE16: u16 = ldt_selector(LDT_CODE16);
const SEL_CTL: u16 = ldt_selector(LDT_CTL);
const SEL_DATA16: u16 = ldt_selector(LDT_DATA16);
const SEL_DATA32: u16 = ldt_selector(LDT_DATA32);
/// Linux x86-64 user code selectors.
const SEL_USER_CS32: u16 = 0x23;
const SEL_USER_CS64: u16 = 0x33;

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

const HANDLED_SIGNALS: [libc::c_int; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGALRM,
];

const ALT_STACK_SIZE: usize = 256 * 1024;
const WATCHDOG_SECONDS: libc::c_uint = 2;

/// Region base while a native run is in progress, 0 otherwise. Read by the
/// signal handler, which has no other way to find the control block.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Process-wide native execution resources, behind a mutex that serialises
/// runs.
static SHARED: OnceLock<Result<Mutex<Shared>, String>> = OnceLock::new();

struct Shared {
    region: usize,
    data: usize,
    altstack: Vec<u8>,
}

/// `struct user_desc` from `<asm/ldt.h>`.
#[repr(C)]
struct UserDesc {
    entry_number: u32,
    base_addr: u32,
    limit: u32,
    /// seg_32bit:1 contents:2 read_exec_only:1 limit_in_pages:1
    /// seg_not_present:1 useable:1 lm:1
    flags: u32,
}

fn map_low(prot: libc::c_int) -> Result<usize, String> {
    // SAFETY: an anonymous private mapping with no address hint cannot alias
    // any existing Rust object; the result is checked before use.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            REGION_SIZE,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!(
            "mmap(MAP_32BIT) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    let addr = p as usize;
    if addr + REGION_SIZE > 0x8000_0000 {
        return Err(format!(
            "mmap(MAP_32BIT) returned {addr:#x}, not below 2 GiB"
        ));
    }
    Ok(addr)
}

fn set_ldt(entry: u32, base: usize, code: bool, big: bool) -> Result<(), String> {
    let contents = if code { 2 } else { 0 };
    let desc = UserDesc {
        entry_number: entry,
        base_addr: base as u32,
        limit: 0xFFFF,
        flags: u32::from(big) | (contents << 1) | (1 << 6),
    };
    // SAFETY: modify_ldt(1, ...) only reads `desc`, which is a valid
    // `struct user_desc` of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_modify_ldt,
            1 as libc::c_long,
            &desc as *const UserDesc,
            std::mem::size_of::<UserDesc>(),
        )
    };
    if r != 0 {
        return Err(format!(
            "modify_ldt(entry {entry}) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn assemble64(region: u32) -> Result<(Vec<u8>, Vec<u8>), IcedError> {
    use iced_x86::code_asm::*;
    let r = u64::from(region);
    let mut a = CodeAssembler::new(64)?;
    for reg in [rbx, rbp, r12, r13, r14, r15] {
        a.push(reg)?;
    }
    a.mov(ecx, region)?;
    a.mov(qword_ptr(rcx + HOST_RSP), rsp)?;
    a.fxsave64(ptr(rcx + HOST_FX))?;
    a.mov(word_ptr(rcx + HOST_DS), ds)?;
    a.mov(word_ptr(rcx + HOST_ES), es)?;
    a.mov(word_ptr(rcx + HOST_FS), fs)?;
    a.mov(word_ptr(rcx + HOST_GS), gs)?;
    a.mov(word_ptr(rcx + HOST_SS), ss)?;
    a.jmp(fword_ptr(rcx + FAR_ENTER))?;
    let entry = a.assemble(r + u64::from(ENTRY64))?;

    let mut a = CodeAssembler::new(64)?;
    a.mov(ecx, region)?;
    a.mov(ss, word_ptr(rcx + HOST_SS))?;
    a.mov(rsp, qword_ptr(rcx + HOST_RSP))?;
    // Drop whatever the snippet left in EFLAGS (DF, and AC/NT/TF should a
    // hand-written case set them with POPF).
    a.push(2)?;
    a.popfq()?;
    a.mov(ds, word_ptr(rcx + HOST_DS))?;
    a.mov(es, word_ptr(rcx + HOST_ES))?;
    a.mov(fs, word_ptr(rcx + HOST_FS))?;
    a.mov(gs, word_ptr(rcx + HOST_GS))?;
    // Loading FS/GS clobbered their 64-bit bases: put them back.
    a.mov(eax, libc::SYS_arch_prctl as u32)?;
    a.mov(edi, ARCH_SET_FS as u32)?;
    a.mov(rsi, qword_ptr(rcx + HOST_FSBASE))?;
    a.syscall()?;
    a.mov(ecx, region)?;
    a.mov(eax, libc::SYS_arch_prctl as u32)?;
    a.mov(edi, ARCH_SET_GS as u32)?;
    a.mov(rsi, qword_ptr(rcx + HOST_GSBASE))?;
    a.syscall()?;
    a.mov(ecx, region)?;
    a.fninit()?;
    a.fxrstor64(ptr(rcx + HOST_FX))?;
    a.cld()?;
    for reg in [r15, r14, r13, r12, rbp, rbx] {
        a.pop(reg)?;
    }
    a.ret()?;
    let ret = a.assemble(r + u64::from(RET64))?;
    Ok((entry, ret))
}

/// Builds prologue + snippet + epilogue. Returns the bytes and the offset of
/// the snippet inside them.
fn assemble_trampoline(
    size: CodeSize,
    region: u32,
    code: &[u8],
    fpu: bool,
) -> Result<(Vec<u8>, usize), IcedError> {
    use iced_x86::code_asm::*;
    let bits = size.bitness();
    // Linear address of the trampoline = CS base + EIP. The 16-bit code
    // segment's base is the region; the 32-bit one is flat.
    let cs_base = if bits == 32 { u64::from(region) } else { 0 };
    let ip = cs_base + u64::from(TRAMP);

    let mut a = CodeAssembler::new(bits)?;
    a.mov(ds, word_ptr(cs_base + u64::from(SEL_CTL_SLOT)).cs())?;
    a.mov(ss, word_ptr(SEL_CTL_SLOT))?;
    a.mov(esp, SCRATCH_TOP)?;
    if fpu {
        a.fxrstor(ptr(FX_IN))?;
    } else {
        a.fninit()?;
    }
    a.push(dword_ptr(IN_EFLAGS))?;
    a.popfd()?;
    a.mov(es, word_ptr(SEL_DATA_SLOT))?;
    a.mov(fs, word_ptr(SEL_DATA_SLOT))?;
    a.mov(gs, word_ptr(SEL_DATA_SLOT))?;
    for (i, reg) in [eax, ecx, edx, ebx, esp, ebp, esi, edi]
        .into_iter()
        .enumerate()
    {
        if i != 4 {
            a.mov(reg, dword_ptr(IN_GPR + 4 * i as u32))?;
        }
    }
    a.mov(ss, word_ptr(SEL_DATA_SLOT))?;
    a.mov(esp, dword_ptr(IN_GPR + 16))?;
    a.mov(ds, word_ptr(SEL_DATA_SLOT))?;
    let mut bytes = a.assemble(ip)?;
    let snippet_off = bytes.len();
    bytes.extend_from_slice(code);

    let mut a = CodeAssembler::new(bits)?;
    a.mov(ds, word_ptr(cs_base + u64::from(SEL_CTL_SLOT)).cs())?;
    for (i, reg) in [eax, ecx, edx, ebx, esp, ebp, esi, edi]
        .into_iter()
        .enumerate()
    {
        a.mov(dword_ptr(OUT_GPR + 4 * i as u32), reg)?;
    }
    a.mov(ss, word_ptr(SEL_CTL_SLOT))?;
    a.mov(esp, SCRATCH_TOP)?;
    a.pushfd()?;
    a.pop(dword_ptr(OUT_EFLAGS))?;
    if fpu {
        a.fxsave(ptr(FX_OUT))?;
    }
    a.jmp(fword_ptr(FAR_RET))?;
    let epilogue = a.assemble(ip + bytes.len() as u64)?;
    bytes.extend_from_slice(&epilogue);
    Ok((bytes, snippet_off))
}

impl Shared {
    fn new() -> Result<Shared, String> {
        let region = map_low(libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC)?;
        let data = map_low(libc::PROT_READ | libc::PROT_WRITE)?;
        set_ldt(LDT_CODE16, region, true, false)?;
        set_ldt(LDT_CTL, region, false, true)?;
        set_ldt(LDT_DATA16, data, false, false)?;
        set_ldt(LDT_DATA32, data, false, true)?;
        let (entry, ret) = assemble64(region as u32).map_err(|e| e.to_string())?;
        assert!(entry.len() <= (RET64 - ENTRY64) as usize && ret.len() <= (TRAMP - RET64) as usize);
        let sh = Shared {
            region,
            data,
            altstack: vec![0; ALT_STACK_SIZE],
        };
        sh.write(ENTRY64, &entry);
        sh.write(RET64, &ret);
        sh.write_u16(FAR_RET + 4, SEL_USER_CS64);
        sh.write_u32(FAR_RET, region as u32 + RET64);
        sh.write_u16(SEL_CTL_SLOT, SEL_CTL);
        Ok(sh)
    }

    fn write(&self, off: u32, bytes: &[u8]) {
        assert!(off as usize + bytes.len() <= REGION_SIZE);
        // SAFETY: the region is a live 64 KiB mapping owned by `self` and
        // bounds were checked above; no native code runs concurrently (the
        // caller holds the mutex).
        unsafe {
            ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (self.region + off as usize) as *mut u8,
                bytes.len(),
            )
        }
    }

    fn read(&self, off: u32, len: usize) -> Vec<u8> {
        assert!(off as usize + len <= REGION_SIZE);
        let mut v = vec![0; len];
        // SAFETY: as in `write`; reading plain bytes of our own mapping.
        unsafe {
            ptr::copy_nonoverlapping(
                (self.region + off as usize) as *const u8,
                v.as_mut_ptr(),
                len,
            )
        }
        v
    }

    fn write_u16(&self, off: u32, v: u16) {
        self.write(off, &v.to_le_bytes());
    }

    fn write_u32(&self, off: u32, v: u32) {
        self.write(off, &v.to_le_bytes());
    }

    fn write_u64(&self, off: u32, v: u64) {
        self.write(off, &v.to_le_bytes());
    }

    fn read_u32(&self, off: u32) -> u32 {
        u32::from_le_bytes(self.read(off, 4).try_into().expect("4 bytes"))
    }

    fn run(&mut self, case: &Case) -> Outcome {
        assert_eq!(
            case.input.mem.len(),
            DATA_SIZE,
            "data area must be DATA_SIZE bytes"
        );
        assert!(
            case.code.len() <= MAX_CODE_LEN,
            "snippet longer than {MAX_CODE_LEN} bytes"
        );
        let fpu = case.input.fpu.is_some();
        let region = self.region as u32;
        let (tramp, snippet_off) =
            assemble_trampoline(case.size, region, &case.code, fpu).expect("assemble trampoline");
        self.write(TRAMP, &tramp);
        let snippet_start = TRAMP + snippet_off as u32;
        let snippet_end = snippet_start + case.code.len() as u32;

        for (i, v) in case.input.gpr.iter().enumerate() {
            self.write_u32(IN_GPR + 4 * i as u32, *v);
        }
        self.write_u32(
            IN_EFLAGS,
            (case.input.eflags & flags::SNAPSHOT) | flags::FIXED,
        );
        let (data_sel, code_sel, cs_base) = match case.size {
            CodeSize::Bits16 => (SEL_DATA16, SEL_CODE16, 0),
            CodeSize::Bits32 => (SEL_DATA32, SEL_USER_CS32, region),
        };
        self.write_u16(SEL_DATA_SLOT, data_sel);
        self.write_u32(FAR_ENTER, cs_base + TRAMP);
        self.write_u16(FAR_ENTER + 4, code_sel);
        if let Some(f) = &case.input.fpu {
            self.write(FX_IN, &fpu_to_fxsave(f));
        }
        self.write(FX_OUT, &[0; 512]);
        for off in [
            FAULTED, TRAPNO, ERR, FAULT_EIP, FAULT_CS, FAULT_SIG, FX_VALID,
        ] {
            self.write_u32(off, 0);
        }
        // SAFETY: gettid has no preconditions.
        self.write_u32(RUN_TID, unsafe { libc::gettid() } as u32);
        self.write_u64(HOST_FSBASE, arch_prctl_get(ARCH_GET_FS));
        self.write_u64(HOST_GSBASE, arch_prctl_get(ARCH_GET_GS));
        // SAFETY: the data mapping is 64 KiB, owned by `self`, and the input
        // was checked to be exactly that long.
        unsafe {
            ptr::copy_nonoverlapping(case.input.mem.as_ptr(), self.data as *mut u8, DATA_SIZE)
        };

        let guard = SignalGuard::install(&mut self.altstack);
        ACTIVE.store(self.region, Ordering::SeqCst);
        // SAFETY: ENTRY64 holds the 64-bit stub assembled in `Shared::new`,
        // which follows the SysV ABI: it saves and restores rbx, rbp,
        // r12-r15, rsp, the segment registers, the FS/GS bases and the
        // x87/SSE control state, clears DF, and returns normally on both the
        // completion and the exception path (the signal handler redirects
        // faults to the same return stub). The snippet can only write to the
        // data mapping (every data segment it can use is limited to it) and,
        // through the flat CS in 32-bit mode, read our mappings.
        unsafe {
            libc::alarm(WATCHDOG_SECONDS);
            let entry: extern "C" fn() = std::mem::transmute(self.region + ENTRY64 as usize);
            entry();
            libc::alarm(0);
        }
        ACTIVE.store(0, Ordering::SeqCst);
        drop(guard);

        let mut mem = vec![0; DATA_SIZE];
        // SAFETY: reading our own 64 KiB data mapping; native code has
        // finished.
        unsafe { ptr::copy_nonoverlapping(self.data as *const u8, mem.as_mut_ptr(), DATA_SIZE) };
        let mut gpr = [0u32; 8];
        for (i, g) in gpr.iter_mut().enumerate() {
            *g = self.read_u32(OUT_GPR + 4 * i as u32);
        }
        let eflags = (self.read_u32(OUT_EFLAGS) & flags::SNAPSHOT) | flags::FIXED;
        let faulted = self.read_u32(FAULTED);
        let fpu_out = if fpu && (faulted == 0 || self.read_u32(FX_VALID) != 0) {
            Some(fxsave_to_fpu(&self.read(FX_OUT, 512)))
        } else {
            None
        };
        let state = CpuSnapshot {
            gpr,
            eflags,
            mem,
            fpu: fpu_out,
        };
        match faulted {
            0 => Outcome::Completed(state),
            1 => {
                let vector = self.read_u32(TRAPNO) as u8;
                let eip = self.read_u32(FAULT_EIP).wrapping_sub(cs_base);
                let cs = self.read_u32(FAULT_CS) as u16;
                assert!(
                    cs == code_sel && (snippet_start..=snippet_end).contains(&eip),
                    "native harness fault outside the snippet: signal {} vector {vector} at {cs:#x}:{eip:#x} \
                     (snippet {snippet_start:#x}..{snippet_end:#x})",
                    self.read_u32(FAULT_SIG)
                );
                let error_code = vector_has_error_code(vector).then(|| self.read_u32(ERR));
                Outcome::Exception {
                    vector,
                    error_code,
                    fault_ip: eip - snippet_start,
                    state,
                }
            }
            _ => panic!(
                "native snippet did not finish within {WATCHDOG_SECONDS} s: {:02x?}",
                case.code
            ),
        }
    }
}

fn arch_prctl_get(code: u64) -> u64 {
    let mut v = 0u64;
    // SAFETY: ARCH_GET_FS/GS writes one u64 to the pointer we pass.
    let r = unsafe { libc::syscall(libc::SYS_arch_prctl, code, &mut v as *mut u64) };
    assert_eq!(r, 0, "arch_prctl({code:#x}) failed");
    v
}

/// Installs the signal handlers and alternate stack for one run and restores
/// the previous ones when dropped.
struct SignalGuard {
    old_actions: Vec<(libc::c_int, libc::sigaction)>,
    old_stack: libc::stack_t,
}

impl SignalGuard {
    fn install(altstack: &mut [u8]) -> SignalGuard {
        let new_stack = libc::stack_t {
            ss_sp: altstack.as_mut_ptr() as *mut c_void,
            ss_flags: 0,
            ss_size: altstack.len(),
        };
        // SAFETY: sigaltstack/sigaction only read the structures we pass and
        // write the old values into properly sized locals. The alternate
        // stack buffer outlives the guard (it is owned by `Shared`, whose
        // mutex is held for the whole run).
        unsafe {
            let mut old_stack: libc::stack_t = std::mem::zeroed();
            assert_eq!(
                libc::sigaltstack(&new_stack, &mut old_stack),
                0,
                "sigaltstack"
            );
            let mut old_actions = Vec::new();
            for sig in HANDLED_SIGNALS {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut act.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                assert_eq!(libc::sigaction(sig, &act, &mut old), 0, "sigaction");
                old_actions.push((sig, old));
            }
            SignalGuard {
                old_actions,
                old_stack,
            }
        }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // SAFETY: restoring the exact values the kernel gave us in `install`.
        unsafe {
            for (sig, old) in &self.old_actions {
                libc::sigaction(*sig, old, ptr::null_mut());
            }
            libc::sigaltstack(&self.old_stack, ptr::null_mut());
        }
    }
}

/// Signal handler. Touches no thread-local storage: FS may hold the
/// snippet's data segment when it runs.
extern "C" fn on_signal(sig: libc::c_int, _info: *mut libc::siginfo_t, uctx: *mut c_void) {
    let region = ACTIVE.load(Ordering::SeqCst);
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid, writable
    // ucontext_t as the third argument.
    let uc = unsafe { &mut *(uctx as *mut libc::ucontext_t) };
    let g = &mut uc.uc_mcontext.gregs;
    let csgsfs = g[libc::REG_CSGSFS as usize] as u64;
    let cs = (csgsfs & 0xFFFF) as u16;
    let rip = g[libc::REG_RIP as usize] as u64;
    // Only our trampolines run outside 64-bit mode in this process, and runs
    // are serialised: any non-64-bit context interrupted while a run is
    // active is the snippet (or its prologue/epilogue).
    let ours = region != 0 && cs != SEL_USER_CS64;
    if !ours {
        if sig == libc::SIGALRM {
            // alarm() is process-directed: pass the watchdog on to the thread
            // running the snippet.
            if region != 0 {
                // SAFETY: RUN_TID lies inside the live control block.
                let tid = unsafe { ptr::read_volatile((region + RUN_TID as usize) as *const i32) };
                // SAFETY: getpid/gettid/tgkill are async-signal-safe syscalls;
                // this runs on a thread with its normal FS base.
                unsafe {
                    if tid != 0 && libc::gettid() != tid {
                        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGALRM);
                    }
                }
            }
        } else {
            // Not a fault of a snippet: let the default action happen when
            // the faulting instruction re-executes.
            // SAFETY: resetting a signal disposition is async-signal-safe.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
        return;
    }
    let base = region as *mut u8;
    let put = |off: u32, v: u32| {
        // SAFETY: `base` is the live, writable region (ACTIVE is only set
        // while the owning mutex is held); offsets are inside the control
        // block.
        unsafe { ptr::write_volatile(base.add(off as usize) as *mut u32, v) }
    };
    let order = [
        libc::REG_RAX,
        libc::REG_RCX,
        libc::REG_RDX,
        libc::REG_RBX,
        libc::REG_RSP,
        libc::REG_RBP,
        libc::REG_RSI,
        libc::REG_RDI,
    ];
    for (i, r) in order.iter().enumerate() {
        put(OUT_GPR + 4 * i as u32, g[*r as usize] as u32);
    }
    put(OUT_EFLAGS, g[libc::REG_EFL as usize] as u32);
    put(TRAPNO, g[libc::REG_TRAPNO as usize] as u32);
    put(ERR, g[libc::REG_ERR as usize] as u32);
    put(FAULT_EIP, rip as u32);
    put(FAULT_CS, u32::from(cs));
    put(FAULT_SIG, sig as u32);
    let fp = uc.uc_mcontext.fpregs as *const u8;
    if !fp.is_null() {
        // SAFETY: `fpregs` points to the 512-byte FXSAVE image in the
        // signal frame; FX_OUT is a 512-byte slot in the region.
        unsafe { ptr::copy_nonoverlapping(fp, base.add(FX_OUT as usize), 512) };
        put(FX_VALID, 1);
    }
    put(FAULTED, if sig == libc::SIGALRM { 2 } else { 1 });
    // Resume in the 64-bit return stub on the host stack.
    // SAFETY: reading the saved host RSP/SS from the control block.
    let (host_rsp, host_ss) = unsafe {
        (
            ptr::read_volatile(base.add(HOST_RSP as usize) as *const u64),
            ptr::read_volatile(base.add(HOST_SS as usize) as *const u16),
        )
    };
    g[libc::REG_RIP as usize] = (region + RET64 as usize) as i64;
    g[libc::REG_RSP as usize] = host_rsp as i64;
    // IF and bit 1 only: no TF, AC, NT or DF leaks back into the host.
    g[libc::REG_EFL as usize] = 0x202;
    let csgsfs =
        (csgsfs & 0x0000_FFFF_FFFF_0000) | u64::from(SEL_USER_CS64) | (u64::from(host_ss) << 48);
    g[libc::REG_CSGSFS as usize] = csgsfs as i64;
}

fn fpu_to_fxsave(f: &FpuState) -> [u8; 512] {
    let mut fx = [0u8; 512];
    fx[0..2].copy_from_slice(&f.control.to_le_bytes());
    fx[2..4].copy_from_slice(&f.status.to_le_bytes());
    let mut abridged = 0u8;
    for phys in 0..8 {
        if (f.tag >> (2 * phys)) & 3 != 3 {
            abridged |= 1 << phys;
        }
    }
    fx[4] = abridged;
    fx[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
    for (i, r) in f.st.iter().enumerate() {
        fx[32 + 16 * i..32 + 16 * i + 10].copy_from_slice(r);
    }
    fx
}

fn fxsave_to_fpu(fx: &[u8]) -> FpuState {
    let mut f = FpuState {
        control: u16::from_le_bytes([fx[0], fx[1]]),
        status: u16::from_le_bytes([fx[2], fx[3]]),
        tag: 0,
        st: [[0; 10]; 8],
    };
    for (i, r) in f.st.iter_mut().enumerate() {
        r.copy_from_slice(&fx[32 + 16 * i..32 + 16 * i + 10]);
    }
    let mut tag = 0u16;
    for phys in 0..8 {
        if fx[4] & (1 << phys) == 0 {
            tag |= 3 << (2 * phys);
        }
    }
    f.tag = tag;
    f.derive_tag();
    f
}

/// Runs cases on the host CPU.
///
/// All `NativeEngine`s share one set of mappings and LDT entries; runs are
/// serialised by a process-wide mutex, so engines may be used from several
/// threads.
pub struct NativeEngine {
    _private: (),
}

impl NativeEngine {
    /// Sets up (once per process) the low mappings and LDT entries.
    /// Fails if `modify_ldt` or 16-bit segments are unavailable.
    pub fn new() -> Result<NativeEngine, String> {
        match SHARED.get_or_init(|| Shared::new().map(Mutex::new)) {
            Ok(_) => Ok(NativeEngine { _private: () }),
            Err(e) => Err(e.clone()),
        }
    }
}

impl ExecEngine for NativeEngine {
    fn run(&mut self, case: &Case) -> Outcome {
        let shared = SHARED
            .get()
            .and_then(|r| r.as_ref().ok())
            .expect("NativeEngine exists only after successful setup");
        // A panic inside a previous run (e.g. the watchdog) happens after the
        // native state was restored, so a poisoned lock is still usable.
        let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
        sh.run(case)
    }
}
