/*
 * http/metrics.c - Prometheus metrics: counted per ring, summed at scrape.
 *
 * The hot path (ringo__metrics_count, once per answered request) touches
 * only its own ring's memory: one slot of an open-addressing table keyed by
 * (route label, method, status), and one bucket of the route's duration
 * histogram. The scrape (GET on the metrics path, a RINGO_ASYNC handler)
 * reads every ring's counters relaxed and sums them; a count may be one
 * request behind, never torn. Text format: https://prometheus.io/docs/
 * instrumenting/exposition_formats/ (version 0.0.4).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/alloc.h"
#include "http/http_impl.h"
#include "http/observe_impl.h"

static const uint64_t bucket_ns[RINGO__OBS_BUCKETS] = {
    100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,   25000000,
    50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const bucket_le[RINGO__OBS_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10",
};
static const char *const method_names[RINGO__M_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other",
};

/* Once per request: the length and first byte pick the one name to compare. */
unsigned ringo__method_index(ringo_str m)
{
    unsigned i;

    switch (m.len) {
    case 3: i = m.ptr[0] == 'G' ? RINGO__M_GET : RINGO__M_PUT; break;
    case 4: i = m.ptr[0] == 'H' ? RINGO__M_HEAD : RINGO__M_POST; break;
    case 5: i = m.ptr[0] == 'P' ? RINGO__M_PATCH : RINGO__M_TRACE; break;
    case 6: i = RINGO__M_DELETE; break;
    case 7: i = m.ptr[0] == 'O' ? RINGO__M_OPTIONS : RINGO__M_CONNECT; break;
    default: return RINGO__M_OTHER;
    }
    return memcmp(m.ptr, method_names[i], m.len) == 0 ? i : RINGO__M_OTHER;
}

/* ---- counting (ring thread) ---- */

static void observe(ringo__obs_hist *h, uint64_t ns)
{
    unsigned b = 0;

    while (b < RINGO__OBS_BUCKETS && ns > bucket_ns[b])
        b++;
    ringo__obs_add(&h->bucket[b], 1);
    ringo__obs_add(&h->sum_ns, ns);
}

/* Key: label + 1 (18 bits), method (4), status - 100 (10). Never 0. */
static uint32_t slot_key(unsigned label, unsigned method, int status)
{
    unsigned st = status >= 100 && status <= 999 ? (unsigned)(status - 100) : 899;

    return ((uint32_t)(label + 1) << 14) | ((uint32_t)method << 10) | st;
}

static void count_key(ringo__obs_ring *o, uint32_t key)
{
    uint32_t i = (key * 2654435761u) >> 20; /* 12 bits: RINGO__OBS_SLOTS */

    for (unsigned probes = 0; probes < 64; probes++, i = (i + 1) & (RINGO__OBS_SLOTS - 1)) {
        ringo__obs_slot *s = &o->slots[i];
        uint32_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
        if (k == key) {
            ringo__obs_add(&s->count, 1);
            return;
        }
        if (k == 0) {
            /* Publish the count before the key: a scrape that sees the key sees a count. */
            atomic_store_explicit(&s->count, 1, memory_order_relaxed);
            atomic_store_explicit(&s->key, key, memory_order_release);
            return;
        }
    }
    ringo__obs_add(&o->overflow, 1);
}

void ringo__metrics_count(const ringo__obs *obs, ringo__obs_ring *o, const ringo_req *r,
                          uint64_t dur_ns)
{
    const ringo__route *rt = ringo__obs_route(r);
    unsigned label = rt ? rt->obs_label : obs->nlabels - 1;

    count_key(o, slot_key(label, ringo__method_index(r->method), r->status));
    observe(&o->dur[label], dur_ns);
    if (r->obs_pooled)
        observe(&o->qwait[label], r->obs_qwait_ns);
}

/* ---- the scrape ---- */

typedef struct out {
    char *p;
    size_t len, cap;
    bool oom;
} out;

static void outf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        if (ringo__grow(&o->p, &o->cap, o->len + (size_t)n + 1, 8192) < 0) {
            o->oom = true;
            return;
        }
    }
}

/* A label value: backslash, double quote and newline escaped. */
static void out_label(out *o, const char *s)
{
    size_t n = strlen(s);

    if (o->oom || ringo__grow(&o->p, &o->cap, o->len + 2 * n + 1, 8192) < 0) {
        o->oom = true;
        return;
    }
    for (; *s; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n')
            o->p[o->len++] = '\\';
        o->p[o->len++] = *s == '\n' ? 'n' : *s;
    }
    o->p[o->len] = '\0';
}

static void head(out *o, const char *name, const char *type, const char *help)
{
    outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t ld(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

typedef struct keyed {
    uint32_t key;
    uint64_t count;
} keyed;

static int by_key(const void *a, const void *b)
{
    uint32_t x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;

    return x < y ? -1 : x > y;
}

static void requests_total(out *o, const ringo__obs *obs)
{
    size_t n = 0, cap = (size_t)obs->nrings * RINGO__OBS_SLOTS;
    keyed *all = ringo__malloc(cap * sizeof(*all));

    if (!all) {
        o->oom = true;
        return;
    }
    for (unsigned ri = 0; ri < obs->nrings; ri++)
        for (unsigned i = 0; i < RINGO__OBS_SLOTS; i++) {
            const ringo__obs_slot *s = &obs->rings[ri]->slots[i];
            uint32_t k = atomic_load_explicit(&s->key, memory_order_acquire);
            if (k)
                all[n++] = (keyed){k, ld(&s->count)};
        }
    qsort(all, n, sizeof(*all), by_key);
    head(o, "ringo_requests_total", "counter",
         "Requests answered, by route pattern, method, status.");
    for (size_t i = 0; i < n;) {
        uint32_t k = all[i].key;
        uint64_t sum = 0;
        for (; i < n && all[i].key == k; i++)
            sum += all[i].count;
        outf(o, "ringo_requests_total{route=\"");
        out_label(o, obs->labels[(k >> 14) - 1]);
        outf(o, "\",method=\"%s\",status=\"%u\"} %llu\n", method_names[(k >> 10) & 15],
             (k & 1023) + 100, (unsigned long long)sum);
    }
    ringo__free(all);
}

static void histogram(out *o, const ringo__obs *obs, const char *name, const char *help,
                      size_t field)
{
    head(o, name, "histogram", help);
    for (unsigned l = 0; l < obs->nlabels; l++) {
        uint64_t b[RINGO__OBS_BUCKETS + 1] = {0}, sum = 0, cum = 0;
        for (unsigned ri = 0; ri < obs->nrings; ri++) {
            const ringo__obs_hist *h =
                &(*(ringo__obs_hist *const *)((const char *)obs->rings[ri] + field))[l];
            for (unsigned i = 0; i <= RINGO__OBS_BUCKETS; i++)
                b[i] += ld(&h->bucket[i]);
            sum += ld(&h->sum_ns);
        }
        for (unsigned i = 0; i <= RINGO__OBS_BUCKETS; i++)
            cum += b[i];
        if (!cum)
            continue; /* a route never requested has no series (scrapes stay small) */
        cum = 0;
        for (unsigned i = 0; i <= RINGO__OBS_BUCKETS; i++) {
            cum += b[i];
            outf(o, "%s_bucket{route=\"", name);
            out_label(o, obs->labels[l]);
            outf(o, "\",le=\"%s\"} %llu\n", i < RINGO__OBS_BUCKETS ? bucket_le[i] : "+Inf",
                 (unsigned long long)cum);
        }
        outf(o, "%s_sum{route=\"", name);
        out_label(o, obs->labels[l]);
        outf(o, "\"} %.9f\n%s_count{route=\"", (double)sum / 1e9, name);
        out_label(o, obs->labels[l]);
        outf(o, "\"} %llu\n", (unsigned long long)cum);
    }
}

static void gauge(out *o, const char *name, const char *type, const char *help, uint64_t v)
{
    head(o, name, type, help);
    outf(o, "%s %llu\n", name, (unsigned long long)v);
}

/* One series per ring of the ringo__ring_stats counter at offset off. */
static void per_ring(out *o, ringo_app *app, const char *name, const char *type, const char *help,
                     size_t off)
{
    head(o, name, type, help);
    for (unsigned i = 0; i < app->srv.nrings; i++) {
        const char *st = (const char *)ringo__ring_stats_of(app->srv.rings[i]);
        outf(o, "%s{ring=\"%u\"} %llu\n", name, i,
             (unsigned long long)ld((const _Atomic uint64_t *)(const void *)(st + off)));
    }
}

static void server(out *o, ringo_app *app)
{
    const ringo__obs *obs = app->obs;
    ringo__pool_stats ps = {0};
    uint64_t cancels = 0, sent = 0, direct = 0, recv = 0, overflow = 0, dropped = 0;

    if (app->pool)
        ringo__pool_stats_get(app->pool, &ps);
    gauge(o, "ringo_pool_workers_busy", "gauge", "Pool workers running a job.", ps.running);
    gauge(o, "ringo_pool_queue_length", "gauge", "Jobs queued for the pool, not started.",
          ps.queued);
    per_ring(o, app, "ringo_connections", "gauge", "Open connections, by ring.",
             offsetof(ringo__ring_stats, conns_live));
    per_ring(o, app, "ringo_ring_stalls_total", "counter",
             "Handlers that held a ring longer than stall_warn_ms, by ring.",
             offsetof(ringo__ring_stats, ring_stalls));
    /* How the kernel's SO_REUSEPORT hashing spread the connections over the rings. */
    per_ring(o, app, "ringo_ring_connections_accepted_total", "counter",
             "Connections accepted, by ring.", offsetof(ringo__ring_stats, conns_accepted));
    per_ring(o, app, "ringo_ring_requests_total", "counter", "Requests answered, by ring.",
             offsetof(ringo__ring_stats, reqs_served));
    for (unsigned i = 0; i < app->srv.nrings; i++) {
        ringo__ring_stats *st = ringo__ring_stats_of(app->srv.rings[i]);
        cancels += ld(&st->cancels);
        sent += ld(&st->bytes_sent);
        direct += ld(&st->bytes_direct);
        recv += ld(&st->bytes_recv);
    }
    for (unsigned i = 0; i < obs->nrings; i++) {
        overflow += ld(&obs->rings[i]->overflow);
        dropped += ld(&obs->rings[i]->log.dropped);
    }
    gauge(o, "ringo_cancels_total", "counter",
          "Awaits cancelled by a client disconnect or a deadline.", cancels);
    gauge(o, "ringo_bytes_sent_total", "counter", "Bytes sent to clients.", sent);
    gauge(o, "ringo_bytes_sent_direct_total", "counter",
          "Of those, file body bytes sent by sendfile or splice (no copy through the ring).",
          direct);
    gauge(o, "ringo_bytes_received_total", "counter", "Bytes received from clients.", recv);
    gauge(o, "ringo_metrics_overflow_total", "counter",
          "Requests not in ringo_requests_total: too many label combinations.", overflow);
    gauge(o, "ringo_access_log_dropped_total", "counter",
          "Access log lines dropped: the writer could not keep up.", dropped);
}

/* ringo_stats counters kept per ring and summed here: the TLS layer's (core/tls.c; zero
 * without TLS) and the batched waits (core/ring.c). */
static void tls(out *o, ringo_app *app)
{
    ringo_stats st;

    ringo__server_stats(&app->srv, &st);
    gauge(o, "ringo_tls_handshakes_total", "counter", "TLS handshakes completed.",
          st.tls_handshakes);
    gauge(o, "ringo_tls_handshake_failures_total", "counter",
          "TLS handshakes refused with an alert.", st.tls_handshake_failures);
    gauge(o, "ringo_tls_handshake_timeouts_total", "counter",
          "TLS connections closed by the handshake timeout.", st.tls_handshake_timeouts);
    gauge(o, "ringo_tls_resumed_total", "counter",
          "TLS handshakes that resumed a session by ticket.", st.tls_resumed);
    gauge(o, "ringo_tls_alpn_h2_total", "counter", "TLS handshakes whose ALPN chose h2.",
          st.tls_alpn_h2);
    gauge(o, "ringo_batched_waits_total", "counter",
          "Ring waits that let the kernel gather completions (batch_wait_us).", st.batched_waits);
    gauge(o, "ringo_tls_ktls_total", "counter",
          "TLS connections whose sending the kernel took over (kTLS).", st.tls_ktls);
    gauge(o, "ringo_tls_ktls_rx_total", "counter",
          "TLS connections whose receiving the kernel took over (kTLS).", st.tls_ktls_rx);
}

/* Field n (1-based) of /proc/self/stat after the command, as a number. */
static unsigned long long stat_field(const char *stat, unsigned n)
{
    const char *p = strrchr(stat, ')');

    for (unsigned i = 2; p && i < n; i++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void process(out *o)
{
    struct rusage ru;
    struct rlimit rl;
    char buf[1024];
    long page = sysconf(_SC_PAGESIZE), tick = sysconf(_SC_CLK_TCK);
    unsigned long long vsz = 0, rss = 0, start = 0, btime = 0, fds = 0;
    FILE *f;
    DIR *d;

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        head(o, "process_cpu_seconds_total", "counter", "User and system CPU time, seconds.");
        outf(o, "process_cpu_seconds_total %.6f\n",
             (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    }
    if ((f = fopen("/proc/self/statm", "r"))) {
        if (fscanf(f, "%llu %llu", &vsz, &rss) == 2) {
            gauge(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size, bytes.",
                  vsz * (unsigned long long)page);
            gauge(o, "process_resident_memory_bytes", "gauge", "Resident memory size, bytes.",
                  rss * (unsigned long long)page);
        }
        fclose(f);
    }
    if ((d = opendir("/proc/self/fd"))) {
        for (struct dirent *e; (e = readdir(d));)
            fds += e->d_name[0] != '.';
        closedir(d);
        gauge(o, "process_open_fds", "gauge", "Open file descriptors.", fds - 1); /* d's own */
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        gauge(o, "process_max_fds", "gauge", "The open file descriptor limit.",
              (uint64_t)rl.rlim_cur);
    if ((f = fopen("/proc/self/stat", "r"))) {
        if (fgets(buf, sizeof(buf), f))
            start = stat_field(buf, 22);
        fclose(f);
    }
    if ((f = fopen("/proc/stat", "r"))) {
        while (fgets(buf, sizeof(buf), f))
            if (sscanf(buf, "btime %llu", &btime) == 1)
                break;
        fclose(f);
    }
    if (btime && tick > 0) {
        head(o, "process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch, seconds.");
        outf(o, "process_start_time_seconds %.2f\n", (double)btime + (double)start / (double)tick);
    }
}

static int scrape(ringo_req *req, void *udata)
{
    ringo_app *app = udata;
    out o = {0};
    int ret;

    requests_total(&o, app->obs);
    histogram(&o, app->obs, "ringo_request_duration_seconds",
              "From the request's first byte to its response queued, by route pattern.",
              offsetof(ringo__obs_ring, dur));
    histogram(&o, app->obs, "ringo_request_queue_wait_seconds",
              "Time sync steps waited in the pool queue, by route pattern.",
              offsetof(ringo__obs_ring, qwait));
    server(&o, app);
    tls(&o, app);
    process(&o);
    if (o.oom) {
        ringo__free(o.p);
        return -ENOMEM;
    }
    ret = ringo_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", o.p, o.len);
    ringo__free(o.p);
    return ret;
}

int ringo_app_metrics(ringo_app *app, const char *path)
{
    /* Not part of the API the OpenAPI document describes (FastAPI's include_in_schema=False). */
    static const ringo_route_spec hidden = {.flags = RINGO_SPEC_HIDDEN};
    /* Critical: a scrape is never refused by admission (it is how overload is seen). */
    const ringo_route_opts opts = {.spec = &hidden, .flags = RINGO_ROUTE_CRITICAL};
    ringo__obs *obs;
    int ret;

    if (!app || !path)
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    obs = ringo__obs_get(app);
    if (!obs)
        return -ENOMEM;
    if (obs->metrics)
        return -EEXIST;
    ret = ringo_route_ex(app, "GET", path, RINGO_ASYNC, scrape, app, &opts);
    if (ret < 0)
        return ret;
    obs->metrics = obs->timing = true;
    return 0;
}

/* Route labels: one per distinct pattern, in registration order, then "unmatched". */
int ringo__metrics_start(ringo_app *app)
{
    ringo__obs *obs = app->obs;

    obs->labels = ringo__calloc(app->nroutes + 1, sizeof(*obs->labels));
    if (!obs->labels)
        return -ENOMEM;
    for (unsigned i = 0; i < app->nroutes; i++) {
        ringo__route *rt = app->routes[i];
        unsigned l = 0;
        while (l < obs->nlabels && strcmp(obs->labels[l], rt->pattern) != 0)
            l++;
        if (l == obs->nlabels)
            obs->labels[obs->nlabels++] = rt->pattern;
        rt->obs_label = l;
    }
    obs->labels[obs->nlabels++] = "unmatched";
    for (unsigned i = 0; i < obs->nrings; i++) {
        ringo__obs_ring *o = obs->rings[i];
        o->slots = ringo__calloc(RINGO__OBS_SLOTS, sizeof(*o->slots));
        o->dur = ringo__calloc(obs->nlabels, sizeof(*o->dur));
        o->qwait = ringo__calloc(obs->nlabels, sizeof(*o->qwait));
        if (!o->slots || !o->dur || !o->qwait)
            return -ENOMEM;
    }
    return 0;
}
