/* gcprof_vars: libgcprof's /debug/vars document (PREFIX.vars.json at exit, the live
 * page with -http): memdemo's names for the same figures, so that tools reading
 * memdemo's /debug/vars read this too, plus what only a watched program has (the
 * interposer's counts, the exit's truth). See gcprof_lib.h.
 */
#include <stdio.h>
#include <string.h>

#include "gc/gcevents.h"
#include "gc/gcheap.h"
#include "profile/sampler.h"
#include "profile/unwind.h"
#include "src/gcprof_lib.h"

static void json_string(struct buf *b, const char *s, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) buf_printf(b, "\\u%04x", c);
        else buf_putc(b, (char)c);
    }
    buf_putc(b, '"');
}

/* The arguments from /proc/self/cmdline (NUL-separated), as a JSON array. */
static void write_cmdline(struct buf *b)
{
    char args[8192];
    FILE *f = fopen("/proc/self/cmdline", "r");
    size_t n = f ? fread(args, 1, sizeof args, f) : 0;
    if (f) fclose(f);
    buf_puts(b, "\"cmdline\": [");
    for (size_t i = 0, first = 1; i < n; first = 0) {
        size_t len = strnlen(args + i, n - i);
        if (!first) buf_puts(b, ", ");
        json_string(b, args + i, len);
        i += len + 1;
    }
    buf_puts(b, "],\n");
}

static void write_memstats(struct buf *b)
{
    struct gcheap_stats st;
    gcheap_stats(&st);
    buf_puts(b, "\"memstats\": {");
#define JSON_FIELD(name, field, ...) buf_printf(b, "\"%s\": %llu, ", name, (unsigned long long)st.field);
    GCHEAP_STATS_FIELDS(JSON_FIELD)
#undef JSON_FIELD
    buf_printf(b, "\"NumPause\": %llu},\n", (unsigned long long)gcevents_pause_count());
}

static void write_profiler(struct buf *b)
{
    struct sampler_stats ps;
    const char *sep = "";
    sampler_stats(&ps);
    buf_puts(b, "\"profiler\": {");
#define JSON_FIELD(name, field, ...) buf_printf(b, "%s\"%s\": %llu", sep, name, (unsigned long long)ps.field), sep = ", ";
    SAMPLER_STATS_FIELDS(JSON_FIELD)
#undef JSON_FIELD
    buf_puts(b, "},\n");
}

void gcprof_write_interposer(struct buf *b, uint64_t trace_dropped)
{
    struct gcinterpose_counts c;
    gcinterpose_counts(&c);
    buf_printf(b, "{\"rate\": %lld, \"batches\": %llu, \"batch_objects\": %llu, \"frees\": %llu, "
                  "\"frees_tracked\": %llu, \"program_collections\": %llu, \"requested_collections\": %llu, "
                  "\"trace_dropped\": %llu, \"unwind_fallbacks\": %llu}",
               (long long)gcprof_rate(), (unsigned long long)c.batches, (unsigned long long)c.batch_objects,
               (unsigned long long)c.frees, (unsigned long long)c.forgotten,
               (unsigned long long)c.program_collections, (unsigned long long)c.requested_collections,
               (unsigned long long)trace_dropped, (unsigned long long)unwind_fallbacks());
}

static void write_final(struct buf *b, const struct gcprof_exit *e)
{
    const struct gcinterpose_truth *t = &e->truth;
    buf_printf(b, ",\n\"final\": {\"collected\": %d, \"reachable_bytes\": %llu, \"reachable_objects\": %llu, "
                  "\"total_bytes_at_start\": %llu, \"total_bytes_at_exit\": %llu, "
                  "\"collections_at_start\": %llu, \"collections_at_exit\": %llu}",
               e->collected, (unsigned long long)t->reachable_bytes, (unsigned long long)t->reachable_objects,
               (unsigned long long)t->total_bytes_at_start, (unsigned long long)t->total_bytes_now,
               (unsigned long long)t->collections_at_start, (unsigned long long)t->collections_now);
}

void gcprof_write_vars(struct buf *b, const struct gcprof_exit *e)
{
    buf_puts(b, "{\n");
    write_cmdline(b);
    write_memstats(b);
    write_profiler(b);
    buf_puts(b, "\"gcprof\": ");
    gcprof_write_interposer(b, e ? e->trace_dropped : 0);
    if (e) write_final(b, e);
    buf_puts(b, "\n}\n");
}
