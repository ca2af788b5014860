/* upstream: the egress that reaches a target through a parent proxy.
 *
 * The parent is dialled with the direct egress (resolution, happy
 * eyeballs, timeouts.connect); then its handshake runs on the worker's
 * loop, bounded by timeouts.handshake:
 *   HTTP parent    CONNECT host:port HTTP/1.1, Host, and
 *                  Proxy-Authorization: Basic when a user is set; a 2xx
 *                  response head opens the tunnel (1xx heads are skipped)
 *   SOCKS5 parent  greeting offering no-auth (and user/password when a
 *                  user is set), RFC 1929 when the parent picks it, then
 *                  CONNECT with the target as given: a name goes as a
 *                  domain (ATYP 3) and the parent resolves it (socks5h)
 * The parent's answer becomes an enum result (tables in upstream.c).
 *
 * On success the socket is handed over positioned right behind the
 * parent's answer, so the caller uses it like a direct connection: every
 * answer is first looked at with MSG_PEEK and only its own bytes are
 * consumed, so bytes the target sent right behind it (a server's banner,
 * in the same segment as "200 Connection established") stay in the
 * socket for the relay.  Nothing is buffered and nothing is handed back.
 *
 * The user and password are never logged. */
#ifndef FERRY_UPSTREAM_H
#define FERRY_UPSTREAM_H

#include "conf/conf.h"
#include "core/addr.h"
#include "core/result.h"

struct worker;
struct upstream;

enum upstream_type { UPSTREAM_HTTP, UPSTREAM_SOCKS5 };

/* A parent proxy.  upstream_start() copies the struct; the user and
 * password strings are borrowed and must outlive the dial (a
 * configuration snapshot's do). */
struct upstream_spec {
    enum upstream_type type;
    struct target proxy;    /* the parent's host:port (name or IP) */
    const char *user, *pass; /* user NULL = no auth (pass then unused);
                                each at most 255 bytes */
    struct addr *relay; /* SOCKS5 only: non-NULL asks UDP ASSOCIATE
                           instead of CONNECT, and gets the relay's
                           address (BND, or the parent's IP when BND is
                           0.0.0.0/::); borrowed, must outlive the dial */
};

/* The spec of a parent egress (type http or socks5); its strings are
 * borrowed from e. */
struct upstream_spec upstream_spec_of(const struct conf_egress *e);

/* r == RESULT_OK: fd gives a connected non-blocking socket, not
 * registered with the loop, with the parent's handshake done.  Otherwise
 * fd is -1.  After the callback the upstream is gone. */
typedef void (*upstream_fn)(void *ud, enum result r, int fd);

/* Start reaching t (copied) through the parent in spec (copied).  *out
 * gives a handle valid until cb runs or upstream_cancel().  cb never runs
 * inside this call.  Returns 0, -EINVAL (unknown type, no target, or
 * credentials that cannot be sent: longer than 255 bytes, a control
 * character, ':' in an HTTP user) or -ENOMEM. */
int upstream_start(struct worker *w, const struct upstream_spec *spec,
                   const struct target *t, upstream_fn cb, void *ud,
                   struct upstream **out);
/* Abandon the dial: cb will not run, the socket is closed.  NULL is a
 * no-op. */
void upstream_cancel(struct upstream *u);

const char *upstream_type_name(enum upstream_type type);

#endif
