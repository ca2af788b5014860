/* request: what a client asked for, in the same shape from every front
 * end (HTTP CONNECT, SOCKS 4/4a/5, and later tproxy, forward, tunnel
 * streams).  Policy and egresses read only this. Open value type. */
#ifndef FERRY_REQUEST_H
#define FERRY_REQUEST_H

#include "conf/conf.h"
#include "core/addr.h"

struct request {
    const char *proto; /* "http", "socks4", "socks5": static string */
    struct target target;
    const char *user; /* authenticated user: the name as the listener's
                         snapshot holds it (borrowed), or NULL */
    struct addr client;
    const struct conf_listener *listener; /* borrowed from the snapshot */
};

#endif
