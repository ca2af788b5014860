/* connpool: a worker's idle upstream HTTP connections, by origin.
 *
 * After a cleanly framed exchange the forwarder parks the upstream socket
 * here under a key naming the way it reaches the origin ("direct
 * host:port", or the parent proxy's); the next request for the same key
 * takes it.  Bounded: at most max entries, each for at most idle_ms; a
 * socket the peer closed or wrote to while parked is discarded on take. */
#ifndef FERRY_CONNPOOL_H
#define FERRY_CONNPOOL_H

#include <stdint.h>

#define CONNPOOL_KEY_MAX 320

struct connpool;

int connpool_new(struct connpool **out, unsigned max, uint32_t idle_ms);
/* Closes every parked socket.  NULL is a no-op. */
void connpool_free(struct connpool *p);
/* Gives a live parked socket for key, or -ENOENT. */
int connpool_take(struct connpool *p, const char *key, uint64_t now_ms);
/* Takes fd (parks it, or closes it when it cannot be kept). */
void connpool_put(struct connpool *p, const char *key, int fd,
                  uint64_t now_ms);

#endif
