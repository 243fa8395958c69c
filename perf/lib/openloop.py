"""perf/bench's open-loop cases: constant request rates from perf/openloop/openloop.c.

wrk (closed-loop) measures what a server does when it sets the pace itself; these cases
offer load at fixed rates, whatever the server answers, and take each request's latency
from its scheduled send time (no coordinated omission):

  openloop-plaintext  /plaintext at 25, 50, 75 and 90% of nginx's capacity (wrk's
                      req/s on nginx at 64 connections, measured at the start of the
                      case), ringo and nginx interleaved: p50/p99/p99.9/max and ringo's
                      p99 and p99.9 as ratios to nginx's.
  overload            /sync/sleep?ms=10 (a blocking 10 ms job on the pool) at 1x, 1.5x
                      and 3x the pool's capacity (POOL_THREADS workers / 10 ms), 512
                      connections, with a probe of the health route (/livez, else
                      /stats) at 100/s on connections of its own: goodput (200 within
                      100 ms, per second), p99 of the admitted, time to first byte of
                      rejections, the probe's p99; ringo with admission control on
                      (ringo-admit) and off, and FastAPI `def` (its threadpool of 40).

Each run is a Window (perf/lib/measure.py) around one openloop process pinned to the
load CPU: the server's CPU time and the disturbance flag as in the wrk cases.
"""
import json
import os
import statistics
import subprocess

import measure
import servers

PLAIN_LEVELS = [0.25, 0.50, 0.75, 0.90]
OVERLOAD_LEVELS = [1.0, 1.5, 3.0]
SERVICE_MS = 10
OVERLOAD_CONNS = 512
PROBE_RATE = 100
GOOD_MS = 100
# The overload case measures a sustained overload: each measured run first sends at its
# rate for this long on the same connections (openloop --warmup), uncounted, so the onset
# (a controller needs an interval to call a standing queue) is not in its figures. Not
# under --smoke, which checks answers rather than figures.
OVERLOAD_WARMUP_S = 1.0
# The probe: the health route where the server has one, else an async route on the ring.
PROBES = ["livez", "stats"]


def capacity(b, c, members):
    """The rate that 100% means in case c: nginx's wrk req/s at 64 connections on
    /plaintext (the first member's when nginx does not run), or the pool's capacity."""
    if c.route != "plaintext":
        return servers.POOL_THREADS * 1000.0 / SERVICE_MS, "pool"
    ref = next((s for s in members if s.name == "nginx"), members[0])
    tag = f"{c.name}-{ref.name}-capacity"
    r = measure.run_wrk(b.wrk_cmd(c, ref, max(1.0, b.a.duration)), ref.pids(), b.cpus,
                        os.path.join(b.dir, "wrk", tag + ".txt"))
    return r["rps"], ref.name


def levels(c):
    return PLAIN_LEVELS if c.route == "plaintext" else OVERLOAD_LEVELS


def command(b, c, s, rate, seconds, out):
    cmd = [b.a.openloop_bin, "--port", str(s.port), "--path", s.path(c.route),
           "--rate", f"{rate:.0f}", "--duration", f"{seconds:g}", "--json", out,
           "--good-ms", str(GOOD_MS), "--drain-ms", "2000"]
    if c.route == "plaintext":
        cmd += ["--conns", str(c.conns)]
    else:
        cmd += ["--conns", str(OVERLOAD_CONNS),
                "--warmup", f"{OVERLOAD_WARMUP_S if b.a.mode != 'smoke' else 0:g}"]
        probe = next((s.path(p) for p in PROBES if s.path(p)), None)
        if probe:
            cmd += ["--probe", probe, "--probe-rate", str(PROBE_RATE), "--probe-conns", "2"]
    if b.client_cpu is not None:
        cmd += ["--cpu", str(b.client_cpu)]
    return cmd


def one_run(b, c, s, level, rate, idx, warmup):
    """One openloop process against s; returns its figures (None when it failed)."""
    tag = f"{c.name}-{s.name}-{int(level * 100)}-{'w' if warmup else idx}"
    out = os.path.join(b.dir, "openloop", tag + ".json")
    seconds = b.a.warmup if warmup else b.a.duration
    if b.a.mode == "smoke":
        seconds = min(seconds, 1.0)
    cmd = command(b, c, s, rate, seconds, out)
    b.settle()
    window = measure.Window(s.pids(), b.cpus)
    with open(os.path.join(b.dir, "openloop", tag + ".txt"), "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: leave no load generator behind
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    w = window.close(client_ticks=(ru.ru_utime + ru.ru_stime) * measure.HZ,
                     client_pids=[proc.pid])
    if proc.returncode != 0 or not os.path.exists(out):
        return None
    with open(out) as f:
        d = json.load(f)
    main = d["streams"][0]
    probe = d["streams"][1] if len(d["streams"]) > 1 else None
    lat = main["latency_us"]
    e = main["errors"]
    r = dict(case=c.name, server=s.name, level=level, rate=rate, run=idx, warmup=warmup,
             scheduled=main["scheduled"], completed=main["completed"],
             status=main["status"], good=main["good"], goodput=main["goodput"],
             throughput=main["throughput"], errors=e["closed"] + e["parse"],
             timeouts=e["timeout"], late_1ms=main["late_1ms"],
             send_lag_p99_us=lat["send_lag"]["p99"],
             p50_us=lat["all"]["p50"], p90_us=lat["all"]["p90"], p99_us=lat["all"]["p99"],
             p999_us=lat["all"]["p999"], max_us=lat["all"]["max"],
             ok_p99_us=lat["ok"]["p99"] if lat["ok"]["n"] else None,
             rej=lat["ttfb_rejected"]["n"],
             rej_ttfb_p50_us=lat["ttfb_rejected"]["p50"] if lat["ttfb_rejected"]["n"] else None,
             rej_ttfb_p99_us=lat["ttfb_rejected"]["p99"] if lat["ttfb_rejected"]["n"] else None,
             probe_path=probe["path"] if probe else None,
             probe_p99_us=probe["latency_us"]["all"]["p99"] if probe else None,
             probe_max_us=probe["latency_us"]["all"]["max"] if probe else None,
             probe_ok=(probe["status"].get("200", 0) if probe else None),
             probe_scheduled=probe["scheduled"] if probe else None,
             generator_cpu_s=d["cpu_user_s"] + d["cpu_sys_s"],
             server_cpu_s=w["server_cpu_s"], server_util=w["server_util"],
             flagged=measure.disturbed(w, b.a.threshold), others_cpu_s=w["others_cpu_s"])
    return r


def execute(b, c, members):
    """Runs case c: capacity, then per level a warm-up per server and rounds interleaved
    across the servers. Results go to b.openloop_runs and b.openloop_cases."""
    os.makedirs(os.path.join(b.dir, "openloop"), exist_ok=True)
    cap, ref = capacity(b, c, members)
    info = dict(name=c.name, title=c.title, route=c.route, capacity=cap, capacity_of=ref,
                servers=[s.name for s in members], levels=levels(c),
                conns=c.conns if c.route == "plaintext" else OVERLOAD_CONNS)
    b.openloop_cases.append(info)
    log = print
    log(f"   100% = {cap:,.0f} req/s ({'wrk on ' + ref if ref != 'pool' else 'the pool'})")
    for level in levels(c):
        rate = cap * level
        if b.a.warmup:
            for s in members:
                if b.ensure_alive(s):
                    one_run(b, c, s, level, rate, 0, True)
        for i in range(1, b.a.runs + 1):
            for s in members:
                if not b.ensure_alive(s):
                    continue
                r = one_run(b, c, s, level, rate, i, False)
                if r is None:
                    log(f"   {c.name} {level:.0%} round {i} {s.name}: FAILED")
                    b.openloop_runs.append(dict(case=c.name, server=s.name, level=level,
                                                run=i, warmup=False, failed=True))
                    continue
                b.openloop_runs.append(r)
                log(f"   {c.name} {level:.0%} ({rate:,.0f}/s) round {i} {s.name}: "
                    + describe(r))


def describe(r):
    s = (f"{r['throughput']:,.0f} answered/s, goodput {r['goodput']:,.0f}/s, "
         f"p99 {r['p99_us'] / 1000:.2f} ms, p99.9 {r['p999_us'] / 1000:.2f} ms, "
         f"status {r['status']}")
    if r["probe_p99_us"] is not None:
        s += f", {r['probe_path']} p99 {r['probe_p99_us'] / 1000:.2f} ms"
    if r["timeouts"] or r["errors"]:
        s += f", timeouts {r['timeouts']} errors {r['errors']}"
    if r["flagged"]:
        s += " [flagged]"
    return s


def summarize(runs):
    """(case, server, level) -> medians over the measured rounds."""
    groups = {}
    for r in runs:
        if not r["warmup"] and not r.get("failed"):
            groups.setdefault((r["case"], r["server"], r["level"]), []).append(r)
    out = {}
    for (case, server, level), rs in groups.items():
        def med(k):
            v = [r[k] for r in rs if r.get(k) is not None]
            return statistics.median(v) if v else None
        keys = ["rate", "throughput", "goodput", "p50_us", "p90_us", "p99_us", "p999_us",
                "max_us", "ok_p99_us", "rej_ttfb_p50_us", "rej_ttfb_p99_us", "probe_p99_us",
                "probe_max_us", "server_util", "send_lag_p99_us"]
        x = {k: med(k) for k in keys}
        x.update(n=len(rs), flagged=sum(1 for r in rs if r["flagged"]),
                 errors=sum(r["errors"] for r in rs), timeouts=sum(r["timeouts"] for r in rs),
                 rejected=sum(r["rej"] for r in rs), scheduled=sum(r["scheduled"] for r in rs),
                 late=sum(r["late_1ms"] for r in rs),
                 probe_path=rs[0]["probe_path"])
        out.setdefault(case, {}).setdefault(server, {})[str(level)] = x
    return out


# ---- report ----

LABEL = {"ringo": "ringo", "ringo-admit": "ringo, admission on", "nginx": "nginx",
         "fastapi-def": "FastAPI `def`"}


def f_ms(us):
    if us is None:
        return "—"
    return f"{us / 1000:.2f} ms" if us < 10000 else f"{us / 1000:.1f} ms"


def f_x(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}×"


def plain_table(case, s):
    cols = ["load", "req/s offered", "server", "p50", "p99", "p99.9", "max", "answered/s",
            "sent > 1 ms late", "p99 ringo/nginx", "p99.9 ringo/nginx"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for level in case["levels"]:
        ring, ngx = (s.get(n, {}).get(str(level)) for n in ("ringo", "nginx"))
        for i, n in enumerate(n for n in ("ringo", "nginx") if str(level) in s.get(n, {})):
            x = s[n][str(level)]
            row = [f"{level:.0%}" if i == 0 else "", f"{x['rate']:,.0f}" if i == 0 else "",
                   LABEL[n] + mark(x), f_ms(x["p50_us"]), f_ms(x["p99_us"]),
                   f_ms(x["p999_us"]), f_ms(x["max_us"]), f"{x['throughput']:,.0f}", late(x)]
            if i == 0 and ring and ngx:
                row += [f_x(ring["p99_us"], ngx["p99_us"]), f_x(ring["p999_us"], ngx["p999_us"])]
            else:
                row += ["", ""]
            out.append("| " + " | ".join(row) + " |")
    return out


def overload_table(case, s):
    cols = ["load", "req/s offered", "server", "goodput/s", "goodput / capacity",
            "answered/s", "p99 of 200s", "503s", "TTFB of 503s (p50 / p99)", "probe p99",
            "sent > 1 ms late"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for level in case["levels"]:
        names = [n for n in ("ringo-admit", "ringo", "fastapi-def") if str(level) in s.get(n, {})]
        for i, n in enumerate(names):
            x = s[n][str(level)]
            rej = (f"{f_ms(x['rej_ttfb_p50_us'])} / {f_ms(x['rej_ttfb_p99_us'])}"
                   if x["rejected"] else "—")
            probe = f"{f_ms(x['probe_p99_us'])} (`{x['probe_path']}`)" if x["probe_path"] else "—"
            out.append("| " + " | ".join([
                f"{level:g}×" if i == 0 else "", f"{x['rate']:,.0f}" if i == 0 else "",
                LABEL[n] + mark(x), f"{x['goodput']:,.0f}",
                f"{x['goodput'] / case['capacity']:.0%}", f"{x['throughput']:,.0f}",
                f_ms(x["ok_p99_us"]), f"{x['rejected'] / max(1, x['scheduled']):.0%}", rej,
                probe, late(x)]) + " |")
    return out


def late(x):
    """The share of requests the generator itself sent more than 1 ms after their time
    (it was starved of CPU): their latency still counts from the scheduled time."""
    return f"{x['late'] / max(1, x['scheduled']):.0%}"


def mark(x):
    m = " †" if x["flagged"] else ""
    if x["errors"] or x["timeouts"]:
        m += " ‡"
    return m


def section(res, chart=None):
    """The open-loop cases as markdown lines; [] when the run had none."""
    cases = res.get("openloop_cases", [])
    if not cases:
        return []
    summ = res.get("openloop_summary", {})
    out = ["## Open-loop latency and overload (this run)", "",
           "Load from [perf/openloop/openloop.c](../perf/openloop/openloop.c) at constant "
           "rates, each request's latency from its scheduled send time (no coordinated "
           "omission); medians of the rounds, interleaved across servers. † a run others "
           "disturbed; ‡ connections closed or answers missing 2 s after the last send.", ""]
    for c in cases:
        s = summ.get(c["name"], {})
        if c["route"] == "plaintext":
            out += [f"### {c['title']} (`{c['name']}`)", "",
                    f"100% = {c['capacity']:,.0f} req/s, wrk's closed-loop rate on "
                    f"{c['capacity_of']} at {c['conns']} connections in this run.", ""]
            out += plain_table(c, s) + [""]
        else:
            out += [f"### {c['title']} (`{c['name']}`)", "",
                    f"100% = the pool's capacity, {servers.POOL_THREADS} workers / "
                    f"{SERVICE_MS} ms = {c['capacity']:,.0f} req/s; {c['conns']} connections; "
                    f"goodput: 200s answered within {GOOD_MS} ms of their scheduled time, per "
                    f"second; probe: {PROBE_RATE} req/s on 2 connections of its own.", ""]
            out += overload_table(c, s) + [""]
            if chart:
                out += [f"![goodput vs offered load]({chart})", ""]
    return out


def chart(res, results_dir, png):
    """Goodput vs offered load of the overload case (gnuplot); False when not drawn."""
    import shutil
    case = next((c for c in res.get("openloop_cases", []) if c["route"] != "plaintext"), None)
    if case is None or not shutil.which("gnuplot"):
        return False
    s = res.get("openloop_summary", {}).get(case["name"], {})
    names = [n for n in ("ringo-admit", "ringo", "fastapi-def") if n in s]
    dat = os.path.join(results_dir, "overload.dat")
    with open(dat, "w") as f:
        f.write("offered " + " ".join(f'"{LABEL[n].replace("`", "")}"' for n in names) + "\n")
        for level in case["levels"]:
            vals = [s[n].get(str(level), {}).get("goodput") for n in names]
            f.write(f"{case['capacity'] * level:.0f} " + " ".join(
                "-" if v is None else f"{v:.0f}" for v in vals) + "\n")
    script = os.path.join(servers.PERF, "overload.gnuplot")
    r = subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'; "
                        f"ncols={len(names)}; capacity={case['capacity']:.0f}", script],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("overload chart: gnuplot failed: " + r.stderr.strip())
        return False
    return True


def smoke_problems(res):
    """What a smoke run must not show: an open-loop run of ringo that failed, lost
    connections or answers, or (below capacity) left requests unanswered; a probe not
    answered 200. Past capacity without admission control a backlog that outlasts the
    drain is what the case shows, not a failure."""
    bad = []
    for r in res.get("openloop_runs", []):
        if r["warmup"] or not r["server"].startswith("ringo"):
            continue
        what = f"{r['case']} {r['server']} {r['level']:g}"
        if r.get("failed"):
            bad.append(f"{what}: openloop failed")
        elif not r["completed"]:
            bad.append(f"{what}: no answers")
        elif r["errors"] or (r["timeouts"] and r["level"] <= 1.0):
            bad.append(f"{what}: {r['errors']} lost, {r['timeouts']} unanswered")
        elif r["probe_path"] and r["probe_ok"] != r["probe_scheduled"]:
            bad.append(f"{what}: probe {r['probe_path']} answered {r['probe_ok']} of "
                       f"{r['probe_scheduled']} with 200")
    return bad
