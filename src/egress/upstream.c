/* upstream: see upstream.h.
 *
 * One dial runs DIAL (the direct egress reaches the parent), then repeats
 * "send our message, read the parent's answer" until the answer gives a
 * verdict:
 *   HTTP    CONNECT -> response head
 *   SOCKS5  greeting -> method [-> RFC 1929 user/password -> status]
 *           -> request -> reply
 * An answer is read in three moves: recv(MSG_PEEK) what is there into a
 * pooled buffer, parse it with the codec, and when it is whole recv()
 * exactly its length.  The buffer goes back at once, so a dial waiting
 * for its parent holds none.  Edge-triggered epoll reports every new
 * segment, even while earlier bytes sit unread, so a partial answer that
 * was only peeked at is looked at again when more arrives; a hang-up
 * seen with an incomplete answer ends the dial.
 *
 * The HTTP parent's answer (status -> result):
 *   2xx                  RESULT_OK            the tunnel is open
 *   1xx but 101          (skipped)            interim; the answer follows
 *   403                  RESULT_DENIED        the parent's policy
 *   407                  RESULT_DENIED        + a warning: our client cannot
 *                                             fix the parent's auth, the
 *                                             operator can
 *   502, 503             RESULT_REFUSED       the parent could not reach the
 *                                             target (squid says 503 for a
 *                                             refused connect or a DNS
 *                                             failure; NO_TUNNEL would blame
 *                                             ferry's own tunnel)
 *   504                  RESULT_TIMEOUT
 *   anything else        RESULT_REFUSED       (101, 3xx, 400, 404, 500 ...)
 * A 5xx carrying squid's "X-Squid-Error: ERR_DNS_FAIL ..." becomes
 * RESULT_DNS, and "ERR_CONNECT_FAIL <errno>" the result of that errno.
 *
 * The SOCKS5 parent's answers:
 *   method 0xFF                          RESULT_DENIED + a warning
 *   RFC 1929 status != 0                 RESULT_DENIED + a warning
 *   REP 0x00                             RESULT_OK
 *   REP 0x02 not allowed by ruleset      RESULT_DENIED
 *   REP 0x03 network unreachable         RESULT_NET_UNREACH
 *   REP 0x04 host unreachable            RESULT_HOST_UNREACH
 *   REP 0x05 connection refused          RESULT_REFUSED
 *   REP 0x06 TTL expired                 RESULT_TIMEOUT
 *   REP 0x01, 0x07, 0x08, others         RESULT_REFUSED
 * A failure REP is acted on as soon as its first two bytes are in (some
 * servers close without sending the address).
 *
 * Either way: an answer that does not parse, a parent that closes or
 * resets before its answer is whole -> RESULT_REFUSED; no whole answer
 * within timeouts.handshake -> RESULT_TIMEOUT; the parent not reachable
 * -> the direct egress's result. */
#include "egress/upstream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/bufpool.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/worker.h"
#include "egress/direct.h"
#include "proto/http1.h"
#include "proto/socks.h"

/* Our longest message: CONNECT naming a 255-byte host twice with the
 * longest Basic credentials is under 1300 bytes. */
#define OUT_MAX 1536
/* The longest answer we wait for: a response head, or a SOCKS reply. */
#define ANSWER_MAX BUFPOOL_SIZE
#define NAME_LEN (ADDR_STRLEN + TARGET_HOST_MAX)
#define CRED_MAX 255
#define EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

enum phase {
    PHASE_DIAL,
    PHASE_HTTP_RESPONSE,
    PHASE_SOCKS_METHOD,
    PHASE_SOCKS_AUTH,
    PHASE_SOCKS_REPLY,
};

struct upstream {
    struct worker *w;
    struct upstream_spec spec; /* copied; its strings are borrowed */
    upstream_fn cb;            /* NULL once finished or cancelled */
    void *ud;
    struct target target;
    struct direct *dial;     /* while the parent is dialled */
    struct loop_io io;       /* the parent connection; fd -1 when none */
    struct loop_timer timer; /* timeouts.handshake */
    struct loop_defer free_later;
    enum phase phase;
    bool decided; /* the last answer gave a verdict */
    enum result verdict;
    bool peer_closed; /* the parent half-closed or hung up */
    size_t out_len, out_off;
    uint8_t out[OUT_MAX]; /* the message being sent (may hold secrets) */
};

struct upstream_spec upstream_spec_of(const struct conf_egress *e)
{
    return (struct upstream_spec){
        .type = e->type == CONF_EGRESS_HTTP ? UPSTREAM_HTTP : UPSTREAM_SOCKS5,
        .proxy = e->server,
        .user = e->user,
        .pass = e->password,
    };
}

const char *upstream_type_name(enum upstream_type type)
{
    return type == UPSTREAM_HTTP ? "http" : "socks5";
}

/* ---- end of a dial ---------------------------------------------------- */

static void free_upstream(struct loop_defer *df) { free(df->ud); }

/* Release everything and free at the end of the iteration. */
static void finish(struct upstream *u)
{
    u->cb = NULL;
    direct_cancel(u->dial);
    u->dial = NULL;
    if (u->io.fd >= 0) {
        loop_del(u->w->loop, &u->io);
        close(u->io.fd);
        u->io.fd = -1;
    }
    loop_timer_disarm(u->w->loop, &u->timer);
    explicit_bzero(u->out, sizeof(u->out));
    loop_defer(u->w->loop, &u->free_later, free_upstream, u);
}

static void done(struct upstream *u, enum result r)
{
    upstream_fn cb = u->cb;
    void *ud = u->ud;
    int fd = -1;
    if (r == RESULT_OK) { /* the socket leaves the loop with the caller */
        loop_del(u->w->loop, &u->io);
        fd = u->io.fd;
        u->io.fd = -1;
    }
    finish(u);
    if (cb)
        cb(ud, r, fd);
}

/* One log line naming the parent and the target (never credentials). */
static void say(const struct upstream *u, enum conf_log_level level,
                const char *what)
{
    char parent[NAME_LEN], target[NAME_LEN];
    if (!log_enabled(level))
        return;
    log_msg(level, "upstream: %s parent %s, target %s: %s",
            upstream_type_name(u->spec.type),
            target_format(&u->spec.proxy, parent, sizeof(parent)),
            target_format(&u->target, target, sizeof(target)), what);
}

/* End the dial with r, saying why; returns -ECANCELED for step(). */
static int give_up(struct upstream *u, enum result r, const char *why)
{
    say(u, CONF_LOG_WARN, why);
    done(u, r);
    return -ECANCELED;
}

static void decide(struct upstream *u, enum result r)
{
    u->decided = true;
    u->verdict = r;
}

/* ---- our messages ----------------------------------------------------- */

static void set_out(struct upstream *u, size_t len)
{
    u->out_len = len;
    u->out_off = 0;
}

static int build_connect(struct upstream *u)
{
    const struct upstream_spec *sp = &u->spec;
    char target[NAME_LEN], auth[HTTP1_BASIC_MAX] = "";
    target_format(&u->target, target, sizeof(target));
    if (sp->user) {
        int rc = http1_format_basic(auth, sizeof(auth), sp->user,
                                    sp->pass ? sp->pass : "");
        if (rc < 0)
            return rc;
    }
    int n = snprintf((char *)u->out, sizeof(u->out),
                     "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", target,
                     target, sp->user ? "Proxy-Authorization: " : "", auth,
                     sp->user ? "\r\n" : "");
    explicit_bzero(auth, sizeof(auth));
    if (n < 0 || (size_t)n >= sizeof(u->out))
        return -EINVAL;
    set_out(u, (size_t)n);
    return 0;
}

static void build_greeting(struct upstream *u)
{
    static const uint8_t plain[] = {SOCKS5_VERSION, 1, SOCKS5_METHOD_NONE};
    static const uint8_t both[] = {SOCKS5_VERSION, 2, SOCKS5_METHOD_NONE,
                                   SOCKS5_METHOD_USERPASS};
    const uint8_t *g = u->spec.user ? both : plain;
    size_t n = u->spec.user ? sizeof(both) : sizeof(plain);
    memcpy(u->out, g, n);
    set_out(u, n);
}

/* RFC 1929: VER=1 ULEN UNAME PLEN PASSWD.  Lengths checked at start. */
static void build_userpass(struct upstream *u)
{
    const char *pass = u->spec.pass ? u->spec.pass : "";
    size_t ul = strlen(u->spec.user), pl = strlen(pass), n = 0;
    u->out[n++] = 0x01;
    u->out[n++] = (uint8_t)ul;
    memcpy(u->out + n, u->spec.user, ul);
    n += ul;
    u->out[n++] = (uint8_t)pl;
    memcpy(u->out + n, pass, pl);
    set_out(u, n + pl);
}

/* VER CMD=CONNECT RSV ATYP DST.ADDR DST.PORT; a name goes as ATYP 3. */
static int build_request(struct upstream *u)
{
    /* UDP ASSOCIATE names the client's source: unknown yet, zeros. */
    struct target any = {.kind = TARGET_IP};
    addr_from_ip(&any.ip, "0.0.0.0", 0);
    u->out[0] = SOCKS5_VERSION;
    u->out[1] = u->spec.relay ? SOCKS_CMD_UDP_ASSOCIATE : SOCKS_CMD_CONNECT;
    u->out[2] = 0x00;
    int n = socks5_encode_addr(u->out + 3, sizeof(u->out) - 3,
                               u->spec.relay ? &any : &u->target);
    if (n < 0)
        return n;
    set_out(u, 3 + (size_t)n);
    return 0;
}

/* ---- the parent's answers --------------------------------------------- */

static bool slice_starts(struct http1_slice s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

/* Squid names the cause of its 5xx answers: "ERR_DNS_FAIL 0",
 * "ERR_CONNECT_FAIL 111" (an errno).  Keep that precision. */
static enum result squid_cause(const struct http1_response_head *h,
                               enum result dflt)
{
    const struct http1_header *f =
        http1_find_response_header(h, "X-Squid-Error");
    if (!f)
        return dflt;
    if (slice_starts(f->value, "ERR_DNS_FAIL"))
        return RESULT_DNS;
    if (!slice_starts(f->value, "ERR_CONNECT_FAIL "))
        return dflt;
    int err = 0;
    for (size_t i = 17; i < f->value.len && i < 21; i++) {
        char ch = f->value.p[i];
        if (ch < '0' || ch > '9')
            return dflt;
        err = err * 10 + (ch - '0');
    }
    return err > 0 ? result_from_errno(err) : dflt;
}

static enum result http_verdict(struct upstream *u,
                                const struct http1_response_head *h)
{
    char what[96];
    if (h->status >= 200 && h->status < 300)
        return RESULT_OK;
    snprintf(what, sizeof(what), "answered %d", h->status);
    say(u, CONF_LOG_DEBUG, what);
    switch (h->status) {
    case 403: return RESULT_DENIED;
    case 407:
        say(u, CONF_LOG_WARN,
            u->spec.user ? "parent proxy rejected our credentials (407)"
                          : "parent proxy requires credentials (407); "
                            "configure a user and password for it");
        return RESULT_DENIED;
    case 504: return squid_cause(h, RESULT_TIMEOUT);
    default:
        return h->status >= 500 ? squid_cause(h, RESULT_REFUSED)
                                : RESULT_REFUSED;
    }
}

static int on_http_response(struct upstream *u, const char *b, size_t n)
{
    struct http1_response_head h;
    int len = http1_parse_response_head(b, n, &h);
    if (len == -EAGAIN && n >= ANSWER_MAX)
        return -E2BIG;
    if (len < 0)
        return len;
    if (h.status < 200 && h.status != 101)
        return len; /* RFC 9110 15.2: interim, the answer follows */
    decide(u, http_verdict(u, &h));
    return len;
}

static int on_socks_method(struct upstream *u, const uint8_t *b, size_t n)
{
    if (n < 2)
        return -EAGAIN;
    if (b[0] != SOCKS5_VERSION)
        return -EBADMSG;
    if (b[1] == SOCKS5_METHOD_NONE) {
        u->phase = PHASE_SOCKS_REPLY;
        return build_request(u) < 0 ? -EINVAL : 2;
    }
    if (b[1] == SOCKS5_METHOD_USERPASS && u->spec.user) {
        u->phase = PHASE_SOCKS_AUTH;
        build_userpass(u);
        return 2;
    }
    if (b[1] != SOCKS5_METHOD_UNACCEPTABLE)
        return -EBADMSG; /* a method we did not offer */
    say(u, CONF_LOG_WARN,
        u->spec.user ? "parent proxy accepts none of our methods "
                        "(no auth, user/password)"
                      : "parent proxy requires authentication; configure "
                        "a user and password for it");
    decide(u, RESULT_DENIED);
    return 2;
}

static int on_socks_auth(struct upstream *u, const uint8_t *b, size_t n)
{
    if (n < 2)
        return -EAGAIN;
    /* RFC 1929 says VER 1; some servers answer with 5. */
    if (b[0] != 0x01 && b[0] != SOCKS5_VERSION)
        return -EBADMSG;
    if (b[1] != 0x00) {
        say(u, CONF_LOG_WARN, "parent proxy rejected our credentials");
        decide(u, RESULT_DENIED);
        return 2;
    }
    u->phase = PHASE_SOCKS_REPLY;
    return build_request(u) < 0 ? -EINVAL : 2;
}

static enum result socks_verdict(uint8_t rep)
{
    switch (rep) {
    case 0x00: return RESULT_OK;
    case 0x02: return RESULT_DENIED;
    case 0x03: return RESULT_NET_UNREACH;
    case 0x04: return RESULT_HOST_UNREACH;
    case 0x06: return RESULT_TIMEOUT;
    default: return RESULT_REFUSED;
    }
}

/* Where a UDP ASSOCIATE's datagrams go: BND, or the parent's own IP
 * when BND is unspecified (RFC 1928 lets a server say so). */
static enum result set_relay(struct upstream *u, const struct target *bnd)
{
    struct addr peer;
    if (bnd->kind != TARGET_IP || bnd->port == 0)
        return RESULT_BAD_ADDRTYPE;
    *u->spec.relay = bnd->ip;
    addr_unmap_v4(u->spec.relay);
    if (!addr_is_unspecified(u->spec.relay))
        return RESULT_OK;
    if (sock_peer(u->io.fd, &peer) < 0)
        return RESULT_INTERNAL;
    addr_unmap_v4(&peer);
    addr_set_port(&peer, bnd->port);
    *u->spec.relay = peer;
    return RESULT_OK;
}

/* VER REP RSV ATYP BND.ADDR BND.PORT; BND only matters for UDP. */
static int on_socks_reply(struct upstream *u, const uint8_t *b, size_t n)
{
    struct target bnd;
    if (n < 2)
        return -EAGAIN;
    if (b[0] != SOCKS5_VERSION)
        return -EBADMSG;
    if (b[1] != 0x00) {
        char what[32];
        snprintf(what, sizeof(what), "REP 0x%02x", b[1]);
        say(u, CONF_LOG_DEBUG, what);
        decide(u, socks_verdict(b[1]));
        return (int)n; /* the connection is closed anyway */
    }
    if (n < 4)
        return -EAGAIN;
    int len = socks5_parse_addr(b + 3, n - 3, &bnd);
    if (len == -EAGAIN)
        return -EAGAIN;
    if (len < 0)
        return -EBADMSG;
    decide(u, u->spec.relay ? set_relay(u, &bnd) : RESULT_OK);
    return 3 + len;
}

/* The length of the whole answer at b (>0) with its effect on u, -EAGAIN
 * when it is not whole yet, or another -errno when it is malformed. */
static int parse_answer(struct upstream *u, const char *b, size_t n)
{
    const uint8_t *ub = (const uint8_t *)b;
    switch (u->phase) {
    case PHASE_HTTP_RESPONSE: return on_http_response(u, b, n);
    case PHASE_SOCKS_METHOD: return on_socks_method(u, ub, n);
    case PHASE_SOCKS_AUTH: return on_socks_auth(u, ub, n);
    case PHASE_SOCKS_REPLY: return on_socks_reply(u, ub, n);
    default: return -EINVAL;
    }
}

/* ---- I/O -------------------------------------------------------------- */

static ssize_t recv_some(int fd, char *buf, size_t len, int flags)
{
    ssize_t n;
    do
        n = recv(fd, buf, len, flags);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* What a failed look at the parent's answer means.  got: what the peek
 * returned; len: what parsing returned (-EAGAIN when not whole). */
static int bad_answer(struct upstream *u, ssize_t got, int len)
{
    char why[96];
    if (got == -EAGAIN)
        return -EAGAIN; /* nothing new: wait for the next edge */
    if (got == 0)
        return give_up(u, RESULT_REFUSED, "closed before answering");
    if (got < 0) {
        snprintf(why, sizeof(why), "connection failed: %s",
                 strerror((int)-got));
        return give_up(u, RESULT_REFUSED, why);
    }
    if (len == -EAGAIN && !u->peer_closed)
        return -EAGAIN;
    if (len == -EAGAIN)
        return give_up(u, RESULT_REFUSED, "closed in the middle of its "
                                          "answer");
    if (len == -E2BIG)
        return give_up(u, RESULT_REFUSED, "answer head too large");
    if (len == -EIO)
        return give_up(u, RESULT_INTERNAL, "cannot take the peeked answer");
    return give_up(u, RESULT_REFUSED, "malformed answer");
}

/* Handle one whole answer and consume exactly its bytes.  Returns 0 when
 * one was handled, -EAGAIN to wait, -ECANCELED when the dial ended. */
static int read_answer(struct upstream *u)
{
    char *b = bufpool_get(u->w->bufs);
    if (!b)
        return give_up(u, RESULT_INTERNAL, "out of buffers");
    ssize_t got = recv_some(u->io.fd, b, ANSWER_MAX, MSG_PEEK);
    int len = got > 0 ? parse_answer(u, b, (size_t)got) : -EAGAIN;
    /* The bytes were peeked at: this recv takes them at once. */
    if (len > 0 && recv_some(u->io.fd, b, (size_t)len, 0) != len)
        len = -EIO;
    bufpool_put(u->w->bufs, b);
    if (len <= 0)
        return bad_answer(u, got, len);
    if (u->decided) {
        done(u, u->verdict);
        return -ECANCELED;
    }
    return 0;
}

/* Send the rest of our message.  0 when all is out, -EAGAIN to wait for
 * room, -ECANCELED when the dial ended. */
static int flush(struct upstream *u)
{
    while (u->out_off < u->out_len) {
        ssize_t n = send(u->io.fd, u->out + u->out_off,
                         u->out_len - u->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return -EAGAIN;
        if (n < 0) {
            char why[96];
            snprintf(why, sizeof(why), "send failed: %s", strerror(errno));
            return give_up(u, RESULT_REFUSED, why);
        }
        u->out_off += (size_t)n;
    }
    explicit_bzero(u->out, u->out_len); /* credentials do not linger */
    u->out_off = u->out_len = 0;
    return 0;
}

/* Make all the progress the socket allows now. */
static void step(struct upstream *u)
{
    while (u->cb) {
        int rc = u->out_off < u->out_len ? flush(u) : read_answer(u);
        if (rc == -EAGAIN)
            return;
    }
}

static void on_io(struct loop_io *io, uint32_t events)
{
    struct upstream *u = io->ud;
    if (events & (EPOLLRDHUP | EPOLLHUP))
        u->peer_closed = true;
    step(u);
}

static void on_timeout(struct loop_timer *t)
{
    struct upstream *u = t->ud;
    give_up(u, RESULT_TIMEOUT, "no answer within timeouts.handshake");
}

/* ---- the dial --------------------------------------------------------- */

static void on_dialed(void *ud, enum result r, int fd)
{
    struct upstream *u = ud;
    struct loop *l = u->w->loop;
    u->dial = NULL;
    if (r != RESULT_OK) {
        char why[96];
        snprintf(why, sizeof(why), "cannot reach the parent: %s",
                 result_text(r));
        give_up(u, r, why);
        return;
    }
    sock_tune(fd);
    /* loop_add() stores fd in u->io even when it fails: finish() closes
     * it either way. */
    int rc = loop_add(l, &u->io, fd, EVENTS, on_io, u);
    if (rc == 0)
        rc = loop_timer_arm(l, &u->timer, u->w->conf->timeouts.handshake_ms);
    if (rc < 0) {
        give_up(u, RESULT_INTERNAL, "cannot watch the parent connection");
        return;
    }
    if (u->spec.type == UPSTREAM_SOCKS5) {
        u->phase = PHASE_SOCKS_METHOD;
        build_greeting(u);
    } else {
        u->phase = PHASE_HTTP_RESPONSE;
    }
    step(u);
}

/* Credentials a SOCKS5 parent can be sent (RFC 1929: 255 bytes each). */
static int check_socks_creds(const struct upstream_spec *sp)
{
    if (!sp->user)
        return 0;
    if (strnlen(sp->user, CRED_MAX + 1) > CRED_MAX ||
        (sp->pass && strnlen(sp->pass, CRED_MAX + 1) > CRED_MAX))
        return -EINVAL;
    return 0;
}

int upstream_start(struct worker *w, const struct upstream_spec *spec,
                   const struct target *t, upstream_fn cb, void *ud,
                   struct upstream **out)
{
    if ((spec->type != UPSTREAM_HTTP && spec->type != UPSTREAM_SOCKS5) ||
        t->kind == TARGET_NONE || spec->proxy.kind == TARGET_NONE)
        return -EINVAL;
    struct upstream *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->w = w;
    u->spec = *spec;
    u->cb = cb;
    u->ud = ud;
    u->target = *t;
    u->io.fd = -1;
    loop_timer_init(&u->timer, on_timeout, u);
    /* The HTTP request is built now, so bad credentials fail here. */
    int rc = spec->type == UPSTREAM_HTTP ? build_connect(u)
                                         : check_socks_creds(spec);
    if (rc == 0)
        rc = direct_start(w, &spec->proxy, NULL, on_dialed, u, &u->dial);
    if (rc < 0) {
        explicit_bzero(u->out, sizeof(u->out));
        free(u);
        return rc;
    }
    *out = u;
    return 0;
}

void upstream_cancel(struct upstream *u)
{
    if (u && u->cb)
        finish(u);
}
