#!/usr/bin/env python3
"""
Description: HTTP/2 with prior knowledge (h2c). curl --http2-prior-knowledge
gets the demo routes (async and sync handlers, a POST body, 404, 422); a
client on python3-h2 runs many streams on one connection, uploads and
downloads past the flow-control windows, cancels a slow handler with
RST_STREAM (the handler is cancelled, the connection goes on), is told
ENHANCE_YOUR_CALM for a rapid reset, gets 431 for an oversized header list
and RST_STREAM PROTOCOL_ERROR for invalid pseudo-headers (crafted with
hpack/hyperframe: h2 refuses to send them), and GOAWAY with the last stream
id on a graceful stop while its stream in flight finishes. --no-h2c answers
the preface 505. After each case the server still serves others.

--max-requests N over h2c and TLS: the N-th stream brings GOAWAY NO_ERROR
with its id, the N streams are answered, streams past it are refused or
ignored, and the connection closes. The access log has a line for each
answered stream (431 too) and none for a stream reset before its answer.

Deadlines, each with one short timeout on its own server, over h2c and over
TLS: the preface alone and a header block left unfinished are closed by
the header timeout (GOAWAY), a body that never comes is answered 408 on its
stream, so is a streamed body (RINGO_ROUTE_STREAM_BODY) that stops coming
while a stream beside it is served (over h2c also: a slow but steady one
arrives whole, the wait pauses while the handler leaves the window full,
and the route's body_timeout_ms overrides the app's), quiet SSE streams get
": ping" comment lines between events (never after the handler ended the
stream; a reset or a closed connection cancels them), a response behind a stream window the client keeps shut is reset
(CANCEL) and one behind a shut connection window closes the connection, an
idle connection is closed by the keep-alive timeout however many PINGs it
sends. Over TLS (ALPN h2, throw-away certificates from openssl): many
streams, bodies past the windows, SNI, rapid reset and the graceful stop's
GOAWAY, on the same h2 client over Python's ssl.

Streams over HTTP/2: the demo's streamed responses (async and sync, chunked
and with a declared length, one that lies is reset alone), SSE events that
arrive one by one before their stream ends, trailers (X-Bytes and
grpc-status, seen by h2 and by curl), static files and /download with the
SHA-256 of a large file, ranges, 304 and HEAD; a client that keeps its
window at zero pauses the producers (the server's memory stays bounded) and
closing its connection cancels them; RST_STREAM mid-stream cancels; request
bodies read as they arrive, past the window, with a slow reader whose
unread bytes hold the client back (no WINDOW_UPDATE until it reads).

The client needs python3-h2 (scripts/deps.sh installs it); this file runs
itself under /usr/bin/python3 when the python that started it lacks the
module, and skips (77) with a line saying so when no python has it. curl
must be built with HTTP/2 (Debian's is).
"""
import atexit
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEBIAN_PYTHON = "/usr/bin/python3"

try:
    import h2.config  # noqa: E402
    import h2.connection  # noqa: E402
    import h2.events  # noqa: E402
    import h2.exceptions  # noqa: E402
    import h2.settings  # noqa: E402
    import hpack  # noqa: E402
    import hyperframe.frame as hf  # noqa: E402
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and \
            os.access(DEBIAN_PYTHON, os.X_OK) and not os.environ.get("RINGO_H2_REEXEC"):
        os.environ["RINGO_H2_REEXEC"] = "1"
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])
    print("SKIP all: the Python module 'h2' is missing "
          "(Debian packages python3-h2 python3-hyperframe; scripts/deps.sh installs them)")
    sys.exit(77)

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, StatsConn, case, check, check_eq  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PROTOCOL_ERROR, REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM, NO_ERROR = 1, 7, 8, 11, 0


class Stream:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.data = bytearray()
        self.ended = False
        self.reset = None
        self.trailers = None
        self.frames = 0  # DATA frames with bytes


class Client:
    """One HTTP/2 connection driven by h2's state machine over a blocking socket."""

    scheme = "http"
    ack = True  # False: DATA is not acknowledged (the server's windows stay shut)

    def __init__(self, srv, validate=True):
        self.sock = self.connect(srv)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                        validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate)
        self.h2 = h2.connection.H2Connection(cfg)
        self.h2.initiate_connection()
        self.streams = {}
        self.goaway = None
        self.pings = 0
        self.closed = False
        self.flush()
        # The server's SETTINGS come first; a build without libnghttp2 answers 505.
        data = self.sock.recv(65536)
        if data.startswith(b"HTTP/1.1 505"):
            raise h.Skip("ringo was built without libnghttp2 (libnghttp2-dev): no HTTP/2")
        check(data, "closed instead of SETTINGS")
        for ev in self.h2.receive_data(data):
            self.on_event(ev)
        self.flush()

    def connect(self, srv):
        return socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", body=None, headers=(), end=True):
        sid = self.h2.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", self.scheme),
                (":authority", "127.0.0.1")] + list(headers)
        self.h2.send_headers(sid, hdrs, end_stream=body is None and end)
        self.streams[sid] = Stream()
        self.flush()
        if body is not None:
            self.send_body(sid, body)
        return sid

    def send_body(self, sid, body):
        """Sends as the windows allow, reading the server's WINDOW_UPDATEs meanwhile."""
        off = 0
        deadline = h.deadline_after(h.TIMEOUT)
        st = self.streams[sid]
        while off < len(body):
            if st.ended or st.reset is not None:
                return  # answered (413...) or reset before the whole body: it is not needed
            n = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size,
                    len(body) - off)
            if n > 0:
                try:
                    self.h2.send_data(sid, body[off:off + n])
                except h2.exceptions.StreamClosedError:
                    return
                off += n
                self.flush()
            else:
                self.step(deadline)
        try:
            self.h2.end_stream(sid)
        except h2.exceptions.StreamClosedError:
            return
        self.flush()

    def step(self, deadline):
        left = h.remaining(deadline)
        check(left > 0, "timed out waiting for the server")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return
        for ev in self.h2.receive_data(data):
            self.on_event(ev)
        self.flush()

    def on_event(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = dict(ev.headers)
            st.status = int(st.headers[b":status"])
        elif isinstance(ev, h2.events.DataReceived):
            st.data += ev.data
            st.frames += bool(ev.data)
            if self.ack:
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            st.trailers = dict(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st:
                st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev
        elif isinstance(ev, h2.events.PingAckReceived):
            self.pings += 1

    def run_until(self, pred, what):
        deadline = h.deadline_after(h.TIMEOUT)
        while not pred():
            if self.closed:
                raise h.Failure(f"connection closed while waiting for {what}")
            self.step(deadline)

    def wait(self, sid):
        st = self.streams[sid]
        self.run_until(lambda: st.ended or st.reset is not None, f"stream {sid}")
        return st

    def sync(self):
        """A PING round trip: the server processed everything sent before it."""
        n = self.pings
        self.h2.ping(b"ringo-h2")
        self.flush()
        self.run_until(lambda: self.pings > n, "the PING ACK")

    def get(self, path):
        return self.wait(self.request(path))

    def close(self):
        self.sock.close()


def curl(srv, path, *args):
    Client(srv).close()  # skips without HTTP/2
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10",
                          "-w", "\n%{http_version} %{http_code}", *args, srv.url(path)],
                         capture_output=True, timeout=30)
    check(out.returncode == 0, f"curl {path}: {out.stderr.decode(errors='replace')}")
    body, _, tail = out.stdout.rpartition(b"\n")
    version, code = tail.decode().split()
    return version, int(code), body


def other_connection_served(srv):
    c = Client(srv)
    st = c.get("/plaintext")
    check_eq(st.status, 200, "another connection's status")
    c.close()
    h.check_alive(srv)


@case()
def curl_demo_routes(srv):
    check_eq(curl(srv, "/plaintext"), ("2", 200, b"Hello, World!"), "async GET /plaintext")
    check_eq(curl(srv, "/sync/json"), ("2", 200, b'{"message":"Hello, World!"}'),
             "sync GET /sync/json")
    check_eq(curl(srv, "/echo", "--data-binary", "hello h2"), ("2", 200, b"hello h2"),
             "POST /echo")
    check_eq(curl(srv, "/nope")[:2], ("2", 404), "unknown path")
    v, code, body = curl(srv, "/items/0")
    check_eq((v, code), ("2", 422), "invalid path parameter")
    check(b'"detail"' in body, f"422 body: {body!r}")


@case()
def many_streams_on_one_connection(srv):
    c = Client(srv)
    paths = ["/plaintext", "/sync/plaintext", "/sync/sleep?ms=20", "/json"] * 20
    sids = [c.request(p) for p in paths]
    for sid, p in zip(sids, paths):
        st = c.wait(sid)
        check_eq(st.status, 200, f"status of {p} on stream {sid}")
        check(st.data, f"empty body for {p}")
    check_eq(c.streams[sids[0]].data, b"Hello, World!", "body")
    check_eq(c.streams[sids[0]].headers.get(b"content-length"), b"13", "content-length")
    c.close()


@case()
def bodies_past_the_flow_control_windows(srv):
    c = Client(srv)
    body = bytes(range(256)) * 1000  # 256000 bytes: four initial windows each way
    st = c.wait(c.request("/echo", method="POST", body=body,
                          headers=[("content-type", "application/octet-stream")]))
    check_eq(st.status, 200, "status")
    check_eq(len(st.data), len(body), "echoed length")
    check(st.data == body, "echoed bytes differ")
    c.close()


@case()
def streamed_body_routes_read_the_body_as_it_arrives(srv):
    c = Client(srv)
    body = bytes(range(256)) * 12288  # 3 MiB: many windows
    digest = hashlib.sha256(body).hexdigest().encode()
    for path in ("/upload", "/sync/upload", "/upload?delay_ms=100"):
        st = c.wait(c.request(path, method="POST", body=body))
        check_eq(st.status, 200, f"status of {path}")
        check(b'"bytes":%d' % len(body) in st.data and digest in st.data, f"{path}: {st.data!r}")
    st = c.wait(c.request("/upload", method="POST", body=b""))
    check(b'"bytes":0' in st.data, f"empty body: {st.data!r}")
    check_eq(c.wait(c.request("/upload/limited", method="POST", body=b"x" * 200000)).status, 413,
             "a body over its route's limit")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


@case(args=["--max-body", 1000])
def body_over_the_limit_is_413(srv):
    c = Client(srv)
    st = c.wait(c.request("/echo", method="POST", body=b"x" * 5000))
    check_eq(st.status, 413, "status")
    # Answered at its head: the client need not send the body.
    sid = c.request("/echo", method="POST", headers=[("content-length", "100000")], end=False)
    c.run_until(lambda: c.streams[sid].status is not None, "the 413")
    check_eq(c.streams[sid].status, 413, "status with a Content-Length over the limit")
    c.h2.reset_stream(sid, CANCEL)
    c.flush()
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


@case()
def rst_stream_cancels_a_slow_handler(srv):
    stats = StatsConn(srv)
    before = stats.get()["cancels"]
    c = Client(srv)
    sid = c.request("/sleep?ms=30000")
    c.sync()  # its coroutine awaits the sleep now
    c.h2.reset_stream(sid, CANCEL)
    c.flush()
    stats.wait_for(lambda st: st["cancels"] > before, "the handler's cancel")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    sid = c.request("/sync/sleep?ms=200")
    c.sync()
    c.h2.reset_stream(sid, CANCEL)
    c.flush()
    check_eq(c.get("/sync/plaintext").status, 200, "after a reset sync handler")
    c.close()
    other_connection_served(srv)


def rapid_reset(c):
    """Opens and resets streams until the server says GOAWAY ENHANCE_YOUR_CALM."""
    for _ in range(200):
        sid = c.request("/sync/sleep?ms=50")
        c.h2.reset_stream(sid, CANCEL)
        c.flush()
        if c.goaway:
            break
    c.run_until(lambda: c.goaway is not None, "GOAWAY")
    check_eq(c.goaway.error_code, ENHANCE_YOUR_CALM, "GOAWAY error code")
    c.close()


@case(args=["--h2-max-resets", 50])
def rapid_reset_gets_enhance_your_calm(srv):
    rapid_reset(Client(srv))
    other_connection_served(srv)


@case()
def resets_of_finished_streams_are_not_an_attack(srv):
    c = Client(srv)
    for _ in range(150):
        check_eq(c.get("/plaintext").status, 200, "status")
    sid = c.request("/sleep?ms=30000")
    c.sync()
    c.h2.reset_stream(sid, CANCEL)
    c.flush()
    check_eq(c.get("/plaintext").status, 200, "after one reset")
    check(c.goaway is None, "GOAWAY for one reset")
    c.close()


@case(args=["--h2-max-streams", 2])
def handlers_of_reset_streams_count_against_the_limit(srv):
    c = Client(srv)
    c.sync()  # the server's SETTINGS are in
    check_eq(c.h2.remote_settings.max_concurrent_streams, 2, "SETTINGS_MAX_CONCURRENT_STREAMS")
    a, b = c.request("/sync/plaintext"), c.request("/sync/plaintext")
    check_eq((c.wait(a).status, c.wait(b).status), (200, 200), "two streams at the limit")
    # Reset streams whose sync handlers still sleep on the pool: a reset frees no slot.
    for _ in range(2):
        sid = c.request("/sync/sleep?ms=3000")
        c.h2.reset_stream(sid, CANCEL)
        c.flush()
    st = c.get("/plaintext")
    check_eq(st.reset, REFUSED_STREAM, "a third request while two handlers run")
    # Once they are done the connection serves again.
    deadline = h.deadline_after(h.TIMEOUT)
    while c.get("/plaintext").reset == REFUSED_STREAM:
        check(h.remaining(deadline) > 0, "still refused")
        time.sleep(0.1)
    c.close()
    other_connection_served(srv)


@case()
def route_deadline_answers_504_on_its_stream(srv):
    c = Client(srv)
    slow = c.request("/deadline/sleep?ms=5000")
    fast = c.request("/deadline/sync/sleep?ms=5000")
    check_eq(c.get("/plaintext").status, 200, "a stream beside them")
    check_eq(c.wait(slow).status, 504, "async handler past its deadline")
    check_eq(c.wait(fast).status, 504, "sync handler past its deadline")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


@case()
def continuation_flood_gets_enhance_your_calm(srv):
    c = Client(srv)
    block = c.h2.encoder.encode([(":method", "GET"), (":path", "/plaintext"),
                                 (":scheme", "http"), (":authority", "a")])
    data = hf.HeadersFrame(1, block[:1]).serialize()
    data += b"".join(hf.ContinuationFrame(1, b"").serialize() for _ in range(200))
    c.sock.sendall(data)
    frames = read_frames(c.sock, lambda fr: isinstance(fr, hf.GoAwayFrame))
    check_eq(frames[-1].error_code, ENHANCE_YOUR_CALM, "GOAWAY code")
    c.close()
    other_connection_served(srv)


@case()
def ping_flood_of_a_client_that_does_not_read_is_bounded(srv):
    c = Client(srv)
    ping = hf.PingFrame(0, b"12345678").serialize() * 1000
    c.sock.settimeout(2)
    stopped = False
    try:
        for _ in range(2000):  # 2 million PINGs (34 MB of ACKs), never reading one
            c.sock.sendall(ping)
    except (socket.timeout, OSError):
        stopped = True  # the server stopped reading us, or closed the connection
    check(stopped, "the server took 2 million PINGs without reading a byte of ours")
    c.close()
    other_connection_served(srv)


@case()
def oversized_header_list_is_431(srv):
    c = Client(srv)
    big = [(f"x-big-{i}", "v" * 4000) for i in range(10)]  # 40 KB > max_header_bytes 32 KB
    st = c.wait(c.request("/plaintext", headers=big))
    check_eq(st.status, 431, "status")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


def read_frames(sock, stop):
    """Reads raw frames until stop(frame) holds; returns them all."""
    deadline = h.deadline_after(h.TIMEOUT)
    seen = []
    buf = b""
    while True:
        while len(buf) >= 9:
            fr, length = hf.Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            fr.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            seen.append(fr)
            if stop(fr):
                return seen
        sock.settimeout(h.remaining(deadline))
        data = sock.recv(65536)
        check(data, f"closed; frames so far: {seen!r}")
        buf += data


def raw_headers(srv, fields):
    """A connection sending one HEADERS frame of the given fields, as they are."""
    c = Client(srv, validate=False)
    enc = hpack.Encoder()
    f = hf.HeadersFrame(1, enc.encode(fields), flags=["END_HEADERS", "END_STREAM"])
    c.sock.sendall(f.serialize())
    frames = read_frames(c.sock, lambda fr: isinstance(fr, (hf.RstStreamFrame, hf.GoAwayFrame))
                         or (isinstance(fr, hf.HeadersFrame) and fr.stream_id == 1))
    c.close()
    return frames[-1]


@case()
def invalid_pseudo_headers_reset_the_stream(srv):
    base = [(":method", "GET"), (":path", "/plaintext"), (":scheme", "http"),
            (":authority", "a")]
    bad = {
        "unknown pseudo-header": base + [(":foo", "x")],
        "missing :path": [f for f in base if f[0] != ":path"],
        "missing :method": [f for f in base if f[0] != ":method"],
        "pseudo-header after a field": [base[0], ("x-a", "b")] + base[1:],
        "duplicate :path": base + [(":path", "/x")],
        "upper-case field name": base + [("X-Upper", "b")],
        "connection-specific field": base + [("connection", "keep-alive")],
        "response pseudo-header": base + [(":status", "200")],
    }
    for name, fields in bad.items():
        fr = raw_headers(srv, fields)
        check(isinstance(fr, hf.RstStreamFrame), f"{name}: got {fr!r}, not RST_STREAM")
        check_eq(fr.error_code, PROTOCOL_ERROR, f"{name}: RST_STREAM code")
    fr = raw_headers(srv, base)
    check(isinstance(fr, hf.HeadersFrame), f"valid fields: got {fr!r}")
    other_connection_served(srv)


@case()
def preface_in_single_bytes(srv):
    c = Conn(srv)
    for b in PREFACE:
        c.send(bytes([b]))
    c.send(hf.SettingsFrame(0).serialize())
    head = c.sock.recv(9, socket.MSG_WAITALL)
    if head.startswith(b"HTTP/"):  # 505
        raise h.Skip("ringo was built without libnghttp2 (libnghttp2-dev): no HTTP/2")
    fr, length = hf.Frame.parse_frame_header(head)
    check(isinstance(fr, hf.SettingsFrame), f"first frame {fr!r}")
    c.close()


@case()
def preface_prefix_then_http1_is_http1(srv):
    c = Conn(srv)
    c.send(b"P")
    c.send(b"OST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
    r = c.read_response()
    check_eq(r.status, 200, "status")
    c.close()


@case(args=["--no-h2c"])
def no_h2c_answers_the_preface_505(srv):
    c = Conn(srv)
    c.send(PREFACE, tolerate_close=True)
    r = c.read_response()
    check_eq(r.status, 505, "status")
    c.expect_closed(what="the 505")
    c.close()
    h.check_alive(srv)


# ------------------------------------------------------------ streams, files, bodies

ALPHABET = bytes(range(ord("a"), ord("z") + 1))
FILES = tempfile.mkdtemp(prefix="h2stream-files-")
atexit.register(shutil.rmtree, FILES, True)
LARGE = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(256)) * 32768  # 8 MiB
for _name, _data in (("large.bin", LARGE), ("a.txt", b"hello, h2 static\n" * 10)):
    with open(os.path.join(FILES, _name), "wb") as _f:
        _f.write(_data)
    os.chmod(os.path.join(FILES, _name), 0o644)
FILE_ARGS = ["--static-dir", FILES]


def alphabet(n):
    """The demo's generated body: byte i is 'a' + i % 26."""
    return (ALPHABET * (n // 26 + 1))[:n]


@case()
def streamed_responses(srv):
    c = Client(srv)
    for path in ("/stream?bytes=300000", "/sync/stream?bytes=300000"):
        st = c.get(path)
        check_eq(st.status, 200, f"status of {path}")
        check(b"content-length" not in st.headers, f"{path}: no length was declared")
        check_eq(len(st.data), 300000, f"length of {path}")
        check(st.data == alphabet(300000), f"bytes of {path}")
    for path in ("/stream?bytes=300000&declare=300000", "/sync/stream?bytes=300000&declare=300000"):
        st = c.get(path)
        check_eq(st.headers.get(b"content-length"), b"300000", f"declared length of {path}")
        check(st.data == alphabet(300000), f"bytes of {path}")
    # A declared length the handler does not meet: that stream alone is reset.
    for path in ("/stream?bytes=500&declare=1000", "/sync/stream?bytes=500&declare=1000"):
        st = c.get(path)
        check_eq(st.reset, 2, f"{path}: RST_STREAM INTERNAL_ERROR, not a short body that ends")
    st = c.get("/stream?bytes=0")
    check_eq((st.status, st.data, st.ended), (200, b"", True), "an empty stream")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


@case()
def trailers_end_the_stream(srv):
    c = Client(srv)
    for path in ("/stream?bytes=100000&trailer=2", "/sync/stream?bytes=100000&trailer=2",
                 "/stream?bytes=100000&declare=100000&trailer=2"):
        st = c.get(path)
        check_eq(st.status, 200, f"status of {path}")
        check(st.data == alphabet(100000), f"bytes of {path}")
        check_eq(st.trailers, {b"x-bytes": b"100000", b"grpc-status": b"0"}, f"trailers of {path}")
        check(st.ended, f"{path} ended")
    c.close()
    hdrs = os.path.join(FILES, "curl-headers")
    v, code, body = curl(srv, "/stream?bytes=1000&trailer=2", "-D", hdrs)
    check_eq((v, code, body), ("2", 200, alphabet(1000)), "curl: the stream")
    with open(hdrs, "rb") as f:
        seen = f.read().lower()
    check(b"x-bytes: 1000" in seen and b"grpc-status: 0" in seen, f"curl's trailers: {seen!r}")


@case()
def sse_events_arrive_one_by_one(srv):
    check_eq(curl(srv, "/events?n=3&interval_ms=1"),
             ("2", 200, b"id: 0\ndata: 0\n\nid: 1\ndata: 1\n\nid: 2\ndata: 2\n\n"), "curl: SSE")
    stats = StatsConn(srv)
    for path in ("/events?n=2&interval_ms=60000", "/sync/events?n=2&interval_ms=60000"):
        before = stats.get()["cancels"]
        c = Client(srv)
        sid = c.request(path)
        st = c.streams[sid]
        # The second event is a minute away: the first one arrives on its own.
        c.run_until(lambda: b"\n\n" in st.data, f"{path}: the first event")
        check_eq(st.data, b"id: 0\ndata: 0\n\n", f"{path}: the first event")
        check(not st.ended, f"{path} ended with its first event")
        check_eq(st.headers.get(b"content-type"), b"text/event-stream", "content-type")
        c.h2.reset_stream(sid, CANCEL)
        c.flush()
        stats.wait_for(lambda s: s["cancels"] > before, f"{path}: the reset cancels the handler")
        check_eq(c.get("/plaintext").status, 200, "the connection goes on")
        c.close()


@case()
def rst_stream_mid_stream_cancels_the_producer(srv):
    stats = StatsConn(srv)
    for path in ("/stream?bytes=1000000000", "/sync/stream?bytes=1000000000"):
        before = stats.get()["cancels"]
        c = Client(srv)
        sid = c.request(path)
        st = c.streams[sid]
        c.run_until(lambda: len(st.data) >= 100000, f"{path}: some of the body")
        c.h2.reset_stream(sid, CANCEL)
        c.flush()
        stats.wait_for(lambda s: s["cancels"] > before, f"{path}: the reset cancels the handler")
        check_eq(c.get("/sync/plaintext").status, 200, "the connection goes on")
        c.close()
    other_connection_served(srv)


@case()
def zero_window_pauses_producers_and_closing_cancels_them(srv):
    stats = StatsConn(srv)
    c = Client(srv)
    c.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    c.flush()
    c.sync()
    rss = h.proc_status(srv, "VmRSS")
    # An async handler writes on its first run, inside the frame that started it: if
    # nothing held it back, 256 MiB would be buffered by the time the PING is answered.
    a = c.request("/stream?bytes=268435456")
    b = c.request("/sync/stream?bytes=268435456")
    c.run_until(lambda: c.streams[a].status and c.streams[b].status, "both heads")
    c.sync()
    check_eq((c.streams[a].data, c.streams[b].data), (b"", b""), "DATA past a zero window")
    grew = h.proc_status(srv, "VmRSS") - rss
    check(grew < 64 << 20, f"RSS grew by {grew} bytes with two paused streams")
    before = stats.get()["cancels"]
    c.close()
    stats.wait_for(lambda s: s["cancels"] >= before + 2, "closing cancels both producers")
    stats.wait_for(lambda s: s["reqs_live"] <= 1, "their requests freed")
    other_connection_served(srv)


@case()
def a_slow_reader_holds_the_client_back(srv):
    stats = StatsConn(srv)
    before = stats.get()["cancels"]
    c = Client(srv)
    sid = c.request("/upload?delay_ms=60000", method="POST", end=False)
    n = c.h2.local_flow_control_window(sid)
    check(n > 0, "no window to send in")
    while n > 0:
        k = min(n, c.h2.max_outbound_frame_size)
        c.h2.send_data(sid, b"x" * k)
        n -= k
    c.flush()
    # Answered after the body's frames were read: a WINDOW_UPDATE would have come first.
    check_eq(c.get("/plaintext").status, 200, "a stream beside it")
    check_eq(c.h2.local_flow_control_window(sid), 0, "window reopened before the handler read")
    c.h2.reset_stream(sid, CANCEL)
    c.flush()
    stats.wait_for(lambda s: s["cancels"] > before, "the reset cancels the waiting handler")
    body = b"y" * 1000000
    st = c.wait(c.request("/upload", method="POST", body=body))
    check(hashlib.sha256(body).hexdigest().encode() in st.data, f"a later upload: {st.data!r}")
    c.close()


@case(args=FILE_ARGS)
def files_over_h2(srv):
    c = Client(srv)
    digest = hashlib.sha256(LARGE).hexdigest()
    for path in ("/static/large.bin", "/download/large.bin"):
        st = c.get(path)
        check_eq(st.status, 200, f"status of {path}")
        check_eq(st.headers.get(b"content-length"), str(len(LARGE)).encode(), f"length of {path}")
        check_eq(hashlib.sha256(st.data).hexdigest(), digest, f"sha256 of {path}")
    st = c.get("/static/a.txt")
    check_eq((st.status, st.data), (200, b"hello, h2 static\n" * 10), "a small (cached) file")
    etag = st.headers.get(b"etag")
    check(etag, "no ETag")
    st = c.wait(c.request("/static/a.txt", headers=[("if-none-match", etag.decode())]))
    check_eq((st.status, st.data), (304, b""), "If-None-Match")
    st = c.wait(c.request("/static/large.bin", headers=[("range", "bytes=1000-1999")]))
    check_eq(st.status, 206, "a range")
    check_eq(st.headers.get(b"content-range"), b"bytes 1000-1999/%d" % len(LARGE), "Content-Range")
    check(st.data == LARGE[1000:2000], "the range's bytes")
    st = c.wait(c.request("/static/large.bin", headers=[("range", "bytes=-100")]))
    check(st.data == LARGE[-100:], "a suffix range")
    for path in ("/static/large.bin", "/download/large.bin", "/stream?bytes=5000"):
        st = c.wait(c.request(path, method="HEAD"))
        check_eq((st.status, st.data, st.ended), (200, b"", True), f"HEAD {path}")
    check_eq(c.get("/static/a.txt").status, 200, "the connection goes on")
    c.close()
    v, code, body = curl(srv, "/download/large.bin")
    check_eq((v, code), ("2", 200), "curl /download")
    check_eq(hashlib.sha256(body).hexdigest(), digest, "curl: sha256")


@case(server=False)
def graceful_stop_sends_goaway_and_finishes_streams():
    srv = h.Server()
    srv.start()
    try:
        c = Client(srv)
        check_eq(c.get("/plaintext").status, 200, "first")
        sid = c.request("/sleep?ms=500")
        c.sync()
        srv.send_signal(signal.SIGTERM)
        # h2 ignores frames after a GOAWAY: read them raw.
        frames = read_frames(c.sock, lambda fr: isinstance(fr, hf.DataFrame) and
                             fr.stream_id == sid and "END_STREAM" in fr.flags)
        goaway = [fr for fr in frames if isinstance(fr, hf.GoAwayFrame)]
        check(goaway, f"no GOAWAY in {frames!r}")
        check_eq(goaway[0].error_code, NO_ERROR, "GOAWAY code")
        check_eq(goaway[0].last_stream_id, sid, "GOAWAY last stream id")
        check(any(isinstance(fr, hf.HeadersFrame) and fr.stream_id == sid for fr in frames),
              "no response HEADERS for the stream in flight")
        body = b"".join(bytes(fr.data) for fr in frames
                        if isinstance(fr, hf.DataFrame) and fr.stream_id == sid)
        check_eq(body, b"slept 500 ms\n", "its body")
        c.close()
        srv.wait_stopped()
    finally:
        srv.kill()


# ---- deadlines: header block, body, idle, a window the client keeps shut ----

# One short timeout per server: each case shows its own deadline closed it, not another.
HEADER = ["--header-timeout", 1000]
BODY = ["--body-timeout", 1000]
SEND = ["--send-timeout", 1000]
IDLE = ["--keepalive-timeout", 1000]


def expect_eof(sock, what):
    sock.settimeout(3 * h.TIMEOUT)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        raise h.Failure(f"{what}: the connection stayed open")
    except OSError:
        pass  # a reset is a close too


def wait_goaway_and_close(c, what):
    """Reads until the server's GOAWAY and its close (bounded only by the test timeout)."""
    deadline = h.deadline_after(3 * h.TIMEOUT)
    while not c.closed:
        check(h.remaining(deadline) > 0, f"{what}: the connection is still open")
        c.sock.settimeout(h.remaining(deadline))
        try:
            data = c.sock.recv(65536)
        except socket.timeout:
            continue  # the deadline check above fails it
        except OSError:
            break
        if not data:
            break
        for ev in c.h2.receive_data(data):
            c.on_event(ev)
    check(c.goaway is not None, f"{what}: closed without GOAWAY")
    return c.goaway


def preface_only_is_closed_by_the_header_timeout(srv, cls):
    c = cls(srv)  # the preface and SETTINGS, then nothing
    check_eq(wait_goaway_and_close(c, "a connection with the preface only").error_code,
             NO_ERROR, "GOAWAY code")
    c.close()


def unfinished_header_block_is_closed_by_the_header_timeout(srv, cls):
    c = cls(srv)
    check_eq(c.get("/plaintext").status, 200, "a first request")
    block = hpack.Encoder().encode([(":method", "GET"), (":path", "/plaintext"),
                                    (":scheme", c.scheme), (":authority", "a")])
    sid = c.h2.get_next_available_stream_id()
    c.sock.sendall(hf.HeadersFrame(sid, block).serialize())  # no END_HEADERS, no CONTINUATION
    frames = read_frames(c.sock, lambda fr: isinstance(fr, hf.GoAwayFrame))
    check_eq(frames[-1].error_code, NO_ERROR, "GOAWAY code")
    expect_eof(c.sock, "after the GOAWAY")
    c.close()


def body_that_never_comes_is_408(srv, cls):
    c = cls(srv)
    sid = c.request("/echo", method="POST", end=False)  # HEADERS, then no DATA
    st = c.wait(sid)
    check_eq(st.status, 408, "status of a body that did not arrive")
    c.run_until(lambda: st.reset is not None, "RST_STREAM after the 408")
    check_eq(st.reset, NO_ERROR, "RST_STREAM code (RFC 9113 §8.1)")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


def shut_stream_window_is_reset_by_the_send_timeout(srv, cls):
    c = cls(srv)
    c.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    c.flush()
    c.sync()  # the server has our SETTINGS
    st = c.wait(c.request("/plaintext"))
    check_eq(st.status, 200, "the response's HEADERS")
    check_eq((st.reset, st.data), (CANCEL, b""), "RST_STREAM CANCEL, no DATA")
    # The connection goes on: a stream whose window is opened is answered.
    sid = c.request("/sync/plaintext")
    c.h2.increment_flow_control_window(65535, stream_id=sid)
    c.flush()
    st = c.wait(sid)
    check_eq((st.status, st.data, st.reset), (200, b"Hello, World!", None), "an open window")
    c.close()


def shut_connection_window_closes_the_connection(srv, cls):
    c = cls(srv)
    # Wide stream windows: only the connection's (65535, moved by WINDOW_UPDATE only) shuts.
    c.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24})
    c.flush()
    c.sync()
    c.ack = False
    sid = c.request("/echo", method="POST", body=b"x" * 100_000)
    check_eq(wait_goaway_and_close(c, "a connection whose window stays shut").error_code,
             NO_ERROR, "GOAWAY code")
    check_eq(len(c.streams[sid].data), 65535, "DATA received: the connection's window")
    c.close()


def idle_connection_is_closed_by_the_keepalive_timeout(srv, cls):
    c = cls(srv)
    check_eq(c.get("/plaintext").status, 200, "a request")
    # PINGs are no requests: they do not keep an idle connection open.
    deadline = h.deadline_after(3 * h.TIMEOUT)
    while c.goaway is None and not c.closed:
        check(h.remaining(deadline) > 0, "the idle connection is still open")
        try:
            c.h2.ping(b"ringo-h2")
            c.flush()
        except OSError:
            pass  # closed: what it sent before is still to be read
        c.sock.settimeout(0.2)
        try:
            data = c.sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not data:
            break
        for ev in c.h2.receive_data(data):
            c.on_event(ev)
    check(c.goaway is not None, "closed without GOAWAY")
    check_eq(c.goaway.error_code, NO_ERROR, "GOAWAY code")
    expect_eof(c.sock, "after the GOAWAY")
    c.close()


def wait_stats(c, pred, what):
    """Polls GET /stats on the client's own connection until pred(stats) holds."""
    deadline = h.deadline_after(h.TIMEOUT)
    while True:
        st = c.get("/stats")
        check_eq(st.status, 200, "GET /stats status")
        stats = json.loads(bytes(st.data))
        if pred(stats):
            return stats
        check(h.remaining(deadline) > 0, f"{what}: not reached; last /stats {stats!r}")
        time.sleep(0.02)


def streamed_body_that_stops_is_408(srv, cls):
    c = cls(srv)
    for path, sent in (("/upload", b"x" * 1000), ("/sync/upload", b"x" * 1000),
                       ("/upload", b"")):
        sid = c.request(path, method="POST", end=False)
        if sent:
            c.h2.send_data(sid, sent)
            c.flush()
        # Its handler waits in its read; a stream beside it is served meanwhile.
        check_eq(c.get("/plaintext").status, 200, f"{path}: a stream beside the stalled body")
        st = c.wait(sid)
        check_eq(st.status, 408, f"{path} after {len(sent)} bytes: status of a body that stopped")
        c.run_until(lambda: st.reset is not None, f"{path}: RST_STREAM after the 408")
        check_eq(st.reset, NO_ERROR, f"{path}: RST_STREAM code (RFC 9113 §8.1)")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


PING = b": ping\n"
FIRST_EVENT = b"id: 0\ndata: 0\n\n"


def quiet_event_streams_get_pings(srv, cls):
    c = cls(srv)
    for path in ("/events?n=2&interval_ms=60000", "/sync/events?n=2&interval_ms=60000"):
        before = wait_stats(c, lambda s: True, "stats")["cancels"]
        sid = c.request(path)
        st = c.streams[sid]
        # The second event is a minute away: comment lines keep the stream alive meanwhile.
        c.run_until(lambda: bytes(st.data).partition(FIRST_EVENT)[2].count(PING) >= 2,
                    f"{path}: two pings after the first event")
        before_ev, _, after_ev = bytes(st.data).partition(FIRST_EVENT)
        check(all(part == PING * (len(part) // len(PING)) for part in (before_ev, after_ev)),
              f"{path}: whole pings between events only: {bytes(st.data)!r}")
        # The connection and its other streams are untouched meanwhile.
        other = c.get("/stream?bytes=100000")
        check(other.status == 200 and other.data == alphabet(100000), f"{path}: a stream beside it")
        c.h2.reset_stream(sid, CANCEL)
        c.flush()
        wait_stats(c, lambda s: s["cancels"] > before, f"{path}: the reset cancels the handler")
    # A stream its handler ended gets no ping while the handler works on (six pings' time).
    for path in ("/events?n=1&interval_ms=1&linger_ms=600",
                 "/sync/events?n=1&interval_ms=1&linger_ms=600"):
        st = c.get(path)
        before_ev, ev, after_ev = bytes(st.data).partition(FIRST_EVENT)
        check_eq((st.status, st.ended, ev, after_ev), (200, True, FIRST_EVENT, b""),
                 f"{path}: the event and nothing after it: {bytes(st.data)!r}")
    # A connection that goes away under its event stream cancels it (and leaks nothing: the stop).
    d = cls(srv)
    sid = d.request("/sync/events?n=2&interval_ms=60000")
    d.run_until(lambda: PING in d.streams[sid].data, "a ping on a second connection")
    before = wait_stats(c, lambda s: True, "stats")["cancels"]
    d.close()
    wait_stats(c, lambda s: s["cancels"] > before, "closing the connection cancels its handler")
    check_eq(c.get("/plaintext").status, 200, "the first connection goes on")
    c.close()


SSE_PING = ["--sse-ping", 100]

DEADLINE_CASES = ((HEADER, preface_only_is_closed_by_the_header_timeout),
                  (HEADER, unfinished_header_block_is_closed_by_the_header_timeout),
                  (BODY, body_that_never_comes_is_408),
                  (BODY, streamed_body_that_stops_is_408),
                  (SEND, shut_stream_window_is_reset_by_the_send_timeout),
                  (SEND, shut_connection_window_closes_the_connection),
                  (IDLE, idle_connection_is_closed_by_the_keepalive_timeout),
                  (SSE_PING, quiet_event_streams_get_pings))


def h2c_deadline_case(args, fn):
    def run(srv):
        fn(srv, Client)
        other_connection_served(srv)
    run.__name__ = fn.__name__
    case(args=args)(run)


for _args, _fn in DEADLINE_CASES:
    h2c_deadline_case(_args, _fn)


@case(args=BODY)
def streamed_body_sent_slowly_but_steadily_arrives_whole(srv):
    c = Client(srv)
    piece = b"z" * 100
    sid = c.request("/upload", method="POST", end=False)
    # 20 pieces 100 ms apart: twice the body timeout in all, a tenth of it between two.
    for _ in range(20):
        time.sleep(0.1)
        c.h2.send_data(sid, piece)
        c.flush()
    c.h2.end_stream(sid)
    c.flush()
    st = c.wait(sid)
    body = piece * 20
    check_eq(st.status, 200, "status of a slow but steady upload")
    check(b'"bytes":%d' % len(body) in st.data and
          hashlib.sha256(body).hexdigest().encode() in st.data, f"the upload: {st.data!r}")
    c.close()


@case(args=BODY)
def streamed_body_wait_pauses_while_its_handler_does_not_read(srv):
    c = Client(srv)
    c.sync()  # the connection's wide window is in: the stream's own window holds the client
    body = b"w" * (65535 + 1000)
    # Its handler reads after 2 s, twice the body timeout: its window was full all along.
    st = c.wait(c.request("/upload?delay_ms=2000", method="POST", body=body))
    check_eq(st.status, 200, "status of an upload whose handler read late")
    check(b'"bytes":%d' % len(body) in st.data, f"the upload: {st.data!r}")
    c.close()


@case()
def route_body_timeout_bounds_a_streamed_body(srv):
    # The route's 500 ms, not the app's 60 s: answered well within the test's wait.
    c = Client(srv)
    sid = c.request("/upload/limited", method="POST", end=False)
    c.h2.send_data(sid, b"x" * 100)
    c.flush()
    st = c.wait(sid)
    check_eq(st.status, 408, "status")
    check_eq(c.get("/plaintext").status, 200, "the connection goes on")
    c.close()


# ---- HTTP/2 over TLS (ALPN h2) ----

TLS_DIR = []


def tls_args():
    """--tls-cert/--tls-key for two throw-away certificates (a.test, the default; b.test)."""
    if not TLS_DIR:
        TLS_DIR.append(tempfile.mkdtemp(prefix="ringo-h2tls-test-"))
        atexit.register(shutil.rmtree, TLS_DIR[0], True)
        TLS_DIR.extend([*h.make_cert(TLS_DIR[0], "a", "a.test", ["a.test", "localhost"]),
                        *h.make_cert(TLS_DIR[0], "b", "b.test", ["b.test"])])
    _, a_crt, a_key, b_crt, b_key = TLS_DIR
    return ["--tls-cert", a_crt, "--tls-key", a_key, "--tls-cert", b_crt, "--tls-key", b_key]


class TlsClient(Client):
    """Client over TLS: ALPN must choose h2."""

    scheme = "https"
    name = None  # SNI

    def connect(self, srv):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        raw = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
        s = ctx.wrap_socket(raw, server_hostname=self.name)
        if s.selected_alpn_protocol() != "h2":
            s.close()
            raise h.Skip(f"ALPN chose {s.selected_alpn_protocol()!r}, not h2: ringo was built "
                         "without libnghttp2 (libnghttp2-dev)")
        return s


class TlsClientB(TlsClient):
    name = "b.test"


def tls_server(*args, threads=1):
    return h.Server([*tls_args(), *[str(a) for a in args]], threads=threads)


def tls_served(srv):
    c = TlsClient(srv)
    check_eq(c.get("/plaintext").status, 200, "another TLS connection's status")
    c.close()


@case(server=False)
def h2_over_tls_streams_bodies_and_rapid_reset():
    with tls_server("--h2-max-resets", 50, threads=2) as srv:
        c = TlsClient(srv)
        paths = ["/plaintext", "/sync/plaintext", "/sync/sleep?ms=20", "/json"] * 10
        sids = [c.request(p) for p in paths]
        for sid, p in zip(sids, paths):
            check_eq(c.wait(sid).status, 200, f"status of {p} on stream {sid}")
        body = bytes(range(256)) * 1000  # past the windows both ways, through TLS records
        st = c.wait(c.request("/echo", method="POST", body=body))
        check_eq((st.status, len(st.data)), (200, len(body)), "POST echoed")
        check(st.data == body, "echoed bytes differ")
        c.close()
        # SNI picks the certificate on an h2 connection too.
        b = TlsClientB(srv)
        want = ssl.PEM_cert_to_DER_cert(open(TLS_DIR[3]).read())
        check(b.sock.getpeercert(binary_form=True) == want, "SNI b.test: b.test's certificate")
        check_eq(b.get("/plaintext").status, 200, "a request with SNI b.test")
        b.close()
        # Rapid reset over TLS: GOAWAY ENHANCE_YOUR_CALM, others still served.
        rapid_reset(TlsClient(srv))
        tls_served(srv)


@case(server=False)
def deadlines_over_tls():
    for args, fn in DEADLINE_CASES:
        with tls_server(*args) as srv:
            fn(srv, TlsClient)
            tls_served(srv)


@case(server=False)
def graceful_stop_over_tls_sends_goaway():
    srv = tls_server()
    srv.start()
    try:
        c = TlsClient(srv)
        check_eq(c.get("/plaintext").status, 200, "first")
        sid = c.request("/sleep?ms=500")
        c.sync()
        srv.send_signal(signal.SIGTERM)
        frames = read_frames(c.sock, lambda fr: isinstance(fr, hf.DataFrame) and
                             fr.stream_id == sid and "END_STREAM" in fr.flags)
        goaway = [fr for fr in frames if isinstance(fr, hf.GoAwayFrame)]
        check(goaway, f"no GOAWAY in {frames!r}")
        check_eq((goaway[0].error_code, goaway[0].last_stream_id), (NO_ERROR, sid),
                 "GOAWAY code and last stream id")
        body = b"".join(bytes(fr.data) for fr in frames
                        if isinstance(fr, hf.DataFrame) and fr.stream_id == sid)
        check_eq(body, b"slept 500 ms\n", "the stream in flight finished")
        expect_eof(c.sock, "after the drain")
        c.close()
        srv.wait_stopped()
    finally:
        srv.kill()


@case(server=False)
def graceful_stop_ends_event_streams_cleanly():
    srv = h.Server()
    srv.start()
    try:
        c = Client(srv)
        sids = [c.request("/events?n=2&interval_ms=60000"),
                c.request("/sync/events?n=2&interval_ms=60000")]
        c.run_until(lambda: all(b"\n\n" in c.streams[s].data for s in sids), "the first events")
        srv.send_signal(signal.SIGTERM)
        ended = set()

        def both_ended(fr):
            if fr.stream_id in sids and "END_STREAM" in fr.flags:
                ended.add(fr.stream_id)
            return len(ended) == len(sids)

        # The drain ends the streams at once, cleanly: END_STREAM, not a reset at its timeout.
        frames = read_frames(c.sock, both_ended)
        resets = [fr for fr in frames if isinstance(fr, hf.RstStreamFrame)]
        check(not resets, f"streams reset instead of ended: {resets!r}")
        check(any(isinstance(fr, hf.GoAwayFrame) for fr in frames), f"no GOAWAY in {frames!r}")
        c.close()
        srv.wait_stopped()
    finally:
        srv.kill()


# ---- max_requests_per_conn, and what the access log sees of streams ----

def read_to_close(sock):
    """Reads raw frames until the server closes the connection; returns them all."""
    deadline = h.deadline_after(h.TIMEOUT)
    seen, buf = [], b""
    while True:
        check(h.remaining(deadline) > 0, f"the connection stayed open; frames: {seen!r}")
        sock.settimeout(h.remaining(deadline))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue  # the check above fails it
        except OSError:
            data = b""  # a reset is a close too
        buf += data
        while len(buf) >= 9:
            fr, length = hf.Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            fr.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            seen.append(fr)
        if not data:
            return seen


def answers_of(c, frames):
    """{stream id: (status, body, ended)} of the raw frames, decoded with c's HPACK state."""
    out = {}
    for fr in frames:
        if isinstance(fr, hf.HeadersFrame):
            fields = dict(c.h2.decoder.decode(bytes(fr.data), raw=True))
            out[fr.stream_id] = [int(fields[b":status"]), b"", "END_STREAM" in fr.flags]
        elif isinstance(fr, hf.DataFrame) and fr.stream_id in out:
            out[fr.stream_id][1] += bytes(fr.data)
            out[fr.stream_id][2] = "END_STREAM" in fr.flags
    return {sid: tuple(v) for sid, v in out.items()}


def max_requests_closes_after_the_nth_stream(srv, cls):
    """--max-requests 3: GOAWAY NO_ERROR names the third stream, which is answered; then close."""
    c = cls(srv)
    check_eq(c.get("/plaintext").status, 200, "the first request")
    check_eq(c.get("/sync/plaintext").status, 200, "the second request")
    check(c.goaway is None, "GOAWAY before the third request")
    sid = c.request("/plaintext")
    frames = read_to_close(c.sock)  # h2 ignores frames after a GOAWAY: read them raw
    goaway = [(fr.error_code, fr.last_stream_id) for fr in frames
              if isinstance(fr, hf.GoAwayFrame)]
    check_eq(goaway, [(NO_ERROR, sid)], "one GOAWAY NO_ERROR naming the third stream")
    check_eq(answers_of(c, frames), {sid: (200, b"Hello, World!", True)}, "the third answer")
    c.close()
    # Five streams in one write: three are answered, the two past the GOAWAY are not.
    c = cls(srv)
    sids = []
    for path in ("/plaintext", "/sync/plaintext", "/json", "/plaintext", "/sync/plaintext"):
        sids.append(c.h2.get_next_available_stream_id())
        c.h2.send_headers(sids[-1], [(":method", "GET"), (":path", path), (":scheme", c.scheme),
                                     (":authority", "127.0.0.1")], end_stream=True)
    c.flush()
    frames = read_to_close(c.sock)
    goaway = [(fr.error_code, fr.last_stream_id) for fr in frames
              if isinstance(fr, hf.GoAwayFrame)]
    check_eq(goaway, [(NO_ERROR, sids[2])], "GOAWAY naming the third stream")
    answers = answers_of(c, frames)
    check_eq(sorted(answers), sids[:3], "streams answered")
    check(all(a[0] == 200 and a[1] and a[2] for a in answers.values()), f"answers {answers!r}")
    # Refused while the GOAWAY was on its way, or ignored once it was out (RFC 9113 §6.8).
    resets = {fr.stream_id: fr.error_code for fr in frames if isinstance(fr, hf.RstStreamFrame)}
    check(set(resets) <= set(sids[3:]) and set(resets.values()) <= {REFUSED_STREAM},
          f"resets {resets!r}")
    c.close()


@case(args=["--max-requests", 3])
def max_requests_per_conn_over_h2c(srv):
    max_requests_closes_after_the_nth_stream(srv, Client)
    other_connection_served(srv)


@case(server=False)
def max_requests_per_conn_over_tls():
    with tls_server("--max-requests", 3) as srv:
        max_requests_closes_after_the_nth_stream(srv, TlsClient)
        tls_served(srv)


H2_LOG_DIR = tempfile.mkdtemp(prefix="ringo-h2-log-test-")
atexit.register(shutil.rmtree, H2_LOG_DIR, True)
H2_LOG = os.path.join(H2_LOG_DIR, "access.log")


def h2_lines():
    try:
        with open(H2_LOG, "rb") as f:
            return [l for l in f.read().decode().split("\n") if " HTTP/2.0\" " in l]
    except FileNotFoundError:
        return []


@case(args=["--access-log", H2_LOG])
def access_log_has_answered_streams_not_reset_ones(srv):
    stats = StatsConn(srv)
    before = stats.get()["cancels"]
    c = Client(srv)
    # Reset before its answer, like a client that hangs up: no answer, no line.
    sid = c.request("/sleep?ms=30000")
    c.sync()
    c.h2.reset_stream(sid, CANCEL)
    c.flush()
    stats.wait_for(lambda st: st["cancels"] > before, "the handler's cancel")
    big = [(f"x-big-{i}", "v" * 4000) for i in range(10)]  # the server's own 431
    check_eq(c.wait(c.request("/plaintext", headers=big)).status, 431, "431")
    check_eq(c.get("/plaintext").status, 200, "200")
    c.close()
    stats.close()
    deadline = h.deadline_after(h.TIMEOUT)
    while len(h2_lines()) < 2:
        check(h.remaining(deadline) > 0, f"log lines: {h2_lines()!r}")
        time.sleep(0.02)
    got = [(l.split('"')[1], l.split('"')[2].split()[0]) for l in h2_lines()]
    check_eq(got, [("GET /plaintext HTTP/2.0", "431"), ("GET /plaintext HTTP/2.0", "200")],
             "one line per answered stream, none for the reset one")


if __name__ == "__main__":
    h.main()
