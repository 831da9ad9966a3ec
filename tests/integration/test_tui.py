#!/usr/bin/env python3
"""The live view on a real terminal: memwatch runs in a tmux pane against the
channel workload, and the test reads the screen with capture-pane. Header,
meters, chart and thread rows appear; keys sort, reverse, hide exited threads,
switch to rates and pause; a resize refits the table; q, Ctrl-C, the target's
exit and -n N each end it with the terminal restored and the summary printed.
With --stacks=all the sites screen lists the sites workload's sites live, in
the order chosen, and shows a site's whole stack."""
import contextlib
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request

import mwtest

N = 100000
# every wait polls the screen until this many seconds have passed
DEADLINE = 30
ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(live|exit|wait|left)\b")
BRAILLE = re.compile("[\u2801-\u28ff]")


class Pane:
    """A shell in a detached tmux session of its own server, sized @width x @height."""
    servers = 0

    def __init__(self, width, height, env):
        Pane.servers += 1
        socket = "mwtest-%d-%d" % (os.getpid(), Pane.servers)
        self.tmux = ["tmux", "-L", socket, "-f", "/dev/null", "-u"]
        vars_ = ["-e", "PS1=$ "] + [a for k, v in env.items() for a in ("-e", "%s=%s" % (k, v))]
        self.run("new-session", "-d", "-x", str(width), "-y", str(height), *vars_, "sh")
        self.run("set-option", "-g", "window-size", "manual")

    def run(self, *args):
        return subprocess.run(self.tmux + list(args), capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=mwtest.TIMEOUT)

    def type(self, line):
        self.run("send-keys", "-l", line)
        self.run("send-keys", "Enter")

    def key(self, key):
        self.run("send-keys", key)

    def screen(self, scrollback=False, joined=False):
        """The visible screen, or with @scrollback all the lines that scrolled off too; with
        @joined a line the terminal wrapped is one line again."""
        return self.run("capture-pane", "-p", *(["-S", "-"] if scrollback else []),
                        *(["-J"] if joined else [])).stdout

    def wait(self, ok, timeout=DEADLINE, scrollback=False, joined=False):
        """The screen once ok(screen) holds, or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(scrollback, joined)
            if ok(screen):
                return screen
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def kill(self):
        self.run("kill-server")


def rows(screen):
    """The thread rows of the table, top to bottom: [(tid, name, state)]."""
    return [(int(m.group(1)), m.group(2), m.group(3))
            for m in map(ROW.match, screen.splitlines()) if m]


def names(screen):
    return [name for _, name, _ in rows(screen)]


def threads_done(screen):
    """All three threads shown, the workers exited, the main thread still alive."""
    states = {name: state for _, name, state in rows(screen)}
    return states == {"channel": "live", "mw-worker1": "exit", "mw-worker2": "exit"}


class Watched:
    """The threads workload waiting on -w/-W, and memwatch -p on it in @pane."""

    def __init__(self, pane, options):
        self.pane = pane
        self.target = subprocess.Popen(mwtest.channel("threads", "-w", "-W", "-t", "boxed",
                                                      "-n", N),
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
        self.ready = mwtest.wait_for_line(self.target.stderr, r"ready pid=(\d+)")
        self.pid = self.target.pid
        pane.type("%s %s -p %d; echo mw-exit=$?" % (mwtest.MEMWATCH, " ".join(options),
                                                   self.pid))

    def header(self):
        """The screen once the view is up: memwatch attached before drawing it."""
        return self.pane.wait(lambda s: "pid %d (channel)" % self.pid in s and "TID" in s)

    def run_work(self):
        """Releases the workload and waits until its threads are done."""
        self.target.stdin.write(b"\n")
        self.target.stdin.flush()
        return mwtest.wait_for_line(self.target.stderr, r"done pid=(\d+)")

    def end_target(self):
        try:
            self.target.stdin.close()
        except BrokenPipeError:
            pass
        self.target.wait(timeout=mwtest.TIMEOUT)

    def exited(self, joined=False):
        """The terminal's text, scrollback too, once memwatch ended and the shell printed
        its status."""
        return self.pane.wait(lambda s: re.search(r"^mw-exit=\d+", s, re.M), scrollback=True,
                              joined=joined)

    def kill(self):
        if self.target.poll() is None:
            self.target.kill()
            self.target.wait()


@contextlib.contextmanager
def watching(width, height, env, options):
    """A pane of @width x @height with @env in which memwatch @options watches the
    workload; both end with the block."""
    pane = Pane(width, height, env)
    watched = None
    try:
        watched = Watched(pane, options)
        yield pane, watched
    finally:
        if watched:
            watched.kill()
        pane.kill()


def check_clean_shell(tap, pane, name):
    """The shell takes a command again, echoed as typed: the terminal is restored."""
    pane.type("echo clean-$((6*7))")
    screen = pane.wait(lambda s: "echo clean-$((6*7))" in s and
                       re.search(r"^clean-42$", s, re.M))
    tap.check(screen is not None, "%s: the shell echoes and runs a command after memwatch" % name,
              pane.screen())
    tap.check(screen is not None and "q quit" not in screen,
              "%s: nothing of the view is left on the screen" % name, screen)


def check_live_view(tap):
    with watching(120, 40, {"LANG": "C.UTF-8"}, ["-i", "0.3"]) as (pane, watched):
        screen = watched.header()
        if not tap.check(watched.ready and screen, "120x40: the view is up", pane.screen()):
            return
        top = screen.splitlines()
        tap.check(top[0].startswith("memwatch") and "watching" in top[0] and
                  "events/s" in top[0] and "lost 0" in top[0], "header: pid, uptime, events/s, lost",
                  top[0])
        tap.check(top[1].startswith("cmd: ") and mwtest.CHANNEL + " threads -w -W" in top[1],
                  "header: the command line from /proc", top[1])
        tap.check(re.match(r"allocator: \S*libc\S* \(libc\)  probes: \d+ uprobes, \d+ uretprobes, "
                           r"\d+ tracepoints", top[2]), "header: allocator and probes", top[2])
        # attached (-p): retained is an upper bound, blocks older than the attach in it
        for meter in ("RSS", "live heap", "retained<=", "grown", "ret asked", "ret actual"):
            tap.check(re.search(r"(^|\s)%s\s+\[" % re.escape(meter), screen, re.M),
                      "meter: %s" % meter, screen)
        tap.check(re.search(r"^RSS\s+\[.*\]\s+\S+ anon +\S+ file +\S+", screen, re.M),
                  "meter: RSS split into anon and file", screen)

        if not tap.check(watched.run_work(), "120x40: the workload ran"):
            return
        screen = pane.wait(threads_done)
        tap.check(screen is not None, "rows: main live, both workers shown as exited",
                  pane.screen())
        screen = screen or pane.screen()
        lines = screen.splitlines()
        legend = next((i for i, l in enumerate(lines) if l.startswith("history")), None)
        table = next((i for i, l in enumerate(lines) if re.match(r"\s+TID COMM", l)), None)
        tap.check(legend is not None and "RSS" in lines[legend] and
                  "live heap" in lines[legend] and "returned (actual)" in lines[legend],
                  "chart: legend of RSS, live heap and returned", screen)
        chart = lines[legend + 1:table] if legend is not None and table else []
        tap.check(len(chart) == 10 and any(BRAILLE.search(l) for l in chart),
                  "chart: 10 lines of braille on a 40-line terminal", "\n".join(chart))
        tap.check(chart and re.match(r"\s*\d+(\.\d)?[BKMG] ┤", chart[0]) and
                  re.match(r"\s*0 ┤", chart[-1]), "chart: labelled scale, top and 0",
                  "\n".join(chart))
        tap.eq(lines[table].split() if table else None,
               ["TID", "COMM", "STATE", "ALLOC'D", "FREED", "OTHERS'", "LIVE", "GROWN",
                "RET_ASK", "RET_ACT", "RES_NOW", "EVENTS/s"], "table: the columns of 120 cells")
        tap.check(rows(screen) and rows(screen)[0][0] == watched.pid,
                  "table: sorted by TID, the main thread first", screen)
        tap.check(re.search(r"-\s+\[brk heap\]\s+\S+", screen), "table: the brk heap's row",
                  screen)

        pane.key("r")
        screen = pane.wait(lambda s: names(s) == ["mw-worker2", "mw-worker1", "channel"] or
                           names(s) == ["mw-worker1", "mw-worker2", "channel"])
        tap.check(screen and rows(screen)[-1][0] == watched.pid and "TID descending" in screen,
                  "r: TID order reversed", pane.screen())
        pane.key(">")
        screen = pane.wait(lambda s: "sort: COMM descending" in s)
        tap.eq(names(screen) if screen else None, ["mw-worker2", "mw-worker1", "channel"],
               "> sorts by COMM (still reversed)")
        pane.key("r")
        screen = pane.wait(lambda s: "sort: COMM ascending" in s)
        tap.eq(names(screen) if screen else None, ["channel", "mw-worker1", "mw-worker2"],
               "r again: COMM ascending")
        pane.key("e")
        screen = pane.wait(lambda s: "exited hidden" in s)
        tap.eq(names(screen) if screen else None, ["channel"], "e hides the exited threads")
        pane.key("e")
        pane.key("d")
        screen = pane.wait(lambda s: "ALLOC'D/s" in s and "exited shown" in s)
        tap.check(screen and "per second" in screen and len(rows(screen)) == 3,
                  "d: per-second columns, e again: exited threads back", pane.screen())
        pane.key("p")
        screen = pane.wait(lambda s: "PAUSED" in s.splitlines()[0])
        tap.check(screen is not None, "p: paused", pane.screen())
        pane.key("p")
        pane.key("?")
        screen = pane.wait(lambda s: "memwatch live view keys" in s and "PAUSED" not in s)
        tap.check(screen is not None, "?: help over the view, p again: running", pane.screen())
        pane.key("x")
        tap.check(pane.wait(lambda s: "memwatch live view keys" not in s),
                  "any key closes the help")
        pane.key("s")
        screen = pane.wait(lambda s: "no call sites: --stacks is off" in s.splitlines()[-1])
        tap.check(screen is not None and "TID COMM" in screen,
                  "s without --stacks: the status line says so, the threads stay", pane.screen())

        pane.run("resize-window", "-x", "80", "-y", "24")
        screen = pane.wait(lambda s: len(s.splitlines()) <= 24 and any(
            l.replace("/s", "").split() == ["TID", "COMM", "STATE", "LIVE", "GROWN", "RET_ASK",
                                            "RET_ACT", "RES_NOW"] for l in s.splitlines()))
        tap.check(screen is not None, "resize to 80x24: the table refits", pane.screen())

        pane.key("q")
        screen = watched.exited()
        tap.check(screen and re.search(r"^mw-exit=0$", screen, re.M),
                  "q: memwatch exits with 0", pane.screen())
        tap.check(screen and "=== memwatch summary: pid %d (channel), still running" %
                  watched.pid in screen, "q: the summary is printed on the restored terminal",
                  screen)
        check_clean_shell(tap, pane, "120x40")
        watched.end_target()


def check_small_terminal(tap):
    """80x24 in the C locale: ASCII glyphs, fitted columns, and the target's exit ends it."""
    with watching(80, 24, {"LC_ALL": "C"}, ["-i", "0.3"]) as (pane, watched):
        if not tap.check(watched.ready and watched.header(), "80x24: the view is up",
                         pane.screen()):
            return
        if not tap.check(watched.run_work(), "80x24: the workload ran"):
            return
        screen = pane.wait(threads_done)
        tap.check(screen is not None, "80x24: the workers shown as exited", pane.screen())
        screen = screen or pane.screen()
        lines = screen.splitlines()
        tap.check(len(lines) <= 24 and all(len(l) <= 80 for l in lines),
                  "80x24: everything inside the terminal", screen)
        tap.check(all(ord(c) < 128 for c in screen), "80x24: ASCII only in the C locale", screen)
        tap.check(re.search(r"^\s*\d+(\.\d)?[BKMG] \|.*#", screen, re.M) and
                  re.search(r"^\s*0 \|", screen, re.M), "80x24: an ASCII chart with its scale",
                  screen)
        tap.check(any(l.split() == ["TID", "COMM", "STATE", "LIVE", "GROWN", "RET_ASK",
                                    "RET_ACT", "RES_NOW"] for l in lines),
                  "80x24: the columns that fit 80 cells", screen)
        tap.check(re.search(r"^RSS\s+\[\|", screen, re.M), "80x24: ASCII meter bars", screen)

        watched.end_target()
        screen = watched.exited(joined=True)
        tap.check(screen and re.search(r"^mw-exit=0$", screen, re.M) and
                  "=== memwatch summary: pid %d (channel), exited" % watched.pid in screen,
                  "target exit: memwatch ends with the summary", pane.screen())
        summary = summary_lines(screen)
        tap.check(summary and all(len(l) <= 80 for l in summary),
                  "80x24: the summary after the view fits 80 columns",
                  "\n".join(l for l in summary if len(l) > 80))
        check_clean_shell(tap, pane, "80x24")


def lines_from(screen, pattern):
    """The lines from the first that matches @pattern to the shell's status line."""
    lines = (screen or "").splitlines()
    first = next((i for i, l in enumerate(lines) if re.match(pattern, l)), None)
    last = next((i for i, l in enumerate(lines) if l.startswith("mw-exit=")), None)
    return lines[first:last] if first is not None and last is not None else []


def summary_lines(screen):
    """The lines of memwatch's summary."""
    return lines_from(screen, r"=== memwatch summary")


def table_header(text, first):
    """The header line of the table whose first two columns are TID and @first."""
    return next((l.split() for l in text.splitlines() if l.split()[:2] == ["TID", first]), None)


def check_narrow_text(tap):
    """--no-tui on an 80-column terminal: every line fits, the tables keep the most telling
    columns and name the others; to a file the same run gets every column."""
    every_thread = ["TID", "COMM", "STATE", "ALLOCS", "ALLOC'D", "FREES", "FREED", "OTHERS'",
                    "LIVE", "GROWN", "RET_ASK", "RET_ACT", "RES_NOW"]
    with watching(80, 40, {"LANG": "C.UTF-8"}, ["--no-tui", "-c", "2", "-i", "0.2"]) \
            as (pane, watched):
        screen = watched.exited(joined=True)
        summary = summary_lines(screen)
        tap.check(watched.ready and summary and re.search(r"^mw-exit=0$", screen, re.M),
                  "--no-tui at 80 columns: reports and a summary", pane.screen())
        # stderr's messages aside: the reports from the first one's process line on
        reports = lines_from(screen, r"\s+\d+\.\ds pid %d " % watched.pid)
        wide = [l for l in reports if len(l) > 80]
        tap.check(len(reports) > len(summary) and not wide,
                  "--no-tui at 80 columns: no line of the reports wider", "\n".join(wide))
        tap.eq(table_header("\n".join(summary), "COMM"),
               ["TID", "COMM", "STATE", "LIVE", "GROWN", "RET_ASK", "RET_ACT", "RES_NOW"],
               "--no-tui at 80 columns: the thread table's most telling columns")
        tap.check(any(l.startswith("not shown at 80 columns: ALLOCS") for l in summary),
                  "--no-tui at 80 columns: the columns left out are named", "\n".join(summary))
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as report, \
            watching(80, 40, {"LANG": "C.UTF-8"},
                     ["--no-tui", "-o", report.name, "-c", "2", "-i", "0.2"]) as (pane, watched):
        screen = watched.exited()
        text = report.read()
        tap.check(watched.ready and "=== memwatch summary" in text,
                  "-o FILE from an 80-column terminal: the summary in the file", pane.screen())
        tap.eq(table_header(text.split("=== memwatch summary")[-1], "COMM"), every_thread,
               "-o FILE: every thread column, whatever the terminal")
        tap.check(max(len(l) for l in text.splitlines()) > 80 and "not shown" not in text,
                  "-o FILE: lines at their full width, nothing left out")


def check_iterations(tap):
    with watching(100, 30, {"LANG": "C.UTF-8"}, ["-n", "3", "-i", "0.2"]) as (pane, watched):
        screen = watched.exited()
        tap.check(watched.ready and screen and re.search(r"^mw-exit=0$", screen, re.M) and
                  "still running" in screen, "-n 3: the view ends by itself, target untouched",
                  pane.screen())
        tap.check(watched.target.poll() is None, "-n 3: the target still runs")


def check_interrupt(tap):
    """Ctrl-C ends the view as q does: the terminal restored, the summary printed."""
    with watching(100, 30, {"LANG": "C.UTF-8"}, ["-i", "0.2"]) as (pane, watched):
        if not tap.check(watched.ready and watched.header(), "Ctrl-C: the view is up",
                         pane.screen()):
            return
        pane.key("C-c")
        screen = watched.exited()
        tap.check(screen and "=== memwatch summary: pid %d (channel), still running" %
                  watched.pid in screen, "Ctrl-C: the summary is printed", pane.screen())
        check_clean_shell(tap, pane, "Ctrl-C")


def check_no_tui(tap):
    """--no-tui on a terminal prints the text report, as on a pipe."""
    with watching(200, 30, {"LANG": "C.UTF-8"}, ["--no-tui", "-c", "1", "-i", "0.2"]) as (pane, watched):
        screen = watched.exited()
        tap.check(screen and re.search(r"^\s+TID COMM\s+STATE\s+ALLOCS", screen, re.M) and
                  "q quit" not in screen and re.search(r"^mw-exit=0$", screen, re.M),
                  "--no-tui: text reports on a terminal", pane.screen())


def metric(port, name):
    """The first sample of @name in memwatch's /metrics on @port, or None."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r"^%s\{[^}]*\} (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def check_paused_metrics(tap):
    """With --listen, a paused view keeps its screen while scrapes go on counting."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with watching(120, 40, {"LANG": "C.UTF-8"}, ["-i", "0.3", "--listen", str(port)]) as (
            pane, watched):
        if not tap.check(watched.ready and watched.header(), "--listen: the view is up",
                         pane.screen()):
            return
        pane.key("p")
        paused = pane.wait(lambda s: "PAUSED" in s.splitlines()[0])
        tap.check(paused is not None, "--listen: paused", pane.screen())
        tap.check(watched.run_work(), "--listen: the workload ran while paused")
        deadline, calls = time.monotonic() + DEADLINE, None
        while time.monotonic() < deadline:
            calls = metric(port, "memwatch_alloc_calls_total")
            if calls is not None and calls >= N:
                break
            time.sleep(0.2)
        tap.check(calls is not None and calls >= N,
                  "paused: scrapes count the workload's allocations", calls)
        screen = pane.screen()
        tap.check("PAUSED" in screen.splitlines()[0] and not threads_done(screen),
                  "paused: the view still shows the threads as they were", screen)
        pane.key("p")
        tap.check(pane.wait(threads_done), "p again: the view catches up", pane.screen())
        pane.key("q")
        tap.check(watched.exited(), "--listen: q ends memwatch", pane.screen())
        watched.end_target()


SITES = os.path.join(mwtest.WORKLOADS, "sites")
# a site's row: its numbers, then its frames from the allocator's caller out
SITE_ROW = re.compile(r"^\s*((?:~?[\d.]+[BKMG]?\s+){8})(\S.*)$")


def site_rows(screen):
    """The sites screen's rows, top to bottom: [(numbers, frames)]."""
    lines = (screen or "").splitlines()
    head = next((i for i, l in enumerate(lines) if re.match(r"\s+LIVE\s+BLOCKS", l)), None)
    found = [SITE_ROW.match(l) for l in lines[head + 1:-1]] if head is not None else []
    return [(m.group(1).split(), m.group(2)) for m in found if m]


def innermost(screen):
    """The function each site's row names first."""
    return [frames.split(" < ")[0] for _, frames in site_rows(screen)]


def check_sites(tap):
    """--stacks=all -p on the sites workload, held at its gate until memwatch is in and
    held after its sites: s shows alloc_kept's site with its live bytes and blocks and its
    frames up to main, > orders by allocated bytes, Enter shows the whole stack with
    modules, files and lines, any key goes back, q ends memwatch as ever. Nothing lost."""
    target = subprocess.Popen([SITES, "1000", "gate", "hold"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pane = Pane(120, 40, {"LANG": "C.UTF-8"})
    try:
        pane.type("%s --stacks=all -i 0.3 -p %d; echo mw-exit=$?" % (mwtest.MEMWATCH,
                                                                      target.pid))
        screen = pane.wait(lambda s: "pid %d (sites)" % target.pid in s and "TID" in s)
        if not tap.check(screen, "--stacks=all: the view is up", pane.screen()):
            return
        # memwatch is in: the sites run, and the workload stays with its blocks
        target.stdin.close()
        tap.check(mwtest.wait_for_line(target.stdout, r"sites n=1000"), "the sites ran")
        pane.key("s")
        # the view shows the records the stacks thread has handled by its refresh: a refresh
        # or two after the workload's last call, all of them
        kept = ["195.3K", "1000", "195.3K", "1000", "0", "0B", "0B", "0B"]
        screen = pane.wait(lambda s: "call sites by live bytes: " in s and "--stacks=all" in s
                           and "alloc_kept < run < main" in s and site_rows(s)
                           and site_rows(s)[0][0] == kept)
        tap.check(screen is not None, "s: the sites by live bytes, alloc_kept's up to main",
                  pane.screen())
        # what the view shows at the deadline, if it never showed them all
        rows = site_rows(screen or pane.screen())
        tap.check(rows and rows[0][1].startswith("alloc_kept < run < main") and
                  rows[0][0] == kept,
                  "alloc_kept's site first: 1000 blocks, 195.3K live, as allocated", rows)
        tap.check("alloc_paired" not in innermost(screen) and
                  "alloc_zeroed" not in innermost(screen),
                  "by live bytes: the sites whose blocks were all freed are not listed", screen)
        tap.check(re.search(r"\b0 lost, 0 unpaired", screen or ""),
                  "the title: no stack record lost while the view looked", screen)
        pane.key(">")
        # a row shows addresses until the view's share of the thread's time symbolized it
        screen = pane.wait(lambda s: "call sites by allocated bytes" in s and
                           "order: allocated bytes" in s.splitlines()[-1] and
                           len(innermost(s)) >= 3 and
                           not any(f.startswith("0x") for f in innermost(s)[:3]))
        functions = innermost(screen)
        tap.eq(functions[:3] if screen else None, ["alloc_kept", "alloc_zeroed", "alloc_paired"],
               "> orders by allocated bytes: 195.3K, 93.8K, 46.9K")
        tap.check(site_rows(screen)[1][0][2:5] == ["93.8K", "1000", "1000"],
                  "alloc_zeroed: 93.8K in 1000 calls, 1000 frees", site_rows(screen))
        pane.key("Enter")
        screen = pane.wait(lambda s: re.search(r"^#\d+\s+main \(", s, re.M))
        lines = (screen or "").splitlines()
        frames = [re.match(r"#\d+\s+(\S+) \((\S+)\)(?: (\S+):(\d+))?", l)
                  for l in lines if l.startswith("#")]
        names = [f.group(1) for f in frames if f]
        at = names.index("alloc_kept") if "alloc_kept" in names else None
        tap.check(at and names[at:at + 3] == ["alloc_kept", "run", "main"] and
                  frames[at].group(2) == SITES and frames[at].group(3).endswith("sites.c"),
                  "Enter: the whole stack, the allocator's entry to main, modules, files "
                  "and lines", screen)
        tap.check(screen and any(l.startswith("live 195.3K in 1000 blocks") for l in lines),
                  "Enter: the site's numbers above its stack", screen)
        pane.key("Escape")
        tap.check(pane.wait(lambda s: "order: allocated bytes" in s and site_rows(s)),
                  "Esc: back to the sites", pane.screen())
        pane.key("s")
        tap.check(pane.wait(lambda s: re.search(r"^\s+TID COMM", s, re.M)),
                  "s again: the threads", pane.screen())
        pane.key("q")
        screen = pane.wait(lambda s: re.search(r"^mw-exit=\d+", s, re.M), scrollback=True)
        tap.check(screen and re.search(r"^mw-exit=0$", screen, re.M) and
                  "=== memwatch summary: pid %d (sites), still running" % target.pid in screen,
                  "q: memwatch exits with 0 and its summary", pane.screen())
        tap.check(screen and re.search(r"call sites \(--stacks=all\): \d+ sites from \d+ "
                                       r"allocator and \d+ syscall stacks; 0 records lost",
                                       screen),
                  "the summary: no stack record lost", screen)
        check_clean_shell(tap, pane, "--stacks")
    finally:
        target.kill()
        target.wait()
        pane.kill()


if __name__ == "__main__":
    mwtest.run_checks("live view", check_live_view, check_small_terminal, check_narrow_text,
                      check_iterations, check_interrupt, check_no_tui, check_paused_metrics,
                      check_sites)
