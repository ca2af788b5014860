/* fuzz_socks: libFuzzer target for proto/socks.c.
 *
 * The same bytes go to every SOCKS parser.  Besides the sanitizers, it
 * checks what the contract promises: a parser never claims more bytes than
 * it got, returns only the documented errors, and every address it parses
 * encodes and parses back to the same target.  The UDP header parser also
 * never asks for more (a datagram is whole), and a header it parses
 * re-encodes (with FRAG 0) to the same bytes but for FRAG. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/socks.h"

static void check_rc(int rc, size_t size)
{
    if (rc > 0 && (size_t)rc <= size)
        return;
    if (rc == -EAGAIN || rc == -EPROTO || rc == -EINVAL ||
        rc == -EAFNOSUPPORT)
        return;
    __builtin_trap();
}

static bool same_ip(const struct addr *a, const struct addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return false;
    if (a->u.sa.sa_family == AF_INET)
        return !memcmp(&a->u.in.sin_addr, &b->u.in.sin_addr, 4);
    return !memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16);
}

static void round_trip(const struct target *t)
{
    uint8_t buf[SOCKS5_REQUEST_MAX];
    struct target back;
    int n = socks5_encode_addr(buf, sizeof(buf), t);
    if (n <= 0 || socks5_parse_addr(buf, (size_t)n, &back) != n)
        __builtin_trap();
    if (back.kind != t->kind || back.port != t->port)
        __builtin_trap();
    if (t->kind == TARGET_NAME && strcmp(back.host, t->host) != 0)
        __builtin_trap();
    if (t->kind == TARGET_IP && !same_ip(&back.ip, &t->ip))
        __builtin_trap();
}

static void replies(const struct target *t)
{
    uint8_t buf[SOCKS5_REPLY_MAX];
    if (t->kind != TARGET_IP)
        return;
    if (socks5_encode_reply(buf, sizeof(buf), 0, &t->ip) <= 0 ||
        socks4_encode_reply(buf, sizeof(buf), 90, &t->ip) != 8)
        __builtin_trap();
}

static void udp_header(const uint8_t *data, size_t size)
{
    uint8_t frag = 0, out[SOCKS5_UDP_HEADER_MAX];
    struct target t;
    int rc = socks5_parse_udp_header(data, size, &frag, &t);
    if (rc == -EAGAIN)
        __builtin_trap();
    check_rc(rc, size);
    if (rc <= 0)
        return;
    round_trip(&t);
    int n = socks5_encode_udp_header(out, sizeof(out), &t);
    if (n <= 0 || out[2] != 0)
        __builtin_trap();
    /* A literal sent as a domain comes back as an address: only compare
     * bytes when the kinds agree with the wire's ATYP. */
    if (data[3] != SOCKS5_ATYP_DOMAIN || t.kind == TARGET_NAME) {
        if (n != rc || memcmp(out, data, 2) != 0 ||
            memcmp(out + 3, data + 3, (size_t)n - 3) != 0)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct socks5_greeting g;
    struct socks5_userpass up;
    struct socks5_request r5;
    struct socks4_request r4;
    struct target t;
    int rc;

    check_rc(socks5_parse_greeting(data, size, &g), size);
    check_rc(socks5_parse_userpass(data, size, &up), size);
    rc = socks5_parse_request(data, size, &r5);
    check_rc(rc, size);
    if (rc > 0)
        round_trip(&r5.dst);
    rc = socks5_parse_addr(data, size, &t);
    check_rc(rc, size);
    if (rc > 0) {
        round_trip(&t);
        replies(&t);
    }
    udp_header(data, size);
    rc = socks4_parse_request(data, size, &r4);
    check_rc(rc, size);
    if (rc > 0 && strlen(r4.userid) > 255)
        __builtin_trap();
    return 0;
}
