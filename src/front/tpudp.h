/* tpudp: the UDP side of a tproxy listener, one socket per worker.
 *
 * Where it sits: the listener opens it beside its TCP socket.  The
 * socket is bound to the listener's address with IP_TRANSPARENT and
 * IP_RECVORIGDSTADDR (+ the IPv6 ones on a dual-stack [::] socket) and
 * SO_REUSEPORT: the kernel spreads flows over the workers by their
 * addresses, so one flow always lands on the same worker.
 *
 * A datagram's original destination comes with it (a control message).
 * Datagrams are grouped into flows by (client address, original
 * destination); each flow is a udpflow (routed like any request: direct,
 * or a tunnel's UDP stream) plus a reply socket: unconnected,
 * transparent, bound to the original destination, so the client sees its
 * answers come from the server it spoke to.  A flow ends when idle
 * (DNS_IDLE_MS for port 53, IDLE_MS otherwise) and logs one access line
 * (proto tproxy-udp).  Datagrams to ferry's own listeners are dropped. */
#ifndef FERRY_TPUDP_H
#define FERRY_TPUDP_H

#include <stddef.h>

#include "conf/conf.h"

struct worker;
struct tpudp;

/* Open the UDP socket of tproxy listener lc (borrowed from w's
 * snapshot).  0, or -errno with err saying what is missing (privilege,
 * kernel support) and how to fix it. */
int tpudp_open(struct tpudp **out, struct worker *w,
               const struct conf_listener *lc, char *err, size_t errlen);

/* Close the socket and end every flow (NULL: no-op). */
void tpudp_close(struct tpudp *t);

#endif
