/* sock: see sock.h. */
#include "core/sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

static int set_int(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

int sock_transparent(int fd, int family)
{
    int rc = set_int(fd, SOL_IP, IP_TRANSPARENT, 1);
    if (rc == 0 && family == AF_INET6)
        rc = set_int(fd, SOL_IPV6, IPV6_TRANSPARENT, 1);
    return rc;
}

int sock_mark(int fd, uint32_t mark)
{
    if (mark == 0)
        return 0;
    return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0
               ? -errno
               : 0;
}

int sock_listen(const struct addr *a, int backlog, unsigned flags)
{
    int fam = a->u.sa.sa_family;
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0)
        rc = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (rc == 0 && fam == AF_INET6)
        rc = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                     !(flags & SOCK_DUAL_STACK));
    if (rc == 0 && (flags & SOCK_TRANSPARENT))
        rc = sock_transparent(fd, fam);
    if (rc == 0 && bind(fd, &a->u.sa, a->len) < 0)
        rc = -errno;
    if (rc == 0 && listen(fd, backlog) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int sock_accept(int lfd, struct addr *peer)
{
    struct sockaddr_in6 sa;
    socklen_t len = sizeof(sa);
    int fd = accept4(lfd, (struct sockaddr *)&sa, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (addr_from_sockaddr(peer, (struct sockaddr *)&sa, len) < 0)
        peer->len = 0;
    return fd;
}

int sock_connect(const struct addr *a, uint32_t mark)
{
    int fd = socket(a->u.sa.sa_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = sock_mark(fd, mark);
    if (rc == 0 && connect(fd, &a->u.sa, a->len) < 0 &&
        errno != EINPROGRESS)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int sock_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

/* getsockname() or getpeername() into *out. */
static int sock_name(int fd, struct addr *out,
                     int (*get)(int, struct sockaddr *, socklen_t *))
{
    struct sockaddr_in6 sa;
    socklen_t len = sizeof(sa);
    if (get(fd, (struct sockaddr *)&sa, &len) < 0)
        return -errno;
    return addr_from_sockaddr(out, (struct sockaddr *)&sa, len);
}

int sock_local(int fd, struct addr *out)
{
    return sock_name(fd, out, getsockname);
}

int sock_peer(int fd, struct addr *out)
{
    return sock_name(fd, out, getpeername);
}

void sock_tune(int fd)
{
    /* Best effort: a relay works without these, only less well. */
    (void)set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    (void)set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
}

long sock_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            return -errno;
    }
    return (long)rl.rlim_cur;
}
