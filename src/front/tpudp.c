/* tpudp: see tpudp.h.
 *
 * Flows are found by a hash of (client, original destination) and kept
 * in one list for the idle sweep and for closing.  The reply socket is
 * read as well: with rules that deliver packets by socket lookup
 * (`socket transparent 1`), the client's next datagrams to the same
 * destination arrive there instead of at the listener; they belong to
 * the same flow. */
#include "front/tpudp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/request.h"
#include "core/worker.h"
#include "front/intercept.h"
#include "front/udpflow.h"
#include "tproxy/origdst.h"

#define BUCKETS 1024
#define MAX_FLOWS 8192    /* per worker and listener; more are dropped */
#define IDLE_MS 60000     /* a flow without datagrams either way ends */
#define DNS_IDLE_MS 10000 /* ... sooner for DNS (port 53) */
#define SWEEP_MS 1000
#define READ_BATCH 32
#define DGRAM_MAX 65536
#define IO_EVENTS (EPOLLIN | EPOLLET)

struct tflow {
    struct tflow *hnext;       /* bucket chain */
    struct tflow *prev, *next; /* every flow */
    struct tpudp *t;
    struct request req; /* target: the original destination */
    struct addr dst;    /* the original destination */
    struct udpflow *f;  /* owned */
    struct loop_io rio; /* the reply socket, owned */
    uint64_t started;
    struct loop_defer free_later;
};

struct tpudp {
    struct worker *w;               /* borrowed */
    const struct conf_listener *lc; /* borrowed from w's snapshot */
    struct loop_io io;              /* the listening socket, owned */
    struct loop_timer sweep;
    struct tflow *buckets[BUCKETS];
    struct tflow *flows;
    unsigned n_flows;
    struct loop_defer free_later;
};

/* --- flows ------------------------------------------------------------ */

static uint32_t mix(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u; /* FNV-1a */
    return h;
}

static uint32_t addr_hash(uint32_t h, const struct addr *a)
{
    uint16_t port = addr_port(a);
    h = mix(h, &port, sizeof(port));
    if (a->u.sa.sa_family == AF_INET)
        return mix(h, &a->u.in.sin_addr, 4);
    return mix(h, &a->u.in6.sin6_addr, 16);
}

static struct tflow **bucket(struct tpudp *t, const struct addr *client,
                             const struct addr *dst)
{
    uint32_t h = addr_hash(addr_hash(2166136261u, client), dst);
    return &t->buckets[h % BUCKETS];
}

static struct tflow *find(struct tpudp *t, const struct addr *client,
                          const struct addr *dst)
{
    for (struct tflow *fl = *bucket(t, client, dst); fl; fl = fl->hnext)
        if (addr_equal(&fl->req.client, client) && addr_equal(&fl->dst, dst))
            return fl;
    return NULL;
}

static void log_flow(const struct tflow *fl, const char *end)
{
    char c[ADDR_STRLEN], d[ADDR_STRLEN];
    struct udpflow_stats st = udpflow_stats(fl->f);
    uint64_t ms = loop_now(fl->t->w->loop) - fl->started;
    log_access("client=%s listener=%s proto=%s user=- target=%s "
               "result=ok up=%llu down=%llu ms=%llu end=%s",
               addr_format(&fl->req.client, c, sizeof(c)), fl->t->lc->name,
               fl->req.proto, addr_format(&fl->dst, d, sizeof(d)),
               (unsigned long long)st.up, (unsigned long long)st.down,
               (unsigned long long)ms, end);
}

static void free_flow(struct loop_defer *d)
{
    free(d->ud);
}

static void unlink_flow(struct tflow *fl)
{
    struct tpudp *t = fl->t;
    struct tflow **pp = bucket(t, &fl->req.client, &fl->dst);
    while (*pp != fl)
        pp = &(*pp)->hnext;
    *pp = fl->hnext;
    if (fl->prev)
        fl->prev->next = fl->next;
    else
        t->flows = fl->next;
    if (fl->next)
        fl->next->prev = fl->prev;
    t->n_flows--;
}

static void end_flow(struct tflow *fl, const char *end)
{
    log_flow(fl, end);
    unlink_flow(fl);
    udpflow_close(fl->f);
    loop_del(fl->t->w->loop, &fl->rio);
    close(fl->rio.fd);
    fl->rio.fd = -1; /* an event already fetched for it is skipped */
    loop_defer(fl->t->w->loop, &fl->free_later, free_flow, fl);
}

/* A reply from the target: to the client, from the original
 * destination. */
static void flow_recv(void *ud, const uint8_t *p, size_t n)
{
    struct tflow *fl = ud;
    const struct addr *c = &fl->req.client;
    if (sendto(fl->rio.fd, p, n, MSG_DONTWAIT, &c->u.sa, c->len) < 0)
        log_debug("tproxy udp: reply to the client: %s", strerror(errno));
}

static void flow_end(void *ud, enum result r)
{
    struct tflow *fl = ud;
    end_flow(fl, r == RESULT_OK ? "eof" : result_word(r));
}

/* A datagram on the reply socket: the client's, for this flow. */
static void on_reply_io(struct loop_io *io, uint32_t events)
{
    struct tflow *fl = io->ud;
    uint8_t buf[DGRAM_MAX];
    (void)events;
    for (int i = 0; i < READ_BATCH && io->fd >= 0; i++) {
        struct sockaddr_in6 sa;
        socklen_t len = sizeof(sa);
        struct addr src;
        ssize_t n =
            recvfrom(io->fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, &len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        if (addr_from_sockaddr(&src, (struct sockaddr *)&sa, len) == 0 &&
            (addr_unmap_v4(&src), addr_equal(&src, &fl->req.client)))
            udpflow_send(fl->f, buf, (size_t)n);
    }
    if (io->fd >= 0 && loop_mod(fl->t->w->loop, io, IO_EVENTS) < 0)
        end_flow(fl, "error");
}

static struct tflow *new_flow(struct tpudp *t, const struct addr *client,
                              const struct addr *dst)
{
    char err[160];
    struct sockaddr_storage ss = addr_to_storage(dst);
    struct tflow *fl = calloc(1, sizeof(*fl));
    if (!fl)
        return NULL;
    int fd = origdst_reply_socket(&ss, conf_mark(t->w->conf), err, sizeof(err));
    if (fd < 0) {
        log_warn("%s: UDP reply socket: %s", t->lc->name, err);
        free(fl);
        return NULL;
    }
    fl->t = t;
    fl->rio.fd = -1;
    fl->dst = *dst;
    fl->started = loop_now(t->w->loop);
    fl->req = (struct request){
        .proto = "tproxy-udp", .client = *client, .listener = t->lc};
    target_set_addr(&fl->req.target, dst);
    if (loop_add(t->w->loop, &fl->rio, fd, IO_EVENTS, on_reply_io, fl) < 0 ||
        udpflow_open(&fl->f, t->w, &fl->req, &fl->req.target, flow_recv,
                     flow_end, fl) < 0) {
        if (fl->rio.fd >= 0)
            loop_del(t->w->loop, &fl->rio);
        close(fd);
        free(fl); /* no event can name it: none was registered for it */
        return NULL;
    }
    struct tflow **b = bucket(t, client, dst);
    fl->hnext = *b;
    *b = fl;
    fl->next = t->flows;
    if (t->flows)
        t->flows->prev = fl;
    t->flows = fl;
    t->n_flows++;
    if (!loop_timer_armed(&t->sweep) &&
        loop_timer_arm(t->w->loop, &t->sweep, SWEEP_MS) < 0)
        log_error("%s: cannot arm the UDP idle sweep", t->lc->name);
    return fl;
}

static void on_sweep(struct loop_timer *tm)
{
    struct tpudp *t = tm->ud;
    uint64_t now = loop_now(t->w->loop);
    struct tflow *fl = t->flows;
    while (fl) {
        struct tflow *next = fl->next;
        uint64_t idle = addr_port(&fl->dst) == 53 ? DNS_IDLE_MS : IDLE_MS;
        if (now - udpflow_stats(fl->f).last_active >= idle)
            end_flow(fl, "idle");
        fl = next;
    }
    if (t->flows && loop_timer_arm(t->w->loop, tm, SWEEP_MS) < 0)
        log_error("%s: cannot arm the UDP idle sweep", t->lc->name);
}

/* --- the listening socket -------------------------------------------- */

/* One datagram: its client, original destination and payload. */
static void client_dgram(struct tpudp *t, const uint8_t *p, size_t n,
                         struct addr *client, struct addr *dst)
{
    addr_unmap_v4(client);
    struct tflow *fl = find(t, client, dst);
    if (!fl && intercept_is_self(t->w->conf, dst)) {
        log_info("%s: dropped a datagram to ferry itself", t->lc->name);
        return;
    }
    if (!fl && t->n_flows >= MAX_FLOWS) {
        log_debug("%s: too many UDP flows, datagram dropped", t->lc->name);
        return;
    }
    if (!fl && !(fl = new_flow(t, client, dst)))
        return;
    udpflow_send(fl->f, p, n);
}

/* recvmsg() one datagram: 1, 0 when none is left, or -errno. */
static int read_one(struct tpudp *t, uint8_t *buf)
{
    struct sockaddr_in6 sa;
    union {
        char b[ORIGDST_CMSG_SPACE];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, DGRAM_MAX};
    struct msghdr m = {.msg_name = &sa,
                       .msg_namelen = sizeof(sa),
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.b,
                       .msg_controllen = sizeof(ctl.b)};
    ssize_t n = recvmsg(t->io.fd, &m, 0);
    if (n < 0)
        return errno == EAGAIN ? 0 : -errno;
    struct sockaddr_storage ss;
    struct addr client, dst;
    if (origdst_from_cmsg(&m, &ss) < 0 ||
        addr_from_sockaddr(&dst, (struct sockaddr *)&ss, sizeof(ss)) < 0 ||
        addr_from_sockaddr(&client, (struct sockaddr *)&sa, m.msg_namelen) <
            0) {
        log_debug("%s: datagram without its destination", t->lc->name);
        return 1;
    }
    client_dgram(t, buf, (size_t)n, &client, &dst);
    return 1;
}

static void on_io(struct loop_io *io, uint32_t events)
{
    struct tpudp *t = io->ud;
    uint8_t buf[DGRAM_MAX];
    (void)events;
    for (int i = 0; i < READ_BATCH; i++) {
        int rc = read_one(t, buf);
        if (rc == 0)
            return;
        if (rc < 0 && rc != -EINTR)
            log_debug("%s: recvmsg: %s", t->lc->name, strerror(-rc));
    }
    if (loop_mod(t->w->loop, io, IO_EVENTS) < 0)
        log_error("%s: cannot re-arm the UDP socket", t->lc->name);
}

static int open_socket(const struct conf_listener *lc, char *err, size_t errlen)
{
    int fam = lc->addr.u.sa.sa_family, one = 1, zero = 0;
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        (fam == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)) {
        rc = -errno;
        snprintf(err, errlen, "setsockopt: %s", strerror(errno));
    }
    if (rc == 0)
        rc = origdst_make_transparent(fd, fam, true, err, errlen);
    if (rc == 0 && bind(fd, &lc->addr.u.sa, lc->addr.len) < 0) {
        rc = -errno;
        snprintf(err, errlen, "bind: %s", strerror(errno));
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int tpudp_open(struct tpudp **out, struct worker *w,
               const struct conf_listener *lc, char *err, size_t errlen)
{
    struct tpudp *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->w = w;
    t->lc = lc;
    loop_timer_init(&t->sweep, on_sweep, t);
    int fd = open_socket(lc, err, errlen);
    int rc = fd < 0 ? fd : loop_add(w->loop, &t->io, fd, IO_EVENTS, on_io, t);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static void free_tpudp(struct loop_defer *d)
{
    free(d->ud);
}

void tpudp_close(struct tpudp *t)
{
    if (!t)
        return;
    while (t->flows)
        end_flow(t->flows, "shutdown");
    loop_timer_disarm(t->w->loop, &t->sweep);
    loop_del(t->w->loop, &t->io);
    close(t->io.fd);
    t->io.fd = -1;
    loop_defer(t->w->loop, &t->free_later, free_tpudp, t);
}
