#!/usr/bin/env python3
"""
Description: the demo server's OpenAPI 3.1 document and its docs page.
GET /openapi.json is valid against the official OpenAPI 3.1 JSON Schema
(tests/integration/openapi/schema-3.1.json, validated with jsonschema's
draft 2020-12 validator; a broken copy of the document must fail, so the
check is not vacuous), and every schema under components is a valid draft
2020-12 schema. It lists exactly the demo's routes (the list below): for
each path, a request with a method no route has answers 405 with an Allow
header naming exactly the documented methods, so the document and the
router agree. Each route's declared parameters are there with their types
and bounds; the products body model has its types, bounds (exclusiveMinimum
for price > 0, maxItems 10), default (in_stock true) and optional nullable
dims; routes that validate answer 422 with FastAPI's HTTPValidationError
and ValidationError schemas; the bearer-token dependency puts an HTTPBearer
security scheme on every route that needs it, and none elsewhere; tags
and summaries are there. GET /docs is Swagger UI on the document, from the
jsdelivr CDN by default, or from a local swagger-ui-dist directory
(--swagger-ui-dir; here a fake one with small files) whose files ringo
serves with their content types. The paths are configurable, and an empty
--openapi-url turns both off (404). With --files-dir the bench file route
is listed with its declared parameters, which the server enforces (422).
A 422 the server sends, for parameters and for a body model, is valid
against the document's HTTPValidationError schema.

Validation needs python3-jsonschema (scripts/deps.sh installs it): this file
runs itself under /usr/bin/python3 when the python that started it lacks the
module, and skips (77) with a line saying so when that one lacks it too.
"""
import atexit
import json
import os
import re
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, case, check, check_eq, check_std_headers, get,  # noqa: E402
                           request)

jsonschema = h.need_module("jsonschema", "python3-jsonschema")

SCHEMA_FILE = os.path.join(HERE, "openapi", "schema-3.1.json")
CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

# Every route of the demo server the document describes, as (METHOD, OpenAPI path).
# WebSocket routes and the /static mount are left out, as FastAPI leaves them out.
ROUTES = {
    # The database routes (examples/demo_tfb.c, demo_tfb_async.c).
    ("GET", "/db"), ("GET", "/queries"), ("GET", "/fortunes"), ("GET", "/updates"),
    ("GET", "/cached-queries"), ("GET", "/pg/sleep"), ("GET", "/pg/sleep-deadline"),
    ("GET", "/pg/stats"), ("GET", "/pg/async-refused"), ("GET", "/sync/db"),
    ("GET", "/sync/queries"), ("GET", "/sync/fortunes"), ("GET", "/sync/updates"),
    ("GET", "/sync/pg/sleep"), ("POST", "/sync/tx/world/{id}"),
    ("POST", "/pg/tx/world/{id}"), ("POST", "/pg/tx-deadline/world/{id}"),
    ("POST", "/pg/tx-raw/world/{id}"), ("GET", "/pg/prepare-later"),
    ("GET", "/"), ("GET", "/plaintext"), ("GET", "/json"), ("POST", "/echo"),
    ("GET", "/users/{id}"), ("GET", "/whoami"), ("GET", "/sleep"), ("GET", "/deadline/sleep"),
    ("GET", "/async/file"), ("GET", "/async/upstream"), ("GET", "/block"), ("GET", "/stats"),
    ("GET", "/sync/plaintext"), ("GET", "/sync/json"), ("GET", "/sync/sleep"),
    ("GET", "/deadline/sync/sleep"), ("GET", "/sync/cpu"), ("GET", "/sync/trace"),
    ("GET", "/deps/chain"),
    ("GET", "/deps/teardowns"), ("GET", "/deps/slow-teardown"), ("GET", "/items/{id}"),
    ("POST", "/tasks"), ("GET", "/tasks"), ("POST", "/tasks/sleep"), ("POST", "/tasks/many"),
    ("POST", "/tasks/nested"), ("POST", "/tasks/forever"), ("GET", "/tasks/stats"),
    ("GET", "/events"), ("GET", "/sync/events"), ("GET", "/stream"), ("GET", "/sync/stream"),
    ("POST", "/upload"), ("POST", "/sync/upload"), ("POST", "/upload/limited"),
    ("POST", "/upload/refuse"), ("POST", "/upload/deadline"), ("POST", "/form"),
    ("POST", "/sync/form"), ("GET", "/lorem"), ("GET", "/sync/lorem"), ("GET", "/json64k"),
    ("GET", "/lorem/never"), ("GET", "/codings"), ("GET", "/download/{name}"),
    ("POST", "/products"), ("GET", "/products/{id}"), ("PUT", "/products/{id}"),
    ("POST", "/strict/products"), ("POST", "/sync/products"), ("GET", "/sync/products/{id}"),
    ("PUT", "/sync/products/{id}"),
    # Admission and memory (examples/demo.c).
    ("GET", "/sync/stats"), ("GET", "/stats/routes"), ("GET", "/mem"), ("GET", "/limited/sleep"),
    ("GET", "/bounded/sleep"), ("GET", "/adaptive/sleep"),
}

# Query parameters each route declares: name -> (type, minimum, default).
QUERY = {
    "/sleep": {"ms": ("integer", 0, 10)},
    "/deadline/sleep": {"ms": ("integer", 0, 10)},
    "/sync/sleep": {"ms": ("integer", 0, 10)},
    "/deadline/sync/sleep": {"ms": ("integer", 0, 10)},
    "/limited/sleep": {"ms": ("integer", 0, 10)},
    "/bounded/sleep": {"ms": ("integer", 0, 10)},
    "/adaptive/sleep": {"ms": ("integer", 0, 10)},
    "/mem": {"kb": ("integer", 0, 64)},
    "/block": {"ms": ("integer", 0, 200)},
    "/sync/cpu": {"n": ("integer", 0, 1000000)},
    "/deps/slow-teardown": {"ms": ("integer", 0, 0), "batch": ("integer", 0, 0)},
    "/tasks/sleep": {"ms": ("integer", 0, 1000)},
    "/tasks/many": {"n": ("integer", 0, 1)},
    "/events": {"n": ("integer", 0, 10), "interval_ms": ("integer", 0, 100),
                "linger_ms": ("integer", 0, 0)},
    "/stream": {"bytes": ("integer", 0, 1048576)},
    "/lorem": {"kb": ("integer", 0, 16)},
}

_tmp = tempfile.mkdtemp(prefix="openapi-ui-")
atexit.register(shutil.rmtree, _tmp, True)
FAKE_JS = b"window.SwaggerUIBundle = function () {}; /* not Swagger UI: a test stand-in */\n"
FAKE_CSS = b"#swagger-ui { color: black; }\n"
with open(os.path.join(_tmp, "swagger-ui-bundle.js"), "wb") as f:
    f.write(FAKE_JS)
with open(os.path.join(_tmp, "swagger-ui.css"), "wb") as f:
    f.write(FAKE_CSS)


# ------------------------------------------------------------ helpers

def fetch(srv, target, method="GET", status=200):
    c = Conn(srv)
    c.send(request(method, target, body=None if method in ("GET", "HEAD") else b""))
    r = c.read_response(head=method == "HEAD")
    check_std_headers(r)
    check_eq(r.status, status, f"{method} {target} status ({r!r})")
    c.close()
    return r


def document(srv, path="/openapi.json"):
    r = fetch(srv, path)
    check_eq(r.header("content-type"), "application/json", f"{path} Content-Type")
    return r.json()


def operations(doc):
    """{(METHOD, path): operation} of the document."""
    ops = {}
    for path, item in doc["paths"].items():
        for m, op in item.items():
            if m in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                ops[(m.upper(), path)] = op
    return ops


def resolve(doc, schema):
    """The schema a $ref points at (one level), or the schema itself."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    check(ref.startswith("#/components/schemas/"), f"$ref outside components: {ref}")
    name = ref.rsplit("/", 1)[1]
    check(name in doc["components"]["schemas"], f"$ref to a missing schema {name}")
    return doc["components"]["schemas"][name]


def params_of(op):
    return {(p["in"], p["name"]): p for p in op.get("parameters", [])}


def sample_path(path):
    """A concrete path for an OpenAPI template: every {param} becomes "1"."""
    return re.sub(r"\{[^}]+\}", "1", path)


# ------------------------------------------------------------ cases

@case()
def valid_against_the_official_schema(srv):
    doc = document(srv)
    with open(SCHEMA_FILE) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    check(not errors, "/openapi.json is not valid OpenAPI 3.1:\n" +
          "\n".join(f"  at {list(e.path)}: {e.message}" for e in errors[:10]))
    check_eq(doc["openapi"], "3.1.0", "openapi version")
    check_eq(doc["info"]["title"], "ringo demo", "info.title")
    # The validator must be able to say no: a document without info, a bad
    # parameter location, a response without description.
    bad = json.loads(json.dumps(doc))
    del bad["info"]
    check(not validator.is_valid(bad), "a document without info passed the schema")
    bad = json.loads(json.dumps(doc))
    bad["paths"]["/items/{id}"]["get"]["parameters"][0]["in"] = "body"
    check(not validator.is_valid(bad), "a parameter in 'body' passed the schema")
    bad = json.loads(json.dumps(doc))
    del bad["paths"]["/"]["get"]["responses"]["200"]["description"]
    check(not validator.is_valid(bad), "a response without description passed the schema")
    for name, s in doc.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.SchemaError as e:
            raise h.Failure(f"components/schemas/{name} is not a draft 2020-12 schema: {e}")


@case()
def every_route_is_listed_as_the_router_has_it(srv):
    doc = document(srv)
    ops = operations(doc)
    listed = set(ops)
    want = ROUTES
    check_eq(sorted(listed - want), [], "documented operations the demo does not have")
    check_eq(sorted(want - listed), [], "demo routes missing from the document")
    ids = [op["operationId"] for op in ops.values()]
    check_eq(len(ids), len(set(ids)), "operationIds are unique")
    for path, item in doc["paths"].items():
        # Every template parameter is declared as a required path parameter.
        for name in re.findall(r"\{([^}]+)\}", path):
            for m, op in item.items():
                p = params_of(op).get(("path", name))
                check(p is not None and p["required"] is True,
                      f"{m.upper()} {path}: path parameter {name} not declared required")
        # The router agrees: a method no route has answers 405 with the methods.
        r = fetch(srv, sample_path(path), method="PURGE", status=405)
        allow = {m.strip() for m in r.header("allow").split(",")}
        methods = {m.upper() for m in item}
        if "GET" in methods:
            methods.add("HEAD")
        check_eq(allow, methods, f"Allow of {path} against its documented methods")
    check("/static/" not in doc["paths"] and "/ws/echo" not in doc["paths"],
          "the static mount and the WebSocket routes are left out")
    check("/openapi.json" not in doc["paths"] and "/docs" not in doc["paths"],
          "the document's own routes are left out")


@case()
def declared_parameters(srv):
    ops = operations(document(srv))
    items = params_of(ops[("GET", "/items/{id}")])
    check_eq(items[("path", "id")]["schema"], {"type": "integer", "minimum": 1},
             "/items/{id} id")
    check_eq(items[("query", "limit")]["required"], False, "/items/{id} limit required")
    check_eq(items[("query", "limit")]["schema"],
             {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
             "/items/{id} limit")
    check_eq(params_of(ops[("GET", "/users/{id}")])[("path", "id")]["schema"],
             {"type": "string"}, "/users/{id} id")
    for path, want in QUERY.items():
        got = params_of(ops[("GET" if ("GET", path) in ops else "POST", path)])
        for name, (typ, minimum, default) in want.items():
            p = got.get(("query", name))
            check(p is not None, f"{path} does not declare query parameter {name}")
            s = p["schema"]
            check_eq((s.get("type"), s.get("minimum"), s.get("default")),
                     (typ, minimum, default), f"{path} {name} schema {s}")
            check(p.get("description"), f"{path} {name} has no description")
    doc = document(srv)
    item = resolve(doc, ops[("GET", "/items/{id}")]["responses"]["200"]["content"]
                   ["application/json"]["schema"])
    check_eq(item["properties"], {"id": {"type": "integer"}, "limit": {"type": "integer"}},
             "/items/{id} response model")
    r = fetch(srv, "/items/3?limit=4")
    jsonschema.Draft202012Validator({**item, "components": doc["components"]}).validate(r.json())
    lorem = params_of(ops[("GET", "/lorem")])
    check_eq(lorem[("query", "type")]["schema"]["type"], "string", "/lorem type")
    # Routes that take no parameters list none.
    check("parameters" not in ops[("GET", "/plaintext")], "/plaintext lists parameters")


@case()
def products_body_model(srv):
    doc = document(srv)
    ops = operations(doc)
    op = ops[("POST", "/products")]
    body = op["requestBody"]
    check_eq(body.get("required"), True, "POST /products body required")
    model = resolve(doc, body["content"]["application/json"]["schema"])
    props = model["properties"]
    check_eq(model["type"], "object", "product type")
    check_eq(sorted(model.get("required", [])), ["name", "price"], "product required fields")
    check_eq({k: props["name"].get(k) for k in ("type", "minLength", "maxLength")},
             {"type": "string", "minLength": 1, "maxLength": 50}, "name")
    check_eq(props["price"].get("type"), "number", "price type")
    check_eq(props["price"].get("exclusiveMinimum"), 0, "price > 0")
    check("minimum" not in props["price"], "price has no inclusive minimum")
    check_eq((props["tags"].get("type"), props["tags"].get("maxItems"),
              props["tags"].get("items")), ("array", 10, {"type": "string"}), "tags")
    check_eq((props["in_stock"].get("type"), props["in_stock"].get("default")),
             ("boolean", True), "in_stock")
    dims = props["dims"]
    branches = dims.get("anyOf", [dims])
    refs = [b for b in branches if "$ref" in b]
    check_eq(len(refs), 1, f"dims refers to one model: {dims}")
    if "anyOf" in dims:
        check({"type": "null"} in branches, f"nullable dims allows null: {dims}")
    d = resolve(doc, refs[0])["properties"]
    for k in ("w", "h"):
        check_eq((d[k].get("type"), d[k].get("minimum")), ("number", 0), f"dims.{k}")
    for m, p in (("GET", "/products/{id}"), ("PUT", "/products/{id}")):
        check(("path", "id") in params_of(ops[(m, p)]), f"{m} {p} declares id")
    check("404" in ops[("GET", "/products/{id}")]["responses"], "GET /products/{id} lists 404")
    check("201" in op["responses"], "POST /products lists 201")


@case()
def validation_error_schema(srv):
    doc = document(srv)
    ops = operations(doc)
    schemas = doc["components"]["schemas"]
    check_eq(schemas["HTTPValidationError"]["properties"]["detail"],
             {"type": "array", "title": "Detail",
              "items": {"$ref": "#/components/schemas/ValidationError"}},
             "HTTPValidationError.detail")
    ve = schemas["ValidationError"]
    check_eq(sorted(ve["required"]), ["loc", "msg", "type"], "ValidationError required")
    check_eq(ve["properties"]["loc"]["items"],
             {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "ValidationError.loc")
    for key, op in ops.items():
        r422 = op["responses"].get("422")
        if r422 is not None:
            check_eq(r422["content"]["application/json"]["schema"],
                     {"$ref": "#/components/schemas/HTTPValidationError"}, f"{key} 422")
        validates = "requestBody" in op or any(p["in"] != "path"
                                               for p in op.get("parameters", []))
        if validates:
            check(r422 is not None, f"{key} validates its input but lists no 422")
    check("422" in ops[("GET", "/items/{id}")]["responses"], "/items/{id} lists no 422")
    check("422" not in ops[("GET", "/plaintext")]["responses"], "/plaintext lists a 422")
    # The 422 the server sends has the documented shape.
    r = fetch(srv, "/items/0?limit=abc", status=422)
    schema = {"$ref": "#/components/schemas/HTTPValidationError",
              "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(r.json())
    check_eq([e["loc"] for e in r.json()["detail"]], [["path", "id"], ["query", "limit"]],
             "the 422's locations")
    c = Conn(srv)
    c.send(request("POST", "/products", headers=[("Content-Type", "application/json")],
                   body=b'{"name":"","price":-1,"tags":[1],"dims":{"w":-1}}'))
    r = c.read_response()
    c.close()
    check_eq(r.status, 422, f"POST /products with a bad body ({r!r})")
    jsonschema.Draft202012Validator(schema).validate(r.json())
    check(any(e["loc"] == ["body", "dims", "w"] for e in r.json()["detail"]),
          f"a nested location in {r.json()}")


@case()
def bearer_security(srv):
    doc = document(srv)
    ops = operations(doc)
    check_eq(doc["components"]["securitySchemes"], {"HTTPBearer": {"type": "http",
                                                                    "scheme": "bearer"}},
             "security schemes")
    check_eq(ops[("GET", "/deps/chain")].get("security"), [{"HTTPBearer": []}],
             "/deps/chain (needs user, which needs token) security")
    for key, op in ops.items():
        if key != ("GET", "/deps/chain"):
            check("security" not in op, f"{key} has security it does not need")


@case()
def tags_and_summaries(srv):
    doc = document(srv)
    ops = operations(doc)
    for key, op in ops.items():
        check(op.get("summary"), f"{key} has no summary")
        check(op.get("tags"), f"{key} has no tags")
    check_eq(ops[("GET", "/items/{id}")]["tags"], ["dependencies"], "/items/{id} tags")
    names = [t["name"] for t in doc.get("tags", [])]
    used = {t for op in ops.values() for t in op["tags"]}
    check_eq(sorted(used - set(names)), [], "tags without a description at the top")


@case()
def docs_page_from_the_cdn(srv):
    r = fetch(srv, "/docs")
    check_eq(r.header("content-type"), "text/html; charset=utf-8", "/docs Content-Type")
    html = r.body.decode()
    for f in ("swagger-ui-bundle.js", "swagger-ui.css"):
        check(f"{CDN}/{f}" in html, f"/docs does not load {CDN}/{f}:\n{html}")
    check('url: "/openapi.json"' in html, f"/docs does not load /openapi.json:\n{html}")
    check("<title>ringo demo - Swagger UI</title>" in html, "/docs title")
    fetch(srv, "/docs/ui/swagger-ui.css", status=404)
    r = fetch(srv, "/openapi.json", method="HEAD")
    check_eq(r.header("content-type"), "application/json", "HEAD /openapi.json")


@case(args=("--swagger-ui-dir", _tmp))
def docs_page_from_a_local_copy(srv):
    html = fetch(srv, "/docs").body.decode()
    check(CDN not in html, f"/docs still points at the CDN with a local copy:\n{html}")
    for f, ctype, body in (("swagger-ui-bundle.js", "text/javascript; charset=utf-8", FAKE_JS),
                           ("swagger-ui.css", "text/css; charset=utf-8", FAKE_CSS)):
        check(f'"/docs/ui/{f}"' in html, f"/docs does not load /docs/ui/{f}:\n{html}")
        r = fetch(srv, f"/docs/ui/{f}")
        check_eq(r.header("content-type"), ctype, f"/docs/ui/{f} Content-Type")
        check_eq(r.body, body, f"/docs/ui/{f} body")
    fetch(srv, "/docs/ui/missing.js", status=404)
    # The mount is not part of the API.
    check(not any(p.startswith("/docs") for p in document(srv)["paths"]),
          "the local Swagger UI mount is in the document")


@case(args=("--openapi-url", "/api/v1/openapi.json", "--docs-url", "/api/docs"))
def paths_are_configurable(srv):
    doc = document(srv, "/api/v1/openapi.json")
    check(("GET", "/items/{id}") in operations(doc), "the moved document lists /items/{id}")
    html = fetch(srv, "/api/docs").body.decode()
    check('url: "/api/v1/openapi.json"' in html, f"/api/docs loads the moved document:\n{html}")
    fetch(srv, "/openapi.json", status=404)
    fetch(srv, "/docs", status=404)


@case(args=("--files-dir", _tmp))
def bench_file_route(srv):
    ops = operations(document(srv))
    p = params_of(ops[("GET", "/files/{name}")])
    check_eq(sorted(p), [("path", "name"), ("query", "len"), ("query", "offset")],
             "/files/{name} parameters")
    check_eq((p[("query", "len")]["required"], p[("query", "len")]["schema"]),
             (False, {"type": "integer", "minimum": 0}), "/files/{name} len")
    check_eq(fetch(srv, "/files/swagger-ui.css?offset=1&len=4").body, FAKE_CSS[1:5],
             "/files/{name} with declared offset and len")
    fetch(srv, "/files/swagger-ui.css?len=-1", status=422)


@case(args=("--openapi-url", ""))
def disabled(srv):
    fetch(srv, "/openapi.json", status=404)
    fetch(srv, "/docs", status=404)


@case(args=("--docs-url", ""))
def docs_disabled_document_served(srv):
    fetch(srv, "/docs", status=404)
    check("/items/{id}" in document(srv)["paths"], "the document without a docs page")


if __name__ == "__main__":
    h.main()
