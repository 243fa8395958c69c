/*
 * tests/fuzz/router_fuzz.c - libFuzzer target: the router and URL helpers.
 *
 * Input: a first line of patterns to register ("METHOD /pattern" per line,
 * until an empty line), then request targets to match, one per line, each
 * with a method. Registration may fail (bad patterns are the point); lookups
 * must never crash, leak or read past their input, and a match must return a
 * route that was registered.
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "http/router.h"
#include "http/url.h"

static char *next_line(char **p, char *end)
{
    char *s = *p, *nl;

    if (s >= end)
        return NULL;
    nl = memchr(s, '\n', (size_t)(end - s));
    if (nl)
        *nl = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

static void lookup(ringo__router *r, char *line, char *routes)
{
    char *sp = strchr(line, ' ');
    ringo_str target, path, query, method;
    ringo__route_match m;
    ringo__arena a;
    char buf[512];

    if (!sp)
        return;
    *sp = '\0';
    method = ringo_str_c(line);
    target = ringo_str_c(sp + 1);
    ringo__arena_init(&a, buf, sizeof(buf));
    if (ringo__url_split(target, &path, &query) == 0) {
        ringo_str v;
        if (ringo__router_match(r, method, path, &a, &m) == 0 &&
            ((char *)m.route < routes || (char *)m.route >= routes + 4096))
            abort(); /* a route that was never registered */
        if (ringo__query_get(query, RINGO_STR_LIT("q"), &v) == 0) {
            char *d = ringo__arena_alloc(&a, v.len + 1);
            if (d)
                ringo__pct_decode(d, v.ptr, v.len, 1);
        }
    }
    ringo__arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char routes[4096]; /* route identities: addresses inside this array */
    char *copy = malloc(size + 1), *p = copy, *end = copy + size, *line;
    ringo__router *r = ringo__router_new();
    unsigned n = 0;

    if (!copy || !r)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    while ((line = next_line(&p, end)) && *line) {
        char *sp = strchr(line, ' ');
        if (sp && n < sizeof(routes)) {
            *sp = '\0';
            ringo__router_add(r, line, sp + 1, &routes[n++]);
        }
    }
    while ((line = next_line(&p, end)))
        lookup(r, line, routes);
    ringo__router_free(r);
    free(copy);
    return 0;
}
