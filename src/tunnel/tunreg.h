/* tunreg: the live tunnel links of the process, by group.
 *
 * Shared by every worker (one mutex; touched when a link comes or goes
 * and once per stream open, never per byte).  A link lives on one
 * worker; the registry says which, so a stream opened on another worker
 * is asked for through that worker's mailbox (worker_post).
 *
 * On a gateway the groups are the agents' groups; on an agent its links
 * to the gateway are registered under TUNREG_GATEWAY. */
#ifndef FERRY_TUNREG_H
#define FERRY_TUNREG_H

#include <stdbool.h>
#include <stdint.h>

#define TUNREG_GATEWAY "" /* the group of an agent's own links */
#define TUNREG_NAME_MAX 255

struct worker;
struct tunreg;
struct tunreg_entry;

enum tunreg_balance { TUNREG_LEAST_STREAMS, TUNREG_ROUND_ROBIN };

/* Where a link lives: enough to post to it. */
struct tunreg_where {
    uint64_t link_id;
    struct worker *owner;
};

int tunreg_new(struct tunreg **out, enum tunreg_balance balance);
void tunreg_free(struct tunreg *r);

/* Register a live link.  A link already registered for the same agent id
 * and link index is retired (never picked again) and *replaced gives it
 * (link_id 0 when there was none): the caller closes it.  *out is the
 * entry, owned by the registry until tunreg_remove(). */
int tunreg_add(struct tunreg *r, const char *group, const char *agent,
               unsigned link_idx, const struct tunreg_where *where,
               struct tunreg_entry **out, struct tunreg_where *replaced);
/* The link is gone: forget it (e is freed). */
void tunreg_remove(struct tunreg *r, struct tunreg_entry *e);
/* The link takes no new streams (GoAway either way). */
void tunreg_retire(struct tunreg *r, struct tunreg_entry *e);
/* Count a stream opened (+1) or ended (-1) on e's link. */
void tunreg_count(struct tunreg_entry *e, int delta);

/* A live link of group for a new stream: 0, or -ENOENT when the group
 * has none. */
int tunreg_pick(struct tunreg *r, const char *group,
                struct tunreg_where *out);

#endif
