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
    char id[256], try[272];
    size_t n = 0;
    bool sep = true;

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

/* ---- parameters ---- */

/* Path parameters no declaration covers: "{name}" and "{name...}", as strings. */
static void write_path_params(ringo__gen *g, const ringo__route *r)
{
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        size_t len = (size_t)(end - p - 1);
        bool rest = len > 3 && strncmp(end - 3, "...", 3) == 0;

        ringo_json_obj(g->w);
        ringo_json_key(g->w, "name");
        ringo_json_str(g->w, p + 1, rest ? len - 3 : len);
        ringo_json_key(g->w, "in");
        ringo_json_cstr(g->w, "path");
        ringo_json_key(g->w, "required");
        ringo_json_bool(g->w, true);
        if (rest) {
            ringo_json_key(g->w, "description");
            ringo_json_cstr(g->w, "The rest of the path: may hold '/' and be empty.");
        }
        ringo_json_key(g->w, "schema");
        ringo_json_obj(g->w);
        ringo_json_key(g->w, "type");
        ringo_json_cstr(g->w, "string");
        ringo_json_end(g->w);
        ringo_json_end(g->w);
    }
}

static void write_parameters(ringo__gen *g, const ringo__route *r)
{
    if (!strchr(r->pattern, '{'))
        return;
    ringo_json_key(g->w, "parameters");
    ringo_json_arr(g->w);
    write_path_params(g, r);
    ringo_json_end(g->w);
}

/* ---- responses ---- */

static void write_responses(ringo__gen *g, const ringo__route *r)
{
    (void)r;
    ringo_json_key(g->w, "responses");
    ringo_json_obj(g->w);
    ringo_json_key(g->w, "200");
    ringo_json_obj(g->w);
    ringo_json_key(g->w, "description");
    ringo_json_cstr(g->w, "Successful Response");
    ringo_json_end(g->w);
    ringo_json_end(g->w);
}

int ringo__openapi_operation(ringo__gen *g, const ringo__route *r)
{
    int ret;

    ringo_json_obj(g->w);
    ret = write_op_id(g, r);
    write_parameters(g, r);
    write_responses(g, r);
    ringo_json_end(g->w);
    return ret;
}

/* ---- components ---- */

int ringo__openapi_components(ringo__gen *g)
{
    (void)g;
    return 0;
}

void ringo__openapi_gen_free(ringo__gen *g)
{
    for (unsigned i = 0; i < g->nop_ids; i++)
        ringo__free(g->op_ids[i]);
    ringo__free(g->op_ids);
    ringo__free(g->models);
    ringo__free(g->schemes);
}
