/*
 * http/params.c - typed parameter getters and FastAPI-shaped 422 answers.
 *
 * The messages and types are pydantic v2's, as FastAPI sends them, so a
 * client written against a FastAPI service parses ringo's 422 unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"
#include "http/http_impl.h"

static const char *const loc_names[] = {"path", "query", "header", "cookie", "body"};

static int record(ringo_req *r, ringo_loc loc, const char *name, const char *type, const char *msg,
                  const ringo_str *input, const char *ctx_key, int64_t ctx_val)
{
    ringo__verr *e, **tail = &r->errors;

    if (r->nerrors >= RINGO_MAX_ERRORS) /* a 422 lists that many; the rest are dropped */
        return RINGO_EVALIDATION;
    if (!(e = ringo_req_alloc(r, sizeof(*e))))
        return -ENOMEM;
    *e = (ringo__verr){.loc = loc,
                       .name = name,
                       .type = type,
                       .msg = msg,
                       .input = {"", 0},
                       .has_input = input != NULL,
                       .ctx_key = ctx_key,
                       .ctx_val = ctx_val};
    if (input)
        e->input = *input;
    while (*tail)
        tail = &(*tail)->next;
    *tail = e;
    r->nerrors++;
    return RINGO_EVALIDATION;
}

unsigned ringo_param_errors(const ringo_req *req) { return req->nerrors; }

int ringo__params_missing(ringo_req *r, ringo_loc loc, const char *name)
{
    return record(r, loc, name, "missing", "Field required", NULL, NULL, 0);
}

/* "a=1; b=2": the value of cookie name, or -ENOENT. */
static int cookie(ringo_req *r, const char *name, ringo_str *out)
{
    ringo_str h;
    size_t n = strlen(name);

    if (ringo_req_header(r, "cookie", &h) < 0)
        return -ENOENT;
    for (const char *p = h.ptr, *end = h.ptr + h.len; p < end;) {
        const char *semi = memchr(p, ';', (size_t)(end - p)), *eq;
        const char *stop = semi ? semi : end;
        while (p < stop && *p == ' ')
            p++;
        eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && (size_t)(eq - p) == n && !memcmp(p, name, n)) {
            *out = (ringo_str){eq + 1, (size_t)(stop - eq - 1)};
            return 0;
        }
        p = stop + 1;
    }
    return -ENOENT;
}

int ringo__param_lookup(ringo_req *r, ringo_loc loc, const char *name, ringo_str *out)
{
    switch (loc) {
    case RINGO_LOC_PATH: return ringo_req_path_param(r, name, out);
    case RINGO_LOC_QUERY: return ringo_req_query_param(r, name, out);
    case RINGO_LOC_HEADER: return ringo_req_header(r, name, out);
    case RINGO_LOC_COOKIE: return cookie(r, name, out);
    case RINGO_LOC_FORM: return ringo__form_field(r, name, out);
    }
    return -ENOENT;
}

/* Finds the raw value; records "missing" when it is required and absent. */
static int fetch(ringo_req *r, ringo_loc loc, const char *name, bool required, ringo_str *v)
{
    int ret = ringo__param_lookup(r, loc, name, v);

    if (ret == -EINVAL)
        return record(r, loc, name, "value_error", "Value error, malformed percent-encoding", NULL,
                      NULL, 0);
    if (ret < 0)
        return required ? record(r, loc, name, "missing", "Field required", NULL, NULL, 0) : 1;
    return 0;
}

/*
 * Decimal integer with an optional sign, nothing else. Not strtoll(): it
 * skips whitespace as LC_CTYPE defines it. Returns 0, or -EINVAL on a stray
 * byte, an empty number or overflow.
 */
int ringo__parse_int(ringo_str v, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t n = 0, lim;

    if (i < v.len && (v.ptr[i] == '-' || v.ptr[i] == '+'))
        neg = v.ptr[i++] == '-';
    if (i == v.len)
        return -EINVAL;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (!ringo__ascii_digit(c) || n > (lim - (c - '0')) / 10)
            return -EINVAL;
        n = n * 10 + (c - '0');
    }
    *out = neg ? (int64_t)(0 - n) : (int64_t)n;
    return 0;
}

int ringo_param_int(ringo_req *req, ringo_loc loc, const char *name, int64_t min, int64_t max,
                    const int64_t *dflt, int64_t *out)
{
    ringo_str v;
    int64_t n;
    int ret = fetch(req, loc, name, dflt == NULL, &v);
    char *msg;

    if (ret == 1) {
        *out = *dflt;
        return 0;
    }
    if (ret < 0)
        return ret;
    if (ringo__parse_int(v, &n) < 0)
        goto bad;
    if (n < min || n > max) {
        bool low = n < min;
        msg = ringo_req_alloc(req, 64);
        if (!msg)
            return -ENOMEM;
        snprintf(msg, 64, "Input should be %s than or equal to %lld", low ? "greater" : "less",
                 (long long)(low ? min : max));
        return record(req, loc, name, low ? "greater_than_equal" : "less_than_equal", msg, &v,
                      low ? "ge" : "le", low ? min : max);
    }
    *out = n;
    return 0;
bad:
    return record(req, loc, name, "int_parsing",
                  "Input should be a valid integer, unable to parse string as an integer", &v, NULL,
                  0);
}

int ringo_param_bool(ringo_req *req, ringo_loc loc, const char *name, const int *dflt, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
    static const char *const no[] = {"false", "0", "no", "off", "f", "n"};
    ringo_str v;
    int ret = fetch(req, loc, name, dflt == NULL, &v);

    if (ret == 1) {
        *out = *dflt;
        return 0;
    }
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (v.len == strlen(yes[i]) && ringo__ascii_iequal(v.ptr, yes[i], v.len))
            return *out = 1, 0;
        if (v.len == strlen(no[i]) && ringo__ascii_iequal(v.ptr, no[i], v.len))
            return *out = 0, 0;
    }
    return record(req, loc, name, "bool_parsing",
                  "Input should be a valid boolean, unable to interpret input", &v, NULL, 0);
}

int ringo_param_str(ringo_req *req, ringo_loc loc, const char *name, size_t min_len, size_t max_len,
                    const char *dflt, ringo_str *out)
{
    ringo_str v;
    int ret = fetch(req, loc, name, dflt == NULL, &v);
    char *msg;
    bool shrt;

    if (ret == 1) {
        *out = ringo_str_c(dflt);
        return 0;
    }
    if (ret < 0)
        return ret;
    if (v.len >= min_len && (!max_len || v.len <= max_len)) {
        *out = v;
        return 0;
    }
    shrt = v.len < min_len;
    msg = ringo_req_alloc(req, 64);
    if (!msg)
        return -ENOMEM;
    snprintf(msg, 64, "String should have at %s %zu character%s", shrt ? "least" : "most",
             shrt ? min_len : max_len, (shrt ? min_len : max_len) == 1 ? "" : "s");
    return record(req, loc, name, shrt ? "string_too_short" : "string_too_long", msg, &v,
                  shrt ? "min_length" : "max_length", (int64_t)(shrt ? min_len : max_len));
}

/*
 * RFC 3629 §4 ranges; an invalid sequence counts as its maximal subpart (Unicode §3.9), as
 * Python's decode(errors="replace") does for a query string in Starlette.
 */
size_t ringo__utf8_step(const char *p, const char *end, bool *ok)
{
    const uint8_t *u = (const uint8_t *)p;
    uint8_t b = u[0], lo = 0x80, hi = 0xbf;
    size_t need, i;

    *ok = b < 0x80;
    if (*ok)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        need = 1;
    else if (b >= 0xe0 && b <= 0xef)
        need = 2, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
    else if (b >= 0xf0 && b <= 0xf4)
        need = 3, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
    else
        return 1; /* a stray continuation byte, C0/C1 (always overlong), F5..FF */
    for (i = 1; i <= need; i++) {
        if (p + i >= end || u[i] < lo || u[i] > hi)
            return i;
        lo = 0x80, hi = 0xbf;
    }
    *ok = true;
    return i;
}

/*
 * Appends s as a JSON string (with quotes) at p; returns the new end. Invalid UTF-8 (a
 * query's %FF, a header's obs-text) is written as U+FFFD: the 422 stays valid JSON. At most
 * 6 bytes per input byte.
 */
static char *json_str(char *p, const char *s, size_t n)
{
    *p++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        bool ok;
        size_t k;
        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
            i++;
        } else if (ch < 0x20) {
            p += sprintf(p, "\\u%04x", ch);
            i++;
        } else if ((k = ringo__utf8_step(s + i, s + n, &ok)), ok) {
            p = (char *)memcpy(p, s + i, k) + k;
            i += k;
        } else {
            p = (char *)memcpy(p, "\xef\xbf\xbd", 3) + 3;
            i += k;
        }
    }
    *p++ = '"';
    return p;
}

int ringo__params_422(ringo_req *r)
{
    size_t cap = 32;
    char *b, *p;

    for (ringo__verr *e = r->errors; e; e = e->next)
        cap += 160 + 6 * (strlen(e->name) + strlen(e->msg)) +
               (e->input_json ? 1 : 6) * e->input.len + /* JSON text is copied as is */
               (e->path ? strlen(e->path) : 0) + (e->ctx ? strlen(e->ctx) : 0);
    p = b = ringo_req_alloc(r, cap);
    if (!b)
        return -ENOMEM;
    p += sprintf(p, "{\"detail\":[");
    for (ringo__verr *e = r->errors; e; e = e->next) {
        p += sprintf(p, "%s{\"type\":\"%s\",\"loc\":[\"%s\"", e == r->errors ? "" : ",", e->type,
                     loc_names[e->loc]);
        if (e->path) { /* already JSON: ,"items",2,"price" (or nothing: the whole body) */
            p += sprintf(p, "%s", e->path);
        } else {
            *p++ = ',';
            p = json_str(p, e->name, strlen(e->name));
        }
        p += sprintf(p, "],\"msg\":");
        p = json_str(p, e->msg, strlen(e->msg));
        p += sprintf(p, ",\"input\":");
        if (e->has_input && e->input_json)
            p = (char *)memcpy(p, e->input.ptr, e->input.len) + e->input.len;
        else if (e->has_input)
            p = json_str(p, e->input.ptr, e->input.len);
        else
            p += sprintf(p, "null");
        if (e->ctx)
            p += sprintf(p, ",\"ctx\":%s", e->ctx);
        else if (e->ctx_key)
            p += sprintf(p, ",\"ctx\":{\"%s\":%lld}", e->ctx_key, (long long)e->ctx_val);
        *p++ = '}';
    }
    p += sprintf(p, "]}");
    r->status = 422;
    ringo__req_ringo_error(r);
    r->nrhdrs = 0; /* what the handler set described a success */
    ringo_resp_add_header(r, "Content-Type", RINGO_STR_LIT("application/json"));
    return ringo_resp_set_body_ref(r, b, (size_t)(p - b));
}
