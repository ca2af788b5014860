/* test_http1frame: where a message ends, for proto/http1frame.c.
 *
 * Each message is followed by the first bytes of the next one; the framer
 * must claim exactly the message, however the bytes are split (every
 * two-piece split and byte by byte), and never the bytes behind it. */
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

#include "proto/http1frame.h"

#define S(s) (s), sizeof(s) - 1
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Feed buf[off, off + len) from a heap copy of exactly that size, so a
 * read beyond what was handed over is an ASan error. */
static ssize_t feed(struct http1_framer *f, const char *buf, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    memcpy(p, buf, len);
    ssize_t n = http1_framer_feed(f, p, len);
    free(p);
    return n;
}

struct frame_case {
    const char *name;
    bool response;
    bool no_body; /* response to HEAD */
    const char *in;
    size_t len;
    size_t msg; /* length of the first message; the rest is the next */
};

#define NEXT_RQ "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
#define NEXT_RS "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"

#define CL_RQ "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n" \
              "0123456789"
#define CHUNKED_RQ                                                          \
    "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"    \
    "5;name=val\r\nhello\r\n"                                              \
    "6;a;b=\"q;x\"\r\n world\r\n"                                          \
    "A\r\n0123456789\r\n"                                                  \
    "0;last\r\nX-Trailer: t\r\nX-Other: o\r\n\r\n"
#define CHUNKED_RS                                                          \
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"                    \
    "Trailer: X-Sum\r\n\r\n"                                               \
    "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 26\r\n\r\n"
#define HEAD_RS "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
#define HEAD_CHUNKED_RS "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
#define NOBODY_204 "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n"
#define NOBODY_304 "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n" \
                   "ETag: \"e\"\r\n\r\n"
#define NOBODY_204_CL "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
#define GET_RQ "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
#define CL0_RS "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define CL_RS "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"

static const struct frame_case frame_cases[] = {
    {"request, Content-Length", false, false, S(CL_RQ NEXT_RQ),
     sizeof(CL_RQ) - 1},
    {"request, chunked with extensions and trailers", false, false,
     S(CHUNKED_RQ NEXT_RQ), sizeof(CHUNKED_RQ) - 1},
    {"request without a body (no CL, no TE)", false, false,
     S(GET_RQ NEXT_RQ), sizeof(GET_RQ) - 1},
    {"response, Content-Length", true, false, S(CL_RS NEXT_RS),
     sizeof(CL_RS) - 1},
    {"response, Content-Length 0", true, false, S(CL0_RS NEXT_RS),
     sizeof(CL0_RS) - 1},
    {"response, chunked with a trailer", true, false, S(CHUNKED_RS NEXT_RS),
     sizeof(CHUNKED_RS) - 1},
    {"response to HEAD with Content-Length", true, true, S(HEAD_RS NEXT_RS),
     sizeof(HEAD_RS) - 1},
    {"response to HEAD, chunked", true, true, S(HEAD_CHUNKED_RS NEXT_RS),
     sizeof(HEAD_CHUNKED_RS) - 1},
    {"204 without a body", true, false, S(NOBODY_204 NEXT_RS),
     sizeof(NOBODY_204) - 1},
    /* RFC 9112 6.3 rule 1: 1xx, 204 and 304 end at the empty line
     * whatever their fields say (a 304 often carries the Content-Length
     * a 200 would have had: RFC 9110 8.6) */
    {"204 with Content-Length, no body", true, false,
     S(NOBODY_204_CL NEXT_RS), sizeof(NOBODY_204_CL) - 1},
    {"304 with Content-Length, no body", true, false, S(NOBODY_304 NEXT_RS),
     sizeof(NOBODY_304) - 1},
};

static void init(struct http1_framer *f, const struct frame_case *c)
{
    http1_framer_init(f, c->response);
    f->no_body = c->no_body;
}

/* Two pieces, [0, k) and [k, len), for every k; false (and a message)
 * at the first split that goes wrong. */
static bool split_ok(const struct frame_case *c)
{
    for (size_t k = 0; k <= c->len; k++) {
        struct http1_framer f;
        init(&f, c);
        ssize_t a = feed(&f, c->in, k);
        if (k <= c->msg) {
            if (a != (ssize_t)k || f.done != (k == c->msg && k > 0)) {
                print_error("%s: split %zu: first piece took %zd, done=%d\n",
                            c->name, k, a, f.done);
                return false;
            }
            if (k < c->msg || k == 0) {
                ssize_t b = feed(&f, c->in + k, c->len - k);
                if (b != (ssize_t)(c->msg - k) || !f.done) {
                    print_error("%s: split %zu: second piece took %zd of "
                                "%zu (want %zu), done=%d\n",
                                c->name, k, b, c->len - k, c->msg - k,
                                f.done);
                    return false;
                }
            }
        } else if (a != (ssize_t)c->msg || !f.done) {
            print_error("%s: split %zu: took %zd (want %zu), done=%d\n",
                        c->name, k, a, c->msg, f.done);
            return false;
        }
        /* once done, nothing more is taken and EOF is fine */
        ssize_t more = feed(&f, c->in + c->msg, c->len - c->msg);
        int eof = http1_framer_eof(&f);
        if (more != 0 || eof != 0) {
            print_error("%s: split %zu: after the end took %zd more, "
                        "eof=%d\n", c->name, k, more, eof);
            return false;
        }
    }
    return true;
}

static void test_every_split(void **st)
{
    (void)st;
    int bad = 0;
    for (size_t i = 0; i < N(frame_cases); i++)
        bad += !split_ok(&frame_cases[i]);
    assert_int_equal(bad, 0);
}

static void test_byte_by_byte(void **st)
{
    (void)st;
    int bad = 0;
    for (size_t i = 0; i < N(frame_cases); i++) {
        const struct frame_case *c = &frame_cases[i];
        struct http1_framer f;
        init(&f, c);
        size_t took = 0, done_at = 0;
        for (size_t k = 0; k < c->len; k++) {
            ssize_t n = feed(&f, c->in + k, 1);
            if (n < 0 || n > 1) {
                took = (size_t)-1;
                break;
            }
            took += (size_t)n;
            if (f.done && !done_at)
                done_at = k + 1;
        }
        if (took != c->msg || done_at != c->msg ||
            http1_framer_until_close(&f)) {
            print_error("%s: byte by byte took %zd, done after %zu bytes "
                        "(want %zu), until_close=%d\n",
                        c->name, (ssize_t)took, done_at, c->msg,
                        http1_framer_until_close(&f));
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* After one message, a fresh framer frames the next from the rest. */
static void test_pipelined(void **st)
{
    (void)st;
    static const char in[] = CL_RQ CHUNKED_RQ GET_RQ "GET /partial HTT";
    size_t lens[] = {sizeof(CL_RQ) - 1, sizeof(CHUNKED_RQ) - 1,
                     sizeof(GET_RQ) - 1};
    size_t off = 0;
    for (size_t i = 0; i < N(lens); i++) {
        struct http1_framer f;
        http1_framer_init(&f, false);
        ssize_t n = feed(&f, in + off, sizeof(in) - 1 - off);
        assert_int_equal(n, (ssize_t)lens[i]);
        assert_true(f.done);
        off += (size_t)n;
    }
    struct http1_framer f;
    http1_framer_init(&f, false);
    assert_int_equal(feed(&f, in + off, sizeof(in) - 1 - off),
                     (ssize_t)(sizeof(in) - 1 - off));
    assert_false(f.done);
}

struct bad_case {
    const char *name;
    bool response;
    const char *in;
    size_t len;
};

#define CH_RQ                                                               \
    "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

static const struct bad_case bad_cases[] = {
    {"chunk size not hex", false, S(CH_RQ "zz\r\nhello\r\n0\r\n\r\n")},
    {"negative chunk size", false, S(CH_RQ "-1\r\nx\r\n0\r\n\r\n")},
    {"chunk size 0x prefix", false, S(CH_RQ "0x5\r\nhello\r\n0\r\n\r\n")},
    {"chunk size overflow", false,
     S(CH_RQ "10000000000000000\r\nx\r\n0\r\n\r\n")},
    {"empty chunk size", false, S(CH_RQ "\r\nhello\r\n0\r\n\r\n")},
    {"chunk data longer than its size", false,
     S(CH_RQ "5\r\nhelloX\r\n0\r\n\r\n")},
    {"chunked response, bad size", true,
     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "g\r\nx\r\n0\r\n\r\n")},
};

static void test_bad_chunks(void **st)
{
    (void)st;
    for (size_t i = 0; i < N(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct http1_framer f;
        print_message("bad: %s\n", c->name);
        http1_framer_init(&f, c->response);
        assert_int_equal(feed(&f, c->in, c->len), -EBADMSG);
        assert_false(f.done);
        /* byte by byte the error comes too */
        http1_framer_init(&f, c->response);
        ssize_t n = 0;
        for (size_t k = 0; k < c->len && n >= 0; k++)
            n = feed(&f, c->in + k, 1);
        assert_int_equal(n, -EBADMSG);
    }
}

/* A response without Content-Length or chunked runs until the close;
 * http1_framer_eof() then completes it. */
static void test_until_close(void **st)
{
    (void)st;
    static const char *const heads[] = {
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
        "HTTP/1.0 200 OK\r\n\r\n",
    };
    for (size_t i = 0; i < N(heads); i++) {
        struct http1_framer f;
        print_message("until close: %s\n", heads[i]);
        http1_framer_init(&f, true);
        size_t hl = strlen(heads[i]);
        assert_int_equal(feed(&f, heads[i], hl), (ssize_t)hl);
        assert_false(f.done);
        assert_true(http1_framer_until_close(&f));
        /* anything that comes is body, even what looks like a message */
        assert_int_equal(feed(&f, S("body part 1\r\n")), 13);
        assert_int_equal(feed(&f, S(NEXT_RS)), (ssize_t)sizeof(NEXT_RS) - 1);
        assert_false(f.done);
        assert_int_equal(http1_framer_eof(&f), 0);
    }
    /* an empty body ended by the close */
    struct http1_framer f;
    http1_framer_init(&f, true);
    assert_int_equal(feed(&f, S("HTTP/1.1 200 OK\r\n\r\n")), 19);
    assert_true(http1_framer_until_close(&f));
    assert_int_equal(http1_framer_eof(&f), 0);
}

/* The whole literal must be taken. */
#define TAKES_ALL(f, lit)                                                   \
    assert_int_equal(feed((f), S(lit)), (ssize_t)sizeof(lit) - 1)

static void test_not_until_close(void **st)
{
    (void)st;
    struct http1_framer f;
    http1_framer_init(&f, true);
    TAKES_ALL(&f, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
    assert_false(f.done);
    assert_false(http1_framer_until_close(&f));
    http1_framer_init(&f, true);
    TAKES_ALL(&f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n");
    assert_false(f.done);
    assert_false(http1_framer_until_close(&f));
    /* a request never reads until close */
    http1_framer_init(&f, false);
    TAKES_ALL(&f, "POST / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_true(f.done);
    assert_false(http1_framer_until_close(&f));
}

/* The peer closed in the middle of a framed body: an error, not a
 * complete message. */
static void test_truncated_eof(void **st)
{
    (void)st;
    static const struct bad_case cut[] = {
        {"chunked request, in a chunk", false, S(CH_RQ "5\r\nhel")},
        {"chunked request, before the last chunk", false,
         S(CH_RQ "5\r\nhello\r\n")},
        {"chunked request, in the trailers", false,
         S(CH_RQ "5\r\nhello\r\n0\r\nX-T: 1\r\n")},
        {"chunked response, in a size", true,
         S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1")},
        {"Content-Length response, short", true,
         S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012")},
        {"Content-Length request, short", false,
         S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")},
        {"response head incomplete", true, S("HTTP/1.1 200 OK\r\nConte")},
    };
    for (size_t i = 0; i < N(cut); i++) {
        struct http1_framer f;
        print_message("truncated: %s\n", cut[i].name);
        http1_framer_init(&f, cut[i].response);
        assert_int_equal(feed(&f, cut[i].in, cut[i].len),
                         (ssize_t)cut[i].len);
        assert_false(f.done);
        assert_int_equal(http1_framer_eof(&f), -EBADMSG);
    }
}

static void test_empty_feed(void **st)
{
    (void)st;
    struct http1_framer f;
    http1_framer_init(&f, false);
    assert_int_equal(feed(&f, "", 0), 0);
    assert_false(f.done);
    assert_int_equal(feed(&f, S(GET_RQ)), (ssize_t)sizeof(GET_RQ) - 1);
    assert_true(f.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_bad_chunks),
        cmocka_unit_test(test_until_close),
        cmocka_unit_test(test_not_until_close),
        cmocka_unit_test(test_truncated_eof),
        cmocka_unit_test(test_empty_feed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
