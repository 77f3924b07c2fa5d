#!/usr/bin/env bash
# run-qemu.sh - reference check (not part of CI): run each built ROM under
# QEMU (TCG) and report pass/fail per ROM.  QEMU is a good but not perfect
# reference: see README.md for the checks known to fail on QEMU.
#
# usage: run-qemu.sh [name ...]   (default: every build/*.bin)
# env:   TIMEOUT (seconds per ROM, default 20), QEMU (default qemu-system-i386),
#        VERBOSE=1 to print the whole console output of passing ROMs too.
# Needs qemu-system-x86 (apt-get install -y qemu-system-x86).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU=${QEMU:-qemu-system-i386}
TIMEOUT=${TIMEOUT:-20}

if ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "run-qemu.sh: $QEMU not found (apt-get install -y qemu-system-x86)" >&2
    exit 2
fi

if [ $# -gt 0 ]; then
    roms=()
    for n in "$@"; do roms+=("$here/build/${n%.bin}.bin"); done
else
    shopt -s nullglob
    roms=("$here"/build/*.bin)
fi
if [ ${#roms[@]} -eq 0 ]; then
    echo "run-qemu.sh: no ROMs; run build.sh first" >&2
    exit 2
fi

pass=0
fail=0
for rom in "${roms[@]}"; do
    name=$(basename "$rom" .bin)
    if [ ! -f "$rom" ]; then
        echo "FAIL $name (no such ROM: $rom)"
        fail=$((fail + 1))
        continue
    fi
    log=$(mktemp)
    timeout "$TIMEOUT" "$QEMU" -bios "$rom" -display none -m 32 -no-reboot \
        -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        </dev/null >"$log" 2>&1
    rc=$?
    if [ $rc -eq 33 ] && grep -q "^PASS $name\$" "$log"; then
        echo "PASS $name"
        [ "${VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$log"
        pass=$((pass + 1))
    else
        case $rc in
            33) why="exit 33 but no PASS line" ;;
            35) why="reported failures" ;;
            124) why="timeout after ${TIMEOUT}s" ;;
            0) why="QEMU exited without isa-debug-exit (triple fault/shutdown?)" ;;
            *) why="exit status $rc" ;;
        esac
        echo "FAIL $name ($why)"
        sed 's/^/    /' "$log"
        fail=$((fail + 1))
    fi
    rm -f "$log"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
