#!/usr/bin/env bash
# check-images-qemu.sh - boot hda-syslinux.img and cdrom-isolinux.iso under QEMU and check
# that each reaches the initramfs markers (RINGSIDE-SHELL-READY ... RINGSIDE-TEST-DONE) and
# powers off. The reference for what Ringside must do with the same images once it has IDE.
#
# Installs QEMU (install-deps.sh --bench) and builds the images (fetch-guests.sh) first.
# TIMEOUT (seconds per boot, default 300) bounds each run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guests="$root/.cache/guests"
limit=${TIMEOUT:-300}

"$root/scripts/install-deps.sh" --bench
"$root/scripts/fetch-guests.sh" >/dev/null

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0

check() { # name qemu-args...
    local name=$1
    shift
    local start=$SECONDS status=0
    # -snapshot: the guest's writes go to a temporary overlay, never to the cached image.
    timeout "$limit" qemu-system-i386 -accel tcg -nographic -no-reboot -m 128M -snapshot \
        "$@" </dev/null >"$log" 2>&1 || status=$?
    local missing=()
    for marker in RINGSIDE-SHELL-READY "uname: Linux 6." "sum: 42" RINGSIDE-TEST-DONE \
        "reboot: Power down"; do
        grep -aqF "$marker" "$log" || missing+=("$marker")
    done
    if [ "$status" = 124 ]; then
        echo "check-images-qemu: $name: FAILED: no power-off within ${limit} s"
    elif [ "$status" != 0 ] || [ ${#missing[@]} -ne 0 ]; then
        echo "check-images-qemu: $name: FAILED (exit $status; missing: ${missing[*]:-none})"
    else
        local loader
        loader=$(grep -aom1 -E '(SYS|ISO)LINUX [0-9.]+' "$log" || true)
        echo "check-images-qemu: $name: ok ($((SECONDS - start)) s, $loader)"
        return 0
    fi
    sed 's/^/    | /' "$log" | tail -n 20
    failed=1
}

check hda-syslinux.img -drive "file=$guests/hda-syslinux.img,format=raw,if=ide"
check cdrom-isolinux.iso -cdrom "$guests/cdrom-isolinux.iso" -boot d
exit $failed
