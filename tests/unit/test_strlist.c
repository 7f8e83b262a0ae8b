/* Unit tests for the handlers' list logic (src/strlist, src/numstr). */
#include <stdio.h>
#include <string.h>

#include "gc/gcheap.h"
#include "src/numstr.h"
#include "src/strlist.h"
#include "tests/unit/unit.h"

TEST(itoa_writes_decimal_including_negatives_and_extremes)
{
    CHECK_EQ_STR(numstr_itoa(0, NULL), "0");
    CHECK_EQ_STR(numstr_itoa(7, NULL), "7");
    CHECK_EQ_STR(numstr_itoa(-42, NULL), "-42");
    CHECK_EQ_STR(numstr_itoa(1234567890, NULL), "1234567890");
    size_t len = 0;
    CHECK_EQ_STR(numstr_itoa(-905, &len), "-905");
    CHECK_EQ_INT(len, 4);
    char want[32];
    snprintf(want, sizeof want, "%ld", (long)(-9223372036854775807L - 1));
    CHECK_EQ_STR(numstr_itoa(-9223372036854775807L - 1, NULL), want);
}

TEST(fill_numbers_makes_n_strings_in_order_across_chunks)
{
    struct strlist l = STRLIST_INIT;
    long n = 3 * STRLIST_CHUNK + 5;
    strlist_fill_numbers(&l, n);
    CHECK_EQ_INT(l.count, n);
    char want[32];
    for (long i = 0; i < n; i += 97) {
        snprintf(want, sizeof want, "%ld", i);
        CHECK_EQ_STR(strlist_at(&l, (size_t)i), want);
    }
    CHECK_NULL(strlist_at(&l, (size_t)n));
    /* bytes = digits + NUL per string */
    size_t bytes = 0;
    for (long i = 0; i < n; i++) { snprintf(want, sizeof want, "%ld", i); bytes += strlen(want) + 1; }
    CHECK_EQ_INT(l.bytes, bytes);
}

TEST(append_all_copies_every_string_in_order_and_keeps_the_source)
{
    struct strlist a = STRLIST_INIT, b = STRLIST_INIT;
    strlist_fill_numbers(&a, 10);
    strlist_fill_numbers(&b, STRLIST_CHUNK + 1);
    size_t bytes = a.bytes + b.bytes;
    strlist_append_all(&a, &b);
    CHECK_EQ_INT(a.count, 10 + STRLIST_CHUNK + 1);
    CHECK_EQ_INT(a.bytes, bytes);
    CHECK_EQ_INT(b.count, STRLIST_CHUNK + 1);
    CHECK_EQ_STR(strlist_at(&a, 9), "9");
    CHECK_EQ_STR(strlist_at(&a, 10), "0");
    CHECK_EQ_STR(strlist_at(&a, 10 + STRLIST_CHUNK), "1020");   /* across to's chunks */
    CHECK(strlist_at(&a, 10 + STRLIST_CHUNK + 1) == NULL);
    CHECK(a.head->used == STRLIST_CHUNK && a.head->next->used == 11);   /* packed */
    struct strlist empty = STRLIST_INIT, none = STRLIST_INIT;
    strlist_append_all(&a, &none);          /* appending an empty list is a no-op */
    CHECK_EQ_INT(a.count, 10 + STRLIST_CHUNK + 1);
    strlist_append_all(&empty, &a);         /* onto an empty list */
    CHECK_EQ_INT(empty.count, 10 + STRLIST_CHUNK + 1);
    CHECK_EQ_STR(strlist_at(&empty, 0), "0");
}

static struct strlist rooted = STRLIST_INIT;   /* static: a root, like the leaker's list */

TEST(rooted_list_survives_collections_intact)
{
    strlist_fill_numbers(&rooted, 50000);
    for (int i = 0; i < 3; i++) {
        gcheap_collect();
        for (int j = 0; j < 20000; j++) gcheap_alloc_data(64);   /* reuse freed memory */
    }
    char want[32];
    for (long i = 0; i < 50000; i += 1234) {
        snprintf(want, sizeof want, "%ld", i);
        CHECK_EQ_STR(strlist_at(&rooted, (size_t)i), want);
    }
}

int main(void)
{
    gcheap_init();
    RUN(itoa_writes_decimal_including_negatives_and_extremes);
    RUN(fill_numbers_makes_n_strings_in_order_across_chunks);
    RUN(append_all_copies_every_string_in_order_and_keeps_the_source);
    RUN(rooted_list_survives_collections_intact);
    UNIT_EXIT();
}
