/*
 * Description: the WebSocket API's checks that need no connection
 * (ringo/ws.h): a WebSocket route is async only and refuses nonzero
 * reserved words; it is a GET route like any other (a second registration
 * of the pattern is -EEXIST); calls taking a ringo_ws refuse anything but
 * its handler (-EPERM); group sends need a ring thread; groups are owned by
 * the app (freed with it, or earlier) and report no members; the config's
 * WebSocket timers have their documented defaults.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ringo.h"

static int handler(ringo_req *req, void *udata)
{
    (void)req;
    (void)udata;
    return 0;
}

static void routes(void)
{
    ringo_ws_opts bad = {.reserved = {0, 1}};
    ringo_ws_opts ok = {.max_message = 16u << 20};
    ringo_app *app;

    CHECK(ringo_app_new(&app, NULL) == 0);
    CHECK(ringo_ws_route(app, "/ws", RINGO_SYNC, handler, NULL, NULL) == -EINVAL);
    CHECK(ringo_ws_route(app, "/ws", RINGO_ASYNC, handler, NULL, &bad) == -EINVAL);
    CHECK(ringo_ws_route(app, "/ws", 7, handler, NULL, NULL) == -EINVAL);
    CHECK(ringo_ws_route(NULL, "/ws", RINGO_ASYNC, handler, NULL, NULL) == -EINVAL);
    CHECK(ringo_ws_route(app, "no-slash", RINGO_ASYNC, handler, NULL, NULL) == -EINVAL);
    CHECK(ringo_ws_route(app, "/ws", RINGO_ASYNC, handler, NULL, &ok) == 0);
    CHECK(ringo_ws_route(app, "/ws", RINGO_ASYNC, handler, NULL, NULL) == -EEXIST);
    CHECK(ringo_route(app, "GET", "/ws", RINGO_ASYNC, handler, NULL) == -EEXIST);
    CHECK(ringo_route(app, "POST", "/ws", RINGO_ASYNC, handler, NULL) == 0);
    ringo_app_free(app);
}

static void calls_outside_a_handler(void)
{
    ringo_ws_msg m;
    ringo_str s;

    CHECK(ringo_ws_accept(NULL, NULL, NULL) == -EINVAL);
    CHECK(ringo_ws_recv(NULL, &m) == -EPERM);
    CHECK(ringo_ws_send(NULL, RINGO_WS_TEXT, "x", 1) == -EPERM);
    CHECK(ringo_ws_close(NULL, 1000, NULL) == -EPERM);
    CHECK(ringo_ws_close_code(NULL, &s) == 0 && s.len == 0);
    CHECK(ringo_ws_subprotocol(NULL, 0, &s) == -EINVAL);
}

static void groups(void)
{
    ringo_app *app;
    ringo_ws_group *g, *h;

    CHECK(ringo_app_new(&app, NULL) == 0);
    CHECK(ringo_ws_group_new(app, NULL) == -EINVAL);
    CHECK(ringo_ws_group_new(NULL, &g) == -EINVAL && g == NULL);
    CHECK(ringo_ws_group_new(app, &g) == 0 && g);
    CHECK(ringo_ws_group_new(app, &h) == 0 && h);
    CHECK(ringo_ws_group_size(g) == 0);
    CHECK(ringo_ws_group_send(g, NULL, RINGO_WS_TEXT, "x", 1) == -EPERM); /* not a ring */
    CHECK(ringo_ws_group_send(NULL, NULL, RINGO_WS_TEXT, "x", 1) == -EINVAL);
    CHECK(ringo_ws_group_join(g, NULL) == -EPERM);
    CHECK(ringo_ws_group_leave(g, NULL) == -EPERM);
    ringo_ws_group_free(h); /* now: the app is not running */
    ringo_ws_group_free(NULL);
    ringo_app_free(app); /* frees g */
}

static void config_defaults(void)
{
    ringo_config cfg;

    ringo_config_init(&cfg);
    CHECK(cfg.ws_ping_ms == 20000);
    CHECK(cfg.ws_idle_timeout_ms == 60000);
}

int main(void)
{
    routes();
    calls_outside_a_handler();
    groups();
    config_defaults();
    printf("ws_api_test: ok\n");
    return 0;
}
