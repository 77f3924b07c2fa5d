#!/usr/bin/env bash
# build.sh - build the Multiboot test kernel (mbtest.asm) two ways:
#   test-roms/build/mbtest.elf         ELF32 (nasm -f elf32, ld -m elf_i386), loaded at 1 MiB
#   test-roms/build/mbtest-kludge.bin  flat binary with the a.out kludge (nasm -f bin -DKLUDGE)
# and the two test modules the integration test passes with --initrd:
#   test-roms/build/mbtest-mod0.bin, mbtest-mod1.bin  ("MOD0"/"MOD1" then filler bytes)
# Any assembler or linker warning or error fails the build (non-zero exit).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(cd "$here/.." && pwd)/build
mkdir -p "$out"

for tool in nasm ld; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "multiboot/build.sh: $tool not found (nasm; binutils for ld)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nasm -f elf32 -Werror -o "$tmp/mbtest.o" "$here/mbtest.asm"
# -N: one RWX load segment and no loaded ELF headers (they would sit below 1 MiB, in the
# BIOS area). Keep ld quiet about RWX where it knows the option (binutils 2.39+); the help
# text is read whole first, as grep -q would cut the pipe under pipefail.
ldflags=(-m elf_i386 -N -Ttext=0x100000 -e start --build-id=none -static)
ldhelp=$(ld --help 2>/dev/null || true)
if [[ $ldhelp == *--no-warn-rwx-segments* ]]; then
    ldflags+=(--no-warn-rwx-segments)
fi
ld "${ldflags[@]}" --fatal-warnings -o "$out/mbtest.elf" "$tmp/mbtest.o"
echo "multiboot/build.sh: built build/mbtest.elf"

nasm -f bin -Werror -DKLUDGE -o "$out/mbtest-kludge.bin" "$here/mbtest.asm"
echo "multiboot/build.sh: built build/mbtest-kludge.bin"

for i in 0 1; do
    { printf 'MOD%d' "$i"; head -c $((5000 + 3000 * i)) /dev/zero | tr '\0' "$((i + 1))"; } \
        >"$out/mbtest-mod$i.bin"
done
echo "multiboot/build.sh: built build/mbtest-mod0.bin, build/mbtest-mod1.bin"
