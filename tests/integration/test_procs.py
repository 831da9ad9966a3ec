#!/usr/bin/env python3
"""-p A,B: two channel workloads watched at once by one memwatch, each counted
exactly as test_attach checks one (a run of N items against a run of 0), the
first one also the top-level process, the total their sum; the watch ends
when both have exited. --listen serves a series per process; the live view
shows each process's row with its threads under it and a total line. A PID
of the list that does not exist: exit 3, named."""
import re
import socket
import subprocess
import tempfile
import time
import urllib.request

import mwtest
import test_tui

# (mode, items) of the two workloads: different counts, so that a mix-up shows
WORKLOADS = [("batch", 3000), ("paired", 1000)]
COUNTERS = (("alloc_calls", "allocs"), ("free_calls", "frees"), ("alloc_bytes", "alloc_bytes"),
            ("free_bytes", "free_bytes"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_until(port, want, timeout=30):
    """/metrics once @want(text) holds, or the last text at the deadline."""
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                text = r.read().decode()
        except OSError:
            text = ""
        if text and want(text):
            break
        time.sleep(0.2)
    return text


def alloc_calls(text, pid):
    m = re.search(r'^memwatch_alloc_calls_total\{pid="%d",[^}]*\} (\d+)$' % pid, text, re.M)
    return int(m.group(1)) if m else None


def watch_two(sizes, options=(), during=None):
    """Two workloads (-w) of WORKLOADS' modes with @sizes items, memwatch -p A,B on both;
    released once memwatch watches both, @during(pids, outputs) called once both did their
    work (-W) before they exit. (Run, [workload stdout, ...], [pid, ...]) or None."""
    wait_end = ("-W",) if during else ()
    targets = [subprocess.Popen(mwtest.channel(mode, "-n", n, "-w", *wait_end),
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for (mode, _), n in zip(WORKLOADS, sizes)]
    report = tempfile.NamedTemporaryFile("r", suffix=".json")
    memwatch = None
    try:
        if not all(mwtest.wait_for_line(t.stderr, r"ready pid=(\d+)") for t in targets):
            return None
        pids = [t.pid for t in targets]
        memwatch = subprocess.Popen([mwtest.MEMWATCH, "-o", report.name, "-i", "0.2",
                                     *(options or ["--json"]), "-p", "%d,%d" % tuple(pids)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        said = []
        if not mwtest.wait_for_all(memwatch.stderr, [r"watching pid %d " % p for p in pids],
                                   seen=said):
            return None
        outputs = []
        for t in targets:
            t.stdin.write(b"\n")
            t.stdin.flush()
        if during:
            if not all(mwtest.wait_for_line(t.stderr, r"done pid=(\d+)") for t in targets):
                return None
            during(pids)
            for t in targets:
                t.stdin.write(b"\n")
        for t in targets:
            t.stdin.close()
        for t in targets:
            outputs.append(t.stdout.read().decode())
            t.wait(timeout=mwtest.TIMEOUT)
        memwatch.wait(timeout=mwtest.TIMEOUT)
        err = "".join(said) + memwatch.stderr.read().decode()
        return mwtest.Run(memwatch.returncode, "", err, report.read()), outputs, pids
    finally:
        for proc in [*targets, memwatch]:
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
        report.close()


def check_two(tap):
    full = watch_two([n for _, n in WORKLOADS])
    empty = watch_two([0, 0])
    if not tap.check(full and empty and full[0].summary and empty[0].summary,
                     "-p A,B: both watched, a summary", full and full[0].stderr[-2000:]):
        return
    run, outputs, pids = full
    tap.eq(run.code, 0, "-p A,B: exits 0 once both exited")
    procs, zeros = run.summary["processes"], empty[0].summary["processes"]
    tap.eq([p["pid"] for p in procs], pids, "-p A,B: processes in the order given")
    tap.eq(run.summary["process"]["pid"], pids[0], "-p A,B: the top-level process is the first")
    tap.eq(run.summary["process"]["alloc_calls"], procs[0]["alloc_calls"],
           "-p A,B: the top-level process's counts are the first's")
    for i, (mode, n) in enumerate(WORKLOADS):
        did = mwtest.parse_workload(outputs[i])["total"]
        if not tap.check(did, "%s: the workload's account" % mode):
            continue
        for counter, field in COUNTERS:
            tap.eq(procs[i][counter] - zeros[i][counter], did[field],
                   "-p A,B: %s's %s difference equals the workload's %s" % (mode, counter, field))
        tap.eq(procs[i]["lost_events"], 0, "-p A,B: %s: no lost events" % mode)
        tap.eq(procs[i]["untracked_allocs"], 0, "-p A,B: %s: nothing untracked" % mode)
        tap.eq(procs[i]["free_unknown_calls"] - zeros[i]["free_unknown_calls"], 0,
               "-p A,B: %s: every free of a known block" % mode)
        tap.check(procs[i]["threads"] and procs[i]["threads"][0]["tid"] == pids[i],
                  "-p A,B: %s: its threads under it" % mode)
    total = run.summary["total"]
    tap.eq(total["processes"], 2, "-p A,B: the total counts two processes")
    for counter, _ in COUNTERS:
        tap.eq(total[counter], sum(p[counter] for p in procs),
               "-p A,B: the total's %s is the sum" % counter)
    tap.check(all(r["processes"][0]["pid"] == pids[0] and len(r["processes"]) == 2
                  for r in run.intervals), "-p A,B: each interval has both processes")


def check_metrics(tap):
    port, got = free_port(), {}

    def scrape(pids):
        got["text"] = scrape_until(port, lambda t: all(alloc_calls(t, p) for p in pids))

    full = watch_two([n for _, n in WORKLOADS], ["--listen", str(port), "--format=json"], scrape)
    if not tap.check(full and got.get("text"), "--listen -p A,B: scraped",
                     full and full[0].stderr[-2000:]):
        return
    run, _, pids = full
    text = got["text"]
    tap.check(all(alloc_calls(text, p) for p in pids),
              "--listen -p A,B: a memwatch_alloc_calls_total series per process",
              [alloc_calls(text, p) for p in pids])
    tap.eq(len(re.findall(r"^memwatch_lost_events_total\{", text, re.M)), 1,
           "--listen -p A,B: memwatch's lost events once")
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    tap.check(check.returncode == 0, "--listen -p A,B: promtool check metrics", check.stderr)


def check_tui(tap):
    targets = [subprocess.Popen(mwtest.channel(mode, "-n", n, "-w", "-W"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for mode, n in WORKLOADS]
    pane = test_tui.Pane(120, 30, {"TERM": "xterm-256color", "LANG": "C.UTF-8"})
    try:
        if not all(mwtest.wait_for_line(t.stderr, r"ready pid=(\d+)") for t in targets):
            tap.check(False, "live view -p A,B: workloads ready")
            return
        pids = [t.pid for t in targets]
        pane.type("%s -i 0.2 -p %d,%d" % (mwtest.MEMWATCH, *pids))
        if not tap.check(pane.wait(lambda s: "TID COMM" in s), "live view -p A,B: drawn",
                         pane.screen()):
            return
        for t in targets:
            t.stdin.write(b"\n")
            t.stdin.flush()
        for t in targets:
            mwtest.wait_for_line(t.stderr, r"done pid=(\d+)", timeout=mwtest.TIMEOUT)

        def counted(screen):
            tids = [r[0] for r in test_tui.rows(screen)]
            return tids.count(pids[0]) == 2 and tids.count(pids[1]) == 2 and \
                re.search(r"^\s*=\s+total\b", screen, re.M)
        screen = pane.wait(counted)
        tap.check(screen, "live view -p A,B: each process's row and its thread's, a total line",
                  pane.screen())
        if screen:
            tap.check(re.search(r"pid %d \(channel\) and 1 more process " % pids[0], screen),
                      "live view -p A,B: the header says the meters are of both", screen)
            tids = [r[0] for r in test_tui.rows(screen)]
            tap.eq(tids, [pids[0], pids[0], pids[1], pids[1]],
                   "live view -p A,B: the processes in the order given, each thread under its "
                   "process")
        check_tree_keys(tap, pane, pids)
        pane.key("q")
        tap.check(pane.wait(lambda s: "=== memwatch summary: pid %d" % pids[1] in s,
                            scrollback=True, joined=True),
                  "live view -p A,B: q prints both summaries", pane.screen(scrollback=True))
    finally:
        pane.kill()
        for t in targets:
            t.kill()
            t.wait()


def check_tree_keys(tap, pane, pids):
    """c collapses the processes to their rows, t lists every thread in one list."""
    screen = pane.screen()
    tree = [r[0] for r in test_tui.rows(screen)]
    threads = len(tree) - len(pids)
    pane.key("c")
    tap.check(pane.wait(lambda s: [r[0] for r in test_tui.rows(s)] == pids
                        and re.search(r"^\s*=\s+total\b", s, re.M)),
              "live view: c leaves a row per process and the total", pane.screen())
    pane.key("c")
    tap.check(pane.wait(lambda s: [r[0] for r in test_tui.rows(s)] == tree),
              "live view: c again: the threads under their processes", pane.screen())
    pane.key("t")
    flat = pane.wait(lambda s: len(test_tui.rows(s)) == threads
                     and not re.search(r"^\s*\d+\s+  \S", s, re.M))
    tap.check(flat, "live view: t lists the %d threads in one list, none under a process"
              % threads, pane.screen())
    pane.key("t")
    tap.check(pane.wait(lambda s: [r[0] for r in test_tui.rows(s)] == tree),
              "live view: t again: the tree as it was", pane.screen())


def check_missing(tap):
    target = subprocess.Popen(mwtest.channel("batch", "-n", 0, "-w"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        mwtest.wait_for_line(target.stderr, r"ready pid=(\d+)")
        # a PID above the largest pid_max: never a process
        out = subprocess.run([mwtest.MEMWATCH, "--json", "-p", "%d,4194305" % target.pid],
                             capture_output=True, text=True, timeout=mwtest.TIMEOUT)
    finally:
        target.kill()
        target.wait()
    tap.eq(out.returncode, 3, "-p A,MISSING: exit 3")
    lines = out.stderr.splitlines()
    tap.check(len(lines) == 1 and "4194305" in lines[0], "-p A,MISSING: one line naming it",
              out.stderr)
    out = subprocess.run([mwtest.MEMWATCH, "-p", "1,1"], capture_output=True, text=True,
                         timeout=mwtest.TIMEOUT)
    tap.eq(out.returncode, 2, "-p 1,1: a PID given twice is a usage error")


if __name__ == "__main__":
    mwtest.run_checks("several processes", check_two, check_metrics, check_tui, check_missing)
