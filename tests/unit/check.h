/*
 * tests/unit/check.h - the assertions every unit test uses: on failure they
 * print file:line and the expression (CHECKF: and a printf-style message
 * saying what was seen), and exit 1 (ctest: failed). The first failure ends
 * the test: what follows usually depends on what failed.
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

#define CHECKF(c, ...)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #c);                  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#endif
