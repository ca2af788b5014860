/* socks (front end): see socks.h.  Codecs are proto/socks's; this file is
 * the server side state machine: greeting -> [user/password] -> request. */
#include "front/socks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/worker.h"
#include "policy/auth.h"
#include "proto/socks.h"

enum phase { PH_START, PH_USERPASS, PH_REQUEST };

static int reply(struct session *s, enum result r, const struct addr *bnd)
{
    uint8_t out[SOCKS5_REPLY_MAX];
    bool v4 = s->req.proto && strcmp(s->req.proto, "socks4") == 0;
    int n = v4 ? socks4_encode_reply(out, sizeof(out),
                                     (uint8_t)result_socks4_code(r), bnd)
               : socks5_encode_reply(out, sizeof(out),
                                     (uint8_t)result_socks5_rep(r), bnd);
    if (n < 0)
        return n;
    return session_send(s, out, (size_t)n);
}

/* Answer r, record it, and close. */
static enum front_status refuse(struct session *s, enum result r)
{
    s->result = r;
    if (reply(s, r, NULL) < 0)
        log_debug("socks: client gone before its answer");
    return FRONT_CLOSE;
}

/* Send a handshake message; a client that cannot take it is closed. */
static bool send_ok(struct session *s, const uint8_t *msg, int n)
{
    return n > 0 && session_send(s, msg, (size_t)n) == 0;
}

static enum front_status greeting(struct session *s)
{
    struct socks5_greeting g;
    uint8_t out[2];
    int n = socks5_parse_greeting((const uint8_t *)s->head, s->head_len, &g);
    if (n == -EAGAIN)
        return FRONT_MORE;
    if (n < 0) {
        s->result = RESULT_BAD_REQUEST;
        return FRONT_CLOSE;
    }
    session_consume(s, (size_t)n);
    uint8_t want = auth_required(s->req.listener) ? SOCKS5_METHOD_USERPASS
                                                  : SOCKS5_METHOD_NONE;
    bool offered = memchr(g.methods, want, g.nmethods) != NULL;
    uint8_t method = offered ? want : SOCKS5_METHOD_UNACCEPTABLE;
    if (!send_ok(s, out, socks5_encode_method(out, sizeof(out), method)) ||
        !offered) {
        s->result = RESULT_AUTH;
        return FRONT_CLOSE;
    }
    s->front_phase = want == SOCKS5_METHOD_USERPASS ? PH_USERPASS
                                                    : PH_REQUEST;
    return FRONT_MORE;
}

static enum front_status userpass(struct session *s)
{
    struct socks5_userpass up;
    uint8_t out[2];
    int n = socks5_parse_userpass((const uint8_t *)s->head, s->head_len, &up);
    if (n == -EAGAIN)
        return FRONT_MORE;
    session_consume(s, n > 0 ? (size_t)n : s->head_len);
    bool ok = n > 0 && auth_verify(s->req.listener, s->w->authcache,
                                   loop_now(s->w->loop), up.user, up.pass);
    explicit_bzero(up.pass, sizeof(up.pass));
    if (ok)
        s->req.user = auth_user_name(s->req.listener, up.user);
    if (!send_ok(s, out,
                 socks5_encode_userpass_status(out, sizeof(out), !ok)) ||
        !ok) {
        s->result = RESULT_AUTH;
        return FRONT_CLOSE;
    }
    s->front_phase = PH_REQUEST;
    return FRONT_MORE;
}

static enum front_status request5(struct session *s)
{
    struct socks5_request rq;
    int n = socks5_parse_request((const uint8_t *)s->head, s->head_len, &rq);
    if (n == -EAGAIN)
        return FRONT_MORE;
    if (n == -EAFNOSUPPORT)
        return refuse(s, RESULT_BAD_ADDRTYPE);
    if (n < 0)
        return refuse(s, RESULT_BAD_REQUEST);
    session_consume(s, (size_t)n);
    s->req.target = rq.dst;
    if (rq.cmd == SOCKS_CMD_UDP_ASSOCIATE) {
        s->req.proto = "socks5-udp";
        return FRONT_UDP;
    }
    if (rq.cmd != SOCKS_CMD_CONNECT)
        return refuse(s, RESULT_BAD_METHOD);
    return FRONT_DISPATCH;
}

static enum front_status request4(struct session *s)
{
    struct socks4_request rq;
    s->req.proto = "socks4";
    int n = socks4_parse_request((const uint8_t *)s->head, s->head_len, &rq);
    if (n == -EAGAIN)
        return FRONT_MORE;
    if (n < 0)
        return refuse(s, RESULT_BAD_REQUEST);
    session_consume(s, (size_t)n);
    s->req.target = rq.dst;
    if (rq.cmd != SOCKS_CMD_CONNECT)
        return refuse(s, RESULT_BAD_METHOD);
    /* SOCKS 4 carries no password: a listener with users refuses it. */
    if (auth_required(s->req.listener))
        return refuse(s, RESULT_AUTH);
    return FRONT_DISPATCH;
}

static enum front_status on_head(struct session *s)
{
    enum front_status st = FRONT_MORE;
    /* Clients may send several handshake messages at once: go on while
     * a step completes and bytes are left. */
    while (st == FRONT_MORE && s->head_len > 0) {
        enum phase before = s->front_phase;
        switch (before) {
        case PH_START:
            if ((uint8_t)s->head[0] == SOCKS4_VERSION)
                return request4(s);
            s->req.proto = "socks5";
            st = greeting(s);
            break;
        case PH_USERPASS: st = userpass(s); break;
        case PH_REQUEST: st = request5(s); break;
        }
        if (st == FRONT_MORE && s->front_phase == before)
            break; /* the step itself needs more bytes */
    }
    return st;
}

const struct front_ops socks_front = {
    .name = "socks",
    .on_head = on_head,
    .reply = reply,
};
