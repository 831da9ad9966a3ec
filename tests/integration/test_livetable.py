#!/usr/bin/env python3
"""The live-allocation table grows: millions of blocks live at once, allocated at
full speed from the launched command's first instruction, are all tracked
(exact counts, 0 untracked); the table's segments, read from outside with
bpftool, start at one and stay within 64 bytes per live block; memwatch's own
RSS does not grow with the blocks. MW_TEST_10M=1 adds the 10M run (~4 minutes
here)."""
import json
import os
import subprocess

import mwtest

RSS_LIMIT_KIB = 32 * 1024
BYTES_PER_BLOCK = 64
SIZES = [2000000, 5000000] + ([10000000] if os.environ.get("MW_TEST_10M") else [])


def bpftool(*args):
    return json.loads(subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True,
                                     check=True).stdout)


def own_map_ids(pid):
    """IDs of the BPF maps process @pid holds a descriptor of."""
    return {num for _, num in mwtest.held_bpf_ids(pid, ("map_id",))}


def table_bytes(pid):
    """Kernel memory of memwatch's live-table segments, from bpftool: (segments, bytes)."""
    maps = {m["id"]: m for m in bpftool("map", "show")}
    outer = [i for i in own_map_ids(pid) if maps.get(i, {}).get("name") == "alloc_segments"]
    if not outer:
        return None
    inner = [int.from_bytes(bytes(int(b, 16) for b in e["value"]), "little")
             for e in bpftool("map", "dump", "id", str(outer[0]))]
    return len(inner), sum(maps[i]["bytes_memlock"] for i in inner if i in maps)


class Sampler:
    """memwatch's peak RSS and its table's segments, every second of the run;
    on_table() once the table was seen."""

    def __init__(self, on_table=None):
        self.hwm_kib = 0
        self.tables = []
        self.on_table = on_table

    def __call__(self, pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.hwm_kib = max(self.hwm_kib, int(line.split()[1]))
            table = table_bytes(pid)
        except (OSError, subprocess.CalledProcessError):
            return
        if table:
            self.tables.append(table)
            if self.on_table:
                self.on_table()
                self.on_table = None


def run_sampled(n):
    sampler = Sampler()
    run = mwtest.memwatch_launch_sampled(mwtest.channel("batch", "-t", "boxed", "-n", n), sampler,
                                         timeout=900)
    return run, sampler


def run_idle():
    """The empty run, held at its end (-W) until bpftool has seen its table: a run
    that short would otherwise end between two samples."""
    hold, release = os.pipe()
    sampler = Sampler(on_table=lambda: os.write(release, b"\n"))
    try:
        run = mwtest.memwatch_launch_sampled(mwtest.channel("batch", "-t", "boxed", "-n", 0, "-W"),
                                             sampler, period=0.1, stdin=hold)
    finally:
        os.close(hold)
        os.close(release)
    return run, sampler


def check_size(tap, n, empty, idle):
    name = "%dM boxed batch" % (n // 1000000)
    full, sampled = run_sampled(n)
    if not tap.check(full.code == 0 and empty.code == 0 and full.summary and empty.summary
                     and full.workload["total"], "%s: memwatch ran" % name,
                     full.stderr[-2000:] + empty.stderr[-2000:]):
        return
    did = full.workload["total"]
    for counter, field in (("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
                           ("free_calls", "frees"), ("free_bytes", "free_bytes")):
        tap.eq(full.process[counter] - empty.process[counter], did[field],
               "%s: %s difference equals the workload's %s" % (name, counter, field))
    for run in (full, empty):
        tap.eq(run.process["untracked_allocs"], 0, "%s: nothing untracked" % name)
        tap.eq(run.process["lost_events"], 0, "%s: no lost events" % name)
        tap.eq(run.process["free_unknown_calls"], 0, "%s: every free was of a known block" % name)
    # a batch holds every block at once before it frees any
    live = did["allocs"]
    if not tap.check(sampled.tables and idle.tables, "%s: bpftool saw the table" % name):
        return
    start_segments, start_bytes = idle.tables[0]
    tap.eq(max(t[0] for t in idle.tables), 1, "%s: an idle table stays at one segment" % name)
    peak_segments, peak_bytes = max(sampled.tables, key=lambda t: t[1])
    tap.check(peak_segments > start_segments, "%s: the table grew" % name,
              "%d segments at most" % peak_segments)
    tap.check(peak_bytes <= BYTES_PER_BLOCK * live + start_bytes,
              "%s: table at most %d bytes per live block" % (name, BYTES_PER_BLOCK),
              "%d bytes for %d blocks" % (peak_bytes, live))
    tap.check(sampled.hwm_kib < RSS_LIMIT_KIB, "%s: memwatch's own peak RSS under 32 MiB" % name,
              "VmHWM %d KiB" % sampled.hwm_kib)
    tap.check(full.process["kernel_memory_peak_bytes"] >= peak_bytes,
              "%s: the summary's kernel memory includes the table" % name,
              "%d < %d" % (full.process["kernel_memory_peak_bytes"], peak_bytes))


def check_sizes(tap):
    empty, idle = run_idle()
    for n in SIZES:
        check_size(tap, n, empty, idle)


if __name__ == "__main__":
    mwtest.run_checks("live table", check_sizes)
