/* auth: the credential check the front ends call before they build a
 * request (HTTP Proxy-Authorization, SOCKS5 RFC 1929), and the cache of
 * recent successes that keeps yescrypt off the hot path.  See auth.h. */
#include "policy/auth.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4 /* entries a key may live in */
#define DIGEST SHA256_DIGEST_LENGTH

struct entry {
    uintptr_t listener;          /* compared only: may be stale */
    unsigned char user[DIGEST];  /* SHA-256 of the user name */
    unsigned char proof[DIGEST]; /* see proof() */
    uint64_t expires_ms;         /* 0: empty */
};

struct authcache {
    unsigned size;
    struct entry *e;
    struct crypt_data *scratch; /* crypt_rn's work area, 32 KiB */
    uint64_t hits, computed;
};

int authcache_new(struct authcache **out, unsigned size)
{
    struct authcache *c;
    *out = NULL;
    if (size == 0 || size > AUTHCACHE_SIZE_MAX)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->size = size;
    c->e = calloc(size, sizeof(*c->e));
    c->scratch = calloc(1, sizeof(*c->scratch));
    if (!c->e || !c->scratch) {
        authcache_free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

void authcache_free(struct authcache *cache)
{
    if (!cache)
        return;
    if (cache->e)
        explicit_bzero(cache->e, cache->size * sizeof(*cache->e));
    free(cache->e);
    free(cache->scratch);
    free(cache);
}

void authcache_counts(const struct authcache *cache, uint64_t *hits,
                      uint64_t *computed)
{
    *hits = cache->hits;
    *computed = cache->computed;
}

bool auth_required(const struct conf_listener *l) { return l->n_users > 0; }

static void digest(const char *s, unsigned char out[DIGEST])
{
    SHA256((const unsigned char *)s, strlen(s), out);
}

/* What the cache keeps for a verified password: SHA-256 over the
 * digests of the user, the stored hash and the password. */
static void proof(const unsigned char user[DIGEST], const char *stored,
                  const char *pass, unsigned char out[DIGEST])
{
    unsigned char buf[3 * DIGEST];
    memcpy(buf, user, DIGEST);
    digest(stored, buf + DIGEST);
    digest(pass, buf + 2 * DIGEST);
    SHA256(buf, sizeof(buf), out);
    explicit_bzero(buf, sizeof(buf));
}

/* The first of the WAYS slots for this key. */
static unsigned slot(const struct authcache *c, uintptr_t listener,
                     const unsigned char user[DIGEST])
{
    uint64_t h;
    memcpy(&h, user, sizeof(h));
    h ^= (uint64_t)listener * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h % c->size);
}

static struct entry *find(struct authcache *c, uintptr_t listener,
                          const unsigned char user[DIGEST])
{
    unsigned first = slot(c, listener, user);
    for (unsigned i = 0; i < WAYS && i < c->size; i++) {
        struct entry *e = &c->e[(first + i) % c->size];
        if (e->expires_ms && e->listener == listener &&
            memcmp(e->user, user, DIGEST) == 0)
            return e;
    }
    return NULL;
}

/* Where to store a key: its own entry, else an empty or expired one,
 * else the one that expires first. */
static struct entry *victim(struct authcache *c, uint64_t now_ms,
                            uintptr_t listener,
                            const unsigned char user[DIGEST])
{
    struct entry *own = find(c, listener, user), *best = NULL;
    unsigned first = slot(c, listener, user);
    if (own)
        return own;
    for (unsigned i = 0; i < WAYS && i < c->size; i++) {
        struct entry *e = &c->e[(first + i) % c->size];
        if (e->expires_ms <= now_ms)
            return e;
        if (!best || e->expires_ms < best->expires_ms)
            best = e;
    }
    return best;
}

static bool cache_hit(struct authcache *c, uint64_t now_ms, uintptr_t listener,
                      const unsigned char user[DIGEST],
                      const unsigned char want[DIGEST])
{
    struct entry *e = find(c, listener, user);
    bool hit = e && now_ms < e->expires_ms &&
               CRYPTO_memcmp(e->proof, want, DIGEST) == 0;
    c->hits += hit;
    return hit;
}

static void cache_put(struct authcache *c, uint64_t now_ms, uintptr_t listener,
                      const unsigned char user[DIGEST],
                      const unsigned char got[DIGEST])
{
    struct entry *e = victim(c, now_ms, listener, user);
    e->listener = listener;
    memcpy(e->user, user, DIGEST);
    memcpy(e->proof, got, DIGEST);
    e->expires_ms = now_ms + AUTHCACHE_TTL_MS;
    if (e->expires_ms == 0)
        e->expires_ms = 1; /* 0 means empty */
}

/* crypt(3) of pass with stored's method and salt equals stored.  d is a
 * zeroed work area; it is wiped again after use. */
static bool hash_ok(const char *stored, const char *pass, struct crypt_data *d)
{
    const char *got = crypt_rn(pass, stored, d, sizeof(*d));
    size_t n = strlen(stored);
    bool ok = got && strlen(got) == n && CRYPTO_memcmp(got, stored, n) == 0;
    explicit_bzero(d, sizeof(*d));
    return ok;
}

/* crypt with the cache's work area, or a temporary one. */
static bool hash_verify(struct authcache *c, const char *stored,
                        const char *pass)
{
    struct crypt_data *d = c ? c->scratch : calloc(1, sizeof(*d));
    bool ok = d && hash_ok(stored, pass, d);
    if (c)
        c->computed++;
    else
        free(d);
    return ok;
}

static bool plain_ok(const char *stored, const char *pass)
{
    unsigned char want[DIGEST], got[DIGEST];
    digest(stored, want);
    digest(pass, got);
    bool ok = CRYPTO_memcmp(want, got, DIGEST) == 0;
    explicit_bzero(got, sizeof(got));
    return ok;
}

/* The user named user, visiting every user so the time does not tell
 * where (or whether) the name is in the list. */
static const struct conf_user *find_user(const struct conf_listener *l,
                                         const char *user)
{
    const struct conf_user *found = NULL;
    for (unsigned i = 0; i < l->n_users; i++) {
        bool same = strcmp(l->users[i].name, user) == 0;
        found = same && !found ? &l->users[i] : found;
    }
    return found;
}

/* An unknown user costs what a known one would: a crypt with the first
 * hashed user's parameters, else a digest comparison. */
static void decoy(const struct conf_listener *l, struct authcache *c,
                  const char *pass)
{
    for (unsigned i = 0; i < l->n_users; i++)
        if (l->users[i].password_hash) {
            (void)hash_verify(c, l->users[i].password_hash, pass);
            return;
        }
    (void)plain_ok("", pass);
}

static bool hashed_ok(const struct conf_listener *l, const struct conf_user *u,
                      struct authcache *c, uint64_t now_ms, const char *pass)
{
    unsigned char user[DIGEST], want[DIGEST];
    uintptr_t key = (uintptr_t)l;
    bool ok;
    if (!c)
        return hash_verify(NULL, u->password_hash, pass);
    digest(u->name, user);
    proof(user, u->password_hash, pass, want);
    ok = cache_hit(c, now_ms, key, user, want);
    if (!ok && (ok = hash_verify(c, u->password_hash, pass)))
        cache_put(c, now_ms, key, user, want);
    explicit_bzero(want, sizeof(want));
    return ok;
}

bool auth_verify(const struct conf_listener *l, struct authcache *cache,
                 uint64_t now_ms, const char *user, const char *pass)
{
    const struct conf_user *u = find_user(l, user);
    if (!u) {
        decoy(l, cache, pass);
        return false;
    }
    if (u->password)
        return plain_ok(u->password, pass);
    return u->password_hash && hashed_ok(l, u, cache, now_ms, pass);
}

const char *auth_user_name(const struct conf_listener *l, const char *user)
{
    const struct conf_user *u = find_user(l, user);
    return u ? u->name : NULL;
}

bool auth_secret_ok(const char *plain, const char *hash, const char *given)
{
    if (plain)
        return plain_ok(plain, given);
    return hash && hash_verify(NULL, hash, given);
}

int auth_hash_password(const char *pass, char *out, size_t cap)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *d;
    const char *h;
    int rc = 0;
    errno = 0;
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)))
        return errno ? -errno : -EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    errno = 0;
    h = crypt_rn(pass, setting, d, sizeof(*d));
    if (!h)
        rc = errno ? -errno : -EINVAL;
    else if (strlen(h) >= cap)
        rc = -ERANGE;
    else
        memcpy(out, h, strlen(h) + 1);
    explicit_bzero(d, sizeof(*d));
    free(d);
    return rc;
}
