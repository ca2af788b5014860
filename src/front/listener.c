/* listener: see listener.h. */
#include "front/listener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"
#include "front/session.h"
#include "front/tpudp.h"

#define LISTEN_BACKLOG 4096
/* Accepts per readiness event, so one busy listener cannot starve the
 * connections already open on this worker. */
#define ACCEPT_BATCH 64

struct listener {
    struct worker *w;
    const struct conf_listener *lc;
    struct loop_io io;
    struct loop_timer retry; /* re-try after EMFILE/ENFILE */
    struct tpudp *udp;       /* tproxy: the UDP side, owned; else NULL */
    struct loop_defer free_later;
};

static void accept_some(struct listener *l)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct addr peer;
        int fd = sock_accept(l->io.fd, &peer);
        if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED)
            return;
        if (fd < 0) {
            /* Out of descriptors: pause this listener for a moment
             * rather than spin on a readiness we cannot serve. */
            log_warn("%s: accept: %s", l->lc->name, strerror(-fd));
            if (loop_timer_arm(l->w->loop, &l->retry, 100) < 0)
                log_error("%s: cannot arm accept retry", l->lc->name);
            return;
        }
        session_accept(l->w, l->lc, fd, &peer);
    }
    /* More may be waiting: edge-triggered, so come back by timer. */
    if (loop_timer_arm(l->w->loop, &l->retry, 0) < 0)
        log_error("%s: cannot arm accept retry", l->lc->name);
}

static void on_accept(struct loop_io *io, uint32_t events)
{
    accept_some(io->ud);
}

static void on_retry(struct loop_timer *t) { accept_some(t->ud); }

/* Why listening failed, with the fix for the privilege a transparent
 * socket needs. */
static void say_why(const struct conf_listener *lc, int rc, char *why,
                    size_t whylen)
{
    if (rc == -EPERM && lc->type == CONF_LISTENER_TPROXY)
        snprintf(why, whylen, "IP_TRANSPARENT needs CAP_NET_ADMIN: run "
                 "ferry as root, or `setcap cap_net_admin+ep` its binary");
    else
        snprintf(why, whylen, "%s", strerror(-rc));
}

int listener_open(struct listener **out, struct worker *w,
                  const struct conf_listener *lc, char *why, size_t whylen)
{
    struct listener *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->w = w;
    l->lc = lc;
    l->io.fd = -1;
    loop_timer_init(&l->retry, on_retry, l);
    /* Intercepted IPv4 and IPv6 traffic reaches one [::] listener. */
    unsigned flags = conf_listener_is_proxy(lc) ? 0 : SOCK_DUAL_STACK;
    if (lc->type == CONF_LISTENER_TPROXY)
        flags |= SOCK_TRANSPARENT;
    int fd = sock_listen(&lc->addr, LISTEN_BACKLOG, flags);
    if (fd < 0) {
        say_why(lc, fd, why, whylen);
        free(l);
        return fd;
    }
    int rc = loop_add(w->loop, &l->io, fd, EPOLLIN | EPOLLET, on_accept, l);
    if (rc < 0) {
        say_why(lc, rc, why, whylen);
        close(fd);
        free(l);
        return rc;
    }
    if (lc->type == CONF_LISTENER_TPROXY &&
        (rc = tpudp_open(&l->udp, w, lc, why, whylen)) < 0) {
        loop_del(w->loop, &l->io);
        close(fd);
        free(l); /* just registered: no event can name it yet */
        return rc;
    }
    *out = l;
    return 0;
}

static void free_listener(struct loop_defer *d) { free(d->ud); }

void listener_close(struct listener *l)
{
    if (!l)
        return;
    loop_timer_disarm(l->w->loop, &l->retry);
    tpudp_close(l->udp);
    loop_del(l->w->loop, &l->io);
    close(l->io.fd);
    l->io.fd = -1; /* an event already fetched for it is skipped */
    loop_defer(l->w->loop, &l->free_later, free_listener, l);
}
