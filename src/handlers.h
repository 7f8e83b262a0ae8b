/* handlers: memdemo's own endpoints: /noleaker (garbage), /leaker (kept), the index
 * page and /debug/vars. The /debug/pprof endpoints are src/debug_pprof.c's.
 *
 * Owns: the leaker's global list (a static root, so the collector keeps every string)
 * and its mutex, and the repetitions setting.
 */
#ifndef MEMDEMO_HANDLERS_H
#define MEMDEMO_HANDLERS_H

#include <stddef.h>

#include "src/http.h"

/* Strings each /leaker and /noleaker request makes unless -repetitions says otherwise,
 * and the most it accepts (10 M strings of ~16 bytes: ~200 MB per request). */
#define HANDLERS_DEFAULT_REPETITIONS 1000
#define HANDLERS_MAX_REPETITIONS 10000000

/* Sets the strings per request and the command line /debug/vars reports. Main thread,
 * before serving. argv must outlive the server. */
void handlers_init(long repetitions, int argc, char **argv);

void handle_index(struct http_request *req);
void handle_noleaker(struct http_request *req);
void handle_leaker(struct http_request *req);
void handle_vars(struct http_request *req);

/* The leaker's totals: requests served, strings kept and their bytes, one consistent
 * snapshot. Takes the leaker mutex. */
void handlers_leaker_totals(size_t *requests, size_t *strings, size_t *bytes);

#endif
