#!/usr/bin/env python3
"""
Description: systemd integration (--systemd). A launcher does what systemd
does: it binds the listening socket and passes it as descriptor 3
(LISTEN_FDS=1, LISTEN_PID), and receives the sd_notify datagrams on a unix
datagram socket (NOTIFY_SOCKET, a path or an @abstract name). ringo serves
on the passed socket (its rings share it), says READY=1 once listening,
WATCHDOG=1 at half of WATCHDOG_USEC while every ring makes progress (none
while a handler holds the ring) and STOPPING=1 on SIGTERM. The unit files
under examples/systemd/ pass `systemd-analyze verify`.
"""
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, Failure, Skip, case, check, check_eq, get  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Notify:
    """The NOTIFY_SOCKET end: a unix datagram socket and the messages it got, timestamped."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.name = f"@lifecycle-notify-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + self.name[1:])
        else:
            self.dir = tempfile.mkdtemp(prefix="lifecycle-notify-")
            self.name = os.path.join(self.dir, "notify")
            self.sock.bind(self.name)
        self.msgs = queue.Queue()
        self.log = []
        threading.Thread(target=self._recv, daemon=True).start()

    def _recv(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            t = time.monotonic()
            for line in data.decode().split("\n"):
                self.log.append((t, line))
                self.msgs.put(line)

    def wait_for(self, key, timeout=None):
        deadline = h.deadline_after(timeout or h.TIMEOUT)
        while True:
            try:
                line = self.msgs.get(timeout=max(0.01, h.remaining(deadline)))
            except queue.Empty:
                raise Failure(f"no {key} from the server; got {[l for _, l in self.log]}")
            if line == key or line.startswith(key + "="):
                return line

    def times(self, key):
        return [t for t, l in self.log if l == key]

    def close(self):
        self.sock.close()
        if not self.name.startswith("@"):
            shutil.rmtree(self.dir, ignore_errors=True)


class Activated(h.Server):
    """The demo started as systemd starts a socket-activated Type=notify service."""

    def __init__(self, listener, notify, args=(), threads=1, watchdog_usec=None):
        super().__init__(["--systemd", *args], threads)
        self.listeners = listener if isinstance(listener, list) else [listener]
        self.notify, self.watchdog_usec = notify, watchdog_usec

    def start(self):
        cmd = self.command()
        n = len(self.listeners)
        env = dict(os.environ, LISTEN_FDS=str(n), LISTEN_FDNAMES=":".join(["http"] * n),
                   NOTIFY_SOCKET=self.notify.name)
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        fds = [s.fileno() for s in self.listeners]

        def place():  # the passed sockets at 3, 4, ...: through 100 + i, so none clobbers another
            for i, fd in enumerate(fds):
                os.dup2(fd, 100 + i)
            for i in range(n):
                os.dup2(100 + i, 3 + i)

        # LISTEN_PID is the server's own pid: the shell's, which exec keeps.
        wrapped = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"', *cmd]
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr_file, env=env,
                                     pass_fds=tuple(range(3, 3 + n)), preexec_fn=place)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        try:
            line = self._lines.get(timeout=h.TIMEOUT)
        except queue.Empty:
            line = None
        m = h.LISTEN_RE.match(line or "")
        if not m:
            self.kill()
            raise Failure(f"no listening line (got {line!r}); stderr:\n{self.stderr_text()}")
        self.port = int(m["port"])
        return self


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def serve_on_passed_socket(abstract, threads):
    lsock, notify = listener(), Notify(abstract)
    try:
        with Activated(lsock, notify, threads=threads) as srv:
            check_eq(srv.port, lsock.getsockname()[1], "the port is the passed socket's")
            ready = notify.wait_for("READY")
            check_eq(ready, "READY=1", "READY=1 after listening")
            status = notify.wait_for("STATUS")
            check("sockets from systemd" in status, f"STATUS names socket activation: {status!r}")
            for i in range(2 * threads + 2):
                c = Conn(srv)
                r = c.exchange(get(f"/users/{i}"))
                check_eq((r.status, r.json()), (200, {"id": str(i)}), "served on the passed socket")
            check(notify.times("WATCHDOG=1") == [], "no WATCHDOG=1 without WATCHDOG_USEC")
            srv.send_signal(signal.SIGTERM)
            notify.wait_for("STOPPING")
            srv.wait_stopped()
        # The passed socket is systemd's (here the launcher's): it still listens.
        c = socket.create_connection(lsock.getsockname(), timeout=h.TIMEOUT)
        c.close()
    finally:
        lsock.close()
        notify.close()


@case(server=False)
def passed_socket_path_notify():
    serve_on_passed_socket(abstract=False, threads=1)


@case(server=False)
def passed_socket_shared_by_rings_abstract_notify():
    serve_on_passed_socket(abstract=True, threads=2)


@case(server=False)
def one_passed_socket_per_ring():
    socks, notify = [listener(), listener()], Notify()
    try:
        with Activated(socks, notify, threads=2) as srv:
            notify.wait_for("READY")
            for s in socks:
                for i in range(3):
                    c = socket.create_connection(s.getsockname(), timeout=h.TIMEOUT)
                    c.sendall(get(f"/users/{i}"))
                    data = b""
                    while b"\r\n\r\n" not in data or not data.endswith(f'"{i}"}}'.encode()):
                        chunk = c.recv(4096)
                        check(chunk, f"answer on passed socket {s.getsockname()[1]}: {data!r}")
                        data += chunk
                    check(data.startswith(b"HTTP/1.1 200 "), f"served: {data[:40]!r}")
                    c.close()
            srv.send_signal(signal.SIGTERM)
            srv.wait_stopped()
    finally:
        for s in socks:
            s.close()
        notify.close()


@case(server=False)
def more_sockets_than_rings_is_refused():
    socks, notify = [listener(), listener()], Notify()
    try:
        srv = Activated(socks, notify, threads=1)
        try:
            srv.start()
            raise Failure("started with two passed sockets and one ring")
        except Failure as e:
            check("more sockets passed than rings" in str(e), f"the refusal: {e}")
        srv.kill()
    finally:
        for s in socks:
            s.close()
        notify.close()


@case(server=False)
def watchdog_fed_only_while_the_ring_progresses():
    lsock, notify = listener(), Notify()
    block_ms = 3000
    try:
        with Activated(lsock, notify, ["--live-stall", 100], watchdog_usec=100000) as srv:
            notify.wait_for("READY")
            for _ in range(3):
                notify.wait_for("WATCHDOG")
            c = Conn(srv)
            sent = time.monotonic()
            r = c.exchange(get(f"/block?ms={block_ms}"))
            answered = time.monotonic()
            check_eq(r.status, 200, "/block")
            # The handler held the only ring for the whole of [end - 2900 ms, end], and
            # its end lies in [sent + 3 s, answered]: no ping may fall inside what is certain
            # (less 300 ms for the receiving thread's timestamps).
            lo, hi = answered - (block_ms - 100) / 1000 + 0.3, sent + block_ms / 1000
            inside = [t for t in notify.times("WATCHDOG=1") if lo <= t <= hi]
            check(inside == [], f"WATCHDOG=1 while the ring was held: {len(inside)} pings")
            n = len(notify.times("WATCHDOG=1"))
            deadline = h.deadline_after(h.TIMEOUT)
            while len(notify.times("WATCHDOG=1")) == n and h.remaining(deadline) > 0:
                time.sleep(0.05)
            check(len(notify.times("WATCHDOG=1")) > n, "WATCHDOG=1 again once the ring is free")
    finally:
        lsock.close()
        notify.close()


@case(server=False)
def without_systemd_the_variables_change_nothing():
    # LISTEN_PID names another process: the server binds its own port, as usual.
    lsock, notify = listener(), Notify()
    try:
        srv = h.Server(["--systemd"])
        os.environ.update(LISTEN_FDS="1", LISTEN_PID="1")
        try:
            srv.start()
        finally:
            del os.environ["LISTEN_FDS"], os.environ["LISTEN_PID"]
        try:
            check(srv.port != lsock.getsockname()[1], "bound its own port")
            check_eq(Conn(srv).exchange(get("/plaintext")).status, 200, "served")
        finally:
            srv.stop()
    finally:
        lsock.close()
        notify.close()


@case(server=False)
def unit_files_verify():
    tool = shutil.which("systemd-analyze")
    if not tool:
        raise Failure("systemd-analyze is missing (Debian package systemd)")
    with tempfile.TemporaryDirectory(prefix="lifecycle-units-") as d:
        for name in ("ringo.service", "ringo.socket"):
            with open(os.path.join(SRC, "examples", "systemd", name)) as f:
                text = f.read()
            with open(os.path.join(d, name), "w") as f:
                f.write(text.replace("/usr/local/bin/ringo", os.environ["RINGO_BIN"]))
        p = subprocess.run([tool, "verify", "--man=no", "./ringo.socket", "./ringo.service"],
                           cwd=d, capture_output=True, text=True, timeout=60)
        out = (p.stdout + p.stderr).strip()
        check_eq((p.returncode, out), (0, ""), "systemd-analyze verify (status, messages)")
    with open(os.path.join(SRC, "examples", "systemd", "ringo.service")) as f:
        unit = f.read()
    for want in ("Type=notify", "WatchdogSec=", "--systemd", "--shutdown-delay",
                 "TimeoutStopSec=", "KillSignal=SIGTERM"):
        check(want in unit, f"ringo.service sets {want}")


if __name__ == "__main__":
    h.main()
