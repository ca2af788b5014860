/* test_http1: table tests for proto/http1.c.
 *
 * Heads are parsed from a copy that ends right before an unmapped page, so
 * a read past len faults even without ASan; every strict prefix of a valid
 * head must give -EAGAIN. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/http1.h"

#define S(s) (s), sizeof(s) - 1

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
    g->maplen = (pages + 1) * pg;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + pages * pg, pg, PROT_NONE), 0);
    g->p = g->map + pages * pg - len;
    if (len > 0)
        memcpy(g->p, data, len);
}

static void guard_free(struct guard *g)
{
    assert_int_equal(munmap(g->map, g->maplen), 0);
}

/* Parse a guarded copy; slices in *h point into g, so the caller frees. */
static int parse_in(struct guard *g, const char *in, size_t len,
                    struct http1_request_head *h)
{
    guard_put(g, in, len);
    return http1_parse_request_head(g->p, len, h);
}

static int parse_guarded(const char *in, size_t len)
{
    struct guard g;
    struct http1_request_head h;
    int rc = parse_in(&g, in, len, &h);
    guard_free(&g);
    return rc;
}

static void check_prefixes(const char *in, size_t head)
{
    for (size_t k = 0; k < head; k++) {
        int rc = parse_guarded(in, k);
        if (rc != -EAGAIN)
            fail_msg("prefix %zu of %zu: got %d, want -EAGAIN", k, head, rc);
    }
}

static void assert_slice(struct http1_slice s, const char *want)
{
    if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
        fail_msg("slice \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
}

/* ---- request heads --------------------------------------------------- */

struct head_case {
    const char *name;
    const char *in;
    size_t len;
    size_t tail; /* bytes after the head: rc = len - tail */
    const char *method, *target;
    bool is_connect;
    uint8_t minor;
    size_t nheaders;
};

static const struct head_case head_cases[] = {
    {"connect", S("CONNECT example.com:443 HTTP/1.1\r\n"
                  "Host: example.com:443\r\n\r\n"),
     0, "CONNECT", "example.com:443", true, 1, 1},
    {"connect v6 with auth", S("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
                               "Host: [2001:db8::1]:443\r\n"
                               "Proxy-Authorization: Basic dTpw\r\n\r\n"),
     0, "CONNECT", "[2001:db8::1]:443", true, 1, 2},
    {"connect 1.0, tunnel bytes left", S("CONNECT a:1 HTTP/1.0\r\n\r\n"
                                         "\x16\x03\x01\x02\x00"),
     5, "CONNECT", "a:1", true, 0, 0},
    {"absolute-form get", S("GET http://example.com/a?b=c HTTP/1.1\r\n"
                            "Host: example.com\r\nAccept: */*\r\n\r\n"),
     0, "GET", "http://example.com/a?b=c", false, 1, 2},
    {"post, body left", S("POST http://x/f HTTP/1.1\r\n"
                          "Content-Length: 5\r\n\r\nhello"),
     5, "POST", "http://x/f", false, 1, 1},
    {"pipelined, second left", S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                                 "GET / HTTP/1.1\r\n\r\n"),
     18, "GET", "/", false, 1, 1},
    {"leading empty line", S("\r\nGET / HTTP/1.1\r\n\r\n"), 0, "GET", "/",
     false, 1, 0},
    {"options asterisk", S("OPTIONS * HTTP/1.1\r\n\r\n"), 0, "OPTIONS", "*",
     false, 1, 0},
    {"obs-text value", S("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n"), 0,
     "GET", "/", false, 1, 1},
};

static void test_head_valid(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(head_cases) / sizeof(*head_cases); i++) {
        const struct head_case *c = &head_cases[i];
        struct guard g;
        struct http1_request_head h;
        print_message("head: %s\n", c->name);
        int rc = parse_in(&g, c->in, c->len, &h);
        assert_int_equal(rc, (int)(c->len - c->tail));
        assert_slice(h.method, c->method);
        assert_slice(h.target, c->target);
        assert_int_equal(h.is_connect, c->is_connect);
        assert_int_equal(h.major, 1);
        assert_int_equal(h.minor, c->minor);
        assert_int_equal(h.nheaders, c->nheaders);
        guard_free(&g);
        check_prefixes(c->in, (size_t)rc);
    }
}

struct bad_case {
    const char *name;
    const char *in;
    size_t len;
    int rc;
};

static const struct bad_case bad_cases[] = {
    {"bare CR in value", S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), -EBADMSG},
    {"CR CR LF", S("GET / HTTP/1.1\r\nX: a\r\r\n\r\n"), -EBADMSG},
    {"bare LF lines", S("GET / HTTP/1.1\nHost: a\n\n"), -EBADMSG},
    {"bare LF after request line", S("GET / HTTP/1.1\nHost: a\r\n\r\n"),
     -EBADMSG},
    {"obs-fold space", S("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), -EBADMSG},
    {"obs-fold tab", S("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"), -EBADMSG},
    {"first header folded", S("GET / HTTP/1.1\r\n X: a\r\n\r\n"), -EBADMSG},
    {"NUL in value", S("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), -EBADMSG},
    {"SOH in value", S("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"), -EBADMSG},
    {"DEL in value", S("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"), -EBADMSG},
    {"NUL in target", S("GET /\0 HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"space before colon", S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
     -EBADMSG},
    {"no colon", S("GET / HTTP/1.1\r\nHost\r\n\r\n"), -EBADMSG},
    {"empty field name", S("GET / HTTP/1.1\r\n: a\r\n\r\n"), -EBADMSG},
    {"non-token name", S("GET / HTTP/1.1\r\nX(y): a\r\n\r\n"), -EBADMSG},
    {"HTTP/2.0", S("GET / HTTP/2.0\r\n\r\n"), -EBADMSG},
    {"HTTP/1.2", S("GET / HTTP/1.2\r\n\r\n"), -EBADMSG},
    {"HTTP/0.9", S("GET /\r\n\r\n"), -EBADMSG},
    {"PRI preface", S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), -EBADMSG},
    {"empty method", S(" / HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"unknown method", S("FOO / HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"lowercase method", S("get / HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"two spaces", S("GET  / HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"space in target", S("GET /a b HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"non-ASCII target", S("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"trailing space after version", S("GET / HTTP/1.1 \r\n\r\n"),
     -EBADMSG},
    {"status line", S("HTTP/1.1 200 OK\r\n\r\n"), -EBADMSG},
    {"TLS hello", S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
     -EBADMSG},
    {"two content-lengths", S("POST / HTTP/1.1\r\nContent-Length: 1\r\n"
                              "Content-Length: 2\r\n\r\n"),
     -EBADMSG},
};

static void test_head_malformed(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        print_message("bad head: %s\n", c->name);
        assert_int_equal(parse_guarded(c->in, c->len), c->rc);
    }
}

static void test_head_values_trimmed(void **st)
{
    (void)st;
    static const char in[] = "GET / HTTP/1.1\r\n"
                             "X-A:   a b \t\r\n"
                             "x-empty:\r\n"
                             "X-Tab:\tv\t\r\n"
                             "X-Spaces:    \r\n\r\n";
    struct guard g;
    struct http1_request_head h;
    assert_int_equal(parse_in(&g, S(in), &h), (int)sizeof(in) - 1);
    assert_int_equal(h.nheaders, 4);
    assert_slice(h.headers[0].name, "X-A");
    assert_slice(h.headers[0].value, "a b");
    assert_slice(h.headers[1].name, "x-empty");
    assert_slice(h.headers[1].value, "");
    assert_slice(h.headers[2].value, "v");
    assert_slice(h.headers[3].value, "");
    guard_free(&g);
}

/* A head with n "Xn: v" fields; complete when end is true. */
static size_t build_fields(char *out, size_t cap, int n, bool end)
{
    size_t len = (size_t)snprintf(out, cap, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "X%d: v\r\n", i);
    if (end)
        len += (size_t)snprintf(out + len, cap - len, "\r\n");
    assert_true(len < cap);
    return len;
}

static void test_head_too_many_headers(void **st)
{
    (void)st;
    char in[4096];
    size_t len = build_fields(in, sizeof(in), HTTP1_MAX_HEADERS, true);
    struct guard g;
    struct http1_request_head h;
    assert_int_equal(parse_in(&g, in, len, &h), (int)len);
    assert_int_equal(h.nheaders, HTTP1_MAX_HEADERS);
    assert_slice(h.headers[HTTP1_MAX_HEADERS - 1].name, "X63");
    guard_free(&g);
    len = build_fields(in, sizeof(in), HTTP1_MAX_HEADERS + 1, true);
    assert_int_equal(parse_guarded(in, len), -E2BIG);
    /* known as soon as field 65 is seen, before the head ends */
    len = build_fields(in, sizeof(in), HTTP1_MAX_HEADERS + 1, false);
    assert_int_equal(parse_guarded(in, len), -E2BIG);
}

static void test_find_header(void **st)
{
    (void)st;
    static const char in[] = "CONNECT a:1 HTTP/1.1\r\n"
                             "Host: a:1\r\n"
                             "proxy-AUTHORIZATION: Basic dTpw\r\n"
                             "X-Dup: 1\r\nX-Dup: 2\r\n\r\n";
    struct guard g;
    struct http1_request_head h;
    assert_int_equal(parse_in(&g, S(in), &h), (int)sizeof(in) - 1);
    const struct http1_header *f = http1_find_header(&h, "HOST");
    assert_non_null(f);
    assert_slice(f->value, "a:1");
    f = http1_find_header(&h, "Proxy-Authorization");
    assert_non_null(f);
    assert_slice(f->value, "Basic dTpw");
    f = http1_find_header(&h, "x-dup");
    assert_non_null(f);
    assert_slice(f->value, "1");
    assert_null(http1_find_header(&h, "Hos"));
    assert_null(http1_find_header(&h, "Hostx"));
    assert_null(http1_find_header(&h, ""));
    guard_free(&g);
}

/* ---- response heads -------------------------------------------------- */

static int parse_resp_in(struct guard *g, const char *in, size_t len,
                         struct http1_response_head *h)
{
    guard_put(g, in, len);
    return http1_parse_response_head(g->p, len, h);
}

static int parse_resp_guarded(const char *in, size_t len)
{
    struct guard g;
    struct http1_response_head h;
    int rc = parse_resp_in(&g, in, len, &h);
    guard_free(&g);
    return rc;
}

static void check_resp_prefixes(const char *in, size_t head)
{
    for (size_t k = 0; k < head; k++) {
        int rc = parse_resp_guarded(in, k);
        if (rc != -EAGAIN)
            fail_msg("prefix %zu of %zu: got %d, want -EAGAIN", k, head, rc);
    }
}

struct resp_case {
    const char *name;
    const char *in;
    size_t len;
    size_t tail; /* bytes after the head: rc = len - tail */
    int status;
    const char *reason;
    uint8_t minor;
    size_t nheaders;
};

static const struct resp_case resp_cases[] = {
    {"connect established",
     S("HTTP/1.1 200 Connection established\r\n\r\n"), 0, 200,
     "Connection established", 1, 0},
    {"squid style", S("HTTP/1.1 200 Connection established\r\n"
                      "Via: 1.1 sq (squid/5.7)\r\n\r\n"),
     0, 200, "Connection established", 1, 1},
    {"1.0, tunnel bytes left", S("HTTP/1.0 200 OK\r\n\r\nSSH-2.0-x\r\n"),
     11, 200, "OK", 0, 0},
    {"no reason", S("HTTP/1.1 200\r\n\r\n"), 0, 200, "", 1, 0},
    {"empty reason", S("HTTP/1.1 204 \r\n\r\n"), 0, 204, "", 1, 0},
    {"reason with space and tab", S("HTTP/1.1 502 Bad\tGate way\r\n\r\n"),
     0, 502, "Bad\tGate way", 1, 0},
    {"obs-text reason", S("HTTP/1.1 403 Interdit \xc3\xa0\r\n\r\n"), 0,
     403, "Interdit \xc3\xa0", 1, 0},
    {"407 with body left",
     S("HTTP/1.1 407 Proxy Authentication Required\r\n"
       "Proxy-Authenticate: Basic realm=\"sq\"\r\n"
       "Content-Length: 4\r\n\r\ndeny"),
     4, 407, "Proxy Authentication Required", 1, 2},
    {"interim, final left", S("HTTP/1.1 100 Continue\r\n\r\n"
                              "HTTP/1.1 200 OK\r\n\r\n"),
     19, 100, "Continue", 1, 0},
    {"leading empty line", S("\r\nHTTP/1.1 200 OK\r\n\r\n"), 0, 200, "OK",
     1, 0},
    {"status 999", S("HTTP/1.1 999 X\r\n\r\n"), 0, 999, "X", 1, 0},
};

static void test_resp_valid(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(resp_cases) / sizeof(*resp_cases); i++) {
        const struct resp_case *c = &resp_cases[i];
        struct guard g;
        struct http1_response_head h;
        print_message("response: %s\n", c->name);
        int rc = parse_resp_in(&g, c->in, c->len, &h);
        assert_int_equal(rc, (int)(c->len - c->tail));
        assert_int_equal(h.status, c->status);
        assert_slice(h.reason, c->reason);
        assert_int_equal(h.major, 1);
        assert_int_equal(h.minor, c->minor);
        assert_int_equal(h.nheaders, c->nheaders);
        guard_free(&g);
        check_resp_prefixes(c->in, (size_t)rc);
    }
}

static const struct bad_case bad_resp_cases[] = {
    {"request line", S("CONNECT a:1 HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"ssh banner", S("SSH-2.0-OpenSSH_9.2\r\n"), -EBADMSG},
    {"socks reply", S("\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"),
     -EBADMSG},
    {"lowercase version", S("http/1.1 200 OK\r\n\r\n"), -EBADMSG},
    {"HTTP/2", S("HTTP/2 200 OK\r\n\r\n"), -EBADMSG},
    {"HTTP/2.0", S("HTTP/2.0 200 OK\r\n\r\n"), -EBADMSG},
    {"HTTP/1.2", S("HTTP/1.2 200 OK\r\n\r\n"), -EBADMSG},
    {"two-digit status", S("HTTP/1.1 20 OK\r\n\r\n"), -EBADMSG},
    {"four-digit status", S("HTTP/1.1 2000 OK\r\n\r\n"), -EBADMSG},
    {"status below 100", S("HTTP/1.1 099 OK\r\n\r\n"), -EBADMSG},
    {"status 000", S("HTTP/1.1 000 OK\r\n\r\n"), -EBADMSG},
    {"two spaces before status", S("HTTP/1.1  200 OK\r\n\r\n"), -EBADMSG},
    {"no space after status", S("HTTP/1.1 200OK\r\n\r\n"), -EBADMSG},
    {"no status", S("HTTP/1.1\r\n\r\n"), -EBADMSG},
    {"bare LF", S("HTTP/1.1 200 OK\nVia: x\n\n"), -EBADMSG},
    {"bare LF in status line", S("HTTP/1.1 200 OK\nVia: x\r\n\r\n"),
     -EBADMSG},
    {"bare CR in reason", S("HTTP/1.1 200 O\rK\r\n\r\n"), -EBADMSG},
    {"NUL in reason", S("HTTP/1.1 200 O\0K\r\n\r\n"), -EBADMSG},
    {"obs-fold", S("HTTP/1.1 200 OK\r\nVia: a\r\n b\r\n\r\n"), -EBADMSG},
    {"space before colon", S("HTTP/1.1 200 OK\r\nVia : a\r\n\r\n"),
     -EBADMSG},
    {"non-token name", S("HTTP/1.1 200 OK\r\nV(a): a\r\n\r\n"), -EBADMSG},
    {"two content-lengths", S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                              "Content-Length: 2\r\n\r\n"),
     -EBADMSG},
    {"chunked and content-length",
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
       "Content-Length: 2\r\n\r\n"),
     -EBADMSG},
};

static void test_resp_malformed(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(bad_resp_cases) / sizeof(*bad_resp_cases);
         i++) {
        const struct bad_case *c = &bad_resp_cases[i];
        print_message("bad response: %s\n", c->name);
        assert_int_equal(parse_resp_guarded(c->in, c->len), c->rc);
    }
}

static void test_resp_too_many_headers(void **st)
{
    (void)st;
    char in[4096];
    size_t len = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= HTTP1_MAX_HEADERS; i++)
        len += (size_t)snprintf(in + len, sizeof(in) - len, "X%d: v\r\n", i);
    assert_true(len + 2 < sizeof(in));
    /* known when field 65 is seen, end of head or not */
    assert_int_equal(parse_resp_guarded(in, len), -E2BIG);
    memcpy(in + len, "\r\n", 2);
    assert_int_equal(parse_resp_guarded(in, len + 2), -E2BIG);
}

static void test_resp_find_header(void **st)
{
    (void)st;
    static const char in[] = "HTTP/1.1 503 Service Unavailable\r\n"
                             "X-Squid-Error:  ERR_DNS_FAIL 0 \r\n"
                             "Via: 1.1 a\r\nvia: 1.1 b\r\n\r\n";
    struct guard g;
    struct http1_response_head h;
    assert_int_equal(parse_resp_in(&g, S(in), &h), (int)sizeof(in) - 1);
    const struct http1_header *f =
        http1_find_response_header(&h, "x-squid-error");
    assert_non_null(f);
    assert_slice(f->value, "ERR_DNS_FAIL 0");
    f = http1_find_response_header(&h, "VIA");
    assert_non_null(f);
    assert_slice(f->value, "1.1 a");
    assert_null(http1_find_response_header(&h, "Proxy-Authenticate"));
    guard_free(&g);
}

/* ---- authority-form -------------------------------------------------- */

struct auth_case {
    const char *in;
    int rc;
    enum target_kind kind;
    int family;
    const char *host;
    uint16_t port;
};

#define BADA(s) {s, -EINVAL, TARGET_NONE, 0, NULL, 0}

static const struct auth_case auth_cases[] = {
    {"example.com:443", 0, TARGET_NAME, 0, "example.com", 443},
    {"1.2.3.4:80", 0, TARGET_IP, AF_INET, "1.2.3.4", 80},
    {"[::1]:8443", 0, TARGET_IP, AF_INET6, "::1", 8443},
    {"[2001:db8::1]:443", 0, TARGET_IP, AF_INET6, "2001:db8::1", 443},
    {"a:1", 0, TARGET_NAME, 0, "a", 1},
    {"a:65535", 0, TARGET_NAME, 0, "a", 65535},
    BADA("example.com"),
    BADA("example.com:"),
    BADA("[::1]"),
    BADA("[::1]:"),
    BADA("example.com:0"),
    BADA("example.com:65536"),
    BADA("example.com:99999"),
    BADA("example.com:8a"),
    BADA("example.com:http"),
    BADA("example.com:-1"),
    BADA("example.com:+80"),
    BADA("::1:80"),
    BADA("[example.com]:80"),
    BADA("[::1]x:80"),
    BADA("[::1:80"),
    BADA("user@example.com:80"),
    BADA("exa mple.com:80"),
    BADA("example.com/x:80"),
    BADA(":80"),
    BADA(""),
};

static void test_authority(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(auth_cases) / sizeof(*auth_cases); i++) {
        const struct auth_case *c = &auth_cases[i];
        struct guard g;
        struct target t;
        print_message("authority: \"%s\"\n", c->in);
        guard_put(&g, c->in, strlen(c->in));
        int rc = http1_parse_authority(&t, g.p, strlen(c->in));
        guard_free(&g);
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_int_equal(t.kind, c->kind);
        assert_string_equal(t.host, c->host);
        assert_int_equal(t.port, c->port);
        if (c->kind == TARGET_IP)
            assert_int_equal(t.ip.u.sa.sa_family, c->family);
    }
}

/* ---- Basic credentials ----------------------------------------------- */

struct basic_case {
    const char *name;
    const char *in;
    int rc;
    const char *user, *pass;
};

#define BADB(name, s) {name, s, -EINVAL, NULL, NULL}

static const struct basic_case basic_cases[] = {
    {"user:pass", "Basic dXNlcjpwYXNz", 0, "user", "pass"},
    {"scheme any case", "bAsIc dXNlcjpwYXNz", 0, "user", "pass"},
    {"extra spaces", "Basic   dXNlcjpwYXNz  ", 0, "user", "pass"},
    {"no padding", "Basic YTpi", 0, "a", "b"},
    {"two padding", "Basic YWI6Yw==", 0, "ab", "c"},
    {"one padding, empty pass", "Basic dXNlcjo=", 0, "user", ""},
    {"empty user", "Basic OnB3", 0, "", "pw"},
    {"colon in pass", "Basic dTpwOnE=", 0, "u", "p:q"},
    BADB("no colon", "Basic dXNlcnBhc3M="),
    BADB("length not 4k", "Basic dXNlcjpwYXN"),
    BADB("bad char", "Basic dXNl*jpwYXNz"),
    BADB("pad in middle", "Basic dX=lcjpwYXNz"),
    BADB("three pads", "Basic YQ==="),
    BADB("only pads", "Basic ===="),
    BADB("space inside", "Basic dXNl cjpwYXNz"),
    BADB("empty credentials", "Basic "),
    BADB("empty credentials, spaces", "Basic    "),
    BADB("scheme only", "Basic"),
    BADB("no space", "BasicdXNlcjpwYXNz"),
    BADB("tab", "Basic\tdXNlcjpwYXNz"),
    BADB("bearer", "Bearer dXNlcjpwYXNz"),
    BADB("digest", "Digest username=\"u\""),
    BADB("empty", ""),
    BADB("NUL in user", "Basic YQA6Yg=="),
    BADB("DEL in user", "Basic dXN/ZXI6cA=="),
    BADB("LF in pass", "Basic dXNlcjpwYQpzcw=="),
};

static int basic_guarded(const char *in, size_t len, char *user, char *pass)
{
    struct guard g;
    guard_put(&g, in, len);
    int rc = http1_parse_basic(g.p, len, user, pass);
    guard_free(&g);
    return rc;
}

static void test_basic_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(basic_cases) / sizeof(*basic_cases); i++) {
        const struct basic_case *c = &basic_cases[i];
        char user[256], pass[256];
        print_message("basic: %s\n", c->name);
        int rc = basic_guarded(c->in, strlen(c->in), user, pass);
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_string_equal(user, c->user);
        assert_string_equal(pass, c->pass);
    }
}

/* "Basic " + base64 of ulen 'u', ':', plen 'p'. */
static size_t build_basic(char *out, size_t ulen, size_t plen)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[1024];
    size_t n = 0, len = 6;
    memset(raw, 'u', ulen);
    n = ulen;
    raw[n++] = ':';
    memset(raw + n, 'p', plen);
    n += plen;
    memcpy(out, "Basic ", 6);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = raw[i] << 16;
        v |= (i + 1 < n ? raw[i + 1] : 0) << 8;
        v |= i + 2 < n ? raw[i + 2] : 0;
        out[len++] = tbl[v >> 18];
        out[len++] = tbl[(v >> 12) & 63];
        out[len++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[len++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    return len;
}

static void test_basic_lengths(void **st)
{
    (void)st;
    char in[1500], user[256], pass[256];
    size_t len = build_basic(in, 255, 255);
    assert_int_equal(len, 6 + 684);
    assert_int_equal(basic_guarded(in, len, user, pass), 0);
    assert_int_equal(strlen(user), 255);
    assert_int_equal(strlen(pass), 255);
    assert_int_equal(pass[254], 'p');
    len = build_basic(in, 256, 1);
    assert_int_equal(basic_guarded(in, len, user, pass), -EINVAL);
    len = build_basic(in, 1, 256);
    assert_int_equal(basic_guarded(in, len, user, pass), -EINVAL);
    len = build_basic(in, 600, 300);
    assert_int_equal(basic_guarded(in, len, user, pass), -EINVAL);
}

/* ---- Basic credentials, encoding ------------------------------------- */

struct fbasic_case {
    const char *user, *pass;
    int rc;
    const char *want;
};

static const struct fbasic_case fbasic_cases[] = {
    {"user", "pass", 18, "Basic dXNlcjpwYXNz"},
    {"a", "b", 10, "Basic YTpi"},
    {"ab", "c", 14, "Basic YWI6Yw=="},
    {"user", "", 14, "Basic dXNlcjo="},
    {"", "pw", 10, "Basic OnB3"},
    {"u", "p:q", 14, "Basic dTpwOnE="},
    {"u", "p\xc3\xa9", 14, "Basic dTpww6k="},
    {"us:er", "p", -EINVAL, NULL},
    {"u\n", "p", -EINVAL, NULL},
    {"u", "p\r", -EINVAL, NULL},
    {"u", "p\x7f", -EINVAL, NULL},
    {"\t", "p", -EINVAL, NULL},
};

static void test_format_basic_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(fbasic_cases) / sizeof(*fbasic_cases);
         i++) {
        const struct fbasic_case *c = &fbasic_cases[i];
        char out[HTTP1_BASIC_MAX], user[256], pass[256];
        print_message("format basic: \"%s\"\n", c->want ? c->want : "bad");
        int rc = http1_format_basic(out, sizeof(out), c->user, c->pass);
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_string_equal(out, c->want);
        /* every smaller buffer is refused; the exact size works */
        for (size_t cap = 0; cap <= (size_t)rc; cap++)
            assert_int_equal(http1_format_basic(out, cap, c->user, c->pass),
                             -ENOSPC);
        assert_int_equal(http1_format_basic(out, (size_t)rc + 1, c->user,
                                            c->pass),
                         rc);
        /* and it reads back */
        assert_int_equal(basic_guarded(out, (size_t)rc, user, pass), 0);
        assert_string_equal(user, c->user);
        assert_string_equal(pass, c->pass);
    }
}

static void test_format_basic_lengths(void **st)
{
    (void)st;
    char u[300], p[300], out[HTTP1_BASIC_MAX], user[256], pass[256];
    memset(u, 'u', sizeof(u));
    memset(p, 'p', sizeof(p));
    u[255] = p[255] = '\0';
    int rc = http1_format_basic(out, sizeof(out), u, p);
    assert_int_equal(rc, HTTP1_BASIC_MAX - 1);
    assert_int_equal(basic_guarded(out, (size_t)rc, user, pass), 0);
    assert_string_equal(user, u);
    assert_string_equal(pass, p);
    u[255] = 'u';
    u[256] = '\0';
    assert_int_equal(http1_format_basic(out, sizeof(out), u, "p"), -EINVAL);
    u[255] = '\0';
    p[255] = 'p';
    p[299] = '\0';
    assert_int_equal(http1_format_basic(out, sizeof(out), u, p), -EINVAL);
}

/* ---- error responses ------------------------------------------------- */

static void check_format(int status, const char *reason, const char *text,
                         const char *detail, const char *realm,
                         const char *want)
{
    char out[1024];
    size_t n = strlen(want);
    for (size_t cap = 0; cap <= n; cap++)
        assert_int_equal(http1_format_error(out, cap, status, reason, text,
                                            detail, realm),
                         -ENOSPC);
    memset(out, 'Z', sizeof(out));
    assert_int_equal(http1_format_error(out, n + 1, status, reason, text,
                                        detail, realm),
                     (int)n);
    assert_string_equal(out, want);
}

static void test_format_407(void **st)
{
    (void)st;
    check_format(407, "Proxy Authentication Required",
                 "Proxy authentication required", NULL, "ferry",
                 "HTTP/1.1 407 Proxy Authentication Required\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 30\r\n"
                 "Connection: close\r\n"
                 "Proxy-Authenticate: Basic realm=\"ferry\"\r\n"
                 "\r\n"
                 "Proxy authentication required\n");
    check_format(407, "Proxy Authentication Required", "Auth", NULL,
                 "a\"b\\c\r\n",
                 "HTTP/1.1 407 Proxy Authentication Required\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 5\r\n"
                 "Connection: close\r\n"
                 "Proxy-Authenticate: Basic realm=\"a?b?c??\"\r\n"
                 "\r\n"
                 "Auth\n");
}

static void test_format_502_detail_escaped(void **st)
{
    (void)st;
    check_format(502, "Bad Gateway", "Cannot resolve host",
                 "bad\r\nhost\x01\xff", "ignored when not 407",
                 "HTTP/1.1 502 Bad Gateway\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 33\r\n"
                 "Connection: close\r\n"
                 "\r\n"
                 "Cannot resolve host: bad??host??\n");
}

static void test_format_detail_cut(void **st)
{
    (void)st;
    char detail[301], want[1024];
    memset(detail, 'd', 300);
    detail[300] = '\0';
    int n = snprintf(want, sizeof(want),
                     "HTTP/1.1 400 Bad Request\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: 206\r\n"
                     "Connection: close\r\n"
                     "\r\n"
                     "Bad: %.200s\n",
                     detail);
    assert_true(n > 0 && (size_t)n < sizeof(want));
    check_format(400, "Bad Request", "Bad", detail, NULL, want);
}

static void test_format_bad_status(void **st)
{
    (void)st;
    char out[512];
    assert_int_equal(http1_format_error(out, sizeof(out), 99, "X", "x",
                                        NULL, NULL),
                     -EINVAL);
    assert_int_equal(http1_format_error(out, sizeof(out), 1000, "X", "x",
                                        NULL, NULL),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_valid),
        cmocka_unit_test(test_head_malformed),
        cmocka_unit_test(test_head_values_trimmed),
        cmocka_unit_test(test_head_too_many_headers),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_resp_valid),
        cmocka_unit_test(test_resp_malformed),
        cmocka_unit_test(test_resp_too_many_headers),
        cmocka_unit_test(test_resp_find_header),
        cmocka_unit_test(test_authority),
        cmocka_unit_test(test_basic_table),
        cmocka_unit_test(test_basic_lengths),
        cmocka_unit_test(test_format_basic_table),
        cmocka_unit_test(test_format_basic_lengths),
        cmocka_unit_test(test_format_407),
        cmocka_unit_test(test_format_502_detail_escaped),
        cmocka_unit_test(test_format_detail_cut),
        cmocka_unit_test(test_format_bad_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
