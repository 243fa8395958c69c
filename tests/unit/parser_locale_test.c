/*
 * Description: the parser glue classifies bytes the same in every locale.
 * An application may call setlocale(LC_ALL, ""); under de_DE.ISO-8859-1
 * isalnum() accepts Latin-1 letters, and under tr_TR.ISO-8859-9 tolower('I')
 * is the dotless i, so strncasecmp() no longer matches "100-CONTINUE".
 * The test compiles both locales with localedef into a temporary LOCPATH and
 * feeds requests through ringo__parse() under each: a method with a Latin-1
 * letter is malformed (400, not an unknown method's 501), an upper-case
 * "Expect: 100-CONTINUE" is accepted (not 417), ringo_req_header() finds
 * "AUTHORIZATION" under "authorization", and the http/ascii.h classes
 * match RFC 9110's ASCII definitions for all 256 byte values. Skips (77)
 * when localedef or the locale sources are missing.
 */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/ring_impl.h"
#include "http/ascii.h"
#include "http/http_impl.h"

static ringo_app *app;
static ringo__ring *ring;
static char locpath[] = "/tmp/ringo-locale-XXXXXX";
static const char *lookup; /* a header ringo_req_header() must find in the parsed request */
static bool found;

/* Builds locale `name` from source `src` and charmap `map`; false when it cannot. */
static bool make_locale(const char *src, const char *map, const char *name)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "localedef -i %s -f %s %s/%s >/dev/null 2>&1", src, map, locpath,
             name);
    (void)system(cmd); /* exit status 1 only means warnings */
    return setlocale(LC_ALL, name) != NULL;
}

static void cleanup(void)
{
    char cmd[600];

    if (ring)
        ringo__ring_free(ring);
    ringo_app_free(app);
    setlocale(LC_ALL, "C");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", locpath);
    (void)system(cmd);
}

/* Feeds one request whole; returns ringo__parse()'s result (1, 0 or -status). */
static int parse(const char *req)
{
    ringo__conn *c = calloc(1, sizeof(*c) + sizeof(ringo__sess));
    ringo__sess *s;
    size_t used = 0;
    int ret;

    CHECK(c);
    c->ring = ring;
    c->heap_idx = UINT32_MAX;
    s = ringo__conn_state(c);
    s->conn = c;
    s->app = app;
    llhttp_init(&s->parser, HTTP_REQUEST, &ringo__llhttp_settings);
    s->parser.data = s;
    ret = ringo__parse(s, req, strlen(req), &used);
    if (ret == 1 && lookup) {
        ringo_str v;
        found = ringo_req_header(s->cur, lookup, &v) == 0;
    }
    ringo__req_free(s->cur);
    ringo__timer_remove(ring, c);
    free(c->out);
    free(c);
    return ret;
}

static bool rfc_tchar(int ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && ch < 128 && strchr("!#$%&'*+-.^_`|~", ch));
}

static void check_classes(void)
{
    for (int ch = 0; ch < 256; ch++) {
        unsigned char b = (unsigned char)ch;
        int lower = ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
        int hex = ch >= '0' && ch <= '9'   ? ch - '0'
                  : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                  : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                           : -1;
        CHECK(ascii_is_tchar(b) == rfc_tchar(ch));
        CHECK(ascii_is_digit(b) == (ch >= '0' && ch <= '9'));
        CHECK(ascii_lower(b) == lower);
        CHECK(ascii_hex_value(b) == hex);
    }
    CHECK(ascii_iequal("100-CONTINUE", "100-continue", 12));
    CHECK(!ascii_iequal("\xc4", "\xe4", 1)); /* Latin-1 Ä and ä: not ASCII letters */
}

int main(void)
{
    ringo_config cfg;

    if (!mkdtemp(locpath))
        return 77;
    setenv("LOCPATH", locpath, 1);
    atexit(cleanup);
    ringo_config_init(&cfg);
    cfg.max_conns = 4;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    ring = ringo__ring_new(&app->srv, 0, -1);
    CHECK(ring);

    /* Latin-1: Ä (0xC4) is a letter to isalnum(), not a tchar to RFC 9110. */
    if (!make_locale("de_DE", "ISO-8859-1", "de_DE.ISO-8859-1") || !isalnum(0xc4)) {
        fprintf(stderr, "skip: cannot build de_DE.ISO-8859-1 with localedef\n");
        return 77;
    }
    check_classes();
    CHECK(parse("G\xc4T / HTTP/1.1\r\nHost: a\r\n\r\n") == -400);
    CHECK(parse("BREW / HTTP/1.1\r\nHost: a\r\n\r\n") == -501);

    /* Turkish: tolower('I') is not 'i', so strncasecmp() misses "CONTINUE". */
    if (!make_locale("tr_TR", "ISO-8859-9", "tr_TR.ISO-8859-9") || tolower('I') == 'i') {
        fprintf(stderr, "skip: cannot build tr_TR.ISO-8859-9 with localedef\n");
        return 77;
    }
    check_classes();
    CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                "Expect: 100-CONTINUE\r\n\r\nx") == 1);
    CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                "Expect: 100-continuE\r\n\r\nx") == 1);
    CHECK(parse("GET / HTTP/1.1\r\nHOST: a\r\nhost: b\r\n\r\n") == -400);
    lookup = "authorization";
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nAUTHORIZATION: x\r\n\r\n") == 1 && found);
    return 0;
}
