#!/usr/bin/env python3
"""
Description: static files (ringo/static.h) through the demo's /static/ mount
of a temporary folder (--static-dir), and /download/{name} (ringo_resp_file
with an RFC 6266/8187 Content-Disposition). A 256 MiB file arrives with the
right SHA-256; ranges (first, middle, suffix, open, unsatisfiable, 1,000
ranges, overlapping, several as multipart/byteranges, parsed and checked,
If-Range); every conditional header and their precedence (RFC 9110 section
13.2.2); HEAD; traversal attempts ("..", "%2e%2e", "%2f", encoded NUL,
symbolic links out of the root, absolute paths, hidden names) are all 404
and never show a byte from outside the root; precompressed variants chosen
by Accept-Encoding q-values, with their own ETags and 304s; the small-file
cache follows changes; a hang-up mid-file cancels and frees the request;
1,000 concurrent downloads from a server run as an unprivileged user keep
its RSS growth bounded.
"""
import atexit
import gzip
import hashlib
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, Failure, Skip, StatsConn, abort_sock, case, check,  # noqa: E402
                           check_eq, get)

# The mounted folder, made before the server starts; world-readable so that the
# unprivileged server of the concurrency case can serve it too.
ROOT_PARENT = tempfile.mkdtemp(prefix="ringo-static-")
ROOT = os.path.join(ROOT_PARENT, "root")
SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"
OLD = time.time() - 3600  # an mtime old enough for the cache to keep the file
atexit.register(shutil.rmtree, ROOT_PARENT, True)

GZ = gzip.compress(b"identity body\n", mtime=0)
TEXT = b"hello, static world\n" * 10  # 200 bytes
LARGE = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(256)) * 4096  # 1 MiB, not cached


def write(rel, data, mtime=OLD):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))
    return path


def setup_root():
    os.chmod(ROOT_PARENT, 0o755)
    os.makedirs(ROOT)
    with open(os.path.join(ROOT_PARENT, "secret.txt"), "wb") as f:
        f.write(SECRET)
    write("a.txt", TEXT)
    write("large.bin", LARGE)
    write("empty.txt", b"")
    write("sub/index.html", b"<p>index</p>\n")
    write("noindex/file.txt", b"x")
    write(".hidden", SECRET)
    write(".git/config", SECRET)
    write("comp/page.txt", b"identity body\n")
    write("comp/page.txt.gz", GZ)
    write("comp/page.txt.br", b"br-bytes")
    write("comp/page.txt.zst", b"zstd-bytes")
    write("comp/onlygz.js", b"let x = 1;\n")
    write("comp/onlygz.js.gz", gzip.compress(b"let x = 1;\n"))
    write("caret \"quote\" na\u00efve.txt", b"name test\n")
    os.symlink(os.path.join(ROOT_PARENT, "secret.txt"), os.path.join(ROOT, "out-abs"))
    os.symlink("../secret.txt", os.path.join(ROOT, "out-rel"))
    os.symlink("a.txt", os.path.join(ROOT, "in-link"))
    os.symlink(ROOT_PARENT, os.path.join(ROOT, "out-dir"))
    os.mkfifo(os.path.join(ROOT, "fifo"))
    for d, _, files in os.walk(ROOT):
        os.chmod(d, 0o755)
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                os.chmod(p, 0o644)


setup_root()
ARGS = ["--static-dir", ROOT]


def fetch(srv, target, headers=(), method="GET"):
    c = Conn(srv)
    c.send(h.request(method, target, headers=headers))
    r = c.read_response(head=method == "HEAD")
    c.close()
    return r


# ------------------------------------------------------------ whole files

@case(args=ARGS)
def serves_a_file_with_validators(srv):
    r = fetch(srv, "/static/a.txt")
    check_eq(r.status, 200, "status")
    check_eq(r.body, TEXT, "body")
    check_eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")
    check_eq(r.header("Accept-Ranges"), "bytes", "Accept-Ranges")
    check_eq(r.header("X-Content-Type-Options"), "nosniff", "nosniff")
    check_eq(r.header("Cache-Control"), "public, max-age=60", "Cache-Control")
    check_eq(r.header("Last-Modified"), time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                       time.gmtime(int(OLD))), "Last-Modified")
    etag = r.header("ETag")
    check(etag and re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag), f"strong ETag: {etag!r}")
    # The same file on another host has another inode but the same size and mtime.
    copy = write("a-copy.txt", TEXT)
    os.utime(copy, ns=(os.stat(os.path.join(ROOT, "a.txt")).st_mtime_ns,) * 2)
    check_eq(fetch(srv, "/static/a-copy.txt").header("ETag"), etag, "ETag of an identical copy")
    hd = fetch(srv, "/static/a.txt", method="HEAD")
    check_eq((hd.status, hd.header("Content-Length"), hd.header("ETag")),
             (200, str(len(TEXT)), etag), "HEAD")
    for name, want in (("x.ringo", "text/x-ringo; charset=utf-8"),
                       ("X.RINGO", "text/x-ringo; charset=utf-8"),  # case-insensitive
                       ("notes.md", "text/plain; charset=utf-8"),  # overrides the table
                       ("noext", "application/octet-stream"),
                       ("app.css", "text/css; charset=utf-8")):
        write(name, b"t")
        check_eq(fetch(srv, "/static/" + name).header("Content-Type"), want, f"type of {name}")
    e = fetch(srv, "/static/empty.txt")
    check_eq((e.status, e.body, e.header("Content-Length")), (200, b"", "0"), "empty file")
    check_eq(fetch(srv, "/static/large.bin").body, LARGE, "1 MiB file")
    hd = fetch(srv, "/static/large.bin", method="HEAD")
    check_eq(hd.header("Content-Length"), str(len(LARGE)), "HEAD of a large file")


@case(args=ARGS)
def sha256_of_a_256_mib_file(srv):
    size = (32 << 20) if h.SANITIZED else (256 << 20)
    path = os.path.join(ROOT, "huge.bin")
    digest = hashlib.sha256()
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB, varied bytes
    with open(path, "wb") as f:
        for i in range(size >> 20):
            piece = i.to_bytes(4, "little") + block[4:]
            digest.update(piece)
            f.write(piece)
    os.chmod(path, 0o644)
    out = os.path.join(ROOT_PARENT, "huge.out")
    exe = shutil.which("curl")
    if not exe:
        raise Skip("curl is not installed (scripts/deps.sh installs it)")
    p = subprocess.run([exe, "-sS", "--noproxy", "*", "-o", out, "-w", "%{http_code}",
                        srv.url("/static/huge.bin")], capture_output=True,
                       timeout=h.TIMEOUT * 12)
    check_eq((p.returncode, p.stdout), (0, b"200"), f"curl: {p.stderr!r}")
    got = hashlib.sha256()
    with open(out, "rb") as f:
        while chunk := f.read(1 << 20):
            got.update(chunk)
    os.unlink(out)
    check_eq(got.hexdigest(), digest.hexdigest(), f"SHA-256 of {size >> 20} MiB over HTTP")


@case(args=ARGS)
def directories_index_and_redirect(srv):
    r = fetch(srv, "/static/sub/")
    check_eq((r.status, r.body), (200, b"<p>index</p>\n"), "index.html of a directory")
    check_eq(r.header("Content-Type"), "text/html; charset=utf-8", "index Content-Type")
    r = fetch(srv, "/static/sub?x=1")
    check_eq((r.status, r.header("Location")), (301, "/static/sub/?x=1"), "slash redirect")
    r = fetch(srv, "/static")
    check_eq((r.status, r.header("Location")), (301, "/static/"), "bare prefix")
    for t in ("/static/noindex/", "/static/", "/static/a.txt/"):
        check_eq(fetch(srv, t).status, 404, f"{t} (no index, listing off)")
    check_eq(fetch(srv, "/static/in-link").status, 404, "a symlink, even inside the root")
    check_eq(fetch(srv, "/static/fifo").status, 404, "a FIFO")


@case(args=ARGS)
def traversal_attempts_are_refused(srv):
    targets = [
        "/static/../secret.txt", "/static/..%2fsecret.txt", "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt", "/static/sub/../../secret.txt",
        "/static/sub/%2e%2e/%2e%2e/secret.txt", "/static/sub%2f..%2f..%2fsecret.txt",
        "/static/a.txt%00.png", "/static/%00", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
        "/static/%2Fetc/passwd", "/static/out-abs", "/static/out-rel", "/static/out-dir/secret.txt",
        "/static/.hidden", "/static/.git/config", "/static/sub/.%2e/.%2e/secret.txt",
        "/static/./a.txt", "/static/%2e/a.txt", f"/static/{ROOT_PARENT}/secret.txt",
        "/static/\\..\\secret.txt".replace("\\", "%5c"),
    ]
    for t in targets:
        c = Conn(srv)
        c.send(get(t))
        r = c.read_response()
        c.close()
        check(r.status in (400, 404), f"{t}: status {r.status}, want 404 (or 400 from the parser)")
        check(SECRET not in r.body, f"{t}: the body shows a file from outside the root")
    # curl normalizes dot segments unless told not to.
    _, r = h.curl(srv, "/static/../secret.txt", "--path-as-is")
    check(r.status in (400, 404) and SECRET not in r.body, f"curl --path-as-is: {r!r}")


# ------------------------------------------------------------ ranges

def ranges(srv, spec, target="/static/large.bin", extra=()):
    return fetch(srv, target, headers=[("Range", spec), *extra])


def parse_multipart(r, data):
    ctype = r.header("Content-Type")
    m = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", ctype or "")
    check(m, f"multipart Content-Type: {ctype!r}")
    delim = b"--" + m[1].encode()
    body = r.body
    check(body.startswith(delim + b"\r\n"), "the body starts with the first boundary")
    check(body.endswith(b"\r\n" + delim + b"--\r\n"), "the body ends with the close delimiter")
    parts = []
    for raw in body[:-len(delim) - 6].split(b"\r\n" + delim)[0:]:
        raw = raw[len(delim):] if raw.startswith(delim) else raw
        check(raw.startswith(b"\r\n"), f"part starts with CRLF: {raw[:40]!r}")
        head, _, payload = raw[2:].partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        cr = re.fullmatch(rb"bytes (\d+)-(\d+)/(\d+)", fields[b"Content-Range"])
        check(cr, f"part Content-Range {fields!r}")
        a, b, n = (int(x) for x in cr.groups())
        check_eq(n, len(data), "part's complete length")
        check_eq(payload, data[a:b + 1], f"part {a}-{b} bytes")
        check(fields.get(b"Content-Type"), "part Content-Type")
        parts.append((a, b))
    return parts


@case(args=ARGS)
def single_ranges(srv):
    n = len(LARGE)
    for target, data in (("/static/large.bin", LARGE), ("/static/a.txt", TEXT)):
        n = len(data)
        for spec, a, b in (("bytes=0-99", 0, 99), (f"bytes={n // 2}-{n // 2 + 9}", n // 2,
                                                                      n // 2 + 9),
                           ("bytes=-50", n - 50, n - 1), (f"bytes={n - 30}-", n - 30, n - 1),
                           (f"bytes=10-{n * 4}", 10, n - 1), ("bytes=0-0", 0, 0)):
            r = ranges(srv, spec, target)
            check_eq(r.status, 206, f"{target} {spec}")
            check_eq(r.header("Content-Range"), f"bytes {a}-{b}/{n}", f"{spec} Content-Range")
            check_eq(r.body, data[a:b + 1], f"{target} {spec} bytes")
            check(r.header("ETag"), "206 carries the ETag")
        for spec in (f"bytes={n}-", f"bytes={n + 5}-{n + 9}", "bytes=-0"):
            r = ranges(srv, spec, target)
            check_eq((r.status, r.header("Content-Range")), (416, f"bytes */{n}"), spec)
        for spec in ("bytes=5-1", "bytes=abc", "items=0-1", "bytes=0-1;x", "bytes"):
            r = ranges(srv, spec, target)
            check_eq((r.status, r.body), (200, data), f"malformed {spec!r} is ignored")
    r = fetch(srv, "/static/large.bin", headers=[("Range", "bytes=0-9")], method="HEAD")
    check_eq((r.status, r.header("Content-Length")), (200, str(len(LARGE))), "HEAD ignores Range")
    r = ranges(srv, "bytes=0-9", "/static/empty.txt")
    check_eq((r.status, r.body), (200, b""), "an empty file is sent whole")


@case(args=ARGS)
def multiple_ranges_are_multipart(srv):
    for target, data in (("/static/large.bin", LARGE), ("/static/a.txt", TEXT)):
        r = ranges(srv, "bytes=100-149, 0-9,-5", target)
        check_eq(r.status, 206, "several ranges")
        check_eq(parse_multipart(r, data), [(0, 9), (100, 149), (len(data) - 5, len(data) - 1)],
                 "parts sorted")
        check_eq(r.header("Content-Length"), str(len(r.body)), "exact length")
        # Overlapping and adjacent ranges within the size are merged.
        r = ranges(srv, "bytes=0-9,5-19,20-29", target)
        check_eq((r.status, r.header("Content-Range"), r.body), (206, f"bytes 0-29/{len(data)}",
                                                                 data[:30]), "merged")
    # Abusive sets: the whole file (200), never a huge multipart body.
    r = ranges(srv, "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(1000)))
    check_eq((r.status, len(r.body)), (200, len(LARGE)), "1,000 ranges: the whole file")
    r = ranges(srv, "bytes=" + ",".join(f"{i * 100}-{i * 100}" for i in range(17)))
    check_eq(r.status, 200, "17 disjoint ranges: more than 16")
    r = ranges(srv, "bytes=" + ",".join(f"{i * 100}-{i * 100}" for i in range(16)))
    check_eq((r.status, len(parse_multipart(r, LARGE))), (206, 16), "16 disjoint ranges")
    r = ranges(srv, "bytes=0-,0-,0-")
    check_eq((r.status, len(r.body)), (200, len(LARGE)), "overlapping: the whole file")
    r = ranges(srv, "bytes=1000-2000,0-,500-900")
    check_eq(r.status, 200, "overlapping past the size")


@case(args=ARGS)
def if_range(srv):
    r0 = fetch(srv, "/static/large.bin")
    etag, lm = r0.header("ETag"), r0.header("Last-Modified")
    for v, want in ((etag, 206), ('"other"', 200), ("W/" + etag, 200), (lm, 206),
                    ("Thu, 01 Jan 1970 00:00:00 GMT", 200), ("garbage", 200)):
        r = ranges(srv, "bytes=0-9", extra=[("If-Range", v)])
        check_eq(r.status, want, f"If-Range: {v}")
        check_eq(len(r.body), 10 if want == 206 else len(LARGE), f"If-Range {v} body")


@case(args=ARGS)
def pipelined_file_answers_stay_in_order(srv):
    etag = fetch(srv, "/static/a.txt").header("ETag")
    c = Conn(srv)
    c.send(get("/static/large.bin", headers=[("Range", "bytes=0-9,-10")]) +
           get("/static/a.txt", headers=[("If-None-Match", etag)]) +
           h.request("HEAD", "/static/large.bin") +
           get("/static/large.bin") +
           get("/static/a.txt", headers=[("Range", "bytes=1-3")]) +
           get("/static/missing"))
    r = c.read_response()
    check_eq((r.status, parse_multipart(r, LARGE)),
             (206, [(0, 9), (len(LARGE) - 10, len(LARGE) - 1)]), "1: multipart")
    check_eq(c.read_response().status, 304, "2: 304")
    r = c.read_response(head=True)
    check_eq((r.status, r.header("Content-Length")), (200, str(len(LARGE))), "3: HEAD")
    check_eq(c.read_response().body, LARGE, "4: the whole file")
    check_eq(c.read_response().body, TEXT[1:4], "5: a range of a cached file")
    check_eq(c.read_response().status, 404, "6: missing")
    c.close()


# ------------------------------------------------------------ conditional requests

def http_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


@case(args=ARGS)
def conditional_headers_and_precedence(srv):
    r0 = fetch(srv, "/static/a.txt")
    etag, lm = r0.header("ETag"), r0.header("Last-Modified")
    before, after = http_date(int(OLD) - 10), http_date(int(OLD) + 10)
    cases = [
        ([("If-None-Match", etag)], 304),
        ([("If-None-Match", "W/" + etag)], 304),  # weak comparison
        ([("If-None-Match", f'"x", {etag}')], 304),
        ([("If-None-Match", "*")], 304),
        ([("If-None-Match", '"x"')], 200),
        ([("If-None-Match", "garbage")], 200),
        ([("If-Modified-Since", lm)], 304),
        ([("If-Modified-Since", after)], 304),
        ([("If-Modified-Since", before)], 200),
        ([("If-Modified-Since", "not a date")], 200),
        ([("If-Match", etag)], 200),
        ([("If-Match", "*")], 200),
        ([("If-Match", '"x"')], 412),
        ([("If-Match", "W/" + etag)], 412),  # strong comparison
        ([("If-Unmodified-Since", lm)], 200),
        ([("If-Unmodified-Since", before)], 412),
        ([("If-Unmodified-Since", "not a date")], 200),
        # Precedence (RFC 9110 section 13.2.2).
        ([("If-Match", etag), ("If-Unmodified-Since", before)], 200),  # IUS not evaluated
        ([("If-Match", '"x"'), ("If-None-Match", etag)], 412),
        ([("If-Unmodified-Since", before), ("If-None-Match", etag)], 412),
        ([("If-None-Match", '"x"'), ("If-Modified-Since", after)], 200),  # IMS not evaluated
        ([("If-None-Match", etag), ("If-Modified-Since", before)], 304),
        ([("If-Match", etag), ("If-None-Match", etag)], 304),
        ([("If-None-Match", etag), ("Range", "bytes=0-1")], 304),
        ([("If-Match", '"x"'), ("Range", "bytes=0-1")], 412),
        ([("If-None-Match", '"x"'), ("Range", "bytes=0-1")], 206),
    ]
    for hdrs, want in cases:
        for method in ("GET", "HEAD"):
            r = fetch(srv, "/static/a.txt", headers=hdrs, method=method)
            if method == "HEAD" and want == 206:
                want = 200  # Range is defined for GET only (RFC 9110 section 14.2)
            check_eq(r.status, want, f"{method} {hdrs}")
            if want == 304:
                check_eq(r.header("ETag"), etag, f"304 ETag for {hdrs}")
                check_eq(r.header("Last-Modified"), lm, "304 Last-Modified")
                check_eq(r.header("Cache-Control"), "public, max-age=60", "304 Cache-Control")
                check_eq(r.header("Vary"), "Accept-Encoding", "304 Vary")
                check(r.header("Content-Length") is None, "304 without Content-Length")
    # A split list header counts as one list.
    c = Conn(srv)
    c.send(get("/static/a.txt", headers=[("If-None-Match", '"x"'), ("If-None-Match", etag)]))
    r = c.read_response()
    check_eq(r.status, 304, "If-None-Match on two field lines")
    # A 304 ends with its head: the connection serves the next request.
    c.send(get("/static/a.txt"))
    check_eq(c.read_response().body, TEXT, "keep-alive after 304")
    c.close()


# ------------------------------------------------------------ precompressed variants

@case(args=ARGS)
def precompressed_variants(srv):
    ident = fetch(srv, "/static/comp/page.txt")
    check_eq((ident.body, ident.header("Content-Encoding")), (b"identity body\n", None), "none")
    tags = {None: ident.header("ETag")}
    for ae, enc, body in (
            ("gzip", "gzip", GZ),
            ("br", "br", b"br-bytes"),
            ("zstd", "zstd", b"zstd-bytes"),
            ("gzip, br, zstd", "br", b"br-bytes"),  # a tie: the server's order
            ("gzip;q=1, br;q=0.5", "gzip", None),
            ("zstd;q=0.9, br;q=0.8, gzip;q=0.1", "zstd", None),
            ("*", "br", None),
            ("br;q=0, *;q=0.5", "zstd", None),
            ("identity", None, b"identity body\n"),
            ("gzip;q=0", None, None),
            ("identity;q=1, gzip;q=0.5", None, None),
            ("compress", None, None)):
        r = fetch(srv, "/static/comp/page.txt", headers=[("Accept-Encoding", ae)])
        check_eq((r.status, r.header("Content-Encoding")), (200, enc), f"Accept-Encoding: {ae}")
        check_eq(r.header("Content-Type"), "text/plain; charset=utf-8", f"{ae}: original type")
        check_eq(r.header("Vary"), "Accept-Encoding", f"{ae}: Vary")
        if body is not None:
            check_eq(r.body, body, f"{ae}: body")
        if enc == "gzip":
            check_eq(gzip.decompress(r.body), b"identity body\n", "gzip round trip")
        tag = r.header("ETag")
        check(tags.setdefault(enc, tag) == tag, f"{ae}: one ETag per variant")
    check_eq(len(set(tags.values())), 4, f"distinct ETags per variant: {tags}")
    # A missing variant falls back to the next acceptable one.
    r = fetch(srv, "/static/comp/onlygz.js", headers=[("Accept-Encoding", "br, gzip;q=0.5")])
    check_eq((r.header("Content-Encoding"), r.header("Content-Type")),
             ("gzip", "text/javascript; charset=utf-8"), "fallback to gzip")
    # 304 on the variant's ETag, only for the same variant.
    gz = fetch(srv, "/static/comp/page.txt", headers=[("Accept-Encoding", "gzip")])
    r = fetch(srv, "/static/comp/page.txt",
              headers=[("Accept-Encoding", "gzip"), ("If-None-Match", gz.header("ETag"))])
    check_eq((r.status, r.header("ETag")), (304, gz.header("ETag")), "304 on the gzip ETag")
    r = fetch(srv, "/static/comp/page.txt", headers=[("If-None-Match", gz.header("ETag"))])
    check_eq(r.status, 200, "the gzip ETag does not match the identity file")
    # Ranges apply to the selected variant's bytes.
    r = fetch(srv, "/static/comp/page.txt", headers=[("Accept-Encoding", "br"),
                                                     ("Range", "bytes=0-1")])
    check_eq((r.status, r.body, r.header("Content-Range")), (206, b"br", "bytes 0-1/8"),
             "range of the br variant")


# ------------------------------------------------------------ cache and downloads

@case(args=ARGS)
def cached_files_follow_changes(srv):
    write("change.txt", b"version 1\n", OLD)
    for _ in range(3):  # fills the cache, then answers from it
        check_eq(fetch(srv, "/static/change.txt").body, b"version 1\n", "v1")
    write("change.txt", b"version 2\n", OLD + 1)  # same size, new mtime
    check_eq(fetch(srv, "/static/change.txt").body, b"version 2\n", "v2 (same size)")
    write("change.txt", b"version three\n", OLD + 1)  # same mtime, new size
    check_eq(fetch(srv, "/static/change.txt").body, b"version three\n", "v3 (same mtime)")
    os.unlink(os.path.join(ROOT, "change.txt"))
    check_eq(fetch(srv, "/static/change.txt").status, 404, "deleted")


@case(args=ARGS)
def download_with_content_disposition(srv):
    name = "caret \"quote\" na\u00efve.txt"
    from urllib.parse import quote
    r = fetch(srv, "/download/" + quote(name))
    check_eq((r.status, r.body), (200, b"name test\n"), "download")
    check_eq(r.header("Content-Disposition"),
             "attachment; filename=\"caret _quote_ na__ve.txt\"; "
             "filename*=UTF-8''caret%20%22quote%22%20na%C3%AFve.txt", "Content-Disposition")
    r = fetch(srv, "/download/large.bin")
    check_eq(r.body, LARGE, "large download")
    check_eq(r.header("Content-Disposition"),
             "attachment; filename=\"large.bin\"; filename*=UTF-8''large.bin", "plain name")
    for t in ("/download/.hidden", "/download/..%2fsecret.txt", "/download/nope", "/download/sub",
              "/download/out-abs"):
        r = fetch(srv, t)
        check_eq(r.status, 404, t)
        check(SECRET not in r.body, f"{t} shows the secret")


@case(args=ARGS)
def hangup_mid_file_cancels(srv):
    stats = StatsConn(srv)
    path = write("hang.bin", b"\0" * (64 << 20))
    os.chmod(path, 0o644)
    for target, hdrs in (("/static/hang.bin", ()), ("/download/hang.bin", ()),
                         ("/static/hang.bin", [("Range", "bytes=0-10,1000-" + str(40 << 20))])):
        base = stats.get()
        s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(get(target, headers=hdrs))
        check(len(s.recv(4096)) > 0, f"{target}: the body began")
        abort_sock(s)
        stats.wait_for(lambda st: st["cancels"] > base["cancels"]
                       and st["reqs_live"] <= base["reqs_live"]
                       and st["conns_live"] <= base["conns_live"]
                       and st["stacks_live"] <= base["stacks_live"],
                       f"{target} {hdrs}: a hang-up cancels the file and frees the request")
    stats.close()
    os.unlink(path)


@case(args=[*ARGS, "--static-cache-valid", "600000"])
def cache_valid_ms_trusts_the_cache(srv):
    write("trusted.txt", b"version 1\n", OLD)
    check_eq(fetch(srv, "/static/trusted.txt").body, b"version 1\n", "v1 (fills the cache)")
    write("trusted.txt", b"version 2 longer\n", OLD + 5)
    # Within cache_valid_ms the file system is not asked again: the cached bytes answer,
    # with their own validators, consistently.
    r = fetch(srv, "/static/trusted.txt")
    check_eq((r.body, r.header("Content-Length")), (b"version 1\n", "10"), "cached v1")
    r = fetch(srv, "/static/trusted.txt", headers=[("Range", "bytes=0-6")])
    check_eq((r.status, r.body), (206, b"version"), "a range of the cached bytes")
    # A request with a trailing slash, or for another name, is checked as usual.
    check_eq(fetch(srv, "/static/trusted.txt/").status, 404, "a file with a slash")
    check_eq(fetch(srv, "/static/a.txt").body, TEXT, "another file")


@case(args=[*ARGS, "--static-listing"])
def directory_listing_escapes_names(srv):
    write("list/<script>&\"'.txt", b"x")
    write("list/plain.txt", b"x")
    write("list/dir/inner.txt", b"x")
    write("list/.secret", b"x")
    r = fetch(srv, "/static/list/")
    check_eq((r.status, r.header("Content-Type")), (200, "text/html; charset=utf-8"), "listing")
    body = r.body.decode()
    check('<a href="%3Cscript%3E%26%22%27.txt">&lt;script&gt;&amp;&quot;&#39;.txt</a>' in body,
          f"escaped name in {body!r}")
    check('<a href="dir/">dir/</a>' in body and '<a href="plain.txt">plain.txt</a>' in body,
          f"entries in {body!r}")
    check(".secret" not in body, "hidden names are not listed")
    check("<script>" not in body, "no raw markup")
    check_eq(fetch(srv, "/static/sub/").body, b"<p>index</p>\n", "an index wins over a listing")


@case(args=[*ARGS, "--static-symlinks"])
def allowed_symlinks_stay_inside_the_root(srv):
    r = fetch(srv, "/static/in-link")
    check_eq((r.status, r.body), (200, TEXT), "a link to a file inside the root")
    write("deep/x.txt", b"deep\n")
    link = os.path.join(ROOT, "deep", "up")
    if not os.path.lexists(link):
        os.symlink("../a.txt", link)  # relative, and still inside
    check_eq(fetch(srv, "/static/deep/up").body, TEXT, "a relative link within the root")
    for t in ("/static/out-abs", "/static/out-rel", "/static/out-dir/secret.txt"):
        r = fetch(srv, t)
        check_eq(r.status, 404, f"{t}: a link out of the root (RESOLVE_BENEATH)")
        check(SECRET not in r.body, f"{t} shows the secret")


@case(args=[*ARGS, "--static-no-variants"])
def index_of_a_mount_without_variants(srv):
    # Regression: without RINGO_STATIC_PRECOMPRESSED a directory's index answered an
    # empty 200 (the index lookup's result leaked into the handler's return value).
    for _ in range(2):  # opened, then from the cache
        r = fetch(srv, "/static/sub/")
        check_eq((r.status, r.body), (200, b"<p>index</p>\n"), "index.html")
        check(r.header("Vary") is None, "no Vary without variants")
    r = fetch(srv, "/static/comp/page.txt", headers=[("Accept-Encoding", "gzip")])
    check_eq((r.body, r.header("Content-Encoding")), (b"identity body\n", None), "no variant")


# ------------------------------------------------------------ 1,000 downloads, unprivileged

@case(server=False)
def thousand_concurrent_downloads_unprivileged():
    n = 1000
    h.raise_nofile(n + 64)
    size = len(LARGE)
    srv = h.unprivileged_server(ARGS, readable=[f"{ROOT}/large.bin"])
    srv.start()
    try:
        check(fetch(srv, "/static/large.bin").body == LARGE, "warm-up download")
        base = h.proc_status(srv, "VmRSS")
        sel = selectors.DefaultSelector()
        socks = []
        for i in range(n):
            s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(get("/static/large.bin" if i % 2 else f"/download/large.bin",
                          headers=[("Connection", "close")]))
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, [bytearray(), hashlib.sha256(), 0])
        peak, done, deadline = base, 0, h.deadline_after(h.TIMEOUT * 12)
        while done < n:
            check(h.remaining(deadline) > 0, f"only {done} of {n} downloads finished")
            for key, _ in sel.select(timeout=1.0):
                st = key.data
                try:
                    chunk = key.fileobj.recv(262144)
                except BlockingIOError:
                    continue
                if chunk:
                    if st[2] == 0:
                        st[0] += chunk
                        i = st[0].find(b"\r\n\r\n")
                        if i >= 0:
                            check(st[0].startswith(b"HTTP/1.1 200"), f"status {st[0][:40]!r}")
                            st[2] = 1
                            st[1].update(bytes(st[0][i + 4:]))
                            st[0] = len(st[0]) - i - 4
                    else:
                        st[1].update(chunk)
                        st[0] += len(chunk)
                    continue
                sel.unregister(key.fileobj)
                key.fileobj.close()
                check_eq(st[0], size, "bytes of one download")
                check_eq(st[1].digest(), hashlib.sha256(LARGE).digest(), "SHA-256 of a download")
                done += 1
            peak = max(peak, h.proc_status(srv, "VmRSS"))
        grew = peak - base
        print(f"     {n} concurrent {size >> 20} MiB downloads: RSS grew {grew / 1048576:.1f} MiB")
        # Per connection: the stream window queued plus one read buffer (64 KiB each).
        bound = n * (2 * 65536) + (64 << 20)
        check(h.SANITIZED or grew < bound, f"RSS grew {grew >> 20} MiB (bound {bound >> 20} MiB)")
        srv.stop()
    except BaseException:
        srv.kill()
        srv.print_stderr()
        raise


if __name__ == "__main__":
    h.main()
