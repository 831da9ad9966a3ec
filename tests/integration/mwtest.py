"""Shared helpers of memwatch's integration tests: TAP output, running memwatch
against the bundled workloads, and parsing what both print.

The tests need root and a kernel that loads memwatch's BPF programs. Elsewhere
they are skipped with a one-line reason; under CI (CI=true) a test that cannot
run fails instead.
"""
import json
import os
import shlex
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMWATCH = os.path.join(ROOT, "memwatch")
WORKLOADS = os.path.join(ROOT, ".output", "workloads")
CHANNEL = os.path.join(WORKLOADS, "channel")
CHURN = os.path.join(WORKLOADS, "churn")
# generous bounds for a process to finish: a hung test fails instead of hanging CI
TIMEOUT = 120


class Tap:
    """TAP test points; `check` returns whether the point held."""

    def __init__(self):
        self.count = 0
        self.failures = 0

    def check(self, ok, name, detail=""):
        self.count += 1
        print(("ok" if ok else "not ok") + " %d - %s" % (self.count, name))
        if not ok:
            self.failures += 1
            if detail:
                print("#   " + str(detail).replace("\n", "\n#   "))
        sys.stdout.flush()
        return ok

    def eq(self, got, want, name):
        return self.check(got == want, name, "got %r, want %r" % (got, want))

    def ge(self, got, low, name):
        return self.check(got >= low, name, "got %r, want >= %r" % (got, low))

    def between(self, got, low, high, name):
        return self.check(low <= got <= high, name, "got %r, want %r..%r" % (got, low, high))

    def skip(self, name, reason):
        self.count += 1
        print("ok %d - %s # SKIP %s" % (self.count, name, reason))

    def done(self):
        print("1..%d" % self.count)
        sys.exit(1 if self.failures else 0)


def bpf_unavailable_reason():
    """Why real BPF tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to load BPF"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "kernel has no BTF"
    if not os.access(MEMWATCH, os.X_OK) or not os.access(CHANNEL, os.X_OK):
        return "memwatch or the workloads are not built (run make)"
    return None


def start(tap, name):
    """Returns True when the BPF tests can run; otherwise reports why and ends.

    Under CI a missing precondition is a failure, elsewhere a skip.
    """
    reason = bpf_unavailable_reason()
    if reason is None:
        return True
    cannot_run(tap, name, reason)
    return False


def not_here(tap, name, reason):
    """A point that cannot be checked here: a skip with @reason, a failure under CI."""
    if os.environ.get("CI") == "true":
        tap.check(False, name, "cannot run under CI: " + reason)
    else:
        tap.skip(name, reason)


def cannot_run(tap, name, reason):
    """Ends the test program: a skip with @reason, a failure under CI."""
    not_here(tap, name, reason)
    tap.done()


def run_checks(name, *checks, needs=()):
    """A test program's main: each check(tap) in turn, when BPF can run here.

    @needs: (path, toolchain) of workloads the Makefile builds only where their
    compiler is (rustc, go, musl-gcc); one that is missing is a skip, or a
    failure under CI.
    """
    tap = Tap()
    if not start(tap, name):
        return
    for path, tool in needs:
        if not os.access(path, os.X_OK):
            cannot_run(tap, name, "%s is not built: no %s here (run make)"
                       % (os.path.relpath(path, ROOT), tool))
            return
    for check in checks:
        check(tap)
    tap.done()


def parse_workload(stdout):
    """The workload's own account: {'total': {...}, 'threads': [{...}, ...]}."""
    result = {"total": None, "threads": []}
    for line in stdout.splitlines():
        kind, _, rest = line.partition(" ")
        fields = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
        for key, value in fields.items():
            if re.fullmatch(r"-?\d+", value):
                fields[key] = int(value)
        if kind == "total":
            result["total"] = fields
        elif kind == "thread":
            result["threads"].append(fields)
    return result


def parse_reports(text):
    """memwatch's --json stream: (interval records, summary record, --trace's syscall records)."""
    intervals, summary, events = [], None, []
    for line in text.splitlines():
        record = json.loads(line)
        if record["type"] == "interval":
            intervals.append(record)
        elif record["type"] == "summary":
            summary = record
        elif record["type"] == "syscall":
            events.append(record)
    return intervals, summary, events


class Run:
    """One finished memwatch run: exit code, the target's output, the reports."""

    def __init__(self, code, stdout, stderr, reports):
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.intervals, self.summary, self.events = parse_reports(reports)
        self.workload = parse_workload(stdout)

    @property
    def process(self):
        return self.summary["process"]

    def thread(self, tid):
        for row in self.summary["threads"]:
            if row["tid"] == tid:
                return row
        return None


def memwatch_launch(cmd, options=(), env=None, timeout=TIMEOUT, stdin=None, memwatch=MEMWATCH):
    """Runs `memwatch --json -o FILE OPTIONS -- CMD`; the target's output stays apart."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        argv = [memwatch, "--json", "-o", report.name, *options, "--", *[str(a) for a in cmd]]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=stdin)
        return Run(proc.returncode, proc.stdout, proc.stderr, report.read())


def memwatch_launch_sampled(cmd, sample, options=(), period=1.0, timeout=TIMEOUT, stdin=None):
    """memwatch_launch(), calling sample(memwatch_pid) every @period seconds while it runs;
    @stdin: the command's."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report, \
            tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        argv = [MEMWATCH, "--json", "-o", report.name, *options, "--", *cmd]
        proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + timeout
        try:
            while True:
                sample(proc.pid)
                try:
                    proc.wait(timeout=period)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        raise
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read(), err.read(), report.read())


def channel(mode, *args):
    return [CHANNEL, mode, *[str(a) for a in args]]


def channel_pair(tap, name, mode, n, *args, options=(), memwatch=MEMWATCH):
    """The channel workload under @memwatch with -n N and with -n 0: (full, empty).

    The difference between the two is exactly the item work. (None, None) when
    either run failed, reported as a failed point.
    """
    full = memwatch_launch(channel(mode, "-n", n, *args), options, memwatch=memwatch)
    empty = memwatch_launch(channel(mode, "-n", 0, *args), options, memwatch=memwatch)
    ok = tap.check(full.code == 0 and empty.code == 0 and full.summary is not None
                   and empty.summary is not None and full.workload["total"] is not None,
                   "%s: memwatch ran" % name, full.stderr + empty.stderr)
    return (full, empty) if ok else (None, None)


def wait_for_all(stream, patterns, timeout=30, seen=None):
    """Reads @stream until every one of @patterns matched a line, in any order.

    Returns the matches in the order of @patterns, or None at EOF or the deadline.
    @seen, a list, gets every chunk read.
    """
    deadline = time.monotonic() + timeout
    buf = ""
    fd = stream.fileno()
    while time.monotonic() < deadline:
        found = [next((m for m in (re.search(p, l) for l in buf.splitlines()) if m), None)
                 for p in patterns]
        if all(found):
            return found
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096).decode(errors="replace")
        if not chunk:
            break
        if seen is not None:
            seen.append(chunk)
        buf += chunk
    return None


def wait_for_line(stream, pattern, timeout=30, seen=None):
    """Reads @stream until a line matches; returns the match or None at EOF/timeout.

    @seen, a list, gets every chunk read (what a later read will not see again).
    """
    found = wait_for_all(stream, [pattern], timeout, seen)
    return found[0] if found else None


def counter(record, name):
    """A counter of a process or thread record; "known_frees": the frees of blocks memwatch
    saw allocated (not an exiting thread's tcache flush)."""
    if name == "known_frees":
        return record["free_calls"] - record["free_unknown_calls"]
    return record[name]


def check_difference(tap, name, full, empty, counters, want,
                     of=lambda run, name: counter(run.process, name)):
    """The exact-difference check: memwatch's N-run minus its 0-run, for each (counter,
    field) of @counters, equals @want[field] (the workload's own count of the item work)."""
    for name_of_counter, field in counters:
        tap.eq(of(full, name_of_counter) - of(empty, name_of_counter), want[field],
               "%s: %s difference equals the workload's %s" % (name, name_of_counter, field))


def check_nothing_lost(tap, name, runs, untracked=True):
    """Every event of @runs counted; with @untracked, every block tracked too."""
    for run in runs:
        tap.eq(run.process["lost_events"], 0, "%s: no lost events" % name)
        if untracked:
            tap.eq(run.process["untracked_allocs"], 0, "%s: nothing untracked" % name)


def host_libc():
    """The libc this test's own process mapped: the one the workload would use."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if re.search(r"/libc\.so\.6$", path):
                return path
    return None


def read_file(path, mode="r"):
    """The text (mode "rb": the bytes) of @path, empty if it cannot be read."""
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return b"" if "b" in mode else ""


def wait_in_file(path, pattern, timeout=30):
    """Whether @pattern (str, or bytes to match the raw bytes) matches in @path before the
    deadline (it is being written)."""
    mode = "rb" if isinstance(pattern, bytes) else "r"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, read_file(path, mode)):
            return True
        time.sleep(0.02)
    return False


def unsafe_text(data, keep="\n"):
    """What of @data (bytes) a terminal must not get raw: C0 controls but those in @keep,
    DEL, C1 controls (raw bytes, or U+0080-U+009F in UTF-8) and bytes that are not UTF-8.
    Returns them as [(offset in characters, the bytes)], empty when there are none."""
    found = []
    # surrogateescape: each byte that is not UTF-8 becomes U+DC80..U+DCFF
    for i, ch in enumerate(data.decode("utf-8", "surrogateescape")):
        code = ord(ch)
        if 0xdc80 <= code <= 0xdcff:
            found.append((i, bytes([code - 0xdc00])))
        elif (code < 0x20 and ch not in keep) or 0x7f <= code <= 0x9f:
            found.append((i, ch.encode()))
    return found


def cpu_seconds(pid):
    """User plus system CPU time process @pid has used (/proc/PID/stat, clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def held_bpf_ids(pid, kinds):
    """(kind, ID) of each BPF object of @kinds ("prog_id", "link_id", "map_id") process
    @pid holds a descriptor of (its fds' fdinfo)."""
    ids = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in kinds:
                        ids.add((key, int(value)))
        except OSError:
            continue
    return ids


def held_programs(pid):
    """IDs of the BPF programs and links process @pid holds."""
    return held_bpf_ids(pid, ("prog_id", "link_id"))


def still_loaded(ids):
    """The IDs among @ids that the kernel still knows."""
    left = set()
    for kind, num in ids:
        what = "prog" if kind == "prog_id" else "link"
        out = subprocess.run(["bpftool", what, "show", "id", str(num)], capture_output=True)
        if out.returncode == 0:
            left.add((kind, num))
    return left


def wait_ended(pid, timeout=30):
    """When process @pid ended (a zombie or gone), or the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.005)
    return time.monotonic()


def wait_gone(ids, timeout=10):
    """Links and programs are freed asynchronously after the last fd closes."""
    deadline = time.monotonic() + timeout
    left = still_loaded(ids)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = still_loaded(ids)
    return left


class Reports:
    """What a running memwatch (self.memwatch) wrote to its --json -o file (self.report)."""

    def records(self):
        """Every record memwatch has written so far (complete lines only)."""
        self.report.seek(0)
        lines = self.report.read().split("\n")[:-1]
        return [json.loads(line) for line in lines if line.strip()]

    def record_after(self, timeout=30):
        """An interval record whose snapshot began after this call, or None at the deadline.

        The first record written after the call may come from a snapshot begun
        before it; the second cannot. Needs a short memwatch -i.
        """
        deadline = time.monotonic() + timeout
        seen = len(self.records())
        while time.monotonic() < deadline:
            records = [r for r in self.records()[seen:] if r["type"] == "interval"]
            if len(records) >= 2:
                return records[1]
            if self.memwatch.poll() is not None:
                return None
            time.sleep(0.02)
        return None

    def arrivals(self, until, limit, timeout=120):
        """Interval records as they arrive: [(k, time.monotonic() of arrival, record)],
        the record memwatch's k-th report (from 1).

        Polls the report file every 5 ms (the resolution of the times) until
        @until(triples so far) holds, @limit records came, memwatch ended or the
        deadline. Records written before the call are left out.
        """
        deadline = time.monotonic() + timeout
        old = self.records()
        seen, k = len(old), sum(r["type"] == "interval" for r in old)
        got = []
        while time.monotonic() < deadline and len(got) < limit and not until(got):
            new = self.records()[seen:]
            now = time.monotonic()
            seen += len(new)
            for record in new:
                if record["type"] == "interval":
                    k += 1
                    got.append((k, now, record))
            if not new and self.memwatch.poll() is not None:
                break
            time.sleep(0.005)
        return got


class Watch(Reports):
    """memwatch --json -o FILE OPTIONS -p PID on a process that runs already."""

    def __init__(self, pid, options=(), memwatch=(MEMWATCH,), report_owner=None):
        """@memwatch: the command that runs memwatch (a wrapper such as setpriv,
        then the binary); @report_owner: (uid, gid) that must write the report."""
        self.report = tempfile.NamedTemporaryFile("r", suffix=".json")
        if report_owner:
            os.chown(self.report.name, *report_owner)
        argv = [*memwatch, "--json", "-o", self.report.name, *options, "-p", str(pid)]
        self.memwatch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # memwatch's stderr up to its "watching" line (-v says more there)
        self.memwatch_said = []
        self.watching = wait_for_line(self.memwatch.stderr, r"watching pid (\d+)",
                                      seen=self.memwatch_said)

    def interrupt(self):
        """Ends memwatch as Ctrl-C does; returns (exit code, summary record, stderr)."""
        self.memwatch.send_signal(signal.SIGINT)
        self.memwatch.wait(timeout=TIMEOUT)
        err = "".join(self.memwatch_said) + self.memwatch.stderr.read().decode()
        _, summary, _ = parse_reports(self.report.read())
        self.report.close()
        return self.memwatch.returncode, summary, err


class Attached(Watch):
    """A workload started with -w (it waits for a line on stdin) and memwatch -p on it.

    start_work() releases the workload only after memwatch said it is watching,
    so no event can be missed and nothing depends on sleeping.
    """

    def __init__(self, workload_cmd, options=(), env=None, memwatch=(MEMWATCH,), report_owner=None):
        self.target = subprocess.Popen(workload_cmd, stdin=subprocess.PIPE, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ready = wait_for_line(self.target.stderr, r"ready pid=(\d+)")
        super().__init__(self.target.pid, options, memwatch, report_owner)

    def start_work(self):
        self.target.stdin.write(b"\n")
        self.target.stdin.flush()

    def wait_done(self):
        """Blocks until a -W workload printed `done` (all its work over, still alive); the
        work of a big run under a loaded machine may take more than a minute."""
        return wait_for_line(self.target.stderr, r"done pid=(\d+)", timeout=TIMEOUT)

    def finish(self):
        """Lets the target end and collects both; returns a Run of memwatch."""
        try:
            self.target.stdin.close()
        except BrokenPipeError:
            pass
        stdout = self.target.stdout.read().decode()
        self.target.wait(timeout=TIMEOUT)
        self.memwatch.wait(timeout=TIMEOUT)
        err = self.memwatch.stderr.read().decode()
        run = Run(self.memwatch.returncode, stdout, err, self.report.read())
        self.report.close()
        return run

    def kill(self):
        for proc in (self.memwatch, self.target):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# ---- a program held by gdb at a stage, and FIFOs that say when ----

def fifo_read(path, timeout=60):
    """The text a writer puts in FIFO @path, or None at the deadline."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return os.read(fd, 4096).decode() if ready else None
    finally:
        os.close(fd)


def fifo_touch(path, timeout=60):
    """Opens FIFO @path for writing once its reader is there, and closes it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            return True
        except OSError:
            time.sleep(0.01)
    return False


class Held:
    """A program under gdb, stopped at @stop (a command or a list) until resume(); then
    @after, then on.
    With @status, gdb says the status the program passes to exit_group(): gdb's own
    "exited with code" line is lost when a thread's exit races its registers' read
    ("Couldn't get registers: No such process")."""

    def __init__(self, stop, argv, after=("continue",), stderr_file=True,
                 stdin=subprocess.DEVNULL, status=True):
        self.dir = tempfile.TemporaryDirectory(prefix="mw-gdb-")
        path = lambda name: os.path.join(self.dir.name, name)
        self.stopped, self.go, self.err = path("stopped"), path("go"), path("stderr")
        os.mkfifo(self.stopped)
        os.mkfifo(self.go)
        run = "run " + " ".join(shlex.quote(a) for a in argv[1:])
        if stderr_file:
            run += " 2>" + shlex.quote(self.err)
        stops = [stop] if isinstance(stop, str) else list(stop)
        cmds = ["set pagination off", "set confirm off", "set startup-with-shell %s"
                % ("on" if stderr_file else "off"), "set breakpoint pending on", *stops, run,
                "python open(%r, 'w').write(str(gdb.selected_inferior().pid))" % self.stopped,
                "python open(%r).read()" % self.go, "delete"]
        if status:
            cmds += ["catch syscall exit_group", *after,
                     'python print("exit_group(%d)" % int(gdb.parse_and_eval("$rdi")))',
                     "continue"]
        else:
            cmds += after
        argv_gdb = ["gdb", "-nx", "-q", "-batch", "-iex", "set debuginfod enabled off"]
        for cmd in cmds:
            argv_gdb += ["-ex", cmd]
        self.gdb = subprocess.Popen(argv_gdb + [argv[0]], stdin=stdin, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        said = fifo_read(self.stopped)
        self.pid = int(said) if said else None

    def resume(self):
        return fifo_touch(self.go)

    def finish(self):
        """gdb's output once the program ran to its end, and the program's stderr."""
        out, err = self.gdb.communicate(timeout=TIMEOUT)
        text = out.decode(errors="replace") + err.decode(errors="replace")
        stderr = open(self.err).read() if os.path.exists(self.err) else ""
        return text, stderr

    def kill(self):
        if self.gdb.poll() is None:
            self.gdb.kill()
            self.gdb.wait()
        self.dir.cleanup()


def exit_code(gdb_output):
    """The exit status gdb reports for its program (Held's exit_group() line first), or
    None."""
    found = re.search(r"^exit_group\((\d+)\)$", gdb_output, re.M)
    if found:
        return int(found.group(1))
    if "exited normally" in gdb_output:
        return 0
    found = re.search(r"exited with code (\d+)", gdb_output)
    return int(found.group(1), 8) if found else None
