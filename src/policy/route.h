/* route: from a Request to a connected socket.
 *
 * The one place where policy meets the egresses: it resolves a name when
 * the access rules need its addresses, applies the rules (first match
 * wins; the exit side's own rules, never the client's), picks the egress
 * a rule names (direct, or a parent proxy) and dials.  Front ends call it
 * for CONNECT/SOCKS requests and the HTTP forwarder for each origin. */
#ifndef FERRY_ROUTE_H
#define FERRY_ROUTE_H

#include <stdbool.h>

#include "core/request.h"
#include "core/result.h"

struct worker;
struct route;

/* How the socket reaches the target. */
struct route_info {
    bool http_proxy;        /* a parent HTTP proxy: send absolute-form */
    const char *proxy_auth; /* its "Basic ..." credentials, or NULL */
    const char *egress;     /* egress name for logs ("direct") */
};

/* r == RESULT_OK: fd gives a connected socket (ready for the target's
 * bytes) and info is valid during the call; else fd is -1.  After the
 * callback the route is gone. */
typedef void (*route_fn)(void *ud, enum result r, int fd,
                         const struct route_info *info);

/* Route req towards t (usually &req->target).  Both are copied.  The
 * callback never runs inside this call. */
int route_start(struct worker *w, const struct request *req,
                const struct target *t, route_fn cb, void *ud,
                struct route **out);
/* The callback will not run.  NULL is a no-op. */
void route_cancel(struct route *r);

#endif
