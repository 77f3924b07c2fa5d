#!/usr/bin/env bash
# build.sh - assembles the boot floppy test image into test-roms/build/fdboot.img (1.44 MB).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/../build"
mkdir -p "$out"
nasm -f bin -Werror -o "$out/fdboot.img" "$here/fdboot.asm"
size=$(stat -c %s "$out/fdboot.img")
if [ "$size" -ne 1474560 ]; then
    echo "floppy/build.sh: fdboot.img is $size bytes, expected 1474560" >&2
    exit 1
fi
echo "floppy/build.sh: built build/fdboot.img"
