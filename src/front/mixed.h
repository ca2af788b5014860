/* mixed (front end): HTTP and SOCKS on one port.  The first byte decides:
 * 0x04 or 0x05 is SOCKS, anything else HTTP (a request line starts with
 * a method token, never with those bytes). */
#ifndef FERRY_FRONT_MIXED_H
#define FERRY_FRONT_MIXED_H

#include "front/session.h"

extern const struct front_ops mixed_front;

#endif
