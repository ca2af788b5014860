/* addr: parsing and formatting of socket addresses and targets. */
#include "core/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_from_sockaddr(struct addr *a, const struct sockaddr *sa,
                       socklen_t len)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        memcpy(&a->u.in, sa, sizeof(struct sockaddr_in));
        a->len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        memcpy(&a->u.in6, sa, sizeof(struct sockaddr_in6));
        a->len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return -EAFNOSUPPORT;
}

int addr_from_ip(struct addr *a, const char *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, ip, &a->u.in.sin_addr) == 1) {
        a->u.in.sin_family = AF_INET;
        a->u.in.sin_port = htons(port);
        a->len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons(port);
        a->len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return -EINVAL;
}

uint16_t addr_port(const struct addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in.sin_port);
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return 0;
}

void addr_set_port(struct addr *a, uint16_t port)
{
    if (a->u.sa.sa_family == AF_INET)
        a->u.in.sin_port = htons(port);
    else if (a->u.sa.sa_family == AF_INET6)
        a->u.in6.sin6_port = htons(port);
}

char *addr_format_ip(const struct addr *a, char *out, size_t cap)
{
    const void *src = a->u.sa.sa_family == AF_INET
                          ? (const void *)&a->u.in.sin_addr
                          : (const void *)&a->u.in6.sin6_addr;
    if (a->len == 0 || !inet_ntop(a->u.sa.sa_family, src, out, cap))
        snprintf(out, cap, "-");
    return out;
}

char *addr_format(const struct addr *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    addr_format_ip(a, ip, sizeof(ip));
    if (a->u.sa.sa_family == AF_INET6)
        snprintf(out, cap, "[%s]:%u", ip, addr_port(a));
    else
        snprintf(out, cap, "%s:%u", ip, addr_port(a));
    return out;
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
    return a->len == b->len && memcmp(&a->u, &b->u, a->len) == 0;
}

struct sockaddr_storage addr_to_storage(const struct addr *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &a->u, a->len);
    return ss;
}

bool addr_is_unspecified(const struct addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == 0;
    return a->u.sa.sa_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
}

bool addr_is_loopback(const struct addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return (ntohl(a->u.in.sin_addr.s_addr) >> 24) == 127;
    if (a->u.sa.sa_family == AF_INET6) {
        const struct in6_addr *v6 = &a->u.in6.sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(v6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127;
    }
    return false;
}

/* The forms inet_aton() reads besides dotted quads ("2130706433",
 * "0x7f.1", "0177.0.0.1") name IPv4 addresses to resolvers and browsers;
 * treating them as names would let them slip past address rules. */
static int legacy_ipv4(struct addr *a, const char *host, uint16_t port)
{
    struct in_addr in;
    if (inet_aton(host, &in) == 0)
        return -EINVAL;
    memset(a, 0, sizeof(*a));
    a->u.in.sin_family = AF_INET;
    a->u.in.sin_addr = in;
    a->u.in.sin_port = htons(port);
    a->len = sizeof(struct sockaddr_in);
    return 0;
}

void addr_unmap_v4(struct addr *a)
{
    if (a->len == 0 || a->u.sa.sa_family != AF_INET6 ||
        !IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr))
        return;
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = a->u.in6.sin6_port};
    memcpy(&in.sin_addr, &a->u.in6.sin6_addr.s6_addr[12], 4);
    memset(a, 0, sizeof(*a));
    a->u.in = in;
    a->len = sizeof(in);
}

static bool host_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == ':';
}

int target_set_host(struct target *t, const char *host, size_t len,
                    uint16_t port)
{
    memset(t, 0, sizeof(*t));
    if (len == 0 || len > TARGET_HOST_MAX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!host_char_ok((unsigned char)host[i]))
            return -EINVAL;
    memcpy(t->host, host, len);
    t->host[len] = '\0';
    t->port = port;
    struct addr ip;
    if (addr_from_ip(&ip, t->host, port) == 0 ||
        legacy_ipv4(&ip, t->host, port) == 0) {
        addr_unmap_v4(&ip);
        target_set_addr(t, &ip);
        return 0;
    }
    if (memchr(host, ':', len))
        return -EINVAL; /* a colon only belongs in an IPv6 literal */
    t->kind = TARGET_NAME;
    return 0;
}

void target_set_addr(struct target *t, const struct addr *a)
{
    memset(t, 0, sizeof(*t));
    t->kind = TARGET_IP;
    t->ip = *a;
    t->port = addr_port(a);
    addr_format_ip(a, t->host, sizeof(t->host));
}

static int parse_port(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return -EINVAL;
    int port = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -EINVAL;
}

int target_parse(struct target *t, const char *s, size_t len,
                 int default_port)
{
    const char *host = s, *colon = NULL;
    size_t hlen;
    if (len > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', len);
        if (!end)
            return -EINVAL;
        host = s + 1;
        hlen = (size_t)(end - host);
        if (!memchr(host, ':', hlen))
            return -EINVAL; /* brackets are for IPv6 literals only */
        if ((size_t)(end + 1 - s) < len) {
            if (end[1] != ':')
                return -EINVAL;
            colon = end + 1;
        }
    } else {
        colon = memrchr(s, ':', len);
        if (colon && memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL; /* bare IPv6 needs brackets */
        hlen = colon ? (size_t)(colon - s) : len;
    }
    int port = default_port;
    if (colon)
        port = parse_port(colon + 1, len - (size_t)(colon + 1 - s));
    if (port <= 0)
        return -EINVAL;
    int rc = target_set_host(t, host, hlen, (uint16_t)port);
    if (rc == 0 && s[0] == '[' && t->kind != TARGET_IP)
        return -EINVAL;
    return rc;
}

char *target_format(const struct target *t, char *out, size_t cap)
{
    bool v6 = t->kind == TARGET_IP && t->ip.u.sa.sa_family == AF_INET6;
    snprintf(out, cap, v6 ? "[%s]:%u" : "%s:%u", t->host, t->port);
    return out;
}
