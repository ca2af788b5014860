/* loop: epoll event loop, timer heap and deferred calls (see loop.h). */
#include "core/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH 256

struct loop {
    int epfd;
    bool stop;
    uint64_t now;
    struct loop_timer **heap; /* min-heap on ->when */
    size_t heap_len, heap_cap;
    struct loop_defer *deferred; /* FIFO: frees run after earlier calls */
    struct loop_defer **deferred_tail;
};

static uint64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int loop_new(struct loop **out)
{
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int err = errno;
        free(l);
        return -err;
    }
    l->now = clock_ms();
    *out = l;
    return 0;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l->heap);
    free(l);
}

uint64_t loop_now(const struct loop *l) { return l->now; }

void loop_stop(struct loop *l) { l->stop = true; }

int loop_add(struct loop *l, struct loop_io *io, int fd, uint32_t events,
             loop_io_fn fn, void *ud)
{
    io->fd = fd;
    io->fn = fn;
    io->ud = ud;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    return 0;
}

int loop_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return -errno;
    return 0;
}

void loop_del(struct loop *l, struct loop_io *io)
{
    /* EPOLL_CTL_DEL can only fail for an fd that was never added, which
     * is the case this function promises to accept. */
    if (io->fd >= 0)
        (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* --- timers: a binary min-heap of pointers; heap_idx is 1-based. --- */

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->heap_idx = i + 1;
}

static void heap_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->when <= t->when)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= l->heap_len)
            break;
        if (child + 1 < l->heap_len &&
            l->heap[child + 1]->when < l->heap[child]->when)
            child++;
        if (t->when <= l->heap[child]->when)
            break;
        heap_set(l, i, l->heap[child]);
        i = child;
    }
    heap_set(l, i, t);
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *ud)
{
    t->when = 0;
    t->heap_idx = 0;
    t->fn = fn;
    t->ud = ud;
}

bool loop_timer_armed(const struct loop_timer *t) { return t->heap_idx != 0; }

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
    if (!t->heap_idx)
        return;
    size_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    struct loop_timer *last = l->heap[--l->heap_len];
    if (i == l->heap_len)
        return;
    heap_set(l, i, last);
    heap_up(l, i);
    heap_down(l, last->heap_idx - 1);
}

int loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
    loop_timer_disarm(l, t);
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
        struct loop_timer **h = realloc(l->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        l->heap = h;
        l->heap_cap = cap;
    }
    t->when = l->now + delay_ms;
    heap_set(l, l->heap_len++, t);
    heap_up(l, l->heap_len - 1);
    return 0;
}

static void run_timers(struct loop *l)
{
    /* Bounded by the timers present now: one re-armed for "now" from its
     * own callback waits for the next pass, after the events. */
    size_t budget = l->heap_len;
    while (budget-- > 0 && l->heap_len > 0 && l->heap[0]->when <= l->now) {
        struct loop_timer *t = l->heap[0];
        loop_timer_disarm(l, t);
        t->fn(t);
    }
}

static int next_timeout(const struct loop *l)
{
    if (l->heap_len == 0)
        return -1;
    uint64_t when = l->heap[0]->when;
    if (when <= l->now)
        return 0;
    uint64_t d = when - l->now;
    return d > 60000 ? 60000 : (int)d;
}

/* --- deferred calls --- */

void loop_defer(struct loop *l, struct loop_defer *d, loop_defer_fn fn,
                void *ud)
{
    if (d->queued)
        return;
    d->queued = true;
    d->fn = fn;
    d->ud = ud;
    d->next = NULL;
    if (!l->deferred)
        l->deferred_tail = &l->deferred;
    *l->deferred_tail = d;
    l->deferred_tail = &d->next;
}

/* Run the calls deferred before this pass; those they defer wait for
 * the next one, after an epoll_wait() (timeout 0): a call that defers
 * itself again (a busy tunnel link yielding) cannot starve the other
 * connections of the loop. */
static void run_deferred_once(struct loop *l)
{
    struct loop_defer *d = l->deferred;
    l->deferred = NULL;
    while (d) {
        struct loop_defer *next = d->next;
        d->queued = false;
        d->fn(d);
        d = next;
    }
}

void loop_run_deferred(struct loop *l)
{
    while (l->deferred)
        run_deferred_once(l);
}

int loop_run(struct loop *l)
{
    struct epoll_event evs[LOOP_BATCH];
    l->stop = false;
    while (!l->stop) {
        int timeout = l->deferred ? 0 : next_timeout(l);
        int n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout);
        if (n < 0 && errno != EINTR)
            return -errno;
        l->now = clock_ms();
        for (int i = 0; i < n; i++) {
            struct loop_io *io = evs[i].data.ptr;
            if (io->fd >= 0) /* closed earlier in this batch */
                io->fn(io, evs[i].events);
        }
        run_timers(l);
        run_deferred_once(l);
    }
    return 0;
}
