/*
 * ferrybench.c - the load tool of ferry's benchmark suite (bench/run.sh).
 *
 * One self-contained C17 program, libc only:
 *
 *     cc -std=c17 -O2 -Wall -Wextra -pthread -o ferrybench ferrybench.c
 *
 * It plays both ends of a proxied connection on loopback:
 *
 *   server   a sink/source/echo server: one epoll loop per thread, each with
 *            its own SO_REUSEPORT listener, thousands of connections each;
 *   single   download (or upload) N bytes over one stream, MB/s (with
 *            --pid: also the CPU time of those process trees per GB);
 *   multi    8 concurrent download streams, aggregate MB/s;
 *   rtt      20,000 1-byte ping-pongs on one connection, p50/p99 in us;
 *   loaded   the same ping-pongs on one connection while 8 others download
 *            without end through the same proxy: RTT under load;
 *   rate     connect + proxy handshake + 1-byte echo + close, concurrency 32,
 *            for a fixed time, connections/s;
 *   idle     open K tunnelled connections, leave them idle, read the proxy's
 *            RSS (summed over its process trees): KiB per connection;
 *   opens    open K connections at once, each with its handshake and one
 *            1-byte echo: time until all K are open;
 *   wait     wait until a TCP port accepts connections, or until a
 *            connection through a proxy reaches the target (for scripts);
 *   httpsink an HTTP/1.1 origin that reads and discards request bodies
 *            (Content-Length framed) and answers 200 with no body;
 *   post     POST N bytes (default 100 MB) to the httpsink, directly or
 *            through an HTTP forward proxy, MB/s until the response;
 *   udpecho  a UDP echo server (recvmmsg/sendmmsg, one thread);
 *   udp      SOCKS5 UDP ASSOCIATE, then datagrams to the udpecho server
 *            with a bounded window in flight: echoed datagrams/s and loss.
 *
 * Every client reaches the server through --via: "direct", "connect://H:P"
 * (HTTP CONNECT), "socks5://H:P" (SOCKS5, no auth, IPv4 target),
 * "relay://H:P" (a fixed-backend TCP relay such as HAProxy in tcp mode: the
 * client only connects to H:P) or, for `post` only, "http://H:P" (an HTTP
 * forward proxy: the request target is the absolute URI).
 *
 * Bench protocol: the client opens with a 9-byte header, 1 byte mode and
 * 8 bytes N big-endian:
 *   'D'  download: the server sends N bytes, then waits for EOF;
 *   'U'  upload: the server reads exactly N bytes, then replies 1 byte;
 *   'E'  echo: the server echoes every byte; N = 0: until EOF; N > 0: it
 *        closes once it has echoed N bytes.
 * Byte counts are announced up front and nothing relies on half-close:
 * several proxies close both directions when the client half-closes.
 *
 * Who closes first matters when tens of thousands of short connections go
 * through a proxy: the side that closes first keeps TIME_WAIT.  `rate` and
 * `idle` let the server close first (echo with N > 0) and close on EOF, so
 * TIME_WAIT lands on the server's and the proxy's listening ports and no
 * one runs out of ephemeral ports (dante binds its outgoing socket to port
 * 0 before connecting, which fails once TIME_WAIT holds the whole range).
 *
 * Results are printed one per line, "metric=NAME value=X key=val ...", so a
 * script can pick them out with awk; diagnostics go to stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HDR_LEN 9
#define IO_CHUNK (256 * 1024)
#define DIAL_TIMEOUT_MS 10000
#define RATE_CONN_TIMEOUT_NS (5 * NS_PER_S)
#define NS_PER_S 1000000000ull
#define PING_BYTE 'x'
#define MAX_EVENTS 512
#define MAX_TREE 4096
#define MAX_ROOTS 8

/* Zero bytes to send from; only ever read, so threads share it. */
static unsigned char zeros[IO_CHUNK];

enum via_kind { VIA_DIRECT, VIA_CONNECT, VIA_SOCKS5, VIA_RELAY, VIA_HTTP };

struct opts {
    const char *cmd;
    struct sockaddr_in target;  /* the bench server, as the proxy sees it */
    struct sockaddr_in listen;  /* server: where to listen */
    struct sockaddr_in proxy;   /* where clients connect unless direct */
    enum via_kind via;
    const char *via_str;
    uint64_t bytes;             /* single: stream size */
    bool upload;                /* single: upload instead of download */
    int streams;                /* multi, loaded: bulk streams */
    int count;                  /* rtt: ping-pongs */
    int concurrency;            /* rate; opens: in flight (default all) */
    double seconds;             /* rate, multi, loaded: measuring window */
    int conns;                  /* idle, opens: connections to open */
    int warmup;                 /* idle: connections opened and closed first */
    double settle;              /* idle: seconds to wait before reading RSS */
    pid_t pids[MAX_ROOTS];      /* idle: the proxy's processes (roots) */
    int npids;
    int threads;                /* server, httpsink */
    int window;                 /* udp: datagrams in flight */
    int size;                   /* udp: payload bytes */
    double timeout;             /* whole-run bound, seconds */
};

/* ---------------------------------------------------------------- utils */

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("ferrybench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return -EINVAL;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -EINVAL;
    return 0;
}

static int parse_via(const char *s, struct opts *o)
{
    static const struct {
        const char *prefix;
        enum via_kind kind;
    } kinds[] = {
        { "connect://", VIA_CONNECT },
        { "socks5://", VIA_SOCKS5 },
        { "relay://", VIA_RELAY },
        { "http://", VIA_HTTP },
    };

    o->via_str = s;
    if (strcmp(s, "direct") == 0) {
        o->via = VIA_DIRECT;
        return 0;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);

        if (strncmp(s, kinds[i].prefix, n) == 0) {
            o->via = kinds[i].kind;
            return parse_addr(s + n, &o->proxy);
        }
    }
    return -EINVAL;
}

/* "2G", "512M", "64K" (binary multiples) or plain bytes. */
static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    switch (toupper((unsigned char)*end)) {
    case 'G': v <<= 30; end++; break;
    case 'M': v <<= 20; end++; break;
    case 'K': v <<= 10; end++; break;
    default: break;
    }
    if (*end || end == s)
        die("bad size '%s'", s);
    return v;
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit: %s", strerror(errno));
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("setrlimit: %s", strerror(errno));
}

static int set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

static void set_nodelay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Blocking send of the whole buffer; 0 or -errno. */
static int send_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put_header(unsigned char *h, char mode, uint64_t n)
{
    h[0] = (unsigned char)mode;
    for (int i = 0; i < 8; i++)
        h[1 + i] = (unsigned char)(n >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ------------------------------------------------------------ handshake */

/*
 * One client connection on its way through connect(), the proxy handshake
 * and, if echo_n > 0, one 1-byte echo: the header 'E' echo_n and the ping
 * byte go out together.  With echo_n == 1 the server then closes, and the
 * connection is done at EOF (HS_EOF).  The script is a list of steps, each
 * "send out[], read until the reply is complete"; step_fill() and
 * step_reply() do no I/O, hs_drive() does all of it on a non-blocking
 * socket.
 */
enum hs_phase { HS_IDLE, HS_CONNECTING, HS_STEPS, HS_EOF, HS_DONE };

struct hs {
    int fd;
    enum hs_phase phase;
    int step;
    int nsteps;
    uint64_t echo_n;        /* N of the 'E' header; 0: no echo step */
    short want;             /* POLLIN/POLLOUT when hs_drive() returns 0 */
    uint64_t started;       /* now_ns() at hs_start() */
    size_t out_len, out_off;
    size_t in_len;
    unsigned char out[160];
    unsigned char in[512];
};

static int via_steps(const struct opts *o)
{
    switch (o->via) {
    case VIA_CONNECT: return 1;
    case VIA_SOCKS5: return 2;
    default: return 0;
    }
}

static size_t fill_connect(unsigned char *out, size_t cap,
                           const struct sockaddr_in *t)
{
    char ip[INET_ADDRSTRLEN];
    int n;

    inet_ntop(AF_INET, &t->sin_addr, ip, sizeof ip);
    n = snprintf((char *)out, cap,
                 "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                 ip, ntohs(t->sin_port), ip, ntohs(t->sin_port));
    return (size_t)n;
}

static size_t fill_socks5(unsigned char *out, int step,
                          const struct sockaddr_in *t)
{
    if (step == 0) {
        out[0] = 5;     /* version */
        out[1] = 1;     /* one method: */
        out[2] = 0;     /* no authentication */
        return 3;
    }
    out[0] = 5;         /* version */
    out[1] = 1;         /* CONNECT */
    out[2] = 0;
    out[3] = 1;         /* IPv4 */
    memcpy(out + 4, &t->sin_addr, 4);
    memcpy(out + 8, &t->sin_port, 2);
    return 10;
}

static void step_fill(struct hs *h, const struct opts *o)
{
    h->out_off = 0;
    h->in_len = 0;
    if (h->step == via_steps(o)) {
        put_header(h->out, 'E', h->echo_n);
        h->out[HDR_LEN] = PING_BYTE;
        h->out_len = HDR_LEN + 1;
    } else if (o->via == VIA_CONNECT) {
        h->out_len = fill_connect(h->out, sizeof h->out, &o->target);
    } else {
        h->out_len = fill_socks5(h->out, h->step, &o->target);
    }
}

/* HTTP/1.x 200 and nothing after the blank line: 1; partial: 0; -errno. */
static int reply_connect(const unsigned char *in, size_t len, size_t cap)
{
    const unsigned char *end = memmem(in, len, "\r\n\r\n", 4);

    if (!end)
        return len == cap ? -EMSGSIZE : 0;
    if (len < 12 || memcmp(in, "HTTP/1.", 7) != 0)
        return -EPROTO;
    if (memcmp(in + 9, "200", 3) != 0)
        return -ECONNREFUSED;
    return (size_t)(end + 4 - in) == len ? 1 : -EPROTO;
}

static int reply_socks5(const unsigned char *in, size_t len, int step)
{
    size_t need;

    if (step == 0) {
        if (len < 2)
            return 0;
        return in[0] == 5 && in[1] == 0 ? 1 : -EPROTO;
    }
    if (len < 5)
        return 0;
    switch (in[3]) {
    case 1: need = 4 + 4 + 2; break;
    case 4: need = 4 + 16 + 2; break;
    case 3: need = 4 + 1 + (size_t)in[4] + 2; break;
    default: return -EPROTO;
    }
    if (len < need)
        return 0;
    if (in[0] != 5)
        return -EPROTO;
    return in[1] == 0 ? 1 : -ECONNREFUSED;
}

static int step_reply(const struct hs *h, const struct opts *o)
{
    if (h->step == via_steps(o))
        return h->in[0] == PING_BYTE ? 1 : -EPROTO;
    if (o->via == VIA_CONNECT)
        return reply_connect(h->in, h->in_len, sizeof h->in);
    return reply_socks5(h->in, h->in_len, h->step);
}

/* 1 connected, 0 still connecting, -errno failed. */
static int connect_check(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    if (err)
        return -err;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        return 1;
    return errno == ENOTCONN ? 0 : -errno;
}

/* Start a non-blocking connect; the caller drives with hs_drive(). */
static int hs_start(struct hs *h, const struct opts *o, uint64_t echo_n)
{
    const struct sockaddr_in *dst =
        o->via == VIA_DIRECT ? &o->target : &o->proxy;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    set_nodelay(fd);
    h->fd = fd;
    h->step = 0;
    h->echo_n = echo_n;
    h->nsteps = via_steps(o) + (echo_n > 0 ? 1 : 0);
    h->started = now_ns();
    h->want = POLLOUT;
    h->phase = HS_CONNECTING;
    if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) == 0) {
        h->phase = HS_STEPS;
    } else if (errno != EINPROGRESS) {
        int err = -errno;

        close(fd);
        h->fd = -1;
        h->phase = HS_IDLE;
        return err;
    }
    if (h->nsteps > 0)
        step_fill(h, o);
    return 0;
}

/* Send what is pending, then read; 1 step done, 0 would block, -errno. */
static int hs_io(struct hs *h, const struct opts *o)
{
    for (;;) {
        ssize_t n;

        if (h->out_off < h->out_len) {
            n = send(h->fd, h->out + h->out_off, h->out_len - h->out_off,
                     MSG_NOSIGNAL);
            if (n >= 0) {
                h->out_off += (size_t)n;
                continue;
            }
            h->want = POLLOUT;
        } else {
            n = recv(h->fd, h->in + h->in_len, sizeof h->in - h->in_len, 0);
            if (n == 0)
                return -ECONNRESET;
            if (n > 0) {
                h->in_len += (size_t)n;
                int r = step_reply(h, o);

                if (r != 0)
                    return r;
                continue;
            }
            h->want = POLLIN;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    }
}

/* Read and discard until EOF (or RST): 1 at EOF, 0 would block, -errno. */
static int hs_eof(struct hs *h)
{
    for (;;) {
        ssize_t n = recv(h->fd, h->in, sizeof h->in, 0);

        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n > 0 || errno == EINTR)
            continue;
        h->want = POLLIN;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    }
}

/* Advance as far as the socket allows: 1 done, 0 would block, -errno. */
static int hs_drive(struct hs *h, const struct opts *o)
{
    int r;

    if (h->phase == HS_CONNECTING) {
        r = connect_check(h->fd);
        if (r <= 0) {
            h->want = POLLOUT;
            return r;
        }
        h->phase = HS_STEPS;
    }
    if (h->phase == HS_STEPS) {
        while (h->step < h->nsteps) {
            r = hs_io(h, o);
            if (r <= 0)
                return r;
            if (++h->step < h->nsteps)
                step_fill(h, o);
        }
        h->phase = h->echo_n == 1 ? HS_EOF : HS_DONE;
    }
    if (h->phase == HS_EOF && (r = hs_eof(h)) <= 0)
        return r;
    h->phase = HS_DONE;
    return 1;
}

/* A connected, handshaken, blocking socket to the server, or -errno. */
static int dial(const struct opts *o)
{
    struct hs h;
    uint64_t deadline = now_ns() + DIAL_TIMEOUT_MS * 1000000ull;
    int r = hs_start(&h, o, 0);

    if (r < 0)
        return r;
    while ((r = hs_drive(&h, o)) == 0) {
        struct pollfd p = { .fd = h.fd, .events = h.want };
        uint64_t now = now_ns();

        if (now >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        if (poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) < 0 &&
            errno != EINTR) {
            r = -errno;
            break;
        }
    }
    if (r < 0 || (r = set_nonblock(h.fd, false)) < 0) {
        close(h.fd);
        return r;
    }
    return h.fd;
}

static int dial_or_die(const struct opts *o)
{
    int fd = dial(o);

    if (fd < 0)
        die("connect via %s: %s", o->via_str, strerror(-fd));
    return fd;
}

/* ------------------------------------------------------------ server */

/*
 * Server connection.  mode is 0 until the 9-byte header is in; `left` is
 * what is still to send ('D') or to read ('U').  Echo data waits in ebuf;
 * while it does, the connection reads nothing more (backpressure).
 */
struct sconn {
    int fd;
    char mode;
    bool ack_pending;
    bool echo_limited;      /* 'E' with N > 0: close after N bytes */
    size_t hdr_len;
    uint64_t left;
    size_t elen, eoff;
    unsigned char hdr[HDR_LEN];
    unsigned char ebuf[4096];
};

struct sthread {
    int lfd;
    int ep;
    unsigned char *scratch;     /* IO_CHUNK bytes for discarded input */
};

static bool would_block(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* Read and throw away until EAGAIN: 0 keep, -1 close (EOF or error). */
static int drain(struct sconn *c, struct sthread *t)
{
    for (;;) {
        ssize_t n = recv(c->fd, t->scratch, IO_CHUNK, 0);

        if (n > 0)
            continue;
        return n < 0 && would_block() ? 0 : -1;
    }
}

static int read_header(struct sconn *c)
{
    while (c->hdr_len < HDR_LEN) {
        ssize_t n = recv(c->fd, c->hdr + c->hdr_len, HDR_LEN - c->hdr_len, 0);

        if (n <= 0)
            return n < 0 && would_block() ? 0 : -1;
        c->hdr_len += (size_t)n;
    }
    c->mode = (char)c->hdr[0];
    c->left = get_be64(c->hdr + 1);
    c->ack_pending = c->mode == 'U';
    c->echo_limited = c->mode == 'E' && c->left > 0;
    if (c->mode != 'D' && c->mode != 'U' && c->mode != 'E')
        return -1;
    return 1;
}

static int serve_download(struct sconn *c, struct sthread *t)
{
    while (c->left > 0) {
        size_t len = c->left < IO_CHUNK ? (size_t)c->left : IO_CHUNK;
        ssize_t n = send(c->fd, zeros, len, MSG_NOSIGNAL);

        if (n < 0)
            return would_block() ? 0 : -1;
        c->left -= (uint64_t)n;
    }
    return drain(c, t);
}

static int serve_upload(struct sconn *c, struct sthread *t)
{
    while (c->left > 0) {
        size_t len = c->left < IO_CHUNK ? (size_t)c->left : IO_CHUNK;
        ssize_t n = recv(c->fd, t->scratch, len, 0);

        if (n <= 0)
            return n < 0 && would_block() ? 0 : -1;
        c->left -= (uint64_t)n;
    }
    if (c->ack_pending) {
        ssize_t n = send(c->fd, "k", 1, MSG_NOSIGNAL);

        if (n < 0)
            return would_block() ? 0 : -1;
        c->ack_pending = false;
    }
    return drain(c, t);
}

static int serve_echo(struct sconn *c)
{
    for (;;) {
        size_t cap = sizeof c->ebuf;
        ssize_t n;

        if (c->eoff < c->elen) {
            n = send(c->fd, c->ebuf + c->eoff, c->elen - c->eoff,
                     MSG_NOSIGNAL);
            if (n < 0)
                return would_block() ? 0 : -1;
            c->eoff += (size_t)n;
            continue;
        }
        c->eoff = c->elen = 0;
        if (c->echo_limited && c->left == 0)
            return -1;
        if (c->echo_limited && c->left < cap)
            cap = (size_t)c->left;
        n = recv(c->fd, c->ebuf, cap, 0);
        if (n <= 0)
            return n < 0 && would_block() ? 0 : -1;
        c->elen = (size_t)n;
        c->left -= c->echo_limited ? (uint64_t)n : 0;
    }
}

/* Edge-triggered: do everything the socket allows. 0 keep, -1 close. */
static int sconn_io(struct sconn *c, struct sthread *t)
{
    if (c->mode == 0) {
        int r = read_header(c);

        if (r <= 0)
            return r;
    }
    switch (c->mode) {
    case 'D': return serve_download(c, t);
    case 'U': return serve_upload(c, t);
    default: return serve_echo(c);
    }
}

static void accept_all(struct sthread *t)
{
    for (;;) {
        int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event ev;
        struct sconn *c;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (!would_block())
                fprintf(stderr, "ferrybench server: accept: %s\n",
                        strerror(errno));
            return;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        set_nodelay(fd);
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static void *server_loop(void *arg)
{
    struct sthread *t = arg;
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int n = epoll_wait(t->ep, evs, MAX_EVENTS, -1);

        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct sconn *c = evs[i].data.ptr;

            if (!c) {
                accept_all(t);
            } else if (sconn_io(c, t) < 0) {
                close(c->fd);
                free(c);
            }
        }
    }
    return NULL;
}

static int listen_socket(const struct sockaddr_in *sa)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        die("setsockopt: %s", strerror(errno));
    if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
        die("bind: %s", strerror(errno));
    if (listen(fd, 4096) < 0)
        die("listen: %s", strerror(errno));
    return fd;
}

static void sthread_init(struct sthread *t, const struct opts *o)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = NULL };

    t->lfd = listen_socket(&o->listen);
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    t->scratch = malloc(IO_CHUNK);
    if (t->ep < 0 || !t->scratch)
        die("server init: %s", strerror(errno));
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->lfd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* o->threads threads, each on its own SO_REUSEPORT listener, running
 * loop; never returns. */
static int serve_threads(const struct opts *o, const char *what,
                         void *(*loop)(void *))
{
    struct sthread *ts = calloc((size_t)o->threads, sizeof *ts);
    pthread_t tid;

    if (!ts)
        die("out of memory");
    for (int i = 0; i < o->threads; i++)
        sthread_init(&ts[i], o);
    fprintf(stderr, "ferrybench %s: listening on %s:%u, %d threads\n",
            what, inet_ntoa(o->listen.sin_addr), ntohs(o->listen.sin_port),
            o->threads);
    for (int i = 1; i < o->threads; i++)
        if (pthread_create(&tid, NULL, loop, &ts[i]) != 0)
            die("pthread_create failed");
    loop(&ts[0]);
    return 0;
}

static int cmd_server(const struct opts *o)
{
    return serve_threads(o, "server", server_loop);
}

/* ------------------------------------------------------------ single */

static double mbps(uint64_t bytes, uint64_t ns)
{
    return ns ? (double)bytes / 1e6 / ((double)ns / 1e9) : 0.0;
}

static int recv_exact(int fd, unsigned char *buf, size_t cap, uint64_t n)
{
    while (n > 0) {
        size_t len = n < cap ? (size_t)n : cap;
        ssize_t r = recv(fd, buf, len, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? -ECONNRESET : -errno;
        n -= (uint64_t)r;
    }
    return 0;
}

static int upload(int fd, uint64_t n, unsigned char *buf)
{
    int r = 0;

    while (n > 0 && r == 0) {
        size_t len = n < IO_CHUNK ? (size_t)n : IO_CHUNK;

        r = send_all(fd, zeros, len);
        n -= len;
    }
    return r < 0 ? r : recv_exact(fd, buf, 1, 1);
}

static long trees_ticks(const struct opts *o, int *nprocs);

/* With --pid: the CPU time the proxy's processes spent on the transfer,
 * per GB (1e9 bytes), from their ticks before and after (a process that
 * ends meanwhile takes its ticks with it: the proxies measured here keep
 * theirs for the whole run). */
static void print_cpu(const struct opts *o, long ticks0)
{
    int nprocs;
    long ticks = trees_ticks(o, &nprocs) - ticks0;
    double s = (double)ticks / (double)sysconf(_SC_CLK_TCK);

    printf("metric=single_cpu_s_per_gb value=%.3f ticks=%ld procs=%d"
           " via=%s\n", s / ((double)o->bytes / 1e9), ticks, nprocs,
           o->via_str);
}

static int cmd_single(const struct opts *o)
{
    unsigned char hdr[HDR_LEN];
    unsigned char *buf = malloc(IO_CHUNK);
    int fd = dial_or_die(o);
    uint64_t t0;
    long ticks0 = 0;
    int r, nprocs;

    if (!buf)
        die("out of memory");
    put_header(hdr, o->upload ? 'U' : 'D', o->bytes);
    if (o->npids)
        ticks0 = trees_ticks(o, &nprocs);
    t0 = now_ns();
    r = send_all(fd, hdr, sizeof hdr);
    if (r == 0)
        r = o->upload ? upload(fd, o->bytes, buf)
                      : recv_exact(fd, buf, IO_CHUNK, o->bytes);
    if (r < 0)
        die("transfer via %s: %s", o->via_str, strerror(-r));
    uint64_t dt = now_ns() - t0;

    printf("metric=%s value=%.1f bytes=%" PRIu64 " seconds=%.3f via=%s\n",
           o->upload ? "single_up_mbps" : "single_mbps", mbps(o->bytes, dt),
           o->bytes, (double)dt / 1e9, o->via_str);
    if (o->npids)
        print_cpu(o, ticks0);
    close(fd);
    free(buf);
    return 0;
}

/* ------------------------------------------------------------ multi */

/*
 * Every stream asks for an endless download.  After a warm-up the tool
 * counts what arrives during a fixed window (--seconds), then closes all
 * streams.  The window only covers time when all streams are active, and a
 * slow peer cannot stretch the run.
 */
#define MULTI_ENDLESS (1ull << 62)
#define MULTI_WARMUP_NS (NS_PER_S / 2)

static int multi_open(const struct opts *o, int ep, int *fds)
{
    unsigned char hdr[HDR_LEN];

    put_header(hdr, 'D', MULTI_ENDLESS);
    for (int i = 0; i < o->streams; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

        fds[i] = dial_or_die(o);
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
            return -errno;
    }
    for (int i = 0; i < o->streams; i++) {
        int r = send_all(fds[i], hdr, sizeof hdr);

        if (r < 0 || (r = set_nonblock(fds[i], true)) < 0)
            return r;
    }
    return 0;
}

/* Read from all streams until `until`, adding to got[]; 0 or -errno. */
static int multi_pump(int ep, const int *fds, uint64_t *got,
                      unsigned char *buf, uint64_t until)
{
    struct epoll_event evs[64];
    uint64_t now;

    while ((now = now_ns()) < until) {
        int ms = (int)((until - now) / 1000000 + 1);
        int n = epoll_wait(ep, evs, 64, ms < 100 ? ms : 100);

        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            uint32_t s = evs[i].data.u32;
            ssize_t r = recv(fds[s], buf, IO_CHUNK, 0);

            if (r == 0)
                return -ECONNRESET;
            if (r < 0 && !would_block())
                return -errno;
            if (r > 0)
                got[s] += (uint64_t)r;
        }
    }
    return 0;
}

static void multi_report(const struct opts *o, const uint64_t *got,
                         uint64_t ns)
{
    uint64_t total = 0, lo = UINT64_MAX, hi = 0;

    for (int i = 0; i < o->streams; i++) {
        total += got[i];
        lo = got[i] < lo ? got[i] : lo;
        hi = got[i] > hi ? got[i] : hi;
    }
    printf("metric=multi_mbps value=%.1f streams=%d bytes=%" PRIu64
           " seconds=%.3f min_stream_mbps=%.1f max_stream_mbps=%.1f via=%s\n",
           mbps(total, ns), o->streams, total, (double)ns / 1e9,
           mbps(lo, ns), mbps(hi, ns), o->via_str);
}

static int cmd_multi(const struct opts *o)
{
    size_t n = (size_t)o->streams;
    int *fds = calloc(n, sizeof *fds);
    uint64_t *got = calloc(n, sizeof *got);
    unsigned char *buf = malloc(IO_CHUNK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    uint64_t t0;
    int r;

    if (!fds || !got || !buf || ep < 0)
        die("multi init: %s", strerror(errno));
    r = multi_open(o, ep, fds);
    if (r == 0)
        r = multi_pump(ep, fds, got, buf, now_ns() + MULTI_WARMUP_NS);
    memset(got, 0, n * sizeof *got);
    t0 = now_ns();
    if (r == 0)
        r = multi_pump(ep, fds, got, buf, t0 + (uint64_t)(o->seconds * 1e9));
    if (r < 0)
        die("multi via %s: %s", o->via_str, strerror(-r));
    multi_report(o, got, now_ns() - t0);
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    close(ep);
    free(fds);
    free(got);
    free(buf);
    return 0;
}

/* ------------------------------------------------------------ rtt */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int ping_once(int fd, uint64_t *ns)
{
    unsigned char c = PING_BYTE;
    uint64_t t0 = now_ns();
    int r = send_all(fd, &c, 1);

    if (r == 0)
        r = recv_exact(fd, &c, 1, 1);
    *ns = now_ns() - t0;
    return r;
}

static int cmd_rtt(const struct opts *o)
{
    enum { WARMUP = 200 };
    uint64_t *v = calloc((size_t)o->count, sizeof *v);
    unsigned char hdr[HDR_LEN];
    int fd = dial_or_die(o);
    uint64_t sum = 0, dummy;
    int r;

    if (!v)
        die("out of memory");
    put_header(hdr, 'E', 0);
    r = send_all(fd, hdr, sizeof hdr);
    for (int i = 0; i < WARMUP && r == 0; i++)
        r = ping_once(fd, &dummy);
    for (int i = 0; i < o->count && r == 0; i++) {
        r = ping_once(fd, &v[i]);
        sum += v[i];
    }
    if (r < 0)
        die("rtt via %s: %s", o->via_str, strerror(-r));
    qsort(v, (size_t)o->count, sizeof *v, cmp_u64);
    printf("metric=rtt_p50_us value=%.1f count=%d via=%s\n",
           (double)v[o->count / 2] / 1e3, o->count, o->via_str);
    printf("metric=rtt_p99_us value=%.1f count=%d via=%s\n",
           (double)v[(size_t)o->count * 99 / 100] / 1e3, o->count, o->via_str);
    printf("metric=rtt_mean_us value=%.1f count=%d via=%s\n",
           (double)sum / o->count / 1e3, o->count, o->via_str);
    close(fd);
    free(v);
    return 0;
}

/* ------------------------------------------------------------ loaded */

/*
 * RTT under load.  One echo connection is opened and warmed up first;
 * then --streams connections start endless downloads through the same
 * proxy, drained by a second thread.  After MULTI_WARMUP_NS both threads
 * count over the same window (--seconds): the pinger every back-to-back
 * 1-byte ping-pong, the drainer the bytes of the bulk streams.
 */
struct bulk {
    int ep;
    const int *fds;
    uint64_t *got;
    size_t nfds;
    unsigned char *buf;
    uint64_t from, until;   /* the counting window */
    int err;
};

static void *bulk_run(void *arg)
{
    struct bulk *b = arg;

    b->err = multi_pump(b->ep, b->fds, b->got, b->buf, b->from);
    memset(b->got, 0, b->nfds * sizeof *b->got);
    if (b->err == 0)
        b->err = multi_pump(b->ep, b->fds, b->got, b->buf, b->until);
    return NULL;
}

/* Ping back-to-back until `until`, keeping the times from `from` on. */
static int loaded_pings(int fd, uint64_t from, uint64_t until,
                        uint64_t **v, size_t *n)
{
    size_t cap = 0;
    uint64_t ns;
    int r = 0;

    *v = NULL;
    *n = 0;
    while (r == 0 && now_ns() < until) {
        uint64_t t = now_ns();

        r = ping_once(fd, &ns);
        if (r < 0 || t < from)
            continue;
        if (*n == cap) {
            uint64_t *nv;

            cap = cap ? cap * 2 : 4096;
            nv = realloc(*v, cap * sizeof *nv);
            if (!nv)
                die("out of memory");
            *v = nv;
        }
        (*v)[(*n)++] = ns;
    }
    return r;
}

static int cmd_loaded(const struct opts *o)
{
    struct bulk b = { .nfds = (size_t)o->streams };
    int *fds = calloc(b.nfds, sizeof *fds);
    unsigned char hdr[HDR_LEN];
    uint64_t *v, total = 0, dummy;
    pthread_t tid;
    size_t n;
    int fd = dial_or_die(o), r;

    b.got = calloc(b.nfds, sizeof *b.got);
    b.buf = malloc(IO_CHUNK);
    b.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!fds || !b.got || !b.buf || b.ep < 0)
        die("loaded init: %s", strerror(errno));
    b.fds = fds;
    put_header(hdr, 'E', 0);
    r = send_all(fd, hdr, sizeof hdr);
    for (int i = 0; i < 200 && r == 0; i++)
        r = ping_once(fd, &dummy);
    if (r == 0)
        r = multi_open(o, b.ep, fds);
    if (r < 0)
        die("loaded via %s: %s", o->via_str, strerror(-r));
    b.from = now_ns() + MULTI_WARMUP_NS;
    b.until = b.from + (uint64_t)(o->seconds * 1e9);
    if (pthread_create(&tid, NULL, bulk_run, &b) != 0)
        die("pthread_create failed");
    r = loaded_pings(fd, b.from, b.until, &v, &n);
    pthread_join(tid, NULL);
    if (r < 0 || b.err < 0)
        die("loaded via %s: %s", o->via_str, strerror(r < 0 ? -r : -b.err));
    if (n == 0)
        die("loaded via %s: no ping-pong in the window", o->via_str);
    for (size_t i = 0; i < b.nfds; i++)
        total += b.got[i];
    qsort(v, n, sizeof *v, cmp_u64);
    for (int q = 0; q < 3; q++) {
        static const char *const name[] = { "p50", "p99", "max" };
        size_t at[] = { n / 2, n * 99 / 100, n - 1 };

        printf("metric=loaded_rtt_%s_us value=%.1f count=%zu streams=%d"
               " bulk_mbps=%.1f seconds=%.2f via=%s\n", name[q],
               (double)v[at[q]] / 1e3, n, o->streams,
               mbps(total, b.until - b.from),
               (double)(b.until - b.from) / 1e9, o->via_str);
    }
    close(fd);
    for (size_t i = 0; i < b.nfds; i++)
        close(fds[i]);
    close(b.ep);
    free(v);
    free(fds);
    free(b.got);
    free(b.buf);
    return 0;
}

/* ------------------------------------------------------------ rate */

/*
 * A pool of non-blocking connections sharing one edge-triggered epoll set.
 * Used by `rate` (open, handshake, echo, close, again) and by `idle` (open
 * and keep).  ev.data.u32 is the slot index.
 */
struct pool {
    const struct opts *o;
    int ep;
    int nslots;
    uint64_t echo_n;        /* 1: server closes after the ping; 2: later */
    struct hs *slots;
    uint64_t done;
    uint64_t errors;
    int last_err;
};

static void pool_init(struct pool *p, const struct opts *o, int nslots,
                      uint64_t echo_n)
{
    p->o = o;
    p->nslots = nslots;
    p->echo_n = echo_n;
    p->done = p->errors = 0;
    p->last_err = 0;
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->slots = calloc((size_t)nslots, sizeof *p->slots);
    if (p->ep < 0 || !p->slots)
        die("pool init: %s", strerror(errno));
    for (int i = 0; i < nslots; i++) {
        p->slots[i].fd = -1;
        p->slots[i].phase = HS_IDLE;
    }
}

static void pool_fail(struct pool *p, int i, int err)
{
    struct hs *h = &p->slots[i];

    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->phase = HS_IDLE;
    p->errors++;
    p->last_err = -err;
}

/*
 * Start slot i, with an echo of N = p->echo_n; on failure the slot stays
 * HS_IDLE and counts as an error.
 */
static int pool_open(struct pool *p, int i)
{
    struct hs *h = &p->slots[i];
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u32 = (uint32_t)i,
    };
    int r = hs_start(h, p->o, p->echo_n);

    if (r == 0 && epoll_ctl(p->ep, EPOLL_CTL_ADD, h->fd, &ev) < 0)
        r = -errno;
    if (r < 0)
        pool_fail(p, i, r);
    return r;
}

/* An idle connection should hear nothing: true if EOF, RST or data. */
static bool idle_broken(int fd)
{
    unsigned char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* Drive slot i after an event: 1 just completed, 0 pending, -1 failed. */
static int pool_event(struct pool *p, int i)
{
    struct hs *h = &p->slots[i];
    int r;

    if (h->phase == HS_IDLE)
        return 0;
    if (h->phase == HS_DONE) {
        if (!idle_broken(h->fd))
            return 0;
        pool_fail(p, i, -ECONNRESET);
        return -1;
    }
    r = hs_drive(h, p->o);
    if (r < 0) {
        pool_fail(p, i, r);
        return -1;
    }
    if (r > 0)
        p->done++;
    return r;
}

static void rate_recycle(struct pool *p, int i, bool more)
{
    struct hs *h = &p->slots[i];

    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->phase = HS_IDLE;
    if (more)
        pool_open(p, i);
}

/* Reopen empty slots; time out connections stuck longer than 5 s. */
static void rate_sweep(struct pool *p, uint64_t now, bool more)
{
    for (int i = 0; i < p->nslots; i++) {
        struct hs *h = &p->slots[i];

        if (h->phase != HS_IDLE && now > h->started &&
            now - h->started > RATE_CONN_TIMEOUT_NS)
            pool_fail(p, i, -ETIMEDOUT);
        if (h->phase == HS_IDLE && more)
            pool_open(p, i);
    }
}

static int cmd_rate(const struct opts *o)
{
    struct pool p;
    struct epoll_event evs[MAX_EVENTS];
    uint64_t t0 = now_ns();
    uint64_t end = t0 + (uint64_t)(o->seconds * 1e9);
    uint64_t now = t0, last_sweep = t0;

    pool_init(&p, o, o->concurrency, 1);
    rate_sweep(&p, now, true);
    while (now < end) {
        int n = epoll_wait(p.ep, evs, MAX_EVENTS, 100);

        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        now = now_ns();
        for (int i = 0; i < n; i++) {
            int s = (int)evs[i].data.u32;

            if (pool_event(&p, s) > 0)
                rate_recycle(&p, s, now < end);
        }
        if (now - last_sweep > 100000000ull) {
            rate_sweep(&p, now, now < end);
            last_sweep = now;
        }
    }
    double secs = (double)(now - t0) / 1e9;

    printf("metric=conn_rate value=%.1f conns=%" PRIu64 " errors=%" PRIu64
           " seconds=%.2f concurrency=%d via=%s\n", (double)p.done / secs,
           p.done, p.errors, secs, o->concurrency, o->via_str);
    if (p.errors)
        fprintf(stderr, "ferrybench rate: %" PRIu64 " errors, last: %s\n",
                p.errors, strerror(p.last_err));
    return p.done > 0 && p.errors * 100 <= p.done ? 0 : 1;
}

/* ------------------------------------------------------------ idle */

struct proc_ent {
    pid_t pid;
    pid_t ppid;
};

static pid_t read_ppid(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    char *rp;
    pid_t ppid = -1;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    if (fgets(buf, sizeof buf, f) && (rp = strrchr(buf, ')')) != NULL)
        if (sscanf(rp + 1, " %*c %d", &ppid) != 1)
            ppid = -1;
    fclose(f);
    return ppid;
}

static int list_procs(struct proc_ent *ents, int max)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    if (!d)
        die("opendir /proc: %s", strerror(errno));
    while ((de = readdir(d)) != NULL && n < max) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        ents[n].pid = (pid_t)atoi(de->d_name);
        ents[n].ppid = read_ppid(ents[n].pid);
        if (ents[n].ppid >= 0)
            n++;
    }
    closedir(d);
    return n;
}

/* root and all its descendants into out[]; returns how many. */
static int proc_tree(pid_t root, pid_t *out, int max)
{
    static struct proc_ent ents[MAX_TREE * 4];
    int n = list_procs(ents, MAX_TREE * 4);
    int count = 1;

    out[0] = root;
    for (int head = 0; head < count; head++)
        for (int i = 0; i < n && count < max; i++)
            if (ents[i].ppid == out[head])
                out[count++] = ents[i].pid;
    return count;
}

/* A "Key:   123 kB" field of a /proc file, in KiB; -1 if absent. */
static long proc_kib(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    size_t klen = strlen(key);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0) {
            v = strtol(line + klen, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

struct mem {
    long rss;       /* VmRSS summed over the tree, KiB */
    long pss;       /* Pss summed over the tree, KiB */
    int nprocs;
    pid_t pids[MAX_TREE];
};

/* The trees of every --pid root into m->pids; a root already in a tree
 * is skipped. */
static void trees_read(const struct opts *o, struct mem *m)
{
    m->nprocs = 0;
    for (int r = 0; r < o->npids && m->nprocs < MAX_TREE; r++) {
        bool seen = false;

        for (int i = 0; i < m->nprocs; i++)
            seen = seen || m->pids[i] == o->pids[r];
        if (!seen)
            m->nprocs += proc_tree(o->pids[r], m->pids + m->nprocs,
                                   MAX_TREE - m->nprocs);
    }
}

static void mem_read(const struct opts *o, struct mem *m)
{
    trees_read(o, m);
    m->rss = m->pss = 0;
    for (int i = 0; i < m->nprocs; i++) {
        long r = proc_kib(m->pids[i], "status", "VmRSS:");
        long s = proc_kib(m->pids[i], "smaps_rollup", "Pss:");

        m->rss += r > 0 ? r : 0;
        m->pss += s > 0 ? s : 0;
    }
}

/* User + system time of one process (all its threads), in clock ticks;
 * 0 when it is gone. */
static long proc_ticks(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    char *rp;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime */
    if (!fgets(buf, sizeof buf, f) || !(rp = strrchr(buf, ')')) ||
        sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        ut = st = 0;
    fclose(f);
    return (long)(ut + st);
}

static long trees_ticks(const struct opts *o, int *nprocs)
{
    static struct mem m;
    long t = 0;

    trees_read(o, &m);
    for (int i = 0; i < m.nprocs; i++)
        t += proc_ticks(m.pids[i]);
    *nprocs = m.nprocs;
    return t;
}

static void print_pids(const struct mem *m)
{
    printf(" pids=");
    for (int i = 0; i < m->nprocs; i++)
        printf("%s%d", i ? "," : "", (int)m->pids[i]);
}

/* Start connections in HS_IDLE slots until `want` are in flight. */
static int idle_fill(struct pool *p, int *cursor, int inflight, int want)
{
    for (int tries = 0; inflight < want && tries < p->nslots; tries++) {
        int s = *cursor;

        *cursor = (s + 1) % p->nslots;
        if (p->slots[s].phase == HS_IDLE && pool_open(p, s) == 0)
            inflight++;
    }
    return inflight;
}

/*
 * Bring `target` connections up, at most `cap` in flight; each completes
 * its handshake and one echo and then stays open.  Failed slots are
 * retried, up to 100 errors in all.  With `took`, each connection's time
 * from its connect() to its echo goes to took[k] for the k-th to finish.
 * Returns how many are up and idle.
 */
static int idle_open(struct pool *p, int target, int cap, uint64_t deadline,
                     uint64_t *took)
{
    struct epoll_event evs[MAX_EVENTS];
    int cursor = 0, inflight = 0, idle = 0;

    while (idle < target && now_ns() < deadline && p->errors <= 100) {
        int want = target - idle < cap ? target - idle : cap;
        int n;

        inflight = idle_fill(p, &cursor, inflight, want);
        n = epoll_wait(p->ep, evs, MAX_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            int s = (int)evs[i].data.u32;
            bool was_idle = p->slots[s].phase == HS_DONE;
            int r = pool_event(p, s);

            if (r > 0) {
                if (took && idle < target)
                    took[idle] = now_ns() - p->slots[s].started;
                inflight--;
                idle++;
            } else if (r < 0 && was_idle) {
                idle--;
            } else if (r < 0) {
                inflight--;
            }
        }
    }
    return idle;
}

/* Count idle connections that were closed under us since they opened. */
static int idle_lost(struct pool *p)
{
    struct epoll_event evs[MAX_EVENTS];
    int lost = 0, n;

    while ((n = epoll_wait(p->ep, evs, MAX_EVENTS, 0)) > 0)
        for (int i = 0; i < n; i++)
            if (pool_event(p, (int)evs[i].data.u32) < 0)
                lost++;
    return lost;
}

/*
 * Let the server close first: send the second byte of each connection's
 * 'E' 2 exchange, then wait (bounded) for its echo and the EOF.
 */
static void idle_release(struct pool *p)
{
    struct epoll_event evs[MAX_EVENTS];
    uint64_t deadline = now_ns() + 10 * NS_PER_S;
    unsigned char ping = PING_BYTE;
    int open = 0;

    for (int i = 0; i < p->nslots; i++) {
        struct hs *h = &p->slots[i];

        if (h->phase == HS_DONE &&
            send(h->fd, &ping, 1, MSG_NOSIGNAL) == 1) {
            h->phase = HS_EOF;
            open++;
        }
    }
    while (open > 0 && now_ns() < deadline) {
        int n = epoll_wait(p->ep, evs, MAX_EVENTS, 100);

        for (int i = 0; i < n; i++) {
            int s = (int)evs[i].data.u32;

            if (p->slots[s].phase == HS_EOF && pool_event(p, s) != 0)
                open--;
        }
    }
}

static void pool_close_all(struct pool *p)
{
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].fd >= 0)
            close(p->slots[i].fd);
    close(p->ep);
    free(p->slots);
}

static void idle_warmup(const struct opts *o, uint64_t deadline)
{
    struct pool p;

    if (o->warmup <= 0)
        return;
    pool_init(&p, o, o->warmup, 2);
    if (idle_open(&p, o->warmup, 64, deadline, NULL) < o->warmup)
        die("warm-up via %s failed: %s", o->via_str, strerror(p.last_err));
    idle_release(&p);
    pool_close_all(&p);
    sleep_s(0.5);
}

static int cmd_idle(const struct opts *o)
{
    uint64_t deadline = now_ns() + (uint64_t)(o->timeout * 0.8e9);
    struct mem *before = malloc(sizeof *before);
    struct mem *after = malloc(sizeof *after);
    struct pool p;
    int idle, lost;

    if (!before || !after)
        die("out of memory");
    for (int i = 0; i < o->npids; i++)
        if (kill(o->pids[i], 0) < 0)
            die("pid %d: %s", (int)o->pids[i], strerror(errno));
    idle_warmup(o, deadline);
    mem_read(o, before);
    pool_init(&p, o, o->conns, 2);
    idle = idle_open(&p, o->conns, 64, deadline, NULL);
    if (idle < o->conns)
        die("only %d of %d connections via %s came up (%" PRIu64
            " errors, last: %s)", idle, o->conns, o->via_str, p.errors,
            strerror(p.last_err));
    sleep_s(o->settle);
    mem_read(o, after);
    lost = idle_lost(&p);
    printf("metric=idle_kib_per_conn value=%.2f conns=%d rss_before_kib=%ld"
           " rss_after_kib=%ld pss_kib_per_conn=%.2f procs_before=%d"
           " procs_after=%d lost=%d via=%s",
           (double)(after->rss - before->rss) / o->conns, o->conns,
           before->rss, after->rss,
           (double)(after->pss - before->pss) / o->conns, before->nprocs,
           after->nprocs, lost, o->via_str);
    print_pids(after);
    printf("\n");
    idle_release(&p);
    pool_close_all(&p);
    free(before);
    free(after);
    return lost ? 1 : 0;
}

/* ------------------------------------------------------------ opens */

/*
 * K concurrent opens: K connections start at once (at most --concurrency
 * in flight; by default all K), each connect()s, makes its proxy
 * handshake and one 1-byte echo ('E' 2: the server keeps it open).  The
 * result is the time from the first connect() to the last echo, and each
 * connection's own time; "opens_ms" when all start at once,
 * "opens_window_ms" with fewer in flight.  Then the server closes them
 * (idle_release).
 */
static int cmd_opens(const struct opts *o)
{
    uint64_t deadline = now_ns() + (uint64_t)(o->timeout * 0.8e9);
    uint64_t *took = calloc((size_t)o->conns, sizeof *took);
    uint64_t t0, dt;
    struct pool p;
    int up;

    if (!took)
        die("out of memory");
    pool_init(&p, o, o->conns, 2);
    t0 = now_ns();
    up = idle_open(&p, o->conns, o->concurrency, deadline, took);
    dt = now_ns() - t0;
    if (up < o->conns)
        die("only %d of %d connections via %s came up (%" PRIu64
            " errors, last: %s)", up, o->conns, o->via_str, p.errors,
            strerror(p.last_err));
    qsort(took, (size_t)up, sizeof *took, cmp_u64);
    printf("metric=%s value=%.1f conns=%d concurrency=%d"
           " opens_per_s=%.0f conn_p50_ms=%.2f conn_p99_ms=%.2f"
           " conn_max_ms=%.2f errors=%" PRIu64 " via=%s\n",
           o->concurrency < o->conns ? "opens_window_ms" : "opens_ms",
           (double)dt / 1e6, up, o->concurrency,
           (double)up / ((double)dt / 1e9), (double)took[up / 2] / 1e6,
           (double)took[(size_t)up * 99 / 100] / 1e6,
           (double)took[up - 1] / 1e6, p.errors, o->via_str);
    idle_release(&p);
    pool_close_all(&p);
    free(took);
    return 0;
}

/* ------------------------------------------------------------ httpsink */

/*
 * An HTTP/1.1 origin for the POST benchmark: it reads a request head,
 * discards exactly Content-Length body bytes, answers
 * "200 OK, Content-Length: 0" and waits for the next request on the same
 * connection.  Heads without a body (GET) get the same answer.  A
 * Transfer-Encoding body is not supported: 501 and close (and a line on
 * stderr), so a proxy that rewrites the framing shows up as a failed run.
 */
#define SINK_HEAD_MAX 16384

static const char sink_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
static const char sink_501[] =
    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

struct hconn {
    int fd;
    bool in_body;
    uint64_t left;          /* body bytes still to discard */
    size_t hlen;            /* bytes in head[] */
    size_t out_len, out_off;
    char out[128];
    char head[SINK_HEAD_MAX];
};

/* The value of header `name` (lower case, with ':') in head[0..len), or
 * NULL. */
static const char *head_field(const char *head, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = memchr(head, '\n', len);

    while (p && (size_t)(p + 1 - head) + nlen <= len) {
        p++;
        if (strncasecmp(p, name, nlen) == 0) {
            p += nlen;
            while (*p == ' ' || *p == '\t')
                p++;
            return p;
        }
        p = memchr(p, '\n', len - (size_t)(p - head));
    }
    return NULL;
}

static void hconn_queue(struct hconn *c, const char *msg)
{
    size_t n = strlen(msg);

    memcpy(c->out + c->out_len, msg, n);
    c->out_len += n;
}

/*
 * A complete head is at the start of head[] (end = offset past CRLFCRLF):
 * take what body bytes are already buffered and keep anything after them.
 * 0 ok, -1 close.
 */
static int hconn_head(struct hconn *c, size_t end)
{
    const char *cl, *te;
    char *stop;
    unsigned long long n = 0;
    size_t avail, take;

    c->head[end - 1] = '\0';    /* the last LF: field values end there */
    te = head_field(c->head, end, "transfer-encoding:");
    cl = head_field(c->head, end, "content-length:");
    if (te) {
        fprintf(stderr, "ferrybench httpsink: Transfer-Encoding body "
                "(not supported), answering 501\n");
        hconn_queue(c, sink_501);
        return -1;
    }
    if (cl) {
        errno = 0;
        n = strtoull(cl, &stop, 10);
        if (errno || stop == cl || (*stop != '\r' && *stop != '\n'))
            return -1;
    }
    avail = c->hlen - end;
    take = avail < n ? avail : (size_t)n;
    c->left = n - take;
    c->hlen = avail - take;
    memmove(c->head, c->head + end + take, c->hlen);
    c->in_body = true;
    return 0;
}

/* Edge-triggered: do everything the socket allows. 0 keep, -1 close. */
static int hconn_io(struct hconn *c, unsigned char *scratch)
{
    for (;;) {
        ssize_t n;

        if (c->out_off < c->out_len) {
            n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                     MSG_NOSIGNAL);
            if (n < 0)
                return would_block() ? 0 : -1;
            c->out_off += (size_t)n;
            continue;
        }
        c->out_off = c->out_len = 0;
        if (c->in_body && c->left == 0) {
            c->in_body = false;
            hconn_queue(c, sink_ok);
            continue;
        }
        if (c->in_body) {
            size_t len = c->left < IO_CHUNK ? (size_t)c->left : IO_CHUNK;

            n = recv(c->fd, scratch, len, 0);
            if (n <= 0)
                return n < 0 && would_block() ? 0 : -1;
            c->left -= (uint64_t)n;
            continue;
        }
        const char *e = memmem(c->head, c->hlen, "\r\n\r\n", 4);

        if (e) {
            if (hconn_head(c, (size_t)(e + 4 - c->head)) < 0) {
                (void)send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
                return -1;
            }
            continue;
        }
        if (c->hlen == sizeof c->head)
            return -1;
        n = recv(c->fd, c->head + c->hlen, sizeof c->head - c->hlen, 0);
        if (n <= 0)
            return n < 0 && would_block() ? 0 : -1;
        c->hlen += (size_t)n;
    }
}

static void *sink_loop(void *arg)
{
    struct sthread *t = arg;
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int n = epoll_wait(t->ep, evs, MAX_EVENTS, -1);

        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct hconn *c = evs[i].data.ptr;

            if (c) {
                if (hconn_io(c, t->scratch) < 0) {
                    close(c->fd);
                    free(c);
                }
                continue;
            }
            for (;;) {
                int fd = accept4(t->lfd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                struct epoll_event ev;

                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                    break;
                }
                c = calloc(1, sizeof *c);
                if (!c) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                set_nodelay(fd);
                ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
                ev.data.ptr = c;
                if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                    close(fd);
                    free(c);
                }
            }
        }
    }
    return NULL;
}

static int cmd_httpsink(const struct opts *o)
{
    return serve_threads(o, "httpsink", sink_loop);
}

/* ------------------------------------------------------------ post */

/*
 * POST --bytes of zeros to the httpsink (--target), directly (origin-form)
 * or through an HTTP forward proxy (--via http://H:P, absolute-form), on a
 * fresh connection each time, --count times.  Each one is timed from the
 * first byte of the request to the end of the response head; an answer
 * that is not 200, or that comes before the whole body is sent, fails the
 * run.
 */
static size_t post_head(char *buf, size_t cap, const struct opts *o)
{
    char ip[INET_ADDRSTRLEN], uri[64] = "/";
    unsigned port = ntohs(o->target.sin_port);

    inet_ntop(AF_INET, &o->target.sin_addr, ip, sizeof ip);
    if (o->via == VIA_HTTP)
        snprintf(uri, sizeof uri, "http://%s:%u/", ip, port);
    return (size_t)snprintf(buf, cap,
        "POST %s HTTP/1.1\r\nHost: %s:%u\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Length: %" PRIu64 "\r\n\r\n", uri, ip, port, o->bytes);
}

/* The first line of a response, for messages. */
static const char *status_line(char *in, size_t len)
{
    char *eol = memchr(in, '\r', len);

    if (eol)
        *eol = '\0';
    else
        in[len < 200 ? len : 199] = '\0';
    return in;
}

/*
 * One POST on a fresh connection; seconds, or dies.  The response is read
 * while the body goes out, so a proxy that answers early (an error) is
 * reported with its status line rather than as a stalled send.
 */
static double post_once(const struct opts *o)
{
    char head[512], in[4096];
    size_t hlen = post_head(head, sizeof head, o), hoff = 0, inlen = 0;
    uint64_t left = o->bytes;
    int fd = dial_or_die(o), send_err = 0;
    uint64_t t0;

    if (set_nonblock(fd, true) < 0)
        die("fcntl: %s", strerror(errno));
    t0 = now_ns();
    for (;;) {
        bool sending = !send_err && (hoff < hlen || left > 0);
        struct pollfd p = { .fd = fd,
                            .events = POLLIN | (sending ? POLLOUT : 0) };
        ssize_t n = 0;

        if (poll(&p, 1, 1000) < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (sending && (p.revents & POLLOUT)) {
            if (hoff < hlen)
                n = send(fd, head + hoff, hlen - hoff, MSG_NOSIGNAL);
            else
                n = send(fd, zeros, left < IO_CHUNK ? (size_t)left : IO_CHUNK,
                         MSG_NOSIGNAL);
            if (n > 0 && hoff < hlen)
                hoff += (size_t)n;
            else if (n > 0)
                left -= (uint64_t)n;
            else if (n < 0 && !would_block() && errno != EINTR)
                send_err = errno;   /* look for a response first */
        }
        if (!(p.revents & (POLLIN | POLLERR | POLLHUP)) && !send_err)
            continue;
        n = recv(fd, in + inlen, sizeof in - 1 - inlen, 0);
        if (n < 0 && (would_block() || errno == EINTR))
            continue;
        if (n <= 0)
            die("post via %s: %s after %" PRIu64 " of %" PRIu64
                " body bytes, no response", o->via_str,
                send_err ? strerror(send_err)
                         : n == 0 ? "EOF" : strerror(errno),
                o->bytes - left, o->bytes);
        inlen += (size_t)n;
        if (!memmem(in, inlen, "\r\n\r\n", 4)) {
            if (inlen == sizeof in - 1)
                die("post via %s: response head too long", o->via_str);
            continue;
        }
        if (left > 0 || hoff < hlen)
            die("post via %s: response \"%s\" after %" PRIu64 " of %" PRIu64
                " body bytes", o->via_str, status_line(in, inlen),
                o->bytes - left, o->bytes);
        if (inlen < 12 || memcmp(in, "HTTP/1.", 7) != 0 ||
            memcmp(in + 9, "200", 3) != 0)
            die("post via %s: response \"%s\"", o->via_str,
                status_line(in, inlen));
        break;
    }
    uint64_t dt = now_ns() - t0;

    close(fd);
    return (double)dt / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int cmd_post(const struct opts *o)
{
    double *mb = calloc((size_t)o->count, sizeof *mb);

    if (!mb)
        die("out of memory");
    if (o->via != VIA_DIRECT && o->via != VIA_HTTP)
        die("post wants --via direct or http://H:P");
    for (int i = 0; i < o->count; i++)
        mb[i] = (double)o->bytes / 1e6 / post_once(o);
    qsort(mb, (size_t)o->count, sizeof *mb, cmp_double);
    printf("metric=post_mbps value=%.1f bytes=%" PRIu64 " count=%d"
           " min=%.1f max=%.1f via=%s\n", mb[o->count / 2], o->bytes,
           o->count, mb[0], mb[o->count - 1], o->via_str);
    free(mb);
    return 0;
}

/* ------------------------------------------------------------ udpecho */

#define UDP_BATCH 64
#define UDP_MAX 2048

static void udp_bufsize(int fd)
{
    int sz = 4 << 20;

    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

/* Echo every datagram to its sender, in batches. */
static int cmd_udpecho(const struct opts *o)
{
    static unsigned char bufs[UDP_BATCH][UDP_MAX];
    struct sockaddr_in addrs[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    struct mmsghdr msgs[UDP_BATCH];
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket: %s", strerror(errno));
    udp_bufsize(fd);
    if (bind(fd, (const struct sockaddr *)&o->listen, sizeof o->listen) < 0)
        die("udpecho: bind %s:%u: %s", inet_ntoa(o->listen.sin_addr),
            ntohs(o->listen.sin_port), strerror(errno));
    fprintf(stderr, "ferrybench udpecho: listening on udp %s:%u\n",
            inet_ntoa(o->listen.sin_addr), ntohs(o->listen.sin_port));
    for (;;) {
        int n, sent;

        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < UDP_BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = UDP_MAX;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &addrs[i];
            msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        }
        n = recvmmsg(fd, msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("recvmmsg: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++)
            iov[i].iov_len = msgs[i].msg_len;
        /* A full socket buffer drops the rest: loss, as on a network. */
        for (sent = 0; sent < n;) {
            int r = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);

            if (r <= 0)
                break;
            sent += r;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ udp */

/*
 * A window of --window datagrams is kept in flight: each slot holds one
 * outstanding datagram; its echo (matched by sequence number and slot)
 * frees the slot and the next datagram goes out at once.  A datagram not
 * echoed within UDP_LOSS_NS counts as lost and its slot is reused; an echo
 * that comes later counts as late.  Datagrams are counted over --seconds
 * after a warm-up of UDP_WARMUP_NS.
 */
#define UDP_LOSS_NS (200 * 1000000ull)
#define UDP_WARMUP_NS (NS_PER_S / 2)
#define UDP_DRAIN_NS (300 * 1000000ull)
#define UDP_MAGIC 0x46455252u   /* "FERR" */
#define UDP_MAX_SAMPLES (1u << 23)

struct uslot {
    uint64_t seq;
    uint64_t sent;
    bool pending;
};

struct udpc {
    const struct opts *o;
    int fd;                     /* the client's UDP socket */
    int ctl;                    /* SOCKS5 control connection, or -1 */
    struct sockaddr_in relay;   /* where datagrams go */
    unsigned char pre[10];      /* SOCKS5 UDP request header */
    size_t prelen;
    struct uslot *slots;
    uint64_t next_seq;
    uint64_t sent, received, lost, late, bad;
    uint64_t *rtt;
    size_t nrtt;
};

static void read_full(int fd, unsigned char *buf, size_t n, const char *what)
{
    int r = recv_exact(fd, buf, n, n);

    if (r < 0)
        die("udp: %s: %s", what, strerror(-r));
}

/*
 * Greeting and UDP ASSOCIATE on a blocking TCP connection, announcing the
 * client's UDP address; sets u->relay from BND.ADDR/PORT (0.0.0.0: the
 * proxy's address).
 */
static void udp_associate(struct udpc *u)
{
    const struct opts *o = u->o;
    struct sockaddr_in me;
    socklen_t sl = sizeof me;
    struct timeval tv = { .tv_sec = 10 };
    unsigned char req[10] = { 5, 3, 0, 1 }, rep[32];
    int r;

    u->ctl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u->ctl < 0)
        die("socket: %s", strerror(errno));
    (void)setsockopt(u->ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(u->ctl, (const struct sockaddr *)&o->proxy,
                sizeof o->proxy) < 0)
        die("udp: connect to %s: %s", o->via_str, strerror(errno));
    /* The UDP socket gets the address of the control connection. */
    if (getsockname(u->ctl, (struct sockaddr *)&me, &sl) < 0)
        die("getsockname: %s", strerror(errno));
    me.sin_port = 0;
    if (bind(u->fd, (const struct sockaddr *)&me, sizeof me) < 0)
        die("udp: bind: %s", strerror(errno));
    sl = sizeof me;
    if (getsockname(u->fd, (struct sockaddr *)&me, &sl) < 0)
        die("getsockname: %s", strerror(errno));
    if ((r = send_all(u->ctl, "\5\1\0", 3)) < 0)
        die("udp: greeting: %s", strerror(-r));
    read_full(u->ctl, rep, 2, "greeting reply");
    if (rep[0] != 5 || rep[1] != 0)
        die("udp: greeting refused (%u %u)", rep[0], rep[1]);
    memcpy(req + 4, &me.sin_addr, 4);
    memcpy(req + 8, &me.sin_port, 2);
    if ((r = send_all(u->ctl, req, sizeof req)) < 0)
        die("udp: UDP ASSOCIATE: %s", strerror(-r));
    read_full(u->ctl, rep, 4, "UDP ASSOCIATE reply");
    if (rep[0] != 5 || rep[1] != 0)
        die("udp: UDP ASSOCIATE refused (VER %u REP %u)", rep[0], rep[1]);
    if (rep[3] != 1)
        die("udp: UDP ASSOCIATE reply with ATYP %u (want IPv4)", rep[3]);
    read_full(u->ctl, rep + 4, 6, "UDP ASSOCIATE reply");
    memset(&u->relay, 0, sizeof u->relay);
    u->relay.sin_family = AF_INET;
    memcpy(&u->relay.sin_addr, rep + 4, 4);
    memcpy(&u->relay.sin_port, rep + 8, 2);
    if (u->relay.sin_addr.s_addr == htonl(INADDR_ANY))
        u->relay.sin_addr = o->proxy.sin_addr;
    u->pre[0] = u->pre[1] = u->pre[2] = 0;  /* RSV, FRAG 0 */
    u->pre[3] = 1;                          /* IPv4 */
    memcpy(u->pre + 4, &o->target.sin_addr, 4);
    memcpy(u->pre + 8, &o->target.sin_port, 2);
    u->prelen = 10;
    if (set_nonblock(u->ctl, true) < 0)
        die("fcntl: %s", strerror(errno));
}

/* Send the next datagram in slot i; false if the socket refused it. */
static bool udp_send(struct udpc *u, int i, unsigned char *buf)
{
    size_t len = u->prelen + (size_t)u->o->size;
    uint64_t seq = u->next_seq;
    uint32_t slot = (uint32_t)i, magic = UDP_MAGIC;
    unsigned char *p = buf + u->prelen;

    memcpy(p, &seq, 8);
    memcpy(p + 8, &slot, 4);
    memcpy(p + 12, &magic, 4);
    if (sendto(u->fd, buf, len, 0, (const struct sockaddr *)&u->relay,
               sizeof u->relay) != (ssize_t)len)
        return false;
    u->slots[i] = (struct uslot){ .seq = seq, .sent = now_ns(),
                                  .pending = true };
    u->next_seq++;
    u->sent++;
    return true;
}

/* One echoed datagram: check it and free its slot. */
static void udp_got(struct udpc *u, const unsigned char *d, size_t len,
                    uint64_t now)
{
    size_t hl = 0;
    uint64_t seq;
    uint32_t slot, magic;

    if (u->ctl >= 0) {
        /* RSV RSV FRAG ATYP ADDR PORT, the source being the echo server */
        if (len < 10 || d[0] || d[1] || d[2] || d[3] != 1 ||
            memcmp(d + 4, &u->o->target.sin_addr, 4) != 0 ||
            memcmp(d + 8, &u->o->target.sin_port, 2) != 0) {
            u->bad++;
            return;
        }
        hl = 10;
    }
    if (len - hl != (size_t)u->o->size) {
        u->bad++;
        return;
    }
    memcpy(&seq, d + hl, 8);
    memcpy(&slot, d + hl + 8, 4);
    memcpy(&magic, d + hl + 12, 4);
    if (magic != UDP_MAGIC || slot >= (uint32_t)u->o->window) {
        u->bad++;
        return;
    }
    if (!u->slots[slot].pending || u->slots[slot].seq != seq) {
        u->late++;
        return;
    }
    u->slots[slot].pending = false;
    u->received++;
    if (u->nrtt < UDP_MAX_SAMPLES)
        u->rtt[u->nrtt++] = now - u->slots[slot].sent;
}

static void udp_recv_all(struct udpc *u)
{
    static unsigned char bufs[UDP_BATCH][UDP_MAX];
    struct iovec iov[UDP_BATCH];
    struct mmsghdr msgs[UDP_BATCH];

    for (;;) {
        int n;

        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < UDP_BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = UDP_MAX;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        n = recvmmsg(u->fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        uint64_t now = now_ns();

        for (int i = 0; i < n; i++)
            udp_got(u, bufs[i], msgs[i].msg_len, now);
    }
}

/* The control connection must stay open and quiet. */
static void udp_check_ctl(struct udpc *u)
{
    unsigned char c;
    ssize_t n;

    if (u->ctl < 0)
        return;
    n = recv(u->ctl, &c, 1, MSG_DONTWAIT);
    if (n == 0)
        die("udp via %s: the proxy closed the control connection",
            u->o->via_str);
    if (n < 0 && !would_block() && errno != EINTR)
        die("udp via %s: control connection: %s", u->o->via_str,
            strerror(errno));
}

/* Expire overdue slots and refill free ones (if sending). */
static void udp_sweep(struct udpc *u, unsigned char *buf, uint64_t now,
                      bool sending)
{
    for (int i = 0; i < u->o->window; i++) {
        struct uslot *s = &u->slots[i];

        if (s->pending && now - s->sent > UDP_LOSS_NS) {
            s->pending = false;
            u->lost++;
        }
        if (!s->pending && sending && !udp_send(u, i, buf))
            break;      /* socket buffer full: retry on the next round */
    }
}

static int udp_pending(const struct udpc *u)
{
    int n = 0;

    for (int i = 0; i < u->o->window; i++)
        n += u->slots[i].pending;
    return n;
}

static void udp_pump(struct udpc *u, unsigned char *buf, uint64_t until,
                     bool sending)
{
    uint64_t now;

    while ((now = now_ns()) < until) {
        struct pollfd p[2] = {
            { .fd = u->fd, .events = POLLIN },
            { .fd = u->ctl, .events = POLLIN | POLLRDHUP },
        };

        udp_sweep(u, buf, now, sending);
        if (!sending && udp_pending(u) == 0)
            return;
        if (poll(p, u->ctl >= 0 ? 2 : 1, 10) < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (p[0].revents & POLLIN)
            udp_recv_all(u);
        if (u->ctl >= 0 && p[1].revents)
            udp_check_ctl(u);
    }
}

static int cmd_udp(const struct opts *o)
{
    struct udpc u = { .o = o, .ctl = -1 };
    unsigned char buf[UDP_MAX];
    uint64_t t0, t1;
    double secs, p50 = 0, p99 = 0;

    if (o->via != VIA_DIRECT && o->via != VIA_SOCKS5)
        die("udp wants --via direct or socks5://H:P");
    if (o->size < 16 || o->size > UDP_MAX - 32)
        die("udp: --size is 16..%d", UDP_MAX - 32);
    u.slots = calloc((size_t)o->window, sizeof *u.slots);
    u.rtt = malloc(UDP_MAX_SAMPLES * sizeof *u.rtt);
    u.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!u.slots || !u.rtt || u.fd < 0)
        die("udp init: %s", strerror(errno));
    udp_bufsize(u.fd);
    memset(buf, 0, sizeof buf);
    if (o->via == VIA_SOCKS5) {
        udp_associate(&u);
        memcpy(buf, u.pre, u.prelen);
    } else {
        u.relay = o->target;
    }
    udp_pump(&u, buf, now_ns() + UDP_WARMUP_NS, true);
    u.sent = u.received = u.lost = u.late = u.bad = 0;
    u.nrtt = 0;
    t0 = now_ns();
    udp_pump(&u, buf, t0 + (uint64_t)(o->seconds * 1e9), true);
    t1 = now_ns();
    /* Stop sending; what is still out after the drain is lost. */
    udp_pump(&u, buf, t1 + UDP_DRAIN_NS, false);
    u.lost += (uint64_t)udp_pending(&u);
    secs = (double)(t1 - t0) / 1e9;
    if (u.nrtt) {
        qsort(u.rtt, u.nrtt, sizeof *u.rtt, cmp_u64);
        p50 = (double)u.rtt[u.nrtt / 2] / 1e3;
        p99 = (double)u.rtt[u.nrtt * 99 / 100] / 1e3;
    }
    printf("metric=udp_pps value=%.1f sent=%" PRIu64 " received=%" PRIu64
           " lost=%" PRIu64 " late=%" PRIu64 " bad=%" PRIu64
           " rtt_p50_us=%.1f rtt_p99_us=%.1f size=%d window=%d"
           " seconds=%.2f relay=%s:%u via=%s\n",
           (double)u.received / secs, u.sent, u.received, u.lost, u.late,
           u.bad, p50, p99, o->size, o->window, secs,
           inet_ntoa(u.relay.sin_addr), ntohs(u.relay.sin_port), o->via_str);
    printf("metric=udp_loss_pct value=%.3f sent=%" PRIu64 " lost=%" PRIu64
           " via=%s\n", u.sent ? 100.0 * (double)u.lost / (double)u.sent : 0,
           u.sent, u.lost, o->via_str);
    if (u.ctl >= 0)
        close(u.ctl);
    close(u.fd);
    free(u.slots);
    free(u.rtt);
    if (u.received == 0 || u.bad > 0) {
        fprintf(stderr, "ferrybench udp: %" PRIu64 " echoed, %" PRIu64
                " malformed\n", u.received, u.bad);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ wait */

/*
 * Direct: until --target accepts a connection.  Through a proxy: until a
 * connection through it has made its handshake, so the proxy has reached
 * --target (a relay: until the relay accepts).
 */
static int cmd_wait(const struct opts *o)
{
    uint64_t deadline = now_ns() + (uint64_t)(o->timeout * 1e9);
    int fd;

    do {
        fd = dial(o);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        sleep_s(0.05);
    } while (now_ns() < deadline);
    fprintf(stderr, "ferrybench wait: %s:%u not reached via %s: %s\n",
            inet_ntoa(o->target.sin_addr), ntohs(o->target.sin_port),
            o->via_str, strerror(-fd));
    return 1;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
    fputs(
"usage: ferrybench server [--listen H:P] [--threads N]\n"
"       ferrybench single --target H:P --via V [--bytes 2G] [--upload]"
" [--pid PID[,PID...]]\n"
"       ferrybench multi  --target H:P --via V [--streams 8] [--seconds 3]\n"
"       ferrybench rtt    --target H:P --via V [--count 20000]\n"
"       ferrybench loaded --target H:P --via V [--streams 8] [--seconds 3]\n"
"       ferrybench rate   --target H:P --via V [--seconds 5]"
" [--concurrency 32]\n"
"       ferrybench idle   --target H:P --via V --pid PID[,PID...]"
" [--conns 5000]\n"
"                         [--warmup 16] [--settle 2]\n"
"       ferrybench opens  --target H:P --via V [--conns 1000]"
" [--concurrency K]\n"
"       ferrybench wait   --target H:P [--via V]\n"
"       ferrybench httpsink --listen H:P [--threads N]\n"
"       ferrybench post   --target H:P --via direct|http://H:P"
" [--bytes 100000000] [--count 1]\n"
"       ferrybench udpecho --listen H:P\n"
"       ferrybench udp    --target H:P --via direct|socks5://H:P"
" [--seconds 5] [--window 32] [--size 64]\n"
"  V = direct | connect://H:P | socks5://H:P | relay://H:P"
" (| http://H:P for post)\n"
"  --target and --listen default to 127.0.0.1:19000\n"
"  every client command takes --timeout SECONDS (default 300)\n"
"  multi, loaded: endless downloads, counted over --seconds after 0.5 s\n"
"  idle: RSS summed over the process trees of every --pid\n"
"  single --pid: also their CPU time per GB moved\n",
          stderr);
    exit(2);
}

static void opts_defaults(struct opts *o)
{
    memset(o, 0, sizeof *o);
    if (parse_addr("127.0.0.1:19000", &o->target) < 0 ||
        parse_addr("127.0.0.1:19000", &o->listen) < 0)
        die("internal: default address");
    o->via = VIA_DIRECT;
    o->via_str = "direct";
    o->bytes = 0;
    o->streams = 8;
    o->count = 0;               /* rtt: 20000, post: 1 */
    o->concurrency = 0;         /* rate: 32, opens: all */
    o->seconds = 0;
    o->conns = 0;               /* idle: 5000, opens: 1000 */
    o->warmup = 16;
    o->settle = 2;
    o->npids = 0;
    o->threads = 2;
    o->window = 32;
    o->size = 64;
    o->timeout = 300;
}

static long int_arg(const char *v, long lo, long hi)
{
    char *end;
    long n = strtol(v, &end, 10);

    if (*end || end == v || n < lo || n > hi)
        die("bad number '%s'", v);
    return n;
}

static double num_arg(const char *v)
{
    char *end;
    double d = strtod(v, &end);

    if (*end || end == v || d < 0)
        die("bad number '%s'", v);
    return d;
}

/* "PID" or "PID,PID,..." */
static void parse_pids(struct opts *o, const char *v)
{
    char buf[256], *save = NULL;

    if (strlen(v) >= sizeof buf)
        die("bad --pid '%s'", v);
    strcpy(buf, v);
    o->npids = 0;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (o->npids == MAX_ROOTS)
            die("at most %d pids", MAX_ROOTS);
        o->pids[o->npids++] = (pid_t)int_arg(t, 1, 1L << 30);
    }
}

static void parse_opt(struct opts *o, const char *k, const char *v)
{
    if (strcmp(k, "--target") == 0 && parse_addr(v, &o->target) == 0)
        return;
    if (strcmp(k, "--listen") == 0 && parse_addr(v, &o->listen) == 0)
        return;
    if (strcmp(k, "--via") == 0 && parse_via(v, o) == 0)
        return;
    if (strcmp(k, "--bytes") == 0)
        o->bytes = parse_size(v);
    else if (strcmp(k, "--streams") == 0)
        o->streams = (int)int_arg(v, 1, 1024);
    else if (strcmp(k, "--count") == 0)
        o->count = (int)int_arg(v, 1, 100000000);
    else if (strcmp(k, "--concurrency") == 0)
        o->concurrency = (int)int_arg(v, 1, 10000);
    else if (strcmp(k, "--conns") == 0)
        o->conns = (int)int_arg(v, 1, 1000000);
    else if (strcmp(k, "--warmup") == 0)
        o->warmup = (int)int_arg(v, 0, 10000);
    else if (strcmp(k, "--pid") == 0)
        parse_pids(o, v);
    else if (strcmp(k, "--threads") == 0)
        o->threads = (int)int_arg(v, 1, 256);
    else if (strcmp(k, "--window") == 0)
        o->window = (int)int_arg(v, 1, 65536);
    else if (strcmp(k, "--size") == 0)
        o->size = (int)int_arg(v, 16, UDP_MAX - 32);
    else if (strcmp(k, "--seconds") == 0)
        o->seconds = num_arg(v);
    else if (strcmp(k, "--settle") == 0)
        o->settle = num_arg(v);
    else if (strcmp(k, "--timeout") == 0)
        o->timeout = num_arg(v);
    else
        die("bad option %s %s", k, v);
}

static void parse_args(struct opts *o, int argc, char **argv)
{
    opts_defaults(o);
    if (argc < 2)
        usage();
    o->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--upload") == 0) {
            o->upload = true;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            usage();
        } else if (i + 1 < argc) {
            parse_opt(o, argv[i], argv[i + 1]);
            i++;
        } else {
            die("option %s needs a value", argv[i]);
        }
    }
    bool post = strcmp(o->cmd, "post") == 0;

    if (o->bytes == 0)
        o->bytes = post ? 100000000ull : 2ull << 30;
    if (o->count == 0)
        o->count = post ? 1 : 20000;
    if (o->seconds == 0)
        o->seconds = strcmp(o->cmd, "multi") == 0 ||
                     strcmp(o->cmd, "loaded") == 0 ? 3 : 5;
    if (o->conns == 0)
        o->conns = strcmp(o->cmd, "opens") == 0 ? 1000 : 5000;
    if (o->concurrency == 0)
        o->concurrency = strcmp(o->cmd, "opens") == 0 ? o->conns : 32;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const struct opts *);
    } cmds[] = {
        { "server", cmd_server }, { "single", cmd_single },
        { "multi", cmd_multi },   { "rtt", cmd_rtt },
        { "rate", cmd_rate },     { "idle", cmd_idle },
        { "loaded", cmd_loaded }, { "opens", cmd_opens },
        { "wait", cmd_wait },     { "httpsink", cmd_httpsink },
        { "post", cmd_post },     { "udpecho", cmd_udpecho },
        { "udp", cmd_udp },
    };
    static const char *const servers[] = { "server", "httpsink", "udpecho" };
    static const char *const tcp_clients[] = { "single", "multi", "rtt",
                                               "rate", "idle", "loaded",
                                               "opens", "wait" };
    struct opts o;

    parse_args(&o, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(o.cmd, "idle") == 0 && o.npids == 0)
        die("idle needs --pid");
    bool server = false;

    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++)
        server = server || strcmp(o.cmd, servers[i]) == 0;
    for (size_t i = 0; i < sizeof tcp_clients / sizeof tcp_clients[0]; i++)
        if (strcmp(o.cmd, tcp_clients[i]) == 0 && o.via == VIA_HTTP)
            die("%s does not take --via http://", o.cmd);
    if (!server)
        alarm((unsigned)o.timeout + 1);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(o.cmd, cmds[i].name) == 0)
            return cmds[i].fn(&o);
    usage();
    return 2;
}
