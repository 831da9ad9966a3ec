#!/usr/bin/env python3
"""--stacks=all on code other than C: a release-built Rust program (lld-linked, no frame
pointers) with legacy and with v0 symbol names, a g++ -O2 function template, and a JIT's
anonymous code. Each site of the programs' own functions has exactly its calls, bytes, frees
and live blocks, and its frames name them as their languages write them: Rust paths without
the legacy hash or v0's crate disambiguator, C++ signatures with their template arguments,
and [anon]+0xADDRESS (JSON: module and function null) for code in no file."""
import os
import platform
import re
import tempfile

import mwtest
from test_stacks import run_gated, site_of

RUST = os.path.join(mwtest.WORKLOADS, "rust_sites")
RUST_V0 = os.path.join(mwtest.WORKLOADS, "rust_sites-v0")
CXX = os.path.join(mwtest.WORKLOADS, "cxx_sites")
JIT = os.path.join(mwtest.WORKLOADS, "jit_sites")
N = 1000
RUST_BLOCK, RUST_KEPT = 48, 200
CXX_BLOCK, CXX_PAGE = 64, 4096
JIT_SIZE = 72
# jit_sites' code starts a page; its call of malloc is at offset 4, two bytes long, and a
# frame's address is its call's last byte
JIT_CALL_IN_PAGE = 5

# a name left mangled, a legacy hash, a v0 crate disambiguator
UNDEMANGLED = re.compile(r"^_ZN|^_R[A-Z]|::h[0-9a-f]{16}$|\[[0-9a-f]+\]")


def counts(site):
    return (site["alloc_calls"], site["alloc_bytes"], site["free_calls"], site["live_calls"],
            site["live_bytes"])


def sites_of(sites, function):
    """The counts of every allocation site with @function in its stack (a syscall the
    allocator made for it, the heap's growth, is a site that allocates nothing)."""
    return sorted(counts(s) for s in sites if s["alloc_calls"] and
                  any(f["function"] == function for f in s["frames"]))


def summary_of(tap, name, workload, *options):
    """memwatch --stacks=all --json on `@workload N gate`: the summary, None if it failed."""
    code, text, err = run_gated(workload, stacks=("--stacks=all", *options), n=N)
    summary = mwtest.parse_reports(text)[1] if text else None
    if not tap.check(code == 0 and summary is not None and "sites" in summary,
                     "%s: memwatch ran with its sites" % name, err[-2000:]):
        return None
    tap.eq((summary["stacks"]["lost"], summary["stacks"]["unpaired"]), (0, 0),
           "%s: no stack record lost, every block with its stack" % name)
    return summary


def check_caller(tap, name, workload, site, function, caller):
    """@function's frame in @site is the workload's, called by @caller, and the stack goes
    on up to the C entry point main."""
    names = [f["function"] for f in site["frames"]]
    at = names.index(function)
    tap.check(site["frames"][at]["module"] == workload and names[at + 1:at + 2] == [caller]
              and "main" in names[at + 1:],
              "%s: %s is the workload's, called by %s, the stack complete up to main"
              % (name, function, caller), names)


def check_rust_build(tap, name, workload, send_blocks):
    """A release build: send_blocks' N boxes of 48 bytes, all freed by the receiving thread;
    keep_blocks' N boxes of 200 bytes and their vector's buffer, all live."""
    summary = summary_of(tap, name, workload)
    if not summary:
        return
    sites = summary["sites"]
    tap.eq(sites_of([s for s in sites if s["alloc_calls"] == N], send_blocks),
           [(N, N * RUST_BLOCK, N, 0, 0)],
           "%s: %s: N boxes sent, calls, bytes and frees exact, none live" % (name, send_blocks))
    tap.eq(sites_of(sites, "rust_sites::keep_blocks"),
           [(1, 8 * N, 0, 1, 8 * N), (N, N * RUST_KEPT, 0, N, N * RUST_KEPT)],
           "%s: rust_sites::keep_blocks: its vector and N boxes kept, exact" % name)
    for function in (send_blocks, "rust_sites::keep_blocks"):
        site, _ = site_of([s for s in sites if s["alloc_calls"] == N], function)
        if site:
            check_caller(tap, name, workload, site, function, "rust_sites::main")
    left = sorted({f["function"] for s in sites for f in s["frames"]
                   if f["function"] and UNDEMANGLED.search(f["function"])})
    tap.eq(left, [], "%s: every name demangled, no hash or crate disambiguator" % name)


def check_rust(tap):
    """Legacy names lose their hash (rust_sites::send_blocks); v0 names keep their generic
    arguments (rust_sites::send_blocks::<rust_sites::Block>)."""
    check_rust_build(tap, "rust legacy", RUST, "rust_sites::send_blocks")
    check_rust_build(tap, "rust v0", RUST_V0, "rust_sites::send_blocks::<rust_sites::Block>")


def cxx_fill(t):
    return ("void sites::fill<sites::%s>(std::vector<sites::%s*, std::allocator<sites::%s*> >&, "
            "unsigned long)" % (t, t, t))


def check_cxx(tap):
    """fill<Block> and fill<Page>: each its reserve() and N news, exact; the blocks deleted,
    the pages kept; each site's stack malloc, operator new, the instance, main."""
    summary = summary_of(tap, "c++", CXX)
    if not summary:
        return
    sites = summary["sites"]
    for t, size, freed in (("Block", CXX_BLOCK, True), ("Page", CXX_PAGE, False)):
        function = cxx_fill(t)
        if freed:
            want = [(1, 8 * N, 1, 0, 0), (N, N * size, N, 0, 0)]
        else:
            want = [(1, 8 * N, 0, 1, 8 * N), (N, N * size, 0, N, N * size)]
        tap.eq(sites_of(sites, function), want,
               "c++: %s: its reserve and N news, exact" % function)
        site, at = site_of([s for s in sites if s["alloc_calls"] == N], function)
        if not site:
            continue
        names = [f["function"] for f in site["frames"]]
        frame = site["frames"][at]
        tap.check(names[at - 1] == "operator new(unsigned long)" and names[at + 1] == "main"
                  and frame["module"] == CXX and (frame["file"] or "").endswith("cxx_sites.cc")
                  and frame["line"] > 0,
                  "c++: %s: called by main, calling operator new; its file and line" % function,
                  (names, frame))


def check_jit(tap):
    """jit_sites' N malloc(72) from anonymous code: one site, exact; its caller's frame has
    no module and no function, its offset the address; the text and the folded stacks show
    [anon]+0xADDRESS."""
    if platform.machine() != "x86_64":
        mwtest.not_here(tap, "jit", "jit_sites is x86-64 code")
        return
    summary = summary_of(tap, "jit", JIT)
    if not summary:
        return
    anon = [s for s in summary["sites"] if len(s["frames"]) > 1 and
            s["frames"][1]["offset"] & 0xfff == JIT_CALL_IN_PAGE and
            s["frames"][1]["module"] is None]
    tap.eq([counts(s) for s in anon], [(N, N * JIT_SIZE, 0, N, N * JIT_SIZE)],
           "jit: one site in the anonymous code, its calls and bytes exact, all live")
    if anon:
        frame = anon[0]["frames"][1]
        tap.eq((frame["function"], frame["file"], frame["line"]), (None, None, None),
               "jit: the anonymous code's frame: no function, file or line")
    with tempfile.TemporaryDirectory() as tmp:
        folded = os.path.join(tmp, "jit.folded")
        code, text, err = run_gated(JIT, fmt="--no-tui", n=N,
                                    stacks=("--stacks=all", "--folded", folded))
        lines = mwtest.read_file(folded).splitlines()
    if not tap.check(code == 0, "jit: memwatch ran, in text", err[-2000:]):
        return
    # malloc is __libc_malloc, with its file and line, where glibc's debug file is installed
    tap.check(re.search(r"allocated [0-9.]+K in 1,?000 calls, 0 frees\n {6}(__libc_)?malloc "
                        r"\(libc\.so\.6\).*\n {6}\[anon\]\+0x[0-9a-f]*%03x\n" % JIT_CALL_IN_PAGE,
                        text),
              "jit: the text shows the frame as [anon]+0xADDRESS", text[-3000:])
    tap.check(any(re.fullmatch(r"\[anon\]\+0x[0-9a-f]*%03x;(__libc_)?malloc %d" % (JIT_CALL_IN_PAGE,
                                                                        N * JIT_SIZE), line)
                  for line in lines),
              "jit: the folded line is [anon]+0xADDRESS;malloc BYTES", lines)


if __name__ == "__main__":
    mwtest.run_checks("--stacks on Rust, C++ and JIT code", check_rust, check_cxx, check_jit,
                      needs=((RUST, "rustc"), (RUST_V0, "rustc"), (CXX, "g++"), (JIT, "cc")))
