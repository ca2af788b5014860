/* http (front end): HTTP proxy requests.  This version serves CONNECT
 * (authority-form target, Basic proxy authentication); other methods are
 * answered 405 until absolute-URI forwarding arrives. */
#ifndef FERRY_FRONT_HTTP_H
#define FERRY_FRONT_HTTP_H

#include "front/session.h"

extern const struct front_ops http_front;

#endif
