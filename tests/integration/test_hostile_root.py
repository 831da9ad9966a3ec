#!/usr/bin/env python3
"""A target whose root is hostile: files under /proc/PID/root are the target's,
and memwatch (root) must never trust them. The target runs in a mount namespace
the test creates, pivoted into a tmpfs holding only it, its loader and its libc
(a container's shape), as root and, where the machine allows it, as nobody in
its own user namespace (unshare -Urm). Then its /etc/ld.so.preload becomes a
FIFO, a symlink to /dev/zero or a list over 64 KiB, and its libc's path a
symlink to /etc/shadow. Each time memwatch -p answers within 2 s, its peak RSS
stays under 64 MiB, one line names the file and why, and (strace) it opens
nothing through a path resolved in its own root: no /proc/PID/root/... path,
and never the host's /etc/shadow."""
import ctypes
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import mwtest

ANSWER_S = 2.0
RSS_MAX_KB = 64 * 1024
NOBODY = 65534
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000

# sh -c SCRIPT sh ROOT CHANNEL LIBC LOADER INTERP: the target's root is a tmpfs
SCRIPT = r'''set -e
root=$1
mount --make-rprivate /
mount -t tmpfs hostile "$root"
mkdir -p "$root/lib" "$root/etc" "$root/dev" "$root/old" "$root$(dirname "$5")"
touch "$root/dev/zero"
mount --bind /dev/zero "$root/dev/zero"
cp "$2" "$root/channel"
cp "$3" "$root/lib/libc.so.6"
cp "$4" "$root$5"
cd "$root"
pivot_root . old
LD_LIBRARY_PATH=/lib exec /channel batch -n 0 -w
'''


def mapped_path(pattern):
    """The file this test's own process mapped whose path matches @pattern."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if re.search(pattern, path):
                return path
    return None


def interpreter(path):
    """The PT_INTERP path of the 64-bit ELF file @path."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data,
                                                                 phoff + i * phentsize)
        if p_type == 3:
            return data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    return None


class HostileRoot:
    """A waiting channel whose root is a tmpfs of its own mount namespace."""

    def __init__(self, unprivileged):
        self.dir = tempfile.mkdtemp(prefix="mw-hostile-")
        os.chmod(self.dir, 0o755)
        interp = interpreter(mwtest.CHANNEL)
        argv = ["unshare", "--mount", "sh", "-c", SCRIPT, "sh", self.dir, mwtest.CHANNEL,
                mapped_path(r"/libc\.so\.6$"), os.path.realpath(interp), interp]
        if unprivileged:
            argv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                    "unshare", "--user", "--map-root-user", *argv[1:]]
        self.target = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
        said = []
        ready = mwtest.wait_for_line(self.target.stderr, r"ready pid=(\d+)", seen=said)
        self.said = "".join(said)
        self.pid = int(ready.group(1)) if ready else None

    def inside(self, change):
        """Runs @change() in the target's namespaces, as its own root there (in its user
        namespace: files there belong to ids of its own), paths being those it sees."""
        libc = ctypes.CDLL(None, use_errno=True)
        child = os.fork()
        if child == 0:
            code = 1
            try:
                for ns, flag in (("user", CLONE_NEWUSER), ("mnt", CLONE_NEWNS)):
                    if os.readlink("/proc/%d/ns/%s" % (self.pid, ns)) == \
                            os.readlink("/proc/self/ns/%s" % ns):
                        continue
                    fd = os.open("/proc/%d/ns/%s" % (self.pid, ns), os.O_RDONLY)
                    if libc.setns(fd, flag):
                        raise OSError(ctypes.get_errno(), "setns " + ns)
                    if flag == CLONE_NEWUSER:
                        # ids that namespace maps: its root is the user that made it
                        os.setresgid(0, 0, 0)
                        os.setresuid(0, 0, 0)
                change()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        return status == 0

    def set_preload(self, make):
        """Replaces the root's /etc/ld.so.preload with what @make(path) creates."""
        def change():
            path = "/etc/ld.so.preload"
            if os.path.lexists(path):
                os.remove(path)
            if make:
                make(path)
        return self.inside(change)

    def set_libc_symlink(self, target):
        """The root's /lib/libc.so.6, mapped by the target, replaced by a symlink to @target."""
        def change():
            os.remove("/lib/libc.so.6")
            os.symlink(target, "/lib/libc.so.6")
        return self.inside(change)

    def close(self):
        if self.target.poll() is None:
            self.target.kill()
        self.target.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def limit_data():
    """memwatch's own heap bounded (256 MiB), should it read without end."""
    resource.setrlimit(resource.RLIMIT_DATA, (256 << 20, 256 << 20))


def peak_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def attach(pid, options=()):
    """memwatch -p @pid until it watches or says why not, at most ANSWER_S.

    Returns (seconds to the answer or None, peak RSS in KiB, stderr, exit code).
    """
    start = time.monotonic()
    proc = subprocess.Popen([mwtest.MEMWATCH, "--json", "-o", "/dev/null", "-i", "0.1",
                             *options, "-p", str(pid)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=limit_data)
    said = []
    watching = mwtest.wait_for_line(proc.stderr, r"watching pid", timeout=ANSWER_S, seen=said)
    answered = time.monotonic() - start if watching or proc.poll() is not None else None
    rss = peak_rss_kb(proc.pid)
    proc.send_signal(signal.SIGKILL if answered is None else signal.SIGINT)
    try:
        rest = proc.communicate(timeout=mwtest.TIMEOUT)[1].decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.kill()
        rest = proc.communicate()[1].decode(errors="replace")
    return answered, rss, "".join(said) + rest, proc.returncode


def opened_outside(pid, strace_log):
    """What memwatch's strace log shows of files reached through memwatch's own root:
    paths spelled /proc/PID/root/..., and any descriptor that is the host's /etc/shadow."""
    bad = []
    with open(strace_log) as f:
        for line in f:
            if "/proc/%d/root/" % pid in line or "</etc/shadow>" in line:
                bad.append(line.strip())
    return bad


def strace_attach(pid):
    """memwatch -c 1 under strace: its log lines showing files reached outside the root."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        try:
            subprocess.run(["strace", "-f", "-qq", "-y", "-o", log.name, "-e",
                            "trace=open,openat,openat2", mwtest.MEMWATCH, "--json", "-o",
                            "/dev/null", "-c", "1", "-i", "0.1", "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           preexec_fn=limit_data, timeout=10)
        except subprocess.TimeoutExpired:
            pass
        return opened_outside(pid, log.name)


def check_case(tap, name, hostile, file_re, why_re, has_strace):
    answered, rss, stderr, code = attach(hostile.pid)
    tap.check(answered is not None and answered <= ANSWER_S,
              "%s: memwatch answers within %.0f s" % (name, ANSWER_S),
              "answered after %s s; said: %s" % (answered, stderr[-1500:]))
    tap.check(rss is not None and rss < RSS_MAX_KB, "%s: peak RSS under 64 MiB" % name,
              "VmHWM %s KiB" % rss)
    lines = [l for l in stderr.splitlines() if re.search(file_re, l)]
    tap.check(len(lines) == 1 and re.search(why_re, lines[0]),
              "%s: one line names the file and why" % name, stderr[-1500:])
    if has_strace:
        bad = strace_attach(hostile.pid)
        tap.check(not bad, "%s: nothing opened through memwatch's own root (strace)" % name,
                  "\n".join(bad[:5]))
    return stderr


def check_root(tap, unprivileged):
    who = "unprivileged" if unprivileged else "root"
    hostile = HostileRoot(unprivileged)
    try:
        if unprivileged and not hostile.pid:
            # a machine may forbid user namespaces to unprivileged users
            tap.skip("%s: a target in its own user and mount namespace" % who,
                     "unshare -Urm as nobody refused here: " + hostile.said.strip()[-200:])
            return
        if not tap.check(hostile.pid, "%s: the target runs in its own root" % who,
                         hostile.said):
            return
        has_strace = shutil.which("strace") is not None
        if not has_strace:
            mwtest.not_here(tap, "%s: strace of memwatch's opens" % who, "no strace here")
        preload = r"/etc/ld\.so\.preload"
        if not tap.check(hostile.set_preload(os.mkfifo), "%s: a FIFO made in its root" % who):
            return
        check_case(tap, "%s, ld.so.preload a FIFO" % who, hostile, preload,
                   r"pid %d.* is a FIFO, not a regular file: ignored" % hostile.pid, has_strace)
        hostile.set_preload(lambda path: os.symlink("/dev/zero", path))
        check_case(tap, "%s, ld.so.preload a symlink to /dev/zero" % who, hostile, preload,
                   r"is a character device, not a regular file: ignored", has_strace)

        def big_list(path):
            with open(path, "w") as f:
                f.write("/lib/libnothing.so " * 4000)
        hostile.set_preload(big_list)
        check_case(tap, "%s, ld.so.preload over 64 KiB" % who, hostile, preload,
                   r"holds 76000 bytes, over the 64 KiB a preload list may have: ignored",
                   has_strace)
        hostile.set_preload(None)

        hostile.set_libc_symlink("/etc/shadow")
        said = check_case(tap, "%s, libc a symlink to /etc/shadow" % who, hostile,
                          r"/lib/libc\.so\.6 of pid",
                          r"in its root is a symlink to a file that is not there.*: its "
                          r"mapping itself is probed", has_strace)
        watching = re.search(r"watching pid \d+ .*: \d+ tracepoints, (\d+) uprobes on (\S+)\.",
                             said)
        tap.check(watching and int(watching.group(1)) > 0 and
                  watching.group(2) == "/lib/libc.so.6",
                  "%s, libc a symlink: the libc the target mapped is probed" % who, said[-1500:])
    finally:
        hostile.close()


def check_as_root(tap):
    check_root(tap, False)


def check_unprivileged(tap):
    check_root(tap, True)


if __name__ == "__main__":
    mwtest.run_checks("hostile roots", check_as_root, check_unprivileged)
