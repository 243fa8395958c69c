/*
 * http/range.h - the Range request header (RFC 9110 section 14.2) for
 * byte ranges of a representation of known length.
 *
 * The parser is strict about syntax (a malformed header is ignored: the
 * whole representation is sent, as RFC 9110 section 14.2 allows) and
 * bounded against the known denial of service of many small, overlapping
 * or unsorted ranges: more than RINGO__RANGE_RAW_MAX range-specs, ranges
 * whose lengths sum past the representation's length, or more than the
 * caller's maximum after sorting and coalescing also mean "send the whole
 * representation". Nothing here allocates.
 */
#ifndef RINGO_HTTP_RANGE_H
#define RINGO_HTTP_RANGE_H

#include <stdint.h>

#include "ringo/common.h"

/* A satisfiable byte range, first and last byte positions inclusive. */
typedef struct ringo__range {
    uint64_t first, last;
} ringo__range;

/* Most range-specs read before the header is ignored as abusive. */
#define RINGO__RANGE_RAW_MAX 256u

/* ringo__range_parse(): ignore the header, send the whole representation (200). */
#define RINGO__RANGE_IGNORE 0

/*
 * Parses a Range value for a representation of size bytes into out[0..max)
 * (max >= 1), sorted by first position, overlapping and adjacent ranges
 * merged, unsatisfiable ones dropped.
 *
 * Returns the number of ranges (>= 1: 206); RINGO__RANGE_IGNORE when the
 * value is malformed, its unit is not "bytes", size is 0, or it is abusive
 * (see above; max too is such a bound); -ERANGE when it is well-formed but
 * no range is satisfiable (416 with "Content-Range: bytes * /size").
 */
int ringo__range_parse(ringo_str value, uint64_t size, ringo__range *out, unsigned max);

#endif
