; rings.asm - privilege-level transitions.
;
; SDM references (Intel 64 and IA-32 SDM Vol. 3A unless noted):
;   5.8.5/Figure 5-13  interprivilege CALL through a call gate: stack switch
;          to SS/ESP of the target ring from the TSS, old SS:ESP pushed,
;          parameter copying (count in the gate; dwords for a 386 gate, words
;          for a 286 gate), RET n to the outer ring
;   5.8.6  returning from a called procedure: RET to an outer ring reloads
;          SS:ESP and nulls DS, ES, FS, GS when they hold a data or
;          nonconforming-code segment with DPL < the new CPL
;   6.12.1 Figure 6-4 stack usage with a privilege change (interrupt/trap
;          gate); 6.12.1.2 interrupt gate clears IF, trap gate leaves it;
;          6.12.1.1 gate DPL >= CPL for INT n/INT3/INTO, else #GP(vector*8+2)
;   6.12.1 16-bit (286) gates push 16-bit values
;   7.2.1  TSS SS0/ESP0
;   Vol. 2 IRET (return to an outer privilege level, segment nulling), RET,
;          CALL, INT n, SYSENTER/SYSEXIT (MSRs 174h-176h, flat CS/SS from
;          IA32_SYSENTER_CS, +16/+24 for SYSEXIT), CLI/STI (#GP(0) when
;          CPL > IOPL), POPF (IF/IOPL not changed when CPL > IOPL / CPL > 0),
;          IN/OUT (#GP(0) unless CPL <= IOPL or the I/O bitmap allows every
;          byte accessed)
;   Vol. 1 19.5.1/19.5.2  I/O privilege level and the I/O permission bit map
%define ROMNAME "rings"
%include "defs.inc"
%include "rm.inc"
%include "pm.inc"

S_SS0ALT    equ 0x40        ; flat data DPL 0: TSS0.SS0 (distinct from SEL_DATA0)
S_CODE0F    equ 0x48        ; 32-bit code DPL 0, base F0000h (16-bit gate targets)
S_CODE3F    equ 0x50        ; 32-bit code DPL 3, base F0000h (16-bit gate callers)
S_CG386     equ 0x58        ; 386 call gate DPL 3 -> SEL_CODE0:cg386, 2 dwords
S_CG286     equ 0x60        ; 286 call gate DPL 3 -> S_CODE0F:cg286, 2 words
S_CONF0     equ 0x68        ; conforming readable code, DPL 0
S_SYS       equ 0x70        ; IA32_SYSENTER_CS: 70 code0, 78 data0, 80 code3, 88 data3

SYS_ESP     equ 0x8E000     ; IA32_SYSENTER_ESP
SYSEXIT_ESP equ 0x5F000
STACK3_16   equ 0xF000      ; ring-3 ESP for the 16-bit gate tests (< 64K)

; record blocks (ring 0 handlers and ring-3 code write them through SS, flat)
V_R3        equ SCRATCH + 0x000 ; ring-3 view: CS SS DS ES FS GS ESP EFLAGS
V_I41       equ SCRATCH + 0x040 ; handler: ESP SS CS EFLAGS, frame[0..5]
V_I42       equ SCRATCH + 0x080
V_CG386     equ SCRATCH + 0x0C0 ; ESP SS CS, frame[0..5]
V_CG286     equ SCRATCH + 0x100 ; ESP SS CS, words IP CS P0 P1 SP SS
V_I43       equ SCRATCH + 0x140 ; ESP SS CS EFLAGS, words IP CS FLAGS SP SS
V_SYS       equ SCRATCH + 0x180 ; sysenter: CS SS ESP EFLAGS ; ring 3 after sysexit: CS SS ESP
V_AFTER     equ SCRATCH + 0x1C0 ; ring 3 after returns: various
V_TMP       equ SCRATCH + 0x200

main:
    POST 0x30
    ENTER_PM
    SETDESC S_SS0ALT, 0, 0xFFFFF, 0x92, 0xC
    SETDESC S_CODE0F, ROM_BASE, 0xFFFF, 0x9A, 0x4
    SETDESC S_CODE3F, ROM_BASE, 0xFFFF, 0xFA, 0x4
    SETDESC S_CONF0, 0, 0xFFFFF, 0x9E, 0xC
    SETDESC S_SYS + 0x00, 0, 0xFFFFF, 0x9A, 0xC
    SETDESC S_SYS + 0x08, 0, 0xFFFFF, 0x92, 0xC
    SETDESC S_SYS + 0x10, 0, 0xFFFFF, 0xFA, 0xC
    SETDESC S_SYS + 0x18, 0, 0xFFFFF, 0xF2, 0xC
    SETCALLGATE S_CG386, cg386, SEL_CODE0, 0xEC, 2       ; 386 call gate, DPL 3
    SETCALLGATE S_CG286, R(cg286), S_CODE0F, 0xE4, 2     ; 286 call gate, DPL 3
    SETGATE 0x41, int41, SEL_CODE0, 0xEE                 ; 386 interrupt gate, DPL 3
    SETGATE 0x42, int42, SEL_CODE0, 0xEF                 ; 386 trap gate, DPL 3
    SETGATE 0x43, R(int43), S_CODE0F, 0xE6               ; 286 interrupt gate, DPL 3
    mov word [TSS0_BASE + 8], S_SS0ALT                   ; TSS0.SS0
    ; I/O bitmap: allow port E9h only (bit clear = allowed)
    and byte [IOMAP + 0xE9 / 8], 0xFF & ~(1 << (0xE9 % 8))

    ; ---- IRET to ring 3 (Vol. 2 IRET: return to outer privilege level) -------
    POST 0x31
    mov ax, SEL_DATA3 | 3
    mov fs, ax                          ; DPL 3: survives the return
    mov ax, SEL_DATA0
    mov ds, ax                          ; DPL 0 < CPL 3: nulled
    mov es, ax
    mov gs, ax
    RING3 r3_segs, FL_IF | 2
    CHECK "IRET to ring 3: ring-3 code completed", [EXC_VEC], RET0_VEC
    CHECK "IRET to ring 3: CS", [V_R3 + 0], SEL_CODE3 | 3
    CHECK "IRET to ring 3: SS", [V_R3 + 4], SEL_DATA3 | 3
    CHECK "IRET to ring 3: DS (DPL 0) nulled", [V_R3 + 8], 0
    CHECK "IRET to ring 3: ES (DPL 0) nulled", [V_R3 + 12], 0
    CHECK "IRET to ring 3: FS (DPL 3) kept", [V_R3 + 16], SEL_DATA3 | 3
    CHECK "IRET to ring 3: GS (DPL 0) nulled", [V_R3 + 20], 0
    CHECK "IRET to ring 3: ESP", [V_R3 + 24], STACK3_TOP
    CHECKM "IRET to ring 3: EFLAGS IF=1 IOPL=0", [V_R3 + 28], FL_IF | FL_IOPL, FL_IF

    ; ---- far RET to ring 3 (5.8.6) -------------------------------------------
    POST 0x32
    mov ax, SEL_DATA0
    mov ds, ax                          ; nulled
    mov ax, SEL_DATA3 | 3
    mov es, ax                          ; kept
    mov ax, SEL_CODE0
    mov fs, ax                          ; nonconforming code, DPL 0: nulled
    mov ax, S_CONF0
    mov gs, ax                          ; conforming code: kept
    mov ax, SEL_DATA0
    mov ds, ax
    ARM .ret_back
    push dword SEL_DATA3 | 3            ; SS
    push dword STACK3_TOP               ; ESP
    push dword SEL_CODE3 | 3            ; CS
    push dword r3_segs                  ; EIP
    retf
.ret_back:
    RECOVERED
    CHECK "far RET to ring 3: ring-3 code completed", [EXC_VEC], RET0_VEC
    CHECK "far RET to ring 3: CS", [V_R3 + 0], SEL_CODE3 | 3
    CHECK "far RET to ring 3: SS", [V_R3 + 4], SEL_DATA3 | 3
    CHECK "far RET to ring 3: DS (data DPL 0) nulled", [V_R3 + 8], 0
    CHECK "far RET to ring 3: ES (data DPL 3) kept", [V_R3 + 12], SEL_DATA3 | 3
    CHECK "far RET to ring 3: FS (nonconforming code DPL 0) nulled", [V_R3 + 16], 0
    CHECK "far RET to ring 3: GS (conforming code) kept", [V_R3 + 20], S_CONF0
    CHECK "far RET to ring 3: ESP", [V_R3 + 24], STACK3_TOP

    ; ---- INT n through a 386 interrupt gate, DPL 3 (6.12.1, Figure 6-4) ------
    POST 0x33
    RING3 r3_int41, FL_IF | 2
    CHECK "INT 41h (386 int gate) from ring 3: completed", [EXC_VEC], RET0_VEC
    CHECK "INT 41h: handler ESP = TSS.ESP0 - 20", [V_I41 + 0], STACK0_TSS - 20
    CHECK "INT 41h: handler SS = TSS.SS0", [V_I41 + 4], S_SS0ALT
    CHECK "INT 41h: handler CS", [V_I41 + 8], SEL_CODE0
    CHECKM "INT 41h: interrupt gate cleared IF", [V_I41 + 12], FL_IF, 0
    CHECK "INT 41h: pushed EIP = after the INT", [V_I41 + 16], r3_int41.ret
    CHECK "INT 41h: pushed CS", [V_I41 + 20], SEL_CODE3 | 3
    CHECKM "INT 41h: pushed EFLAGS.IF = 1", [V_I41 + 24], FL_IF, FL_IF
    CHECK "INT 41h: pushed ESP = ring-3 ESP", [V_I41 + 28], STACK3_TOP
    CHECK "INT 41h: pushed SS = ring-3 SS", [V_I41 + 32], SEL_DATA3 | 3
    CHECK "INT 41h: IRET back: CS", [V_AFTER + 0], SEL_CODE3 | 3
    CHECK "INT 41h: IRET back: ESP", [V_AFTER + 4], STACK3_TOP
    CHECKM "INT 41h: IRET back: IF restored", [V_AFTER + 8], FL_IF, FL_IF

    ; ---- 386 trap gate, DPL 3: IF stays set (6.12.1.2) ------------------------
    POST 0x34
    RING3 r3_int42, FL_IF | 2
    CHECK "INT 42h (386 trap gate) from ring 3: completed", [EXC_VEC], RET0_VEC
    CHECK "INT 42h: handler ESP = TSS.ESP0 - 20", [V_I42 + 0], STACK0_TSS - 20
    CHECK "INT 42h: handler SS = TSS.SS0", [V_I42 + 4], S_SS0ALT
    CHECKM "INT 42h: trap gate left IF = 1", [V_I42 + 12], FL_IF, FL_IF
    CHECK "INT 42h: pushed EIP = after the INT", [V_I42 + 16], r3_int42.ret

    ; ---- 386 call gate with 2 parameters (5.8.5, Figure 5-13) -----------------
    POST 0x35
    RING3 r3_cg386, 2
    CHECK "386 call gate from ring 3: completed", [EXC_VEC], RET0_VEC
    CHECK "386 call gate: handler ESP = ESP0 - 24", [V_CG386 + 0], STACK0_TSS - 24
    CHECK "386 call gate: handler SS = TSS.SS0", [V_CG386 + 4], S_SS0ALT
    CHECK "386 call gate: handler CS", [V_CG386 + 8], SEL_CODE0
    CHECK "386 call gate: pushed EIP", [V_CG386 + 12], r3_cg386.ret
    CHECK "386 call gate: pushed CS", [V_CG386 + 16], SEL_CODE3 | 3
    CHECK "386 call gate: copied param at [esp+8] (last pushed)", [V_CG386 + 20], 0x22222222
    CHECK "386 call gate: copied param at [esp+12] (first pushed)", [V_CG386 + 24], 0x11111111
    CHECK "386 call gate: pushed ESP = caller ESP after its pushes", [V_CG386 + 28], STACK3_TOP - 8
    CHECK "386 call gate: pushed SS", [V_CG386 + 32], SEL_DATA3 | 3
    CHECK "386 call gate: RETF 8 back: ESP with params popped", [V_AFTER + 4], STACK3_TOP
    CHECK "386 call gate: RETF 8 back: CS", [V_AFTER + 0], SEL_CODE3 | 3

    ; ---- 286 call gate and 286 interrupt gate: 16-bit pushes -------------------
    POST 0x36
    RING3X R(r3_16), S_CODE3F | 3, STACK3_16, FL_IF | 2
    CHECK "286 gates from ring 3: completed", [EXC_VEC], RET0_VEC
    CHECK "286 call gate: handler ESP = ESP0 - 12", [V_CG286 + 0], STACK0_TSS - 12
    CHECK "286 call gate: handler SS = TSS.SS0", [V_CG286 + 4], S_SS0ALT
    CHECK "286 call gate: handler CS", [V_CG286 + 8], S_CODE0F
    CHECKM "286 call gate: pushed IP (word)", [V_CG286 + 12], 0xFFFF, R(r3_16.cg_ret)
    CHECKM "286 call gate: pushed CS (word)", [V_CG286 + 14], 0xFFFF, S_CODE3F | 3
    CHECKM "286 call gate: copied word param (last pushed)", [V_CG286 + 16], 0xFFFF, 0x2222
    CHECKM "286 call gate: copied word param (first pushed)", [V_CG286 + 18], 0xFFFF, 0x1111
    CHECKM "286 call gate: pushed SP (word)", [V_CG286 + 20], 0xFFFF, STACK3_16 - 4
    CHECKM "286 call gate: pushed SS (word)", [V_CG286 + 22], 0xFFFF, SEL_DATA3 | 3
    CHECKM "286 call gate: RETF 4 back: SP", [V_AFTER + 0x10], 0xFFFF, STACK3_16
    CHECK "286 int gate: handler ESP = ESP0 - 10", [V_I43 + 0], STACK0_TSS - 10
    CHECK "286 int gate: handler SS = TSS.SS0", [V_I43 + 4], S_SS0ALT
    CHECKM "286 int gate: IF cleared", [V_I43 + 12], FL_IF, 0
    CHECKM "286 int gate: pushed IP (word)", [V_I43 + 16], 0xFFFF, R(r3_16.int_ret)
    CHECKM "286 int gate: pushed CS (word)", [V_I43 + 18], 0xFFFF, S_CODE3F | 3
    CHECKM "286 int gate: pushed FLAGS (word) with IF", [V_I43 + 20], FL_IF, FL_IF
    CHECKM "286 int gate: pushed SP (word)", [V_I43 + 22], 0xFFFF, STACK3_16
    CHECKM "286 int gate: pushed SS (word)", [V_I43 + 24], 0xFFFF, SEL_DATA3 | 3
    CHECKM "286 int gate: IRET (16-bit) back: SP", [V_AFTER + 0x14], 0xFFFF, STACK3_16
    CHECK "286 int gate: IRET (16-bit) back: CS", [V_AFTER + 0x18], S_CODE3F | 3

    ; ---- INT n with gate DPL < CPL -> #GP(n*8+2) (6.12.1.1) --------------------
    POST 0x37
    RING3 r3_int44, 2
    CHECK_EXCE "INT 44h (gate DPL 0) from ring 3 -> #GP(44h*8+2)", 13, 0x44 * 8 + 2, r3_int44.f
    ONVEC 13
    CHECK "INT 44h from ring 3: pushed CS", [EXC_FRAME + 8], SEL_CODE3 | 3
    CHECK "INT 44h from ring 3: pushed ESP", [EXC_FRAME + 16], STACK3_TOP
    CHECK "INT 44h from ring 3: pushed SS", [EXC_FRAME + 20], SEL_DATA3 | 3
    CHECK "INT 44h from ring 3: #GP frame on the TSS.ESP0 stack", [EXC_ESP], STACK0_TSS - 24
    ENDVEC
    RING3 r3_int3, 2
    CHECK_EXCE "INT3 (gate DPL 0) from ring 3 -> #GP(3*8+2)", 13, 3 * 8 + 2, r3_int3.f

    ; ---- SYSENTER / SYSEXIT (Vol. 2 SYSENTER, SYSEXIT) ----------------------------
    POST 0x38
    mov ecx, 0x174                      ; IA32_SYSENTER_CS
    mov eax, S_SYS
    xor edx, edx
    wrmsr
    mov ecx, 0x175                      ; IA32_SYSENTER_ESP
    mov eax, SYS_ESP
    wrmsr
    mov ecx, 0x176                      ; IA32_SYSENTER_EIP
    mov eax, sysenter_entry
    wrmsr
    mov ecx, 0x174
    rdmsr
    CHECK "RDMSR 174h returns the WRMSR value", eax, S_SYS
    RING3 r3_sysenter, FL_IF | 2
    CHECK "SYSENTER/SYSEXIT round trip: completed", [EXC_VEC], RET0_VEC
    CHECK "SYSENTER: CS = IA32_SYSENTER_CS", [V_SYS + 0], S_SYS
    CHECK "SYSENTER: SS = IA32_SYSENTER_CS + 8", [V_SYS + 4], S_SYS + 8
    CHECK "SYSENTER: ESP = IA32_SYSENTER_ESP", [V_SYS + 8], SYS_ESP
    CHECKM "SYSENTER: IF cleared", [V_SYS + 12], FL_IF, 0
    CHECK "SYSEXIT: CS = IA32_SYSENTER_CS + 16 | 3", [V_SYS + 16], (S_SYS + 16) | 3
    CHECK "SYSEXIT: SS = IA32_SYSENTER_CS + 24 | 3", [V_SYS + 20], (S_SYS + 24) | 3
    CHECK "SYSEXIT: ESP = ECX", [V_SYS + 24], SYSEXIT_ESP
    CHECK "SYSEXIT: EIP = EDX (reached)", [V_SYS + 28], 1

    ; ---- I/O permission: IOPL and the TSS I/O bitmap ------------------------------
    POST 0x39
    RING3 r3_io_ok, 2                   ; IOPL 0, port E9h allowed by the bitmap
    CHECK "ring 3 IOPL 0: IN from port E9h (bitmap allows): no exception", [EXC_VEC], RET0_VEC
    RING3 r3_io_in80, 2
    CHECK_EXCE "ring 3 IOPL 0: IN from port 80h (bitmap denies) -> #GP(0)", 13, 0, r3_io_in80.f
    RING3 r3_io_out80, 2
    CHECK_EXCE "ring 3 IOPL 0: OUT to port 80h (bitmap denies) -> #GP(0)", 13, 0, r3_io_out80.f
    RING3 r3_io_word, 2
    CHECK_EXCE "ring 3 IOPL 0: word IN at E9h (EAh denied) -> #GP(0)", 13, 0, r3_io_word.f
    RING3 r3_io_in80, FL_IOPL | 2       ; IOPL 3: bitmap not consulted
    CHECK "ring 3 IOPL 3: IN from port 80h: no exception", [EXC_VEC], RET0_VEC

    RING3 r3_cli, 2
    CHECK_EXCE "CLI at CPL 3 with IOPL 0 -> #GP(0)", 13, 0, r3_cli.f
    RING3 r3_sti, 2
    CHECK_EXCE "STI at CPL 3 with IOPL 0 -> #GP(0)", 13, 0, r3_sti.f
    RING3 r3_cli_ok, FL_IOPL | FL_IF | 2
    CHECK "CLI at CPL 3 with IOPL 3: no exception", [EXC_VEC], RET0_VEC
    CHECKM "CLI at CPL 3 with IOPL 3: IF cleared", [V_TMP], FL_IF, 0
    RING3 r3_popf, FL_IF | 2
    CHECK "POPF at CPL 3 IOPL 0: no exception", [EXC_VEC], RET0_VEC
    CHECKM "POPF at CPL 3 IOPL 0: IF and IOPL unchanged, CF changed", [V_TMP], FL_IF | FL_IOPL | FL_CF, FL_IF | FL_CF

    ; privileged instructions at CPL 3 (5.9): #GP(0)
    RING3 r3_hlt, 2
    CHECK_EXCE "HLT at CPL 3 -> #GP(0)", 13, 0, r3_hlt.f
    RING3 r3_movcr, 2
    CHECK_EXCE "MOV EAX,CR0 at CPL 3 -> #GP(0)", 13, 0, r3_movcr.f

    jmp pm_finish

; ======================= ring-3 code (flat, SEL_CODE3) ========================
; records CS SS DS ES FS GS ESP EFLAGS as seen on arrival
r3_segs:
    push eax
    pushfd
    xor eax, eax
    mov ax, cs
    mov [ss:V_R3 + 0], eax
    mov ax, ss
    mov [ss:V_R3 + 4], eax
    mov ax, ds
    mov [ss:V_R3 + 8], eax
    mov ax, es
    mov [ss:V_R3 + 12], eax
    mov ax, fs
    mov [ss:V_R3 + 16], eax
    mov ax, gs
    mov [ss:V_R3 + 20], eax
    lea eax, [esp + 8]
    mov [ss:V_R3 + 24], eax
    pop eax
    mov [ss:V_R3 + 28], eax
    pop eax
    int RET0_VEC

; records CS, ESP, EFLAGS after the handler returned into V_AFTER
%macro R3_AFTER 0
    pushfd
    push eax
    xor eax, eax
    mov ax, cs
    mov [ss:V_AFTER + 0], eax
    lea eax, [esp + 8]
    mov [ss:V_AFTER + 4], eax
    mov eax, [esp + 4]
    mov [ss:V_AFTER + 8], eax
    pop eax
    popfd
%endmacro

r3_int41:
    int 0x41
.ret:
    R3_AFTER
    int RET0_VEC

r3_int42:
    int 0x42
.ret:
    int RET0_VEC

r3_cg386:
    push dword 0x11111111
    push dword 0x22222222
    call (S_CG386 | 3):0                ; offset ignored for a call gate
.ret:
    R3_AFTER
    int RET0_VEC

r3_int44:
.f: int 0x44
    int RET0_VEC

r3_int3:
.f: int3
    int RET0_VEC

r3_sysenter:
    mov edx, .back                      ; SYSEXIT: EIP = EDX, ESP = ECX
    mov ecx, SYSEXIT_ESP
    sysenter
.back:
    xor eax, eax
    mov ax, cs
    mov [ss:V_SYS + 16], eax
    mov ax, ss
    mov [ss:V_SYS + 20], eax
    mov [ss:V_SYS + 24], esp
    mov dword [ss:V_SYS + 28], 1
    int RET0_VEC

r3_io_ok:
    mov dx, 0xE9
    in al, dx
    int RET0_VEC

r3_io_in80:
.f: in al, 0x80
    int RET0_VEC

r3_io_out80:
.f: out 0x80, al
    int RET0_VEC

r3_io_word:
    mov dx, 0xE9
.f: in ax, dx
    int RET0_VEC

r3_cli:
.f: cli
    int RET0_VEC

r3_sti:
.f: sti
    int RET0_VEC

r3_cli_ok:
    cli
    pushfd
    pop dword [ss:V_TMP]
    int RET0_VEC

r3_popf:
    push dword FL_IOPL | FL_CF | 2      ; try IF=0, IOPL=3, CF=1
    popfd
    pushfd
    pop dword [ss:V_TMP]
    int RET0_VEC

r3_hlt:
.f: hlt
    int RET0_VEC

r3_movcr:
.f: mov eax, cr0
    int RET0_VEC

; ring-3 code in S_CODE3F (base F0000h, offsets < 64K): 286 call gate then
; 286 interrupt gate
r3_16:
    push word 0x1111
    push word 0x2222
    call (S_CG286 | 3):0
.cg_ret:
    mov [ss:V_AFTER + 0x10], esp
    int 0x43
.int_ret:
    mov [ss:V_AFTER + 0x14], esp
    push eax
    xor eax, eax
    mov ax, cs
    mov [ss:V_AFTER + 0x18], eax
    pop eax
    int RET0_VEC

; ======================= ring-0 handlers ==================================
; REC_INT block: record ESP, SS, CS, EFLAGS and a 5-dword frame; IRETD
%macro REC_INT 1
    mov [ss:%1 + 0], esp
    push eax
    xor eax, eax
    mov ax, ss
    mov [ss:%1 + 4], eax
    mov ax, cs
    mov [ss:%1 + 8], eax
    pushfd
    pop eax
    mov [ss:%1 + 12], eax
%assign k 0
%rep 5
    mov eax, [esp + 4 + k*4]
    mov [ss:%1 + 16 + k*4], eax
%assign k k+1
%endrep
    pop eax
    iretd
%endmacro

int41:
    REC_INT V_I41
int42:
    REC_INT V_I42

cg386:
    mov [ss:V_CG386 + 0], esp
    push eax
    xor eax, eax
    mov ax, ss
    mov [ss:V_CG386 + 4], eax
    mov ax, cs
    mov [ss:V_CG386 + 8], eax
%assign k 0
%rep 6
    mov eax, [esp + 4 + k*4]
    mov [ss:V_CG386 + 12 + k*4], eax
%assign k k+1
%endrep
    pop eax
    retf 8

; 16-bit-gate handlers: 32-bit code in S_CODE0F (base F0000h); only data
; addresses (through SS, flat) are absolute.
cg286:
    mov [ss:V_CG286 + 0], esp
    push eax
    xor eax, eax
    mov ax, ss
    mov [ss:V_CG286 + 4], eax
    mov ax, cs
    mov [ss:V_CG286 + 8], eax
%assign k 0
%rep 3
    mov eax, [esp + 4 + k*4]            ; words IP CS P0 P1 SP SS
    mov [ss:V_CG286 + 12 + k*4], eax
%assign k k+1
%endrep
    pop eax
    o16 retf 4

int43:
    mov [ss:V_I43 + 0], esp
    push eax
    xor eax, eax
    mov ax, ss
    mov [ss:V_I43 + 4], eax
    mov ax, cs
    mov [ss:V_I43 + 8], eax
    pushfd
    pop eax
    mov [ss:V_I43 + 12], eax
    mov eax, [esp + 4]                  ; words IP CS FLAGS SP SS
    mov [ss:V_I43 + 16], eax
    mov eax, [esp + 8]
    mov [ss:V_I43 + 20], eax
    movzx eax, word [esp + 12]
    mov [ss:V_I43 + 24], eax
    pop eax
    o16 iret

sysenter_entry:
    push eax
    xor eax, eax
    mov ax, cs
    mov [ss:V_SYS + 0], eax
    mov ax, ss
    mov [ss:V_SYS + 4], eax
    lea eax, [esp + 4]
    mov [ss:V_SYS + 8], eax
    pushfd
    pop eax
    mov [ss:V_SYS + 12], eax
    pop eax
    sysexit

    ROM_END
