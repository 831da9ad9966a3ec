#!/usr/bin/env python3
"""Never harm the target, never leave a probe behind: the target's output and
exit status are the same with and without memwatch, including when memwatch is
killed, and every BPF program memwatch held is gone after it exits, by any path."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import mwtest

N = 200000


def target_output(stdout):
    """The workload's output without its thread IDs, which differ run to run, in
    sorted order: threads are reported in the order they finished (xthread's
    producer and consumer race)."""
    return "\n".join(sorted(" ".join(w for w in line.split() if not w.startswith("tid="))
                            for line in stdout.splitlines()))


def check_launch_unharmed(tap):
    for mode, args in (("batch", ["-n", N]), ("xthread", ["-n", N]),
                       ("threads", ["-n", N // 4, "--exit-code", 3])):
        cmd = mwtest.channel(mode, *args)
        plain = subprocess.run(cmd, capture_output=True, text=True, timeout=mwtest.TIMEOUT)
        with tempfile.NamedTemporaryFile("r") as report:
            watched = subprocess.run([mwtest.MEMWATCH, "-o", report.name, "--", *cmd],
                                     capture_output=True, text=True, timeout=mwtest.TIMEOUT)
        tap.eq(watched.returncode, plain.returncode, "launch %s: same exit status" % mode)
        tap.eq(target_output(watched.stdout), target_output(plain.stdout),
               "launch %s: same output" % mode)


def attach(n, *extra):
    return mwtest.Attached(mwtest.channel("batch", "-n", n, "-w", *extra), ["-i", "0.1"])


def first_report(att, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        att.report.seek(0)
        if att.report.read().strip():
            return True
        time.sleep(0.05)
    return False


def check_sigkill(tap):
    """memwatch killed mid-run: the target runs on, unharmed, and no probe stays."""
    plain = subprocess.run(mwtest.channel("batch", "-n", N, "--exit-code", 5),
                           capture_output=True, text=True, timeout=mwtest.TIMEOUT)
    att = attach(N, "--exit-code", 5, "-i", 20)
    try:
        if not tap.check(att.ready and att.watching, "SIGKILL: attached"):
            return
        ids = mwtest.held_programs(att.memwatch.pid)
        tap.check(any(k == "prog_id" for k, _ in ids), "SIGKILL: memwatch holds BPF programs")
        att.start_work()
        tap.check(first_report(att), "SIGKILL: memwatch reported while the target worked")
        att.memwatch.send_signal(signal.SIGKILL)
        att.memwatch.wait()
        tap.eq(mwtest.wait_gone(ids), set(), "SIGKILL: every program and link is gone")
        att.target.stdin.close()
        out = att.target.stdout.read().decode()
        tap.eq(att.target.wait(timeout=mwtest.TIMEOUT), 5, "SIGKILL: the target's exit status")
        tap.eq(target_output(out), target_output(plain.stdout), "SIGKILL: the target's output")
    finally:
        att.kill()


def check_exit_paths(tap):
    """SIGINT, SIGTERM and the target's exit: a summary, status 0, no probe left."""
    for how in ("SIGINT", "SIGTERM", "target exit"):
        att = attach(N, "-W")
        try:
            if not tap.check(att.ready and att.watching, "%s: attached" % how):
                continue
            ids = mwtest.held_programs(att.memwatch.pid)
            att.start_work()
            att.wait_done()
            if how == "target exit":
                att.target.stdin.close()
            else:
                att.memwatch.send_signal(getattr(signal, how))
            code = att.memwatch.wait(timeout=mwtest.TIMEOUT)
            tap.eq(code, 0, "%s: memwatch exits 0" % how)
            att.report.seek(0)
            records = [json.loads(l) for l in att.report.read().splitlines() if l.strip()]
            tap.check(records and records[-1]["type"] == "summary", "%s: summary printed" % how)
            tap.eq(mwtest.wait_gone(ids), set(), "%s: every program and link is gone" % how)
            if how != "target exit":
                tap.check(att.target.poll() is None, "%s: the target still runs" % how)
        finally:
            att.kill()


def memwatch(*args, **kw):
    return subprocess.run([mwtest.MEMWATCH, *args], capture_output=True, text=True,
                          timeout=mwtest.TIMEOUT, **kw)


def one_line_error(tap, name, run, code, words):
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    tap.eq(run.returncode, code, "%s: exit code %d" % (name, code))
    tap.check(len(lines) == 1 and all(w in lines[0] for w in words),
              "%s: one line saying %s" % (name, " / ".join(words)), run.stderr)


def check_bad_targets(tap):
    # a zombie: its parent never waits for it
    parent = subprocess.Popen(["python3", "-c", "import os, sys\n"
                               "pid = os.fork()\n"
                               "if pid == 0:\n    os._exit(0)\n"
                               # a zombie once it has exited, which WNOWAIT leaves unreaped
                               "os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)\n"
                               "print(pid, flush=True)\nsys.stdin.read()\n"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        zombie = int(parent.stdout.readline())
        one_line_error(tap, "zombie", memwatch("-p", str(zombie)), 3, ["zombie"])
    finally:
        parent.stdin.close()
        parent.wait()
    one_line_error(tap, "itself", subprocess.run(
        ["sh", "-c", 'exec "$0" -p $$', mwtest.MEMWATCH], capture_output=True, text=True,
        timeout=mwtest.TIMEOUT), 2, ["memwatch itself"])
    nobody = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             mwtest.MEMWATCH, "-p", str(os.getpid())],
                            capture_output=True, text=True, timeout=mwtest.TIMEOUT)
    one_line_error(tap, "not root", nobody, 4, ["needs root", "CAP_BPF", "sudo"])


def check_no_malloc_to_probe(tap):
    """A static, stripped binary: said so, syscalls still traced, the target unharmed."""
    static = mwtest.CHANNEL + "-static"
    plain = subprocess.run([static, "batch", "-n", "10000"], capture_output=True, text=True)
    run = mwtest.memwatch_launch([static, "batch", "-n", "10000"])
    tap.eq(run.code, plain.returncode, "static: the target's exit status")
    tap.check("no malloc to probe" in run.stderr, "static: says there is no malloc to probe",
              run.stderr)
    tap.check(run.summary and not run.summary["probes"]["malloc"],
              "static: summary says malloc was not probed")
    tap.check(run.summary and run.process["brk_grow_bytes"] > 0,
              "static: the heap's growth is still seen")


CHURN = """
import threading
def work():
    blocks = [bytearray(100) for _ in range(100)]
for _ in range(9000):
    t = threading.Thread(target=work)
    t.start()
    t.join()
"""


def check_thread_churn(tap):
    """9,000 threads come and go: rows stay bounded, counters are kept in one row.

    More threads than the kernel's table has slots (MW_MAX_THREADS, 8192): each
    is counted only if the slots of folded threads are given to new ones.
    """
    run = mwtest.memwatch_launch([sys.executable, "-c", CHURN], ["-i", "0.1"])
    if not tap.check(run.code == 0 and run.summary, "churn: memwatch ran", run.stderr):
        return
    p = run.process
    tap.check(len(run.summary["threads"]) <= 32 + 2, "churn: rows stay bounded",
              len(run.summary["threads"]))
    tap.ge(p["folded_threads"], 9000 - 32, "churn: exited threads folded into one row")
    folded = [t for t in run.summary["threads"] if t["tid"] == 0]
    tap.check(folded and folded[0]["comm"].startswith("exited("), "churn: the folded row is named")
    tap.eq(sum(t["alloc_calls"] for t in run.summary["threads"]), p["alloc_calls"],
           "churn: no allocation lost in folding")
    tap.eq(p["lost_events"], 0, "churn: no lost events")


def check_many_threads(tap):
    """64 threads allocating at once: exact counts, nothing lost, rows folded."""
    n = 20000
    full, empty = mwtest.channel_pair(tap, "64 threads", "threads", n, "-T", 64)
    if not full:
        return
    did = full.workload["total"]
    known = lambda p: p["free_calls"] - p["free_unknown_calls"]
    tap.eq(full.process["alloc_calls"] - empty.process["alloc_calls"], did["allocs"],
           "64 threads: allocations exact")
    tap.eq(known(full.process) - known(empty.process), did["frees"], "64 threads: frees exact")
    tap.eq(full.process["lost_events"], 0, "64 threads: no lost events")
    tap.eq(full.process["untracked_allocs"], 0, "64 threads: nothing untracked")
    tap.ge(full.process["folded_threads"], 64 - 32, "64 threads: exited rows folded")


def check_fork_exec(tap):
    """Children are not followed and execs are counted, both said in the summary."""
    run = mwtest.memwatch_launch(["sh", "-c", "true; ls / >/dev/null; exec true"])
    tap.eq(run.code, 0, "fork/exec: the command's status")
    tap.ge(run.process["forks_not_followed"], 1, "fork/exec: the forked child is counted")
    tap.eq(run.process["execs"], 1, "fork/exec: the exec is counted")
    tap.eq(run.process["live_bytes"], 0, "fork/exec: the old image's heap went with it")


if __name__ == "__main__":
    mwtest.run_checks("reliability",
                      check_launch_unharmed,
                      check_sigkill,
                      check_exit_paths,
                      check_bad_targets,
                      check_no_malloc_to_probe,
                      check_thread_churn,
                      check_many_threads,
                      check_fork_exec)
