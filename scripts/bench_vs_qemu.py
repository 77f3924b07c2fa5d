#!/usr/bin/env python3
"""Ringside against QEMU (TCG) and the host, side by side in one run.

Called by scripts/bench-vs-qemu.sh, which installs QEMU, fetches the guests and builds Ringside
first; see docs/benchmarks.md for what is measured and how to read it.

Each repetition runs, in turn:
  1. Ringside   --kernel vmlinuz --initrd initramfs.cpio.gz --append "... ringside.bench=1"
  2. QEMU (TCG) the same kernel, initramfs and command line
  3. native     scripts/guest-bench.sh run by the same i386 busybox on the host
Alternating the three within a repetition spreads slow drifts of a shared host (other jobs,
frequency changes) over all of them instead of over one.

Every time is host wall-clock (time.monotonic) taken when a line arrives on the program's
standard output:
  boot      process start -> the RINGSIDE-SHELL-READY line (/init is running)
  workload  RINGSIDE-BENCH-START line -> RINGSIDE-BENCH-END line
  steps     RINGSIDE-BENCH-STEP line -> the next STEP or END line
The medians over the repetitions are reported, and written as JSON.
"""

import argparse
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SHELL_READY = "RINGSIDE-SHELL-READY"
BENCH_START = "RINGSIDE-BENCH-START"
BENCH_STEP = "RINGSIDE-BENCH-STEP "
BENCH_END = "RINGSIDE-BENCH-END"
BENCH_FAILED = "RINGSIDE-BENCH-FAILED"


class BenchError(Exception):
    pass


def tail(text, n=15):
    lines = text.splitlines()
    return "\n".join("    | " + l for l in lines[-n:]) if lines else "    | (nothing)"


def run_timed(name, cmd, env, timeouts, need_shell_marker):
    """Runs cmd, timestamping each stdout line; returns (timeline, stdout text).

    timeouts: dict with 'boot' (start -> shell marker, or -> BENCH_START when there is no
    shell marker), 'work' (BENCH_START -> BENCH_END) and 'exit' (BENCH_END -> process exit).
    """
    err_file = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file, env=env
    )
    fd = proc.stdout.fileno()
    timeline = []  # (seconds since t0, line)
    out = bytearray()
    pending = b""
    phase, deadline = "boot", t0 + timeouts["boot"]
    eof = False

    def fail(msg):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err_file.seek(0)
        err = err_file.read().decode("utf-8", "replace")
        raise BenchError(
            f"{name}: {msg}\n  command: {' '.join(cmd)}\n  last output:\n"
            f"{tail(out.decode('utf-8', 'replace'))}\n  stderr:\n{tail(err)}"
        )

    try:
        while not eof:
            now = time.monotonic()
            if now > deadline:
                what = {
                    "boot": f"no {SHELL_READY if need_shell_marker else BENCH_START} line",
                    "work": f"no {BENCH_END} line",
                    "exit": "the guest did not power off (process still running)",
                }[phase]
                limit = timeouts[phase]
                fail(f"timed out after {limit:.0f} s in the {phase} phase: {what}")
            ready, _, _ = select.select([fd], [], [], min(0.5, deadline - now))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            t = time.monotonic() - t0
            if not chunk:
                eof = True
                break
            out += chunk
            pending += chunk
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").strip("\r")
                timeline.append((t, line))
                stripped = line.strip()
                if stripped.startswith(BENCH_FAILED):
                    fail(f"the workload failed in the guest: {stripped}")
                if phase == "boot" and stripped == (
                    SHELL_READY if need_shell_marker else BENCH_START
                ):
                    # The workload follows the shell marker at once; it gets its own limit.
                    phase, deadline = "work", time.monotonic() + timeouts["work"]
                elif phase == "work" and stripped == BENCH_END:
                    phase, deadline = "exit", time.monotonic() + timeouts["exit"]
        # wait4, not Popen.wait: its rusage gives the CPU time the process (threads and reaped
        # children included) used, a figure a busy shared host disturbs less than wall time.
        while True:
            pid, wstatus, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                status = os.waitstatus_to_exitcode(wstatus)
                proc.returncode = status
                break
            if time.monotonic() > deadline:
                fail(f"timed out after {timeouts[phase]:.0f} s waiting for the process to exit")
            time.sleep(0.02)
        cpu = usage.ru_utime + usage.ru_stime
        if phase != "exit":
            fail(f"exited with status {status} before {BENCH_END}")
        if status != 0:
            fail(f"exited with status {status} after the workload (expected 0)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return timeline, cpu


def analyse(name, timeline, cpu, need_shell_marker):
    """Turns a timeline into {'boot', 'workload', 'cpu', 'steps', 'results'}."""

    def first(marker):
        for t, line in timeline:
            if line.strip() == marker:
                return t
        raise BenchError(f"{name}: no {marker} line in the output")

    start, end = first(BENCH_START), first(BENCH_END)
    r = {"workload": end - start, "cpu": cpu, "steps": {}, "results": []}
    if need_shell_marker:
        r["boot"] = first(SHELL_READY)
    in_bench = False
    step, step_t = None, None
    for t, line in timeline:
        s = line.strip()
        if s == BENCH_START:
            in_bench = True
        elif not in_bench:
            continue
        elif s.startswith(BENCH_STEP) or s == BENCH_END:
            if step is not None:
                r["steps"][step] = t - step_t
            if s == BENCH_END:
                break
            step, step_t = s[len(BENCH_STEP):].strip(), t
        elif s:
            # Result lines (checksums); compared across emulators to catch wrong answers.
            r["results"].append(s)
    return r


def median(xs):
    return statistics.median(xs) if xs else None


def fmt_s(x):
    return "-" if x is None else f"{x:.3f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def tool_version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def host_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ringside", required=True, help="the ringside binary")
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--guests", required=True, help=".cache/guests")
    ap.add_argument("--bench-script", required=True, help="scripts/guest-bench.sh")
    ap.add_argument("--runs", type=int, default=3, help="repetitions (median reported)")
    ap.add_argument("--memory", default="128M")
    ap.add_argument("--append", default="console=ttyS0 quiet ringside.bench=1")
    ap.add_argument("--boot-timeout", type=float, default=900)
    ap.add_argument("--work-timeout", type=float, default=900)
    ap.add_argument("--exit-timeout", type=float, default=60)
    ap.add_argument("--json", required=True, help="where to write the results")
    ap.add_argument(
        "--only", default="ringside,ringside-jit,qemu,native", help="subset to run"
    )
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    if "ringside.bench=1" not in a.append:
        ap.error("--append must contain ringside.bench=1 (it selects the workload in /init)")

    kernel = os.path.join(a.guests, "vmlinuz")
    initrd = os.path.join(a.guests, "initramfs.cpio.gz")
    busybox = os.path.join(a.guests, "busybox")
    for f in (kernel, initrd, busybox, a.ringside, a.bench_script):
        if not os.path.isfile(f):
            sys.exit(f"bench: error: {f} missing (run scripts/bench-vs-qemu.sh)")
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    if not only:
        ap.error("--only: nothing to run")
    for x in only:
        if x not in ("ringside", "ringside-jit", "qemu", "native"):
            ap.error(f"--only: unknown '{x}' (ringside, ringside-jit, qemu, native)")
    if "qemu" in only and shutil.which(a.qemu) is None:
        sys.exit(f"bench: error: {a.qemu} not found (scripts/install-deps.sh --bench)")

    timeouts = {"boot": a.boot_timeout, "work": a.work_timeout, "exit": a.exit_timeout}
    commands = {
        "ringside": [
            a.ringside, "--kernel", kernel, "--initrd", initrd, "--append", a.append,
            "-m", a.memory, "--serial", "stdio", "--debugcon", "none", "--no-reboot",
        ],
        "ringside-jit": [
            a.ringside, "--cpu-engine", "jit", "--kernel", kernel, "--initrd", initrd,
            "--append", a.append, "-m", a.memory, "--serial", "stdio", "--debugcon", "none",
            "--no-reboot",
        ],
        "qemu": [
            a.qemu, "-accel", "tcg", "-nographic", "-no-reboot", "-m", a.memory,
            "-kernel", kernel, "-initrd", initrd, "-append", a.append,
        ],
    }

    scratch = tempfile.mkdtemp(prefix="ringside-bench-")
    # The guest's /tmp is RAM (rootfs); /dev/shm is the host's nearest equivalent.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    native_work = tempfile.mkdtemp(prefix="ringside-bench-work-", dir=shm)
    bindir = os.path.join(scratch, "bin")
    os.makedirs(bindir)
    if "native" in only:
        # The applets as symlinks, as /init installs them in the guest; PATH holds nothing else.
        subprocess.run([busybox, "--install", "-s", bindir], check=True)
    native_cmd = [os.path.join(bindir, "sh"), a.bench_script, native_work]
    native_env = {"PATH": bindir, "LC_ALL": "C"}

    samples = {k: [] for k in only}
    load_at_start = os.getloadavg()
    try:
        for i in range(a.runs):
            for who in only:
                print(f"bench: run {i + 1}/{a.runs}: {who} ...", end="", flush=True)
                if who == "native":
                    tl, cpu = run_timed(who, native_cmd, native_env, timeouts, False)
                    r = analyse(who, tl, cpu, False)
                else:
                    tl, cpu = run_timed(who, commands[who], os.environ.copy(), timeouts, True)
                    r = analyse(who, tl, cpu, True)
                samples[who].append(r)
                boot = f"boot {r['boot']:.2f} s, " if "boot" in r else ""
                print(f" {boot}workload {r['workload']:.2f} s", flush=True)
    except BenchError as e:
        print(file=sys.stderr)
        sys.exit(f"bench: error: {e}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(native_work, ignore_errors=True)

    # Wrong answers computed fast are no result: every run must print the same checksums.
    reference = None
    for who, runs in samples.items():
        for r in runs:
            if reference is None:
                reference = (who, r["results"])
            elif r["results"] != reference[1]:
                sys.exit(
                    f"bench: error: {who} printed different results than {reference[0]}:\n"
                    f"  {who}: {r['results']}\n  {reference[0]}: {reference[1]}"
                )

    med = {}
    for who, runs in samples.items():
        m = {
            "workload": median([r["workload"] for r in runs]),
            "cpu": median([r["cpu"] for r in runs]),
        }
        if who != "native":
            m["boot"] = median([r["boot"] for r in runs])
        steps = runs[0]["steps"].keys()
        m["steps"] = {s: median([r["steps"][s] for r in runs]) for s in steps}
        med[who] = m

    def get(who, key):
        return med.get(who, {}).get(key)

    ratios = {
        "boot_ringside_over_qemu": ratio(get("ringside", "boot"), get("qemu", "boot")),
        "workload_ringside_over_qemu": ratio(get("ringside", "workload"), get("qemu", "workload")),
        "workload_ringside_over_native": ratio(
            get("ringside", "workload"), get("native", "workload")
        ),
        "boot_ringside_jit_over_qemu": ratio(get("ringside-jit", "boot"), get("qemu", "boot")),
        "workload_ringside_jit_over_qemu": ratio(
            get("ringside-jit", "workload"), get("qemu", "workload")
        ),
        "workload_ringside_jit_over_native": ratio(
            get("ringside-jit", "workload"), get("native", "workload")
        ),
        "workload_qemu_over_native": ratio(get("qemu", "workload"), get("native", "workload")),
    }

    cols = [w for w in ("ringside", "ringside-jit", "qemu", "native") if w in med]
    heads = {
        "ringside": "Ringside",
        "ringside-jit": "Ringside JIT",
        "qemu": "QEMU TCG",
        "native": "native",
    }
    print()
    print(f"median of {a.runs} run(s), seconds of host wall-clock time")
    print(f"{'':24}" + "".join(f"{heads[c]:>13}" for c in cols))
    print(f"{'boot to shell marker':24}" + "".join(f"{fmt_s(get(c, 'boot')):>13}" for c in cols))
    print(f"{'workload':24}" + "".join(f"{fmt_s(get(c, 'workload')):>13}" for c in cols))
    for s in med[cols[0]]["steps"]:
        vals = "".join(f"{fmt_s(med[c]['steps'].get(s)):>13}" for c in cols)
        print(f"{'  ' + s:24}" + vals)
    print(f"{'CPU time, whole run':24}" + "".join(f"{fmt_s(get(c, 'cpu')):>13}" for c in cols))
    print()
    for k, v in ratios.items():
        label = k.replace("_over_", " / ").replace("_", " ")
        print(f"{label:32}" + ("-" if v is None else f"{v:8.2f}x"))

    report = {
        "what": "Ringside vs QEMU TCG vs native: Linux boot to shell and a busybox workload",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": a.runs,
        "host": {
            "cpu": host_cpu(),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg_at_start": load_at_start,
            "loadavg_at_end": os.getloadavg(),
        },
        "versions": {
            "ringside": tool_version([a.ringside, "--version"]),
            "qemu": tool_version([a.qemu, "--version"]) if "qemu" in only else None,
            "busybox": tool_version([busybox]) if "native" in only else None,
        },
        "commands": {
            "ringside": commands["ringside"],
            "ringside-jit": commands["ringside-jit"],
            "qemu": commands["qemu"],
            "native": ["BUSYBOX_APPLET_DIR/sh", a.bench_script, "WORKDIR"],
        },
        "append": a.append,
        "memory": a.memory,
        "median_seconds": med,
        "ratios": ratios,
        "samples_seconds": {
            who: [{k: r[k] for k in ("boot", "workload", "cpu", "steps") if k in r} for r in runs]
            for who, runs in samples.items()
        },
        "results": reference[1] if reference else [],
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"\nbench: wrote {a.json}")


if __name__ == "__main__":
    main()
