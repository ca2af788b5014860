/* dns: see dns.h.
 *
 * c-ares tells us which sockets to watch through its socket-state
 * callback; we register them level-triggered (c-ares reads what it
 * wants, not necessarily everything) and drive its timeouts from one
 * loop timer.  A query whose owner went away is marked cancelled and
 * freed when c-ares reports it. */
#include "core/dns.h"

#include <ares.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/log.h"
#include "core/sock.h"

#define DNS_TTL_MAX_S 300

struct dns_sock {
    struct dns_sock *next;
    struct dns *d;
    struct loop_io io;
};

struct dns_entry {
    uint64_t expires; /* loop clock, ms */
    struct dns_result res;
    char name[];
};

struct dns_query {
    struct dns *d;
    dns_fn cb; /* NULL once cancelled */
    void *ud;
    bool in_call;            /* inside dns_resolve() */
    struct loop_defer defer; /* delivers an answer given in that call */
    int status;
    struct dns_result res;
    char name[];
};

struct dns {
    struct loop *loop;
    ares_channel channel;
    struct loop_timer timer;
    struct dns_sock *socks;
    struct dns_entry **cache;
    uint32_t cache_size;
    uint32_t mark; /* SO_MARK of the resolver's sockets; 0: none */
};

static void rearm(struct dns *d)
{
    struct timeval tv, *tvp = ares_timeout(d->channel, NULL, &tv);
    if (!tvp) {
        loop_timer_disarm(d->loop, &d->timer);
        return;
    }
    uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)tvp->tv_usec / 1000;
    if (loop_timer_arm(d->loop, &d->timer, ms + 1) < 0)
        log_error("dns: cannot arm timer (out of memory)");
}

static void on_timer(struct loop_timer *t)
{
    struct dns *d = t->ud;
    ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(d);
}

static void on_sock(struct loop_io *io, uint32_t events)
{
    struct dns_sock *s = io->ud;
    struct dns *d = s->d;
    int fd = io->fd;
    ares_socket_t r =
        events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD;
    ares_socket_t w = events & EPOLLOUT ? fd : ARES_SOCKET_BAD;
    ares_process_fd(d->channel, r, w);
    rearm(d);
}

static struct dns_sock **find_sock(struct dns *d, int fd)
{
    struct dns_sock **p = &d->socks;
    while (*p && (*p)->io.fd != fd)
        p = &(*p)->next;
    return p;
}

/* c-ares socket-state callback: watch, re-watch or forget a socket. */
static void sock_state(void *data, ares_socket_t fd, int readable,
                       int writable)
{
    struct dns *d = data;
    struct dns_sock **p = find_sock(d, fd);
    uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
    if (!readable && !writable) {
        struct dns_sock *s = *p;
        if (s) {
            loop_del(d->loop, &s->io);
            *p = s->next;
            free(s);
        }
        return;
    }
    if (*p) {
        if (loop_mod(d->loop, &(*p)->io, ev) < 0)
            log_error("dns: epoll_ctl failed for fd %d", fd);
        return;
    }
    struct dns_sock *s = calloc(1, sizeof(*s));
    if (!s || loop_add(d->loop, &s->io, fd, ev, on_sock, s) < 0) {
        log_error("dns: cannot watch resolver socket %d", fd);
        free(s);
        return;
    }
    s->d = d;
    s->next = d->socks;
    d->socks = s;
}

/* c-ares made a socket: mark it as ferry's own (interception rules let
 * marked traffic pass).  Non-zero refuses the socket. */
static int on_socket(ares_socket_t fd, int type, void *data)
{
    struct dns *d = data;
    (void)type;
    int rc = sock_mark(fd, d->mark);
    if (rc < 0)
        log_error("dns: SO_MARK: %s", strerror(-rc));
    return rc < 0 ? -1 : 0;
}

static int set_servers(struct dns *d, const struct conf_dns *cfg)
{
    if (cfg->n_servers == 0)
        return 0;
    struct ares_addr_port_node *nodes = calloc(cfg->n_servers,
                                               sizeof(*nodes));
    if (!nodes)
        return -ENOMEM;
    for (unsigned i = 0; i < cfg->n_servers; i++) {
        const struct addr *a = &cfg->servers[i];
        struct ares_addr_port_node *n = &nodes[i];
        n->next = i + 1 < cfg->n_servers ? &nodes[i + 1] : NULL;
        n->family = a->u.sa.sa_family;
        if (n->family == AF_INET)
            memcpy(&n->addr.addr4, &a->u.in.sin_addr, 4);
        else
            memcpy(&n->addr.addr6, &a->u.in6.sin6_addr, 16);
        n->udp_port = n->tcp_port = addr_port(a);
    }
    int rc = ares_set_servers_ports(d->channel, nodes);
    free(nodes);
    return rc == ARES_SUCCESS ? 0 : -EINVAL;
}

int dns_new(struct dns **out, struct loop *l, const struct conf_dns *cfg,
            uint32_t timeout_ms, uint32_t mark)
{
    struct dns *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->loop = l;
    d->cache_size = cfg->cache_size;
    d->mark = mark;
    loop_timer_init(&d->timer, on_timer, d);
    if (d->cache_size &&
        !(d->cache = calloc(d->cache_size, sizeof(*d->cache)))) {
        free(d);
        return -ENOMEM;
    }
    struct ares_options opts = {
        .sock_state_cb = sock_state,
        .sock_state_cb_data = d,
        .timeout = (int)(timeout_ms / 2 > 0 ? timeout_ms / 2 : 1),
        .tries = 2,
    };
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    int rc = ares_init_options(&d->channel, &opts, mask);
    if (rc != ARES_SUCCESS) {
        log_error("dns: %s", ares_strerror(rc));
        free(d->cache);
        free(d);
        return -EIO;
    }
    if (mark)
        ares_set_socket_callback(d->channel, on_socket, d);
    rc = set_servers(d, cfg);
    if (rc < 0) {
        dns_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void dns_free(struct dns *d)
{
    if (!d)
        return;
    ares_destroy(d->channel); /* runs callbacks with ARES_EDESTRUCTION */
    loop_timer_disarm(d->loop, &d->timer);
    for (uint32_t i = 0; i < d->cache_size; i++)
        free(d->cache[i]);
    free(d->cache);
    while (d->socks) {
        struct dns_sock *s = d->socks;
        d->socks = s->next;
        loop_del(d->loop, &s->io);
        free(s);
    }
    free(d);
}

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        h = (h ^ (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c)) *
            16777619u;
    }
    return h;
}

int dns_cached(struct dns *d, const char *name, struct dns_result *out)
{
    if (!d->cache_size)
        return -ENOENT;
    struct dns_entry *e = d->cache[hash_name(name) % d->cache_size];
    if (!e || strcasecmp(e->name, name) != 0 ||
        e->expires <= loop_now(d->loop))
        return -ENOENT;
    *out = e->res;
    return 0;
}

static void cache_put(struct dns *d, const char *name,
                      const struct dns_result *res, int ttl_s)
{
    if (!d->cache_size || ttl_s <= 0)
        return;
    if (ttl_s > DNS_TTL_MAX_S)
        ttl_s = DNS_TTL_MAX_S;
    size_t len = strlen(name);
    struct dns_entry *e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return; /* the cache is an optimisation only */
    e->expires = loop_now(d->loop) + (uint64_t)ttl_s * 1000;
    e->res = *res;
    memcpy(e->name, name, len + 1);
    struct dns_entry **slot = &d->cache[hash_name(name) % d->cache_size];
    free(*slot);
    *slot = e;
}

/* Interleave families: first answer's family, then the other, ... */
static int collect(const struct ares_addrinfo *ai, struct dns_result *res)
{
    struct addr v4[DNS_MAX_ADDRS], v6[DNS_MAX_ADDRS];
    unsigned n4 = 0, n6 = 0, first = 0;
    int ttl = DNS_TTL_MAX_S;
    for (const struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next) {
        struct addr a;
        if (addr_from_sockaddr(&a, n->ai_addr, n->ai_addrlen) < 0)
            continue;
        if (!first)
            first = n->ai_family == AF_INET6 ? 6 : 4;
        if (n->ai_family == AF_INET6 && n6 < DNS_MAX_ADDRS)
            v6[n6++] = a;
        else if (n->ai_family == AF_INET && n4 < DNS_MAX_ADDRS)
            v4[n4++] = a;
        if (n->ai_ttl < ttl)
            ttl = n->ai_ttl;
    }
    res->n = 0;
    for (unsigned i = 0; res->n < DNS_MAX_ADDRS && (i < n4 || i < n6); i++) {
        const struct addr *pair[2] = {i < n6 ? &v6[i] : NULL,
                                      i < n4 ? &v4[i] : NULL};
        if (first == 4) {
            const struct addr *t = pair[0];
            pair[0] = pair[1];
            pair[1] = t;
        }
        for (int k = 0; k < 2 && res->n < DNS_MAX_ADDRS; k++)
            if (pair[k])
                res->addrs[res->n++] = *pair[k];
    }
    return ttl;
}

static int status_of(int ares_status)
{
    switch (ares_status) {
    case ARES_SUCCESS: return 0;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
    case ARES_EBADNAME: return -ENOENT;
    case ARES_ETIMEOUT: return -ETIMEDOUT;
    default: return -EIO;
    }
}

static void deliver(struct loop_defer *defer)
{
    struct dns_query *q = defer->ud;
    if (q->cb)
        q->cb(q->ud, q->status, &q->res);
    free(q);
}

static void on_answer(void *arg, int status, int timeouts,
                      struct ares_addrinfo *ai)
{
    struct dns_query *q = arg;
    q->status = status_of(status);
    if (q->status == 0 && ai) {
        int ttl = collect(ai, &q->res);
        if (q->res.n == 0)
            q->status = -ENOENT;
        else if (q->cb)
            cache_put(q->d, q->name, &q->res, ttl);
    }
    if (ai)
        ares_freeaddrinfo(ai);
    if (status == ARES_EDESTRUCTION) {
        free(q);
        return;
    }
    /* c-ares answers some lookups (/etc/hosts, bad names) inside
     * ares_getaddrinfo(); callers are promised a later call. */
    if (q->in_call) {
        loop_defer(q->d->loop, &q->defer, deliver, q);
        return;
    }
    deliver(&(struct loop_defer){.ud = q});
}

int dns_resolve(struct dns *d, const char *name, dns_fn cb, void *ud,
                struct dns_query **out)
{
    size_t len = strlen(name);
    struct dns_query *q = calloc(1, sizeof(*q) + len + 1);
    if (!q)
        return -ENOMEM;
    q->d = d;
    q->cb = cb;
    q->ud = ud;
    memcpy(q->name, name, len + 1);
    *out = q;
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC,
                                        .ai_socktype = SOCK_STREAM};
    q->in_call = true;
    ares_getaddrinfo(d->channel, q->name, NULL, &hints, on_answer, q);
    q->in_call = false; /* q may be parked in a deferred call, not freed */
    rearm(d);
    return 0;
}

void dns_cancel(struct dns_query *q)
{
    if (q)
        q->cb = NULL;
}
