/*
 * tests/fuzz/multipart_fuzz.c - libFuzzer target: the multipart/form-data
 * parser (http/multipart.c) on arbitrary bytes, and the property that what
 * it reports does not depend on how the body is cut into buffers.
 *
 * Input: the first byte picks a split point and a piece size; the bytes up
 * to the first '\n' (among the next 128) are the Content-Type value, the
 * rest is the body. Without that '\n' the Content-Type is
 * "multipart/form-data; boundary=b" and the body is all after the first
 * byte. The body is parsed four times - whole, cut in two at the split
 * point, in pieces of the piece size, one byte per buffer - each buffer a
 * fresh copy, so ASan sees any read past it. Each run records its events:
 * part begins (index, name, filename, type), the part's data (merged: how
 * spans are cut may differ), part ends and the final result. The four
 * records must be identical, or the target aborts. Limits are small so they
 * are reached, and the callbacks stop the parser the way the glue will: at
 * a part named "stop" and past 512 data bytes in a part (a field limit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"
#include "fuzz_log.h"

#define FIELD_MAX 512

/* What one run saw, as text: compared byte for byte between runs. */
typedef struct events {
    fuzz_log log;
    int in_data;
    size_t part_bytes;
} events;

/* Ends a run of data: its length goes after it, so runs compare whole. */
static void close_data(events *e)
{
    if (e->in_data)
        fuzz_put(&e->log, "|", 1);
    e->in_data = 0;
}

static int on_begin(void *ud, const ringo__mp_part *part)
{
    events *e = ud;
    char line[32];

    close_data(e);
    fuzz_put(&e->log, line, (size_t)snprintf(line, sizeof(line), "\nB%u", part->index));
    fuzz_put_str(&e->log, 'N', part->name.ptr, part->name.len);
    if (part->filename.ptr)
        fuzz_put_str(&e->log, 'F', part->filename.ptr, part->filename.len);
    fuzz_put_str(&e->log, 'T', part->content_type.ptr, part->content_type.len);
    e->part_bytes = 0;
    if (part->name.len == 4 && memcmp(part->name.ptr, "stop", 4) == 0)
        return -ECANCELED;
    return 0;
}

static int on_data(void *ud, const char *p, size_t n)
{
    events *e = ud;
    size_t room = FIELD_MAX - e->part_bytes;

    if (n == 0)
        abort(); /* the contract: never empty */
    if (!e->in_data)
        fuzz_put(&e->log, "\nD", 2);
    e->in_data = 1;
    fuzz_put(&e->log, p, n < room ? n : room);
    e->part_bytes += n < room ? n : room;
    return n > room ? -EFBIG : 0;
}

static int on_end(void *ud)
{
    events *e = ud;

    close_data(e);
    fuzz_put(&e->log, "\nE", 2);
    return 0;
}

static const ringo__mp_callbacks cbs = {on_begin, on_data, on_end};

/* Parses body[0..n) in pieces of `piece` bytes, or (piece 0) as [0, at) and [at, n); finishes. */
static void run(ringo_str boundary, const uint8_t *body, size_t n, size_t piece, size_t at,
                events *e)
{
    ringo__mp_limits lim = {.max_parts = 8, .max_header_bytes = 256, .max_headers = 4};
    ringo__mp p;
    int rc = 0, prev = 0;
    char line[48];

    if (ringo__mp_init(&p, boundary, &lim, &cbs, e) < 0)
        abort(); /* ringo__mp_boundary() accepted it */
    for (size_t off = 0; off < n && rc >= 0;) {
        size_t k = piece ? piece : (off < at ? at : n) - off;
        char *copy;

        k = k < n - off ? k : n - off;
        copy = malloc(k);
        if (!copy)
            abort();
        memcpy(copy, body + off, k);
        rc = ringo__mp_feed(&p, copy, k);
        free(copy);
        if (rc < prev && rc >= 0)
            abort(); /* once complete, the body stays complete */
        prev = rc;
        off += k;
    }
    if (rc >= 0)
        rc = ringo__mp_finish(&p);
    if (rc >= 0 && rc != 0)
        abort();
    close_data(e);
    fuzz_put(&e->log, line,
             (size_t)snprintf(line, sizeof(line), "\nR%d %d", rc, ringo__mp_status(rc)));
    ringo__mp_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    events whole = {0}, other = {0};
    ringo_str ct = RINGO_STR_LIT("multipart/form-data; boundary=b"), boundary;
    const uint8_t *body, *nl;
    size_t n;

    if (size < 1)
        return 0;
    nl = memchr(data + 1, '\n', size - 1 < 128 ? size - 1 : 128);
    body = nl ? nl + 1 : data + 1;
    if (nl)
        ct = (ringo_str){(const char *)data + 1, (size_t)(nl - data - 1)};
    n = size - (size_t)(body - data);
    if (ringo__mp_boundary(ct, &boundary) < 0)
        return 0;
    run(boundary, body, n, 0, n, &whole);
    run(boundary, body, n, 0, (size_t)data[0] * n / 256, &other);
    fuzz_same(&whole.log, &other.log, "parse differs when the body is", "cut in two");
    other.log.len = 0;
    run(boundary, body, n, (size_t)(data[0] % 64) + 1, 0, &other);
    fuzz_same(&whole.log, &other.log, "parse differs when the body is", "cut into pieces");
    other.log.len = 0;
    run(boundary, body, n, 1, 0, &other);
    fuzz_same(&whole.log, &other.log, "parse differs when the body is", "fed one byte at a time");
    free(whole.log.p);
    free(other.log.p);
    return 0;
}
