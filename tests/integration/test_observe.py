#!/usr/bin/env python3
"""
Description: observability. /metrics is parsed by the Prometheus client's own
text parser (Debian python3-prometheus-client under /usr/bin/python3) and its
counters match the requests made: counts by route pattern, method and status,
histogram counts and buckets, the shared "unmatched" route label, the "other"
method, queue waits of sync routes. Access log lines in the combined and the
JSON format describe the requests made; SIGHUP reopens the log (rotation)
without losing a line, under load. X-Request-ID is echoed when valid and
replaced when not; handlers read the ID and a validated traceparent.

HTTP/2 (curl: h2c with prior knowledge, and h2 over TLS): every answered
stream (handler answers, the server's own 404/405/413, a route deadline's
504, streamed responses, SSE, files) has one log line saying HTTP/2.0 with
its status, target and DATA bytes, in both formats, and one count in
ringo_requests_total with the labels an HTTP/1.1 request gets; responses
carry X-Request-ID and handlers read the traceparent.
"""
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check, check_eq, get, request  # noqa: E402

# A missing tool fails the test: it must never pass without checking.
text_string_to_metric_families = h.need_module(
    "prometheus_client.parser", "python3-prometheus-client", fail=True
).text_string_to_metric_families

ID_RE = re.compile(r"^[0-9a-f]{12}-[0-9a-f]+-[0-9a-f]+$")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def scrape(srv):
    c = Conn(srv)
    r = c.exchange(get("/metrics"))
    c.close()
    check_eq(r.status, 200, "GET /metrics")
    check(r.header("content-type").startswith("text/plain; version=0.0.4"),
          f"content type {r.header('content-type')!r}")
    samples = {}
    for fam in text_string_to_metric_families(r.body.decode()):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def one(srv, raw, head=False):
    c = Conn(srv)
    r = c.exchange(raw, head=head)
    c.close()
    return r


def wait_for(fn, what):
    deadline = h.deadline_after(h.TIMEOUT)
    while not fn():
        check(h.remaining(deadline) > 0, f"timed out waiting for {what}")
        time.sleep(0.02)


def lines_of(path):
    try:
        with open(path, "rb") as f:
            return [l for l in f.read().decode().split("\n") if l]
    except FileNotFoundError:
        return []


@case(threads=2)
def metrics_count_requests(srv):
    before = scrape(srv)
    for _ in range(3):
        check_eq(one(srv, get("/plaintext")).status, 200, "/plaintext")
    for i in (7, 8):
        check_eq(one(srv, get(f"/users/{i}")).status, 200, "/users/{id}")
    for _ in range(2):
        check_eq(one(srv, get("/sync/plaintext")).status, 200, "/sync/plaintext")
    for path in ("/nope", "/nope/again"):
        check_eq(one(srv, get(path)).status, 404, path)
    check_eq(one(srv, request("PROPFIND", "/plaintext")).status, 405, "PROPFIND")
    check_eq(one(srv, request("DELETE", "/plaintext")).status, 405, "DELETE")
    after = scrape(srv)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    total = "ringo_requests_total"
    check_eq(delta(total, route="/plaintext", method="GET", status="200"), 3, "/plaintext")
    check_eq(delta(total, route="/users/{id}", method="GET", status="200"), 2,
             "route label is the pattern")
    check(not any(k[0] == total and ("route", "/users/7") in k[1] for k in after),
          "a raw path became a label")
    check_eq(delta(total, route="/sync/plaintext", method="GET", status="200"), 2, "sync")
    check_eq(delta(total, route="unmatched", method="GET", status="404"), 2, "unmatched 404")
    check_eq(delta(total, route="unmatched", method="other", status="405"), 1, "other method")
    check_eq(delta(total, route="unmatched", method="DELETE", status="405"), 1, "DELETE 405")
    check_eq(delta(total, route="/metrics", method="GET", status="200"), 1, "the first scrape")
    dur = "ringo_request_duration_seconds"
    check_eq(delta(dur + "_count", route="/plaintext"), 3, "duration count")
    check_eq(delta(dur + "_bucket", route="/plaintext", le="+Inf"), 3, "+Inf bucket")
    check_eq(delta(dur + "_count", route="unmatched"), 4, "unmatched duration count")
    last = 0
    for le in ("0.0001", "0.001", "0.01", "0.1", "1", "10", "+Inf"):
        b = value(after, dur + "_bucket", route="/plaintext", le=le)
        check(b >= last, f"buckets are cumulative ({le})")
        last = b
    check(value(after, dur + "_sum", route="/plaintext") > 0, "duration sum")
    qw = "ringo_request_queue_wait_seconds"
    check_eq(delta(qw + "_count", route="/sync/plaintext"), 2, "queue wait count (sync)")
    check_eq(delta(qw + "_count", route="/plaintext"), 0, "no queue wait on the ring")
    for ring in ("0", "1"):
        check(("ringo_connections", (("ring", ring),)) in after, f"connections of ring {ring}")
        check(("ringo_ring_stalls_total", (("ring", ring),)) in after, f"stalls of ring {ring}")
    check(delta("ringo_bytes_received_total") >= 11 * len(get("/plaintext")), "bytes received")
    check(delta("ringo_bytes_sent_total") > 0, "bytes sent")
    for name in ("ringo_pool_workers_busy", "ringo_pool_queue_length", "ringo_cancels_total"):
        check((name, ()) in after, f"{name} present")
    check(value(after, "process_resident_memory_bytes") > 0, "RSS")
    check(value(after, "process_open_fds") > 0, "open fds")
    check((("process_cpu_seconds_total", ())) in after, "CPU seconds")
    check(value(after, "process_start_time_seconds") > 1e9, "start time")


@case()
def metrics_count_websocket_handshake(srv):
    before = scrape(srv)
    c = Conn(srv)
    c.send(get("/ws/echo", headers=[("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                    ("Sec-WebSocket-Version", "13")]))
    check_eq(c.read_response(head=True).status, 101, "the opening handshake")
    # Counted as the 101 goes out: the connection is still open.
    key = dict(route="/ws/echo", method="GET", status="101")
    check_eq(value(scrape(srv), "ringo_requests_total", **key) -
             value(before, "ringo_requests_total", **key), 1, "the 101 is counted")
    c.close()


@case(args=["--request-ids"])
def request_ids(srv):
    ids = set()
    for _ in range(5):
        r = one(srv, get("/plaintext"))
        rid = r.header("x-request-id")
        check(rid and ID_RE.match(rid), f"generated X-Request-ID {rid!r}")
        ids.add(rid)
    check_eq(len(ids), 5, "generated IDs are unique")
    ok = "req-42_a.b:c+d=e/f@g"
    check_eq(one(srv, get("/plaintext", headers=[("X-Request-ID", ok)])).header("x-request-id"),
             ok, "a valid incoming ID is echoed")
    for bad in ("a" * 129, "a b", "<script>", "x\"y"):
        rid = one(srv, get("/plaintext", headers=[("X-Request-ID", bad)])).header("x-request-id")
        check(rid != bad and ID_RE.match(rid), f"invalid incoming ID {bad!r} replaced: {rid!r}")
    check_eq(one(srv, get("/plaintext", headers=[("X-Request-ID", "a" * 128)]))
             .header("x-request-id"), "a" * 128, "128 bytes are taken")
    # Error answers carry it too.
    r = one(srv, get("/nope", headers=[("X-Request-ID", "nf-1")]))
    check_eq((r.status, r.header("x-request-id")), (404, "nf-1"), "404 echoes the ID")
    r = one(srv, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
    check_eq(r.status, 400, "a malformed request")
    check(ID_RE.match(r.header("x-request-id") or ""), "a protocol error gets an ID")
    # Handlers (here on the pool) read the ID and the traceparent.
    r = one(srv, get("/sync/trace", headers=[("X-Request-ID", "t-1"),
                                               ("traceparent", TRACEPARENT)]))
    check_eq(r.json(), {"id": "t-1", "traceparent": TRACEPARENT}, "ringo_req_id/traceparent")
    for bad in ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                TRACEPARENT + "-x", TRACEPARENT[:-1]):
        r = one(srv, get("/sync/trace", headers=[("traceparent", bad)]))
        check_eq(r.json()["traceparent"], "invalid", f"traceparent {bad!r}")
    later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes"
    check_eq(one(srv, get("/sync/trace", headers=[("traceparent", later)])).json()["traceparent"],
             later, "a later version may append fields")
    check_eq(one(srv, get("/sync/trace")).json()["traceparent"], "absent", "no traceparent")


@case(args=[])
def request_ids_off_by_default(srv):
    r = one(srv, get("/plaintext", headers=[("X-Request-ID", "abc")]))
    check_eq(r.header("x-request-id"), None, "no X-Request-ID unless asked for")
    check_eq(one(srv, get("/sync/trace")).json()["id"], "", "ringo_req_id() is empty")


COMBINED_RE = re.compile(
    r'^(?P<peer>127\.0\.0\.1:\d+) - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" '
    r'"(?P<ua>[^"]*)"$')


def served(cmdline_log, fmt=None):
    args = ["--access-log", cmdline_log]
    return args + (["--access-log-format", fmt] if fmt else [])


LOG_DIR = tempfile.mkdtemp(prefix="ringo-observe-")
atexit.register(shutil.rmtree, LOG_DIR, True)
COMBINED_LOG = os.path.join(LOG_DIR, "combined.log")
JSON_LOG = os.path.join(LOG_DIR, "json.log")
ROTATE_LOG = os.path.join(LOG_DIR, "rotate.log")


@case(args=served(COMBINED_LOG))
def access_log_combined(srv):
    c = Conn(srv)
    raw = c.exchange(get("/plaintext", headers=[("Referer", "http://x/a\"b"),
                                                ("User-Agent", "t\\est/1.0")]))
    port = c.local_port()
    c.close()
    check_eq(raw.status, 200, "/plaintext")
    one(srv, get("/nope"))
    one(srv, request("HEAD", "/plaintext"), head=True)
    wait_for(lambda: len(lines_of(COMBINED_LOG)) >= 3, "three log lines")
    lines = lines_of(COMBINED_LOG)
    check_eq(len(lines), 3, "one line per request")
    m = [COMBINED_RE.match(l) for l in lines]
    check(all(m), f"combined format: {lines!r}")
    check_eq(m[0]["peer"], f"127.0.0.1:{port}", "peer")
    check_eq(m[0]["request"], "GET /plaintext HTTP/1.1", "request line")
    check_eq((m[0]["status"], m[0]["referer"], m[0]["ua"]),
             ("200", "http://x/a\\x22b", "t\\x5Cest/1.0"), "escaped fields")
    check_eq(int(m[0]["bytes"]), len(raw.head) + 4 + len(raw.body), "bytes of the response")
    check_eq((m[1]["request"], m[1]["status"]), ("GET /nope HTTP/1.1", "404"), "404 line")
    check_eq((m[2]["request"], m[2]["status"]), ("HEAD /plaintext HTTP/1.1", "200"), "HEAD")


@case(args=served(JSON_LOG, "json"), threads=2)
def access_log_json(srv):
    c = Conn(srv)
    r1 = c.exchange(get("/users/9", headers=[("User-Agent", "ua\tx\u00e9".encode("latin-1")
                                                              .decode("latin-1"))]))
    r2 = c.exchange(get("/sync/plaintext"))
    r3 = c.exchange(get("/nope", headers=[("X-Request-ID", "mine-1")]))
    port = c.local_port()
    c.close()
    wait_for(lambda: len(lines_of(JSON_LOG)) >= 3, "three log lines")
    recs = [json.loads(l) for l in lines_of(JSON_LOG)]
    check_eq(len(recs), 3, "one line per request")
    keys = {"time", "id", "peer", "method", "target", "protocol", "route", "status", "bytes",
            "duration", "queue_wait", "ring", "user_agent"}
    for rec in recs:
        check_eq(set(rec), keys, "JSON fields")
        check_eq(rec["protocol"], "HTTP/1.1", "protocol")
        check_eq(rec["peer"], f"127.0.0.1:{port}", "peer")
        check(rec["ring"] in (0, 1), "ring")
        check(rec["duration"] >= 0 and rec["queue_wait"] >= 0, "times")
    check_eq((recs[0]["route"], recs[0]["target"], recs[0]["status"]), ("/users/{id}", "/users/9",
                                                                         200), "route pattern")
    check_eq(recs[0]["id"], r1.header("x-request-id"), "the logged ID is the echoed one")
    check_eq(recs[0]["user_agent"], "ua\tx\u00e9", "escaped user agent")
    check_eq(recs[0]["bytes"], len(r1.head) + 4 + len(r1.body), "bytes")
    check_eq((recs[1]["route"], recs[1]["id"]), ("/sync/plaintext", r2.header("x-request-id")),
             "sync route")
    check_eq((recs[2]["route"], recs[2]["status"], recs[2]["id"]), ("unmatched", 404, "mine-1"),
             "unmatched, client ID")
    check_eq(r3.header("x-request-id"), "mine-1", "echoed")


STALLED_LOG = os.path.join(LOG_DIR, "stalled.fifo")
os.mkfifo(STALLED_LOG)
# The reader end, opened before the server so that its open does not wait, and not read
# until the end: the writer thread blocks once the pipe is full, as on a stalled disk.
STALLED_READER = os.open(STALLED_LOG, os.O_RDONLY | os.O_NONBLOCK)


@case(args=served(STALLED_LOG))
def access_log_stalled_drops_lines_not_requests(srv):
    ua = "u" * 1000  # ~1.1 KB lines: the 1 MiB buffer fills after ~1,000 of them
    batch = get("/plaintext", headers=[("User-Agent", ua)]) * 100
    c = Conn(srv)
    for _ in range(30):
        c.send(batch)
        for _ in range(100):
            check_eq(c.read_response().status, 200, "answered while the log is stalled")
    c.close()
    dropped = value(scrape(srv), "ringo_access_log_dropped_total")
    check(dropped > 0, "lines dropped and counted")
    check(dropped < 3000, f"not every line dropped: {dropped}")
    # Unstall it: what was buffered goes out, and the shutdown (which writes the last
    # lines) does not wait for a reader.
    got = bytearray()

    def drain():
        import select
        while True:
            r, _, _ = select.select([STALLED_READER], [], [], 0.2)
            if not r:
                if srv.stopped:
                    return
                continue
            try:
                chunk = os.read(STALLED_READER, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                return
            got.extend(chunk)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    # The buffer empties (every line not dropped is out: there is room for the next scrape's).
    wait_for(lambda: got.count(b"\n") >= 3000 - dropped, "the buffered lines")
    # Every one of the 3,001 requests above is answered: each line is written or counted
    # (the first scrape's own line may have been dropped after its count).
    final = value(scrape(srv), "ringo_access_log_dropped_total")
    wait_for(lambda: got.count(b"\n") >= 3001 - final + 1, "every line not dropped")
    check_eq(got.count(b"\n"), 3001 - final + 1, "written + dropped = answered")


V6_LOG = os.path.join(LOG_DIR, "v6.log")


@case(args=served(V6_LOG), host="::1")
def access_log_ipv6_peer(srv):
    c = Conn(srv)
    check_eq(c.exchange(get("/plaintext")).status, 200, "/plaintext over IPv6")
    port = c.local_port()
    c.close()
    wait_for(lambda: len(lines_of(V6_LOG)) >= 1, "the log line")
    check(lines_of(V6_LOG)[0].startswith(f"[::1]:{port} - - ["), f"{lines_of(V6_LOG)!r}")


class Load(threading.Thread):
    """Keep-alive requests in a loop until stopped; counts the answers."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv, self.ok, self.stop, self.error = srv, 0, threading.Event(), None

    def run(self):
        try:
            c = Conn(self.srv)
            while not self.stop.is_set() and self.ok < 20000:
                check_eq(c.exchange(get("/plaintext")).status, 200, "under load")
                self.ok += 1
            c.close()
        except Exception as e:  # reported by the case
            self.error = e


@case(args=served(ROTATE_LOG), threads=2)
def access_log_reopened_on_sighup(srv):
    rotated = ROTATE_LOG + ".1"
    for _ in range(5):
        one(srv, get("/plaintext"))
    # Requests answered before the signal land in the old file, all of them.
    os.rename(ROTATE_LOG, rotated)
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: os.path.exists(ROTATE_LOG), "the reopened log")
    wait_for(lambda: len(lines_of(rotated)) >= 5, "the old file's lines")
    check_eq(len(lines_of(rotated)), 5, "lines before the rotation")
    for _ in range(3):
        one(srv, get("/plaintext"))
    wait_for(lambda: len(lines_of(ROTATE_LOG)) >= 3, "new lines in the new file")
    check_eq(len(lines_of(ROTATE_LOG)), 3, "lines after the rotation")
    # Rotations under load lose nothing: every answer has exactly one line.
    load = [Load(srv) for _ in range(2)]
    for t in load:
        t.start()
    names = [rotated]
    for i in range(2, 5):
        wait_for(lambda: sum(t.ok for t in load) >= 200 * i, "load")
        names.append(f"{ROTATE_LOG}.{i}")
        os.rename(ROTATE_LOG, names[-1])
        srv.send_signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(ROTATE_LOG), "the reopened log")
        # A scrape reads what the rings are writing (TSan builds check the pairing).
        seen = value(scrape(srv), "ringo_requests_total", route="/plaintext", method="GET",
                     status="200")
        check(seen >= 8 + 200 * i, f"requests counted under load: {seen}")
    for t in load:
        t.stop.set()
        t.join(h.TIMEOUT)
        check(t.error is None, f"load: {t.error}")
    want = 5 + 3 + 3 + sum(t.ok for t in load)  # and the 3 scrapes
    files = names + [ROTATE_LOG]
    wait_for(lambda: sum(len(lines_of(p)) for p in files) >= want, "every line")
    check_eq(sum(len(lines_of(p)) for p in files), want, "lines over the rotated files")
    check(all(COMBINED_RE.match(l) for p in files for l in lines_of(p)), "whole lines only")


@case(args=["--access-log", "/nonexistent-dir/x.log"], server=False)
def access_log_unopenable_fails_start():
    srv = h.Server(args=["--access-log", "/nonexistent-dir/x.log"])
    try:
        srv.start()
        srv.kill()
        raise h.Failure("the server started without its access log")
    except h.Failure as e:
        check("exited with 1" in str(e), f"start fails: {e}")
    check("cannot open the access log /nonexistent-dir/x.log" in srv.stderr_text(),
          f"message: {srv.stderr_text()!r}")


# ---- HTTP/2: every answered stream is counted and logged, once ----

class H2Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def curl_h2(srv, path, *args, tls=False):
    """One request over HTTP/2 by curl: h2c with prior knowledge, or h2 over TLS (ALPN)."""
    exe = shutil.which("curl")
    if not exe:
        raise h.Skip("curl is not installed (scripts/deps.sh installs it)")
    head = "--head" in args
    mode = ["--http2", "-k"] if tls else ["--http2-prior-knowledge"]
    url = f"{'https' if tls else 'http'}://{srv.url_host}:{srv.port}{path}"
    cmd = [exe, "-sS", "-g", "--noproxy", "*", "--max-time", str(int(h.TIMEOUT)), *mode,
           "-D", "-", "-o", os.devnull if head else "-", "-w", "\n%{http_version}", *args, url]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=h.TIMEOUT + 10)
    except subprocess.TimeoutExpired:
        raise h.Failure(f"curl hung: {' '.join(cmd)}")
    check(p.returncode == 0, f"curl {path}: {p.stderr.decode(errors='replace')}")
    out, _, version = p.stdout.rpartition(b"\n")
    if version != b"2":
        raise h.Skip(f"curl spoke HTTP/{version.decode()}: ringo was built without libnghttp2")
    raw_head, _, body = out.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    check(lines[0].startswith("HTTP/2 "), f"status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return H2Answer(int(lines[0].split()[1]), headers, body)


def counted(before, after, **labels):
    name = "ringo_requests_total"
    return value(after, name, **labels) - value(before, name, **labels)


# (curl arguments, path, status, request line, route label, bytes: the body or None)
H2_REQUESTS = [
    ((), "/plaintext", 200, "GET /plaintext", "/plaintext", True),
    ((), "/users/7", 200, "GET /users/7", "/users/{id}", True),
    ((), "/sync/plaintext", 200, "GET /sync/plaintext", "/sync/plaintext", True),
    (("--head",), "/plaintext", 200, "HEAD /plaintext", "/plaintext", True),
    ((), "/nope", 404, "GET /nope", "unmatched", True),
    (("-X", "DELETE"), "/plaintext", 405, "DELETE /plaintext", "unmatched", True),
    # Over --max-body by its content-length: the server's own answer, as on HTTP/1.1.
    (("--data-binary", "x" * 5000), "/echo", 413, "POST /echo", "unmatched", True),
    # The route deadline's 504 stands in for the request: counted and logged once.
    ((), "/deadline/sleep?ms=5000", 504, "GET /deadline/sleep?ms=5000", "/deadline/sleep", True),
    # Streamed: the pieces go to the stream as written; the answer only ends it.
    ((), "/stream?bytes=40000", 200, "GET /stream?bytes=40000", "/stream", False),
    ((), "/events?n=2&interval_ms=1", 200, "GET /events?n=2&interval_ms=1", "/events", False),
    # Files (examples/static, the demo's default --static-dir): ringo_resp_file, a mount.
    ((), "/download/hello.txt", 200, "GET /download/hello.txt", "/download/{name}", False),
    ((), "/static/hello.txt", 200, "GET /static/hello.txt", "/static/{path...}", False),
]


def h2_requests(srv, tls=False):
    """Makes H2_REQUESTS over HTTP/2; returns the answers."""
    answers = []
    for args, path, status, _, _, _ in H2_REQUESTS:
        a = curl_h2(srv, path, *args, tls=tls)
        check_eq(a.status, status, f"{' '.join(args)} {path} over HTTP/2")
        answers.append(a)
    return answers


def check_h2_counted(before, after):
    for args, path, status, line, route, _ in H2_REQUESTS:
        method = line.split()[0]
        check_eq(counted(before, after, route=route, method=method, status=str(status)),
                 2 if (route, method, status) == ("/plaintext", "GET", 200) else 1,
                 f"ringo_requests_total of {line} ({status})")
    dur = "ringo_request_duration_seconds_count"
    check_eq(value(after, dur, route="/plaintext") - value(before, dur, route="/plaintext"), 3,
             "duration count of /plaintext (GET twice, HEAD)")
    qw = "ringo_request_queue_wait_seconds_count"
    check_eq(value(after, qw, route="/sync/plaintext") - value(before, qw, route="/sync/plaintext"),
             1, "queue wait of a sync handler over HTTP/2")


H2C_LOG = os.path.join(LOG_DIR, "h2c-combined.log")


@case(args=served(H2C_LOG) + ["--max-body", 1000])
def h2c_streams_in_the_combined_log_and_the_metrics(srv):
    before = scrape(srv)
    answers = h2_requests(srv)
    check_eq(curl_h2(srv, "/plaintext").status, 200, "once more")
    after = scrape(srv)
    n = len(H2_REQUESTS) + 1
    wait_for(lambda: len(lines_of(H2C_LOG)) >= n + 2, "a line per request")
    lines = lines_of(H2C_LOG)
    check_eq(len(lines), n + 2, f"one line per request and scrape: {lines!r}")
    m = [COMBINED_RE.match(l) for l in lines]
    check(all(m), f"combined format: {lines!r}")
    check_eq((m[0]["request"], m[-1]["request"]), ("GET /metrics HTTP/1.1",) * 2, "the scrapes")
    for (args, path, status, line, _, exact), a, x in zip(H2_REQUESTS, answers, m[1:]):
        check_eq((x["request"], x["status"]), (f"{line} HTTP/2.0", str(status)), "request line")
        if exact:
            check_eq(int(x["bytes"]), len(a.body), f"bytes of {line}: its DATA")
    check_eq(m[-2]["request"], "GET /plaintext HTTP/2.0", "the last request")
    check_eq(m[-2]["ua"][:5], "curl/", "user agent over HTTP/2")
    check_h2_counted(before, after)


H2_JSON_LOG = os.path.join(LOG_DIR, "h2c.json")


@case(args=served(H2_JSON_LOG, "json"))
def h2c_streams_in_the_json_log_with_request_ids(srv):
    mine = curl_h2(srv, "/plaintext", "-H", "X-Request-ID: h2-mine-1")
    check_eq(mine.headers.get("x-request-id"), "h2-mine-1", "a valid incoming ID is echoed")
    ours = curl_h2(srv, "/nope")
    check(ID_RE.match(ours.headers.get("x-request-id", "")), f"generated ID {ours.headers!r}")
    bad = curl_h2(srv, "/plaintext", "-H", "X-Request-ID: a b")
    check(ID_RE.match(bad.headers.get("x-request-id", "")), "an invalid ID is replaced")
    trace = curl_h2(srv, "/sync/trace", "-H", "X-Request-ID: t-2", "-H",
                    f"traceparent: {TRACEPARENT}")
    check_eq(json.loads(trace.body), {"id": "t-2", "traceparent": TRACEPARENT},
             "ringo_req_id/traceparent over HTTP/2")
    wait_for(lambda: len(lines_of(H2_JSON_LOG)) >= 4, "four log lines")
    recs = [json.loads(l) for l in lines_of(H2_JSON_LOG)]
    check_eq(len(recs), 4, "one line per request")
    for rec, a in zip(recs, (mine, ours, bad, trace)):
        check_eq(rec["protocol"], "HTTP/2.0", "protocol")
        check_eq(rec["id"], a.headers["x-request-id"], "the logged ID is the one sent")
        check_eq(rec["bytes"], len(a.body), "bytes: the DATA")
    check_eq([(r["method"], r["target"], r["route"], r["status"]) for r in recs],
             [("GET", "/plaintext", "/plaintext", 200), ("GET", "/nope", "unmatched", 404),
              ("GET", "/plaintext", "/plaintext", 200), ("GET", "/sync/trace", "/sync/trace", 200)],
             "method, target, route, status")


@case(server=False)
def h2_over_tls_streams_are_logged_and_counted():
    tmp = tempfile.mkdtemp(prefix="ringo-observe-tls-")
    atexit.register(shutil.rmtree, tmp, True)
    crt, key = h.make_cert(tmp, "a", "a.test", ["a.test", "localhost"])
    log = os.path.join(tmp, "tls.json")
    args = ["--tls-cert", crt, "--tls-key", key, "--max-body", 1000, *served(log, "json")]
    with h.Server(args) as srv:

        def scrape_tls():
            r = curl_h2(srv, "/metrics", tls=True)
            check_eq(r.status, 200, "GET /metrics over h2")
            return {(s.name, tuple(sorted(s.labels.items()))): s.value
                    for fam in text_string_to_metric_families(r.body.decode())
                    for s in fam.samples}

        before = scrape_tls()
        answers = h2_requests(srv, tls=True)
        check_eq(curl_h2(srv, "/plaintext", tls=True).status, 200, "once more")
        after = scrape_tls()
        check_h2_counted(before, after)
        n = len(H2_REQUESTS) + 3
        wait_for(lambda: len(lines_of(log)) >= n, "a line per request")
        recs = [json.loads(l) for l in lines_of(log)]
        check_eq(len(recs), n, "one line per request")
        check(all(r["protocol"] == "HTTP/2.0" for r in recs), "every line says HTTP/2.0")
        for (args, path, status, line, route, exact), a, rec in zip(H2_REQUESTS, answers,
                                                                    recs[1:]):
            check_eq((rec["method"], rec["target"], rec["status"], rec["route"]),
                     (*line.split(" ", 1), status, route), f"{line} over TLS")
            if exact:
                check_eq(rec["bytes"], len(a.body), f"bytes of {line}")


if __name__ == "__main__":
    h.main()
