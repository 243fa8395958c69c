/*
 * http/accesslog.c - one line per answered request, without blocking a ring.
 *
 * Each ring formats its lines into a buffer of its own (a single-producer,
 * single-consumer byte ring of LOG_BUF bytes); one writer thread drains the
 * buffers into the file every LOG_PERIOD_MS, or at once while there is more.
 * A line that does not fit (the disk is slower than the traffic) is dropped
 * and counted (ringo_access_log_dropped_total): memory stays bounded and the
 * ring never waits. The reload hooks (SIGHUP) reopen the file: lines
 * buffered before the reopen go to the old file, the rest to the new one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "http/http_impl.h"
#include "http/observe_impl.h"

#define LOG_BUF (1u << 20) /* per ring */
#define LOG_PERIOD_MS 10   /* the writer's sleep while the buffers are empty */
#define LOG_LINE_MAX 4096  /* a longer line is cut (its fields are) */
#define LOG_FIELD_MAX 1024 /* target, referer, user agent: bytes kept of each */

/* ---- formatting (ring thread) ----
 *
 * Every writer takes and returns the output pointer (kept in a register: a
 * pointer in a struct would be reloaded after every char store, which may
 * alias it) and never writes past end. This runs once per request: no stdio.
 */

static char *put(char *p, char *end, const char *s, size_t n)
{
    if (n > (size_t)(end - p))
        n = (size_t)(end - p);
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, end, lit) put((p), (end), (lit), sizeof(lit) - 1)

static char *put_str(char *p, char *end, ringo_str s) { return put(p, end, s.ptr, s.len); }

static char *put_u64(char *p, char *end, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    if (end - p < n)
        return p;
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Seconds with 6 decimals (nginx's $request_time has 3). */
static char *put_secs(char *p, char *end, uint64_t ns)
{
    uint64_t us = ns / 1000u, frac = us % 1000000u;
    char digits[7] = {'.'};

    p = put_u64(p, end, us / 1000000u);
    for (int i = 6; i >= 1; i--, frac /= 10)
        digits[i] = (char)('0' + frac % 10);
    return put(p, end, digits, sizeof(digits));
}

/* Bytes written as they are: printable ASCII but '"' and '\'. */
static const unsigned char plain[256] = {
    [' '] = 1,
    ['!'] = 1,
    ['#' ... '['] = 1,
    [']' ... '~'] = 1,
};

/*
 * nginx's escaping of combined fields ('"', '\' and bytes outside printable
 * ASCII as \xHH), or JSON's (\u00XX: a line stays valid JSON whatever the
 * bytes). Runs of plain bytes are copied whole. At most LOG_FIELD_MAX bytes
 * of s are written.
 */
static char *put_esc(char *p, char *end, ringo_str s, bool json)
{
    static const char hex_u[] = "0123456789ABCDEF", hex_l[] = "0123456789abcdef";
    const unsigned char *b = (const unsigned char *)s.ptr;
    size_t n = s.len < LOG_FIELD_MAX ? s.len : LOG_FIELD_MAX, i = 0;

    while (i < n) {
        size_t j = i;
        while (j < n && plain[b[j]])
            j++;
        p = put(p, end, s.ptr + i, j - i);
        if (j == n || end - p < 6)
            break;
        if (json) {
            memcpy(p, "\\u00", 4);
            p[4] = hex_l[b[j] >> 4];
            p[5] = hex_l[b[j] & 15];
            p += 6;
        } else {
            memcpy(p, "\\x", 2);
            p[2] = hex_u[b[j] >> 4];
            p[3] = hex_u[b[j] & 15];
            p += 4;
        }
        i = j + 1;
    }
    return p;
}

static ringo_str header(const ringo_req *r, const char *name)
{
    ringo_str v;

    return ringo_req_header(r, name, &v) == 0 ? v : (ringo_str){"", 0};
}

/* "a.b.c.d:port" or "[v6]:port" of ringo_req_peer() (no stdio for IPv4), or "-". */
static char *put_peer(char *p, char *end, const ringo_req *r)
{
    struct sockaddr_storage ss;
    char ip[INET6_ADDRSTRLEN];
    uint16_t port;

    if (ringo_req_peer(r, &ss) < 0 || end - p < 64)
        return PUT_LIT(p, end, "-");
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        const unsigned char *a = (const unsigned char *)&in->sin_addr;
        for (int i = 0; i < 4; i++) {
            /* Up to three digits, no division loop: this runs for every line. */
            unsigned v = a[i];
            if (v >= 100)
                *p++ = (char)('0' + v / 100);
            if (v >= 10)
                *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
            *p++ = i < 3 ? '.' : ':';
        }
        port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
            return PUT_LIT(p, end, "-");
        *p++ = '[';
        p = put(p, end, ip, strlen(ip));
        p = PUT_LIT(p, end, "]:");
        port = ntohs(in6->sin6_port);
    }
    return put_u64(p, end, port);
}

/* The ring's wall clock strings, formatted once a second. */
static void stamp(ringo__obs_logbuf *b, struct timespec *now)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, now);
    if (now->tv_sec == b->stamp_sec && b->clf_time[0])
        return;
    b->stamp_sec = now->tv_sec;
    gmtime_r(&now->tv_sec, &tm);
    snprintf(b->clf_time, sizeof(b->clf_time), "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
             mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(b->iso_time, sizeof(b->iso_time), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    b->clf_len = strlen(b->clf_time);
    b->iso_len = strlen(b->iso_time);
}

/* The request line's version: "" for an HTTP/1.x request whose request line never parsed. */
static ringo_str protocol(const ringo_req *r)
{
    if (r->h2)
        return RINGO_STR_LIT("HTTP/2.0");
    if (!r->method.len)
        return RINGO_STR_LIT("");
    return r->http_minor ? RINGO_STR_LIT("HTTP/1.1") : RINGO_STR_LIT("HTTP/1.0");
}

/* $remote_addr - - [$time] "$request" $status $bytes "$referer" "$user_agent" */
static char *combined(char *p, char *end, ringo__obs_logbuf *b, const ringo_req *r, size_t bytes)
{
    p = put_peer(p, end, r);
    p = PUT_LIT(p, end, " - - ");
    p = put(p, end, b->clf_time, b->clf_len);
    p = PUT_LIT(p, end, " \"");
    if (r->method.len) {
        p = put_esc(p, end, r->method, false);
        p = PUT_LIT(p, end, " ");
        p = put_esc(p, end, r->target, false);
        p = PUT_LIT(p, end, " ");
        p = put_str(p, end, protocol(r));
    }
    p = PUT_LIT(p, end, "\" ");
    p = put_u64(p, end, (uint64_t)r->status);
    p = PUT_LIT(p, end, " ");
    p = put_u64(p, end, bytes);
    p = PUT_LIT(p, end, " \"");
    p = put_esc(p, end, header(r, "Referer"), false);
    p = PUT_LIT(p, end, "\" \"");
    p = put_esc(p, end, header(r, "User-Agent"), false);
    return PUT_LIT(p, end, "\"");
}

static char *json(char *p, char *end, ringo__obs_logbuf *b, unsigned ring, const ringo_req *r,
                  size_t bytes, uint64_t dur, long ms)
{
    char frac[5] = {'.', (char)('0' + ms / 100 % 10), (char)('0' + ms / 10 % 10),
                    (char)('0' + ms % 10), 'Z'};
    const ringo__route *rt = ringo__obs_route(r);
    const char *route = rt ? rt->pattern : "unmatched";

    p = PUT_LIT(p, end, "{\"time\":\"");
    p = put(p, end, b->iso_time, b->iso_len);
    p = put(p, end, frac, sizeof(frac));
    p = PUT_LIT(p, end, "\",\"id\":\"");
    p = put_esc(p, end, r->rid, true);
    p = PUT_LIT(p, end, "\",\"peer\":\"");
    p = put_peer(p, end, r);
    p = PUT_LIT(p, end, "\",\"method\":\"");
    p = put_esc(p, end, r->method, true);
    p = PUT_LIT(p, end, "\",\"target\":\"");
    p = put_esc(p, end, r->target, true);
    p = PUT_LIT(p, end, "\",\"protocol\":\"");
    p = put_str(p, end, protocol(r));
    p = PUT_LIT(p, end, "\",\"route\":\"");
    p = put_esc(p, end, ringo_str_c(route), true);
    p = PUT_LIT(p, end, "\",\"status\":");
    p = put_u64(p, end, (uint64_t)r->status);
    p = PUT_LIT(p, end, ",\"bytes\":");
    p = put_u64(p, end, bytes);
    p = PUT_LIT(p, end, ",\"duration\":");
    p = put_secs(p, end, dur);
    p = PUT_LIT(p, end, ",\"queue_wait\":");
    p = put_secs(p, end, r->obs_qwait_ns);
    p = PUT_LIT(p, end, ",\"ring\":");
    p = put_u64(p, end, ring);
    p = PUT_LIT(p, end, ",\"user_agent\":\"");
    p = put_esc(p, end, header(r, "User-Agent"), true);
    return PUT_LIT(p, end, "\"}");
}

/* Copies a whole line into the ring's buffer, or counts it dropped. */
static void push(ringo__obs_logbuf *b, const char *p, size_t n)
{
    size_t head = atomic_load_explicit(&b->head, memory_order_relaxed),
           tail = atomic_load_explicit(&b->tail, memory_order_acquire), at, first;

    if (n > b->cap - (head - tail)) {
        ringo__obs_add(&b->dropped, 1);
        return;
    }
    at = head & (b->cap - 1);
    first = n < b->cap - at ? n : b->cap - at;
    memcpy(b->data + at, p, first);
    memcpy(b->data, p + first, n - first);
    /* Release: the writer that sees the new head sees the bytes. */
    atomic_store_explicit(&b->head, head + n, memory_order_release);
}

void ringo__log_line(ringo__obs *obs, ringo__obs_ring *o, unsigned ring, ringo_req *r, size_t bytes,
                     uint64_t dur_ns)
{
    char buf[LOG_LINE_MAX], *p, *end = buf + sizeof(buf) - 1; /* room for the newline */
    struct timespec now;

    stamp(&o->log, &now);
    if (obs->log_format == RINGO_LOG_JSON)
        p = json(buf, end, &o->log, ring, r, bytes, dur_ns, now.tv_nsec / 1000000);
    else
        p = combined(buf, end, &o->log, r, bytes);
    *p++ = '\n';
    push(&o->log, buf, (size_t)(p - buf));
}

/* ---- the writer ---- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a full disk or a closed stdout: the lines are lost, the server goes on */
        p += w;
        n -= (size_t)w;
    }
}

/* Under log_lock. Returns the bytes written. */
static size_t drain(ringo__obs *obs)
{
    size_t total = 0;

    for (unsigned i = 0; i < obs->nrings; i++) {
        ringo__obs_logbuf *b = &obs->rings[i]->log;
        size_t tail = atomic_load_explicit(&b->tail, memory_order_relaxed),
               head = atomic_load_explicit(&b->head, memory_order_acquire);
        while (tail != head) {
            size_t at = tail & (b->cap - 1), n = head - tail;
            if (n > b->cap - at)
                n = b->cap - at;
            write_all(obs->log_fd, b->data + at, n);
            tail += n;
            total += n;
        }
        /* Release: the ring reuses the bytes only after they were written. */
        atomic_store_explicit(&b->tail, tail, memory_order_release);
    }
    return total;
}

static void *writer_main(void *arg)
{
    ringo__obs *obs = arg;
    struct timespec nap = {0, LOG_PERIOD_MS * 1000000L};

    while (!atomic_load_explicit(&obs->writer_stop, memory_order_acquire)) {
        size_t n;
        pthread_mutex_lock(&obs->log_lock);
        n = drain(obs);
        pthread_mutex_unlock(&obs->log_lock);
        if (!n)
            nanosleep(&nap, NULL);
    }
    return NULL;
}

static int open_log(const char *path)
{
    int fd;

    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

/* The reload hook: what was buffered goes to the old file, the rest to the new one. */
static int reopen(ringo_app *app, void *udata)
{
    ringo__obs *obs = udata;
    int fd, old;

    (void)app;
    if (strcmp(obs->log_path, "-") == 0 || !obs->writer_started)
        return 0;
    fd = open_log(obs->log_path);
    if (fd < 0)
        return fd; /* logged by the reload; the old file stays in use */
    pthread_mutex_lock(&obs->log_lock);
    drain(obs);
    old = obs->log_fd;
    obs->log_fd = fd;
    pthread_mutex_unlock(&obs->log_lock);
    close(old);
    return 0;
}

int ringo__log_start(ringo_app *app)
{
    ringo__obs *obs = app->obs;
    int ret;

    for (unsigned i = 0; i < obs->nrings; i++) {
        ringo__obs_logbuf *b = &obs->rings[i]->log;
        if (!(b->data = ringo__malloc(LOG_BUF)))
            return -ENOMEM;
        b->cap = LOG_BUF;
    }
    obs->log_fd = open_log(obs->log_path);
    if (obs->log_fd < 0) {
        ret = obs->log_fd;
        if (!app->srv.cfg.quiet)
            fprintf(stderr, "ringo: cannot open the access log %s: %s\n", obs->log_path,
                    strerror(-ret));
        return ret;
    }
    if ((ret = pthread_mutex_init(&obs->log_lock, NULL)) != 0)
        return -ret;
    obs->lock_init = true;
    if ((ret = pthread_create(&obs->writer, NULL, writer_main, obs)) != 0)
        return -ret;
    obs->writer_started = true;
    return 0;
}

void ringo__log_stop(ringo_app *app)
{
    ringo__obs *obs = app->obs;

    if (obs->writer_started) {
        atomic_store_explicit(&obs->writer_stop, true, memory_order_release);
        pthread_join(obs->writer, NULL);
        obs->writer_started = false;
        drain(obs); /* the rings stopped: the last lines */
    }
    if (obs->lock_init) {
        pthread_mutex_destroy(&obs->log_lock);
        obs->lock_init = false;
    }
    if (obs->log_fd > STDOUT_FILENO)
        close(obs->log_fd);
    obs->log_fd = -1;
}

int ringo_app_access_log(ringo_app *app, const char *path, ringo_log_format format)
{
    ringo__obs *obs;
    int ret;

    if (!app || !path || !*path || (format != RINGO_LOG_COMBINED && format != RINGO_LOG_JSON))
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    obs = ringo__obs_get(app);
    if (!obs)
        return -ENOMEM;
    if (obs->log_format >= 0)
        return -EEXIST;
    if (!(obs->log_path = ringo__strdup(path)))
        return -ENOMEM;
    ret = ringo_app_on_reload(app, "access log", reopen, obs);
    if (ret < 0) {
        ringo__free(obs->log_path);
        obs->log_path = NULL;
        return ret;
    }
    obs->log_format = (int)format;
    obs->timing = true;
    if (format == RINGO_LOG_JSON)
        obs->ids = true;
    return 0;
}
