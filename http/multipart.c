/*
 * http/multipart.c - multipart/form-data, RFC 7578 over RFC 2046 §5.1.
 *
 *   multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF
 *                     body-part *encapsulation close-delimiter
 *                     transport-padding [CRLF epilogue]
 *   encapsulation  := delimiter transport-padding CRLF body-part
 *   delimiter      := CRLF dash-boundary      dash-boundary := "--" boundary
 *   close-delimiter := delimiter "--"         transport-padding := *LWSP-char
 *   body-part      := MIME-part-headers [CRLF *OCTET]
 *
 * The state machine, one state per place in that grammar:
 *
 *   PREAMBLE --"\r\n--b"--> DELIM --'-'--> CLOSE --'-'--> EPILOGUE (ignored)
 *      (the body's start      |  \--SP/HT--> PAD --CR--.
 *       counts as a CRLF)     \--CR--------------------> DELIM_LF --LF-->
 *   HEADERS <--LF-- HDR_LF <--CR-- HEADERS (a line) ... blank line: part_begin,
 *   DATA --"\r\n--b"--> DELIM (part_end once the delimiter's line is valid)
 *
 * Finding the delimiter. PREAMBLE and DATA match pat = "\r\n--" boundary one
 * byte at a time, m bytes matched so far, with memchr() to the next CR while
 * nothing is matched. On a mismatch the matched bytes are data and matching
 * restarts at the mismatching byte, never earlier: a new match could only
 * start at a CR, and pat holds one CR, at its start (a boundary has no CR).
 * So every byte is examined at most twice and a body full of "\r\n--"
 * prefixes stays linear. The matched bytes are pat's first m bytes, so a
 * candidate cut by the end of a buffer needs no copy: if it fails in the next
 * buffer, its bytes are delivered from pat. RFC 2046 §5.1.1 says a boundary
 * matches when it appears in its entirety after a CRLF: "\r\n--bX" is a
 * delimiter followed by garbage (400), not data.
 *
 * Headers. From the end of the boundary to the blank line every byte counts
 * against max_header_bytes; header lines are copied into hbuf without their
 * CR, counted against max_headers, and parsed when the blank line arrives.
 * CRLF is required everywhere outside data: a bare LF or CR is a 400, which
 * rejects LF-only bodies (no browser or HTTP client sends them).
 */
#include "http/multipart.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"

enum {
    ST_PREAMBLE,
    ST_DELIM,    /* the boundary matched: "--", padding or CR follows */
    ST_PAD,      /* transport padding */
    ST_CLOSE,    /* "--b-": the second '-' */
    ST_DELIM_LF, /* the CR ending the delimiter line: LF follows */
    ST_HEADERS,  /* inside a header line, or at the start of one */
    ST_HDR_LF,   /* the CR ending a header line: LF follows */
    ST_DATA,
    ST_EPILOGUE,
};

#define BAD (-EBADMSG)

static int is_ws(unsigned char c) { return c == ' ' || c == '\t'; }

/* RFC 2046 bcharsnospace, plus the space that may not end a boundary. */
static int is_bchar(unsigned char c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    return ringo__ascii_digit(c) || (c && strchr("'()+_,-./:=? ", c));
}

/* ---- header values: parameters, quoted-strings ---- */

static size_t skip_ows(const char *v, size_t n, size_t i)
{
    while (i < n && is_ws((unsigned char)v[i]))
        i++;
    return i;
}

static size_t token_end(const char *v, size_t n, size_t i)
{
    while (i < n && ringo__is_tchar((unsigned char)v[i]))
        i++;
    return i;
}

/*
 * A field-value byte: HTAB, SP, VCHAR or obs-text (RFC 9110 §5.5). Inside a
 * quoted-string the same bytes are qdtext (once '"' and '\\' are handled)
 * and may follow a backslash (quoted-pair, §5.6.4).
 */
static int is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/*
 * v[i] is a '"': the end of the quoted-string (after the closing quote), or 0
 * when it is malformed. The text between the quotes keeps its escapes.
 */
static size_t quoted_end(const char *v, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)v[i];

        if (c == '"')
            return i + 1;
        if (c == '\\' && ++i == n)
            return 0;
        if (!is_text((unsigned char)v[i]))
            return 0;
    }
    return 0;
}

/*
 * Reads the parameter at v[*i] of "*( OWS ";" OWS [ name "=" value ] )"
 * (RFC 9110 §5.6.6). Returns 1 with its name and value (for a quoted-string
 * the text between the quotes, escapes kept, and *quoted set), 0 at the end
 * of v, or -EINVAL when malformed. Empty parameters are skipped.
 */
static int next_param(const char *v, size_t n, size_t *i, ringo_str *name, ringo_str *val,
                      int *quoted)
{
    size_t j = skip_ows(v, n, *i), k;
    int semi = 0;

    while (j < n && v[j] == ';') {
        semi = 1;
        j = skip_ows(v, n, j + 1);
    }
    if (j == n)
        return 0;
    if (!semi)
        return -EINVAL;
    k = token_end(v, n, j);
    if (k == j || k == n || v[k] != '=')
        return -EINVAL;
    *name = (ringo_str){v + j, k - j};
    j = k + 1;
    *quoted = j < n && v[j] == '"';
    k = *quoted ? quoted_end(v, n, j) : token_end(v, n, j);
    if (k == 0 || k == j)
        return -EINVAL;
    *val = *quoted ? (ringo_str){v + j + 1, k - j - 2} : (ringo_str){v + j, k - j};
    *i = k;
    return 1;
}

/* ---- the boundary ---- */

/*
 * Removes quoted-pair escapes from raw into out (RINGO__MP_BOUNDARY_MAX
 * bytes) and checks the result is a boundary. Returns its length or -EINVAL.
 */
static int unescape_boundary(ringo_str raw, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < raw.len; i++) {
        unsigned char c = (unsigned char)raw.ptr[i];

        if (c == '\\' && i + 1 < raw.len)
            c = (unsigned char)raw.ptr[++i];
        if (!is_bchar(c) || n == RINGO__MP_BOUNDARY_MAX)
            return -EINVAL;
        out[n++] = (char)c;
    }
    if (n == 0 || out[n - 1] == ' ')
        return -EINVAL;
    return (int)n;
}

int ringo__mp_boundary(ringo_str ct, ringo_str *boundary)
{
    static const char type[] = "multipart/form-data";
    const size_t tlen = sizeof(type) - 1;
    char tmp[RINGO__MP_BOUNDARY_MAX];
    size_t i = skip_ows(ct.ptr, ct.len, 0);
    ringo_str name, val;
    int found = 0, quoted, rc;

    if (ct.len - i < tlen || !ringo__ascii_iequal(ct.ptr + i, type, tlen))
        return -EINVAL;
    i += tlen;
    if (i < ct.len && ct.ptr[i] != ';' && !is_ws((unsigned char)ct.ptr[i]))
        return -EINVAL;
    while ((rc = next_param(ct.ptr, ct.len, &i, &name, &val, &quoted)) > 0) {
        if (name.len != 8 || !ringo__ascii_iequal(name.ptr, "boundary", 8))
            continue;
        if (found++ || unescape_boundary(val, tmp) < 0)
            return -EINVAL;
        *boundary = val;
    }
    return rc < 0 || !found ? -EINVAL : 0;
}

/* ---- setup ---- */

void ringo__mp_limits_init(ringo__mp_limits *lim)
{
    lim->max_parts = 1000;
    lim->max_header_bytes = 4096;
    lim->max_headers = 16;
}

int ringo__mp_init(ringo__mp *p, ringo_str boundary, const ringo__mp_limits *lim,
                   const ringo__mp_callbacks *cb, void *udata)
{
    int n;

    memset(p, 0, sizeof(*p));
    memcpy(p->pat, "\r\n--", 4);
    n = unescape_boundary(boundary, p->pat + 4);
    if (n < 0)
        return n;
    p->plen = (uint8_t)(4 + n);
    if (lim)
        p->lim = *lim;
    else
        ringo__mp_limits_init(&p->lim);
    if (cb)
        p->cb = *cb;
    p->udata = udata;
    p->hbuf = ringo__malloc(p->lim.max_header_bytes ? p->lim.max_header_bytes : 1);
    if (!p->hbuf)
        return -ENOMEM;
    /* The body's start stands for the CRLF before the first dash-boundary. */
    p->m = 2;
    p->state = ST_PREAMBLE;
    return 0;
}

void ringo__mp_free(ringo__mp *p)
{
    ringo__free(p->hbuf);
    p->hbuf = NULL;
}

int ringo__mp_status(int err)
{
    switch (err) {
    case -EBADMSG:
    case -EINVAL: return 400;
    case -EMSGSIZE:
    case -E2BIG:
    case -EOVERFLOW:
    case -EFBIG: return 413;
    case -ENOMEM: return 503;
    default: return err < 0 ? 500 : 200;
    }
}

/* ---- callbacks ---- */

static int cb_result(int rc) { return rc > 0 ? -ECANCELED : rc; }

static int emit(ringo__mp *p, const char *d, size_t n)
{
    if (n == 0 || !p->in_part || !p->cb.part_data)
        return 0;
    return cb_result(p->cb.part_data(p->udata, d, n));
}

static int end_part(ringo__mp *p)
{
    if (!p->in_part)
        return 0;
    p->in_part = 0;
    return p->cb.part_end ? cb_result(p->cb.part_end(p->udata)) : 0;
}

/* ---- part headers ---- */

/*
 * Removes the escapes of a Content-Disposition quoted-string in place. Only
 * "\\" and "\"" are escapes: browsers send file names raw, backslashes and
 * all ("C:\dir\a.txt" from old Windows clients), and percent-encode the
 * quote (HTML's form submission algorithm), so dropping every backslash
 * as RFC 9110's quoted-pair would corrupt real names. Returns the new length.
 */
static size_t unescape_cd(char *s, size_t n)
{
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
            i++;
        s[j++] = s[i];
    }
    return j;
}

/*
 * Stores a name or filename parameter; a second one is ambiguous. val points
 * into hbuf, which the parser owns, so it may be unescaped in place.
 */
static int set_param(ringo_str *dst, ringo_str val, int quoted)
{
    if (dst->ptr)
        return BAD;
    dst->ptr = val.ptr;
    dst->len = quoted ? unescape_cd((char *)val.ptr, val.len) : val.len;
    return 0;
}

/* Content-Disposition: form-data; name="..."[; filename="..."] (RFC 7578 §4.2). */
static int parse_disposition(const char *v, size_t n, ringo__mp_part *part)
{
    size_t i = token_end(v, n, 0);
    ringo_str name, val;
    int quoted, rc;

    if (i != 9 || !ringo__ascii_iequal(v, "form-data", 9))
        return BAD;
    if (i < n && v[i] != ';' && !is_ws((unsigned char)v[i]))
        return BAD;
    while ((rc = next_param(v, n, &i, &name, &val, &quoted)) > 0) {
        if (name.len == 4 && ringo__ascii_iequal(name.ptr, "name", 4))
            rc = set_param(&part->name, val, quoted);
        else if (name.len == 8 && ringo__ascii_iequal(name.ptr, "filename", 8))
            rc = set_param(&part->filename, val, quoted);
        if (rc < 0)
            return BAD;
    }
    return rc < 0 || !part->name.ptr ? BAD : 0;
}

/* RFC 7578 §4.7: senders must not encode parts; only the identity names are accepted. */
static int check_cte(const char *v, size_t n)
{
    if (n == 4 && ringo__ascii_iequal(v, "7bit", 4))
        return 0;
    if (n == 4 && ringo__ascii_iequal(v, "8bit", 4))
        return 0;
    if (n == 6 && ringo__ascii_iequal(v, "binary", 6))
        return 0;
    return BAD;
}

static int name_is(ringo_str name, const char *lit)
{
    size_t n = strlen(lit);
    return name.len == n && ringo__ascii_iequal(name.ptr, lit, n);
}

/* One header line s[0..n) (RFC 9112 §5: no obs-fold, no space before the colon). */
static int parse_line(char *s, size_t n, ringo__mp_part *part, int *seen_cd)
{
    size_t colon = token_end(s, n, 0), vs, ve;
    ringo_str name = {s, colon};

    if (colon == 0 || colon == n || s[colon] != ':')
        return BAD; /* also a line starting with SP/HT: obs-fold */
    vs = skip_ows(s, n, colon + 1);
    ve = n;
    while (ve > vs && is_ws((unsigned char)s[ve - 1]))
        ve--;
    for (size_t i = vs; i < ve; i++)
        if (!is_text((unsigned char)s[i]))
            return BAD;
    if (name_is(name, "content-disposition")) {
        if ((*seen_cd)++)
            return BAD;
        return parse_disposition(s + vs, ve - vs, part);
    }
    if (name_is(name, "content-type")) {
        if (part->content_type.ptr || ve == vs)
            return BAD;
        part->content_type = (ringo_str){s + vs, ve - vs};
    } else if (name_is(name, "content-transfer-encoding")) {
        return check_cte(s + vs, ve - vs);
    }
    return 0;
}

/* The blank line ended the header section: parse it and start the part. */
static int begin_part(ringo__mp *p)
{
    ringo__mp_part part = {.index = p->nparts - 1};
    char *s = p->hbuf, *end = p->hbuf + p->hlen;
    int seen_cd = 0, rc;

    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));

        rc = parse_line(s, (size_t)(nl - s), &part, &seen_cd);
        if (rc < 0)
            return rc;
        s = nl + 1;
    }
    if (!seen_cd)
        return BAD;
    if (!part.content_type.ptr)
        part.content_type = RINGO_STR_LIT("text/plain");
    p->in_part = 1;
    p->m = 0;
    p->state = ST_DATA;
    return p->cb.part_begin ? cb_result(p->cb.part_begin(p->udata, &part)) : 0;
}

/* ---- the byte-at-a-time states ---- */

/* The delimiter line was valid and ended in CRLF: the next part starts. */
static int next_part(ringo__mp *p)
{
    int rc = end_part(p);

    if (rc < 0)
        return rc;
    if (p->nparts == p->lim.max_parts)
        return -EOVERFLOW;
    p->nparts++;
    p->nlines = p->hlen = p->line_len = 0;
    p->state = ST_HEADERS;
    return 0;
}

static int header_byte(ringo__mp *p, unsigned char c)
{
    if (c == '\r') {
        p->state = ST_HDR_LF;
        return 0;
    }
    if (c == '\n')
        return BAD;
    p->hbuf[p->hlen++] = (char)c;
    p->line_len++;
    return 0;
}

static int header_lf(ringo__mp *p, unsigned char c)
{
    if (c != '\n')
        return BAD;
    if (p->line_len == 0)
        return begin_part(p);
    if (++p->nlines > p->lim.max_headers)
        return -E2BIG;
    /* hlen < hbytes <= max_header_bytes: the delimiter's CRLF was counted, not stored. */
    p->hbuf[p->hlen++] = '\n';
    p->line_len = 0;
    p->state = ST_HEADERS;
    return 0;
}

static int step(ringo__mp *p, unsigned char c)
{
    if (++p->hbytes > p->lim.max_header_bytes)
        return -EMSGSIZE;
    switch (p->state) {
    case ST_DELIM:
        if (c == '-') {
            p->state = ST_CLOSE;
            return 0;
        }
        /* fall through */
    case ST_PAD:
        if (c == '\r')
            p->state = ST_DELIM_LF;
        else if (is_ws(c))
            p->state = ST_PAD;
        else
            return BAD;
        return 0;
    case ST_CLOSE:
        if (c != '-')
            return BAD;
        p->state = ST_EPILOGUE;
        return end_part(p);
    case ST_DELIM_LF: return c == '\n' ? next_part(p) : BAD;
    case ST_HEADERS: return header_byte(p, c);
    case ST_HDR_LF: return header_lf(p, c);
    }
    return BAD;
}

/* ---- the delimiter search ---- */

/*
 * PREAMBLE and DATA: d[*pos..len) up to the end of the next delimiter.
 * Data goes out as spans of d, except the bytes of a candidate that began
 * in an earlier buffer and failed here: those come from pat (see the top).
 */
static int scan(ringo__mp *p, const char *d, size_t len, size_t *pos)
{
    size_t i = *pos, span = i, cand = i, held = p->m;
    int rc;

    while (i < len) {
        if (p->m == 0) {
            const char *cr = memchr(d + i, '\r', len - i);

            if (!cr)
                break;
            i = (size_t)(cr - d);
            cand = i++;
            p->m = 1;
        } else if (d[i] == p->pat[p->m]) {
            i++;
            if (++p->m == p->plen) {
                *pos = i;
                p->m = 0;
                p->hbytes = 0;
                p->state = ST_DELIM;
                return emit(p, d + span, cand - span);
            }
        } else {
            rc = emit(p, p->pat, held);
            if (rc < 0)
                return rc;
            held = 0;
            p->m = 0;
        }
    }
    *pos = len;
    return emit(p, d + span, (p->m ? cand : len) - span);
}

int ringo__mp_feed(ringo__mp *p, const char *data, size_t len)
{
    size_t i = 0;
    int rc = 0;

    if (p->err)
        return p->err;
    while (i < len && p->state != ST_EPILOGUE) {
        if (p->state == ST_PREAMBLE || p->state == ST_DATA)
            rc = scan(p, data, len, &i);
        else
            rc = step(p, (unsigned char)data[i++]);
        if (rc < 0)
            return p->err = rc;
    }
    return p->state == ST_EPILOGUE;
}

int ringo__mp_finish(ringo__mp *p)
{
    if (p->err)
        return p->err;
    if (p->state != ST_EPILOGUE)
        p->err = BAD;
    return p->err;
}
