/* dns: a worker's asynchronous resolver (c-ares) with a small cache.
 *
 * One c-ares channel per worker, driven by the worker's loop.  Answers
 * are cached for their TTL (capped), in a direct-mapped table of
 * conf.dns.cache_size slots.  Addresses come back ordered for "happy
 * eyeballs": IPv6 and IPv4 interleaved, starting with the family of the
 * first answer. */
#ifndef FERRY_DNS_H
#define FERRY_DNS_H

#include <stdint.h>

#include "conf/conf.h"
#include "core/addr.h"
#include "core/loop.h"

#define DNS_MAX_ADDRS 8

struct dns;
struct dns_query;

struct dns_result {
    unsigned n;
    struct addr addrs[DNS_MAX_ADDRS]; /* port 0 */
};

/* status: 0, -ENOENT (no such name / no address), -ETIMEDOUT, -EIO.
 * res is valid only during the call. */
typedef void (*dns_fn)(void *ud, int status, const struct dns_result *res);

/* cfg and l are borrowed and must outlive the resolver.  mark: SO_MARK
 * of its sockets (0: none). */
int dns_new(struct dns **out, struct loop *l, const struct conf_dns *cfg,
            uint32_t timeout_ms, uint32_t mark);
/* Cancels every pending query (their callbacks are not called). */
void dns_free(struct dns *d);

/* A cached answer for name: 0 and *out filled, or -ENOENT if none. */
int dns_cached(struct dns *d, const char *name, struct dns_result *out);
/* Start a lookup; cb is called later from the loop, never from inside
 * this call.  *q gives a handle valid until cb runs or dns_cancel(). */
int dns_resolve(struct dns *d, const char *name, dns_fn cb, void *ud,
                struct dns_query **q);
/* The callback will not be called. */
void dns_cancel(struct dns_query *q);

#endif
