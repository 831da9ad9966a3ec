#!/usr/bin/env python3
"""--stacks=all: the sites workload's three call sites, each with exactly its calls, bytes,
frees and live blocks, and each stack complete from the allocator up to main, in code built
without frame pointers and with them; a module without symbols shows module+0xOFFSET.
--stacks (sampled): each site's estimates within 10% of the exact numbers. --folded and
--pprof write every site, exactly, in forms flamegraph.pl and go tool pprof read."""
import os
import re
import shutil
import subprocess
import tempfile
import mwtest

SITES = os.path.join(mwtest.WORKLOADS, "sites")
SITES_FP = os.path.join(mwtest.WORKLOADS, "sites-fp")
N = 1000
SMALL, KEPT = 48, 200
MODULES_READ = r"stacks: pid \d+: \d+ modules"

# (function, allocator calls, bytes, frees, live blocks, live bytes), as sites.c makes them
EXPECTED = [
    ("alloc_paired", N, N * SMALL, N, 0, 0),
    ("alloc_zeroed", N, N * 2 * SMALL, N, 0, 0),
    ("alloc_kept", N, N * KEPT, 0, N, N * KEPT),
]
SITE_FIELDS = {"frames", "alloc_calls", "alloc_bytes", "live_calls", "live_bytes", "free_calls",
               "syscall_calls", "threads", "grown_bytes", "returned_bytes", "returned_actual_bytes", "sampled", "samples"}
FRAME_FIELDS = {"function", "module", "file", "line", "offset"}


def run_gated(workload, fmt="--json", stacks=("--stacks=all",), n=N):
    """memwatch @stacks on `workload N gate`, whose allocations wait until memwatch said
    it read the process's modules (-v), so that no frame depends on how soon it exits.
    Returns (exit code, the report's text, memwatch's stderr)."""
    with tempfile.NamedTemporaryFile("r", suffix=".out") as report:
        argv = [mwtest.MEMWATCH, "-v", fmt, "-o", report.name, *stacks, "--",
                workload, str(n), "gate"]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        seen = []
        try:
            mwtest.wait_for_line(proc.stderr, MODULES_READ, seen=seen)
            # the gate opens as its input ends, however the wait ended: a failure shows below
            _, err = proc.communicate(input=b"", timeout=mwtest.TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, report.read(), "".join(seen) + err.decode(errors="replace")


def site_of(sites, function):
    """The site whose stack has @function, with the index of its frame."""
    for site in sites:
        names = [f["function"] for f in site["frames"]]
        if function in names:
            return site, names.index(function)
    return None, None


def check_build(tap, name, workload):
    code, text, err = run_gated(workload)
    reports = mwtest.parse_reports(text) if text else ([], None, [])
    summary = reports[1]
    if not tap.check(code == 0 and summary is not None and "sites" in summary,
                     "%s: memwatch ran with its sites" % name, err[-2000:]):
        return
    stacks = summary["stacks"]
    tap.eq(stacks["lost"], 0, "%s: no stack record lost" % name)
    tap.eq(stacks["unpaired"], 0, "%s: every block paired with its stack" % name)
    sites = summary["sites"]
    tap.check(all(set(s) == SITE_FIELDS for s in sites), "%s: each site has the fields" % name,
              [sorted(s) for s in sites])
    tap.check(all(set(f) == FRAME_FIELDS for s in sites for f in s["frames"]),
              "%s: each frame has the fields" % name)
    for function, calls, nbytes, frees, live, live_bytes in EXPECTED:
        site, at = site_of(sites, function)
        if not tap.check(site is not None, "%s: %s has a site" % (name, function),
                         [[f["function"] for f in s["frames"]] for s in sites]):
            continue
        got = (site["alloc_calls"], site["alloc_bytes"], site["free_calls"], site["live_calls"],
               site["live_bytes"])
        tap.eq(got, (calls, nbytes, frees, live, live_bytes),
               "%s: %s: calls, bytes, frees, live blocks and bytes exact" % (name, function))
        names = [f["function"] for f in site["frames"]]
        # the allocator's own entry, then the function, its caller, main
        tap.eq(names[at - 1:at + 3], [names[0], function, "run", "main"],
               "%s: %s's stack is complete up to main" % (name, function))
        frame = site["frames"][at]
        tap.check(frame["module"] == workload and frame["file"].endswith("sites.c")
                  and frame["line"] > 0, "%s: %s's module, file and line" % (name, function),
                  frame)


def check_builds(tap):
    check_build(tap, "without frame pointers", SITES)
    check_build(tap, "with frame pointers", SITES_FP)


def check_no_symbols(tap):
    """The workload stripped of .symtab: its static functions are in no symbol table, so
    their frames are module+0xOFFSET (its .eh_frame stays: the stack still reaches libc)."""
    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, "sites-nosym")
        shutil.copy(SITES, stripped)
        subprocess.run(["strip", stripped], check=True)
        code, text, err = run_gated(stripped, fmt="--no-tui")
    if not tap.check(code == 0, "stripped: memwatch ran", err[-2000:]):
        return
    site = re.search(r"allocated 9[0-9.]*K in 1,?000 calls, 1,?000 frees\n"
                     r"((?: {6}.*\n)+)", text)
    frames = site.group(1).split("\n") if site else []
    tap.check(len(frames) > 4 and re.fullmatch(r" {6}sites-nosym\+0x[0-9a-f]+", frames[1]),
              "stripped: a frame without a symbol is module+0xOFFSET", text[-3000:])


# sampled: enough bytes at every site for 10% to be 4 standard deviations of its estimate
SAMPLED_N = 500000
SAMPLE_BYTES = 16384


def check_sampled(tap):
    """--stacks --sample-bytes 16K: the calls, bytes, frees and live blocks of each site are
    estimates from about one call per 16 KiB asked, each within 10% of the exact number;
    a site whose blocks were all freed has none live, exactly (a sample's free takes off
    what its call added)."""
    code, text, err = run_gated(SITES, stacks=("--stacks", "--sample-bytes", "16K"),
                                n=SAMPLED_N)
    reports = mwtest.parse_reports(text) if text else ([], None, [])
    summary = reports[1]
    if not tap.check(code == 0 and summary is not None and "sites" in summary,
                     "sampled: memwatch ran with its sites", err[-2000:]):
        return
    stacks = summary["stacks"]
    tap.eq((stacks["mode"], stacks["sample_bytes"], stacks["lost"], stacks["unpaired"]),
           ("sampled", SAMPLE_BYTES, 0, 0), "sampled: the mode and interval, nothing lost")
    n = SAMPLED_N
    for function, calls, nbytes, frees, live, live_bytes in (
            ("alloc_paired", n, n * SMALL, n, 0, 0),
            ("alloc_zeroed", n, n * 2 * SMALL, n, 0, 0),
            ("alloc_kept", n, n * KEPT, 0, n, n * KEPT)):
        site, _ = site_of(summary["sites"], function)
        if not tap.check(site is not None and site["sampled"] and site["samples"] > 0,
                         "sampled: %s has a sampled site" % function,
                         [[f["function"] for f in s["frames"]] for s in summary["sites"]]):
            continue
        exact = {"alloc_calls": calls, "alloc_bytes": nbytes, "free_calls": frees,
                 "live_calls": live, "live_bytes": live_bytes}
        off = {k: site[k] / v - 1 for k, v in exact.items() if v}
        tap.check(all(abs(d) <= 0.10 for d in off.values()) and
                  all(site[k] == 0 for k, v in exact.items() if not v),
                  "sampled: %s: each estimate within 10%% (%s)" % (function, ", ".join(
                      "%s %+.1f%%" % (k, 100 * d) for k, d in sorted(off.items()))),
                  (site["samples"], {k: site[k] for k in exact}))


def folded_frame(frame):
    """A JSON frame as a folded line shows it (the sites workload's names need no escape)."""
    if frame["function"]:
        return frame["function"]
    if frame["module"]:
        return "%s+0x%x" % (os.path.basename(frame["module"]), frame["offset"])
    return "[anon]+0x%x" % frame["offset"]


def parse_folded(text):
    """[(frames outermost first, count)] of folded lines; None if a line is malformed."""
    lines = []
    for line in text.split("\n")[:-1]:
        match = re.fullmatch(r"([^;\x00-\x1f]+(?:;[^;\x00-\x1f]+)*) (\d+)", line)
        if not match:
            return None
        lines.append((match.group(1).split(";"), int(match.group(2))))
    return lines if text.endswith("\n") else None


def pprof_top(path, sample_index):
    """go tool pprof -top's rows of the profile at @path: {function: (flat, cum)} in bytes
    or objects, exactly (-unit=B); None and why when it cannot be read."""
    env = dict(os.environ, PPROF_TMPDIR=os.path.dirname(path))
    proc = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=1000", "-unit=B",
                           "-sample_index=" + sample_index, path],
                          capture_output=True, text=True, env=env, timeout=mwtest.TIMEOUT)
    rows = {}
    for line in proc.stdout.splitlines():
        # flat flat% sum% cum cum% name: the name may hold spaces (a C++ signature)
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[1].endswith("%") and fields[4].endswith("%"):
            rows[fields[5]] = tuple(int(v.rstrip("B")) for v in (fields[0], fields[3]))
    return (rows, "") if proc.returncode == 0 and rows else (None, proc.stdout + proc.stderr)


def check_exports(tap):
    """--stacks=all --folded FILE --pprof FILE on the sites workload: a folded line per site
    (as many as the summary counts), whose frames are its JSON frames outermost first and
    whose count is its allocated bytes, so each function's lines sum to its exact bytes;
    go tool pprof lists alloc_kept's live bytes and blocks exactly."""
    with tempfile.TemporaryDirectory() as tmp:
        folded = os.path.join(tmp, "sites.folded")
        pprof = os.path.join(tmp, "sites.pb.gz")
        code, text, err = run_gated(SITES, stacks=("--stacks=all", "--folded", folded,
                                                   "--pprof", pprof))
        summary = mwtest.parse_reports(text)[1] if text else None
        if not tap.check(code == 0 and summary is not None and "sites" in summary and
                         os.path.exists(folded) and os.path.exists(pprof),
                         "exports: memwatch ran and wrote both files", err[-2000:]):
            return
        lines = parse_folded(mwtest.read_file(folded))
        if not tap.check(lines is not None, "folded: each line is frames;...;frames COUNT",
                         mwtest.read_file(folded)[-2000:]):
            return
        sites = summary["sites"]
        # fewer than --top's 20: the JSON lists every site; syscall sites allocate nothing
        tap.eq(len(lines), len([s for s in sites if s["alloc_calls"]]),
               "folded: a line per allocation site")
        tap.eq(sum(n for _, n in lines), sum(s["alloc_bytes"] for s in sites),
               "folded: the lines sum to every site's allocated bytes")
        for function, calls, nbytes, frees, live, live_bytes in EXPECTED:
            site, at = site_of(sites, function)
            if site is None:
                tap.check(False, "folded: %s has a site" % function)
                continue
            want = [folded_frame(f) for f in reversed(site["frames"])]
            tap.check((want, site["alloc_bytes"]) in lines,
                      "folded: %s's line is its site's frames, outermost first" % function,
                      (want, lines))
            mine = [(frames, n) for frames, n in lines if function in frames]
            tap.eq(sum(n for _, n in mine), nbytes,
                   "folded: %s's lines sum to its exact bytes" % function)
            tap.check(all(frames[-4:-1] == ["main", "run", function] for frames, _ in mine),
                      "folded: %s's lines end ...;main;run;%s;ALLOCATOR" % (function, function),
                      mine)
        kept = [frames for frames, _ in lines if "alloc_kept" in frames]
        # glibc's debug file (libc6-dbg), where installed, names it by its alias first
        tap.check(kept and all(frames[-1] in ("malloc", "__libc_malloc") for frames in kept),
                  "folded: alloc_kept's line ends ...;main;run;alloc_kept;malloc", kept)
        if not shutil.which("go"):
            mwtest.not_here(tap, "pprof: go tool pprof reads it",
                            "no go here (Debian package golang-go)")
            return
        space, why = pprof_top(pprof, "inuse_space")
        objects, why2 = pprof_top(pprof, "inuse_objects")
        if not tap.check(space and objects, "pprof: go tool pprof -top reads it", why + why2):
            return
        tap.eq(space.get("alloc_kept", (None, None))[1], N * KEPT,
               "pprof: alloc_kept's live bytes exact (inuse_space)")
        tap.eq(objects.get("alloc_kept", (None, None))[1], N,
               "pprof: alloc_kept's live blocks exact (inuse_objects)")
        alloc, why = pprof_top(pprof, "alloc_space")
        tap.check(alloc and all(alloc.get(f, (None, None))[1] == b
                                for f, _, b, _, _, _ in EXPECTED),
                  "pprof: each function's allocated bytes exact (alloc_space)", alloc or why)
        raw = subprocess.run(["go", "tool", "pprof", "-raw", pprof], capture_output=True,
                             text=True, timeout=mwtest.TIMEOUT,
                             env=dict(os.environ, PPROF_TMPDIR=tmp)).stdout
        note = subprocess.run(["readelf", "-n", SITES], capture_output=True, text=True).stdout
        build_id = re.search(r"Build ID: ([0-9a-f]+)", note)
        main = re.search(r"Mappings\n1: \S+ (\S+) ([0-9a-f]+) ", raw)
        tap.check(build_id and main and main.groups() == (SITES, build_id.group(1)),
                  "pprof: the main mapping is the workload's, with its build ID", raw[-1500:])


def check_export_usage(tap):
    """--folded and --pprof without --stacks are refused (2); a file that cannot be written
    is said in one line before the command runs (1, as -o's)."""
    for option in ("--folded", "--pprof"):
        proc = subprocess.run([mwtest.MEMWATCH, option, "/tmp/memwatch-never", "--", "true"],
                              capture_output=True, text=True)
        tap.check(proc.returncode == 2 and "%s writes --stacks' call sites" % option
                  in proc.stderr, "%s without --stacks is refused" % option, proc.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        marker = os.path.join(tmp, "ran")
        for option, path in (("--folded", os.path.join(tmp, "no", "such", "dir")),
                             ("--pprof", tmp)):
            proc = subprocess.run([mwtest.MEMWATCH, "--stacks", option, path, "--", "touch",
                                   marker], capture_output=True, text=True,
                                  timeout=mwtest.TIMEOUT)
            lines = proc.stderr.splitlines()
            tap.check(proc.returncode == 1 and len(lines) == 1 and
                      lines[0].startswith("memwatch: cannot write %s: " % path) and
                      not os.path.exists(marker),
                      "%s PATH that cannot be written: one line, exit 1, the command never "
                      "ran" % option, proc.stderr)
        proc = subprocess.run([mwtest.MEMWATCH, "--stacks", "--folded", marker, "--pprof", marker,
                               "--", "true"], capture_output=True, text=True)
        tap.check(proc.returncode == 2 and "each need a file of their own" in proc.stderr,
                  "--folded and --pprof of one file are refused", proc.stderr)


def check_usage(tap):
    for args, why in ((["--stacks=some"], "invalid --stacks"),
                      (["--stacks", "--sample-bytes", "0"], "invalid --sample-bytes"),
                      (["--stacks", "--sample-bytes", "2T"], "invalid --sample-bytes"),
                      (["--sample-bytes", "4K"], "--stacks=sampled"),
                      (["--stacks=all", "--sample-bytes", "4K"], "--stacks=sampled")):
        proc = subprocess.run([mwtest.MEMWATCH, *args, "--", "true"], capture_output=True,
                              text=True)
        tap.check(proc.returncode == 2 and why in proc.stderr, "%s is refused" % " ".join(args),
                  proc.stderr)


if __name__ == "__main__":
    mwtest.run_checks("--stacks", check_usage, check_export_usage, check_builds, check_no_symbols,
                      check_exports, check_sampled, needs=((SITES, "cc"), (SITES_FP, "cc")))
