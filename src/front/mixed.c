/* mixed (front end): see mixed.h. */
#include "front/mixed.h"

#include "front/http.h"
#include "front/socks.h"
#include "proto/socks.h"

static enum front_status on_head(struct session *s)
{
    uint8_t first = (uint8_t)s->head[0];
    bool socks = first == SOCKS5_VERSION || first == SOCKS4_VERSION;
    session_set_front(s, socks ? &socks_front : &http_front);
    return s->front->on_head(s);
}

/* Only reached when the head is too large before a byte told the
 * protocol apart, which cannot happen (one byte decides); answer as
 * HTTP for completeness. */
static int reply(struct session *s, enum result r, const struct addr *bnd)
{
    return http_front.reply(s, r, bnd);
}

const struct front_ops mixed_front = {
    .name = "mixed",
    .on_head = on_head,
    .reply = reply,
};
