/*
 * Description: ringo_static() registration: argument checks (prefix shape,
 * reserved words, flags, header-unsafe values, index names, type entries),
 * the root's open errors, a prefix already taken, and the app freeing the
 * mounts it owns (run under ASan: no leak, no descriptor left open).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"

static int open_fds(void)
{
    int n = 0;

    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static int handler(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_respond(req, 200, NULL, "", 0);
}

int main(void)
{
    static const ringo_static_type bad_type[] = {{"x", NULL}, {NULL, NULL}};
    static const ringo_static_type types[] = {{"foo", "text/x-foo"}, {NULL, NULL}};
#define DIR RINGO_SOURCE_DIR "/examples/static"
    const char *dir = DIR;
    int fds = open_fds();
    ringo_app *app;

    CHECK(ringo_app_new(&app, NULL) == 0);
    CHECK(ringo_static(NULL, "/s", dir, NULL) == -EINVAL);
    CHECK(ringo_static(app, NULL, dir, NULL) == -EINVAL);
    CHECK(ringo_static(app, "/s", NULL, NULL) == -EINVAL);
    CHECK(ringo_static(app, "s", dir, NULL) == -EINVAL);
    CHECK(ringo_static(app, "/s/", dir, NULL) == -EINVAL);
    CHECK(ringo_static(app, "/{x}", dir, NULL) == -EINVAL);
    CHECK(ringo_static(app, "/s", dir, &(ringo_static_opts){.reserved[3] = 1}) == -EINVAL);
    CHECK(ringo_static(app, "/s", dir, &(ringo_static_opts){.flags = 1u << 20}) == -EINVAL);
    CHECK(ringo_static(app, "/s", dir, &(ringo_static_opts){.cache_control = "a\r\nb"}) == -EINVAL);
    CHECK(ringo_static(app, "/s", dir, &(ringo_static_opts){.index = "a/b.html"}) == -EINVAL);
    CHECK(ringo_static(app, "/s", dir, &(ringo_static_opts){.index = ""}) == -EINVAL);
    CHECK(ringo_static(app, "/s", dir, &(ringo_static_opts){.types = bad_type}) == -EINVAL);
    CHECK(ringo_static(app, "/s", dir, &(ringo_static_opts){.max_ranges = 100000}) == -EINVAL);
    CHECK(ringo_static(app, "/s", "/nonexistent/ringo", NULL) == -ENOENT);
    CHECK(ringo_static(app, "/s", DIR "/hello.txt", NULL) == -ENOTDIR);
    CHECK(open_fds() == fds);

    CHECK(ringo_static(app, "/s", dir,
                       &(ringo_static_opts){.index = "index.html",
                                            .types = types,
                                            .cache_control = "no-cache",
                                            .cache_bytes = 1 << 20,
                                            .flags = RINGO_STATIC_LISTING}) == 0);
    CHECK(open_fds() == fds + 1); /* the root */
    CHECK(ringo_static(app, "/s", dir, NULL) == -EEXIST);
    /* The bare prefix taken by the application: the mount still works below it. */
    CHECK(ringo_route(app, "GET", "/t", RINGO_ASYNC, handler, NULL) == 0);
    CHECK(ringo_static(app, "/t", dir, NULL) == 0);
    CHECK(ringo_static(app, "", dir, NULL) == 0); /* the root of the site */
    CHECK(open_fds() == fds + 3);
    ringo_app_free(app);
    CHECK(open_fds() == fds);
    puts("static_test: ok");
    return 0;
}
