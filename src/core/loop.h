/* loop: one epoll event loop per worker thread, with timers and deferred
 * calls.
 *
 * Every socket of a worker is registered here; handlers run on the
 * worker's thread only.  Timers live in a binary min-heap inside the loop;
 * a timer is caller storage (struct loop_timer embedded in the object it
 * belongs to).  Deferred calls run at the end of the current iteration,
 * after every event of the batch: objects are freed there, never inside a
 * handler whose caller may still touch them (STYLE.md habit 5). */
#ifndef FERRY_LOOP_H
#define FERRY_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;
struct loop_defer;

typedef void (*loop_io_fn)(struct loop_io *io, uint32_t events);
typedef void (*loop_timer_fn)(struct loop_timer *t);
typedef void (*loop_defer_fn)(struct loop_defer *d);

/* A registered file descriptor (caller storage, open struct). */
struct loop_io {
    int fd;
    loop_io_fn fn;
    void *ud;
};

/* A one-shot timer (caller storage); re-arm from its callback if needed. */
struct loop_timer {
    uint64_t when;   /* absolute expiry, loop clock, ms */
    size_t heap_idx; /* position in the heap + 1; 0 = not armed */
    loop_timer_fn fn;
    void *ud;
};

struct loop_defer {
    struct loop_defer *next;
    loop_defer_fn fn;
    void *ud;
    bool queued;
};

/* Gives a new loop in *out.  Returns 0 or -errno. */
int loop_new(struct loop **out);
void loop_free(struct loop *l);

/* Run until loop_stop(); returns 0 or -errno from epoll_wait. */
int loop_run(struct loop *l);
/* Make loop_run() return after the current iteration. */
void loop_stop(struct loop *l);

/* Register io->fd for events (EPOLLIN, EPOLLOUT, EPOLLET ...).  io is
 * borrowed and must stay valid until loop_del(). */
int loop_add(struct loop *l, struct loop_io *io, int fd, uint32_t events,
             loop_io_fn fn, void *ud);
int loop_mod(struct loop *l, struct loop_io *io, uint32_t events);
/* Unregister (the fd is not closed).  Safe on an io never added (fd < 0). */
void loop_del(struct loop *l, struct loop_io *io);

/* Milliseconds on a monotonic clock, updated once per iteration. */
uint64_t loop_now(const struct loop *l);

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *ud);
/* (Re)arm t to fire delay_ms from now.  -ENOMEM if the heap cannot grow. */
int loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* Run fn(d) at the end of this iteration (once, however often called). */
void loop_defer(struct loop *l, struct loop_defer *d, loop_defer_fn fn,
                void *ud);

/* Run the deferred calls now (used once the loop has stopped). */
void loop_run_deferred(struct loop *l);

#endif
