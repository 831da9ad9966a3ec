#!/usr/bin/env python3
"""Every relative link of the Markdown pages resolves: its file exists and, for
an anchor into a Markdown page, a heading makes it (as GitHub names headings).
Every Markdown page a file of the repository cites by name exists. Needs no
root and no build."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mwtest  # noqa: E402

ROOT = mwtest.ROOT
# files whose text may cite a page by name: docs, sources, scripts, tests
CITING = re.compile(r"(\.(md|c|h|py|rs|go|sh|8)|/Makefile|^Makefile)$")
MARKDOWN = ".md"
# a page cited by name: a path of word characters, dots, slashes and hyphens
CITED = re.compile(r"(?<![\w./-])([\w./-]*\w" + re.escape(MARKDOWN) + r")(?![\w/-])")
INLINE_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.M | re.S)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)


def repo_files():
    """The files of the repository: git's list where it is a checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for top, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files += [os.path.relpath(os.path.join(top, n), ROOT) for n in names]
    # a file deleted in the work tree but not yet in git's index is gone
    return sorted(f for f in files if os.path.isfile(os.path.join(ROOT, f)))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        return f.read()


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]|<[^>]*>", "", heading.strip()).lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(text):
    """The anchors of a page's headings, a repeated one numbered as GitHub does."""
    seen = {}
    out = set()
    for line in FENCE.sub("", text).splitlines():
        m = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else "%s-%d" % (base, n))
    return out


def links(text):
    """The inline links of a page, outside code."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    return INLINE_LINK.findall(prose)


def check_links(tap, files):
    pages = [f for f in files if f.endswith(MARKDOWN)]
    tap.check(len(pages) > 5, "the repository has its Markdown pages", pages)
    bad = []
    for page in pages:
        text = read(page)
        for target in links(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            full = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), path)) if path \
                else os.path.join(ROOT, page)
            if not os.path.exists(full):
                bad.append("%s: %s: no such file" % (page, target))
            elif anchor and full.endswith(MARKDOWN) and anchor not in anchors(read(full)):
                bad.append("%s: %s: no such heading" % (page, target))
    tap.check(not bad, "every relative link of %d pages resolves" % len(pages), "\n".join(bad))


def check_cited(tap, files):
    names = {os.path.basename(f) for f in files}
    bad = []
    for path in files:
        if not CITING.search(path):
            continue
        text = read(path)
        if path.endswith(".8"):
            text = text.replace("\\-", "-").replace("\\%", "")  # roff's hyphens
        for cited in set(CITED.findall(text)):
            here = os.path.normpath(os.path.join(ROOT, os.path.dirname(path), cited))
            from_root = os.path.normpath(os.path.join(ROOT, cited))
            if "/" in cited:
                ok = os.path.exists(here) or os.path.exists(from_root)
            else:
                ok = cited in names
            if not ok:
                bad.append("%s cites %s" % (path, cited))
    tap.check(not bad, "every page cited by name exists", "\n".join(sorted(bad)))


def main():
    tap = mwtest.Tap()
    files = repo_files()
    check_links(tap, files)
    check_cited(tap, files)
    tap.done()


if __name__ == "__main__":
    main()
