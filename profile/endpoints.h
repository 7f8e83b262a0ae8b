/* endpoints: the /debug/pprof HTTP endpoints, following Go's net/http/pprof contract
 * so that go tool pprof and go tool trace can fetch from memdemo as from a Go server,
 * plus /debug/memprofilerate, which changes the sampling rate at run time.
 *
 * Owns: parameter parsing and validation (gc, debug, seconds, rate), Go's error
 * answers (text/plain with X-Go-Pprof: 1), delta profiles over a deferred window, and
 * the index page (which lists every profile, those src/debug_profiles serves too, with
 * live counts from profile/threads and profile/lockprof). Leaves the data to
 * profile/sampler and profile/trace, the encodings to profile/pprof and the trace
 * writer, routing to src/routes.c (where the exact /debug/pprof/<name> routes of
 * src/debug_profiles take precedence over this prefix route).
 */
#ifndef MEMDEMO_ENDPOINTS_H
#define MEMDEMO_ENDPOINTS_H

#include "src/http.h"

/* Longest window /debug/pprof/heap?seconds=N and /debug/pprof/trace?seconds=N accept. */
#define ENDPOINTS_MAX_SECONDS 600

/* Remembers the command line /debug/pprof/cmdline answers. Main thread, at start. */
void endpoints_set_cmdline(int argc, char **argv);

/* /debug/pprof/ and everything below it: dispatches on the profile name. */
void endpoints_pprof(struct http_request *req);

/* /debug/pprof without the slash: a redirect to /debug/pprof/, as Go's mux answers. */
void endpoints_pprof_redirect(struct http_request *req);

/* /debug/memprofilerate: GET shows the rate; ?rate=N sets it (0 off, 1 exact). */
void endpoints_memprofilerate(struct http_request *req);

#endif
