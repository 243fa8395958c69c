"""Hold N idle keep-alive connections to a server (perf/bench's connection-scaling case).

Each connection sends one request and reads its whole response, so the server has seen a
real request on it, then stays idle until this process is told to stop (SIGTERM, SIGINT,
or stdin closing). Connections are opened in batches, each batch answered before the
next, so a short accept backlog never drops a SYN. Source addresses are spread over
127.0.0.2 ... (--sources of them) so that ephemeral ports never run out.

Prints "ready N" once all N connections have their answer, then "closed" at the end.

Usage: idle.py --port P [--host 127.0.0.1] [--conns 10000] [--path /plaintext]
"""
import argparse
import errno
import resource
import selectors
import signal
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24  # Linux 4.2: pick the port at connect(), per 4-tuple


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft < need:
        sys.exit(f"idle: RLIMIT_NOFILE {soft} is below {need}: raise `ulimit -n`")


def open_one(host, port, i, sources):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    if sources:
        s.bind((f"127.0.0.{2 + i % sources}", 0))
    s.setblocking(False)
    err = s.connect_ex((host, port))
    if err not in (0, errno.EINPROGRESS):
        raise OSError(err, f"connect: {errno.errorcode.get(err, err)}")
    return s


def response_done(buf):
    """True once buf holds a whole response with a Content-Length body."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def run_batch(socks, request, deadline):
    """Connect, send one request and read one response on every socket of the batch."""
    sel = selectors.DefaultSelector()
    state = {}
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
        state[s] = b""
    left = len(socks)
    while left:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{left} connections of a batch got no answer")
        for key, ev in sel.select(timeout=1.0):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, f"connect: {errno.errorcode.get(err, err)}")
                s.send(request)
                sel.modify(s, selectors.EVENT_READ)
                continue
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("server closed an idle connection during setup")
            state[s] += chunk
            if response_done(state[s]):
                sel.unregister(s)
                left -= 1
    sel.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--path", default="/plaintext")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--sources", type=int, default=8, help="127.0.0.x source addresses")
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()

    raise_nofile(a.conns + 64)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    request = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n\r\n").encode()
    deadline = time.monotonic() + a.timeout
    held = []
    while len(held) < a.conns and not stop:
        n = min(a.batch, a.conns - len(held))
        batch = [open_one(a.host, a.port, len(held) + i, a.sources) for i in range(n)]
        run_batch(batch, request, deadline)
        held.extend(batch)
    print(f"ready {len(held)}", flush=True)

    # Idle until told to stop; a server that closes our connections shows up as readable.
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ)
    closed_by_server = 0
    for s in held:
        sel.register(s, selectors.EVENT_READ)
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            if key.fileobj is sys.stdin:
                if not sys.stdin.buffer.read1(4096):
                    stop.append(1)
                continue
            sel.unregister(key.fileobj)
            closed_by_server += 1
    for s in held:
        s.close()
    print(f"closed {len(held)} (server closed {closed_by_server} early)", flush=True)


if __name__ == "__main__":
    main()
