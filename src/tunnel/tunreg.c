/* tunreg: see tunreg.h. */
#include "tunnel/tunreg.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct tunreg_entry {
    char group[TUNREG_NAME_MAX + 1];
    char agent[TUNREG_NAME_MAX + 1];
    unsigned link_idx;
    struct tunreg_where where;
    bool retired;
    atomic_int streams;
};

struct tunreg {
    pthread_mutex_t lock;
    enum tunreg_balance balance;
    struct tunreg_entry **entries; /* owned, n of cap */
    unsigned n, cap;
    unsigned turn; /* round-robin position */
};

int tunreg_new(struct tunreg **out, enum tunreg_balance balance)
{
    struct tunreg *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    r->balance = balance;
    *out = r;
    return 0;
}

void tunreg_free(struct tunreg *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->n; i++)
        free(r->entries[i]);
    free(r->entries);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static int grow(struct tunreg *r)
{
    if (r->n < r->cap)
        return 0;
    unsigned cap = r->cap ? r->cap * 2 : 8;
    void *p = realloc(r->entries, cap * sizeof(*r->entries));
    if (!p)
        return -ENOMEM;
    r->entries = p;
    r->cap = cap;
    return 0;
}

/* Retire the live entry of the same agent and link index, if any. */
static void retire_twin(struct tunreg *r, const struct tunreg_entry *e,
                        struct tunreg_where *replaced)
{
    for (unsigned i = 0; i < r->n; i++) {
        struct tunreg_entry *o = r->entries[i];
        if (!o->retired && o->link_idx == e->link_idx &&
            strcmp(o->agent, e->agent) == 0 &&
            strcmp(o->group, e->group) == 0) {
            o->retired = true;
            *replaced = o->where;
            return;
        }
    }
}

int tunreg_add(struct tunreg *r, const char *group, const char *agent,
               unsigned link_idx, const struct tunreg_where *where,
               struct tunreg_entry **out, struct tunreg_where *replaced)
{
    struct tunreg_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    snprintf(e->group, sizeof(e->group), "%s", group);
    snprintf(e->agent, sizeof(e->agent), "%s", agent);
    e->link_idx = link_idx;
    e->where = *where;
    atomic_init(&e->streams, 0);
    *replaced = (struct tunreg_where){0};
    pthread_mutex_lock(&r->lock);
    int rc = grow(r);
    if (rc == 0) {
        retire_twin(r, e, replaced);
        r->entries[r->n++] = e;
    }
    pthread_mutex_unlock(&r->lock);
    if (rc < 0) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void tunreg_remove(struct tunreg *r, struct tunreg_entry *e)
{
    pthread_mutex_lock(&r->lock);
    for (unsigned i = 0; i < r->n; i++) {
        if (r->entries[i] == e) {
            r->entries[i] = r->entries[--r->n];
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    free(e);
}

void tunreg_retire(struct tunreg *r, struct tunreg_entry *e)
{
    pthread_mutex_lock(&r->lock);
    e->retired = true;
    pthread_mutex_unlock(&r->lock);
}

void tunreg_count(struct tunreg_entry *e, int delta)
{
    atomic_fetch_add(&e->streams, delta);
}

static bool usable(const struct tunreg_entry *e, const char *group)
{
    return !e->retired && strcmp(e->group, group) == 0;
}

int tunreg_pick(struct tunreg *r, const char *group,
                struct tunreg_where *out)
{
    pthread_mutex_lock(&r->lock);
    struct tunreg_entry *best = NULL;
    unsigned start = r->n ? r->turn++ % r->n : 0;
    for (unsigned k = 0; k < r->n; k++) {
        struct tunreg_entry *e = r->entries[(start + k) % r->n];
        if (!usable(e, group))
            continue;
        if (r->balance == TUNREG_ROUND_ROBIN) {
            best = e;
            break;
        }
        if (!best || atomic_load(&e->streams) < atomic_load(&best->streams))
            best = e;
    }
    if (best)
        *out = best->where;
    pthread_mutex_unlock(&r->lock);
    return best ? 0 : -ENOENT;
}
