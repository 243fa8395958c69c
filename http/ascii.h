/*
 * http/ascii.h - byte classes and case folding for what goes over the wire.
 *
 * <ctype.h> and strcasecmp() follow the C library's locale: once an
 * application calls setlocale(LC_ALL, ""), isalnum() may accept bytes above
 * 0x7f (Latin-1 letters under de_DE.ISO-8859-1) and case folding may map
 * 'I' to something other than 'i' (tr_TR), so "TRANSFER-ENCODING" or
 * "100-CONTINUE" would stop matching. HTTP's grammar is ASCII (RFC 9110
 * §5.6.2, RFC 5234 appendix B.1): these helpers are too, whatever the locale.
 * The token table and hex digits are core/util.h's (ringo__is_tchar,
 * ringo__hex_value); this adds what http/ alone needs.
 */
#ifndef RINGO_HTTP_ASCII_H
#define RINGO_HTTP_ASCII_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"

static inline bool ascii_is_digit(unsigned char c) { return (unsigned)(c - '0') < 10u; }

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
