#!/usr/bin/env python3
"""The counter registry (bpf/counters.h): a build with one more counter, and no
other change (make DEFINES=-DMW_TEST_COUNTER, in an output directory of its
own), shows it in the JSON, in the text report's thread table, as a column
of the live view and as a metric family of --listen, while every other counter
still counts exactly."""
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request

import mwtest
from test_tui import Pane

OUTPUT = os.path.join(".output", "test-counter")
BIN = os.path.join(mwtest.ROOT, OUTPUT, "memwatch")
N = 1000
# the text and the live view's thread table: who, then the counter columns
HEADER = re.compile(r"^\s+TID\s+COMM\s+STATE\s+ALLOCS\b.*$", re.M)


def build(tap):
    """Builds the test counter's memwatch, BPF object included; whether it did."""
    proc = subprocess.run(["make", "-s", "-j2", "OUTPUT=" + OUTPUT, "BIN=" + BIN,
                           "DEFINES=-DMW_TEST_COUNTER", BIN], cwd=mwtest.ROOT,
                          capture_output=True, text=True, timeout=600)
    return tap.check(proc.returncode == 0 and os.access(BIN, os.X_OK),
                     "make DEFINES=-DMW_TEST_COUNTER builds memwatch in " + OUTPUT,
                     proc.stdout + proc.stderr)


def check_json(tap):
    full, empty = mwtest.channel_pair(tap, "test counter", "paired", N, memwatch=BIN)
    if not full:
        return
    records = full.intervals + [full.summary]
    tap.check(all("test_counter" in r["process"] for r in records),
              "json: the process has test_counter in every record")
    tap.check(all("test_counter" in t for r in records for t in r["threads"]),
              "json: so has every thread", full.summary["threads"])
    tap.eq(full.process.get("test_counter"), 0, "json: nothing counts it: 0")
    tap.eq(full.process["alloc_calls"] - empty.process["alloc_calls"],
           full.workload["total"]["allocs"],
           "json: the other counters still exact (kernel and user agree on the struct)")
    normal = mwtest.memwatch_launch(mwtest.channel("paired", "-n", 0))
    tap.check(normal.summary and "test_counter" not in normal.process,
              "json: the ordinary build has no test_counter", normal.stderr)


def text_report(memwatch):
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
        subprocess.run([memwatch, "--no-tui", "-o", out.name, "--",
                        *mwtest.channel("paired", "-n", N)], capture_output=True,
                       timeout=mwtest.TIMEOUT)
        return out.read()


def check_text(tap):
    text = text_report(BIN)
    headers = HEADER.findall(text)
    tap.check(headers and all(h.split()[-6:-5] == ["TESTCNT"] for h in headers),
              "text: every thread table has the TESTCNT column, after the allocator's",
              text)
    tap.check(not re.search(r"TESTCNT", text_report(mwtest.MEMWATCH)),
              "text: the ordinary build has none")


def check_live_view(tap):
    """The live view on a terminal wide enough for every column."""
    target = subprocess.Popen(mwtest.channel("paired", "-n", N, "-W"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pane = Pane(200, 30, {"LANG": "C.UTF-8"})
    try:
        if not tap.check(mwtest.wait_for_line(target.stderr, r"done pid="),
                         "live view: the workload is waiting"):
            return
        pane.type("%s -i 0.3 -p %d; echo mw-exit=$?" % (BIN, target.pid))
        screen = pane.wait(lambda s: "pid %d (channel)" % target.pid in s and HEADER.search(s))
        header = HEADER.search(screen).group(0).split() if screen else []
        tap.check("TESTCNT" in header, "live view: a TESTCNT column", pane.screen())
        pane.key("q")
        tap.check(pane.wait(lambda s: re.search(r"^mw-exit=0$", s, re.M), scrollback=True),
                  "live view: q ends it", pane.screen())
    finally:
        pane.kill()
        target.stdin.close()
        target.wait(timeout=mwtest.TIMEOUT)


def check_metrics(tap):
    """--listen serves the counter as a family, and per thread, with no code of its own."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mw = subprocess.Popen([BIN, "--listen", "127.0.0.1:%d" % port, "--format=none",
                           "--metrics-threads", "--", *mwtest.channel("paired", "-n", N, "-W")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = ""
    try:
        mwtest.wait_for_line(mw.stderr, r"done pid=", timeout=mwtest.TIMEOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "memwatch_thread_test_counter_total{" not in text:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.2)
    finally:
        mw.communicate(b"\n", timeout=mwtest.TIMEOUT)
    tap.check("# TYPE memwatch_test_counter_total counter\n" in text and
              re.search(r"^memwatch_test_counter_total\{[^}]*\} 0$", text, re.M),
              "metrics: the counter is the family memwatch_test_counter_total", text[:300])
    tap.check(re.search(r"^memwatch_thread_test_counter_total\{[^}]*tid=", text, re.M),
              "metrics: and per thread with --metrics-threads")


def check_registry(tap):
    if not build(tap):
        return
    check_json(tap)
    check_text(tap)
    check_live_view(tap)
    check_metrics(tap)


if __name__ == "__main__":
    mwtest.run_checks("counter registry", check_registry)
