/* session: one client connection's life, from accept to the access-log
 * line.
 *
 *   accept -> HEAD (the front end parses the request head; it may answer
 *   small handshake messages itself) -> DIAL (the egress connects) ->
 *   the front end writes its reply -> RELAY (bytes both ways) -> close.
 *   A failure at any step becomes an enum result; the front end turns it
 *   into its protocol's answer, then the session closes after a short
 *   linger so the answer is not lost to a reset.
 *
 * Front ends see the session through this header; they own nothing in
 * it except their own phase byte. */
#ifndef FERRY_SESSION_H
#define FERRY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/relay.h"
#include "core/request.h"
#include "core/result.h"

struct worker;
struct session;
struct route;
struct httpfwd;
struct udpassoc;

enum front_status {
    FRONT_MORE,     /* need more bytes from the client */
    FRONT_DISPATCH, /* s->req is complete: go to the egress */
    FRONT_CLOSE,    /* an answer was written (or none is due): close */
    FRONT_FORWARD,  /* an absolute-URI HTTP request: hand to httpfwd */
    FRONT_UDP,      /* SOCKS5 UDP ASSOCIATE; s->req.target is the
                       request's DST (the client's address hint) */
};

/* What a front end (http, socks, mixed) provides. */
struct front_ops {
    const char *name;
    /* Parse s->head[0 .. s->head_len).  Consume handshake messages with
     * session_consume(); on FRONT_DISPATCH the bytes still in the head
     * buffer are relayed to the target ahead of anything else. */
    enum front_status (*on_head)(struct session *s);
    /* Answer the request with r; bnd is the egress socket's local
     * address when r == RESULT_OK, else NULL.  Returns 0 or -errno. */
    int (*reply)(struct session *s, enum result r, const struct addr *bnd);
};

enum session_phase {
    SESSION_HEAD,
    SESSION_DIAL,
    SESSION_RELAY,
    SESSION_HTTP, /* httpfwd forwards requests one by one */
    SESSION_UDP,  /* a UDP association lives while the client stays */
    SESSION_LINGER,
    SESSION_HANDED, /* a tunnel's link took the client (session_end) */
    SESSION_CLOSED,
};

struct session {
    struct session *prev, *next; /* the worker's live list */
    struct worker *w;            /* borrowed */
    const struct front_ops *front;
    enum session_phase phase;
    uint8_t front_phase; /* private to the front end */
    struct loop_io client;
    struct loop_io upstream;
    struct loop_timer timer; /* handshake, idle or linger */
    struct loop_defer free_later;
    struct loop_defer repump; /* SESSION_RELAY: the relay yielded */
    struct request req;
    char *head; /* bufpool buffer while the head is read, else NULL */
    size_t head_len;
    struct route *route; /* the egress being dialled */
    struct httpfwd *fwd; /* SESSION_HTTP: the forwarder */
    struct udpassoc *udp; /* SESSION_UDP: the association */
    struct relay relay;
    enum result result;
    const char *end; /* why it ended: "eof", "idle", "error", ... */
    uint64_t started, last_active;
};

/* Take ownership of an accepted client socket. */
void session_accept(struct worker *w, const struct conf_listener *lc,
                    int fd, const struct addr *peer);
/* Close every live session of the worker now (shutdown). */
void session_close_all(struct worker *w);

/* For front ends. */
/* Drop n parsed bytes from the front of the head buffer. */
void session_consume(struct session *s, size_t n);
/* Write a small handshake message or error answer to the client in one
 * go.  Returns 0, or -errno (a short write counts as -EAGAIN: a client
 * that does not read its handshake answers is dropped). */
int session_send(struct session *s, const void *buf, size_t len);
/* Switch to another front end (the mixed listener, after sniffing). */
void session_set_front(struct session *s, const struct front_ops *f);

/* For httpfwd. */
/* The forwarded connection is over; linger when an answer was just
 * written, so it is not lost to a reset.  (The forwarder logs its own
 * access lines, one per request.) */
void session_http_end(struct session *s, const char *end, bool linger);
/* A 101 answer: relay raw bytes between the client and upfd from now on.
 * to_client (a bufpool buffer, len bytes) goes to the client first; in
 * (a bufpool buffer or NULL, in_len bytes at in_off) goes upstream first.
 * Both buffers are taken. */
void session_http_upgrade(struct session *s, int upfd, char *to_client,
                          size_t len, char *in, size_t in_off,
                          size_t in_len);

#endif
