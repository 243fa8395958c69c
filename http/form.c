/*
 * http/form.c - application/x-www-form-urlencoded, see form.h.
 */
#include "http/form.h"

#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "http/url.h"

void ringo__form_init(ringo__form *f, char *body, size_t len, uint32_t max_fields)
{
    f->p = body;
    f->end = body + len;
    f->count = 0;
    f->max = max_fields;
}

/* Decodes s[0..n) in place into *out. */
static int decode(char *s, size_t n, ringo_str *out)
{
    ssize_t k = ringo__pct_decode(s, s, n, 1);

    if (k < 0)
        return (int)k;
    out->ptr = s;
    out->len = (size_t)k;
    return 0;
}

int ringo__form_next(ringo__form *f, ringo_str *key, ringo_str *value)
{
    char *p = f->p, *amp, *eq;
    size_t n;

    while (p < f->end && *p == '&')
        p++;
    if (p == f->end) {
        f->p = p;
        return 0;
    }
    if (f->count == f->max)
        return -E2BIG;
    amp = memchr(p, '&', (size_t)(f->end - p));
    n = (size_t)((amp ? amp : f->end) - p);
    eq = memchr(p, '=', n);
    f->p = p + n;
    f->count++;
    if (decode(p, eq ? (size_t)(eq - p) : n, key) < 0)
        return -EINVAL;
    if (!eq) {
        *value = (ringo_str){p + n, 0};
        return 1;
    }
    return decode(eq + 1, (size_t)(p + n - eq - 1), value) < 0 ? -EINVAL : 1;
}

int ringo__form_is_urlencoded(ringo_str ct)
{
    static const char type[] = "application/x-www-form-urlencoded";
    const size_t n = sizeof(type) - 1;
    size_t i = 0;

    while (i < ct.len && (ct.ptr[i] == ' ' || ct.ptr[i] == '\t'))
        i++;
    if (ct.len - i < n || !ringo__ascii_iequal(ct.ptr + i, type, n))
        return 0;
    for (i += n; i < ct.len && (ct.ptr[i] == ' ' || ct.ptr[i] == '\t'); i++)
        ;
    return i == ct.len || ct.ptr[i] == ';';
}
