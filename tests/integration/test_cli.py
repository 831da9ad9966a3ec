#!/usr/bin/env python3
"""The command line end to end: -p attach (also by TID), --no-malloc attaching
no uprobe, the launched command's output and exit status passed through, and
one-line errors with distinct exit codes."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import mwtest

N = 100000


def memwatch(*args, timeout=mwtest.TIMEOUT, **kw):
    return subprocess.run([mwtest.MEMWATCH, *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


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


def libc_path():
    """The libc this test's own process mapped."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.endswith("/libc.so.6"):
                return path
    return None


def bad_libcs(top):
    """(name, path, the reason memwatch must give) for --libc files it cannot probe."""
    libc = libc_path()
    with open(libc, "rb") as f:
        image = f.read()
    paths = {name: os.path.join(top, name) for name in
             ("missing", "dir", "fifo", "text", "truncated", "elf32", "nomalloc")}
    os.mkdir(paths["dir"])
    os.mkfifo(paths["fifo"])
    with open(paths["text"], "w") as f:
        f.write("not an ELF file\n")
    with open(paths["truncated"], "wb") as f:
        f.write(image[:len(image) // 2])
    with open(paths["elf32"], "wb") as f:
        f.write(image[:4] + b"\x01" + image[5:])  # EI_CLASS: ELFCLASS32
    shutil.copy(mwtest.CHANNEL, paths["nomalloc"])
    return [("missing", paths["missing"], "No such file or directory"),
            ("a directory", paths["dir"], "a directory, not a regular file"),
            ("a device", "/dev/zero", "a character device, not a regular file"),
            ("a FIFO", paths["fifo"], "a FIFO, not a regular file"),
            ("not ELF", paths["text"], "not an ELF file"),
            ("truncated", paths["truncated"], "truncated"),
            ("32-bit", paths["elf32"], "a 32-bit ELF file"),
            ("no malloc", paths["nomalloc"], "defines no malloc")]


def check_libc(tap):
    """--libc PATH that cannot be probed: exit 2 at once, one line naming PATH and why."""
    with tempfile.TemporaryDirectory(prefix="mw-libc-") as top:
        for name, path, why in bad_libcs(top):
            start = time.monotonic()
            try:
                run = memwatch("--libc", path, "-c", "1", "-i", "0.1", "--", "true", timeout=10)
                code, stderr = run.returncode, run.stderr
            except subprocess.TimeoutExpired:
                code, stderr = None, "timed out"
            lines = [l for l in stderr.splitlines() if l.strip()]
            tap.eq(code, 2, "--libc %s: exit 2" % name)
            tap.check(len(lines) == 1 and lines[0].startswith("memwatch: --libc %s: " % path)
                      and why in lines[0], "--libc %s: one line names it and why" % name, stderr)
            tap.check(time.monotonic() - start < 2, "--libc %s: said at once" % name)
    # with -p, a file the target does not map: its uprobes would count nothing
    with tempfile.TemporaryDirectory(prefix="mw-libc-") as top:
        copy = shutil.copy(libc_path(), os.path.join(top, "libc.so.6"))
        att = mwtest.Attached(mwtest.channel("batch", "-n", 0, "-w"), ["--libc", copy])
        try:
            said = "".join(att.memwatch_said)
            lines = [l for l in said.splitlines() if "--libc" in l]
            tap.check(att.watching and len(lines) == 1 and copy in lines[0] and
                      "does not map this file" in lines[0],
                      "--libc with -p, a file the target does not map: one warning line", said)
        finally:
            att.kill()
        att = mwtest.Attached(mwtest.channel("batch", "-n", 0, "-w"), ["--libc", libc_path()])
        try:
            said = "".join(att.memwatch_said)
            tap.check(att.watching and "--libc" not in said,
                      "--libc with -p, the file the target maps: nothing said", said)
        finally:
            att.kill()


def check_output_errors(tap):
    """-o FILE that cannot be written: one line naming FILE and errno, exit 1, the command
    unharmed (its own output and status)."""
    cmd = mwtest.channel("batch", "-n", 1000)
    for path, why in (("/dev/full", "No space left on device"),
                      ("/proc/version", "Input/output error")):
        for options in ((), ("--json",), ("--trace",)):
            name = "-o %s%s" % (path, "".join(" " + o for o in options))
            run = memwatch("-o", path, "-i", "0.1", *options, "--", *cmd)
            lines = [l for l in run.stderr.splitlines() if "cannot write" in l]
            tap.eq(run.returncode, 1, "%s: exit 1" % name)
            tap.check(len(lines) == 1 and lines[0] == "memwatch: cannot write %s: %s"
                      % (path, why), "%s: one line names the file and errno" % name,
                      run.stderr)
            tap.check("total mode=batch n=1000" in run.stdout,
                      "%s: the command ran to its end" % name, run.stdout)
    with open("/dev/full", "w") as full:
        run = subprocess.run([mwtest.MEMWATCH, "--no-tui", "-c", "1", "-i", "0.1", "--", "true"],
                             stdout=full, stderr=subprocess.PIPE, text=True,
                             timeout=mwtest.TIMEOUT)
    tap.eq(run.returncode, 1, "stdout on /dev/full: exit 1")
    tap.check("memwatch: cannot write standard output: No space left on device" in run.stderr,
              "stdout on /dev/full: said", run.stderr)


def check_formats(tap):
    """--format=text|json and the aliases --no-tui and --json; --trace=FORMAT; tui, and two
    formats that differ, refused with one line and exit 2 before anything runs."""
    cmd = ["--", *mwtest.channel("batch", "-n", 1000)]
    kinds = {}
    for options in (["--format=text"], ["--no-tui"], ["--format=json"], ["--json"],
                    ["--json", "--no-tui"], ["--trace"], ["--trace=text"], ["--trace=json"],
                    ["--trace", "--format=json"], ["--format=none"]):
        with tempfile.NamedTemporaryFile("r") as report:
            run = memwatch(*options, "-i", "0.2", "-o", report.name, *cmd)
            text = report.read()
        try:
            records = [json.loads(l) for l in text.splitlines()]
            kind = "json"
        except ValueError:
            records = []
            kind = "text" if "=== memwatch summary" in text else None
        types = {r.get("type") for r in records}
        if not text:
            kind = "nothing"
        elif kind == "json" and "syscall" in types:
            kind = "json trace"
        elif kind == "text" and re.search(r"^ +\d+\.\d{6} \( *\d+\.\d{3} ms\): ", text, re.M):
            kind = "text trace"
        kinds[" ".join(options)] = kind
        tap.eq(run.returncode, 0, "%s: exit 0" % " ".join(options))
    tap.eq(kinds, {"--format=text": "text", "--no-tui": "text", "--format=json": "json",
                   "--json": "json", "--json --no-tui": "json", "--trace": "text trace",
                   "--trace=text": "text trace", "--trace=json": "json trace",
                   "--trace --format=json": "json trace", "--format=none": "nothing"},
           "each format writes what it names")

    for options, says in ((["--format=tui"], "--format=tui needs a terminal"),
                          (["--format=tui", "-o", "/dev/null"], "-o FILE takes text or json"),
                          (["--trace=tui"], "--trace prints a line per syscall"),
                          (["--trace", "--format=tui"], "--trace prints a line per syscall"),
                          (["--json", "--format=text"], "--json and --format=text ask for"),
                          (["--no-tui", "--format=tui"], "--format=tui and --no-tui ask for"),
                          (["--trace=none"], "--trace prints a line per syscall"),
                          (["--metrics-threads"], "--metrics-threads adds to --listen"),
                          (["--listen", "[::1]9464"], "invalid --listen '[::1]9464'"),
                          (["--listen", "0"], "invalid --listen '0'"),
                          (["--format=xml"], "invalid --format 'xml'")):
        name = " ".join(options)
        marker = tempfile.mktemp(prefix="mw-format-")
        run = memwatch(*options, "--", "touch", marker, timeout=10)
        lines = [l for l in run.stderr.splitlines() if l.strip() and not l.startswith("Try ")]
        tap.eq(run.returncode, 2, "%s: exit 2" % name)
        tap.check(len(lines) == 1 and lines[0].startswith("memwatch: ") and says in lines[0],
                  "%s: one line says why" % name, run.stderr)
        tap.check(not os.path.exists(marker), "%s: the command never ran" % name)


if __name__ == "__main__":
    mwtest.run_checks("command line",
                      check_formats,
                      check_attach,
                      check_tid_resolves,
                      check_passthrough,
                      check_errors,
                      check_libc,
                      check_output_errors)
