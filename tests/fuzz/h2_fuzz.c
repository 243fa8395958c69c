/*
 * tests/fuzz/h2_fuzz.c - libFuzzer target: HTTP/2 frames into a connection's
 * session (http/h2/session.c), past the client preface.
 *
 * The first input byte picks the receive buffer size; the rest is what the
 * client sends after the preface: SETTINGS, HEADERS/CONTINUATION blocks,
 * DATA, RST_STREAM, PING, WINDOW_UPDATE, GOAWAY and anything else. The app
 * has no routes, so every complete stream runs through routing, middleware
 * and the error answer (404, 405, 413, 431) without a coroutine or the pool,
 * and its response goes out through nghttp2 (the output is dropped as if
 * sent). The connection is "lent" so that no SQE is ever prepared. When the
 * input ends every deadline passes (the timer's expiry runs), then the
 * connection closes, and every request must be freed.
 * Build: cmake -DRINGO_FUZZ=ON with CC=clang.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/ring_impl.h"
#include "http/http_impl.h"

static ringo_app *app;
static ringo__ring *ring;

static void setup(void)
{
    ringo_config cfg;

    ringo_config_init(&cfg);
    cfg.max_conns = 4;
    cfg.max_body_bytes = 4096;
    cfg.max_header_bytes = 2048;
    cfg.max_headers = 20;
    cfg.h2_max_streams = 8;
    cfg.h2_max_resets = 4;
    if (ringo_app_new(&app, &cfg) < 0)
        abort();
    ring = ringo__ring_new(&app->srv, 0, -1);
    if (!ring)
        abort();
}

static ringo__conn *conn_new(void)
{
    ringo__conn *c = calloc(1, sizeof(*c) + sizeof(ringo__sess));
    ringo__sess *s;

    if (!c)
        abort();
    c->ring = ring;
    c->fd = -1;
    c->heap_idx = UINT32_MAX;
    c->lent = true;   /* flushes stay in `out`: no send is ever prepared */
    c->refs = 1;      /* freed here, not by the core */
    c->opened = true; /* the protocol is open: closing calls its on_close */
    c->eof = true;    /* a paused receive is never re-armed */
    s = ringo__conn_state(c);
    s->conn = c;
    s->app = app;
    s->cfg = ringo__ring_config(ring);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ringo__conn *c;
    ringo__sess *s;
    size_t piece;

    if (!app)
        setup();
    if (size < 1 || !ringo__h2_available())
        return 0;
    piece = (size_t)data[0] * 16 + 1;
    c = conn_new();
    s = ringo__conn_state(c);
    if (ringo__h2_open(s) < 0)
        abort();
    for (size_t off = 1; off < size && c->state == CONN_OPEN; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        char *buf = malloc(n);
        if (!buf)
            abort();
        memcpy(buf, data + off, n); /* a fresh copy: ASan sees a read past it */
        ringo__h2_on_data(s, buf, n);
        free(buf);
        c->out_len = 0; /* "sent" */
        ringo__h2_on_sent(s);
        c->out_len = 0;
    }
    /* Every deadline passes: what the input left waiting (a header block, a body, a stream
     * behind a shut window, an idle connection) expires; twice, for a 408's reset. */
    for (int i = 0; i < 2 && c->state == CONN_OPEN && s->h2; i++) {
        ring->now += 24u * 3600u * 1000u;
        ringo__h2_on_timer(s, RINGO__HTTP_TIMER_IDLE);
        c->out_len = 0;
        ringo__h2_on_sent(s);
        c->out_len = 0;
    }
    ringo__conn_close(c, RINGO__CLOSE_NOW);
    if (s->h2 || s->h2_reqs)
        abort(); /* a request outlived its connection */
    ringo__timer_remove(ring, c);
    free(c->out);
    free(c->wbuf);
    free(c);
    return 0;
}
