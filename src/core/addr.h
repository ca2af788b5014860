/* addr: socket addresses and proxy targets (open value types).
 *
 * struct addr holds an IPv4 or IPv6 socket address; struct target is what a
 * client asked to reach: a literal address or a host name, and a port.
 * Both are plain values: copy them freely. */
#ifndef FERRY_ADDR_H
#define FERRY_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STRLEN 64       /* "[ffff:...:ffff]:65535" fits */
#define TARGET_HOST_MAX 255  /* DNS name limit, also SOCKS5's */

struct addr {
    socklen_t len; /* 0 = unset */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u;
};

enum target_kind { TARGET_NONE, TARGET_IP, TARGET_NAME };

struct target {
    enum target_kind kind;
    uint16_t port;
    struct addr ip;                 /* TARGET_IP: the address, port set */
    char host[TARGET_HOST_MAX + 1]; /* TARGET_NAME: the name; TARGET_IP:
                                       its text form (no brackets) */
};

/* Fill *a from a sockaddr of len bytes; -EAFNOSUPPORT if not v4/v6. */
int addr_from_sockaddr(struct addr *a, const struct sockaddr *sa,
                       socklen_t len);
/* Parse a numeric "1.2.3.4", "::1" (no port) into *a with port.  -EINVAL. */
int addr_from_ip(struct addr *a, const char *ip, uint16_t port);
uint16_t addr_port(const struct addr *a);
void addr_set_port(struct addr *a, uint16_t port);
/* "1.2.3.4:80" or "[::1]:80" into out (ADDR_STRLEN); returns out. */
char *addr_format(const struct addr *a, char *out, size_t cap);
/* Just the IP text, no port or brackets. */
char *addr_format_ip(const struct addr *a, char *out, size_t cap);
bool addr_is_loopback(const struct addr *a);
/* Same family, address and port (and, for IPv6, the other sockaddr
 * fields): the bytes of both are equal. */
bool addr_equal(const struct addr *a, const struct addr *b);
/* *a as a struct sockaddr_storage (zero-filled past its length). */
struct sockaddr_storage addr_to_storage(const struct addr *a);
/* 0.0.0.0 or :: (the port is not looked at). */
bool addr_is_unspecified(const struct addr *a);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes plain IPv4, so
 * policy only ever sees one form of an IPv4 address. */
void addr_unmap_v4(struct addr *a);

/* Parse "host:port", "[v6]:port" or "1.2.3.4:port" (host may be a name).
 * A port is required unless default_port > 0.  -EINVAL if malformed. */
int target_parse(struct target *t, const char *s, size_t len,
                 int default_port);
/* Set *t from a host (name or literal IP, no brackets) and port.  A
 * literal becomes TARGET_IP, normalised: legacy IPv4 forms ("2130706433",
 * "0x7f.1") and IPv4-mapped IPv6 become plain IPv4, and t->host holds
 * the canonical text.  -EINVAL if empty, too long or has bytes a
 * host name cannot have. */
int target_set_host(struct target *t, const char *host, size_t len,
                    uint16_t port);
void target_set_addr(struct target *t, const struct addr *a);
/* "host:port" with brackets for v6, into out; returns out. */
char *target_format(const struct target *t, char *out, size_t cap);

#endif
