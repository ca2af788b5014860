/* test_acl: policy/acl.c against snapshots loaded from YAML.  One table
 * of queries with the exact verdict (allow, rule index, egress) each:
 * every condition kind, first match, via, "-" users, protocol,
 * listeners, IPv4-mapped IPv6, CIDR edges (/0 /32 /128, mapped), name
 * targets with and without a resolved address, and the SSRF guard on,
 * off for loopback listeners, and off whenever rules: is present. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/acl.h"

enum { RULES, GUARD, EMPTY, NOCIDR, N_CONFS };

static const char listeners_yaml[] =
    "listeners:\n"
    "  - {name: pub, type: mixed, listen: 0.0.0.0:1080, open: true}\n"
    "  - {name: lo, type: mixed, listen: 127.0.0.1:1081}\n"
    "  - {name: lo6, type: mixed, listen: '[::1]:1082'}\n"
    "  - {name: any6, type: mixed, listen: '[::]:1083', open: true}\n"
    "  - name: auth\n"
    "    type: socks\n"
    "    listen: 0.0.0.0:1084\n"
    "    users: [{name: alice, password: a}, {name: bob, password: b}]\n";

static const char rules_yaml[] =
    "egresses:\n"
    "  - {name: corp, type: http, address: proxy.corp:3128}\n"
    "  - {name: tor, type: socks5, address: 127.0.0.1:9050}\n"
    "rules:\n"
    "  - action: deny                                   # 0\n"
    "    cidrs: [10.0.0.0/8, 'fd00::/8', 192.168.1.7,\n"
    "            '::ffff:198.51.100.0/120', 172.16.0.0/12]\n"
    "  - {action: allow, via: corp,                     # 1\n"
    "     domains: [example.com, '*.corp.example']}\n"
    "  - {action: deny, ports: [25, '6660-6669']}       # 2\n"
    "  - {action: allow, via: tor, users: [bob], ports: [443]} # 3\n"
    "  - {action: deny, users: ['-'], listeners: [pub]} # 4\n"
    "  - {action: deny, protocol: udp}                  # 5\n"
    "  - {action: deny, cidrs: [127.0.0.0/8, '::1']}    # 6\n"
    "  - {action: allow, via: corp, cidrs: [0.0.0.0/0]} # 7\n"
    "  - {action: allow, cidrs: ['::/0'], ports: [80],  # 8\n"
    "     protocol: tcp, listeners: [lo, auth]}\n"
    "  - {action: deny, listeners: [any6]}              # 9\n";

static const char *const yamls[N_CONFS] = {
    [RULES] = rules_yaml,
    [GUARD] = "",
    [EMPTY] = "rules: []\n",
    [NOCIDR] = "rules: [{action: deny, domains: [bad.test]}]\n",
};

static struct conf *confs[N_CONFS];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < N_CONFS; i++) {
        char yaml[4096], err[256] = "";
        snprintf(yaml, sizeof(yaml), "%s%s", listeners_yaml, yamls[i]);
        if (conf_load_string(yaml, strlen(yaml), "acl.yaml", &confs[i], err,
                             sizeof(err)) < 0) {
            print_error("conf %d: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N_CONFS; i++)
        conf_free(confs[i]);
    return 0;
}

static const struct conf_listener *listener(const struct conf *c,
                                            const char *name)
{
    for (unsigned i = 0; i < c->n_listeners; i++)
        if (strcmp(c->listeners[i].name, name) == 0)
            return &c->listeners[i];
    fail_msg("no listener %s", name);
    return NULL;
}

#define TCP ACL_TCP
#define UDP ACL_UDP
#define ALLOW true
#define DENY false

struct acl_case {
    int conf;
    const char *listener;
    const char *target; /* "host:port" as a client would ask */
    const char *addr;   /* resolved IP of a name target, or NULL */
    const char *user;   /* "" = not authenticated */
    enum acl_proto proto;
    bool allow;
    int rule;
    const char *egress; /* NULL = direct */
};

static const struct acl_case cases[] = {
    /* cidrs: v4, v6, bare /32, mapped both ways, partial byte (/12) */
    {RULES, "lo", "10.1.2.3:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "10.255.255.255:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "11.0.0.0:80", NULL, "", TCP, ALLOW, 7, "corp"},
    {RULES, "lo", "[fd00::1]:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "[fdff:ffff::1]:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "[fe00::1]:80", NULL, "", TCP, ALLOW, 8, NULL},
    {RULES, "lo", "192.168.1.7:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "192.168.1.8:80", NULL, "", TCP, ALLOW, 7, "corp"},
    {RULES, "lo", "192.168.1.6:80", NULL, "", TCP, ALLOW, 7, "corp"},
    {RULES, "lo", "[::ffff:10.0.0.1]:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "[::ffff:192.168.1.7]:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "198.51.100.9:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "198.51.101.9:80", NULL, "", TCP, ALLOW, 7, "corp"},
    {RULES, "lo", "172.16.0.1:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "172.31.255.255:80", NULL, "", TCP, DENY, 0, NULL},
    {RULES, "lo", "172.32.0.0:80", NULL, "", TCP, ALLOW, 7, "corp"},
    {RULES, "lo", "172.15.255.255:80", NULL, "", TCP, ALLOW, 7, "corp"},
    /* domains: exact (any case, trailing dot), *.suffix */
    {RULES, "lo", "example.com:443", NULL, "", TCP, ALLOW, 1, "corp"},
    {RULES, "lo", "EXAMPLE.Com.:443", NULL, "", TCP, ALLOW, 1, "corp"},
    {RULES, "lo", "www.example.com:443", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "example.com.au:443", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "a.corp.example:80", NULL, "", TCP, ALLOW, 1, "corp"},
    {RULES, "lo", "x.Y.corp.EXAMPLE.:80", NULL, "", TCP, ALLOW, 1, "corp"},
    {RULES, "lo", "corp.example:80", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "evilcorp.example:80", NULL, "", TCP, ALLOW, -1, NULL},
    /* a cidr looks at a name's resolved address, when there is one */
    {RULES, "lo", "example.com:80", "10.0.0.5", "", TCP, DENY, 0, NULL},
    {RULES, "lo", "example.com:80", "8.8.8.8", "", TCP, ALLOW, 1, "corp"},
    {RULES, "lo", "localhost:80", "127.0.0.1", "", TCP, DENY, 6, NULL},
    {RULES, "lo", "localhost:80", "::1", "", TCP, DENY, 6, NULL},
    {RULES, "lo", "localhost:80", "::ffff:127.0.0.2", "", TCP, DENY, 6,
     NULL},
    {RULES, "lo", "localhost:80", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "v6.test:80", "2001:db8::1", "", TCP, ALLOW, 8, NULL},
    {RULES, "lo", "v4.test:80", "8.8.4.4", "", TCP, ALLOW, 7, "corp"},
    /* ports: single and range edges */
    {RULES, "lo", "mail.test:25", NULL, "", TCP, DENY, 2, NULL},
    {RULES, "lo", "mail.test:26", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "irc.test:6660", NULL, "", TCP, DENY, 2, NULL},
    {RULES, "lo", "irc.test:6669", NULL, "", TCP, DENY, 2, NULL},
    {RULES, "lo", "irc.test:6659", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "irc.test:6670", NULL, "", TCP, ALLOW, -1, NULL},
    /* first match: rule 0 before the egress of rule 1, 2 before 3 */
    {RULES, "auth", "10.0.0.1:443", NULL, "bob", TCP, DENY, 0, NULL},
    {RULES, "auth", "example.com:25", NULL, "bob", TCP, ALLOW, 1, "corp"},
    {RULES, "auth", "x.test:25", NULL, "bob", TCP, DENY, 2, NULL},
    /* users, AND with ports; "-" for the unauthenticated; listeners */
    {RULES, "auth", "x.test:443", NULL, "bob", TCP, ALLOW, 3, "tor"},
    {RULES, "auth", "x.test:80", NULL, "bob", TCP, ALLOW, -1, NULL},
    {RULES, "auth", "x.test:443", NULL, "alice", TCP, ALLOW, -1, NULL},
    {RULES, "auth", "x.test:443", NULL, "bobby", TCP, ALLOW, -1, NULL},
    {RULES, "pub", "x.test:443", NULL, "", TCP, DENY, 4, NULL},
    {RULES, "lo", "x.test:443", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "pub", "x.test:443", NULL, "-", TCP, ALLOW, -1, NULL},
    {RULES, "any6", "x.test:443", NULL, "", TCP, DENY, 9, NULL},
    {RULES, "lo6", "x.test:443", NULL, "", TCP, ALLOW, -1, NULL},
    /* protocol */
    {RULES, "lo", "dns.test:53", NULL, "", UDP, DENY, 5, NULL},
    {RULES, "lo", "dns.test:53", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "example.com:53", NULL, "", UDP, ALLOW, 1, "corp"},
    /* edges: /128 and /32 with everything else; ::/0 and 0/0 */
    {RULES, "lo", "[::1]:80", NULL, "", TCP, DENY, 6, NULL},
    {RULES, "lo", "[::2]:80", NULL, "", TCP, ALLOW, 8, NULL},
    {RULES, "lo", "[::1]:81", NULL, "", TCP, DENY, 6, NULL},
    {RULES, "lo", "[::2]:81", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "lo", "[::ffff:127.0.0.1]:80", NULL, "", TCP, DENY, 6, NULL},
    {RULES, "lo", "[::ffff:8.8.8.8]:80", NULL, "", TCP, ALLOW, 7, "corp"},
    {RULES, "lo6", "[2001:db8::1]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {RULES, "auth", "[2001:db8::1]:80", NULL, "", TCP, ALLOW, 8, NULL},
    {RULES, "auth", "[2001:db8::1]:80", NULL, "", UDP, DENY, 5, NULL},
    /* rules present: no guard, even on a public listener */
    {RULES, "auth", "169.254.169.254:80", NULL, "alice", TCP, ALLOW, 7,
     "corp"},

    /* the guard: no rules key, public listener */
    {GUARD, "pub", "127.0.0.1:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "127.255.255.254:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "0.0.0.0:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "0.1.2.3:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "169.254.169.254:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "169.255.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "10.0.0.1:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "172.16.0.1:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "172.31.255.255:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "172.32.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "172.15.255.255:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "192.168.0.1:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "192.169.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "100.64.0.1:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "100.127.255.255:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "100.128.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "8.8.8.8:443", NULL, "", UDP, ALLOW, -1, NULL},
    {GUARD, "pub", "[::1]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[::]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[::2]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "[fe80::1]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[febf:ffff::1]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[fec0::1]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "[fc00::1]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[fdff::1]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[fe00::1]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "[fbff::1]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "[::ffff:127.0.0.1]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[::ffff:10.1.1.1]:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "[::ffff:8.8.8.8]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "[2001:db8::1]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "pub", "localhost:80", "127.0.0.1", "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "intra.test:80", "::ffff:192.168.0.9", "", TCP, DENY, -1,
     NULL},
    {GUARD, "pub", "intra.test:80", "fd12::1", "", TCP, DENY, -1, NULL},
    {GUARD, "pub", "example.com:80", "93.184.216.34", "", TCP, ALLOW, -1,
     NULL},
    {GUARD, "pub", "localhost:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "any6", "127.0.0.1:80", NULL, "", TCP, DENY, -1, NULL},
    {GUARD, "auth", "127.0.0.1:80", NULL, "alice", TCP, DENY, -1, NULL},
    /* loopback listeners are not guarded */
    {GUARD, "lo", "127.0.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "lo", "10.0.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "lo6", "[::1]:80", NULL, "", TCP, ALLOW, -1, NULL},
    {GUARD, "lo6", "localhost:80", "127.0.0.1", "", TCP, ALLOW, -1, NULL},
    /* rules: [] turns the guard off and allows everything */
    {EMPTY, "pub", "127.0.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {EMPTY, "pub", "localhost:80", "::1", "", TCP, ALLOW, -1, NULL},
    /* and so does any rule */
    {NOCIDR, "pub", "127.0.0.1:80", NULL, "", TCP, ALLOW, -1, NULL},
    {NOCIDR, "pub", "bad.test:80", NULL, "", TCP, DENY, 0, NULL},
    {NOCIDR, "pub", "bad.test:80", "127.0.0.1", "", TCP, DENY, 0, NULL},
};

static bool run_case(const struct acl_case *k)
{
    const struct conf *c = confs[k->conf];
    struct target t;
    struct addr a;
    struct acl_query q = {&t, NULL, k->user, listener(c, k->listener),
                          k->proto};
    assert_int_equal(target_parse(&t, k->target, strlen(k->target), 0), 0);
    if (k->addr) {
        assert_int_equal(addr_from_ip(&a, k->addr, t.port), 0);
        q.addr = &a;
    }
    struct acl_verdict v = acl_decide(c, &q);
    if (v.allow != k->allow || v.rule != k->rule ||
        (v.egress == NULL) != (k->egress == NULL))
        return false;
    if (v.egress && (strcmp(v.egress->name, k->egress) != 0 ||
                     v.egress < c->egresses ||
                     v.egress >= c->egresses + c->n_egresses))
        return false;
    return !v.egress || v.allow;
}

static void test_decide(void **state)
{
    (void)state;
    int missed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (run_case(&cases[i]))
            continue;
        print_error("case %zu: %s via %s\n", i, cases[i].target,
                    cases[i].listener);
        missed++;
    }
    assert_int_equal(missed, 0);
}

/* The lead's normaliser hands ::ffff:127.0.0.1 over as an IP target
 * built by addr_from_ip: 127.0.0.0/8 must deny it. */
static void test_mapped_target(void **state)
{
    (void)state;
    const struct conf *c = confs[RULES];
    struct addr a;
    struct target t;
    assert_int_equal(addr_from_ip(&a, "::ffff:127.0.0.1", 8080), 0);
    target_set_addr(&t, &a);
    assert_int_equal(t.kind, TARGET_IP);
    assert_int_equal(t.ip.u.sa.sa_family, AF_INET6);
    struct acl_query q = {&t, NULL, "", listener(c, "lo"), ACL_TCP};
    struct acl_verdict v = acl_decide(c, &q);
    assert_false(v.allow);
    assert_int_equal(v.rule, 6);
    q.listener = listener(confs[GUARD], "pub");
    v = acl_decide(confs[GUARD], &q);
    assert_false(v.allow);
    assert_int_equal(v.rule, -1);
}

static void test_needs_addrs(void **state)
{
    (void)state;
    static const struct {
        int conf;
        const char *listener, *target;
        bool guarded, needs;
    } k[] = {
        {RULES, "pub", "example.com:80", false, true},
        {RULES, "lo", "example.com:80", false, true},
        {RULES, "pub", "10.0.0.1:80", false, false},
        {GUARD, "pub", "example.com:80", true, true},
        {GUARD, "any6", "example.com:80", true, true},
        {GUARD, "auth", "example.com:80", true, true},
        {GUARD, "pub", "127.0.0.1:80", true, false},
        {GUARD, "lo", "example.com:80", false, false},
        {GUARD, "lo6", "example.com:80", false, false},
        {EMPTY, "pub", "example.com:80", false, false},
        {NOCIDR, "pub", "example.com:80", false, false},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        const struct conf *c = confs[k[i].conf];
        const struct conf_listener *l = listener(c, k[i].listener);
        struct target t;
        assert_int_equal(
            target_parse(&t, k[i].target, strlen(k[i].target), 0), 0);
        if (acl_guarded(c, l) != k[i].guarded ||
            acl_needs_addrs(c, l, &t) != k[i].needs)
            fail_msg("case %zu", i);
    }
}

/* A snapshot built without YAML: no listeners, no rules. */
/* No listener is a tunnel's exit (tunnel/exit.c): no guard, and the
 * default verdict is direct. */
static void test_bare_conf(void **state)
{
    (void)state;
    struct conf *c = conf_new();
    struct target t;
    assert_non_null(c);
    assert_int_equal(target_parse(&t, "10.0.0.1:80", 11, 0), 0);
    struct acl_query q = {&t, NULL, "", NULL, ACL_TCP};
    struct acl_verdict v = acl_decide(c, &q);
    assert_true(v.allow); /* a tunnel's exit: its own rules decide */
    assert_int_equal(v.rule, -1);
    assert_null(v.egress);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_mapped_target),
        cmocka_unit_test(test_needs_addrs),
        cmocka_unit_test(test_bare_conf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
