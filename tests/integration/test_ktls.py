#!/usr/bin/env python3
"""
Description: kernel TLS (kTLS). OpenSSL hands the transmit keys to ringo's
BIO, the ring puts them in the socket (setsockopt SOL_TLS TLS_TX) once the
handshake's ciphertext is out, and from then on the kernel encrypts what the
ring sends, file bodies spliced straight from the page cache included. The
receive keys go to the socket (TLS_RX) once OpenSSL has read up to a record
boundary and the ring's recv has ended; then a multishot recvmsg brings
plaintext, with each record's type as a control message.

The cases need a kernel with the "tls" module. Where the running kernel has
none (CONFIG_TLS unset, as on the machines CI runs on), this file boots
Debian's user-mode-linux kernel (package user-mode-linux: Linux 6.1 as a
process, with tls.ko, the AEAD modules and io_uring), with the host's root
as its root (hostfs), loads the modules there and runs itself inside it.
With neither, it is skipped and says why; so it is in sanitizer builds,
whose shadow memory does not fit user-mode-linux's address space.

In a kernel with tls:
- transmit_moves_to_the_kernel: TLS 1.3 and 1.2, HTTP/1.1 (with Connection:
  close, whose answer ends without close_notify) and h2 (curl): every answer
  intact; /stats tls_ktls counts each connection and the kernel's TlsTxSw
  (/proc/net/tls_stat) rises with it.
- tickets_go_through_the_kernel: TLS 1.3 session tickets are written after
  the keys were handed over, as handshake records with their record type:
  a second connection resumes with one.
- close_notify_ends_a_closed_connection: after a Connection: close answer the
  alert arrives through the kernel (a client refusing a ragged EOF reads a
  clean end), TLS 1.3 and 1.2.
- files_are_spliced_and_encrypted_by_the_kernel: an 8 MiB file from
  --files-dir and a static file arrive intact (sha256).
- no_ktls_keeps_openssl: with --no-ktls the kernel encrypts nothing.
- receive_moves_to_the_kernel: kTLS receive for the three TLS 1.3 suites and
  the three TLS 1.2 ones: a connection's later requests and a 300 kB POST
  body are decrypted by the kernel (/stats tls_ktls_rx, TlsRxSw), intact.
- client_close_notify_under_ktls_receive: the client's close_notify (an
  alert record, a control message) ends the input; the connection closes.
- forged_record_closes_only_its_connection: a record the kernel cannot
  authenticate closes that connection alone.
- key_update_under_ktls_receive_closes: a TLS 1.3 KeyUpdate (a handshake
  record) closes that connection: the kernel's keys cannot follow it.
- missing_cipher_stays_in_user_space: with an AEAD module unloaded, --check
  names the cipher and its clients are served by OpenSSL from the first
  connection on (the server probed the kernel at start).
- tls_suite_under_ktls: the whole of test_tls.py, run in the same kernel,
  passes with the kernel doing the record layer (its own kTLS case then
  expects tls_ktls to count).
"""
import glob
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (TIMEOUT, BytesReader, Failure, Server, Skip, case, check,  # noqa: E402
                           check_eq, make_cert)

HERE = os.path.dirname(os.path.abspath(__file__))
UML = shutil.which("linux.uml") or "/usr/bin/linux.uml"
UML_MODULES = sorted(glob.glob("/usr/lib/uml/modules/*"))
MODULES = ("tls", "gcm", "ghash-generic", "ctr", "seqiv", "chacha_generic", "poly1305_generic",
           "chacha20poly1305")
INSIDE = os.environ.get("RINGO_IN_UML") == "1"
CURL = shutil.which("curl")


def kernel_has_tls():
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            return "tls" in f.read().split()
    except OSError:
        return False


def tls_stat(key):
    """A counter of the kernel's /proc/net/tls_stat."""
    with open("/proc/net/tls_stat") as f:
        for line in f:
            name, _, value = line.partition("\t")
            if name.strip() == key:
                return int(value)
    raise Failure(f"no {key} in /proc/net/tls_stat")


def tx_sw():
    """The kernel's count of kTLS transmit contexts set up so far."""
    return tls_stat("TlsTxSw")


TMP = tempfile.mkdtemp(prefix="ringo-ktls-test-")
CRT, KEY = make_cert(TMP, "k", "localhost", ["localhost"]) if INSIDE or kernel_has_tls() \
    else (None, None)


def tls_server(*extra):
    return Server(["--tls-cert", CRT, "--tls-key", KEY, *extra])


def stats(srv):
    return curl(srv, "/stats").json()


def curl(srv, path, *args):
    if not CURL:
        raise Failure("curl is not installed (scripts/deps.sh installs it)")
    cmd = [CURL, "-sS", "-i", "-k", "--raw", "--noproxy", "*", "--max-time", str(int(TIMEOUT)),
           "--resolve", f"localhost:{srv.port}:{srv.connect_host}", "--http1.1", *args,
           f"https://localhost:{srv.port}{path}"]
    p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT + 10)
    check(p.returncode == 0, f"curl {path} failed (rc {p.returncode}): {p.stderr.decode()}")
    return BytesReader(p.stdout).read_final()[1]


def need_ktls_kernel():
    if not kernel_has_tls():
        raise Skip("this kernel has no tls module")


@case(server=False)
def transmit_moves_to_the_kernel():
    need_ktls_kernel()
    with tls_server() as srv:
        before, seen = tx_sw(), stats(srv)["tls_ktls"]
        tries = [("--tlsv1.3",), ("--tlsv1.2", "--tls-max", "1.2"),
                 ("--tlsv1.3", "-H", "Connection: close")]
        for args in tries:
            r = curl(srv, "/plaintext", *args)
            check_eq((r.status, r.body), (200, b"Hello, World!"), f"GET over {args}")
        p = subprocess.run([CURL, "-sSk", "--http2", "--resolve",
                            f"localhost:{srv.port}:{srv.connect_host}", "-o", "/dev/null",
                            "-w", "%{http_version} %{http_code}",
                            f"https://localhost:{srv.port}/plaintext"],
                           capture_output=True, text=True, timeout=TIMEOUT + 10)
        check_eq(p.stdout, "2 200", "h2 over kTLS")
        body = os.urandom(200_000)
        src = os.path.join(TMP, "body.bin")
        with open(src, "wb") as f:
            f.write(body)
        r = curl(srv, "/echo", "--data-binary", f"@{src}", "-H",
                 "Content-Type: application/octet-stream")
        check(r.status == 200 and r.body == body, "a 200 kB POST echoed intact")
        # The /stats requests count too: every connection so far, this one's own included.
        conns = len(tries) + 3
        check_eq(stats(srv)["tls_ktls"] - seen, conns, "connections whose sending moved")
        check(tx_sw() - before >= conns, f"TlsTxSw rose by {tx_sw() - before}, want {conns}")


@case(server=False)
def tickets_go_through_the_kernel():
    need_ktls_kernel()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    req = b"GET /plaintext HTTP/1.1\r\nHost: k\r\n\r\n"
    with tls_server() as srv:
        session = None
        for n in range(2):
            raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
                s.sendall(req)
                data = b""
                while b"Hello, World!" not in data:
                    chunk = s.recv(65536)
                    check(chunk, "the answer before EOF")
                    data += chunk
                if n:
                    check(s.session_reused, "resumed with a ticket sent through the kernel")
                session = s.session
        check(stats(srv)["tls_resumed"] >= 1, "the server counted the resumption")


def direct_sent(srv):
    """ringo_bytes_sent_direct_total: file body bytes sent by sendfile or splice."""
    for line in curl(srv, "/metrics").body.decode().splitlines():
        if line.startswith("ringo_bytes_sent_direct_total "):
            return int(line.split()[1])
    raise Failure("no ringo_bytes_sent_direct_total in /metrics")


@case(server=False)
def close_notify_ends_a_closed_connection():
    """Connection: close under kTLS: the alert goes through the kernel after the answer,
    so a client that does not accept a ragged EOF reads a clean end."""
    need_ktls_kernel()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tls_server() as srv:
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx.minimum_version = ctx.maximum_version = version
            raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
            with ctx.wrap_socket(raw, server_hostname="localhost",
                                 suppress_ragged_eofs=False) as s:
                s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n")
                data = b""
                try:
                    while chunk := s.recv(65536):
                        data += chunk
                except ssl.SSLEOFError as e:
                    raise Failure(f"{version.name}: EOF without close_notify: {e}")
                check(data.endswith(b"Hello, World!"), f"{version.name}: the whole answer")
        check_eq(stats(srv)["tls_ktls"], 3, "connections under kTLS")


@case(server=False)
def files_are_spliced_and_encrypted_by_the_kernel():
    need_ktls_kernel()
    files = os.path.join(TMP, "files")
    os.makedirs(files, exist_ok=True)
    big = os.urandom(8 << 20)
    with open(os.path.join(files, "big.bin"), "wb") as f:
        f.write(big)
    with open(os.path.join(HERE, "..", "..", "examples", "static", "hello.txt"), "rb") as f:
        hello = f.read()
    # Default: sendfile where the pages are cached (cachestat, Linux 6.5), else splice;
    # --file-no-sendfile: splice always. Either way the body leaves without passing
    # through the ring (the copy path would send it through the ring's buffers).
    for extra in ((), ("--file-no-sendfile",)):
        with tls_server("--files-dir", files, *extra) as srv:
            sent = direct_sent(srv)
            r = curl(srv, "/files/big.bin")
            check_eq(r.status, 200, f"file status {extra}")
            check(hashlib.sha256(r.body).digest() == hashlib.sha256(big).digest(),
                  f"8 MiB file intact over kTLS {extra} ({len(r.body)} bytes)")
            check_eq(direct_sent(srv) - sent, len(big),
                     f"body bytes sent by sendfile or splice {extra}")
            r = curl(srv, "/static/hello.txt")
            check_eq((r.status, r.body), (200, hello), f"static file {extra}")
            n = stats(srv)["tls_ktls"]  # every curl above, and this one
            check_eq(n, 5, f"connections under kTLS {extra}")


@case(server=False)
def no_ktls_keeps_openssl():
    need_ktls_kernel()
    with tls_server("--no-ktls") as srv:
        before = tx_sw()
        r = curl(srv, "/plaintext")
        check_eq((r.status, r.body), (200, b"Hello, World!"), "GET with --no-ktls")
        check_eq(stats(srv)["tls_ktls"], 0, "tls_ktls with --no-ktls")
        check_eq(tx_sw(), before, "TlsTxSw with --no-ktls")


@case(server=False)
def tls_suite_under_ktls():
    need_ktls_kernel()
    env = dict(os.environ, RINGO_EXPECT_KTLS="1")
    p = subprocess.run([sys.executable, os.path.join(HERE, "test_tls.py")], env=env,
                       capture_output=True, text=True, timeout=h.FILE_BUDGET)
    tail = "\n".join(p.stdout.splitlines()[-25:])
    check(p.returncode == 0, f"test_tls.py under kTLS: rc {p.returncode}\n{tail}\n{p.stderr[-3000:]}")
    print("     test_tls.py under kTLS: " + p.stdout.strip().splitlines()[-1])


def client_ctx(version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class SockReader(h.Reader):
    """Responses from recv(), a callable that returns b"" at EOF."""

    def __init__(self, recv):
        super().__init__()
        self.recv = recv

    def fill(self, deadline):
        data = self.recv()
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True


def exchange(sock, rd, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: k\r\n\r\n".encode())
    return rd.read_final()[1]


class Monitor:
    """One keep-alive TLS connection that reads /stats. From its second request
    on it is under kTLS receive itself, so what it reads counts the others."""

    def __init__(self, srv):
        raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        self.s = client_ctx().wrap_socket(raw, server_hostname="localhost")
        self.rd = SockReader(lambda: self.s.recv(65536))
        self.get("/plaintext")

    def get(self, path):
        return exchange(self.s, self.rd, path)

    def stats(self):
        import json
        return json.loads(self.get("/stats").body)

    def close(self):
        self.s.close()


@case(server=False)
def receive_moves_to_the_kernel():
    """Every cipher, TLS 1.3 (whose receive keys ringo derives itself: OpenSSL 3.0
    offers a BIO only the transmit keys) and 1.2 (offered by OpenSSL): the second
    request of a connection and a 300 kB POST body are decrypted by the kernel."""
    need_ktls_kernel()
    body = os.urandom(300_000)
    src = os.path.join(TMP, "rx-body.bin")
    with open(src, "wb") as f:
        f.write(body)
    tries = [("--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256"),
             ("--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384"),
             ("--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"),
             ("--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"),
             ("--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"),
             ("--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305")]
    with tls_server() as srv:
        mon = Monitor(srv)
        before, rx_sw, bad = mon.stats()["tls_ktls_rx"], tls_stat("TlsRxSw"), \
            tls_stat("TlsDecryptError")
        check(before >= 1, f"the monitor connection itself is under kTLS receive ({before})")
        for args in tries:
            # One connection, three requests: the second and the body come through the kernel.
            common = ["-sSk", "--http1.1", *args, "--resolve",
                      f"localhost:{srv.port}:{srv.connect_host}", "-w",
                      "%{http_code} %{num_connects}\\n"]
            url = f"https://localhost:{srv.port}"
            p = subprocess.run(
                [CURL, *common, "-o", "/dev/null", f"{url}/plaintext",
                 "--next", *common, "-o", "/dev/null", f"{url}/plaintext",
                 "--next", *common, "-o", os.path.join(TMP, "rx-echo.bin"),
                 "--data-binary", f"@{src}", "-H", "Content-Type: application/octet-stream",
                 f"{url}/echo"],
                capture_output=True, text=True, timeout=TIMEOUT + 10)
            check_eq(p.stdout.split("\n")[:3], ["200 1", "200 0", "200 0"],
                     f"three requests on one connection {args}: {p.stderr}")
            with open(os.path.join(TMP, "rx-echo.bin"), "rb") as f:
                check(f.read() == body, f"the 300 kB body came back intact {args}")
        wait_rx(mon, before, len(tries), "connections whose receiving the kernel took over")
        check_eq(tls_stat("TlsRxSw") - rx_sw, len(tries), "the kernel's TlsRxSw")
        check_eq(tls_stat("TlsDecryptError"), bad, "the kernel's TlsDecryptError")
        mon.close()


class MemConn:
    """A TLS client over memory BIOs on a raw socket: the test decides what goes
    out in one write."""

    def __init__(self, srv, version):
        self.raw = socket.create_connection((srv.connect_host, srv.port), timeout=TIMEOUT)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = client_ctx(version).wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.rd = SockReader(lambda: self.pump(lambda: self.obj.read(65536)))
        self.pump(self.obj.do_handshake)

    def flush(self):
        if self.out.pending:
            self.raw.sendall(self.out.read())

    def pump(self, until):
        """Runs until() (an SSLObject call), feeding it what the socket brings."""
        while True:
            self.flush()
            try:
                return until()
            except ssl.SSLWantReadError:
                self.flush()
                chunk = self.raw.recv(65536)
                if not chunk:
                    return b""
                self.inc.write(chunk)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def get(self, path):
        self.obj.write(f"GET {path} HTTP/1.1\r\nHost: k\r\n\r\n".encode())
        return self.rd.read_final()[1]

    def closed(self):
        """True once the server closed (FIN or RST) within the timeout."""
        self.raw.settimeout(TIMEOUT)
        try:
            while self.raw.recv(65536):
                pass
        except ConnectionResetError:
            pass
        except socket.timeout:
            return False
        return True


def wait_rx(mon, before, n, what):
    """tls_ktls_rx rises by n (a bounded wait: a switch lands when the
    connection's recv has ended, on its own ring)."""
    deadline = h.deadline_after(TIMEOUT)
    while (got := mon.stats()["tls_ktls_rx"] - before) != n:
        check(got < n and h.remaining(deadline) > 0, f"{what}: tls_ktls_rx rose by {got}, want {n}")


def wait_conns(mon, n, what):
    deadline = h.deadline_after(TIMEOUT)
    while mon.stats()["conns_live"] != n:
        check(h.remaining(deadline) > 0, what)


@case(server=False)
def client_close_notify_under_ktls_receive():
    """The client's close_notify arrives as an alert record (a control message):
    an end of input, not an error. A request sent with it in one write is
    answered before the connection closes."""
    need_ktls_kernel()
    with tls_server() as srv:
        mon = Monitor(srv)
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            before = mon.stats()["tls_ktls_rx"]
            c = MemConn(srv, version)
            for _ in range(2):
                check_eq(c.get("/plaintext").status, 200, f"{version.name}: status")
            wait_rx(mon, before, 1, f"{version.name}: under kTLS receive")
            c.obj.write(b"GET /plaintext HTTP/1.1\r\nHost: k\r\n\r\n")
            try:
                c.obj.unwrap()  # queues close_notify behind the request
            except ssl.SSLWantReadError:
                pass
            c.flush()  # both records in one write
            r = c.rd.read_final()[1]
            check_eq((r.status, r.body), (200, b"Hello, World!"),
                     f"{version.name}: the request sent with close_notify")
            check(c.closed(), f"{version.name}: open after the client's close_notify")
            c.raw.close()
            wait_conns(mon, 1, f"{version.name}: the connection is still counted")
        mon.close()


@case(server=False)
def forged_record_closes_only_its_connection():
    """A record that fails authentication under kTLS receive (the kernel answers
    EBADMSG) closes that connection; the others are served on."""
    need_ktls_kernel()
    with tls_server() as srv:
        mon = Monitor(srv)
        before, bad = mon.stats()["tls_ktls_rx"], tls_stat("TlsDecryptError")
        c = MemConn(srv, ssl.TLSVersion.TLSv1_3)
        for _ in range(2):
            check_eq(c.get("/plaintext").status, 200, "status")
        wait_rx(mon, before, 1, "under kTLS receive")
        c.raw.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(64))  # not from the session's keys
        check(c.closed(), "the connection stayed open after a forged record")
        c.raw.close()
        check_eq(tls_stat("TlsDecryptError") - bad, 1, "the kernel's TlsDecryptError")
        check_eq(mon.get("/plaintext").status, 200, "another connection still served")
        wait_conns(mon, 1, "the forged connection is still counted")
        mon.close()


@case(server=False)
def key_update_under_ktls_receive_closes():
    """A TLS 1.3 KeyUpdate from the client arrives as a handshake record (a
    control message): the kernel's receive keys cannot follow it, so that
    connection closes, and the others are served on."""
    need_ktls_kernel()
    import select
    openssl = shutil.which("openssl")
    if not openssl:
        raise Skip("openssl is not installed (scripts/deps.sh installs it)")
    with tls_server() as srv:
        mon = Monitor(srv)
        before = mon.stats()["tls_ktls_rx"]
        p = subprocess.Popen([openssl, "s_client", "-tls1_3", "-connect",
                              f"{srv.connect_host}:{srv.port}", "-servername", "localhost"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            out = b""

            def read_until(what):
                nonlocal out
                deadline = h.deadline_after(TIMEOUT)
                while what not in out:
                    r, _, _ = select.select([p.stdout], [], [], h.remaining(deadline))
                    check(r, f"s_client: no {what!r} in {out[-500:]!r}")
                    chunk = os.read(p.stdout.fileno(), 65536)
                    check(chunk, f"s_client ended before {what!r}: {out[-500:]!r}")
                    out += chunk

            p.stdin.write(b"GET /plaintext HTTP/1.1\r\nHost: k\r\n\r\n")
            p.stdin.flush()
            read_until(b"Hello, World!")
            wait_rx(mon, before, 1, "s_client under kTLS receive")
            p.stdin.write(b"k\n")  # s_client's command: send a KeyUpdate
            p.stdin.flush()
            read_until(b"KEYUPDATE")
            try:
                p.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                raise Failure("the connection stayed open after a KeyUpdate under kTLS receive")
        finally:
            p.kill()
            p.wait()
        check_eq(mon.get("/plaintext").status, 200, "another connection still served")
        wait_conns(mon, 1, "the connection is still counted")
        mon.close()


@case(server=False)
def missing_cipher_stays_in_user_space():
    """A cipher the kernel lacks (its AEAD module unloaded) is found at start
    on a loopback connection of the server's own: --check names it, and its
    clients are served by OpenSSL from the first connection on."""
    need_ktls_kernel()
    if not INSIDE:
        raise Skip("unloads a kernel module: only inside user-mode-linux")
    modroot = os.environ["RINGO_UML_MODROOT"]
    p = subprocess.run(["rmmod", "chacha20poly1305"], capture_output=True, text=True)
    check(p.returncode == 0, f"rmmod chacha20poly1305: {p.stderr}")
    try:
        p = subprocess.run([os.environ["RINGO_BIN"], "--check"], capture_output=True, text=True, timeout=TIMEOUT)
        check("ChaCha20-Poly1305 none" in p.stdout and "AES-128-GCM send+receive" in p.stdout,
              f"--check names the ciphers the kernel takes: {p.stdout}")
        with tls_server() as srv:
            mon = Monitor(srv)
            tx, rx = mon.stats()["tls_ktls"], mon.stats()["tls_ktls_rx"]
            for _ in range(2):
                r = curl(srv, "/plaintext", "--tlsv1.3", "--tls13-ciphers",
                         "TLS_CHACHA20_POLY1305_SHA256")
                check_eq((r.status, r.body), (200, b"Hello, World!"), "ChaCha20 in user space")
            st = mon.stats()
            check_eq((st["tls_ktls"] - tx, st["tls_ktls_rx"] - rx), (0, 0),
                     "ChaCha20 connections the kernel took over")
            check_eq(srv.stderr_text().count("refused"), 0, "no connection found the cipher missing")
            mon.close()
    finally:
        subprocess.run(["modprobe", "-d", modroot, "chacha20poly1305"], capture_output=True)


def run_in_uml():
    """Boots user-mode-linux with the host's root, loads the modules and runs this file
    inside; exits with its status."""
    if not os.access(UML, os.X_OK) or not UML_MODULES:
        print("SKIP all: this kernel has no tls module (CONFIG_TLS), and Debian's "
              "user-mode-linux (linux.uml with its modules) is not installed to run the "
              "kTLS cases in one that has it")
        sys.exit(h.EXIT_SKIP)
    if h.SANITIZED:
        print("SKIP all: this kernel has no tls module, and a sanitizer build cannot run in "
              "user-mode-linux (its shadow memory does not fit the guest's address space): "
              "the release build's run covers kTLS")
        sys.exit(h.EXIT_SKIP)
    work = tempfile.mkdtemp(prefix="ringo-uml-", dir="/tmp")
    out, rc = os.path.join(work, "out.txt"), os.path.join(work, "rc")
    modroot = os.path.join(work, "modroot", "lib", "modules")
    os.makedirs(modroot)
    ver = os.path.basename(UML_MODULES[-1])
    os.symlink(UML_MODULES[-1], os.path.join(modroot, ver))
    env = {k: v for k, v in os.environ.items() if k.startswith(("RINGO_", "ASAN_", "UBSAN_",
                                                                  "TSAN_", "LSAN_"))}
    env.update(RINGO_IN_UML="1", RINGO_UML_MODROOT=os.path.join(work, "modroot"), RINGO_TEST_SCALE=env.get("RINGO_TEST_SCALE", "4"),
               PATH="/usr/sbin:/usr/bin:/sbin:/bin", HOME=work)
    exports = "".join(f"export {k}='{v}'\n" for k, v in env.items())
    script = os.path.join(work, "init.sh")
    with open(script, "w") as f:
        f.write(f"""#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
ip link set lo up
exec >{out} 2>&1
for m in {" ".join(MODULES)}; do modprobe -d {work}/modroot $m || echo "modprobe $m failed"; done
{exports}cd {os.getcwd()}
ulimit -n 65536
{sys.executable} {os.path.abspath(__file__)} {" ".join(sys.argv[1:])}
echo $? > {rc}
poweroff -f
""")
    os.chmod(script, 0o755)
    budget = h.FILE_BUDGET - 30
    try:
        subprocess.run([UML, "mem=3G", "rootfstype=hostfs", "rootflags=/", "rw",
                        f"init={script}", "con=null", "con0=fd:0,fd:1"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=budget)
    except subprocess.TimeoutExpired:
        print(f"FAIL the user-mode-linux run took over {budget} s")
    try:
        with open(out) as f:
            sys.stdout.write(f.read())
        with open(rc) as f:
            code = int(f.read().strip())
    except (OSError, ValueError) as e:
        print(f"FAIL no result from inside user-mode-linux: {e}")
        code = h.EXIT_FAIL
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    h.FILE_BUDGET = 540
    if not INSIDE and not kernel_has_tls():
        run_in_uml()
    if INSIDE:
        print(f"(inside user-mode-linux {os.uname().release}, tls module loaded)")
    h.main()
