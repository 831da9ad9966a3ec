#!/usr/bin/env python3
"""The target changes under memwatch: it execs a program with another allocator
(a preload, a static musl binary), the same libc, or none (a stripped static
binary), from its main thread or another one, before memwatch's tracepoints are
in, or before its loader has mapped libc (held there by a FIFO in LD_PRELOAD, or
by gdb); or it exits at any stage of the attach.

After an exec the uprobes are on the new image's allocator, and the counts of the
new image's work are exact: each case runs with N items and with 0, the workload
waits (-w) until memwatch said it probes the new image, and the difference must
be what the workload did. Stages of the attach are held with gdb, so that the
target execs or exits exactly there."""
import os
import re
import shutil
import subprocess
import tempfile

import mwtest

N = 100000
STATIC = mwtest.CHANNEL + "-static"
MUSL = mwtest.CHANNEL + "-musl"
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
COUNTERS = [("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
            ("known_frees", "frees"), ("free_bytes", "free_bytes")]
READY = r"ready pid=(\d+)"


def moved(comm, path=None, origin=None):
    """What memwatch says when the uprobes moved to a new image's allocator."""
    where = r"\S+ \(\w+\)" if path is None else r"%s \(%s\)" % (re.escape(path), origin)
    return r"pid \d+ exec'd %s: malloc probed in %s from here on" % (re.escape(comm), where)


def exec_into(*argv):
    """sh (glibc, a few mallocs of its own) that execs @argv, passing -n N on."""
    return ["sh", "-c", 'exec "$@"', "sh", *map(str, argv)]


class Launched(mwtest.Reports):
    """memwatch -- CMD, CMD sharing memwatch's stdin and stderr: its -w waits on the test.
    Without @cmd, @options name the target (-p)."""

    def __init__(self, cmd, options=(), env=None):
        self.report = tempfile.NamedTemporaryFile("r", suffix=".json")
        argv = [mwtest.MEMWATCH, "--json", "-o", self.report.name, *options]
        if cmd:
            argv += ["--", *cmd]
        self.proc = self.memwatch = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                                     stdout=subprocess.PIPE,
                                                     stderr=subprocess.PIPE, env=env)
        self.said = []

    def wait_for(self, *patterns):
        return mwtest.wait_for_all(self.proc.stderr, patterns, seen=self.said)

    def release(self):
        self.proc.stdin.write(b"\n")
        self.proc.stdin.flush()

    def finish(self):
        out, err = self.proc.communicate(timeout=mwtest.TIMEOUT)
        self.report.seek(0)
        run = mwtest.Run(self.proc.returncode, out.decode(), "".join(self.said) + err.decode(),
                         self.report.read())
        self.report.close()
        return run

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def launched_pair(tap, name, cmd_of, waits, options=(), env=None, hold=None):
    """The N and 0 runs of cmd_of(n) under memwatch, each released once @waits matched.

    @hold, (patterns, let_go): first wait for what memwatch says while the target
    is held, then let_go() it. Each run keeps the counters of a report begun after
    @waits (run.ready): the calls the new image made before it waited were seen or
    not depending on when the probes landed (jemalloc's libstdc++ allocates 72,704
    bytes as it starts).
    """
    runs = []
    for n in (N, 0):
        run = Launched(cmd_of(n), [*options, "-i", "0.05"], env)
        try:
            if hold and not tap.check(run.wait_for(*hold[0]) and hold[1](),
                                      "%s: memwatch said so while held, then let go (-n %d)"
                                      % (name, n), "".join(run.said)[-3000:]):
                return None
            if not tap.check(run.wait_for(*waits), "%s: memwatch followed the exec (-n %d)"
                             % (name, n), "".join(run.said)[-3000:]):
                return None
            ready = run.record_after()
            if not tap.check(ready, "%s: a report while the workload waits (-n %d)" % (name, n)):
                return None
            run.release()
            runs.append(run.finish())
            runs[-1].ready = ready["process"]
            runs[-1].ready_threads = ready["threads"]
        finally:
            run.kill()
    return runs


def value(run, counter):
    """A process counter since run.ready, or since the start (mwtest.counter's names)."""
    ready = getattr(run, "ready", None)
    return mwtest.counter(run.process, counter) - (mwtest.counter(ready, counter) if ready else 0)


def check_exact(tap, name, runs):
    """Both runs ended well, and differ by exactly the workload's own count."""
    full, empty = runs
    if not tap.check(full.code == 0 and empty.code == 0 and full.summary and empty.summary
                     and full.workload["total"], "%s: memwatch and the workload ran" % name,
                     full.stderr + empty.stderr):
        return False
    mwtest.check_difference(tap, name, full, empty, COUNTERS, full.workload["total"], of=value)
    mwtest.check_nothing_lost(tap, name, (full, empty))
    return True


def check_probes(tap, name, run, allocator, origin, reattached, execs=1):
    probes = run.summary["probes"]
    tap.eq((probes["malloc"], probes["allocator"], probes["origin"]), (True, allocator, origin),
           "%s: the summary names the new image's allocator" % name)
    tap.eq(probes["reattached"], reattached, "%s: probes moved %d times" % (name, reattached))
    tap.eq(run.process["execs"], execs, "%s: %d exec counted" % (name, execs))


def check_preload(tap):
    """glibc's sh execs env, which execs the channel with jemalloc preloaded: the probes
    stay on libc for env, and move to jemalloc for the channel."""
    if not os.path.exists(JEMALLOC):
        mwtest.not_here(tap, "exec jemalloc", "not installed (Debian package libjemalloc2)")
        return
    runs = launched_pair(
        tap, "exec jemalloc",
        lambda n: exec_into("env", "LD_PRELOAD=" + JEMALLOC,
                            *mwtest.channel("batch", "-n", n, "-w", "-q")),
        [READY, moved("channel", JEMALLOC, "preload")])
    if runs and check_exact(tap, "exec jemalloc", runs):
        check_probes(tap, "exec jemalloc", runs[0], JEMALLOC, "preload", 1, execs=2)


def check_static_musl(tap):
    """sh execs a static musl binary: the probes move to the executable's own malloc."""
    if not os.access(MUSL, os.X_OK):
        mwtest.not_here(tap, "exec musl", "not built: no musl-gcc (Debian package musl-tools)")
        return
    runs = launched_pair(tap, "exec musl",
                         lambda n: exec_into(MUSL, "batch", "-n", n, "-w", "-q"),
                         [READY, moved("channel-musl", MUSL, "executable")])
    if runs and check_exact(tap, "exec musl", runs):
        check_probes(tap, "exec musl", runs[0], MUSL, "executable", 1)


def check_same_libc(tap):
    """sh execs a glibc program: the uprobes on libc's inode fire in the new image at
    once. The workload does not wait for memwatch (no -w): nothing was missed."""
    runs = [mwtest.memwatch_launch(exec_into(*mwtest.channel("batch", "-n", n, "-q")), ["-v"])
            for n in (N, 0)]
    if not check_exact(tap, "exec glibc", runs):
        return
    full = runs[0]
    probes = full.summary["probes"]
    tap.check(probes["malloc"] and "libc.so" in probes["allocator"], "exec glibc: libc probed",
              probes)
    tap.eq(probes["reattached"], 0, "exec glibc: the probes stayed")
    tap.check(re.search(r"pid \d+ exec'd channel: malloc still probed in \S+, the same file",
                        full.stderr), "exec glibc: -v says they stayed", full.stderr[-3000:])


def check_exec_while_loading(tap):
    """sh execs the channel with a FIFO in LD_PRELOAD: the channel's loader blocks
    opening it, libc not mapped yet, until the test opens the FIFO (then it reads an
    empty file, says so and ignores it). The uprobes on libc stay meanwhile and fire
    once the loader maps it, so every call is counted and nothing moves."""
    loading = (r"pid \d+ exec'd channel: its loader is still mapping libraries; "
               r"the uprobes on \S+ stay")
    stayed = r"pid \d+ exec'd channel: malloc still probed in \S+, the same file"
    with tempfile.TemporaryDirectory(prefix="mw-preload-") as tmp:
        fifo = os.path.join(tmp, "blocking.so")
        os.mkfifo(fifo)
        runs = launched_pair(
            tap, "exec while loading",
            lambda n: exec_into("env", "LD_PRELOAD=" + fifo,
                                *mwtest.channel("batch", "-n", n, "-w", "-q")),
            [READY, stayed], options=["-v"], hold=([loading], lambda: mwtest.fifo_touch(fifo)))
    if runs and check_exact(tap, "exec while loading", runs):
        tap.eq(runs[0].summary["probes"]["reattached"], 0, "exec while loading: never moved")


# a glibc program whose second thread execs argv[1..]: the main thread's task is gone after
THREAD_EXEC = r"""
#include <pthread.h>
#include <unistd.h>
static char **args;
static void *run(void *unused) { (void)unused; execv(args[0], args); return NULL; }
int main(int argc, char **argv)
{
	pthread_t t;
	(void)argc;
	args = argv + 1;
	pthread_create(&t, NULL, run, NULL);
	pthread_join(t, NULL);
	return 1;
}
"""


def check_thread_exec(tap):
    """Another thread than the main one execs: the probes are placed anew on the same libc."""
    with tempfile.TemporaryDirectory(prefix="mw-exec-") as top:
        src, exe = os.path.join(top, "thread_exec.c"), os.path.join(top, "thread_exec")
        with open(src, "w") as f:
            f.write(THREAD_EXEC)
        out = subprocess.run(["cc", "-O2", "-pthread", src, "-o", exe], capture_output=True,
                             text=True)
        if not tap.check(out.returncode == 0, "thread exec: program built", out.stderr):
            return
        runs = launched_pair(tap, "thread exec",
                             lambda n: [exe, *mwtest.channel("batch", "-n", n, "-w", "-q")],
                             [READY, moved("channel")])
    if runs and check_exact(tap, "thread exec", runs):
        allocator = runs[0].summary["probes"]["allocator"]
        tap.check("libc.so" in allocator, "thread exec: libc probed again", allocator)
        tap.eq(runs[0].summary["probes"]["reattached"], 1, "thread exec: probes placed anew")
        # the exec'ing thread took the PID and the exited leader's start time: not the leader
        rows = {t["tid"]: t for t in runs[0].ready_threads}
        pid = runs[0].ready["pid"]
        tap.check(pid in rows and not rows[pid]["exited"],
                  "thread exec: the PID's row is live after the exec", rows.get(pid))


def check_static_stripped(tap):
    """sh execs a stripped static binary: said on stderr and in the summary; syscalls still seen."""
    run = Launched(exec_into(STATIC, "batch", "-n", 10000, "-w", "-q"))
    try:
        said = run.wait_for(READY, r"pid \d+ exec'd channel-static: malloc not probed "
                                   r"\(no malloc found: static or Go binary\)")
        if not tap.check(said, "exec static: memwatch says the new image is not probed",
                         "".join(run.said)):
            return
        run.release()
        done = run.finish()
    finally:
        run.kill()
    tap.eq(done.code, 0, "exec static: the command's status")
    if not tap.check(done.summary, "exec static: summary printed", done.stderr):
        return
    probes = done.summary["probes"]
    tap.eq((probes["malloc"], probes["uprobes"], probes["uretprobes"], probes["origin"]),
           (False, 0, 0, ""), "exec static: the summary says malloc is not probed")
    tap.check("no malloc found" in probes["allocator"], "exec static: and why", probes)
    tap.check(done.process["brk_grow_bytes"] > 0, "exec static: its heap's growth is seen",
              done.process["brk_grow_bytes"])
    tap.eq(done.process["live_bytes"], 0, "exec static: sh's heap went with its image")


# ---- stages of the attach, held with gdb ----

def waiting_target():
    """A glibc channel waiting on stdin: alive until the test kills it."""
    target = subprocess.Popen(mwtest.channel("batch", "-n", 0, "-w"), stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return target, mwtest.wait_for_line(target.stderr, READY)


# (stage, gdb breakpoint): memwatch -p is held at each in turn while its target exits
STAGES = [("allocator discovery", "break allocator_of_process"),
          ("mapped-file check", "break mapped_file_open"),
          ("BPF load", "break load_bpf"),
          ("uprobes", "break follow_start"),
          ("tracepoints", "break probes_attach_tracepoints"),
          ("pidfd", "break syscall if $rdi == %d" % 434),
          ("last check", "break follow_settle")]


def exit_at(tap, stage, stop, reap=True):
    """The target exits (or, without @reap, becomes a zombie) while memwatch is at @stop."""
    name = "exit during attach, %s%s" % (stage, "" if reap else " (zombie)")
    target, ready = waiting_target()
    held = None
    try:
        if not tap.check(ready, "%s: target ready" % name):
            return
        held = mwtest.Held(stop, [mwtest.MEMWATCH, "-p", str(target.pid), "--json", "-o",
                                  "/dev/null"])
        if not tap.check(held.pid, "%s: memwatch held there" % name):
            return
        ids = mwtest.held_programs(held.pid)
        target.kill()
        # SIGKILL is only queued: memwatch is resumed once the target has really ended
        if reap:
            target.wait()
        else:
            mwtest.wait_ended(target.pid)
        held.resume()
        gdb_said, stderr = held.finish()
        lines = [l for l in stderr.splitlines() if l.strip()]
        tap.eq(mwtest.exit_code(gdb_said), 3, "%s: exit status 3" % name)
        tap.check(len(lines) == 1 and "process %d exited during attach" % target.pid in lines[0],
                  "%s: one line says so" % name, stderr + gdb_said[-2000:])
        tap.eq(mwtest.wait_gone(ids), set(), "%s: no program or link of memwatch's is left"
               % name)
    finally:
        target.kill()
        target.wait()
        if held:
            held.kill()


def check_exit_during_attach(tap):
    for stage, stop in STAGES:
        exit_at(tap, stage, stop)
    exit_at(tap, "uprobes", "break follow_start", reap=False)


def check_exec_during_attach(tap):
    """The target execs into jemalloc after memwatch found its libc and before its
    tracepoints are in (memwatch held at the BPF load): that exec is not counted, and
    the look at its image after the attach finds jemalloc."""
    if not os.path.exists(JEMALLOC):
        mwtest.not_here(tap, "exec during attach", "not installed (Debian package libjemalloc2)")
        return
    runs = []
    for n in (N, 0):
        name = "exec during attach (-n %d)" % n
        target = subprocess.Popen(
            ["sh", "-c", 'read line; exec env LD_PRELOAD="$0" "$@"', JEMALLOC,
             *mwtest.channel("batch", "-n", n, "-w", "-q")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        report = tempfile.NamedTemporaryFile("r", suffix=".json")
        held = mwtest.Held("break load_bpf", [mwtest.MEMWATCH, "-p", str(target.pid), "--json",
                                              "-o", report.name])
        try:
            if not tap.check(held.pid, "%s: memwatch held at the load" % name):
                return
            target.stdin.write(b"\n")
            target.stdin.flush()
            if not tap.check(mwtest.wait_for_line(target.stderr, READY),
                             "%s: the target exec'd" % name):
                return
            held.resume()
            watching = mwtest.wait_in_file(held.err, r"watching pid \d+ \(channel\): \d+ "
                                           r"tracepoints, \d+ uprobes on %s\." % re.escape(JEMALLOC))
            if not tap.check(watching, "%s: memwatch watches with jemalloc probed" % name,
                             mwtest.read_file(held.err)):
                return
            target.stdin.close()
            out = target.stdout.read().decode()
            target.wait(timeout=mwtest.TIMEOUT)
            gdb_said, stderr = held.finish()
            runs.append(mwtest.Run(mwtest.exit_code(gdb_said), out, stderr, report.read()))
        finally:
            target.kill()
            target.wait()
            held.kill()
            report.close()
    if check_exact(tap, "exec during attach", runs):
        check_probes(tap, "exec during attach", runs[0], JEMALLOC, "preload", 0, execs=0)


def held_pair(tap, label, stop, argv, nothing_yet):
    """memwatch -p on the channel held by gdb at @stop (commands) while its loader runs,
    for -n N and -n 0: memwatch says @nothing_yet, then probes libc once it is mapped
    (a debugger holds the target: it writes no breakpoint). The two runs, or None."""
    runs = []
    for n in (N, 0):
        name = "%s (-n %d)" % (label, n)
        target = mwtest.Held(stop, argv(n), after=["detach"], stderr_file=False,
                             stdin=subprocess.PIPE, status=False)
        memwatch = None
        try:
            if not tap.check(target.pid, "%s: target held" % name):
                return None
            memwatch = Launched(None, ["-p", str(target.pid), "--force-ptraced"])
            memwatch.proc.stdin.close()
            said = mwtest.wait_for_all(memwatch.proc.stderr, [r"watching pid"], seen=memwatch.said)
            if not tap.check(said and re.search(nothing_yet, "".join(memwatch.said)),
                             "%s: nothing to probe yet, and why" % name, "".join(memwatch.said)):
                return None
            target.resume()
            follow = mwtest.wait_for_all(memwatch.proc.stderr,
                                         [r"pid \d+ exec'd channel: malloc probed in"],
                                         seen=memwatch.said)
            ready = mwtest.wait_for_line(target.gdb.stderr, READY)
            if not tap.check(follow and ready, "%s: libc probed once mapped" % name,
                             "".join(memwatch.said)):
                return None
            target.gdb.stdin.write(b"\n")
            target.gdb.stdin.close()
            out = target.gdb.stdout.read().decode(errors="replace")
            memwatch.proc.wait(timeout=mwtest.TIMEOUT)
            runs.append(mwtest.Run(memwatch.proc.returncode, out,
                                   "".join(memwatch.said) + memwatch.proc.stderr.read().decode(),
                                   memwatch.report.read()))
        finally:
            if memwatch:
                memwatch.kill()
            target.kill()
    return runs


def check_loader_pending(tap):
    """memwatch -p on a process held right after env exec'd the channel (a debugger's
    exec catchpoint), before its loader mapped libc: nothing to probe yet, then libc
    once it is mapped."""
    runs = held_pair(tap, "held at exec", ["catch exec"],
                     lambda n: [shutil.which("env"),
                                *mwtest.channel("batch", "-n", n, "-w", "-q")],
                     "loader has not mapped the libraries yet")
    if runs and check_exact(tap, "held at exec", runs):
        allocator = runs[0].summary["probes"]["allocator"]
        tap.check("libc.so" in allocator, "held at exec: libc probed", allocator)


def check_loader_cache(tap):
    """memwatch -p on the channel held just after its loader mapped its cache, before libc:
    nothing to probe yet, and the loader's part said; once resumed, the loader maps libc
    and unmaps the cache, so the process maps as many files as when held: libc is probed
    all the same. Hits of the mmap catchpoint: the loader's first mmap's entry and return,
    the second's entry, then its return, the cache mapped."""
    runs = held_pair(tap, "held at the loader's cache", ["catch syscall mmap", "ignore 1 3"],
                     lambda n: mwtest.channel("batch", "-n", n, "-w", "-q"),
                     "loader has not mapped the libraries yet")
    if runs and check_exact(tap, "held at the loader's cache", runs):
        allocator = runs[0].summary["probes"]["allocator"]
        tap.check("libc.so" in allocator, "held at the loader's cache: libc probed", allocator)
        since = runs[0].summary["process"]["alloc_counted_since_s"]
        tap.check(since is not None and since > 0,
                  "held at the loader's cache: its calls counted from the probes, not the attach",
                  since)


def check_with_gdb(tap):
    if not subprocess.run(["sh", "-c", "command -v gdb"], capture_output=True).returncode == 0:
        mwtest.not_here(tap, "attach stages", "no gdb here (Debian package gdb)")
        return
    check_exit_during_attach(tap)
    check_exec_during_attach(tap)
    check_loader_pending(tap)
    check_loader_cache(tap)


if __name__ == "__main__":
    mwtest.run_checks("exec", check_preload, check_static_musl, check_same_libc,
                      check_exec_while_loading, check_thread_exec, check_static_stripped,
                      check_with_gdb,
                      needs=[(STATIC, "C compiler")])
