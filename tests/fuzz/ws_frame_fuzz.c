/*
 * tests/fuzz/ws_frame_fuzz.c - libFuzzer target: the WebSocket frame parser
 * (http/ws/frame.c) on arbitrary client bytes, and the property that its
 * events do not depend on how the input is cut into receive buffers.
 *
 * Input byte 0 picks a split point and a piece size, byte 1 the limits
 * (max_message 64 to 1984 bytes, max_frame a half, third or quarter of it,
 * or equal); the rest is the stream. It is parsed four times - whole, cut
 * in two at the split point, in pieces of the piece size, one byte per
 * buffer - each buffer a fresh heap copy so ASan sees any read past it.
 * Each run records its events (type, close code, payload) and the error
 * that ended it; the four records must be identical, or the target aborts.
 * Two runs take every message's buffer (as a handler that keeps it does),
 * two leave it to the parser. After every call the message buffer must be
 * within max_message + 1 bytes. Build: cmake -DRINGO_FUZZ=ON with CC=clang.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "http/ws/frame.h"
#include "fuzz_log.h"

/* What one run saw, as text: compared byte for byte between runs. */
typedef fuzz_log events;

static void record(events *e, ringo__ws_parser *p, const ringo__ws_event *ev, int take)
{
    char line[64];
    int k = snprintf(line, sizeof(line), "\n%d %u %zu:", ev->type, ev->code, ev->len);

    if (!ev->data || ev->data[ev->len] != '\0')
        abort();
    fuzz_put(e, line, (size_t)k);
    fuzz_put(e, ev->data, ev->len);
    if (take && (ev->type == RINGO__WS_TEXT || ev->type == RINGO__WS_BINARY)) {
        size_t n;
        char *m = ringo__ws_take(p, &n);
        if (!m || n != ev->len || memcmp(m, ev->data, n) != 0)
            abort();
        ringo__free(m);
    }
}

/* Parses one buffer; false once an error ended the stream. */
static int feed(ringo__ws_parser *p, const uint8_t *data, size_t n, events *e, int take)
{
    char *buf = malloc(n ? n : 1);
    size_t off = 0;
    int go = 1;

    memcpy(buf, data, n);
    while (off < n) {
        ringo__ws_event ev;
        size_t used = 0;
        int ret = ringo__ws_feed(p, buf + off, n - off, &used, &ev);
        if (used > n - off || p->msg_cap > p->max_message + 1)
            abort();
        off += used;
        if (ret < 0) {
            char line[32];
            fuzz_put(e, line, (size_t)snprintf(line, sizeof(line), "\nerror %d\n", -ret));
            go = 0;
            break;
        }
        if (ret == 0) {
            if (off != n)
                abort(); /* "more input needed" must have taken every byte */
            break;
        }
        record(e, p, &ev, take);
    }
    free(buf);
    return go;
}

typedef struct limits {
    size_t max_message, max_frame;
} limits;

/* Parses stream[0..size) in buffers ending at `at` and then every `piece` bytes. */
static void run(const uint8_t *stream, size_t size, size_t at, size_t piece, limits lim, int take,
                events *e)
{
    ringo__ws_parser p;
    int go = 1;

    ringo__ws_parser_init(&p, lim.max_message, lim.max_frame);
    if (at)
        go = feed(&p, stream, at, e, take);
    for (size_t off = at; go && off < size; off += piece)
        go = feed(&p, stream + off, size - off < piece ? size - off : piece, e, take);
    if (go)
        fuzz_put(e, "\nend\n", 5);
    ringo__ws_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    events whole = {0}, other = {0};
    const uint8_t *stream = data + 2;
    size_t n = size - 2;
    limits lim;

    if (size < 3)
        return 0;
    lim.max_message = 64 + (size_t)(data[1] & 0x0f) * 128;
    lim.max_frame = lim.max_message / (1 + (size_t)(data[1] >> 4 & 3));
    run(stream, n, 0, n, lim, 0, &whole);
    run(stream, n, (size_t)data[0] * n / 256, n, lim, 1, &other);
    fuzz_same(&whole, &other, "events differ when the input is", "cut in two");
    other.len = 0;
    run(stream, n, 0, (size_t)(data[0] % 64) + 1, lim, 0, &other);
    fuzz_same(&whole, &other, "events differ when the input is", "cut into pieces");
    other.len = 0;
    run(stream, n, 0, 1, lim, 1, &other);
    fuzz_same(&whole, &other, "events differ when the input is", "fed one byte at a time");
    free(whole.p);
    free(other.p);
    return 0;
}
