/*
 * http/range.c - Range header parsing, see range.h.
 */
#include <errno.h>
#include <stdbool.h>

#include "core/util.h"
#include "http/range.h"

static bool ows(char c) { return c == ' ' || c == '\t'; }

/* 1*DIGIT at *p; saturates at UINT64_MAX (a huge position is valid syntax,
 * merely unsatisfiable). Returns false when there is no digit. */
static bool number(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    while (s < end && ringo__ascii_digit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

/*
 * One range-spec in [p, end) (OWS already trimmed): int-range
 * "first-[last]" or suffix-range "-length". Returns 1 and *r when
 * satisfiable, 0 when well-formed but unsatisfiable, -EINVAL when
 * malformed (including last < first, RFC 9110 section 14.1.1).
 */
static int spec(const char *p, const char *end, uint64_t size, ringo__range *r)
{
    uint64_t a, b;

    if (p < end && *p == '-') {
        p++;
        if (!number(&p, end, &b) || p != end)
            return -EINVAL;
        if (b == 0)
            return 0;
        r->first = b >= size ? 0 : size - b;
        r->last = size - 1;
        return 1;
    }
    if (!number(&p, end, &a) || p == end || *p++ != '-')
        return -EINVAL;
    b = UINT64_MAX;
    if (p != end && (!number(&p, end, &b) || p != end))
        return -EINVAL;
    if (b < a)
        return -EINVAL;
    if (a >= size)
        return 0;
    r->first = a;
    r->last = b >= size ? size - 1 : b;
    return 1;
}

static void sort(ringo__range *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1].first > v[j].first; j--) {
            ringo__range t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* Merges overlapping and adjacent ranges of the sorted v in place; returns the new count. */
static unsigned coalesce(ringo__range *v, unsigned n)
{
    unsigned k = 0;

    for (unsigned i = 1; i < n; i++) {
        if (v[i].first <= v[k].last || v[i].first - v[k].last == 1) {
            if (v[i].last > v[k].last)
                v[k].last = v[i].last;
        } else {
            v[++k] = v[i];
        }
    }
    return n ? k + 1 : 0;
}

/* Reads the range-set after "bytes=" into v; returns the count kept, -EINVAL, or -E2BIG. */
static int range_set(const char *p, const char *end, uint64_t size, ringo__range *v,
                     uint64_t *total)
{
    unsigned n = 0, specs = 0;

    while (p < end) {
        const char *e = p, *t;
        int ret;

        while (e < end && *e != ',')
            e++;
        for (t = e; t > p && ows(t[-1]); t--)
            ;
        while (p < t && ows(*p))
            p++;
        if (p < t) {
            if (++specs > RINGO__RANGE_RAW_MAX)
                return -E2BIG;
            ret = spec(p, t, size, &v[n]);
            if (ret < 0)
                return ret;
            if (ret > 0) {
                *total += v[n].last - v[n].first + 1;
                n++;
            }
        }
        p = e < end ? e + 1 : e;
    }
    return specs ? (int)n : -EINVAL;
}

int ringo__range_parse(ringo_str value, uint64_t size, ringo__range *out, unsigned max)
{
    ringo__range v[RINGO__RANGE_RAW_MAX];
    const char *p = value.ptr, *end = value.ptr + value.len;
    uint64_t total = 0;
    unsigned n;
    int ret;

    if (value.len < 6 || !ringo__ascii_iequal(p, "bytes=", 6) || size == 0 || max == 0)
        return RINGO__RANGE_IGNORE;
    ret = range_set(p + 6, end, size, v, &total);
    if (ret < 0)
        return RINGO__RANGE_IGNORE;
    if (ret == 0)
        return -ERANGE;
    /* Overlap abuse: asking for more bytes than the representation has. */
    if (total > size)
        return RINGO__RANGE_IGNORE;
    sort(v, (unsigned)ret);
    n = coalesce(v, (unsigned)ret);
    if (n > max)
        return RINGO__RANGE_IGNORE;
    for (unsigned i = 0; i < n; i++)
        out[i] = v[i];
    return (int)n;
}
