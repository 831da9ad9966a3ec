#!/usr/bin/env python3
"""--stacks=all's function names from elsewhere than the module's .symtab, each exactly the
unstripped workload's:

- a separate debug file found by the module's build ID under /usr/lib/debug/.build-id/ in
  the target's root, where Debian's -dbgsym packages put theirs (the test puts the sites
  workload's there, and removes it after); its DWARF gives the file and line too;
- MiniDebugInfo (.gnu_debugdata, made as Fedora makes it), which libdwfl reads by itself.

And where they must not come from: the debug file the module's .gnu_debuglink names (a path
the target controls: it is next to the binary, and not read), or a file at the build ID's
path that is another build's (memwatch -v says so). Those frames are module+0xOFFSET."""
import os
import re
import shutil
import subprocess
import tempfile
import mwtest
from test_stacks import EXPECTED, N, SITES, SITES_FP, run_gated, site_of

SPLIT = os.path.join(mwtest.WORKLOADS, "sites-split")
MINI = os.path.join(mwtest.WORKLOADS, "sites-mini")
DEBUG_DIR = "/usr/lib/debug/.build-id"


def build_id(path):
    """The hex build ID of ELF file @path (readelf -n)."""
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


class DebugFile:
    """@source placed as the debug file of build ID @bid, as -dbgsym packages place theirs;
    removed on exit, with the directories made for it. A file there already is left alone
    (an error: the test would not know what it read)."""

    def __init__(self, bid, source):
        self.dirs = []
        self.path = os.path.join(DEBUG_DIR, bid[:2], bid[2:] + ".debug")
        if os.path.lexists(self.path):
            raise RuntimeError("%s exists already" % self.path)
        self.source = source

    def __enter__(self):
        parent = os.path.dirname(self.path)
        missing = []
        while not os.path.isdir(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(missing):
            os.mkdir(d)
            self.dirs.append(d)
        shutil.copy(self.source, self.path)
        return self

    def __exit__(self, *exc):
        if os.path.lexists(self.path):
            os.unlink(self.path)
        for d in reversed(self.dirs):
            os.rmdir(d)


def sites_of(tap, name, workload):
    """The summary's sites of `workload N gate` under --stacks=all, and memwatch's -v
    messages; None when it did not run."""
    code, text, err = run_gated(workload)
    summary = mwtest.parse_reports(text)[1] if text else None
    if not tap.check(code == 0 and summary is not None and "sites" in summary and
                     summary["stacks"]["lost"] == 0,
                     "%s: memwatch ran with its sites, none lost" % name, err[-2000:]):
        return None, err
    return summary["sites"], err


def site_by_counts(sites, calls, nbytes):
    """The site that made exactly @calls calls of @nbytes bytes (a name may be missing)."""
    for site in sites:
        if (site["alloc_calls"], site["alloc_bytes"]) == (calls, nbytes):
            return site
    return None


def reference(tap):
    """The unstripped workload's function names, site by site."""
    sites, _ = sites_of(tap, "unstripped", SITES)
    if sites is None:
        return None
    names = {}
    for function, calls, nbytes, _, _, _ in EXPECTED:
        site = site_by_counts(sites, calls, nbytes)
        names[function] = [f["function"] for f in site["frames"]] if site else None
    tap.check(all(names.values()), "unstripped: each site is there", names)
    return names


def check_named(tap, name, workload, want, lines):
    """Each site of @workload has exactly the unstripped workload's names; its frames in
    the workload have a file and line when @lines."""
    sites, err = sites_of(tap, name, workload)
    if sites is None:
        return err
    for function, calls, nbytes, _, _, _ in EXPECTED:
        site, at = site_of(sites, function)
        if not tap.check(site is not None, "%s: %s has a site" % (name, function),
                         [[f["function"] for f in s["frames"]] for s in sites]):
            continue
        tap.eq((site["alloc_calls"], site["alloc_bytes"]), (calls, nbytes),
               "%s: %s's calls and bytes exact" % (name, function))
        tap.eq([f["function"] for f in site["frames"]], want[function],
               "%s: %s's stack has the unstripped workload's names" % (name, function))
        frame = site["frames"][at]
        has_line = bool(frame["file"]) and frame["file"].endswith("sites.c") and frame["line"] > 0
        tap.check(has_line == lines, "%s: %s's file and line %s" % (
            name, function, "from the debug file's DWARF" if lines else "absent (no DWARF)"),
            frame)
    return err


def check_unnamed(tap, name, workload, want):
    """Each site of @workload: its frames in the workload have no name, so they print as
    module+0xOFFSET; the others (libc's) keep theirs. memwatch's -v messages."""
    sites, err = sites_of(tap, name, workload)
    if sites is None:
        return err
    for function, calls, nbytes, _, _, _ in EXPECTED:
        site = site_by_counts(sites, calls, nbytes)
        if not tap.check(site is not None, "%s: %s's site is there" % (name, function)):
            continue
        frames = site["frames"]
        mine = [f for f in frames if f["module"] == workload]
        tap.check(len(frames) == len(want[function]) and len(mine) >= 3 and
                  all(f["function"] is None and f["offset"] > 0 for f in mine),
                  "%s: %s's frames in the workload are module+0xOFFSET" % (name, function),
                  frames)
    return err


def check_build_id_file(tap, want):
    with DebugFile(build_id(SPLIT), SPLIT + ".debug") as debug:
        err = check_named(tap, "build-ID debug file", SPLIT, want, lines=True)
    tap.check("debug file %s\n" % debug.path in err,
              "build-ID debug file: memwatch -v says it read it", err[-2000:])


def check_debuglink_alone(tap, want):
    """The workload's .gnu_debuglink names sites-split.debug, which is next to it: what
    libdwfl's standard search would read. memwatch does not."""
    tap.check(os.path.exists(SPLIT + ".debug"), "debuglink: its target is next to it")
    check_unnamed(tap, "debuglink alone", SPLIT, want)


def check_other_build(tap, want):
    """sites-fp's debug part at sites-split's build ID: its .symtab names other addresses,
    and memwatch refuses it."""
    with tempfile.TemporaryDirectory() as tmp:
        other = os.path.join(tmp, "sites-fp.debug")
        subprocess.run(["objcopy", "--only-keep-debug", SITES_FP, other], check=True)
        with DebugFile(build_id(SPLIT), other):
            err = check_unnamed(tap, "another build's debug file", SPLIT, want)
    tap.check(re.search(r"debug file \S+ has another build ID: not read", err),
              "another build's debug file: memwatch -v says it did not read it", err[-2000:])


def check_minidebuginfo(tap, want):
    sections = subprocess.run(["readelf", "-S", "-W", MINI], capture_output=True, text=True,
                              check=True).stdout
    tap.check(".gnu_debugdata" in sections and ".symtab" not in sections,
              "MiniDebugInfo: the workload has .gnu_debugdata and no .symtab")
    check_named(tap, "MiniDebugInfo", MINI, want, lines=False)


def check_debug(tap):
    want = reference(tap)
    if want is None or not all(want.values()):
        return
    check_build_id_file(tap, want)
    check_debuglink_alone(tap, want)
    check_other_build(tap, want)
    check_minidebuginfo(tap, want)


if __name__ == "__main__":
    mwtest.run_checks("--stacks' debug files", check_debug,
                      needs=((SITES, "cc"), (SPLIT, "objcopy"), (MINI, "objcopy and xz")))
