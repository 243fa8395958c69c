/*
 * http/chunked.h - ringo's own decoder for chunked request bodies.
 *
 * (Placeholder: the decoder state lives here; see chunked.c.)
 */
#ifndef RINGO_HTTP_CHUNKED_H
#define RINGO_HTTP_CHUNKED_H

#include <stdint.h>

typedef struct ringo__chunked {
    uint8_t state;
} ringo__chunked;

#endif
