/* connpool: see connpool.h.  An array scanned linearly: a worker keeps
 * hundreds of idle connections at most, and a scan of them costs less
 * than the connect it saves. */
#include "egress/connpool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define UPCONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

struct parked {
    struct upconn *c; /* NULL = free slot */
    uint64_t since;
    char key[CONNPOOL_KEY_MAX];
};

struct connpool {
    unsigned max;
    uint32_t idle_ms;
    bool draining;
    struct parked slot[];
};

/* ---- upstream connections ---- */

int upconn_open(struct loop *l, int fd, loop_io_fn fn, void *ud,
                struct upconn **out)
{
    struct upconn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->loop = l;
    int rc = loop_add(l, &c->io, fd, UPCONN_EVENTS, fn, ud);
    if (rc < 0) {
        close(fd);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void free_upconn(struct loop_defer *d) { free(d->ud); }

/* Unregister; the memory goes at the end of the loop iteration.  fd -1
 * makes the loop skip events of this batch that still point at it. */
static int detach(struct upconn *c)
{
    int fd = c->io.fd;
    loop_del(c->loop, &c->io);
    c->io.fd = -1;
    loop_defer(c->loop, &c->free_later, free_upconn, c);
    return fd;
}

void upconn_close(struct upconn *c)
{
    if (c)
        close(detach(c));
}

int upconn_release(struct upconn *c) { return detach(c); }

/* ---- the pool ---- */

int connpool_new(struct connpool **out, unsigned max, uint32_t idle_ms)
{
    struct connpool *p = calloc(1, sizeof(*p) + max * sizeof(p->slot[0]));
    if (!p)
        return -ENOMEM;
    p->max = max;
    p->idle_ms = idle_ms;
    *out = p;
    return 0;
}

static void drop(struct parked *e)
{
    upconn_close(e->c);
    e->c = NULL;
}

void connpool_free(struct connpool *p)
{
    if (!p)
        return;
    /* The loop runs no more deferred calls: free here. */
    for (unsigned i = 0; i < p->max; i++) {
        if (!p->slot[i].c)
            continue;
        close(p->slot[i].c->io.fd);
        free(p->slot[i].c);
    }
    free(p);
}

/* Parked connections must be silent: EOF or unexpected bytes mean the
 * origin closed or is out of step, and the connection cannot carry a
 * request. */
static bool alive(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* An event for a parked connection.  It may be late news of bytes its
 * last user read already: look before dropping it. */
static void on_parked(struct loop_io *io, uint32_t events)
{
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
        !alive(io->fd))
        drop(io->ud);
}

struct upconn *connpool_take(struct connpool *p, const char *key,
                             uint64_t now_ms)
{
    for (unsigned i = 0; i < p->max; i++) {
        struct parked *e = &p->slot[i];
        if (!e->c)
            continue;
        if (now_ms - e->since > p->idle_ms) {
            drop(e);
            continue;
        }
        if (strcmp(e->key, key) != 0)
            continue;
        struct upconn *c = e->c;
        e->c = NULL;
        return c;
    }
    return NULL;
}

void connpool_put(struct connpool *p, const char *key, struct upconn *c,
                  uint64_t now_ms)
{
    struct parked *victim = NULL;
    if (p->draining || strlen(key) >= CONNPOOL_KEY_MAX || p->max == 0) {
        upconn_close(c);
        return;
    }
    for (unsigned i = 0; i < p->max; i++) {
        struct parked *e = &p->slot[i];
        if (!e->c) {
            victim = e;
            break;
        }
        if (!victim || e->since < victim->since)
            victim = e; /* the oldest goes when the pool is full */
    }
    if (victim->c)
        drop(victim);
    victim->c = c;
    victim->since = now_ms;
    strcpy(victim->key, key);
    c->io.fn = on_parked;
    c->io.ud = victim;
}

void connpool_drain(struct connpool *p)
{
    if (!p)
        return;
    p->draining = true;
    for (unsigned i = 0; i < p->max; i++)
        if (p->slot[i].c)
            drop(&p->slot[i]);
}
