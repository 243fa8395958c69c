/*
 * http/schema_impl.h - declared routes (ringo/schema.h): what registration
 * keeps, and the validation that runs before a declared route's handler.
 */
#ifndef RINGO_HTTP_SCHEMA_IMPL_H
#define RINGO_HTTP_SCHEMA_IMPL_H

#include <regex.h>
#include <stdbool.h>

#include "ringo.h"

/* A field's compiled pattern. */
typedef struct ringo__rx {
    const ringo_field *f;
    regex_t re;
} ringo__rx;

/* The app's compiled patterns, sorted by field address (one per field, however
 * many routes share its model). */
typedef struct ringo__schemas {
    ringo__rx *rx;
    unsigned n, cap;
} ringo__schemas;

/*
 * http/schema.c. Checks a route's declaration (label names it in messages,
 * pattern is the route's path pattern) and compiles its patterns into the
 * app: 0, -EINVAL (a line on stderr says why) or -ENOMEM.
 */
int ringo__spec_add(ringo_app *app, const char *label, const char *pattern,
                    const ringo_route_opts *opts);
void ringo__schemas_free(ringo_app *app);
/* Checks a model alone (ringo_model_parse()): 0 or -EINVAL, quietly. */
int ringo__model_check(const ringo_model *m);
/* The compiled pattern of f, or NULL when f was not registered. */
const regex_t *ringo__field_regex(const ringo_app *app, const ringo_field *f);
/* The size of a value of f's type in its C struct. */
size_t ringo__type_size(const ringo_field *f);
/* Number of fields of m (up to the zeroed entry). */
unsigned ringo__model_nfields(const ringo_model *m);

/*
 * http/validate.c. Validates a declared route's request (ring context, before
 * dependencies): 0 with the values in the request; RINGO_EVALIDATION with the
 * errors recorded; RINGO_EHTTP (415, 413 answered); -ENOMEM.
 */
int ringo__validate(ringo_req *r);

#endif
