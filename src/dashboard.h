/* dashboard: the live GC dashboard at /debug/gc: the page, its embedded files, and the
 * JSON feed the page polls; part of the /debug surface (src/debug_surface.h), so every
 * host of the surface serves it: memdemo, and libgcprof in a program it watches.
 *
 * Owns: a ring of one-per-second samples of the figures the page charts (heap size,
 * in use and next trigger; bytes allocated; collections and pause time; RSS; and what
 * the host adds: one gauge of its own, its requests per route) and the pauses between
 * them, the feed's long poll, and which charts the feed declares: a host figure the
 * host does not give is not charted (no zeros that nobody measured). Leaves the
 * figures to their owners (gc/, reqstats, procstat, the host's gauge) and the page's
 * drawing to src/dashboard/dashboard.js.
 *
 * Where bdwgc's figures are those the last collection left (a thread that may not call
 * bdwgc: libgcprof's server, gcthreads_may_call_collector() == 0), the feed says so,
 * and a rate over them is taken between the two collections' ends, or null when no
 * collection came between two samples.
 *
 * Cost: nothing runs unless a page polls. There is no sampling thread: a poll that
 * finds the newest sample a second old takes the next one itself (bdwgc's statistics,
 * the host's gauge, one /proc read), and one that comes sooner waits on the server's
 * deferral timer (no worker thread is held), so every open page gets one sample a
 * second and several pages share them.
 */
#ifndef MEMDEMO_DASHBOARD_H
#define MEMDEMO_DASHBOARD_H

#include <stdint.h>

#include "src/router.h"

#define DASHBOARD_HISTORY 300         /* samples kept: five minutes */
#define DASHBOARD_INTERVAL_MS 1000    /* one sample a second */

/* What the host charts beyond the collector's figures. */
struct dashboard_host {
    const char *name;                 /* the program, in the page's title; NULL: "this program" */
    const char *gauge_title;          /* the gauge chart's title (and what it counts), e.g. */
    const char *gauge_unit;           /*   "Leaker", "strings kept"; NULL title: no gauge chart */
    uint64_t (*gauge)(void);          /* its figure; called under the dashboard's lock */
    int requests;                     /* reqstats counts the host's requests: the requests chart */
};

/* Sets what the host charts (copied; the strings must outlive the server). Without
 * it: no gauge, no requests chart. Main thread, before serving. */
void dashboard_init(const struct dashboard_host *host);

/* GET /debug/gc and its files (/debug/gc/dashboard.js, the chart library), and
 * GET /debug/gc/feed?since=SEQ: JSON with the samples after SEQ (0: all kept), with
 * rates over the interval before each, and the pauses since sample SEQ. When there is
 * none newer, the feed answers once the next sample is due (at most
 * DASHBOARD_INTERVAL_MS). since must be an integer from 0 to the newest sample's
 * number, else 400. Rows are struct router_route. */
extern const struct router_table dashboard_pages;

#endif
