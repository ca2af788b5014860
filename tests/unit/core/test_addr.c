/* Unit tests for core/addr: target parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"

struct parse_case {
    const char *in;
    int default_port;
    int rc;                /* 0 or the negative errno */
    enum target_kind kind; /* when rc == 0 */
    const char *host;
    int port;
    const char *formatted;
};

static const struct parse_case cases[] = {
    {"example.com:443", 0, 0, TARGET_NAME, "example.com", 443,
     "example.com:443"},
    {"127.0.0.1:80", 0, 0, TARGET_IP, "127.0.0.1", 80, "127.0.0.1:80"},
    {"[::1]:8080", 0, 0, TARGET_IP, "::1", 8080, "[::1]:8080"},
    {"[2001:db8::1]:1", 0, 0, TARGET_IP, "2001:db8::1", 1,
     "[2001:db8::1]:1"},
    {"host", 80, 0, TARGET_NAME, "host", 80, "host:80"},
    {"[::1]", 443, 0, TARGET_IP, "::1", 443, "[::1]:443"},
    /* Legacy IPv4 forms and mapped IPv6 are normalised (ACL bypasses). */
    {"2130706433:80", 0, 0, TARGET_IP, "127.0.0.1", 80, "127.0.0.1:80"},
    {"0x7f.1:80", 0, 0, TARGET_IP, "127.0.0.1", 80, "127.0.0.1:80"},
    {"0177.0.0.1:80", 0, 0, TARGET_IP, "127.0.0.1", 80, "127.0.0.1:80"},
    {"[::ffff:127.0.0.1]:80", 0, 0, TARGET_IP, "127.0.0.1", 80,
     "127.0.0.1:80"},
    {"[::ffff:7f00:1]:80", 0, 0, TARGET_IP, "127.0.0.1", 80,
     "127.0.0.1:80"},
    {"0x7f.example:80", 0, 0, TARGET_NAME, "0x7f.example", 80,
     "0x7f.example:80"},
    {"host", 0, -22, TARGET_NONE, NULL, 0, NULL},      /* port required */
    {"host:0", 0, -22, TARGET_NONE, NULL, 0, NULL},    /* port 0 */
    {"host:65536", 0, -22, TARGET_NONE, NULL, 0, NULL},
    {"host:8a", 0, -22, TARGET_NONE, NULL, 0, NULL},
    {"host:", 0, -22, TARGET_NONE, NULL, 0, NULL},
    {":80", 0, -22, TARGET_NONE, NULL, 0, NULL},       /* empty host */
    {"::1:80", 0, -22, TARGET_NONE, NULL, 0, NULL},    /* needs brackets */
    {"[::1:80", 0, -22, TARGET_NONE, NULL, 0, NULL},   /* unclosed */
    {"[host]:80", 0, -22, TARGET_NONE, NULL, 0, NULL}, /* not v6 */
    {"[::1]x80", 0, -22, TARGET_NONE, NULL, 0, NULL},
    {"[::zz]:80", 0, -22, TARGET_NONE, NULL, 0, NULL},
    {"ho st:80", 0, -22, TARGET_NONE, NULL, 0, NULL},
    {"ho\rst:80", 0, -22, TARGET_NONE, NULL, 0, NULL},
};

static void test_target_parse_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct parse_case *c = &cases[i];
        struct target t;
        char out[300];
        int rc = target_parse(&t, c->in, strlen(c->in), c->default_port);
        if (rc != c->rc)
            fail_msg("case %zu '%s': rc %d, want %d", i, c->in, rc, c->rc);
        if (rc != 0)
            continue;
        assert_int_equal(t.kind, c->kind);
        assert_string_equal(t.host, c->host);
        assert_int_equal(t.port, c->port);
        assert_string_equal(target_format(&t, out, sizeof(out)),
                            c->formatted);
        if (t.kind == TARGET_IP) {
            char ip[ADDR_STRLEN];
            assert_int_equal(addr_port(&t.ip), c->port);
            assert_string_equal(addr_format_ip(&t.ip, ip, sizeof(ip)),
                                c->host);
        }
    }
}

static void test_target_host_too_long(void **state)
{
    char name[300];
    struct target t;
    memset(name, 'a', sizeof(name));
    assert_int_equal(target_set_host(&t, name, 255, 1), 0);
    assert_int_equal(target_set_host(&t, name, 256, 1), -22);
}

static void test_addr_format_and_loopback(void **state)
{
    struct addr a;
    char out[ADDR_STRLEN];
    assert_int_equal(addr_from_ip(&a, "::ffff:127.0.0.1", 9), 0);
    assert_true(addr_is_loopback(&a));
    assert_string_equal(addr_format(&a, out, sizeof(out)),
                        "[::ffff:127.0.0.1]:9");
    assert_int_equal(addr_from_ip(&a, "10.0.0.1", 1), 0);
    assert_false(addr_is_loopback(&a));
    assert_int_equal(addr_from_ip(&a, "127.8.9.10", 1), 0);
    assert_true(addr_is_loopback(&a));
    assert_int_equal(addr_from_ip(&a, "not-an-ip", 1), -22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_parse_table),
        cmocka_unit_test(test_target_host_too_long),
        cmocka_unit_test(test_addr_format_and_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
