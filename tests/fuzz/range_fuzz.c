/*
 * tests/fuzz/range_fuzz.c - libFuzzer target: the Range header parser.
 *
 * Input: 8 bytes of representation size (little-endian; small sizes are
 * folded so that most inputs exercise clipping), then the header value.
 * The parser must never crash nor read past the value, and whatever it
 * returns must be consistent: ranges sorted, disjoint and not adjacent,
 * inside the representation, at most the maximum asked for, their total
 * no larger than the representation. The same bytes go through the
 * conditional-header parsers (http/cond.c) too: entity-tag lists, If-Range
 * and HTTP-dates, where a date that parses must survive formatting and
 * parsing again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/cond.h"
#include "http/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void conditionals(ringo_str v)
{
    char out[RINGO__HTTP_DATE_LEN + 1];
    int64_t t, t2;

    (void)ringo__etag_match(v, RINGO_STR_LIT("\"a\""), true);
    (void)ringo__etag_match(v, RINGO_STR_LIT("W/\"a\""), false);
    (void)ringo__if_range(v, RINGO_STR_LIT("\"a\""), 784111777);
    if (ringo__http_date_parse(v, &t) == 0 && t >= 0 && t < 253402300800) {
        ringo__http_date_format(t, out);
        if (ringo__http_date_parse(ringo_str_c(out), &t2) != 0 || t2 != t)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ringo__range out[16];
    uint64_t len = 0, total = 0;
    unsigned max;
    char *value;
    int n;

    if (size < 9)
        return 0;
    memcpy(&len, data, 8);
    if (data[0] & 1)
        len %= 100000; /* mostly sizes a short header can reach */
    max = 1 + data[8] % 16;
    value = malloc(size - 9 + 1); /* its own allocation: ASan sees a read past the value */
    if (!value)
        return 0;
    memcpy(value, data + 9, size - 9);
    conditionals((ringo_str){value, size - 9});
    n = ringo__range_parse((ringo_str){value, size - 9}, len, out, max);
    if (n == -ERANGE || n == RINGO__RANGE_IGNORE) {
        free(value);
        return 0;
    }
    if (n < 0 || (unsigned)n > max)
        abort();
    for (int i = 0; i < n; i++) {
        if (out[i].first > out[i].last || out[i].last >= len)
            abort();
        if (i && out[i].first <= out[i - 1].last + 1)
            abort();
        total += out[i].last - out[i].first + 1;
    }
    if (total > len)
        abort();
    free(value);
    return 0;
}
