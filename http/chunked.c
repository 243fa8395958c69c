/*
 * http/chunked.c - the chunked transfer coding, RFC 9112 §7.1.
 *
 *   chunked-body   = *chunk last-chunk trailer-section CRLF
 *   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk     = 1*("0") [ chunk-ext ] CRLF
 *   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-val  = token / quoted-string
 *   trailer-section = *( field-line CRLF )
 *
 * A byte-at-a-time state machine, except chunk data, which goes to the sink
 * in the largest spans the input allows. Extensions are checked and ignored
 * (RFC 9112 §7.1.1: a recipient ignores extensions it does not understand).
 */
#include "http/chunked.h"

#include <string.h>

#include "core/util.h"

enum {
    ST_IDLE,
    ST_SIZE_START,     /* first HEXDIG of chunk-size */
    ST_SIZE,           /* more HEXDIG, or what follows them */
    ST_EXT_SEMI,       /* BWS before ";" */
    ST_EXT_NAME_START, /* BWS after ";", then the name's first tchar */
    ST_EXT_NAME,
    ST_EXT_EQ,        /* BWS after the name: "=" or ";" must follow */
    ST_EXT_VAL_START, /* BWS after "=", then a token or a quoted-string */
    ST_EXT_TOKEN,
    ST_EXT_QUOTED,
    ST_EXT_QPAIR, /* the byte after a backslash */
    ST_EXT_QEND,  /* after the closing quote */
    ST_SIZE_LF,   /* CR seen, LF must follow */
    ST_DATA,
    ST_DATA_CR,
    ST_DATA_LF,
    ST_TR_START, /* start of a trailer line, or of the final CRLF */
    ST_TR_NAME,
    ST_TR_VALUE,
    ST_TR_LF,
    ST_END_LF,
};

/* Continue, or -status; 1 means the body is complete. */
enum { GO = 0, DONE = 1, BAD = -400 };

/* A chunk-size of more hex digits than fit in 64 bits: the rest must be leading zeros. */
#define SIZE_DIGITS 16

static int is_ws(unsigned char ch) { return ch == ' ' || ch == '\t'; }

/* VCHAR, obs-text, SP and HTAB: field-value and quoted-pair bytes (RFC 9110 §5.5, §5.6.4). */
static int is_text(unsigned char ch) { return is_ws(ch) || (ch >= 0x21 && ch != 0x7f); }

void ringo__chunked_init(ringo__chunked *c, uint64_t max_body, uint32_t max_meta)
{
    memset(c, 0, sizeof(*c));
    c->max_body = max_body;
    c->max_meta = max_meta;
    c->state = ST_SIZE_START;
}

/*
 * Extensions carry no data, so without a bound a client could stream them
 * forever inside the body deadline. Surplus leading zeros count too.
 */
static int count_ext(ringo__chunked *c) { return ++c->ext_bytes > c->max_meta ? -413 : GO; }

static int size_digit(ringo__chunked *c, int v)
{
    /* RFC 9112 §7.1: anticipate large numerals; an overflow is malformed. */
    if (c->size > (UINT64_MAX >> 4))
        return BAD;
    c->size = (c->size << 4) | (uint64_t)v;
    if (c->digits < SIZE_DIGITS) {
        c->digits++;
        return GO;
    }
    return count_ext(c);
}

/* The size is known once its digits end: an oversized chunk is refused before its data. */
static int size_end(ringo__chunked *c, unsigned char ch)
{
    if (c->size > c->max_body - c->total)
        return -413;
    if (ch == '\r')
        c->state = ST_SIZE_LF;
    else if (ch == ';')
        c->state = ST_EXT_NAME_START;
    else if (is_ws(ch))
        c->state = ST_EXT_SEMI;
    else
        return BAD;
    return GO;
}

/* Where a byte may end one extension: BWS then ";", another ";", or the line's CR. */
static int ext_next(ringo__chunked *c, unsigned char ch)
{
    if (ch == ';')
        c->state = ST_EXT_NAME_START;
    else if (is_ws(ch))
        c->state = ST_EXT_SEMI;
    else if (ch == '\r')
        c->state = ST_SIZE_LF;
    else
        return BAD;
    return GO;
}

static int ext_name(ringo__chunked *c, unsigned char ch)
{
    switch (c->state) {
    case ST_EXT_SEMI:
        if (is_ws(ch))
            return GO;
        return ch == ';' ? (c->state = ST_EXT_NAME_START, GO) : BAD;
    case ST_EXT_NAME_START:
        if (is_ws(ch))
            return GO;
        return ringo__is_tchar(ch) ? (c->state = ST_EXT_NAME, GO) : BAD;
    case ST_EXT_NAME:
        if (ringo__is_tchar(ch))
            return GO;
        if (ch == '=')
            return c->state = ST_EXT_VAL_START, GO;
        return is_ws(ch) ? (c->state = ST_EXT_EQ, GO) : ext_next(c, ch);
    default: /* ST_EXT_EQ: BWS belongs to a following "=" or ";", never to the CRLF */
        if (is_ws(ch))
            return GO;
        if (ch == '=')
            return c->state = ST_EXT_VAL_START, GO;
        return ch == ';' ? (c->state = ST_EXT_NAME_START, GO) : BAD;
    }
}

static int ext_value(ringo__chunked *c, unsigned char ch)
{
    switch (c->state) {
    case ST_EXT_VAL_START:
        if (is_ws(ch))
            return GO;
        if (ch == '"')
            return c->state = ST_EXT_QUOTED, GO;
        return ringo__is_tchar(ch) ? (c->state = ST_EXT_TOKEN, GO) : BAD;
    case ST_EXT_TOKEN: return ringo__is_tchar(ch) ? GO : ext_next(c, ch);
    case ST_EXT_QUOTED: /* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
        if (ch == '"')
            return c->state = ST_EXT_QEND, GO;
        if (ch == '\\')
            return c->state = ST_EXT_QPAIR, GO;
        return is_text(ch) ? GO : BAD;
    case ST_EXT_QPAIR: return is_text(ch) ? (c->state = ST_EXT_QUOTED, GO) : BAD;
    default: /* ST_EXT_QEND */ return ext_next(c, ch);
    }
}

static int size_line(ringo__chunked *c, unsigned char ch)
{
    int v = ringo__hex_value(ch);

    switch (c->state) {
    case ST_SIZE_START:
        if (v < 0)
            return BAD;
        c->state = ST_SIZE;
        return size_digit(c, v);
    case ST_SIZE: return v >= 0 ? size_digit(c, v) : size_end(c, ch);
    case ST_SIZE_LF:
        if (ch != '\n')
            return BAD;
        c->state = c->size ? ST_DATA : ST_TR_START;
        return GO;
    default:
        if (count_ext(c))
            return -413;
        return c->state < ST_EXT_VAL_START ? ext_name(c, ch) : ext_value(c, ch);
    }
}

/* The CRLF that ends chunk data; anything else means the size lied. */
static int data_end(ringo__chunked *c, unsigned char ch)
{
    if (c->state == ST_DATA_CR)
        return ch == '\r' ? (c->state = ST_DATA_LF, GO) : BAD;
    if (ch != '\n')
        return BAD;
    c->size = 0;
    c->digits = 0;
    c->state = ST_SIZE_START;
    return GO;
}

/*
 * field-line = field-name ":" OWS field-value OWS, as in the header section:
 * a line that starts with whitespace (obs-fold), whitespace before the
 * colon, a bare CR or LF, or a control byte is malformed (RFC 9112 §5).
 */
static int trailer(ringo__chunked *c, unsigned char ch)
{
    if (++c->trailer_bytes > c->max_meta)
        return -431;
    switch (c->state) {
    case ST_TR_START:
        if (ch == '\r')
            return c->state = ST_END_LF, GO;
        return ringo__is_tchar(ch) ? (c->state = ST_TR_NAME, GO) : BAD;
    case ST_TR_NAME:
        if (ringo__is_tchar(ch))
            return GO;
        return ch == ':' ? (c->state = ST_TR_VALUE, GO) : BAD;
    case ST_TR_VALUE:
        if (ch == '\r')
            return c->state = ST_TR_LF, GO;
        return is_text(ch) ? GO : BAD;
    case ST_TR_LF: return ch == '\n' ? (c->state = ST_TR_START, GO) : BAD;
    default: /* ST_END_LF */ return ch == '\n' ? DONE : BAD;
    }
}

static int step(ringo__chunked *c, unsigned char ch)
{
    if (c->state < ST_DATA)
        return size_line(c, ch);
    if (c->state < ST_TR_START)
        return data_end(c, ch);
    return trailer(c, ch);
}

static int data(ringo__chunked *c, const char *p, size_t n, size_t *used, ringo__chunked_sink sink,
                void *ud)
{
    size_t take = c->size < n ? (size_t)c->size : n;
    int ret = sink(ud, p, take);

    if (ret < 0)
        return ret;
    c->size -= take;
    c->total += take;
    *used += take;
    if (!c->size)
        c->state = ST_DATA_CR;
    return GO;
}

int ringo__chunked_decode(ringo__chunked *c, const char *p, size_t n, size_t *consumed,
                          ringo__chunked_sink sink, void *ud)
{
    size_t i = 0;
    int ret = c->state == ST_IDLE ? BAD : GO;

    while (ret == GO && i < n) {
        if (c->state == ST_DATA)
            ret = data(c, p + i, n - i, &i, sink, ud);
        else
            ret = step(c, (unsigned char)p[i++]);
    }
    *consumed = i;
    if (ret != GO)
        c->state = ST_IDLE;
    return ret;
}
