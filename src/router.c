/* router: matching over chained tables. See router.h. */
#include "src/router.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const struct router_route *row(const struct router_table *t, size_t i)
{
    return (const struct router_route *)(const void *)((const char *)t->rows + i * t->stride);
}

size_t router_count(const struct router *rt)
{
    size_t n = 0;
    for (size_t t = 0; t < rt->ntables; t++) n += rt->tables[t]->n;
    return n;
}

const struct router_route *router_at(const struct router *rt, size_t i)
{
    for (size_t t = 0; t < rt->ntables; t++) {
        if (i < rt->tables[t]->n) return row(rt->tables[t], i);
        i -= rt->tables[t]->n;
    }
    return NULL;
}

long router_index(const struct router *rt, const struct router_route *r)
{
    long base = 0;
    for (size_t t = 0; t < rt->ntables; t++) {
        const struct router_table *tb = rt->tables[t];
        uintptr_t first = (uintptr_t)tb->rows, p = (uintptr_t)r;   /* integers: r may be in no table */
        if (p >= first && p < first + tb->n * tb->stride && (p - first) % tb->stride == 0)
            return base + (long)((p - first) / tb->stride);
        base += (long)tb->n;
    }
    return -1;
}

const struct router_route *router_find(const struct router *rt, const char *path)
{
    const struct router_route *best = NULL;
    size_t best_len = 0;
    for (size_t t = 0; t < rt->ntables; t++) {
        for (size_t i = 0; i < rt->tables[t]->n; i++) {
            const struct router_route *r = row(rt->tables[t], i);
            size_t n = strlen(r->path);
            if (!r->prefix) {
                if (strcmp(path, r->path) == 0) return r;
            } else if (strncmp(path, r->path, n) == 0 && n > best_len) {
                best = r;
                best_len = n;
            }
        }
    }
    return best;
}

unsigned router_method_bit(const char *method)
{
    return strcmp(method, "GET") == 0    ? ROUTER_GET
           : strcmp(method, "HEAD") == 0 ? ROUTER_HEAD
           : strcmp(method, "POST") == 0 ? ROUTER_POST : 0;
}

int router_allows(const struct router_route *r, const char *method)
{
    unsigned allowed = r->methods | ((r->methods & ROUTER_GET) ? ROUTER_HEAD : 0);
    return (router_method_bit(method) & allowed) != 0;
}

void router_allow_header(const struct router_route *r, char *out, size_t n)
{
    if (n == 0) return;
    snprintf(out, n, "%s%s%s", (r->methods & ROUTER_GET) ? "GET, HEAD" : "",
             ((r->methods & ROUTER_GET) && (r->methods & ROUTER_POST)) ? ", " : "",
             (r->methods & ROUTER_POST) ? "POST" : "");
}

void router_match(const void *router, const char *method, const char *path, struct http_match *m)
{
    const struct router_route *r = router_find(router, path);
    if (!r) return;
    m->route = r;
    m->refuse = r->refuse;
    if (router_allows(r, method)) m->handler = r->handler;
    else router_allow_header(r, m->allow, sizeof m->allow);
}
