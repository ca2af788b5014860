/* pattern: the values an access rule matches on (open value types).
 *
 * conf.c turns the text of a rule's cidrs:, ports: and domains: into
 * these once, at load; policy/acl matches requests against them on every
 * connection, so they are laid out for the match: a CIDR is bytes and a
 * prefix length, a port condition a closed range, a domain a lower-case
 * string.  Parsers take a NUL-terminated text and return NULL on success
 * or a short reason (no position, no echo of the text) on failure.
 *
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4 here: pattern_ip_from_addr
 * maps such an address to a.b.c.d, and pattern_cidr_parse reads
 * ::ffff:a.b.c.d/N (N >= 96) as a.b.c.d/(N-96), so a v4 CIDR matches a
 * mapped address and the other way round. */
#ifndef FERRY_PATTERN_H
#define FERRY_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

#define PATTERN_DOMAIN_MAX 253 /* a DNS name without its trailing dot */

/* An address reduced to what a CIDR compares: family and bytes. */
struct pattern_ip {
    bool v6;           /* false: IPv4 in bytes[0..3] */
    uint8_t bytes[16]; /* network order; unused bytes zero */
};

struct pattern_cidr {
    bool v6;
    uint8_t prefix;    /* 0..32 (v4) or 0..128 (v6) */
    uint8_t bytes[16]; /* the network; every bit past prefix is zero */
};

struct pattern_ports {
    uint16_t lo, hi; /* 1 <= lo <= hi <= 65535 */
};

struct pattern_domain {
    char *name;  /* owned; lower case, no trailing dot; "*.x" as ".x" */
    size_t len;  /* strlen(name) */
    bool suffix; /* "*.x": matches names under x, not x itself */
};

/* Set *ip from a (v4, v6, mapped v6 as v4).  False if a is unset. */
bool pattern_ip_from_addr(struct pattern_ip *ip, const struct addr *a);

/* "10.0.0.0/8", "fd00::/8", or a bare address (/32 or /128).  Host bits
 * set past the prefix are an error. */
const char *pattern_cidr_parse(const char *s, struct pattern_cidr *out);
bool pattern_cidr_match(const struct pattern_cidr *c,
                        const struct pattern_ip *ip);

/* "443" or "8000-9000". */
const char *pattern_ports_parse(const char *s, struct pattern_ports *out);

/* "example.com" (exact, case-insensitive, a trailing dot ignored) or
 * "*.example.com" (names under example.com only).  On success out->name
 * is a new string that the caller takes (free with pattern_domain_fini);
 * -ENOMEM is reported as the reason "out of memory" with *oom set. */
const char *pattern_domain_parse(const char *s, struct pattern_domain *out,
                                 bool *oom);
void pattern_domain_fini(struct pattern_domain *d);
/* host: len bytes of a name, any case, its trailing dot already cut
 * (pattern_host_len does that). */
bool pattern_domain_match(const struct pattern_domain *d, const char *host,
                          size_t len);
/* strlen(host) without one trailing dot. */
size_t pattern_host_len(const char *host);

#endif
