/*
 * http/deps.c - dependency registration and graph resolution, failures,
 * background tasks, middleware, error handlers and lifespan hooks.
 *
 * Resolution happens once, in ringo_app_start(): names become pointers, a
 * depth-first walk from each route's needs (app, group, route) yields the
 * route's plan, dependencies before their dependants, each cached one once.
 * A name nobody registered or a cycle fails the start with a message.
 */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/http_impl.h"
#include "http/openapi_impl.h"

/* ringo_dep_opts keeps its 1.0 size: options take the place of reserved words. */
_Static_assert(sizeof(ringo_dep_opts) == offsetof(ringo_dep_opts, no_cache) + 8 + 4 * 8,
               "ringo_dep_opts must keep its size");

/* ---- name lists ---- */

static void free_names(char **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ringo__free(v[i]);
    ringo__free(v);
}

/* Copies a NULL-terminated list of names. Returns 0 or -ENOMEM. */
static int copy_names(const char *const *in, char ***out, unsigned *n)
{
    unsigned k = 0;

    *out = NULL;
    *n = 0;
    while (in && in[k])
        k++;
    if (!k)
        return 0;
    *out = ringo__calloc(k, sizeof(char *));
    if (!*out)
        return -ENOMEM;
    for (unsigned i = 0; i < k; i++) {
        (*out)[i] = ringo__strdup(in[i]);
        if (!(*out)[i]) {
            free_names(*out, i);
            *out = NULL;
            return -ENOMEM;
        }
    }
    *n = k;
    return 0;
}

static struct ringo_dep *find_dep(ringo_app *app, const char *name)
{
    for (unsigned i = 0; i < app->ndeps; i++)
        if (!strcmp(app->deps[i]->name, name))
            return app->deps[i];
    return NULL;
}

/* ---- registration ---- */

static void dep_free(struct ringo_dep *d)
{
    ringo__free(d->name);
    ringo__free(d->type);
    free_names(d->needs, d->nneeds);
    ringo__free(d->deps);
    ringo__free(d);
}

int ringo_dep_new(ringo_dep **out, ringo_app *app, const char *name, ringo_dep_fn fn, void *udata,
                  const ringo_dep_opts *opts)
{
    struct ringo_dep *d;

    if (out)
        *out = NULL;
    if (!out || !app || !name || !fn || (opts && !RINGO__RESERVED_ZERO(opts->reserved)) ||
        (opts && opts->security && !ringo__openapi_security_valid(opts->security)))
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    if (find_dep(app, name))
        return -EEXIST;
    if (app->ndeps == app->deps_cap) {
        unsigned cap = app->deps_cap ? app->deps_cap * 2 : 8;
        struct ringo_dep **v = ringo__realloc(app->deps, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        app->deps = v;
        app->deps_cap = cap;
    }
    d = ringo__calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->name = ringo__strdup(name);
    d->fn = fn;
    d->udata = udata;
    if (opts) {
        d->mode = opts->mode;
        d->teardown = opts->teardown;
        d->no_cache = opts->no_cache;
        d->security = opts->security;
        d->type = opts->type ? ringo__strdup(opts->type) : NULL;
    }
    if (!d->name || (opts && opts->type && !d->type) ||
        copy_names(opts ? opts->needs : NULL, &d->needs, &d->nneeds) < 0) {
        dep_free(d);
        return -ENOMEM;
    }
    d->index = app->ndeps;
    app->deps[app->ndeps++] = d;
    if (out)
        *out = d;
    return 0;
}

int ringo_app_needs(ringo_app *app, const char *const *names)
{
    char **v;
    unsigned n;

    if (app->started)
        return -EBUSY;
    if (copy_names(names, &v, &n) < 0)
        return -ENOMEM;
    free_names(app->needs, app->nneeds);
    app->needs = v;
    app->nneeds = n;
    return 0;
}

int ringo_group_new(ringo_group **out, ringo_app *app, const char *prefix, const char *const *needs)
{
    struct ringo_group *g, **v;

    if (out)
        *out = NULL;
    if (!out || !app || !prefix || prefix[0] != '/')
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    v = ringo__realloc(app->groups, (app->ngroups + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    app->groups = v;
    g = ringo__calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->app = app;
    g->prefix = ringo__strdup(prefix);
    if (!g->prefix || copy_names(needs, &g->needs, &g->nneeds) < 0) {
        ringo__free(g->prefix);
        ringo__free(g);
        return -ENOMEM;
    }
    app->groups[app->ngroups++] = g;
    *out = g;
    return 0;
}

int ringo_group_route(ringo_group *g, const char *method, const char *pattern, ringo_mode mode,
                      ringo_handler_fn fn, void *udata, const ringo_route_opts *opts)
{
    size_t lp = strlen(g->prefix), ln = pattern ? strlen(pattern) : 0;
    char *full;
    int ret;

    if (!pattern || pattern[0] != '/')
        return -EINVAL;
    full = ringo__malloc(lp + ln + 1);
    if (!full)
        return -ENOMEM;
    /* "/admin" + "/users" -> "/admin/users"; a trailing '/' on the prefix is dropped. */
    memcpy(full, g->prefix, lp);
    if (lp && full[lp - 1] == '/')
        lp--;
    memcpy(full + lp, pattern, ln + 1);
    ret = ringo__route_add(g->app, method, full, mode, fn, udata, opts, g);
    ringo__free(full);
    return ret;
}

int ringo_app_add_middleware(ringo_app *app, const ringo_middleware *mw)
{
    ringo_middleware *v;

    if (!mw || !RINGO__RESERVED_ZERO(mw->reserved))
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    v = ringo__realloc(app->mws, (app->nmws + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    app->mws = v;
    app->mws[app->nmws++] = *mw;
    return 0;
}

int ringo_app_set_error_handler(ringo_app *app, int status, ringo_error_handler_fn fn, void *udata)
{
    ringo__err_handler *v;

    if (app->started)
        return -EBUSY;
    if (!fn || status < 0 || status > 999)
        return -EINVAL;
    v = ringo__realloc(app->errh, (app->nerrh + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    app->errh = v;
    app->errh[app->nerrh++] = (ringo__err_handler){status, fn, udata};
    return 0;
}

static int add_hook(ringo__hook **v, unsigned *n, const char *name, ringo_lifespan_fn fn,
                    void *udata)
{
    ringo__hook *nv = ringo__realloc(*v, (*n + 1) * sizeof(**v));
    char *copy = ringo__strdup(name ? name : "hook");

    if (nv)
        *v = nv;
    if (!nv || !copy) {
        ringo__free(copy);
        return -ENOMEM;
    }
    (*v)[(*n)++] = (ringo__hook){copy, fn, udata};
    return 0;
}

int ringo_app_on_startup(ringo_app *app, const char *name, ringo_lifespan_fn fn, void *udata)
{
    if (app->started)
        return -EBUSY;
    return fn ? add_hook(&app->startup, &app->nstartup, name, fn, udata) : -EINVAL;
}

int ringo_app_on_shutdown(ringo_app *app, const char *name, ringo_lifespan_fn fn, void *udata)
{
    if (app->started)
        return -EBUSY;
    return fn ? add_hook(&app->shutdown, &app->nshutdown, name, fn, udata) : -EINVAL;
}

int ringo_app_on_reload(ringo_app *app, const char *name, ringo_lifespan_fn fn, void *udata)
{
    if (app->started)
        return -EBUSY;
    return fn ? add_hook(&app->reload, &app->nreload, name, fn, udata) : -EINVAL;
}

/* ---- resolution ---- */

/* Depth-first: what d needs first, then d. Cached dependencies appear once. */
static int visit(ringo_app *app, struct ringo_dep *d, ringo__route *rt, struct ringo_dep **plan,
                 unsigned cap, bool quiet)
{
    if (d->mark == 1) {
        if (!quiet)
            fprintf(stderr, "ringo: dependency cycle through '%s' (route %s)\n", d->name,
                    rt->label);
        return -ELOOP;
    }
    if (d->mark == 2 && !d->no_cache)
        return 0;
    d->mark = 1;
    for (unsigned i = 0; i < d->nneeds; i++) {
        int ret = visit(app, d->deps[i], rt, plan, cap, quiet);
        if (ret < 0)
            return ret;
    }
    d->mark = 2;
    if (rt->nplan >= cap)
        return -E2BIG;
    plan[rt->nplan++] = d;
    return 0;
}

static int find_cycle(ringo_app *app, struct ringo_dep *d)
{
    if (d->mark == 1) {
        if (!ringo__server_config(&app->srv)->quiet)
            fprintf(stderr, "ringo: dependency cycle through '%s'\n", d->name);
        return -ELOOP;
    }
    if (d->mark == 2)
        return 0;
    d->mark = 1;
    for (unsigned i = 0; i < d->nneeds; i++) {
        int ret = find_cycle(app, d->deps[i]);
        if (ret < 0)
            return ret;
    }
    d->mark = 2;
    return 0;
}

static int link_names(ringo_app *app, char **names, unsigned n, struct ringo_dep **out,
                      const char *who, bool quiet)
{
    for (unsigned i = 0; i < n; i++) {
        out[i] = find_dep(app, names[i]);
        if (!out[i]) {
            if (!quiet)
                fprintf(stderr, "ringo: %s needs unknown dependency '%s'\n", who, names[i]);
            return -ENOENT;
        }
    }
    return 0;
}

static int plan_route(ringo_app *app, ringo__route *rt, unsigned cap)
{
    bool quiet = ringo__server_config(&app->srv)->quiet;
    /* Probes answer whatever the app needs elsewhere (ringo/health.h). */
    char **lists[3] = {rt->probe ? NULL : app->needs, rt->group ? rt->group->needs : NULL,
                       rt->needs};
    unsigned ns[3] = {rt->probe ? 0 : app->nneeds, rt->group ? rt->group->nneeds : 0, rt->nneeds};
    struct ringo_dep *d;
    int ret;

    rt->plan = ringo__calloc(cap ? cap : 1, sizeof(*rt->plan));
    if (!rt->plan)
        return -ENOMEM;
    for (unsigned i = 0; i < app->ndeps; i++)
        app->deps[i]->mark = 0;
    for (unsigned l = 0; l < 3; l++) {
        for (unsigned i = 0; i < ns[l]; i++) {
            if (link_names(app, &lists[l][i], 1, &d, rt->label, quiet) < 0)
                return -ENOENT;
            ret = visit(app, d, rt, rt->plan, cap, quiet);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

int ringo__deps_resolve(ringo_app *app)
{
    unsigned cap = 0;
    int ret;

    for (unsigned i = 0; i < app->ndeps; i++) {
        struct ringo_dep *d = app->deps[i];
        ringo__free(d->deps);
        d->deps = ringo__calloc(d->nneeds ? d->nneeds : 1, sizeof(*d->deps));
        if (!d->deps)
            return -ENOMEM;
        ret = link_names(app, d->needs, d->nneeds, d->deps, d->name,
                         ringo__server_config(&app->srv)->quiet);
        if (ret < 0)
            return ret;
        cap += 1 + d->nneeds; /* bounds the plan, no_cache repeats included */
    }
    /* A cycle fails the start even when no route reaches it yet. */
    for (unsigned i = 0; i < app->ndeps; i++)
        app->deps[i]->mark = 0;
    for (unsigned i = 0; i < app->ndeps; i++) {
        ret = find_cycle(app, app->deps[i]);
        if (ret < 0)
            return ret;
    }
    for (unsigned i = 0; i < app->nroutes; i++) {
        ringo__route *rt = app->routes[i];
        ringo__free(rt->plan);
        rt->plan = NULL;
        rt->nplan = 0;
        ret = plan_route(app, rt, cap * 4);
        if (ret < 0)
            return ret;
    }
    return 0;
}

void ringo__deps_free(ringo_app *app)
{
    for (unsigned i = 0; i < app->ndeps; i++)
        dep_free(app->deps[i]);
    ringo__free(app->deps);
    free_names(app->needs, app->nneeds);
    for (unsigned i = 0; i < app->ngroups; i++) {
        ringo__free(app->groups[i]->prefix);
        free_names(app->groups[i]->needs, app->groups[i]->nneeds);
        ringo__free(app->groups[i]);
    }
    ringo__free(app->groups);
    ringo__free(app->mws);
    ringo__free(app->errh);
    for (unsigned i = 0; i < app->nstartup; i++)
        ringo__free(app->startup[i].name);
    for (unsigned i = 0; i < app->nshutdown; i++)
        ringo__free(app->shutdown[i].name);
    for (unsigned i = 0; i < app->nreload; i++)
        ringo__free(app->reload[i].name);
    ringo__free(app->startup);
    ringo__free(app->shutdown);
    ringo__free(app->reload);
}

/* ---- per request ---- */

void *ringo_dep_value(ringo_req *req, const ringo_dep *dep, const char *type)
{
    if (!req->x || !req->x->values || !dep)
        return NULL;
    if (type && (!dep->type || strcmp(type, dep->type) != 0)) {
        fprintf(stderr, "ringo: dependency '%s' holds '%s', read as '%s'\n", dep->name,
                dep->type ? dep->type : "(untyped)", type);
        return NULL;
    }
    return req->x->values[dep->index];
}

void **ringo_req_state(ringo_req *req)
{
    ringo__exec *x = ringo__exec_of(req);

    return x ? &x->state : NULL;
}

/* {"detail":"..."} with JSON escaping, into the request arena. */
static int json_detail(ringo_req *req, const char *detail)
{
    size_t n = strlen(detail), len = 0;
    char *b = ringo_req_alloc(req, n * 6 + 16);

    if (!b)
        return -ENOMEM;
    len += (size_t)sprintf(b, "{\"detail\":\"");
    for (const char *p = detail; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\')
            b[len++] = '\\', b[len++] = (char)ch;
        else if (ch < 0x20)
            len += (size_t)sprintf(b + len, "\\u%04x", ch);
        else
            b[len++] = (char)ch;
    }
    len += (size_t)sprintf(b + len, "\"}");
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("application/json"));
    return ringo_resp_set_body_ref(req, b, len);
}

int ringo_fail(ringo_req *req, int status, const char *detail)
{
    if (status < 400 || status > 599)
        status = 500;
    req->status = status;
    ringo__req_ringo_error(req);
    req->detail = detail ? ringo__arena_dup(&req->arena, detail, strlen(detail)) : NULL;
    json_detail(req, detail ? detail : ringo__status_reason(status));
    return RINGO_EHTTP;
}

/* Takes one of the app's max_post_inflight slots; ringo__bg_finished() gives it back. */
static int bg_reserve(ringo_app *app)
{
    uint32_t n = atomic_fetch_add_explicit(&app->bg_live, 1, memory_order_relaxed);

    if (n < ringo__server_config(&app->srv)->max_post_inflight)
        return 0;
    atomic_fetch_sub_explicit(&app->bg_live, 1, memory_order_relaxed);
    return -EAGAIN;
}

void ringo__bg_finished(ringo_app *app, unsigned n, bool dropped)
{
    atomic_fetch_sub_explicit(&app->bg_live, n, memory_order_relaxed);
    if (dropped)
        atomic_fetch_add_explicit(&app->bg_dropped, n, memory_order_relaxed);
}

int ringo_background(ringo_req *req, ringo_mode mode, ringo_background_fn fn, void *arg)
{
    ringo_app *app = ((ringo__sess *)ringo__conn_state(req->conn))->app;
    ringo__exec *x = ringo__exec_of(req);
    ringo__bg *b = x ? ringo_req_alloc(req, sizeof(*b)) : NULL;

    if (!b || !fn)
        return b ? -EINVAL : -ENOMEM;
    /* Post-response work scheduling more: bounded per request, or it could run forever. */
    if (x->posting && x->chained >= RINGO_BACKGROUND_MAX_CHAINED)
        return -ELOOP;
    if (bg_reserve(app) < 0)
        return -EAGAIN;
    x->chained += x->posting;
    *b = (ringo__bg){fn, arg, mode, NULL};
    if (x->bg_tail)
        x->bg_tail->next = b;
    else
        x->bg_head = b;
    x->bg_tail = b;
    return 0;
}

void ringo__shape_error(ringo_req *r)
{
    ringo_app *app = ((ringo__sess *)ringo__conn_state(r->conn))->app;
    const ringo__err_handler *h = NULL;
    const char *detail;

    for (unsigned i = 0; i < app->nerrh; i++) {
        if (app->errh[i].status == r->status)
            h = &app->errh[i];
        else if (app->errh[i].status == 0 && !h)
            h = &app->errh[i];
    }
    if (!h)
        return;
    /* The handler shapes the body: ringo's own body and its Content-Type go. */
    for (uint32_t i = 0; i < r->nrhdrs;) {
        if (r->rhdrs[i].name.len == 12 &&
            ringo__ascii_iequal(r->rhdrs[i].name.ptr, "content-type", 12))
            r->rhdrs[i] = r->rhdrs[--r->nrhdrs];
        else
            i++;
    }
    r->rbody = NULL;
    r->rbody_len = 0;
    detail = r->detail ? r->detail : ringo__status_reason(r->status);
    h->fn(r, r->status, detail, h->udata);
}

/* ---- lifespan ---- */

int ringo__lifespan_startup(ringo_app *app)
{
    for (app->started_hooks = 0; app->started_hooks < app->nstartup; app->started_hooks++) {
        ringo__hook *h = &app->startup[app->started_hooks];
        int ret = h->fn(app, h->udata);
        if (ret < 0) {
            if (!ringo__server_config(&app->srv)->quiet)
                fprintf(stderr, "ringo: startup hook '%s' failed: %s\n", h->name,
                        ringo_strerror(ret));
            return ret;
        }
    }
    return 0;
}

void ringo__lifespan_shutdown(ringo_app *app)
{
    /* Shutdown hooks run in reverse registration order. */
    for (unsigned i = app->nshutdown; i-- > 0;) {
        ringo__hook *h = &app->shutdown[i];
        int ret = h->fn(app, h->udata);
        if (ret < 0 && !ringo__server_config(&app->srv)->quiet)
            fprintf(stderr, "ringo: shutdown hook '%s' failed: %s\n", h->name, ringo_strerror(ret));
    }
    app->started_hooks = 0;
}

void ringo__lifespan_reload(ringo_app *app)
{
    for (unsigned i = 0; i < app->nreload; i++) {
        ringo__hook *h = &app->reload[i];
        int ret = h->fn(app, h->udata);
        if (ret < 0 && !ringo__server_config(&app->srv)->quiet)
            fprintf(stderr, "ringo: reload hook '%s' failed: %s\n", h->name, ringo_strerror(ret));
    }
}
