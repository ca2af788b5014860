/* agent: keeps conf.agent.links links to the gateway, each on one
 * worker (link i on worker i mod workers).
 *
 * One slot per link: dial (directly, or through the agent's proxy
 * egress) -> TLS -> [WebSocket upgrade] -> hello -> welcome -> link,
 * registered under TUNREG_GATEWAY.  When the link or an attempt fails
 * the slot tries again after an exponential backoff with full jitter
 * (the first two retries after backoff.min, then up to backoff.max),
 * forever; a welcome resets the backoff.  GoAway from the gateway starts
 * a replacement at once while the old link finishes its streams. */
#ifndef FERRY_AGENT_H
#define FERRY_AGENT_H

struct worker;

/* Start the slots that belong to w (on w's thread). */
void agent_start(struct worker *w);
/* Stop reconnecting; links get GoAway (drain) or close (stop). */
void agent_drain(struct worker *w);
void agent_stop(struct worker *w);

#endif
