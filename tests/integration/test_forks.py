#!/usr/bin/env python3
"""A launched command that forks workers (tests/workloads/prefork.c): memwatch
counts the process it watches, exactly, and counts the children it does not
follow. Each case runs with N pairs and with 0, and the difference must be the
parent's N malloc(64)+free pairs, none of its workers' (k*N each)."""
import re

import mwtest

N = 100000
WORKERS = 4
PREFORK = mwtest.WORKLOADS + "/prefork"
COUNTERS = [("alloc_calls", "pairs"), ("known_frees", "pairs")]


def said(stderr):
    """The workload's lines, each a dict, by role: {'parent': {...}, 'workers': [...]}."""
    out = {"parent": None, "workers": [], "done": False}
    for line in stderr.splitlines():
        role, _, rest = line.partition(" ")
        fields = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
        if role == "parent":
            out["parent"] = {k: int(v) for k, v in fields.items()}
        elif role == "worker":
            out["workers"].append(fields)
        elif role == "done":
            out["done"] = True
    return out


def check_case(tap, name, args):
    full = mwtest.memwatch_launch([PREFORK, "-w", WORKERS, "-n", N, *args])
    empty = mwtest.memwatch_launch([PREFORK, "-w", WORKERS, "-n", 0, *args])
    if not tap.check(full.code == 0 and empty.code == 0 and full.summary is not None
                     and empty.summary is not None, "%s: memwatch and prefork exit 0" % name,
                     full.stderr[-800:] + empty.stderr[-800:]):
        return
    workload = said(full.stderr)
    tap.check(workload["done"] and len(workload["workers"]) == WORKERS,
              "%s: every worker ran and was reaped" % name, full.stderr[-800:])
    tap.eq(workload["parent"]["pairs"] if workload["parent"] else None, N,
           "%s: the parent made its pairs" % name)
    mwtest.check_difference(tap, name, full, empty, COUNTERS, {"pairs": N})
    for run, n in ((full, N), (empty, 0)):
        tap.eq(run.process["forks_not_followed"], WORKERS,
               "%s, -n %d: the %d workers counted as forks not followed" % (name, n, WORKERS))
    mwtest.check_nothing_lost(tap, name, (full, empty))


def check_forks(tap):
    """Workers that wait before they allocate, as a prefork server's do."""
    check_case(tap, "paused workers", ["-d", "100"])


def check_at_once(tap):
    """Workers that allocate at once after the fork, while the parent may still run."""
    check_case(tap, "workers at once", ["-d", "0"])


def check_exec(tap):
    """A worker that execs another image: not followed either."""
    check_case(tap, "a worker execs", ["-d", "0", "-e", "/bin/true"])


if __name__ == "__main__":
    mwtest.run_checks("forks", check_forks, check_at_once, check_exec)
