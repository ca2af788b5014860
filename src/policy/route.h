/* route: from a Request to a connected socket.
 *
 * The one place where policy meets the egresses: it resolves a name when
 * the access rules need its addresses, applies the rules (first match
 * wins; the exit side's own rules, never the client's), picks the egress
 * a rule names (direct, or a parent proxy) and dials.  Front ends call it
 * for CONNECT/SOCKS requests and the HTTP forwarder for each request; for
 * the latter an idle pooled connection of the chosen egress is reused
 * (after the rules allowed the request, never instead of them). */
#ifndef FERRY_ROUTE_H
#define FERRY_ROUTE_H

#include <stdbool.h>

#include "core/request.h"
#include "core/result.h"
#include "egress/connpool.h"
#include "egress/tunnel.h"

struct worker;
struct route;

enum route_kind {
    ROUTE_STREAM,     /* a byte stream to the target (CONNECT, SOCKS) */
    ROUTE_HTTP,       /* HTTP requests for the target: a parent HTTP proxy
                         is reached plainly and spoken to in absolute-form;
                         pooled connections are reused */
    ROUTE_HTTP_FRESH, /* the same, never from the pool (a stale retry) */
    ROUTE_DGRAM,      /* datagrams: a connected UDP socket (direct, or to
                         a SOCKS5 parent's UDP relay), or a tunnel's UDP
                         stream; an HTTP parent cannot */
};

/* How the socket reaches the target. */
struct route_info {
    bool http_proxy;        /* a parent HTTP proxy: send absolute-form */
    bool reused;            /* taken from the connection pool */
    struct upconn *pooled;  /* then: the connection, registered already
                               (fd is its socket); else NULL */
    const char *proxy_auth; /* its "Basic ..." credentials, or NULL */
    const char *egress;     /* egress name for logs ("direct") */
    int dgram_control;      /* ROUTE_DGRAM through a SOCKS5 parent: the
                               association's TCP connection, which the
                               callee takes and keeps open as long as it
                               sends (its end ends the relay); else -1.
                               Datagrams then carry SOCKS5 UDP headers */
    char key[CONNPOOL_KEY_MAX]; /* pool key for this way to the target */
    struct tunnel_ref tun; /* a tunnel's TCP stream: which, for
                              tunnel_handoff(); else tun.owner is NULL */
};

/* r == RESULT_OK: fd gives a connected socket (ready for the target's
 * bytes, or for requests when info->http_proxy) and info is valid during
 * the call; else fd is -1.  After the callback the route is gone. */
typedef void (*route_fn)(void *ud, enum result r, int fd,
                         const struct route_info *info);

/* Route req towards t (usually &req->target).  Both are copied.  The
 * callback never runs inside this call. */
int route_start(struct worker *w, const struct request *req,
                const struct target *t, enum route_kind kind, route_fn cb,
                void *ud, struct route **out);
/* The callback will not run.  NULL is a no-op. */
void route_cancel(struct route *r);

#endif
