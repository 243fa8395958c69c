/*
 * Description: the Range header parser (http/range.c): first, middle,
 * suffix and open ranges, clipping, unsatisfiable sets (416), malformed
 * values ignored (200), sorting and merging, and the bounds against
 * many, overlapping or unsorted ranges.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/range.h"

static ringo__range r[16];

static int parse(const char *v, uint64_t size)
{
    return ringo__range_parse(ringo_str_c(v), size, r, 16);
}

static void one(const char *v, uint64_t size, uint64_t first, uint64_t last)
{
    int n = parse(v, size);

    CHECKF(n == 1 && r[0].first == first && r[0].last == last,
           "%s on %llu: %d ranges, first %llu-%llu, want %llu-%llu", v, (unsigned long long)size, n,
           (unsigned long long)r[0].first, (unsigned long long)r[0].last, (unsigned long long)first,
           (unsigned long long)last);
}

static void status(const char *v, uint64_t size, int want)
{
    int n = parse(v, size);

    CHECKF(n == want, "%s on %llu: %d, want %d", v, (unsigned long long)size, n, want);
}

int main(void)
{
    char big[8192];
    size_t n = 0;

    one("bytes=0-0", 100, 0, 0);
    one("bytes=0-499", 1000, 0, 499);
    one("bytes=500-599", 1000, 500, 599);
    one("bytes=-500", 1000, 500, 999);
    one("bytes=-5000", 1000, 0, 999);      /* longer suffix: the whole */
    one("bytes=900-", 1000, 900, 999);     /* open */
    one("bytes=900-5000", 1000, 900, 999); /* clipped */
    one("BYTES=1-2", 10, 1, 2);            /* the unit is case-insensitive */
    one("bytes= 1-2 ", 10, 1, 2);
    one("bytes=1-2,", 10, 1, 2);                      /* empty list elements */
    one("bytes=0-99999999999999999999999", 10, 0, 9); /* saturates */
    one("bytes=0-4,5-9", 10, 0, 9);                   /* adjacent: merged */
    one("bytes=5-9,0-4", 10, 0, 9);                   /* unsorted, then merged */
    one("bytes=20-30,2-3", 10, 2, 3);                 /* the unsatisfiable one is dropped */

    status("bytes=1000-", 1000, -ERANGE);
    status("bytes=1000-2000,3000-", 1000, -ERANGE);
    status("bytes=-0", 1000, -ERANGE);
    status("bytes=99999999999999999999999-", 1000, -ERANGE);

    status("", 10, RINGO__RANGE_IGNORE);
    status("bytes=", 10, RINGO__RANGE_IGNORE);
    status("bytes=,", 10, RINGO__RANGE_IGNORE);
    status("items=0-1", 10, RINGO__RANGE_IGNORE);
    status("bytes=5-1", 10, RINGO__RANGE_IGNORE); /* inverted: malformed, not empty */
    status("bytes=1-2,5-1", 10, RINGO__RANGE_IGNORE);
    status("bytes=a-b", 10, RINGO__RANGE_IGNORE);
    status("bytes=1", 10, RINGO__RANGE_IGNORE);
    status("bytes=--1", 10, RINGO__RANGE_IGNORE);
    status("bytes=1-2-3", 10, RINGO__RANGE_IGNORE);
    status("bytes = 1-2", 10, RINGO__RANGE_IGNORE);
    status("bytes=+1-2", 10, RINGO__RANGE_IGNORE);
    status("bytes=0-1", 0, RINGO__RANGE_IGNORE); /* an empty file is sent whole */

    /* Several: sorted, merged, each kept. */
    CHECK(parse("bytes=50-59,0-9,20-29", 100) == 3);
    CHECK(r[0].first == 0 && r[0].last == 9 && r[1].first == 20 && r[2].last == 59);
    CHECK(parse("bytes=0-9,-10", 100) == 2 && r[1].first == 90 && r[1].last == 99);

    /* Overlap abuse: more bytes asked for than the file has. */
    status("bytes=0-,0-", 100, RINGO__RANGE_IGNORE);
    status("bytes=0-59,40-99", 100, RINGO__RANGE_IGNORE);
    /* More than the maximum after merging. */
    n = (size_t)sprintf(big, "bytes=");
    for (int i = 0; i < 17; i++)
        n += (size_t)sprintf(big + n, "%s%d-%d", i ? "," : "", i * 10, i * 10);
    status(big, 1000, RINGO__RANGE_IGNORE);
    /* Many that merge into one are fine, up to the raw bound. */
    n = (size_t)sprintf(big, "bytes=");
    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(big + n, "%s%d-%d", i ? "," : "", i, i);
    one(big, 1000, 0, 199);
    n = (size_t)sprintf(big, "bytes=");
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(big + n, "%s%d-%d", i ? "," : "", i, i);
    status(big, 100000, RINGO__RANGE_IGNORE); /* 1,000 range-specs: past the raw bound */
    CHECK(ringo__range_parse(ringo_str_c("bytes=0-1"), 10, r, 0) == RINGO__RANGE_IGNORE);
    puts("range_test: ok");
    return 0;
}
