#!/usr/bin/env python3
"""
Description: response compression (ringo/compress.h) through the demo's
/lorem, /sync/lorem and /events routes. Round trips for every coding built
in (gzip with Python's zlib; zstd and brotli with Debian's python3-zstandard
and python3-brotli under /usr/bin/python3, else the zstd and brotli tools),
async and sync handlers, buffered and streamed, with the decompressed bytes
compared to the identity body; the coding chosen by Accept-Encoding
q-values and the server's order; identity;q=0 (identity sent, or 406 with
--compress-406); bodies below the size threshold, types not listed, HEAD,
204, 304, 206, a handler's own Content-Encoding, routes without the flag
and routes with RINGO_ROUTE_NO_COMPRESS (also under an app-wide switch,
which reaches the other routes) left untouched; Vary on
compressed and identity answers; strong ETags weakened; a stream with a
declared length sent chunked; SSE through compression: the first event
(and a keep-alive ping) decodes while the handler still sleeps; a large
body from an async handler compressed on the pool (pool_hops rises by one),
a small one on the ring, a sync handler's on its worker (no extra hop).
A coding not built in is skipped with a line saying so.
"""
import atexit
import binascii
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, StatsConn, case, check, check_eq, get, request  # noqa: E402

MODES = ("", "/sync")
DEBIAN_PYTHON = "/usr/bin/python3"
MODULES = {"zstd": "zstandard", "br": "brotli"}
TOOLS = {"zstd": ["zstd", "-d", "-c", "-q"], "br": ["brotli", "-d", "-c"]}

# Incremental decoders under Debian's Python: hex lines in, hex lines out.
DECODER = r"""
import binascii, sys
kind = sys.argv[1]
if kind == "zstd":
    import zstandard
    step = zstandard.ZstdDecompressor().decompressobj().decompress
else:
    import brotli
    step = brotli.Decompressor().process
for line in sys.stdin:
    out = step(binascii.unhexlify(line.strip()))
    sys.stdout.write(binascii.hexlify(out).decode() + "\n")
    sys.stdout.flush()
"""

_built = None


def built(srv, kind="bodies"):
    """The codings the server was built with (GET /codings), for whole bodies or
    for streams (gzip streams need zlib; libdeflate alone does whole bodies)."""
    global _built
    if _built is None:
        c = Conn(srv)
        c.send(get("/codings"))
        r = c.read_response()
        c.close()
        check_eq(r.status, 200, "GET /codings")
        _built = {}
        for line in r.body.decode().splitlines():
            k, _, v = line.partition(":")
            _built[k] = set(v.split())
        check(set(_built) == {"bodies", "streams"}, f"GET /codings: {r.body!r}")
        print(f"     codings built in: bodies {' '.join(sorted(_built['bodies'])) or 'none'}, "
              f"streams {' '.join(sorted(_built['streams'])) or 'none'}")
    return _built[kind]


@functools.lru_cache(maxsize=None)
def module_ok(coding):
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        return False
    r = subprocess.run([DEBIAN_PYTHON, "-c", f"import {MODULES[coding]}"],
                       capture_output=True)
    return r.returncode == 0


class Decoder:
    """Incremental decoder of one coding: feed(bytes) -> the bytes decoded so far."""

    def __init__(self, coding):
        self.coding = coding
        self.proc = None
        if coding == "gzip":
            self.z = zlib.decompressobj(16 + 15)
        elif module_ok(coding):
            self.proc = subprocess.Popen([DEBIAN_PYTHON, "-c", DECODER, coding],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
        else:
            raise h.Skip(f"no incremental {coding} decoder ({DEBIAN_PYTHON} lacks "
                         f"{MODULES[coding]}: Debian python3-{MODULES[coding]})")

    def feed(self, data):
        if self.coding == "gzip":
            return self.z.decompress(data)
        self.proc.stdin.write(binascii.hexlify(data).decode() + "\n")
        self.proc.stdin.flush()
        return binascii.unhexlify(self.proc.stdout.readline().strip())

    def close(self):
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait()


def decode(coding, data):
    """Whole-body decompression."""
    if coding == "gzip":
        d = zlib.decompressobj(16 + 15)
        out = d.decompress(data) + d.flush()
        check(d.eof and not d.unused_data, "gzip: the member does not end the body exactly")
        return out
    if module_ok(coding):
        mod = MODULES[coding]
        prog = (f"import sys, {mod}; d = sys.stdin.buffer.read(); "
                + ("sys.stdout.buffer.write(zstandard.ZstdDecompressor()"
                   ".decompressobj().decompress(d))" if coding == "zstd"
                   else "sys.stdout.buffer.write(brotli.decompress(d))"))
        r = subprocess.run([DEBIAN_PYTHON, "-c", prog], input=data, capture_output=True)
    elif shutil.which(TOOLS[coding][0]):
        r = subprocess.run(TOOLS[coding], input=data, capture_output=True)
    else:
        raise h.Skip(f"no {coding} decoder: install Debian python3-{MODULES[coding]} "
                     f"or {TOOLS[coding][0]}")
    check(r.returncode == 0, f"{coding}: decoder failed: {r.stderr[-300:]!r}")
    return r.stdout


def fetch(srv, target, ae=None, method="GET", headers=(), version="HTTP/1.1"):
    hdrs = list(headers) + ([("Accept-Encoding", ae)] if ae is not None else [])
    c = Conn(srv)
    c.send(request(method, target, headers=hdrs, version=version))
    r = c.read_response(head=method == "HEAD")
    c.close()
    return r


def identity(srv, target):
    r = fetch(srv, target)
    check_eq(r.status, 200, f"{target} identity status")
    check(r.header("content-encoding") is None, f"{target}: encoded without Accept-Encoding")
    return r.body


def want_codings(srv, *codings, kind="bodies"):
    missing = [c for c in codings if c not in built(srv, kind)]
    if missing:
        print(f"     skip: {', '.join(missing)} not built in for {kind} (install "
              f"libzstd-dev, libbrotli-dev, zlib1g-dev and rebuild)")
        return False
    return True


def check_encoded(r, coding, what):
    check_eq(r.status, 200, f"{what}: status")
    check_eq(r.header("content-encoding"), coding, f"{what}: Content-Encoding")
    check("accept-encoding" in r.tokens("vary"), f"{what}: no Vary: Accept-Encoding: {r}")


# ------------------------------------------------------------ round trips

@case()
def round_trip_every_coding(srv):
    for coding in ("gzip", "zstd", "br"):
        if not want_codings(srv, coding):
            continue
        streams = want_codings(srv, coding, kind="streams")
        for mode in MODES:
            for q in ("kb=1", "kb=64", "kb=300", "bytes=100000&stream=1",
                      "bytes=100000&stream=2"):
                if "stream" in q and not streams:
                    continue
                target = f"{mode}/lorem?{q}"
                r = fetch(srv, target, coding)
                check_encoded(r, coding, f"{target} {coding}")
                want = identity(srv, target)
                check_eq(len(decode(coding, r.body)), len(want), f"{target} {coding}: length")
                check(decode(coding, r.body) == want, f"{target} {coding}: bytes differ")
                if "stream" not in q:
                    check_eq(r.header("content-length"), str(len(r.body)),
                             f"{target}: Content-Length is the compressed length")
                    check(len(r.body) < len(want) // 2, f"{target} {coding}: "
                          f"{len(r.body)} bytes of {len(want)}: not compressed")
        print(f"     {coding}: buffered and streamed round trips, async and sync")


@case()
def declared_length_stream_becomes_chunked(srv):
    if not want_codings(srv, "gzip", kind="streams"):
        return
    for mode in MODES:
        r = fetch(srv, f"{mode}/lorem?bytes=50000&stream=2", "gzip")
        check_eq(r.tokens("transfer-encoding"), {"chunked"}, f"{mode}: chunked when compressed")
        check(not r.header_all("content-length"), f"{mode}: Content-Length with chunked")
        r = fetch(srv, f"{mode}/lorem?bytes=50000&stream=2")
        check_eq(r.header("content-length"), "50000", f"{mode}: identity keeps its length")
        # HTTP/1.0: no chunked, so the compressed body ends with the connection.
        r = fetch(srv, f"{mode}/lorem?bytes=50000&stream=2", "gzip", version="HTTP/1.0")
        check_eq(r.header("content-encoding"), "gzip", f"{mode}: HTTP/1.0 stream encoded")
        check(not r.header_all("transfer-encoding"), "HTTP/1.0: no chunked")
        check_eq(len(decode("gzip", r.body)), 50000, f"{mode}: HTTP/1.0 close-delimited body")


@case()
def accept_encoding_lists_joined(srv):
    if not want_codings(srv, "gzip", "br"):
        return
    r = fetch(srv, "/lorem?kb=4", headers=[("Accept-Encoding", "gzip;q=0.5"),
                                           ("Accept-Encoding", "br;q=0.9")])
    check_eq(r.header("content-encoding"), "br", "two Accept-Encoding lines are one list")


# ------------------------------------------------------------ choice

@case()
def q_values_and_server_order(srv):
    if not want_codings(srv, "gzip", "zstd", "br"):
        return
    cases = [
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("gzip, deflate, br, zstd", "zstd"),  # a tie: the server's order (zstd, br, gzip)
        ("br, gzip", "br"),
        ("gzip;q=0.5, br;q=0.8, zstd;q=0.1", "br"),
        ("zstd;q=0, *", "br"),
        ("*;q=0.5, gzip;q=0.9", "gzip"),
        ("*", "zstd"),
        ("GZIP;Q=0.7, identity;q=0.2", "gzip"),
        ("gzip;q=0.5, identity", None),
        ("identity", None),
        ("deflate", None),
        ("gzip;q=0", None),
        ("gzip;q=2", None),  # malformed: ignored
        ("", None),
    ]
    for ae, want in cases:
        r = fetch(srv, "/lorem?kb=4", ae)
        check_eq(r.header("content-encoding"), want, f"Accept-Encoding: {ae!r}")
        check("accept-encoding" in r.tokens("vary"), f"{ae!r}: no Vary")
    r = fetch(srv, "/lorem?kb=4")
    check(r.header("content-encoding") is None, "no Accept-Encoding: identity")
    check("accept-encoding" in r.tokens("vary"), "identity answer without Vary")


@case()
def identity_refused_gets_identity_by_default(srv):
    if not want_codings(srv, "gzip"):
        return
    for ae in ("identity;q=0", "*;q=0"):
        r = fetch(srv, "/lorem?kb=4", ae)
        check_eq(r.status, 200, f"{ae}: status (identity sent anyway by default)")
        check(r.header("content-encoding") is None, f"{ae}: encoded")
    r = fetch(srv, "/lorem?kb=4", "identity;q=0, gzip")
    check_eq(r.header("content-encoding"), "gzip", "identity;q=0, gzip")


# Files a ringo_resp_file() body sends: one spliced (above 16 KiB), one copied.
FILES_DIR = tempfile.mkdtemp(prefix="ringo-compress-files-")
FILES = {"big.txt": b"lorem ipsum dolor sit amet\n" * 4000, "small.txt": b"lorem ipsum\n" * 300}
for _name, _data in FILES.items():
    with open(os.path.join(FILES_DIR, _name), "wb") as _f:
        _f.write(_data)
    # An hour old: the mount's memory cache takes the small one (it leaves new files out).
    os.utime(os.path.join(FILES_DIR, _name), (time.time() - 3600, time.time() - 3600))
atexit.register(shutil.rmtree, FILES_DIR, True)


@case(args=["--compress-406", "--static-dir", FILES_DIR, "--static-no-variants"])
def file_bodies_are_never_compressed(srv):
    # Compression is on for every route, the type is listed and the client asks for gzip:
    # a file body (ringo_resp_file) goes out as it is - a splice would pass any coder by.
    # A small file the mount serves from its memory cache is an ordinary body and may be
    # compressed; either way the bytes must be the file's.
    for name, data in FILES.items():
        r = fetch(srv, f"/static/{name}", "gzip")
        check_eq(r.status, 200, f"/static/{name}")
        coding = r.header("content-encoding")
        if len(data) > 65536:
            check(coding is None, f"/static/{name}: a file body was encoded ({coding})")
        body = decode(coding, r.body) if coding else r.body
        check(body == data, f"/static/{name}: body differs ({len(r.body)} bytes, {coding})")


@case(args=["--compress-406"])
def identity_refused_gets_406_when_configured(srv):
    if not want_codings(srv, "gzip"):
        return
    for ae in ("identity;q=0", "*;q=0", "identity;q=0, deflate"):
        r = fetch(srv, "/lorem?kb=4", ae)
        check_eq(r.status, 406, f"{ae}: status")
        check("accept-encoding" in r.tokens("vary"), f"{ae}: 406 without Vary")
    r = fetch(srv, "/lorem?kb=4", "identity;q=0, gzip")
    check_eq(r.header("content-encoding"), "gzip", "identity;q=0, gzip")
    # The app-wide switch reaches routes registered without the flag too...
    text = b"lorem ipsum dolor sit amet\n" * 200
    c = Conn(srv)
    c.send(request("POST", "/echo", headers=[("Content-Type", "text/plain"),
                                              ("Accept-Encoding", "gzip")], body=text))
    r = c.read_response()
    c.close()
    check_encoded(r, "gzip", "POST /echo (no route flag) on an app-wide switch")
    check_eq(decode("gzip", r.body), text, "POST /echo decoded")
    r = fetch(srv, "/stream?bytes=5000", "gzip")
    check(r.header("content-encoding") is None, "application/octet-stream is not compressed")
    # ...but not those that opted out.
    r = fetch(srv, "/lorem/never?kb=8", "gzip")
    check_untouched(r, "RINGO_ROUTE_NO_COMPRESS on an app-wide switch")
    check_eq(len(r.body), 8192, "/lorem/never body")


# ------------------------------------------------------------ left alone

def check_untouched(r, what, vary=False):
    check(r.header("content-encoding") is None, f"{what}: encoded: {r}")
    if not vary:
        check(not r.header_all("vary"), f"{what}: Vary added to an answer no coding applies to")


@case()
def routes_without_the_flag_untouched(srv):
    # The demo compresses per route: a route without RINGO_ROUTE_COMPRESS is left alone.
    text = b"lorem ipsum dolor sit amet\n" * 200
    c = Conn(srv)
    c.send(request("POST", "/echo", headers=[("Content-Type", "text/plain"),
                                              ("Accept-Encoding", "gzip")], body=text))
    r = c.read_response()
    c.close()
    check_untouched(r, "POST /echo without the route flag")
    check_eq(r.body, text, "POST /echo body")
    check_untouched(fetch(srv, "/lorem/never?kb=8", "gzip"), "RINGO_ROUTE_NO_COMPRESS")


@case()
def small_bodies_and_other_types_untouched(srv):
    if not want_codings(srv, "gzip"):
        return
    for mode in MODES:
        r = fetch(srv, f"{mode}/lorem?bytes=1023", "gzip")
        check_untouched(r, f"{mode} 1023 bytes")
        check_eq(len(r.body), 1023, "1023-byte body")
        r = fetch(srv, f"{mode}/lorem?bytes=1024", "gzip")
        check_encoded(r, "gzip", f"{mode} 1024 bytes (the threshold)")
        for t in ("image/png", "application/octet-stream", "video/mp4", "application/zip"):
            r = fetch(srv, f"{mode}/lorem?kb=8&type={t}", "gzip")
            check_untouched(r, f"{mode} {t}")
        for t in ("text/html", "TEXT/CSS", "application/json;%20charset=utf-8",
                  "image/svg%2Bxml", "application/javascript"):
            r = fetch(srv, f"{mode}/lorem?kb=8&type={t}", "gzip")
            check_encoded(r, "gzip", f"{mode} {t}")


@case()
def head_204_304_206_and_encoded_untouched(srv):
    if not want_codings(srv, "gzip"):
        return
    for mode in MODES:
        r = fetch(srv, f"{mode}/lorem?kb=8", "gzip", method="HEAD")
        check_untouched(r, f"{mode} HEAD")
        check_eq(r.header("content-length"), "8192", f"{mode} HEAD: identity length")
        for s in (204, 304, 206):
            r = fetch(srv, f"{mode}/lorem?kb=8&status={s}", "gzip")
            check_eq(r.status, s, f"{mode} status {s}")
            check_untouched(r, f"{mode} {s}")
        r = fetch(srv, f"{mode}/lorem?kb=8&encoded=1", "gzip")
        check_eq(r.header_all("content-encoding"), ["identity"], f"{mode}: re-encoded")
        check_eq(len(r.body), 8192, f"{mode}: a handler's own Content-Encoding body")
        # Error statuses with a compressible body are compressed like any other.
        r = fetch(srv, f"{mode}/lorem?kb=8&status=404", "gzip")
        check_eq((r.status, r.header("content-encoding")), (404, "gzip"), f"{mode} 404")


@case()
def strong_etag_weakened(srv):
    if not want_codings(srv, "gzip"):
        return
    for mode in MODES:
        r = fetch(srv, f"{mode}/lorem?kb=8&etag=1", "gzip")
        check_encoded(r, "gzip", f"{mode} etag")
        check_eq(r.header("etag"), 'W/"lorem-8192"', f"{mode}: ETag of the compressed body")
        r = fetch(srv, f"{mode}/lorem?kb=8&etag=1")
        check_eq(r.header("etag"), '"lorem-8192"', f"{mode}: identity keeps its strong ETag")
        if "gzip" in built(srv, "streams"):
            r = fetch(srv, f"{mode}/lorem?kb=8&etag=1&stream=1", "gzip")
            check_eq(r.header("etag"), 'W/"lorem-8192"', f"{mode}: a compressed stream's ETag")


# ------------------------------------------------------------ SSE

def read_chunk(c, deadline):
    size = int(c._read_line(deadline).split(b";")[0], 16)
    data = c._read_exact(size, deadline)
    check(c._read_exact(2, deadline) == b"\r\n", "chunk data not followed by CRLF")
    return data


def first_event_through(srv, mode, coding, want=b"id: 0\ndata: 0\n\n", extra=None):
    """The first event decodes while the handler sleeps 60 s before the second."""
    dec = Decoder(coding)
    try:
        c = Conn(srv)
        c.send(get(f"{mode}/events?n=2&interval_ms=60000",
                   headers=[("Accept-Encoding", coding)]))
        r = c.read_response(head=True)
        check_eq(r.status, 200, f"{mode} {coding} events status")
        check_eq(r.header("content-encoding"), coding, f"{mode} events Content-Encoding")
        check("accept-encoding" in r.tokens("vary"), "events: Vary")
        deadline = h.deadline_after(h.TIMEOUT)
        text = b""
        while want not in text:
            text += dec.feed(read_chunk(c, deadline))
        check(text.startswith(want), f"{mode} {coding}: first event decoded as {text!r}")
        if extra:
            while extra not in text:
                text += dec.feed(read_chunk(c, deadline))
        c.close()  # hang up: the handler's sleep is cancelled
    finally:
        dec.close()


@case()
def sse_events_not_held_back(srv):
    for coding in ("gzip", "zstd", "br"):
        if not want_codings(srv, coding, kind="streams"):
            continue
        for mode in MODES:
            try:
                first_event_through(srv, mode, coding)
            except h.Skip as e:
                print(f"     skip {coding} SSE: {e}")
                break
        else:
            print(f"     {coding}: the first event decoded while the handler sleeps")


@case(args=["--sse-ping", "100"])
def sse_pings_compressed_too(srv):
    if not want_codings(srv, "gzip", kind="streams"):
        return
    for mode in MODES:
        first_event_through(srv, mode, "gzip", extra=b": ping\n")


@case()
def sse_whole_stream_round_trip(srv):
    want = b"".join(b"id: %d\ndata: %d\n\n" % (i, i) for i in range(20))
    for coding in ("gzip", "zstd", "br"):
        if not want_codings(srv, coding, kind="streams"):
            continue
        for mode in MODES:
            r = fetch(srv, f"{mode}/events?n=20&interval_ms=1", coding)
            check_encoded(r, coding, f"{mode} events {coding}")
            check_eq(decode(coding, r.body), want, f"{mode} events {coding}: decoded")


# ------------------------------------------------------------ where it runs

@case()
def large_async_body_compressed_on_the_pool(srv):
    if not want_codings(srv, "gzip"):
        return
    stats = StatsConn(srv)
    c = Conn(srv)

    def hops_for(target, ae="gzip"):
        before = stats.get()["pool_hops"]
        c.send(get(target, headers=[("Accept-Encoding", ae)]))
        r = c.read_response()
        check_eq(r.status, 200, f"{target} status")
        return stats.get()["pool_hops"] - before, r

    n, r = hops_for("/lorem?kb=256")
    check_eq(r.header("content-encoding"), "gzip", "256 KiB async body encoded")
    check_eq(n, 1, "pool jobs for a 256 KiB async body (compressed on the pool)")
    n, r = hops_for("/lorem?kb=8")
    check_eq((n, r.header("content-encoding")), (0, "gzip"),
             "an 8 KiB async body: compressed on the ring, no pool job")
    if "br" in built(srv):
        # brotli at its default level costs about 4 times gzip level 1: a quarter of the size.
        n, r = hops_for("/lorem?kb=8", "br")
        check_eq((n, r.header("content-encoding")), (1, "br"), "an 8 KiB brotli body")
    n, r = hops_for("/lorem?kb=256", "identity")
    check_eq(n, 0, "pool jobs for an identity answer")
    n, r = hops_for("/sync/lorem?kb=256")
    check_eq((n, r.header("content-encoding")), (1, "gzip"),
             "a sync handler's body: compressed on its own worker (one hop in all)")
    c.close()
    stats.conn.close()


if __name__ == "__main__":
    h.main()
