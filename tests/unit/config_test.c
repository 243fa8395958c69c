/*
 * Description: the ABI rules of include/ringo/app.h. ringo_app_new()
 * refuses a config size of 0, a newer caller's larger config that sets a
 * field the library does not know, and fields outside their documented
 * range (-EINVAL, never clamped); it takes a shorter config (a caller built
 * against an older header) with the defaults for every field past its size. ringo_config_init() and
 * ringo_app_stats() never write past an older caller's smaller struct
 * (simulated by a prefix followed by guard bytes). The option structs'
 * reserved words must be zero.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/http_impl.h"

#define GUARD 0xa5
#define GUARD_BYTES 64

/* An older caller's struct: its size bytes, then memory the library must not touch. */
typedef union older {
    ringo_config cfg;
    ringo_stats st;
    unsigned char bytes[sizeof(ringo_config) + sizeof(ringo_stats) + GUARD_BYTES];
} older;

static int guard_intact(const older *o, size_t from)
{
    for (size_t i = from; i < sizeof(o->bytes); i++)
        if (o->bytes[i] != GUARD)
            return 0;
    return 1;
}

static void check_sizes(void)
{
    ringo_config cfg;
    ringo_app *app = (ringo_app *)&cfg;

    ringo_config_init(&cfg);
    CHECK(cfg.size == sizeof(cfg));
    cfg.size = 0;
    CHECK(ringo_app_new(&app, &cfg) == -EINVAL && app == NULL);
    CHECK(ringo_config_init_sized(NULL, sizeof(cfg)) == -EINVAL);
    CHECK(ringo_config_init_sized(&cfg, sizeof(cfg.size) - 1) == -EINVAL);
}

/* A newer caller's larger struct: accepted while the fields this library does not know are 0. */
static void check_newer_caller(void)
{
    size_t size = sizeof(ringo_config) + 16;
    ringo_app *app;
    older o;

    memset(&o, GUARD, sizeof(o));
    CHECK(ringo_config_init_sized(&o.cfg, size) == 0);
    CHECK(o.cfg.size == size && guard_intact(&o, size));
    for (size_t i = sizeof(ringo_config); i < size; i++)
        CHECK(o.bytes[i] == 0);
    o.cfg.port = 4321;
    CHECK(ringo_app_new(&app, &o.cfg) == 0 && app->srv.cfg.port == 4321);
    CHECK(app->srv.cfg.size == sizeof(ringo_config));
    ringo_app_free(app);
    o.bytes[sizeof(ringo_config) + 3] = 1;
    CHECK(ringo_app_new(&app, &o.cfg) == -EINVAL && app == NULL);

    CHECK(ringo_app_new(&app, NULL) == 0);
    memset(&o, GUARD, sizeof(o));
    ringo_app_stats_sized(app, &o.st, sizeof(ringo_stats) + 16);
    for (size_t i = 0; i < sizeof(ringo_stats) + 16; i++)
        CHECK(o.bytes[i] == 0);
    CHECK(guard_intact(&o, sizeof(ringo_stats) + 16));
    ringo_app_free(app);
}

/* Every field boundary of the current struct is the size of some older header. */
static void check_init_older_caller(void)
{
    static const size_t sizes[] = {
        sizeof(size_t),
        offsetof(ringo_config, port),
        offsetof(ringo_config, max_post_inflight),
        offsetof(ringo_config, max_body_bytes),
        offsetof(ringo_config, stack_size),
        offsetof(ringo_config, max_pool_queue),
    };
    ringo_config dflt;
    older o;

    ringo_config_init(&dflt);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(&o, GUARD, sizeof(o));
        CHECK(ringo_config_init_sized(&o.cfg, sizes[i]) == 0);
        CHECK(o.cfg.size == sizes[i]);
        CHECK(memcmp((char *)&o.cfg + sizeof(size_t), (char *)&dflt + sizeof(size_t),
                     sizes[i] - sizeof(size_t)) == 0);
        CHECK(guard_intact(&o, sizes[i]));
    }
}

static void check_stats_older_caller(void)
{
    ringo_stats zero = {0};
    ringo_app *app;
    older o;

    CHECK(ringo_app_new(&app, NULL) == 0);
    for (size_t size = 0; size <= sizeof(ringo_stats); size += 4) {
        size_t whole = size - size % sizeof(uint64_t);

        memset(&o, GUARD, sizeof(o));
        ringo_app_stats_sized(app, &o.st, size);
        /* Before start every counter is 0: the whole counters that fit are written. */
        CHECK(memcmp(&o.st, &zero, whole) == 0);
        CHECK(guard_intact(&o, whole));
    }
    ringo_app_free(app);
}

static void check_new_older_caller(void)
{
    ringo_config cfg, dflt;
    ringo_app *app;

    ringo_config_init(&dflt);
    ringo_config_init(&cfg);
    cfg.port = 1234;
    cfg.quiet = 1;
    cfg.stall_warn_ms = 7;
    cfg.max_pool_queue = 99;
    /* What an older header without the last two fields would pass. */
    cfg.size = offsetof(ringo_config, stall_warn_ms);
    CHECK(ringo_app_new(&app, &cfg) == 0);
    CHECK(app->srv.cfg.size == sizeof(ringo_config));
    CHECK(app->srv.cfg.port == 1234 && app->srv.cfg.quiet == 1);
    CHECK(app->srv.cfg.stall_warn_ms == dflt.stall_warn_ms);
    CHECK(app->srv.cfg.max_pool_queue == dflt.max_pool_queue);
    ringo_app_free(app);

    CHECK(ringo_app_new(&app, NULL) == 0);
    CHECK(app->srv.cfg.port == dflt.port && app->srv.cfg.size == sizeof(ringo_config));
    ringo_app_free(app);
}

static int new_with(void (*set)(ringo_config *))
{
    ringo_config cfg;
    ringo_app *app;
    int ret;

    ringo_config_init(&cfg);
    set(&cfg);
    ret = ringo_app_new(&app, &cfg);
    ringo_app_free(app);
    return ret;
}

static void post_max(ringo_config *c) { c->max_post_inflight = RINGO_MAX_POST_INFLIGHT; }
static void post_over(ringo_config *c) { c->max_post_inflight = RINGO_MAX_POST_INFLIGHT + 1; }
static void pool_max(ringo_config *c) { c->pool_threads = RINGO_MAX_POOL_THREADS; }
static void pool_over(ringo_config *c) { c->pool_threads = RINGO_MAX_POOL_THREADS + 1; }
static void bufs_max(ringo_config *c) { c->recv_buffers = RINGO_MAX_RECV_BUFFERS; }
static void bufs_over(ringo_config *c) { c->recv_buffers = RINGO_MAX_RECV_BUFFERS * 2; }
static void bufs_odd(ringo_config *c) { c->recv_buffers = 500; }
static void bufs_zero(ringo_config *c) { c->recv_buffers = 0; }
static void no_h2(ringo_config *c) { c->no_h2 = 1; }
static void no_ktls(ringo_config *c) { c->no_ktls = 1; }
static void cfg_reserved(ringo_config *c) { c->reserved1 = 1; }
static void batch_off(ringo_config *c) { c->batch_wait_us = RINGO_BATCH_WAIT_OFF; }
static void batch_max(ringo_config *c) { c->batch_wait_us = 1000; }
static void batch_over(ringo_config *c) { c->batch_wait_us = 1001; }

static void check_ranges(void)
{
    CHECK(new_with(post_max) == 0 && new_with(post_over) == -EINVAL);
    CHECK(new_with(pool_max) == 0 && new_with(pool_over) == -EINVAL);
    CHECK(new_with(bufs_max) == 0 && new_with(bufs_zero) == 0);
    CHECK(new_with(bufs_over) == -EINVAL && new_with(bufs_odd) == -EINVAL);
    /* ringo_config's own reserved word (the place of the next 4-byte field) must be zero. */
    CHECK(new_with(no_h2) == 0 && new_with(no_ktls) == 0 && new_with(cfg_reserved) == -EINVAL);
    CHECK(new_with(batch_off) == 0 && new_with(batch_max) == 0 && new_with(batch_over) == -EINVAL);
}

static int handler(ringo_req *req, void *udata)
{
    (void)req;
    (void)udata;
    return 0;
}

static int dep_fn(ringo_req *req, void **value, void *udata)
{
    (void)req;
    (void)udata;
    *value = NULL;
    return 0;
}

static void check_reserved(void)
{
    ringo_route_opts ro = {.deadline_ms = 100};
    ringo_dep_opts dop = {.mode = RINGO_SYNC};
    ringo_middleware mw = {0};
    ringo_group *g;
    ringo_dep *d;
    ringo_app *app;

    CHECK(ringo_app_new(&app, NULL) == 0);
    CHECK(ringo_group_new(&g, app, "/g", NULL) == 0);
    ringo_route_limits lim = {.reserved = {0, 0, 0, 1}};
    ro.limits = &lim;
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_SYNC, handler, NULL, &ro) == -EINVAL);
    CHECK(ringo_group_route(g, "GET", "/a", RINGO_SYNC, handler, NULL, &ro) == -EINVAL);
    lim = (ringo_route_limits){.flags = RINGO_LIMIT_ADAPTIVE}; /* no max_concurrency */
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_SYNC, handler, NULL, &ro) == -EINVAL);
    lim = (ringo_route_limits){.max_concurrency = 4};
    ro.flags = RINGO_ROUTE_CRITICAL; /* a critical route takes no limit */
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_SYNC, handler, NULL, &ro) == -EINVAL);
    ro.limits = NULL;
    ro.flags = RINGO_ROUTE_CRITICAL << 1; /* a flag this library does not know */
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_SYNC, handler, NULL, &ro) == -EINVAL);
    ro.flags = 0;
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_SYNC, handler, NULL, &ro) == 0);
    dop.reserved[0] = 1;
    CHECK(ringo_dep_new(&d, app, "d", dep_fn, NULL, &dop) == -EINVAL && d == NULL);
    dop.reserved[0] = 0;
    CHECK(ringo_dep_new(&d, app, "d", dep_fn, NULL, &dop) == 0 && d != NULL);
    mw.reserved[1] = 1;
    CHECK(ringo_app_add_middleware(app, &mw) == -EINVAL);
    mw.reserved[1] = 0;
    CHECK(ringo_app_add_middleware(app, &mw) == 0);
    /* Every constructor requires out. */
    CHECK(ringo_dep_new(NULL, app, "e", dep_fn, NULL, NULL) == -EINVAL);
    CHECK(ringo_group_new(NULL, app, "/h", NULL) == -EINVAL);
    ringo_app_free(app);
}

int main(void)
{
    check_sizes();
    check_newer_caller();
    check_init_older_caller();
    check_stats_older_caller();
    check_new_older_caller();
    check_ranges();
    check_reserved();
    printf("ok   config: sized init and stats stay in the caller's struct, ranges and "
           "reserved words checked\n");
    return 0;
}
