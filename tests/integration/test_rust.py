#!/usr/bin/env python3
"""Rust programs (scenarios 1 and 2, std::sync::mpsc on glibc malloc): exact
malloc-family counts against what the program counted itself, Box<u64> items as
exactly N more mallocs of 8 bytes, the drained channel's memory retained by the
allocator, and threads that exited keeping their arenas."""
import os

import mwtest

RUST_CHANNEL = os.path.join(mwtest.WORKLOADS, "rust_channel")
MIB = 1 << 20
N = 200000
BIG = 1000000

COUNTERS = [("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
            ("known_frees", "frees"), ("free_bytes", "free_bytes")]


def rust(mode, *args):
    return [RUST_CHANNEL, mode, *[str(a) for a in args]]


_pairs = {}


def rust_pair(tap, name, mode, n, *args):
    """The program under memwatch with -n N and with -n 0: (full, empty) or (None, None).

    Each pair runs once; later checks reuse it.
    """
    key = (mode, n, args)
    if key not in _pairs:
        _pairs[key] = (mwtest.memwatch_launch(rust(mode, "-n", n, *args)),
                       mwtest.memwatch_launch(rust(mode, "-n", 0, *args)))
    full, empty = _pairs[key]
    ok = tap.check(full.code == 0 and empty.code == 0 and full.summary is not None
                   and empty.summary is not None and full.workload["total"] is not None
                   and empty.workload["total"] is not None,
                   "%s: memwatch ran" % name, full.stderr + empty.stderr)
    return (full, empty) if ok else (None, None)


def check_exact(tap, name, full, empty):
    """memwatch's N-minus-0 difference equals the program's own, counter by counter."""
    did, base = full.workload["total"], empty.workload["total"]
    mwtest.check_difference(tap, name, full, empty, COUNTERS,
                            {field: did[field] - base[field] for _, field in COUNTERS})
    mwtest.check_nothing_lost(tap, name, (full, empty))


def check_counts(tap):
    for mode, item in (("batch", "boxed"), ("batch", "value"), ("paired", "boxed")):
        name = "%s %s" % (mode, item)
        full, empty = rust_pair(tap, name, mode, N, "-t", item)
        if full:
            tap.eq(full.summary["probes"]["origin"], "libc", "%s: glibc's malloc probed" % name)
            check_exact(tap, name, full, empty)


def check_boxed_vs_value(tap):
    """Box<u64> items: exactly N more mallocs of 8 bytes, and N more frees, than u64 items."""
    runs = {}
    for item in ("boxed", "value"):
        runs[item] = rust_pair(tap, "box vs value: " + item, "batch", N, "-t", item)
        if not runs[item][0]:
            return
    diff = {item: {c: mwtest.counter(runs[item][0].process, c) -
                   mwtest.counter(runs[item][1].process, c) for c, _ in COUNTERS} for item in runs}
    did = {item: runs[item][0].workload["total"] for item in runs}
    tap.eq(did["boxed"]["allocs"] - did["value"]["allocs"], N,
           "box vs value: the program made N more allocations")
    tap.eq(diff["boxed"]["alloc_calls"] - diff["value"]["alloc_calls"], N,
           "box vs value: memwatch counts exactly N more allocations")
    tap.eq(diff["boxed"]["alloc_bytes"] - diff["value"]["alloc_bytes"], 8 * N,
           "box vs value: of exactly 8 bytes each")
    tap.eq(diff["boxed"]["known_frees"] - diff["value"]["known_frees"], N,
           "box vs value: and exactly N more frees")
    tap.eq(diff["boxed"]["free_bytes"] - diff["value"]["free_bytes"], 8 * N,
           "box vs value: of 8 bytes each")


def check_retention(tap):
    """Scenario 1: batch with Box<u64> keeps ~46 MiB retained by glibc; paired does not;
    u64 items give their blocks back with a brk shrink when the channel is dropped."""
    batch = mwtest.memwatch_launch(rust("batch", "-n", BIG, "-t", "boxed"))
    paired = mwtest.memwatch_launch(rust("paired", "-n", BIG, "-t", "boxed"))
    values = mwtest.memwatch_launch(rust("batch", "-n", BIG, "-t", "value"))
    if not tap.check(all(r.code == 0 and r.summary for r in (batch, paired, values)),
                     "retention: memwatch ran", batch.stderr + paired.stderr + values.stderr):
        return
    p = batch.process
    tap.check(p["live_bytes"] < MIB, "retention: batch boxed, live heap back to ~0",
              p["live_bytes"])
    tap.ge(p["alloc_bytes"], 8 * BIG, "retention: batch boxed, allocated every item")
    tap.ge(p["retained_bytes"], 40 * MIB, "retention: batch boxed, ~46 MiB retained by glibc")
    tap.check(p["returned_actual_bytes"] < MIB, "retention: batch boxed, nothing returned",
              p["returned_actual_bytes"])
    tap.ge(p["brk_grow_bytes"], 40 * MIB, "retention: batch boxed, the heap grew with brk")
    q = paired.process
    tap.check(q["rss_anon_bytes"] < 8 * MIB and q["retained_bytes"] < 8 * MIB,
              "retention: paired boxed, RSS stays low",
              "rss anon %d, retained %d" % (q["rss_anon_bytes"], q["retained_bytes"]))
    v = values.process
    tap.check(v["live_bytes"] < MIB, "retention: batch value, live heap back to ~0",
              v["live_bytes"])
    tap.ge(v["brk_shrink_bytes"], 8 * MIB, "retention: batch value, the drop shrank brk")
    tap.ge(v["returned_actual_bytes"], 8 * MIB,
           "retention: batch value, and those pages left RSS")
    print("# retention: batch boxed RSS anon %.1f MiB, retained %.1f MiB; paired %.1f MiB; "
          "value returned %.1f MiB" % (p["rss_anon_bytes"] / MIB, p["retained_bytes"] / MIB,
                                       q["rss_anon_bytes"] / MIB,
                                       v["returned_actual_bytes"] / MIB))


def rows_by_role(run):
    return {t["role"]: run.thread(t["tid"]) for t in run.workload["threads"]}


def check_threads_exact(tap):
    """Scenario 2's three threads: each credited with exactly its own item work."""
    full, empty = rust_pair(tap, "threads", "threads", N)
    if not full:
        return
    check_exact(tap, "threads", full, empty)
    rows, base = rows_by_role(full), rows_by_role(empty)
    tap.eq(sorted(rows), ["main", "worker1", "worker2"], "threads: three working threads")
    for t, b in zip(full.workload["threads"], empty.workload["threads"]):
        role = t["role"]
        if not tap.check(rows.get(role) and base.get(role), "threads: %s has a row" % role):
            continue
        for counter, field in COUNTERS:
            tap.eq(mwtest.counter(rows[role], counter) - mwtest.counter(base[role], counter),
                   t[field] - b[field],
                   "threads: %s %s" % (role, counter))
        if role != "main":
            tap.eq(rows[role]["comm"], "mw-" + role, "threads: %s named" % role)


def check_threads_arenas(tap):
    """While the process lives on, the exited workers' rows stay, with their arenas resident."""
    att = mwtest.Attached(rust("threads", "-n", BIG, "-w", "-W"), ["-i", "0.1"])
    try:
        if not tap.check(att.ready and att.watching, "arenas: attached"):
            return
        att.start_work()
        if not tap.check(att.wait_done(), "arenas: the threads did their work"):
            return
        record = att.record_after()
        run = att.finish()
        if not tap.check(record and run.workload["threads"], "arenas: a report after the work"):
            return
        roles = {t["role"]: t["tid"] for t in run.workload["threads"]}
        rows = {t["tid"]: t for t in record["threads"]}
        for role in ("worker1", "worker2"):
            row = rows.get(roles[role])
            if not tap.check(row, "arenas: %s has a row" % role):
                continue
            tap.eq(row["exited"], True, "arenas: %s listed as exited" % role)
            tap.ge(row["mprotect_rw_bytes"], 40 * MIB, "arenas: %s grew its arena" % role)
            tap.ge(row["resident_now_bytes"], 40 * MIB,
                   "arenas: %s's arena still resident after its exit" % role)
            tap.check(row["live_bytes"] < MIB, "arenas: %s holds no live items" % role,
                      row["live_bytes"])
        main = rows.get(roles["main"])
        tap.check(main and not main["exited"], "arenas: main is live")
        p = record["process"]
        tap.ge(p["retained_bytes"], 120 * MIB, "arenas: ~140 MiB retained by three arenas")
        print("# arenas: RSS anon %.1f MiB, retained %.1f MiB" % (
            p["rss_anon_bytes"] / MIB, p["retained_bytes"] / MIB))
    finally:
        att.kill()


if __name__ == "__main__":
    mwtest.run_checks("Rust programs", check_counts, check_boxed_vs_value, check_retention,
                      check_threads_exact, check_threads_arenas,
                      needs=[(RUST_CHANNEL, "rustc")])
