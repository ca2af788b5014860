/* bufpool: a worker's pool of fixed-size byte buffers.
 *
 * Buffers are taken while bytes are in flight (request heads, the
 * copying relay path) and put back as soon as they are empty, so idle
 * connections own no buffer.  The pool keeps at most max_idle spares. */
#ifndef FERRY_BUFPOOL_H
#define FERRY_BUFPOOL_H

#include <stddef.h>

#define BUFPOOL_SIZE 16384 /* the smallest buffer size a pool hands out */

struct bufpool;

/* Buffers of size bytes (at least BUFPOOL_SIZE). */
int bufpool_new(struct bufpool **out, unsigned max_idle, size_t size);
size_t bufpool_size(const struct bufpool *bp);
void bufpool_free(struct bufpool *bp);
/* Gives a bufpool_size() buffer, or NULL on ENOMEM. */
char *bufpool_get(struct bufpool *bp);
/* Takes buf back (NULL is a no-op). */
void bufpool_put(struct bufpool *bp, char *buf);

#endif
