/*
 * http/ws/handshake.h - the server's half of the WebSocket opening
 * handshake (RFC 6455 §4.2), without I/O and without a request object.
 *
 * The caller hands over the request's header fields one at a time, in any
 * order (ringo__ws_handshake_header()), then asks for the verdict
 * (ringo__ws_handshake_check()): the status to answer - 101, 400 or 426 -
 * and, for 101, the Sec-WebSocket-Accept value. Fields are taken one line
 * at a time, not as one value per name, because Connection, Upgrade and
 * Sec-WebSocket-Protocol are lists that may be split over several lines
 * (RFC 9110 §5.3) and Sec-WebSocket-Key and -Version must be refused when
 * repeated (RFC 6455 §11.3.1, §11.3.5): a struct with one value per name
 * could do neither without the caller joining lines.
 *
 * Nothing is allocated. Values are ringo_str views: the memory they point
 * into (the request's) must outlive the ringo__ws_handshake, which keeps
 * views of the key and of the offered subprotocols.
 *
 * Extensions (Sec-WebSocket-Extensions, e.g. permessage-deflate) are not
 * supported: offers are ignored and the answer names none, which RFC 6455
 * §9.1 allows; the parser then refuses any frame with an RSV bit set.
 */
#ifndef RINGO_HTTP_WS_HANDSHAKE_H
#define RINGO_HTTP_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringo/common.h"

/* Characters of Sec-WebSocket-Accept: base64 of a 20-byte SHA-1 digest. */
#define RINGO__WS_ACCEPT_LEN 28
/* Subprotocol offers kept; a request offering more is refused (400). */
#define RINGO__WS_MAX_PROTOCOLS 16

typedef struct ringo__ws_handshake {
    /* Gathered from the header fields. */
    ringo_str key;     /* Sec-WebSocket-Key, OWS trimmed */
    ringo_str version; /* Sec-WebSocket-Version, OWS trimmed */
    uint8_t nkey;      /* lines of each seen (more than 1: refused) */
    uint8_t nversion;
    bool upgrade;       /* "websocket" is in an Upgrade line */
    bool connection;    /* "upgrade" is in a Connection line */
    bool bad_protocol;  /* a Sec-WebSocket-Protocol element is not a token, repeats, or too many */
    uint8_t nprotocols; /* offered subprotocols, in the client's order of preference */
    ringo_str protocols[RINGO__WS_MAX_PROTOCOLS];

    /* Set by ringo__ws_handshake_check(). */
    const char *why;                       /* for 400 and 426: what was wrong, as text */
    char accept[RINGO__WS_ACCEPT_LEN + 1]; /* for 101: Sec-WebSocket-Accept, NUL-terminated */
} ringo__ws_handshake;

/* Starts a handshake with no fields seen. */
void ringo__ws_handshake_init(ringo__ws_handshake *hs);

/*
 * Takes one request header field (name matched case-insensitively; fields
 * that play no part in the handshake are ignored). Never fails: what is
 * wrong is remembered for ringo__ws_handshake_check().
 */
void ringo__ws_handshake_header(ringo__ws_handshake *hs, ringo_str name, ringo_str value);

/*
 * Judges the handshake (RFC 6455 §4.2.1) given the request line's method
 * and HTTP version, after all fields were passed. Returns the status to
 * answer:
 *   101 a valid opening handshake: hs->accept holds Sec-WebSocket-Accept;
 *   426 Sec-WebSocket-Version missing or not 13: answer with the header
 *       "Sec-WebSocket-Version: 13" (§4.4);
 *   400 anything else wrong: not GET, older than HTTP/1.1, no "websocket"
 *       in Upgrade, no "upgrade" in Connection, a repeated version or key
 *       line, a key that is not base64 of exactly 16 bytes, a malformed
 *       Sec-WebSocket-Protocol.
 * For 400 and 426, hs->why says which rule failed (static text).
 */
int ringo__ws_handshake_check(ringo__ws_handshake *hs, ringo_str method, unsigned http_major,
                              unsigned http_minor);

/*
 * Whether the client offered subprotocol proto (exact, case-sensitive
 * match, RFC 6455 §4.1): a handler may only choose one it offered.
 */
bool ringo__ws_handshake_offered(const ringo__ws_handshake *hs, ringo_str proto);

/*
 * Writes base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) to
 * out, RINGO__WS_ACCEPT_LEN characters and a NUL (RFC 6455 §4.2.2 item 5.4).
 */
void ringo__ws_accept(ringo_str key, char out[RINGO__WS_ACCEPT_LEN + 1]);

/*
 * Writes the base64 encoding (RFC 4648 §4, padded) of in[0..n) to out and
 * returns its length, 4 * ((n + 2) / 3); no NUL.
 */
size_t ringo__ws_base64(char *out, const uint8_t *in, size_t n);

#endif
