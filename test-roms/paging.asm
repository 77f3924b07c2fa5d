; paging.asm - 32-bit paging (4 KiB and 4 MiB pages) and PAE paging.
;
; SDM references (Intel 64 and IA-32 SDM Vol. 3A):
;   4.3    32-bit paging: CR3 -> PDE -> PTE; PS=1 in a PDE with CR4.PSE=1
;          maps a 4 MiB page; Table 4-5/4-6 (reserved bit 21 of a 4 MiB PDE)
;   4.4    PAE paging: CR3 -> 4 PDPTEs (loaded on MOV CR3) -> PDE (PS=1: 2 MiB)
;          -> PTE, 64-bit entries
;   4.6    access rights: U/S and R/W combined over all levels; supervisor
;          writes to read-only pages fault only with CR0.WP=1
;   4.7    #PF error code (P, W/R, U/S, RSVD) and CR2 = faulting linear address
;   4.8    accessed and dirty flags (A set on any access, D on a write, in the
;          entry that maps the page)
;   4.10.4 INVLPG invalidates the TLB entry for a page; MOV to CR3 invalidates
;          the non-global entries.  (That a stale entry may still be used
;          without INVLPG, and that global pages survive a CR3 write, are
;          permitted but not required behaviours: not asserted.)
%define ROMNAME "paging"
%include "defs.inc"
%include "rm.inc"
%include "pm.inc"

PD          equ 0x100000
PT0         equ 0x101000    ; identity 0-4 MiB (U/S=1, R/W=1)
PT1         equ 0x102000    ; 400000h-7FFFFFh: test pages
PT2         equ 0x103000    ; 1400000h: PTE user, PDE supervisor

L_MAP       equ 0x400000    ; -> 700000h, user RW
L_NP        equ 0x401000    ; not present
L_RO        equ 0x402000    ; -> 702000h, user read-only
L_SUP       equ 0x403000    ; -> 703000h, supervisor RW
L_AD        equ 0x404000    ; -> 704000h, A/D initially clear
L_INV       equ 0x405000    ; -> 705000h, later 706000h
L_4M        equ 0x800000    ; 4 MiB page -> C00000h
L_RSVD      equ 0xC00000    ; 4 MiB PDE with reserved bit 21 set
L_PDESUP    equ 0x1400000   ; PDE U/S=0, PTE U/S=1 -> 707000h

; PAE structures
PDPT        equ 0x110000
PAE_PD0     equ 0x111000
PAE_PT0     equ 0x112000    ; identity 0-2 MiB
PAE_PT2     equ 0x113000    ; 400000h-5FFFFFh
PAE_2M      equ 0x600000    ; 2 MiB page -> A00000h

M_MAP       equ 0x7E570000
M_4M        equ 0x4A4A4A4A
M_INV_A     equ 0x1A1A1A1A
M_INV_B     equ 0x2B2B2B2B
M_2M        equ 0x2E2E2E2E

V_TMP       equ SCRATCH + 0x00
V_CR2       equ SCRATCH + 0x04

%define PTE(l) (PT1 + (((l) >> 12) & 0x3FF) * 4)

; CHECK_PF name, error code, faulting EIP, CR2
%macro CHECK_PF 4
    CHECK_EXCE %1, 14, %2, %3
    ONVEC 14
    CHECK {%1, ": CR2"}, [V_CR2], %4
    ENDVEC
%endmacro

; after RECOVERED from a #PF test: keep CR2
%macro SAVE_CR2 0
    mov eax, cr2
    mov [V_CR2], eax
%endmacro

main:
    POST 0x50
    ENTER_PM
    ; ---- markers in physical memory (paging still off) ----------------------------
    mov dword [0x700000], M_MAP
    mov dword [0x702000], 0x20202020
    mov dword [0x703000], 0x30303030
    mov dword [0x704000], 0x40404040
    mov dword [0x705000], M_INV_A
    mov dword [0x706000], M_INV_B
    mov dword [0x707000], 0x70707070
    mov dword [0xC00000 + 0x123450], M_4M
    mov dword [0xA00000 + 0x012340], M_2M

    ; ---- 32-bit paging structures ----------------------------------------------
    mov edi, PD
    mov ecx, 0x4000 / 4
    xor eax, eax
    rep stosd
    mov edi, PT0
    mov eax, 7                          ; P | R/W | U/S
    mov ecx, 1024
.pt0:
    stosd
    add eax, 0x1000
    loop .pt0
    mov dword [PD + 0*4], PT0 | 7
    mov dword [PD + 1*4], PT1 | 7
    mov dword [PD + 2*4], 0xC00000 | 0x87           ; PS=1, 4 MiB page
    mov dword [PD + 3*4], 0xC00000 | 0x87 | (1 << 21) ; reserved bit 21
    mov dword [PD + 5*4], PT2 | 3                   ; supervisor PDE
    mov dword [PTE(L_MAP)], 0x700000 | 7
    mov dword [PTE(L_NP)], 0
    mov dword [PTE(L_RO)], 0x702000 | 5             ; P | U/S, read-only
    mov dword [PTE(L_SUP)], 0x703000 | 3            ; P | R/W, supervisor
    mov dword [PTE(L_AD)], 0x704000 | 7
    mov dword [PTE(L_INV)], 0x705000 | 7
    mov dword [PT2], 0x707000 | 7                   ; user PTE under a supervisor PDE

    mov eax, cr4
    or eax, 1 << 4                      ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    and eax, ~(1 << 16)                 ; WP=0
    mov cr0, eax

    ; ---- translations --------------------------------------------------------------
    POST 0x51
    CHECK "4 KiB page: 400000h -> 700000h", [L_MAP], M_MAP
    mov dword [L_MAP + 4], 0x0BADC0DE
    CHECK "4 KiB page: write and read back through 400004h", [L_MAP + 4], 0x0BADC0DE
    CHECK "4 MiB page (PSE): 923450h -> D23450h", [L_4M + 0x123450], M_4M
    CHECK "identity-mapped low memory still works", [TSS0_BASE + 8], SEL_DATA0

    ; ---- accessed / dirty (4.8) ---------------------------------------------------------
    POST 0x52
    and dword [PTE(L_AD)], ~0x60        ; A=0, D=0
    and dword [PD + 1*4], ~0x20         ; PDE A=0
    invlpg [L_AD]
    mov eax, [L_AD]                     ; read
    CHECKM "read sets the PTE accessed bit", [PTE(L_AD)], 0x20, 0x20
    CHECKM "read leaves the PTE dirty bit clear", [PTE(L_AD)], 0x40, 0
    CHECKM "read sets the PDE accessed bit", [PD + 1*4], 0x20, 0x20
    mov dword [L_AD], 1                 ; write
    CHECKM "write sets the PTE dirty bit", [PTE(L_AD)], 0x40, 0x40

    and dword [PD + 2*4], ~0x60         ; 4 MiB page: A=0, D=0 in the PDE
    invlpg [L_4M]
    mov eax, [L_4M]
    CHECKM "4 MiB page: read sets the PDE accessed bit", [PD + 2*4], 0x20, 0x20
    CHECKM "4 MiB page: read leaves the PDE dirty bit clear", [PD + 2*4], 0x40, 0
    mov dword [L_4M + 8], 1
    CHECKM "4 MiB page: write sets the PDE dirty bit", [PD + 2*4], 0x40, 0x40

    ; ---- #PF error codes and CR2 (4.7) ------------------------------------------------------
    POST 0x53
    ARM .pf1_r
.pf1_f:
    mov eax, [L_NP + 0x10]
.pf1_r:
    RECOVERED
    SAVE_CR2
    CHECK_PF "CPL 0 read, not present -> #PF(0)", 0, .pf1_f, L_NP + 0x10
    ARM .pf2_r
.pf2_f:
    mov dword [L_NP + 0x20], 1
.pf2_r:
    RECOVERED
    SAVE_CR2
    CHECK_PF "CPL 0 write, not present -> #PF(2)", 2, .pf2_f, L_NP + 0x20

    RING3 r3_rd_np, 2
    SAVE_CR2
    CHECK_PF "CPL 3 read, not present -> #PF(4)", 4, r3_rd_np.f, L_NP + 0x30
    RING3 r3_wr_ro, 2
    SAVE_CR2
    CHECK_PF "CPL 3 write to a read-only user page -> #PF(7)", 7, r3_wr_ro.f, L_RO + 0x40
    RING3 r3_rd_sup, 2
    SAVE_CR2
    CHECK_PF "CPL 3 read of a supervisor page -> #PF(5)", 5, r3_rd_sup.f, L_SUP + 0x50
    RING3 r3_rd_pdesup, 2
    SAVE_CR2
    CHECK_PF "CPL 3 read, user PTE under a supervisor PDE -> #PF(5)", 5, r3_rd_pdesup.f, L_PDESUP + 0x60
    RING3 r3_rd_ro, 2
    CHECK "CPL 3 read of a read-only user page: no fault", [EXC_VEC], RET0_VEC

    ; supervisor write to a read-only page: allowed with WP=0, #PF(3) with WP=1
    ARM .wp0_r
    mov dword [L_RO + 0x70], 0x12345678
.wp0_r:
    RECOVERED
    CHECK "CPL 0 write to a read-only page with CR0.WP=0: no fault", [EXC_VEC], NOEXC
    CHECK "CPL 0 write to a read-only page with CR0.WP=0: written", [L_RO + 0x70], 0x12345678
    mov eax, cr0
    or eax, 1 << 16                     ; WP=1
    mov cr0, eax
    ARM .wp1_r
.wp1_f:
    mov dword [L_RO + 0x74], 1
.wp1_r:
    RECOVERED
    SAVE_CR2
    mov eax, cr0
    and eax, ~(1 << 16)
    mov cr0, eax
    CHECK_PF "CPL 0 write to a read-only page with CR0.WP=1 -> #PF(3)", 3, .wp1_f, L_RO + 0x74

    ; reserved bit in a 4 MiB PDE -> #PF with RSVD (bit 3) and P
    ARM .rsvd_r
.rsvd_f:
    mov eax, [L_RSVD + 0x80]
.rsvd_r:
    RECOVERED
    SAVE_CR2
    CHECK_PF "read through a 4 MiB PDE with reserved bit 21 set -> #PF(9)", 9, .rsvd_f, L_RSVD + 0x80

    ; ---- INVLPG and CR3 reload (4.10.4) ------------------------------------------------------
    POST 0x54
    mov eax, [L_INV]                    ; cache the translation -> 705000h
    mov [V_TMP], eax
    CHECK "INVLPG test page initially -> 705000h", [V_TMP], M_INV_A
    mov dword [PTE(L_INV)], 0x706000 | 7
    invlpg [L_INV]
    CHECK "after changing the PTE and INVLPG: -> 706000h", [L_INV], M_INV_B
    mov dword [PTE(L_INV)], 0x705000 | 7
    mov eax, cr3
    mov cr3, eax                        ; flushes non-global translations
    CHECK "after changing the PTE and reloading CR3: -> 705000h", [L_INV], M_INV_A

    ; ---- PAE paging (4.4) -----------------------------------------------------------------------
    POST 0x55
    mov eax, cr0
    and eax, ~0x80000000
    mov cr0, eax                        ; paging off to switch modes
    mov edi, PDPT
    mov ecx, 0x4000 / 4
    xor eax, eax
    rep stosd                           ; PDPT, PAE_PD0, PAE_PT0, PAE_PT2
    mov dword [PDPT], PAE_PD0 | 1       ; PDPTE: P only (R/W, U/S reserved)
    mov dword [PAE_PD0 + 0*8], PAE_PT0 | 7
    mov dword [PAE_PD0 + 1*8], 0x200000 | 0x87          ; 2-4 MiB identity, 2 MiB page
    mov dword [PAE_PD0 + 2*8], PAE_PT2 | 7
    mov dword [PAE_PD0 + 3*8], 0xA00000 | 0x87          ; 600000h -> A00000h, 2 MiB
    mov edi, PAE_PT0
    mov eax, 7
    mov ecx, 512
.paept:
    mov [edi], eax
    mov dword [edi + 4], 0
    add edi, 8
    add eax, 0x1000
    loop .paept
    mov dword [PAE_PT2 + 0*8], 0x700000 | 7             ; 400000h -> 700000h
    mov dword [PAE_PT2 + 1*8], 0                        ; 401000h not present
    mov eax, cr4
    or eax, 1 << 5                      ; PAE
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    CHECK "PAE: 4 KiB page 400000h -> 700000h", [L_MAP], M_MAP
    CHECK "PAE: 2 MiB page 612340h -> A12340h", [PAE_2M + 0x12340], M_2M
    CHECKM "PAE: read set the PTE accessed bit", [PAE_PT2 + 0*8], 0x20, 0x20
    ARM .pae1_r
.pae1_f:
    mov eax, [0x401000 + 0x90]
.pae1_r:
    RECOVERED
    SAVE_CR2
    CHECK_PF "PAE: read of a not-present PTE -> #PF(0)", 0, .pae1_f, 0x401090
    ARM .pae2_r
.pae2_f:
    mov dword [0x40000000 + 0xA0], 1    ; PDPTE 1 not present
.pae2_r:
    RECOVERED
    SAVE_CR2
    CHECK_PF "PAE: write through a not-present PDPTE -> #PF(2)", 2, .pae2_f, 0x400000A0
    mov eax, cr0
    and eax, ~0x80000000
    mov cr0, eax
    mov eax, cr4
    and eax, ~(1 << 5)
    mov cr4, eax

    jmp pm_finish

; ---- ring-3 accesses (DS is null after the IRET to ring 3: use SS, flat) ----
r3_rd_np:
.f: mov eax, [ss:L_NP + 0x30]
    int RET0_VEC
r3_wr_ro:
.f: mov dword [ss:L_RO + 0x40], 1
    int RET0_VEC
r3_rd_sup:
.f: mov eax, [ss:L_SUP + 0x50]
    int RET0_VEC
r3_rd_pdesup:
.f: mov eax, [ss:L_PDESUP + 0x60]
    int RET0_VEC
r3_rd_ro:
    mov eax, [ss:L_RO]
    int RET0_VEC

    ROM_END
