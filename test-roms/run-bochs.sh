#!/usr/bin/env bash
# run-bochs.sh - second reference check (not part of CI): run each built ROM
# under Bochs, which (unlike QEMU TCG) implements segment-limit checks.
# Bochs has no isa-debug-exit device, so the run is judged from the console
# output: a "PASS <rom>" line passes; a "FAIL <rom>: ..." summary/unexpected
# line, a timeout or no verdict fails.
#
# usage: run-bochs.sh [name ...]   (default: every build/*.bin)
# env:   TIMEOUT (seconds per ROM, default 30), BOCHS_CPU (default core2_penryn_t9600)
# Needs: apt-get install -y --no-install-recommends bochs bochs-term vgabios
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TIMEOUT=${TIMEOUT:-30}
CPU=${BOCHS_CPU:-core2_penryn_t9600}

for t in bochs script; do
    command -v $t >/dev/null 2>&1 || { echo "run-bochs.sh: $t not found" >&2; exit 2; }
done

if [ $# -gt 0 ]; then
    roms=()
    for n in "$@"; do roms+=("$here/build/${n%.bin}.bin"); done
else
    shopt -s nullglob
    roms=("$here"/build/*.bin)
fi
[ ${#roms[@]} -gt 0 ] || { echo "run-bochs.sh: no ROMs; run build.sh first" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'c\n' > "$tmp/rc"
pass=0
fail=0
for rom in "${roms[@]}"; do
    name=$(basename "$rom" .bin)
    cat > "$tmp/bochsrc" <<EOT
megs: 32
cpu: model=$CPU
romimage: file=$rom
display_library: term
port_e9_hack: enabled=1
sound: driver=dummy
clock: sync=none
log: $tmp/bochs.log
panic: action=fatal
error: action=ignore
info: action=ignore
debug: action=ignore
EOT
    out="$tmp/out"
    : > "$out"
    # Bochs' debugger stops at the first instruction; the rc file continues.
    script -qfc "bochs -q -f $tmp/bochsrc -rc $tmp/rc" /dev/null </dev/null >"$out" 2>&1 &
    pid=$!
    verdict=""
    for ((i = 0; i < TIMEOUT * 10; i++)); do
        if tr -d '\r' < "$out" | grep -a -q -E "^PASS $name\$|^FAIL $name: (summary|unexpected)"; then
            verdict=done
            break
        fi
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    lines=$(tr -d '\r' < "$out" | grep -a -E "^(PASS|FAIL) $name|^hello")
    if [ "$verdict" = done ] && echo "$lines" | grep -q "^PASS $name\$"; then
        echo "PASS $name"
        pass=$((pass + 1))
    else
        [ "$verdict" = done ] || lines="$lines"$'\n'"(no verdict: timeout or Bochs stopped; see bochs log below)"$'\n'"$(grep -a -E 'PANIC|\]e\[' "$tmp/bochs.log" 2>/dev/null | tail -5)"
        echo "FAIL $name"
        echo "$lines" | sed 's/^/    /'
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
