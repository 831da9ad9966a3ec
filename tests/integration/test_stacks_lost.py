#!/usr/bin/env python3
"""--stacks=all with memwatch held to 1% of a core (a cgroup's CPU quota: cgroup v2's cpu.max
"1000 100000", or cgroup v1's cfs quota where v2 has no cpu controller) while the sites
workload makes 3 x 20,000 allocator calls: the stack ring buffer fills and the summary
counts what it lost, and every call is either a stack unwound or a stack lost:
stacks.samples + stacks.lost_samples == the process's alloc_calls, exactly.

Not a race: the ring buffer holds about 2,000 samples of 16 KiB; at 1% of a core memwatch
gets 10 ms a second, at most ~3,000 stacks unwound at its ~3 us each, while the workload's
60,000 calls take about a second (it runs outside the quota). The quota is lifted once the
workload said it is done, so that memwatch drains and reports at full speed."""
import os
import subprocess
import tempfile
import mwtest
from test_stacks import MODULES_READ, SITES

N = 20000
QUOTA_US, PERIOD_US = 1000, 100000


def hierarchy_with_cpu():
    """(the mount point, whether it is cgroup v2) of a hierarchy with the cpu controller."""
    v1 = None
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[2] == "cgroup2":
                try:
                    controllers = mwtest.read_file(fields[1] + "/cgroup.controllers").split()
                except OSError:
                    continue
                if "cpu" in controllers:
                    return fields[1], True
            elif fields[2] == "cgroup" and "cpu" in fields[3].split(","):
                v1 = fields[1]
    return (v1, False) if v1 else (None, None)


class Throttle:
    """A child cgroup whose processes get QUOTA_US of CPU every PERIOD_US."""

    def __init__(self):
        self.root, self.v2 = hierarchy_with_cpu()
        self.path = None
        # the cpu controller enabled for the root's children by the test, to undo after
        self.enabled = False
        if not self.root:
            return
        self.path = "%s/memwatch-throttle-%d" % (self.root, os.getpid())
        if self.v2 and "cpu" not in mwtest.read_file(self.root + "/cgroup.subtree_control"):
            self.write(self.root + "/cgroup.subtree_control", "+cpu")
            self.enabled = True
        os.mkdir(self.path)
        self.limit(True)

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    def limit(self, on):
        if self.v2:
            self.write(self.path + "/cpu.max", "%s %d" % (QUOTA_US if on else "max", PERIOD_US))
        else:
            self.write(self.path + "/cpu.cfs_period_us", str(PERIOD_US))
            self.write(self.path + "/cpu.cfs_quota_us", str(QUOTA_US if on else -1))

    def add(self, pid):
        self.write(self.path + "/cgroup.procs", str(pid))

    def remove(self):
        """Its processes back to the hierarchy's root, then the cgroup itself, then the
        controller the test enabled (unless another cgroup uses it now)."""
        if not self.path or not os.path.isdir(self.path):
            return
        for pid in mwtest.read_file(self.path + "/cgroup.procs").split():
            try:
                self.add_to_root(pid)
            except OSError:
                pass
        os.rmdir(self.path)
        if self.enabled:
            try:
                self.write(self.root + "/cgroup.subtree_control", "-cpu")
            except OSError:
                pass

    def add_to_root(self, pid):
        self.write(self.root + "/cgroup.procs", pid)


def check_lost(tap):
    throttle = Throttle()
    if not throttle.path:
        mwtest.not_here(tap, "a full stack ring buffer", "no cgroup hierarchy with cpu here")
        return
    proc = None
    try:
        with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
            proc = subprocess.Popen([mwtest.MEMWATCH, "-v", "--json", "-o", report.name,
                                     "--stacks=all", "--", SITES, str(N), "gate"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            seen = []
            ready = mwtest.wait_for_line(proc.stderr, MODULES_READ, seen=seen)
            # loaded and attached at full speed; held to 1% before the workload's calls
            throttle.add(proc.pid)
            proc.stdin.close()
            proc.stdin = None
            done = mwtest.wait_for_line(proc.stdout, r"^sites n=\d+", timeout=mwtest.TIMEOUT)
            throttle.limit(False)
            _, err = proc.communicate(timeout=mwtest.TIMEOUT)
            text = report.read()
        err = "".join(seen) + err.decode(errors="replace")
        summary = mwtest.parse_reports(text)[1] if text else None
        if not tap.check(ready and done and proc.returncode == 0 and summary is not None and
                         "stacks" in summary, "memwatch at 1% of a core ran the workload "
                         "and reported", err[-2000:]):
            return
        stacks, calls = summary["stacks"], summary["process"]["alloc_calls"]
        tap.check(stacks["lost"] > 0 and stacks["lost_samples"] > 0,
                  "the ring buffer filled: records and stacks lost (%d, %d)" % (
                      stacks["lost"], stacks["lost_samples"]), stacks)
        tap.ge(calls, 3 * N, "every allocator call counted")
        tap.eq(stacks["samples"] + stacks["lost_samples"], calls,
               "stacks unwound + stacks lost == allocator calls (%d + %d)" % (
                   stacks["samples"], stacks["lost_samples"]))
        tap.check(stacks["lost_samples"] <= stacks["lost"], "the stacks lost are records lost",
                  stacks)
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        throttle.remove()


if __name__ == "__main__":
    mwtest.run_checks("--stacks' lost records", check_lost, needs=((SITES, "cc"),))
