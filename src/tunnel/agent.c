/* agent: see agent.h. */
#include "tunnel/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"
#include "egress/direct.h"
#include "egress/upstream.h"
#include "proto/http1.h"
#include "proto/tunmsg.h"
#include "proto/ws.h"
#include "tunnel/exit.h"
#include "tunnel/hshake.h"
#include "tunnel/link.h"
#include "tunnel/tport.h"
#include "tunnel/tunnels.h"
#include "tunnel/tuntls.h"

#define MAX_SLOTS 16

enum slot_phase { P_IDLE, P_DIAL, P_WS, P_HELLO, P_LINK };

struct slot {
    struct worker *w;
    const struct conf_agent *a;
    unsigned idx;
    enum slot_phase phase;
    struct direct *dial;
    struct upstream *up;
    struct upstream_spec spec;
    struct hshake *hs;
    char ws_key[WS_KEY_LEN + 1];
    struct link *link;
    struct tunreg_entry *entry;
    unsigned failures;
    bool stopping;
    struct loop_timer retry;
    struct addr peer;
};

/* Slots of every worker live in one array per worker, found by id. */
struct agent_slots {
    unsigned n;
    struct slot slots[MAX_SLOTS];
};

static void connect_now(struct slot *s);

static uint32_t backoff_ms(const struct slot *s)
{
    uint32_t lo = s->a->backoff_min_ms, hi = s->a->backoff_max_ms;
    if (s->failures <= 2)
        return lo;
    uint64_t cap = (uint64_t)lo << (s->failures - 2 > 20 ? 20
                                                         : s->failures - 2);
    if (cap > hi)
        cap = hi;
    return lo + arc4random_uniform((uint32_t)(cap - lo + 1));
}

static void on_retry(struct loop_timer *t) { connect_now(t->ud); }

static void retry_later(struct slot *s, const char *why)
{
    s->phase = P_IDLE;
    if (s->stopping)
        return;
    s->failures++;
    uint32_t ms = backoff_ms(s);
    log_warn("agent: link %u to %s:%u: %s; retrying in %u ms", s->idx,
             s->a->server.host, s->a->server.port, why, ms);
    if (loop_timer_arm(s->w->loop, &s->retry, ms) < 0)
        log_error("agent: link %u: cannot arm the retry timer", s->idx);
}

/* ---- the link ---- */

static void on_open(void *ud, struct link_stream *st,
                    const struct tunmsg_open *o)
{
    struct slot *s = ud;
    exit_open(s->w, st, o, "gateway");
}

static void forget(struct slot *s, struct link *l)
{
    struct tunreg_entry *e = link_entry(l);
    if (e) {
        tunreg_remove(s->w->tunnels->reg, e);
        link_set_entry(l, NULL);
    }
}

static void on_goaway(void *ud, struct link *l)
{
    struct slot *s = ud;
    if (link_entry(l))
        tunreg_retire(s->w->tunnels->reg, link_entry(l));
    if (s->link == l) { /* the old link drains; a new one starts now */
        s->link = NULL;
        s->failures = 0;
        connect_now(s);
    }
}

static void on_down(void *ud, struct link *l, const char *why)
{
    struct slot *s = ud;
    forget(s, l);
    if (s->link != l)
        return;
    s->link = NULL;
    retry_later(s, why);
}

static const struct link_ops agent_ops = {on_open, on_goaway, on_down};

static void link_up(struct slot *s, struct tport *t)
{
    const struct conf_link *c = &s->a->link;
    struct link_conf lc = {
        .client = true,
        .accept_streams = s->a->exit,
        .ping_ms = c->ping_ms,
        .timeout_ms = c->timeout_ms,
        .open_timeout_ms = s->w->conf->timeouts.connect_ms + 5000,
        .max_streams = c->max_streams,
        .budget = c->budget,
    };
    if (link_new(&s->link, s->w, t, &s->peer, &lc, &agent_ops, s) < 0) {
        retry_later(s, "out of memory");
        return;
    }
    struct tunreg_where where = {link_id(s->link), s->w};
    struct tunreg_where old;
    struct tunreg_entry *e;
    if (tunreg_add(s->w->tunnels->reg, TUNREG_GATEWAY, s->a->id, s->idx,
                   &where, &e, &old) == 0)
        link_set_entry(s->link, e);
    s->phase = P_LINK;
    s->failures = 0;
    log_info("agent: link %u up to %s:%u as %s (group %s)", s->idx,
             s->a->server.host, s->a->server.port, s->a->id, s->a->group);
}

/* ---- handshake steps ---- */

static int queue_hello(struct slot *s)
{
    struct tunmsg_hello h = {.link = s->idx};
    snprintf(h.token, sizeof(h.token), "%s", s->a->token);
    snprintf(h.id, sizeof(h.id), "%s", s->a->id);
    snprintf(h.group, sizeof(h.group), "%s", s->a->group);
    uint8_t buf[1024];
    int n = tunmsg_encode_hello(buf, sizeof(buf), &h);
    explicit_bzero(h.token, sizeof(h.token));
    int rc = n < 0 ? n : hshake_send(s->hs, buf, (size_t)n);
    explicit_bzero(buf, sizeof(buf));
    s->hs->limit = 7; /* the welcome's fixed part, then its message */
    s->phase = P_HELLO;
    return rc;
}

static int queue_ws_request(struct slot *s)
{
    const struct conf_agent *a = s->a;
    char req[1024];
    if (ws_make_key(s->ws_key) < 0)
        return -EIO;
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "User-Agent: ferry/" FERRY_VERSION "\r\n\r\n",
                     a->path, a->host ? a->host : a->server.host, s->ws_key);
    if (n < 0 || (size_t)n >= sizeof(req))
        return -ENAMETOOLONG;
    s->phase = P_WS;
    return hshake_send(s->hs, req, (size_t)n);
}

/* The 101 answer to the upgrade, with the right accept value. */
static int ws_answer(struct slot *s, struct hshake *h)
{
    struct http1_response_head rh;
    int n = http1_parse_response_head((const char *)h->in, h->in_len, &rh);
    if (n == -EAGAIN)
        return 0;
    char want[WS_ACCEPT_LEN + 1];
    const struct http1_header *acc = http1_find_response_header(
        &rh, "Sec-WebSocket-Accept");
    if (n < 0 || rh.status != 101 || !acc ||
        ws_accept_key(s->ws_key, strlen(s->ws_key), want) < 0 ||
        acc->value.len != WS_ACCEPT_LEN ||
        memcmp(acc->value.p, want, WS_ACCEPT_LEN) != 0) {
        h->why = "the WebSocket upgrade was refused";
        return -EPROTO;
    }
    hshake_consume(h, (size_t)n);
    tport_ws_start(h->t, true);
    return queue_hello(s);
}

static int welcome(struct slot *s, struct hshake *h)
{
    struct tunmsg_welcome wl;
    if (h->in_len >= 7)
        h->limit = 7 + h->in[6];
    int n = tunmsg_parse_welcome(h->in, h->in_len, &wl);
    if (n == -EAGAIN)
        return 0;
    if (n < 0) {
        h->why = "malformed welcome (is this a ferry gateway?)";
        return -EPROTO;
    }
    if (wl.status != TUNMSG_WELCOME_OK) {
        log_error("agent: the gateway refused link %u: status %u %s",
                  s->idx, wl.status, wl.message);
        h->why = "refused by the gateway";
        return -EACCES;
    }
    return 1;
}

static int step(struct hshake *h)
{
    struct slot *s = h->ud;
    if (s->phase == P_DIAL) {
        int rc = conf_tunnel_ws(s->a->transport) ? queue_ws_request(s)
                                                 : queue_hello(s);
        return rc < 0 ? rc : 0;
    }
    if (s->phase == P_WS)
        return ws_answer(s, h);
    return welcome(s, h);
}

static void on_hs_end(void *ud, struct hshake *h, int rc, const char *why)
{
    struct slot *s = ud;
    s->hs = NULL;
    if (rc < 0) {
        retry_later(s, why);
        return;
    }
    link_up(s, hshake_take(h));
}

/* ---- dialling ---- */

static void on_connected(void *ud, enum result r, int fd)
{
    struct slot *s = ud;
    s->dial = NULL;
    s->up = NULL;
    if (r != RESULT_OK) {
        retry_later(s, result_text(r));
        return;
    }
    sock_tune(fd); /* small frames go at once, as at the gateway */
    SSL *ssl = NULL;
    SSL_CTX *ctx = s->w->tunnels->agent_ctx;
    if (ctx && !(ssl = tuntls_agent_ssl(ctx, s->a))) {
        close(fd);
        retry_later(s, "TLS set-up failed");
        return;
    }
    if (sock_peer(fd, &s->peer) < 0)
        memset(&s->peer, 0, sizeof(s->peer)); /* logs show it unset */
    struct tport *t;
    int rc = tport_new(&t, fd, ssl);
    if (rc == 0)
        rc = hshake_start(&s->hs, s->w, t,
                          s->w->conf->timeouts.handshake_ms, step,
                          on_hs_end, s);
    if (rc < 0)
        retry_later(s, strerror(-rc));
}

static void connect_now(struct slot *s)
{
    const struct conf *c = s->w->conf;
    const struct conf_agent *a = s->a;
    int rc;
    s->phase = P_DIAL;
    if (a->proxy >= 0) {
        s->spec = upstream_spec_of(&c->egresses[a->proxy]);
        rc = upstream_start(s->w, &s->spec, &a->server, on_connected, s,
                            &s->up);
    } else {
        rc = direct_start(s->w, &a->server, NULL, on_connected, s,
                          &s->dial);
    }
    if (rc < 0)
        retry_later(s, strerror(-rc));
}

/* ---- worker hooks ---- */

static struct agent_slots *slots_of(struct worker *w)
{
    return w->agent;
}

void agent_start(struct worker *w)
{
    const struct conf_agent *a = &w->conf->agent;
    struct tunnels *tun = w->tunnels;
    if (!a->enabled || !tun)
        return;
    struct agent_slots *as = calloc(1, sizeof(*as));
    if (!as) {
        log_error("agent: out of memory");
        return;
    }
    w->agent = as;
    for (unsigned i = w->id; i < a->links && i < MAX_SLOTS;
         i += tun->n_workers) {
        struct slot *s = &as->slots[as->n++];
        *s = (struct slot){.w = w, .a = a, .idx = i};
        loop_timer_init(&s->retry, on_retry, s);
        connect_now(s);
    }
}

static void stop_slots(struct worker *w, bool now)
{
    struct agent_slots *as = slots_of(w);
    for (unsigned i = 0; as && i < as->n; i++) {
        struct slot *s = &as->slots[i];
        s->stopping = true;
        loop_timer_disarm(w->loop, &s->retry);
        direct_cancel(s->dial);
        upstream_cancel(s->up);
        hshake_cancel(s->hs);
        s->dial = NULL;
        s->up = NULL;
        s->hs = NULL;
        if (s->link && now)
            link_close(s->link, "stop");
        else if (s->link)
            link_goaway(s->link);
    }
}

void agent_drain(struct worker *w) { stop_slots(w, false); }

void agent_stop(struct worker *w)
{
    stop_slots(w, true);
    free(w->agent);
    w->agent = NULL;
}
