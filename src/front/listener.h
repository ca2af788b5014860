/* listener: one listening socket of one worker (SO_REUSEPORT: every
 * worker has its own socket on the same address) and its accept loop.
 * Each accepted connection becomes a session on that worker. */
#ifndef FERRY_LISTENER_H
#define FERRY_LISTENER_H

#include "conf/conf.h"

struct worker;
struct listener;

/* Gives an open listener for lc (borrowed from the snapshot). */
int listener_open(struct listener **out, struct worker *w,
                  const struct conf_listener *lc);
/* Stop accepting and free (NULL is a no-op). */
void listener_close(struct listener *l);

#endif
