/* socks (front end): SOCKS 5 (RFC 1928 CONNECT, RFC 1929 user/password)
 * and SOCKS 4/4a CONNECT on one listener, told apart by the version
 * byte.  A listener with users accepts only authenticated SOCKS 5. */
#ifndef FERRY_FRONT_SOCKS_H
#define FERRY_FRONT_SOCKS_H

#include "front/session.h"

extern const struct front_ops socks_front;

#endif
