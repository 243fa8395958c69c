/*
 * http/json.h - a strict RFC 8259 pull parser (no DOM).
 *
 * The caller asks for one token at a time and decides what to do with it:
 * the model validator (ringo/schema.h) parses straight into the declared C
 * structs, and skips (still checking) values of fields it does not know.
 *
 * Strict: no trailing commas, no comments, no NaN/Infinity, no leading
 * zeros or '+', no control characters in strings, invalid UTF-8 and lone
 * surrogate escapes rejected, one value per document (whitespace around it
 * only), nesting at most max_depth. Duplicate keys in one object are
 * rejected (RINGO__JERR_DUP_KEY). Numbers: an integer literal that fits
 * int64_t is RINGO__JTOK_INT; any other number is RINGO__JTOK_NUM with its
 * double value (big integers flagged by int_too_big); a number whose
 * magnitude overflows a double is an error (RINGO__JERR_RANGE).
 */
#ifndef RINGO_HTTP_JSON_H
#define RINGO_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringo/common.h"

#define RINGO__JSON_DEFAULT_DEPTH 64
#define RINGO__JSON_MAX_DEPTH 256

typedef enum ringo__jtok {
    RINGO__JTOK_ERROR = -1, /* see err, err_pos */
    RINGO__JTOK_EOF = 0,    /* the document ended (after its one value) */
    RINGO__JTOK_OBJ,        /* { */
    RINGO__JTOK_OBJ_END,    /* } */
    RINGO__JTOK_ARR,        /* [ */
    RINGO__JTOK_ARR_END,    /* ] */
    RINGO__JTOK_KEY,        /* a member name: str */
    RINGO__JTOK_STR,        /* a string value: str */
    RINGO__JTOK_INT,        /* i (and raw) */
    RINGO__JTOK_NUM,        /* d (and raw) */
    RINGO__JTOK_TRUE,
    RINGO__JTOK_FALSE,
    RINGO__JTOK_NULL,
} ringo__jtok;

typedef enum ringo__jerr {
    RINGO__JERR_NONE = 0,
    RINGO__JERR_EOF,      /* the input ended inside the document (or was empty) */
    RINGO__JERR_SYNTAX,   /* an unexpected byte */
    RINGO__JERR_STRING,   /* bad escape, control character, lone surrogate */
    RINGO__JERR_UTF8,     /* invalid UTF-8 */
    RINGO__JERR_NUMBER,   /* malformed number */
    RINGO__JERR_RANGE,    /* number beyond a double's range */
    RINGO__JERR_DEPTH,    /* nested deeper than max_depth */
    RINGO__JERR_DUP_KEY,  /* a key twice in one object */
    RINGO__JERR_TRAILING, /* bytes after the value */
    RINGO__JERR_NOMEM,    /* the allocator failed */
} ringo__jerr;

/* Memory for decoded strings and the key sets: the request arena in the server. */
typedef void *(*ringo__jalloc_fn)(void *ctx, size_t n);

typedef struct ringo__jlex {
    /* the current token */
    ringo_str str;    /* KEY/STR: the decoded text (points into the input when it
                         had no escapes, else into allocated memory); not NUL-terminated;
                         valid as long as the input and the allocator's memory */
    ringo_str raw;    /* the token's bytes in the input (strings: with their quotes;
                         numbers: their text) */
    int64_t i;        /* INT */
    double d;         /* NUM (and INT, converted) */
    bool int_too_big; /* NUM: written as an integer but outside int64_t */
    /* the error, once RINGO__JTOK_ERROR was returned (later calls return it again) */
    ringo__jerr err;
    size_t err_pos; /* byte offset of the offending byte (the input length at EOF),
                       where Python's json module puts it: the opening quote of an
                       unterminated string, the backslash of a bad escape, the 'u' of
                       a bad \uXXXX, the lead byte of invalid UTF-8, the opening quote
                       of a duplicate key, the first byte of an out-of-range number */
    /* private */
    const char *base, *p, *end;
    unsigned depth, max_depth;
    uint8_t state;                             /* what the next token may be */
    uint8_t msg;                               /* which message err has */
    bool skipping;                             /* ringo__jlex_skip(): values not decoded */
    uint64_t objs[RINGO__JSON_MAX_DEPTH / 64]; /* per level: 1 object, 0 array */
    struct ringo__jkeys *keys;                 /* keys of the open objects (made lazily) */
    ringo__jalloc_fn alloc;
    void *alloc_ctx;
    void *blocks; /* alloc NULL: what to free */
} ringo__jlex;

/* max_depth 0: RINGO__JSON_DEFAULT_DEPTH (at most RINGO__JSON_MAX_DEPTH). alloc
 * NULL: malloc() (the caller then calls ringo__jlex_free()). alloc gives memory
 * for strings with escapes (their raw length) and, once per document with an
 * object, the duplicate-key set; it is never asked to free: an arena fits. */
void ringo__jlex_init(ringo__jlex *lx, const char *buf, size_t len, unsigned max_depth,
                      ringo__jalloc_fn alloc, void *ctx);

/* The next token; after the last value, RINGO__JTOK_EOF (if only whitespace follows). */
ringo__jtok ringo__jlex_next(ringo__jlex *lx);

/* After a value's first token (OBJ, ARR or a scalar): consumes the rest of that
 * value, checking it (keys for duplicates too) without decoding its strings.
 * Returns the last token (OBJ_END, ARR_END, the scalar) or ERROR. */
ringo__jtok ringo__jlex_skip(ringo__jlex *lx, ringo__jtok first);

/* Frees what a malloc() lexer allocated. */
void ringo__jlex_free(ringo__jlex *lx);

/* 1-based line and column of err_pos (columns count bytes), for messages. */
void ringo__jlex_line_col(const ringo__jlex *lx, unsigned *line, unsigned *col);

/* err_pos counted in characters (UTF-8 sequences) rather than bytes: the
 * position Python's json module reports for the same document (FastAPI puts
 * it in a 422's loc as ["body", position]). */
size_t ringo__jlex_err_char(const ringo__jlex *lx);

/* A short description of err in the words of Python's json module, e.g.
 * "Expecting ',' delimiter", "Expecting value", "Invalid control character at". */
const char *ringo__jlex_errmsg(const ringo__jlex *lx);

/* The whole document checked (the fuzz target and the differential test):
 * 0, or the error with its position. */
ringo__jerr ringo__json_check(const char *buf, size_t len, unsigned max_depth, size_t *err_pos);

#endif
