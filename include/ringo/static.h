/*
 * ringo/static.h - serving a directory tree (static files).
 *
 * ringo_static() mounts a directory under a URL prefix: GET and HEAD of
 * prefix + "/some/file" answer the file, from RINGO_ASYNC handlers on the
 * ring. Every file is opened with openat2(RESOLVE_BENEATH) through the ring,
 * relative to the root directory opened at registration, so nothing outside
 * the root is ever opened: "..", NUL, absolute paths, encoded slashes and
 * (unless allowed) hidden names and symbolic links are refused with 404,
 * as is anything that is not a regular file or a directory. A refusal and a
 * missing file look the same to the client.
 *
 * Responses carry a strong ETag built from the size and modification time
 * (not the inode: the same file on two hosts behind a load balancer gets
 * the same tag), Last-Modified, Accept-Ranges: bytes, the Content-Type of
 * the extension, and the mount's Cache-Control. Conditional requests
 * (If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since,
 * If-Range) are evaluated in RFC 9110 section 13.2.2's order and answer 304
 * or 412; Range answers 206 (one range), multipart/byteranges (several) or
 * 416. See docs/api.md "Static files" and docs/operations.md.
 */
#ifndef RINGO_STATIC_H
#define RINGO_STATIC_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry of ringo_static_opts.types: extension (without the dot, matched
 * case-insensitively) and the Content-Type sent for it. */
typedef struct ringo_static_type {
    const char *ext;
    const char *type;
} ringo_static_type;

/* ringo_static_opts.flags */
#define RINGO_STATIC_LISTING 1u        /* a directory without index answers an HTML listing */
#define RINGO_STATIC_SYMLINKS 2u       /* follow symbolic links that stay inside the root */
#define RINGO_STATIC_HIDDEN 4u         /* serve names starting with '.' */
#define RINGO_STATIC_NOSNIFF 8u        /* X-Content-Type-Options: nosniff */
#define RINGO_STATIC_PRECOMPRESSED 16u /* serve file.br / file.zst / file.gz when accepted */

/*
 * Mount options. Zeroed means the defaults; every string and array is
 * copied. The reserved words must be zero (ringo/app.h, ABI).
 */
typedef struct ringo_static_opts {
    const char *index;              /* a directory's index file ("index.html"); NULL: none */
    const char *cache_control;      /* Cache-Control value; NULL: none sent */
    const ringo_static_type *types; /* entries before the built-in table, ended by {NULL} */
    const char *default_type;       /* unknown extensions; NULL: application/octet-stream */
    uint64_t cache_bytes;           /* in-memory cache of small files, per ring; 0: none */
    uint32_t cache_max_file;        /* largest file cached, bytes; 0: 65536 */
    uint32_t cache_valid_ms;        /* a cached file is served this long without checking
                                       the file system again; 0: checked every request */
    uint32_t max_ranges;            /* ranges of one request after merging; 0: 16 */
    uint32_t flags;                 /* RINGO_STATIC_* */
    uint64_t reserved[4];           /* zero: room for later options */
} ringo_static_opts;

/*
 * Mounts the directory dir (opened now, O_PATH; later renames of the path
 * do not move the mount) at prefix: GET (and HEAD) routes prefix + "/" and
 * prefix + "/{path...}", RINGO_ASYNC. prefix starts with '/' and does not
 * end with one ("/static"); "" mounts at the root. A directory requested
 * without its trailing slash is redirected (301) to it. opts may be NULL.
 * The app owns the mount and frees it with itself.
 *
 * Returns 0; -EINVAL (app, dir NULL, a malformed prefix, nonzero reserved,
 * a type entry without a type); -EEXIST (a route of the prefix exists);
 * -EBUSY (after start); -ENOMEM; or the -errno of opening dir (-ENOENT,
 * -ENOTDIR, -EACCES...).
 */
RINGO_API int ringo_static(ringo_app *app, const char *prefix, const char *dir,
                           const ringo_static_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
