/* http (front end): HTTP proxy requests.  CONNECT (authority-form
 * target, Basic proxy authentication) becomes a Request for the relay;
 * any other method hands the connection to httpfwd (absolute-URI
 * forwarding). */
#ifndef FERRY_FRONT_HTTP_H
#define FERRY_FRONT_HTTP_H

#include "front/session.h"

extern const struct front_ops http_front;

#endif
