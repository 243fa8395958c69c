/*
 * Description: request-target splitting (origin-, absolute- and
 * asterisk-form), percent-decoding and query lookup in http/url.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/url.h"

#define CHECK_STR(s, lit) CHECK(str_is((s), (lit)))

static int str_is(ringo_str s, const char *lit) { return ringo_str_eq(s, ringo_str_c(lit)); }

/* Splits t and checks the result; expect_path NULL means -EINVAL is expected. */
static int split_is(const char *t, const char *expect_path, const char *expect_query)
{
    ringo_str path = {0}, query = {0};
    int rc = ringo__url_split(ringo_str_c(t), &path, &query);

    if (!expect_path)
        return rc == -EINVAL;
    if (rc != 0) {
        fprintf(stderr, "  split(\"%s\") = %d\n", t, rc);
        return 0;
    }
    if (!str_is(path, expect_path) || !str_is(query, expect_query)) {
        fprintf(stderr, "  split(\"%s\") = \"%.*s\" \"%.*s\"\n", t, (int)path.len, path.ptr,
                (int)query.len, query.ptr);
        return 0;
    }
    return 1;
}

static void test_origin_form(void)
{
    const char *t = "/a/b?x=1";
    ringo_str path, query;

    CHECK(split_is("/", "/", ""));
    CHECK(split_is("/a/b", "/a/b", ""));
    CHECK(split_is("/a/b?x=1&y=2", "/a/b", "x=1&y=2"));
    CHECK(split_is("/a?", "/a", ""));
    CHECK(split_is("/?a=?b", "/", "a=?b"));
    CHECK(split_is("//a//", "//a//", ""));
    CHECK(split_is("/a%2Fb?q=%20", "/a%2Fb", "q=%20"));
    CHECK(split_is("/x?a=1/2", "/x", "a=1/2"));
    /* Pointers go into the target: no copy. */
    CHECK(ringo__url_split(ringo_str_c(t), &path, &query) == 0);
    CHECK(path.ptr == t && query.ptr == t + 5);
}

static void test_absolute_form(void)
{
    CHECK(split_is("http://example.com/a/b?x", "/a/b", "x"));
    CHECK(split_is("http://h:8080/a?x=1", "/a", "x=1"));
    CHECK(split_is("https://h", "/", ""));
    CHECK(split_is("HTTP://H/Z", "/Z", ""));
    CHECK(split_is("HttpS://h/", "/", ""));
    CHECK(split_is("http://h?q=1", "/", "q=1"));
    CHECK(split_is("http://[::1]:80/v6", "/v6", ""));
    CHECK(split_is("http://h//x", "//x", ""));
    CHECK(split_is("http://", NULL, NULL));      /* empty host */
    CHECK(split_is("http:///a", NULL, NULL));    /* empty host */
    CHECK(split_is("http://:80/a", NULL, NULL)); /* empty host with port */
    CHECK(split_is("http://u@h/a", NULL, NULL)); /* userinfo */
    CHECK(split_is("http:/h/a", NULL, NULL));
    CHECK(split_is("ftp://h/a", NULL, NULL));
    CHECK(split_is("httpx://h/a", NULL, NULL));
    CHECK(split_is("http", NULL, NULL));
    CHECK(split_is("h/a", NULL, NULL));
}

static void test_authority(void)
{
    ringo_str a;

    CHECK(ringo__url_authority(ringo_str_c("http://h:81/x"), &a) == 0);
    CHECK_STR(a, "h:81");
    CHECK(ringo__url_authority(ringo_str_c("https://h?x"), &a) == 0);
    CHECK_STR(a, "h");
    CHECK(ringo__url_authority(ringo_str_c("/x"), &a) == -ENOENT);
    CHECK(ringo__url_authority(ringo_str_c("*"), &a) == -ENOENT);
    CHECK(ringo__url_authority(ringo_str_c("http://u@h/"), &a) == -EINVAL);
}

static void test_asterisk_and_bad_bytes(void)
{
    ringo_str path, query;
    char bad[8];

    CHECK(split_is("*", "*", ""));
    CHECK(split_is("*?x", NULL, NULL));
    CHECK(split_is("**", NULL, NULL));
    CHECK(split_is("", NULL, NULL));
    CHECK(split_is("a", NULL, NULL));
    CHECK(split_is("/a#frag", NULL, NULL));
    CHECK(split_is("/a?x#f", NULL, NULL));
    CHECK(split_is("/a b", NULL, NULL));
    CHECK(split_is("/a\tb", NULL, NULL));
    CHECK(split_is("/a\x7f", NULL, NULL));
    CHECK(split_is("/caf\xc3\xa9", NULL, NULL));
    CHECK(split_is("/a?x=\x01", NULL, NULL));
    /* An embedded NUL is a control byte too. */
    memcpy(bad, "/a\0b", 4);
    CHECK(ringo__url_split((ringo_str){bad, 4}, &path, &query) == -EINVAL);
}

static ssize_t decode(char *out, const char *in, int plus)
{
    ssize_t n = ringo__pct_decode(out, in, strlen(in), plus);

    if (n >= 0)
        out[n] = '\0';
    return n;
}

static void test_pct_decode(void)
{
    char out[64], buf[64];

    CHECK(decode(out, "abc", 0) == 3 && strcmp(out, "abc") == 0);
    CHECK(decode(out, "", 0) == 0);
    CHECK(decode(out, "a%20b", 0) == 3 && strcmp(out, "a b") == 0);
    CHECK(decode(out, "%2F%2f", 0) == 2 && strcmp(out, "//") == 0);
    CHECK(decode(out, "%C3%A9", 0) == 2 && strcmp(out, "\xc3\xa9") == 0);
    CHECK(decode(out, "%7e%7E", 0) == 2 && strcmp(out, "~~") == 0);
    CHECK(decode(out, "%FF", 0) == 1 && (unsigned char)out[0] == 0xff);
    CHECK(decode(out, "a+b", 0) == 3 && strcmp(out, "a+b") == 0);
    CHECK(decode(out, "a+b", 1) == 3 && strcmp(out, "a b") == 0);
    CHECK(decode(out, "%2B+", 1) == 2 && strcmp(out, "+ ") == 0);
    CHECK(decode(out, "%00x", 0) == 2 && out[0] == '\0' && out[1] == 'x');
    CHECK(decode(out, "%zz", 0) == -EINVAL);
    CHECK(decode(out, "%4", 0) == -EINVAL);
    CHECK(decode(out, "ab%", 0) == -EINVAL);
    CHECK(decode(out, "%g0", 0) == -EINVAL);
    CHECK(decode(out, "%0g", 0) == -EINVAL);
    CHECK(decode(out, "%%41", 0) == -EINVAL);
    /* In place. */
    strcpy(buf, "x%41%42y+%2");
    CHECK(ringo__pct_decode(buf, buf, 8, 0) == 4 && memcmp(buf, "xABy", 4) == 0);
    strcpy(buf, "x%41%42y+%2");
    CHECK(ringo__pct_decode(buf, buf, strlen(buf), 0) == -EINVAL);
    /* A truncated escape must not read past len. */
    CHECK(ringo__pct_decode(out, "%41", 2, 0) == -EINVAL);
    CHECK(ringo__pct_validate("a%41b", 5) == 0);
    CHECK(ringo__pct_validate("", 0) == 0);
    CHECK(ringo__pct_validate("a%4", 3) == -EINVAL);
    CHECK(ringo__pct_validate("%41%", 4) == -EINVAL);
    CHECK(ringo__pct_validate("%41%x1", 6) == -EINVAL);
}

/* 1 when the raw value of name in q is expect (NULL: name is absent). */
static int query_is(const char *q, const char *name, const char *expect)
{
    ringo_str v = {0};
    int rc = ringo__query_get(ringo_str_c(q), ringo_str_c(name), &v);

    if (!expect)
        return rc == -ENOENT;
    return rc == 0 && str_is(v, expect);
}

static void test_query(void)
{
    ringo_str v;
    char out[32];
    ssize_t n;

    CHECK(query_is("a=1&b=2", "a", "1"));
    CHECK(query_is("a=1&b=2", "b", "2"));
    CHECK(query_is("a=1&b=2", "c", NULL));
    CHECK(query_is("", "a", NULL));
    CHECK(query_is("a=1&a=2", "a", "1"));
    CHECK(query_is("flag&x=1", "flag", ""));
    CHECK(query_is("x=1&flag", "flag", ""));
    CHECK(query_is("flag=&x=1", "flag", ""));
    CHECK(query_is("&&a=1&&", "a", "1"));
    CHECK(query_is("a=b=c", "a", "b=c"));
    CHECK(query_is("ab=1&a=2", "a", "2"));
    CHECK(query_is("a=1", "ab", NULL));
    CHECK(query_is("=v&a=1", "", "v"));
    /* Keys are compared decoded, '+' as space; values stay raw. */
    CHECK(query_is("first+name=J+Doe", "first name", "J+Doe"));
    CHECK(query_is("first%20name=x", "first name", "x"));
    CHECK(query_is("%61=1", "a", "1"));
    CHECK(query_is("a%2Bb=1", "a+b", "1"));
    CHECK(query_is("a+b=1", "a+b", NULL));
    /* A malformed key met before the match is an error, whatever the name. */
    CHECK(ringo__query_get(ringo_str_c("%zz=1&a=2"), ringo_str_c("a"), &v) == -EINVAL);
    CHECK(ringo__query_get(ringo_str_c("a%z=1&a=2"), ringo_str_c("b"), &v) == -EINVAL);
    CHECK(ringo__query_get(ringo_str_c("b%=1"), ringo_str_c("b"), &v) == -EINVAL);
    /* Values are the caller's to decode: a bad one is found then. */
    CHECK(ringo__query_get(ringo_str_c("a=%zz"), ringo_str_c("a"), &v) == 0);
    CHECK(ringo__pct_decode(out, v.ptr, v.len, 1) == -EINVAL);
    CHECK(ringo__query_get(ringo_str_c("q=a+b%2Bc%26"), ringo_str_c("q"), &v) == 0);
    n = ringo__pct_decode(out, v.ptr, v.len, 1);
    CHECK(n == 6 && memcmp(out, "a b+c&", 6) == 0);
}

int main(void)
{
    test_origin_form();
    test_absolute_form();
    test_authority();
    test_asterisk_and_bad_bytes();
    test_pct_decode();
    test_query();
    printf("url_test: ok\n");
    return 0;
}
