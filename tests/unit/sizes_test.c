/*
 * Description: size arithmetic at the extremes, without allocating them.
 * The request arena (core/arena.c) refuses SIZE_MAX / 2, 3/4 of SIZE_MAX and
 * SIZE_MAX at once instead of doubling its chunk size to 0 and looping; the
 * connection's output buffer (core/conn.c) refuses a reservation whose end
 * would wrap and one no buffer can hold, in both cases without looping; the
 * response writer (http/response.c) refuses a body length near SIZE_MAX
 * instead of wrapping its size sum and overrunning the buffer; a send of
 * 4 GiB or more is submitted in pieces the 32-bit SQE length can express
 * (4 GiB exactly used to become a 0-byte send, resubmitted forever). An
 * alarm turns a loop into a failure. Exit 0 pass, 1 fail, 77 without io_uring.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/arena.h"
#include "core/conn.c" /* statics: submit_send, SEND_MAX */
#include "http/http_impl.h"

#ifndef SEND_MAX
#define SEND_MAX ((size_t)0x7ffff000) /* the kernel's MAX_RW_COUNT on 4 KiB pages */
#endif

static void test_arena(void)
{
    static const size_t huge[] = {SIZE_MAX / 2, SIZE_MAX / 2 + 2, SIZE_MAX / 4 * 3, SIZE_MAX - 8,
                                  SIZE_MAX};
    ringo__arena a;
    char inline_buf[64];

    ringo__arena_init(&a, inline_buf, sizeof(inline_buf));
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        CHECK(ringo__arena_alloc(&a, huge[i]) == NULL);
        CHECK(ringo__arena_grow(&a, NULL, 0, huge[i]) == NULL);
    }
    CHECK(ringo__arena_dup(&a, "x", SIZE_MAX) == NULL);
    CHECK(ringo__arena_alloc(&a, 100000) != NULL); /* still usable */
    ringo__arena_free(&a);
}

/* A connection on a ring that has only what these paths touch. */
static ringo__server srv;
static ringo__ring ring = {.srv = &srv};

static ringo__conn *fake_conn(void)
{
    ringo__conn *c = calloc(1, sizeof(*c));

    CHECK(c);
    c->ring = &ring;
    c->fd = -1;
    c->heap_idx = UINT32_MAX;
    return c;
}

static void test_reserve(void)
{
    ringo__conn *c = fake_conn();

    CHECK(ringo__conn_reserve(c, 100) != NULL);
    ringo__conn_commit(c, 100);
    CHECK(ringo__conn_reserve(c, SIZE_MAX - 50) == NULL); /* 100 + n wraps */
    CHECK(ringo__conn_reserve(c, SIZE_MAX / 2) == NULL);  /* doubling would wrap */
    CHECK(ringo__conn_reserve(c, SIZE_MAX / 4 * 3) == NULL);
    CHECK(c->out_len == 100 && ringo__conn_reserve(c, 1000) != NULL);
    ringo__free(c->out);
    free(c);
}

static void test_serialize(void)
{
    ringo__conn *c = fake_conn();
    ringo_req *r = calloc(1, sizeof(*r));

    CHECK(r);
    r->conn = c;
    r->status = 200;
    r->keep_alive = true;
    r->rbody = "x";
    r->rbody_len = SIZE_MAX - 8; /* a wrong ringo_resp_body_ref() length */
    CHECK(ringo__resp_serialize(r, c) == -ENOMEM);
    CHECK(c->out_len == 0);
    r->rbody_len = 1;
    CHECK(ringo__resp_serialize(r, c) == 0 && c->out_len > 0);
    ringo__free(c->out);
    free(r);
    free(c);
}

/* The SQE a 4 GiB (and larger) send gets, read back from the SQ unsubmitted. */
static void test_send_4g(void)
{
    static const uint64_t lens[] = {(uint64_t)1 << 32, ((uint64_t)1 << 32) + 10,
                                    ((uint64_t)5 << 32) - 1};
    ringo__conn *c = fake_conn();
    int ret = io_uring_queue_init(8, &ring.uring, 0);

    if (ret < 0) {
        printf("SKIP: io_uring unavailable (%d)\n", ret);
        exit(77);
    }
    c->wbuf = (char *)(uintptr_t)0x10000; /* never read: nothing is submitted */
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct io_uring_sqe *sqe;
        c->w_len = (size_t)lens[i];
        c->w_off = 0;
        submit_send(c);
        sqe = &ring.uring.sq.sqes[(ring.uring.sq.sqe_tail - 1) & ring.uring.sq.ring_mask];
        CHECK(sqe->opcode == IORING_OP_SEND);
        if (sqe->len == 0 || sqe->len > lens[i]) {
            fprintf(stderr, "send of %llu bytes submitted with length %u\n",
                    (unsigned long long)lens[i], sqe->len);
            exit(1);
        }
        CHECK(sqe->len == SEND_MAX);
    }
    io_uring_queue_exit(&ring.uring);
    free(c);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {{"arena", test_arena},
                 {"reserve", test_reserve},
                 {"serialize", test_serialize},
                 {"send_4g", test_send_4g}};

    alarm(60);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        cases[i].fn();
        printf("ok   %s\n", cases[i].name);
    }
    return 0;
}
