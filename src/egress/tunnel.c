/* tunnel (egress): see tunnel.h.
 *
 * The request travels as a ticket: origin worker -> (mailbox) -> the
 * link's worker -> link_open -> result -> (mailbox) -> origin.  Only the
 * origin frees the ticket, after its result came back; cancelling only
 * marks it, so no thread ever touches a freed ticket. */
#include "egress/tunnel.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "core/worker.h"
#include "tunnel/link.h"
#include "tunnel/tunnels.h"
#include "tunnel/tunreg.h"

struct tunnel_open {
    struct worker *origin;
    tunnel_fn cb;
    void *ud;
    char group[TUNREG_NAME_MAX + 1];
    struct tunmsg_open o;
    struct tunreg_where where;
    enum result r;
    int fd;
    bool retried;
    atomic_bool cancelled;
    struct loop_defer later;
};

static void attempt(struct tunnel_open *t);

static void finish(struct tunnel_open *t)
{
    if (!atomic_load(&t->cancelled) && t->r == RESULT_NO_TUNNEL &&
        !t->retried) {
        t->retried = true; /* the link went away: another may be there */
        attempt(t);
        return;
    }
    if (atomic_load(&t->cancelled)) {
        if (t->fd >= 0)
            close(t->fd);
    } else {
        t->cb(t->ud, t->r, t->fd);
    }
    free(t);
}

static void on_mail_done(struct worker *w, void *arg, bool live)
{
    struct tunnel_open *t = arg;
    if (live) {
        finish(t);
        return;
    }
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

/* On the link's worker: hand the result to the origin. */
static void on_link_result(void *ud, enum result r, int fd)
{
    struct tunnel_open *t = ud;
    t->r = r;
    t->fd = fd;
    if (t->where.owner == t->origin) {
        finish(t);
        return;
    }
    if (worker_post(t->origin, on_mail_done, t) < 0) {
        if (fd >= 0)
            close(fd);
        free(t);
    }
}

/* On the link's worker: false when the link takes no stream. */
static bool open_here(struct worker *w, struct tunnel_open *t)
{
    struct link *l = link_find(w, t->where.link_id);
    return l && link_open(l, &t->o, on_link_result, t) == 0;
}

static void on_mail_open(struct worker *w, void *arg, bool live)
{
    struct tunnel_open *t = arg;
    if (!live || !open_here(w, t))
        on_link_result(t, RESULT_NO_TUNNEL, -1);
}

static void on_later(struct loop_defer *d) { finish(d->ud); }

static void fail_later(struct tunnel_open *t)
{
    t->r = RESULT_NO_TUNNEL;
    t->fd = -1;
    t->retried = true;
    loop_defer(t->origin->loop, &t->later, on_later, t);
}

static void attempt(struct tunnel_open *t)
{
    struct tunnels *tun = t->origin->tunnels;
    if (!tun || tunreg_pick(tun->reg, t->group, &t->where) < 0) {
        fail_later(t);
        return;
    }
    if (t->where.owner == t->origin ? !open_here(t->origin, t)
                                    : worker_post(t->where.owner,
                                                  on_mail_open, t) < 0)
        fail_later(t);
}

int tunnel_start(struct worker *w, const char *group,
                 const struct tunmsg_open *o, tunnel_fn cb, void *ud,
                 struct tunnel_open **out)
{
    struct tunnel_open *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->origin = w;
    t->cb = cb;
    t->ud = ud;
    snprintf(t->group, sizeof(t->group), "%s", group);
    t->o = *o;
    t->fd = -1;
    atomic_init(&t->cancelled, false);
    *out = t;
    attempt(t);
    return 0;
}

void tunnel_cancel(struct tunnel_open *t)
{
    if (t)
        atomic_store(&t->cancelled, true);
}
