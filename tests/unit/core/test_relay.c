/* Unit tests for core/relay over socketpairs: both directions, preload,
 * half-close carried as shutdown(SHUT_WR), backpressure, the per-pump
 * budget, and that an idle relay holds no pipe or buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/relay.h"

struct rig {
    int client, a;   /* client <-> relay side A */
    int b, server;   /* relay side B <-> server */
    struct pipepool *pipes;
    struct bufpool *bufs;
    struct relay r;
};

static void pair(int *x, int *y)
{
    int sv[2];
    assert_int_equal(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    *x = sv[0];
    *y = sv[1];
}

static int setup(void **state)
{
    static struct rig rig;
    memset(&rig, 0, sizeof(rig));
    pair(&rig.client, &rig.a);
    pair(&rig.b, &rig.server);
    assert_int_equal(pipepool_new(&rig.pipes, 4, 0), 0);
    assert_int_equal(bufpool_new(&rig.bufs, 4, BUFPOOL_SIZE), 0);
    relay_init(&rig.r, rig.a, rig.b, rig.pipes, rig.bufs);
    *state = &rig;
    return 0;
}

static int teardown(void **state)
{
    struct rig *g = *state;
    relay_fini(&g->r);
    pipepool_free(g->pipes);
    bufpool_free(g->bufs);
    close(g->client);
    close(g->a);
    close(g->b);
    close(g->server);
    return 0;
}

static void mark_all_ready(struct relay *r)
{
    relay_ready(r, RELAY_A, 0x1 | 0x4); /* EPOLLIN | EPOLLOUT */
    relay_ready(r, RELAY_B, 0x1 | 0x4);
}

static void expect_read(int fd, const char *want)
{
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    assert_int_equal(n, (ssize_t)strlen(want));
    assert_memory_equal(buf, want, strlen(want));
}

static void test_both_ways_and_idle_holds_nothing(void **state)
{
    struct rig *g = *state;
    assert_int_equal(write(g->client, "ping", 4), 4);
    assert_int_equal(write(g->server, "pong!", 5), 5);
    mark_all_ready(&g->r);
    assert_int_equal(relay_pump(&g->r), RELAY_MORE);
    expect_read(g->server, "ping");
    expect_read(g->client, "pong!");
    assert_false(relay_busy(&g->r));
    for (int d = 0; d < 2; d++) {
        assert_int_equal(g->r.dir[d].pipe.r, -1);
        assert_null(g->r.dir[d].buf);
    }
    assert_int_equal(g->r.dir[RELAY_A].bytes, 4);
    assert_int_equal(g->r.dir[RELAY_B].bytes, 5);
}

static void test_preload_goes_first(void **state)
{
    struct rig *g = *state;
    char *buf = bufpool_get(g->bufs);
    memcpy(buf, "xxHEAD-TAIL", 11);
    relay_preload(&g->r, RELAY_A, buf, 2, 9);
    assert_int_equal(write(g->client, "+more", 5), 5);
    mark_all_ready(&g->r);
    assert_int_equal(relay_pump(&g->r), RELAY_MORE);
    char out[64];
    ssize_t n = read(g->server, out, sizeof(out));
    assert_int_equal(n, 14);
    assert_memory_equal(out, "HEAD-TAIL+more", 14);
}

static void test_half_close_keeps_other_direction(void **state)
{
    struct rig *g = *state;
    char c;
    assert_int_equal(shutdown(g->client, SHUT_WR), 0);
    mark_all_ready(&g->r);
    assert_int_equal(relay_pump(&g->r), RELAY_MORE);
    assert_int_equal(read(g->server, &c, 1), 0); /* EOF carried */
    assert_true(g->r.dir[RELAY_A].done);
    /* The server keeps talking after the client's EOF. */
    assert_int_equal(write(g->server, "late", 4), 4);
    relay_ready(&g->r, RELAY_B, 0x1);
    assert_int_equal(relay_pump(&g->r), RELAY_MORE);
    expect_read(g->client, "late");
    assert_int_equal(shutdown(g->server, SHUT_WR), 0);
    relay_ready(&g->r, RELAY_B, 0x1);
    assert_int_equal(relay_pump(&g->r), RELAY_DONE);
    assert_int_equal(read(g->client, &c, 1), 0);
}

static void test_backpressure_stops_reading(void **state)
{
    struct rig *g = *state;
    static char chunk[65536];
    size_t sent = 0;
    /* The server never reads: fill everything between client and it. */
    for (int i = 0; i < 4096; i++) {
        ssize_t n = write(g->client, chunk, sizeof(chunk));
        if (n > 0)
            sent += (size_t)n;
        mark_all_ready(&g->r);
        assert_int_equal(relay_pump(&g->r), RELAY_MORE);
        if (n < 0 && errno == EAGAIN && !g->r.writable[RELAY_B])
            break;
    }
    assert_false(g->r.writable[RELAY_B]);
    assert_true(relay_busy(&g->r));
    /* Now the server drains; everything arrives, in order, once. */
    size_t got = 0;
    char buf[65536];
    for (int i = 0; i < 100000 && got < sent; i++) {
        ssize_t n = read(g->server, buf, sizeof(buf));
        if (n > 0)
            got += (size_t)n;
        relay_ready(&g->r, RELAY_B, 0x4);
        relay_ready(&g->r, RELAY_A, 0x1);
        assert_int_equal(relay_pump(&g->r), RELAY_MORE);
    }
    assert_int_equal(got, sent);
    assert_false(relay_busy(&g->r));
}

/* One pump moves at most RELAY_TURN bytes a direction and says so; the
 * next pumps go on where it stopped, with no event needed. */
static void test_turn_bounds_one_pump(void **state)
{
    struct rig *g = *state;
    int big = 1 << 20; /* the kernel caps it at wmem_max and doubles it */
    assert_int_equal(
        setsockopt(g->client, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
    assert_int_equal(
        setsockopt(g->b, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
    static unsigned char out[3 * RELAY_TURN], in[sizeof(out)];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (unsigned char)(i * 7 + i / 251);
    size_t sent = 0;
    for (ssize_t n = 1; n > 0 && sent < sizeof(out); sent += (size_t)n)
        if ((n = write(g->client, out + sent, sizeof(out) - sent)) < 0)
            n = 0;
    assert_true(sent > RELAY_TURN); /* else this test shows nothing */
    mark_all_ready(&g->r);
    assert_int_equal(relay_pump(&g->r), RELAY_YIELD);
    assert_true(g->r.dir[RELAY_A].bytes >= RELAY_TURN);
    assert_true(g->r.dir[RELAY_A].bytes < sent);
    size_t got = 0;
    int rc = RELAY_YIELD;
    for (int i = 0; i < 1000 && got < sent; i++) {
        ssize_t n = read(g->server, in + got, sizeof(in) - got);
        if (n > 0)
            got += (size_t)n;
        if (rc == RELAY_YIELD || n > 0) {
            relay_ready(&g->r, RELAY_B, 0x4); /* room made by the read */
            rc = relay_pump(&g->r);
        }
    }
    assert_int_equal(got, sent);
    assert_memory_equal(in, out, sent);
    assert_int_equal(relay_pump(&g->r), RELAY_MORE); /* nothing left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_both_ways_and_idle_holds_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload_goes_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_half_close_keeps_other_direction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_stops_reading,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_bounds_one_pump, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
