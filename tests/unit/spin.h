/* spin: run a worker's loop in short slices, for the tests that drive a
 * worker themselves (never started: no thread, the test is the loop's
 * caller).  Header-only: each test is one program. */
#ifndef FERRY_TEST_SPIN_H
#define FERRY_TEST_SPIN_H

#include <stdbool.h>

#include "core/loop.h"

/* The callback of the slice timer: loop_timer_init(&tick, spin_tick, l). */
static inline void spin_tick(struct loop_timer *t) { loop_stop(t->ud); }

/* Run l in 5 ms slices (tick: initialised with spin_tick) until pred()
 * or ms pass; pred NULL: just run for ms.  Returns pred()'s last answer. */
static inline bool spin_loop(struct loop *l, struct loop_timer *tick,
                             bool (*pred)(void), int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (pred && pred())
            return true;
        assert_int_equal(loop_timer_arm(l, tick, 5), 0);
        assert_int_equal(loop_run(l), 0);
    }
    return pred ? pred() : true;
}

#endif
