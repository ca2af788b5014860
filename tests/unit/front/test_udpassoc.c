/* test_udpassoc: front/udpassoc driven directly on a worker's loop.
 *
 * The worker comes from worker_new() on a configuration without
 * listeners and is never started: the test runs its loop itself, in
 * short slices, between the steps of each case.  On the same loop run a
 * UDP echo server (127.0.0.1 and, when the host has it, ::1) and a tiny
 * DNS server on 127.0.0.1 that answers "<anything>.test" with 127.0.0.1
 * and "nx.test" with NXDOMAIN, and can be paused to hold answers back.
 * The SOCKS5 client is a plain socket of the test. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../spin.h"
#include "core/log.h"
#include "core/worker.h"
#include "front/udpassoc.h"
#include "proto/socks.h"

/* ---- fixture: a worker, an echo server, a DNS server ----------------- */

struct fixture {
    struct conf *conf;
    struct worker *w;
    struct loop_timer tick;
    struct loop_io echo4, echo6, dns;
    uint16_t echo4_port, echo6_port, dns_port;
    unsigned echoed; /* datagrams the echo servers got */
    unsigned dns_queries;
    bool dns_paused;
    /* what allow() saw last, and what it answers */
    unsigned name_asks; /* first asks about a name (addr NULL) */
    unsigned allow_calls; /* every other ask */
    struct target allow_dst;
    struct addr allow_addr; /* len 0 when allow() got NULL */
    bool deny;
    bool free_in_allow;
    struct udpassoc *u;
};

static struct fixture F;

static int udp_socket_on(const char *ip, uint16_t port, uint16_t *bound)
{
    struct addr a;
    assert_int_equal(addr_from_ip(&a, ip, port), 0);
    int fd = socket(a.u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (bind(fd, &a.u.sa, a.len) < 0) {
        close(fd);
        return -errno;
    }
    struct sockaddr_in6 sa;
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    assert_int_equal(addr_from_sockaddr(&a, (struct sockaddr *)&sa, len), 0);
    *bound = addr_port(&a);
    return fd;
}

static void on_echo(struct loop_io *io, uint32_t events)
{
    uint8_t buf[65536];
    struct sockaddr_in6 sa;
    socklen_t len = sizeof(sa);
    ssize_t n = recvfrom(io->fd, buf, sizeof(buf), MSG_DONTWAIT,
                         (struct sockaddr *)&sa, &len);
    if (n < 0)
        return;
    F.echoed++;
    assert_int_equal(sendto(io->fd, buf, (size_t)n, 0,
                            (struct sockaddr *)&sa, len), n);
}

/* The question's QNAME in printable form ("a.b.c"). */
static void qname(const uint8_t *q, size_t n, char *out, size_t cap)
{
    size_t i = 12, o = 0;
    while (i < n && q[i] != 0 && o + q[i] + 1 < cap) {
        if (o)
            out[o++] = '.';
        memcpy(out + o, q + i + 1, q[i]);
        o += q[i];
        i += 1 + q[i];
    }
    out[o] = '\0';
}

/* Answer a query in place: A -> 127.0.0.1, anything else -> no data,
 * nx.* -> NXDOMAIN (also with a search domain appended). */
static size_t dns_answer(uint8_t *q, size_t n)
{
    char name[256];
    qname(q, n, name, sizeof(name));
    size_t qend = 12 + strlen(name) + 2 + 4; /* labels, root, type, cls */
    bool is_a = q[qend - 4] == 0 && q[qend - 3] == 1;
    q[2] = 0x81; /* QR, RD */
    q[3] = strncmp(name, "nx.", 3) == 0 ? 0x83 : 0x80; /* RA, RCODE */
    memset(q + 6, 0, 6); /* AN, NS, AR counts */
    n = qend;
    if (q[3] != 0x80 || !is_a)
        return n;
    static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60,
                                 0,    4,  127, 0, 0, 1};
    memcpy(q + n, rr, sizeof(rr));
    q[7] = 1;
    return n + sizeof(rr);
}

static void on_dns(struct loop_io *io, uint32_t events)
{
    uint8_t buf[1024];
    struct sockaddr_in6 sa;
    socklen_t len = sizeof(sa);
    ssize_t n = recvfrom(io->fd, buf, sizeof(buf) - 32, MSG_DONTWAIT,
                         (struct sockaddr *)&sa, &len);
    if (n < 12)
        return;
    F.dns_queries++;
    size_t out = dns_answer(buf, (size_t)n);
    assert_int_equal(sendto(io->fd, buf, out, 0, (struct sockaddr *)&sa,
                            len), (ssize_t)out);
}

static void dns_pause(bool paused)
{
    F.dns_paused = paused;
    assert_int_equal(loop_mod(F.w->loop, &F.dns, paused ? 0 : EPOLLIN), 0);
}

static bool spin_until(bool (*pred)(void), int ms)
{
    return spin_loop(F.w->loop, &F.tick, pred, ms);
}

static void spin(int ms) { spin_until(NULL, ms); }

static void add_server(struct loop_io *io, const char *ip, uint16_t *port,
                       loop_io_fn fn)
{
    int fd = udp_socket_on(ip, 0, port);
    if (fd < 0) {
        io->fd = -1;
        *port = 0;
        return;
    }
    assert_int_equal(loop_add(F.w->loop, io, fd, EPOLLIN, fn, NULL), 0);
}

static int setup(void **state)
{
    char err[256], dns[64];
    memset(&F, 0, sizeof(F));
    if (getenv("FERRY_TEST_DEBUG"))
        log_setup(CONF_LOG_DEBUG, "stderr");
    F.conf = conf_new();
    assert_non_null(F.conf);
    F.conf->timeouts.dns_ms = 2000;
    int fd = udp_socket_on("127.0.0.1", 0, &F.dns_port);
    assert_true(fd >= 0);
    snprintf(dns, sizeof(dns), "127.0.0.1:%u", F.dns_port);
    assert_int_equal(conf_add_dns_server(F.conf, dns, err, sizeof(err)), 0);
    assert_int_equal(worker_new(&F.w, 0, F.conf, err, sizeof(err)), 0);
    assert_int_equal(loop_add(F.w->loop, &F.dns, fd, EPOLLIN, on_dns, NULL),
                     0);
    add_server(&F.echo4, "127.0.0.1", &F.echo4_port, on_echo);
    add_server(&F.echo6, "::1", &F.echo6_port, on_echo);
    assert_true(F.echo4_port != 0);
    loop_timer_init(&F.tick, spin_tick, F.w->loop);
    return 0;
}

static void close_server(struct loop_io *io)
{
    if (io->fd < 0)
        return;
    loop_del(F.w->loop, io);
    close(io->fd);
    io->fd = -1;
}

static int teardown(void **state)
{
    udpassoc_free(F.u);
    F.u = NULL;
    loop_timer_disarm(F.w->loop, &F.tick);
    close_server(&F.echo4);
    close_server(&F.echo6);
    close_server(&F.dns);
    worker_free(F.w); /* runs the deferred frees */
    conf_free(F.conf);
    return 0;
}

/* ---- the SOCKS5 client side ------------------------------------------ */

/* The way hook as the session's for rules without egresses: a name is
 * resolved first, then every answer is allow or deny. */
static enum udpassoc_way allow(void *ud, const struct target *dst,
                               const struct addr *a)
{
    assert_ptr_equal(ud, &F);
    if (dst->kind == TARGET_NAME && !a) {
        F.name_asks++;
        return UDPASSOC_DIRECT; /* resolve, then ask again */
    }
    F.allow_calls++;
    F.allow_dst = *dst;
    if (a)
        F.allow_addr = *a;
    else
        memset(&F.allow_addr, 0, sizeof(F.allow_addr));
    if (F.free_in_allow) {
        udpassoc_free(F.u);
        F.u = NULL;
    }
    return F.deny ? UDPASSOC_DENY : UDPASSOC_DIRECT;
}

/* A client socket on ip (port 0) and the association for it, with the
 * control connection coming from ip as well. */
static int open_assoc(const char *ip, const struct target *hint,
                      const struct addr *announce, struct addr *bnd)
{
    static struct request req; /* outlives the association */
    struct addr local;
    uint16_t port;
    int fd = udp_socket_on(ip, 0, &port);
    assert_true(fd >= 0);
    memset(&req, 0, sizeof(req));
    assert_int_equal(addr_from_ip(&req.client, ip, 40000), 0);
    assert_int_equal(addr_from_ip(&local, ip, 1080), 0);
    assert_int_equal(udpassoc_new(&F.u, F.w, &req, &local, hint, announce,
                                  allow, &F, bnd),
                     0);
    return fd;
}

static void send_dgram(int fd, const struct addr *to, const uint8_t *d,
                       size_t n)
{
    assert_int_equal(sendto(fd, d, n, 0, &to->u.sa, to->len), (ssize_t)n);
}

/* RSV FRAG header for host:port, then payload. */
static size_t build(uint8_t *out, uint8_t frag, const char *host,
                    uint16_t port, const char *payload)
{
    struct target t;
    assert_int_equal(target_set_host(&t, host, strlen(host), port), 0);
    int n = socks5_encode_udp_header(out, SOCKS5_UDP_HEADER_MAX, &t);
    assert_true(n > 0);
    out[2] = frag;
    memcpy(out + n, payload, strlen(payload));
    return (size_t)n + strlen(payload);
}

static int g_client_fd;

static bool client_readable(void)
{
    struct pollfd p = {.fd = g_client_fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* Wait for one reply; check its header's source and its payload. */
static void expect_reply(int fd, const char *src_ip, uint16_t src_port,
                         const char *payload)
{
    uint8_t buf[65536], frag = 0xff;
    struct target src;
    g_client_fd = fd;
    assert_true(spin_until(client_readable, 2000));
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    assert_true(n > 0);
    int h = socks5_parse_udp_header(buf, (size_t)n, &frag, &src);
    assert_true(h > 0);
    assert_int_equal(frag, 0);
    assert_int_equal(src.kind, TARGET_IP);
    assert_string_equal(src.host, src_ip);
    assert_int_equal(src.port, src_port);
    assert_int_equal((size_t)n - (size_t)h, strlen(payload));
    assert_memory_equal(buf + h, payload, strlen(payload));
}

static void expect_no_reply(int fd, int ms)
{
    g_client_fd = fd;
    assert_false(spin_until(client_readable, ms));
}

static uint64_t dropped(void)
{
    uint64_t d;
    udpassoc_stats(F.u, NULL, NULL, &d);
    return d;
}

/* ---- cases ------------------------------------------------------------ */

static void test_ipv4_target(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    char ip[64];
    assert_string_equal(addr_format_ip(&bnd, ip, sizeof(ip)), "127.0.0.1");
    assert_true(addr_port(&bnd) != 0);
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "hello"));
    expect_reply(fd, "127.0.0.1", F.echo4_port, "hello");
    /* allow() saw the address target, and no resolved address */
    assert_int_equal(F.allow_calls, 1);
    assert_int_equal(F.allow_dst.kind, TARGET_IP);
    assert_int_equal(F.allow_dst.port, F.echo4_port);
    assert_int_equal(F.allow_addr.len, 0);
    uint64_t up, down, drop;
    udpassoc_stats(F.u, &up, &down, &drop);
    assert_int_equal(up, 5);
    assert_int_equal(down, 5);
    assert_int_equal(drop, 0);
    close(fd);
}

static void test_ipv6_target(void **state)
{
    if (!F.echo6_port)
        skip();
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    send_dgram(fd, &bnd, d, build(d, 0, "::1", F.echo6_port, "six"));
    expect_reply(fd, "::1", F.echo6_port, "six");
    close(fd);
}

/* An IPv4-mapped IPv6 target reaches the IPv4 server; policy and the
 * reply header see plain IPv4. */
static void test_v4_mapped_target(void **state)
{
    struct addr bnd;
    uint8_t d[512] = {0, 0, 0, SOCKS5_ATYP_IPV6};
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    d[4 + 10] = d[4 + 11] = 0xff;
    d[4 + 12] = 127;
    d[4 + 15] = 1;
    d[20] = (uint8_t)(F.echo4_port >> 8);
    d[21] = (uint8_t)F.echo4_port;
    memcpy(d + 22, "mapped", 6);
    send_dgram(fd, &bnd, d, 28);
    expect_reply(fd, "127.0.0.1", F.echo4_port, "mapped");
    assert_int_equal(F.allow_dst.kind, TARGET_IP);
    assert_int_equal(F.allow_dst.ip.u.sa.sa_family, AF_INET);
    close(fd);
}

static void test_ipv6_control(void **state)
{
    if (!F.echo6_port)
        skip();
    struct addr bnd;
    uint8_t d[512];
    char ip[64];
    int fd = open_assoc("::1", NULL, NULL, &bnd);
    assert_string_equal(addr_format_ip(&bnd, ip, sizeof(ip)), "::1");
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "v4"));
    expect_reply(fd, "127.0.0.1", F.echo4_port, "v4");
    send_dgram(fd, &bnd, d, build(d, 0, "::1", F.echo6_port, "v6"));
    expect_reply(fd, "::1", F.echo6_port, "v6");
    close(fd);
}

static void test_domain_target(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    send_dgram(fd, &bnd, d, build(d, 0, "echo.test", F.echo4_port, "one"));
    /* The reply names the IP it came from, not the name. */
    expect_reply(fd, "127.0.0.1", F.echo4_port, "one");
    assert_int_equal(F.name_asks, 1); /* before resolving, then ... */
    assert_int_equal(F.allow_dst.kind, TARGET_NAME);
    assert_string_equal(F.allow_dst.host, "echo.test");
    assert_int_equal(F.allow_addr.u.sa.sa_family, AF_INET);
    assert_int_equal(addr_port(&F.allow_addr), F.echo4_port);
    unsigned queries = F.dns_queries;
    /* Second time: from the worker's DNS cache, no query. */
    send_dgram(fd, &bnd, d, build(d, 0, "echo.test", F.echo4_port, "two"));
    expect_reply(fd, "127.0.0.1", F.echo4_port, "two");
    assert_int_equal(F.dns_queries, queries);
    assert_int_equal(dropped(), 0);
    close(fd);
}

static bool one_dropped(void) { return dropped() >= 1; }

static void test_unresolvable_name(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    send_dgram(fd, &bnd, d, build(d, 0, "nx.test", F.echo4_port, "x"));
    assert_true(spin_until(one_dropped, 2000));
    expect_no_reply(fd, 50);
    assert_int_equal(F.allow_calls, 0);
    close(fd);
}

static bool echoed_16(void) { return F.echoed >= 16; }

/* While a name resolves at most 16 datagrams wait; the rest drop. */
static void test_held_datagrams_bounded(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    dns_pause(true);
    for (int i = 0; i < 20; i++)
        send_dgram(fd, &bnd, d,
                   build(d, 0, "slow.test", F.echo4_port, "held"));
    spin(50);
    assert_int_equal(dropped(), 4);
    assert_int_equal(F.echoed, 0);
    dns_pause(false);
    assert_true(spin_until(echoed_16, 3000));
    spin(20);
    assert_int_equal(F.echoed, 16);
    assert_int_equal(dropped(), 4);
    for (int i = 0; i < 16; i++)
        expect_reply(fd, "127.0.0.1", F.echo4_port, "held");
    close(fd);
}

/* Five names at once: four resolve, the fifth finds no lookup slot. */
static void test_lookups_bounded(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    char name[32];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    dns_pause(true);
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "n%d.test", i);
        send_dgram(fd, &bnd, d, build(d, 0, name, F.echo4_port, "n"));
    }
    spin(50);
    assert_int_equal(dropped(), 1);
    dns_pause(false);
    for (int i = 0; i < 4; i++)
        expect_reply(fd, "127.0.0.1", F.echo4_port, "n");
    close(fd);
}

static void test_fragment_dropped(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    send_dgram(fd, &bnd, d, build(d, 1, "127.0.0.1", F.echo4_port, "f"));
    expect_no_reply(fd, 50);
    assert_int_equal(dropped(), 1);
    assert_int_equal(F.echoed, 0);
    assert_int_equal(F.allow_calls, 0);
    close(fd);
}

static void test_malformed_dropped(void **state)
{
    static const struct {
        const char *what;
        const uint8_t *d;
        size_t n;
    } bad[] = {
        {"empty", (const uint8_t *)"", 0},
        {"rsv", (const uint8_t *)"\x01\0\0\x01\x7f\0\0\x01\x00\x07x", 11},
        {"truncated", (const uint8_t *)"\0\0\0\x01\x7f\0", 6},
        {"atyp 9", (const uint8_t *)"\0\0\0\x09\x7f\0\0\x01\x00\x07x", 11},
        {"bad name", (const uint8_t *)"\0\0\0\x03\x03" "a/b\x00\x07x", 11},
        {"port 0", (const uint8_t *)"\0\0\0\x01\x7f\0\0\x01\x00\x00x", 11},
    };
    struct addr bnd;
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        print_message("malformed: %s\n", bad[i].what);
        send_dgram(fd, &bnd, bad[i].d, bad[i].n);
        spin(10);
        assert_int_equal(dropped(), i + 1);
    }
    expect_no_reply(fd, 20);
    assert_int_equal(F.echoed, 0);
    close(fd);
}

static void test_denied_dropped(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    F.deny = true;
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "no"));
    send_dgram(fd, &bnd, d, build(d, 0, "echo.test", F.echo4_port, "no"));
    expect_no_reply(fd, 100);
    assert_int_equal(F.allow_calls, 2);
    assert_int_equal(dropped(), 2);
    assert_int_equal(F.echoed, 0);
    close(fd);
}

/* After the first datagram only its source address is served. */
static void test_other_source_port(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    uint16_t p2;
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    int fd2 = udp_socket_on("127.0.0.1", 0, &p2);
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "a"));
    expect_reply(fd, "127.0.0.1", F.echo4_port, "a");
    send_dgram(fd2, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "b"));
    expect_no_reply(fd2, 50);
    expect_no_reply(fd, 1);
    assert_int_equal(dropped(), 1);
    assert_int_equal(F.echoed, 1);
    close(fd2);
    close(fd);
}

/* A source IP other than the control peer's is never learned. */
static void test_other_source_ip(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    uint16_t p2;
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    int fd2 = udp_socket_on("127.0.0.2", 0, &p2);
    if (fd2 < 0) {
        close(fd);
        skip();
    }
    send_dgram(fd2, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "b"));
    expect_no_reply(fd2, 50);
    assert_int_equal(dropped(), 1);
    /* ... and the real client is still learned afterwards. */
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "a"));
    expect_reply(fd, "127.0.0.1", F.echo4_port, "a");
    close(fd2);
    close(fd);
}

/* DST.PORT in the request restricts the client to that port. */
static void test_hint_port(void **state)
{
    struct addr bnd;
    struct target hint;
    uint8_t d[512];
    uint16_t pa, pb;
    int fa = udp_socket_on("127.0.0.1", 0, &pa);
    int fb = udp_socket_on("127.0.0.1", 0, &pb);
    assert_int_equal(target_set_host(&hint, "0.0.0.0", 7, pb), 0);
    int fd = open_assoc("127.0.0.1", &hint, NULL, &bnd);
    send_dgram(fa, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "a"));
    expect_no_reply(fa, 50);
    assert_int_equal(dropped(), 1);
    send_dgram(fb, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "b"));
    expect_reply(fb, "127.0.0.1", F.echo4_port, "b");
    close(fa);
    close(fb);
    close(fd);
}

/* A non-zero DST.ADDR in the request must match the source too. */
static void test_hint_ip(void **state)
{
    struct addr bnd;
    struct target hint;
    uint8_t d[512];
    assert_int_equal(target_set_host(&hint, "127.0.0.9", 9, 0), 0);
    int fd = open_assoc("127.0.0.1", &hint, NULL, &bnd);
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "a"));
    expect_no_reply(fd, 50);
    assert_int_equal(dropped(), 1);
    close(fd);
}

static void test_announce(void **state)
{
    struct addr bnd, ann;
    char ip[64];
    assert_int_equal(addr_from_ip(&ann, "192.0.2.7", 9), 0);
    int fd = open_assoc("127.0.0.1", NULL, &ann, &bnd);
    assert_string_equal(addr_format_ip(&bnd, ip, sizeof(ip)), "192.0.2.7");
    assert_true(addr_port(&bnd) != 9 && addr_port(&bnd) != 0);
    close(fd);
}

static bool echoed_100(void) { return F.echoed >= 100; }

/* More datagrams than one read batch, all queued before the loop runs:
 * the association must come back for the rest by itself. */
static void test_burst(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    for (int i = 0; i < 100; i++)
        send_dgram(fd, &bnd, d,
                   build(d, 0, "127.0.0.1", F.echo4_port, "burst"));
    assert_true(spin_until(echoed_100, 2000));
    for (int i = 0; i < 100; i++)
        expect_reply(fd, "127.0.0.1", F.echo4_port, "burst");
    close(fd);
}

/* The biggest datagram the client can send still goes through. */
static void test_large_datagram(void **state)
{
    struct addr bnd;
    static uint8_t d[65507], r[65536];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    size_t h = build(d, 0, "127.0.0.1", F.echo4_port, "");
    for (size_t i = h; i < sizeof(d); i++)
        d[i] = (uint8_t)i;
    send_dgram(fd, &bnd, d, sizeof(d));
    g_client_fd = fd;
    assert_true(spin_until(client_readable, 2000));
    assert_int_equal(recv(fd, r, sizeof(r), 0), (ssize_t)sizeof(d));
    assert_memory_equal(r + h, d + h, sizeof(d) - h);
    close(fd);
}

/* Ending the association from allow() (the session died meanwhile). */
static void test_free_inside_allow(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    F.free_in_allow = true;
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "1"));
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "2"));
    spin(30);
    assert_null(F.u);
    assert_int_equal(F.allow_calls, 1);
    assert_int_equal(F.echoed, 0);
    close(fd);
}

/* The same, with datagrams of two names waiting for the resolver. */
static void test_free_inside_allow_after_dns(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    dns_pause(true);
    for (int i = 0; i < 3; i++) {
        send_dgram(fd, &bnd, d, build(d, 0, "a.test", F.echo4_port, "a"));
        send_dgram(fd, &bnd, d, build(d, 0, "b.test", F.echo4_port, "b"));
    }
    spin(30);
    F.free_in_allow = true;
    dns_pause(false);
    spin(100);
    assert_null(F.u);
    assert_int_equal(F.allow_calls, 1);
    assert_int_equal(F.echoed, 0);
    close(fd);
}

/* Freed with lookups in flight: no callback may touch it afterwards. */
static void test_free_with_pending_lookup(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    dns_pause(true);
    send_dgram(fd, &bnd, d, build(d, 0, "late.test", F.echo4_port, "x"));
    spin(30);
    udpassoc_free(F.u);
    udpassoc_free(F.u); /* second call before the deferred free: no-op */
    F.u = NULL;
    udpassoc_free(NULL);
    dns_pause(false);
    spin(100);
    assert_int_equal(F.allow_calls, 0);
    assert_int_equal(F.echoed, 0);
    close(fd);
}

/* After the association ends the client's datagrams go nowhere. */
static void test_closed(void **state)
{
    struct addr bnd;
    uint8_t d[512];
    int fd = open_assoc("127.0.0.1", NULL, NULL, &bnd);
    send_dgram(fd, &bnd, d, build(d, 0, "127.0.0.1", F.echo4_port, "a"));
    expect_reply(fd, "127.0.0.1", F.echo4_port, "a");
    udpassoc_free(F.u);
    F.u = NULL;
    spin(10);
    /* the port is closed now: the send may fail or vanish */
    (void)sendto(fd, d, build(d, 0, "127.0.0.1", F.echo4_port, "b"), 0,
                 &bnd.u.sa, bnd.len);
    expect_no_reply(fd, 50);
    assert_int_equal(F.echoed, 1);
    close(fd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_ipv4_target),
        T(test_ipv6_target),
        T(test_v4_mapped_target),
        T(test_ipv6_control),
        T(test_domain_target),
        T(test_unresolvable_name),
        T(test_held_datagrams_bounded),
        T(test_lookups_bounded),
        T(test_fragment_dropped),
        T(test_malformed_dropped),
        T(test_denied_dropped),
        T(test_other_source_port),
        T(test_other_source_ip),
        T(test_hint_port),
        T(test_hint_ip),
        T(test_announce),
        T(test_burst),
        T(test_large_datagram),
        T(test_free_inside_allow),
        T(test_free_inside_allow_after_dns),
        T(test_free_with_pending_lookup),
        T(test_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
