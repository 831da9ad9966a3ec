#!/usr/bin/env python3
"""Containers and replaced files: a uprobe belongs to an inode, so memwatch must
probe the very file the target mapped. A target in its own mount namespace, whose
libc exists only there, is probed through /proc/PID/root; a target whose libc was
replaced on disk after it mapped it is probed through /proc/PID/map_files. Both
are checked by device and inode against /proc/PID/maps, and by exact counts."""
import os
import re
import shutil
import subprocess
import tempfile

import mwtest

N = 100000

# memwatch -v: "allocator: PATH in pid P's root, dev MA:MI inode I, is the file it mapped"
SAME_FILE = re.compile(r"allocator: (\S+) in pid (\d+)'s root, dev (\w+:\w+) inode (\d+), is the "
                       r"file it mapped")
MAP_FILES = re.compile(r"allocator: probing (/proc/\d+/map_files/\S+), dev (\w+:\w+) inode (\d+)")


def mapped(pid, suffix):
    """(path, 'major:minor', inode) of the first mapping of pid whose path ends with @suffix."""
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].rstrip("\n").replace(" (deleted)", "").endswith(suffix):
                return fields[5].rstrip("\n"), fields[3], fields[4]
    return None


def attached_pair(tap, name, command_of):
    """N and 0 runs of the channel batch under `memwatch -v -p`: [(att info, Run)] or None.

    @command_of(n) gives the workload's argv and env; it waits (-w) until memwatch watches.
    """
    runs = []
    for n in (N, 0):
        cmd, env = command_of(n)
        att = mwtest.Attached(cmd, ["-v", "-i", "0.2"], env=env)
        try:
            if not tap.check(att.ready and att.watching, "%s: attached (-n %d)" % (name, n),
                             "".join(att.memwatch_said)[-2000:]):
                return None
            maps = mapped(att.target.pid, "libc.so.6")
            said = "".join(att.memwatch_said)
            att.start_work()
            runs.append(({"maps": maps, "said": said}, att.finish()))
        finally:
            att.kill()
    return runs


def check_exact(tap, name, runs):
    (_, full), (_, empty) = runs
    did = full.workload["total"]
    tap.check(did is not None and full.summary and empty.summary, "%s: reports" % name)
    if not did:
        return
    mwtest.check_difference(tap, name, full, empty,
                            (("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
                             ("free_calls", "frees"), ("free_bytes", "free_bytes")), did)
    mwtest.check_nothing_lost(tap, name, (full,), untracked=False)


def check_mount_namespace(tap):
    """libc copied into a tmpfs mounted only in the target's mount namespace."""
    libc = mwtest.host_libc()
    if not tap.check(libc and shutil.which("unshare"), "namespace: unshare and a libc to copy"):
        return
    top = tempfile.mkdtemp(prefix="mw-ns-")
    lib = os.path.join(top, "lib")
    script = ('mount -t tmpfs mw-ns "$1" && mkdir "$1/lib" && cp "$2" "$1/lib/" && '
              'LD_LIBRARY_PATH="$1/lib" exec "$3" batch -n "$4" -w -q')

    def command_of(n):
        return (["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                 top, libc, mwtest.CHANNEL, str(n)], None)

    try:
        runs = attached_pair(tap, "namespace", command_of)
        tap.check(not os.path.exists(os.path.join(lib, "libc.so.6")),
                  "namespace: the host has no %s/libc.so.6" % lib)
        if not runs:
            return
        for (info, run), n in zip(runs, (N, 0)):
            maps, said = info["maps"], info["said"]
            if not tap.check(maps and maps[0] == os.path.join(lib, "libc.so.6"),
                             "namespace: the target mapped its libc from %s (-n %d)" % (lib, n),
                             maps):
                continue
            m = SAME_FILE.search(said)
            if not tap.check(m, "namespace: -v names the file opened and the one mapped", said):
                continue
            print("# namespace: %s" % m.group(0))
            tap.eq((m.group(1), int(m.group(2))), (maps[0], run.summary["process"]["pid"]),
                   "namespace: opened inside the root of the target")
            tap.eq((m.group(3), m.group(4)), (maps[1], maps[2]),
                   "namespace: the device and inode opened are those in /proc/PID/maps")
            host = os.stat(libc)
            tap.check((os.major(host.st_dev), os.minor(host.st_dev), host.st_ino)
                      != tuple(int(x, 16) for x in maps[1].split(":")) + (int(maps[2]),),
                      "namespace: a different file from the host's libc")
            tap.eq(run.summary["probes"]["allocator"], maps[0],
                   "namespace: the summary names the path the target sees")
        check_exact(tap, "namespace", runs)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def check_replaced_library(tap):
    """libc replaced on disk after the target mapped it (an upgrade): the mapped,
    deleted inode is the one probed, through /proc/PID/map_files."""
    libc = mwtest.host_libc()
    top = tempfile.mkdtemp(prefix="mw-replaced-")
    copy = os.path.join(top, "libc.so.6")

    def command_of(n):
        shutil.copy(libc, copy)
        return ([mwtest.CHANNEL, "batch", "-n", str(n), "-w", "-q"],
                dict(os.environ, LD_LIBRARY_PATH=top))

    # the target maps the copy, then the copy is replaced, then memwatch attaches
    runs = []
    try:
        for n in (N, 0):
            cmd, env = command_of(n)
            target = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env)
            ready = mwtest.wait_for_line(target.stderr, r"ready pid=(\d+)")
            os.rename(shutil.copy(libc, copy + ".new"), copy)
            maps = mapped(target.pid, "libc.so.6")
            att = AttachTo(target, ready, ["-v", "-i", "0.2"])
            try:
                if not tap.check(ready and att.watching, "replaced: attached (-n %d)" % n,
                                 "".join(att.memwatch_said)[-2000:]):
                    return
                said = "".join(att.memwatch_said)
                att.start_work()
                runs.append(({"maps": maps, "said": said}, att.finish()))
            finally:
                att.kill()
        for (info, run), n in zip(runs, (N, 0)):
            maps, said = info["maps"], info["said"]
            tap.check(maps and maps[0].endswith(" (deleted)"),
                      "replaced: the target's libc shows as deleted (-n %d)" % n, maps)
            m = MAP_FILES.search(said)
            if not tap.check(m, "replaced: probed through /proc/PID/map_files", said):
                continue
            print("# replaced: %s" % m.group(0))
            tap.eq((m.group(2), m.group(3)), (maps[1], maps[2]),
                   "replaced: the device and inode probed are those in /proc/PID/maps")
        check_exact(tap, "replaced", runs)
    finally:
        shutil.rmtree(top, ignore_errors=True)


class AttachTo(mwtest.Attached):
    """memwatch -p on a target already started and ready (mwtest.Attached starts its own)."""

    def __init__(self, target, ready, options=()):
        self.report = tempfile.NamedTemporaryFile("r", suffix=".json")
        self.target = target
        self.ready = ready
        argv = [mwtest.MEMWATCH, "--json", "-o", self.report.name, *options, "-p",
                str(target.pid)]
        self.memwatch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.memwatch_said = []
        self.watching = mwtest.wait_for_line(self.memwatch.stderr, r"watching pid (\d+)",
                                             seen=self.memwatch_said)


if __name__ == "__main__":
    mwtest.run_checks("mount namespaces and replaced files", check_mount_namespace,
                      check_replaced_library)
