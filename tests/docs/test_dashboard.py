#!/usr/bin/env python3
"""contrib/grafana/memwatch.json, the Grafana dashboard, checked for its
structure (Debian has no Grafana to load it): it parses; it has a title, a
uid and panels that each have a type, a title and a query; its data source is
a variable; every PromQL expression and template variable names only metric
families memwatch exports, with their labels, rate()s its counters and not its
gauges, and its panel's unit fits what it plots.

What memwatch exports is read twice, and the two must agree: from the tables
of docs/metrics.md, and from the code that makes the names (the counter
registry in bpf/counters.h, the derived and process families in
user/output/metrics.c). Label values are checked where docs/metrics.md lists
them.

Another file: `python3 tests/docs/test_dashboard.py PATH`, or
MEMWATCH_DASHBOARD=PATH. Needs no root and no build."""
import copy
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mwtest  # noqa: E402

ROOT = mwtest.ROOT
DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "memwatch.json")
METRICS_MD = os.path.join(ROOT, "docs", "metrics.md")
COUNTERS_H = os.path.join(ROOT, "bpf", "counters.h")
METRICS_C = os.path.join(ROOT, "user", "output", "metrics.c")

# every series has these (docs/metrics.md, "Metric families")
COMMON_LABELS = {"pid", "comm"}
# and a per-thread series these
THREAD_LABELS = {"tid", "start"}
THREAD_PREFIX = "memwatch_thread_"
# the thread's name is only here (value 1), joined in by (pid, tid, start): a target that
# renames its threads must not make new series of the counters
THREAD_INFO = "memwatch_thread_info"
THREAD_INFO_LABELS = {"tid": None, "start": None, "thread_comm": None}
# Grafana 9.0's schema, the oldest this dashboard is meant for
MIN_SCHEMA = 36

FAMILY = re.compile(r"\bmemwatch_[a-z_]+")
SELECTOR = re.compile(r"\b(memwatch_[a-z_]+)\s*(?:\{([^}]*)\})?\s*(\[[^\]]*\])?")
MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LABEL_VALUES = re.compile(r"label_values\(\s*(memwatch_[a-z_]+)\s*(?:\{[^}]*\})?\s*,\s*(\w+)\s*\)")
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
# the functions a counter's range goes into
COUNTER_FUNCS = {"rate", "irate", "increase"}
PER_SECOND_FUNCS = {"rate", "irate"}
# Grafana's unit ids for what an expression gives
UNITS = {
    ("bytes", False): {"bytes", "decbytes"},
    ("bytes", True): {"Bps", "binBps"},
    ("count", False): {"none", "short"},
    ("count", True): {"ops", "cps", "reqps"},
}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --- what memwatch exports: docs/metrics.md ---------------------------------------------------


def section(text, heading):
    """The text under a Markdown heading, to the next heading of its level or higher."""
    m = re.search(r"^(#+) %s\s*$" % re.escape(heading), text, re.M)
    if not m:
        return ""
    rest = text[m.end():]
    end = re.search(r"^#{1,%d} " % len(m.group(1)), rest, re.M)
    return rest[:end.start()] if end else rest


def documented_families(text):
    """{name: {"type": counter|gauge, "labels": {label: set of values, or None}}} from the
    table of docs/metrics.md's "Metric families"."""
    families = {}
    for line in section(text, "Metric families").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`memwatch_"):
            continue
        labels = {}
        for m in re.finditer(r"`(\w+)`\s*(\(([^)]*)\))?", cells[2]):
            values = re.findall(r"`([^`]+)`", m.group(3) or "")
            labels[m.group(1)] = set(values) or None
        for name in re.findall(r"`(memwatch_\w+)`", cells[0]):
            families[name] = {"type": cells[1], "labels": labels}
    return families


# --- what memwatch exports: the code ------------------------------------------------------------


def strip_comments(c):
    return re.sub(r"/\*.*?\*/", " ", c, flags=re.S)


def macro_body(header, name):
    """The body of #define @name(...) in @header, its continuation lines joined."""
    m = re.search(r"^#define %s\([^)]*\)((?:.*\\\n)*.*)$" % name, header, re.M)
    return m.group(1).replace("\\\n", " ") if m else ""


def function_body(source, name):
    m = re.search(r"^\w[^\n]*\b%s\([^)]*\)\s*\n\{\n(.*?)^\}" % name, source, re.M | re.S)
    return m.group(1) if m else ""


def family_name(prefix, name, is_bytes):
    """user/output/metrics.c's family_name(): _bytes unless the name says it already."""
    return prefix + name + ("_bytes" if is_bytes and not name.endswith("_bytes") else "")


def code_families(counters_h, metrics_c):
    """{name: set of labels beyond pid, comm and a thread's} of the families the code makes:
    the registry's and the derived ones under each prefix metrics.c renders them with, and
    the process's own. Counters' names end in _total, as the 0.0.4 format has them."""
    counters_h, metrics_c = strip_comments(counters_h), strip_comments(metrics_c)
    families = {}
    body = macro_body(counters_h, "MW_THREAD_COUNTERS")
    registry = [(m.group(1), m.group(2) == "BYTES", {})
                for m in re.finditer(r"\bX\(\s*(\w+)\s*,\s*MW_(CALLS|BYTES)\b", body)]
    label = re.search(r"keys\s*==\s*(\w+)\s*\?\s*\"(\w+)\"\s*:\s*\"(\w+)\"",
                      function_body(metrics_c, "array_label"))
    for m in re.finditer(r'\bA\(\s*(\w+)\s*,\s*\w+\s*,\s*"(\w*)"\s*,\s*(\w+)\s*,\s*MW_(CALLS|BYTES)',
                         body):
        if not m.group(2) or not label:
            continue  # no JSON object, no family (the rss arrays)
        key = label.group(2) if m.group(3) == label.group(1) else label.group(3)
        registry.append((m.group(1), m.group(4) == "BYTES", {key}))
    call = r"\(\s*&?\w+\s*,\s*\"(memwatch_\w*)\""
    for prefix in re.findall(r"\bregistry_families" + call, metrics_c):
        for name, is_bytes, labels in registry:
            families[family_name(prefix, name, is_bytes) + "_total"] = set(labels)
    # the derived and the process's families: family_name(), then family_header() and samples
    step = re.compile(r'\bfamily_name\(\s*\w+\s*,\s*\w+\s*,\s*"(\w+)"\s*,\s*(true|false)\s*\)'
                      r'|\bfamily_header\(\s*\w+\s*,\s*(\w+|"\w+")\s*,\s*(true|false)'
                      r'|\bsample\(\s*\w+\s*,\s*(?:\w+|"\w+")\s*,\s*(?:true|false)\s*,'
                      r'\s*[^,]+,\s*(NULL|"\w+")')

    def walk(text, prefix):
        suffix = current = None
        for m in step.finditer(text):
            if m.group(1):
                suffix = family_name("", m.group(1), m.group(2) == "true")
            elif m.group(3):
                base = prefix + suffix if m.group(3) == "name" else m.group(3).strip('"')
                current = base + ("_total" if m.group(4) == "true" else "")
                families.setdefault(current, set())
            elif current and m.group(5) != "NULL":
                families[current].add(m.group(5).strip('"'))

    for prefix in re.findall(r"\bderived_families" + call, metrics_c):
        walk(function_body(metrics_c, "derived_families"), prefix)
    walk(function_body(metrics_c, "process_families"), "")
    return families


# --- what the dashboard holds ------------------------------------------------------------------


def all_panels(dashboard):
    """Every panel, those inside a collapsed row too."""
    out = []
    for panel in dashboard.get("panels") or []:
        out.append(panel)
        out += [p for p in panel.get("panels") or [] if isinstance(p, dict)]
    return out


def queries(dashboard):
    """(where, panel, target) of every PromQL expression: the panels' targets."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets") or []:
            if isinstance(target, dict) and target.get("expr"):
                yield ("panel %r, query %s" % (panel.get("title"), target.get("refId")),
                       panel, target)


def variable_queries(dashboard):
    """(name, query) of the query variables: Grafana keeps the query as a string or an object."""
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var.get("type") != "query":
            continue
        seen = set()
        for q in (var.get("query"), var.get("definition")):
            if isinstance(q, dict):
                q = q.get("query")
            if q and q not in seen:
                seen.add(q)
                yield var.get("name"), q


def check_structure(dashboard):
    """What a dashboard needs to import and show its panels."""
    bad = []
    for key in ("title", "uid"):
        if not isinstance(dashboard.get(key), str) or not dashboard.get(key).strip():
            bad.append("no %s" % key)
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < MIN_SCHEMA:
        bad.append("schemaVersion %r, want %d or later" % (dashboard.get("schemaVersion"), MIN_SCHEMA))
    panels = all_panels(dashboard)
    if not any(p.get("type") != "row" for p in panels):
        bad.append("no panels")
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids) or None in ids:
        bad.append("panel ids not unique: %r" % ids)
    for p in panels:
        if not p.get("type") or not p.get("title"):
            bad.append("a panel without a type or title: %r" % {k: p.get(k) for k in ("id", "type", "title")})
        if p.get("type") == "row":
            continue
        if not isinstance(p.get("gridPos"), dict):
            bad.append("panel %r: no gridPos" % p.get("title"))
        exprs = [t for t in p.get("targets") or [] if isinstance(t, dict) and t.get("expr")]
        if not exprs:
            bad.append("panel %r: no query" % p.get("title"))
        refs = [t.get("refId") for t in p.get("targets") or []]
        if len(set(refs)) != len(refs) or None in refs:
            bad.append("panel %r: refIds not unique: %r" % (p.get("title"), refs))
    return bad


def check_datasources(dashboard):
    """Every data source is a variable (a datasource variable or an import's __inputs), so the
    dashboard names no one's Grafana in particular; and that variable is for Prometheus."""
    variables = {v.get("name") for v in (dashboard.get("templating") or {}).get("list") or []
                 if v.get("type") == "datasource" and v.get("query") == "prometheus"}
    variables |= {i.get("name") for i in dashboard.get("__inputs") or []
                  if i.get("type") == "datasource" and i.get("pluginId") == "prometheus"}
    bad = [] if variables else ["no Prometheus data source variable"]
    users = [("panel %r" % p.get("title"), p.get("datasource")) for p in all_panels(dashboard)]
    users += [(where, t.get("datasource")) for where, _, t in queries(dashboard)]
    users += [("variable %s" % v.get("name"), v.get("datasource"))
              for v in (dashboard.get("templating") or {}).get("list") or [] if v.get("type") == "query"]
    for where, ds in users:
        if ds is None:
            continue  # a row, or the panel's own
        uid = ds.get("uid") if isinstance(ds, dict) else ds
        m = re.fullmatch(r"\$\{?(\w+)\}?", uid or "")
        if not m or m.group(1) not in variables:
            bad.append("%s: data source %r is not a variable of %s" % (where, ds, sorted(variables)))
    return bad


def labels_of(name, exported):
    """The labels a family's series have, or None for no such family."""
    if name not in exported:
        return None
    labels = set(COMMON_LABELS) | set(exported[name]["labels"])
    if name.startswith(THREAD_PREFIX):
        labels |= THREAD_LABELS
    return labels


def literal_values(op, value):
    """The label values a matcher names, when it names them plainly (an alternation of words)."""
    if op == "=":
        return {value}
    if op == "=~" and re.fullmatch(r"\w+(\|\w+)*", value):
        return set(value.split("|"))
    return None


def function_before(expr, pos):
    """The function whose opening parenthesis comes right before @pos, or None."""
    m = re.search(r"(\w+)\s*\(\s*$", expr[:pos])
    return m.group(1) if m else None


def check_expr(expr, exported, panel_type, legend=""):
    """What is wrong with one PromQL expression; and the (unit, per second) kinds it gives."""
    bad, kinds = [], set()
    code = STRING.sub('""', expr)  # names and groupings are outside strings
    names = FAMILY.findall(code)
    if not names:
        bad.append("names no memwatch family")
    unknown = sorted({n for n in names if n not in exported})
    if unknown:
        bad.append("names what memwatch does not export: %s" % ", ".join(unknown))
    known = set()
    for n in names:
        known |= labels_of(n, exported) or set()
    for m in SELECTOR.finditer(expr):
        name, matchers, window = m.groups()
        labels = labels_of(name, exported)
        if labels is None:
            continue
        for lm in MATCHER.finditer(matchers or ""):
            label, op, value = lm.groups()
            if label not in labels:
                bad.append("%s has no label %s" % (name, label))
                continue
            documented = exported[name]["labels"].get(label)
            values = literal_values(op, value)
            if documented and values and not values <= documented:
                bad.append("%s's %s is never %s" % (name, label, ", ".join(sorted(values - documented))))
        func = function_before(expr, m.start())
        counter = exported[name]["type"] == "counter"
        if window and counter and func not in COUNTER_FUNCS:
            bad.append("the counter %s's range goes to %s(), not rate() or increase()" % (name, func))
        if window and not counter and func in COUNTER_FUNCS:
            bad.append("%s() of the gauge %s" % (func, name))
        if counter and not window and panel_type != "stat":
            bad.append("the counter %s plotted without rate() or increase()" % name)
        if name == THREAD_INFO:
            continue  # a join for the name: its value is 1
        per_second = bool(window) and func in PER_SECOND_FUNCS
        kinds.add(("bytes" if re.search(r"_bytes(_total)?$", name) else "count", per_second))
    for group in GROUPING.findall(code):
        for label in filter(None, (w.strip() for w in group.split(","))):
            if label not in known:
                bad.append("groups by %s, a label none of its families has" % label)
    for label in LEGEND_LABEL.findall(legend):
        if label not in known:
            bad.append("its legend shows {{%s}}, a label none of its families has" % label)
    return bad, kinds


def check_queries(dashboard, exported):
    """The panels' expressions: families, labels, rate()s, and the panel's unit."""
    bad = []
    for where, panel, target in queries(dashboard):
        problems, kinds = check_expr(target["expr"], exported, panel.get("type"),
                                     target.get("legendFormat") or "")
        unit = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
        for kind in kinds:
            if unit not in UNITS[kind]:
                problems.append("unit %r, want one of %s for %s" % (
                    unit, sorted(UNITS[kind]), "%s per second" % kind[0] if kind[1] else kind[0]))
        bad += ["%s: %s: %s" % (where, p, target["expr"]) for p in problems]
    return bad


def check_variables(dashboard, exported):
    """The template variables: a process name and a PID, from label_values() of exported
    families and their labels."""
    bad, names = [], set()
    for name, q in variable_queries(dashboard):
        names.add(name)
        problems, _ = check_expr(q, exported, "variable")
        for m in LABEL_VALUES.finditer(q):
            if m.group(2) not in (labels_of(m.group(1), exported) or set()):
                problems.append("%s has no label %s" % (m.group(1), m.group(2)))
        bad += ["variable %s: %s: %s" % (name, p, q) for p in problems]
    for want in ("pid", "comm"):
        if want not in names:
            bad.append("no query variable %s" % want)
    return bad


def problems(dashboard, exported):
    return (check_structure(dashboard) + check_datasources(dashboard)
            + check_queries(dashboard, exported) + check_variables(dashboard, exported))


def exported_families(tap):
    """The families memwatch exports, as docs/metrics.md says and the code makes them; a test
    point for their agreement."""
    text = read(METRICS_MD)
    docs = documented_families(text)
    tap.check(len(docs) >= 20, "docs/metrics.md's table lists %d metric families" % len(docs),
              sorted(docs))
    code = code_families(read(COUNTERS_H), read(METRICS_C))
    process = {n: v for n, v in code.items() if not n.startswith(THREAD_PREFIX)}
    threads = {n: v for n, v in code.items() if n.startswith(THREAD_PREFIX)}
    tap.check(len(process) >= 20 and len(threads) >= 10,
              "bpf/counters.h and user/output/metrics.c make %d families and %d per-thread twins"
              % (len(process), len(threads)), sorted(code))
    diff = ["only in docs/metrics.md: %s" % n for n in sorted(set(docs) - set(process))]
    diff += ["only in the code: %s" % n for n in sorted(set(process) - set(docs))]
    diff += ["%s: docs/metrics.md labels %s, the code %s" % (n, sorted(docs[n]["labels"]),
                                                           sorted(process[n]))
             for n in sorted(set(docs) & set(process)) if set(docs[n]["labels"]) != process[n]]
    diff += ["%s is %s in docs/metrics.md" % (n, docs[n]["type"]) for n in docs
             if docs[n]["type"] != ("counter" if n.endswith("_total") else "gauge")]
    tap.check(not diff, "docs/metrics.md lists the families and labels the code makes, "
              "no other, each counter's name ending in _total", "\n".join(diff))
    per_thread = section(text, "Per-thread series (`--metrics-threads`)")
    missing = sorted(w for w in [THREAD_PREFIX, THREAD_INFO] + sorted(THREAD_INFO_LABELS)
                     if not re.search(r"`%s" % re.escape(w), per_thread))
    orphans = sorted(n for n in threads if "memwatch_" + n[len(THREAD_PREFIX):] not in docs)
    tap.check(not missing and not orphans,
              "docs/metrics.md's per-thread section names %s, %s and the labels %s, and each "
              "per-thread family is a twin of a documented one"
              % (THREAD_PREFIX, THREAD_INFO, ", ".join(sorted(THREAD_INFO_LABELS))),
              "not named: %s; twins of no documented family: %s" % (missing, orphans))
    exported = dict(docs)
    exported[THREAD_INFO] = {"type": "gauge", "labels": dict(THREAD_INFO_LABELS)}
    for name in threads:
        base = docs.get("memwatch_" + name[len(THREAD_PREFIX):])
        if base:
            exported[name] = base
    return exported


def check_catches(tap, dashboard, exported):
    """The checks are not vacuous: a copy with each mistake below fails them."""
    first = next(queries(dashboard), None)
    if not first:
        tap.check(False, "the dashboard has a query to alter")
        return
    ref = first[2].get("refId")

    def altered(change):
        copied = copy.deepcopy(dashboard)
        for _, _, target in queries(copied):
            if target.get("refId") == ref:
                target["expr"] = change(target["expr"])
                break
        return copied

    mistakes = {
        "a family memwatch does not export": lambda e: FAMILY.sub("memwatch_alloc_call_total", e, 1),
        "a label memwatch does not set": lambda e: "sum by (instance) (%s)" % e,
        "a counter without rate()": lambda e: "memwatch_alloc_calls_total",
    }
    missed = [what for what, change in mistakes.items()
              if not problems(altered(change), exported)]
    tap.check(not missed, "a copy of it with %s fails the check" % ", with ".join(mistakes),
              "not caught: %s" % missed)


def main():
    tap = mwtest.Tap()
    path = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("MEMWATCH_DASHBOARD") \
        or DASHBOARD
    exported = exported_families(tap)
    try:
        dashboard = json.loads(read(path))
        parsed = isinstance(dashboard, dict)
        error = "not a JSON object"
    except (OSError, ValueError) as e:
        parsed, error = False, e
    shown = os.path.relpath(path, ROOT) if os.path.abspath(path).startswith(ROOT + os.sep) \
        else path
    if not tap.check(parsed, "%s parses as a JSON object" % shown, error):
        tap.done()
    tap.check(not check_structure(dashboard),
              "it has a title, a uid, schemaVersion %d or later, and %d panels, each with a type "
              "and a title and, but rows, a query" % (MIN_SCHEMA, len(all_panels(dashboard))),
              "\n".join(check_structure(dashboard)))
    bad = check_datasources(dashboard)
    tap.check(not bad, "its panels' and queries' data source is a Prometheus variable",
              "\n".join(bad))
    bad = check_queries(dashboard, exported)
    tap.check(not bad, "its %d queries name only families memwatch exports, with their labels "
              "and documented values, rate() its counters and not its gauges, in the panel's "
              "unit" % len(list(queries(dashboard))), "\n".join(bad))
    bad = check_variables(dashboard, exported)
    tap.check(not bad, "its template variables pid and comm, and any other, query exported "
              "families and labels", "\n".join(bad))
    check_catches(tap, dashboard, exported)
    tap.done()


if __name__ == "__main__":
    main()
