/*
 * tests/fuzz/model_fuzz.c - libFuzzer target: a JSON body validated into a
 * declared model (http/validate.c) on arbitrary bytes, the way a declared
 * route's body is, through ringo_model_parse(). The model has every type:
 * strings with lengths and a pattern, bounded integers and numbers, a
 * boolean, an enum, a nullable nested model, an array of models and an
 * array of arrays.
 *
 * Properties (the target aborts when one breaks):
 * - the answer is 0 or RINGO_EVALIDATION, never anything else;
 * - an error list has 1..RINGO_MAX_ERRORS entries, and the 422 body made of
 *   it is valid JSON (the strict parser accepts it);
 * - a valid document written back with ringo_json_model() is valid for the
 *   same model, and writing that gives the same text (a fixed point);
 * - every allocation came from the request's arena (ASan checks the rest).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_impl.h"
#include "http/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pt {
    int64_t x;
    double y;
};

struct doc {
    ringo_str name;
    int64_t n;
    double f;
    bool b;
    int e;
    bool has_pt;
    struct pt pt;
    ringo_array pts;  /* of struct pt */
    ringo_array grid; /* of ringo_array of int64_t */
    bool has_s;
    ringo_str s;
};

static const ringo_model pt_model = {
    .name = "Pt",
    RINGO_MODEL_OF(struct pt),
    .flags = RINGO_MODEL_FORBID_EXTRA,
    .fields =
        (const ringo_field[]){
            {.name = "x", RINGO_AS_INT(struct pt, x), RINGO_GE(-5), .multiple_of = 3},
            {.name = "y", RINGO_AS_NUMBER(struct pt, y), RINGO_DEFAULT_NUMBER(0.5), RINGO_LT(1e9)},
            {0},
        },
};

static const ringo_model doc_model = {
    .name = "Doc",
    RINGO_MODEL_OF(struct doc),
    .fields =
        (const ringo_field[]){
            {.name = "name",
             RINGO_AS_STRING(struct doc, name),
             .min_length = 1,
             .max_length = 8,
             .pattern = "^[a-z]*$"},
            {.name = "n", RINGO_AS_INT(struct doc, n), RINGO_GT(0), RINGO_LE(1000)},
            {.name = "f", RINGO_AS_NUMBER(struct doc, f), RINGO_DEFAULT_NUMBER(1), RINGO_GE(-1)},
            {.name = "b", RINGO_AS_BOOL(struct doc, b), RINGO_DEFAULT_BOOL(false)},
            {.name = "e",
             RINGO_AS_ENUM(struct doc, e),
             .values = (const char *const[]){"a", "b\"", "\xc3\xa9", NULL},
             RINGO_DEFAULT_ENUM("a")},
            {.name = "pt",
             RINGO_AS_OBJECT(struct doc, pt, pt_model),
             .flags = RINGO_F_OPTIONAL | RINGO_F_NULLABLE,
             .set = RINGO_SET_AT(struct doc, has_pt)},
            {.name = "pts",
             RINGO_AS_ARRAY(struct doc, pts),
             .items = &(const ringo_field){.type = RINGO_OBJECT, .model = &pt_model},
             .max_items = 5,
             RINGO_DEFAULT_EMPTY},
            {.name = "grid",
             RINGO_AS_ARRAY(struct doc, grid),
             .items = &(const ringo_field){.type = RINGO_ARRAY,
                                           .items = &(const ringo_field){.type = RINGO_INT},
                                           .min_items = 1},
             RINGO_DEFAULT_EMPTY},
            {.name = "s",
             RINGO_AS_STRING(struct doc, s),
             .flags = RINGO_F_OPTIONAL,
             .set = RINGO_SET_AT(struct doc, has_s)},
            {0},
        },
};

static ringo_req *req_new(void)
{
    ringo_req *r = calloc(1, sizeof(*r));

    if (!r)
        abort();
    ringo__arena_init(&r->arena, r->inline_arena, sizeof(r->inline_arena));
    return r;
}

static void req_free(ringo_req *r)
{
    ringo__arena_free(&r->arena);
    free(r);
}

/* The instance as JSON (malloc); aborts on a writer error. */
static char *write_doc(const void *v, size_t *len)
{
    ringo_json_w w;
    char *out;

    ringo_json_begin_malloc(&w);
    ringo_json_model(&w, &doc_model, v);
    if (ringo_json_finish(&w, &out, len) != 0) {
        fprintf(stderr, "model_fuzz: the writer failed on a valid instance\n");
        abort();
    }
    return out;
}

static void check_errors(ringo_req *r)
{
    if (r->nerrors < 1 || r->nerrors > RINGO_MAX_ERRORS || ringo__params_422(r) != 0 ||
        ringo__json_check(r->rbody, r->rbody_len, 0, NULL) != RINGO__JERR_NONE) {
        fprintf(stderr, "model_fuzz: %u errors, 422 body: %.*s\n", r->nerrors, (int)r->rbody_len,
                r->rbody ? r->rbody : "");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1), *text, *again;
    ringo_req *r = req_new(), *r2;
    size_t len, len2;
    void *v, *v2;
    int ret;

    if (!copy)
        abort();
    memcpy(copy, data, size); /* exact size: ASan sees a read past it */
    ret = ringo_model_parse(r, &doc_model, copy, size, &v);
    if (ret != 0 && ret != RINGO_EVALIDATION) {
        fprintf(stderr, "model_fuzz: ringo_model_parse returned %d\n", ret);
        abort();
    }
    if (ret == RINGO_EVALIDATION) {
        check_errors(r);
    } else {
        text = write_doc(v, &len);
        r2 = req_new();
        if (ringo_model_parse(r2, &doc_model, text, len, &v2) != 0) {
            fprintf(stderr, "model_fuzz: written back, no longer valid: %.*s\n", (int)len, text);
            abort();
        }
        again = write_doc(v2, &len2);
        if (len != len2 || memcmp(text, again, len) != 0) {
            fprintf(stderr, "model_fuzz: not a fixed point:\n%.*s\n%.*s\n", (int)len, text,
                    (int)len2, again);
            abort();
        }
        free(again);
        free(text);
        req_free(r2);
    }
    req_free(r);
    free(copy);
    return 0;
}
