#!/usr/bin/env bash
# fetch-guests.sh - download the real guests Ringside is tested with from Debian and build
# the images the tests boot. Everything lands in .cache/guests (ignored by git) and is reused
# on later runs.
#
#   .cache/guests/vmlinuz              Debian's i686 kernel (linux-image-686, i386)
#   .cache/guests/initramfs.cpio.gz    busybox-static (i386) with an /init that prints
#                                      RINGSIDE-SHELL-READY and runs a shell or a script
#   .cache/guests/bios.bin             SeaBIOS (seabios)
#   .cache/guests/vgabios-stdvga.bin   its VGA BIOS
#   .cache/guests/memtest86+ia32.bin   memtest86+ (32-bit build)
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

kernel_pkg=$(resolve linux-image-686)
[ -n "$kernel_pkg" ] || { echo "fetch-guests: error: cannot resolve linux-image-686" >&2; exit 1; }

if [ ! -f "$out/vmlinuz" ]; then
    deb=$(download "$kernel_pkg")
    extract "$deb" "$cache/x-kernel"
    cp "$cache/x-kernel"/boot/vmlinuz-* "$out/vmlinuz"
    rm -rf "$cache/x-kernel"
fi

if [ ! -f "$out/busybox" ]; then
    deb=$(download busybox-static)
    extract "$deb" "$cache/x-busybox"
    cp "$cache/x-busybox/bin/busybox" "$out/busybox"
    rm -rf "$cache/x-busybox"
fi

if [ ! -f "$out/bios.bin" ]; then
    deb=$(download seabios)
    extract "$deb" "$cache/x-seabios"
    cp "$cache/x-seabios/usr/share/seabios/bios.bin" "$out/bios.bin"
    cp "$cache/x-seabios/usr/share/seabios/vgabios-stdvga.bin" "$out/vgabios-stdvga.bin"
    rm -rf "$cache/x-seabios"
fi

if [ ! -f "$out/memtest86+ia32.bin" ]; then
    deb=$(download memtest86+)
    extract "$deb" "$cache/x-memtest"
    cp "$cache/x-memtest/boot/memtest86+ia32.bin" "$out/memtest86+ia32.bin"
    rm -rf "$cache/x-memtest"
fi

# The initramfs: busybox and an /init that announces itself, then runs /test.sh if the
# kernel command line says ringside.test=1, else an interactive shell.
if [ ! -f "$out/initramfs.cpio.gz" ] || [ "$0" -nt "$out/initramfs.cpio.gz" ]; then
    tree="$cache/x-initramfs"
    rm -rf "$tree"
    mkdir -p "$tree"/{bin,sbin,proc,sys,dev,tmp,etc}
    cp "$out/busybox" "$tree/bin/busybox"
    cat > "$tree/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo RINGSIDE-SHELL-READY
if grep -q ringside.test=1 /proc/cmdline; then
    echo "uname: $(uname -sr)"
    echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
    echo "sum: $((6 * 7))"
    echo RINGSIDE-TEST-DONE
    poweroff -f
fi
exec setsid cttyhack sh
INIT
    chmod +x "$tree/init"
    (cd "$tree" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz"
    rm -rf "$tree"
fi

echo "fetch-guests: ready in $out:"
ls -l "$out"
