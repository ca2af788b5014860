/* connpool: a worker's idle upstream HTTP connections, by origin.
 *
 * After a cleanly framed exchange the forwarder parks the upstream
 * connection here under a key naming the way it reaches the origin
 * ("direct host:port", or the parent proxy's); the next request for the
 * same key takes it.  Bounded: at most max entries, each for at most
 * idle_ms.
 *
 * A connection stays registered with the worker's loop for its whole life
 * (struct upconn), whether a forwarder uses it or the pool holds it:
 * handing it over re-points its handler and costs no system call.  While
 * parked, any input or hang-up closes it at once (the origin closed, or
 * is out of step), so a taken connection needs no liveness probe. */
#ifndef FERRY_CONNPOOL_H
#define FERRY_CONNPOOL_H

#include <stdint.h>

#include "core/loop.h"

#define CONNPOOL_KEY_MAX 320

struct connpool;

/* An upstream socket registered with a loop (heap storage: pending events
 * of the current batch may still point at it after it is closed). */
struct upconn {
    struct loop_io io;
    struct loop *loop;
    struct loop_defer free_later;
};

/* Registers fd (edge-triggered, in and out) with fn(io, events) and ud.
 * On failure fd is closed and -errno returned. */
int upconn_open(struct loop *l, int fd, loop_io_fn fn, void *ud,
                struct upconn **out);
/* Unregisters and closes c.  NULL is a no-op. */
void upconn_close(struct upconn *c);
/* Unregisters c and gives its socket to the caller. */
int upconn_release(struct upconn *c);

int connpool_new(struct connpool **out, unsigned max, uint32_t idle_ms);
/* Closes every parked connection (after the loop ran its last deferred
 * calls).  NULL is a no-op. */
void connpool_free(struct connpool *p);
/* Gives a parked connection for key, or NULL; point its io.fn and io.ud
 * at the new user before the next event. */
struct upconn *connpool_take(struct connpool *p, const char *key,
                             uint64_t now_ms);
/* Takes c (parks it, or closes it when it cannot be kept). */
void connpool_put(struct connpool *p, const char *key, struct upconn *c,
                  uint64_t now_ms);
/* The worker drains: closes every parked connection now, and every one
 * put from now on (no new request will want it, and a parked tunnel
 * stream would keep its link, and so the worker, busy until the end of
 * the grace period).  NULL is a no-op. */
void connpool_drain(struct connpool *p);

#endif
