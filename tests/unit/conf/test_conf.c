/* test_conf: table tests for conf/conf.c (and through it yamlpos, cyerr
 * and listenurl).
 *
 * Every YAML text is loaded from a copy that ends right before an
 * unmapped page, with no NUL after it, so a read past len faults.  Bad
 * configs pin the exact "NAME:LINE:COL: " and a word of the reason. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "policy/acl.h"

/* ---- guard page ------------------------------------------------------ */

struct guard {
    char *map;
    size_t maplen;
    char *p; /* the copy; p + len is the first unmapped byte */
};

static void guard_put(struct guard *g, const char *data, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (len + pg - 1) / pg;
    if (pages == 0)
        pages = 1;
    g->maplen = (pages + 1) * pg;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + pages * pg, pg, PROT_NONE), 0);
    g->p = g->map + pages * pg - len;
    memcpy(g->p, data, len);
}

static void guard_free(struct guard *g)
{
    assert_int_equal(munmap(g->map, g->maplen), 0);
}

static int load(const char *yaml, struct conf **c, char *err, size_t cap)
{
    struct guard g;
    guard_put(&g, yaml, strlen(yaml));
    int rc = conf_load_string(g.p, strlen(yaml), "t.yaml", c, err, cap);
    guard_free(&g);
    return rc;
}

static const char *fmt_addr(const struct addr *a)
{
    static char buf[ADDR_STRLEN];
    return addr_format(a, buf, sizeof(buf));
}

/* ---- bad configs ----------------------------------------------------- */

struct bad {
    const char *yaml;
    const char *prefix; /* the exact start of the error */
    const char *word;   /* and a word of the reason */
};

static const struct bad bad_cases[] = {
    /* unknown keys (libcyaml), placed at the key */
    {"workers: 1\nlisen: 2\n", "t.yaml:2:1: ",
     "unknown key \"lisen\" at the top level"},
    {"listeners:\n  - type: mixed\n    lisen: 127.0.0.1:1\n", "t.yaml:3:5: ",
     "unknown key \"lisen\" in listener (expected one of: name, type, "
     "listen, users, open, udp_announce, via, target)"},
    {"timeouts:\n  conect: 1s\n", "t.yaml:2:3: ",
     "unknown key \"conect\" in timeouts"},
    {"listeners:\n  - {type: http, listen: ':1', users: [{name: a, "
     "password: b, pw: c}]}\n",
     "t.yaml:2:63: ", "unknown key \"pw\" in user"},
    /* missing keys, placed at the mapping */
    {"listeners:\n  - type: http\n", "t.yaml:2:5: ",
     "missing key \"listen\" in listener"},
    {"listeners:\n  - listen: :80\n    type: http\n  - {}\n",
     "t.yaml:4:5: ", "missing key \"type\" in listener"},
    {"listeners:\n  - type: http\n    listen: :80\n    users:\n"
     "      - name: alice\n",
     "t.yaml:5:9: ", "user \"alice\" needs a password or a password_hash"},
    /* wrong node kinds */
    {"listeners:\n  type: mixed\n", "t.yaml:2:3: ",
     "listeners must be a list, not a mapping"},
    {"timeouts: [1]\n", "t.yaml:1:11: ",
     "timeouts must be a mapping (key: value lines), not a list"},
    {"timeouts:\n  connect: [1]\n", "t.yaml:2:12: ",
     "timeouts.connect must be a single value, not a list"},
    {"listeners:\n", "t.yaml:1:11: ", "listeners must be a list, not empty"},
    {"listeners:\n  - [a]\n", "t.yaml:2:5: ",
     "listeners[0] must be a mapping"},
    {"hello\n", "t.yaml:1:1: ", "the top level must be a mapping"},
    {"workers: abc\n", "t.yaml:1:10: ", "invalid number \"abc\" for workers"},
    /* values */
    {"workers: -1\n", "t.yaml:1:10: ", "workers must be between 0"},
    {"workers: 257\n", "t.yaml:1:10: ", "workers must be between 0"},
    {"log:\n  level: verbose\n", "t.yaml:2:10: ",
     "invalid log level \"verbose\""},
    {"log: {level: \"a\\nb\\x01\"}\n", "t.yaml:1:14: ",
     "invalid log level \"a?b?\""},
    {"log:\n  access: ''\n", "t.yaml:2:11: ",
     "log.access must not be empty"},
    {"timeouts:\n  connect: 10x\n", "t.yaml:2:12: ",
     "invalid duration \"10x\" for timeouts.connect (use 500ms, 10s, 5m, "
     "1h)"},
    {"timeouts:\n  idle: 1.5s\n", "t.yaml:2:9: ", "invalid duration"},
    {"timeouts:\n  idle:\n", "t.yaml:2:8: ", "invalid duration \"\""},
    {"timeouts:\n  shutdown: 0s\n", "t.yaml:2:13: ", "out of range"},
    {"timeouts:\n  dns: 1200h\n", "t.yaml:2:8: ", "out of range"},
    {"timeouts:\n  handshake: -5s\n", "t.yaml:2:14: ", "invalid duration"},
    {"dns:\n  servers: [1.2.3.4, dns.google]\n", "t.yaml:2:22: ",
     "invalid DNS server \"dns.google\" (it must be a numeric IP"},
    {"dns:\n  servers: ['1.2.3.4:0']\n", "t.yaml:2:13: ",
     "invalid DNS server"},
    {"dns:\n  cache_size: -1\n", "t.yaml:2:15: ", "dns.cache_size"},
    {"listeners:\n  - type: sock\n    listen: :1080\n", "t.yaml:2:11: ",
     "unknown listener type \"sock\""},
    {"listeners:\n  - type: http\n    listen: localhost:80\n",
     "t.yaml:3:13: ", "numeric IP"},
    {"listeners:\n  - type: http\n    listen: 127.0.0.1\n", "t.yaml:3:13: ",
     "needs a port"},
    {"listeners:\n  - type: http\n    listen: ::1:80\n", "t.yaml:3:13: ",
     "brackets"},
    {"listeners:\n  - type: http\n    listen: 127.0.0.1:99999\n",
     "t.yaml:3:13: ", "invalid listen address"},
    {"listeners:\n  - type: http\n    listen: ''\n", "t.yaml:3:13: ",
     "invalid listen address"},
    {"listeners:\n  - {type: http, listen: ':80'}\n"
     "  - {type: socks, listen: '127.0.0.1:80'}\n",
     "t.yaml:3:27: ", "already used by listener \"http@:80\""},
    {"listeners:\n  - {name: a, type: http, listen: ':80'}\n"
     "  - {name: a, type: socks, listen: ':81'}\n",
     "t.yaml:3:12: ", "duplicate listener name \"a\""},
    {"listeners:\n  - {type: http, listen: ':80'}\n"
     "  - {type: http, listen: ':80'}\n",
     "t.yaml:3:26: ", "already used by listener \"http@:80\""},
    {"listeners:\n  - {type: http, listen: ':80'}\n"
     "  - {name: http@:80, type: http, listen: ':81'}\n",
     "t.yaml:3:12: ", "duplicate listener name \"http@:80\""},
    {"listeners:\n  - {name: x, type: http, listen: ':80'}\n"
     "  - {type: http, listen: ':81'}\n  - {name: http@:81, type: http, "
     "listen: ':82'}\n",
     "t.yaml:4:12: ", "duplicate listener name \"http@:81\""},
    {"listeners:\n  - {type: http, listen: ':81'}\n"
     "  - {name: x, type: http, listen: ':82'}\n"
     "  - {type: http, listen: ':81'}\n",
     "t.yaml:4:26: ", "already used by listener \"http@:81\""},
    {"listeners:\n  - {name: '', type: http, listen: ':80'}\n",
     "t.yaml:2:12: ", "listener name must be non-empty"},
    {"listeners:\n  - type: http\n    listen: :80\n    users:\n"
     "      - name: alice\n        password: ''\n",
     "t.yaml:6:19: ", "empty password for user \"alice\""},
    {"listeners:\n  - type: http\n    listen: :80\n    users:\n"
     "      - {name: 'a:b', password: x}\n",
     "t.yaml:5:16: ", "user name must be"},
    {"listeners:\n  - type: http\n    listen: :80\n    users:\n"
     "      - {name: a, password: x}\n      - {name: a, password: y}\n",
     "t.yaml:6:16: ", "duplicate user \"a\""},
    {"listeners:\n  - type: http\n    listen: :80\n    users: []\n",
     "t.yaml:4:12: ", "users must not be empty"},
    /* rejected while indexing, before libcyaml */
    {"workers: [1, 2\n", "t.yaml:2:1: ", "YAML syntax error"},
    {"workers: 1\n  log: x\n", "t.yaml:2:6: ", "YAML syntax error"},
    {"log: {level: info\n", "t.yaml:2:1: ", "YAML syntax error"},
    {"workers: 1\nworkers: 2\n", "t.yaml:2:1: ",
     "duplicate key \"workers\" (first at 1:1)"},
    {"log:\n  level: info\n  access: off\n  level: warn\n", "t.yaml:4:3: ",
     "duplicate key \"level\""},
    {"listeners:\n  - &l {type: http, listen: ':80'}\n  - *l\n",
     "t.yaml:3:5: ", "aliases (*l) are not supported"},
    {"listeners:\n  - {type: mixed, listen: '0.0.0.0:1080'}\n",
     "t.yaml:2:27: ", "without users: add users, or set open: true"},
    {"listeners:\n  - {type: socks, listen: '[::]:1080', open: false}\n",
     "t.yaml:2:27: ", "non-loopback address \"[::]:1080\" without users"},
    {"listeners:\n  - {type: http, listen: '0.0.0.0:80', open: maybe}\n",
     "t.yaml:2:46: ",
     "invalid value \"maybe\" for listeners[0].open (use true or false)"},
    {"listeners:\n  - type: http\n    listen: 0.0.0.0:80\n    open:\n",
     "t.yaml:4:10: ", "invalid value \"\" for listeners[0].open"},
    {"listeners:\n  - {type: http, listen: '0.0.0.0:80', open: 1}\n",
     "t.yaml:2:46: ", "invalid value \"1\" for listeners[0].open"},
    {"workers: 1\n---\nworkers: 2\n", "t.yaml:2:1: ",
     "only one YAML document"},
    {"? [a]\n: 1\n", "t.yaml:1:3: ", "a key must be a plain value"},
    {"workers: \"\\xff\"\n", "t.yaml:1:10: ", "invalid number"},
    {"workers: 1\x01\n", "t.yaml:1:11: ", "invalid text"},
    {"workers: \xff\n", "t.yaml:1:10: ", "invalid text"},
    {"a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
     "t.yaml:1:35: ", "nested deeper than 32 levels"},
};

/* Rules, egresses, limits, udp_announce and password_hash: each bad
 * value at its exact node. */
static const struct bad bad_policy_cases[] = {
    {"rules:\n"
     "  - action: allow\n"
     "    prot: tcp\n",
     "t.yaml:3:5: ",
     "unknown key \"prot\" in rule (expected one of: action, via, cidrs, "
     "domains, ports, users, listeners, protocol)"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"h:1\", pass: x}\n",
     "t.yaml:2:43: ",
     "unknown key \"pass\" in egress (expected one of: name, type, address, "
     "user, password, group)"},
    {"limits:\n"
     "  max_body: 1k\n",
     "t.yaml:2:3: ",
     "unknown key \"max_body\" in limits (expected one of: max_head)"},
    {"rules:\n"
     "  - via: corp\n",
     "t.yaml:2:5: ",
     "missing key \"action\" in rule"},
    {"egresses:\n"
     "  - name: a\n"
     "    type: http\n",
     "t.yaml:2:5: ",
     "missing key \"address\" in egress"},
    {"rules: {action: deny}\n",
     "t.yaml:1:8: ",
     "rules must be a list, not a mapping"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: 10.0.0.0/8\n",
     "t.yaml:3:12: ",
     "rules[0].cidrs must be a list, not a single value"},
    {"rules:\n"
     "  - action: permit\n",
     "t.yaml:2:13: ",
     "invalid action \"permit\" (use allow or deny)"},
    {"egresses:\n"
     "  - {name: corp, type: http, address: \"p.corp:3128\"}\n"
     "rules:\n"
     "  - {action: deny, via: corp}\n",
     "t.yaml:4:25: ",
     "via goes with action: allow only"},
    {"rules:\n"
     "  - action: allow\n"
     "    via: nowhere\n",
     "t.yaml:3:10: ",
     "unknown egress \"nowhere\" in rules[0].via (define it under egresses, "
     "or use direct)"},
    {"rules:\n"
     "  - action: allow\n"
     "    protocol: sctp\n",
     "t.yaml:3:15: ",
     "invalid protocol \"sctp\" (use tcp or udp)"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: [10.0.0.1/8]\n",
     "t.yaml:3:13: ",
     "invalid CIDR \"10.0.0.1/8\" in rules[0].cidrs (host bits are set past "
     "the prefix length)"},
    {"rules:\n"
     "  - action: deny\n"
     "  - action: deny\n"
     "    cidrs: [10.0.0.0/8, 10.0.0.0/33]\n",
     "t.yaml:4:25: ",
     "invalid CIDR \"10.0.0.0/33\" in rules[1].cidrs (the prefix length "
     "must be 0 to 32)"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: [\"fd00::/129\"]\n",
     "t.yaml:3:13: ",
     "the prefix length must be 0 to 128"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: [\"fd00::1/8\"]\n",
     "t.yaml:3:13: ",
     "host bits are set"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: [10.0.0.0/]\n",
     "t.yaml:3:13: ",
     "the prefix length must be 0 to 32"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: [10.0.0.0/+8]\n",
     "t.yaml:3:13: ",
     "the prefix length must be 0 to 32"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: [example.com]\n",
     "t.yaml:3:13: ",
     "invalid CIDR \"example.com\" in rules[0].cidrs (not an IP address or "
     "network"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: [300.1.1.1]\n",
     "t.yaml:3:13: ",
     "not an IP address"},
    {"rules:\n"
     "  - action: deny\n"
     "    cidrs: []\n",
     "t.yaml:3:12: ",
     "rules[0].cidrs must not be empty (leave the key out to match anything)"},
    {"rules:\n"
     "  - action: deny\n"
     "    ports: [0]\n",
     "t.yaml:3:13: ",
     "invalid port \"0\" in rules[0].ports (use a port 1-65535 or a range "
     "like 8000-9000)"},
    {"rules:\n"
     "  - action: deny\n"
     "    ports: [80, 65536]\n",
     "t.yaml:3:17: ",
     "invalid port \"65536\""},
    {"rules:\n"
     "  - action: deny\n"
     "    ports: [\"9000-8000\"]\n",
     "t.yaml:3:13: ",
     "the range is backwards"},
    {"rules:\n"
     "  - action: deny\n"
     "    ports: [http]\n",
     "t.yaml:3:13: ",
     "invalid port \"http\""},
    {"rules:\n"
     "  - action: deny\n"
     "    ports: [\"80-\"]\n",
     "t.yaml:3:13: ",
     "invalid port \"80-\""},
    {"rules:\n"
     "  - action: deny\n"
     "    ports: [\"-80\"]\n",
     "t.yaml:3:13: ",
     "invalid port \"-80\""},
    {"rules:\n"
     "  - action: deny\n"
     "    ports: []\n",
     "t.yaml:3:12: ",
     "rules[0].ports must not be empty"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [\"*\"]\n",
     "t.yaml:3:15: ",
     "invalid domain \"*\" in rules[0].domains (a * may only stand first, "
     "as in *.example.com)"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [\"*.\"]\n",
     "t.yaml:3:15: ",
     "empty name"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [\"foo*.com\"]\n",
     "t.yaml:3:15: ",
     "a * may only stand first"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [\"*.*.com\"]\n",
     "t.yaml:3:15: ",
     "a * may only stand first"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [a..b]\n",
     "t.yaml:3:15: ",
     "an empty label"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [a.b..]\n",
     "t.yaml:3:15: ",
     "an empty label"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [.example.com]\n",
     "t.yaml:3:15: ",
     "a leading dot"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [\"a b\"]\n",
     "t.yaml:3:15: ",
     "a name has only letters"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [1.2.3.4]\n",
     "t.yaml:3:15: ",
     "invalid domain \"1.2.3.4\" in rules[0].domains (an IP address is "
     "never a domain (put it in cidrs))"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [\"::1\"]\n",
     "t.yaml:3:15: ",
     "an IP address is never a domain"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaa.com]\n",
     "t.yaml:3:15: ",
     "a label is longer than 63"},
    {"rules:\n"
     "  - action: deny\n"
     "    domains: [abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.ab"
     "cdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh."
     "abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefg"
     "h.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.abcdefgh.com]\n",
     "t.yaml:3:15: ",
     "longer than 253"},
    {"rules:\n"
     "  - action: deny\n"
     "    users: [alice, \"a:b\"]\n",
     "t.yaml:3:20: ",
     "invalid user \"a:b\" in rules[0].users"},
    {"rules:\n"
     "  - action: deny\n"
     "    users: [\"\"]\n",
     "t.yaml:3:13: ",
     "invalid user \"\""},
    {"listeners:\n"
     "  - {name: main, type: http, listen: \":80\"}\n"
     "rules:\n"
     "  - action: deny\n"
     "    listeners: [main, nope]\n",
     "t.yaml:5:23: ",
     "invalid listener \"nope\" in rules[0].listeners (no listener has this "
     "name)"},
    {"egresses:\n"
     "  - {name: direct, type: http, address: \"h:1\"}\n",
     "t.yaml:2:12: ",
     "the egress \"direct\" is built in"},
    {"egresses:\n"
     "  - {name: \"\", type: http, address: \"h:1\"}\n",
     "t.yaml:2:12: ",
     "egress name must be non-empty"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"h:1\"}\n"
     "  - {name: a, type: socks5, address: \"h:2\"}\n",
     "t.yaml:3:12: ",
     "duplicate egress name \"a\""},
    {"egresses:\n"
     "  - {name: a, type: socks, address: \"h:1\"}\n",
     "t.yaml:2:21: ",
     "unknown egress type \"socks\" (use http, socks5 or tunnel)"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"p.corp\"}\n",
     "t.yaml:2:36: ",
     "invalid egress address \"p.corp\" (use HOST:PORT or [IPv6]:PORT with "
     "a port 1-65535)"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"p.corp:0\"}\n",
     "t.yaml:2:36: ",
     "invalid egress address"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"[::1]\"}\n",
     "t.yaml:2:36: ",
     "invalid egress address"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"::1:80\"}\n",
     "t.yaml:2:36: ",
     "invalid egress address"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"h:1\", user: bob}\n",
     "t.yaml:2:49: ",
     "egress \"a\" needs both user and password, or neither"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"h:1\", password: s3cret}\n",
     "t.yaml:2:53: ",
     "needs both user and password"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"h:1\", user: \"b:c\", password: "
     "x}\n",
     "t.yaml:2:49: ",
     "egress user must be 1 to 255 printable characters"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"h:1\", user: b, password: \"\"}\n",
     "t.yaml:2:62: ",
     "egress password must be 1 to 255 bytes"},
    {"egresses:\n"
     "  - {name: a, type: http, address: \"h:1\", user: b, password: "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}\n",
     "t.yaml:2:62: ",
     "egress password must be 1 to 255 bytes"},
    {"limits:\n"
     "  max_head: 512\n",
     "t.yaml:2:13: ",
     "limits.max_head must be 1k to 64k bytes (e.g. 16k or 16384), not "
     "\"512\""},
    {"limits:\n"
     "  max_head: 65k\n",
     "t.yaml:2:13: ",
     "limits.max_head must be 1k to 64k"},
    {"limits:\n"
     "  max_head: 65537\n",
     "t.yaml:2:13: ",
     "limits.max_head must be 1k to 64k"},
    {"limits:\n"
     "  max_head: 16m\n",
     "t.yaml:2:13: ",
     "limits.max_head must be 1k to 64k"},
    {"limits:\n"
     "  max_head: k\n",
     "t.yaml:2:13: ",
     "limits.max_head must be 1k to 64k"},
    {"limits:\n"
     "  max_head: 99999999999999999999k\n",
     "t.yaml:2:13: ",
     "limits.max_head must be 1k to 64k"},
    {"limits:\n"
     "  max_head: -16k\n",
     "t.yaml:2:13: ",
     "limits.max_head must be 1k to 64k"},
    {"mark: 0\n", "t.yaml:1:7: ", "mark must be a number from 1 to "
     "0xffffffff (decimal or 0x hex), not \"0\""},
    {"mark: 0x100000000\n", "t.yaml:1:7: ", "mark must be a number"},
    {"mark: -3\n", "t.yaml:1:7: ", "mark must be a number"},
    {"mark: 12x\n", "t.yaml:1:7: ", "mark must be a number"},
    {"listeners:\n  - {type: tproxy, listen: '[::]:1', users: [{name: a,"
     " password: s3cret}]}\n",
     "t.yaml:2:5: ", "a tproxy listener takes no users or udp_announce"},
    {"listeners:\n  - {type: redirect, listen: ':1', target: 'a:1'}\n",
     "t.yaml:2:44: ", "target is only for forward listeners"},
    /* forward listeners: a target, exactly there, and no users */
    {"listeners:\n  - {type: forward, listen: ':2222'}\n", "t.yaml:2:5: ",
     "a forward listener needs target: HOST:PORT"},
    {"listeners:\n  - {type: http, listen: ':1', target: 'a:1'}\n",
     "t.yaml:2:40: ", "target is only for forward listeners"},
    {"listeners:\n  - {type: forward, listen: ':1', target: 'a'}\n",
     "t.yaml:2:43: ",
     "invalid target \"a\" (use HOST:PORT or [IPv6]:PORT with a port "
     "1-65535)"},
    {"listeners:\n  - {type: forward, listen: ':1', target: 'a:0'}\n",
     "t.yaml:2:43: ", "invalid target \"a:0\""},
    {"listeners:\n  - {type: forward, listen: ':1', target: 'a:1',\n"
     "     users: [{name: a, password: s3cret}]}\n",
     "t.yaml:2:5: ", "a forward listener takes no users or udp_announce"},
    {"listeners:\n"
     "  - {type: socks, listen: \":1080\", udp_announce: ex.com}\n",
     "t.yaml:2:50: ",
     "invalid udp_announce \"ex.com\" (it must be a numeric IP address, "
     "without a port)"},
    {"listeners:\n"
     "  - {type: socks, listen: \":1080\", udp_announce: \"1.2.3.4:5\"}\n",
     "t.yaml:2:50: ",
     "invalid udp_announce"},
    {"listeners:\n"
     "  - {type: socks, listen: \":1080\", udp_announce: 0.0.0.0}\n",
     "t.yaml:2:50: ",
     "clients cannot send to 0.0.0.0 or ::"},
    {"listeners:\n"
     "  - {type: socks, listen: \":1080\", udp_announce: \"::\"}\n",
     "t.yaml:2:50: ",
     "clients cannot send to 0.0.0.0 or ::"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password: x\n"
     "        password_hash: "
     "\"$y$j9T$1j8JIDIOszaiiBi3aDFQ8/$5zTCHqIKZq7ORi8lUqvhzm7a4q7./rgb4RTNLV"
     "L8Mq6\"\n",
     "t.yaml:7:24: ",
     "user \"alice\" has both password and password_hash (give one)"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: \"$1$UOhXhI8J$/8JKKsXwKUfU/gX4UueW6/\"\n",
     "t.yaml:6:24: ",
     "invalid password_hash for user \"alice\" (a weak legacy method: use "
     "yescrypt ($y$), SHA-512 ($6$) or bcrypt ($2b$))"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: s3cret\n",
     "t.yaml:6:24: ",
     "invalid password_hash for user \"alice\" (not a crypt(3) hash"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: \"$y$j9T$1j8JIDIOszaiiBi3aDFQ8/\"\n",
     "t.yaml:6:24: ",
     "incomplete"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: "
     "\"$y$j9T$1j8JIDIOszaiiBi3aDFQ8/$5zTCHqIKZq7ORi8lUqvhzm7a4q7./rgb4RTNLV"
     "L8Mq\"\n",
     "t.yaml:6:24: ",
     "incomplete"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: \"$y$\"\n",
     "t.yaml:6:24: ",
     "incomplete"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: \"\"\n",
     "t.yaml:6:24: ",
     "not a crypt(3) hash"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: \"*0\"\n",
     "t.yaml:6:24: ",
     "not a crypt(3) hash"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: \"$zz$abc$def\"\n",
     "t.yaml:6:24: ",
     "not a crypt(3) hash"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - name: alice\n"
     "        password_hash: \"$y$j9T$1j8JIDIOszaii "
     "i3aDFQ8/$5zTCHqIKZq7ORi8lUqvhzm7a4q7./rgb4RTNLVL8Mq6\"\n",
     "t.yaml:6:24: ",
     "not a crypt(3) hash"},
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    users:\n"
     "      - {name: \"-\", password: x}\n",
     "t.yaml:5:16: ",
     "the user name \"-\" is reserved (in rules it means no user)"},
};

/* Tunnel egresses, listeners' via, gateway: and agent:.  No secret
 * ("s3cret") ever shows (run_bad checks). */
#define GW_TOKENS "  tokens: [{token: s3cret}]\n"
#define AGENT_HEAD "agent:\n  server: tls://gw.example:8443\n  token: s3cret\n"

static const struct bad bad_tunnel_cases[] = {
    /* egresses: type tunnel */
    {"egresses:\n"
     "  - {name: t, type: tunnel, address: \"h:1\"}\n",
     "t.yaml:2:38: ",
     "a tunnel egress has no address (it goes through a tunnel link, not a "
     "parent proxy)"},
    {"egresses:\n"
     "  - {name: t, type: tunnel, user: bob, password: s3cret}\n",
     "t.yaml:2:35: ",
     "a tunnel egress has no user"},
    {"egresses:\n"
     "  - {name: t, type: tunnel, password: s3cret}\n",
     "t.yaml:2:39: ",
     "a tunnel egress has no password"},
    {"egresses:\n"
     "  - name: t\n"
     "    type: tunnel\n"
     "    group: \"a b\"\n",
     "t.yaml:4:12: ",
     "invalid group \"a b\" (use 1 to 64 of A-Z a-z 0-9 . _ -, or \"\" for "
     "the agent's gateway)"},
    {"egresses:\n"
     "  - name: t\n"
     "    type: tunnel\n"
     "    group: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaa\n",
     "t.yaml:4:12: ",
     "invalid group"},
    {"egresses:\n"
     "  - {name: p, type: http, address: \"h:1\", group: lan}\n",
     "t.yaml:2:50: ",
     "group goes with type: tunnel only"},
    {"egresses:\n"
     "  - {name: p, type: socks5}\n",
     "t.yaml:2:5: ",
     "missing key \"address\" in egress (an http or socks5 egress needs "
     "HOST:PORT)"},
    /* listeners: via */
    {"listeners:\n"
     "  - type: http\n"
     "    listen: :80\n"
     "    via: nowhere\n",
     "t.yaml:4:10: ",
     "unknown egress \"nowhere\" in listeners[0].via (define it under "
     "egresses, or use direct)"},
    {"egresses:\n"
     "  - {name: lan, type: tunnel}\n"
     "listeners:\n"
     "  - {type: http, listen: ':80', via: lan}\n"
     "  - {type: http, listen: ':81', via: [lan]}\n",
     "t.yaml:5:38: ",
     "listeners[1].via must be a single value, not a list"},
    /* gateway: shape */
    {"gateway: [listen]\n",
     "t.yaml:1:10: ",
     "gateway must be a mapping (key: value lines), not a list"},
    {"gateway:\n"
     "  tokens: [{token: s3cret}]\n",
     "t.yaml:2:3: ",
     "missing key \"listen\" in gateway"},
    {"gateway:\n"
     "  listen: :8443\n",
     "t.yaml:2:3: ",
     "missing key \"tokens\" in gateway"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  certificate: x.pem\n",
     "t.yaml:4:3: ",
     "unknown key \"certificate\" in gateway (expected one of: listen, "
     "cert, key, client_ca, websocket_path, tokens, exit, plaintext, "
     "balance, ping, timeout, max_streams)"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - {token: s3cret, group: [a]}\n",
     "t.yaml:4:23: ",
     "unknown key \"group\" in token (expected one of: token, token_hash, "
     "groups)"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens: []\n",
     "t.yaml:3:11: ",
     "gateway.tokens must not be empty (an agent needs a token to join)"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  exit: maybe\n",
     "t.yaml:4:9: ",
     "maybe"},
    /* gateway: listen and TLS */
    {"gateway:\n"
     "  listen: gw.example:8443\n"
     GW_TOKENS,
     "t.yaml:2:11: ",
     "invalid listen address \"gw.example:8443\" for gateway.listen (the "
     "host must be a numeric IP address, not a name)"},
    {"gateway:\n"
     "  listen: 8443\n"
     GW_TOKENS,
     "t.yaml:2:11: ",
     "it needs a port"},
    {"gateway:\n"
     "  listen: 0.0.0.0:8443\n"
     GW_TOKENS,
     "t.yaml:2:11: ",
     "a gateway without TLS must listen on loopback (put it behind a TLS "
     "terminator), or say plaintext: true for a network that protects it "
     "(tokens and traffic cross it unencrypted)"},
    {"gateway:\n"
     "  listen: 0.0.0.0:8443\n"
     "  plaintext: false\n"
     GW_TOKENS,
     "t.yaml:2:11: ",
     "a gateway without TLS must listen on loopback"},
    {"gateway:\n"
     "  listen: 0.0.0.0:8443\n"
     "  plaintext: true\n"
     "  cert: gw.pem\n"
     "  key: gw.key\n"
     GW_TOKENS,
     "t.yaml:3:14: ",
     "gateway.plaintext: true and cert/key contradict each other "
     "(plaintext means no TLS)"},
    {"gateway:\n"
     "  listen: 0.0.0.0:8443\n"
     "  plaintext: often\n"
     GW_TOKENS,
     "t.yaml:3:14: ",
     "often"},
    {"gateway:\n"
     "  listen: '[::]:8443'\n"
     GW_TOKENS,
     "t.yaml:2:11: ",
     "a gateway without TLS must listen on loopback"},
    {"gateway:\n"
     "  listen: 0.0.0.0:8443\n"
     "  cert: gw.pem\n"
     GW_TOKENS,
     "t.yaml:3:9: ",
     "gateway needs both cert and key, or neither"},
    {"gateway:\n"
     "  listen: 0.0.0.0:8443\n"
     "  key: gw.key\n"
     GW_TOKENS,
     "t.yaml:3:8: ",
     "gateway needs both cert and key, or neither"},
    {"gateway:\n"
     "  listen: 0.0.0.0:8443\n"
     "  cert: ''\n"
     "  key: gw.key\n"
     GW_TOKENS,
     "t.yaml:3:9: ",
     "gateway.cert must be non-empty and printable"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  client_ca: ca.pem\n"
     GW_TOKENS,
     "t.yaml:3:14: ",
     "gateway.client_ca needs cert and key (client certificates come with "
     "TLS)"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  websocket_path: ferry\n"
     GW_TOKENS,
     "t.yaml:3:19: ",
     "invalid gateway.websocket_path \"ferry\" (it must start with '/')"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  websocket_path: /a b\n"
     GW_TOKENS,
     "t.yaml:3:19: ",
     "(it must be printable, without spaces)"},
    /* gateway: tokens */
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - groups: [lan]\n",
     "t.yaml:4:7: ",
     "gateway.tokens[0] needs exactly one of token and token_hash"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - token: s3cret\n"
     "      token_hash: \"$y$j9T$1j8JIDIOszaiiBi3aDFQ8/$5zTCHqIKZq7ORi8lUqvhz"
     "m7a4q7./rgb4RTNLVL8Mq6\"\n",
     "t.yaml:5:19: ",
     "gateway.tokens[0] needs exactly one of token and token_hash"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - token: ''\n",
     "t.yaml:4:14: ",
     "gateway.tokens[0].token must be 1 to 255 printable bytes"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - token: \"s3cret\\x01\"\n",
     "t.yaml:4:14: ",
     "gateway.tokens[0].token must be 1 to 255 printable bytes"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - token: s3cretxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     "t.yaml:4:14: ",
     "gateway.tokens[0].token must be 1 to 255 printable bytes"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - token: a\n"
     "    - token: s3cret\n"
     "    - token: s3cret\n",
     "t.yaml:6:14: ",
     "gateway.tokens[2].token is the same as gateway.tokens[1]"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - token_hash: s3cret\n",
     "t.yaml:4:19: ",
     "invalid gateway.tokens[0].token_hash (not a crypt(3) hash"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - {token_hash: \"$1$UOhXhI8J$/8JKKsXwKUfU/gX4UueW6/\"}\n",
     "t.yaml:4:20: ",
     "(a weak legacy method"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - {token: s3cret, groups: []}\n",
     "t.yaml:4:31: ",
     "gateway.tokens[0].groups must not be empty (leave the key out to "
     "allow any group)"},
    {"gateway:\n"
     "  listen: :8443\n"
     "  tokens:\n"
     "    - {token: s3cret, groups: [lan, \"l a b\"]}\n",
     "t.yaml:4:37: ",
     "invalid group \"l a b\" in gateway.tokens[0].groups (use 1 to 64 of "
     "A-Z a-z 0-9 . _ -)"},
    /* gateway: balance and link */
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  balance: random\n",
     "t.yaml:4:12: ",
     "invalid gateway.balance \"random\" (use least_streams or round_robin)"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  ping: 0s\n",
     "t.yaml:4:9: ",
     "duration \"0s\" for gateway.ping is out of range"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  timeout: soon\n",
     "t.yaml:4:12: ",
     "invalid duration \"soon\" for gateway.timeout (use 500ms, 10s, 5m, "
     "1h)"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  timeout: 10s\n",
     "t.yaml:4:12: ",
     "gateway.timeout must be longer than gateway.ping (a link is dead only "
     "when pings go unanswered)"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  ping: 1m\n",
     "t.yaml:4:9: ",
     "gateway.timeout must be longer than gateway.ping"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  max_streams: 0\n",
     "t.yaml:4:16: ",
     "gateway.max_streams must be between 1 and 65536, not 0"},
    {"gateway:\n"
     "  listen: :8443\n"
     GW_TOKENS
     "  max_streams: 65537\n",
     "t.yaml:4:16: ",
     "gateway.max_streams must be between 1 and 65536, not 65537"},
    /* agent: shape and token */
    {"agent:\n"
     "  token: s3cret\n",
     "t.yaml:2:3: ",
     "missing key \"server\" in agent"},
    {AGENT_HEAD
     "  tls: true\n",
     "t.yaml:4:3: ",
     "unknown key \"tls\" in agent (expected one of: server, token, "
     "token_file, id, group, links, ca, fingerprint, insecure, cert, key, "
     "sni, host, proxy, exit, backoff, ping, timeout, max_streams)"},
    {"agent:\n"
     "  server: tls://gw.example:8443\n",
     "t.yaml:2:3: ",
     "agent needs a token (token: or token_file:)"},
    {AGENT_HEAD
     "  token_file: /etc/ferry/token\n",
     "t.yaml:4:15: ",
     "give agent.token or agent.token_file, not both"},
    {"agent:\n"
     "  server: tls://gw.example:8443\n"
     "  token: \"\"\n",
     "t.yaml:3:10: ",
     "agent.token must be 1 to 255 printable bytes"},
    {"agent:\n"
     "  server: tls://gw.example:8443\n"
     "  token_file: /nonexistent/ferry-token\n",
     "t.yaml:3:15: ",
     "cannot read agent.token_file \"/nonexistent/ferry-token\" (No such "
     "file or directory)"},
    {"agent:\n"
     "  server: tls://gw.example:8443\n"
     "  token_file: /\n",
     "t.yaml:3:15: ",
     "cannot read agent.token_file \"/\" (Is a directory)"},
    {"agent:\n"
     "  server: tls://gw.example:8443\n"
     "  token_file: /dev/null\n",
     "t.yaml:3:15: ",
     "the first line of agent.token_file \"/dev/null\" is empty"},
    /* agent: server */
    {"agent:\n"
     "  server: https://gw.example:443\n"
     "  token: s3cret\n",
     "t.yaml:2:11: ",
     "invalid server URL \"https://gw.example:443\" for agent.server (use "
     "tls://, wss://, tcp:// or ws:// and HOST:PORT)"},
    {"agent:\n"
     "  server: tls://gw.example\n"
     "  token: s3cret\n",
     "t.yaml:2:11: ",
     "(use HOST:PORT or [IPv6]:PORT with a port 1-65535 after the scheme)"},
    {"agent:\n"
     "  server: tcp://[::1]\n"
     "  token: s3cret\n",
     "t.yaml:2:11: ",
     "(use HOST:PORT or [IPv6]:PORT"},
    {"agent:\n"
     "  server: ws://gw.example:0/\n"
     "  token: s3cret\n",
     "t.yaml:2:11: ",
     "(use HOST:PORT or [IPv6]:PORT"},
    {"agent:\n"
     "  server: tls://gw.example:8443/ferry\n"
     "  token: s3cret\n",
     "t.yaml:2:11: ",
     "(only a ws:// or wss:// server has a path)"},
    {"agent:\n"
     "  server: \"wss://gw.example:8443/a b\"\n"
     "  token: s3cret\n",
     "t.yaml:2:11: ",
     "(the path must be printable, without spaces)"},
    {"agent:\n"
     "  server: tls://bob:s3cret@gw.example:8443\n"
     "  token: s3cret\n",
     "t.yaml:2:11: ",
     "invalid server URL \"***\" for agent.server (no user@ part: the token "
     "has a key of its own)"},
    {AGENT_HEAD
     "  host: gw.example\n",
     "t.yaml:4:9: ",
     "agent.host goes with a ws:// or wss:// server"},
    {"agent:\n"
     "  server: ws://gw.example:80\n"
     "  token: s3cret\n"
     "  host: \"gw example\"\n",
     "t.yaml:4:9: ",
     "agent.host must be non-empty and printable, without spaces"},
    /* agent: id, group, links */
    {AGENT_HEAD
     "  id: box/1\n",
     "t.yaml:4:7: ",
     "invalid agent.id \"box/1\" (use 1 to 64 of A-Z a-z 0-9 . _ -)"},
    {AGENT_HEAD
     "  id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "\n",
     "t.yaml:4:7: ",
     "invalid agent.id"},
    {AGENT_HEAD
     "  group: ''\n",
     "t.yaml:4:10: ",
     "invalid agent.group \"\""},
    {AGENT_HEAD
     "  links: 0\n",
     "t.yaml:4:10: ",
     "agent.links must be between 1 and 16, not 0"},
    {AGENT_HEAD
     "  links: 17\n",
     "t.yaml:4:10: ",
     "agent.links must be between 1 and 16, not 17"},
    {AGENT_HEAD
     "  links: many\n",
     "t.yaml:4:10: ",
     "invalid number \"many\" for agent.links"},
    /* agent: TLS */
    {AGENT_HEAD
     "  ca: ca.pem\n"
     "  fingerprint: \"" "00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddeeff\"\n",
     "t.yaml:5:16: ",
     "give at most one of agent.ca, agent.fingerprint and agent.insecure: "
     "true"},
    {AGENT_HEAD
     "  insecure: true\n"
     "  ca: ca.pem\n",
     "t.yaml:4:13: ",
     "give at most one of"},
    {AGENT_HEAD
     "  fingerprint: \"sha256:zz\"\n",
     "t.yaml:4:16: ",
     "invalid agent.fingerprint (the SHA-256 of the gateway's certificate: "
     "64 hex digits, colons and a \"sha256:\" prefix optional)"},
    {AGENT_HEAD
     "  fingerprint: \"00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddee\"\n",
     "t.yaml:4:16: ",
     "invalid agent.fingerprint"},
    {AGENT_HEAD
     "  fingerprint: \"00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddeeff00\"\n",
     "t.yaml:4:16: ",
     "invalid agent.fingerprint"},
    {AGENT_HEAD
     "  fingerprint: \"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
     "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee::ff\"\n",
     "t.yaml:4:16: ",
     "invalid agent.fingerprint"},
    {"agent:\n"
     "  server: tcp://127.0.0.1:8443\n"
     "  token: s3cret\n"
     "  ca: ca.pem\n",
     "t.yaml:4:7: ",
     "agent.ca needs a tls:// or wss:// server"},
    {"agent:\n"
     "  server: ws://127.0.0.1:8443\n"
     "  token: s3cret\n"
     "  insecure: true\n",
     "t.yaml:4:13: ",
     "agent.insecure needs a tls:// or wss:// server"},
    {"agent:\n"
     "  server: ws://127.0.0.1:8443\n"
     "  token: s3cret\n"
     "  sni: gw\n",
     "t.yaml:4:8: ",
     "agent.sni needs a tls:// or wss:// server"},
    {AGENT_HEAD
     "  key: c.key\n",
     "t.yaml:4:8: ",
     "agent needs both cert and key, or neither"},
    {AGENT_HEAD
     "  sni: \"a b\"\n",
     "t.yaml:4:8: ",
     "agent.sni must be non-empty and printable, without spaces"},
    {AGENT_HEAD
     "  ca: \"\"\n",
     "t.yaml:4:7: ",
     "agent.ca must be non-empty and printable"},
    /* agent: proxy, backoff, link */
    {AGENT_HEAD
     "  proxy: corp\n",
     "t.yaml:4:10: ",
     "unknown egress \"corp\" in agent.proxy (define an http or socks5 "
     "egress, or use direct)"},
    {"egresses:\n"
     "  - {name: lan, type: tunnel}\n"
     AGENT_HEAD
     "  proxy: lan\n",
     "t.yaml:6:10: ",
     "egress \"lan\" is a tunnel: reach the gateway through an http or "
     "socks5 egress, or direct"},
    {AGENT_HEAD
     "  backoff: {min: 50ms}\n",
     "t.yaml:4:18: ",
     "agent.backoff.min must be at least 100ms"},
    {AGENT_HEAD
     "  backoff: {min: 1m}\n",
     "t.yaml:4:18: ",
     "agent.backoff.min must not be longer than agent.backoff.max"},
    {AGENT_HEAD
     "  backoff: {max: 200ms}\n",
     "t.yaml:4:18: ",
     "agent.backoff.min must not be longer than agent.backoff.max"},
    {AGENT_HEAD
     "  backoff: {min: 1s, mx: 2s}\n",
     "t.yaml:4:22: ",
     "unknown key \"mx\" in backoff (expected one of: min, max)"},
    {AGENT_HEAD
     "  backoff: {min: 1x}\n",
     "t.yaml:4:18: ",
     "invalid duration \"1x\" for agent.backoff.min"},
    {AGENT_HEAD
     "  ping: 30s\n",
     "t.yaml:4:9: ",
     "agent.timeout must be longer than agent.ping"},
    {AGENT_HEAD
     "  max_streams: 70000\n",
     "t.yaml:4:16: ",
     "agent.max_streams must be between 1 and 65536, not 70000"},
    {AGENT_HEAD
     "  exit: sometimes\n",
     "t.yaml:4:9: ",
     "sometimes"},
};

/* Every case runs and each miss is printed; 0 when all passed. */
static int run_bad(const struct bad *cases, size_t n)
{
    int missed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct bad *b = &cases[i];
        struct conf *c = (struct conf *)1;
        char err[512] = "";
        int rc = load(b->yaml, &c, err, sizeof(err));
        if (rc == 0)
            conf_free(c);
        if (rc == -EINVAL && !c &&
            strncmp(err, b->prefix, strlen(b->prefix)) == 0 &&
            strstr(err, b->word) && !strchr(err, '\n') &&
            !strstr(err, "s3cret"))
            continue;
        print_error("bad case %zu: rc %d err \"%s\"\n", i, rc, err);
        missed++;
    }
    return missed;
}

static void test_bad_configs(void **state)
{
    (void)state;
    assert_int_equal(run_bad(bad_cases, sizeof(bad_cases) /
                                            sizeof(bad_cases[0])),
                     0);
}

static void test_bad_policy_configs(void **state)
{
    (void)state;
    assert_int_equal(run_bad(bad_policy_cases,
                             sizeof(bad_policy_cases) /
                                 sizeof(bad_policy_cases[0])),
                     0);
}

static void test_bad_tunnel_configs(void **state)
{
    (void)state;
    assert_int_equal(run_bad(bad_tunnel_cases,
                             sizeof(bad_tunnel_cases) /
                                 sizeof(bad_tunnel_cases[0])),
                     0);
}

/* The password never shows, even when its own node is at fault. */
static void test_bad_config_hides_password(void **state)
{
    (void)state;
    static const char yaml[] =
        "listeners:\n  - type: http\n    listen: :80\n    users:\n"
        "      - {name: alice, password: s3cret, x: 1}\n";
    struct conf *c;
    char err[512];
    assert_int_equal(load(yaml, &c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "t.yaml:5:41: unknown key \"x\" in user "
                             "(expected one of: name, password, "
                             "password_hash)");
}

/* A short err buffer is cut, never overrun. */
static void test_short_err_buffer(void **state)
{
    (void)state;
    struct conf *c;
    char err[12];
    memset(err, 'x', sizeof(err));
    assert_int_equal(load("workers: -1\n", &c, err, 8), -EINVAL);
    assert_string_equal(err, "t.yaml:");
    assert_int_equal(err[8], 'x');
    assert_int_equal(load("workers: -1\n", &c, NULL, 0), -EINVAL);
}

/* ---- good configs ---------------------------------------------------- */

static void test_full_config(void **state)
{
    (void)state;
    static const char yaml[] =
        "# every key\n"
        "workers: 4\n"
        "log: {level: debug, access: /var/log/ferry.log}\n"
        "timeouts:\n"
        "  connect: 500ms\n"
        "  handshake: 2s\n"
        "  idle: 5m\n"
        "  dns: 30\n"
        "  shutdown: 1h\n"
        "dns:\n"
        "  servers: [1.1.1.1, '[2606:4700::1111]:5353', 8.8.8.8:54, '::1']\n"
        "  cache_size: 0\n"
        "listeners:\n"
        "  - name: main\n"
        "    type: mixed\n"
        "    listen: 0.0.0.0:7890\n"
        "    users:\n"
        "      - name: alice\n"
        "        password: 's3:cr et'\n"
        "      - {name: bob, password: \"x\"}\n"
        "  - type: socks5\n"
        "    listen: '[::1]:1080'\n"
        "  - type: http\n"
        "    listen: :3128\n"
        "  - type: socks4\n"
        "    listen: '[::]:1081'\n"
        "    open: true\n";
    struct conf *c = NULL;
    char err[256] = "";
    assert_int_equal(load(yaml, &c, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(c->workers, 4);
    assert_int_equal(c->log_level, CONF_LOG_DEBUG);
    assert_string_equal(c->access_log, "/var/log/ferry.log");
    assert_int_equal(c->timeouts.connect_ms, 500);
    assert_int_equal(c->timeouts.handshake_ms, 2000);
    assert_int_equal(c->timeouts.idle_ms, 300000);
    assert_int_equal(c->timeouts.dns_ms, 30000);
    assert_int_equal(c->timeouts.shutdown_ms, 3600000);
    assert_int_equal(c->dns.n_servers, 4);
    assert_string_equal(fmt_addr(&c->dns.servers[0]), "1.1.1.1:53");
    assert_string_equal(fmt_addr(&c->dns.servers[1]),
                        "[2606:4700::1111]:5353");
    assert_string_equal(fmt_addr(&c->dns.servers[2]), "8.8.8.8:54");
    assert_string_equal(fmt_addr(&c->dns.servers[3]), "[::1]:53");
    assert_int_equal(c->dns.cache_size, 0);
    assert_int_equal(c->n_listeners, 4);

    const struct conf_listener *l = &c->listeners[0];
    assert_string_equal(l->name, "main");
    assert_int_equal(l->type, CONF_LISTENER_MIXED);
    assert_string_equal(fmt_addr(&l->addr), "0.0.0.0:7890");
    assert_int_equal(l->n_users, 2);
    assert_string_equal(l->users[0].name, "alice");
    assert_string_equal(l->users[0].password, "s3:cr et");
    assert_string_equal(l->users[1].name, "bob");
    assert_string_equal(l->users[1].password, "x");

    l = &c->listeners[1];
    assert_string_equal(l->name, "socks@[::1]:1080");
    assert_int_equal(l->type, CONF_LISTENER_SOCKS);
    assert_int_equal(l->addr.u.sa.sa_family, AF_INET6);
    assert_string_equal(fmt_addr(&l->addr), "[::1]:1080");
    assert_int_equal(l->n_users, 0);
    assert_null(l->users);

    l = &c->listeners[2];
    assert_string_equal(l->name, "http@:3128");
    assert_int_equal(l->type, CONF_LISTENER_HTTP);
    assert_string_equal(fmt_addr(&l->addr), "127.0.0.1:3128");

    l = &c->listeners[3];
    assert_string_equal(l->name, "socks@[::]:1081");
    assert_string_equal(fmt_addr(&l->addr), "[::]:1081");
    assert_true(l->open);
    assert_false(conf_listener_exposed(l));
    assert_false(c->listeners[2].open);
    conf_free(c);
}

static void assert_defaults(const struct conf *c)
{
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->log_level, CONF_LOG_INFO);
    assert_string_equal(c->access_log, "stderr");
    assert_int_equal(c->timeouts.connect_ms, 10000);
    assert_int_equal(c->timeouts.handshake_ms, 15000);
    assert_int_equal(c->timeouts.idle_ms, 300000);
    assert_int_equal(c->timeouts.dns_ms, 5000);
    assert_int_equal(c->timeouts.shutdown_ms, 10000);
    assert_int_equal(c->dns.n_servers, 0);
    assert_null(c->dns.servers);
    assert_int_equal(c->dns.cache_size, 1024);
    assert_int_equal(c->max_head, 16384);
    assert_int_equal(c->n_egresses, 0);
    assert_null(c->egresses);
    assert_int_equal(c->n_rules, 0);
    assert_null(c->rules);
    assert_false(c->has_rules);
    assert_false(c->gateway.enabled);
    assert_false(c->agent.enabled);
    assert_int_equal(c->gateway.n_tokens, 0);
    assert_null(c->agent.token);
}

/* Texts that leave every default in place and have no listeners. */
static void test_defaults(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",
        "# nothing but a comment\n",
        "{}\n",
        "---\n{}\n...\n",
        "log: {}\ntimeouts: {}\ndns: {servers: []}\nlisteners: []\n",
    };
    struct conf *c = conf_new();
    assert_non_null(c);
    assert_defaults(c);
    assert_int_equal(c->n_listeners, 0);
    conf_free(c);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char err[256] = "";
        c = NULL;
        if (load(texts[i], &c, err, sizeof(err)) != 0)
            print_error("case %zu: %s\n", i, err);
        assert_non_null(c);
        assert_defaults(c);
        assert_int_equal(c->n_listeners, 0);
        conf_free(c);
    }
}

/* Scalars in other spellings that YAML allows. */
static void test_scalar_forms(void **state)
{
    (void)state;
    static const char yaml[] =
        "workers: \"2\"\n"
        "log: {level: 'warn'}\n"
        "timeouts: {connect: \"1h\", idle: 4294967ms}\n"
        "dns: {cache_size: 4294967295}\n"
        "listeners:\n"
        "  - {type: \"http\", listen: \"127.0.0.1:8080\", name: \"a b\"}\n";
    struct conf *c;
    char err[256] = "";
    assert_int_equal(load(yaml, &c, err, sizeof(err)), 0);
    assert_int_equal(c->workers, 2);
    assert_int_equal(c->log_level, CONF_LOG_WARN);
    assert_int_equal(c->timeouts.connect_ms, 3600000);
    assert_int_equal(c->timeouts.idle_ms, 4294967);
    assert_int_equal(c->dns.cache_size, UINT32_MAX);
    assert_string_equal(c->listeners[0].name, "a b");
    assert_string_equal(fmt_addr(&c->listeners[0].addr), "127.0.0.1:8080");
    conf_free(c);
}

/* ---- rules, egresses, limits ---------------------------------------- */

#define YESCRYPT                                                           \
    "$y$j9T$1j8JIDIOszaiiBi3aDFQ8/$5zTCHqIKZq7ORi8lUqvhzm7a4q7./rgb4RTNLVL8" \
    "Mq6"
#define SHA512CRYPT                                                        \
    "$6$LsdrSX3lWYUdvpDp$VXmTHY5xGVnMCG6h49E1YkJTAM/4uJzMuOao1itXfy/Eu.qIOy" \
    "HiDO6sv4.4y53p0kYllv425Jz18KOtph9QF1"

static const char policy_yaml[] =
    "limits:\n"
    "  max_head: 32k\n"
    "rules:                         # before the listeners it names\n"
    "  - action: deny\n"
    "    cidrs: [10.0.0.0/8, 'fd00::/8', 192.168.1.7, 0.0.0.0/0, '::/0',\n"
    "            '::ffff:172.16.0.0/108', '2001:db8::1', '1.2.3.4/32']\n"
    "  - action: allow\n"
    "    via: corp\n"
    "    domains: [Example.COM., '*.corp.example', a-b_c.d]\n"
    "    ports: [80, 443, '8000-9000', '1-65535']\n"
    "    users: [alice, '-']\n"
    "    listeners: [local, main]\n"
    "    protocol: tcp\n"
    "  - {action: allow, via: direct, protocol: udp}\n"
    "  - {action: allow, via: tor}\n"
    "  - action: deny\n"
    "listeners:\n"
    "  - name: main\n"
    "    type: socks\n"
    "    listen: 0.0.0.0:1080\n"
    "    udp_announce: 203.0.113.7\n"
    "    users:\n"
    "      - name: alice\n"
    "        password_hash: '" YESCRYPT "'\n"
    "      - {name: bob, password: x}\n"
    "      - {name: carol, password_hash: \"" SHA512CRYPT "\"}\n"
    "  - name: local\n"
    "    type: http\n"
    "    listen: :3128\n"
    "    udp_announce: '2001:db8::7'\n"
    "egresses:\n"
    "  - name: corp\n"
    "    type: http\n"
    "    address: proxy.corp:3128\n"
    "    user: bob\n"
    "    password: s3cret\n"
    "  - {name: tor, type: socks5, address: '[::1]:9050'}\n";

static const char *fmt_cidr(const struct pattern_cidr *c)
{
    static char buf[INET6_ADDRSTRLEN + 8];
    char ip[INET6_ADDRSTRLEN];
    assert_non_null(inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->bytes, ip,
                              sizeof(ip)));
    snprintf(buf, sizeof(buf), "%s/%u", ip, c->prefix);
    return buf;
}

static void check_policy_listeners(const struct conf *c)
{
    const struct conf_listener *l = &c->listeners[0];
    assert_int_equal(c->n_listeners, 2);
    assert_string_equal(fmt_addr(&l->udp_announce), "203.0.113.7:0");
    assert_int_equal(l->n_users, 3);
    assert_null(l->users[0].password);
    assert_string_equal(l->users[0].password_hash, YESCRYPT);
    assert_string_equal(l->users[1].password, "x");
    assert_null(l->users[1].password_hash);
    assert_string_equal(l->users[2].password_hash, SHA512CRYPT);
    assert_string_equal(fmt_addr(&c->listeners[1].udp_announce),
                        "[2001:db8::7]:0");
    assert_int_equal(l->via, CONF_VIA_DIRECT);
    assert_int_equal(c->listeners[1].via, CONF_VIA_DIRECT);
}

static void check_policy_egresses(const struct conf *c)
{
    char buf[ADDR_STRLEN + TARGET_HOST_MAX];
    const struct conf_egress *e = &c->egresses[0];
    assert_int_equal(c->n_egresses, 2);
    assert_string_equal(e->name, "corp");
    assert_int_equal(e->type, CONF_EGRESS_HTTP);
    assert_int_equal(e->server.kind, TARGET_NAME);
    assert_string_equal(target_format(&e->server, buf, sizeof(buf)),
                        "proxy.corp:3128");
    assert_string_equal(e->user, "bob");
    assert_string_equal(e->password, "s3cret");
    e = &c->egresses[1];
    assert_string_equal(e->name, "tor");
    assert_int_equal(e->type, CONF_EGRESS_SOCKS5);
    assert_int_equal(e->server.kind, TARGET_IP);
    assert_string_equal(fmt_addr(&e->server.ip), "[::1]:9050");
    assert_null(e->user);
    assert_null(e->password);
}

static void check_policy_rule0(const struct conf_rule *r)
{
    static const char *const want[] = {
        "10.0.0.0/8",  "fd00::/8",      "192.168.1.7/32", "0.0.0.0/0",
        "::/0",        "172.16.0.0/12", "2001:db8::1/128", "1.2.3.4/32",
    };
    assert_false(r->allow);
    assert_int_equal(r->egress, CONF_VIA_LISTENER);
    assert_int_equal(r->n_cidrs, 8);
    for (unsigned i = 0; i < 8; i++)
        assert_string_equal(fmt_cidr(&r->cidrs[i]), want[i]);
    assert_false(r->cidrs[0].v6);
    assert_true(r->cidrs[1].v6);
    assert_false(r->cidrs[5].v6); /* the mapped form is IPv4 */
    assert_int_equal(r->n_domains + r->n_ports + r->n_users +
                         r->n_listeners,
                     0);
    assert_int_equal(r->proto, CONF_PROTO_ANY);
}

static void check_policy_rule1(const struct conf_rule *r)
{
    assert_true(r->allow);
    assert_int_equal(r->egress, 0);
    assert_int_equal(r->n_cidrs, 0);
    assert_int_equal(r->n_domains, 3);
    assert_string_equal(r->domains[0].name, "example.com");
    assert_int_equal(r->domains[0].len, 11);
    assert_false(r->domains[0].suffix);
    assert_string_equal(r->domains[1].name, ".corp.example");
    assert_true(r->domains[1].suffix);
    assert_string_equal(r->domains[2].name, "a-b_c.d");
    assert_int_equal(r->n_ports, 4);
    assert_int_equal(r->ports[0].lo, 80);
    assert_int_equal(r->ports[0].hi, 80);
    assert_int_equal(r->ports[1].lo, 443);
    assert_int_equal(r->ports[2].lo, 8000);
    assert_int_equal(r->ports[2].hi, 9000);
    assert_int_equal(r->ports[3].lo, 1);
    assert_int_equal(r->ports[3].hi, 65535);
    assert_int_equal(r->n_users, 2);
    assert_string_equal(r->users[0], "alice");
    assert_string_equal(r->users[1], ""); /* "-": not authenticated */
    assert_int_equal(r->n_listeners, 2);
    assert_int_equal(r->listeners[0], 1);
    assert_int_equal(r->listeners[1], 0);
    assert_int_equal(r->proto, CONF_PROTO_TCP);
}

static void test_policy_config(void **state)
{
    (void)state;
    struct conf *c = NULL;
    char err[256] = "";
    int rc = load(policy_yaml, &c, err, sizeof(err));
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(c->max_head, 32 * 1024);
    check_policy_listeners(c);
    check_policy_egresses(c);
    assert_true(c->has_rules);
    assert_int_equal(c->n_rules, 5);
    check_policy_rule0(&c->rules[0]);
    check_policy_rule1(&c->rules[1]);
    assert_true(c->rules[2].allow);
    assert_int_equal(c->rules[2].egress, CONF_VIA_DIRECT);
    assert_int_equal(c->rules[2].proto, CONF_PROTO_UDP);
    assert_int_equal(c->rules[3].egress, 1);
    assert_int_equal(c->rules[3].proto, CONF_PROTO_ANY);
    assert_false(c->rules[4].allow);
    assert_int_equal(c->rules[4].n_cidrs + c->rules[4].n_domains +
                         c->rules[4].n_ports + c->rules[4].n_users +
                         c->rules[4].n_listeners,
                     0);
    conf_free(c);
}

/* "rules: []" is there (the guard is off) but has no rule. */
static void test_empty_rules(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        bool has_rules;
        uint32_t max_head;
    } cases[] = {
        {"rules: []\n", true, 16384},
        {"egresses: []\nlimits: {}\n", false, 16384},
        {"limits: {max_head: 1k}\n", false, 1024},
        {"limits: {max_head: 64k}\n", false, 65536},
        {"limits: {max_head: 2K}\n", false, 2048},
        {"limits: {max_head: 16384}\n", false, 16384},
        {"limits: {max_head: '01024'}\n", false, 1024},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct conf *c = NULL;
        char err[256] = "";
        if (load(cases[i].yaml, &c, err, sizeof(err)) != 0)
            print_error("case %zu: %s\n", i, err);
        assert_non_null(c);
        assert_int_equal(c->has_rules, cases[i].has_rules);
        assert_int_equal(c->n_rules, 0);
        assert_int_equal(c->n_egresses, 0);
        assert_int_equal(c->max_head, cases[i].max_head);
        conf_free(c);
    }
}

static void test_default_yaml(void **state)
{
    (void)state;
    struct conf *c = NULL;
    char err[256] = "";
    assert_int_equal(conf_load_string(conf_default_yaml,
                                      strlen(conf_default_yaml), "default",
                                      &c, err, sizeof(err)),
                     0);
    assert_defaults(c);
    assert_int_equal(c->n_listeners, 1);
    assert_string_equal(c->listeners[0].name, "default");
    assert_int_equal(c->listeners[0].type, CONF_LISTENER_MIXED);
    assert_string_equal(fmt_addr(&c->listeners[0].addr), "127.0.0.1:7890");
    assert_int_equal(c->listeners[0].n_users, 0);
    conf_free(c);
}

/* ---- tunnels: gateway:, agent:, tunnel egresses, via ---------------- */

#define FP_HEX                                                             \
    "00112233445566778899aabbccddeeff0123456789ABCDEFfedcba9876543210"

static const char tunnel_yaml[] =
    "egresses:\n"
    "  - {name: corp, type: socks5, address: '127.0.0.1:1080'}\n"
    "  - name: lan\n"
    "    type: tunnel\n"
    "    group: lab.2_a-b\n"
    "  - {name: home, type: tunnel}\n"
    "  - {name: any, type: tunnel, group: ''}\n"
    "listeners:\n"
    "  - {type: http, listen: '127.0.0.1:8080', via: lan}\n"
    "  - {type: socks, listen: ':1080', via: direct}\n"
    "  - {type: mixed, listen: ':7890', open: No}\n"
    "  - {type: mixed, listen: '0.0.0.0:7891', open: YES}\n"
    "rules:\n"
    "  - {action: allow, via: home}\n"
    "gateway:\n"
    "  listen: 0.0.0.0:8443\n"
    "  cert: /etc/ferry/gw.pem\n"
    "  key: /etc/ferry/gw.key\n"
    "  client_ca: /etc/ferry/ca.pem\n"
    "  websocket_path: /tunnel/v1\n"
    "  tokens:\n"
    "    - token: s3cret\n"
    "      groups: [lan, lab.2_a-b]\n"
    "    - token_hash: '" YESCRYPT "'\n"
    "  exit: true\n"
    "  balance: round_robin\n"
    "  ping: 5s\n"
    "  timeout: 1m\n"
    "  max_streams: 65536\n"
    "agent:\n"
    "  server: wss://[2001:db8::1]:443/t/x?v=1\n"
    "  token: \"agent token\"\n"
    "  id: box-1.lab_A\n"
    "  group: lab\n"
    "  links: 16\n"
    "  fingerprint: \"SHA256:" FP_HEX "\"\n"
    "  cert: c.pem\n"
    "  key: c.key\n"
    "  sni: gw.example.com\n"
    "  host: gw.example.com:443\n"
    "  proxy: corp\n"
    "  exit: off\n"
    "  backoff: {min: 100ms, max: 1m}\n"
    "  ping: 15s\n"
    "  timeout: 45s\n"
    "  max_streams: 1\n";

static void check_tunnel_egresses(const struct conf *c)
{
    assert_int_equal(c->n_egresses, 4);
    assert_int_equal(c->egresses[0].type, CONF_EGRESS_SOCKS5);
    assert_null(c->egresses[0].group);
    assert_int_equal(c->egresses[1].type, CONF_EGRESS_TUNNEL);
    assert_string_equal(c->egresses[1].group, "lab.2_a-b");
    assert_int_equal(c->egresses[1].server.kind, TARGET_NONE);
    assert_null(c->egresses[1].user);
    assert_string_equal(c->egresses[2].group, "");
    assert_string_equal(c->egresses[3].group, "");
    assert_int_equal(c->n_listeners, 4);
    assert_int_equal(c->listeners[0].via, 1);
    assert_int_equal(c->listeners[1].via, CONF_VIA_DIRECT);
    assert_int_equal(c->listeners[2].via, CONF_VIA_DIRECT);
    assert_false(c->listeners[2].open);
    assert_true(c->listeners[3].open);
    assert_int_equal(c->rules[0].egress, 2);
}

static void check_tunnel_gateway(const struct conf_gateway *g)
{
    assert_true(g->enabled);
    assert_string_equal(fmt_addr(&g->listen), "0.0.0.0:8443");
    assert_string_equal(g->cert, "/etc/ferry/gw.pem");
    assert_string_equal(g->key, "/etc/ferry/gw.key");
    assert_string_equal(g->client_ca, "/etc/ferry/ca.pem");
    assert_string_equal(g->ws_path, "/tunnel/v1");
    assert_int_equal(g->n_tokens, 2);
    assert_string_equal(g->tokens[0].token, "s3cret");
    assert_null(g->tokens[0].token_hash);
    assert_int_equal(g->tokens[0].n_groups, 2);
    assert_string_equal(g->tokens[0].groups[0], "lan");
    assert_string_equal(g->tokens[0].groups[1], "lab.2_a-b");
    assert_null(g->tokens[1].token);
    assert_string_equal(g->tokens[1].token_hash, YESCRYPT);
    assert_int_equal(g->tokens[1].n_groups, 0);
    assert_null(g->tokens[1].groups);
    assert_true(g->exit);
    assert_true(g->balance_rr);
    assert_int_equal(g->link.ping_ms, 5000);
    assert_int_equal(g->link.timeout_ms, 60000);
    assert_int_equal(g->link.max_streams, 65536);
    assert_int_equal(g->link.budget, 64 * 1024 * 1024);
}

static void check_tunnel_agent(const struct conf_agent *a)
{
    static const uint8_t fp[32] = {
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
        0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
        0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    char buf[ADDR_STRLEN + TARGET_HOST_MAX];
    assert_true(a->enabled);
    assert_int_equal(a->transport, CONF_TUN_WSS);
    assert_string_equal(target_format(&a->server, buf, sizeof(buf)),
                        "[2001:db8::1]:443");
    assert_string_equal(a->path, "/t/x?v=1");
    assert_string_equal(a->token, "agent token");
    assert_string_equal(a->id, "box-1.lab_A");
    assert_string_equal(a->group, "lab");
    assert_int_equal(a->links, 16);
    assert_null(a->ca);
    assert_true(a->pinned);
    assert_memory_equal(a->fingerprint, fp, 32);
    assert_false(a->insecure);
    assert_string_equal(a->cert, "c.pem");
    assert_string_equal(a->key, "c.key");
    assert_string_equal(a->sni, "gw.example.com");
    assert_string_equal(a->host, "gw.example.com:443");
    assert_int_equal(a->proxy, 0);
    assert_false(a->exit);
    assert_int_equal(a->backoff_min_ms, 100);
    assert_int_equal(a->backoff_max_ms, 60000);
    assert_int_equal(a->link.ping_ms, 15000);
    assert_int_equal(a->link.timeout_ms, 45000);
    assert_int_equal(a->link.max_streams, 1);
}

static void test_tunnel_config(void **state)
{
    (void)state;
    struct conf *c = NULL;
    char err[256] = "";
    int rc = load(tunnel_yaml, &c, err, sizeof(err));
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    check_tunnel_egresses(c);
    check_tunnel_gateway(&c->gateway);
    check_tunnel_agent(&c->agent);
    conf_free(c);
}

static void assert_tunnel_defaults(const struct conf *c)
{
    const struct conf_link *links[] = {&c->gateway.link, &c->agent.link};
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(links[i]->ping_ms, 10000);
        assert_int_equal(links[i]->timeout_ms, 30000);
        assert_int_equal(links[i]->max_streams, 4096);
        assert_int_equal(links[i]->budget, 64 * 1024 * 1024);
    }
    assert_string_equal(c->gateway.ws_path, "/ferry");
    assert_false(c->gateway.exit);
    assert_false(c->gateway.plaintext);
    assert_false(c->gateway.balance_rr);
    assert_null(c->gateway.cert);
    assert_null(c->gateway.client_ca);
    assert_string_equal(c->agent.path, "/ferry");
    assert_string_equal(c->agent.group, "default");
    assert_non_null(c->agent.id);
    assert_int_equal(c->agent.links, 1);
    assert_int_equal(c->agent.proxy, CONF_VIA_DIRECT);
    assert_true(c->agent.exit);
    assert_false(c->agent.pinned);
    assert_false(c->agent.insecure);
    assert_null(c->agent.ca);
    assert_null(c->agent.sni);
    assert_null(c->agent.host);
    assert_int_equal(c->agent.backoff_min_ms, 500);
    assert_int_equal(c->agent.backoff_max_ms, 30000);
}

/* The least a gateway and an agent need; the rest are defaults. */
static void test_tunnel_defaults(void **state)
{
    (void)state;
    static const char yaml[] = "gateway:\n"
                               "  listen: :8443\n"
                               "  tokens: [{token: s3cret}]\n"
                               "agent:\n"
                               "  server: tls://gw.example:8443\n"
                               "  token: s3cret\n";
    char host[256] = "";
    struct conf *c = conf_new();
    char err[256] = "";
    assert_non_null(c);
    assert_false(c->gateway.enabled);
    assert_false(c->agent.enabled);
    assert_tunnel_defaults(c);
    conf_free(c);
    assert_int_equal(load(yaml, &c, err, sizeof(err)), 0);
    assert_tunnel_defaults(c);
    assert_true(c->gateway.enabled);
    assert_string_equal(fmt_addr(&c->gateway.listen), "127.0.0.1:8443");
    assert_int_equal(c->gateway.n_tokens, 1);
    assert_true(c->agent.enabled);
    assert_int_equal(c->agent.transport, CONF_TUN_TLS);
    assert_int_equal(c->agent.server.kind, TARGET_NAME);
    assert_string_equal(c->agent.server.host, "gw.example");
    assert_int_equal(c->agent.server.port, 8443);
    assert_string_equal(c->agent.token, "s3cret");
    if (gethostname(host, sizeof(host) - 1) == 0 && host[0] &&
        strlen(host) <= 64 && !strpbrk(host, " /:"))
        assert_string_equal(c->agent.id, host);
    conf_free(c);
}

/* A gateway without TLS on a LAN address, chosen with plaintext: true. */
static void test_tunnel_plaintext(void **state)
{
    (void)state;
    static const char yaml[] = "gateway:\n"
                               "  listen: 10.1.2.3:8443\n"
                               "  plaintext: yes\n"
                               "  tokens: [{token: s3cret}]\n";
    struct conf *c = NULL;
    char err[256] = "";
    int rc = load(yaml, &c, err, sizeof(err));
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_true(c->gateway.plaintext);
    assert_null(c->gateway.cert);
    assert_string_equal(fmt_addr(&c->gateway.listen), "10.1.2.3:8443");
    conf_free(c);
}

/* Server URLs in YAML: transports, default and given WebSocket paths,
 * and the TLS keys each transport takes. */
static void test_tunnel_transports(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        enum conf_tunnel_transport tr;
        const char *server, *path;
    } cases[] = {
        {"agent: {server: 'ws://127.0.0.1:80', token: t, host: h}\n",
         CONF_TUN_WS, "127.0.0.1:80", "/ferry"},
        {"agent: {server: 'ws://gw:80/', token: t}\n", CONF_TUN_WS,
         "gw:80", "/"},
        {"agent: {server: 'tcp://[::1]:9', token: t}\n", CONF_TUN_TCP,
         "[::1]:9", "/ferry"},
        {"agent: {server: 'wss://gw:443', token: t, ca: ca.pem}\n",
         CONF_TUN_WSS, "gw:443", "/ferry"},
        {"agent: {server: 'tls://gw:443', token: t, insecure: true}\n",
         CONF_TUN_TLS, "gw:443", "/ferry"},
        {"agent: {server: 'tls://gw:443', token: t, insecure: false, "
         "ca: x}\n",
         CONF_TUN_TLS, "gw:443", "/ferry"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "", buf[ADDR_STRLEN + TARGET_HOST_MAX];
        struct conf *c = NULL;
        if (load(cases[i].yaml, &c, err, sizeof(err)) != 0)
            print_error("case %zu: %s\n", i, err);
        assert_non_null(c);
        assert_int_equal(c->agent.transport, cases[i].tr);
        assert_string_equal(target_format(&c->agent.server, buf,
                                          sizeof(buf)),
                            cases[i].server);
        assert_string_equal(c->agent.path, cases[i].path);
        conf_free(c);
    }
}

/* Load an agent whose token_file holds len bytes of text. */
static int load_token_file(const char *text, size_t len, struct conf **c,
                           char *err, size_t cap)
{
    char path[] = "/tmp/test_conf_token_XXXXXX", yaml[128];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    snprintf(yaml, sizeof(yaml),
             "agent:\n  server: tls://gw:1\n  token_file: %s\n", path);
    int rc = load(yaml, c, err, cap);
    unlink(path);
    return rc;
}

/* token_file: the first line, without "\n" or "\r\n". */
static void test_token_file(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        const char *token; /* NULL: refused, with word */
    } cases[] = {
        {"s3cret\n", 7, "s3cret"},
        {"s3cret", 6, "s3cret"},
        {"s3 cret\r\nsecond line\n", 21, "s3 cret"},
        {"\ns3cret\n", 8, NULL},
        {"\r\n", 2, NULL},
        {"s3c\0ret\n", 8, NULL},
        {"s3cret\x01\n", 8, NULL},
    };
    char big[258], err[512];
    struct conf *c;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_token_file(cases[i].text, cases[i].len, &c, err,
                                 sizeof(err));
        if (cases[i].token) {
            assert_int_equal(rc, 0);
            assert_string_equal(c->agent.token, cases[i].token);
            conf_free(c);
            continue;
        }
        assert_int_equal(rc, -EINVAL);
        assert_non_null(strstr(err, "t.yaml:3:15: the first line of "));
        assert_non_null(strstr(err, i < 5 ? "\" is empty"
                                          : "\" must be a token of 1 to "
                                            "255 printable bytes"));
        assert_null(strstr(err, "s3c"));
    }
    memset(big, 'x', sizeof(big));
    memcpy(big + 255, "\r\n", 2);
    assert_int_equal(load_token_file(big, 257, &c, err, sizeof(err)), 0);
    assert_int_equal(strlen(c->agent.token), 255);
    conf_free(c);
    assert_int_equal(load_token_file(big, 256, &c, err, sizeof(err)), 0);
    conf_free(c);
    assert_int_equal(load_token_file(big, 255 + 3, &c, err, sizeof(err)), 0);
    conf_free(c);
    memset(big, 'x', sizeof(big));
    assert_int_equal(load_token_file(big, 256, &c, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "must be a token"));
}

/* ---- tunnel helpers for the command line ---------------------------- */

static void test_tunnel_url(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        enum conf_tunnel_transport tr;
        const char *server, *path; /* path NULL: none */
    } good[] = {
        {"tls://gw.example.com:8443", CONF_TUN_TLS, "gw.example.com:8443",
         NULL},
        {"tcp://127.0.0.1:9", CONF_TUN_TCP, "127.0.0.1:9", NULL},
        {"wss://gw:443", CONF_TUN_WSS, "gw:443", "/ferry"},
        {"wss://[::1]:443/a/b", CONF_TUN_WSS, "[::1]:443", "/a/b"},
        {"ws://10.0.0.1:80/", CONF_TUN_WS, "10.0.0.1:80", "/"},
    };
    static const struct {
        const char *url, *err;
    } bad[] = {
        {"gw:443", "invalid gateway URL \"gw:443\" (use tls://, wss://, "
                   "tcp:// or ws:// and HOST:PORT)"},
        {"TLS://gw:443", "(use tls://, wss://"},
        {"tls://gw", "(use HOST:PORT or [IPv6]:PORT with a port 1-65535 "
                     "after the scheme)"},
        {"tls://", "(use HOST:PORT"},
        {"wss://:443", "(use HOST:PORT"},
        {"tls://gw:443/", "(only a ws:// or wss:// server has a path)"},
        {"tcp://gw:1/x", "(only a ws:// or wss:// server has a path)"},
        {"ws://gw:80/a\tb", "(the path must be printable"},
        {"tls://::1:443", "(use HOST:PORT"},
        {"tls://a:s3cret@gw:443",
         "invalid gateway URL \"***\" (no user@ part: the token has a key "
         "of its own)"},
    };
    struct target t;
    char err[256], buf[ADDR_STRLEN + TARGET_HOST_MAX];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        enum conf_tunnel_transport tr = CONF_TUN_WS;
        char *path = (char *)1;
        assert_int_equal(conf_parse_tunnel_url(good[i].url, &tr, &t, &path,
                                               err, sizeof(err)),
                         0);
        assert_int_equal(tr, good[i].tr);
        assert_string_equal(target_format(&t, buf, sizeof(buf)),
                            good[i].server);
        if (good[i].path)
            assert_string_equal(path, good[i].path);
        else
            assert_null(path);
        free(path);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *path = (char *)1;
        enum conf_tunnel_transport tr = CONF_TUN_WS;
        strcpy(err, "unset");
        assert_int_equal(conf_parse_tunnel_url(bad[i].url, &tr, &t, &path,
                                               err, sizeof(err)),
                         -EINVAL);
        if (!strstr(err, bad[i].err) || strstr(err, "s3cret"))
            fail_msg("bad URL %zu: \"%s\"", i, err);
        assert_ptr_equal(path, (char *)1);
        assert_int_equal(tr, CONF_TUN_WS);
    }
}

static void test_fingerprint(void **state)
{
    (void)state;
    static const char *const good[] = {
        FP_HEX,
        "sha256:" FP_HEX,
        "SHA256:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:01:23:45:67"
        ":89:AB:CD:EF:FE:DC:BA:98:76:54:32:10",
        "001122334455667788:99aabbccddeeff0123456789ABCDEFfedcba9876543210",
        "sha256 Fingerprint=00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "01:23:45:67:89:AB:CD:EF:FE:DC:BA:98:76:54:32:10",
        "SHA256 Fingerprint=" FP_HEX,
    };
    static const char *const bad[] = {
        "",
        "sha256:",
        "sha1:" FP_HEX,
        FP_HEX "00",
        FP_HEX ":",
        ":" FP_HEX,
        "0" FP_HEX,
        "00112233445566778899aabbccddeeff0123456789ABCDEFfedcba98765432",
        "0:0112233445566778899aabbccddeeff0123456789ABCDEFfedcba9876543210",
        "00::112233445566778899aabbccddeeff0123456789ABCDEFfedcba9876543210",
        "g0112233445566778899aabbccddeeff0123456789ABCDEFfedcba9876543210",
        " " FP_HEX,
        "sha256 Fingerprint:" FP_HEX,
        "sha256:sha256:" FP_HEX,
    };
    uint8_t out[32], want[32];
    assert_int_equal(conf_parse_fingerprint(good[0], want), 0);
    assert_int_equal(want[0], 0x00);
    assert_int_equal(want[1], 0x11);
    assert_int_equal(want[31], 0x10);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(out, 0xee, sizeof(out));
        assert_int_equal(conf_parse_fingerprint(good[i], out), 0);
        assert_memory_equal(out, want, 32);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(out, 0xee, sizeof(out));
        if (conf_parse_fingerprint(bad[i], out) != -EINVAL)
            fail_msg("bad fingerprint %zu taken", i);
        assert_int_equal(out[0], 0xee); /* untouched */
    }
}

static void test_add_tunnel_egress(void **state)
{
    (void)state;
    struct conf *c = NULL;
    char err[256] = "";
    assert_int_equal(load("egresses:\n  - {name: corp, type: http, "
                          "address: 'p:1'}\n",
                          &c, err, sizeof(err)),
                     0);
    assert_int_equal(conf_add_tunnel_egress(c, "lan", "lan"), 1);
    assert_int_equal(conf_add_tunnel_egress(c, "gw", NULL), 2);
    assert_int_equal(conf_add_tunnel_egress(c, "gw2", ""), 3);
    assert_int_equal(conf_add_tunnel_egress(c, "corp", "x"), -EEXIST);
    assert_int_equal(conf_add_tunnel_egress(c, "lan", "x"), -EEXIST);
    assert_int_equal(conf_add_tunnel_egress(c, "direct", "x"), -EINVAL);
    assert_int_equal(conf_add_tunnel_egress(c, "", "x"), -EINVAL);
    assert_int_equal(conf_add_tunnel_egress(c, "a\nb", "x"), -EINVAL);
    assert_int_equal(conf_add_tunnel_egress(c, "x", "a b"), -EINVAL);
    assert_int_equal(c->n_egresses, 4);
    assert_string_equal(c->egresses[0].name, "corp");
    assert_string_equal(c->egresses[1].name, "lan");
    assert_int_equal(c->egresses[1].type, CONF_EGRESS_TUNNEL);
    assert_string_equal(c->egresses[1].group, "lan");
    assert_string_equal(c->egresses[2].group, "");
    assert_string_equal(c->egresses[3].group, "");
    assert_null(c->egresses[3].user);
    assert_int_equal(c->egresses[3].server.kind, TARGET_NONE);
    conf_free(c);
}

static void test_add_gateway_token(void **state)
{
    (void)state;
    char big[257];
    struct conf *c = conf_new();
    assert_non_null(c);
    memset(big, 'x', sizeof(big) - 1);
    big[256] = '\0';
    assert_int_equal(conf_add_gateway_token(c, "s3cret"), 0);
    assert_int_equal(conf_add_gateway_token(c, big + 1), 0);
    assert_int_equal(conf_add_gateway_token(c, ""), -EINVAL);
    assert_int_equal(conf_add_gateway_token(c, big), -EINVAL);
    assert_int_equal(conf_add_gateway_token(c, "a\tb"), -EINVAL);
    assert_int_equal(c->gateway.n_tokens, 2);
    assert_string_equal(c->gateway.tokens[0].token, "s3cret");
    assert_null(c->gateway.tokens[0].token_hash);
    assert_int_equal(c->gateway.tokens[0].n_groups, 0);
    assert_int_equal(strlen(c->gateway.tokens[1].token), 255);
    conf_free(c);
}

static void test_set_string(void **state)
{
    (void)state;
    struct conf *c = conf_new();
    assert_non_null(c);
    assert_int_equal(conf_set_string(&c->agent.token, "s3cret"), 0);
    assert_string_equal(c->agent.token, "s3cret");
    assert_int_equal(conf_set_string(&c->agent.token, "other"), 0);
    assert_string_equal(c->agent.token, "other");
    assert_int_equal(conf_set_string(&c->agent.group, "lab"), 0);
    assert_string_equal(c->agent.group, "lab");
    assert_int_equal(conf_set_string(&c->agent.sni, NULL), 0);
    assert_null(c->agent.sni);
    assert_int_equal(conf_set_string(&c->agent.path, NULL), 0);
    assert_null(c->agent.path);
    conf_free(c);
}

/* ---- files ----------------------------------------------------------- */

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_conf_XXXXXX";
    static const char yaml[] = "listeners:\n  - type: http\n    lisen: x\n";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, sizeof(yaml) - 1),
                     (ssize_t)sizeof(yaml) - 1);
    close(fd);
    struct conf *c = (struct conf *)1;
    char err[512], want[512];
    assert_int_equal(conf_load_file(path, &c, err, sizeof(err)), -EINVAL);
    assert_null(c);
    snprintf(want, sizeof(want), "%s:3:5: unknown key \"lisen\"", path);
    assert_memory_equal(err, want, strlen(want));
    unlink(path);

    assert_int_equal(conf_load_file(path, &c, err, sizeof(err)), -ENOENT);
    assert_null(c);
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(conf_load_file("/", &c, err, sizeof(err)), -EISDIR);
    assert_string_equal(err, "/: Is a directory");
}

static void test_too_large(void **state)
{
    (void)state;
    size_t n = 1024 * 1024 + 1;
    char *big = malloc(n);
    struct conf *c;
    char err[128];
    assert_non_null(big);
    memset(big, '#', n);
    assert_int_equal(conf_load_string(big, n, "big.yaml", &c, err,
                                      sizeof(err)),
                     -EFBIG);
    assert_null(c);
    assert_string_equal(err, "big.yaml: larger than 1 MiB");
    free(big);
}

/* ---- listener URLs --------------------------------------------------- */

struct url_ok {
    const char *url;
    enum conf_listener_type type;
    const char *addr, *name, *user, *pass; /* user NULL: no users */
};

static const struct url_ok url_good[] = {
    {"mixed://127.0.0.1:7890", CONF_LISTENER_MIXED, "127.0.0.1:7890",
     "mixed@127.0.0.1:7890", NULL, NULL},
    {"socks5://user:pass@0.0.0.0:1080", CONF_LISTENER_SOCKS, "0.0.0.0:1080",
     "socks@0.0.0.0:1080", "user", "pass"},
    {"http://127.0.0.1:3128/", CONF_LISTENER_HTTP, "127.0.0.1:3128",
     "http@127.0.0.1:3128", NULL, NULL},
    {"socks://[::1]:1081", CONF_LISTENER_SOCKS, "[::1]:1081",
     "socks@[::1]:1081", NULL, NULL},
    {"socks4://:1082", CONF_LISTENER_SOCKS, "127.0.0.1:1082",
     "socks@:1082", NULL, NULL},
    {"socks4a://10.0.0.1:1083", CONF_LISTENER_SOCKS, "10.0.0.1:1083",
     "socks@10.0.0.1:1083", NULL, NULL},
    {"http://al%40ce:p%3As%2f@s@127.0.0.1:3129", CONF_LISTENER_HTTP,
     "127.0.0.1:3129", "http@127.0.0.1:3129", "al@ce", "p:s/@s"},
    {"mixed://a:%E2%82%AC@[::]:7891", CONF_LISTENER_MIXED, "[::]:7891",
     "mixed@[::]:7891", "a", "\xe2\x82\xac"},
    {"forward://0.0.0.0:2222/10.0.0.5:22", CONF_LISTENER_FORWARD,
     "0.0.0.0:2222", "forward@0.0.0.0:2222", NULL, NULL},
    {"tproxy://[::]:12345", CONF_LISTENER_TPROXY, "[::]:12345",
     "tproxy@[::]:12345", NULL, NULL},
    {"redirect://0.0.0.0:12346", CONF_LISTENER_REDIRECT, "0.0.0.0:12346",
     "redirect@0.0.0.0:12346", NULL, NULL},
};

/* A forward listener: its target, no guard, no "open" needed. */
static void test_forward_listener(void **state)
{
    (void)state;
    struct conf *c = NULL;
    char err[256] = "";
    int rc = load("listeners:\n"
                  "  - {type: forward, listen: '0.0.0.0:2222',\n"
                  "     target: 'git.corp.example:22'}\n"
                  "  - {type: forward, listen: ':2223', target: '[::1]:22'}\n",
                  &c, err, sizeof(err));
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(c->n_listeners, 2);
    const struct conf_listener *l = &c->listeners[0];
    assert_int_equal(l->type, CONF_LISTENER_FORWARD);
    assert_int_equal(l->target.kind, TARGET_NAME);
    assert_string_equal(l->target.host, "git.corp.example");
    assert_int_equal(l->target.port, 22);
    assert_false(conf_listener_exposed(l));
    assert_false(acl_guarded(c, l));
    l = &c->listeners[1];
    assert_int_equal(l->target.kind, TARGET_IP);
    assert_string_equal(l->target.host, "::1");
    assert_string_equal(conf_listener_type_name(l->type), "forward");
    assert_int_equal(conf_mark(c), 0); /* nothing intercepts */
    conf_free(c);
}

/* Intercepting listeners: no "open" needed, no guard, a default mark
 * unless mark: sets one. */
static void test_intercepting_listeners(void **state)
{
    (void)state;
    struct conf *c = NULL;
    char err[256] = "";
    int rc = load("listeners:\n"
                  "  - {type: tproxy, listen: '[::]:12345', via: t}\n"
                  "  - {type: redirect, listen: '0.0.0.0:12346'}\n"
                  "egresses:\n  - {name: t, type: tunnel}\n",
                  &c, err, sizeof(err));
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(c->listeners[0].type, CONF_LISTENER_TPROXY);
    assert_int_equal(c->listeners[1].type, CONF_LISTENER_REDIRECT);
    for (unsigned i = 0; i < 2; i++) {
        assert_false(conf_listener_is_proxy(&c->listeners[i]));
        assert_false(conf_listener_exposed(&c->listeners[i]));
        assert_false(acl_guarded(c, &c->listeners[i]));
    }
    assert_int_equal(conf_mark(c), CONF_MARK_DEFAULT);
    conf_free(c);
    rc = load("mark: 0x2a\nlisteners:\n"
              "  - {type: tproxy, listen: '[::]:12345'}\n",
              &c, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(conf_mark(c), 42);
    conf_free(c);
}

static void test_url_good(void **state)
{
    (void)state;
    struct conf *c = conf_new();
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(url_good) / sizeof(url_good[0]); i++) {
        const struct url_ok *u = &url_good[i];
        char err[256] = "";
        int rc = conf_add_listener_url(c, u->url, err, sizeof(err));
        if (rc != 0)
            print_error("case %zu: %s\n", i, err);
        assert_int_equal(rc, 0);
        assert_int_equal(c->n_listeners, i + 1);
        const struct conf_listener *l = &c->listeners[i];
        assert_int_equal(l->type, u->type);
        assert_string_equal(fmt_addr(&l->addr), u->addr);
        assert_string_equal(l->name, u->name);
        assert_int_equal(l->via, CONF_VIA_DIRECT);
        assert_int_equal(l->n_users, u->user ? 1 : 0);
        if (u->user) {
            assert_string_equal(l->users[0].name, u->user);
            assert_string_equal(l->users[0].password, u->pass);
        }
    }
    conf_free(c);
}

struct url_bad {
    const char *url;
    const char *err; /* the exact message */
};

static const struct url_bad url_bad[] = {
    {"127.0.0.1:7890",
     "invalid listener URL: no scheme (e.g. mixed://127.0.0.1:7890)"},
    {"ftp://1.2.3.4:21",
     "invalid listener URL \"ftp://1.2.3.4:21\": unknown scheme (use "
     "mixed, http, socks, socks5, socks4, socks4a, forward, tproxy or "
     "redirect)"},
    {"mixed://localhost:7890",
     "invalid listener URL \"mixed://localhost:7890\": the host must be a "
     "numeric IP address, not a name"},
    {"mixed://1.2.3.4",
     "invalid listener URL \"mixed://1.2.3.4\": it needs a port: IP:PORT "
     "or :PORT"},
    {"mixed://", "invalid listener URL \"mixed://\": it needs a port: "
                 "IP:PORT or :PORT"},
    {"socks5://alice:s3cret@1.2.3.4:0",
     "invalid listener URL \"socks5://***@1.2.3.4:0\": use IP:PORT, "
     "[IPv6]:PORT or :PORT with a port 1-65535"},
    {"socks5://alice:s%zzcret@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": bad %-escape in "
     "the user or password"},
    {"socks5://alice:s3cret%@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": bad %-escape in "
     "the user or password"},
    {"socks5://alice:s3%00cret@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": bad %-escape in "
     "the user or password"},
    {"socks5://alice@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": give "
     "user:password@, not only a user"},
    {"socks5://:s3cret@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": the user name must "
     "be non-empty, printable and without ':'"},
    {"socks5://a%3Ab:s3cret@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": the user name must "
     "be non-empty, printable and without ':'"},
    {"socks5://-:s3cret@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": the user name "
     "\"-\" is reserved (in rules it means no user)"},
    {"socks5://alice:@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": empty password"},
    {"forward://127.0.0.1:2222",
     "invalid listener URL \"forward://127.0.0.1:2222\": a forward "
     "listener needs its target: forward://HOST:PORT/TARGET:PORT"},
    {"forward://127.0.0.1:2222/",
     "invalid listener URL \"forward://127.0.0.1:2222\": a forward "
     "listener needs its target: forward://HOST:PORT/TARGET:PORT"},
    {"forward://a:s3cret@127.0.0.1:2222/h:22",
     "invalid listener URL \"forward://***@127.0.0.1:2222/h:22\": only "
     "proxy listeners take a user"},
    {"tproxy://a:s3cret@[::]:12345",
     "invalid listener URL \"tproxy://***@[::]:12345\": only proxy "
     "listeners take a user"},
    {"forward://127.0.0.1:2222/h",
     "invalid listener URL \"forward://127.0.0.1:2222/h\": use HOST:PORT "
     "or [IPv6]:PORT with a port 1-65535"},
    {"forward://127.0.0.1:2222/h:22/x",
     "invalid listener URL \"forward://127.0.0.1:2222/h:22/x\": only "
     "scheme://[user:pass@]host:port is allowed"},
    {"http://1.2.3.4:80/path",
     "invalid listener URL \"http://1.2.3.4:80/path\": only "
     "scheme://[user:pass@]host:port is allowed"},
    {"http://1.2.3.4:80?x",
     "invalid listener URL \"http://1.2.3.4:80?x\": only "
     "scheme://[user:pass@]host:port is allowed"},
    {"mixed://127.0.0.1:7000",
     "invalid listener URL \"mixed://127.0.0.1:7000\": a listener has "
     "this address already"},
    {"http://:7000",
     "invalid listener URL \"http://:7000\": a listener has this address "
     "already"},
};

static void test_url_bad(void **state)
{
    (void)state;
    struct conf *c = conf_new();
    char err[512];
    assert_non_null(c);
    assert_int_equal(conf_add_listener_url(c, "mixed://127.0.0.1:7000", err,
                                           sizeof(err)),
                     0);
    int missed = 0;
    for (size_t i = 0; i < sizeof(url_bad) / sizeof(url_bad[0]); i++) {
        strcpy(err, "unset");
        int rc = conf_add_listener_url(c, url_bad[i].url, err, sizeof(err));
        if (rc == -EINVAL && strcmp(err, url_bad[i].err) == 0 &&
            !strstr(err, "s3cret") && c->n_listeners == 1)
            continue;
        print_error("bad URL %zu: rc %d err \"%s\"\n", i, rc, err);
        missed++;
    }
    assert_int_equal(missed, 0);
    conf_free(c);
}

/* ---- DNS servers ----------------------------------------------------- */

static void test_dns_servers(void **state)
{
    (void)state;
    static const char *const good[][2] = {
        {"1.1.1.1", "1.1.1.1:53"},     {"9.9.9.9:5353", "9.9.9.9:5353"},
        {"::1", "[::1]:53"},           {"[2001:db8::1]:54", "[2001:db8::1]:54"},
        {"[fe80::1]", "[fe80::1]:53"},
    };
    static const char *const bad[] = {
        "", "dns.google", "dns.google:53", "1.1.1.1:0", "1.1.1.1:x",
        "[1.1.1.1]:53", "1.1.1.1:53:53",
    };
    struct conf *c = conf_new();
    char err[256];
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(conf_add_dns_server(c, good[i][0], err,
                                             sizeof(err)),
                         0);
        assert_int_equal(c->dns.n_servers, i + 1);
        assert_string_equal(fmt_addr(&c->dns.servers[i]), good[i][1]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[128];
        assert_int_equal(conf_add_dns_server(c, bad[i], err, sizeof(err)),
                         -EINVAL);
        snprintf(want, sizeof(want), "invalid DNS server \"%s\" (", bad[i]);
        assert_memory_equal(err, want, strlen(want));
    }
    assert_int_equal(c->dns.n_servers, 5);
    conf_free(c);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(conf_listener_type_name(CONF_LISTENER_HTTP), "http");
    assert_string_equal(conf_listener_type_name(CONF_LISTENER_SOCKS),
                        "socks");
    assert_string_equal(conf_listener_type_name(CONF_LISTENER_MIXED),
                        "mixed");
    conf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_bad_policy_configs),
        cmocka_unit_test(test_bad_tunnel_configs),
        cmocka_unit_test(test_bad_config_hides_password),
        cmocka_unit_test(test_short_err_buffer),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_scalar_forms),
        cmocka_unit_test(test_default_yaml),
        cmocka_unit_test(test_policy_config),
        cmocka_unit_test(test_empty_rules),
        cmocka_unit_test(test_tunnel_config),
        cmocka_unit_test(test_tunnel_defaults),
        cmocka_unit_test(test_tunnel_plaintext),
        cmocka_unit_test(test_tunnel_transports),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_tunnel_url),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_add_tunnel_egress),
        cmocka_unit_test(test_add_gateway_token),
        cmocka_unit_test(test_set_string),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_forward_listener),
        cmocka_unit_test(test_intercepting_listeners),
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_dns_servers),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
