; exceptions.asm - every exception that ring 0 (and a little ring 3) can
; provoke, in 32-bit protected mode with a full IDT: vector, error code (when
; the vector has one), pushed CS:EIP (faults: the faulting instruction; traps:
; the next one) and, for same-privilege delivery, the frame size.
;
; SDM references (Intel 64 and IA-32 SDM Vol. 3A unless noted):
;   6.3/Table 6-1  vectors; 6.5 faults vs traps (saved EIP)
;   6.6  Table 6-2 priority among simultaneous exceptions
;   6.12.1 stack frame; 6.13 error code (EXT, IDT, TI bits)
;   6.11/6.12.1.1 IDT limit and gate checks: #GP(vector*8+2)
;   6.15 per-vector reference ("Interrupt 0" .. "Interrupt 17"), Table 6-5
;        (conditions for generating a double fault)
;   7.3 Table 7-1 task-switch checks (#TS before/after the commit point)
;   17.2.4/17.3.1 debug registers, DR6 bits, single-step, INT1
;   Vol. 1 8.1/8.7 x87 FPU exceptions with CR0.NE=1 (#MF at the next waiting
;        x87 instruction); Vol. 3A 2.5 CR0 (TS, EM, MP, NE, AM) and CR4
;   Vol. 2 BOUND, INTO, INT n/INT3/INT1, UD2, LOCK ("#UD if the LOCK prefix is
;        used with an instruction that is not lockable or has no memory
;        destination"), MOV CRn, 2.3.11 instruction length limit (15 bytes)
%define ROMNAME "exceptions"
%include "defs.inc"
%include "rm.inc"
%include "pm.inc"

V_TMP       equ SCRATCH + 0x00
V_FPENV     equ SCRATCH + 0x40      ; 28-byte FSTENV image
V_BOUNDS    equ SCRATCH + 0x80      ; BOUND operand: lower, upper
V_TS_DONE   equ SCRATCH + 0x90
V_TS_ERR    equ SCRATCH + 0x94
V_TS_EIP    equ SCRATCH + 0x98
V_TS_LINK   equ SCRATCH + 0x9C

S_NP        equ 0x40        ; not-present data segment
S_TSSB      equ 0x48        ; TSS whose LDT field is not an LDT
S_TSSS      equ 0x50        ; TSS descriptor with limit 60h (< 67h)
S_STK       equ 0x58        ; stack segment, limit 7FFFFh
S_TSSH      equ 0x60        ; #TS handler task
TSSB_BASE   equ 0x30000
TSSS_BASE   equ 0x31000
TSSH_BASE   equ 0x32000

PD_BASE     equ 0x100000
PT_BASE     equ 0x101000

main:
    POST 0x20
    ENTER_PM
    mov eax, cr0
    or eax, (1 << 5) | (1 << 1)          ; NE=1 (native #MF), MP=1
    and eax, ~((1 << 2) | (1 << 3))     ; EM=0, TS=0
    mov cr0, eax
    fninit

    ; ---- #DE (6.15 Interrupt 0: fault) -----------------------------------------
    POST 0x21
    mov eax, 1234
    xor edx, edx
    xor ecx, ecx
    ARM .de1_r
.de1_f:
    div ecx
.de1_r:
    RECOVERED
    CHECK_EXC0 "DIV by 0 -> #DE", 0, .de1_f

    mov eax, 0x80000000
    mov edx, 0xFFFFFFFF                 ; EDX:EAX = -2^31
    mov ecx, -1
    ARM .de2_r
.de2_f:
    idiv ecx                            ; +2^31 does not fit
.de2_r:
    RECOVERED
    CHECK_EXC0 "IDIV overflow -> #DE", 0, .de2_f

    ; ---- #DB (17.3.1.4 single-step: trap after the instruction following the
    ; one that set TF; DR6.BS) --------------------------------------------------
    POST 0x22
    xor eax, eax
    mov dr6, eax
    ARM .db1_r
    pushfd
    or dword [esp], FL_TF
    popfd
    nop                                 ; the first instruction executed with TF=1
.db1_next:
    nop
.db1_r:
    RECOVERED
    CHECK_EXC0 "single-step -> #DB trap after one instruction", 1, .db1_next
    CHECKM "single-step: pushed EFLAGS.TF = 1", [EXC_FRAME+8], FL_TF, FL_TF
    mov eax, dr6
    CHECKM "single-step: DR6.BS", eax, 0x4000, 0x4000

    ; INT1 / ICEBP (F1h): #DB as a trap, EIP after the instruction (17.3.1.5 / Vol. 2 INT n)
    ARM .db2_r
    db 0xF1
.db2_next:
    nop
.db2_r:
    RECOVERED
    CHECK_EXC0 "INT1 (F1h) -> #DB, EIP after F1", 1, .db2_next

    ; ---- #BP (Interrupt 3: trap) ------------------------------------------------
    POST 0x23
    ARM .bp1_r
    int3
.bp1_next:
    nop
.bp1_r:
    RECOVERED
    CHECK_EXC0 "INT3 (CCh) -> #BP, EIP after INT3", 3, .bp1_next

    ARM .bp2_r
    int 3                               ; two-byte form CD 03
.bp2_next:
    nop
.bp2_r:
    RECOVERED
    CHECK_EXC0 "INT 3 (CD 03) -> vector 3, EIP after it", 3, .bp2_next

    ; ---- #OF (Interrupt 4: INTO, trap) -------------------------------------------
    mov al, 0x7F
    add al, 1                           ; OF=1
    ARM .of1_r
    into
.of1_next:
    nop
.of1_r:
    RECOVERED
    CHECK_EXC0 "INTO with OF=1 -> #OF, EIP after INTO", 4, .of1_next

    xor eax, eax                        ; OF=0
    ARM .of2_r
    into
.of2_r:
    RECOVERED
    CHECK "INTO with OF=0: no exception", [EXC_VEC], NOEXC

    ; ---- #BR (Interrupt 5: BOUND, fault) -----------------------------------------
    POST 0x24
    mov dword [V_BOUNDS], 10
    mov dword [V_BOUNDS+4], 20
    mov eax, 30
    ARM .br1_r
.br1_f:
    bound eax, [V_BOUNDS]
.br1_r:
    RECOVERED
    CHECK_EXC0 "BOUND above the upper bound -> #BR", 5, .br1_f
    mov eax, 9
    ARM .br2_r
.br2_f:
    bound eax, [V_BOUNDS]
.br2_r:
    RECOVERED
    CHECK_EXC0 "BOUND below the lower bound -> #BR", 5, .br2_f
    mov eax, 20
    ARM .br3_r
    bound eax, [V_BOUNDS]               ; bounds are inclusive
    mov eax, 10
    bound eax, [V_BOUNDS]
.br3_r:
    RECOVERED
    CHECK "BOUND at both (inclusive) bounds: no exception", [EXC_VEC], NOEXC

    ; ---- #UD (Interrupt 6: fault) --------------------------------------------------
    POST 0x25
    ARM .ud1_r
.ud1_f:
    ud2
.ud1_r:
    RECOVERED
    CHECK_EXC0 "UD2 -> #UD", 6, .ud1_f

    ARM .ud2_r
.ud2_f:
    db 0xF0, 0x90                       ; LOCK NOP: NOP is not lockable
.ud2_r:
    RECOVERED
    CHECK_EXC0 "LOCK NOP -> #UD", 6, .ud2_f

    ARM .ud3_r
.ud3_f:
    db 0xF0, 0x01, 0xD8                 ; LOCK ADD EAX,EBX: register destination
.ud3_r:
    RECOVERED
    CHECK_EXC0 "LOCK ADD reg,reg -> #UD", 6, .ud3_f

    ARM .ud4_r
    lock add [V_TMP], eax               ; memory destination: lockable
.ud4_r:
    RECOVERED
    CHECK "LOCK ADD [mem],reg: no exception", [EXC_VEC], NOEXC

    ARM .ud5_r
.ud5_f:
    db 0x8E, 0xC8                       ; MOV CS,AX (Vol. 2 MOV: #UD)
.ud5_r:
    RECOVERED
    CHECK_EXC0 "MOV CS,r16 -> #UD", 6, .ud5_f

    ; ---- #NM (Interrupt 7: fault; 2.5 CR0.TS/EM/MP; Table 2-2) -----------------------
    POST 0x26
    mov eax, cr0
    or eax, 1 << 3                      ; TS=1
    mov cr0, eax
    ARM .nm1_r
.nm1_f:
    fld1
.nm1_r:
    RECOVERED
    CHECK_EXC0 "x87 instruction with CR0.TS=1 -> #NM", 7, .nm1_f

    ARM .nm2_r                          ; TS=1, MP=1: WAIT faults too
.nm2_f:
    fwait
.nm2_r:
    RECOVERED
    CHECK_EXC0 "WAIT with CR0.TS=1 MP=1 -> #NM", 7, .nm2_f

    mov eax, cr0
    and eax, ~(1 << 1)                  ; MP=0: WAIT ignores TS
    mov cr0, eax
    ARM .nm3_r
    fwait
.nm3_r:
    RECOVERED
    CHECK "WAIT with CR0.TS=1 MP=0: no exception", [EXC_VEC], NOEXC

    clts
    mov eax, cr0
    or eax, (1 << 2) | (1 << 1)         ; EM=1 (MP=1)
    mov cr0, eax
    ARM .nm4_r
.nm4_f:
    fld1
.nm4_r:
    RECOVERED
    CHECK_EXC0 "x87 instruction with CR0.EM=1 -> #NM", 7, .nm4_f
    mov eax, cr0
    and eax, ~(1 << 2)
    mov cr0, eax

    ; ---- #MF (Interrupt 16; Vol. 1 8.7: with CR0.NE=1 an unmasked pending x87
    ; exception is reported at the next waiting x87 instruction; CS:EIP = that
    ; instruction, the x87 FPU instruction pointer = the one that caused it) --
    POST 0x27
    fninit
    push dword 0x037B                   ; default control word, ZM unmasked
    fldcw [esp]
    pop eax
    fld1
    fldz
.mf_cause:
    fdivp st1, st0                      ; 1/0: ZE pending, no fault yet
    ARM .mf_r
.mf_f:
    fwait
.mf_r:
    RECOVERED
    CHECK_EXC0 "x87 divide by zero (ZM=0, NE=1) -> #MF at the next FWAIT", 16, .mf_f
    fnstenv [V_FPENV]
    fnclex
    fninit
    CHECK "x87 divide by zero: FPU instruction pointer = the FDIVP", [V_FPENV+12], .mf_cause
    CHECKM "x87 divide by zero: FSW.ZE", [V_FPENV+4], 0x0004, 0x0004

    ; ---- #NP (Interrupt 11) -----------------------------------------------------------
    POST 0x28
    SETDESC S_NP, 0, 0xFFFFF, 0x12, 0xC
    mov ax, S_NP
    ARM .np1_r
.np1_f:
    mov ds, ax
.np1_r:
    RECOVERED
    CHECK_EXCE0 "MOV DS, not-present segment -> #NP(sel)", 11, S_NP, .np1_f

    SETGATE 0x60, pm_stubs, SEL_CODE0, 0x0E     ; P=0 interrupt gate
    ARM .np2_r
.np2_f:
    int 0x60
.np2_r:
    RECOVERED
    RESETGATE 0x60
    CHECK_EXCE0 "INT 60h, gate not present -> #NP(60h*8+2)", 11, 0x60 * 8 + 2, .np2_f

    ; ---- #SS (Interrupt 12) ------------------------------------------------------------
    POST 0x29
    SETDESC S_STK, 0, 0x7FFFF, 0x93, 0x4
    mov ax, S_STK
    mov ss, ax
    ARM .ss1_r
.ss1_f:
    mov eax, [esp + 0x1000]             ; past the SS limit
.ss1_r:
    RECOVERED
    CHECK_EXCE0 "stack access past the SS limit -> #SS(0)", 12, 0, .ss1_f

    mov ax, S_NP
    ARM .ss2_r
.ss2_f:
    mov ss, ax
.ss2_r:
    RECOVERED
    CHECK_EXCE0 "MOV SS, not-present segment -> #SS(sel)", 12, S_NP, .ss2_f

    ; ---- #GP (Interrupt 13) -------------------------------------------------------------
    POST 0x2A
    mov ax, (GDT_LIMIT + 1) | 3
    ARM .gp1_r
.gp1_f:
    mov es, ax
.gp1_r:
    RECOVERED
    CHECK_EXCE0 "MOV ES, selector past the GDT limit -> #GP(sel)", 13, GDT_LIMIT + 1, .gp1_f

    ; INT n with the gate beyond the IDT limit: #GP(n*8+2) (6.12.1.1, 6.13 IDT bit)
    push dword IDT_BASE
    push word 0x90 * 8 - 1              ; vectors 00h-8Fh only
    lidt [esp]
    add esp, 6
    ARM .gp2_r
.gp2_f:
    int 0x90
.gp2_r:
    RECOVERED
    lidt [pm_idtr]
    CHECK_EXCE0 "INT 90h beyond the IDT limit -> #GP(90h*8+2)", 13, 0x90 * 8 + 2, .gp2_f

    ; a gate with an invalid type (system type 0) -> #GP(n*8+2)
    SETGATE 0x61, pm_stubs, SEL_CODE0, 0x80
    ARM .gp3_r
.gp3_f:
    int 0x61
.gp3_r:
    RECOVERED
    RESETGATE 0x61
    CHECK_EXCE0 "INT 61h, gate of invalid type -> #GP(61h*8+2)", 13, 0x61 * 8 + 2, .gp3_f

    ; MOV CR0 with PG=1 and PE=0 (Vol. 2 MOV CRn: #GP(0)).  CR3 points at an
    ; identity map and the old CR0 is rewritten right after, so a CPU that
    ; wrongly accepts the value survives to report it.
    call paging_on
    call paging_off                     ; (leaves CR3 = the identity map)
    mov ebx, cr0
    mov eax, ebx
    and eax, ~1
    or eax, 0x80000000
    ARM .gp4_r
.gp4_f:
    mov cr0, eax
    mov cr0, ebx
.gp4_r:
    RECOVERED
    CHECK_EXCE0 "MOV CR0 with PG=1 PE=0 -> #GP(0)", 13, 0, .gp4_f

    ; an instruction longer than 15 bytes -> #GP(0) (Vol. 2 2.3.11)
    ARM .gp6_r
.gp6_f:
    times 15 db 0x66                    ; 15 operand-size prefixes + NOP = 16 bytes
    nop
.gp6_r:
    RECOVERED
    CHECK_EXCE0 "16-byte instruction -> #GP(0)", 13, 0, .gp6_f

    ; ---- #TS (Interrupt 10; 7.3 Table 7-1) ------------------------------------------------
    POST 0x2B
    ; (a) a TSS descriptor whose limit is below 67h: #TS(TSS selector), a fault
    ; in the old task (checked before the commit point)
    SETDESC S_TSSS, TSSS_BASE, 0x60, 0x89, 0x0
    ARM .ts1_r
.ts1_f:
    jmp S_TSSS:0
.ts1_r:
    RECOVERED
    CHECK_EXCE0 "JMP to a TSS with limit 60h -> #TS(TSS sel)", 10, S_TSSS, .ts1_f

    ; (b) a TSS whose LDT selector points at a data descriptor: #TS(LDT
    ; selector), raised after the commit point, i.e. in the context of the new
    ; task: CS:EIP are the new task's first instruction (6.15 Interrupt 10
    ; "Saved Instruction Pointer").  After the commit point the segment
    ; registers hold unchecked selectors, so -- as 6.15 recommends -- #TS is
    ; handled through a task gate to a handler task with its own state.
    mov edi, TSSB_BASE
    mov ecx, 0x68 / 4
    xor eax, eax
    rep stosd
    mov dword [TSSB_BASE + 0x20], tsb_entry ; EIP
    mov dword [TSSB_BASE + 0x24], 2         ; EFLAGS
    mov dword [TSSB_BASE + 0x38], 0xE000    ; ESP
    mov dword [TSSB_BASE + 0x48], SEL_DATA0 ; ES
    mov dword [TSSB_BASE + 0x4C], SEL_CODE0 ; CS
    mov dword [TSSB_BASE + 0x50], SEL_DATA0 ; SS
    mov dword [TSSB_BASE + 0x54], SEL_DATA0 ; DS
    mov dword [TSSB_BASE + 0x58], SEL_DATA0 ; FS
    mov dword [TSSB_BASE + 0x5C], SEL_DATA0 ; GS
    mov dword [TSSB_BASE + 0x60], SEL_DATA0 ; LDT: not an LDT descriptor
    mov dword [TSSB_BASE + 0x64], 0x00680000 ; I/O map base = 68h (none)
    SETDESC S_TSSB, TSSB_BASE, 0x67, 0x89, 0x0
    ; the #TS handler task
    mov edi, TSSH_BASE
    mov ecx, 0x68 / 4
    xor eax, eax
    rep stosd
    mov dword [TSSH_BASE + 0x20], ts_task   ; EIP
    mov dword [TSSH_BASE + 0x24], 2         ; EFLAGS
    mov dword [TSSH_BASE + 0x38], 0xD000    ; ESP
    mov dword [TSSH_BASE + 0x48], SEL_DATA0
    mov dword [TSSH_BASE + 0x4C], SEL_CODE0
    mov dword [TSSH_BASE + 0x50], SEL_DATA0
    mov dword [TSSH_BASE + 0x54], SEL_DATA0
    mov dword [TSSH_BASE + 0x58], SEL_DATA0
    mov dword [TSSH_BASE + 0x5C], SEL_DATA0
    mov dword [TSSH_BASE + 0x64], 0x00680000
    SETDESC S_TSSH, TSSH_BASE, 0x67, 0x89, 0x0
    SETGATE 10, 0, S_TSSH, 0x85             ; task gate, DPL 0
    mov dword [V_TS_DONE], 0
    ARM ts_back
    jmp S_TSSB:0
ts_back:
    RECOVERED
    push dword 2                        ; the handler task ran with NT=1
    popfd
    clts                                ; task switches set CR0.TS
    RESETGATE 10
    ; back to TSS0 (the JMP cleared its busy bit); free TSS B and H
    SETDESC S_TSSB, TSSB_BASE, 0x67, 0x89, 0x0
    SETDESC S_TSSH, TSSH_BASE, 0x67, 0x89, 0x0
    mov ax, SEL_TSS0
    ltr ax
    CHECK "bad LDT in the new TSS: #TS handler task ran (vector 10 via task gate)", [V_TS_DONE], 1
    CHECK "bad LDT in the new TSS: harness saw no other exception", [EXC_VEC], NOEXC
    CHECK "bad LDT in the new TSS: #TS error code = LDT selector", [V_TS_ERR], SEL_DATA0
    CHECK "bad LDT in the new TSS: faulting task's saved EIP = its first instruction", [V_TS_EIP], tsb_entry
    CHECK "bad LDT in the new TSS: handler's back link = the new task", [V_TS_LINK], S_TSSB

    ; ---- #PF (Interrupt 14; paging.asm covers more) ---------------------------------------
    POST 0x2C
    call paging_on
    ARM .pf1_r
.pf1_f:
    mov eax, [0x300010]                 ; not-present page, read, CPL 0
.pf1_r:
    RECOVERED
    mov eax, cr2
    mov [V_TMP], eax
    CHECK_EXCE0 "read of a not-present page -> #PF(0)", 14, 0, .pf1_f
    CHECK "read of a not-present page: CR2", [V_TMP], 0x300010
    ARM .pf2_r
.pf2_f:
    mov byte [0x300FFF], 1              ; not-present page, write
.pf2_r:
    RECOVERED
    mov eax, cr2
    mov [V_TMP], eax
    CHECK_EXCE0 "write to a not-present page -> #PF(2)", 14, 2, .pf2_f
    CHECK "write to a not-present page: CR2", [V_TMP], 0x300FFF
    call paging_off

    ; ---- #AC (Interrupt 17: CR0.AM=1, EFLAGS.AC=1, CPL 3, misaligned) ---------------------
    POST 0x2D
    mov eax, cr0
    or eax, 1 << 18                     ; AM
    mov cr0, eax
    pushfd
    or dword [esp], FL_AC
    popfd
    ARM .ac0_r
    mov eax, [0x50001]                  ; CPL 0: never checked
.ac0_r:
    RECOVERED
    CHECK "misaligned access at CPL 0 with AM=AC=1: no exception", [EXC_VEC], NOEXC
    RING3 r3_ac, FL_AC | 2
    CHECK_EXCE "misaligned dword read at CPL 3 with AM=AC=1 -> #AC(0)", 17, 0, r3_ac.f
    ONVEC 17
    CHECK "#AC: pushed CS = ring-3 code", [EXC_FRAME+8], SEL_CODE3 | 3
    ENDVEC
    mov eax, cr0
    and eax, ~(1 << 18)
    mov cr0, eax

    ; ---- double fault (6.15 Interrupt 8, Table 6-5) ----------------------------------------
    POST 0x2E
    ; #GP whose gate is not present: the #NP raised while delivering a
    ; contributory exception is contributory too -> #DF, error code 0
    SETGATE 13, pm_stubs, SEL_CODE0, 0x0E
    mov ax, (GDT_LIMIT + 1)
    ARM .df1_r
    mov es, ax
.df1_r:
    RECOVERED
    RESETGATE 13
    CHECK "#GP with a not-present gate -> #DF: vector", [EXC_VEC], 8
    CHECK "#GP with a not-present gate -> #DF: error code 0", [EXC_FRAME], 0
    CHECK "#GP with a not-present gate -> #DF: one handler invocation", [EXC_COUNT], 1

    SETGATE 0, pm_stubs, SEL_CODE0, 0x0E
    xor ecx, ecx
    ARM .df2_r
    div ecx
.df2_r:
    RECOVERED
    RESETGATE 0
    CHECK "#DE with a not-present gate -> #DF: vector", [EXC_VEC], 8
    CHECK "#DE with a not-present gate -> #DF: error code 0", [EXC_FRAME], 0

    ; benign first event: handled serially, no #DF.  INT3's not-present gate
    ; gives #NP(3*8+2), EXT=0 (software interrupt), EIP of the INT3.
    SETGATE 3, pm_stubs, SEL_CODE0, 0x0E
    ARM .df3_r
.df3_f:
    int3
.df3_r:
    RECOVERED
    RESETGATE 3
    CHECK_EXCE0 "INT3 with a not-present gate -> #NP(1Ah), not #DF", 11, 3 * 8 + 2, .df3_f

    ; #UD (benign) with a not-present gate: #NP with EXT=1 (the event being
    ; delivered is not a software interrupt: 6.13) -> error 6*8+2+1
    SETGATE 6, pm_stubs, SEL_CODE0, 0x0E
    ARM .df4_r
.df4_f:
    ud2
.df4_r:
    RECOVERED
    RESETGATE 6
    CHECK_EXCE0 "#UD with a not-present gate -> #NP(33h) (EXT=1)", 11, 6 * 8 + 3, .df4_f

    ; ---- priority (6.6 Table 6-2) ---------------------------------------------------------
    POST 0x2F
    ; a trap from the previous instruction (single-step, priority 4) comes
    ; before a fault decoding the next one (#UD, priority 9)
    xor eax, eax
    mov dr6, eax
    ARM .pr1_r
    pushfd
    or dword [esp], FL_TF
    popfd
    nop
.pr1_ud:
    ud2
.pr1_r:
    RECOVERED
    CHECK_EXC0 "single-step trap before the next instruction's #UD", 1, .pr1_ud

    ; a code breakpoint (DR0, execute, fault, priority 7) comes before #UD
    ; (priority 9) at the same instruction; DR6.B0 set
    xor eax, eax
    mov dr6, eax
    mov eax, .pr2_ud
    mov dr0, eax
    mov eax, 0x00000001                 ; L0=1, R/W0=00 (execute), LEN0=00
    mov dr7, eax
    ARM .pr2_r
    nop
.pr2_ud:
    ud2
.pr2_r:
    RECOVERED
    xor eax, eax
    mov dr7, eax
    mov eax, dr6
    mov [V_TMP], eax
    CHECK_EXC0 "code breakpoint on UD2 -> #DB (fault) before #UD", 1, .pr2_ud
    CHECKM "code breakpoint: DR6.B0", [V_TMP], 1, 1

    ; ---- last: setting a reserved CR4 bit (bit 15) -> #GP(0) (2.5 CR4;
    ; Vol. 2 MOV CRn).  Kept last because QEMU 7.2 TCG hangs here (it
    ; re-executes the MOV forever instead of raising #GP).
    POST 0x30
    mov eax, cr4
    or eax, 1 << 15
    ARM .gp5_r
.gp5_f:
    mov cr4, eax
.gp5_r:
    RECOVERED
    CHECK_EXCE0 "MOV CR4 with reserved bit 15 set -> #GP(0)", 13, 0, .gp5_f

    jmp pm_finish

; never reached: the new task faults before its first instruction
tsb_entry:
    jmp pm_finish

; #TS handler task (entered through the task gate at vector 10): records the
; error code on its stack, the faulting task's saved EIP and its own back
; link, then resumes the main flow at ts_back (which repairs TR).
ts_task:
    mov eax, [esp]
    mov [V_TS_ERR], eax
    mov eax, [TSSB_BASE + 0x20]
    mov [V_TS_EIP], eax
    movzx eax, word [TSSH_BASE]
    mov [V_TS_LINK], eax
    mov dword [V_TS_DONE], 1
    jmp ts_back

; ring-3: misaligned read with AC=1
r3_ac:
    mov ax, SEL_DATA3 | 3
    mov ds, ax
.f: mov eax, [0x50001]
    int RET0_VEC

; identity-map 0-4 MiB with 4 KiB pages (U/S=1, R/W=1), page 300000h absent
paging_on:
    pushad
    mov edi, PD_BASE
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [PD_BASE], PT_BASE | 7
    mov edi, PT_BASE
    mov eax, 7
    mov ecx, 1024
.l: stosd
    add eax, 0x1000
    loop .l
    mov dword [PT_BASE + (0x300000 >> 12) * 4], 0
    mov eax, PD_BASE
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    popad
    ret

paging_off:
    push eax
    mov eax, cr0
    and eax, ~0x80000000
    mov cr0, eax
    pop eax
    ret

    ROM_END
