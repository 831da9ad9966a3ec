#!/usr/bin/env python3
"""Exact malloc-family counts: each channel mode runs under memwatch with N items
and with 0; the difference must be exactly what the workload says it did."""
import mwtest

N = 1000000
# frees of blocks the table knew: an exiting thread's glibc also frees its
# tcache's blocks, which the program had freed already (free_unknown_calls)
COUNTERS = [("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
            ("known_frees", "frees"), ("free_bytes", "free_bytes")]

# (name, mode, extra workload arguments, the analytic item work or None)
CASES = [
    ("batch node 64B", "batch", ["-s", 64], {"allocs": N, "alloc_bytes": 64 * N,
                                             "frees": N, "free_bytes": 64 * N}),
    ("paired node 64B", "paired", ["-s", 64], {"allocs": N, "alloc_bytes": 64 * N,
                                               "frees": N, "free_bytes": 64 * N}),
    ("batch value (504B blocks)", "batch", ["-t", "value"], None),
    ("batch boxed", "batch", ["-t", "boxed"], None),
    ("threads", "threads", ["-n", 200000], None),
    ("xthread", "xthread", [], None),
    ("bigalloc", "bigalloc", ["-n", 50], None),
    ("recycler", "recycler", ["-n", 30], None),
    ("recycler --pool", "recycler", ["-n", 30, "--pool"], None),
    ("leak", "leak", ["-n", 10000], None),
    ("trim", "trim", ["-n", 200000], None),
]


def items(args):
    """The -n of a case (N unless the case sets its own)."""
    return int(args[args.index("-n") + 1]) if "-n" in args else N


def without_n(args):
    if "-n" not in args:
        return [str(a) for a in args]
    i = args.index("-n")
    return [str(a) for a in args[:i] + args[i + 2:]]


def check_case(tap, name, mode, args, analytic):
    n = items(args)
    rest = without_n(args)
    full, empty = mwtest.channel_pair(tap, name, mode, n, *rest)
    if not full:
        return
    did = full.workload["total"]
    mwtest.check_difference(tap, name, full, empty, COUNTERS, did)
    if analytic:
        for field, value in analytic.items():
            tap.eq(did[field], value, "%s: workload did %s=%d" % (name, field, value))
    mwtest.check_nothing_lost(tap, name, (full, empty))
    if mode not in ("threads", "xthread"):
        tap.eq(full.process["free_unknown_calls"], 0, "%s: every free was of a known block" % name)


def check_table_full(tap):
    """A live table at its cap: the rest is counted as untracked, never dropped silently.

    --max-allocs N lets the table grow to 4N slots (64 bytes a block at the worst moment)."""
    n, cap = 10000, 1000
    run = mwtest.memwatch_launch(mwtest.channel("leak", "-n", n), ["--max-allocs", str(cap)])
    if not tap.check(run.code == 0 and run.summary, "table full: memwatch ran", run.stderr):
        return
    p = run.process
    tap.ge(p["alloc_calls"], n, "table full: every allocation still counted")
    tap.ge(p["untracked_allocs"], n - 4 * cap, "table full: the overflow is counted as untracked")
    tap.eq(p["alloc_calls"] - p["untracked_allocs"] <= 4 * cap, True,
           "table full: no more tracked than the table holds")
    tap.eq(p["lost_events"], 0, "table full: no lost events")


def check_cases(tap):
    for name, mode, args, analytic in CASES:
        check_case(tap, name, mode, args, analytic)


if __name__ == "__main__":
    mwtest.run_checks("exact counts", check_cases, check_table_full)
