/* test_link: two tunnel links joined by a socketpair, on one worker's loop
 * (worker_new() on a configuration without listeners, never started: the
 * test runs the loop itself in short slices).  Link A opens streams, link
 * B accepts them with a socket whose other end the test holds as the
 * "target".  The cases are about moving bytes, and about link_adopt():
 * the opener giving its stream back to the link together with the
 * client's socket.  Each case runs four times: on a plain transport,
 * where payloads are spliced, and with WebSocket framing, TLS, and
 * WebSocket over TLS, where they are copied (and TLS records wait in the
 * transport until the link flushes it). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../spin.h"
#include "../tlspair.h"
#include "core/log.h"
#include "core/worker.h"
#include "tunnel/link.h"
#include "tunnel/tport.h"

struct fixture {
    struct conf *conf;
    struct worker *w;
    struct loop_timer tick;
    struct link *a, *b;
    int target;       /* the test's end of the accepted stream's socket */
    int opened_fd;    /* the opener's end (A's callback), or -1 */
    uint32_t opened_id;
    enum result opened_r;
    bool opened;
    struct link_handoff h;
    const char *ended; /* h.end's why, or NULL */
};

static struct fixture F;

static bool spin_until(bool (*pred)(void), int ms)
{
    return spin_loop(F.w->loop, &F.tick, pred, ms);
}

static void b_open(void *ud, struct link_stream *s,
                   const struct tunmsg_open *o)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    F.target = sv[1];
    link_stream_accept(s, RESULT_OK, sv[0]);
}

static void no_goaway(void *ud, struct link *l) {}
static void down(void *ud, struct link *l, const char *why) {}

static const struct link_ops ops = {b_open, no_goaway, down};

static void start_link(struct link **out, struct tport *t, bool client)
{
    struct link_conf c = {
        .client = client,
        .accept_streams = !client,
        .ping_ms = 10000,
        .timeout_ms = 30000,
        .open_timeout_ms = 5000,
        .max_streams = 16,
        .budget = 16u << 20,
    };
    struct addr peer;
    assert_int_equal(addr_from_ip(&peer, "127.0.0.1", 1), 0);
    assert_int_equal(link_new(out, F.w, t, &peer, &c, &ops, NULL), 0);
}

static int setup(bool ws, bool tls)
{
    char err[256];
    memset(&F, 0, sizeof(F));
    F.target = F.opened_fd = -1;
    if (getenv("FERRY_TEST_DEBUG"))
        log_setup(CONF_LOG_DEBUG, "stderr");
    F.conf = conf_new();
    assert_non_null(F.conf);
    assert_int_equal(worker_new(&F.w, 0, F.conf, err, sizeof(err)), 0);
    loop_timer_init(&F.tick, spin_tick, F.w->loop);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    struct tport *ta, *tb;
    if (tls) {
        tlspair_new(&ta, &tb, sv[0], sv[1]);
    } else {
        assert_int_equal(tport_new(&ta, sv[0], NULL), 0);
        assert_int_equal(tport_new(&tb, sv[1], NULL), 0);
    }
    if (ws) {
        tport_ws_start(ta, true);
        tport_ws_start(tb, false);
    }
    bool plain = !ws && !tls;
    assert_true(tport_plain(ta) == plain && tport_plain(tb) == plain);
    start_link(&F.a, ta, true);
    start_link(&F.b, tb, false);
    return 0;
}

static int setup_plain(void **state) { return setup(false, false); }
static int setup_ws(void **state) { return setup(true, false); }
static int setup_tls(void **state) { return setup(false, true); }
static int setup_wss(void **state) { return setup(true, true); }

static int teardown(void **state)
{
    link_close_all(F.w, "stop");
    if (F.target >= 0)
        close(F.target);
    if (F.opened_fd >= 0)
        close(F.opened_fd);
    loop_timer_disarm(F.w->loop, &F.tick);
    worker_free(F.w); /* runs the deferred frees */
    conf_free(F.conf);
    return 0;
}

static void on_opened(void *ud, enum result r, int fd, uint32_t id)
{
    F.opened = true;
    F.opened_r = r;
    F.opened_fd = fd;
    F.opened_id = id;
}

static bool is_opened(void) { return F.opened; }

static void on_end(struct link_handoff *h, const char *why) { F.ended = why; }
static bool has_ended(void) { return F.ended != NULL; }

/* Open a stream from A; B accepts it: F.opened_fd and F.target. */
static void open_stream(void)
{
    struct tunmsg_open o = {.kind = TUNMSG_TCP};
    assert_int_equal(target_set_host(&o.target, "example.test", 12, 80), 0);
    assert_int_equal(link_open(F.a, &o, on_opened, NULL), 0);
    assert_true(spin_until(is_opened, 2000));
    assert_int_equal(F.opened_r, RESULT_OK);
    assert_true(F.target >= 0);
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + i / 251); }

/* Write bytes [from, to) of the pattern to fd (room is expected). */
static void put(int fd, size_t from, size_t to)
{
    uint8_t buf[4096];
    while (from < to) {
        size_t n = to - from < sizeof(buf) ? to - from : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(from + i);
        ssize_t r = write(fd, buf, n);
        assert_true(r > 0);
        from += (size_t)r;
    }
}

/* Read pattern bytes [from, to) from fd, running the loop meanwhile. */
static void get(int fd, size_t from, size_t to)
{
    uint8_t buf[4096];
    for (int round = 0; from < to && round < 400; round++) {
        ssize_t r;
        while (from < to && (r = read(fd, buf, sizeof(buf))) > 0) {
            for (ssize_t i = 0; i < r; i++)
                assert_int_equal(buf[i], pattern(from + (size_t)i));
            from += (size_t)r;
        }
        spin_until(NULL, 5);
    }
    assert_int_equal(from, to);
}

static size_t unread(int fd)
{
    int n = 0;
    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return (size_t)n;
}

#define FIRST (100u << 10)
#define SECOND (50u << 10)

/* One direction of a transfer. */
struct flow {
    int from, to;
    size_t sent, got;
    unsigned turn;
};

#define BULK (3u << 20)

/* Write the flow's next piece, as much as fits, and read and check
 * what arrived (unless to is -1). */
static void flow_step(struct flow *f)
{
    static const size_t sizes[] = {1, 100, 5000, 16384, 70000, 300000};
    static uint8_t buf[300000];
    size_t n = sizes[f->turn++ % 6];
    if (n > BULK - f->sent)
        n = BULK - f->sent;
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(f->sent + i);
    ssize_t r = n ? write(f->from, buf, n) : 0;
    assert_true(r >= 0 || errno == EAGAIN);
    f->sent += r > 0 ? (size_t)r : 0;
    while (f->to >= 0 && (r = read(f->to, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < r; i++)
            assert_int_equal(buf[i], pattern(f->got + (size_t)i));
        f->got += (size_t)r;
    }
}

/* Bytes both ways at once, in writes of many sizes: small payloads are
 * copied and large ones (on a plain transport) spliced, and all arrive
 * whole and in order. */
static void test_bulk_both_ways(void **state)
{
    open_stream();
    struct flow down = {F.target, F.opened_fd, 0, 0, 0};
    struct flow up = {F.opened_fd, F.target, 0, 0, 3};
    assert_int_equal(fcntl(F.opened_fd, F_SETFL, O_NONBLOCK), 0);
    for (int i = 0; i < 4000 && (down.got < BULK || up.got < BULK); i++) {
        flow_step(&down);
        flow_step(&up);
        spin_until(NULL, 5);
    }
    assert_int_equal(down.got, BULK);
    assert_int_equal(up.got, BULK);
}


static bool first_in_pair(void) { return unread(F.opened_fd) == FIRST; }

static void adopt(int *client_out, uint64_t idle_ms)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    F.h = (struct link_handoff){.end = on_end, .idle_ms = idle_ms};
    assert_int_equal(
        link_adopt(F.a, F.opened_id, sv[0], F.opened_fd, &F.h), 0);
    F.opened_fd = -1; /* taken */
    *client_out = sv[1];
}

/* Bytes the link had written into the socketpair before the handoff
 * reach the adopted socket first, then the rest in order; both ways
 * work after, half-close included, and the counts are right. */
static void test_adopt_moves_pair_bytes_first(void **state)
{
    open_stream();
    put(F.target, 0, FIRST);
    assert_true(spin_until(first_in_pair, 2000));
    put(F.target, FIRST, FIRST + SECOND);
    spin_until(NULL, 20); /* some of it into the pair as well */
    int client;
    adopt(&client, 60000);
    get(client, 0, FIRST + SECOND);

    put(client, 0, 30000);
    get(F.target, 0, 30000);

    assert_int_equal(shutdown(F.target, SHUT_WR), 0);
    uint8_t c;
    spin_until(NULL, 20);
    assert_int_equal(read(client, &c, 1), 0); /* the FIN came through */
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    assert_true(spin_until(has_ended, 2000));
    assert_string_equal(F.ended, "eof");
    assert_int_equal(F.h.down, FIRST + SECOND);
    assert_int_equal(F.h.up, 30000);
    close(client);
}

/* More than the socketpair holds waits in the link when the opener
 * hands over: in the pair, spliced and not yet written (plain
 * transport), and queued.  All of it reaches the client in order. */
static void test_adopt_with_bytes_everywhere(void **state)
{
    const size_t total = 1u << 20;
    open_stream();
    put(F.target, 0, FIRST); /* the pair nearly full, then large frames */
    spin_until(NULL, 50);
    struct flow down = {F.target, -1, FIRST, 0, 5};
    for (int i = 0; i < 100 && down.sent < total; i++) {
        size_t before = down.sent;
        flow_step(&down);
        if (down.sent == before)
            spin_until(NULL, 5);
    }
    int client;
    adopt(&client, 60000);
    get(client, 0, down.sent);
    assert_int_equal(F.h.down, down.sent);
    close(client);
}

/* A FIN that had already been passed into the socketpair is passed on
 * to the adopted socket, after the bytes. */
static void test_adopt_after_fin(void **state)
{
    open_stream();
    put(F.target, 0, 1000);
    assert_int_equal(shutdown(F.target, SHUT_WR), 0);
    spin_until(NULL, 50);
    int client;
    adopt(&client, 60000);
    get(client, 0, 1000);
    uint8_t c;
    spin_until(NULL, 20);
    assert_int_equal(read(client, &c, 1), 0);
    put(client, 0, 500);
    get(F.target, 0, 500);
    assert_null(F.ended); /* the client's side is still open */
    close(client);
}

/* No byte either way for idle_ms: the stream ends ("idle"), the client
 * sees an end of stream and the far side a reset stream. */
static void test_adopt_idle(void **state)
{
    open_stream();
    int client;
    adopt(&client, 30);
    assert_true(spin_until(has_ended, 2000));
    assert_string_equal(F.ended, "idle");
    uint8_t c;
    assert_int_equal(read(client, &c, 1), 0);
    spin_until(NULL, 20);
    assert_int_equal(read(F.target, &c, 1), 0); /* B closed it */
    close(client);
}

/* A stream that is gone (or never was) is not adopted: nothing is
 * taken, h->end never runs. */
static void test_adopt_unknown_stream(void **state)
{
    open_stream();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    F.h = (struct link_handoff){.end = on_end, .idle_ms = 1000};
    assert_int_equal(link_adopt(F.a, F.opened_id + 2, sv[0], F.opened_fd,
                                &F.h),
                     -ENOENT);
    assert_int_equal(link_adopt(F.b, F.opened_id, sv[0], F.opened_fd, &F.h),
                     -ENOENT); /* B accepted it: B has no socketpair */
    assert_true(fcntl(sv[0], F_GETFD) >= 0);
    assert_true(fcntl(F.opened_fd, F_GETFD) >= 0);
    assert_null(F.ended);
    close(sv[0]);
    close(sv[1]);
}

/* The link closes with an adopted stream: h->end says why. */
static void test_adopt_link_closed(void **state)
{
    open_stream();
    int client;
    adopt(&client, 60000);
    spin_until(NULL, 10);
    link_close_all(F.w, "stop");
    assert_string_equal(F.ended, "shutdown");
    close(client);
}

/* (a CMUnitTest by hand: cmocka's macros name a test after f alone) */
/* A link holding max_streams (16 here) streams opens no more: -EBUSY
 * (and a warning is logged, at most every 10 s). */
static void test_open_at_max_streams(void **state)
{
    struct tunmsg_open o = {.kind = TUNMSG_TCP};
    assert_int_equal(target_set_host(&o.target, "example.test", 12, 80), 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(link_open(F.a, &o, on_opened, NULL), 0);
    assert_int_equal(link_open(F.a, &o, on_opened, NULL), -EBUSY);
    assert_int_equal(link_open(F.a, &o, on_opened, NULL), -EBUSY);
}

#define T(f, mode) {#f "_" #mode, f, setup_##mode, teardown, NULL}
#define ALL(f) T(f, plain), T(f, ws), T(f, tls), T(f, wss)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ALL(test_bulk_both_ways),
        ALL(test_adopt_moves_pair_bytes_first),
        ALL(test_adopt_with_bytes_everywhere),
        ALL(test_adopt_after_fin),
        ALL(test_adopt_idle),
        ALL(test_adopt_unknown_stream),
        ALL(test_adopt_link_closed),
        T(test_open_at_max_streams, plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
