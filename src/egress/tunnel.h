/* tunnel (egress): a stream through a tunnel link of a group.
 *
 * Picks a live link of the group (tunreg), asks its worker to open a
 * stream (directly, or through that worker's mailbox), and gives the
 * caller its end of the stream as a connected socket: from there on a
 * tunnel stream is an ordinary descriptor for the relay, the HTTP
 * forwarder and the UDP relay.  A stream refused because its link went
 * away is retried once on another link of the group. */
#ifndef FERRY_EGRESS_TUNNEL_H
#define FERRY_EGRESS_TUNNEL_H

#include "core/result.h"
#include "proto/tunmsg.h"

struct worker;
struct tunnel_open;

/* r == RESULT_OK: fd is the stream (SOCK_STREAM for TCP, SOCK_SEQPACKET
 * with one datagram per message for UDP).  Else fd is -1. */
typedef void (*tunnel_fn)(void *ud, enum result r, int fd);

/* o is copied.  cb runs on w's thread, never inside this call. */
int tunnel_start(struct worker *w, const char *group,
                 const struct tunmsg_open *o, tunnel_fn cb, void *ud,
                 struct tunnel_open **out);
/* cb will not run (the stream, if it opens, is closed).  NULL: no-op. */
void tunnel_cancel(struct tunnel_open *t);

#endif
