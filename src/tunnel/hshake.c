/* hshake: see hshake.h. */
#include "tunnel/hshake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/worker.h"
#include "tunnel/tport.h"

/* end() may take the tport (hshake_take); what is left is closed. */
static void finish(struct hshake *h, int rc, const char *why)
{
    h->end(h->ud, h, rc, why);
    hshake_cancel(h);
}

static int flush_out(struct hshake *h)
{
    while (h->out_off < h->out_len) {
        ssize_t r = tport_write(h->t, h->out + h->out_off,
                                h->out_len - h->out_off);
        if (r < 0)
            return (int)r;
        h->out_off += (size_t)r;
    }
    h->out_off = h->out_len = 0;
    int rc = tport_flush(h->t);
    return rc;
}

/* Read what the limit allows: 1 when bytes came, 0 when none, -errno. */
static int read_in(struct hshake *h)
{
    size_t room = h->limit < HSHAKE_IN_MAX ? h->limit : HSHAKE_IN_MAX;
    if (h->in_len >= room)
        return 0;
    ssize_t r = tport_read(h->t, h->in + h->in_len, room - h->in_len);
    if (r == -EAGAIN)
        return 0;
    if (r <= 0)
        return r == 0 ? -ECONNRESET : (int)r;
    h->in_len += (size_t)r;
    return 1;
}

/* Run until the transport blocks or the step is done. */
static void drive(struct hshake *h)
{
    if (!h->tls_state) {
        int rc = tport_handshake(h->t);
        if (rc == -EAGAIN)
            return;
        if (rc < 0) {
            finish(h, rc, tport_error(h->t)[0] ? tport_error(h->t)
                                              : "TLS handshake failed");
            return;
        }
        h->tls_state = 1;
    }
    for (;;) {
        int st = h->step(h);
        if (st < 0) {
            finish(h, st, h->why ? h->why : "failed");
            return;
        }
        bool sent = h->out_len > 0;
        int rc = flush_out(h);
        if (rc < 0 && rc != -EAGAIN) {
            finish(h, rc, "write failed");
            return;
        }
        if (st == 1 && rc == 0) { /* complete, and every byte left */
            finish(h, 0, NULL);
            return;
        }
        if (st == 1)
            return; /* step() says 1 again once the rest has left */
        if (sent && rc == 0)
            continue; /* step() sees it left before bytes are read: a
                         101 switches the transport to WebSocket first */
        int got = read_in(h);
        if (got < 0) {
            finish(h, got, h->why ? h->why : "connection closed");
            return;
        }
        if (got == 0)
            return; /* the next event brings bytes or room */
    }
}

static void on_io(struct loop_io *io, uint32_t events) { drive(io->ud); }

static void on_deadline(struct loop_timer *t)
{
    finish(t->ud, -ETIMEDOUT, "handshake timed out");
}

int hshake_start(struct hshake **out, struct worker *w, struct tport *t,
                 uint32_t timeout_ms, hshake_step_fn step, hshake_end_fn end,
                 void *ud)
{
    struct hshake *h = calloc(1, sizeof(*h));
    if (!h) {
        tport_free(t);
        return -ENOMEM;
    }
    h->w = w;
    h->t = t;
    h->limit = HSHAKE_IN_MAX;
    h->step = step;
    h->end = end;
    h->ud = ud;
    loop_timer_init(&h->deadline, on_deadline, h);
    int rc = loop_timer_arm(w->loop, &h->deadline, timeout_ms);
    if (rc == 0)
        rc = loop_add(w->loop, &h->io, tport_fd(t),
                      EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_io, h);
    if (rc < 0) {
        loop_timer_disarm(w->loop, &h->deadline);
        tport_free(t);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

static void free_hshake(struct loop_defer *d) { free(d->ud); }

void hshake_cancel(struct hshake *h)
{
    if (!h)
        return;
    loop_timer_disarm(h->w->loop, &h->deadline);
    loop_del(h->w->loop, &h->io);
    h->io.fd = -1;
    tport_free(h->t);
    h->t = NULL;
    loop_defer(h->w->loop, &h->free_later, free_hshake, h);
}

int hshake_send(struct hshake *h, const void *p, size_t n)
{
    if (h->out_len + n > HSHAKE_OUT_MAX)
        return -ENOSPC;
    memcpy(h->out + h->out_len, p, n);
    h->out_len += n;
    return 0;
}

void hshake_consume(struct hshake *h, size_t n)
{
    memmove(h->in, h->in + n, h->in_len - n);
    h->in_len -= n;
}

struct tport *hshake_take(struct hshake *h)
{
    loop_del(h->w->loop, &h->io);
    h->io.fd = -1; /* the fd is the link's now: never unregister it */
    struct tport *t = h->t;
    h->t = NULL;
    return t;
}
