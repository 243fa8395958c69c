/*
 * http/openapi.c - the app's OpenAPI 3.1 document (ringo/openapi.h).
 *
 * The document is written once, at ringo_app_start(), when no route can be
 * added any more; it is then a fixed body that every ring serves by
 * reference. Writing it walks the routes in registration order: routes of
 * one path template share one Path Item, in the order their first route was
 * registered, so the document is the same from run to run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "http/http_impl.h"
#include "http/openapi_impl.h"
#include "http/static_impl.h"

/* OpenAPI 3.1's operations, by the HTTP method that names them (Path Item Object). */
static const char *const op_methods[] = {"GET",     "PUT",  "POST",  "DELETE",
                                         "OPTIONS", "HEAD", "PATCH", "TRACE"};

static void opts_free(struct ringo__openapi *oa)
{
    ringo__free(oa->title);
    ringo__free(oa->version);
    ringo__free(oa->summary);
    ringo__free(oa->description);
    ringo__free(oa->json_path);
    ringo__free(oa->docs_path);
    for (unsigned i = 0; i < oa->nservers; i++) {
        ringo__free((char *)oa->servers[i].url);
        ringo__free((char *)oa->servers[i].description);
    }
    ringo__free(oa->servers);
    for (unsigned i = 0; i < oa->ntags; i++) {
        ringo__free((char *)oa->tags[i].name);
        ringo__free((char *)oa->tags[i].description);
    }
    ringo__free(oa->tags);
}

void ringo__openapi_free(struct ringo_app *app)
{
    struct ringo__openapi *oa = app->openapi;

    if (!oa)
        return;
    opts_free(oa);
    ringo__free(oa->doc);
    ringo__free(oa->html);
    ringo__free(oa);
    app->openapi = NULL;
}

/* A copy of s, or of dflt when s is NULL; *bad set when out of memory. */
static char *dup_or(const char *s, const char *dflt, bool *bad)
{
    char *d;

    if (!s)
        s = dflt;
    if (!s)
        return NULL;
    d = ringo__strdup(s);
    *bad |= !d;
    return d;
}

static unsigned count_entries(const void *v, size_t size)
{
    const char *p = v;
    unsigned n = 0;

    while (p && *(const char *const *)(p + n * size))
        n++;
    return n;
}

static int copy_lists(struct ringo__openapi *oa, const ringo_openapi_opts *o)
{
    bool bad = false;

    oa->nservers = count_entries(o->servers, sizeof(*o->servers));
    oa->ntags = count_entries(o->tags, sizeof(*o->tags));
    oa->servers = oa->nservers ? ringo__calloc(oa->nservers, sizeof(*oa->servers)) : NULL;
    oa->tags = oa->ntags ? ringo__calloc(oa->ntags, sizeof(*oa->tags)) : NULL;
    if ((oa->nservers && !oa->servers) || (oa->ntags && !oa->tags)) {
        oa->nservers = oa->ntags = 0;
        return -ENOMEM;
    }
    for (unsigned i = 0; i < oa->nservers; i++) {
        oa->servers[i].url = dup_or(o->servers[i].url, NULL, &bad);
        oa->servers[i].description = dup_or(o->servers[i].description, NULL, &bad);
    }
    for (unsigned i = 0; i < oa->ntags; i++) {
        oa->tags[i].name = dup_or(o->tags[i].name, NULL, &bad);
        oa->tags[i].description = dup_or(o->tags[i].description, NULL, &bad);
    }
    return bad ? -ENOMEM : 0;
}

static int copy_opts(struct ringo__openapi *oa, const ringo_openapi_opts *o)
{
    bool bad = false;

    oa->title = dup_or(o->title, "ringo", &bad);
    oa->version = dup_or(o->version, "0.1.0", &bad);
    oa->summary = dup_or(o->summary, NULL, &bad);
    oa->description = dup_or(o->description, NULL, &bad);
    oa->json_path = dup_or(o->json_path, "/openapi.json", &bad);
    oa->docs_path = dup_or(o->docs_path, "/docs", &bad);
    return bad ? -ENOMEM : copy_lists(oa, o);
}

/* A path of ours: absolute, no parameter ("" disables it, checked by the caller). */
static bool path_valid(const char *p) { return !p || !*p || (p[0] == '/' && !strchr(p, '{')); }

static bool opts_valid(const ringo_openapi_opts *o)
{
    if (!RINGO__RESERVED_ZERO(o->reserved) || !path_valid(o->json_path) ||
        !path_valid(o->docs_path))
        return false;
    return !o->ui_dir || *o->ui_dir;
}

static int serve_json(ringo_req *req, void *udata)
{
    const struct ringo__openapi *oa = udata;

    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("application/json"));
    return ringo_resp_set_body_ref(req, oa->doc, oa->doc_len);
}

static int serve_docs(ringo_req *req, void *udata)
{
    const struct ringo__openapi *oa = udata;

    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/html; charset=utf-8"));
    return ringo_resp_set_body_ref(req, oa->html, oa->html_len);
}

/* The docs page's own files: Swagger UI from ui_dir, under docs_path + "/ui". */
static int mount_ui(ringo_app *app, const struct ringo__openapi *oa, const char *ui_dir)
{
    static const ringo_static_opts so = {.cache_control = "public, max-age=3600",
                                         .flags = RINGO_STATIC_NOSNIFF};
    size_t n = strlen(oa->docs_path) + sizeof("/ui");
    char *prefix = ringo__malloc(n);
    int ret;

    if (!prefix)
        return -ENOMEM;
    snprintf(prefix, n, "%s/ui", strcmp(oa->docs_path, "/") ? oa->docs_path : "");
    ret = ringo_static(app, prefix, ui_dir, &so);
    ringo__free(prefix);
    return ret;
}

static int register_routes(ringo_app *app, struct ringo__openapi *oa, const char *ui_dir)
{
    int ret;

    if (!*oa->json_path)
        return 0;
    ret = ringo_route(app, "GET", oa->json_path, RINGO_ASYNC, serve_json, oa);
    if (ret == 0 && *oa->docs_path)
        ret = ringo_route(app, "GET", oa->docs_path, RINGO_ASYNC, serve_docs, oa);
    if (ret == 0 && *oa->docs_path && ui_dir)
        ret = mount_ui(app, oa, ui_dir);
    return ret;
}

int ringo_app_openapi(ringo_app *app, const ringo_openapi_opts *opts)
{
    static const ringo_openapi_opts none;
    const ringo_openapi_opts *o = opts ? opts : &none;
    struct ringo__openapi *oa;
    int ret;

    if (!app)
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    if (app->openapi)
        return -EALREADY;
    if (!opts_valid(o))
        return -EINVAL;
    oa = ringo__calloc(1, sizeof(*oa));
    if (!oa)
        return -ENOMEM;
    app->openapi = oa;
    ret = copy_opts(oa, o);
    if (ret == 0)
        ret = ringo__openapi_html(oa, o->ui_dir != NULL);
    if (ret == 0)
        ret = register_routes(app, oa, o->ui_dir);
    /* A route registered before a failure points at oa: it stays, unused, with the app. */
    if (ret < 0)
        oa->failed = true;
    return ret;
}

const char *ringo_app_openapi_json(const ringo_app *app, size_t *len)
{
    const struct ringo__openapi *oa = app ? app->openapi : NULL;

    if (len)
        *len = oa && oa->doc ? oa->doc_len : 0;
    return oa ? oa->doc : NULL;
}

bool ringo__openapi_security_valid(const ringo_security *s)
{
    if (!s->name || !*s->name || !RINGO__RESERVED_ZERO(s->reserved))
        return false;
    if (s->kind == RINGO_SECURITY_API_KEY)
        return s->key_name && *s->key_name &&
               (s->in == RINGO_LOC_HEADER || s->in == RINGO_LOC_QUERY || s->in == RINGO_LOC_COOKIE);
    return s->kind == RINGO_SECURITY_BEARER || s->kind == RINGO_SECURITY_BASIC;
}

/* ---- writing the document ---- */

void ringo__openapi_complain(const ringo__gen *g, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (ringo__server_config(&g->app->srv)->quiet)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ringo: OpenAPI: %s%s%s\n", g->route ? g->route->label : "",
            g->route ? ": " : "", msg);
}

/* The route is not part of the API the document describes. */
static bool route_hidden(const ringo__route *r)
{
    return r->fn == serve_json || r->fn == serve_docs || r->ws || r->probe ||
           ringo__static_route(r->fn) || ringo__openapi_op_method(r->method) == NULL ||
           (r->opts.spec && (r->opts.spec->flags & RINGO_SPEC_HIDDEN));
}

/* The index of method in op_methods, or -1. */
int ringo__openapi_op_index(const char *method)
{
    for (int i = 0; i < (int)(sizeof(op_methods) / sizeof(op_methods[0])); i++)
        if (strcmp(method, op_methods[i]) == 0)
            return i;
    return -1;
}

const char *ringo__openapi_op_method(const char *method)
{
    static const char *const lower[] = {"get",     "put",  "post",  "delete",
                                        "options", "head", "patch", "trace"};
    int i = ringo__openapi_op_index(method);

    return i < 0 ? NULL : lower[i];
}

/*
 * The OpenAPI path template of a ringo pattern is the pattern without the
 * "..." of a final catch-all: "{rest...}" becomes "{rest}" (OpenAPI has no
 * catch-all; the parameter's description says it may hold '/'). Its length:
 */
static size_t template_len(const char *pattern)
{
    size_t n = strlen(pattern);

    return n > 4 && strcmp(pattern + n - 4, "...}") == 0 ? n - 3 : n;
}

static int path_key(ringo_json_w *w, const char *pattern)
{
    size_t n = template_len(pattern);
    char *t;

    if (n == strlen(pattern)) {
        ringo_json_keyn(w, pattern, n);
        return 0;
    }
    t = ringo__malloc(n);
    if (!t)
        return -ENOMEM;
    memcpy(t, pattern, n - 1);
    t[n - 1] = '}';
    ringo_json_keyn(w, t, n);
    ringo__free(t);
    return 0;
}

/* Two patterns have the same OpenAPI path ("/f/{p...}" and "/f/{p}" do). */
static bool same_path(const char *a, const char *b)
{
    size_t n = template_len(a);

    /* The templates' last byte is '}' wherever the patterns have "...}". */
    return n == template_len(b) && memcmp(a, b, n - 1) == 0 &&
           (a[n - 1] == b[n - 1] || (a[n - 1] == '.' && b[n - 1] == '}') ||
            (a[n - 1] == '}' && b[n - 1] == '.'));
}

static void write_info(ringo_json_w *w, const struct ringo__openapi *oa)
{
    ringo_json_key(w, "info");
    ringo_json_obj(w);
    ringo_json_key(w, "title");
    ringo_json_cstr(w, oa->title);
    if (oa->summary) {
        ringo_json_key(w, "summary");
        ringo_json_cstr(w, oa->summary);
    }
    if (oa->description) {
        ringo_json_key(w, "description");
        ringo_json_cstr(w, oa->description);
    }
    ringo_json_key(w, "version");
    ringo_json_cstr(w, oa->version);
    ringo_json_end(w);
}

static void write_servers(ringo_json_w *w, const struct ringo__openapi *oa)
{
    if (!oa->nservers)
        return;
    ringo_json_key(w, "servers");
    ringo_json_arr(w);
    for (unsigned i = 0; i < oa->nservers; i++) {
        ringo_json_obj(w);
        ringo_json_key(w, "url");
        ringo_json_cstr(w, oa->servers[i].url);
        if (oa->servers[i].description) {
            ringo_json_key(w, "description");
            ringo_json_cstr(w, oa->servers[i].description);
        }
        ringo_json_end(w);
    }
    ringo_json_end(w);
}

static void write_tags(ringo_json_w *w, const struct ringo__openapi *oa)
{
    if (!oa->ntags)
        return;
    ringo_json_key(w, "tags");
    ringo_json_arr(w);
    for (unsigned i = 0; i < oa->ntags; i++) {
        ringo_json_obj(w);
        ringo_json_key(w, "name");
        ringo_json_cstr(w, oa->tags[i].name);
        if (oa->tags[i].description) {
            ringo_json_key(w, "description");
            ringo_json_cstr(w, oa->tags[i].description);
        }
        ringo_json_end(w);
    }
    ringo_json_end(w);
}

/* Writes the Path Item of every route whose path is routes[first]'s. */
static int write_path_item(ringo__gen *g, unsigned first)
{
    ringo_app *app = g->app;
    unsigned done = 0; /* bit i: op_methods[i] is written */
    int ret = path_key(g->w, app->routes[first]->pattern);

    if (ret < 0)
        return ret;
    ringo_json_obj(g->w);
    for (unsigned i = first; i < app->nroutes; i++) {
        const ringo__route *r = app->routes[i];
        unsigned bit;

        if (route_hidden(r) || !same_path(r->pattern, app->routes[first]->pattern))
            continue;
        /* "/f/{p}" and "/f/{p...}" both with GET: one operation can be listed. */
        bit = 1u << ringo__openapi_op_index(r->method);
        if (done & bit) {
            g->route = r;
            ringo__openapi_complain(g, "left out: its path is another route's in OpenAPI");
            continue;
        }
        done |= bit;
        ringo_json_key(g->w, ringo__openapi_op_method(r->method));
        ret = ringo__openapi_operation(g, r);
        if (ret < 0)
            return ret;
    }
    ringo_json_end(g->w);
    return 0;
}

static int write_paths(ringo__gen *g)
{
    ringo_app *app = g->app;

    ringo_json_key(g->w, "paths");
    ringo_json_obj(g->w);
    for (unsigned i = 0; i < app->nroutes; i++) {
        bool seen = false;
        int ret;

        if (route_hidden(app->routes[i]))
            continue;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = !route_hidden(app->routes[j]) &&
                   same_path(app->routes[j]->pattern, app->routes[i]->pattern);
        if (seen)
            continue;
        ret = write_path_item(g, i);
        if (ret < 0)
            return ret;
    }
    ringo_json_end(g->w);
    return 0;
}

int ringo__openapi_build(ringo_app *app)
{
    struct ringo__openapi *oa = app->openapi;
    ringo__gen g = {.app = app, .oa = oa};
    ringo_json_w w;
    char *doc;
    size_t len;
    int ret;

    if (!oa || oa->doc || oa->failed)
        return 0;
    ringo_json_begin_malloc(&w);
    g.w = &w;
    ringo_json_obj(&w);
    ringo_json_key(&w, "openapi");
    ringo_json_cstr(&w, "3.1.0");
    write_info(&w, oa);
    write_servers(&w, oa);
    ret = write_paths(&g);
    if (ret == 0)
        ret = ringo__openapi_components(&g);
    write_tags(&w, oa);
    ringo_json_end(&w);
    if (ret < 0) {
        ringo_json_discard(&w);
        ringo__openapi_gen_free(&g);
        return ret;
    }
    ret = ringo_json_finish(&w, &doc, &len);
    ringo__openapi_gen_free(&g);
    if (ret < 0) {
        ringo_json_discard(&w);
        return ret;
    }
    oa->doc = doc;
    oa->doc_len = len;
    return 0;
}
