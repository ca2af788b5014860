/* exit: serves the streams a tunnel peer opens (the exit side).
 *
 * The exit applies its own access rules (never the entry side's): the
 * request is the stream's target with protocol "tunnel", no listener
 * and no user, routed like any other (direct, or a parent proxy), and
 * the stream is answered with the result.  One access-log line per
 * stream, written when its dial is decided. */
#ifndef FERRY_EXIT_H
#define FERRY_EXIT_H

#include "proto/tunmsg.h"

struct worker;
struct link_stream;

/* Start serving s (the link's worker).  who names the peer in logs. */
void exit_open(struct worker *w, struct link_stream *s,
               const struct tunmsg_open *o, const char *who);

#endif
