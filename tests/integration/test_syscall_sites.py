#!/usr/bin/env python3
"""--stacks: the memory syscalls' stacks. The syscall_sites workload's mmap and munmap sites
with exactly their calls and bytes (every page resident when unmapped: all of it left RSS), a
malloc_trim call's madvise with malloc_trim on its stack, the heap's brk reaching its caller
through malloc (a uretprobe's trampoline in the way); every syscall's stack unwound or over the
rate cap, none missing. The channel's worker threads' arenas, made inside malloc, reach the
worker function (their unmapping and mprotect); each site's threads' parts; a burst of
mprotect calls goes over the cap, counted exactly; a static stripped binary's and a Go
program's syscall stacks."""
import os
import re
import subprocess
import mwtest
from test_stacks import run_gated

WORKLOAD = os.path.join(mwtest.WORKLOADS, "syscall_sites")
GO_HEAP = os.path.join(mwtest.WORKLOADS, "go_heap")
STATIC = os.path.join(mwtest.WORKLOADS, "channel-static")
ROUNDS = 3
MAP_BYTES = 4 << 20
HOLE_BYTES = 2048 * 4096
MIB = 1 << 20


def names(site):
    return [f["function"] for f in site["frames"]]


# with glibc's debug file (libc6-dbg) malloc is named as its first symbol there
MALLOC = ("malloc", "__libc_malloc")


def sites_with(sites, first, *functions):
    """The sites whose innermost frame is @first and whose stack has @functions in order
    (a tuple: any of its names)."""
    found = []
    for site in sites:
        stack = names(site)
        if not stack or stack[0] != first:
            continue
        where = [next((i for i, name in enumerate(stack)
                       if name in (f if isinstance(f, tuple) else (f,))), None)
                 for f in functions]
        if None not in where and where == sorted(where):
            found.append(site)
    return found


def check_unwound_or_capped(tap, name, summary):
    """Every successful memory syscall memwatch counted sent its stack or went over the cap."""
    stacks = summary["stacks"]
    # one process: its syscalls are all the stacks'
    counted = sum(summary["process"]["syscalls"].values())
    tap.eq(stacks["syscalls"] + stacks["capped"] + stacks["lost_syscalls"], counted,
           "%s: every counted syscall unwound, over the cap or lost (%d)" % (name, counted))


def check_workload(tap):
    code, text, err = run_gated(WORKLOAD, n=ROUNDS)
    reports = mwtest.parse_reports(text) if text else ([], None, [])
    summary = reports[1]
    if not tap.check(code == 0 and summary is not None and "sites" in summary,
                     "syscall_sites: memwatch ran with its sites", err[-2000:]):
        return
    stacks, sites = summary["stacks"], summary["sites"]
    tap.eq((stacks["lost"], stacks["capped"]), (0, 0), "syscall_sites: nothing lost or capped")
    check_unwound_or_capped(tap, "syscall_sites", summary)
    mapped = sites_with(sites, "__mmap", "map_touch_unmap", "main")
    tap.eq([(s["syscall_calls"], s["grown_bytes"], s["returned_bytes"]) for s in mapped],
           [(ROUNDS, ROUNDS * MAP_BYTES, 0)],
           "syscall_sites: the mmap site: its calls and the bytes grown, exactly")
    unmapped = sites_with(sites, "__munmap", "map_touch_unmap", "main")
    tap.eq([(s["syscall_calls"], s["grown_bytes"], s["returned_bytes"],
             s["returned_actual_bytes"]) for s in unmapped],
           [(ROUNDS, 0, ROUNDS * MAP_BYTES, ROUNDS * MAP_BYTES)],
           "syscall_sites: the munmap site: its calls, bytes returned, all of them resident")
    trimmed = sites_with(sites, "__madvise", "malloc_trim", "trim_hole", "main")
    tap.check(len(trimmed) == 1 and trimmed[0]["returned_bytes"] >= HOLE_BYTES and
              trimmed[0]["returned_actual_bytes"] >= HOLE_BYTES - MIB,
              "syscall_sites: malloc_trim's madvise: the hole returned, and out of RSS",
              [(names(s), s["returned_bytes"], s["returned_actual_bytes"]) for s in trimmed] or
              [names(s) for s in sites])
    # malloc's uretprobe replaced its return address: the stack reaches past it all the same
    grown = sites_with(sites, "brk", MALLOC, "trim_hole", "main")
    tap.check(sum(s["grown_bytes"] for s in grown) >= HOLE_BYTES - MIB,
              "syscall_sites: the heap's brk reaches trim_hole through malloc",
              [names(s) for s in sites])


def check_text(tap):
    code, text, err = run_gated(WORKLOAD, fmt="--no-tui", n=ROUNDS)
    section = text.split("syscall sites that grew or returned at least 1.0M:\n")
    tap.check(code == 0 and len(section) == 2, "text: the syscall sites' section",
              err[-2000:] + text[-2000:])
    if len(section) != 2:
        return
    tap.check(re.search(r"returned 12\.0M \(12\.0M left RSS\) in 3 syscalls\n {6}__munmap",
                        section[1]), "text: the munmap site, its bytes and calls", section[1])
    tap.check(re.search(r"\n {6}malloc_trim \(libc\.so\.6\).*\n {6}trim_hole \(syscall_sites\)",
                        section[1]), "text: malloc_trim's madvise", section[1])


def check_threads(tap):
    """Each worker thread of the channel's threads mode makes its own arena inside malloc: a
    PROT_NONE reservation (mapped, neither grown nor returned: a site the summary does not
    list), its unaligned part unmapped at once, then mprotect to writable as it fills.
    Sampled, the default: syscall stacks are every call's all the same."""
    run = mwtest.memwatch_launch(mwtest.channel("threads", "-n", "100000", "-q"),
                                 options=("--stacks",))
    summary = run.summary
    if not tap.check(run.code == 0 and summary is not None and "sites" in summary,
                     "threads: memwatch ran with its sites", run.stderr[-2000:]):
        return
    check_unwound_or_capped(tap, "threads", summary)
    sites = summary["sites"]
    for call, moved in (("__munmap", "returned_bytes"), ("__mprotect", "grown_bytes")):
        reached = sites_with(sites, call, MALLOC, "channel_send", "chain_thread")
        tap.check(reached and sum(s[moved] for s in reached) >= MIB,
                  "threads: a worker's arena %s reaches chain_thread through malloc" % call,
                  [names(s)[:8] for s in sites if s["syscall_calls"]])


COUNTS = ("alloc_calls", "alloc_bytes", "live_calls", "live_bytes", "free_calls", "syscall_calls",
          "grown_bytes", "returned_bytes", "returned_actual_bytes")


def check_by_thread(tap):
    """--stacks=all --top 1000 on the channel's threads mode, every allocation site listed:
    each site's threads' parts sum to its numbers, and each thread's allocator calls over
    every site are the thread table's, exactly (a block's free is its allocating thread's
    part)."""
    run = mwtest.memwatch_launch(mwtest.channel("threads", "-n", "5000", "-q"),
                                 options=("--stacks=all", "--top", "1000"))
    summary = run.summary
    if not tap.check(run.code == 0 and summary is not None and "sites" in summary,
                     "by thread: memwatch ran with its sites", run.stderr[-2000:]):
        return
    sites, stacks = summary["sites"], summary["stacks"]
    tap.check(all(all(sum(t[k] for t in site["threads"]) == site[k] for k in COUNTS)
                  for site in sites), "by thread: each site's threads sum to its numbers",
              [(site["alloc_calls"], site["threads"]) for site in sites][:5])
    tids = {t["tid"] for site in sites for t in site["threads"]}
    tap.ge(len(tids), 3, "by thread: the main thread and its workers")
    if not tap.check(stacks["lost"] == 0 and stacks["unpaired"] == 0,
                     "by thread: nothing lost, every block with its stack", stacks):
        return
    per_thread = {row["tid"]: row["alloc_calls"] for row in summary["threads"]}
    counted = {tid: sum(t["alloc_calls"] for site in sites for t in site["threads"]
                        if t["tid"] == tid) for tid in per_thread}
    tap.eq(counted, per_thread, "by thread: each thread's calls over its sites, the table's")


def check_cap(tap):
    """mprotect 20,000 times as fast as it goes: far over 100 stacks per 100 ms. The calls
    over the cap are counted with their bytes, and every call is one or the other."""
    n = 20000
    run = mwtest.memwatch_launch(mwtest.channel("mprotect", "-n", str(n), "-s", "4096", "-q"),
                                 options=("--stacks=all",))
    summary = run.summary
    if not tap.check(run.code == 0 and summary is not None and "stacks" in summary,
                     "cap: memwatch ran with its sites", run.stderr[-2000:]):
        return
    stacks = summary["stacks"]
    tap.check(stacks["capped"] > 0 and stacks["capped_grown_bytes"] > 0,
              "cap: calls over the rate cap counted, with their bytes", stacks)
    check_unwound_or_capped(tap, "cap", summary)


def check_static(tap):
    """A static, stripped binary: no malloc to probe, no symbol; its heap's brk sites are
    unwound all the same from the .eh_frame it keeps, each frame module+0xOFFSET."""
    if not os.path.exists(STATIC):
        mwtest.not_here(tap, "static", "no static channel built here")
        return
    run = mwtest.memwatch_launch([STATIC, "batch", "-n", "100000", "-q"], options=("--stacks",))
    summary = run.summary
    if not tap.check(run.code == 0 and summary is not None and "sites" in summary,
                     "static: memwatch ran with its sites", run.stderr[-2000:]):
        return
    tap.check(not summary["probes"]["malloc"] and summary["stacks"]["samples"] == 0,
              "static: no allocator probed, no allocator stack", summary["probes"])
    check_unwound_or_capped(tap, "static", summary)
    sites = summary["sites"]
    frames = [f for site in sites for f in site["frames"]]
    tap.check(sites and all(f["function"] is None and f["module"] == STATIC for f in frames),
              "static: every frame in the binary, none named", frames[:5])
    tap.check(sum(site["grown_bytes"] for site in sites if len(site["frames"]) >= 5) >= MIB,
              "static: the heap's growth, unwound through its caller's frames",
              [(len(site["frames"]), site["grown_bytes"]) for site in sites])


def check_go(tap):
    """A Go binary has no malloc to probe: its sites are its syscalls' (the runtime's mmap and
    madvise), unwound from the DWARF Go writes; the scavenger's madvise stops where Go switched
    to its system stack, and the text says so."""
    if not os.path.exists(GO_HEAP):
        mwtest.not_here(tap, "go", "no go here (Debian package golang-go)")
        return
    run = mwtest.memwatch_launch([GO_HEAP, "recycler", "-n", "20"], options=("--stacks",))
    summary = run.summary
    text = subprocess.run([mwtest.MEMWATCH, "--stacks", "--no-tui", "--", GO_HEAP, "recycler",
                           "-n", "20"], capture_output=True, text=True,
                          timeout=mwtest.TIMEOUT).stdout
    if not tap.check(run.code == 0 and summary is not None and "sites" in summary,
                     "go: memwatch ran with its sites", run.stderr[-2000:]):
        return
    tap.check(not summary["probes"]["malloc"] and summary["stacks"]["samples"] == 0,
              "go: no allocator probed, no allocator stack", summary["probes"])
    check_unwound_or_capped(tap, "go", summary)
    advised = [s for s in summary["sites"]
               if names(s) and (names(s)[0] or "").startswith("runtime.madvise")]
    tap.check(advised and all((names(s)[-1] or "").startswith("runtime.systemstack")
                              for s in advised),
              "go: the runtime's madvise sites end at its system stack switch",
              [names(s) for s in summary["sites"]])
    # sites under 1 MiB are not listed; calls over the cap are at none
    tap.between(sum(s["returned_bytes"] for s in advised) +
                summary["stacks"]["capped_returned_bytes"],
                summary["process"]["madvise"]["dontneed"] * 0.9,
                summary["process"]["madvise"]["dontneed"],
                "go: the madvise sites listed hold most of the bytes advised")
    tap.check("(Go's system stack: the goroutine's frames before it are not unwound)" in text,
              "go: the text says where the stack stops", text[-3000:])


if __name__ == "__main__":
    mwtest.run_checks("syscall sites", check_workload, check_text, check_threads,
                      check_by_thread, check_cap, check_static, check_go,
                      needs=((WORKLOAD, "cc"),))
