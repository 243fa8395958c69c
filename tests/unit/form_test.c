/*
 * Description: http/form.c - application/x-www-form-urlencoded bodies:
 * pairs, percent-decoding with '+' as a space (in place), empty pairs and
 * keys without '=', malformed escapes, the field-count bound and the
 * Content-Type check.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "http/form.h"

/*
 * Walks body with at most max pairs and writes them as "key=value;" to out
 * (NUL bytes shown as "\0"). Returns what the last ringo__form_next() did.
 */
static int walk(const char *body, uint32_t max, char *out, size_t cap)
{
    char buf[512];
    size_t n = strlen(body), o = 0;
    ringo__form f;
    ringo_str k, v;
    int rc;

    CHECK(n < sizeof(buf));
    memcpy(buf, body, n);
    ringo__form_init(&f, buf, n, max);
    out[0] = '\0';
    while ((rc = ringo__form_next(&f, &k, &v)) == 1) {
        CHECK(k.ptr >= buf && k.ptr + k.len <= buf + n);
        CHECK(v.ptr >= buf && v.ptr + v.len <= buf + n);
        for (int pass = 0; pass < 2; pass++) {
            ringo_str s = pass ? v : k;
            for (size_t i = 0; i < s.len && o + 3 < cap; i++) {
                if (s.ptr[i] == '\0') {
                    out[o++] = '\\';
                    out[o++] = '0';
                } else {
                    out[o++] = s.ptr[i];
                }
            }
            if (o + 2 < cap)
                out[o++] = pass ? ';' : '=';
        }
        out[o] = '\0';
    }
    return rc;
}

static int form_is(const char *body, const char *want)
{
    char out[512];
    int rc = walk(body, RINGO__FORM_MAX_FIELDS, out, sizeof(out));

    if (rc != 0 || strcmp(out, want) != 0) {
        fprintf(stderr, "  form(\"%s\") = %d \"%s\"\n", body, rc, out);
        return 0;
    }
    return 1;
}

static void test_pairs(void)
{
    CHECK(form_is("", ""));
    CHECK(form_is("a=1", "a=1;"));
    CHECK(form_is("a=1&b=2&a=3", "a=1;b=2;a=3;"));
    CHECK(form_is("&&a=1&&&b=&", "a=1;b=;"));
    CHECK(form_is("flag&x=", "flag=;x=;"));
    CHECK(form_is("=v", "=v;"));
    CHECK(form_is("a=b=c", "a=b=c;"));
    CHECK(form_is("first+name=J%C3%B6rg+M%c3%BCller&q=1%2B1%3D2%26x",
                  "first name=Jörg Müller;q=1+1=2&x;"));
    CHECK(form_is("k%3Dx=%25%20%2b+", "k=x=% + ;"));
    CHECK(form_is("nul=%00x", "nul=\\0x;"));
    CHECK(form_is("semi=a;b", "semi=a;b;")); /* only '&' separates */
}

static void test_malformed(void)
{
    char out[512];

    CHECK(walk("a=%zz", 10, out, sizeof(out)) == -EINVAL);
    CHECK(walk("a=%4", 10, out, sizeof(out)) == -EINVAL);
    CHECK(walk("a=%", 10, out, sizeof(out)) == -EINVAL);
    CHECK(walk("%g1=x", 10, out, sizeof(out)) == -EINVAL);
    CHECK(walk("a%=x", 10, out, sizeof(out)) == -EINVAL);
    /* Pairs before the bad one were returned. */
    CHECK(walk("ok=1&a=%4&b=2", 10, out, sizeof(out)) == -EINVAL);
    CHECK(strcmp(out, "ok=1;") == 0);
    /* "%4&" is malformed even though a hex digit follows the '&'. */
    CHECK(walk("a=%4&1", 10, out, sizeof(out)) == -EINVAL);
}

static void test_field_bound(void)
{
    char out[512];

    CHECK(walk("a=1&b=2&c=3", 3, out, sizeof(out)) == 0);
    CHECK(walk("a=1&b=2&c=3&&", 3, out, sizeof(out)) == 0); /* empty pairs do not count */
    CHECK(walk("a=1&b=2&c=3&d", 3, out, sizeof(out)) == -E2BIG);
    CHECK(strcmp(out, "a=1;b=2;c=3;") == 0);
    CHECK(walk("a", 0, out, sizeof(out)) == -E2BIG);
    CHECK(walk("", 0, out, sizeof(out)) == 0);
}

static void test_content_type(void)
{
    CHECK(ringo__form_is_urlencoded(RINGO_STR_LIT("application/x-www-form-urlencoded")));
    CHECK(ringo__form_is_urlencoded(RINGO_STR_LIT("Application/X-WWW-Form-URLEncoded")));
    CHECK(ringo__form_is_urlencoded(RINGO_STR_LIT(" application/x-www-form-urlencoded ")));
    CHECK(ringo__form_is_urlencoded(
        RINGO_STR_LIT("application/x-www-form-urlencoded;charset=UTF-8")));
    CHECK(ringo__form_is_urlencoded(RINGO_STR_LIT("application/x-www-form-urlencoded ; x=y")));
    CHECK(!ringo__form_is_urlencoded(RINGO_STR_LIT("application/x-www-form-urlencodedx")));
    CHECK(!ringo__form_is_urlencoded(RINGO_STR_LIT("application/x-www-form-urlencoded x")));
    CHECK(!ringo__form_is_urlencoded(RINGO_STR_LIT("application/x-www-form")));
    CHECK(!ringo__form_is_urlencoded(RINGO_STR_LIT("multipart/form-data; boundary=x")));
    CHECK(!ringo__form_is_urlencoded(RINGO_STR_LIT("")));
}

int main(void)
{
    test_pairs();
    test_malformed();
    test_field_bound();
    test_content_type();
    return 0;
}
