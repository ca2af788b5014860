/* pipepool: a worker's pool of kernel pipes for splice().
 *
 * A relay direction takes a pipe while bytes are in flight and puts it
 * back as soon as the pipe is empty, so an idle relayed connection holds
 * no pipe.  Only empty pipes may be put back; a pipe that still holds
 * bytes is closed with pipepool_drop(). */
#ifndef FERRY_PIPEPOOL_H
#define FERRY_PIPEPOOL_H

#include <stddef.h>
#include <sys/types.h>

struct pipepool;

struct pipe_pair {
    int r; /* read end, -1 when none */
    int w; /* write end */
};

/* Gives a pool keeping at most max_idle spare pipes, each sized size bytes
 * (0 = kernel default).  Returns 0 or -errno. */
int pipepool_new(struct pipepool **out, unsigned max_idle, int size);
void pipepool_free(struct pipepool *pp);
/* Take a pipe (from the pool, or a new one).  Returns 0 or -errno. */
int pipepool_get(struct pipepool *pp, struct pipe_pair *out);
/* Give back an empty pipe; *p is reset to {-1, -1}. */
void pipepool_put(struct pipepool *pp, struct pipe_pair *p);
/* Close a pipe that may hold bytes; *p is reset. */
void pipepool_drop(struct pipe_pair *p);
/* The capacity of pipes from this pool, in bytes. */
size_t pipepool_pipe_size(const struct pipepool *pp);

/* One non-blocking splice() of up to n bytes from fd from to fd to (one
 * of them a pipe), retried on EINTR: the number moved, 0 at the end of
 * the source, -EAGAIN or -errno. */
ssize_t pipe_splice(int from, int to, size_t n);

#endif
