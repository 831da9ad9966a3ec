#!/usr/bin/env python3
"""Resident truth: what actually left RSS during each return call, MADV_FREE'd
memory still resident, who holds resident memory after threads exit, and a
tally of the kernel's events that agrees with /proc."""
import json
import time

import mwtest

MIB = 1024 * 1024
REGION = 64 * MIB


def run(*cmd, env=None):
    return mwtest.memwatch_launch(list(cmd), env=env)


def near(value, want, tolerance=0.01):
    return abs(value - want) <= want * tolerance


def check_madvise(tap):
    # touched, then DONTNEED: asked 64 MiB, actual 64 MiB; the munmap after returns nothing
    r = run(*mwtest.channel("madvise", "-n", 1, "-s", "64M", "--advice", "dontneed"))
    p = r.process
    tap.eq(p["madvise"]["dontneed"], REGION, "dontneed touched: asked 64 MiB")
    tap.check(near(p["returned_actual"]["madvise"], REGION),
              "dontneed touched: actual 64 MiB", p["returned_actual"])
    tap.check(p["returned_actual"]["munmap"] < MIB, "dontneed touched: the munmap after returns ~0",
              p["returned_actual"])
    # untouched: nothing was resident, nothing can leave
    r = run(*mwtest.channel("madvise", "-n", 1, "-s", "64M", "--untouched"))
    tap.eq(r.process["madvise"]["dontneed"], REGION, "dontneed untouched: asked 64 MiB")
    tap.check(r.process["returned_actual"]["madvise"] < MIB, "dontneed untouched: actual ~0",
              r.process["returned_actual"])
    # MADV_FREE without memory pressure: nothing leaves until the munmap
    r = run(*mwtest.channel("madvise", "-n", 1, "-s", "64M", "--advice", "free"))
    tap.eq(r.process["madvise"]["free"], REGION, "free: asked 64 MiB")
    tap.check(r.process["returned_actual"]["madvise"] < MIB, "free: actual ~0 at the madvise",
              r.process["returned_actual"])
    tap.check(near(r.process["returned_actual"]["munmap"], REGION),
              "free: the munmap of the still resident pages returns 64 MiB",
              r.process["returned_actual"])


def check_advised_resident(tap):
    """MADV_FREE'd and held: shown as advised but still resident."""
    att = mwtest.Attached(mwtest.channel("madvise", "-n", 1, "-s", "64M", "--advice", "free",
                                         "--keep-mapped", "-w", "-W"), ["-i", "0.1"])
    try:
        if not tap.check(att.ready and att.watching, "advised resident: attached"):
            return
        att.start_work()
        tap.check(att.wait_done() is not None, "advised resident: workload advised")
        # near, not >=: without huge pages the last few MADV_FREE'd 4 KiB pages can sit in a
        # per-CPU LRU batch, still swap-backed (not LazyFree), until something drains it
        record = wait_record(att, lambda rec: near(rec["process"]["advised_resident_bytes"], REGION))
        run_ = att.finish()
        p = record["process"] if record else {}
        tap.check(record and near(p["advised_resident_bytes"], REGION),
                  "advised resident: ~64 MiB MADV_FREE'd and still resident",
                  p.get("advised_resident_bytes"))
        tap.eq(run_.code, 0, "advised resident: memwatch exits 0")
    finally:
        att.kill()


def check_munmap_touched(tap):
    r = run(*mwtest.channel("madvise", "-n", 1, "-s", "64M", "--advice", "none"))
    tap.eq(r.process["munmap_bytes"] >= REGION and r.code == 0, True, "munmap touched: ran")
    tap.check(near(r.process["returned_actual"]["munmap"], REGION),
              "munmap touched: actual equals the region", r.process["returned_actual"])


def check_batch_vs_paired(tap):
    n = 1000000
    # boxed items: one 504-byte block per 31 messages and a malloc(8) (32-byte chunk) each
    floor = n * 32 * 8 // 10
    batch = run(*mwtest.channel("batch", "-n", n, "-t", "boxed"))
    paired = run(*mwtest.channel("paired", "-n", n, "-t", "boxed"))
    for name, r in (("batch", batch), ("paired", paired)):
        tap.check(r.process["live_bytes"] < MIB, "%s: live heap ~0 at the end" % name,
                  r.process["live_bytes"])
        tap.check(r.process["rss_tally_ok"], "%s: event tally agrees with RSS" % name,
                  (r.process["rss_tally_anon_bytes"], r.process["rss_anon_bytes"]))
    tap.check(batch.process["returned_actual_bytes"] < MIB, "batch: ~0 actually returned",
              batch.process["returned_actual_bytes"])
    tap.ge(batch.process["retained_bytes"], floor, "batch: retained by the allocator >= 80% of N x 32")
    tap.check(paired.process["retained_bytes"] < 4 * MIB, "paired: retains little",
              paired.process["retained_bytes"])
    tap.ge(batch.process["resident_released_at_exit_bytes"], floor,
           "batch: the exit released what was retained")


def wait_record(att, cond, timeout=30):
    """The first report in the stream satisfying @cond, polled until @timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        att.report.seek(0)
        for line in att.report.read().splitlines():
            if line.strip():
                rec = json.loads(line)
                if rec["type"] == "interval" and cond(rec):
                    return rec
        time.sleep(0.05)
    return None


def threads_after_exit(n, extra=(), env=None, workers=2):
    """The first report after the workers exited, and the workload's roles."""
    cmd = mwtest.channel("threads", "-n", n, "-t", "boxed", *extra, "-w", "-W")
    if env:
        cmd = ["env", *["%s=%s" % kv for kv in env.items()], *cmd]
    att = mwtest.Attached(cmd, ["-i", "0.1"])
    try:
        if not (att.ready and att.watching):
            return None, None
        att.start_work()
        att.wait_done()
        record = wait_record(att, lambda rec: sum(t["exited"] for t in rec["threads"]) >= workers)
        done = att.finish()
        return record, {t["role"]: t["tid"] for t in done.workload["threads"]}
    finally:
        att.kill()


def check_threads(tap):
    n = 300000
    floor = n * 32 * 6 // 10
    record, roles = threads_after_exit(n)
    if not tap.check(record is not None, "threads: report after the workers exited"):
        return
    rows = {t["tid"]: t for t in record["threads"]}
    for role in ("worker1", "worker2"):
        row = rows.get(roles.get(role), {})
        tap.check(row.get("exited"), "threads: %s exited, row kept" % role)
        tap.ge(row.get("resident_now_bytes", 0), floor,
               "threads: exited %s still holds its arena's resident memory" % role)
        tap.eq(row.get("returned_actual", {}).get("munmap"), 0,
               "threads: %s's arena alignment munmap returned nothing" % role)
    # The first arena is carved from a doubled PROT_NONE reservation whose
    # misaligned ends are unmapped; a later arena may land exactly on the
    # aligned hint that left and unmap nothing, so only the pair must.
    tap.ge(sum(rows.get(roles.get(r), {}).get("munmap_bytes", 0)
               for r in ("worker1", "worker2")), 1,
           "threads: the first arena's alignment trim asked to munmap")
    tap.check(record["process"]["rss_tally_ok"], "threads: event tally agrees with RSS",
              (record["process"]["rss_tally_anon_bytes"], record["process"]["rss_anon_bytes"]))

    record, roles = threads_after_exit(n, env={"MALLOC_ARENA_MAX": "1"})
    if tap.check(record is not None, "MALLOC_ARENA_MAX=1: report after the workers exited"):
        rows = {t["tid"]: t for t in record["threads"]}
        workers = [rows.get(roles.get(r), {}) for r in ("worker1", "worker2")]
        held = max(w.get("resident_now_bytes", 0) for w in workers)
        tap.check(held < MIB, "MALLOC_ARENA_MAX=1: workers hold no arena", held)
        # an arena grows one page per mprotect; a thread stack is one call
        calls = [w.get("syscalls", {}).get("mprotect", 0) for w in workers]
        tap.check(max(calls) <= 2, "MALLOC_ARENA_MAX=1: no arena grew by mprotect", calls)
        tap.ge(sum(w.get("brk_grow_bytes", 0) for w in workers), 2 * floor,
               "MALLOC_ARENA_MAX=1: the workers grew the brk heap instead")

    # trimmed while each worker still holds its drained queue: RSS really goes
    # down. malloc_trim trims every arena: credit goes to whichever thread called it
    record, roles = threads_after_exit(n, ["--trim-at", "drained"])
    if tap.check(record is not None, "trim while held: report"):
        returned = sum(t["returned_actual"]["madvise"] for t in record["threads"])
        tap.ge(returned, 2 * floor, "trim while held: the trims actually returned the arenas")
        held = max(t["resident_now_bytes"] for t in record["threads"])
        tap.check(held < floor, "trim while held: no exited thread keeps its batch", held)
    # trimmed after the workers exited: glibc 2.36 trims only the main arena
    record, roles = threads_after_exit(n, ["--trim-at", "joined", "-T", "2"], workers=1)
    if tap.check(record is not None, "trim after exit: report"):
        row = {t["tid"]: t for t in record["threads"]}.get(roles.get("worker1"), {})
        tap.ge(row.get("resident_now_bytes", 0), floor,
               "trim after exit: the exited worker's arena stays resident")


def check_trim_counted_once(tap):
    """malloc_trim madvises free pages and shrinks brk over some of them: actual counts each page once."""
    n = 1000000
    r = run(*mwtest.channel("trim", "-n", n, "-t", "boxed"))
    p = r.process
    asked = p["returned_bytes"]
    actual = p["returned_actual_bytes"]
    tap.ge(actual, n * 32 * 8 // 10, "trim: the trim actually returned the retained memory")
    tap.check(actual <= asked, "trim: actual never exceeds asked", (actual, asked))
    tap.check(actual <= p["resident_gained_bytes"], "trim: actual never exceeds what was resident",
              (actual, p["resident_gained_bytes"]))


if __name__ == "__main__":
    mwtest.run_checks("resident truth",
                      check_madvise,
                      check_advised_resident,
                      check_munmap_touched,
                      check_batch_vs_paired,
                      check_threads,
                      check_trim_counted_once)
