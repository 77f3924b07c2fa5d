; pmode.asm - entering and leaving protected mode; segment loads and limits.
;
; SDM references (Intel 64 and IA-32 SDM Vol. 3A unless noted):
;   9.9.1  Switching to protected mode (LGDT, CR0.PE, far JMP)
;   9.9.2  Switching back to real-address mode (16-bit segment with 64K
;          limit, clear PE, far JMP, reload segment registers, LIDT)
;   3.4.2/3.4.5  segment selectors and descriptors; 3.4.5.1 code/data types
;          (accessed bit set by the processor when a descriptor is loaded)
;   5.3    limit checking (expand-up, expand-down, the B flag)
;   5.4.1  null segment selector checking
;   5.5/5.6/5.8.1.2  privilege checks for data/stack segment loads and for
;          far JMP/CALL to conforming and nonconforming code
;   Vol. 2 MOV (to Sreg) "Protected Mode Exceptions": #GP(0) / #SS(0) for an
;          operand outside the limit or a null DS..GS; #GP(selector) for an
;          index outside the table, a non-data/non-readable segment, an
;          RPL/DPL violation, a non-writable SS; #NP(selector) for a not
;          present DS..GS; #SS(selector) for a not-present SS
%define ROMNAME "pmode"
%include "defs.inc"
%include "rm.inc"
%include "pm.inc"

V_TMP       equ SCRATCH + 0x00
V_CONF_CS   equ SCRATCH + 0x04
V_CONF_SS   equ SCRATCH + 0x08
V_CONF_RET  equ SCRATCH + 0x0C

S_LIM       equ 0x40        ; data, base 100000h, limit FFFh, byte granular
S_LIMG      equ 0x48        ; data, base 100000h, limit 0 with G=1 (= FFFh)
S_STK       equ 0x50        ; stack, base 0, limit 7FFFFh
S_ED32      equ 0x58        ; expand-down data, limit FFFh, B=1
S_ED16      equ 0x60        ; expand-down data, limit FFFh, B=0
S_EDSTK     equ 0x68        ; expand-down stack, limit 6FFFFh, B=1
S_XO        equ 0x70        ; execute-only code
S_NP        equ 0x78        ; not-present writable data
S_RO        equ 0x80        ; read-only data
S_CONF0     equ 0x88        ; conforming code, DPL 0
S_CONF3     equ 0x90        ; conforming code, DPL 3
S_ACC       equ 0x98        ; data with A=0 (accessed-bit check)

main:
    POST 0x10
    ENTER_PM

    ; ---- after the switch (9.9.1) -------------------------------------------
    POST 0x11
    mov eax, cr0
    CHECKM "CR0.PE = 1 after the switch", eax, 1, 1
    xor eax, eax
    mov ax, cs
    CHECK "CS = 08h after the far jump", eax, SEL_CODE0
    mov dword [0x200000], 0x12345678
    mov dword [0x210000], 0
    CHECK "flat 32-bit DS reaches 200000h", [0x200000], 0x12345678
    mov eax, 0x200000
    mov dword [eax + 0x10000], 0x5A5A5A5A   ; 32-bit EA: no 64K wrap
    CHECK "32-bit effective address 210000h does not wrap", [0x210000], 0x5A5A5A5A

    ; accessed bit (3.4.5.1: set by the processor on a segment-register load)
    SETDESC S_ACC, 0, 0xFFFFF, 0x92, 0xC
    mov ax, S_ACC
    mov es, ax
    mov ax, SEL_DATA0
    mov es, ax
    CHECKM "loading ES sets the descriptor's accessed bit", [GDT_BASE + S_ACC + 4], 0x100, 0x100

    ; ---- data segment limits (5.3) ------------------------------------------
    POST 0x12
    SETDESC S_LIM, 0x100000, 0xFFF, 0x93, 0x4
    SETDESC S_LIMG, 0x100000, 0x0, 0x93, 0xC
    mov dword [0x100FFC], 0xAABBCCDD
    mov ax, S_LIM
    mov es, ax
    ARM .lim1_r
    mov eax, [es:0xFFC]                 ; last dword inside the limit
.lim1_r:
    mov [V_TMP], eax
    RECOVERED
    CHECK "dword at ES:FFCh (limit FFFh): no fault", [EXC_VEC], NOEXC
    CHECK "dword at ES:FFCh reads base+FFCh", [V_TMP], 0xAABBCCDD

    mov ax, S_LIM
    mov es, ax
    ARM .lim2_r
.lim2_f:
    mov eax, [es:0xFFD]                 ; bytes FFDh..1000h: last one outside
.lim2_r:
    RECOVERED
    CHECK_EXCE0 "dword at ES:FFDh (limit FFFh) -> #GP(0)", 13, 0, .lim2_f

    mov ax, S_LIM
    mov fs, ax
    ARM .lim3_r
.lim3_f:
    mov byte [fs:0x1000], 1             ; write just past the limit
.lim3_r:
    RECOVERED
    CHECK_EXCE0 "byte write at FS:1000h (limit FFFh) -> #GP(0)", 13, 0, .lim3_f

    mov ax, S_LIMG
    mov gs, ax
    ARM .lim4_r
    mov al, [gs:0xFFF]                  ; G=1, limit 0 -> effective FFFh
.lim4_r:
    RECOVERED
    CHECK "G=1 limit 0: byte at GS:FFFh: no fault", [EXC_VEC], NOEXC
    mov ax, S_LIMG
    mov gs, ax
    ARM .lim5_r
.lim5_f:
    mov al, [gs:0x1000]
.lim5_r:
    RECOVERED
    CHECK_EXCE0 "G=1 limit 0: byte at GS:1000h -> #GP(0)", 13, 0, .lim5_f

    ; ---- stack segment limit -> #SS(0) (5.3; Vol. 2 MOV: SS-relative operand
    ; outside the SS limit) ----------------------------------------------------
    POST 0x13
    SETDESC S_STK, 0, 0x7FFFF, 0x93, 0x4
    mov ax, S_STK
    mov ss, ax                          ; ESP is just below 80000h: valid
    ARM .stk1_r
.stk1_f:
    mov eax, [esp + 0x1000]             ; SS:[esp+1000h] > 7FFFFh
.stk1_r:
    RECOVERED
    CHECK_EXCE0 "SS-relative read past the SS limit -> #SS(0)", 12, 0, .stk1_f

    mov ax, S_STK
    mov ss, ax
    mov ebp, 0x80000
    ARM .stk2_r
.stk2_f:
    mov eax, [ebp]                      ; [ebp] defaults to SS
.stk2_r:
    RECOVERED
    CHECK_EXCE0 "[ebp] past the SS limit -> #SS(0)", 12, 0, .stk2_f

    mov ax, S_LIM
    mov es, ax
    mov ebx, 0x1000
    ARM .stk3_r
.stk3_f:
    mov eax, [es:ebx]                   ; ES is not SS: #GP, not #SS
.stk3_r:
    RECOVERED
    CHECK_EXCE0 "ES:[ebx] past the ES limit -> #GP(0), not #SS", 13, 0, .stk3_f

    ; ---- expand-down segments (5.3: valid offsets are limit+1 .. FFFFFFFFh,
    ; or .. FFFFh when B=0) ---------------------------------------------------
    POST 0x14
    SETDESC S_ED32, 0x100000, 0xFFF, 0x97, 0x4
    SETDESC S_ED16, 0x100000, 0xFFF, 0x97, 0x0
    mov dword [0x101000], 0x0E0D0C0B
    mov ax, S_ED32
    mov es, ax
    ARM .ed1_r
    mov eax, [es:0x1000]                ; lowest valid offset
.ed1_r:
    mov [V_TMP], eax
    RECOVERED
    CHECK "expand-down B=1: dword at 1000h (limit FFFh): no fault", [EXC_VEC], NOEXC
    CHECK "expand-down B=1: dword at 1000h reads base+1000h", [V_TMP], 0x0E0D0C0B

    mov ax, S_ED32
    mov es, ax
    ARM .ed2_r
.ed2_f:
    mov al, [es:0xFFF]                  ; = limit: outside for expand-down
.ed2_r:
    RECOVERED
    CHECK_EXCE0 "expand-down B=1: byte at FFFh (= limit) -> #GP(0)", 13, 0, .ed2_f

    mov ax, S_ED32
    mov es, ax
    ARM .ed3_r
    mov al, [es:0xFFFFFFFF]             ; upper bound 4G-1 with B=1
.ed3_r:
    RECOVERED
    CHECK "expand-down B=1: byte at FFFFFFFFh: no fault", [EXC_VEC], NOEXC

    mov ax, S_ED16
    mov es, ax
    ARM .ed4_r
    mov eax, [es:0xFFFC]                ; last dword below the 64K bound
.ed4_r:
    RECOVERED
    CHECK "expand-down B=0: dword at FFFCh: no fault", [EXC_VEC], NOEXC

    mov ax, S_ED16
    mov es, ax
    ARM .ed5_r
.ed5_f:
    mov eax, [es:0xFFFE]                ; bytes FFFEh..10001h cross FFFFh
.ed5_r:
    RECOVERED
    CHECK_EXCE0 "expand-down B=0: dword at FFFEh -> #GP(0)", 13, 0, .ed5_f

    ; expand-down stack: pushes work above the limit, an access at or below
    ; the limit is #SS(0)
    SETDESC S_EDSTK, 0, 0x6FFFF, 0x97, 0x4
    mov ax, S_EDSTK
    mov ss, ax
    ARM .ed6_r
    push dword 0x13572468
    pop eax
.ed6_r:
    mov [V_TMP], eax
    RECOVERED
    CHECK "expand-down SS: PUSH/POP above the limit: no fault", [EXC_VEC], NOEXC
    CHECK "expand-down SS: PUSH/POP round trip", [V_TMP], 0x13572468
    mov ax, S_EDSTK
    mov ss, ax
    ARM .ed7_r
.ed7_f:
    mov eax, [esp - 0x10004]            ; ESP = 80000h: 6FFFCh <= limit 6FFFFh
.ed7_r:
    RECOVERED
    CHECK_EXCE0 "expand-down SS: read at ESP-10004h (<= limit) -> #SS(0)", 12, 0, .ed7_f

    ; ---- null selectors (5.4.1) ------------------------------------------------
    POST 0x15
    xor eax, eax
    ARM .null1_r
    mov ds, ax                          ; loading null into DS is allowed
    mov ax, 3
    mov es, ax                          ; null with RPL 3 too
.null1_r:
    RECOVERED
    CHECK "MOV DS/ES, null selector: no fault", [EXC_VEC], NOEXC

    xor eax, eax
    mov es, ax
    ARM .null2_r
.null2_f:
    mov eax, [es:0x1000]                ; using the null selector faults
.null2_r:
    RECOVERED
    CHECK_EXCE0 "read through ES = null -> #GP(0)", 13, 0, .null2_f

    xor eax, eax
    mov fs, ax
    ARM .null3_r
.null3_f:
    mov byte [fs:0x1000], 0
.null3_r:
    RECOVERED
    CHECK_EXCE0 "write through FS = null -> #GP(0)", 13, 0, .null3_f

    xor eax, eax
    ARM .null4_r
.null4_f:
    mov ss, ax                          ; null SS is never allowed (non-64-bit)
.null4_r:
    RECOVERED
    CHECK_EXCE0 "MOV SS, null -> #GP(0)", 13, 0, .null4_f

    ; ---- bad selectors -> #GP(selector); error code = selector with the RPL
    ; bits replaced by EXT=0/IDT=0 (6.13) -------------------------------------
    POST 0x16
    mov ax, (GDT_LIMIT + 1) | 3         ; index just past the GDT limit, RPL 3
    ARM .bad1_r
.bad1_f:
    mov es, ax
.bad1_r:
    RECOVERED
    CHECK_EXCE0 "MOV ES, selector beyond the GDT limit -> #GP(sel)", 13, GDT_LIMIT + 1, .bad1_f

    xor eax, eax
    lldt ax                             ; LDTR = null: LDT references fault
    mov ax, 0x000C                      ; index 1, TI=1 (LDT)
    ARM .bad2_r
.bad2_f:
    mov ds, ax
.bad2_r:
    RECOVERED
    CHECK_EXCE0 "MOV DS, LDT selector with a null LDTR -> #GP(sel)", 13, 0x000C, .bad2_f

    mov ax, SEL_TSS0
    ARM .bad3_r
.bad3_f:
    mov ds, ax                          ; a system (TSS) descriptor
.bad3_r:
    RECOVERED
    CHECK_EXCE0 "MOV DS, TSS selector -> #GP(sel)", 13, SEL_TSS0, .bad3_f

    SETDESC S_XO, 0, 0xFFFFF, 0x98, 0xC
    mov ax, S_XO
    ARM .bad4_r
.bad4_f:
    mov ds, ax                          ; execute-only code is not readable
.bad4_r:
    RECOVERED
    CHECK_EXCE0 "MOV DS, execute-only code -> #GP(sel)", 13, S_XO, .bad4_f

    mov ax, SEL_CODE0
    ARM .bad5_r
    mov ds, ax                          ; readable code may be loaded into DS
.bad5_r:
    RECOVERED
    CHECK "MOV DS, readable code segment: no fault", [EXC_VEC], NOEXC

    mov ax, SEL_DATA0 | 3
    ARM .bad6_r
.bad6_f:
    mov ds, ax                          ; max(CPL,RPL)=3 > DPL 0
.bad6_r:
    RECOVERED
    CHECK_EXCE0 "MOV DS, RPL 3 selector of a DPL 0 segment -> #GP(sel)", 13, SEL_DATA0, .bad6_f

    ; ---- not-present segments ------------------------------------------------
    POST 0x17
    SETDESC S_NP, 0, 0xFFFFF, 0x12, 0xC ; writable data, P=0
    mov ax, S_NP
    ARM .np1_r
.np1_f:
    mov ds, ax
.np1_r:
    RECOVERED
    CHECK_EXCE0 "MOV DS, not-present segment -> #NP(sel)", 11, S_NP, .np1_f

    mov ax, S_NP
    ARM .np2_r
.np2_f:
    mov ss, ax
.np2_r:
    RECOVERED
    CHECK_EXCE0 "MOV SS, not-present segment -> #SS(sel)", 12, S_NP, .np2_f

    ; ---- SS must be a writable data segment with DPL = RPL = CPL ---------------
    POST 0x18
    SETDESC S_RO, 0, 0xFFFFF, 0x90, 0xC
    mov ax, S_RO
    ARM .ss1_r
.ss1_f:
    mov ss, ax
.ss1_r:
    RECOVERED
    CHECK_EXCE0 "MOV SS, read-only data -> #GP(sel)", 13, S_RO, .ss1_f

    mov ax, SEL_CODE0
    ARM .ss2_r
.ss2_f:
    mov ss, ax
.ss2_r:
    RECOVERED
    CHECK_EXCE0 "MOV SS, code segment -> #GP(sel)", 13, SEL_CODE0, .ss2_f

    mov ax, SEL_DATA3
    ARM .ss3_r
.ss3_f:
    mov ss, ax                          ; RPL 0 = CPL but DPL 3
.ss3_r:
    RECOVERED
    CHECK_EXCE0 "MOV SS, DPL 3 data at CPL 0 -> #GP(sel)", 13, SEL_DATA3, .ss3_f

    mov ax, SEL_DATA3 | 3
    ARM .ss4_r
.ss4_f:
    mov ss, ax                          ; RPL 3 != CPL 0
.ss4_r:
    RECOVERED
    CHECK_EXCE0 "MOV SS, RPL 3 selector at CPL 0 -> #GP(sel)", 13, SEL_DATA3, .ss4_f

    ; ---- conforming code (5.8.1.2) --------------------------------------------
    POST 0x19
    SETDESC S_CONF0, 0, 0xFFFFF, 0x9E, 0xC
    SETDESC S_CONF3, 0, 0xFFFFF, 0xFE, 0xC
    ARM .cf1_r
    jmp S_CONF0:.cf1_in                 ; conforming DPL 0 <= CPL 0: allowed
.cf1_in:
    xor eax, eax
    mov ax, cs
    mov [V_TMP], eax
    jmp SEL_CODE0:.cf1_r
.cf1_r:
    RECOVERED
    CHECK "far JMP to conforming DPL 0 code from CPL 0: no fault", [EXC_VEC], NOEXC
    CHECK "far JMP to conforming DPL 0 code: CS = sel, RPL 0", [V_TMP], S_CONF0

    ARM .cf2_r
.cf2_f:
    jmp S_CONF3:.cf2_r                  ; conforming DPL 3 > CPL 0
.cf2_r:
    RECOVERED
    CHECK_EXCE0 "far JMP to conforming DPL 3 code from CPL 0 -> #GP(sel)", 13, S_CONF3, .cf2_f

    ARM .cf3_r
.cf3_f:
    jmp SEL_CODE3:.cf3_r                ; nonconforming needs DPL = CPL
.cf3_r:
    RECOVERED
    CHECK_EXCE0 "far JMP to nonconforming DPL 3 code from CPL 0 -> #GP(sel)", 13, SEL_CODE3, .cf3_f

    ; from ring 3, a far CALL to conforming DPL 0 code keeps CPL 3 (the new
    ; CS.RPL is the CPL) and uses the same stack
    RING3 r3_conf, 0x0002
    CHECK "ring 3 far CALL to conforming DPL 0 code: completed", [EXC_VEC], RET0_VEC
    CHECK "conforming code entered from ring 3: CS = sel | 3 (CPL stays 3)", [V_CONF_CS], S_CONF0 | 3
    CHECK "conforming code entered from ring 3: SS unchanged", [V_CONF_SS], SEL_DATA3 | 3
    CHECK "conforming code entered from ring 3: return address on the ring-3 stack", [V_CONF_RET], r3_conf.ret

    ; ---- back to real mode (9.9.2) ---------------------------------------------
    POST 0x1A
    mov dword [0x10000], 0xFEEDF00D
    cli
    jmp SEL_CODE16:R(pm16)              ; 16-bit code segment, limit FFFFh

    bits 16
pm16:
    mov ax, SEL_DATA16                  ; 64K-limit, byte-granular, writable
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and eax, ~1
    mov cr0, eax
    jmp 0xF000:R(rm_again)              ; real-mode CS
rm_again:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, RM_STACK_TOP
    mov bx, R(rm_idtr)
    o32 lidt [cs:bx]
    POST 0x1B
    mov eax, cr0
    CHECKM16 "CR0.PE = 0 after returning to real mode", eax, 1, 0
    mov ax, 0x1000
    mov es, ax
    mov eax, [es:0]                     ; segment*16 addressing again
    mov [V_TMP], eax
    CHECK16 "real mode again: 1000:0000 = linear 10000h", [V_TMP], 0xFEEDF00D
    ARM16 .int_r
    int 0x55                            ; through the IVT again
.int_next:
.int_r:
    RECOVERED16
    CHECK16 "real mode again: INT 55h goes through the IVT", [EXC_VEC], 0x55
    CHECK16 "real mode again: INT 55h pushed IP", [EXC_FRAME], R(.int_next)
    CHECK16 "real mode again: INT 55h pushed CS", [EXC_FRAME+4], 0xF000
    jmp rm_finish

    bits 32
; ring-3 code: far CALL to conforming DPL 0 code, then back to ring 0
r3_conf:
    mov ax, SEL_DATA3 | 3
    mov ds, ax
    call (S_CONF0 | 3):conf_target
.ret:
    int RET0_VEC

conf_target:
    xor eax, eax
    mov ax, cs
    mov [V_CONF_CS], eax
    mov ax, ss
    mov [V_CONF_SS], eax
    mov eax, [esp]
    mov [V_CONF_RET], eax
    retf

    ROM_END
