/* test_ws: table tests for proto/ws.c.
 *
 * Frame headers are decoded from a copy that ends right before an
 * unmapped page, so a read past len faults even without ASan; every
 * valid header is also fed at each shorter prefix, which must give
 * -EAGAIN.  The RFC 6455 examples (§1.3 handshake, §5.7 frames) are
 * checked byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "proto/ws.h"

#define M(s) (const uint8_t *)(s), sizeof(s) - 1
#define N_ELEM(a) (sizeof(a) / sizeof(*(a)))

/* ---- guard page ------------------------------------------------------ */

#include "../guard.h"

static int decode_guarded(const uint8_t *msg, size_t len, struct ws_frame *f)
{
    struct guard g;
    guard_put(&g, msg, len);
    memset(f, 0xA5, sizeof(*f));
    int rc = ws_decode_header(g.p, len, f);
    guard_free(&g);
    return rc;
}

/* Each strict prefix of a complete header must ask for more. */
static void check_prefixes(const uint8_t *msg, size_t full)
{
    struct ws_frame f;
    for (size_t k = 0; k < full; k++) {
        int rc = decode_guarded(msg, k, &f);
        if (rc != -EAGAIN)
            fail_msg("prefix %zu of %zu: got %d, want -EAGAIN", k, full,
                     rc);
    }
}

/* ---- handshake keys -------------------------------------------------- */

static void test_accept_key_rfc(void **st)
{
    (void)st;
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    char out[WS_ACCEPT_LEN + 2];
    memset(out, 'X', sizeof(out));
    assert_int_equal(ws_accept_key(key, strlen(key), out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(out[WS_ACCEPT_LEN + 1], 'X'); /* nothing past NUL */
}

static void test_accept_key_uses_len(void **st)
{
    (void)st;
    char a[WS_ACCEPT_LEN + 1], b[WS_ACCEPT_LEN + 1];
    static const char line[] = "dGhlIHNhbXBsZSBub25jZQ==\r\nHost: x";
    assert_int_equal(ws_accept_key(line, 24, a), 0);
    assert_string_equal(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_accept_key(line, 23, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(ws_accept_key("", 0, a), -EINVAL);
}

static void test_make_key(void **st)
{
    (void)st;
    char k1[WS_KEY_LEN + 1], k2[WS_KEY_LEN + 1];
    unsigned char raw[WS_KEY_LEN];
    assert_int_equal(ws_make_key(k1), 0);
    assert_int_equal(ws_make_key(k2), 0);
    assert_int_equal(strlen(k1), WS_KEY_LEN);
    assert_string_not_equal(k1, k2);
    /* base64 of exactly 16 bytes: 18 after decoding, two of them pad */
    assert_int_equal(k1[22], '=');
    assert_int_equal(k1[23], '=');
    assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)k1,
                                     WS_KEY_LEN),
                     18);
}

/* ---- frame headers --------------------------------------------------- */

struct decode_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    bool fin;
    uint8_t opcode;
    bool masked;
    uint64_t plen;
};

#define RFC_MASK "\x37\xfa\x21\x3d"
#define BAD(name, s) {name, M(s), -EPROTO, false, 0, false, 0}

static const struct decode_case decode_cases[] = {
    /* RFC 6455 §5.7 */
    {"unmasked text Hello", M("\x81\x05" "Hello"), 2, true, WS_TEXT, false,
     5},
    {"masked text Hello", M("\x81\x85" RFC_MASK "\x7f\x9f\x4d\x51\x58"), 6,
     true, WS_TEXT, true, 5},
    {"fragment Hel", M("\x01\x03" "Hel"), 2, false, WS_TEXT, false, 3},
    {"continuation lo", M("\x80\x02" "lo"), 2, true, WS_CONTINUATION, false,
     2},
    {"unmasked ping", M("\x89\x05" "Hello"), 2, true, WS_PING, false, 5},
    {"masked pong", M("\x8a\x85" RFC_MASK "\x7f\x9f\x4d\x51\x58"), 6, true,
     WS_PONG, true, 5},
    {"binary 256", M("\x82\x7e\x01\x00"), 4, true, WS_BINARY, false, 256},
    {"binary 64 KiB", M("\x82\x7f\0\0\0\0\0\x01\0\0"), 10, true, WS_BINARY,
     false, 65536},
    /* edges */
    {"empty binary", M("\x82\x00"), 2, true, WS_BINARY, false, 0},
    {"binary 125", M("\x82\x7d"), 2, true, WS_BINARY, false, 125},
    {"binary 126", M("\x82\x7e\x00\x7e"), 4, true, WS_BINARY, false, 126},
    {"binary 65535", M("\x02\x7e\xff\xff"), 4, false, WS_BINARY, false,
     65535},
    {"binary 2^63-1, masked",
     M("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff" RFC_MASK), 14, true,
     WS_BINARY, true, 0x7fffffffffffffffull},
    {"close 125", M("\x88\x7d"), 2, true, WS_CLOSE, false, 125},
    {"empty close, masked", M("\x88\x80" RFC_MASK), 6, true, WS_CLOSE, true,
     0},
    BAD("rsv1", "\xc2\x00"),
    BAD("rsv2", "\xa2\x00"),
    BAD("rsv3", "\x92\x00"),
    BAD("rsv1 alone", "\x40"),
    BAD("opcode 3", "\x83\x00"),
    BAD("opcode 7", "\x87"),
    BAD("opcode 0xb", "\x8b\x00"),
    BAD("opcode 0xf", "\x8f"),
    BAD("fragmented ping", "\x09\x00"),
    BAD("fragmented close, alone", "\x08"),
    BAD("close 126", "\x88\x7e\x00\x7e"),
    BAD("ping 127 form", "\x89\x7f"),
    BAD("pong 126 form, short", "\x8a\x7e"),
    BAD("126 form for 125", "\x82\x7e\x00\x7d"),
    BAD("126 form for 0", "\x82\x7e\x00\x00"),
    BAD("127 form for 65535", "\x82\x7f\0\0\0\0\0\0\xff\xff"),
    BAD("127 form for 0", "\x82\x7f\0\0\0\0\0\0\0\0"),
    BAD("127 form, top bit", "\x82\x7f\x80\0\0\0\0\0\0\0"),
    BAD("127 form, all ones", "\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
};

static void test_decode_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < N_ELEM(decode_cases); i++) {
        const struct decode_case *c = &decode_cases[i];
        struct ws_frame f;
        print_message("decode: %s\n", c->name);
        int rc = decode_guarded(c->msg, c->len, &f);
        assert_int_equal(rc, c->rc);
        if (rc < 0)
            continue;
        assert_int_equal(f.fin, c->fin);
        assert_int_equal(f.opcode, c->opcode);
        assert_int_equal(f.masked, c->masked);
        assert_int_equal(f.len, c->plen);
        assert_int_equal(f.header_len, (size_t)rc);
        if (c->masked)
            assert_memory_equal(f.mask, c->msg + rc - 4, 4);
        check_prefixes(c->msg, (size_t)rc);
    }
}

/* ---- masking --------------------------------------------------------- */

static void test_unmask_rfc(void **st)
{
    (void)st;
    static const uint8_t frame[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct ws_frame f;
    uint8_t payload[5];
    assert_int_equal(ws_decode_header(frame, sizeof(frame), &f), 6);
    memcpy(payload, frame + 6, 5);
    ws_apply_mask(payload, 5, f.mask, 0);
    assert_memory_equal(payload, "Hello", 5);
    ws_apply_mask(payload, 5, f.mask, 0); /* and back */
    assert_memory_equal(payload, frame + 6, 5);
}

/* Unmasking in pieces of any sizes, each at its offset in the payload,
 * gives what unmasking it all at once gives. */
static void test_mask_in_pieces(void **st)
{
    (void)st;
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t whole[300], pieces[300];
    for (size_t i = 0; i < sizeof(whole); i++)
        whole[i] = (uint8_t)(i * 7 + 3);
    memcpy(pieces, whole, sizeof(whole));
    ws_apply_mask(whole, sizeof(whole), mask, 0);
    for (size_t i = 0; i < sizeof(whole); i++) /* RFC 6455 5.3 */
        assert_int_equal(whole[i], pieces[i] ^ mask[i % 4]);
    for (size_t step = 1; step <= 9; step++) {
        uint8_t copy[300];
        memcpy(copy, pieces, sizeof(copy));
        for (size_t off = 0, n = step; off < sizeof(copy);
             off += n, n = n % 5 + step) {
            if (n > sizeof(copy) - off)
                n = sizeof(copy) - off;
            ws_apply_mask(copy + off, n, mask, off);
        }
        assert_memory_equal(copy, whole, sizeof(whole));
    }
}

static void test_mask_large_offset(void **st)
{
    (void)st;
    static const uint8_t mask[4] = {1, 2, 4, 8};
    uint8_t data[3] = {0, 0, 0};
    ws_apply_mask(data, 3, mask, 0x100000003ull); /* offset % 4 == 3 */
    assert_int_equal(data[0], 8);
    assert_int_equal(data[1], 1);
    assert_int_equal(data[2], 2);
    ws_apply_mask(data, 0, mask, 0); /* nothing to do */
}

/* ---- encode ---------------------------------------------------------- */

struct encode_case {
    const char *name;
    uint8_t opcode;
    uint64_t len;
    bool masked;
    const uint8_t *want;
    size_t want_len;
};

static const struct encode_case encode_cases[] = {
    {"text Hello", WS_TEXT, 5, false, M("\x81\x05")},
    {"masked text Hello", WS_TEXT, 5, true, M("\x81\x85" RFC_MASK)},
    {"masked pong", WS_PONG, 5, true, M("\x8a\x85" RFC_MASK)},
    {"binary 0", WS_BINARY, 0, false, M("\x82\x00")},
    {"binary 125", WS_BINARY, 125, false, M("\x82\x7d")},
    {"binary 126", WS_BINARY, 126, false, M("\x82\x7e\x00\x7e")},
    {"binary 256", WS_BINARY, 256, false, M("\x82\x7e\x01\x00")},
    {"binary 65535", WS_BINARY, 65535, true,
     M("\x82\xfe\xff\xff" RFC_MASK)},
    {"binary 65536", WS_BINARY, 65536, false,
     M("\x82\x7f\0\0\0\0\0\x01\0\0")},
    {"binary 2^63-1, masked", WS_BINARY, 0x7fffffffffffffffull, true,
     M("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff" RFC_MASK)},
    {"close 2", WS_CLOSE, 2, false, M("\x88\x02")},
};

static void test_encode_table(void **st)
{
    (void)st;
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    for (size_t i = 0; i < N_ELEM(encode_cases); i++) {
        const struct encode_case *c = &encode_cases[i];
        uint8_t out[WS_HEADER_MAX + 1];
        struct ws_frame f;
        print_message("encode: %s\n", c->name);
        memset(out, 0xEE, sizeof(out));
        size_t n = ws_encode_header(out, c->opcode, c->len,
                                    c->masked ? mask : NULL);
        assert_int_equal(n, c->want_len);
        assert_memory_equal(out, c->want, n);
        assert_int_equal(out[n], 0xEE); /* nothing written past it */
        /* and it decodes back to the same frame, in its shortest form */
        assert_int_equal(decode_guarded(out, n, &f), (int)n);
        assert_true(f.fin);
        assert_int_equal(f.opcode, c->opcode);
        assert_int_equal(f.masked, c->masked);
        assert_int_equal(f.len, c->len);
        check_prefixes(out, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc),
        cmocka_unit_test(test_accept_key_uses_len),
        cmocka_unit_test(test_make_key),
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_unmask_rfc),
        cmocka_unit_test(test_mask_in_pieces),
        cmocka_unit_test(test_mask_large_offset),
        cmocka_unit_test(test_encode_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
