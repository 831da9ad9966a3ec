#!/usr/bin/env python3
"""A target whose names are written to take over a terminal: its process name (an
OSC that retitles the terminal, then a clear screen), its threads' names (CR, LF,
a raw 0x9b CSI, C2 9B, invalid UTF-8), run from a directory and a file named with
such bytes, with its libc in another. No such byte reaches the text reports, the
--trace lines, stderr (-v too) or the live view: each shows as \\xNN, as memwatch's
escaping says; every JSON line parses, the names in it as Python decodes them."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import mwtest
from test_tui import Pane, rows

HOSTILE = os.path.join(mwtest.WORKLOADS, "hostile")
PROCESS = b"\x1b]0;OWNED\x07\x1b[2J"
# a thread named like the process too: --trace shows the name a thread had at its first
# event, and the main thread's is the one before the exec
THREADS = [PROCESS, b"t1\r\n\x9b2J", b"t2\xc2\x9b2J\xff\xc3(\xe2\x82"]
NAMES = [PROCESS, *THREADS]
# what the kernel names the process at its exec: the file's name, at most 15 bytes
EXE_NAME = b"x\x1b[2J\x07\r\n\x9b\xc2\x9b\xff"
EXE_DIR = b"bin\x1b[2J\x07\r\n\x9b\xc2\x9b\xff"
# no '\n' (the loader's listing, which memwatch reads for a launched command, is one
# line per library), nor ':' or ';' (LD_LIBRARY_PATH's separators)
LIB_DIR = b"lib\x1b[2J\x07\r\x9b\xc2\x9b\xff"


def escaped(raw):
    """@raw as memwatch's text shows it: C0, DEL, C1 (raw or in UTF-8) and bytes that
    are not UTF-8 as \\xNN, a backslash doubled, the rest as it is."""
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if 0xdc80 <= code <= 0xdcff:
            out.append("\\x%02x" % (code - 0xdc00))
        elif code < 0x20 or 0x7f <= code <= 0x9f:
            out.append("".join("\\x%02x" % b for b in ch.encode()))
        elif ch == "\\":
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


def cut(text, width):
    """@text cut to @width bytes before the first \\xNN that does not fit whole, as a
    table column is."""
    pieces = re.findall(r"\\x[0-9a-f]{2}|\\\\|.", text)
    shown = ""
    for piece in pieces:
        if len(shown) + len(piece) > width:
            break
        shown += piece
    return shown


def json_name(raw):
    """@raw as Python decodes memwatch's JSON: U+FFFD for what is not UTF-8."""
    return raw.decode("utf-8", "replace")


class Files:
    """The hostile directories in a temporary one: the workload's copy and its libc."""

    def __init__(self, tmp):
        self.tmp = tmp
        base = os.fsencode(tmp)
        os.mkdir(os.path.join(base, EXE_DIR))
        os.mkdir(os.path.join(base, LIB_DIR))
        self.exe = os.path.join(base, EXE_DIR, EXE_NAME)
        self.libc = os.path.join(base, LIB_DIR, b"libc.so.6")
        shutil.copy(HOSTILE, self.exe)
        shutil.copy(mwtest.host_libc(), self.libc)
        self.env = dict(os.environb)
        self.env[b"LD_LIBRARY_PATH"] = os.path.dirname(self.libc)

    def command(self):
        """env, on the system's libc, execs the workload on the copied one."""
        return [b"env", b"LD_LIBRARY_PATH=" + os.path.dirname(self.libc), self.exe, *NAMES]


def launched(files, name, options, release=None):
    """memwatch -o FILE OPTIONS -- the workload; its stdin is closed once @release (bytes)
    is in the report, at once without. Returns (exit code, report, stderr), as bytes."""
    report = os.path.join(files.tmp, name + ".out")
    err_path = os.path.join(files.tmp, name + ".err")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([mwtest.MEMWATCH, "-o", report, *options, "--",
                                 *files.command()], stdin=subprocess.PIPE, stderr=err)
        try:
            if release:
                mwtest.wait_in_file(report, release)
            proc.stdin.close()
            proc.wait(timeout=mwtest.TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return proc.returncode, mwtest.read_file(report, "rb"), mwtest.read_file(err_path, "rb")


def check_clean(tap, what, data, keep="\n"):
    bad = mwtest.unsafe_text(data, keep)
    return tap.check(data and not bad, "%s: no raw control byte or invalid UTF-8" % what,
                     "%d found, the first %r" % (len(bad), bad[:8]))


def check_text(tap, files):
    """Text reports while the threads live, then the summary; -v on stderr."""
    name = "text"
    code, out, err = launched(files, name, ["--no-tui", "-v", "-i", "0.1"],
                              re.escape(escaped(THREADS[1]).encode()))
    tap.eq(code, 0, "%s: memwatch ran" % name)
    check_clean(tap, "%s: reports" % name, out)
    # libbpf's -v output has its own tabs
    check_clean(tap, "%s: stderr with -v" % name, err, keep="\n\t")
    text = out.decode(errors="replace")
    for raw in dict.fromkeys(NAMES):
        tap.ge(len(re.findall(r"^ +\d+ %s +live " % re.escape(escaped(raw)), text, re.M)),
               NAMES.count(raw), "%s: the live rows of %s" % (name, escaped(raw)))
    libc = escaped(files.libc)
    tap.check(re.search(r"^allocator: %s \(libc\), " % re.escape(libc), text, re.M),
              "%s: the summary's allocator, escaped" % name, text[-3000:])
    said = err.decode(errors="replace")
    comms = "|".join(re.escape(escaped(raw)) for raw in (EXE_NAME, PROCESS))
    tap.check(re.search(r"^memwatch: pid \d+ exec'd (%s): malloc probed in %s \(libc\) "
                        % (comms, re.escape(libc)), said, re.M),
              "%s: the exec'd line, escaped" % name, said[-3000:])
    tap.check(re.search(r"^memwatch: allocator: %s in pid \d+'s root, dev " % re.escape(libc),
                        said, re.M),
              "%s: -v's allocator line, escaped" % name, said[-3000:])


def check_trace(tap, files):
    name = "trace text"
    code, out, err = launched(files, name, ["--trace"])
    tap.eq(code, 0, "%s: memwatch ran" % name)
    check_clean(tap, "%s: lines" % name, out)
    check_clean(tap, "%s: stderr" % name, err)
    text = out.decode(errors="replace")
    for raw in THREADS:
        tap.check(re.search(r"^ +\d+\.\d{6} \( +\d+\.\d{3} ms\): %s/\d+ munmap\(0x[0-9a-f]+, "
                            r"4096\) = 0 " % re.escape(escaped(raw)), text, re.M),
                  "%s: the munmap of %s" % (name, escaped(raw)), text[-3000:])


def parsed(tap, what, data):
    """Every line of @data decoded as strict UTF-8 and parsed, or None."""
    records = []
    try:
        for line in data.split(b"\n"):
            if line:
                records.append(json.loads(line.decode("utf-8")))
    except ValueError as e:
        tap.check(False, "%s: every line is UTF-8 JSON" % what, "%s in %r" % (e, line[:300]))
        return None
    tap.check(records, "%s: every line is UTF-8 JSON" % what)
    return records


def check_json(tap, files):
    name = "json"
    code, out, err = launched(files, name, ["--json", "-i", "0.1"],
                              re.escape(json.dumps(json_name(THREADS[1])).encode()))
    tap.eq(code, 0, "%s: memwatch ran" % name)
    check_clean(tap, "%s: the file" % name, out)
    check_clean(tap, "%s: stderr" % name, err)
    records = parsed(tap, name, out) or []
    live = [[t["comm"] for t in r["threads"]] for r in records if r["type"] == "interval"]
    tap.eq(live[-1] if live else None, [json_name(raw) for raw in NAMES],
           "%s: the last interval's thread names" % name)
    summary = records[-1] if records and records[-1]["type"] == "summary" else {}
    tap.eq(summary.get("probes", {}).get("allocator"), json_name(files.libc),
           "%s: the allocator's path" % name)

    name = "trace json"
    code, out, err = launched(files, name, ["--trace", "--json"])
    tap.eq(code, 0, "%s: memwatch ran" % name)
    check_clean(tap, "%s: the file" % name, out)
    records = parsed(tap, name, out) or []
    munmaps = {r["comm"] for r in records if r["type"] == "syscall" and r["call"] == "munmap"
               and r["len"] == 4096}
    tap.check(munmaps >= {json_name(raw) for raw in THREADS},
              "%s: each name's munmap" % name, sorted(munmaps))


def check_live_view(tap, files):
    """memwatch -p in a tmux pane: the table, the command line and the allocator escaped;
    after q the summary escaped on the restored terminal, which kept its title."""
    name = "live view"
    target = subprocess.Popen([files.exe, *NAMES], env=files.env, stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    pane = Pane(200, 30, {"LANG": "C.UTF-8"})
    try:
        if not tap.check(mwtest.wait_for_line(target.stderr, r"ready pid="),
                         "%s: the workload is ready" % name):
            return
        title = pane.run("display-message", "-p", "#{pane_title}").stdout
        pane.type("%s -i 0.3 -p %d; echo mw-exit=$?" % (mwtest.MEMWATCH, target.pid))
        want = sorted(cut(escaped(raw), 15) for raw in NAMES)
        screen = pane.wait(lambda s: sorted(n for _, n, _ in rows(s)) == want)
        tap.check(screen, "%s: the threads' names escaped, cut to the column" % name,
                  pane.screen())
        screen = screen or pane.screen()
        check_clean(tap, "%s: the screen" % name, screen.encode())
        tap.check("\ufffd" not in screen, "%s: nothing the terminal could not decode" % name,
                  screen)
        lines = screen.splitlines() + ["", "", ""]
        cmd = "cmd: " + escaped(b" ".join([files.exe, *NAMES]))
        tap.check(lines[1] and cmd.startswith(lines[1]) and len(lines[1]) >= 150,
                  "%s: the command line escaped" % name, "%r\n%r" % (lines[1], cmd))
        tap.check(lines[2].startswith("allocator: %s (libc)" % escaped(files.libc)),
                  "%s: the allocator's path escaped" % name, lines[2])
        pane.key("q")
        screen = pane.wait(lambda s: re.search(r"^mw-exit=\d+", s, re.M), scrollback=True)
        tap.check(screen and re.search(r"^=== memwatch summary: pid %d \(%s\), still running"
                                       % (target.pid, re.escape(escaped(PROCESS))), screen, re.M),
                  "%s: the summary escaped on the restored terminal" % name, pane.screen())
        tap.eq(pane.run("display-message", "-p", "#{pane_title}").stdout, title,
               "%s: the terminal's title unchanged" % name)
    finally:
        try:
            target.stdin.close()
        except BrokenPipeError:
            pass
        if target.poll() is None:
            target.kill()
        target.wait()
        pane.kill()


def with_files(check):
    def run(tap):
        with tempfile.TemporaryDirectory() as tmp:
            check(tap, Files(tmp))
    run.__name__ = check.__name__
    return run


if __name__ == "__main__":
    mwtest.run_checks("hostile names", *map(with_files, (check_text, check_trace, check_json,
                                                        check_live_view)),
                      needs=[(HOSTILE, "cc")])
