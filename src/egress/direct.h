/* direct: the egress that connects to the target itself.
 *
 * Resolves a name with the worker's resolver (cache first), then tries
 * the addresses in turn, happy-eyeballs style: the next address is tried
 * when the current attempt fails or has not answered within
 * DIRECT_STAGGER_MS, with at most DIRECT_MAX_ATTEMPTS in flight; the
 * first socket to connect wins.  The whole dial is bounded by the
 * connect timeout (after resolution) and the DNS timeout. */
#ifndef FERRY_DIRECT_H
#define FERRY_DIRECT_H

#include "core/addr.h"
#include "core/result.h"

#define DIRECT_STAGGER_MS 250
#define DIRECT_MAX_ATTEMPTS 3

struct worker;
struct direct;

/* r == RESULT_OK: fd gives a connected non-blocking socket.  Otherwise fd
 * is -1.  After the callback the dial is gone. */
typedef void (*direct_fn)(void *ud, enum result r, int fd);

struct dns_result;

/* Start dialling t (copied).  addrs, when not NULL, are t's addresses
 * already resolved (and filtered by policy): they are used instead of a
 * lookup.  *out gives a handle valid until cb runs or direct_cancel().
 * cb never runs inside this call. */
int direct_start(struct worker *w, const struct target *t,
                 const struct dns_result *addrs, direct_fn cb, void *ud,
                 struct direct **out);
/* Abandon the dial: cb will not run.  NULL is a no-op. */
void direct_cancel(struct direct *d);

#endif
