#!/usr/bin/env bash
# bench-vs-qemu.sh [--runs N] [--rebuild] [--json PATH] [-- helper options]
#
# Boots Debian's i686 kernel and the busybox initramfs directly under Ringside and under
# QEMU (TCG), alternating, N times (default 3), and runs the same busybox workload natively
# on the host. Prints the medians and the ratios, and writes them as JSON to
# $CARGO_TARGET_DIR/bench/boot-vs-qemu.json (target/bench/... by default).
# What is measured: docs/benchmarks.md. Options after -- go to scripts/bench_vs_qemu.py
# (e.g. --only ringside,native, --boot-timeout 1200, --append "...").
#
# Installs QEMU (scripts/install-deps.sh --bench), fetches the guests
# (scripts/fetch-guests.sh) and builds target/release/ringside when it is missing (or always
# with --rebuild).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
runs=3
rebuild=0
json="$target/bench/boot-vs-qemu.json"
helper_args=()

while [ $# -gt 0 ]; do
    case "$1" in
        --runs | -n)
            runs=${2:?--runs needs a number}
            shift 2
            ;;
        --rebuild)
            rebuild=1
            shift
            ;;
        --json)
            json=${2:?--json needs a path}
            shift 2
            ;;
        --)
            shift
            helper_args=("$@")
            break
            ;;
        -h | --help)
            sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "bench-vs-qemu: error: unknown argument '$1' (try --help)" >&2
            exit 2
            ;;
    esac
done

"$root/scripts/install-deps.sh" --bench
"$root/scripts/fetch-guests.sh"

ringside="$target/release/ringside"
if [ "$rebuild" = 1 ] || [ ! -x "$ringside" ]; then
    echo "bench-vs-qemu: cargo build --release --bin ringside"
    (cd "$root" && cargo build --release --bin ringside)
fi
[ -x "$ringside" ] || {
    echo "bench-vs-qemu: error: $ringside missing after the build" >&2
    exit 1
}
echo "bench-vs-qemu: ringside binary $ringside (built $(date -r "$ringside" '+%F %T'))"

exec python3 "$root/scripts/bench_vs_qemu.py" \
    --ringside "$ringside" \
    --guests "$root/.cache/guests" \
    --bench-script "$root/scripts/guest-bench.sh" \
    --runs "$runs" \
    --json "$json" \
    "${helper_args[@]}"
