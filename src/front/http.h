/* http (front end): HTTP proxy requests.  CONNECT (authority-form
 * target, Basic proxy authentication) becomes a Request for the relay;
 * any other method hands the connection to httpfwd (absolute-URI
 * forwarding). */
#ifndef FERRY_FRONT_HTTP_H
#define FERRY_FRONT_HTTP_H

#include "front/session.h"

extern const struct front_ops http_front;

struct http1_request_head;
/* Check the head's Proxy-Authorization against the listener's users
 * (true when the listener has none); on success the user name is in
 * s->req.user.  Used for CONNECT and for every forwarded request. */
bool http_authorized(struct session *s, const struct http1_request_head *h);

#endif
