/*
 * Description: the WebSocket frame parser and writers (http/ws/frame.c,
 * RFC 6455 §5). Every input is parsed whole, one byte per buffer, and cut
 * in two at every offset, and must give the same events each way: the RFC's
 * §5.7 examples masked as a client sends them, fragmentation with control
 * frames in between, every 1002/1007/1009 rule, UTF-8 split across frames
 * and reads, close codes and reasons, the limits, and the frame and
 * close-frame writers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "http/ws/frame.h"

#define BIG (1u << 20)

static const uint8_t rfc_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A byte buffer that grows: test inputs and event logs. */
typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p);
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void putf(buf *b, const char *fmt, unsigned long v)
{
    char s[64];
    int k = snprintf(s, sizeof(s), fmt, v);
    put(b, s, (size_t)k);
}

/*
 * Appends a client frame: byte 0 as given (FIN, RSV, opcode), the shortest
 * length encoding unless len_form forces 16 (126) or 64 (127) bits, the
 * mask and the masked payload. mask NULL: the frame is sent unmasked.
 */
static void frame_raw(buf *b, uint8_t b0, const void *payload, uint64_t len, const uint8_t *mask,
                      int len_form)
{
    uint8_t h[14];
    size_t n = 2;
    const uint8_t *src = payload;

    h[0] = b0;
    if (len_form == 0 && len < 126) {
        h[1] = (uint8_t)len;
    } else if (len_form != 127 && len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        n = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        h[1] |= 0x80;
        memcpy(h + n, mask, 4);
        n += 4;
    }
    put(b, h, n);
    for (uint64_t i = 0; i < len; i++) {
        uint8_t c = src ? src[i] : (uint8_t)(i * 7);
        if (mask)
            c ^= mask[i & 3];
        put(b, &c, 1);
    }
}

static void frame(buf *b, int fin, int op, const void *payload, size_t len)
{
    frame_raw(b, (uint8_t)((fin ? 0x80 : 0) | op), payload, len, rfc_mask, 0);
}

static void frame_s(buf *b, int fin, int op, const char *s) { frame(b, fin, op, s, strlen(s)); }

typedef struct limits {
    size_t max_message, max_frame;
    bool take; /* take each message's buffer, as a handler that keeps it would */
} limits;

static void log_event(buf *log, ringo__ws_parser *p, const ringo__ws_event *ev, bool take)
{
    static const char names[16] = {[1] = 'T', [2] = 'B', [8] = 'C', [9] = 'P', [10] = 'O'};

    CHECK(ev->type >= 0 && ev->type < 16 && names[ev->type]);
    CHECK(ev->data && ev->data[ev->len] == '\0');
    put(log, &names[ev->type], 1);
    if (ev->type == RINGO__WS_CLOSE)
        putf(log, "%lu", ev->code);
    putf(log, "/%lu:", ev->len);
    put(log, ev->data, ev->len);
    put(log, ";", 1);
    if (take) {
        size_t n;
        char *m = ringo__ws_take(p, &n);
        if (ev->type == RINGO__WS_TEXT || ev->type == RINGO__WS_BINARY) {
            CHECK(m && n == ev->len && memcmp(m, ev->data, n) == 0 && m[n] == '\0');
            ringo__free(m);
            m = ringo__ws_take(p, &n); /* once only */
        }
        CHECK(!m && n == 0); /* nothing to take after a control frame */
    }
}

/* Feeds one buffer (a fresh heap copy, so ASan sees any read past it); false after an error. */
static bool feed(ringo__ws_parser *p, const uint8_t *in, size_t n, buf *log, bool take)
{
    char *copy = malloc(n ? n : 1);
    size_t off = 0;
    bool go = true;

    CHECK(copy);
    memcpy(copy, in, n);
    while (off < n) {
        ringo__ws_event ev;
        size_t used = 99999;
        int ret = ringo__ws_feed(p, copy + off, n - off, &used, &ev);
        CHECKF(used <= n - off, "used %zu of %zu", used, n - off);
        CHECK(p->msg_cap <= p->max_message + 1);
        off += used;
        if (ret < 0) {
            size_t again = 1;
            putf(log, "!%lu", (unsigned long)-ret);
            CHECK(ringo__ws_feed(p, copy, n, &again, &ev) == ret && again == 0);
            go = false;
            break;
        }
        if (ret == 0) {
            CHECKF(off == n, "0 returned with %zu bytes left", n - off);
            break;
        }
        CHECK(ret == 1);
        log_event(log, p, &ev, take);
    }
    free(copy);
    return go;
}

/* Parses in[0..n) cut at the given offsets (ascending) into a fresh log. */
static void parse_cut(const buf *in, const size_t *cuts, size_t ncuts, limits lim, buf *log)
{
    ringo__ws_parser p;
    size_t from = 0;
    bool go = true;

    log->len = 0;
    ringo__ws_parser_init(&p, lim.max_message, lim.max_frame);
    for (size_t i = 0; go && i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : in->len;
        go = feed(&p, in->p + from, to - from, log, lim.take);
        from = to;
    }
    ringo__ws_parser_free(&p);
    ringo__ws_parser_free(&p); /* twice is harmless */
}

static void same(const buf *whole, const buf *other, const char *how)
{
    if (whole->len == other->len && memcmp(whole->p, other->p, whole->len) == 0)
        return;
    fprintf(stderr, "events differ when the input is %s:\n whole: %.*s\n other: %.*s\n", how,
            (int)whole->len, (const char *)whole->p, (int)other->len, (const char *)other->p);
    exit(1);
}

/*
 * The events of in, checked to be the same whole, byte by byte and cut in
 * two at every offset (for a long input: at every offset near the start and
 * end and every 251st one between). Returns the log as a NUL-terminated
 * string the caller frees.
 */
static char *events_lim(const buf *in, limits lim)
{
    buf whole = {0}, other = {0};
    size_t *cuts = malloc((in->len + 1) * sizeof(*cuts));

    CHECK(cuts);
    parse_cut(in, NULL, 0, lim, &whole);
    for (size_t i = 0; i < in->len; i++)
        cuts[i] = i + 1;
    parse_cut(in, cuts, in->len ? in->len - 1 : 0, lim, &other);
    same(&whole, &other, "fed one byte at a time");
    for (size_t at = 0; at <= in->len; at++) {
        if (in->len > 2048 && at > 64 && at + 64 < in->len && at % 251)
            continue;
        parse_cut(in, &at, 1, lim, &other);
        same(&whole, &other, "cut in two");
    }
    lim.take = !lim.take;
    parse_cut(in, NULL, 0, lim, &other);
    same(&whole, &other, "taken by the caller");
    put(&whole, "", 1);
    free(other.p);
    free(cuts);
    return (char *)whole.p;
}

static char *events(const buf *in) { return events_lim(in, (limits){BIG, BIG, false}); }

#define EXPECT_LIM(b, lim, want)                                                                   \
    do {                                                                                           \
        char *got_ = events_lim((b), (lim));                                                       \
        CHECKF(strcmp(got_, (want)) == 0, "got \"%s\", want \"%s\"", got_, (want));                \
        free(got_);                                                                                \
        (b)->len = 0;                                                                              \
    } while (0)
#define EXPECT(b, want) EXPECT_LIM(b, ((limits){BIG, BIG, false}), want)

/* RFC 6455 §5.7, as a client must send them (masked) and a server writes them (not). */
static void test_rfc_examples(void)
{
    static const uint8_t hello_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t pong_masked[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    buf b = {0};
    uint8_t h[RINGO__WS_MAX_HEADER];
    char *big = malloc(65536);

    put(&b, hello_masked, sizeof(hello_masked));
    EXPECT(&b, "T/5:Hello;");
    put(&b, hello, sizeof(hello)); /* unmasked: a server refuses it */
    EXPECT(&b, "!1002");
    put(&b, pong_masked, sizeof(pong_masked));
    EXPECT(&b, "O/5:Hello;");
    frame_s(&b, 0, RINGO__WS_TEXT, "Hel");
    frame_s(&b, 1, RINGO__WS_CONT, "lo");
    EXPECT(&b, "T/5:Hello;");
    frame_s(&b, 1, RINGO__WS_PING, "Hello");
    EXPECT(&b, "P/5:Hello;");

    /* 256 bytes and 64 KiB in one binary frame: 16- and 64-bit lengths. */
    CHECK(big);
    for (size_t i = 0; i < 65536; i++)
        big[i] = (char)('a' + i % 26);
    frame(&b, 1, RINGO__WS_BINARY, big, 256);
    CHECK(b.len == 4 + 4 + 256 && b.p[1] == (0x80 | 126) && b.p[2] == 1 && b.p[3] == 0);
    char *got = events(&b);
    CHECK(strncmp(got, "B/256:", 6) == 0 && memcmp(got + 6, big, 256) == 0);
    free(got);
    b.len = 0;
    frame(&b, 1, RINGO__WS_BINARY, big, 65536);
    CHECK(b.len == 10 + 4 + 65536 && b.p[1] == (0x80 | 127) && b.p[7] == 1 && b.p[8] == 0);
    got = events(&b);
    CHECK(strncmp(got, "B/65536:", 8) == 0 && memcmp(got + 8, big, 65536) == 0);
    CHECK(strcmp(got + 8 + 65536, ";") == 0);
    free(got);
    b.len = 0;

    /* The writer produces the RFC's unmasked headers byte for byte. */
    CHECK(ringo__ws_frame_header(h, RINGO__WS_TEXT, true, 5) == 2);
    CHECK(memcmp(h, hello, 2) == 0);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_TEXT, false, 3) == 2 && h[0] == 0x01 && h[1] == 3);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_CONT, true, 2) == 2 && h[0] == 0x80 && h[1] == 2);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_PING, true, 5) == 2 && h[0] == 0x89);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_BINARY, true, 256) == 4);
    CHECK(memcmp(h, "\x82\x7e\x01\x00", 4) == 0);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_BINARY, true, 65536) == 10);
    CHECK(memcmp(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_BINARY, true, 125) == 2 && h[1] == 125);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_BINARY, true, 126) == 4 && h[1] == 126);
    CHECK(ringo__ws_frame_header(h, RINGO__WS_BINARY, true, 65535) == 4 && h[1] == 126);
    free(big);
    free(b.p);
}

/* Control frames between fragments; empty frames; several messages in one stream. */
static void test_fragments(void)
{
    buf b = {0};

    frame_s(&b, 0, RINGO__WS_TEXT, "ab");
    frame_s(&b, 1, RINGO__WS_PING, "p1");
    frame_s(&b, 0, RINGO__WS_CONT, "");
    frame_s(&b, 1, RINGO__WS_PONG, "");
    frame_s(&b, 0, RINGO__WS_CONT, "cd");
    frame_s(&b, 1, RINGO__WS_PING, "");
    frame_s(&b, 1, RINGO__WS_CONT, "e");
    frame_s(&b, 1, RINGO__WS_BINARY, "");
    frame_s(&b, 1, RINGO__WS_TEXT, "");
    frame_s(&b, 0, RINGO__WS_BINARY, "x");
    frame_s(&b, 1, RINGO__WS_CONT, "");
    frame_s(&b, 1, RINGO__WS_CLOSE, "\x03\xe8");
    EXPECT(&b, "P/2:p1;O/0:;P/0:;T/5:abcde;B/0:;T/0:;B/1:x;C1000/0:;");

    /* A close ends the stream: what follows is ignored, even garbage. */
    frame_s(&b, 1, RINGO__WS_CLOSE, "");
    frame_s(&b, 1, RINGO__WS_TEXT, "after");
    put(&b, "\xff\xff\xff", 3);
    EXPECT(&b, "C1005/0:;");

    /* A close in the middle of a fragmented message is delivered too. */
    frame_s(&b, 0, RINGO__WS_TEXT, "ab");
    frame_s(&b, 1, RINGO__WS_CLOSE, "\x03\xe9going");
    EXPECT(&b, "C1001/5:going;");

    /* Every mask offset: frames of 1 to 19 bytes, one after another. */
    for (size_t n = 1; n < 20; n++)
        frame_s(&b, n == 19, n == 1 ? RINGO__WS_BINARY : RINGO__WS_CONT,
                "0123456789abcdefghij" + 20 - n);
    char *got = events(&b);
    CHECK(strncmp(got, "B/190:", 6) == 0);
    free(got);
    b.len = 0;

    /* Non-minimal lengths are accepted (RFC 6455 §5.2 binds senders only). */
    frame_raw(&b, 0x81, "abc", 3, rfc_mask, 126);
    frame_raw(&b, 0x82, "defg", 4, rfc_mask, 127);
    frame_raw(&b, 0x89, "h", 1, rfc_mask, 126); /* a control frame too */
    EXPECT(&b, "T/3:abc;B/4:defg;P/1:h;");
    free(b.p);
}

/* Each 1002 rule, also when it strikes inside a fragmented message. */
static void test_protocol_errors(void)
{
    static const uint8_t len63[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    buf b = {0};
    char body[126];

    memset(body, 'x', sizeof(body));
    frame_raw(&b, 0x81, "hi", 2, NULL, 0); /* not masked */
    EXPECT(&b, "!1002");
    for (uint8_t rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
        frame_raw(&b, (uint8_t)(0x81 | rsv), "hi", 2, rfc_mask, 0);
        EXPECT(&b, "!1002");
        frame_raw(&b, (uint8_t)(0x89 | rsv), "hi", 2, rfc_mask, 0);
        EXPECT(&b, "!1002");
    }
    for (int op = 3; op < 16; op++) {
        if (op >= RINGO__WS_CLOSE && op <= RINGO__WS_PONG)
            continue;
        frame_raw(&b, (uint8_t)(0x80 | op), "", 0, rfc_mask, 0);
        EXPECT(&b, "!1002");
    }
    for (int op = RINGO__WS_CLOSE; op <= RINGO__WS_PONG; op++) {
        frame_raw(&b, (uint8_t)op, "", 0, rfc_mask, 0); /* FIN clear */
        EXPECT(&b, "!1002");
        frame_raw(&b, (uint8_t)(0x80 | op), body, 126, rfc_mask, 0);
        EXPECT(&b, "!1002");
        frame_raw(&b, (uint8_t)(0x80 | op), body, 126, rfc_mask, 127); /* in 64 bits */
        EXPECT(&b, "!1002");
        frame_raw(&b, (uint8_t)(0x80 | op), "\x03\xe8", 2, rfc_mask, 126); /* 2 in 16 bits */
        EXPECT(&b, op == RINGO__WS_CLOSE  ? "C1000/0:;"
                   : op == RINGO__WS_PING ? "P/2:\x03\xe8;"
                                          : "O/2:\x03\xe8;");
        frame_raw(&b, (uint8_t)(0x80 | op), body, 125, rfc_mask, 127); /* 125 in 64 bits */
        char *got = events(&b);
        CHECK(op == RINGO__WS_CLOSE ? strcmp(got, "!1002") == 0 /* code 0x7878 */
                                    : strncmp(got + 1, "/125:xxx", 8) == 0);
        free(got);
        b.len = 0;
    }
    frame_s(&b, 1, RINGO__WS_CONT, "x"); /* nothing to continue */
    EXPECT(&b, "!1002");
    frame_s(&b, 0, RINGO__WS_CONT, "x");
    EXPECT(&b, "!1002");
    frame_s(&b, 1, RINGO__WS_TEXT, "done");
    frame_s(&b, 1, RINGO__WS_CONT, "x"); /* the message is over */
    EXPECT(&b, "T/4:done;!1002");
    frame_s(&b, 0, RINGO__WS_TEXT, "a");
    frame_s(&b, 1, RINGO__WS_TEXT, "b"); /* a new message while one is open */
    EXPECT(&b, "!1002");
    frame_s(&b, 0, RINGO__WS_BINARY, "a");
    frame_s(&b, 1, RINGO__WS_PING, "p");
    frame_s(&b, 0, RINGO__WS_BINARY, "b");
    EXPECT(&b, "P/1:p;!1002");
    put(&b, len63, sizeof(len63));
    EXPECT(&b, "!1002");
    frame_s(&b, 1, RINGO__WS_CLOSE, "\x03"); /* a 1-byte close body */
    EXPECT(&b, "!1002");
    frame_raw(&b, 0x88, "\x03", 1, rfc_mask, 127); /* also in 64 bits */
    EXPECT(&b, "!1002");
    free(b.p);
}

static void test_close_codes(void)
{
    static const unsigned codes[] = {0,    1,    999,  1000, 1001, 1002, 1003, 1004, 1005, 1006,
                                     1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016,
                                     2000, 2999, 3000, 3999, 4000, 4999, 5000, 65535};
    buf b = {0};
    char want[64];
    uint8_t out[RINGO__WS_CLOSE_FRAME_MAX];

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        unsigned c = codes[i];
        bool valid =
            (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
        char body[4] = {(char)(c >> 8), (char)c, 'o', 'k'};
        CHECK(ringo__ws_close_code_valid(c) == valid);
        frame(&b, 1, RINGO__WS_CLOSE, body, 4);
        snprintf(want, sizeof(want), valid ? "C%u/2:ok;" : "!1002", c);
        EXPECT(&b, want);
        frame(&b, 1, RINGO__WS_CLOSE, body, 2);
        snprintf(want, sizeof(want), valid ? "C%u/0:;" : "!1002", c);
        EXPECT(&b, want);
        /* The writer sends a valid code with its reason, an invalid one not at all. */
        size_t n = ringo__ws_close_frame(out, c, "ok", 2);
        CHECK(out[0] == 0x88 && n == (valid ? 6u : 2u) && out[1] == n - 2);
        CHECK(!valid || (out[2] == (uint8_t)(c >> 8) && out[3] == (uint8_t)c));
    }
    frame_s(&b, 1, RINGO__WS_CLOSE, "\x03\xe8\xc3\xa9t\xc3\xa9"); /* "été" */
    EXPECT(&b, "C1000/5:\xc3\xa9t\xc3\xa9;");
    frame_s(&b, 1, RINGO__WS_CLOSE, "\x03\xe8\xc0\x80"); /* an overlong reason */
    EXPECT(&b, "!1007");
    frame_s(&b, 1, RINGO__WS_CLOSE, "\x03\xe8\xc3"); /* a cut reason */
    EXPECT(&b, "!1007");
    free(b.p);
}

static void test_close_writer(void)
{
    uint8_t out[RINGO__WS_CLOSE_FRAME_MAX];
    char reason[300];
    size_t n;

    n = ringo__ws_close_frame(out, 1000, NULL, 0);
    CHECK(n == 4 && memcmp(out, "\x88\x02\x03\xe8", 4) == 0);
    n = ringo__ws_close_frame(out, 1005, "x", 1); /* no status: no body */
    CHECK(n == 2 && out[1] == 0);
    n = ringo__ws_close_frame(out, 0, NULL, 0);
    CHECK(n == 2 && out[1] == 0);
    /* 150 times "é" (2 bytes): 123 bytes fit, cut back to 122 on the boundary. */
    for (int i = 0; i < 150; i++)
        memcpy(reason + 2 * i, "\xc3\xa9", 2);
    n = ringo__ws_close_frame(out, 1001, reason, 300);
    CHECK(n == 2 + 2 + 122 && out[1] == 124 && memcmp(out + 4, reason, 122) == 0);
    /* A 4-byte sequence straddling byte 123: 120 ASCII bytes then U+1F600. */
    memset(reason, 'a', 120);
    memcpy(reason + 120, "\xf0\x9f\x98\x80zz", 6);
    n = ringo__ws_close_frame(out, 1000, reason, 126);
    CHECK(n == 2 + 2 + 120);
    n = ringo__ws_close_frame(out, 1000, reason, 123); /* the caller cut the sequence */
    CHECK(n == 2 + 2 + 120);
    memset(reason, 'a', 123);
    n = ringo__ws_close_frame(out, 1000, reason, 123);
    CHECK(n == 127 && out[1] == 125);
    n = ringo__ws_close_frame(out, 1000,
                              "ok\xff"
                              "bad",
                              6); /* invalid bytes are dropped */
    CHECK(n == 6 && memcmp(out + 4, "ok", 2) == 0);

    /* What the writer produces the parser accepts (masked as a client would). */
    buf b = {0};
    n = ringo__ws_close_frame(out, 4001, reason, 200);
    frame(&b, 1, RINGO__WS_CLOSE, out + 2, n - 2);
    char *got = events(&b);
    CHECK(strncmp(got, "C4001/123:", 10) == 0);
    free(got);
    free(b.p);
}

static void test_utf8(void)
{
    buf b = {0};

    /* "€" (E2 82 AC) and "😀" (F0 9F 98 80) cut across three frames. */
    frame_s(&b, 0, RINGO__WS_TEXT, "a\xe2");
    frame_s(&b, 0, RINGO__WS_CONT, "\x82");
    frame_s(&b, 1, RINGO__WS_PING, "");
    frame_s(&b, 0, RINGO__WS_CONT, "\xac\xf0\x9f");
    frame_s(&b, 1, RINGO__WS_CONT, "\x98\x80z");
    EXPECT(&b, "P/0:;T/9:a\xe2\x82\xac\xf0\x9f\x98\x80z;");
    frame_s(&b, 1, RINGO__WS_TEXT,
            "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
            "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\x7f");
    EXPECT(&b, "T/22:\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
               "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\x7f;");

    static const char *bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\x80",     /* overlong 3-byte */
        "\xe0\x9f\xbf",     /* overlong 3-byte */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf0\x80\x80\x80", /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead F5 */
        "\xff",
        "\x80", /* a lone tail */
        "a\xc3"
        "a",            /* a lead without its tail */
        "\xe2\x82",     /* truncated at the end of the message */
        "\xf0\x9f\x98", /* truncated at the end of the message */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* Whole in one frame, then the same bytes one frame each. */
        frame_s(&b, 1, RINGO__WS_TEXT, bad[i]);
        EXPECT(&b, "!1007");
        size_t n = strlen(bad[i]);
        for (size_t k = 0; k < n; k++)
            frame(&b, k + 1 == n, k ? RINGO__WS_CONT : RINGO__WS_TEXT, bad[i] + k, 1);
        EXPECT(&b, "!1007");
        /* Binary is not checked. */
        frame_s(&b, 1, RINGO__WS_BINARY, bad[i]);
        char *got = events(&b);
        CHECK(got[0] == 'B');
        free(got);
        b.len = 0;
    }
    /* The error strikes at the bad byte: before the rest of the frame arrives. */
    {
        ringo__ws_parser p;
        ringo__ws_event ev;
        size_t used;
        frame_s(&b, 1, RINGO__WS_TEXT, "ok\xc0\x80 and more");
        ringo__ws_parser_init(&p, BIG, BIG);
        CHECK(ringo__ws_feed(&p, (char *)b.p, 6 + 3, &used, &ev) == -1007);
        ringo__ws_parser_free(&p);
        b.len = 0;
    }
    /* A truncated sequence is fine while the message goes on, an error when it ends. */
    frame_s(&b, 0, RINGO__WS_TEXT, "\xe2\x82");
    frame_s(&b, 1, RINGO__WS_CONT, "");
    EXPECT(&b, "!1007");
    CHECK(ringo__ws_utf8_valid("", 0) && !ringo__ws_utf8_valid("\xe2\x82", 2));
    CHECK(ringo__ws_utf8_prefix("ab\xe2\x82\xac", 5, 4) == 2);
    CHECK(ringo__ws_utf8_prefix("ab\xe2\x82\xac", 5, 5) == 5);
    free(b.p);
}

/* max_frame and max_message, each at and one past the limit. */
static void test_limits(void)
{
    limits lim = {10, 6, false};
    buf b = {0};

    frame_s(&b, 1, RINGO__WS_TEXT, "123456");
    EXPECT_LIM(&b, lim, "T/6:123456;");
    frame_s(&b, 1, RINGO__WS_TEXT, "1234567");
    EXPECT_LIM(&b, lim, "!1009");
    frame_s(&b, 0, RINGO__WS_TEXT, "12345");
    frame_s(&b, 1, RINGO__WS_CONT, "67890");
    EXPECT_LIM(&b, lim, "T/10:1234567890;");
    frame_s(&b, 0, RINGO__WS_TEXT, "12345");
    frame_s(&b, 1, RINGO__WS_PING, "a control frame does not count");
    frame_s(&b, 0, RINGO__WS_CONT, "67890");
    frame_s(&b, 1, RINGO__WS_CONT, "x");
    EXPECT_LIM(&b, lim, "P/30:a control frame does not count;!1009");
    /* Each message has its own budget. */
    for (int i = 0; i < 3; i++) {
        frame_s(&b, 0, RINGO__WS_BINARY, "12345");
        frame_s(&b, 1, RINGO__WS_CONT, "67890");
    }
    EXPECT_LIM(&b, lim, "B/10:1234567890;B/10:1234567890;B/10:1234567890;");
    /* A huge announced length is refused from the header, before its payload. */
    frame_raw(&b, 0x82, NULL, 0, rfc_mask, 127);
    b.p[9] = 0xff;
    b.p[2] = 0x7f;
    EXPECT_LIM(&b, lim, "!1009");
    free(b.p);
}

/*
 * Memory stays bounded: the message buffer never outgrows max_message + 1,
 * and a large one is let go once its message was delivered.
 */
static void test_memory(void)
{
    ringo__ws_parser p;
    ringo__ws_event ev;
    buf b = {0};
    size_t used, n;
    char *data = malloc(100000);

    CHECK(data);
    memset(data, 'q', 100000);
    frame(&b, 0, RINGO__WS_BINARY, data, 50000);
    frame(&b, 1, RINGO__WS_CONT, data, 50000);
    frame_s(&b, 1, RINGO__WS_TEXT, "small");
    ringo__ws_parser_init(&p, 100000, 100000);
    CHECK(ringo__ws_feed(&p, (char *)b.p, b.len, &used, &ev) == 1);
    CHECK(ev.type == RINGO__WS_BINARY && ev.len == 100000 && p.msg_cap == 100001);
    CHECK(ringo__ws_feed(&p, (char *)b.p + used, b.len - used, &n, &ev) == 1);
    CHECK(ev.type == RINGO__WS_TEXT && ev.len == 5 && p.msg_cap <= 4096);
    CHECK(used + n == b.len);
    char *m = ringo__ws_take(&p, &n);
    CHECK(m && n == 5 && strcmp(m, "small") == 0 && !p.msg);
    ringo__free(m);
    ringo__ws_parser_free(&p);

    /* A frame announced as 100000 bytes costs only what has arrived of it. */
    b.len = 0;
    frame(&b, 1, RINGO__WS_BINARY, data, 100000);
    ringo__ws_parser_init(&p, 100000, 100000);
    CHECK(ringo__ws_feed(&p, (char *)b.p, 10 + 4 + 100, &used, &ev) == 0);
    CHECK(p.msg_cap == 256);
    CHECK(ringo__ws_feed(&p, (char *)b.p + used, 1000, &used, &ev) == 0);
    CHECK(p.msg_cap == 2048);
    ringo__ws_parser_free(&p);
    free(data);
    free(b.p);
}

int main(void)
{
    test_rfc_examples();
    test_fragments();
    test_protocol_errors();
    test_close_codes();
    test_close_writer();
    test_utf8();
    test_limits();
    test_memory();
    puts("ws_frame_test: ok");
    return 0;
}
