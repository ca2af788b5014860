/* tlspair: two tports joined by TLS 1.3 over a pair of connected
 * non-blocking sockets, handshake done, for the unit tests of what runs
 * over TLS.  Header-only: each test is one program. */
#ifndef FERRY_TEST_TLSPAIR_H
#define FERRY_TEST_TLSPAIR_H

#include <errno.h>
#include <stdbool.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tunnel/tport.h"

/* A TLS context; the server's with a throwaway self-signed certificate
 * (the client verifies nothing: identity is not what these cases test). */
static inline SSL_CTX *tlspair_ctx(bool server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method()
                                      : TLS_client_method());
    assert_non_null(ctx);
    if (!server)
        return ctx;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_true(key && x);
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(
                         name, "CN", MBSTRING_ASC,
                         (const unsigned char *)"ferry-test", -1, -1, 0),
                     1);
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
                X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
                X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
                X509_set_issuer_name(x, name) == 1 &&
                X509_set_pubkey(x, key) == 1 &&
                X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static inline SSL *tlspair_ssl(bool server)
{
    SSL_CTX *ctx = tlspair_ctx(server);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* ssl holds its own reference */
    assert_non_null(ssl);
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    return ssl;
}

/* Both ends' handshakes, in turns, on the non-blocking socketpair. */
static inline void tlspair_handshake(struct tport *a, struct tport *b)
{
    int ra = -EAGAIN, rb = -EAGAIN;
    for (int i = 0; i < 100 && (ra || rb); i++) {
        ra = ra ? tport_handshake(a) : 0;
        rb = rb ? tport_handshake(b) : 0;
        assert_true((ra == 0 || ra == -EAGAIN) && (rb == 0 || rb == -EAGAIN));
    }
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 0);
}

/* *client on fd_client, *server on fd_server (both taken), handshake
 * done. */
static inline void tlspair_new(struct tport **client, struct tport **server,
                               int fd_client, int fd_server)
{
    assert_int_equal(tport_new(client, fd_client, tlspair_ssl(false)), 0);
    assert_int_equal(tport_new(server, fd_server, tlspair_ssl(true)), 0);
    tlspair_handshake(*client, *server);
}

#endif
