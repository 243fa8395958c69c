/*
 * Description: TLS set-up that needs no connection (ringo/tls.h,
 * core/tls.c): ringo_app_tls_cert() refuses NULL arguments, a missing file
 * (-ENOENT) and a file that is not PEM (-EINVAL) without adding anything,
 * and says -EOPNOTSUPP in a build without OpenSSL; the TLS config fields
 * have their documented defaults; the kTLS probe answers and says why not.
 * The kTLS record layer itself is not implemented: that part skips with a
 * line (the handshakes and the record layer are tested end to end in
 * tests/integration/test_tls.py).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/tls.h"
#include "ringo.h"

static void certs(void)
{
    ringo_config cfg;
    ringo_app *app;

    ringo_config_init(&cfg);
    cfg.quiet = 1;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    if (!ringo__tls_built()) {
        CHECK(ringo_app_tls_cert(app, "c.pem", "k.pem") == -EOPNOTSUPP);
        ringo_app_free(app);
        return;
    }
    CHECK(ringo_app_tls_cert(NULL, "c.pem", "k.pem") == -EINVAL);
    CHECK(ringo_app_tls_cert(app, NULL, "k.pem") == -EINVAL);
    CHECK(ringo_app_tls_cert(app, "c.pem", NULL) == -EINVAL);
    CHECK(ringo_app_tls_cert(app, "/nonexistent/c.pem", "/nonexistent/k.pem") == -ENOENT);
    /* A readable file that is no certificate. */
    CHECK(ringo_app_tls_cert(app, RINGO_SOURCE_DIR "/CMakeLists.txt", "/nonexistent") == -EINVAL);
    ringo_app_free(app);
}

static void config_defaults(void)
{
    ringo_config cfg;

    ringo_config_init(&cfg);
    CHECK(cfg.tls_handshake_timeout_ms == 10000);
    CHECK(cfg.tls_max_handshakes == 128);
}

static void ktls(void)
{
    char why[160] = "";
    int on = ringo__ktls_available(why, sizeof(why));

    CHECK(on == 0 || on == 1);
    CHECK(on == 1 || why[0]);
    printf("tls_test: kTLS %s%s%s\n",
           on ? "offered by the kernel" : "not available: ", on ? "" : why,
           "; kTLS record layer not implemented: its checks skip");
}

int main(void)
{
    certs();
    config_defaults();
    ktls();
    printf("tls_test: ok\n");
    return 0;
}
