; realmode.asm - real-address-mode basics.
;
; Everything runs in real mode from reset.  Checks read their operands through
; DS = 0; the harness (rm.inc) routes every IVT vector to a recording stub, so
; an expected exception is verified through ARM16/RECOVERED16 and an
; unexpected one is reported by name.
;
; SDM references (Intel 64 and IA-32 SDM, Vol. 3A/3B; numbers as in the
; 2016-2023 editions, titles given for others):
;   9.1.1 Table 9-1      processor state after reset
;   20.1.1               real-mode address translation (segment*16 + offset)
;   20.1.4               interrupt and exception handling in real mode (IVT,
;                        FLAGS/CS/IP pushed, IF/TF/AC cleared, IRET)
;   Vol. 3 "Architecture Compatibility" chapter, "Segment Wraparound"
;                        (19.33.1 / 22.3x depending on the edition): an
;                        operand that crosses offset FFFFh raises #GP (INT 13),
;                        or #SS (INT 12) for SS, instead of wrapping as on the
;                        8086
;   Vol. 2 DIV/IDIV, INT n/INTO/INT3, IRET, PUSHF/POPF, LIDT (real-address-mode
;                        operation and exceptions)
;   Vol. 3A 6.15 "Interrupt 0 - Divide Error": the saved IP points to the DIV
%define ROMNAME "realmode"
%include "defs.inc"
%include "rm.inc"

V_SP_BEFORE   equ SCRATCH + 0x00
V_H_IP        equ SCRATCH + 0x04
V_H_CS        equ SCRATCH + 0x08
V_H_FLAGS     equ SCRATCH + 0x0C
V_H_OWNFLAGS  equ SCRATCH + 0x10
V_H_SP        equ SCRATCH + 0x14
V_FLAGS_AFTER equ SCRATCH + 0x18
V_SP_AFTER    equ SCRATCH + 0x1C
V_TMP         equ SCRATCH + 0x20
V_AX          equ SCRATCH + 0x24
V_WRAP        equ SCRATCH + 0x40        ; target of the [bp+di] wrap test

main:
    ; ---- reset state (Vol. 3A 9.1.1, Table 9-1) -----------------------------
    POST 0x01
    CHECK16 "reset CR0 = 60000010h", [RESET_CR0], 0x60000010
    CHECK16 "reset EFLAGS = 00000002h", [RESET_EFLAGS], 0x00000002

    ; ---- segment*16 + offset (20.1.1) ---------------------------------------
    POST 0x02
    mov ax, 0x1234
    mov ds, ax
    mov dword [0x0010], 0xC0DE1234      ; linear 12340h + 10h = 12350h
    mov ax, 0x1235
    mov es, ax
    mov eax, [es:0x0000]                ; linear 12350h
    xor bx, bx
    mov ds, bx
    mov [V_TMP], eax
    CHECK16 "1234:0010 and 1235:0000 are the same byte", [V_TMP], 0xC0DE1234

    ; ---- 16-bit effective addresses wrap at 64 KiB (20.1.1: the offset is 16
    ; bits; the sum of base+index+disp is truncated to 16 bits) ---------------
    POST 0x03
    mov ax, 0x2000
    mov ds, ax
    mov byte [0x0020], 0
    mov ax, 0x3000
    mov es, ax
    mov byte [es:0x0020], 0             ; where a non-wrapping sum would land
    mov bx, 0xFFF0
    mov si, 0x0030
    mov byte [bx+si], 0xA5              ; EA = (FFF0h + 30h) & FFFFh = 0020h
    mov al, [0x0020]
    mov ah, [es:0x0020]
    xor bx, bx
    mov ds, bx
    movzx eax, ax
    mov [V_TMP], eax
    CHECK16 "[bx+si] FFF0h+30h wraps to 2000:0020 (not 3000:0020)", [V_TMP], 0x00A5

    mov ax, 0x2000
    mov ds, ax
    mov byte [0x0001], 0x5A
    mov bx, 0xFFFF
    mov al, [bx+2]                      ; EA = (FFFFh + 2) & FFFFh = 0001h
    xor bx, bx
    mov ds, bx
    movzx eax, al
    mov [V_TMP], eax
    CHECK16 "[bx+disp16] FFFFh+2 wraps to offset 0001h", [V_TMP], 0x5A

    ; [bp+di] uses SS (= 0): BP+DI = FFF0h + (V_WRAP+10h) wraps to V_WRAP
    mov dword [V_WRAP], 0
    mov bp, 0xFFF0
    mov di, V_WRAP + 0x10
    mov dword [bp+di], 0x600DF00D
    CHECK16 "[bp+di] FFF0h+di wraps within SS", [V_WRAP], 0x600DF00D

    ; ---- an operand crossing offset FFFFh faults (Segment Wraparound) -------
    ; word read at DS:FFFF: bytes FFFFh and 10000h, the second past the 64 KiB
    ; limit -> #GP, delivered in real mode as INT 13 (no error code pushed).
    POST 0x04
    mov ax, 0x2000
    mov ds, ax
    mov ax, 0x1111
    ARM16 .gp_r
.gp_f:
    mov ax, [0xFFFF]
.gp_r:
    mov [ss:V_AX], ax
    RECOVERED16
    CHECK16 "word at DS:FFFF: vector (INT 13, #GP)", [EXC_VEC], 13
    ONVEC16 13
    CHECK16 "word at DS:FFFF: pushed IP = the faulting MOV", [EXC_FRAME], R(.gp_f)
    CHECK16 "word at DS:FFFF: pushed CS", [EXC_FRAME+4], 0xF000
    mov ax, [EXC_RECOVER_ESP]
    sub ax, [EXC_ESP]
    movzx eax, ax
    CHECK16 "word at DS:FFFF: 6-byte frame (no error code in real mode)", eax, 6
    CHECKM16 "word at DS:FFFF: AX not loaded", [V_AX], 0xFFFF, 0x1111
    ENDVEC16

    ; a 32-bit address-size operand past FFFFh is a limit violation too:
    ; "pseudo-protection faults (interrupt 12 or 13) occur if a 32-bit offset
    ; is generated outside the range 0 through FFFFH" (Vol. 3B 20.1.1)
    mov ax, 0x2000
    mov ds, ax
    mov ebx, 0x10000
    ARM16 .gp2_r
.gp2_f:
    mov al, [ebx]
.gp2_r:
    RECOVERED16
    CHECK16 "byte at DS:[ebx=10000h]: vector (INT 13, #GP)", [EXC_VEC], 13
    ONVEC16 13
    CHECK16 "byte at DS:[ebx=10000h]: pushed IP", [EXC_FRAME], R(.gp2_f)
    ENDVEC16

    ; same crossing on an SS-relative operand ([bp] defaults to SS) -> #SS,
    ; INT 12.  SS = 0, so the handler's own pushes at SP=7000h are fine.
    mov bp, 0xFFFF
    ARM16 .ss_r
.ss_f:
    mov ax, [bp]
.ss_r:
    RECOVERED16
    CHECK16 "word at SS:FFFF: vector (INT 12, #SS)", [EXC_VEC], 12
    ONVEC16 12
    CHECK16 "word at SS:FFFF: pushed IP = the faulting MOV", [EXC_FRAME], R(.ss_f)
    ENDVEC16

    ; ---- beyond 1 MiB with A20 enabled (20.1.1: FFFF:0010 = 100000h; A20 is
    ; enabled at reset per the Ringside convention; QEMU likewise) ----------
    POST 0x05
    mov dword [V_TMP], 0x11111111       ; linear 00000520h
    mov ax, 0xFFFF
    mov es, ax
    mov dword [es:V_TMP + 0x10], 0x22222222 ; linear 100520h
    mov eax, [es:V_TMP + 0x10]
    mov [V_AX], eax
    CHECK16 "FFFF:0530 holds what was written", [V_AX], 0x22222222
    CHECK16 "FFFF:0530 is 100520h, not wrapped to 00520h", [V_TMP], 0x11111111
    mov dword [es:0x0010], 0x33333333   ; linear 100000h exactly
    mov eax, [es:0x0010]
    mov [V_AX], eax
    CHECK16 "FFFF:0010 (=100000h) read back", [V_AX], 0x33333333

    ; ---- INT n through the IVT, and IRET (20.1.4; Vol. 2 INT n, IRET) -------
    POST 0x06
    mov word [0x50*4], R(int50_handler)
    mov word [0x50*4+2], 0xF000
    push word FL_DF | FL_IF | FL_CF | 2 ; IF=1 is safe: no device interrupts
    popf
    mov [V_SP_BEFORE], sp
.i50:
    int 0x50
.i50_after:
    pushf
    pop word [V_FLAGS_AFTER]
    mov [V_SP_AFTER], sp
    push word 2
    popf
    CHECK16 "INT 50h: pushed IP = next instruction", [V_H_IP], R(.i50_after)
    CHECK16 "INT 50h: pushed CS", [V_H_CS], 0xF000
    CHECK16 "INT 50h: pushed FLAGS", [V_H_FLAGS], FL_DF | FL_IF | FL_CF | 2
    CHECK16 "INT 50h: handler runs with IF=TF=0, other flags kept", [V_H_OWNFLAGS], FL_DF | FL_CF | 2
    movzx eax, word [V_SP_BEFORE]
    sub eax, 6
    CHECK16 "INT 50h: 6 bytes pushed", [V_H_SP], eax
    CHECK16 "IRET restored FLAGS (IF, DF, CF)", [V_FLAGS_AFTER], FL_DF | FL_IF | FL_CF | 2
    movzx eax, word [V_SP_BEFORE]
    CHECK16 "IRET restored SP", [V_SP_AFTER], eax

    ; INT3 (one byte, CCh) and INTO with OF=1: traps, the pushed IP is the
    ; next instruction (Vol. 2 INT n/INTO/INT3)
    ARM16 .bp_r
    int3
.bp_next:
    nop
.bp_r:
    RECOVERED16
    CHECK16 "INT3: vector 3", [EXC_VEC], 3
    ONVEC16 3
    CHECK16 "INT3: pushed IP = after the INT3", [EXC_FRAME], R(.bp_next)
    ENDVEC16

    mov al, 0x7F
    add al, 1                           ; OF=1
    ARM16 .of_r
    into
.of_next:
    nop
.of_r:
    RECOVERED16
    CHECK16 "INTO with OF=1: vector 4", [EXC_VEC], 4
    ONVEC16 4
    CHECK16 "INTO with OF=1: pushed IP = after the INTO", [EXC_FRAME], R(.of_next)
    ENDVEC16

    xor al, al                          ; OF=0
    ARM16 .of0_r
    into
.of0_r:
    RECOVERED16
    CHECK16 "INTO with OF=0: no interrupt", [EXC_VEC], NOEXC

    ; ---- LIDT moves the real-mode vector table (20.1.4) ---------------------
    POST 0x07
    mov word [0x8000 + 0x41*4], R(rm_stubs) + 0x99 * RM_STUB_SIZE
    mov word [0x8000 + 0x41*4 + 2], 0xF000
    mov bx, R(idtr_8000)
    lidt [cs:bx]
    ARM16 .lidt_r
    int 0x41
.lidt_r:
    RECOVERED16
    mov bx, R(rm_idtr)
    lidt [cs:bx]
    CHECK16 "INT 41h with IDTR.base=8000h uses the table at 8000h", [EXC_VEC], 0x99

    ; ---- PUSHF/POPF (Vol. 2 POPF: in real mode all non-reserved flags except
    ; VIP, VIF and VM can be modified; bits 1 reads 1, bits 3, 5, 15 read 0) --
    POST 0x08
    push word 0xFEFF                    ; everything but TF (which would trap)
    popf
    pushf
    pop ax
    push word 2
    popf
    movzx eax, ax
    CHECK16 "POPF FEFFh then PUSHF (IOPL, NT settable; reserved bits fixed)", eax, 0x7ED7
    push dword FL_AC | FL_VM | FL_VIF | FL_VIP | 2
    popfd
    pushfd
    pop eax
    push dword 2
    popfd
    CHECK16 "POPFD in real mode: AC set, VM/VIF/VIP unaffected", eax, FL_AC | 2
    pushfd
    pop eax
    CHECK16 "PUSHFD image after POPFD 2", eax, 2

    ; ---- #DE (Vol. 3A 6.15 Interrupt 0: fault, IP of the DIV) -----------------
    POST 0x09
    mov ax, 0x1234
    xor bl, bl
    ARM16 .de_r
.de_f:
    div bl
.de_r:
    mov [ss:V_AX], ax
    RECOVERED16
    CHECK16 "DIV by zero: vector 0", [EXC_VEC], 0
    ONVEC16 0
    CHECK16 "DIV by zero: pushed IP = the DIV", [EXC_FRAME], R(.de_f)
    CHECK16 "DIV by zero: pushed CS", [EXC_FRAME+4], 0xF000
    CHECKM16 "DIV by zero: AX unchanged", [V_AX], 0xFFFF, 0x1234
    ENDVEC16

    mov ax, 0x1000
    mov bl, 1                           ; quotient 1000h does not fit in AL
    ARM16 .de2_r
.de2_f:
    div bl
.de2_r:
    RECOVERED16
    CHECK16 "DIV quotient overflow: vector 0", [EXC_VEC], 0
    ONVEC16 0
    CHECK16 "DIV quotient overflow: pushed IP = the DIV", [EXC_FRAME], R(.de2_f)
    ENDVEC16

    mov ax, 0x8000
    mov bl, 0xFF                        ; -32768 / -1 = 32768 > 127
    ARM16 .de3_r
.de3_f:
    idiv bl
.de3_r:
    RECOVERED16
    CHECK16 "IDIV quotient overflow: vector 0", [EXC_VEC], 0
    ONVEC16 0
    CHECK16 "IDIV quotient overflow: pushed IP = the IDIV", [EXC_FRAME], R(.de3_f)
    ENDVEC16

    jmp rm_finish

; INT 50h handler: records the frame and its own FLAGS through SS (= 0).
int50_handler:
    push bp
    mov bp, sp
    push ax
    mov ax, [bp+2]
    mov [ss:V_H_IP], ax
    mov ax, [bp+4]
    mov [ss:V_H_CS], ax
    mov ax, [bp+6]
    mov [ss:V_H_FLAGS], ax
    pushf
    pop ax
    mov [ss:V_H_OWNFLAGS], ax
    lea ax, [bp+2]
    mov [ss:V_H_SP], ax
    pop ax
    pop bp
    iret

idtr_8000: dw 0x3FF
           dd 0x8000

    ROM_END
