/*
 * examples/demo_products.c - declared routes with a JSON body model: an
 * in-memory product store (FastAPI's tutorial "Request Body" in C).
 *
 *   POST /products            body Product -> 201 {"id":1, ...the item as stored}
 *   GET  /products/{id}       -> 200 the item, 404
 *   PUT  /products/{id}       body Product -> 200 the item replaced, 404
 *   POST /strict/products     the same model, unknown members forbidden
 *   /sync/products...         the same routes as RINGO_SYNC handlers (the pool)
 *
 * The store is one array under a mutex, shared by every ring and pool
 * worker: an id read on any connection sees what any other wrote. It keeps
 * the newest MAX_PRODUCTS items (ids are never reused; an older one answers
 * 404). Items are kept as their JSON text (written once by
 * ringo_json_model()), so a GET copies bytes and converts nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

/* Products kept: the newest ones (a benchmark posts millions); older ids answer 404. */
#define MAX_PRODUCTS 10000

struct dims {
    double w, h;
};

struct product {
    int64_t id; /* the stored item's, not the request's */
    ringo_str name;
    double price;
    ringo_array tags; /* of ringo_str */
    bool in_stock;
    bool has_dims;
    struct dims dims;
};

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

/* The request's fields; the stored item has an id in front of them. */
#define PRODUCT_FIELDS                                                                             \
    {.name = "name",                                                                               \
     RINGO_AS_STRING(struct product, name),                                                        \
     .min_length = 1,                                                                              \
     .max_length = 50,                                                                             \
     .description = "Display name"},                                                               \
        {.name = "price", RINGO_AS_NUMBER(struct product, price), RINGO_GT(0)},                    \
        {.name = "tags",                                                                           \
         RINGO_AS_ARRAY(struct product, tags),                                                     \
         .items = &(const ringo_field){.type = RINGO_STRING},                                      \
         .max_items = 10,                                                                          \
         RINGO_DEFAULT_EMPTY},                                                                     \
        {.name = "in_stock", RINGO_AS_BOOL(struct product, in_stock), RINGO_DEFAULT_BOOL(true)},   \
        {.name = "dims",                                                                           \
         RINGO_AS_OBJECT(struct product, dims, dims_model),                                        \
         .flags = RINGO_F_OPTIONAL | RINGO_F_NULLABLE,                                             \
         .set = RINGO_SET_AT(struct product, has_dims)},                                           \
    {                                                                                              \
        0                                                                                          \
    }

static const ringo_model product_in = {
    .name = "ProductIn",
    RINGO_MODEL_OF(struct product),
    .fields = (const ringo_field[]){PRODUCT_FIELDS},
};

static const ringo_model product_strict = {
    .name = "ProductStrict",
    RINGO_MODEL_OF(struct product),
    .fields = (const ringo_field[]){PRODUCT_FIELDS},
    .flags = RINGO_MODEL_FORBID_EXTRA,
};

static const ringo_model product_out = {
    .name = "Product",
    RINGO_MODEL_OF(struct product),
    .fields =
        (const ringo_field[]){{.name = "id", RINGO_AS_INT(struct product, id)}, PRODUCT_FIELDS},
};

struct product_id {
    int64_t id;
};

static const ringo_model product_id = {
    .name = "ProductId",
    RINGO_MODEL_OF(struct product_id),
    .fields = (const ringo_field[]){{.name = "id",
                                     .in = RINGO_LOC_PATH,
                                     RINGO_AS_INT(struct product_id, id),
                                     .description = "The id POST /products answered"},
                                    {0}},
};

/* ---- the store ---- */

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static char *store[MAX_PRODUCTS]; /* item id at (id - 1) % MAX_PRODUCTS: its JSON (malloc) */
static size_t lens[MAX_PRODUCTS];
static int64_t last_id; /* ids handed out so far */

/* The slot of a live id, or -1. */
static int64_t slot(int64_t id)
{
    return id >= 1 && id <= last_id && id > last_id - MAX_PRODUCTS ? (id - 1) % MAX_PRODUCTS : -1;
}

/* Serializes p (its id set) into a malloc()ed text: 0 or -ENOMEM. */
static int to_json(const struct product *p, char **out, size_t *len)
{
    ringo_json_w w;
    int ret;

    ringo_json_begin_malloc(&w);
    ringo_json_model(&w, &product_out, p);
    ret = ringo_json_finish(&w, out, len);
    if (ret < 0)
        ringo_json_discard(&w);
    return ret;
}

/* Stores p under a new id (set in p), dropping the oldest item when full. The text
 * stays the store's: the caller answers with a copy made under the lock. */
static int store_add(ringo_req *req, struct product *p)
{
    char *text;
    size_t len;
    int ret;

    pthread_mutex_lock(&store_lock);
    p->id = last_id + 1;
    ret = to_json(p, &text, &len);
    if (ret == 0) {
        int64_t i = (++last_id - 1) % MAX_PRODUCTS;
        free(store[i]);
        store[i] = text;
        lens[i] = len;
        ret = ringo_respond(req, 201, "application/json", text, len);
    }
    pthread_mutex_unlock(&store_lock);
    return ret;
}

/* Answers with a copy of item id: 0, or 404. */
static int store_get(ringo_req *req, int64_t id, int status)
{
    int64_t i;
    int ret;

    pthread_mutex_lock(&store_lock);
    i = slot(id);
    if (i < 0)
        ret = ringo_fail(req, 404, "Product not found");
    else
        ret = ringo_respond(req, status, "application/json", store[i], lens[i]);
    pthread_mutex_unlock(&store_lock);
    return ret;
}

/* Replaces item id with p and answers with it, in one critical section: a concurrent PUT
 * of the same id never gets the other's item. 0, -ENOENT, -ENOMEM. */
static int store_put(ringo_req *req, int64_t id, struct product *p)
{
    char *text = NULL;
    size_t len = 0;
    int64_t i;
    int ret = -ENOENT;

    p->id = id;
    pthread_mutex_lock(&store_lock);
    i = slot(id);
    if (i >= 0 && (ret = to_json(p, &text, &len)) == 0) {
        free(store[i]);
        store[i] = text;
        lens[i] = len;
        ret = ringo_respond(req, 200, "application/json", text, len);
    }
    pthread_mutex_unlock(&store_lock);
    return ret;
}

/* ---- handlers (the same for RINGO_ASYNC and RINGO_SYNC routes) ---- */

static int create(ringo_req *req, void *ud)
{
    (void)ud;
    return store_add(req, RINGO_BODY(req, struct product));
}

static int get(ringo_req *req, void *ud)
{
    (void)ud;
    return store_get(req, RINGO_PARAMS(req, struct product_id)->id, 200);
}

static int replace(ringo_req *req, void *ud)
{
    int64_t id = RINGO_PARAMS(req, struct product_id)->id;
    int ret = store_put(req, id, RINGO_BODY(req, struct product));

    (void)ud;
    return ret == -ENOENT ? ringo_fail(req, 404, "Product not found") : ret;
}

/* ---- declarations ---- */

static const char *const tags[] = {"products", NULL};

static const ringo_response_spec created[] = {
    {.status = 201, .description = "The product as stored", .model = &product_out},
    {0},
};

static const ringo_response_spec found[] = {
    {.status = 200, .description = "The product", .model = &product_out},
    {.status = 404, .description = "No product has this id"},
    {0},
};

static const ringo_route_spec create_spec = {
    .body = &product_in,
    .responses = created,
    .summary = "Create a product",
    .tags = tags,
    .operation_id = "create_product",
};

static const ringo_route_spec strict_spec = {
    .body = &product_strict,
    .responses = created,
    .summary = "Create a product; unknown members are refused",
    .tags = tags,
    .operation_id = "create_product_strict",
};

static const ringo_route_spec get_spec = {
    .params = &product_id,
    .responses = found,
    .summary = "Read a product",
    .tags = tags,
    .operation_id = "read_product",
};

static const ringo_route_spec put_spec = {
    .params = &product_id,
    .body = &product_in,
    .responses = found,
    .summary = "Replace a product",
    .tags = tags,
    .operation_id = "replace_product",
};

/* The pool's copies: operation ids are unique per document. */
static const ringo_route_spec create_sync = {.body = &product_in,
                                             .responses = created,
                                             .summary = "Create a product (sync handler)",
                                             .tags = tags,
                                             .operation_id = "create_product_sync"};
static const ringo_route_spec get_sync = {.params = &product_id,
                                          .responses = found,
                                          .summary = "Read a product (sync handler)",
                                          .tags = tags,
                                          .operation_id = "read_product_sync"};
static const ringo_route_spec put_sync = {.params = &product_id,
                                          .body = &product_in,
                                          .responses = found,
                                          .summary = "Replace a product (sync handler)",
                                          .tags = tags,
                                          .operation_id = "replace_product_sync"};

int demo_product_routes(ringo_app *app)
{
    static const struct {
        const char *method, *pattern;
        ringo_mode mode;
        ringo_handler_fn fn;
        ringo_route_opts opts;
    } routes[] = {
        {"POST", "/products", RINGO_ASYNC, create, {.spec = &create_spec}},
        {"GET", "/products/{id}", RINGO_ASYNC, get, {.spec = &get_spec}},
        {"PUT", "/products/{id}", RINGO_ASYNC, replace, {.spec = &put_spec}},
        {"POST", "/strict/products", RINGO_ASYNC, create, {.spec = &strict_spec}},
        {"POST", "/sync/products", RINGO_SYNC, create, {.spec = &create_sync}},
        {"GET", "/sync/products/{id}", RINGO_SYNC, get, {.spec = &get_sync}},
        {"PUT", "/sync/products/{id}", RINGO_SYNC, replace, {.spec = &put_sync}},
    };
    int ret = 0;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && ret == 0; i++)
        ret = ringo_route_ex(app, routes[i].method, routes[i].pattern, routes[i].mode, routes[i].fn,
                             NULL, &routes[i].opts);
    return ret;
}
