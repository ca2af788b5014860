/* tport: the byte stream under the multiplexer: a TCP socket, optionally
 * TLS (OpenSSL, non-blocking), optionally WebSocket framing on top.
 *
 * Every call is non-blocking: -EAGAIN means "call again after the next
 * event on the socket" (either direction: TLS may need to write to read).
 * The owner registers the socket for EPOLLIN|EPOLLOUT edge-triggered and
 * on any event retries what it was doing.  No callbacks, no timers. */
#ifndef FERRY_TPORT_H
#define FERRY_TPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct tport;

/* Wrap fd (taken: closed by tport_free, or at once on failure).  ssl,
 * when not NULL, is taken too (set up for the client or server side);
 * it is attached to fd here. */
int tport_new(struct tport **out, int fd, SSL *ssl);
void tport_free(struct tport *t);
int tport_fd(const struct tport *t);

/* Drive the TLS handshake: 0 once done (at once without TLS), -EAGAIN,
 * or -EPROTO (the reason is logged by the caller from
 * tport_error()). */
int tport_handshake(struct tport *t);
/* A one-line description of the last TLS failure ("" if none). */
const char *tport_error(const struct tport *t);

/* From now on the bytes travel in WebSocket binary frames: masked when
 * client is set (RFC 6455: clients mask), and the peer's frames must be
 * masked exactly when client is not set. */
void tport_ws_start(struct tport *t, bool client);

/* Read up to n bytes: > 0, 0 at the end of the stream, -EAGAIN, or
 * -errno (-EPROTO for a TLS or WebSocket protocol error). */
ssize_t tport_read(struct tport *t, void *buf, size_t n);
/* Write up to n bytes: the number taken (> 0), -EAGAIN, or -errno.  The
 * bytes taken may wait in the tport (TLS records are sent several at a
 * time, a WebSocket frame whole): call tport_flush() when nothing more
 * is to be written now, and on every later event. */
ssize_t tport_write(struct tport *t, const void *buf, size_t n);
/* 0 when nothing waits, -EAGAIN, or -errno. */
int tport_flush(struct tport *t);

/* Without TLS or WebSocket the bytes on the socket are the caller's own,
 * and these move them without a copy through user space. */
bool tport_plain(const struct tport *t);
/* Plain only: write n bytes of buf telling the kernel that more follow
 * at once (MSG_MORE); returns like tport_write. */
ssize_t tport_write_more(struct tport *t, const void *buf, size_t n);
/* Plain only: splice up to n bytes from the pipe's read end pipe_r to
 * the socket, or from the socket into the pipe's write end pipe_w.  The
 * number moved (> 0), 0 at the end of the stream (splice_in), -EAGAIN,
 * or -errno. */
ssize_t tport_splice_out(struct tport *t, int pipe_r, size_t n);
ssize_t tport_splice_in(struct tport *t, int pipe_w, size_t n);

#endif
