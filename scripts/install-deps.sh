#!/usr/bin/env bash
# install-deps.sh - install the Debian packages Ringside's tests need, when
# missing.  Idempotent: a package that is already installed is left alone.
# Runs as root (CI does); otherwise uses sudo if available.
#
# Add a package by appending "package:command-it-provides" to PACKAGES
# (the command is what is looked for on PATH to decide it is missing).
set -euo pipefail

PACKAGES=(
    "nasm:nasm"          # assembles test-roms/*.asm
    "cpio:cpio"          # packs the Linux initramfs (scripts/fetch-guests.sh)
)

missing=()
for entry in "${PACKAGES[@]}"; do
    pkg=${entry%%:*}
    cmd=${entry#*:}
    if command -v "$cmd" >/dev/null 2>&1; then
        echo "install-deps: $pkg: already installed ($(command -v "$cmd"))"
    else
        echo "install-deps: $pkg: missing ($cmd not found)"
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: nothing to install"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: error: not root and sudo not available; install: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: apt-get install -y --no-install-recommends ${missing[*]}"
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    echo "install-deps: install failed; running apt-get update and retrying"
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

for entry in "${PACKAGES[@]}"; do
    cmd=${entry#*:}
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "install-deps: error: $cmd still not found after install" >&2
        exit 1
    fi
done
echo "install-deps: done"
