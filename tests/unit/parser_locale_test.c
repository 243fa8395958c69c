/*
 * Description: the parser glue classifies bytes the same in every locale.
 * An application may call setlocale(LC_ALL, ""); under de_DE.ISO-8859-1
 * isalnum() accepts Latin-1 letters, and under tr_TR.ISO-8859-9 tolower('I')
 * is the dotless i, so strncasecmp() no longer matches "100-CONTINUE".
 * The test compiles both locales with localedef into a temporary LOCPATH
 * and sends requests under each through the fake core (fake_core.h): a
 * method with a Latin-1 letter is malformed (400, not an unknown method's
 * 501), an upper-case "Expect: 100-CONTINUE" is accepted (not 417),
 * ringo_req_header() finds "AUTHORIZATION" under "authorization", and the
 * core/util.h classes match RFC 9110's ASCII definitions for all 256 byte
 * values (with core/util.h's token and hex classes). Skips (77) when
 * localedef or the locale sources are missing.
 */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"
#include "core/util.h"

static ringo_app *app;
static char locpath[] = "/tmp/ringo-locale-XXXXXX";

/* Answers 200 with the value of the Authorization field, 404 without one. */
static int auth(ringo_req *req, void *ud)
{
    ringo_str v;

    (void)ud;
    if (ringo_req_header(req, "authorization", &v) < 0)
        return ringo_respond(req, 404, NULL, "none", 4);
    return ringo_respond(req, 200, NULL, v.ptr, v.len);
}

static int echo(ringo_req *req, void *ud)
{
    ringo_str b = ringo_req_body(req);

    (void)ud;
    return ringo_respond(req, 200, NULL, b.ptr, b.len);
}

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

    setlocale(LC_ALL, "C");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", locpath);
    (void)system(cmd);
}

/* What the server writes for one request sent whole (a static copy). */
static const char *answer(const char *req)
{
    static char out[4096];
    ringo__conn *c = fake_open();

    fake_recv_str(c, req);
    fake_run(c);
    snprintf(out, sizeof(out), "%s", fake_wire(c));
    fake_close(c);
    return out;
}

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
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
        CHECK(ringo__is_tchar(b) == rfc_tchar(ch));
        CHECK(ringo__ascii_digit(b) == (ch >= '0' && ch <= '9'));
        CHECK(ringo__ascii_lower(b) == lower);
        CHECK(ringo__hex_value(b) == hex);
    }
    CHECK(ringo__ascii_iequal("100-CONTINUE", "100-continue", 12));
    CHECK(!ringo__ascii_iequal("\xc4", "\xe4", 1)); /* Latin-1 Ä and ä: not ASCII letters */
}

static void start(void)
{
    app = fake_app_new(NULL);
    CHECK(ringo_route(app, "GET", "/auth", RINGO_ASYNC, auth, NULL) == 0);
    CHECK(ringo_route(app, "POST", "/echo", RINGO_ASYNC, echo, NULL) == 0);
    fake_app_start(app);
}

static void stop(void) { fake_app_free(app); }

int main(void)
{
    if (!mkdtemp(locpath))
        return 77;
    setenv("LOCPATH", locpath, 1);
    atexit(cleanup);
    /* Latin-1: Ä (0xC4) is a letter to isalnum(), not a tchar to RFC 9110. */
    if (!make_locale("de_DE", "ISO-8859-1", "de_DE.ISO-8859-1") || !isalnum(0xc4)) {
        fprintf(stderr, "skip: cannot build de_DE.ISO-8859-1 with localedef\n");
        return 77;
    }
    start();
    check_classes();
    CHECK(starts(answer("G\xc4T / HTTP/1.1\r\nHost: a\r\n\r\n"), "HTTP/1.1 400 "));
    CHECK(starts(answer("BREW / HTTP/1.1\r\nHost: a\r\n\r\n"), "HTTP/1.1 501 "));

    /* Turkish: tolower('I') is not 'i', so strncasecmp() misses "CONTINUE". */
    if (!make_locale("tr_TR", "ISO-8859-9", "tr_TR.ISO-8859-9") || tolower('I') == 'i') {
        fprintf(stderr, "skip: cannot build tr_TR.ISO-8859-9 with localedef\n");
        stop();
        return 77;
    }
    check_classes();
    CHECK(starts(answer("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                        "Expect: 100-CONTINUE\r\n\r\nx"),
                 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "));
    CHECK(starts(answer("GET /auth HTTP/1.1\r\nHOST: a\r\nhost: b\r\n\r\n"), "HTTP/1.1 400 "));
    CHECK(starts(answer("GET /auth HTTP/1.1\r\nHost: a\r\nAUTHORIZATION: x\r\n\r\n"),
                 "HTTP/1.1 200 "));
    stop();
    return 0;
}
