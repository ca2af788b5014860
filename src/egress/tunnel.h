/* tunnel (egress): a stream through a tunnel link of a group.
 *
 * Picks a live link of the group (tunreg), asks its worker to open a
 * stream (directly, or through that worker's mailbox), and gives the
 * caller its end of the stream as a connected socket: from there on a
 * tunnel stream is an ordinary descriptor for the relay, the HTTP
 * forwarder and the UDP relay.  A stream refused because its link went
 * away is retried once on another link of the group.
 *
 * A TCP stream's opener that only relays it to a socket of its own
 * hands that socket to the link instead (tunnel_handoff): the link's
 * worker then moves the bytes itself, without the socketpair. */
#ifndef FERRY_EGRESS_TUNNEL_H
#define FERRY_EGRESS_TUNNEL_H

#include <stdint.h>

#include "core/result.h"
#include "proto/tunmsg.h"

struct worker;
struct tunnel_open;
struct link_handoff;

/* Which stream of which link: enough to find it from any worker. */
struct tunnel_ref {
    struct worker *owner; /* the link's worker; NULL: no stream */
    uint64_t link_id;
    uint32_t stream_id;
};

/* r == RESULT_OK: fd is the stream (SOCK_STREAM for TCP, SOCK_SEQPACKET
 * with one datagram per message for UDP) and ref names it.  Else fd is
 * -1 and ref NULL. */
typedef void (*tunnel_fn)(void *ud, enum result r, int fd,
                          const struct tunnel_ref *ref);

/* o is copied.  cb runs on w's thread, never inside this call. */
int tunnel_start(struct worker *w, const char *group,
                 const struct tunmsg_open *o, tunnel_fn cb, void *ud,
                 struct tunnel_open **out);
/* cb will not run (the stream, if it opens, is closed).  NULL: no-op. */
void tunnel_cancel(struct tunnel_open *t);

/* Give the TCP stream ref, whose end the caller got as fd, to its link
 * together with sock, the connected socket its bytes are for (both are
 * taken; see link_adopt).  From any worker; h->end runs on the link's
 * worker when the stream ends (why "link_down" when it had ended
 * already), or within this call when that worker has ended. */
void tunnel_handoff(const struct tunnel_ref *ref, int sock, int fd,
                    struct link_handoff *h);

#endif
