/* test_conf: table tests for conf/conf.c (and through it yamlpos, cyerr
 * and listenurl).
 *
 * Every YAML text is loaded from a copy that ends right before an
 * unmapped page, with no NUL after it, so a read past len faults.  Bad
 * configs pin the exact "NAME:LINE:COL: " and a word of the reason. */
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
     "listen, users, open)"},
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
     "t.yaml:5:9: ", "missing key \"password\" in user"},
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

/* Every case runs and each miss is printed; then the test fails. */
static void test_bad_configs(void **state)
{
    (void)state;
    int missed = 0;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad *b = &bad_cases[i];
        struct conf *c = (struct conf *)1;
        char err[512] = "";
        int rc = load(b->yaml, &c, err, sizeof(err));
        if (rc == 0)
            conf_free(c);
        if (rc == -EINVAL && !c &&
            strncmp(err, b->prefix, strlen(b->prefix)) == 0 &&
            strstr(err, b->word) && !strchr(err, '\n'))
            continue;
        print_error("bad case %zu: rc %d err \"%s\"\n", i, rc, err);
        missed++;
    }
    assert_int_equal(missed, 0);
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
                             "(expected one of: name, password)");
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
};

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
     "mixed, http, socks, socks5, socks4 or socks4a)"},
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
    {"socks5://alice:@1.2.3.4:1",
     "invalid listener URL \"socks5://***@1.2.3.4:1\": empty password"},
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
        cmocka_unit_test(test_bad_config_hides_password),
        cmocka_unit_test(test_short_err_buffer),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_scalar_forms),
        cmocka_unit_test(test_default_yaml),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_dns_servers),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
