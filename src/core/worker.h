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
struct link;
struct tunnels;
struct agent_slots;
struct gateway_port;
struct worker;
struct connpool;
struct authcache;
struct session;

enum worker_cmd { WORKER_RUN, WORKER_DRAIN, WORKER_STOP };

/* A message for another worker (worker_post).  live is false when the
 * worker ended before the message could run: the handler then only
 * releases what arg owns. */
typedef void (*worker_mail_fn)(struct worker *w, void *arg, bool live);
struct worker_mail;

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
    struct link *links;          /* tunnel links owned by this worker */
    uint64_t link_seq;           /* numbers this worker's links */
    struct agent_slots *agent;   /* owned by tunnel/agent.c, or NULL */
    struct gateway_port *gateway; /* owned by tunnel/gateway.c, or NULL */
    struct tunnels *tunnels;     /* borrowed, shared; NULL without tunnel */
    unsigned n_sessions;
    int wake_fd; /* eventfd written by the main thread */
    struct loop_io wake_io;
    _Atomic int cmd;     /* enum worker_cmd, set by the main thread */
    pthread_mutex_t mail_lock;   /* guards the three below */
    struct worker_mail *mail;    /* FIFO of posted messages (owned) */
    struct worker_mail **mail_tail;
    bool mail_closed;            /* worker ended: posts are refused */
    bool draining;       /* listeners closed; exit when no session left */
    bool stopped;        /* sessions closed by worker_stop() */
    const struct worker_hooks *hooks; /* static storage, or NULL */
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

/* Run fn(w, arg, true) on w's thread, soon (from any thread).  0, or
 * -ESHUTDOWN when w has ended (fn will not run; arg stays the caller's),
 * or -ENOMEM. */
int worker_post(struct worker *w, worker_mail_fn fn, void *arg);

/* Hooks the tunnel module sets (NULL when there is no tunnel): run on a
 * worker's thread when it starts, and when it drains or stops. */
struct worker_hooks {
    void (*start)(struct worker *w);
    void (*drain)(struct worker *w);
    void (*stop)(struct worker *w);
};
void worker_set_hooks(struct worker *w, const struct worker_hooks *h);

/* Stop the loop if the worker drains and nothing is left (no session,
 * no link).  Called when a session or a link ends. */
void worker_maybe_exit(struct worker *w);

/* Called by the session module when a session ends. */
void worker_session_gone(struct worker *w);

#endif
