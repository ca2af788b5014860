/* test_duration: table tests for conf/duration.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conf/duration.h"

struct dcase {
    const char *s;
    int rc;
    uint32_t ms; /* when rc == 0 */
};

static const struct dcase cases[] = {
    {"500ms", 0, 500},
    {"10s", 0, 10000},
    {"5m", 0, 300000},
    {"1h", 0, 3600000},
    {"30", 0, 30000},
    {"007s", 0, 7000},
    {"1ms", 0, 1},
    {"4294967295ms", 0, UINT32_MAX},
    {"4294967s", 0, 4294967000u},
    {"1193h", 0, 4294800000u},
    {"4294968s", -ERANGE, 0},
    {"1194h", -ERANGE, 0},
    {"4294967296ms", -ERANGE, 0},
    {"99999999999999999999999h", -ERANGE, 0},
    {"0", -ERANGE, 0},
    {"0ms", -ERANGE, 0},
    {"", -EINVAL, 0},
    {"s", -EINVAL, 0},
    {"10x", -EINVAL, 0},
    {"10 s", -EINVAL, 0},
    {" 10s", -EINVAL, 0},
    {"10S", -EINVAL, 0},
    {"1.5s", -EINVAL, 0},
    {"-1s", -EINVAL, 0},
    {"+1s", -EINVAL, 0},
    {"1m30s", -EINVAL, 0},
    {"10sec", -EINVAL, 0},
    {"1d", -EINVAL, 0},
};

static void test_durations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t ms = 12345;
        int rc = duration_parse(cases[i].s, &ms);
        if (rc != cases[i].rc)
            print_error("case \"%s\": rc %d\n", cases[i].s, rc);
        assert_int_equal(rc, cases[i].rc);
        assert_int_equal(ms, rc == 0 ? cases[i].ms : 12345);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
