/*
 * Description: the router in http/router.c: literal, {param} and {tail...}
 * segments, priorities with backtracking, percent-decoding after the split
 * (%2F stays in its segment), 404 vs 405 with Allow, HEAD answered by GET,
 * duplicates and malformed patterns; then a randomized comparison with a
 * brute-force reference matcher.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/arena.h"
#include "http/router.h"
#include "http/url.h"

static ringo__arena arena;
static ringo__route_match m;

/* Distinct route objects: the router hands back whatever it was given. */
static int R[64];

static int str_is(ringo_str s, const char *lit) { return ringo_str_eq(s, ringo_str_c(lit)); }

static int match(ringo__router *r, const char *method, const char *path)
{
    return ringo__router_match(r, ringo_str_c(method), ringo_str_c(path), &arena, &m);
}

/* The matched param called name has value v. */
static int param_is(const char *name, const char *v)
{
    for (unsigned i = 0; i < m.nparams; i++)
        if (str_is(m.params[i].name, name))
            return str_is(m.params[i].value, v);
    return 0;
}

static int allow_is(const char *v)
{
    if (strcmp(m.allow, v) != 0 || m.allow_len != strlen(v)) {
        fprintf(stderr, "  Allow: \"%s\", expected \"%s\"\n", m.allow, v);
        return 0;
    }
    return 1;
}

static void test_literals(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(r);
    CHECK(ringo__router_add(r, "GET", "/", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a", &R[1]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/", &R[2]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/b", &R[3]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a//b", &R[4]) == 0);
    CHECK(ringo__router_add(r, "GET", "/caf\xc3\xa9", &R[5]) == 0);
    CHECK(ringo__router_add(r, "GET", "/x%20y", &R[6]) == 0);
    CHECK(ringo__router_add(r, "GET", "/p+q", &R[7]) == 0);
    CHECK(ringo__router_add(r, "GET", "/s%2Ft", &R[8]) == 0);

    CHECK(match(r, "GET", "/") == 0 && m.route == &R[0] && m.nparams == 0);
    CHECK(match(r, "GET", "/a") == 0 && m.route == &R[1]);
    CHECK(strcmp(m.pattern, "/a") == 0);
    CHECK(match(r, "GET", "/a/") == 0 && m.route == &R[2]);
    CHECK(match(r, "GET", "/a/b") == 0 && m.route == &R[3]);
    CHECK(match(r, "GET", "/a//b") == 0 && m.route == &R[4]);
    CHECK(match(r, "GET", "/a/b/") == -ENOENT);
    CHECK(match(r, "GET", "//a") == -ENOENT);
    CHECK(match(r, "GET", "/b") == -ENOENT);
    CHECK(match(r, "GET", "/A") == -ENOENT);
    /* Literals compare decoded, whichever side carries the escapes. */
    CHECK(match(r, "GET", "/%61") == 0 && m.route == &R[1]);
    CHECK(match(r, "GET", "/%61/%62") == 0 && m.route == &R[3]);
    CHECK(match(r, "GET", "/caf%C3%A9") == 0 && m.route == &R[5]);
    CHECK(match(r, "GET", "/caf%c3%a9") == 0 && m.route == &R[5]);
    CHECK(match(r, "GET", "/x%20y") == 0 && m.route == &R[6]);
    CHECK(match(r, "GET", "/x+y") == -ENOENT);
    CHECK(match(r, "GET", "/p+q") == 0 && m.route == &R[7]);
    CHECK(match(r, "GET", "/p%2Bq") == 0 && m.route == &R[7]);
    CHECK(match(r, "GET", "/p%20q") == -ENOENT);
    /* "%2F" never splits: "/s%2Ft" is one segment, "/s/t" two. */
    CHECK(match(r, "GET", "/s%2Ft") == 0 && m.route == &R[8]);
    CHECK(match(r, "GET", "/s/t") == -ENOENT);
    CHECK(match(r, "GET", "/a%2Fb") == -ENOENT);
    /* Not a path: the caller answers OPTIONS * itself. */
    CHECK(match(r, "OPTIONS", "*") == -ENOENT);
    CHECK(match(r, "GET", "") == -ENOENT);
    ringo__router_free(r);
}

static void test_params(void)
{
    ringo__router *r = ringo__router_new();
    const char *path = "/users/42/posts/hello";

    CHECK(ringo__router_add(r, "GET", "/users/{id}", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/users/{uid}/posts/{slug}", &R[1]) == 0);
    CHECK(ringo__router_add(r, "POST", "/users/{user_id}", &R[2]) == 0);

    CHECK(match(r, "GET", "/users/42") == 0 && m.route == &R[0]);
    CHECK(m.nparams == 1 && param_is("id", "42"));
    CHECK(match(r, "POST", "/users/42") == 0 && m.route == &R[2]);
    CHECK(m.nparams == 1 && param_is("user_id", "42"));
    CHECK(match(r, "GET", path) == 0 && m.route == &R[1]);
    CHECK(m.nparams == 2 && param_is("uid", "42") && param_is("slug", "hello"));
    CHECK(str_is(m.params[0].name, "uid") && str_is(m.params[1].name, "slug"));
    /* No escape: the value points into the raw path, nothing is copied. */
    CHECK(m.params[0].value.ptr == path + 7);
    /* A parameter needs a non-empty segment. */
    CHECK(match(r, "GET", "/users/") == -ENOENT);
    CHECK(match(r, "GET", "/users//posts/x") == -ENOENT);
    CHECK(match(r, "GET", "/users/42/") == -ENOENT);
    /* Decoded into the arena: %2F stays in the value, '+' stays '+'. */
    CHECK(match(r, "GET", "/users/a%2Fb") == 0 && m.route == &R[0] && param_is("id", "a/b"));
    CHECK(match(r, "GET", "/users/a+b") == 0 && param_is("id", "a+b"));
    CHECK(match(r, "GET", "/users/%20%2B") == 0 && param_is("id", " +"));
    CHECK(match(r, "GET", "/users/%C3%A9") == 0 && param_is("id", "\xc3\xa9"));
    CHECK(match(r, "GET", "/users/%00") == 0 && m.params[0].value.len == 1 &&
          m.params[0].value.ptr[0] == '\0');
    ringo__router_free(r);
}

static void test_malformed_escapes(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(ringo__router_add(r, "GET", "/a/{x}", &R[0]) == 0);
    CHECK(match(r, "GET", "/a/%zz") == -EINVAL);
    CHECK(match(r, "GET", "/a/%4") == -EINVAL);
    CHECK(match(r, "GET", "/a/x%") == -EINVAL);
    CHECK(match(r, "GET", "/a%") == -EINVAL);
    /* Even where no route would look: a bad request, not a missing page. */
    CHECK(match(r, "GET", "/nowhere/%g1/deeper") == -EINVAL);
    CHECK(match(r, "DELETE", "/a/%zz") == -EINVAL);
    CHECK(match(r, "GET", "/a/%41") == 0 && param_is("x", "A"));
    ringo__router_free(r);
}

static void test_404_405(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(ringo__router_add(r, "POST", "/items", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/items", &R[1]) == 0);
    CHECK(ringo__router_add(r, "PUT", "/items/{id}", &R[2]) == 0);
    CHECK(ringo__router_add(r, "OPTIONS", "/items/{id}", &R[3]) == 0);
    CHECK(ringo__router_add(r, "DELETE", "/items/{id}", &R[4]) == 0);
    CHECK(ringo__router_add(r, "GET", "/items/special", &R[5]) == 0);
    CHECK(ringo__router_add(r, "POST", "/only-post", &R[6]) == 0);

    CHECK(match(r, "GET", "/nope") == -ENOENT && m.allow_len == 0);
    CHECK(match(r, "GET", "/items/") == -ENOENT);
    CHECK(match(r, "DELETE", "/items") == -EPERM && allow_is("GET, HEAD, POST"));
    CHECK(m.route == NULL);
    /* An unknown method gets a 405 as well when the path exists. */
    CHECK(match(r, "BREW", "/items") == -EPERM && allow_is("GET, HEAD, POST"));
    CHECK(match(r, "GET", "/items/7") == -EPERM && allow_is("DELETE, OPTIONS, PUT"));
    /* Allow is the union over every route matching the path. */
    CHECK(match(r, "POST", "/items/special") == -EPERM &&
          allow_is("DELETE, GET, HEAD, OPTIONS, PUT"));
    CHECK(match(r, "PUT", "/items/special") == 0 && m.route == &R[2] && param_is("id", "special"));
    CHECK(match(r, "GET", "/only-post") == -EPERM && allow_is("POST"));
    CHECK(match(r, "HEAD", "/only-post") == -EPERM && allow_is("POST"));
    /* Methods are case-sensitive tokens. */
    CHECK(match(r, "get", "/items") == -EPERM);
    ringo__router_free(r);
}

static void test_head(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(ringo__router_add(r, "GET", "/g", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/both", &R[1]) == 0);
    CHECK(ringo__router_add(r, "HEAD", "/both", &R[2]) == 0);
    CHECK(ringo__router_add(r, "HEAD", "/h", &R[3]) == 0);
    CHECK(ringo__router_add(r, "GET", "/p/{x}", &R[4]) == 0);

    CHECK(match(r, "HEAD", "/g") == 0 && m.route == &R[0]);
    CHECK(match(r, "HEAD", "/both") == 0 && m.route == &R[2]);
    CHECK(match(r, "GET", "/both") == 0 && m.route == &R[1]);
    CHECK(match(r, "HEAD", "/h") == 0 && m.route == &R[3]);
    CHECK(match(r, "GET", "/h") == -EPERM && allow_is("HEAD"));
    CHECK(match(r, "HEAD", "/p/1") == 0 && m.route == &R[4] && param_is("x", "1"));
    CHECK(match(r, "POST", "/both") == -EPERM && allow_is("GET, HEAD"));
    CHECK(match(r, "POST", "/g") == -EPERM && allow_is("GET, HEAD"));
    ringo__router_free(r);

    /* No GET route anywhere: HEAD still finds nothing to fall back to. */
    r = ringo__router_new();
    CHECK(ringo__router_add(r, "POST", "/x", &R[0]) == 0);
    CHECK(match(r, "HEAD", "/x") == -EPERM && allow_is("POST"));
    ringo__router_free(r);
}

static void test_catch_all(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(ringo__router_add(r, "GET", "/static/{path...}", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/static/index.html", &R[1]) == 0);
    CHECK(ringo__router_add(r, "GET", "/u/{id}/files/{rest...}", &R[2]) == 0);

    CHECK(match(r, "GET", "/static/") == 0 && m.route == &R[0] && param_is("path", ""));
    CHECK(match(r, "GET", "/static/a") == 0 && param_is("path", "a"));
    CHECK(match(r, "GET", "/static/a/b/c") == 0 && param_is("path", "a/b/c"));
    CHECK(match(r, "GET", "/static/a/") == 0 && param_is("path", "a/"));
    CHECK(match(r, "GET", "/static//x") == 0 && param_is("path", "/x"));
    CHECK(match(r, "GET", "/static/a%2Fb%20c") == 0 && param_is("path", "a/b c"));
    CHECK(match(r, "GET", "/static/index.html") == 0 && m.route == &R[1]);
    CHECK(match(r, "GET", "/static/index.html/x") == 0 && m.route == &R[0] &&
          param_is("path", "index.html/x"));
    CHECK(match(r, "GET", "/static") == -ENOENT);
    CHECK(match(r, "GET", "/u/7/files/a/b") == 0 && m.route == &R[2] && m.nparams == 2);
    CHECK(param_is("id", "7") && param_is("rest", "a/b"));
    CHECK(str_is(m.params[1].name, "rest"));
    CHECK(match(r, "POST", "/static/a") == -EPERM && allow_is("GET, HEAD"));
    ringo__router_free(r);

    /* A root catch-all is the last resort for every path. */
    r = ringo__router_new();
    CHECK(ringo__router_add(r, "GET", "/{all...}", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/api/{v}", &R[1]) == 0);
    CHECK(match(r, "GET", "/") == 0 && m.route == &R[0] && param_is("all", ""));
    CHECK(match(r, "GET", "/api/1") == 0 && m.route == &R[1]);
    CHECK(match(r, "GET", "/api/1/2") == 0 && m.route == &R[0] && param_is("all", "api/1/2"));
    CHECK(match(r, "GET", "/api/") == 0 && m.route == &R[0]);
    ringo__router_free(r);
}

static void test_priorities(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(ringo__router_add(r, "GET", "/a/b/c", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/{x}/d", &R[1]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/{x}", &R[2]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/b", &R[3]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/{x...}", &R[4]) == 0);
    CHECK(ringo__router_add(r, "GET", "/{p}/b/{q}/z", &R[5]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/{x}/{y}/z", &R[6]) == 0);

    CHECK(match(r, "GET", "/a/b") == 0 && m.route == &R[3] && m.nparams == 0);
    CHECK(match(r, "GET", "/a/q") == 0 && m.route == &R[2] && param_is("x", "q"));
    CHECK(match(r, "GET", "/a/b/c") == 0 && m.route == &R[0]);
    /* The literal "b" branch has no "d": back up and take {x}. */
    CHECK(match(r, "GET", "/a/b/d") == 0 && m.route == &R[1] && param_is("x", "b"));
    /* Neither the literal nor the param branch goes on: the catch-all does. */
    CHECK(match(r, "GET", "/a/b/e") == 0 && m.route == &R[4] && param_is("x", "b/e"));
    CHECK(match(r, "GET", "/a/") == 0 && m.route == &R[4] && param_is("x", ""));
    /* Literal "a" first, then {x}/{y}; failing that, {p} at the root. */
    CHECK(match(r, "GET", "/a/b/c/z") == 0 && m.route == &R[6]);
    CHECK(param_is("x", "b") && param_is("y", "c") && m.nparams == 2);
    CHECK(match(r, "GET", "/q/b/c/z") == 0 && m.route == &R[5]);
    CHECK(param_is("p", "q") && param_is("q", "c") && m.nparams == 2);
    /* A param pushed on a failed branch is gone from the result. */
    CHECK(match(r, "GET", "/a/q/r/s") == 0 && m.route == &R[4] && m.nparams == 1);
    ringo__router_free(r);

    /* Backtracking also happens when the preferred route lacks the method. */
    r = ringo__router_new();
    CHECK(ringo__router_add(r, "POST", "/users/new", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/users/{id}", &R[1]) == 0);
    CHECK(match(r, "GET", "/users/new") == 0 && m.route == &R[1] && param_is("id", "new"));
    CHECK(match(r, "POST", "/users/new") == 0 && m.route == &R[0]);
    CHECK(match(r, "POST", "/users/7") == -EPERM && allow_is("GET, HEAD"));
    CHECK(match(r, "PUT", "/users/new") == -EPERM && allow_is("GET, HEAD, POST"));
    ringo__router_free(r);
}

static void test_any_method(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(ringo__router_add(r, "*", "/any", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/any", &R[1]) == 0);
    CHECK(ringo__router_add(r, "*", "/any", &R[2]) == -EEXIST);
    CHECK(ringo__router_add(r, "*", "/p/{x...}", &R[3]) == 0);

    CHECK(match(r, "GET", "/any") == 0 && m.route == &R[1]);
    CHECK(match(r, "HEAD", "/any") == 0 && m.route == &R[1]);
    CHECK(match(r, "DELETE", "/any") == 0 && m.route == &R[0]);
    CHECK(match(r, "BREW", "/any") == 0 && m.route == &R[0]);
    CHECK(match(r, "PATCH", "/p/a/b") == 0 && m.route == &R[3] && param_is("x", "a/b"));
    ringo__router_free(r);
}

static void test_duplicates(void)
{
    ringo__router *r = ringo__router_new();

    CHECK(ringo__router_add(r, "GET", "/a/{id}", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/{id}", &R[1]) == -EEXIST);
    CHECK(ringo__router_add(r, "GET", "/a/{other}", &R[1]) == -EEXIST);
    CHECK(ringo__router_add(r, "POST", "/a/{other}", &R[1]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/{id}/", &R[2]) == 0);
    CHECK(ringo__router_add(r, "GET", "/f/{p...}", &R[3]) == 0);
    CHECK(ringo__router_add(r, "GET", "/f/{q...}", &R[3]) == -EEXIST);
    CHECK(ringo__router_add(r, "GET", "/f/{q}", &R[3]) == 0);
    CHECK(ringo__router_add(r, "GET", "/caf%C3%A9", &R[4]) == 0);
    CHECK(ringo__router_add(r, "GET", "/caf\xc3\xa9", &R[4]) == -EEXIST);
    CHECK(ringo__router_add(r, "GET", "/%61/x", &R[5]) == 0);
    CHECK(ringo__router_add(r, "GET", "/a/x", &R[5]) == -EEXIST);
    /* The first registration is still the one that answers. */
    CHECK(match(r, "GET", "/a/1") == 0 && m.route == &R[0] && param_is("id", "1"));
    CHECK(match(r, "POST", "/a/1") == 0 && m.route == &R[1] && param_is("other", "1"));
    ringo__router_free(r);
}

static void test_bad_patterns(void)
{
    static const char *bad[] = {
        "",       "a",      "a/b",      "/a{b}",       "/{a}b",     "/a}",      "/{a",
        "/{}",    "/{...}", "/{a}/{a}", "/{a}/{a...}", "/{a...}/b", "/{a...}/", "/{a b}",
        "/{a.b}", "/{a/b}", "/{{a}}",   "/a?b",        "/a#b",      "/a b",     "/a\tb",
        "/a\x7f", "/%zz",   "/%4",      "/a%",         "/{a}{b}",   "/{a...}x", "/x{a...}",
    };
    static const char *bad_methods[] = {"", "GE T", "GET\r\n", "(GET)", "G/T", "GET:"};
    char many[256] = "";
    ringo__router *r = ringo__router_new();

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = ringo__router_add(r, "GET", bad[i], &R[0]);

        if (rc != -EINVAL)
            fprintf(stderr, "  pattern \"%s\" gave %d\n", bad[i], rc);
        CHECK(rc == -EINVAL);
    }
    for (size_t i = 0; i < sizeof(bad_methods) / sizeof(bad_methods[0]); i++)
        CHECK(ringo__router_add(r, bad_methods[i], "/ok", &R[0]) == -EINVAL);
    CHECK(ringo__router_add(r, "M-SEARCH", "/ok", &R[0]) == 0);
    CHECK(ringo__router_add(r, "GET", "/{a-b_C9}", &R[1]) == 0);
    /* Exactly RINGO__MAX_PARAMS parameters fit; one more does not. */
    for (int i = 0; i < RINGO__MAX_PARAMS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "/{p%d}", i);
    CHECK(ringo__router_add(r, "GET", many, &R[2]) == 0);
    CHECK(match(r, "GET", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16") == 0 && m.route == &R[2]);
    CHECK(m.nparams == RINGO__MAX_PARAMS && param_is("p15", "16"));
    strcat(many, "/{p16}");
    CHECK(ringo__router_add(r, "GET", many, &R[2]) == -EINVAL);
    /* Nothing half-registered remains from the failures. */
    CHECK(match(r, "GET", "/a") == 0 && m.route == &R[1]);
    CHECK(match(r, "M-SEARCH", "/ok") == 0 && m.route == &R[0]);
    CHECK(match(r, "POST", "/ok") == -EPERM && allow_is("GET, HEAD, M-SEARCH"));
    ringo__router_free(r);
}

static void test_many_methods(void)
{
    ringo__router *r = ringo__router_new();
    char name[32];
    int rc = 0;

    for (int i = 0; i < 64 && rc == 0; i++) {
        snprintf(name, sizeof(name), "LONGMETHOD%02d", i);
        rc = ringo__router_add(r, name, "/m", &R[0]);
    }
    CHECK(rc == 0);
    CHECK(ringo__router_add(r, "ONEMORE", "/m", &R[0]) == -ENOSPC);
    CHECK(ringo__router_add(r, "LONGMETHOD07", "/n", &R[1]) == 0);
    /* 64 names do not fit in Allow: whole names only, no dangling comma. */
    CHECK(match(r, "GET", "/m") == -EPERM);
    CHECK(m.allow_len > 0 && m.allow_len < sizeof(m.allow) && strlen(m.allow) == m.allow_len);
    CHECK(strncmp(m.allow, "LONGMETHOD00, LONGMETHOD01", 26) == 0);
    CHECK(m.allow[m.allow_len - 1] != ' ' && m.allow[m.allow_len - 1] != ',');
    ringo__router_free(r);
}

static void test_wide_and_deep(void)
{
    ringo__router *r = ringo__router_new();
    char pat[64], *deep;
    size_t n = 200000;
    int ok = 1;

    /* Enough siblings of mixed lengths to exercise the sorted lookup. */
    for (int i = 0; i < 300; i++) {
        snprintf(pat, sizeof(pat), "/%.*s%d", i % 7, "zzzzzzz", i);
        ok &= ringo__router_add(r, "GET", pat, &R[i % 64]) == 0;
    }
    CHECK(ok);
    for (int i = 0; i < 300; i++) {
        snprintf(pat, sizeof(pat), "/%.*s%d", i % 7, "zzzzzzz", i);
        ok &= match(r, "GET", pat) == 0 && m.route == &R[i % 64];
        snprintf(pat, sizeof(pat), "/%.*s%d", (i + 1) % 7, "zzzzzzz", i);
        ok &= match(r, "GET", pat) == -ENOENT;
    }
    CHECK(ok);
    /* Many segments cost nothing past the tree's depth. */
    deep = malloc(n + 1);
    CHECK(deep);
    if (deep) {
        for (size_t i = 0; i < n; i += 2)
            memcpy(deep + i, "/z", 2);
        deep[n] = '\0';
        CHECK(match(r, "GET", deep) == -ENOENT);
        free(deep);
    }
    ringo__router_free(r);
}

/* ---- randomized comparison with a brute-force reference ---- */

enum { K_LIT, K_PARAM, K_TAIL };

struct ref_route {
    char pattern[64];
    char method[8];
    int nseg;
    int kind[8];
    char lit[8][8]; /* decoded literal */
};

static unsigned long long rng = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void gen_route(struct ref_route *rt, int idx)
{
    static const char *lits[] = {"a", "b", "ab", "", "%61"};
    static const char *dec[] = {"a", "b", "ab", "", "a"};
    static const char *methods[] = {"GET", "GET", "POST", "HEAD", "*", "PUT"};
    size_t len = 0;

    rt->nseg = 1 + (int)rnd(4);
    strcpy(rt->method, methods[rnd(6)]);
    for (int i = 0; i < rt->nseg; i++) {
        unsigned k = rnd(10);

        rt->kind[i] = k < 6 ? K_LIT : (k < 9 || i != rt->nseg - 1) ? K_PARAM : K_TAIL;
        if (rt->kind[i] == K_LIT) {
            unsigned l = rnd(5);
            strcpy(rt->lit[i], dec[l]);
            len += (size_t)snprintf(rt->pattern + len, sizeof(rt->pattern) - len, "/%s", lits[l]);
        } else {
            len += (size_t)snprintf(rt->pattern + len, sizeof(rt->pattern) - len, "/{v%d_%d%s}",
                                    idx, i, rt->kind[i] == K_TAIL ? "..." : "");
        }
    }
}

/* Splits a path into raw segments (pointers into p). */
static int split_path(const char *p, const char **seg, size_t *len, int max)
{
    int n = 0;

    while (*p == '/' && n < max) {
        const char *s = p + 1, *e = strchr(s, '/');

        if (!e)
            e = s + strlen(s);
        seg[n] = s;
        len[n++] = (size_t)(e - s);
        p = e;
    }
    return n;
}

static int seg_equals(const char *raw, size_t len, const char *lit)
{
    char buf[64];
    ssize_t n = ringo__pct_decode(buf, raw, len, 0);

    return n >= 0 && (size_t)n == strlen(lit) && memcmp(buf, lit, (size_t)n) == 0;
}

static int ref_path_matches(const struct ref_route *rt, const char **seg, size_t *len, int n)
{
    for (int i = 0; i < rt->nseg; i++) {
        if (rt->kind[i] == K_TAIL)
            return n >= i + 1;
        if (i >= n)
            return 0;
        if (rt->kind[i] == K_PARAM && len[i] == 0)
            return 0;
        if (rt->kind[i] == K_LIT && !seg_equals(seg[i], len[i], rt->lit[i]))
            return 0;
    }
    return n == rt->nseg;
}

/* Negative when a is preferred over b: compares kinds segment by segment. */
static int ref_priority(const struct ref_route *a, const struct ref_route *b)
{
    for (int i = 0; i < a->nseg && i < b->nseg; i++)
        if (a->kind[i] != b->kind[i])
            return a->kind[i] - b->kind[i];
    return 0;
}

/* Method rank at one pattern: exact 0, HEAD via GET 1, "*" 2, else -1. */
static int ref_method_rank(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return 0;
    if (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0)
        return 1;
    return strcmp(route_method, "*") == 0 ? 2 : -1;
}

/* The index of the route the reference picks, -1 for 404, -2 for 405. */
static int ref_match(const struct ref_route *rt, const int *ok, int nr, const char *method,
                     const char *path)
{
    const char *seg[16];
    size_t len[16];
    int n = split_path(path, seg, len, 16), best = -1, best_rank = 3, any_path = 0;

    for (int i = 0; i < nr; i++) {
        int rank, c;

        if (!ok[i] || !ref_path_matches(&rt[i], seg, len, n))
            continue;
        any_path = 1;
        rank = ref_method_rank(rt[i].method, method);
        if (rank < 0)
            continue;
        c = best < 0 ? -1 : ref_priority(&rt[i], &rt[best]);
        if (c < 0 || (c == 0 && rank < best_rank)) {
            best = i;
            best_rank = rank;
        }
    }
    return best >= 0 ? best : any_path ? -2 : -1;
}

static void gen_path(char *p, size_t cap)
{
    static const char *segs[] = {"a", "b", "ab", "", "%61", "%62", "x%2Fy", "%41"};
    int n = 1 + (int)rnd(5);
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(p + len, cap - len, "/%s", segs[rnd(8)]);
}

static void test_random(void)
{
    static const char *methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
    struct ref_route rt[24];
    int ok[24], mismatches = 0;

    for (int round = 0; round < 400; round++) {
        ringo__router *r = ringo__router_new();

        for (int i = 0; i < 24; i++) {
            int rc;

            gen_route(&rt[i], i);
            rc = ringo__router_add(r, rt[i].method, rt[i].pattern, &rt[i]);
            ok[i] = rc == 0;
            CHECK(rc == 0 || rc == -EEXIST);
        }
        for (int q = 0; q < 200; q++) {
            char path[64];
            const char *method = methods[rnd(5)];
            int want, rc;

            gen_path(path, sizeof(path));
            want = ref_match(rt, ok, 24, method, path);
            rc = match(r, method, path);
            if (want >= 0 ? (rc == 0 && m.route == &rt[want])
                          : rc == (want == -1 ? -ENOENT : -EPERM))
                continue;
            if (mismatches++ < 5)
                fprintf(stderr, "  %s %s: router %d (%s), reference %d (%s)\n", method, path, rc,
                        rc == 0 ? m.pattern : "-", want, want >= 0 ? rt[want].pattern : "-");
        }
        ringo__router_free(r);
    }
    CHECK(mismatches == 0);
}

/*
 * Exact paths (patterns of literals only, found by a hash before the walk)
 * answer as the walk does: a method the exact route lacks goes on to a
 * parameter route, HEAD to GET, a 405 lists what the walk meets, and a
 * table that grew still finds every path.
 */
static void test_exact(void)
{
    ringo__router *r = ringo__router_new();
    char pat[64];

    CHECK(ringo__router_add(r, "GET", "/a/new", &R[0]) == 0);
    CHECK(ringo__router_add(r, "POST", "/a/{id}", &R[1]) == 0);
    CHECK(ringo__router_add(r, "PUT", "/a/new", &R[2]) == 0);
    CHECK(ringo__router_add(r, "*", "/any", &R[3]) == 0);
    CHECK(ringo__router_add(r, "GET", "/x%41", &R[4]) == 0);
    for (int i = 0; i < 40; i++) {
        snprintf(pat, sizeof(pat), "/many/segment%d", i);
        CHECK(ringo__router_add(r, "GET", pat, &R[10 + i % 40]) == 0);
    }
    CHECK(match(r, "GET", "/a/new") == 0 && m.route == &R[0] && m.nparams == 0);
    CHECK(match(r, "HEAD", "/a/new") == 0 && m.route == &R[0]);
    CHECK(match(r, "PUT", "/a/new") == 0 && m.route == &R[2]);
    CHECK(match(r, "POST", "/a/new") == 0 && m.route == &R[1] && param_is("id", "new"));
    CHECK(match(r, "DELETE", "/a/new") == -EPERM && allow_is("GET, HEAD, POST, PUT"));
    CHECK(match(r, "PATCH", "/any") == 0 && m.route == &R[3]);
    CHECK(match(r, "GET", "/xA") == 0 && m.route == &R[4]);
    CHECK(match(r, "GET", "/x%41") == 0 && m.route == &R[4]);
    for (int i = 0; i < 40; i++) {
        snprintf(pat, sizeof(pat), "/many/segment%d", i);
        CHECK(match(r, "GET", pat) == 0 && m.route == &R[10 + i % 40]);
        CHECK(strcmp(m.pattern, pat) == 0);
    }
    CHECK(match(r, "GET", "/many/segment40") == -ENOENT);
    CHECK(match(r, "GET", "/many/segment") == -ENOENT);
    ringo__router_free(r);
}

int main(void)
{
    ringo__arena_init(&arena, NULL, 0);
    test_literals();
    test_params();
    test_malformed_escapes();
    test_404_405();
    test_head();
    test_catch_all();
    test_priorities();
    test_any_method();
    test_duplicates();
    test_bad_patterns();
    test_many_methods();
    test_wide_and_deep();
    test_random();
    test_exact();
    ringo__arena_free(&arena);
    printf("router_test: ok\n");
    return 0;
}
