/* tunnels: see tunnels.h. */
#include "tunnel/tunnels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/worker.h"
#include "tunnel/agent.h"
#include "tunnel/gateway.h"
#include "tunnel/link.h"
#include "tunnel/tuntls.h"

/* A tunnel that crosses a network without TLS, or without checking the
 * gateway, was chosen explicitly; say once what it exposes. */
static void warn_unprotected(const struct conf *c)
{
    const struct conf_agent *a = &c->agent;
    const struct target *srv = &a->server;
    bool local = srv->kind == TARGET_IP ? addr_is_loopback(&srv->ip)
                                        : strcmp(srv->host, "localhost") == 0;
    if (a->enabled && a->insecure && conf_tunnel_tls(a->transport))
        log_warn("agent: insecure: the gateway's certificate is not "
                 "checked; anyone on the path can read the tunnel");
    if (a->enabled && !conf_tunnel_tls(a->transport) && !local)
        log_warn("agent: no TLS to %s: the token and every tunnelled byte "
                 "cross the network unencrypted",
                 srv->host);
    if (c->gateway.enabled && c->gateway.plaintext &&
        !addr_is_loopback(&c->gateway.listen))
        log_warn("gateway: plaintext: agents' tokens and every tunnelled "
                 "byte cross the network unencrypted");
}

int tunnels_new(struct tunnels **out, const struct conf *c, char *err,
                size_t errlen)
{
    *out = NULL;
    if (!c->gateway.enabled && !c->agent.enabled)
        return 0;
    struct tunnels *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->conf = c;
    int rc = tunreg_new(&t->reg, c->gateway.balance_rr ? TUNREG_ROUND_ROBIN
                                                       : TUNREG_LEAST_STREAMS);
    if (rc == 0 && c->agent.enabled && conf_tunnel_tls(c->agent.transport))
        rc = tuntls_agent_ctx(&c->agent, &t->agent_ctx, err, errlen);
    if (rc == 0 && c->gateway.enabled && c->gateway.cert)
        rc = tuntls_gateway_ctx(&c->gateway, &t->gateway_ctx, err, errlen);
    if (rc < 0) {
        if (rc == -ENOMEM)
            snprintf(err, errlen, "out of memory");
        tunnels_free(t);
        return rc;
    }
    warn_unprotected(c);
    *out = t;
    return 0;
}

void tunnels_free(struct tunnels *t)
{
    if (!t)
        return;
    tunreg_free(t->reg);
    SSL_CTX_free(t->agent_ctx);
    SSL_CTX_free(t->gateway_ctx);
    free(t);
}

static void on_start(struct worker *w)
{
    gateway_start(w);
    agent_start(w);
}

static void on_drain(struct worker *w)
{
    gateway_drain(w);
    agent_drain(w);
    link_goaway_all(w);
}

static void on_stop(struct worker *w)
{
    gateway_stop(w);
    link_close_all(w, "stop");
    agent_stop(w);
}

static const struct worker_hooks hooks = {on_start, on_drain, on_stop};

void tunnels_attach(struct tunnels *t, struct worker **workers, unsigned n)
{
    t->workers = workers;
    t->n_workers = n;
    for (unsigned i = 0; i < n; i++) {
        workers[i]->tunnels = t;
        worker_set_hooks(workers[i], &hooks);
    }
}
