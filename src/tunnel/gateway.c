/* gateway: see gateway.h. */
#include "tunnel/gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"
#include "policy/auth.h"
#include "proto/http1.h"
#include "proto/http1fwd.h"
#include "proto/tunmsg.h"
#include "proto/ws.h"
#include "tunnel/exit.h"
#include "tunnel/hshake.h"
#include "tunnel/link.h"
#include "tunnel/tport.h"
#include "tunnel/tunnels.h"
#include "tunnel/tuntls.h"

#define ACCEPT_BATCH 64

struct gateway_port {
    struct worker *w;
    int fd;
    struct loop_io io;
    struct loop_timer retry; /* watch again after EMFILE/ENFILE */
    bool closed;
    struct loop_defer free_later;
    struct gw_conn *shaking; /* connections still in their handshake */
};

#define ACCEPT_PAUSE_MS 100

enum conn_phase { G_SNIFF, G_WS_SENT, G_HELLO, G_DONE };

/* One agent connection: its handshake, then its link. */
struct gw_conn {
    struct worker *w;
    enum conn_phase phase;
    struct addr peer;
    struct hshake *hs;
    bool refused;
    struct tunmsg_hello hello;
    char who[2 * TUNMSG_FIELD_MAX + ADDR_STRLEN + 64];
    struct gw_conn *next, **pprev; /* in shaking, during the handshake */
};

static void unlist(struct gw_conn *c)
{
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
}

/* ---- the link ---- */

static void on_open(void *ud, struct link_stream *s,
                    const struct tunmsg_open *o)
{
    struct gw_conn *c = ud;
    exit_open(c->w, s, o, c->hello.id);
}

static void on_goaway(void *ud, struct link *l)
{
    struct gw_conn *c = ud;
    if (link_entry(l))
        tunreg_retire(c->w->tunnels->reg, link_entry(l));
}

static void on_down(void *ud, struct link *l, const char *why)
{
    struct gw_conn *c = ud;
    if (link_entry(l))
        tunreg_remove(c->w->tunnels->reg, link_entry(l));
    log_info("gateway: %s down (%s)", c->who, why);
    free(c);
}

static const struct link_ops gw_ops = {on_open, on_goaway, on_down};

static void close_mail(struct worker *w, void *arg, bool live)
{
    uint64_t *id = arg;
    struct link *l = live ? link_find(w, *id) : NULL;
    if (l)
        link_close(l, "replaced");
    free(id);
}

/* A link of the same agent and index is replaced by the new one. */
static void close_replaced(struct worker *w, const struct tunreg_where *old)
{
    if (old->link_id == 0)
        return;
    uint64_t *id = malloc(sizeof(*id));
    if (!id)
        return;
    *id = old->link_id;
    if (old->owner == w || worker_post(old->owner, close_mail, id) < 0)
        close_mail(w, id, old->owner == w);
}

static void link_up(struct gw_conn *c, struct tport *t)
{
    const struct conf_gateway *g = &c->w->conf->gateway;
    struct link_conf lc = {
        .client = false,
        .accept_streams = g->exit,
        .ping_ms = g->link.ping_ms,
        .timeout_ms = g->link.timeout_ms,
        .open_timeout_ms = c->w->conf->timeouts.connect_ms + 5000,
        .max_streams = g->link.max_streams,
        .budget = g->link.budget,
    };
    struct link *l;
    if (link_new(&l, c->w, t, &c->peer, &lc, &gw_ops, c) < 0) {
        free(c);
        return;
    }
    struct tunreg_where where = {link_id(l), c->w}, old;
    struct tunreg_entry *e;
    if (tunreg_add(c->w->tunnels->reg, c->hello.group, c->hello.id,
                   c->hello.link, &where, &e, &old) == 0)
        link_set_entry(l, e);
    close_replaced(c->w, &old);
    log_info("gateway: %s up", c->who);
}

/* ---- handshake ---- */

static bool group_allowed(const struct conf_token *t, const char *group)
{
    if (t->n_groups == 0)
        return true;
    for (unsigned i = 0; i < t->n_groups; i++)
        if (strcmp(t->groups[i], group) == 0)
            return true;
    return false;
}

static uint8_t check_hello(const struct conf_gateway *g,
                           const struct tunmsg_hello *h)
{
    uint8_t status = TUNMSG_WELCOME_AUTH;
    for (unsigned i = 0; i < g->n_tokens; i++) {
        const struct conf_token *t = &g->tokens[i];
        if (!auth_secret_ok(t->token, t->token_hash, h->token))
            continue;
        if (group_allowed(&g->tokens[i], h->group))
            return TUNMSG_WELCOME_OK;
        status = TUNMSG_WELCOME_GROUP;
    }
    return status;
}

static int answer_hello(struct gw_conn *c, struct hshake *h)
{
    int n = tunmsg_parse_hello(h->in, h->in_len, &c->hello);
    if (n == -EAGAIN && h->in_len < HSHAKE_IN_MAX)
        return 0;
    struct tunmsg_welcome wl = {.status = TUNMSG_WELCOME_BAD};
    if (n == -EPROTO)
        wl.status = TUNMSG_WELCOME_VERSION;
    else if (n > 0)
        wl.status = check_hello(&c->w->conf->gateway, &c->hello);
    explicit_bzero(c->hello.token, sizeof(c->hello.token));
    char a[ADDR_STRLEN];
    snprintf(c->who, sizeof(c->who), "agent %s (group %s) link %u from %s",
             n > 0 ? c->hello.id : "?", n > 0 ? c->hello.group : "?",
             c->hello.link, addr_format(&c->peer, a, sizeof(a)));
    if (wl.status != TUNMSG_WELCOME_OK) {
        log_warn("gateway: %s refused: status %u", c->who, wl.status);
        c->refused = true;
    }
    uint8_t buf[300];
    int len = tunmsg_encode_welcome(buf, sizeof(buf), &wl);
    c->phase = G_DONE;
    return len < 0 ? len : hshake_send(h, buf, (size_t)len) < 0 ? -ENOSPC
                                                                 : 1;
}

/* The upgrade request: answer 101 (or 404/400 and close). */
static int answer_upgrade(struct gw_conn *c, struct hshake *h)
{
    struct http1_request_head rh;
    int n = http1_parse_request_head((const char *)h->in, h->in_len, &rh);
    if (n == -EAGAIN)
        return 0;
    const char *path = c->w->conf->gateway.ws_path;
    const struct http1_header *key =
        n > 0 ? http1_find_header(&rh, "Sec-WebSocket-Key") : NULL;
    char accept[WS_ACCEPT_LEN + 1];
    if (n < 0 || rh.target.len != strlen(path) ||
        memcmp(rh.target.p, path, rh.target.len) != 0 || !key ||
        !http1fwd_field_has(rh.headers, rh.nheaders, "Upgrade",
                            "websocket") ||
        ws_accept_key(key->value.p, key->value.len, accept) < 0) {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\n"
                                 "Content-Length: 0\r\n"
                                 "Connection: close\r\n\r\n";
        c->refused = true;
        c->phase = G_DONE;
        log_info("gateway: not a tunnel request from a client: 404");
        return hshake_send(h, nf, sizeof(nf) - 1) < 0 ? -ENOSPC : 1;
    }
    hshake_consume(h, (size_t)n);
    char resp[256];
    int len = snprintf(resp, sizeof(resp),
                       "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n\r\n",
                       accept);
    c->phase = G_WS_SENT;
    return hshake_send(h, resp, (size_t)len) < 0 ? -ENOSPC : 0;
}

static int step(struct hshake *h)
{
    struct gw_conn *c = h->ud;
    switch (c->phase) {
    case G_SNIFF:
        if (h->in_len < 4)
            return 0;
        if (memcmp(h->in, "GET ", 4) == 0)
            return answer_upgrade(c, h);
        c->phase = G_HELLO;
        return answer_hello(c, h);
    case G_WS_SENT:
        if (h->out_len > 0)
            return 0; /* the 101 must leave unframed */
        tport_ws_start(h->t, false);
        c->phase = G_HELLO;
        return answer_hello(c, h);
    case G_HELLO:
        return answer_hello(c, h);
    default:
        return 1;
    }
}

static void on_hs_end(void *ud, struct hshake *h, int rc, const char *why)
{
    struct gw_conn *c = ud;
    unlist(c);
    if (rc < 0 || c->refused) {
        char a[ADDR_STRLEN];
        if (rc < 0)
            log_info("gateway: connection from %s: %s",
                     addr_format(&c->peer, a, sizeof(a)), why);
        free(c);
        return;
    }
    link_up(c, hshake_take(h));
}

/* ---- accepting ---- */

static void serve(struct worker *w, int fd, const struct addr *peer)
{
    SSL *ssl = NULL;
    SSL_CTX *ctx = w->tunnels->gateway_ctx;
    struct gw_conn *c = calloc(1, sizeof(*c));
    if (!c || (ctx && !(ssl = tuntls_gateway_ssl(ctx)))) {
        free(c);
        close(fd);
        return;
    }
    c->w = w;
    c->peer = *peer;
    struct tport *t;
    if (tport_new(&t, fd, ssl) < 0 ||
        hshake_start(&c->hs, w, t, w->conf->timeouts.handshake_ms, step,
                     on_hs_end, c) < 0) {
        free(c);
        return;
    }
    struct gateway_port *p = w->gateway;
    c->next = p->shaking;
    c->pprev = &p->shaking;
    if (p->shaking)
        p->shaking->pprev = &c->next;
    p->shaking = c;
}

static void on_accept(struct loop_io *io, uint32_t events)
{
    struct gateway_port *p = io->ud;
    for (int i = 0; i < ACCEPT_BATCH && !p->closed; i++) {
        struct addr peer;
        int fd = sock_accept(p->fd, &peer);
        if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED)
            return;
        if (fd < 0) {
            /* Out of descriptors: stop watching for a moment, or the
             * level-triggered socket would wake us without pause. */
            log_warn("gateway: accept: %s", strerror(-fd));
            if (loop_mod(p->w->loop, &p->io, 0) < 0 ||
                loop_timer_arm(p->w->loop, &p->retry, ACCEPT_PAUSE_MS) < 0)
                log_error("gateway: cannot pause accepting");
            return;
        }
        sock_tune(fd);
        serve(p->w, fd, &peer);
    }
}

static void on_retry(struct loop_timer *t)
{
    struct gateway_port *p = t->ud;
    if (!p->closed && loop_mod(p->w->loop, &p->io, EPOLLIN) < 0)
        log_error("gateway: cannot watch the listening socket");
}

int gateway_listen(struct worker *w, char *err, size_t errlen)
{
    const struct conf_gateway *g = &w->conf->gateway;
    if (!g->enabled)
        return 0;
    struct gateway_port *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->w = w;
    loop_timer_init(&p->retry, on_retry, p);
    p->fd = sock_listen(&g->listen, 1024, 0);
    if (p->fd < 0) {
        char a[ADDR_STRLEN];
        snprintf(err, errlen, "gateway: cannot listen on %s: %s",
                 addr_format(&g->listen, a, sizeof(a)), strerror(-p->fd));
        int rc = p->fd;
        free(p);
        return rc;
    }
    w->gateway = p;
    return 0;
}

void gateway_start(struct worker *w)
{
    struct gateway_port *p = w->gateway;
    /* Level-triggered: a batch per wake-up, the rest on the next. */
    if (p && loop_add(w->loop, &p->io, p->fd, EPOLLIN, on_accept, p) < 0)
        log_error("gateway: cannot watch the listening socket");
}

/* Accept no more agents; handshakes under way end too (the agents redial,
 * elsewhere or later): a link that came up now would get no GoAway and
 * keep the worker until the grace period ends, and a handshake left at
 * the worker's end would never be freed. */
void gateway_drain(struct worker *w)
{
    struct gateway_port *p = w->gateway;
    if (p && !p->closed) {
        p->closed = true;
        loop_timer_disarm(w->loop, &p->retry);
        loop_del(w->loop, &p->io);
        p->io.fd = -1; /* an event of this batch may still name p */
        close(p->fd);
    }
    while (p && p->shaking) {
        struct gw_conn *c = p->shaking;
        unlist(c);
        hshake_cancel(c->hs);
        free(c);
    }
}

static void free_port(struct loop_defer *d) { free(d->ud); }

void gateway_stop(struct worker *w)
{
    gateway_drain(w);
    if (w->gateway)
        loop_defer(w->loop, &w->gateway->free_later, free_port,
                   w->gateway);
    w->gateway = NULL;
}
