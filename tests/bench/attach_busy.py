#!/usr/bin/env python3
"""make bench's attach row: memwatch -p of a busy target, start to watching.

The target is the churn workload with 16 threads calling the malloc family
as fast as they can (on a 2-core machine they keep both cores busy). Each
run starts a fresh target, lets it churn for a second, starts memwatch -p
and times from memwatch's start to its "watching pid" line, which it
prints once every probe is live and counting has begun. The memwatch
binaries given run interleaved, round after round; each line is the median
of the rounds. Timings are for reading, never asserted.

    attach_busy.py [-r ROUNDS] [-c CHURN] NAME=MEMWATCH...
"""
import argparse
import signal
import statistics
import subprocess
import sys
import time

THREADS = 16
WARMUP_S = 1.0
TIMEOUT_S = 30


def attach_ms(memwatch, churn):
    target = subprocess.Popen([churn, "-t", str(THREADS), "-k", "64"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(WARMUP_S)
        start = time.monotonic()
        mw = subprocess.Popen([memwatch, "-p", str(target.pid), "--json", "-o", "/dev/null"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        took = None
        for line in mw.stderr:
            if "watching pid" in line:
                took = (time.monotonic() - start) * 1000
                break
        mw.send_signal(signal.SIGINT)
        mw.communicate(timeout=TIMEOUT_S)
        return took
    finally:
        target.kill()
        target.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-r", "--rounds", type=int, default=7)
    ap.add_argument("-c", "--churn", default=".output/workloads/churn")
    ap.add_argument("tools", nargs="+", metavar="NAME=MEMWATCH")
    args = ap.parse_args()
    tools = [t.split("=", 1) for t in args.tools]
    runs = {name: [] for name, _ in tools}
    for r in range(args.rounds):
        # each round starts one tool later: no tool always runs first
        for i in range(len(tools)):
            name, path = tools[(i + r) % len(tools)]
            took = attach_ms(path, args.churn)
            if took is None:
                print("attach_busy.py: %s never said it was watching" % name, file=sys.stderr)
                return 1
            runs[name].append(took)
    print("attach -p to %d busy threads (start to \"watching pid\", median of %d):"
          % (THREADS, args.rounds))
    for name, _ in tools:
        print("  %-14s %5.0f ms   runs: %s" % (name, statistics.median(runs[name]),
                                              " ".join("%.0f" % t for t in runs[name])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
