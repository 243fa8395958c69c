/*
 * http/mime.c - the built-in extension table, see mime.h. What browsers
 * and API clients need for a front-end bundle, documents and downloads;
 * a mount adds or overrides entries (ringo_static_opts.types).
 */
#include <string.h>

#include "core/util.h"
#include "http/mime.h"

static const struct {
    const char *ext, *type;
} table[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tgz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"zst", "application/zstd"},
    {"br", "application/octet-stream"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"webmanifest", "application/manifest+json"},
    {"bin", "application/octet-stream"},
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
        if (strlen(table[i].ext) == ext.len && ringo__ascii_iequal(ext.ptr, table[i].ext, ext.len))
            return table[i].type;
    return NULL;
}
