/* perf/micro/json/jsonc_peer.c - json-c: json_tokener_parse_ex() on a reused
 * tokener builds the tree, json_object_put() frees it. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "peers.h"

size_t peer_jsonc(const char *doc, size_t len)
{
    static struct json_tokener *tok;
    struct json_object *v;
    size_t acc;

    if (!tok && !(tok = json_tokener_new()))
        exit(1);
    json_tokener_reset(tok);
    v = json_tokener_parse_ex(tok, doc, (int)len);
    if (!v || json_tokener_get_error(tok) != json_tokener_success) {
        fprintf(stderr, "json-c: %s\n", json_tokener_error_desc(json_tokener_get_error(tok)));
        exit(1);
    }
    acc = (size_t)json_object_object_length(v);
    json_object_put(v);
    return acc;
}
