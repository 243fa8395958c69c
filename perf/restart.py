#!/usr/bin/env python3
"""
perf/restart.py - failed requests across a rolling restart on one port.

For each run and each --shutdown-delay value, interleaved: start ringo with
--reuse-port, put a continuous keep-alive load on it (8 clients, GET
/users/<n>; tests/integration/lifecycle_load.py), start a second ringo on
the same port, SIGTERM the first, wait until it exited, and count the
requests that failed and why.

  RINGO_BIN=build/ringo python3 perf/restart.py --delays 0,2000 --rings 2 --runs 3
"""
import argparse
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.dont_write_bytecode = True

from lifecycle_load import Load  # noqa: E402
from ringo_harness import Server  # noqa: E402


def one(delay, rings, clients):
    flags = ["--reuse-port", "--shutdown-delay", delay]
    old = Server(flags, threads=rings).start()
    load = Load(old.port, clients=clients).start()
    new = None
    try:
        load.wait_for_ok(500, 30)
        new = Server([*flags, "--port", old.port], threads=rings).start()
        load.wait_for_ok(500, 30)
        old.send_signal(signal.SIGTERM)
        old.wait_stopped(timeout=120)
        load.wait_for_ok(500, 30)
    finally:
        ok, failures = load.stop()
        old.kill()
        if new:
            new.stop()
    kinds = {}
    for f in failures:
        k = f.split(":")[0]
        kinds[k] = kinds.get(k, 0) + 1
    return ok, len(failures), kinds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delays", default="0,2000")
    ap.add_argument("--rings", type=int, default=2)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    print("| run | --shutdown-delay | requests | failed | why |")
    print("|---|---|---|---|---|")
    for run in range(1, a.runs + 1):
        for d in a.delays.split(","):
            ok, failed, kinds = one(int(d), a.rings, a.clients)
            why = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "-"
            print(f"| {run} | {d} | {ok + failed} | {failed} | {why} |", flush=True)


if __name__ == "__main__":
    main()
