/* debug_switches: {path, get, set} rows and their one handler. See debug_switches.h. */
#include "src/debug_switches.h"

#include <stdint.h>
#include <string.h>

#include "profile/lockprof.h"
#include "profile/sampler.h"
#include "src/debug_http.h"
#include "src/debug_pprof.h"

struct debug_switch {
    struct router_route route;      /* first: the table is a router table */
    const char *name;               /* as the answers say it */
    int64_t (*get)(void);
    int (*set)(int64_t);            /* 0, or -1 for a value out of its range */
};

/* Answers GET with the value, POST ?rate=N by setting it. */
static void serve_switch(struct http_request *req)
{
    const struct debug_switch *sw = (const struct debug_switch *)http_route(req);
    const char *v = http_query(req, "rate");
    long long was = sw->get(), rate;
    char why[DEBUG_HTTP_WHY];
    const char *off = debug_pprof_withheld(DEBUG_PPROF_SWITCHES);
    if (off) {
        debug_http_error(req, 404, "%s is not served here: %s", sw->route.path, off);
        return;
    }
    if (strcmp(http_method(req), "POST") != 0) {
        if (v) http_respond_text(req, 400, "GET only reads %s; to change it: POST %s?rate=N", sw->name, sw->route.path);
        else http_respond_text(req, 200, "%s %lld", sw->name, was);
        return;
    }
    if (!v) { http_respond_text(req, 400, "POST %s needs ?rate=N", sw->route.path); return; }
    if (debug_http_int("rate", v, was, 0, DEBUG_SWITCHES_MAX_RATE, &rate, why, sizeof why) < 0) {
        http_respond_text(req, 400, "%s", why);
        return;
    }
    if (rate != was && sw->set(rate) < 0) { http_respond_text(req, 400, "%s refused %lld", sw->name, rate); return; }
    http_respond_text(req, 200, "%s %lld (was %lld)", sw->name, rate, was);
}

#define ROW(path, about) {path, 0, ROUTER_GET_HEAD | ROUTER_POST, serve_switch, NULL, about}

static const struct debug_switch switches[] = {
    {ROW("/debug/memprofilerate", "the heap profiler's sampling rate; POST ?rate=N changes it "
                                  "(1: every allocation, 0: off)"),
     "memprofilerate", sampler_rate, sampler_set_rate},
    {ROW("/debug/mutexprofilefraction", "the mutex profile's fraction; POST ?rate=N records one "
                                        "contention in N (1: all, 0: off)"),
     "mutexprofilefraction", lockprof_mutex_fraction, lockprof_set_mutex_fraction},
    {ROW("/debug/blockprofilerate", "the block profile's rate; POST ?rate=N records one wait per N ns "
                                    "waited (1: all, 0: off)"),
     "blockprofilerate", lockprof_block_rate, lockprof_set_block_rate},
};
const struct router_table debug_switches = ROUTER_TABLE(switches);
