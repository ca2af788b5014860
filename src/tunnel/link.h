/* link: one multiplexed tunnel connection (yamux over a tport) and the
 * streams on it.
 *
 * A link lives on one worker.  Each stream's far end is a file
 * descriptor on this worker: on the side that opened the stream, one
 * end of a socketpair whose other end is handed to the opener (so every
 * front end and the relay treat a tunnel stream as an ordinary connected
 * socket); on the side that accepted it, the socket the exit dialled.
 * The link moves bytes between those descriptors and the yamux frames:
 *
 *   - flow control per stream (yamux windows), windows that grow while a
 *     stream drains fast, within a per-link budget; bytes that arrive
 *     faster than a descriptor takes them wait on that stream only (no
 *     head-of-line blocking; the window bounds them);
 *   - output: control frames first, then one chunk per ready stream in
 *     turn (round-robin), batched into large transport writes;
 *   - liveness: a ping every conf.ping_ms; the link is dead when nothing
 *     at all has arrived for conf.timeout_ms;
 *   - GoAway both ways; FIN carried as shutdown(SHUT_WR) and back.
 *
 * docs/protocol.md has the wire format. */
#ifndef FERRY_LINK_H
#define FERRY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/result.h"
#include "proto/tunmsg.h"

struct worker;
struct tport;
struct link;
struct link_stream;
struct tunreg;
struct tunreg_entry;

struct link_conf {
    bool client;              /* the agent side: odd stream ids */
    bool accept_streams;      /* the peer may open streams (an exit) */
    uint32_t ping_ms;         /* ping interval */
    uint32_t timeout_ms;      /* dead after this long without a byte */
    uint32_t open_timeout_ms; /* an open request unanswered this long */
    unsigned max_streams;     /* live streams, both directions */
    size_t budget;            /* sum of receive windows, bytes */
};

struct link_ops {
    /* The peer opened stream s for o: the owner dials and answers with
     * link_stream_accept() (from this or a later loop iteration). */
    void (*open)(void *ud, struct link_stream *s,
                 const struct tunmsg_open *o);
    /* The peer sent GoAway: this link takes no new streams. */
    void (*goaway)(void *ud, struct link *l);
    /* The link closed (why: a short word for logs).  The link is freed
     * at the end of this loop iteration. */
    void (*down)(void *ud, struct link *l, const char *why);
};

/* Start a link over t (taken) on worker w; peer is the remote address
 * (for logs).  ops are static; ud is the owner's. */
int link_new(struct link **out, struct worker *w, struct tport *t,
             const struct addr *peer, const struct link_conf *c,
             const struct link_ops *ops, void *ud);
uint64_t link_id(const struct link *l);
const struct addr *link_peer(const struct link *l);
/* Count streams in the registry entry e while the link lives. */
void link_set_entry(struct link *l, struct tunreg_entry *e);
struct tunreg_entry *link_entry(const struct link *l);

/* Send GoAway: no new streams either way; the link closes itself when
 * its last stream ends. */
void link_goaway(struct link *l);
/* Close now: open requests fail with RESULT_NO_TUNNEL, streams end. */
void link_close(struct link *l, const char *why);

/* The link of worker w with this id, or NULL. */
struct link *link_find(struct worker *w, uint64_t id);
/* link_goaway() / link_close() on every link of w. */
void link_goaway_all(struct worker *w);
void link_close_all(struct worker *w, const char *why);

/* r == RESULT_OK: fd is the opener's end of the stream (a connected
 * non-blocking socket: SOCK_STREAM for TCP, SOCK_SEQPACKET carrying one
 * datagram per message for UDP), now the callee's, and id names the
 * stream for link_adopt().  Else fd is -1. */
typedef void (*link_open_fn)(void *ud, enum result r, int fd, uint32_t id);

/* Open a stream for o; cb runs later, always exactly once (also when
 * the link closes first).  -EBUSY when the link takes no new stream
 * (GoAway, stream limit), or -errno. */
int link_open(struct link *l, const struct tunmsg_open *o, link_open_fn cb,
              void *ud);

/* A TCP stream the opener gives back to the link, with the socket its
 * bytes are for: the link then moves them between that socket and the
 * peer itself, without the socketpair and the opener's relay in between
 * (a copy and a thread hop less per byte).  The opener fills in end and
 * idle_ms; the link keeps the rest. */
struct link_handoff {
    /* Runs once, on the link's worker, when the stream has ended (why: a
     * short word for logs); h is then the callee's again. */
    void (*end)(struct link_handoff *h, const char *why);
    uint64_t idle_ms; /* end the stream after this long without a byte */
    uint64_t up, down; /* bytes read from / written to the socket */
    uint64_t last_active, ended; /* loop_now() times; the opener sets
                                    both to the time of the handoff */
    const char *why; /* set when the link ends the stream; static */
};

/* Adopt stream id, opened by link_open() on l: sock (a connected TCP
 * socket) replaces the opener's end of the socketpair, pair (taken and
 * closed), whose unread bytes go to sock first.  The opener must not
 * have written to pair.  h is the link's until h->end runs.  -ENOENT
 * when the stream has ended meanwhile (nothing is taken then). */
int link_adopt(struct link *l, uint32_t id, int sock, int pair,
               struct link_handoff *h);

/* Answer the peer's open request on s: with RESULT_OK, fd (taken) is the
 * connected socket the stream's bytes go to (for UDP a connected
 * datagram socket).  Otherwise the stream is refused with r. */
void link_stream_accept(struct link_stream *s, enum result r, int fd);
/* fn(ctx) runs if s ends before link_stream_accept() (the owner must
 * then stop dialling and never call it). */
void link_stream_on_abandon(struct link_stream *s, void (*fn)(void *ctx),
                            void *ctx);
struct link *link_stream_link(const struct link_stream *s);

#endif
