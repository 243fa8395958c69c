/*
 * examples/demo.h - what the demo server's files share.
 */
#ifndef RINGO_DEMO_H
#define RINGO_DEMO_H

#include <ringo.h>

/* Query parameter name as a number; dflt when absent or malformed, max when larger. */
uint64_t demo_query_u64(ringo_req *req, const char *name, uint64_t dflt, uint64_t max);

/* One counter of a JSON object. */
typedef struct demo_count {
    const char *key;
    int64_t value;
} demo_count;

/* Answers status with the object {"key":value,...} of c[0..n) (ringo/json.h). */
int demo_json_counts(ringo_req *req, int status, const demo_count *c, size_t n);

/* Streaming routes (examples/demo_streams.c): SSE, streamed downloads. */
int demo_stream_routes(ringo_app *app);

/* WebSocket routes (examples/demo_ws.c): echo, and a chat room across rings. */
int demo_ws_routes(ringo_app *app);
/* /static/ (a ringo_static() mount of static_dir, its cache trusted cache_valid_ms without
 * a statx, RINGO_STATIC_* flags added) and /download/{name} (examples/demo_files.c). */
int demo_file_routes(ringo_app *app, const char *static_dir, uint32_t cache_valid_ms,
                     unsigned flags);

/* demo_file_routes() flag beside the RINGO_STATIC_* ones: no precompressed variants. */
#define DEMO_STATIC_NO_VARIANTS (1u << 31)
/* Compressed routes (examples/demo_compress.c): /lorem, /sync/lorem, /json64k. */
int demo_compress_routes(ringo_app *app);
/* GET /files/{name} from dir (examples/demo_bench_files.c); dir NULL: no route. */
int demo_bench_file_routes(ringo_app *app, const char *dir);

/* Declared routes with a JSON body model (examples/demo_products.c): /products... */
int demo_product_routes(ringo_app *app);

/* The TechEmpower database test types (examples/demo_tfb.c); dsn: the --pg flag or NULL
 * (libpq's PG* environment variables). Without the PostgreSQL module: no routes. */
int demo_tfb_routes(ringo_app *app, const char *dsn);
/* The same test types for async handlers at /db, /queries, /fortunes, /updates,
 * /cached-queries, plus /pg/sleep and /pg/stats (examples/demo_tfb_async.c). */
int demo_tfb_async_routes(ringo_app *app, const char *dsn);
/* TFB's queries=/count= rule: missing, empty, not a number or 0 is 1, above 500 is 500. */
int demo_tfb_count(ringo_req *req, const char *name);

#endif
