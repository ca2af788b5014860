/* sock: non-blocking socket set-up shared by listeners and egresses. */
#ifndef FERRY_SOCK_H
#define FERRY_SOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"

enum sock_listen_flags {
    SOCK_DUAL_STACK = 1,  /* an IPv6 socket serves IPv4 too (else it is
                             IPv6 only) */
    SOCK_TRANSPARENT = 2, /* IP_TRANSPARENT (+ IPV6_TRANSPARENT): a
                             TPROXY listener */
};
/* A non-blocking listening TCP socket on a, with SO_REUSEADDR and
 * SO_REUSEPORT (one per worker) and flags (enum sock_listen_flags).
 * Returns the fd or -errno (-EPERM: transparent needs CAP_NET_ADMIN). */
int sock_listen(const struct addr *a, int backlog, unsigned flags);
/* IP_TRANSPARENT, and IPV6_TRANSPARENT for an AF_INET6 socket: 0 or
 * -errno. */
int sock_transparent(int fd, int family);
/* SO_MARK mark on fd (0: nothing to do), so interception rules let
 * ferry's own traffic pass: 0 or -errno (-EPERM: needs CAP_NET_ADMIN). */
int sock_mark(int fd, uint32_t mark);
/* accept4() non-blocking; fills *peer.  Returns the fd or -errno. */
int sock_accept(int lfd, struct addr *peer);
/* Start a non-blocking connect to a.  Returns the fd (connect in progress
 * or done) or -errno when the socket could not be made or the connect
 * failed at once. */
int sock_connect(const struct addr *a, uint32_t mark);
/* The pending error of a connecting socket (SO_ERROR): 0 or an errno. */
int sock_error(int fd);
/* The local / the remote address of a socket: 0 or -errno. */
int sock_local(int fd, struct addr *out);
int sock_peer(int fd, struct addr *out);
/* TCP_NODELAY and keepalive on a relayed socket (best effort). */
void sock_tune(int fd);
/* Raise RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
long sock_raise_nofile(void);

#endif
