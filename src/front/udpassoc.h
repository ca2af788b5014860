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
 * except a few datagrams (bounded) while a target name resolves. */
#ifndef FERRY_UDPASSOC_H
#define FERRY_UDPASSOC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"

struct worker;
struct udpassoc;

/* Policy hook, called for every datagram before it is sent: may it go to
 * dst?  For a name target addr is the resolved address it would go to
 * (port set); for an address target addr is NULL (dst->ip is it, never
 * an IPv4-mapped IPv6 address: those arrive here as IPv4).  Both are
 * valid only during the call.  The hook may call udpassoc_free(). */
typedef bool (*udpassoc_allow_fn)(void *ud, const struct target *dst,
                                  const struct addr *addr);

/* Create the association of a client whose control connection comes
 * from ctrl_peer and was accepted on ctrl_local (both borrowed).
 * req_hint (borrowed, may be NULL) is the DST.ADDR/DST.PORT of the UDP
 * ASSOCIATE request: a non-zero port (and a non-zero IP address) there
 * restricts the client's datagrams to that source; zeros mean "learn it
 * from the first datagram".  announce (may be NULL or len 0) replaces
 * the IP of the address given back in *bnd, for a server behind NAT;
 * *bnd is otherwise the client-side socket's bound address, which the
 * SOCKS5 reply carries as BND.ADDR/BND.PORT.  allow may be NULL (allow
 * all); ud is passed to it.  Gives the association in *out.  Returns 0
 * or -errno (nothing is left open then). */
int udpassoc_new(struct udpassoc **out, struct worker *w,
                 const struct addr *ctrl_peer, const struct addr *ctrl_local,
                 const struct target *req_hint, const struct addr *announce,
                 udpassoc_allow_fn allow, void *ud, struct addr *bnd);

/* End the association (the control connection ended): its sockets are
 * closed and pending lookups cancelled now; the memory is freed at the
 * end of the loop iteration, so this is safe inside any loop callback,
 * including allow.  NULL is a no-op; a second call is a no-op until the
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
