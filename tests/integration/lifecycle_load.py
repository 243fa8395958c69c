"""
lifecycle_load.py - a continuous load for the restart and signal tests:
client threads that send GET /users/<n> over keep-alive connections (a new
connection whenever the server said Connection: close) and count every
request that did not get its 200 and its body, with the reason.
"""
import http.client
import threading
import time


class Load:
    def __init__(self, port, clients=8, host="127.0.0.1", path="/users/", limit_s=120.0):
        self.port, self.host, self.path = port, host, path
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.stop_evt = threading.Event()
        self.deadline = time.monotonic() + limit_s  # bounded even if stop() is never called
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(clients)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _one(self, conn, n):
        conn.request("GET", f"{self.path}{n}")
        r = conn.getresponse()
        body = r.read()
        want = f'{{"id":"{n}"}}'.encode()
        if r.status != 200 or body != want:
            raise RuntimeError(f"status {r.status} body {body[:80]!r}")
        return r.will_close

    def _run(self, k):
        conn = None
        n = 0
        while not self.stop_evt.is_set() and time.monotonic() < self.deadline:
            n += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                closing = self._one(conn, f"{k}-{n}")
                with self.lock:
                    self.ok += 1
                if closing:
                    conn.close()
                    conn = None
            except Exception as e:  # every kind of failure counts
                with self.lock:
                    self.failures.append(f"{type(e).__name__}: {e}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def count(self):
        with self.lock:
            return self.ok, len(self.failures)

    def wait_for_ok(self, more, timeout):
        """Waits until `more` requests more than now succeeded (bounded by timeout)."""
        want = self.count()[0] + more
        end = time.monotonic() + timeout
        while self.count()[0] < want and time.monotonic() < end:
            time.sleep(0.02)
        return self.count()[0] >= want

    def stop(self):
        self.stop_evt.set()
        for t in self.threads:
            t.join(timeout=60)
        return self.ok, list(self.failures)
