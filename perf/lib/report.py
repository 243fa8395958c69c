"""docs/benchmarks.md and the chart, rendered from one run's results.json.

Every figure in the page comes from that one run: speed claims are ratios within it.
"""
import os
import shutil
import subprocess

import openloop

ORDER = ["ringo", "ringo-sync", "ringo-sync-base", "ringo-observe", "limit", "nginx", "h2o", "fastapi-async", "fastapi-def",
         "pgbench", "ringo-1r-both", "ringo-2r", "ringo-2r-pin", "nginx-2w", "h2o-2t"]
LABEL = {"ringo": "ringo", "ringo-sync": "ringo sync (pool)",
         "ringo-sync-base": "ringo sync (base build)",
         "ringo-observe": "ringo + /metrics + access log", "limit": "limit (canned io_uring)",
         "nginx": "nginx", "h2o": "h2o", "fastapi-async": "FastAPI `async def`",
         "fastapi-def": "FastAPI `def`", "pgbench": "pgbench `-S -M prepared`",
         "ringo-1r-both": "ringo, 1 ring, both CPUs", "ringo-2r": "ringo, 2 rings", "ringo-2r-pin": "ringo, 2 rings pinned (ring N on CPU N)",
         "nginx-2w": "nginx, 2 workers (reuseport)",
         "h2o-2t": "h2o, 2 threads"}
SHORT = {"ringo": "ringo", "ringo-sync": "ringo sync", "ringo-sync-base": "ringo sync base", "ringo-observe": "ringo observed", "limit": "limit", "nginx": "nginx",
         "h2o": "h2o", "fastapi-async": "FastAPI async def", "fastapi-def": "FastAPI def",
         "pgbench": "pgbench", "ringo-1r-both": "ringo 1 ring both CPUs", "ringo-2r": "ringo 2 rings",
         "ringo-2r-pin": "ringo 2 rings pinned",
         "nginx-2w": "nginx 2 workers",
         "h2o-2t": "h2o 2 threads"}
# The multi-ring cases: (one thread, two threads) of each server, as in perf/lib/bench.py.
MULTI_PAIRS = [("ringo", "ringo-1r-both"), ("ringo", "ringo-2r"), ("ringo", "ringo-2r-pin"),
               ("nginx", "nginx-2w"), ("h2o", "h2o-2t")]


def f_rps(v):
    return "—" if v is None else f"{v:,.0f}"


def f_lat(us):
    if us is None:
        return "—"
    if us < 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1000:.1f} ms" if us >= 10000 else f"{us / 1000:.2f} ms"


def f_cpu(us):
    return "—" if us is None else (f"{us:.2f} µs" if us < 10 else f"{us:.1f} µs")


def f_kib(kb):
    return "—" if kb is None else (f"{kb / 1024:.1f} MiB" if kb >= 10240 else f"{kb:,} KiB")


def f_ratio(a, b):
    if a is None or not b:
        return "—"
    return f"{a / b:.2f}×"


def f_bytes(v):
    return "—" if v is None else f"{v:,.0f} B"


def marks(s):
    m = ""
    if s.get("flagged"):
        m += " †"
    if s.get("errors"):
        m += " ‡"
    return m


def header(res):
    m = res["machine"]
    v = res["machine"].get("versions", {})
    lines = []
    if res["mode"] == "quick":
        lines += ["> **Quick run.** These figures come from `perf/bench --quick`: "
                  f"{res['duration_s']:g} s per run, {res['rounds']} round(s), on a machine that "
                  "was not kept quiet. They show that the harness works end to end; they are "
                  "not a measurement. The full run is `perf/bench` (about 15–20 minutes).", ""]
    lines += [
        f"- Command: `{res['command'].strip()}`",
        f"- Date: {m['date']}",
        f"- Kernel: {m['kernel']} ({m['os']})",
        f"- CPU: {m['cpu']}, {m['cpus_online']} online; {m['pinning']}",
        f"- Runs: {res['duration_s']:g} s each, {res['rounds']} round(s) per case interleaved "
        f"across servers, {res['warmup_s']:g} s warm-up discarded",
        f"- ringo: {res['ringo_version']} (`--threads 1`)",
    ]
    for name in ORDER[1:]:
        if name in v and name not in ("fastapi-def", "ringo-sync", "ringo-sync-base"):
            lines.append(f"- {SHORT[name].replace(' async def', '')}: {v[name]}")
    lines.append(f"- Load: {m['wrk']}, one thread; liburing {m['liburing']}; {m['gcc']}")
    t = res.get("tls")
    if t:
        seen = sorted({" ".join(x for x in (r.get("tls_protocol"), r.get("cipher")) if x)
                       for r in res["runs"] if r.get("tls_protocol")})
        lines.append(f"- TLS cases: one {t['certificate']} certificate made for the run "
                     "(`openssl req`), the same for every server; TLS 1.2 and 1.3 with "
                     "ringo's ciphers and groups on all three" +
                     (f"; h2load negotiated {', '.join(seen)}" if seen else ""))
    if any(c.get("load") == "h2load" for c in res["cases"]):
        lines.append(f"- h2load: {m.get('h2load', '?')}, one thread")
    return lines


def not_negotiated(res, case):
    """{server: protocol ALPN chose} for the servers of an h2 case that did not choose h2."""
    return res.get("not_negotiated", {}).get(case, {})


def present(res, case):
    return [n for n in ORDER if n in res["summary"].get(case, {})]


def summary_table(res):
    peers = [n for n in ["nginx", "h2o", "fastapi-async", "fastapi-def"]
             if any(n in res["summary"].get(c["name"], {}) for c in res["cases"])]
    cols = (["case", "ringo req/s"] + [f"vs {SHORT[p]}" for p in peers] +
            ["vs limit", "CPU/req vs limit", "p99 vs nginx"])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for c in closed_loop(res):
        s = res["summary"].get(c["name"], {})
        r = s.get("ringo")
        if not r:
            nn = not_negotiated(res, c["name"]).get("ringo")
            if nn:
                out.append("| " + " | ".join([c["name"], f"not negotiated (ALPN: {nn})"] +
                                             ["—"] * (len(cols) - 2)) + " |")
            continue
        lim, ngx = s.get("limit"), s.get("nginx")
        row = [c["name"], f_rps(r["rps"]) + marks(r)]
        row += [f_ratio(r["rps"], s[p]["rps"]) if p in s else "—" for p in peers]
        row.append(f_ratio(r["rps"], lim["rps"]) if lim else "—")
        row.append(f_ratio(r["cpu_us_per_req"], lim["cpu_us_per_req"]) if lim else "—")
        row.append(f_ratio(r["p99_us"], ngx["p99_us"]) if ngx else "—")
        out.append("| " + " | ".join(row) + " |")
    out += ["", "req/s ratios are ringo's requests/s divided by the other server's in the same "
            "run (above 1×: ringo is faster; vs limit: the share of this machine's ceiling). "
            "CPU/req and p99 ratios are ringo's divided by the other's (below 1×: ringo "
            "spends less, waits less)."]
    return out


def case_table(res, c):
    s = res["summary"].get(c["name"], {})
    nginx, limit, h2o = s.get("nginx"), s.get("limit"), s.get("h2o")
    proto = c.get("proto", "h1") != "h1"  # TLS and HTTP/2: vs h2o instead of vs limit
    h2load = c.get("load") == "h2load"  # no percentiles: the mean request time
    cols = (["server", "req/s (median)", "spread (min–max)"] +
            (["mean latency"] if h2load else ["p50", "p99"]) +
            ["CPU / req", "server CPU", "peak RSS", "vs nginx",
             "vs h2o" if proto else "vs limit"] + (["protocol"] if proto else []))
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    nn = not_negotiated(res, c["name"])
    for n in [n for n in ORDER if n in s or n in nn]:
        if n not in s:
            out.append("| " + " | ".join([LABEL[n], f"not negotiated (ALPN: {nn[n]})"] +
                                         ["—"] * (len(cols) - 2)) + " |")
            continue
        x = s[n]
        row = [LABEL[n], f_rps(x["rps"]) + marks(x),
               f"{f_rps(x['rps_min'])}–{f_rps(x['rps_max'])}"]
        row += ([f_lat(x.get("mean_us"))] if h2load else
                [f_lat(x["p50_us"]), f_lat(x["p99_us"])])
        row += [f_cpu(x["cpu_us_per_req"]),
                "—" if x["server_util"] is None else f"{x['server_util'] * 100:.0f}%",
                f_kib(x["peak_rss_kb"]),
                f_ratio(x["rps"], nginx["rps"]) if nginx else "—"]
        if proto:
            row.append(f_ratio(x["rps"], h2o["rps"]) if h2o else "—")
            row.append(" ".join(v for v in (x.get("tls_protocol"), x.get("cipher"),
                                            x.get("alpn")) if v) or "—")
        else:
            row.append(f_ratio(x["rps"], limit["rps"]) if limit else "—")
        out.append("| " + " | ".join(row) + " |")
    return out


def bulk_table(res, c):
    """Large bodies: bytes moved and the server's CPU per GiB, next to nginx's."""
    s = res["summary"].get(c["name"], {})
    nginx = s.get("nginx")
    cols = ["server", "GiB/s (median)", "CPU-s per GiB", "req/s", "server CPU", "peak RSS",
            "GiB/s vs nginx", "CPU per GiB vs nginx"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for n in present(res, c["name"]):
        x = s[n]
        bps, gib = x.get("bytes_per_s"), x.get("cpu_s_per_gib")
        row = [LABEL[n], ("—" if bps is None else f"{bps / (1 << 30):.2f}") + marks(x),
               "—" if gib is None else f"{gib:.3f}", f"{x['rps']:,.1f}",
               "—" if x["server_util"] is None else f"{x['server_util'] * 100:.0f}%",
               f_kib(x["peak_rss_kb"]),
               f_ratio(bps, nginx.get("bytes_per_s")) if nginx else "—",
               f_ratio(gib, nginx.get("cpu_s_per_gib")) if nginx else "—"]
        out.append("| " + " | ".join(row) + " |")
    return out


def idle_table(res, c):
    s = res["summary"].get(c["name"], {})
    before = {}
    for r in res["runs"]:
        if r["case"] == c["name"] and r.get("chosen") and not r["warmup"]:
            before.setdefault(r["server"], []).append(r)
    cols = ["server", "idle conns", "RSS before", "RSS with them", "RSS per idle conn",
            "req/s (64 active)", "p50", "p99", "CPU / req"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for n in present(res, c["name"]):
        x, rs = s[n], before.get(n, [])
        last = rs[-1] if rs else {}
        row = [LABEL[n], f"{last.get('idle_conns', 0):,}", f_kib(last.get("rss_before_kb")),
               f_kib(last.get("rss_after_kb")), f_bytes(x["rss_per_conn_bytes"]),
               f_rps(x["rps"]) + marks(x), f_lat(x["p50_us"]), f_lat(x["p99_us"]),
               f_cpu(x["cpu_us_per_req"])]
        out.append("| " + " | ".join(row) + " |")
    return out


def notes(res):
    out = []
    flagged = sum(1 for r in res["runs"] if r.get("chosen") and r["flagged"] and not r["warmup"])
    errors = [r for r in res["runs"] if r.get("chosen") and r["errors"] and not r["warmup"]]
    if flagged:
        out.append(f"- † In {flagged} run(s) other processes (or the hypervisor) took more "
                   f"than {res.get('threshold', 0.05):.0%} of a CPU on every attempt; the "
                   "least disturbed attempt is shown.")
    timeouts = sorted({f"{r['server']} in {r['case']} ({r['timeouts']})" for r in res["runs"]
                       if r.get("chosen") and r["timeouts"] and not r["warmup"]})
    if timeouts:
        out.append("- wrk timeouts (no response within 2 s, not counted as errors): " +
                   ", ".join(timeouts) + ".")
    if errors:
        kinds = sorted({f"{r['server']} in {r['case']}" for r in errors})
        out.append("- ‡ wrk counted non-2xx responses, socket errors or timeouts: " +
                   ", ".join(kinds) + " (raw output in the results directory).")
    for s in res["servers"]:
        if s.get("restarts"):
            out.append(f"- {s['name']} died and was restarted {s['restarts']} time(s).")
        if s["name"] == "ringo":
            for e in s.get("exits", []):
                out.append(f"- ringo pid {e['pid']} exit status {e['exit']}" +
                           (f": `{e['note']}`" if e["note"] else ""))
        elif any(e["exit"] != 0 for e in s.get("exits", [])):
            bad = [str(e["exit"]) for e in s["exits"] if e["exit"] != 0]
            out.append(f"- {s['name']} exit status {', '.join(bad)} when stopped.")
    for n, why in res["skipped_servers"].items():
        out.append(f"- Server {n} not run: {why}.")
    for n, why in res["skipped_cases"].items():
        out.append(f"- Case {n} not run: {why}.")
    return out


METHOD = """\
- Every server listens on 127.0.0.1 with the same routes (`/plaintext` → `Hello, World!`
  as text/plain, `/json` → `{"message":"Hello, World!"}`), pinned with `taskset` to one
  CPU while wrk (one thread) is pinned to the other.
- Equal terms: ringo `--threads 1`; nginx `worker_processes 1`, `access_log off`,
  `keepalive_requests 10000000`, `return 200` ([perf/peers/nginx.conf](../perf/peers/nginx.conf));
  h2o `num-threads: 1`, no access log, bodies from its file handler
  ([perf/peers/h2o.conf](../perf/peers/h2o.conf)); FastAPI on uvicorn, one worker, uvloop +
  httptools, `--no-access-log`, the same app serving `async def` routes and plain `def`
  routes on the threadpool ([perf/peers/fastapi_app.py](../perf/peers/fastapi_app.py));
  limit is [perf/limit/limit.c](../perf/limit/limit.c): one io_uring, multishot accept and
  recv, every `\\r\\n\\r\\n` answered with a canned response in one send per batch, no
  parsing at all — the ceiling of this machine.
- Per case: one warm-up run per server (discarded), then rounds interleaved across servers
  (A B C A B C …); the table shows the median round and the min–max spread.
- A run during which processes other than the server and wrk used more than 5% of a CPU on
  the two CPUs (from /proc/stat against the server's and wrk's own CPU time), or the
  hypervisor stole as much, is flagged and repeated.
- CPU / req: the server's utime + stime (its whole process tree, /proc/PID/stat) over the run,
  divided by the responses wrk counted — it stays meaningful when wrk is the bottleneck.
  Softirq time of the loopback is charged to no process and is left out for everyone.
- Peak RSS: VmHWM of the process tree, reset before each run (`/proc/PID/clear_refs`).
- Pipelined: wrk with [perf/wrk/pipeline.lua](../perf/wrk/pipeline.lua), 16 requests per
  write (TechEmpower plaintext style). No latency is shown there: wrk's coordinated-omission
  correction takes each of the 16 responses for a request of its own and fills its
  histogram below the minimum, so the percentiles it prints for pipelined runs are wrong.
- Idle connections: a helper opens N keep-alive connections (source addresses spread over
  127.0.0.x), sends one request on each and keeps them open; RSS per connection is
  (RSS with them − RSS before) / N; wrk then runs 64 active connections alongside.
- Large bodies (`static-64m-4`: a 64 MiB file at 4 connections, wrk allowed 30 s per
  response): GiB/s from the bytes wrk read (partial responses included) over the run, and
  the server's CPU-seconds per GiB of them; nginx and h2o serve the same file.
- Routes that appear later (`/sleep?ms=10`, `/sync/json`, `/sync/sleep?ms=10`) are probed
  with curl at start; their cases run when ringo answers them.
- POST cases (`products-64`, `echo-1k-64`): wrk with [perf/wrk/post.lua](../perf/wrk/post.lua)
  sending the same 1,027-byte JSON product (`product_body()` in perf/lib/servers.py) with
  `Content-Type: application/json`; at start each server is probed with one such POST
  (201 expected from `/products`, 200 from `/echo`).
- TechEmpower cases (`db`, `queries-20`, `fortunes`, `updates-20`, `cached-queries-100`,
  [perf/lib/tfb.py](../perf/lib/tfb.py)): the run starts a throw-away PostgreSQL 15 cluster
  (`tests/integration/pg_cluster.py`: World 10,000 rows, Fortune 12, fsync off) and stops
  it at the end. ringo's async routes and, in a second ringo process, its `/sync/...`
  twins (pool workers with blocking libpq); FastAPI with asyncpg (`async def`, a pool of
  32) and psycopg2 (`def`, one connection per threadpool thread) from
  [perf/peers/fastapi_tfb.py](../perf/peers/fastapi_tfb.py); and in the `db` case
  `pgbench -S -M prepared` (select-only on its own scale-1 tables, the same 64
  connections, one thread, pinned where wrk runs) as the database's ceiling. Every
  server's answers are checked against the database before it is measured (clamping,
  rows and values, fortunes escaped and sorted, updates stored, headers); a wrong
  answer keeps it out of the case. PostgreSQL is not pinned: it shares both CPUs with
  the server (CPU 0) and the load generator (CPU 1). DB CPU is utime + stime of the
  postmaster's process tree (every backend, plus the time of backends that exited in
  the window, reaped into the postmaster's cutime + cstime) over the measured window,
  per response; it is taken out of the "others" that flag a run. pgbench logs in its 64
  clients one after the other inside its `-T` (seconds here): its window opens when the
  64 backends exist, and its rate is its own tps without the connection time.
- Open-loop cases (`openloop-plaintext`, `overload`, [perf/lib/openloop.py](../perf/lib/openloop.py)):
  [perf/openloop/openloop.c](../perf/openloop/openloop.c) pinned where wrk runs sends
  requests at fixed times (start + i / rate) whatever the server answers, on keep-alive
  connections (an idle one first, else pipelined on the next), and takes each latency from
  the request's scheduled time, so a stall is charged to every request it delayed. 100% is
  nginx's wrk rate at 64 connections (measured at the start of the case) for /plaintext, and
  40 pool workers / 10 ms = 4,000 req/s for /sync/sleep?ms=10 (ringo's pool and FastAPI's
  threadpool both hold 40 threads); the overload case runs 512 connections plus a probe of
  the health route (100 req/s on 2 connections of its own). Goodput: 200s within 100 ms of
  their scheduled time, per second of sending. Answers still missing 2 s after the last
  send count as timeouts.
- TLS and HTTP/2 cases (`https-plaintext-64`, `https-handshakes`, `h2c-h2load`,
  `h2-h2load`): a certificate made for the run (`openssl req`, ECDSA P-256 unless
  `--tls-key rsa`) serves every server; each server's TLS listener is a process of its own
  next to its cleartext one, with ringo's protocols and ciphers (TLS 1.2 and 1.3, ECDHE +
  AEAD, the client's preference, X25519 first): ringo `--tls-cert/--tls-key`, nginx
  `listen ... ssl http2` ([perf/peers/nginx-tls.conf](../perf/peers/nginx-tls.conf)), h2o
  with `ssl:` and neverbleed off ([perf/peers/h2o-tls.conf](../perf/peers/h2o-tls.conf)).
  Session tickets are on everywhere; no kTLS. `https-plaintext-64`: wrk over https on 64
  keep-alive connections. `https-handshakes`: `h2load --h1 -H "Connection: close"`, so every
  request is a new TCP connection and a full TLS handshake (h2load never offers a session
  to resume); req/s is handshakes/s and CPU / req the server's CPU per handshake.
  `h2c-h2load`: `h2load -c 64 -m 16` with prior knowledge on the cleartext port (nginx:
  a `listen ... http2` port without ssl). `h2-h2load`: the same over TLS with ALPN offering
  h2 alone; a server that chooses another protocol when offered h2 and http/1.1 (curl at
  start) is not measured and its row says "not negotiated". Every answer is checked at
  start with curl over each protocol (status 200, body `Hello, World!`), and every run by
  h2load's counts (no failed request, only 2xx) and the protocol it negotiated. h2load
  prints no percentiles: the mean request time is shown."""

RERUN = """\
```sh
perf/bench              # the full run (about 15-20 minutes), rewrites this page
perf/bench --quick      # a few seconds per case: checks the harness end to end
perf/bench --smoke      # CI: ringo alone for 2 s (TLS, h2c: 1 s), installs only wrk,
                        # h2load and openssl, no docs
perf/bench --cases plaintext-64,pipeline-16 --servers ringo,nginx,limit --runs 5
perf/bench --tfb        # the TechEmpower database cases only (PostgreSQL, pgbench)
perf/bench --report perf/results/<run>   # re-render this page from a results directory
perf/bench --cases static-4k-64,static-64m-4 --servers ringo,nginx,h2o --runs 5
perf/callgrind.sh       # instructions per request and the top functions
perf/bench --cases openloop-plaintext,overload --servers ringo,ringo-admit,nginx,fastapi-def
perf/bench --cases plaintext-64-2w,json-64-2w,sync-json-64-2w --servers ringo,ringo-1r-both,ringo-2r,ringo-2r-pin,nginx,nginx-2w,h2o,h2o-2t
perf/bench --cases https-plaintext-64,https-handshakes,h2c-h2load,h2-h2load \\
    --servers ringo,nginx,h2o --runs 3 --no-docs   # TLS and HTTP/2 (--tls-key rsa)
```
It installs what is missing from Debian (wrk, nghttp2-client, openssl, nginx-light, h2o, python3-fastapi,
python3-uvicorn, python3-uvloop, python3-httptools, gnuplot-nox), brings `build/ringo` up
to date with CMake (or uses `RINGO_BIN`), stops every server it started by PID, and keeps
raw wrk output and `results.json` in `perf/results/` (not committed)."""


def f_util(v):
    return "—" if v is None else f"{v * 100:.0f}%"


# The TFB targets: (case, ringo variant, peer, least ratio of req/s).
TFB_TARGETS = [("db", "ringo", "fastapi-async", 3.0), ("queries-20", "ringo", "fastapi-async", 3.0),
               ("fortunes", "ringo", "fastapi-async", 3.0),
               ("updates-20", "ringo", "fastapi-async", 2.0), ("db", "ringo", "pgbench", 0.6),
               ("db", "ringo-sync", "fastapi-def", 5.0),
               ("queries-20", "ringo-sync", "fastapi-def", 5.0),
               ("fortunes", "ringo-sync", "fastapi-def", 5.0),
               ("updates-20", "ringo-sync", "fastapi-def", 5.0)]


def tfb_section(res):
    """The TFB cases as one table (every server, every case) and the targets as same-run
    ratios of medians; [] when the run had none."""
    cases = [c for c in res["cases"] if c.get("tfb")]
    if not cases:
        return []
    cols = ["case", "server", "req/s (median)", "spread", "p99", "server CPU / req",
            "DB CPU / req", "server CPU", "DB CPU"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for c in cases:
        s = res["summary"].get(c["name"], {})
        for i, n in enumerate(present(res, c["name"])):
            x = s[n]
            out.append("| " + " | ".join([
                c["name"] if i == 0 else "", LABEL[n], f_rps(x["rps"]) + marks(x),
                f"{f_rps(x['rps_min'])}–{f_rps(x['rps_max'])}", f_lat(x["p99_us"]),
                f_cpu(x["cpu_us_per_req"]), f_cpu(x.get("db_cpu_us_per_req")),
                f_util(x["server_util"]) if n != "pgbench" else "—",
                f_util(x.get("db_util"))]) + " |")
    out += ["", "| target | case | ratio (same run, medians) | |", "|---|---|---|---|"]
    for case, mine, peer, want in TFB_TARGETS:
        s = res["summary"].get(case, {})
        if mine not in s or peer not in s:
            got, verdict = "—", "not run"
        else:
            ratio = s[mine]["rps"] / s[peer]["rps"] if s[peer]["rps"] else 0.0
            got, verdict = f"{ratio:.2f}×", "met" if ratio >= want else "missed"
        out.append(f"| {SHORT[mine]} ≥ {want:g}× {SHORT[peer]} | {case} | {got} | {verdict} |")
    return out


def render(res, chart, overload_chart=None):
    lines = ["# Benchmarks", ""]
    lines += header(res) + [""]
    lines += ["## ringo as a ratio to each peer (medians)", ""]
    lines += summary_table(res) + [""]
    if chart:
        lines += [f"![req/s and CPU per request, log scale]({chart})", ""]
    # The hand-written reading of the numbers (targets, profile) survives re-runs.
    analysis = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            lines += [f.read().rstrip(), ""]
    tfb = tfb_section(res)
    if tfb:
        lines += ["## TechEmpower test types with PostgreSQL (this run)", ""] + tfb + [""]
    ol = openloop.section(res, overload_chart)
    if ol:
        lines += ol
    lines += multi_section(res)
    lines += ["## Per case", ""]
    for c in closed_loop(res):
        lines += [f"### {c['title']} (`{c['name']}`)", ""]
        if c["route"] in ("sleep", "sync_sleep"):
            lines += [f"Each request sleeps 10 ms: the ideal is {c['conns']} connections × "
                      f"100/s = {c['conns'] * 100:,} req/s.", ""]
        table = (idle_table if c["idle"] else bulk_table if c.get("bulk") else case_table)
        lines += table(res, c) + [""]
    n = notes(res)
    if n:
        lines += ["## Notes", ""] + n + [""]
    lines += ["## Method", "", METHOD, "", "## Rerun", "", RERUN, ""]
    return "\n".join(lines)


def console_table(res):
    rows = [("case", "server", "req/s", "spread", "p50", "p99", "cpu/req", "peak", "flags")]
    for c in res["cases"]:
        s = res["summary"].get(c["name"], {})
        for n, alpn in not_negotiated(res, c["name"]).items():
            rows.append((c["name"], n, "not negotiated", f"(ALPN: {alpn})", "", "", "", "", ""))
        for n in present(res, c["name"]):
            x = s[n]
            extra = (f" {x['rss_per_conn_bytes']:.0f}B/conn"
                     if x.get("rss_per_conn_bytes") is not None else "")
            rows.append((c["name"], n, f_rps(x["rps"]),
                         f"{f_rps(x['rps_min'])}-{f_rps(x['rps_max'])}",
                         f_lat(x["p50_us"]), f_lat(x["p99_us"]),
                         f_cpu(x["cpu_us_per_req"]).replace("µ", "u"),
                         f_kib(x["peak_rss_kb"]) + extra,
                         marks(x).strip()))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w[i]) for i, v in enumerate(r)) for r in rows)


def closed_loop(res):
    """The wrk cases on one server CPU (the open-loop and multi-ring ones have sections of
    their own)."""
    return [c for c in res["cases"] if not c.get("openloop") and not c.get("multi")]


def multi_table(res, c):
    """One multi-ring case: each server with one thread and with two, and what the second
    bought it (2 over 1, same run)."""
    s = res["summary"].get(c["name"], {})
    cols = ["server", "req/s (median)", "spread (min–max)", "p99", "server CPU / req",
            "wrk CPU / req", "softirq / req", "server CPU", "req/s 2 vs 1", "CPU/req 2 vs 1"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    shown = set()
    for one, two in MULTI_PAIRS:
        for n in (one, two):
            if n not in s or n in shown:
                continue
            shown.add(n)
            x, base = s[n], s.get(one) if n == two else None
            out.append("| " + " | ".join([
                LABEL[n], f_rps(x["rps"]) + marks(x),
                f"{f_rps(x['rps_min'])}–{f_rps(x['rps_max'])}", f_lat(x["p99_us"]),
                f_cpu(x["cpu_us_per_req"]), f_cpu(x.get("wrk_cpu_us_per_req")),
                f_cpu(x.get("softirq_us_per_req")), f_util(x["server_util"]),
                f_ratio(x["rps"], base["rps"]) if base else "—",
                f_ratio(x["cpu_us_per_req"], base["cpu_us_per_req"]) if base else "—"]) + " |")
    return out


def multi_verdict(res, c):
    """ringo's two rings against the peers' two workers, and the scaling ratios."""
    s = res["summary"].get(c["name"], {})

    def scale(one, two):
        return f_ratio(s[two]["rps"], s[one]["rps"]) if one in s and two in s else "—"
    parts = [f"{SHORT[two]} / {SHORT[one]}: {scale(one, two)}" for one, two in MULTI_PAIRS
             if one in s and two in s]
    out = ["Scaling (req/s with two threads over one, same run): " + "; ".join(parts) + "."]
    if "ringo-2r" in s:
        r = s["ringo-2r"]
        for peer in ("nginx-2w", "h2o-2t"):
            if peer in s:
                out.append(f"ringo 2 rings vs {SHORT[peer]}: req/s "
                           f"{f_ratio(r['rps'], s[peer]['rps'])}, server CPU per request "
                           f"{f_ratio(r['cpu_us_per_req'], s[peer]['cpu_us_per_req'])}.")
    return out


def multi_section(res):
    cases = [c for c in res["cases"] if c.get("multi")]
    if not cases:
        return []
    out = ["## Two rings against two workers (this run)", "",
           "The one-thread servers run pinned to the server CPU as everywhere else; the "
           "two-thread ones (ringo `--threads 2`, nginx `worker_processes 2` with "
           "`listen ... reuseport`, h2o `num-threads: 2`) may run on both CPUs; wrk (one "
           "thread) stays pinned to its CPU, so a second server thread shares that CPU with "
           "the load generator. req/s is then bounded by the two CPUs shared by everyone; "
           "server CPU per request (its process tree's CPU time over the responses) is the "
           "figure that compares servers, and wrk's and the loopback's softirq per request "
           "show where the rest of the machine went.", ""]
    for c in cases:
        out += [f"### {c['title']} (`{c['name']}`)", ""]
        out += multi_table(res, c) + [""] + multi_verdict(res, c) + [""]
    return out


def chart_data(res, path):
    """Rows: cases; columns: servers; '-' where a server did not run the case."""
    names = [n for n in ORDER if any(n in res["summary"].get(c["name"], {})
                                     for c in closed_loop(res))]
    with open(path, "w") as f:
        for key in ("rps", "cpu_us_per_req"):
            f.write("case " + " ".join(f'"{SHORT[n]}"' for n in names) + "\n")
            for c in closed_loop(res):
                s = res["summary"].get(c["name"], {})
                vals = [s[n][key] if n in s and s[n][key] else None for n in names]
                f.write(c["name"] + " " + " ".join("-" if v is None else f"{v:.4g}"
                                                   for v in vals) + "\n")
            f.write("\n\n")
    return len(names)


def make_chart(res, results_dir, png):
    if not shutil.which("gnuplot") or not closed_loop(res):
        return False
    dat = os.path.join(results_dir, "chart.dat")
    n = chart_data(res, dat)
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "chart.gnuplot")
    title = "quick run: " if res["mode"] == "quick" else ""
    title += f"{res['machine']['date']}, kernel {res['machine']['kernel']}"
    r = subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'; ncols={n}; "
                        f"nrows={len(closed_loop(res))}; "
                        f"subtitle='{title}'", script], capture_output=True, text=True)
    if r.returncode != 0:
        print("chart: gnuplot failed: " + r.stderr.strip())
        return False
    return True


def write_docs(res, results_dir, repo):
    docs = os.path.join(repo, "docs")
    os.makedirs(docs, exist_ok=True)
    png = os.path.join(docs, "benchmarks.png")
    chart = "benchmarks.png" if make_chart(res, results_dir, png) else None
    opng = os.path.join(docs, "benchmarks-overload.png")
    ochart = "benchmarks-overload.png" if openloop.chart(res, results_dir, opng) else None
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write(render(res, chart, ochart))
    print(f"wrote docs/benchmarks.md{' and docs/benchmarks.png' if chart else ''}")
