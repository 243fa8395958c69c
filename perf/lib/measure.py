"""What perf/bench measures, from /proc and from wrk.

CPU time comes from /proc/PID/stat (utime + stime, every thread of the process, in clock
ticks) and /proc/stat per CPU; memory from /proc/PID/status (VmRSS, VmHWM). A server is
measured as its whole process tree (nginx's master and worker), so nothing it does on
another process escapes the figures.
"""
import os
import re
import subprocess
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


def children(pid):
    """Direct children of pid, from every thread's children list."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def tree(pid):
    """pid and all of its descendants that are alive now."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            pids.append(p)
            todo.extend(children(p))
    return pids


def proc_stat(pid):
    """(comm, the fields after it) of /proc/PID/stat, or None once the process is gone:
    fields[1] is field 4 of proc(5) (ppid), fields[11:15] fields 14-17 (utime, stime,
    cutime, cstime)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            head, rest = f.read().rsplit(")", 1)
    except OSError:
        return None
    return head.split("(", 1)[1], rest.split()


def cpu_ticks(pids, reaped=False):
    """utime + stime of the processes (all threads), in clock ticks; reaped: plus the
    children's time each has reaped (cutime + cstime), so that a database backend that
    exited during a window is counted through the postmaster."""
    total = 0
    for p in pids:
        st = proc_stat(p)
        if st:
            total += sum(int(x) for x in st[1][11:15 if reaped else 13])
    return total


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pids):
    return sum(status_kb(p, "VmRSS") for p in pids)


def peak_kb(pids):
    return sum(status_kb(p, "VmHWM") for p in pids)


def reset_peak(pids):
    """Reset VmHWM to the current RSS ("5" > clear_refs, Linux 4.0); False if refused."""
    ok = True
    for p in pids:
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


def cpu_stat(cpus):
    """Per-CPU jiffies from /proc/stat: task time (user+nice+system), irq+softirq, steal."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *v = line.split()
            n = int(name[3:])
            if cpus is None or n in cpus:
                v = [int(x) for x in v] + [0] * 8
                out[n] = {"task": v[0] + v[1] + v[2], "irq": v[5] + v[6], "steal": v[7],
                          "total": sum(v[:8])}
    return out


def stat_delta(a, b):
    d = {"task": 0, "irq": 0, "steal": 0, "total": 0}
    for n in b:
        for k in d:
            d[k] += b[n][k] - a.get(n, b[n])[k]
    return d


_UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def to_us(text):
    """wrk's "1.23ms" in microseconds; None for 0, which wrk prints for percentiles its
    histogram lost (it does with pipelined requests)."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    v = float(m.group(1)) * _UNIT_US[m.group(2)] if m else 0.0
    return v or None


def all_ticks():
    """{pid: (name, utime + stime)} for every process: names the others when a run is
    disturbed (a process that came and went during the run stays unnamed)."""
    out = {}
    for d in os.listdir("/proc"):
        st = proc_stat(d) if d.isdigit() else None
        if st:
            out[int(d)] = (st[0], int(st[1][11]) + int(st[1][12]))
    return out


def describe_pid(pid, comm):
    """comm, or for an interpreter the script or module it runs."""
    if not comm.startswith("python"):
        return comm
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode(errors="replace").split("\0")[1:]
    except OSError:
        return comm
    args = [a for a in args if a and not a.startswith("-")]
    return f"{comm} {os.path.basename(args[0])}" if args else comm


def others(a, b, exclude, n=3):
    """CPU ticks of every process but `exclude` between two all_ticks() snapshots, and
    the n biggest users as "name[pid] 1.23s"."""
    d = []
    for pid, (name, t) in b.items():
        if pid in exclude:
            continue
        delta = t - a.get(pid, (name, 0))[1]
        if delta > 0:
            d.append((delta, f"{name}[{pid}]"))
    d.sort(reverse=True)
    top = []
    for ticks, who in d[:n]:
        name, pid = who[:-1].rsplit("[", 1)
        top.append(f"{describe_pid(int(pid), name)}[{pid}] {ticks / HZ:.2f}s")
    return sum(t for t, _ in d), top


def parse_wrk(text):
    """The figures perf/bench reports from wrk's --latency output."""
    r = {"requests": 0, "rps": 0.0, "p50_us": None, "p75_us": None, "p90_us": None,
         "p99_us": None, "non2xx": 0, "sock_errors": 0, "timeouts": 0}
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        if m:
            r[f"p{pct}_us"] = to_us(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    # Body and head bytes wrk read, partial responses included: the bulk cases' figure.
    m = re.search(r"requests in [\d.]+\w+, ([\d.]+)([KMGT]?)B read", text)
    r["bytes_read"] = (float(m.group(1)) * 1024 ** " KMGT".index(m.group(2) or " ")
                       if m else 0.0)
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["sock_errors"] = sum(int(x) for x in m.groups()[:3])
        r["timeouts"] = int(m.group(4))
    return r


def parse_h2load(text):
    """parse_wrk()'s figures from h2load's output, plus what it says of the connection:
    the TLS protocol, cipher and key exchange (printed once, for the first connection)
    and the application protocol ALPN chose ("h2", "http/1.1"; h2c for cleartext prior
    knowledge). h2load prints no percentiles: the mean request time stands in (mean_us)."""
    r = {"requests": 0, "rps": 0.0, "p50_us": None, "p75_us": None, "p90_us": None,
         "p99_us": None, "mean_us": None, "non2xx": 0, "sock_errors": 0, "timeouts": 0,
         "bytes_read": 0.0, "alpn": None, "tls_protocol": None, "cipher": None,
         "tls_key_exchange": None}
    m = re.search(r"^finished in [\d.]+\w+, ([\d.]+) req/s", text, re.M)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    if m:
        r["requests"] = int(m.group(4))
        r["sock_errors"] = int(m.group(5)) + int(m.group(6))
        r["timeouts"] = int(m.group(7))
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    if m:
        r["non2xx"] = sum(int(x) for x in m.groups()[1:])
    m = re.search(r"^traffic: \S+ \((\d+)\) total", text, re.M)
    if m:
        r["bytes_read"] = float(m.group(1))
    m = re.search(r"^time for request:\s+\S+\s+\S+\s+(\S+)", text, re.M)
    if m:
        r["mean_us"] = to_us(m.group(1))
    for key, label in (("tls_protocol", "TLS Protocol"), ("cipher", "Cipher"),
                       ("tls_key_exchange", "Server Temp Key"),
                       ("alpn", "Application protocol")):
        m = re.search(rf"^{label}: (.+)$", text, re.M)
        if m:
            r[key] = m.group(1).strip()
    return r


class Window:
    """The server's, the client's and everyone else's CPU use between construction and
    close(): what a run costs whoever drives the load (wrk, or a client of perf/streams).
    `cpus` are the CPUs whose /proc/stat lines are compared; `client_pids` are processes
    that already run (their CPU time is taken as a difference; a client that starts and
    ends inside the window passes its own rusage to close() instead). `db`: a function
    that returns the pids of a database the server uses (its whole process tree, asked at
    both ends: backends come and go); its CPU is reported apart, as db_cpu_s, and not
    taken for a stranger's."""

    def __init__(self, server_pids, cpus, client_pids=(), db=None):
        self.server_pids, self.cpus, self.client_pids = server_pids, cpus, list(client_pids)
        self.db = db
        self.db_pids0 = db() if db else []
        self.d0 = cpu_ticks(self.db_pids0, reaped=True)
        self.peak_ok = reset_peak(server_pids)
        self.everyone0 = all_ticks()
        self.c0 = cpu_ticks(self.client_pids)
        self.s0, self.t0, self.w0 = cpu_stat(cpus), cpu_ticks(server_pids), time.monotonic()

    def close(self, client_ticks=None, client_pids=()):
        w1, t1, s1 = time.monotonic(), cpu_ticks(self.server_pids), cpu_stat(self.cpus)
        db_pids1 = self.db() if self.db else []
        db_ticks = cpu_ticks(db_pids1, reaped=True) - self.d0
        everyone1 = all_ticks()
        if client_ticks is None:
            client_ticks = cpu_ticks(self.client_pids) - self.c0
        elapsed = w1 - self.w0
        server_ticks = t1 - self.t0
        d = stat_delta(self.s0, s1)
        # irq/softirq jiffies are left out on both sides: with IRQ time accounting the
        # loopback's softirq work is charged to no task, so it would look like a stranger.
        mine = (set(self.server_pids) | set(self.client_pids) | set(client_pids) |
                set(self.db_pids0) | set(db_pids1) | {os.getpid()})
        named, top = others(self.everyone0, everyone1, mine)
        # Two views of the same thing: per-CPU totals catch processes that came and went
        # during the run, per-process times catch what tick sampling of /proc/stat misses
        # (those only count when the two measured CPUs are all the machine has).
        strangers = d["task"] - server_ticks - client_ticks - db_ticks
        if self.cpus is None or len(self.cpus) >= (os.cpu_count() or 0):
            strangers = max(strangers, named)
        return {
            "elapsed_s": elapsed,
            "server_cpu_s": server_ticks / HZ,
            "server_util": server_ticks / HZ / elapsed if elapsed else 0.0,
            "client_cpu_s": client_ticks / HZ,
            "db_cpu_s": db_ticks / HZ if self.db else None,
            "db_util": db_ticks / HZ / elapsed if self.db and elapsed else None,
            "client_util": client_ticks / HZ / elapsed if elapsed else 0.0,
            "softirq_s": d["irq"] / HZ,
            "others_cpu_s": max(0.0, strangers / HZ),
            "others_top": top,
            "steal_s": d["steal"] / HZ,
            "peak_rss_kb": peak_kb(self.server_pids),
            "peak_is_lifetime": not self.peak_ok,
            # per CPU: the share of the window it was not idle (tasks, irq, steal)
            "cpu_busy": {n: _busy(self.s0.get(n, s1[n]), s1[n]) for n in s1},
        }


def _busy(a, b):
    total = b["total"] - a["total"]
    used = sum(b[k] - a[k] for k in ("task", "irq", "steal"))
    return used / total if total > 0 else 0.0


def ru_us(ru):
    """User + system CPU of an rusage, in microseconds."""
    return (ru.ru_utime + ru.ru_stime) * 1e6


def run_wrk(cmd, server_pids, cpus, log_path, db=None, parse=parse_wrk, limit=None):
    """Run one wrk command (or h2load's, with parse=parse_h2load); returns its figures
    plus the server's and the machine's CPU use over exactly that run. `cpus` are the
    CPUs whose /proc/stat lines are compared; `db` as for Window; `limit`: seconds after
    which the command is killed (its exit status then says so)."""
    window = Window(server_pids, cpus, db=db)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        timer = threading.Timer(limit, proc.kill) if limit else None
        if timer:
            timer.start()
        try:
            out = proc.stdout.read()
            _, status, ru = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: leave no wrk behind
            proc.kill()
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.write(" ".join(cmd) + "\n" + out)
    w = window.close(client_ticks=(ru.ru_utime + ru.ru_stime) * HZ, client_pids=[proc.pid])
    r = parse(out)
    r.update(w)
    n = r["requests"]
    r.update(exit=proc.returncode, wrk_cpu_s=r.pop("client_cpu_s"),
             wrk_cpu_us_per_req=ru_us(ru) / n if n else None,
             softirq_us_per_req=w["softirq_s"] * 1e6 / n if n else None,
             cpu_us_per_req=(w["server_cpu_s"] * 1e6 / r["requests"] if r["requests"]
                             else None),
             db_cpu_us_per_req=(w["db_cpu_s"] * 1e6 / r["requests"] if r["requests"]
                                and w["db_cpu_s"] is not None else None),
             bytes_per_s=r["bytes_read"] / w["elapsed_s"] if w["elapsed_s"] else 0.0,
             cpu_s_per_gib=(w["server_cpu_s"] / (r["bytes_read"] / (1 << 30))
                            if r["bytes_read"] else None))
    del r["client_util"], r["cpu_busy"]
    return r


def disturbed(r, threshold):
    """A run is flagged when processes other than the server and wrk (or the hypervisor,
    as steal) took more than `threshold` of one CPU on the two measured CPUs."""
    e = r["elapsed_s"] or 1.0
    return (r["others_cpu_s"] + r["steal_s"]) / e > threshold
