/* gateway: accepts agents and keeps their links in the registry.
 *
 * Each worker listens on gateway.listen (SO_REUSEPORT).  A connection
 * is TLS (unless the gateway has no certificate), then either a
 * WebSocket upgrade on websocket_path or straight away the hello; the
 * token is checked in constant time (or against its crypt(3) hash), the
 * group against the token's groups; then the link is registered under
 * the agent's group, replacing at once any live link of the same agent
 * id and link index (a reconnecting agent is never "already
 * registered"). */
#ifndef FERRY_GATEWAY_H
#define FERRY_GATEWAY_H

#include <stddef.h>

struct worker;

/* Open the listening socket of w: 0 or -errno (err gets the reason). */
int gateway_listen(struct worker *w, char *err, size_t errlen);
/* Stop accepting and end the handshakes under way (drain); links get
 * GoAway. */
void gateway_drain(struct worker *w);
/* Close everything of w's gateway side. */
void gateway_stop(struct worker *w);
/* Start accepting (on w's thread). */
void gateway_start(struct worker *w);

#endif
