/* metrics: GET /metrics, the /debug surface's figures for Prometheus.
 *
 * Owns: which families exist and where each figure comes from: the collector's and
 * the profilers' from their field tables (GCHEAP_STATS_FIELDS, SAMPLER_STATS_FIELDS,
 * CPUPROF_, TRACE_ and LOCKPROF_STATS_FIELDS, which /debug/vars prints too), with
 * client_golang's Go collector names wherever bdwgc's figure means the same (README's metric table says which Go names are left
 * out and why), its process collector's names, requests per route, the tracer's; and
 * the sections a program adds (memdemo: the leaker's). Leaves the formats and their
 * negotiation to src/promfmt, request counting to src/reqstats, /proc to src/procstat.
 *
 * Cost of a scrape: one bdwgc statistics call (the allocation lock, briefly: no
 * collection, no stop of the world), the profiler lock briefly, what added sections
 * take (memdemo's: the leaker mutex), a few /proc reads, and a response of a few
 * kilobytes in malloc'd memory.
 */
#ifndef MEMDEMO_METRICS_H
#define MEMDEMO_METRICS_H

#include "src/http.h"
#include "src/promfmt.h"

/* GET /metrics: the text format 0.0.4, or OpenMetrics 1.0 when the Accept header
 * prefers it (promfmt_negotiate). */
void metrics_handle(struct http_request *req);

/* A program's own families, written after the collector's (before the request
 * counters). At most METRICS_MAX_SECTIONS. Main thread, before serving. Returns 0, or
 * -1 with errno = ENOSPC when full. */
#define METRICS_MAX_SECTIONS 4
int metrics_add_section(void (*write)(struct promfmt *w));

/* Writes every family into out in the given format (promfmt_kind). For tests and the
 * handler. Registered thread (it reads bdwgc's statistics). */
void metrics_write(struct buf *out, int openmetrics);

#endif
