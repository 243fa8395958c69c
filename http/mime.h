/*
 * http/mime.h - Content-Type of a file from its name's extension.
 */
#ifndef RINGO_HTTP_MIME_H
#define RINGO_HTTP_MIME_H

#include "ringo/common.h"

/*
 * The media type of the built-in table for name's extension (the bytes
 * after its last '.', compared case-insensitively), text types with
 * "; charset=utf-8"; NULL when the extension is not in the table.
 */
const char *ringo__mime_type(ringo_str name);

/* The extension of name (after its last '.', not the whole of a dot file's name), or empty. */
ringo_str ringo__mime_ext(ringo_str name);

#endif
