/* httpfwd: forwarding absolute-URI HTTP/1.x requests (the classic forward
 * proxy), one client connection at a time.
 *
 * Takes over a session whose first request head is an absolute-form
 * request.  For each request: check it (http1fwd), route it to its origin
 * (an idle pooled connection to the same origin, or policy/route), send
 * the rewritten head, stream the body through, read the response head,
 * rewrite it and stream the body back.  Bodies are never buffered whole:
 * at most one pool buffer per direction.  Requests are answered in order,
 * one at a time (pipelined requests wait in the client's buffer).  A 101
 * answer to an Upgrade request turns the connection into a plain relay.
 * The upstream connection goes back to the worker's pool only after a
 * cleanly framed exchange. */
#ifndef FERRY_HTTPFWD_H
#define FERRY_HTTPFWD_H

#include <stdint.h>

struct session;
struct httpfwd;

/* Start forwarding on s; s->head holds at least one complete request
 * head.  Takes the head buffer.  Returns 0 or -errno (then nothing was
 * taken). */
int httpfwd_start(struct session *s, struct httpfwd **out);
/* Client socket events (the session forwards them). */
void httpfwd_on_client(struct httpfwd *f, uint32_t events);
/* Free everything (the session is ending).  NULL is a no-op. */
void httpfwd_free(struct httpfwd *f);

#endif
