#!/usr/bin/env python3
"""--trace: one record per syscall of the target, failed ones too, each with the
resident bytes the call really changed; the records agree with the counters."""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

import mwtest

MIB = 1024 * 1024
CALLS = ("brk", "mmap", "munmap", "mremap", "mprotect", "madvise")


def traced(tap, name, cmd):
    run = mwtest.memwatch_launch(cmd, ["--trace"])
    ok = tap.check(run.code == 0 and run.summary is not None, "%s: memwatch ran" % name,
                   run.stderr)
    return run if ok else None


def succeeded(events):
    return [e for e in events if "error" not in e]


def check_records_match_counters(tap, name, run):
    """Every successful call the counters hold is a record, per thread and call."""
    per_thread = collections.Counter((e["tid"], e["call"]) for e in succeeded(run.events))
    mismatched = []
    for row in run.summary["threads"]:
        for call in CALLS:
            if per_thread[(row["tid"], call)] != row["syscalls"][call]:
                mismatched.append((row["tid"], call, per_thread[(row["tid"], call)],
                                   row["syscalls"][call]))
    tap.eq(mismatched, [], "%s: records per thread and call = the counters" % name)
    tap.eq(run.summary["trace"], {"records": len(run.events), "lost": 0},
           "%s: the summary counts every record, none lost" % name)


def check_madvise(tap):
    """3 x (map 64 MiB, touch, MADV_DONTNEED, unmap): each call and its RSS effect exactly."""
    name = "trace madvise"
    run = traced(tap, name, mwtest.channel("madvise", "-n", 3, "-s", "64M"))
    if not run:
        return
    check_records_match_counters(tap, name, run)
    advised = [e for e in run.events if e["call"] == "madvise"]
    tap.eq([(e["len"], e["advice"], e["result"]) for e in advised],
           [(64 * MIB, "MADV_DONTNEED", 0)] * 3, "%s: three DONTNEED of 64 MiB" % name)
    tap.eq([e["resident_change_bytes"] for e in advised], [-64 * MIB] * 3,
           "%s: each gave back exactly the 64 MiB touched" % name)
    tap.eq(-sum(e["resident_change_bytes"] for e in advised),
           run.process["returned_actual"]["madvise"],
           "%s: the records' RSS changes sum to the counters' actual returns" % name)
    # each advised region was mapped anonymous before, and unmapped after with nothing left
    mapped = {e["result"]: e for e in run.events if e["call"] == "mmap"}
    regions = [mapped.get(e["addr"]) for e in advised]
    tap.eq([(r["len"], r["prot"], r["flags"]) if r else None for r in regions],
           [(64 * MIB, "PROT_READ|PROT_WRITE", "MAP_PRIVATE|MAP_ANONYMOUS")] * 3,
           "%s: the advised regions were these mmaps" % name)
    unmapped = [e for e in run.events if e["call"] == "munmap" and e["len"] == 64 * MIB]
    tap.eq(sorted((e["addr"], e["resident_change_bytes"]) for e in unmapped),
           sorted((e["addr"], 0) for e in advised),
           "%s: their munmaps returned nothing more" % name)
    times = [e["time_s"] for e in run.events]
    tap.check(times == sorted(times), "%s: records in time order" % name)


def check_threads(tap):
    """Worker threads' calls are theirs: per-thread records equal per-thread counters."""
    name = "trace threads"
    run = traced(tap, name, mwtest.channel("threads", "-n", 20000))
    if not run:
        return
    check_records_match_counters(tap, name, run)
    workers = {t["tid"] for t in run.workload["threads"] if t["role"] != "main"}
    tap.check(workers and workers <= {e["tid"] for e in run.events},
              "%s: every worker thread has records" % name, sorted(workers))


FAILING = """
import ctypes, mmap
libc = ctypes.CDLL(None, use_errno=True)
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
print(libc.munmap(1, 4096), ctypes.get_errno())
print(libc.madvise(4096, 4096, 12345), ctypes.get_errno())
"""


def check_failures(tap):
    """Failed calls are records with their errno, and no counter counts them."""
    name = "trace failures"
    run = traced(tap, name, [sys.executable, "-c", FAILING])
    if not run:
        return
    tap.eq(run.stdout.split(), ["-1", "22", "-1", "22"], "%s: the calls failed with EINVAL" % name)
    failed = [(e["call"], e["addr"], e["result"], e["error"]) for e in run.events if "error" in e]
    tap.eq(failed, [("munmap", 1, -22, "EINVAL"), ("madvise", 4096, -22, "EINVAL")],
           "%s: both are records with EINVAL" % name)
    check_records_match_counters(tap, name, run)


LINE = re.compile(r"^ +\d+\.\d{6} \( +\d+\.\d{3} ms\): channel/(\d+) "
                  r"madvise\(0x[0-9a-f]+, 67108864, MADV_DONTNEED\) = 0  rss -67108864$")


def check_text(tap):
    """Without --json, strace-like lines on stdout and the summary's count."""
    name = "trace text"
    proc = subprocess.run([mwtest.MEMWATCH, "--trace", "--"] +
                          mwtest.channel("madvise", "-n", 1, "-s", "64M"),
                          capture_output=True, text=True, timeout=mwtest.TIMEOUT)
    lines = proc.stdout.splitlines()
    tap.eq(proc.returncode, 0, "%s: memwatch ran" % name)
    tap.eq(len([l for l in lines if LINE.match(l)]), 1,
           "%s: the madvise line with its RSS effect" % name)
    counted = [l for l in lines if l.startswith("trace: ")]
    records = len([l for l in lines if re.match(r"^ +\d+\.\d{6} \(", l)])
    tap.eq(counted, ["trace: %d syscalls printed, 0 lost to a full ring buffer" % records],
           "%s: the summary counts the lines" % name)


def check_lost(tap):
    """A reader that stops: records beyond the ring buffer are lost and counted, exactly."""
    name = "trace lost"
    n = 50000
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "trace")
        os.mkfifo(fifo)
        # opened before memwatch, read only once the workload is done: memwatch
        # blocks writing to it and the 200,000 calls overflow the ring buffer
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        proc = subprocess.Popen([mwtest.MEMWATCH, "--trace", "--json", "-o", fifo, "--"] +
                                mwtest.channel("mremap", "-n", n),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # memwatch holds the same pipe: the workload's last line, not EOF, says it is done
        workload = ""
        for line in proc.stdout:
            workload += line
            if line.startswith("total "):
                break
        os.set_blocking(reader, True)
        with os.fdopen(reader) as f:
            records = [json.loads(line) for line in f]
        proc.wait(timeout=mwtest.TIMEOUT)
    done = mwtest.parse_workload(workload)["total"]
    tap.check(proc.returncode == 0 and done is not None, "%s: memwatch ran" % name,
              proc.stderr.read())
    summary = [r for r in records if r["type"] == "summary"]
    if not tap.eq(len(summary), 1, "%s: one summary" % name):
        return
    summary = summary[0]
    events = [r for r in records if r["type"] == "syscall"]
    calls = sum(summary["process"]["syscalls"].values())
    tap.ge(calls, 4 * n, "%s: the workload's calls were counted" % name)
    tap.eq(summary["trace"]["records"], len(events), "%s: printed records counted" % name)
    tap.check(summary["trace"]["lost"] > 0, "%s: records were lost" % name, summary["trace"])
    tap.eq(summary["trace"]["records"] + summary["trace"]["lost"], calls,
           "%s: printed + lost = every call" % name)
    tap.eq([e for e in events if "error" in e], [], "%s: no call failed" % name)


if __name__ == "__main__":
    mwtest.run_checks("--trace", check_madvise, check_threads, check_failures, check_text,
                      check_lost)
