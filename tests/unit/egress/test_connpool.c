/* Unit tests for egress/connpool: a parked connection is taken by its key
 * only; connpool_drain closes every parked connection at once and every
 * one put after it (a worker draining must not keep idle upstreams, such
 * as tunnel streams, open). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "egress/connpool.h"

static void on_io(struct loop_io *io, uint32_t events)
{
    (void)io;
    (void)events;
}

/* A parked-looking upstream: one end of a socket pair registered with l;
 * *peer is the other end, to watch it close. */
static struct upconn *upstream(struct loop *l, int *peer)
{
    int sv[2];
    struct upconn *c = NULL;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    assert_int_equal(upconn_open(l, sv[0], on_io, NULL, &c), 0);
    *peer = sv[1];
    return c;
}

/* The peer end sees EOF: its partner was closed. */
static void assert_closed(int peer)
{
    char b;
    assert_int_equal(recv(peer, &b, 1, MSG_DONTWAIT), 0);
    close(peer);
}

static void assert_open(int peer)
{
    char b;
    assert_int_equal(recv(peer, &b, 1, MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void test_take_by_key(void **state)
{
    (void)state;
    struct loop *l;
    struct connpool *p;
    int peer;
    assert_int_equal(loop_new(&l), 0);
    assert_int_equal(connpool_new(&p, 4, 1000), 0);
    struct upconn *c = upstream(l, &peer);
    connpool_put(p, "direct a:80", c, 0);
    assert_null(connpool_take(p, "direct b:80", 1));
    assert_ptr_equal(connpool_take(p, "direct a:80", 1), c);
    assert_null(connpool_take(p, "direct a:80", 1));
    upconn_close(c);
    loop_run_deferred(l);
    assert_closed(peer);
    connpool_free(p);
    loop_free(l);
}

static void test_drain_closes_parked_and_later(void **state)
{
    (void)state;
    struct loop *l;
    struct connpool *p;
    int peer[3];
    assert_int_equal(loop_new(&l), 0);
    assert_int_equal(connpool_new(&p, 4, 30000), 0);
    connpool_put(p, "tunnel lab a:80", upstream(l, &peer[0]), 0);
    connpool_put(p, "direct b:80", upstream(l, &peer[1]), 0);
    assert_open(peer[0]);
    assert_open(peer[1]);
    connpool_drain(p);
    assert_closed(peer[0]);
    assert_closed(peer[1]);
    assert_null(connpool_take(p, "tunnel lab a:80", 1));
    connpool_put(p, "direct b:80", upstream(l, &peer[2]), 2);
    assert_closed(peer[2]);
    assert_null(connpool_take(p, "direct b:80", 3));
    connpool_drain(NULL);
    loop_run_deferred(l);
    connpool_free(p);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_by_key),
        cmocka_unit_test(test_drain_closes_parked_and_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
