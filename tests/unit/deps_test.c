/*
 * Description: dependencies, middleware and error handlers (http/deps.c,
 * http/exec.c) on the in-memory core of fake_core.h, with async steps that
 * never suspend, each logging what ran: the plan runs the app's, the
 * group's and the route's needs in dependency order, each dependency once
 * per request (no_cache: once per dependant); teardowns run after the
 * response in reverse order, only for what ran; ringo_fail() in a
 * dependency or a before() short-circuits with its status, detail and the
 * headers set before, and returns RINGO_EHTTP; RINGO_EVALIDATION answers
 * 422, another negative value 500 (RINGO_EVALIDATION with nothing recorded
 * and RINGO_EHTTP without ringo_fail() too; an error status the handler
 * set stays, unshaped); without error handlers ringo_fail() answers
 * {"detail": ...} as JSON; befores run in order, afters in reverse
 * and only for befores that ran; RINGO_RESPOND answers alone; error
 * handlers run after the afters and shape 401/403/404/405/409/422/500 (one for 404, a catch-all);
 * an unknown dependency or a cycle fails ringo_app_start() (-ENOENT,
 * -ELOOP). app_test covers the same machinery through real sockets; this
 * test pins the exact order of every step.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"

static ringo_app *app;
static ringo_dep *dep_db, *dep_user, *dep_fresh;
static char journal[1024];
static int fresh_count;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    size_t n = strlen(journal);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(journal + n, sizeof(journal) - n, fmt, ap);
    va_end(ap);
}

/* True when the request has header X-Fail (or X-Short) naming who. */
static bool asked(ringo_req *req, const char *header, const char *who)
{
    ringo_str v;

    return ringo_req_header(req, header, &v) == 0 && v.len == strlen(who) &&
           !memcmp(v.ptr, who, v.len);
}

/* ---- dependencies: udata is the name; the value is the name too ---- */

static int dep(ringo_req *req, void **value, void *ud)
{
    const char *name = ud;

    note("%s ", name);
    if (asked(req, "X-Fail", name)) {
        CHECK(ringo_resp_add_header(req, "WWW-Authenticate", RINGO_STR_LIT("Bearer")) == 0);
        int ret = ringo_fail(req, 401, name);
        CHECK(ret == RINGO_EHTTP);
        return ret;
    }
    if (asked(req, "X-Error", name))
        return -EIO;
    *value = ud;
    return 0;
}

static int fresh(ringo_req *req, void **value, void *ud)
{
    (void)req;
    (void)ud;
    note("fresh%d ", ++fresh_count);
    *value = (void *)(intptr_t)fresh_count;
    return 0;
}

static int valid(ringo_req *req, void **value, void *ud)
{
    int64_t n;

    (void)ud;
    note("valid ");
    *value = "valid";
    return ringo_param_int(req, RINGO_LOC_QUERY, "n", 0, 9, NULL, &n);
}

static void teardown(ringo_req *req, void *value, void *ud)
{
    (void)req;
    if (ud == (void *)fresh)
        note("~fresh%d ", (int)(intptr_t)value);
    else
        note("~%s ", (const char *)value);
}

/* ---- middleware: udata is its name ---- */

static int before(ringo_req *req, void *ud)
{
    const char *name = ud;

    note("%s< ", name);
    if (asked(req, "X-Short", name)) {
        CHECK(ringo_respond(req, 202, "text/plain", "short", 5) == 0);
        return RINGO_RESPOND;
    }
    if (asked(req, "X-Fail", name))
        return ringo_fail(req, 403, name);
    return 0;
}

static void after(ringo_req *req, void *ud)
{
    note(">%s:%d ", (const char *)ud, ringo_resp_get_status(req));
}

/* ---- handler and error handler ---- */

static int handler(ringo_req *req, void *ud)
{
    (void)ud;
    note("handler ");
    CHECK(ringo_dep_value(req, dep_db, "char") != NULL);
    if (asked(req, "X-Type", "int")) /* the wrong type: NULL (and a log line) */
        CHECK(ringo_dep_value(req, dep_db, "int") == NULL);
    if (ringo_dep_value(req, dep_user, "char"))
        note("(user) ");
    if (asked(req, "X-Fail", "handler"))
        return ringo_fail(req, 409, NULL);
    if (asked(req, "X-Ret", "validation")) /* nothing recorded: a plain failure */
        return RINGO_EVALIDATION;
    if (asked(req, "X-Ret", "ehttp")) /* without ringo_fail(): a plain failure */
        return RINGO_EHTTP;
    if (asked(req, "X-Ret", "teapot")) { /* an error status set before failing stays */
        CHECK(ringo_respond(req, 418, "text/plain", "tea", 3) == 0);
        return -EIO;
    }
    if (asked(req, "X-Error", "handler")) {
        CHECK(ringo_respond(req, 201, "text/plain", "lost", 4) == 0);
        return -EIO;
    }
    return ringo_respond(req, 200, "text/plain", "ok", 2);
}

static void shape(ringo_req *req, int status, const char *detail, void *ud)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%s %d %s", (const char *)ud, status, detail);

    note("shape%d ", status);
    CHECK(ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/x-shaped")) == 0);
    CHECK(ringo_resp_set_body(req, body, (size_t)n) == 0);
}

static void add_dep(ringo_dep **out, const char *name, ringo_dep_fn fn, const char *const *needs,
                    int no_cache)
{
    ringo_dep_opts o = {.mode = RINGO_ASYNC,
                        .needs = needs,
                        .teardown = teardown,
                        .type = "char",
                        .no_cache = no_cache};
    ringo_dep *d;

    CHECK(ringo_dep_new(&d, app, name, fn, fn == fresh ? (void *)fresh : (void *)name, &o) == 0);
    if (out)
        *out = d;
}

static void start(void)
{
    static const char *const needs_db[] = {"db", NULL};
    static const char *const needs_user_db[] = {"user", "db", NULL};
    static const char *const needs_fresh[] = {"fresh", NULL};
    static const char *const route_perm[] = {"perm", NULL};
    static const char *const route_ab[] = {"a", "b", "user", NULL};
    static const char *const route_valid[] = {"valid", NULL};
    static const char *const group_needs[] = {"user", NULL};
    ringo_group *g;

    app = fake_app_new(NULL);
    add_dep(&dep_db, "db", dep, NULL, 0);
    add_dep(&dep_user, "user", dep, needs_db, 0);
    add_dep(NULL, "perm", dep, needs_user_db, 0);
    add_dep(&dep_fresh, "fresh", fresh, needs_db, 1);
    add_dep(NULL, "a", dep, needs_fresh, 0);
    add_dep(NULL, "b", dep, needs_fresh, 0);
    add_dep(NULL, "valid", valid, NULL, 0);
    CHECK(ringo_app_needs(app, needs_db) == 0);
    CHECK(ringo_route(app, "GET", "/plain", RINGO_ASYNC, handler, NULL) == 0);
    CHECK(ringo_route_ex(app, "GET", "/perm", RINGO_ASYNC, handler, NULL,
                         &(ringo_route_opts){.needs = route_perm}) == 0);
    CHECK(ringo_route_ex(app, "GET", "/ab", RINGO_ASYNC, handler, NULL,
                         &(ringo_route_opts){.needs = route_ab}) == 0);
    CHECK(ringo_route_ex(app, "GET", "/valid", RINGO_ASYNC, handler, NULL,
                         &(ringo_route_opts){.needs = route_valid}) == 0);
    CHECK(ringo_group_new(&g, app, "/g", group_needs) == 0);
    CHECK(ringo_group_route(g, "GET", "/x", RINGO_ASYNC, handler, NULL,
                            &(ringo_route_opts){.needs = route_perm}) == 0);
    CHECK(ringo_app_add_middleware(app, &(ringo_middleware){before, after, "m1"}) == 0);
    CHECK(ringo_app_add_middleware(app, &(ringo_middleware){before, after, "m2"}) == 0);
    CHECK(ringo_app_add_middleware(app, &(ringo_middleware){before, NULL, "m3"}) == 0);
    CHECK(ringo_app_set_error_handler(app, 0, shape, "any") == 0);
    CHECK(ringo_app_set_error_handler(app, 404, shape, "404") == 0);
    CHECK(ringo_app_set_error_handler(app, 0, NULL, NULL) == -EINVAL);
    CHECK(ringo_app_set_error_handler(app, 1000, shape, NULL) == -EINVAL);
    fake_app_start(app);
}

static void stop(void) { fake_app_free(app); }

/*
 * GET target with extra header lines: the whole answer must contain every
 * string of want_wire (NULL-terminated) and the journal must read log.
 */
static void expect(const char *target, const char *headers, const char *log,
                   const char *const *want_wire)
{
    char req[512];
    ringo__conn *c = fake_open();
    const char *w;

    journal[0] = '\0';
    fresh_count = 0;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n", target, headers);
    fake_recv_str(c, req);
    fake_run(c);
    w = fake_wire(c);
    for (const char *const *s = want_wire; *s; s++)
        CHECKF(strstr(w, *s), "%s %s: no \"%s\" in\n%s", target, headers, *s, w);
    CHECKF(strcmp(journal, log) == 0, "%s %s:\n  ran  %s\n  want %s", target, headers, journal,
           log);
    CHECKF(!c->closed, "%s: closed", target);
    fake_close(c);
}

#define WIRE(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_plan(void)
{
    expect("/plain", "", "m1< m2< m3< db handler >m2:200 >m1:200 ~db ",
           WIRE("HTTP/1.1 200 OK\r\n", "\r\n\r\nok"));
    expect("/plain", "X-Type: int\r\n", "m1< m2< m3< db handler >m2:200 >m1:200 ~db ",
           WIRE("HTTP/1.1 200 OK\r\n"));
    /* perm needs user and db, user needs db: db once, before user. */
    expect("/perm", "", "m1< m2< m3< db user perm handler (user) >m2:200 >m1:200 ~perm ~user ~db ",
           WIRE("HTTP/1.1 200 OK\r\n"));
    /* The group's needs come before the route's. */
    expect("/g/x", "", "m1< m2< m3< db user perm handler (user) >m2:200 >m1:200 ~perm ~user ~db ",
           WIRE("HTTP/1.1 200 OK\r\n"));
    /* no_cache: fresh runs for each of a and b; each run has its teardown. */
    expect("/ab", "",
           "m1< m2< m3< db fresh1 a fresh2 b user handler (user) >m2:200 >m1:200 ~user ~b "
           "~fresh2 ~a ~fresh1 ~db ",
           WIRE("HTTP/1.1 200 OK\r\n"));
    printf("ok   plan order, caching and no_cache, teardowns in reverse\n");
}

static void test_fail(void)
{
    /* ringo_fail() in a dependency: the rest is skipped, its headers stay. */
    expect("/perm", "X-Fail: user\r\n", "m1< m2< m3< db user >m2:401 >m1:401 shape401 ~db ",
           WIRE("HTTP/1.1 401 Unauthorized\r\n", "\r\nWWW-Authenticate: Bearer\r\n",
                "\r\nContent-Type: text/x-shaped\r\n", "\r\n\r\nany 401 user"));
    /* Another negative value is a 500; teardowns of what ran still run. */
    expect("/perm", "X-Error: perm\r\n",
           "m1< m2< m3< db user perm >m2:500 >m1:500 shape500 ~user ~db ",
           WIRE("HTTP/1.1 500 Internal Server Error\r\n", "\r\n\r\nany 500 Internal Server Error"));
    /* A handler's success headers and body do not survive its failure. */
    expect("/plain", "X-Error: handler\r\n", "m1< m2< m3< db handler >m2:500 >m1:500 shape500 ~db ",
           WIRE("HTTP/1.1 500 Internal Server Error\r\n"));
    expect("/plain", "X-Fail: handler\r\n", "m1< m2< m3< db handler >m2:409 >m1:409 shape409 ~db ",
           WIRE("HTTP/1.1 409 Conflict\r\n", "\r\n\r\nany 409 Conflict"));
    /* Error values returned without what they stand for are plain failures. */
    expect("/plain", "X-Ret: validation\r\n",
           "m1< m2< m3< db handler >m2:500 >m1:500 shape500 ~db ",
           WIRE("HTTP/1.1 500 Internal Server Error\r\n"));
    expect("/plain", "X-Ret: ehttp\r\n", "m1< m2< m3< db handler >m2:500 >m1:500 shape500 ~db ",
           WIRE("HTTP/1.1 500 Internal Server Error\r\n"));
    /* The handler's own error answer is not ringo's: not shaped. */
    expect("/plain", "X-Ret: teapot\r\n", "m1< m2< m3< db handler >m2:418 >m1:418 ~db ",
           WIRE("HTTP/1.1 418 ", "\r\n\r\ntea"));
    /* RINGO_EVALIDATION from a dependency: 422 with the recorded errors. */
    expect("/valid?n=x", "", "m1< m2< m3< db valid >m2:422 >m1:422 shape422 ~db ",
           WIRE("HTTP/1.1 422 Unprocessable Content\r\n", "\r\n\r\nany 422 "));
    expect("/valid?n=3", "", "m1< m2< m3< db valid handler >m2:200 >m1:200 ~valid ~db ",
           WIRE("HTTP/1.1 200 OK\r\n"));
    printf("ok   ringo_fail, errors and 422 from dependencies and handlers\n");
}

static void test_middleware(void)
{
    /* RINGO_RESPOND: later befores, dependencies and the handler are skipped. */
    expect("/perm", "X-Short: m2\r\n", "m1< m2< >m2:202 >m1:202 ",
           WIRE("HTTP/1.1 202 Accepted\r\n", "\r\n\r\nshort"));
    expect("/perm", "X-Short: m1\r\n", "m1< >m1:202 ", WIRE("\r\n\r\nshort"));
    /* ringo_fail() in a before: the error handler shapes it. */
    expect("/perm", "X-Fail: m3\r\n", "m1< m2< m3< >m2:403 >m1:403 shape403 ",
           WIRE("HTTP/1.1 403 Forbidden\r\n", "\r\n\r\nany 403 m3"));
    /* Middleware wraps routing: it sees 404 and 405. */
    expect("/nowhere", "", "m1< m2< m3< >m2:404 >m1:404 shape404 ",
           WIRE("HTTP/1.1 404 Not Found\r\n", "\r\n\r\n404 404 Not Found"));
    printf("ok   middleware order, RINGO_RESPOND, ringo_fail in before()\n");
}

static void test_405(void)
{
    ringo__conn *c = fake_open();
    const char *w;

    journal[0] = '\0';
    fake_recv_str(c, "DELETE /perm HTTP/1.1\r\nHost: t\r\n\r\n");
    fake_run(c);
    w = fake_wire(c);
    CHECKF(strstr(w, "HTTP/1.1 405 Method Not Allowed\r\n") &&
               strstr(w, "\r\nAllow: GET, HEAD\r\n") &&
               strstr(w, "\r\n\r\nany 405 Method Not Allowed"),
           "%s", w);
    CHECKF(!strcmp(journal, "m1< m2< m3< >m2:405 >m1:405 shape405 "), "%s", journal);
    fake_close(c);
    printf("ok   405 shaped, Allow kept\n");
}

/* An app whose dependencies cannot be resolved does not start. */
static void expect_start_fails(const char *const *a_needs, const char *const *b_needs, int want)
{
    ringo_config cfg;
    ringo_app *bad;
    ringo_dep *d;

    ringo_config_init(&cfg);
    cfg.quiet = 1;
    CHECK(ringo_app_new(&bad, &cfg) == 0);
    CHECK(ringo_dep_new(&d, bad, "a", dep, "a",
                        &(ringo_dep_opts){.mode = RINGO_ASYNC, .needs = a_needs}) == 0);
    CHECK(ringo_dep_new(&d, bad, "b", dep, "b",
                        &(ringo_dep_opts){.mode = RINGO_ASYNC, .needs = b_needs}) == 0);
    CHECK(ringo_route(bad, "GET", "/", RINGO_ASYNC, handler, NULL) == 0);
    CHECKF(ringo_app_start(bad) == want, "want %d", want);
    ringo_app_free(bad);
}

static void test_resolve(void)
{
    static const char *const needs_a[] = {"a", NULL};
    static const char *const needs_b[] = {"b", NULL};
    static const char *const needs_self[] = {"b", "a", NULL};
    static const char *const needs_none[] = {"zzz", NULL};

    expect_start_fails(needs_b, needs_a, -ELOOP);
    expect_start_fails(NULL, needs_self, -ELOOP);
    expect_start_fails(needs_none, NULL, -ENOENT);
    printf("ok   a cycle or an unknown name fails the start\n");
}

/* Without error handlers: ringo's own bodies. */
static int failing(ringo_req *req, void *ud)
{
    (void)ud;
    CHECK(ringo_resp_add_header(req, "WWW-Authenticate", RINGO_STR_LIT("Basic")) == 0);
    return ringo_fail(req, 401, "who \"are\" you");
}

static int fail_range(ringo_req *req, void *ud)
{
    (void)ud;
    return ringo_fail(req, 302, NULL); /* outside 400..599: 500 */
}

static void test_default_bodies(void)
{
    app = fake_app_new(NULL);
    CHECK(ringo_route(app, "GET", "/fail", RINGO_ASYNC, failing, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/range", RINGO_ASYNC, fail_range, NULL) == 0);
    fake_app_start(app);
    expect("/fail", "", "",
           WIRE("HTTP/1.1 401 Unauthorized\r\n", "\r\nWWW-Authenticate: Basic\r\n",
                "\r\nContent-Type: application/json\r\n",
                "\r\n\r\n{\"detail\":\"who \\\"are\\\" you\"}"));
    expect("/range", "", "",
           WIRE("HTTP/1.1 500 Internal Server Error\r\n",
                "\r\n\r\n{\"detail\":\"Internal Server Error\"}"));
    stop();
    printf("ok   ringo_fail's own JSON body, headers kept\n");
}

int main(void)
{
    test_resolve();
    start();
    test_plan();
    test_fail();
    test_middleware();
    test_405();
    stop();
    test_default_bodies();
    return 0;
}
