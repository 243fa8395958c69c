"""perf/bench's engine: start the servers, run the cases interleaved, write the results.

Run through perf/bench (it installs what is missing and builds ringo). The method, so
that numbers hold on a small noisy machine:
  - every server on 127.0.0.1 pinned to one CPU, wrk (one thread) pinned to another;
  - per case: one discarded warm-up run per server, then rounds interleaved across the
    servers (A B C A B C ...), median of the rounds with the min-max spread;
  - a run during which other processes (or the hypervisor, as steal) used the two CPUs
    is flagged and repeated;
  - per run: req/s and p50/p99 latency from wrk --latency, the server's CPU time per
    request (utime + stime of its process tree over the run / requests) and peak RSS
    (VmHWM, reset before each run).
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import openloop  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import tfb  # noqa: E402

PERF = servers.PERF
REPO = os.path.dirname(PERF)
PIPELINE_LUA = os.path.join(PERF, "wrk", "pipeline.lua")
POST_LUA = os.path.join(PERF, "wrk", "post.lua")
IDLE_PY = os.path.join(PERF, "lib", "idle.py")


class Case:
    """bulk: large bodies, measured in bytes (throughput, server CPU per GiB) as much as
    in requests; wrk waits up to 30 s for a response instead of 2."""

    def __init__(self, name, title, route, conns, depth=1, idle=False, hook=False, bulk=False,
                 tfb=False, openloop=None, multi=False, proto="h1", streams=1,
                 smoke_s=None):
        self.name, self.title, self.route, self.conns = name, title, route, conns
        self.depth, self.idle, self.hook, self.bulk, self.tfb = depth, idle, hook, bulk, tfb
        # openloop: the servers of an open-loop case (perf/lib/openloop.py runs it).
        self.openloop = openloop
        # multi: one thread against two (MULTI_PAIRS), the two-thread servers on both CPUs.
        self.multi = multi
        # proto: "h1" (HTTP/1.1, wrk), "https" (wrk over TLS), "https-close" (h2load --h1,
        # a new TLS connection per request), "h2c" and "h2" (h2load, `streams` in flight
        # per connection). smoke_s: seconds per run under --smoke, when shorter.
        self.proto, self.streams, self.smoke_s = proto, streams, smoke_s
        self.load = "wrk" if proto in ("h1", "https") else "h2load"

    def to_json(self):
        return dict(name=self.name, title=self.title, route=self.route, conns=self.conns,
                    depth=self.depth, idle=self.idle, hook=self.hook, bulk=self.bulk,
                    tfb=self.tfb, openloop=self.openloop, multi=self.multi,
                    proto=self.proto, streams=self.streams, load=self.load)


CASES = [
    Case("plaintext-64", "/plaintext, 64 connections", "plaintext", 64),
    Case("plaintext-256", "/plaintext, 256 connections", "plaintext", 256),
    Case("pipeline-16", "/plaintext, 256 connections, pipelined depth 16", "plaintext", 256,
         depth=16),
    Case("json-64", "/json, 64 connections", "json", 64),
    Case("observe-64", "/plaintext, 64 connections, with and without /metrics and the access "
         "log to a file", "observe", 64),
    Case("idle-10k", "{n:,} idle keep-alive connections + 64 active on /plaintext",
         "plaintext", 64, idle=True),
    Case("sleep-64", "/sleep?ms=10 (async sleep), 64 connections", "sleep", 64, hook=True),
    Case("sleep-256", "/sleep?ms=10 (async sleep), 256 connections", "sleep", 256, hook=True),
    Case("sleep-1024", "/sleep?ms=10 (async sleep), 1024 connections", "sleep", 1024,
         hook=True),
    Case("deps-64", "/deps/chain (2 sync + 2 async dependencies, a teardown), 64 connections",
         "deps", 64, hook=True),
    Case("sync-json-64", "/sync/json (sync handler on the pool), 64 connections", "sync_json",
         64, hook=True),
    Case("sync-sleep-64", "/sync/sleep?ms=10 (blocking sleep on the pool), 64 connections",
         "sync_sleep", 64, hook=True),
    Case("static-4k-64", "4 KiB file from a static mount (ringo_static), 64 connections",
         "static_4k", 64, hook=True),
    # A large file from the page cache: nginx's sendfile against ringo's (sendfile from the
    # ring thread, splice through io-wq when not cached) and h2o's file handler.
    Case("static-64m-4", "64 MiB file from a static mount (ringo_static), 4 connections",
         "static_64m", 4, hook=True, bulk=True),
    Case("sync-sleep-256", "/sync/sleep?ms=10 (blocking sleep on the pool), 256 connections",
         "sync_sleep", 256, hook=True),
    # Response compression: the same 64 KiB JSON, gzip at level 1 on both sides (ringo's
    # default, nginx's gzip_comp_level default), Accept-Encoding: gzip on every request.
    # Typed JSON: a ~1 KiB product validated against the demo's body model and answered
    # 201 with the stored item (written by ringo's JSON writer; pydantic + FastAPI's
    # encoder on the peer), and the same body echoed back unvalidated: the difference
    # is the cost of validation and serialization.
    Case("products-64", "POST /products (~1 KiB JSON body model, 201 + the item), "
         "64 connections", "products", 64, hook=True),
    Case("echo-1k-64", "POST /echo, the same ~1 KiB JSON body sent back unvalidated, "
         "64 connections", "echo_1k", 64, hook=True),
    # Each server's own OpenAPI document: ringo writes it once at start and serves it as
    # a fixed body; FastAPI builds it on the first request and caches the dict, encoding
    # it again each time. The documents differ in size (each lists its own routes).
    Case("openapi-64", "GET /openapi.json (the app's OpenAPI document), 64 connections",
         "openapi", 64, hook=True),
    # Two rings against one, beside nginx and h2o with one and two workers (MULTI_PAIRS):
    # the one-thread servers stay pinned to the server CPU, the two-thread ones may run on
    # both CPUs, wrk keeps its own CPU - so the second thread shares a CPU with the load
    # generator, and CPU per request is the figure that compares.
    Case("plaintext-64-2w", "/plaintext, 64 connections, one thread and two (both CPUs)",
         "plaintext", 64, multi=True),
    Case("json-64-2w", "/json, 64 connections, one thread and two (both CPUs)", "json", 64,
         multi=True),
    # The same with a sync handler: the pool's workers follow the process onto both CPUs.
    Case("sync-json-64-2w", "/sync/json (sync handler on the pool), 64 connections, one ring "
         "and two (both CPUs)", "sync_json", 64, hook=True, multi=True),
    Case("gzip-json-64", "/json64k with Accept-Encoding: gzip (64 KiB JSON, gzip level 1), "
         "64 connections", "gzip_json", 64, hook=True),
    # Open-loop (constant-rate) load, latency from each request's scheduled time
    # (perf/lib/openloop.py): /plaintext below nginx's capacity, and a blocking route past
    # the pool's capacity, with admission control on and off.
    Case("openloop-plaintext", "/plaintext, open loop at 25-90% of nginx's capacity, "
         "64 connections", "plaintext", 64, openloop=["ringo", "nginx"]),
    Case("overload", "/sync/sleep?ms=10, open loop at 1×, 1.5× and 3× the pool's capacity",
         "sync_sleep", openloop.OVERLOAD_CONNS, hook=True,
         openloop=["ringo-admit", "ringo", "fastapi-def"]),
    # TLS and HTTP/2, against nginx and h2o with the run's certificate (servers.make_cert)
    # and ringo's protocols and ciphers; each server's TLS instance is a process of its own.
    # https-handshakes: h2load never resumes a session (a fresh SSL object per connection,
    # no SSL_set_session), so every connection is a full handshake although all three
    # servers issue tickets; wrk would resume (it keeps the session across reconnects).
    Case("https-plaintext-64", "HTTPS /plaintext, 64 keep-alive connections (wrk)",
         "plaintext", 64, proto="https", smoke_s=1.0),
    Case("https-handshakes", "HTTPS /plaintext, a new connection per request: full TLS "
         "handshakes (h2load --h1, Connection: close), 64 connections; req/s = handshakes/s",
         "plaintext", 64, proto="https-close", smoke_s=1.0),
    Case("h2c-h2load", "h2c (prior knowledge) /plaintext, h2load -c 64 -m 16", "plaintext", 64,
         proto="h2c", streams=16, smoke_s=1.0),
    Case("h2-h2load", "h2 over TLS (ALPN) /plaintext, h2load -c 64 -m 16", "plaintext", 64,
         proto="h2", streams=16, smoke_s=1.0),
]
TLS_CASES = [c.name for c in CASES if c.proto in servers.TLS_PROTOS]
H2_CASES = [c.name for c in CASES if c.proto in ("h2c", "h2")]
HANDSHAKE_GUESS = 500  # full handshakes per second before a server's first run
# The TechEmpower (TFB) test types against a PostgreSQL cluster the run starts itself
# (perf/lib/tfb.py): ringo's async routes (the ring's libpq pool) and its /sync twins (the
# worker pool, blocking libpq), FastAPI with asyncpg and with psycopg2, and in the db case
# pgbench's select-only rate as the database's ceiling.
TFB_CASES = [
    Case("db", "TFB /db (one random World row), 64 connections", "db", 64, tfb=True),
    Case("queries-20", "TFB /queries?queries=20 (20 rows, one SELECT each), 64 connections",
         "queries", 64, tfb=True),
    Case("fortunes", "TFB /fortunes (12 rows + 1, sorted, HTML-escaped), 64 connections",
         "fortunes", 64, tfb=True),
    Case("updates-20", "TFB /updates?queries=20 (20 SELECTs + one bulk UPDATE), "
         "64 connections", "updates", 64, tfb=True),
    Case("cached-queries-100", "TFB /cached-queries?count=100 (in-memory cache), "
         "64 connections", "cached_queries", 64, tfb=True),
]
CASES += TFB_CASES
TFB_SERVERS = "ringo,ringo-sync,fastapi,pgbench"
CASE_BY_NAME = {c.name: c for c in CASES}
# The multi-ring cases' servers: (one thread, two threads) of each.
MULTI_PAIRS = [("ringo", "ringo-2r"), ("nginx", "nginx-2w"), ("h2o", "h2o-2t")]
MULTI_SERVERS = {n for pair in MULTI_PAIRS for n in pair} | {"ringo-2r-pin", "ringo-1r-both"}


def run_parser(prog, description, quick, smoke, defaults, retries):
    """A parser with the options perf/bench and perf/streams share. defaults: mode ->
    (seconds per run, measured rounds, warm-up seconds); retries: mode -> repeats of a
    flagged run."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    full = defaults["full"]
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--smoke", action="store_true", help=smoke)
    ap.add_argument("--duration", type=float, help=f"seconds per run (default {full[0]:g})")
    ap.add_argument("--runs", type=int, help=f"measured rounds per case (default {full[1]})")
    ap.add_argument("--warmup", type=float,
                    help=f"warm-up seconds, discarded (default {full[2]:g})")
    ap.add_argument("--threshold", type=float, default=0.05,
                    help="flag a run when others used more than this share of one CPU "
                         "(default 0.05)")
    ap.add_argument("--retries", type=int,
                    help="repeats of a flagged run, the least disturbed kept (default " +
                         ", ".join(f"{n} {m}" for m, n in retries.items()) + ")")
    ap.add_argument("--out", help="results directory (default perf/results/<date>-...)")
    ap.mode_defaults = (defaults, retries)
    return ap


def run_defaults(a, defaults, retries):
    """a.mode, and what run_options left unset, from the mode."""
    a.mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    d, r, w = defaults[a.mode]
    a.duration = a.duration if a.duration is not None else d
    a.runs = a.runs if a.runs is not None else r
    a.warmup = a.warmup if a.warmup is not None else w
    a.retries = a.retries if a.retries is not None else retries[a.mode]


def parse_args(argv):
    defaults = {"full": (5.0, 3, 2.0), "quick": (2.0, 1, 1.0), "smoke": (2.0, 1, 0.0)}
    retries = {"full": 2, "quick": 1, "smoke": 0}
    ap = run_parser("perf/bench", "ringo vs nginx, h2o, FastAPI (async def and def) and the "
                    "io_uring limit responder on 127.0.0.1; writes docs/benchmarks.md.",
                    "sanity run: 2 s per case, 1 round, 1 s warm-up",
                    "CI: ringo alone, 2 s on /plaintext (plain and pipelined), 1 s per "
                    "open-loop level, 1 s per TLS and HTTP/2 case (every answer checked), no "
                    "docs; fails on any error", defaults, retries)
    ap.formatter_class = argparse.RawDescriptionHelpFormatter
    ap.epilog = """TLS and HTTP/2 cases (ringo, nginx and h2o; each server's TLS listener is a
process of its own, with a certificate made for the run and ringo's ciphers):
  https-plaintext-64  wrk over https, 64 keep-alive connections: req/s, CPU per request
  https-handshakes    h2load --h1 -H "Connection: close", 64 connections: every request
                      is a full TLS handshake (h2load never resumes a session; tickets
                      are on in every server): req/s = handshakes/s, CPU per handshake
  h2c-h2load          h2load -c 64 -m 16, HTTP/2 with prior knowledge (nginx: a
                      `listen ... http2` port without ssl)
  h2-h2load           the same over TLS, ALPN h2; a server that does not choose h2 is
                      not measured and its row says "not negotiated"
  e.g. perf/bench --cases https-plaintext-64,https-handshakes,h2c-h2load,h2-h2load \\
           --servers ringo,nginx,h2o --runs 3 --no-docs"""
    ap.add_argument("--cases", help="comma list; default all: " +
                    ",".join(c.name for c in CASES))
    ap.add_argument("--servers", help="comma list; default all: " +
                    ",".join(c.name for c in servers.ALL) + " (fastapi = both variants)")
    ap.add_argument("--tls-key", dest="tls_key_type", choices=sorted(servers.TLS_KEYS),
                    default="ec",
                    help="the TLS cases' certificate, made per run with openssl req and the "
                         "same for every server: ec (ECDSA P-256, the default) or rsa "
                         "(RSA 2048)")
    ap.add_argument("--idle-conns", type=int, default=10000,
                    help="idle connections in the idle-10k case (default 10000)")
    ap.add_argument("--tfb", action="store_true",
                    help="the TechEmpower database cases only (" +
                         ",".join(c.name for c in TFB_CASES) + ") with " + TFB_SERVERS +
                         "; with --smoke: 1 s per run, every answer checked, no docs")
    ap.add_argument("--pg-dsn", help="the TFB cases use this running PostgreSQL (libpq DSN, "
                    "the TFB schema in place; on this machine: its postmaster is measured) "
                    "instead of starting a cluster of their own")
    ap.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.*")
    ap.add_argument("--report", metavar="RESULTS_DIR",
                    help="only re-render docs/benchmarks.md + .png from a results directory")
    a = ap.parse_args(argv)
    run_defaults(a, *ap.mode_defaults)
    if a.tfb:
        a.servers = a.servers or TFB_SERVERS
        a.cases = a.cases or ",".join(c.name for c in TFB_CASES)
        if a.smoke and "--duration" not in " ".join(argv):
            a.duration = 1.0
        if a.smoke and "--warmup" not in " ".join(argv):
            a.warmup = 1.0  # the peers open their database connections on first use
    if a.smoke:
        a.servers = a.servers or "ringo,ringo-admit"
        a.cases = a.cases or ",".join(["plaintext-64", "pipeline-16", "openloop-plaintext",
                                       "overload"] + TLS_CASES + ["h2c-h2load"])
        a.no_docs = True
    names = (a.cases or ",".join(c.name for c in CASES)).split(",")
    for n in names:
        if n not in CASE_BY_NAME:
            ap.error(f"unknown case {n!r}")
    a.case_list = [c for c in CASES if c.name in names]
    a.server_classes = servers.select((a.servers or ",".join(
        c.name for c in servers.ALL)).split(","))
    a.ringo_bin = os.environ.get("RINGO_BIN", os.path.join(REPO, "build", "ringo"))
    a.limit_bin = os.environ.get("RINGO_LIMIT_BIN", os.path.join(REPO, "build", "ringo_limit"))
    a.openloop_bin = os.environ.get("RINGO_OPENLOOP_BIN",
                                    os.path.join(REPO, "build", "ringo_openloop"))
    a.max_conns = a.idle_conns + 4096
    return a


def pick_cpus():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, cpus
    return cpus[0], cpus[1], cpus[:2]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def git_version():
    r = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "working tree (no commit yet)"


def tool_version(cmd, pick=0):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        lines = (r.stdout + r.stderr).strip().splitlines()
        return lines[pick].strip() if lines else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine_info(cpus):
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "os": tool_version(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "cpu": model,
        "cpus_online": os.cpu_count(),
        "pinning": (f"server on CPU {cpus[0]}, wrk on CPU {cpus[1]}" if len(cpus) == 2
                    else "none (fewer than 2 CPUs)"),
        "wrk": tool_version(["wrk", "-v"]).split(" Copyright")[0],
        "h2load": tool_version(["h2load", "--version"]),
        "openssl": tool_version(["openssl", "version"]),
        "gcc": tool_version(["gcc", "--version"]),
        "liburing": tool_version(["dpkg-query", "-W", "-f=${Version}", "liburing-dev"]),
    }


class Bench:
    logs = "wrk"  # the results directory's folder for the load generator's output

    def __init__(self, a):
        self.a = a
        self.server_cpu, self.client_cpu, self.cpus = pick_cpus()
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.dir = a.out or os.path.join(PERF, "results", f"{stamp}-{a.mode}")
        os.makedirs(os.path.join(self.dir, self.logs), exist_ok=True)
        self.servers = []
        self.skipped_servers = {}
        self.runs = []
        self.plan = []
        self.skipped_cases = {}
        self.body_bytes = {}  # case -> server -> bytes of one response body on the wire
        self.nofile = raise_nofile()
        self.cluster = None
        self.openloop_cases, self.openloop_runs = [], []
        self.db_info = {}
        self.not_negotiated = {}  # case -> server -> the protocol ALPN chose instead of h2
        self.rate_hint = {}  # (case, server) -> req/s of its last run (https-handshakes)
        self.tls_info = {}

    # --- the TLS cases' certificate ---
    def make_cert(self):
        """One certificate for every server's TLS instance, when a TLS case is selected;
        on failure those cases are skipped with the reason."""
        wanted = [c for c in self.a.case_list if getattr(c, "proto", "h1") in servers.TLS_PROTOS]
        if not wanted:
            return
        try:
            self.a.tls_cert, self.a.tls_key = servers.make_cert(
                os.path.join(self.dir, "tls"), self.a.tls_key_type)
        except (OSError, RuntimeError) as e:
            for c in wanted:
                self.skipped_cases[c.name] = f"no certificate: {e}"
            self.a.case_list = [c for c in self.a.case_list if c not in wanted]
            log(f"skip the TLS cases: {e}")
            return
        kind = servers.TLS_KEYS[self.a.tls_key_type]
        self.tls_info = {"certificate": kind,
                         "protocols": "TLS 1.2, TLS 1.3", "ciphers_tls12": servers.TLS_CIPHERS,
                         "suites_tls13": servers.TLS13_SUITES, "groups": servers.TLS_GROUPS}
        log(f"TLS: a {kind} certificate in "
            f"{os.path.relpath(os.path.dirname(self.a.tls_cert), REPO)}")

    # --- the TFB cases' database ---
    def start_database(self):
        """Starts the run's PostgreSQL cluster when a TFB case is selected; on failure
        those cases are skipped with the reason."""
        wanted = [c for c in self.a.case_list if c.tfb]
        if not wanted:
            return
        cl = tfb.Cluster(self.dir, self.a.pg_dsn)
        why = None if cl.start() else cl.error
        if why is None:
            why = tfb.pgbench_init(cl.dsn, os.path.join(self.dir, "pgbench-init.txt"))
            if why:
                why = None  # the HTTP cases can still run; pgbench is skipped
                self.db_info["pgbench_init"] = "failed"
            self.cluster = cl
            self.a.pg, self.a.pg_dsn = cl, cl.dsn
            ver = cl.psql("SHOW server_version")[0][0]
            maxc = cl.psql("SHOW max_connections")[0][0]
            self.db_info.update(version=ver, max_connections=maxc, postmaster=cl.pid,
                                dsn=" ".join(kv for kv in cl.dsn.split()
                                             if not kv.startswith("password=")))
            log(f"postgres {ver}: pid {cl.pid}, max_connections {maxc}, {cl.dsn}")
            if self.db_info.get("pgbench_init"):
                self.skipped_servers["pgbench"] = "pgbench -i failed"
        else:
            for c in wanted:
                self.skipped_cases[c.name] = f"no PostgreSQL cluster: {why}"
            self.a.case_list = [c for c in self.a.case_list if not c.tfb]
            log(f"skip the TFB cases: {why}")

    def stop_database(self):
        if self.cluster is not None:
            pid = self.cluster.pid
            self.cluster.stop()
            log(f"postgres: pid {pid} stopped")
            self.cluster = None

    def db_pids(self):
        return self.cluster.pids() if self.cluster else []

    # --- servers ---
    def wanted(self, cls, tls):
        """Whether a selected case needs cls's cleartext (tls False) or TLS instance.
        Cases without a route (perf/streams' own) need every cleartext server."""
        if tls and cls not in servers.TLS_SERVERS:
            return False
        for c in self.a.case_list:
            route, proto = getattr(c, "route", None), getattr(c, "proto", "h1")
            if route is None:
                return not tls
            if (proto in servers.TLS_PROTOS) != tls:
                continue
            protos = servers.TLS_PROTOS if tls else cls.protos
            if proto in protos and route in getattr(cls, "routes", ()):
                return True
        return False

    def start_servers(self):
        for cls, tls in [(cls, tls) for cls in self.a.server_classes for tls in (False, True)]:
            if not self.wanted(cls, tls):
                continue  # answers none of the selected cases (ringo-sync, pgbench)
            if cls.name == "pgbench" and "pgbench" in self.skipped_servers:
                continue
            # A server of several threads or workers gets both CPUs (the -2w cases).
            cpu = (",".join(str(c) for c in self.cpus) if cls.multi and self.server_cpu is not None
                   else self.server_cpu)
            s = cls(cpu, self.dir, self.a, tls=tls)
            why = s.available()
            if why:
                self.skipped_servers[s.name] = why
                log(f"skip {s.name}: {why}")
                continue
            try:
                s.start()
            except RuntimeError as e:
                self.skipped_servers[s.name] = str(e)
                log(f"skip {s.name}: {e}")
                continue
            self.servers.append(s)
            ok = ", ".join(r for r, ok in s.answers.items() if ok)
            ok += "".join(f", {p}" for p, good in getattr(s, "proto_ok", {}).items() if good)
            if s.alpn and s.alpn != "h2":
                ok += f" (ALPN offered h2 and http/1.1: {s.alpn})"
            if s.proc is None:
                log(f"{s.name}: answers {ok}")
            else:
                log(f"{s.name}{' (TLS)' if s.tls else ''}: pid {s.proc.pid}, port {s.port}"
                    f"{f' (h2c {s.h2c_port})' if s.h2c_port else ''}, answers {ok}")
            for route, bad in getattr(s, "problems", {}).items():
                if not any("status 404" in b for b in bad):
                    log(f"{s.name}: {route} answers wrongly, not measured: " + "; ".join(bad))

    def stop_one(self, s, quiet=True):
        if s.proc is None:
            return
        pid = s.proc.pid
        code = s.stop()
        s.exits.append({"pid": pid, "exit": code, "note": s.exit_note})
        if not quiet or code != 0:
            note = f" ({s.exit_note})" if s.exit_note else ""
            log(f"{s.name}: pid {pid} stopped, exit status {code}{note}")

    def stop_servers(self):
        for s in self.servers:
            self.stop_one(s, quiet=False)

    def ensure_alive(self, s):
        if s.alive():
            return True
        log(f"{s.name} died (exit {s.proc.returncode if s.proc else '?'}): "
            f"{s.stderr_tail()}; restarting")
        s.restarts += 1
        try:
            s.start()
            return True
        except RuntimeError as e:
            log(str(e))
            return False

    # --- plan ---
    def make_plan(self):
        ringo = next((s for s in self.servers if s.name == "ringo"), None)
        for c in self.a.case_list:
            if c.idle and self.nofile < self.a.idle_conns + 1024:
                self.skipped_cases[c.name] = (
                    f"RLIMIT_NOFILE hard limit {self.nofile} < {self.a.idle_conns} + 1024")
                continue
            if getattr(c, "load", "wrk") == "h2load" and not shutil.which("h2load"):
                self.skipped_cases[c.name] = "h2load not installed (Debian: nghttp2-client)"
                continue
            proto = getattr(c, "proto", "h1")
            members = [s for s in self.servers if s.path(c.route) and s.speaks(proto) and
                       (s.name in MULTI_SERVERS if c.multi else not s.multi)]
            if proto == "h2":
                # A TLS instance that chose another protocol than h2 by ALPN: its row says
                # "not negotiated" (a build without h2 over TLS), the case runs without it.
                for s in self.servers:
                    if s.tls and s.path(c.route) and s.alpn != "h2":
                        self.not_negotiated.setdefault(c.name, {})[s.name] = s.alpn or "none"
                        log(f"{c.name}: {s.name}: h2 not negotiated (ALPN: {s.alpn or 'none'})")
            if c.openloop is not None:
                members = [s for s in members if s.name in c.openloop]
                if not os.access(self.a.openloop_bin, os.X_OK):
                    self.skipped_cases[c.name] = f"no load generator ({self.a.openloop_bin})"
                    continue
            if c.hook and ringo is not None and not ringo.path(c.route):
                self.skipped_cases[c.name] = (
                    f"ringo does not answer {servers.RINGO_ROUTES[c.route]} yet")
                continue
            if not members:
                if c.name in self.not_negotiated:
                    self.plan.append((c, members))  # its rows say "not negotiated"
                    continue
                self.skipped_cases[c.name] = "no selected server answers the route"
                continue
            self.plan.append((c, members))
            if c.route in servers.SIZE_PROBES:
                for s in members:
                    n = servers.body_bytes(s.url(s.path(c.route)),
                                           servers.ROUTE_HEADERS.get(c.route, ()))
                    self.body_bytes.setdefault(c.name, {})[s.name] = n
                    log(f"{c.name}: {s.name} sends {n:,} body bytes per response")

    def seconds(self, c, warmup):
        """A run's length: --warmup or --duration, at most the case's smoke_s in a smoke
        run."""
        s = self.a.warmup if warmup else self.a.duration
        if self.a.mode == "smoke" and getattr(c, "smoke_s", None):
            s = min(s, c.smoke_s)
        return s

    def eta(self):
        a, total = self.a, 0.0
        for c, members in self.plan:
            # wrk start-up and settle() add about 0.9 s a run; an idle run also restarts
            # the server, warms it and opens the connections.
            per = self.seconds(c, False) + 0.9 + (
                7.0 + max(1.0, a.warmup) if c.idle else 0.0)
            warm = a.warmup + 0.9 if a.warmup and not c.idle else 0.0
            if c.openloop is not None:  # every level, plus nginx's capacity run
                per, warm = per + 0.5, warm + 0.5
                total += len(openloop.levels(c)) * len(members) * (a.runs * per + warm)
                total += a.duration + 0.9
                continue
            total += len(members) * (a.runs * per + warm)
        return total

    # --- runs ---
    def wrk_cmd(self, c, s, duration, conns=None):
        cmd = ["wrk", "-t1", f"-c{conns or c.conns}", f"-d{duration:g}s", "--latency"]
        if c.bulk:
            cmd += ["--timeout", "30s"]
        if c.depth > 1:
            cmd += ["-s", PIPELINE_LUA]
        elif c.route in servers.POST_ROUTES:
            cmd += ["-s", POST_LUA]
        for h in servers.ROUTE_HEADERS.get(c.route, ()):
            cmd += ["-H", h]
        cmd.append(s.proto_url(getattr(c, "proto", "h1"), s.path(c.route)))
        if c.depth > 1:
            cmd += ["--", str(c.depth)]
        elif c.route in servers.POST_ROUTES:
            cmd += ["--", self.post_body_file(), servers.POST_ROUTES[c.route]]
        if self.client_cpu is not None:
            cmd = ["taskset", "-c", str(self.client_cpu)] + cmd
        return cmd

    def h2load_cmd(self, c, s, duration):
        """h2load for the https-close, h2c and h2 cases: one thread, the case's connections
        and streams per connection. https-close: HTTP/1.1 with Connection: close, so h2load
        opens a new connection (a full handshake) for every request; h2: ALPN offers h2
        alone (a server that does not choose it fails the run instead of being measured on
        HTTP/1.1)."""
        cmd = ["h2load", "-t1", f"-c{c.conns}", f"-m{c.streams}"]
        if c.proto == "https-close":
            # A count, not -D: h2load 1.52 does not finish a timed run over TLS whose
            # connections close after each response (it stops its clients, then waits
            # forever). The count is what the server did in its last run of this case
            # over this many seconds (HANDSHAKE_GUESS per second at first).
            rate = self.rate_hint.get((c.name, s.name), HANDSHAKE_GUESS)
            cmd += [f"-n{max(4 * c.conns, round(rate * duration))}", "--h1", "-H",
                    "Connection: close"]
        else:
            cmd.append(f"-D{max(1, round(duration * 1000))}ms")
        if c.proto == "h2":
            cmd += ["--npn-list=h2"]
        for h in servers.ROUTE_HEADERS.get(c.route, ()):
            cmd += ["-H", h]
        cmd.append(s.proto_url(c.proto, s.path(c.route)))
        if self.client_cpu is not None:
            cmd = ["taskset", "-c", str(self.client_cpu)] + cmd
        return cmd

    def pgbench_run(self, c, seconds, tag):
        """pgbench in wrk's place: pinned to the load generator's CPU, one thread, the
        case's connections; its tps is the req/s, the database is the server."""
        prefix = os.path.join(self.dir, "wrk", tag + "-log")
        cmd = tfb.pgbench_cmd(self.cluster.dsn, c.conns, seconds, prefix)
        if self.client_cpu is not None:
            cmd = ["taskset", "-c", str(self.client_cpu)] + cmd
        return tfb.run_pgbench(cmd, c.conns, self.cpus,
                               os.path.join(self.dir, "wrk", tag + ".txt"), self.db_pids, prefix)

    def post_body_file(self):
        """The POST cases' body (servers.product_body()), written once into the results."""
        path = os.path.join(self.dir, "product.json")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(servers.product_body())
        return path

    def settle(self, limit=5.0):
        """Wait until no server of ours is still busy (closing the last run's
        connections, a garbage collection): that work would land in the next run."""
        deadline = time.monotonic() + limit
        last = None
        while time.monotonic() < deadline:
            now = measure.cpu_ticks([p for s in self.servers for p in s.pids()] +
                                    self.db_pids())
            if now == last:
                return
            last = now
            time.sleep(0.25)

    def one_run(self, c, s, idx, warmup):
        """One measured slot: repeated while flagged, up to --retries times."""
        best = None
        for attempt in range(1 + (0 if warmup else self.a.retries)):
            if not self.ensure_alive(s):
                return None
            self.settle()
            tag = f"{c.name}-{s.name}-{'w' if warmup else idx}-{attempt}"
            seconds = self.seconds(c, warmup)
            if c.idle:
                r = self.idle_run(c, s, tag)
            elif s.name == "pgbench":
                r = self.pgbench_run(c, seconds, tag)
            elif getattr(c, "load", "wrk") == "h2load":
                r = measure.run_wrk(self.h2load_cmd(c, s, seconds), s.pids(), self.cpus,
                                    os.path.join(self.dir, "wrk", tag + ".txt"),
                                    parse=measure.parse_h2load, limit=4 * seconds + 30)
                if r["rps"] > 0:
                    self.rate_hint[(c.name, s.name)] = r["rps"]
                # The protocol h2load spoke is part of the answer: h2 by ALPN in the h2
                # case, HTTP/1.1 over TLS in the handshake case.
                want = {"h2": "h2", "https-close": "http/1.1"}.get(c.proto)
                if want and r["alpn"] != want:
                    r["exit"] = r["exit"] or 1
                    r["alpn_error"] = f"ALPN {r['alpn']}, not {want}"
            else:
                r = measure.run_wrk(self.wrk_cmd(c, s, seconds), s.pids(), self.cpus,
                                    os.path.join(self.dir, "wrk", tag + ".txt"),
                                    db=self.db_pids if c.tfb else None)
            if r is None:
                return None
            if c.depth > 1:
                # wrk's coordinated-omission correction takes each pipelined response for
                # a request of its own and fills the histogram below its minimum: the
                # percentiles it prints for pipelined runs mean nothing.
                r.update(p50_us=None, p75_us=None, p90_us=None, p99_us=None)
            r.update(case=c.name, server=s.name, run=idx, warmup=warmup, attempt=attempt,
                     bulk=c.bulk,
                     flagged=measure.disturbed(r, self.a.threshold),
                     errors=r["non2xx"] + r["sock_errors"] + (r["exit"] != 0))
            self.runs.append(r)
            if best is None or r["others_cpu_s"] + r["steal_s"] < (
                    best["others_cpu_s"] + best["steal_s"]):
                best = r
            if warmup or not r["flagged"]:
                break
            log(f"   flagged: others used {r['others_cpu_s']:.2f} s CPU "
                f"({', '.join(r['others_top']) or 'unnamed'}), steal {r['steal_s']:.2f} s "
                f"over {r['elapsed_s']:.1f} s" + ("; repeating" if attempt < self.a.retries
                                                   else ""))
        for r in self.runs:
            if r["case"] == c.name and r["server"] == s.name and r["run"] == idx:
                r["chosen"] = r is best
        return best

    def fresh(self, s, c, tag):
        """Restart s and warm it with a short wrk run. Allocators keep freed memory, so
        only a fresh process shows what N connections cost: after one round with them,
        a second round would fit in the pages the first left behind."""
        self.stop_one(s)
        try:
            s.start()
        except RuntimeError as e:
            log(f"   {e}")
            return False
        measure.run_wrk(self.wrk_cmd(c, s, max(1.0, self.a.warmup)), s.pids(), self.cpus,
                        os.path.join(self.dir, "wrk", tag + "-warm.txt"))
        return True

    def idle_run(self, c, s, tag):
        """On a fresh server, open N idle keep-alive connections, measure RSS per
        connection, then run wrk with 64 active connections alongside them."""
        if not self.fresh(s, c, tag):
            return None
        time.sleep(0.3)
        pids = s.pids()
        before = measure.rss_kb(pids)
        holder_cmd = [sys.executable, IDLE_PY, "--port", str(s.port),
                      "--conns", str(self.a.idle_conns), "--path", s.path(c.route)]
        if self.client_cpu is not None:
            holder_cmd = ["taskset", "-c", str(self.client_cpu)] + holder_cmd
        holder = subprocess.Popen(holder_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, preexec_fn=servers._pdeathsig)
        line = holder.stdout.readline().strip()
        if not line.startswith("ready"):
            err = holder.stderr.read().strip().splitlines()
            holder.kill()
            holder.wait()
            log(f"   {s.name}: idle connections failed: {line} {err[-1] if err else ''}")
            return None
        held = int(line.split()[1])
        time.sleep(0.5)
        self.settle()
        pids = s.pids()
        after = measure.rss_kb(pids)
        r = measure.run_wrk(self.wrk_cmd(c, s, self.a.duration), pids, self.cpus,
                            os.path.join(self.dir, "wrk", tag + ".txt"))
        r["idle_alive_kb"] = measure.rss_kb(pids)
        holder.stdin.close()
        holder.send_signal(signal.SIGTERM)
        tail = holder.stdout.read().strip()
        holder.wait()
        r.update(idle_conns=held, rss_before_kb=before, rss_after_kb=after,
                 rss_per_conn_bytes=(after - before) * 1024 / held if held else None,
                 idle_holder=tail)
        time.sleep(1.0)  # let the server release the closed connections
        return r

    def execute(self):
        total = sum(len(m) * (self.a.runs + (1 if self.a.warmup and not c.idle else 0))
                    for c, m in self.plan)
        done = 0
        for c, members in self.plan:
            log(f"== {c.name}: {c.title.format(n=self.a.idle_conns)} "
                f"({', '.join(s.name for s in members)})")
            if c.openloop is not None:
                openloop.execute(self, c, members)
                continue
            for name, alpn in self.not_negotiated.get(c.name, {}).items():
                log(f"   {name}: not negotiated (ALPN offered h2, the server chose {alpn})")
            if self.a.warmup and not c.idle:  # an idle run warms its own fresh server
                for s in members:
                    done += 1
                    self.one_run(c, s, 0, True)
            for i in range(1, self.a.runs + 1):
                for s in members:
                    done += 1
                    r = self.one_run(c, s, i, False)
                    log(f"[{done}/{total}] {c.name} round {i}/{self.a.runs} {s.name}: " +
                        (describe(r) if r else "FAILED"))

    # --- output ---
    def results(self):
        a = self.a
        info = machine_info(self.cpus)
        info["versions"] = {s.name: s.version() for s in self.servers}
        return {
            "mode": a.mode,
            "command": "perf/bench " + " ".join(a.argv),
            "duration_s": a.duration, "rounds": a.runs, "warmup_s": a.warmup,
            "threshold": a.threshold, "idle_conns": a.idle_conns,
            "machine": info,
            "ringo_version": a.ringo_version,
            "servers": [{"name": s.name, "label": s.label, "restarts": s.restarts,
                         "exits": s.exits, "answers": s.answers, "tls": s.tls,
                         "alpn": s.alpn} for s in self.servers],
            "tls": self.tls_info,
            "not_negotiated": self.not_negotiated,
            "skipped_servers": self.skipped_servers,
            "database": self.db_info,
            "problems": self.problems(),
            "cases": [dict(c.to_json(), title=c.title.format(n=a.idle_conns),
                           servers=[s.name for s in m]) for c, m in self.plan],
            "skipped_cases": self.skipped_cases,
            "body_bytes": self.body_bytes,
            "runs": self.runs,
            "summary": summarize(self.runs),
            "openloop_cases": self.openloop_cases,
            "openloop_runs": self.openloop_runs,
            "openloop_summary": openloop.summarize(self.openloop_runs),
        }


    def problems(self):
        """{server: {route or "proto /path": [what was wrong]}}, a server's cleartext and
        TLS instances together."""
        out = {}
        for s in self.servers:
            if getattr(s, "problems", {}):
                out.setdefault(s.name, {}).update(s.problems)
        return out


def describe(r):
    p99, mean = r["p99_us"], r.get("mean_us")
    cpu = r["cpu_us_per_req"]
    s = (f"{r['rps']:,.0f} req/s, p99 {p99 / 1000:.2f} ms, " if p99 is not None else
         f"{r['rps']:,.0f} req/s, mean {mean / 1000:.2f} ms, " if mean is not None else
         f"{r['rps']:,.0f} req/s, ")
    s += f"cpu {cpu:.1f} us/req ({r['server_util'] * 100:.0f}%)" if cpu else "cpu ?"
    if r.get("bulk") and r.get("cpu_s_per_gib") is not None:
        s += f", {r['bytes_per_s'] / (1 << 30):.2f} GiB/s, {r['cpu_s_per_gib']:.3f} CPU-s/GiB"
    if r.get("rss_per_conn_bytes") is not None:
        s += f", {r['rss_per_conn_bytes']:.0f} B/conn RSS"
    if r.get("tls_protocol") or r.get("alpn"):
        s += ", " + " ".join(x for x in (r.get("tls_protocol"), r.get("cipher"),
                                          r.get("alpn")) if x)
    if r["errors"]:
        s += f", ERRORS non2xx={r['non2xx']} sock={r['sock_errors']} exit={r['exit']}"
        if r.get("alpn_error"):
            s += f" ({r['alpn_error']})"
    if r["flagged"]:
        s += " [flagged]"
    return s


def chosen_rounds(runs, by):
    """{(case, r[by]): [runs]}: the attempt chosen for each measured round."""
    groups = {}
    for r in runs:
        if not r["warmup"] and r.get("chosen"):
            groups.setdefault((r["case"], r[by]), []).append(r)
    return groups


def summarize(runs):
    """Median and spread per (case, server) over the chosen attempt of each round."""
    out = {}
    for (case, server), rs in chosen_rounds(runs, "server").items():
        def med(k):
            v = [r[k] for r in rs if r.get(k) is not None]
            return statistics.median(v) if v else None
        rps = [r["rps"] for r in rs]
        out.setdefault(case, {})[server] = {
            "n": len(rs), "rps": statistics.median(rps), "rps_min": min(rps),
            "rps_max": max(rps), "p50_us": med("p50_us"), "p99_us": med("p99_us"),
            "cpu_us_per_req": med("cpu_us_per_req"), "server_util": med("server_util"),
            "wrk_cpu_us_per_req": med("wrk_cpu_us_per_req"),
            "softirq_us_per_req": med("softirq_us_per_req"),
            "mean_us": med("mean_us"),
            "alpn": next((r["alpn"] for r in rs if r.get("alpn")), None),
            "tls_protocol": next((r["tls_protocol"] for r in rs if r.get("tls_protocol")),
                                 None),
            "cipher": next((r["cipher"] for r in rs if r.get("cipher")), None),
            "bytes_per_s": med("bytes_per_s"), "cpu_s_per_gib": med("cpu_s_per_gib"),
            "db_cpu_us_per_req": med("db_cpu_us_per_req"), "db_util": med("db_util"),
            "peak_rss_kb": max(r["peak_rss_kb"] for r in rs),
            "rss_per_conn_bytes": med("rss_per_conn_bytes"),
            "flagged": sum(1 for r in rs if r["flagged"]),
            "errors": sum(r["errors"] for r in rs),
            "timeouts": sum(r["timeouts"] for r in rs),
        }
    return out


def log(msg):
    print(msg, flush=True)


def smoke_verdict(res):
    """What failed in a smoke run: a case ringo (and in the TFB cases ringo's sync twin
    and every peer) did not serve without errors, an answer the checks refused, or ringo's
    exit."""
    bad = openloop.smoke_problems(res)
    for c in res["cases"]:
        if c.get("openloop"):
            continue
        summ = res["summary"].get(c["name"], {})
        want = ["ringo"]
        if "ringo" in res.get("not_negotiated", {}).get(c["name"], {}):
            want = []  # a build without h2 over TLS: the row says so, no failure
        elif c.get("tfb"):
            want = sorted(set(c["servers"]) | ({"ringo", "ringo-sync"} & {
                s["name"] for s in res["servers"]}))
            if c["route"] == "cached_queries":
                want = [w for w in want if w != "ringo-sync"]
        for name in want:
            s = summ.get(name)
            if not s or (s["rps"] <= 0 and not name.startswith("fastapi")):
                # A busy machine can keep a peer from answering within a second: only
                # ringo and pgbench must serve; a peer must not fail.
                bad.append(f"{c['name']}: {name}: no requests")
            elif s["errors"]:
                bad.append(f"{c['name']}: {name}: {s['errors']} errors")
    for name, routes in res.get("problems", {}).items():
        for route, why in routes.items():
            bad.append(f"{name} {route}: {'; '.join(why)}")
    bad += [f"case {n}: {why}" for n, why in res["skipped_cases"].items()]
    if not res["cases"]:
        bad.append("nothing ran")
    return bad + ringo_exit_problems(res)


def interrupt_on_signals():
    """SIGTERM and SIGHUP stop a run as Ctrl-C does: the servers are stopped by PID."""
    def on_signal(signum, _):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def smoke_exit(bad):
    """Logs a smoke run's verdict (bad: what failed); returns the exit status."""
    for x in bad:
        log(f"smoke: FAIL {x}")
    if not bad:
        log("smoke: ok")
    return 1 if bad else 0


def ringo_exit_problems(res):
    """Why ringo's runs in res cannot be trusted: it was skipped, exited with an error, or
    its shutdown line counts live objects."""
    bad = []
    for s in res["servers"]:
        for e in s["exits"] if s["name"] in ("ringo", "ringo-sync", "ringo-sync-base", "ringo-admit",
                                                   "ringo-2r", "ringo-2r-pin", "ringo-1r-both") else []:
            if e["exit"] != 0:
                bad.append(f"ringo exit status {e['exit']} {e['note']}".strip())
            # The shutdown line counts live objects: anything but 0 is a leak.
            counts = [kv.split("=") for kv in e["note"].split("stopped:")[-1].split()]
            if "stopped:" not in e["note"]:
                bad.append("ringo printed no 'ringo: stopped:' line")
            elif any(len(kv) == 2 and kv[1] != "0" for kv in counts):
                bad.append(f"ringo leaked: {e['note']}")
    if "ringo" in res["skipped_servers"]:
        bad.append("ringo: " + res["skipped_servers"]["ringo"])
    return bad


def main(argv):
    if "--report" in argv:
        a = parse_args(argv)
        with open(os.path.join(a.report, "results.json")) as f:
            res = json.load(f)
        report.write_docs(res, a.report, REPO)
        return 0
    a = parse_args(argv)
    a.argv = argv
    a.ringo_version = git_version()
    b = Bench(a)
    log(f"perf/bench {a.mode}: results in {os.path.relpath(b.dir, REPO)}; "
        f"pinning: {machine_info(b.cpus)['pinning']}")
    interrupt_on_signals()
    try:
        b.start_database()
        b.make_cert()
        b.start_servers()
        b.make_plan()
        for name, why in b.skipped_cases.items():
            log(f"skip case {name}: {why}")
        log(f"estimated time: {b.eta() / 60:.1f} min")
        b.execute()
    except KeyboardInterrupt:
        log("interrupted: stopping servers")
        b.stop_servers()
        b.stop_database()
        return 130
    finally:
        b.stop_servers()
        b.stop_database()
    res = b.results()
    with open(os.path.join(b.dir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = report.render(res, chart=None)
    with open(os.path.join(b.dir, "summary.md"), "w") as f:
        f.write(md)
    log("\n" + report.console_table(res))
    tfb_lines = report.tfb_section(res)
    if tfb_lines:
        log("\n" + "\n".join(tfb_lines))
    if a.smoke:
        return smoke_exit(smoke_verdict(res))
    if not a.no_docs:
        report.write_docs(res, b.dir, REPO)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
