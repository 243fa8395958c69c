#!/usr/bin/env python3
"""
Description: batched waits (ringo_config.batch_wait_us). A ring whose
connections are busy lets the kernel gather completions before it wakes; with
few active connections every wait ends at the first completion.

- many_busy_connections_batch: 32 keep-alive connections each send a request
  in every round, then every answer is read and checked. Once 16 or more of
  them received data within one millisecond, the ring's next waits are batched
  (batched_waits in /stats rises). The rounds are bounded (at most 400); a
  round sends its 32 requests back to back, so on a loaded machine some rounds
  may miss the millisecond, but not all of them.
- lone_client_never_batches: one connection, 300 requests one after another:
  batched_waits stays 0, so a lone client never waits for the batch timer.
- off_never_batches: --batch-wait 0 (RINGO_BATCH_WAIT_OFF), the busy rounds
  again: batched_waits stays 0, and every answer is still right.

Batched waits need Linux 6.12 (IORING_FEAT_MIN_TIMEOUT): without it `ringo
--check` says so and the cases that expect batching are skipped.
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, Skip, case, check, check_eq, get  # noqa: E402

CONNS = 32
MAX_ROUNDS = 400


def kernel_batches():
    out = subprocess.run([os.environ["RINGO_BIN"], "--check"], capture_output=True, text=True)
    return "MIN_TIMEOUT yes" in out.stdout + out.stderr


def batched_waits(c):
    r = c.exchange(get("/stats"))
    check_eq(r.status, 200, "GET /stats")
    return r.json()["batched_waits"]


def busy_rounds(srv, rounds, stop_when_batched):
    """Rounds of one request on each of CONNS connections; returns batched_waits after
    them (checked every 10 rounds when stop_when_batched)."""
    conns = [Conn(srv) for _ in range(CONNS)]
    stats = Conn(srv)
    req = get("/plaintext")
    for n in range(1, rounds + 1):
        for c in conns:
            c.send(req)
        for c in conns:
            check(h.hello_ok(c.read_response()), f"round {n}: GET /plaintext")
        if stop_when_batched and n % 10 == 0 and batched_waits(stats) > 0:
            break
    return batched_waits(stats)


@case(args=("--batch-wait", "50"))
def many_busy_connections_batch(srv):
    if not kernel_batches():
        raise Skip("the kernel has no IORING_FEAT_MIN_TIMEOUT (Linux 6.12): no batched waits")
    got = busy_rounds(srv, MAX_ROUNDS, True)
    check(got > 0, f"{MAX_ROUNDS} rounds on {CONNS} connections: batched_waits {got}")


@case(args=("--batch-wait", "60"))
def lone_client_never_batches(srv):
    c = Conn(srv)
    for n in range(300):
        check(h.hello_ok(c.exchange(get("/plaintext"))), f"request {n}")
    check_eq(batched_waits(c), 0, "batched_waits after one client's 300 requests")


@case(args=("--batch-wait", "0"))
def off_never_batches(srv):
    check_eq(busy_rounds(srv, 100, False), 0, "batched_waits with --batch-wait 0")


if __name__ == "__main__":
    h.main()
