/* worker: one thread, one event loop, and everything its connections
 * need (resolver, pipe and buffer pools, listeners, counters).
 *
 * Nothing here is shared between workers; the main thread talks to a
 * worker only through worker_drain()/worker_stop(), which write to the
 * worker's eventfd.  The struct is open because every module on the
 * worker's thread reads its members; only that thread touches them
 * after worker_start(). */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "core/bufpool.h"
#include "core/dns.h"
#include "core/loop.h"
#include "core/pipepool.h"

struct listener;
struct connpool;
struct authcache;
struct session;

enum worker_cmd { WORKER_RUN, WORKER_DRAIN, WORKER_STOP };

struct worker {
    unsigned id;
    pthread_t thread;
    bool started; /* thread created */
    struct loop *loop;
    const struct conf *conf; /* borrowed; outlives the worker */
    struct dns *dns;
    struct pipepool *pipes;
    struct bufpool *bufs;
    struct connpool *pool;       /* idle upstream HTTP connections */
    struct authcache *authcache; /* recently verified credentials */
    struct listener **listeners; /* owned, n = conf->n_listeners */
    struct session *sessions;    /* live sessions (intrusive list) */
    unsigned n_sessions;
    int wake_fd; /* eventfd written by the main thread */
    struct loop_io wake_io;
    _Atomic int cmd;     /* enum worker_cmd, set by the main thread */
    bool draining;       /* listeners closed; exit when no session left */
    atomic_bool exited;  /* loop finished; the thread can be joined */
};

/* Gives a worker with its listeners open (so bind errors show before any
 * thread starts).  err receives a one-line reason on failure. */
int worker_new(struct worker **out, unsigned id, const struct conf *c,
               char *err, size_t errlen);
int worker_start(struct worker *w);
/* Ask the worker to stop accepting and exit when its sessions end. */
void worker_drain(struct worker *w);
/* Ask the worker to close every session now and exit. */
void worker_stop(struct worker *w);
/* Join the thread (after drain/stop) and free everything. */
void worker_free(struct worker *w);

/* Called by the session module when a session ends. */
void worker_session_gone(struct worker *w);

#endif
