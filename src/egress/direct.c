/* direct: see direct.h. */
#include "egress/direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/dns.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"

struct attempt {
    struct loop_io io; /* fd -1 when not in flight */
    struct direct *d;
};

struct direct {
    struct worker *w;
    direct_fn cb; /* NULL once finished or cancelled */
    void *ud;
    struct target target;
    struct dns_query *query;
    struct dns_result addrs;
    unsigned next;    /* next address to try */
    unsigned pending; /* attempts in flight */
    int last_err;
    struct attempt att[DIRECT_MAX_ATTEMPTS];
    struct loop_timer deadline; /* dns or connect timeout */
    struct loop_timer stagger;  /* start the next attempt */
    struct loop_defer start;    /* first step, outside direct_start() */
    struct loop_defer free_later;
};

static void free_direct(struct loop_defer *df) { free(df->ud); }

static void stop_attempt(struct direct *d, struct attempt *a)
{
    if (a->io.fd < 0)
        return;
    loop_del(d->w->loop, &a->io);
    close(a->io.fd);
    a->io.fd = -1;
    d->pending--;
}

/* Release everything and free at the end of the iteration. */
static void finish(struct direct *d)
{
    struct loop *l = d->w->loop;
    d->cb = NULL;
    dns_cancel(d->query);
    d->query = NULL;
    for (unsigned i = 0; i < DIRECT_MAX_ATTEMPTS; i++)
        stop_attempt(d, &d->att[i]);
    loop_timer_disarm(l, &d->deadline);
    loop_timer_disarm(l, &d->stagger);
    loop_defer(l, &d->free_later, free_direct, d);
}

static void done(struct direct *d, enum result r, int fd)
{
    direct_fn cb = d->cb;
    void *ud = d->ud;
    finish(d);
    if (cb)
        cb(ud, r, fd);
}

static void try_next(struct direct *d);

static void fail_attempt(struct direct *d, struct attempt *a, int err)
{
    d->last_err = err;
    stop_attempt(d, a);
    try_next(d);
}

static void on_connect(struct loop_io *io, uint32_t events)
{
    struct attempt *a = io->ud;
    struct direct *d = a->d;
    int err = sock_error(io->fd);
    if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
        int fd = io->fd;
        loop_del(d->w->loop, io);
        io->fd = -1; /* the winner leaves the attempt set */
        d->pending--;
        done(d, RESULT_OK, fd);
        return;
    }
    fail_attempt(d, a, err ? err : ECONNREFUSED);
}

static struct attempt *free_slot(struct direct *d)
{
    for (unsigned i = 0; i < DIRECT_MAX_ATTEMPTS; i++)
        if (d->att[i].io.fd < 0)
            return &d->att[i];
    return NULL;
}

/* Start one more attempt if an address and a slot are left; when none is
 * in flight and none is left, the dial has failed. */
static void try_next(struct direct *d)
{
    struct attempt *a;
    while (d->next < d->addrs.n && (a = free_slot(d))) {
        struct addr *target = &d->addrs.addrs[d->next++];
        addr_set_port(target, d->target.port);
        int fd = sock_connect(target, conf_mark(d->w->conf));
        if (fd < 0) {
            d->last_err = -fd;
            continue;
        }
        int rc = loop_add(d->w->loop, &a->io, fd, EPOLLOUT | EPOLLET,
                          on_connect, a);
        if (rc < 0) {
            close(fd);
            d->last_err = -rc;
            continue;
        }
        d->pending++;
        if (d->next < d->addrs.n &&
            loop_timer_arm(d->w->loop, &d->stagger, DIRECT_STAGGER_MS) < 0)
            log_warn("direct: cannot arm stagger timer");
        return;
    }
    if (d->pending == 0)
        done(d, result_from_errno(d->last_err), -1);
}

static void on_stagger(struct loop_timer *t) { try_next(t->ud); }

static void on_deadline(struct loop_timer *t)
{
    struct direct *d = t->ud;
    done(d, d->query ? RESULT_DNS : RESULT_TIMEOUT, -1);
}

static void connect_all(struct direct *d)
{
    if (loop_timer_arm(d->w->loop, &d->deadline,
                       d->w->conf->timeouts.connect_ms) < 0) {
        done(d, RESULT_INTERNAL, -1);
        return;
    }
    try_next(d);
}

static void on_resolved(void *ud, int status, const struct dns_result *res)
{
    struct direct *d = ud;
    d->query = NULL;
    if (status < 0) {
        log_debug("dns: %s: %s", d->target.host, strerror(-status));
        done(d, RESULT_DNS, -1);
        return;
    }
    d->addrs = *res;
    connect_all(d);
}

static void on_start(struct loop_defer *df)
{
    struct direct *d = df->ud;
    if (!d->cb)
        return;
    if (d->addrs.n > 0) { /* resolved by the caller */
        connect_all(d);
        return;
    }
    if (d->target.kind == TARGET_IP) {
        d->addrs.n = 1;
        d->addrs.addrs[0] = d->target.ip;
        connect_all(d);
        return;
    }
    if (dns_cached(d->w->dns, d->target.host, &d->addrs) == 0) {
        connect_all(d);
        return;
    }
    int rc = dns_resolve(d->w->dns, d->target.host, on_resolved, d,
                         &d->query);
    if (rc == 0)
        rc = loop_timer_arm(d->w->loop, &d->deadline,
                            d->w->conf->timeouts.dns_ms);
    if (rc < 0)
        done(d, RESULT_INTERNAL, -1);
}

int direct_start(struct worker *w, const struct target *t,
                 const struct dns_result *addrs, direct_fn cb, void *ud,
                 struct direct **out)
{
    struct direct *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->w = w;
    d->cb = cb;
    d->ud = ud;
    d->target = *t;
    if (addrs)
        d->addrs = *addrs;
    d->last_err = ECONNREFUSED;
    for (unsigned i = 0; i < DIRECT_MAX_ATTEMPTS; i++) {
        d->att[i].io.fd = -1;
        d->att[i].d = d;
    }
    loop_timer_init(&d->deadline, on_deadline, d);
    loop_timer_init(&d->stagger, on_stagger, d);
    loop_defer(w->loop, &d->start, on_start, d);
    *out = d;
    return 0;
}

void direct_cancel(struct direct *d)
{
    if (d && d->cb)
        finish(d);
}
