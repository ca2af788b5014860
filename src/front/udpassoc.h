/* udpassoc: one SOCKS5 UDP association (RFC 1928 section 7).
 *
 * Where it sits: the SOCKS front end answers a UDP ASSOCIATE request by
 * creating an association and announcing its client-side address in the
 * reply; the association then lives exactly as long as the control TCP
 * connection (the session frees it when that connection ends).
 *
 * An association owns two UDP sockets on the worker's loop:
 *   client side  bound to the control connection's local IP, port 0;
 *                only the control peer's IP may send there, and the first
 *                well-formed datagram fixes the client's UDP address;
 *   target side  one unconnected dual-stack socket ([::], IPV6_V6ONLY=0;
 *                IPv4 targets are sent to as ::ffff:a.b.c.d).
 * Client datagrams carry RSV FRAG ATYP DST.ADDR DST.PORT (proto/socks);
 * the header is stripped and the payload sent to DST.  A datagram from a
 * target is sent to the client behind a header naming its source.
 * Fragments (FRAG != 0), malformed, refused and undeliverable datagrams
 * are dropped and counted; UDP has no backpressure, so nothing queues
 * except a few datagrams (bounded) while a target name resolves.
 *
 * Targets the rules send through an egress (a tunnel) go through flows
 * instead: one udpflow per target, at most a few per association (the
 * least recently used makes room), replies framed the same way. */
#ifndef FERRY_UDPASSOC_H
#define FERRY_UDPASSOC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/request.h"

struct worker;
struct udpassoc;

/* Policy hook, called for every datagram before it is sent: where may
 * it go?  For an address target addr is NULL (dst->ip is it, never an
 * IPv4-mapped IPv6 address: those arrive here as IPv4).  A name target
 * is asked about first with addr NULL: FLOW sends the datagram by name
 * into a flow (the egress resolves it), DENY drops it, DIRECT means
 * "resolve here and ask again", with addr the resolved address it would
 * go to (port set).  Both are valid only during the call.  The hook may
 * call udpassoc_free(). */
enum udpassoc_way {
    UDPASSOC_DENY,   /* drop it */
    UDPASSOC_DIRECT, /* from the association's own target socket */
    UDPASSOC_FLOW,   /* through a routed flow (udpflow) of its target */
};
typedef enum udpassoc_way (*udpassoc_way_fn)(void *ud,
                                             const struct target *dst,
                                             const struct addr *addr);

/* Create the association of the UDP ASSOCIATE request req (borrowed; it
 * must outlive the association: flows are opened in its name) whose
 * control connection was accepted on ctrl_local (borrowed) from
 * req->client.
 * req_hint (borrowed, may be NULL) is the DST.ADDR/DST.PORT of the UDP
 * ASSOCIATE request: a non-zero port (and a non-zero IP address) there
 * restricts the client's datagrams to that source; zeros mean "learn it
 * from the first datagram".  announce (may be NULL or len 0) replaces
 * the IP of the address given back in *bnd, for a server behind NAT;
 * *bnd is otherwise the client-side socket's bound address, which the
 * SOCKS5 reply carries as BND.ADDR/BND.PORT.  way may be NULL (all
 * direct); ud is passed to it.  Gives the association in *out.  Returns 0
 * or -errno (nothing is left open then). */
int udpassoc_new(struct udpassoc **out, struct worker *w,
                 const struct request *req, const struct addr *ctrl_local,
                 const struct target *req_hint, const struct addr *announce,
                 udpassoc_way_fn way, void *ud, struct addr *bnd);

/* End the association (the control connection ended): its sockets are
 * closed and pending lookups cancelled now; the memory is freed at the
 * end of the loop iteration, so this is safe inside any loop callback,
 * including way.  NULL is a no-op; a second call is a no-op until the
 * memory is gone. */
void udpassoc_free(struct udpassoc *u);

/* Payload bytes relayed client -> targets (up) and targets -> client
 * (down), and datagrams dropped.  Any pointer may be NULL. */
void udpassoc_stats(const struct udpassoc *u, uint64_t *up_bytes,
                    uint64_t *down_bytes, uint64_t *dropped);

/* loop_now() of the last datagram relayed either way (the creation time
 * before any), for the owner's idle timeout. */
uint64_t udpassoc_last_active(const struct udpassoc *u);

#endif
