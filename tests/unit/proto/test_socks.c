/* test_socks: table tests for proto/socks.c.
 *
 * Every parse runs on a copy that ends right before an unmapped page
 * (picohttpparser's trick), so a read past len faults even without ASan.
 * Every valid message is also fed at each shorter prefix, which must give
 * -EAGAIN. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/socks.h"

#define M(s) (const uint8_t *)(s), sizeof(s) - 1

/* ---- guard page ------------------------------------------------------ */

#include "../guard.h"

/* The parsers share one shape; wrap each to take a union of outputs. */
union parsed {
    struct socks5_greeting greeting;
    struct socks5_userpass userpass;
    struct socks5_request req5;
    struct socks4_request req4;
    struct target addr;
    struct {
        uint8_t frag;
        struct target dst;
    } udp;
};

static int p_greeting(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return socks5_parse_greeting(b, n, &u->greeting);
}

static int p_userpass(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return socks5_parse_userpass(b, n, &u->userpass);
}

static int p_req5(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return socks5_parse_request(b, n, &u->req5);
}

static int p_req4(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return socks4_parse_request(b, n, &u->req4);
}

static int p_addr(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return socks5_parse_addr(b, n, &u->addr);
}

static int p_udp(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return socks5_parse_udp_header(b, n, &u->udp.frag, &u->udp.dst);
}

/* ---- SOCKS5 greeting ------------------------------------------------- */

struct greeting_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    uint8_t nmethods;
    uint8_t first, last;
};

static const struct greeting_case greeting_cases[] = {
    {"no auth", M("\x05\x01\x00"), 3, 1, 0x00, 0x00},
    {"two methods", M("\x05\x02\x00\x02"), 4, 2, 0x00, 0x02},
    {"trailing bytes left", M("\x05\x01\x02\x05\x01"), 3, 1, 0x02, 0x02},
    {"socks4 byte", M("\x04\x01\x00"), -EPROTO, 0, 0, 0},
    {"http byte", M("C"), -EPROTO, 0, 0, 0},
    {"zero methods", M("\x05\x00"), -EINVAL, 0, 0, 0},
    {"zero methods, more bytes", M("\x05\x00\x00\x00"), -EINVAL, 0, 0, 0},
};

static void test_greeting_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(greeting_cases) / sizeof(*greeting_cases);
         i++) {
        const struct greeting_case *c = &greeting_cases[i];
        union parsed u;
        print_message("greeting: %s\n", c->name);
        int rc = guard_parse(p_greeting, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        guard_check_prefixes(p_greeting, c->msg, (size_t)rc,
                             sizeof(union parsed));
        assert_int_equal(u.greeting.nmethods, c->nmethods);
        assert_int_equal(u.greeting.methods[0], c->first);
        assert_int_equal(u.greeting.methods[c->nmethods - 1], c->last);
    }
}

static void test_greeting_255_methods(void **st)
{
    (void)st;
    uint8_t msg[SOCKS5_GREETING_MAX + 3];
    msg[0] = 5;
    msg[1] = 255;
    for (int i = 0; i < 255; i++)
        msg[2 + i] = (uint8_t)i;
    msg[257] = msg[258] = msg[259] = 0xEE; /* not part of it */
    union parsed u;
    assert_int_equal(guard_parse(p_greeting, msg, sizeof(msg), &u, sizeof(u)),
                     257);
    assert_int_equal(u.greeting.nmethods, 255);
    assert_int_equal(u.greeting.methods[254], 254);
    guard_check_prefixes(p_greeting, msg, 257, sizeof(union parsed));
}

/* ---- RFC 1929 -------------------------------------------------------- */

struct userpass_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    const char *user, *pass;
};

static const struct userpass_case userpass_cases[] = {
    {"user pass", M("\x01\x04user\x04pass"), 11, "user", "pass"},
    {"empty both", M("\x01\x00\x00"), 3, "", ""},
    {"empty pass", M("\x01\x01u\x00"), 4, "u", ""},
    {"trailing bytes left", M("\x01\x01u\x01p\x05\x01"), 5, "u", "p"},
    {"socks5 version byte", M("\x05\x01u\x01p"), -EPROTO, NULL, NULL},
    {"NUL in user", M("\x01\x03u\x00v\x01p"), -EINVAL, NULL, NULL},
    {"NUL in pass", M("\x01\x01u\x02p\x00"), -EINVAL, NULL, NULL},
};

static void test_userpass_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(userpass_cases) / sizeof(*userpass_cases);
         i++) {
        const struct userpass_case *c = &userpass_cases[i];
        union parsed u;
        print_message("userpass: %s\n", c->name);
        int rc = guard_parse(p_userpass, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        guard_check_prefixes(p_userpass, c->msg, (size_t)rc,
                             sizeof(union parsed));
        assert_string_equal(u.userpass.user, c->user);
        assert_string_equal(u.userpass.pass, c->pass);
    }
}

static void test_userpass_max(void **st)
{
    (void)st;
    uint8_t msg[SOCKS5_USERPASS_MAX];
    msg[0] = 1;
    msg[1] = 255;
    memset(msg + 2, 'u', 255);
    msg[257] = 255;
    memset(msg + 258, 'p', 255);
    union parsed u;
    assert_int_equal(guard_parse(p_userpass, msg, sizeof(msg), &u, sizeof(u)),
                     SOCKS5_USERPASS_MAX);
    assert_int_equal(strlen(u.userpass.user), 255);
    assert_int_equal(strlen(u.userpass.pass), 255);
    assert_int_equal(u.userpass.pass[254], 'p');
    guard_check_prefixes(p_userpass, msg, sizeof(msg), sizeof(union parsed));
}

/* ---- SOCKS5 request and address -------------------------------------- */

struct req5_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    uint8_t cmd;
    enum target_kind kind;
    int family;
    const char *host;
    uint16_t port;
};

#define V6_DB8_1 "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"

/* A row for input that must fail with rc. */
#define BAD5(name, s, rc) {name, M(s), rc, 0, TARGET_NONE, 0, NULL, 0}

static const struct req5_case req5_cases[] = {
    {"ipv4", M("\x05\x01\x00\x01\x01\x02\x03\x04\x00\x50"), 10, 1,
     TARGET_IP, AF_INET, "1.2.3.4", 80},
    {"ipv6", M("\x05\x01\x00\x04" V6_DB8_1 "\x01\xbb"), 22, 1, TARGET_IP,
     AF_INET6, "2001:db8::1", 443},
    {"domain", M("\x05\x01\x00\x03\x0b" "example.com\x1f\x90"), 18, 1,
     TARGET_NAME, 0, "example.com", 8080},
    {"domain is ipv4 literal", M("\x05\x01\x00\x03\x08" "10.0.0.1\x00\x16"),
     15, 1, TARGET_IP, AF_INET, "10.0.0.1", 22},
    {"domain is ipv6 literal", M("\x05\x01\x00\x03\x03::1\x00\x35"), 10, 1,
     TARGET_IP, AF_INET6, "::1", 53},
    {"udp associate, port 0", M("\x05\x03\x00\x01\0\0\0\0\0\0"), 10, 3,
     TARGET_IP, AF_INET, "0.0.0.0", 0},
    {"bind", M("\x05\x02\x00\x01\x7f\0\0\x01\xff\xff"), 10, 2, TARGET_IP,
     AF_INET, "127.0.0.1", 65535},
    {"unknown cmd still parsed", M("\x05\x09\x00\x03\x01x\x00\x01"), 8, 9,
     TARGET_NAME, 0, "x", 1},
    {"trailing bytes left", M("\x05\x01\x00\x01\x01\x02\x03\x04\x00\x50GET"),
     10, 1, TARGET_IP, AF_INET, "1.2.3.4", 80},
    BAD5("version 4", "\x04\x01\x00\x01\x01\x02\x03\x04\x00\x50", -EPROTO),
    BAD5("version 4, one byte", "\x04", -EPROTO),
    BAD5("rsv not zero", "\x05\x01\x01\x01\x01\x02\x03\x04\x00\x50", -EINVAL),
    BAD5("rsv not zero, short", "\x05\x01\x80", -EINVAL),
    BAD5("atyp 0", "\x05\x01\x00\x00\x01\x02\x03\x04\x00\x50", -EAFNOSUPPORT),
    BAD5("atyp 2", "\x05\x01\x00\x02", -EAFNOSUPPORT),
    BAD5("atyp 5", "\x05\x01\x00\x05\x01\x02\x03\x04\x00\x50", -EAFNOSUPPORT),
    BAD5("domain length 0", "\x05\x01\x00\x03\x00\x00\x50", -EINVAL),
    BAD5("domain length 0, short", "\x05\x01\x00\x03\x00", -EINVAL),
    BAD5("domain with NUL", "\x05\x01\x00\x03\x03" "a\0b\x00\x50", -EINVAL),
    BAD5("domain with slash", "\x05\x01\x00\x03\x03" "a/b\x00\x50", -EINVAL),
    BAD5("domain with space", "\x05\x01\x00\x03\x03" "a b\x00\x50", -EINVAL),
    BAD5("domain with at", "\x05\x01\x00\x03\x03" "a@b\x00\x50", -EINVAL),
    BAD5("domain with colon", "\x05\x01\x00\x03\x03" "a:b\x00\x50", -EINVAL),
    BAD5("domain with CRLF", "\x05\x01\x00\x03\x04" "a\r\nb\x00\x50", -EINVAL),
    BAD5("domain with 0xff", "\x05\x01\x00\x03\x03" "a\xff" "b\x00\x50",
         -EINVAL),
};

static void check_target(const struct target *t, enum target_kind kind,
                         int family, const char *host, uint16_t port)
{
    assert_int_equal(t->kind, kind);
    assert_string_equal(t->host, host);
    assert_int_equal(t->port, port);
    if (kind != TARGET_IP)
        return;
    assert_int_equal(t->ip.u.sa.sa_family, family);
    assert_int_equal(addr_port(&t->ip), port);
}

static void test_request5_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(req5_cases) / sizeof(*req5_cases); i++) {
        const struct req5_case *c = &req5_cases[i];
        union parsed u;
        print_message("socks5 request: %s\n", c->name);
        int rc = guard_parse(p_req5, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        guard_check_prefixes(p_req5, c->msg, (size_t)rc, sizeof(union parsed));
        assert_int_equal(u.req5.cmd, c->cmd);
        check_target(&u.req5.dst, c->kind, c->family, c->host, c->port);
        /* The address alone parses the same from offset 3. */
        assert_int_equal(
            guard_parse(p_addr, c->msg + 3, c->len - 3, &u, sizeof(u)), rc - 3);
        check_target(&u.addr, c->kind, c->family, c->host, c->port);
        guard_check_prefixes(p_addr, c->msg + 3, (size_t)rc - 3,
                             sizeof(union parsed));
    }
}

static void test_request5_domain_255(void **st)
{
    (void)st;
    uint8_t msg[SOCKS5_REQUEST_MAX];
    memcpy(msg, "\x05\x01\x00\x03\xff", 5);
    memset(msg + 5, 'a', 255);
    for (int i = 63; i < 255; i += 64)
        msg[5 + i] = '.';
    msg[260] = 0x01;
    msg[261] = 0xbb;
    union parsed u;
    assert_int_equal(guard_parse(p_req5, msg, sizeof(msg), &u, sizeof(u)),
                     SOCKS5_REQUEST_MAX);
    assert_int_equal(u.req5.dst.kind, TARGET_NAME);
    assert_int_equal(strlen(u.req5.dst.host), 255);
    assert_int_equal(u.req5.dst.port, 443);
    guard_check_prefixes(p_req5, msg, sizeof(msg), sizeof(union parsed));
}

/* ---- SOCKS5 UDP request header (RFC 1928 section 7) ------------------ */

struct udp_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    uint8_t frag;
    enum target_kind kind;
    int family;
    const char *host;
    uint16_t port;
};

#define BADU(name, s, rc) {name, M(s), rc, 0, TARGET_NONE, 0, NULL, 0}

static const struct udp_case udp_cases[] = {
    {"ipv4", M("\0\0\0\x01\x7f\0\0\x01\x00\x35"), 10, 0, TARGET_IP, AF_INET,
     "127.0.0.1", 53},
    {"ipv4 with data", M("\0\0\0\x01\x7f\0\0\x01\x00\x35" "query"), 10, 0,
     TARGET_IP, AF_INET, "127.0.0.1", 53},
    {"ipv6", M("\0\0\0\x04" V6_DB8_1 "\x01\xbb" "x"), 22, 0, TARGET_IP,
     AF_INET6, "2001:db8::1", 443},
    {"domain", M("\0\0\0\x03\x0b" "example.com\x00\x35" "q"), 18, 0,
     TARGET_NAME, 0, "example.com", 53},
    {"domain is a literal", M("\0\0\0\x03\x03::1\x00\x07"), 10, 0, TARGET_IP,
     AF_INET6, "::1", 7},
    {"frag 1 is parsed", M("\0\0\x01\x01\x01\x02\x03\x04\x00\x50" "x"), 10,
     1, TARGET_IP, AF_INET, "1.2.3.4", 80},
    {"frag 0x81 is parsed", M("\0\0\x81\x01\x01\x02\x03\x04\x00\x50"), 10,
     0x81, TARGET_IP, AF_INET, "1.2.3.4", 80},
    {"port 0 is parsed", M("\0\0\0\x01\x01\x02\x03\x04\x00\x00"), 10, 0,
     TARGET_IP, AF_INET, "1.2.3.4", 0},
    BADU("empty", "", -EINVAL),
    BADU("rsv only", "\0\0", -EINVAL),
    BADU("no atyp", "\0\0\0", -EINVAL),
    BADU("rsv high byte", "\x01\0\0\x01\x01\x02\x03\x04\x00\x50", -EINVAL),
    BADU("rsv low byte", "\0\x01\0\x01\x01\x02\x03\x04\x00\x50", -EINVAL),
    BADU("socks5 request, not a udp header",
         "\x05\x01\x00\x01\x01\x02\x03\x04\x00\x50", -EINVAL),
    BADU("ipv4 truncated", "\0\0\0\x01\x01\x02\x03\x04\x00", -EINVAL),
    BADU("ipv6 truncated", "\0\0\0\x04\x20\x01", -EINVAL),
    BADU("domain truncated", "\0\0\0\x03\x05" "abc", -EINVAL),
    BADU("domain length 0", "\0\0\0\x03\x00\x00\x35", -EINVAL),
    BADU("domain with slash", "\0\0\0\x03\x03" "a/b\x00\x35", -EINVAL),
    BADU("domain with NUL", "\0\0\0\x03\x03" "a\0b\x00\x35", -EINVAL),
    BADU("atyp 0", "\0\0\0\x00\x01\x02\x03\x04\x00\x50", -EAFNOSUPPORT),
    BADU("atyp 2", "\0\0\0\x02", -EAFNOSUPPORT),
    BADU("atyp 5", "\0\0\0\x05\x01\x02\x03\x04\x00\x50", -EAFNOSUPPORT),
};

static void test_udp_header_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(udp_cases) / sizeof(*udp_cases); i++) {
        const struct udp_case *c = &udp_cases[i];
        union parsed u;
        print_message("udp header: %s\n", c->name);
        int rc = guard_parse(p_udp, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_int_equal(u.udp.frag, c->frag);
        check_target(&u.udp.dst, c->kind, c->family, c->host, c->port);
        /* A datagram is whole: a cut header is malformed, never -EAGAIN. */
        for (size_t k = 0; k < (size_t)rc; k++)
            assert_int_equal(guard_parse(p_udp, c->msg, k, &u, sizeof(u)),
                             -EINVAL);
    }
}

static void test_udp_header_domain_255(void **st)
{
    (void)st;
    uint8_t msg[SOCKS5_UDP_HEADER_MAX + 4];
    memcpy(msg, "\0\0\0\x03\xff", 5);
    memset(msg + 5, 'a', 255);
    msg[260] = 0x00;
    msg[261] = 0x35;
    memcpy(msg + 262, "data", 4);
    union parsed u;
    assert_int_equal(guard_parse(p_udp, msg, sizeof(msg), &u, sizeof(u)),
                     SOCKS5_UDP_HEADER_MAX);
    assert_int_equal(u.udp.dst.kind, TARGET_NAME);
    assert_int_equal(strlen(u.udp.dst.host), 255);
    assert_int_equal(u.udp.dst.port, 53);
}

/* ---- SOCKS4 / 4a ----------------------------------------------------- */

struct req4_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    uint8_t cmd;
    enum target_kind kind;
    const char *host;
    uint16_t port;
    const char *userid;
};

#define BAD4(name, s, rc) {name, M(s), rc, 0, TARGET_NONE, NULL, 0, NULL}

static const struct req4_case req4_cases[] = {
    {"ipv4, no userid", M("\x04\x01\x00\x50\x01\x02\x03\x04\x00"), 9, 1,
     TARGET_IP, "1.2.3.4", 80, ""},
    {"ipv4, userid", M("\x04\x01\x00\x50\x01\x02\x03\x04" "bob\x00"), 12, 1,
     TARGET_IP, "1.2.3.4", 80, "bob"},
    {"bind parsed", M("\x04\x02\x1f\x90\x0a\0\0\x01\x00"), 9, 2, TARGET_IP,
     "10.0.0.1", 8080, ""},
    {"dstip 0.0.0.0 is not 4a", M("\x04\x01\x00\x00\0\0\0\0\x00x\x00"), 9, 1,
     TARGET_IP, "0.0.0.0", 0, ""},
    {"4a", M("\x04\x01\x01\xbb\0\0\0\x01" "bob\x00" "example.com\x00"), 24,
     1, TARGET_NAME, "example.com", 443, "bob"},
    {"4a, no userid", M("\x04\x01\x00\x50\0\0\0\xff\x00" "h\x00"), 11, 1,
     TARGET_NAME, "h", 80, ""},
    {"4a literal", M("\x04\x01\x00\x50\0\0\0\x07\x00" "192.0.2.1\x00"), 19,
     1, TARGET_IP, "192.0.2.1", 80, ""},
    {"4a trailing bytes left", M("\x04\x01\x00\x50\0\0\0\x01\x00h\x00zz"),
     11, 1, TARGET_NAME, "h", 80, ""},
    BAD4("version 5", "\x05\x01\x00\x50\x01\x02\x03\x04\x00", -EPROTO),
    BAD4("version 5, one byte", "\x05", -EPROTO),
    BAD4("cd 0", "\x04\x00\x00\x50\x01\x02\x03\x04\x00", -EINVAL),
    BAD4("cd 3", "\x04\x03", -EINVAL),
    BAD4("4a empty host", "\x04\x01\x00\x50\0\0\0\x01\x00\x00", -EINVAL),
    BAD4("4a host with space", "\x04\x01\x00\x50\0\0\0\x01\x00" "a b\x00",
         -EINVAL),
    BAD4("4a host with slash", "\x04\x01\x00\x50\0\0\0\x01\x00" "a/b\x00",
         -EINVAL),
};

static void test_request4_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(req4_cases) / sizeof(*req4_cases); i++) {
        const struct req4_case *c = &req4_cases[i];
        union parsed u;
        print_message("socks4 request: %s\n", c->name);
        int rc = guard_parse(p_req4, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        guard_check_prefixes(p_req4, c->msg, (size_t)rc, sizeof(union parsed));
        assert_int_equal(u.req4.cmd, c->cmd);
        check_target(&u.req4.dst, c->kind, AF_INET, c->host, c->port);
        assert_string_equal(u.req4.userid, c->userid);
    }
}

/* Header, then userid of ulen 'u' bytes, then (4a) host of hlen 'h'
 * bytes; each followed by a NUL when its flag says so. */
static size_t build4(uint8_t *msg, size_t ulen, bool unul, size_t hlen,
                     bool hnul)
{
    bool is4a = hlen > 0 || hnul;
    memcpy(msg, "\x04\x01\x00\x50\x01\x02\x03\x04", 8);
    if (is4a)
        msg[4] = msg[5] = msg[6] = 0; /* 0.0.0.4: a host name follows */
    size_t n = 8;
    memset(msg + n, 'u', ulen);
    n += ulen;
    if (unul)
        msg[n++] = 0;
    memset(msg + n, 'h', hlen);
    n += hlen;
    if (hnul)
        msg[n++] = 0;
    return n;
}

struct len4_case {
    const char *name;
    size_t ulen;
    bool unul;
    size_t hlen;
    bool hnul;
    int rc;
};

static const struct len4_case len4_cases[] = {
    {"userid 255", 255, true, 0, false, 8 + 256},
    {"userid 256", 256, true, 0, false, -EINVAL},
    {"userid 256 no NUL", 256, false, 0, false, -EINVAL},
    {"userid 1000 no NUL", 1000, false, 0, false, -EINVAL},
    {"userid 255 no NUL yet", 255, false, 0, false, -EAGAIN},
    {"4a userid 255 host 255", 255, true, 255, true, SOCKS4_REQUEST_MAX},
    {"4a host 256", 0, true, 256, true, -EINVAL},
    {"4a host 256 no NUL", 0, true, 256, false, -EINVAL},
    {"4a host 255 no NUL yet", 0, true, 255, false, -EAGAIN},
};

static void test_request4_lengths(void **st)
{
    (void)st;
    uint8_t msg[8 + 1001 + 300];
    for (size_t i = 0; i < sizeof(len4_cases) / sizeof(*len4_cases); i++) {
        const struct len4_case *c = &len4_cases[i];
        union parsed u;
        print_message("socks4 lengths: %s\n", c->name);
        size_t n = build4(msg, c->ulen, c->unul, c->hlen, c->hnul);
        int rc = guard_parse(p_req4, msg, n, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        guard_check_prefixes(p_req4, msg, n, sizeof(union parsed));
        assert_int_equal(strlen(u.req4.userid), c->ulen);
        if (c->hlen)
            assert_int_equal(strlen(u.req4.dst.host), c->hlen);
    }
}

/* ---- encoders -------------------------------------------------------- */

static void set_ip(struct addr *a, const char *ip, uint16_t port)
{
    assert_int_equal(addr_from_ip(a, ip, port), 0);
}

/* fn must give -ENOSPC for every cap below want_len and want at it. */
static void check_encoded(int (*fn)(uint8_t *, size_t, const void *),
                          const void *arg, const uint8_t *want,
                          size_t want_len)
{
    uint8_t out[SOCKS5_REQUEST_MAX];
    for (size_t cap = 0; cap < want_len; cap++)
        assert_int_equal(fn(out, cap, arg), -ENOSPC);
    memset(out, 0xA5, sizeof(out));
    assert_int_equal(fn(out, want_len, arg), (int)want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[want_len], 0xA5); /* nothing written past it */
}

static int enc_addr(uint8_t *o, size_t cap, const void *arg)
{
    return socks5_encode_addr(o, cap, arg);
}

struct encaddr_case {
    const char *name;
    const char *host; /* via target_set_host */
    uint16_t port;
    const uint8_t *want;
    size_t want_len;
};

static const struct encaddr_case encaddr_cases[] = {
    {"ipv4", "1.2.3.4", 80, M("\x01\x01\x02\x03\x04\x00\x50")},
    {"ipv6", "2001:db8::1", 443, M("\x04" V6_DB8_1 "\x01\xbb")},
    {"name", "example.com", 8080, M("\x03\x0b" "example.com\x1f\x90")},
};

static void test_encode_addr(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(encaddr_cases) / sizeof(*encaddr_cases);
         i++) {
        const struct encaddr_case *c = &encaddr_cases[i];
        struct target t, back;
        print_message("encode addr: %s\n", c->name);
        assert_int_equal(
            target_set_host(&t, c->host, strlen(c->host), c->port), 0);
        check_encoded(enc_addr, &t, c->want, c->want_len);
        /* and it parses back to the same target */
        assert_int_equal(socks5_parse_addr(c->want, c->want_len, &back),
                         (int)c->want_len);
        assert_int_equal(back.kind, t.kind);
        assert_string_equal(back.host, t.host);
        assert_int_equal(back.port, t.port);
    }
}

static void test_encode_addr_invalid(void **st)
{
    (void)st;
    struct target t;
    uint8_t out[SOCKS5_REQUEST_MAX];
    memset(&t, 0, sizeof(t));
    assert_int_equal(socks5_encode_addr(out, sizeof(out), &t), -EINVAL);
    t.kind = TARGET_IP; /* with no address in it */
    assert_int_equal(socks5_encode_addr(out, sizeof(out), &t), -EINVAL);
    t.kind = TARGET_NAME; /* with an empty name */
    assert_int_equal(socks5_encode_addr(out, sizeof(out), &t), -EINVAL);
}

static void test_encode_addr_longest_name(void **st)
{
    (void)st;
    char host[256];
    uint8_t want[SOCKS5_REQUEST_MAX];
    struct target t;
    memset(host, 'a', 255);
    host[255] = '\0';
    assert_int_equal(target_set_host(&t, host, 255, 1), 0);
    want[0] = 3;
    want[1] = 255;
    memcpy(want + 2, host, 255);
    want[257] = 0;
    want[258] = 1;
    check_encoded(enc_addr, &t, want, 259);
}

static int enc_udp(uint8_t *o, size_t cap, const void *arg)
{
    return socks5_encode_udp_header(o, cap, arg);
}

static const struct encaddr_case encudp_cases[] = {
    {"ipv4", "127.0.0.1", 53, M("\0\0\0\x01\x7f\0\0\x01\x00\x35")},
    {"ipv6", "2001:db8::1", 443, M("\0\0\0\x04" V6_DB8_1 "\x01\xbb")},
    {"name", "example.com", 8080, M("\0\0\0\x03\x0b" "example.com\x1f\x90")},
};

static void test_encode_udp_header(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(encudp_cases) / sizeof(*encudp_cases);
         i++) {
        const struct encaddr_case *c = &encudp_cases[i];
        struct target t, back;
        uint8_t frag = 0xEE;
        print_message("encode udp header: %s\n", c->name);
        assert_int_equal(
            target_set_host(&t, c->host, strlen(c->host), c->port), 0);
        check_encoded(enc_udp, &t, c->want, c->want_len);
        assert_int_equal(
            socks5_parse_udp_header(c->want, c->want_len, &frag, &back),
            (int)c->want_len);
        assert_int_equal(frag, 0);
        assert_int_equal(back.kind, t.kind);
        assert_string_equal(back.host, t.host);
        assert_int_equal(back.port, t.port);
    }
}

static void test_encode_udp_header_invalid(void **st)
{
    (void)st;
    struct target t;
    uint8_t out[SOCKS5_UDP_HEADER_MAX];
    memset(&t, 0, sizeof(t));
    assert_int_equal(socks5_encode_udp_header(out, sizeof(out), &t),
                     -EINVAL);
    t.kind = TARGET_IP; /* with no address in it */
    assert_int_equal(socks5_encode_udp_header(out, sizeof(out), &t),
                     -EINVAL);
}

static int enc_method(uint8_t *o, size_t cap, const void *arg)
{
    return socks5_encode_method(o, cap, *(const uint8_t *)arg);
}

static int enc_status(uint8_t *o, size_t cap, const void *arg)
{
    return socks5_encode_userpass_status(o, cap, *(const uint8_t *)arg);
}

static void test_encode_small(void **st)
{
    (void)st;
    uint8_t v = SOCKS5_METHOD_USERPASS;
    check_encoded(enc_method, &v, M("\x05\x02"));
    v = SOCKS5_METHOD_UNACCEPTABLE;
    check_encoded(enc_method, &v, M("\x05\xff"));
    v = 0;
    check_encoded(enc_status, &v, M("\x01\x00"));
    v = 1;
    check_encoded(enc_status, &v, M("\x01\x01"));
}

struct reply_arg {
    uint8_t code;
    const struct addr *bnd;
};

static int enc_reply5(uint8_t *o, size_t cap, const void *arg)
{
    const struct reply_arg *r = arg;
    return socks5_encode_reply(o, cap, r->code, r->bnd);
}

static int enc_reply4(uint8_t *o, size_t cap, const void *arg)
{
    const struct reply_arg *r = arg;
    return socks4_encode_reply(o, cap, r->code, r->bnd);
}

static void test_encode_reply5(void **st)
{
    (void)st;
    struct addr v4, v6, unset;
    set_ip(&v4, "127.0.0.1", 1080);
    set_ip(&v6, "2001:db8::1", 443);
    memset(&unset, 0, sizeof(unset));
    struct reply_arg r = {0x00, NULL};
    check_encoded(enc_reply5, &r, M("\x05\x00\x00\x01\0\0\0\0\0\0"));
    r = (struct reply_arg){0x05, &unset};
    check_encoded(enc_reply5, &r, M("\x05\x05\x00\x01\0\0\0\0\0\0"));
    r = (struct reply_arg){0x00, &v4};
    check_encoded(enc_reply5, &r, M("\x05\x00\x00\x01\x7f\0\0\x01\x04\x38"));
    r = (struct reply_arg){0x04, &v6};
    check_encoded(enc_reply5, &r, M("\x05\x04\x00\x04" V6_DB8_1 "\x01\xbb"));
}

static void test_encode_reply4(void **st)
{
    (void)st;
    struct addr v4, v6;
    set_ip(&v4, "127.0.0.1", 1080);
    set_ip(&v6, "::1", 1080);
    struct reply_arg r = {90, &v4};
    check_encoded(enc_reply4, &r, M("\x00\x5a\x04\x38\x7f\0\0\x01"));
    r = (struct reply_arg){91, NULL};
    check_encoded(enc_reply4, &r, M("\x00\x5b\0\0\0\0\0\0"));
    r = (struct reply_arg){90, &v6};
    check_encoded(enc_reply4, &r, M("\x00\x5a\0\0\0\0\0\0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_table),
        cmocka_unit_test(test_greeting_255_methods),
        cmocka_unit_test(test_userpass_table),
        cmocka_unit_test(test_userpass_max),
        cmocka_unit_test(test_request5_table),
        cmocka_unit_test(test_request5_domain_255),
        cmocka_unit_test(test_udp_header_table),
        cmocka_unit_test(test_udp_header_domain_255),
        cmocka_unit_test(test_request4_table),
        cmocka_unit_test(test_request4_lengths),
        cmocka_unit_test(test_encode_addr),
        cmocka_unit_test(test_encode_addr_invalid),
        cmocka_unit_test(test_encode_addr_longest_name),
        cmocka_unit_test(test_encode_udp_header),
        cmocka_unit_test(test_encode_udp_header_invalid),
        cmocka_unit_test(test_encode_small),
        cmocka_unit_test(test_encode_reply5),
        cmocka_unit_test(test_encode_reply4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
