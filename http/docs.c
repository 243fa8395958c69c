/*
 * http/docs.c - the docs page: Swagger UI on the app's OpenAPI document.
 *
 * The page is written once, at ringo_app_openapi(), and served as a fixed
 * body. Swagger UI's script and style sheet come from the local copy under
 * docs_path + "/ui/" (ringo_openapi_opts.ui_dir) or from the jsdelivr CDN
 * (RINGO_OPENAPI_CDN, the major version FastAPI points at).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "http/http_impl.h"
#include "http/openapi_impl.h"

/* A growing text buffer; err is set once memory ran out. */
struct text {
    char *p;
    size_t len, cap;
    int err;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->err)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = ringo__realloc(t->p, cap);
        if (!p) {
            t->err = -ENOMEM;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void puts_(struct text *t, const char *s) { put(t, s, strlen(s)); }

/* s as HTML text or a double-quoted attribute value. */
static void put_html(struct text *t, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': puts_(t, "&amp;"); break;
        case '<': puts_(t, "&lt;"); break;
        case '>': puts_(t, "&gt;"); break;
        case '"': puts_(t, "&quot;"); break;
        case '\'': puts_(t, "&#39;"); break;
        default: put(t, s, 1);
        }
    }
}

/*
 * s as a JavaScript string literal inside a <script> element: quotes and
 * backslashes escaped, and '<' too, so that no "</script>" ends the element.
 */
static void put_js_string(struct text *t, const char *s)
{
    char esc[8];

    put(t, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            puts_(t, esc);
        } else {
            put(t, s, 1);
        }
    }
    put(t, "\"", 1);
}

/* The URL base of Swagger UI's files: the local mount or the CDN. */
static void put_ui_base(struct text *t, const struct ringo__openapi *oa, bool local)
{
    if (!local) {
        put_html(t, RINGO_OPENAPI_CDN);
        return;
    }
    put_html(t, strcmp(oa->docs_path, "/") ? oa->docs_path : "");
    puts_(t, "/ui");
}

/*
 * Swagger UI's BaseLayout needs only the apis preset, which the bundle holds;
 * the standalone preset (a top bar with a URL box) is another file.
 */
int ringo__openapi_html(struct ringo__openapi *oa, bool local)
{
    struct text t = {0};

    puts_(&t, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
              "<title>");
    put_html(&t, oa->title);
    puts_(&t, " - Swagger UI</title>\n<link rel=\"stylesheet\" type=\"text/css\" href=\"");
    put_ui_base(&t, oa, local);
    puts_(&t, "/swagger-ui.css\">\n</head>\n<body>\n<div id=\"swagger-ui\"></div>\n"
              "<script src=\"");
    put_ui_base(&t, oa, local);
    puts_(&t, "/swagger-ui-bundle.js\"></script>\n<script>\n"
              "window.ui = SwaggerUIBundle({\n  url: ");
    put_js_string(&t, oa->json_path);
    puts_(&t, ",\n  dom_id: \"#swagger-ui\",\n  layout: \"BaseLayout\",\n"
              "  deepLinking: true,\n  showExtensions: true,\n  showCommonExtensions: true,\n"
              "  presets: [SwaggerUIBundle.presets.apis]\n"
              "});\n</script>\n</body>\n</html>\n");
    if (t.err) {
        ringo__free(t.p);
        return t.err;
    }
    oa->html = t.p;
    oa->html_len = t.len;
    return 0;
}
