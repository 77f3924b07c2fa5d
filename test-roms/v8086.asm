; v8086.asm - virtual-8086 mode under a 32-bit ring-0 monitor.
;
; The monitor (ring 0, TSS0 with SS0:ESP0 and an I/O bitmap allowing only port
; E9h) enters v86 mode with IRETD (EFLAGS.VM=1 in the image) and gets control
; back through the IDT: INT 40h (DPL-3 gate, needs IOPL=3) or a #GP.
; CR4.VME = 0 throughout.
;
; SDM references (Intel 64 and IA-32 SDM Vol. 3B chapter "8086 Emulation",
; numbered 20 in the 2016-2023 editions, and Vol. 3A / Vol. 2):
;   20.2.1/20.2.5 VM is set only by IRET (or a task switch) with VM=1 in the
;          EFLAGS image; 20.2.6 v86 mode is left through an interrupt or
;          exception
;   20.1.1/20.2 address translation as in real mode: segment*16 + offset,
;          16-bit offsets wrap
;   20.2.7 sensitive instructions (CLI, STI, PUSHF, POPF, INT n, IRET) cause
;          #GP(0) when IOPL < 3 (CR4.VME=0); Vol. 2 POPF: IOPL is not modified
;          in v86 mode
;   20.2.8.1 I/O-port-mapped I/O in v86 mode always uses the TSS I/O
;          permission bit map, regardless of IOPL
;   20.3.1.1 handling an interrupt or exception through a 386 gate to a
;          ring-0 nonconforming handler: stack switch to SS0:ESP0, GS FS DS ES
;          SS ESP EFLAGS CS EIP pushed, DS ES FS GS loaded with null, VM
;          cleared; IRET back restores them
;   Vol. 3A 6.12.1.1 INT n to a gate with DPL < 3 from v86 (CPL 3) ->
;          #GP(vector*8+2); Vol. 2 PUSHFD: VM and RF are cleared in the image
%define ROMNAME "v8086"
%include "defs.inc"
%include "rm.inc"
%include "pm.inc"

V86_CS      equ 0xF000
V86_DS      equ 0x1000
V86_ES      equ 0x2000
V86_FS      equ 0x3000
V86_GS      equ 0x4000
V86_SS      equ 0x5000
V86_SP      equ 0xFFF0

V_V86       equ SCRATCH + 0x000 ; v86 view: DS ES FS GS SS SP CS FLAGS (words), EFLAGS32
V_POPF      equ SCRATCH + 0x014 ; FLAGS after POPF with IOPL bits 0
V_AFTER     equ SCRATCH + 0x020 ; after INT 41h returned: DS ES FS GS SS SP (words)
V_IO        equ SCRATCH + 0x030 ; IN from E9h done (IOPL 3)
V_H         equ SCRATCH + 0x040 ; INT 41h handler: DS ES FS GS CS SS ESP EFLAGS, frame[9]

; V86 entry, iopl-flags : IRETD into v86 mode at F000:R(entry) with the
; V86_* segments and EFLAGS = VM | flags.  Continues after the macro (ring 0)
; once the v86 code traps out (EXC_VEC/EXC_FRAME describe how).
%macro V86 2
    ARM %%back
    push dword V86_GS
    push dword V86_FS
    push dword V86_DS
    push dword V86_ES
    push dword V86_SS
    push dword V86_SP
    push dword FL_VM | (%2) | 2
    push dword V86_CS
    push dword R(%1)
    iretd
%%back:
    RECOVERED
%endmacro

main:
    POST 0x60
    ENTER_PM
    SETGATE 0x41, v86_int41, SEL_CODE0, 0xEE        ; 386 interrupt gate, DPL 3
    and byte [IOMAP + 0xE9 / 8], 0xFF & ~(1 << (0xE9 % 8))  ; allow port E9h
    mov dword [0x12350], 0
    mov byte [0x20020], 0
    mov byte [0x30020], 0

    ; ---- enter v86 (IOPL 3), run 8086-style code, INT 41h round trip ------------
    POST 0x61
    V86 v86_main, FL_IOPL
    CHECK "v86 (IOPL 3): left through INT 40h", [EXC_VEC], RET0_VEC
    CHECKM "v86: DS loaded by IRET", [V_V86 + 0], 0xFFFF, V86_DS
    CHECKM "v86: ES loaded by IRET", [V_V86 + 2], 0xFFFF, V86_ES
    CHECKM "v86: FS loaded by IRET", [V_V86 + 4], 0xFFFF, V86_FS
    CHECKM "v86: GS loaded by IRET", [V_V86 + 6], 0xFFFF, V86_GS
    CHECKM "v86: SS loaded by IRET", [V_V86 + 8], 0xFFFF, V86_SS
    CHECKM "v86: SP loaded by IRET", [V_V86 + 10], 0xFFFF, V86_SP
    CHECKM "v86: CS loaded by IRET", [V_V86 + 12], 0xFFFF, V86_CS
    CHECKM "v86: PUSHF shows IOPL 3", [V_V86 + 14], FL_IOPL, FL_IOPL
    CHECKM "v86: PUSHFD image has VM = 0 and RF = 0", [V_V86 + 16], FL_VM | FL_RF, 0
    CHECK "v86: 1234:0010 wrote linear 12350h", [0x12350], 0x86868686
    CHECKM "v86: [bx+si] FFF0h+30h wraps to 2000:0020", [0x20020], 0xFF, 0xA5
    CHECKM "v86: ... and not 3000:0020", [0x30020], 0xFF, 0
    CHECKM "v86 (IOPL 3): POPF does not change IOPL", [V_POPF], FL_IOPL, FL_IOPL
    CHECK "v86 (IOPL 3): IN from port E9h (bitmap allows): no exception", [V_IO], 1
    ; the INT 41h handler's view (20.3.1.1)
    CHECK "INT 41h from v86: handler DS = 0", [V_H + 0], 0
    CHECK "INT 41h from v86: handler ES = 0", [V_H + 4], 0
    CHECK "INT 41h from v86: handler FS = 0", [V_H + 8], 0
    CHECK "INT 41h from v86: handler GS = 0", [V_H + 12], 0
    CHECK "INT 41h from v86: handler CS", [V_H + 16], SEL_CODE0
    CHECK "INT 41h from v86: handler SS = TSS.SS0", [V_H + 20], SEL_DATA0
    CHECK "INT 41h from v86: handler ESP = ESP0 - 36", [V_H + 24], STACK0_TSS - 36
    CHECKM "INT 41h from v86: handler runs with VM = 0", [V_H + 28], FL_VM, 0
    CHECK "INT 41h from v86: pushed EIP", [V_H + 32], R(v86_main.after41)
    CHECK "INT 41h from v86: pushed CS", [V_H + 36], V86_CS
    CHECKM "INT 41h from v86: pushed EFLAGS has VM", [V_H + 40], FL_VM, FL_VM
    CHECK "INT 41h from v86: pushed ESP", [V_H + 44], V86_SP
    CHECK "INT 41h from v86: pushed SS", [V_H + 48], V86_SS
    CHECK "INT 41h from v86: pushed ES", [V_H + 52], V86_ES
    CHECK "INT 41h from v86: pushed DS", [V_H + 56], V86_DS
    CHECK "INT 41h from v86: pushed FS", [V_H + 60], V86_FS
    CHECK "INT 41h from v86: pushed GS", [V_H + 64], V86_GS
    CHECKM "after IRET back to v86: DS restored", [V_AFTER + 0], 0xFFFF, V86_DS
    CHECKM "after IRET back to v86: ES restored", [V_AFTER + 2], 0xFFFF, V86_ES
    CHECKM "after IRET back to v86: FS restored", [V_AFTER + 4], 0xFFFF, V86_FS
    CHECKM "after IRET back to v86: GS restored", [V_AFTER + 6], 0xFFFF, V86_GS
    CHECKM "after IRET back to v86: SS restored", [V_AFTER + 8], 0xFFFF, V86_SS
    CHECKM "after IRET back to v86: SP restored", [V_AFTER + 10], 0xFFFF, V86_SP
    ; the exit (INT 40h) frame, seen by the harness
    ONVEC RET0_VEC
    CHECK "exit INT 40h from v86: pushed CS", [EXC_FRAME + 4], V86_CS
    CHECKM "exit INT 40h from v86: pushed EFLAGS has VM", [EXC_FRAME + 8], FL_VM, FL_VM
    CHECK "exit INT 40h from v86: pushed SS", [EXC_FRAME + 16], V86_SS
    CHECK "exit INT 40h from v86: pushed GS", [EXC_FRAME + 32], V86_GS
    ENDVEC
    pushfd
    pop eax
    CHECKM "back in protected mode: EFLAGS.VM = 0", eax, FL_VM, 0

    ; ---- IOPL < 3: sensitive instructions trap to the monitor (20.2.7) ----------
    POST 0x62
    V86 v86_int, 0
    CHECK_EXCE "v86 IOPL 0: INT 41h -> #GP(0)", 13, 0, R(v86_int.f)
    ONVEC 13
    CHECK "v86 IOPL 0: INT 41h #GP: pushed CS", [EXC_FRAME + 8], V86_CS
    CHECKM "v86 IOPL 0: INT 41h #GP: pushed EFLAGS has VM", [EXC_FRAME + 12], FL_VM, FL_VM
    CHECK "v86 IOPL 0: INT 41h #GP: pushed ESP", [EXC_FRAME + 16], V86_SP
    CHECK "v86 IOPL 0: INT 41h #GP: pushed SS", [EXC_FRAME + 20], V86_SS
    CHECK "v86 IOPL 0: INT 41h #GP: pushed ES", [EXC_FRAME + 24], V86_ES
    CHECK "v86 IOPL 0: INT 41h #GP: pushed DS", [EXC_FRAME + 28], V86_DS
    CHECK "v86 IOPL 0: INT 41h #GP: pushed FS", [EXC_FRAME + 32], V86_FS
    CHECK "v86 IOPL 0: INT 41h #GP: pushed GS", [EXC_FRAME + 36], V86_GS
    CHECK "v86 IOPL 0: #GP frame on TSS.ESP0 (40 bytes)", [EXC_ESP], STACK0_TSS - 40
    ENDVEC
    V86 v86_cli, 0
    CHECK_EXCE "v86 IOPL 0: CLI -> #GP(0)", 13, 0, R(v86_cli.f)
    V86 v86_pushf, 0
    CHECK_EXCE "v86 IOPL 0: PUSHF -> #GP(0)", 13, 0, R(v86_pushf.f)
    V86 v86_popf, 0
    CHECK_EXCE "v86 IOPL 0: POPF -> #GP(0)", 13, 0, R(v86_popf.f)

    ; ---- I/O: always the bitmap, whatever IOPL (20.2.8.1) -------------------------
    POST 0x63
    V86 v86_in80, FL_IOPL
    CHECK_EXCE "v86 IOPL 3: IN from port 80h (bitmap denies) -> #GP(0)", 13, 0, R(v86_in80.f)
    V86 v86_io_iopl0, 0
    ; the IN passes (bitmap allows E9h even at IOPL 0); the INT after it traps
    CHECK_EXCE "v86 IOPL 0: IN from port E9h allowed, then INT -> #GP(0) at the INT", 13, 0, R(v86_io_iopl0.f)

    ; ---- other ways out --------------------------------------------------------------
    POST 0x64
    V86 v86_de, FL_IOPL
    CHECK_EXC "v86: DIV by 0 -> #DE through the IDT", 0, R(v86_de.f)
    ONVEC 0
    CHECK "v86: #DE: pushed CS", [EXC_FRAME + 4], V86_CS
    CHECK "v86: #DE: pushed DS", [EXC_FRAME + 24], V86_DS
    ENDVEC
    V86 v86_int44, FL_IOPL
    CHECK_EXCE "v86 IOPL 3: INT 44h (gate DPL 0) -> #GP(44h*8+2)", 13, 0x44 * 8 + 2, R(v86_int44.f)
    V86 v86_movcr, FL_IOPL
    CHECK_EXCE "v86: MOV EAX,CR0 (CPL 3) -> #GP(0)", 13, 0, R(v86_movcr.f)

    jmp pm_finish

; ---- ring-0 INT 41h handler for v86 callers ----------------------------------
v86_int41:
    push eax
    xor eax, eax
    mov ax, ds
    mov [ss:V_H + 0], eax
    mov ax, es
    mov [ss:V_H + 4], eax
    mov ax, fs
    mov [ss:V_H + 8], eax
    mov ax, gs
    mov [ss:V_H + 12], eax
    mov ax, cs
    mov [ss:V_H + 16], eax
    mov ax, ss
    mov [ss:V_H + 20], eax
    lea eax, [esp + 4]
    mov [ss:V_H + 24], eax
    pushfd
    pop eax
    mov [ss:V_H + 28], eax
%assign k 0
%rep 9
    mov eax, [esp + 4 + k*4]
    mov [ss:V_H + 32 + k*4], eax
%assign k k+1
%endrep
    pop eax
    iretd                               ; VM=1 in the image: back to v86

; ======================= v86 code (CS = F000h) ===============================
    bits 16
v86_main:
    push ss
    push gs
    push fs
    push es
    push ds
    mov bp, sp
    xor ax, ax
    mov ds, ax
    mov ax, [bp + 0]
    mov [V_V86 + 0], ax
    mov ax, [bp + 2]
    mov [V_V86 + 2], ax
    mov ax, [bp + 4]
    mov [V_V86 + 4], ax
    mov ax, [bp + 6]
    mov [V_V86 + 6], ax
    mov ax, [bp + 8]
    mov [V_V86 + 8], ax
    lea ax, [bp + 10]
    mov [V_V86 + 10], ax
    mov ax, cs
    mov [V_V86 + 12], ax
    pushf
    pop word [V_V86 + 14]
    pushfd
    pop dword [V_V86 + 16]
    add sp, 10
    ; segment*16 + offset
    mov ax, 0x1234
    mov ds, ax
    mov dword [0x0010], 0x86868686
    ; 16-bit offset wrap
    mov ax, 0x2000
    mov ds, ax
    mov bx, 0xFFF0
    mov si, 0x0030
    mov byte [bx + si], 0xA5
    ; POPF with IOPL bits 0 (IOPL is 3)
    push word 0x0002
    popf
    pushf
    pop ax
    xor dx, dx
    mov ds, dx
    mov [V_POPF], ax
    ; I/O allowed by the bitmap
    in al, 0xE9
    mov word [V_IO], 1
    ; INT 41h through the protected-mode IDT and IRET back
    mov ax, V86_DS
    mov ds, ax
    int 0x41
.after41:
    push ss
    push gs
    push fs
    push es
    push ds
    mov bp, sp
    xor ax, ax
    mov ds, ax
    mov ax, [bp + 0]
    mov [V_AFTER + 0], ax
    mov ax, [bp + 2]
    mov [V_AFTER + 2], ax
    mov ax, [bp + 4]
    mov [V_AFTER + 4], ax
    mov ax, [bp + 6]
    mov [V_AFTER + 6], ax
    mov ax, [bp + 8]
    mov [V_AFTER + 8], ax
    lea ax, [bp + 10]
    mov [V_AFTER + 10], ax
    add sp, 10
    mov ax, V86_DS
    mov ds, ax
    int RET0_VEC                        ; leave v86 mode (IOPL 3: through the IDT)

v86_int:
.f: int 0x41
    jmp $

v86_cli:
.f: cli
    jmp $

v86_pushf:
.f: pushf
    jmp $

v86_popf:
.f: popf
    jmp $

v86_in80:
.f: in al, 0x80
    int RET0_VEC

v86_io_iopl0:
    mov dx, 0xE9
    in al, dx
.f: int RET0_VEC

v86_de:
    xor bl, bl
.f: div bl
    int RET0_VEC

v86_int44:
.f: int 0x44
    int RET0_VEC

v86_movcr:
.f: mov eax, cr0
    int RET0_VEC

    bits 32
    ROM_END
