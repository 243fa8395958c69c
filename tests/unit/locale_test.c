/*
 * Description: the bytes ringo writes on the wire do not depend on the C
 * locale an application sets. Under de_DE.UTF-8 (strftime's %a gives "Mo")
 * the Date line is still an English IMF-fixdate of exactly 37 bytes with no
 * NUL in the head; under tr_TR.ISO-8859-9 ('I' does not fold to 'i' there)
 * ringo_resp_add_header() still refuses "TRANSFER-ENCODING" and a
 * "CONNECTION: keep-alive" the handler tries to set. The locales are
 * compiled with localedef into a temporary directory (LOCPATH); without
 * localedef or the locale sources (Debian: locales) the test skips (77), as
 * it does without io_uring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"
#include "server_helpers.h"

#ifdef RINGO_SANITIZED
#define WAIT_S 40
#else
#define WAIT_S 10
#endif

static char locdir[] = "/tmp/ringo-locale-XXXXXX";

static void cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", locdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", locdir);
}

static void skip(const char *why)
{
    printf("SKIP: %s\n", why);
    cleanup();
    exit(77);
}

/* Compiles locale name (source src, charmap cm) under locdir and switches to it. */
static void use_locale(const char *src, const char *cm)
{
    char cmd[256], name[64];

    snprintf(name, sizeof(name), "%s.%s", src, cm);
    snprintf(cmd, sizeof(cmd), "localedef -i %s -f %s %s/%s >/dev/null 2>&1", src, cm, locdir,
             name);
    /* localedef exits 1 on mere warnings: whether setlocale() takes it decides. */
    if (system(cmd) < 0 || !setlocale(LC_ALL, name)) {
        snprintf(cmd, sizeof(cmd), "locale %s unavailable (localedef, Debian package locales)",
                 name);
        skip(cmd);
    }
}

/* ---- the app ---- */

static int h_headers(ringo_req *req, void *udata)
{
    char body[64];
    int te = ringo_resp_add_header(req, "TRANSFER-ENCODING", RINGO_STR_LIT("chunked"));
    int conn = ringo_resp_add_header(req, "CONNECTION", RINGO_STR_LIT("keep-alive"));
    int n = snprintf(body, sizeof(body), "%d %d", te, conn);

    (void)udata;
    return ringo_respond(req, 200, "text/plain", body, (size_t)n);
}

static ringo_app *app_start(void)
{
    ringo_app *app = server_app_start("/", h_headers);

    if (!app)
        skip("io_uring unavailable");
    return app;
}

/* One request; the whole answer (the server closes) into buf, its length returned. */
static size_t call(ringo_app *app, char *buf, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ringo_app_port(app))};
    struct timeval tv = {WAIT_S, 0};
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    size_t len = 0;
    ssize_t n = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1);
    for (int eintr = 0; len < cap; len += (size_t)n) {
        do
            n = recv(fd, buf + len, cap - len, 0);
        while (n < 0 && errno == EINTR && ++eintr < 1000);
        if (n <= 0)
            break;
    }
    CHECK(n == 0);
    close(fd);
    return len;
}

static int index_of(const char *const *names, size_t n, const char *p)
{
    for (size_t i = 0; i < n; i++)
        if (!memcmp(names[i], p, 3))
            return (int)i;
    return -1;
}

/* "Date: Www, DD Mmm YYYY HH:MM:SS GMT\r\n", English names, close to now. */
static void check_date_line(const char *line)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm = {0};
    char tail[8] = "";
    time_t t;

    if (strncmp(line, "Date: ", 6) || line[9] != ',' || line[10] != ' ' ||
        !memchr(line, '\n', 37) || line[36] != '\n' || index_of(days, 7, line + 6) < 0 ||
        (tm.tm_mon = index_of(months, 12, line + 14)) < 0 ||
        sscanf(line + 11, "%2d", &tm.tm_mday) != 1 ||
        sscanf(line + 18, "%4d %2d:%2d:%2d%5c", &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               tail) != 5 ||
        strcmp(tail, " GMT\r")) {
        fprintf(stderr, "bad Date line: %.40s\n", line);
        exit(1);
    }
    tm.tm_year -= 1900;
    t = timegm(&tm);
    CHECK(index_of(days, 7, line + 6) == tm.tm_wday);
    CHECK(llabs((long long)(t - time(NULL))) < 60);
}

static void check_answer(ringo_app *app)
{
    char buf[4096], *end, *date;
    size_t len = call(app, buf, sizeof(buf) - 1);

    buf[len] = '\0';
    end = memmem(buf, len, "\r\n\r\n", 4);
    CHECK(end);
    if (memchr(buf, '\0', (size_t)(end - buf))) {
        fprintf(stderr, "NUL byte in the response head: %.*s\n", (int)(end - buf), buf);
        exit(1);
    }
    CHECK(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17));
    date = strstr(buf, "\r\nDate: ");
    CHECK(date && date < end);
    check_date_line(date + 2);
    /* Both names refused (-EPERM) whatever their case and the locale. */
    if (strcmp(end + 4, "-1 -1") != 0) {
        fprintf(stderr, "reserved headers set under %s: %s\n", setlocale(LC_ALL, NULL), end + 4);
        exit(1);
    }
    CHECK(!strstr(buf, "chunked") && !strstr(buf, "keep-alive"));
}

int main(void)
{
    struct tm monday = {.tm_year = 126, .tm_mon = 10, .tm_mday = 30, .tm_wday = 1};
    char day[16];
    ringo_app *app;
    ringo_stats st;

    CHECK(mkdtemp(locdir));
    CHECK(setenv("LOCPATH", locdir, 1) == 0);
    use_locale("de_DE", "UTF-8");
    /* The locale really is in effect: this is what strftime put on the wire. */
    CHECK(strftime(day, sizeof(day), "%a", &monday) > 0 && !strcmp(day, "Mo"));
    app = app_start();
    check_answer(app);
    use_locale("tr_TR", "ISO-8859-9");
    check_answer(app);
    ringo_app_stop(app);
    CHECK(ringo_app_wait(app) == 0);
    ringo_app_stats(app, &st);
    CHECK(st.conns_live == 0 && st.reqs_live == 0 && st.bufs_held == 0 && st.stacks_live == 0);
    ringo_app_free(app);
    cleanup();
    printf("ok   Date line and reserved headers under de_DE.UTF-8 and tr_TR.ISO-8859-9\n");
    return 0;
}
