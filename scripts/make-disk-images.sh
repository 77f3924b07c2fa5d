#!/usr/bin/env bash
# make-disk-images.sh [GUESTS_DIR] - build the bootable media that boot Debian's kernel and
# the busybox initramfs through a real boot loader, as a PC boots from disk or CD:
#
#   hda-syslinux.img    32 MiB raw hard disk: MBR partition table with one active FAT16
#                       partition at sector 2048, SYSLINUX's MBR (syslinux-common mbr.bin),
#                       SYSLINUX installed in the partition, vmlinuz + initrd.gz + syslinux.cfg
#   cdrom-isolinux.iso  El Torito CD (no-emulation boot, boot-info-table) with ISOLINUX
#
# Both boot immediately (no prompt) with "console=ttyS0 ringside.test=1", so the initramfs
# prints the markers tests/tests/linux_boot.rs checks and powers off. SYSLINUX also talks on
# COM1 (SERIAL 0), so the boot loader's own messages reach the serial console.
#
# No root and no loop devices: sfdisk partitions a plain file, mkfs.fat and mtools work at a
# byte offset inside it, and SYSLINUX's mtools-based installer takes --offset.
#
# GUESTS_DIR (default .cache/guests) must hold vmlinuz and initramfs.cpio.gz
# (scripts/fetch-guests.sh, which calls this). An image is rebuilt only when its inputs change:
# the kernel, the initramfs, this script or the installed SYSLINUX/ISOLINUX version.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/.cache/guests}
stamps="$root/.cache/stamps"
mkdir -p "$stamps"

APPEND="console=ttyS0 ringside.test=1"
DISK_MIB=32
PART_START=2048 # sectors; the 1 MiB alignment fdisk has used since 2010
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX_C32=/usr/lib/syslinux/modules/bios/ldlinux.c32

for f in "$out/vmlinuz" "$out/initramfs.cpio.gz" "$MBR_BIN" "$ISOLINUX_BIN" "$LDLINUX_C32"; do
    [ -f "$f" ] || {
        echo "make-disk-images: error: $f missing (run scripts/fetch-guests.sh)" >&2
        exit 1
    }
done
for c in sfdisk mkfs.fat mcopy syslinux xorriso; do
    command -v "$c" >/dev/null || {
        echo "make-disk-images: error: $c not found (run scripts/install-deps.sh)" >&2
        exit 1
    }
done

# A digest of everything an image depends on; the image is reused while it matches.
inputs_digest() {
    {
        sha256sum "$out/vmlinuz" "$out/initramfs.cpio.gz" "${BASH_SOURCE[0]}" | cut -d' ' -f1
        dpkg-query -W -f '${Package} ${Version}\n' syslinux syslinux-common isolinux \
            2>/dev/null || true
        echo "$APPEND $DISK_MIB $PART_START"
    } | sha256sum | cut -d' ' -f1
}
digest=$(inputs_digest)

fresh() { # artefact
    [ -f "$out/$1" ] && [ "$(cat "$stamps/$1" 2>/dev/null)" = "$digest" ]
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# SYSLINUX and ISOLINUX read the same configuration language.
write_cfg() { # file
    cat > "$1" <<CFG
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND $APPEND
CFG
}

build_hda() {
    local img="$tmp/hda.img"
    local total=$((DISK_MIB * 2048)) # 512-byte sectors
    local part_sectors=$((total - PART_START))
    truncate -s "${DISK_MIB}M" "$img"
    # Type 0x06 (FAT16, >= 32 MiB addressed by CHS or LBA), marked active for the MBR code.
    # Fixed disk and volume IDs instead of random ones: rebuilds differ only in timestamps.
    printf 'label: dos\nlabel-id: 0x52494e47\nstart=%d, size=%d, type=6, bootable\n' \
        "$PART_START" "$part_sectors" |
        sfdisk --quiet --no-reread --no-tell-kernel "$img" >/dev/null
    # The BPB's hidden-sectors field must hold the partition's LBA: SYSLINUX's boot sector
    # adds it to every sector it reads.
    mkfs.fat -F 16 -n RINGSIDE -i 52494e47 -h "$PART_START" --offset "$PART_START" "$img" \
        $((part_sectors / 2)) >/dev/null
    write_cfg "$tmp/syslinux.cfg"
    local fs="$img@@$((PART_START * 512))"
    MTOOLS_SKIP_CHECK=1 mcopy -i "$fs" "$out/vmlinuz" ::/vmlinuz
    MTOOLS_SKIP_CHECK=1 mcopy -i "$fs" "$out/initramfs.cpio.gz" ::/initrd.gz
    MTOOLS_SKIP_CHECK=1 mcopy -i "$fs" "$tmp/syslinux.cfg" ::/syslinux.cfg
    # Writes ldlinux.sys/ldlinux.c32 and the partition's boot sector (offset in bytes).
    syslinux --install --offset $((PART_START * 512)) "$img"
    # The MBR code only: the first 440 bytes, before the disk signature and partition table.
    dd if="$MBR_BIN" of="$img" bs=440 count=1 conv=notrunc status=none
    mv "$img" "$out/hda-syslinux.img"
}

build_cdrom() {
    local tree="$tmp/iso"
    mkdir -p "$tree/isolinux"
    cp "$ISOLINUX_BIN" "$LDLINUX_C32" "$tree/isolinux/"
    write_cfg "$tree/isolinux/isolinux.cfg"
    cp "$out/vmlinuz" "$tree/vmlinuz"
    cp "$out/initramfs.cpio.gz" "$tree/initrd.gz"
    # -boot-info-table: ISOLINUX finds its own LBA in the table xorriso patches into it.
    # -boot-load-size 4: the BIOS loads 2 KiB (four 512-byte sectors); ISOLINUX loads the rest.
    xorriso -as mkisofs -quiet -o "$tmp/cd.iso" -V RINGSIDE -J -R \
        -b isolinux/isolinux.bin -c isolinux/boot.cat \
        -no-emul-boot -boot-load-size 4 -boot-info-table "$tree" 2>"$tmp/xorriso.log" || {
        cat "$tmp/xorriso.log" >&2
        exit 1
    }
    mv "$tmp/cd.iso" "$out/cdrom-isolinux.iso"
}

for artefact in hda-syslinux.img cdrom-isolinux.iso; do
    if fresh "$artefact"; then
        echo "make-disk-images: reused $out/$artefact"
        continue
    fi
    case "$artefact" in
        hda-syslinux.img) build_hda ;;
        cdrom-isolinux.iso) build_cdrom ;;
    esac
    echo "$digest" > "$stamps/$artefact"
    echo "make-disk-images: built $out/$artefact"
done
