/*
 * http/openapi_impl.h - what the app keeps of ringo_app_openapi() (http/openapi.c),
 * and what the files writing the document share: the page (http/docs.c), the
 * operations and schemas from the routes' declarations (http/openapi_ops.c).
 */
#ifndef RINGO_HTTP_OPENAPI_IMPL_H
#define RINGO_HTTP_OPENAPI_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "ringo/json.h"
#include "ringo/openapi.h"
#include "ringo/schema.h"

struct ringo_app;
struct ringo__route;

struct ringo__openapi {
    char *title, *version, *summary, *description; /* copies; title and version never NULL */
    char *json_path, *docs_path;                   /* copies; "" when disabled */
    ringo_openapi_server *servers;                 /* copies */
    unsigned nservers;
    ringo_openapi_tag *tags; /* copies */
    unsigned ntags;
    char *doc; /* the document, written at start (malloc()ed) */
    size_t doc_len;
    char *html; /* the docs page (malloc()ed) */
    size_t html_len;
    bool failed; /* ringo_app_openapi() failed half-way: nothing is written */
};

/* The state of writing one document. */
typedef struct ringo__gen {
    struct ringo_app *app;
    struct ringo__openapi *oa;
    ringo_json_w *w;
    char **op_ids; /* operationIds given so far (they must be unique) */
    unsigned nop_ids;
    const void **models; /* body and response models met: written under components */
    unsigned nmodels;
    const void **schemes; /* security schemes met: written under components */
    unsigned nschemes;
    bool validation;                  /* an operation answers 422: HTTPValidationError is written */
    const struct ringo__route *route; /* the one being written, for messages; NULL: none */
} ringo__gen;

/* http/openapi.c */
void ringo__openapi_free(struct ringo_app *app);
/* Writes app's document (at start): 0, -ENOMEM or -EINVAL (named on stderr). */
int ringo__openapi_build(struct ringo_app *app);
/* The Path Item key of method ("get"), or NULL for a method OpenAPI 3.1 cannot name. */
const char *ringo__openapi_op_method(const char *method);
int ringo__openapi_op_index(const char *method); /* its index among those, or -1 */

/* A security scheme ringo_dep_new() accepts: named, a known kind, reserved zero. */
bool ringo__openapi_security_valid(const ringo_security *s);

/* http/docs.c: writes oa->html (local: Swagger UI's files from docs_path + "/ui"). */
int ringo__openapi_html(struct ringo__openapi *oa, bool local);

/* http/openapi_ops.c */
/* A line on stderr (unless quiet) naming the route being written: why the document fails. */
void ringo__openapi_complain(const ringo__gen *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The model's name under components/schemas: its name, else its C type's. */
const char *ringo__openapi_model_name(const ringo_model *m);
int ringo__openapi_operation(ringo__gen *g, const struct ringo__route *r);
int ringo__openapi_components(ringo__gen *g);
void ringo__openapi_gen_free(ringo__gen *g);

#endif
