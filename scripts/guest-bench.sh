#!/bin/sh
# guest-bench.sh WORKDIR - the CPU-bound workload of scripts/bench-vs-qemu.sh.
#
# Runs only busybox applets, so the very same i386 busybox runs it inside the guest (it is
# /bench.sh in the initramfs; /init runs it under ringside.bench=1) and natively on the host.
# Everything is generated deterministically, so the checksums printed are the same wherever it
# runs: the benchmark compares them to catch an emulator that computes wrong results fast.
#
# The host times the interval between the RINGSIDE-BENCH-START and RINGSIDE-BENCH-END lines
# (and each RINGSIDE-BENCH-STEP line) as it reads them, so the script itself needs no clock.
set -e
w=${1:?usage: guest-bench.sh WORKDIR}
mkdir -p "$w"
cd "$w"

echo RINGSIDE-BENCH-START

echo "RINGSIDE-BENCH-STEP generate"
# 60000 lines of pseudo-random text (Knuth's multiplicative hash; the products stay below
# 2^53, so awk's doubles are exact), about 1.6 MB.
seq 1 60000 | awk '{ printf "%08x %d line-%d\n", ($1 * 2654435761) % 4294967296, $1 % 977, $1 }' > data.txt
dd if=/dev/zero of=zero.bin bs=4096 count=256 2>/dev/null

echo "RINGSIDE-BENCH-STEP md5sum"
echo "md5 data: $(md5sum < data.txt)"
echo "md5 zero: $(md5sum < zero.bin)"

echo "RINGSIDE-BENCH-STEP sha256sum"
echo "sha256 data: $(sha256sum < data.txt)"

echo "RINGSIDE-BENCH-STEP gzip"
echo "gzip roundtrip: $(gzip -c data.txt | gunzip -c | md5sum)"

echo "RINGSIDE-BENCH-STEP sort"
echo "sorted: $(sort data.txt | md5sum)"

echo "RINGSIDE-BENCH-STEP arith"
i=0
s=0
while [ $i -lt 30000 ]; do
    s=$(((s * 31 + i * i) % 1000003))
    i=$((i + 1))
done
echo "arith: $s"

rm -f data.txt zero.bin
echo RINGSIDE-BENCH-END
