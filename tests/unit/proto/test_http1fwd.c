/* test_http1fwd: table tests for proto/http1fwd.c (and the parts of
 * proto/http1.c in front of it).
 *
 * A request is parsed with http1_parse_request_head() and then judged by
 * http1fwd_check_request(), as the HTTP forwarder does; each row says at
 * which of the two steps it must stop and with what, and the status the
 * client then gets.  The head writers are checked against exact strings.
 *
 * Table loops report every mismatching row (print_error) and fail once at
 * the end, so one bug does not hide the rows after it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/result.h"
#include "proto/http1.h"
#include "proto/http1frame.h"
#include "proto/http1fwd.h"

#define S(s) (s), sizeof(s) - 1
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The status the forwarder answers for a head the parser refused
 * (front/http.c and front/httpfwd.c: -E2BIG -> 431, else 400). */
static int parse_status(int rc)
{
    return rc == -E2BIG ? result_http_status(RESULT_HEAD_TOO_LARGE)
                        : result_http_status(RESULT_BAD_REQUEST);
}

/* A heap copy of exactly len bytes: ASan sees any read past the end. */
static char *dup_exact(const char *in, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    memcpy(p, in, len);
    return p;
}

static bool slice_eq(struct http1_slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- which requests may be forwarded ---------------------------------- */

struct check_case {
    const char *name;
    const char *in;
    size_t len;
    int parse;        /* 0: parses; else the -errno the parser returns */
    enum result want; /* when it parses: http1fwd_check_request() */
    int status;       /* what the client is answered (200 = forwarded) */
};

#define OK_(name, in) {name, S(in), 0, RESULT_OK, 200}
#define PARSE(name, in, err, st) {name, S(in), err, RESULT_OK, st}
#define CHECK(name, in, res, st) {name, S(in), 0, res, st}

#define RQ "POST http://h.test/u HTTP/1.1\r\nHost: h.test\r\n"
#define GQ "GET http://h.test/ HTTP/1.1\r\nHost: h.test\r\n"

static const struct check_case check_cases[] = {
    /* well-formed: forwarded */
    OK_("plain GET", GQ "\r\n"),
    OK_("POST with Content-Length", RQ "Content-Length: 5\r\n\r\nhello"),
    OK_("Content-Length with leading zeros", RQ "Content-Length: 005\r\n\r\n"),
    OK_("Content-Length 0", RQ "Content-Length: 0\r\n\r\n"),
    OK_("chunked", RQ "Transfer-Encoding: chunked\r\n\r\n"),
    OK_("gzip, chunked", RQ "Transfer-Encoding: gzip, chunked\r\n\r\n"),
    OK_("Chunked (case)", RQ "Transfer-Encoding: Chunked\r\n\r\n"),
    OK_("HTTP/1.0 without Host", "GET http://h.test/ HTTP/1.0\r\n\r\n"),
    OK_("Host differs from URI (URI wins)",
        "GET http://h.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n"),
    OK_("upper-case scheme", "GET HTTP://h.test/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    OK_("@ in the path is not userinfo",
        "GET http://h.test/a@b HTTP/1.1\r\nHost: h.test\r\n\r\n"),
    OK_("IPv6 literal", "GET http://[::1]:8080/ HTTP/1.1\r\nHost: x\r\n\r\n"),

    /* RFC 9112 6.3 rule 3 / 11.2: both framings -> 400, never a guess */
    PARSE("CL then TE", RQ "Content-Length: 5\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n",
          -EBADMSG, 400),
    PARSE("TE then CL", RQ "Transfer-Encoding: chunked\r\n"
                           "Content-Length: 0\r\n\r\n",
          -EBADMSG, 400),
    /* rule 5: Content-Length must be one valid number */
    PARSE("duplicate CL, same value", RQ "Content-Length: 5\r\n"
                                         "Content-Length: 5\r\n\r\n",
          -EBADMSG, 400),
    PARSE("duplicate CL, different values", RQ "Content-Length: 5\r\n"
                                                "Content-Length: 6\r\n\r\n",
          -EBADMSG, 400),
    PARSE("CL list", RQ "Content-Length: 5, 5\r\n\r\n", -EBADMSG, 400),
    PARSE("CL with +", RQ "Content-Length: +5\r\n\r\n", -EBADMSG, 400),
    PARSE("CL negative", RQ "Content-Length: -1\r\n\r\n", -EBADMSG, 400),
    PARSE("CL with a space inside", RQ "Content-Length: 1 2\r\n\r\n",
          -EBADMSG, 400),
    PARSE("CL hex", RQ "Content-Length: 0x10\r\n\r\n", -EBADMSG, 400),
    PARSE("CL exponent", RQ "Content-Length: 1e3\r\n\r\n", -EBADMSG, 400),
    PARSE("CL over 2^64", RQ "Content-Length: 18446744073709551616\r\n\r\n",
          -EBADMSG, 400),
    CHECK("CL of 16 digits", RQ "Content-Length: 1000000000000000\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    PARSE("CL empty", RQ "Content-Length: \r\n\r\n", -EBADMSG, 400),
    /* rule 4: chunked must be the final coding of a request */
    PARSE("TE chunked, gzip", RQ "Transfer-Encoding: chunked, gzip\r\n\r\n",
          -EBADMSG, 400),
    CHECK("TE gzip only", RQ "Transfer-Encoding: gzip\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    PARSE("TE gzip, chunked, gzip",
          RQ "Transfer-Encoding: gzip, chunked, gzip\r\n\r\n", -EBADMSG,
          400),
    /* chunked applied twice (RFC 9112 6.1: MUST NOT): an origin that
     * decodes once or not at all would see another message boundary */
    PARSE("TE chunked, chunked",
          RQ "Transfer-Encoding: chunked, chunked\r\n\r\n", -EBADMSG, 400),
    /* RFC 9112 6.1: a coding we do not know -> 501 */
    CHECK("TE unknown coding only", RQ "Transfer-Encoding: x-custom\r\n\r\n",
          RESULT_NOT_IMPLEMENTED, 501),
    CHECK("TE identity (gone since RFC 7230)",
          RQ "Transfer-Encoding: identity\r\n\r\n", RESULT_NOT_IMPLEMENTED,
          501),
    CHECK("TE unknown coding then chunked",
          RQ "Transfer-Encoding: x-custom, chunked\r\n\r\n",
          RESULT_NOT_IMPLEMENTED, 501),
    CHECK("repeated Transfer-Encoding field",
          RQ "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 = faulty framing */
    CHECK("TE in HTTP/1.0", "POST http://h.test/ HTTP/1.0\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n",
          RESULT_BAD_REQUEST, 400),

    /* the head's syntax (RFC 9112 2.2, 5) */
    PARSE("obs-fold", GQ "X-A: a\r\n b\r\n\r\n", -EBADMSG, 400),
    PARSE("obs-fold of Transfer-Encoding",
          RQ "Transfer-Encoding:\r\n chunked\r\n\r\n", -EBADMSG, 400),
    PARSE("bare CR in a value", GQ "X-A: a\rb\r\n\r\n", -EBADMSG, 400),
    PARSE("bare CR ending a line", GQ "X-A: a\r\r\n\r\n", -EBADMSG, 400),
    PARSE("bare LF ending a line", GQ "X-A: a\n\r\n", -EBADMSG, 400),
    PARSE("bare LF head", "GET http://h.test/ HTTP/1.1\nHost: h.test\n\n",
          -EBADMSG, 400),
    PARSE("LF inside a value", GQ "X-A: a\nb: c\r\n\r\n", -EBADMSG, 400),
    PARSE("NUL in a value", GQ "X-A: a\0b\r\n\r\n", -EBADMSG, 400),
    PARSE("space before colon", GQ "Transfer-Encoding : chunked\r\n\r\n",
          -EBADMSG, 400),
    PARSE("tab before colon", RQ "Content-Length\t: 5\r\n\r\n", -EBADMSG,
          400),
    PARSE("invalid method token", "G@T http://h.test/ HTTP/1.1\r\n"
                                  "Host: h.test\r\n\r\n",
          -EBADMSG, 400),
    PARSE("HTTP/2.0", "GET http://h.test/ HTTP/2.0\r\nHost: h.test\r\n\r\n",
          -EBADMSG, 400),

    /* Host (RFC 9112 3.2) */
    CHECK("missing Host in 1.1", "GET http://h.test/ HTTP/1.1\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("repeated Host, same value", GQ "Host: h.test\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("repeated Host, other value", GQ "host: evil.test\r\n\r\n",
          RESULT_BAD_REQUEST, 400),

    /* the target */
    CHECK("userinfo", "GET http://u:p@h.test/ HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("user only", "GET http://u@h.test/ HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("https scheme", "GET https://h.test/ HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("ftp scheme", "GET ftp://h.test/f HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("origin-form", "GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("empty host", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("port 0", "GET http://h.test:0/ HTTP/1.1\r\nHost: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
    CHECK("port too large", "GET http://h.test:65536/ HTTP/1.1\r\n"
                            "Host: h\r\n\r\n",
          RESULT_BAD_REQUEST, 400),
};

/* More header fields than the parser holds: 431. */
static void test_check_too_many_fields(void **st)
{
    (void)st;
    char in[8192];
    size_t len = (size_t)snprintf(in, sizeof(in), "%s", GQ);
    for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
        len += (size_t)snprintf(in + len, sizeof(in) - len, "X-%d: v\r\n", i);
    len += (size_t)snprintf(in + len, sizeof(in) - len, "\r\n");
    assert_true(len < sizeof(in));
    char *p = dup_exact(in, len);
    struct http1_request_head h;
    int rc = http1_parse_request_head(p, len, &h);
    assert_int_equal(rc, -E2BIG);
    assert_int_equal(parse_status(rc), 431);
    free(p);
}

static void test_check_table(void **st)
{
    (void)st;
    int bad = 0;
    for (size_t i = 0; i < N(check_cases); i++) {
        const struct check_case *c = &check_cases[i];
        char *p = dup_exact(c->in, c->len);
        struct http1_request_head h;
        struct http1fwd_request r;
        const char *why = NULL;
        int rc = http1_parse_request_head(p, c->len, &h);
        int status;
        enum result res = RESULT_OK;
        if (rc < 0) {
            status = parse_status(rc);
        } else {
            res = http1fwd_check_request(&h, &r, &why);
            status = res == RESULT_OK ? 200 : result_http_status(res);
            /* The forwarder feeds an accepted head to the request
             * framer next; it must agree, or the client gets a 500. */
            if (res == RESULT_OK) {
                struct http1_framer f;
                http1_framer_init(&f, false);
                ssize_t n = http1_framer_feed(&f, p, (size_t)rc);
                if (n != rc) {
                    print_error("%s: check accepts it but the framer "
                                "took %zd of %d head bytes\n",
                                c->name, n, rc);
                    bad++;
                }
            }
            if (why == NULL || (res != RESULT_OK && why[0] == '\0')) {
                print_error("%s: no reason given (why=%p)\n", c->name,
                            (const void *)why);
                bad++;
            }
        }
        bool ok = c->parse ? rc == c->parse
                           : rc > 0 && res == c->want;
        if (!ok || status != c->status) {
            print_error("%s: parse=%d check=%s (%s) status=%d; want "
                        "parse=%s check=%s status=%d\n",
                        c->name, rc, rc < 0 ? "-" : result_word(res),
                        rc < 0 || !why ? "" : why, status,
                        c->parse == -EBADMSG ? "-EBADMSG"
                        : c->parse == -E2BIG ? "-E2BIG"
                                             : ">0",
                        c->parse ? "-" : result_word(c->want), c->status);
            bad++;
        }
        free(p);
    }
    assert_int_equal(bad, 0);
}

/* ---- what the check extracts ------------------------------------------ */

struct sem_case {
    const char *name;
    const char *in;
    size_t len;
    const char *host; /* origin.host */
    uint16_t port;
    enum target_kind kind;
    const char *authority, *path;
    bool chunked;
    uint64_t content_length;
    bool expect_continue, upgrade, keep_alive, idempotent, is_head;
    int max_forwards;
};

static const struct sem_case sem_cases[] = {
    {"GET", S("GET http://Example.COM/a?b#c HTTP/1.1\r\nHost: x\r\n\r\n"),
     "Example.COM", 80, TARGET_NAME, "Example.COM", "/a?b", false, 0, false,
     false, true, true, false, -1},
    {"port and IP", S("GET http://127.0.0.1:8080 HTTP/1.1\r\nHost: x\r\n\r\n"),
     "127.0.0.1", 8080, TARGET_IP, "127.0.0.1:8080", "", false, 0, false,
     false, true, true, false, -1},
    {"IPv6", S("GET http://[::1]:81/ HTTP/1.1\r\nHost: x\r\n\r\n"), "::1", 81,
     TARGET_IP, "[::1]:81", "/", false, 0, false, false, true, true, false,
     -1},
    {"POST with length", S("POST http://h/p HTTP/1.1\r\nHost: h\r\n"
                           "Content-Length: 0123\r\n\r\n"),
     "h", 80, TARGET_NAME, "h", "/p", false, 123, false, false, true, false,
     false, -1},
    {"PUT chunked, 100-continue",
     S("PUT http://h/f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
       "Transfer-Encoding: chunked\r\n\r\n"),
     "h", 80, TARGET_NAME, "h", "/f", true, 0, true, false, true, true, false,
     -1},
    {"HEAD", S("HEAD http://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), "h", 80,
     TARGET_NAME, "h", "/", false, 0, false, false, true, true, true, -1},
    {"Connection: close", S("GET http://h/ HTTP/1.1\r\nHost: h\r\n"
                            "Connection: foo, Close\r\n\r\n"),
     "h", 80, TARGET_NAME, "h", "/", false, 0, false, false, false, true,
     false, -1},
    {"1.0 default close", S("GET http://h/ HTTP/1.0\r\n\r\n"), "h", 80,
     TARGET_NAME, "h", "/", false, 0, false, false, false, true, false, -1},
    {"1.0 keep-alive", S("GET http://h/ HTTP/1.0\r\n"
                         "Connection: Keep-Alive\r\n\r\n"),
     "h", 80, TARGET_NAME, "h", "/", false, 0, false, false, true, true,
     false, -1},
    {"websocket upgrade", S("GET http://h:9/ws HTTP/1.1\r\nHost: h:9\r\n"
                            "Connection: keep-alive, Upgrade\r\n"
                            "Upgrade: websocket\r\n\r\n"),
     "h", 9, TARGET_NAME, "h:9", "/ws", false, 0, false, true, true, true,
     false, -1},
    {"Upgrade without Connection: upgrade",
     S("GET http://h/ HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"), "h", 80,
     TARGET_NAME, "h", "/", false, 0, false, false, true, true, false, -1},
    {"OPTIONS Max-Forwards 0",
     S("OPTIONS http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n"),
     "h", 80, TARGET_NAME, "h", "/", false, 0, false, false, true, true,
     false, 0},
    {"TRACE Max-Forwards 7",
     S("TRACE http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 7\r\n\r\n"),
     "h", 80, TARGET_NAME, "h", "/", false, 0, false, false, true, true,
     false, 7},
    {"GET ignores Max-Forwards",
     S("GET http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: 7\r\n\r\n"), "h",
     80, TARGET_NAME, "h", "/", false, 0, false, false, true, true, false,
     -1},
    {"bad Max-Forwards",
     S("OPTIONS http://h/ HTTP/1.1\r\nHost: h\r\nMax-Forwards: x1\r\n\r\n"),
     "h", 80, TARGET_NAME, "h", "/", false, 0, false, false, true, true,
     false, -1},
};

static void test_check_semantics(void **st)
{
    (void)st;
    int bad = 0;
    for (size_t i = 0; i < N(sem_cases); i++) {
        const struct sem_case *c = &sem_cases[i];
        char *p = dup_exact(c->in, c->len);
        struct http1_request_head h;
        struct http1fwd_request r;
        const char *why = NULL;
        int rc = http1_parse_request_head(p, c->len, &h);
        if (rc <= 0) {
            print_error("%s: parse failed (%d)\n", c->name, rc);
            bad++;
            free(p);
            continue;
        }
        enum result res = http1fwd_check_request(&h, &r, &why);
#define WANT(cond, fmt, ...)                                                \
    do {                                                                    \
        if (!(cond)) {                                                      \
            print_error("%s: " fmt "\n", c->name, __VA_ARGS__);             \
            bad++;                                                          \
        }                                                                   \
    } while (0)
        WANT(res == RESULT_OK, "check %s (%s)", result_word(res), why);
        if (res == RESULT_OK) {
            WANT(r.origin.kind == c->kind, "kind %d", (int)r.origin.kind);
            WANT(strcmp(r.origin.host, c->host) == 0, "host '%s'",
                 r.origin.host);
            WANT(r.origin.port == c->port, "port %u", r.origin.port);
            WANT(slice_eq(r.authority, c->authority), "authority '%.*s'",
                 (int)r.authority.len, r.authority.p);
            WANT(slice_eq(r.path, c->path), "path '%.*s'", (int)r.path.len,
                 r.path.p);
            WANT(r.chunked == c->chunked, "chunked %d", r.chunked);
            WANT(r.content_length == c->content_length, "content_length %llu",
                 (unsigned long long)r.content_length);
            WANT(r.expect_continue == c->expect_continue, "expect %d",
                 r.expect_continue);
            WANT(r.upgrade == c->upgrade, "upgrade %d", r.upgrade);
            WANT(r.keep_alive == c->keep_alive, "keep_alive %d",
                 r.keep_alive);
            WANT(r.idempotent == c->idempotent, "idempotent %d",
                 r.idempotent);
            WANT(r.is_head == c->is_head, "is_head %d", r.is_head);
            WANT(r.max_forwards == c->max_forwards, "max_forwards %d",
                 r.max_forwards);
        }
#undef WANT
        free(p);
    }
    assert_int_equal(bad, 0);
}

/* ---- the request head sent on ----------------------------------------- */

struct req_case {
    const char *name;
    const char *in;
    size_t len;
    bool to_proxy;
    const char *proxy_auth;
    const char *out;
};

static const struct req_case req_cases[] = {
    {"origin-form: query kept, fragment dropped, Host from the URI",
     S("GET http://example.com/a/b?x=1&y=%20#frag HTTP/1.1\r\n"
       "Host: wrong.example\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n"),
     false, NULL,
     "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n"
     "User-Agent: t/1\r\nAccept: */*\r\nVia: 1.1 ferry\r\n\r\n"},
    {"empty path -> /",
     S("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"), false,
     NULL, "GET / HTTP/1.1\r\nHost: example.com\r\nVia: 1.1 ferry\r\n\r\n"},
    /* RFC 9112 3.2.1: an empty path is sent as "/", also before a query */
    {"empty path with a query -> /?query",
     S("GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
     false, NULL,
     "GET /?q=1 HTTP/1.1\r\nHost: example.com\r\nVia: 1.1 ferry\r\n\r\n"},
    {"OPTIONS with an empty path -> *",
     S("OPTIONS http://example.com:8080 HTTP/1.1\r\nHost: x\r\n\r\n"), false,
     NULL,
     "OPTIONS * HTTP/1.1\r\nHost: example.com:8080\r\nVia: 1.1 ferry\r\n\r\n"},
    {"OPTIONS with a path keeps it",
     S("OPTIONS http://example.com/p HTTP/1.1\r\nHost: x\r\n\r\n"), false,
     NULL,
     "OPTIONS /p HTTP/1.1\r\nHost: example.com\r\nVia: 1.1 ferry\r\n\r\n"},
    {"Host as written in the URI (IPv6 and port)",
     S("GET http://[::1]:8080/ HTTP/1.1\r\nhost: x\r\n\r\n"), false, NULL,
     "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nVia: 1.1 ferry\r\n\r\n"},
    {"Host as written in the URI (legacy IPv4 form)",
     S("GET http://2130706433/ HTTP/1.1\r\nHost: x\r\n\r\n"), false, NULL,
     "GET / HTTP/1.1\r\nHost: 2130706433\r\nVia: 1.1 ferry\r\n\r\n"},
    {"hop-by-hop fields dropped",
     S("GET http://h.test/ HTTP/1.1\r\nHost: h.test\r\n"
       "Connection: keep-alive, X-Secret\r\nx-SECRET: 1\r\n"
       "Proxy-Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
       "TE: trailers\r\nTrailer: X-T\r\n"
       "Proxy-Authorization: Basic dTpw\r\nUpgrade: h2c\r\n"
       "X-Keep: yes\r\nCookie: a=1; b=2\r\n\r\n"),
     false, NULL,
     "GET / HTTP/1.1\r\nHost: h.test\r\nX-Keep: yes\r\n"
     "Cookie: a=1; b=2\r\nVia: 1.1 ferry\r\n\r\n"},
    {"end-to-end fields kept in order, case and repeats",
     S("POST http://h.test/api?role=x HTTP/1.1\r\nHost: h.test\r\n"
       "Authorization: Basic c2FtOjEyMzQ1Ng==\r\n"
       "content-type: application/json\r\nX-A: 1\r\nX-A: 2\r\n"
       "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"),
     false, NULL,
     "POST /api?role=x HTTP/1.1\r\nHost: h.test\r\n"
     "Authorization: Basic c2FtOjEyMzQ1Ng==\r\n"
     "content-type: application/json\r\nX-A: 1\r\nX-A: 2\r\n"
     "Expect: 100-continue\r\nContent-Length: 2\r\nVia: 1.1 ferry\r\n\r\n"},
    {"an earlier Via is kept, ours appended",
     S("GET http://h.test/ HTTP/1.1\r\nHost: h.test\r\nVia: 1.1 a, 1.0 b\r\n"
       "\r\n"),
     false, NULL,
     "GET / HTTP/1.1\r\nHost: h.test\r\nVia: 1.1 a, 1.0 b\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
    {"OPTIONS Max-Forwards decremented",
     S("OPTIONS http://h.test/ HTTP/1.1\r\nHost: h.test\r\n"
       "Max-Forwards: 5\r\nAccept: */*\r\n\r\n"),
     false, NULL,
     "OPTIONS / HTTP/1.1\r\nHost: h.test\r\nMax-Forwards: 4\r\n"
     "Accept: */*\r\nVia: 1.1 ferry\r\n\r\n"},
    {"TRACE Max-Forwards 1 -> 0",
     S("TRACE http://h.test/ HTTP/1.1\r\nHost: h.test\r\n"
       "Max-Forwards: 1\r\n\r\n"),
     false, NULL,
     "TRACE / HTTP/1.1\r\nHost: h.test\r\nMax-Forwards: 0\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
    {"GET Max-Forwards untouched",
     S("GET http://h.test/ HTTP/1.1\r\nHost: h.test\r\n"
       "Max-Forwards: 5\r\n\r\n"),
     false, NULL,
     "GET / HTTP/1.1\r\nHost: h.test\r\nMax-Forwards: 5\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
    {"WebSocket upgrade: Upgrade kept, one Connection: Upgrade",
     S("GET http://h.test:9/chat HTTP/1.1\r\nHost: h.test:9\r\n"
       "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\nProxy-Connection: keep-alive\r\n\r\n"),
     false, NULL,
     "GET /chat HTTP/1.1\r\nHost: h.test:9\r\nUpgrade: websocket\r\n"
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
     "Sec-WebSocket-Version: 13\r\nConnection: Upgrade\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
    {"to a parent proxy: absolute-form, its credentials, not the client's",
     S("GET http://h.test/p?q HTTP/1.1\r\nHost: h.test\r\n"
       "Proxy-Authorization: Basic Y2xpZW50OnB3\r\nAccept: */*\r\n\r\n"),
     true, "Basic cGFyZW50OnB3",
     "GET http://h.test/p?q HTTP/1.1\r\nHost: h.test\r\nAccept: */*\r\n"
     "Proxy-Authorization: Basic cGFyZW50OnB3\r\nVia: 1.1 ferry\r\n\r\n"},
    {"to a parent proxy without credentials",
     S("GET http://h.test:81 HTTP/1.1\r\nHost: h.test\r\n"
       "Proxy-Authorization: Basic Y2xpZW50OnB3\r\n\r\n"),
     true, NULL,
     "GET http://h.test:81 HTTP/1.1\r\nHost: h.test:81\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
};

static int build_request(const char *in, size_t len, bool to_proxy,
                         const char *auth, char *out, size_t cap,
                         char **keep)
{
    char *p = dup_exact(in, len);
    struct http1_request_head h;
    struct http1fwd_request r;
    const char *why;
    *keep = p;
    int rc = http1_parse_request_head(p, len, &h);
    if (rc <= 0)
        return -1000 + rc;
    if (http1fwd_check_request(&h, &r, &why) != RESULT_OK)
        return -2000;
    return http1fwd_request_head(&h, &r, to_proxy, auth, out, cap);
}

static void test_request_head_table(void **st)
{
    (void)st;
    int bad = 0;
    for (size_t i = 0; i < N(req_cases); i++) {
        const struct req_case *c = &req_cases[i];
        char out[4096], *keep;
        int n = build_request(c->in, c->len, c->to_proxy, c->proxy_auth,
                              out, sizeof(out), &keep);
        if (n < 0 || (size_t)n != strlen(c->out) ||
            memcmp(out, c->out, (size_t)n) != 0) {
            print_error("%s:\n  got  (%d) \"%.*s\"\n  want (%zu) \"%s\"\n",
                        c->name, n, n > 0 ? n : 0, out, strlen(c->out),
                        c->out);
            bad++;
        }
        free(keep);
    }
    assert_int_equal(bad, 0);
}

/* Every cap short of the head's length is -ENOSPC, never a cut head. */
static void test_request_head_nospace(void **st)
{
    (void)st;
    const struct req_case *c = NULL;
    for (size_t i = 0; i < N(req_cases) && !c; i++)
        if (strcmp(req_cases[i].name, "hop-by-hop fields dropped") == 0)
            c = &req_cases[i];
    assert_non_null(c);
    size_t want = strlen(c->out);
    for (size_t cap = 0; cap <= want; cap++) {
        char *out = malloc(cap ? cap : 1), *keep;
        assert_non_null(out);
        int n = build_request(c->in, c->len, false, NULL, out, cap, &keep);
        if (cap < want)
            assert_int_equal(n, -ENOSPC);
        else
            assert_int_equal(n, (int)want);
        free(out);
        free(keep);
    }
}

/* RFC 9110 7.6.3: Via names the protocol the message was *received*
 * with: an HTTP/1.0 request or response is "1.0 ferry". */
static void test_via_received_protocol(void **st)
{
    (void)st;
    static const char in[] = "GET http://h.test/ HTTP/1.0\r\n"
                             "Connection: keep-alive\r\n\r\n";
    static const char want[] = "GET / HTTP/1.0\r\nHost: h.test\r\n"
                               "Connection: keep-alive\r\n"
                               "Via: 1.0 ferry\r\n\r\n";
    char out[1024], *keep;
    int n = build_request(S(in), false, NULL, out, sizeof(out), &keep);
    assert_int_equal(n, (int)sizeof(want) - 1);
    out[n] = '\0';
    assert_string_equal(out, want);
    free(keep);

    static const char rin[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n";
    static const char rwant[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                "Via: 1.0 ferry\r\n\r\n";
    struct http1_response_head h;
    char *p = dup_exact(S(rin));
    assert_int_equal(http1_parse_response_head(p, sizeof(rin) - 1, &h),
                     (int)sizeof(rin) - 1);
    n = http1fwd_response_head(&h, false, out, sizeof(out));
    assert_int_equal(n, (int)sizeof(rwant) - 1);
    out[n] = '\0';
    assert_string_equal(out, rwant);
    free(p);
}

/* ---- the response head for the client ---------------------------------- */

struct resp_case {
    const char *name;
    const char *in;
    size_t len;
    bool close;
    const char *out;
};

static const struct resp_case resp_cases[] = {
    {"hop-by-hop dropped",
     S("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
       "Connection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n"
       "X-Hop: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
       "Proxy-Authenticate: Basic realm=\"up\"\r\nTrailer: X-T\r\n"
       "Upgrade: h2c\r\nContent-Length: 5\r\n\r\n"),
     false,
     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
     "Set-Cookie: b=2\r\nContent-Length: 5\r\nVia: 1.1 ferry\r\n\r\n"},
    {"Connection: close added when asked",
     S("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
       "Connection: keep-alive\r\n\r\n"),
     true,
     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
    {"chunked framing passes through",
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
       "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n\r\n"),
     false,
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
     "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
    /* The origin's Connection field is hop-by-hop; the 101 gets ferry's
     * own "Connection: Upgrade" after the end-to-end fields. */
    {"101 keeps Upgrade, one Connection: Upgrade",
     S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade, x-hop\r\nX-Hop: 1\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
     false,
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
     "Connection: Upgrade\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
    {"100 Continue",
     S("HTTP/1.1 100 Continue\r\n\r\n"), false,
     "HTTP/1.1 100 Continue\r\nVia: 1.1 ferry\r\n\r\n"},
    {"empty reason keeps its SP",
     S("HTTP/1.1 204\r\nDate: x\r\n\r\n"), false,
     "HTTP/1.1 204 \r\nDate: x\r\nVia: 1.1 ferry\r\n\r\n"},
    {"an earlier Via is kept",
     S("HTTP/1.1 200 OK\r\nVia: 1.1 cdn\r\nContent-Length: 0\r\n\r\n"),
     false,
     "HTTP/1.1 200 OK\r\nVia: 1.1 cdn\r\nContent-Length: 0\r\n"
     "Via: 1.1 ferry\r\n\r\n"},
};

static int build_response(const char *in, size_t len, bool close, char *out,
                          size_t cap)
{
    char *p = dup_exact(in, len);
    struct http1_response_head h;
    int rc = http1_parse_response_head(p, len, &h);
    if (rc <= 0) {
        free(p);
        return -1000 + rc;
    }
    int n = http1fwd_response_head(&h, close, out, cap);
    free(p);
    return n;
}

static void test_response_head_table(void **st)
{
    (void)st;
    int bad = 0;
    for (size_t i = 0; i < N(resp_cases); i++) {
        const struct resp_case *c = &resp_cases[i];
        char out[4096];
        int n = build_response(c->in, c->len, c->close, out, sizeof(out));
        if (n < 0 || (size_t)n != strlen(c->out) ||
            memcmp(out, c->out, (size_t)n) != 0) {
            print_error("%s:\n  got  (%d) \"%.*s\"\n  want (%zu) \"%s\"\n",
                        c->name, n, n > 0 ? n : 0, out, strlen(c->out),
                        c->out);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_response_head_nospace(void **st)
{
    (void)st;
    const struct resp_case *c = &resp_cases[1];
    size_t want = strlen(c->out);
    for (size_t cap = 0; cap <= want; cap++) {
        char *out = malloc(cap ? cap : 1);
        assert_non_null(out);
        int n = build_response(c->in, c->len, c->close, out, cap);
        assert_int_equal(n, cap < want ? -ENOSPC : (int)want);
        free(out);
    }
}

struct closes_case {
    const char *in;
    size_t len;
    bool closes;
};

static const struct closes_case closes_cases[] = {
    {S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), false},
    {S("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"), true},
    {S("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\n\r\n"), true},
    {S("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n"), false},
    {S("HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n"), false},
    {S("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), true},
    {S("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"), false},
};

static void test_response_closes(void **st)
{
    (void)st;
    for (size_t i = 0; i < N(closes_cases); i++) {
        const struct closes_case *c = &closes_cases[i];
        char *p = dup_exact(c->in, c->len);
        struct http1_response_head h;
        print_message("closes: row %zu\n", i);
        assert_int_equal(http1_parse_response_head(p, c->len, &h),
                         (int)c->len);
        assert_int_equal(http1fwd_response_closes(&h), c->closes);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_check_too_many_fields),
        cmocka_unit_test(test_check_semantics),
        cmocka_unit_test(test_request_head_table),
        cmocka_unit_test(test_request_head_nospace),
        cmocka_unit_test(test_via_received_protocol),
        cmocka_unit_test(test_response_head_table),
        cmocka_unit_test(test_response_head_nospace),
        cmocka_unit_test(test_response_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
