/*
 * Description: the OpenAPI document (http/openapi.c, http/openapi_ops.c) and
 * the docs page (http/docs.c), on the in-memory core of fake_core.h.
 * ringo_app_openapi() refuses bad options (-EINVAL), a second call
 * (-EALREADY), a taken path (-EEXIST), a missing ui_dir (-ENOENT) and a
 * call after start (-EBUSY). The document of an app with every kind of
 * declaration holds exactly the expected JSON for each: an undeclared
 * route's path parameters as strings, a catch-all as {rest}, enums,
 * defaults, nullable values as anyOf with null, nested models and arrays
 * of them as $ref into components (a recursive model once), forbidden
 * extras, bounds as integers or numbers, header and cookie parameters,
 * responses with and without models, 422 only where something is
 * validated, an API-key scheme reached through a dependency's dependency;
 * static mounts, "*" routes, WebSocket-less custom methods and hidden
 * routes are left out, and operationIds are unique. Two models or two
 * security schemes of one name, or an operation_id given twice, fail
 * ringo_app_start() with -EINVAL. The page escapes the title and the
 * document's URL. GET /openapi.json and /docs answer through the core.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"

static int handler(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_respond(req, 200, "text/plain", "ok", 2);
}

static int dep_fn(ringo_req *req, void **value, void *udata)
{
    (void)req;
    *value = udata;
    return 0;
}

/* ---- declarations ---- */

struct line {
    ringo_str sku;
    int64_t qty;
    ringo_array children; /* struct line: a recursive model */
};
struct order {
    int kind;
    bool has_note;
    ringo_str note;
    double ratio;
    ringo_array lines;
    int64_t count;
};
struct order_params {
    int64_t id;
    ringo_str trace, session;
    bool has_trace;
};

static const char *const kinds[] = {"a", "b", NULL};
static const ringo_model line_model;
static const ringo_field line_item = {.type = RINGO_OBJECT, .model = &line_model};
static const ringo_field line_fields[] = {
    {.name = "sku", RINGO_AS_STRING(struct line, sku), .min_length = 1},
    {.name = "qty", RINGO_AS_INT(struct line, qty), RINGO_GT(0), RINGO_LE(1e6)},
    {.name = "children",
     RINGO_AS_ARRAY(struct line, children),
     .items = &line_item,
     RINGO_DEFAULT_EMPTY},
    {0}};
static const ringo_model line_model = {
    .name = "Line", RINGO_MODEL_OF(struct line), .fields = line_fields};
static const ringo_field order_fields[] = {
    {.name = "kind", RINGO_AS_ENUM(struct order, kind), .values = kinds, RINGO_DEFAULT_ENUM("a")},
    {.name = "note",
     RINGO_AS_STRING(struct order, note),
     .set = RINGO_SET_AT(struct order, has_note),
     .flags = RINGO_F_NULLABLE | RINGO_F_OPTIONAL,
     .pattern = "^[a-z]+$",
     .description = "A \"note\""},
    {.name = "ratio",
     RINGO_AS_NUMBER(struct order, ratio),
     RINGO_GE(-1.5),
     RINGO_LT(1),
     .multiple_of = 0.25},
    {.name = "lines",
     RINGO_AS_ARRAY(struct order, lines),
     .items = &line_item,
     .min_items = 1,
     .max_items = 5},
    {.name = "count",
     RINGO_AS_INT(struct order, count),
     .flags = RINGO_F_DEPRECATED,
     RINGO_DEFAULT_INT(3)},
    {0}};
static const ringo_model order_model = {.name = "Order",
                                        RINGO_MODEL_OF(struct order),
                                        .fields = order_fields,
                                        .flags = RINGO_MODEL_FORBID_EXTRA,
                                        .description = "An order"};
static const ringo_field order_param_fields[] = {
    {.name = "id", .in = RINGO_LOC_PATH, RINGO_AS_INT(struct order_params, id), RINGO_GE(1)},
    {.name = "X-Trace",
     .in = RINGO_LOC_HEADER,
     RINGO_AS_STRING(struct order_params, trace),
     .set = RINGO_SET_AT(struct order_params, has_trace),
     .flags = RINGO_F_OPTIONAL},
    {.name = "session", .in = RINGO_LOC_COOKIE, RINGO_AS_STRING(struct order_params, session)},
    {0}};
static const ringo_model order_params = {RINGO_MODEL_OF(struct order_params),
                                         .fields = order_param_fields};
static const char *const order_tags[] = {"orders", NULL};
static const ringo_response_spec created[] = {
    {.status = 201, .description = "Created", .model = &order_model}, {.status = 409}, {0}};
static const ringo_route_spec post_order = {.body = &order_model,
                                            .responses = created,
                                            .tags = order_tags,
                                            .summary = "Create an order",
                                            .operation_id = "create_order",
                                            .flags = RINGO_SPEC_DEPRECATED};
static const ringo_route_spec get_order = {.params = &order_params, .tags = order_tags};
static const ringo_route_spec hidden = {.flags = RINGO_SPEC_HIDDEN};
static const ringo_route_spec patch_order = {.body = &order_model,
                                             .flags = RINGO_SPEC_BODY_OPTIONAL};
static const ringo_security api_key = {.name = "ApiKey",
                                       .kind = RINGO_SECURITY_API_KEY,
                                       .in = RINGO_LOC_HEADER,
                                       .key_name = "X-API-Key"};

/* ---- helpers ---- */

static void route(ringo_app *app, const char *method, const char *pattern,
                  const ringo_route_spec *spec, const char *const *needs)
{
    ringo_route_opts o = {.spec = spec, .needs = needs};

    CHECKF(ringo_route_ex(app, method, pattern, RINGO_ASYNC, handler, NULL, &o) == 0, "%s %s",
           method, pattern);
}

static void has(const char *doc, const char *want)
{
    CHECKF(strstr(doc, want) != NULL, "the document lacks %s:\n%s", want, doc);
}

static void lacks(const char *doc, const char *bad)
{
    CHECKF(strstr(doc, bad) == NULL, "the document holds %s:\n%s", bad, doc);
}

/* ---- cases ---- */

static void refusals(void)
{
    ringo_app *app = fake_app_new(NULL);
    ringo_openapi_opts o = {.json_path = "openapi.json"};

    CHECK(ringo_app_openapi(NULL, NULL) == -EINVAL);
    CHECK(ringo_app_openapi(app, &o) == -EINVAL);
    o.json_path = "/a/{x}";
    CHECK(ringo_app_openapi(app, &o) == -EINVAL);
    o = (ringo_openapi_opts){.ui_dir = ""};
    CHECK(ringo_app_openapi(app, &o) == -EINVAL);
    o = (ringo_openapi_opts){.reserved = {0, 0, 0, 1}};
    CHECK(ringo_app_openapi(app, &o) == -EINVAL);
    CHECK(ringo_app_openapi_json(app, NULL) == NULL);
    route(app, "GET", "/openapi.json", NULL, NULL);
    CHECK(ringo_app_openapi(app, NULL) == -EEXIST);
    ringo_app_free(app);

    app = fake_app_new(NULL);
    o = (ringo_openapi_opts){.ui_dir = "/nonexistent/swagger-ui-dist"};
    CHECK(ringo_app_openapi(app, &o) == -ENOENT);
    ringo_app_free(app);

    app = fake_app_new(NULL);
    CHECK(ringo_app_openapi(app, NULL) == 0);
    CHECK(ringo_app_openapi(app, NULL) == -EALREADY);
    fake_app_start(app);
    CHECK(ringo_app_openapi_json(app, NULL) != NULL);
    fake_app_free(app);

    app = fake_app_new(NULL);
    fake_app_start(app);
    CHECK(ringo_app_openapi(app, NULL) == -EBUSY);
    CHECK(ringo_app_openapi_json(app, NULL) == NULL);
    fake_app_free(app);
}

static void document(void)
{
    static const char *const need_auth[] = {"auth", NULL}, *const need_key[] = {"key", NULL};
    static const ringo_openapi_server servers[] = {{"/v1", "Version 1"}, {NULL, NULL}};
    static const ringo_openapi_tag tags[] = {{"orders", "Orders"}, {NULL, NULL}};
    const ringo_dep_opts key_opts = {.security = &api_key}, auth_opts = {.needs = need_key};
    const ringo_openapi_opts oo = {.title = "T", .version = "9", .servers = servers, .tags = tags};
    ringo_app *app = fake_app_new(NULL);
    ringo_dep *d;
    const char *doc;
    size_t len;

    CHECK(ringo_dep_new(&d, app, "key", dep_fn, NULL, &key_opts) == 0);
    CHECK(ringo_dep_new(&d, app, "auth", dep_fn, NULL, &auth_opts) == 0);
    route(app, "GET", "/", NULL, NULL);
    route(app, "GET", "/files/{rest...}", NULL, NULL);
    route(app, "GET", "/u/{a}/{b}", NULL, NULL);
    route(app, "POST", "/orders", &post_order, NULL);
    route(app, "GET", "/orders/{id}", &get_order, need_auth);
    route(app, "DELETE", "/orders/{id}", NULL, NULL);
    route(app, "PATCH", "/orders", &patch_order, NULL);
    route(app, "PROPFIND", "/dav", NULL, NULL);
    route(app, "*", "/any", NULL, NULL);
    route(app, "GET", "/hidden", &hidden, NULL);
    route(app, "GET", "/a-b", NULL, NULL);
    route(app, "GET", "/a_b", NULL, NULL);
    route(app, "GET", "/g/{p}", NULL, NULL);
    route(app, "GET", "/g/{p...}", NULL, NULL); /* the same OpenAPI path and method: left out */
    route(app, "POST", "/g/{p...}", NULL, NULL);
    CHECK(ringo_static(app, "/static", RINGO_SOURCE_DIR "/examples/static", NULL) == 0);
    CHECK(ringo_app_openapi(app, &oo) == 0);
    fake_app_start(app);
    doc = ringo_app_openapi_json(app, &len);
    CHECK(doc && strlen(doc) == len);
    has(doc, "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"T\",\"version\":\"9\"},"
             "\"servers\":[{\"url\":\"/v1\",\"description\":\"Version 1\"}],\"paths\":{\"/\":");
    has(doc, "\"/files/{rest}\":{\"get\":{\"operationId\":\"get_files_rest\",\"parameters\":[{"
             "\"name\":\"rest\",\"in\":\"path\",\"required\":true,\"description\":");
    has(doc, "\"parameters\":[{\"name\":\"a\",\"in\":\"path\",\"required\":true,\"schema\":{"
             "\"type\":\"string\"}},{\"name\":\"b\",");
    /* The body, its responses, 422. */
    has(doc,
        "\"/orders\":{\"post\":{\"tags\":[\"orders\"],\"summary\":\"Create an order\","
        "\"operationId\":\"create_order\",\"requestBody\":{\"content\":{\"application/json\":"
        "{\"schema\":{\"$ref\":\"#/components/schemas/Order\"}}},\"required\":true},"
        "\"responses\":{\"201\":{\"description\":\"Created\",\"content\":{"
        "\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Order\"}}}},"
        "\"409\":{\"description\":\"Conflict\"},\"422\":{\"description\":\"Validation Error\"");
    has(doc, "\"deprecated\":true}");
    has(doc, "\"patch\":{\"operationId\":\"patch_orders\",\"requestBody\":{\"content\":{"
             "\"application/json\":{\"schema\":{\"anyOf\":[{\"$ref\":\"#/components/schemas/"
             "Order\"},{\"type\":\"null\"}]}}},\"required\":false}");
    /* Parameters in the path, a header and a cookie; security through a dependency's need. */
    has(doc, "\"parameters\":[{\"name\":\"id\",\"in\":\"path\",\"required\":true,\"schema\":{"
             "\"type\":\"integer\",\"minimum\":1}},{\"name\":\"X-Trace\",\"in\":\"header\","
             "\"required\":false,\"schema\":{\"type\":\"string\"}},{\"name\":\"session\","
             "\"in\":\"cookie\",\"required\":true,\"schema\":{\"type\":\"string\"}}]");
    has(doc, "\"security\":[{\"ApiKey\":[]}]");
    has(doc, "\"delete\":{\"operationId\":\"delete_orders_id\",\"parameters\":[{\"name\":\"id\","
             "\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\"}}],\"responses\":{"
             "\"200\":{\"description\":\"Successful Response\"}}}");
    /* The models. */
    has(doc, "\"Order\":{\"type\":\"object\",\"title\":\"Order\",\"description\":\"An order\","
             "\"properties\":{\"kind\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"],"
             "\"default\":\"a\"},\"note\":{\"anyOf\":[{\"type\":\"string\",\"pattern\":"
             "\"^[a-z]+$\"},{\"type\":\"null\"}],\"description\":\"A \\\"note\\\"\"},"
             "\"ratio\":{\"type\":\"number\",\"minimum\":-1.5,\"exclusiveMaximum\":1,"
             "\"multipleOf\":0.25},\"lines\":{\"type\":\"array\",\"items\":{\"$ref\":"
             "\"#/components/schemas/Line\"},\"minItems\":1,\"maxItems\":5},\"count\":{\"type\":"
             "\"integer\",\"default\":3,\"deprecated\":true}},\"required\":[\"ratio\",\"lines\"],"
             "\"additionalProperties\":false}");
    has(doc, "\"Line\":{\"type\":\"object\",\"title\":\"Line\",\"properties\":{\"sku\":{\"type\":"
             "\"string\",\"minLength\":1},\"qty\":{\"type\":\"integer\",\"exclusiveMinimum\":0,"
             "\"maximum\":1000000},\"children\":{\"type\":\"array\",\"items\":{\"$ref\":"
             "\"#/components/schemas/Line\"},\"default\":[]}},\"required\":[\"sku\",\"qty\"]}");
    has(doc, "\"HTTPValidationError\":{");
    has(doc, "\"securitySchemes\":{\"ApiKey\":{\"type\":\"apiKey\",\"name\":\"X-API-Key\","
             "\"in\":\"header\"}}");
    has(doc, "\"tags\":[{\"name\":\"orders\",\"description\":\"Orders\"}]}");
    has(doc, "\"operationId\":\"get_a_b\"");
    has(doc, "\"operationId\":\"get_a_b_2\"");
    has(doc, "\"/g/{p}\":{\"get\":{\"operationId\":\"get_g_p\",");
    has(doc, "}}},\"post\":{\"operationId\":\"post_g_p\",");
    CHECKF(strstr(strstr(doc, "\"/g/{p}\"") + 1, "\"/g/{p}\"") == NULL, "%s", strstr(doc, "\"/g/"));
    lacks(doc, "get_g_p_2");
    /* Left out. */
    lacks(doc, "/dav");
    lacks(doc, "/any");
    lacks(doc, "/hidden");
    lacks(doc, "/static");
    lacks(doc, "\"/openapi.json\"");
    lacks(doc, "{rest...}");
    {
        /* 422 only where something is validated: /orders (POST, PATCH), GET /orders/{id}. */
        unsigned n = 0;
        for (const char *p = doc; (p = strstr(p, "\"422\"")); p++)
            n++;
        CHECKF(n == 3, "%u operations list a 422", n);
    }
    fake_app_free(app);
}

/* A document that cannot be written fails the start with -EINVAL. */
static void start_fails(const ringo_route_spec *a, const ringo_route_spec *b,
                        const ringo_security *sa, const ringo_security *sb)
{
    static const char *const need_a[] = {"a", NULL}, *const need_b[] = {"b", NULL};
    const ringo_dep_opts oa = {.security = sa}, ob = {.security = sb};
    ringo_config cfg;
    ringo_app *app;
    ringo_dep *d;

    ringo_config_init(&cfg);
    cfg.quiet = 1;
    app = fake_app_new(&cfg);
    CHECK(ringo_dep_new(&d, app, "a", dep_fn, NULL, &oa) == 0);
    CHECK(ringo_dep_new(&d, app, "b", dep_fn, NULL, &ob) == 0);
    route(app, "GET", "/a", a, sa ? need_a : NULL);
    route(app, "GET", "/b", b, sb ? need_b : NULL);
    CHECK(ringo_app_openapi(app, NULL) == 0);
    CHECK(ringo_app_start(app) == -EINVAL);
    ringo_app_free(app);
}

static void conflicts(void)
{
    static const ringo_model other = {
        .name = "Order", RINGO_MODEL_OF(struct line), .fields = line_fields};
    static const ringo_route_spec s1 = {.body = &order_model}, s2 = {.body = &other},
                                  id1 = {.operation_id = "x"}, id2 = {.operation_id = "x"};
    static const ringo_security k1 = {.name = "K", .kind = RINGO_SECURITY_BEARER},
                                k2 = {.name = "K", .kind = RINGO_SECURITY_BASIC};
    const ringo_security bad = {.name = "K", .kind = RINGO_SECURITY_API_KEY};
    const ringo_dep_opts bo = {.security = &bad};
    ringo_app *app = fake_app_new(NULL);
    ringo_dep *d;

    start_fails(&s1, &s2, NULL, NULL);
    start_fails(&id1, &id2, NULL, NULL);
    start_fails(NULL, NULL, &k1, &k2);
    CHECK(ringo_dep_new(&d, app, "k", dep_fn, NULL, &bo) == -EINVAL); /* no key_name */
    ringo_app_free(app);
}

static void served(void)
{
    const ringo_openapi_opts oo = {.title = "<b>&\"", .json_path = "/x/</script>.json"};
    ringo_app *app = fake_app_new(NULL);
    ringo__conn *c;
    const char *w;

    route(app, "GET", "/", NULL, NULL);
    CHECK(ringo_app_openapi(app, &oo) == 0);
    fake_app_start(app);
    c = fake_open();
    fake_recv_str(c, "GET /docs HTTP/1.1\r\nHost: x\r\n\r\n");
    fake_run(c);
    w = fake_wire(c);
    CHECKF(strstr(w, "HTTP/1.1 200 OK\r\n") == w, "%s", w);
    has(w, "Content-Type: text/html; charset=utf-8\r\n");
    has(w, "<title>&lt;b&gt;&amp;&quot; - Swagger UI</title>");
    has(w, "url: \"/x/\\u003c/script\\u003e.json\",");
    lacks(w, "</script>.json");
    fake_wire_clear(c);
    fake_recv_str(c, "GET /x/%3C/script%3E.json HTTP/1.1\r\nHost: x\r\n\r\n");
    fake_run(c);
    w = fake_wire(c);
    has(w, "Content-Type: application/json\r\n");
    has(w, "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"<b>&\\\"\",\"version\":\"0.1.0\"}");
    fake_close(c);
    fake_app_free(app);
}

int main(void)
{
    refusals();
    document();
    conflicts();
    served();
    printf("openapi_test: ok\n");
    return 0;
}
