/* udpassoc: see udpassoc.h.
 *
 * Flow of one client datagram: client socket readable -> recvfrom into a
 * stack buffer -> source check (control peer's IP, then the learned or
 * hinted address) -> proto/socks header -> FRAG 0 only -> an address
 * target goes out at once; a name target is looked up in the worker's DNS
 * cache, else held (bounded) until dns_resolve() answers -> the way hook ->
 * sendto() from the target socket.  A datagram from a target goes back
 * to the learned client address with a header naming its source.
 *
 * Both sockets are edge-triggered; each wake-up reads at most READ_BATCH
 * datagrams and, if the socket may hold more, re-arms it with loop_mod()
 * (EPOLL_CTL_MOD re-reports a still-readable socket) so one busy
 * association cannot starve the rest of the worker.
 *
 * A datagram whose target the rules send through an egress goes into
 * that target's flow (udpflow) instead; a flow's replies come back
 * through flow_recv() and leave like the target socket's. */
#include "front/udpassoc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/dns.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/sock.h"
#include "core/worker.h"
#include "front/udpflow.h"
#include "proto/socks.h"

#define DGRAM_MAX 65536 /* more than any UDP payload (65527) */
#define READ_BATCH 32   /* datagrams per socket per wake-up */
#define MAX_LOOKUPS 4   /* target names resolving at once */
#define MAX_HELD 16     /* datagrams waiting for a name ... */
#define MAX_HELD_BYTES 65536 /* ... and their payload bytes */
#define MAX_FLOWS 16 /* targets through egresses at once */
#define IO_EVENTS (EPOLLIN | EPOLLET)

struct udpassoc;

/* A target reached through an egress. */
struct flow_slot {
    struct udpassoc *u;
    struct udpflow *f; /* owned; NULL: slot free */
};

/* A datagram waiting for its target's name to resolve. */
struct held {
    struct held *next;
    unsigned lookup; /* index in udpassoc.lookups */
    struct target dst;
    size_t len;
    uint8_t data[];
};

struct lookup {
    struct udpassoc *u;
    struct dns_query *q; /* NULL: slot free */
    char name[TARGET_HOST_MAX + 1];
};

struct udpassoc {
    struct worker *w; /* borrowed */
    struct loop_io cio; /* client side */
    struct loop_io tio; /* target side */
    int tfam;           /* AF_INET6 (dual stack), or AF_INET without v6 */
    const struct request *req; /* borrowed: the owner's */
    struct addr peer;   /* control peer; its port is not used */
    struct addr hint_ip; /* len 0: any IP (the peer's) */
    uint16_t hint_port;  /* 0: any port */
    struct addr client;  /* learned client address; len 0: not yet */
    udpassoc_way_fn way;
    void *ud;
    uint64_t up, down, dropped, last_active;
    struct lookup lookups[MAX_LOOKUPS];
    struct flow_slot flows[MAX_FLOWS];
    struct held *held; /* FIFO */
    struct held **held_tail;
    unsigned n_held;
    size_t held_bytes;
    bool closed;
    struct loop_defer free_later;
};

/* --- addresses ----------------------------------------------------- */

/* a.b.c.d becomes ::ffff:a.b.c.d, for the dual-stack target socket. */
static void map_v4(struct addr *a)
{
    if (a->u.sa.sa_family != AF_INET)
        return;
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6,
                               .sin6_port = a->u.in.sin_port};
    in6.sin6_addr.s6_addr[10] = 0xff;
    in6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6.sin6_addr.s6_addr[12], &a->u.in.sin_addr, 4);
    memset(a, 0, sizeof(*a));
    a->u.in6 = in6;
    a->len = sizeof(in6);
}

static bool same_ip(const struct addr *a, const struct addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return false;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
}

static bool same_addr(const struct addr *a, const struct addr *b)
{
    return same_ip(a, b) && addr_port(a) == addr_port(b);
}

/* --- counting and sending ------------------------------------------ */

static void drop(struct udpassoc *u, const char *why)
{
    u->dropped++;
    log_debug("udp assoc: datagram dropped (%s)", why);
}

static void relayed(struct udpassoc *u, uint64_t *counter, size_t n)
{
    *counter += n;
    u->last_active = loop_now(u->w->loop);
}

/* Send payload p[0..n) to a (an IPv4 or IPv6 address, port set). */
static void send_target(struct udpassoc *u, struct addr a, const uint8_t *p,
                        size_t n)
{
    if (u->tfam == AF_INET6) {
        map_v4(&a);
    } else if (a.u.sa.sa_family != AF_INET) {
        drop(u, "no IPv6 on this host");
        return;
    }
    ssize_t rc;
    do
        rc = sendto(u->tio.fd, p, n, MSG_DONTWAIT, &a.u.sa, a.len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        drop(u, strerror(errno)); /* EAGAIN too: UDP may lose it */
        return;
    }
    relayed(u, &u->up, n);
}

static enum udpassoc_way way_of(struct udpassoc *u,
                                const struct target *dst,
                                const struct addr *addr)
{
    return u->way ? u->way(u->ud, dst, addr) : UDPASSOC_DIRECT;
}

/* --- targets through egresses: flows ------------------------------- */

static void to_client(struct udpassoc *u, const struct target *from,
                      const uint8_t *p, size_t n);

static bool same_target(const struct target *a, const struct target *b)
{
    return a->kind == b->kind && a->port == b->port &&
           strcasecmp(a->host, b->host) == 0;
}

static void flow_recv(void *ud, const uint8_t *p, size_t n)
{
    struct flow_slot *fs = ud;
    to_client(fs->u, udpflow_target(fs->f), p, n);
}

static void flow_end(void *ud, enum result r)
{
    struct flow_slot *fs = ud;
    char t[TARGET_HOST_MAX + 10];
    log_debug("udp assoc: flow to %s ended: %s",
              target_format(udpflow_target(fs->f), t, sizeof(t)),
              result_word(r));
    udpflow_close(fs->f);
    fs->f = NULL;
}

/* dst's slot: its flow's, else a free one, else the least recently
 * used one, emptied. */
static struct flow_slot *slot_for(struct udpassoc *u,
                                  const struct target *dst)
{
    struct flow_slot *free_slot = NULL, *lru = NULL;
    for (int i = 0; i < MAX_FLOWS; i++) {
        struct flow_slot *fs = &u->flows[i];
        if (!fs->f) {
            free_slot = free_slot ? free_slot : fs;
            continue;
        }
        if (same_target(udpflow_target(fs->f), dst))
            return fs;
        if (!lru || udpflow_stats(fs->f).last_active <
                        udpflow_stats(lru->f).last_active)
            lru = fs;
    }
    if (free_slot)
        return free_slot;
    udpflow_close(lru->f);
    lru->f = NULL;
    return lru;
}

static void send_flow(struct udpassoc *u, const struct target *dst,
                      const uint8_t *p, size_t n)
{
    struct flow_slot *fs = slot_for(u, dst);
    if (!fs->f && udpflow_open(&fs->f, u->w, u->req, dst, flow_recv,
                               flow_end, fs) < 0) {
        drop(u, "cannot open a flow");
        return;
    }
    udpflow_send(fs->f, p, n);
    relayed(u, &u->up, n);
}

static void close_flows(struct udpassoc *u)
{
    for (int i = 0; i < MAX_FLOWS; i++) {
        udpflow_close(u->flows[i].f);
        u->flows[i].f = NULL;
    }
}

/* A name target's datagram once its addresses are known: it goes to the
 * first address the target socket can reach and the rules allow (as a
 * TCP dial skips denied addresses).  Replies will carry the address the
 * target answers from, not the name (as dante does): the client learns
 * which IP it talked to. */
static void send_resolved(struct udpassoc *u, const struct target *dst,
                          const struct dns_result *res, const uint8_t *p,
                          size_t n)
{
    bool usable = false;
    for (unsigned i = 0; i < res->n; i++) {
        struct addr a = res->addrs[i];
        if (u->tfam != AF_INET6 && a.u.sa.sa_family != AF_INET)
            continue;
        usable = true;
        addr_unmap_v4(&a);
        addr_set_port(&a, dst->port);
        enum udpassoc_way way = way_of(u, dst, &a);
        if (u->closed) /* the hook ended the association */
            return;
        if (way == UDPASSOC_DENY)
            continue;
        if (way == UDPASSOC_FLOW)
            send_flow(u, dst, p, n);
        else
            send_target(u, a, p, n);
        return;
    }
    drop(u, usable ? "denied by policy" : "no usable address for the name");
}

/* --- names: the DNS cache, else a bounded wait for the resolver ---- */

static void on_resolved(void *ud, int status, const struct dns_result *res);

/* Index of the lookup for name (joining one in flight, or starting one),
 * or -1 when every slot is busy or the resolver refused. */
static int lookup_for(struct udpassoc *u, const char *name)
{
    int free_slot = -1;
    for (int i = 0; i < MAX_LOOKUPS; i++) {
        struct lookup *lk = &u->lookups[i];
        if (lk->q && strcasecmp(lk->name, name) == 0)
            return i;
        if (!lk->q && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return -1;
    struct lookup *lk = &u->lookups[free_slot];
    strcpy(lk->name, name); /* both TARGET_HOST_MAX + 1 */
    if (dns_resolve(u->w->dns, name, on_resolved, lk, &lk->q) < 0) {
        lk->q = NULL;
        return -1;
    }
    log_debug("udp assoc: resolving %s", name);
    return free_slot;
}

static void hold(struct udpassoc *u, const struct target *dst,
                 const uint8_t *p, size_t n)
{
    if (u->n_held >= MAX_HELD || u->held_bytes + n > MAX_HELD_BYTES) {
        drop(u, "too many datagrams waiting for names");
        return;
    }
    struct held *h = malloc(sizeof(*h) + n);
    if (!h) {
        drop(u, "out of memory");
        return;
    }
    int li = lookup_for(u, dst->host);
    if (li < 0) {
        free(h);
        drop(u, "too many names resolving");
        return;
    }
    h->next = NULL;
    h->lookup = (unsigned)li;
    h->dst = *dst;
    h->len = n;
    memcpy(h->data, p, n);
    *u->held_tail = h;
    u->held_tail = &h->next;
    u->n_held++;
    u->held_bytes += n;
}

/* Unlink the held datagrams of lookup li, keeping their order. */
static struct held *take_held(struct udpassoc *u, unsigned li)
{
    struct held *mine = NULL, **mine_tail = &mine, **pp = &u->held;
    u->held_tail = &u->held;
    while (*pp) {
        struct held *h = *pp;
        if (h->lookup != li) {
            pp = &h->next;
            u->held_tail = pp;
            continue;
        }
        *pp = h->next;
        h->next = NULL;
        *mine_tail = h;
        mine_tail = &h->next;
        u->n_held--;
        u->held_bytes -= h->len;
    }
    return mine;
}

static void on_resolved(void *ud, int status, const struct dns_result *res)
{
    struct lookup *lk = ud;
    struct udpassoc *u = lk->u;
    lk->q = NULL;
    log_debug("udp assoc: %s resolved: %s", lk->name,
              status ? strerror(-status) : "ok");
    struct held *h = take_held(u, (unsigned)(lk - u->lookups));
    while (h) {
        struct held *next = h->next;
        /* Once the hook has ended the association the rest is only
         * freed. */
        if (!u->closed && status == 0)
            send_resolved(u, &h->dst, res, h->data, h->len);
        else if (!u->closed)
            drop(u, "name did not resolve");
        free(h);
        h = next;
    }
}

static void send_named(struct udpassoc *u, const struct target *dst,
                       const uint8_t *p, size_t n)
{
    struct dns_result res;
    if (dns_cached(u->w->dns, dst->host, &res) == 0)
        send_resolved(u, dst, &res, p, n);
    else
        hold(u, dst, p, n);
}

/* --- the client side ----------------------------------------------- */

/* The first decision on a client datagram for dst. */
static void dispatch(struct udpassoc *u, const struct target *dst,
                     const uint8_t *p, size_t n)
{
    enum udpassoc_way way = way_of(u, dst, NULL);
    if (u->closed) /* the hook ended the association */
        return;
    if (way == UDPASSOC_DENY)
        drop(u, "denied by policy");
    else if (way == UDPASSOC_FLOW)
        send_flow(u, dst, p, n);
    else if (dst->kind == TARGET_NAME)
        send_named(u, dst, p, n);
    else
        send_target(u, dst->ip, p, n);
}

/* May a datagram from src be relayed?  Before the client's address is
 * known: the control peer's IP (and the request's hint, if any). */
static bool from_client(const struct udpassoc *u, const struct addr *src)
{
    if (u->client.len)
        return same_addr(src, &u->client);
    if (!same_ip(src, &u->peer))
        return false;
    if (u->hint_ip.len && !same_ip(src, &u->hint_ip))
        return false;
    return u->hint_port == 0 || addr_port(src) == u->hint_port;
}

static void learn_client(struct udpassoc *u, const struct addr *src)
{
    char a[ADDR_STRLEN];
    u->client = *src;
    log_debug("udp assoc: client is %s",
              addr_format(src, a, sizeof(a)));
}

static void client_dgram(struct udpassoc *u, const uint8_t *buf, size_t len,
                         struct addr *src)
{
    uint8_t frag;
    struct target dst;
    addr_unmap_v4(src);
    if (!from_client(u, src)) {
        drop(u, "not from the client");
        return;
    }
    int h = socks5_parse_udp_header(buf, len, &frag, &dst);
    if (h < 0) {
        drop(u, "malformed header");
        return;
    }
    if (!u->client.len)
        learn_client(u, src);
    if (frag != 0) {
        drop(u, "fragment"); /* RFC 1928 lets a server drop them */
        return;
    }
    if (dst.port == 0) {
        drop(u, "port 0");
        return;
    }
    if (dst.kind == TARGET_IP) {
        struct addr ip = dst.ip;
        addr_unmap_v4(&ip); /* policy must not see ::ffff:10.0.0.1 as v6 */
        target_set_addr(&dst, &ip);
    }
    dispatch(u, &dst, buf + h, len - (size_t)h);
}

/* One datagram into buf: its length, or -errno (-EMSGSIZE: too big). */
static ssize_t recv_dgram(int fd, uint8_t *buf, size_t cap, struct addr *src)
{
    struct sockaddr_in6 sa;
    socklen_t salen;
    ssize_t n;
    do {
        salen = sizeof(sa);
        n = recvfrom(fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&sa,
                     &salen);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n > cap)
        return -EMSGSIZE;
    if (addr_from_sockaddr(src, (struct sockaddr *)&sa, salen) < 0)
        return -EAFNOSUPPORT;
    return n;
}

/* The socket may hold more: have epoll report it again. */
static void rearm(struct udpassoc *u, struct loop_io *io)
{
    int rc = loop_mod(u->w->loop, io, IO_EVENTS);
    if (rc < 0)
        log_debug("udp assoc: re-arm: %s", strerror(-rc));
}

/* Read up to READ_BATCH datagrams from io, handing each to fn. */
static void read_some(struct udpassoc *u, struct loop_io *io,
                      void (*fn)(struct udpassoc *, const uint8_t *, size_t,
                                 struct addr *))
{
    uint8_t buf[DGRAM_MAX];
    for (int i = 0; i < READ_BATCH; i++) {
        struct addr src;
        ssize_t n = recv_dgram(io->fd, buf, sizeof(buf), &src);
        if (n == -EAGAIN)
            return;
        if (n == -EMSGSIZE || n == -EAFNOSUPPORT)
            drop(u, "unreadable datagram");
        else if (n < 0) /* e.g. an ICMP error surfaced: go on */
            log_debug("udp assoc: recv: %s", strerror((int)-n));
        else
            fn(u, buf, (size_t)n, &src);
        if (u->closed)
            return;
    }
    rearm(u, io);
}

/* --- the target side ----------------------------------------------- */

/* p[0..n) from a target to the client, behind a header naming from. */
static void to_client(struct udpassoc *u, const struct target *from,
                      const uint8_t *p, size_t n)
{
    uint8_t hdr[SOCKS5_UDP_HEADER_MAX];
    if (!u->client.len) {
        drop(u, "reply before the client's first datagram");
        return;
    }
    int h = socks5_encode_udp_header(hdr, sizeof(hdr), from);
    if (h < 0) {
        drop(u, "cannot encode the source");
        return;
    }
    struct iovec iov[2] = {{hdr, (size_t)h}, {(void *)p, n}};
    struct msghdr m = {.msg_name = &u->client.u.sa,
                       .msg_namelen = u->client.len,
                       .msg_iov = iov,
                       .msg_iovlen = 2};
    ssize_t rc;
    do
        rc = sendmsg(u->cio.fd, &m, MSG_DONTWAIT);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        drop(u, strerror(errno)); /* EMSGSIZE: payload + header too big */
        return;
    }
    relayed(u, &u->down, n);
}

static void target_dgram(struct udpassoc *u, const uint8_t *p, size_t n,
                         struct addr *src)
{
    struct target from;
    addr_unmap_v4(src);
    target_set_addr(&from, src);
    to_client(u, &from, p, n);
}

static void on_client_io(struct loop_io *io, uint32_t events)
{
    read_some(io->ud, io, client_dgram);
}

static void on_target_io(struct loop_io *io, uint32_t events)
{
    read_some(io->ud, io, target_dgram);
}

/* --- set-up and tear-down ------------------------------------------ */

static int set_int(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* A non-blocking UDP socket bound to a, with SO_MARK mark (0: none);
 * returns the fd or -errno. */
static int udp_bound(const struct addr *a, bool dual_stack, uint32_t mark)
{
    int fd = socket(a->u.sa.sa_family,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = sock_mark(fd, mark);
    if (rc == 0 && dual_stack)
        rc = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    if (rc == 0 && bind(fd, &a->u.sa, a->len) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* The target socket: [::]:0 dual stack, or 0.0.0.0:0 on a host without
 * IPv6 (then IPv6 targets are dropped); marked as ferry's own. */
static int open_target(struct udpassoc *u)
{
    uint32_t mark = conf_mark(u->w->conf);
    struct addr any;
    memset(&any, 0, sizeof(any));
    any.u.in6.sin6_family = AF_INET6;
    any.len = sizeof(any.u.in6);
    int fd = udp_bound(&any, true, mark);
    u->tfam = AF_INET6;
    if (fd != -EAFNOSUPPORT)
        return fd;
    memset(&any, 0, sizeof(any));
    any.u.in.sin_family = AF_INET;
    any.len = sizeof(any.u.in);
    u->tfam = AF_INET;
    return udp_bound(&any, false, mark);
}

/* The client socket on ctrl_local's IP, port 0; *bnd gets its address. */
static int open_client(const struct addr *ctrl_local, struct addr *bnd)
{
    struct addr local = *ctrl_local;
    addr_unmap_v4(&local);
    addr_set_port(&local, 0);
    int fd = udp_bound(&local, false, 0);
    if (fd < 0)
        return fd;
    struct sockaddr_in6 sa;
    socklen_t len = sizeof(sa);
    int rc = 0;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        rc = -errno;
    else
        rc = addr_from_sockaddr(bnd, (struct sockaddr *)&sa, len);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static void set_hint(struct udpassoc *u, const struct target *req_hint)
{
    if (!req_hint || req_hint->kind == TARGET_NONE)
        return;
    u->hint_port = req_hint->port;
    if (req_hint->kind != TARGET_IP)
        return; /* a name says nothing about the client's address */
    struct addr ip = req_hint->ip;
    addr_unmap_v4(&ip);
    if (ip.len && !addr_is_unspecified(&ip))
        u->hint_ip = ip;
}

static void close_io(struct udpassoc *u, struct loop_io *io)
{
    if (io->fd < 0)
        return;
    loop_del(u->w->loop, io);
    close(io->fd);
    io->fd = -1; /* an event already fetched for it is skipped */
}

static int start(struct udpassoc *u, const struct addr *ctrl_local,
                 struct addr *bnd)
{
    int fd = open_client(ctrl_local, bnd);
    if (fd < 0)
        return fd;
    int rc = loop_add(u->w->loop, &u->cio, fd, IO_EVENTS, on_client_io, u);
    if (rc < 0) {
        close(fd);
        u->cio.fd = -1;
        return rc;
    }
    fd = open_target(u);
    if (fd < 0)
        return fd;
    rc = loop_add(u->w->loop, &u->tio, fd, IO_EVENTS, on_target_io, u);
    if (rc < 0) {
        close(fd);
        u->tio.fd = -1;
    }
    return rc;
}

static void log_new(const struct udpassoc *u, const struct addr *bnd)
{
    char p[ADDR_STRLEN], b[ADDR_STRLEN];
    log_debug("udp assoc: relay %s for %s, target socket %s",
              addr_format(bnd, b, sizeof(b)),
              addr_format_ip(&u->peer, p, sizeof(p)),
              u->tfam == AF_INET6 ? "dual-stack" : "IPv4 only");
}

int udpassoc_new(struct udpassoc **out, struct worker *w,
                 const struct request *req, const struct addr *ctrl_local,
                 const struct target *req_hint, const struct addr *announce,
                 udpassoc_way_fn way, void *ud, struct addr *bnd)
{
    struct udpassoc *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->w = w;
    u->cio.fd = u->tio.fd = -1;
    u->req = req;
    u->peer = req->client;
    addr_unmap_v4(&u->peer);
    u->way = way;
    u->ud = ud;
    u->held_tail = &u->held;
    u->last_active = loop_now(w->loop);
    for (int i = 0; i < MAX_LOOKUPS; i++)
        u->lookups[i].u = u;
    for (int i = 0; i < MAX_FLOWS; i++)
        u->flows[i].u = u;
    set_hint(u, req_hint);
    struct addr bound;
    int rc = start(u, ctrl_local, &bound);
    if (rc < 0) {
        close_io(u, &u->cio);
        close_io(u, &u->tio);
        free(u); /* never seen by the loop: no event can name it */
        return rc;
    }
    *bnd = bound;
    if (announce && announce->len) {
        *bnd = *announce;
        addr_set_port(bnd, addr_port(&bound));
    }
    log_new(u, &bound);
    *out = u;
    return 0;
}

static void free_assoc(struct loop_defer *d) { free(d->ud); }

void udpassoc_free(struct udpassoc *u)
{
    if (!u || u->closed)
        return;
    u->closed = true;
    log_debug("udp assoc: closed, up=%llu down=%llu dropped=%llu",
              (unsigned long long)u->up, (unsigned long long)u->down,
              (unsigned long long)u->dropped);
    close_io(u, &u->cio);
    close_io(u, &u->tio);
    close_flows(u);
    for (int i = 0; i < MAX_LOOKUPS; i++) {
        dns_cancel(u->lookups[i].q);
        u->lookups[i].q = NULL;
    }
    while (u->held) {
        struct held *h = u->held;
        u->held = h->next;
        free(h);
    }
    u->held_tail = &u->held;
    u->n_held = 0;
    u->held_bytes = 0;
    loop_defer(u->w->loop, &u->free_later, free_assoc, u);
}

void udpassoc_stats(const struct udpassoc *u, uint64_t *up_bytes,
                    uint64_t *down_bytes, uint64_t *dropped)
{
    if (up_bytes)
        *up_bytes = u->up;
    if (down_bytes)
        *down_bytes = u->down;
    if (dropped)
        *dropped = u->dropped;
}

uint64_t udpassoc_last_active(const struct udpassoc *u)
{
    return u->last_active;
}
