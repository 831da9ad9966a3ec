#!/usr/bin/env python3
"""--listen against real BPF: a real Prometheus scrapes memwatch and finds the
workload's exact allocation count; promtool accepts the text format and the
OpenMetrics form ends with # EOF; 404, 405, a port in use (exit 8), a bare port
on loopback only; abusive clients delay no interval report and cost little
memory; the time of one scrape with 1,000 threads is measured, not asserted."""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import mwtest

N = 100000
OPENMETRICS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                      "application/openmetrics-text;version=0.0.1;q=0.75,"
                      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                       r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?[0-9.eE+]+|NaN)$')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, headers=None, method="GET", timeout=10):
    """(status, headers, body) of a request; status 0 when the connection failed."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()
    except (OSError, urllib.error.URLError):
        return 0, None, ""


def sample(text, name, labels=""):
    """The value of the first sample of @name whose labels contain @labels, or None."""
    for line in text.splitlines():
        m = PROM_LINE.match(line)
        if m and m.group(1) == name and labels in (m.group(2) or ""):
            return float(m.group(3))
    return None


class Exporter:
    """memwatch --listen on a launched channel workload held at its end (-W)."""

    def __init__(self, port, args, options=("--format=none",)):
        self.url = "http://127.0.0.1:%d" % port
        self.proc = subprocess.Popen([mwtest.MEMWATCH, "--listen", "127.0.0.1:%d" % port,
                                      *options, "--", *mwtest.channel(*args, "-W")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.said = []
        self.done = mwtest.wait_for_line(self.proc.stderr, r"done pid=(\d+)",
                                         timeout=mwtest.TIMEOUT, seen=self.said)

    def scrape_when(self, ok, timeout=30, headers=None):
        """The first /metrics text for which ok(text) holds, or the last one."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            status, _, text = get(self.url + "/metrics", headers)
            if status == 200 and ok(text):
                break
            time.sleep(0.1)
        return text

    def finish(self):
        """Releases the workload; (memwatch's status, the workload's output, memwatch's stderr)."""
        try:
            out, err = self.proc.communicate(b"\n", timeout=mwtest.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out.decode(), "".join(self.said) + err.decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Prometheus:
    """A real Prometheus on 127.0.0.1 that scrapes @target every second, its storage temporary."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="mw-prometheus-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: memwatch\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        self.url = "http://127.0.0.1:%d" % free_port()
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + self.dir + "/data",
             "--web.listen-address=" + self.url[len("http://"):]],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expr):
        """The value of an instant query's first result, or None."""
        status, _, body = get(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        m = re.search(r'"value":\[[0-9.]+,"([^"]+)"\]', body) if status == 200 else None
        return float(m.group(1)) if m else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.seek(0)
        tail = self.log.read()[-2000:]
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return tail


def check_prometheus(tap):
    """Prometheus, scraping every second, reads the workload's exact allocation count."""
    if not shutil.which("prometheus"):
        mwtest.not_here(tap, "Prometheus scrapes memwatch", "no prometheus (scripts/deps.sh)")
        return
    # the empty run: what the workload allocates besides its items
    empty = Exporter(free_port(), ("batch", "-n", 0, "-s", 64))
    try:
        text = empty.scrape_when(lambda t: sample(t, "memwatch_alloc_calls_total") is not None)
        base = sample(text, "memwatch_alloc_calls_total")
        # the count is final once the workload is done: one interval more shows it
        time.sleep(1.5)
        base = sample(empty.scrape_when(lambda t: True), "memwatch_alloc_calls_total")
    finally:
        code, _, err = empty.finish()
    if not tap.check(code == 0 and base is not None, "empty run: served its count", err):
        return
    port = free_port()
    full = Exporter(port, ("batch", "-n", N, "-s", 64))
    prom = Prometheus("127.0.0.1:%d" % port)
    got = None
    try:
        tap.check(full.done is not None, "the workload is held at its end", "".join(full.said))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = prom.query("memwatch_alloc_calls_total")
            if got == base + N:
                break
            time.sleep(0.5)
        tap.eq(got, base + N, "Prometheus' query returns the empty run's count + N")
        tap.eq(prom.query('up{job="memwatch"}'), 1.0, "Prometheus: the target is up")
        tap.check(prom.query("memwatch_thread_alloc_calls_total") is None,
                  "no per-thread series without --metrics-threads")
    finally:
        log = prom.stop()
        code, out, err = full.finish()
    if got != base + N:
        print("# prometheus log: " + log.replace("\n", "\n# "))
    did = mwtest.parse_workload(out)["total"]
    tap.check(code == 0 and did and did["allocs"] == N, "the workload allocated N, memwatch exited 0",
              err)


def check_formats(tap):
    """promtool accepts the text format; OpenMetrics ends with # EOF and parses."""
    ex = Exporter(free_port(), ("threads", "-n", 1000), ("--format=none", "--metrics-threads"))
    try:
        text = ex.scrape_when(lambda t: "memwatch_thread_alloc_calls_total" in t)
        status, headers, om = get(ex.url + "/metrics", {"Accept": OPENMETRICS_ACCEPT})
        head_status, _, head_body = get(ex.url + "/metrics", method="HEAD")
    finally:
        ex.finish()
    tap.check("memwatch_thread_alloc_calls_total" in text, "a scrape with per-thread series", text[:500])
    tap.check(re.search(r'\nmemwatch_thread_info\{[^}]*,thread_comm="[^"]*"\} 1\n', text) and
              text.count("thread_comm=") == text.count("\nmemwatch_thread_info{"),
              "thread_comm only in memwatch_thread_info")
    tap.check("\n# TYPE memwatch_thread info\n" in om, "OpenMetrics: memwatch_thread is an info")
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
        tap.check(p.returncode == 0 and not p.stdout.strip(), "promtool check metrics accepts it",
                  p.stdout + p.stderr)
    else:
        mwtest.not_here(tap, "promtool check metrics", "no promtool (scripts/deps.sh)")
    tap.check(status == 200 and headers.get("Content-Type", "").startswith(
        "application/openmetrics-text; version=1.0.0"), "Accept: OpenMetrics is answered as such",
        (status, headers and headers.get("Content-Type")))
    tap.check(om.endswith("\n# EOF\n") and om.count("# EOF") == 1, "OpenMetrics ends with # EOF")
    tap.check(not om_problems(om), "OpenMetrics parses", om_problems(om)[:5])
    tap.check(head_status == 200 and head_body == "", "HEAD: 200, no body", head_status)


def om_problems(text):
    """What is wrong in an OpenMetrics text: each sample's family declared before it
    (a counter's samples NAME_total, an info's NAME_info), no family twice, known types,
    # EOF last."""
    problems, types, family = [], {}, None
    lines = text.split("\n")
    if lines[-2:] != ["# EOF", ""]:
        problems.append("no # EOF at the end")
    for line in lines[:-2]:
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            if name in types or kind not in ("counter", "gauge", "info"):
                problems.append(line)
            types[name], family = kind, name
        elif line.startswith("# HELP ") or line.startswith("# UNIT "):
            if line.startswith("# UNIT ") and not line.split(" ")[2].endswith("_" + line.split(" ")[3]):
                problems.append(line)
        else:
            m = PROM_LINE.match(line)
            if not m:
                problems.append("unparsed: " + line)
                continue
            want = family + {"counter": "_total", "info": "_info"}.get(types.get(family), "")
            if m.group(1) != want:
                problems.append("%s outside its family %s" % (m.group(1), family))
    return problems


def check_http(tap):
    """404 off /metrics, 405 for other methods, an index at /."""
    ex = Exporter(free_port(), ("batch", "-n", 0))
    try:
        ex.scrape_when(lambda t: True)
        s404, _, _ = get(ex.url + "/nope")
        s405, h405, _ = get(ex.url + "/metrics", method="POST")
        s_index, _, index = get(ex.url + "/")
    finally:
        code, _, err = ex.finish()
    tap.eq(s404, 404, "another path: 404")
    tap.check(s405 == 405 and h405 and h405.get("Allow") == "GET, HEAD", "POST: 405, Allow: GET, HEAD",
              (s405, h405 and h405.get("Allow")))
    tap.check(s_index == 200 and "/metrics" in index, "/ names /metrics", (s_index, index))
    tap.eq(code, 0, "memwatch --format=none exits 0 with its target")


def check_port_in_use(tap):
    """A port in use: exit 8, one line naming the address and why; the command never ran."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = subprocess.run([mwtest.MEMWATCH, "--listen", "127.0.0.1:%d" % port, "--format=none",
                            "--", *mwtest.channel("batch", "-n", 0)],
                           capture_output=True, text=True, timeout=mwtest.TIMEOUT)
    lines = p.stderr.splitlines()
    tap.eq(p.returncode, 8, "a port in use: exit 8")
    tap.check(len(lines) == 1 and "127.0.0.1:%d" % port in lines[0] and "in use" in lines[0],
              "one line names the address and errno", p.stderr)
    tap.eq(p.stdout, "", "the command never ran")


def listening_addresses(port):
    """The local IPv4 addresses (hex, as /proc/net/tcp has them) listening on @port."""
    found = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            addr, hexport = fields[1].split(":")
            if int(hexport, 16) == port and fields[3] == "0A":
                found.append(addr)
    return found


def check_bare_port(tap):
    """A bare port listens on 127.0.0.1 only."""
    port = free_port()
    p = subprocess.Popen([mwtest.MEMWATCH, "--listen", str(port), "--format=none", "--",
                          *mwtest.channel("batch", "-n", 0, "-W")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        mwtest.wait_for_line(p.stderr, r"done pid=", timeout=mwtest.TIMEOUT)
        addresses = listening_addresses(port)
        status, _, _ = get("http://127.0.0.1:%d/" % port)
    finally:
        p.communicate(b"\n", timeout=mwtest.TIMEOUT)
    tap.eq(addresses, ["0100007F"], "a bare port listens on 127.0.0.1 only (/proc/net/tcp)")
    tap.eq(status, 200, "and answers there")


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def check_abuse(tap):
    """200 idle connections, a client sending a byte a second and a 1 MiB header:
    the interval reports stay on time and memwatch stays small."""
    port = free_port()
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        p = subprocess.Popen([mwtest.MEMWATCH, "--listen", "127.0.0.1:%d" % port, "--format=json",
                              "-o", report.name, "-i", "1", "--",
                              *mwtest.channel("batch", "-n", 0, "-W")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        idle, stop, header_result = [], threading.Event(), {}
        try:
            mwtest.wait_for_line(p.stderr, r"done pid=", timeout=mwtest.TIMEOUT)
            for _ in range(200):
                s = socket.socket()
                s.settimeout(2)
                try:
                    s.connect(("127.0.0.1", port))
                except OSError:
                    pass
                idle.append(s)
            slow = threading.Thread(target=slow_client, args=(port, stop), daemon=True)
            big = threading.Thread(target=big_header, args=(port, header_result), daemon=True)
            slow.start()
            big.start()
            time.sleep(6)
            stop.set()
            slow.join(10)
            big.join(20)
            for s in idle:
                s.close()
            records = [r for r in mwtest.parse_reports(report.read())[0]]
            hwm = vm_hwm_kib(p.pid)
            status, _, _ = get("http://127.0.0.1:%d/metrics" % port)
        finally:
            stop.set()
            for s in idle:
                s.close()
            p.communicate(b"\n", timeout=mwtest.TIMEOUT)
    lateness = [r["elapsed_s"] - round(r["elapsed_s"]) for r in records]
    print("# abuse: %d interval reports, at most %.3f s from due, VmHWM %d KiB, 1 MiB header: %s"
          % (len(records), max(map(abs, lateness or [0])), hwm, header_result.get("answer")))
    tap.check(len(records) >= 6 and all(abs(x) <= 0.2 for x in lateness),
              "abuse: every interval report within 0.2 s of due", lateness)
    tap.check(hwm < 64 * 1024, "abuse: memwatch's VmHWM under 64 MiB", hwm)
    tap.check(header_result.get("answer") in ("431", "closed"),
              "abuse: a 1 MiB header is refused (431) or dropped", header_result)
    tap.eq(status, 200, "abuse: /metrics answers once it is over")


def slow_client(port, stop):
    """A request sent a byte a second, until the server closes or @stop."""
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 100
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            for byte in request:
                if stop.wait(1):
                    return
                s.send(bytes([byte]))
    except OSError:
        pass


def big_header(port, result):
    """A request with a 1 MiB header: the status line of the answer, or 'closed'."""
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    answer = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            try:
                s.sendall(request)
            except OSError:
                pass
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        pass
    m = re.match(rb"HTTP/1\.[01] (\d+)", answer)
    result["answer"] = m.group(1).decode() if m else "closed"


THREADS = 1000
# a target with 1,000 threads, each allocating 100 kB (malloc) every 2 s: no workload of ours has
# that many; a thread has per-thread series once memwatch has seen it call
MANY_THREADS = """
import sys, threading
threading.stack_size(256 * 1024)
ev = threading.Event()
def work():
    while not ev.wait(2):
        bytearray(100000)
for _ in range(%d):
    threading.Thread(target=work, daemon=True).start()
print("ready", flush=True)
sys.stdin.readline()
""" % THREADS


def thread_series(text):
    """How many threads have per-thread series in @text."""
    return text.count("\nmemwatch_thread_alloc_calls_total{")


@contextlib.contextmanager
def many_threads_exporter():
    """memwatch --listen --metrics-threads -p on a target of THREADS threads: (memwatch, port);
    memwatch ended by SIGINT, then the target, however the block ends."""
    target = subprocess.Popen(["python3", "-c", MANY_THREADS], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    port = free_port()
    mw = None
    try:
        target.stdout.readline()
        mw = subprocess.Popen([mwtest.MEMWATCH, "--listen", "127.0.0.1:%d" % port,
                               "--format=none", "--metrics-threads", "-i", "1",
                               "-p", str(target.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        yield mw, port
    finally:
        if mw:
            mw.send_signal(signal.SIGINT)
            mw.wait(timeout=mwtest.TIMEOUT)
        target.stdin.close()
        target.wait(timeout=mwtest.TIMEOUT)


def check_scrape_cost(tap):
    """The time of one scrape with 1,000 threads and --metrics-threads: measured, printed."""
    with many_threads_exporter() as (mw, port):
        deadline, text = time.monotonic() + 30, ""
        while time.monotonic() < deadline:
            _, _, text = get("http://127.0.0.1:%d/metrics" % port)
            live = thread_series(text)
            if live >= THREADS:
                break
            time.sleep(0.2)
        times = []
        for _ in range(5):
            t0 = time.monotonic()
            status, _, body = get("http://127.0.0.1:%d/metrics" % port)
            times.append(time.monotonic() - t0)
        times.sort()
        series = sum(1 for line in body.splitlines() if line and line[0] != "#")
        # what rendering each interval costs memwatch: its CPU over 5 intervals
        cpu = mwtest.cpu_seconds(mw.pid)
        time.sleep(5)
        cpu = mwtest.cpu_seconds(mw.pid) - cpu
        print("# scrape with %d threads: median %.1f ms (min %.1f, max %.1f), %d bytes, %d series;"
              " memwatch used %.0f%% of a core meanwhile"
              % (THREADS, times[2] * 1e3, times[0] * 1e3, times[-1] * 1e3, len(body), series,
                 cpu / 5 * 100))
        tap.check(status == 200 and live >= THREADS,
                  "a scrape of a target with 1,000 threads", (status, live))
    tap.eq(mw.returncode, 0, "memwatch -p ends with SIGINT, the server with it")


DEADLINE_S = 30        # user/output/metrics_server.c's REQUEST_DEADLINE_NS
SLOW_READERS = 3


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def established(port, peer_port):
    """Whether the server side of the connection from @peer_port to @port is established."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1].split(":"), fields[2].split(":")
            if (int(local[1], 16), int(remote[1], 16)) == (port, peer_port) and fields[3] == "01":
                return True
    return False


def wait_until(ok, timeout):
    """Polls ok() until it holds or @timeout seconds passed; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return True
        time.sleep(0.2)
    return ok()


class SlowReader:
    """A scrape whose client takes 96 KiB a second through a small receive buffer: each
    second lets the server send more before its idle timeout, and a 5 MB page would take
    a minute."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.peer_port = self.sock.getsockname()[1]
        self.got = b""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(5)
        try:
            while not self.stop.wait(1):
                for _ in range(24):
                    self.got += self.sock.recv(4096)
        except OSError:
            pass

    def drain(self):
        """Stops reading slowly, reads what is left; (Content-Length, body bytes received)."""
        self.stop.set()
        self.thread.join(10)
        self.sock.settimeout(10)
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    break
                self.got += chunk
        except OSError:
            pass
        self.sock.close()
        head, _, body = self.got.partition(b"\r\n\r\n")
        m = re.search(rb"Content-Length: (\d+)", head, re.I)
        return int(m.group(1)) if m else None, len(body)


def trickle_headers(port, result):
    """A request whose headers come a byte every 4 s (within the idle timeout):
    how long until the server closes it."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.settimeout(4)
            while time.monotonic() - t0 < DEADLINE_S + 30:
                s.send(b"G")
                try:
                    if s.recv(1) == b"":
                        break
                except socket.timeout:
                    pass
    except OSError:
        pass
    result["held_s"] = time.monotonic() - t0


def check_slow_readers(tap):
    """Slow readers of a 1,000-thread page each hold one format's page until the
    request's deadline, then lose the connection; a client trickling its headers
    too; a fifth connection from one address is refused, another address's is
    answered."""
    readers, trickle = [], {}
    with many_threads_exporter() as (mw, port):
        try:
            slow_readers(tap, mw, port, readers, trickle)
        finally:
            for r in readers:
                r.stop.set()
                r.sock.close()


def slow_readers(tap, mw, port, readers, trickle):
    """check_slow_readers() on a running exporter; @readers and @trickle filled as it goes."""
    url = "http://127.0.0.1:%d/metrics" % port
    size = [0]

    def full_page():
        _, _, text = get(url)
        size[0] = len(text)
        return thread_series(text) >= THREADS
    tap.check(wait_until(full_page, 30), "slow readers: a page of 1,000 threads' series")
    rss0 = vm_rss_kib(mw.pid)
    trickler = threading.Thread(target=trickle_headers, args=(port, trickle), daemon=True)
    trickler.start()
    t0 = time.monotonic()
    # an interval apart: each holds another interval's page, the worst case
    for _ in range(SLOW_READERS):
        readers.append(SlowReader(port))
        time.sleep(1.2)
    s5, _, _ = get(url, timeout=5)
    with socket.socket() as other:
        other.bind(("127.0.0.2", 0))
        other.settimeout(10)
        other.connect(("127.0.0.1", port))
        other.sendall(b"GET / HTTP/1.0\r\n\r\n")
        other_answer = other.recv(64)
    rss_held = vm_rss_kib(mw.pid)
    cut = wait_until(lambda: not any(established(port, r.peer_port) for r in readers),
                     DEADLINE_S + 30)
    cut_s = time.monotonic() - t0
    rss_after = vm_rss_kib(mw.pid)
    sizes = [r.drain() for r in readers]
    trickler.join(DEADLINE_S + 40)
    print("# slow readers: page %d bytes; memwatch VmRSS %d KiB before, %d KiB with %d slow "
          "readers, %d KiB once cut (%.1f s after the first); headers trickled: held %.1f s"
          % (size[0], rss0, rss_held, len(readers), rss_after, cut_s,
             trickle.get("held_s", -1)))
    tap.check(cut, "slow readers: cut off by the deadline", sizes)
    tap.check(all(length and got < length for length, got in sizes),
              "slow readers: each got part of the page only", sizes)
    tap.check(trickle.get("held_s", 1e9) < DEADLINE_S + 15,
              "headers a byte every 4 s: the connection ends at the deadline", trickle)
    tap.check(s5 == 0, "a fifth connection from 127.0.0.1 is refused", s5)
    tap.check(other_answer.startswith(b"HTTP/1.1 200"), "127.0.0.2 is answered meanwhile",
              other_answer)


if __name__ == "__main__":
    mwtest.run_checks("metrics", check_port_in_use, check_http, check_bare_port, check_formats,
                      check_prometheus, check_abuse, check_scrape_cost, check_slow_readers)
