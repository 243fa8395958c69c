/*
 * Description: the built-in Content-Type table (http/mime.c): extensions
 * matched case-insensitively after the last dot of the last segment, dot
 * files and names without an extension unknown.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/mime.h"

static void type(const char *name, const char *want)
{
    const char *got = ringo__mime_type(ringo_str_c(name));

    CHECKF(want ? got && strcmp(got, want) == 0 : got == NULL, "%s -> %s, want %s", name,
           got ? got : "NULL", want ? want : "NULL");
}

int main(void)
{
    type("index.html", "text/html; charset=utf-8");
    type("a/b/app.JS", "text/javascript; charset=utf-8");
    type("style.min.css", "text/css; charset=utf-8");
    type("logo.svg", "image/svg+xml");
    type("font.woff2", "font/woff2");
    type("data.json", "application/json");
    type("archive.tar.gz", "application/gzip");
    type("mod.wasm", "application/wasm");
    type("README", NULL);
    type(".bashrc", NULL); /* a dot file's name is not an extension */
    type("dir/.env", NULL);
    type("dir.d/file", NULL); /* a dot in a folder name */
    type("file.", NULL);
    type("file.unknownext", NULL);
    CHECK(ringo__mime_ext(ringo_str_c("a.b.c")).len == 1);
    CHECK(ringo__mime_ext(ringo_str_c("noext")).len == 0);
    puts("mime_test: ok");
    return 0;
}
