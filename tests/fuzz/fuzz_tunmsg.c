/* fuzz_tunmsg: libFuzzer target for proto/tunmsg.c.
 *
 * The same bytes go to the hello, welcome, open, reply and datagram
 * parsers.  Besides the sanitizers, it checks what the contract promises:
 * a parser never claims more bytes than it got and returns only the
 * documented errors, and whatever parses encodes and parses back to the
 * same thing (to the same bytes where the encoding is canonical). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/socks.h"
#include "proto/tunmsg.h"

#define HELLO_BUF 1100 /* above any hello that parses */

static void check_rc(int rc, size_t size)
{
    if (rc > 0 && (size_t)rc <= size)
        return;
    if (rc == -EAGAIN || rc == -EPROTO || rc == -EINVAL)
        return;
    __builtin_trap();
}

static void hello(const uint8_t *data, size_t size)
{
    struct tunmsg_hello h, back;
    uint8_t out[HELLO_BUF];
    int rc = tunmsg_parse_hello(data, size, &h);
    check_rc(rc, size);
    if (rc <= 0)
        return;
    int n = tunmsg_encode_hello(out, sizeof(out), &h);
    if (n <= 0 || tunmsg_parse_hello(out, (size_t)n, &back) != n)
        __builtin_trap();
    if (strcmp(h.token, back.token) || strcmp(h.id, back.id) ||
        strcmp(h.group, back.group) || h.link != back.link)
        __builtin_trap();
}

static void welcome(const uint8_t *data, size_t size)
{
    struct tunmsg_welcome w;
    uint8_t out[7 + TUNMSG_FIELD_MAX];
    int rc = tunmsg_parse_welcome(data, size, &w);
    check_rc(rc, size);
    if (rc <= 0)
        return;
    if (tunmsg_encode_welcome(out, sizeof(out), &w) != rc ||
        memcmp(out, data, (size_t)rc) != 0)
        __builtin_trap();
}

static bool same_open(const struct tunmsg_open *a, const struct tunmsg_open *b)
{
    if (a->kind != b->kind || a->n_tags != b->n_tags ||
        a->target.kind != b->target.kind || a->target.port != b->target.port ||
        strcmp(a->target.host, b->target.host) != 0)
        return false;
    for (unsigned i = 0; i < a->n_tags; i++) {
        if (strcmp(a->tags[i].key, b->tags[i].key) ||
            strcmp(a->tags[i].value, b->tags[i].value))
            return false;
    }
    return true;
}

/* A literal sent as a domain comes back as an address: only compare
 * bytes when the target's kind agrees with the wire's ATYP. */
static void open_req(const uint8_t *data, size_t size)
{
    static struct tunmsg_open o, back;
    uint8_t out[TUNMSG_OPEN_MAX];
    int rc = tunmsg_parse_open(data, size, &o);
    if (rc != -EAFNOSUPPORT)
        check_rc(rc, size);
    if (rc <= 0)
        return;
    int n = tunmsg_encode_open(out, sizeof(out), &o);
    if (n <= 0 || tunmsg_parse_open(out, (size_t)n, &back) != n ||
        !same_open(&o, &back))
        __builtin_trap();
    if (data[2] != SOCKS5_ATYP_DOMAIN || o.target.kind == TARGET_NAME) {
        if (n != rc || memcmp(out, data, (size_t)n) != 0)
            __builtin_trap();
    }
}

/* Codes 0..13 are each one result, so they encode back to themselves. */
static void reply(const uint8_t *data, size_t size)
{
    enum result r, back;
    uint8_t out[TUNMSG_REPLY_LEN];
    int rc = tunmsg_parse_reply(data, size, &r);
    check_rc(rc, size);
    if (rc <= 0)
        return;
    if (rc != TUNMSG_REPLY_LEN ||
        tunmsg_encode_reply(out, sizeof(out), r) != TUNMSG_REPLY_LEN ||
        tunmsg_parse_reply(out, sizeof(out), &back) != rc || back != r)
        __builtin_trap();
    if (data[1] <= 13 && memcmp(out, data, TUNMSG_REPLY_LEN) != 0)
        __builtin_trap();
}

static void dgram(const uint8_t *data, size_t size)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    uint8_t len[2];
    int rc = tunmsg_parse_dgram(data, size, &p, &n);
    if (rc == -EAGAIN)
        return;
    if (rc <= 0 || (size_t)rc > size || p != data + 2 || n + 2 != (size_t)rc)
        __builtin_trap();
    tunmsg_encode_dgram_len(len, n);
    if (memcmp(len, data, 2) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hello(data, size);
    welcome(data, size);
    open_req(data, size);
    reply(data, size);
    dgram(data, size);
    return 0;
}
