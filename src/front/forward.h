/* forward (front end): port forwarding.  A forward listener's connections
 * speak no proxy protocol: each is a request for the listener's one
 * target (conf_listener.target), made at accept, and its bytes are
 * relayed from the first one on (a server that speaks first, such as SSH
 * or SMTP, works).  Routing is as for every request: the access rules
 * and the listener's via: choose direct, a parent or a tunnel. */
#ifndef FERRY_FRONT_FORWARD_H
#define FERRY_FRONT_FORWARD_H

#include "front/session.h"

extern const struct front_ops forward_front;

/* Fill s->req from its listener; the session dispatches it at once. */
void forward_request(struct session *s);

#endif
