#!/usr/bin/env python3
"""memwatch never changes the signals of what it watches, and ends on a signal in
every phase. A launched command gets the caller's mask and ignored signals; a
SIGTERM to it ends it and memwatch with 143, a SIGINT to the process group ends
both; q detaches and waits for the command; SIGINT or SIGTERM at each stage of the
attach (held there with gdb, or blocked in opening a FIFO) ends memwatch within a
second with nothing left attached and a held command never started; a closed
output ends memwatch as SIGPIPE would; failed writes and an empty command are
reported; a debugger on the target is named, and refused."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import mwtest

READY = r"ready pid=(\d+)"
WATCHING = r"memwatch: watching pid (\d+)"
SIG_LINES = ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]


def caller_signals():
    """A caller with a mask and ignored signals of its own: SIGUSR2 blocked, SIGUSR1 and
    SIGHUP ignored."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def check_command_signals(tap):
    plain = subprocess.run(SIG_LINES, capture_output=True, text=True, preexec_fn=caller_signals,
                           timeout=mwtest.TIMEOUT)
    watched = subprocess.run([mwtest.MEMWATCH, "--no-tui", "-o", "/dev/null", "--"] + SIG_LINES,
                             capture_output=True, text=True, preexec_fn=caller_signals,
                             timeout=mwtest.TIMEOUT)
    tap.check(plain.returncode == 0 and "SigBlk:\t0000000000000800" in plain.stdout,
              "the caller's own mask is there in a plain run", plain.stdout)
    tap.eq(watched.stdout, plain.stdout, "the command's SigBlk and SigIgn equal a plain run's")


class Launched:
    """memwatch --no-tui -o FILE -- CMD, in a session of its own, until it said it watches."""

    def __init__(self, cmd, options=("-i", "0.2")):
        self.report = tempfile.NamedTemporaryFile("r", suffix=".txt")
        self.memwatch = subprocess.Popen([mwtest.MEMWATCH, "--no-tui", "-o", self.report.name,
                                          *options, "--", *cmd], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         start_new_session=True)
        self.seen = []
        found = mwtest.wait_for_line(self.memwatch.stderr, WATCHING, seen=self.seen)
        self.pid = int(found.group(1)) if found else None

    def finish(self):
        """memwatch's exit status, its stderr and the report, once it ended."""
        code = self.memwatch.wait(timeout=mwtest.TIMEOUT)
        stderr = "".join(self.seen) + self.memwatch.stderr.read().decode(errors="replace")
        self.report.seek(0)
        return code, stderr, self.report.read()

    def kill(self):
        if self.memwatch.poll() is None:
            os.killpg(self.memwatch.pid, signal.SIGKILL)
            self.memwatch.wait()
        self.report.close()


def gone(pid):
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


def check_term_command(tap):
    run = Launched(["sleep", "60"])
    try:
        if not tap.check(run.pid, "kill -TERM CMD: memwatch watches it", "".join(run.seen)):
            return
        os.kill(run.pid, signal.SIGTERM)
        code, stderr, report = run.finish()
        tap.eq(code, 143, "kill -TERM CMD: memwatch exits 143")
        tap.check("killed by signal 15" in report, "kill -TERM CMD: the summary says so", report)
        row = re.search(r"^\s*%d\s+sleep\s+(\w+)" % run.pid, report, re.M)
        tap.check(row and row.group(1) == "exit", "kill -TERM CMD: its thread's state is exit",
                  report)
    finally:
        run.kill()


def check_group_sigint(tap):
    run = Launched(["sleep", "60"])
    try:
        if not tap.check(run.pid, "SIGINT to the group: memwatch watches", "".join(run.seen)):
            return
        os.killpg(run.memwatch.pid, signal.SIGINT)
        code, stderr, report = run.finish()
        tap.eq(code, 130, "SIGINT to the group: memwatch exits 130, CMD's status")
        tap.check(gone(run.pid), "SIGINT to the group: CMD ended too, none orphaned")
        tap.check("killed by signal 2" in report, "SIGINT to the group: the summary says so",
                  report)
    finally:
        run.kill()


def check_quit_waits(tap):
    """q in the live view: the summary at once, then memwatch waits for CMD; Ctrl-C ends
    both."""
    from test_tui import Pane
    pane = Pane(120, 40, {"LANG": "C.UTF-8"})
    try:
        pane.type("%s -i 0.2 -- sleep 600; echo mw-exit=$?" % mwtest.MEMWATCH)
        up = pane.wait(lambda s: re.search(r"pid (\d+) \(sleep\)", s) and "TID" in s)
        if not tap.check(up, "q: the view is up", pane.screen()):
            return
        pid = int(re.search(r"pid (\d+) \(sleep\)", up).group(1))
        pane.key("q")
        screen = pane.wait(lambda s: "=== memwatch summary: pid %d (sleep)" % pid in s and
                           "detached; waiting for sleep (pid %d) to exit" % pid in s,
                           timeout=2, scrollback=True)
        tap.check(screen, "q: within 2 s the summary, and memwatch says it waits for CMD",
                  pane.screen(True))
        tap.check(not gone(pid), "q: CMD runs on")
        pane.key("C-c")
        screen = pane.wait(lambda s: re.search(r"mw-exit=\d+", s), scrollback=True)
        tap.check(screen and re.search(r"mw-exit=130$", screen, re.M),
                  "q, then Ctrl-C: memwatch exits with CMD's 130", pane.screen(True))
        tap.check(gone(pid), "q, then Ctrl-C: CMD ended")
    finally:
        pane.kill()


def waiting_target():
    """A glibc channel waiting on stdin: alive until the test ends it."""
    target = subprocess.Popen(mwtest.channel("batch", "-n", 0, "-w"), stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return target, mwtest.wait_for_line(target.stderr, READY)


def end(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


# (stage, gdb breakpoint): a launched command held, or a -p attach, stopped there
LAUNCH_STAGES = [("discovery", "break allocator_of_command"), ("BPF load", "break load_bpf"),
                 ("uprobes", "break follow_start"),
                 ("tracepoints", "break probes_attach_tracepoints"),
                 ("held launch", "break signals_pending")]
PID_STAGES = [("discovery", "break allocator_of_process"), ("BPF load", "break load_bpf"),
              ("uprobes", "break follow_start"), ("tracepoints", "break probes_attach_tracepoints"),
              ("last check", "break follow_settle")]


def signal_at(tap, name, stop, argv, sig, marker=None):
    """memwatch @argv held by gdb at @stop gets @sig: it ends within a second with
    128+sig, one line, nothing left attached, and (@marker) the command never ran."""
    held = mwtest.Held(stop, argv, after=("signal %s" % sig.name,))
    try:
        if not held.pid:
            gdb_said, stderr = held.finish()
            tap.check(False, "%s: memwatch held there" % name, stderr + gdb_said[-2000:])
            return
        tap.check(True, "%s: memwatch held there" % name)
        ids = mwtest.held_programs(held.pid)
        begin = time.monotonic()
        held.resume()
        took = mwtest.wait_ended(held.pid) - begin
        gdb_said, stderr = held.finish()
        lines = [line for line in stderr.splitlines() if line.strip()]
        tap.eq(mwtest.exit_code(gdb_said), 128 + sig,
               "%s: exit status %d" % (name, 128 + sig))
        tap.check(took < 1.0, "%s: ended within 1 s" % name, "took %.2f s" % took)
        tap.check(len(lines) == 1 and "before the watch began" in lines[0],
                  "%s: one line says so" % name, stderr + gdb_said[-2000:])
        tap.eq(mwtest.wait_gone(ids), set(), "%s: no program or link of memwatch's is left" % name)
        if marker:
            tap.check(not os.path.exists(marker), "%s: the held command never ran" % name)
    finally:
        held.kill()


def check_attach_stages(tap):
    with tempfile.TemporaryDirectory(prefix="mw-sig-") as tmp:
        marker = os.path.join(tmp, "ran")
        for stage, stop in LAUNCH_STAGES:
            signal_at(tap, "SIGINT at %s of -- CMD" % stage, stop,
                      [mwtest.MEMWATCH, "--json", "-o", "/dev/null", "--", "touch", marker],
                      signal.SIGINT, marker)
    target, ready = waiting_target()
    try:
        if not tap.check(ready, "-p stages: target ready"):
            return
        for stage, stop in PID_STAGES:
            sig = signal.SIGTERM if stage == "BPF load" else signal.SIGINT
            signal_at(tap, "%s at %s of -p" % (sig.name, stage), stop,
                      [mwtest.MEMWATCH, "-p", str(target.pid), "--json", "-o", "/dev/null"], sig)
        tap.check(target.poll() is None, "-p stages: the target still runs")
    finally:
        end(target)


def in_syscall(pid, nr, timeout=30):
    """Whether thread @pid is, before the deadline, blocked in system call @nr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/syscall" % pid) as f:
                if f.read().split(" ")[0] == str(nr):
                    return True
        except OSError:
            return False
        time.sleep(0.01)
    return False


def check_fifo_output(tap):
    """-o naming a FIFO nobody reads blocks in open(): SIGINT and SIGTERM still end it."""
    openat = 257
    with tempfile.TemporaryDirectory(prefix="mw-fifo-") as tmp:
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        for sig in (signal.SIGINT, signal.SIGTERM):
            name = "%s while opening a FIFO" % sig.name
            mw = subprocess.Popen([mwtest.MEMWATCH, "--json", "-o", fifo, "--", "true"],
                                  stderr=subprocess.PIPE, text=True)
            try:
                if not tap.check(in_syscall(mw.pid, openat), "%s: memwatch blocks in open" % name):
                    continue
                begin = time.monotonic()
                mw.send_signal(sig)
                code = mw.wait(timeout=mwtest.TIMEOUT)
                took = time.monotonic() - begin
                tap.eq(code, 128 + sig, "%s: exit status %d" % (name, 128 + sig))
                tap.check(took < 1.0, "%s: within 1 s" % name, "took %.2f s" % took)
            finally:
                end(mw)


def check_closed_output(tap):
    """memwatch ... | head -1: the reader goes, memwatch ends as SIGPIPE would."""
    for how in ("-- CMD", "-p"):
        name = "closed output (%s)" % how
        target = None
        if how == "-p":
            target, ready = waiting_target()
            what = ["-p", str(target.pid)]
        else:
            what = ["--", "sleep", "60"]
        mw = subprocess.Popen([mwtest.MEMWATCH, "--no-tui", "-i", "0.1", *what],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = mw.stdout.readline()
            mw.stdout.close()
            code = mw.wait(timeout=mwtest.TIMEOUT)
            stderr = mw.stderr.read()
            tap.check(first, "%s: a report was read" % name)
            tap.eq(code, 141, "%s: exit status 141" % name)
            if target:
                tap.check(target.poll() is None, "%s: the target still runs" % name)
                continue
            cmd = re.search(r"detached; sleep \(pid (\d+)\) keeps running", stderr)
            tap.check(cmd and not gone(int(cmd.group(1))),
                      "%s: CMD keeps running, and memwatch says so" % name, stderr)
            if cmd:
                os.kill(int(cmd.group(1)), signal.SIGKILL)
        finally:
            end(mw)
            if target:
                end(target)


def one_line(tap, name, run, code, words):
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("memwatch: watching pid")]
    tap.eq(run.returncode, code, "%s: exit status %d" % (name, code))
    tap.check(len(lines) == 1 and all(w in lines[0] for w in words),
              "%s: one line saying %s" % (name, " / ".join(words)), run.stderr)


def memwatch(*args):
    return subprocess.run([mwtest.MEMWATCH, *args], capture_output=True, text=True,
                          timeout=mwtest.TIMEOUT)


def check_write_errors(tap):
    one_line(tap, "-o /dev/full", memwatch("-o", "/dev/full", "--", "true"), 1,
             ["cannot write /dev/full", os.strerror(28)])
    one_line(tap, "-o /proc/version", memwatch("-o", "/proc/version", "--", "true"), 1,
             ["cannot write /proc/version"])
    one_line(tap, "empty command", memwatch("--", ""), 127, ["empty command"])


class Debugger:
    """gdb (or strace) attached to @pid, held there until release()."""

    def __init__(self, pid, tool="gdb"):
        self.dir = tempfile.TemporaryDirectory(prefix="mw-dbg-")
        self.go = os.path.join(self.dir.name, "go")
        os.mkfifo(self.go)
        if tool == "gdb":
            argv = ["gdb", "-nx", "-q", "-batch", "-iex", "set debuginfod enabled off",
                    "-p", str(pid), "-ex", "break malloc", "-ex", "python open(%r).read()"
                    % self.go]
        else:
            argv = ["strace", "-o", "/dev/null", "-p", str(pid)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.attached = self.wait_traced(pid)

    def wait_traced(self, pid, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open("/proc/%d/status" % pid) as f:
                if re.search(r"^TracerPid:\s+%d$" % self.proc.pid, f.read(), re.M):
                    return True
            time.sleep(0.02)
        return False

    def release(self):
        if self.proc.args[0] == "gdb":
            mwtest.fifo_touch(self.go)
        else:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=mwtest.TIMEOUT)

    def kill(self):
        end(self.proc)
        self.dir.cleanup()


def check_debugger(tap):
    target, ready = waiting_target()
    try:
        if not tap.check(ready, "debugger: target ready"):
            return
        gdb = Debugger(target.pid)
        try:
            if not tap.check(gdb.attached, "debugger: gdb holds the target"):
                return
            one_line(tap, "under gdb", memwatch("-p", str(target.pid), "-c", "1", "--json"), 7,
                     ["traced by pid %d (gdb)" % gdb.proc.pid, "--force-ptraced"])
            run = memwatch("-p", str(target.pid), "-c", "1", "-i", "0.1", "--no-malloc", "--json")
            tap.eq(run.returncode, 0, "under gdb, --no-malloc: watched")
            gdb.release()
        finally:
            gdb.kill()
        strace = Debugger(target.pid, "strace")
        try:
            if not tap.check(strace.attached, "debugger: strace traces the target"):
                return
            run = memwatch("-p", str(target.pid), "-c", "1", "-i", "0.1", "--json")
            tap.eq(run.returncode, 0, "under strace: watched with uprobes")
            tap.check("traced by pid %d (strace)" % strace.proc.pid in run.stderr,
                      "under strace: one line names it", run.stderr)
            strace.release()
        finally:
            strace.kill()
        check_later_debugger(tap, target)
        tap.check(target.poll() is None, "debugger: the target still runs")
    finally:
        end(target)


def check_later_debugger(tap, target):
    """A debugger that comes after memwatch: a warning on stderr and in the summary."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        mw = subprocess.Popen([mwtest.MEMWATCH, "-p", str(target.pid), "-i", "0.1", "--json",
                               "-o", report.name], stderr=subprocess.PIPE)
        gdb = None
        try:
            if not tap.check(mwtest.wait_for_line(mw.stderr, WATCHING), "later gdb: watching"):
                return
            gdb = Debugger(target.pid)
            warned = mwtest.wait_for_line(mw.stderr, r"pid %d \(gdb\) began to trace"
                                          % gdb.proc.pid)
            tap.check(warned, "later gdb: a warning on stderr")
            gdb.release()
            mw.send_signal(signal.SIGINT)
            tap.eq(mw.wait(timeout=mwtest.TIMEOUT), 0, "later gdb: memwatch ends")
            report.seek(0)
            summary = json.loads(report.read().splitlines()[-1])
            tracer = summary["target"].get("tracer", {})
            tap.check(tracer.get("exe") == "gdb" and tracer.get("writes_code"),
                      "later gdb: the summary names it", summary["target"])
        finally:
            end(mw)
            if gdb:
                gdb.kill()


if __name__ == "__main__":
    mwtest.run_checks("signals", check_command_signals, check_term_command, check_group_sigint,
                      check_quit_waits, check_attach_stages, check_fifo_output,
                      check_closed_output, check_write_errors, check_debugger)
