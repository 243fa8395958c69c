/*
 * ringo/tls.h - HTTPS: TLS 1.2 and 1.3 on the app's listener (OpenSSL 3).
 *
 * Once a certificate is added, the listener speaks TLS only (uvicorn's
 * --ssl-certfile). The handshake and the record layer run on the ring
 * thread over io_uring; handlers, streams, WebSockets and file bodies work
 * as on cleartext (file bodies are read and encrypted in user space, with
 * the stream window's bound). Ciphers follow Mozilla's "intermediate"
 * profile; ALPN offers h2 (HTTP/2, preferred, unless ringo_config.no_h2 or
 * a build without libnghttp2) and http/1.1; session tickets resume
 * sessions, with keys rotated hourly. Limits: ringo_config.
 * tls_handshake_timeout_ms and tls_max_handshakes; counters in ringo_stats
 * (tls_handshakes ...). Details: docs/operations.md, "TLS".
 */
#ifndef RINGO_TLS_H
#define RINGO_TLS_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Adds a certificate chain (PEM file, leaf first, then intermediates) and
 * its private key (PEM file) and turns TLS on. Call before ringo_app_start(),
 * once per certificate: the first is the default, and a client's SNI name
 * picks the first certificate whose names match it (subjectAltName DNS
 * entries, else the subject's CN; "*.example.com" wildcards as RFC 6125
 * allows); a name that matches none gets the default. Both files are read
 * now (errors come back here, with a line on stderr unless quiet) and again
 * on every reload (SIGHUP, ringo_app_reload()): new connections get the new
 * certificates, open ones keep theirs; a reload that fails keeps the old
 * ones and logs why. Paths are copied. Returns 0, -EINVAL (app, cert_file
 * or key_file NULL; unreadable PEM; a key that does not match its
 * certificate), -ENOENT or -EACCES (a file), -EBUSY (after start),
 * -EOPNOTSUPP (built without OpenSSL: install libssl-dev and rebuild) or
 * -ENOMEM.
 */
RINGO_API int ringo_app_tls_cert(ringo_app *app, const char *cert_file, const char *key_file);

#ifdef __cplusplus
}
#endif
#endif
