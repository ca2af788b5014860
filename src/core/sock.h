/* sock: non-blocking socket set-up shared by listeners and egresses. */
#ifndef FERRY_SOCK_H
#define FERRY_SOCK_H

#include "core/addr.h"

/* A non-blocking listening TCP socket on a, with SO_REUSEADDR and
 * SO_REUSEPORT (one per worker).  Returns the fd or -errno. */
int sock_listen(const struct addr *a, int backlog);
/* accept4() non-blocking; fills *peer.  Returns the fd or -errno. */
int sock_accept(int lfd, struct addr *peer);
/* Start a non-blocking connect to a.  Returns the fd (connect in progress
 * or done) or -errno when the socket could not be made or the connect
 * failed at once. */
int sock_connect(const struct addr *a);
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
