#!/usr/bin/env python3
"""
Description: 1000 connections abandoned in every state (connected and
silent, half a request line, half the headers, half a body, a complete
pipeline whose responses are never read, a large echo in flight), closed
with a FIN or reset with an RST (SO_LINGER 0), in batches. Afterwards the
server still answers and its shutdown reports zero live connections,
requests, buffers and stacks.
"""
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check, chunked, get, request  # noqa: E402

HALF = [
    b"",                                                        # silent
    b"GET /plaint",                                             # half a request line
    b"GET /plaintext HTTP/1.1\r\nHost: a\r\nUser-Ag",           # half the headers
    request("POST", "/echo", headers={"Content-Length": "1000"}) + b"x" * 300,  # half a body
    request("POST", "/echo", headers={"Transfer-Encoding": "chunked"}) + b"10\r\nabc",
    b"".join(get(f"/users/{i}") for i in range(20)),            # answers never read
    request("POST", "/echo", body=b"e" * 300000),               # large echo in flight
    request("POST", "/echo", headers={"Content-Length": "10", "Expect": "100-continue"}),
    get("/plaintext") + b"GET /json HTTP/1.1\r\n",              # one done, one half
    request("POST", "/echo", headers={"Transfer-Encoding": "chunked"},
            body=chunked([b"q" * 100] * 3))[:-3],               # chunked, last CRLFs missing
]

TOTAL = 1000
BATCH = 100


@case()
def abort_1000(srv):
    deadline = h.deadline_after(6 * h.TIMEOUT)
    done = 0
    while done < TOTAL:
        check(h.remaining(deadline) > 0, f"only {done} connections aborted in time")
        conns = []
        for i in range(BATCH):
            c = Conn(srv)
            data = HALF[(done + i) % len(HALF)]
            if data:
                c.send(data, tolerate_close=True)
            conns.append(c)
        for i, c in enumerate(conns):
            if (done + i) % 2:
                c.abort()
            else:
                c.close()
        done += BATCH
        if done % 500 == 0:
            h.check_alive(srv)
    h.check_alive(srv)


@case()
def abort_while_sending(srv):
    # Large responses cut off mid-send, repeatedly.
    for i in range(40):
        c = Conn(srv, rcvbuf=8192)
        c.send(b"".join(request("POST", "/echo", body=b"m" * 100000) for _ in range(3)),
               tolerate_close=True)
        if i % 4 == 0:
            c.read_response()  # part way into the stream, then go
        time.sleep(0.005)
        if i % 2:
            c.abort()
        else:
            c.close()
    h.check_alive(srv)


@case()
def half_close_after_request(srv):
    # shutdown(SHUT_WR) after a complete request: the answer still arrives.
    c = Conn(srv)
    c.send(get("/users/halfclose"))
    c.sock.shutdown(socket.SHUT_WR)
    r = c.read_response()
    check(r.status == 200 and r.json() == {"id": "halfclose"}, f"answer after SHUT_WR: {r!r}")
    c.read_until_close()


if __name__ == "__main__":
    h.main()
