/* connpool: see connpool.h.  An array scanned linearly: a worker keeps
 * hundreds of idle connections at most, and a scan of them costs less
 * than the connect it saves. */
#include "egress/connpool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct parked {
    int fd; /* -1 = free slot */
    uint64_t since;
    char key[CONNPOOL_KEY_MAX];
};

struct connpool {
    unsigned max;
    uint32_t idle_ms;
    struct parked slot[];
};

int connpool_new(struct connpool **out, unsigned max, uint32_t idle_ms)
{
    struct connpool *p = calloc(1, sizeof(*p) + max * sizeof(p->slot[0]));
    if (!p)
        return -ENOMEM;
    p->max = max;
    p->idle_ms = idle_ms;
    for (unsigned i = 0; i < max; i++)
        p->slot[i].fd = -1;
    *out = p;
    return 0;
}

static void drop(struct parked *e)
{
    close(e->fd);
    e->fd = -1;
}

void connpool_free(struct connpool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->max; i++)
        if (p->slot[i].fd >= 0)
            drop(&p->slot[i]);
    free(p);
}

/* Parked sockets must be silent: EOF or unexpected bytes mean the origin
 * closed or is out of step, and the socket cannot carry a request. */
static bool alive(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int connpool_take(struct connpool *p, const char *key, uint64_t now_ms)
{
    for (unsigned i = 0; i < p->max; i++) {
        struct parked *e = &p->slot[i];
        if (e->fd < 0)
            continue;
        if (now_ms - e->since > p->idle_ms) {
            drop(e);
            continue;
        }
        if (strcmp(e->key, key) != 0)
            continue;
        if (!alive(e->fd)) { /* one syscall, for candidates only */
            drop(e);
            continue;
        }
        int fd = e->fd;
        e->fd = -1;
        return fd;
    }
    return -ENOENT;
}

void connpool_put(struct connpool *p, const char *key, int fd,
                  uint64_t now_ms)
{
    struct parked *victim = NULL;
    if (strlen(key) >= CONNPOOL_KEY_MAX || p->max == 0) {
        close(fd);
        return;
    }
    for (unsigned i = 0; i < p->max; i++) {
        struct parked *e = &p->slot[i];
        if (e->fd < 0) {
            victim = e;
            break;
        }
        if (!victim || e->since < victim->since)
            victim = e; /* the oldest goes when the pool is full */
    }
    if (victim->fd >= 0)
        drop(victim);
    victim->fd = fd;
    victim->since = now_ms;
    strcpy(victim->key, key);
}
