"""Send exactly N requests and read their N responses (wrk cannot stop at a count).

Used by perf/callgrind.sh, where the count is what turns an instruction total into
instructions per request. Each of --conns keep-alive connections writes --depth requests
at a time (depth 1: plain request/response; depth 16: pipelined) and writes the next batch
once the whole batch is answered. Responses are framed by Content-Length.

Usage: loadgen.py --port P [--requests 20000] [--conns 16] [--depth 1] [--path /plaintext]
Prints "loadgen: N responses in S s (R req/s)"; exit status 1 on a non-200 or a close.
"""
import argparse
import selectors
import socket
import sys
import time


class Conn:
    def __init__(self, host, port, request, depth):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request, self.depth = request, depth
        self.buf = b""
        self.pending = 0

    def send_batch(self, n):
        self.pending = n
        self.sock.sendall(self.request * n)

    def take_responses(self):
        """Whole responses at the front of buf: (count, statuses that were not 200)."""
        done, bad = 0, []
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = self.buf[:head_end].decode("latin-1")
            status = head.split(" ", 2)[1] if " " in head else "?"
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buf) < end:
                break
            self.buf = self.buf[end:]
            done += 1
            if status != "200":
                bad.append(status)
        return done, bad


def run(a):
    request = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    conns = [Conn(a.host, a.port, request, a.depth) for _ in range(min(a.conns, a.requests))]
    sent = received = 0
    for c in conns:
        n = min(a.depth, a.requests - sent)
        if n:
            c.send_batch(n)
            sent += n
        sel.register(c.sock, selectors.EVENT_READ, c)
    t0 = time.monotonic()
    while received < a.requests:
        events = sel.select(timeout=a.timeout)
        if not events:
            sys.exit(f"loadgen: no response for {a.timeout} s ({received}/{a.requests})")
        for key, _ in events:
            c = key.data
            chunk = c.sock.recv(262144)
            if not chunk:
                sys.exit(f"loadgen: server closed a connection ({received}/{a.requests})")
            c.buf += chunk
            n, bad = c.take_responses()
            if bad:
                sys.exit(f"loadgen: status {bad[0]} from {a.path}")
            received += n
            c.pending -= n
            if c.pending == 0 and sent < a.requests:
                n = min(a.depth, a.requests - sent)
                c.send_batch(n)
                sent += n
    elapsed = time.monotonic() - t0
    for c in conns:
        c.sock.close()
    print(f"loadgen: {received} responses in {elapsed:.2f} s "
          f"({received / elapsed if elapsed else 0:,.0f} req/s)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--path", default="/plaintext")
    ap.add_argument("--timeout", type=float, default=60.0)
    run(ap.parse_args())


if __name__ == "__main__":
    main()
