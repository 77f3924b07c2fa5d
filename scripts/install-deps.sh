#!/usr/bin/env bash
# install-deps.sh - install the Debian packages Ringside's tests need, when missing.
# Idempotent and silent when everything is already there: a package that is present is left
# alone. Runs as root (CI does); otherwise uses sudo if available.
#
#   scripts/install-deps.sh           what the tests and scripts/fetch-guests.sh need
#   scripts/install-deps.sh --bench   also QEMU, for scripts/bench-vs-qemu.sh
#
# Add a package by appending "package:probe" to PACKAGES. The probe decides whether the
# package is missing: a command looked up on PATH, or an absolute path to a file the package
# ships (for packages that install data, not commands).
set -euo pipefail

PACKAGES=(
    "nasm:nasm"                                # assembles test-roms/*.asm
    "cpio:cpio"                                # packs the Linux initramfs (fetch-guests.sh)
    "binutils:ld"                              # links the Multiboot test kernel (ELF)
    "bsdutils:script"                          # a pty for the interactive console test
    "mtools:mcopy"                             # writes the FAT partition of hda-syslinux.img
    "dosfstools:mkfs.fat"                      # formats that partition
    "fdisk:sfdisk"                             # partitions the disk image file
    "syslinux:syslinux"                        # installs SYSLINUX into the partition
    "syslinux-common:/usr/lib/syslinux/mbr/mbr.bin" # SYSLINUX's MBR and ldlinux.c32
    "isolinux:/usr/lib/ISOLINUX/isolinux.bin"  # the El Torito boot image of the CD
    "xorriso:xorriso"                          # builds cdrom-isolinux.iso
)

for arg in "$@"; do
    case "$arg" in
        --bench) PACKAGES+=("qemu-system-x86:qemu-system-i386") ;; # bench-vs-qemu.sh
        -h | --help)
            sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "install-deps: error: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

present() { # probe
    case "$1" in
        /*) [ -e "$1" ] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=()
for entry in "${PACKAGES[@]}"; do
    pkg=${entry%%:*}
    probe=${entry#*:}
    if ! present "$probe"; then
        echo "install-deps: $pkg: missing ($probe not found)"
        missing+=("$pkg")
    fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

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
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "install-deps: install failed; running apt-get update and retrying"
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

for entry in "${PACKAGES[@]}"; do
    probe=${entry#*:}
    if ! present "$probe"; then
        echo "install-deps: error: ${entry%%:*}: $probe still not found after install" >&2
        exit 1
    fi
done
echo "install-deps: done"
