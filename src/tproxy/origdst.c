/* origdst: where an intercepted connection or datagram was going, and
 * the socket options TPROXY needs.  Used by the tproxy and redirect
 * listeners (front end) right after accept()/recvmsg(); the facts behind
 * each function are in origdst.h and docs/tproxy.md. */
#include "tproxy/origdst.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter_ipv4.h>

#include "core/addr.h"
#include "core/sock.h"

/* linux/netfilter_ipv6/ip6_tables.h defines it too, but drags in the
 * whole x_tables ABI; the value is part of the kernel ABI. */
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

void origdst_unmap(struct sockaddr_storage *ss)
{
    struct addr a;
    if (addr_from_sockaddr(&a, (const struct sockaddr *)ss, sizeof(*ss)) < 0)
        return;
    addr_unmap_v4(&a);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &a.u, a.len);
}

/* The payload a cmsg must carry: a sockaddr of the family it is for,
 * within the room left in the control buffer. */
static int cmsg_addr(const struct cmsghdr *c, size_t room, int family,
                     size_t need, struct sockaddr_storage *dst)
{
    if (c->cmsg_len < CMSG_LEN(need) || c->cmsg_len > room)
        return -EINVAL;
    memset(dst, 0, sizeof(*dst));
    memcpy(dst, CMSG_DATA(c), need);
    if (dst->ss_family != family)
        return -EINVAL;
    origdst_unmap(dst);
    return 0;
}

int origdst_from_cmsg(const struct msghdr *msg, struct sockaddr_storage *dst)
{
    /* CMSG_NXTHDR takes a non-const msghdr but does not write to it. */
    struct msghdr *m = (struct msghdr *)msg;
    const uint8_t *base = m->msg_control;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        size_t room = m->msg_controllen - (size_t)((uint8_t *)c - base);
        if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR)
            return cmsg_addr(c, room, AF_INET, sizeof(struct sockaddr_in), dst);
        if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR)
            return cmsg_addr(c, room, AF_INET6, sizeof(struct sockaddr_in6),
                             dst);
    }
    return (msg->msg_flags & MSG_CTRUNC) ? -EMSGSIZE : -ENOENT;
}

int origdst_tproxy_tcp(int fd, struct sockaddr_storage *dst)
{
    socklen_t len = sizeof(*dst);
    memset(dst, 0, sizeof(*dst));
    if (getsockname(fd, (struct sockaddr *)dst, &len) < 0)
        return -errno;
    origdst_unmap(dst);
    return 0;
}

int origdst_redirect(int fd, struct sockaddr_storage *dst)
{
    int rc = origdst_tproxy_tcp(fd, dst); /* the local address, unmapped */
    if (rc < 0)
        return rc;
    bool v4 = dst->ss_family == AF_INET;
    socklen_t len =
        v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memset(dst, 0, sizeof(*dst));
    if (getsockopt(fd, v4 ? SOL_IP : SOL_IPV6,
                   v4 ? SO_ORIGINAL_DST : IP6T_SO_ORIGINAL_DST, dst, &len) < 0)
        return -errno;
    origdst_unmap(dst);
    return 0;
}

/* Write what a failed setsockopt means for the user into err. */
static int explain(int e, const char *what, char *err, size_t errlen)
{
    if (e == EPERM)
        snprintf(err, errlen,
                 "%s needs CAP_NET_ADMIN: run ferry as root, or give it the "
                 "capability with `setcap cap_net_admin+ep /path/to/ferry`",
                 what);
    else if (e == ENOPROTOOPT)
        snprintf(err, errlen,
                 "this kernel does not support %s (transparent proxying "
                 "needs Linux with TPROXY: CONFIG_NETFILTER_XT_TARGET_TPROXY "
                 "or CONFIG_NFT_TPROXY)",
                 what);
    else
        snprintf(err, errlen, "%s: %s", what, strerror(e));
    return -e;
}

static int set_on(int fd, int level, int opt, const char *what, char *err,
                  size_t errlen)
{
    int one = 1;
    if (setsockopt(fd, level, opt, &one, sizeof(one)) < 0)
        return explain(errno, what, err, errlen);
    return 0;
}

int origdst_make_transparent(int fd, int family, bool udp, char *err,
                             size_t errlen)
{
    bool v6 = family == AF_INET6;
    int rc = sock_transparent(fd, family);
    if (rc < 0)
        return explain(-rc, "IP_TRANSPARENT", err, errlen);
    if (rc == 0 && udp)
        rc = set_on(fd, SOL_IP, IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR", err,
                    errlen);
    if (rc == 0 && udp && v6)
        rc = set_on(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR",
                    err, errlen);
    return rc;
}

int origdst_set_mark(int fd, uint32_t mark, char *err, size_t errlen)
{
    int rc = sock_mark(fd, mark);
    return rc < 0 ? explain(-rc, "SO_MARK", err, errlen) : 0;
}

int origdst_reply_socket(const struct sockaddr_storage *src, uint32_t mark,
                         char *err, size_t errlen)
{
    struct sockaddr_storage at = *src;
    origdst_unmap(&at);
    int family = at.ss_family;
    if (family != AF_INET && family != AF_INET6) {
        snprintf(err, errlen, "reply socket: not an IP address");
        return -EAFNOSUPPORT;
    }
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return explain(errno, "reply socket", err, errlen);
    int rc = set_on(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", err, errlen);
    if (rc == 0)
        rc = origdst_make_transparent(fd, family, false, err, errlen);
    if (rc == 0)
        rc = origdst_set_mark(fd, mark, err, errlen);
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in)
                                      : sizeof(struct sockaddr_in6);
    if (rc == 0 && bind(fd, (const struct sockaddr *)&at, len) < 0)
        rc = explain(errno,
                     "binding the reply socket to the original "
                     "destination",
                     err, errlen);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* The address bytes of an (unmapped) v4/v6 address, and their length. */
static const void *ip_bytes(const struct sockaddr_storage *ss, size_t *len)
{
    if (ss->ss_family == AF_INET) {
        *len = 4;
        return &((const struct sockaddr_in *)ss)->sin_addr;
    }
    *len = 16;
    return &((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static uint16_t ip_port(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET
               ? ((const struct sockaddr_in *)ss)->sin_port
               : ((const struct sockaddr_in6 *)ss)->sin6_port;
}

static bool same_ip(const struct sockaddr_storage *a,
                    const struct sockaddr_storage *b)
{
    size_t la, lb;
    const void *pa = ip_bytes(a, &la), *pb = ip_bytes(b, &lb);
    return a->ss_family == b->ss_family && memcmp(pa, pb, la) == 0;
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    static const uint8_t zero[16];
    size_t len;
    const void *p = ip_bytes(ss, &len);
    return memcmp(p, zero, len) == 0;
}

/* Is ip (unmapped) loopback or one of the host's addresses? */
static bool is_local(const struct sockaddr_storage *ip,
                     const struct sockaddr_storage *local, size_t n_local)
{
    struct addr a;
    if (addr_from_sockaddr(&a, (const struct sockaddr *)ip, sizeof(*ip)) == 0 &&
        addr_is_loopback(&a))
        return true;
    for (size_t i = 0; i < n_local; i++) {
        struct sockaddr_storage l = local[i];
        origdst_unmap(&l);
        if (same_ip(ip, &l))
            return true;
    }
    return false;
}

/* Would a connection to d (unmapped) land on listener l? */
static bool hits_listener(const struct sockaddr_storage *d,
                          const struct sockaddr_storage *listener,
                          const struct sockaddr_storage *local, size_t n_local)
{
    struct sockaddr_storage l = *listener;
    origdst_unmap(&l);
    if ((l.ss_family != AF_INET && l.ss_family != AF_INET6) ||
        ip_port(&l) != ip_port(d))
        return false;
    if (!is_wildcard(&l))
        return same_ip(&l, d);
    if (l.ss_family == AF_INET && d->ss_family != AF_INET)
        return false; /* 0.0.0.0 takes no IPv6 */
    return is_local(d, local, n_local);
}

bool origdst_is_self(const struct sockaddr_storage *dst,
                     const struct sockaddr_storage *listeners,
                     size_t n_listeners, const struct sockaddr_storage *local,
                     size_t n_local)
{
    struct sockaddr_storage d = *dst;
    origdst_unmap(&d);
    if (d.ss_family != AF_INET && d.ss_family != AF_INET6)
        return false;
    for (size_t i = 0; i < n_listeners; i++)
        if (hits_listener(&d, &listeners[i], local, n_local))
            return true;
    return false;
}
