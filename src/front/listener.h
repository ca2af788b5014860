/* listener: one listening socket of one worker (SO_REUSEPORT: every
 * worker has its own socket on the same address) and its accept loop.
 * Each accepted connection becomes a session on that worker. */
#ifndef FERRY_LISTENER_H
#define FERRY_LISTENER_H

#include "conf/conf.h"

struct worker;
struct listener;

/* Gives an open listener for lc (borrowed from the snapshot): its TCP
 * socket and, for a tproxy listener, its UDP side (tpudp).  0, or -errno
 * with why (whylen bytes) saying what failed and how to fix it. */
int listener_open(struct listener **out, struct worker *w,
                  const struct conf_listener *lc, char *why, size_t whylen);
/* Stop accepting and free (NULL is a no-op). */
void listener_close(struct listener *l);

#endif
