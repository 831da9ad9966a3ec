#!/usr/bin/env python3
"""The allocator that really serves malloc is the one probed, and counts stay
exact: jemalloc, tcmalloc and mimalloc preloaded (LD_PRELOAD), musl's malloc
linked into a static executable, glibc's whole malloc family. Each case runs
with N items and with 0; the difference must be exactly what the workload did,
whatever the allocator does inside (calloc through malloc, realloc through
malloc and free, aliases, functions it lacks and glibc serves)."""
import glob
import os
import subprocess
import tempfile

import mwtest

N = 200000
FAMILY_N = 20000
FAMILY = os.path.join(mwtest.WORKLOADS, "family")
COUNTERS = [("alloc_calls", "allocs"), ("alloc_bytes", "alloc_bytes"),
            ("known_frees", "frees"), ("free_bytes", "free_bytes")]


def library(name):
    """The installed file of a shared library, by its soname, or None."""
    for pattern in ("/usr/lib/*/%s", "/lib/*/%s", "/usr/lib/%s", "/lib/%s"):
        found = sorted(glob.glob(pattern % name))
        if found:
            return os.path.realpath(found[0])
    return None


def preloaded(soname, package):
    return {"kind": "preload", "lib": library(soname), "package": package,
            "channel": mwtest.CHANNEL, "family": FAMILY}


# name: how the workload gets the allocator; the Debian package that ships it
ALLOCATORS = {
    "jemalloc": preloaded("libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": preloaded("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    "mimalloc": preloaded("libmimalloc.so.2", "libmimalloc2.0"),
    "static musl": {"kind": "executable", "package": "musl-tools",
                    "channel": mwtest.CHANNEL + "-musl", "family": FAMILY + "-musl"},
}

# (case name, workload, arguments): the channel's scenarios and the whole family
# boxed batch: 600,000 small blocks live at once, packed by each allocator's
# own layout, must all find a slot in the live table (nothing untracked)
CASES = [("batch", "channel", ["batch", "-s", 64], N),
         ("boxed batch", "channel", ["-t", "boxed", "batch"], 600000),
         ("threads", "channel", ["threads"], N),
         ("family", "family", [], FAMILY_N)]


def known_frees(run):
    return run.process["free_calls"] - run.process["free_unknown_calls"]


def value(run, counter):
    return known_frees(run) if counter == "known_frees" else run.process[counter]


def pair(cmd, n, env):
    return (mwtest.memwatch_launch(cmd(n), env=env), mwtest.memwatch_launch(cmd(0), env=env))


def check_pair(tap, name, full, empty, probed, origin):
    """Both runs reported, probed @probed, and differ by exactly the workload's count."""
    if not tap.check(full.code == 0 and empty.code == 0 and full.summary and empty.summary
                     and full.workload["total"], "%s: memwatch ran" % name,
                     full.stderr + empty.stderr):
        return
    probes = full.summary["probes"]
    tap.eq((probes["allocator"], probes["origin"]), (probed, origin),
           "%s: the summary names the allocator" % name)
    tap.check("uprobes on %s." % probed in full.stderr, "%s: so does the header" % name,
              full.stderr)
    did = full.workload["total"]
    for counter, field in COUNTERS:
        tap.eq(value(full, counter) - value(empty, counter), did[field],
               "%s: %s difference equals the workload's %s" % (name, counter, field))
    for run in (full, empty):
        tap.eq(run.process["lost_events"], 0, "%s: no lost events" % name)
        tap.eq(run.process["untracked_allocs"], 0, "%s: nothing untracked" % name)


def check_allocator(tap, alloc):
    """A missing allocator is a skip, or a failure under CI (scripts/deps.sh installs it)."""
    how = ALLOCATORS[alloc]
    env = dict(os.environ)
    if how["kind"] == "preload":
        if not how["lib"]:
            mwtest.not_here(tap, alloc, "not installed (Debian package %s)" % how["package"])
            return
        env["LD_PRELOAD"] = how["lib"]
    elif not os.access(how["channel"], os.X_OK):
        mwtest.not_here(tap, alloc, "not built: no musl-gcc (Debian package musl-tools)")
        return
    for case, workload, args, n in CASES:
        exe = how[workload]
        probed = how["lib"] if how["kind"] == "preload" else exe
        full, empty = pair(lambda k: [exe, *map(str, args), "-n", str(k)], n, env)
        check_pair(tap, "%s %s" % (alloc, case), full, empty, probed, how["kind"])


def check_preloads(tap):
    for alloc in ALLOCATORS:
        check_allocator(tap, alloc)


def check_glibc_family(tap):
    full, empty = pair(lambda k: [FAMILY, "-n", str(k)], FAMILY_N, None)
    probed = full.summary and full.summary["probes"]["allocator"]
    check_pair(tap, "glibc family", full, empty, probed, "libc")
    tap.check(probed and "libc.so" in probed, "glibc family: libc probed", probed)


def check_attach_preload(tap):
    """-p: the preload is found from the target's own environment and maps."""
    lib = ALLOCATORS["jemalloc"]["lib"]
    if not lib:
        mwtest.not_here(tap, "attach jemalloc", "not installed (Debian package libjemalloc2)")
        return
    env = dict(os.environ, LD_PRELOAD=lib)
    runs = []
    for n in (N, 0):
        att = mwtest.Attached(mwtest.channel("batch", "-n", n, "-w", "-q"), ["-i", "0.2"],
                              env=env)
        try:
            if not tap.check(att.ready and att.watching, "attach jemalloc: attached (-n %d)" % n):
                return
            att.start_work()
            runs.append(att.finish())
        finally:
            att.kill()
    full, empty = runs
    probes = full.summary["probes"]
    tap.eq((probes["allocator"], probes["origin"]), (lib, "preload"),
           "attach jemalloc: the preload found in the target's environment")
    did = full.workload["total"]
    for counter, field in COUNTERS:
        tap.eq(value(full, counter) - value(empty, counter), did[field],
               "attach jemalloc: %s difference equals the workload's %s" % (counter, field))


# a preloaded allocator over glibc's, some of its functions GNU IFUNCs
IFUNC_SOURCE = r"""
#include <stddef.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void __libc_free(void *);
static void *my_malloc(size_t n) { return __libc_malloc(n); }
static void *my_calloc(size_t n, size_t s) { return __libc_calloc(n, s); }
static void *(*resolve_malloc(void))(size_t) { return my_malloc; }
static void *(*resolve_calloc(void))(size_t, size_t) { return my_calloc; }
#ifdef IFUNC_MALLOC
void *malloc(size_t) __attribute__((ifunc("resolve_malloc")));
#else
void *malloc(size_t n) { return my_malloc(n); }
#endif
void *calloc(size_t, size_t) __attribute__((ifunc("resolve_calloc")));
void free(void *p) { __libc_free(p); }
"""


def check_ifuncs(tap):
    """An IFUNC malloc: nothing of that file is probed, and memwatch says why; an IFUNC
    calloc beside a plain malloc and free: calloc is left out, the rest counts exactly."""
    with tempfile.TemporaryDirectory(prefix="mw-ifunc-") as top:
        libs = {}
        for name, flags in (("malloc", ["-DIFUNC_MALLOC"]), ("calloc", [])):
            src, lib = os.path.join(top, "ifunc.c"), os.path.join(top, "libifunc_%s.so" % name)
            with open(src, "w") as f:
                f.write(IFUNC_SOURCE)
            out = subprocess.run(["cc", "-O2", "-shared", "-fPIC", *flags, src, "-o", lib],
                                 capture_output=True, text=True)
            if not tap.check(out.returncode == 0, "ifunc: %s library built" % name, out.stderr):
                return
            libs[name] = lib
        run = mwtest.memwatch_launch(mwtest.channel("batch", "-n", 1000),
                                     env=dict(os.environ, LD_PRELOAD=libs["malloc"]))
        tap.eq(run.code, 0, "ifunc malloc: memwatch ran and the command succeeded")
        if run.summary:
            probes = run.summary["probes"]
            tap.eq((probes["malloc"], probes["uprobes"]), (False, 0),
                   "ifunc malloc: nothing probed")
            tap.check("GNU IFUNC" in probes["allocator"] and libs["malloc"] in probes["allocator"],
                      "ifunc malloc: the summary says why", probes["allocator"])
            tap.check("malloc of %s is a GNU IFUNC" % libs["malloc"] in run.stderr,
                      "ifunc malloc: so does the header", run.stderr)
        full, empty = pair(lambda k: mwtest.channel("batch", "-n", k), 10000,
                           dict(os.environ, LD_PRELOAD=libs["calloc"]))
        check_pair(tap, "ifunc calloc", full, empty, libs["calloc"], "preload")
        tap.check("calloc of %s is a GNU IFUNC" % libs["calloc"] in full.stderr,
                  "ifunc calloc: left out, with a warning", full.stderr)


# A program that links an allocator under its own names (as Rust's mimalloc
# crate does) and serves some blocks from it: malloc never sees them.
OWN_MALLOC_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>

static char arena[1 << 16];
static size_t used;

void *mi_malloc(size_t size)
{
	void *p = arena + used;

	used += (size + 15) & ~(size_t)15;
	return p;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;

	for (int i = 0; i < n; i++)
		free(malloc(64));
	for (int i = 0; i < 1000; i++)
		*(volatile char *)mi_malloc(32) = 1;
	printf("total %d\n", n);
	return 0;
}
"""


def check_own_malloc(tap):
    """An executable with its own prefixed allocator: libc's malloc is probed and
    counted exactly, and memwatch says the other allocator's blocks are not seen."""
    with tempfile.TemporaryDirectory(prefix="mw-own-") as top:
        src, exe = os.path.join(top, "own.c"), os.path.join(top, "own")
        with open(src, "w") as f:
            f.write(OWN_MALLOC_SOURCE)
        # -O0: the compiler would drop a malloc whose block is freed unused
        out = subprocess.run(["cc", "-O0", "-rdynamic", src, "-o", exe],
                             capture_output=True, text=True)
        if not tap.check(out.returncode == 0, "own allocator: built", out.stderr):
            return
        run, empty = pair(lambda k: [exe, str(k)], 1000, None)
        tap.eq((run.code, empty.code), (0, 0),
               "own allocator: memwatch ran and the command succeeded")
        if run.summary and empty.summary:
            tap.eq(run.summary["probes"]["malloc"], True, "own allocator: libc's malloc probed")
            tap.eq(run.process["alloc_calls"] - empty.process["alloc_calls"], 1000,
                   "own allocator: exactly the program's mallocs counted")
        tap.check("also links its own allocator (mi_malloc)" in run.stderr,
                  "own allocator: memwatch says its blocks are not counted", run.stderr)
        plain = mwtest.memwatch_launch(mwtest.channel("batch", "-n", 10))
        tap.check("its own allocator" not in plain.stderr,
                  "own allocator: nothing said of a program without one", plain.stderr)


if __name__ == "__main__":
    mwtest.run_checks("allocators", check_preloads, check_glibc_family, check_attach_preload,
                      check_ifuncs, check_own_malloc, needs=[(FAMILY, "C compiler")])
