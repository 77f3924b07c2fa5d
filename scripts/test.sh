#!/usr/bin/env bash
# The project's test command: installs test dependencies, builds the guest test ROMs and runs
# every test suite. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
test-roms/build.sh
scripts/fetch-guests.sh
cargo build --release --bin ringside
cargo test --workspace --release
