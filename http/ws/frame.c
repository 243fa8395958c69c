/*
 * http/ws/frame.c - WebSocket frames, RFC 6455 §5, as a server reads and
 * writes them.
 *
 *      0               1               2               3
 *     |F|R|R|R| opcode|M| len7        | extended length (0, 2 or 8) |
 *     |I|S|S|S|  (4)  |A|  (7)        | masking key (4, always from |
 *     |N|V|V|V|       |S|             | a client) | payload ...     |
 *
 * The parser has three states:
 *
 *   HEADER   bytes collect in hdr[]. Byte 0 and byte 1 are judged the moment
 *            they arrive; once byte 1 says how long the header is (2 + 0/2/8
 *            + 4) the rest collects and is judged whole: the length, against
 *            125 for a control frame and against the limits for data.
 *   PAYLOAD  the payload is unmasked into its destination in the largest
 *            spans the input allows - the message buffer for a data frame,
 *            ctl[] for a control frame - and text is UTF-8-checked as it
 *            lands. When the last byte is in (at once for an empty
 *            payload) the frame is finished: a final data fragment or a
 *            control frame becomes an event, then back to HEADER.
 *   CLOSED   a close frame was delivered: input is taken and ignored.
 *
 * An error is sticky (err): the stream cannot be resynchronised.
 *
 * Limits: a data frame's payload may not exceed max_frame and a message's
 * fragments together may not exceed max_message, both checked from the
 * header before a payload byte is stored; control frames are at most 125
 * bytes by the protocol. The message buffer grows by doubling (clamped to
 * max_message + 1 for the NUL) only as payload actually arrives, so a
 * header that announces a large frame costs nothing until its bytes come.
 * After delivery a buffer up to KEEP_BYTES is kept for the next message;
 * a larger one is freed on the next call.
 *
 * Close codes for what the parser refuses:
 *   1002 protocol error  - a client frame without the mask bit (§5.1);
 *                        - an RSV bit set: no extension is negotiated (§5.2);
 *                        - opcode 3-7 or B-F (§5.2);
 *                        - a control frame with FIN clear or a payload over
 *                          125 bytes (§5.5);
 *                        - a continuation frame with no message open, or a
 *                          text/binary frame while one is open (§5.4);
 *                        - a 64-bit length with the top bit set (§5.2);
 *                        - a close frame with a 1-byte body, or a code that
 *                          ringo__ws_close_code_valid() refuses (§5.5.1,
 *                          §7.4).
 *   1007 invalid data    - a text message that is not UTF-8: an invalid byte
 *                          anywhere (also across frames and reads), or a
 *                          sequence cut short by the final fragment; a close
 *                          reason that is not UTF-8 (§5.6, §8.1).
 *   1009 too big         - a frame over max_frame, a message over
 *                          max_message.
 * Non-minimal length encodings (a 16-bit length under 126, a 64-bit one
 * under 65536) are allowed by §5.2, which only says a sender MUST use the
 * minimal one, and are accepted.
 */
#include "http/ws/frame.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "core/alloc.h"

enum { ST_HEADER, ST_PAYLOAD, ST_CLOSED };

/* A delivered message buffer this large or smaller is kept for the next message. */
#define KEEP_BYTES 4096
#define FIRST_BYTES 256

enum {
    E_PROTO = -RINGO__WS_PROTOCOL_ERROR,
    E_UTF8 = -RINGO__WS_INVALID_DATA,
    E_BIG = -RINGO__WS_TOO_BIG
};

static bool is_control(unsigned op) { return op & 0x8; }

void ringo__ws_parser_init(ringo__ws_parser *p, size_t max_message, size_t max_frame)
{
    memset(p, 0, sizeof(*p));
    p->max_message = max_message;
    p->max_frame = max_frame;
    p->state = ST_HEADER;
}

void ringo__ws_parser_free(ringo__ws_parser *p)
{
    ringo__free(p->msg);
    p->msg = NULL;
    p->msg_len = p->msg_cap = 0;
}

bool ringo__ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* Byte 0: FIN, RSV1-3, opcode, judged against the fragmentation state. */
static int header_byte0(ringo__ws_parser *p, uint8_t b)
{
    unsigned op = b & 0x0f;

    p->fin = b >> 7;
    p->opcode = (uint8_t)op;
    if (b & 0x70)
        return E_PROTO;
    switch (op) {
    case RINGO__WS_CONT: return p->msg_type ? 0 : E_PROTO;
    case RINGO__WS_TEXT:
    case RINGO__WS_BINARY: return p->msg_type ? E_PROTO : 0;
    case RINGO__WS_CLOSE:
    case RINGO__WS_PING:
    case RINGO__WS_PONG: return p->fin ? 0 : E_PROTO;
    default: return E_PROTO;
    }
}

/* Byte 1: MASK and the 7-bit length, which says how long the header is. */
static int header_byte1(ringo__ws_parser *p, uint8_t b)
{
    unsigned len7 = b & 0x7f;

    if (!(b & 0x80))
        return E_PROTO;
    p->hneed = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
    return 0;
}

/* The whole header is in: the payload length against the limits. */
static int header_done(ringo__ws_parser *p)
{
    unsigned len7 = p->hdr[1] & 0x7f;
    uint64_t len = len7;

    if (len7 >= 126) {
        unsigned n = len7 == 126 ? 2 : 8;
        len = 0;
        for (unsigned i = 0; i < n; i++)
            len = len << 8 | p->hdr[2 + i];
        if (len >> 63)
            return E_PROTO;
    }
    if (is_control(p->opcode)) {
        /* The length, not its encoding: a 16-bit 5 is as good as a 7-bit one. */
        if (len > RINGO__WS_MAX_CONTROL || (p->opcode == RINGO__WS_CLOSE && len == 1))
            return E_PROTO;
    } else {
        uint64_t have = p->opcode == RINGO__WS_CONT ? p->msg_len : 0;
        if (len > p->max_frame || len > p->max_message - have)
            return E_BIG;
        if (p->opcode != RINGO__WS_CONT) {
            p->msg_type = p->opcode;
            p->msg_len = 0;
            ringo__ws_utf8_init(&p->utf8);
        }
    }
    p->flen = p->left = len;
    p->ctl_len = 0;
    p->state = ST_PAYLOAD;
    return 0;
}

/*
 * Copies n bytes from src to dst, unmasking (RFC 6455 §5.3) from payload
 * offset off. The mask, rotated to off, repeats every 4 bytes, so a word of
 * it unmasks 8 bytes at a time.
 */
static void unmask(char *dst, const char *src, size_t n, const uint8_t mask[4], uint64_t off)
{
    uint8_t m[8];
    uint64_t w, mw;
    size_t i = 0;

    for (unsigned k = 0; k < 8; k++)
        m[k] = mask[(off + k) & 3];
    memcpy(&mw, m, 8);
    for (; n - i >= 8; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= mw;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = (char)(src[i] ^ m[i & 7]);
}

/* Room for n more message bytes and the NUL after them (n fits the limit already). */
static int reserve(ringo__ws_parser *p, size_t n)
{
    size_t need = p->msg_len + n + 1, cap = p->msg_cap ? p->msg_cap : FIRST_BYTES;
    char *m;

    if (need <= p->msg_cap)
        return 0;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (p->max_message < SIZE_MAX && cap > p->max_message + 1)
        cap = (size_t)p->max_message + 1;
    if (cap < need)
        cap = need;
    m = ringo__realloc(p->msg, cap);
    if (!m)
        return -ENOMEM;
    p->msg = m;
    p->msg_cap = cap;
    return 0;
}

/* Takes what the input holds of the payload; returns bytes used or an error. */
static ssize_t payload(ringo__ws_parser *p, const char *src, size_t n)
{
    const uint8_t *mask = p->hdr + p->hneed - 4;
    uint64_t off = p->flen - p->left;
    char *dst;
    int ret;

    if (n > p->left)
        n = (size_t)p->left;
    if (is_control(p->opcode)) {
        dst = p->ctl + p->ctl_len;
        p->ctl_len = (uint8_t)(p->ctl_len + n);
    } else {
        if ((ret = reserve(p, n)) < 0)
            return ret;
        dst = p->msg + p->msg_len;
        p->msg_len += n;
    }
    unmask(dst, src, n, mask, off);
    p->left -= n;
    if (p->msg_type == RINGO__WS_TEXT && !is_control(p->opcode) &&
        !ringo__ws_utf8_feed(&p->utf8, (const uint8_t *)dst, n))
        return E_UTF8;
    return (ssize_t)n;
}

static int close_event(ringo__ws_parser *p, ringo__ws_event *ev)
{
    ev->code = RINGO__WS_NO_STATUS;
    ev->data = p->ctl;
    ev->len = 0;
    if (p->ctl_len >= 2) {
        ev->code = (uint16_t)((uint8_t)p->ctl[0] << 8 | (uint8_t)p->ctl[1]);
        if (!ringo__ws_close_code_valid(ev->code))
            return E_PROTO;
        ev->data = p->ctl + 2;
        ev->len = p->ctl_len - 2u;
        if (!ringo__ws_utf8_valid(ev->data, ev->len))
            return E_UTF8;
    }
    p->state = ST_CLOSED;
    return 1;
}

/* The frame's last payload byte is in: 1 with an event, 0 without, or an error. */
static int frame_done(ringo__ws_parser *p, ringo__ws_event *ev)
{
    p->state = ST_HEADER;
    p->hlen = 0;
    memset(ev, 0, sizeof(*ev));
    ev->type = p->opcode;
    if (is_control(p->opcode)) {
        p->ctl[p->ctl_len] = '\0';
        if (p->opcode == RINGO__WS_CLOSE)
            return close_event(p, ev);
        ev->data = p->ctl;
        ev->len = p->ctl_len;
        return 1;
    }
    if (!p->fin)
        return 0;
    if (p->msg_type == RINGO__WS_TEXT && !ringo__ws_utf8_done(&p->utf8))
        return E_UTF8; /* the final fragment cut a sequence short */
    if (reserve(p, 0) < 0)
        return -ENOMEM;
    p->msg[p->msg_len] = '\0';
    ev->type = p->msg_type;
    ev->data = p->msg;
    ev->len = p->msg_len;
    p->msg_type = 0;
    p->delivered = 1;
    return 1;
}

/* One header byte; 1 with an event (an empty frame can end here), 0, or an error. */
static int header(ringo__ws_parser *p, uint8_t b, ringo__ws_event *ev)
{
    int ret = 0;

    p->hdr[p->hlen++] = b;
    if (p->hlen == 1)
        ret = header_byte0(p, b);
    else if (p->hlen == 2)
        ret = header_byte1(p, b);
    if (ret < 0 || p->hlen < 2 || p->hlen < p->hneed)
        return ret;
    if ((ret = header_done(p)) < 0)
        return ret;
    return p->left ? 0 : frame_done(p, ev);
}

/* The message delivered by the last call is no longer the caller's to read. */
static void recycle(ringo__ws_parser *p)
{
    if (!p->delivered)
        return;
    p->delivered = 0;
    p->msg_len = 0;
    if (p->msg_cap > KEEP_BYTES)
        ringo__ws_parser_free(p);
}

int ringo__ws_feed(ringo__ws_parser *p, const char *data, size_t len, size_t *used,
                   ringo__ws_event *ev)
{
    size_t i = 0;
    int ret = 0;

    *used = 0;
    if (p->err)
        return p->err;
    recycle(p);
    while (ret == 0 && i < len) {
        if (p->state == ST_CLOSED) {
            i = len;
        } else if (p->state == ST_HEADER) {
            ret = header(p, (uint8_t)data[i++], ev);
        } else {
            ssize_t n = payload(p, data + i, len - i);
            if (n < 0) {
                ret = (int)n;
                break;
            }
            i += (size_t)n;
            if (!p->left)
                ret = frame_done(p, ev);
        }
    }
    *used = i;
    if (ret < 0)
        p->err = ret;
    return ret;
}

char *ringo__ws_take(ringo__ws_parser *p, size_t *len)
{
    char *m = p->msg;

    *len = 0;
    if (!p->delivered)
        return NULL;
    /* frame_done() gave every delivered message a buffer, if only for its NUL. */
    *len = p->msg_len;
    p->msg = NULL;
    p->msg_len = p->msg_cap = 0;
    p->delivered = 0;
    return m;
}

size_t ringo__ws_frame_header(uint8_t out[RINGO__WS_MAX_HEADER], int opcode, bool fin, uint64_t len)
{
    size_t n = 2;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return n;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (unsigned i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ringo__ws_close_frame(uint8_t out[RINGO__WS_CLOSE_FRAME_MAX], unsigned code,
                             const char *reason, size_t len)
{
    size_t body = 0;

    if (ringo__ws_close_code_valid(code)) {
        size_t keep = reason ? ringo__ws_utf8_prefix(reason, len, RINGO__WS_MAX_CONTROL - 2) : 0;
        out[2] = (uint8_t)(code >> 8);
        out[3] = (uint8_t)code;
        if (keep)
            memcpy(out + 4, reason, keep);
        body = 2 + keep;
    }
    return ringo__ws_frame_header(out, RINGO__WS_CLOSE, true, body) + body;
}
