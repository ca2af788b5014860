/* hshake: drives the steps before a link exists (TLS, the WebSocket
 * upgrade, hello/welcome) on a non-blocking tport, with one deadline.
 *
 * The owner's step() looks at the bytes received so far (in, in_len),
 * may queue bytes to send (hshake_send) and returns 0 to wait for more,
 * 1 when the handshake is complete, or a negative errno.  At most
 * `limit` bytes are read into in, so nothing that belongs to the link
 * behind the handshake is consumed. */
#ifndef FERRY_HSHAKE_H
#define FERRY_HSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"

#define HSHAKE_IN_MAX 8192
#define HSHAKE_OUT_MAX 2048

struct worker;
struct tport;
struct hshake;

typedef int (*hshake_step_fn)(struct hshake *h);
/* rc: 0 done (take the tport with hshake_take), or -errno; why names the
 * failure for logs.  h is freed after the call. */
typedef void (*hshake_end_fn)(void *ud, struct hshake *h, int rc,
                              const char *why);

struct hshake {
    struct worker *w;
    struct tport *t; /* owned until hshake_take() */
    struct loop_io io;
    struct loop_timer deadline;
    struct loop_defer free_later; /* freed at the end of the iteration:
                                     an event of the batch may name it */
    uint8_t in[HSHAKE_IN_MAX];
    size_t in_len, limit;
    uint8_t out[HSHAKE_OUT_MAX];
    size_t out_off, out_len;
    int tls_state; /* 0 pending, 1 done */
    hshake_step_fn step;
    hshake_end_fn end;
    void *ud;
    const char *why; /* set by step() with a failure */
};

/* Start on t (taken).  The callbacks run from loop events only. */
int hshake_start(struct hshake **out, struct worker *w, struct tport *t,
                 uint32_t timeout_ms, hshake_step_fn step, hshake_end_fn end,
                 void *ud);
/* Abandon (end is not called); the tport is closed. */
void hshake_cancel(struct hshake *h);
/* Queue bytes to send; -ENOSPC if they do not fit. */
int hshake_send(struct hshake *h, const void *p, size_t n);
/* Drop the first n received bytes. */
void hshake_consume(struct hshake *h, size_t n);
/* From end(rc == 0): the tport, now the caller's. */
struct tport *hshake_take(struct hshake *h);

#endif
