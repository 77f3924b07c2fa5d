#!/usr/bin/env bash
# build.sh - assemble every test-roms/*.asm into test-roms/build/<name>.bin.
# Each image must be exactly 64 KiB.  Any assembler warning or error, or a
# wrong size, fails the build (non-zero exit) with a message.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/build"

if ! command -v nasm >/dev/null 2>&1; then
    echo "build.sh: nasm not found; running scripts/install-deps.sh"
    "$root/scripts/install-deps.sh"
fi

mkdir -p "$out"
shopt -s nullglob
srcs=("$here"/*.asm)
if [ ${#srcs[@]} -eq 0 ]; then
    echo "build.sh: error: no .asm files in $here" >&2
    exit 1
fi

status=0
for src in "${srcs[@]}"; do
    name=$(basename "$src" .asm)
    bin="$out/$name.bin"
    rm -f "$bin"
    if ! nasm -f bin -Werror -I "$here/include/" -o "$bin" "$src"; then
        echo "build.sh: FAILED to assemble $name.asm" >&2
        rm -f "$bin"
        status=1
        continue
    fi
    size=$(stat -c %s "$bin")
    if [ "$size" -ne 65536 ]; then
        echo "build.sh: FAILED $name.bin is $size bytes, expected 65536" >&2
        rm -f "$bin"
        status=1
        continue
    fi
    echo "build.sh: built build/$name.bin"
done

# Multiboot test kernels (ELF and a.out kludge), loaded with --kernel rather than as ROMs.
"$here/multiboot/build.sh" || status=1
# The boot floppy image SeaBIOS boots in tests/tests/seabios_boot.rs.
"$here/floppy/build.sh" || status=1

if [ $status -ne 0 ]; then
    echo "build.sh: build FAILED" >&2
fi
exit $status
