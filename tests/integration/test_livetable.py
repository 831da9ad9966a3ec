#!/usr/bin/env python3
"""The live-allocation table grows: 2M, 5M and 10M blocks live at once,
allocated at full speed from the launched command's first instruction, are all
tracked (exact counts, 0 untracked); the table's segments, read from outside
with bpftool, start at one and stay within 64 bytes per live block, slots of 16
bytes that hold a call site too; memwatch's own RSS stays under 32 MiB. Blocks
above a slot's 64 MiB are counted exactly. The demo (threads mode, 1M boxed
items) ends with 0 untracked and frees of unknown blocks only from the exiting
threads' tcache flush. One run per size, the empty run shared (~10 minutes
here)."""
import json
import os
import subprocess

import mwtest

RSS_LIMIT_KIB = 32 * 1024
BYTES_PER_BLOCK = 64
SLOT_BYTES = 16
SIZES = [2000000, 5000000, 10000000]
# glibc's tcache: 64 bins of at most 7 chunks, handed back by an exiting thread
# with the cache itself (allocated inside glibc, never seen)
TCACHE_FLUSH_MAX = 64 * 7 + 1


def bpftool(*args):
    return json.loads(subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True,
                                     check=True).stdout)


def own_map_ids(pid):
    """IDs of the BPF maps process @pid holds a descriptor of."""
    return {num for _, num in mwtest.held_bpf_ids(pid, ("map_id",))}


def table_bytes(pid):
    """memwatch's live-table segments, from bpftool: (segments, bytes, slot sizes);
    None before the table has its first segment (memwatch adds it after the load)."""
    maps = {m["id"]: m for m in bpftool("map", "show")}
    outer = [i for i in own_map_ids(pid) if maps.get(i, {}).get("name") == "alloc_segments"]
    if not outer:
        return None
    inner = [int.from_bytes(bytes(int(b, 16) for b in e["value"]), "little")
             for e in bpftool("map", "dump", "id", str(outer[0]))]
    # segments added since the listing above are listed again
    if any(i not in maps for i in inner):
        maps = {m["id"]: m for m in bpftool("map", "show")}
    inner = [maps[i] for i in inner if i in maps]
    if not inner:
        return None
    return (len(inner), sum(m["bytes_memlock"] for m in inner),
            {m["bytes_value"] for m in inner})


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
                                         timeout=1200)
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


def ran(tap, name, *runs):
    return tap.check(all(r.code == 0 and r.summary and r.workload["total"] for r in runs),
                     "%s: memwatch ran" % name, "".join(r.stderr[-2000:] for r in runs))


def check_size(tap, n, empty, idle):
    name = "%dM boxed batch" % (n // 1000000)
    full, sampled = run_sampled(n)
    if not ran(tap, name, full):
        return
    did = full.workload["total"]
    for counter, field in (("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
                           ("free_calls", "frees"), ("free_bytes", "free_bytes")):
        tap.eq(full.process[counter] - empty.process[counter], did[field],
               "%s: %s difference equals the workload's %s" % (name, counter, field))
    tap.eq(full.process["untracked_allocs"], 0, "%s: nothing untracked" % name)
    tap.eq(full.process["lost_events"], 0, "%s: no lost events" % name)
    tap.eq(full.process["free_unknown_calls"], 0, "%s: every free was of a known block" % name)
    # a batch holds every block at once before it frees any
    live = did["allocs"]
    if not tap.check(sampled.tables, "%s: bpftool saw the table" % name):
        return
    start_segments, start_bytes, _ = idle.tables[0]
    peak_segments, peak_bytes, _ = max(sampled.tables, key=lambda t: t[1])
    tap.check(peak_segments > start_segments, "%s: the table grew" % name,
              "%d segments at most" % peak_segments)
    tap.check(peak_bytes <= BYTES_PER_BLOCK * live + start_bytes,
              "%s: table at most %d bytes per live block" % (name, BYTES_PER_BLOCK),
              "%d bytes for %d blocks" % (peak_bytes, live))
    slot_sizes = set().union(*(t[2] for t in sampled.tables))
    tap.eq(slot_sizes, {SLOT_BYTES}, "%s: every segment's slots are %d bytes, a call site's "
           "room included" % (name, SLOT_BYTES))
    print("# %s: %d blocks live, table at most %.1f MiB (%.1f bytes a block), memwatch's VmHWM "
          "%d KiB" % (name, live, peak_bytes / 2**20, peak_bytes / live, sampled.hwm_kib))
    tap.check(sampled.hwm_kib < RSS_LIMIT_KIB, "%s: memwatch's own peak RSS under 32 MiB" % name,
              "VmHWM %d KiB" % sampled.hwm_kib)
    tap.check(full.process["kernel_memory_peak_bytes"] >= peak_bytes,
              "%s: the summary's kernel memory includes the table" % name,
              "%d < %d" % (full.process["kernel_memory_peak_bytes"], peak_bytes))


def check_sizes(tap):
    """One run per size; the empty run, shared, is what the process does besides the items."""
    empty, idle = run_idle()
    if not ran(tap, "empty boxed batch", empty):
        return
    tap.eq(empty.process["untracked_allocs"], 0, "empty boxed batch: nothing untracked")
    tap.eq(empty.process["free_unknown_calls"], 0, "empty boxed batch: no free of an unknown block")
    if not tap.check(idle.tables, "empty boxed batch: bpftool saw the table"):
        return
    tap.eq(max(t[0] for t in idle.tables), 1, "empty boxed batch: an idle table stays at one "
           "segment")
    for n in SIZES:
        check_size(tap, n, empty, idle)


def check_big_blocks(tap):
    """Blocks too big for a slot's size (64 MiB and up) keep theirs apart, exactly."""
    name = "80 MiB blocks"
    full, empty = mwtest.channel_pair(tap, name, "bigalloc", 3, "-s", "80M")
    if not full:
        return
    did = full.workload["total"]
    for counter, field in (("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
                           ("free_calls", "frees"), ("free_bytes", "free_bytes")):
        tap.eq(full.process[counter] - empty.process[counter], did[field],
               "%s: %s difference equals the workload's %s" % (name, counter, field))
    main = full.thread(main_tid(full))
    tap.eq(main["released_bytes"], did["free_bytes"] + empty.process["free_bytes"],
           "%s: their owner's released bytes are theirs" % name)
    tap.eq(full.process["untracked_allocs"], 0, "%s: nothing untracked" % name)


def main_tid(run):
    return [t["tid"] for t in run.workload["threads"] if t["role"] == "main"][0]


def tcache_flush_only(tap, name, run, per_exited):
    """Frees of unknown blocks only on the threads that exited before the main one,
    @per_exited(count) each."""
    rows = run.summary["threads"]
    leader = [t for t in rows if t["tid"] == main_tid(run)]
    others = [t for t in rows if t["tid"] != main_tid(run)]
    tap.eq([t["free_unknown_calls"] for t in leader], [0],
           "%s: no free of an unknown block on the main thread" % name)
    tap.check(others and all(t["exited"] and per_exited(t["free_unknown_calls"]) for t in others),
              "%s: the rest on each exited thread, its tcache flush" % name,
              [(t["tid"], t["exited"], t["free_unknown_calls"]) for t in others])
    tap.eq(sum(t["free_unknown_calls"] for t in rows), run.process["free_unknown_calls"],
           "%s: the threads' frees of unknown blocks are all of them" % name)


def check_demo(tap):
    """`make demo`: 0 untracked, and frees of unknown blocks only from the tcache flushes."""
    name = "demo (threads, 1M boxed)"
    run = mwtest.memwatch_launch(mwtest.channel("threads", "-t", "boxed", "-n", 1000000, "-i",
                                                100), timeout=900)
    if not ran(tap, name, run):
        return
    tap.eq(run.process["untracked_allocs"], 0, "%s: nothing untracked" % name)
    tap.eq(run.process["lost_events"], 0, "%s: no lost events" % name)
    tcache_flush_only(tap, name, run, lambda n: 1 <= n <= TCACHE_FLUSH_MAX)
    # without a tcache, the flush is the cache itself alone
    name = "threads without a tcache"
    env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.tcache_count=0")
    run = mwtest.memwatch_launch(mwtest.channel("threads", "-t", "boxed", "-n", 100000), env=env)
    if ran(tap, name, run):
        tcache_flush_only(tap, name, run, lambda n: n == 1)


if __name__ == "__main__":
    mwtest.run_checks("live table", check_sizes, check_big_blocks, check_demo)
