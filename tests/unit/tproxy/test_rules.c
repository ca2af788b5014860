/* Unit tests for tproxy/rules: the generated script byte for byte
 * against tests/data/tprules/<case>.sh.  Those files were written by
 * hand from rulesets that were applied in network namespaces (host,
 * LAN router with DNS, IPv4-only fail-closed, REDIRECT) with real TCP
 * and UDP traffic through them, not copied from this code's output.
 * Also: the snprintf contract, the ip steps, CIDR parsing, option
 * checks and the error diagnoses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "tproxy/rules.h"

static char *read_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tprules/%s", FERRY_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static char *shell(const struct tprules_opts *o)
{
    ssize_t n = tprules_shell(o, NULL, 0);
    assert_true(n > 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(tprules_shell(o, s, (size_t)n + 1), n);
    assert_int_equal(strlen(s), (size_t)n);
    return s;
}

/* The first line where got and want differ, for a readable failure. */
static void assert_text(const char *got, const char *want, const char *name)
{
    if (strcmp(got, want) == 0)
        return;
    int line = 1;
    size_t i = 0, start = 0;
    for (; got[i] && got[i] == want[i]; i++)
        if (got[i] == '\n')
            line++, start = i + 1;
    fail_msg("%s differs at line %d:\n got: %.80s\nwant: %.80s", name, line,
             got + start, want + start);
}

static void add_exclude(struct tprules_opts *o, const char *cidr)
{
    assert_int_equal(tprules_parse_cidr(cidr, &o->excludes[o->n_excludes]), 0);
    o->n_excludes++;
}

static void add_iface(struct tprules_opts *o, const char *name)
{
    snprintf(o->ifaces[o->n_ifaces++], TPRULES_IFNAMSIZ, "%s", name);
}

static void check_case(const struct tprules_opts *o, const char *file)
{
    char err[256] = "";
    if (tprules_check(o, err, sizeof(err)) < 0)
        fail_msg("%s: %s", file, err);
    char *got = shell(o), *want = read_file(file);
    assert_text(got, want, file);
    /* the nft script alone is the here-document's body */
    char nft[16384];
    ssize_t n = tprules_nft(o, nft, sizeof(nft));
    assert_true(n > 0 && (size_t)n < sizeof(nft));
    char *body = strstr(got, "<<'FERRY_NFT'\n");
    assert_non_null(body);
    assert_memory_equal(body + 14, nft, (size_t)n);
    assert_string_equal(body + 14 + n, strstr(got, "FERRY_NFT\n# To"));
    free(got);
    free(want);
}

static void test_host_default(void **state)
{
    struct tprules_opts o;
    tprules_defaults(&o);
    check_case(&o, "host.sh");
}

static void test_lan_dns(void **state)
{
    struct tprules_opts o;
    tprules_defaults(&o);
    o.chains = TPRULES_LAN;
    add_iface(&o, "eth1");
    o.exclude_private = true;
    add_exclude(&o, "192.0.2.1");
    add_exclude(&o, "2001:db8:ffff::/48");
    o.dns = true;
    check_case(&o, "lan-dns.sh");
}

static void test_both_v4_fail_closed(void **state)
{
    struct tprules_opts o;
    tprules_defaults(&o);
    o.port = 12345;
    o.mark = 0x10;
    o.route_mark = 0x20;
    o.table = 100;
    o.rule_pref = 90;
    o.chains = TPRULES_HOST | TPRULES_LAN;
    o.families = TPRULES_V4;
    o.fail_closed = true;
    check_case(&o, "both-v4-closed.sh");
}

static void test_redirect(void **state)
{
    struct tprules_opts o;
    tprules_defaults(&o);
    o.mode = TPRULES_REDIRECT;
    o.port = TPRULES_PORT_REDIRECT;
    o.chains = TPRULES_HOST | TPRULES_LAN;
    add_iface(&o, "eth1");
    add_iface(&o, "wlan*");
    check_case(&o, "redirect.sh");
}

/* IPv6 only: no IPv4 set, rule or route; IPv4 leaves at once. */
static void test_ipv6_only(void **state)
{
    struct tprules_opts o;
    struct tprules_step steps[TPRULES_MAX_STEPS];
    tprules_defaults(&o);
    o.families = TPRULES_V6;
    o.chains = TPRULES_HOST | TPRULES_LAN;
    o.dns = true;
    add_exclude(&o, "10.0.0.0/8"); /* IPv4: left out */
    char *s = shell(&o);
    assert_non_null(strstr(s, "\t\t# --ipv6-only: IPv4 is left alone.\n"
                              "\t\tmeta nfproto ipv4 return\n"));
    assert_non_null(strstr(s, "tproxy ip6 to :7893"));
    assert_non_null(strstr(s, "th dport 53 ip6 daddr != ::1 "
                              "meta mark set 0x1f4 accept\n"));
    assert_null(strstr(s, "bypass4"));
    assert_null(strstr(s, "tproxy ip to"));
    assert_null(strstr(s, "ip -4"));
    char nft[8192];
    assert_true(tprules_nft(&o, nft, sizeof(nft)) > 0);
    assert_null(strstr(nft, "10.0.0.0")); /* only in the header comment */
    assert_int_equal(tprules_ip_steps(&o, steps), 2);
    assert_string_equal(steps[0].add,
                        "ip -6 route add local ::/0 dev lo table 500");
    assert_string_equal(steps[1].del,
                        "ip -6 rule del pref 500 fwmark 0x1f4 lookup 500");
    free(s);
}

static void test_ip_steps(void **state)
{
    struct tprules_opts o;
    struct tprules_step s[TPRULES_MAX_STEPS];
    tprules_defaults(&o);
    assert_int_equal(tprules_ip_steps(&o, s), 4);
    static const char *const want[4][2] = {
        {"ip -4 route add local 0.0.0.0/0 dev lo table 500",
         "ip -4 route del local 0.0.0.0/0 dev lo table 500"},
        {"ip -4 rule add pref 500 fwmark 0x1f4 lookup 500",
         "ip -4 rule del pref 500 fwmark 0x1f4 lookup 500"},
        {"ip -6 route add local ::/0 dev lo table 500",
         "ip -6 route del local ::/0 dev lo table 500"},
        {"ip -6 rule add pref 500 fwmark 0x1f4 lookup 500",
         "ip -6 rule del pref 500 fwmark 0x1f4 lookup 500"},
    };
    for (int i = 0; i < 4; i++) {
        assert_string_equal(s[i].add, want[i][0]);
        assert_string_equal(s[i].del, want[i][1]);
    }
    o.mode = TPRULES_REDIRECT;
    assert_int_equal(tprules_ip_steps(&o, s), 0); /* no policy routing */
    o.port = 0;
    assert_int_equal(tprules_ip_steps(&o, s), -EINVAL);
}

/* snprintf(): the needed length whatever cap is; always terminated. */
static void test_snprintf_contract(void **state)
{
    struct tprules_opts o;
    char small[10], full[8192];
    tprules_defaults(&o);
    ssize_t n = tprules_nft(&o, NULL, 0);
    assert_true(n > 100);
    assert_int_equal(tprules_nft(&o, small, sizeof(small)), n);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(tprules_nft(&o, full, sizeof(full)), n);
    assert_memory_equal(small, full, sizeof(small) - 1);
    assert_int_equal(tprules_shell(&o, small, 1), tprules_shell(&o, NULL, 0));
    assert_string_equal(small, "");
    o.chains = 0;
    assert_int_equal(tprules_nft(&o, full, sizeof(full)), -EINVAL);
    assert_int_equal(tprules_shell(&o, full, sizeof(full)), -EINVAL);
    n = tprules_nft_remove(full, sizeof(full));
    assert_string_equal(full, "table inet ferry_tproxy\n"
                              "delete table inet ferry_tproxy\n");
    assert_int_equal(n, strlen(full));
}

struct cidr_case {
    const char *in;
    const char *out; /* NULL: -EINVAL */
};

static void test_cidr(void **state)
{
    static const struct cidr_case cases[] = {
        {"10.1.2.3/8", "10.0.0.0/8"},
        {"192.0.2.1", "192.0.2.1"},
        {"192.0.2.1/32", "192.0.2.1"},
        {"192.0.2.129/25", "192.0.2.128/25"},
        {"0.0.0.0/0", "0.0.0.0/0"},
        {"2001:db8::1/48", "2001:db8::/48"},
        {"2001:db8:0:0:8000::/33", "2001:db8::/33"},
        {"::1", "::1"},
        {"fe80::/10", "fe80::/10"},
        {"::ffff:1.2.3.4/128", "::ffff:1.2.3.4"},
        {"", NULL},
        {"/8", NULL},
        {"10.0.0.0/", NULL},
        {"10.0.0.0/33", NULL},
        {"10.0.0.0/8x", NULL},
        {"10.0.0.0/-1", NULL},
        {"10.0.0.300", NULL},
        {"::/129", NULL},
        {"example.com", NULL},
        {"10.0.0.0/8/8", NULL},
        {"1111:2222:3333:4444:5555:6666:7777:8888:9999/64", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tprules_cidr c;
        char out[64];
        int rc = tprules_parse_cidr(cases[i].in, &c);
        if (!cases[i].out) {
            if (rc != -EINVAL)
                fail_msg("'%s' accepted", cases[i].in);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s' rejected", cases[i].in);
        assert_true(tprules_format_cidr(&c, out, sizeof(out)) > 0);
        assert_string_equal(out, cases[i].out);
    }
}

static void test_iface_names(void **state)
{
    assert_int_equal(tprules_check_iface("eth0"), 0);
    assert_int_equal(tprules_check_iface("wlan*"), 0);
    assert_int_equal(tprules_check_iface("br-lan.10"), 0);
    assert_int_equal(tprules_check_iface("abcdefghijklmno"), 0); /* 15 */
    assert_int_equal(tprules_check_iface("abcdefghijklmnop"), -EINVAL);
    assert_int_equal(tprules_check_iface(""), -EINVAL);
    assert_int_equal(tprules_check_iface("a*b"), -EINVAL);
    assert_int_equal(tprules_check_iface("a b"), -EINVAL);
    assert_int_equal(tprules_check_iface("a\"b"), -EINVAL); /* injection */
    assert_int_equal(tprules_check_iface("a}b"), -EINVAL);
    assert_int_equal(tprules_check_iface("a/b"), -EINVAL);
}

struct check_case {
    void (*edit)(struct tprules_opts *);
    const char *says; /* in the error text */
};

static void no_port(struct tprules_opts *o)
{
    o->port = 0;
}
static void no_mark(struct tprules_opts *o)
{
    o->mark = 0;
}
static void same_marks(struct tprules_opts *o)
{
    o->route_mark = o->mark;
}
static void main_table(struct tprules_opts *o)
{
    o->table = 254;
}
static void late_pref(struct tprules_opts *o)
{
    o->rule_pref = 32766;
}
static void no_chains(struct tprules_opts *o)
{
    o->chains = 0;
}
static void no_family(struct tprules_opts *o)
{
    o->families = 0;
}
static void iface_no_lan(struct tprules_opts *o)
{
    add_iface(o, "eth0");
}
static void bad_iface(struct tprules_opts *o)
{
    o->chains = TPRULES_LAN;
    add_iface(o, "x\"y");
}
static void redirect_dns(struct tprules_opts *o)
{
    o->mode = TPRULES_REDIRECT;
    o->dns = true;
}
static void redirect_closed(struct tprules_opts *o)
{
    o->mode = TPRULES_REDIRECT;
    o->fail_closed = true;
}
static void bad_mode(struct tprules_opts *o)
{
    o->mode = 7;
}

static void test_check(void **state)
{
    static const struct check_case cases[] = {
        {no_port, "--port"},
        {no_mark, "--mark"},
        {same_marks, "--route-mark"},
        {main_table, "--table"},
        {late_pref, "--rule-pref"},
        {no_chains, "--host, --lan"},
        {no_family, "--ipv4-only"},
        {iface_no_lan, "--iface needs"},
        {bad_iface, "--iface"},
        {redirect_dns, "--dns needs"},
        {redirect_closed, "--fail-closed needs"},
        {bad_mode, "--mode"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tprules_opts o;
        char err[256] = "";
        tprules_defaults(&o);
        cases[i].edit(&o);
        if (tprules_check(&o, err, sizeof(err)) != -EINVAL ||
            !strstr(err, cases[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].says);
    }
    struct tprules_opts o;
    char err[8];
    tprules_defaults(&o);
    o.mode = TPRULES_REDIRECT; /* routing options do not matter there */
    o.table = 254;
    assert_int_equal(tprules_check(&o, err, sizeof(err)), 0);
}

struct diag_case {
    const char *stderr_text;
    const char *says; /* NULL: not recognised */
};

static void test_diagnose(void **state)
{
    static const struct diag_case cases[] = {
        {"netlink: Error: cache initialization failed: Operation not "
         "permitted\n",
         "CAP_NET_ADMIN"},
        {"RTNETLINK answers: Operation not permitted\n", "CAP_NET_ADMIN"},
        {"/dev/stdin:45:3-72: Error: Could not process rule: No such file "
         "or directory\n\t\tmeta l4proto { tcp, udp } tproxy ip to :7893 "
         "meta mark set 0x1f4 accept\n\t\t^^^^^\n",
         "modprobe nft_tproxy"},
        {"/dev/stdin:50:3-64: Error: Could not process rule: No such file "
         "or directory\n\t\tmeta l4proto tcp socket transparent 1 meta "
         "mark set 0x1f4 accept\n",
         "modprobe nft_socket"},
        {"Error: Could not process rule: No such file or directory\n"
         "\t\tfib daddr type { local, broadcast } accept\n",
         "nft_fib_inet"},
        {"Error: Could not process rule: No such file or directory\n"
         "\t\tmeta l4proto tcp redirect to :7892\n",
         "nft_redir"},
        {"/dev/stdin:3:19-30: Error: Could not process rule: File exists\n"
         "create table inet ferry_tproxy\n                  ^^^^^^^^^^^^\n",
         "applied already (table inet ferry_tproxy exists)"},
        {"RTNETLINK answers: File exists\n", "choose another --table"},
        {"RTNETLINK answers: Address family not supported by protocol\n",
         "--ipv4-only"},
        {"/dev/stdin:40:28-33: Error: syntax error, unexpected tproxy\n"
         "\t\tmeta l4proto { tcp, udp } tproxy ip to :7893\n",
         "upgrade nftables"},
        {"Error: syntax error, unexpected newline\ncreate table inet "
         "ferry_tproxy\n",
         NULL},
        {"something else\n", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = tprules_diagnose(cases[i].stderr_text);
        if (!cases[i].says) {
            if (got)
                fail_msg("case %zu: unexpected '%s'", i, got);
        } else if (!got || !strstr(got, cases[i].says)) {
            fail_msg("case %zu: '%s' does not say '%s'", i,
                     got ? got : "(null)", cases[i].says);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_default),
        cmocka_unit_test(test_lan_dns),
        cmocka_unit_test(test_both_v4_fail_closed),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_ipv6_only),
        cmocka_unit_test(test_ip_steps),
        cmocka_unit_test(test_snprintf_contract),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_iface_names),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_diagnose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
