/*
 * http/test_hooks.h - fault injection and path forcing for tests and the
 * demo server. Not part of the API: ringo__ names are not exported by the
 * shared library (ringo.map); programs that need them link the static one.
 * A shipped library reads nothing from the environment.
 */
#ifndef RINGO_HTTP_TEST_HOOKS_H
#define RINGO_HTTP_TEST_HOOKS_H

#include "ringo/app.h"

typedef struct ringo__test_hooks {
    int msgring_fallback;     /* 1: pool workers post MSG_RING through a ring of their own
                                 even where the kernel has the registered form */
    int msgring_fail_posts;   /* the pool's first N completion posts fail (-EIO) as if
                                 the kernel refused them */
    uint64_t file_splice_min; /* file bodies of this many bytes and more are spliced;
                                 0: RINGO__FILE_SPLICE_MIN, UINT64_MAX: never */
    int file_splice_linked;   /* 1: file -> pipe linked to pipe -> socket (one await) */
    int file_sendfile_off;    /* 1: no sendfile from the page cache, splice (or copy) */
} ringo__test_hooks;

/* Sets the app's hooks (copied) for its start. Returns 0, or -EBUSY after start. */
int ringo__app_test_hooks(ringo_app *app, const ringo__test_hooks *h);

#endif
