#!/usr/bin/env python3
"""
Description: the answer to a byte stream does not depend on how TCP cuts it.
Every case of the bad-input, limit, pipelining and body tables
(ringo_cases.py) is sent whole, one byte per segment, and cut in two at
every offset of its first head; each way must get the same responses (the
whole response, Date aside) and the same close behaviour (closed, or still
serving a request). Whole, each case must also get the statuses its table
lists.

Every segment is its own send() with TCP_NODELAY, followed by a pause, so
that the server reads and parses it before the next one arrives (a loaded
machine may still merge two; that only weakens a run, it cannot fail one).
Cases run a few connections at a time to stay within the time budget.
"""
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check  # noqa: E402
from ringo_cases import SMALL, segmentable  # noqa: E402

PAUSE = 0.002  # between two segments of one connection
PARALLEL = 4  # connections at a time
PROBE = h.get("/users/segmentation-probe")
PROBE_BODY = b'{"id":"segmentation-probe"}'
DATE_LINE = re.compile(rb"\r\nDate: [^\r]*")

CASES = segmentable()


def send_cut(c, data, cuts):
    """Sends data as segments ending at each offset in cuts, then the rest."""
    prev = 0
    for at in [*cuts, len(data)]:
        if at <= prev:
            continue
        if prev:
            time.sleep(PAUSE)
        if not c.send(data[prev:at], tolerate_close=True):
            return
        prev = at


def transcript(srv, data, cuts, nresp):
    """What the server answers to data cut at cuts: nresp responses (head
    without Date, and body), then "closed" or "open"."""
    c = Conn(srv)
    try:
        send_cut(c, data, cuts)
        out = []
        for _ in range(nresp):
            try:
                r = c.read_response()
            except h.Failure as e:
                out.append(f"no response: {e}"[:200])
                return out
            out.append(DATE_LINE.sub(b"", r.head) + b"\r\n\r\n" + r.body)
        # Closed, or still serving: a request sent now is answered or meets EOF.
        c.send(PROBE, tolerate_close=True)
        if not c.fill(h.deadline_after(h.TIMEOUT)):
            out.append("closed")
        else:
            r = c.read_response()
            out.append("open" if r.body == PROBE_BODY else f"probe answered {r!r}")
        return out
    finally:
        c.close()


def first_head_len(data):
    i = data.find(b"\r\n\r\n")
    return i + 4 if i >= 0 else len(data)


def whole(srv):
    """The whole-stream transcript of every case, and where it is not what its table says."""
    got = {}
    errors = []
    for name, data, statuses, closes in CASES:
        t = transcript(srv, data, [], len(statuses))
        got[name] = t
        seen = [int(x.split(b" ", 2)[1]) for x in t if isinstance(x, bytes)]
        want_close = "closed" if closes else "open"
        if seen != list(statuses) or t[-1] != want_close:
            errors.append(f"  {name}: expected {list(statuses)} {want_close}, got {t!r}")
    return got, errors


def compare(srv, how, runs):
    """runs: (case name, data, cuts, nresp). Every transcript must equal the whole one."""
    want, _ = whole(srv)
    with ThreadPoolExecutor(PARALLEL) as pool:
        got = list(pool.map(lambda r: (r[0], r[2], transcript(srv, r[1], r[2], r[3])), runs))
    diffs = [f"  {name} cut at {cuts[:3]}{'...' if len(cuts) > 3 else ''}:\n"
             f"    whole: {want[name]!r}\n    {how}: {t!r}"
             for name, cuts, t in got if t != want[name]]
    check(not diffs, f"{len(diffs)} of {len(runs)} streams answered differently {how}:\n" +
          "\n".join(diffs[:12]))


@case(args=SMALL)
def sent_whole(srv):
    _, errors = whole(srv)
    check(not errors, f"{len(errors)} of {len(CASES)} cases sent whole:\n" + "\n".join(errors))


@case(args=SMALL)
def one_byte_per_segment(srv):
    compare(srv, "one byte per segment",
            [(n, d, list(range(1, len(d))), len(s)) for n, d, s, _ in CASES])


@case(args=SMALL)
def cut_at_every_offset_of_the_head(srv):
    compare(srv, "cut in two",
            [(n, d, [at], len(s)) for n, d, s, _ in CASES for at in range(1, first_head_len(d))])


if __name__ == "__main__":
    h.main()
