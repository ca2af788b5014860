/* socks: SOCKS 4/4a/5 codecs (RFC 1928, RFC 1929, the SOCKS4 and 4a
 * memos).  Sans I/O: the SOCKS front end feeds the bytes it has read and
 * writes what the encoders produce; the SOCKS5 address codec is shared with
 * UDP ASSOCIATE and the tunnel open message.
 *
 * Checks run in wire order so a bad byte is reported as soon as it arrives
 * (-EPROTO/-EINVAL beat -EAGAIN), and nothing reads past len. */
#include "proto/socks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define RFC1929_VERSION 0x01
#define SOCKS4_STR_MAX 255 /* USERID and 4a HOST, without the NUL */

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

int socks5_parse_greeting(const uint8_t *buf, size_t len,
                          struct socks5_greeting *out)
{
    if (len < 1)
        return -EAGAIN;
    if (buf[0] != SOCKS5_VERSION)
        return -EPROTO;
    if (len < 2)
        return -EAGAIN;
    uint8_t n = buf[1];
    if (n == 0)
        return -EINVAL; /* RFC 1928: at least one method */
    if (len < 2 + (size_t)n)
        return -EAGAIN;
    out->nmethods = n;
    memcpy(out->methods, buf + 2, n);
    return 2 + n;
}

/* One RFC 1929 length-prefixed string at buf[*off] into dst (256 bytes).
 * A NUL inside would silently shorten the C string, so it is refused. */
static int take_pstring(const uint8_t *buf, size_t len, size_t *off,
                        char *dst)
{
    if (len < *off + 1)
        return -EAGAIN;
    size_t n = buf[*off];
    if (len < *off + 1 + n)
        return -EAGAIN;
    const uint8_t *s = buf + *off + 1;
    if (memchr(s, '\0', n))
        return -EINVAL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    *off += 1 + n;
    return 0;
}

int socks5_parse_userpass(const uint8_t *buf, size_t len,
                          struct socks5_userpass *out)
{
    if (len < 1)
        return -EAGAIN;
    if (buf[0] != RFC1929_VERSION)
        return -EPROTO;
    size_t off = 1;
    int rc = take_pstring(buf, len, &off, out->user);
    if (rc < 0)
        return rc;
    rc = take_pstring(buf, len, &off, out->pass);
    if (rc < 0)
        return rc;
    return (int)off;
}

/* A raw IPv4 (4 bytes) or IPv6 (16 bytes) address and port into *t. */
static void target_from_raw(struct target *t, const uint8_t *ip,
                            size_t iplen, uint16_t port)
{
    struct addr a;
    memset(&a, 0, sizeof(a));
    if (iplen == 4) {
        a.u.in.sin_family = AF_INET;
        memcpy(&a.u.in.sin_addr, ip, 4);
        a.u.in.sin_port = htons(port);
        a.len = sizeof(a.u.in);
    } else {
        a.u.in6.sin6_family = AF_INET6;
        memcpy(&a.u.in6.sin6_addr, ip, 16);
        a.u.in6.sin6_port = htons(port);
        a.len = sizeof(a.u.in6);
    }
    target_set_addr(t, &a);
}

static int parse_addr_ip(const uint8_t *buf, size_t len, size_t iplen,
                         struct target *out)
{
    if (len < 1 + iplen + 2)
        return -EAGAIN;
    target_from_raw(out, buf + 1, iplen, get_be16(buf + 1 + iplen));
    return (int)(1 + iplen + 2);
}

static int parse_addr_domain(const uint8_t *buf, size_t len,
                             struct target *out)
{
    if (len < 2)
        return -EAGAIN;
    size_t n = buf[1];
    if (n == 0)
        return -EINVAL;
    if (len < 2 + n + 2)
        return -EAGAIN;
    /* target_set_host refuses bytes a host name cannot hold (NUL, '/',
     * '@', spaces ...) and turns a literal address into TARGET_IP. */
    if (target_set_host(out, (const char *)buf + 2, n,
                        get_be16(buf + 2 + n)) < 0)
        return -EINVAL;
    return (int)(2 + n + 2);
}

int socks5_parse_addr(const uint8_t *buf, size_t len, struct target *out)
{
    if (len < 1)
        return -EAGAIN;
    switch (buf[0]) {
    case SOCKS5_ATYP_IPV4:
        return parse_addr_ip(buf, len, 4, out);
    case SOCKS5_ATYP_IPV6:
        return parse_addr_ip(buf, len, 16, out);
    case SOCKS5_ATYP_DOMAIN:
        return parse_addr_domain(buf, len, out);
    default:
        return -EAFNOSUPPORT;
    }
}

int socks5_parse_request(const uint8_t *buf, size_t len,
                         struct socks5_request *out)
{
    if (len < 1)
        return -EAGAIN;
    if (buf[0] != SOCKS5_VERSION)
        return -EPROTO;
    if (len < 3)
        return -EAGAIN;
    if (buf[2] != 0x00)
        return -EINVAL; /* RSV */
    /* Any CMD byte parses: the front end answers an unknown one with
     * REP 0x07, which needs the rest of the request read first. */
    int rc = socks5_parse_addr(buf + 3, len - 3, &out->dst);
    if (rc < 0)
        return rc;
    out->cmd = buf[1];
    return 3 + rc;
}

/* A NUL-terminated string of at most SOCKS4_STR_MAX bytes starting at
 * buf[off]; returns its length.  256 bytes without a NUL is malformed,
 * not "wait for more". */
static int socks4_string(const uint8_t *buf, size_t len, size_t off)
{
    size_t avail = len - off;
    size_t scan = avail < SOCKS4_STR_MAX + 1 ? avail : SOCKS4_STR_MAX + 1;
    const uint8_t *nul = memchr(buf + off, '\0', scan);
    if (nul)
        return (int)(nul - (buf + off));
    return avail > SOCKS4_STR_MAX ? -EINVAL : -EAGAIN;
}

/* 4a: DSTIP 0.0.0.x with x != 0 means "the host name follows USERID". */
static int socks4a_host(const uint8_t *buf, size_t len, size_t off,
                        uint16_t port, struct target *t)
{
    int n = socks4_string(buf, len, off);
    if (n < 0)
        return n;
    if (target_set_host(t, (const char *)buf + off, (size_t)n, port) < 0)
        return -EINVAL; /* also an empty name */
    return (int)off + n + 1;
}

int socks4_parse_request(const uint8_t *buf, size_t len,
                         struct socks4_request *out)
{
    if (len < 1)
        return -EAGAIN;
    if (buf[0] != SOCKS4_VERSION)
        return -EPROTO;
    if (len < 2)
        return -EAGAIN;
    if (buf[1] != SOCKS_CMD_CONNECT && buf[1] != SOCKS_CMD_BIND)
        return -EINVAL;
    if (len < 8)
        return -EAGAIN;
    int ulen = socks4_string(buf, len, 8);
    if (ulen < 0)
        return ulen;
    uint16_t port = get_be16(buf + 2);
    const uint8_t *ip = buf + 4;
    size_t end = 8 + (size_t)ulen + 1;
    if (ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0) {
        int rc = socks4a_host(buf, len, end, port, &out->dst);
        if (rc < 0)
            return rc;
        end = (size_t)rc;
    } else {
        target_from_raw(&out->dst, ip, 4, port);
    }
    out->cmd = buf[1];
    memcpy(out->userid, buf + 8, (size_t)ulen);
    out->userid[ulen] = '\0';
    return (int)end;
}

static int encode_ip(uint8_t *out, size_t cap, const struct addr *a,
                     uint16_t port)
{
    bool v6 = a->u.sa.sa_family == AF_INET6;
    size_t iplen = v6 ? 16 : 4;
    if (cap < 1 + iplen + 2)
        return -ENOSPC;
    out[0] = v6 ? SOCKS5_ATYP_IPV6 : SOCKS5_ATYP_IPV4;
    if (v6)
        memcpy(out + 1, &a->u.in6.sin6_addr, 16);
    else
        memcpy(out + 1, &a->u.in.sin_addr, 4);
    put_be16(out + 1 + iplen, port);
    return (int)(1 + iplen + 2);
}

static bool addr_is_ip(const struct addr *a)
{
    return a->len != 0 && (a->u.sa.sa_family == AF_INET ||
                           a->u.sa.sa_family == AF_INET6);
}

int socks5_encode_addr(uint8_t *out, size_t cap, const struct target *t)
{
    if (t->kind == TARGET_IP) {
        if (!addr_is_ip(&t->ip))
            return -EINVAL;
        return encode_ip(out, cap, &t->ip, t->port);
    }
    if (t->kind != TARGET_NAME)
        return -EINVAL;
    size_t n = strnlen(t->host, sizeof(t->host));
    if (n == 0 || n > TARGET_HOST_MAX)
        return -EINVAL;
    if (cap < 2 + n + 2)
        return -ENOSPC;
    out[0] = SOCKS5_ATYP_DOMAIN;
    out[1] = (uint8_t)n;
    memcpy(out + 2, t->host, n);
    put_be16(out + 2 + n, t->port);
    return (int)(2 + n + 2);
}

int socks5_parse_udp_header(const uint8_t *buf, size_t len, uint8_t *frag,
                            struct target *dst)
{
    if (len < 3 || buf[0] != 0x00 || buf[1] != 0x00)
        return -EINVAL; /* RSV */
    int rc = socks5_parse_addr(buf + 3, len - 3, dst);
    if (rc == -EAGAIN)
        return -EINVAL; /* truncated: no more bytes will come */
    if (rc < 0)
        return rc;
    *frag = buf[2];
    return 3 + rc;
}

int socks5_encode_udp_header(uint8_t *out, size_t cap,
                             const struct target *src)
{
    if (cap < 3)
        return -ENOSPC;
    int rc = socks5_encode_addr(out + 3, cap - 3, src);
    if (rc < 0)
        return rc;
    out[0] = out[1] = 0x00; /* RSV */
    out[2] = 0x00;          /* FRAG: ferry never fragments */
    return 3 + rc;
}

static int encode_pair(uint8_t *out, size_t cap, uint8_t a, uint8_t b)
{
    if (cap < 2)
        return -ENOSPC;
    out[0] = a;
    out[1] = b;
    return 2;
}

int socks5_encode_method(uint8_t *out, size_t cap, uint8_t method)
{
    return encode_pair(out, cap, SOCKS5_VERSION, method);
}

int socks5_encode_userpass_status(uint8_t *out, size_t cap, uint8_t status)
{
    return encode_pair(out, cap, RFC1929_VERSION, status);
}

int socks5_encode_reply(uint8_t *out, size_t cap, uint8_t rep,
                        const struct addr *bnd)
{
    struct addr zero;
    if (!bnd || !addr_is_ip(bnd)) {
        memset(&zero, 0, sizeof(zero));
        zero.u.in.sin_family = AF_INET;
        zero.len = sizeof(zero.u.in);
        bnd = &zero;
    }
    if (cap < 3)
        return -ENOSPC;
    int rc = encode_ip(out + 3, cap - 3, bnd, addr_port(bnd));
    if (rc < 0)
        return rc;
    out[0] = SOCKS5_VERSION;
    out[1] = rep;
    out[2] = 0x00;
    return 3 + rc;
}

int socks4_encode_reply(uint8_t *out, size_t cap, uint8_t cd,
                        const struct addr *bnd)
{
    if (cap < 8)
        return -ENOSPC;
    memset(out, 0, 8);
    out[1] = cd;
    /* SOCKS4 has no IPv6: an IPv6 bound address is sent as zeros, which
     * clients read as "use the address you connected to". */
    if (bnd && bnd->len != 0 && bnd->u.sa.sa_family == AF_INET) {
        memcpy(out + 2, &bnd->u.in.sin_port, 2);
        memcpy(out + 4, &bnd->u.in.sin_addr, 4);
    }
    return 8;
}
