/* rules: writes the nftables ruleset and the policy-routing commands for
 * transparent proxying (see rules.h for the shape and docs/tproxy.md for
 * the reasons).  No I/O: `ferry tproxy-rules` (rulescmd.c) runs what
 * this file writes. */
#include "tproxy/rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* A text being written: snprintf() semantics (len counts what did not
 * fit too, so callers learn the size they need). */
struct out {
    char *p;
    size_t cap;
    size_t len;
};

__attribute__((format(printf, 2, 3))) static void putf(struct out *o,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->p + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static ssize_t finish(const struct out *o)
{
    if (o->cap > 0 && o->len >= o->cap)
        o->p[o->cap - 1] = '\0';
    return (ssize_t)o->len;
}

/* Everything that differs between IPv4 and IPv6 in the output. */
struct fam {
    unsigned bit;
    int af;
    const char *name;     /* "IPv4" */
    const char *nft;      /* "ip": nft payload keyword / tproxy family */
    const char *nfproto;  /* "ipv4": meta nfproto value */
    const char *addrtype; /* set type */
    const char *set;      /* the bypass set's name */
    const char *loopback; /* DNS interception skips it */
    const char *ipflag;   /* "-4" */
    const char *any;      /* the default route */
    const char *const *bypass, *const *private_;
    size_t n_bypass, n_private;
};

static const char *const bypass4[] = {"0.0.0.0/8", "127.0.0.0/8",
                                      "169.254.0.0/16", "224.0.0.0/4",
                                      "255.255.255.255"};
static const char *const private4[] = {"10.0.0.0/8", "172.16.0.0/12",
                                       "192.168.0.0/16"};
static const char *const bypass6[] = {"::", "::1", "fe80::/10", "ff00::/8"};
static const char *const private6[] = {"fc00::/7"};

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const struct fam fams[2] = {
    {TPRULES_V4, AF_INET, "IPv4", "ip", "ipv4", "ipv4_addr", "bypass4",
     "127.0.0.0/8", "-4", "0.0.0.0/0", bypass4, private4, N(bypass4),
     N(private4)},
    {TPRULES_V6, AF_INET6, "IPv6", "ip6", "ipv6", "ipv6_addr", "bypass6", "::1",
     "-6", "::/0", bypass6, private6, N(bypass6), N(private6)},
};

void tprules_defaults(struct tprules_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = TPRULES_TPROXY;
    o->port = TPRULES_PORT_TPROXY;
    o->mark = TPRULES_MARK;
    o->route_mark = TPRULES_ROUTE_MARK;
    o->table = TPRULES_TABLE_ID;
    o->rule_pref = TPRULES_RULE_PREF;
    o->chains = TPRULES_HOST;
    o->families = TPRULES_V4 | TPRULES_V6;
}

/* --- addresses and names -------------------------------------------------- */

static int parse_prefix(const char *s, unsigned max, uint8_t *out)
{
    unsigned v = 0;
    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (unsigned)(*s - '0')) > max)
            return -EINVAL;
    }
    *out = (uint8_t)v;
    return 0;
}

static void clear_host_bits(struct tprules_cidr *c, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        unsigned keep = c->prefix > i * 8 ? c->prefix - i * 8 : 0;
        if (keep < 8)
            c->addr[i] &= (uint8_t)(0xff00u >> keep);
    }
}

int tprules_parse_cidr(const char *s, struct tprules_cidr *out)
{
    char ip[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(ip))
        return -EINVAL;
    memcpy(ip, s, n);
    ip[n] = '\0';
    memset(out, 0, sizeof(*out));
    out->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    unsigned bits = out->family == AF_INET ? 32 : 128;
    if (inet_pton(out->family, ip, out->addr) != 1)
        return -EINVAL;
    out->prefix = (uint8_t)bits;
    if (slash && parse_prefix(slash + 1, bits, &out->prefix) < 0)
        return -EINVAL;
    clear_host_bits(out, bits / 8);
    return 0;
}

int tprules_format_cidr(const struct tprules_cidr *c, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    unsigned bits = c->family == AF_INET ? 32 : 128;
    if (!inet_ntop(c->family, c->addr, ip, sizeof(ip)))
        return -EINVAL;
    if (c->prefix == bits)
        return snprintf(buf, cap, "%s", ip);
    return snprintf(buf, cap, "%s/%u", ip, c->prefix);
}

int tprules_check_iface(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= TPRULES_IFNAMSIZ)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || strchr("_.:@+-", c) ||
                  (c == '*' && i == n - 1);
        if (!ok)
            return -EINVAL;
    }
    return 0;
}

/* --- validation ----------------------------------------------------------- */

static int bad(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -EINVAL;
}

static int check_routing(const struct tprules_opts *o, char *err, size_t errlen)
{
    if (o->route_mark == 0 || o->route_mark == o->mark)
        return bad(err, errlen,
                   "--route-mark must be non-zero and differ "
                   "from --mark");
    if (o->table == 0 || (o->table >= 253 && o->table <= 255))
        return bad(err, errlen,
                   "--table must not be 0, 253 (default), "
                   "254 (main) or 255 (local)");
    if (o->rule_pref == 0 || o->rule_pref >= 32766)
        return bad(err, errlen,
                   "--rule-pref must be 1..32765 (before the "
                   "main table's rule)");
    return 0;
}

static int check_mode(const struct tprules_opts *o, char *err, size_t errlen)
{
    if (o->mode == TPRULES_TPROXY)
        return check_routing(o, err, errlen);
    if (o->dns)
        return bad(err, errlen,
                   "--dns needs --mode tproxy: REDIRECT cannot "
                   "tell where a UDP datagram was going");
    if (o->fail_closed)
        return bad(err, errlen,
                   "--fail-closed needs --mode tproxy: "
                   "redirected connections are refused "
                   "anyway when nothing listens");
    return 0;
}

int tprules_check(const struct tprules_opts *o, char *err, size_t errlen)
{
    if (o->mode != TPRULES_TPROXY && o->mode != TPRULES_REDIRECT)
        return bad(err, errlen, "--mode must be tproxy or redirect");
    if (o->port == 0)
        return bad(err, errlen, "--port must be 1..65535");
    if (o->mark == 0)
        return bad(err, errlen,
                   "--mark must be non-zero (ferry's own "
                   "sockets carry it)");
    if (!(o->chains & (TPRULES_HOST | TPRULES_LAN)))
        return bad(err, errlen,
                   "nothing to intercept: give --host, --lan "
                   "or both");
    if (!(o->families & (TPRULES_V4 | TPRULES_V6)))
        return bad(err, errlen,
                   "--ipv4-only and --ipv6-only exclude each "
                   "other");
    if (o->n_ifaces > TPRULES_MAX_IFACES ||
        o->n_excludes > TPRULES_MAX_EXCLUDES)
        return bad(err, errlen, "too many --iface or --exclude");
    if (o->n_ifaces && !(o->chains & TPRULES_LAN))
        return bad(err, errlen, "--iface needs --lan");
    for (unsigned i = 0; i < o->n_ifaces; i++)
        if (tprules_check_iface(o->ifaces[i]) < 0)
            return bad(err, errlen,
                       "bad --iface name (1..15 of "
                       "A-Z a-z 0-9 _ . : @ + -, and an "
                       "optional trailing *)");
    return check_mode(o, err, errlen);
}

/* --- the nft script ------------------------------------------------------- */

static bool tproxy(const struct tprules_opts *o)
{
    return o->mode == TPRULES_TPROXY;
}

static void put_list(struct out *w, const char *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putf(w, "\t\t\t%s,\n", items[i]);
}

static void put_set(struct out *w, const struct tprules_opts *o,
                    const struct fam *f)
{
    putf(w,
         "\tset %s {\n\t\ttype %s\n\t\tflags interval\n"
         "\t\tauto-merge\n\t\telements = {\n",
         f->set, f->addrtype);
    put_list(w, f->bypass, f->n_bypass);
    if (o->exclude_private)
        put_list(w, f->private_, f->n_private);
    for (unsigned i = 0; i < o->n_excludes; i++) {
        char c[64];
        if (o->excludes[i].family == f->af &&
            tprules_format_cidr(&o->excludes[i], c, sizeof(c)) > 0)
            putf(w, "\t\t\t%s,\n", c);
    }
    putf(w, "\t\t}\n\t}\n");
}

static void put_bypass(struct out *w, const struct tprules_opts *o)
{
    putf(w, "\t# Destinations never intercepted (add your own with "
            "--exclude).\n");
    for (int i = 0; i < 2; i++)
        if (o->families & fams[i].bit)
            put_set(w, o, &fams[i]);
    putf(w, "\t# accept = leave the packet alone (ends this table's base "
            "chain).\n\tchain bypass {\n");
    for (int i = 0; i < 2; i++)
        if (o->families & fams[i].bit)
            putf(w, "\t\t%s daddr @%s accept\n", fams[i].nft, fams[i].set);
    putf(w, "\t\tfib daddr type { local, broadcast } accept\n\t}\n");
}

static void put_intercept(struct out *w, const struct tprules_opts *o)
{
    if (!tproxy(o)) {
        putf(w,
             "\t# Rewrite the destination to ferry's listener (new "
             "connections only).\n\tchain intercept {\n"
             "\t\tmeta l4proto tcp redirect to :%u\n\t}\n",
             o->port);
        return;
    }
    putf(w, "\t# Hand the packet to ferry's listener; the mark routes it "
            "to lo.\n\tchain intercept {\n");
    for (int i = 0; i < 2; i++)
        if (o->families & fams[i].bit)
            putf(w,
                 "\t\tmeta l4proto { tcp, udp } tproxy %s to :%u "
                 "meta mark set 0x%x accept\n",
                 fams[i].nft, o->port, o->route_mark);
    if (o->fail_closed)
        putf(w, "\t\t# --fail-closed: nothing listens, so drop instead of "
                "forwarding.\n\t\tmeta l4proto { tcp, udp } drop\n");
    putf(w, "\t}\n");
}

/* DNS to any resolver but loopback: verdict is what catches it. */
static void put_dns(struct out *w, const struct tprules_opts *o,
                    const char *verdict)
{
    if (!o->dns)
        return;
    putf(w, "\t\t# DNS to any resolver but loopback, so names do not "
            "leak.\n");
    for (int i = 0; i < 2; i++)
        if (o->families & fams[i].bit)
            putf(w,
                 "\t\tmeta l4proto { tcp, udp } th dport 53 %s daddr "
                 "!= %s %s\n",
                 fams[i].nft, fams[i].loopback, verdict);
}

static void put_lan(struct out *w, const struct tprules_opts *o)
{
    putf(w, "\t# Traffic forwarded from the LAN.\n\tchain lan {\n");
    if (tproxy(o))
        putf(w, "\t\t# Replies to connections made from outside are not "
                "ours.\n\t\tct direction reply return\n");
    put_dns(w, o, "goto intercept");
    putf(w, "\t\tjump bypass\n\t\tgoto intercept\n\t}\n");
}

/* --ipv4-only / --ipv6-only: the other family leaves at once. */
static void put_family_filter(struct out *w, const struct tprules_opts *o)
{
    for (int i = 0; i < 2; i++)
        if (!(o->families & fams[i].bit))
            putf(w,
                 "\t\t# --%s-only: %s is left alone.\n"
                 "\t\tmeta nfproto %s return\n",
                 fams[1 - i].nfproto, fams[i].name, fams[i].nfproto);
}

static void put_lan_jump(struct out *w, const struct tprules_opts *o)
{
    if (o->n_ifaces == 0) {
        putf(w, "\t\tiif != \"lo\" goto lan\n");
        return;
    }
    putf(w, "\t\tiifname { ");
    for (unsigned i = 0; i < o->n_ifaces; i++)
        putf(w, "%s\"%s\"", i ? ", " : "", o->ifaces[i]);
    putf(w, " } goto lan\n");
}

static void put_prerouting(struct out *w, const struct tprules_opts *o)
{
    if (!tproxy(o) && !(o->chains & TPRULES_LAN))
        return; /* redirect: only the LAN needs prerouting */
    putf(w, "\tchain prerouting {\n");
    if (tproxy(o))
        putf(w, "\t\ttype filter hook prerouting priority mangle; "
                "policy accept;\n");
    else
        putf(w, "\t\ttype nat hook prerouting priority dstnat; "
                "policy accept;\n");
    put_family_filter(w, o);
    if (tproxy(o))
        putf(w,
             "\t\t# Packets of connections ferry already holds: route "
             "them locally.\n\t\tmeta l4proto tcp socket transparent 1 "
             "meta mark set 0x%x accept\n",
             o->route_mark);
    if (tproxy(o) && (o->chains & TPRULES_HOST))
        putf(w,
             "\t\t# This host's traffic, marked by the output chain, "
             "back from lo.\n\t\tiif \"lo\" meta mark 0x%x "
             "goto intercept\n",
             o->route_mark);
    if (o->chains & TPRULES_LAN)
        put_lan_jump(w, o);
    putf(w, "\t}\n");
}

static void put_output(struct out *w, const struct tprules_opts *o)
{
    if (tproxy(o))
        putf(w, "\t# This host's own traffic: mark it so policy routing "
                "sends it to lo.\n\tchain output {\n\t\ttype route hook "
                "output priority mangle; policy accept;\n");
    else
        putf(w, "\t# This host's own traffic.\n\tchain output {\n\t\ttype "
                "nat hook output priority -100; policy accept;\n");
    put_family_filter(w, o);
    putf(w,
         "\t\t# ferry's own sockets (SO_MARK 0x%x) go out directly.\n"
         "\t\tmeta mark 0x%x return\n",
         o->mark, o->mark);
    if (!tproxy(o)) {
        putf(w, "\t\tjump bypass\n\t\tgoto intercept\n\t}\n");
        return;
    }
    putf(w, "\t\t# Replies (SYN-ACKs, UDP answers) must not be intercepted "
            "again.\n\t\tct direction reply return\n");
    char verdict[64];
    snprintf(verdict, sizeof(verdict), "meta mark set 0x%x accept",
             o->route_mark);
    put_dns(w, o, verdict);
    putf(w,
         "\t\tjump bypass\n\t\tmeta l4proto { tcp, udp } meta mark set "
         "0x%x\n\t}\n",
         o->route_mark);
}

static void put_nft(struct out *w, const struct tprules_opts *o)
{
    putf(w,
         "# Everything lives in this table: `nft delete table inet "
         "%s`\n# removes it and touches nothing else.  `create` fails "
         "if it exists.\ncreate table inet %s\ntable inet %s {\n",
         TPRULES_TABLE, TPRULES_TABLE, TPRULES_TABLE);
    put_bypass(w, o);
    put_intercept(w, o);
    if (o->chains & TPRULES_LAN)
        put_lan(w, o);
    put_prerouting(w, o);
    if (o->chains & TPRULES_HOST)
        put_output(w, o);
    putf(w, "}\n");
}

ssize_t tprules_nft(const struct tprules_opts *o, char *buf, size_t cap)
{
    char err[8];
    if (tprules_check(o, err, sizeof(err)) < 0)
        return -EINVAL;
    struct out w = {buf, cap, 0};
    put_nft(&w, o);
    return finish(&w);
}

ssize_t tprules_nft_remove(char *buf, size_t cap)
{
    /* Declaring the table first makes the delete succeed when it is
     * absent: one transaction that adds and deletes changes nothing. */
    return snprintf(buf, cap, "table inet %s\ndelete table inet %s\n",
                    TPRULES_TABLE, TPRULES_TABLE);
}

/* --- policy routing ------------------------------------------------------- */

int tprules_ip_steps(const struct tprules_opts *o,
                     struct tprules_step steps[TPRULES_MAX_STEPS])
{
    char err[8];
    if (tprules_check(o, err, sizeof(err)) < 0)
        return -EINVAL;
    int n = 0;
    for (int i = 0; i < 2 && tproxy(o); i++) {
        const struct fam *f = &fams[i];
        if (!(o->families & f->bit))
            continue;
        static const char *const verb[] = {"add", "del"};
        for (int v = 0; v < 2; v++) {
            char *route = v ? steps[n].del : steps[n].add;
            char *rule = v ? steps[n + 1].del : steps[n + 1].add;
            snprintf(route, TPRULES_CMD_MAX,
                     "ip %s route %s local %s dev lo table %u", f->ipflag,
                     verb[v], f->any, o->table);
            snprintf(rule, TPRULES_CMD_MAX,
                     "ip %s rule %s pref %u fwmark 0x%x lookup %u", f->ipflag,
                     verb[v], o->rule_pref, o->route_mark, o->table);
        }
        n += 2;
    }
    return n;
}

/* --- the shell script ----------------------------------------------------- */

/* Text as "# " comment lines of at most 72 columns, broken at spaces. */
static void put_wrapped(struct out *w, const char *text)
{
    size_t col = 1;
    putf(w, "#");
    while (*text) {
        size_t n = strcspn(text, " ");
        if (col > 1 && col + 1 + n > 72) {
            putf(w, "\n#");
            col = 1;
        }
        putf(w, " %.*s", (int)n, text);
        col += 1 + n;
        text += n + (text[n] == ' ');
    }
    putf(w, "\n");
}

/* The routing options --remove needs to find what --apply added. */
static void put_routing_args(struct out *w, const struct tprules_opts *o)
{
    if (!tproxy(o))
        return;
    if (o->route_mark != TPRULES_ROUTE_MARK)
        putf(w, " --route-mark 0x%x", o->route_mark);
    if (o->table != TPRULES_TABLE_ID)
        putf(w, " --table %u", o->table);
    if (o->rule_pref != TPRULES_RULE_PREF)
        putf(w, " --rule-pref %u", o->rule_pref);
}

/* The command line that makes these rules (only what is not default). */
static void put_args(struct out *w, const struct tprules_opts *o)
{
    uint16_t port = tproxy(o) ? TPRULES_PORT_TPROXY : TPRULES_PORT_REDIRECT;
    if (!tproxy(o))
        putf(w, " --mode redirect");
    if (o->port != port)
        putf(w, " --port %u", o->port);
    if (o->mark != TPRULES_MARK)
        putf(w, " --mark 0x%x", o->mark);
    put_routing_args(w, o);
    if (o->chains & TPRULES_HOST)
        putf(w, " --host");
    if (o->chains & TPRULES_LAN)
        putf(w, " --lan");
    for (unsigned i = 0; i < o->n_ifaces; i++)
        putf(w, " --iface %s", o->ifaces[i]);
    if (o->families != (TPRULES_V4 | TPRULES_V6))
        putf(w, " --%s-only", o->families == TPRULES_V4 ? "ipv4" : "ipv6");
    if (o->exclude_private)
        putf(w, " --exclude-private");
    for (unsigned i = 0; i < o->n_excludes; i++) {
        char c[64];
        if (tprules_format_cidr(&o->excludes[i], c, sizeof(c)) > 0)
            putf(w, " --exclude %s", c);
    }
    if (o->dns)
        putf(w, " --dns");
    if (o->fail_closed)
        putf(w, " --fail-closed");
}

static void put_who(struct out *w, const struct tprules_opts *o)
{
    putf(w, "%s", (o->chains & TPRULES_HOST) ? "this host's" : "");
    if (!(o->chains & TPRULES_LAN))
        return;
    putf(w, "%sthe LAN's (forwarded, in on ",
         (o->chains & TPRULES_HOST) ? " and " : "");
    for (unsigned i = 0; i < o->n_ifaces; i++)
        putf(w, "%s%s", i ? ", " : "", o->ifaces[i]);
    putf(w, "%s)", o->n_ifaces ? "" : "any interface but lo");
}

static void put_what(struct out *w, const struct tprules_opts *o)
{
    static const char *const fam_text[] = {"", "IPv4 only", "IPv6 only",
                                           "IPv4 and IPv6"};
    char text[512];
    struct out t = {text, sizeof(text), 0};
    putf(&t, "Intercepted: ");
    put_who(&t, o);
    putf(&t, " TCP%s, %s, to ferry's %s listener on port %u ([::]:%u, %s).",
         tproxy(o) ? " and UDP" : "", fam_text[o->families & 3],
         tproxy(o) ? "TPROXY" : "REDIRECT", o->port, o->port,
         tproxy(o) ? "IP_TRANSPARENT" : "SO_ORIGINAL_DST");
    if (o->dns)
        putf(&t, " DNS (port 53) is intercepted to any resolver but "
                 "loopback, private ones included.");
    finish(&t);
    put_wrapped(w, text);
}

static void put_when_down(struct out *w, const struct tprules_opts *o)
{
    char text[512];
    struct out t = {text, sizeof(text), 0};
    putf(&t, "Nothing listening on %u:", o->port);
    if (!tproxy(o))
        putf(&t, " redirected connections are refused.");
    if (tproxy(o) && (o->chains & TPRULES_HOST))
        putf(&t, " this host's connections fail (they are routed to lo); "
                 "they never go out unproxied.");
    if (tproxy(o) && (o->chains & TPRULES_LAN))
        putf(&t, " LAN traffic %s",
             o->fail_closed ? "is dropped (--fail-closed)."
                            : "goes out directly, unproxied (nft tproxy "
                              "fails open; --fail-closed drops it "
                              "instead).");
    finish(&t);
    put_wrapped(w, text);
}

static void put_shell(struct out *w, const struct tprules_opts *o,
                      const struct tprules_step *steps, int n)
{
    putf(w, "#!/bin/sh\n# ferry tproxy-rules");
    put_args(w, o);
    putf(w, "\n# Transparent proxy rules for ferry; docs/tproxy.md explains "
            "each rule.\n");
    put_what(w, o);
    put_when_down(w, o);
    putf(w, "# Undo with the commands at the end, or:\n"
            "#   ferry tproxy-rules --remove");
    put_routing_args(w, o);
    putf(w, "\nset -e\n");
    for (int i = 0; i < n; i++)
        putf(w, "%s\n", steps[i].add);
    putf(w, "nft -f - <<'FERRY_NFT'\n");
    put_nft(w, o);
    putf(w, "FERRY_NFT\n# To remove by hand:\n#   nft delete table inet %s\n",
         TPRULES_TABLE);
    for (int i = n - 1; i >= 0; i--)
        putf(w, "#   %s\n", steps[i].del);
}

ssize_t tprules_shell(const struct tprules_opts *o, char *buf, size_t cap)
{
    struct tprules_step steps[TPRULES_MAX_STEPS];
    int n = tprules_ip_steps(o, steps);
    if (n < 0)
        return n;
    struct out w = {buf, cap, 0};
    put_shell(&w, o, steps, n);
    return finish(&w);
}

/* --- what a failure means ------------------------------------------------- */

struct diagnosis {
    const char *needle;  /* in the tool's stderr */
    const char *needle2; /* and this too (NULL: no second condition) */
    const char *text;
};

static const struct diagnosis diagnoses[] = {
    {"Operation not permitted", NULL,
     "changing the firewall and routing needs CAP_NET_ADMIN: run as root "
     "(sudo ferry tproxy-rules ...)"},
    {"No such file or directory", "tproxy ip",
     "this kernel lacks the nftables tproxy expression: load it with "
     "`modprobe nft_tproxy` or build with CONFIG_NFT_TPROXY"},
    {"No such file or directory", "socket transparent",
     "this kernel lacks the nftables socket expression: load it with "
     "`modprobe nft_socket` or build with CONFIG_NFT_SOCKET"},
    {"No such file or directory", "fib daddr",
     "this kernel lacks the nftables fib expression: load it with "
     "`modprobe nft_fib_inet` or build with CONFIG_NFT_FIB_INET"},
    {"No such file or directory", "redirect to",
     "this kernel lacks nftables NAT redirect: load it with "
     "`modprobe nft_redir` or build with CONFIG_NFT_REDIR"},
    {"File exists", "create table",
     "the rules are applied already (table inet " TPRULES_TABLE
     " exists): run `ferry tproxy-rules --remove` first"},
    {"File exists", NULL,
     "that route or rule exists already: the rules are applied already "
     "(run `ferry tproxy-rules --remove` first), or the routing table or "
     "rule priority is taken (choose another --table / --rule-pref)"},
    {"Address family not supported", NULL,
     "IPv6 is disabled on this host: use --ipv4-only"},
    {"syntax error", "tproxy ip",
     "this nft is too old for `tproxy` (nftables 0.9.3 or later needed): "
     "upgrade nftables"},
};

const char *tprules_diagnose(const char *stderr_text)
{
    for (size_t i = 0; i < N(diagnoses); i++) {
        const struct diagnosis *d = &diagnoses[i];
        if (strstr(stderr_text, d->needle) &&
            (!d->needle2 || strstr(stderr_text, d->needle2)))
            return d->text;
    }
    return NULL;
}
