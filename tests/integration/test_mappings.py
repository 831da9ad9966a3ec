#!/usr/bin/env python3
"""Many mappings, as JVMs, browsers and programs with thousands of threads have:
with 60,000 of them memwatch -i 1 reports on time and stays under a tenth of a
core, and RES_NOW gets there, its age shown while it is older than one interval."""
import os
import subprocess
import time

import mwtest

MAPPINGS_BIN = os.path.join(mwtest.WORKLOADS, "mappings")
MAPPINGS = 60000
PAGE = os.sysconf("SC_PAGESIZE")
INTERVAL = 1.0
LATE = 0.2          # a report may arrive this long after its due time
CPU_SHARE = 0.10    # of one core, over the timed reports
TIMED = 6           # reports timed at least, after the workload mapped everything
LIMIT = 40          # reports waited for at most
MAX_MAP_COUNT = "/proc/sys/vm/max_map_count"


class MapCount:
    """vm.max_map_count raised for the test when it leaves no room for MAPPINGS, then restored."""

    def __enter__(self):
        with open(MAX_MAP_COUNT) as f:
            self.saved = f.read().strip()
        if int(self.saved) < MAPPINGS + 1000:
            self.write(str(MAPPINGS + 1000))
        return self

    def __exit__(self, *exc):
        self.write(self.saved)

    @staticmethod
    def write(value):
        with open(MAX_MAP_COUNT, "w") as f:
            f.write(value)


def mapped(att):
    """Releases the workload, then waits until it has made its mappings."""
    att.start_work()
    return att.wait_done() is not None


def check_on_time(tap):
    att = mwtest.Attached([MAPPINGS_BIN, "-w", "-W", str(MAPPINGS)], ["-i", str(INTERVAL)])
    # the report loop starts as memwatch says it is watching: report k is due k intervals later
    watched_at = time.monotonic()
    try:
        if not tap.check(att.ready and att.watching, "on time: attached", att.memwatch_said):
            return
        tid = att.target.pid
        if not tap.check(mapped(att), "on time: the workload mapped %d pages" % MAPPINGS):
            return
        cpu_before, wall_before = mwtest.cpu_seconds(att.memwatch.pid), time.monotonic()
        want = MAPPINGS * PAGE

        def exact(got):
            return len(got) >= TIMED and any(resident(r, tid) == want for _, _, r in got)

        got = att.arrivals(exact, LIMIT)
        cpu = mwtest.cpu_seconds(att.memwatch.pid) - cpu_before
        wall = (got[-1][1] if got else time.monotonic()) - wall_before
        tap.ge(len(got), TIMED, "on time: reports came")
        if not got:
            return
        # memwatch's clock began at most when each report's snapshot began
        start = min([watched_at] + [at - r["elapsed_s"] for _, at, r in got])
        late = [round(at - start - k * INTERVAL, 3) for k, at, _ in got]
        print("# seconds late: %s; %.3f s of CPU in %.3f s" % (late, cpu, wall))
        tap.check(all(-0.05 <= x <= LATE for x in late),
                  "on time: each of %d reports within %.1f s of its due time" % (len(got), LATE),
                  "seconds late: %s" % late)
        tap.check(cpu <= CPU_SHARE * wall, "on time: memwatch under %d%% of a core"
                  % (CPU_SHARE * 100), "%.3f s of CPU in %.3f s" % (cpu, wall))
        tap.check(exact(got), "on time: RES_NOW of the thread that mapped is exactly its %d pages"
                  % MAPPINGS, [resident(r, tid) for _, _, r in got])
        ages = [r["process"].get("resident_now_age_s", -1) for _, _, r in got]
        tap.check(all(0 <= age <= r["elapsed_s"] for age, (_, _, r) in zip(ages, got)),
                  "on time: RES_NOW's age is within the run", ages)
    finally:
        att.finish()
        att.kill()


def resident(record, tid):
    for row in record["threads"]:
        if row["tid"] == tid:
            return row["resident_now_bytes"]
    return None


def check_age_shown(tap):
    """At -i 0.1 a pass over 60,000 mappings spans many intervals: the text says RES_NOW's age."""
    target = subprocess.Popen([MAPPINGS_BIN, "-W", str(MAPPINGS)], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not tap.check(mwtest.wait_for_line(target.stderr, r"done pid=") is not None,
                         "age: the workload mapped"):
            return
        try:
            out = subprocess.run([mwtest.MEMWATCH, "--no-tui", "-i", "0.1", "-c", "20",
                                  "-p", str(target.pid)], capture_output=True, text=True,
                                 timeout=mwtest.TIMEOUT)
        except subprocess.TimeoutExpired:
            tap.check(False, "age: 20 reports at -i 0.1 within %d s" % mwtest.TIMEOUT)
            return
        notes = [l.split() for l in out.stdout.splitlines() if "RES_NOW as of" in l]
        tap.check(out.returncode == 0 and notes, "age: the text shows RES_NOW's age",
                  out.stdout[-2000:] + out.stderr)
        ages = [float(words[3].rstrip("s")) for words in notes]
        tap.check(all(age > 0.1 for age in ages), "age: shown only when older than 0.1 s", ages)
    finally:
        target.stdin.close()
        target.wait(timeout=mwtest.TIMEOUT)


def check_mappings(tap):
    with MapCount():
        check_on_time(tap)
        check_age_shown(tap)


if __name__ == "__main__":
    mwtest.run_checks("many mappings", check_mappings, needs=[(MAPPINGS_BIN, "cc")])
