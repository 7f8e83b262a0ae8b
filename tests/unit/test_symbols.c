/* test_symbols: profile/symbols resolves this very test binary's code through libdw:
 * names, absolute source paths, lines inside the function, inline chains, PLT stubs,
 * and the mapping list with the executable first and its build id.
 */
#include "profile/symbols.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The lines target_function spans: keep these enums next to it. */
enum { TARGET_FIRST_LINE = __LINE__ + 2 };
__attribute__((noinline, no_icf)) static uintptr_t
target_function(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
    return pc;
}
enum { TARGET_LAST_LINE = __LINE__ };

/* The call site of target_function inside caller_function: its return address. */
__attribute__((noinline, no_icf)) static uintptr_t caller_function(void)
{
    uintptr_t ret = target_function();
    __asm__ volatile("" ::: "memory");
    return ret;
}
enum { CALLER_LINE = __LINE__ - 4 };

static inline __attribute__((always_inline)) uintptr_t inlined_helper(void)
{
    return target_function();
}
enum { HELPER_CALL_LINE = __LINE__ - 2 };

__attribute__((noinline, no_icf)) static uintptr_t outer_with_inline(void)
{
    uintptr_t ret = inlined_helper();
    __asm__ volatile("" ::: "memory");
    return ret;
}
enum { OUTER_CALL_LINE = __LINE__ - 4 };

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

TEST(init_succeeds_for_the_running_process)
{
    CHECK_EQ_INT(symbols_init(), 0);
    CHECK_EQ_INT(symbols_init(), 0);
}

TEST(function_address_resolves_to_its_name_absolute_file_and_a_line_inside_it)
{
    struct symbols_frame f[SYMBOLS_MAX_FRAMES];
    uintptr_t pc = (uintptr_t)&target_function + 4;
    int n = symbols_lookup(pc, f, SYMBOLS_MAX_FRAMES);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(f[0].function, "target_function");
    CHECK_NOT_NULL(f[0].file);
    CHECK_PREFIX(f[0].file, "/");
    if (!ends_with(f[0].file, "/tests/unit/test_symbols.c")) UNIT__FAIL("file is %s", f[0].file);
    if (access(f[0].file, R_OK) != 0) UNIT__FAIL("cannot read %s: %s", f[0].file, strerror(errno));
    if (f[0].line < TARGET_FIRST_LINE || f[0].line > TARGET_LAST_LINE)
        UNIT__FAIL("line %d outside %d..%d", f[0].line, TARGET_FIRST_LINE, TARGET_LAST_LINE);
    CHECK_EQ_INT(f[0].start_line, TARGET_FIRST_LINE);
}

TEST(return_address_minus_one_lands_on_the_call_line)
{
    struct symbols_frame f[SYMBOLS_MAX_FRAMES];
    int n = symbols_lookup(caller_function() - 1, f, SYMBOLS_MAX_FRAMES);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(f[0].function, "caller_function");
    CHECK_EQ_INT(f[0].line, CALLER_LINE);
}

TEST(inlined_call_site_reports_callee_first_then_physical_function)
{
    struct symbols_frame f[SYMBOLS_MAX_FRAMES];
    int n = symbols_lookup(outer_with_inline() - 1, f, SYMBOLS_MAX_FRAMES);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0].function, "inlined_helper");
    CHECK_EQ_STR(f[1].function, "outer_with_inline");
    CHECK_EQ_INT(f[0].line, HELPER_CALL_LINE);
    CHECK_EQ_INT(f[1].line, OUTER_CALL_LINE);
    if (!f[1].file || !ends_with(f[1].file, "test_symbols.c")) UNIT__FAIL("file is %s", f[1].file ? f[1].file : "(null)");
}

TEST(max_smaller_than_chain_keeps_the_physical_function)
{
    struct symbols_frame f[1];
    int n = symbols_lookup(outer_with_inline() - 1, f, 1);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(f[0].function, "outer_with_inline");
}

TEST(repeated_lookup_returns_the_same_interned_strings)
{
    struct symbols_frame a[4], b[4];
    uintptr_t pc = caller_function() - 1;
    CHECK_EQ_INT(symbols_lookup(pc, a, 4), 1);
    CHECK_EQ_INT(symbols_lookup(pc, b, 4), 1);
    CHECK_EQ_PTR(a[0].function, b[0].function);
    CHECK_EQ_PTR(a[0].file, b[0].file);
}

TEST(unknown_address_resolves_to_nothing)
{
    struct symbols_frame f[4];
    CHECK_EQ_INT(symbols_lookup(0, f, 4), 0);
    CHECK_EQ_INT(symbols_lookup(16, f, 4), 0);
    CHECK_NULL(symbols_name(16, NULL));
}

TEST(libc_function_without_dwarf_still_has_a_name)
{
    struct symbols_frame f[4];
    int n = symbols_lookup((uintptr_t)&getpid + 1, f, 4);
    CHECK_GE(n, 1);
    CHECK_CONTAINS(f[n - 1].function, "getpid");
}

TEST(symbol_name_and_offset_for_the_legacy_text)
{
    uintptr_t off = 99;
    const char *name = symbols_name((uintptr_t)&target_function + 3, &off);
    CHECK_EQ_STR(name, "target_function");
    CHECK_EQ_INT(off, 3);
}

/* Functions named as Crystal names its methods (an '@' before the type the method
 * comes from; a proc literal's '@' before its file and line): the '@' is not a symbol
 * version's, and the name is kept whole. */
__attribute__((noinline, no_icf, used)) static int crystal_method(void) __asm__("\"*Box@Reference#hash:UInt64\"");
__attribute__((noinline, no_icf, used)) static int crystal_method(void) { __asm__ volatile("" ::: "memory"); return 1; }
__attribute__((noinline, no_icf, used)) static int crystal_proc(void) __asm__("\"~procProc(Nil)@src/a.cr:3\"");
__attribute__((noinline, no_icf, used)) static int crystal_proc(void) { __asm__ volatile("" ::: "memory"); return 2; }

TEST(a_name_with_an_at_sign_that_is_no_version_is_kept_whole)
{
    CHECK_EQ_STR(symbols_name((uintptr_t)&crystal_method, NULL), "*Box@Reference#hash:UInt64");
    CHECK_EQ_STR(symbols_name((uintptr_t)&crystal_proc, NULL), "~procProc(Nil)@src/a.cr:3");
}

TEST(mappings_list_this_binary_first_with_a_40_hex_build_id)
{
    const struct symbols_mapping *m;
    size_t n = symbols_mappings(&m);
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK_GT(len, 0);
    exe[len] = 0;
    CHECK_GE(n, 2);                                  /* this binary and libc at least */
    CHECK_EQ_STR(m[0].path, exe);
    CHECK_LE_U64(m[0].start, (uintptr_t)&target_function);
    CHECK_LT_U64((uintptr_t)&target_function, m[0].limit);
    CHECK_EQ_INT(strlen(m[0].build_id), 40);
    if (strspn(m[0].build_id, "0123456789abcdefABCDEF") != strlen(m[0].build_id))
        UNIT__FAIL("build id \"%s\" is not hex", m[0].build_id);
    CHECK_EQ_INT(symbols_mapping_index((uintptr_t)&target_function), 0);
    for (size_t i = 1; i < n; i++) CHECK_PREFIX(m[i].path, "/");
}

/* The first line of `cmd`'s output that contains `needle`, into line; 0 or -1. */
static int first_line_with(const char *cmd, const char *needle, char *line, size_t n)
{
    FILE *p = popen(cmd, "r");
    int found = 0;
    while (p && !found && fgets(line, (int)n, p)) found = strstr(line, needle) != NULL;
    if (p) pclose(p);
    return found ? 0 : -1;
}

/* readelf is the oracle: where this binary's PLT stubs are (.plt.sec when it was built
 * with CET, else .plt after its 16-byte resolver stub) and which function the first
 * one calls (the first entry of .rela.plt). The stub's runtime address comes from the
 * executable mapping, whose file offsets equal its link-time addresses. */
TEST(plt_stub_is_named_after_the_function_it_calls)
{
    char exe[1024], cmd[1200], line[512], sec[32] = "", want[200] = "";
    unsigned long long addr = 0;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK_GT(len, 0);
    exe[len] = 0;
    snprintf(cmd, sizeof cmd, "readelf -SW '%s'", exe);
    if (first_line_with(cmd, " .plt.sec ", line, sizeof line) != 0 &&
        first_line_with(cmd, " .plt ", line, sizeof line) != 0)
        SKIP("%s", "no PLT in this binary (or no readelf)");
    CHECK_EQ_INT(sscanf(strchr(line, '.'), "%31s %*s %llx", sec, &addr), 2);
    if (strcmp(sec, ".plt") == 0) addr += 16;
    snprintf(cmd, sizeof cmd, "readelf -rW '%s' | sed -n '/.rela.plt/,$p' | sed -n 3p", exe);
    CHECK_EQ_INT(first_line_with(cmd, "JUMP_SLOT", line, sizeof line), 0);
    CHECK_EQ_INT(sscanf(line, "%*s %*s %*s %*s %199[^@ ]", want), 1);
    strcat(want, "@plt");
    const struct symbols_mapping *m;
    CHECK_GE(symbols_mappings(&m), 1);
    uintptr_t pc = m[0].start + (uintptr_t)(addr - m[0].offset) + 4;   /* inside the stub */
    struct symbols_frame fr;
    CHECK_EQ_INT(symbols_lookup(pc, &fr, 1), 1);
    CHECK_EQ_STR(fr.function, want);
}

static void *lookup_many(void *arg)
{
    int *ok = arg;
    struct symbols_frame f[4];
    for (int i = 0; i < 2000; i++) {
        uintptr_t pc = (uintptr_t)&target_function + (uintptr_t)(i % 4);
        if (symbols_lookup(pc, f, 4) != 1 || strcmp(f[0].function, "target_function") != 0)
            *ok = 0;
    }
    return NULL;
}

TEST(concurrent_lookups_agree)
{
    pthread_t t[4];
    int ok[4] = {1, 1, 1, 1};
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(pthread_create(&t[i], NULL, lookup_many, &ok[i]), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(ok[i], 1);
}

int main(void)
{
    RUN(init_succeeds_for_the_running_process);
    RUN(function_address_resolves_to_its_name_absolute_file_and_a_line_inside_it);
    RUN(return_address_minus_one_lands_on_the_call_line);
    RUN(inlined_call_site_reports_callee_first_then_physical_function);
    RUN(max_smaller_than_chain_keeps_the_physical_function);
    RUN(repeated_lookup_returns_the_same_interned_strings);
    RUN(unknown_address_resolves_to_nothing);
    RUN(libc_function_without_dwarf_still_has_a_name);
    RUN(symbol_name_and_offset_for_the_legacy_text);
    RUN(a_name_with_an_at_sign_that_is_no_version_is_kept_whole);
    RUN(mappings_list_this_binary_first_with_a_40_hex_build_id);
    RUN(plt_stub_is_named_after_the_function_it_calls);
    RUN(concurrent_lookups_agree);
    UNIT_EXIT();
}
