/* forward (front end): the listeners whose connections speak no proxy
 * protocol, so that the request is known at accept and bytes are relayed
 * from the first one on (a server that speaks first, such as SSH or
 * SMTP, works):
 *   forward   port forwarding: the listener's one target;
 *   tproxy    TPROXY interception: the connection's original
 *             destination, its local address;
 *   redirect  REDIRECT/DNAT interception: the original destination
 *             conntrack recorded.
 * Routing is as for every request: the access rules and the listener's
 * via: choose direct, a parent or a tunnel. */
#ifndef FERRY_FRONT_FORWARD_H
#define FERRY_FRONT_FORWARD_H

#include "front/session.h"

extern const struct front_ops forward_front;

/* Fill s->req from its listener and socket: RESULT_OK, or why the
 * connection is refused (see intercept_tcp()). */
enum result forward_request(struct session *s);

#endif
