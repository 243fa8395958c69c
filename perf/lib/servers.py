"""The servers perf/bench compares: how to start each one on 127.0.0.1 with the same
routes, which process tree to measure, and how to stop it.

Every server is started pinned to the server CPU (taskset), in its own session (a
Ctrl-C on the terminal reaches the harness, which then stops them in order), with
PR_SET_PDEATHSIG so that none outlives a harness that was killed outright.
"""
import ctypes
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import tfb
from measure import tree

HERE = os.path.dirname(os.path.abspath(__file__))
PERF = os.path.dirname(HERE)
PEERS = os.path.join(PERF, "peers")
DEBIAN_PYTHON = "/usr/bin/python3"

# Logical routes -> the path each server answers them on. "Hook" routes are probed with
# curl when the server starts and their cases run only where the answer is 200.
ASYNC_ROUTES = {"plaintext": "/plaintext", "json": "/json", "sleep": "/sleep?ms=10",
                "deps": "/deps/chain", "products": "/products", "echo_1k": "/echo",
                "openapi": "/openapi.json"}
# The dependency chain needs a bearer token (its `token` dependency answers 401 without).
ROUTE_HEADERS = {"deps": ["Authorization: Bearer bench"]}
SYNC_ROUTES = {"plaintext": "/sync/plaintext", "json": "/sync/json",
               "sync_json": "/sync/json", "sync_sleep": "/sync/sleep?ms=10"}
# The TechEmpower test types against PostgreSQL (perf/lib/tfb.py): async routes at the
# top level, their blocking-driver twins under /sync (no sync cached-queries). Their
# probe is tfb.check(): the answers are checked against the database, not only the status.
TFB_ASYNC = {"db": "/db", "queries": "/queries?queries=20", "fortunes": "/fortunes",
             "updates": "/updates?queries=20", "cached_queries": "/cached-queries?count=100"}
TFB_SYNC = {k: "/sync" + v for k, v in TFB_ASYNC.items() if k != "cached_queries"}
ASYNC_ROUTES.update(TFB_ASYNC)
SYNC_ROUTES.update(TFB_SYNC)
RINGO_ROUTES = {**ASYNC_ROUTES, "sync_json": "/sync/json", "sync_sleep": "/sync/sleep?ms=10",
                "static_4k": "/static/4k.bin", "static_64m": "/static/64m.bin",
                "gzip_json": "/json64k", "livez": "/livez", "stats": "/stats",
                "observe": "/plaintext"}
# The health route the overload case probes (perf/lib/openloop.py): ringo's /livez (else
# its /stats, an async route on the ring), FastAPI's `async def` /livez on its event loop.
ASYNC_ROUTES["livez"] = SYNC_ROUTES["livez"] = "/livez"
# Pool workers of ringo's sync handlers in every case (its default on up to 10 CPUs) and
# FastAPI's threadpool (AnyIO's default limit): the overload case's capacity is
# POOL_THREADS / 10 ms on both.
POOL_THREADS = 40
# The static-file cases: the same 4 KiB file in each server's run directory, an hour old
# (ringo's small-file cache leaves files younger than two seconds out), and a 64 MiB one
# of random bytes (read once before the runs: every server sends it from the page cache).
STATIC_4K = bytes((i * 31 + 7) & 0xFF for i in range(4096))
STATIC_64M = 64 << 20


def write_static(server_dir):
    d = os.path.join(server_dir, "static")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "4k.bin")
    with open(path, "wb") as f:
        f.write(STATIC_4K)
    big = os.path.join(d, "64m.bin")
    if not os.path.exists(big) or os.path.getsize(big) != STATIC_64M:
        with open(big, "wb") as f:
            for _ in range(STATIC_64M >> 20):
                f.write(os.urandom(1 << 20))
    old = time.time() - 3600
    for p in (path, big):
        os.utime(p, (old, old))
    return d
ROUTE_HEADERS["gzip_json"] = ["Accept-Encoding: gzip"]
# Routes whose response size is part of the result (compression): probed once per server.
SIZE_PROBES = {"gzip_json"}
# POST routes: the Content-Type of the body they are sent (product_body(), the same for
# both: the products case validates it, the echo case only sends it back), and the
# status that means success when it is not 200 (the probe expects it).
POST_ROUTES = {"products": "application/json", "echo_1k": "application/json"}
OK_STATUS = {"products": 201}


# The TLS and HTTP/2 cases (perf/bench https-*, h2c-h2load, h2-h2load). Every server gets
# the same certificate, made per run by make_cert(), and the same protocols and ciphers:
# ringo's own (core/tls.c: Mozilla intermediate, TLS 1.2 and 1.3, ECDHE + AEAD, the
# client's preference, X25519 first), written into the peers' configurations.
TLS_PROTOS = ("https", "https-close", "h2")  # served by the TLS instance of a server
TLS_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
               "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
TLS_GROUPS = "X25519:prime256v1:secp384r1"
TLS_KEYS = {"ec": "ECDSA P-256", "rsa": "RSA 2048"}
PLAINTEXT = b"Hello, World!"


def make_cert(d, kind):
    """A self-signed certificate for 127.0.0.1 and localhost in d: (cert, key) paths.
    kind: "ec" (ECDSA P-256) or "rsa" (RSA 2048)."""
    os.makedirs(d, exist_ok=True)
    crt, key = os.path.join(d, "bench.crt"), os.path.join(d, "bench.key")
    alg = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec"
           else ["-newkey", "rsa:2048"])
    r = subprocess.run(["openssl", "req", "-x509", *alg, "-nodes", "-keyout", key, "-out", crt,
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + r.stderr.strip()[-300:])
    os.chmod(key, 0o644)  # a peer's workers may run as another user
    os.chmod(d, 0o755)
    return crt, key


def curl_get(url, proto):
    """(status, body, HTTP version curl used) of a GET with curl: proto "h2c" is HTTP/2
    with prior knowledge, "h2" offers h2 and http/1.1 by ALPN (the version says which
    the server chose), anything else HTTP/1.1. Certificates are not verified."""
    flag = {"h2c": "--http2-prior-knowledge", "h2": "--http2"}.get(proto, "--http1.1")
    r = subprocess.run(["curl", "-sk", "-m", "5", flag, "-w", "\n%{http_code} %{http_version}",
                        url], capture_output=True)
    body, _, tail = r.stdout.rpartition(b"\n")
    code, _, version = tail.decode(errors="replace").partition(" ")
    return (int(code) if code.isdigit() else 0), body, version


def product_body():
    """A body of the demo's POST /products model (docs/api.md): name (1..50 chars), price
    (> 0), ten tags (the most the model allows), in_stock, dims {w, h}; about 1 KiB of
    compact JSON, every field checked by the validator."""
    import json
    tags = ["tag-%02d-%s" % (i, "abcdefghijklmnopqrstuvwxyz"[i:] + "0123456789" * 6)
            for i in range(10)]
    doc = {"name": "Stainless steel water bottle, 750 ml", "price": 24.99, "tags": tags,
           "in_stock": True, "dims": {"w": 7.5, "h": 26.0}}
    return json.dumps(doc, separators=(",", ":")).encode()


def json64k():
    """The bytes of ringo's demo route /json64k (examples/demo_compress.c): records
    until the next would pass 64 KiB, padded with spaces to 65,536 bytes."""
    out = bytearray(b"[")
    i = 0
    while True:
        rec = ('%s{"id":%d,"name":"user-%d","email":"user-%d@example.com","active":%s,'
               '"score":%d,"tags":["alpha","beta"]}' % ("," if i else "", i, i, i,
                                                       "true" if i % 3 else "false",
                                                       i * 37 % 1000)).encode()
        if len(out) + len(rec) + 1 > 65536:
            break
        out += rec
        i += 1
    out += b" " * (65535 - len(out)) + b"]"
    return bytes(out)


def body_bytes(url, headers=()):
    """Bytes of one response body as sent (not decoded), with curl."""
    hdr = [a for h in headers for a in ("-H", h)]
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "5", "-w", "%{size_download}"] +
                       hdr + [url], capture_output=True, text=True)
    return int(r.stdout or 0)


def _pdeathsig():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def http_status(url, headers=(), body=None):
    """Status code of a GET (a POST of body when given), with curl when present (the
    method's probe), else urllib."""
    if shutil.which("curl"):
        hdr = [a for h in headers for a in ("-H", h)]
        post = ["--data-binary", "@-"] if body is not None else []
        r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}"] +
                           hdr + post + [url], capture_output=True, input=body or b"")
        return int(r.stdout or 0)
    try:
        req = urllib.request.Request(url, data=body,
                                     headers=dict(h.split(": ", 1) for h in headers))
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


class Server:
    name = "?"
    label = "?"
    routes = {}
    multi = False  # more than one thread or worker: runs on both CPUs (the -2w cases)
    ready_prefix = None  # a line on stdout that carries the port, when the server prints one
    # The protocols a cleartext instance speaks ("h1": HTTP/1.1; "h2c": HTTP/2 with prior
    # knowledge); a TLS instance (tls=True, TLS_SERVERS only) speaks TLS_PROTOS.
    protos = ("h1",)

    def __init__(self, cpu, run_dir, opts, tls=False):
        """tls: this instance listens with TLS (the run's certificate) and serves the TLS
        cases' /plaintext only; it has the name of its class (its rows read "ringo",
        "nginx", "h2o") and a directory of its own."""
        self.cpu = cpu
        self.tls = tls
        self.dir = os.path.join(run_dir, "servers", self.name + ("-tls" if tls else ""))
        self.opts = opts
        if tls:
            self.routes = {"plaintext": "/plaintext"}
            self.protos = TLS_PROTOS
        self.h2c_port = None  # where h2c is served when not on the main port
        self.alpn = None  # TLS: what the server chose when offered h2 and http/1.1
        self.proc = None
        self.port = None
        self.answers = {}
        self.restarts = 0
        self.exit_note = ""
        self.exits = []

    # --- to override ---
    def available(self):
        """None when the server can run here, else why not."""
        return None

    def command(self):
        raise NotImplementedError

    def prepare(self):
        pass

    def version(self):
        return ""

    def environ(self):
        """The environment to start the server with; None: the harness's own."""
        return None

    # --- common ---
    def start(self):
        self.exit_note = ""
        os.makedirs(self.dir, exist_ok=True)
        if self.ready_prefix is None:
            self.port = free_port()
        self.prepare()
        cmd = self.command()
        if self.cpu is not None:
            cmd = ["taskset", "-c", str(self.cpu)] + cmd
        with open(os.path.join(self.dir, "command"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.stderr = open(os.path.join(self.dir, "stderr"), "ab")
        self.stderr_pos = self.stderr.tell()  # this process's lines start here
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     env=self.environ(), start_new_session=True, preexec_fn=_pdeathsig)
        if self.ready_prefix is not None:
            self.port = self._read_port()
        if not self.port or not wait_port(self.port, self.proc, 20):
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {self.stderr_tail()}")
        self._drain_stdout()
        self.probe()

    def _read_port(self):
        """Port from the server's first stdout line ("...: listening on http://H:P...")."""
        line = self.proc.stdout.readline().decode(errors="replace").strip()
        with open(os.path.join(self.dir, "stdout"), "a") as f:
            f.write(line + "\n")
        if not line.startswith(self.ready_prefix):
            return None
        try:
            return int(line.split("://", 1)[1].split()[0].rsplit(":", 1)[1].rstrip("/"))
        except (IndexError, ValueError):
            return None

    def _drain_stdout(self):
        # A server that keeps writing to a pipe nobody reads would block: copy it to a file.
        out = open(os.path.join(self.dir, "stdout"), "ab")
        src = self.proc.stdout

        def pump():
            for chunk in iter(lambda: src.read1(65536), b""):
                out.write(chunk)
                out.flush()
        threading.Thread(target=pump, daemon=True).start()

    def probe(self):
        self.answers = {}
        self.problems = {}
        for route, path in self.routes.items():
            if route in TFB_ASYNC:
                measured = {getattr(c, "route", None) for c in getattr(self.opts, "case_list", [])}
                if route not in measured:
                    continue  # a TFB check writes to the database: only where measured
                cluster = getattr(self.opts, "pg", None)
                bad = tfb.check(self.url(""), route, path, cluster) if cluster else [
                    "no database"]
                self.answers[route] = not bad
                if bad and cluster:
                    self.problems[route] = bad
                continue
            headers, body = list(ROUTE_HEADERS.get(route, ())), None
            if route in POST_ROUTES:
                headers.append("Content-Type: " + POST_ROUTES[route])
                body = product_body()
            self.answers[route] = http_status(self.url(path), headers,
                                              body) == OK_STATUS.get(route, 200)
        self.probe_protos()

    def probe_protos(self):
        """The TLS and HTTP/2 cases' answers, checked with curl: /plaintext answers 200
        "Hello, World!" over each protocol of the instance; over TLS, which protocol ALPN
        chooses when h2 and http/1.1 are offered (self.alpn). A wrong answer is a problem
        (the case runs without this server); h2 not chosen is not: the h2 case marks the
        row "not negotiated"."""
        self.proto_ok = {}
        wanted = {getattr(c, "proto", "h1") for c in getattr(self.opts, "case_list", [])}
        for proto in self.protos:
            if proto not in wanted or proto in ("h1", "https-close"):
                continue  # h1: probe(); https-close: the same answer as https
            code, body, version = curl_get(self.proto_url(proto, "/plaintext"), proto)
            if proto == "h2":
                self.alpn = {"2": "h2", "1.1": "http/1.1"}.get(version, version or None)
                if self.alpn != "h2":
                    continue
            bad = [] if code == 200 else [f"status {code}"]
            if body != PLAINTEXT:
                bad.append(f"body {body[:40]!r}")
            if proto == "h2c" and version != "2":
                bad.append(f"HTTP version {version}")
            self.proto_ok[proto] = not bad
            if bad:
                self.problems[proto + " /plaintext"] = bad
        if "https-close" in wanted and "https-close" in self.protos:
            if "https" not in self.proto_ok:
                code, body, _ = curl_get(self.proto_url("https", "/plaintext"), "https")
                self.proto_ok["https"] = code == 200 and body == PLAINTEXT
                if not self.proto_ok["https"]:
                    self.problems["https /plaintext"] = [f"status {code}, body {body[:40]!r}"]
            self.proto_ok["https-close"] = self.proto_ok["https"]

    def url(self, path):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def proto_url(self, proto, path):
        """The URL of path over proto (Server.protos, TLS_PROTOS)."""
        if proto == "h2c" and self.h2c_port:
            return f"http://127.0.0.1:{self.h2c_port}{path}"
        return self.url(path)

    def speaks(self, proto):
        """Whether this instance serves proto, its answer checked (probe_protos)."""
        if proto not in self.protos:
            return False
        return proto == "h1" or getattr(self, "proto_ok", {}).get(proto, False)

    def path(self, route):
        return self.routes.get(route) if self.answers.get(route) else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        return tree(self.proc.pid) if self.alive() else []

    def stop(self, timeout=10.0):
        """SIGTERM by PID, then SIGKILL after `timeout`; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.exit_note = f"did not stop within {timeout:.0f} s: killed"
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def stderr_tail(self, n=5):
        try:
            with open(os.path.join(self.dir, "stderr"), "rb") as f:
                f.seek(getattr(self, "stderr_pos", 0))
                text = f.read().decode(errors="replace")
                return " | ".join(text.strip().splitlines()[-n:])
        except OSError:
            return ""


def _run_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


class Ringo(Server):
    name, label = "ringo", "ringo"
    routes = RINGO_ROUTES
    ready_prefix = "ringo:"
    protos = ("h1", "h2c")  # h2c with prior knowledge is on by default

    def available(self):
        b = self.opts.ringo_bin
        return None if b and os.access(b, os.X_OK) else f"no ringo binary ({b})"

    def prepare(self):
        if self.tls:  # /plaintext only: an empty static mount
            self.static_dir = os.path.join(self.dir, "static")
            os.makedirs(self.static_dir, exist_ok=True)
            return
        self.static_dir = write_static(self.dir)

    def pg_args(self):
        """--pg DSN when there is a database and this build of the demo takes the flag."""
        dsn = getattr(self.opts, "pg_dsn", None)
        if not dsn:
            return []
        if not hasattr(self.opts, "ringo_has_pg"):
            r = subprocess.run([self.opts.ringo_bin, "--help"], capture_output=True, text=True)
            self.opts.ringo_has_pg = "--pg" in r.stdout + r.stderr
        return ["--pg", dsn] if self.opts.ringo_has_pg else []

    def knows(self, flag):
        """Whether this build of the demo takes flag (an older RINGO_BIN may not)."""
        if not hasattr(self.opts, "ringo_help"):
            r = subprocess.run([self.opts.ringo_bin, "--help"], capture_output=True, text=True)
            self.opts.ringo_help = r.stdout + r.stderr
        return flag in self.opts.ringo_help

    def observe_args(self):
        """Without metrics (the demo's default turns them on): the engine alone, as peers
        measure theirs; the observe case measures them on top (RingoObserve)."""
        return ["--metrics", ""] if self.knows("--metrics") else []

    def command(self):
        # --static-cache-valid 1000: a cached file is trusted for a second without openat2 +
        # statx, as nginx's open_file_cache (whose validity is 60 s by default) does.
        return [self.opts.ringo_bin, "--host", "127.0.0.1", "--port", "0", "--threads", "1",
                "--pool-threads", str(POOL_THREADS),
                "--max-conns", str(self.opts.max_conns), "--static-dir", self.static_dir,
                "--static-cache-valid", "1000"] + self.observe_args() + self.pg_args() + (
                    ["--tls-cert", self.opts.tls_cert, "--tls-key", self.opts.tls_key]
                    if self.tls else [])

    def version(self):
        return self.opts.ringo_version

    def environ(self):
        spool = getattr(self.opts, "spool_dir", None)  # where request bodies are spooled
        return dict(os.environ, TMPDIR=spool) if spool else None

    def stop(self, timeout=10.0):
        code = super().stop(timeout)
        # The graceful-shutdown line reports live objects: all must be 0.
        lines = self.stderr_tail(50).split(" | ")
        stopped = [l for l in lines if l.startswith("ringo: stopped:")]
        self.exit_note = (self.exit_note + " " + (stopped[-1] if stopped else "")).strip()
        return code


class RingoSync(Ringo):
    """The same demo in a process of its own, measured on its /sync TFB routes: sync
    handlers on the pool with blocking libpq. TFB_SYNC_BIN: another build of the demo
    for this process (default: RINGO_BIN's)."""
    name, label = "ringo-sync", "ringo sync (pool)"
    routes = TFB_SYNC

    def command(self):
        cmd = super().command()
        return [os.environ.get("TFB_SYNC_BIN") or cmd[0]] + cmd[1:]


class RingoSyncBase(RingoSync):
    """ringo-sync from another build of the demo (TFB_BASE_BIN), to compare two builds'
    sync paths in one run: before and after a change."""
    name, label = "ringo-sync-base", "ringo sync (base build)"

    def available(self):
        b = os.environ.get("TFB_BASE_BIN")
        return None if b and os.access(b, os.X_OK) else "TFB_BASE_BIN names no binary"

    def command(self):
        return [os.environ["TFB_BASE_BIN"]] + Ringo.command(self)[1:]


class RingoFiles(Ringo):
    """The demo sending large static files another way, next to plain ringo in the
    static cases (the 64 MiB one is what they are for)."""
    routes = {k: RINGO_ROUTES[k] for k in ("static_4k", "static_64m", "livez", "stats")}
    flag = None

    def available(self):
        why = super().available()
        return why or (None if self.knows(self.flag) else f"this demo has no {self.flag}")

    def command(self):
        return super().command() + [self.flag]


class RingoSplice(RingoFiles):
    """splice file -> pipe -> socket through io-wq, no sendfile from the ring."""
    name, label, flag = "ringo-splice", "ringo, splice", "--file-no-sendfile"


class RingoLinked(RingoFiles):
    """splice with the file -> pipe splice linked to the pipe -> socket one (one await)."""
    name, label, flag = "ringo-linked", "ringo, linked splices", "--file-splice-linked"

    def command(self):
        return super().command() + ["--file-no-sendfile"]


class RingoBase(Ringo):
    """ringo from another build of the demo (BASE_RINGO_BIN), to compare two builds in one
    run: before and after a change."""
    name, label = "ringo-base", "ringo (base build)"

    def available(self):
        b = os.environ.get("BASE_RINGO_BIN")
        return None if b and os.access(b, os.X_OK) else "BASE_RINGO_BIN names no binary"

    def command(self):
        return [os.environ["BASE_RINGO_BIN"]] + super().command()[1:]


class RingoAdmit(Ringo):
    """The demo with admission control by queue time on (--queue-target, --queue-interval),
    measured in the overload case beside ringo with it off. Skipped when the demo has no
    such flags."""
    name, label = "ringo-admit", "ringo, admission on"
    routes = {k: RINGO_ROUTES[k] for k in ("sync_sleep", "livez", "stats")}
    QUEUE_TARGET_MS, QUEUE_INTERVAL_MS = 5, 100

    def available(self):
        why = super().available()
        if why:
            return why
        r = subprocess.run([self.opts.ringo_bin, "--help"], capture_output=True, text=True)
        return None if "--queue-target" in r.stdout + r.stderr else (
            "this demo has no --queue-target (admission control)")

    def command(self):
        return super().command() + ["--queue-target", str(self.QUEUE_TARGET_MS),
                                    "--queue-interval", str(self.QUEUE_INTERVAL_MS)]


class RingoObserve(Ringo):
    """The same demo with /metrics counting every request and the access log (combined
    format) written to a file in the run directory: what observability costs, measured
    next to plain ringo in the same run (the observe-64 case)."""
    name, label = "ringo-observe", "ringo + /metrics + access log"
    routes = {"observe": "/plaintext"}

    def available(self):
        why = super().available()
        if why is None and not self.knows("--access-log"):
            why = "this ringo build has no --access-log"
        return why

    def observe_args(self):
        return ["--metrics", "/metrics", "--access-log", os.path.join(self.dir, "access.log")]


class Ringo2(Ringo):
    """ringo with two rings (--threads 2), free to run on both CPUs: the multi-ring cases
    (plaintext-64-2w, json-64-2w) measure it beside ringo --threads 1 on one CPU, and
    nginx and h2o with two workers each. multi: started with affinity for the run's two
    CPUs instead of the server CPU (perf/lib/bench.py)."""
    name, label = "ringo-2r", "ringo, 2 rings"
    routes = {k: RINGO_ROUTES[k] for k in ("plaintext", "json", "sync_json")}
    multi = True

    def command(self):
        cmd = super().command()
        cmd[cmd.index("--threads") + 1] = "2"
        return cmd


class RingoBoth(Ringo):
    """ringo --threads 1 allowed on both CPUs like the two-ring servers: separates what the
    second ring costs from what spreading the process (its pool) over two CPUs costs."""
    name, label = "ringo-1r-both", "ringo, 1 ring, both CPUs"
    routes = {k: RINGO_ROUTES[k] for k in ("plaintext", "json", "sync_json")}
    multi = True


class Ringo2Pinned(Ringo2):
    """ringo-2r with ring N's thread pinned to the run's CPU N once it started (the pool's
    threads keep both CPUs): whether the scheduler's placement of the rings costs them."""
    name, label = "ringo-2r-pin", "ringo, 2 rings pinned"

    def start(self):
        super().start()
        cpus = [int(c) for c in str(self.cpu).split(",")] if self.cpu is not None else []
        for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
            with open(f"/proc/{self.proc.pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            if comm.startswith("ringo-ring-") and cpus:
                os.sched_setaffinity(int(tid), {cpus[int(comm[11:]) % len(cpus)]})


class Pgbench(Server):
    """Not a server: `pgbench -S -M prepared` against the run's PostgreSQL cluster, run by
    perf/bench in the db case's slot (tfb.py). It answers only the db route."""
    name, label = "pgbench", "pgbench -S -M prepared"
    routes = {"db": "select-only"}

    def available(self):
        if not shutil.which("pgbench"):
            return "pgbench not installed (Debian: postgresql-client-15)"
        return None if getattr(self.opts, "pg", None) else "no database"

    def start(self):
        self.answers = {"db": True}

    def alive(self):
        return True

    def pids(self):
        return []

    def stop(self, timeout=10.0):
        return None

    def version(self):
        return _run_version(["pgbench", "--version"])


class Limit(Server):
    name, label = "limit", "limit (canned io_uring)"
    routes = {"plaintext": "/plaintext"}
    ready_prefix = "limit:"

    def available(self):
        b = self.opts.limit_bin
        return None if b and os.access(b, os.X_OK) else f"no limit binary ({b})"

    def command(self):
        return [self.opts.limit_bin, "--port", "0"]

    def version(self):
        return "perf/limit/limit.c"


def _fill(template, out, **kw):
    with open(template) as f:
        text = f.read()
    for k, v in kw.items():
        text = text.replace(f"@{k}@", str(v))
    with open(out, "w") as f:
        f.write(text)


class Nginx(Server):
    name, label = "nginx", "nginx"
    routes = {"plaintext": "/plaintext", "json": "/json", "static_4k": "/static/4k.bin",
              "static_64m": "/static/64m.bin", "gzip_json": "/json64k"}
    # h2c on a port of its own: nginx 1.22's `listen ... http2` without ssl speaks HTTP/2
    # with prior knowledge only.
    protos = ("h1", "h2c")

    def available(self):
        return None if shutil.which("nginx") else "nginx not installed (Debian: nginx-light)"

    def prepare(self):
        if self.tls:
            _fill(os.path.join(PEERS, "nginx-tls.conf"), os.path.join(self.dir, "nginx.conf"),
                  DIR=self.dir, PORT=self.port, CERT=self.opts.tls_cert, KEY=self.opts.tls_key,
                  CIPHERS=TLS_CIPHERS, SUITES=TLS13_SUITES, GROUPS=TLS_GROUPS,
                  NOFILE=resource.getrlimit(resource.RLIMIT_NOFILE)[1])
            if os.geteuid() == 0:
                with open(os.path.join(self.dir, "nginx.conf"), "a") as f:
                    f.write("user root;\n")
            return
        self.h2c_port = free_port()
        write_static(self.dir)
        with open(os.path.join(self.dir, "json64k"), "wb") as f:
            f.write(json64k())
        # Request bodies (and the DAV module's PUT files) go to SPOOL: perf/streams names
        # a directory of its own there, perf/bench leaves them in the run directory.
        spool = getattr(self.opts, "spool_dir", None) or self.dir
        os.makedirs(os.path.join(spool, "dav"), exist_ok=True)
        _fill(os.path.join(PEERS, "nginx.conf"), os.path.join(self.dir, "nginx.conf"),
              DIR=self.dir, PORT=self.port, H2CPORT=self.h2c_port, SPOOL=spool,
              NOFILE=resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        if os.geteuid() == 0:  # as root the worker becomes `nobody`, who cannot write there
            with open(os.path.join(self.dir, "nginx.conf"), "a") as f:
                f.write("user root;\n")

    def command(self):
        return [shutil.which("nginx"), "-e", os.path.join(self.dir, "error.log"),
                "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf")]

    def version(self):
        return _run_version(["nginx", "-v"]).replace("nginx version: ", "")


def _rewrite(path, old, new):
    """Replaces old (which must be there once) with new in the file at path."""
    with open(path) as f:
        text = f.read()
    if text.count(old) != 1:
        raise RuntimeError(f"{path}: expected one {old!r}")
    with open(path, "w") as f:
        f.write(text.replace(old, new))


class Nginx2(Nginx):
    """nginx with two worker processes, each with a SO_REUSEPORT listener of its own
    (`listen ... reuseport`: one accept queue per worker, as ringo has one per ring),
    on both CPUs: the multi-ring cases' peer."""
    name, label = "nginx-2w", "nginx, 2 workers"
    routes = {k: Nginx.routes[k] for k in ("plaintext", "json")}
    multi = True

    def prepare(self):
        super().prepare()
        conf = os.path.join(self.dir, "nginx.conf")
        _rewrite(conf, "worker_processes 1;", "worker_processes 2;")
        _rewrite(conf, "backlog=65535;", "backlog=65535 reuseport;")


class H2o(Server):
    name, label = "h2o", "h2o"
    routes = {"plaintext": "/plaintext", "json": "/json", "static_4k": "/static/4k.bin",
              "static_64m": "/static/64m.bin"}

    def available(self):
        return None if shutil.which("h2o") else "h2o not installed (Debian: h2o)"

    protos = ("h1", "h2c")  # h2c with prior knowledge on its cleartext listener

    def prepare(self):
        if not self.tls:
            write_static(self.dir)
        with open(os.path.join(self.dir, "plaintext.txt"), "w") as f:
            f.write("Hello, World!")
        with open(os.path.join(self.dir, "json.json"), "w") as f:
            f.write('{"message":"Hello, World!"}')
        conf = os.path.join(self.dir, "h2o.conf")
        if self.tls:
            _fill(os.path.join(PEERS, "h2o-tls.conf"), conf, DIR=self.dir, PORT=self.port,
                  CERT=self.opts.tls_cert, KEY=self.opts.tls_key, CIPHERS=TLS_CIPHERS)
        else:
            _fill(os.path.join(PEERS, "h2o.conf"), conf, DIR=self.dir, PORT=self.port)
        if os.geteuid() == 0:  # as root h2o switches to `nobody`, who cannot write @DIR@
            with open(conf, "a") as f:
                f.write("user: root\n")

    def command(self):
        return [shutil.which("h2o"), "-c", os.path.join(self.dir, "h2o.conf")]

    def version(self):
        return _run_version(["h2o", "--version"]).replace("h2o version ", "")


class H2o2(H2o):
    """h2o with two threads (they share its one listener), on both CPUs."""
    name, label = "h2o-2t", "h2o, 2 threads"
    routes = {k: H2o.routes[k] for k in ("plaintext", "json")}
    multi = True

    def prepare(self):
        super().prepare()
        _rewrite(os.path.join(self.dir, "h2o.conf"), "num-threads: 1", "num-threads: 2")


class FastAPI(Server):
    """uvicorn, one worker, uvloop + httptools, no access log."""
    mode = "async"

    def available(self):
        r = subprocess.run([DEBIAN_PYTHON, "-c", "import fastapi, uvicorn, uvloop, httptools"],
                           capture_output=True, text=True)
        return None if r.returncode == 0 else (
            "python3-fastapi/uvicorn/uvloop/httptools missing for " + DEBIAN_PYTHON)

    def environ(self):
        dsn = getattr(self.opts, "pg_dsn", None)
        return dict(os.environ, TFB_DSN=dsn) if dsn else None

    def command(self):
        return [DEBIAN_PYTHON, "-m", "uvicorn", "fastapi_app:app", "--app-dir", PEERS,
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                "--log-level", "warning", "--timeout-keep-alive", "300",
                "--backlog", "4096"]

    def version(self):
        r = subprocess.run([DEBIAN_PYTHON, "-c",
                            "import fastapi, uvicorn, uvloop, httptools, sys; print("
                            "f'fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, "
                            "uvloop {uvloop.__version__}, httptools {httptools.__version__}, "
                            "python {sys.version.split()[0]}')"],
                           capture_output=True, text=True)
        return r.stdout.strip() or "?"


class FastAPIAsync(FastAPI):
    name, label = "fastapi-async", "FastAPI async def"
    routes = ASYNC_ROUTES


class FastAPIDef(FastAPI):
    name, label = "fastapi-def", "FastAPI def"
    routes = SYNC_ROUTES

    def environ(self):
        env = super().environ()
        if env is not None:
            env["TFB_POOL"] = "1"  # its async routes are not measured: spare connections
        return env


ALL = [Ringo, RingoSync, RingoSyncBase, RingoAdmit, RingoObserve, RingoSplice,
       RingoLinked, RingoBase, Limit, Nginx, H2o, FastAPIAsync, FastAPIDef, Pgbench,
       Ringo2, Ringo2Pinned, RingoBoth, Nginx2, H2o2]
# The servers that also run as a TLS instance (tls=True) in the TLS cases.
TLS_SERVERS = [Ringo, RingoBase, Nginx, H2o]
BY_NAME = {c.name: c for c in ALL}
ALIASES = {"fastapi": ["fastapi-async", "fastapi-def"]}


def select(names):
    out = []
    for n in names:
        for m in ALIASES.get(n, [n]):
            if m not in BY_NAME:
                sys.exit(f"bench: unknown server {m!r} (known: {', '.join(BY_NAME)}, fastapi)")
            if BY_NAME[m] not in out:
                out.append(BY_NAME[m])
    return [c for c in ALL if c in out]  # fixed order: the table reads the same every run
