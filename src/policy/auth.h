/* auth: checking a client's user name and password against a listener's
 * users.  Secrets are compared in constant time and never logged: a
 * plain password over SHA-256 digests (so the time does not depend on
 * its length either), a password_hash by crypt(3) (libxcrypt) and a
 * CRYPTO_memcmp of the result.
 *
 * A yescrypt costs milliseconds on the worker's event loop, and HTTP
 * clients send their credentials with every request, so each worker
 * keeps a small cache of credentials it verified recently: keyed by
 * listener and user, holding a SHA-256 over the user, the stored hash
 * and the password (never the password itself), dropped after
 * AUTHCACHE_TTL_MS.  Because the stored hash is part of what is cached,
 * a reloaded snapshot with another hash for the user misses. */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

#define AUTHCACHE_TTL_MS (5 * 60 * 1000)
#define AUTHCACHE_SIZE_MAX 65536
#define AUTH_HASH_MAX 384 /* a crypt(3) hash fits (CRYPT_OUTPUT_SIZE) */

/* A per-worker cache of verified credentials (opaque; one thread). */
struct authcache;

/* A cache of size entries (1..AUTHCACHE_SIZE_MAX; 64 is plenty for a
 * worker); *out gives it.  -EINVAL, -ENOMEM. */
int authcache_new(struct authcache **out, unsigned size);
/* Wipes and frees; NULL is a no-op. */
void authcache_free(struct authcache *cache);
/* Since authcache_new: checks answered from the cache, and crypt(3)
 * hashes computed with it (misses, wrong passwords, unknown users). */
void authcache_counts(const struct authcache *cache, uint64_t *hits,
                      uint64_t *computed);

/* True when the listener has users, i.e. clients must authenticate. */
bool auth_required(const struct conf_listener *l);

/* True when user/pass match one of l's users.  Borrows everything.
 * cache may be NULL (every hashed password is then computed); now_ms
 * is a monotonic clock in milliseconds (the loop's), only used with a
 * cache.  An unknown user costs about what a known one does. */
bool auth_verify(const struct conf_listener *l, struct authcache *cache,
                 uint64_t now_ms, const char *user, const char *pass);

/* The snapshot's own copy of the name of user, whom auth_verify() has
 * just accepted on l (borrowed from l, so it lives as long as l). */
const char *auth_user_name(const struct conf_listener *l, const char *user);

/* True when given matches a stored secret: plain (compared in constant
 * time) when plain is not NULL, else the crypt(3) hash.  No cache: for
 * rare checks such as a tunnel agent's token. */
bool auth_secret_ok(const char *plain, const char *hash, const char *given);

/* A new yescrypt hash ("$y$...") of pass, with a fresh random salt, into
 * out (cap bytes; AUTH_HASH_MAX is enough).  0; -ERANGE if out is too
 * small; -ENOMEM; another -errno from libcrypt. */
int auth_hash_password(const char *pass, char *out, size_t cap);

#endif
