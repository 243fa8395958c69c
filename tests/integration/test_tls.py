#!/usr/bin/env python3
"""
Description: HTTPS on the demo's listener (--tls-cert/--tls-key, core/tls.c):
curl --http1.1 against sync and async routes, POST bodies, streamed and SSE
responses, file bodies (encrypted in user space) and their hashes; TLS 1.2
and 1.3, ALPN and SNI selection with openssl s_client; session resumption
by ticket; garbage, truncated and silent handshakes (the timeout closes
them, others are still served, nothing leaks); the bound on handshakes in
progress (a second handshake waits for the first's slot); a certificate
reload on SIGHUP under load without a failed request, open connections
keeping theirs. HTTP/2 by ALPN: curl --http2 (version 2) against sync and
async routes and POST bodies, --http1.1 still HTTP/1.1, s_client's ALPN
choice (h2 preferred), SNI with h2, the preface on an http/1.1 connection
answered 505, --no-h2 and --no-h2c. The TLS counters of /stats and
/metrics. close_notify goes out before every close of an established
connection, also an immediate one (after the client's close_notify, at the
keep-alive timeout). A PROXY protocol header before the handshake names the
client. Throw-away certificates are made with `openssl req` in a
temporary directory. Every server stops with the zero-leak line.
"""
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
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ringo_harness import (TIMEOUT, BytesReader, Failure, Reader, Server, Skip, case,  # noqa: E402
                           check, check_eq, main)
from ringo_harness import make_cert as harness_make_cert  # noqa: E402

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
TMP = tempfile.mkdtemp(prefix="ringo-tls-test-")


def need(tool, name):
    if not tool:
        raise Failure(f"{name} is not installed (scripts/deps.sh installs it)")


def make_cert(name, cn, sans):
    """A self-signed P-256 certificate and key in TMP: (cert path, key path)."""
    return harness_make_cert(TMP, name, cn, sans)


A_CRT, A_KEY = make_cert("a", "a.test", ["a.test", "localhost"])
B_CRT, B_KEY = make_cert("b", "b.test", ["b.test", "*.b.test"])
TLS_ARGS = ["--tls-cert", A_CRT, "--tls-key", A_KEY, "--tls-cert", B_CRT, "--tls-key", B_KEY]


def client_ctx(versions=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    if versions:
        ctx.minimum_version = ctx.maximum_version = versions
    return ctx


def tls_conn(srv, name=None, ctx=None, session=None):
    raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
    return (ctx or client_ctx()).wrap_socket(raw, server_hostname=name, session=session)


class SockReader(Reader):
    def __init__(self, sock):
        super().__init__()
        self.sock = sock

    def fill(self, deadline):
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)


def https_get(sock, path, keep=True):
    conn = "keep-alive" if keep else "close"
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: {conn}\r\n\r\n".encode())
    return SockReader(sock).read_final()[1]


def alive_tls(srv):
    with tls_conn(srv) as s:
        r = https_get(s, "/plaintext", keep=False)
        check_eq(r.status, 200, "a fresh HTTPS request still answers")


def curl_https(srv, path, *args, name="localhost"):
    need(CURL, "curl")
    url = f"https://{name}:{srv.port}{path}"
    cmd = [CURL, "-sS", "-i", "-k", "--raw", "--http1.1", "--noproxy", "*", "--max-time",
           str(int(TIMEOUT)), "--resolve", f"{name}:{srv.port}:{srv.connect_host}", *args, url]
    p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT + 10)
    check(p.returncode == 0, f"curl failed (rc {p.returncode}): {p.stderr.decode(errors='replace')}")
    return BytesReader(p.stdout).read_final(head="-I" in args)[1]


CLOSE_REQ = b"GET /plaintext HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


def s_client(srv, *args, data=CLOSE_REQ):
    need(OPENSSL, "openssl")
    cmd = [OPENSSL, "s_client", "-connect", f"{srv.connect_host}:{srv.port}", "-ign_eof", *args]
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=TIMEOUT + 10)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def tls_server(*extra, threads=1):
    return Server([*TLS_ARGS, *extra], threads=threads)


def closed_by_server(s, deadline):
    """Reads until EOF or reset; False if the server keeps it open past deadline."""
    s.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            if not s.recv(4096):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


@case(server=False)
def routes_over_curl():
    body = os.urandom(300_000)
    src = os.path.join(TMP, "body.bin")
    with open(src, "wb") as f:
        f.write(body)
    files = tempfile.mkdtemp(prefix="ringo-tls-files-", dir=TMP)
    big = os.urandom(3 << 20)
    with open(os.path.join(files, "big.bin"), "wb") as f:
        f.write(big)
    with tls_server("--files-dir", files, threads=2) as srv:
        r = curl_https(srv, "/plaintext")
        check_eq((r.status, r.body), (200, b"Hello, World!"), "async GET")
        r = curl_https(srv, "/sync/plaintext")
        check_eq(r.status, 200, "sync GET")
        r = curl_https(srv, "/echo", "--data-binary", f"@{src}", "-H",
                       "Content-Type: application/octet-stream")
        check_eq(r.status, 200, "POST status")
        check(r.body == body, f"POST body echoed ({len(r.body)} of {len(body)} bytes, intact)")
        r = curl_https(srv, "/upload", "--data-binary", f"@{src}")
        check_eq(r.status, 200, "streamed upload")
        check(hashlib.sha256(body).hexdigest().encode() in r.body, "upload hash")
        r = curl_https(srv, "/sync/upload", "--data-binary", f"@{src}")
        check(hashlib.sha256(body).hexdigest().encode() in r.body, "sync upload hash")
        r = curl_https(srv, "/stream?bytes=5000000")
        check_eq((r.status, len(r.body)), (200, 5000000), "chunked stream length")
        r = curl_https(srv, "/sync/stream?bytes=1000000&declare=1000000")
        check_eq((r.status, len(r.body)), (200, 1000000), "sync stream with Content-Length")
        r = curl_https(srv, "/events?n=5&interval_ms=10")
        check_eq(r.status, 200, "SSE status")
        check_eq(r.body.count(b"\n\n"), 5, "SSE events")
        r = curl_https(srv, "/files/big.bin")
        check_eq(r.status, 200, "file status")
        check(r.body == big, f"file body over TLS ({len(r.body)} of {len(big)} bytes, intact)")
        alive_tls(srv)


@case(server=False)
def keepalive_and_pipelining():
    with tls_server() as srv:
        with tls_conn(srv) as s:
            for _ in range(20):
                check_eq(https_get(s, "/json").status, 200, "keep-alive request")
            s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
            got = b""
            while got.count(b"Hello, World!") < 10:
                chunk = s.recv(65536)
                check(chunk, "connection closed in the middle of pipelined answers")
                got += chunk
            check_eq(got.count(b"HTTP/1.1 200"), 10, "pipelined answers")


def ws_frame(opcode, payload):
    """A masked client frame."""
    n, key = len(payload), os.urandom(4)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")
              ).to_bytes(n, "big")
    return head + key + masked


def ws_read(reader):
    """(opcode, payload) of the next server frame."""
    deadline = time.monotonic() + TIMEOUT
    b0, b1 = reader._read_exact(2, deadline)
    n = b1 & 0x7f
    if n == 126:
        n = int.from_bytes(reader._read_exact(2, deadline), "big")
    elif n == 127:
        n = int.from_bytes(reader._read_exact(8, deadline), "big")
    return b0 & 0x0f, reader._read_exact(n, deadline)


@case(server=False)
def close_notify_before_every_close():
    """The server sends close_notify before it closes, also when it closes at
    once: after the client's own close_notify, and at the keep-alive timeout
    (a client that refuses a ragged EOF reads a clean end)."""
    with tls_server("--keepalive-timeout", "300") as srv:
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            with tls_conn(srv, ctx=client_ctx(version)) as s:
                check_eq(https_get(s, "/plaintext").status, 200, f"{version.name}: request")
                try:
                    s.unwrap()  # ours out, the server's in
                except (ssl.SSLError, OSError) as e:
                    raise Failure(f"{version.name}: no close_notify answered ours: {e!r}")
            raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
            s = client_ctx(version).wrap_socket(raw, suppress_ragged_eofs=False)
            with s:
                check_eq(https_get(s, "/plaintext").status, 200, f"{version.name}: request")
                try:
                    check_eq(s.recv(100), b"", f"{version.name}: after the keep-alive timeout")
                except ssl.SSLEOFError as e:
                    raise Failure(f"{version.name}: closed at the keep-alive timeout without "
                                  f"close_notify: {e}")


@case(server=False)
def proxy_header_before_the_handshake():
    """A PROXY protocol header precedes the TLS handshake on a PROXY listener:
    sent apart, or in one send with the ClientHello, /whoami names its client.
    Without a header the connection closes (nothing in plaintext on TLS)."""
    with tls_server("--proxy-protocol", "--trusted-proxies", "127.0.0.0/8,::1") as srv:
        hdr = b"PROXY TCP4 192.0.2.10 10.0.0.1 51000 443\r\n"
        raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        raw.sendall(hdr)
        with client_ctx().wrap_socket(raw) as s:
            r = https_get(s, "/whoami")
            check_eq((r.status, r.json()["peer"]), (200, "192.0.2.10:51000"), "header, then TLS")
        raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = client_ctx().wrap_bio(inc, out)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        raw.sendall(hdr.replace(b"51000", b"51001") + out.read())  # one send
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if out.pending:
                    raw.sendall(out.read())
                chunk = raw.recv(65536)
                check(chunk, "closed during the handshake after a PROXY header")
                inc.write(chunk)
        obj.write(b"GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.sendall(out.read())  # the Finished and the request
        body = b""
        while b"}" not in body:
            try:
                body += obj.read(65536)
            except ssl.SSLWantReadError:
                chunk = raw.recv(65536)
                check(chunk, "closed before the answer")
                inc.write(chunk)
        check(b'"192.0.2.10:51001"' in body, f"header and ClientHello in one send: {body!r}")
        raw.close()
        raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        try:
            with client_ctx().wrap_socket(raw) as s:
                https_get(s, "/whoami")
            raise Failure("a TLS client without a PROXY header was served")
        except (ssl.SSLError, OSError, Failure) as e:
            if isinstance(e, Failure) and "was served" in str(e):
                raise
        alive = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        alive.sendall(hdr)
        with client_ctx().wrap_socket(alive) as s:
            check_eq(https_get(s, "/plaintext").status, 200, "served on after the refusal")


@case(server=False)
def websocket_over_tls():
    with tls_server() as srv:
        with tls_conn(srv) as s:
            s.sendall(b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            reader = SockReader(s)
            check_eq(reader.read_response(head=True).status, 101, "WebSocket handshake over TLS")
            for payload in (b"hello", os.urandom(300_000)):
                op = 1 if payload == b"hello" else 2
                s.sendall(ws_frame(op, payload))
                got_op, got = ws_read(reader)
                check(got_op == op and got == payload,
                      f"echo of a {len(payload)}-byte message ({len(got)} bytes back)")
            s.sendall(ws_frame(8, (1000).to_bytes(2, "big")))
            got_op, got = ws_read(reader)
            check_eq((got_op, got[:2]), (8, (1000).to_bytes(2, "big")), "close handshake")


@case(server=False)
def versions_alpn_sni():
    with tls_server() as srv:
        for flag, want in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            rc, out, err = s_client(srv, flag, "-alpn", "http/1.1", "-servername", "a.test",
                                    data=b"GET /plaintext HTTP/1.1\r\nHost: a\r\n"
                                         b"Connection: close\r\n\r\n")
            check(f"New, {want}, Cipher is" in out,
                  f"{flag}: negotiated {want}: {out[-600:]} {err[-300:]}")
            check("ALPN protocol: http/1.1" in out, f"{flag}: ALPN http/1.1")
            check("Hello, World!" in out, f"{flag}: the answer came over {want}")
        rc, out, err = s_client(srv, "-tls1_1")
        check("Cipher is (NONE)" in out and "alert protocol version" in err,
              f"TLS 1.1 is refused: {err[-300:]}")
        # ALPN: only a protocol the server does not speak: RFC 7301's alert.
        rc, out, err = s_client(srv, "-alpn", "spdy/3")
        check(rc != 0 and "no application protocol" in (out + err),
              f"ALPN spdy/3 only: refused with no_application_protocol ({err[-300:]})")
        # SNI: the matching certificate, wildcards included; unknown names get the default.
        for name, cn in (("b.test", "b.test"), ("x.b.test", "b.test"), ("a.test", "a.test"),
                         ("other.test", "a.test")):
            rc, out, err = s_client(srv, "-servername", name)
            check(f"subject=CN = {cn}" in out, f"SNI {name}: certificate of {cn}")
        with tls_conn(srv) as s:  # no SNI at all: the default
            check_eq(s.selected_alpn_protocol(), "http/1.1", "ALPN through Python's ssl")
            check_eq(https_get(s, "/plaintext").status, 200, "request without SNI")


@case(server=False)
def ktls_used_or_cleanly_left():
    """The kernel's tls module takes the sending over where it exists (test_ktls.py runs
    this file in such a kernel with RINGO_EXPECT_KTLS=1); without it every connection
    stays with OpenSSL and nothing is lost."""
    expect = os.environ.get("RINGO_EXPECT_KTLS") == "1"
    with tls_server() as srv:
        for _ in range(3):
            with tls_conn(srv) as s:
                r = https_get(s, "/plaintext", keep=False)
                check_eq((r.status, r.body), (200, b"Hello, World!"), "GET over TLS")
        with tls_conn(srv) as s:
            n = json.loads(https_get(s, "/stats").body)["tls_ktls"]
        if expect:
            check_eq(n, 4, "connections whose sending the kernel took over")
        else:
            check_eq(n, 0, "tls_ktls on a kernel without the tls module")


@case(server=False)
def session_resumption():
    with tls_server() as srv:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_ctx(version)
            with tls_conn(srv, ctx=ctx) as s:
                check_eq(https_get(s, "/plaintext").status, 200, "first connection")
                session = s.session  # a TLS 1.3 ticket arrived with the answer
            with tls_conn(srv, ctx=ctx, session=session) as s:
                check_eq(https_get(s, "/plaintext").status, 200, "resumed connection")
                check(s.session_reused, f"{version.name}: the session was resumed by ticket")
                renewed = s.session
            if version == ssl.TLSVersion.TLSv1_3:
                # A TLS 1.3 ticket is for one use (clients such as wrk drop it after a
                # resumption): a resumed connection must bring a fresh one.
                check(renewed != session, "a resumed TLS 1.3 connection got a new ticket")
                with tls_conn(srv, ctx=ctx, session=renewed) as s:
                    check_eq(https_get(s, "/plaintext").status, 200, "second resumption")
                    check(s.session_reused, "resumed again with the renewed ticket")


@case(server=False)
def bad_handshakes():
    with tls_server("--tls-handshake-timeout", "1000", "--linger", "500") as srv:
        deadline = time.monotonic() + 3 * TIMEOUT
        garbage = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(2000))
        check(closed_by_server(garbage, deadline), "a cleartext request on TLS is closed")
        garbage.close()
        # A truncated ClientHello: its first bytes, then the client goes.
        hello = client_hello(srv)
        trunc = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        trunc.sendall(hello[:len(hello) // 2])
        trunc.close()
        # A ClientHello cut short by a silent client, and a client that sends nothing:
        # both are dropped by the handshake timeout.
        slow = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        slow.sendall(hello[:10])
        idle = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        alive_tls(srv)  # others are served meanwhile
        check(closed_by_server(slow, deadline), "a stalled handshake is closed by the timeout")
        check(closed_by_server(idle, deadline), "a silent client is closed by the timeout")
        slow.close()
        idle.close()
        alive_tls(srv)


def client_hello(srv):
    """The bytes of a real ClientHello (Python's ssl through memory BIOs)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname="a.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


@case(server=False)
def handshake_bound():
    # One handshake at a time: a stalled one holds the slot, a second waits
    # in the queue and completes once the first timed out.
    with tls_server("--tls-max-handshakes", "1", "--tls-handshake-timeout", "3000") as srv:
        hello = client_hello(srv)
        holder = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        holder.sendall(hello[:20])
        time.sleep(0.2)  # not a timing assertion: only lets the holder take the slot first
        with tls_conn(srv) as s:
            check_eq(https_get(s, "/plaintext").status, 200, "the waiting handshake completed")
        check(closed_by_server(holder, time.monotonic() + 3 * TIMEOUT), "the holder timed out")
        holder.close()
        # With the slot free, handshakes go on one after another.
        for _ in range(5):
            alive_tls(srv)


@case(server=False)
def failed_handshake_frees_its_slot():
    # One slot, lingering closes of a minute: a handshake that failed must give its slot
    # back at once, not when its lingering close ends (the client below would wait 60 s).
    with tls_server("--tls-max-handshakes", "1", "--linger", "60000",
                    "--tls-handshake-timeout", "60000") as srv:
        bad = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        bad.sendall(b"\x16\x03\x01\x00\x05garbage-not-a-client-hello")
        bad.settimeout(TIMEOUT)
        check(len(bad.recv(100)) > 0, "the failed handshake got its alert")  # lingering now
        with tls_conn(srv) as s:
            check_eq(https_get(s, "/plaintext").status, 200, "the next handshake had a slot")
        bad.close()


@case(server=False)
def reload_under_load():
    crt, key = os.path.join(TMP, "r.crt"), os.path.join(TMP, "r.key")
    shutil.copy(A_CRT, crt)
    shutil.copy(A_KEY, key)
    with Server(["--tls-cert", crt, "--tls-key", key], threads=2) as srv:
        old = tls_conn(srv)
        check_eq(https_get(old, "/plaintext").status, 200, "connection before the reload")
        stop, errors, done = threading.Event(), [], [0]

        def load():
            while not stop.is_set():
                try:
                    with tls_conn(srv) as s:
                        for _ in range(3):
                            check_eq(https_get(s, "/plaintext").status, 200, "under load")
                    done[0] += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    errors.append(repr(e))
        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        try:
            for i in range(3):
                src = B_CRT if i % 2 == 0 else A_CRT
                shutil.copy(src, crt + ".new")
                shutil.copy(B_KEY if i % 2 == 0 else A_KEY, key + ".new")
                os.replace(key + ".new", key)
                os.replace(crt + ".new", crt)
                srv.send_signal(signal.SIGHUP)
                want = "b.test" if i % 2 == 0 else "a.test"
                deadline = time.monotonic() + TIMEOUT
                while True:
                    rc, out, err = s_client(srv)
                    if f"subject=CN = {want}" in out:
                        break
                    check(time.monotonic() < deadline, f"reload {i}: new connections get {want}")
                    time.sleep(0.1)
        finally:
            stop.set()
            for w in workers:
                w.join(timeout=3 * TIMEOUT)
        check(not errors, f"requests failed during the reloads: {errors[:3]}")
        check(done[0] > 0, "the load ran")
        check_eq(https_get(old, "/plaintext").status, 200, "the old connection still serves")
        old.close()
        # A broken reload keeps the certificates in use.
        with open(crt, "w") as f:
            f.write("not a certificate\n")
        srv.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT
        while "tls certificates" not in srv.stderr_text():
            check(time.monotonic() < deadline, "the failed reload is logged")
            time.sleep(0.1)
        alive_tls(srv)


@case(server=False)
def bad_certificates_fail_start():
    binary = os.environ["RINGO_BIN"]
    for cert, key, what in ((os.path.join(TMP, "nope.crt"), A_KEY, "nope.crt"),
                            (A_CRT, B_KEY, "key values mismatch")):
        p = subprocess.run([binary, "--port", "0", "--threads", "1", "--tls-cert", cert,
                            "--tls-key", key], capture_output=True, timeout=3 * TIMEOUT)
        err = p.stderr.decode(errors="replace")
        check(p.returncode != 0 and what in err, f"refused at start, naming {what!r}: {err}")


# ---- HTTP/2 over TLS (ALPN h2) ----

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def need_h2():
    """Skips on a build without libnghttp2: its cleartext listener answers the preface 505."""
    with Server([]) as srv:
        with socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT) as s:
            s.sendall(PREFACE)
            first = s.recv(16)
    if first.startswith(b"HTTP/1.1 505"):
        raise Skip("ringo was built without libnghttp2 (libnghttp2-dev): no HTTP/2")


def curl_proto(srv, path, proto, *args, name="localhost"):
    """curl over HTTPS with proto (--http2, --http1.1): (HTTP version, status, body)."""
    need(CURL, "curl")
    cmd = [CURL, "-sS", "-k", "--noproxy", "*", proto, "--max-time", str(int(TIMEOUT)),
           "--resolve", f"{name}:{srv.port}:{srv.connect_host}",
           "-w", "\n%{http_version} %{http_code}", *args, f"https://{name}:{srv.port}{path}"]
    p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT + 10)
    check(p.returncode == 0, f"curl {proto} {path} failed (rc {p.returncode}): "
                             f"{p.stderr.decode(errors='replace')}")
    body, _, tail = p.stdout.rpartition(b"\n")
    version, code = tail.decode().split()
    return version, int(code), body


def alpn_of(out):
    """The protocol s_client says ALPN chose, or None."""
    for line in out.splitlines():
        if line.startswith("ALPN protocol: "):
            return line[len("ALPN protocol: "):].strip()
    return None


@case(server=False)
def h2_over_curl():
    need_h2()
    body = os.urandom(300_000)
    src = os.path.join(TMP, "h2body.bin")
    with open(src, "wb") as f:
        f.write(body)
    with tls_server(threads=2) as srv:
        check_eq(curl_proto(srv, "/plaintext", "--http2"), ("2", 200, b"Hello, World!"),
                 "async GET over h2")
        check_eq(curl_proto(srv, "/sync/json", "--http2"),
                 ("2", 200, b'{"message":"Hello, World!"}'), "sync GET over h2")
        v, code, got = curl_proto(srv, "/echo", "--http2", "--data-binary", f"@{src}", "-H",
                                  "Content-Type: application/octet-stream")
        check_eq((v, code), ("2", 200), "POST over h2")
        check(got == body, f"POST body echoed over h2 ({len(got)} of {len(body)} bytes, intact)")
        v, code, got = curl_proto(srv, "/sync/upload", "--http2", "--data-binary", f"@{src}")
        check_eq((v, code), ("2", 200), "sync upload over h2")
        check(hashlib.sha256(body).hexdigest().encode() in got, "sync upload hash over h2")
        check_eq(curl_proto(srv, "/plaintext", "--http1.1"), ("1.1", 200, b"Hello, World!"),
                 "--http1.1 still gets HTTP/1.1")
        check_eq(curl_proto(srv, "/nope", "--http2")[:2], ("2", 404), "404 over h2")
        alive_tls(srv)


@case(server=False)
def alpn_selects_h2_or_http11():
    need_h2()
    with tls_server() as srv:
        for alpn, want in (("h2", "h2"), ("http/1.1", "http/1.1"), ("h2,http/1.1", "h2"),
                           ("http/1.1,h2", "h2")):  # the last: the server's preference
            rc, out, err = s_client(srv, "-alpn", alpn)
            check_eq(alpn_of(out), want, f"ALPN chosen for -alpn {alpn}")
        rc, out, err = s_client(srv)
        check("No ALPN negotiated" in out and "Hello, World!" in out,
              f"no ALPN: HTTP/1.1 without a protocol named: {out[-400:]}")
        # SNI picks the certificate on an h2 connection as on any other.
        for name, cn in (("b.test", "b.test"), ("x.b.test", "b.test"), ("a.test", "a.test")):
            rc, out, err = s_client(srv, "-alpn", "h2", "-servername", name)
            check(f"subject=CN = {cn}" in out and alpn_of(out) == "h2",
                  f"SNI {name} with ALPN h2: certificate of {cn}, h2 ({alpn_of(out)})")
        check_eq(curl_proto(srv, "/plaintext", "--http2", name="b.test")[:2], ("2", 200),
                 "curl --http2 with SNI b.test")


@case(server=False)
def preface_without_alpn_h2_is_http1():
    # RFC 9113 §3.2: over TLS, HTTP/2 is chosen by ALPN; the preface on a connection that
    # chose http/1.1 (or nothing) is a request line HTTP/2.0, answered 505 as on --no-h2c.
    need_h2()
    with tls_server() as srv:
        for alpn in (["http/1.1"], None):
            ctx = client_ctx()
            if alpn is None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            with tls_conn(srv, ctx=ctx) as s:
                check_eq(s.selected_alpn_protocol(), alpn and alpn[0], "ALPN result")
                s.sendall(PREFACE)
                r = SockReader(s).read_final()[1]
                check_eq(r.status, 505, f"the preface with ALPN {alpn}")
        alive_tls(srv)


@case(server=False)
def no_h2_turns_off_alpn_h2_and_no_h2c_does_not():
    need_h2()
    with tls_server("--no-h2") as srv:
        rc, out, err = s_client(srv, "-alpn", "h2,http/1.1")
        check_eq(alpn_of(out), "http/1.1", "--no-h2: ALPN h2,http/1.1 chooses http/1.1")
        rc, out, err = s_client(srv, "-alpn", "h2")
        check(rc != 0 and "no application protocol" in (out + err),
              f"--no-h2: ALPN h2 only is refused ({err[-300:]})")
        check_eq(curl_proto(srv, "/plaintext", "--http2")[:2], ("1.1", 200),
                 "--no-h2: curl --http2 falls back to HTTP/1.1")
    with tls_server("--no-h2c") as srv:
        rc, out, err = s_client(srv, "-alpn", "h2,http/1.1")
        check_eq(alpn_of(out), "h2", "--no-h2c leaves ALPN h2 on")
        check_eq(curl_proto(srv, "/plaintext", "--http2")[:2], ("2", 200),
                 "--no-h2c: curl --http2 over TLS")


class StatsOverTls:
    """GET /stats on one keep-alive HTTPS connection (its handshake is counted once)."""

    def __init__(self, srv):
        self.sock = tls_conn(srv)

    def get(self):
        r = https_get(self.sock, "/stats")
        check_eq(r.status, 200, "GET /stats")
        return r.json()

    def wait_for(self, pred, what):
        deadline = time.monotonic() + TIMEOUT
        while True:
            st = self.get()
            if pred(st):
                return st
            check(time.monotonic() < deadline, f"{what}: last /stats {st!r}")
            time.sleep(0.05)

    def metrics(self):
        r = https_get(self.sock, "/metrics")
        check_eq(r.status, 200, "GET /metrics")
        got = {}
        for line in r.body.decode().splitlines():
            if line.startswith("ringo_tls_"):
                name, value = line.split()
                got[name] = int(value)
        return got


TLS_KEYS = ("tls_handshakes", "tls_handshake_failures", "tls_handshake_timeouts", "tls_resumed",
            "tls_alpn_h2")


@case(server=False)
def tls_counters():
    # 3 s: long enough for every handshake below on a loaded machine, short for the silent one.
    with tls_server("--tls-handshake-timeout", "3000") as srv:
        stats = StatsOverTls(srv)
        base = stats.get()
        for k in TLS_KEYS:
            check(isinstance(base.get(k), int), f"/stats has {k}")
        check(base["tls_handshakes"] >= 1, "the poller's own handshake is counted")

        def delta(st):
            return {k: st[k] - base[k] for k in TLS_KEYS}

        want = dict.fromkeys(TLS_KEYS, 0)
        # A full handshake, then a TLS 1.3 resumption by its ticket.
        ctx = client_ctx(ssl.TLSVersion.TLSv1_3)
        with tls_conn(srv, ctx=ctx) as s:
            check_eq(https_get(s, "/plaintext").status, 200, "first connection")
            session = s.session
        with tls_conn(srv, ctx=ctx, session=session) as s:
            check_eq(https_get(s, "/plaintext").status, 200, "resumed connection")
            check(s.session_reused, "resumed by ticket")
        want["tls_handshakes"] += 2
        want["tls_resumed"] += 1
        stats.wait_for(lambda st: delta(st) == want, f"counters {want}")
        # Refused handshakes: a cleartext request; an ALPN list without a protocol of ours.
        with socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT) as g:
            g.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            check(closed_by_server(g, time.monotonic() + TIMEOUT), "garbage is closed")
        rc, out, err = s_client(srv, "-alpn", "spdy/3")
        check(rc != 0, "an unknown ALPN protocol only is refused")
        want["tls_handshake_failures"] += 2
        stats.wait_for(lambda st: delta(st) == want, f"counters {want}")
        # A silent client: the handshake timeout.
        with socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT) as idle:
            check(closed_by_server(idle, time.monotonic() + 3 * TIMEOUT),
                  "a silent client is closed by the handshake timeout")
        want["tls_handshake_timeouts"] += 1
        stats.wait_for(lambda st: delta(st) == want, f"counters {want}")
        if h2_available(srv):
            rc, out, err = s_client(srv, "-alpn", "h2")
            check_eq(alpn_of(out), "h2", "ALPN h2")
            want["tls_handshakes"] += 2  # h2_available's handshake and this one
            want["tls_alpn_h2"] += 2
            st = stats.wait_for(lambda st: delta(st) == want, f"counters {want}")
        else:
            print("SKIP the ALPN h2 counter: ringo was built without libnghttp2", flush=True)
            st = stats.get()
        m = stats.metrics()
        for k in TLS_KEYS:
            name = f"ringo_{k}_total"
            check_eq(m.get(name), st[k], f"/metrics {name} against /stats")
        stats.sock.close()


def h2_available(srv):
    """Whether ALPN offers h2 (a build with libnghttp2): one handshake, counted."""
    ctx = client_ctx()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with tls_conn(srv, ctx=ctx) as s:
        return s.selected_alpn_protocol() == "h2"


def built_without_tls():
    """The demo says so when the library was built without OpenSSL (RINGO_WITH_TLS)."""
    binary = os.environ.get("RINGO_BIN")
    if not binary:
        return False
    # A missing key: a TLS build stops on it, one without TLS before reading it.
    p = subprocess.run([binary, "--port", "0", "--tls-cert", A_CRT, "--tls-key",
                        os.path.join(TMP, "missing.key")], capture_output=True,
                       timeout=3 * TIMEOUT)
    return b"built without TLS" in p.stderr


if __name__ == "__main__":
    if built_without_tls():
        print("SKIP all: this ringo was built without TLS (no OpenSSL 3 at configure time)")
        shutil.rmtree(TMP, ignore_errors=True)
        sys.exit(77)
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
