"""
ringo_harness.py - shared helpers of ringo's integration tests.

Each tests/integration/test_*.py is one ctest. It registers cases with
@case(...), calls main(), and exits 0 (pass), 1 (fail) or 77 (skip: io_uring
or another kernel feature is unavailable on this machine).

Environment:
  RINGO_BIN       the demo server binary (required)
  RINGO_SANITIZE  non-empty for ASan/UBSan builds: every timeout is stretched

Cases that share the same server flags share one server, started with
`--host H --port 0 --threads N ...`. After each case the server must still
answer a fresh request, and when the group ends the server is stopped with
SIGTERM: it must exit 0 with STOP_LINE as its last stderr line (zero live
connections, requests, buffers, stacks and jobs: the leak check). On any
failure the server's stderr is printed.

Tests never assert that something happens *fast*: waits are bounded by
generous timeouts only, so the suite holds on a loaded 2-core machine and
under sanitizers.

Run one file by hand:
  RINGO_BIN=build/ringo python3 tests/integration/test_basic.py [name-filter ...]
"""

import ctypes
import errno
import http.client
import importlib
import json
import os
import queue
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True

SANITIZED = bool(os.environ.get("RINGO_SANITIZE"))
SCALE = float(os.environ.get("RINGO_TEST_SCALE") or (4.0 if SANITIZED else 1.0))
TIMEOUT = 10.0 * SCALE  # longest single wait on the server
STOP_LINE = "ringo: stopped: conns=0 reqs=0 bufs=0 stacks=0 jobs=0 pipes=0"
EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77
FILE_BUDGET = min(540, int(120 * SCALE))  # seconds for a whole test file

LISTEN_RE = re.compile(
    r"^ringo: listening on https?://(?P<host>\[[^\]]+\]|[^\s:/]+):(?P<port>\d+) "
    r"\((?P<rings>\d+) rings?\)$")
DATE_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT$")
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "UndefinedBehaviorSanitizer", "ThreadSanitizer")


class Failure(Exception):
    """A test expectation did not hold."""


class Skip(Exception):
    """The machine lacks something the test needs (exit 77)."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def check_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: expected {want!r}, got {got!r}")


def deadline_after(seconds):
    return time.monotonic() + seconds


def remaining(deadline):
    return deadline - time.monotonic()


# ---------------------------------------------------------------- server

def io_uring_unavailable():
    """Returns a reason string when io_uring_setup() is refused, else None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        params = ctypes.create_string_buffer(120)  # struct io_uring_params
        fd = libc.syscall(ctypes.c_long(425), ctypes.c_uint(4), params)
    except Exception:  # no ctypes/syscall: let the server decide
        return None
    if fd >= 0:
        os.close(fd)
        return None
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EPERM, errno.EACCES):
        return f"io_uring_setup: {os.strerror(err)}"
    return None


class Server:
    """The demo server as a child process. Use as a context manager or call
    start() / stop()."""

    def __init__(self, args=(), threads=1, host="127.0.0.1"):
        self.args = [str(a) for a in args]
        self.threads = threads
        self.host = host
        self.proc = None
        self.port = None
        self.rings = None
        self.listen_line = None
        self.stderr_file = None
        self._lines = queue.Queue()
        self.stopped = False

    # Addresses as a client uses them.
    @property
    def family(self):
        return socket.AF_INET6 if ":" in self.connect_host else socket.AF_INET

    @property
    def connect_host(self):
        if self.host in ("0.0.0.0", ""):
            return "127.0.0.1"
        if self.host == "::":
            return "::1"
        return self.host

    @property
    def url_host(self):
        h = self.connect_host
        return f"[{h}]" if ":" in h else h

    def url(self, path="/"):
        return f"http://{self.url_host}:{self.port}{path}"

    def command(self):
        binary = os.environ.get("RINGO_BIN")
        if not binary:
            raise Failure("env RINGO_BIN is not set (path of the ringo server binary)")
        if not os.access(binary, os.X_OK):
            raise Failure(f"RINGO_BIN={binary} is not an executable file")
        return [binary, "--host", self.host, "--port", "0", "--threads", str(self.threads),
                *self.args]

    def start(self):
        cmd = self.command()
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr_file)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        try:
            line = self._lines.get(timeout=TIMEOUT)
        except queue.Empty:
            self.kill()
            raise Failure(f"no listening line on stdout within {TIMEOUT:.0f}s: {' '.join(cmd)}")
        if line is None:
            rc = self.proc.wait(timeout=TIMEOUT)
            reason = io_uring_unavailable()
            if reason:
                raise Skip(f"server cannot start ({reason})")
            raise Failure(f"server exited with {rc} before listening: {' '.join(cmd)}\n"
                          f"stderr:\n{self.stderr_text()}")
        self.listen_line = line
        m = LISTEN_RE.match(line)
        if not m:
            self.kill()
            raise Failure(f"unexpected listening line {line!r}")
        want_host = f"[{self.host}]" if ":" in self.host else self.host
        check_eq(m["host"], want_host, "host in listening line")
        self.port = int(m["port"])
        check(self.port != 0, "listening line shows port 0 (the real port must be printed)")
        self.rings = int(m["rings"])
        check_eq(self.rings, self.threads, f"ring count in listening line {line!r}")
        return self

    def _read_stdout(self):
        try:
            for raw in self.proc.stdout:
                self._lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        finally:
            self._lines.put(None)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        if self.stderr_file is None:
            return ""
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def send_signal(self, sig=signal.SIGTERM):
        check(self.alive(), "server is not running")
        self.proc.send_signal(sig)

    def wait_stopped(self, timeout=None):
        """Waits for the exit after a signal; requires status 0, the stop line
        with zero live objects last on stderr, and no sanitizer report."""
        self.stopped = True
        try:
            rc = self.proc.wait(timeout=timeout or 3 * TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("server did not exit after the signal")
        err = self.stderr_text()
        lines = [l for l in err.splitlines() if l.strip()]
        last = lines[-1] if lines else ""
        for marker in SANITIZER_MARKERS:
            check(marker not in err, f"sanitizer report on stderr ({marker})")
        check_eq(rc, 0, "server exit status")
        check(last == STOP_LINE,
              f"last stderr line (leak check): expected {STOP_LINE!r}, got {last!r}")

    def stop(self, sig=signal.SIGTERM):
        if self.stopped:
            return
        if not self.alive():
            self.stopped = True
            raise Failure(f"server died (exit status {self.proc.returncode})")
        self.send_signal(sig)
        self.wait_stopped()

    def kill(self):
        self.stopped = True
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.kill()
            if not issubclass(exc_type, Skip):
                self.print_stderr()
            return False
        try:
            self.stop()
        except Failure:
            self.print_stderr()
            raise
        return False

    def print_stderr(self, limit=150):
        text = self.stderr_text()
        lines = text.splitlines()
        print(f"---- server stderr ({' '.join(self.command()[1:])}), "
              f"last {min(limit, len(lines))} of {len(lines)} lines ----")
        for l in lines[-limit:]:
            print("  | " + l)
        print("---- end of server stderr ----")


# ------------------------------------------------------------- requests

def request(method="GET", target="/", headers=(), body=None, version="HTTP/1.1",
            host="test"):
    """Builds request bytes. headers: dict or (name, value) pairs; a body
    gets a Content-Length unless one (or Transfer-Encoding) is given."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in pairs]
    if isinstance(body, str):
        body = body.encode()
    framed = any(k.lower() in ("content-length", "transfer-encoding") for k, _ in pairs)
    if body is not None and not framed:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def get(target, **kw):
    return request("GET", target, **kw)


def chunked(pieces, ext="", trailers=()):
    """Chunked encoding of pieces (bytes), each chunk-size followed by ext,
    then the last chunk and the trailer fields."""
    out = bytearray()
    for p in pieces:
        if isinstance(p, str):
            p = p.encode()
        out += f"{len(p):x}{ext}\r\n".encode() + p + b"\r\n"
    out += b"0\r\n"
    for k, v in trailers:
        out += f"{k}: {v}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


class Response:
    def __init__(self, version, status, reason, headers, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] in order
        self.head = head
        self.body = b""

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def tokens(self, name):
        out = set()
        for v in self.header_all(name):
            out |= {t.strip().lower() for t in v.split(",") if t.strip()}
        return out

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Failure(f"response body is not JSON ({e}): {self.body[:200]!r}")

    def closes(self):
        return "close" in self.tokens("connection")

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.headers} body={self.body[:120]!r}>"


def parse_head(head):
    check(b"\n" not in head.replace(b"\r\n", b""), f"bare LF in response head: {head!r}")
    check(b"\r" not in head.replace(b"\r\n", b""), f"bare CR in response head: {head!r}")
    lines = head.split(b"\r\n")
    m = re.match(rb"^HTTP/(1\.[01]) (\d{3}) ?(.*)$", lines[0])
    check(m is not None, f"malformed status line {lines[0][:200]!r}")
    headers = []
    for l in lines[1:]:
        hm = re.match(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$", l)
        check(hm is not None, f"malformed response header line {l[:200]!r}")
        headers.append((hm[1].decode("latin-1"), hm[2].decode("latin-1")))
    return Response(m[1].decode(), int(m[2]), m[3].decode("latin-1"), headers, head)


class Reader:
    """HTTP/1.1 response parser over a byte stream; subclasses provide fill()."""

    def __init__(self):
        self.buf = bytearray()
        self.eof = False
        self.reset = False

    def fill(self, deadline):  # -> bool: got more bytes
        raise NotImplementedError

    def wait_timeout(self):
        """How long one response may take unless the caller says otherwise."""
        return TIMEOUT

    def _more(self, deadline, what):
        if not self.fill(deadline):
            how = "reset" if self.reset else "closed"
            raise Failure(f"connection {how} before {what}; have {bytes(self.buf[:300])!r}")

    def read_response(self, head=False, timeout=None):
        """Reads one response (a 1xx interim one counts as a response).
        head=True: the request was HEAD, no body follows."""
        deadline = deadline_after(timeout or self.wait_timeout())
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            check(len(self.buf) < (1 << 20), "response head larger than 1 MiB")
            self._more(deadline, "a complete response head")
        resp = parse_head(bytes(self.buf[:i]))
        del self.buf[:i + 4]
        if head or resp.status < 200 or resp.status in (204, 304):
            return resp
        te = resp.tokens("transfer-encoding")
        cl = resp.header_all("content-length")
        if te:
            check(te == {"chunked"}, f"unexpected response Transfer-Encoding {te}")
            check(not cl, "response with both Transfer-Encoding and Content-Length")
            resp.body = self._read_chunked(deadline)
        elif cl:
            check(len(cl) == 1 and cl[0].isdigit(), f"bad response Content-Length {cl}")
            resp.body = self._read_exact(int(cl[0]), deadline)
        else:
            resp.body = self._read_to_close(deadline)
        return resp

    def read_final(self, head=False, timeout=None):
        """Reads responses until a final (non-1xx) one; returns (interims, final)."""
        interims = []
        while True:
            r = self.read_response(head=head, timeout=timeout)
            if r.status >= 200:
                return interims, r
            interims.append(r)

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._more(deadline, f"the end of a {n}-byte body")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _read_line(self, deadline):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            check(len(self.buf) < 65536, "chunk line too long")
            self._more(deadline, "a chunk line")

    def _read_chunked(self, deadline):
        body = bytearray()
        while True:
            line = self._read_line(deadline)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while self._read_line(deadline):
                    pass
                return bytes(body)
            body += self._read_exact(size, deadline)
            check(self._read_exact(2, deadline) == b"\r\n", "chunk data not followed by CRLF")

    def _read_to_close(self, deadline):
        while self.fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


class BytesReader(Reader):
    def __init__(self, data):
        super().__init__()
        self.buf += data
        self.eof = True

    def fill(self, deadline):
        return False


_live_conns = []


class Conn(Reader):
    """A raw TCP connection to the server with a response parser."""

    def __init__(self, srv, *, timeout=None, rcvbuf=None, sndbuf=None, nodelay=True):
        super().__init__()
        self.srv = srv
        self.timeout = timeout or TIMEOUT
        self.sock = socket.socket(srv.family, socket.SOCK_STREAM)
        _live_conns.append(self)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.timeout)
        self.sock.connect((srv.connect_host, srv.port))

    def local_port(self):
        return self.sock.getsockname()[1]

    def wait_timeout(self):
        # A connection opened with a longer timeout (a large body, a slow job) waits
        # that long for its responses too, not only for its sends.
        return max(self.timeout, TIMEOUT)

    def send(self, data, tolerate_close=False):
        """sendall; with tolerate_close a peer that already closed (EPIPE,
        ECONNRESET) is not an error (the response may still be readable).
        Returns False when the peer was gone."""
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            if not tolerate_close:
                raise
            return False

    def send_pieces(self, data, sizes, delay=0.0, tolerate_close=False):
        """Sends data in pieces of the given sizes (cycled), one send each."""
        if isinstance(sizes, int):
            sizes = [sizes]
        off, k = 0, 0
        while off < len(data):
            n = sizes[k % len(sizes)]
            k += 1
            if not self.send(data[off:off + n], tolerate_close):
                return False
            off += n
            if delay:
                time.sleep(delay)
        return True

    def fill(self, deadline):
        if self.eof:
            return False
        left = remaining(deadline)
        if left <= 0:
            raise Failure(f"timed out waiting for the server; have {bytes(self.buf[:300])!r}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise Failure(f"timed out waiting for the server; have {bytes(self.buf[:300])!r}")
        except ConnectionResetError:
            self.eof = self.reset = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until_close(self, timeout=None):
        """Everything until EOF (or a reset after data). Fails on timeout."""
        deadline = deadline_after(timeout or self.timeout)
        while self.fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def expect_closed(self, timeout=None, what="the response", allow_reset=False):
        """The server must close the connection with nothing more to read.
        Unless allow_reset, the close must be a FIN, not an RST: the server
        shuts down its side and drains what the client sent (lingering
        close) instead of closing on unread input."""
        try:
            rest = self.read_until_close(timeout)
        except Failure:
            raise Failure(f"connection still open after {what} (expected a close)")
        check(rest == b"", f"unexpected bytes after {what} before the close: {rest[:200]!r}")
        check(allow_reset or not self.reset,
              f"connection reset (RST) after {what}: expected a lingering close (FIN)")

    def expect_open(self, what="the response"):
        """The connection must still serve a request."""
        self.send(get("/plaintext"))
        r = self.read_response()
        check(r.status == 200 and r.body == b"Hello, World!",
              f"connection unusable after {what}: {r!r}")

    def exchange(self, data, head=False):
        self.send(data)
        return self.read_response(head=head)

    def abort(self):
        """Closes with an RST (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        finally:
            if self in _live_conns:
                _live_conns.remove(self)


def close_all_conns():
    for c in list(_live_conns):
        c.close()


def check_std_headers(r, closing=None):
    """Headers every response carries (Date, Server, one Content-Length; the
    reader already consumed exactly that many body bytes); closing=True/False
    also checks the Connection: close token."""
    date = r.header("date")
    check(date is not None and DATE_RE.match(date), f"bad or missing Date header: {r!r}")
    check_eq(r.header("server"), "ringo", "Server header")
    if r.status >= 200 and r.status not in (204, 304):
        check(len(r.header_all("content-length")) == 1,
              f"expected one Content-Length header: {r!r}")
    if closing is True:
        check(r.closes(), f"expected Connection: close on {r.status}: {r!r}")
    elif closing is False:
        check(not r.closes(), f"unexpected Connection: close on {r.status}: {r!r}")


def hello_ok(r):
    return r.status == 200 and r.body == b"Hello, World!"


def check_alive(srv, attempts=20):
    """A fresh connection gets GET /plaintext answered (503 from a connection
    cap whose previous connections are still being closed is retried)."""
    check(srv.alive(), f"server died (exit status {srv.proc.returncode})")
    last = None
    for _ in range(attempts):
        c = Conn(srv)
        try:
            c.send(get("/plaintext"), tolerate_close=True)
            last = c.read_response()
        finally:
            c.close()
        if last.status != 503:
            break
        time.sleep(0.1 * SCALE)
    check(hello_ok(last), f"server no longer answers GET /plaintext: {last!r}")


def ring_thread_file(srv, name):
    """/proc/<pid>/task/<tid>/<name> of the server's first ring thread, found
    by its name: the ring's load is told apart from the pool's this way."""
    task_dir = f"/proc/{srv.proc.pid}/task"
    for tid in os.listdir(task_dir):
        with open(f"{task_dir}/{tid}/comm") as f:
            if f.read().strip() != "ringo-ring-0":
                continue
        with open(f"{task_dir}/{tid}/{name}") as f:
            return f.read()
    raise Failure("no thread named ringo-ring-0 in the server")


# ------------------------------------------------------- other clients

def http_conn(srv, timeout=None):
    return http.client.HTTPConnection(srv.connect_host, srv.port, timeout=timeout or TIMEOUT)


def http_request(srv, method, path, body=None, headers=None):
    c = http_conn(srv)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


def curl(srv, path, *args, timeout=None):
    """Runs curl -i on path; returns (interim responses, final response)."""
    exe = shutil.which("curl")
    if not exe:
        raise Skip("curl is not installed (scripts/deps.sh installs it)")
    t = timeout or TIMEOUT
    cmd = [exe, "-sS", "-i", "-g", "--noproxy", "*", "--max-time", str(int(t)), *args,
           srv.url(path)]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=t + 10)
    except subprocess.TimeoutExpired:
        raise Failure(f"curl hung: {' '.join(cmd)}")
    check(p.returncode == 0,
          f"curl failed (rc {p.returncode}): {' '.join(cmd)}: {p.stderr.decode(errors='replace')}")
    return BytesReader(p.stdout).read_final(head="-I" in args or "--head" in args)


# --------------------------------------------------------------- runner

class Case:
    def __init__(self, fn, args, threads, host, server):
        self.fn, self.name = fn, fn.__name__
        self.args, self.threads, self.host, self.server = tuple(args), threads, host, server

    def key(self):
        return (self.args, self.threads, self.host, self.server)


_cases = []


def case(args=(), threads=1, host="127.0.0.1", server=True):
    """Registers a test case. The function gets the running Server (cases
    with the same flags share one), or nothing with server=False (the case
    starts its own servers)."""
    def deco(fn):
        _cases.append(Case(fn, [str(a) for a in args], threads, host, server))
        return fn
    return deco


class _Budget(BaseException):
    """The whole file ran out of time: abandon every remaining case."""


def _on_alarm(signum, frame):
    raise _Budget(f"test file exceeded its time budget of {FILE_BUDGET}s")


def _report(name, exc, results):
    if isinstance(exc, Skip):
        print(f"SKIP {name}: {exc}", flush=True)
        results.append("skip")
    else:
        print(f"FAIL {name}: {exc}", flush=True)
        if isinstance(exc, Failure):
            for fr in traceback.extract_tb(exc.__traceback__):
                if os.path.basename(fr.filename).startswith("test_"):
                    print(f"     at {os.path.basename(fr.filename)}:{fr.lineno}: {fr.line}")
        else:
            traceback.print_exception(exc)
        results.append("fail")


def _run_one(c, srv, results):
    t0 = time.monotonic()
    try:
        if srv is None:
            c.fn()
        else:
            c.fn(srv)
            close_all_conns()
            check_alive(srv)
    except (KeyboardInterrupt, _Budget):
        raise
    except BaseException as e:
        _report(c.name, e, results)
        return False
    finally:
        close_all_conns()
    print(f"ok   {c.name} ({time.monotonic() - t0:.1f}s)", flush=True)
    results.append("pass")
    return True


def _run_group(cases, results):
    first = cases[0]
    if not first.server:
        for c in cases:
            _run_one(c, None, results)
        return
    srv = Server(first.args, first.threads, first.host)
    label = f"[{' '.join(['--threads', str(first.threads), *first.args])}]"
    try:
        srv.start()
    except (KeyboardInterrupt, _Budget):
        srv.kill()
        srv.print_stderr()
        raise
    except BaseException as e:
        for c in cases:
            _report(c.name, e, results)
        if not isinstance(e, Skip):
            srv.print_stderr()
        srv.kill()
        return
    ok = True
    try:
        for c in cases:
            if not srv.alive():
                _report(c.name, Failure("server died before this case"), results)
                ok = False
                continue
            ok &= _run_one(c, srv, results)
    except _Budget:
        ok = False
        raise
    else:
        try:
            srv.stop()
            print(f"ok   stop + leak check {label}", flush=True)
            results.append("pass")
        except Exception as e:
            _report(f"stop + leak check {label}", e, results)
            ok = False
    finally:
        srv.kill()
        if not ok:
            srv.print_stderr()


def main():
    """Runs the registered cases (those whose name contains one of argv[1:])
    and exits 0, 1 or 77."""
    if os.environ.get("RINGO_BIN") and not os.access(os.environ["RINGO_BIN"], os.X_OK):
        print(f"FAIL RINGO_BIN={os.environ['RINGO_BIN']} is not executable")
        sys.exit(EXIT_FAIL)
    reason = io_uring_unavailable()
    if reason:
        print(f"SKIP all: {reason}")
        sys.exit(EXIT_SKIP)
    filters = sys.argv[1:]
    selected = [c for c in _cases if not filters or any(f in c.name for f in filters)]
    groups = {}
    for c in selected:
        groups.setdefault(c.key(), []).append(c)
    results = []
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(FILE_BUDGET)
    try:
        for cases in groups.values():
            _run_group(cases, results)
    except _Budget as e:
        _report("time budget", Failure(str(e)), results)
    finally:
        signal.alarm(0)
        close_all_conns()
    fails, skips, passes = results.count("fail"), results.count("skip"), results.count("pass")
    print(f"{passes} passed, {fails} failed, {skips} skipped")
    if fails:
        sys.exit(EXIT_FAIL)
    if skips and not passes:
        sys.exit(EXIT_SKIP)
    sys.exit(EXIT_PASS)


# ---- Python modules from Debian packages ----

DEBIAN_PYTHON = "/usr/bin/python3"


def need_module(name, package, fail=False):
    """Imports module `name` (Debian package `package`) for a test file. When the python
    running the file lacks it, the file runs itself again under Debian's python3 (where
    scripts/deps.sh installs it); when that one lacks it too, the file exits 77 (skip),
    or 1 with fail=True, with a line saying so. Call it before registering cases."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and \
            os.access(DEBIAN_PYTHON, os.X_OK) and not os.environ.get("RINGO_TEST_REEXEC"):
        os.environ["RINGO_TEST_REEXEC"] = "1"
        script = os.path.abspath(sys.argv[0])
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, script, *sys.argv[1:]])
    print(f"{'FAIL' if fail else 'SKIP'} all: the Python module '{name.split('.')[0]}' is "
          f"missing (Debian package {package}; scripts/deps.sh installs it)")
    sys.exit(EXIT_FAIL if fail else EXIT_SKIP)


# ---- socket helpers shared by the async and sync tests ----

def close_socks(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def proc_status(srv, key):
    """A memory field of the server's /proc/<pid>/status (VmRSS, VmHWM) in bytes."""
    with open(f"/proc/{srv.proc.pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise Failure(f"{key} not in /proc/{srv.proc.pid}/status")


class NobodyServer(Server):
    """The demo server run as `nobody` (setpriv): root is exempt from
    pipe-user-pages-soft and other per-user limits, so only an unprivileged
    server proves them."""

    def command(self):
        return [shutil.which("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                "--", *super().command()]


def unprivileged_server(args=(), threads=1, readable=()):
    """A Server that runs unprivileged: this user's when not root, else nobody's.
    Raises Skip when root cannot switch, or nobody cannot run the binary or read
    the paths in readable (a checkout in a private directory): then the test
    proves nothing."""
    if os.geteuid() != 0:
        return Server(args, threads=threads)
    if not shutil.which("setpriv"):
        raise Skip("running as root and setpriv is missing: cannot run the server unprivileged")
    binary = os.environ.get("RINGO_BIN", "")
    tests = " && ".join([f"test -x '{binary}'"] + [f"test -r '{p}'" for p in readable])
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh",
                        "-c", tests])
    if p.returncode != 0:
        raise Skip(f"user nobody cannot run the server binary ({binary}) or read its files: "
                   "as root the test would prove nothing")
    return NobodyServer(args, threads=threads)


def abort_sock(s):
    """Closes with an RST (SO_LINGER 0)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    s.close()


def raise_nofile(want):
    """Lets this process hold `want` descriptors (soft limit up to the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    if soft != resource.RLIM_INFINITY and soft < want:
        raise Skip(f"RLIMIT_NOFILE hard limit {hard} is below the {want} descriptors needed")


# ---- the demo server's /stats counters ----

STATS_KEYS = ("conns_live", "reqs_live", "stacks_live", "cancels", "ring_stalls", "reqs_served",
              "pipes_busy")


class StatsConn:
    """One keep-alive connection that polls GET /stats (an async route) of the
    demo server. The stats request itself is live while it is answered."""

    def __init__(self, srv):
        self.conn = Conn(srv)
        self.polls = 0

    def get(self):
        self.conn.send(get("/stats"))
        r = self.conn.read_response()
        check_eq(r.status, 200, "GET /stats status")
        st = r.json()
        for k in STATS_KEYS:
            check(isinstance(st.get(k), int), f"/stats lacks integer {k!r}: {st!r}")
        self.polls += 1
        return st

    def wait_for(self, pred, what, timeout=None):
        """Polls until pred(stats) holds; fails with the last stats after timeout."""
        timeout = timeout or TIMEOUT
        deadline = deadline_after(timeout)
        while True:
            st = self.get()
            if pred(st):
                return st
            if remaining(deadline) <= 0:
                raise Failure(f"{what}: not reached within {timeout:.0f}s; last /stats {st!r}")
            time.sleep(0.02)

    def wait_baseline(self, base, what, timeout=None, open_conns=0):
        """Requests and connections back to base (the poller's own connection
        and request are in base too); open_conns: idle connections the test
        opened since base and still holds."""
        return self.wait_for(lambda st: st["reqs_live"] <= base["reqs_live"]
                             and st["conns_live"] <= base["conns_live"] + open_conns
                             and st["stacks_live"] <= base["stacks_live"],
                             f"{what}: reqs_live, stacks_live back to {base!r}, conns_live "
                             f"to {base['conns_live'] + open_conns}", timeout)

    def wait_read(self, base, n, what):
        """Waits until n more requests than at base are live (read and parsed)."""
        return self.wait_for(lambda st: st["reqs_live"] >= base["reqs_live"] + n,
                             f"{what}: {n} requests read by the server")

    def close(self):
        self.conn.close()


# ---- TLS: throw-away certificates ----

def make_cert(directory, name, cn, sans):
    """A self-signed P-256 certificate and key made by `openssl req` in
    directory: (cert path, key path). Fails when openssl is missing."""
    exe = shutil.which("openssl")
    if not exe:
        raise Failure("openssl is not installed (scripts/deps.sh installs it)")
    crt, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    san = ",".join(f"DNS:{s}" for s in sans)
    subprocess.run([exe, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True, timeout=TIMEOUT)
    return crt, key
