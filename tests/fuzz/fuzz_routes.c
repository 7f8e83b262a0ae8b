/* fuzz_routes: the router (src/routes.c) on arbitrary paths and methods: the input up
 * to its first NUL is the path, the rest up to the next NUL the method.
 *
 * Properties: routes_find answers what its contract says, computed here the slow way
 * over routes_table (an exact route whose path equals the request's; else the longest
 * prefix route the path starts with; else none); a method's bit is set only for GET,
 * HEAD and POST; routes_allows agrees with the route's bits (HEAD wherever GET); the
 * Allow header names exactly the allowed methods and fits any buffer it is given.
 */
#include <stdlib.h>
#include <string.h>

#include "src/routes.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static const struct route *slow_find(const char *path)
{
    const struct route *best = NULL;
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes_table[i];
        if (!r->prefix && strcmp(path, r->path) == 0) return r;
    }
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes_table[i];
        size_t n = strlen(r->path);
        if (r->prefix && strncmp(path, r->path, n) == 0 && (!best || n > strlen(best->path))) best = r;
    }
    return best;
}

static void check_allow(const struct route *r, size_t cap)
{
    char out[64];
    memset(out, 'x', sizeof out);
    routes_allow_header(r, out, cap);
    if (cap == 0) { FUZZ_CHECK(out[0] == 'x'); return; }
    FUZZ_CHECK(memchr(out, '\0', cap) != NULL);
    if (cap < sizeof out) return;
    FUZZ_CHECK((strstr(out, "GET, HEAD") != NULL) == ((r->methods & ROUTE_GET) != 0));
    FUZZ_CHECK((strstr(out, "POST") != NULL) == ((r->methods & ROUTE_POST) != 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 2);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = copy[size + 1] = '\0';
    const char *path = copy, *method = copy + strlen(copy) + (strlen(copy) < size);

    const struct route *r = routes_find(path);
    FUZZ_CHECK(r == slow_find(path));
    unsigned bit = routes_method_bit(method);
    int known = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "POST") == 0;
    FUZZ_CHECK((bit != 0) == known);
    FUZZ_CHECK(bit == 0 || bit == ROUTE_GET || bit == ROUTE_HEAD || bit == ROUTE_POST);
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *t = &routes_table[i];
        unsigned allowed = t->methods | ((t->methods & ROUTE_GET) ? ROUTE_HEAD : 0);
        FUZZ_CHECK(routes_allows(t, method) == ((bit & allowed) != 0));
    }
    if (r) {
        FUZZ_CHECK(r >= routes_table && r < routes_table + routes_count);
        FUZZ_CHECK(r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0);
        check_allow(r, size ? data[size - 1] % 40 : 0);
        check_allow(r, 64);
    }
    free(copy);
    return 0;
}
