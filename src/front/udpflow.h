/* udpflow: the datagrams of one client towards one target, routed.
 *
 * Where it sits: a front end that receives datagrams itself (SOCKS5 UDP
 * ASSOCIATE for targets its rules send through an egress, the tproxy
 * listener for every intercepted flow) opens a flow per target.  The
 * flow asks route (ROUTE_DGRAM, so the exit side's access rules and
 * egress choice apply) for a descriptor that carries datagrams: a
 * connected UDP socket when direct, a tunnel's UDP stream (a
 * SOCK_SEQPACKET socketpair end) when through a tunnel, or a UDP socket
 * connected to a SOCKS5 parent's relay (UDP ASSOCIATE; each datagram
 * then carries a SOCKS5 header naming the target, and the association's
 * TCP connection is held open as long as the flow).  Datagrams sent
 * while the route is being made wait, a few and bounded; afterwards
 * each goes out with one send(), and UDP has no backpressure: what the
 * descriptor cannot take now is dropped and counted.  Datagrams coming
 * back are handed to the owner's callback.
 *
 * The flow ends when its route fails, when a tunnel stream ends, or when
 * the owner closes it; the owner hears of the first two once, through
 * its end callback, and must then call udpflow_close(). */
#ifndef FERRY_UDPFLOW_H
#define FERRY_UDPFLOW_H

#include <stddef.h>
#include <stdint.h>

#include "core/request.h"
#include "core/result.h"

struct worker;
struct udpflow;

/* A datagram from the target: p[0..n) valid during the call only.  The
 * callback may call udpflow_close(). */
typedef void (*udpflow_recv_fn)(void *ud, const uint8_t *p, size_t n);
/* The flow can carry nothing more: r says why (the route's result, or
 * RESULT_OK when an open tunnel stream ended).  The owner closes it. */
typedef void (*udpflow_end_fn)(void *ud, enum result r);

struct udpflow_stats {
    uint64_t up, down;    /* payload bytes sent / received */
    uint64_t dropped;     /* datagrams lost here, either way */
    uint64_t last_active; /* loop_now() of the last datagram relayed
                             (the opening time before any) */
};

/* Open a flow of req (copied; its listener, user and client address
 * decide the route) to t (copied).  The callbacks never run inside
 * this call.  Returns 0 or -errno. */
int udpflow_open(struct udpflow **out, struct worker *w,
                 const struct request *req, const struct target *t,
                 udpflow_recv_fn on_recv, udpflow_end_fn on_end, void *ud);

/* Send one datagram p[0..n) (n may be 0). */
void udpflow_send(struct udpflow *f, const uint8_t *p, size_t n);

/* The flow's target as opened. */
const struct target *udpflow_target(const struct udpflow *f);

struct udpflow_stats udpflow_stats(const struct udpflow *f);

/* Close: no callback runs afterwards; the memory goes at the end of the
 * loop iteration (safe inside the flow's own callbacks).  NULL: no-op. */
void udpflow_close(struct udpflow *f);

#endif
