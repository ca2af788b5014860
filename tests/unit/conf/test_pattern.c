/* test_pattern: conf/pattern.c - CIDR, port range and domain parsing
 * (exact reasons) and matching, edge prefixes and IPv4-mapped IPv6. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/pattern.h"

static struct pattern_ip ip_of(const char *s)
{
    struct addr a;
    struct pattern_ip ip;
    assert_int_equal(addr_from_ip(&a, s, 1), 0);
    assert_true(pattern_ip_from_addr(&ip, &a));
    return ip;
}

struct cidr_case {
    const char *cidr, *ip;
    bool match;
};

static const struct cidr_case cidr_cases[] = {
    {"0.0.0.0/0", "0.0.0.0", true},
    {"0.0.0.0/0", "255.255.255.255", true},
    {"0.0.0.0/0", "::1", false}, /* families never mix */
    {"0.0.0.0/0", "::ffff:1.2.3.4", true},
    {"::/0", "::ffff:1.2.3.4", false}, /* a mapped address is IPv4 */
    {"::/0", "2001:db8::1", true},
    {"128.0.0.0/1", "128.0.0.0", true},
    {"128.0.0.0/1", "127.255.255.255", false},
    {"10.0.0.0/31", "10.0.0.1", true},
    {"10.0.0.0/31", "10.0.0.2", false},
    {"10.0.0.7/32", "10.0.0.7", true},
    {"10.0.0.7", "10.0.0.7", true},
    {"10.0.0.7", "10.0.0.6", false},
    {"172.16.0.0/12", "172.31.0.1", true},
    {"172.16.0.0/12", "172.32.0.1", false},
    {"::1/128", "::1", true},
    {"::1", "::1", true},
    {"::1", "::", false},
    {"::/127", "::1", true},
    {"::/127", "::2", false},
    {"fe80::/10", "febf::1", true},
    {"fe80::/10", "fec0::1", false},
    {"::ffff:10.0.0.0/104", "10.1.1.1", true},
    {"::ffff:10.0.0.0/104", "::ffff:10.1.1.1", true},
    {"::ffff:10.0.0.0/104", "11.1.1.1", false},
    {"::ffff:0.0.0.0/96", "8.8.8.8", true},
    {"::ffff:1.2.3.4", "1.2.3.4", true},
    {"2001:db8::/32", "2001:db8:ffff::1", true},
    {"2001:db8::/32", "2001:db9::1", false},
};

static void test_cidr_match(void **state)
{
    (void)state;
    int missed = 0;
    for (size_t i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]);
         i++) {
        const struct cidr_case *k = &cidr_cases[i];
        struct pattern_cidr c;
        struct pattern_ip ip = ip_of(k->ip);
        const char *why = pattern_cidr_parse(k->cidr, &c);
        if (!why && pattern_cidr_match(&c, &ip) == k->match)
            continue;
        print_error("case %zu: %s %s: %s\n", i, k->cidr, k->ip,
                    why ? why : "wrong");
        missed++;
    }
    assert_int_equal(missed, 0);
}

static void test_cidr_form(void **state)
{
    (void)state;
    struct pattern_cidr c;
    assert_null(pattern_cidr_parse("::ffff:10.0.0.0/104", &c));
    assert_false(c.v6);
    assert_int_equal(c.prefix, 8);
    assert_int_equal(c.bytes[0], 10);
    assert_int_equal(c.bytes[4], 0);
    assert_null(pattern_cidr_parse("::/80", &c)); /* covers, stays v6 */
    assert_true(c.v6);
    assert_int_equal(c.prefix, 80);
    assert_null(pattern_cidr_parse("::ffff:0.0.0.0/96", &c));
    assert_false(c.v6);
    assert_int_equal(c.prefix, 0);
    assert_null(pattern_cidr_parse("192.0.2.7", &c));
    assert_int_equal(c.prefix, 32);
    assert_null(pattern_cidr_parse("2001:db8::7", &c));
    assert_int_equal(c.prefix, 128);
}

struct bad {
    const char *text, *why;
};

static const struct bad cidr_bad[] = {
    {"", "not an IP address or network (use 10.0.0.0/8, fd00::/8 or "
         "192.0.2.7)"},
    {"/8", "not an IP address or network (use 10.0.0.0/8, fd00::/8 or "
           "192.0.2.7)"},
    {"10.0.0/8", "not an IP address or network (use 10.0.0.0/8, fd00::/8 "
                 "or 192.0.2.7)"},
    {"[::1]/128", "not an IP address or network (use 10.0.0.0/8, fd00::/8 "
                  "or 192.0.2.7)"},
    {"10.0.0.0/33", "the prefix length must be 0 to 32"},
    {"10.0.0.0/", "the prefix length must be 0 to 32"},
    {"10.0.0.0/ 8", "the prefix length must be 0 to 32"},
    {"10.0.0.0/8/8", "the prefix length must be 0 to 32"},
    {"10.0.0.0/0008", "the prefix length must be 0 to 32"},
    {"::/129", "the prefix length must be 0 to 128"},
    {"::/-1", "the prefix length must be 0 to 128"},
    {"10.0.0.1/8", "host bits are set past the prefix length"},
    {"11.0.0.0/7", "host bits are set past the prefix length"},
    {"0.0.0.1/0", "host bits are set past the prefix length"},
    {"fe80::1/64", "host bits are set past the prefix length"},
    {"::1/127", "host bits are set past the prefix length"},
};

static const struct bad ports_bad[] = {
    {"", "use a port 1-65535 or a range like 8000-9000"},
    {"0", "use a port 1-65535 or a range like 8000-9000"},
    {"65536", "use a port 1-65535 or a range like 8000-9000"},
    {"100000", "use a port 1-65535 or a range like 8000-9000"},
    {"-1", "use a port 1-65535 or a range like 8000-9000"},
    {"1-", "use a port 1-65535 or a range like 8000-9000"},
    {"1-2-3", "use a port 1-65535 or a range like 8000-9000"},
    {" 80", "use a port 1-65535 or a range like 8000-9000"},
    {"80 ", "use a port 1-65535 or a range like 8000-9000"},
    {"0x50", "use a port 1-65535 or a range like 8000-9000"},
    {"2-1", "the range is backwards: the first port must not be above "
            "the last"},
};

static const struct bad domain_bad[] = {
    {"", "empty name"},
    {".", "empty name"},
    {"*.", "empty name"},
    {"*", "a * may only stand first, as in *.example.com"},
    {"*example.com", "a * may only stand first, as in *.example.com"},
    {"a.*.com", "a * may only stand first, as in *.example.com"},
    {"**.com", "a * may only stand first, as in *.example.com"},
    {".example.com", "a leading dot (write *.example.com for the names "
                     "under example.com)"},
    {"a..b", "an empty label (\"..\")"},
    {"a.b..", "an empty label (\"..\")"},
    {"ex ample.com", "a name has only letters, digits, '-', '_' and dots"},
    {"ex/ample.com", "a name has only letters, digits, '-', '_' and dots"},
    {"10.0.0.1", "an IP address is never a domain (put it in cidrs)"},
    {"10.0.0.1.", "an IP address is never a domain (put it in cidrs)"},
    {"*.10.0.0.1", "an IP address is never a domain (put it in cidrs)"},
    {"::1", "an IP address is never a domain (put it in cidrs)"},
    {"fe80::1%eth0", "a name has only letters, digits, '-', '_' and dots"},
};

static int check_bad(const struct bad *k, size_t n, int kind)
{
    int missed = 0;
    for (size_t i = 0; i < n; i++) {
        struct pattern_cidr c;
        struct pattern_ports p;
        struct pattern_domain d;
        bool oom = true;
        const char *why = kind == 0   ? pattern_cidr_parse(k[i].text, &c)
                          : kind == 1 ? pattern_ports_parse(k[i].text, &p)
                                      : pattern_domain_parse(k[i].text, &d,
                                                             &oom);
        if (why && strcmp(why, k[i].why) == 0 && (kind != 2 || !oom))
            continue;
        print_error("bad %d/%zu \"%s\": %s\n", kind, i, k[i].text,
                    why ? why : "accepted");
        missed++;
    }
    return missed;
}

static void test_bad(void **state)
{
    (void)state;
    assert_int_equal(check_bad(cidr_bad, sizeof(cidr_bad) /
                                             sizeof(cidr_bad[0]), 0),
                     0);
    assert_int_equal(check_bad(ports_bad, sizeof(ports_bad) /
                                              sizeof(ports_bad[0]), 1),
                     0);
    assert_int_equal(check_bad(domain_bad, sizeof(domain_bad) /
                                               sizeof(domain_bad[0]), 2),
                     0);
}

static void test_ports(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint16_t lo, hi;
    } k[] = {
        {"1", 1, 1},         {"65535", 65535, 65535},
        {"80-80", 80, 80},   {"1-65535", 1, 65535},
        {"08000-9000", 8000, 9000},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        struct pattern_ports p = {0, 0};
        assert_null(pattern_ports_parse(k[i].text, &p));
        assert_int_equal(p.lo, k[i].lo);
        assert_int_equal(p.hi, k[i].hi);
    }
}

struct domain_case {
    const char *pattern, *host;
    bool match;
};

static const struct domain_case domain_cases[] = {
    {"example.com", "example.com", true},
    {"example.com", "EXAMPLE.COM", true},
    {"example.com", "example.com.", true},
    {"example.com.", "example.com", true},
    {"Example.Com", "example.com", true},
    {"example.com", "www.example.com", false},
    {"example.com", "example.co", false},
    {"example.com", "example.comm", false},
    {"example.com", "xexample.com", false},
    {"*.example.com", "www.example.com", true},
    {"*.example.com", "a.b.EXAMPLE.com.", true},
    {"*.example.com", "example.com", false},
    {"*.example.com", "example.com.", false},
    {"*.example.com", "wwwexample.com", false},
    {"*.example.com", "www.example.com.au", false},
    {"*.com", "a.com", true},
    {"localhost", "localhost", true},
    {"a_b-c", "A_B-C", true},
};

static void test_domain_match(void **state)
{
    (void)state;
    int missed = 0;
    for (size_t i = 0; i < sizeof(domain_cases) / sizeof(domain_cases[0]);
         i++) {
        const struct domain_case *k = &domain_cases[i];
        struct pattern_domain d;
        bool oom = true;
        const char *why = pattern_domain_parse(k->pattern, &d, &oom);
        bool ok = !why && !oom &&
                  pattern_domain_match(&d, k->host,
                                       pattern_host_len(k->host)) ==
                      k->match;
        pattern_domain_fini(&d);
        if (ok)
            continue;
        print_error("case %zu: %s %s\n", i, k->pattern, k->host);
        missed++;
    }
    assert_int_equal(missed, 0);
}

static void test_domain_form(void **state)
{
    (void)state;
    char name[300];
    struct pattern_domain d;
    bool oom;
    assert_null(pattern_domain_parse("*.Corp.Example.", &d, &oom));
    assert_string_equal(d.name, ".corp.example");
    assert_int_equal(d.len, 13);
    assert_true(d.suffix);
    pattern_domain_fini(&d);
    assert_null(d.name);
    /* 63-character labels and 253 characters are the limits */
    memset(name, 'a', 63);
    strcpy(name + 63, ".b");
    assert_null(pattern_domain_parse(name, &d, &oom));
    pattern_domain_fini(&d);
    name[63] = 'a';
    assert_string_equal(pattern_domain_parse(name, &d, &oom),
                        "a label is longer than 63 characters");
    for (int i = 0; i < 253; i++)
        name[i] = i % 2 ? '.' : 'a';
    name[253] = '\0';
    assert_null(pattern_domain_parse(name, &d, &oom));
    assert_int_equal(d.len, 253);
    pattern_domain_fini(&d);
    strcpy(name + 253, "b");
    assert_string_equal(pattern_domain_parse(name, &d, &oom),
                        "longer than 253 characters");
    strcpy(name + 253, ".");
    assert_null(pattern_domain_parse(name, &d, &oom)); /* the dot is free */
    pattern_domain_fini(&d);
    assert_int_equal(pattern_host_len("a.b."), 3);
    assert_int_equal(pattern_host_len("a.b"), 3);
    assert_int_equal(pattern_host_len(""), 0);
}

static void test_ip_from_addr(void **state)
{
    (void)state;
    struct addr a = {0};
    struct pattern_ip ip;
    assert_false(pattern_ip_from_addr(&ip, &a));
    ip = ip_of("::ffff:127.0.0.1");
    assert_false(ip.v6);
    assert_int_equal(ip.bytes[0], 127);
    assert_int_equal(ip.bytes[3], 1);
    assert_int_equal(ip.bytes[12], 0);
    ip = ip_of("::127.0.0.1"); /* IPv4-compatible is not mapped */
    assert_true(ip.v6);
    ip = ip_of("2001:db8::1");
    assert_true(ip.v6);
    assert_int_equal(ip.bytes[0], 0x20);
    assert_int_equal(ip.bytes[15], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_cidr_form),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_domain_match),
        cmocka_unit_test(test_domain_form),
        cmocka_unit_test(test_ip_from_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
