#!/usr/bin/env python3
"""The JSON records' field names, held here as they were before the counter
registry (plus the fields added since), for every channel mode; and each mode's
allocator and madvise counts, exactly what the workload says it did."""
import mwtest

# the fields of a thread and, summed, of the process
COUNTERS = {
    "alloc_bytes", "alloc_calls", "brk_grow_bytes", "brk_shrink_bytes", "free_bytes",
    "free_calls", "free_other_bytes", "free_other_calls", "free_preexisting_bytes",
    "free_preexisting_calls", "free_unknown_calls", "grown_bytes", "live_bytes", "madvise",
    "madvise.cold", "madvise.dontneed", "madvise.free", "madvise.other", "madvise.pageout",
    "madvise.remove", "mmap_anon_bytes", "mmap_file_bytes", "mmap_none_bytes",
    "mprotect_none_bytes", "mprotect_rw_bytes", "mremap_grow_bytes", "mremap_shrink_bytes",
    "munmap_bytes", "released_bytes", "released_calls", "resident_gained_bytes",
    "resident_lost_bytes", "resident_lost_other_bytes", "resident_now_bytes",
    "advised_resident_bytes", "returned_actual", "returned_actual.brk",
    "returned_actual.madvise", "returned_actual.mremap", "returned_actual.munmap",
    "returned_actual_bytes", "returned_bytes", "syscalls", "syscalls.brk", "syscalls.madvise",
    "syscalls.mmap", "syscalls.mprotect", "syscalls.mremap", "syscalls.munmap",
    "untracked_allocs", "untracked_bytes",
    # added with process_madvise
    "syscalls.process_madvise", "returned_actual.process_madvise",
}
THREAD = COUNTERS | {"comm", "exited", "tid"}
PROCESS = COUNTERS | {
    "comm", "execs", "exited_threads", "folded_threads", "forks_not_followed",
    # added with slot reuse: exited processes folded into one (pid 0)
    "folded_processes",
    "heap_resident_bytes", "kernel_memory_bytes", "kernel_memory_peak_bytes", "lost_events",
    "pid", "resident_now_age_s", "resident_released_at_exit_bytes", "retained_bytes",
    "retained_includes_preexisting", "rss_anon_bytes", "rss_bytes", "rss_file_bytes",
    "rss_shmem_bytes", "rss_tally_anon_bytes", "rss_tally_ok", "threads",
    "unowned_resident_bytes",
    # added with -f
    "exited", "parent_pid", "forked_at_s", "alloc_counted_since_s",
    # added with --cgroup
    "joined_at_s", "left_cgroup",
}
# the processes' sums (-p A,B; one process alone too)
TOTAL = COUNTERS | {
    "processes", "rss_bytes", "rss_anon_bytes", "rss_file_bytes", "rss_shmem_bytes",
    "retained_bytes", "resident_released_at_exit_bytes", "lost_events", "kernel_memory_bytes",
    "threads", "exited_threads", "forks_not_followed", "execs",
    # added with -f
    "processes_not_watched",
}
INTERVAL = {"type", "elapsed_s", "interval_s", "process", "threads", "processes", "total"}
# a launched command that exited by itself
SUMMARY = INTERVAL | {
    "probes", "probes.allocator", "probes.kept", "probes.malloc", "probes.origin",
    "probes.reattached", "probes.tracepoints", "probes.unprobed_images", "probes.unseen_images",
    "probes.uprobes", "probes.uretprobes", "target", "target.exit_code", "target.exited",
    "target.launched",
}

# (mode, items): every mode of the channel workload, small
MODES = [("paired", 1000), ("batch", 1000), ("threads", 1000), ("xthread", 1000),
         ("trim", 1000), ("recycler", 10), ("leak", 1000), ("bigalloc", 4), ("madvise", 2),
         ("process_madvise", 2), ("sbrk", 2), ("mremap", 2), ("mprotect", 2)]


def fields(record, prefix=""):
    """The dotted names of a record's fields, nested objects' included; not lists'."""
    names = set()
    for key, value in record.items():
        names.add(prefix + key)
        if isinstance(value, dict):
            names |= fields(value, prefix + key + ".")
    return names


def check_record(tap, name, record, top):
    nested = {"process." + f for f in fields(record["process"])} | \
        {"total." + f for f in fields(record["total"])}
    tap.eq(sorted(fields(record) - nested), sorted(top), "%s: the record's fields" % name)
    tap.eq(sorted(fields(record["process"])), sorted(PROCESS), "%s: the process's fields" % name)
    tap.check(record["threads"] and all(fields(t) == THREAD for t in record["threads"]),
              "%s: each thread's fields" % name,
              [sorted(fields(t) ^ THREAD) for t in record["threads"]])
    tap.check(record["processes"] and
              all(fields(p) == PROCESS | {"threads"} and p["threads"] and
                  all(fields(t) == THREAD for t in p["threads"]) for p in record["processes"]),
              "%s: each of the processes' fields, its threads'" % name,
              [sorted(fields(p) ^ (PROCESS | {"threads"})) for p in record["processes"]])
    tap.eq(sorted(fields(record["total"])), sorted(TOTAL), "%s: the total's fields" % name)


def check_mode(tap, mode, n):
    full, empty = mwtest.channel_pair(tap, mode, mode, n)
    if not full:
        return
    check_record(tap, mode + " summary", full.summary, SUMMARY)
    did, p, q = full.workload["total"], full.process, empty.process
    known_frees = (p["free_calls"] - p["free_unknown_calls"]) - \
        (q["free_calls"] - q["free_unknown_calls"])
    got = {"allocs": p["alloc_calls"] - q["alloc_calls"],
           "alloc_bytes": p["alloc_bytes"] - q["alloc_bytes"], "frees": known_frees,
           "free_bytes": p["free_bytes"] - q["free_bytes"],
           "madvise_bytes": p["madvise"]["dontneed"] - q["madvise"]["dontneed"]}
    tap.eq(got, {k: did[k] for k in got}, "%s: counts as the workload's" % mode)


def check_modes(tap):
    for mode, n in MODES:
        check_mode(tap, mode, n)


def check_interval(tap):
    """Interval records: a recycler slow enough for several of them."""
    run = mwtest.memwatch_launch(mwtest.channel("recycler", "-n", 5, "-i", 100), ["-i", "0.1"])
    if tap.check(run.code == 0 and run.intervals, "interval records were printed", run.stderr):
        check_record(tap, "interval", run.intervals[-1], INTERVAL)


if __name__ == "__main__":
    mwtest.run_checks("JSON fields", check_modes, check_interval)
