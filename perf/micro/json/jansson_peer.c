/* perf/micro/json/jansson_peer.c - jansson: json_loadb() builds the tree, json_decref() frees it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "peers.h"

size_t peer_jansson(const char *doc, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(doc, len, 0, &err);
    size_t acc;

    if (!v) {
        fprintf(stderr, "jansson: %s at %d\n", err.text, err.position);
        exit(1);
    }
    acc = json_object_size(v);
    json_decref(v);
    return acc;
}
