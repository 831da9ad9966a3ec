#!/usr/bin/env python3
"""A process that execs back and forth between a glibc image and a static musl one
every 300 ms for 5 s (tests/workloads/execstorm.c): memwatch -p follows every exec,
moving its uprobes between libc and the musl executable. When the execs all come
after the attach, every one is counted (the workload's own count) and accounted for
(each image's probes moved, kept, none to place, or the image replaced before
memwatch looked), nothing is lost, and the summary describes the last image;
attached in the middle of the storm, it is watched to its end with the same
agreement from the attach on. The attach's time is printed, not asserted."""
import json
import os
import re
import subprocess
import tempfile
import time

import mwtest

DYNAMIC = os.path.join(mwtest.WORKLOADS, "execstorm")
STATIC = os.path.join(mwtest.WORKLOADS, "execstorm-musl")
PERIOD_MS, LIFE_MS = 300, 5000
IMAGE = re.compile(r"image pid=(\d+) exec=(\d+)")


def storm(wait):
    argv = [DYNAMIC, *(["-w"] if wait else []), STATIC, str(PERIOD_MS), str(LIFE_MS)]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def last_image(stderr):
    """The exec count of the workload's last image, and that image's file."""
    execs = [int(m.group(2)) for m in IMAGE.finditer(stderr)]
    if not execs:
        return None, None
    return execs[-1], DYNAMIC if execs[-1] % 2 == 0 else STATIC


def watch(target, after_ready):
    """memwatch -p on @target to its end: (attach seconds, exit status, summary, stderr)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        begin = time.monotonic()
        mw = subprocess.Popen([mwtest.MEMWATCH, "-p", str(target.pid), "--json", "-o",
                               report.name], stderr=subprocess.PIPE, text=True)
        seen = []
        watching = mwtest.wait_for_line(mw.stderr, r"memwatch: watching pid", seen=seen)
        took = time.monotonic() - begin
        if watching and after_ready:
            after_ready()
        code = mw.wait(timeout=mwtest.TIMEOUT)
        stderr = "".join(seen) + mw.stderr.read()
        lines = report.read().splitlines()
        summary = json.loads(lines[-1]) if lines else None
        return took if watching else None, code, summary, stderr


def check_storm(tap, name, wait):
    target = storm(wait)
    try:
        if wait and not tap.check(mwtest.wait_for_line(target.stderr, r"ready pid="),
                                  "%s: workload ready" % name):
            return
        if not wait:
            # a few execs into the storm
            tap.check(mwtest.wait_for_line(target.stderr, r"exec=3\b"), "%s: storm on" % name)

        def release():
            target.stdin.write("\n")
            target.stdin.flush()

        took, code, summary, stderr = watch(target, release if wait else None)
        print("# %s: attach took %s" % (name, "%.0f ms" % (took * 1000) if took else "-"))
        workload = target.stderr.read()
        target.wait(timeout=mwtest.TIMEOUT)
        if not tap.check(took is not None and code == 0 and summary,
                         "%s: memwatch watched it to its end" % name, stderr):
            return
        execs, image = last_image(workload)
        process, probes = summary["process"], summary["probes"]
        if wait:
            tap.eq(process["execs"], execs, "%s: every exec counted" % name)
            tap.eq(process["lost_events"], 0, "%s: no event lost" % name)
        else:
            tap.check(0 < process["execs"] <= execs, "%s: the execs after the attach counted"
                      % name, "%d of the workload's %d" % (process["execs"], execs))
        fates = {k: probes[k] for k in ("reattached", "kept", "unprobed_images",
                                         "unseen_images")}
        print("# %s: %d execs: %s" % (name, process["execs"], fates))
        tap.eq(sum(fates.values()), process["execs"],
               "%s: every exec's image accounted for: probes moved, kept, none, or unseen"
               % name)
        tap.check(probes["reattached"] > process["execs"] // 2,
                  "%s: the probes moved with most execs" % name, fates)
        want = "libc.so" if image == DYNAMIC else image
        tap.check(want in probes["allocator"] and process["comm"] == os.path.basename(image),
                  "%s: the summary describes the last image" % name,
                  "%s, %s; last image %s" % (probes["allocator"], process["comm"], image))
    finally:
        if target.poll() is None:
            target.kill()
        target.wait()


def check_execs_after_attach(tap):
    check_storm(tap, "execs after the attach", wait=True)


def check_attach_mid_storm(tap):
    check_storm(tap, "attached mid-storm", wait=False)


if __name__ == "__main__":
    mwtest.run_checks("exec storm", check_execs_after_attach, check_attach_mid_storm,
                      needs=[(STATIC, "musl-gcc")])
