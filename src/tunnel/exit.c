/* exit: see exit.h. */
#include "tunnel/exit.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/request.h"
#include "core/sock.h"
#include "core/worker.h"
#include "policy/route.h"
#include "tunnel/link.h"

struct exit_dial {
    struct worker *w;
    struct link_stream *s;
    struct route *rt;
    struct request req;
    char who[TUNMSG_FIELD_MAX + 1];
    char tag_user[TUNMSG_FIELD_MAX + 1];
    uint64_t started;
};

static void log_line(const struct exit_dial *x, enum result r,
                     const char *egress)
{
    char a[ADDR_STRLEN], t[ADDR_STRLEN + TARGET_HOST_MAX];
    log_access("client=%s listener=tunnel:%s proto=%s user=%s target=%s "
               "result=%s egress=%s ms=%llu",
               addr_format(&x->req.client, a, sizeof(a)), x->who,
               x->req.proto, x->tag_user[0] ? x->tag_user : "-",
               target_format(&x->req.target, t, sizeof(t)), result_word(r),
               egress,
               (unsigned long long)(loop_now(x->w->loop) - x->started));
}

static void on_routed(void *ud, enum result r, int fd,
                      const struct route_info *info)
{
    struct exit_dial *x = ud;
    log_line(x, r, info && info->egress ? info->egress : "-");
    if (fd >= 0)
        sock_tune(fd); /* no Nagle delay on small writes (best effort) */
    link_stream_accept(x->s, r, fd);
    free(x);
}

static void on_abandon(void *ctx)
{
    struct exit_dial *x = ctx;
    route_cancel(x->rt);
    free(x);
}

static void copy_tag(char *dst, size_t cap, const struct tunmsg_open *o,
                     const char *key)
{
    const char *v = tunmsg_tag(o, key);
    snprintf(dst, cap, "%s", v ? v : "");
}

void exit_open(struct worker *w, struct link_stream *s,
               const struct tunmsg_open *o, const char *who)
{
    struct exit_dial *x = calloc(1, sizeof(*x));
    if (!x) {
        link_stream_accept(s, RESULT_INTERNAL, -1);
        return;
    }
    x->w = w;
    x->s = s;
    x->started = loop_now(w->loop);
    snprintf(x->who, sizeof(x->who), "%s", who);
    copy_tag(x->tag_user, sizeof(x->tag_user), o, "user");
    x->req.proto = o->kind == TUNMSG_UDP ? "tunnel-udp" : "tunnel-tcp";
    x->req.target = o->target;
    x->req.client = *link_peer(link_stream_link(s));
    enum route_kind kind = o->kind == TUNMSG_UDP ? ROUTE_DGRAM
                                                 : ROUTE_STREAM;
    if (route_start(w, &x->req, &o->target, kind, on_routed, x, &x->rt) <
        0) {
        free(x);
        link_stream_accept(s, RESULT_INTERNAL, -1);
        return;
    }
    link_stream_on_abandon(s, on_abandon, x);
}
