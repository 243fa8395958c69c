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

/* The number a file starts with (a /proc/sys setting), or dflt when it cannot be read. */
long ringo__read_long(const char *path, long dflt);

/* The first line of a file (a /proc entry) without its newline, into buf (always
 * NUL-terminated: "" when the file cannot be read). Returns buf. */
char *ringo__read_line(const char *path, char *buf, size_t len);

/* Inline bodies. */

static inline int ringo__is_tchar(unsigned char c) { return ringo__tchar[c]; }

static inline int ringo__ascii_digit(unsigned char c) { return (unsigned)(c - '0') < 10u; }

static inline unsigned char ringo__ascii_lower(unsigned char c)
{
    return (unsigned)(c - 'A') < 26u ? (unsigned char)(c | 0x20) : c;
}

/*
 * 1 when a[0..n) and b[0..n) are equal ignoring ASCII case (bytes above 0x7f
 * must match exactly). Not strncasecmp: it follows LC_CTYPE, and under
 * tr_TR 'I' does not fold to 'i'.
 */
static inline int ringo__ascii_iequal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        /* Equal bytes are the common case on the wire: fold only on a mismatch. */
        if (x != y && ringo__ascii_lower(x) != ringo__ascii_lower(y))
            return 0;
    }
    return 1;
}

/* Value of a hex digit (either case), or -1. */
static inline int ringo__hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII letters only: fold to lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Orderings ThreadSanitizer cannot see (a CQE posted by another thread with
 * MSG_RING happens after what that thread wrote): the poster releases the
 * address, the reaper acquires it. Nothing without TSan.
 */
#if defined(__SANITIZE_THREAD__)
#define RINGO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGO__TSAN 1
#endif
#endif

#ifdef RINGO__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define ringo__tsan_acquire(p) __tsan_acquire((void *)(p))
#define ringo__tsan_release(p) __tsan_release((void *)(p))
#else
#define ringo__tsan_acquire(p) ((void)(p))
#define ringo__tsan_release(p) ((void)(p))
#endif

#endif
