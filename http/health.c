/*
 * http/health.c - the readiness and liveness routes (ringo/health.h).
 *
 * Both are RINGO_ASYNC handlers that only read counters other threads keep
 * (the stop flag, the pool's queue length, the rings' watchdog stamps):
 * they answer on the ring that received the probe, in the time a static
 * string takes, even when the pool is saturated.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/http_impl.h"

static int answer(ringo_req *req, int status, const char *text, int len)
{
    static const ringo_str no_store = {"no-store", 8};
    int ret = ringo_resp_add_header(req, "Cache-Control", no_store);

    return ret < 0 ? ret : ringo_respond(req, status, "text/plain", text, (size_t)len);
}

static uint32_t ready_limit(const ringo_config *cfg)
{
    if (cfg->ready_max_queue)
        return cfg->ready_max_queue;
    return cfg->max_pool_queue ? cfg->max_pool_queue : RINGO__POOL_DEFAULT_MAX_QUEUED;
}

static int readiness(ringo_req *req, void *udata)
{
    ringo_app *app = udata;
    const ringo_config *cfg = ringo__server_config(&app->srv);
    uint32_t limit = ready_limit(cfg);
    ringo__pool_stats st;
    char text[96];

    if (ringo__server_stopping(&app->srv))
        return answer(req, 503, "stopping\n", 9);
    ringo__pool_stats_get(app->pool, &st);
    if (st.queued >= limit)
        return answer(req, 503, text,
                      snprintf(text, sizeof(text),
                               "pool queue saturated: %llu sync jobs wait (limit %u)\n",
                               (unsigned long long)st.queued, limit));
    return answer(req, 200, "ready\n", 6);
}

static int liveness(ringo_req *req, void *udata)
{
    ringo_app *app = udata;
    uint32_t limit = ringo__server_config(&app->srv)->live_stall_ms;
    const char *label = NULL;
    uint64_t held = 0;
    char text[320];
    int ring = limit ? ringo__server_stalled(&app->srv, limit, &label, &held) : -1;

    if (ring < 0)
        return answer(req, 200, "live\n", 5);
    return answer(req, 503, text,
                  snprintf(text, sizeof(text),
                           "ring %d stalled: handler '%.200s' has held it for %llu ms "
                           "(limit %u ms)\n",
                           ring, label, (unsigned long long)held, limit));
}

static int add_probe(ringo_app *app, const char *path, ringo_handler_fn fn)
{
    int ret;

    if (!app || !path || path[0] != '/')
        return -EINVAL;
    /* Critical: no admission bound (ring, route, pool) ever refuses a probe. */
    ret = ringo_route_ex(app, "GET", path, RINGO_ASYNC, fn, app,
                         &(ringo_route_opts){.flags = RINGO_ROUTE_CRITICAL});
    if (ret == 0)
        app->routes[app->nroutes - 1]->probe = true;
    return ret;
}

int ringo_app_readiness(ringo_app *app, const char *path)
{
    return add_probe(app, path, readiness);
}

int ringo_app_liveness(ringo_app *app, const char *path) { return add_probe(app, path, liveness); }
