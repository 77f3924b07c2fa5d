#!/bin/busybox sh
# /init of the initramfs scripts/fetch-guests.sh packs (busybox-static, i386). It announces
# itself with RINGSIDE-SHELL-READY, then picks a mode from the kernel command line:
#   ringside.test=1   print a few facts and RINGSIDE-TEST-DONE, power off
#                     (tests/tests/linux_boot.rs and the disk images check these markers)
#   ringside.bench=1  run /bench.sh (scripts/guest-bench.sh) in RAM, power off
#                     (scripts/bench-vs-qemu.sh times it)
#   neither           an interactive shell on the console
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo RINGSIDE-SHELL-READY
if grep -q ringside.test=1 /proc/cmdline; then
    echo "uname: $(uname -sr)"
    echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
    echo "sum: $((6 * 7))"
    # Which interrupt controller delivers the timer (IO-APIC, or XT-PIC under noapic).
    echo "timer irq: $(grep -m1 ' 0:' /proc/interrupts)"
    echo RINGSIDE-TEST-DONE
    poweroff -f
fi
if grep -q ringside.bench=1 /proc/cmdline; then
    sh /bench.sh /tmp/bench || echo "RINGSIDE-BENCH-FAILED status $?"
    poweroff -f
fi
exec setsid cttyhack sh
