/*
 * http/router.c - method + path routing, see router.h.
 *
 * One node per path segment. A node holds its literal children (decoded,
 * sorted by length then bytes, so a lookup is a binary search), at most one
 * parameter child (routes that differ only in parameter names share it; the
 * names live in each endpoint), the endpoints of routes that end at it, and
 * the endpoints of catch-all routes that take the rest of the path after it.
 *
 * Methods are interned into at most 64 indices so that each endpoint set
 * carries a bitmask: the method test is one AND, and the Allow header of a
 * 405 is the union of the masks met on the way.
 */
#include "http/router.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/url.h"

#define MAX_METHODS 64
#define METHOD_ANY MAX_METHODS

struct endpoint {
    void *route;
    char *pattern; /* owned copy; names point into it */
    unsigned method;
    unsigned nnames;
    ringo_str names[RINGO__MAX_PARAMS];
};

struct endpoints {
    struct endpoint *v;
    unsigned n;
    int any;       /* a "*" endpoint is among v */
    uint64_t mask; /* bit i: an endpoint for method i is among v */
};

struct node;

struct literal {
    char *seg; /* decoded */
    size_t len;
    struct node *child;
};

struct node {
    struct literal *lits;
    unsigned nlits;
    struct node *param;
    struct endpoints here; /* routes whose pattern ends at this node */
    struct endpoints tail; /* "{x...}" routes: the rest of the path after this node */
};

/*
 * A pattern of literal segments only and without '%' is one exact path: its
 * node is found by a hash of the whole path before the walk. The walk tries
 * literals first at every segment, so the all-literal chain is the first
 * leaf it reaches: when that node has an endpoint for the method, it is the
 * walk's answer too; otherwise the walk runs as before.
 */
struct exact {
    const char *path; /* an endpoint's pattern: owned by that endpoint */
    size_t len;
    const struct endpoints *here;
};

struct ringo__router {
    struct node root;
    unsigned nmethods;
    int get; /* index of "GET", or -1: HEAD falls back to it */
    ringo_str methods[MAX_METHODS];
    struct exact *exact; /* open addressing, a power of two of slots, at most half used */
    size_t exact_cap, exact_n;
};

/* ---- building ---- */

enum seg_kind { SEG_LIT, SEG_PARAM, SEG_TAIL };

/* One pattern segment; for a parameter, p/len is its name. */
struct pseg {
    const char *p;
    size_t len;
    enum seg_kind kind;
};

ringo__router *ringo__router_new(void)
{
    ringo__router *r = ringo__calloc(1, sizeof(*r));

    if (r)
        r->get = -1;
    return r;
}

static void endpoints_free(struct endpoints *e)
{
    for (unsigned i = 0; i < e->n; i++)
        ringo__free(e->v[i].pattern);
    ringo__free(e->v);
}

static void node_clear(struct node *n)
{
    for (unsigned i = 0; i < n->nlits; i++) {
        node_clear(n->lits[i].child);
        ringo__free(n->lits[i].child);
        ringo__free(n->lits[i].seg);
    }
    ringo__free(n->lits);
    if (n->param) {
        node_clear(n->param);
        ringo__free(n->param);
    }
    endpoints_free(&n->here);
    endpoints_free(&n->tail);
}

void ringo__router_free(ringo__router *r)
{
    if (!r)
        return;
    ringo__free(r->exact);
    node_clear(&r->root);
    for (unsigned i = 0; i < r->nmethods; i++)
        ringo__free((char *)r->methods[i].ptr);
    ringo__free(r);
}

static int method_ok(const char *m)
{
    if (!*m)
        return 0;
    for (; *m; m++)
        if (!ringo__is_tchar((unsigned char)*m))
            return 0;
    return 1;
}

static int method_find(const ringo__router *r, ringo_str m)
{
    for (unsigned i = 0; i < r->nmethods; i++)
        if (ringo_str_eq(r->methods[i], m))
            return (int)i;
    return -1;
}

/* Index of method (interning it), METHOD_ANY for "*", or -ENOSPC/-ENOMEM. */
static int method_intern(ringo__router *r, const char *method)
{
    ringo_str m = ringo_str_c(method);
    int i = method_find(r, m);
    char *copy;

    if (strcmp(method, "*") == 0)
        return METHOD_ANY;
    if (i >= 0)
        return i;
    if (r->nmethods == MAX_METHODS)
        return -ENOSPC;
    copy = ringo__strdup(method);
    if (!copy)
        return -ENOMEM;
    r->methods[r->nmethods].ptr = copy;
    r->methods[r->nmethods].len = m.len;
    if (strcmp(method, "GET") == 0)
        r->get = (int)r->nmethods;
    return (int)r->nmethods++;
}

static int name_ok(const char *p, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (!(c == '_' || c == '-' || (c >= '0' && c <= '9') ||
              ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return 0;
    }
    return 1;
}

static int parse_seg(const char *p, size_t len, struct pseg *out)
{
    if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
        size_t n = len - 2;
        int tail = n >= 3 && memcmp(p + 1 + n - 3, "...", 3) == 0;

        out->p = p + 1;
        out->len = tail ? n - 3 : n;
        out->kind = tail ? SEG_TAIL : SEG_PARAM;
        return name_ok(out->p, out->len) ? 0 : -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        /* Bytes >= 0x80 are allowed: a raw UTF-8 literal matches its escapes. */
        if (c <= 0x20 || c == 0x7f || c == '?' || c == '#' || c == '{' || c == '}')
            return -EINVAL;
    }
    out->p = p;
    out->len = len;
    out->kind = SEG_LIT;
    return ringo__pct_validate(p, len);
}

/* Parameter rules across segments: tail last, names unique, at most RINGO__MAX_PARAMS. */
static int check_params(const struct pseg *s, unsigned n)
{
    unsigned nparams = 0;

    for (unsigned i = 0; i < n; i++) {
        if (s[i].kind == SEG_LIT)
            continue;
        if ((s[i].kind == SEG_TAIL && i != n - 1) || ++nparams > RINGO__MAX_PARAMS)
            return -EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (s[j].kind != SEG_LIT && s[j].len == s[i].len &&
                memcmp(s[j].p, s[i].p, s[i].len) == 0)
                return -EINVAL;
    }
    return 0;
}

/* Splits pattern into *out (caller frees) and returns the count, or -errno. */
static int parse_pattern(const char *pattern, struct pseg **out)
{
    size_t n = 0, len = strlen(pattern);
    const char *p = pattern, *end = pattern + len;
    struct pseg *s;
    int rc = 0;

    if (len == 0 || pattern[0] != '/')
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        n += pattern[i] == '/';
    if (n > INT32_MAX)
        return -EINVAL;
    s = ringo__malloc(n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *q = memchr(p + 1, '/', (size_t)(end - p - 1));
        const char *e = q ? q : end;

        rc = parse_seg(p + 1, (size_t)(e - p - 1), &s[i]);
        p = e;
    }
    if (rc == 0)
        rc = check_params(s, (unsigned)n);
    if (rc < 0) {
        ringo__free(s);
        return rc;
    }
    *out = s;
    return (int)n;
}

/* Orders literals by length, then bytes: lengths usually differ, so most
 * comparisons never touch the bytes. */
static int lit_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return alen ? memcmp(a, b, alen) : 0;
}

/* Binary search; returns the index of seg or where to insert it (*found = 0). */
static unsigned lit_search(const struct node *n, const char *seg, size_t len, int *found)
{
    unsigned lo = 0, hi = n->nlits;

    *found = 0;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = lit_cmp(n->lits[mid].seg, n->lits[mid].len, seg, len);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct node *lit_child(struct node *n, const struct pseg *s)
{
    char *seg = ringo__malloc(s->len + 1);
    struct node *child = ringo__calloc(1, sizeof(*child));
    struct literal *lits;
    unsigned at;
    int found;
    ssize_t len = seg ? ringo__pct_decode(seg, s->p, s->len, 0) : -ENOMEM;

    lits = child && len >= 0 ? ringo__realloc(n->lits, (n->nlits + 1) * sizeof(*lits)) : NULL;
    if (!lits) {
        ringo__free(seg);
        ringo__free(child);
        return NULL;
    }
    n->lits = lits;
    at = lit_search(n, seg, (size_t)len, &found);
    if (found) {
        ringo__free(seg);
        ringo__free(child);
        return n->lits[at].child;
    }
    memmove(&lits[at + 1], &lits[at], (n->nlits - at) * sizeof(*lits));
    lits[at] = (struct literal){seg, (size_t)len, child};
    n->nlits++;
    return child;
}

static struct node *param_child(struct node *n)
{
    if (!n->param)
        n->param = ringo__calloc(1, sizeof(*n->param));
    return n->param;
}

static const struct endpoint *endpoints_find(const struct endpoints *e, unsigned method)
{
    for (unsigned i = 0; i < e->n; i++)
        if (e->v[i].method == method)
            return &e->v[i];
    return NULL;
}

static int endpoints_add(struct endpoints *e, unsigned method, void *route, const char *pattern,
                         const struct pseg *s, unsigned ns)
{
    struct endpoint *v, *ep;
    char *copy = ringo__strdup(pattern);

    v = copy ? ringo__realloc(e->v, (e->n + 1) * sizeof(*v)) : NULL;
    if (!v) {
        ringo__free(copy);
        return -ENOMEM;
    }
    e->v = v;
    ep = &v[e->n++];
    ep->route = route;
    ep->pattern = copy;
    ep->method = method;
    ep->nnames = 0;
    for (unsigned i = 0; i < ns; i++)
        if (s[i].kind != SEG_LIT)
            ep->names[ep->nnames++] = (ringo_str){copy + (s[i].p - pattern), s[i].len};
    if (method == METHOD_ANY)
        e->any = 1;
    else
        e->mask |= UINT64_C(1) << method;
    return 0;
}

/* The endpoint set the parsed pattern leads to, creating nodes on the way. */
static struct endpoints *endpoints_for(ringo__router *r, const struct pseg *s, unsigned ns)
{
    struct node *n = &r->root;

    for (unsigned i = 0; i < ns; i++) {
        if (s[i].kind == SEG_TAIL)
            return &n->tail;
        n = s[i].kind == SEG_LIT ? lit_child(n, &s[i]) : param_child(n);
        if (!n)
            return NULL;
    }
    return &n->here;
}

/* A hash of the whole path: its length, and its first and last (up to) 8 bytes. */
static size_t exact_hash(const char *p, size_t len)
{
    uint64_t a = 0, b = 0, h;

    if (len >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + len - 8, 8);
    } else {
        memcpy(&a, p, len);
    }
    h = (a * 0x9e3779b97f4a7c15u) ^ (b * 0xc2b2ae3d27d4eb4fu) ^ len;
    return (size_t)(h ^ (h >> 29) ^ (h >> 47));
}

static const struct exact *exact_find(const ringo__router *r, const char *p, size_t len)
{
    size_t mask = r->exact_cap - 1;

    for (size_t i = exact_hash(p, len) & mask; r->exact[i].path; i = (i + 1) & mask)
        if (r->exact[i].len == len && memcmp(r->exact[i].path, p, len) == 0)
            return &r->exact[i];
    return NULL;
}

static void exact_put(struct exact *t, size_t cap, struct exact e)
{
    size_t i = exact_hash(e.path, e.len) & (cap - 1);

    while (t[i].path)
        i = (i + 1) & (cap - 1);
    t[i] = e;
}

/*
 * Remembers the exact path of pattern (whose endpoint ep was just added at e).
 * Out of memory it is left out: the walk finds it all the same.
 */
static void exact_add(ringo__router *r, const struct pseg *s, unsigned ns, const char *pattern,
                      const struct endpoints *e, const struct endpoint *ep)
{
    size_t len = strlen(pattern);

    for (unsigned i = 0; i < ns; i++)
        if (s[i].kind != SEG_LIT)
            return;
    if (memchr(pattern, '%', len) || (r->exact_n && exact_find(r, pattern, len)))
        return;
    if (2 * (r->exact_n + 1) > r->exact_cap) {
        size_t cap = r->exact_cap ? 2 * r->exact_cap : 16;
        struct exact *t = ringo__calloc(cap, sizeof(*t));
        if (!t)
            return;
        for (size_t i = 0; i < r->exact_cap; i++)
            if (r->exact[i].path)
                exact_put(t, cap, r->exact[i]);
        ringo__free(r->exact);
        r->exact = t;
        r->exact_cap = cap;
    }
    exact_put(r->exact, r->exact_cap, (struct exact){ep->pattern, len, e});
    r->exact_n++;
}

/*
 * A failure after nodes were created leaves them without endpoints: they
 * match nothing, so routing is as before.
 */
int ringo__router_add(ringo__router *r, const char *method, const char *pattern, void *route)
{
    struct pseg *s;
    struct endpoints *e;
    int ns, m, rc;

    if (!method_ok(method))
        return -EINVAL;
    ns = parse_pattern(pattern, &s);
    if (ns < 0)
        return ns;
    m = method_intern(r, method);
    e = m >= 0 ? endpoints_for(r, s, (unsigned)ns) : NULL;
    if (m < 0)
        rc = m;
    else if (!e)
        rc = -ENOMEM;
    else if (endpoints_find(e, (unsigned)m))
        rc = -EEXIST;
    else
        rc = endpoints_add(e, (unsigned)m, route, pattern, s, (unsigned)ns);
    if (rc == 0)
        exact_add(r, s, (unsigned)ns, pattern, e, &e->v[e->n - 1]);
    ringo__free(s);
    return rc;
}

/* ---- matching ---- */

struct walk {
    const char *path;
    size_t len;
    int pct;        /* the path has a '%' somewhere */
    int method;     /* index of the request's method, or -1 */
    int head_get;   /* request is HEAD: index of GET, else -1 */
    uint64_t allow; /* methods of every endpoint set the path reached */
    int path_found; /* some endpoint set matched the path */
    const struct endpoint *found;
    unsigned nvals;
    ringo_str vals[RINGO__MAX_PARAMS];
};

struct seg {
    const char *p;
    size_t len;  /* raw */
    size_t dlen; /* decoded */
    int pct;
};

static void next_seg(const struct walk *w, size_t pos, struct seg *s)
{
    const char *start = w->path + pos + 1;
    const char *slash = memchr(start, '/', w->len - pos - 1);

    s->p = start;
    s->len = slash ? (size_t)(slash - start) : w->len - pos - 1;
    s->dlen = s->len;
    s->pct = 0;
    if (!w->pct)
        return;
    /* Escapes were validated up front, so each '%' stands for 3 bytes. */
    for (size_t i = 0; i < s->len; i++) {
        if (s->p[i] == '%') {
            s->pct = 1;
            s->dlen -= 2;
            i += 2;
        }
    }
}

/* memcmp of a literal against the decoded bytes of a validated segment. */
static int pct_cmp(const char *lit, const struct seg *s)
{
    size_t i = 0;

    for (size_t j = 0; j < s->dlen; j++) {
        unsigned char c = (unsigned char)s->p[i];

        if (c == '%') {
            c = (unsigned char)(ringo__hex_value((unsigned char)s->p[i + 1]) << 4 |
                                ringo__hex_value((unsigned char)s->p[i + 2]));
            i += 3;
        } else {
            i++;
        }
        if ((unsigned char)lit[j] != c)
            return (unsigned char)lit[j] < c ? -1 : 1;
    }
    return 0;
}

static const struct node *lit_find(const struct node *n, const struct seg *s)
{
    unsigned lo = 0, hi = n->nlits;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const struct literal *l = &n->lits[mid];
        int c;

        if (l->len != s->dlen)
            c = l->len < s->dlen ? -1 : 1;
        else
            c = s->pct ? pct_cmp(l->seg, s) : (s->len ? memcmp(l->seg, s->p, s->len) : 0);
        if (c == 0)
            return l->child;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The endpoint of e for the request's method; records e's methods for a 405. */
static int pick(const struct endpoints *e, struct walk *w)
{
    const struct endpoint *ep = NULL;

    if (e->n == 0)
        return 0;
    w->path_found = 1;
    w->allow |= e->mask;
    if (w->method >= 0 && (e->mask >> w->method & 1))
        ep = endpoints_find(e, (unsigned)w->method);
    else if (w->head_get >= 0 && (e->mask >> w->head_get & 1))
        ep = endpoints_find(e, (unsigned)w->head_get);
    else if (e->any)
        ep = endpoints_find(e, METHOD_ANY);
    w->found = ep;
    return ep != NULL;
}

/*
 * Depth-first in priority order; pos is the offset of the '/' that starts
 * the next segment. The recursion depth is bounded by the tree's depth, not
 * by the request: a path with more segments than any pattern fails at the
 * first node without children.
 */
static int walk(const struct node *n, struct walk *w, size_t pos)
{
    const struct node *c;
    struct seg s;

    if (pos == w->len)
        return pick(&n->here, w);
    next_seg(w, pos, &s);
    c = n->nlits ? lit_find(n, &s) : NULL;
    if (c && walk(c, w, pos + 1 + s.len))
        return 1;
    if (n->param && s.len > 0 && w->nvals < RINGO__MAX_PARAMS) {
        w->vals[w->nvals++] = (ringo_str){s.p, s.len};
        if (walk(n->param, w, pos + 1 + s.len))
            return 1;
        w->nvals--;
    }
    if (n->tail.n && w->nvals < RINGO__MAX_PARAMS) {
        w->vals[w->nvals++] = (ringo_str){s.p, w->len - pos - 1};
        if (pick(&n->tail, w))
            return 1;
        w->nvals--;
    }
    return 0;
}

static int decode_params(const struct walk *w, ringo__arena *arena, ringo__route_match *m)
{
    const struct endpoint *ep = w->found;

    for (unsigned i = 0; i < w->nvals; i++) {
        ringo_str v = w->vals[i];

        if (w->pct && memchr(v.ptr, '%', v.len)) {
            char *d = ringo__arena_alloc(arena, v.len + 1);
            ssize_t n = d ? ringo__pct_decode(d, v.ptr, v.len, 0) : -ENOMEM;

            if (n < 0)
                return (int)n;
            d[n] = '\0';
            v = (ringo_str){d, (size_t)n};
        }
        m->params[i].name = ep->names[i];
        m->params[i].value = v;
    }
    m->nparams = w->nvals;
    return 0;
}

static int str_order(ringo_str a, ringo_str b)
{
    int c = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);

    return c ? c : (a.len > b.len) - (a.len < b.len);
}

/* "GET, HEAD, POST": sorted; a method that would overflow allow[] is left out. */
static void build_allow(const ringo__router *r, uint64_t mask, ringo__route_match *m)
{
    ringo_str v[MAX_METHODS + 1];
    int head = method_find(r, RINGO_STR_LIT("HEAD"));
    unsigned n = 0;
    size_t len = 0;

    for (unsigned i = 0; i < r->nmethods; i++)
        if (mask >> i & 1)
            v[n++] = r->methods[i];
    /* A GET route answers HEAD too (RFC 9110 section 9.3.2). */
    if (r->get >= 0 && (mask >> r->get & 1) && (head < 0 || !(mask >> head & 1)))
        v[n++] = RINGO_STR_LIT("HEAD");
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && str_order(v[j - 1], v[j]) > 0; j--) {
            ringo_str t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (unsigned i = 0; i < n; i++) {
        size_t need = v[i].len + (len ? 2 : 0);

        if (len + need >= sizeof(m->allow))
            break;
        if (len) {
            memcpy(m->allow + len, ", ", 2);
            len += 2;
        }
        memcpy(m->allow + len, v[i].ptr, v[i].len);
        len += v[i].len;
    }
    m->allow[len] = '\0';
    m->allow_len = len;
}

int ringo__router_match(const ringo__router *r, ringo_str method, ringo_str raw_path,
                        ringo__arena *arena, ringo__route_match *m)
{
    struct walk w;

    m->route = NULL;
    m->pattern = NULL;
    m->nparams = 0;
    m->allow[0] = '\0';
    m->allow_len = 0;
    if (raw_path.len == 0 || raw_path.ptr[0] != '/')
        return -ENOENT;
    w.pct = memchr(raw_path.ptr, '%', raw_path.len) != NULL;
    /* Checked over the whole path so that a bad escape is a 400 whichever
     * segments the routes happen to look at. */
    if (w.pct && ringo__pct_validate(raw_path.ptr, raw_path.len) < 0)
        return -EINVAL;
    w.path = raw_path.ptr;
    w.len = raw_path.len;
    w.method = method_find(r, method);
    w.head_get = ringo_str_eq(method, RINGO_STR_LIT("HEAD")) ? r->get : -1;
    w.allow = 0;
    w.path_found = 0;
    w.found = NULL;
    w.nvals = 0;
    if (!w.pct && r->exact_n) {
        const struct exact *x = exact_find(r, raw_path.ptr, raw_path.len);
        if (x && pick(x->here, &w)) {
            m->route = w.found->route;
            m->pattern = w.found->pattern;
            return 0;
        }
        /* No endpoint for this method there: the walk decides (it meets that node again). */
        w.allow = 0;
        w.path_found = 0;
        w.found = NULL;
    }
    if (!walk(&r->root, &w, 0)) {
        if (!w.path_found)
            return -ENOENT;
        build_allow(r, w.allow, m);
        return -EPERM;
    }
    m->route = w.found->route;
    m->pattern = w.found->pattern;
    return decode_params(&w, arena, m);
}
