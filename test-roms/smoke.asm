; smoke.asm - the smallest test ROM: print a greeting to the debug console
; (port E9h) and report PASS through isa-debug-exit (port F4h).
; It only needs real-mode execution from the reset vector (SDM Vol. 3A 9.1.4
; "First Instruction Executed") and OUT imm8,AL.
%define ROMNAME "smoke"
%include "defs.inc"
%include "rm.inc"

main:
    mov si, R(hello)
    call rm_puts
    jmp rm_finish

hello: db "hello from ringside", 10, 0

    ROM_END
