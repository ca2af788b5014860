/* tuntls: see tuntls.h. */
#include "tunnel/tuntls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

static const unsigned char alpn_wire[] = "\x07" TUNTLS_ALPN;
/* wss:// offers "http/1.1" too: the WebSocket is HTTP/1.1, and an HTTP
 * front (nginx) refuses a handshake that offers nothing it speaks.  The
 * gateway itself still picks "ferry/1". */
static const unsigned char alpn_wire_ws[] = "\x07" TUNTLS_ALPN "\x08"
                                            "http/1.1";

static int fail(char *err, size_t errlen, const char *what, const char *file)
{
    char why[160];
    ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, file ? file : "", why);
    return -EINVAL;
}

static SSL_CTX *new_ctx(const SSL_METHOD *m)
{
    SSL_CTX *ctx = SSL_CTX_new(m);
    if (ctx && !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int load_pair(SSL_CTX *ctx, const char *cert, const char *key,
                     char *err, size_t errlen)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return fail(err, errlen, "cannot load certificate", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return fail(err, errlen, "cannot load key", key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(err, errlen, "key does not match certificate", key);
    return 0;
}

/* With a pin, only the leaf's SHA-256 decides. */
static int verify_pin(int ok, X509_STORE_CTX *st)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(
        st, SSL_get_ex_data_X509_STORE_CTX_idx());
    const struct conf_agent *a =
        SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (X509_STORE_CTX_get_error_depth(st) > 0)
        return 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509 *leaf = X509_STORE_CTX_get_current_cert(st);
    if (!leaf || !X509_digest(leaf, EVP_sha256(), md, &n) || n != 32 ||
        CRYPTO_memcmp(md, a->fingerprint, 32) != 0) {
        X509_STORE_CTX_set_error(st, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    return 1;
}

static int agent_verify(SSL_CTX *ctx, const struct conf_agent *a,
                        char *err, size_t errlen)
{
    SSL_CTX_set_app_data(ctx, (void *)a);
    if (a->pinned) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_pin);
    } else if (a->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = a->ca ? SSL_CTX_load_verify_locations(ctx, a->ca, NULL)
                       : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1)
            return fail(err, errlen, "cannot load CA", a->ca);
    }
    return 0;
}

int tuntls_agent_ctx(const struct conf_agent *a, SSL_CTX **out, char *err,
                     size_t errlen)
{
    SSL_CTX *ctx = new_ctx(TLS_client_method());
    if (!ctx)
        return fail(err, errlen, "TLS set-up failed", NULL);
    int rc = agent_verify(ctx, a, err, errlen);
    if (rc == 0 && a->cert)
        rc = load_pair(ctx, a->cert, a->key, err, errlen);
    bool ws = a->transport == CONF_TUN_WSS;
    const unsigned char *alpn = ws ? alpn_wire_ws : alpn_wire;
    unsigned alpn_len = ws ? sizeof(alpn_wire_ws) - 1 : sizeof(alpn_wire) - 1;
    if (rc == 0 && SSL_CTX_set_alpn_protos(ctx, alpn, alpn_len) != 0)
        rc = fail(err, errlen, "TLS set-up failed (ALPN)", NULL);
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

/* Pick "ferry/1" when offered; a client offering none (or others, as a
 * WebSocket front may) is served without ALPN. */
static int select_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, alpn_wire, sizeof(alpn_wire) - 1,
                              in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

int tuntls_gateway_ctx(const struct conf_gateway *g, SSL_CTX **out,
                       char *err, size_t errlen)
{
    SSL_CTX *ctx = new_ctx(TLS_server_method());
    if (!ctx)
        return fail(err, errlen, "TLS set-up failed", NULL);
    int rc = load_pair(ctx, g->cert, g->key, err, errlen);
    if (rc == 0 && g->client_ca) {
        if (SSL_CTX_load_verify_locations(ctx, g->client_ca, NULL) != 1)
            rc = fail(err, errlen, "cannot load client CA", g->client_ca);
        SSL_CTX_set_verify(ctx,
                           SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           NULL);
    }
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    *out = ctx;
    return 0;
}

SSL *tuntls_agent_ssl(SSL_CTX *ctx, const struct conf_agent *a)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    const char *name = a->sni ? a->sni : a->server.host;
    bool ok = true;
    if (a->server.kind == TARGET_NAME || a->sni)
        ok = SSL_set_tlsext_host_name(ssl, name) == 1;
    if (ok && !a->pinned && !a->insecure)
        ok = SSL_set1_host(ssl, name) == 1;
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

SSL *tuntls_gateway_ssl(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl)
        SSL_set_accept_state(ssl);
    return ssl;
}
