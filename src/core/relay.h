/* relay: move bytes both ways between two connected sockets.
 *
 * The relay knows nothing about protocols.  Each direction splices
 * src -> pipe -> dst through a pipe taken from the worker's pool (zero
 * copy) and falls back to read/write through a pooled buffer where splice
 * is refused.  Pipes and buffers are held only while bytes are in flight.
 * End of stream on one side becomes shutdown(SHUT_WR) on the other (half
 * close is carried, never turned into a close).  Backpressure: a
 * direction whose pipe is full stops reading until the pipe drains; the
 * sockets stay registered edge-triggered and readiness is remembered
 * here, so no epoll_ctl call is needed to pause or resume.
 *
 * The relay does not own the sockets or register them: the owner feeds
 * epoll events in with relay_ready() and calls relay_pump(). */
#ifndef FERRY_RELAY_H
#define FERRY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bufpool.h"
#include "core/pipepool.h"

enum relay_side { RELAY_A = 0, RELAY_B = 1 };

/* Direction d moves bytes from side d to the other side. */
struct relay_dir {
    struct pipe_pair pipe; /* {-1,-1} when idle */
    size_t in_pipe;        /* bytes now in the pipe */
    char *buf;             /* pool buffer when copying, else NULL */
    size_t buf_off, buf_len;
    uint64_t bytes;   /* delivered to the destination */
    bool copy_mode;   /* splice refused: use read/write */
    bool src_eof;     /* read side reached end of stream */
    bool done;        /* eof delivered as shutdown(SHUT_WR) */
};

struct relay {
    int fd[2];
    bool readable[2], writable[2];
    struct relay_dir dir[2];
    struct pipepool *pipes; /* borrowed from the worker */
    struct bufpool *bufs;   /* borrowed from the worker */
};

enum { RELAY_MORE = 0, RELAY_DONE = 1, RELAY_YIELD = 2 };

/* Bytes one direction moves per relay_pump() at most, so that one busy
 * connection cannot keep a worker from the others for long. */
#define RELAY_TURN (256u << 10)

/* Both sockets are borrowed: the caller closes them after relay_fini(). */
void relay_init(struct relay *r, int fd_a, int fd_b, struct pipepool *pipes,
                struct bufpool *bufs);
/* Bytes to deliver from side `from` before anything read from it (e.g.
 * what a client sent right behind its request head).  Takes buf, a
 * bufpool buffer holding len bytes at off. */
void relay_preload(struct relay *r, enum relay_side from, char *buf,
                   size_t off, size_t len);
/* Record epoll events seen on side s. */
void relay_ready(struct relay *r, enum relay_side s, uint32_t events);
/* Move what can be moved now.  Returns RELAY_MORE (wait for events),
 * RELAY_YIELD (more may be movable: call again soon, after other work;
 * no event will come for it), RELAY_DONE (both directions ended cleanly)
 * or -errno (a socket failed; the caller closes both). */
int relay_pump(struct relay *r);
/* True while any byte is held in a pipe or buffer. */
bool relay_busy(const struct relay *r);
/* Give back pipes and buffers (bytes still held are dropped). */
void relay_fini(struct relay *r);

#endif
