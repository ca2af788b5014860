/* rules: the nftables ruleset and policy routing that send traffic to
 * ferry's transparent listeners (sans I/O: options in, text out).
 *
 * `ferry tproxy-rules` (tproxy/rulescmd.c) prints, applies and removes
 * what these functions write; docs/tproxy.md shows every case and says
 * why each rule is there.  The shape, verified on Linux 6.x with
 * nftables 1.0.6:
 *
 *   - one table, inet ferry_tproxy, so removal is one `delete table`;
 *     the script starts with `create table`, which fails when the table
 *     already exists, so a second apply cannot double the rules;
 *   - tproxy mode: a filter chain on prerouting (priority mangle) hands
 *     LAN packets and this host's rerouted packets to `tproxy ip/ip6 to
 *     :PORT` and marks them with the route mark; a route chain on output
 *     marks this host's packets (not ferry's own SO_MARK, not replies:
 *     `ct direction reply return`) so policy routing (`ip rule fwmark
 *     RM lookup T`, `ip route add local default dev lo table T`, for
 *     IPv4 and IPv6 each) loops them through lo into prerouting;
 *   - redirect mode: nat chains with `redirect to :PORT`, TCP only, no
 *     policy routing;
 *   - nft tproxy fails open (no listener: a LAN packet is forwarded as
 *     if there were no rule); --fail-closed adds a drop after it.
 *
 * Text output is stable (unit tests compare it byte for byte).  Output
 * functions follow snprintf(): they write at most cap bytes including
 * the NUL and return the length the whole text needs (excluding the
 * NUL), or -EINVAL for options tprules_check() rejects. */
#ifndef FERRY_TPRULES_H
#define FERRY_TPRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TPRULES_TABLE "ferry_tproxy" /* table inet ferry_tproxy */

#define TPRULES_PORT_TPROXY 7893
#define TPRULES_PORT_REDIRECT 7892
#define TPRULES_MARK 0x1f3u       /* ferry's own sockets (SO_MARK) */
#define TPRULES_ROUTE_MARK 0x1f4u /* "deliver locally" (policy routing) */
#define TPRULES_TABLE_ID 500u     /* ip route table */
#define TPRULES_RULE_PREF 500u    /* ip rule priority */

#define TPRULES_MAX_EXCLUDES 64
#define TPRULES_MAX_IFACES 8
#define TPRULES_IFNAMSIZ 16 /* IFNAMSIZ, with the NUL */

enum tprules_mode { TPRULES_TPROXY, TPRULES_REDIRECT };

/* Bits of tprules_opts.chains and .families. */
#define TPRULES_HOST 1u /* this host's own traffic (output) */
#define TPRULES_LAN 2u  /* traffic forwarded from a LAN (prerouting) */
#define TPRULES_V4 1u
#define TPRULES_V6 2u

/* An address or network (open value type): family AF_INET/AF_INET6,
 * addr in network order (4 or 16 bytes used), host bits cleared. */
struct tprules_cidr {
    int family;
    uint8_t addr[16];
    uint8_t prefix;
};

/* Open value type; start from tprules_defaults(). */
struct tprules_opts {
    enum tprules_mode mode;
    uint16_t port;       /* ferry's listener ([::]:port) */
    uint32_t mark;       /* SO_MARK of ferry's own sockets: never caught */
    uint32_t route_mark; /* fwmark that policy routing sends to lo */
    uint32_t table;      /* its routing table */
    uint32_t rule_pref;  /* its ip rule priority */
    unsigned chains;     /* TPRULES_HOST | TPRULES_LAN */
    unsigned families;   /* TPRULES_V4 | TPRULES_V6 */
    char ifaces[TPRULES_MAX_IFACES][TPRULES_IFNAMSIZ]; /* LAN inputs; */
    unsigned n_ifaces; /* none = every interface but lo */
    struct tprules_cidr excludes[TPRULES_MAX_EXCLUDES];
    unsigned n_excludes;
    bool exclude_private; /* RFC 1918 and fc00::/7 */
    bool dns;             /* catch port 53 to any non-loopback resolver */
    bool fail_closed;     /* drop LAN traffic when nothing listens */
};

/* One policy-routing step and its exact inverse, as `ip` command lines
 * (words separated by single spaces, nothing to quote). */
#define TPRULES_CMD_MAX 96
#define TPRULES_MAX_STEPS 4
struct tprules_step {
    char add[TPRULES_CMD_MAX];
    char del[TPRULES_CMD_MAX];
};

/* tproxy mode, default port, marks, table and pref; host chain; IPv4
 * and IPv6; no excludes beyond the built-in ones; fail-open. */
void tprules_defaults(struct tprules_opts *o);

/* "10.0.0.0/8", "192.0.2.1", "fd00::/8", "::1": 0, or -EINVAL.  Host
 * bits below the prefix are cleared ("10.1.2.3/8" is 10.0.0.0/8). */
int tprules_parse_cidr(const char *s, struct tprules_cidr *out);
/* The canonical text ("10.0.0.0/8", a single address without "/32");
 * snprintf() contract. */
int tprules_format_cidr(const struct tprules_cidr *c, char *buf, size_t cap);
/* Interface name for --iface: 1..15 bytes of [A-Za-z0-9_.:@+-], an
 * optional trailing '*' (nft wildcard).  0 or -EINVAL. */
int tprules_check_iface(const char *name);

/* 0, or -EINVAL with a sentence in err naming the bad option. */
int tprules_check(const struct tprules_opts *o, char *err, size_t errlen);

/* The nft -f script (create table + the table). */
ssize_t tprules_nft(const struct tprules_opts *o, char *buf, size_t cap);
/* The nft -f script that removes the table and succeeds when it is
 * absent ("table ..." then "delete table ..."). */
ssize_t tprules_nft_remove(char *buf, size_t cap);
/* The policy-routing steps in the order to apply them (undo: reverse
 * order, the .del lines).  Returns how many (0 in redirect mode), or
 * -EINVAL.  steps must hold TPRULES_MAX_STEPS. */
int tprules_ip_steps(const struct tprules_opts *o,
                     struct tprules_step steps[TPRULES_MAX_STEPS]);
/* Everything as one sh script: what it intercepts and what happens when
 * nothing listens (comments), the ip commands, the nft script as a
 * here-document, and the commands that undo it (comments). */
ssize_t tprules_shell(const struct tprules_opts *o, char *buf, size_t cap);

/* What a failed `nft`/`ip` run means, from its stderr (borrowed):
 * a sentence saying what is missing and how to fix it, or NULL when
 * the text is not recognised. */
const char *tprules_diagnose(const char *stderr_text);

#endif
