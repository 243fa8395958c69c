#!/usr/bin/env python3
"""
Description: the deployment examples stay true. examples/seccomp/ringo.json
is exactly the container runtime's default profile (the installed
/usr/share/containers/seccomp.json) plus one rule allowing the three
io_uring calls, as examples/seccomp/generate.py writes it (when the
runtime's default changes, rerun the script). examples/kubernetes/ringo.yaml
uses that profile as a Localhost profile, probes /readyz and /livez, and
gives the pod a grace period longer than its shutdown delay plus the drain
and teardown timeouts.
"""
import json
import os
import sys

import yaml

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT = "/usr/share/containers/seccomp.json"
IO_URING = {"io_uring_setup", "io_uring_enter", "io_uring_register"}
DEFAULT_DRAIN_MS, TEARDOWN_MS, MARGIN_MS = 10000, 5000, 2000


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def seccomp_profile():
    with open(os.path.join(SRC, "examples", "seccomp", "ringo.json")) as f:
        ours = json.load(f)
    if not os.path.exists(DEFAULT):
        fail(f"{DEFAULT} missing: install golang-github-containers-common")
    with open(DEFAULT) as f:
        dflt = json.load(f)
    extra = [r for r in ours["syscalls"] if set(r["names"]) & IO_URING]
    if len(extra) != 1 or set(extra[0]["names"]) != IO_URING or extra[0]["action"] != "SCMP_ACT_ALLOW":
        fail(f"ringo.json: not one rule allowing exactly {sorted(IO_URING)}: {extra}")
    for r in dflt["syscalls"]:
        r["names"] = [n for n in r["names"] if n not in IO_URING]
    dflt["syscalls"] = [r for r in dflt["syscalls"] if r["names"]]
    ours["syscalls"] = [r for r in ours["syscalls"] if r is not extra[0]]
    if ours != dflt:
        fail("ringo.json differs from the runtime's default beyond the io_uring rule: "
             "rerun examples/seccomp/generate.py")
    print("ok   seccomp: ringo.json = the runtime default + io_uring_setup/enter/register")


def flag_ms(args, name, default):
    for a in args:
        if a.startswith(f"--{name}="):
            return int(a.split("=", 1)[1])
    return default


def kubernetes():
    with open(os.path.join(SRC, "examples", "kubernetes", "ringo.yaml")) as f:
        docs = list(yaml.safe_load_all(f))
    dep = next(d for d in docs if d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    prof = pod["securityContext"]["seccompProfile"]
    if prof["type"] != "Localhost" or not prof["localhostProfile"].endswith("ringo.json"):
        fail(f"seccompProfile is not the Localhost ringo.json: {prof}")
    c = pod["containers"][0]
    if c["readinessProbe"]["httpGet"]["path"] != "/readyz" or \
            c["livenessProbe"]["httpGet"]["path"] != "/livez":
        fail("probes are not /readyz (readiness) and /livez (liveness)")
    delay = flag_ms(c["args"], "shutdown-delay", 0)
    drain = flag_ms(c["args"], "drain-timeout", DEFAULT_DRAIN_MS)
    need = delay + drain + TEARDOWN_MS + MARGIN_MS
    if pod["terminationGracePeriodSeconds"] * 1000 < need:
        fail(f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} s < "
             f"shutdown delay + drain + teardown + margin = {need} ms")
    print(f"ok   kubernetes: Localhost profile, /readyz and /livez, grace "
          f"{pod['terminationGracePeriodSeconds']} s >= {need / 1000:g} s")


if __name__ == "__main__":
    seccomp_profile()
    kubernetes()
