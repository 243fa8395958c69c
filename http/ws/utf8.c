/*
 * http/ws/utf8.c - the UTF-8 validator behind text messages and close
 * reasons (RFC 3629 §4):
 *
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 *
 * A lead byte sets how many tails follow and the range of the first one;
 * later tails are always 80-BF. Runs of ASCII, the common case in chat-like
 * traffic, are skipped eight bytes at a time.
 */
#include "http/ws/utf8.h"

#include <string.h>

/* Sets up *s for the sequence lead byte b starts; false when b cannot start one. */
static bool lead(ringo__ws_utf8 *s, uint8_t b)
{
    s->lo = 0x80;
    s->hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        s->need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
        s->need = 2;
        if (b == 0xe0)
            s->lo = 0xa0; /* below: overlong */
        else if (b == 0xed)
            s->hi = 0x9f; /* above: a surrogate */
    } else if (b >= 0xf0 && b <= 0xf4) {
        s->need = 3;
        if (b == 0xf0)
            s->lo = 0x90; /* below: overlong */
        else if (b == 0xf4)
            s->hi = 0x8f; /* above: past U+10FFFF */
    } else {
        return false; /* a stray tail, C0/C1 (always overlong) or F5-FF */
    }
    return true;
}

/* Bytes from p[i] on that are ASCII, counted in whole words. */
static size_t ascii_words(const uint8_t *p, size_t i, size_t n)
{
    const uint64_t high = 0x8080808080808080ull;
    size_t start = i;

    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & high)
            break;
        i += 8;
    }
    return i - start;
}

bool ringo__ws_utf8_feed(ringo__ws_utf8 *s, const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t b = p[i];
        if (s->need) {
            if (b < s->lo || b > s->hi)
                return false;
            s->need--;
            s->lo = 0x80;
            s->hi = 0xbf;
            i++;
        } else if (b < 0x80) {
            i++;
            i += ascii_words(p, i, n);
        } else if (lead(s, b)) {
            i++;
        } else {
            return false;
        }
    }
    return true;
}

bool ringo__ws_utf8_valid(const char *p, size_t n)
{
    ringo__ws_utf8 s;

    ringo__ws_utf8_init(&s);
    return ringo__ws_utf8_feed(&s, (const uint8_t *)p, n) && ringo__ws_utf8_done(&s);
}

size_t ringo__ws_utf8_prefix(const char *p, size_t n, size_t max)
{
    ringo__ws_utf8 s;
    size_t good = 0;

    ringo__ws_utf8_init(&s);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) {
        if (!ringo__ws_utf8_feed(&s, (const uint8_t *)p + i, 1))
            break;
        if (ringo__ws_utf8_done(&s))
            good = i + 1;
    }
    return good;
}
