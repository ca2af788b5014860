/* route: see route.h. */
#include "policy/route.h"

#include <errno.h>
#include <stdlib.h>

#include "core/worker.h"
#include "egress/direct.h"

struct route {
    route_fn cb;
    void *ud;
    struct direct *dial;
};

static void on_direct(void *ud, enum result r, int fd)
{
    struct route *rt = ud;
    struct route_info info = {.egress = "direct"};
    route_fn cb = rt->cb;
    void *cb_ud = rt->ud;
    free(rt);
    cb(cb_ud, r, fd, &info);
}

int route_start(struct worker *w, const struct request *req,
                const struct target *t, route_fn cb, void *ud,
                struct route **out)
{
    struct route *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    rt->cb = cb;
    rt->ud = ud;
    int rc = direct_start(w, t, on_direct, rt, &rt->dial);
    if (rc < 0) {
        free(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

void route_cancel(struct route *rt)
{
    if (!rt)
        return;
    direct_cancel(rt->dial);
    free(rt);
}
