/* Unit tests for core/loop: timer order, re-arm and disarm, deferred calls
 * in FIFO order, and an fd event delivered to its handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/loop.h"

struct probe {
    struct loop *l;
    char log[64];
    size_t n;
    int stop_after;
};

static struct probe P;

static void note(char c)
{
    P.log[P.n++] = c;
    if (--P.stop_after == 0)
        loop_stop(P.l);
}

static void on_timer(struct loop_timer *t) { note(*(char *)t->ud); }
static void on_defer(struct loop_defer *d) { note(*(char *)d->ud); }

static void test_timers_fire_in_order(void **state)
{
    static char names[] = "abcde";
    struct loop_timer t[5];
    memset(&P, 0, sizeof(P));
    assert_int_equal(loop_new(&P.l), 0);
    const uint64_t delays[5] = {40, 10, 30, 20, 50};
    for (int i = 0; i < 5; i++) {
        loop_timer_init(&t[i], on_timer, &names[i]);
        assert_int_equal(loop_timer_arm(P.l, &t[i], delays[i]), 0);
    }
    loop_timer_disarm(P.l, &t[2]);             /* c never fires */
    assert_int_equal(loop_timer_arm(P.l, &t[4], 5), 0); /* e moves first */
    assert_false(loop_timer_armed(&t[2]));
    P.stop_after = 4;
    assert_int_equal(loop_run(P.l), 0);
    assert_memory_equal(P.log, "ebda", 4);
    loop_free(P.l);
}

static void test_deferred_fifo(void **state)
{
    static char names[] = "xyz";
    struct loop_defer d[3] = {0};
    memset(&P, 0, sizeof(P));
    assert_int_equal(loop_new(&P.l), 0);
    for (int i = 0; i < 3; i++)
        loop_defer(P.l, &d[i], on_defer, &names[i]);
    loop_defer(P.l, &d[0], on_defer, &names[0]); /* queued once only */
    P.stop_after = 3;
    assert_int_equal(loop_run(P.l), 0);
    assert_int_equal(P.n, 3);
    assert_memory_equal(P.log, "xyz", 3);
    loop_free(P.l);
}

static void on_io(struct loop_io *io, uint32_t events)
{
    char c;
    assert_true(events & EPOLLIN);
    assert_int_equal(read(io->fd, &c, 1), 1);
    note(c);
}

static void test_io_event(void **state)
{
    int fds[2];
    struct loop_io io;
    memset(&P, 0, sizeof(P));
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(loop_new(&P.l), 0);
    assert_int_equal(loop_add(P.l, &io, fds[0], EPOLLIN, on_io, NULL), 0);
    assert_int_equal(write(fds[1], "k", 1), 1);
    P.stop_after = 1;
    assert_int_equal(loop_run(P.l), 0);
    assert_int_equal(P.log[0], 'k');
    loop_del(P.l, &io);
    loop_free(P.l);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_fire_in_order),
        cmocka_unit_test(test_deferred_fifo),
        cmocka_unit_test(test_io_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
