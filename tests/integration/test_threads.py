#!/usr/bin/env python3
"""Per-thread attribution: each thread is credited with exactly its own item
work (threads mode), frees of another thread's blocks are counted as such
(xthread), and exited threads keep their rows while the process lives."""
import json
import time

import mwtest

N = 200000


def rows_by_role(run):
    """memwatch's summary row of each workload thread, keyed by the workload's role."""
    return {t["role"]: run.thread(t["tid"]) for t in run.workload["threads"]}


def diff(full_row, empty_row, counter):
    return value(full_row, counter) - value(empty_row, counter)


def value(row, counter):
    """A counter of a row; "known_frees" are frees of blocks the table knew.

    An exiting thread's glibc hands its tcache back with free() calls of blocks
    the program had already freed: those are counted as frees of unknown blocks.
    """
    if counter == "known_frees":
        return row["free_calls"] - row["free_unknown_calls"]
    return row[counter]


def check_threads_mode(tap):
    full, empty = mwtest.channel_pair(tap, "threads", "threads", N)
    if not full:
        return
    full_rows, empty_rows = rows_by_role(full), rows_by_role(empty)
    tap.eq(sorted(full_rows), ["main", "worker1", "worker2"], "threads: three working threads")
    for t in full.workload["threads"]:
        role = t["role"]
        row, base = full_rows[role], empty_rows.get(role)
        if not tap.check(row is not None and base is not None, "threads: %s has a row" % role):
            continue
        tap.eq(diff(row, base, "alloc_calls"), t["allocs"], "threads: %s allocations" % role)
        tap.eq(diff(row, base, "alloc_bytes"), t["alloc_bytes"], "threads: %s bytes" % role)
        tap.eq(diff(row, base, "known_frees"), t["frees"], "threads: %s frees" % role)
        tap.eq(diff(row, base, "free_other_calls"), 0, "threads: %s freed only its own" % role)
        tap.eq(row["tid"], t["tid"], "threads: %s row is its own TID" % role)
        if role != "main":
            tap.check(row["comm"] == "mw-" + role, "threads: %s named %s" % (role, row["comm"]))
    # each worker's arena grows with mprotect, not brk: the main thread's heap is brk
    for role in ("worker1", "worker2"):
        tap.ge(diff(full_rows[role], empty_rows[role], "mprotect_rw_bytes"), N * 64 // 2,
               "threads: %s grew its arena with mprotect" % role)
    tap.ge(diff(full_rows["main"], empty_rows["main"], "brk_grow_bytes"), N * 64 // 2,
           "threads: main grew the brk heap")


def check_xthread_mode(tap):
    full, empty = mwtest.channel_pair(tap, "xthread", "xthread", N)
    if not full:
        return
    rows, base = rows_by_role(full), rows_by_role(empty)
    producer = next(t for t in full.workload["threads"] if t["role"] == "producer")
    consumer = next(t for t in full.workload["threads"] if t["role"] == "consumer")
    tap.eq(diff(rows["producer"], base["producer"], "alloc_calls"), producer["allocs"],
           "xthread: producer allocated every message")
    tap.eq(diff(rows["producer"], base["producer"], "known_frees"), 0,
           "xthread: producer freed nothing")
    tap.eq(diff(rows["consumer"], base["consumer"], "known_frees"), consumer["frees"],
           "xthread: consumer freed every message")
    tap.eq(diff(rows["consumer"], base["consumer"], "free_other_calls"), consumer["frees"],
           "xthread: all of them the producer's blocks")
    tap.eq(diff(rows["consumer"], base["consumer"], "free_other_bytes"), consumer["free_bytes"],
           "xthread: free_other_bytes equals the bytes freed")
    tap.eq(diff(rows["producer"], base["producer"], "released_calls"), producer["allocs"],
           "xthread: the producer's blocks were all released")
    tap.eq(rows["producer"]["live_bytes"], base["producer"]["live_bytes"],
           "xthread: the producer holds no live item bytes")


def latest_record(report):
    report.seek(0)
    lines = [l for l in report.read().splitlines() if l.strip()]
    return json.loads(lines[-1]) if lines else None


def check_exited_rows_while_alive(tap):
    """Workers have exited but the process lives: their rows stay, marked exited."""
    att = mwtest.Attached(mwtest.channel("threads", "-n", N, "-w", "-W"), ["-i", "0.1"])
    try:
        if not tap.check(att.ready and att.watching, "exited rows: attached",
                         att.memwatch.stderr.read1().decode() if not att.watching else ""):
            return
        att.start_work()
        done = att.wait_done()
        tap.check(done is not None, "exited rows: workload finished its work")
        roles = {}
        deadline = time.monotonic() + 30
        record = None
        # the report after `done` shows the workers' exit; poll the stream for it
        while time.monotonic() < deadline:
            record = latest_record(att.report)
            if record and record["type"] == "interval":
                exited = [t for t in record["threads"] if t["exited"]]
                if len(exited) >= 2:
                    break
            time.sleep(0.05)
        run = att.finish()
        roles = {t["role"]: t["tid"] for t in run.workload["threads"]}
        rows = {t["tid"]: t for t in record["threads"]} if record else {}
        for role in ("worker1", "worker2"):
            row = rows.get(roles.get(role))
            tap.check(row is not None and row["exited"],
                      "exited rows: %s listed as exited while the process lives" % role)
            tap.check(row is not None and row["alloc_calls"] >= N,
                      "exited rows: %s keeps its counters" % role)
        main_row = rows.get(roles.get("main"))
        tap.check(main_row is not None and not main_row["exited"],
                  "exited rows: main is still live")
        tap.eq(run.code, 0, "exited rows: memwatch exits 0 when the target exits")
    finally:
        att.kill()


if __name__ == "__main__":
    mwtest.run_checks("per-thread attribution",
                      check_threads_mode,
                      check_xthread_mode,
                      check_exited_rows_while_alive)
