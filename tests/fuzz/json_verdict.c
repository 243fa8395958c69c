/*
 * tests/fuzz/json_verdict.c - the JSON parser's verdict on each file named
 * on the command line, one line each, for json_differential.py:
 *
 *   accept <path>
 *   reject <path> <kind> <byte position> <character position> <message>
 *
 * Kinds are the names of ringo__jerr without the prefix (SYNTAX, DUP_KEY,
 * ...). The default depth limit applies. Exit 0, or 1 when a file cannot
 * be read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/json.h"

static const char *const kinds[] = {"NONE",  "EOF",   "SYNTAX",  "STRING",   "UTF8", "NUMBER",
                                    "RANGE", "DEPTH", "DUP_KEY", "TRAILING", "NOMEM"};

/* The whole file in a malloc()ed buffer of exactly its size; NULL on failure. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t len;
        char *doc = slurp(argv[i], &len);
        ringo__jlex lx;
        ringo__jtok t;

        if (!doc) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
        ringo__jlex_init(&lx, doc, len, 0, NULL, NULL);
        do {
            t = ringo__jlex_next(&lx);
        } while (t != RINGO__JTOK_EOF && t != RINGO__JTOK_ERROR);
        if (t == RINGO__JTOK_EOF)
            printf("accept %s\n", argv[i]);
        else
            printf("reject %s %s %zu %zu %s\n", argv[i], kinds[lx.err], lx.err_pos,
                   ringo__jlex_err_char(&lx), ringo__jlex_errmsg(&lx));
        ringo__jlex_free(&lx);
        free(doc);
    }
    return 0;
}
