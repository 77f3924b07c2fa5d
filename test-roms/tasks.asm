; tasks.asm - hardware task switching (32-bit and 16-bit TSSs).
;
; Runs with paging enabled and two page directories, so that loading CR3 from
; a TSS is observable: linear 400000h maps to physical 600000h in task A's
; directory and to 500000h in task B's.
;
; SDM references (Intel 64 and IA-32 SDM Vol. 3A):
;   7.2.1 TSS fields (CR3/PDBR, LDT selector, previous-task link, ESP0..)
;   7.2.2 TSS descriptor and its busy flag; LTR marks the TSS busy
;   7.2.5 task-gate descriptors (GDT and IDT)
;   7.3   task switching: state saved into the old TSS (general registers,
;         segment selectors, EFLAGS, EIP -- not CR3 or LDTR), state loaded from
;         the new one (LDTR, CR3 when paging is on, EFLAGS, EIP, registers,
;         segments); CR0.TS set on every task switch; #GP(sel) for a CALL/JMP
;         to a busy TSS
;   7.4   task linking: Table 7-2 (busy flags, NT, back link) for JMP, CALL,
;         exceptions/interrupts through a task gate, and IRET with NT=1
;   6.11/6.12.2 interrupt/exception handling through a task gate: the error
;         code is pushed on the handler task's stack
;   6.15  Interrupt 8 (#DF) -- Table 6-5: a #PF while delivering a #PF is a
;         double fault; handled by a task to get a known-good stack
;   7.6   16-bit (286) TSS format
%define ROMNAME "tasks"
%include "defs.inc"
%include "rm.inc"
%include "pm.inc"

S_TSSB      equ 0x40        ; task B (JMP target), own CR3 and LDT
S_LDTB      equ 0x48        ; LDT of task B
S_TSSC      equ 0x50        ; task C (reached through a task gate by CALL)
S_TGATEC    equ 0x58        ; task gate -> S_TSSC
S_TSSE      equ 0x60        ; #UD handler task
S_TSSD      equ 0x68        ; #DF handler task
S_TSS16     equ 0x70        ; 16-bit TSS

TSSB_BASE   equ 0x30000
TSSC_BASE   equ 0x31000
TSSE_BASE   equ 0x32000
TSSD_BASE   equ 0x33000
TSS16_BASE  equ 0x34000
LDTB_BASE   equ 0x35000
LDTB_DATA   equ 0x36000     ; base of the data segment described in LDT B

PD_A        equ 0x100000
PT0         equ 0x101000    ; identity 0-4 MiB, shared
PT_A1       equ 0x102000
PD_B        equ 0x103000
PT_B1       equ 0x104000
STACK_BAD   equ 0x3F0000    ; not-present page (the #DF test's stack)

V_B         equ SCRATCH + 0x000 ; task B: EAX TR LDTR CR3 MARK LDTMARK EFLAGS CR0 TYPE0 TYPEB
V_A         equ SCRATCH + 0x040 ; task A after resuming: EAX EBX ECX EDX ESI EDI EBP
V_C         equ SCRATCH + 0x080 ; task C: EFLAGS LINK TYPE0 TYPEC TR
V_E         equ SCRATCH + 0x0C0 ; #UD task: SAVED_EIP LINK EFLAGS ESP TR
V_D         equ SCRATCH + 0x100 ; #DF task: ERR ESP LINK EFLAGS TR CR2 SAVED_ESP
V_16        equ SCRATCH + 0x140 ; 16-bit task: AX TR
V_TMP       equ SCRATCH + 0x180
V_SAVED_ESP equ SCRATCH + 0x184

; TYPE sel -> EAX = type nibble of the GDT descriptor (9 = available, B = busy)
%macro TYPE 1
    movzx eax, byte [GDT_BASE + (%1) + 5]
    and eax, 0x0F
%endmacro

main:
    POST 0x40
    ENTER_PM
    ; ---- page tables; markers at 500000h and 600000h ---------------------------
    mov dword [0x500000], 0xBBBB0001
    mov dword [0x600000], 0xAAAA0001
    mov dword [LDTB_DATA], 0x1D71D701
    mov edi, PD_A
    mov ecx, 0x5000 / 4
    xor eax, eax
    rep stosd                           ; PD_A, PT0, PT_A1, PD_B, PT_B1
    mov edi, PT0
    mov eax, 3
    mov ecx, 1024
.pt0:
    stosd
    add eax, 0x1000
    loop .pt0
    mov dword [PT0 + (STACK_BAD >> 12) * 4], 0
    mov dword [PD_A], PT0 | 3
    mov dword [PD_A + 4], PT_A1 | 3
    mov dword [PT_A1], 0x600000 | 3
    mov dword [PD_B], PT0 | 3
    mov dword [PD_B + 4], PT_B1 | 3
    mov dword [PT_B1], 0x500000 | 3
    mov eax, PD_A
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [TSS0_BASE + 0x1C], PD_A  ; task A's CR3, loaded when A resumes
    CHECK "paging: task A sees 600000h at 400000h", [0x400000], 0xAAAA0001

    ; LTR marked TSS0 busy (7.2.2)
    TYPE SEL_TSS0
    CHECK "LTR sets the busy bit of the TSS descriptor", eax, 0xB

    ; ---- TSSs and descriptors --------------------------------------------------
    mov edi, TSSB_BASE
    mov eax, task_b
    mov ebx, 0x8D000
    mov ecx, PD_B
    mov edx, S_LDTB
    call init_tss32
    mov dword [TSSB_BASE + 0x28], 0xB0B0B0B0    ; EAX
    SETDESC S_TSSB, TSSB_BASE, 0x67, 0x89, 0x0
    ; LDT B: entry 1 (selector 0Ch) = data segment at LDTB_DATA
    mov dword [LDTB_BASE], 0
    mov dword [LDTB_BASE + 4], 0
    mov dword [LDTB_BASE + 8], 0x0000FFFF | ((LDTB_DATA & 0xFFFF) << 16)
    mov dword [LDTB_BASE + 12], ((LDTB_DATA >> 16) & 0xFF) | 0x00409200
    SETDESC S_LDTB, LDTB_BASE, 0x0F, 0x82, 0x0

    mov edi, TSSC_BASE
    mov eax, task_c
    mov ebx, 0x8C000
    mov ecx, PD_A
    xor edx, edx
    call init_tss32
    SETDESC S_TSSC, TSSC_BASE, 0x67, 0x89, 0x0
    SETCALLGATE S_TGATEC, 0, S_TSSC, 0x85, 0    ; task gate, DPL 0

    mov edi, TSSE_BASE
    mov eax, task_e
    mov ebx, 0x8B000
    mov ecx, PD_A
    xor edx, edx
    call init_tss32
    SETDESC S_TSSE, TSSE_BASE, 0x67, 0x89, 0x0

    mov edi, TSSD_BASE
    mov eax, task_d
    mov ebx, 0x8A000
    mov ecx, PD_A
    xor edx, edx
    call init_tss32
    SETDESC S_TSSD, TSSD_BASE, 0x67, 0x89, 0x0

    ; 16-bit TSS (7.6): link, SP0 SS0 SP1 SS1 SP2 SS2, IP FLAGS AX CX DX BX SP
    ; BP SI DI, ES CS SS DS, LDT -- 44 bytes
    mov edi, TSS16_BASE
    mov ecx, 44 / 4
    xor eax, eax
    rep stosd
    mov word [TSS16_BASE + 14], R(task16)       ; IP
    mov word [TSS16_BASE + 16], 2               ; FLAGS
    mov word [TSS16_BASE + 18], 0x1616          ; AX
    mov word [TSS16_BASE + 26], 0xA000          ; SP
    mov word [TSS16_BASE + 34], SEL_DATA16      ; ES
    mov word [TSS16_BASE + 36], SEL_CODE16      ; CS (base F0000h)
    mov word [TSS16_BASE + 38], SEL_DATA16      ; SS
    mov word [TSS16_BASE + 40], SEL_DATA16      ; DS
    SETDESC S_TSS16, TSS16_BASE, 0x2B, 0x81, 0x0    ; available 286 TSS

    ; ---- far JMP to a TSS (7.3, Table 7-2 "JMP") -----------------------------------
    POST 0x41
    mov eax, 0x11111111
    mov ebx, 0x22222222
    mov ecx, 0x33333333
    mov edx, 0x44444444
    mov esi, 0x55555555
    mov edi, 0x66666666
    mov ebp, 0x77777777
    ARM .a_resume                       ; (only used if something faults)
    jmp S_TSSB:0
.a_resume:                              ; task B jumps back here
    mov [V_A + 0], eax
    mov [V_A + 4], ebx
    mov [V_A + 8], ecx
    mov [V_A + 12], edx
    mov [V_A + 16], esi
    mov [V_A + 20], edi
    mov [V_A + 24], ebp
    mov eax, cr0
    mov [V_TMP], eax
    RECOVERED
    clts
    CHECK "JMP to TSS B: task B ran and jumped back (no exception)", [EXC_VEC], NOEXC
    CHECK "task B: EAX loaded from its TSS", [V_B + 0], 0xB0B0B0B0
    CHECK "task B: TR = B", [V_B + 4], S_TSSB
    CHECK "task B: LDTR loaded from its TSS", [V_B + 8], S_LDTB
    CHECK "task B: CR3 loaded from its TSS", [V_B + 12], PD_B
    CHECK "task B: 400000h maps to 500000h under its CR3", [V_B + 16], 0xBBBB0001
    CHECK "task B: LDT selector 0Ch uses B's LDT", [V_B + 20], 0x1D71D701
    CHECKM "task B: NT = 0 after JMP", [V_B + 24], FL_NT, 0
    CHECKM "task B: CR0.TS set by the task switch", [V_B + 28], 8, 8
    CHECK "task B: old task's (A's) busy bit cleared by JMP", [V_B + 32], 9
    CHECK "task B: new task's (B's) busy bit set", [V_B + 36], 0xB
    CHECK "back in A: EAX restored from A's TSS", [V_A + 0], 0x11111111
    CHECK "back in A: EBX restored", [V_A + 4], 0x22222222
    CHECK "back in A: ECX restored", [V_A + 8], 0x33333333
    CHECK "back in A: EDX restored", [V_A + 12], 0x44444444
    CHECK "back in A: ESI restored", [V_A + 16], 0x55555555
    CHECK "back in A: EDI restored", [V_A + 20], 0x66666666
    CHECK "back in A: EBP restored", [V_A + 24], 0x77777777
    CHECKM "back in A: CR0.TS set by the task switch", [V_TMP], 8, 8
    CHECK "A's TSS: saved EIP = after the JMP", [TSS0_BASE + 0x20], .a_resume
    CHECK "A's TSS: saved EAX", [TSS0_BASE + 0x28], 0x11111111
    CHECK "A's TSS: saved EBP", [TSS0_BASE + 0x3C], 0x77777777
    CHECK "A's TSS: saved CS", [TSS0_BASE + 0x4C], SEL_CODE0
    CHECK "B's TSS: saved EIP = after B's JMP", [TSSB_BASE + 0x20], task_b.after
    CHECK "B's TSS: saved EDI", [TSSB_BASE + 0x44], 0xD1D1D1D1
    CHECK "B's TSS: previous-task link untouched by JMP", [TSSB_BASE + 0], 0
    TYPE S_TSSB
    CHECK "back in A: B's busy bit cleared", eax, 9
    TYPE SEL_TSS0
    CHECK "back in A: A's busy bit set", eax, 0xB
    mov eax, cr3
    CHECK "back in A: CR3 reloaded from A's TSS", eax, PD_A
    CHECK "back in A: 400000h maps to 600000h again", [0x400000], 0xAAAA0001

    ; ---- CALL through a task gate, IRET back (7.4, Table 7-2 "CALL", "IRET") -------
    POST 0x42
    ARM .c_back
    call S_TGATEC:0
.c_back:
    RECOVERED
    clts
    CHECK "CALL task gate: task C ran and IRETed back (no exception)", [EXC_VEC], NOEXC
    CHECKM "task C: NT = 1 after CALL", [V_C + 0], FL_NT, FL_NT
    CHECK "task C: previous-task link = A's TSS", [V_C + 4], SEL_TSS0
    CHECK "task C: old task's (A's) busy bit stays set (CALL)", [V_C + 8], 0xB
    CHECK "task C: new task's busy bit set", [V_C + 12], 0xB
    CHECK "task C: TR = C (the gate's TSS)", [V_C + 16], S_TSSC
    TYPE S_TSSC
    CHECK "after IRET: C's busy bit cleared", eax, 9
    TYPE SEL_TSS0
    CHECK "after IRET: A's busy bit still set", eax, 0xB
    CHECKM "after IRET: NT cleared in C's saved EFLAGS", [TSSC_BASE + 0x24], FL_NT, 0
    CHECK "after IRET: C's saved EIP = after its IRET", [TSSC_BASE + 0x20], task_c.after
    pushfd
    pop eax
    CHECKM "after IRET: A runs with its own NT = 0", eax, FL_NT, 0

    ; CALL to a busy task (A itself) -> #GP(TSS selector) (7.3 step 3)
    ARM .busy_r
.busy_f:
    call SEL_TSS0:0
.busy_r:
    RECOVERED
    CHECK_EXCE0 "CALL to the busy current TSS -> #GP(sel)", 13, SEL_TSS0, .busy_f

    ; ---- exception through a task gate: #UD (6.12.2) ---------------------------------
    POST 0x43
    SETGATE 6, 0, S_TSSE, 0x85          ; IDT task gate -> #UD task
    ARM .ud_back
.ud_f:
    ud2
.ud_back:                               ; the #UD task redirects A here
    RECOVERED
    RESETGATE 6
    clts
    CHECK "#UD via task gate: handler task ran (no other exception)", [EXC_VEC], NOEXC
    CHECK "#UD via task gate: A's saved EIP = the UD2 (fault)", [V_E + 0], .ud_f
    CHECK "#UD via task gate: handler's link = A's TSS", [V_E + 4], SEL_TSS0
    CHECKM "#UD via task gate: handler runs with NT = 1", [V_E + 8], FL_NT, FL_NT
    CHECK "#UD via task gate: no error code pushed (ESP = TSS.ESP)", [V_E + 12], 0x8B000
    CHECK "#UD via task gate: TR = handler TSS", [V_E + 16], S_TSSE
    TYPE S_TSSE
    CHECK "#UD via task gate: handler's busy bit cleared by its IRET", eax, 9

    ; ---- #DF through a task gate: kernel stack overflow (6.15 Interrupt 8) --------------
    ; ESP points into a not-present page: the PUSH faults (#PF), delivering
    ; that #PF faults again on the same stack -> #DF, which only a task gate
    ; (with its own stack) can handle.
    POST 0x44
    SETGATE 8, 0, S_TSSD, 0x85
    mov [V_SAVED_ESP], esp
    ARM .df_back
    mov esp, STACK_BAD + 0x10
.df_f:
    push eax
.df_back:                               ; the #DF task redirects A here
    RECOVERED
    RESETGATE 8
    clts
    CHECK "#DF via task gate: handler task ran (no other exception)", [EXC_VEC], NOEXC
    CHECK "#DF via task gate: error code 0 on the handler task's stack", [V_D + 0], 0
    CHECK "#DF via task gate: handler ESP = its TSS.ESP - 4", [V_D + 4], 0x8A000 - 4
    CHECK "#DF via task gate: handler's link = A's TSS", [V_D + 8], SEL_TSS0
    CHECKM "#DF via task gate: handler runs with NT = 1", [V_D + 12], FL_NT, FL_NT
    CHECK "#DF via task gate: TR = handler TSS", [V_D + 16], S_TSSD
    CHECKM "#DF via task gate: CR2 in the overflowed stack page", [V_D + 20], 0xFFFFF000, STACK_BAD
    CHECK "#DF via task gate: A's saved ESP = the bad stack", [V_D + 24], STACK_BAD + 0x10

    ; ---- 16-bit TSS (7.6) ---------------------------------------------------------------
    POST 0x45
    mov ebx, 0x12345678
    ARM .t16_back
    jmp S_TSS16:0
.t16_back:
    mov [V_TMP], ebx
    RECOVERED
    clts
    CHECK "JMP to a 16-bit TSS: task ran and jumped back (no exception)", [EXC_VEC], NOEXC
    CHECK "16-bit task: AX loaded from its TSS", [V_16 + 0], 0x1616
    CHECK "16-bit task: TR", [V_16 + 4], S_TSS16
    CHECKM "16-bit TSS: saved IP = after its JMP", [TSS16_BASE + 14], 0xFFFF, R(task16.after)
    CHECKM "16-bit TSS: saved BX", [TSS16_BASE + 24], 0xFFFF, 0xB16B
    CHECK "back in A from the 16-bit task: EBX restored", [V_TMP], 0x12345678
    TYPE S_TSS16
    CHECK "16-bit TSS: busy bit cleared by JMP away (type 1)", eax, 1

    jmp pm_finish

; init_tss32: EDI = TSS base, EAX = EIP, EBX = ESP, ECX = CR3, EDX = LDT selector
init_tss32:
    pushad
    push eax
    push edi
    mov ecx, 0x68 / 4
    xor eax, eax
    rep stosd
    pop edi
    pop eax
    mov [edi + 0x20], eax
    mov dword [edi + 0x24], 2
    mov [edi + 0x38], ebx
    mov eax, [esp + 24]                 ; ECX from PUSHAD
    mov [edi + 0x1C], eax
    mov [edi + 0x60], edx
    mov dword [edi + 0x04], STACK0_TSS
    mov dword [edi + 0x08], SEL_DATA0
    mov dword [edi + 0x48], SEL_DATA0   ; ES
    mov dword [edi + 0x4C], SEL_CODE0   ; CS
    mov dword [edi + 0x50], SEL_DATA0   ; SS
    mov dword [edi + 0x54], SEL_DATA0   ; DS
    mov dword [edi + 0x58], SEL_DATA0   ; FS
    mov dword [edi + 0x5C], SEL_DATA0   ; GS
    mov word [edi + 0x66], 0x68         ; no I/O bitmap
    popad
    ret

; ---- task B ---------------------------------------------------------------------
task_b:
    mov [V_B + 0], eax
    xor eax, eax
    str ax
    mov [V_B + 4], eax
    sldt ax
    mov [V_B + 8], eax
    mov eax, cr3
    mov [V_B + 12], eax
    mov eax, [0x400000]
    mov [V_B + 16], eax
    mov ax, 0x0C                        ; LDT index 1
    mov es, ax
    mov eax, [es:0]
    mov [V_B + 20], eax
    mov ax, SEL_DATA0
    mov es, ax
    pushfd
    pop eax
    mov [V_B + 24], eax
    mov eax, cr0
    mov [V_B + 28], eax
    clts
    TYPE SEL_TSS0
    mov [V_B + 32], eax
    TYPE S_TSSB
    mov [V_B + 36], eax
    mov edi, 0xD1D1D1D1
    jmp SEL_TSS0:0
.after:
    jmp pm_finish                       ; not resumed by this test

; ---- task C (via task gate, returns with IRET) ---------------------------------------
task_c:
    pushfd
    pop eax
    mov [V_C + 0], eax
    movzx eax, word [TSSC_BASE]
    mov [V_C + 4], eax
    TYPE SEL_TSS0
    mov [V_C + 8], eax
    TYPE S_TSSC
    mov [V_C + 12], eax
    xor eax, eax
    str ax
    mov [V_C + 16], eax
    iretd                               ; NT=1: return to the linked task
.after:
    jmp pm_finish

; ---- #UD handler task ------------------------------------------------------------------
task_e:
    mov eax, [TSS0_BASE + 0x20]
    mov [V_E + 0], eax
    movzx eax, word [TSSE_BASE]
    mov [V_E + 4], eax
    pushfd
    pop eax
    mov [V_E + 8], eax
    mov [V_E + 12], esp
    xor eax, eax
    str ax
    mov [V_E + 16], eax
    mov dword [TSS0_BASE + 0x20], main.ud_back  ; resume A after the UD2
    iretd
.after:
    jmp pm_finish

; ---- #DF handler task --------------------------------------------------------------------
task_d:
    mov eax, [esp]
    mov [V_D + 0], eax
    mov [V_D + 4], esp
    movzx eax, word [TSSD_BASE]
    mov [V_D + 8], eax
    pushfd
    pop eax
    mov [V_D + 12], eax
    xor eax, eax
    str ax
    mov [V_D + 16], eax
    mov eax, cr2
    mov [V_D + 20], eax
    mov eax, [TSS0_BASE + 0x38]
    mov [V_D + 24], eax
    mov dword [TSS0_BASE + 0x20], main.df_back  ; resume A with a good stack
    mov eax, [V_SAVED_ESP]
    mov [TSS0_BASE + 0x38], eax
    add esp, 4                          ; pop the error code before IRET
    iretd
.after:
    jmp pm_finish

; ---- 16-bit task (CS = SEL_CODE16, base F0000h; DS = SEL_DATA16, base 0) ------------
    bits 16
task16:
    mov [V_16 + 0], ax
    str ax
    mov [V_16 + 4], ax
    mov bx, 0xB16B
    jmp SEL_TSS0:0
.after:
    jmp $
    bits 32

    ROM_END
