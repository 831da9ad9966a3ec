#!/usr/bin/env python3
"""Least privilege: memwatch runs as an ordinary user with exactly the
capabilities it needs (CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH, and
CAP_SYS_PTRACE for another user's process) and counts exactly; with one
missing it exits 4 with one line naming it, before anything is loaded; a
launched command gets none of them; and it writes no file unless -o says so.

memwatch runs under setpriv (util-linux) as uid 65534 with those capabilities
ambient; the targets are that uid's own processes and uid 65533's."""
import ctypes
import os
import re
import shutil
import struct
import subprocess
import tempfile

import mwtest

USER = 65534        # runs memwatch
OTHER = 65533       # another user, owning a target
MINIMAL = ["bpf", "perfmon", "dac_read_search"]
N = 100000
SIZE = 64
EXIT_PERMISSION = 4
LIBC = ctypes.CDLL(None, use_errno=True)
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_REFUSED = 99   # the exit status of a child that could not enter a domain
# what a launched command reports of its identity
IDENTITY = ["sh", "-c", "grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+):' /proc/self/status; exit 3"]


def as_user(uid, caps=()):
    """setpriv's argv prefix: @uid with exactly @caps, ambient so that they survive its exec."""
    capset = ",".join(["-all"] + ["+" + c for c in caps])
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
            "--inh-caps=" + capset, "--ambient-caps=" + capset]


class Place:
    """A directory the unprivileged user can reach (the work tree may not be),
    holding copies of memwatch and the channel workload, and a directory of its own
    for reports."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mw-priv-")
        os.chmod(self.dir, 0o755)
        self.memwatch = shutil.copy2(mwtest.MEMWATCH, self.dir)
        self.channel = shutil.copy2(mwtest.CHANNEL, self.dir)
        self.out = os.path.join(self.dir, "out")
        os.mkdir(self.out, 0o700)
        os.chown(self.out, USER, USER)

    def memwatch_as(self, caps):
        return as_user(USER, caps) + [self.memwatch]

    def channel_cmd(self, *args):
        return [self.channel, *[str(a) for a in args]]

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run(argv, timeout=mwtest.TIMEOUT):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def launch(place, caps, cmd, options=()):
    """memwatch --json -o REPORT OPTIONS -- CMD as USER with @caps; a Run."""
    report = os.path.join(place.out, "report.json")
    proc = run(place.memwatch_as(caps) + ["--json", "-o", report, *options, "--", *cmd])
    text = ""
    if os.path.exists(report):
        with open(report) as f:
            text = f.read()
        os.unlink(report)
    return mwtest.Run(proc.returncode, proc.stdout, proc.stderr, text)


def exact_counts(tap, name, full, empty):
    """The item work, N mallocs and frees of SIZE bytes, exactly, and uprobes really attached."""
    if not tap.check(full.code == 0 and empty.code == 0 and full.summary and empty.summary,
                     "%s: memwatch ran" % name, full.stderr + empty.stderr):
        return
    mwtest.check_difference(tap, name, full, empty,
                            (("alloc_calls", "allocs"), ("alloc_bytes", "bytes"),
                             ("free_calls", "frees"), ("free_bytes", "bytes")),
                            {"allocs": N, "frees": N, "bytes": N * SIZE})
    tap.ge(full.summary["probes"]["uprobes"], 2, "%s: the allocator's uprobes attached" % name)
    mwtest.check_nothing_lost(tap, name, (full,), untracked=False)


def check_launch(tap, place):
    runs = [launch(place, MINIMAL, place.channel_cmd("batch", "-n", n, "-s", SIZE))
            for n in (N, 0)]
    exact_counts(tap, "launch as uid %d" % USER, *runs)


def attached(place, target_uid, caps, n):
    """channel batch -n @n -w as @target_uid, memwatch -p on it as USER with @caps."""
    att = mwtest.Attached(as_user(target_uid) + place.channel_cmd("batch", "-n", n, "-s", SIZE,
                                                                  "-w"),
                          ["-i", "0.2"], memwatch=place.memwatch_as(caps),
                          report_owner=(USER, USER))
    try:
        if not (att.ready and att.watching):
            return mwtest.Run(att.memwatch.wait(timeout=mwtest.TIMEOUT), "",
                              "".join(att.memwatch_said) + att.memwatch.stderr.read().decode(),
                              "")
        att.start_work()
        return att.finish()
    finally:
        att.kill()


def check_attach(tap, place):
    exact_counts(tap, "-p of its own process", *[attached(place, USER, MINIMAL, n)
                                                 for n in (N, 0)])
    exact_counts(tap, "-p of another user's, with CAP_SYS_PTRACE",
                 *[attached(place, OTHER, MINIMAL + ["sys_ptrace"], n) for n in (N, 0)])


def refused(tap, name, result, missing):
    """Exit 4 and one line naming @missing and how to run it; nothing loaded or attached."""
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    tap.eq(result.returncode, EXIT_PERMISSION, "%s: exit code 4" % name)
    tap.check(len(lines) == 1 and lines[0].startswith("memwatch: needs root, or ")
              and missing in lines[0].partition("it lacks")[2] and "sudo" in lines[0]
              and "setcap" in lines[0],
              "%s: one line naming %s and how to run it" % (name, missing), result.stderr)


def check_refusals(tap, place):
    for cap in MINIMAL:
        caps = [c for c in MINIMAL if c != cap]
        result = run(place.memwatch_as(caps) + ["--json", "--"] +
                     place.channel_cmd("batch", "-n", 1000))
        name = "without CAP_%s" % cap.upper()
        refused(tap, name, result, "CAP_%s" % cap.upper())
        tap.eq(result.stdout, "", "%s: the command was never started" % name)

    target = subprocess.Popen(as_user(OTHER) + ["sleep", "60"])
    try:
        result = run(place.memwatch_as(MINIMAL) + ["--json", "-p", str(target.pid)])
        refused(tap, "-p of another user's, without CAP_SYS_PTRACE", result, "CAP_SYS_PTRACE")
        tap.eq(target.poll(), None, "-p of another user's, refused: the target runs on")
        own = subprocess.Popen(as_user(USER) + ["sleep", "60"])
        try:
            both = run(place.memwatch_as(MINIMAL) + ["--json", "-p",
                                                     "%d,%d" % (own.pid, target.pid)])
            refused(tap, "-p of its own and another user's", both, "CAP_SYS_PTRACE")
            tap.check("pid %d" % target.pid in both.stderr and "pid %d" % own.pid
                      not in both.stderr, "-p of several: the line names the one refused",
                      both.stderr)
        finally:
            own.kill()
            own.wait()
        nomalloc = run(place.memwatch_as(MINIMAL) + ["--no-malloc", "--json", "-c", "1",
                                                     "-i", "0.1", "-p", str(target.pid)])
        # a kernel that opens another user's smaps to CAP_PERFMON alone needs no more
        tap.check(nomalloc.returncode == 0 or "CAP_SYS_PTRACE" in nomalloc.stderr,
                  "--no-malloc -p of another user's: watched, or CAP_SYS_PTRACE named",
                  nomalloc.stderr)
    finally:
        target.kill()
        target.wait()


def check_launched_identity(tap, place):
    plain = run(as_user(USER) + IDENTITY)
    report = os.path.join(place.out, "identity.txt")
    watched = run(place.memwatch_as(MINIMAL) + ["-o", report, "--", *IDENTITY])
    caps = dict(re.findall(r"^(Cap\w+):\s*(\w+)$", watched.stdout, re.M))
    tap.eq(sorted(caps), ["CapAmb", "CapBnd", "CapEff", "CapInh", "CapPrm"],
           "launch: the command printed its capability sets")
    for key in ("CapAmb", "CapEff", "CapPrm", "CapInh"):
        tap.eq(int(caps.get(key, "1"), 16), 0, "launch: the command's %s is empty" % key)
    tap.eq(watched.stdout, plain.stdout,
           "launch: the command's identity and output are as without memwatch")
    tap.eq(watched.returncode, 3, "launch: memwatch exits with the command's status")
    tap.eq(plain.returncode, 3, "launch: the command alone exits 3")


WRITES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")
# a terminal and /dev/null are not files memwatch creates; the loader listing's stdio is /dev/null
HARMLESS = re.compile(r'"/dev/(null|tty\w*|pts/\d+)"')
CALLS = ["open", "openat", "openat2", "creat", "mkdir", "mkdirat", "rename", "renameat",
         "renameat2", "unlink", "unlinkat", "link", "linkat", "symlink", "symlinkat", "truncate",
         "mknod", "mknodat"]


def file_writes(trace):
    """The calls in an strace log that create, change or remove a file."""
    writes = []
    for line in trace.splitlines():
        match = re.match(r"\d+\s+(\w+)\((.*)", line)
        if not match or match.group(1) not in CALLS:
            continue
        call, args = match.groups()
        if call.startswith("open") and not WRITES.search(args):
            continue
        if not HARMLESS.search(args):
            writes.append(line)
    return writes


def traced(place, options):
    """File calls of memwatch (as USER, minimal capabilities) and what it runs, under strace."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        result = run(["strace", "-f", "-qq", "-e", "trace=" + ",".join(CALLS), "-o", log.name] +
                     place.memwatch_as(MINIMAL) + ["--json", *options, "--"] +
                     place.channel_cmd("batch", "-n", 1000))
        return result, file_writes(log.read())


def check_no_files(tap, place):
    if not shutil.which("strace"):
        mwtest.not_here(tap, "no files written", "strace is not installed (scripts/deps.sh)")
        return
    result, writes = traced(place, [])
    tap.eq(result.returncode, 0, "no -o: memwatch ran under strace")
    tap.eq(writes, [], "no -o: no file created, written or removed")
    report = os.path.join(place.out, "traced.json")
    result, writes = traced(place, ["-o", report])
    tap.check(result.returncode == 0 and len(writes) == 1 and report in writes[0],
              "-o FILE: that file is the one written", "\n".join(writes) + result.stderr)


def landlocked():
    """preexec_fn: the process enters a Landlock domain of its own (its ruleset handles
    one access it never needs). A process in a domain may not ptrace, nor read the
    /proc/PID files of, a process outside it: a refusal that CAP_SYS_PTRACE does not lift."""
    attr = ctypes.create_string_buffer(struct.pack("Q", 1 << 11))  # ACCESS_FS_MAKE_BLOCK
    ruleset = LIBC.syscall(SYS_LANDLOCK_CREATE_RULESET, attr, len(attr.raw), 0)
    if ruleset < 0 or LIBC.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0):
        os._exit(LANDLOCK_REFUSED)


def check_ptrace_refused(tap, place):
    """-p of a process the kernel's ptrace access check refuses although memwatch has
    CAP_SYS_PTRACE (a security module's doing, as for pid 1 in some sandboxes): exit 4,
    one line naming the file refused and by what, not a capability it has."""
    target = subprocess.Popen(place.channel_cmd("batch", "-n", 0, "-w"), stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not tap.check(mwtest.wait_for_line(target.stderr, r"ready pid="),
                         "ptrace refused: target ready"):
            return
        result = subprocess.run([mwtest.MEMWATCH, "-p", str(target.pid), "--json"],
                                capture_output=True, text=True, timeout=mwtest.TIMEOUT,
                                preexec_fn=landlocked)
        if result.returncode == LANDLOCK_REFUSED:
            mwtest.not_here(tap, "ptrace refused", "Landlock is not enabled in this kernel")
            return
        lines = [l for l in result.stderr.splitlines() if l.strip()]
        tap.eq(result.returncode, EXIT_PERMISSION, "ptrace refused: exit 4")
        tap.check(len(lines) == 1 and re.search(r"/proc/%d/\w+ refused .*ptrace access check"
                                                % target.pid, lines[0]) and
                  "lacks" not in lines[0],
                  "ptrace refused: one line names the file and the check, no missing capability",
                  result.stderr)
    finally:
        target.kill()
        target.wait()


def uprobe_multi_missing():
    """memwatch's uprobes need CAP_SYS_ADMIN before uprobe_multi links (Linux 6.6)."""
    release = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    return release < (6, 6)


if __name__ == "__main__":
    tap = mwtest.Tap()
    if mwtest.start(tap, "least privilege"):
        if not shutil.which("setpriv"):
            mwtest.cannot_run(tap, "least privilege", "setpriv (util-linux) is not installed")
        if uprobe_multi_missing():
            mwtest.cannot_run(tap, "least privilege",
                              "Linux < 6.6: without uprobe_multi links uprobes need CAP_SYS_ADMIN")
        place = Place()
        try:
            for check in (check_launch, check_attach, check_refusals, check_launched_identity,
                          check_no_files, check_ptrace_refused):
                check(tap, place)
        finally:
            place.remove()
        tap.done()
