#!/usr/bin/env python3
"""perf/files_bench.py - file bodies: ringo's sendfile, splice and copy paths next to nginx.

Serves a 4 KiB and a 64 MiB file of random bytes at 64 connections with wrk, in
rounds: each round runs every server once per file, so the servers share the
machine's state of the moment. The figures are the medians over the rounds.

  ringo         ringo --threads 1 --files-dir DIR            (GET /files/NAME): the default,
                sendfile on the ring thread for what is in the page cache
  ringo-splice  the same with --file-no-sendfile: file -> pipe -> socket through io-wq
  ringo-copy    the same with --file-splice-min never        (the copy path only)
  ringo-linked  --file-no-sendfile --file-splice-linked: file -> pipe linked to
                pipe -> socket, one await
  nginx         one worker, location /files/ { alias DIR; sendfile on;
                open_file_cache max=1000; }

Server on CPU 0, wrk on CPU 1 (io_uring's io-wq workers, which run the splices, are
threads of the ringo process and counted as its CPU wherever they run). CPU is the
server's whole process tree from /proc (perf/lib/measure.py).

  perf/files_bench.py --ringo build/ringo [--rounds 3] [--duration 10] [--out FILE.json]
      [--sizes 4096,67108864] [--conns 64] [--extra-ringo ARGS]
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from measure import run_wrk, tree  # noqa: E402

GIB = 1 << 30

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
        listen 127.0.0.1:{port} backlog=65535;
        location /files/ {{ alias {files}/; sendfile on; open_file_cache max=1000; }}
    }}
}}
"""


def unit_bytes(text):
    m = re.match(r"([\d.]+)([KMGT]?)B", text)
    if not m:
        return 0.0
    return float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30,
                                "T": 1 << 40}[m.group(2)]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    import socket
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringo", default="build/ringo")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--sizes", default="4096,67108864")
    ap.add_argument("--servers", default="ringo,ringo-splice,ringo-linked,ringo-copy,nginx")
    ap.add_argument("--extra-ringo", default="")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("wrk is not installed (perf/bench installs it)")
    run_dir = tempfile.mkdtemp(prefix="ringo-files-")
    os.chmod(run_dir, 0o755)  # nginx's workers run as another user
    files = os.path.join(run_dir, "files")
    os.makedirs(files, 0o755)
    sizes = [int(s) for s in a.sizes.split(",")]
    for n in sizes:
        with open(os.path.join(files, f"f{n}"), "wb") as f:
            left = n
            while left:
                k = min(left, 1 << 20)
                f.write(os.urandom(k))
                left -= k
    extra = a.extra_ringo.split()
    base = [a.ringo, "--host", "127.0.0.1", "--port", "0", "--threads", "1", "--max-conns",
            "4096", "--files-dir", files, "--quiet"] + extra
    nginx_dir = os.path.join(run_dir, "nginx")
    os.makedirs(nginx_dir)
    nport = free_port()
    with open(os.path.join(nginx_dir, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(dir=nginx_dir, port=nport, files=files))
    nosf = ["--file-no-sendfile"]
    servers = {
        "ringo": Proc("ringo", base, ringo=True),
        "ringo-splice": Proc("ringo-splice", base + nosf, ringo=True),
        "ringo-copy": Proc("ringo-copy", base + ["--file-splice-min", "never"], ringo=True),
        "ringo-linked": Proc("ringo-linked", base + nosf + ["--file-splice-linked"], ringo=True),
        "nginx": Proc("nginx", [shutil.which("nginx") or "nginx", "-p", nginx_dir, "-e",
                                os.path.join(nginx_dir, "error.log"), "-c",
                                os.path.join(nginx_dir, "nginx.conf")], port=nport),
    }
    servers = {k: v for k, v in servers.items() if k in a.servers.split(",")}
    results = {}  # (server, size) -> [runs]
    for rnd in range(a.rounds):
        for name, s in servers.items():
            s.start(run_dir)
            try:
                for n in sizes:
                    url = f"http://127.0.0.1:{s.port}/files/f{n}"
                    cmd = ["taskset", "-c", "1", wrk, "-t1", f"-c{a.conns}", f"-d{a.duration}s",
                           "--latency", url]
                    r = run_wrk(cmd, s.pids(), [0, 1],
                                os.path.join(run_dir, f"{name}-{n}-{rnd}.log"))
                    with open(os.path.join(run_dir, f"{name}-{n}-{rnd}.log")) as f:
                        m = re.search(r"Transfer/sec:\s+(\S+)", f.read())
                    bps = unit_bytes(m.group(1)) if m else 0.0
                    r["bytes_per_s"] = bps
                    r["cpu_s_per_gib"] = (r["server_cpu_s"] / (bps * r["elapsed_s"] / GIB)
                                          if bps else None)
                    results.setdefault((name, n), []).append(r)
                    print(f"round {rnd} {name:13s} {n:>9d} B: {r['rps']:9.0f} req/s "
                          f"{bps / GIB:6.2f} GiB/s server {r['server_util']:.2f} CPU "
                          f"{(r['cpu_s_per_gib'] or 0):.3f} CPU-s/GiB "
                          f"{(r['cpu_us_per_req'] or 0):.1f} us/req err {r['sock_errors']} "
                          f"non2xx {r['non2xx']}", flush=True)
            finally:
                s.stop()
                if s.ringo:
                    print(f"  {name}: {s.stop_line}", flush=True)
    print("\nmedians over", a.rounds, "rounds")
    summary = {}
    for (name, n), runs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        med = {k: statistics.median([r[k] for r in runs if r.get(k) is not None] or [0])
               for k in ("rps", "bytes_per_s", "server_util", "cpu_s_per_gib", "cpu_us_per_req",
                         "peak_rss_kb")}
        summary[f"{name}/{n}"] = med
        print(f"{name:13s} {n:>9d} B: {med['rps']:9.0f} req/s {med['bytes_per_s'] / GIB:6.2f} "
              f"GiB/s {med['cpu_s_per_gib']:.3f} CPU-s/GiB {med['cpu_us_per_req']:.1f} us/req "
              f"peak RSS {med['peak_rss_kb'] / 1024:.0f} MiB")
    if "nginx" in servers:
        for name in servers:
            if name == "nginx":
                continue
            for n in sizes:
                x, y = summary.get(f"{name}/{n}"), summary.get(f"nginx/{n}")
                if x and y and y["bytes_per_s"] and y["cpu_s_per_gib"] and y["rps"]:
                    print(f"{name} / nginx at {n} B: throughput {x['bytes_per_s'] / y['bytes_per_s']:.2f}x, "
                          f"req/s {x['rps'] / y['rps']:.2f}x, CPU per GiB "
                          f"{x['cpu_s_per_gib'] / y['cpu_s_per_gib']:.2f}x")
    # Paired by round: a round's servers ran minutes apart at most, under the same load.
    if "nginx" in servers:
        print("\nper-round ratios to nginx (median [min..max])")
        for name in servers:
            for n in sizes:
                xs, ys = results.get((name, n), []), results.get(("nginx", n), [])
                if name == "nginx" or not xs or not ys:
                    continue
                tp = sorted(x["bytes_per_s"] / y["bytes_per_s"] for x, y in zip(xs, ys)
                            if y["bytes_per_s"])
                cpu = sorted(x["cpu_s_per_gib"] / y["cpu_s_per_gib"] for x, y in zip(xs, ys)
                             if x["cpu_s_per_gib"] and y["cpu_s_per_gib"])
                if tp and cpu:
                    print(f"{name:13s} {n:>9d} B: throughput {statistics.median(tp):.2f}x "
                          f"[{tp[0]:.2f}..{tp[-1]:.2f}], CPU per GiB {statistics.median(cpu):.2f}x "
                          f"[{cpu[0]:.2f}..{cpu[-1]:.2f}]")
        others = [r["others_cpu_s"] / r["elapsed_s"] for runs in results.values() for r in runs]
        print(f"other processes on the two CPUs: median {statistics.median(others):.2f} CPUs "
              "(0 on a quiet machine)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary,
                       "runs": {f"{k[0]}/{k[1]}": v for k, v in results.items()}}, f, indent=1,
                      default=str)
    shutil.rmtree(files, ignore_errors=True)


if __name__ == "__main__":
    main()
