/* Unit tests for profile/pprof at the edges of int64: counts and sizes whose product
 * no int64 holds (found by tests/fuzz/fuzz_pprof.c; converting such a double to int64
 * is undefined, and on x86 gave INT64_MIN: a negative alloc_space) saturate instead.
 */
#include <stdint.h>

#include "profile/pprof.h"
#include "tests/unit/unit.h"

TEST(scale_saturates_bytes_past_int64_when_exact)
{
    int64_t objects = 0, bytes = 0;
    pprof_scale(UINT64_C(1) << 40, (size_t)1 << 32, 1, &objects, &bytes);
    CHECK_EQ_INT(objects, INT64_C(1) << 40);
    CHECK_EQ_INT(bytes, INT64_MAX);
    pprof_scale(UINT64_MAX, 1, 1, &objects, &bytes);
    CHECK_EQ_INT(objects, INT64_MAX);
    CHECK_EQ_INT(bytes, INT64_MAX);
}

TEST(scale_saturates_when_unsampling_past_int64)
{
    int64_t objects = 0, bytes = 0;
    pprof_scale(UINT64_C(1) << 40, 1, INT64_C(1) << 40, &objects, &bytes);
    CHECK_EQ_INT(objects, INT64_MAX);
    CHECK_EQ_INT(bytes, INT64_MAX);
    pprof_scale(1000, 16, 512, &objects, &bytes);         /* ordinary values are unchanged */
    CHECK(objects > 1000 && objects < 40000 && bytes / 16 - objects <= 1);
}

int main(void)
{
    RUN(scale_saturates_bytes_past_int64_when_exact);
    RUN(scale_saturates_when_unsampling_past_int64);
    UNIT_EXIT();
}
