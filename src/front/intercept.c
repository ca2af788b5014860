/* intercept: see intercept.h. */
#include "front/intercept.h"

#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "tproxy/origdst.h"

#define MAX_LOCAL 256 /* host addresses compared; more are ignored */

/* This host's addresses (getifaddrs): their number, or -errno. */
static int local_addrs(struct sockaddr_storage *out, size_t cap)
{
    struct ifaddrs *ifa, *i;
    if (getifaddrs(&ifa) < 0)
        return -errno;
    size_t n = 0;
    for (i = ifa; i && n < cap; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
                             i->ifa_addr->sa_family != AF_INET6))
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(&out[n], i->ifa_addr,
               i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                 : sizeof(struct sockaddr_in6));
        n++;
    }
    freeifaddrs(ifa);
    return (int)n;
}

bool intercept_is_self(const struct conf *c, const struct addr *dst)
{
    struct sockaddr_storage ls[64], d = addr_to_storage(dst);
    size_t n = 0;
    for (unsigned i = 0; i < c->n_listeners && n < 64; i++)
        if (addr_port(&c->listeners[i].addr) == addr_port(dst))
            ls[n++] = addr_to_storage(&c->listeners[i].addr);
    if (n == 0)
        return false; /* the common case: no netlink dump */
    struct sockaddr_storage *local = calloc(MAX_LOCAL, sizeof(*local));
    int nl = local ? local_addrs(local, MAX_LOCAL) : -ENOMEM;
    if (nl < 0) /* cannot tell: refuse rather than risk a loop */
        log_warn("intercept: host addresses: %s", strerror(-nl));
    bool self = nl < 0 || origdst_is_self(&d, ls, n, local, (size_t)nl);
    free(local);
    return self;
}

enum result intercept_tcp(const struct conf *c, const struct conf_listener *lc,
                          int fd, struct addr *dst)
{
    struct sockaddr_storage ss;
    int rc = lc->type == CONF_LISTENER_TPROXY ? origdst_tproxy_tcp(fd, &ss)
                                              : origdst_redirect(fd, &ss);
    if (rc == 0)
        rc = addr_from_sockaddr(dst, (struct sockaddr *)&ss, sizeof(ss));
    if (rc < 0) {
        log_info("%s: no original destination (%s): not intercepted?", lc->name,
                 strerror(-rc));
        return RESULT_BAD_REQUEST;
    }
    if (intercept_is_self(c, dst)) {
        char a[ADDR_STRLEN];
        log_info("%s: refused a connection to ferry itself (%s): it did "
                 "not come through the interception rules",
                 lc->name, addr_format(dst, a, sizeof(a)));
        return RESULT_DENIED;
    }
    return RESULT_OK;
}
