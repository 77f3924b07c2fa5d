#!/usr/bin/env bash
# The long differential job (a benchmark-style run, not part of the test suite): every
# oracle template with SEEDS seeds each (default 640: about a million cases), natively on
# the host CPU and in Ringside's interpreter. Usage: scripts/diff-soak.sh [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-640}
echo "diff-soak: $seeds seeds per template (about $((seeds * 1566)) cases)"
RINGSIDE_DIFF_SEEDS=$seeds cargo test --release -p ringside-tests --test differential -- --nocapture
