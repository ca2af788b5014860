/* Unit tests for tproxy/origdst: the original destination from control
 * messages (hand-built, in front of a guard page), v4-mapped
 * normalisation, the self-loop check, and the socket options on real
 * sockets.  The kernel tests that need CAP_NET_ADMIN (transparent
 * sockets, a network namespace with a REDIRECT rule) skip without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/netfilter_ipv4.h>

#include "../guard.h"
#include "tproxy/origdst.h"

#define IP6T_SO_ORIGINAL_DST 80

/* "1.2.3.4:80" / "[::1]:80" -> sockaddr_storage (test helper). */
static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
    }
    return ss;
}

/* The text of an address: "1.2.3.4:80" or "[::1]:80". */
static const char *fmt(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, cap, "family %d", ss->ss_family);
    }
    return out;
}

static void assert_addr(const struct sockaddr_storage *ss, const char *want)
{
    char got[80];
    assert_string_equal(fmt(ss, got, sizeof(got)), want);
}

/* --- control messages ----------------------------------------------------- */

struct cmsg_spec {
    int level, type;
    const void *data;
    size_t datalen; /* payload bytes copied */
    size_t cmsglen; /* cmsg_len to claim; 0 = CMSG_LEN(datalen) */
};

/* Build the control messages into a buffer that ends at a guard page and
 * parse them; a read past msg_controllen crashes the test. */
static int parse_cmsgs(const struct cmsg_spec *specs, size_t n, int flags,
                       struct sockaddr_storage *dst)
{
    uint8_t buf[512] __attribute__((aligned(8)));
    size_t len = 0;
    memset(buf, 0, sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        struct cmsghdr *c = (struct cmsghdr *)(buf + len);
        c->cmsg_level = specs[i].level;
        c->cmsg_type = specs[i].type;
        c->cmsg_len =
            specs[i].cmsglen ? specs[i].cmsglen : CMSG_LEN(specs[i].datalen);
        memcpy(CMSG_DATA(c), specs[i].data, specs[i].datalen);
        len += CMSG_SPACE(specs[i].datalen);
    }
    struct guard g;
    guard_put(&g, buf, len);
    struct msghdr m = {.msg_control = len ? g.p : NULL,
                       .msg_controllen = len,
                       .msg_flags = flags};
    int rc = origdst_from_cmsg(&m, dst);
    guard_free(&g);
    return rc;
}

static void test_cmsg_v4(void **state)
{
    struct sockaddr_storage want = sa("203.0.113.2", 5353), got;
    struct cmsg_spec s = {SOL_IP, IP_ORIGDSTADDR, &want,
                          sizeof(struct sockaddr_in), 0};
    assert_int_equal(parse_cmsgs(&s, 1, 0, &got), 0);
    assert_addr(&got, "203.0.113.2:5353");
}

static void test_cmsg_v6(void **state)
{
    struct sockaddr_storage want = sa("2001:db8:2::2", 53), got;
    int ttl = 64;
    struct cmsg_spec s[] = {
        {SOL_IPV6, IPV6_HOPLIMIT, &ttl, sizeof(ttl), 0}, /* skipped */
        {SOL_IPV6, IPV6_ORIGDSTADDR, &want, sizeof(struct sockaddr_in6), 0},
    };
    assert_int_equal(parse_cmsgs(s, 2, 0, &got), 0);
    assert_addr(&got, "[2001:db8:2::2]:53");
}

static void test_cmsg_v4_mapped_is_unmapped(void **state)
{
    struct sockaddr_storage want = sa("::ffff:198.51.100.7", 80), got;
    struct cmsg_spec s = {SOL_IPV6, IPV6_ORIGDSTADDR, &want,
                          sizeof(struct sockaddr_in6), 0};
    assert_int_equal(parse_cmsgs(&s, 1, 0, &got), 0);
    assert_int_equal(got.ss_family, AF_INET);
    assert_addr(&got, "198.51.100.7:80");
}

static void test_cmsg_absent(void **state)
{
    struct sockaddr_storage got;
    int ttl = 64;
    struct cmsg_spec s = {SOL_IP, IP_TTL, &ttl, sizeof(ttl), 0};
    assert_int_equal(parse_cmsgs(NULL, 0, 0, &got), -ENOENT);
    assert_int_equal(parse_cmsgs(&s, 1, 0, &got), -ENOENT);
    /* The kernel cut the control data: say so rather than "absent". */
    assert_int_equal(parse_cmsgs(&s, 1, MSG_CTRUNC, &got), -EMSGSIZE);
}

static void test_cmsg_truncated_or_wrong(void **state)
{
    struct sockaddr_storage v4 = sa("203.0.113.2", 80);
    struct sockaddr_storage v6 = sa("2001:db8::1", 80), got;
    /* cmsg_len claims fewer bytes than a sockaddr_in */
    struct cmsg_spec shortv4 = {SOL_IP, IP_ORIGDSTADDR, &v4, 8, 0};
    assert_int_equal(parse_cmsgs(&shortv4, 1, 0, &got), -EINVAL);
    struct cmsg_spec shortv6 = {SOL_IPV6, IPV6_ORIGDSTADDR, &v6,
                                sizeof(struct sockaddr_in), 0};
    assert_int_equal(parse_cmsgs(&shortv6, 1, 0, &got), -EINVAL);
    /* an IPv6 sockaddr under the IPv4 type */
    struct cmsg_spec fam = {SOL_IP, IP_ORIGDSTADDR, &v6,
                            sizeof(struct sockaddr_in), 0};
    assert_int_equal(parse_cmsgs(&fam, 1, 0, &got), -EINVAL);
    /* a cmsg_len running past the control buffer */
    struct cmsg_spec over = {SOL_IP, IP_ORIGDSTADDR, &v4,
                             sizeof(struct sockaddr_in), 200};
    assert_int_equal(parse_cmsgs(&over, 1, 0, &got), -EINVAL);
}

/* --- normalisation and the self-loop check -------------------------------- */

static void test_unmap(void **state)
{
    struct sockaddr_storage a = sa("::ffff:127.0.0.1", 7893);
    origdst_unmap(&a);
    assert_int_equal(a.ss_family, AF_INET);
    assert_addr(&a, "127.0.0.1:7893");
    a = sa("2001:db8::ffff:1", 1);
    origdst_unmap(&a);
    assert_addr(&a, "[2001:db8::ffff:1]:1");
    a = sa("192.0.2.1", 2);
    origdst_unmap(&a);
    assert_addr(&a, "192.0.2.1:2");
}

struct self_case {
    const char *ip;
    uint16_t port;
    bool self;
};

static void test_is_self(void **state)
{
    const struct sockaddr_storage listeners[] = {
        sa("::", 7893), sa("127.0.0.1", 7890), sa("0.0.0.0", 1000),
        sa("::ffff:198.51.100.1", 2000)};
    const struct sockaddr_storage local[] = {sa("198.51.100.1", 0),
                                             sa("2001:db8:1::1", 0)};
    static const struct self_case cases[] = {
        {"198.51.100.1", 7893, true},        /* [::] is dual-stack */
        {"::ffff:198.51.100.1", 7893, true}, /* mapped = IPv4 */
        {"2001:db8:1::1", 7893, true},
        {"127.0.0.5", 7893, true}, /* loopback is local */
        {"::1", 7893, true},
        {"203.0.113.2", 7893, false}, /* not this host */
        {"198.51.100.1", 80, false},  /* no listener there */
        {"127.0.0.1", 7890, true},    /* specific listener */
        {"127.0.0.2", 7890, false},
        {"198.51.100.1", 1000, true},   /* 0.0.0.0 */
        {"2001:db8:1::1", 1000, false}, /* 0.0.0.0 takes no v6 */
        {"198.51.100.1", 2000, true},   /* mapped listener */
        {"2001:db8:1::1", 2000, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage d = sa(cases[i].ip, cases[i].port);
        bool got = origdst_is_self(&d, listeners, 4, local, 2);
        if (got != cases[i].self)
            fail_msg("case %zu %s:%u: got %d", i, cases[i].ip, cases[i].port,
                     got);
    }
    struct sockaddr_storage d = sa("198.51.100.1", 7893);
    assert_false(origdst_is_self(&d, listeners, 4, NULL, 0));
    assert_false(origdst_is_self(&d, NULL, 0, local, 2));
}

/* --- real sockets --------------------------------------------------------- */

static int opt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* Skip (with the reason) unless we may set IP_TRANSPARENT. */
static void need_net_admin(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    assert_true(fd >= 0);
    int rc = setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
    close(fd);
    if (rc < 0) {
        print_message("skipped: needs CAP_NET_ADMIN (run as root)\n");
        skip();
    }
}

static void test_make_transparent(void **state)
{
    need_net_admin();
    char err[256];
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(
        origdst_make_transparent(fd, AF_INET6, true, err, sizeof(err)), 0);
    assert_int_equal(opt(fd, SOL_IP, IP_TRANSPARENT), 1);
    assert_int_equal(opt(fd, SOL_IPV6, IPV6_TRANSPARENT), 1);
    assert_int_equal(opt(fd, SOL_IP, IP_RECVORIGDSTADDR), 1);
    assert_int_equal(opt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR), 1);
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(
        origdst_make_transparent(fd, AF_INET, false, err, sizeof(err)), 0);
    assert_int_equal(opt(fd, SOL_IP, IP_TRANSPARENT), 1);
    assert_int_equal(opt(fd, SOL_IP, IP_RECVORIGDSTADDR), 0);
    close(fd);
}

/* Without the capability the error says what is missing and the fix. */
static void test_make_transparent_eperm(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256] = "";
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        /* nobody: no capabilities */
        if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
            _exit(3);
        int rc =
            origdst_make_transparent(fd, AF_INET6, false, err, sizeof(err));
        if (write(fds[1], &rc, sizeof(rc)) < 0 ||
            write(fds[1], err, sizeof(err)) < 0)
            _exit(4);
        _exit(0);
    }
    close(fds[1]);
    int rc = 0, st;
    char err[256];
    assert_int_equal(read(fds[0], &rc, sizeof(rc)), sizeof(rc));
    assert_int_equal(read(fds[0], err, sizeof(err)), sizeof(err));
    close(fds[0]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(rc, -EPERM);
    assert_non_null(strstr(err, "IP_TRANSPARENT needs CAP_NET_ADMIN"));
    assert_non_null(strstr(err, "setcap cap_net_admin+ep"));
}

/* Two flows' reply sockets on the same non-local address (TEST-NET: no
 * packet is sent). */
static void check_reply_sockets(const char *ip, int family)
{
    char err[256];
    struct sockaddr_storage src = sa(ip, 5353), bound;
    int a = origdst_reply_socket(&src, 0x1f3, err, sizeof(err));
    if (a < 0)
        fail_msg("%s: %s", ip, err);
    int b = origdst_reply_socket(&src, 0x1f3, err, sizeof(err));
    if (b < 0)
        fail_msg("%s twice (SO_REUSEADDR): %s", ip, err);
    socklen_t len = sizeof(bound);
    assert_int_equal(getsockname(a, (struct sockaddr *)&bound, &len), 0);
    assert_int_equal(bound.ss_family, family);
    assert_int_equal(opt(a, SOL_SOCKET, SO_MARK), 0x1f3);
    assert_int_equal(opt(a, SOL_IP, IP_TRANSPARENT), 1);
    assert_int_equal(opt(a, SOL_SOCKET, SO_REUSEADDR), 1);
    close(a);
    close(b);
}

static void test_reply_socket(void **state)
{
    need_net_admin();
    check_reply_sockets("192.0.2.77", AF_INET);
    check_reply_sockets("::ffff:192.0.2.78", AF_INET); /* unmapped */
    check_reply_sockets("2001:db8:77::1", AF_INET6);
    char err[256];
    struct sockaddr_storage bad;
    memset(&bad, 0, sizeof(bad));
    assert_int_equal(origdst_reply_socket(&bad, 0, err, sizeof(err)),
                     -EAFNOSUPPORT);
}

/* A dual-stack [::] listener on loopback and a connected pair. */
static int listener(uint16_t *port)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0), zero = 0;
    struct sockaddr_storage any = sa("::", 0);
    socklen_t len = sizeof(any);
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)),
                     0);
    assert_int_equal(
        bind(fd, (struct sockaddr *)&any, sizeof(struct sockaddr_in6)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&any, &len), 0);
    *port = ntohs(((struct sockaddr_in6 *)&any)->sin6_port);
    return fd;
}

/* connect to ip:port through listener lfd; returns the accepted fd. */
static int accepted(int lfd, const char *ip, uint16_t port, int *cfd)
{
    struct sockaddr_storage to = sa(ip, port);
    *cfd = socket(to.ss_family, SOCK_STREAM, 0);
    socklen_t len = to.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6);
    if (connect(*cfd, (struct sockaddr *)&to, len) < 0)
        return -errno;
    return accept(lfd, NULL, NULL);
}

static void test_tproxy_tcp_local_address(void **state)
{
    uint16_t port;
    int lfd = listener(&port), cfd;
    int fd = accepted(lfd, "127.0.0.1", port, &cfd);
    assert_true(fd >= 0);
    struct sockaddr_storage d;
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u", port);
    assert_int_equal(origdst_tproxy_tcp(fd, &d), 0);
    assert_addr(&d, want); /* v4-mapped on the [::] socket, unmapped */
    close(fd);
    close(cfd);
    close(lfd);
}

/* In a fresh network namespace: REDIRECT port 9 to our listener and ask
 * for the original destination the right and the wrong way.  Results
 * go through a pipe: asserts belong to the parent. */
struct redirect_result {
    int setup; /* 0 ok, else the failing step */
    int rc[2], wrong[2];
    struct sockaddr_storage dst[2];
};

static int wrong_way(int fd, bool v4)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    return getsockopt(fd, v4 ? SOL_IPV6 : SOL_IP,
                      v4 ? IP6T_SO_ORIGINAL_DST : SO_ORIGINAL_DST, &ss,
                      &len) < 0
               ? -errno
               : 0;
}

static void redirect_child(struct redirect_result *r)
{
    static const char *const to[2] = {"127.0.0.2", "::1"};
    char cmd[512];
    uint16_t port;
    if (unshare(CLONE_NEWNET) < 0)
        return (void)(r->setup = 1);
    int lfd = listener(&port);
    snprintf(cmd, sizeof(cmd),
             "ip link set lo up && nft -f - <<EOF\n"
             "table inet t { chain o { type nat hook output priority -100;\n"
             "tcp dport 9 redirect to :%u; }; }\nEOF\n",
             port);
    if (system(cmd) != 0)
        return (void)(r->setup = 2);
    for (int i = 0; i < 2; i++) {
        int cfd, fd = accepted(lfd, to[i], 9, &cfd);
        if (fd < 0)
            return (void)(r->setup = 3 + i);
        r->rc[i] = origdst_redirect(fd, &r->dst[i]);
        r->wrong[i] = wrong_way(fd, i == 0);
        close(fd);
        close(cfd);
    }
}

static void test_redirect_original_dst(void **state)
{
    need_net_admin();
    if (system("command -v nft >/dev/null && command -v ip >/dev/null")) {
        print_message("skipped: needs nft and ip (nftables, iproute2)\n");
        skip();
    }
    struct redirect_result r;
    int fds[2], st;
    memset(&r, 0, sizeof(r));
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        redirect_child(&r);
        _exit(write(fds[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &r, sizeof(r)), sizeof(r));
    close(fds[0]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(r.setup, 0);
    assert_int_equal(r.rc[0], 0);
    assert_addr(&r.dst[0], "127.0.0.2:9"); /* v4-mapped accept -> AF_INET */
    assert_int_equal(r.rc[1], 0);
    assert_addr(&r.dst[1], "[::1]:9");
    assert_int_equal(r.wrong[0], -ENOENT); /* IP6T_ on an IPv4 flow */
    assert_int_equal(r.wrong[1], -ENOENT); /* SO_ORIGINAL_DST on IPv6 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmsg_v4),
        cmocka_unit_test(test_cmsg_v6),
        cmocka_unit_test(test_cmsg_v4_mapped_is_unmapped),
        cmocka_unit_test(test_cmsg_absent),
        cmocka_unit_test(test_cmsg_truncated_or_wrong),
        cmocka_unit_test(test_unmap),
        cmocka_unit_test(test_is_self),
        cmocka_unit_test(test_make_transparent),
        cmocka_unit_test(test_make_transparent_eperm),
        cmocka_unit_test(test_reply_socket),
        cmocka_unit_test(test_tproxy_tcp_local_address),
        cmocka_unit_test(test_redirect_original_dst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
