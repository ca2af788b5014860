/* relay: see relay.h.
 *
 * splice() contract kept here: socket->pipe may return EAGAIN either
 * because the socket is empty or because the pipe is full (its slots can
 * be used up by partial pages before its byte capacity is reached).  We
 * cannot tell the two apart, so EAGAIN with bytes in the pipe means "pipe
 * full": keep the socket marked readable and read again once the pipe
 * has drained.  Only EAGAIN with an empty pipe means the socket is dry. */
#include "core/relay.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void relay_init(struct relay *r, int fd_a, int fd_b, struct pipepool *pipes,
                struct bufpool *bufs)
{
    *r = (struct relay){.fd = {fd_a, fd_b}, .pipes = pipes, .bufs = bufs};
    for (int d = 0; d < 2; d++) {
        r->dir[d].pipe = (struct pipe_pair){-1, -1};
        /* Until epoll says otherwise, assume both sockets can be tried:
         * a failed attempt costs one EAGAIN. */
        r->readable[d] = r->writable[d] = true;
    }
}

void relay_preload(struct relay *r, enum relay_side from, char *buf,
                   size_t off, size_t len)
{
    struct relay_dir *d = &r->dir[from];
    bufpool_put(r->bufs, d->buf);
    d->buf = buf;
    d->buf_off = off;
    d->buf_len = len;
}

void relay_ready(struct relay *r, enum relay_side s, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        r->readable[s] = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        r->writable[s] = true;
}

/* Write buffered bytes of direction d.  0 when the buffer emptied or dst
 * is full, -errno on failure. */
static int flush_buf(struct relay *r, int d)
{
    struct relay_dir *dir = &r->dir[d];
    int dst = r->fd[!d];
    while (dir->buf_len > 0 && r->writable[!d]) {
        ssize_t n = send(dst, dir->buf + dir->buf_off, dir->buf_len,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                r->writable[!d] = false;
            else if (errno != EINTR)
                return -errno;
            continue;
        }
        dir->buf_off += (size_t)n;
        dir->buf_len -= (size_t)n;
        dir->bytes += (uint64_t)n;
    }
    if (dir->buf_len == 0 && dir->buf) {
        bufpool_put(r->bufs, dir->buf);
        dir->buf = NULL;
    }
    return 0;
}

static int flush_pipe(struct relay *r, int d)
{
    struct relay_dir *dir = &r->dir[d];
    int dst = r->fd[!d];
    while (dir->in_pipe > 0 && r->writable[!d]) {
        ssize_t n = pipe_splice(dir->pipe.r, dst, dir->in_pipe);
        if (n == -EAGAIN) {
            r->writable[!d] = false;
            continue;
        }
        if (n < 0)
            return (int)n;
        dir->in_pipe -= (size_t)n;
        dir->bytes += (uint64_t)n;
    }
    if (dir->in_pipe == 0)
        pipepool_put(r->pipes, &dir->pipe);
    return 0;
}

/* Read from the source into a buffer (copy mode). */
static int fill_buf(struct relay *r, int d)
{
    struct relay_dir *dir = &r->dir[d];
    if (!dir->buf && !(dir->buf = bufpool_get(r->bufs)))
        return -ENOMEM;
    ssize_t n = recv(r->fd[d], dir->buf, bufpool_size(r->bufs), 0);
    if (n < 0) {
        if (errno == EAGAIN)
            r->readable[d] = false;
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    }
    if (n == 0)
        dir->src_eof = true;
    dir->buf_off = 0;
    dir->buf_len = (size_t)n;
    return 0;
}

/* Splice from the source into the pipe; falls back to copy mode when the
 * kernel refuses to splice this socket. */
static int fill_pipe(struct relay *r, int d)
{
    struct relay_dir *dir = &r->dir[d];
    if (dir->pipe.r < 0) {
        int rc = pipepool_get(r->pipes, &dir->pipe);
        if (rc < 0)
            return rc;
    }
    size_t room = pipepool_pipe_size(r->pipes) - dir->in_pipe;
    ssize_t n = pipe_splice(r->fd[d], dir->pipe.w, room);
    if (n > 0) {
        dir->in_pipe += (size_t)n;
        return 0;
    }
    if (n == 0) {
        dir->src_eof = true;
        return 0;
    }
    if (n == -EAGAIN) {
        if (dir->in_pipe == 0)
            r->readable[d] = false; /* dry socket; else the pipe is full */
        return 0;
    }
    if (n == -EINVAL && dir->in_pipe == 0) {
        dir->copy_mode = true;
        pipepool_put(r->pipes, &dir->pipe);
        return 0;
    }
    return (int)n;
}

/* Advance direction d as far as readiness and the budget allow.  1 when
 * it stopped at the budget, 0 when it must wait for an event, or -errno. */
static int pump_dir(struct relay *r, int d)
{
    struct relay_dir *dir = &r->dir[d];
    uint64_t start = dir->bytes;
    while (!dir->done) {
        if (dir->bytes - start >= RELAY_TURN)
            return 1;
        int rc = flush_buf(r, d);
        if (rc == 0)
            rc = flush_pipe(r, d);
        if (rc < 0)
            return rc;
        if (dir->buf_len > 0 || dir->in_pipe > 0) {
            if (!r->writable[!d])
                return 0;
            continue;
        }
        if (dir->src_eof) {
            if (shutdown(r->fd[!d], SHUT_WR) < 0 && errno != ENOTCONN)
                return -errno;
            dir->done = true;
            return 0;
        }
        if (!r->readable[d])
            return 0;
        rc = dir->copy_mode ? fill_buf(r, d) : fill_pipe(r, d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int relay_pump(struct relay *r)
{
    bool yielded = false;
    for (int d = 0; d < 2; d++) {
        int rc = pump_dir(r, d);
        if (rc < 0)
            return rc;
        yielded |= rc > 0;
    }
    if (r->dir[0].done && r->dir[1].done)
        return RELAY_DONE;
    return yielded ? RELAY_YIELD : RELAY_MORE;
}

bool relay_busy(const struct relay *r)
{
    for (int d = 0; d < 2; d++)
        if (r->dir[d].in_pipe > 0 || r->dir[d].buf_len > 0)
            return true;
    return false;
}

void relay_fini(struct relay *r)
{
    for (int d = 0; d < 2; d++) {
        struct relay_dir *dir = &r->dir[d];
        if (dir->in_pipe > 0)
            pipepool_drop(&dir->pipe);
        else
            pipepool_put(r->pipes, &dir->pipe);
        bufpool_put(r->bufs, dir->buf);
        dir->buf = NULL;
    }
}
