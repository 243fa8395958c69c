/*
 * openloop: a constant-rate (open-loop) HTTP/1.1 load generator.
 *
 * wrk is closed-loop: each connection sends its next request only when the previous one
 * was answered, so a server that stalls is simply sent less, and the requests that would
 * have waited during the stall are never measured (coordinated omission). Here requests
 * are scheduled at fixed times, start + i / rate, and sent at those times whatever the
 * server does; each request's latency runs from its *scheduled* time, so a request that
 * could not even be sent on time (the generator fell behind, or every connection was
 * waiting) is charged for the wait.
 *
 * Shape: one thread, epoll, non-blocking keep-alive connections opened at start. A due
 * request goes to an idle connection when there is one, else it is pipelined on the next
 * connection in turn (HTTP/1.1 answers in order, so each connection keeps a FIFO of the
 * scheduled times it owes). All requests due at one wake-up are written with one write()
 * per connection. Wake-ups use epoll_pwait2's nanosecond timeout.
 *
 * Streams: the main load (--path, --rate, --conns) and optionally a probe (--probe PATH,
 * --probe-rate, --probe-conns) on connections of its own, e.g. a health route measured
 * while the main load overloads the server.
 *
 * Per stream: counts per status, latency percentiles (all answers, 2xx answers), the time
 * to the first byte of rejections (status >= 500 or 429), goodput (2xx answered within
 * --good-ms of the scheduled time), errors (closed connections, timeouts: answers still
 * missing --drain-ms after the last send), and how late the generator itself sent.
 * Histograms: log2 buckets with 64 linear sub-buckets each (< 1.6% error), in ns.
 *
 * Warm-up (--warmup S): the load runs at its rate for S seconds before the measured
 * --duration, on the same connections, and nothing sent in the warm-up is counted, so
 * the figures are those of a sustained load rather than of its onset.
 *
 * Usage: openloop --port P [--host 127.0.0.1] --path /x --rate R [--conns 64]
 *                 [--duration S] [--warmup S] [--requests N] [--cpu K] [--header "K: V"]...
 *                 [--good-ms 100] [--drain-ms 2000] [--probe PATH --probe-rate R
 *                 --probe-conns N] [--json FILE]
 * Bounds: stops scheduling at --warmup + --duration seconds (default 0 + 5) or after
 * --requests N (warm-up requests included),
 * whichever comes first. The JSON result goes to --json FILE (default stdout); a line
 * per stream to stderr. Exit status: 0 when it ran (whatever the server answered), 1 when
 * it could not connect, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SUB_BITS 6
#define SUB (1u << SUB_BITS)
#define NBUCKETS (64u * SUB)
#define MAX_HEADERS 16
#define MAX_STREAMS 2
#define IN_CAP 65536u

/* ---- histogram: log2 buckets, SUB linear steps each ---- */

typedef struct {
    uint64_t count[NBUCKETS];
    uint64_t n, max, sum;
} hist;

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned shift = e - SUB_BITS;
    return (shift + 1) * SUB + (unsigned)((v >> shift) & (SUB - 1));
}

/* The largest value that falls in bucket b: a percentile is reported as its bucket's top
 * (never below the true value), clamped to the exact maximum. */
static uint64_t bucket_top(unsigned b)
{
    if (b < SUB)
        return b;
    unsigned shift = b / SUB - 1;
    uint64_t base = (uint64_t)(SUB + b % SUB) << shift;
    return base + ((uint64_t)1 << shift) - 1;
}

static void hist_add(hist *h, uint64_t v)
{
    h->count[bucket_of(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const hist *h, double p)
{
    if (!h->n)
        return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->n + 0.999999), seen = 0;
    if (want < 1)
        want = 1;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        seen += h->count[b];
        if (seen >= want) {
            uint64_t t = bucket_top(b);
            return t < h->max ? t : h->max;
        }
    }
    return h->max;
}

/* ---- streams and connections ---- */

typedef struct stream stream;

typedef struct {
    int fd;
    stream *s;
    char *out;
    size_t out_len, out_cap, out_off;
    bool out_dirty, want_out, in_idle;
    char in[IN_CAP];
    size_t in_len;
    uint64_t *owed; /* FIFO of scheduled times of requests sent and not yet answered */
    size_t owed_head, owed_n, owed_cap;
    /* the response being read */
    uint64_t first_ns; /* when its first byte arrived; 0: none yet */
    int status;
    int64_t body_left; /* bytes of body still to come; -1: chunked */
    bool in_body, close_after;
    uint64_t chunk_left;
    int chunk_state; /* 0 size line, 1 data, 2 CRLF after data, 3 trailers */
} conn;

struct stream {
    const char *name, *path;
    double rate;
    unsigned nconns;
    conn *conns;
    unsigned rr;
    int *idle; /* stack of connection indexes with nothing owed */
    unsigned nidle;
    char *req;
    size_t req_len;
    uint64_t interval_ns, next_ns, scheduled, warm; /* warm: sent in the warm-up */
    uint64_t completed, good, closed_lost, parse_errors, reconnects, timeouts;
    uint64_t status[600];
    uint64_t late_1ms;
    hist lat, lat_ok, ttfb_rej, lag;
};

static struct {
    const char *host;
    int port;
    struct sockaddr_in addr;
    double duration, warmup;
    uint64_t max_requests;
    uint64_t good_ns, drain_ns;
    int cpu;
    const char *headers[MAX_HEADERS];
    unsigned nheaders;
    const char *json;
    int ep;
    uint64_t start_ns, record_ns, stop_ns; /* record_ns: the warm-up's end */
    stream st[MAX_STREAMS];
    unsigned nst;
} g = {.host = "127.0.0.1", .duration = 5.0, .cpu = -1};

static volatile sig_atomic_t interrupted;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "openloop: out of memory\n");
        exit(1);
    }
    return p;
}

static int conn_open(conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&g.addr, sizeof g.addr) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev);
    c->fd = fd;
    c->in_len = c->out_len = c->out_off = 0;
    c->first_ns = 0;
    c->in_body = c->close_after = false;
    c->want_out = false;
    return 0;
}

static void owe(conn *c, uint64_t t)
{
    if (c->owed_n == c->owed_cap) {
        size_t cap = c->owed_cap ? c->owed_cap * 2 : 16;
        uint64_t *n = xrealloc(NULL, cap * sizeof *n);
        for (size_t i = 0; i < c->owed_n; i++)
            n[i] = c->owed[(c->owed_head + i) % c->owed_cap];
        free(c->owed);
        c->owed = n;
        c->owed_cap = cap;
        c->owed_head = 0;
    }
    c->owed[(c->owed_head + c->owed_n) % c->owed_cap] = t;
    c->owed_n++;
}

static uint64_t paid(conn *c)
{
    uint64_t t = c->owed[c->owed_head];
    c->owed_head = (c->owed_head + 1) % c->owed_cap;
    c->owed_n--;
    return t;
}

static void set_out_interest(conn *c, bool want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u),
                             .data.ptr = c};
    epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void conn_reset(conn *c);

/* Requests owed on c that count (sent after the warm-up). */
static uint64_t counted_owed(const conn *c)
{
    uint64_t n = 0;
    for (size_t i = 0; i < c->owed_n; i++)
        n += c->owed[(c->owed_head + i) % c->owed_cap] >= g.record_ns;
    return n;
}

static void make_idle(conn *c)
{
    if (!c->in_idle) {
        c->in_idle = true;
        c->s->idle[c->s->nidle++] = (int)(c - c->s->conns);
    }
}

static void flush(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            set_out_interest(c, true);
            return;
        }
        if (n <= 0) {
            conn_reset(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    c->out_len = c->out_off = 0;
    set_out_interest(c, false);
}

/* The server closed (or reset) the connection: what it still owed is lost; reconnect. */
static void conn_reset(conn *c)
{
    stream *s = c->s;
    s->closed_lost += counted_owed(c);
    c->owed_n = c->owed_head = 0;
    epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    s->reconnects++;
    if (conn_open(c) < 0)
        return; /* stays closed: requests routed to it are lost (counted on send) */
    make_idle(c);
}

/* ---- the response parser: status line, Content-Length, chunked, Connection: close ---- */

static bool ieq_prefix(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && strncasecmp(p, lit, n) == 0;
}

static int parse_head(conn *c, const char *p, const char *end)
{
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return -1;
    c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (c->status < 100 || c->status > 599)
        return -1;
    c->body_left = 0;
    bool has_len = false, chunked = false;
    c->close_after = false;
    const char *line = memchr(p, '\n', (size_t)(end - p));
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        if (ieq_prefix(line, eol, "content-length:")) {
            c->body_left = strtoll(line + 15, NULL, 10);
            has_len = true;
        } else if (ieq_prefix(line, eol, "transfer-encoding:")) {
            chunked = memmem(line, (size_t)(eol - line), "chunked", 7) != NULL;
        } else if (ieq_prefix(line, eol, "connection:")) {
            c->close_after = memmem(line, (size_t)(eol - line), "close", 5) != NULL;
        }
        line = eol;
    }
    if (chunked) {
        c->body_left = -1;
        c->chunk_state = 0;
    } else if (!has_len && c->status != 204 && c->status != 304 && c->status >= 200) {
        return -1; /* a body until close: not a keep-alive answer */
    }
    return 0;
}

/* Consumes chunked body bytes from in[*pos..len); true when the body ended. */
static bool chunked_step(conn *c, size_t *pos)
{
    while (*pos < c->in_len) {
        char *p = c->in + *pos, *end = c->in + c->in_len;
        if (c->chunk_state == 1) {
            size_t n = (size_t)(end - p) < c->chunk_left ? (size_t)(end - p) : c->chunk_left;
            *pos += n;
            c->chunk_left -= n;
            if (!c->chunk_left)
                c->chunk_state = 2;
            continue;
        }
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            return false;
        *pos = (size_t)(eol + 1 - c->in);
        if (c->chunk_state == 0) {
            c->chunk_left = strtoull(p, NULL, 16);
            c->chunk_state = c->chunk_left ? 1 : 3;
        } else if (c->chunk_state == 2) {
            c->chunk_state = 0;
        } else if (eol - p <= 1) { /* state 3: the empty line after the trailers */
            return true;
        }
    }
    return false;
}

static void answered(conn *c, uint64_t now)
{
    stream *s = c->s;
    if (!c->owed_n) {
        s->parse_errors++; /* an answer nobody asked for */
        return;
    }
    uint64_t t = paid(c), lat = now > t ? now - t : 0;
    uint64_t ttfb = c->first_ns > t ? c->first_ns - t : 0;
    if (t >= g.record_ns) {
        s->completed++;
        s->status[c->status]++;
        hist_add(&s->lat, lat);
        if (c->status >= 200 && c->status < 300) {
            hist_add(&s->lat_ok, lat);
            if (lat <= g.good_ns)
                s->good++;
        } else if (c->status >= 500 || c->status == 429) {
            hist_add(&s->ttfb_rej, ttfb);
        }
    }
    if (!c->owed_n && !c->close_after)
        make_idle(c);
}

/* Parses every complete response in the input buffer; false when the connection was
 * reset (closed by the server, or an answer that could not be parsed). */
static bool parse(conn *c, uint64_t now)
{
    size_t pos = 0;
    for (;;) {
        if (!c->in_body) {
            char *end = memmem(c->in + pos, c->in_len - pos, "\r\n\r\n", 4);
            if (!end)
                break;
            if (parse_head(c, c->in + pos, end + 2) < 0) {
                c->s->parse_errors++;
                conn_reset(c);
                return false;
            }
            pos = (size_t)(end + 4 - c->in);
            if (c->status < 200)
                continue; /* an interim answer (100 Continue): the real one follows */
            c->in_body = true;
        }
        if (c->body_left >= 0) {
            size_t n = c->in_len - pos;
            if ((int64_t)n < c->body_left) {
                c->body_left -= (int64_t)n;
                pos = c->in_len;
                break;
            }
            pos += (size_t)c->body_left;
        } else if (!chunked_step(c, &pos)) {
            break;
        }
        c->in_body = false;
        answered(c, now);
        c->first_ns = pos < c->in_len ? now : 0; /* the next answer began in this read */
        if (c->close_after) {
            conn_reset(c);
            return false;
        }
    }
    if (pos) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (c->in_len == sizeof c->in) { /* a head larger than the buffer */
        c->s->parse_errors++;
        conn_reset(c);
        return false;
    }
    return true;
}

static void on_readable(conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_reset(c);
            return;
        }
        uint64_t now = now_ns();
        if (!c->first_ns)
            c->first_ns = now;
        c->in_len += (size_t)n;
        if (!parse(c, now))
            return;
    }
}

/* ---- scheduling ---- */

static void build_request(stream *s)
{
    size_t cap = 256 + strlen(s->path) + strlen(g.host);
    for (unsigned i = 0; i < g.nheaders; i++)
        cap += strlen(g.headers[i]) + 2;
    s->req = xrealloc(NULL, cap);
    int n = snprintf(s->req, cap, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n", s->path, g.host, g.port);
    for (unsigned i = 0; i < g.nheaders; i++)
        n += snprintf(s->req + n, cap - (size_t)n, "%s\r\n", g.headers[i]);
    n += snprintf(s->req + n, cap - (size_t)n, "\r\n");
    s->req_len = (size_t)n;
}

static conn *pick(stream *s)
{
    if (s->nidle) {
        conn *c = &s->conns[s->idle[--s->nidle]];
        c->in_idle = false;
        return c;
    }
    conn *c = &s->conns[s->rr];
    s->rr = (s->rr + 1) % s->nconns;
    return c;
}

static void send_due(stream *s, uint64_t now, conn **dirty, unsigned *ndirty)
{
    while (s->next_ns <= now && s->next_ns < g.stop_ns &&
           (!g.max_requests || s->scheduled < g.max_requests || s != &g.st[0])) {
        conn *c = pick(s);
        uint64_t t = s->next_ns;
        s->scheduled++;
        s->next_ns = g.start_ns + (uint64_t)((double)s->scheduled * 1e9 / s->rate);
        if (t < g.record_ns) {
            s->warm++;
        } else {
            hist_add(&s->lag, now - t);
            if (now - t > 1000000u)
                s->late_1ms++;
        }
        if (c->fd < 0) {
            s->closed_lost += t >= g.record_ns;
            continue;
        }
        if (c->out_len + s->req_len > c->out_cap) {
            c->out_cap = (c->out_len + s->req_len) * 2;
            c->out = xrealloc(c->out, c->out_cap);
        }
        memcpy(c->out + c->out_len, s->req, s->req_len);
        c->out_len += s->req_len;
        owe(c, t);
        if (!c->out_dirty && !c->want_out) {
            c->out_dirty = true;
            dirty[(*ndirty)++] = c;
        }
    }
}

static bool scheduling_done(uint64_t now)
{
    if (now >= g.stop_ns || interrupted)
        return true;
    return g.max_requests && g.st[0].scheduled >= g.max_requests;
}

static uint64_t owed_total(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < g.nst; i++)
        for (unsigned j = 0; j < g.st[i].nconns; j++)
            n += g.st[i].conns[j].owed_n;
    return n;
}

static void run(void)
{
    unsigned total = 0;
    for (unsigned i = 0; i < g.nst; i++)
        total += g.st[i].nconns;
    conn **dirty = xrealloc(NULL, total * sizeof *dirty);
    struct epoll_event evs[256];
    uint64_t drain_until = 0;
    for (;;) {
        uint64_t now = now_ns();
        unsigned ndirty = 0;
        bool done = scheduling_done(now);
        if (!done)
            for (unsigned i = 0; i < g.nst; i++)
                send_due(&g.st[i], now, dirty, &ndirty);
        for (unsigned i = 0; i < ndirty; i++) {
            dirty[i]->out_dirty = false;
            flush(dirty[i]);
        }
        if (done) {
            if (!drain_until)
                drain_until = now + g.drain_ns;
            if (!owed_total() || now >= drain_until || interrupted > 1)
                break;
        }
        uint64_t wake = done ? drain_until : g.stop_ns;
        for (unsigned i = 0; i < g.nst && !done; i++)
            if (g.st[i].next_ns < wake)
                wake = g.st[i].next_ns;
        uint64_t wait = wake > now ? wake - now : 0;
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        int n = epoll_pwait2(g.ep, evs, 256, &ts, NULL);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT)
                flush(c);
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                on_readable(c);
        }
    }
    free(dirty);
    for (unsigned i = 0; i < g.nst; i++)
        for (unsigned j = 0; j < g.st[i].nconns; j++)
            g.st[i].timeouts += counted_owed(&g.st[i].conns[j]);
}

/* ---- output ---- */

static void json_hist(FILE *f, const char *name, const hist *h)
{
    fprintf(f,
            "\"%s\":{\"n\":%llu,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
            "\"p999\":%.1f,\"max\":%.1f}",
            name, (unsigned long long)h->n, h->n ? (double)h->sum / (double)h->n / 1e3 : 0.0,
            (double)hist_pct(h, 50) / 1e3, (double)hist_pct(h, 90) / 1e3,
            (double)hist_pct(h, 99) / 1e3, (double)hist_pct(h, 99.9) / 1e3, (double)h->max / 1e3);
}

static void json_stream(FILE *f, const stream *s, double seconds)
{
    fprintf(f,
            "{\"name\":\"%s\",\"path\":\"%s\",\"rate\":%.3f,\"conns\":%u,"
            "\"scheduled\":%llu,\"completed\":%llu,\"good\":%llu,\"goodput\":%.1f,"
            "\"throughput\":%.1f,\"late_1ms\":%llu,"
            "\"errors\":{\"closed\":%llu,\"timeout\":%llu,\"parse\":%llu,\"reconnects\":%llu},"
            "\"status\":{",
            s->name, s->path, s->rate, s->nconns, (unsigned long long)(s->scheduled - s->warm),
            (unsigned long long)s->completed, (unsigned long long)s->good,
            seconds > 0 ? (double)s->good / seconds : 0.0,
            seconds > 0 ? (double)s->completed / seconds : 0.0, (unsigned long long)s->late_1ms,
            (unsigned long long)s->closed_lost, (unsigned long long)s->timeouts,
            (unsigned long long)s->parse_errors, (unsigned long long)s->reconnects);
    bool first = true;
    for (int i = 100; i < 600; i++)
        if (s->status[i]) {
            fprintf(f, "%s\"%d\":%llu", first ? "" : ",", i, (unsigned long long)s->status[i]);
            first = false;
        }
    fputs("},\"latency_us\":{", f);
    json_hist(f, "all", &s->lat);
    fputc(',', f);
    json_hist(f, "ok", &s->lat_ok);
    fputc(',', f);
    json_hist(f, "ttfb_rejected", &s->ttfb_rej);
    fputc(',', f);
    json_hist(f, "send_lag", &s->lag);
    fputs("}}", f);
}

static void report(double seconds, double elapsed)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    FILE *f = stdout;
    if (g.json && strcmp(g.json, "-") != 0 && !(f = fopen(g.json, "w"))) {
        perror("openloop: --json");
        f = stdout;
    }
    fprintf(f,
            "{\"host\":\"%s\",\"port\":%d,\"duration_s\":%.3f,\"elapsed_s\":%.3f,"
            "\"good_ms\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"streams\":[",
            g.host, g.port, seconds, elapsed, (double)g.good_ns / 1e6,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    for (unsigned i = 0; i < g.nst; i++) {
        if (i)
            fputc(',', f);
        json_stream(f, &g.st[i], seconds);
    }
    fputs("]}\n", f);
    if (f != stdout)
        fclose(f);
    for (unsigned i = 0; i < g.nst; i++) {
        const stream *s = &g.st[i];
        fprintf(stderr,
                "openloop: %s %s: %llu scheduled at %.0f/s, %llu answered (%llu good), "
                "p50 %.2f ms p99 %.2f ms p99.9 %.2f ms max %.2f ms, lost %llu, timeouts %llu\n",
                s->name, s->path, (unsigned long long)(s->scheduled - s->warm), s->rate,
                (unsigned long long)s->completed, (unsigned long long)s->good,
                (double)hist_pct(&s->lat, 50) / 1e6, (double)hist_pct(&s->lat, 99) / 1e6,
                (double)hist_pct(&s->lat, 99.9) / 1e6, (double)s->lat.max / 1e6,
                (unsigned long long)(s->closed_lost + s->parse_errors),
                (unsigned long long)s->timeouts);
    }
}

/* ---- setup ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: openloop --port P --path /x --rate R [--host 127.0.0.1] [--conns 64]\n"
               "                [--duration S] [--warmup S] [--requests N] [--cpu K]\n"
               "                [--header 'K: V']...\n"
               "                [--good-ms 100] [--drain-ms 2000] [--probe PATH]\n"
               "                [--probe-rate R] [--probe-conns N] [--json FILE]\n");
}

static int stream_setup(stream *s)
{
    if (s->rate <= 0 || !s->nconns)
        return -EINVAL;
    s->interval_ns = (uint64_t)(1e9 / s->rate);
    s->conns = calloc(s->nconns, sizeof *s->conns);
    s->idle = calloc(s->nconns, sizeof *s->idle);
    if (!s->conns || !s->idle)
        return -ENOMEM;
    build_request(s);
    for (unsigned i = 0; i < s->nconns; i++) {
        s->conns[i].s = s;
        int r = conn_open(&s->conns[i]);
        if (r < 0) {
            fprintf(stderr, "openloop: connect %s:%d: %s\n", g.host, g.port, strerror(-r));
            return r;
        }
    }
    for (unsigned i = s->nconns; i-- > 0;)
        make_idle(&s->conns[i]);
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted++;
}

enum {
    OPT_RATE = 256,
    OPT_CONNS,
    OPT_DUR,
    OPT_REQS,
    OPT_CPU,
    OPT_HDR,
    OPT_GOOD,
    OPT_DRAIN,
    OPT_PROBE,
    OPT_PRATE,
    OPT_PCONNS,
    OPT_JSON,
    OPT_PATH,
    OPT_WARM
};

static int parse_args(int argc, char **argv)
{
    static const struct option opts[] = {{"host", 1, 0, 'h'},
                                         {"port", 1, 0, 'p'},
                                         {"path", 1, 0, OPT_PATH},
                                         {"rate", 1, 0, OPT_RATE},
                                         {"conns", 1, 0, OPT_CONNS},
                                         {"duration", 1, 0, OPT_DUR},
                                         {"warmup", 1, 0, OPT_WARM},
                                         {"requests", 1, 0, OPT_REQS},
                                         {"cpu", 1, 0, OPT_CPU},
                                         {"header", 1, 0, OPT_HDR},
                                         {"good-ms", 1, 0, OPT_GOOD},
                                         {"drain-ms", 1, 0, OPT_DRAIN},
                                         {"probe", 1, 0, OPT_PROBE},
                                         {"probe-rate", 1, 0, OPT_PRATE},
                                         {"probe-conns", 1, 0, OPT_PCONNS},
                                         {"json", 1, 0, OPT_JSON},
                                         {"help", 0, 0, '?'},
                                         {0, 0, 0, 0}};
    stream *m = &g.st[0], *p = &g.st[1];
    m->name = "main";
    m->path = "/";
    m->nconns = 64;
    p->name = "probe";
    p->rate = 100;
    p->nconns = 4;
    double good_ms = 100, drain_ms = 2000;
    int c;
    while ((c = getopt_long(argc, argv, "h:p:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': g.host = optarg; break;
        case 'p': g.port = atoi(optarg); break;
        case OPT_PATH: m->path = optarg; break;
        case OPT_RATE: m->rate = atof(optarg); break;
        case OPT_CONNS: m->nconns = (unsigned)atoi(optarg); break;
        case OPT_DUR: g.duration = atof(optarg); break;
        case OPT_WARM: g.warmup = atof(optarg); break;
        case OPT_REQS: g.max_requests = strtoull(optarg, NULL, 10); break;
        case OPT_CPU: g.cpu = atoi(optarg); break;
        case OPT_HDR:
            if (g.nheaders == MAX_HEADERS)
                return -1;
            g.headers[g.nheaders++] = optarg;
            break;
        case OPT_GOOD: good_ms = atof(optarg); break;
        case OPT_DRAIN: drain_ms = atof(optarg); break;
        case OPT_PROBE: p->path = optarg; break;
        case OPT_PRATE: p->rate = atof(optarg); break;
        case OPT_PCONNS: p->nconns = (unsigned)atoi(optarg); break;
        case OPT_JSON: g.json = optarg; break;
        default: return -1;
        }
    }
    if (optind != argc || g.port <= 0 || g.port > 65535 || m->rate <= 0 || !m->nconns ||
        g.duration <= 0 || g.warmup < 0 || (p->path && (p->rate <= 0 || !p->nconns)))
        return -1;
    g.nst = p->path ? 2 : 1;
    g.good_ns = (uint64_t)(good_ms * 1e6);
    g.drain_ns = (uint64_t)(drain_ms * 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0) {
        usage(stderr);
        return 2;
    }
    if (g.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((size_t)g.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            perror("openloop: --cpu");
    }
    /* The default 50 us timer slack would add itself to every scheduled send. */
    prctl(PR_SET_TIMERSLACK, 1UL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)g.port);
    if (inet_pton(AF_INET, g.host, &g.addr.sin_addr) != 1) {
        fprintf(stderr, "openloop: --host must be an IPv4 address\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    for (unsigned i = 0; i < g.nst; i++)
        if (stream_setup(&g.st[i]) < 0)
            return 1;
    g.start_ns = now_ns();
    g.record_ns = g.start_ns + (uint64_t)(g.warmup * 1e9);
    g.stop_ns = g.record_ns + (uint64_t)(g.duration * 1e9);
    for (unsigned i = 0; i < g.nst; i++)
        g.st[i].next_ns = g.start_ns;
    run();
    uint64_t end = now_ns();
    /* The scheduling window: to the last scheduled time (a --requests bound ends early). */
    uint64_t last = g.record_ns;
    for (unsigned i = 0; i < g.nst; i++)
        if (g.st[i].scheduled && g.st[i].next_ns > last)
            last = g.st[i].next_ns;
    if (last > g.stop_ns)
        last = g.stop_ns;
    report((double)(last - g.record_ns) / 1e9, (double)(end - g.record_ns) / 1e9);
    return 0;
}
