/* tport: see tport.h.
 *
 * Layers, bottom up: raw_read/raw_write (recv/send, or SSL_read/
 * SSL_write), then the WebSocket layer when started: incoming frames are
 * unwrapped into the caller's buffer (payload bytes read straight into
 * it, headers and control frames through a small buffer), outgoing bytes
 * are framed into one frame buffer that must empty before the next. */
#include "tunnel/tport.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "core/pipepool.h"
#include "proto/ws.h"

#define TLS_READ_BUF (64u << 10)    /* OpenSSL's read-ahead buffer */
#define TLS_WRITE_BUF (64u << 10)   /* records gathered per send() */
#define WS_IN_CAP 4096               /* headers and control frames */
#define WS_FRAME_MAX 65536           /* payload per outgoing frame */
#define WS_OUT_CAP (WS_FRAME_MAX + 4 * (WS_HEADER_MAX + WS_CONTROL_MAX))

struct ws_state {
    bool client;         /* we mask; the peer must not */
    uint8_t in[WS_IN_CAP];
    size_t in_off, in_len;
    uint64_t remaining;  /* payload bytes left in the current data frame */
    uint64_t moff;       /* their offset within the frame, for unmasking */
    bool masked;
    uint8_t mask[4];
    bool closing;        /* a Close frame arrived */
    uint8_t *out;        /* WS_OUT_CAP bytes, owned */
    size_t out_off, out_len;
};

struct tport {
    int fd;             /* owned */
    SSL *ssl;           /* owned, or NULL */
    struct ws_state *ws; /* owned, or NULL before tport_ws_start() */
    char err[160];
};

/* Records go out through a buffer BIO, several per send(): a record is
 * 16 KiB, and each send() on loopback costs the receiver a wakeup.
 * tport_flush() empties it (OpenSSL flushes its own handshake flights). */
static int buffer_writes(SSL *ssl)
{
    BIO *sock = SSL_get_rbio(ssl);
    BIO *buf = BIO_new(BIO_f_buffer());
    if (!buf || BIO_set_write_buffer_size(buf, TLS_WRITE_BUF) != 1 ||
        BIO_up_ref(sock) != 1) {
        BIO_free(buf);
        return -1;
    }
    BIO_push(buf, sock);
    SSL_set0_wbio(ssl, buf);
    return 0;
}

int tport_new(struct tport **out, int fd, SSL *ssl)
{
    struct tport *t = calloc(1, sizeof(*t));
    if (!t || (ssl && (SSL_set_fd(ssl, fd) != 1 || buffer_writes(ssl) < 0))) {
        free(t);
        SSL_free(ssl);
        close(fd);
        return -ENOMEM;
    }
    t->fd = fd;
    t->ssl = ssl;
    if (ssl) {
        SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        /* Several records per recv(): without read-ahead OpenSSL reads a
         * record's header and its body with a syscall each.  Callers
         * read until -EAGAIN, so nothing waits in the buffer unseen. */
        SSL_set_read_ahead(ssl, 1);
        SSL_set_default_read_buffer_len(ssl, TLS_READ_BUF);
    }
    *out = t;
    return 0;
}

void tport_free(struct tport *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    if (t->fd >= 0)
        close(t->fd);
    if (t->ws)
        free(t->ws->out);
    free(t->ws);
    free(t);
}

int tport_fd(const struct tport *t) { return t->fd; }
const char *tport_error(const struct tport *t) { return t->err; }

/* Map an SSL call's failure to -EAGAIN, 0 (clean end) or -errno. */
static int ssl_fail(struct tport *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        return errno ? -errno : 0;
    }
    unsigned long code = ERR_peek_last_error();
    ERR_error_string_n(code, t->err, sizeof(t->err));
    ERR_clear_error();
    return -EPROTO;
}

int tport_handshake(struct tport *t)
{
    if (!t->ssl)
        return 0;
    ERR_clear_error();
    int ret = SSL_do_handshake(t->ssl);
    if (ret == 1)
        return 0;
    int rc = ssl_fail(t, ret);
    return rc == 0 ? -ECONNRESET : rc;
}

static ssize_t raw_read(struct tport *t, void *buf, size_t n)
{
    if (t->ssl) {
        ERR_clear_error();
        int ret = SSL_read(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        return ret > 0 ? ret : ssl_fail(t, ret);
    }
    for (;;) {
        ssize_t r = recv(t->fd, buf, n, 0);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t plain_send(struct tport *t, const void *buf, size_t n,
                          int flags)
{
    for (;;) {
        ssize_t r = send(t->fd, buf, n, MSG_NOSIGNAL | flags);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t raw_write(struct tport *t, const void *buf, size_t n)
{
    if (t->ssl) {
        ERR_clear_error();
        int ret = SSL_write(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (ret > 0)
            return ret;
        int rc = ssl_fail(t, ret);
        return rc == 0 ? -EPIPE : rc;
    }
    return plain_send(t, buf, n, 0);
}

bool tport_plain(const struct tport *t) { return !t->ssl && !t->ws; }

ssize_t tport_write_more(struct tport *t, const void *buf, size_t n)
{
    return plain_send(t, buf, n, MSG_MORE);
}

ssize_t tport_splice_out(struct tport *t, int pipe_r, size_t n)
{
    return pipe_splice(pipe_r, t->fd, n);
}

ssize_t tport_splice_in(struct tport *t, int pipe_w, size_t n)
{
    return pipe_splice(t->fd, pipe_w, n);
}

void tport_ws_start(struct tport *t, bool client)
{
    t->ws = calloc(1, sizeof(*t->ws));
    if (t->ws) {
        t->ws->out = malloc(WS_OUT_CAP);
        if (!t->ws->out) {
            free(t->ws);
            t->ws = NULL;
        }
    }
    if (t->ws)
        t->ws->client = client;
    else
        snprintf(t->err, sizeof(t->err), "out of memory");
}

/* Hand the queued WebSocket frames to the layer below (where TLS records
 * may wait in the buffer BIO).  0 or -errno, -EAGAIN included. */
static int ws_drain(struct tport *t)
{
    struct ws_state *ws = t->ws;
    while (ws && ws->out_off < ws->out_len) {
        ssize_t r = raw_write(t, ws->out + ws->out_off,
                              ws->out_len - ws->out_off);
        if (r < 0)
            return (int)r;
        ws->out_off += (size_t)r;
    }
    if (ws)
        ws->out_off = ws->out_len = 0;
    return 0;
}

int tport_flush(struct tport *t)
{
    int rc = ws_drain(t);
    if (rc < 0 || !t->ssl)
        return rc;
    BIO *b = SSL_get_wbio(t->ssl);
    if (BIO_flush(b) > 0)
        return 0;
    if (BIO_should_retry(b))
        return -EAGAIN;
    return errno ? -errno : -EIO;
}

/* Append one frame to the output buffer (the caller checked the room). */
static void ws_queue(struct ws_state *ws, uint8_t opcode, const void *data,
                     size_t n)
{
    uint8_t mask[4];
    const uint8_t *m = NULL;
    if (ws->client) {
        if (RAND_bytes(mask, sizeof(mask)) != 1)
            memset(mask, 0x5a, sizeof(mask)); /* never seen; still masked */
        m = mask;
    }
    uint8_t *p = ws->out + ws->out_len;
    size_t h = ws_encode_header(p, opcode, n, m);
    memcpy(p + h, data, n);
    if (m)
        ws_apply_mask(p + h, n, m, 0);
    ws->out_len += h + n;
}

ssize_t tport_write(struct tport *t, const void *buf, size_t n)
{
    if (!t->ws)
        return t->err[0] ? -ENOMEM : raw_write(t, buf, n);
    int rc = ws_drain(t);
    if (rc < 0)
        return rc;
    if (n > WS_FRAME_MAX)
        n = WS_FRAME_MAX;
    ws_queue(t->ws, WS_BINARY, buf, n);
    rc = ws_drain(t);
    return rc < 0 && rc != -EAGAIN ? rc : (ssize_t)n;
}

/* Read more raw bytes into the header buffer. */
static ssize_t ws_fill(struct tport *t)
{
    struct ws_state *ws = t->ws;
    if (ws->in_off > 0) {
        memmove(ws->in, ws->in + ws->in_off, ws->in_len - ws->in_off);
        ws->in_len -= ws->in_off;
        ws->in_off = 0;
    }
    if (ws->in_len == sizeof(ws->in))
        return -EPROTO;
    return raw_read(t, ws->in + ws->in_len, sizeof(ws->in) - ws->in_len);
}

/* Payload bytes of the current data frame into buf. */
static ssize_t ws_payload(struct tport *t, uint8_t *buf, size_t n)
{
    struct ws_state *ws = t->ws;
    size_t want = n < ws->remaining ? n : (size_t)ws->remaining;
    ssize_t got;
    if (ws->in_off < ws->in_len) {
        size_t have = ws->in_len - ws->in_off;
        got = (ssize_t)(want < have ? want : have);
        memcpy(buf, ws->in + ws->in_off, (size_t)got);
        ws->in_off += (size_t)got;
    } else {
        got = raw_read(t, buf, want);
        if (got == 0)
            return -ECONNRESET; /* the stream ended inside a frame */
        if (got < 0)
            return got;
    }
    if (ws->masked)
        ws_apply_mask(buf, (size_t)got, ws->mask, ws->moff);
    ws->moff += (uint64_t)got;
    ws->remaining -= (uint64_t)got;
    return got;
}

/* A complete control frame at in_off: answer a Ping, note a Close. */
static void ws_control(struct ws_state *ws, const struct ws_frame *f)
{
    uint8_t *payload = ws->in + ws->in_off + f->header_len;
    if (f->masked)
        ws_apply_mask(payload, f->len, f->mask, 0);
    if (f->opcode == WS_PING &&
        ws->out_len + WS_HEADER_MAX + f->len <= WS_OUT_CAP)
        ws_queue(ws, WS_PONG, payload, f->len);
    if (f->opcode == WS_CLOSE)
        ws->closing = true;
    ws->in_off += f->header_len + f->len;
}

/* Take the next frame header.  1 when a data frame starts, 2 after a
 * control frame or more header bytes, or a read result (-EAGAIN, -errno,
 * 0 at the end). */
static ssize_t ws_next(struct tport *t)
{
    struct ws_state *ws = t->ws;
    struct ws_frame f;
    int rc = ws_decode_header(ws->in + ws->in_off, ws->in_len - ws->in_off,
                              &f);
    bool whole = rc > 0 && (f.opcode < WS_CLOSE ||
                            ws->in_len - ws->in_off >= f.header_len + f.len);
    if (rc == -EAGAIN || (rc > 0 && !whole)) {
        ssize_t r = ws_fill(t);
        if (r <= 0)
            return r;
        ws->in_len += (size_t)r;
        return 2;
    }
    if (rc < 0 || f.masked == ws->client || f.opcode == WS_TEXT)
        return -EPROTO;
    if (f.opcode >= WS_CLOSE) {
        ws_control(ws, &f);
        return 2;
    }
    ws->in_off += f.header_len;
    ws->remaining = f.len;
    ws->moff = 0;
    ws->masked = f.masked;
    memcpy(ws->mask, f.mask, sizeof(ws->mask));
    return 1;
}

ssize_t tport_read(struct tport *t, void *buf, size_t n)
{
    if (!t->ws)
        return t->err[0] ? -ENOMEM : raw_read(t, buf, n);
    for (;;) {
        if (t->ws->closing)
            return 0;
        if (t->ws->remaining > 0)
            return ws_payload(t, buf, n);
        ssize_t r = ws_next(t);
        if (r <= 0)
            return r;
    }
}
