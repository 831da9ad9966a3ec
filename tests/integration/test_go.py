#!/usr/bin/env python3
"""Go programs (scenarios 4 and 5): memwatch recognises the Go runtime, probes no
malloc, and shows heap growth via mmap against memory returned via madvise, asked
and actual, per OS thread; debug.FreeOSMemory() returns it and RSS goes down."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import mwtest

GO_HEAP = os.path.join(mwtest.WORKLOADS, "go_heap")
N = 1000000
SIZE = 128
BYTES = N * SIZE


def go_heap(mode, *args):
    return [GO_HEAP, mode, *[str(a) for a in args]]


def parse_go(stdout):
    """go_heap's report: ({step name: MemStats fields}, total fields)."""
    steps, total = {}, None
    for line in stdout.splitlines():
        kind, _, rest = line.partition(" ")
        fields = {}
        for kv in rest.split():
            key, _, value = kv.partition("=")
            fields[key] = int(value) if value.isdigit() else value
        if kind == "step":
            steps[fields["name"]] = fields
        elif kind == "total":
            total = fields
    return steps, total


def check_probes(tap, name, run, header=True):
    probes = run.summary["probes"]
    tap.eq(probes["malloc"], False, "%s: no malloc probed" % name)
    tap.eq(probes["origin"], "go", "%s: origin says Go" % name)
    tap.check(probes["allocator"].startswith("Go runtime go1."),
              "%s: the summary names the Go runtime" % name, probes["allocator"])
    tap.check("no libc malloc, heap via mmap/madvise" in probes["allocator"],
              "%s: and says where its heap comes from" % name, probes["allocator"])
    tap.eq((probes["uprobes"], probes["uretprobes"]), (0, 0),
           "%s: no uprobe, no uretprobe on Go code" % name)
    if header:
        tap.check("is a Go program" in run.stderr, "%s: the header says it is Go" % name,
                  run.stderr)


def check_launch(tap):
    """A filled channel, dropped, GC'd and FreeOSMemory'd, watched from exec to exit."""
    run = mwtest.memwatch_launch(go_heap("channel", "-n", N, "-s", SIZE))
    if not tap.check(run.code == 0 and run.summary, "launch: memwatch ran", run.stderr):
        return
    check_probes(tap, "launch", run)
    steps, total = parse_go(run.stdout)
    p = run.process
    tap.eq(total["bytes"], BYTES, "launch: the program allocated N messages of SIZE")
    tap.eq((p["alloc_calls"], p["free_calls"]), (0, 0), "launch: no heap calls counted")
    # the heap grows with anonymous mmap (MAP_FIXED over its PROT_NONE reservation)
    tap.ge(p["mmap_anon_bytes"], steps["worked"]["heap_sys"],
           "launch: mmap growth covers the runtime's HeapSys")
    tap.ge(p["mmap_none_bytes"], 64 << 20, "launch: the address space reserved PROT_NONE")
    tap.ge(p["madvise"]["dontneed"], BYTES * 9 // 10, "launch: returned with MADV_DONTNEED")
    tap.ge(p["returned_actual_bytes"], BYTES * 9 // 10,
           "launch: and the pages really left RSS")
    tap.eq(p["munmap_bytes"] < 1 << 20, True, "launch: the heap is never munmapped")
    tap.eq(p["lost_events"], 0, "launch: no lost events")
    tap.eq(p["rss_tally_ok"], True, "launch: the rss_stat tally agrees with /proc")


def thread_row(record, tid):
    return next((t for t in record["threads"] if t["tid"] == tid), None)


MADVISE_CALL = re.compile(r"^(\d+) +madvise\(0x[0-9a-f]+, (\d+), (MADV_\w+)")
MADVISE_DONE = re.compile(r"^(\d+) +(?:<\.\.\. madvise resumed>.*|madvise\(.*)\) += 0$")


def strace_madvise(log):
    """Per TID from an `strace -f -e trace=madvise` log: the successful calls and
    their MADV_DONTNEED bytes, a call split by another thread's line included."""
    pending, per_tid = {}, {}
    for line in log.splitlines():
        call = MADVISE_CALL.match(line)
        if call:
            pending[call.group(1)] = (int(call.group(2)), call.group(3))
        done = MADVISE_DONE.match(line)
        if done and done.group(1) in pending:
            length, advice = pending.pop(done.group(1))
            calls, dontneed = per_tid.get(int(done.group(1)), (0, 0))
            per_tid[int(done.group(1))] = (calls + 1,
                                           dontneed + (length if advice == "MADV_DONTNEED" else 0))
    return per_tid


def madvise_by_thread(before, after):
    """memwatch's successful madvise calls and DONTNEED bytes per TID between two records."""
    start = {t["tid"]: t for t in before["threads"]}
    per_tid = {}
    for t in after["threads"]:
        b = start.get(t["tid"], {"syscalls": {"madvise": 0}, "madvise": {"dontneed": 0}})
        calls = t["syscalls"]["madvise"] - b["syscalls"]["madvise"]
        if calls:
            per_tid[t["tid"]] = (calls, t["madvise"]["dontneed"] - b["madvise"]["dontneed"])
    return per_tid


def traced(pid):
    """strace -f on every thread of @pid, returned once each one is traced."""
    log = tempfile.NamedTemporaryFile("r", suffix=".strace")
    strace = subprocess.Popen(["strace", "-f", "-e", "trace=madvise", "-o", log.name,
                               "-p", str(pid)], stderr=subprocess.PIPE)
    # "Process PID attached with N threads" comes once all of them are
    attached = mwtest.wait_for_line(strace.stderr, r"Process %d attached" % pid)
    return strace, log, attached


def check_free_os_memory(tap):
    """Samples before and after FreeOSMemory: returned (asked, actual) rises, RSS falls,
    and each madvise is credited to the OS thread that made it.

    The release is not all the caller's: the GC inside FreeOSMemory wakes the
    background scavenger, whose thread returns chunks in parallel with the
    caller's scavengeAll, in a split that changes from run to run. strace,
    attached to every thread, says which thread made each call.
    """
    if not shutil.which("strace"):
        mwtest.not_here(tap, "FreeOSMemory", "strace is not installed (scripts/deps.sh)")
        return
    env = dict(os.environ, GOGC="off")
    att = mwtest.Attached(go_heap("channel", "-n", N, "-s", SIZE, "-w", "-W"), ["-i", "0.1"],
                          env=env)
    strace = None
    try:
        if not tap.check(att.ready and att.watching, "FreeOSMemory: attached"):
            return
        strace, log, attached = traced(att.target.pid)
        if not tap.check(attached, "FreeOSMemory: strace attached to every thread"):
            return
        start = att.record_after()
        att.start_work()
        dropped = mwtest.wait_for_line(att.target.stderr, r"dropped pid=\d+ tid=(\d+)")
        if not tap.check(dropped, "FreeOSMemory: the channel was filled and dropped"):
            return
        tid = int(dropped.group(1))
        before = att.record_after()
        att.start_work()
        freed = mwtest.wait_for_line(att.target.stderr, r"freed pid=")
        after = att.record_after() if freed else None
        # stopped after the sample: a scavenger call still in flight as FreeOSMemory
        # returned has ended by then; strace detaches on SIGTERM, its log complete
        strace.terminate()
        strace.wait(timeout=30)
        run = att.finish()
        if not tap.check(start and before and after, "FreeOSMemory: sampled before and after"):
            return
        steps, _ = parse_go(run.stdout)
        b, a = before["process"], after["process"]
        tap.ge(b["rss_anon_bytes"], BYTES * 9 // 10,
               "FreeOSMemory: before, the dropped heap is still resident")
        tap.eq(b["returned_actual_bytes"] < BYTES // 10, True,
               "FreeOSMemory: before, almost nothing returned")
        asked = a["returned_bytes"] - b["returned_bytes"]
        actual = a["returned_actual_bytes"] - b["returned_actual_bytes"]
        fell = b["rss_anon_bytes"] - a["rss_anon_bytes"]
        released = steps["freed"]["heap_released"] - steps["dropped"]["heap_released"]
        tap.ge(asked, BYTES * 9 // 10, "FreeOSMemory: returned (asked) rose by the heap")
        tap.ge(actual, BYTES * 9 // 10, "FreeOSMemory: returned (actual) rose by the heap")
        tap.between(asked, released * 9 // 10, released * 11 // 10,
                    "FreeOSMemory: asked matches the runtime's HeapReleased rise")
        tap.ge(fell, actual * 9 // 10, "FreeOSMemory: RSS fell by what actually left")
        tb, ta = thread_row(before, tid), thread_row(after, tid)
        own = ta["returned_actual_bytes"] - tb["returned_actual_bytes"] if tb and ta else 0
        tap.check(own > 0, "FreeOSMemory: the calling OS thread returned some of it", own)
        mine, straced = madvise_by_thread(start, after), strace_madvise(log.read())
        tap.check(straced and mine == straced,
                  "FreeOSMemory: madvise calls and DONTNEED bytes per thread equal strace's",
                  (mine, straced))
        tap.eq(run.code, 0, "FreeOSMemory: memwatch exits 0 when the target exits")
        check_probes(tap, "FreeOSMemory", run, header=False)
        print("# FreeOSMemory: RSS anon %.1f MiB -> %.1f MiB, returned asked +%.1f MiB, "
              "actual +%.1f MiB (%.1f MiB by the caller, %d threads called madvise)" % (
                  b["rss_anon_bytes"] / 2**20, a["rss_anon_bytes"] / 2**20, asked / 2**20,
                  actual / 2**20, own / 2**20, len(straced)))
    finally:
        if strace and strace.poll() is None:
            strace.kill()
        att.kill()


def check_scavenger(tap):
    """Without FreeOSMemory: after the GC the background scavenger returns the heap,
    a while later and on threads of the runtime's choosing."""
    att = mwtest.Attached(go_heap("channel", "-n", N, "-s", SIZE, "-w", "-W"), ["-i", "0.1"])
    try:
        if not tap.check(att.ready and att.watching, "scavenger: attached"):
            return
        att.start_work()
        if not tap.check(mwtest.wait_for_line(att.target.stderr, r"dropped pid="),
                         "scavenger: the channel was filled and dropped"):
            return
        # a condition with a deadline: the scavenger paces itself, and it may
        # have begun before the first sample
        deadline = time.monotonic() + 60
        first = record = att.record_after()
        while (record and record["process"]["returned_actual_bytes"] < BYTES * 3 // 4
               and time.monotonic() < deadline):
            record = att.record_after()
        att.finish()
        if not tap.check(first and record, "scavenger: sampled"):
            return
        b, a = first["process"], record["process"]
        tap.ge(a["returned_actual_bytes"], BYTES * 3 // 4,
               "scavenger: the background scavenger returned the heap")
        # it goes on returning while we look: compare what left RSS with what it
        # returned between the same two samples
        actual = a["returned_actual_bytes"] - b["returned_actual_bytes"]
        tap.ge(b["rss_anon_bytes"] - a["rss_anon_bytes"], actual * 9 // 10,
               "scavenger: and RSS went down by what actually left")
    finally:
        att.kill()


def check_map(tap):
    """A global map whose keys were all deleted keeps its buckets, even after FreeOSMemory."""
    run = mwtest.memwatch_launch(go_heap("map", "-n", N, "-s", SIZE),
                                 env=dict(os.environ, GOGC="off"))
    if not tap.check(run.code == 0 and run.summary, "map: memwatch ran", run.stderr):
        return
    steps, total = parse_go(run.stdout)
    p = run.process
    tap.eq(total["map_len"], 0, "map: every key deleted")
    kept = steps["freed"]["heap_inuse"]
    tap.ge(kept, BYTES // 4, "map: the runtime still holds the map's buckets")
    tap.ge(p["returned_actual_bytes"], BYTES * 3 // 4, "map: the values' memory was returned")
    # resident at the end: the buckets, the runtime, stacks and the binary
    tap.ge(p["rss_anon_bytes"], kept, "map: RSS at exit still holds the buckets")


def check_recycler(tap):
    """Scenario 5: new buffers ask the OS for much more than they use; a pool does not."""
    grown = {}
    for name, args in (("recycler", []), ("recycler --pool", ["--pool"])):
        run = mwtest.memwatch_launch(go_heap("recycler", *args))
        if not tap.check(run.code == 0 and run.summary, "%s: memwatch ran" % name, run.stderr):
            return
        steps, total = parse_go(run.stdout)
        grown[name] = run.process["grown_bytes"]
        tap.ge(grown[name], steps["worked"]["heap_sys"],
               "%s: growth seen covers the runtime's HeapSys" % name)
        print("# %s: %d buffers, %.0f MiB allocated, grown %.0f MiB, HeapSys %.0f MiB" % (
            name, total["buffers"], total["bytes"] / 2**20, grown[name] / 2**20,
            steps["worked"]["heap_sys"] / 2**20))
    # 1.3x to 1.9x here, with the GC's timing
    tap.ge(grown["recycler"], grown["recycler --pool"] * 11 // 10,
           "recycler: without a pool it takes more from the OS")


if __name__ == "__main__":
    mwtest.run_checks("Go programs", check_launch, check_free_os_memory, check_scavenger,
                      check_map, check_recycler, needs=[(GO_HEAP, "go (golang-go)")])
