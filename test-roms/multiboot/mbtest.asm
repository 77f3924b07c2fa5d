; mbtest.asm - a Multiboot v1 kernel that checks what its boot loader handed it.
;
; Built twice by test-roms/multiboot/build.sh from this one source:
;   build/mbtest.elf         nasm -f elf32 + ld -m elf_i386 (ELF, flags 0x00000003)
;   build/mbtest-kludge.bin  nasm -f bin -DKLUDGE (flat image, a.out kludge, flags 0x00010003)
; Both load at 1 MiB.
;
; Multiboot Specification 0.6.96: 3.1 (header), 3.2 (machine state), 3.3 (boot information).
;
; Contract with whoever boots it (Ringside --kernel, or qemu-system-i386 -kernel):
;   --append must contain "mbtest.append=ok" and may contain "mods=N" (N = 0-9, the number of
;   modules expected; 0 when absent).  Module i (--initrd "m0.bin,m1.bin arg") must begin
;   with the four bytes "MOD" followed by the digit i, and is at least 4 bytes long.
; Checks: EAX = 2BADB002h; CR0.PE = 1 and PG = 0; EFLAGS.IF = 0; CS and DS flat (LSL gives
; limit FFFFFFFFh); info flags has memory, cmdline, mmap; mem_lower in 600..640 KiB,
; mem_upper covers the kernel; the command line contains the marker; mods_count = N; each
; module page aligned (header flag 0), end >= start + 4, first bytes "MODi", a string; the
; memory map has 20-byte entries, one of them RAM (type 1) covering the kernel and one
; covering address 0; the bss is zero; A20 is enabled.
; Output on port E9h, one line per item ("MB: ..."); a failed check prints
; "FAIL mbtest: <what>".  At the end "MB: PASS" and "PASS mbtest" and 10h to port F4h
; (isa-debug-exit status 33), or "FAIL mbtest: summary: <n>h checks failed" and 11h (35),
; as the test ROMs do (test-roms/README.md).

bits 32

MB_MAGIC        equ 0x1BADB002
MB_LOADER_MAGIC equ 0x2BADB002
%ifdef KLUDGE
MB_FLAGS        equ 0x00010003          ; page-align modules, memory info, a.out kludge
%else
MB_FLAGS        equ 0x00000003          ; page-align modules, memory info
%endif

PORT_DEBUG      equ 0xE9
PORT_EXIT       equ 0xF4
EXIT_PASS       equ 0x10
EXIT_FAIL       equ 0x11

; multiboot_info offsets
MBI_FLAGS       equ 0
MBI_MEM_LOWER   equ 4
MBI_MEM_UPPER   equ 8
MBI_CMDLINE     equ 16
MBI_MODS_COUNT  equ 20
MBI_MODS_ADDR   equ 24
MBI_MMAP_LENGTH equ 44
MBI_MMAP_ADDR   equ 48
MBI_LOADER_NAME equ 64

%ifdef KLUDGE
        org 0x100000
%endif

section .text
global start
start:
        jmp     entry

        align 4
mb_header:
        dd      MB_MAGIC
        dd      MB_FLAGS
        dd      -(MB_MAGIC + MB_FLAGS)
%ifdef KLUDGE
        dd      mb_header               ; header_addr
        dd      start                   ; load_addr
        dd      text_end                ; load_end_addr
        dd      bss_end                 ; bss_end_addr
        dd      entry                   ; entry_addr
%endif

; ---- output ------------------------------------------------------------------

; putc: AL to the debug console.
putc:
        push    edx
        mov     dx, PORT_DEBUG
        out     dx, al
        pop     edx
        ret

; puts: NUL-terminated string at ESI (at most 200 bytes, so a wild pointer ends).
puts:
        push    eax
        push    ecx
        push    esi
        mov     ecx, 200
.l:     lodsb
        test    al, al
        jz      .d
        call    putc
        loop    .l
.d:     pop     esi
        pop     ecx
        pop     eax
        ret

; hex: EAX as 8 hex digits.
hex:
        push    eax
        push    ecx
        push    edx
        mov     edx, eax
        mov     ecx, 8
.l:     rol     edx, 4
        mov     al, dl
        and     al, 0x0F
        add     al, '0'
        cmp     al, '9'
        jbe     .p
        add     al, 'a' - '0' - 10
.p:     call    putc
        loop    .l
        pop     edx
        pop     ecx
        pop     eax
        ret

nl:
        push    eax
        mov     al, 10
        call    putc
        pop     eax
        ret

; PUTS "text": print a literal.
%macro PUTS 1
        jmp     %%over
%%s:    db      %1, 0
%%over: push    esi
        mov     esi, %%s
        call    puts
        pop     esi
%endmacro

; FAIL "what": report a failed check and count it.
%macro FAIL 1
        PUTS    "FAIL mbtest: "
        PUTS    %1
        call    nl
        inc     dword [fail_count]
%endmacro

; CHECK cond, "what": FAIL unless the flags satisfy cond (a Jcc suffix).
%macro CHECK 2
        j%+1    %%ok
        FAIL    %2
%%ok:
%endmacro

; strstr: ESI haystack, EDI needle (both NUL terminated); EAX = match or 0.
strstr:
        push    ecx
        push    esi
        push    edi
        mov     ecx, 4096               ; bound the scan of a wild pointer
.outer: push    esi
        push    edi
.inner: mov     al, [edi]
        test    al, al
        jz      .found
        cmp     al, [esi]
        jne     .next
        inc     esi
        inc     edi
        jmp     .inner
.found: pop     edi
        pop     eax                     ; start of this attempt
        jmp     .ret
.next:  pop     edi
        pop     esi
        cmp     byte [esi], 0
        je      .none
        inc     esi
        loop    .outer
.none:  xor     eax, eax
.ret:   pop     edi
        pop     esi
        pop     ecx
        ret

; ---- the checks ----------------------------------------------------------------

entry:
        ; EAX/EBX first: nothing may touch them before they are saved.
        mov     [boot_eax], eax
        mov     [boot_ebx], ebx
        pushfd
        pop     dword [boot_eflags]
        mov     esp, stack_top
        cld

        PUTS    "MB: Ringside Multiboot test kernel"
        call    nl

        mov     eax, [boot_eax]
        cmp     eax, MB_LOADER_MAGIC
        jne     .badmagic
        PUTS    "MB: magic ok"
        call    nl
        jmp     .state
.badmagic:
        FAIL    "magic"
        PUTS    "MB: eax="
        call    hex
        call    nl
        jmp     finish                  ; EBX means nothing then

.state:
        mov     eax, cr0
        test    eax, 1
        CHECK   nz, "CR0.PE clear"
        test    eax, 0x80000000
        CHECK   z, "CR0.PG set"
        test    dword [boot_eflags], 0x200
        CHECK   z, "EFLAGS.IF set"
        test    dword [boot_eflags], 0x20000
        CHECK   z, "EFLAGS.VM set"
        mov     eax, cs
        lsl     ecx, eax
        CHECK   z, "LSL CS failed"
        cmp     ecx, 0xFFFFFFFF
        CHECK   e, "CS is not 4 GiB"
        mov     eax, ds
        lsl     ecx, eax
        CHECK   z, "LSL DS failed"
        cmp     ecx, 0xFFFFFFFF
        CHECK   e, "DS is not 4 GiB"
        mov     eax, ss
        lsl     ecx, eax
        CHECK   z, "LSL SS failed"
        cmp     ecx, 0xFFFFFFFF
        CHECK   e, "SS is not 4 GiB"

        ; The bss must arrive zeroed.
        mov     esi, bss_canary
        mov     ecx, BSS_CANARY_LEN / 4
        xor     eax, eax
.bss:   or      eax, [esi]
        add     esi, 4
        loop    .bss
        test    eax, eax
        CHECK   z, "bss not zero"

        mov     ebx, [boot_ebx]
        PUTS    "MB: info at "
        mov     eax, ebx
        call    hex
        PUTS    " flags="
        mov     eax, [ebx + MBI_FLAGS]
        call    hex
        call    nl

        ; ---- memory sizes (flag 0) ----
        test    dword [ebx + MBI_FLAGS], 1 << 0
        CHECK   nz, "no memory info (flag 0)"
        jz      .cmdline
        PUTS    "MB: mem_lower="
        mov     eax, [ebx + MBI_MEM_LOWER]
        call    hex
        PUTS    " mem_upper="
        mov     eax, [ebx + MBI_MEM_UPPER]
        call    hex
        call    nl
        mov     eax, [ebx + MBI_MEM_LOWER]
        cmp     eax, 600
        CHECK   ae, "mem_lower below 600 KiB"
        cmp     eax, 640
        CHECK   be, "mem_lower above 640 KiB"
        mov     eax, [ebx + MBI_MEM_UPPER]
        shl     eax, 10
        add     eax, 0x100000
        cmp     eax, bss_end
        CHECK   ae, "mem_upper does not cover the kernel"

        ; ---- command line (flag 2) ----
.cmdline:
        test    dword [ebx + MBI_FLAGS], 1 << 2
        CHECK   nz, "no command line (flag 2)"
        jz      .mods
        PUTS    "MB: cmdline="
        mov     esi, [ebx + MBI_CMDLINE]
        call    puts
        call    nl
        mov     edi, marker
        call    strstr
        test    eax, eax
        CHECK   nz, "command line lacks mbtest.append=ok"
        mov     edi, mods_key
        call    strstr
        test    eax, eax
        jz      .mods
        movzx   eax, byte [eax + 5]
        sub     eax, '0'
        cmp     eax, 9
        ja      .mods
        mov     [want_mods], eax

        ; ---- modules (flag 3) ----
.mods:
        mov     ecx, 0
        test    dword [ebx + MBI_FLAGS], 1 << 3
        jz      .modcount
        mov     ecx, [ebx + MBI_MODS_COUNT]
.modcount:
        PUTS    "MB: mods_count="
        mov     eax, ecx
        call    hex
        call    nl
        cmp     ecx, [want_mods]
        CHECK   e, "mods_count differs from mods= on the command line"
        jne     .mmap
        test    ecx, ecx
        jz      .mmap
        mov     esi, [ebx + MBI_MODS_ADDR]
        xor     edx, edx                ; module index
.modloop:
        push    ecx
        PUTS    "MB: mod"
        mov     al, dl
        add     al, '0'
        call    putc
        PUTS    " start="
        mov     eax, [esi]
        call    hex
        PUTS    " end="
        mov     eax, [esi + 4]
        call    hex
        PUTS    " len="
        mov     eax, [esi + 4]
        sub     eax, [esi]
        call    hex
        PUTS    " string="
        push    esi
        mov     esi, [esi + 8]
        call    puts
        pop     esi
        call    nl
        test    dword [esi], 0xFFF
        CHECK   z, "module not page aligned"
        mov     eax, [esi + 4]
        sub     eax, [esi]
        cmp     eax, 4
        CHECK   ae, "module shorter than 4 bytes"
        jb      .modnext
        mov     edi, [esi]
        cmp     word [edi], 'MO'
        CHECK   e, "module does not start with MOD"
        cmp     byte [edi + 2], 'D'
        CHECK   e, "module does not start with MOD"
        mov     al, dl
        add     al, '0'
        cmp     [edi + 3], al
        CHECK   e, "module digit is not its index"
        mov     eax, [esi]
        cmp     eax, bss_end
        CHECK   ae, "module overlaps the kernel"
.modnext:
        add     esi, 16
        inc     edx
        pop     ecx
        dec     ecx
        jnz     .modloop

        ; ---- memory map (flag 6) ----
.mmap:
        test    dword [ebx + MBI_FLAGS], 1 << 6
        CHECK   nz, "no memory map (flag 6)"
        jz      .name
        mov     esi, [ebx + MBI_MMAP_ADDR]
        mov     edi, esi
        add     edi, [ebx + MBI_MMAP_LENGTH]
        xor     edx, edx                ; bit 0: RAM covers the kernel, bit 1: RAM at 0
        mov     ecx, 64                 ; bound a corrupt map
.mmloop:
        cmp     esi, edi
        jae     .mmdone
        PUTS    "MB: mmap base="
        mov     eax, [esi + 8]
        call    hex
        mov     eax, [esi + 4]
        call    hex
        PUTS    " len="
        mov     eax, [esi + 16]
        call    hex
        mov     eax, [esi + 12]
        call    hex
        PUTS    " type="
        mov     eax, [esi + 20]
        call    hex
        call    nl
        cmp     dword [esi], 20
        CHECK   ae, "mmap entry size below 20"
        cmp     dword [esi + 20], 1
        jne     .mmnext
        cmp     dword [esi + 8], 0      ; only the low 4 GiB matter here
        jne     .mmnext
        cmp     dword [esi + 4], 0
        jne     .notzero
        or      edx, 2
.notzero:
        mov     eax, [esi + 4]
        cmp     eax, start
        ja      .mmnext
        add     eax, [esi + 12]         ; end (a 4 GiB wrap counts as covering)
        jc      .covers
        cmp     eax, bss_end
        jb      .mmnext
.covers:
        or      edx, 1
.mmnext:
        mov     eax, [esi]
        lea     esi, [esi + eax + 4]
        dec     ecx
        jnz     .mmloop
.mmdone:
        test    edx, 1
        CHECK   nz, "no RAM entry covers the kernel"
        test    edx, 2
        CHECK   nz, "no RAM entry at address 0"

        ; ---- boot loader name (flag 9) ----
.name:
        test    dword [ebx + MBI_FLAGS], 1 << 9
        jz      .a20
        PUTS    "MB: loader="
        mov     esi, [ebx + MBI_LOADER_NAME]
        call    puts
        call    nl

        ; ---- A20 (after the modules: this scribbles on RAM above the kernel) ----
.a20:
        mov     dword [0x1FF000], 0x11111111
        mov     dword [0x2FF000], 0x22222222
        cmp     dword [0x1FF000], 0x11111111
        CHECK   e, "A20 disabled (1 MiB wraps)"

finish:
        mov     eax, [fail_count]
        test    eax, eax
        jnz     .failed
        PUTS    "MB: PASS"
        call    nl
        PUTS    "PASS mbtest"
        call    nl
        mov     al, EXIT_PASS
        out     PORT_EXIT, al
        jmp     halt
.failed:
        PUTS    "FAIL mbtest: summary: "
        call    hex
        PUTS    "h checks failed"
        call    nl
        mov     al, EXIT_FAIL
        out     PORT_EXIT, al
halt:
        cli
        hlt
        jmp     halt

marker:     db  "mbtest.append=ok", 0
mods_key:   db  "mods=", 0

        align 4
want_mods:  dd  0
fail_count: dd  0
text_end:

section .bss
        alignb 16
boot_eax:       resd 1
boot_ebx:       resd 1
boot_eflags:    resd 1
BSS_CANARY_LEN  equ 4096
bss_canary:     resb BSS_CANARY_LEN
        alignb 16
                resb 4096
stack_top:
bss_end:
