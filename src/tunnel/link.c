/* link: see link.h.
 *
 * Input: the transport is read into rbuf and cut into frames; a Data
 * payload goes straight to its stream's descriptor when it takes it, or
 * waits in the stream's chunk queue (bounded by the window we granted).
 * Output: frames are appended to wbuf, whole: first the control queue
 * (window updates, pings, opens and replies), then a chunk read from each
 * ready stream in turn; wbuf is written when it is full or nothing more
 * is ready.  A stream is "ready" while its descriptor is readable and its
 * send window is open.
 *
 * On a plain transport (no TLS, no WebSocket) payloads skip user space:
 * a stream's bytes are spliced into the link's pipe and follow their
 * frame header out of it; an incoming payload of SPLICE_MIN bytes or
 * more is spliced into its stream's pipe and on to the descriptor. */
#include "tunnel/link.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/pipepool.h"
#include "core/worker.h"
#include "proto/yamux.h"
#include "tunnel/tport.h"
#include "tunnel/tunreg.h"

#define RBUF_SIZE 65536
#define WBUF_HIGH (128 * 1024) /* stop pulling from streams here */
#define WBUF_CAP (WBUF_HIGH + 2 * (YAMUX_HEADER_LEN + 2 + 65535))
#define WBUF_COMPACT (32 * 1024) /* see fill() */
#define CHUNK_FAIR 32768       /* a stream's turn when several are ready */
#define SPLICE_FAIR 65536      /* the same, spliced: three syscalls a turn */
#define PASS_MAX (64u << 10)   /* bytes per event before yielding: small
                                  enough that a ping waits < 1 ms */
#define NOTSENT_LOWAT (32u << 10) /* unsent bytes the kernel may hold */
#define RCVBUF_MIN (256u << 10)   /* see tcp_buffers() */
#define RCVBUF_RATE 1250u         /* bytes per microsecond: 10 Gbit/s */
#define RCVBUF_MAX (4u << 20)     /* above: autotuning (tcp_rmem max 6M) */
#define WINDOW_MAX (16u << 20) /* a stream's receive window at most */
#define UDP_ROOM (YAMUX_HEADER_LEN + 2 + TUNMSG_DGRAM_MAX)
#define SPLICE_MIN (16u << 10) /* smaller payloads are cheaper copied */

enum stream_state {
    S_OPENING,   /* we sent an open request; waiting for the reply */
    S_ACCEPTING, /* the peer opened it; reading its open request */
    S_DIALING,   /* the owner is dialling the target */
    S_OPEN,      /* bytes flow */
};

struct chunk {
    struct chunk *next;
    uint32_t off, len;
    bool paid; /* its window was granted already (see link_adopt) */
    uint8_t data[];
};

struct link_stream {
    struct link *link;
    uint32_t id;
    uint8_t state; /* enum stream_state */
    uint8_t kind;  /* enum tunmsg_kind */
    int fd;        /* owned, or -1 */
    int peer_fd;   /* S_OPENING: the opener's end, until handed over */
    struct loop_io io;
    bool readable, writable, in_ring;
    bool pair; /* fd is our end of a socketpair (the opening side) */
    bool copy; /* fd refused splice(): its bytes go through wbuf */
    bool fin_in, fin_out, shut_wr;
    uint32_t send_win, recv_win, recv_max, unacked;
    uint64_t win_time; /* when we last granted window */
    struct pipe_pair rpipe; /* received, spliced, not yet written to fd;
                               from the worker's pool while it holds
                               bytes (then ahead of q_head) */
    uint32_t rpipe_len;
    struct chunk *q_head, *q_tail; /* received, not yet written to fd */
    uint8_t *head;    /* open request / reply / datagram being assembled */
    uint32_t head_len;
    link_open_fn cb; /* S_OPENING */
    void *cb_ud;
    void (*abandon)(void *ctx); /* S_DIALING */
    void *abandon_ctx;
    struct link_handoff *ho; /* adopted: the opener's, see link_adopt */
    struct loop_timer timer; /* S_OPENING: the open timeout; adopted:
                                the idle timeout */
    struct link_stream *rnext, *rprev; /* ring of ready streams */
    struct link_stream *hnext;         /* hash chain */
    struct loop_defer free_later;
};

struct link {
    struct worker *w;
    uint64_t id;
    struct link *next, **pprev; /* the worker's list */
    struct tport *t;            /* owned */
    struct loop_io io;
    struct addr peer;
    struct link_conf conf;
    const struct link_ops *ops;
    void *ud;
    struct tunreg_entry *entry; /* borrowed, or NULL */
    struct link_stream **buckets; /* owned; streams by id */
    unsigned n_buckets, n_streams;
    uint32_t next_id;
    size_t budget_used;
    /* input */
    uint8_t *rbuf;
    uint8_t hdr[YAMUX_HEADER_LEN];
    unsigned hdr_len;
    struct yamux_header cur;
    uint32_t cur_left;           /* payload bytes left in cur */
    struct link_stream *cur_s;   /* cur's stream, NULL: discard */
    bool in_frame;
    bool plain;    /* the transport can splice */
    bool hdr_only; /* read a header alone: its payload may be spliced */
    /* output */
    uint8_t *wbuf;
    size_t woff, wlen;
    uint8_t *ctl; /* whole frames waiting to go before stream data */
    size_t ctl_len, ctl_cap;
    struct link_stream *ring;
    unsigned ring_n;
    struct pipe_pair spipe; /* a payload that follows wbuf, from the
                               worker's pool, or {-1, -1} */
    uint32_t spl_left;      /* its bytes in spipe */
    /* liveness */
    uint64_t last_rx;
    uint64_t ping_sent;
    uint32_t ping_val;
    bool ping_out;
    uint32_t rtt_ms;
    struct loop_timer tick;
    bool goaway_in, goaway_out, closing, closed;
    bool read_more; /* a read pass stopped early: data may be waiting */
    uint64_t full_said; /* when a refusal at max_streams was last logged */
    struct loop_defer kick, free_later;
};

static void stream_end(struct link_stream *s, bool reset);
static void link_kick(struct link *l);
static void stream_io(struct loop_io *io, uint32_t events);

/* ---- stream table ---------------------------------------------------- */

static struct link_stream **bucket(const struct link *l, uint32_t id)
{
    return &l->buckets[(id * 2654435761u) & (l->n_buckets - 1)];
}

static struct link_stream *stream_get(const struct link *l, uint32_t id)
{
    for (struct link_stream *s = *bucket(l, id); s; s = s->hnext)
        if (s->id == id)
            return s;
    return NULL;
}

static int table_grow(struct link *l)
{
    unsigned n = l->n_buckets * 2;
    struct link_stream **b = calloc(n, sizeof(*b));
    if (!b)
        return -ENOMEM;
    struct link_stream **old = l->buckets;
    unsigned old_n = l->n_buckets;
    l->buckets = b;
    l->n_buckets = n;
    for (unsigned i = 0; i < old_n; i++) {
        for (struct link_stream *s = old[i], *next; s; s = next) {
            next = s->hnext;
            struct link_stream **h = bucket(l, s->id);
            s->hnext = *h;
            *h = s;
        }
    }
    free(old);
    return 0;
}

static void table_del(struct link *l, struct link_stream *s)
{
    for (struct link_stream **p = bucket(l, s->id); *p; p = &(*p)->hnext) {
        if (*p == s) {
            *p = s->hnext;
            return;
        }
    }
}

static struct link_stream *stream_new(struct link *l, uint32_t id)
{
    if (l->n_streams >= l->n_buckets && table_grow(l) < 0)
        return NULL;
    struct link_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->link = l;
    s->id = id;
    s->fd = s->peer_fd = -1;
    s->io.fd = -1;
    s->rpipe = (struct pipe_pair){-1, -1};
    s->send_win = s->recv_win = s->recv_max = YAMUX_INITIAL_WINDOW;
    s->win_time = loop_now(l->w->loop);
    l->budget_used += s->recv_max;
    struct link_stream **h = bucket(l, id);
    s->hnext = *h;
    *h = s;
    l->n_streams++;
    if (l->entry)
        tunreg_count(l->entry, 1);
    return s;
}

/* ---- output ---------------------------------------------------------- */

static int ctl_reserve(struct link *l, size_t n)
{
    if (l->ctl_len + n <= l->ctl_cap)
        return 0;
    size_t cap = l->ctl_cap ? l->ctl_cap : 1024;
    while (cap < l->ctl_len + n)
        cap *= 2;
    uint8_t *p = realloc(l->ctl, cap);
    if (!p)
        return -ENOMEM;
    l->ctl = p;
    l->ctl_cap = cap;
    return 0;
}

/* Queue a frame (with its payload, if any) ahead of stream data. */
static void ctl_put(struct link *l, uint8_t type, uint16_t flags,
                    uint32_t id, uint32_t length, const void *payload)
{
    size_t plen = type == YAMUX_DATA ? length : 0;
    if (ctl_reserve(l, YAMUX_HEADER_LEN + plen) < 0) {
        link_close(l, "out_of_memory");
        return;
    }
    struct yamux_header h = {type, flags, id, length};
    yamux_encode(l->ctl + l->ctl_len, &h);
    if (plen)
        memcpy(l->ctl + l->ctl_len + YAMUX_HEADER_LEN, payload, plen);
    l->ctl_len += YAMUX_HEADER_LEN + plen;
    link_kick(l);
}

/* A frame without payload (the value is the Length field). */
static void ctl_frame(struct link *l, uint8_t type, uint16_t flags,
                      uint32_t id, uint32_t value)
{
    ctl_put(l, type, flags, id, value, NULL);
}

static void ring_add(struct link_stream *s)
{
    struct link *l = s->link;
    if (s->in_ring)
        return;
    s->in_ring = true;
    if (!l->ring) {
        s->rnext = s->rprev = s;
        l->ring = s;
    } else { /* last in turn: just before the head */
        s->rnext = l->ring;
        s->rprev = l->ring->rprev;
        s->rprev->rnext = s;
        l->ring->rprev = s;
    }
    l->ring_n++;
    link_kick(l);
}

static void ring_del(struct link_stream *s)
{
    struct link *l = s->link;
    if (!s->in_ring)
        return;
    s->in_ring = false;
    if (--l->ring_n == 0) {
        l->ring = NULL;
    } else {
        s->rprev->rnext = s->rnext;
        s->rnext->rprev = s->rprev;
        if (l->ring == s)
            l->ring = s->rnext;
    }
}

static void ring_check(struct link_stream *s)
{
    bool ready = s->state == S_OPEN && s->readable && !s->fin_out &&
                 s->send_win > (s->kind == TUNMSG_UDP ? 2u : 0u);
    if (ready)
        ring_add(s);
    else
        ring_del(s);
}

static size_t wroom(const struct link *l) { return WBUF_CAP - l->wlen; }

static void wput_header(struct link *l, uint8_t type, uint16_t flags,
                        uint32_t id, uint32_t length)
{
    struct yamux_header h = {type, flags, id, length};
    yamux_encode(l->wbuf + l->wlen, &h);
    l->wlen += YAMUX_HEADER_LEN;
}

/* Move whole control frames into wbuf; false if some did not fit. */
static bool fill_ctl(struct link *l)
{
    size_t off = 0;
    while (off < l->ctl_len) {
        struct yamux_header h;
        yamux_decode(l->ctl + off, l->ctl_len - off, &h);
        size_t n = YAMUX_HEADER_LEN + (h.type == YAMUX_DATA ? h.length : 0);
        if (n > wroom(l))
            break;
        memcpy(l->wbuf + l->wlen, l->ctl + off, n);
        l->wlen += n;
        off += n;
    }
    memmove(l->ctl, l->ctl + off, l->ctl_len - off);
    l->ctl_len -= off;
    return l->ctl_len == 0;
}

/* Count n bytes through an adopted stream's socket (for its access line
 * and its idle timeout). */
static void moved(struct link_stream *s, uint64_t *count, size_t n)
{
    *count += n;
    s->ho->last_active = loop_now(s->link->w->loop);
}

/* A TCP stream's turn read r bytes (their frame header goes into wbuf
 * here), its end (r == 0), or nothing (r == -errno). */
static void pulled(struct link *l, struct link_stream *s, ssize_t r)
{
    if (r > 0) {
        wput_header(l, YAMUX_DATA, 0, s->id, (uint32_t)r);
        s->send_win -= (uint32_t)r;
        if (s->ho)
            moved(s, &s->ho->up, (size_t)r);
    } else if (r == 0) {
        wput_header(l, YAMUX_DATA, YAMUX_FIN, s->id, 0);
        s->fin_out = true;
    } else if (r == -EAGAIN) {
        s->readable = false;
    } else if (r != -EINTR) {
        stream_end(s, true);
        return;
    }
    ring_check(s);
    if (s->fin_out && s->fin_in && s->shut_wr)
        stream_end(s, false);
}

/* One turn of a TCP stream: a chunk of its bytes, or its FIN. */
static void pull_tcp(struct link *l, struct link_stream *s, size_t n)
{
    ssize_t r = read(s->fd, l->wbuf + l->wlen + YAMUX_HEADER_LEN, n);
    pulled(l, s, r < 0 ? -errno : r);
    if (r > 0)
        l->wlen += (size_t)r;
}

/* The same on a plain transport: the bytes go into spipe, to be sent
 * after their header and whatever wbuf held before it. */
static void pull_splice(struct link *l, struct link_stream *s, size_t n)
{
    if (l->spipe.r < 0 && pipepool_get(l->w->pipes, &l->spipe) < 0) {
        pull_tcp(l, s, n);
        return;
    }
    ssize_t r = pipe_splice(s->fd, l->spipe.w, n);
    if (r == -EINVAL) { /* this descriptor cannot be spliced */
        s->copy = true;
        pull_tcp(l, s, n);
        return;
    }
    if (r > 0)
        l->spl_left = (uint32_t)r;
    pulled(l, s, r);
}

/* One turn of a UDP stream: one datagram (dropped when the window is
 * too small for it: UDP may lose datagrams, the link may not stall). */
static void pull_udp(struct link *l, struct link_stream *s)
{
    uint8_t *p = l->wbuf + l->wlen + YAMUX_HEADER_LEN;
    ssize_t r = recv(s->fd, p + 2, TUNMSG_DGRAM_MAX, 0);
    if ((r > 0 || (r == 0 && !s->pair)) && (size_t)r + 2 <= s->send_win) {
        tunmsg_encode_dgram_len(p, (size_t)r);
        wput_header(l, YAMUX_DATA, 0, s->id, (uint32_t)r + 2);
        l->wlen += (size_t)r + 2;
        s->send_win -= (uint32_t)r + 2;
    } else if (r == 0 && s->pair) { /* the opener closed its end */
        wput_header(l, YAMUX_DATA, YAMUX_FIN, s->id, 0);
        s->fin_out = true;
    } else if (r < 0 && errno == EAGAIN) {
        s->readable = false;
    } else if (r < 0 && errno != EINTR && errno != ECONNREFUSED) {
        stream_end(s, true); /* (an ICMP error on a UDP socket is not) */
        return;
    }
    ring_check(s);
    if (s->fin_out) /* nobody is left to take datagrams */
        stream_end(s, false);
}

static void fill(struct link *l)
{
    if (l->spl_left) /* nothing may come between a header and its bytes */
        return;
    if (l->woff == l->wlen)
        l->woff = l->wlen = 0;
    size_t pending = l->wlen - l->woff;
    /* Make room by moving the pending bytes down, but only when they are
     * few: moving a nearly full buffer after each TLS record written took
     * about a tenth of the sending side's CPU. */
    if (l->woff > 0 && wroom(l) < UDP_ROOM &&
        (pending <= WBUF_COMPACT || l->ctl_len > wroom(l))) {
        memmove(l->wbuf, l->wbuf + l->woff, pending);
        l->wlen -= l->woff;
        l->woff = 0;
    }
    if (!fill_ctl(l))
        return;
    while (l->ring && l->wlen - l->woff < WBUF_HIGH && wroom(l) >= UDP_ROOM) {
        struct link_stream *s = l->ring;
        l->ring = s->rnext; /* the next one's turn comes next */
        if (s->kind == TUNMSG_UDP) {
            pull_udp(l, s);
            continue;
        }
        bool splice = l->plain && !s->copy;
        /* Alone, a spliced frame may take a whole pipe (1 MiB): a control
         * frame then waits < 1 ms behind it, and 256 KiB frames cost 10 %
         * of the throughput.  With others ready, 64 KiB turns moved 8
         * streams 40 % faster than 16 KiB, the loaded RTT unchanged;
         * copied through TLS, 32 KiB turns moved them 10-20 % faster than
         * 16 KiB at the same loaded RTT, and 64 KiB ones raised its p99. */
        size_t max = l->ring_n == 1 ? (splice ? pipepool_pipe_size(l->w->pipes)
                                              : wroom(l) - YAMUX_HEADER_LEN)
                     : splice       ? SPLICE_FAIR
                                    : CHUNK_FAIR;
        if (max > s->send_win)
            max = s->send_win;
        if (!splice) {
            pull_tcp(l, s, max);
        } else {
            pull_splice(l, s, max);
            if (l->spl_left)
                return;
        }
    }
}

/* Write some of what is ready: wbuf, then the payload in spipe.  The
 * bytes written, 0 when nothing waits, -EAGAIN or -errno. */
static ssize_t push(struct link *l)
{
    ssize_t r;
    if (l->wlen > l->woff) {
        const uint8_t *p = l->wbuf + l->woff;
        size_t n = l->wlen - l->woff;
        r = l->spl_left ? tport_write_more(l->t, p, n)
                        : tport_write(l->t, p, n);
        if (r > 0)
            l->woff += (size_t)r;
        return r;
    }
    if (!l->spl_left)
        return 0;
    r = tport_splice_out(l->t, l->spipe.r, l->spl_left);
    if (r > 0)
        l->spl_left -= (uint32_t)r;
    return r;
}

static void pump(struct link *l)
{
    size_t moved = 0;
    while (!l->closed) {
        fill(l);
        /* TLS records wait in the transport until nothing more is ready
         * (or its 64 KiB buffer fills): a flush per record made every
         * send() a single 16 KiB record. */
        ssize_t r = push(l);
        if (r == 0)
            r = tport_flush(l->t);
        if (r == 0 || r == -EAGAIN)
            return;
        if (r < 0) {
            link_close(l, "write_error");
            return;
        }
        moved += (size_t)r;
        if (moved >= PASS_MAX) { /* let other connections run */
            link_kick(l);
            return;
        }
    }
}

static void read_pass(struct link *l);

static void on_kick(struct loop_defer *d)
{
    struct link *l = d->ud;
    if (l->closed)
        return;
    if (l->read_more)
        read_pass(l);
    pump(l);
}

static void link_kick(struct link *l)
{
    if (!l->closed)
        loop_defer(l->w->loop, &l->kick, on_kick, l);
}

/* ---- stream ends ----------------------------------------------------- */

static void queue_free(struct link_stream *s)
{
    while (s->q_head) {
        struct chunk *c = s->q_head;
        s->q_head = c->next;
        free(c);
    }
    s->q_tail = NULL;
}

/* Give back a pipe, or close it when it holds n bytes. */
static void pipe_release(struct link *l, struct pipe_pair *p, uint32_t n)
{
    if (n)
        pipepool_drop(p);
    else if (p->r >= 0)
        pipepool_put(l->w->pipes, p);
}

static void close_fd(int fd, bool reset)
{
    if (fd < 0)
        return;
    if (reset) { /* a TCP target sees a reset, not a clean end */
        struct linger lg = {1, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
}

static void notify_end(struct link_stream *s)
{
    if (s->state == S_OPENING && s->cb) {
        link_open_fn cb = s->cb;
        s->cb = NULL;
        cb(s->cb_ud, RESULT_NO_TUNNEL, -1, 0);
    }
    if (s->state == S_DIALING && s->abandon)
        s->abandon(s->abandon_ctx);
}

static void end_handoff(struct link_stream *s, bool reset)
{
    struct link_handoff *h = s->ho;
    s->ho = NULL;
    h->ended = loop_now(s->link->w->loop);
    h->end(h, h->why ? h->why : reset ? "reset" : "eof");
}

static void free_stream(struct loop_defer *d) { free(d->ud); }

/* Forget s; with reset, tell the peer (RST) and the descriptor's far end
 * (SO_LINGER 0). */
static void stream_end(struct link_stream *s, bool reset)
{
    struct link *l = s->link;
    notify_end(s);
    if (s->ho)
        end_handoff(s, reset);
    if (reset && !l->closed)
        ctl_frame(l, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
    ring_del(s);
    if (l->cur_s == s)
        l->cur_s = NULL;
    table_del(l, s);
    l->n_streams--;
    l->budget_used -= s->recv_max;
    if (l->entry)
        tunreg_count(l->entry, -1);
    loop_timer_disarm(l->w->loop, &s->timer);
    loop_del(l->w->loop, &s->io);
    s->io.fd = -1; /* an event of this batch may still name s */
    close_fd(s->fd, reset);
    close_fd(s->peer_fd, false);
    pipe_release(l, &s->rpipe, s->rpipe_len);
    queue_free(s);
    free(s->head);
    loop_defer(l->w->loop, &s->free_later, free_stream, s);
    if (l->n_streams == 0 && l->goaway_out && !l->closed)
        link_close(l, "goaway");
}

/* ---- input to streams ------------------------------------------------ */

/* Grant the peer the window consumed, and more when the stream drains
 * within about two round trips (a window smaller than the
 * bandwidth-delay product caps the stream's speed). */
static void consumed(struct link_stream *s, uint32_t n)
{
    struct link *l = s->link;
    s->unacked += n;
    if (s->unacked < s->recv_max / 2)
        return;
    uint64_t now = loop_now(l->w->loop);
    uint32_t grow = 0;
    if (s->recv_max < WINDOW_MAX &&
        now - s->win_time <= 2 * (uint64_t)l->rtt_ms + 10 &&
        l->budget_used + s->recv_max <= l->conf.budget)
        grow = s->recv_max;
    s->recv_max += grow;
    l->budget_used += grow;
    s->recv_win += s->unacked + grow;
    ctl_frame(l, YAMUX_WINDOW_UPDATE, 0, s->id, s->unacked + grow);
    s->unacked = 0;
    s->win_time = now;
}

static int enqueue(struct link_stream *s, const uint8_t *p, size_t n)
{
    struct chunk *c = malloc(sizeof(*c) + n);
    if (!c)
        return -ENOMEM;
    c->next = NULL;
    c->off = 0;
    c->len = (uint32_t)n;
    c->paid = false;
    memcpy(c->data, p, n);
    if (s->q_tail)
        s->q_tail->next = c;
    else
        s->q_head = c;
    s->q_tail = c;
    return 0;
}

static void maybe_shutdown(struct link_stream *s)
{
    if (!s->fin_in || s->rpipe_len || s->q_head || s->shut_wr || s->fd < 0 ||
        s->state != S_OPEN)
        return;
    s->shut_wr = true;
    if (s->kind == TUNMSG_TCP)
        (void)shutdown(s->fd, SHUT_WR);
    if (s->fin_out || s->kind == TUNMSG_UDP)
        stream_end(s, false);
}

/* Count n bytes written to the descriptor. */
static void delivered(struct link_stream *s, size_t n, bool paid)
{
    if (!paid)
        consumed(s, (uint32_t)n);
    if (s->ho)
        moved(s, &s->ho->down, n);
}

/* Splice the pipe's bytes to the descriptor until it blocks; false when
 * that ended the stream. */
static bool drain_pipe(struct link_stream *s)
{
    while (s->rpipe_len && s->writable) {
        ssize_t r = pipe_splice(s->rpipe.r, s->fd, s->rpipe_len);
        if (r == -EAGAIN) {
            s->writable = false;
        } else if (r < 0) {
            stream_end(s, true);
            return false;
        } else {
            s->rpipe_len -= (uint32_t)r;
            delivered(s, (size_t)r, false);
        }
    }
    if (!s->rpipe_len && s->rpipe.r >= 0)
        pipepool_put(s->link->w->pipes, &s->rpipe);
    return true;
}

/* Write queued bytes to the descriptor until it blocks. */
static void drain(struct link_stream *s)
{
    if (!drain_pipe(s))
        return;
    while (s->q_head && s->writable) {
        struct chunk *c = s->q_head;
        ssize_t r = write(s->fd, c->data + c->off, c->len - c->off);
        if (r < 0) {
            if (errno == EAGAIN)
                s->writable = false;
            else if (errno != EINTR) {
                stream_end(s, true);
                return;
            }
            continue;
        }
        c->off += (uint32_t)r;
        delivered(s, (size_t)r, c->paid);
        if (c->off == c->len) {
            s->q_head = c->next;
            if (!s->q_head)
                s->q_tail = NULL;
            free(c);
        }
    }
    maybe_shutdown(s);
}

/* TCP bytes for the descriptor: straight through when nothing waits. */
static void tcp_in(struct link_stream *s, const uint8_t *p, size_t n)
{
    if (!s->rpipe_len && !s->q_head && s->writable && s->fd >= 0) {
        ssize_t r = write(s->fd, p, n);
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
            stream_end(s, true);
            return;
        }
        if (r < 0)
            s->writable = false;
        size_t done = r > 0 ? (size_t)r : 0;
        if (done)
            delivered(s, done, false);
        p += done;
        n -= done;
    }
    if (n && enqueue(s, p, n) < 0)
        stream_end(s, true);
}

/* Append to the assembly buffer (cap bytes, allocated on first use). */
static int head_add(struct link_stream *s, const uint8_t *p, size_t n,
                    size_t cap)
{
    if (!s->head && !(s->head = malloc(cap)))
        return -ENOMEM;
    if (s->head_len + n > cap)
        n = cap - s->head_len;
    memcpy(s->head + s->head_len, p, n);
    s->head_len += (uint32_t)n;
    return (int)n;
}

static void head_drop(struct link_stream *s, size_t n)
{
    memmove(s->head, s->head + n, s->head_len - n);
    s->head_len -= (uint32_t)n;
    if (s->head_len == 0) {
        free(s->head);
        s->head = NULL;
    }
}

/* Datagrams for a UDP descriptor; a partial one waits in head. */
static void udp_in(struct link_stream *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int took = head_add(s, p, n, 2 + TUNMSG_DGRAM_MAX);
        if (took < 0) {
            stream_end(s, true);
            return;
        }
        p += took;
        n -= (size_t)took;
        const uint8_t *d;
        size_t dlen;
        int used;
        while (s->head &&
               (used = tunmsg_parse_dgram(s->head, s->head_len, &d, &dlen)) >
                   0) {
            if (s->fd >= 0)
                (void)send(s->fd, d, dlen, MSG_DONTWAIT | MSG_NOSIGNAL);
            consumed(s, (uint32_t)used);
            head_drop(s, (size_t)used);
        }
    }
}

static void open_in(struct link_stream *s, const uint8_t *p, size_t n);

static void stream_in(struct link_stream *s, const uint8_t *p, size_t n)
{
    switch (s->state) {
    case S_OPENING:
    case S_ACCEPTING:
        open_in(s, p, n);
        break;
    case S_DIALING: /* kept until the owner has dialled */
        if (enqueue(s, p, n) < 0)
            stream_end(s, true);
        break;
    default:
        if (s->kind == TUNMSG_UDP)
            udp_in(s, p, n);
        else
            tcp_in(s, p, n);
    }
}

static void got_reply(struct link_stream *s, enum result r)
{
    link_open_fn cb = s->cb;
    s->cb = NULL;
    loop_timer_disarm(s->link->w->loop, &s->timer);
    if (r != RESULT_OK) {
        s->state = S_OPEN; /* nothing to notify any more */
        cb(s->cb_ud, r, -1, 0);
        stream_end(s, true);
        return;
    }
    int fd = s->peer_fd;
    s->peer_fd = -1;
    s->state = S_OPEN;
    cb(s->cb_ud, RESULT_OK, fd, s->id);
}

static void got_open(struct link_stream *s, const struct tunmsg_open *o)
{
    struct link *l = s->link;
    s->kind = o->kind;
    s->state = S_DIALING;
    if (!l->conf.accept_streams) {
        link_stream_accept(s, RESULT_DENIED, -1);
        return;
    }
    l->ops->open(l->ud, s, o);
}

/* Bytes before the stream is open: the open request or the reply. */
static void open_in(struct link_stream *s, const uint8_t *p, size_t n)
{
    size_t cap = s->state == S_OPENING ? TUNMSG_REPLY_LEN : TUNMSG_OPEN_MAX;
    size_t before = s->head_len;
    int took = head_add(s, p, n, cap);
    if (took < 0) {
        stream_end(s, true);
        return;
    }
    enum result r;
    struct tunmsg_open o;
    int used = s->state == S_OPENING
                   ? tunmsg_parse_reply(s->head, s->head_len, &r)
                   : tunmsg_parse_open(s->head, s->head_len, &o);
    if (used == -EAGAIN && s->head_len < cap)
        return;
    if (used < 0) {
        log_info("tunnel: stream %u: malformed %s", s->id,
                 s->state == S_OPENING ? "open reply" : "open request");
        if (s->state == S_ACCEPTING &&
            (used == -EAFNOSUPPORT || used == -EINVAL)) {
            /* a version-1 opener gets its reply: why, not just RST */
            link_stream_accept(s, used == -EAFNOSUPPORT ? RESULT_BAD_ADDRTYPE
                                                        : RESULT_BAD_REQUEST,
                               -1);
            return;
        }
        stream_end(s, true);
        return;
    }
    head_drop(s, s->head_len);
    consumed(s, (uint32_t)used);
    struct link *l = s->link;
    uint32_t id = s->id;
    if (s->state == S_OPENING)
        got_reply(s, r);
    else
        got_open(s, &o);
    /* the stream may be gone now; the rest of p is its data */
    size_t rest = (size_t)used - before; /* of p, in the message */
    if (rest < n && (s = stream_get(l, id)))
        stream_in(s, p + rest, n - rest);
}

/* ---- frames ---------------------------------------------------------- */

static bool peer_id(const struct link *l, uint32_t id)
{
    return (id & 1) != (l->conf.client ? 1u : 0u);
}

static void protocol_error(struct link *l, const char *what)
{
    char a[ADDR_STRLEN];
    log_warn("tunnel: link %s: protocol error: %s",
             addr_format(&l->peer, a, sizeof(a)), what);
    ctl_frame(l, YAMUX_GO_AWAY, 0, 0, YAMUX_GOAWAY_PROTOCOL);
    pump(l);
    link_close(l, "protocol_error");
}

/* Whether the link holds max_streams streams; the first refusal in 10 s
 * is logged (a client retrying in a loop must not flood the log). */
static bool link_full(struct link *l)
{
    if (l->n_streams < l->conf.max_streams)
        return false;
    uint64_t now = loop_now(l->w->loop);
    if (!l->full_said || now - l->full_said >= 10000) {
        char a[ADDR_STRLEN];
        log_warn("tunnel: link %s: %u streams, max_streams: new streams "
                 "are refused",
                 addr_format(&l->peer, a, sizeof(a)), l->n_streams);
        l->full_said = now ? now : 1;
    }
    return true;
}

static struct link_stream *peer_syn(struct link *l, uint32_t id)
{
    if (!peer_id(l, id) || stream_get(l, id)) {
        protocol_error(l, "bad stream id in SYN");
        return NULL;
    }
    if (l->goaway_out || link_full(l)) {
        ctl_frame(l, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
        return NULL;
    }
    struct link_stream *s = stream_new(l, id);
    if (!s) {
        ctl_frame(l, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
        return NULL;
    }
    s->state = S_ACCEPTING;
    ctl_frame(l, YAMUX_WINDOW_UPDATE, YAMUX_ACK, id, 0);
    return s;
}

static void on_ping(struct link *l, const struct yamux_header *h)
{
    if (h->flags & YAMUX_SYN) {
        ctl_frame(l, YAMUX_PING, YAMUX_ACK, 0, h->length);
    } else if (l->ping_out && h->length == l->ping_val) {
        l->ping_out = false;
        l->rtt_ms = (uint32_t)(loop_now(l->w->loop) - l->ping_sent);
    }
}

static void on_goaway(struct link *l)
{
    if (l->goaway_in)
        return;
    l->goaway_in = true;
    l->ops->goaway(l->ud, l);
}

/* A complete header in l->cur: act on it; payload follows if Data. */
static void on_header(struct link *l)
{
    const struct yamux_header *h = &l->cur;
    if (h->type == YAMUX_PING) {
        on_ping(l, h);
        return;
    }
    if (h->type == YAMUX_GO_AWAY) {
        on_goaway(l);
        return;
    }
    struct link_stream *s = h->flags & YAMUX_SYN ? peer_syn(l, h->stream_id)
                                                 : stream_get(l, h->stream_id);
    if (l->closed)
        return;
    if (h->type == YAMUX_WINDOW_UPDATE && s) {
        if ((uint64_t)s->send_win + h->length > UINT32_MAX) {
            protocol_error(l, "window overflow");
            return;
        }
        s->send_win += h->length;
        ring_check(s);
    }
    if (h->type == YAMUX_DATA) {
        if (s && h->length > s->recv_win) {
            protocol_error(l, "data beyond the window");
            return;
        }
        if (s)
            s->recv_win -= h->length;
        l->cur_s = s;
        l->cur_left = h->length;
        l->in_frame = h->length > 0;
    }
    if (s && (h->flags & YAMUX_RST))
        stream_end(s, false);
}

/* The frame in l->cur is complete: FIN takes effect after its data. */
static void on_frame_end(struct link *l)
{
    struct link_stream *s = l->cur_s;
    l->cur_s = NULL;
    l->in_frame = false;
    if (!s || !(l->cur.flags & YAMUX_FIN) || (l->cur.flags & YAMUX_RST))
        return;
    s->fin_in = true;
    if (s->state == S_OPENING || s->state == S_ACCEPTING) {
        stream_end(s, true); /* ended before it was open */
        return;
    }
    maybe_shutdown(s);
}

static void consume(struct link *l, const uint8_t *p, size_t n)
{
    while (n > 0 && !l->closed) {
        if (l->in_frame) {
            size_t take = n < l->cur_left ? n : l->cur_left;
            if (l->cur_s)
                stream_in(l->cur_s, p, take);
            l->cur_left -= (uint32_t)take;
            p += take;
            n -= take;
            if (l->cur_left == 0)
                on_frame_end(l);
            continue;
        }
        size_t take = YAMUX_HEADER_LEN - l->hdr_len;
        if (take > n)
            take = n;
        memcpy(l->hdr + l->hdr_len, p, take);
        l->hdr_len += (unsigned)take;
        p += take;
        n -= take;
        if (l->hdr_len < YAMUX_HEADER_LEN)
            return;
        l->hdr_len = 0;
        if (yamux_decode(l->hdr, YAMUX_HEADER_LEN, &l->cur) < 0) {
            protocol_error(l, "malformed frame header");
            return;
        }
        l->cur_s = NULL;
        on_header(l);
        if (!l->in_frame && l->cur.stream_id != 0 && !l->closed) {
            l->cur_s = stream_get(l, l->cur.stream_id);
            on_frame_end(l);
        }
    }
}

/* Fill rbuf as far as the transport gives (a TLS read returns one
 * record): a frame's payload then goes to its descriptor in one write,
 * not one per record.  Returns the last read's result. */
static ssize_t fill_rbuf(struct link *l, size_t *got)
{
    size_t want = l->hdr_only ? YAMUX_HEADER_LEN - l->hdr_len : RBUF_SIZE;
    ssize_t r = 0;
    *got = 0;
    while (*got < want &&
           (r = tport_read(l->t, l->rbuf + *got, want - *got)) > 0)
        *got += (size_t)r;
    return r;
}

/* Whether the rest of the current payload should be spliced. */
static bool splice_ready(const struct link *l)
{
    const struct link_stream *s = l->cur_s;
    return l->plain && l->in_frame && l->cur_left >= SPLICE_MIN && s &&
           s->state == S_OPEN && s->kind == TUNMSG_TCP && s->fd >= 0 &&
           !s->copy && !s->q_head &&
           s->rpipe_len < pipepool_pipe_size(l->w->pipes);
}

/* Read into rbuf and cut it into frames.  Returns like fill_rbuf. */
static ssize_t copy_in(struct link *l, size_t *got)
{
    ssize_t r = fill_rbuf(l, got);
    if (*got > 0) {
        l->last_rx = loop_now(l->w->loop);
        consume(l, l->rbuf, *got);
    }
    if (l->hdr_only && !splice_ready(l))
        l->hdr_only = false; /* a small frame: back to large reads */
    return r;
}

/* Splice the current payload into its stream's pipe and on.  Returns
 * like fill_rbuf. */
static ssize_t splice_in(struct link *l, size_t *got)
{
    struct link_stream *s = l->cur_s;
    struct pipepool *pp = l->w->pipes;
    *got = 0;
    if (s->rpipe.r < 0 && pipepool_get(pp, &s->rpipe) < 0) {
        s->copy = true;
        return copy_in(l, got);
    }
    size_t room = pipepool_pipe_size(pp) - s->rpipe_len;
    ssize_t r = tport_splice_in(l->t, s->rpipe.w,
                                l->cur_left < room ? l->cur_left : room);
    if (r == -EAGAIN && s->rpipe_len) /* the pipe may be full: copy */
        return copy_in(l, got);
    if (r == -EINVAL) { /* this socket cannot be spliced */
        l->plain = false;
        return copy_in(l, got);
    }
    if (r <= 0)
        return r;
    *got = (size_t)r;
    l->last_rx = loop_now(l->w->loop);
    l->cur_left -= (uint32_t)r;
    s->rpipe_len += (uint32_t)r;
    drain(s);
    if (l->cur_left == 0) {
        on_frame_end(l);
        l->hdr_only = true; /* the next payload may be large too */
    }
    return r;
}

static void read_pass(struct link *l)
{
    size_t moved = 0;
    while (!l->closed) {
        size_t got;
        ssize_t r = splice_ready(l) ? splice_in(l, &got) : copy_in(l, &got);
        moved += got;
        if (r == -EAGAIN || l->closed)
            break;
        if (r <= 0) {
            link_close(l, r == 0 ? "eof" : "read_error");
            return;
        }
        if (moved >= PASS_MAX) { /* the rest on the next pass */
            l->read_more = true;
            link_kick(l);
            return;
        }
    }
    l->read_more = false;
}

static void link_io(struct loop_io *io, uint32_t events)
{
    struct link *l = io->ud;
    read_pass(l);
    if (!l->closed)
        pump(l);
}

/* ---- stream descriptors ---------------------------------------------- */

static void stream_io(struct loop_io *io, uint32_t events)
{
    struct link_stream *s = io->ud;
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
        s->writable = true;
        uint32_t id = s->id;
        struct link *l = s->link;
        drain(s);
        if (!(s = stream_get(l, id)))
            return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        s->readable = true;
        ring_check(s);
    }
}

static int stream_watch(struct link_stream *s)
{
    s->writable = true;
    return loop_add(s->link->w->loop, &s->io, s->fd,
                    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, stream_io, s);
}

/* ---- opening --------------------------------------------------------- */

static void open_timeout(struct loop_timer *t)
{
    struct link_stream *s = t->ud;
    link_open_fn cb = s->cb;
    s->cb = NULL;
    s->state = S_OPEN;
    cb(s->cb_ud, RESULT_TIMEOUT, -1, 0);
    stream_end(s, true);
}

static int open_pair(struct link_stream *s, uint8_t kind)
{
    int type = kind == TUNMSG_UDP ? SOCK_SEQPACKET : SOCK_STREAM;
    int sv[2];
    if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    s->fd = sv[0];
    s->peer_fd = sv[1];
    s->kind = kind;
    s->pair = true;
    return stream_watch(s);
}

int link_open(struct link *l, const struct tunmsg_open *o, link_open_fn cb,
              void *ud)
{
    if (l->closed || l->goaway_in || l->goaway_out || link_full(l))
        return -EBUSY;
    uint8_t req[TUNMSG_OPEN_MAX];
    int len = tunmsg_encode_open(req, sizeof(req), o);
    if (len < 0)
        return len;
    struct link_stream *s = stream_new(l, l->next_id);
    if (!s)
        return -ENOMEM;
    l->next_id += 2;
    int rc = open_pair(s, o->kind);
    if (rc < 0) {
        s->state = S_OPEN;
        stream_end(s, false);
        return rc;
    }
    s->state = S_OPENING;
    s->cb = cb;
    s->cb_ud = ud;
    s->send_win -= (uint32_t)len;
    ctl_frame(l, YAMUX_WINDOW_UPDATE, YAMUX_SYN, s->id, 0);
    ctl_put(l, YAMUX_DATA, 0, s->id, (uint32_t)len, req);
    loop_timer_init(&s->timer, open_timeout, s);
    if (loop_timer_arm(l->w->loop, &s->timer, l->conf.open_timeout_ms) < 0)
        log_warn("tunnel: no open timeout for stream %u", s->id);
    return 0;
}

void link_stream_accept(struct link_stream *s, enum result r, int fd)
{
    struct link *l = s->link;
    uint8_t reply[TUNMSG_REPLY_LEN];
    s->abandon = NULL;
    tunmsg_encode_reply(reply, sizeof(reply), r);
    if (!l->closed)
        ctl_put(l, YAMUX_DATA, 0, s->id, sizeof(reply), reply);
    s->send_win -= s->send_win < sizeof(reply) ? s->send_win : sizeof(reply);
    s->state = S_OPEN;
    if (r != RESULT_OK) {
        if (!l->closed)
            ctl_frame(l, YAMUX_DATA, YAMUX_FIN, s->id, 0);
        stream_end(s, false);
        return;
    }
    s->fd = fd;
    if (stream_watch(s) < 0) {
        stream_end(s, true);
        return;
    }
    uint32_t id = s->id;
    if (s->kind == TUNMSG_UDP && s->q_head) { /* datagrams that waited */
        struct chunk *c = s->q_head;
        s->q_head = s->q_tail = NULL;
        while (c) {
            struct chunk *next = c->next;
            if ((s = stream_get(l, id)))
                udp_in(s, c->data, c->len);
            free(c);
            c = next;
        }
        return;
    }
    drain(s);
}

void link_stream_on_abandon(struct link_stream *s, void (*fn)(void *ctx),
                            void *ctx)
{
    s->abandon = fn;
    s->abandon_ctx = ctx;
}

struct link *link_stream_link(const struct link_stream *s) { return s->link; }

/* ---- adopted streams ------------------------------------------------- */

/* The peer is told (RST); the socket sees a clean end, as a session's
 * client does at its idle timeout. */
static void idle_check(struct loop_timer *t)
{
    struct link_stream *s = t->ud;
    struct link *l = s->link;
    uint64_t quiet = loop_now(l->w->loop) - s->ho->last_active;
    if (quiet < s->ho->idle_ms &&
        loop_timer_arm(l->w->loop, t, s->ho->idle_ms - quiet) == 0)
        return;
    s->ho->why = "idle";
    ctl_frame(l, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
    stream_end(s, false);
}

/* Put the n bytes waiting in fd (a socketpair's end or a pipe) at the
 * head of the stream's queue.  paid: their window was granted already.
 * Returns the number taken, or -ENOMEM. */
static ssize_t unread(struct link_stream *s, int fd, size_t n, bool paid)
{
    struct chunk *c = malloc(sizeof(*c) + n);
    if (!c)
        return -ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, c->data + got, n - got);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            break;
        got += r > 0 ? (size_t)r : 0;
    }
    /* fields one by one: assigning a whole struct would also write its
     * tail padding, which overlaps data[] */
    c->next = s->q_head;
    c->off = 0;
    c->len = (uint32_t)got;
    c->paid = paid;
    s->q_head = c;
    if (!s->q_tail)
        s->q_tail = c;
    return (ssize_t)got;
}

/* The socketpair is going: the bytes it holds, which the opener did not
 * read, go to the adopted socket first (their window was granted), then
 * those spliced for it and not yet written, then the queue. */
static int take_pair(struct link_stream *s, int pair)
{
    ssize_t rc = 0;
    int n = 0;
    if (s->rpipe_len) {
        rc = unread(s, s->rpipe.r, s->rpipe_len, false);
        if (rc < 0)
            return (int)rc;
        s->rpipe_len -= (uint32_t)rc; /* (none left: the pipe had them) */
        pipe_release(s->link, &s->rpipe, s->rpipe_len);
        s->rpipe_len = 0;
    }
    if (ioctl(pair, FIONREAD, &n) < 0)
        return -errno;
    if (n > 0 && (rc = unread(s, pair, (size_t)n, true)) < 0)
        return (int)rc;
    return 0;
}

int link_adopt(struct link *l, uint32_t id, int sock, int pair,
               struct link_handoff *h)
{
    struct link_stream *s = stream_get(l, id);
    if (l->closed || !s || !s->pair || s->kind != TUNMSG_TCP || s->ho)
        return -ENOENT;
    int rc = take_pair(s, pair);
    if (rc < 0)
        return rc;
    loop_del(l->w->loop, &s->io);
    close(s->fd);
    close(pair);
    s->fd = sock;
    s->pair = false;
    s->readable = false; /* the socket's first event says */
    s->shut_wr = false;  /* a FIN that came goes to sock, after the queue */
    s->ho = h;
    h->last_active = loop_now(l->w->loop);
    loop_timer_init(&s->timer, idle_check, s);
    if (stream_watch(s) < 0 ||
        (h->idle_ms &&
         loop_timer_arm(l->w->loop, &s->timer, h->idle_ms) < 0)) {
        stream_end(s, true);
        return 0;
    }
    log_debug("tunnel: stream %u: the link relays its opener's socket", id);
    drain(s);
    return 0;
}

/* ---- the link -------------------------------------------------------- */

static void tick(struct loop_timer *t)
{
    struct link *l = t->ud;
    uint64_t now = loop_now(l->w->loop);
    if (now - l->last_rx >= l->conf.timeout_ms) {
        link_close(l, "timeout");
        return;
    }
    if (!l->ping_out) {
        l->ping_out = true;
        l->ping_sent = now;
        ctl_frame(l, YAMUX_PING, YAMUX_SYN, 0, ++l->ping_val);
    }
    if (loop_timer_arm(l->w->loop, &l->tick, l->conf.ping_ms) < 0)
        link_close(l, "out_of_memory");
}

/* The kernel's own liveness checks as well: keepalive probes, and
 * TCP_USER_TIMEOUT so unacknowledged data cannot hang the link for the
 * kernel's ~15 minutes of retransmissions.  Best effort (not for a
 * socket that is not TCP). */
static void tcp_liveness(int fd, const struct link_conf *c)
{
    int on = 1, idle = (int)(c->ping_ms / 1000) + 1;
    unsigned user = c->timeout_ms;
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user));
}

/* Bound the bytes queued in the kernel ahead of a new frame, so a small
 * frame (a ping, a keystroke) does not wait behind megabytes of bulk
 * data: frames wait in wbuf, where control frames go first and streams
 * take turns.  Unsent bytes: TCP_NOTSENT_LOWAT.  Received bytes: a fixed
 * receive buffer of one bandwidth-delay product at 10 Gbit/s for the
 * handshake's round trip, at least RCVBUF_MIN; autotuning grew it to
 * megabytes on loopback, which put a ping 5 ms behind bulk data.  Left
 * to autotuning where that product exceeds RCVBUF_MAX (a round trip
 * over about 3 ms).  Best effort, like tcp_liveness(). */
static void tcp_buffers(int fd)
{
    int lowat = NOTSENT_LOWAT;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
                     sizeof(lowat));
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
        len < offsetof(struct tcp_info, tcpi_rtt) + sizeof(ti.tcpi_rtt))
        return;
    uint64_t want = (uint64_t)ti.tcpi_rtt * RCVBUF_RATE;
    if (want < RCVBUF_MIN)
        want = RCVBUF_MIN;
    int v = (int)want;
    if (want <= RCVBUF_MAX)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static int link_alloc(struct link *l)
{
    l->n_buckets = 16;
    l->buckets = calloc(l->n_buckets, sizeof(*l->buckets));
    l->rbuf = malloc(RBUF_SIZE);
    l->wbuf = malloc(WBUF_CAP);
    return l->buckets && l->rbuf && l->wbuf ? 0 : -ENOMEM;
}

static void link_release(struct link *l)
{
    free(l->buckets);
    free(l->rbuf);
    free(l->wbuf);
    free(l->ctl);
    tport_free(l->t);
    free(l);
}

int link_new(struct link **out, struct worker *w, struct tport *t,
             const struct addr *peer, const struct link_conf *c,
             const struct link_ops *ops, void *ud)
{
    struct link *l = calloc(1, sizeof(*l));
    if (!l) {
        tport_free(t);
        return -ENOMEM;
    }
    l->w = w;
    l->t = t;
    l->spipe = (struct pipe_pair){-1, -1};
    l->plain = tport_plain(t);
    l->peer = *peer;
    l->conf = *c;
    l->ops = ops;
    l->ud = ud;
    l->next_id = c->client ? 1 : 2;
    l->id = ((uint64_t)w->id << 40) | ++w->link_seq;
    l->last_rx = loop_now(w->loop);
    tcp_liveness(tport_fd(t), c);
    tcp_buffers(tport_fd(t));
    int rc = link_alloc(l);
    if (rc == 0)
        rc = loop_add(w->loop, &l->io, tport_fd(t),
                      EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, link_io, l);
    if (rc < 0) {
        link_release(l);
        return rc;
    }
    loop_timer_init(&l->tick, tick, l);
    l->next = w->links;
    if (w->links)
        w->links->pprev = &l->next;
    l->pprev = &w->links;
    w->links = l;
    tick(&l->tick); /* the first ping measures the round trip */
    link_kick(l);   /* bytes may have arrived with the handshake */
    *out = l;
    return 0;
}

uint64_t link_id(const struct link *l) { return l->id; }
const struct addr *link_peer(const struct link *l) { return &l->peer; }
void link_set_entry(struct link *l, struct tunreg_entry *e)
{
    l->entry = e;
    if (e)
        tunreg_count(e, (int)l->n_streams);
}
struct tunreg_entry *link_entry(const struct link *l) { return l->entry; }

/* A UDP stream never ends by itself: at a drain it is reset, and the
 * opener's next datagram opens a stream on another link. */
static void reset_udp_streams(struct link *l)
{
    for (unsigned i = 0; i < l->n_buckets && !l->closed; i++) {
        for (struct link_stream *s = l->buckets[i], *next; s; s = next) {
            next = s->hnext;
            if (s->kind == TUNMSG_UDP)
                stream_end(s, true);
            if (l->closed)
                return;
        }
    }
}

void link_goaway(struct link *l)
{
    if (l->closed || l->goaway_out)
        return;
    l->goaway_out = true;
    ctl_frame(l, YAMUX_GO_AWAY, 0, 0, YAMUX_GOAWAY_NORMAL);
    reset_udp_streams(l);
    if (l->n_streams == 0 && !l->closed)
        link_close(l, "goaway");
}

static void free_link(struct loop_defer *d) { link_release(d->ud); }

void link_close(struct link *l, const char *why)
{
    if (l->closed || l->closing)
        return;
    l->closing = true;
    pump(l); /* a last GoAway or RST may still fit */
    l->closed = true;
    for (unsigned i = 0; i < l->n_buckets; i++) {
        while (l->buckets[i]) {
            struct link_stream *s = l->buckets[i];
            if (s->ho)
                s->ho->why = strcmp(why, "stop") == 0 ? "shutdown"
                                                      : "link_down";
            stream_end(s, true);
        }
    }
    pipe_release(l, &l->spipe, l->spl_left);
    loop_timer_disarm(l->w->loop, &l->tick);
    loop_del(l->w->loop, &l->io);
    l->io.fd = -1; /* events of this batch skip it (freed deferred) */
    *l->pprev = l->next;
    if (l->next)
        l->next->pprev = l->pprev;
    l->ops->down(l->ud, l, why);
    loop_defer(l->w->loop, &l->free_later, free_link, l);
    worker_maybe_exit(l->w);
}

struct link *link_find(struct worker *w, uint64_t id)
{
    for (struct link *l = w->links; l; l = l->next)
        if (l->id == id)
            return l;
    return NULL;
}

void link_goaway_all(struct worker *w)
{
    for (struct link *l = w->links, *next; l; l = next) {
        next = l->next;
        link_goaway(l);
    }
}

void link_close_all(struct worker *w, const char *why)
{
    while (w->links)
        link_close(w->links, why);
}
