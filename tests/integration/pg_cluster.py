"""
pg_cluster.py - a throw-away PostgreSQL 15 cluster for ringo's tests and benchmarks.

Creates a cluster under a directory of the caller's choice (the tests use
build/pg-<pid>), starts it on a free port on 127.0.0.1 plus a Unix socket,
and loads the TechEmpower schema: database hello_world owned by
benchmarkdbuser (password benchmarkdbpass), World(id, randomNumber) with
10,000 rows and Fortune(id, message) with the 12 standard fortunes. The
cluster is tuned for tests (fsync off, synchronous_commit off): nothing in it
is meant to survive.

initdb and postgres refuse to run as root: as root, every server command
runs through `runuser -u postgres` and the cluster's directories belong to
that user. The package's own cluster (15/main) is never touched; nothing
here uses systemd or pg_ctlcluster.

Python stdlib only, importable by tests/integration/*.py and perf/ scripts:

    from pg_cluster import Cluster, Unavailable
    with Cluster("build/pg-123") as pg:       # init (once) + start; stop at exit
        print(pg.dsn)                         # a libpq connection string
        pg.sql("SELECT count(*) FROM world")  # psql as the superuser

CLI (prints the DSN on start):
    python3 tests/integration/pg_cluster.py start DIR [--port P]
    python3 tests/integration/pg_cluster.py stop DIR       (keeps the data)
    python3 tests/integration/pg_cluster.py destroy DIR    (stops, removes DIR)
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN = os.environ.get("RINGO_PG_BIN", "/usr/lib/postgresql/15/bin")
DBNAME, USER, PASSWORD = "hello_world", "benchmarkdbuser", "benchmarkdbpass"
WORLD_ROWS = 10000
SUPERUSER = "postgres"

# The TechEmpower fortunes, ids 1..12 (the test adds a 13th at request time).
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \u2014 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af",
]
EXTRA_FORTUNE = "Additional fortune added at request time."

# Tuned for throw-away test and benchmark clusters, not for keeping data.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
    "log_connections": "off",
    "autovacuum": "on",
}


class Unavailable(Exception):
    """PostgreSQL 15's server binaries are not installed (tests skip, exit 77)."""


def unavailable():
    """A reason string when the cluster cannot be created here, else None."""
    for b in ("initdb", "pg_ctl", "postgres", "psql"):
        if not os.access(os.path.join(PG_BIN, b), os.X_OK):
            return (f"PostgreSQL 15 is not installed ({PG_BIN}/{b} missing; "
                    "scripts/deps.sh postgresql-15 installs it)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root and runuser is missing: cannot run postgres unprivileged"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return f"running as root and there is no user {SUPERUSER!r} to run postgres"
    return None


def _reachable(path):
    """Whether the postgres user can go through every existing directory on path."""
    try:
        uid = pwd.getpwnam(SUPERUSER).pw_uid
    except KeyError:
        return True
    p = path
    while True:
        if os.path.isdir(p):
            st = os.stat(p)
            if st.st_uid != uid and not st.st_mode & 0o001:
                return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


class Cluster:
    """One cluster under base (created if needed). Context manager: start() on
    enter, stop() on exit (the data stays; destroy() removes it)."""

    def __init__(self, base, port=None):
        self.base = os.path.abspath(base)
        self.home = self._home()
        self.data = os.path.join(self.home, "data")
        self.log = os.path.join(self.home, "postgres.log")
        self.port = port
        self.sockdir = None
        self.pid = None
        self._load_state()

    # ---- connection parameters ----
    @property
    def host(self):
        return "127.0.0.1"

    @property
    def params(self):
        return {"host": self.host, "hostaddr": self.host, "port": str(self.port),
                "dbname": DBNAME, "user": USER, "password": PASSWORD}

    @property
    def dsn(self):
        """A libpq connection string (TCP on 127.0.0.1, password auth)."""
        return " ".join(f"{k}={v}" for k, v in self.params.items()) + " connect_timeout=5"

    @property
    def url(self):
        return f"postgresql://{USER}:{PASSWORD}@{self.host}:{self.port}/{DBNAME}"

    def env(self):
        """The standard libpq variables that point at the cluster."""
        return {"PGHOST": self.host, "PGHOSTADDR": self.host, "PGPORT": str(self.port),
                "PGDATABASE": DBNAME, "PGUSER": USER, "PGPASSWORD": PASSWORD}

    # ---- lifecycle ----
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _home(self):
        """Where the data and the log live: base, unless the postgres user cannot
        reach it (a checkout in a 0700 directory, e.g. under mktemp -d); then a
        directory under /tmp, remembered in base/cluster.home."""
        if os.geteuid() != 0 or _reachable(self.base):
            return self.base
        os.makedirs(self.base, exist_ok=True)
        note = os.path.join(self.base, "cluster.home")
        try:
            with open(note) as f:
                home = f.read().strip()
            if home and os.path.isdir(home):
                return home
        except OSError:
            pass
        home = tempfile.mkdtemp(prefix="ringo-pg-", dir="/tmp")
        self._chown(home)
        with open(note, "w") as f:
            f.write(home + "\n")
        return home

    def _state_file(self):
        return os.path.join(self.base, "cluster.port")

    def _load_state(self):
        try:
            with open(self._state_file()) as f:
                port, sockdir = f.read().split("\n")[:2]
            self.port = self.port or int(port)
            self.sockdir = sockdir or None
        except (OSError, ValueError):
            pass

    def _save_state(self):
        with open(self._state_file(), "w") as f:
            f.write(f"{self.port}\n{self.sockdir}\n")

    def _as_pg(self, argv, **kw):
        """Runs a server command as the postgres user when we are root."""
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SUPERUSER, "--", *argv]
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              **kw)

    def _chown(self, path):
        if os.geteuid() == 0:
            pw = pwd.getpwnam(SUPERUSER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _mkdirs(self):
        os.makedirs(self.base, exist_ok=True)
        self._chown(self.base)
        os.makedirs(self.home, exist_ok=True)
        self._chown(self.home)
        if not self.sockdir:
            # A Unix socket path is limited to 107 bytes: a deep build directory
            # gets its socket directory under /tmp instead.
            sockdir = os.path.join(self.home, "sock")
            if len(sockdir) > 80:
                sockdir = tempfile.mkdtemp(prefix="ringo-pg-")
            self.sockdir = sockdir
        os.makedirs(self.sockdir, exist_ok=True)
        self._chown(self.sockdir)

    def initialized(self):
        return os.path.exists(os.path.join(self.data, "PG_VERSION"))

    def init(self):
        """initdb and the settings; the schema is loaded at the first start."""
        reason = unavailable()
        if reason:
            raise Unavailable(reason)
        self._mkdirs()
        if self.initialized():
            return
        locale = "C.UTF-8" if _has_c_utf8() else "C"
        r = self._as_pg([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-E", "UTF8",
                         f"--locale={locale}", "-U", SUPERUSER, "--auth-local=trust",
                         "--auth-host=scram-sha-256", "--no-sync"], timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# ringo test cluster (tests/integration/pg_cluster.py)\n")
            for k, v in SETTINGS.items():
                f.write(f"{k} = {v}\n")

    def running(self):
        pid = self._postmaster_pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def start(self):
        """Starts the server (initdb and the schema the first time); returns self."""
        fresh = not self.initialized()
        self.init()
        if self.running():
            self.pid = self._postmaster_pid()
            return self
        tries = 0
        while True:
            tries += 1
            if not self.port or (tries > 1 and fresh):
                self.port = free_port()
            opts = f"-p {self.port} -k {self.sockdir}"
            r = self._as_pg([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log,
                             "-o", opts, "-w", "-t", "60", "start"], timeout=90)
            if r.returncode == 0:
                break
            if tries >= 3 or not fresh:
                raise RuntimeError(f"pg_ctl start failed ({r.returncode}):\n{r.stdout}{r.stderr}"
                                   f"\n{self.log_tail()}")
        self.pid = self._postmaster_pid()
        self._save_state()
        if fresh:
            self._load_schema()
        return self

    def stop(self, timeout=30):
        """Stops the server by its PID: pg_ctl stop -m fast, then SIGKILL."""
        pid = self._postmaster_pid() or self.pid
        if not pid or not self.running():
            return
        self._as_pg([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "stop", "-m", "fast",
                     "-w", "-t", str(timeout)], timeout=timeout + 10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def destroy(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        if self.home != self.base:
            shutil.rmtree(self.home, ignore_errors=True)
        if self.sockdir and not self.sockdir.startswith(self.base):
            shutil.rmtree(self.sockdir, ignore_errors=True)

    def log_tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # ---- SQL through psql (the stdlib has no PostgreSQL client) ----
    def sql(self, query, db=DBNAME, user=SUPERUSER, timeout=60):
        """Runs query with psql over the Unix socket; returns rows as lists of str."""
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                            "-v", "ON_ERROR_STOP=1", "-h", self.sockdir, "-p", str(self.port),
                            "-U", user, "-d", db, "-f", "-"],
                           input=query, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
        if r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()}\n"
                               f"query: {query[:300]}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def _load_schema(self):
        self.sql(f"CREATE ROLE {USER} LOGIN PASSWORD {sql_literal(PASSWORD)};\n"
                 f"CREATE DATABASE {DBNAME} OWNER {USER} ENCODING 'UTF8' TEMPLATE template0;\n",
                 db="postgres")
        values = ",\n".join(f"({i}, {sql_literal(m)})" for i, m in enumerate(FORTUNES, 1))
        self.sql("CREATE TABLE world (id integer PRIMARY KEY, randomNumber integer NOT NULL);\n"
                 f"INSERT INTO world SELECT x, 1 + floor(random() * {WORLD_ROWS})::integer\n"
                 f"  FROM generate_series(1, {WORLD_ROWS}) AS x;\n"
                 "CREATE TABLE fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL);\n"
                 f"INSERT INTO fortune (id, message) VALUES\n{values};\n"
                 "ANALYZE world; ANALYZE fortune;\n", user=USER)

    # ---- helpers for tests ----
    def world(self, ids=None):
        """{id: randomNumber} of the given ids (all rows when None)."""
        where = "" if ids is None else \
            f" WHERE id IN ({','.join(str(int(i)) for i in ids) or 'NULL'})"
        return {int(a): int(b) for a, b in self.sql(f"SELECT id, randomnumber FROM world{where}")}

    def terminate_backends(self, user=USER):
        """pg_terminate_backend() on every session of user, waiting up to 5 s for each
        to exit (its FATAL message and EOF are then on the client's socket);
        returns how many."""
        rows = self.sql("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                        f"WHERE usename = {sql_literal(user)} AND pid <> pg_backend_pid()",
                        db="postgres")
        return int(rows[0][0])

    def backends(self, user=USER):
        rows = self.sql(f"SELECT count(*) FROM pg_stat_activity WHERE usename = {sql_literal(user)}",
                        db="postgres")
        return int(rows[0][0])


def _has_c_utf8():
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    except OSError:
        return False
    return any(l.strip().lower() in ("c.utf8", "c.utf-8") for l in out.splitlines())


def _cli(argv):
    import argparse
    ap = argparse.ArgumentParser(description="A throw-away PostgreSQL cluster with the "
                                 "TechEmpower schema, for ringo's tests and benchmarks.")
    ap.add_argument("action", choices=("start", "stop", "destroy", "dsn"))
    ap.add_argument("dir")
    ap.add_argument("--port", type=int, default=None)
    a = ap.parse_args(argv)
    c = Cluster(a.dir, port=a.port)
    try:
        if a.action == "start":
            c.start()
            print(c.dsn)
        elif a.action == "dsn":
            print(c.dsn)
        elif a.action == "stop":
            c.stop()
        else:
            c.destroy()
    except Unavailable as e:
        print(f"pg_cluster: {e}", file=sys.stderr)
        return 77
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"pg_cluster: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
