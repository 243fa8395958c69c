/*
 * http/tls.c - ringo_app_tls_cert(): the app's certificates (the record
 * layer itself is core/tls.c).
 */
#include <errno.h>

#include "core/tls.h"
#include "http/http_impl.h"

/* SIGHUP, ringo_app_reload(): every certificate read again; a failure keeps the old set. */
static int reload(ringo_app *app, void *udata)
{
    (void)udata;
    return ringo__tls_conf_load(app->srv.tls, app->srv.cfg.quiet);
}

int ringo_app_tls_cert(ringo_app *app, const char *cert_file, const char *key_file)
{
    bool first;
    int ret;

    if (!app || !cert_file || !key_file)
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    if (!ringo__tls_built())
        return -EOPNOTSUPP;
    first = ringo__tls_conf_count(app->srv.tls) == 0;
    ret = ringo__tls_conf_add(&app->srv.tls, cert_file, key_file, app->srv.cfg.quiet);
    /* ALPN offers h2 first (the server's preference) while HTTP/2 is on; no_h2c is cleartext's. */
    if (ret == 0)
        ringo__tls_conf_set_h2(app->srv.tls, !app->srv.cfg.no_h2 && ringo__h2_available());
    if (ret == 0 && first)
        ret = ringo_app_on_reload(app, "tls certificates", reload, NULL);
    return ret;
}
