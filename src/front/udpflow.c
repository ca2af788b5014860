/* udpflow: see udpflow.h.
 *
 * The descriptor is edge-triggered; each wake-up reads at most
 * READ_BATCH datagrams and re-arms when more may wait, so one busy flow
 * cannot starve the rest of the worker. */
#include "front/udpflow.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "policy/route.h"
#include "proto/socks.h"

#define DGRAM_MAX 65536      /* more than any UDP or tunnel datagram */
#define READ_BATCH 32        /* datagrams per wake-up */
#define MAX_HELD 8           /* datagrams waiting for the route ... */
#define MAX_HELD_BYTES 65536 /* ... and their bytes */
#define IO_EVENTS (EPOLLIN | EPOLLET)

struct held {
    struct held *next;
    size_t len;
    uint8_t data[];
};

struct udpflow {
    struct worker *w; /* borrowed */
    struct request req;
    struct target target;
    struct route *rt;   /* owned while the route is being made */
    struct loop_io io;  /* fd -1 until routed; owned */
    struct loop_io ctl; /* a SOCKS5 parent's association (its datagrams
                           carry SOCKS5 UDP headers); fd -1: none */
    bool seqpacket;     /* a tunnel stream: recv() 0 is its end */
    struct held *held;  /* FIFO, owned */
    struct held **held_tail;
    unsigned n_held;
    size_t held_bytes;
    udpflow_recv_fn on_recv;
    udpflow_end_fn on_end;
    void *ud;
    struct udpflow_stats st;
    bool ended;  /* on_end has run (or the owner closed) */
    bool closed; /* udpflow_close() has run */
    struct loop_defer free_later;
};

static void drop(struct udpflow *f, const char *why)
{
    f->st.dropped++;
    log_debug("udp flow: datagram dropped (%s)", why);
}

static void free_held(struct udpflow *f)
{
    while (f->held) {
        struct held *h = f->held;
        f->held = h->next;
        free(h);
    }
    f->held_tail = &f->held;
    f->n_held = 0;
    f->held_bytes = 0;
}

static void end(struct udpflow *f, enum result r)
{
    if (f->ended)
        return;
    f->ended = true; /* on_io reads no more */
    free_held(f);
    f->on_end(f->ud, r);
}

static void send_now(struct udpflow *f, const uint8_t *p, size_t n)
{
    uint8_t hdr[SOCKS5_UDP_HEADER_MAX];
    struct iovec iov[2] = {{hdr, 0}, {(void *)p, n}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    if (f->ctl.fd >= 0) { /* through a SOCKS5 parent: say where to */
        int h = socks5_encode_udp_header(hdr, sizeof(hdr), &f->target);
        if (h < 0) {
            drop(f, "cannot encode the target");
            return;
        }
        iov[0].iov_len = (size_t)h;
    }
    ssize_t rc;
    do
        rc = sendmsg(f->io.fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        drop(f, strerror(errno)); /* EAGAIN too: UDP may lose it */
        return;
    }
    f->st.up += n;
    f->st.last_active = loop_now(f->w->loop);
}

static void hold(struct udpflow *f, const uint8_t *p, size_t n)
{
    if (f->n_held >= MAX_HELD || f->held_bytes + n > MAX_HELD_BYTES) {
        drop(f, "too many datagrams waiting for the route");
        return;
    }
    struct held *h = malloc(sizeof(*h) + n);
    if (!h) {
        drop(f, "out of memory");
        return;
    }
    h->next = NULL;
    h->len = n;
    memcpy(h->data, p, n);
    *f->held_tail = h;
    f->held_tail = &h->next;
    f->n_held++;
    f->held_bytes += n;
}

void udpflow_send(struct udpflow *f, const uint8_t *p, size_t n)
{
    if (f->ended)
        drop(f, "flow ended");
    else if (f->rt)
        hold(f, p, n);
    else
        send_now(f, p, n);
}

/* --- datagrams from the target ------------------------------------- */

/* A datagram from a SOCKS5 parent's relay: skip its header (fragments
 * are dropped, as RFC 1928 allows).  False when it is dropped. */
static bool strip_header(struct udpflow *f, const uint8_t **p, size_t *n)
{
    uint8_t frag;
    struct target src;
    int h = socks5_parse_udp_header(*p, *n, &frag, &src);
    if (h < 0 || frag != 0) {
        drop(f, h < 0 ? "malformed relay header" : "fragment");
        return false;
    }
    *p += h;
    *n -= (size_t)h;
    return true;
}

/* One recv(): true to go on reading. */
static bool read_one(struct udpflow *f, uint8_t *buf)
{
    ssize_t n;
    do
        n = recv(f->io.fd, buf, DGRAM_MAX, MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n == 0 && f->seqpacket) {
        end(f, RESULT_OK); /* the tunnel stream ended */
        return false;
    }
    if (n < 0 && errno == EAGAIN)
        return false;
    if (n < 0 && f->seqpacket) {
        end(f, result_from_errno(errno));
        return false;
    }
    if (n < 0) { /* an ICMP error surfaced (ECONNREFUSED ...): go on */
        log_debug("udp flow: recv: %s", strerror(errno));
        return true;
    }
    if (n > DGRAM_MAX) {
        drop(f, "datagram too big");
        return true;
    }
    const uint8_t *p = buf;
    size_t len = (size_t)n;
    if (f->ctl.fd >= 0 && !strip_header(f, &p, &len))
        return true;
    f->st.down += len;
    f->st.last_active = loop_now(f->w->loop);
    f->on_recv(f->ud, p, len);
    return !f->ended;
}

/* The association's TCP connection: its end ends the flow (RFC 1928:
 * the relay lives as long as it); anything it says is ignored. */
static void on_ctl(struct loop_io *io, uint32_t events)
{
    struct udpflow *f = io->ud;
    char sink[256];
    (void)events;
    for (;;) {
        ssize_t n = recv(io->fd, sink, sizeof(sink), 0);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        end(f, RESULT_OK);
        return;
    }
}

static void on_io(struct loop_io *io, uint32_t events)
{
    struct udpflow *f = io->ud;
    uint8_t buf[DGRAM_MAX];
    (void)events;
    if (f->ended)
        return;
    for (int i = 0; i < READ_BATCH; i++)
        if (!read_one(f, buf))
            return;
    int rc = loop_mod(f->w->loop, io, IO_EVENTS);
    if (rc < 0)
        end(f, RESULT_INTERNAL);
}

/* --- routing --------------------------------------------------------- */

static bool is_seqpacket(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_SEQPACKET;
}

static void flush_held(struct udpflow *f)
{
    while (f->held && !f->ended) {
        struct held *h = f->held;
        f->held = h->next;
        send_now(f, h->data, h->len);
        free(h);
    }
    free_held(f);
}

static void on_routed(void *ud, enum result r, int fd,
                      const struct route_info *info)
{
    struct udpflow *f = ud;
    char t[TARGET_HOST_MAX + 10];
    f->rt = NULL;
    log_debug("udp flow to %s via %s: %s",
              target_format(&f->target, t, sizeof(t)),
              info && info->egress ? info->egress : "-", result_word(r));
    if (r != RESULT_OK) {
        end(f, r);
        return;
    }
    f->seqpacket = is_seqpacket(fd);
    int rc = loop_add(f->w->loop, &f->io, fd, IO_EVENTS, on_io, f);
    if (rc < 0)
        close(fd);
    int ctl = info->dgram_control;
    if (rc == 0 && ctl >= 0 &&
        (rc = loop_add(f->w->loop, &f->ctl, ctl, EPOLLIN | EPOLLRDHUP | EPOLLET,
                       on_ctl, f)) < 0)
        close(ctl);
    else if (rc < 0 && ctl >= 0)
        close(ctl);
    if (rc < 0) {
        end(f, RESULT_INTERNAL);
        return;
    }
    flush_held(f);
}

int udpflow_open(struct udpflow **out, struct worker *w,
                 const struct request *req, const struct target *t,
                 udpflow_recv_fn on_recv, udpflow_end_fn on_end, void *ud)
{
    struct udpflow *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->w = w;
    f->req = *req;
    f->target = *t;
    f->io.fd = f->ctl.fd = -1;
    f->held_tail = &f->held;
    f->on_recv = on_recv;
    f->on_end = on_end;
    f->ud = ud;
    f->st.last_active = loop_now(w->loop);
    int rc =
        route_start(w, &f->req, &f->target, ROUTE_DGRAM, on_routed, f, &f->rt);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

const struct target *udpflow_target(const struct udpflow *f)
{
    return &f->target;
}

struct udpflow_stats udpflow_stats(const struct udpflow *f)
{
    return f->st;
}

static void free_flow(struct loop_defer *d)
{
    free(d->ud);
}

static void close_io(struct udpflow *f, struct loop_io *io)
{
    if (io->fd < 0)
        return;
    loop_del(f->w->loop, io);
    close(io->fd);
    io->fd = -1; /* an event already fetched for it is skipped */
}

void udpflow_close(struct udpflow *f)
{
    if (!f || f->closed)
        return;
    f->closed = true;
    route_cancel(f->rt);
    f->rt = NULL;
    f->ended = true; /* no callback from now on */
    free_held(f);
    close_io(f, &f->io);
    close_io(f, &f->ctl);
    loop_defer(f->w->loop, &f->free_later, free_flow, f);
}
