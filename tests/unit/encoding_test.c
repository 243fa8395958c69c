/*
 * Description: Accept-Encoding negotiation (http/encoding.c): q-values,
 * server preference on ties, "*", identity refused by name or by "*;q=0",
 * x-gzip, malformed elements ignored, case-insensitive names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/encoding.h"

static const char *const offered[] = {"br", "zstd", "gzip"};

static void pick(const char *value, int want)
{
    int got = ringo__accept_encoding(ringo_str_c(value), true, offered, 3);

    CHECKF(got == want, "Accept-Encoding: %s -> %d, want %d", value, got, want);
}

int main(void)
{
    CHECK(ringo__accept_encoding(ringo_str_c("gzip"), false, offered, 3) == -1);
    pick("", -1);
    pick("gzip", 2);
    pick("gzip, br", 0); /* a tie: the server's order */
    pick("gzip;q=1.0, br;q=0.9", 2);
    pick("br;q=0.5, zstd;q=0.6, gzip;q=0.4", 1);
    pick("GZIP", 2);
    pick("x-gzip", 2);
    pick("deflate", -1);
    pick("*", 0);
    pick("*;q=0.1, gzip;q=0.2", 2);
    pick("gzip;q=0", -1);
    pick("gzip;q=0.5, identity;q=1", -1);
    pick("gzip;q=1, identity;q=1", 2);
    pick("identity;q=0", -ENOENT);
    pick("*;q=0", -ENOENT);
    pick("*;q=0, identity", -1);
    pick("*;q=0, gzip", 2);
    pick("gzip;q=2", -1);      /* malformed q: ignored */
    pick("gzip;q=0.1234", -1); /* more than 3 decimals */
    pick("gzip;q=", -1);
    pick("gzip ; q=0.3 , br ; q = 0.2", 2); /* BWS around "=" is not allowed: br is ignored */
    pick(",,gzip,,", 2);
    pick("gzip;level=1;q=0.8, zstd;q=0.7", 2);
    pick("g@zip, br", 0);
    printf("encoding_test: ok\n");
    return 0;
}
