#!/usr/bin/env python3
"""memwatch -p on a busy process: exact from the moment it counts.

The churn workload's 16 threads call malloc, calloc, realloc, posix_memalign
and free as fast as they can, each holding at most 64 blocks. memwatch attaches
while they run; on "free" every thread frees all its blocks and idles, so once
it said "freed" the live heap memwatch counted must be exactly 0: a block
counted as allocated whose free was missed (an allocating probe live before
free's) would stay. The blocks the threads held at the attach were never seen
allocated: their frees are pre-existing ones, at most 16 x 64, never unknown
(no thread exits, so no tcache flush). Then the same with blocks held by main
(-H), whose count and glibc sizes are known, and a launched command, which has
no pre-existing blocks.
"""
import ctypes
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import CHURN, MEMWATCH, TIMEOUT, Watch, memwatch_launch, run_checks, wait_for_line

THREADS = 16
KEEP = 64
ATTACHES = 10
HELD = 50000
HELD_SIZE = 128


class Churn:
    """The churn workload, told what to do on its stdin."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([CHURN, *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ready = wait_for_line(self.proc.stderr, r"ready pid=(\d+)")

    def command(self, cmd, answer):
        """Sends @cmd; the match of its answer once it is done, or None."""
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()
        return wait_for_line(self.proc.stderr, answer + r" pid=\d+")

    def end(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=TIMEOUT)


def churning(watch, timeout=30):
    """An interval record of allocations memwatch counted, or None at the deadline."""
    for _ in range(int(timeout / 0.1)):
        record = watch.record_after(timeout)
        if record is None or record["process"]["alloc_calls"] > 0:
            return record
    return None


def check_attaches(tap):
    """Ten attaches in a row to the churning threads: live heap 0 after they freed it all."""
    churn = Churn("-t", THREADS, "-k", KEEP, "-s", 100000)
    if not tap.check(churn.ready, "churn: started"):
        return
    lives, losts, preexisting, unknown, ends = [], [], [], [], []
    try:
        for i in range(ATTACHES):
            watch = Watch(churn.proc.pid, ["-i", "0.1"])
            if not tap.check(watch.watching and churning(watch),
                             "attach %d: watching while it churns" % (i + 1),
                             "".join(watch.memwatch_said)[-2000:]):
                watch.interrupt()
                return
            freed = churn.command("free", "freed")
            after = watch.record_after()
            code, summary, err = watch.interrupt()
            if not tap.check(freed and after and summary and code == 0,
                             "attach %d: memwatch read the counters after the free" % (i + 1),
                             err[-2000:]):
                return
            p = after["process"]
            lives.append(p["live_bytes"])
            losts.append(p["lost_events"])
            preexisting.append(p["free_preexisting_calls"])
            unknown.append(p["free_unknown_calls"])
            ends.append((summary["process"]["live_bytes"], summary["process"]["lost_events"]))
            if not tap.check(churn.command("go", "going"), "attach %d: churning again" % (i + 1)):
                return
    finally:
        churn.end()
    print("# live heap after the free: %s; lost: %s" % (lives, losts))
    print("# frees of pre-attach blocks: %s; unknown: %s" % (preexisting, unknown))
    tap.eq(lives, [0] * ATTACHES, "every attach: live heap 0 once all was freed")
    tap.eq(losts, [0] * ATTACHES, "every attach: no lost event")
    tap.eq(ends, [(0, 0)] * ATTACHES, "every summary: live heap 0, no lost event")
    tap.eq(unknown, [0] * ATTACHES, "every attach: no free of an unknown block")
    tap.check(all(0 < n <= THREADS * KEEP for n in preexisting),
              "every attach: frees of pre-attach blocks, at most the %d held" % (THREADS * KEEP),
              preexisting)


def usable_size(size):
    """What glibc's malloc_usable_size says of a block of @size, asked of our own libc."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc_usable_size.argtypes = [ctypes.c_void_p]
    block = libc.malloc(size)
    usable = libc.malloc_usable_size(block)
    libc.free(ctypes.c_void_p(block))
    return usable


def check_held(tap):
    """Blocks main allocated before the attach, freed after: counted apart, with glibc's sizes."""
    churn = Churn("-t", 0, "-H", HELD, "-S", HELD_SIZE)
    try:
        watch = Watch(churn.proc.pid, ["-i", "0.1"])
        freed = churn.command("free", "freed")
        after = watch.record_after() if freed else None
        code, summary, err = watch.interrupt()
    finally:
        churn.end()
    if not tap.check(watch.watching and after and summary, "held: memwatch ran", err[-2000:]):
        return
    p = summary["process"]
    tap.eq(p["free_preexisting_calls"], HELD, "held: every free of a pre-attach block counted")
    tap.eq(p["free_preexisting_bytes"], HELD * usable_size(HELD_SIZE),
           "held: their bytes, glibc's usable sizes")
    tap.eq((p["free_unknown_calls"], p["live_bytes"]), (0, 0), "held: no unknown free, no live heap")
    tap.eq(p["retained_includes_preexisting"], True, "held: retained includes pre-attach blocks")


def check_held_text(tap):
    """The text summary says retained is a bound, and why."""
    churn = Churn("-t", 0, "-H", HELD, "-S", HELD_SIZE)
    try:
        argv = [MEMWATCH, "--no-tui", "-i", "0.1", "-p", str(churn.proc.pid)]
        mw = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watching = wait_for_line(mw.stderr, r"watching pid")
        freed = churn.command("free", "freed")
        # before the end, which frees the array of the held blocks too
        mw.send_signal(signal.SIGINT)
        out, err = mw.communicate(timeout=TIMEOUT)
    finally:
        churn.end()
    if not tap.check(watching and freed and mw.returncode == 0, "text: memwatch ran", err):
        return
    summary = out[out.find("=== memwatch summary"):]
    tap.check("(includes blocks allocated before the attach)" in summary
              and "retained <= " in summary, "text: retained <= X (includes blocks allocated "
              "before the attach)", summary[:600])
    tap.check("frees of blocks allocated before the attach: %d (" % HELD in summary,
              "text: the count of frees of pre-attach blocks", summary[-600:])


def check_launched(tap):
    """A launched command has no pre-attach block: its unknown frees are exited threads'."""
    # at EOF on stdin its threads stop, free their blocks and exit
    run = memwatch_launch([CHURN, "-t", 4, "-k", KEEP], stdin=subprocess.DEVNULL)
    if not tap.check(run.code == 0 and run.summary, "launched: memwatch ran", run.stderr):
        return
    p = run.process
    tap.eq((p["free_preexisting_calls"], p["retained_includes_preexisting"]), (0, False),
           "launched: no pre-existing blocks, retained is exact")
    main = run.thread(p["pid"])
    tap.eq(main["free_unknown_calls"], 0, "launched: main, which does not exit, freed no unknown block")
    tap.eq(p["lost_events"], 0, "launched: no lost event")
    print("# launched: exited threads' unknown frees (tcache flushes): %s" % [
        t["free_unknown_calls"] for t in run.summary["threads"] if t["exited"]
        and t["tid"] != p["pid"]])


if __name__ == "__main__":
    run_checks("attach", check_attaches, check_held, check_held_text, check_launched)
