/* debug_profiles: the HTTP side of the CPU, goroutine, threadcreate, mutex and block
 * profiles (/debug/pprof/profile, goroutine, threadcreate, mutex, block) and of the
 * run-time switches /debug/mutexprofilefraction and /debug/blockprofilerate.
 *
 * Owns: their parameters (seconds, debug, rate) and Go's answers for them (status
 * codes, messages, Content-Type application/octet-stream with Content-Disposition for
 * binary profiles, text/plain for debug=N), and the deferred windows (CPU profile,
 * mutex and block deltas). Leaves the data and encodings to profile/cpuprof,
 * profile/threads and profile/lockprof, routing to src/routes.c.
 *
 * Every handler is a plain http_handler_fn: call it on a worker thread for its path.
 */
#ifndef MEMDEMO_DEBUG_PROFILES_H
#define MEMDEMO_DEBUG_PROFILES_H

#include "src/http.h"

/* Go's default CPU profile window when ?seconds is absent. */
#define DEBUG_PROFILES_CPU_DEFAULT_SECONDS 30

/* /debug/pprof/profile?seconds=N: a CPU profile of the next N seconds (default 30). */
void debug_profiles_cpu(struct http_request *req);

/* /debug/pprof/goroutine?debug=0|1|2: every thread with its current stack. */
void debug_profiles_goroutine(struct http_request *req);

/* /debug/pprof/threadcreate?debug=0|1: where each thread was created. */
void debug_profiles_threadcreate(struct http_request *req);

/* /debug/pprof/mutex and /debug/pprof/block (?debug=1 text, ?seconds=N a delta). */
void debug_profiles_mutex(struct http_request *req);
void debug_profiles_block(struct http_request *req);

/* /debug/mutexprofilefraction and /debug/blockprofilerate: GET shows the switch;
 * ?rate=N sets it (0 off, 1 every event). */
void debug_profiles_mutexprofilefraction(struct http_request *req);
void debug_profiles_blockprofilerate(struct http_request *req);

#endif
