/* intercept: the original destination of intercepted traffic, for the
 * tproxy and redirect listeners (docs/tproxy.md).
 *
 * The kernel hands ferry connections and datagrams addressed to somebody
 * else; these say where they were going (tproxy/origdst does the socket
 * work) and refuse the one destination that would loop: ferry's own
 * listener, reached directly instead of through the rules (one stray
 * connection would otherwise become thousands of self-connections). */
#ifndef FERRY_INTERCEPT_H
#define FERRY_INTERCEPT_H

#include <stdbool.h>

#include "conf/conf.h"
#include "core/addr.h"
#include "core/result.h"

/* The original destination of accepted socket fd of listener lc (tproxy:
 * its local address; redirect: conntrack's record).  RESULT_OK with *dst
 * set (IPv4 never v4-mapped), RESULT_DENIED when dst is one of c's own
 * listeners, or RESULT_BAD_REQUEST when the connection was not
 * intercepted (a redirect listener reached without a NAT entry). */
enum result intercept_tcp(const struct conf *c, const struct conf_listener *lc,
                          int fd, struct addr *dst);

/* True when dst (IPv4 never v4-mapped) is an address:port one of c's
 * listeners accepts on this host. */
bool intercept_is_self(const struct conf *c, const struct addr *dst);

#endif
