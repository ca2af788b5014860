/* forward: see forward.h. */
#include "front/forward.h"

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

void forward_request(struct session *s)
{
    s->req.proto = "forward";
    s->req.target = s->req.listener->target;
}
