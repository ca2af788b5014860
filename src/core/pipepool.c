/* pipepool: see pipepool.h. */
#include "core/pipepool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

struct pipepool {
    unsigned n_idle, max_idle;
    int size;
    size_t capacity;
    struct pipe_pair idle[];
};

int pipepool_new(struct pipepool **out, unsigned max_idle, int size)
{
    struct pipepool *pp =
        calloc(1, sizeof(*pp) + max_idle * sizeof(struct pipe_pair));
    if (!pp)
        return -ENOMEM;
    pp->max_idle = max_idle;
    pp->size = size;
    pp->capacity = size > 0 ? (size_t)size : 65536;
    *out = pp;
    return 0;
}

void pipepool_free(struct pipepool *pp)
{
    if (!pp)
        return;
    for (unsigned i = 0; i < pp->n_idle; i++)
        pipepool_drop(&pp->idle[i]);
    free(pp);
}

size_t pipepool_pipe_size(const struct pipepool *pp) { return pp->capacity; }

int pipepool_get(struct pipepool *pp, struct pipe_pair *out)
{
    if (pp->n_idle > 0) {
        *out = pp->idle[--pp->n_idle];
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    if (pp->size > 0) {
        int got = fcntl(fds[1], F_SETPIPE_SZ, pp->size);
        /* The kernel may refuse a big pipe (pipe-user-pages limits); the
         * relay then works with what it got, so remember the real size. */
        if (got > 0 && (size_t)got < pp->capacity)
            pp->capacity = (size_t)got;
        else if (got < 0)
            pp->capacity = (size_t)fcntl(fds[1], F_GETPIPE_SZ);
    }
    out->r = fds[0];
    out->w = fds[1];
    return 0;
}

void pipepool_put(struct pipepool *pp, struct pipe_pair *p)
{
    if (p->r < 0)
        return;
    if (pp->n_idle < pp->max_idle) {
        pp->idle[pp->n_idle++] = *p;
        p->r = p->w = -1;
        return;
    }
    pipepool_drop(p);
}

void pipepool_drop(struct pipe_pair *p)
{
    if (p->r >= 0) {
        close(p->r);
        close(p->w);
    }
    p->r = p->w = -1;
}

ssize_t pipe_splice(int from, int to, size_t n)
{
    for (;;) {
        ssize_t r = splice(from, NULL, to, NULL, n,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}
