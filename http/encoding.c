/*
 * http/encoding.c - Accept-Encoding negotiation, see encoding.h.
 */
#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "http/encoding.h"

static bool ows(char c) { return c == ' ' || c == '\t'; }

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as 0..1000; -1 if malformed. */
static int qvalue(const char *p, size_t n)
{
    int q, scale = 100;

    if (n == 0 || (p[0] != '0' && p[0] != '1'))
        return -1;
    q = (p[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (p[1] != '.' || n > 5)
        return -1;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (!ringo__ascii_digit((unsigned char)p[i]))
            return -1;
        q += (p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/*
 * One list element "coding *( OWS ; OWS param )": the coding name and its
 * q (1000 when absent). Returns false when malformed.
 */
static bool element(const char *p, const char *end, ringo_str *name, int *q)
{
    const char *s;

    while (p < end && ows(*p))
        p++;
    while (end > p && ows(end[-1]))
        end--;
    s = p;
    while (p < end && ringo__is_tchar((unsigned char)*p))
        p++;
    if (p == s)
        return false;
    *name = (ringo_str){s, (size_t)(p - s)};
    *q = 1000;
    while (p < end) {
        const char *ks, *ke, *vs;
        while (p < end && ows(*p))
            p++;
        if (p == end || *p++ != ';')
            return false;
        while (p < end && ows(*p))
            p++;
        ks = p;
        while (p < end && ringo__is_tchar((unsigned char)*p))
            p++;
        ke = p;
        if (ke == ks || p == end || *p++ != '=')
            return false;
        vs = p;
        while (p < end && *p != ';' && !ows(*p))
            p++;
        if (ke - ks == 1 && (*ks == 'q' || *ks == 'Q')) {
            *q = qvalue(vs, (size_t)(p - vs));
            if (*q < 0)
                return false;
        }
    }
    return true;
}

static bool is(ringo_str s, const char *name)
{
    size_t n = strlen(name);

    return s.len == n && ringo__ascii_iequal(s.ptr, name, n);
}

int ringo__accept_encoding(ringo_str value, bool present, const char *const *offered, unsigned n)
{
    int qs[RINGO__ENC_MAX], star = -1, identity = -1, best = -1, best_q = 0;
    const char *p = value.ptr, *end = value.ptr + value.len;

    if (!present)
        return -1;
    if (n > RINGO__ENC_MAX)
        n = RINGO__ENC_MAX;
    for (unsigned i = 0; i < n; i++)
        qs[i] = -1; /* not listed */
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma ? comma : end;
        ringo_str name;
        int q;
        if (element(p, stop, &name, &q)) {
            if (is(name, "*"))
                star = q;
            else if (is(name, "identity"))
                identity = q;
            for (unsigned i = 0; i < n; i++)
                if (is(name, offered[i]) || (is(name, "x-gzip") && strcmp(offered[i], "gzip") == 0))
                    qs[i] = q > qs[i] ? q : qs[i];
        }
        p = stop + (comma != NULL);
    }
    for (unsigned i = 0; i < n; i++) {
        int q = qs[i] >= 0 ? qs[i] : (star >= 0 ? star : 0);
        if (q > best_q) {
            best_q = q;
            best = (int)i;
        }
    }
    /*
     * identity: acceptable unless refused by name, or by "*;q=0" without its
     * own entry. Unlisted, it counts as the lowest positive q (1 of 1000), so
     * any listed coding beats it.
     */
    if (identity < 0)
        identity = star == 0 ? 0 : 1;
    if (best >= 0 && best_q >= identity)
        return best;
    return identity > 0 ? -1 : -ENOENT;
}
