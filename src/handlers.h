/* handlers: memdemo's own endpoints: /noleaker (garbage) and /leaker (kept), and the
 * leaker's figures for /debug/vars and /metrics. The home page is src/routes.c's, the
 * /debug pages the /debug surface's (src/debug_surface.h).
 *
 * Owns: the leaker's global list (a static root, so the collector keeps every string)
 * and its mutex, and the repetitions setting.
 */
#ifndef MEMDEMO_HANDLERS_H
#define MEMDEMO_HANDLERS_H

#include <stddef.h>

#include "src/http.h"
#include "src/promfmt.h"

/* Strings each /leaker and /noleaker request makes unless -repetitions says otherwise,
 * and the most it accepts (10 M strings of ~16 bytes: ~200 MB per request). */
#define HANDLERS_DEFAULT_REPETITIONS 1000
#define HANDLERS_MAX_REPETITIONS 10000000

/* Sets the strings per request. Main thread, before serving. */
void handlers_init(long repetitions);

void handle_noleaker(struct http_request *req);
void handle_leaker(struct http_request *req);

/* The leaker's totals: requests served, strings kept and their bytes, one consistent
 * snapshot. Takes the leaker mutex. */
void handlers_leaker_totals(size_t *requests, size_t *strings, size_t *bytes);

/* The leaker's section of /debug/vars (a JSON object: requests, strings, bytes,
 * refused) and its /metrics families (memdemo_leaker_*). Take the leaker mutex. */
void handlers_write_vars(struct buf *out);
void handlers_write_metrics(struct promfmt *w);

#endif
