#!/usr/bin/env python3
"""
Description: `ringo --check`: one well-formed verdict line per item (ok,
warn or fail, then the item and what was found), a "fix:" line under every
warn and fail, a last line with the worst verdict, and an exit status that
follows it (0 for ok or warnings, 1 for a failure). Every item ringo
depends on is there: the kernel, io_uring and its features, the opcodes,
the MSG_RING mode, the limits and sysctls, kTLS. A hard descriptor limit
too low for the configured rings and connections is a warning that says
how many connections each ring gets.
"""
import os
import re
import resource
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Server, case, check, check_eq  # noqa: E402

# "<verdict padded to 5> <item padded to 24> <detail>"
LINE_RE = re.compile(r"^(ok   |warn |fail ) (\S.{23}) (\S.*)$")
ITEMS = ("kernel", "io_uring", "io_uring features", "setup flags", "provided-buffer rings",
         "multishot accept", "multishot recv", "io_uring opcodes", "MSG_RING hand-back",
         "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "vm.max_map_count", "net.core.somaxconn",
         "net.ipv4.tcp_migrate_req", "kTLS")


def run_check(args=(), preexec=None):
    binary = Server().command()[0]
    p = subprocess.run([binary, "--check", *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=h.TIMEOUT, preexec_fn=preexec)
    return p.returncode, p.stdout.decode(), p.stderr.decode(errors="replace")


def parse(out):
    """{item: (verdict, detail, fix or None)} and the verdict line's word."""
    items, last, lines = {}, None, out.splitlines()
    check(lines and lines[-1].startswith("verdict: "), f"no verdict line last: {out!r}")
    for i, line in enumerate(lines[:-1]):
        if line.startswith("      fix: "):
            check(last is not None and items[last][0] != "ok", f"a fix under an ok line: {line!r}")
            items[last] = items[last][:2] + (line[11:],)
            continue
        m = LINE_RE.match(line)
        check(m, f"malformed line {i + 1}: {line!r}")
        last = m.group(2).rstrip()
        check(last not in items, f"{last} twice")
        items[last] = (m.group(1).rstrip(), m.group(3), None)
    for name, (verdict, _, fix) in items.items():
        check(verdict == "ok" or fix, f"{name}: {verdict} without a fix line")
    return items, lines[-1].split()[1]


@case(server=False)
def every_item_has_a_verdict(srv=None):
    rc, out, err = run_check()
    items, worst = parse(out)
    for name in ITEMS:
        check(name in items, f"no {name!r} line in:\n{out}")
    check_eq(items["io_uring"][0], "ok", "io_uring verdict (the server runs here)")
    verdicts = [v for v, _, _ in items.values()]
    want = "fail" if "fail" in verdicts else "warn" if "warn" in verdicts else "ok"
    check_eq(worst, want, "the verdict line")
    check_eq(rc, 1 if want == "fail" else 0, f"exit status (stderr {err!r})")


@case(server=False)
def low_descriptor_limit_warns(srv=None):
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    rc, out, _ = run_check(["--threads", "2", "--max-conns", "1000"], preexec=limit)
    items, _ = parse(out)
    verdict, detail, fix = items["RLIMIT_NOFILE"]
    check_eq(verdict, "warn", f"RLIMIT_NOFILE at 256 for 2 x 1000 connections: {detail!r}")
    check("hard limit 256: 96 connections per ring, not 1000" in detail, detail)
    check("2064" in fix, f"the fix names the limit needed (2 x 1000 + 64): {fix!r}")
    check(rc in (0, 1), f"exit status {rc}")


if __name__ == "__main__":
    h.main()
