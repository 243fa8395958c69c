#!/usr/bin/env python3
"""
Description: perf/openloop/openloop.c, the open-loop load generator of perf/bench's
latency cases, against the demo at low rates. It must account for every request it
scheduled: each one is answered (counted under its status, with a latency), lost on a
closed connection, or timed out; rejections (503 from a full pool queue) have their
time to first byte recorded; a probe stream on its own connections is counted apart;
the --requests bound stops it at that count. Only counts are checked, never timings.

The generator is found next to RINGO_BIN (build/ringo_openloop) or at
RINGO_OPENLOOP_BIN.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import case, check, check_eq  # noqa: E402


def openloop_bin():
    b = os.environ.get("RINGO_OPENLOOP_BIN") or os.path.join(
        os.path.dirname(os.environ.get("RINGO_BIN", "")), "ringo_openloop")
    check(os.access(b, os.X_OK), f"no load generator at {b} (the ringo_openloop target)")
    return b


def run(srv, *args):
    """Runs the generator against srv; returns its JSON result."""
    with tempfile.NamedTemporaryFile(prefix="openloop-test-", suffix=".json") as f:
        cmd = [openloop_bin(), "--host", "127.0.0.1", "--port", str(srv.port),
               "--json", f.name, "--drain-ms", str(int(h.TIMEOUT * 1000))] + [str(a)
                                                                            for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=h.TIMEOUT * 3)
        check_eq(r.returncode, 0, f"openloop exit status ({r.stderr.strip()})")
        with open(f.name) as j:
            return json.load(j)


def accounted(s, what):
    """Every scheduled request is answered, lost or timed out; the histograms hold one
    sample per answer of their kind."""
    e = s["errors"]
    check_eq(s["completed"] + e["closed"] + e["timeout"], s["scheduled"],
             f"{what}: answered + lost + timed out")
    check_eq(sum(s["status"].values()), s["completed"], f"{what}: statuses")
    lat = s["latency_us"]
    check_eq(lat["all"]["n"], s["completed"], f"{what}: latency samples")
    ok = sum(n for k, n in s["status"].items() if k.startswith("2"))
    check_eq(lat["ok"]["n"], ok, f"{what}: 2xx latency samples")
    rej = sum(n for k, n in s["status"].items() if k.startswith("5") or k == "429")
    check_eq(lat["ttfb_rejected"]["n"], rej, f"{what}: rejection TTFB samples")
    check_eq(lat["send_lag"]["n"], s["scheduled"], f"{what}: send-lag samples")
    check(lat["all"]["p50"] <= lat["all"]["p99"] <= lat["all"]["p999"] <= lat["all"]["max"],
          f"{what}: percentiles out of order: {lat['all']}")


@case()
def every_request_answered_and_counted(srv):
    d = run(srv, "--path", "/plaintext", "--rate", 400, "--conns", 8, "--requests", 400,
            "--duration", 60, "--probe", "/stats", "--probe-rate", 20, "--probe-conns", 2)
    main, probe = d["streams"]
    check_eq(main["scheduled"], 400, "the --requests bound")
    accounted(main, "/plaintext")
    check_eq(main["status"], {"200": 400}, "/plaintext statuses")
    check_eq(main["errors"], {"closed": 0, "timeout": 0, "parse": 0, "reconnects": 0},
             "/plaintext errors")
    check_eq(probe["path"], "/stats", "probe path")
    accounted(probe, "probe")
    check_eq(probe["status"], {"200": probe["scheduled"]}, "probe statuses")


@case()
def statuses_counted_apart(srv):
    d = run(srv, "--path", "/no/such/route", "--rate", 200, "--conns", 4, "--requests", 50)
    s = d["streams"][0]
    accounted(s, "404s")
    check_eq(s["status"], {"404": 50}, "statuses")
    check_eq(s["good"], 0, "goodput counts 2xx only")


@case()
def closing_answers_reconnect(srv):
    d = run(srv, "--path", "/plaintext", "--rate", 100, "--conns", 4, "--requests", 40,
            "--header", "Connection: close")
    s = d["streams"][0]
    accounted(s, "Connection: close")
    check(s["errors"]["reconnects"] >= s["completed"],
          f"each closing answer reconnects: {s['errors']}")
    check(s["completed"] > 0, "answers on closing connections")


@case(args=["--pool-threads", 1, "--max-pool-queue", 1])
def rejections_have_ttfb(srv):
    # One worker, a queue of one, 100 ms jobs, 20 requests within 0.4 s: at most a few
    # fit, the rest are refused with 503 on the spot.
    d = run(srv, "--path", "/sync/sleep?ms=100", "--rate", 50, "--conns", 20,
            "--requests", 20)
    s = d["streams"][0]
    accounted(s, "/sync/sleep")
    check(set(s["status"]) <= {"200", "503"}, f"statuses: {s['status']}")
    check(s["status"].get("503", 0) > 0, f"no rejection: {s['status']}")
    check(s["status"].get("200", 0) > 0, f"nothing admitted: {s['status']}")


if __name__ == "__main__":
    h.main()
