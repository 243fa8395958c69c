/*
 * Description: declared routes (ringo/schema.h, http/schema.c,
 * http/validate.c) on the in-memory core of fake_core.h. Registration
 * refuses a declaration it could not honour (optional without a set member,
 * bounds on a string, a path parameter missing from the pattern, an enum
 * default outside its values, a pattern that does not compile, a member
 * whose size is not its type's, a streamed body). A declared route's
 * parameters and JSON body reach the handler converted (defaults, optional
 * and nullable fields, enums, nested objects, arrays of models) and come
 * back through ringo_json_model(); invalid ones answer 422 with pydantic
 * v2's exact errors (types, messages, loc paths with keys and indexes,
 * input, ctx), in pydantic's order, bounded; malformed JSON answers one
 * json_invalid with its character position; a non-JSON Content-Type 415;
 * pydantic's lax conversions ("5" and 5.0 for an integer, "yes" for a
 * boolean) are taken; ringo_model_parse() reports like a declared body.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"

static ringo_app *app;

/* ---- the declarations ---- */

struct dims {
    double w, h;
};

struct line {
    ringo_str sku;
    int64_t qty;
};

struct order {
    ringo_str name;
    int64_t count;
    double price;
    bool flag;
    int color;
    ringo_array tags;
    bool has_lines;
    ringo_array lines;
    bool has_dims;
    struct dims dims;
    bool has_note;
    ringo_str note;
};

static const char *const colors[] = {"red", "green", "blue", NULL};

static const ringo_model dims_model = {
    .name = "Dims",
    RINGO_MODEL_OF(struct dims),
    .fields =
        (const ringo_field[]){
            {.name = "w", RINGO_AS_NUMBER(struct dims, w), RINGO_GE(0)},
            {.name = "h", RINGO_AS_NUMBER(struct dims, h), RINGO_GE(0)},
            {0},
        },
};

static const ringo_model line_model = {
    .name = "Line",
    RINGO_MODEL_OF(struct line),
    .fields =
        (const ringo_field[]){
            {.name = "sku", RINGO_AS_STRING(struct line, sku), .min_length = 1},
            {.name = "qty", RINGO_AS_INT(struct line, qty), RINGO_GT(0), .multiple_of = 2},
            {0},
        },
};

static const ringo_model order_model = {
    .name = "Order",
    RINGO_MODEL_OF(struct order),
    .fields =
        (const ringo_field[]){
            {.name = "name",
             RINGO_AS_STRING(struct order, name),
             .min_length = 1,
             .max_length = 5,
             .pattern = "^[a-z]+$"},
            {.name = "count", RINGO_AS_INT(struct order, count), RINGO_GE(0), RINGO_LE(10)},
            {.name = "price", RINGO_AS_NUMBER(struct order, price), RINGO_GT(0), RINGO_LT(1000.5)},
            {.name = "flag", RINGO_AS_BOOL(struct order, flag), RINGO_DEFAULT_BOOL(true)},
            {.name = "color",
             RINGO_AS_ENUM(struct order, color),
             .values = colors,
             RINGO_DEFAULT_ENUM("red")},
            {.name = "tags",
             RINGO_AS_ARRAY(struct order, tags),
             .items = &(const ringo_field){.type = RINGO_STRING, .max_length = 3},
             .min_items = 2,
             .max_items = 2,
             RINGO_DEFAULT_EMPTY},
            {.name = "lines",
             RINGO_AS_ARRAY(struct order, lines),
             .items = &(const ringo_field){.type = RINGO_OBJECT, .model = &line_model},
             .min_items = 1,
             .flags = RINGO_F_OPTIONAL,
             .set = RINGO_SET_AT(struct order, has_lines)},
            {.name = "dims",
             RINGO_AS_OBJECT(struct order, dims, dims_model),
             .flags = RINGO_F_OPTIONAL | RINGO_F_NULLABLE,
             .set = RINGO_SET_AT(struct order, has_dims)},
            {.name = "note",
             RINGO_AS_STRING(struct order, note),
             .flags = RINGO_F_NULLABLE,
             .set = RINGO_SET_AT(struct order, has_note)},
            {0},
        },
};

struct qp {
    int64_t id;
    int64_t limit;
    bool verbose;
    int sort;
    bool has_q;
    ringo_str q;
    double ratio;
    bool has_s;
    ringo_str s;
};

static const ringo_model qp_model = {
    .name = "Params",
    RINGO_MODEL_OF(struct qp),
    .fields =
        (const ringo_field[]){
            {.name = "id", .in = RINGO_LOC_PATH, RINGO_AS_INT(struct qp, id), RINGO_GE(1)},
            {.name = "limit",
             .in = RINGO_LOC_QUERY,
             RINGO_AS_INT(struct qp, limit),
             RINGO_LE(100),
             RINGO_DEFAULT_INT(10)},
            {.name = "verbose",
             .in = RINGO_LOC_QUERY,
             RINGO_AS_BOOL(struct qp, verbose),
             RINGO_DEFAULT_BOOL(false)},
            {.name = "sort",
             .in = RINGO_LOC_QUERY,
             RINGO_AS_ENUM(struct qp, sort),
             .values = (const char *const[]){"asc", "desc", NULL},
             RINGO_DEFAULT_ENUM("asc")},
            {.name = "x-q",
             .in = RINGO_LOC_HEADER,
             RINGO_AS_STRING(struct qp, q),
             .max_length = 3,
             .flags = RINGO_F_OPTIONAL,
             .set = RINGO_SET_AT(struct qp, has_q)},
            {.name = "ratio",
             .in = RINGO_LOC_COOKIE,
             RINGO_AS_NUMBER(struct qp, ratio),
             RINGO_LT(1),
             RINGO_DEFAULT_NUMBER(0.5)},
            {.name = "s",
             .in = RINGO_LOC_QUERY,
             RINGO_AS_STRING(struct qp, s),
             .pattern = "^[a-z]+$",
             .flags = RINGO_F_OPTIONAL,
             .set = RINGO_SET_AT(struct qp, has_s)},
            {0},
        },
};

static const ringo_route_spec order_spec = {.params = &qp_model, .body = &order_model};

struct strict {
    int64_t a;
};

/* Zeros after the name: a key "a\u0000" must still not be taken for it (test_nul_key). */
static const char a_name[4] = "a";

static const ringo_model strict_model = {
    .name = "Strict",
    RINGO_MODEL_OF(struct strict),
    .flags = RINGO_MODEL_FORBID_EXTRA,
    .fields = (const ringo_field[]){{.name = a_name, RINGO_AS_INT(struct strict, a)}, {0}},
};

static const ringo_route_spec strict_spec = {.body = &strict_model};
static const ringo_route_spec optional_spec = {.body = &strict_model,
                                               .flags = RINGO_SPEC_BODY_OPTIONAL};

/* 40 required query parameters q0..q39, and the forbidding body: more errors than fit. */
struct many {
    int64_t q[40];
};

#define Q(i)                                                                                       \
    {                                                                                              \
        .name = "q" #i, .in = RINGO_LOC_QUERY, RINGO_AS_INT(struct many, q[i])                     \
    }
static const ringo_field many_fields[] = {
    Q(0),  Q(1),  Q(2),  Q(3),  Q(4),  Q(5),  Q(6),  Q(7),  Q(8),  Q(9),  Q(10),
    Q(11), Q(12), Q(13), Q(14), Q(15), Q(16), Q(17), Q(18), Q(19), Q(20), Q(21),
    Q(22), Q(23), Q(24), Q(25), Q(26), Q(27), Q(28), Q(29), Q(30), Q(31), Q(32),
    Q(33), Q(34), Q(35), Q(36), Q(37), Q(38), Q(39), {0},
};
#undef Q

static const ringo_model many_model = {
    .name = "Many", RINGO_MODEL_OF(struct many), .fields = many_fields};
static const ringo_route_spec many_spec = {.params = &many_model, .body = &strict_model};

/* ---- handlers ---- */

static int echo_order(ringo_req *req, void *ud)
{
    struct qp *p = RINGO_PARAMS(req, struct qp);
    struct order *o = RINGO_BODY(req, struct order);
    ringo_json_w w;

    (void)ud;
    CHECK(p && o);
    CHECK(RINGO_BODY(req, struct qp) == NULL); /* the wrong type is refused */
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "params");
    ringo_json_model(&w, &qp_model, p);
    ringo_json_key(&w, "body");
    ringo_json_model(&w, &order_model, o);
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

static int echo_strict(ringo_req *req, void *ud)
{
    struct strict *s = RINGO_BODY(req, struct strict);
    ringo_json_w w;

    (void)ud;
    if (!s)
        return ringo_respond(req, 204, NULL, NULL, 0);
    ringo_json_begin(&w, req);
    ringo_json_model(&w, &strict_model, s);
    return ringo_json_respond(&w, 200);
}

/* POST /parse: ringo_model_parse() of the body, as a handler would for a part. */
static int parse(ringo_req *req, void *ud)
{
    ringo_str b = ringo_req_body(req);
    void *v;
    int ret = ringo_model_parse(req, &line_model, b.ptr, b.len, &v);
    ringo_json_w w;

    (void)ud;
    if (ret < 0)
        return ret;
    ringo_json_begin(&w, req);
    ringo_json_model(&w, &line_model, v);
    return ringo_json_respond(&w, 200);
}

/* POST /parse40: 40 calls of ringo_model_parse(), as a handler would for 40 parts. */
static int parse40(ringo_req *req, void *ud)
{
    ringo_str b = ringo_req_body(req);
    void *v;
    int ret = 0;

    (void)ud;
    for (int i = 0; i < 40; i++)
        ret = ringo_model_parse(req, &line_model, b.ptr, b.len, &v);
    CHECK(ringo_param_errors(req) == RINGO_MAX_ERRORS);
    return ret;
}

/* ---- registration ---- */

static int reg(const ringo_route_spec *spec, const char *pattern, uint32_t flags)
{
    ringo_app *a = fake_app_new(NULL);
    ringo_route_opts o = {.spec = spec, .flags = flags};
    int ret = ringo_route_ex(a, "POST", pattern, RINGO_ASYNC, echo_strict, NULL, &o);

    ringo_app_free(a);
    return ret;
}

struct one {
    int64_t i;
    bool has_i;
    ringo_str s;
    int e;
    struct dims d;
};

/* A model of 4-byte members, embedded at an offset that is not a multiple of 8. */
struct small {
    int a, b, c;
};

struct holder {
    int e;
    struct small s;
};

static const ringo_model small_model = {
    .name = "Small",
    RINGO_MODEL_OF(struct small),
    .fields = (const ringo_field[]){{.name = "a",
                                     RINGO_AS_ENUM(struct small, a),
                                     .values = (const char *const[]){"x", NULL},
                                     RINGO_DEFAULT_ENUM("x")},
                                    {0}},
};

static const ringo_route_spec holder_spec = {
    .body = &(const ringo_model){
        .name = "Holder",
        RINGO_MODEL_OF(struct holder),
        .fields = (const ringo_field[]){
            {.name = "s", RINGO_AS_OBJECT(struct holder, s, small_model)}, {0}}}};

#define ONE(...)                                                                                   \
    (&(const ringo_route_spec){                                                                    \
        .body = &(const ringo_model){.name = "One",                                                \
                                     RINGO_MODEL_OF(struct one),                                   \
                                     .fields = (const ringo_field[]){__VA_ARGS__, {0}}}})

/* Declarations that would recurse forever: items in a cycle, a model holding itself by value. */
struct arr {
    ringo_array a;
};

static const ringo_field loop_items = {.type = RINGO_ARRAY, .items = &loop_items};
static const ringo_route_spec loop_spec = {
    .body = &(const ringo_model){
        .name = "Loop",
        RINGO_MODEL_OF(struct arr),
        .fields = (const ringo_field[]){
            {.name = "a", RINGO_AS_ARRAY(struct arr, a), .items = &loop_items}, {0}}}};

static const ringo_model self_model;
static const ringo_model self_model = {
    .name = "Self",
    RINGO_MODEL_OF(struct dims),
    .fields =
        (const ringo_field[]){{.name = "me", .type = RINGO_OBJECT, .model = &self_model}, {0}}};
static const ringo_route_spec self_spec = {.body = &self_model};

/* A model holding itself through an array is fine. */
static const ringo_model tree_model;
static const ringo_model tree_model = {
    .name = "Tree",
    RINGO_MODEL_OF(struct arr),
    .fields = (const ringo_field[]){
        {.name = "kids",
         RINGO_AS_ARRAY(struct arr, a),
         .items = &(const ringo_field){.type = RINGO_OBJECT, .model = &tree_model},
         RINGO_DEFAULT_EMPTY},
        {0}}};
static const ringo_route_spec tree_spec = {.body = &tree_model};

static void test_registration(void)
{
    /* Well-formed: accepted. */
    CHECK(reg(&order_spec, "/o/{id}", 0) == 0);
    CHECK(reg(&holder_spec, "/x", 0) == 0);
    CHECK(reg(ONE({.name = "i",
                   RINGO_AS_INT(struct one, i),
                   .flags = RINGO_F_OPTIONAL,
                   .set = RINGO_SET_AT(struct one, has_i)}),
              "/x", 0) == 0);
    /* Optional, or nullable, with no way to tell "absent" from 0. */
    CHECK(reg(ONE({.name = "i", RINGO_AS_INT(struct one, i), .flags = RINGO_F_OPTIONAL}), "/x",
              0) == -EINVAL);
    CHECK(reg(ONE({.name = "i",
                   RINGO_AS_INT(struct one, i),
                   .flags = RINGO_F_NULLABLE,
                   RINGO_DEFAULT_INT(1)}),
              "/x", 0) == -EINVAL);
    /* Constraints of another type. */
    CHECK(reg(ONE({.name = "s", RINGO_AS_STRING(struct one, s), RINGO_GT(0)}), "/x", 0) == -EINVAL);
    CHECK(reg(ONE({.name = "i", RINGO_AS_INT(struct one, i), .max_length = 3}), "/x", 0) ==
          -EINVAL);
    CHECK(reg(ONE({.name = "s", RINGO_AS_STRING(struct one, s), .min_length = 4, .max_length = 3}),
              "/x", 0) == -EINVAL);
    /* A pattern that does not compile; an enum default outside the values. */
    CHECK(reg(ONE({.name = "s", RINGO_AS_STRING(struct one, s), .pattern = "a("}), "/x", 0) ==
          -EINVAL);
    CHECK(reg(ONE({.name = "e",
                   RINGO_AS_ENUM(struct one, e),
                   .values = colors,
                   RINGO_DEFAULT_ENUM("pink")}),
              "/x", 0) == -EINVAL);
    CHECK(reg(ONE({.name = "e", RINGO_AS_ENUM(struct one, e)}), "/x", 0) == -EINVAL);
    /* The embedded struct is not the model's. */
    CHECK(reg(ONE({.name = "d", RINGO_AS_OBJECT(struct one, d, line_model)}), "/x", 0) == -EINVAL);
    /* A field twice; a nameless one. */
    CHECK(reg(ONE({.name = "i", RINGO_AS_INT(struct one, i)},
                  {.name = "i", RINGO_AS_INT(struct one, i)}),
              "/x", 0) == -EINVAL);
    CHECK(reg(ONE({RINGO_AS_INT(struct one, i)}), "/x", 0) == -EINVAL);
    /* A path parameter not in the pattern; a body on a streamed route. */
    CHECK(reg(&order_spec, "/o/{other}", 0) == -EINVAL);
    CHECK(reg(&strict_spec, "/x", RINGO_ROUTE_STREAM_BODY) == -EINVAL);
    /* A header twice, in two cases; a query parameter may differ by case. */
    CHECK(reg(
              &(const ringo_route_spec){
                  .params =
                      &(const ringo_model){
                          .name = "H",
                          RINGO_MODEL_OF(struct qp),
                          .fields = (const ringo_field[]){{.name = "X-Q",
                                                           .in = RINGO_LOC_HEADER,
                                                           RINGO_AS_STRING(struct qp, q)},
                                                          {.name = "x-q",
                                                           .in = RINGO_LOC_HEADER,
                                                           RINGO_AS_STRING(struct qp, s)},
                                                          {0}}}},
              "/x", 0) == -EINVAL);
    CHECK(
        reg(
            &(const ringo_route_spec){
                .params =
                    &(const ringo_model){
                        .name = "Q",
                        RINGO_MODEL_OF(struct qp),
                        .fields =
                            (const ringo_field[]){
                                {.name = "Q", .in = RINGO_LOC_QUERY, RINGO_AS_STRING(struct qp, q)},
                                {.name = "q", .in = RINGO_LOC_QUERY, RINGO_AS_STRING(struct qp, s)},
                                {0}}}},
            "/x", 0) == 0);
    /* Recursion: only through an array, and a finite chain of items. */
    CHECK(reg(&tree_spec, "/x", 0) == 0);
    CHECK(reg(&loop_spec, "/x", 0) == -EINVAL);
    CHECK(reg(&self_spec, "/x", 0) == -EINVAL);
}

/* ---- requests ---- */

static void start(void)
{
    ringo_route_opts o = {.spec = &order_spec}, s = {.spec = &strict_spec},
                     opt = {.spec = &optional_spec};

    app = fake_app_new(NULL);
    CHECK(ringo_route_ex(app, "POST", "/orders/{id}", RINGO_ASYNC, echo_order, NULL, &o) == 0);
    CHECK(ringo_route_ex(app, "POST", "/strict", RINGO_ASYNC, echo_strict, NULL, &s) == 0);
    CHECK(ringo_route_ex(app, "PUT", "/optional", RINGO_ASYNC, echo_strict, NULL, &opt) == 0);
    CHECK(ringo_route(app, "POST", "/parse", RINGO_ASYNC, parse, NULL) == 0);
    CHECK(ringo_route(app, "POST", "/parse40", RINGO_ASYNC, parse40, NULL) == 0);
    CHECK(ringo_route_ex(app, "POST", "/many", RINGO_ASYNC, echo_strict, NULL,
                         &(ringo_route_opts){.spec = &many_spec}) == 0);
    fake_app_start(app);
}

static void stop(void) { fake_app_free(app); }

/* Sends one request; returns the status, the body copied into body. */
static int ask(const char *method, const char *target, const char *headers, const char *json,
               char *body, size_t cap)
{
    size_t need = strlen(json) + strlen(headers) + strlen(target) + 256;
    char *req = malloc(need);
    ringo__conn *c = fake_open();
    const char *w, *b;
    int status = 0;

    CHECK(req);
    snprintf(req, need, "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n%s", method,
             target, headers, strlen(json), json);
    fake_recv_str(c, req);
    free(req);
    w = fake_wire(c);
    CHECKF(sscanf(w, "HTTP/1.1 %d ", &status) == 1, "%s: %s", target, w);
    b = strstr(w, "\r\n\r\n");
    CHECKF(b, "%s: no end of head: %s", target, w);
    CHECKF(strlen(b + 4) < cap, "%s: body too long", target);
    strcpy(body, b + 4);
    if (status == 422)
        CHECKF(strstr(w, "\r\nContent-Type: application/json\r\n"), "%s", w);
    fake_run(c);
    fake_close(c);
    return status;
}

#define CT "Content-Type: application/json\r\n"

static void expect(const char *method, const char *target, const char *headers, const char *json,
                   int status, const char *want)
{
    static char got[65536];
    int s = ask(method, target, headers, json, got, sizeof(got));

    CHECKF(s == status && strcmp(got, want) == 0, "%s %s %s\n-> %d %s\nwant %d %s", method, target,
           json, s, got, status, want);
}

#define E(type, loc, msg, input)                                                                   \
    "{\"type\":\"" type "\",\"loc\":[" loc "],\"msg\":\"" msg "\",\"input\":" input "}"
#define EC(type, loc, msg, input, ctx)                                                             \
    "{\"type\":\"" type "\",\"loc\":[" loc "],\"msg\":\"" msg "\",\"input\":" input                \
    ",\"ctx\":" ctx "}"
#define DETAIL(...) "{\"detail\":[" __VA_ARGS__ "]}"

static void test_valid(void)
{
    /* Defaults, optional and nullable fields absent or null; lax conversions. */
    expect("POST", "/orders/7", CT, "{\"name\":\"ab\",\"count\":\"3\",\"price\":2,\"note\":null}",
           200,
           "{\"params\":{\"id\":7,\"limit\":10,\"verbose\":false,\"sort\":\"asc\","
           "\"ratio\":0.5},\"body\":{\"name\":\"ab\",\"count\":3,\"price\":2,\"flag\":true,"
           "\"color\":\"red\",\"tags\":[],\"dims\":null,\"note\":null}}");
    expect(
        "POST", "/orders/1?limit=100&verbose=yes&sort=desc",
        CT "X-Q: abc\r\nCookie: ratio=0.25\r\n",
        "{ \"name\" : \"z\", \"count\": 10.0, \"price\": 1000.25, \"flag\": \"off\", "
        "\"color\": \"blue\", \"tags\": [\"a\", \"\\u00e9t\\u00e9\"], \"lines\": "
        "[{\"sku\": \"k\", \"qty\": 2}, {\"sku\": \"\\\"q\\\"\", \"qty\": 4}], \"dims\": {\"w\": "
        "0, \"h\": 1.5}, \"note\": \"n\\n\", \"unknown\": [1, {\"x\": null}]}",
        200,
        "{\"params\":{\"id\":1,\"limit\":100,\"verbose\":true,\"sort\":\"desc\",\"x-q\":\"abc\","
        "\"ratio\":0.25},\"body\":{\"name\":\"z\",\"count\":10,\"price\":1000.25,\"flag\":false,"
        "\"color\":\"blue\",\"tags\":[\"a\",\"\xc3\xa9t\xc3\xa9\"],\"lines\":[{\"sku\":\"k\","
        "\"qty\":2},{\"sku\":\"\\\"q\\\"\",\"qty\":4}],\"dims\":{\"w\":0,\"h\":1.5},"
        "\"note\":\"n\\n\"}}");
    /* application/<x>+json, and no Content-Type at all (FastAPI reads JSON then too). */
    expect("POST", "/strict", "Content-Type: application/vnd.api+json; charset=utf-8\r\n",
           "{\"a\":true}", 200, "{\"a\":1}");
    expect("POST", "/strict", "", "{\"a\":-5}", 200, "{\"a\":-5}");
    /* An optional body may be empty. */
    expect("PUT", "/optional", CT, "", 204, "");
    expect("PUT", "/optional", CT, " null ", 204, "");
    expect("PUT", "/optional", CT, "{\"a\":1}", 200, "{\"a\":1}");
    expect("POST", "/parse", "", "{\"sku\":\"s\",\"qty\":8}", 200, "{\"sku\":\"s\",\"qty\":8}");
}

static void test_body_errors(void)
{
    /* Missing fields (input: the object), in declaration order. */
    expect("POST", "/orders/1", CT, "{}", 422,
           DETAIL(E("missing", "\"body\",\"name\"", "Field required", "{}") "," E(
               "missing", "\"body\",\"count\"", "Field required",
               "{}") "," E("missing", "\"body\",\"price\"", "Field required",
                           "{}") "," E("missing", "\"body\",\"note\"", "Field required", "{}")));
    /* Wrong types, in declaration order whatever the input's order. */
    expect(
        "POST", "/orders/1", CT,
        "{\"note\":5,\"price\":\"x\",\"count\":1.5,\"name\":[1, 2],\"flag\":2,"
        "\"color\":\"pink\",\"dims\":[]}",
        422,
        DETAIL(E("string_type", "\"body\",\"name\"", "Input should be a valid string", "[1,2]") "," E(
            "int_from_float", "\"body\",\"count\"",
            "Input should be a valid integer, got a number with a fractional part",
            "1.5") "," E("float_parsing", "\"body\",\"price\"",
                         "Input should be a valid number, unable to parse string as a number",
                         "\"x\"") "," E("bool_parsing", "\"body\",\"flag\"",
                                        "Input should be a valid boolean, unable to interpret "
                                        "input",
                                        "2") "," EC("enum", "\"body\",\"color\"",
                                                    "Input should be 'red', 'green' or 'blue'",
                                                    "\"pink\"",
                                                    "{\"expected\":\"'red', 'green' or "
                                                    "'blue'\"}") "," EC("model_type",
                                                                        "\"body\",\"dims\"",
                                                                        "Input should be a "
                                                                        "valid dictionary or "
                                                                        "instance of Dims",
                                                                        "[]",
                                                                        "{\"class_name\":"
                                                                        "\"Dims\"}") "," E("str"
                                                                                           "ing"
                                                                                           "_ty"
                                                                                           "pe",
                                                                                           "\"b"
                                                                                           "ody"
                                                                                           "\","
                                                                                           "\"n"
                                                                                           "ote"
                                                                                           "\"",
                                                                                           "Inp"
                                                                                           "ut "
                                                                                           "sho"
                                                                                           "uld"
                                                                                           " be"
                                                                                           " a "
                                                                                           "val"
                                                                                           "id "
                                                                                           "str"
                                                                                           "in"
                                                                                           "g",
                                                                                           "5")));
    /* Bounds, lengths, pattern, nested loc paths and array indexes. */
    expect("POST", "/orders/1", CT,
           "{\"name\":\"ABC\",\"count\":11,\"price\":0,\"note\":\"\",\"tags\":[\"abcd\",true],"
           "\"lines\":[{\"sku\":\"\",\"qty\":3},{\"qty\":-2}],\"dims\":{\"w\":-1e-7,\"h\":null}}",
           422,
           DETAIL(
               EC(
                   "string_pattern_mismatch", "\"body\",\"name\"",
                   "String should match pattern '^[a-z]+$'", "\"ABC\"",
                   "{\"pattern\":\"^[a-z]+$\"}") "," EC("less_than_equal", "\"body\",\"count\"",
                                                        "Input should be less than or equal to 10",
                                                        "11",
                                                        "{\"le\":10}") "," EC("greater_than",
                                                                              "\"body\",\"price\"",
                                                                              "Input should be "
                                                                              "greater than 0",
                                                                              "0", "{\"gt\":0}") "," EC("string_too_long",
                                                                                                        "\"body\",\"tags\",0", "String should have at most 3 characters", "\"abcd\"", "{\"max_length\":3}") "," E("string_type", "\"body\",\"tags\",1", "Input should be a valid string", "true") "," EC("string_too_short", "\"body\",\"lines\",0,\"sku\"", "String should have at least 1 character", "\"\"", "{\"min_length\":1}") "," EC("multiple_of",
                                                                                                                                                                                                                                                                                                                                                                                                                                             "\"body\",\"lines\",0,\"qty\"",
                                                                                                                                                                                                                                                                                                                                                                                                                                             "Input should be a multiple of 2",
                                                                                                                                                                                                                                                                                                                                                                                                                                             "3",
                                                                                                                                                                                                                                                                                                                                                                                                                                             "{\"multiple_of\":2}") "," E("missing",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "\"body\",\"lines\",1,\"sku\"",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "Field required",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "{\"qty\":-2}") "," EC("greater_than",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "\"body\",\"lines\",1,\"qty\"", "Input should be greater than 0", "-2", "{\"gt\":0}") "," EC("greater_than_equal", "\"body\",\"dims\",\"w\"", "Input should be greater than or equal to 0", "-1e-07", "{\"ge\":0}") "," E("float_type",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "\"body\",\"dims\",\"h\"",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "Input should be a valid number",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "null")));
    /* List lengths: too_long replaces the items' own errors, as pydantic stops there. */
    expect("POST", "/orders/1", CT,
           "{\"name\":\"a\",\"count\":0,\"price\":1000.5,\"note\":null,\"tags\":[\"a\",5,\"c\"],"
           "\"lines\":[]}",
           422,
           DETAIL(EC(
               "less_than", "\"body\",\"price\"", "Input should be less than 1000.5", "1000.5",
               "{\"lt\":1000.5}") "," EC("too_long", "\"body\",\"tags\"",
                                         "List should have at most 2 items after validation, not 3",
                                         "[\"a\",5,\"c\"]",
                                         "{\"field_type\":\"List\",\"max_length\":2,\"actual_"
                                         "length\":3}") "," EC("too_short", "\"body\",\"lines\"",
                                                               "List should have at least 1 item "
                                                               "after validation, not 0",
                                                               "[]",
                                                               "{\"field_type\":\"List\",\"min_"
                                                               "length\":1,\"actual_length\":0}")));
    /* Not a list; integers beyond int64_t; a number for an int. */
    expect("POST", "/strict", CT, "{\"a\":123456789012345678901234567890}", 422,
           DETAIL(EC("less_than_equal", "\"body\",\"a\"",
                     "Input should be less than or equal to 9223372036854775807",
                     "123456789012345678901234567890", "{\"le\":9223372036854775807}")));
    expect("POST", "/strict", CT, "{\"a\":\"12x\"}", 422,
           DETAIL(E("int_parsing", "\"body\",\"a\"",
                    "Input should be a valid integer, unable to parse string as an integer",
                    "\"12x\"")));
    expect(
        "POST", "/strict", CT, "{\"a\":{\"b\":[]}}", 422,
        DETAIL(E("int_type", "\"body\",\"a\"", "Input should be a valid integer", "{\"b\":[]}")));
    /* Unknown members: forbidden here, after the fields' errors. */
    expect("POST", "/strict", CT, "{\"z\":1,\"a\":null,\"y\":{\"k\":\"v\"}}", 422,
           DETAIL(E("int_type", "\"body\",\"a\"", "Input should be a valid integer", "null") "," E(
               "extra_forbidden", "\"body\",\"z\"", "Extra inputs are not permitted",
               "1") "," E("extra_forbidden", "\"body\",\"y\"", "Extra inputs are not permitted",
                          "{\"k\":\"v\"}")));
    /* The body itself: not an object, null, empty. */
    expect("POST", "/strict", CT, "[1]", 422,
           DETAIL(E("model_attributes_type", "\"body\"",
                    "Input should be a valid dictionary or object to extract fields from", "[1]")));
    expect("POST", "/strict", CT, "null", 422,
           DETAIL(E("missing", "\"body\"", "Field required", "null")));
    expect("POST", "/strict", CT, "", 422,
           DETAIL(E("missing", "\"body\"", "Field required", "null")));
    /* ringo_model_parse() reports the same way. */
    expect("POST", "/parse", "", "{\"qty\":0}", 422,
           DETAIL(E("missing", "\"body\",\"sku\"", "Field required",
                    "{\"qty\":0}") "," EC("greater_than", "\"body\",\"qty\"",
                                          "Input should be greater than 0", "0", "{\"gt\":0}")));
}

static void test_malformed(void)
{
    /* One json_invalid, at the character (not byte) position; other errors dropped. */
    expect("POST", "/orders/x", CT, "{\"name\": 1,}", 422,
           DETAIL(EC("json_invalid", "\"body\",11", "JSON decode error", "{}",
                     "{\"error\":\"Expecting property name enclosed in double quotes\"}")));
    expect("POST", "/strict", CT, "{\"a\":\"\xc3\xa9\xc3\xa9\",]", 422,
           DETAIL(EC("json_invalid", "\"body\",10", "JSON decode error", "{}",
                     "{\"error\":\"Expecting property name enclosed in double quotes\"}")));
    expect("POST", "/strict", CT, "{\"a\":1,\"a\":2}", 422,
           DETAIL(EC("json_invalid", "\"body\",7", "JSON decode error", "{}",
                     "{\"error\":\"Duplicate key\"}")));
    /* Not JSON at all: 415 (FastAPI: 422). */
    expect("POST", "/strict", "Content-Type: text/plain\r\n", "{\"a\":1}", 415,
           "{\"detail\":\"Content-Type must be application/json\"}");
}

static void test_param_errors(void)
{
    expect(
        "POST", "/orders/0?limit=x&verbose=maybe&sort=up", CT "X-Q: abcd\r\nCookie: ratio=1\r\n",
        "{\"name\":\"a\",\"count\":0,\"price\":1,\"note\":null}", 422,
        DETAIL(
            EC("greater_than_equal", "\"path\",\"id\"", "Input should be greater than or equal to 1", "\"0\"", "{\"ge\":1}") "," E(
                "int_parsing", "\"query\",\"limit\"",
                "Input should be a valid integer, unable to parse string as an "
                "integer",
                "\"x\"") "," E("bool_parsing", "\"query\",\"verbose\"",
                               "Input should be a valid boolean, unable to "
                               "interpret input",
                               "\"maybe\"") "," EC("enum", "\"query\",\"sort\"",
                                                   "Input should be 'asc' or "
                                                   "'desc'",
                                                   "\"up\"",
                                                   "{\"expected\":\"'asc' or "
                                                   "'desc'\"}") "," EC("string_too_"
                                                                       "long",
                                                                       "\"header\","
                                                                       "\"x-q\"",
                                                                       "String "
                                                                       "should "
                                                                       "have at "
                                                                       "most 3 "
                                                                       "characters",
                                                                       "\"abcd\"",
                                                                       "{\"max_"
                                                                       "length\":"
                                                                       "3}") "," EC("less_than",
                                                                                    "\"cookie\","
                                                                                    "\"ratio\"",
                                                                                    "Input should "
                                                                                    "be less than "
                                                                                    "1",
                                                                                    "\"1\"",
                                                                                    "{\"lt\":1}")));
    /* Parameters' errors come before the body's, as FastAPI lists them. */
    expect("POST", "/orders/abc", CT, "{\"name\":\"a\",\"count\":0,\"price\":1}", 422,
           DETAIL(E("int_parsing", "\"path\",\"id\"",
                    "Input should be a valid integer, unable to parse string as an integer",
                    "\"abc\"") "," E("missing", "\"body\",\"note\"", "Field required",
                                     "{\"name\":\"a\",\"count\":0,\"price\":1}")));
}

/* A key with a NUL in it is its own key, never a declared field's name with a tail. */
static void test_nul_key(void)
{
    expect("POST", "/strict", CT, "{\"a\":1,\"a\\u0000\":7}", 422,
           DETAIL(E("extra_forbidden", "\"body\",\"a\\u0000\"", "Extra inputs are not permitted",
                    "7")));
    expect("POST", "/strict", CT, "{\"a\\u0000\":7}", 422,
           DETAIL(E("missing", "\"body\",\"a\"", "Field required", "{\"a\\u0000\":7}") "," E(
               "extra_forbidden", "\"body\",\"a\\u0000\"", "Extra inputs are not permitted", "7")));
}

/* A NUL in a value never lets the rest of it past a pattern (regexec sees a C string). */
static void test_nul_pattern(void)
{
    expect("POST", "/orders/1?s=ab%00%3Cx%3E", CT,
           "{\"name\":\"ab\\u0000<\",\"count\":0,\"price\":1,\"note\":null}", 422,
           DETAIL(EC("string_pattern_mismatch", "\"query\",\"s\"",
                     "String should match pattern '^[a-z]+$'", "\"ab\\u0000<x>\"",
                     "{\"pattern\":\"^[a-z]+$\"}") "," EC("string_pattern_mismatch",
                                                          "\"body\",\"name\"",
                                                          "String should match pattern '^[a-z]+$'",
                                                          "\"ab\\u0000<\"",
                                                          "{\"pattern\":\"^[a-z]+$\"}")));
}

/* Invalid UTF-8 in a parameter: U+FFFD in the 422 (valid JSON), and in the length counted. */
static void test_param_utf8(void)
{
    expect(
        "POST", "/orders/1?limit=%FF&s=%C3%A9%E2%82", CT "X-Q: ab\x80\x80\r\n",
        "{\"name\":\"a\",\"count\":0,\"price\":1,\"note\":null}", 422,
        DETAIL(E(
            "int_parsing", "\"query\",\"limit\"",
            "Input should be a valid integer, unable to parse string as an integer",
            "\"\xef\xbf\xbd\"") "," EC("string_too_long", "\"header\",\"x-q\"",
                                       "String should have at most 3 characters",
                                       "\"ab\xef\xbf\xbd\xef\xbf\xbd\"",
                                       "{\"max_length\":3}") "," EC("string_pattern_mismatch",
                                                                    "\"query\",\"s\"",
                                                                    "String should match pattern "
                                                                    "'^[a-z]+$'",
                                                                    "\"\xc3\xa9\xef\xbf\xbd\"",
                                                                    "{\"pattern\":\"^[a-z]+$\"}")));
}

/* A list too short whose items have errors reports only those, as pydantic does. */
static void test_short_list_items(void)
{
    const char *b = "{\"name\":\"a\",\"count\":0,\"price\":1,\"note\":null,\"tags\":[%s]}";
    char json[256];

    snprintf(json, sizeof(json), b, "\"abcd\"");
    expect("POST", "/orders/1", CT, json, 422,
           DETAIL(EC("string_too_long", "\"body\",\"tags\",0",
                     "String should have at most 3 characters", "\"abcd\"", "{\"max_length\":3}")));
    snprintf(json, sizeof(json), b, "\"abc\"");
    expect("POST", "/orders/1", CT, json, 422,
           DETAIL(EC("too_short", "\"body\",\"tags\"",
                     "List should have at least 2 items after validation, not 1", "[\"abc\"]",
                     "{\"field_type\":\"List\",\"min_length\":2,\"actual_length\":1}")));
}

/* The bound holds for the request, over any number of ringo_model_parse() calls. */
static void test_parse_bounded(void)
{
    static char got[65536];
    const char *e = got;
    int n = 0;

    CHECK(ask("POST", "/parse40", CT, "{}", got, sizeof(got)) == 422);
    while ((e = strstr(e, "\"type\":\"missing\"")))
        n++, e++;
    CHECKF(n == RINGO_MAX_ERRORS, "%d errors", n);
}

/* 40 parameters' errors and 40 of the body's: the first 64, parameters' first. */
static void test_bounded(void)
{
    static char body[2048], want[16384], got[65536];
    char *p = body, *w = want;

    p += sprintf(p, "{\"a\":1");
    for (int i = 0; i < 40; i++)
        p += sprintf(p, ",\"x%d\":%d", i, i);
    strcpy(p, "}");
    w += sprintf(w, "{\"detail\":[");
    for (int i = 0; i < 40; i++)
        w += sprintf(w, "%s" E("missing", "\"query\",\"q%d\"", "Field required", "null"),
                     i ? "," : "", i);
    for (int i = 0; i < 24; i++)
        w += sprintf(
            w, "," E("extra_forbidden", "\"body\",\"x%d\"", "Extra inputs are not permitted", "%d"),
            i, i);
    strcpy(w, "]}");
    CHECK(ask("POST", "/many", CT, body, got, sizeof(got)) == 422);
    CHECKF(strcmp(got, want) == 0, "got %s\nwant %s", got, want);
}

/* Each "missing" echoes its object: the inputs a 422 echoes are bounded by the body's size. */
static void test_input_bound(void)
{
    enum { N = 200000 };
    static char body[N + 64], got[4 * N];
    const char *e = got;
    int n = 0;

    snprintf(body, sizeof(body), "{\"pad\":\"%0*d\"}", N, 0);
    CHECK(ask("POST", "/orders/1", CT, body, got, sizeof(got)) == 422);
    while ((e = strstr(e, "\"type\":\"missing\"")))
        n++, e++;
    /* name and count fit in twice the body plus 64 KiB; price and note are dropped. */
    CHECKF(n == 2 && strlen(got) < 2 * N + 1024, "%d errors, %zu bytes", n, strlen(got));
    CHECK(strstr(got, "\"loc\":[\"body\",\"count\"]"));
}

int main(void)
{
    test_registration();
    start();
    test_valid();
    test_body_errors();
    test_malformed();
    test_param_errors();
    test_bounded();
    test_nul_key();
    test_nul_pattern();
    test_param_utf8();
    test_input_bound();
    test_short_list_items();
    test_parse_bounded();
    stop();
    return 0;
}
