/*
 * http/schema.c - declared routes (ringo/schema.h): checking a declaration
 * at registration, its compiled patterns, the typed accessors, and writing
 * a model instance as JSON.
 *
 * A declaration is borrowed (static const tables), so registration checks
 * all of it once: every later reader (the validator, the OpenAPI generator,
 * ringo_json_model()) may then trust types, sizes, offsets and lists.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "http/http_impl.h"
#include "http/schema_impl.h"

/* Where a field sits: its checks differ. */
enum kind { K_PARAM, K_BODY, K_ITEM };

/* Models on the path of the walk (a model may contain itself through an array). */
#define MAX_NEST 64

typedef struct walk {
    ringo_app *app; /* NULL: check only, compile nothing */
    const char *label;
    const char *pattern;
    const ringo_model *stack[MAX_NEST];
    unsigned depth;
    unsigned by_value; /* stack[by_value..depth) embed one another by value (no array between) */
    unsigned arrays;   /* arrays nested along the walk, bounded: .items may point in a cycle */
    bool quiet;
} walk;

static int bad(walk *w, const ringo_model *m, const ringo_field *f, const char *why)
{
    if (!w->quiet)
        fprintf(stderr, "ringo: %s: model '%s', field '%s': %s\n", w->label ? w->label : "model",
                m && m->name ? m->name : "?", f && f->name ? f->name : "(items)", why);
    return -EINVAL;
}

size_t ringo__type_size(const ringo_field *f)
{
    switch (f->type) {
    case RINGO_STRING: return sizeof(ringo_str);
    case RINGO_INT: return sizeof(int64_t);
    case RINGO_NUMBER: return sizeof(double);
    case RINGO_BOOL: return sizeof(bool);
    case RINGO_ENUM: return sizeof(int);
    case RINGO_OBJECT: return f->model ? f->model->size : 0;
    case RINGO_ARRAY: return sizeof(ringo_array);
    }
    return 0;
}

unsigned ringo__model_nfields(const ringo_model *m)
{
    unsigned n = 0;

    while (m->fields[n].type)
        n++;
    return n;
}

static int rx_add(walk *w, const ringo_model *m, const ringo_field *f)
{
    ringo__schemas *s;
    regex_t re;
    unsigned lo = 0, hi;
    int ret = regcomp(&re, f->pattern, REG_EXTENDED | REG_NOSUB);

    if (ret != 0) {
        char why[160], msg[200];
        regerror(ret, &re, why, sizeof(why));
        snprintf(msg, sizeof(msg), "pattern does not compile (POSIX ERE): %s", why);
        return ret == REG_ESPACE ? -ENOMEM : bad(w, m, f, msg);
    }
    if (!w->app) {
        regfree(&re);
        return 0;
    }
    s = w->app->schemas;
    if (!s && !(s = w->app->schemas = ringo__calloc(1, sizeof(*s)))) {
        regfree(&re);
        return -ENOMEM;
    }
    for (hi = s->n; lo < hi;) { /* sorted by address: one entry per field */
        unsigned mid = (lo + hi) / 2;
        if (s->rx[mid].f == f) {
            regfree(&re);
            return 0;
        }
        if ((uintptr_t)s->rx[mid].f < (uintptr_t)f)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (s->n == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 8;
        ringo__rx *v = ringo__realloc(s->rx, cap * sizeof(*v));
        if (!v) {
            regfree(&re);
            return -ENOMEM;
        }
        s->rx = v;
        s->cap = cap;
    }
    memmove(&s->rx[lo + 1], &s->rx[lo], (s->n - lo) * sizeof(*s->rx));
    s->rx[lo] = (ringo__rx){f, re};
    s->n++;
    return 0;
}

const regex_t *ringo__field_regex(const ringo_app *app, const ringo_field *f)
{
    const ringo__schemas *s = app ? app->schemas : NULL;
    unsigned lo = 0, hi = s ? s->n : 0;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (s->rx[mid].f == f)
            return &s->rx[mid].re;
        if ((uintptr_t)s->rx[mid].f < (uintptr_t)f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void ringo__schemas_free(ringo_app *app)
{
    ringo__schemas *s = app->schemas;

    if (!s)
        return;
    for (unsigned i = 0; i < s->n; i++)
        regfree(&s->rx[i].re);
    ringo__free(s->rx);
    ringo__free(s);
    app->schemas = NULL;
}

static bool words_zero(const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return false;
    return true;
}

static bool is_enum_value(const ringo_field *f, const char *s)
{
    for (const char *const *v = f->values; s && *v; v++)
        if (!strcmp(*v, s))
            return true;
    return false;
}

/* The path pattern has "{name}" or "{name...}". */
static bool in_pattern(const char *pattern, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = pattern ? strchr(pattern, '{') : NULL; p; p = strchr(p + 1, '{'))
        if (!strncmp(p + 1, name, n) && (p[n + 1] == '}' || !strncmp(p + n + 1, "...}", 4)))
            return true;
    return false;
}

static int check_model(walk *w, const ringo_model *m, enum kind kind);
static int check_object(walk *w, const ringo_model *m, const ringo_field *f);
static int check_items(walk *w, const ringo_model *m, const ringo_field *f);

/* Constraints that belong to another type are refused: they would be silently ignored. */
static int check_constraints(walk *w, const ringo_model *m, const ringo_field *f)
{
    bool num = f->type == RINGO_INT || f->type == RINGO_NUMBER;
    double b[] = {f->ge, f->gt, f->le, f->lt, f->multiple_of};

    if (!num && (f->has_ge || f->has_gt || f->has_le || f->has_lt || f->multiple_of != 0))
        return bad(w, m, f, "bounds on a type that is not a number");
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        if (!isfinite(b[i]))
            return bad(w, m, f, "a bound that is not a finite number");
    if (f->multiple_of < 0)
        return bad(w, m, f, "multiple_of is negative");
    if (f->type != RINGO_STRING && (f->min_length || f->max_length || f->pattern))
        return bad(w, m, f, "lengths or a pattern on a type that is not a string");
    if (f->max_length && f->min_length > f->max_length)
        return bad(w, m, f, "min_length is above max_length");
    if ((f->type == RINGO_ENUM) != (f->values != NULL))
        return bad(w, m, f, "an enum needs its values, and only an enum has some");
    if (f->values && !f->values[0])
        return bad(w, m, f, "an enum without values");
    if ((f->type == RINGO_OBJECT) != (f->model != NULL))
        return bad(w, m, f, "an object needs its model, and only an object has one");
    if ((f->type == RINGO_ARRAY) != (f->items != NULL))
        return bad(w, m, f, "an array needs its items, and only an array has them");
    if (f->type != RINGO_ARRAY && (f->min_items || f->max_items))
        return bad(w, m, f, "item counts on a type that is not an array");
    if (f->max_items && f->min_items > f->max_items)
        return bad(w, m, f, "min_items is above max_items");
    return 0;
}

static int check_default(walk *w, const ringo_model *m, const ringo_field *f)
{
    const ringo_default *d = &f->dflt;

    if (!d->has)
        return (d->b || d->i || d->d != 0 || d->s) ? bad(w, m, f, "a default without .has") : 0;
    switch (f->type) {
    case RINGO_OBJECT: return bad(w, m, f, "an object cannot have a default");
    case RINGO_STRING:
        return d->s ? 0 : bad(w, m, f, "a string default needs .s (RINGO_DEFAULT_STRING)");
    case RINGO_ENUM:
        return is_enum_value(f, d->s) ? 0 : bad(w, m, f, "the default is not one of the values");
    case RINGO_ARRAY:
        return (d->b || d->i || d->d != 0 || d->s) ? bad(w, m, f, "an array's default is empty")
                                                   : 0;
    case RINGO_NUMBER: return isfinite(d->d) ? 0 : bad(w, m, f, "the default is not finite");
    default: return 0;
    }
}

static int check_field(walk *w, const ringo_model *m, const ringo_field *f, enum kind kind)
{
    size_t sz = ringo__type_size(f);
    int ret;

    if (f->type < RINGO_STRING || f->type > RINGO_ARRAY)
        return bad(w, m, f, "unknown type");
    if (!words_zero(f->reserved, sizeof(f->reserved) / sizeof(f->reserved[0])))
        return bad(w, m, f, "reserved words are not zero");
    if ((ret = check_constraints(w, m, f)) < 0)
        return ret;
    if (f->size && f->size != sz)
        return bad(w, m, f, "the C member's size does not match the type (or the model)");
    if (kind == K_ITEM)
        goto nested;
    if (!f->name || !f->name[0])
        return bad(w, m, f, "no name");
    /* An embedded model is aligned as its widest member, which its size does not say. */
    if (f->offset + sz > m->size ||
        (f->type != RINGO_OBJECT && f->offset % (sz >= 8 ? 8 : sz) != 0))
        return bad(w, m, f, "the value member lies outside the struct, or misaligned");
    if (f->set && f->set - 1 + sizeof(bool) > m->size)
        return bad(w, m, f, "the set member lies outside the struct");
    if ((f->flags & ~(RINGO_F_OPTIONAL | RINGO_F_NULLABLE | RINGO_F_DEPRECATED)))
        return bad(w, m, f, "unknown flags");
    if (((f->flags & RINGO_F_OPTIONAL) && !f->dflt.has) || (f->flags & RINGO_F_NULLABLE))
        if (!f->set)
            return bad(w, m, f, "optional or nullable without a set member (RINGO_SET_AT)");
    if ((ret = check_default(w, m, f)) < 0)
        return ret;
    if (kind == K_PARAM) {
        if (f->type == RINGO_OBJECT || f->type == RINGO_ARRAY)
            return bad(w, m, f, "a parameter is a string, integer, number, boolean or enum");
        if (f->in > RINGO_LOC_COOKIE)
            return bad(w, m, f, "a parameter is in the path, query, a header or a cookie");
        if (f->in == RINGO_LOC_PATH &&
            (f->dflt.has || (f->flags & (RINGO_F_OPTIONAL | RINGO_F_NULLABLE))))
            return bad(w, m, f, "a path parameter is always required");
        if (f->in == RINGO_LOC_PATH && !in_pattern(w->pattern, f->name))
            return bad(w, m, f, "a path parameter that is not in the route's pattern");
    }
nested:
    if (f->pattern && (ret = rx_add(w, m, f)) < 0)
        return ret;
    if (f->type == RINGO_OBJECT)
        return check_object(w, m, f);
    if (f->type == RINGO_ARRAY)
        return check_items(w, m, f);
    return 0;
}

/* A model may hold itself only through an array: by value it would be infinitely large (a
 * declaration that says so anyway would make validation and the writer recurse forever). */
static int check_object(walk *w, const ringo_model *m, const ringo_field *f)
{
    for (unsigned i = w->by_value; i < w->depth; i++)
        if (w->stack[i] == f->model)
            return bad(w, m, f, "a model that contains itself by value (not through an array)");
    return check_model(w, f->model, K_BODY);
}

static int check_items(walk *w, const ringo_model *m, const ringo_field *f)
{
    unsigned by_value = w->by_value;
    int ret;

    if (w->arrays == MAX_NEST)
        return bad(w, m, f, "arrays nested too deep (items in a cycle?)");
    w->arrays++;
    w->by_value = w->depth;
    ret = check_field(w, m, f->items, K_ITEM);
    w->by_value = by_value;
    w->arrays--;
    return ret;
}

/* Two fields that would read the same value. Header names are case-insensitive (RFC 9110
 * §5.1): "X-Q" and "x-q" are one header. */
static bool same_name(const ringo_field *a, const ringo_field *b, enum kind kind)
{
    if (kind == K_BODY)
        return !strcmp(a->name, b->name);
    if (a->in != b->in)
        return false;
    return a->in == RINGO_LOC_HEADER ? !strcasecmp(a->name, b->name) : !strcmp(a->name, b->name);
}

static int check_model(walk *w, const ringo_model *m, enum kind kind)
{
    unsigned n;
    int ret;

    for (unsigned i = 0; i < w->depth; i++)
        if (w->stack[i] == m)
            return 0; /* checked on the way in (a recursive model) */
    if (w->depth == MAX_NEST)
        return bad(w, m, NULL, "models nested too deep");
    if (!m->fields || !m->size || !m->c_type)
        return bad(w, m, NULL, "a model needs fields, size and c_type (RINGO_MODEL_OF)");
    if (m->flags & ~RINGO_MODEL_FORBID_EXTRA)
        return bad(w, m, NULL, "unknown model flags");
    if (!words_zero(m->reserved, sizeof(m->reserved) / sizeof(m->reserved[0])))
        return bad(w, m, NULL, "reserved words are not zero");
    n = ringo__model_nfields(m);
    w->stack[w->depth++] = m;
    for (unsigned i = 0; i < n; i++) {
        if ((ret = check_field(w, m, &m->fields[i], kind)) < 0)
            return ret;
        for (unsigned j = 0; j < i; j++)
            if (same_name(&m->fields[i], &m->fields[j], kind))
                return bad(w, m, &m->fields[i], "declared twice");
    }
    w->depth--;
    return 0;
}

static int check_responses(walk *w, const ringo_response_spec *rs)
{
    for (; rs && rs->status; rs++) {
        int ret;
        if (rs->status < 100 || rs->status > 599 || (rs->model && rs->schema) ||
            !words_zero(rs->reserved, sizeof(rs->reserved) / sizeof(rs->reserved[0])))
            return bad(w, NULL, NULL, "a response needs a status 100..599, one schema at most");
        if (rs->model && (ret = check_model(w, rs->model, K_BODY)) < 0)
            return ret;
        if (rs->schema && (ret = check_field(w, NULL, rs->schema, K_ITEM)) < 0)
            return ret;
    }
    return 0;
}

int ringo__spec_add(ringo_app *app, const char *label, const char *pattern,
                    const ringo_route_opts *opts)
{
    const ringo_route_spec *s = opts ? opts->spec : NULL;
    walk w = {.app = app,
              .label = label,
              .pattern = pattern,
              .quiet = ringo__server_config(&app->srv)->quiet != 0};
    int ret;

    if (!s)
        return 0;
    if ((s->flags & ~(RINGO_SPEC_DEPRECATED | RINGO_SPEC_BODY_OPTIONAL | RINGO_SPEC_HIDDEN)) ||
        !words_zero(s->reserved, sizeof(s->reserved) / sizeof(s->reserved[0])))
        return bad(&w, NULL, NULL, "unknown spec flags, or reserved words not zero");
    if (s->body && (opts->flags & RINGO_ROUTE_STREAM_BODY))
        return bad(&w, s->body, NULL, "a declared body is buffered: not RINGO_ROUTE_STREAM_BODY");
    if (s->params && (ret = check_model(&w, s->params, K_PARAM)) < 0)
        return ret;
    if (s->body && (ret = check_model(&w, s->body, K_BODY)) < 0)
        return ret;
    return check_responses(&w, s->responses);
}

int ringo__model_check(const ringo_model *m)
{
    walk w = {.quiet = true};

    return check_model(&w, m, K_BODY);
}

/* ---- typed access ---- */

static void *typed(ringo_req *req, void *value, const ringo_model *m, const char *type)
{
    if (!value || !type || !m || !strcmp(type, m->c_type))
        return value;
    fprintf(stderr, "ringo: %s: the declared model is %s, not %s\n",
            req->route ? req->route->label : "?", m->c_type, type);
    return NULL;
}

void *ringo_req_params_value(ringo_req *req, const char *type)
{
    const ringo_route_spec *s = req && req->route ? req->route->opts.spec : NULL;

    return s ? typed(req, req->params_value, s->params, type) : NULL;
}

void *ringo_req_body_value(ringo_req *req, const char *type)
{
    const ringo_route_spec *s = req && req->route ? req->route->opts.spec : NULL;

    return s ? typed(req, req->body_value, s->body, type) : NULL;
}

/* ---- serializing ---- */

static void write_value(ringo_json_w *w, const ringo_field *f, const char *p);

static void write_model(ringo_json_w *w, const ringo_model *m, const char *p)
{
    ringo_json_obj(w);
    for (const ringo_field *f = m->fields; f->type; f++) {
        bool unset = f->set && !p[f->set - 1];
        /* Unset reads back as it came: null where null is allowed, else absent. */
        if (unset && !(f->flags & RINGO_F_NULLABLE))
            continue;
        ringo_json_key(w, f->name);
        if (unset)
            ringo_json_null(w);
        else
            write_value(w, f, p + f->offset);
    }
    ringo_json_end(w);
}

static void write_value(ringo_json_w *w, const ringo_field *f, const char *p)
{
    switch (f->type) {
    case RINGO_STRING: {
        ringo_str s;
        memcpy(&s, p, sizeof(s));
        ringo_json_str(w, s.ptr ? s.ptr : "", s.len);
        break;
    }
    case RINGO_INT: {
        int64_t v;
        memcpy(&v, p, sizeof(v));
        ringo_json_int(w, v);
        break;
    }
    case RINGO_NUMBER: {
        double v;
        memcpy(&v, p, sizeof(v));
        ringo_json_double(w, v);
        break;
    }
    case RINGO_BOOL: ringo_json_bool(w, *(const bool *)p); break;
    case RINGO_ENUM: {
        int v;
        unsigned n = 0;
        memcpy(&v, p, sizeof(v));
        while (f->values[n])
            n++;
        if (v >= 0 && (unsigned)v < n)
            ringo_json_cstr(w, f->values[v]);
        else
            ringo_json_null(w);
        break;
    }
    case RINGO_OBJECT: write_model(w, f->model, p); break;
    case RINGO_ARRAY: {
        ringo_array a;
        size_t sz = ringo__type_size(f->items);
        memcpy(&a, p, sizeof(a));
        ringo_json_arr(w);
        for (size_t i = 0; i < a.len; i++)
            write_value(w, f->items, (const char *)a.items + i * sz);
        ringo_json_end(w);
        break;
    }
    }
}

void ringo_json_model(ringo_json_w *w, const ringo_model *model, const void *value)
{
    if (!w)
        return;
    if (!model || !value || !model->fields) {
        /* A misuse fails the writer like its own misuses do (sticky -EINVAL). */
        if (!w->err)
            w->err = -EINVAL;
        return;
    }
    write_model(w, model, value);
}
