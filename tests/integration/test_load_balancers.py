#!/usr/bin/env python3
"""
Description: ringo behind real load balancers. Two ringo instances on
127.0.0.1 (fixed free ports, started and stopped by the test), in front of
them HAProxy (Debian's haproxy) or nginx, each started with a generated
configuration and stopped by its PID.

HAProxy: health checks on /readyz, PROXY v2 to ringo (send-proxy-v2,
check-send-proxy): GET /whoami reports the client's own address (the
client connects from 127.0.0.2, only 127.0.0.1 is trusted). nginx:
keep-alive upstream connections (keepalive, proxy_http_version 1.1, an
empty Connection header): many requests ride few connections; its
X-Forwarded-For is believed (ringo trusts 127.0.0.1): /whoami reports the
client at 127.0.0.2 and not the address the client forged in its own
X-Forwarded-For. The sample configurations under examples/ pass
`haproxy -c` and `nginx -t`.

Rolling restart under a continuous keep-alive load (8 clients, at least
LOAD_SECONDS): each instance in turn gets SIGTERM with --shutdown-delay
(readiness turns 503 at once, every route keeps serving with
Connection: close), exits, starts again on its port, and the next one
waits until the balancer sees it healthy; HAProxy must mark the stopping
instance down (its /readyz answers 503) while it still serves. nginx (open source) has no
active health checks and marks a refused server down for fail_timeout:
behind it the new process starts on the port (--reuse-port) while the old
one is a lame duck, so nginx never meets a closed port. Every failed client request is
counted; there must be none. HAProxy runs with "retries 0" so that none is
hidden by a retry. The delay follows the rule of docs/operations.md:
delay >= (fall + 1) x inter + margin (here inter 200 ms, fall 2: 600 ms,
delay 3000 ms).

RINGO_LB_MEASURE=1 with RINGO_LB_DELAY_MS=0 measures the baseline (a plain
SIGTERM): the failures are printed instead of checked. RINGO_LB_LOAD=ab
makes the load `ab -k -c 100` (apache2-utils) instead of the 8 Python
clients.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from lifecycle_load import Load  # noqa: E402
from ringo_harness import Server, case, check, check_eq  # noqa: E402

DELAY_MS = int(os.environ.get("RINGO_LB_DELAY_MS", "3000"))
MEASURE = bool(os.environ.get("RINGO_LB_MEASURE"))
LOAD_SECONDS = 10.0
AB = os.environ.get("RINGO_LB_LOAD") == "ab"
CLIENT_ADDR = "127.0.0.2"  # a client address the instances do not trust


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(tool):
    path = shutil.which(tool) or (os.path.exists(f"/usr/sbin/{tool}") and f"/usr/sbin/{tool}")
    if not path:
        raise h.Failure(f"{tool} is not installed (scripts/deps.sh {tool})")
    return path


def ringo(port, extra):
    args = ["--port", str(port), "--shutdown-delay", str(DELAY_MS), "--drain-timeout", "5000",
            *extra]
    return Server(args, threads=1)


def get_from(port, path, headers=None, timeout=None):
    """One request from CLIENT_ADDR; (status, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout or h.TIMEOUT,
                                 source_address=(CLIENT_ADDR, 0))
    try:
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: lb\r\n{hdrs}Connection: close\r\n\r\n".encode())
        r = h.Conn.__new__(h.Conn)
        h.Reader.__init__(r)
        r.sock, r.timeout = s, timeout or h.TIMEOUT
        resp = r.read_response()
        return resp.status, resp.body, s.getsockname()[1]
    finally:
        s.close()


class Proxy:
    """A load balancer process with a generated configuration, stopped by PID."""

    def __init__(self, argv, tmp, name):
        self.log = open(os.path.join(tmp, f"{name}.log"), "w+b")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.name = name

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=h.TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def haproxy(tmp, fe, ports):
    sock = os.path.join(tmp, "haproxy.sock")
    servers = "".join(f"    server r{i} 127.0.0.1:{p}\n" for i, p in enumerate(ports))
    cfg = f"""global
    maxconn 512
    stats socket {sock} mode 600 level admin
defaults
    mode http
    retries 0
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /readyz
    default-server check inter 200ms fall 2 rise 2 send-proxy-v2 check-send-proxy
{servers}"""
    path = os.path.join(tmp, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    p = Proxy([need("haproxy"), "-db", "-f", path], tmp, "haproxy")
    p.sock = sock
    return p


def haproxy_status(p):
    """{server name: status} from the stats socket (UP, DOWN, ...)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(h.TIMEOUT)
    try:
        s.connect(p.sock)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    lines = data.decode().splitlines()
    cols = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        f = line.split(",")
        if len(f) == len(cols) and f[0] == "be" and f[1] not in ("BACKEND", "FRONTEND"):
            out[f[1]] = f[cols.index("status")]
    return out


def wait_until(cond, what, timeout=None):
    end = time.monotonic() + (timeout or 3 * h.TIMEOUT)
    while time.monotonic() < end:
        try:
            if cond():
                return
        except (OSError, IndexError):
            pass
        time.sleep(0.05)
    raise h.Failure(f"timed out waiting until {what}")


def nginx(tmp, fe, ports):
    servers = "".join(f"        server 127.0.0.1:{p};\n" for p in ports)
    temp = "".join(f"    {k}_temp_path {tmp}/{k};\n"
                   for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    cfg = f"""worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
{temp}    upstream ringo {{
{servers}        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{fe};
        location / {{
            proxy_pass http://ringo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""
    path = os.path.join(tmp, "nginx.conf")
    with open(path, "w") as f:
        f.write(cfg)
    return Proxy([need("nginx"), "-c", path, "-e", f"{tmp}/nginx-error.log"], tmp, "nginx")


def tcp_conns(ports):
    """4-tuples of the TCP sockets (not listening) with a local or remote port in ports."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                fl = line.split()
                lp, rp, st = int(fl[1].split(":")[1], 16), int(fl[2].split(":")[1], 16), fl[3]
                if st != "0A" and (lp in ports or rp in ports):
                    out.add((fl[1], fl[2]))
    return out


class AbLoad:
    """ab -k -c 100 for a bounded time, with Load's interface; failures come at the end."""

    def __init__(self, port, seconds=60):
        self.proc = subprocess.Popen(
            [need("ab"), "-k", "-c", "100", "-t", str(seconds), "-n", "100000000", "-r",
             f"http://127.0.0.1:{port}/users/1"], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)

    def start(self):
        return self

    def wait_for_ok(self, more, timeout):
        time.sleep(1.0)
        return True

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # ab prints its report on SIGINT
        out = self.proc.communicate(timeout=60)[0].decode(errors="replace")
        val = {}
        for line in out.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                val[k.strip()] = v.split()[0] if v.split() else ""
        done, failed = int(val.get("Complete requests", 0)), int(val.get("Failed requests", 0))
        non2xx = int(val.get("Non-2xx responses", 0))
        # A non-2xx answer is also a "Length" failure (its body differs): count each once.
        why = out[out.find("(Connect"):].split(")")[0] + f"), non-2xx {non2xx}"
        bad = max(failed, non2xx)
        return done - bad, [f"ab failed {why}"] * bad


def rolling_restart(servers, ports, extra, healthy, overlap=False, down=None):
    """Restarts each instance in turn under load; returns (ok, failures, seconds). overlap:
    the new process starts on the port (--reuse-port) while the old one is a lame duck."""
    load = (AbLoad(servers["fe"]) if AB else Load(servers["fe"], clients=8)).start()
    t0 = time.monotonic()
    try:
        check(load.wait_for_ok(200, 3 * h.TIMEOUT), "the load got going through the balancer")
        for i, port in enumerate(ports):
            srv = servers[i]
            if overlap:
                srv.send_signal(signal.SIGTERM)
                servers[i] = ringo(port, extra).start()
                srv.wait_stopped()
            else:
                srv.send_signal(signal.SIGTERM)  # lame duck for DELAY_MS, then the drain
                if down and DELAY_MS:
                    # The balancer sees /readyz fail while the instance still serves.
                    wait_until(lambda: down(i), f"the balancer marks instance {i} down")
                    check(srv.alive(), f"instance {i} exited before the balancer marked it "
                          f"down: the shutdown delay ({DELAY_MS} ms) is too short")
                srv.wait_stopped()  # exit 0 with nothing leaked
                servers[i] = ringo(port, extra).start()
            wait_until(lambda: healthy(i), f"instance {i} is healthy again")
            check(load.wait_for_ok(100, 3 * h.TIMEOUT), f"requests served after restart {i}")
        while time.monotonic() - t0 < LOAD_SECONDS:
            time.sleep(0.1)
    finally:
        ok, failures = load.stop()
    return ok, failures, time.monotonic() - t0


def report(name, ok, failures, secs):
    print(f"     {name}: {ok} requests ok, {len(failures)} failed in {secs:.1f}s "
          f"(shutdown delay {DELAY_MS} ms)", flush=True)
    if MEASURE:
        for f in sorted(set(failures))[:10]:
            print(f"       {failures.count(f)} x {f}")
    else:
        check(not failures, f"{len(failures)} failed requests: {sorted(set(failures))[:5]}")


@contextlib.contextmanager
def balanced(proxy, extra):
    """Two ringo instances (with flags extra) behind proxy(tmp, frontend port, ports), one of
    haproxy() and nginx(); yields (servers, ports, balancer). On a failure the balancer's
    log is printed; in any case the balancer is stopped, then the instances (each must stop
    cleanly)."""
    need(proxy.__name__)
    tmp = tempfile.mkdtemp(prefix=f"proxy-lb-{proxy.__name__}-")
    ports = [free_port(), free_port()]
    servers = {"fe": free_port()}
    lb = None
    try:
        for i, p in enumerate(ports):
            servers[i] = ringo(p, extra).start()
        lb = proxy(tmp, servers["fe"], ports)
        yield servers, ports, lb
    except BaseException:
        if lb:
            print(lb.log_text()[-3000:])
        raise
    finally:
        if lb:
            lb.stop()
        for i in (0, 1):
            if i in servers:
                servers[i].stop()
        shutil.rmtree(tmp, ignore_errors=True)


@case(server=False)
def haproxy_proxy_v2_and_rolling_restart():
    extra = ["--proxy-protocol", "--trusted-proxies", "127.0.0.1"]
    with balanced(haproxy, extra) as (servers, ports, lb):
        wait_until(lambda: haproxy_status(lb) == {"r0": "UP", "r1": "UP"}, "both are UP")
        for _ in range(4):
            status, body, cport = get_from(servers["fe"], "/whoami")
            check_eq(status, 200, "GET /whoami through HAProxy")
            check_eq(h.json.loads(body)["peer"], f"{CLIENT_ADDR}:{cport}",
                     "the client's address through PROXY v2")
        ok, failures, secs = rolling_restart(
            servers, ports, extra, lambda i: haproxy_status(lb).get(f"r{i}") == "UP",
            down=lambda i: haproxy_status(lb).get(f"r{i}", "").startswith("DOWN"))
        report("HAProxy rolling restart", ok, failures, secs)


@case(server=False)
def nginx_keepalive_forwarded_and_rolling_restart():
    extra = ["--trusted-proxies", "127.0.0.1", "--forwarded", "x", "--reuse-port"]
    with balanced(nginx, extra) as (servers, ports, lb):
        wait_until(lambda: get_from(servers["fe"], "/readyz")[0] == 200, "nginx answers")
        before = tcp_conns(ports)
        for _ in range(40):
            status, body, cport = get_from(servers["fe"], "/whoami",
                                           {"X-Forwarded-For": "6.6.6.6"})
            check_eq(status, 200, "GET /whoami through nginx")
            check_eq(h.json.loads(body)["peer"], f"{CLIENT_ADDR}:0",
                     "the client's address from nginx's X-Forwarded-For, not the forged one")
        upstream = tcp_conns(ports) - before
        # Two sockets (both ends) per upstream connection: without keep-alive, 40 of them.
        check(len(upstream) <= 8, f"{len(upstream) // 2} upstream connections for 40 requests")

        def healthy(i):
            return get_from(ports[i], "/readyz")[0] == 200
        ok, failures, secs = rolling_restart(servers, ports, extra, healthy, overlap=True)
        report("nginx rolling restart", ok, failures, secs)


@case(server=False)
def example_configurations_are_valid():
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
    p = subprocess.run([need("haproxy"), "-c", "-f", os.path.join(src, "haproxy", "haproxy.cfg")],
                       capture_output=True, timeout=h.TIMEOUT)
    check(p.returncode == 0, f"haproxy -c examples/haproxy/haproxy.cfg: {p.stdout + p.stderr!r}")
    tmp = tempfile.mkdtemp(prefix="proxy-lb-conf-")
    try:
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"pid {tmp}/nginx.pid;\nevents {{}}\nhttp {{\n"
                    f"    include {os.path.abspath(os.path.join(src, 'nginx', 'ringo.conf'))};\n}}\n")
        p = subprocess.run([need("nginx"), "-t", "-c", conf, "-e", f"{tmp}/error.log"],
                           capture_output=True, timeout=h.TIMEOUT)
        check(p.returncode == 0, f"nginx -t with examples/nginx/ringo.conf: {p.stderr!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.main()
