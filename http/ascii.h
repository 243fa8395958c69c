/*
 * http/ascii.h - byte classes and case folding for what goes over the wire.
 *
 * <ctype.h> and strcasecmp() follow the C library's locale: once an
 * application calls setlocale(LC_ALL, ""), isalnum() may accept bytes above
 * 0x7f (Latin-1 letters under de_DE.ISO-8859-1) and case folding may map
 * 'I' to something other than 'i' (tr_TR), so "TRANSFER-ENCODING" or
 * "100-CONTINUE" would stop matching. HTTP's grammar is ASCII (RFC 9110
 * §5.6.2, RFC 5234 appendix B.1): these helpers are too, whatever the locale.
 */
#ifndef RINGO_HTTP_ASCII_H
#define RINGO_HTTP_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. One entry per byte value. */
static const uint8_t ascii_tchar_map[256] = {
    // clang-format off
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0x00 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0x10 */
    0,1,0,1,1,1,1,1,0,0,1,1,0,1,1,0, /* 0x20 */
    1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,0, /* 0x30 */
    0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, /* 0x40 */
    1,1,1,1,1,1,1,1,1,1,1,0,0,0,1,1, /* 0x50 */
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, /* 0x60 */
    1,1,1,1,1,1,1,1,1,1,1,0,1,0,1,0, /* 0x70 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0x80 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0x90 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0xa0 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0xb0 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0xc0 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0xd0 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0xe0 */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 0xf0 */
    // clang-format on
};

static inline bool ascii_is_tchar(unsigned char c) { return ascii_tchar_map[c] != 0; }

static inline bool ascii_is_digit(unsigned char c) { return (unsigned)(c - '0') < 10u; }

/* 0..15 for a HEXDIG of either case, -1 for any other byte. */
static inline int ascii_hex_value(unsigned char c)
{
    if (ascii_is_digit(c))
        return c - '0';
    c |= 0x20;
    return (unsigned)(c - 'a') < 6u ? c - 'a' + 10 : -1;
}

static inline unsigned char ascii_lower(unsigned char c)
{
    return (unsigned)(c - 'A') < 26u ? (unsigned char)(c | 0x20) : c;
}

/* Whether a[0..n) and b[0..n) are equal ignoring ASCII case (bytes above 0x7f must match). */
static inline bool ascii_iequal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

#endif
