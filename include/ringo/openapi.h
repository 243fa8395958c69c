/*
 * ringo/openapi.h - the OpenAPI 3.1 document of an app, and its docs page.
 *
 * ringo_app_openapi() asks the app to describe itself: at ringo_app_start(),
 * once every route is registered, ringo writes one OpenAPI 3.1 document from
 * what the routes declare (ringo/schema.h: parameters, body models,
 * responses, tags, summaries; the security schemes of the dependencies they
 * need) and serves it as a fixed body at json_path ("/openapi.json"), so a
 * request for it costs what a static string costs. A route that declares
 * nothing is listed too, with its path parameters as strings. Static mounts,
 * WebSocket routes, "*" routes, methods OpenAPI 3.1 cannot name and the
 * document's own routes are left out (as FastAPI leaves out mounts and
 * WebSockets).
 *
 * docs_path ("/docs") answers an HTML page running Swagger UI on the
 * document, like FastAPI's /docs. Swagger UI's script and style sheet come
 * from ui_dir when it is set (a local copy of the npm package
 * swagger-ui-dist, served by ringo under docs_path + "/ui/" through
 * ringo_static()), else from the jsdelivr CDN, as FastAPI does.
 */
#ifndef RINGO_OPENAPI_H
#define RINGO_OPENAPI_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"
#include "ringo/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry of ringo_openapi_opts.servers (OpenAPI's Server Object). */
typedef struct ringo_openapi_server {
    const char *url;         /* "https://api.example.com/v1" or "/v1" */
    const char *description; /* NULL: none */
} ringo_openapi_server;

/* One entry of ringo_openapi_opts.tags (OpenAPI's Tag Object): its description and order. */
typedef struct ringo_openapi_tag {
    const char *name;
    const char *description; /* NULL: none */
} ringo_openapi_tag;

/* ringo_security.kind: how the client presents its credential. */
typedef enum ringo_security_kind {
    RINGO_SECURITY_BEARER = 1, /* "Authorization: Bearer <token>" (http, scheme bearer) */
    RINGO_SECURITY_BASIC,      /* "Authorization: Basic <user:password>" (http, scheme basic) */
    RINGO_SECURITY_API_KEY,    /* a key in a header, query parameter or cookie (apiKey) */
} ringo_security_kind;

/*
 * A security scheme (OpenAPI's Security Scheme Object): what a dependency
 * that checks credentials reads, given through ringo_dep_opts.security
 * (ringo/deps.h). Every operation whose route needs that dependency,
 * directly or through others, lists the scheme as its security requirement,
 * and Swagger UI offers to fill it in ("Authorize"). It documents only: the
 * dependency still does the checking. Borrowed, not copied: it must stay
 * valid until ringo_app_free() (declare it static const).
 */
typedef struct ringo_security {
    const char *name; /* its key under components/securitySchemes ("HTTPBearer", FastAPI's) */
    ringo_security_kind kind;
    const char *bearer_format; /* RINGO_SECURITY_BEARER: a hint such as "JWT"; NULL: none */
    ringo_loc in;              /* RINGO_SECURITY_API_KEY: RINGO_LOC_HEADER, _QUERY or _COOKIE */
    const char *key_name;      /* RINGO_SECURITY_API_KEY: the header, parameter or cookie */
    const char *description;   /* NULL: none */
    uint64_t reserved[2];      /* zero: room for later options */
} ringo_security;

/* The jsdelivr URL Swagger UI's files come from without ui_dir (FastAPI's choice). */
#define RINGO_OPENAPI_CDN "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

/*
 * Options. Zeroed means the defaults; every string and array is copied. The
 * reserved words must be zero (ringo/app.h, ABI).
 */
typedef struct ringo_openapi_opts {
    const char *title;                   /* info.title; NULL: "ringo" */
    const char *version;                 /* info.version, the API's own version; NULL: "0.1.0" */
    const char *summary;                 /* info.summary; NULL: none */
    const char *description;             /* info.description (CommonMark); NULL: none */
    const char *json_path;               /* where the document is served; NULL: "/openapi.json";
                                            "": nowhere, and no docs page either */
    const char *docs_path;               /* the Swagger UI page; NULL: "/docs"; "": none */
    const char *ui_dir;                  /* a swagger-ui-dist directory to serve Swagger UI's files
                                            from (docs_path + "/ui/"); NULL: RINGO_OPENAPI_CDN */
    const ringo_openapi_server *servers; /* ended by {NULL}; NULL: none listed */
    const ringo_openapi_tag *tags;       /* ended by {NULL}; NULL: none described */
    uint64_t reserved[4];                /* zero: room for later options */
} ringo_openapi_opts;

/*
 * Describes the app in OpenAPI 3.1 (opts NULL: the defaults). Registers
 * GET json_path and docs_path now (ringo_route() rules: -EEXIST when a route
 * is there) and, with ui_dir, mounts it (ringo_static()); the document
 * itself is written at ringo_app_start(), which fails with the error of
 * writing it: -ENOMEM, or -EINVAL (named on stderr) for two models or two
 * security schemes of one name, or an operation_id given twice. Call once,
 * before ringo_app_start(). json_path "" registers nothing (the document is
 * still written, for ringo_app_openapi_json()). Returns 0; -EINVAL (app
 * NULL, a path not starting with '/' or holding '{', ui_dir "", nonzero
 * reserved); -EALREADY (called before); -EBUSY (after start); -EEXIST;
 * -ENOMEM; or ringo_static()'s error for ui_dir (-ENOENT, -ENOTDIR, -EACCES).
 */
RINGO_API int ringo_app_openapi(ringo_app *app, const ringo_openapi_opts *opts);

/*
 * The document written at start (NUL-terminated JSON, owned by the app,
 * valid until ringo_app_free()), its length in *len when len is not NULL;
 * NULL before start or without ringo_app_openapi(). For tests and for
 * writing the document to a file.
 */
RINGO_API const char *ringo_app_openapi_json(const ringo_app *app, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
