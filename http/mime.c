/*
 * http/mime.c - the built-in extension table, see mime.h. What browsers
 * and API clients need for a front-end bundle, documents and downloads;
 * a mount adds or overrides entries (ringo_static_opts.types).
 */
#include <string.h>

#include "core/util.h"
#include "http/mime.h"

/* E(ext, type): the extension's length is counted at compile time (this runs per request). */
#define E(ext, type)                                                                               \
    {                                                                                              \
        ext, sizeof(ext) - 1, type                                                                 \
    }

static const struct {
    const char *ext;
    size_t len;
    const char *type;
} table[] = {
    E("html", "text/html; charset=utf-8"),
    E("htm", "text/html; charset=utf-8"),
    E("css", "text/css; charset=utf-8"),
    E("js", "text/javascript; charset=utf-8"),
    E("mjs", "text/javascript; charset=utf-8"),
    E("json", "application/json"),
    E("map", "application/json"),
    E("txt", "text/plain; charset=utf-8"),
    E("md", "text/markdown; charset=utf-8"),
    E("csv", "text/csv; charset=utf-8"),
    E("xml", "application/xml"),
    E("svg", "image/svg+xml"),
    E("png", "image/png"),
    E("jpg", "image/jpeg"),
    E("jpeg", "image/jpeg"),
    E("gif", "image/gif"),
    E("webp", "image/webp"),
    E("avif", "image/avif"),
    E("ico", "image/x-icon"),
    E("bmp", "image/bmp"),
    E("woff", "font/woff"),
    E("woff2", "font/woff2"),
    E("ttf", "font/ttf"),
    E("otf", "font/otf"),
    E("wasm", "application/wasm"),
    E("pdf", "application/pdf"),
    E("zip", "application/zip"),
    E("gz", "application/gzip"),
    E("tgz", "application/gzip"),
    E("tar", "application/x-tar"),
    E("zst", "application/zstd"),
    E("br", "application/octet-stream"),
    E("mp4", "video/mp4"),
    E("webm", "video/webm"),
    E("mp3", "audio/mpeg"),
    E("ogg", "audio/ogg"),
    E("wav", "audio/wav"),
    E("webmanifest", "application/manifest+json"),
    E("bin", "application/octet-stream"),
};

ringo_str ringo__mime_ext(ringo_str name)
{
    for (size_t i = name.len; i > 0; i--) {
        if (name.ptr[i - 1] == '/')
            break;
        if (name.ptr[i - 1] == '.') {
            if (i == 1 || name.ptr[i - 2] == '/')
                break; /* ".bashrc": a name, not an extension */
            return (ringo_str){name.ptr + i, name.len - i};
        }
    }
    return (ringo_str){name.ptr + name.len, 0};
}

const char *ringo__mime_type(ringo_str name)
{
    ringo_str ext = ringo__mime_ext(name);

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]) && ext.len; i++)
        if (table[i].len == ext.len && ringo__ascii_iequal(ext.ptr, table[i].ext, ext.len))
            return table[i].type;
    return NULL;
}
