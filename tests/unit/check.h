/*
 * tests/unit/check.h - the assertion every unit test uses: on failure it
 * prints file:line and the expression, and exits 1 (ctest: failed).
 */
#ifndef RINGO_TESTS_CHECK_H
#define RINGO_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#endif
