/*
 * http/validate.c - a declared route's request checked before its
 * dependencies and handler run: parameters, then the JSON body, converted
 * into the application's structs, every failure recorded as pydantic v2
 * reports it (types, messages, loc, input, ctx), so that a client written
 * for FastAPI reads ringo's 422 unchanged.
 *
 * The body is parsed once with the pull lexer (http/json.h) straight into
 * the declared structs: no tree. Conversions are pydantic's lax mode for
 * JSON input (FastAPI's default): an integer field takes 5, 5.0, "5" and
 * true; a number field 1.5, 2, "1.5" and true; a boolean field true/false,
 * 0/1, 0.0/1.0 and the strings pydantic takes ("yes", "off", ...); a string
 * field only a string. Errors are ordered as pydantic orders them: by field
 * declaration inside an object, then unknown members, array items by index.
 *
 * Memory: everything in the request arena. Values are stored only while the
 * request has no error (a failing request only needs its errors), item
 * storage past an array's max_items is never taken, and a budget relative
 * to the body's size bounds what a hostile body (a million empty objects
 * for a large model) can make ringo allocate: past it, 413.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "http/http_impl.h"
#include "http/json.h"
#include "http/schema_impl.h"

/* Bytes of converted values a body may cost: this many times its size, plus the floor. */
#define BUDGET_FACTOR 16
#define BUDGET_FLOOR 65536
/* Bytes of JSON inputs (objects, arrays) the errors of a body may echo: this many times its size,
 * plus the floor. Each "missing" echoes its whole object, so k missing fields of a large object
 * (or of each level of a recursive model) would make the 422 k times the body. */
#define INPUT_FACTOR 2

/* A member of loc below "body": a key or an index. */
typedef struct seg {
    ringo_str key;
    size_t idx;
    bool is_idx;
} seg;

/* The input of an error: none (null), a string (escaped when written) or JSON text. */
typedef struct vin {
    ringo_str s;
    int kind; /* IN_NONE, IN_STR, IN_JSON */
} vin;
enum { IN_NONE, IN_STR, IN_JSON };

typedef struct vctx {
    ringo_req *r;
    const ringo_app *app;
    ringo__jlex lx;
    ringo__verr *head, **tail; /* this validation's errors, appended to the request's at the end */
    unsigned n, max;           /* recorded, at most max (RINGO_MAX_ERRORS, or what is left) */
    bool failed;               /* an error was seen: stop storing values */
    bool oom;                  /* a message or ctx could not be allocated */
    bool optional;             /* RINGO_SPEC_BODY_OPTIONAL: null is no body, not an error */
    size_t spent, budget;      /* bytes of converted values */
    size_t in_left;            /* bytes of JSON inputs errors may still echo (INPUT_FACTOR) */
    bool in_spent;             /* an error's input did not fit in in_left: no more errors */
    seg path[RINGO_JSON_MAX_DEPTH + 2];
    unsigned depth;
} vctx;

enum { FATAL_JSON = -20100 }; /* the lexer failed: json_invalid replaces every other error */

/* ---- numbers as Python writes them ---- */

/* repr(float): the shortest digits that read back, positional from 1e-4 to 1e16. */
static void py_float(double d, char *out, size_t cap)
{
    char buf[40], digits[24];
    int prec, exp, nd = 0;
    const char *p;

    if (!isfinite(d)) {
        snprintf(out, cap, "null");
        return;
    }
    for (prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    p = buf + (buf[0] == '-');
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    digits[nd] = 0;
    exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    if (exp < -4 || exp >= 16) {
        snprintf(out, cap, "%s%c%s%se%c%02d", d < 0 ? "-" : "", digits[0], nd > 1 ? "." : "",
                 digits + 1, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        snprintf(out, cap, "%s0.%.*s%s", d < 0 ? "-" : "", -exp - 1, "0000", digits);
    } else {
        int ip = exp + 1; /* digits before the point */
        snprintf(out, cap, "%s%.*s%.*s%s%s", d < 0 ? "-" : "", nd < ip ? nd : ip, digits,
                 nd < ip ? ip - nd : 0, "0000000000000000", nd > ip ? "." : ".0",
                 nd > ip ? digits + ip : "");
    }
}

/* A declared bound as pydantic shows it: integral ones as integers (gt=0, not 0.0). */
static void py_bound(double v, char *out, size_t cap)
{
    if (v == floor(v) && fabs(v) < 1e16)
        snprintf(out, cap, "%.0f", v);
    else
        py_float(v, out, cap);
}

/* ---- recording ---- */

static size_t json_escaped_len(ringo_str s)
{
    size_t n = 2;

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        n += c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
    }
    return n;
}

static char *json_escaped(char *p, ringo_str s)
{
    *p++ = '"';
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

/* The loc members below "body" as JSON text: ,"items",2,"price" (arena). */
static const char *path_json(vctx *v)
{
    size_t n = 1;
    char *b, *p;

    for (unsigned i = 0; i < v->depth; i++)
        n += 1 + (v->path[i].is_idx ? 20 : json_escaped_len(v->path[i].key));
    p = b = ringo_req_alloc(v->r, n);
    if (!b)
        return NULL;
    for (unsigned i = 0; i < v->depth; i++) {
        *p++ = ',';
        if (v->path[i].is_idx)
            p += sprintf(p, "%zu", v->path[i].idx);
        else
            p = json_escaped(p, v->path[i].key);
    }
    *p = 0;
    return b;
}

/* Past RINGO_MAX_ERRORS nothing more is recorded, so nothing more is formatted. */
static bool full(vctx *v)
{
    if (v->n < v->max && !v->in_spent)
        return false;
    v->failed = true;
    return true;
}

/* Arena memory for an error's text: NULL once full, or on failure (then v->oom). */
static char *room(vctx *v, size_t cap)
{
    char *s = full(v) ? NULL : ringo_req_alloc(v->r, cap);

    v->oom |= !s && !full(v);
    return s;
}

/* Text in the arena for an error ("" when there is no room). */
static char *fmt(vctx *v, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static char *fmt(vctx *v, size_t cap, const char *f, ...)
{
    char *s = room(v, cap);
    va_list ap;

    if (!s)
        return (char *)"";
    va_start(ap, f);
    vsnprintf(s, cap, f, ap);
    va_end(ap);
    return s;
}

/*
 * Appends an error. loc RINGO_LOC_FORM is the body (loc from the path),
 * any other a parameter (name). Returns 1 (recorded, or dropped past
 * RINGO_MAX_ERRORS) or -ENOMEM.
 */
static int add(vctx *v, ringo_loc loc, const char *name, const char *type, const char *msg, vin in,
               const char *ctx)
{
    ringo__verr *e;

    v->failed = true;
    if (v->oom)
        return -ENOMEM;
    if (full(v))
        return 1;
    e = ringo_req_alloc(v->r, sizeof(*e));
    if (!e)
        return -ENOMEM;
    *e = (ringo__verr){.loc = loc,
                       .name = name ? name : "",
                       .type = type,
                       .msg = msg,
                       .input = in.s,
                       .has_input = in.kind != IN_NONE,
                       .input_json = in.kind == IN_JSON,
                       .ctx = ctx};
    if (loc == RINGO_LOC_FORM && !(e->path = path_json(v)))
        return -ENOMEM;
    *v->tail = e;
    v->tail = &e->next;
    v->n++;
    return 1;
}

/* ---- the input of a body error ---- */

/* Takes n bytes of the inputs' allowance; past it, the error and all later ones are dropped. */
static bool charge(vctx *v, size_t n)
{
    if (n > v->in_left) {
        v->in_spent = v->failed = true;
        return false;
    }
    v->in_left -= n;
    return true;
}

/* JSON text [a, b) without the whitespace between tokens, as Python's compact dumps. */
static vin compact(vctx *v, const char *a, const char *b)
{
    char *o = full(v) || !charge(v, (size_t)(b - a)) ? NULL : room(v, (size_t)(b - a)), *p = o;
    bool in_str = false;

    if (!o)
        return (vin){{"", 0}, IN_NONE};
    for (; a < b; a++) {
        char c = *a;
        if (in_str) {
            *p++ = c;
            if (c == '\\')
                *p++ = *++a;
            else if (c == '"')
                in_str = false;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            in_str = c == '"';
            *p++ = c;
        }
    }
    return (vin){{o, (size_t)(p - o)}, IN_JSON};
}

/* The current scalar token as an input. */
static vin scalar_in(vctx *v, ringo__jtok t)
{
    char *b;

    switch (t) {
    case RINGO__JTOK_STR: return (vin){v->lx.str, IN_STR};
    case RINGO__JTOK_NUM:
        if (v->lx.int_too_big)
            return (vin){v->lx.raw, IN_JSON};
        b = room(v, 32);
        if (!b)
            return (vin){{"", 0}, IN_NONE};
        py_float(v->lx.d, b, 32);
        return (vin){{b, strlen(b)}, IN_JSON};
    default: return (vin){v->lx.raw, IN_JSON};
    }
}

/*
 * The value that starts with token t, whole, as an input: a container is
 * consumed to its end (checked by the lexer). FATAL_JSON when it is malformed.
 */
static int value_in(vctx *v, ringo__jtok t, vin *out)
{
    const char *a = v->lx.raw.ptr;

    if (t != RINGO__JTOK_OBJ && t != RINGO__JTOK_ARR) {
        *out = scalar_in(v, t);
        return 0;
    }
    if (ringo__jlex_skip(&v->lx, t) == RINGO__JTOK_ERROR)
        return FATAL_JSON;
    *out = compact(v, a, v->lx.raw.ptr + v->lx.raw.len);
    return 0;
}

/* A wrong type: the value (consumed) is the input. */
static int type_err(vctx *v, ringo__jtok t, const char *type, const char *msg, const char *ctx)
{
    vin in = {{"", 0}, IN_NONE};
    int ret;

    if (full(v)) /* nothing more is recorded: only check the value */
        return (t == RINGO__JTOK_OBJ || t == RINGO__JTOK_ARR) &&
                       ringo__jlex_skip(&v->lx, t) == RINGO__JTOK_ERROR
                   ? FATAL_JSON
                   : 1;
    ret = value_in(v, t, &in);
    return ret < 0 ? ret : add(v, RINGO_LOC_FORM, NULL, type, msg, in, ctx);
}

/* ---- constraints, shared by parameters and body ---- */

typedef struct verr_desc {
    const char *type, *msg, *ctx;
} verr_desc;

static bool str_err(vctx *v, const ringo_field *f, ringo_str s, verr_desc *d);
static bool int_err(vctx *v, const ringo_field *f, int64_t n, verr_desc *d);
static bool num_err(vctx *v, const ringo_field *f, double x, verr_desc *d);

/*
 * Code points of s, an invalid sequence (a parameter's %FF) counted as the one U+FFFD the 422
 * writes for it: the bound is checked on the text the client is shown.
 */
static size_t utf8_len(ringo_str s)
{
    size_t n = 0;
    bool ok;

    for (size_t i = 0; i < s.len; n++)
        i += ringo__utf8_step(s.ptr + i, s.ptr + s.len, &ok);
    return n;
}

/*
 * Whether s matches f's pattern (compiled at registration; else here, for this call).
 * regexec() reads a C string: a value with a NUL in it ("ab\u0000<script>", ?s=ab%00...)
 * would be judged by its head alone, so it never matches.
 */
static bool matches(vctx *v, const ringo_field *f, ringo_str s)
{
    const regex_t *re = ringo__field_regex(v->app, f);
    char *z;
    regex_t own;
    bool ok;

    if (memchr(s.ptr, 0, s.len))
        return false;
    z = ringo__arena_dup(&v->r->arena, s.ptr, s.len);
    if (!z) {
        v->oom = true;
        return true;
    }
    if (re)
        return regexec(re, z, 0, NULL, 0) == 0;
    /* A model no route registered (ringo_model_parse()). */
    if (regcomp(&own, f->pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    ok = regexec(&own, z, 0, NULL, 0) == 0;
    regfree(&own);
    return ok;
}

static char *ctx_str(vctx *v, const char *key, const char *val)
{
    ringo_str s = ringo_str_c(val);
    char *b = room(v, strlen(key) + json_escaped_len(s) + 8), *p = b;

    if (!b)
        return (char *)"";
    p += sprintf(p, "{\"%s\":", key);
    p = json_escaped(p, s);
    strcpy(p, "}");
    return b;
}

/* String constraints in pydantic's order: min_length, max_length, pattern. */
static bool str_err(vctx *v, const ringo_field *f, ringo_str s, verr_desc *d)
{
    size_t n = (f->min_length || f->max_length) ? utf8_len(s) : 0;

    if (f->min_length && n < f->min_length) {
        *d = (verr_desc){"string_too_short",
                         fmt(v, 64, "String should have at least %zu character%s", f->min_length,
                             f->min_length == 1 ? "" : "s"),
                         fmt(v, 48, "{\"min_length\":%zu}", f->min_length)};
        return true;
    }
    if (f->max_length && n > f->max_length) {
        *d = (verr_desc){"string_too_long",
                         fmt(v, 64, "String should have at most %zu character%s", f->max_length,
                             f->max_length == 1 ? "" : "s"),
                         fmt(v, 48, "{\"max_length\":%zu}", f->max_length)};
        return true;
    }
    if (f->pattern && !matches(v, f, s)) {
        *d = (verr_desc){
            "string_pattern_mismatch",
            fmt(v, strlen(f->pattern) + 32, "String should match pattern '%s'", f->pattern),
            ctx_str(v, "pattern", f->pattern)};
        return true;
    }
    return false;
}

static bool bound_err(vctx *v, verr_desc *d, const char *type, const char *words, const char *key,
                      double b)
{
    char num[40];

    py_bound(b, num, sizeof(num));
    *d = (verr_desc){type, fmt(v, 96, "Input should be %s %s", words, num),
                     fmt(v, 64, "{\"%s\":%s}", key, num)};
    return true;
}

/* Bounds in pydantic's order: multiple_of, le, lt, ge, gt. Exact for every int64_t. */
static bool int_err(vctx *v, const ringo_field *f, int64_t n, verr_desc *d)
{
    long double x = (long double)n;

    if (f->multiple_of != 0) {
        long double q = x / (long double)f->multiple_of;
        if (q != floorl(q))
            return bound_err(v, d, "multiple_of", "a multiple of", "multiple_of", f->multiple_of);
    }
    if (f->has_le && !(x <= (long double)f->le))
        return bound_err(v, d, "less_than_equal", "less than or equal to", "le", f->le);
    if (f->has_lt && !(x < (long double)f->lt))
        return bound_err(v, d, "less_than", "less than", "lt", f->lt);
    if (f->has_ge && !(x >= (long double)f->ge))
        return bound_err(v, d, "greater_than_equal", "greater than or equal to", "ge", f->ge);
    if (f->has_gt && !(x > (long double)f->gt))
        return bound_err(v, d, "greater_than", "greater than", "gt", f->gt);
    return false;
}

static bool num_err(vctx *v, const ringo_field *f, double x, verr_desc *d)
{
    if (f->multiple_of != 0) {
        double q = x / f->multiple_of;
        /* Within rounding: 0.3 is a multiple of 0.1. */
        if (fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q)))
            return bound_err(v, d, "multiple_of", "a multiple of", "multiple_of", f->multiple_of);
    }
    if (f->has_le && !(x <= f->le))
        return bound_err(v, d, "less_than_equal", "less than or equal to", "le", f->le);
    if (f->has_lt && !(x < f->lt))
        return bound_err(v, d, "less_than", "less than", "lt", f->lt);
    if (f->has_ge && !(x >= f->ge))
        return bound_err(v, d, "greater_than_equal", "greater than or equal to", "ge", f->ge);
    if (f->has_gt && !(x > f->gt))
        return bound_err(v, d, "greater_than", "greater than", "gt", f->gt);
    return false;
}

/* "Input should be 'a', 'b' or 'c'" and ctx {"expected":"'a', 'b' or 'c'"}. */
static void enum_err(vctx *v, const ringo_field *f, verr_desc *d)
{
    size_t n = 16, k = 0;
    char *e, *p;

    for (const char *const *s = f->values; *s; s++, k++)
        n += strlen(*s) + 6;
    p = e = room(v, n);
    if (!e) {
        *d = (verr_desc){"enum", "", ""};
        return;
    }
    for (size_t i = 0; i < k; i++)
        p += sprintf(p, "%s'%s'", i == 0 ? "" : i + 1 == k ? " or " : ", ", f->values[i]);
    *d = (verr_desc){"enum", fmt(v, n + 20, "Input should be %s", e), ctx_str(v, "expected", e)};
}

static int enum_index(const ringo_field *f, ringo_str s)
{
    for (int i = 0; f->values[i]; i++)
        if (strlen(f->values[i]) == s.len && !memcmp(f->values[i], s.ptr, s.len))
            return i;
    return -1;
}

static bool bool_word(ringo_str s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
    static const char *const no[] = {"false", "0", "no", "off", "f", "n"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (s.len == strlen(yes[i]) && ringo__ascii_iequal(s.ptr, yes[i], s.len))
            return *out = true, true;
        if (s.len == strlen(no[i]) && ringo__ascii_iequal(s.ptr, no[i], s.len))
            return *out = false, true;
    }
    return false;
}

/* A number written in a string ("5", " 1.5 "): the lexer reads it as JSON would. */
static ringo__jtok str_number(ringo_str s, int64_t *i, double *d)
{
    ringo__jlex lx;
    ringo__jtok t, end;

    ringo__jlex_init(&lx, s.ptr, s.len, 1, NULL, NULL);
    t = ringo__jlex_next(&lx);
    if (t == RINGO__JTOK_INT || t == RINGO__JTOK_NUM) {
        *i = lx.i;
        *d = lx.d;
        if (t == RINGO__JTOK_NUM && lx.int_too_big)
            t = RINGO__JTOK_ERROR;
        end = ringo__jlex_next(&lx);
        if (end != RINGO__JTOK_EOF)
            t = RINGO__JTOK_ERROR;
    } else {
        t = RINGO__JTOK_ERROR;
    }
    ringo__jlex_free(&lx);
    return t;
}

/* ---- body values ---- */

static int object(vctx *v, const ringo_model *m, void *dst);
static int field_value(vctx *v, const ringo_field *f, ringo__jtok t, void *dst);

/* Memory for converted values: 0, -E2BIG past the budget, -ENOMEM. */
static int take(vctx *v, size_t n, void **out)
{
    if (n > v->budget - v->spent)
        return -E2BIG;
    v->spent += n;
    *out = ringo_req_alloc(v->r, n);
    return *out ? 0 : -ENOMEM;
}

static int got(vctx *v, verr_desc *d, ringo__jtok t)
{
    return type_err(v, t, d->type, d->msg, d->ctx);
}

static int v_string(vctx *v, const ringo_field *f, ringo__jtok t, void *dst)
{
    verr_desc d;

    if (t != RINGO__JTOK_STR)
        return type_err(v, t, "string_type", "Input should be a valid string", NULL);
    if (str_err(v, f, v->lx.str, &d))
        return got(v, &d, t);
    if (dst)
        memcpy(dst, &v->lx.str, sizeof(ringo_str));
    return 0;
}

#define I64_MAX_TEXT "9223372036854775807"
#define I64_MIN_TEXT "-9223372036854775808"

static int v_int(vctx *v, const ringo_field *f, ringo__jtok t, void *dst)
{
    int64_t n = 0;
    double d;
    verr_desc e;

    switch (t) {
    case RINGO__JTOK_INT: n = v->lx.i; break;
    case RINGO__JTOK_TRUE:
    case RINGO__JTOK_FALSE: n = t == RINGO__JTOK_TRUE; break;
    case RINGO__JTOK_NUM:
        d = v->lx.d;
        if (!v->lx.int_too_big && d != floor(d))
            return type_err(v, t, "int_from_float",
                            "Input should be a valid integer, got a number with a fractional part",
                            NULL);
        /* pydantic has big integers; ringo's are int64_t: outside is a bound error. */
        if (v->lx.int_too_big || d >= 0x1p63 || d < -0x1p63)
            return d > 0 ? type_err(v, t, "less_than_equal",
                                    "Input should be less than or equal to " I64_MAX_TEXT,
                                    "{\"le\":" I64_MAX_TEXT "}")
                         : type_err(v, t, "greater_than_equal",
                                    "Input should be greater than or equal to " I64_MIN_TEXT,
                                    "{\"ge\":" I64_MIN_TEXT "}");
        n = (int64_t)d;
        break;
    case RINGO__JTOK_STR:
        if (str_number(v->lx.str, &n, &d) != RINGO__JTOK_INT)
            return type_err(v, t, "int_parsing",
                            "Input should be a valid integer, unable to parse string as an integer",
                            NULL);
        break;
    default: return type_err(v, t, "int_type", "Input should be a valid integer", NULL);
    }
    if (int_err(v, f, n, &e))
        return got(v, &e, t);
    if (dst)
        memcpy(dst, &n, sizeof(n));
    return 0;
}

static int v_number(vctx *v, const ringo_field *f, ringo__jtok t, void *dst)
{
    double x;
    int64_t i;
    verr_desc e;

    switch (t) {
    case RINGO__JTOK_INT:
    case RINGO__JTOK_NUM: x = v->lx.d; break;
    case RINGO__JTOK_TRUE:
    case RINGO__JTOK_FALSE: x = t == RINGO__JTOK_TRUE; break;
    case RINGO__JTOK_STR:
        if (str_number(v->lx.str, &i, &x) == RINGO__JTOK_ERROR)
            return type_err(v, t, "float_parsing",
                            "Input should be a valid number, unable to parse string as a number",
                            NULL);
        break;
    default: return type_err(v, t, "float_type", "Input should be a valid number", NULL);
    }
    if (num_err(v, f, x, &e))
        return got(v, &e, t);
    if (dst)
        memcpy(dst, &x, sizeof(x));
    return 0;
}

static int v_bool(vctx *v, const ringo__jtok t, void *dst)
{
    bool b;

    switch (t) {
    case RINGO__JTOK_TRUE:
    case RINGO__JTOK_FALSE: b = t == RINGO__JTOK_TRUE; break;
    case RINGO__JTOK_INT:
    case RINGO__JTOK_NUM:
        if ((v->lx.d != 0 && v->lx.d != 1) || v->lx.int_too_big)
            goto parsing;
        b = v->lx.d == 1;
        break;
    case RINGO__JTOK_STR:
        if (!bool_word(v->lx.str, &b))
            goto parsing;
        break;
    default: return type_err(v, t, "bool_type", "Input should be a valid boolean", NULL);
    }
    if (dst)
        *(bool *)dst = b;
    return 0;
parsing:
    return type_err(v, t, "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input", NULL);
}

static int v_enum(vctx *v, const ringo_field *f, ringo__jtok t, void *dst)
{
    int i = t == RINGO__JTOK_STR ? enum_index(f, v->lx.str) : -1;
    verr_desc d;

    if (i < 0) {
        enum_err(v, f, &d);
        return got(v, &d, t);
    }
    if (dst)
        memcpy(dst, &i, sizeof(i));
    return 0;
}

static int v_object(vctx *v, const ringo_field *f, ringo__jtok t, void *dst)
{
    const char *name = f->model->name ? f->model->name : f->model->c_type;

    if (t != RINGO__JTOK_OBJ)
        return type_err(
            v, t, "model_type",
            fmt(v, strlen(name) + 64, "Input should be a valid dictionary or instance of %s", name),
            ctx_str(v, "class_name", name));
    return object(v, f->model, dst);
}

/* Drops the errors recorded after *mark (a list's too_long replaces its items' errors). */
static void truncate_errors(vctx *v, ringo__verr **mark, unsigned n)
{
    *mark = NULL;
    v->tail = mark;
    v->n = n;
}

static int list_len_err(vctx *v, const char *start, const char *type, const char *word,
                        size_t bound, size_t len)
{
    vin in = compact(v, start, v->lx.raw.ptr + v->lx.raw.len);
    const char *msg = fmt(v, 96, "List should have at %s %zu item%s after validation, not %zu",
                          word, bound, bound == 1 ? "" : "s", len);
    const char *ctx = fmt(v, 96, "{\"field_type\":\"List\",\"%s\":%zu,\"actual_length\":%zu}",
                          *word == 'l' ? "min_length" : "max_length", bound, len);

    return add(v, RINGO_LOC_FORM, NULL, type, msg, in, ctx);
}

static int v_array(vctx *v, const ringo_field *f, ringo__jtok t, void *dst)
{
    const char *start = v->lx.raw.ptr;
    size_t sz = ringo__type_size(f->items), n = 0, cap = 0;
    ringo__verr **mark = v->tail;
    unsigned nmark = v->n;
    char *items = NULL;
    int ret;

    if (t != RINGO__JTOK_ARR)
        return type_err(v, t, "list_type", "Input should be a valid list", NULL);
    if (v->depth >= sizeof(v->path) / sizeof(v->path[0]))
        return FATAL_JSON;
    for (;; n++) {
        void *slot = NULL;
        t = ringo__jlex_next(&v->lx);
        if (t == RINGO__JTOK_ERROR)
            return FATAL_JSON;
        if (t == RINGO__JTOK_ARR_END)
            break;
        if (f->max_items && n >= f->max_items) { /* too long: the rest is only checked */
            if (ringo__jlex_skip(&v->lx, t) == RINGO__JTOK_ERROR)
                return FATAL_JSON;
            continue;
        }
        if (dst && !v->failed && n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            void *g;
            if ((ret = take(v, ncap * sz, &g)) < 0)
                return ret;
            if (n)
                memcpy(g, items, n * sz);
            items = g;
            cap = ncap;
        }
        if (dst && !v->failed && items)
            slot = items + n * sz;
        v->path[v->depth++] = (seg){.idx = n, .is_idx = true};
        ret = field_value(v, f->items, t, slot);
        v->depth--;
        if (ret < 0)
            return ret;
    }
    if (f->max_items && n > f->max_items) {
        truncate_errors(v, mark, nmark);
        return list_len_err(v, start, "too_long", "most", f->max_items, n);
    }
    if (f->min_items && n < f->min_items && v->n == nmark && !v->in_spent) /* items' errors win */
        return list_len_err(v, start, "too_short", "least", f->min_items, n);
    if (dst && !v->failed)
        memcpy(dst, &(ringo_array){items, n}, sizeof(ringo_array));
    return 0;
}

/* The value of f that starts with token t (an item's too). 0 valid, 1 error recorded. */
static int field_value(vctx *v, const ringo_field *f, ringo__jtok t, void *dst)
{
    switch (f->type) {
    case RINGO_STRING: return v_string(v, f, t, dst);
    case RINGO_INT: return v_int(v, f, t, dst);
    case RINGO_NUMBER: return v_number(v, f, t, dst);
    case RINGO_BOOL: return v_bool(v, t, dst);
    case RINGO_ENUM: return v_enum(v, f, t, dst);
    case RINGO_OBJECT: return v_object(v, f, t, dst);
    case RINGO_ARRAY: return v_array(v, f, t, dst);
    }
    return -EINVAL;
}

/* An absent field that is not required: its default, or not set. */
static void absent(const ringo_field *f, char *dst)
{
    const ringo_default *d = &f->dflt;
    char *p;

    if (!dst || !d->has)
        return;
    p = dst + f->offset; /* not before: an offset on NULL is undefined */
    switch (f->type) {
    case RINGO_STRING: memcpy(p, &(ringo_str){d->s, strlen(d->s)}, sizeof(ringo_str)); break;
    case RINGO_INT: memcpy(p, &d->i, sizeof(d->i)); break;
    case RINGO_NUMBER: memcpy(p, &d->d, sizeof(d->d)); break;
    case RINGO_BOOL: *(bool *)p = d->b; break;
    case RINGO_ENUM: {
        int i = enum_index(f, ringo_str_c(d->s));
        memcpy(p, &i, sizeof(i));
        break;
    }
    default: break; /* an array: empty (zeroed) */
    }
    if (f->set)
        dst[f->set - 1] = true;
}

/* Stable sort of the errors after *mark by key: pydantic's order inside one object. */
static int sort_errors(vctx *v, ringo__verr **mark)
{
    ringo__verr *a[RINGO_MAX_ERRORS], *e;
    unsigned n = 0;

    for (e = *mark; e; e = e->next)
        a[n++] = e;
    for (unsigned i = 1; i < n; i++) { /* insertion sort: n <= 64, mostly sorted */
        ringo__verr *x = a[i];
        unsigned j = i;
        while (j > 0 && a[j - 1]->key > x->key) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
    v->tail = mark;
    for (unsigned i = 0; i < n; i++) {
        *v->tail = a[i];
        v->tail = &a[i]->next;
    }
    *v->tail = NULL;
    return 0;
}

static void set_keys(ringo__verr *from, unsigned key)
{
    for (; from; from = from->next)
        from->key = key;
}

static const ringo_field *find_field(const ringo_model *m, ringo_str key, unsigned *idx)
{
    for (unsigned i = 0; m->fields[i].type; i++)
        if (strlen(m->fields[i].name) == key.len && !memcmp(m->fields[i].name, key.ptr, key.len)) {
            *idx = i;
            return &m->fields[i];
        }
    return NULL;
}

/* One member: its value (the lexer is on the key). */
static int member(vctx *v, const ringo_model *m, char *dst, uint8_t *seen)
{
    ringo_str key = v->lx.str;
    ringo__verr **mark = v->tail;
    ringo__jtok t = ringo__jlex_next(&v->lx);
    unsigned idx = 0, nf = ringo__model_nfields(m);
    const ringo_field *f;
    int ret;

    if (t == RINGO__JTOK_ERROR)
        return FATAL_JSON;
    if (v->depth >= sizeof(v->path) / sizeof(v->path[0]))
        return FATAL_JSON;
    v->path[v->depth++] = (seg){.key = key};
    f = find_field(m, key, &idx);
    if (!f && (m->flags & RINGO_MODEL_FORBID_EXTRA)) {
        ret = type_err(v, t, "extra_forbidden", "Extra inputs are not permitted", NULL);
        idx = nf;
    } else if (!f) {
        ret = ringo__jlex_skip(&v->lx, t) == RINGO__JTOK_ERROR ? FATAL_JSON : 0;
    } else if (t == RINGO__JTOK_NULL && (f->flags & RINGO_F_NULLABLE)) {
        ret = 0; /* None: the set member stays false */
    } else {
        ret = field_value(v, f, t, dst && !v->failed ? dst + f->offset : NULL);
        if (ret == 0 && dst && f->set && !v->failed)
            dst[f->set - 1] = true;
    }
    v->depth--;
    if (f)
        seen[idx] = 1;
    if (*mark)
        set_keys(*mark, idx);
    return ret < 0 ? ret : 0;
}

/* An object of model m (the lexer is on its '{'). */
static int object(vctx *v, const ringo_model *m, void *out)
{
    const char *start = v->lx.raw.ptr;
    unsigned nf = ringo__model_nfields(m);
    ringo__verr **mark = v->tail;
    uint8_t small[64], *seen = small;
    char *dst = out;
    vin whole = {{"", 0}, IN_NONE}; /* the object's text, one copy for all its "missing" */
    ringo__jtok t;
    int ret;

    if (nf > sizeof(small) && (ret = take(v, nf, (void **)&seen)) < 0)
        return ret;
    memset(seen, 0, nf);
    if (dst)
        memset(dst, 0, m->size);
    while ((t = ringo__jlex_next(&v->lx)) == RINGO__JTOK_KEY)
        if ((ret = member(v, m, v->failed ? NULL : dst, seen)) < 0)
            return ret;
    if (t != RINGO__JTOK_OBJ_END)
        return FATAL_JSON;
    for (unsigned i = 0; i < nf; i++) {
        const ringo_field *f = &m->fields[i];
        ringo__verr **before = v->tail;
        if (seen[i])
            continue;
        if (f->dflt.has || (f->flags & RINGO_F_OPTIONAL)) {
            absent(f, v->failed ? NULL : dst);
            continue;
        }
        if (full(v))
            continue;
        if (whole.kind == IN_NONE)
            whole = compact(v, start, v->lx.raw.ptr + v->lx.raw.len);
        else if (!charge(v, whole.s.len)) /* the 422 echoes it once more */
            continue;
        v->path[v->depth++] = (seg){.key = ringo_str_c(f->name)};
        ret = add(v, RINGO_LOC_FORM, NULL, "missing", "Field required", whole, NULL);
        v->depth--;
        if (ret < 0)
            return ret;
        if (*before)
            (*before)->key = i;
    }
    return *mark ? sort_errors(v, mark) : 0;
}

/* ---- the request ---- */

static void *arena_alloc(void *ctx, size_t n) { return ringo_req_alloc(ctx, n); }

static void vctx_init(vctx *v, ringo_req *r)
{
    memset(v, 0, sizeof(*v));
    v->r = r;
    v->app = r->conn ? ((ringo__sess *)ringo__conn_state(r->conn))->app : NULL;
    v->tail = &v->head;
    v->in_left = BUDGET_FLOOR;
    v->max = RINGO_MAX_ERRORS;
}

/* Malformed JSON: FastAPI's one error, loc ["body", <character position>]. */
static int json_invalid(vctx *v)
{
    size_t chars = ringo__jlex_err_char(&v->lx);
    const char *ctx;

    v->head = NULL;
    v->tail = &v->head;
    v->n = 0;
    v->depth = 1;
    v->path[0] = (seg){.idx = chars, .is_idx = true};
    v->oom = false;
    ctx = ctx_str(v, "error", ringo__jlex_errmsg(&v->lx));
    return add(v, RINGO_LOC_FORM, NULL, "json_invalid", "JSON decode error",
               (vin){RINGO_STR_LIT("{}"), IN_JSON}, ctx);
}

/*
 * The body as the route's model (loc "body"): 0 with *out set, 1 with
 * errors recorded in v, -E2BIG past the budget, -ENOMEM.
 */
static int body(vctx *v, const ringo_model *m, const char *json, size_t len, void **out)
{
    void *dst;
    ringo__jtok t;
    int ret;

    *out = NULL;
    if ((ret = take(v, m->size, &dst)) < 0)
        return ret;
    ringo__jlex_init(&v->lx, json, len, RINGO_JSON_MAX_DEPTH, arena_alloc, v->r);
    t = ringo__jlex_next(&v->lx);
    if (t == RINGO__JTOK_ERROR)
        ret = FATAL_JSON;
    else if (t == RINGO__JTOK_NULL && v->optional)
        dst = NULL; /* FastAPI: a null body is no body; optional, it is None */
    else if (t == RINGO__JTOK_NULL)
        ret = add(v, RINGO_LOC_FORM, NULL, "missing", "Field required", (vin){{"", 0}, IN_NONE},
                  NULL);
    else if (t != RINGO__JTOK_OBJ)
        ret = type_err(v, t, "model_attributes_type",
                       "Input should be a valid dictionary or object to extract fields from", NULL);
    else
        ret = object(v, m, dst);
    if (ret >= 0 && ringo__jlex_next(&v->lx) != RINGO__JTOK_EOF)
        ret = FATAL_JSON;
    if (ret == FATAL_JSON)
        ret = v->lx.err == RINGO__JERR_NOMEM ? -ENOMEM : json_invalid(v);
    if (ret < 0)
        return ret;
    if (v->n || v->failed)
        return 1;
    *out = dst;
    return 0;
}

/* ---- parameters ---- */

static int param_value(vctx *v, const ringo_field *f, ringo_str s, char *dst)
{
    verr_desc d = {NULL, NULL, NULL};
    vin in = {s, IN_STR};
    int64_t i = 0;
    double x = 0;
    bool b;
    int e;

    switch (f->type) {
    case RINGO_STRING:
        if (!str_err(v, f, s, &d))
            return memcpy(dst, &s, sizeof(s)), 0;
        break;
    case RINGO_INT:
        if (ringo__parse_int(s, &i) < 0)
            d = (verr_desc){"int_parsing",
                            "Input should be a valid integer, unable to parse string as an integer",
                            NULL};
        else if (!int_err(v, f, i, &d))
            return memcpy(dst, &i, sizeof(i)), 0;
        break;
    case RINGO_NUMBER:
        if (str_number(s, &i, &x) == RINGO__JTOK_ERROR)
            d = (verr_desc){"float_parsing",
                            "Input should be a valid number, unable to parse string as a number",
                            NULL};
        else if (!num_err(v, f, x, &d))
            return memcpy(dst, &x, sizeof(x)), 0;
        break;
    case RINGO_BOOL:
        if (bool_word(s, &b))
            return *(bool *)dst = b, 0;
        d = (verr_desc){"bool_parsing",
                        "Input should be a valid boolean, unable to interpret input", NULL};
        break;
    case RINGO_ENUM:
        if ((e = enum_index(f, s)) >= 0)
            return memcpy(dst, &e, sizeof(e)), 0;
        enum_err(v, f, &d);
        break;
    default: return -EINVAL;
    }
    return add(v, f->in, f->name, d.type, d.msg, in, d.ctx);
}

static int params(vctx *v, const ringo_model *m, void **out)
{
    char *dst = ringo_req_alloc(v->r, m->size);
    int ret = 0;

    *out = NULL;
    if (!dst)
        return -ENOMEM;
    memset(dst, 0, m->size);
    for (const ringo_field *f = m->fields; f->type && ret >= 0; f++) {
        ringo_str s;
        int got = ringo__param_lookup(v->r, f->in, f->name, &s);
        if (got == -EINVAL)
            ret = add(v, f->in, f->name, "value_error", "Value error, malformed percent-encoding",
                      (vin){{"", 0}, IN_NONE}, NULL);
        else if (got < 0 && (f->dflt.has || (f->flags & RINGO_F_OPTIONAL)))
            absent(f, dst);
        else if (got < 0)
            ret =
                add(v, f->in, f->name, "missing", "Field required", (vin){{"", 0}, IN_NONE}, NULL);
        else if ((ret = param_value(v, f, s, dst + f->offset)) == 0 && f->set)
            dst[f->set - 1] = true;
    }
    if (ret < 0)
        return ret;
    *out = dst;
    return v->n ? 1 : 0;
}

/* application/json or application/<anything>+json, parameters ignored. */
static bool json_type(ringo_str ct)
{
    size_t n = 0;

    while (n < ct.len && ct.ptr[n] != ';')
        n++;
    while (n > 0 && (ct.ptr[n - 1] == ' ' || ct.ptr[n - 1] == '\t'))
        n--;
    if (n < 12 || !ringo__ascii_iequal(ct.ptr, "application/", 12))
        return false;
    return (n == 16 && ringo__ascii_iequal(ct.ptr + 12, "json", 4)) ||
           (n > 17 && ringo__ascii_iequal(ct.ptr + n - 5, "+json", 5));
}

/* Appends v's errors after the request's (parameters' first, as FastAPI lists them). */
/* Appends n errors, as many as RINGO_MAX_ERRORS still allows for the whole request. */
static void append_errors(ringo_req *r, ringo__verr *head, unsigned n)
{
    ringo__verr **tail = &r->errors;
    unsigned room = r->nerrors < RINGO_MAX_ERRORS ? RINGO_MAX_ERRORS - r->nerrors : 0;

    if (n > room) {
        ringo__verr **keep = &head;
        for (unsigned i = 0; i < room && *keep; i++)
            keep = &(*keep)->next;
        *keep = NULL;
        n = room;
    }
    while (*tail)
        tail = &(*tail)->next;
    *tail = head;
    r->nerrors += n;
}

int ringo__validate(ringo_req *r)
{
    const ringo_route_spec *s = r->route->opts.spec;
    ringo_str ct, b = ringo_req_body(r);
    vctx pv, bv;
    int ret = 0, bret = 0;

    vctx_init(&bv, r);
    if (s->body && b.len) {
        /* FastAPI reads a body without a Content-Type as JSON too. */
        if (ringo_req_header(r, "content-type", &ct) == 0 && !json_type(ct))
            return ringo_fail(r, 415, "Content-Type must be application/json");
        bv.budget = b.len * BUDGET_FACTOR + BUDGET_FLOOR;
        bv.in_left += b.len * INPUT_FACTOR;
        bv.optional = (s->flags & RINGO_SPEC_BODY_OPTIONAL) != 0;
        bret = body(&bv, s->body, b.ptr, b.len, &r->body_value);
        if (bret == -E2BIG)
            return ringo_fail(r, 413, "body too large for its model");
        if (bret < 0)
            return bret;
        if (bret && !strcmp(bv.head->type, "json_invalid")) {
            append_errors(r, bv.head, bv.n); /* FastAPI stops at malformed JSON */
            return RINGO_EVALIDATION;
        }
    } else if (s->body && !(s->flags & RINGO_SPEC_BODY_OPTIONAL)) {
        bret = add(&bv, RINGO_LOC_FORM, NULL, "missing", "Field required", (vin){{"", 0}, IN_NONE},
                   NULL);
        if (bret < 0)
            return bret;
    }
    vctx_init(&pv, r);
    if (s->params)
        ret = params(&pv, s->params, &r->params_value);
    if (ret < 0)
        return ret;
    if (!pv.n && !bv.n)
        return 0;
    if (pv.n + bv.n > RINGO_MAX_ERRORS) { /* the bound holds for the whole request */
        ringo__verr **keep = &bv.head;
        bv.n = RINGO_MAX_ERRORS - pv.n; /* the body's errors that still fit, maybe none */
        for (unsigned i = 0; i < bv.n && *keep; i++)
            keep = &(*keep)->next;
        *keep = NULL;
    }
    append_errors(r, pv.head, pv.n);
    append_errors(r, bv.head, bv.n);
    r->params_value = r->body_value = NULL;
    return RINGO_EVALIDATION;
}

int ringo_model_parse(ringo_req *req, const ringo_model *model, const char *json, size_t len,
                      void **out)
{
    vctx v;
    int ret;

    if (out)
        *out = NULL;
    if (!req || !model || !json || !out || ringo__model_check(model) < 0)
        return -EINVAL;
    vctx_init(&v, req);
    /* Earlier calls' errors count: the request's 422 lists RINGO_MAX_ERRORS at most. */
    v.max = req->nerrors < RINGO_MAX_ERRORS ? RINGO_MAX_ERRORS - req->nerrors : 0;
    v.budget = len * BUDGET_FACTOR + BUDGET_FLOOR;
    v.in_left += len * INPUT_FACTOR;
    if (!len)
        ret = add(&v, RINGO_LOC_FORM, NULL, "missing", "Field required", (vin){{"", 0}, IN_NONE},
                  NULL);
    else
        ret = body(&v, model, json, len, out);
    if (ret == -E2BIG)
        return -E2BIG;
    if (ret < 0)
        return ret;
    if (ret == 0)
        return 0;
    append_errors(req, v.head, v.n);
    return RINGO_EVALIDATION;
}
