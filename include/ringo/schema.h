/*
 * ringo/schema.h - declared routes: typed parameters and JSON body models.
 *
 * A route may carry a declaration (ringo_route_opts.spec) of its inputs:
 * path, query, header and cookie parameters, and a JSON body model. ringo
 * checks the request against it before any dependency or the handler runs
 * (RINGO_SYNC and RINGO_ASYNC routes alike); a request that fails gets 422
 * with every error in pydantic v2's shape (at most RINGO_MAX_ERRORS), as
 * FastAPI sends it:
 *
 *   {"detail":[{"type":"greater_than","loc":["body","items",2,"price"],
 *               "msg":"Input should be greater than 0","input":-1,
 *               "ctx":{"gt":0}}]}
 *
 * The handler receives the values converted into the application's own C
 * structs, which the declaration describes field by field (offsetof()).
 * Both structs live in the request arena; strings point into the request
 * (or the arena when they had escapes) and live as long as it:
 *
 *   struct product { ringo_str name; double price; bool has_dims; struct dims dims; };
 *   const struct product *p = RINGO_BODY(req, struct product);
 *
 * The same declarations are what OpenAPI is generated from.
 *
 * Ownership: a declaration (ringo_route_spec and every model, field, string
 * and array it points to) is borrowed, not copied: it must stay valid and
 * unchanged until ringo_app_free(). Declare them `static const` at file
 * scope. Registration checks a declaration whole (-EINVAL, with a line on
 * stderr naming the route and field) and compiles its patterns once.
 */
#ifndef RINGO_SCHEMA_H
#define RINGO_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"
#include "ringo/json.h"
#include "ringo/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many errors are reported for one request; later ones are dropped. */
#define RINGO_MAX_ERRORS 64

/*
 * A value's type, and the C type of the member that receives it:
 *   RINGO_STRING  ringo_str     (UTF-8; lengths count code points, as pydantic does)
 *   RINGO_INT     int64_t
 *   RINGO_NUMBER  double
 *   RINGO_BOOL    bool
 *   RINGO_ENUM    int           (the index of the value in .values)
 *   RINGO_OBJECT  the model's C struct, embedded (body fields only)
 *   RINGO_ARRAY   ringo_array   (body fields only)
 * 0 is no type: the zeroed entry that ends a field list.
 */
typedef enum ringo_type {
    RINGO_STRING = 1,
    RINGO_INT,
    RINGO_NUMBER,
    RINGO_BOOL,
    RINGO_ENUM,
    RINGO_OBJECT,
    RINGO_ARRAY,
} ringo_type;

/* An array's elements, in the request arena: len values of the item type's C type. */
typedef struct ringo_array {
    void *items;
    size_t len;
} ringo_array;

/*
 * A field's default, used when the field is absent. has says there is one;
 * the member that counts is the one of the field's type: b (RINGO_BOOL), i
 * (RINGO_INT), d (RINGO_NUMBER), s (RINGO_STRING: NUL-terminated; RINGO_ENUM:
 * one of the values). RINGO_ARRAY: an empty array (the other members unused).
 * RINGO_OBJECT cannot have a default. Write it with the RINGO_DEFAULT_*
 * macros below.
 */
typedef struct ringo_default {
    bool has;
    bool b;
    int64_t i;
    double d;
    const char *s;
} ringo_default;

/* ringo_field.flags */
#define RINGO_F_OPTIONAL 1u   /* may be absent (no default): the set member says */
#define RINGO_F_NULLABLE 2u   /* accepts null: the set member is false then */
#define RINGO_F_DEPRECATED 4u /* OpenAPI: deprecated (still accepted) */

/*
 * One value's declaration: a parameter, a field of a body model, or the
 * items of an array (then name, in, offset, set, flags and dflt are
 * unused). Zero means "no constraint" for every constraint member. Which
 * members apply depends on the type; a member set for a type it does not
 * apply to is -EINVAL at registration.
 *
 * Presence. A field is required unless it has a default or RINGO_F_OPTIONAL.
 * A required field that is absent is a "missing" error; an absent field
 * with a default gets the default. A field that is RINGO_F_OPTIONAL (absent
 * allowed, no default) or RINGO_F_NULLABLE (null allowed) must name a bool
 * member of the struct with RINGO_SET_AT(): ringo sets it true when a value
 * was given (or the default applied) and false otherwise, and then leaves
 * the value member zeroed. Registration refuses such a field without one,
 * so "absent" can never be read as a zero that looks like a real value.
 */
typedef struct ringo_field {
    const char *name; /* JSON member name, or parameter name (headers: any case) */
    ringo_type type;
    ringo_loc in;            /* parameters: RINGO_LOC_PATH/QUERY/HEADER/COOKIE; body: unused */
    size_t offset;           /* offset of the value member: RINGO_AS_*() set it */
    size_t size;             /* sizeof the value member: RINGO_AS_*() set it; 0: unchecked */
    size_t set;              /* RINGO_SET_AT(): offset + 1 of a bool member; 0: none */
    unsigned flags;          /* RINGO_F_* */
    const char *description; /* OpenAPI */
    ringo_default dflt;
    /* RINGO_INT, RINGO_NUMBER (RINGO_GE() ...: integer bounds beyond 2^53 are rounded) */
    bool has_ge, has_gt, has_le, has_lt;
    double ge, gt, le, lt;
    double multiple_of; /* 0: none */
    /* RINGO_STRING: lengths in code points (max 0: no limit); pattern: POSIX extended
       regular expression (regcomp(REG_EXTENDED), not ECMA-262), searched anywhere in the
       value like pydantic's unless anchored with ^ and $ */
    size_t min_length, max_length;
    const char *pattern;
    /* RINGO_ENUM: the allowed strings, NULL-terminated */
    const char *const *values;
    /* RINGO_OBJECT: the model of the embedded struct */
    const struct ringo_model *model;
    /* RINGO_ARRAY: the items' declaration; item counts (max 0: no limit) */
    const struct ringo_field *items;
    size_t min_items, max_items;
    uint64_t reserved[4]; /* zero: room for later options (ringo/app.h, ABI) */
} ringo_field;

/* ringo_model.flags: an unknown member is "extra_forbidden" (default: ignored). */
#define RINGO_MODEL_FORBID_EXTRA 1u

/*
 * A JSON object model, or the parameters of a route (fields with .in). The
 * C struct has size bytes; ringo zeroes it and fills the fields. fields ends
 * with a zeroed entry ({0}). name is the OpenAPI schema name ("Product").
 * c_type is the C type's name as RINGO_MODEL_OF() spells it, checked by
 * RINGO_BODY() and RINGO_PARAMS().
 */
typedef struct ringo_model {
    const char *name;
    const char *c_type;
    size_t size;
    const ringo_field *fields;
    unsigned flags; /* RINGO_MODEL_* */
    const char *description;
    uint64_t reserved[2];
} ringo_model;

/*
 * A response of the route, for OpenAPI (ringo does not check what the
 * handler sends). The list ends with a zeroed entry (status 0). model:
 * the body's schema (an object), or schema for anything else (e.g. an
 * array of a model); both NULL: no body. content_type NULL: application/json.
 */
typedef struct ringo_response_spec {
    int status;
    const char *description;
    const ringo_model *model;
    const ringo_field *schema;
    const char *content_type;
    uint64_t reserved[2];
} ringo_response_spec;

/* ringo_route_spec.flags */
#define RINGO_SPEC_DEPRECATED 1u    /* OpenAPI: the operation is deprecated */
#define RINGO_SPEC_BODY_OPTIONAL 2u /* an empty or null body: RINGO_BODY() is NULL */
#define RINGO_SPEC_HIDDEN 4u        /* OpenAPI: left out (FastAPI's include_in_schema=False) */

/*
 * A route's declaration, given through ringo_route_opts.spec.
 *
 * params: a model whose fields have .in (each path parameter must appear in
 * the pattern). body: a JSON object model; the request's Content-Type must
 * be application/json or application/<x>+json (else 415), its body one JSON
 * object (RFC 8259, strict; duplicate keys rejected; nesting at most
 * RINGO_JSON_MAX_DEPTH). A body route cannot be RINGO_ROUTE_STREAM_BODY.
 * The rest is for OpenAPI: responses (status 0 ends; NULL: 200 only), tags
 * (NULL-terminated), and the texts.
 */
typedef struct ringo_route_spec {
    const ringo_model *params;
    const ringo_model *body;
    const char *body_description;
    const ringo_response_spec *responses;
    const char *summary;
    const char *description;
    const char *const *tags;
    const char *operation_id;
    unsigned flags; /* RINGO_SPEC_* */
    uint64_t reserved[4];
} ringo_route_spec;

/*
 * The route's validated parameters (the params model's struct) or body (the
 * body model's struct), in the request arena; NULL when the route declares
 * none (or the body is optional and empty). When type is not NULL it must
 * equal the model's c_type, else NULL and a message on stderr: use
 * RINGO_PARAMS(req, struct p) and RINGO_BODY(req, struct b), which pass the
 * C type's name.
 */
RINGO_API void *ringo_req_params_value(ringo_req *req, const char *type);
RINGO_API void *ringo_req_body_value(ringo_req *req, const char *type);

/*
 * Checks and converts the JSON text json/len into a new instance of model
 * (request arena), the way a declared body is: on success 0 and *out set;
 * else RINGO_EVALIDATION with the errors recorded under loc ["body", ...]
 * (the handler returns it and the client gets 422), -EINVAL (req, model,
 * json or out NULL, or a model registration would refuse), -E2BIG (the
 * converted values would take more than 16 times len plus 64 KiB), or
 * -ENOMEM.
 * For JSON that does not come as the route's body (a multipart part, a
 * WebSocket message). *out is NULL on failure.
 */
RINGO_API int ringo_model_parse(ringo_req *req, const ringo_model *model, const char *json,
                                size_t len, void **out);

/*
 * Writes the instance at value of model as a JSON object with the writer
 * (ringo/json.h): every field in declaration order, enums as their
 * strings; a field whose set member is false is null when RINGO_F_NULLABLE,
 * else left out (so that the text validates again as the same instance).
 * Errors are the writer's (sticky, returned by ringo_json_finish()); a NULL
 * model or value makes the writer fail with -EINVAL.
 */
RINGO_API void ringo_json_model(ringo_json_w *w, const ringo_model *model, const void *value);

/* Macros. */

/* The offset of member m of struct type S, a compile error unless m has type T. */
#define RINGO_AT(S, m, T) _Generic(((S *)0)->m, T : offsetof(S, m))
/* ringo_field.set: member m of S, which must be a bool. */
#define RINGO_SET_AT(S, m) (RINGO_AT(S, m, bool) + 1)

/* ringo_field's type, offset and size for member m of S, type-checked. */
#define RINGO_AS_(S, m, T, t) .type = (t), .offset = RINGO_AT(S, m, T), .size = sizeof(T)
#define RINGO_AS_STRING(S, m) RINGO_AS_(S, m, ringo_str, RINGO_STRING)
#define RINGO_AS_INT(S, m) RINGO_AS_(S, m, int64_t, RINGO_INT)
#define RINGO_AS_NUMBER(S, m) RINGO_AS_(S, m, double, RINGO_NUMBER)
#define RINGO_AS_BOOL(S, m) RINGO_AS_(S, m, bool, RINGO_BOOL)
#define RINGO_AS_ENUM(S, m) RINGO_AS_(S, m, int, RINGO_ENUM)
#define RINGO_AS_ARRAY(S, m) RINGO_AS_(S, m, ringo_array, RINGO_ARRAY)
/* An embedded struct of model mdl (a ringo_model); its size is checked at registration. */
#define RINGO_AS_OBJECT(S, m, mdl)                                                                 \
    .type = RINGO_OBJECT, .offset = offsetof(S, m), .size = sizeof(((S *)0)->m), .model = &(mdl)

/* ringo_model's c_type and size for the C type T. */
#define RINGO_MODEL_OF(T) .c_type = #T, .size = sizeof(T)

/* Bounds. */
#define RINGO_GE(v) .has_ge = true, .ge = (v)
#define RINGO_GT(v) .has_gt = true, .gt = (v)
#define RINGO_LE(v) .has_le = true, .le = (v)
#define RINGO_LT(v) .has_lt = true, .lt = (v)

/* Defaults. */
#define RINGO_DEFAULT_BOOL(v) .dflt = {.has = true, .b = (v)}
#define RINGO_DEFAULT_INT(v) .dflt = {.has = true, .i = (v)}
#define RINGO_DEFAULT_NUMBER(v) .dflt = {.has = true, .d = (v)}
#define RINGO_DEFAULT_STRING(v) .dflt = {.has = true, .s = (v)}
#define RINGO_DEFAULT_ENUM(v) .dflt = {.has = true, .s = (v)}
#define RINGO_DEFAULT_EMPTY .dflt = {.has = true}

/* Typed access to the validated values: RINGO_BODY(req, struct product). */
#define RINGO_PARAMS(req, T) ((T *)ringo_req_params_value((req), #T))
#define RINGO_BODY(req, T) ((T *)ringo_req_body_value((req), #T))
/* Element i of a ringo_array holding T: RINGO_ITEM(p->tags, ringo_str, 0). */
#define RINGO_ITEM(arr, T, i) (((T *)(arr).items)[i])

#ifdef __cplusplus
}
#endif
#endif
