/*
 * http/ws/handshake.c - the opening handshake, RFC 6455 §4.2.1 and §4.2.2.
 *
 * The rules, with the status each failure answers:
 *   GET, HTTP/1.1 or later                       400
 *   Upgrade: a list containing "websocket"       400  (case-insensitive)
 *   Connection: a list containing "upgrade"      400  (case-insensitive)
 *   Sec-WebSocket-Version: 13, once              426 (with "Sec-WebSocket-Version: 13");
 *                                                400 when repeated
 *   Sec-WebSocket-Key: base64 of 16 bytes, once  400
 *   Sec-WebSocket-Protocol: token list           400
 * The version is judged before the key so that a client speaking another
 * version learns which one to use (§4.4) even if its key looks different.
 */
#include "http/ws/handshake.h"

#include <string.h>

#include "core/util.h"
#include "http/ws/sha1.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 6455 §1.3: the GUID every server appends to the client's key. */
static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static ringo_str trim(ringo_str s)
{
    while (s.len && is_ows(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && is_ows(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

static bool iequal(ringo_str a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && ringo__ascii_iequal(a.ptr, lit, n);
}

/*
 * The next element of a comma-separated list (RFC 9110 §5.6.1), OWS
 * trimmed; empty elements are skipped as the RFC requires. Returns false at
 * the end of the list.
 */
static bool next_elem(ringo_str *list, ringo_str *elem)
{
    while (list->len) {
        const char *comma = memchr(list->ptr, ',', list->len);
        size_t n = comma ? (size_t)(comma - list->ptr) : list->len;
        *elem = trim((ringo_str){list->ptr, n});
        list->ptr += comma ? n + 1 : n;
        list->len -= comma ? n + 1 : n;
        if (elem->len)
            return true;
    }
    return false;
}

static bool list_has(ringo_str list, const char *lit)
{
    ringo_str e;

    while (next_elem(&list, &e))
        if (iequal(e, lit))
            return true;
    return false;
}

static bool is_token(ringo_str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!ringo__is_tchar((unsigned char)s.ptr[i]))
            return false;
    return s.len > 0;
}

static void add_protocols(ringo__ws_handshake *hs, ringo_str list)
{
    ringo_str e;

    while (next_elem(&list, &e)) {
        if (!is_token(e) || hs->nprotocols == RINGO__WS_MAX_PROTOCOLS ||
            ringo__ws_handshake_offered(hs, e)) {
            hs->bad_protocol = true;
            return;
        }
        hs->protocols[hs->nprotocols++] = e;
    }
}

void ringo__ws_handshake_init(ringo__ws_handshake *hs) { memset(hs, 0, sizeof(*hs)); }

void ringo__ws_handshake_header(ringo__ws_handshake *hs, ringo_str name, ringo_str value)
{
    if (iequal(name, "upgrade")) {
        hs->upgrade = hs->upgrade || list_has(value, "websocket");
    } else if (iequal(name, "connection")) {
        hs->connection = hs->connection || list_has(value, "upgrade");
    } else if (iequal(name, "sec-websocket-key")) {
        hs->key = trim(value);
        if (hs->nkey < UINT8_MAX)
            hs->nkey++;
    } else if (iequal(name, "sec-websocket-version")) {
        hs->version = trim(value);
        if (hs->nversion < UINT8_MAX)
            hs->nversion++;
    } else if (iequal(name, "sec-websocket-protocol")) {
        add_protocols(hs, value);
    }
}

/*
 * §4.2.1 item 5: base64 that decodes to exactly 16 bytes - 22 characters,
 * the last carrying 2 bits (so its low 4 bits are zero: A, Q, g or w),
 * then "==".
 */
static bool key_valid(ringo_str k)
{
    if (k.len != 24 || k.ptr[22] != '=' || k.ptr[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!k.ptr[i] || !memchr(b64, k.ptr[i], sizeof(b64) - 1))
            return false;
    return memchr("AQgw", k.ptr[21], 4) != NULL;
}

/* The first rule broken, as text, and the status that answers it; NULL when none. */
static const char *judge(const ringo__ws_handshake *hs, ringo_str method, unsigned major,
                         unsigned minor, int *status)
{
    *status = 400;
    if (!ringo_str_eq(method, RINGO_STR_LIT("GET")))
        return "the method is not GET";
    if (major < 1 || (major == 1 && minor < 1))
        return "HTTP/1.1 or later is required";
    if (!hs->upgrade)
        return "Upgrade does not name websocket";
    if (!hs->connection)
        return "Connection does not name upgrade";
    if (hs->nversion > 1)
        return "Sec-WebSocket-Version appears more than once";
    *status = 426;
    if (!ringo_str_eq(hs->version, RINGO_STR_LIT("13")))
        return "Sec-WebSocket-Version is not 13";
    *status = 400;
    if (hs->nkey != 1)
        return hs->nkey ? "Sec-WebSocket-Key appears more than once"
                        : "Sec-WebSocket-Key is missing";
    if (!key_valid(hs->key))
        return "Sec-WebSocket-Key is not base64 of 16 bytes";
    if (hs->bad_protocol)
        return "Sec-WebSocket-Protocol is not a list of distinct tokens (at most 16)";
    *status = 101;
    return NULL;
}

int ringo__ws_handshake_check(ringo__ws_handshake *hs, ringo_str method, unsigned http_major,
                              unsigned http_minor)
{
    int status;

    hs->why = judge(hs, method, http_major, http_minor, &status);
    hs->accept[0] = '\0';
    if (status == 101)
        ringo__ws_accept(hs->key, hs->accept);
    return status;
}

bool ringo__ws_handshake_offered(const ringo__ws_handshake *hs, ringo_str proto)
{
    for (unsigned i = 0; i < hs->nprotocols; i++)
        if (ringo_str_eq(hs->protocols[i], proto))
            return true;
    return false;
}

void ringo__ws_accept(ringo_str key, char out[RINGO__WS_ACCEPT_LEN + 1])
{
    ringo__ws_sha1 s;
    uint8_t digest[RINGO__WS_SHA1_LEN];

    ringo__ws_sha1_init(&s);
    ringo__ws_sha1_update(&s, key.ptr, key.len);
    ringo__ws_sha1_update(&s, guid, sizeof(guid) - 1);
    ringo__ws_sha1_final(&s, digest);
    out[ringo__ws_base64(out, digest, sizeof(digest))] = '\0';
}

size_t ringo__ws_base64(char *out, const uint8_t *in, size_t n)
{
    size_t o = 0, i = 0;

    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i) {
        uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = n - i == 2 ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}
