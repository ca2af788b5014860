/* tuntls: OpenSSL set-up for tunnel links (TLS 1.3, ALPN "ferry/1";
 * wss:// agents offer "http/1.1" as well, for an HTTP front).
 *
 * The agent verifies the gateway by a CA file, the system store, or a
 * pinned SHA-256 fingerprint of its certificate (then the chain and
 * the name are not checked: the pin is the identity); the gateway may
 * require client certificates signed by client_ca. */
#ifndef FERRY_TUNTLS_H
#define FERRY_TUNTLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "conf/conf.h"

#define TUNTLS_ALPN "ferry/1"

/* 0, or -EINVAL with err set (file, and OpenSSL's reason). */
int tuntls_agent_ctx(const struct conf_agent *a, SSL_CTX **out, char *err,
                     size_t errlen);
int tuntls_gateway_ctx(const struct conf_gateway *g, SSL_CTX **out,
                       char *err, size_t errlen);

/* A client SSL for a new link to a's gateway (SNI, host name check or
 * pin).  NULL on failure. */
SSL *tuntls_agent_ssl(SSL_CTX *ctx, const struct conf_agent *a);
/* A server SSL for an accepted agent connection.  NULL on failure. */
SSL *tuntls_gateway_ssl(SSL_CTX *ctx);

#endif
