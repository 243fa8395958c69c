/*
 * core/tls.h - the TLS record layer between a connection's socket I/O and
 * its protocol (OpenSSL 3, when the build found it).
 *
 * Ciphertext moves through the ring like any connection's bytes: the
 * multishot recv hands provided buffers to ringo__tls_on_data(), which feeds
 * them to OpenSSL through a BIO of ours (no fd of OpenSSL's, no blocking
 * call) and passes the plaintext up to the protocol's on_data. The
 * protocol's output gathers in the connection's `out` as plaintext; a flush
 * encrypts it with SSL_write into the connection's ciphertext buffer, which
 * goes out with io_uring sends, one in flight (core/conn.c). The protocol
 * sees the connection only once the handshake is done: on_open runs then,
 * with the ALPN result readable (ringo__conn_alpn).
 *
 * Certificates: a set of SSL_CTXs, one per certificate, the first the
 * default; SNI picks the first whose names (SAN, else CN, wildcards as in
 * RFC 6125) match. A reload builds a new set and swaps it in atomically;
 * connections keep the set they started with.
 */
#ifndef RINGO_CORE_TLS_H
#define RINGO_CORE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ring.h"

typedef struct ringo__tls_conf ringo__tls_conf;
typedef struct ringo__tls ringo__tls;

/* True when the library was built with OpenSSL. */
bool ringo__tls_built(void);

/*
 * Whether the kernel offers kTLS (the "tls" TCP ULP): 1 yes, 0 no (with a
 * reason in why, when given: at most why_len bytes, NUL-terminated). The
 * record layer stays in user space either way today (docs/operations.md, TLS).
 */
int ringo__ktls_available(char *why, size_t why_len);
/*
 * With the tls ULP: which ciphers the kernel takes each way ("AES-128-GCM
 * send+receive, ..."), probed once on a loopback connection; "" in a build
 * without TLS. Returns the length written into out (len bytes, terminated).
 */
size_t ringo__ktls_ciphers(char *out, size_t len);

/*
 * Adds a certificate chain (PEM, leaf first) and its private key (PEM) to
 * *conf, creating it on first use, and loads the set with it
 * (ringo__tls_conf_load); on failure the certificate is not added. Paths
 * are copied. Returns 0, -EINVAL (NULL path), -EOPNOTSUPP (built without
 * OpenSSL), -ENOMEM or ringo__tls_conf_load()'s error.
 */
int ringo__tls_conf_add(ringo__tls_conf **conf, const char *cert, const char *key, bool quiet);

/*
 * Offers "h2" in ALPN before "http/1.1" (the server's preference); the
 * protocol then sees the ALPN result at on_open (ringo__conn_alpn) and runs
 * HTTP/2 over the record layer.
 */
void ringo__tls_conf_set_h2(ringo__tls_conf *conf, bool on);

/*
 * Reads every certificate and key and makes them the set new connections
 * use; the previous set lives on with the connections that hold it. On
 * failure nothing changes and a line naming the file and OpenSSL's reason
 * goes to stderr unless quiet. Thread-safe (reload runs beside the rings).
 * Returns 0, -ENOENT (a file is missing), -EINVAL (unreadable PEM, a key
 * that does not match its certificate) or -ENOMEM.
 */
int ringo__tls_conf_load(ringo__tls_conf *conf, bool quiet);

/* Frees conf (NULL: no-op) once no ring uses it. */
void ringo__tls_conf_free(ringo__tls_conf *conf);

/* Certificates configured (0 for NULL). */
unsigned ringo__tls_conf_count(const ringo__tls_conf *conf);

/* ---- called by core/conn.c and core/ring.c ---- */

/* Sets up TLS on a fresh connection of a ring whose server has TLS. 0 or -ENOMEM. */
int ringo__tls_open(ringo__conn *c);
/* Ciphertext received: drives the handshake, passes plaintext up. */
void ringo__tls_on_data(ringo__conn *c, const char *p, size_t n);
/* Encrypts the connection's gathered plaintext into its ciphertext buffer. 0 or -errno. */
int ringo__tls_encrypt(ringo__conn *c);
/* Queues close_notify after what is written (once; nothing after a failed handshake). */
void ringo__tls_shutdown(ringo__conn *c);
/* kTLS: hands the transmit keys to the kernel once OpenSSL offered them and nothing
 * written before is unsent (call with no send in flight and `ct` empty). 0, or -1:
 * the connection cannot go on. */
int ringo__tls_ktls_switch(ringo__conn *c);
/* Bytes of records waiting for the kernel to take the transmit keys. */
size_t ringo__tls_held(const ringo__conn *c);
/* Under kTLS, after the last byte and before the write side shuts: close_notify. */
void ringo__tls_ktls_close_notify(ringo__conn *c);
/*
 * An immediate close with nothing unsent and no send in flight: close_notify
 * now, with one non-blocking send (best effort), unless one was queued or the
 * handshake did not finish.
 */
void ringo__tls_goodbye(ringo__conn *c);
/* The kernel encrypts what this connection sends (kTLS transmit). */
bool ringo__tls_ktls_tx(const ringo__conn *c);
/*
 * kTLS receive. Prepares sqe as the connection's next multishot receive when
 * the kernel decrypts its input (a recvmsg whose completions carry the record
 * type), handing it the receive keys first when OpenSSL stopped at a record
 * boundary; false: prepare the plain recv. Call with no recv armed.
 */
bool ringo__tls_ktls_rx_prep(ringo__conn *c, struct io_uring_sqe *sqe);
/* The kernel decrypts what this connection receives: its completions are recvmsg's. */
bool ringo__tls_ktls_rx(const ringo__conn *c);
/*
 * One recvmsg completion under kTLS receive (buf: its provided buffer, len:
 * the CQE's res): application data goes to the protocol. 1: taken; 0: the
 * peer is done (FIN or close_notify); -1: a fatal alert, a handshake message
 * or a malformed completion: close the connection.
 */
int ringo__tls_ktls_input(ringo__conn *c, char *buf, size_t len);
/* The connection is closing: gives up its handshake slot or its place in the queue. */
void ringo__tls_closing(ringo__conn *c);
/* Frees the connection's TLS state (no CQE of it pending). */
void ringo__tls_free(ringo__conn *c);
/* Frees a ring's TLS state. */
void ringo__tls_ring_free(ringo__ring *r);

/*
 * The protocol chosen by ALPN ("http/1.1" or "h2"); NULL when the
 * client sent no ALPN or the connection is cleartext. *len gets its length.
 */
const char *ringo__conn_alpn(const ringo__conn *c, size_t *len);

/* True when the connection runs TLS. */
bool ringo__conn_tls(const ringo__conn *c);

#endif
