#!/usr/bin/env python3
"""--stacks=all: the sites grouped by caller, their innermost frame outside the allocator.
The sites workload's callers are its three functions, each with exactly its calls, bytes,
frees and live blocks, and its frame the function's line; the syscall_sites workload's heap
growth (brk under sbrk under malloc) is trim_hole's, its bytes those of its sites."""
import os
import re
import mwtest
from test_stacks import EXPECTED, SITES, FRAME_FIELDS, run_gated
from test_syscall_sites import HOLE_BYTES, MALLOC, MIB, WORKLOAD as SYSCALL_SITES, sites_with

CALLER_FIELDS = {"frame", "sites", "alloc_calls", "alloc_bytes", "live_calls", "live_bytes",
                 "free_calls", "syscall_calls", "grown_bytes", "returned_bytes",
                 "returned_actual_bytes", "sampled", "samples"}
# the allocator's functions, with libc6-dbg's names and without: never a caller
ALLOCATOR = set(MALLOC) | {"calloc", "__libc_calloc", "_int_malloc", "sysmalloc", "__sbrk",
                           "brk", "__default_morecore", "malloc_trim", "__malloc_trim"}


def summary_of(workload, *options, n=None):
    code, text, err = run_gated(workload, stacks=("--stacks=all",) + options,
                                **({"n": n} if n else {}))
    reports = mwtest.parse_reports(text) if text else ([], None, [])
    return code, reports[1], err


def check_sites(tap):
    code, summary, err = summary_of(SITES)
    if not tap.check(code == 0 and summary is not None and "callers" in summary,
                     "sites: memwatch ran with its callers", err[-2000:]):
        return
    callers = summary["callers"]
    tap.check(callers and all(set(c) == CALLER_FIELDS and set(c["frame"]) == FRAME_FIELDS
                              for c in callers), "sites: each caller has the fields",
              [sorted(c) for c in callers])
    # the workload's own functions but main (its array of blocks, printf's buffer)
    own = [c for c in callers if c["frame"]["module"] == SITES and
           c["frame"]["function"] != "main"]
    tap.eq(sorted(c["frame"]["function"] for c in own), sorted(e[0] for e in EXPECTED),
           "sites: the callers are the three functions, once each")
    for function, calls, nbytes, frees, live, live_bytes in EXPECTED:
        caller = next((c for c in own if c["frame"]["function"] == function), None)
        if caller is None:
            continue
        tap.eq((caller["alloc_calls"], caller["alloc_bytes"], caller["free_calls"],
                caller["live_calls"], caller["live_bytes"]), (calls, nbytes, frees, live, live_bytes),
               "sites: %s: calls, bytes, frees, live blocks and bytes exact" % function)
        frame = caller["frame"]
        tap.check(frame["file"].endswith("sites.c") and frame["line"] > 0,
                  "sites: %s: its file and line" % function, frame)
    tap.check(not [c for c in callers if c["frame"]["function"] in ALLOCATOR],
              "sites: no caller inside the allocator",
              [c["frame"]["function"] for c in callers])


def check_syscall_sites(tap):
    """Every site listed (--top 1000): the brk sites reaching trim_hole through malloc are
    listed whole (one, of MiBs), and trim_hole's caller has their bytes."""
    code, summary, err = summary_of(SYSCALL_SITES, "--top", "1000", n=3)
    if not tap.check(code == 0 and summary is not None and "callers" in summary,
                     "syscall_sites: memwatch ran with its callers", err[-2000:]):
        return
    callers, sites = summary["callers"], summary["sites"]
    grown = sum(s["grown_bytes"] for s in sites_with(sites, "brk", MALLOC, "trim_hole", "main"))
    tap.ge(grown, HOLE_BYTES - MIB, "syscall_sites: the heap's brk sites under trim_hole")
    trim = [c for c in callers if c["frame"]["function"] == "trim_hole" and c["grown_bytes"]]
    tap.eq([c["grown_bytes"] for c in trim], [grown],
           "syscall_sites: trim_hole's caller grew the heap, its brk sites' bytes exactly")
    tap.check(trim and trim[0]["sites"] >= 2 and trim[0]["alloc_calls"] >= 2048,
              "syscall_sites: its malloc calls grouped with their brk", trim)
    tap.check(not [c for c in callers if c["frame"]["function"] in ALLOCATOR],
              "syscall_sites: no caller inside the allocator",
              [c["frame"]["function"] for c in callers])


def check_text(tap):
    code, text, err = run_gated(SITES, fmt="--no-tui")
    tap.check(code == 0 and re.search(
        r"\ntop \d+ callers by live bytes:\n  live 195\.3K in 1,?000 blocks, allocated 195\.3K "
        r"in 1,?000 calls, 0 frees.*; \d+ sites?\n {6}alloc_kept \(sites\) \S*sites\.c:\d+\n",
        text), "text: alloc_kept's caller first by live bytes, its frame's line",
        err[-2000:] + text[-3000:])
    tap.check(re.search(r"\ntop \d+ callers by allocated bytes:\n(?:.*\n)*?"
                        r" {6}alloc_zeroed \(sites\) \S*sites\.c:\d+\n", text) and
              "\n0 callers that grew or returned at least 1.0M:\n" in text,
              "text: the callers by allocated bytes, none that moved 1 MiB", text[-3000:])


if __name__ == "__main__":
    mwtest.run_checks("callers", check_sites, check_syscall_sites, check_text,
                      needs=((SITES, "cc"), (SYSCALL_SITES, "cc")))
