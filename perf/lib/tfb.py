"""perf/bench's TechEmpower (TFB) cases: the PostgreSQL cluster, the answer checks and
pgbench.

- Cluster: tests/integration/pg_cluster.py starts a throw-away PostgreSQL 15 cluster with
  the TFB schema (World 10,000 rows, Fortune 12 rows) and prints its DSN; perf/bench stops
  it at the end (pg_cluster.py stop, then SIGINT to the postmaster's PID if it is still
  there).
- Checks: before a server is measured on a TFB route its answers are checked against the
  database (shape, clamping, rows that exist with the values the database holds, fortunes
  complete, escaped and sorted, updates written back, headers and content types): a
  server that answers wrongly is not measured.
- Database CPU: utime + stime of the postmaster and every backend (its process tree, with
  the exited backends' time the postmaster has reaped), over exactly the measured window
  (measure.cpu_ticks(reaped=True)).
- pgbench: `pgbench -S -M prepared` (select-only, its own pgbench_accounts table at scale
  1) with the same connections, one thread and the same duration as wrk: the database's
  ceiling on this machine for a single-row primary-key lookup.
"""
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PG_CLUSTER = os.path.join(REPO, "tests", "integration", "pg_cluster.py")
PG_BIN = "/usr/lib/postgresql/15/bin"
EXTRA_FORTUNE = "Additional fortune added at request time."


class Cluster:
    """The throw-away cluster of one perf/bench run."""

    def __init__(self, run_dir, dsn=None):
        self.dir = os.path.join(run_dir, "pg")
        self.dsn = dsn
        self.own = dsn is None  # started (and so stopped) by this run
        self.pid = None
        self.error = None

    def start(self):
        if not self.own:  # a running server: measure its postmaster, the backend's parent
            try:
                from measure import proc_stat
                backend = self.psql("SELECT pg_backend_pid()")[0][0]
                self.pid = int(proc_stat(backend)[1][1])  # its parent
                return True
            except Exception as e:  # noqa: BLE001 - any failure means: no database
                self.error = str(e).strip()
                return False
        if not os.path.exists(PG_CLUSTER):
            self.error = f"{os.path.relpath(PG_CLUSTER, REPO)} is missing"
            return False
        r = subprocess.run([sys.executable, PG_CLUSTER, "start", self.dir],
                           capture_output=True, text=True, timeout=180)
        lines = r.stdout.strip().splitlines()
        if r.returncode != 0 or not lines:
            self.error = (r.stderr.strip().splitlines() or ["pg_cluster.py failed"])[-1]
            return False
        self.dsn = lines[-1].strip()
        self.pid = postmaster_pid(self.dir)
        if self.pid is None:
            self.error = "no postmaster.pid under " + self.dir
            self.stop()
            return False
        return True

    def pids(self):
        from measure import tree
        return tree(self.pid) if self.pid and os.path.exists(f"/proc/{self.pid}") else []

    def stop(self):
        if not self.own:
            return
        subprocess.run([sys.executable, PG_CLUSTER, "stop", self.dir], capture_output=True,
                       text=True, timeout=120)
        if self.pid and os.path.exists(f"/proc/{self.pid}"):
            os.kill(self.pid, signal.SIGINT)  # fast shutdown
            for _ in range(100):
                if not os.path.exists(f"/proc/{self.pid}"):
                    break
                time.sleep(0.1)
        self.pid = None

    def psql(self, sql):
        import psycopg2
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()


def postmaster_pid(d):
    for root, _, files in os.walk(d):
        if "postmaster.pid" in files:
            with open(os.path.join(root, "postmaster.pid")) as f:
                return int(f.readline())
    return None


# ---- answer checks ----

def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {}, e.read()
    except OSError as e:
        return 0, {}, str(e).encode()


def _headers(url, h, ctype):
    bad = [f"{url}: no {k} header" for k in ("server", "date", "content-length")
           if k not in h]
    if h.get("content-type") != ctype:
        bad.append(f"{url}: Content-Type {h.get('content-type')!r}, want {ctype!r}")
    return bad


def _worlds(url, body, n, world, exact=True):
    try:
        doc = json.loads(body)
    except ValueError:
        return [f"{url}: not JSON: {body[:80]!r}"]
    rows = doc if n is not None else [doc]
    if n is not None and (not isinstance(doc, list) or len(doc) != n):
        return [f"{url}: want a list of {n}, got {str(doc)[:80]}"]
    bad = []
    for w in rows:
        if not isinstance(w, dict) or set(w) != {"id", "randomNumber"}:
            return [f"{url}: row {w!r}"]
        if not 1 <= w["id"] <= 10000 or not 1 <= w["randomNumber"] <= 10000:
            return [f"{url}: out of range {w!r}"]
        # An id drawn twice in one update has two new values; the database keeps one.
        if exact and world.get(w["id"]) not in [x["randomNumber"] for x in rows
                                                if x["id"] == w["id"]]:
            bad.append(f"{url}: {w!r} but the database holds {world.get(w['id'])}")
    return bad[:3]


def check(base, route, path, cluster):
    """Problems with what the server at `base` answers on `path` for TFB route `route`
    (db, queries, fortunes, updates, cached_queries); [] when it is right."""
    def world():
        return dict(cluster.psql("SELECT id, randomnumber FROM world"))
    url = base + path
    root = url.split("?")[0]
    if route == "db":
        st, h, body = get(url)
        if st != 200:
            return [f"{url}: status {st} {body[:120]!r}"]
        return _headers(url, h, "application/json") + _worlds(url, body, None, world())
    if route in ("queries", "updates", "cached_queries"):
        key = "count" if route == "cached_queries" else "queries"
        bad = []
        before = world()
        for arg, n in (("", 1), ("=", 1), ("=foo", 1), ("=0", 1), ("=7", 7), ("=501", 500)):
            st, h, body = get(f"{root}?{key}{arg}" if arg else root)
            if st != 200:
                return [f"{root}?{key}{arg}: status {st} {body[:120]!r}"]
            bad += _headers(url, h, "application/json")
            # Updates: the rows answered are the new values, which must now be stored.
            bad += _worlds(f"{root}?{key}{arg}", body, n,
                           world() if route == "updates" else before,
                           exact=route != "cached_queries")
        if route == "updates":
            after = world()
            changed = sum(1 for k in before if before[k] != after[k])
            if changed < 200:  # 1+1+1+1+7+500 requested, at random
                bad.append(f"{root}: only {changed} rows changed")
        return bad[:5]
    if route == "fortunes":
        st, h, body = get(url)
        if st != 200:
            return [f"{url}: status {st} {body[:120]!r}"]
        bad = _headers(url, h, "text/html; charset=utf-8")
        rows = cluster.psql("SELECT id, message FROM fortune") + [(0, EXTRA_FORTUNE)]
        rows.sort(key=lambda r: r[1])
        want = [(str(i), html.escape(m, quote=False)) for i, m in rows]
        text = body.decode("utf-8", "replace")
        got = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", text)
        # &quot; and &#x27; (or &#39;) are all fine for quotes inside element text.
        got = [(i, m.replace("&quot;", '"').replace("&#x27;", "'").replace("&#39;", "'"))
               for i, m in got]
        if got != want:
            bad.append(f"{url}: rows {got[:2]}... want {want[:2]}... ({len(got)}/{len(want)})")
        if "<script>" in text:
            bad.append(f"{url}: unescaped <script>")
        if not text.startswith("<!DOCTYPE html>"):
            bad.append(f"{url}: no doctype")
        return bad
    return [f"unknown TFB route {route}"]


# ---- pgbench ----

def pgbench_init(dsn, log):
    """pgbench's own tables (scale 1: 100,000 accounts) in the benchmark database."""
    r = subprocess.run(["pgbench", "-i", "-q", "-s", "1", dsn], capture_output=True,
                       text=True, timeout=300)
    with open(log, "w") as f:
        f.write(r.stdout + r.stderr)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


# pgbench opens its connections one after the other inside -T (64 password logins take
# seconds on a busy machine) and reports its rate without that time: it gets this much
# more, and the measured window starts once every connection is up.
CONNECT_MARGIN_S = 8


def pgbench_cmd(dsn, conns, seconds, prefix):
    return ["pgbench", "-n", "-S", "-M", "prepared", "-c", str(conns), "-j", "1",
            "-T", str(max(1, round(seconds)) + CONNECT_MARGIN_S), "--log", "--log-prefix",
            prefix, dsn]


def run_pgbench(cmd, conns, cpus, log_path, db, prefix):
    """Runs pgbench; the window (the database's CPU, everyone else's) opens when its
    `conns` backends exist and closes when it exits. Returns run_wrk()'s figures, the
    rate being pgbench's own (without the initial connection time)."""
    import measure
    base = len(db())
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # wait4(WNOHANG), not proc.poll(): a pgbench that ends before its backends were
        # all seen (a short warm-up on a busy machine) must leave its status and rusage.
        deadline, ended = time.monotonic() + 60, None
        while len(db()) < base + conns and time.monotonic() < deadline:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                ended = (status, ru)
                break
            time.sleep(0.02)
        c0 = measure.cpu_ticks([proc.pid]) if not ended else 0
        window = measure.Window([], cpus, db=db)
        out = proc.stdout.read()
        status, ru = ended or os.wait4(proc.pid, 0)[1:]
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    except BaseException:  # interrupted: leave no pgbench behind
        proc.kill()
        proc.wait()
        raise
    code = os.waitstatus_to_exitcode(status)
    w = window.close(client_ticks=(ru.ru_utime + ru.ru_stime) * measure.HZ - c0,
                     client_pids=[proc.pid])
    with open(log_path, "w") as f:
        f.write(" ".join(cmd) + "\n" + out)
    r = parse_pgbench(out, prefix)
    r.update(w)
    # The transactions inside the window: pgbench's rate over the window's length.
    inside = r["rps"] * w["elapsed_s"]
    r.update(exit=code, wrk_cpu_s=r.pop("client_cpu_s"), cpu_us_per_req=None,
             server_util=None,
             db_cpu_us_per_req=w["db_cpu_s"] * 1e6 / inside if inside else None,
             bytes_per_s=0.0, cpu_s_per_gib=None)
    del r["client_util"], r["cpu_busy"]
    return r


def parse_pgbench(text, prefix):
    """req/s (pgbench's tps without the initial connection time), transactions, and p50/p99
    from the per-transaction log (its third field is the latency in microseconds)."""
    r = {"requests": 0, "rps": 0.0, "p50_us": None, "p75_us": None, "p90_us": None,
         "p99_us": None, "non2xx": 0, "sock_errors": 0, "timeouts": 0, "bytes_read": 0.0}
    m = re.search(r"number of transactions actually processed: (\d+)", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"number of failed transactions: (\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    lat = []
    d, base = os.path.dirname(prefix), os.path.basename(prefix)
    for name in os.listdir(d):
        if name.startswith(base + "."):
            with open(os.path.join(d, name)) as f:
                lat.extend(int(line.split()[2]) for line in f if line.strip())
            os.unlink(os.path.join(d, name))  # large; the summary stays in the log
    if lat:
        lat.sort()
        for pct in (50, 75, 90, 99):
            r[f"p{pct}_us"] = float(lat[min(len(lat) - 1, len(lat) * pct // 100)])
    return r
