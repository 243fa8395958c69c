/*
 * core/tls.c - TLS over the ring with OpenSSL 3 (see core/tls.h).
 *
 * OpenSSL never sees the socket. Its BIO is ours: a read hands it the
 * ciphertext of the recv buffer being processed (and says "retry" when that
 * is used up: OpenSSL keeps a partial record itself), a write appends the
 * records it produced to the connection's ciphertext buffer, which core/conn.c
 * sends. So every byte on the wire still moves by io_uring, and the record
 * layer costs one copy each way (into OpenSSL's record buffer, out of it).
 *
 * Handshakes are CPU work on the ring thread (docs/architecture.md, TLS,
 * says why they stay there); at most tls_max_handshakes of them run per ring
 * at once. A connection whose first bytes arrive while the ring is at that
 * bound keeps them, stops receiving, and waits in the ring's queue; the
 * handshake timeout counts from accept, waiting included.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/tls.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/ring_impl.h"
#include "core/tls.h"

/*
 * The kernel's "tls" ULP: listed as available, or loadable (setting it on a
 * socket loads the module where that is allowed; on a socket that is not
 * connected the kernel then answers ENOTCONN, which says the ULP exists).
 */
int ringo__ktls_available(char *why, size_t why_len)
{
    char ulps[256] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    int fd, err = 0;

    if (f) {
        if (!fgets(ulps, sizeof(ulps), f))
            ulps[0] = 0;
        fclose(f);
    }
    for (char *save, *t = strtok_r(ulps, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
        if (strcmp(t, "tls") == 0)
            return 1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    if (err == 0 || err == ENOTCONN)
        return 1;
    if (why && why_len)
        snprintf(why, why_len, "the kernel has no \"tls\" TCP ULP (setsockopt TCP_ULP: %s)",
                 strerror(err));
    return 0;
}

#ifndef RINGO_WITH_TLS

bool ringo__tls_built(void) { return false; }
int ringo__tls_conf_add(ringo__tls_conf **conf, const char *cert, const char *key, bool quiet)
{
    (void)conf, (void)cert, (void)key, (void)quiet;
    return -EOPNOTSUPP;
}
void ringo__tls_conf_set_h2(ringo__tls_conf *conf, bool on) { (void)conf, (void)on; }
int ringo__tls_conf_load(ringo__tls_conf *conf, bool quiet)
{
    (void)conf, (void)quiet;
    return -EOPNOTSUPP;
}
void ringo__tls_conf_free(ringo__tls_conf *conf) { (void)conf; }
unsigned ringo__tls_conf_count(const ringo__tls_conf *conf)
{
    (void)conf;
    return 0;
}
int ringo__tls_open(ringo__conn *c)
{
    (void)c;
    return -EOPNOTSUPP;
}
void ringo__tls_on_data(ringo__conn *c, const char *p, size_t n) { (void)c, (void)p, (void)n; }
int ringo__tls_encrypt(ringo__conn *c)
{
    (void)c;
    return 0;
}
void ringo__tls_shutdown(ringo__conn *c) { (void)c; }
int ringo__tls_ktls_switch(ringo__conn *c)
{
    (void)c;
    return 0;
}
bool ringo__tls_ktls_tx(const ringo__conn *c)
{
    (void)c;
    return false;
}
void ringo__tls_ktls_close_notify(ringo__conn *c) { (void)c; }
void ringo__tls_goodbye(ringo__conn *c) { (void)c; }
bool ringo__tls_ktls_rx_prep(ringo__conn *c, struct io_uring_sqe *sqe)
{
    (void)c, (void)sqe;
    return false;
}
bool ringo__tls_ktls_rx(const ringo__conn *c)
{
    (void)c;
    return false;
}
size_t ringo__ktls_ciphers(char *out, size_t len)
{
    if (len)
        out[0] = 0;
    return 0;
}
int ringo__tls_ktls_input(ringo__conn *c, char *buf, size_t len)
{
    (void)c, (void)buf, (void)len;
    return -1;
}
size_t ringo__tls_held(const ringo__conn *c)
{
    (void)c;
    return 0;
}
void ringo__tls_closing(ringo__conn *c) { (void)c; }
void ringo__tls_free(ringo__conn *c) { (void)c; }
void ringo__tls_ring_free(ringo__ring *r) { (void)r; }
const char *ringo__conn_alpn(const ringo__conn *c, size_t *len)
{
    (void)c;
    *len = 0;
    return NULL;
}
bool ringo__conn_tls(const ringo__conn *c) { return c->tls != NULL; }

#else /* RINGO_WITH_TLS */

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/*
 * Mozilla's "intermediate" configuration (v5.7): TLS 1.2 and 1.3, AEAD
 * ciphers with forward secrecy only, the client's preference (every cipher
 * on the list is strong). The DHE suites are left out: they need DH
 * parameters and add nothing a current client lacks.
 */
#define CIPHERS_TLS12                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define CIPHERS_TLS13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GROUPS "X25519:prime256v1:secp384r1"

/*
 * Session tickets: a key encrypts new tickets for TICKET_ROTATE_S, then
 * only decrypts (and the ticket it opened is renewed) for as long again.
 * Keys live with the configuration, not with a certificate set: a reload
 * keeps resumption working.
 */
#define TICKET_ROTATE_S 3600
#define HELD_MAX (64u * 1024u) /* bytes a waiting handshake may keep */

typedef struct ticket_key {
    unsigned char name[16], aes[32], hmac[32];
    uint64_t born; /* seconds, CLOCK_MONOTONIC; 0: unset */
} ticket_key;

typedef struct cert_src {
    char *cert, *key;
} cert_src;

/* One generation of certificates: ctx[0] is the default. */
typedef struct tls_set {
    _Atomic uint32_t refs;
    unsigned n;
    SSL_CTX *ctx[];
} tls_set;

struct ringo__tls_conf {
    cert_src *certs;
    unsigned ncerts;
    bool h2;
    pthread_mutex_t mu; /* guards cur and keys */
    tls_set *cur;
    _Atomic uint64_t gen; /* bumped when cur changes: rings compare it per accept */
    ticket_key keys[2];   /* [0] encrypts, [1] the previous one */
};

typedef struct ringo__tls_ring {
    tls_set *set; /* this ring's reference to the current set */
    uint64_t gen;
    char *plain; /* plaintext of one recv buffer on its way up */
    size_t plain_cap;
    uint32_t hs; /* handshakes in progress */
    ringo__conn *wait_head, *wait_tail;
} ringo__tls_ring;

struct ringo__tls {
    SSL *ssl;
    tls_set *set;
    const char *in; /* ciphertext OpenSSL may read now */
    size_t in_len;
    char *held; /* first bytes kept while waiting for a handshake slot */
    size_t held_len;
    ringo__conn *next_wait;
    ringo__completion resume; /* the NOP that takes it out of the queue */
    bool counted;             /* holds one of the ring's handshake slots */
    bool waiting;             /* in the ring's queue */
    bool done;                /* handshake complete */
    bool failed;              /* fatal error: no more SSL calls but freeing */
    bool shut;                /* close_notify queued */
    /* kTLS (transmit side): see ringo__tls_ktls_switch(). */
    uint8_t ktls;            /* KTLS_OFF, _ULP, _PENDING or _ON */
    int next_type;           /* the record type of OpenSSL's next write (0: application data) */
    unsigned char kinfo[64]; /* the kernel's tls12_crypto_info_* for TLS_TX */
    socklen_t kinfo_len;
    char *kpend; /* records written while PENDING: [type, len (4 bytes), payload]... */
    size_t kpend_len, kpend_cap;
    /* kTLS receive side: see ringo__tls_ktls_rx_prep(). */
    uint8_t rx;               /* RX_OFF, _COUNTING, _DRAINING or _ON */
    uint8_t rx_tries;         /* drains that ended inside a record */
    uint8_t rx_hlen;          /* header bytes seen of the record OpenSSL is reading */
    unsigned char rx_hdr[5];  /* ... that header */
    uint32_t rx_left;         /* its payload bytes OpenSSL has still to read */
    uint64_t rx_records;      /* records OpenSSL read under the receive keys */
    unsigned char rxinfo[64]; /* the kernel's crypto info for TLS_RX (rec_seq: last 8 bytes) */
    socklen_t rxinfo_len;
    unsigned char rxsecret[48]; /* TLS 1.3: the client's application traffic secret */
    uint8_t rxsecret_len;
};

enum { KTLS_OFF, KTLS_ULP, KTLS_PENDING, KTLS_ON };
enum { RX_OFF, RX_COUNTING, RX_DRAINING, RX_ON };
/* Drains that end inside a record before the connection keeps OpenSSL's receive side. */
#define RX_TRIES 8

/* Ciphers whose TLS_TX the kernel refused (a missing AEAD module): bit cipher_type - 51.
 * OpenSSL keeps their records from then on. */
static _Atomic uint32_t ktls_refused;
/* The same for TLS_RX: their connections keep OpenSSL's receive side. */
static _Atomic uint32_t ktls_rx_refused;

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

bool ringo__tls_built(void) { return true; }
bool ringo__conn_tls(const ringo__conn *c) { return c->tls != NULL; }

/* ---- the BIO: ciphertext in from the recv buffer, out to the connection ---- */

static int kpend_add(ringo__tls *t, int type, const char *p, size_t n)
{
    size_t need = t->kpend_len + 5 + n;
    uint32_t len = (uint32_t)n;

    if (n > UINT32_MAX)
        return -1;
    if (need > t->kpend_cap) {
        size_t cap = need < 4096 ? 4096 : need * 2;
        char *q = ringo__realloc(t->kpend, cap);
        if (!q)
            return -1;
        t->kpend = q;
        t->kpend_cap = cap;
    }
    t->kpend[t->kpend_len] = (char)type;
    memcpy(t->kpend + t->kpend_len + 1, &len, 4);
    memcpy(t->kpend + t->kpend_len + 5, p, n);
    t->kpend_len = need;
    return 0;
}

/*
 * Ciphertext goes to the connection's buffer. Once OpenSSL handed the
 * transmit keys over (kTLS), it writes plaintext records instead: application
 * data is sent as it is and the kernel encrypts it; any other record type is
 * announced first (BIO_CTRL_SET_KTLS_TX_SEND_CTRL_MSG) and must go out with a
 * TLS_SET_RECORD_TYPE control message. Until the keys are in the kernel
 * (PENDING) records wait in kpend.
 */
static int bio_write(BIO *b, const char *p, int n)
{
    ringo__conn *c = BIO_get_data(b);
    ringo__tls *t = c->tls;
    int type = t->next_type;

    BIO_clear_retry_flags(b);
    t->next_type = 0;
    if (n <= 0)
        return 0;
    if (t->ktls == KTLS_PENDING)
        return kpend_add(t, type ? type : 23, p, (size_t)n) < 0 ? -1 : n;
    if (t->ktls == KTLS_ON && type && type != 23)
        return -1; /* a key update or an alert after the switch: not supported, fatal */
    return ringo__conn_ct_append(c, p, (size_t)n) < 0 ? -1 : n;
}

/*
 * kTLS receive: the kernel must start at the record that follows the last
 * one OpenSSL read, with that record's sequence number. OpenSSL reads the
 * ciphertext we hand it in order, a record header, then exactly its payload
 * (no read-ahead), so following the headers of what it read counts the
 * records and says whether it stopped between two.
 */
static void rx_track(ringo__tls *t, const unsigned char *p, size_t n)
{
    while (n) {
        size_t k;

        if (t->rx_hlen < 5) {
            k = 5u - t->rx_hlen < n ? 5u - t->rx_hlen : n;
            memcpy(t->rx_hdr + t->rx_hlen, p, k);
            t->rx_hlen += (uint8_t)k;
            if (t->rx_hlen == 5)
                t->rx_left = (uint32_t)t->rx_hdr[3] << 8 | t->rx_hdr[4];
        } else {
            k = t->rx_left < n ? t->rx_left : n;
            t->rx_left -= (uint32_t)k;
        }
        p += k;
        n -= k;
        if (t->rx_hlen == 5 && t->rx_left == 0) {
            t->rx_records++;
            t->rx_hlen = 0;
        }
    }
}

static void rx_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg);

/* From here on OpenSSL reads under the receive keys in rxinfo: count its records. */
static void rx_begin(ringo__tls *t)
{
    t->rx = RX_COUNTING;
    t->rx_hlen = 0;
    t->rx_left = 0;
    t->rx_records = 0;
    SSL_set_msg_callback(t->ssl, rx_msg); /* until the switch: see rx_msg() */
}

/* The keys are in the kernel (on: true) or OpenSSL keeps the receive side. */
static void rx_end(ringo__tls *t, bool on)
{
    t->rx = on ? RX_ON : RX_OFF;
    SSL_set_msg_callback(t->ssl, NULL);
    OPENSSL_cleanse(t->rxinfo, sizeof(t->rxinfo));
    OPENSSL_cleanse(t->rxsecret, sizeof(t->rxsecret));
    t->rxinfo_len = 0;
    t->rxsecret_len = 0;
}

/*
 * A handshake message after the handshake (a TLS 1.3 KeyUpdate) changes the
 * receive keys inside OpenSSL, which tells no BIO about it: the keys the ring
 * holds are stale, so the receive side stays with OpenSSL.
 */
static void rx_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    ringo__conn *c = BIO_get_data(SSL_get_rbio(ssl));

    (void)version, (void)buf, (void)len, (void)arg;
    if (!write_p && content_type == SSL3_RT_HANDSHAKE && c && c->tls->done &&
        (c->tls->rx == RX_COUNTING || c->tls->rx == RX_DRAINING))
        rx_end(c->tls, false);
}

static int bio_read(BIO *b, char *p, int n)
{
    ringo__conn *c = BIO_get_data(b);
    ringo__tls *t = c->tls;
    size_t k = t->in_len < (size_t)n ? t->in_len : (size_t)n;

    BIO_clear_retry_flags(b);
    if (k == 0) {
        BIO_set_retry_read(b); /* more arrives with the next recv */
        return -1;
    }
    memcpy(p, t->in, k);
    if (t->rx == RX_COUNTING || t->rx == RX_DRAINING)
        rx_track(t, (const unsigned char *)t->in, k);
    t->in += k;
    t->in_len -= k;
    return (int)k;
}

/* OpenSSL's internal controls for a kTLS-capable BIO (include/internal/bio.h). */
#define CTRL_SET_KTLS 72
#define CTRL_SET_KTLS_TX_SEND_CTRL_MSG 74
#define CTRL_CLEAR_KTLS_TX_CTRL_MSG 75

/* The cipher the kernel's crypto info names (its header: version, cipher_type). */
static unsigned cipher_type(const void *info)
{
    struct tls_crypto_info h;

    memcpy(&h, info, sizeof(h));
    return h.cipher_type;
}

/* The size of the kernel's crypto info for the cipher it names, 0: not one we pass on. */
static socklen_t kinfo_size(const void *info)
{
    switch (cipher_type(info)) {
    case TLS_CIPHER_AES_GCM_128: return sizeof(struct tls12_crypto_info_aes_gcm_128);
    case TLS_CIPHER_AES_GCM_256: return sizeof(struct tls12_crypto_info_aes_gcm_256);
    case TLS_CIPHER_CHACHA20_POLY1305: return sizeof(struct tls12_crypto_info_chacha20_poly1305);
    default: return 0;
    }
}

static uint32_t type_bit(unsigned t) { return t >= 51 && t < 51 + 32 ? 1u << (t - 51) : 0; }

static uint32_t cipher_bit(const void *info) { return type_bit(cipher_type(info)); }

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    ringo__conn *c = BIO_get_data(b);
    ringo__tls *t = c ? c->tls : NULL;
    socklen_t len;

    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* records are in the connection's buffer, which the ring sends */
    case BIO_CTRL_GET_KTLS_SEND: return t && t->ktls >= KTLS_PENDING;
    case CTRL_SET_KTLS:
        if (!t || t->ktls == KTLS_OFF || !ptr || !(len = kinfo_size(ptr)) ||
            len > sizeof(t->kinfo) || (atomic_load(&ktls_refused) & cipher_bit(ptr)))
            return 0;
        if (!num && !(atomic_load(&ktls_rx_refused) & cipher_bit(ptr))) {
            /*
             * The receive keys (TLS 1.2: at the client's ChangeCipherSpec).
             * OpenSSL keeps reading until the ring can hand them over at a
             * record boundary with nothing in flight: refused here, kept.
             */
            if (t->rx != RX_ON && len <= sizeof(t->rxinfo)) {
                memcpy(t->rxinfo, ptr, len);
                t->rxinfo_len = len;
                rx_begin(t);
            }
            return 0;
        }
        if (!num || t->ktls != KTLS_ULP)
            return 0;
        memcpy(t->kinfo, ptr, len);
        t->kinfo_len = len;
        t->ktls = KTLS_PENDING;
        return 1;
    case CTRL_SET_KTLS_TX_SEND_CTRL_MSG:
        if (t)
            t->next_type = (int)num;
        return 1;
    case CTRL_CLEAR_KTLS_TX_CTRL_MSG:
        if (t)
            t->next_type = 0;
        return 1;
    default: return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void make_bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringo");

    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create))
        bio_method = m;
    else
        BIO_meth_free(m);
}

/* ---- callbacks ---- */

/*
 * TLS 1.3 receive keys. OpenSSL 3.0 hands a BIO the transmit keys of TLS 1.3
 * but never the receive keys, so they come from the client's application
 * traffic secret, which OpenSSL gives only to its key log callback (set only
 * where the kernel has the tls ULP), and RFC 8446's HKDF-Expand-Label.
 */
static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static void keylog_cb(const SSL *ssl, const char *line)
{
    static const char tag[] = "CLIENT_TRAFFIC_SECRET_0 ";
    ringo__conn *c;
    ringo__tls *t;
    const char *h;
    size_t n = 0;

    if (strncmp(line, tag, sizeof(tag) - 1) != 0 || !(c = BIO_get_data(SSL_get_rbio(ssl))) ||
        !(t = c->tls) || t->ktls == KTLS_OFF || !(h = strchr(line + sizeof(tag) - 1, ' ')))
        return;
    for (h++; h[0] && h[1] && n < sizeof(t->rxsecret); h += 2) {
        int hi = hexval(h[0]), lo = hexval(h[1]);
        if (hi < 0 || lo < 0)
            break;
        t->rxsecret[n++] = (unsigned char)(hi << 4 | lo);
    }
    t->rxsecret_len = h[0] ? 0 : (uint8_t)n; /* all of it, or none */
}

static EVP_KDF *hkdf;
static pthread_once_t hkdf_once = PTHREAD_ONCE_INIT;

static void fetch_hkdf(void) { hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL); }

/* HKDF-Expand-Label(secret, label, "", n) (RFC 8446, 7.1). 0 or -1. */
static int expand_label(const EVP_MD *md, const unsigned char *secret, size_t secret_len,
                        const char *label, unsigned char *out, size_t n)
{
    unsigned char info[2 + 1 + 6 + 8 + 1];
    size_t ll = strlen(label);
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;
    EVP_KDF_CTX *kctx;
    OSSL_PARAM params[5];

    pthread_once(&hkdf_once, fetch_hkdf);
    if (!hkdf || ll > 8 || !(kctx = EVP_KDF_CTX_new(hkdf)))
        return -1;
    info[0] = (unsigned char)(n >> 8);
    info[1] = (unsigned char)n;
    info[2] = (unsigned char)(6 + ll);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, ll);
    info[9 + ll] = 0; /* no context */
    params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[1] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 10 + ll);
    params[4] = OSSL_PARAM_construct_end();
    ok = EVP_KDF_derive(kctx, out, n, params) > 0;
    EVP_KDF_CTX_free(kctx);
    return ok ? 0 : -1;
}

/* The kernel's crypto info for a TLS 1.3 key; its rec_seq is zero. Its size, 0: none. */
#define TLS13_INFO(kind, ctype, salt_len)                                                          \
    do {                                                                                           \
        struct kind k;                                                                             \
        memset(&k, 0, sizeof(k));                                                                  \
        k.info.version = TLS_1_3_VERSION;                                                          \
        k.info.cipher_type = ctype;                                                                \
        memcpy(k.salt, iv, salt_len);                                                              \
        memcpy(k.iv, iv + salt_len, sizeof(k.iv));                                                 \
        memcpy(k.key, key, sizeof(k.key));                                                         \
        memcpy(out, &k, sizeof(k));                                                                \
        OPENSSL_cleanse(&k, sizeof(k));                                                            \
        return sizeof(k);                                                                          \
    } while (0)

static socklen_t tls13_info(unsigned char *out, unsigned cipher, const unsigned char *key,
                            const unsigned char *iv)
{
    switch (cipher) {
    case TLS_CIPHER_AES_GCM_128:
        TLS13_INFO(tls12_crypto_info_aes_gcm_128, TLS_CIPHER_AES_GCM_128, 4);
    case TLS_CIPHER_AES_GCM_256:
        TLS13_INFO(tls12_crypto_info_aes_gcm_256, TLS_CIPHER_AES_GCM_256, 4);
    case TLS_CIPHER_CHACHA20_POLY1305:
        TLS13_INFO(tls12_crypto_info_chacha20_poly1305, TLS_CIPHER_CHACHA20_POLY1305, 0);
    default: return 0;
    }
}

/* The handshake is done (TLS 1.3): from its next record on, the client writes under
 * its application traffic secret. */
static void rx_tls13(ringo__tls *t)
{
    const SSL_CIPHER *cs = SSL_get_current_cipher(t->ssl);
    const EVP_MD *md = cs ? SSL_CIPHER_get_handshake_digest(cs) : NULL;
    unsigned char key[32], iv[12];
    unsigned cipher;
    size_t klen;

    if (SSL_version(t->ssl) != TLS1_3_VERSION || !t->rxsecret_len || !md ||
        (size_t)EVP_MD_get_size(md) != t->rxsecret_len)
        goto out;
    switch (SSL_CIPHER_get_id(cs) & 0xffff) {
    case 0x1301: cipher = TLS_CIPHER_AES_GCM_128, klen = 16; break;
    case 0x1302: cipher = TLS_CIPHER_AES_GCM_256, klen = 32; break;
    case 0x1303: cipher = TLS_CIPHER_CHACHA20_POLY1305, klen = 32; break;
    default: goto out; /* CCM: no kernel cipher we pass on */
    }
    if (((atomic_load(&ktls_rx_refused) | atomic_load(&ktls_refused)) & type_bit(cipher)) ||
        expand_label(md, t->rxsecret, t->rxsecret_len, "key", key, klen) < 0 ||
        expand_label(md, t->rxsecret, t->rxsecret_len, "iv", iv, sizeof(iv)) < 0)
        goto out;
    if ((t->rxinfo_len = tls13_info(t->rxinfo, cipher, key, iv)))
        rx_begin(t);
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    OPENSSL_cleanse(t->rxsecret, sizeof(t->rxsecret));
    t->rxsecret_len = 0;
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    static const unsigned char h1[] = "\x08http/1.1", h2[] = "\x02h2\x08http/1.1";
    const ringo__tls_conf *conf = arg;
    const unsigned char *ours = conf->h2 ? h2 : h1;
    unsigned ours_len = conf->h2 ? sizeof(h2) - 1 : sizeof(h1) - 1;

    (void)s;
    /* Ours first: the server's preference. No common protocol: RFC 7301 3.2's alert. */
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, ours_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

static int sni_cb(SSL *s, int *alert, void *arg)
{
    const tls_set *set = arg;
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

    (void)alert;
    if (!name || set->n < 2)
        return SSL_TLSEXT_ERR_OK;
    for (unsigned i = 0; i < set->n; i++) {
        X509 *x = SSL_CTX_get0_certificate(set->ctx[i]);
        if (x && X509_check_host(x, name, 0, 0, NULL) == 1) {
            if (i)
                SSL_set_SSL_CTX(s, set->ctx[i]);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK; /* no match: the default certificate, as nginx does */
}

static uint64_t mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec + 1; /* never 0: 0 means unset */
}

static int new_key(ticket_key *k)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
        return -1;
    k->born = mono_s();
    return 0;
}

/* Under conf->mu: the key to encrypt with, rotated when due. */
static int current_key(ringo__tls_conf *conf, ticket_key *out)
{
    uint64_t now = mono_s();

    if (!conf->keys[0].born || now - conf->keys[0].born >= TICKET_ROTATE_S) {
        ticket_key k;
        if (new_key(&k) < 0)
            return -1;
        conf->keys[1] = conf->keys[0];
        conf->keys[0] = k;
    }
    *out = conf->keys[0];
    return 0;
}

/* Which key (0 current, 1 previous) has this name and is young enough; -1: none. */
static int find_key(ringo__tls_conf *conf, const unsigned char name[16], ticket_key *out)
{
    uint64_t now = mono_s();

    for (int i = 0; i < 2; i++) {
        const ticket_key *k = &conf->keys[i];
        if (k->born && now - k->born < 2 * TICKET_ROTATE_S && !memcmp(k->name, name, 16)) {
            *out = *k;
            return i;
        }
    }
    return -1;
}

static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    ringo__tls_conf *conf = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
    OSSL_PARAM params[3];
    ticket_key k;
    int which;

    pthread_mutex_lock(&conf->mu);
    which = enc ? current_key(conf, &k) : find_key(conf, name, &k);
    pthread_mutex_unlock(&conf->mu);
    if (which < 0)
        return enc ? -1 : 0; /* decrypt: unknown or expired key, a full handshake */
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac));
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (enc) {
        memcpy(name, k.name, 16);
        if (RAND_bytes(iv, 16) != 1 ||
            !EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k.aes, iv) ||
            !EVP_MAC_CTX_set_params(hctx, params))
            return -1;
        return 1;
    }
    if (!EVP_MAC_CTX_set_params(hctx, params) ||
        !EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k.aes, iv))
        return -1;
    /*
     * 2: valid, and a new ticket follows. Always under TLS 1.3: a client uses
     * a ticket once (RFC 8446, C.4), so a resumption that sent none leaves it
     * nothing for its next connection. Under 1.2 only for the previous key.
     */
    return which == 1 || SSL_version(s) >= TLS1_3_VERSION ? 2 : 1;
}

/* ---- configuration ---- */

int ringo__tls_conf_add(ringo__tls_conf **confp, const char *cert, const char *key, bool quiet)
{
    ringo__tls_conf *conf = *confp;
    cert_src *n;
    int ret;

    if (!cert || !key)
        return -EINVAL;
    if (!conf) {
        if (!(conf = ringo__calloc(1, sizeof(*conf))))
            return -ENOMEM;
        pthread_mutex_init(&conf->mu, NULL);
        *confp = conf;
    }
    if (!(n = ringo__realloc(conf->certs, (conf->ncerts + 1) * sizeof(*n))))
        return -ENOMEM;
    conf->certs = n;
    n += conf->ncerts;
    n->cert = ringo__strdup(cert);
    n->key = ringo__strdup(key);
    if (!n->cert || !n->key) {
        ringo__free(n->cert);
        ringo__free(n->key);
        return -ENOMEM;
    }
    conf->ncerts++;
    ret = ringo__tls_conf_load(conf, quiet);
    if (ret < 0) {
        conf->ncerts--;
        ringo__free(n->cert);
        ringo__free(n->key);
    }
    return ret;
}

void ringo__tls_conf_set_h2(ringo__tls_conf *conf, bool on)
{
    if (conf)
        conf->h2 = on;
}

unsigned ringo__tls_conf_count(const ringo__tls_conf *conf) { return conf ? conf->ncerts : 0; }

static void set_unref(tls_set *set)
{
    if (!set || atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (unsigned i = 0; i < set->n; i++)
        SSL_CTX_free(set->ctx[i]);
    ringo__free(set);
}

static int log_fail(bool quiet, const char *what, const char *file, int err)
{
    char msg[256] = "";
    unsigned long e = ERR_peek_last_error();

    if (e)
        ERR_error_string_n(e, msg, sizeof(msg));
    ERR_clear_error();
    if (!quiet)
        fprintf(stderr, "ringo: TLS: %s %s: %s\n", what, file, msg[0] ? msg : ringo_strerror(err));
    return err;
}

/*
 * Which ciphers the kernel takes, each way: found out once, on a loopback
 * connection of our own, so that no client's connection is the one to find
 * a missing AEAD module (OpenSSL cannot take keys back once it handed them).
 */
static const struct {
    uint16_t type;
    socklen_t len;
    const char *name;
} kciphers[] = {
    {TLS_CIPHER_AES_GCM_128, sizeof(struct tls12_crypto_info_aes_gcm_128), "AES-128-GCM"},
    {TLS_CIPHER_AES_GCM_256, sizeof(struct tls12_crypto_info_aes_gcm_256), "AES-256-GCM"},
    {TLS_CIPHER_CHACHA20_POLY1305, sizeof(struct tls12_crypto_info_chacha20_poly1305),
     "ChaCha20-Poly1305"},
};
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static bool probed; /* the probe got its answers */

/* A connected loopback TCP connection: *peer gets the accepted end. -1 if none. */
static int loopback_socket(int *peer)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s = -1;

    *peer = -1;
    if (l >= 0 && bind(l, (struct sockaddr *)&sa, sl) == 0 && listen(l, 1) == 0 &&
        getsockname(l, (struct sockaddr *)&sa, &sl) == 0 &&
        (s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
        connect(s, (struct sockaddr *)&sa, sl) == 0)
        *peer = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (*peer < 0 && s >= 0) {
        close(s);
        s = -1;
    }
    if (l >= 0)
        close(l);
    return s;
}

static void probe_ciphers(void)
{
    for (size_t i = 0; i < sizeof(kciphers) / sizeof(kciphers[0]); i++) {
        unsigned char info[64] = {0};
        struct tls_crypto_info h = {.version = TLS_1_3_VERSION, .cipher_type = kciphers[i].type};
        uint32_t bit = type_bit(kciphers[i].type);
        int peer, s = loopback_socket(&peer);

        memcpy(info, &h, sizeof(h));
        /* The ULP takes an established connection only: the peer stays open meanwhile. */
        if (s < 0 || setsockopt(s, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
            if (s >= 0)
                close(s), close(peer);
            return; /* no answer: connections find out (and remember) themselves */
        }
        if (setsockopt(s, SOL_TLS, TLS_TX, info, kciphers[i].len) < 0)
            atomic_fetch_or(&ktls_refused, bit);
        if (setsockopt(s, SOL_TLS, TLS_RX, info, kciphers[i].len) < 0)
            atomic_fetch_or(&ktls_rx_refused, bit);
        close(s);
        close(peer);
    }
    probed = true;
}

size_t ringo__ktls_ciphers(char *out, size_t len)
{
    size_t n = 0;

    pthread_once(&probe_once, probe_ciphers);
    out[0] = 0;
    if (!probed)
        return (size_t)snprintf(out, len, "ciphers not probed (no loopback connection)");
    for (size_t i = 0; i < sizeof(kciphers) / sizeof(kciphers[0]) && n < len; i++) {
        uint32_t bit = type_bit(kciphers[i].type);
        bool tx = !(atomic_load(&ktls_refused) & bit), rx = !(atomic_load(&ktls_rx_refused) & bit);
        int k = snprintf(out + n, len - n, "%s%s %s", i ? ", " : "", kciphers[i].name,
                         tx && rx ? "send+receive"
                         : tx     ? "send"
                         : rx     ? "receive"
                                  : "none");
        n += k > 0 ? (size_t)k : 0;
    }
    return n < len ? n : len - 1;
}

static int file_err(const char *path) { return access(path, R_OK) == 0 ? -EINVAL : -errno; }

static SSL_CTX *new_ctx(ringo__tls_conf *conf, const cert_src *src, bool quiet, int *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    *err = -ENOMEM;
    if (!ctx)
        return NULL;
    SSL_CTX_set_app_data(ctx, conf);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, CIPHERS_TLS12) ||
        !SSL_CTX_set_ciphersuites(ctx, CIPHERS_TLS13) || !SSL_CTX_set1_groups_list(ctx, GROUPS))
        goto fail;
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* An idle connection gives its record buffers back (RSS per idle connection). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Resumption by tickets only: no server-side cache shared between rings. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_timeout(ctx, TICKET_ROTATE_S);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, conf);
    if (ringo__ktls_available(NULL, 0)) {
        pthread_once(&probe_once, probe_ciphers);
        SSL_CTX_set_keylog_callback(ctx, keylog_cb); /* TLS 1.3's receive keys (rx_tls13) */
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, src->cert) != 1) {
        *err = log_fail(quiet, "certificate", src->cert, file_err(src->cert));
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, src->key, SSL_FILETYPE_PEM) != 1) {
        *err = log_fail(quiet, "key", src->key, file_err(src->key));
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        *err = log_fail(quiet, "key does not match its certificate:", src->key, -EINVAL);
        goto out;
    }
    *err = 0;
    return ctx;
fail:
    *err = log_fail(quiet, "setting up", "the context", -EINVAL);
out:
    SSL_CTX_free(ctx);
    return NULL;
}

int ringo__tls_conf_load(ringo__tls_conf *conf, bool quiet)
{
    tls_set *set, *old;
    int err = 0;

    if (!conf || !conf->ncerts)
        return -EINVAL;
    pthread_once(&bio_once, make_bio_method);
    if (!bio_method || !(set = ringo__calloc(1, sizeof(*set) + conf->ncerts * sizeof(SSL_CTX *))))
        return -ENOMEM;
    atomic_init(&set->refs, 1);
    for (; set->n < conf->ncerts; set->n++) {
        if (!(set->ctx[set->n] = new_ctx(conf, &conf->certs[set->n], quiet, &err))) {
            set_unref(set);
            return err;
        }
    }
    for (unsigned i = 0; i < set->n; i++)
        SSL_CTX_set_tlsext_servername_callback(set->ctx[i], sni_cb),
            SSL_CTX_set_tlsext_servername_arg(set->ctx[i], set);
    pthread_mutex_lock(&conf->mu);
    old = conf->cur;
    conf->cur = set;
    atomic_fetch_add_explicit(&conf->gen, 1, memory_order_release);
    pthread_mutex_unlock(&conf->mu);
    set_unref(old);
    return 0;
}

void ringo__tls_conf_free(ringo__tls_conf *conf)
{
    if (!conf)
        return;
    set_unref(conf->cur);
    for (unsigned i = 0; i < conf->ncerts; i++) {
        ringo__free(conf->certs[i].cert);
        ringo__free(conf->certs[i].key);
    }
    ringo__free(conf->certs);
    pthread_mutex_destroy(&conf->mu);
    OPENSSL_cleanse(conf->keys, sizeof(conf->keys));
    ringo__free(conf);
}

/* ---- per ring ---- */

static ringo__tls_ring *ring_state(ringo__ring *r)
{
    ringo__tls_ring *tr = r->tls;

    if (!tr) {
        size_t cap = r->buf_size;
        if (!(tr = ringo__calloc(1, sizeof(*tr))) || !(tr->plain = ringo__malloc(cap))) {
            ringo__free(tr);
            return NULL;
        }
        tr->plain_cap = cap;
        r->tls = tr;
    }
    return tr;
}

/* The ring's reference to the current set, refreshed after a reload (one load per accept). */
static tls_set *current_set(ringo__ring *r, ringo__tls_ring *tr)
{
    ringo__tls_conf *conf = r->srv->tls;
    uint64_t gen = atomic_load_explicit(&conf->gen, memory_order_acquire);

    if (gen != tr->gen || !tr->set) {
        tls_set *old = tr->set;
        pthread_mutex_lock(&conf->mu);
        tr->set = conf->cur;
        atomic_fetch_add_explicit(&tr->set->refs, 1, memory_order_relaxed);
        tr->gen = atomic_load_explicit(&conf->gen, memory_order_relaxed);
        pthread_mutex_unlock(&conf->mu);
        set_unref(old);
    }
    return tr->set;
}

void ringo__tls_ring_free(ringo__ring *r)
{
    ringo__tls_ring *tr = r->tls;

    if (!tr)
        return;
    set_unref(tr->set);
    ringo__free(tr->plain);
    ringo__free(tr);
    r->tls = NULL;
}

/* ---- per connection ---- */

/*
 * kTLS: the "tls" upper-layer protocol goes on the socket before the
 * handshake. Without keys it passes bytes through unchanged, and with it
 * OpenSSL may hand over the transmit keys (CTRL_SET_KTLS) knowing the kernel
 * will take them. A kernel without it says so once for the process.
 */
static _Atomic bool ulp_missing;

static bool ktls_ulp(ringo__conn *c)
{
    if (c->ring->srv->cfg.no_ktls || atomic_load_explicit(&ulp_missing, memory_order_relaxed))
        return false;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0)
        return true;
    if (errno == ENOENT)
        atomic_store_explicit(&ulp_missing, true, memory_order_relaxed);
    return false;
}

int ringo__tls_open(ringo__conn *c)
{
    ringo__tls_ring *tr = ring_state(c->ring);
    ringo__tls *t;
    tls_set *set;
    BIO *bio;

    if (!tr || !(t = ringo__calloc(1, sizeof(*t))))
        return -ENOMEM;
    set = current_set(c->ring, tr);
    if (!(t->ssl = SSL_new(set->ctx[0])) || !(bio = BIO_new(bio_method))) {
        SSL_free(t->ssl);
        ringo__free(t);
        ERR_clear_error();
        return -ENOMEM;
    }
    BIO_set_data(bio, c);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_accept_state(t->ssl);
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    t->set = set;
    c->tls = t;
    if (ktls_ulp(c)) {
        t->ktls = KTLS_ULP;
        SSL_set_options(t->ssl, SSL_OP_ENABLE_KTLS);
    }
    /* The handshake timeout, from accept; the protocol's timers start at on_open. */
    ringo__conn_timer(c, -1, c->ring->srv->cfg.tls_handshake_timeout_ms);
    return 0;
}

static void release_slot(ringo__conn *c);

/* A counter of ringo_stats only this ring writes: a plain load and store, no locked add. */
static void count(_Atomic uint64_t *n)
{
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/*
 * A fatal error: the alert OpenSSL queued goes out, then the connection
 * closes. Its handshake slot frees now, not after the lingering close.
 */
static void fail(ringo__conn *c)
{
    if (!c->tls->done)
        count(&c->ring->stats.tls_handshake_failures);
    c->tls->failed = true;
    ERR_clear_error();
    release_slot(c);
    ringo__conn_close(c, RINGO__CLOSE_AFTER_SEND);
}

/* The handshake finished: the protocol gets the connection. */
static void established(ringo__conn *c)
{
    ringo__ring_stats *st = &c->ring->stats;
    const unsigned char *alpn;
    unsigned alpn_len;

    c->tls->done = true;
    release_slot(c);
    count(&st->tls_handshakes);
    if (SSL_session_reused(c->tls->ssl))
        count(&st->tls_resumed);
    SSL_get0_alpn_selected(c->tls->ssl, &alpn, &alpn_len);
    if (alpn_len == 2 && memcmp(alpn, "h2", 2) == 0)
        count(&st->tls_alpn_h2);
    c->proto_deadline = 0;
    c->timer_kind = 0;
    c->opened = true;
    c->ring->proto->on_open(c);
}

/* Every record of the input, decrypted and passed up (the protocol copies what it keeps). */
static void read_records(ringo__conn *c)
{
    ringo__tls_ring *tr = c->ring->tls;
    ringo__tls *t = c->tls;
    size_t len = 0;

    for (;;) {
        int k = SSL_read(t->ssl, tr->plain + len, (int)(tr->plain_cap - len));
        /* Now: the protocol's writes below (SSL_write) reset what it would say. */
        int err = k > 0 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, k);
        if (k > 0) {
            len += (size_t)k;
            if (len < tr->plain_cap)
                continue;
        }
        if (len && c->state == CONN_OPEN)
            c->ring->proto->on_data(c, tr->plain, len);
        len = 0;
        if (c->state != CONN_OPEN || c->tls->failed)
            return;
        if (k > 0)
            continue;
        switch (err) {
        case SSL_ERROR_WANT_READ: return;
        case SSL_ERROR_ZERO_RETURN: /* close_notify: as an EOF */
            c->eof = true;
            c->ring->proto->on_eof(c);
            return;
        default: fail(c); return;
        }
    }
}

static void handshake(ringo__conn *c)
{
    ringo__tls *t = c->tls;
    int k;

    ERR_clear_error();
    k = SSL_do_handshake(t->ssl);
    if (k == 1) {
        if (t->ktls != KTLS_OFF)
            rx_tls13(t); /* before the first record after the client's Finished is read */
        established(c);
        if (c->state == CONN_OPEN)
            read_records(c);
    } else if (SSL_get_error(t->ssl, k) != SSL_ERROR_WANT_READ) {
        fail(c);
    }
}

static void feed(ringo__conn *c, const char *p, size_t n)
{
    ringo__tls *t = c->tls;

    t->in = p;
    t->in_len = n;
    if (!t->done)
        handshake(c);
    else if (c->state == CONN_OPEN) {
        ERR_clear_error();
        read_records(c);
    }
    /*
     * kTLS receive: OpenSSL stopped between two records with all input read.
     * The multishot recv ends (its last completions may still bring
     * ciphertext, which OpenSSL reads as before); the ring hands the keys to
     * the kernel before it arms the next one (ringo__tls_ktls_rx_prep).
     */
    if (t->rx == RX_COUNTING && t->done && !t->failed && !t->rx_hlen && !t->in_len &&
        c->state == CONN_OPEN) {
        t->rx = RX_DRAINING;
        ringo__conn_cancel_recv(c);
    }
    t->in = NULL;
    t->in_len = 0;
    /* Handshake records, alerts, tickets and whatever the protocol wrote. */
    ringo__conn_flush(c);
}

static void enqueue(ringo__tls_ring *tr, ringo__conn *c)
{
    c->tls->waiting = true;
    c->tls->next_wait = NULL;
    if (tr->wait_tail)
        tr->wait_tail->tls->next_wait = c;
    else
        tr->wait_head = c;
    tr->wait_tail = c;
}

static void unqueue(ringo__tls_ring *tr, ringo__conn *c)
{
    ringo__conn **pp = &tr->wait_head, *prev = NULL;

    while (*pp && *pp != c)
        prev = *pp, pp = &(*pp)->tls->next_wait;
    if (!*pp)
        return;
    *pp = c->tls->next_wait;
    if (tr->wait_tail == c)
        tr->wait_tail = prev;
    c->tls->waiting = false;
}

/* Keeps bytes that arrived while waiting for a slot; false past HELD_MAX. */
static bool hold(ringo__tls *t, const char *p, size_t n)
{
    char *b;

    if (t->held_len + n > HELD_MAX || !(b = ringo__realloc(t->held, t->held_len + n)))
        return false;
    memcpy(b + t->held_len, p, n);
    t->held = b;
    t->held_len += n;
    return true;
}

static void resumed(ringo__completion *comp, int32_t res, uint32_t flags)
{
    ringo__tls *t = (ringo__tls *)((char *)comp - offsetof(ringo__tls, resume));
    ringo__conn *c = BIO_get_data(SSL_get_rbio(t->ssl));
    char *held = t->held;
    size_t len = t->held_len;

    (void)res, (void)flags;
    t->held = NULL;
    t->held_len = 0;
    if (c->state == CONN_OPEN) {
        c->held = false;
        feed(c, held, len);
        ringo__conn_arm_recv(c);
    }
    ringo__free(held);
    ringo__conn_unref(c);
}

/*
 * A slot frees: the next waiting connection takes it. It goes on from a
 * CQE of its own (a NOP) rather than from inside this call, which runs in
 * another connection's callbacks.
 */
static void release_slot(ringo__conn *c)
{
    ringo__tls_ring *tr = c->ring->tls;
    ringo__conn *next;
    struct io_uring_sqe *sqe;

    if (!c->tls->counted)
        return;
    c->tls->counted = false;
    tr->hs--;
    if (!(next = tr->wait_head))
        return;
    unqueue(tr, next);
    next->tls->counted = true;
    tr->hs++;
    next->tls->resume.fn = resumed;
    ringo__conn_ref(next);
    sqe = ringo__ring_sqe(c->ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(&next->tls->resume));
}

void ringo__tls_on_data(ringo__conn *c, const char *p, size_t n)
{
    ringo__tls_ring *tr = c->ring->tls;
    ringo__tls *t = c->tls;

    if (t->failed)
        return; /* the alert is on its way; the rest is ignored */
    if (t->waiting || t->held_len) {
        if (!hold(t, p, n)) /* a client that will not wait quietly */
            ringo__conn_close(c, RINGO__CLOSE_NOW);
        return;
    }
    if (!t->done && !t->counted) {
        if (tr->hs >= c->ring->srv->cfg.tls_max_handshakes) {
            if (!hold(t, p, n)) {
                ringo__conn_close(c, RINGO__CLOSE_NOW);
                return;
            }
            enqueue(tr, c);
            c->held = true;
            ringo__conn_cancel_recv(c);
            return;
        }
        t->counted = true;
        tr->hs++;
    }
    feed(c, p, n);
}

int ringo__tls_encrypt(ringo__conn *c)
{
    ringo__tls *t = c->tls;
    size_t off = 0;

    if (!t->done || t->failed)
        return 0; /* output waits for the handshake; after a failure there is none */
    if (t->shut) {
        c->out_len = 0; /* written after close_notify: never sent */
        return 0;
    }
    if (t->ktls == KTLS_ON) {
        /* The kernel makes the records: the plaintext is sent as it is, no copy when `ct`
         * is empty (the buffers trade places), else behind what waits there. */
        if (!c->ct_len) {
            char *p = c->ct;
            size_t cap = c->ct_cap;
            c->ct = c->out, c->ct_cap = c->out_cap, c->ct_len = c->out_len;
            c->out = p, c->out_cap = cap, c->out_len = 0;
            return 0;
        }
        if (ringo__conn_ct_append(c, c->out, c->out_len) < 0)
            return -ENOMEM;
        c->out_len = 0;
        return 0;
    }
    ERR_clear_error();
    while (off < c->out_len) {
        size_t n = c->out_len - off;
        int k = SSL_write(t->ssl, c->out + off, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k <= 0) {
            ERR_clear_error();
            return -ENOMEM; /* our BIO fails only when the buffer cannot grow */
        }
        off += (size_t)k;
    }
    c->out_len = 0;
    return 0;
}

static int send_record(int fd, int type, const char *p, size_t n)
{
    char cbuf[CMSG_SPACE(sizeof(unsigned char))];
    struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *cm;
    ssize_t k;

    if (type != 23) {
        memset(cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof(cbuf);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_TLS;
        cm->cmsg_type = TLS_SET_RECORD_TYPE;
        cm->cmsg_len = CMSG_LEN(sizeof(unsigned char));
        *CMSG_DATA(cm) = (unsigned char)type;
    }
    k = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return k == (ssize_t)n ? 0 : -1;
}

/*
 * The transmit keys go to the kernel once everything OpenSSL wrote before
 * handing them over has left (the caller: nothing in flight, no ciphertext
 * left in `ct`). From then on the socket encrypts what the ring sends. The
 * records OpenSSL wrote meanwhile follow: the handshake's last records (TLS
 * 1.3 session tickets; TLS 1.2's Finished) are sent here with their record
 * type, a few hundred bytes on an idle socket, and application data joins `ct`.
 */
/* The switch failed: this connection cannot go on; what waited is dropped (not unsent). */
static int ktls_drop(ringo__tls *t)
{
    OPENSSL_cleanse(t->kinfo, sizeof(t->kinfo));
    ringo__free(t->kpend);
    t->kpend = NULL;
    t->kpend_len = t->kpend_cap = 0;
    t->failed = true;
    return -1;
}

/*
 * Hands one direction's keys to the socket. When the kernel refuses (its AEAD
 * module for the cipher is missing), the cipher is remembered for the process,
 * with one log line: the BIO refuses its keys from then on, and OpenSSL keeps
 * that direction of its connections. 0 or -1.
 */
static int set_keys(int fd, int dir, const unsigned char *info, socklen_t len)
{
    _Atomic uint32_t *refused = dir == TLS_TX ? &ktls_refused : &ktls_rx_refused;
    uint32_t bit = cipher_bit(info);
    int err;

    if (setsockopt(fd, SOL_TLS, dir, info, len) == 0)
        return 0;
    err = errno;
    if (!(atomic_fetch_or(refused, bit) & bit))
        fprintf(stderr,
                "ringo: kTLS: the kernel refused %s for cipher %u (%s); "
                "its connections keep user-space TLS that way\n",
                dir == TLS_TX ? "TLS_TX" : "TLS_RX", cipher_type(info), strerror(err));
    return -1;
}

int ringo__tls_ktls_switch(ringo__conn *c)
{
    ringo__tls *t = c->tls;
    size_t off = 0;

    if (!t || t->ktls != KTLS_PENDING)
        return 0;
    if (set_keys(c->fd, TLS_TX, t->kinfo, t->kinfo_len) < 0)
        return ktls_drop(t);
    t->ktls = KTLS_ON;
    count(&c->ring->stats.tls_ktls);
    OPENSSL_cleanse(t->kinfo, sizeof(t->kinfo));
    while (off < t->kpend_len) {
        int type = (unsigned char)t->kpend[off];
        uint32_t n;

        memcpy(&n, t->kpend + off + 1, 4);
        off += 5;
        if (type != 23 && c->ct_len)
            return ktls_drop(t); /* a handshake record after application data: never so */
        if (type != 23 ? send_record(c->fd, type, t->kpend + off, n) < 0
                       : ringo__conn_ct_append(c, t->kpend + off, n) < 0)
            return ktls_drop(t);
        off += n;
    }
    ringo__free(t->kpend);
    t->kpend = NULL;
    t->kpend_len = t->kpend_cap = 0;
    return 0;
}

bool ringo__tls_ktls_tx(const ringo__conn *c) { return c->tls && c->tls->ktls == KTLS_ON; }

/* The kernel's receive keys go in now: no recv is armed and OpenSSL read up to a record's end. */
static void rx_switch(ringo__conn *c)
{
    ringo__tls *t = c->tls;
    unsigned char *rs = t->rxinfo + t->rxinfo_len - 8; /* rec_seq, big-endian */
    uint64_t seq = 0;

    if (t->rx_hlen || t->failed) {
        /* Ciphertext that came before the recv ended stopped inside a record: later. */
        if (++t->rx_tries >= RX_TRIES)
            rx_end(t, false);
        else
            t->rx = RX_COUNTING;
        return;
    }
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | rs[i];
    seq += t->rx_records;
    for (int i = 7; i >= 0; i--, seq >>= 8)
        rs[i] = (unsigned char)seq;
    if (set_keys(c->fd, TLS_RX, t->rxinfo, t->rxinfo_len) < 0) {
        rx_end(t, false);
        return;
    }
    rx_end(t, true);
    count(&c->ring->stats.tls_ktls_rx);
}

/* One msghdr for every kTLS multishot recvmsg: no address, room for the record type. */
static struct msghdr rx_msghdr = {.msg_controllen = CMSG_SPACE(sizeof(unsigned char))};

bool ringo__tls_ktls_rx_prep(ringo__conn *c, struct io_uring_sqe *sqe)
{
    ringo__tls *t = c->tls;

    if (t->rx == RX_DRAINING && (c->state != CONN_OPEN || c->close_after_send))
        rx_end(t, false); /* closing: what arrives now is discarded, never counted */
    if (t->rx == RX_DRAINING)
        rx_switch(c);
    if (t->rx != RX_ON)
        return false;
    io_uring_prep_recvmsg_multishot(sqe, c->fd, &rx_msghdr, 0);
    return true;
}

bool ringo__tls_ktls_rx(const ringo__conn *c) { return c->tls && c->tls->rx == RX_ON; }

int ringo__tls_ktls_input(ringo__conn *c, char *buf, size_t len)
{
    struct msghdr mh = rx_msghdr;
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, (int)len, &mh);
    struct cmsghdr *cm;
    unsigned char type = 0;
    const unsigned char *p;
    size_t n;

    if (!o || (o->flags & MSG_CTRUNC))
        return -1;
    for (cm = io_uring_recvmsg_cmsg_firsthdr(o, &mh); cm;
         cm = io_uring_recvmsg_cmsg_nexthdr(o, &mh, cm))
        if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
            type = *CMSG_DATA(cm);
    p = io_uring_recvmsg_payload(o, &mh);
    n = io_uring_recvmsg_payload_length(o, (int)len, &mh);
    if (!type && !n)
        return 0; /* the peer's FIN */
    if (!type || type == 23) {
        if (n && c->state == CONN_OPEN) {
            c->ring->proto->on_data(c, (const char *)p, n);
            ringo__conn_flush(c);
        }
        return 1;
    }
    if (type == 21 && n == 2 && p[1] == 0)
        return 0; /* close_notify: as an EOF */
    if (type == 21 && n == 2 && p[1] == 90)
        return 1; /* user_canceled: a close_notify follows */
    /* Any other alert ends the connection, as does a handshake message (KeyUpdate):
     * the kernel's receive keys cannot follow it. */
    return -1;
}

/* close_notify through the kernel under kTLS: an alert record (warning, close_notify). */
static void ktls_send_close_notify(int fd)
{
    static const char alert[2] = {1, 0};

    (void)send_record(fd, 21, alert, sizeof(alert)); /* best effort: the socket is idle */
}

void ringo__tls_ktls_close_notify(ringo__conn *c)
{
    if (c->tls && c->tls->ktls == KTLS_ON && c->tls->shut && !c->tls->failed)
        ktls_send_close_notify(c->fd);
}
size_t ringo__tls_held(const ringo__conn *c) { return c->tls->kpend_len; }

void ringo__tls_goodbye(ringo__conn *c)
{
    ringo__tls *t = c->tls;

    if (!t->done || t->failed || t->shut || t->ktls == KTLS_PENDING)
        return;
    t->shut = true;
    if (t->ktls == KTLS_ON) {
        ktls_send_close_notify(c->fd);
        return;
    }
    ERR_clear_error();
    if (SSL_shutdown(t->ssl) >= 0 && c->ct_len) {
        ssize_t k = send(c->fd, c->ct, c->ct_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)k; /* best effort: the peer may be gone already */
    }
    ERR_clear_error();
    c->ct_len = 0;
}

void ringo__tls_shutdown(ringo__conn *c)
{
    ringo__tls *t = c->tls;

    if (!t->done || t->failed || t->shut)
        return;
    /* Under kTLS, close_notify is a control message of its own after the last byte the
     * ring sends: the lingering close sends it (ringo__tls_ktls_close_notify). */
    if (ringo__tls_encrypt(c) == 0 && t->ktls < KTLS_PENDING) {
        ERR_clear_error();
        SSL_shutdown(t->ssl); /* queues close_notify; the peer's is not awaited */
        ERR_clear_error();
    }
    t->shut = true;
}

void ringo__tls_closing(ringo__conn *c)
{
    ringo__tls_ring *tr = c->ring->tls;

    if (c->tls->waiting)
        unqueue(tr, c);
    release_slot(c);
}

void ringo__tls_free(ringo__conn *c)
{
    ringo__tls *t = c->tls;

    if (!t)
        return;
    SSL_free(t->ssl);
    set_unref(t->set);
    ringo__free(t->held);
    ringo__free(t->kpend);
    OPENSSL_cleanse(t->kinfo, sizeof(t->kinfo));
    OPENSSL_cleanse(t->rxinfo, sizeof(t->rxinfo));
    OPENSSL_cleanse(t->rxsecret, sizeof(t->rxsecret));
    ringo__free(t);
    c->tls = NULL;
}

const char *ringo__conn_alpn(const ringo__conn *c, size_t *len)
{
    const unsigned char *p = NULL;
    unsigned n = 0;

    if (c->tls && c->tls->done)
        SSL_get0_alpn_selected(c->tls->ssl, &p, &n);
    *len = n;
    return n ? (const char *)p : NULL;
}

#endif /* RINGO_WITH_TLS */
