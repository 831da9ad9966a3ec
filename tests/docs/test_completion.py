#!/usr/bin/env python3
"""contrib/bash-completion/memwatch, sourced in bash with bash-completion:
it completes every option `memwatch --help` lists (and no other), PIDs of
running processes with their names made safe (the last of a list too), the
formats after --format=
and --trace=, files after -o, and after -- (or the first word that is no
option) a command, then that command's files. Needs no root; memwatch built."""
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mwtest  # noqa: E402
from test_manpage import help_options  # noqa: E402

COMPLETION = os.path.join(mwtest.ROOT, "contrib", "bash-completion", "memwatch")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
# a process name with what a terminal would obey: ESC sequences, BEL, CR, LF, C1 CSI
HOSTILE_NAME = b"\x1b[31mev\x07\r\n\x9bil"


def comp_words(line):
    """The words bash hands a completion function for @line, cursor at its end:
    split at blanks, with = a word of its own (COMP_WORDBREAKS)."""
    words = re.findall(r"[^\s=]+|=", line)
    if not line or line[-1].isspace():
        words.append("")
    return words


def complete(line):
    """The candidates _memwatch offers for @line, and bash's stderr."""
    words = comp_words(line)
    script = "\n".join([
        "source %s" % shlex.quote(BASH_COMPLETION),
        "source %s" % shlex.quote(COMPLETION),
        # compopt works only under readline: here the options it sets do not matter
        "compopt() { :; }",
        "COMP_WORDS=(%s)" % " ".join(shlex.quote(w) for w in words),
        "COMP_CWORD=%d" % (len(words) - 1),
        "COMP_LINE=%s" % shlex.quote(line),
        "COMP_POINT=%d" % len(line),
        "COMPREPLY=()",
        "_memwatch memwatch %s %s" % (shlex.quote(words[-1]), shlex.quote(words[-2])),
        "printf '%s\\0' \"${COMPREPLY[@]}\"",
    ])
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       cwd=mwtest.ROOT, timeout=60)
    replies = [w.decode("utf-8", "replace") for w in r.stdout.split(b"\0")[:-1]]
    return [w for w in replies if w], r.stderr.decode("utf-8", "replace")


def formats():
    """The formats memwatch accepts, as its refusal of another lists them."""
    r = subprocess.run([mwtest.MEMWATCH, "--format=?", "-p", "1"], capture_output=True, text=True)
    m = re.search(r"expected (.*)$", r.stderr, re.M)
    return set(re.split(r", | or ", m.group(1))) if m else set()


def check_options(tap):
    options = help_options()
    tap.check(len(options) >= 20, "memwatch --help lists its options", sorted(options))
    replies, err = complete("memwatch -")
    offered = {w.rstrip("=") for w in replies}
    tap.eq(sorted(options - offered), [], "every option of --help is completed after -")
    tap.eq(sorted(offered - options), [], "no option --help lacks is completed")
    tap.eq(err, "", "completing options writes nothing to stderr")
    replies, _ = complete("memwatch --no-")
    tap.eq(sorted(replies), ["--no-malloc", "--no-tui"], "--no- completes to its two options")


def check_values(tap):
    want = formats()
    tap.check(len(want) >= 3, "memwatch names its formats", want)
    replies, _ = complete("memwatch --format=")
    tap.eq(set(replies), want, "--format= offers the formats")
    replies, _ = complete("memwatch --format ")
    tap.eq(set(replies), want, "--format FORMAT offers them too")
    replies, _ = complete("memwatch --trace=")
    tap.check(replies and set(replies) < want, "--trace= offers formats it can print", replies)
    replies, _ = complete("memwatch --stacks=")
    tap.eq(set(replies), {"sampled", "all"}, "--stacks= offers its modes")
    replies, _ = complete("memwatch -o docs/mem")
    tap.eq(replies, ["docs/memwatch.8"], "-o completes a file")
    for option in ("--folded", "--pprof"):
        replies, _ = complete("memwatch --stacks %s docs/mem" % option)
        tap.eq(replies, ["docs/memwatch.8"], "%s completes a file" % option)
        replies, _ = complete("memwatch --stacks %s x -" % option)
        tap.check("--top" in replies, "%s takes its FILE: options follow it" % option, replies)
    replies, _ = complete("memwatch -i ")
    tap.eq(replies, [], "-i SECS offers nothing to choose")


def named_process(name):
    """A process that names itself @name (prctl PR_SET_NAME), then sleeps."""
    code = ("import ctypes, sys, time\n"
            "ctypes.CDLL(None).prctl(15, %r, 0, 0, 0)\n"
            "print(flush=True)\n"
            "time.sleep(60)\n" % name)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    proc.stdout.readline()
    return proc


def check_pids(tap):
    target = named_process(HOSTILE_NAME)
    try:
        pid = str(target.pid)
        replies, _ = complete("memwatch -p ")
        mine = [w for w in replies if w.startswith(pid + " ")]
        tap.check(len(mine) == 1 and mine[0].startswith(pid + " ("),
                  "-p offers the PID of a process the test started, with its name", mine)
        shown = "".join(replies)
        tap.check(all(0x20 <= ord(c) < 0x7f for c in shown),
                  "no name shows a control or non-ASCII character", repr(mine))
        replies, _ = complete("memwatch -p " + pid)
        tap.check(pid in replies or any(w.startswith(pid + " (") for w in replies),
                  "-p PREFIX offers the PID", replies)
        tap.check(all(w.startswith(pid) for w in replies),
                  "-p PREFIX offers only PIDs that start with it", replies)
        for line in ("memwatch --pid=", "memwatch -vp "):
            replies, _ = complete(line + pid)
            tap.check(pid in replies or any(w.startswith(pid + " (") for w in replies),
                      "%sPREFIX offers it too" % line[9:], replies)
        replies, _ = complete("memwatch -p 1," + pid)
        tap.check("1," + pid in replies or any(w.startswith("1,%s (" % pid) for w in replies),
                  "-p A,PREFIX offers the PID after the list", replies)
        replies, _ = complete("memwatch -p 0")
        tap.eq(replies, [], "no PID starts with 0")
    finally:
        target.kill()
        target.wait()


def check_command(tap):
    for line in ("memwatch -- l", "memwatch -i 2 --format=json -- l", "memwatch -v l",
                 "memwatch --trace=json l", "memwatch -vi 2 l"):
        replies, err = complete(line)
        tap.check("ls" in replies and not err, "%r completes a command" % line,
                  (replies[:10], err))
    replies, _ = complete("memwatch -p 1 -- cat docs/memwatch.")
    tap.eq(replies, ["docs/memwatch.8"], "then the command's files")
    replies, _ = complete("memwatch -- ls --pi")
    tap.check("--pid" not in replies, "the command's options are not memwatch's", replies)


def main():
    tap = mwtest.Tap()
    if not os.path.isfile(BASH_COMPLETION):
        mwtest.cannot_run(tap, "bash completion", "no bash-completion here (%s)" % BASH_COMPLETION)
    if not os.access(mwtest.MEMWATCH, os.X_OK):
        mwtest.cannot_run(tap, "bash completion", "memwatch is not built (make)")
    check_options(tap)
    check_values(tap)
    check_pids(tap)
    check_command(tap)
    tap.done()


if __name__ == "__main__":
    main()
