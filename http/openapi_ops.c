/*
 * http/openapi_ops.c - the Operation Objects of the OpenAPI document and the
 * components they refer to, from what each route declares.
 *
 * A route that declares nothing still gets an operation: its path
 * parameters (strings) and a 200 response.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "http/http_impl.h"
#include "http/openapi_impl.h"

static void key_str(ringo_json_w *w, const char *k, const char *v);

/* ---- operationId ---- */

static bool id_taken(const ringo__gen *g, const char *id)
{
    for (unsigned i = 0; i < g->nop_ids; i++)
        if (strcmp(g->op_ids[i], id) == 0)
            return true;
    return false;
}

static int id_keep(ringo__gen *g, const char *id)
{
    char **v = ringo__realloc(g->op_ids, (g->nop_ids + 1) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    g->op_ids = v;
    v[g->nop_ids] = ringo__strdup(id);
    if (!v[g->nop_ids])
        return -ENOMEM;
    g->nop_ids++;
    return 0;
}

/*
 * "get_users_id" for GET /users/{id}: the method, then the path's words
 * joined by '_' ("root" for "/"); a number is appended to a name taken.
 */
static int write_op_id(ringo__gen *g, const ringo__route *r)
{
    const char *given = r->opts.spec ? r->opts.spec->operation_id : NULL;
    char id[256], try[272];
    size_t n = 0;
    bool sep = true;

    if (given) {
        if (id_taken(g, given)) {
            ringo__openapi_complain(g, "operationId '%s' is given twice", given);
            return -EINVAL;
        }
        key_str(g->w, "operationId", given);
        return id_keep(g, given);
    }
    for (const char *m = r->method; *m && n < 32; m++)
        id[n++] = (char)tolower((unsigned char)*m);
    for (const char *p = r->pattern; *p && n < sizeof(id) - 8; p++) {
        if (isalnum((unsigned char)*p)) {
            if (sep)
                id[n++] = '_';
            id[n++] = (char)tolower((unsigned char)*p);
            sep = false;
        } else if (*p != '.') {
            sep = true;
        }
    }
    if (n == strlen(r->method) || n == 32) {
        memcpy(id + n, "_root", 5);
        n += 5;
    }
    id[n] = '\0';
    snprintf(try, sizeof(try), "%s", id);
    for (unsigned k = 2; id_taken(g, try); k++)
        snprintf(try, sizeof(try), "%s_%u", id, k);
    ringo_json_key(g->w, "operationId");
    ringo_json_cstr(g->w, try);
    return id_keep(g, try);
}

/* ---- JSON Schemas of declared values ---- */

static void key_str(ringo_json_w *w, const char *k, const char *v)
{
    ringo_json_key(w, k);
    ringo_json_cstr(w, v);
}

/* A bound or a default: an integer when the type is and the value is one. */
static void write_num(ringo_json_w *w, const char *k, double v, bool integer)
{
    ringo_json_key(w, k);
    if (integer && v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(int64_t)v)
        ringo_json_int(w, (int64_t)v);
    else
        ringo_json_double(w, v);
}

static void write_size(ringo_json_w *w, const char *k, size_t v)
{
    ringo_json_key(w, k);
    ringo_json_uint(w, v);
}

/* Remembers a model for components/schemas; two models of one name are -EINVAL. */
static int model_use(ringo__gen *g, const ringo_model *m)
{
    const void **v;

    for (unsigned i = 0; i < g->nmodels; i++) {
        const ringo_model *o = g->models[i];
        if (o == m)
            return 0;
        if (strcmp(ringo__openapi_model_name(o), ringo__openapi_model_name(m)) == 0) {
            ringo__openapi_complain(g, "two models are named '%s'", ringo__openapi_model_name(m));
            return -EINVAL;
        }
    }
    v = ringo__realloc(g->models, (g->nmodels + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    g->models = v;
    v[g->nmodels++] = m;
    return 0;
}

const char *ringo__openapi_model_name(const ringo_model *m)
{
    if (m->name)
        return m->name;
    if (m->c_type && strncmp(m->c_type, "struct ", 7) == 0)
        return m->c_type + 7;
    return m->c_type ? m->c_type : "Model";
}

static void write_ref(ringo__gen *g, const ringo_model *m)
{
    char ref[256];

    snprintf(ref, sizeof(ref), "#/components/schemas/%s", ringo__openapi_model_name(m));
    key_str(g->w, "$ref", ref);
}

static void write_bounds(ringo_json_w *w, const ringo_field *f)
{
    bool integer = f->type == RINGO_INT;

    if (f->has_ge)
        write_num(w, "minimum", f->ge, integer);
    if (f->has_gt)
        write_num(w, "exclusiveMinimum", f->gt, integer);
    if (f->has_le)
        write_num(w, "maximum", f->le, integer);
    if (f->has_lt)
        write_num(w, "exclusiveMaximum", f->lt, integer);
    if (f->multiple_of != 0)
        write_num(w, "multipleOf", f->multiple_of, integer);
}

static int write_type_schema(ringo__gen *g, const ringo_field *f);

/* The members of the schema of f's type (inside an open object). */
static int write_type_members(ringo__gen *g, const ringo_field *f)
{
    ringo_json_w *w = g->w;

    switch (f->type) {
    case RINGO_STRING:
        key_str(w, "type", "string");
        if (f->min_length)
            write_size(w, "minLength", f->min_length);
        if (f->max_length)
            write_size(w, "maxLength", f->max_length);
        if (f->pattern)
            key_str(w, "pattern", f->pattern);
        return 0;
    case RINGO_INT:
    case RINGO_NUMBER:
        key_str(w, "type", f->type == RINGO_INT ? "integer" : "number");
        write_bounds(w, f);
        return 0;
    case RINGO_BOOL: key_str(w, "type", "boolean"); return 0;
    case RINGO_ENUM:
        key_str(w, "type", "string");
        ringo_json_key(w, "enum");
        ringo_json_arr(w);
        for (const char *const *v = f->values; v && *v; v++)
            ringo_json_cstr(w, *v);
        ringo_json_end(w);
        return 0;
    case RINGO_OBJECT: write_ref(g, f->model); return model_use(g, f->model);
    case RINGO_ARRAY:
        key_str(w, "type", "array");
        ringo_json_key(w, "items");
        if (f->items) {
            int ret = write_type_schema(g, f->items);
            if (ret < 0)
                return ret;
        } else {
            ringo_json_obj(w);
            ringo_json_end(w);
        }
        if (f->min_items)
            write_size(w, "minItems", f->min_items);
        if (f->max_items)
            write_size(w, "maxItems", f->max_items);
        return 0;
    }
    ringo__openapi_complain(g, "field '%s' has no type", f->name ? f->name : "(items)");
    return -EINVAL;
}

static int write_type_schema(ringo__gen *g, const ringo_field *f)
{
    int ret;

    ringo_json_obj(g->w);
    ret = write_type_members(g, f);
    ringo_json_end(g->w);
    return ret;
}

static void write_default(ringo_json_w *w, const ringo_field *f)
{
    if (!f->dflt.has)
        return;
    ringo_json_key(w, "default");
    switch (f->type) {
    case RINGO_STRING:
    case RINGO_ENUM: ringo_json_cstr(w, f->dflt.s); break;
    case RINGO_INT: ringo_json_int(w, f->dflt.i); break;
    case RINGO_NUMBER: ringo_json_double(w, f->dflt.d); break;
    case RINGO_BOOL: ringo_json_bool(w, f->dflt.b); break;
    case RINGO_ARRAY:
        ringo_json_arr(w);
        ringo_json_end(w);
        break;
    default: ringo_json_null(w); break;
    }
}

/*
 * The schema of a parameter or a model's member: its type's (wrapped in
 * anyOf with null when nullable, as pydantic writes Optional[X]), then the
 * default, and with texts the description and deprecated.
 */
static int write_field_schema(ringo__gen *g, const ringo_field *f, bool texts)
{
    ringo_json_w *w = g->w;
    int ret;

    ringo_json_obj(w);
    if (f->flags & RINGO_F_NULLABLE) {
        ringo_json_key(w, "anyOf");
        ringo_json_arr(w);
        ret = write_type_schema(g, f);
        ringo_json_obj(w);
        key_str(w, "type", "null");
        ringo_json_end(w);
        ringo_json_end(w);
    } else {
        ret = write_type_members(g, f);
    }
    write_default(w, f);
    if (texts && f->description)
        key_str(w, "description", f->description);
    if (texts && (f->flags & RINGO_F_DEPRECATED)) {
        ringo_json_key(w, "deprecated");
        ringo_json_bool(w, true);
    }
    ringo_json_end(w);
    return ret;
}

/* A field the client must send: no default, not optional. */
static bool field_required(const ringo_field *f)
{
    return !f->dflt.has && !(f->flags & RINGO_F_OPTIONAL);
}

/* components/schemas/<name>: an object with the model's fields as properties. */
static int write_model_schema(ringo__gen *g, const ringo_model *m)
{
    ringo_json_w *w = g->w;
    bool any = false;
    int ret = 0;

    ringo_json_key(w, ringo__openapi_model_name(m));
    ringo_json_obj(w);
    key_str(w, "type", "object");
    key_str(w, "title", ringo__openapi_model_name(m));
    if (m->description)
        key_str(w, "description", m->description);
    ringo_json_key(w, "properties");
    ringo_json_obj(w);
    for (const ringo_field *f = m->fields; f && f->type && ret == 0; f++) {
        ringo_json_key(w, f->name);
        ret = write_field_schema(g, f, true);
    }
    ringo_json_end(w);
    for (const ringo_field *f = m->fields; f && f->type; f++)
        any |= field_required(f);
    if (any) {
        ringo_json_key(w, "required");
        ringo_json_arr(w);
        for (const ringo_field *f = m->fields; f && f->type; f++)
            if (field_required(f))
                ringo_json_cstr(w, f->name);
        ringo_json_end(w);
    }
    if (m->flags & RINGO_MODEL_FORBID_EXTRA) {
        ringo_json_key(w, "additionalProperties");
        ringo_json_bool(w, false);
    }
    ringo_json_end(w);
    return ret;
}

/* ---- parameters ---- */

static const char *const loc_names[] = {"path", "query", "header", "cookie"};

static const ringo_model *spec_params(const ringo__route *r)
{
    return r->opts.spec ? r->opts.spec->params : NULL;
}

static const ringo_model *spec_body(const ringo__route *r)
{
    return r->opts.spec ? r->opts.spec->body : NULL;
}

/* The route declares the path parameter name (len bytes). */
static bool param_declared(const ringo__route *r, const char *name, size_t len)
{
    const ringo_model *m = spec_params(r);

    for (const ringo_field *f = m ? m->fields : NULL; f && f->type; f++)
        if (f->in == RINGO_LOC_PATH && strlen(f->name) == len && !memcmp(f->name, name, len))
            return true;
    return false;
}

static int write_declared_param(ringo__gen *g, const ringo_field *f)
{
    ringo_json_w *w = g->w;
    int ret;

    if ((unsigned)f->in >= sizeof(loc_names) / sizeof(loc_names[0])) {
        ringo__openapi_complain(g, "parameter '%s' is not in the path, query, header or cookie",
                                f->name);
        return -EINVAL;
    }
    ringo_json_obj(w);
    key_str(w, "name", f->name);
    key_str(w, "in", loc_names[f->in]);
    ringo_json_key(w, "required");
    ringo_json_bool(w, f->in == RINGO_LOC_PATH || field_required(f));
    if (f->description)
        key_str(w, "description", f->description);
    if (f->flags & RINGO_F_DEPRECATED) {
        ringo_json_key(w, "deprecated");
        ringo_json_bool(w, true);
    }
    ringo_json_key(w, "schema");
    ret = write_field_schema(g, f, false); /* the texts are the parameter's */
    ringo_json_end(w);
    return ret;
}

/* Path parameters no declaration covers: "{name}" and "{name...}", as strings. */
static void write_path_params(ringo__gen *g, const ringo__route *r)
{
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        size_t len = (size_t)(end - p - 1);
        bool rest = len > 3 && strncmp(end - 3, "...", 3) == 0;

        if (rest)
            len -= 3;
        if (param_declared(r, p + 1, len))
            continue;
        ringo_json_obj(g->w);
        ringo_json_key(g->w, "name");
        ringo_json_str(g->w, p + 1, len);
        key_str(g->w, "in", "path");
        ringo_json_key(g->w, "required");
        ringo_json_bool(g->w, true);
        if (rest)
            key_str(g->w, "description", "The rest of the path: may hold '/' and be empty.");
        ringo_json_key(g->w, "schema");
        ringo_json_obj(g->w);
        key_str(g->w, "type", "string");
        ringo_json_end(g->w);
        ringo_json_end(g->w);
    }
}

static int write_parameters(ringo__gen *g, const ringo__route *r)
{
    const ringo_model *m = spec_params(r);
    int ret = 0;

    if (!strchr(r->pattern, '{') && !(m && m->fields && m->fields[0].type))
        return 0;
    ringo_json_key(g->w, "parameters");
    ringo_json_arr(g->w);
    for (const ringo_field *f = m ? m->fields : NULL; f && f->type && ret == 0; f++)
        ret = write_declared_param(g, f);
    write_path_params(g, r);
    ringo_json_end(g->w);
    return ret;
}

/* ---- request body ---- */

static int write_request_body(ringo__gen *g, const ringo__route *r)
{
    const ringo_route_spec *spec = r->opts.spec;
    ringo_json_w *w = g->w;

    if (!spec_body(r))
        return 0;
    ringo_json_key(w, "requestBody");
    ringo_json_obj(w);
    if (spec->body_description)
        key_str(w, "description", spec->body_description);
    ringo_json_key(w, "content");
    ringo_json_obj(w);
    ringo_json_key(w, "application/json");
    ringo_json_obj(w);
    ringo_json_key(w, "schema");
    ringo_json_obj(w);
    if (spec->flags & RINGO_SPEC_BODY_OPTIONAL) {
        /* An empty body or null: FastAPI's `item: Item | None = None`. */
        ringo_json_key(w, "anyOf");
        ringo_json_arr(w);
        ringo_json_obj(w);
        write_ref(g, spec->body);
        ringo_json_end(w);
        ringo_json_obj(w);
        key_str(w, "type", "null");
        ringo_json_end(w);
        ringo_json_end(w);
    } else {
        write_ref(g, spec->body);
    }
    ringo_json_end(w);
    ringo_json_end(w);
    ringo_json_end(w);
    ringo_json_key(w, "required");
    ringo_json_bool(w, !(spec->flags & RINGO_SPEC_BODY_OPTIONAL));
    ringo_json_end(w);
    return model_use(g, spec->body);
}

/* ---- responses ---- */

static void status_key(ringo_json_w *w, int status)
{
    char k[16];

    snprintf(k, sizeof(k), "%d", status);
    ringo_json_key(w, k);
}

static int write_response(ringo__gen *g, const ringo_response_spec *rs)
{
    ringo_json_w *w = g->w;
    int ret = 0;

    status_key(w, rs->status);
    ringo_json_obj(w);
    if (rs->description)
        key_str(w, "description", rs->description);
    else
        key_str(w, "description",
                rs->status == 200 ? "Successful Response" : ringo__status_reason(rs->status));
    if (rs->model || rs->schema) {
        ringo_json_key(w, "content");
        ringo_json_obj(w);
        ringo_json_key(w, rs->content_type ? rs->content_type : "application/json");
        ringo_json_obj(w);
        ringo_json_key(w, "schema");
        if (rs->model) {
            ringo_json_obj(w);
            write_ref(g, rs->model);
            ringo_json_end(w);
            ret = model_use(g, rs->model);
        } else {
            ret = write_field_schema(g, rs->schema, true);
        }
        ringo_json_end(w);
        ringo_json_end(w);
    }
    ringo_json_end(w);
    return ret;
}

/* The route validates its input before the handler: it may answer 422. */
static bool route_validates(const ringo__route *r)
{
    const ringo_model *p = spec_params(r);

    return spec_body(r) || (p && p->fields && p->fields[0].type);
}

static void write_422(ringo__gen *g)
{
    ringo_json_w *w = g->w;

    ringo_json_key(w, "422");
    ringo_json_obj(w);
    key_str(w, "description", "Validation Error");
    ringo_json_key(w, "content");
    ringo_json_obj(w);
    ringo_json_key(w, "application/json");
    ringo_json_obj(w);
    ringo_json_key(w, "schema");
    ringo_json_obj(w);
    key_str(w, "$ref", "#/components/schemas/HTTPValidationError");
    ringo_json_end(w);
    ringo_json_end(w);
    ringo_json_end(w);
    ringo_json_end(w);
    g->validation = true;
}

static int write_responses(ringo__gen *g, const ringo__route *r)
{
    const ringo_response_spec *rs = r->opts.spec ? r->opts.spec->responses : NULL;
    bool has_422 = false;
    int ret = 0;

    ringo_json_key(g->w, "responses");
    ringo_json_obj(g->w);
    for (; rs && rs->status && ret == 0; rs++) {
        has_422 |= rs->status == 422;
        ret = write_response(g, rs);
    }
    if (!r->opts.spec || !r->opts.spec->responses || !r->opts.spec->responses[0].status) {
        ringo_json_key(g->w, "200");
        ringo_json_obj(g->w);
        key_str(g->w, "description", "Successful Response");
        ringo_json_end(g->w);
    }
    if (route_validates(r) && !has_422)
        write_422(g);
    ringo_json_end(g->w);
    return ret;
}

/* ---- security ---- */

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* Two declarations of one scheme (two dependencies may each declare it). */
static bool scheme_same(const ringo_security *a, const ringo_security *b)
{
    return a == b || (str_eq(a->name, b->name) && a->kind == b->kind && a->in == b->in &&
                      str_eq(a->bearer_format, b->bearer_format) &&
                      str_eq(a->key_name, b->key_name) && str_eq(a->description, b->description));
}

static int scheme_use(ringo__gen *g, const ringo_security *s)
{
    const void **v;

    for (unsigned i = 0; i < g->nschemes; i++) {
        const ringo_security *o = g->schemes[i];
        if (scheme_same(o, s))
            return 0;
        if (strcmp(o->name, s->name) == 0) {
            ringo__openapi_complain(g, "two security schemes are named '%s'", s->name);
            return -EINVAL;
        }
    }
    v = ringo__realloc(g->schemes, (g->nschemes + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    g->schemes = v;
    v[g->nschemes++] = s;
    return 0;
}

/* "security": one requirement naming every scheme the route's dependencies check. */
static int write_security(ringo__gen *g, const ringo__route *r)
{
    bool any = false;
    int ret = 0;

    for (unsigned i = 0; i < r->nplan; i++)
        any |= r->plan[i]->security != NULL;
    if (!any)
        return 0;
    ringo_json_key(g->w, "security");
    ringo_json_arr(g->w);
    ringo_json_obj(g->w);
    for (unsigned i = 0; i < r->nplan && ret == 0; i++) {
        const ringo_security *s = r->plan[i]->security;
        bool dup = false;
        if (!s)
            continue;
        for (unsigned j = 0; j < i; j++)
            dup |= r->plan[j]->security && strcmp(r->plan[j]->security->name, s->name) == 0;
        if (dup)
            continue;
        ringo_json_key(g->w, s->name);
        ringo_json_arr(g->w);
        ringo_json_end(g->w);
        ret = scheme_use(g, s);
    }
    ringo_json_end(g->w);
    ringo_json_end(g->w);
    return ret;
}

static void write_scheme(ringo_json_w *w, const ringo_security *s)
{
    ringo_json_key(w, s->name);
    ringo_json_obj(w);
    if (s->kind == RINGO_SECURITY_API_KEY) {
        key_str(w, "type", "apiKey");
        key_str(w, "name", s->key_name);
        key_str(w, "in", loc_names[s->in]);
    } else {
        key_str(w, "type", "http");
        key_str(w, "scheme", s->kind == RINGO_SECURITY_BEARER ? "bearer" : "basic");
        if (s->kind == RINGO_SECURITY_BEARER && s->bearer_format)
            key_str(w, "bearerFormat", s->bearer_format);
    }
    if (s->description)
        key_str(w, "description", s->description);
    ringo_json_end(w);
}

/* ---- the operation ---- */

static void write_texts(ringo__gen *g, const ringo_route_spec *spec)
{
    ringo_json_w *w = g->w;

    if (!spec)
        return;
    if (spec->tags && spec->tags[0]) {
        ringo_json_key(w, "tags");
        ringo_json_arr(w);
        for (const char *const *t = spec->tags; *t; t++)
            ringo_json_cstr(w, *t);
        ringo_json_end(w);
    }
    if (spec->summary)
        key_str(w, "summary", spec->summary);
    if (spec->description)
        key_str(w, "description", spec->description);
}

int ringo__openapi_operation(ringo__gen *g, const ringo__route *r)
{
    const ringo_route_spec *spec = r->opts.spec;
    int ret;

    g->route = r;
    ringo_json_obj(g->w);
    write_texts(g, spec);
    ret = write_op_id(g, r);
    if (ret == 0)
        ret = write_parameters(g, r);
    if (ret == 0)
        ret = write_request_body(g, r);
    if (ret == 0)
        ret = write_responses(g, r);
    if (ret == 0 && spec && (spec->flags & RINGO_SPEC_DEPRECATED)) {
        ringo_json_key(g->w, "deprecated");
        ringo_json_bool(g->w, true);
    }
    if (ret == 0)
        ret = write_security(g, r);
    ringo_json_end(g->w);
    return ret;
}

/* ---- components ---- */

/* FastAPI's (pydantic v2) error schemas, with the input and ctx ringo sends too. */
static void write_validation_schemas(ringo_json_w *w)
{
    static const char http_validation_error[] =
        "{\"type\":\"object\",\"title\":\"HTTPValidationError\",\"properties\":{\"detail\":"
        "{\"type\":\"array\",\"title\":\"Detail\",\"items\":"
        "{\"$ref\":\"#/components/schemas/ValidationError\"}}}}";
    static const char validation_error[] =
        "{\"type\":\"object\",\"title\":\"ValidationError\",\"properties\":{"
        "\"loc\":{\"type\":\"array\",\"title\":\"Location\",\"items\":"
        "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}},"
        "\"msg\":{\"type\":\"string\",\"title\":\"Message\"},"
        "\"type\":{\"type\":\"string\",\"title\":\"Error Type\"},"
        "\"input\":{\"title\":\"Input\"},"
        "\"ctx\":{\"type\":\"object\",\"title\":\"Context\"}},"
        "\"required\":[\"loc\",\"msg\",\"type\"]}";

    ringo_json_key(w, "HTTPValidationError");
    ringo_json_raw(w, http_validation_error, sizeof(http_validation_error) - 1);
    ringo_json_key(w, "ValidationError");
    ringo_json_raw(w, validation_error, sizeof(validation_error) - 1);
}

int ringo__openapi_components(ringo__gen *g)
{
    ringo_json_w *w = g->w;
    int ret = 0;

    if (!g->nmodels && !g->validation && !g->nschemes)
        return 0;
    g->route = NULL;
    ringo_json_key(w, "components");
    ringo_json_obj(w);
    if (g->nmodels || g->validation) {
        ringo_json_key(w, "schemas");
        ringo_json_obj(w);
        /* A model's fields may add models: the list grows while it is walked. */
        for (unsigned i = 0; i < g->nmodels && ret == 0; i++)
            ret = write_model_schema(g, g->models[i]);
        if (g->validation)
            write_validation_schemas(w);
        ringo_json_end(w);
    }
    if (g->nschemes) {
        ringo_json_key(w, "securitySchemes");
        ringo_json_obj(w);
        for (unsigned i = 0; i < g->nschemes; i++)
            write_scheme(w, g->schemes[i]);
        ringo_json_end(w);
    }
    ringo_json_end(w);
    return ret;
}

void ringo__openapi_gen_free(ringo__gen *g)
{
    for (unsigned i = 0; i < g->nop_ids; i++)
        ringo__free(g->op_ids[i]);
    ringo__free(g->op_ids);
    ringo__free(g->models);
    ringo__free(g->schemes);
}
