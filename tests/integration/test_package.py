#!/usr/bin/env python3
"""The Debian package: dpkg-buildpackage -b builds it from a copy of the tree
(the work tree stays as it is); it holds memwatch in /usr/sbin, hardened, with
its man page and bash completion, and the Grafana dashboard as an example; the
memwatch it holds runs and prints the package's version; lintian finds no error. Needs neither root
(Rules-Requires-Root: no) nor BPF: the binary only prints its version."""
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import time

import mwtest

ROOT = mwtest.ROOT
# each tool and the Debian package that has it
TOOLS = {"dpkg-buildpackage": "dpkg-dev", "dpkg-parsechangelog": "dpkg-dev", "dh": "debhelper",
         "dpkg-deb": "dpkg", "lintian": "lintian", "readelf": "binutils", "git": "git"}
# generous: the build takes about 15 s on the project's 2-core VM
BUILD_TIMEOUT = 100
MANPAGE = os.path.join(ROOT, "docs", "memwatch.8")
COMPLETION = os.path.join(ROOT, "contrib", "bash-completion", "memwatch")
DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "memwatch.json")
# uncompressed, as Grafana's import takes it
EXAMPLE = "./usr/share/doc/memwatch/examples/memwatch.json"
PACKAGED = ("./usr/sbin/memwatch", "./usr/share/man/man8/memwatch.8.gz",
            "./usr/share/bash-completion/completions/memwatch", EXAMPLE)


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def git_status():
    return run(["git", "status", "--porcelain", "--ignored=no"], cwd=ROOT).stdout


def copy_tree(dest):
    """The files git knows of (tracked, and new ones not ignored) as the work tree has them."""
    out = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
              check=True).stdout
    for path in filter(None, out.split("\0")):
        src = os.path.join(ROOT, path)
        if not os.path.isfile(src):
            continue  # deleted in the work tree, not yet in git's index
        os.makedirs(os.path.join(dest, os.path.dirname(path)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, path))


def build(tap, work):
    """Builds the .deb in a copy of the tree under @work; its path, or None."""
    version = run(["dpkg-parsechangelog", "-S", "Version"], cwd=ROOT).stdout.strip()
    tree = os.path.join(work, "memwatch-" + version)
    copy_tree(tree)
    env = dict(os.environ, DEB_BUILD_OPTIONS=os.environ.get("DEB_BUILD_OPTIONS", "parallel=2"))
    began = time.monotonic()
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=env, timeout=BUILD_TIMEOUT)
    took = time.monotonic() - began
    deb = os.path.join(work, "memwatch_%s_amd64.deb" % version)
    log = "\n".join((r.stdout + r.stderr).splitlines()[-30:])
    if not tap.check(r.returncode == 0 and os.path.isfile(deb),
                     "dpkg-buildpackage -us -uc -b builds %s (%.1f s)"
                     % (os.path.basename(deb), took), log):
        return None
    tap.check(not os.path.exists(os.path.join(tree, ".output", "workloads")),
              "the package build compiles memwatch alone, no workload")
    r = run(["make", "-n", "-B", "V=1", "memwatch", "install", "uninstall", "clean"], cwd=tree)
    tap.check(r.returncode == 0 and "deps.sh" not in r.stdout,
              "make memwatch, install, uninstall and clean run no scripts/deps.sh",
              r.stdout[-2000:] + r.stderr)
    return deb


def check_contents(tap, deb):
    listing = run(["dpkg", "-c", deb]).stdout
    paths = {line.split()[5] for line in listing.splitlines() if len(line.split()) >= 6}
    for path in PACKAGED:
        tap.check(path in paths, "the package holds " + path[1:], listing)
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    tap.check(re.search(r"\blibbpf\d", depends) and re.search(r"\blibc6\b", depends),
              "its Depends names the libraries memwatch links (shlibs)", depends)
    # opened with dlopen(), which shlibs cannot see (user/sys/lazy_lib.h)
    tap.check(re.search(r"\blibcapstone\d", depends),
              "its Depends names Capstone, opened when first used", depends)
    recommends = run(["dpkg-deb", "-f", deb, "Recommends"]).stdout
    tap.check(re.search(r"\blibmicrohttpd\d", recommends),
              "its Recommends names libmicrohttpd, --listen's", recommends)


def check_unpacked(tap, deb):
    with tempfile.TemporaryDirectory() as root:
        r = run(["dpkg", "-x", deb, root])
        if not tap.check(r.returncode == 0, "dpkg -x unpacks it", r.stderr):
            return
        binary = os.path.join(root, "usr", "sbin", "memwatch")
        version = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
        r = run([binary, "--version"], timeout=30)
        tap.check(r.returncode == 0 and r.stdout.strip() == "memwatch " + version,
                  "its memwatch --version exits 0 and prints memwatch %s" % version,
                  (r.returncode, r.stdout, r.stderr))
        with gzip.open(os.path.join(root, "usr", "share", "man", "man8", "memwatch.8.gz")) as f:
            page = f.read()
        with open(MANPAGE, "rb") as f:
            tap.check(page == f.read(), "its man page is docs/memwatch.8")
        with open(os.path.join(root, "usr", "share", "bash-completion", "completions",
                               "memwatch"), "rb") as f:
            completion = f.read()
        with open(COMPLETION, "rb") as f:
            tap.check(completion == f.read(), "its completion is contrib/bash-completion/memwatch")
        with open(os.path.join(root, EXAMPLE), "rb") as f:
            example = f.read()
        with open(DASHBOARD, "rb") as f:
            tap.check(example == f.read(), "its example memwatch.json is contrib/grafana/memwatch.json")
        dynamic = run(["readelf", "-d", "-W", binary]).stdout
        symbols = run(["readelf", "--dyn-syms", "-W", binary]).stdout
        tap.check("BIND_NOW" in dynamic and "_chk" in symbols,
                  "its memwatch has dpkg-buildflags' hardening: bind now, fortified calls",
                  dynamic)


def check_lintian(tap, deb):
    r = run(["lintian", deb], timeout=60)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    tap.eq(errors, [], "lintian finds no error in it")
    warnings = [line for line in r.stdout.splitlines() if line.startswith("W:")]
    if warnings:
        print("# lintian's warnings:\n#   " + "\n#   ".join(warnings))


def main():
    tap = mwtest.Tap()
    for tool, package in TOOLS.items():
        if not shutil.which(tool):
            mwtest.cannot_run(tap, "Debian package", "no %s here (%s)" % (tool, package))
    if run(["git", "rev-parse"], cwd=ROOT).returncode != 0:
        mwtest.cannot_run(tap, "Debian package", "not a git checkout: no list of its files")
    before = git_status()
    with tempfile.TemporaryDirectory(prefix="memwatch-deb.") as work:
        deb = build(tap, work)
        if deb:
            check_contents(tap, deb)
            check_unpacked(tap, deb)
            check_lintian(tap, deb)
    tap.eq(git_status(), before, "the work tree is as it was")
    tap.done()


if __name__ == "__main__":
    main()
