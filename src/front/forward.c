/* forward: see forward.h. */
#include "front/forward.h"

#include "core/worker.h"
#include "front/intercept.h"

/* Never called: the request is complete before any byte is read. */
static enum front_status on_head(struct session *s)
{
    (void)s;
    return FRONT_CLOSE;
}

/* There is no protocol to answer in: a failure closes the connection
 * (the client sees its end of stream), success says nothing. */
static int reply(struct session *s, enum result r, const struct addr *bnd)
{
    (void)s;
    (void)r;
    (void)bnd;
    return 0;
}

const struct front_ops forward_front = {
    .name = "forward",
    .on_head = on_head,
    .reply = reply,
};

enum result forward_request(struct session *s)
{
    const struct conf_listener *lc = s->req.listener;
    s->req.proto = conf_listener_type_name(lc->type);
    if (lc->type == CONF_LISTENER_FORWARD) {
        s->req.target = lc->target;
        return RESULT_OK;
    }
    struct addr dst;
    addr_unmap_v4(&s->req.client); /* a dual-stack socket's IPv4 peer */
    enum result r = intercept_tcp(s->w->conf, lc, s->client.fd, &dst);
    if (r == RESULT_OK)
        target_set_addr(&s->req.target, &dst);
    return r;
}
