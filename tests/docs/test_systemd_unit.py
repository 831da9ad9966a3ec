#!/usr/bin/env python3
"""contrib/systemd/memwatch-exporter@.service, the headless exporter of one service:
systemd-analyze verify (Debian's systemd) accepts an instance of it, and a broken copy
fails it; its capabilities are exactly those of docs/safety.md's Privileges table, as
ambient and bounding sets, with NoNewPrivileges; its memwatch command line exports
(--format=none, --listen) a service's cgroup (--cgroup), with options `memwatch --help`
lists. Needs no root and no BPF; a missing systemd-analyze is a skip (a failure under CI)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mwtest  # noqa: E402

UNIT = os.path.join(mwtest.ROOT, "contrib", "systemd", "memwatch-exporter@.service")
SAFETY = os.path.join(mwtest.ROOT, "docs", "safety.md")


def settings(text):
    """Each setting of the unit: {name: [value, ...]}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"([A-Za-z]+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def privileges_table():
    """The capabilities of docs/safety.md's Privileges table."""
    with open(SAFETY) as f:
        section = f.read().split("## Privileges", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(CAP_[A-Z_]+)` \|", section, re.M))


def verify(path):
    return subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                          capture_output=True, text=True, timeout=60)


def main():
    tap = mwtest.Tap()
    with open(UNIT) as f:
        text = f.read()
    s = settings(text)
    caps = privileges_table()
    tap.check(len(caps) >= 3, "docs/safety.md's Privileges table lists capabilities", caps)
    for name in ("AmbientCapabilities", "CapabilityBoundingSet"):
        got = set(" ".join(s.get(name, [])).split())
        tap.eq(got, caps, "%s: exactly the Privileges table's" % name)
    tap.eq(s.get("NoNewPrivileges"), ["yes"], "NoNewPrivileges=yes")
    exec_start = s.get("ExecStart", [""])[0].split()
    tap.eq(exec_start[:1], ["/usr/bin/memwatch"], "ExecStart: the package's memwatch")
    for option in ("--format=none", "--listen", "--cgroup"):
        tap.check(option in exec_start, "ExecStart has %s" % option, exec_start)
    helped = subprocess.run([mwtest.MEMWATCH, "--help"], capture_output=True, text=True,
                            timeout=30).stdout if os.access(mwtest.MEMWATCH, os.X_OK) else None
    if helped is None:
        tap.skip("its options are memwatch's", "memwatch is not built")
    else:
        longs = [o.split("=")[0] for o in exec_start if o.startswith("--")]
        tap.check(all(re.search(r"\s%s[=\s,]" % re.escape(o), helped) for o in longs),
                  "its options are in memwatch --help", longs)
    if not shutil.which("systemd-analyze"):
        reason = "no systemd-analyze (Debian's systemd package)"
        if os.environ.get("CI") == "true":
            tap.check(False, "systemd-analyze verify", reason)
        else:
            tap.skip("systemd-analyze verify", reason)
        tap.done()
    with tempfile.TemporaryDirectory() as tmp:
        # an instance, its command one that exists here
        good = os.path.join(tmp, "memwatch-exporter@postgresql.service")
        with open(good, "w") as f:
            f.write(text.replace("/usr/bin/memwatch", "/bin/true"))
        run = verify(good)
        tap.check(run.returncode == 0 and not run.stderr.strip(),
                  "systemd-analyze verify accepts an instance", run.stderr)
        bad = os.path.join(tmp, "memwatch-exporter@broken.service")
        with open(bad, "w") as f:
            f.write(text.replace("/usr/bin/memwatch", "memwatch-not-an-absolute-path"))
        tap.check(verify(bad).returncode != 0, "and refuses a broken copy")
    tap.done()


if __name__ == "__main__":
    main()
