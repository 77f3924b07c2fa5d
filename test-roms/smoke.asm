; smoke.asm - the smallest test ROM, the emulator's first test: from the
; reset vector, print "hello from ringside" to the debug console (port E9h),
; then "PASS smoke" and exit with status 33 through isa-debug-exit (port F4h).
;
; Deliberately independent of the shared harness so that it needs almost
; nothing: the far JMP at FFFF0h (SDM Vol. 3A 9.1.4 "First Instruction
; Executed"), real-mode segment:offset fetches (Vol. 3B 20.1.1), MOV, CMP,
; Jcc, INC, OUT imm8,AL, CLI and HLT.
%define ROMNAME "smoke"
%include "defs.inc"

    bits 16
    org ROM_BASE

rom_start:
    cli
    mov si, R(msg)
.next:
    mov al, [cs:si]
    cmp al, 0
    je .done
    out PORT_DEBUG, al
    inc si
    jmp .next
.done:
    mov al, EXIT_PASS
    out PORT_EXIT, al
.halt:
    hlt                                 ; only reached without isa-debug-exit
    jmp .halt

msg: db "hello from ringside", 10, "PASS ", ROMNAME, 10, 0

    ROM_END
