#!/usr/bin/env python3
"""perf/tls_bench.py - HTTPS: ringo's TLS over the ring next to nginx's ssl.

Both servers get the same throw-away certificate (made here with `openssl req`),
the same protocols (TLS 1.2 and 1.3) and ciphers (Mozilla intermediate, ECDHE + AEAD;
wrk's OpenSSL picks TLS 1.3 with TLS_AES_256_GCM_SHA384 from either), session tickets
on, one thread each:

  ringo   ringo --threads 1 --tls-cert C --tls-key K              (GET /plaintext)
  nginx   one worker, listen ... ssl; ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers (same);
          location = /plaintext { return 200 "Hello, World!"; }

Cases, with wrk at 64 connections:
  keepalive    /plaintext over keep-alive connections: req/s and server CPU per request
  handshakes   /plaintext with "Connection: close": every request is a new TCP
               connection and a TLS handshake, so req/s is handshakes/s; CPU per
               handshake. wrk keeps each connection's session across reconnects
               (SSL_clear), so nearly all of them are TLS 1.3 resumptions by ticket
               (psk_dhe_ke: an ECDHE, no signature), as a returning browser's are
  mixed        (ringo only) keepalive latency while a second wrk runs the handshakes
               case beside it: what handshakes on the ring thread cost the ring's other
               connections (p50/p99 next to keepalive alone)

Rounds: each round runs every server once per case, so the servers share the machine's
state of the moment; the figures are medians over the rounds, ratios are per round.
Server on CPU 0, wrk on CPU 1; CPU is the server's process tree from /proc
(perf/lib/measure.py).

  perf/tls_bench.py --ringo build/ringo [--rounds 3] [--duration 10] [--conns 64]
      [--key ec|rsa] [--cases keepalive,handshakes,mixed] [--out FILE.json]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from measure import parse_wrk, run_wrk, tree  # noqa: E402

CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
           "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
           "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")

NGINX_CONF = """worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl backlog=65535;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers {ciphers};
        ssl_prefer_server_ciphers off;
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
        ssl_session_tickets on;
        location = /plaintext {{
            default_type text/plain;
            return 200 "Hello, World!";
        }}
    }}
}}
"""


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    import socket
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Proc:
    def __init__(self, name, cmd, port=None, ringo=False):
        self.name, self.cmd, self.port, self.ringo = name, cmd, port, ringo
        self.proc = None
        self.stop_line = ""

    def start(self, run_dir):
        self.err = open(os.path.join(run_dir, self.name + ".stderr"), "w+")
        self.proc = subprocess.Popen(["taskset", "-c", "0"] + self.cmd, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, start_new_session=True)
        if self.ringo:
            line = self.proc.stdout.readline()
            self.port = int(re.search(r":(\d+) \(", line).group(1))
        if not wait_port(self.port):
            raise RuntimeError(f"{self.name} did not start")

    def pids(self):
        return tree(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.seek(0)
        lines = [l for l in self.err.read().splitlines() if "stopped:" in l]
        self.stop_line = lines[-1] if lines else ""


def make_cert(run_dir, kind):
    crt, key = os.path.join(run_dir, "bench.crt"), os.path.join(run_dir, "bench.key")
    alg = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec"
           else ["-newkey", "rsa:2048"])
    subprocess.run(["openssl", "req", "-x509", *alg, "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    os.chmod(key, 0o644)  # nginx's workers run as another user
    return crt, key


def wrk_cmd(wrk, port, a, close):
    cmd = ["taskset", "-c", "1", wrk, "-t1", f"-c{a.conns}", f"-d{a.duration}s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    return cmd + [f"https://127.0.0.1:{port}/plaintext"]


def mixed(wrk, s, a, run_dir, rnd):
    """keepalive measured while a handshake flood runs beside it (same duration)."""
    flood = subprocess.Popen(wrk_cmd(wrk, s.port, a, True), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("text", flood.stdout.read()))
    t.start()
    r = run_wrk(wrk_cmd(wrk, s.port, a, False), s.pids(), [0, 1],
                os.path.join(run_dir, f"{s.name}-mixed-{rnd}.log"))
    flood.wait()
    t.join()
    f = parse_wrk(out.get("text", ""))
    r["flood_rps"] = f["rps"]
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringo", default="build/ringo")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--key", choices=("ec", "rsa"), default="ec")
    ap.add_argument("--cases", default="keepalive,handshakes,mixed")
    ap.add_argument("--servers", default="ringo,nginx")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    wrk, nginx = shutil.which("wrk"), shutil.which("nginx")
    if not wrk or not shutil.which("openssl"):
        sys.exit("wrk and openssl are needed (perf/bench installs wrk; Debian: openssl)")
    run_dir = tempfile.mkdtemp(prefix="ringo-tls-bench-")
    os.chmod(run_dir, 0o755)
    crt, key = make_cert(run_dir, a.key)
    nginx_dir = os.path.join(run_dir, "nginx")
    os.makedirs(nginx_dir)
    nport = free_port()
    with open(os.path.join(nginx_dir, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(dir=nginx_dir, port=nport, crt=crt, key=key, ciphers=CIPHERS))
    servers = {
        "ringo": Proc("ringo", [a.ringo, "--host", "127.0.0.1", "--port", "0", "--threads", "1",
                                "--max-conns", "4096", "--quiet", "--tls-cert", crt,
                                "--tls-key", key], ringo=True),
        "nginx": Proc("nginx", [nginx or "nginx", "-p", nginx_dir, "-e",
                                os.path.join(nginx_dir, "error.log"), "-c",
                                os.path.join(nginx_dir, "nginx.conf")], port=nport),
    }
    servers = {k: v for k, v in servers.items() if k in a.servers.split(",")}
    cases = a.cases.split(",")
    results = {}
    for rnd in range(a.rounds):
        for name, s in servers.items():
            s.start(run_dir)
            try:
                for case in cases:
                    if case == "mixed":
                        if name != "ringo":
                            continue
                        r = mixed(wrk, s, a, run_dir, rnd)
                    else:
                        r = run_wrk(wrk_cmd(wrk, s.port, a, case == "handshakes"), s.pids(),
                                    [0, 1], os.path.join(run_dir, f"{name}-{case}-{rnd}.log"))
                    results.setdefault((name, case), []).append(r)
                    print(f"round {rnd} {name:6s} {case:10s}: {r['rps']:9.0f} req/s "
                          f"server {r['server_util']:.2f} CPU {(r['cpu_us_per_req'] or 0):6.1f} "
                          f"us/req p50 {r['p50_us'] or 0:.0f} us p99 {r['p99_us'] or 0:.0f} us "
                          f"err {r['sock_errors']} non2xx {r['non2xx']}"
                          + (f" flood {r['flood_rps']:.0f}/s" if case == "mixed" else ""),
                          flush=True)
            finally:
                s.stop()
                if s.ringo:
                    print(f"  {name}: {s.stop_line}", flush=True)
    print(f"\nmedians over {a.rounds} rounds ({a.key} key, {a.conns} connections)")
    summary = {}
    for (name, case), runs in sorted(results.items()):
        med = {k: statistics.median([r[k] for r in runs if r.get(k) is not None] or [0])
               for k in ("rps", "server_util", "cpu_us_per_req", "p50_us", "p99_us",
                         "peak_rss_kb", "others_cpu_s", "elapsed_s")}
        summary[f"{name}/{case}"] = med
        print(f"{name:6s} {case:10s}: {med['rps']:9.0f} req/s {med['cpu_us_per_req']:6.1f} "
              f"us/req p50 {med['p50_us']:.0f} us p99 {med['p99_us']:.0f} us peak RSS "
              f"{med['peak_rss_kb'] / 1024:.0f} MiB")
    if "nginx" in servers and "ringo" in servers:
        print("\nper-round ratios ringo / nginx (median [min..max])")
        for case in cases:
            xs, ys = results.get(("ringo", case), []), results.get(("nginx", case), [])
            if not xs or not ys:
                continue
            rps = sorted(x["rps"] / y["rps"] for x, y in zip(xs, ys) if y["rps"])
            cpu = sorted(x["cpu_us_per_req"] / y["cpu_us_per_req"] for x, y in zip(xs, ys)
                         if x["cpu_us_per_req"] and y["cpu_us_per_req"])
            print(f"{case:10s}: req/s {statistics.median(rps):.2f}x [{rps[0]:.2f}..{rps[-1]:.2f}]"
                  f", CPU per request {statistics.median(cpu):.2f}x [{cpu[0]:.2f}..{cpu[-1]:.2f}]")
    others = [r["others_cpu_s"] / r["elapsed_s"] for runs in results.values() for r in runs]
    print(f"other processes on the two CPUs: median {statistics.median(others):.2f} CPUs "
          "(0 on a quiet machine)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary,
                       "runs": {f"{k[0]}/{k[1]}": v for k, v in results.items()}}, f, indent=1,
                      default=str)
    shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
