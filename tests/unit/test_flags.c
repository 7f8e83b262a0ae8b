/* Unit tests for the command line's defaults (src/flags): each flag's default is the
 * owning module's constant, so -h, the start-up line and the server cannot disagree
 * with the code that uses the value. (tests/integration/server.sh holds README's flag
 * table against -h.) */
#include <string.h>
#include <unistd.h>

#include "gc/gcheap.h"
#include "gc/gcpacer.h"
#include "profile/sampler.h"
#include "profile/trace.h"
#include "src/flags.h"
#include "src/handlers.h"
#include "src/server.h"
#include "tests/unit/unit.h"

static struct flags parsed(int argc, char **argv)
{
    struct flags f;
    flags_parse(&f, argc, argv);
    return f;
}

TEST(defaults_are_the_owning_modules_constants)
{
    char *argv[] = {"memdemo", NULL};
    struct flags f = parsed(1, argv);
    CHECK_EQ_INT(f.repetitions, HANDLERS_DEFAULT_REPETITIONS);
    CHECK_EQ_STR(f.addr, SERVER_DEFAULT_ADDR);
    CHECK_EQ_INT(f.memprofilerate, SAMPLER_DEFAULT_RATE);
    CHECK_EQ_INT(f.tracebuf, TRACE_DEFAULT_BUFFER_CAP);
    CHECK_EQ_INT(f.gogc, GCPACER_DEFAULT_GOGC);
    CHECK_EQ_INT(f.memlimit, GCPACER_DEFAULT_MEMLIMIT);
    CHECK_EQ_INT(f.maxheap, (int64_t)gcpacer_default_maxheap());
    CHECK_EQ_INT(f.gcinitheap, GCHEAP_DEFAULT_INITIAL_HEAP);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK_EQ_INT(f.threads, cpus < 1 ? 1 : cpus > SERVER_MAX_THREADS ? SERVER_MAX_THREADS : cpus);
}

TEST(every_spelling_of_a_flag_sets_it)
{
    char *a[] = {"memdemo", "-repetitions", "7", "--threads=3", "-addr=127.0.0.1:0", "--tracebuf", "8192", NULL};
    struct flags f = parsed(7, a);
    CHECK_EQ_INT(f.repetitions, 7);
    CHECK_EQ_INT(f.threads, 3);
    CHECK_EQ_STR(f.addr, "127.0.0.1:0");
    CHECK_EQ_INT(f.tracebuf, 8192);
}

TEST(describe_names_every_numeric_setting)
{
    char *argv[] = {"memdemo", "-repetitions", "12", NULL};
    struct flags f = parsed(3, argv);
    char line[512];
    flags_describe(&f, line, sizeof line);
    const char *want[] = {"repetitions=12", "threads=", "memprofilerate=", "tracebuf=", "gogc=", "memlimit=", "maxheap=", "gcinitheap="};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(line, want[i])) UNIT__FAIL("\"%s\" lacks %s", line, want[i]);
    char tiny[8];
    flags_describe(&f, tiny, sizeof tiny);   /* truncates, stays terminated */
    CHECK_EQ_INT(strlen(tiny), 7);
}

int main(void)
{
    RUN(defaults_are_the_owning_modules_constants);
    RUN(every_spelling_of_a_flag_sets_it);
    RUN(describe_names_every_numeric_setting);
    UNIT_EXIT();
}
