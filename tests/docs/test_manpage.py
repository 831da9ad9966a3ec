#!/usr/bin/env python3
"""The man page memwatch(8) renders without a warning, documents every option
`memwatch --help` lists and every exit status of user/app/exitcodes.h (as does
docs/usage.md), and `make install` / `make uninstall` put it in place, with the
binary and the bash completion, and take them away. Needs no root; the points
that run memwatch need it built."""
import filecmp
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mwtest  # noqa: E402

ROOT = mwtest.ROOT
MANPAGE = os.path.join(ROOT, "docs", "memwatch.8")
USAGE = os.path.join(ROOT, "docs", "usage.md")
EXITCODES = os.path.join(ROOT, "user", "app", "exitcodes.h")
COMPLETION = os.path.join(ROOT, "contrib", "bash-completion", "memwatch")
# statuses memwatch returns without a name in exitcodes.h: 128 + SIGINT, SIGTERM
SIGNAL_STATUSES = {130, 143}


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kwargs)


def rendered():
    """The page as plain text, as groff formats it for a terminal."""
    return run(["groff", "-man", "-Tascii", "-P-cbou", MANPAGE]).stdout


def section(text, name):
    """The body of a section of the rendered page, up to the next heading."""
    m = re.search(r"^%s\n(.*?)(?=^\S)" % re.escape(name), text, re.M | re.S)
    return m.group(1) if m else ""


def help_options():
    """Every option `memwatch --help` lists: its short and long spellings."""
    out = run([mwtest.MEMWATCH, "--help"]).stdout
    options = set()
    for line in out.splitlines():
        if re.match(r"^ {2,}-", line):
            spec = re.split(r"\s{2,}", line.strip())[0]
            options.update(re.findall(r"(?<![\w-])(--?[\w?][\w-]*)", spec))
    return options


def mentions(text, option):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(option), text) is not None


def check_renders(tap):
    r = run(["groff", "-ww", "-man", "-z", MANPAGE])
    tap.check(r.returncode == 0 and not r.stderr, "groff -ww -man renders it without a warning",
              r.stderr)
    if shutil.which("man"):
        r = run(["man", "--warnings", "-l", MANPAGE], env=dict(os.environ, MANWIDTH="80",
                                                               MAN_KEEP_FORMATTING=""))
        tap.check(r.returncode == 0 and not r.stderr and "EXIT STATUS" in r.stdout,
                  "man -l docs/memwatch.8 reads it without a warning", r.stderr)
    else:
        mwtest.not_here(tap, "man -l docs/memwatch.8 reads it", "no man here (man-db)")
    text = rendered()
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "LIVE VIEW", "EXIT STATUS",
                 "OVERHEAD", "FILES", "SEE ALSO"):
        tap.check(section(text, name).strip(), "the page has a %s section" % name)


def check_options(tap):
    if not os.access(mwtest.MEMWATCH, os.X_OK):
        mwtest.not_here(tap, "every option of --help documented", "memwatch is not built (make)")
        return
    options = help_options()
    tap.check(len(options) >= 20, "memwatch --help lists its options", sorted(options))
    manual = section(rendered(), "OPTIONS")
    missing = sorted(o for o in options if not mentions(manual, o))
    tap.check(not missing, "the man page's OPTIONS has every option of --help", missing)
    with open(USAGE, encoding="utf-8") as f:
        usage = f.read()
    missing = sorted(o for o in options if o.startswith("--") and not mentions(usage, o))
    tap.check(not missing, "docs/usage.md has every long option of --help", missing)


def check_exit_statuses(tap):
    with open(EXITCODES, encoding="utf-8") as f:
        codes = {int(v) for v in re.findall(r"^\s*MW_EXIT_\w+\s*=\s*(\d+)", f.read(), re.M)}
    tap.check(len(codes) >= 10, "exitcodes.h names its statuses", sorted(codes))
    codes |= SIGNAL_STATUSES
    manual = section(rendered(), "EXIT STATUS")
    documented = set()
    for m in re.finditer(r"^ {7}(\d+(?:, \d+)*)", manual, re.M):
        documented.update(int(n) for n in m.group(1).split(", "))
    tap.eq(sorted(codes - documented), [], "the man page's EXIT STATUS has every status")
    tap.eq(sorted(documented - codes), [], "the man page documents no status memwatch lacks")
    with open(USAGE, encoding="utf-8") as f:
        usage = section_md(f.read(), "Exit status")
    in_usage = set()
    for m in re.finditer(r"^\| (\d+(?: / \d+)*) \|", usage, re.M):
        in_usage.update(int(n) for n in m.group(1).split(" / "))
    tap.eq(sorted(codes ^ in_usage), [], "docs/usage.md's exit status table has every status")


def section_md(text, heading):
    m = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % re.escape(heading), text, re.M | re.S)
    return m.group(1) if m else ""


def check_install(tap):
    if not os.access(mwtest.MEMWATCH, os.X_OK):
        mwtest.not_here(tap, "make install", "memwatch is not built (make)")
        return
    with tempfile.TemporaryDirectory() as dest:
        make = ["make", "--no-print-directory", "-s", "DESTDIR=" + dest, "PREFIX=/usr"]
        r = run(make + ["install"])
        binary = os.path.join(dest, "usr", "sbin", "memwatch")
        page = os.path.join(dest, "usr", "share", "man", "man8", "memwatch.8")
        completion = os.path.join(dest, "usr", "share", "bash-completion", "completions",
                                  "memwatch")
        tap.check(r.returncode == 0, "make install DESTDIR PREFIX=/usr", r.stdout + r.stderr)
        tap.check(os.path.isfile(binary) and os.stat(binary).st_mode & 0o777 == 0o755
                  and filecmp.cmp(binary, mwtest.MEMWATCH, shallow=False),
                  "installs the binary in PREFIX/sbin, mode 0755")
        tap.check(os.path.isfile(page) and stat.S_IMODE(os.stat(page).st_mode) == 0o644
                  and filecmp.cmp(page, MANPAGE, shallow=False),
                  "installs the man page in PREFIX/share/man/man8, mode 0644")
        tap.check(os.path.isfile(completion)
                  and stat.S_IMODE(os.stat(completion).st_mode) == 0o644
                  and filecmp.cmp(completion, COMPLETION, shallow=False),
                  "installs the completion in PREFIX/share/bash-completion/completions, mode 0644")
        r = run(make + ["uninstall"])
        tap.check(r.returncode == 0 and not any(map(os.path.exists, (binary, page, completion))),
                  "make uninstall removes all three", r.stdout + r.stderr)
        elsewhere = os.path.join(dest, "bash-completion")
        r = run(make + ["BASHCOMPDIR=/bash-completion", "install"])
        tap.check(r.returncode == 0 and os.path.isfile(os.path.join(elsewhere, "memwatch")),
                  "BASHCOMPDIR puts the completion elsewhere", r.stdout + r.stderr)
        r = run(make + ["BASHCOMPDIR=/bash-completion", "uninstall"])
        tap.check(r.returncode == 0 and os.listdir(elsewhere) == [],
                  "and make uninstall finds it there", r.stdout + r.stderr)


def main():
    tap = mwtest.Tap()
    if not shutil.which("groff"):
        mwtest.cannot_run(tap, "memwatch(8)", "no groff here (groff-base)")
    check_renders(tap)
    check_options(tap)
    check_exit_statuses(tap)
    check_install(tap)
    tap.done()


if __name__ == "__main__":
    main()
