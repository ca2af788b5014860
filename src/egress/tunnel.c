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
    struct tunnel_ref ref;
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
        t->cb(t->ud, t->r, t->fd, t->fd >= 0 ? &t->ref : NULL);
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
static void on_link_result(void *ud, enum result r, int fd, uint32_t id)
{
    struct tunnel_open *t = ud;
    t->r = r;
    t->fd = fd;
    t->ref = (struct tunnel_ref){t->where.owner, t->where.link_id, id};
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
        on_link_result(t, RESULT_NO_TUNNEL, -1, 0);
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

struct handoff_mail {
    struct tunnel_ref ref;
    int sock, fd;
    struct link_handoff *h;
};

/* On the link's worker (live), or anywhere when it has ended. */
static void on_mail_handoff(struct worker *w, void *arg, bool live)
{
    struct handoff_mail *m = arg;
    struct link *l = live ? link_find(w, m->ref.link_id) : NULL;
    if (!l || link_adopt(l, m->ref.stream_id, m->sock, m->fd, m->h) < 0) {
        close(m->sock);
        close(m->fd);
        m->h->end(m->h, "link_down");
    }
    free(m);
}

void tunnel_handoff(const struct tunnel_ref *ref, int sock, int fd,
                    struct link_handoff *h)
{
    struct handoff_mail *m = malloc(sizeof(*m));
    if (!m) {
        close(sock);
        close(fd);
        h->end(h, "no_memory");
        return;
    }
    *m = (struct handoff_mail){*ref, sock, fd, h};
    if (worker_post(ref->owner, on_mail_handoff, m) < 0)
        on_mail_handoff(ref->owner, m, false);
}
