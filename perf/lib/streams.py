"""perf/streams' engine: ringo's streams side by side with peers in the same run.

Run through perf/streams (it installs what is missing and builds ringo). Cases:
  sse     N clients (1,000) each on GET /events?interval_ms=100 (10 events/s): ringo
          and FastAPI's StreamingResponse on uvicorn; server CPU and per-event lateness;
  ws-C-S  C connections (1, 64) each sending an S-byte binary message (32 B, 16 KiB) to
          GET /ws/echo and awaiting its echo, in a loop: ringo (a build with WebSocket;
          skipped when its /ws/echo does not answer 101) and FastAPI on uvicorn with
          websockets; round trips/s and latency;
  upload  C connections (8) each uploading B-MiB bodies (64) in a loop: ringo POST
          /upload?hash=0 (async, io_uring writes) and /sync/upload?hash=0 (pool, write(2))
          against nginx's DAV PUT, all spooling to a directory made for the run; MB/s and
          server CPU seconds per GB.
The method is perf/bench's (perf/lib/bench.py): servers pinned to one CPU, the client
(perf/lib/streamload.py, Python) to the other; one discarded warm-up run per server, then
rounds interleaved across servers and the median round; the server's CPU time from /proc
over the client's measured window (measure.Window); runs that others disturbed flagged.
The client's own CPU use is reported too: near 1 s/s it is the client that limits.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import streamload  # noqa: E402

PERF = servers.PERF
REPO = bench.REPO
STREAMLOAD = os.path.join(PERF, "lib", "streamload.py")
SATURATED = 0.85  # a process using this share of its CPU is what limits the run


class Member:
    """One server answering one case on one route."""

    def __init__(self, key, label, server, path, method="GET"):
        self.key, self.label, self.server, self.path, self.method = (key, label, server,
                                                                      path, method)


class Case:
    def __init__(self, name, group, title, **params):
        self.name, self.group, self.title, self.params = name, group, title, params

    def to_json(self):
        return dict(name=self.name, group=self.group, title=self.title, **self.params)


def make_cases(a):
    n = int((a.warmup + a.duration + a.timeout + 10) * 1000 / a.interval_ms) + 1
    cases = [Case("sse", "sse", f"SSE fan-out: {a.clients:,} clients, one event every "
                  f"{a.interval_ms:g} ms each", clients=a.clients, interval_ms=a.interval_ms,
                  events_per_stream=n)]
    for conns in a.ws_conns:
        for size in a.ws_sizes:
            cases.append(Case(f"ws-{conns}-{size}", "ws",
                              f"WebSocket echo: {conns} connection(s), {size:,} B binary "
                              "messages", conns=conns, size=size))
    cases.append(Case("upload", "upload", f"Uploads: {a.upload_conns} connections, "
                      f"{a.upload_mib} MiB bodies, spooled to disk", conns=a.upload_conns,
                      mib=a.upload_mib))
    return cases


def members(case, a):
    if case.group == "sse":
        path = (f"/events?n={case.params['events_per_stream']}"
                f"&interval_ms={a.interval_ms:g}")
        return [Member("ringo", "ringo `/events`", "ringo", path),
                Member("fastapi", "FastAPI StreamingResponse", "fastapi-async", path)]
    if case.group == "ws":
        return [Member("ringo", "ringo `/ws/echo`", "ringo", "/ws/echo"),
                Member("fastapi", "FastAPI `@app.websocket`", "fastapi-async", "/ws/echo")]
    return [Member("ringo", "ringo `/upload?hash=0` (async)", "ringo", "/upload?hash=0",
                   "POST"),
            Member("ringo-sync", "ringo `/sync/upload?hash=0` (pool)", "ringo",
                   "/sync/upload?hash=0", "POST"),
            Member("nginx", "nginx DAV `PUT`", "nginx", "/dav/c{i}", "PUT")]


GROUP_SERVERS = {"sse": ["ringo", "fastapi-async"], "ws": ["ringo", "fastapi-async"],
                 "upload": ["ringo", "nginx"]}


def ws_status(port, path, timeout=5.0):
    """The status a WebSocket handshake on path gets (0: no answer)."""
    req, _ = streamload.ws_handshake(path, port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(req)
            raw = b""
            while (head := streamload.split_head(raw)) is None:
                chunk = s.recv(4096)
                if not chunk:
                    return 0
                raw += chunk
            return head[0]
    except (OSError, ValueError):
        return 0


def parse_args(argv):
    ap = bench.run_parser(
        "perf/streams", "ringo's streams (SSE, WebSocket echo, uploads) vs FastAPI on "
        "uvicorn and nginx on 127.0.0.1, in the same run.",
        "sanity run: 3 s per run, 1 round, 1 s warm-up",
        "CI: ringo alone, small loads, about 2 s per case; fails when a case did not run "
        "cleanly (never on speed)",
        {"full": (10.0, 3, 2.0), "quick": (3.0, 1, 1.0), "smoke": (2.0, 1, 0.5)},
        {"full": 1, "quick": 0, "smoke": 0})
    ap.add_argument("--cases", help="comma list of groups (sse, ws, upload) or case names; "
                    "default all")
    ap.add_argument("--servers", help="comma list: ringo, fastapi-async, nginx (default all)")
    ap.add_argument("--clients", type=int, help="SSE clients (default 1000)")
    ap.add_argument("--interval-ms", type=float, default=100, help="SSE interval (100)")
    ap.add_argument("--ws-conns", help="WebSocket connections, comma list (default 1,64)")
    ap.add_argument("--ws-sizes", help="WebSocket message bytes, comma list "
                    "(default 32,16384)")
    ap.add_argument("--upload-conns", type=int, help="concurrent uploads (default 8)")
    ap.add_argument("--upload-mib", type=int, help="MiB per upload (default 64)")
    ap.add_argument("--spool-parent", default=tempfile.gettempdir(),
                    help="where the run's spool directory is made and removed "
                         "(default $TMPDIR or /tmp: a disk here, not tmpfs)")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="bound on connecting and on finishing a run's last messages")
    ap.add_argument("--quiet-wait", type=float,
                    help="seconds a run may wait for other processes to leave the CPUs "
                         "alone (default 20; 0 with --quick and --smoke)")
    ap.add_argument("--table", help="also write the markdown tables to this file")
    a = ap.parse_args(argv)
    bench.run_defaults(a, *ap.mode_defaults)
    small = a.mode == "smoke"
    if a.quiet_wait is None:
        a.quiet_wait = 20.0 if a.mode == "full" else 0.0
    a.clients = a.clients or (50 if small else 1000)
    a.ws_conns = [int(x) for x in (a.ws_conns or ("4" if small else "1,64")).split(",")]
    a.ws_sizes = [int(x) for x in (a.ws_sizes or "32,16384").split(",")]
    a.upload_conns = a.upload_conns or (2 if small else 8)
    a.upload_mib = a.upload_mib or (8 if small else 64)
    a.servers = (a.servers or ("ringo" if small else "ringo,fastapi-async,nginx")).split(",")
    for s in a.servers:
        if s not in ("ringo", "fastapi-async", "nginx"):
            ap.error(f"unknown server {s!r}")
    a.groups = (a.cases or "sse,ws,upload").split(",")
    every = make_cases(a)
    a.case_list = [c for c in every if c.group in a.groups or c.name in a.groups]
    known = {c.name for c in every} | set(GROUP_SERVERS)
    for g in a.groups:
        if g not in known:
            ap.error(f"unknown case {g!r} (known: {', '.join(sorted(known))})")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    a.out = a.out or os.path.join(PERF, "results", f"{stamp}-streams-{a.mode}")
    a.ringo_bin = os.environ.get("RINGO_BIN", os.path.join(REPO, "build", "ringo"))
    a.ws_bin = os.environ.get("RINGO_WS_BIN") or a.ringo_bin
    a.limit_bin = None
    a.max_conns = a.clients + 1024
    return a


class Streams(bench.Bench):
    logs = "clients"

    def __init__(self, a):
        super().__init__(a)
        self.all_servers = []
        self.plan = []
        self.skipped_cases = {}

    def start_group(self, group):
        """Start the servers a group of cases needs (a WebSocket group uses RINGO_WS_BIN)."""
        self.servers = []
        self.a.server_classes = servers.select(
            [s for s in GROUP_SERVERS[group] if s in self.a.servers])
        ringo_bin = self.a.ringo_bin
        if group == "ws":
            self.a.ringo_bin = self.a.ws_bin
        try:
            self.start_servers()
        finally:
            self.a.ringo_bin = ringo_bin

    def by_name(self, name):
        return next((s for s in self.servers if s.name == name), None)

    def answers(self, case, m):
        """None when member m's server answers the case's route, else why not."""
        s = self.by_name(m.server)
        if s is None:
            return f"{m.server} not running"
        if case.group == "sse":
            ok = servers.http_status(s.url(m.path.split("?")[0] + "?n=1&interval_ms=1")) == 200
            return None if ok else f"{m.server} does not answer GET /events with 200"
        if case.group == "ws":
            code = ws_status(s.port, m.path)
            if code != 101:
                where = self.a.ws_bin if m.server == "ringo" else m.server
                return f"{where} answers GET {m.path} with {code or 'nothing'}, not 101"
        return None

    def client_cmd(self, case, m, s, warmup_run):
        a = self.a
        dur = min(a.duration, max(1.0, a.warmup)) if warmup_run else a.duration
        cmd = [sys.executable, STREAMLOAD, case.group, "--port", str(s.port), "--path",
               m.path, "--warmup", f"{a.warmup:g}", "--duration", f"{dur:g}",
               "--timeout", f"{a.timeout:g}"]
        p = case.params
        if case.group == "sse":
            cmd += ["--clients", str(p["clients"]), "--interval-ms", f"{a.interval_ms:g}"]
        elif case.group == "ws":
            cmd += ["--conns", str(p["conns"]), "--size", str(p["size"])]
        else:
            cmd += ["--conns", str(p["conns"]), "--mib", str(p["mib"]), "--method", m.method]
        if self.client_cpu is not None:
            cmd = ["taskset", "-c", str(self.client_cpu)] + cmd
        return cmd, dur

    def wait_quiet(self):
        """Wait (at most --quiet-wait seconds) for half a second in which processes other
        than ours used less than --threshold of a CPU: on a shared machine that is where
        a measurement of ours should start."""
        deadline = time.monotonic() + self.a.quiet_wait
        while time.monotonic() < deadline:
            mine = {p for s in self.servers for p in s.pids()} | {os.getpid()}
            before = measure.all_ticks()
            time.sleep(0.5)
            ticks, _ = measure.others(before, measure.all_ticks(), mine)
            if ticks / measure.HZ / 0.5 < self.a.threshold:
                return

    def client_run(self, case, m, idx, warmup_run):
        s = self.by_name(m.server)
        if not self.ensure_alive(s):
            return None
        self.settle()
        if not warmup_run:
            self.wait_quiet()
        tag = f"{case.name}-{m.key}-{'w' if warmup_run else idx}"
        cmd, dur = self.client_cmd(case, m, s, warmup_run)
        log_path = os.path.join(self.dir, self.logs, tag + ".txt")
        window = w = out = None
        with open(log_path, "w") as logf:
            logf.write(" ".join(cmd) + "\n")
            logf.flush()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf, text=True,
                                    stdin=subprocess.DEVNULL,
                                    preexec_fn=servers._pdeathsig)
            # Bounded: connecting, warm-up, the window, the last answers, and a margin.
            killer = threading.Timer(self.a.warmup + dur + 2 * self.a.timeout + 30, proc.kill)
            killer.start()
            try:
                for line in proc.stdout:
                    line = line.strip()
                    if line == "start":
                        window = measure.Window(s.pids(), self.cpus, [proc.pid])
                    elif line == "stop" and window is not None:
                        w = window.close()
                    elif line.startswith("{"):
                        out = json.loads(line)
                        logf.write(line + "\n")
                proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                killer.cancel()
        if out is None or w is None:
            with open(log_path) as f:
                tail = " | ".join(f.read().strip().splitlines()[-3:])
            log(f"   {tag}: client failed (exit {proc.returncode}): {tail}")
            return None
        r = dict(out, **w)
        busy = r.pop("cpu_busy")
        r["server_cpu_busy"] = busy.get(self.server_cpu)
        r["client_cpu_busy"] = busy.get(self.client_cpu)
        r.update(case=case.name, member=m.key, server=m.server, run=idx, warmup=warmup_run,
                 exit=proc.returncode, chosen=True)
        r["flagged"] = measure.disturbed(r, self.a.threshold)
        r["errors"] = r["errors"] + (proc.returncode != 0)
        if case.group == "sse":
            r["cpu_us_per_event"] = (r["server_cpu_s"] * 1e6 / r["events"] if r["events"]
                                     else None)
        elif case.group == "ws":
            r["cpu_us_per_rt"] = (r["server_cpu_s"] * 1e6 / r["roundtrips"] if r["roundtrips"]
                                  else None)
        else:
            r["cpu_s_per_gb"] = r["server_cpu_s"] / (r["bytes"] / 1e9) if r["bytes"] else None
        self.runs.append(r)
        return r

    def run_group(self, group, cases):
        self.start_group(group)
        try:
            for c in cases:
                ms, why = [], []
                for m in members(c, self.a):
                    if m.server not in self.a.servers:
                        continue
                    no = self.answers(c, m)
                    if no:
                        why.append(no)
                    else:
                        ms.append(m)
                ringo_missing = not any(m.server == "ringo" for m in ms)
                if ringo_missing or not ms:
                    self.skipped_cases[c.name] = "; ".join(why) or "no server to run it"
                    log(f"skip {c.name}: {self.skipped_cases[c.name]}")
                    continue
                for no in why:
                    log(f"   {c.name}: leaving out {no}")
                self.plan.append((c, ms))
                self.run_case(c, ms)
        finally:
            for s in self.servers:
                self.stop_one(s, quiet=False)
            self.all_servers += self.servers

    def run_case(self, c, ms):
        log(f"== {c.name}: {c.title} ({', '.join(m.key for m in ms)})")
        if self.a.warmup and self.a.mode != "smoke":
            for m in ms:
                self.client_run(c, m, 0, True)
        for i in range(1, self.a.runs + 1):
            for m in ms:
                self.one_slot(c, m, i)

    def one_slot(self, c, m, i):
        """A measured round of one member: repeated while others disturb it, up to
        --retries times; the least disturbed attempt is the one summarized."""
        tried = []
        for attempt in range(1 + self.a.retries):
            r = self.client_run(c, m, i, False)
            if r is None:
                break
            r["attempt"] = attempt
            tried.append(r)
            log(f"   round {i}/{self.a.runs} {m.key}: {describe(c, r)}")
            if not r["flagged"]:
                break
            log(f"      others used {r['others_cpu_s']:.2f} s CPU "
                f"({', '.join(r['others_top']) or 'unnamed'}), steal {r['steal_s']:.2f} s")
        if not tried:
            log(f"   round {i}/{self.a.runs} {m.key}: FAILED")
        best = min(tried, key=lambda r: r["others_cpu_s"] + r["steal_s"], default=None)
        for r in tried:
            r["chosen"] = r is best

    def results(self):
        info = bench.machine_info(self.cpus)
        info["pinning"] = info["pinning"].replace("wrk", "the client")
        info.pop("wrk", None)
        info["versions"] = {s.name: s.version() for s in self.all_servers}
        return {
            "mode": self.a.mode, "command": "perf/streams " + " ".join(self.a.argv),
            "duration_s": self.a.duration, "rounds": self.a.runs, "warmup_s": self.a.warmup,
            "threshold": self.a.threshold, "machine": info,
            "ringo_version": self.a.ringo_version, "ringo_bin": self.a.ringo_bin,
            "ringo_ws_bin": self.a.ws_bin,
            "servers": [{"name": s.name, "label": s.label, "restarts": s.restarts,
                         "exits": s.exits} for s in self.all_servers],
            "skipped_servers": self.skipped_servers,
            "cases": [dict(c.to_json(), members=[m.key for m in ms],
                           labels={m.key: m.label for m in ms}) for c, ms in self.plan],
            "skipped_cases": self.skipped_cases,
            "runs": self.runs,
            "summary": summarize(self.runs),
        }


def describe(c, r):
    if c.group == "sse":
        s = (f"{r['rate_per_client']:.2f} events/s per client, late p50 "
             f"{r['late_p50_ms']:.2f} ms p99 {r['late_p99_ms']:.2f} ms")
    elif c.group == "ws":
        s = (f"{r['rps']:,.0f} round trips/s, p50 {r['lat_p50_ms']:.3f} ms p99 "
             f"{r['lat_p99_ms']:.3f} ms")
    else:
        cpu = r["cpu_s_per_gb"]
        s = f"{r['mb_per_s']:,.0f} MB/s, " + (f"{cpu:.2f} CPU s/GB" if cpu else "cpu ?")
    s += (f"; server CPU {r['server_util']:.2f} s/s, client CPU {r['client_util']:.2f} s/s")
    if r["errors"]:
        s += f", ERRORS {r['errors']}: {r.get('error_sample')}"
    if r["flagged"]:
        s += " [flagged]"
    return s


def summarize(runs):
    """Per (case, member): the median of every figure over the measured rounds."""
    out = {}
    for (case, member), rs in bench.chosen_rounds(runs, "member").items():
        x = {"n": len(rs), "errors": sum(r["errors"] for r in rs),
             "flagged": sum(1 for r in rs if r["flagged"]),
             "error_sample": [e for r in rs for e in r.get("error_sample", [])][:3]}
        for k, v in rs[0].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in x:
                vals = [r[k] for r in rs if r.get(k) is not None]
                if vals:
                    x[k] = statistics.median(vals)
                    x[k + "_min"], x[k + "_max"] = min(vals), max(vals)
        out.setdefault(case, {})[member] = x
    return out


# ------------------------------------------------------------------------- tables --

def limit_of(x):
    """What held the run back: a process at the limit of its CPU, else a CPU that others
    (softirq of the loopback, other processes) kept busy, else nothing (the load is paced
    or waits on round trips)."""
    if x.get("server_util", 0) >= SATURATED:
        return "server"
    if x.get("client_util", 0) >= SATURATED:
        return "client"
    for side in ("server", "client"):
        busy = x.get(f"{side}_cpu_busy")
        if busy is not None and busy >= 0.9:
            return f"{side}'s CPU, busy {busy:.2f} with softirq/others"
    return "neither"


def f_num(v, fmt):
    return "—" if v is None else format(v, fmt)


def f_spread(x, k, fmt):
    return f"{f_num(x.get(k + '_min'), fmt)}–{f_num(x.get(k + '_max'), fmt)}"


def row(cells):
    return "| " + " | ".join(cells) + " |"


def table(cols, rows):
    return [row(cols), "|" + "---|" * len(cols)] + [row(r) for r in rows]


def sse_table(c, s, labels):
    cols = ["server", "events/s per client (median)", "late p50", "late p99",
            "server CPU s/s", "CPU / event", "client CPU s/s", "limited by"]
    rows = [[labels[k] + report.marks(x), f_num(x["rate_per_client"], ".2f"),
             f"{x['late_p50_ms']:.2f} ms", f"{x['late_p99_ms']:.2f} ms",
             f"{x['server_util']:.3f} ({f_spread(x, 'server_util', '.3f')})",
             f"{f_num(x.get('cpu_us_per_event'), '.1f')} µs", f"{x['client_util']:.2f}",
             limit_of(x)] for k, x in s.items()]
    return table(cols, rows)


def ws_table(c, s, labels):
    cols = ["server", "round trips/s (median)", "spread", "p50", "p99", "server CPU s/s",
            "CPU / round trip", "client CPU s/s", "limited by"]
    rows = [[labels[k] + report.marks(x), f_num(x["rps"], ",.0f"), f_spread(x, "rps", ",.0f"),
             f"{x['lat_p50_ms']:.3f} ms", f"{x['lat_p99_ms']:.3f} ms",
             f"{x['server_util']:.2f}", f"{f_num(x.get('cpu_us_per_rt'), '.1f')} µs",
             f"{x['client_util']:.2f}", limit_of(x)] for k, x in s.items()]
    return table(cols, rows)


def upload_table(c, s, labels):
    cols = ["server", "MB/s (median)", "spread", "server CPU s/GB", "server CPU s/s",
            "client CPU s/s", "uploads / run", "limited by"]
    rows = [[labels[k] + report.marks(x), f_num(x["mb_per_s"], ",.0f"),
             f_spread(x, "mb_per_s", ",.0f"), f_num(x.get("cpu_s_per_gb"), ".3f"),
             f"{x['server_util']:.2f}", f"{x['client_util']:.2f}", f_num(x["uploads"], ".0f"),
             limit_of(x)] for k, x in s.items()]
    return table(cols, rows)


RATIOS = {  # group: (peer, [(figure, label)]) - ringo's figure divided by the peer's
    "sse": ("fastapi", [("server_util", "server CPU"), ("late_p50_ms", "late p50"),
                        ("late_p99_ms", "late p99")]),
    "ws": ("fastapi", [("rps", "round trips/s"), ("lat_p50_ms", "p50"),
                       ("lat_p99_ms", "p99"), ("cpu_us_per_rt", "CPU / round trip")]),
    "upload": ("nginx", [("mb_per_s", "MB/s"), ("cpu_s_per_gb", "CPU s/GB")]),
}


def ratio_rows(res):
    out = []
    for c in res["cases"]:
        s = res["summary"].get(c["name"], {})
        peer, figures = RATIOS[c["group"]]
        if peer not in s:
            continue
        for k in [m for m in c["members"] if m.startswith("ringo")]:
            cells = [f"{f[1]} {report.f_ratio(s[k].get(f[0]), s[peer].get(f[0]))}"
                     for f in figures]
            out.append(row([c["name"], f"{c['labels'][k]} / {c['labels'][peer]}",
                            ", ".join(cells)]))
    if not out:
        return []
    return ["| case | ringo / peer | ratios of the medians |", "|---|---|---|"] + out


def render(res):
    m = res["machine"]
    v = m.get("versions", {})
    lines = []
    if res["mode"] != "full":
        lines += [f"> **{res['mode'].title()} run**: {res['duration_s']:g} s per run, "
                  f"{res['rounds']} round(s): the harness works; not a measurement.", ""]
    lines += [f"- Command: `{res['command'].strip()}`",
              f"- Date: {m['date']}; kernel {m['kernel']} ({m['os']}); CPU {m['cpu']}, "
              f"{m['cpus_online']} online; {m['pinning']}",
              f"- Runs: {res['duration_s']:g} s measured windows after {res['warmup_s']:g} s "
              f"of load, {res['rounds']} round(s) interleaved across servers; medians, with "
              "the min–max spread where shown",
              f"- ringo: {res['ringo_version']} (`--threads 1`)"]
    for name, label in (("fastapi-async", "FastAPI"), ("nginx", "nginx")):
        if name in v:
            lines.append(f"- {label}: {v[name]}")
    lines.append("")
    ratios = ratio_rows(res)
    if ratios:
        lines += ["### Ratios", ""] + ratios + ["",
                  "Ratios are ringo's median divided by the peer's in the same run: above "
                  "1× ringo has more (MB/s, round trips/s) or spends/waits more (CPU, "
                  "latency).", ""]
    for c in res["cases"]:
        s = {k: res["summary"][c["name"]][k] for k in c["members"]
             if k in res["summary"].get(c["name"], {})}
        if not s:
            continue
        lines += [f"### {c['title']} (`{c['name']}`)", ""]
        lines += {"sse": sse_table, "ws": ws_table, "upload": upload_table}[c["group"]](
            c, s, c["labels"]) + [""]
    notes = [f"- Case {n} not run: {why}." for n, why in res["skipped_cases"].items()]
    notes += [f"- Server {n} not run: {why}." for n, why in res["skipped_servers"].items()]
    flagged = []
    for c in res["cases"]:
        for k, x in res["summary"].get(c["name"], {}).items():
            if x["errors"]:
                notes.append(f"- ‡ {c['name']} {k}: {x['errors']} error(s), e.g. "
                             f"{'; '.join(map(str, x['error_sample']))}")
            if x["flagged"]:
                flagged.append(f"{c['name']} {k} ({x['flagged']})")
    if flagged:
        notes.append(f"- † Other processes used more than {res['threshold']:.0%} of a CPU "
                     "during every attempt of some rounds (the least disturbed attempt is "
                     "used): " + ", ".join(flagged) + ".")
    for s in res["servers"]:
        for e in s["exits"] if s["name"] == "ringo" else []:
            notes.append(f"- ringo pid {e['pid']} exit status {e['exit']}" +
                         (f": `{e['note']}`" if e["note"] else ""))
    if notes:
        lines += ["Notes:", ""] + notes + [""]
    return "\n".join(lines)


def smoke_verdict(res):
    bad = []
    for c in res["cases"]:
        for k in c["members"]:
            x = res["summary"].get(c["name"], {}).get(k)
            key = {"sse": "events", "ws": "roundtrips", "upload": "bytes"}[c["group"]]
            if not x or not x.get(key):
                bad.append(f"{c['name']} {k}: no {key}")
            elif x["errors"]:
                bad.append(f"{c['name']} {k}: {x['errors']} errors {x['error_sample']}")
    if not res["cases"]:
        bad.append("nothing ran")
    return bad + bench.ringo_exit_problems(res)


def log(msg):
    bench.log(msg)


def main(argv):
    a = parse_args(argv)
    a.argv = argv
    a.ringo_version = bench.git_version()
    a.spool_dir = tempfile.mkdtemp(prefix="ringo-streams-spool-", dir=a.spool_parent)
    b = Streams(a)
    log(f"perf/streams {a.mode}: results in {os.path.relpath(b.dir, REPO)}; "
        f"pinning: {bench.machine_info(b.cpus)['pinning'].replace('wrk', 'the client')}; "
        f"spool directory {a.spool_dir}")
    bench.interrupt_on_signals()
    try:
        for group in ("sse", "ws", "upload"):
            cases = [c for c in a.case_list if c.group == group]
            if cases:
                b.run_group(group, cases)
    except KeyboardInterrupt:
        log("interrupted: servers stopped")
        return 130
    finally:
        shutil.rmtree(a.spool_dir, ignore_errors=True)
    res = b.results()
    with open(os.path.join(b.dir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = render(res)
    for path in [os.path.join(b.dir, "streams.md")] + ([a.table] if a.table else []):
        with open(path, "w") as f:
            f.write(md)
    log("\n" + md)
    log(f"tables written to {os.path.relpath(os.path.join(b.dir, 'streams.md'), REPO)}" +
        (f" and {a.table}" if a.table else ""))
    if a.smoke:
        return bench.smoke_exit(smoke_verdict(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
