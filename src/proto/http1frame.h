/* http1frame: where an HTTP/1.x message ends (sans I/O).
 *
 * The forwarder passes message bytes through verbatim (a chunked body
 * stays chunked, trailers included) but must know where each message
 * ends: to find the next request of a keep-alive connection, to know when
 * an upstream connection can be reused, and to refuse bad framing (bad
 * chunk sizes, Content-Length with Transfer-Encoding ...).  A framer is an
 * llhttp parser fed the head (already parsed and checked by http1) and
 * then the body bytes as they pass. */
#ifndef FERRY_HTTP1FRAME_H
#define FERRY_HTTP1FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <llhttp.h>

struct http1_framer {
    llhttp_t parser;
    llhttp_settings_t settings;
    bool response;
    bool no_body;  /* response to HEAD (set before feeding the head) */
    bool done;     /* the message is complete */
    bool upgrade;  /* llhttp stopped at an upgrade (101, CONNECT) */
};

/* Ready for a new message (request or response).  Caller storage. */
void http1_framer_init(struct http1_framer *f, bool response);
/* Feed bytes of the current message.  Returns how many of them belong to
 * it (the rest, if any, belongs to the next message), with f->done set
 * when it ended; -EBADMSG on a framing error. */
ssize_t http1_framer_feed(struct http1_framer *f, const char *buf,
                          size_t len);
/* The peer closed: 0 if that completes the message (a response read
 * until close, or a message that was already done), else -EBADMSG. */
int http1_framer_eof(struct http1_framer *f);
/* True when the message's body runs until the connection closes. */
bool http1_framer_until_close(const struct http1_framer *f);

#endif
