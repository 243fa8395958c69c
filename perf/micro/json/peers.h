/*
 * perf/micro/json/peers.h - the peer parsers of micro_json_bench, each in
 * its own file: jansson and json-c both declare json_object and json_type,
 * so one translation unit cannot include both headers.
 *
 * Each call parses doc[0..len) into the library's tree and frees it;
 * returns a number taken from the tree (so no work can be skipped), and
 * exits the process when the document does not parse.
 */
#ifndef RINGO_PERF_JSON_PEERS_H
#define RINGO_PERF_JSON_PEERS_H

#include <stddef.h>

size_t peer_jansson(const char *doc, size_t len);
size_t peer_jsonc(const char *doc, size_t len);

#endif
