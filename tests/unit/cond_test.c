/*
 * Description: conditional requests (http/cond.c): HTTP-date formatting
 * and the three date forms, entity-tag lists with strong and weak
 * comparison, the RFC 9110 section 13.2.2 precedence, and If-Range.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/cond.h"

static int64_t date(const char *s)
{
    int64_t t = -1;

    CHECKF(ringo__http_date_parse(ringo_str_c(s), &t) == 0, "%s does not parse", s);
    return t;
}

static void bad_date(const char *s)
{
    int64_t t;

    CHECKF(ringo__http_date_parse(ringo_str_c(s), &t) == -EINVAL, "%s parses", s);
}

static void dates(void)
{
    char out[RINGO__HTTP_DATE_LEN + 1];

    CHECK(date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK(date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    CHECK(date("Tue, 29 Feb 2028 23:59:59 GMT") == 1835481599);
    bad_date("Sun, 06 Nov 1994 08:49:37 UTC");
    bad_date("Sun, 06 Nov 1994 25:49:37 GMT");
    bad_date("Sun, 32 Nov 1994 08:49:37 GMT");
    bad_date("Sun, 06 Foo 1994 08:49:37 GMT");
    bad_date("Sun, 06 Nov 1994 08:49:37 GMT ");
    bad_date("Tue, 29 Feb 2100 00:00:00 GMT"); /* not a leap year */
    CHECK(date("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
    bad_date("784111777");
    bad_date("");
    ringo__http_date_format(784111777, out);
    CHECKF(strcmp(out, "Sun, 06 Nov 1994 08:49:37 GMT") == 0, "%s", out);
    ringo__http_date_format(0, out);
    CHECKF(strcmp(out, "Thu, 01 Jan 1970 00:00:00 GMT") == 0, "%s", out);
    ringo__http_date_format(1835481599, out);
    CHECKF(strcmp(out, "Tue, 29 Feb 2028 23:59:59 GMT") == 0, "%s", out);
    for (int64_t t = 0; t < 4000000000; t += 86400 * 37 + 3607) {
        ringo__http_date_format(t, out);
        CHECKF(date(out) == t, "%s", out);
    }
}

static int match(const char *list, const char *etag, bool weak)
{
    return ringo__etag_match(ringo_str_c(list), ringo_str_c(etag), weak);
}

static void etags(void)
{
    CHECK(match("\"a\"", "\"a\"", false) == 1);
    CHECK(match("\"b\", \"a\"", "\"a\"", false) == 1);
    CHECK(match("\"b\"", "\"a\"", false) == 0);
    CHECK(match("*", "\"a\"", false) == 1);
    CHECK(match(" * ", "\"a\"", true) == 1);
    CHECK(match("W/\"a\"", "\"a\"", false) == 0); /* strong: weak tags never match */
    CHECK(match("W/\"a\"", "\"a\"", true) == 1);
    CHECK(match("\"a\"", "W/\"a\"", true) == 1);
    CHECK(match("\"a\",,\"c\"", "\"c\"", true) == 1);
    CHECK(match("a", "\"a\"", true) == -EINVAL);
    CHECK(match("\"a", "\"a\"", true) == -EINVAL);
    CHECK(match("\"a\" \"b\"", "\"b\"", true) == -EINVAL);
    CHECK(match("", "\"a\"", true) == -EINVAL);
    CHECK(match("*, \"a\"", "\"a\"", true) == -EINVAL);
}

static ringo__cond base(void)
{
    ringo__cond c = {.get_or_head = true, .etag = RINGO_STR_LIT("\"x\""), .mtime = 784111777};
    return c;
}

static void precedence(void)
{
    ringo__cond c = base();

    CHECK(ringo__cond_eval(&c) == 0);
    c.has_if_match = true, c.if_match = RINGO_STR_LIT("\"y\"");
    CHECK(ringo__cond_eval(&c) == 412);
    /* If-Match wins over If-Unmodified-Since, which is not even looked at. */
    c.has_ius = true, c.if_unmodified_since = RINGO_STR_LIT("Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(ringo__cond_eval(&c) == 412);
    c.if_match = RINGO_STR_LIT("\"x\"");
    c.if_unmodified_since = RINGO_STR_LIT("Sat, 05 Nov 1994 08:49:37 GMT");
    CHECK(ringo__cond_eval(&c) == 0);
    c.has_if_match = false;
    CHECK(ringo__cond_eval(&c) == 412);
    c.if_unmodified_since = RINGO_STR_LIT("not a date"); /* ignored */
    CHECK(ringo__cond_eval(&c) == 0);
    c.if_unmodified_since = RINGO_STR_LIT("Sun, 06 Nov 1994 08:49:37 GMT"); /* equal: unmodified */
    CHECK(ringo__cond_eval(&c) == 0);

    c = base();
    c.has_if_none_match = true, c.if_none_match = RINGO_STR_LIT("W/\"x\"");
    CHECK(ringo__cond_eval(&c) == 304); /* weak comparison */
    c.get_or_head = false;
    CHECK(ringo__cond_eval(&c) == 412);
    c.get_or_head = true;
    /* If-None-Match wins over If-Modified-Since, even when it does not match. */
    c.if_none_match = RINGO_STR_LIT("\"other\"");
    c.has_ims = true, c.if_modified_since = RINGO_STR_LIT("Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(ringo__cond_eval(&c) == 0);
    c.has_if_none_match = false;
    CHECK(ringo__cond_eval(&c) == 304);
    c.if_modified_since = RINGO_STR_LIT("Sun, 06 Nov 1994 08:49:36 GMT");
    CHECK(ringo__cond_eval(&c) == 0);
    c.if_modified_since = RINGO_STR_LIT("yesterday"); /* ignored */
    CHECK(ringo__cond_eval(&c) == 0);
    c.if_modified_since = RINGO_STR_LIT("Sun, 06 Nov 1994 08:49:37 GMT");
    c.get_or_head = false; /* only for GET and HEAD */
    CHECK(ringo__cond_eval(&c) == 0);

    /* A failed If-Match answers 412 before If-None-Match is considered. */
    c = base();
    c.has_if_match = true, c.if_match = RINGO_STR_LIT("\"y\"");
    c.has_if_none_match = true, c.if_none_match = RINGO_STR_LIT("\"x\"");
    CHECK(ringo__cond_eval(&c) == 412);
    c.if_match = RINGO_STR_LIT("*");
    CHECK(ringo__cond_eval(&c) == 304);
    c.if_match = RINGO_STR_LIT("garbage"); /* malformed: false */
    CHECK(ringo__cond_eval(&c) == 412);
}

static void if_range(void)
{
    ringo_str tag = RINGO_STR_LIT("\"x\"");

    CHECK(ringo__if_range(RINGO_STR_LIT("\"x\""), tag, 784111777) == 1);
    CHECK(ringo__if_range(RINGO_STR_LIT("\"y\""), tag, 784111777) == 0);
    CHECK(ringo__if_range(RINGO_STR_LIT("W/\"x\""), tag, 784111777) == 0);
    CHECK(ringo__if_range(RINGO_STR_LIT("\"x\", \"y\""), tag, 784111777) == 0);
    CHECK(ringo__if_range(RINGO_STR_LIT("Sun, 06 Nov 1994 08:49:37 GMT"), tag, 784111777) == 1);
    CHECK(ringo__if_range(RINGO_STR_LIT("Sun, 06 Nov 1994 08:49:38 GMT"), tag, 784111777) == 0);
    CHECK(ringo__if_range(RINGO_STR_LIT(""), tag, 784111777) == 0);
}

int main(void)
{
    dates();
    etags();
    precedence();
    if_range();
    puts("cond_test: ok");
    return 0;
}
