/* acl: matches a request against the snapshot's rules (see acl.h).  The
 * query is reduced once (address normalised, name's trailing dot cut),
 * then each rule's conditions are checked, cheapest first. */
#include "policy/acl.h"

#include <string.h>

#include "conf/pattern.h"

/* What a rule looks at, worked out once per query. */
struct subject {
    bool has_ip;
    struct pattern_ip ip;
    const char *host; /* name targets only; NULL for an IP */
    size_t host_len;  /* without a trailing dot */
};

/* Where the guard does not let a client go: {v6, prefix, bytes}. */
static const struct pattern_cidr guarded[] = {
    {false, 8, {127}},        /* loopback */
    {false, 8, {0}},          /* "this network", 0.0.0.0 */
    {false, 16, {169, 254}},  /* link-local */
    {false, 8, {10}},         /* private (RFC 1918) */
    {false, 12, {172, 16}},   /* private */
    {false, 16, {192, 168}},  /* private */
    {false, 10, {100, 64}},   /* shared address space (RFC 6598) */
    {true, 128, {0}},         /* :: */
    {true, 128, {[15] = 1}},  /* ::1 */
    {true, 10, {0xfe, 0x80}}, /* link-local */
    {true, 7, {0xfc}},        /* unique local */
};

/* A listener whose requests go into a tunnel by default reaches the
 * exit's network, whose own rules apply there. */
static bool tunnelled(const struct conf *c, const struct conf_listener *l)
{
    return l->via >= 0 && (unsigned)l->via < c->n_egresses &&
           c->egresses[l->via].type == CONF_EGRESS_TUNNEL;
}

bool acl_guarded(const struct conf *c, const struct conf_listener *l)
{
    return !c->has_rules && l && !addr_is_loopback(&l->addr) &&
           conf_listener_is_proxy(l) && !tunnelled(c, l);
}

/* The egress a verdict's rule (or the default) names. */
static const struct conf_egress *egress_of(const struct conf *c, int via,
                                           const struct conf_listener *l)
{
    if (via == CONF_VIA_LISTENER)
        via = l ? l->via : CONF_VIA_DIRECT;
    return via >= 0 && (unsigned)via < c->n_egresses ? &c->egresses[via]
                                                      : NULL;
}

static bool any_cidrs(const struct conf *c)
{
    for (unsigned i = 0; i < c->n_rules; i++)
        if (c->rules[i].n_cidrs > 0)
            return true;
    return false;
}

bool acl_needs_addrs(const struct conf *c, const struct conf_listener *l,
                     const struct target *t)
{
    return t->kind == TARGET_NAME && (acl_guarded(c, l) || any_cidrs(c));
}

static void subject_init(struct subject *s, const struct acl_query *q)
{
    memset(s, 0, sizeof(*s));
    if (q->target->kind == TARGET_IP) {
        s->has_ip = pattern_ip_from_addr(&s->ip, &q->target->ip);
        return;
    }
    if (q->target->kind != TARGET_NAME)
        return;
    s->host = q->target->host;
    s->host_len = pattern_host_len(s->host);
    if (q->addr)
        s->has_ip = pattern_ip_from_addr(&s->ip, q->addr);
}

static bool in_cidrs(const struct pattern_cidr *v, unsigned n,
                     const struct pattern_ip *ip)
{
    for (unsigned i = 0; i < n; i++)
        if (pattern_cidr_match(&v[i], ip))
            return true;
    return false;
}

static bool match_domains(const struct conf_rule *r, const struct subject *s)
{
    if (!s->host)
        return false;
    for (unsigned i = 0; i < r->n_domains; i++)
        if (pattern_domain_match(&r->domains[i], s->host, s->host_len))
            return true;
    return false;
}

static bool match_ports(const struct conf_rule *r, uint16_t port)
{
    for (unsigned i = 0; i < r->n_ports; i++)
        if (port >= r->ports[i].lo && port <= r->ports[i].hi)
            return true;
    return false;
}

static bool match_users(const struct conf_rule *r, const char *user)
{
    for (unsigned i = 0; i < r->n_users; i++)
        if (strcmp(r->users[i], user ? user : "") == 0)
            return true;
    return false;
}

static bool match_listeners(const struct conf *c, const struct conf_rule *r,
                            const struct conf_listener *l)
{
    for (unsigned i = 0; i < r->n_listeners; i++)
        if (&c->listeners[r->listeners[i]] == l)
            return true;
    return false;
}

static bool match_proto(const struct conf_rule *r, enum acl_proto p)
{
    return r->proto == CONF_PROTO_ANY ||
           (r->proto == CONF_PROTO_TCP && p == ACL_TCP) ||
           (r->proto == CONF_PROTO_UDP && p == ACL_UDP);
}

/* Every condition present must match; an absent one (n == 0) does. */
static bool rule_matches(const struct conf *c, const struct conf_rule *r,
                         const struct acl_query *q, const struct subject *s)
{
    return match_proto(r, q->proto) &&
           (!r->n_ports || match_ports(r, q->target->port)) &&
           (!r->n_listeners || match_listeners(c, r, q->listener)) &&
           (!r->n_users || match_users(r, q->user)) &&
           (!r->n_domains || match_domains(r, s)) &&
           (!r->n_cidrs ||
            (s->has_ip && in_cidrs(r->cidrs, r->n_cidrs, &s->ip)));
}

struct acl_verdict acl_decide(const struct conf *c, const struct acl_query *q)
{
    struct acl_verdict v = {
        .allow = true,
        .egress = egress_of(c, CONF_VIA_LISTENER, q->listener),
        .rule = -1,
    };
    struct subject s;
    subject_init(&s, q);
    if (acl_guarded(c, q->listener) && s.has_ip &&
        in_cidrs(guarded, sizeof(guarded) / sizeof(guarded[0]), &s.ip)) {
        v.allow = false;
        return v;
    }
    for (unsigned i = 0; i < c->n_rules; i++) {
        const struct conf_rule *r = &c->rules[i];
        if (!rule_matches(c, r, q, &s))
            continue;
        v.allow = r->allow;
        v.rule = (int)i;
        v.egress = r->allow ? egress_of(c, r->egress, q->listener) : NULL;
        return v;
    }
    return v;
}
