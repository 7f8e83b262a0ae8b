/* metrics: GET /metrics, memdemo's figures for Prometheus.
 *
 * Owns: which families exist and where each figure comes from: client_golang's Go
 * collector names wherever bdwgc's figure means the same (README's metric table says
 * which Go names are left out and why), its process collector's names, and memdemo's
 * own (leaker, requests per route, profiler, trace). Leaves the formats and their
 * negotiation to src/promfmt, request counting to src/reqstats, /proc to src/procstat.
 *
 * Cost of a scrape: one bdwgc statistics call (the allocation lock, briefly: no
 * collection, no stop of the world), the profiler lock and the leaker mutex briefly,
 * a few /proc reads, and a response of a few kilobytes in malloc'd memory.
 */
#ifndef MEMDEMO_METRICS_H
#define MEMDEMO_METRICS_H

#include "src/http.h"

/* GET /metrics: the text format 0.0.4, or OpenMetrics 1.0 when the Accept header
 * prefers it (promfmt_negotiate). */
void metrics_handle(struct http_request *req);

/* Writes every family into out in the given format (promfmt_kind). For tests and the
 * handler. Registered thread (it reads bdwgc's statistics). */
void metrics_write(struct buf *out, int openmetrics);

#endif
