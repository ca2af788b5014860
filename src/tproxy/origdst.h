/* origdst: where an intercepted connection or datagram was going.
 *
 * The transparent-proxy front end (TPROXY and REDIRECT listeners, see
 * docs/tproxy.md) accepts traffic that was addressed to somebody else;
 * these helpers recover that original destination and set up the
 * sockets TPROXY needs.  Facts they rely on (verified on Linux 6.x):
 *
 *   - One dual-stack listener ([::], IPV6_V6ONLY=0) serves IPv4 and IPv6.
 *     IP_TRANSPARENT and IPV6_TRANSPARENT set the same socket flag, we
 *     set both; IP_RECVORIGDSTADDR and IPV6_RECVORIGDSTADDR are separate
 *     flags: without the IPv4 one an IPv4 datagram arrives on the [::]
 *     socket with no original destination at all.
 *   - An IPv4 datagram on that socket carries SOL_IP/IP_ORIGDSTADDR
 *     (a sockaddr_in), an IPv6 one SOL_IPV6/IPV6_ORIGDSTADDR.
 *   - TPROXY TCP: the original destination is the accepted socket's
 *     local address (IPv4 ones come v4-mapped on the [::] socket).
 *   - REDIRECT: SO_ORIGINAL_DST (SOL_IP) for IPv4, also on a v4-mapped
 *     connection of a [::] socket; IP6T_SO_ORIGINAL_DST (SOL_IPV6) for
 *     IPv6.  Asking with the wrong one fails with ENOENT.
 *   - UDP replies leave from an unconnected socket with IP_TRANSPARENT
 *     and SO_REUSEADDR bound to the original destination (a connected
 *     one would catch the client's next datagrams before the listener).
 *
 * Every address returned here is normalised: an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) becomes a plain AF_INET one.  Functions
 * return 0 (or an fd) on success and -errno on failure; those that take
 * err/errlen also write a sentence saying what is missing and how to
 * fix it. */
#ifndef FERRY_ORIGDST_H
#define FERRY_ORIGDST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Control-buffer size recvmsg() needs for the original destination. */
#define ORIGDST_CMSG_SPACE                                                     \
    (CMSG_SPACE(sizeof(struct sockaddr_in6)) +                                 \
     CMSG_SPACE(sizeof(struct sockaddr_in)))

/* An IPv4-mapped IPv6 address in *ss becomes AF_INET; others unchanged. */
void origdst_unmap(struct sockaddr_storage *ss);

/* The original destination from the control messages recvmsg() put in
 * msg (borrowed; only msg_control, msg_controllen and msg_flags are
 * read).  Pure: no system call.  0 and *dst filled, or
 *   -ENOENT    no IP_ORIGDSTADDR / IPV6_ORIGDSTADDR message (the socket
 *              lacks IP_RECVORIGDSTADDR / IPV6_RECVORIGDSTADDR, or the
 *              datagram was not intercepted)
 *   -EMSGSIZE  none, and MSG_CTRUNC says the kernel cut the control
 *              data (give recvmsg ORIGDST_CMSG_SPACE bytes or more)
 *   -EINVAL    the message is there but truncated or of the wrong
 *              family */
int origdst_from_cmsg(const struct msghdr *msg, struct sockaddr_storage *dst);

/* TPROXY TCP: the original destination of accepted socket fd (its local
 * address).  0 or -errno from getsockname(). */
int origdst_tproxy_tcp(int fd, struct sockaddr_storage *dst);

/* REDIRECT / DNAT TCP: the original destination of accepted socket fd
 * from conntrack: SO_ORIGINAL_DST when its local address is IPv4 or
 * v4-mapped, IP6T_SO_ORIGINAL_DST when IPv6.  0, or -ENOENT when the
 * connection was not redirected (no NAT entry), or another -errno. */
int origdst_redirect(int fd, struct sockaddr_storage *dst);

/* Make fd (a socket of family AF_INET or AF_INET6, not yet bound) a
 * transparent listener: IP_TRANSPARENT, and IPV6_TRANSPARENT for
 * AF_INET6; with udp also IP_RECVORIGDSTADDR, and IPV6_RECVORIGDSTADDR
 * for AF_INET6.  -EPERM: needs CAP_NET_ADMIN; -ENOPROTOOPT: the kernel
 * lacks the option; err says which and how to fix it. */
int origdst_make_transparent(int fd, int family, bool udp, char *err,
                             size_t errlen);

/* SO_MARK mark on fd, so the interception rules let ferry's own traffic
 * out (mark 0 = leave unmarked).  -EPERM: needs CAP_NET_ADMIN. */
int origdst_set_mark(int fd, uint32_t mark, char *err, size_t errlen);

/* The socket a UDP flow's replies leave from: non-blocking, unconnected,
 * IP_TRANSPARENT (+ IPV6_TRANSPARENT), SO_REUSEADDR (flows to the same
 * destination each have one), SO_MARK mark, bound to src (borrowed: the
 * flow's original destination, so the client sees the answer come from
 * where it sent).  Gives the fd (caller closes it) or -errno. */
int origdst_reply_socket(const struct sockaddr_storage *src, uint32_t mark,
                         char *err, size_t errlen);

/* Self-loop check: would forwarding to dst reach one of ferry's own
 * listeners?  True when dst's port is a listener's port and
 *   - the listener has a specific address equal to dst's, or
 *   - the listener is a wildcard (0.0.0.0: IPv4 dsts only; [::]: both,
 *     it is dual-stack) and dst is a loopback address or one of the
 *     n_local addresses in local (this host's addresses, e.g. from
 *     getifaddrs(); ports there are ignored).
 * All arrays are borrowed; v4-mapped addresses anywhere are compared as
 * IPv4. */
bool origdst_is_self(const struct sockaddr_storage *dst,
                     const struct sockaddr_storage *listeners,
                     size_t n_listeners, const struct sockaddr_storage *local,
                     size_t n_local);

#endif
