/* test_yamux: table tests for proto/yamux.c.
 *
 * Every decode runs on a copy that ends right before an unmapped page, so
 * a read past len faults even without ASan; every valid header is also
 * fed at each shorter prefix, which must give -EAGAIN. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/yamux.h"

#define M(s) (const uint8_t *)(s), sizeof(s) - 1

/* ---- guard page ------------------------------------------------------ */

#include "../guard.h"

static int decode_guarded(const uint8_t *msg, size_t len,
                          struct yamux_header *h)
{
    struct guard g;
    guard_put(&g, msg, len);
    memset(h, 0xA5, sizeof(*h));
    int rc = yamux_decode(g.p, len, h);
    guard_free(&g);
    return rc;
}

/* ---- decode ---------------------------------------------------------- */

struct decode_case {
    const char *name;
    const uint8_t *msg;
    size_t len;
    int rc;
    uint8_t type;
    uint16_t flags;
    uint32_t stream_id;
    uint32_t length;
};

/* Four big-endian bytes, for the stream id and length words. */
#define Z4 "\x00\x00\x00\x00"
#define W1 "\x00\x00\x00\x01"
#define W2 "\x00\x00\x00\x02"
#define FF4 "\xff\xff\xff\xff"

#define BAD(name, s) {name, M(s), -EPROTO, 0, 0, 0, 0}

static const struct decode_case decode_cases[] = {
    {"data", M("\x00\x00\x00\x00" W1 "\x00\x00\x00\x05"), 12, YAMUX_DATA, 0,
     1, 5},
    {"data syn", M("\x00\x00\x00\x01" "\x00\x00\x00\x03" "\x00\x00\x01\x00"),
     12, YAMUX_DATA, YAMUX_SYN, 3, 256},
    {"window update syn opens", M("\x00\x01\x00\x01" W1 Z4), 12,
     YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0},
    {"window update ack, even id", M("\x00\x01\x00\x02" W2 "\x00\x04\0\0"),
     12, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 2, 256 * 1024},
    {"data fin", M("\x00\x00\x00\x04" "\x00\x00\x00\x07" Z4), 12, YAMUX_DATA,
     YAMUX_FIN, 7, 0},
    {"window update rst", M("\x00\x01\x00\x08" "\x00\x00\x00\x09" Z4), 12,
     YAMUX_WINDOW_UPDATE, YAMUX_RST, 9, 0},
    {"all four flags, top values", M("\x00\x00\x00\x0f" FF4 FF4), 12,
     YAMUX_DATA, 0xf, 0xffffffffu, 0xffffffffu},
    {"ping syn", M("\x00\x02\x00\x01" Z4 "\xde\xad\xbe\xef"), 12, YAMUX_PING,
     YAMUX_SYN, 0, 0xdeadbeefu},
    {"ping ack", M("\x00\x02\x00\x02" Z4 "\x00\x00\x00\x2a"), 12, YAMUX_PING,
     YAMUX_ACK, 0, 42},
    {"go away normal", M("\x00\x03\x00\x00" Z4 Z4), 12, YAMUX_GO_AWAY, 0, 0,
     YAMUX_GOAWAY_NORMAL},
    {"go away internal", M("\x00\x03\x00\x00" Z4 W2), 12, YAMUX_GO_AWAY, 0, 0,
     YAMUX_GOAWAY_INTERNAL},
    {"trailing payload left", M("\x00\x00\x00\x00" W1 W2 "hi"), 12,
     YAMUX_DATA, 0, 1, 2},
    BAD("version 1", "\x01\x00\x00\x00" W1 Z4),
    BAD("version 0xff", "\xff\x00\x00\x00" W1 Z4),
    BAD("type 4", "\x00\x04\x00\x00" W1 Z4),
    BAD("type 0xff", "\x00\xff\x00\x00" Z4 Z4),
    BAD("flag 0x10", "\x00\x00\x00\x10" W1 Z4),
    BAD("flag 0x8000", "\x00\x00\x80\x00" W1 Z4),
    BAD("flags 0xffff", "\x00\x02\xff\xff" Z4 Z4),
    BAD("data on stream 0", "\x00\x00\x00\x00" Z4 W1),
    BAD("window update on stream 0", "\x00\x01\x00\x00" Z4 W1),
    BAD("ping on stream 1", "\x00\x02\x00\x01" W1 Z4),
    BAD("go away on stream 2", "\x00\x03\x00\x00" W2 Z4),
    BAD("ping on stream 2^31", "\x00\x02\x00\x01" "\x80\x00\x00\x00" Z4),
};

static void test_decode_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(*decode_cases);
         i++) {
        const struct decode_case *c = &decode_cases[i];
        struct yamux_header h;
        print_message("decode: %s\n", c->name);
        int rc = decode_guarded(c->msg, c->len, &h);
        assert_int_equal(rc, c->rc);
        if (rc > 0) {
            assert_int_equal(h.type, c->type);
            assert_int_equal(h.flags, c->flags);
            assert_int_equal(h.stream_id, c->stream_id);
            assert_int_equal(h.length, c->length);
        }
        /* Nothing is judged before the whole header is there. */
        for (size_t k = 0; k < YAMUX_HEADER_LEN; k++)
            assert_int_equal(decode_guarded(c->msg, k, &h), -EAGAIN);
    }
}

/* ---- encode ---------------------------------------------------------- */

static void test_encode_bytes(void **st)
{
    (void)st;
    uint8_t out[YAMUX_HEADER_LEN + 1];
    struct yamux_header h = {YAMUX_WINDOW_UPDATE, YAMUX_SYN | YAMUX_ACK,
                             0x01020304u, 0xa0b0c0d0u};
    memset(out, 0xEE, sizeof(out));
    yamux_encode(out, &h);
    assert_memory_equal(out, "\x00\x01\x00\x03" "\x01\x02\x03\x04"
                             "\xa0\xb0\xc0\xd0", YAMUX_HEADER_LEN);
    assert_int_equal(out[YAMUX_HEADER_LEN], 0xEE); /* nothing past it */
}

static void check_round_trip(const struct yamux_header *h)
{
    struct yamux_header back;
    uint8_t out[YAMUX_HEADER_LEN];
    yamux_encode(out, h);
    assert_int_equal(decode_guarded(out, sizeof(out), &back),
                     YAMUX_HEADER_LEN);
    assert_int_equal(back.type, h->type);
    assert_int_equal(back.flags, h->flags);
    assert_int_equal(back.stream_id, h->stream_id);
    assert_int_equal(back.length, h->length);
}

/* Every type on a stream it may use, every flag combination, edge ids
 * and lengths: encode then decode gives the same header back. */
static void test_round_trip(void **st)
{
    (void)st;
    static const uint32_t ids[] = {1, 2, 0x7fffffffu, 0xffffffffu};
    static const uint32_t lens[] = {0, 1, YAMUX_INITIAL_WINDOW, 0xffffffffu};
    for (unsigned n = 0; n < 4 * 16 * 4 * 4; n++) {
        struct yamux_header h = {.type = (uint8_t)(n / 256),
                                 .flags = (uint16_t)(n / 16 % 16),
                                 .stream_id = ids[n / 4 % 4],
                                 .length = lens[n % 4]};
        if (h.type == YAMUX_PING || h.type == YAMUX_GO_AWAY)
            h.stream_id = 0;
        check_round_trip(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_encode_bytes),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
