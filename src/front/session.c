/* session: see session.h.  This file is the seam of DESIGN.md's flow:
 * front end -> Request -> policy -> egress -> relay -> access log. */
#include "front/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"
#include "egress/tunnel.h"
#include "front/forward.h"
#include "front/http.h"
#include "front/httpfwd.h"
#include "front/mixed.h"
#include "front/socks.h"
#include "front/udpassoc.h"
#include "policy/acl.h"
#include "policy/route.h"
#include "tunnel/link.h"

#define LINGER_MS 2000
#define RELAY_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static void on_client(struct loop_io *io, uint32_t events);
static void on_upstream(struct loop_io *io, uint32_t events);
static void on_timer(struct loop_timer *t);

static const struct front_ops *front_for(enum conf_listener_type t)
{
    switch (t) {
    case CONF_LISTENER_HTTP: return &http_front;
    case CONF_LISTENER_SOCKS: return &socks_front;
    case CONF_LISTENER_MIXED: return &mixed_front;
    default: return &forward_front; /* forward, tproxy, redirect */
    }
}

static void free_session(struct loop_defer *d) { free(d->ud); }

/* The access line's fields up to the result, which a session knows
 * before it ends.  Returns the length, as snprintf. */
static int format_who(const struct session *s, char *buf, size_t cap)
{
    char client[ADDR_STRLEN], target[ADDR_STRLEN + TARGET_HOST_MAX];
    addr_format(&s->req.client, client, sizeof(client));
    if (s->req.target.kind != TARGET_NONE)
        target_format(&s->req.target, target, sizeof(target));
    else
        strcpy(target, "-");
    return snprintf(buf, cap,
                    "client=%s listener=%s proto=%s user=%s target=%s "
                    "result=%s",
                    client, s->req.listener->name,
                    s->req.proto ? s->req.proto : s->front->name,
                    s->req.user ? s->req.user : "-", target,
                    result_word(s->result));
}

static void log_line(const char *who, uint64_t up, uint64_t down,
                     uint64_t ms, const char *end)
{
    log_access("%s up=%llu down=%llu ms=%llu end=%s", who,
               (unsigned long long)up, (unsigned long long)down,
               (unsigned long long)ms, end ? end : "-");
}

static void log_end(struct session *s)
{
    char who[1024];
    format_who(s, who, sizeof(who));
    uint64_t up = s->relay.dir[RELAY_A].bytes;
    uint64_t down = s->relay.dir[RELAY_B].bytes;
    if (s->udp)
        udpassoc_stats(s->udp, &up, &down, NULL);
    log_line(who, up, down, loop_now(s->w->loop) - s->started, s->end);
}

static void close_io(struct session *s, struct loop_io *io)
{
    if (io->fd < 0)
        return;
    loop_del(s->w->loop, io);
    close(io->fd);
    io->fd = -1;
}

/* The one way out: log, release, unlink, free after this iteration. */
static void session_end(struct session *s, const char *end)
{
    struct worker *w = s->w;
    if (s->phase == SESSION_CLOSED)
        return;
    if (!s->end)
        s->end = end;
    if (!s->fwd && s->phase != SESSION_HANDED)
        log_end(s); /* a forwarded connection logged each request; a
                       handed one is logged by its link (handoff_end) */
    httpfwd_free(s->fwd);
    udpassoc_free(s->udp);
    s->udp = NULL;
    route_cancel(s->route);
    s->route = NULL;
    if (s->phase == SESSION_RELAY)
        relay_fini(&s->relay);
    s->phase = SESSION_CLOSED;
    close_io(s, &s->client);
    close_io(s, &s->upstream);
    loop_timer_disarm(w->loop, &s->timer);
    bufpool_put(w->bufs, s->head);
    s->head = NULL;
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    loop_defer(w->loop, &s->free_later, free_session, s);
    worker_session_gone(w);
}

/* An answer has been written: stop sending, read and discard what the
 * client still sends until it closes or LINGER_MS pass.  Closing at once
 * with unread input would send a reset that can destroy the answer. */
static void linger(struct session *s, const char *end)
{
    s->end = end;
    close_io(s, &s->upstream);
    bufpool_put(s->w->bufs, s->head);
    s->head = NULL;
    s->head_len = 0;
    s->phase = SESSION_LINGER;
    if (shutdown(s->client.fd, SHUT_WR) < 0 ||
        loop_timer_arm(s->w->loop, &s->timer, LINGER_MS) < 0) {
        session_end(s, end);
        return;
    }
    on_client(&s->client, EPOLLIN);
}

static void fail(struct session *s, enum result r, const char *end)
{
    s->result = r;
    if (s->front->reply(s, r, NULL) < 0) {
        session_end(s, "client_error");
        return;
    }
    linger(s, end);
}

/* Read and throw away what the client sends: 0 once the socket is dry,
 * 1 at its end of stream, -errno when it failed. */
static int discard_input(struct session *s)
{
    char sink[4096];
    for (;;) {
        ssize_t n = recv(s->client.fd, sink, sizeof(sink), 0);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n == 0)
            return 1;
        return errno == EAGAIN ? 0 : -errno;
    }
}

static void drain_linger(struct session *s)
{
    if (discard_input(s) != 0)
        session_end(s, s->end);
}

static void pump(struct session *s);

/* Deferred: runs before a free_later queued after it (the queue is FIFO),
 * so s is still allocated here. */
static void repump(struct loop_defer *d)
{
    struct session *s = d->ud;
    if (s->phase == SESSION_RELAY)
        pump(s);
}

static void pump(struct session *s)
{
    uint64_t before = s->relay.dir[0].bytes + s->relay.dir[1].bytes;
    int rc = relay_pump(&s->relay);
    if (s->relay.dir[0].bytes + s->relay.dir[1].bytes != before)
        s->last_active = loop_now(s->w->loop);
    if (rc == RELAY_YIELD)
        loop_defer(s->w->loop, &s->repump, repump, s);
    else if (rc == RELAY_DONE)
        session_end(s, "eof");
    else if (rc < 0)
        session_end(s, rc == -ECONNRESET || rc == -EPIPE ? "reset"
                                                         : "error");
}

/* Register fd as the upstream side and start relaying; the caller has
 * set up s->relay's preloads. */
static void run_relay(struct session *s)
{
    s->phase = SESSION_RELAY;
    s->last_active = loop_now(s->w->loop);
    if (loop_timer_arm(s->w->loop, &s->timer,
                       s->w->conf->timeouts.idle_ms) < 0) {
        session_end(s, "error");
        return;
    }
    pump(s);
}

/* The link of a tunnel stream relays it from here on, and writes the
 * access line when it ends. */
struct handoff {
    struct link_handoff h; /* first: handoff_end() gets it back */
    uint64_t started;
    char who[]; /* format_who() */
};

static void handoff_end(struct link_handoff *h, const char *why)
{
    struct handoff *x = (struct handoff *)h;
    log_line(x->who, h->up, h->down, h->ended - x->started, why);
    free(x);
}

/* The tunnel stream fd only needs relaying to the client, and nothing
 * the client sent is waiting (the link could not put it ahead): give
 * both to the stream's link.  false when it cannot be done. */
static bool hand_off(struct session *s, int fd, const struct tunnel_ref *ref)
{
    struct worker *w = s->w;
    if (!ref->owner || s->head_len > 0)
        return false;
    int n = format_who(s, NULL, 0);
    struct handoff *x = n < 0 ? NULL : malloc(sizeof(*x) + (size_t)n + 1);
    if (!x)
        return false;
    x->h = (struct link_handoff){
        .end = handoff_end,
        .idle_ms = w->conf->timeouts.idle_ms,
        .last_active = loop_now(w->loop),
        .ended = loop_now(w->loop),
    };
    x->started = s->started;
    format_who(s, x->who, (size_t)n + 1); /* after: who[] is last */
    int client = s->client.fd;
    loop_del(w->loop, &s->client);
    s->client.fd = -1;
    s->phase = SESSION_HANDED;
    session_end(s, "handed");
    tunnel_handoff(ref, client, fd, &x->h);
    return true;
}

static void start_relay(struct session *s, int fd,
                        const struct route_info *info)
{
    struct worker *w = s->w;
    struct addr local;
    if (sock_local(fd, &local) < 0)
        local.len = 0;
    s->result = RESULT_OK;
    if (s->front->reply(s, RESULT_OK, local.len ? &local : NULL) < 0) {
        close(fd);
        session_end(s, "client_error");
        return;
    }
    if (hand_off(s, fd, &info->tun))
        return;
    sock_tune(fd);
    if (loop_add(w->loop, &s->upstream, fd, RELAY_EVENTS, on_upstream, s) <
        0) {
        close(fd);
        session_end(s, "error");
        return;
    }
    relay_init(&s->relay, s->client.fd, fd, w->pipes, w->bufs);
    if (s->head_len > 0)
        relay_preload(&s->relay, RELAY_A, s->head, 0, s->head_len);
    else
        bufpool_put(w->bufs, s->head);
    s->head = NULL;
    s->head_len = 0;
    run_relay(s);
}

static void on_routed(void *ud, enum result r, int fd,
                      const struct route_info *info)
{
    struct session *s = ud;
    s->route = NULL;
    if (r != RESULT_OK) {
        fail(s, r, "egress");
        return;
    }
    start_relay(s, fd, info);
}

/* The front end produced a Request: policy/route applies the rules,
 * picks the egress and dials. */
static void dispatch(struct session *s)
{
    s->phase = SESSION_DIAL;
    loop_timer_disarm(s->w->loop, &s->timer);
    if (route_start(s->w, &s->req, &s->req.target, ROUTE_STREAM, on_routed,
                    s, &s->route) < 0)
        fail(s, RESULT_INTERNAL, "error");
}

static void forward(struct session *s)
{
    s->phase = SESSION_HTTP;
    s->last_active = loop_now(s->w->loop);
    if (loop_timer_arm(s->w->loop, &s->timer,
                       s->w->conf->timeouts.idle_ms) < 0 ||
        httpfwd_start(s, &s->fwd) < 0)
        fail(s, RESULT_INTERNAL, "error");
}

/* --- SOCKS5 UDP ASSOCIATE: the control connection's side --- */

/* Every datagram of the association asks the access rules (protocol
 * udp).  Direct targets go from the association's own socket; a tunnel
 * or SOCKS5 parent egress gets a flow per target; an HTTP parent
 * carries no UDP: refused. */
static enum udpassoc_way udp_way(void *ud, const struct target *dst,
                                 const struct addr *addr)
{
    struct session *s = ud;
    const struct conf *c = s->w->conf;
    if (!addr && dst->kind == TARGET_NAME &&
        acl_needs_addrs(c, s->req.listener, dst))
        return UDPASSOC_DIRECT; /* resolve, then ask again */
    struct acl_query q = {.target = dst,
                          .addr = addr,
                          .user = s->req.user,
                          .listener = s->req.listener,
                          .proto = ACL_UDP};
    struct acl_verdict v = acl_decide(c, &q);
    if (!v.allow)
        return UDPASSOC_DENY;
    if (!v.egress)
        return UDPASSOC_DIRECT;
    return v.egress->type == CONF_EGRESS_HTTP ? UDPASSOC_DENY
                                              : UDPASSOC_FLOW;
}

/* The control connection carries nothing more (RFC 1928 section 7):
 * discard what comes; its end ends the association. */
static void udp_control(struct session *s)
{
    int rc = discard_input(s);
    if (rc != 0)
        session_end(s, rc > 0 ? "eof" : "reset");
}

static void udp_start(struct session *s)
{
    struct worker *w = s->w;
    struct addr local, bnd;
    loop_timer_disarm(w->loop, &s->timer);
    int rc = sock_local(s->client.fd, &local);
    if (rc == 0)
        rc = udpassoc_new(&s->udp, w, &s->req, &local, &s->req.target,
                          &s->req.listener->udp_announce, udp_way, s,
                          &bnd);
    if (rc < 0) {
        fail(s, RESULT_INTERNAL, "error");
        return;
    }
    s->result = RESULT_OK;
    if (s->front->reply(s, RESULT_OK, &bnd) < 0) {
        session_end(s, "client_error");
        return;
    }
    bufpool_put(w->bufs, s->head);
    s->head = NULL;
    s->head_len = 0;
    s->phase = SESSION_UDP;
    s->last_active = loop_now(w->loop);
    if (loop_timer_arm(w->loop, &s->timer, w->conf->timeouts.idle_ms) < 0) {
        session_end(s, "error");
        return;
    }
    udp_control(s); /* an EOF may have come with the request */
}

static void read_head(struct session *s)
{
    if (!s->head && !(s->head = bufpool_get(s->w->bufs))) {
        session_end(s, "no_memory");
        return;
    }
    while (s->phase == SESSION_HEAD) {
        if (s->head_len >= s->w->conf->max_head) {
            fail(s, RESULT_HEAD_TOO_LARGE, "bad_head");
            return;
        }
        ssize_t n = recv(s->client.fd, s->head + s->head_len,
                         s->w->conf->max_head - s->head_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            s->result = RESULT_BAD_REQUEST;
            session_end(s, n == 0 ? "client_eof" : "client_error");
            return;
        }
        s->head_len += (size_t)n;
        switch (s->front->on_head(s)) {
        case FRONT_MORE: break;
        case FRONT_DISPATCH: dispatch(s); return;
        case FRONT_CLOSE: linger(s, "refused"); return;
        case FRONT_FORWARD: forward(s); return;
        case FRONT_UDP: udp_start(s); return;
        }
    }
}

static void on_client(struct loop_io *io, uint32_t events)
{
    struct session *s = io->ud;
    switch (s->phase) {
    case SESSION_HEAD: read_head(s); break;
    case SESSION_DIAL:
        /* Input waits in the socket; only a dead client ends the dial. */
        if (events & (EPOLLHUP | EPOLLERR))
            session_end(s, "client_gone");
        break;
    case SESSION_RELAY:
        relay_ready(&s->relay, RELAY_A, events);
        pump(s);
        break;
    case SESSION_HTTP: httpfwd_on_client(s->fwd, events); break;
    case SESSION_UDP: udp_control(s); break;
    case SESSION_LINGER: drain_linger(s); break;
    case SESSION_HANDED:
    case SESSION_CLOSED: break;
    }
}

static void on_upstream(struct loop_io *io, uint32_t events)
{
    struct session *s = io->ud;
    if (s->phase != SESSION_RELAY)
        return;
    relay_ready(&s->relay, RELAY_B, events);
    pump(s);
}

static void on_timer(struct loop_timer *t)
{
    struct session *s = t->ud;
    uint64_t now = loop_now(s->w->loop), idle = s->w->conf->timeouts.idle_ms;
    switch (s->phase) {
    case SESSION_HEAD:
        s->result = RESULT_TIMEOUT;
        session_end(s, "handshake_timeout");
        break;
    case SESSION_RELAY:
    case SESSION_HTTP:
    case SESSION_UDP:
        if (s->udp && udpassoc_last_active(s->udp) > s->last_active)
            s->last_active = udpassoc_last_active(s->udp);
        if (now - s->last_active < idle) {
            if (loop_timer_arm(s->w->loop, t,
                               idle - (now - s->last_active)) == 0)
                break;
        }
        session_end(s, "idle");
        break;
    default: session_end(s, s->end); break;
    }
}

void session_accept(struct worker *w, const struct conf_listener *lc,
                    int fd, const struct addr *peer)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s) {
        log_error("%s: out of memory, dropping a connection", lc->name);
        close(fd);
        return;
    }
    s->w = w;
    s->front = front_for(lc->type);
    s->upstream.fd = -1;
    s->req.client = *peer;
    s->req.listener = lc;
    s->result = RESULT_BAD_REQUEST;
    s->started = s->last_active = loop_now(w->loop);
    loop_timer_init(&s->timer, on_timer, s);
    s->next = w->sessions;
    if (w->sessions)
        w->sessions->prev = s;
    w->sessions = s;
    w->n_sessions++;
    sock_tune(fd);
    s->client.fd = -1;
    int rc = loop_add(w->loop, &s->client, fd, RELAY_EVENTS, on_client, s);
    if (rc == 0)
        rc = loop_timer_arm(w->loop, &s->timer,
                            w->conf->timeouts.handshake_ms);
    if (rc < 0) {
        if (s->client.fd < 0)
            close(fd);
        session_end(s, "error");
        return;
    }
    if (conf_listener_is_proxy(lc))
        return;
    s->result = forward_request(s); /* no head to wait for */
    if (s->result == RESULT_OK)
        dispatch(s);
    else
        session_end(s, "refused");
}

void session_close_all(struct worker *w)
{
    while (w->sessions) {
        struct session *s = w->sessions;
        if (s->phase == SESSION_HEAD || s->phase == SESSION_DIAL)
            s->result = RESULT_SHUTDOWN;
        session_end(s, "shutdown");
    }
}

void session_consume(struct session *s, size_t n)
{
    if (n >= s->head_len) {
        s->head_len = 0;
        return;
    }
    memmove(s->head, s->head + n, s->head_len - n);
    s->head_len -= n;
}

int session_send(struct session *s, const void *buf, size_t len)
{
    ssize_t n;
    do
        n = send(s->client.fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EAGAIN;
}

void session_set_front(struct session *s, const struct front_ops *f)
{
    s->front = f;
}

void session_http_end(struct session *s, const char *end, bool lingering)
{
    if (lingering)
        linger(s, end);
    else
        session_end(s, end);
}

void session_http_upgrade(struct session *s, int upfd, char *to_client,
                          size_t len, char *in, size_t in_off,
                          size_t in_len)
{
    struct worker *w = s->w;
    httpfwd_free(s->fwd);
    s->fwd = NULL;
    relay_init(&s->relay, s->client.fd, upfd, w->pipes, w->bufs);
    relay_preload(&s->relay, RELAY_B, to_client, 0, len);
    if (in && in_len)
        relay_preload(&s->relay, RELAY_A, in, in_off, in_len);
    else
        bufpool_put(w->bufs, in);
    if (loop_add(w->loop, &s->upstream, upfd, RELAY_EVENTS, on_upstream,
                 s) < 0) {
        close(upfd);
        s->phase = SESSION_RELAY;
        session_end(s, "error");
        return;
    }
    s->result = RESULT_OK;
    run_relay(s);
}
