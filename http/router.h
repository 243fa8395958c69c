/*
 * http/router.h - method + path routing.
 *
 * Routes live in a tree with one node per path segment. Built once before
 * the app starts, then only read: ringo__router_match() may run on every
 * ring thread at once without locking. A lookup allocates nothing unless a
 * matched parameter holds a '%' escape, and then only from the request arena.
 *
 * Patterns are absolute paths ("/users/{id}/posts"). Each segment is
 *   a literal    "users"     compared with the path segment after
 *                            percent-decoding (so "caf%C3%A9" and a raw UTF-8
 *                            "café" in a pattern are the same literal);
 *   a parameter  "{id}"      matches one non-empty segment;
 *   a catch-all  "{rest...}" last segment only: matches the rest of the path,
 *                            possibly empty, slashes included.
 * The path is split on '/' before decoding, so "%2F" stays inside its segment
 * and a parameter's value gets the '/'. A trailing slash is significant
 * ("/a/" is not "/a"), and so is every empty segment ("/a//b" is not
 * "/a/b"). "/files/{p...}" matches "/files/" but not "/files".
 *
 * Priority at each segment: a literal beats a parameter, which beats a
 * catch-all. When the preferred branch fails further down (or has no route
 * for the method), the next one is tried, so "/a/new/x" reaches
 * "/a/{id}/x" even when "/a/new" exists.
 */
#ifndef RINGO_HTTP_ROUTER_H
#define RINGO_HTTP_ROUTER_H

#include "core/arena.h"
#include "ringo/common.h"

#define RINGO__MAX_PARAMS 16

typedef struct ringo__router ringo__router;

typedef struct ringo__route_param {
    ringo_str name;  /* owned by the router */
    ringo_str value; /* decoded; points into the raw path or the arena */
} ringo__route_param;

typedef struct ringo__route_match {
    void *route;         /* as given to ringo__router_add() */
    const char *pattern; /* the matched route's pattern, owned by the router */
    unsigned nparams;    /* in pattern order */
    ringo__route_param params[RINGO__MAX_PARAMS];
    char allow[128]; /* on -EPERM: "GET, HEAD, POST", NUL-terminated */
    size_t allow_len;
} ringo__route_match;

/* An empty router, or NULL when out of memory. */
ringo__router *ringo__router_new(void);

/* Frees the router and everything it copied. NULL is a no-op. */
void ringo__router_free(ringo__router *r);

/*
 * Registers method + pattern -> route. method is an RFC 9110 token
 * (case-sensitive: "GET"), or "*" for any method that has no route of its
 * own at that pattern. A GET route also answers HEAD unless a HEAD route
 * is registered for the same pattern. The strings are copied; route is
 * stored as is and never dereferenced.
 * Returns 0,
 *   -EINVAL  malformed: method not a token; pattern not starting with '/',
 *            containing controls, space, DEL, '?' or '#', a malformed '%'
 *            escape, '{' or '}' outside a whole "{name}" segment, an empty,
 *            duplicate or non-[A-Za-z0-9_-] parameter name, a catch-all that
 *            is not last, more than RINGO__MAX_PARAMS parameters;
 *   -EEXIST  the method already has a route at an equivalent pattern (one
 *            that differs at most in parameter names);
 *   -ENOSPC  more than 64 distinct methods;
 *   -ENOMEM.
 * A failed call leaves the routes as they were.
 */
int ringo__router_add(ringo__router *r, const char *method, const char *pattern, void *route);

/*
 * Finds the route for method + raw_path (still percent-encoded, without the
 * query). Parameter values with escapes are decoded into arena (not NULL);
 * the others point into raw_path. Both must outlive the use of *m, and so
 * must the router (names and pattern are its own).
 * Returns
 *   0        m->route, m->pattern and m->params are set (for HEAD this may
 *            be the GET route: the caller sends no body);
 *   -ENOENT  no route matches the path (404); also for a path that does not
 *            start with '/', such as "*";
 *   -EPERM   routes match the path but none for this method (405):
 *            m->allow lists the methods that would match, sorted, HEAD
 *            included when GET is;
 *   -EINVAL  the path has a malformed escape (400), whatever the routes;
 *   -ENOMEM  the arena could not hold a decoded value.
 */
int ringo__router_match(const ringo__router *r, ringo_str method, ringo_str raw_path,
                        ringo__arena *arena, ringo__route_match *m);

#endif
