/* test_tunmsg: table tests for proto/tunmsg.c.
 *
 * Every parse runs on a copy that ends right before an unmapped page
 * (picohttpparser's trick), so a read past len faults even without ASan.
 * Every valid message is also fed at each shorter prefix, which must give
 * -EAGAIN; encoders must give -ENOSPC at every smaller capacity. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/tunmsg.h"

#define M(s) (const uint8_t *)(s), sizeof(s) - 1
#define N_ELEM(a) (sizeof(a) / sizeof(*(a)))

/* ---- guard page ------------------------------------------------------ */

#include "../guard.h"

/* The parsers share one shape; wrap each to take a union of outputs. */
union parsed {
    struct tunmsg_hello hello;
    struct tunmsg_welcome welcome;
    struct tunmsg_open open;
    enum result reply;
    struct {
        const uint8_t *data;
        size_t len;
    } dgram;
};

static int p_hello(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return tunmsg_parse_hello(b, n, &u->hello);
}

static int p_welcome(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return tunmsg_parse_welcome(b, n, &u->welcome);
}

static int p_open(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return tunmsg_parse_open(b, n, &u->open);
}

static int p_reply(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return tunmsg_parse_reply(b, n, &u->reply);
}

static int p_dgram(const uint8_t *b, size_t n, void *out)
{
    union parsed *u = out;
    return tunmsg_parse_dgram(b, n, &u->dgram.data, &u->dgram.len);
}

/* fn must give -ENOSPC for every cap below want_len and want at it. */
static void check_encoded(int (*fn)(uint8_t *, size_t, const void *),
                          const void *arg, const uint8_t *want,
                          size_t want_len)
{
    uint8_t out[TUNMSG_OPEN_MAX + 1];
    for (size_t cap = 0; cap < want_len; cap++)
        assert_int_equal(fn(out, cap, arg), -ENOSPC);
    memset(out, 0xA5, sizeof(out));
    assert_int_equal(fn(out, want_len, arg), (int)want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[want_len], 0xA5); /* nothing written past it */
}

/* ---- hello ----------------------------------------------------------- */

struct hello_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    const char *token, *id, *group;
    unsigned link;
};

#define PRE "FRY1\x01"
#define TOK "\x01\x03" "tok"
#define AID "\x02\x02" "a1"
#define GRP "\x03\x03" "grp"
#define BADH(name, s, rc) {name, M(s), rc, NULL, NULL, NULL, 0}

static const struct hello_case hello_cases[] = {
    {"all four", M(PRE "\x00\x11" TOK AID GRP "\x04\x01" "3"), 24, "tok",
     "a1", "grp", 3},
    {"no link is link 0", M(PRE "\x00\x0e" TOK AID GRP), 21, "tok", "a1",
     "grp", 0},
    {"other order", M(PRE "\x00\x13" "\x04\x03" "255" GRP AID TOK), 26,
     "tok", "a1", "grp", 255},
    {"link 0", M(PRE "\x00\x11" TOK AID GRP "\x04\x01" "0"), 24, "tok", "a1",
     "grp", 0},
    {"link with leading zero", M(PRE "\x00\x13" TOK AID GRP "\x04\x03" "007"),
     26, "tok", "a1", "grp", 7},
    {"unknown fields skipped",
     M(PRE "\x00\x17" "\x09\x02" "zz" TOK AID "\xff\x00" GRP "\x00\x01" "q"),
     30, "tok", "a1", "grp", 0},
    {"unknown field may hold a NUL", M(PRE "\x00\x11" TOK AID GRP "\x05\x01\0"),
     24, "tok", "a1", "grp", 0},
    {"trailing yamux bytes left", M(PRE "\x00\x0e" TOK AID GRP "\x00\x01"),
     21, "tok", "a1", "grp", 0},
    BADH("wrong magic", "FRY0\x01\x00\x0e" TOK AID GRP, -EPROTO),
    BADH("http, one byte", "G", -EPROTO),
    BADH("http", "GET / HTTP/1.1\r\n", -EPROTO),
    BADH("magic cut short, wrong", "FRX", -EPROTO),
    BADH("version 0", "FRY1\x00\x00\x10", -EPROTO),
    BADH("version 2, nothing else yet", "FRY1\x02", -EPROTO),
    BADH("no fields", PRE "\x00\x00", -EINVAL),
    BADH("L too large", PRE "\xff\xff", -EINVAL),
    BADH("L just too large", PRE "\x04\x15", -EINVAL),
    BADH("no token", PRE "\x00\x09" AID GRP, -EINVAL),
    BADH("no id", PRE "\x00\x0a" TOK GRP, -EINVAL),
    BADH("no group", PRE "\x00\x09" TOK AID, -EINVAL),
    BADH("empty token", PRE "\x00\x0b" "\x01\x00" AID GRP, -EINVAL),
    BADH("empty group", PRE "\x00\x0b" TOK AID "\x03\x00", -EINVAL),
    BADH("NUL in token", PRE "\x00\x0e" "\x01\x03" "t\0k" AID GRP, -EINVAL),
    BADH("NUL in id", PRE "\x00\x0e" TOK "\x02\x02" "a\0" GRP, -EINVAL),
    BADH("token twice", PRE "\x00\x13" TOK AID GRP TOK, -EINVAL),
    BADH("link twice", PRE "\x00\x14" TOK AID GRP "\x04\x01" "1\x04\x01" "2",
         -EINVAL),
    BADH("link 256", PRE "\x00\x13" TOK AID GRP "\x04\x03" "256", -EINVAL),
    BADH("link 1000", PRE "\x00\x14" TOK AID GRP "\x04\x04" "1000", -EINVAL),
    BADH("link empty", PRE "\x00\x10" TOK AID GRP "\x04\x00", -EINVAL),
    BADH("link not a number", PRE "\x00\x12" TOK AID GRP "\x04\x02" "1a",
         -EINVAL),
    BADH("link negative", PRE "\x00\x12" TOK AID GRP "\x04\x02" "-1",
         -EINVAL),
    BADH("link with space", PRE "\x00\x12" TOK AID GRP "\x04\x02" " 1",
         -EINVAL),
    BADH("field runs past L", PRE "\x00\x12" TOK AID GRP "\x09\x05" "ab",
         -EINVAL),
    BADH("field type without length", PRE "\x00\x0f" TOK AID GRP "\x09",
         -EINVAL),
};

static void test_hello_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < N_ELEM(hello_cases); i++) {
        const struct hello_case *c = &hello_cases[i];
        union parsed u;
        print_message("hello: %s\n", c->name);
        int rc = guard_parse(p_hello, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_string_equal(u.hello.token, c->token);
        assert_string_equal(u.hello.id, c->id);
        assert_string_equal(u.hello.group, c->group);
        assert_int_equal(u.hello.link, c->link);
        guard_check_prefixes(p_hello, c->msg, (size_t)rc, sizeof(union parsed));
    }
}

/* A hello of L field bytes: token, id and group of n bytes each, then an
 * unknown field filling up to L.  The largest sane L parses; one more is
 * refused before its bytes arrive. */
static size_t build_hello(uint8_t *msg, size_t n, size_t fields)
{
    size_t off = 7;
    memcpy(msg, PRE, 5);
    msg[5] = (uint8_t)(fields >> 8);
    msg[6] = (uint8_t)fields;
    for (uint8_t type = TUNMSG_F_TOKEN; type <= TUNMSG_F_GROUP; type++) {
        msg[off++] = type;
        msg[off++] = (uint8_t)n;
        memset(msg + off, 'a' + type, n);
        off += n;
    }
    while (off < 7 + fields) {
        size_t pad = 7 + fields - off - 2;
        pad = pad > 255 ? 255 : pad;
        msg[off++] = 0x7f;
        msg[off++] = (uint8_t)pad;
        memset(msg + off, 'z', pad);
        off += pad;
    }
    return off;
}

static void test_hello_lengths(void **st)
{
    (void)st;
    uint8_t msg[7 + 2000];
    union parsed u;
    size_t sane = 4 * (2 + TUNMSG_FIELD_MAX) + 16;
    size_t n = build_hello(msg, TUNMSG_FIELD_MAX, sane);
    assert_int_equal(guard_parse(p_hello, msg, n, &u, sizeof(u)), (int)n);
    assert_int_equal(strlen(u.hello.token), TUNMSG_FIELD_MAX);
    assert_int_equal(strlen(u.hello.group), TUNMSG_FIELD_MAX);
    assert_int_equal(u.hello.group[0], 'a' + TUNMSG_F_GROUP);
    guard_check_prefixes(p_hello, msg, n, sizeof(union parsed));
    n = build_hello(msg, TUNMSG_FIELD_MAX, sane + 1);
    assert_int_equal(guard_parse(p_hello, msg, 7, &u, sizeof(u)), -EINVAL);
    assert_int_equal(guard_parse(p_hello, msg, n, &u, sizeof(u)), -EINVAL);
}

static int enc_hello(uint8_t *o, size_t cap, const void *arg)
{
    return tunmsg_encode_hello(o, cap, arg);
}

static void test_hello_encode(void **st)
{
    (void)st;
    struct tunmsg_hello h = {.token = "tok", .id = "a1", .group = "grp",
                             .link = 3};
    union parsed u;
    check_encoded(enc_hello, &h, M(PRE "\x00\x11" TOK AID GRP "\x04\x01" "3"));
    h.link = 255;
    check_encoded(enc_hello, &h,
                  M(PRE "\x00\x13" TOK AID GRP "\x04\x03" "255"));
    memset(h.token, 'T', TUNMSG_FIELD_MAX);
    uint8_t out[1100];
    int n = tunmsg_encode_hello(out, sizeof(out), &h);
    assert_int_equal(n, 7 + 2 + 255 + 4 + 5 + 5);
    assert_int_equal(guard_parse(p_hello, out, (size_t)n, &u, sizeof(u)), n);
    assert_string_equal(u.hello.token, h.token);
    assert_int_equal(u.hello.link, 255);
}

static void test_hello_encode_invalid(void **st)
{
    (void)st;
    uint8_t out[1100];
    struct tunmsg_hello ok = {.token = "t", .id = "i", .group = "g"};
    struct tunmsg_hello h = ok;
    h.token[0] = '\0';
    assert_int_equal(tunmsg_encode_hello(out, sizeof(out), &h), -EINVAL);
    h = ok;
    h.id[0] = '\0';
    assert_int_equal(tunmsg_encode_hello(out, 0, &h), -EINVAL);
    h = ok;
    h.group[0] = '\0';
    assert_int_equal(tunmsg_encode_hello(out, sizeof(out), &h), -EINVAL);
    h = ok;
    h.link = 256;
    assert_int_equal(tunmsg_encode_hello(out, sizeof(out), &h), -EINVAL);
    h = ok;
    memset(h.group, 'g', sizeof(h.group)); /* no NUL: 256 bytes */
    assert_int_equal(tunmsg_encode_hello(out, sizeof(out), &h), -EINVAL);
}

/* ---- welcome --------------------------------------------------------- */

struct welcome_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    uint8_t status;
    const char *message;
};

static const struct welcome_case welcome_cases[] = {
    {"ok", M(PRE "\x00\x00"), 7, TUNMSG_WELCOME_OK, ""},
    {"ok with text", M(PRE "\x00\x02" "hi"), 9, TUNMSG_WELCOME_OK, "hi"},
    {"bad token", M(PRE "\x01\x09" "bad token"), 16, TUNMSG_WELCOME_AUTH,
     "bad token"},
    {"group", M(PRE "\x04\x00"), 7, TUNMSG_WELCOME_GROUP, ""},
    {"unknown status parses", M(PRE "\xc8\x01" "?"), 8, 200, "?"},
    {"yamux bytes behind it left", M(PRE "\x00\x00" "\x00\x02"), 7, 0, ""},
    {"wrong magic", M("FRY2\x01\x00\x00"), -EPROTO, 0, NULL},
    {"yamux instead", M("\x00\x00\x00\x00"), -EPROTO, 0, NULL},
    {"version 2", M("FRY1\x02\x00\x00"), -EPROTO, 0, NULL},
    {"NUL in message", M(PRE "\x01\x03" "a\0b"), -EINVAL, 0, NULL},
};

static void test_welcome_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < N_ELEM(welcome_cases); i++) {
        const struct welcome_case *c = &welcome_cases[i];
        union parsed u;
        print_message("welcome: %s\n", c->name);
        int rc = guard_parse(p_welcome, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_int_equal(u.welcome.status, c->status);
        assert_string_equal(u.welcome.message, c->message);
        guard_check_prefixes(p_welcome, c->msg, (size_t)rc,
                             sizeof(union parsed));
    }
}

static int enc_welcome(uint8_t *o, size_t cap, const void *arg)
{
    return tunmsg_encode_welcome(o, cap, arg);
}

static void test_welcome_encode(void **st)
{
    (void)st;
    struct tunmsg_welcome w = {TUNMSG_WELCOME_OK, ""};
    check_encoded(enc_welcome, &w, M(PRE "\x00\x00"));
    w = (struct tunmsg_welcome){TUNMSG_WELCOME_VERSION, "speak v1"};
    check_encoded(enc_welcome, &w, M(PRE "\x03\x08" "speak v1"));

    uint8_t out[7 + 256];
    union parsed u;
    memset(w.message, 'm', TUNMSG_FIELD_MAX);
    w.message[TUNMSG_FIELD_MAX] = '\0';
    assert_int_equal(tunmsg_encode_welcome(out, sizeof(out), &w), 7 + 255);
    assert_int_equal(guard_parse(p_welcome, out, 7 + 255, &u, sizeof(u)),
                     7 + 255);
    assert_string_equal(u.welcome.message, w.message);
    memset(w.message, 'm', sizeof(w.message)); /* no NUL */
    assert_int_equal(tunmsg_encode_welcome(out, sizeof(out), &w), -EINVAL);
}

/* ---- open request ---------------------------------------------------- */

struct open_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    uint8_t kind;
    enum target_kind tkind;
    const char *host;
    uint16_t port;
    unsigned n_tags;
    const char *user; /* the "user" tag, or NULL */
};

#define V4_1234 "\x01\x01\x02\x03\x04\x00\x50"
#define V6_DB8_1 "\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x01\xbb"
#define NAME_EX "\x03\x0b" "example.com\x1f\x90"
#define BADO(name, s, rc) {name, M(s), rc, 0, TARGET_NONE, NULL, 0, 0, NULL}

static const struct open_case open_cases[] = {
    {"tcp ipv4 no tags", M("\x01\x01" V4_1234 "\x00"), 10, TUNMSG_TCP,
     TARGET_IP, "1.2.3.4", 80, 0, NULL},
    {"tcp ipv6", M("\x01\x01" V6_DB8_1 "\x00"), 22, TUNMSG_TCP, TARGET_IP,
     "2001:db8::1", 443, 0, NULL},
    {"udp name, two tags",
     M("\x01\x02" NAME_EX "\x02" "\x04user\x03" "bob" "\x06" "client\x08"
       "10.0.0.7"),
     43, TUNMSG_UDP, TARGET_NAME, "example.com", 8080, 2, "bob"},
    {"empty tag value", M("\x01\x01" V4_1234 "\x01\x04user\x00"), 16,
     TUNMSG_TCP, TARGET_IP, "1.2.3.4", 80, 1, ""},
    {"four tags", M("\x01\x01" V4_1234 "\x04\x01" "a\x00\x01" "b\x00\x01"
                    "c\x00\x04" "user\x01" "u"),
     26, TUNMSG_TCP, TARGET_IP, "1.2.3.4", 80, 4, "u"},
    {"name is a literal", M("\x01\x01\x03\x03::1\x00\x35\x00"), 10,
     TUNMSG_TCP, TARGET_IP, "::1", 53, 0, NULL},
    {"stream bytes behind it left", M("\x01\x01" V4_1234 "\x00" "GET /"), 10,
     TUNMSG_TCP, TARGET_IP, "1.2.3.4", 80, 0, NULL},
    BADO("version 0", "\x00\x01" V4_1234 "\x00", -EPROTO),
    BADO("version 2, alone", "\x02", -EPROTO),
    BADO("kind 0", "\x01\x00" V4_1234 "\x00", -EINVAL),
    BADO("kind 3, short", "\x01\x03", -EINVAL),
    BADO("atyp 2", "\x01\x01\x02", -EAFNOSUPPORT),
    BADO("atyp 0", "\x01\x01\x00\x01\x02\x03\x04\x00\x50\x00", -EAFNOSUPPORT),
    BADO("empty name", "\x01\x01\x03\x00\x00\x50\x00", -EINVAL),
    BADO("name with slash", "\x01\x01\x03\x03" "a/b\x00\x50\x00", -EINVAL),
    BADO("five tags", "\x01\x01" V4_1234 "\x05", -EINVAL),
    BADO("255 tags", "\x01\x01" V4_1234 "\xff", -EINVAL),
    BADO("empty key", "\x01\x01" V4_1234 "\x01\x00", -EINVAL),
    BADO("NUL in key", "\x01\x01" V4_1234 "\x01\x02" "u\0\x01" "v", -EINVAL),
    BADO("NUL in value", "\x01\x01" V4_1234 "\x01\x01" "u\x02" "v\0",
         -EINVAL),
};

static void test_open_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < N_ELEM(open_cases); i++) {
        const struct open_case *c = &open_cases[i];
        union parsed u;
        print_message("open: %s\n", c->name);
        int rc = guard_parse(p_open, c->msg, c->len, &u, sizeof(u));
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_int_equal(u.open.kind, c->kind);
        assert_int_equal(u.open.target.kind, c->tkind);
        assert_string_equal(u.open.target.host, c->host);
        assert_int_equal(u.open.target.port, c->port);
        assert_int_equal(u.open.n_tags, c->n_tags);
        const char *user = tunmsg_tag(&u.open, "user");
        if (c->user)
            assert_string_equal(user, c->user);
        else
            assert_null(user);
        guard_check_prefixes(p_open, c->msg, (size_t)rc, sizeof(union parsed));
    }
}

static void test_open_tag_lookup(void **st)
{
    (void)st;
    struct tunmsg_open o = {.n_tags = 2,
                            .tags = {{"user", "bob"}, {"client", "c"}}};
    assert_string_equal(tunmsg_tag(&o, "user"), "bob");
    assert_string_equal(tunmsg_tag(&o, "client"), "c");
    assert_null(tunmsg_tag(&o, "User"));
    assert_null(tunmsg_tag(&o, ""));
    o.n_tags = 1;
    assert_null(tunmsg_tag(&o, "client"));
}

/* The longest open: a 255-byte name and four tags of 255-byte keys and
 * values, exactly TUNMSG_OPEN_MAX bytes. */
static void build_longest_open(struct tunmsg_open *o)
{
    char host[TARGET_HOST_MAX + 1];
    memset(o, 0, sizeof(*o));
    memset(host, 'h', TARGET_HOST_MAX);
    host[TARGET_HOST_MAX] = '\0';
    o->kind = TUNMSG_UDP;
    assert_int_equal(target_set_host(&o->target, host, TARGET_HOST_MAX, 1),
                     0);
    o->n_tags = TUNMSG_TAGS_MAX;
    for (unsigned i = 0; i < TUNMSG_TAGS_MAX; i++) {
        memset(o->tags[i].key, 'k', TUNMSG_FIELD_MAX);
        memset(o->tags[i].value, 'v', TUNMSG_FIELD_MAX);
        o->tags[i].key[0] = (char)('0' + i);
    }
}

static void test_open_longest(void **st)
{
    (void)st;
    static struct tunmsg_open o;
    static union parsed u;
    uint8_t out[TUNMSG_OPEN_MAX];
    build_longest_open(&o);
    assert_int_equal(tunmsg_encode_open(out, sizeof(out), &o),
                     TUNMSG_OPEN_MAX);
    assert_int_equal(tunmsg_encode_open(out, sizeof(out) - 1, &o), -ENOSPC);
    assert_int_equal(guard_parse(p_open, out, sizeof(out), &u, sizeof(u)),
                     TUNMSG_OPEN_MAX);
    assert_string_equal(u.open.target.host, o.target.host);
    assert_int_equal(u.open.n_tags, TUNMSG_TAGS_MAX);
    assert_string_equal(u.open.tags[3].key, o.tags[3].key);
    assert_string_equal(u.open.tags[3].value, o.tags[3].value);
    guard_check_prefixes(p_open, out, sizeof(out), sizeof(union parsed));
}

static int enc_open(uint8_t *o, size_t cap, const void *arg)
{
    return tunmsg_encode_open(o, cap, arg);
}

static void set_target(struct target *t, const char *host, uint16_t port)
{
    assert_int_equal(target_set_host(t, host, strlen(host), port), 0);
}

static void test_open_encode(void **st)
{
    (void)st;
    struct tunmsg_open o = {.kind = TUNMSG_TCP};
    set_target(&o.target, "1.2.3.4", 80);
    check_encoded(enc_open, &o, M("\x01\x01" V4_1234 "\x00"));
    set_target(&o.target, "2001:db8::1", 443);
    check_encoded(enc_open, &o, M("\x01\x01" V6_DB8_1 "\x00"));
    o = (struct tunmsg_open){.kind = TUNMSG_UDP, .n_tags = 2,
                             .tags = {{"user", "bob"},
                                      {"client", "10.0.0.7"}}};
    set_target(&o.target, "example.com", 8080);
    check_encoded(enc_open, &o,
                  M("\x01\x02" NAME_EX "\x02" "\x04user\x03" "bob" "\x06"
                    "client\x08" "10.0.0.7"));
}

static void test_open_encode_invalid(void **st)
{
    (void)st;
    uint8_t out[TUNMSG_OPEN_MAX];
    struct tunmsg_open ok = {.kind = TUNMSG_TCP, .n_tags = 1,
                             .tags = {{"user", "u"}}};
    set_target(&ok.target, "example.com", 443);
    struct tunmsg_open o = ok;
    o.kind = 0;
    assert_int_equal(tunmsg_encode_open(out, sizeof(out), &o), -EINVAL);
    o.kind = 3;
    assert_int_equal(tunmsg_encode_open(out, sizeof(out), &o), -EINVAL);
    o = ok;
    o.target.kind = TARGET_NONE;
    assert_int_equal(tunmsg_encode_open(out, sizeof(out), &o), -EINVAL);
    o = ok;
    o.n_tags = TUNMSG_TAGS_MAX + 1;
    assert_int_equal(tunmsg_encode_open(out, sizeof(out), &o), -EINVAL);
    o = ok;
    o.tags[0].key[0] = '\0';
    assert_int_equal(tunmsg_encode_open(out, 0, &o), -EINVAL);
    o = ok;
    memset(o.tags[0].value, 'v', sizeof(o.tags[0].value)); /* no NUL */
    assert_int_equal(tunmsg_encode_open(out, sizeof(out), &o), -EINVAL);
}

/* ---- open reply ------------------------------------------------------ */

/* docs/protocol.md section 4, code by code. */
static const enum result wire_codes[] = {
    RESULT_OK,          RESULT_DENIED,       RESULT_DNS,
    RESULT_REFUSED,     RESULT_NET_UNREACH,  RESULT_HOST_UNREACH,
    RESULT_TIMEOUT,     RESULT_NO_TUNNEL,    RESULT_BAD_REQUEST,
    RESULT_BAD_ADDRTYPE, RESULT_INTERNAL,    RESULT_SHUTDOWN,
    RESULT_AUTH,        RESULT_NOT_IMPLEMENTED, RESULT_UPSTREAM,
};

static void test_reply_parse(void **st)
{
    (void)st;
    union parsed u;
    for (unsigned code = 0; code < 256; code++) {
        uint8_t msg[3] = {TUNMSG_VERSION, (uint8_t)code, 0xEE};
        enum result want = code < N_ELEM(wire_codes) ? wire_codes[code]
                                                     : RESULT_INTERNAL;
        assert_int_equal(guard_parse(p_reply, msg, sizeof(msg), &u, sizeof(u)),
                         2);
        assert_int_equal(u.reply, want);
        guard_check_prefixes(p_reply, msg, 2, sizeof(union parsed));
    }
    assert_int_equal(guard_parse(p_reply, M("\x00\x00"), &u, sizeof(u)),
                     -EPROTO);
    assert_int_equal(guard_parse(p_reply, M("\x02"), &u, sizeof(u)), -EPROTO);
}

/* What a result reads as at the far end: itself, but for the HTTP-only
 * request errors, which travel as "bad request". */
static enum result on_the_wire(enum result r)
{
    if (r == RESULT_HEAD_TOO_LARGE || r == RESULT_BAD_METHOD)
        return RESULT_BAD_REQUEST;
    return r;
}

static void test_reply_encode(void **st)
{
    (void)st;
    uint8_t out[3];
    enum result back;
    for (int r = 0; r < RESULT__COUNT; r++) {
        print_message("reply: %s\n", result_word((enum result)r));
        memset(out, 0xEE, sizeof(out));
        assert_int_equal(tunmsg_encode_reply(out, 1, (enum result)r),
                         -ENOSPC);
        assert_int_equal(tunmsg_encode_reply(out, 2, (enum result)r), 2);
        assert_int_equal(out[0], TUNMSG_VERSION);
        assert_int_equal(out[2], 0xEE);
        assert_true(out[1] < N_ELEM(wire_codes));
        assert_int_equal(wire_codes[out[1]], on_the_wire((enum result)r));
        assert_int_equal(tunmsg_parse_reply(out, 2, &back), 2);
        assert_int_equal(back, on_the_wire((enum result)r));
    }
    assert_int_equal(tunmsg_encode_reply(out, 2, RESULT__COUNT), -EINVAL);
    assert_int_equal(tunmsg_encode_reply(out, 2, (enum result)-1), -EINVAL);
}

static void test_reply_spot_codes(void **st)
{
    (void)st;
    uint8_t out[2];
    tunmsg_encode_reply(out, 2, RESULT_AUTH);
    assert_int_equal(out[1], 12);
    tunmsg_encode_reply(out, 2, RESULT_NOT_IMPLEMENTED);
    assert_int_equal(out[1], 13);
    tunmsg_encode_reply(out, 2, RESULT_HEAD_TOO_LARGE);
    assert_int_equal(out[1], 8);
    tunmsg_encode_reply(out, 2, RESULT_BAD_METHOD);
    assert_int_equal(out[1], 8);
    tunmsg_encode_reply(out, 2, RESULT_SHUTDOWN);
    assert_int_equal(out[1], 11);
    tunmsg_encode_reply(out, 2, RESULT_UPSTREAM);
    assert_int_equal(out[1], 14);
}

/* ---- datagrams ------------------------------------------------------- */

struct dgram_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    const char *data;
};

static const struct dgram_case dgram_cases[] = {
    {"empty datagram", M("\x00\x00"), 2, ""},
    {"three bytes", M("\x00\x03" "abc"), 5, "abc"},
    {"next one left", M("\x00\x01" "a\x00\x01" "b"), 3, "a"},
    {"binary", M("\x00\x02\x00\xff"), 4, "\x00\xff"},
};

static void test_dgram_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < N_ELEM(dgram_cases); i++) {
        const struct dgram_case *c = &dgram_cases[i];
        struct guard g;
        const uint8_t *data = NULL;
        size_t dlen = 0;
        print_message("dgram: %s\n", c->name);
        guard_put(&g, c->msg, c->len);
        assert_int_equal(tunmsg_parse_dgram(g.p, c->len, &data, &dlen),
                         c->rc);
        assert_ptr_equal(data, g.p + 2);
        assert_int_equal(dlen, (size_t)c->rc - 2);
        assert_memory_equal(data, c->data, dlen);
        guard_free(&g);
        guard_check_prefixes(p_dgram, c->msg, (size_t)c->rc,
                             sizeof(union parsed));
    }
}

static void test_dgram_max(void **st)
{
    (void)st;
    static uint8_t msg[2 + TUNMSG_DGRAM_MAX + 1];
    union parsed u;
    memset(msg, 'd', sizeof(msg));
    tunmsg_encode_dgram_len(msg, TUNMSG_DGRAM_MAX);
    assert_int_equal(msg[0], 0xff);
    assert_int_equal(msg[1], 0xff);
    assert_int_equal(guard_parse(p_dgram, msg, sizeof(msg), &u, sizeof(u)),
                     2 + TUNMSG_DGRAM_MAX);
    assert_int_equal(u.dgram.len, TUNMSG_DGRAM_MAX);
    assert_int_equal(guard_parse(p_dgram, msg, sizeof(msg) - 2, &u, sizeof(u)),
                     -EAGAIN);
    tunmsg_encode_dgram_len(msg, 0x0102);
    assert_int_equal(msg[0], 0x01);
    assert_int_equal(msg[1], 0x02);
    tunmsg_encode_dgram_len(msg, 0);
    assert_int_equal(guard_parse(p_dgram, msg, 2, &u, sizeof(u)), 2);
    assert_int_equal(u.dgram.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_table),
        cmocka_unit_test(test_hello_lengths),
        cmocka_unit_test(test_hello_encode),
        cmocka_unit_test(test_hello_encode_invalid),
        cmocka_unit_test(test_welcome_table),
        cmocka_unit_test(test_welcome_encode),
        cmocka_unit_test(test_open_table),
        cmocka_unit_test(test_open_tag_lookup),
        cmocka_unit_test(test_open_longest),
        cmocka_unit_test(test_open_encode),
        cmocka_unit_test(test_open_encode_invalid),
        cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_reply_encode),
        cmocka_unit_test(test_reply_spot_codes),
        cmocka_unit_test(test_dgram_table),
        cmocka_unit_test(test_dgram_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
