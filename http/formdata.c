/*
 * http/formdata.c - ringo_form_read() (ringo/form.h): a form body read
 * through ringo_req_read() and decoded by http/multipart.c or http/form.c.
 *
 * Multipart: text fields gather in a heap buffer bounded by max_field_bytes
 * and land in the request's arena when the part ends; file parts go to an
 * unnamed temporary file as their bytes arrive (io_uring writes on an async
 * handler's ring, pwrite on a worker), so memory stays at one read buffer
 * plus one field. urlencoded: the body is read whole into the arena (bounded
 * by the body limit and URLENCODED_MAX) and decoded in place.
 */
#include <errno.h>
#include <unistd.h>

#include "core/alloc.h"
#include "http/form.h"
#include "http/http_impl.h"
#include "http/multipart.h"

#define FIELD_MAX_DEFAULT 65536
#define URLENCODED_MAX (8u << 20) /* a urlencoded body is held whole */

typedef struct ringo__formdata {
    int result; /* what ringo_form_read() returned: a second call returns it again */
    ringo__hdr *fields;
    uint32_t nfields, field_cap;
    ringo_upload *files;
    uint32_t nfiles, file_cap;
} ringo__formdata;

/* Grows an arena array of elem-sized items to hold one more; 0 or -ENOMEM. */
static int grow(ringo_req *r, void **arr, uint32_t n, uint32_t *cap, size_t elem)
{
    void *p;

    if (n < *cap)
        return 0;
    p = ringo_req_alloc(r, (*cap ? *cap * 2 : 8) * elem);
    if (!p)
        return -ENOMEM;
    if (n)
        memcpy(p, *arr, n * elem);
    *arr = p;
    *cap = *cap ? *cap * 2 : 8;
    return 0;
}

static int add_field(ringo_req *r, ringo__formdata *f, ringo_str name, ringo_str value)
{
    ringo__hdr *h;

    if (grow(r, (void **)&f->fields, f->nfields, &f->field_cap, sizeof(*f->fields)) < 0)
        return -ENOMEM;
    h = &f->fields[f->nfields];
    h->name = (ringo_str){ringo__arena_dup(&r->arena, name.ptr, name.len), name.len};
    h->value = (ringo_str){ringo__arena_dup(&r->arena, value.ptr, value.len), value.len};
    if (!h->name.ptr || !h->value.ptr)
        return -ENOMEM;
    f->nfields++;
    return 0;
}

/* ---- multipart/form-data ---- */

typedef struct mp_state {
    ringo_req *r;
    ringo__formdata *f;
    const ringo_form_opts *o;
    int ctx;
    int io_err;           /* a file part could not be written: not the client's fault */
    ringo_upload *file;   /* the file part being read, or NULL: a field */
    ringo_str field_name; /* the field part being read */
    char *buf;            /* its value so far */
    size_t len, cap;
    uint64_t part_bytes;
} mp_state;

static int part_begin(void *ud, const ringo__mp_part *part)
{
    mp_state *m = ud;
    ringo_req *r = m->r;
    ringo__formdata *f = m->f;
    ringo_upload *file;
    int fd;

    m->part_bytes = 0;
    m->len = 0;
    if (!part->filename.ptr) {
        m->file = NULL;
        m->field_name = (ringo_str){ringo__arena_dup(&r->arena, part->name.ptr, part->name.len),
                                    part->name.len};
        return m->field_name.ptr ? 0 : -ENOMEM;
    }
    if (grow(r, (void **)&f->files, f->nfiles, &f->file_cap, sizeof(*f->files)) < 0)
        return -ENOMEM;
    fd = ringo__tmpfile(m->o->spool_dir);
    if (fd < 0) {
        m->io_err = fd;
        return fd;
    }
    file = &f->files[f->nfiles++];
    memset(file, 0, sizeof(*file));
    file->fd = fd;
    file->name =
        (ringo_str){ringo__arena_dup(&r->arena, part->name.ptr, part->name.len), part->name.len};
    file->filename = (ringo_str){
        ringo__arena_dup(&r->arena, part->filename.ptr, part->filename.len), part->filename.len};
    file->content_type =
        (ringo_str){ringo__arena_dup(&r->arena, part->content_type.ptr, part->content_type.len),
                    part->content_type.len};
    if (!file->name.ptr || !file->filename.ptr || !file->content_type.ptr)
        return -ENOMEM;
    m->file = file;
    return 0;
}

static int part_data(void *ud, const char *p, size_t n)
{
    mp_state *m = ud;
    int ret;

    if (m->file) {
        if (m->o->max_file_bytes && n > m->o->max_file_bytes - m->part_bytes)
            return -EFBIG;
        ret = ringo__write_all(m->file->fd, p, n, m->part_bytes, m->ctx);
        if (ret < 0)
            return m->io_err = ret;
        m->part_bytes += n;
        m->file->size = m->part_bytes;
        return 0;
    }
    if (n > m->o->max_field_bytes - m->len)
        return -EFBIG;
    if (ringo__grow(&m->buf, &m->cap, m->len + n, 256) < 0)
        return -ENOMEM;
    memcpy(m->buf + m->len, p, n);
    m->len += n;
    return 0;
}

static int part_end(void *ud)
{
    mp_state *m = ud;

    if (m->file)
        return 0;
    return add_field(m->r, m->f, m->field_name, (ringo_str){m->buf ? m->buf : "", m->len});
}

/* The parser or a callback stopped: the answer, or the error to return. */
static int mp_error(ringo_req *r, const mp_state *m, int err)
{
    int status;

    if (m->io_err)
        return m->io_err;
    if (err == -ENOMEM)
        return -ENOMEM;
    status = ringo__mp_status(err);
    return ringo_fail(r, status,
                      status == 413 ? "form part too large or too many parts"
                                    : "malformed multipart/form-data body");
}

static int read_multipart(ringo_req *r, ringo__formdata *f, const ringo_form_opts *o, int ctx,
                          ringo_str boundary)
{
    static const ringo__mp_callbacks cb = {part_begin, part_data, part_end};
    mp_state m = {.r = r, .f = f, .o = o, .ctx = ctx};
    size_t cap = ringo__ring_config(ringo__conn_ring(r->conn))->stream_window;
    ringo__mp_limits lim;
    ringo__mp mp;
    char *buf;
    int ret;

    ringo__mp_limits_init(&lim);
    if (o->max_parts)
        lim.max_parts = o->max_parts;
    if (o->max_part_header_bytes)
        lim.max_header_bytes = o->max_part_header_bytes;
    buf = ringo__malloc(cap);
    if (!buf)
        return -ENOMEM;
    ret = ringo__mp_init(&mp, boundary, &lim, &cb, &m);
    if (ret < 0) {
        ringo__free(buf);
        return ret == -ENOMEM ? ret : ringo_fail(r, 400, "bad multipart boundary");
    }
    for (;;) {
        ssize_t n = ringo_req_read(r, buf, cap);
        if (n < 0) {
            ret = (int)n; /* the body's own error is the answer (ringo/body.h) */
            break;
        }
        ret = n ? ringo__mp_feed(&mp, buf, (size_t)n) : ringo__mp_finish(&mp);
        if (ret < 0) {
            ret = mp_error(r, &m, ret);
            break;
        }
        if (n == 0)
            break;
        /* After the close delimiter the epilogue is read and ignored. */
    }
    ringo__mp_free(&mp);
    ringo__free(m.buf);
    ringo__free(buf);
    return ret < 0 ? ret : 0;
}

/* ---- application/x-www-form-urlencoded ---- */

static int read_urlencoded(ringo_req *r, ringo__formdata *f, const ringo_form_opts *o)
{
    uint64_t limit = r->max_body < URLENCODED_MAX ? r->max_body : URLENCODED_MAX;
    size_t len = 0, cap = 4096;
    char *body = ringo_req_alloc(r, cap);
    ringo__form form;
    ringo_str k, v;
    int ret;

    for (;;) {
        ssize_t n;
        if (!body)
            return -ENOMEM;
        if (len == cap) {
            char *b, probe;
            if (cap >= limit) {
                /* Full at the limit: the body fits only if nothing follows. */
                n = ringo_req_read(r, &probe, 1);
                if (n < 0)
                    return (int)n;
                if (n == 0)
                    break;
                return ringo_fail(r, 413, "form body too large");
            }
            cap = cap * 2 < limit ? cap * 2 : (size_t)limit;
            b = ringo_req_alloc(r, cap);
            if (b)
                memcpy(b, body, len);
            body = b;
            continue;
        }
        n = ringo_req_read(r, body + len, cap - len);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    ringo__form_init(&form, body, len, o->max_parts ? o->max_parts : RINGO__FORM_MAX_FIELDS);
    while ((ret = ringo__form_next(&form, &k, &v)) == 1) {
        if (v.len > o->max_field_bytes)
            return ringo_fail(r, 413, "form field too large");
        if (add_field(r, f, k, v) < 0)
            return -ENOMEM;
    }
    if (ret == -E2BIG)
        return ringo_fail(r, 413, "too many form fields");
    if (ret < 0)
        return ringo_fail(r, 400, "malformed form body");
    return 0;
}

/* ---- the API ---- */

int ringo_form_read(ringo_req *req, const ringo_form_opts *opts)
{
    int ctx = ringo__req_context(req);
    ringo_form_opts o = {0};
    ringo__formdata *f;
    ringo_str ct, boundary;
    int ret;

    if (ctx == RINGO__CTX_NONE)
        return -EPERM;
    if (opts && !RINGO__RESERVED_ZERO(opts->reserved))
        return -EINVAL;
    if (req->form)
        return req->form->result;
    if (opts)
        o = *opts;
    if (!o.max_field_bytes)
        o.max_field_bytes = FIELD_MAX_DEFAULT;
    f = ringo_req_alloc(req, sizeof(*f));
    if (!f)
        return -ENOMEM;
    memset(f, 0, sizeof(*f));
    if (ringo_req_header(req, "content-type", &ct) < 0)
        ct = (ringo_str){"", 0};
    req->form = f; /* from here on its files are closed with the request */
    if (ringo__mp_boundary(ct, &boundary) == 0)
        ret = read_multipart(req, f, &o, ctx, boundary);
    else if (ringo__form_is_urlencoded(ct))
        ret = read_urlencoded(req, f, &o);
    else
        ret = ringo_fail(req, 415,
                         "expected multipart/form-data or "
                         "application/x-www-form-urlencoded");
    f->result = ret;
    return ret;
}

unsigned ringo_form_field_count(const ringo_req *req) { return req->form ? req->form->nfields : 0; }

int ringo_form_field_at(const ringo_req *req, unsigned i, ringo_str *name, ringo_str *value)
{
    if (!req->form || i >= req->form->nfields)
        return -ERANGE;
    *name = req->form->fields[i].name;
    *value = req->form->fields[i].value;
    return 0;
}

unsigned ringo_form_file_count(const ringo_req *req) { return req->form ? req->form->nfiles : 0; }

const ringo_upload *ringo_form_file_at(const ringo_req *req, unsigned i)
{
    return req->form && i < req->form->nfiles ? &req->form->files[i] : NULL;
}

static bool name_is(ringo_str s, const char *name, size_t n)
{
    return s.len == n && memcmp(s.ptr, name, n) == 0;
}

int ringo_form_file(ringo_req *req, const char *name, int required, const ringo_upload **out)
{
    size_t n = strlen(name);

    for (unsigned i = 0; i < ringo_form_file_count(req); i++)
        if (name_is(req->form->files[i].name, name, n)) {
            *out = &req->form->files[i];
            return 0;
        }
    *out = NULL;
    return required ? ringo__params_missing(req, RINGO_LOC_FORM, name) : -ENOENT;
}

int ringo__form_field(const ringo_req *r, const char *name, ringo_str *out)
{
    size_t n = strlen(name);

    for (unsigned i = 0; i < ringo_form_field_count(r); i++)
        if (name_is(r->form->fields[i].name, name, n)) {
            *out = r->form->fields[i].value;
            return 0;
        }
    return -ENOENT;
}

void ringo__form_free(ringo_req *r)
{
    for (unsigned i = 0; i < r->form->nfiles; i++)
        if (r->form->files[i].fd >= 0)
            close(r->form->files[i].fd);
    r->form = NULL;
}
