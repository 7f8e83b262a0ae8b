/* assets: the embedded files. See assets.h.
 *
 * Each file is pulled into .rodata by the assembler's .incbin, between a start and an
 * end label (hidden symbols, so position-independent code reaches them directly).
 * Paths are relative to the repository root, where make runs the compiler; the
 * Makefile lists these files as prerequisites of this object, since the compiler's
 * -MMD dependencies do not see .incbin.
 */
#include "src/assets.h"

#include <string.h>

#define ASSET_INCBIN(sym, file)                                                     \
    __asm__(".section .rodata\n"                                                  \
            ".globl " #sym "\n.hidden " #sym "\n.balign 16\n" #sym ":\n"           \
            ".incbin \"" file "\"\n"                                              \
            ".globl " #sym "_end\n.hidden " #sym "_end\n" #sym "_end:\n"           \
            ".previous\n");                                                       \
    extern const unsigned char sym[] __attribute__((visibility("hidden")));       \
    extern const unsigned char sym##_end[] __attribute__((visibility("hidden")));

/* X(symbol, file in the repository, URL path, Content-Type) */
#define ASSET_TABLE(X)                                                                     \
    X(asset_index_html, "src/dashboard/index.html", "/debug/gc", "text/html; charset=utf-8") \
    X(asset_dashboard_js, "src/dashboard/dashboard.js", "/debug/gc/dashboard.js",            \
      "text/javascript; charset=utf-8")                                                     \
    X(asset_uplot_js, "src/dashboard/vendor/uplot/uPlot.iife.min.js", "/debug/gc/uPlot.iife.min.js", \
      "text/javascript; charset=utf-8")                                                     \
    X(asset_uplot_css, "src/dashboard/vendor/uplot/uPlot.min.css", "/debug/gc/uPlot.min.css",    \
      "text/css; charset=utf-8")                                                            \
    X(asset_uplot_license, "src/dashboard/vendor/uplot/LICENSE", "/debug/gc/uPlot.LICENSE",       \
      "text/plain; charset=utf-8")

#define ASSET_EMBED(sym, file, path, type) ASSET_INCBIN(sym, file)
ASSET_TABLE(ASSET_EMBED)

int assets_find(const char *path, struct asset *out)
{
#define ASSET_MATCH(sym, file, p, type)                                       \
    if (strcmp(path, p) == 0) {                                             \
        *out = (struct asset){p, type, sym, (size_t)(sym##_end - sym)};     \
        return 0;                                                           \
    }
    ASSET_TABLE(ASSET_MATCH)
    return -1;
}
