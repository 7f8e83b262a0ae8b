/* assets: files compiled into the memdemo binary, served as they are: the /debug/gc
 * dashboard's page and script (src/dashboard/) and the vendored chart library
 * (src/dashboard/vendor/uplot/). Embedding them means the page works with no network,
 * from any directory, and `make` needs no npm (the assembler's .incbin reads them).
 *
 * Owns: the table of embedded files (URL path, Content-Type, bytes). Leaves routing to
 * src/routes.c and the dashboard's data to src/dashboard.c.
 */
#ifndef MEMDEMO_ASSETS_H
#define MEMDEMO_ASSETS_H

#include <stddef.h>

struct asset {
    const char *path;            /* URL path, e.g. "/debug/gc/uPlot.iife.min.js" */
    const char *content_type;
    const unsigned char *data;   /* read-only, in the binary */
    size_t len;
};

/* Fills *out with the asset served at `path` and returns 0, or returns -1 when there
 * is none. Any thread. */
int assets_find(const char *path, struct asset *out);

#endif
