/* acl: which requests may pass, and through which egress.  No I/O.
 *
 * The session asks once it has a request (after authentication): the
 * rules of the snapshot are tried in order and the first whose every
 * condition matches decides; when none matches the request is allowed,
 * direct.  docs/configuration.md ("Access rules") is the user's side.
 *
 * Addresses are compared IPv4-mapped-as-IPv4: ::ffff:127.0.0.1 is
 * 127.0.0.1 for every CIDR and for the guard below.
 *
 * A cidrs condition looks at the target's address: the literal of an IP
 * target, or for a name target the resolved address the caller passes
 * in q->addr (no address given: the condition does not match).  A
 * domains condition looks at the name and never matches an IP target.
 *
 * SSRF guard: when the file has no rules: key at all and the listener
 * is not on a loopback address, destinations in loopback (127/8, ::1),
 * unspecified (0/8, ::), link-local (169.254/16, fe80::/10) and private
 * ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are denied,
 * whether written as IPs or reached through a name's resolved address.
 * Any rules: key, even an empty list, turns the guard off.  The guard
 * is also off for a tunnel's exit (no listener), for a listener whose
 * via: is a tunnel (there the exit's own rules decide) and for
 * listeners that are no proxy (forward, tproxy, redirect: their targets
 * are the operator's choice, or where the client could route anyway).
 *
 * Egress: a rule's via:, or without one (and when no rule matches) the
 * listener's via:, or direct. */
#ifndef FERRY_ACL_H
#define FERRY_ACL_H

#include <stdbool.h>

#include "conf/conf.h"
#include "core/addr.h"

enum acl_proto { ACL_TCP, ACL_UDP };

/* Everything borrowed, for the call only. */
struct acl_query {
    const struct target *target; /* as the client asked (name or IP) */
    const struct addr *addr;     /* a name target's resolved address, or
                                    NULL (ignored for an IP target) */
    const char *user;            /* NULL when not authenticated */
    const struct conf_listener *listener; /* from the same snapshot */
    enum acl_proto proto;
};

struct acl_verdict {
    bool allow;
    const struct conf_egress *egress; /* allow only; NULL = direct; valid
                                         as long as the snapshot */
    int rule; /* index of the deciding rule; -1 = the default or guard */
};

/* True when the guard is on for listener l (see above). */
bool acl_guarded(const struct conf *c, const struct conf_listener *l);

/* Whether the verdict for t depends on its resolved addresses: t is a
 * name and some rule has cidrs or the guard is on.  Then the caller
 * resolves t and calls acl_decide once per address; otherwise once,
 * with q->addr NULL. */
bool acl_needs_addrs(const struct conf *c, const struct conf_listener *l,
                     const struct target *t);

/* The verdict for q under c's rules. */
struct acl_verdict acl_decide(const struct conf *c, const struct acl_query *q);

#endif
