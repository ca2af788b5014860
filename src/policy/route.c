/* route: see route.h.
 *
 *   start -> [resolve, when the rules need the name's addresses]
 *         -> acl_decide (per address: a denied address is never dialled)
 *         -> direct (with the allowed addresses) | parent proxy
 */
#include "policy/route.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/dns.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"
#include "egress/connpool.h"
#include "egress/direct.h"
#include "egress/tunnel.h"
#include "egress/upstream.h"
#include "policy/acl.h"
#include "proto/http1.h"

struct route {
    struct worker *w;
    route_fn cb; /* NULL once cancelled */
    void *ud;
    struct target target;
    const char *user; /* borrowed from the snapshot, or NULL */
    const struct conf_listener *listener;
    enum route_kind kind;
    struct dns_query *query;
    struct direct *dial;
    struct upstream *up;
    struct tunnel_open *tun;
    struct addr client;
    struct upstream_spec spec;
    struct addr relay; /* a SOCKS5 parent's UDP relay */
    struct route_info info;
    char proxy_auth[700];
    struct loop_defer start;
    struct loop_defer free_later;
};

static void free_route(struct loop_defer *d) { free(d->ud); }

static void release(struct route *rt)
{
    rt->cb = NULL;
    dns_cancel(rt->query);
    rt->query = NULL;
    loop_defer(rt->w->loop, &rt->free_later, free_route, rt);
}

static void done(struct route *rt, enum result r, int fd)
{
    route_fn cb = rt->cb;
    void *ud = rt->ud;
    release(rt);
    if (cb)
        cb(ud, r, fd, &rt->info);
}

static void on_egress(void *ud, enum result r, int fd)
{
    struct route *rt = ud;
    rt->dial = NULL;
    rt->up = NULL;
    rt->tun = NULL;
    done(rt, r, fd);
}

static void on_tunnel(void *ud, enum result r, int fd,
                      const struct tunnel_ref *ref)
{
    struct route *rt = ud;
    if (ref && rt->kind == ROUTE_STREAM)
        rt->info.tun = *ref;
    on_egress(ud, r, fd);
}

/* A SOCKS5 parent granted UDP ASSOCIATE on control connection ctl: a
 * UDP socket connected to its relay carries the datagrams. */
static void on_associated(void *ud, enum result r, int ctl)
{
    struct route *rt = ud;
    rt->up = NULL;
    int fd = -1;
    if (r == RESULT_OK) {
        fd = socket(rt->relay.u.sa.sa_family,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || sock_mark(fd, conf_mark(rt->w->conf)) < 0 ||
            connect(fd, &rt->relay.u.sa, rt->relay.len) < 0)
            r = RESULT_INTERNAL;
    }
    if (r != RESULT_OK) {
        if (fd >= 0)
            close(fd);
        if (ctl >= 0)
            close(ctl);
        done(rt, r, -1);
        return;
    }
    rt->info.dgram_control = ctl;
    done(rt, RESULT_OK, fd);
}

static bool pooled(struct route *rt)
{
    if (rt->kind != ROUTE_HTTP)
        return false;
    struct upconn *c =
        connpool_take(rt->w->pool, rt->info.key, loop_now(rt->w->loop));
    if (!c)
        return false;
    rt->info.reused = true;
    rt->info.pooled = c;
    done(rt, RESULT_OK, c->io.fd);
    return true;
}

static void via_tunnel(struct route *rt, const struct conf_egress *e)
{
    struct tunmsg_open o = {
        .kind = rt->kind == ROUTE_DGRAM ? TUNMSG_UDP : TUNMSG_TCP,
        .target = rt->target,
    };
    if (rt->user) {
        snprintf(o.tags[o.n_tags].key, sizeof(o.tags[0].key), "user");
        snprintf(o.tags[o.n_tags++].value, sizeof(o.tags[0].value), "%s",
                 rt->user);
    }
    snprintf(o.tags[o.n_tags].key, sizeof(o.tags[0].key), "client");
    addr_format(&rt->client, o.tags[o.n_tags++].value,
                sizeof(o.tags[0].value));
    if (pooled(rt))
        return;
    if (tunnel_start(rt->w, e->group, &o, on_tunnel, rt, &rt->tun) < 0)
        done(rt, RESULT_INTERNAL, -1);
}

static void via_parent(struct route *rt, const struct conf_egress *e)
{
    bool http = rt->kind != ROUTE_STREAM && e->type == CONF_EGRESS_HTTP;
    rt->info.egress = e->name;
    if (e->type == CONF_EGRESS_TUNNEL) {
        snprintf(rt->info.key, sizeof(rt->info.key), "%s %s:%u", e->name,
                 rt->target.host, rt->target.port);
        via_tunnel(rt, e);
        return;
    }
    if (rt->kind == ROUTE_DGRAM && e->type == CONF_EGRESS_SOCKS5) {
        rt->spec = upstream_spec_of(e);
        rt->spec.relay = &rt->relay;
        if (upstream_start(rt->w, &rt->spec, &rt->target, on_associated, rt,
                           &rt->up) < 0)
            done(rt, RESULT_INTERNAL, -1);
        return;
    }
    if (rt->kind == ROUTE_DGRAM) {
        done(rt, RESULT_NOT_IMPLEMENTED, -1); /* no UDP via HTTP */
        return;
    }
    rt->info.http_proxy = http;
    if (http && e->user &&
        http1_format_basic(rt->proxy_auth, sizeof(rt->proxy_auth), e->user,
                           e->password) > 0)
        rt->info.proxy_auth = rt->proxy_auth;
    if (http)
        snprintf(rt->info.key, sizeof(rt->info.key), "%s", e->name);
    else
        snprintf(rt->info.key, sizeof(rt->info.key), "%s %s:%u", e->name,
                 rt->target.host, rt->target.port);
    if (pooled(rt))
        return;
    int rc;
    if (http) { /* requests go to the parent itself, in absolute-form */
        rc = direct_start(rt->w, &e->server, NULL, on_egress, rt,
                          &rt->dial);
    } else {
        rt->spec = upstream_spec_of(e);
        rc = upstream_start(rt->w, &rt->spec, &rt->target, on_egress, rt,
                            &rt->up);
    }
    if (rc < 0)
        done(rt, RESULT_INTERNAL, -1);
}

/* A UDP socket connected to the first address. */
static void dgram_connect(struct route *rt, const struct dns_result *addrs)
{
    if (!addrs || addrs->n == 0) {
        done(rt, RESULT_DENIED, -1);
        return;
    }
    struct addr a = addrs->addrs[0];
    addr_set_port(&a, rt->target.port);
    int fd = socket(a.u.sa.sa_family,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && sock_mark(fd, conf_mark(rt->w->conf)) == 0 &&
        connect(fd, &a.u.sa, a.len) == 0) {
        done(rt, RESULT_OK, fd);
        return;
    }
    enum result r = fd < 0 ? RESULT_INTERNAL : result_from_errno(errno);
    if (fd >= 0)
        close(fd);
    done(rt, r, -1);
}

static void on_dgram_resolved(void *ud, int status,
                              const struct dns_result *res)
{
    struct route *rt = ud;
    rt->query = NULL;
    if (status < 0)
        done(rt, RESULT_DNS, -1);
    else
        dgram_connect(rt, res);
}

static void dgram_direct(struct route *rt, const struct dns_result *addrs)
{
    struct dns_result one = {.n = 1};
    if (!addrs && rt->target.kind == TARGET_IP) {
        one.addrs[0] = rt->target.ip;
        addrs = &one;
    }
    if (!addrs && dns_cached(rt->w->dns, rt->target.host, &one) == 0)
        addrs = &one;
    if (addrs) {
        dgram_connect(rt, addrs);
        return;
    }
    if (dns_resolve(rt->w->dns, rt->target.host, on_dgram_resolved, rt,
                    &rt->query) < 0)
        done(rt, RESULT_INTERNAL, -1);
}

static void go(struct route *rt, const struct acl_verdict *v,
               const struct dns_result *addrs)
{
    if (!v->allow) {
        done(rt, RESULT_DENIED, -1);
        return;
    }
    if (v->egress) {
        via_parent(rt, v->egress);
        return;
    }
    rt->info.egress = "direct";
    if (rt->kind == ROUTE_DGRAM) {
        dgram_direct(rt, addrs);
        return;
    }
    snprintf(rt->info.key, sizeof(rt->info.key), "direct %s:%u",
             rt->target.host, rt->target.port);
    if (pooled(rt))
        return;
    if (direct_start(rt->w, &rt->target, addrs, on_egress, rt,
                     &rt->dial) < 0)
        done(rt, RESULT_INTERNAL, -1);
}

static struct acl_query query_of(const struct route *rt,
                                 const struct addr *a)
{
    return (struct acl_query){.target = &rt->target,
                              .addr = a,
                              .user = rt->user,
                              .listener = rt->listener,
                              .proto = rt->kind == ROUTE_DGRAM ? ACL_UDP
                                                               : ACL_TCP};
}

/* Keep the addresses the rules allow; the first allowed one's verdict
 * picks the egress. */
static void decide_addrs(struct route *rt, const struct dns_result *res)
{
    struct dns_result ok = {0};
    struct acl_verdict first = {.allow = false, .rule = -1};
    for (unsigned i = 0; i < res->n; i++) {
        struct acl_query q = query_of(rt, &res->addrs[i]);
        struct acl_verdict v = acl_decide(rt->w->conf, &q);
        if (!v.allow)
            continue;
        if (ok.n == 0)
            first = v;
        ok.addrs[ok.n++] = res->addrs[i];
    }
    if (ok.n < res->n)
        log_debug("route: %s: %u of %u addresses denied", rt->target.host,
                  res->n - ok.n, res->n);
    go(rt, &first, ok.n ? &ok : NULL);
}

static void on_resolved(void *ud, int status, const struct dns_result *res)
{
    struct route *rt = ud;
    rt->query = NULL;
    if (status < 0) {
        done(rt, RESULT_DNS, -1);
        return;
    }
    decide_addrs(rt, res);
}

static void on_start(struct loop_defer *d)
{
    struct route *rt = d->ud;
    struct dns_result res;
    if (!rt->cb)
        return;
    const struct conf *c = rt->w->conf;
    if (!acl_needs_addrs(c, rt->listener, &rt->target)) {
        struct acl_query q = query_of(rt, NULL);
        struct acl_verdict v = acl_decide(c, &q);
        go(rt, &v, NULL);
        return;
    }
    if (dns_cached(rt->w->dns, rt->target.host, &res) == 0) {
        decide_addrs(rt, &res);
        return;
    }
    if (dns_resolve(rt->w->dns, rt->target.host, on_resolved, rt,
                    &rt->query) < 0)
        done(rt, RESULT_INTERNAL, -1);
}

int route_start(struct worker *w, const struct request *req,
                const struct target *t, enum route_kind kind, route_fn cb,
                void *ud, struct route **out)
{
    struct route *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    rt->w = w;
    rt->cb = cb;
    rt->ud = ud;
    rt->target = *t;
    rt->user = req->user;
    rt->listener = req->listener;
    rt->client = req->client;
    rt->kind = kind;
    rt->info.dgram_control = -1;
    loop_defer(w->loop, &rt->start, on_start, rt);
    *out = rt;
    return 0;
}

void route_cancel(struct route *rt)
{
    if (!rt || !rt->cb)
        return;
    direct_cancel(rt->dial);
    rt->dial = NULL;
    upstream_cancel(rt->up);
    rt->up = NULL;
    tunnel_cancel(rt->tun);
    rt->tun = NULL;
    release(rt);
}
