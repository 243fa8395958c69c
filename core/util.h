/*
 * core/util.h - small helpers shared by core/, http/ and pool/.
 *
 * Everything here is locale-free on purpose: bytes ringo parses or writes
 * on the wire must not change meaning when an application calls
 * setlocale() (isalnum() and friends do).
 */
#ifndef RINGO_CORE_UTIL_H
#define RINGO_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The struct of type T whose member m is at ptr. */
#define ringo__container_of(ptr, T, m) ((T *)(void *)((char *)(ptr)-offsetof(T, m)))

/* RFC 9110 §5.6.2 tchar: 1 for the 77 token bytes (ASCII only), else 0. */
extern const uint8_t ringo__tchar[256];

/* Inline bodies. */

static inline int ringo__is_tchar(unsigned char c) { return ringo__tchar[c]; }

/* Value of a hex digit (either case), or -1. */
static inline int ringo__hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII letters only: fold to lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#endif
