; fdboot.asm - a 1.44 MB boot floppy that checks the BIOS floppy path end to end: SeaBIOS
; loads this boot sector through the 82077AA and ISA DMA channel 2, then the sector reads
; more of the disk with INT 13h (a whole track, the other head, a far cylinder after a
; seek), writes a sector and reads it back, and reports on the debug console (port E9h)
; before leaving through isa-debug-exit (port F4h): 10h on success (exit status 33), 11h on
; failure (35).
;
; Every sector after the boot sector holds its LBA in its first word and the LBA's
; complement in its last word, so a misplaced sector is caught.

bits 16
org 0x7C00

BUF equ 0x1000                  ; segment of the read buffer (linear 0x10000)

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov [drive], dl

    ; Cylinder 0, head 0, sectors 2-18: LBA 1-17.
    mov ax, BUF
    mov es, ax
    xor bx, bx
    mov ax, 0x0211              ; read 17 sectors
    mov cx, 0x0002              ; cylinder 0, sector 2
    xor dh, dh
    call disk
    mov ax, 1
    mov cx, 17
    call check_run

    ; Cylinder 0, head 1, all 18 sectors: LBA 18-35.
    xor bx, bx
    mov ax, 0x0212
    mov cx, 0x0001
    mov dh, 1
    call disk
    mov ax, 18
    mov cx, 18
    call check_run

    ; Cylinder 79, head 1, sectors 16-18: LBA 2877-2879 (a long seek to the last track).
    xor bx, bx
    mov ax, 0x0203
    mov cx, 0x4F10
    mov dh, 1
    call disk
    mov ax, 2877
    mov cx, 3
    call check_run

    ; Write a new pattern over cylinder 40, head 0, sector 9 (LBA 1448), read it back.
    xor bx, bx
    mov word [es:0], 0xBEEF
    mov word [es:510], 0x4110
    mov ax, 0x0301
    mov cx, 0x2809
    xor dh, dh
    call disk
    mov word [es:0], 0
    mov word [es:510], 0
    mov ax, 0x0201
    call disk
    cmp word [es:0], 0xBEEF
    jne fail
    cmp word [es:510], 0x4110
    jne fail

    mov si, msg_ok
    call print
    mov al, 0x10
    out 0xF4, al
    jmp $

; INT 13h with AX/CX/DH as given and the boot drive; fails the test on an error.
disk:
    mov dl, [drive]
    push ax
    int 0x13
    pop ax
    jc fail
    ret

; Checks CX sectors at ES:0 starting with LBA AX.
check_run:
    xor di, di
.next:
    cmp [es:di], ax
    jne fail
    mov dx, ax
    not dx
    cmp [es:di + 510], dx
    jne fail
    inc ax
    add di, 512
    loop .next
    ret

fail:
    mov si, msg_fail
    call print
    mov al, 0x11
    out 0xF4, al
    jmp $

print:
    lodsb
    test al, al
    jz .done
    out 0xE9, al
    jmp print
.done:
    ret

drive:    db 0
msg_ok:   db "FDBOOT: PASS", 10, 0
msg_fail: db "FDBOOT: FAIL", 10, 0

    times 510 - ($ - $$) db 0
    dw 0xAA55

%assign lba 1
%rep 2879
    dw lba
    times 508 db 0x5A
    dw lba ^ 0xFFFF
%assign lba lba + 1
%endrep
