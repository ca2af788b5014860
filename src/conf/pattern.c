/* pattern: parses the cidrs:, ports: and domains: entries of a rule
 * (for conf.c, at load) and matches them (for policy/acl, per request).
 * See pattern.h for the forms and the IPv4-mapped rule. */
#include "conf/pattern.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LABEL_MAX 63

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool pattern_ip_from_addr(struct pattern_ip *ip, const struct addr *a)
{
    memset(ip, 0, sizeof(*ip));
    if (a->len == 0)
        return false;
    if (a->u.sa.sa_family == AF_INET) {
        memcpy(ip->bytes, &a->u.in.sin_addr, 4);
        return true;
    }
    if (a->u.sa.sa_family != AF_INET6)
        return false;
    const uint8_t *b = a->u.in6.sin6_addr.s6_addr;
    if (memcmp(b, v4mapped, sizeof(v4mapped)) == 0) {
        memcpy(ip->bytes, b + 12, 4);
        return true;
    }
    ip->v6 = true;
    memcpy(ip->bytes, b, 16);
    return true;
}

/* A decimal of 1 to maxdigits digits, nothing else.  -1 if malformed. */
static long decimal(const char *s, size_t len, size_t maxdigits)
{
    long n = 0;
    if (len == 0 || len > maxdigits)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    return n;
}

/* The address part of a CIDR into out; false if it is not an IP. */
static bool cidr_addr(const char *s, size_t len, struct pattern_cidr *out)
{
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out->bytes) == 1)
        return true;
    out->v6 = true;
    return inet_pton(AF_INET6, buf, out->bytes) == 1;
}

static bool host_bits_clear(const struct pattern_cidr *c)
{
    unsigned bits = c->v6 ? 128 : 32;
    for (unsigned i = c->prefix; i < bits; i++)
        if (c->bytes[i / 8] & (0x80 >> (i % 8)))
            return false;
    return true;
}

const char *pattern_cidr_parse(const char *s, struct pattern_cidr *out)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    memset(out, 0, sizeof(*out));
    if (!cidr_addr(s, alen, out))
        return "not an IP address or network (use 10.0.0.0/8, fd00::/8 "
               "or 192.0.2.7)";
    unsigned max = out->v6 ? 128 : 32;
    long prefix = slash ? decimal(slash + 1, strlen(slash + 1), 3) : max;
    if (prefix < 0 || prefix > (long)max)
        return out->v6 ? "the prefix length must be 0 to 128"
                       : "the prefix length must be 0 to 32";
    out->prefix = (uint8_t)prefix;
    if (!host_bits_clear(out))
        return "host bits are set past the prefix length";
    if (out->v6 && out->prefix >= 96 &&
        memcmp(out->bytes, v4mapped, sizeof(v4mapped)) == 0) {
        memmove(out->bytes, out->bytes + 12, 4); /* ::ffff:a.b.c.d/N */
        memset(out->bytes + 4, 0, 12);
        out->v6 = false;
        out->prefix -= 96;
    }
    return NULL;
}

bool pattern_cidr_match(const struct pattern_cidr *c,
                        const struct pattern_ip *ip)
{
    unsigned whole = c->prefix / 8, rest = c->prefix % 8;
    if (c->v6 != ip->v6 || memcmp(c->bytes, ip->bytes, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((c->bytes[whole] ^ ip->bytes[whole]) & mask) == 0;
}

const char *pattern_ports_parse(const char *s, struct pattern_ports *out)
{
    const char *dash = strchr(s, '-');
    size_t llen = dash ? (size_t)(dash - s) : strlen(s);
    long lo = decimal(s, llen, 5);
    long hi = dash ? decimal(dash + 1, strlen(dash + 1), 5) : lo;
    if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
        return "use a port 1-65535 or a range like 8000-9000";
    if (lo > hi)
        return "the range is backwards: the first port must not be above "
               "the last";
    out->lo = (uint16_t)lo;
    out->hi = (uint16_t)hi;
    return NULL;
}

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Why the len bytes at s are not a DNS name, or NULL. */
static const char *check_name(const char *s, size_t len)
{
    size_t label = 0;
    if (len == 0)
        return "empty name";
    if (len > PATTERN_DOMAIN_MAX)
        return "longer than 253 characters";
    if (s[0] == '.')
        return "a leading dot (write *.example.com for the names under "
               "example.com)";
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' && label == 0)
            return "an empty label (\"..\")";
        if (s[i] == '*')
            return "a * may only stand first, as in *.example.com";
        if (s[i] != '.' && !name_char((unsigned char)s[i]))
            return "a name has only letters, digits, '-', '_' and dots";
        label = s[i] == '.' ? 0 : label + 1;
        if (label > LABEL_MAX)
            return "a label is longer than 63 characters";
    }
    return label == 0 ? "an empty label (\"..\")" : NULL;
}

/* An IP address written as a domain never matches: say so at load. */
static bool looks_like_ip(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    struct addr a;
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* Also the legacy IPv4 spellings ("127.1", "0177.0.0.1") that target
     * parsing reads as addresses: as domains they could never match. */
    struct target t;
    return addr_from_ip(&a, buf, 0) == 0 ||
           (target_set_host(&t, buf, len, 1) == 0 && t.kind == TARGET_IP);
}

const char *pattern_domain_parse(const char *s, struct pattern_domain *out,
                                 bool *oom)
{
    bool suffix = strncmp(s, "*.", 2) == 0;
    const char *body = suffix ? s + 2 : s;
    size_t len = pattern_host_len(body);
    const char *why;
    memset(out, 0, sizeof(*out));
    *oom = false;
    if (looks_like_ip(body, len))
        return "an IP address is never a domain (put it in cidrs)";
    if ((why = check_name(body, len)))
        return why;
    out->name = malloc(len + 2);
    if (!out->name) {
        *oom = true;
        return "out of memory";
    }
    char *p = out->name;
    if (suffix)
        *p++ = '.';
    for (size_t i = 0; i < len; i++)
        *p++ =
            (char)(body[i] >= 'A' && body[i] <= 'Z' ? body[i] + 32 : body[i]);
    *p = '\0';
    out->len = (size_t)(p - out->name);
    out->suffix = suffix;
    return NULL;
}

void pattern_domain_fini(struct pattern_domain *d)
{
    free(d->name);
    memset(d, 0, sizeof(*d));
}

bool pattern_domain_match(const struct pattern_domain *d, const char *host,
                          size_t len)
{
    if (d->suffix)
        return len > d->len &&
               strncasecmp(host + len - d->len, d->name, d->len) == 0;
    return len == d->len && strncasecmp(host, d->name, len) == 0;
}

size_t pattern_host_len(const char *host)
{
    size_t len = strlen(host);
    return len > 0 && host[len - 1] == '.' ? len - 1 : len;
}
