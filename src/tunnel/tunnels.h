/* tunnels: what the process's tunnel side shares between its workers.
 *
 * Built by main before the workers start (from the snapshot's gateway:
 * and agent: sections) and freed after they are joined; workers reach it
 * through worker->tunnels and only read it, except the registry, which
 * has its own lock. */
#ifndef FERRY_TUNNELS_H
#define FERRY_TUNNELS_H

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "tunnel/tunreg.h"

struct worker;

struct tunnels {
    const struct conf *conf;  /* borrowed */
    struct tunreg *reg;       /* owned */
    SSL_CTX *agent_ctx;       /* owned; NULL without agent or TLS */
    SSL_CTX *gateway_ctx;     /* owned; NULL without gateway or TLS */
    struct worker **workers;  /* borrowed, n_workers */
    unsigned n_workers;
};

/* Set up from c (nothing to do without gateway or agent: *out NULL).
 * err gets a one-line reason (e.g. an unreadable certificate). */
int tunnels_new(struct tunnels **out, const struct conf *c, char *err,
                size_t errlen);
void tunnels_free(struct tunnels *t);
/* Attach to the workers (before they start): sets their hooks. */
void tunnels_attach(struct tunnels *t, struct worker **workers,
                    unsigned n);

#endif
