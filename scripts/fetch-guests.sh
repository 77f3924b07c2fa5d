#!/usr/bin/env bash
# fetch-guests.sh - download the real guests Ringside is tested with from Debian and build
# the images the tests boot. Everything lands in .cache/guests (ignored by git) and is reused
# on later runs; one line per artefact says whether it was fetched, built or reused.
#
#   .cache/guests/vmlinuz              Debian's i686 kernel (linux-image-686, i386)
#   .cache/guests/busybox              busybox-static (i386)
#   .cache/guests/initramfs.cpio.gz    busybox with scripts/guest-init.sh as /init (prints
#                                      RINGSIDE-SHELL-READY, then runs a shell, the test
#                                      markers or the benchmark) and scripts/guest-bench.sh
#   .cache/guests/bios.bin             SeaBIOS (seabios)
#   .cache/guests/vgabios-stdvga.bin   its VGA BIOS
#   .cache/guests/memtest86+ia32.bin   memtest86+ (32-bit, Linux boot protocol: --kernel)
#   .cache/guests/memtest86+ia32.iso   memtest86+ (32-bit, bootable CD for BIOS boot)
#   .cache/guests/hda-syslinux.img     hard disk booting the kernel through SYSLINUX
#   .cache/guests/cdrom-isolinux.iso   CD booting the kernel through ISOLINUX
#                                      (the two images: scripts/make-disk-images.sh)
#
# i386 packages come from a private apt state folder (-o APT::Architecture=i386), so the
# host's apt configuration is untouched.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache"
apt_dir="$cache/apt-i386"
debs="$cache/debs"
out="$cache/guests"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$debs" "$out"

"$root/scripts/install-deps.sh"

apt_opts=(
    -o APT::Architecture=i386 -o APT::Architectures=i386
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
    -o Dir::State::Status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)

if [ ! -f "$apt_dir/updated" ] || [ -n "$(find "$apt_dir/updated" -mtime +7 2>/dev/null)" ]; then
    echo "fetch-guests: updating the i386 package lists"
    # A failing index (a disabled extra repository) is not fatal as long as Debian's works.
    apt-get "${apt_opts[@]}" update >/dev/null 2>&1 || true
    touch "$apt_dir/updated"
fi

# Resolves a metapackage to the concrete package it depends on (linux-image-686 ->
# linux-image-6.1.0-NN-686).
resolve() {
    apt-cache "${apt_opts[@]}" depends "$1" 2>/dev/null | awk '/Depends:/ {print $2; exit}'
}

download() {
    local pkg=$1
    if ! ls "$debs/${pkg}"_*.deb >/dev/null 2>&1; then
        echo "fetch-guests: downloading $pkg" >&2
        (cd "$debs" && apt-get "${apt_opts[@]}" download "$pkg" >/dev/null) || {
            echo "fetch-guests: error: could not download $pkg (i386) from Debian" >&2
            exit 1
        }
    fi
    ls "$debs/${pkg}"_*.deb | head -n 1
}

extract() { # deb dir
    rm -rf "$2" && mkdir -p "$2" && dpkg-deb -x "$1" "$2"
}

status() { # fetched|built|reused file...
    local what=$1
    shift
    for f in "$@"; do echo "fetch-guests: $what $out/$f"; done
}

kernel_pkg=$(resolve linux-image-686)
[ -n "$kernel_pkg" ] || { echo "fetch-guests: error: cannot resolve linux-image-686" >&2; exit 1; }

if [ ! -f "$out/vmlinuz" ]; then
    deb=$(download "$kernel_pkg")
    extract "$deb" "$cache/x-kernel"
    cp "$cache/x-kernel"/boot/vmlinuz-* "$out/vmlinuz"
    rm -rf "$cache/x-kernel"
    status fetched vmlinuz
else
    status reused vmlinuz
fi

if [ ! -f "$out/busybox" ]; then
    deb=$(download busybox-static)
    extract "$deb" "$cache/x-busybox"
    cp "$cache/x-busybox/bin/busybox" "$out/busybox"
    rm -rf "$cache/x-busybox"
    status fetched busybox
else
    status reused busybox
fi

if [ ! -f "$out/bios.bin" ]; then
    deb=$(download seabios)
    extract "$deb" "$cache/x-seabios"
    cp "$cache/x-seabios/usr/share/seabios/bios.bin" "$out/bios.bin"
    cp "$cache/x-seabios/usr/share/seabios/vgabios-stdvga.bin" "$out/vgabios-stdvga.bin"
    rm -rf "$cache/x-seabios"
    status fetched bios.bin vgabios-stdvga.bin
else
    status reused bios.bin vgabios-stdvga.bin
fi

# The .bin is booted directly (--kernel, as QEMU's -kernel); the .iso is the same program on
# a BIOS-bootable CD, for when the CD-ROM drive exists.
if [ ! -f "$out/memtest86+ia32.bin" ] || [ ! -f "$out/memtest86+ia32.iso" ]; then
    deb=$(download memtest86+)
    extract "$deb" "$cache/x-memtest"
    cp "$cache/x-memtest/boot/memtest86+ia32.bin" "$out/memtest86+ia32.bin"
    cp "$cache/x-memtest/usr/lib/memtest86+/memtest86+ia32.iso" "$out/memtest86+ia32.iso"
    rm -rf "$cache/x-memtest"
    status fetched memtest86+ia32.bin memtest86+ia32.iso
else
    status reused memtest86+ia32.bin memtest86+ia32.iso
fi

# The initramfs: busybox, /init and /bench.sh. Rebuilt when any of them or this script
# changes (a digest of the inputs is kept in .cache/stamps).
stamps="$cache/stamps"
mkdir -p "$stamps"
init_src="$root/scripts/guest-init.sh"
bench_src="$root/scripts/guest-bench.sh"
initramfs_digest=$(sha256sum "$out/busybox" "$init_src" "$bench_src" "${BASH_SOURCE[0]}" |
    cut -d' ' -f1 | sha256sum | cut -d' ' -f1)
if [ -f "$out/initramfs.cpio.gz" ] &&
    [ "$(cat "$stamps/initramfs.cpio.gz" 2>/dev/null)" = "$initramfs_digest" ]; then
    status reused initramfs.cpio.gz
else
    tree="$cache/x-initramfs"
    rm -rf "$tree"
    mkdir -p "$tree"/{bin,sbin,proc,sys,dev,tmp,etc}
    cp "$out/busybox" "$tree/bin/busybox"
    install -m 755 "$init_src" "$tree/init"
    install -m 755 "$bench_src" "$tree/bench.sh"
    (cd "$tree" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz.new"
    mv "$out/initramfs.cpio.gz.new" "$out/initramfs.cpio.gz"
    rm -rf "$tree"
    echo "$initramfs_digest" > "$stamps/initramfs.cpio.gz"
    status built initramfs.cpio.gz
fi

# Boot-loader media holding the same kernel and initramfs.
"$root/scripts/make-disk-images.sh" "$out" | sed 's/^make-disk-images:/fetch-guests:/'
