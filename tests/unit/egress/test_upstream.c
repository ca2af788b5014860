/* test_upstream: egress/upstream against fake parent proxies on loopback.
 *
 * Each case runs a real worker (worker_new() on conf_new(), no listeners)
 * whose loop turns in the test thread, and a fake parent in a second
 * thread with blocking sockets: it reads each message upstream sends,
 * keeps it for the checks, and plays the scripted answer (whole, or one
 * byte at a time).  A case checks the result, what was sent (CONNECT
 * line, Host, Basic credentials; SOCKS methods, RFC 1929, address type)
 * and, on success, that the bytes the parent sent behind its answer are
 * the first bytes the caller reads and that the socket then carries data
 * both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/worker.h"
#include "egress/upstream.h"
#include "proto/http1.h"
#include "proto/socks.h"

#define B(s) (s), sizeof(s) - 1
#define MAX_STEPS 3
#define WATCHDOG_MS 10000
/* timeouts.handshake: short where a case waits for it, else far longer
 * than any stall of a loaded (sanitizer, parallel ctest) machine. */
#define HANDSHAKE_SHORT_MS 200
#define HANDSHAKE_LONG_MS 8000

/* ---- the fake parent -------------------------------------------------- */

enum rd { RD_HEAD, RD_GREETING, RD_USERPASS, RD_REQUEST };
enum then { THEN_ECHO, THEN_CLOSE, THEN_WAIT_EOF };

/* Read one message of kind rd, then send reply (may be empty). */
struct step {
    enum rd rd;
    const char *reply;
    size_t reply_len;
};

struct script {
    struct step steps[MAX_STEPS];
    size_t nsteps;
    enum then then; /* after the last step */
    bool dribble;   /* send replies one byte at a time */
};

struct fake {
    const struct script *sc;
    int lfd;
    uint16_t port;
    pthread_t th;
    uint8_t msg[MAX_STEPS][1024];
    size_t msg_len[MAX_STEPS];
    size_t nmsgs;            /* messages read whole */
    atomic_bool got_first;   /* the first message was read whole */
};

static bool whole(enum rd rd, const uint8_t *b, size_t n)
{
    struct socks5_greeting g;
    struct socks5_userpass up;
    struct socks5_request rq;
    switch (rd) {
    case RD_HEAD: return n >= 4 && memcmp(b + n - 4, "\r\n\r\n", 4) == 0;
    case RD_GREETING: return socks5_parse_greeting(b, n, &g) > 0;
    case RD_USERPASS: return socks5_parse_userpass(b, n, &up) > 0;
    case RD_REQUEST: return socks5_parse_request(b, n, &rq) > 0;
    }
    return false;
}

/* Byte by byte, so nothing of a later message is taken. */
static bool read_msg(struct fake *f, int fd, enum rd rd)
{
    uint8_t *b = f->msg[f->nmsgs];
    size_t n = 0;
    while (n < sizeof(f->msg[0])) {
        if (recv(fd, b + n, 1, 0) != 1)
            return false;
        if (whole(rd, b, ++n)) {
            f->msg_len[f->nmsgs++] = n;
            atomic_store(&f->got_first, true);
            return true;
        }
    }
    return false;
}

static void send_reply(const struct script *sc, int fd, const char *p,
                       size_t n)
{
    if (!sc->dribble) {
        (void)!send(fd, p, n, MSG_NOSIGNAL);
        return;
    }
    struct timespec ms = {0, 2000000};
    for (size_t i = 0; i < n; i++) {
        if (send(fd, p + i, 1, MSG_NOSIGNAL) != 1)
            return;
        nanosleep(&ms, NULL);
    }
}

static void finish_conn(const struct script *sc, int fd)
{
    char buf[4096];
    ssize_t n;
    if (sc->then == THEN_CLOSE)
        return;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        if (sc->then == THEN_ECHO)
            (void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL);
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    struct pollfd p = {.fd = f->lfd, .events = POLLIN};
    if (poll(&p, 1, WATCHDOG_MS) != 1)
        return NULL;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {WATCHDOG_MS / 1000, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    bool ok = true;
    for (size_t i = 0; ok && i < f->sc->nsteps; i++) {
        const struct step *st = &f->sc->steps[i];
        ok = read_msg(f, fd, st->rd);
        if (ok && st->reply_len > 0)
            send_reply(f->sc, fd, st->reply, st->reply_len);
    }
    if (ok)
        finish_conn(f->sc, fd);
    close(fd);
    return NULL;
}

static int listen_loopback(uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* Fakes live in static storage: when an assertion jumps out of a case
 * before the join, the thread left behind still reads valid memory. */
static struct fake fakes[2];

static struct fake *fake_start(const struct script *sc)
{
    static unsigned next;
    struct fake *f = &fakes[next++ % 2];
    memset(f, 0, sizeof(*f));
    atomic_init(&f->got_first, false);
    f->sc = sc;
    f->lfd = listen_loopback(&f->port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
    return f;
}

static void fake_join(struct fake *f)
{
    assert_int_equal(pthread_join(f->th, NULL), 0);
    close(f->lfd);
}

/* ---- the worker and one dial ------------------------------------------ */

struct rig {
    struct conf *c;
    struct worker *w;
    struct loop_timer watchdog;
    bool called, timed_out;
    enum result r;
    int fd;
};

static void on_watchdog(struct loop_timer *t)
{
    struct rig *g = t->ud;
    g->timed_out = true;
    loop_stop(g->w->loop);
}

static void on_done(void *ud, enum result r, int fd)
{
    struct rig *g = ud;
    assert_false(g->called);
    g->called = true;
    g->r = r;
    g->fd = fd;
    loop_stop(g->w->loop);
}

static void rig_init(struct rig *g, uint32_t handshake_ms)
{
    char err[256];
    memset(g, 0, sizeof(*g));
    g->fd = -1;
    g->c = conf_new();
    assert_non_null(g->c);
    g->c->timeouts.handshake_ms = handshake_ms;
    g->c->timeouts.connect_ms = 2000;
    assert_int_equal(worker_new(&g->w, 0, g->c, err, sizeof(err)), 0);
    loop_timer_init(&g->watchdog, on_watchdog, g);
}

static void rig_fini(struct rig *g)
{
    loop_timer_disarm(g->w->loop, &g->watchdog);
    worker_free(g->w);
    conf_free(g->c);
}

/* Turn the loop until the callback (or the watchdog). */
static void run(struct rig *g)
{
    assert_int_equal(loop_timer_arm(g->w->loop, &g->watchdog, WATCHDOG_MS),
                     0);
    assert_int_equal(loop_run(g->w->loop), 0);
    assert_false(g->timed_out);
    assert_true(g->called);
}

/* Turn the loop for ms (deferred frees run). */
static void spin(struct rig *g, uint64_t ms)
{
    assert_int_equal(loop_timer_arm(g->w->loop, &g->watchdog, ms), 0);
    assert_int_equal(loop_run(g->w->loop), 0);
}

static void parent_at(struct upstream_spec *sp, enum upstream_type type,
                      uint16_t port, const char *user, const char *pass)
{
    memset(sp, 0, sizeof(*sp));
    sp->type = type;
    assert_int_equal(target_set_host(&sp->proxy, "127.0.0.1", 9, port), 0);
    sp->user = user;
    sp->pass = pass;
}

static void set_target(struct target *t, const char *s)
{
    assert_int_equal(target_parse(t, s, strlen(s), 0), 0);
}

static void expect_bytes(int fd, const char *want, size_t n)
{
    char buf[256];
    size_t got = 0;
    assert_true(n <= sizeof(buf));
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 2000), 1);
        ssize_t r = recv(fd, buf + got, n - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_memory_equal(buf, want, n);
}

/* The handed-over socket: the leftover first, then an echo. */
static void check_socket(int fd, const char *leftover)
{
    if (leftover)
        expect_bytes(fd, leftover, strlen(leftover));
    assert_int_equal(send(fd, "ping", 4, MSG_NOSIGNAL), 4);
    expect_bytes(fd, "ping", 4);
}

/* ---- what upstream sent ----------------------------------------------- */

static void assert_slice(struct http1_slice s, const char *want)
{
    if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
        fail_msg("slice \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
}

static void check_connect(const struct fake *f, const char *target,
                          const char *user, const char *pass)
{
    struct http1_request_head h;
    char u[256], p[256];
    assert_true(f->nmsgs >= 1);
    assert_int_equal(http1_parse_request_head((const char *)f->msg[0],
                                              f->msg_len[0], &h),
                     (int)f->msg_len[0]);
    assert_true(h.is_connect);
    assert_int_equal(h.minor, 1);
    assert_slice(h.target, target);
    const struct http1_header *host = http1_find_header(&h, "Host");
    assert_non_null(host);
    assert_slice(host->value, target);
    const struct http1_header *a = http1_find_header(&h,
                                                     "Proxy-Authorization");
    if (!user) {
        assert_null(a);
        return;
    }
    assert_non_null(a);
    assert_int_equal(http1_parse_basic(a->value.p, a->value.len, u, p), 0);
    assert_string_equal(u, user);
    assert_string_equal(p, pass);
}

static void check_greeting(const struct fake *f, bool with_auth)
{
    struct socks5_greeting g;
    assert_true(f->nmsgs >= 1);
    assert_true(socks5_parse_greeting(f->msg[0], f->msg_len[0], &g) > 0);
    assert_int_equal(g.nmethods, with_auth ? 2 : 1);
    assert_int_equal(g.methods[0], SOCKS5_METHOD_NONE);
    if (with_auth)
        assert_int_equal(g.methods[1], SOCKS5_METHOD_USERPASS);
}

static void check_socks_request(const struct fake *f, size_t i,
                                const char *target, uint8_t atyp)
{
    struct socks5_request rq;
    struct target want;
    set_target(&want, target);
    assert_true(f->nmsgs > i);
    assert_int_equal(socks5_parse_request(f->msg[i], f->msg_len[i], &rq),
                     (int)f->msg_len[i]);
    assert_int_equal(rq.cmd, SOCKS_CMD_CONNECT);
    assert_int_equal(f->msg[i][3], atyp);
    assert_int_equal(rq.dst.kind, want.kind);
    assert_string_equal(rq.dst.host, want.host);
    assert_int_equal(rq.dst.port, want.port);
}

static void check_userpass(const struct fake *f, size_t i, const char *user,
                           const char *pass)
{
    struct socks5_userpass up;
    assert_true(f->nmsgs > i);
    assert_int_equal(socks5_parse_userpass(f->msg[i], f->msg_len[i], &up),
                     (int)f->msg_len[i]);
    assert_string_equal(up.user, user);
    assert_string_equal(up.pass, pass);
}

/* ---- the table -------------------------------------------------------- */

struct ucase {
    const char *name;
    enum upstream_type type;
    const char *user, *pass;
    const char *target;
    struct script sc;
    enum result want;
    const char *leftover; /* on success: the first bytes the caller reads */
    size_t nmsgs;         /* messages the parent must have read whole */
};

#define HTTP_OK "HTTP/1.1 200 Connection established\r\n\r\n"
#define S5_NOAUTH "\x05\x00"
#define S5_USERPASS "\x05\x02"
#define S5_OK4 "\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90"
#define S5_OK6                                                             \
    "\x05\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"     \
    "\x00\x00\x00\x01\x1f\x90"
#define S5_REP(c) "\x05" c "\x00\x01\x00\x00\x00\x00\x00\x00"

#define HEAD1(reply, then) {{{RD_HEAD, B(reply)}}, 1, then, false}
#define HTTP_CASE(name, user, pass, reply, then, want)                     \
    {name, UPSTREAM_HTTP, user, pass, "example.test:443",                   \
     HEAD1(reply, then), want, NULL, 1}

static const struct ucase cases[] = {
    /* HTTP parent */
    {"http ok, banner behind the head", UPSTREAM_HTTP, NULL, NULL,
     "example.test:443", HEAD1(HTTP_OK "SSH-2.0-fake\r\n", THEN_ECHO),
     RESULT_OK, "SSH-2.0-fake\r\n", 1},
    {"http ok with auth, 1.0 and a header", UPSTREAM_HTTP, "alice",
     "s3:cr et", "192.0.2.7:8080",
     HEAD1("HTTP/1.0 200 OK\r\nVia: 1.0 fake\r\n\r\n", THEN_ECHO),
     RESULT_OK, NULL, 1},
    {"http ok, v6 target, answer dribbled", UPSTREAM_HTTP, "u", "p",
     "[2001:db8::1]:443",
     {{{RD_HEAD, B(HTTP_OK "hello")}}, 1, THEN_ECHO, true}, RESULT_OK,
     "hello", 1},
    {"http interim 100 then 200", UPSTREAM_HTTP, NULL, NULL, "a.test:1",
     HEAD1("HTTP/1.1 100 Continue\r\n\r\n" HTTP_OK "x", THEN_ECHO),
     RESULT_OK, "x", 1},
    HTTP_CASE("http 403", NULL, NULL,
              "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
              THEN_WAIT_EOF, RESULT_DENIED),
    HTTP_CASE("http 407 with credentials", "alice", "wrong",
              "HTTP/1.1 407 Proxy Authentication Required\r\n"
              "Proxy-Authenticate: Basic realm=\"p\"\r\n"
              "Content-Length: 4\r\n\r\ndeny",
              THEN_CLOSE, RESULT_DENIED),
    HTTP_CASE("http 407 without credentials", NULL, NULL,
              "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
              THEN_WAIT_EOF, RESULT_DENIED),
    HTTP_CASE("http 502", NULL, NULL, "HTTP/1.1 502 Bad Gateway\r\n\r\n",
              THEN_WAIT_EOF, RESULT_REFUSED),
    HTTP_CASE("http 503", NULL, NULL,
              "HTTP/1.1 503 Service Unavailable\r\n\r\n", THEN_WAIT_EOF,
              RESULT_REFUSED),
    HTTP_CASE("http 504", NULL, NULL,
              "HTTP/1.1 504 Gateway Timeout\r\n\r\n", THEN_WAIT_EOF,
              RESULT_TIMEOUT),
    HTTP_CASE("squid dns failure", NULL, NULL,
              "HTTP/1.1 503 Service Unavailable\r\n"
              "X-Squid-Error: ERR_DNS_FAIL 0\r\n\r\n",
              THEN_WAIT_EOF, RESULT_DNS),
    HTTP_CASE("squid connect refused", NULL, NULL,
              "HTTP/1.1 503 Service Unavailable\r\n"
              "X-Squid-Error: ERR_CONNECT_FAIL 111\r\n\r\n",
              THEN_WAIT_EOF, RESULT_REFUSED),
    HTTP_CASE("squid host unreachable", NULL, NULL,
              "HTTP/1.1 503 Service Unavailable\r\n"
              "X-Squid-Error: ERR_CONNECT_FAIL 113\r\n\r\n",
              THEN_WAIT_EOF, RESULT_HOST_UNREACH),
    HTTP_CASE("http 101", NULL, NULL,
              "HTTP/1.1 101 Switching Protocols\r\n\r\n", THEN_WAIT_EOF,
              RESULT_REFUSED),
    HTTP_CASE("http 404", NULL, NULL, "HTTP/1.1 404 Not Found\r\n\r\n",
              THEN_WAIT_EOF, RESULT_REFUSED),
    HTTP_CASE("http closes mid-head", NULL, NULL, "HTTP/1.1 200 Conn",
              THEN_CLOSE, RESULT_REFUSED),
    HTTP_CASE("http closes without answering", NULL, NULL, "", THEN_CLOSE,
              RESULT_REFUSED),
    HTTP_CASE("http garbage", NULL, NULL, "SSH-2.0-OpenSSH_9.2\r\n",
              THEN_WAIT_EOF, RESULT_REFUSED),
    HTTP_CASE("http bare LF", NULL, NULL, "HTTP/1.1 200 OK\n\n",
              THEN_WAIT_EOF, RESULT_REFUSED),
    HTTP_CASE("http silent", NULL, NULL, "", THEN_WAIT_EOF,
              RESULT_TIMEOUT),
    HTTP_CASE("http half a head, then silent", NULL, NULL,
              "HTTP/1.1 200 OK\r\n", THEN_WAIT_EOF, RESULT_TIMEOUT),

    /* SOCKS5 parent */
    {"socks ok, name as ATYP 3, banner", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_OK4 "220 hi\r\n")}},
      2, THEN_ECHO, false},
     RESULT_OK, "220 hi\r\n", 2},
    {"socks ok with user/password, v6 reply dribbled", UPSTREAM_SOCKS5,
     "alice", "s3cret", "192.0.2.7:80",
     {{{RD_GREETING, B(S5_USERPASS)},
       {RD_USERPASS, B("\x01\x00")},
       {RD_REQUEST, B(S5_OK6 "x")}},
      3, THEN_ECHO, true},
     RESULT_OK, "x", 3},
    {"socks auth offered, parent needs none", UPSTREAM_SOCKS5, "alice", "pw",
     "[2001:db8::1]:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_OK4)}}, 2, THEN_ECHO,
      false},
     RESULT_OK, NULL, 2},
    {"socks credentials rejected", UPSTREAM_SOCKS5, "alice", "wrong",
     "example.test:443",
     {{{RD_GREETING, B(S5_USERPASS)}, {RD_USERPASS, B("\x01\x01")}}, 2,
      THEN_CLOSE, false},
     RESULT_DENIED, NULL, 2},
    {"socks no acceptable method", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443", {{{RD_GREETING, B("\x05\xff")}}, 1, THEN_CLOSE,
                          false},
     RESULT_DENIED, NULL, 1},
    {"socks picks a method not offered", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443", {{{RD_GREETING, B(S5_USERPASS)}}, 1, THEN_WAIT_EOF,
                          false},
     RESULT_REFUSED, NULL, 1},
    {"socks REP 0x05", UPSTREAM_SOCKS5, NULL, NULL, "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_REP("\x05"))}}, 2,
      THEN_CLOSE, false},
     RESULT_REFUSED, NULL, 2},
    {"socks REP 0x05, short, closed", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B("\x05\x05")}}, 2,
      THEN_CLOSE, false},
     RESULT_REFUSED, NULL, 2},
    {"socks REP 0x02", UPSTREAM_SOCKS5, NULL, NULL, "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_REP("\x02"))}}, 2,
      THEN_WAIT_EOF, false},
     RESULT_DENIED, NULL, 2},
    {"socks REP 0x03", UPSTREAM_SOCKS5, NULL, NULL, "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_REP("\x03"))}}, 2,
      THEN_WAIT_EOF, false},
     RESULT_NET_UNREACH, NULL, 2},
    {"socks REP 0x04", UPSTREAM_SOCKS5, NULL, NULL, "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_REP("\x04"))}}, 2,
      THEN_WAIT_EOF, false},
     RESULT_HOST_UNREACH, NULL, 2},
    {"socks REP 0x06", UPSTREAM_SOCKS5, NULL, NULL, "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_REP("\x06"))}}, 2,
      THEN_WAIT_EOF, false},
     RESULT_TIMEOUT, NULL, 2},
    {"socks REP 0x01", UPSTREAM_SOCKS5, NULL, NULL, "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B(S5_REP("\x01"))}}, 2,
      THEN_WAIT_EOF, false},
     RESULT_REFUSED, NULL, 2},
    {"socks closes mid-handshake", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)}, {RD_REQUEST, B("\x05\x00\x00\x01\x7f")}},
      2, THEN_CLOSE, false},
     RESULT_REFUSED, NULL, 2},
    {"socks closes after the greeting", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443", {{{RD_GREETING, B("")}}, 1, THEN_CLOSE, false},
     RESULT_REFUSED, NULL, 1},
    {"socks garbage (an HTTP answer)", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443",
     {{{RD_GREETING, B("HTTP/1.1 400 Bad Request\r\n\r\n")}}, 1,
      THEN_WAIT_EOF, false},
     RESULT_REFUSED, NULL, 1},
    {"socks bad address type in reply", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443",
     {{{RD_GREETING, B(S5_NOAUTH)},
       {RD_REQUEST, B("\x05\x00\x00\x09\x00\x00\x00\x00\x00\x00")}},
      2, THEN_WAIT_EOF, false},
     RESULT_REFUSED, NULL, 2},
    {"socks silent after the greeting", UPSTREAM_SOCKS5, NULL, NULL,
     "example.test:443", {{{RD_GREETING, B("")}}, 1, THEN_WAIT_EOF, false},
     RESULT_TIMEOUT, NULL, 1},
};

static uint8_t atyp_of(const char *target)
{
    struct target t;
    set_target(&t, target);
    if (t.kind == TARGET_NAME)
        return SOCKS5_ATYP_DOMAIN;
    return t.ip.u.sa.sa_family == AF_INET ? SOCKS5_ATYP_IPV4
                                          : SOCKS5_ATYP_IPV6;
}

static void check_sent(const struct ucase *c, const struct fake *f)
{
    assert_int_equal(f->nmsgs, c->nmsgs);
    if (c->type == UPSTREAM_HTTP) {
        check_connect(f, c->target, c->user, c->pass);
        return;
    }
    check_greeting(f, c->user != NULL);
    size_t i = 1;
    if (c->sc.nsteps > 1 && c->sc.steps[1].rd == RD_USERPASS)
        check_userpass(f, i++, c->user, c->pass);
    if (f->nmsgs > i)
        check_socks_request(f, i, c->target, atyp_of(c->target));
}

static void run_case(const struct ucase *c)
{
    struct rig g;
    struct upstream_spec sp;
    struct target t;
    struct upstream *u = NULL;
    print_message("upstream: %s\n", c->name);
    rig_init(&g, c->want == RESULT_TIMEOUT ? HANDSHAKE_SHORT_MS
                                           : HANDSHAKE_LONG_MS);
    struct fake *f = fake_start(&c->sc);
    parent_at(&sp, c->type, f->port, c->user, c->pass);
    set_target(&t, c->target);
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), 0);
    assert_non_null(u);
    assert_false(g.called); /* never from inside upstream_start() */
    sp.type = (enum upstream_type)99; /* the spec was copied */
    memset(&sp.proxy, 0, sizeof(sp.proxy));
    memset(&t, 0, sizeof(t));
    run(&g);
    if (g.r != c->want)
        fail_msg("%s: result %s, want %s", c->name, result_word(g.r),
                 result_word(c->want));
    if (c->want == RESULT_OK) {
        assert_true(g.fd >= 0);
        check_socket(g.fd, c->leftover);
        close(g.fd);
    } else {
        assert_int_equal(g.fd, -1);
    }
    fake_join(f);
    check_sent(c, f);
    rig_fini(&g);
}

static void test_table(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        run_case(&cases[i]);
}

/* ---- the rest --------------------------------------------------------- */

/* A head that never ends within the 16 KiB cap: refused, not a hang. */
static void test_http_head_too_large(void **st)
{
    (void)st;
    static char big[20000];
    size_t n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
    memset(big + n, 'a', sizeof(big) - n);
    struct ucase c = {"http head too large", UPSTREAM_HTTP, NULL, NULL,
                      "example.test:443",
                      {{{RD_HEAD, big, sizeof(big)}}, 1, THEN_WAIT_EOF,
                       false},
                      RESULT_REFUSED, NULL, 1};
    run_case(&c);
}

static void test_parent_down(void **st)
{
    (void)st;
    struct rig g;
    struct upstream_spec sp;
    struct target t;
    struct upstream *u;
    uint16_t port;
    close(listen_loopback(&port)); /* nothing listens there now */
    for (int type = UPSTREAM_HTTP; type <= UPSTREAM_SOCKS5; type++) {
        rig_init(&g, HANDSHAKE_LONG_MS);
        parent_at(&sp, (enum upstream_type)type, port, NULL, NULL);
        set_target(&t, "example.test:443");
        assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), 0);
        run(&g);
        assert_int_equal(g.r, RESULT_REFUSED);
        assert_int_equal(g.fd, -1);
        rig_fini(&g);
    }
}

static void test_bad_arguments(void **st)
{
    (void)st;
    struct rig g;
    struct upstream_spec sp;
    struct target t, none = {.kind = TARGET_NONE};
    struct upstream *u = NULL;
    char longname[300];
    memset(longname, 'x', sizeof(longname));
    longname[256] = '\0';
    rig_init(&g, HANDSHAKE_LONG_MS);
    set_target(&t, "example.test:443");
    parent_at(&sp, UPSTREAM_HTTP, 1, "us:er", "p");
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), -EINVAL);
    parent_at(&sp, UPSTREAM_HTTP, 1, "user", "p\r\nX: y");
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), -EINVAL);
    parent_at(&sp, UPSTREAM_HTTP, 1, longname, "p");
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), -EINVAL);
    parent_at(&sp, UPSTREAM_SOCKS5, 1, longname, "p");
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), -EINVAL);
    parent_at(&sp, UPSTREAM_SOCKS5, 1, "u", longname);
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), -EINVAL);
    parent_at(&sp, UPSTREAM_SOCKS5, 1, NULL, NULL);
    assert_int_equal(upstream_start(g.w, &sp, &none, on_done, &g, &u),
                     -EINVAL);
    sp.type = (enum upstream_type)7;
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), -EINVAL);
    assert_null(u);
    spin(&g, 20);
    assert_false(g.called);
    rig_fini(&g);
}

/* Cancelled before the parent answered the connect, and in the middle of
 * the handshake: no callback, the parent sees the connection close, and
 * nothing leaks (ASan). */
static void test_cancel(void **st)
{
    (void)st;
    static const struct script silent = {{{RD_HEAD, B("")}}, 1,
                                         THEN_WAIT_EOF, false};
    struct rig g;
    struct upstream_spec sp;
    struct target t;
    struct upstream *u;
    set_target(&t, "example.test:443");

    rig_init(&g, HANDSHAKE_LONG_MS);
    parent_at(&sp, UPSTREAM_SOCKS5, 9, NULL, NULL);
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), 0);
    upstream_cancel(u);
    upstream_cancel(NULL);
    spin(&g, 20);
    assert_false(g.called);
    rig_fini(&g);

    rig_init(&g, HANDSHAKE_LONG_MS);
    struct fake *f = fake_start(&silent);
    parent_at(&sp, UPSTREAM_HTTP, f->port, "u", "p");
    assert_int_equal(upstream_start(g.w, &sp, &t, on_done, &g, &u), 0);
    for (int i = 0; i < 500 && !atomic_load(&f->got_first); i++)
        spin(&g, 10); /* until connected and CONNECT sent; no answer */
    assert_true(atomic_load(&f->got_first));
    assert_false(g.called);
    upstream_cancel(u);
    spin(&g, 20);
    assert_false(g.called);
    fake_join(f); /* returns: the parent saw EOF */
    check_connect(f, "example.test:443", "u", "p");
    rig_fini(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_http_head_too_large),
        cmocka_unit_test(test_parent_down),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
