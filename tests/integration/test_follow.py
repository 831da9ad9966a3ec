#!/usr/bin/env python3
"""-f: the children a watched process forks are watched too (tests/workloads/prefork.c).

Gated workers (-g: each reads a byte of stdin before its pairs, written once memwatch
says its uprobes are placed) are counted exactly: a run with N pairs against a run with
0, per worker k its k*N pairs, the parent's N, and the worker that execs another image
(prefork itself, gated again once memwatch looked at the new image) its M. Workers that
allocate at once after the fork carry the mark of when their counting began. A command
that exits before its child: the watch goes on until the child exits, and ends with the
command's status. A burst of 256 forks: every child in the report, the interval reports
going on. A posix_spawn() (vfork) child counts its resident memory from its exec. Issue 16's scale: 256 gated workers of 16 threads each, every worker's pairs
counted exactly, no lost event, memwatch's RSS and kernel memory bounded. A watch of 1,281
processes over its life (1,023 kernel slots, reused once a process is reaped): every one
watched, their syscalls exact, the exited beyond 32 folded into one."""
import json
import re
import subprocess
import sys
import tempfile
import time

import mwtest

N = 20000
M = 50000
WORKERS = 4
# issue 16's scale: 256 processes of 16 threads each
SCALE_WORKERS = 256
SCALE_THREADS = 16
PREFORK = mwtest.WORKLOADS + "/prefork"
COUNTERS = [("alloc_calls", "pairs"), ("known_frees", "pairs")]


def workload_lines(text):
    """prefork's lines: the parent's and the exec'd image's {pid: pairs}, the workers' by k."""
    parents, workers, execs = {}, {}, {}
    for m in re.finditer(r"^parent pid=(\d+) pairs=(\d+)", text, re.M):
        parents[int(m.group(1))] = int(m.group(2))
    for m in re.finditer(r"^worker k=(\d+) pid=(\d+) pairs=(\d+)", text, re.M):
        workers[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    for m in re.finditer(r"^worker k=(\d+) pid=(\d+) exec=", text, re.M):
        execs[int(m.group(1))] = int(m.group(2))
    return parents, workers, execs


def gated_run(n):
    """memwatch -f on prefork -g with @n: (exit code, stderr text, summary) or a failure string."""
    report = tempfile.NamedTemporaryFile("r", suffix=".json")
    cmd = [PREFORK, "-g", "-w", WORKERS, "-n", n, "-d", 0,
           "-e", PREFORK, "-g", "-w", 0, "-n", M * (n > 0)]
    proc = subprocess.Popen([mwtest.MEMWATCH, "--json", "-o", report.name, "-v", "-f", "-i", "0.2",
                             "--", *[str(a) for a in cmd]],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen = []
    try:
        # each worker's uprobes in place, then one byte each
        placed = r"pid (\d+) \(prefork\): malloc probed in"
        while len(set(re.findall(placed, "".join(seen)))) < WORKERS:
            if not mwtest.wait_for_line(proc.stderr, placed, seen=seen):
                return "memwatch did not place the workers' uprobes: " + "".join(seen)[-1500:]
        proc.stdin.write(b"x" * WORKERS)
        proc.stdin.flush()
        # the last worker execs: released again once memwatch looked at its new image
        text = "".join(seen)
        m = re.search(r"worker k=%d pid=(\d+) exec=" % WORKERS, text) or \
            mwtest.wait_for_line(proc.stderr, r"worker k=%d pid=(\d+) exec=" % WORKERS, seen=seen)
        if not m:
            return "the last worker did not exec: " + "".join(seen)[-1500:]
        pid = m.group(1)
        if not (re.search(r"pid %s exec'd" % pid, "".join(seen)) or
                mwtest.wait_for_line(proc.stderr, r"pid %s exec'd" % pid, seen=seen)):
            return "memwatch did not look at the new image: " + "".join(seen)[-1500:]
        proc.stdin.write(b"x")
        proc.stdin.close()
        rest = proc.stderr.read().decode(errors="replace")
        code = proc.wait(timeout=mwtest.TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(seen) + rest
    _, summary, _ = mwtest.parse_reports(report.read())
    return code, text, summary


def by_pid(summary):
    return {p["pid"]: p for p in summary["processes"]}


def check_gated(tap):
    full, empty = gated_run(N), gated_run(0)
    for run, name in ((full, "-n %d" % N), (empty, "-n 0")):
        if not tap.check(isinstance(run, tuple) and run[0] == 0 and run[2] is not None,
                         "gated, %s: memwatch -f and prefork exit 0" % name,
                         run if isinstance(run, str) else run[1][-1500:]):
            return
    runs = []
    for code, text, summary in (full, empty):
        parents, workers, execs = workload_lines(text)
        procs = by_pid(summary)
        top = summary["process"]
        # k -> the process object of worker k; the exec'd one under WORKERS
        kids = {k: procs.get(pid) for k, (pid, _) in workers.items()}
        kids[WORKERS] = procs.get(execs.get(WORKERS))
        runs.append((top, kids, procs, parents, summary))
    (top_f, kids_f, procs_f, parents_f, sum_f), (top_e, kids_e, _, _, _) = runs
    tap.eq(len(procs_f), WORKERS + 1, "gated: the parent and its %d workers watched" % WORKERS)
    tap.eq(top_f["pid"], min(procs_f), "gated: the launched command is the top-level process")
    tap.eq(mwtest.counter(top_f, "alloc_calls") - mwtest.counter(top_e, "alloc_calls"), N,
           "gated: the parent's %d pairs, exactly" % N)
    tap.eq(top_f["forks_not_followed"], 0, "gated: every fork followed")
    for k in range(1, WORKERS + 1):
        want = M if k == WORKERS else k * N
        what = "the exec'd image" if k == WORKERS else "worker %d" % k
        if not tap.check(kids_f.get(k) is not None and kids_e.get(k) is not None,
                         "gated: %s is a process of the report" % what, sorted(procs_f)):
            continue
        for counter, _ in COUNTERS:
            tap.eq(mwtest.counter(kids_f[k], counter) - mwtest.counter(kids_e[k], counter), want,
                   "gated: %s: %s is its %d pairs, exactly" % (what, counter, want))
        kid = kids_f[k]
        tap.eq(kid["parent_pid"], top_f["pid"], "gated: %s: parent_pid" % what)
        tap.check(kid["forked_at_s"] is not None and kid["alloc_counted_since_s"] is not None
                  and kid["alloc_counted_since_s"] >= kid["forked_at_s"] >= 0,
                  "gated: %s: counted from after its fork" % what,
                  (kid["forked_at_s"], kid["alloc_counted_since_s"]))
        tap.eq(kid["exited"], True, "gated: %s: exited" % what)
        tap.eq(kid["retained_includes_preexisting"], True,
               "gated: %s: its retained includes its parent's blocks" % what)
    tap.eq(kids_f[WORKERS]["execs"] if kids_f.get(WORKERS) else None, 1,
           "gated: the exec'd worker's exec counted")
    for pid, p in sorted(procs_f.items()):
        tap.eq((p["lost_events"], p["untracked_allocs"]), (0, 0),
               "gated: pid %d: no lost event, nothing untracked" % pid)


def check_at_once(tap):
    """Workers that allocate at once: counted from their mark, the rest missed, not hidden."""
    run = mwtest.memwatch_launch([PREFORK, "-w", WORKERS, "-n", N, "-d", 0],
                                 options=["-f", "-i", "0.2"])
    if not tap.check(run.code == 0 and run.summary is not None,
                     "at once: memwatch -f and prefork exit 0", run.stderr[-1500:]):
        return
    _, workers, _ = workload_lines(run.stderr)
    procs = by_pid(run.summary)
    tap.eq(len(procs), WORKERS + 1, "at once: the parent and its %d workers watched" % WORKERS)
    for k, (pid, pairs) in sorted(workers.items()):
        kid = procs.get(pid)
        if not tap.check(kid is not None, "at once: worker %d watched" % k, sorted(procs)):
            continue
        tap.check(0 <= mwtest.counter(kid, "alloc_calls") <= pairs + 64,
                  "at once: worker %d: at most its pairs counted" % k,
                  mwtest.counter(kid, "alloc_calls"))
        tap.check(kid["alloc_counted_since_s"] is not None
                  and kid["alloc_counted_since_s"] >= kid["forked_at_s"],
                  "at once: worker %d: the mark of when its counting began" % k,
                  (kid["forked_at_s"], kid["alloc_counted_since_s"]))
    text = subprocess.run([mwtest.MEMWATCH, "--format=text", "-f", "--",
                           PREFORK, "-w", "1", "-n", "10", "-d", "0"],
                          capture_output=True, text=True, timeout=mwtest.TIMEOUT)
    tap.check(re.search(r"\[forked by \d+ at [\d.]+s, malloc (counted from [\d.]+s|not counted)\]",
                        text.stdout) is not None,
              "at once: the text report marks the child", text.stdout[-1500:])


def check_outlived(tap):
    """The command exits first: the watch ends when its child does, with the command's status."""
    report = tempfile.NamedTemporaryFile("r", suffix=".json")
    proc = subprocess.Popen([mwtest.MEMWATCH, "--json", "-o", report.name, "-f", "-i", "0.1", "--",
                             "sh", "-c", "exec 3<&0; (read x <&3; exit 0) & exit 7"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        said = mwtest.wait_for_line(proc.stderr, r"watching pid (\d+)")
        sh = said.group(1) if said else "0"
        exited = mwtest.wait_in_file(report.name, r'"pid":%s,"comm":"sh","exited":true' % sh)
        tap.check(exited and proc.poll() is None,
                  "outlived: memwatch goes on after the command exited", proc.poll())
        proc.stdin.write(b"\n")
        proc.stdin.close()
        code = proc.wait(timeout=mwtest.TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    tap.eq(code, 7, "outlived: memwatch exits with the command's status once its child exited")
    _, summary, _ = mwtest.parse_reports(report.read())
    procs = summary["processes"] if summary else []
    tap.check(len(procs) == 2 and all(p["exited"] for p in procs),
              "outlived: the command and its child, both exited", json.dumps(procs)[:800])


def scale_run(n):
    """memwatch -f on SCALE_WORKERS gated workers of SCALE_THREADS threads, each thread of
    worker k making k*@n pairs: (summary, memwatch's VmHWM in KiB, {worker pid: k}) or a
    failure string."""
    report = tempfile.NamedTemporaryFile("r", suffix=".json")
    said = tempfile.NamedTemporaryFile("r", suffix=".err")
    proc = subprocess.Popen([mwtest.MEMWATCH, "--json", "-o", report.name, "-v", "-f", "-i", "0.5",
                             "--", PREFORK, "-g", "-w", str(SCALE_WORKERS), "-t",
                             str(SCALE_THREADS), "-n", str(n), "-d", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=open(said.name, "w"))
    hwm = 0
    try:
        placed = r"pid (\d+) \(prefork\): malloc probed in"
        deadline = time.monotonic() + mwtest.TIMEOUT
        while len(set(re.findall(placed, mwtest.read_file(said.name)))) < SCALE_WORKERS:
            if time.monotonic() > deadline or proc.poll() is not None:
                return "not every worker's uprobes placed: " + mwtest.read_file(said.name)[-800:]
            time.sleep(0.1)
        proc.stdin.write(b"x" * SCALE_WORKERS)
        proc.stdin.close()
        while proc.poll() is None and time.monotonic() < deadline + mwtest.TIMEOUT:
            status = mwtest.read_file("/proc/%d/status" % proc.pid)
            m = re.search(r"VmHWM:\s+(\d+)", status)
            hwm = max(hwm, int(m.group(1)) if m else 0)
            time.sleep(0.2)
        proc.wait(timeout=mwtest.TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode:
        return "memwatch exited %d: %s" % (proc.returncode, mwtest.read_file(said.name)[-800:])
    _, summary, _ = mwtest.parse_reports(report.read())
    _, workers, _ = workload_lines(mwtest.read_file(said.name))
    return summary, hwm, {pid: k for k, (pid, _) in workers.items()}


def check_scale(tap):
    """256 processes of 16 threads each at once: every one counted exactly, memory bounded."""
    full, empty = scale_run(1), scale_run(0)
    for run, name in ((full, "-n 1"), (empty, "-n 0")):
        if not tap.check(isinstance(run, tuple) and run[0] is not None,
                         "scale, %s: memwatch -f ran" % name, run):
            return
    (summary, hwm, ks), (summary0, _, _) = full, empty
    total, total0 = summary["total"], summary0["total"]
    tap.eq(total["processes"], SCALE_WORKERS + 1, "scale: %d processes watched"
           % (SCALE_WORKERS + 1))
    tap.eq(total["threads"], SCALE_WORKERS * SCALE_THREADS + 1,
           "scale: every thread of every process counted (folded ones too)")
    # beyond 32 exited, workers fold into one: the sum is exact, and so is each one kept
    tap.eq(total["alloc_calls"] - total0["alloc_calls"],
           1 + SCALE_THREADS * SCALE_WORKERS * (SCALE_WORKERS + 1) // 2,
           "scale: the pairs exactly, in all (the parent's 1, 16 threads x k for worker k)")
    kept = [p for p in summary0["processes"][1:] if p["pid"]]
    base = {mwtest.counter(p, "alloc_calls") for p in kept}
    got = {p["pid"]: mwtest.counter(p, "alloc_calls") - min(base or {0})
           for p in summary["processes"][1:] if p["pid"] in ks}
    tap.check(len(base) == 1 and got and all(got[pid] == SCALE_THREADS * ks[pid] for pid in got),
              "scale: each worker kept apart has its pairs exactly", (base, got, ks))
    tap.eq(summary["process"]["lost_events"], 0, "scale: no lost event")
    tap.check(hwm < 64 * 1024, "scale: memwatch's peak RSS under 64 MiB", hwm)
    tap.check(summary["process"]["kernel_memory_peak_bytes"] < 64 << 20,
              "scale: its kernel memory under 64 MiB", summary["process"]["kernel_memory_peak_bytes"])
    print("# scale: memwatch VmHWM %d KiB, kernel memory at most %d MiB"
          % (hwm, summary["process"]["kernel_memory_peak_bytes"] >> 20))


REUSE_ROUNDS, REUSE_WORKERS = 80, 16


def check_reuse(tap):
    """A watch outlives its 1,023 slots: 80 rounds of 16 workers (1,281 processes, at most 17
    at once), each worker k making k mmap+munmap pairs: every process watched, their syscalls
    exact (against the same run without the pairs), the exited ones folded, memory bounded."""
    def run(maps):
        hwm = [0]

        def sample(pid):
            m = re.search(r"VmHWM:\s+(\d+)", mwtest.read_file("/proc/%d/status" % pid))
            hwm[0] = max(hwm[0], int(m.group(1)) if m else 0)
        cmd = [PREFORK, "-r", str(REUSE_ROUNDS), "-w", str(REUSE_WORKERS), "-n", "0", "-d", "0"]
        return mwtest.memwatch_launch_sampled(cmd + ["-m"] * maps, sample, options=["-f", "-i", "0.2"],
                                              period=0.2), hwm[0]
    (full, hwm), (empty, _) = run(True), run(False)
    if not tap.check(full.code == 0 and empty.code == 0 and full.summary and empty.summary,
                     "reuse: memwatch -f ran", (full.stderr + empty.stderr)[-800:]):
        return
    total, total0 = full.summary["total"], empty.summary["total"]
    everyone = 1 + REUSE_ROUNDS * REUSE_WORKERS
    tap.eq((total["processes"], total["processes_not_watched"]), (everyone, 0),
           "reuse: all %d processes watched, none left out" % everyone)
    pairs = REUSE_ROUNDS * REUSE_WORKERS * (REUSE_WORKERS + 1) // 2
    for call in ("mmap", "munmap"):
        tap.eq(total["syscalls"][call] - total0["syscalls"][call], pairs,
               "reuse: the workers' %s calls exactly" % call)
    tap.eq([total[k] for k in ("lost_events", "untracked_allocs", "free_unknown_calls")],
           [0, 0, 0], "reuse: nothing lost, untracked or unknown")
    folded = [p for p in full.summary["processes"] if not p["pid"]]
    # kept apart: the first, 32 retired, and the exited not reaped yet at the last reading
    tap.check(len(folded) == 1 and len(full.summary["processes"]) <= 2 + 32 + 4 * REUSE_WORKERS
              and folded[0]["folded_processes"] + len(full.summary["processes"]) - 1 == everyone,
              "reuse: the exited beyond 32 folded into one process",
              [(p["pid"], p["folded_processes"]) for p in full.summary["processes"]][-3:])
    tap.check(hwm < 64 * 1024, "reuse: memwatch's peak RSS under 64 MiB", hwm)
    print("# reuse: %d processes, %d folded, memwatch VmHWM %d KiB"
          % (total["processes"], folded[0]["folded_processes"] if folded else 0, hwm))


def check_vfork(tap):
    """posix_spawn() (glibc's vfork: the child in its parent's mm until it execs) counts its
    resident memory from its own mm on, and its RSS tally agrees with /proc."""
    spawn = ("import os; pid = os.posix_spawn(%r, [%r, '-w', '0', '-n', '10'], os.environ); "
             "os.waitpid(pid, 0)" % (PREFORK, PREFORK))
    run = mwtest.memwatch_launch([sys.executable, "-c", spawn], options=["-f", "-i", "0.2"])
    if not tap.check(run.code == 0 and run.summary is not None, "vfork: memwatch -f ran",
                     run.stderr[-800:]):
        return
    kids = [p for p in run.summary["processes"] if p["forked_at_s"] is not None]
    if not tap.eq(len(kids), 1, "vfork: the spawned child is watched"):
        return
    kid = kids[0]
    tap.check(kid["rss_tally_ok"] and kid["resident_gained_bytes"] > 0 and kid["execs"] == 1,
              "vfork: its resident memory counted from its exec, the tally agreeing",
              {k: kid[k] for k in ("rss_tally_anon_bytes", "rss_anon_bytes",
                                    "resident_gained_bytes", "execs")})


def check_fork_storm(tap):
    """256 children forked in a burst (well over 1,000/s), each gone a second later: every one
    is in the report, and the interval reports go on meanwhile."""
    run = mwtest.memwatch_launch([PREFORK, "-w", SCALE_WORKERS, "-n", 0, "-d", 1000],
                                 options=["-f", "-i", "0.1"])
    if not tap.check(run.code == 0 and run.summary is not None, "fork storm: memwatch -f ran",
                     run.stderr[-800:]):
        return
    tap.eq(run.summary["total"]["processes"], SCALE_WORKERS + 1,
           "fork storm: the parent and its %d children in the report" % SCALE_WORKERS)
    times = [r["elapsed_s"] for r in run.intervals]
    gaps = [b - a for a, b in zip(times, times[1:])]
    tap.check(len(times) >= 8 and max(gaps) < 1.0,
              "fork storm: an interval report at least every second (-i 0.1)",
              "worst gaps %s" % sorted(gaps)[-3:])
    print("# fork storm: %d reports, worst gap %.3f s" % (len(times), max(gaps or [0])))


if __name__ == "__main__":
    mwtest.run_checks("follow", check_gated, check_at_once, check_outlived, check_vfork,
                      check_fork_storm, check_scale, check_reuse)
