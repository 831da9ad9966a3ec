#!/usr/bin/env python3
"""--cgroup: a real PostgreSQL server (Debian's), started by the test in a cgroup of its own
on 127.0.0.1, watched whole: the postmaster and its background processes named at the
start, each backend a connection forks followed from its fork, a process moved into a
child cgroup joining, one moved out leaving.

- pgbench's connections (a bounded batch, -c 2 -t 50, select-only) make backends:
  each is a process of the report, forked by the postmaster, with malloc calls, and its
  memory syscalls equal strace -f's, attached to the postmaster after memwatch.
- a gated prefork (-g -w 0 -n M) moved into the child cgroup joins; released once
  memwatch placed its uprobes, its M pairs are counted exactly.
- another, moved in and then out before it is released, is marked as having left,
  and its pairs are not counted.
- the watch runs until SIGINT, then the summary; exit 0.

And a cgroup with no process: memwatch says it waits and reports no process (text,
--count ends it; JSON, `process` null) until one started into it joins, which becomes the
top-level process, its gated channel work counted exactly; SIGINT ends it, exit 0.
"""
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import mwtest

PG_BIN = "/usr/lib/postgresql/15/bin"
PREFORK = mwtest.WORKLOADS + "/prefork"
M = 30000
SYSCALLS = ("brk", "mmap", "munmap", "mremap", "mprotect", "madvise")


def cgroup2_root():
    """Where cgroup v2 is mounted (unified or hybrid), or None."""
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(*argv):
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]


class Server:
    """A PostgreSQL cluster in a temporary directory, its postmaster in cgroup @cg."""

    def __init__(self, cg):
        self.dir = tempfile.mkdtemp(prefix="mw-pg-")
        os.chmod(self.dir, 0o755)
        self.data, self.sock = self.dir + "/data", self.dir + "/sock"
        os.mkdir(self.sock)
        shutil.chown(self.dir, "postgres", "postgres")
        shutil.chown(self.sock, "postgres", "postgres")
        self.port = free_port()
        self.proc = None
        subprocess.run(as_postgres(PG_BIN + "/initdb", "-D", self.data, "-A", "trust", "-U",
                                   "postgres"), check=True, capture_output=True, timeout=120)
        # the postmaster is the shell that joined the cgroup, exec'd
        self.proc = subprocess.Popen(
            ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg,
             *as_postgres(PG_BIN + "/postgres", "-D", self.data, "-k", self.sock,
                          "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
                          "-c", "max_connections=20", "-c", "shared_buffers=16MB",
                          # no worker of its own comes and goes while the test counts
                          "-c", "autovacuum=off")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ready()

    def ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if subprocess.run([PG_BIN + "/pg_isready", "-q", "-h", "127.0.0.1", "-p",
                               str(self.port)]).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("postgres did not start: %s" % self.proc.stderr.read()[-800:])

    def pgbench(self, *args):
        return subprocess.run([PG_BIN + "/pgbench", "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "postgres", *args, "postgres"],
                              capture_output=True, text=True, timeout=300)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # immediate shutdown: the postmaster ends its children at once
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def cgroup_pids(path):
    with open(path + "/cgroup.procs") as f:
        return [int(p) for p in f.read().split()]


def remove_cgroup(path):
    """Moves what is left to the root, then removes @path (its children first)."""
    for sub in sorted((d for d, _, _ in os.walk(path)), key=len, reverse=True):
        for pid in cgroup_pids(sub):
            try:
                with open(cgroup2_root() + "/cgroup.procs", "w") as f:
                    f.write(str(pid))
            except OSError:
                pass
        for _ in range(50):
            try:
                os.rmdir(sub)
                break
            except OSError:
                time.sleep(0.1)


def move(pid, cg):
    with open(cg + "/cgroup.procs", "w") as f:
        f.write(str(pid))


def strace_counts(path):
    """Per PID, each memory syscall's count in strace -f's output (a call strace shows
    interrupted and resumed is counted at its start)."""
    counts = collections.defaultdict(collections.Counter)
    with open(path) as f:
        for line in f:
            m = re.match(r"(\d+)\s+(\w+)\(", line)
            if m and m.group(2) in SYSCALLS:
                counts[int(m.group(1))][m.group(2)] += 1
    return counts


def gone(pid):
    """Whether process @pid exited: a zombie, or no more."""
    stat = mwtest.read_file("/proc/%d/stat" % pid)
    return not stat or stat.rsplit(")", 1)[1].split()[0] == "Z"


def entered_or_gone(said, pid, timeout=30):
    """Whether memwatch's -v lines in file @said say it watches @pid (named at the start,
    or forked), or @pid exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(r"(watching pid %d |forked pid %d )" % (pid, pid), mwtest.read_file(said)):
            return True
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def gated_prefork():
    proc = subprocess.Popen([PREFORK, "-g", "-w", "0", "-n", str(M)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc


def check_server(tap):
    root = cgroup2_root()
    if not root:
        mwtest.cannot_run(tap, "cgroup", "no cgroup v2 mounted")
        return
    if not os.access(PG_BIN + "/postgres", os.X_OK):
        mwtest.cannot_run(tap, "cgroup", "PostgreSQL 15 is not installed (scripts/deps.sh)")
        return
    cg = "%s/memwatch-test-%d" % (root, os.getpid())
    child = cg + "/moved"
    os.makedirs(child)
    server = memwatch = joiner = leaver = None
    report = tempfile.NamedTemporaryFile("r", suffix=".json")
    said = tempfile.NamedTemporaryFile("r", suffix=".err")
    trace = tempfile.NamedTemporaryFile("r", suffix=".strace")
    strace_said = tempfile.NamedTemporaryFile("r", suffix=".err")
    try:
        server = Server(cg)
        init = server.pgbench("-i", "-s", "1", "-q")
        if not tap.check(init.returncode == 0, "pgbench -i made its tables", init.stderr[-800:]):
            return
        # -v's lines go to a file: a pipe nobody reads would hold memwatch up
        memwatch = subprocess.Popen([mwtest.MEMWATCH, "--json", "-o", report.name, "-v", "-i",
                                     "0.5", "--cgroup", cg],
                                    stdout=subprocess.DEVNULL, stderr=open(said.name, "w"))
        if not tap.check(mwtest.wait_in_file(said.name, r"watching pid %d " % server.proc.pid),
                         "memwatch watches the postmaster", mwtest.read_file(said.name)[-1500:]):
            return
        # pgbench -i's backend may still be going: a process gone meanwhile is no member
        named = sorted(p for p in cgroup_pids(cg) if not gone(p))
        if not tap.check(all(entered_or_gone(said.name, p) for p in named),
                         "memwatch watches the %d processes in the cgroup" % len(named),
                         mwtest.read_file(said.name)[-1500:]):
            return
        named = [p for p in named if re.search(r"watching pid %d " % p,
                                               mwtest.read_file(said.name))]
        # strace -f after memwatch: it sees the backends from their fork, as memwatch does
        strace = subprocess.Popen(["strace", "-f", "-e", "trace=" + ",".join(SYSCALLS),
                                   "-o", trace.name, "-p", str(server.proc.pid)],
                                  stderr=open(strace_said.name, "w"))
        tap.check(mwtest.wait_in_file(strace_said.name,
                                      r"Process %d attached" % server.proc.pid),
                  "strace -f attached to the postmaster", mwtest.read_file(strace_said.name))
        bench = server.pgbench("-n", "-S", "-c", "2", "-t", "50")
        tap.eq(bench.returncode, 0, "pgbench's batch ran")
        # its backends exit after their clients: strace must see them to the end
        deadline = time.monotonic() + 30
        while set(cgroup_pids(cg)) - set(named) and time.monotonic() < deadline:
            time.sleep(0.05)
        tap.eq(sorted(set(cgroup_pids(cg)) - set(named)), [],
               "the backends exited while strace was attached")
        strace.send_signal(signal.SIGINT)
        strace.wait(timeout=60)

        joiner, leaver = gated_prefork(), gated_prefork()
        move(joiner.pid, child)
        move(leaver.pid, child)
        for p in (joiner, leaver):
            # moved while its loader still maps libraries, it is probed at the look after
            probed = r"pid %d (\(prefork\): malloc probed|exec'd prefork: malloc probed)" % p.pid
            if not mwtest.wait_in_file(said.name, probed):
                tap.check(False, "memwatch placed the uprobes of a process that joined",
                          mwtest.read_file(said.name)[-1500:])
                return
        move(leaver.pid, root)
        for p in (joiner, leaver):
            p.stdin.write(b"x")
            p.stdin.close()
            p.wait(timeout=60)
        # the last interval has both ended
        mwtest.wait_in_file(report.name, r'"pid":%d,"comm":"prefork","exited":true' % leaver.pid)
        memwatch.send_signal(signal.SIGINT)
        code = memwatch.wait(timeout=60)
        tap.eq(code, 0, "SIGINT ends the watch: exit 0 after the summary")
        _, summary, _ = mwtest.parse_reports(report.read())
        if not tap.check(summary is not None, "a summary"):
            return
        procs = {p["pid"]: p for p in summary["processes"]}
        master = procs.get(server.proc.pid)
        tap.check(master is not None and master["comm"] == "postgres",
                  "the postmaster is watched", sorted(procs))
        tap.check(all(p in procs for p in named), "every process of the cgroup at the start")
        backends = [p for p in procs.values() if p["parent_pid"] == server.proc.pid
                    and p["pid"] not in named]
        tap.ge(len(backends), 2, "pgbench's connections' backends, forked by the postmaster")
        tap.check(all(b["alloc_counted_since_s"] is not None and b["alloc_calls"] > 0
                      for b in backends), "each backend's malloc calls counted",
                  [(b["pid"], b["alloc_calls"]) for b in backends])
        straced = strace_counts(trace.name)
        exited = {int(m) for m in re.findall(r"^(\d+)\s+\+\+\+ exited", mwtest.read_file(trace.name),
                                               re.M)}
        compared = calls = 0
        for b in backends:
            # one strace saw from its fork to its exit
            if b["pid"] not in straced or b["pid"] not in exited:
                continue
            want = {c: straced[b["pid"]][c] for c in SYSCALLS}
            got = {c: b["syscalls"][c] for c in SYSCALLS}
            tap.eq(got, want, "backend %d: memory syscalls as strace -f counted them" % b["pid"])
            compared += 1
            calls += sum(want.values())
        tap.ge(compared, 2, "backends compared with strace")
        tap.ge(calls, 10, "the backends compared made memory syscalls")
        j, lv = procs.get(joiner.pid), procs.get(leaver.pid)
        tap.check(j is not None and j["joined_at_s"] is not None and j["parent_pid"] == 0 and
                  j["alloc_counted_since_s"] is not None,
                  "a process moved into the child cgroup joined, its calls counted", j)
        tap.eq(j and j["alloc_calls"], M, "its %d pairs after it joined, exactly" % M)
        tap.check(lv is not None and lv["left_cgroup"] and lv["alloc_calls"] == 0,
                  "a process moved out left: nothing counted after", lv)
        tap.eq(summary["process"]["pid"], min(named), "the top-level process: the first named")
    finally:
        for p in (joiner, leaver):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        if memwatch and memwatch.poll() is None:
            memwatch.kill()
            memwatch.wait()
        if server:
            server.stop()
        remove_cgroup(cg)


WAITING = "memwatch: cgroup %s has no process yet: waiting for one. Ctrl-C to end.\n"


class EmptyWatch(mwtest.Reports):
    """memwatch --json -o FILE -v -i 0.2 --cgroup CG, its stderr in a file."""

    def __init__(self, cg):
        self.report = tempfile.NamedTemporaryFile("r", suffix=".json")
        self.said = tempfile.NamedTemporaryFile("r", suffix=".err")
        self.memwatch = subprocess.Popen([mwtest.MEMWATCH, "--json", "-o", self.report.name,
                                          "-v", "-i", "0.2", "--cgroup", cg],
                                         stdout=subprocess.DEVNULL,
                                         stderr=open(self.said.name, "w"))

    def process(self, record, pid):
        return next((p for p in record["processes"] if p["pid"] == pid), None)


def check_empty_text(tap, cg):
    """Text reports of an empty cgroup: waiting, one line said, --count ends it."""
    run = subprocess.run([mwtest.MEMWATCH, "--format=text", "-i", "0.2", "--count", "3",
                          "--cgroup", cg], capture_output=True, text=True, timeout=60)
    tap.eq((run.returncode, run.stderr), (0, WAITING % cg),
           "an empty cgroup: one line says memwatch waits; --count 3 ends it, exit 0")
    waiting = re.findall(r"^\s+\d+\.\ds no process yet: waiting for one to join the cgroup",
                         run.stdout, re.M)
    tap.check(len(waiting) == 3, "three reports of no process yet", run.stdout)
    tap.check(re.search(r"^=== memwatch summary: no process joined the cgroup, watched "
                        r"[\d.]+s ===$", run.stdout, re.M), "a summary of no process",
              run.stdout[-800:])


def check_empty_cgroup(tap):
    """A cgroup with no process: memwatch watches and waits; the first process started into
    it is picked up with its uprobes, its malloc calls counted exactly, and becomes the
    reports' top-level process; SIGINT ends the watch as for a non-empty cgroup."""
    root = cgroup2_root()
    if not root:
        mwtest.not_here(tap, "an empty cgroup", "no cgroup v2 mounted")
        return
    cg = "%s/memwatch-empty-%d" % (root, os.getpid())
    os.mkdir(cg)
    watch = joiner = None
    n = 20000
    try:
        check_empty_text(tap, cg)
        watch = EmptyWatch(cg)
        if not tap.check(mwtest.wait_in_file(watch.said.name, re.escape(WAITING % cg)),
                         "memwatch --json of an empty cgroup says it waits",
                         mwtest.read_file(watch.said.name)[-1500:]):
            return
        deadline = time.monotonic() + 30
        while len([r for r in watch.records() if r["type"] == "interval"]) < 5 and \
                time.monotonic() < deadline and watch.memwatch.poll() is None:
            time.sleep(0.05)
        tap.eq(watch.memwatch.poll(), None, "it stays running over the intervals")
        before = [r for r in watch.records() if r["type"] == "interval"]
        tap.check(len(before) >= 5 and all(
            r["process"] is None and r["threads"] == [] and r["processes"] == [] and
            r["total"]["processes"] == 0 and r["total"]["alloc_calls"] == 0 for r in before),
                  "its interval records: process null, no processes, a zero total",
                  before[-1:])
        # the shell joins the cgroup, then execs the workload, which waits for a line
        joiner = subprocess.Popen(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg,
                                   *mwtest.channel("paired", "-n", n, "-w")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        ready = mwtest.wait_for_line(joiner.stderr, r"ready pid=(\d+)")
        probed = r"pid %d (\(channel\): malloc probed|exec'd channel: malloc (still )?probed)" \
            % joiner.pid
        if not tap.check(ready and mwtest.wait_in_file(watch.said.name, probed),
                         "memwatch placed the uprobes of the process started into the cgroup",
                         mwtest.read_file(watch.said.name)[-1500:]):
            return
        # what it counted before the work (the shell's calls, if any): a record after now
        base = watch.record_after()
        first = base and watch.process(base, joiner.pid)
        if not tap.check(first is not None, "an interval reports it", base):
            return
        tap.eq(base["process"]["pid"], joiner.pid, "the first to join is the top-level process")
        joiner.stdin.write(b"\n")
        joiner.stdin.close()
        did = mwtest.parse_workload(joiner.stdout.read().decode())["total"]
        joiner.wait(timeout=60)
        mwtest.wait_in_file(watch.report.name,
                            r'"pid":%d,"comm":"channel","exited":true' % joiner.pid)
        watch.memwatch.send_signal(signal.SIGINT)
        code = watch.memwatch.wait(timeout=60)
        tap.eq(code, 0, "SIGINT ends the watch: exit 0 after the summary")
        said = mwtest.read_file(watch.said.name)
        tap.eq(said.count(WAITING % cg), 1, "the waiting line said once")
        _, summary, _ = mwtest.parse_reports(watch.report.read())
        if not tap.check(summary is not None and did is not None, "a summary, the workload's"):
            return
        p = summary["process"]
        tap.check(p["pid"] == joiner.pid and p["joined_at_s"] is not None and
                  p["parent_pid"] == 0 and p["exited"],
                  "the summary's process: the one that joined, exited", p)
        tap.eq(summary["total"]["processes"], 1, "one process in the total")
        tap.eq({"allocs": p["alloc_calls"] - first["alloc_calls"],
                "frees": p["free_calls"] - first["free_calls"],
                "alloc_bytes": p["alloc_bytes"] - first["alloc_bytes"]},
               {k: did[k] for k in ("allocs", "frees", "alloc_bytes")},
               "its malloc and free calls, exactly the workload's")
        # a joiner has every tracepoint, the first one too
        tap.check(summary["probes"]["malloc"] and summary["probes"]["tracepoints"] > 0,
                  "its probes: malloc, and the tracepoints", summary["probes"])
    finally:
        if joiner and joiner.poll() is None:
            joiner.kill()
            joiner.wait()
        if watch and watch.memwatch.poll() is None:
            watch.memwatch.kill()
            watch.memwatch.wait()
        remove_cgroup(cg)


def check_bad_cgroup(tap):
    run = subprocess.run([mwtest.MEMWATCH, "--cgroup", "/nonexistent-cgroup"],
                         capture_output=True, text=True, timeout=30)
    tap.eq((run.returncode, run.stderr.count("\n")), (3, 1), "--cgroup of no cgroup: exit 3, one line")
    run = subprocess.run([mwtest.MEMWATCH, "--cgroup", "/tmp"], capture_output=True, text=True,
                         timeout=30)
    tap.eq((run.returncode, run.stderr.count("\n")), (2, 1),
           "--cgroup of a directory that is no cgroup v2: exit 2, one line")
    run = subprocess.run([mwtest.MEMWATCH, "--cgroup", "/tmp", "-p", "1"], capture_output=True,
                         text=True, timeout=30)
    tap.eq(run.returncode, 2, "--cgroup with -p: a usage error")


if __name__ == "__main__":
    mwtest.run_checks("cgroup", check_bad_cgroup, check_empty_cgroup, check_server)
