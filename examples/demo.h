/*
 * examples/demo.h - what the demo server's files share.
 */
#ifndef RINGO_DEMO_H
#define RINGO_DEMO_H

#include <ringo.h>

/* Query parameter name as a number; dflt when absent or malformed, max when larger. */
uint64_t demo_query_u64(ringo_req *req, const char *name, uint64_t dflt, uint64_t max);

/* Streaming routes (examples/demo_streams.c): SSE, streamed downloads. */
int demo_stream_routes(ringo_app *app);

/* GET /files/{name} from dir (examples/demo_bench_files.c); dir NULL: no route. */
int demo_file_routes(ringo_app *app, const char *dir);

#endif
