#!/usr/bin/env python3
"""
Description: file bodies (ringo_resp_file) through the demo's
--files-dir route, on the sendfile path (the default for a file in the
page cache), the splice path (--file-no-sendfile: file -> pipe -> socket,
sequential and linked; and by default for a file evicted from the page
cache) and the copy path (--file-splice-min never): a large file
arrives whole (sha256), ranges through ?offset=&len= arrive exact, an
offset past the end is 416; a file that shrinks while sent cuts the
response (logged); requests pipelined behind a file are answered in order;
/metrics counts a body in ringo_bytes_sent_total however it left, and in
ringo_bytes_sent_direct_total when sendfile or splice sent it; a reader that stops reading holds at most the
window and the pipe and is dropped after --send-timeout (the cancels
counter rises); a hang-up mid-file cancels it; every pipe goes back to the
pool (/stats pipes_busy, and the stop line's pipes=0); 1,000 concurrent
downloads by a server running as `nobody` (root is exempt from
fs.pipe-user-pages-soft) all complete, without EMFILE or pipe exhaustion
and with bounded RSS.
"""
import atexit
import hashlib
import os
import selectors
import shutil
import socket
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, Failure, StatsConn, abort_sock, case, check, check_eq, get  # noqa: E402

BIG = (64 << 20) if h.SANITIZED else (256 << 20)
MID = 2 << 20  # above the splice threshold: the 1,000-download file

DIR = tempfile.mkdtemp(prefix="ringo-files-test-")
os.chmod(DIR, 0o755)
atexit.register(shutil.rmtree, DIR, True)


def make(name, size):
    path = os.path.join(DIR, name)
    sha = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            sha.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    os.chmod(path, 0o644)
    return sha.hexdigest()


BIG_SHA = make("big.bin", BIG)
make("mid.bin", MID)
make("small.bin", 4096)
with open(os.path.join(DIR, ".hidden"), "w") as f:
    f.write("secret")

SENDFILE = ["--files-dir", DIR]
SPLICE = ["--files-dir", DIR, "--file-no-sendfile"]
LINKED = SPLICE + ["--file-splice-linked"]
COPY = ["--files-dir", DIR, "--file-splice-min", "never"]


def head_and_body(s, deadline):
    """Reads one response's head from a socket; returns (status, headers, leftover)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        check(chunk, "connection closed before the head ended")
        buf += chunk
        check(h.remaining(deadline) > 0, "head not received in time")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, rest


def download(srv, target):
    """GET target; returns (status, headers, sha256 hex, body length)."""
    s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
    try:
        s.sendall(get(target))
        deadline = h.deadline_after(h.TIMEOUT * 6)
        status, hdrs, rest = head_and_body(s, deadline)
        want = int(hdrs.get("content-length", "0"))
        sha = hashlib.sha256(rest[:want])
        got = len(rest[:want])
        while got < want:
            chunk = s.recv(min(1 << 20, want - got))
            check(chunk, f"{target}: cut after {got} of {want} bytes")
            sha.update(chunk)
            got += len(chunk)
        return status, hdrs, sha.hexdigest(), got
    finally:
        s.close()


def file_bytes(name, off, n):
    with open(os.path.join(DIR, name), "rb") as f:
        f.seek(off)
        return f.read(n)


def check_whole_and_ranges(srv, label):
    status, hdrs, sha, n = download(srv, "/files/big.bin")
    check_eq(status, 200, f"{label}: status")
    check_eq(n, BIG, f"{label}: body length")
    check_eq(sha, BIG_SHA, f"{label}: sha256 of the {BIG >> 20} MiB file")
    for off, ln in ((0, 1), (100, 3000000), (4095, (1 << 20) + 7), (BIG - 10, None),
                    (BIG, None), (12345, 0), (1 << 20, 1 << 20)):
        q = f"?offset={off}" + (f"&len={ln}" if ln is not None else "")
        want = file_bytes("big.bin", off, BIG - off if ln is None else ln)
        status, hdrs, sha, n = download(srv, "/files/big.bin" + q)
        check_eq(status, 200, f"{label}: {q} status")
        check_eq(n, len(want), f"{label}: {q} length")
        check_eq(sha, hashlib.sha256(want).hexdigest(), f"{label}: {q} bytes")
    status, hdrs, _, _ = download(srv, f"/files/big.bin?offset={BIG + 1}")
    check_eq(status, 416, f"{label}: offset past the end")
    check_eq(hdrs.get("content-range"), f"bytes */{BIG}", f"{label}: 416 Content-Range")
    for bad in ("/files/.hidden", "/files/..", "/files/..%2Fbig.bin", "/files/%2Fetc%2Fpasswd",
                "/files/nothere"):
        status, _, _, _ = download(srv, bad)
        check_eq(status, 404, f"{label}: {bad}")
    st = StatsConn(srv)
    st.wait_for(lambda x: x["pipes_busy"] == 0, f"{label}: every pipe back in the pool")
    st.close()


def metric(srv, name):
    c = h.Conn(srv)
    r = c.exchange(get("/metrics"))
    c.close()
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise h.Failure(f"no {name} in /metrics")


def bytes_counted(srv, label, direct):
    """ringo_bytes_sent_total counts a file body however it left;
    ringo_bytes_sent_direct_total the part sendfile or splice sent."""
    sent, sent_direct = metric(srv, "ringo_bytes_sent_total"), \
        metric(srv, "ringo_bytes_sent_direct_total")
    status, _, sha, n = download(srv, "/files/big.bin")
    check_eq((status, n, sha), (200, BIG, BIG_SHA), f"{label}: the file")
    # The /metrics answer before the download is counted once its send completed: at least
    # the body and a head more.
    grew = metric(srv, "ringo_bytes_sent_total") - sent
    check(BIG < grew < BIG + 65536, f"{label}: ringo_bytes_sent_total rose by {grew}")
    check_eq(metric(srv, "ringo_bytes_sent_direct_total") - sent_direct, BIG if direct else 0,
             f"{label}: ringo_bytes_sent_direct_total")


@case(args=SENDFILE)
def sent_bytes_counted_sendfile(srv):
    bytes_counted(srv, "sendfile", True)


@case(args=SPLICE)
def sent_bytes_counted_splice(srv):
    bytes_counted(srv, "splice", True)


@case(args=COPY)
def sent_bytes_counted_copy(srv):
    bytes_counted(srv, "copy", False)


@case(args=SENDFILE)
def sendfile_sha256_and_ranges(srv):
    check_whole_and_ranges(srv, "sendfile")


def evict(name, ranges=((0, 0),)):
    """Drops the file's pages from the page cache (clean pages: fdatasync first); ranges:
    (offset, length) pairs, (0, 0) for the whole file."""
    fd = os.open(os.path.join(DIR, name), os.O_RDONLY)
    try:
        os.fdatasync(fd)
        for off, n in ranges:
            os.posix_fadvise(fd, off, n, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached_pages(name, off, n):
    """Pages of [off, off + n) in the page cache (cachestat(2), Linux 6.5)."""
    import ctypes
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    out = ctypes.create_string_buffer(40)
    fd = os.open(os.path.join(DIR, name), os.O_RDONLY)
    try:
        ret = libc.syscall(451, fd, struct.pack("QQ", off, n), out, 0)
    finally:
        os.close(fd)
    check_eq(ret, 0, "cachestat")
    return struct.unpack("5Q", out.raw)[0]


@case(args=SENDFILE)
def sendfile_cold_file_goes_by_splice(srv):
    """A body not in the page cache is not read on the ring thread: it goes
    by splice (io-wq reads it in), and arrives whole."""
    for _ in range(2):
        evict("big.bin")
        status, _, sha, n = download(srv, "/files/big.bin")
        check_eq((status, n, sha), (200, BIG, BIG_SHA), "cold file: status, length, sha256")
    st = StatsConn(srv)
    st.wait_for(lambda x: x["pipes_busy"] == 0, "cold file: the pipe is back")
    st.close()


@case(args=SENDFILE)
def sendfile_few_pages_evicted_stay_on_sendfile(srv):
    """Regression: one page of a 2 MiB span missing from the page cache sent the
    whole rest of the body by splice (through io-wq: more CPU per byte). Now the
    resident part goes by sendfile, the missing page is read in through the
    ring, and no pipe is taken. The client reads past the missing pages, then
    stops: the body is still on its way, and holds no pipe."""
    # Written 4 KiB at a time, so that its pages are small folios: the page cache
    # drops whole folios, and a file written or read in large pieces has large ones.
    name, size, page = "holes.bin", 32 << 20, os.sysconf("SC_PAGE_SIZE")
    sha = hashlib.sha256()
    with open(os.path.join(DIR, name), "wb") as f:
        for _ in range(size // 4096):
            b = os.urandom(4096)
            sha.update(b)
            f.write(b)
    holes = ((1 << 20, page), ((3 << 20) + 5 * page, 2 * page), (20 << 20, page))
    evict(name, holes)
    for off, n in holes:
        span = off - off % (2 << 20)
        left = cached_pages(name, span, 2 << 20)
        check(page * left * 2 > 2 << 20 and page * left < 2 << 20,
              f"the span at {span >> 20} MiB misses a few pages ({left} cached)")
    stats = StatsConn(srv)
    base = stats.get()
    s = socket.socket(srv.family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(h.TIMEOUT)
    s.connect((srv.connect_host, srv.port))
    s.sendall(get(f"/files/{name}"))
    deadline = h.deadline_after(h.TIMEOUT * 3)
    _, _, rest = head_and_body(s, deadline)
    got = len(rest)
    while got < 4 << 20:
        chunk = s.recv(65536)
        check(chunk, "the file began")
        got += len(chunk)
    st = stats.get()
    check_eq((st["reqs_live"] > base["reqs_live"], st["pipes_busy"]), (True, 0),
             "past the missing pages: the body is in flight without a pipe")
    abort_sock(s)
    stats.wait_for(lambda x: x["pipes_busy"] == 0 and x["reqs_live"] <= base["reqs_live"],
                   "hang-up ends it")
    stats.close()
    evict(name, holes)
    status, _, got_sha, n = download(srv, f"/files/{name}")
    check_eq((status, n, got_sha), (200, size, sha.hexdigest()),
             "pages missing: status, length, sha256")


@case(args=SPLICE)
def splice_sha256_and_ranges(srv):
    check_whole_and_ranges(srv, "splice")


@case(args=LINKED)
def linked_splice_sha256_and_ranges(srv):
    check_whole_and_ranges(srv, "linked splice")


@case(args=COPY)
def copy_sha256_and_ranges(srv):
    check_whole_and_ranges(srv, "copy")


def stalled_reader(srv, label):
    stats = StatsConn(srv)
    base = stats.get()
    rss0 = h.proc_status(srv, "VmRSS")
    s = socket.socket(srv.family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(h.TIMEOUT)
    s.connect((srv.connect_host, srv.port))
    s.sendall(get("/files/big.bin"))
    # Never read: the window (copy) or the pipe (splice) fills, the send timeout drops it.
    st = stats.wait_for(lambda st: st["reqs_live"] <= base["reqs_live"]
                        and st["conns_live"] <= base["conns_live"]
                        and st["pipes_busy"] == 0,
                        f"{label}: the stalled reader dropped", timeout=h.TIMEOUT * 3)
    grew = h.proc_status(srv, "VmRSS") - rss0
    check(h.SANITIZED or grew < 8 << 20, f"{label}: a stalled reader grew the server by "
          f"{grew >> 20} MiB")
    check(st["cancels"] > base["cancels"], f"{label}: the stalled file body was cancelled")
    s.close()
    stats.close()


@case(args=SENDFILE + ["--send-timeout", "1000"])
def sendfile_stalled_reader_dropped(srv):
    stalled_reader(srv, "sendfile")


@case(args=SPLICE + ["--send-timeout", "1000"])
def splice_stalled_reader_dropped(srv):
    stalled_reader(srv, "splice")


@case(args=LINKED + ["--send-timeout", "1000"])
def linked_stalled_reader_dropped(srv):
    stalled_reader(srv, "linked splice")


@case(args=COPY + ["--send-timeout", "1000"])
def copy_stalled_reader_dropped(srv):
    stalled_reader(srv, "copy")


def pipelined(srv, label):
    """A request pipelined behind a spliced file is read while the socket is lent,
    and answered after the file, in order."""
    c = Conn(srv)
    c.send(get("/files/mid.bin") + get("/files/small.bin") + get("/files/mid.bin?offset=7&len=9"))
    for want in (file_bytes("mid.bin", 0, MID), file_bytes("small.bin", 0, 4096),
                 file_bytes("mid.bin", 7, 9)):
        r = c.read_response()
        check_eq(r.status, 200, f"{label}: pipelined status")
        check(r.body == want, f"{label}: pipelined body of {len(want)} bytes")
    c.close()


@case(args=SENDFILE)
def sendfile_pipelined_in_order(srv):
    pipelined(srv, "sendfile")


@case(args=SPLICE)
def splice_pipelined_in_order(srv):
    pipelined(srv, "splice")


@case(args=LINKED)
def linked_pipelined_in_order(srv):
    pipelined(srv, "linked splice")


def shrink(srv, label):
    """The file shrinks while it is sent: the response is cut (never padded or
    mis-framed), the cut is logged, the pipe goes back."""
    name = f"shrink-{label.replace(' ', '-')}.bin"
    size = 64 << 20
    make(name, size)
    s = socket.socket(srv.family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(h.TIMEOUT)
    s.connect((srv.connect_host, srv.port))
    s.sendall(get(f"/files/{name}"))
    deadline = h.deadline_after(h.TIMEOUT * 3)
    status, hdrs, rest = head_and_body(s, deadline)
    check_eq(int(hdrs["content-length"]), size, f"{label}: declared length")
    got = len(rest)
    while got < 1 << 20:
        got += len(s.recv(65536))
    os.truncate(os.path.join(DIR, name), 8 << 20)
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
        check(h.remaining(deadline) > 0, f"{label}: the cut response did not end")
    s.close()
    check(got < size, f"{label}: {got} bytes of a file cut to 8 MiB (declared {size})")
    stats = StatsConn(srv)
    stats.wait_for(lambda st: st["pipes_busy"] == 0, f"{label}: the pipe is back")
    stats.close()
    check("fewer bytes than the declared Content-Length" in srv.stderr_text(),
          f"{label}: the cut is logged")


@case(args=SENDFILE)
def sendfile_file_shrinks_cut(srv):
    shrink(srv, "sendfile")


@case(args=SPLICE)
def splice_file_shrinks_cut(srv):
    shrink(srv, "splice")


@case(args=LINKED)
def linked_file_shrinks_cut(srv):
    shrink(srv, "linked splice")


@case(args=COPY)
def copy_file_shrinks_cut(srv):
    shrink(srv, "copy")


def hangup(srv, label):
    stats = StatsConn(srv)
    for _ in range(3):
        base = stats.get()
        s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(get("/files/big.bin"))
        got = 0
        while got < 4 << 20:
            chunk = s.recv(65536)
            check(chunk, f"{label}: the file began")
            got += len(chunk)
        abort_sock(s)
        stats.wait_for(lambda st: st["cancels"] > base["cancels"]
                       and st["reqs_live"] <= base["reqs_live"]
                       and st["conns_live"] <= base["conns_live"]
                       and st["stacks_live"] <= base["stacks_live"]
                       and st["pipes_busy"] == 0,
                       f"{label}: hang-up cancels the file body and returns its pipe")
    stats.close()


@case(args=SENDFILE)
def sendfile_hangup_cancels(srv):
    hangup(srv, "sendfile")


@case(args=SPLICE)
def splice_hangup_cancels(srv):
    hangup(srv, "splice")


@case(args=LINKED)
def linked_hangup_cancels(srv):
    hangup(srv, "linked splice")


@case(args=COPY)
def copy_hangup_cancels(srv):
    hangup(srv, "copy")


@case(server=False)
def shutdown_ends_a_stalled_splice():
    """A drain with a file body waiting for a reader that never reads: the
    body is cancelled at once (not after send_timeout_ms, 60 s here), the pipe
    goes back, the server stops clean (the leak check)."""
    for args in (SENDFILE, SPLICE, LINKED):
        srv = h.Server(args + ["--drain-timeout", "60000"])
        with srv:
            stats = StatsConn(srv)
            s = socket.socket(srv.family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(h.TIMEOUT)
            s.connect((srv.connect_host, srv.port))
            s.sendall(get("/files/big.bin"))
            if args is SENDFILE:
                # No pipe to watch: the head has arrived, so the body's hop runs.
                head_and_body(s, h.deadline_after(h.TIMEOUT))
            else:
                stats.wait_for(lambda st: st["pipes_busy"] == 1, f"{args}: the body is spliced")
            stats.close()
            t0 = time.monotonic()
            srv.stop()
            print(f"     {' '.join(args[2:]) or 'sendfile'}: stopped in "
                  f"{time.monotonic() - t0:.2f}s")
            s.close()


@case(server=False)
def thousand_downloads_as_nobody():
    thousand_downloads(SPLICE, "splice")


@case(server=False)
def sendfile_thousand_downloads_as_nobody():
    thousand_downloads(SENDFILE, "sendfile")


def thousand_downloads(base, label):
    n = 250 if h.SANITIZED else 1000
    h.raise_nofile(n + 64)
    args = base + ["--max-conns", str(n + 64)]
    srv = h.unprivileged_server(args, threads=2, readable=[os.path.join(DIR, "mid.bin")])
    srv.start()
    try:
        rss0 = h.proc_status(srv, "VmRSS")
        sel = selectors.DefaultSelector()
        want = {}
        req = get("/files/mid.bin")
        socks = []
        for _ in range(n):
            s = socket.socket(srv.family, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((srv.connect_host, srv.port))
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE)
            want[s] = [0, b"", None]  # got, head buffer, content-length
        done, peak, buf = 0, 0, bytearray(1 << 20)
        deadline = h.deadline_after(h.TIMEOUT * 12)
        while done < n:
            check(h.remaining(deadline) > 0, f"only {done} of {n} downloads finished in time")
            for key, ev in sel.select(timeout=1.0):
                s = key.fileobj
                st = want[s]
                if ev & selectors.EVENT_WRITE:
                    s.send(req)
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                k = s.recv_into(buf)
                check(k > 0, f"a download was cut after {st[0]} bytes")
                if st[2] is None:
                    st[1] += bytes(buf[:k])
                    if b"\r\n\r\n" not in st[1]:
                        continue
                    head, rest = st[1].split(b"\r\n\r\n", 1)
                    check(head.startswith(b"HTTP/1.1 200"), f"status line {head[:40]!r}")
                    cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    st[2] = int(cl[0].split(b":")[1])
                    st[0] = len(rest)
                else:
                    st[0] += k
                if st[0] >= st[2]:
                    check_eq(st[0], MID, "download length")
                    sel.unregister(s)
                    s.close()
                    done += 1
            peak = max(peak, h.proc_status(srv, "VmRSS") - rss0)
        print(f"     {label}: {n} concurrent downloads of {MID >> 20} MiB: RSS grew at most "
              f"{peak / 1048576:.1f} MiB")
        check(h.SANITIZED or peak < 256 << 20, f"RSS grew {peak >> 20} MiB for {n} downloads")
        stats = StatsConn(srv)
        stats.wait_for(lambda st: st["pipes_busy"] == 0 and st["conns_live"] <= 1,
                       "every pipe back in the pool")
        stats.close()
        err = srv.stderr_text()
        for bad in ("Too many open files", "reading the file body", "aborted"):
            check(bad not in err, f"server stderr mentions {bad!r}:\n{err}")
    finally:
        srv.stop()


if __name__ == "__main__":
    h.main()
