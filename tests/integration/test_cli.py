#!/usr/bin/env python3
"""The command line end to end: -p attach (also by TID), --no-malloc attaching
no uprobe, the launched command's output and exit status passed through, and
one-line errors with distinct exit codes."""
import json
import os
import subprocess
import tempfile

import mwtest

N = 100000


def memwatch(*args, **kw):
    return subprocess.run([mwtest.MEMWATCH, *args], capture_output=True, text=True,
                          timeout=mwtest.TIMEOUT, **kw)


def bpf_program_names(pid):
    """Names of the BPF programs process @pid holds, found through its fds' fdinfo
    (another memwatch on the machine has its own)."""
    names = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                fields = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if "prog_id" not in fields:
            continue
        out = subprocess.run(["bpftool", "-j", "prog", "show", "id", fields["prog_id"].strip()],
                             capture_output=True, text=True)
        if out.returncode == 0:
            names.add(json.loads(out.stdout).get("name"))
    return names


def attached_run(n, options=()):
    att = mwtest.Attached(mwtest.channel("batch", "-n", n, "-w"), options)
    try:
        if not (att.ready and att.watching):
            return None, None
        names = bpf_program_names(att.memwatch.pid)
        att.start_work()
        return att.finish(), names
    finally:
        att.kill()


def check_attach(tap):
    full, names = attached_run(N)
    empty, _ = attached_run(0)
    if not tap.check(full and empty and full.summary and empty.summary, "-p: attached and reported"):
        return
    tap.check("malloc_enter" in names and "free_enter" in names,
              "-p: uprobe programs loaded while attached")
    tap.eq(full.process["pid"], full.workload["threads"][0]["tid"], "-p: reports the target's pid")
    for counter, field in (("alloc_calls", "allocs"), ("free_calls", "frees"),
                           ("alloc_bytes", "alloc_bytes")):
        tap.eq(full.process[counter] - empty.process[counter], full.workload["total"][field],
               "-p: %s difference equals the workload's" % counter)
    tap.eq(full.code, 0, "-p: exits 0 when the target exits")
    tap.check(full.summary["target"]["exited"], "-p: summary says the target exited")

    nomalloc, names = attached_run(N, ["--no-malloc"])
    if tap.check(nomalloc and nomalloc.summary, "--no-malloc: attached and reported"):
        tap.check(not names & {"malloc_enter", "free_enter", "alloc_return"},
                  "--no-malloc: no uprobe program loaded", sorted(n for n in names if n))
        tap.eq(nomalloc.summary["probes"]["uprobes"] + nomalloc.summary["probes"]["uretprobes"],
               0, "--no-malloc: no uprobe attached")
        tap.eq(nomalloc.process["alloc_calls"], 0, "--no-malloc: no allocation counted")
        tap.ge(nomalloc.process["brk_grow_bytes"], N * 64 // 2,
               "--no-malloc: the heap's brk growth is still seen")


def check_tid_resolves(tap):
    script = ("import threading, sys\n"
              "e = threading.Event()\n"
              "t = threading.Thread(target=e.wait)\n"
              "t.start()\n"
              "print(t.native_id, flush=True)\n"
              "sys.stdin.read()\n"
              "e.set()\n")
    target = subprocess.Popen(["python3", "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        tid = int(target.stdout.readline())
        run = memwatch("--json", "-c", "1", "-i", "0.1", "-p", str(tid))
        summary = [json.loads(l) for l in run.stdout.splitlines()][-1]
        tap.eq(summary["process"]["pid"], target.pid, "-p TID: watches the thread's process")
    finally:
        target.stdin.close()
        target.wait()


def check_passthrough(tap):
    cmd = mwtest.channel("batch", "-n", 1000, "--exit-code", 7)
    plain = subprocess.run(cmd, capture_output=True, text=True)
    with tempfile.NamedTemporaryFile("r") as report:
        run = memwatch("-o", report.name, "--", *cmd)
        text = report.read()
    tap.eq(run.returncode, 7, "launch: memwatch exits with the command's status")
    tap.eq(plain.returncode, 7, "launch: the command alone exits 7")
    strip = lambda out: "\n".join(l for l in out.splitlines() if not l.startswith("thread"))
    tap.eq(strip(run.stdout), strip(plain.stdout), "launch: the command's stdout is unchanged")
    tap.check("memwatch summary" in text and "memwatch summary" not in run.stdout,
              "launch: -o keeps the report apart from the command's output")
    killed = memwatch("--", "sh", "-c", "kill -9 $$")
    tap.eq(killed.returncode, 128 + 9, "launch: a command killed by SIGKILL gives 137")
    args = memwatch("-c", "1", "-i", "0.1", "--json", "--", "sh", "-c", "exit 0", "-x")
    tap.eq(args.returncode, 0, "launch: options after the command are the command's")


def check_errors(tap):
    cases = [
        ("no such pid", ["-p", "999999999"], 3),
        ("invalid pid", ["-p", "12ab"], 2),
        ("command not found", ["--", "no-such-command-xyz"], 127),
        ("command not executable", ["--", "/etc/passwd"], 126),
        ("bad interval", ["-i", "zero", "-p", "1"], 2),
        ("no target", [], 2),
        ("pid and command", ["-p", "1", "--", "true"], 2),
        ("kernel thread", ["-p", "2"], 3),
    ]
    for name, args, code in cases:
        run = memwatch(*args)
        lines = [l for l in run.stderr.splitlines() if l.strip()]
        tap.eq(run.returncode, code, "error %s: exit code %d" % (name, code))
        tap.check(lines and len(lines[0]) < 200 and "memwatch" in lines[0],
                  "error %s: a clear message" % name, run.stderr)
    me = memwatch("-p", str(os.getpid()), "-c", "1", "-i", "0.1")
    tap.eq(me.returncode, 0, "a python process can be watched")


if __name__ == "__main__":
    mwtest.run_checks("command line",
                      check_attach,
                      check_tid_resolves,
                      check_passthrough,
                      check_errors)
