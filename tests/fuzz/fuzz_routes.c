/* fuzz_routes: the router (src/router.c over memdemo's router, src/routes.c) on
 * arbitrary paths and methods: the input up to its first NUL is the path, the rest up
 * to the next NUL the method.
 *
 * Properties: router_find answers what its contract says, computed here the slow way
 * over every row (an exact row whose path equals the request's; else the longest
 * prefix row the path starts with; else none), and that row's index maps back to it;
 * a method's bit is set only for GET, HEAD and POST; router_allows agrees with the
 * row's bits (HEAD wherever GET); router_match says 404 (no row), 405 (a row, no
 * handler, the Allow list) or the row's handler, as those do; the Allow header names
 * exactly the allowed methods and fits any buffer it is given.
 */
#include <stdlib.h>
#include <string.h>

#include "src/router.h"
#include "src/routes.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static const struct router_route *slow_find(const char *path)
{
    const struct router_route *best = NULL;
    size_t n = router_count(&routes_router);
    for (size_t i = 0; i < n; i++) {
        const struct router_route *r = router_at(&routes_router, i);
        if (!r->prefix && strcmp(path, r->path) == 0) return r;
    }
    for (size_t i = 0; i < n; i++) {
        const struct router_route *r = router_at(&routes_router, i);
        size_t len = strlen(r->path);
        if (r->prefix && strncmp(path, r->path, len) == 0 && (!best || len > strlen(best->path))) best = r;
    }
    return best;
}

static void check_allow(const struct router_route *r, size_t cap)
{
    char out[64];
    memset(out, 'x', sizeof out);
    router_allow_header(r, out, cap);
    if (cap == 0) { FUZZ_CHECK(out[0] == 'x'); return; }
    FUZZ_CHECK(memchr(out, '\0', cap) != NULL);
    if (cap < sizeof out) return;
    FUZZ_CHECK((strstr(out, "GET, HEAD") != NULL) == ((r->methods & ROUTER_GET) != 0));
    FUZZ_CHECK((strstr(out, "POST") != NULL) == ((r->methods & ROUTER_POST) != 0));
}

static void check_match(const struct router_route *r, const char *path, const char *method)
{
    struct http_match m;
    memset(&m, 0, sizeof m);
    router_match(&routes_router, method, path, &m);
    FUZZ_CHECK(m.route == r);
    if (!r) { FUZZ_CHECK(m.handler == NULL); return; }
    FUZZ_CHECK(m.refuse == r->refuse);
    if (router_allows(r, method)) {
        FUZZ_CHECK(m.handler == r->handler && m.allow[0] == '\0');
    } else {
        char allow[sizeof m.allow];
        router_allow_header(r, allow, sizeof allow);
        FUZZ_CHECK(m.handler == NULL && strcmp(m.allow, allow) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 2);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = copy[size + 1] = '\0';
    const char *path = copy, *method = copy + strlen(copy) + (strlen(copy) < size);

    const struct router_route *r = router_find(&routes_router, path);
    FUZZ_CHECK(r == slow_find(path));
    unsigned bit = router_method_bit(method);
    int known = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "POST") == 0;
    FUZZ_CHECK((bit != 0) == known);
    FUZZ_CHECK(bit == 0 || bit == ROUTER_GET || bit == ROUTER_HEAD || bit == ROUTER_POST);
    for (size_t i = 0, n = router_count(&routes_router); i < n; i++) {
        const struct router_route *t = router_at(&routes_router, i);
        unsigned allowed = t->methods | ((t->methods & ROUTER_GET) ? ROUTER_HEAD : 0);
        FUZZ_CHECK(router_allows(t, method) == ((bit & allowed) != 0));
    }
    check_match(r, path, method);
    if (r) {
        long i = router_index(&routes_router, r);
        FUZZ_CHECK(i >= 0 && router_at(&routes_router, (size_t)i) == r);
        FUZZ_CHECK(r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0);
        check_allow(r, size ? data[size - 1] % 40 : 0);
        check_allow(r, 64);
    }
    free(copy);
    return 0;
}
