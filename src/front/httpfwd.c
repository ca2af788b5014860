/* httpfwd: see httpfwd.h.
 *
 * Two half-pipelines run side by side, like the relay but message-aware:
 *   request:  client -> in -> (head: check, route, rewrite -> to_up)
 *                            (body: framer decides where it ends) -> up
 *   response: up -> uin -> (head: rewrite -> to_cl) (body: framer) -> client
 * Sockets are edge-triggered; readiness is remembered in flags and every
 * event runs advance(), which moves whatever can move.  Buffers come from
 * the worker's pool and go back whenever they are empty. */
#include "front/httpfwd.h"

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
#include "egress/connpool.h"
#include "front/http.h"
#include "front/session.h"
#include "policy/auth.h"
#include "policy/route.h"
#include "proto/http1.h"
#include "proto/http1frame.h"
#include "proto/http1fwd.h"

enum rq { RQ_HEAD, RQ_ROUTE, RQ_BODY, RQ_DONE };
enum rs { RS_IDLE, RS_HEAD, RS_BODY, RS_DONE };

/* A pool buffer with a window of pending bytes. */
struct pend {
    char *buf;
    size_t off, len;
};

struct httpfwd {
    struct session *s; /* owner */
    struct worker *w;
    enum rq rq;
    enum rs rs;
    struct pend in, to_up, uin, to_cl;
    struct pend retry; /* the head again, while a reused socket may be
                          stale (idempotent, bodiless requests only) */
    struct http1fwd_request req;
    struct http1_framer rqf, rsf;
    size_t head_len;          /* request head length while routing */
    size_t rq_fed, rs_fed;    /* framed but unsent bytes (pass_body) */
    struct upconn *up;        /* upstream connection, NULL when none */
    char key[CONNPOOL_KEY_MAX];
    struct route *route;
    bool rd_cl, wr_cl, rd_up, wr_up;
    /* A short read empties the socket: an event came since it was
     * watched here, and none said the peer hung up.  Then the read that
     * would only say EAGAIN is skipped; the next bytes bring an event. */
    bool drains_cl, drains_up;
    bool reused;      /* the upstream socket came from the pool */
    bool body_sent;   /* a request body byte went upstream */
    bool close_after; /* end the client connection after this exchange */
    bool up_broken;   /* the upstream socket may not be pooled */
    bool client_eof;
    bool dead;        /* torn down; ignore stray events */
    int status;       /* response status, for the log */
    bool client_http10; /* the request came as HTTP/1.0 */
    uint64_t started, up_bytes, down_bytes;
    char method[16];
    struct loop_defer free_later;
};

static void advance(struct httpfwd *f);
static bool retry_stale(struct httpfwd *f);

/* ---- buffers ---- */

static bool pend_take(struct httpfwd *f, struct pend *p)
{
    if (!p->buf && !(p->buf = bufpool_get(f->w->bufs)))
        return false;
    return true;
}

static void pend_consume(struct httpfwd *f, struct pend *p, size_t n)
{
    p->off += n;
    p->len -= n;
    if (p->len == 0) {
        bufpool_put(f->w->bufs, p->buf);
        *p = (struct pend){0};
    }
}

/* Move the window to the front so more can be read behind it. */
static void pend_compact(struct pend *p)
{
    if (p->off && p->len)
        memmove(p->buf, p->buf + p->off, p->len);
    p->off = 0;
}

static void pend_drop(struct httpfwd *f, struct pend *p)
{
    bufpool_put(f->w->bufs, p->buf);
    *p = (struct pend){0};
}

/* Events after which a short read may still leave an EOF to read. */
#define HUP_EVENTS (EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/* recv into p; 1 = got bytes, 0 = EAGAIN, -1 = EOF, -2 = error.  drains:
 * a short read clears *ready (see drains_cl). */
static int fill(struct httpfwd *f, int fd, struct pend *p, bool *ready,
                bool drains)
{
    if (!pend_take(f, p))
        return -2;
    pend_compact(p);
    size_t cap = bufpool_size(f->w->bufs);
    if (p->len == cap)
        return 0;
    ssize_t n = recv(fd, p->buf + p->len, cap - p->len, 0);
    if (n > 0) {
        *ready = !drains || (size_t)n == cap - p->len;
        p->len += (size_t)n;
        return 1;
    }
    if (p->len == 0)
        pend_drop(f, p);
    if (n == 0)
        return -1;
    if (errno == EAGAIN || errno == EINTR) {
        *ready = errno == EINTR;
        return 0;
    }
    return -2;
}

/* send up to n bytes of p; returns bytes sent, or -1 on error. */
static ssize_t flush(struct httpfwd *f, int fd, struct pend *p, size_t n,
                     bool *ready)
{
    if (n == 0 || !*ready)
        return 0;
    ssize_t k = send(fd, p->buf + p->off, n, MSG_NOSIGNAL);
    if (k < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            *ready = errno == EINTR;
            return 0;
        }
        return -1;
    }
    pend_consume(f, p, (size_t)k);
    return k;
}

static int up_fd(const struct httpfwd *f) { return f->up->io.fd; }

/* ---- ends ---- */

static void log_exchange(struct httpfwd *f, enum result r, const char *end)
{
    struct session *s = f->s;
    char client[ADDR_STRLEN], target[ADDR_STRLEN + TARGET_HOST_MAX];
    addr_format(&s->req.client, client, sizeof(client));
    if (f->req.origin.kind != TARGET_NONE)
        target_format(&f->req.origin, target, sizeof(target));
    else
        strcpy(target, "-");
    log_access("client=%s listener=%s proto=http user=%s target=%s "
               "result=%s up=%llu down=%llu ms=%llu method=%s status=%d end=%s",
               client, s->req.listener->name,
               s->req.user ? s->req.user : "-", target, result_word(r),
               (unsigned long long)f->up_bytes,
               (unsigned long long)f->down_bytes,
               (unsigned long long)(loop_now(f->w->loop) - f->started),
               f->method[0] ? f->method : "-", f->status, end);
}

static void close_up(struct httpfwd *f)
{
    route_cancel(f->route);
    f->route = NULL;
    upconn_close(f->up);
    f->up = NULL;
}

/* Answer the current request with an error and end the connection (the
 * request stream may be out of step after it). */
static void answer_error(struct httpfwd *f, enum result r, const char *why)
{
    char out[1024], target[ADDR_STRLEN + TARGET_HOST_MAX];
    const char *detail = why && *why ? why : NULL;
    if (!detail && f->req.origin.kind != TARGET_NONE)
        detail = target_format(&f->req.origin, target, sizeof(target));
    int status = result_http_status(r);
    f->status = status;
    log_exchange(f, r, "error_answer");
    int n = http1_format_error(out, sizeof(out), status,
                               result_http_reason(status), result_text(r),
                               detail, "ferry");
    close_up(f);
    f->dead = true;
    f->s->result = r;
    if (n < 0 || session_send(f->s, out, (size_t)n) < 0)
        session_http_end(f->s, "client_error", false);
    else
        session_http_end(f->s, "http_error", true);
}

/* Abort without an answer (bytes already went to the client); r says
 * whose fault it was: RESULT_OK when the client went away. */
static void abort_fwd(struct httpfwd *f, enum result r, const char *end)
{
    log_exchange(f, r, end);
    close_up(f);
    f->dead = true;
    session_http_end(f->s, end, false);
}

/* ---- the upstream socket ---- */

static void on_up(struct loop_io *io, uint32_t events)
{
    struct httpfwd *f = io->ud;
    if (f->dead)
        return;
    if (events & (EPOLLIN | HUP_EVENTS))
        f->rd_up = true;
    f->drains_up = !(events & HUP_EVENTS);
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        f->wr_up = true;
    advance(f);
}

/* Watch the routed socket: a pooled connection is registered already
 * (pooled, else NULL); a fresh one (fd) is registered here. */
static int attach_up(struct httpfwd *f, int fd, struct upconn *pooled)
{
    f->wr_up = true;
    if (pooled) {
        /* The pool watched it while parked and closes it on any input or
         * hang-up: it is empty and open, and what comes next brings an
         * event to us. */
        f->rd_up = false;
        f->drains_up = true;
        pooled->io.fn = on_up;
        pooled->io.ud = f;
        f->up = pooled;
        return 0;
    }
    f->rd_up = true;
    f->drains_up = false;
    return upconn_open(f->w->loop, fd, on_up, f, &f->up);
}

/* ---- request side ---- */

/* Write the rewritten head to to_up and start the body framer. */
static int emit_request_head(struct httpfwd *f,
                             const struct http1_request_head *h,
                             const struct route_info *info)
{
    if (!pend_take(f, &f->to_up))
        return -ENOMEM;
    int n = http1fwd_request_head(h, &f->req, info && info->http_proxy,
                                  info ? info->proxy_auth : NULL,
                                  f->to_up.buf, bufpool_size(f->w->bufs));
    if (n < 0)
        return n;
    f->to_up.off = 0;
    f->to_up.len = (size_t)n;
    http1_framer_init(&f->rqf, false);
    if (http1_framer_feed(&f->rqf, f->in.buf + f->in.off, f->head_len) !=
        (ssize_t)f->head_len)
        return -EBADMSG;
    pend_consume(f, &f->in, f->head_len);
    f->rq = f->rqf.done ? RQ_DONE : RQ_BODY;
    f->rs = RS_HEAD;
    if (f->reused && f->req.idempotent && f->rq == RQ_DONE &&
        pend_take(f, &f->retry)) {
        memcpy(f->retry.buf, f->to_up.buf, f->to_up.len);
        f->retry.len = f->to_up.len;
    }
    return 0;
}

static void routed(struct httpfwd *f, int fd, const struct route_info *info)
{
    struct http1_request_head h;
    if (attach_up(f, fd, info->pooled) < 0) {
        answer_error(f, RESULT_INTERNAL, "cannot watch upstream socket");
        return;
    }
    if (f->retry.buf) { /* a retry: the head was written already */
        pend_drop(f, &f->to_up);
        f->to_up = f->retry;
        f->retry = (struct pend){0};
        f->rs = RS_HEAD;
        advance(f);
        return;
    }
    /* The head is still at the front of in: parse it again (cheap) to
     * write it out for this egress. */
    if (http1_parse_request_head(f->in.buf + f->in.off, f->in.len, &h) !=
            (int)f->head_len ||
        emit_request_head(f, &h, info) < 0) {
        answer_error(f, RESULT_INTERNAL, "request head rewrite failed");
        return;
    }
    advance(f);
}

static void on_routed(void *ud, enum result r, int fd,
                      const struct route_info *info)
{
    struct httpfwd *f = ud;
    f->route = NULL;
    if (r != RESULT_OK) {
        answer_error(f, r, NULL);
        return;
    }
    memcpy(f->key, info->key, sizeof(f->key)); /* same size */
    f->reused = info->reused;
    routed(f, fd, info);
}

/* Max-Forwards: 0 on OPTIONS/TRACE is answered here (RFC 9110 §7.6.2). */
static void answer_locally(struct httpfwd *f)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                             "Via: 1.1 " HTTP1FWD_VIA_NAME "\r\n\r\n";
    f->status = 200;
    log_exchange(f, RESULT_OK, "local_answer");
    pend_consume(f, &f->in, f->head_len);
    if (session_send(f->s, ok, sizeof(ok) - 1) < 0) {
        f->dead = true;
        session_http_end(f->s, "client_error", false);
        return;
    }
    f->rq = RQ_HEAD;
    f->rs = RS_IDLE;
}

static void start_request(struct httpfwd *f, struct http1_request_head *h,
                          int n)
{
    const char *why;
    f->head_len = (size_t)n;
    f->started = loop_now(f->w->loop);
    f->up_bytes = f->down_bytes = 0;
    f->status = 0;
    f->body_sent = false;
    f->client_http10 = h->minor == 0;
    f->s->req.user = NULL; /* each request proves who it is anew */
    size_t mlen = h->method.len < sizeof(f->method) - 1
                      ? h->method.len
                      : sizeof(f->method) - 1;
    memcpy(f->method, h->method.p, mlen);
    f->method[mlen] = '\0';
    memset(&f->req, 0, sizeof(f->req));
    if (h->is_connect) {
        answer_error(f, RESULT_BAD_METHOD, "CONNECT on a forwarding "
                                           "connection");
        return;
    }
    enum result r = http1fwd_check_request(h, &f->req, &why);
    if (r != RESULT_OK) {
        log_info("http: %s from client, answering %d", why,
                 result_http_status(r));
        answer_error(f, r, why);
        return;
    }
    if (!http_authorized(f->s, h)) {
        answer_error(f, RESULT_AUTH, NULL);
        return;
    }
    if (!f->req.keep_alive || f->req.upgrade)
        f->close_after = true;
    if (f->req.max_forwards == 0) {
        answer_locally(f);
        return;
    }
    f->rq = RQ_ROUTE;
    f->s->req.target = f->req.origin;
    if (route_start(f->w, &f->s->req, &f->req.origin, ROUTE_HTTP, on_routed,
                    f, &f->route) < 0)
        answer_error(f, RESULT_INTERNAL, NULL);
}

/* Read and act on the next request head.  false = wait. */
static bool next_request(struct httpfwd *f)
{
    struct http1_request_head h;
    for (;;) {
        int n = f->in.len ? http1_parse_request_head(f->in.buf + f->in.off,
                                                     f->in.len, &h)
                          : -EAGAIN;
        if (n > 0 && (size_t)n <= f->w->conf->max_head) {
            start_request(f, &h, n);
            return true;
        }
        if (n > 0 || n == -E2BIG ||
            (n == -EAGAIN && f->in.len >= f->w->conf->max_head)) {
            answer_error(f, RESULT_HEAD_TOO_LARGE, NULL);
            return false;
        }
        if (n != -EAGAIN) {
            answer_error(f, RESULT_BAD_REQUEST, "malformed request head");
            return false;
        }
        if (!f->rd_cl)
            return false;
        int got = fill(f, f->s->client.fd, &f->in, &f->rd_cl,
                       f->drains_cl);
        if (got == 0)
            return false;
        if (got < 0) {
            /* A client closing between requests is the normal end. */
            f->dead = true;
            session_http_end(f->s, f->in.len ? "client_eof" : "eof",
                             false);
            return false;
        }
    }
}

/* Move body bytes of src to fd, as far as the framer says they belong
 * to the current message.  *fed counts bytes at the front of src the
 * framer has seen but fd has not taken yet (never feed them twice).
 * 0, -EBADMSG (framing), -EIO (send failed). */
static int pass_body(struct httpfwd *f, struct http1_framer *fr,
                     struct pend *src, size_t *fed, int fd, bool *ready,
                     uint64_t *count)
{
    if (*fed == 0 && src->len && !fr->done) {
        ssize_t n = http1_framer_feed(fr, src->buf + src->off, src->len);
        if (n < 0)
            return -EBADMSG;
        *fed = (size_t)n;
    }
    if (*fed) {
        ssize_t k = flush(f, fd, src, *fed, ready);
        if (k < 0)
            return -EIO;
        *fed -= (size_t)k;
        *count += (uint64_t)k;
    }
    return 0;
}

/* Stream the request upstream.  true = progress was made. */
static bool pump_request(struct httpfwd *f)
{
    if (f->to_up.len) {
        if (flush(f, up_fd(f), &f->to_up, f->to_up.len, &f->wr_up) < 0) {
            if (!retry_stale(f))
                abort_fwd(f, RESULT_UPSTREAM, "upstream_error");
            return false;
        }
        if (f->to_up.len)
            return false;
    }
    if (f->rq != RQ_BODY)
        return false;
    uint64_t before = f->up_bytes;
    int rc = pass_body(f, &f->rqf, &f->in, &f->rq_fed, up_fd(f), &f->wr_up,
                       &f->up_bytes);
    if (rc == -EBADMSG) {
        f->up_broken = true;
        if (f->rs == RS_HEAD && f->down_bytes == 0 && !f->to_cl.len)
            answer_error(f, RESULT_BAD_REQUEST, "bad request body framing");
        else
            abort_fwd(f, RESULT_BAD_REQUEST, "bad_request_body");
        return false;
    }
    if (rc < 0) {
        abort_fwd(f, RESULT_UPSTREAM, "upstream_error");
        return false;
    }
    f->body_sent |= f->up_bytes != before;
    if (f->rq_fed)
        return f->up_bytes != before;
    if (f->rqf.done) {
        f->rq = RQ_DONE;
        return true;
    }
    if (f->in.len)
        return true;
    if (!f->rd_cl)
        return false;
    int got = fill(f, f->s->client.fd, &f->in, &f->rd_cl,
                       f->drains_cl);
    if (got < 0) {
        abort_fwd(f, RESULT_OK, "client_eof");
        return false;
    }
    return got > 0;
}

/* ---- response side ---- */

/* A reused socket the origin had closed: try once more on a fresh one
 * (only for idempotent requests whose body was not sent: RFC 9110 §9.2.2).
 */
static bool retry_stale(struct httpfwd *f)
{
    if (!f->reused || !f->retry.buf || f->body_sent || f->uin.len ||
        f->down_bytes)
        return false;
    log_debug("http: pooled connection to %s was stale, retrying",
              f->key);
    close_up(f);
    f->reused = false;
    f->rs = RS_IDLE;
    f->s->req.target = f->req.origin;
    if (route_start(f->w, &f->s->req, &f->req.origin, ROUTE_HTTP_FRESH,
                    on_routed, f, &f->route) < 0)
        answer_error(f, RESULT_INTERNAL, NULL);
    return true;
}

/* 101 Switching Protocols: hand both sockets to a plain relay. */
static void upgrade(struct httpfwd *f, const struct http1_response_head *h,
                    int n)
{
    if (!f->req.upgrade) {
        answer_error(f, RESULT_UPSTREAM, "unexpected 101 from origin");
        return;
    }
    size_t cap = bufpool_size(f->w->bufs);
    char *out = bufpool_get(f->w->bufs);
    int m = out ? http1fwd_response_head(h, false, out, cap) : -1;
    size_t rest = f->uin.len - (size_t)n;
    if (m < 0 || (size_t)m + rest > cap) {
        bufpool_put(f->w->bufs, out);
        abort_fwd(f, RESULT_INTERNAL, "upgrade_failed");
        return;
    }
    memcpy(out + m, f->uin.buf + f->uin.off + n, rest);
    f->status = 101;
    log_exchange(f, RESULT_OK, "upgrade");
    int fd = upconn_release(f->up);
    f->up = NULL;
    char *in = f->in.buf;
    size_t in_off = f->in.off, in_len = f->in.len;
    f->in = (struct pend){0};
    f->dead = true;
    session_http_upgrade(f->s, fd, out, (size_t)m + rest, in, in_off,
                         in_len);
}

/* Rewrite the n-byte response head at the front of uin into to_cl for
 * the client.  false when the exchange was aborted. */
static bool queue_response_head(struct httpfwd *f,
                                const struct http1_response_head *h,
                                bool close, int n)
{
    if (!pend_take(f, &f->to_cl)) {
        abort_fwd(f, RESULT_INTERNAL, "no_memory");
        return false;
    }
    int m = http1fwd_response_head(h, close, f->to_cl.buf,
                                   bufpool_size(f->w->bufs));
    if (m < 0) {
        abort_fwd(f, RESULT_UPSTREAM, "response_head_too_large");
        return false;
    }
    f->to_cl.off = 0;
    f->to_cl.len = (size_t)m;
    pend_consume(f, &f->uin, (size_t)n);
    return true;
}

/* The response body is complete: bytes behind it mean the origin is out
 * of step, and its connection must not be reused. */
static void response_body_done(struct httpfwd *f)
{
    f->rs = RS_DONE;
    f->up_broken |= f->uin.len > 0;
}

/* Queue the body bytes that arrived with the head behind the head in
 * to_cl, so a small response leaves in one send: every send on loopback
 * wakes the client, and a second one costs about as much as the first. */
static void queue_early_body(struct httpfwd *f)
{
    size_t room = bufpool_size(f->w->bufs) - f->to_cl.off - f->to_cl.len;
    size_t n = f->uin.len < room ? f->uin.len : room;
    if (n == 0)
        return;
    ssize_t k = http1_framer_feed(&f->rsf, f->uin.buf + f->uin.off, n);
    if (k < 0) {
        f->up_broken = true;
        abort_fwd(f, RESULT_UPSTREAM, "bad_response_framing");
        return;
    }
    memcpy(f->to_cl.buf + f->to_cl.off + f->to_cl.len,
           f->uin.buf + f->uin.off, (size_t)k);
    f->to_cl.len += (size_t)k;
    f->down_bytes += (uint64_t)k;
    pend_consume(f, &f->uin, (size_t)k);
    if (f->rsf.done)
        response_body_done(f);
}

static void final_head(struct httpfwd *f, const struct http1_response_head *h,
                       int n)
{
    f->status = h->status;
    http1_framer_init(&f->rsf, true);
    f->rsf.no_body = f->req.is_head;
    if (http1_framer_feed(&f->rsf, f->uin.buf + f->uin.off, (size_t)n) !=
        n) {
        answer_error(f, RESULT_UPSTREAM, "bad response framing");
        return;
    }
    bool close = f->close_after || http1fwd_response_closes(h) ||
                 (!f->rsf.done && http1_framer_until_close(&f->rsf)) ||
                 f->rq != RQ_DONE;
    if (close) {
        f->close_after = true;
        f->up_broken |= http1fwd_response_closes(h) ||
                        http1_framer_until_close(&f->rsf) ||
                        f->rq != RQ_DONE;
    }
    if (!queue_response_head(f, h, close, n))
        return;
    f->rs = f->rsf.done ? RS_DONE : RS_BODY;
    if (f->rs == RS_BODY)
        queue_early_body(f);
}

/* An interim 1xx (100 Continue, 103 Early Hints) goes to the client as
 * is; the final answer follows. */
static void interim_head(struct httpfwd *f,
                         const struct http1_response_head *h, int n)
{
    if (f->client_http10) { /* RFC 9110 §15.2: never to a 1.0 client */
        pend_consume(f, &f->uin, (size_t)n);
        return;
    }
    queue_response_head(f, h, false, n);
}

static bool read_response_head(struct httpfwd *f)
{
    struct http1_response_head h;
    int n = f->uin.len ? http1_parse_response_head(f->uin.buf + f->uin.off,
                                                   f->uin.len, &h)
                       : -EAGAIN;
    if (n > 0) {
        pend_drop(f, &f->retry);
        if (h.status == 101)
            upgrade(f, &h, n);
        else if (h.status >= 100 && h.status < 200)
            interim_head(f, &h, n);
        else
            final_head(f, &h, n);
        return !f->dead;
    }
    if (n != -EAGAIN || f->uin.len == bufpool_size(f->w->bufs)) {
        f->up_broken = true;
        answer_error(f, RESULT_UPSTREAM, "malformed response from origin");
        return false;
    }
    if (!f->rd_up)
        return false;
    int got = fill(f, up_fd(f), &f->uin, &f->rd_up, f->drains_up);
    if (got < 0 && retry_stale(f)) /* EOF or reset on a reused socket */
        return false;
    if (got < 0) {
        answer_error(f, RESULT_UPSTREAM, "origin closed without answering");
        return false;
    }
    return got > 0;
}

static bool pump_response(struct httpfwd *f)
{
    if (f->to_cl.len) {
        ssize_t k = flush(f, f->s->client.fd, &f->to_cl, f->to_cl.len,
                          &f->wr_cl);
        if (k < 0) {
            abort_fwd(f, RESULT_OK, "client_error");
            return false;
        }
        if (f->to_cl.len)
            return false;
        if (k > 0)
            return true;
    }
    if (f->rs == RS_HEAD)
        return read_response_head(f);
    if (f->rs != RS_BODY)
        return false;
    uint64_t before = f->down_bytes;
    int rc = pass_body(f, &f->rsf, &f->uin, &f->rs_fed, f->s->client.fd,
                       &f->wr_cl, &f->down_bytes);
    if (rc < 0) {
        f->up_broken = true;
        abort_fwd(f, rc == -EBADMSG ? RESULT_UPSTREAM : RESULT_OK,
                  rc == -EBADMSG ? "bad_response_framing"
                                    : "client_error");
        return false;
    }
    if (f->rs_fed)
        return f->down_bytes != before;
    if (f->rsf.done) {
        response_body_done(f);
        return true;
    }
    if (f->uin.len)
        return f->down_bytes != before;
    if (!f->rd_up)
        return f->down_bytes != before;
    int got = fill(f, up_fd(f), &f->uin, &f->rd_up, f->drains_up);
    if (got == -1) {
        if (http1_framer_eof(&f->rsf) < 0) {
            abort_fwd(f, RESULT_UPSTREAM, "origin_closed_mid_body");
            return false;
        }
        f->rs = RS_DONE;
        f->up_broken = true;
        return true;
    }
    if (got < 0) {
        abort_fwd(f, RESULT_UPSTREAM, "upstream_error");
        return false;
    }
    return got > 0 || f->down_bytes != before;
}

/* ---- one exchange after another ---- */

static bool exchange_done(const struct httpfwd *f)
{
    return f->rs == RS_DONE && !f->to_cl.len && !f->rs_fed &&
           (f->rq == RQ_DONE || f->close_after);
}

static void finish_exchange(struct httpfwd *f)
{
    log_exchange(f, RESULT_OK, f->close_after ? "close" : "keep_alive");
    pend_drop(f, &f->uin);
    if (f->up && !f->up_broken && !f->close_after && f->rq == RQ_DONE) {
        connpool_put(f->w->pool, f->key, f->up, loop_now(f->w->loop));
        f->up = NULL;
    }
    close_up(f);
    f->up_broken = false;
    f->reused = false;
    if (f->close_after) {
        f->dead = true;
        session_http_end(f->s, "close", true);
        return;
    }
    f->rq = RQ_HEAD;
    f->rs = RS_IDLE;
}

static void advance(struct httpfwd *f)
{
    bool progress = true;
    while (progress && !f->dead) {
        progress = false;
        if (f->rq == RQ_HEAD && f->rs == RS_IDLE) {
            progress = next_request(f);
            continue;
        }
        if (f->up) {
            progress |= pump_request(f);
            if (f->dead)
                return;
            progress |= pump_response(f);
            if (f->dead)
                return;
        }
        if (exchange_done(f)) {
            finish_exchange(f);
            progress = true;
        }
    }
    if (!f->dead)
        f->s->last_active = loop_now(f->w->loop);
}

void httpfwd_on_client(struct httpfwd *f, uint32_t events)
{
    if (f->dead)
        return;
    if (events & (EPOLLIN | HUP_EVENTS))
        f->rd_cl = true;
    f->drains_cl = !(events & HUP_EVENTS);
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        f->wr_cl = true;
    advance(f);
}

int httpfwd_start(struct session *s, struct httpfwd **out)
{
    struct httpfwd *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->s = s;
    f->w = s->w;
    f->in = (struct pend){.buf = s->head, .off = 0, .len = s->head_len};
    s->head = NULL;
    s->head_len = 0;
    f->rd_cl = f->wr_cl = true;
    *out = f;
    advance(f);
    return 0;
}

static void free_fwd(struct loop_defer *d) { free(d->ud); }

void httpfwd_free(struct httpfwd *f)
{
    if (!f)
        return;
    f->dead = true;
    close_up(f);
    pend_drop(f, &f->in);
    pend_drop(f, &f->to_up);
    pend_drop(f, &f->uin);
    pend_drop(f, &f->to_cl);
    pend_drop(f, &f->retry);
    loop_defer(f->w->loop, &f->free_later, free_fwd, f);
}
