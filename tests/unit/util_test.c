/*
 * Description: the shared helpers of core/util.h: the RFC 9110 tchar table
 * is exactly the 77 token bytes whatever the locale, hex digits decode in
 * either case and nothing else does, container_of finds the enclosing struct.
 */
#include <locale.h>
#include <string.h>

#include "check.h"
#include "core/util.h"

/* RFC 9110 §5.6.2, spelled out independently of the table under test. */
static int rfc_tchar(unsigned c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return 1;
    return c && memchr(extra, (int)c, sizeof(extra) - 1) != NULL;
}

static void check_tchar(void)
{
    unsigned n = 0;

    for (unsigned c = 0; c < 256; c++) {
        CHECK(ringo__is_tchar((unsigned char)c) == rfc_tchar(c));
        n += ringo__tchar[c];
    }
    CHECK(n == 77);
}

static void check_hex(void)
{
    for (unsigned c = 0; c < 256; c++) {
        int want = -1;

        if (c >= '0' && c <= '9')
            want = (int)c - '0';
        else if (c >= 'a' && c <= 'f')
            want = (int)c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            want = (int)c - 'A' + 10;
        CHECK(ringo__hex_value((unsigned char)c) == want);
    }
}

struct outer {
    int a;
    double b;
    char member[3];
};

int main(void)
{
    struct outer o;

    check_tchar();
    check_hex();
    /* A Latin-1 locale makes isalnum(0xE9) true; the table must not care. */
    if (setlocale(LC_ALL, "de_DE.ISO-8859-1") || setlocale(LC_ALL, "C.UTF-8"))
        check_tchar();
    CHECK(ringo__container_of(&o.member[0], struct outer, member) == &o);
    CHECK(ringo__container_of(&o.a, struct outer, a) == &o);
    return 0;
}
