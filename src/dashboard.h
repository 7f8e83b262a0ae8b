/* dashboard: the live GC dashboard at /debug/gc: the page, its embedded files, and the
 * JSON feed the page polls.
 *
 * Owns: a ring of one-per-second samples of the figures the page charts (heap size,
 * in use and next trigger; bytes allocated; collections and pause time; leaker
 * strings; requests per route; RSS) and the pauses between them, and the feed's
 * long poll. Leaves the figures to their owners (gc/, reqstats, handlers, procstat)
 * and the page's drawing to src/dashboard/dashboard.js.
 *
 * Cost: nothing runs unless a page polls. There is no sampling thread: a poll that
 * finds the newest sample a second old takes the next one itself (bdwgc's statistics
 * under the allocation lock, the leaker mutex, one /proc read), and one that comes
 * sooner waits on the server's deferral timer (no worker thread is held), so every
 * open page gets one sample a second and several pages share them.
 */
#ifndef MEMDEMO_DASHBOARD_H
#define MEMDEMO_DASHBOARD_H

#include "src/http.h"

#define DASHBOARD_HISTORY 300         /* samples kept: five minutes */
#define DASHBOARD_INTERVAL_MS 1000    /* one sample a second */

/* GET /debug/gc/feed?since=SEQ: JSON with the samples after SEQ (0: all kept), with
 * rates over the interval before each, and the pauses since sample SEQ. When there is
 * none newer, answers once the next sample is due (at most DASHBOARD_INTERVAL_MS).
 * since must be an integer from 0 to the newest sample's number, else 400. */
void dashboard_feed(struct http_request *req);

/* GET /debug/gc and its files (/debug/gc/dashboard.js, the chart library): the
 * embedded file for the request's path, or 404. */
void dashboard_file(struct http_request *req);

#endif
