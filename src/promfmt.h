/* promfmt: Prometheus's exposition formats, written by hand because Debian 12 ships no
 * C client library: the text format 0.0.4 and OpenMetrics 1.0, and the Accept-header
 * negotiation between them.
 *
 * Owns: which format a scraper asked for, the Content-Type of each, HELP/TYPE lines
 * (an OpenMetrics counter family is named without its "_total", which only its sample
 * carries), label and HELP escaping, number formatting (integers exactly; floats in
 * the shortest form that reads back to the same double; NaN, +Inf, -Inf), and the
 * "# EOF" OpenMetrics ends with. Leaves which figures exist to src/metrics.c.
 *
 * Writes into a struct buf (profile/buf.h): no check per call, buf latches failures.
 */
#ifndef MEMDEMO_PROMFMT_H
#define MEMDEMO_PROMFMT_H

#include <stdint.h>

#include "profile/buf.h"

enum promfmt_kind { PROMFMT_TEXT, PROMFMT_OPENMETRICS };

/* The format an Accept header asks for. Of the ranges memdemo can serve,
 * application/openmetrics-text (version 1.0.0, 0.0.1 or none) and text/plain (version
 * 0.0.4 or none), the one with the highest q above 0 wins, the earlier on a tie; when
 * none is acceptable (NULL, empty, "* / *", other types or versions, malformed text) the
 * answer is the text format, as client_golang's. */
enum promfmt_kind promfmt_negotiate(const char *accept);

/* "text/plain; version=0.0.4; charset=utf-8" or
 * "application/openmetrics-text; version=1.0.0; charset=utf-8". */
const char *promfmt_content_type(enum promfmt_kind kind);

enum promfmt_type { PROMFMT_COUNTER, PROMFMT_GAUGE, PROMFMT_SUMMARY, PROMFMT_HISTOGRAM };

struct promfmt {
    struct buf *out;
    enum promfmt_kind kind;
    const char *family;          /* the current family, as given to promfmt_family */
    enum promfmt_type type;
};

/* A writer into out. */
struct promfmt promfmt_start(struct buf *out, enum promfmt_kind kind);

/* Starts a family: its HELP and TYPE lines. `name` is the family's base name; for a
 * counter, WITHOUT "_total" (the writer adds it where each format wants it). */
void promfmt_family(struct promfmt *w, const char *name, enum promfmt_type type, const char *help);

/* One sample of the current family. suffix: "" for a gauge, a counter (the writer adds
 * "_total") or a summary's quantiles; "_sum", "_count", "_bucket" otherwise. labels:
 * NULL, or name/value pairs ending with NULL; values are escaped. */
void promfmt_u64(struct promfmt *w, const char *suffix, const char *const *labels, uint64_t v);
void promfmt_f64(struct promfmt *w, const char *suffix, const char *const *labels, double v);

/* Ends the exposition ("# EOF" for OpenMetrics). */
void promfmt_finish(struct promfmt *w);

/* Formats v into out: an integral value below 2^53 as an integer ("10"), any other in
 * the shortest %g form that parses back to the same double ("0.005", "5e-05",
 * "1.8446744073709552e+19"), and "NaN", "+Inf", "-Inf". For sample values and for
 * label values such as le="0.005". */
#define PROMFMT_FLOAT_MAX 32
void promfmt_format_float(double v, char out[PROMFMT_FLOAT_MAX]);

#endif
