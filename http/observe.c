/*
 * http/observe.c - the observability state of an app (http/observe_impl.h),
 * request IDs and the trace context a handler reads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/http_impl.h"
#include "http/observe_impl.h"

static const char hex[] = "0123456789abcdef";

ringo__obs *ringo__obs_get(ringo_app *app)
{
    ringo__obs *obs = app->obs;

    if (obs)
        return obs;
    obs = ringo__calloc(1, sizeof(*obs));
    if (!obs)
        return NULL;
    obs->log_format = -1;
    obs->log_fd = -1;
    app->obs = obs;
    return obs;
}

int ringo_app_request_ids(ringo_app *app)
{
    ringo__obs *obs;

    if (!app)
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    obs = ringo__obs_get(app);
    if (!obs)
        return -ENOMEM;
    obs->ids = true;
    return 0;
}

static int rings_new(ringo__obs *obs, unsigned n)
{
    obs->rings = ringo__calloc(n, sizeof(*obs->rings));
    if (!obs->rings)
        return -ENOMEM;
    obs->nrings = n;
    for (unsigned i = 0; i < n; i++)
        if (!(obs->rings[i] = ringo__calloc(1, sizeof(*obs->rings[i]))))
            return -ENOMEM;
    return 0;
}

int ringo__obs_start(ringo_app *app)
{
    ringo__obs *obs = app->obs;
    unsigned char rnd[6] = {0};
    int ret;

    if (!obs)
        return 0;
    ret = rings_new(obs, ringo__server_threads(&app->srv.cfg));
    if (ret < 0)
        return ret;
    /* Unique per process, not secret: a failed getrandom() still leaves the counters unique. */
    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
        fprintf(stderr, "ringo: request ID prefix: %s\n", strerror(errno));
    for (unsigned i = 0; i < sizeof(rnd); i++) {
        obs->id_prefix[2 * i] = hex[rnd[i] >> 4];
        obs->id_prefix[2 * i + 1] = hex[rnd[i] & 15];
    }
    if (obs->metrics && (ret = ringo__metrics_start(app)) < 0)
        return ret;
    if (obs->log_format >= 0 && (ret = ringo__log_start(app)) < 0)
        return ret;
    return 0;
}

void ringo__obs_stop(ringo_app *app)
{
    if (app->obs && app->obs->log_format >= 0)
        ringo__log_stop(app);
}

void ringo__obs_free(ringo_app *app)
{
    ringo__obs *obs = app->obs;

    if (!obs)
        return;
    ringo__obs_stop(app);
    for (unsigned i = 0; i < obs->nrings; i++) {
        ringo__obs_ring *o = obs->rings[i];
        if (!o)
            continue;
        ringo__free(o->slots);
        ringo__free(o->dur);
        ringo__free(o->qwait);
        ringo__free(o->log.data);
        ringo__free(o);
    }
    ringo__free(obs->rings);
    ringo__free(obs->labels);
    ringo__free(obs->metrics_path);
    ringo__free(obs->log_path);
    ringo__free(obs);
    app->obs = NULL;
}

/* ---- request IDs ---- */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-._:+=/@", c);
}

/* The client's X-Request-ID, when it is one we may echo (it lands in logs and headers). */
static bool incoming_id(const ringo_req *r, ringo_str *out)
{
    if (ringo_req_header(r, "X-Request-ID", out) < 0 || !out->len ||
        out->len > RINGO_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < out->len; i++)
        if (!id_char(out->ptr[i]))
            return false;
    return true;
}

/* "<prefix>-<ring>-<counter>", all hex: 12 + 1 + 8 + 1 + 16 at most. */
static void generate_id(ringo__obs *obs, ringo__obs_ring *o, unsigned ring, ringo_req *r)
{
    char *p = ringo__arena_alloc(&r->arena, 40), *start = p;
    uint64_t n = ++o->next_id;
    char tmp[16];
    int k = 0;

    if (!p)
        return;
    memcpy(p, obs->id_prefix, 12);
    p += 12;
    *p++ = '-';
    do
        tmp[k++] = hex[ring & 15];
    while ((ring >>= 4));
    while (k)
        *p++ = tmp[--k];
    *p++ = '-';
    do
        tmp[k++] = hex[n & 15];
    while ((n >>= 4));
    while (k)
        *p++ = tmp[--k];
    r->rid = (ringo_str){start, (size_t)(p - start)};
}

static ringo__obs_ring *ring_obs(ringo__obs *obs, ringo__sess *s, unsigned *id)
{
    *id = ringo__ring_id(ringo__conn_ring(s->conn));
    return obs->rings[*id];
}

void ringo__obs_head(ringo__sess *s, ringo_req *r)
{
    ringo__obs *obs = s->app->obs;
    unsigned ring;
    ringo__obs_ring *o = ring_obs(obs, s, &ring);

    if (obs->ids && !incoming_id(r, &r->rid))
        generate_id(obs, o, ring, r);
}

void ringo__obs_answer(ringo__sess *s, ringo_req *r)
{
    ringo__obs *obs = s->app->obs;
    unsigned ring = 0;
    ringo__obs_ring *o;

    if (obs->ids && !r->rid.len) {
        o = ring_obs(obs, s, &ring);
        generate_id(obs, o, ring, r);
    }
}

void ringo__obs_done(ringo__sess *s, ringo_req *r, size_t bytes)
{
    ringo__obs *obs = s->app->obs;
    unsigned ring;
    ringo__obs_ring *o = ring_obs(obs, s, &ring);
    uint64_t dur;

    if (!obs->timing)
        return;
    dur = ringo__obs_now() - r->obs_t0;
    if (obs->metrics)
        ringo__metrics_count(obs, o, r, dur);
    if (obs->log_format >= 0)
        ringo__log_line(obs, o, ring, r, bytes, dur);
}

/*
 * A protocol error (413, 431, 408 ...) is the server's answer, not its
 * route's: "unmatched", as on HTTP/1.1 where such an answer is a request
 * of its own. An HTTP/2 stream keeps the route its head was given.
 */
const ringo__route *ringo__obs_route(const ringo_req *r)
{
    return r->outcome == REQ_PROTOCOL_ERROR ? NULL : r->route;
}

ringo_str ringo_req_id(const ringo_req *req) { return req->rid; }

/* ---- trace context ---- */

/* n lowercase hex digits at p; *zero: all of them are '0'. */
static bool lower_hex(const char *p, size_t n, bool *zero)
{
    *zero = true;
    for (size_t i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
        *zero = *zero && p[i] == '0';
    }
    return true;
}

/* https://www.w3.org/TR/trace-context/#traceparent-header-field-values */
int ringo_req_traceparent(const ringo_req *req, ringo_str *out)
{
    ringo_str v;
    bool zero;
    const char *p;

    if (ringo_req_header(req, "traceparent", &v) < 0)
        return -ENOENT;
    p = v.ptr;
    if (v.len < 55 || !lower_hex(p, 2, &zero) || memcmp(p, "ff", 2) == 0 || p[2] != '-' ||
        !lower_hex(p + 3, 32, &zero) || zero || p[35] != '-' || !lower_hex(p + 36, 16, &zero) ||
        zero || p[52] != '-' || !lower_hex(p + 53, 2, &zero))
        return -EINVAL;
    /* Version 00 is exactly 55 bytes; a later version may append "-...". */
    if (v.len > 55 && (memcmp(p, "00", 2) == 0 || p[55] != '-'))
        return -EINVAL;
    *out = v;
    return 0;
}
