/*
 * ringo/form.h - HTML form bodies: multipart/form-data (RFC 7578) and
 * application/x-www-form-urlencoded, FastAPI's Form(...) and UploadFile.
 *
 * ringo_form_read() reads the whole body (as it arrives on a
 * RINGO_ROUTE_STREAM_BODY route, else the buffered one) and keeps what it
 * found on the request: text fields in the request's memory, up to a size
 * per field, and file parts (a part with a filename) spooled to unnamed
 * temporary files as they arrive, so a large upload costs bounded memory.
 * Fields are then read like any other parameter, with
 * RINGO_LOC_FORM (ringo/params.h): a missing or invalid one gets FastAPI's
 * 422 with "loc": ["body", name]. Files are read with ringo_form_file().
 *
 * Everything found lives until the request ends: field strings are in the
 * request's memory and the files' descriptors are closed by ringo then (dup()
 * one to keep it).
 */
#ifndef RINGO_FORM_H
#define RINGO_FORM_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of ringo_form_read(); zero them (designated initializers) before use. */
typedef struct ringo_form_opts {
    uint64_t max_field_bytes;       /* one text field's value; 0: 65536 (413 past it) */
    uint64_t max_file_bytes;        /* one file part; 0: only the body's limit */
    uint32_t max_parts;             /* fields and files; 0: 1000 (413 past it) */
    uint32_t max_part_header_bytes; /* one part's header section; 0: 4096 (413) */
    const char *spool_dir;          /* where file parts go; NULL: $TMPDIR, else /tmp */
    uint64_t reserved[2];           /* zero */
} ringo_form_opts;

/* A file part. */
typedef struct ringo_upload {
    ringo_str name;         /* the form field's name */
    ringo_str filename;     /* as the client sent it (not a path to trust); may be empty */
    ringo_str content_type; /* the part's Content-Type, "text/plain" when it had none */
    int fd;                 /* an unnamed temporary file at offset 0, closed by ringo */
    uint64_t size;
} ringo_upload;

/*
 * Reads and parses the body (opts may be NULL: the defaults). Valid from the
 * handler or its dependencies, as ringo_req_read(); a second call returns
 * what the first returned and changes nothing. Returns 0; RINGO_EHTTP when the body is not a form
 * (415), is malformed (400) or passes a limit (413) - the answer is set, as
 * by ringo_fail(), and the handler returns it; -ECANCELED, -ETIMEDOUT,
 * -EPERM, -EINVAL (nonzero reserved), -ENOMEM, or the errno of writing a
 * file part.
 */
RINGO_API int ringo_form_read(ringo_req *req, const ringo_form_opts *opts);

/* Fields in the order received (repeated names too): count, and the i-th (-ERANGE). */
RINGO_API unsigned ringo_form_field_count(const ringo_req *req);
RINGO_API int ringo_form_field_at(const ringo_req *req, unsigned i, ringo_str *name,
                                  ringo_str *value);

/* File parts in the order received: count, and the i-th (NULL past the end). */
RINGO_API unsigned ringo_form_file_count(const ringo_req *req);
RINGO_API const ringo_upload *ringo_form_file_at(const ringo_req *req, unsigned i);

/*
 * The first file part called name. Returns 0 and sets *out; when there is
 * none: RINGO_EVALIDATION (recorded as FastAPI's "missing" at
 * ["body", name]) if required, else -ENOENT.
 */
RINGO_API int ringo_form_file(ringo_req *req, const char *name, int required,
                              const ringo_upload **out);

#ifdef __cplusplus
}
#endif
#endif
