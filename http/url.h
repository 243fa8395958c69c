/*
 * http/url.h - request-target parsing and percent-decoding.
 *
 * Nothing here allocates: results point into the caller's bytes (or, for a
 * decode, into the caller's buffer). Decoding is left to the caller so that a
 * handler that never reads a value never pays for it. RFC 9112 section 3.2
 * (request-target forms), RFC 3986 section 2.1 (percent-encoding).
 */
#ifndef RINGO_HTTP_URL_H
#define RINGO_HTTP_URL_H

#include <stdbool.h>
#include <sys/types.h>

#include "ringo/common.h"

/*
 * Splits a raw request-target into its path and query.
 *
 * Accepted forms:
 *   origin-form    "/a/b?x=1"        path "/a/b", query "x=1"
 *   absolute-form  "http://h:8080/a?x" (scheme http or https, any case)
 *                  path "/a", query "x"; without a path ("https://h",
 *                  "http://h?x") the path is "/"
 *   asterisk-form  "*"               path "*" (meaningful only for OPTIONS;
 *                                    the caller checks the method)
 * The query excludes the '?' and may be empty. Every byte must be visible
 * ASCII (0x21..0x7e): controls, space, DEL and bytes >= 0x80 are rejected,
 * and so is '#' (a fragment never belongs in a request-target). An
 * absolute-form authority must have a non-empty host and no userinfo
 * (RFC 9110 section 4.2.4 asks recipients to treat userinfo as an error).
 *
 * On success *path and *query point into target, except the synthesized "/"
 * of an absolute-form target without a path, which is a static string.
 * Returns 0, or -EINVAL for anything malformed (outputs are then undefined).
 */
int ringo__url_split(ringo_str target, ringo_str *path, ringo_str *query);

/*
 * The authority ("host:port") of an absolute-form target, which RFC 9112
 * section 3.2.2 says overrides the Host header. *authority points into target.
 * Returns 0, -ENOENT when target is not absolute-form, -EINVAL when malformed.
 */
int ringo__url_authority(ringo_str target, ringo_str *authority);

/*
 * Percent-decodes src[0..len) into dst. dst may equal src (the output is
 * never longer than the input); other overlaps are not allowed. '+' becomes a
 * space only when plus_is_space (form-encoded queries), never in paths. The
 * output is not NUL-terminated and may contain NUL bytes ("%00").
 * Returns the decoded length, or -EINVAL for a malformed escape ("%zz",
 * "%4" at the end); dst is then partly written.
 */
ssize_t ringo__pct_decode(char *dst, const char *src, size_t len, int plus_is_space);

/*
 * Checks that every '%' in s[0..len) starts a valid escape.
 * Returns 0 or -EINVAL.
 */
int ringo__pct_validate(const char *s, size_t len);

/*
 * Whether a Host field value is valid (RFC 9112 §3.2, RFC 3986 §3.2.2):
 * uri-host [":" port], where uri-host is "[" IP-literal "]" or a reg-name
 * (unreserved, pct-encoded and sub-delims; IPv4 addresses are among them)
 * and port is digits. An empty value is valid (an empty reg-name).
 */
bool ringo__host_valid(const char *s, size_t len);

/*
 * Finds the first "key=value" pair in query (already without '?', pairs
 * separated by '&', empty pairs skipped) whose key, decoded with '+' as
 * space, equals name byte for byte. *raw_value points into query and is
 * still encoded: the caller decodes it (ringo__pct_decode with plus_is_space)
 * into memory it owns. It is empty for "flag" and for "flag=".
 * Returns 0, -ENOENT when no key matches, or -EINVAL when a key met before
 * the match has a malformed escape.
 */
int ringo__query_get(ringo_str query, ringo_str name, ringo_str *raw_value);

#endif
