/* worker: see worker.h. */
#include "core/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "egress/connpool.h"
#include "policy/auth.h"
#include "front/listener.h"
#include "front/session.h"

#define WORKER_SPARE_PIPES 64
#define WORKER_SPARE_BUFS 64
#define WORKER_PIPE_SIZE (1 << 20)
#define WORKER_POOLED_CONNS 512
#define WORKER_POOL_IDLE_MS 30000
#define WORKER_AUTHCACHE_SIZE 64

static void close_listeners(struct worker *w)
{
    for (unsigned i = 0; i < w->conf->n_listeners; i++) {
        listener_close(w->listeners[i]);
        w->listeners[i] = NULL;
    }
}

struct worker_mail {
    struct worker_mail *next;
    worker_mail_fn fn;
    void *arg;
};

void worker_maybe_exit(struct worker *w)
{
    if (w->draining && w->n_sessions == 0 && !w->links)
        loop_stop(w->loop);
}

int worker_post(struct worker *w, worker_mail_fn fn, void *arg)
{
    struct worker_mail *m = malloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    *m = (struct worker_mail){.fn = fn, .arg = arg};
    pthread_mutex_lock(&w->mail_lock);
    bool closed = w->mail_closed;
    if (!closed) {
        *w->mail_tail = m;
        w->mail_tail = &m->next;
    }
    pthread_mutex_unlock(&w->mail_lock);
    if (closed) {
        free(m);
        return -ESHUTDOWN;
    }
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0)
        log_error("worker %u: eventfd write: %s", w->id, strerror(errno));
    return 0;
}

/* Run the messages posted so far; with close set, refuse later posts and
 * hand every message its live=false call. */
static void run_mail(struct worker *w, bool close)
{
    pthread_mutex_lock(&w->mail_lock);
    struct worker_mail *m = w->mail;
    w->mail = NULL;
    w->mail_tail = &w->mail;
    w->mail_closed |= close;
    pthread_mutex_unlock(&w->mail_lock);
    while (m) {
        struct worker_mail *next = m->next;
        m->fn(w, m->arg, !close);
        free(m);
        m = next;
    }
}

void worker_set_hooks(struct worker *w, const struct worker_hooks *h)
{
    w->hooks = h;
}

static void on_wake(struct loop_io *io, uint32_t events)
{
    struct worker *w = io->ud;
    uint64_t v;
    /* The counter value carries no meaning; reading only resets it. */
    if (read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        log_warn("worker %u: eventfd read: %s", w->id, strerror(errno));
    run_mail(w, false);
    int cmd = atomic_load(&w->cmd);
    if (cmd >= WORKER_DRAIN && !w->draining) {
        w->draining = true;
        close_listeners(w);
        connpool_drain(w->pool);
        if (w->hooks)
            w->hooks->drain(w);
    }
    if (cmd == WORKER_STOP && !w->stopped) {
        w->stopped = true;
        session_close_all(w);
        if (w->hooks)
            w->hooks->stop(w);
    }
    worker_maybe_exit(w);
}

void worker_session_gone(struct worker *w)
{
    w->n_sessions--;
    worker_maybe_exit(w);
}

static int open_listeners(struct worker *w, char *err, size_t errlen)
{
    const struct conf *c = w->conf;
    w->listeners = calloc(c->n_listeners ? c->n_listeners : 1,
                          sizeof(*w->listeners));
    if (!w->listeners)
        return -ENOMEM;
    for (unsigned i = 0; i < c->n_listeners; i++) {
        char why[200];
        int rc = listener_open(&w->listeners[i], w, &c->listeners[i], why,
                               sizeof(why));
        if (rc < 0) {
            char a[ADDR_STRLEN];
            snprintf(err, errlen, "cannot listen on %s (%s): %s",
                     addr_format(&c->listeners[i].addr, a, sizeof(a)),
                     c->listeners[i].name, why);
            return rc;
        }
    }
    return 0;
}

static int setup(struct worker *w, char *err, size_t errlen)
{
    const struct conf *c = w->conf;
    int rc = loop_new(&w->loop);
    if (rc == 0)
        rc = pipepool_new(&w->pipes, WORKER_SPARE_PIPES, WORKER_PIPE_SIZE);
    if (rc == 0)
        rc = bufpool_new(&w->bufs, WORKER_SPARE_BUFS, c->max_head);
    if (rc == 0)
        rc = connpool_new(&w->pool, WORKER_POOLED_CONNS,
                          WORKER_POOL_IDLE_MS);
    if (rc == 0)
        rc = authcache_new(&w->authcache, WORKER_AUTHCACHE_SIZE);
    if (rc == 0)
        rc = dns_new(&w->dns, w->loop, &c->dns, c->timeouts.dns_ms,
                     conf_mark(c));
    if (rc < 0) {
        snprintf(err, errlen, "worker set-up: %s", strerror(-rc));
        return rc;
    }
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0 ||
        (rc = loop_add(w->loop, &w->wake_io, w->wake_fd, EPOLLIN, on_wake,
                       w)) < 0) {
        rc = w->wake_fd < 0 ? -errno : rc;
        snprintf(err, errlen, "worker eventfd: %s", strerror(-rc));
        return rc;
    }
    return open_listeners(w, err, errlen);
}

int worker_new(struct worker **out, unsigned id, const struct conf *c,
               char *err, size_t errlen)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->id = id;
    w->conf = c;
    w->wake_fd = -1;
    pthread_mutex_init(&w->mail_lock, NULL);
    w->mail_tail = &w->mail;
    atomic_init(&w->cmd, WORKER_RUN);
    atomic_init(&w->exited, false);
    int rc = setup(w, err, errlen);
    if (rc < 0) {
        worker_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    if (w->hooks)
        w->hooks->start(w);
    int rc = loop_run(w->loop);
    if (rc < 0)
        log_error("worker %u: event loop failed: %s", w->id, strerror(-rc));
    session_close_all(w);
    if (w->hooks)
        w->hooks->stop(w);
    loop_run_deferred(w->loop);
    run_mail(w, true);
    atomic_store(&w->exited, true);
    return NULL;
}

int worker_start(struct worker *w)
{
    int rc = pthread_create(&w->thread, NULL, run, w);
    w->started = rc == 0;
    return rc ? -rc : 0;
}

static void send_cmd(struct worker *w, enum worker_cmd cmd)
{
    uint64_t one = 1;
    atomic_store(&w->cmd, (int)cmd);
    if (write(w->wake_fd, &one, sizeof(one)) < 0)
        log_error("worker %u: eventfd write: %s", w->id, strerror(errno));
}

void worker_drain(struct worker *w) { send_cmd(w, WORKER_DRAIN); }
void worker_stop(struct worker *w) { send_cmd(w, WORKER_STOP); }

void worker_free(struct worker *w)
{
    if (!w)
        return;
    if (w->started)
        pthread_join(w->thread, NULL);
    if (w->listeners)
        close_listeners(w);
    free(w->listeners);
    if (w->hooks && w->loop)
        w->hooks->stop(w); /* idempotent; covers a worker never started */
    if (w->loop)
        loop_run_deferred(w->loop);
    run_mail(w, true);
    pthread_mutex_destroy(&w->mail_lock);
    dns_free(w->dns);
    if (w->wake_fd >= 0) {
        loop_del(w->loop, &w->wake_io);
        close(w->wake_fd);
    }
    connpool_free(w->pool);
    authcache_free(w->authcache);
    pipepool_free(w->pipes);
    bufpool_free(w->bufs);
    loop_free(w->loop);
    free(w);
}
