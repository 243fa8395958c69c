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

/* ---- formatting (ring thread) ---- */

typedef struct line {
    char *p, *end;
} line;

static void put(line *l, const char *s, size_t n)
{
    if (n > (size_t)(l->end - l->p))
        n = (size_t)(l->end - l->p);
    memcpy(l->p, s, n);
    l->p += n;
}

static void puts_(line *l, const char *s) { put(l, s, strlen(s)); }

static void put_u64(line *l, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n && l->p < l->end)
        *l->p++ = tmp[--n];
}

/* Seconds with 6 decimals, as nginx's $request_time has 3. */
static void put_secs(line *l, uint64_t ns)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%llu.%06llu", (unsigned long long)(ns / 1000000000u),
                     (unsigned long long)(ns % 1000000000u / 1000u));

    put(l, buf, (size_t)n);
}

/* nginx's escaping of combined fields: '"', '\' and bytes outside 0x20-0x7e as \xHH. */
static void put_clf(line *l, ringo_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = s.len < LOG_FIELD_MAX ? s.len : LOG_FIELD_MAX;

    for (size_t i = 0; i < n && l->p < l->end; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *l->p++ = (char)c;
        } else {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            put(l, e, 4);
        }
    }
}

/* A JSON string's contents: controls, '"', '\' and non-ASCII bytes as \u00XX (always valid). */
static void put_json(line *l, ringo_str s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = s.len < LOG_FIELD_MAX ? s.len : LOG_FIELD_MAX;

    for (size_t i = 0; i < n && l->p < l->end; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *l->p++ = (char)c;
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, e, 6);
        }
    }
}

static ringo_str header(const ringo_req *r, const char *name)
{
    ringo_str v;

    return ringo_req_header(r, name, &v) == 0 ? v : (ringo_str){"", 0};
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
}

static ringo_str version(const ringo_req *r)
{
    return r->http_minor ? (ringo_str)RINGO_STR_LIT("HTTP/1.1")
                         : (ringo_str)RINGO_STR_LIT("HTTP/1.0");
}

/* $remote_addr - - [$time] "$request" $status $bytes "$referer" "$user_agent" */
static void combined(line *l, ringo__obs_logbuf *b, ringo_req *r, const char *peer, size_t bytes)
{
    puts_(l, peer);
    puts_(l, " - - ");
    puts_(l, b->clf_time);
    puts_(l, " \"");
    if (r->method.len) {
        put_clf(l, r->method);
        puts_(l, " ");
        put_clf(l, r->target);
        puts_(l, " ");
        put_clf(l, version(r));
    }
    puts_(l, "\" ");
    put_u64(l, (uint64_t)r->status);
    puts_(l, " ");
    put_u64(l, bytes);
    puts_(l, " \"");
    put_clf(l, header(r, "Referer"));
    puts_(l, "\" \"");
    put_clf(l, header(r, "User-Agent"));
    puts_(l, "\"");
}

static void json(line *l, const ringo__obs *obs, ringo__obs_logbuf *b, unsigned ring, ringo_req *r,
                 const char *peer, size_t bytes, uint64_t dur, long ms)
{
    char frac[24];

    snprintf(frac, sizeof(frac), ".%03ldZ", ms);
    puts_(l, "{\"time\":\"");
    puts_(l, b->iso_time);
    puts_(l, frac);
    puts_(l, "\",\"id\":\"");
    put_json(l, r->rid);
    puts_(l, "\",\"peer\":\"");
    puts_(l, peer);
    puts_(l, "\",\"method\":\"");
    put_json(l, r->method);
    puts_(l, "\",\"target\":\"");
    put_json(l, r->target);
    puts_(l, "\",\"route\":\"");
    put_json(l, ringo_str_c(r->route ? r->route->pattern : obs->labels ? "unmatched" : ""));
    puts_(l, "\",\"status\":");
    put_u64(l, (uint64_t)r->status);
    puts_(l, ",\"bytes\":");
    put_u64(l, bytes);
    puts_(l, ",\"duration\":");
    put_secs(l, dur);
    puts_(l, ",\"queue_wait\":");
    put_secs(l, r->obs_qwait_ns);
    puts_(l, ",\"ring\":");
    put_u64(l, ring);
    puts_(l, ",\"user_agent\":\"");
    put_json(l, header(r, "User-Agent"));
    puts_(l, "\"}");
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
    char buf[LOG_LINE_MAX], peer[64];
    line l = {buf, buf + sizeof(buf) - 1};
    struct timespec now;

    stamp(&o->log, &now);
    if (ringo_req_peer_string(r, peer, sizeof(peer)) < 0)
        strcpy(peer, "-");
    if (obs->log_format == RINGO_LOG_JSON)
        json(&l, obs, &o->log, ring, r, peer, bytes, dur_ns, now.tv_nsec / 1000000);
    else
        combined(&l, &o->log, r, peer, bytes);
    *l.p++ = '\n';
    push(&o->log, buf, (size_t)(l.p - buf));
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
