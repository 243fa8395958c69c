/*
 * http/cond.c - conditional requests, see cond.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/util.h"
#include "http/cond.h"

static const char days[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}; /* 1970-01-01 */
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned mp = m > 2 ? m - 3 : m + 9;
    unsigned doy = (153 * mp + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void ringo__http_date_format(int64_t t, char out[RINGO__HTTP_DATE_LEN + 1])
{
    int64_t z = (t >= 0 ? t : t - 86399) / 86400, secs = t - z * 86400;
    int64_t wd = ((z % 7) + 7) % 7;
    /* civil_from_days */
    int64_t zz = z + 719468, era = (zz >= 0 ? zz : zz - 146096) / 146097;
    unsigned doe = (unsigned)(zz - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);

    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* out of the format's range: a file time never is */
    memcpy(out, days[wd], 3);
    out[3] = ',';
    out[4] = ' ';
    out[5] = (char)('0' + d / 10);
    out[6] = (char)('0' + d % 10);
    out[7] = ' ';
    memcpy(out + 8, months[m - 1], 3);
    out[11] = ' ';
    for (int i = 3; i >= 0; i--, y /= 10)
        out[12 + i] = (char)('0' + y % 10);
    out[16] = ' ';
    out[17] = (char)('0' + secs / 36000);
    out[18] = (char)('0' + secs / 3600 % 10);
    out[19] = ':';
    out[20] = (char)('0' + secs % 3600 / 600);
    out[21] = (char)('0' + secs % 600 / 60);
    out[22] = ':';
    out[23] = (char)('0' + secs % 60 / 10);
    out[24] = (char)('0' + secs % 10);
    memcpy(out + 25, " GMT", 5);
}

/* n digits at p; -1 when one is not a digit. */
static int digits(const char *p, unsigned n)
{
    int v = 0;

    for (unsigned i = 0; i < n; i++) {
        if (!ringo__ascii_digit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, months[i], 3) == 0)
            return i + 1;
    return -1;
}

/* "HH:MM:SS" at p: seconds of the day, or -1. */
static int clock_at(const char *p)
{
    int h = digits(p, 2), m = digits(p + 3, 2), s = digits(p + 6, 2);

    if (h < 0 || m < 0 || s < 0 || p[2] != ':' || p[5] != ':' || h > 23 || m > 59 || s > 60)
        return -1;
    return h * 3600 + m * 60 + (s == 60 ? 59 : s);
}

static int finish(int y, int mon, int d, int secs, int64_t *t)
{
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 0 || mon < 1 || d < 1 || secs < 0 || d > mdays[mon - 1] ||
        (mon == 2 && d == 29 && !leap))
        return -EINVAL;
    *t = days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 + secs;
    return 0;
}

int ringo__http_date_parse(ringo_str s, int64_t *t)
{
    const char *p = s.ptr, *c;

    if (s.len == 29 && p[3] == ',' && p[4] == ' ' && p[7] == ' ' && p[11] == ' ' && p[16] == ' ' &&
        memcmp(p + 25, " GMT", 4) == 0) /* IMF-fixdate */
        return finish(digits(p + 12, 4), month(p + 8), digits(p + 5, 2), clock_at(p + 17), t);
    if (s.len == 24 && p[3] == ' ' && p[7] == ' ' && p[10] == ' ' && p[19] == ' ') { /* asctime */
        int d = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);
        return finish(digits(p + 20, 4), month(p + 4), d, clock_at(p + 11), t);
    }
    c = memchr(p, ',', s.len < 10 ? s.len : 10); /* rfc850-date: "Sunday, 06-Nov-94 ..." */
    if (c && (size_t)(p + s.len - c) == 24 && c[1] == ' ' && c[4] == '-' && c[8] == '-' &&
        c[11] == ' ' && memcmp(c + 20, " GMT", 4) == 0) {
        int y = digits(c + 9, 2);
        /* Two-digit years: RFC 9110 section 5.6.7, no more than 50 years ahead. */
        y = y < 0 ? -1 : y + (y < 70 ? 2000 : 1900);
        return finish(y, month(c + 5), digits(c + 2, 2), clock_at(c + 12), t);
    }
    return -EINVAL;
}

static bool ows(char c) { return c == ' ' || c == '\t'; }

/* An entity-tag at [p, end): its length, or 0 when malformed. */
static size_t etag_len(const char *p, const char *end)
{
    const char *s = p;

    if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
        p += 2;
    if (p >= end || *p++ != '"')
        return 0;
    while (p < end && *p != '"') {
        unsigned char ch = (unsigned char)*p++;
        if (ch < 0x21 || ch == 0x7f)
            return 0;
    }
    return p < end ? (size_t)(p + 1 - s) : 0;
}

/* Compares two entity-tags (RFC 9110 section 8.8.3.2). */
static bool etag_eq(const char *a, size_t alen, ringo_str b, bool weak)
{
    bool aw = alen > 2 && a[0] == 'W', bw = b.len > 2 && b.ptr[0] == 'W';

    if (!weak && (aw || bw))
        return false;
    if (aw) {
        a += 2;
        alen -= 2;
    }
    if (bw) {
        b.ptr += 2;
        b.len -= 2;
    }
    return alen == b.len && memcmp(a, b.ptr, alen) == 0;
}

int ringo__etag_match(ringo_str list, ringo_str etag, bool weak)
{
    const char *p = list.ptr, *end = list.ptr + list.len;
    int found = 0, any = 0;

    while (p < end && ows(*p))
        p++;
    while (end > p && ows(end[-1]))
        end--;
    if (end - p == 1 && *p == '*')
        return 1;
    while (p < end) {
        size_t n;

        if (*p == ',' || ows(*p)) {
            p++;
            continue;
        }
        n = etag_len(p, end);
        if (n == 0)
            return -EINVAL;
        if (etag_eq(p, n, etag, weak))
            found = 1;
        any = 1;
        p += n;
        while (p < end && ows(*p))
            p++;
        if (p < end && *p != ',')
            return -EINVAL;
    }
    return any ? found : -EINVAL;
}

int ringo__cond_eval(const ringo__cond *c)
{
    int64_t t;

    if (c->has_if_match) {
        if (ringo__etag_match(c->if_match, c->etag, false) != 1)
            return 412;
    } else if (c->has_ius && ringo__http_date_parse(c->if_unmodified_since, &t) == 0) {
        if (c->mtime > t)
            return 412;
    }
    if (c->has_if_none_match) {
        if (ringo__etag_match(c->if_none_match, c->etag, true) == 1)
            return c->get_or_head ? 304 : 412;
    } else if (c->has_ims && c->get_or_head &&
               ringo__http_date_parse(c->if_modified_since, &t) == 0) {
        if (c->mtime <= t)
            return 304;
    }
    return 0;
}

int ringo__if_range(ringo_str value, ringo_str etag, int64_t mtime)
{
    int64_t t;
    size_t n;

    if (value.len && (value.ptr[0] == '"' || value.ptr[0] == 'W')) {
        n = etag_len(value.ptr, value.ptr + value.len);
        return n == value.len && etag_eq(value.ptr, n, etag, false);
    }
    return ringo__http_date_parse(value, &t) == 0 && t == mtime;
}
