#!/usr/bin/env python3
"""
Description: ringo under container seccomp profiles, applied by
tests/seccomp/seccomp_exec (libseccomp) as a container runtime would. Under
the runtime's default profile (/usr/share/containers/seccomp.json: io_uring
denied; also with EPERM, as Docker's own default answers) the server
prints one line naming io_uring, the seccomp filter and
the fix, and exits 69; under examples/seccomp/ringo.json it serves requests
on the sync and async paths and stops cleanly; under ringo.json minus only
io_uring_enter, or only io_uring_register, the line still names io_uring
and the call refused (before, these got a ring or pool error that did not).
`ringo --check` under the default profile says the same and exits 69.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import ringo_harness as h  # noqa: E402
from ringo_harness import Server, case, check, check_eq  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
RUNTIME_DEFAULT = "/usr/share/containers/seccomp.json"
RINGO_PROFILE = os.path.join(SRC, "examples", "seccomp", "ringo.json")
EXIT_NO_IO_URING = 69


def launcher():
    exe = os.environ.get("RINGO_SECCOMP_EXEC")
    if not exe or not os.access(exe, os.X_OK):
        raise h.Failure("env RINGO_SECCOMP_EXEC (tests/seccomp/seccomp_exec) is not set")
    if not os.path.exists(RUNTIME_DEFAULT):
        raise h.Failure(f"{RUNTIME_DEFAULT} missing: install golang-github-containers-common")
    return exe


class SeccompServer(Server):
    def __init__(self, profile, args=(), threads=1):
        super().__init__(args, threads=threads)
        self.profile = profile

    def command(self):
        return [launcher(), self.profile, "--", *super().command()]


def without(name):
    """ringo.json with one io_uring call taken out of its io_uring rule."""
    with open(RINGO_PROFILE) as f:
        p = json.load(f)
    for rule in p["syscalls"]:
        if "io_uring_setup" in rule["names"]:
            rule["names"] = [n for n in rule["names"] if n != name]
    f = tempfile.NamedTemporaryFile("w", prefix=f"install-seccomp-{name}-", suffix=".json",
                                    delete=False)
    json.dump(p, f)
    f.close()
    return f.name


def run_refused(profile, args=()):
    cmd = [launcher(), profile, "--", *Server().command()[:1], "--host", "127.0.0.1", "--port",
           "0", "--threads", "1", *args]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=h.TIMEOUT)
    except subprocess.TimeoutExpired:
        raise h.Failure(f"kept running under {profile}")
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    check("listening on" not in out, f"claims to listen under {profile}: {out!r}")
    return p.returncode, out, err


def check_message(err, call):
    lines = [l for l in err.splitlines() if l.startswith("ringo: io_uring is unavailable: ")]
    check(len(lines) == 1, f"no single io_uring line on stderr: {err!r}")
    line = lines[0]
    check(f"{call} failed" in line, f"the line does not name {call}: {line!r}")
    check("seccomp filter" in line and "examples/seccomp/ringo.json" in line,
          f"the line does not name the seccomp filter and the fix: {line!r}")
    check("sync-handler pool" not in err and "ring setup failed" not in err,
          f"a later failure was reported too: {err!r}")


@case(server=False)
def runtime_default_denies_io_uring(srv=None):
    rc, _, err = run_refused(RUNTIME_DEFAULT)
    check_eq(rc, EXIT_NO_IO_URING, f"exit status (stderr: {err.strip()!r})")
    check_message(err, "io_uring_setup")


@case(server=False)
def eperm_default_denies_io_uring(srv=None):
    """Docker's own default profile answers EPERM (defaultErrnoRet 1) where
    Podman's answers ENOSYS: the same line either way."""
    with open(RUNTIME_DEFAULT) as f:
        p = json.load(f)
    p["defaultErrnoRet"] = 1
    tmp = tempfile.NamedTemporaryFile("w", prefix="install-seccomp-eperm-", suffix=".json",
                                      delete=False)
    json.dump(p, tmp)
    tmp.close()
    try:
        rc, _, err = run_refused(tmp.name)
    finally:
        os.unlink(tmp.name)
    check_eq(rc, EXIT_NO_IO_URING, f"exit status (stderr: {err.strip()!r})")
    check_message(err, "io_uring_setup")
    check("(Operation not permitted)" in err, err)


@case(server=False)
def ringo_profile_serves(srv=None):
    with SeccompServer(RINGO_PROFILE, threads=2) as s:
        for target in ("/plaintext", "/sync/plaintext", "/sleep?ms=1"):
            r, _ = h.http_request(s, "GET", target)
            check_eq(r.status, 200, f"GET {target}")
        h.check_alive(s)


@case(server=False)
def only_enter_denied(srv=None):
    path = without("io_uring_enter")
    try:
        rc, _, err = run_refused(path)
    finally:
        os.unlink(path)
    check_eq(rc, EXIT_NO_IO_URING, f"exit status (stderr: {err.strip()!r})")
    check_message(err, "io_uring_enter")


@case(server=False)
def only_register_denied(srv=None):
    path = without("io_uring_register")
    try:
        rc, _, err = run_refused(path)
    finally:
        os.unlink(path)
    check_eq(rc, EXIT_NO_IO_URING, f"exit status (stderr: {err.strip()!r})")
    check_message(err, "io_uring_register")


@case(server=False)
def check_under_runtime_default(srv=None):
    cmd = [launcher(), RUNTIME_DEFAULT, "--", Server().command()[0], "--check"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=h.TIMEOUT)
    out = p.stdout.decode(errors="replace")
    check_eq(p.returncode, EXIT_NO_IO_URING, f"ringo --check exit status:\n{out}")
    lines = out.splitlines()
    bad = [i for i, l in enumerate(lines) if l.startswith("fail  io_uring ")]
    check(len(bad) == 1 and "a seccomp filter denies it" in lines[bad[0]], out)
    check(lines[bad[0] + 1].startswith("      fix: ") and "ringo.json" in lines[bad[0] + 1], out)
    check(lines[-1].startswith("verdict: fail"), out)


if __name__ == "__main__":
    h.main()
