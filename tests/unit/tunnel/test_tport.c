/* test_tport: the transport's output buffering over TLS (and WebSocket
 * over TLS): what tport_write() takes may wait in the tport, several
 * records to one send(), until its buffer fills or tport_flush(); the
 * peer then reads every byte, in order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../tlspair.h"
#include "tunnel/tport.h"

struct pair {
    struct tport *client, *server;
    int raw; /* a duplicate of the server's socket, to see what arrived */
};

static void pair_new(struct pair *p, bool ws)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    int big = 1 << 20; /* room for every case's bytes before any read */
    assert_int_equal(
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
    tlspair_new(&p->client, &p->server, sv[0], sv[1]);
    if (ws) {
        tport_ws_start(p->client, true);
        tport_ws_start(p->server, false);
    }
    p->raw = dup(sv[1]);
    assert_true(p->raw >= 0);
    /* The handshake's last flight (the server's session tickets) may
     * still wait on the client's socket: take it now. */
    uint8_t b;
    assert_int_equal(tport_read(p->client, &b, 1), -EAGAIN);
}

static void pair_free(struct pair *p)
{
    tport_free(p->client);
    tport_free(p->server);
    close(p->raw);
}

static size_t unread(int fd)
{
    int n = 0;
    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return (size_t)n;
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 13 + i / 253); }

/* Write pattern bytes [0, n) in calls of at most `piece`; every call
 * takes something (the socket has room). */
static void put(struct tport *t, size_t n, size_t piece)
{
    static uint8_t buf[1 << 18];
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(i);
    for (size_t off = 0; off < n;) {
        size_t want = n - off < piece ? n - off : piece;
        ssize_t r = tport_write(t, buf + off, want);
        assert_true(r > 0);
        off += (size_t)r;
    }
}

/* Read exactly n pattern bytes. */
static void get(struct tport *t, size_t n)
{
    static uint8_t buf[1 << 16];
    size_t got = 0;
    for (int tries = 0; got < n && tries < 10000; tries++) {
        ssize_t r = tport_read(t, buf, sizeof(buf));
        if (r == -EAGAIN)
            continue;
        assert_true(r > 0);
        for (ssize_t i = 0; i < r; i++)
            assert_int_equal(buf[i], pattern(got + (size_t)i));
        got += (size_t)r;
    }
    assert_int_equal(got, n);
    assert_int_equal(tport_read(t, buf, sizeof(buf)), -EAGAIN);
}

/* Three records' worth, less than the buffer: nothing is sent until
 * the flush, then all of it. */
static void records_wait_for_flush(bool ws)
{
    struct pair p;
    pair_new(&p, ws);
    put(p.client, 40000, 10000);
    assert_int_equal(unread(p.raw), 0);
    assert_int_equal(tport_flush(p.client), 0);
    assert_true(unread(p.raw) > 40000);
    get(p.server, 40000);
    pair_free(&p);
}

static void test_tls_records_wait_for_flush(void **state)
{
    records_wait_for_flush(false);
}

static void test_wss_records_wait_for_flush(void **state)
{
    records_wait_for_flush(true);
}

/* More than the buffer holds: full buffers go out by themselves, each
 * in one send(), the rest with the flush. */
static void test_full_buffer_goes_out(void **state)
{
    struct pair p;
    pair_new(&p, false);
    put(p.client, 200000, 16384);
    size_t before = unread(p.raw);
    assert_true(before >= 2 * 65536);
    assert_true(before < 200000);
    assert_int_equal(tport_flush(p.client), 0);
    assert_true(unread(p.raw) > 200000);
    assert_int_equal(tport_flush(p.client), 0); /* nothing left: 0 */
    get(p.server, 200000);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_records_wait_for_flush),
        cmocka_unit_test(test_wss_records_wait_for_flush),
        cmocka_unit_test(test_full_buffer_goes_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
