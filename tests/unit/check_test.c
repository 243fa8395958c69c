/*
 * Description: ringo_check() as a library call: it writes well-formed
 * verdict lines into any FILE (here open_memstream), a fix under each warn
 * and fail, a last verdict line matching its return value, and writes
 * nothing with a NULL stream while returning the same verdict. A
 * configuration is taken into account (more rings need more descriptors).
 * ringo_strerror() names io_uring for RINGO_EIOURING.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringo.h>

#include "check.h"

static int run(const ringo_config *cfg, char **text)
{
    size_t len;
    FILE *f = open_memstream(text, &len);
    int ret;

    CHECK(f);
    ret = ringo_check(f, cfg);
    CHECK(fclose(f) == 0);
    return ret;
}

static void check_format(const char *text, int ret)
{
    static const char *const words[] = {"ok", "warn", "fail"};
    char *copy = strdup(text), *save = NULL, *last = NULL;
    int prev = -1, worst = 0;

    CHECK(copy);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        last = l;
        if (!strncmp(l, "      fix: ", 11)) {
            CHECKF(prev > 0, "a fix under an ok line: %s", l);
            prev = 0;
            continue;
        }
        if (!strncmp(l, "verdict: ", 9))
            break;
        CHECKF(prev <= 0, "no fix line before: %s", l);
        prev = !strncmp(l, "ok   ", 5)   ? 0
               : !strncmp(l, "warn ", 5) ? 1
               : !strncmp(l, "fail ", 5) ? 2
                                         : -1;
        CHECKF(prev >= 0 && strlen(l) > 31, "malformed: %s", l);
        if (prev > worst)
            worst = prev;
    }
    CHECKF(last && !strncmp(last, "verdict: ", 9), "no verdict line: %s", text);
    CHECKF(!strncmp(last + 9, words[worst], strlen(words[worst])), "%s", last);
    CHECKF(ret == RINGO_EIOURING ? worst == 2 : ret == worst, "returned %d, worst %d", ret, worst);
    free(copy);
}

int main(void)
{
    ringo_config cfg;
    char *text = NULL;
    int ret = run(NULL, &text);

    check_format(text, ret);
    CHECK(strstr(text, "\nok    io_uring ") || ret == RINGO_EIOURING);
    if (ret == RINGO_EIOURING) {
        printf("skip: io_uring refused here\n");
        free(text);
        return 77;
    }
    free(text);
    CHECK(ringo_check(NULL, NULL) == ret);
    CHECK(strstr(ringo_strerror(RINGO_EIOURING), "io_uring"));
    CHECK(!strcmp(ringo_strerror(RINGO_EIOURING), ringo_strerror(-RINGO_EIOURING)));

    /* A million connections on each of 1000 rings: no host has the descriptors. */
    ringo_config_init(&cfg);
    cfg.threads = 1000;
    cfg.max_conns = 1000000;
    ret = run(&cfg, &text);
    check_format(text, ret);
    CHECKF(strstr(text, "\nwarn  RLIMIT_NOFILE ") && ret >= RINGO_CHECK_WARN, "%s", text);
    free(text);
    return 0;
}
