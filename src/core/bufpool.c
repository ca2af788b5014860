/* bufpool: see bufpool.h.  Spare buffers form a singly linked list
 * threaded through their own first bytes. */
#include "core/bufpool.h"

#include <errno.h>
#include <stdlib.h>

struct spare {
    struct spare *next;
};

struct bufpool {
    size_t size;
    struct spare *spares;
    unsigned n_idle, max_idle;
};

int bufpool_new(struct bufpool **out, unsigned max_idle, size_t size)
{
    struct bufpool *bp = calloc(1, sizeof(*bp));
    if (!bp)
        return -ENOMEM;
    bp->size = size < BUFPOOL_SIZE ? BUFPOOL_SIZE : size;
    bp->max_idle = max_idle;
    *out = bp;
    return 0;
}

void bufpool_free(struct bufpool *bp)
{
    if (!bp)
        return;
    while (bp->spares) {
        struct spare *s = bp->spares;
        bp->spares = s->next;
        free(s);
    }
    free(bp);
}

char *bufpool_get(struct bufpool *bp)
{
    if (bp->spares) {
        struct spare *s = bp->spares;
        bp->spares = s->next;
        bp->n_idle--;
        return (char *)s;
    }
    return malloc(bp->size);
}

size_t bufpool_size(const struct bufpool *bp) { return bp->size; }

void bufpool_put(struct bufpool *bp, char *buf)
{
    if (!buf)
        return;
    if (bp->n_idle >= bp->max_idle) {
        free(buf);
        return;
    }
    struct spare *s = (struct spare *)(void *)buf;
    s->next = bp->spares;
    bp->spares = s;
    bp->n_idle++;
}
