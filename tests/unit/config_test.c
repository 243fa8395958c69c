/*
 * Description: ringo_config's ABI rule (include/ringo/app.h): ringo_app_new()
 * refuses a size of 0 or larger than the library's struct (-EINVAL), and
 * takes a shorter config (a caller built against an older header) with the
 * defaults for every field past its size. The MSG_RING fallback is a test
 * hook (http/test_hooks.h), not a config field.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "check.h"
#include "http/http_impl.h"

static void check_sizes(void)
{
    ringo_config cfg;
    ringo_app *app = (ringo_app *)&cfg;

    ringo_config_init(&cfg);
    CHECK(cfg.size == sizeof(cfg));
    cfg.size = 0;
    CHECK(ringo_app_new(&app, &cfg) == -EINVAL && app == NULL);
    cfg.size = sizeof(cfg) + 8;
    CHECK(ringo_app_new(&app, &cfg) == -EINVAL && app == NULL);
}

static void check_older_caller(void)
{
    ringo_config cfg, dflt;
    ringo_app *app;

    ringo_config_init(&dflt);
    ringo_config_init(&cfg);
    cfg.port = 1234;
    cfg.quiet = 1;
    cfg.stall_warn_ms = 7;
    cfg.max_pool_queue = 99;
    /* What an older header without the last two fields would pass. */
    cfg.size = offsetof(ringo_config, stall_warn_ms);
    CHECK(ringo_app_new(&app, &cfg) == 0);
    CHECK(app->srv.cfg.size == sizeof(ringo_config));
    CHECK(app->srv.cfg.port == 1234 && app->srv.cfg.quiet == 1);
    CHECK(app->srv.cfg.stall_warn_ms == dflt.stall_warn_ms);
    CHECK(app->srv.cfg.max_pool_queue == dflt.max_pool_queue);
    ringo_app_free(app);

    CHECK(ringo_app_new(&app, NULL) == 0);
    CHECK(app->srv.cfg.port == dflt.port && app->srv.cfg.size == sizeof(ringo_config));
    ringo_app_free(app);
}

int main(void)
{
    check_sizes();
    check_older_caller();
    printf("ok   config: size checked, shorter configs take the defaults\n");
    return 0;
}
