/* test_auth: policy/auth.c - plain passwords, crypt(3) hashes made here
 * with libcrypt ($y$ yescrypt, $6$ SHA-512), the per-worker cache (hit,
 * miss, expiry, eviction, a changed hash) and auth_hash_password. */
#include <crypt.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/auth.h"

#define T0 1000000u /* any monotonic start */

/* A hash of pass with a fresh salt for the method prefix ("$y$"). */
static void make_hash(const char *prefix, const char *pass, char *out,
                      size_t cap)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    assert_non_null(
        crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting)));
    const char *h = crypt_rn(pass, setting, d, sizeof(*d));
    assert_non_null(h);
    assert_memory_equal(h, prefix, strlen(prefix));
    assert_true(strlen(h) < cap);
    strcpy(out, h);
    free(d);
}

struct fixture {
    char yhash[AUTH_HASH_MAX], shash[AUTH_HASH_MAX];
    char n_alice[8], n_bob[8], n_carol[8], p_alice[16];
    struct conf_user users[3];
    struct conf_listener l;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    make_hash("$y$", "bob pw", f->yhash, sizeof(f->yhash));
    make_hash("$6$", "carol pw", f->shash, sizeof(f->shash));
    strcpy(f->n_alice, "alice");
    strcpy(f->n_bob, "bob");
    strcpy(f->n_carol, "carol");
    strcpy(f->p_alice, "alice pw");
    f->users[0] = (struct conf_user){f->n_alice, f->p_alice, NULL};
    f->users[1] = (struct conf_user){f->n_bob, NULL, f->yhash};
    f->users[2] = (struct conf_user){f->n_carol, NULL, f->shash};
    f->l.users = f->users;
    f->l.n_users = 3;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

struct check {
    const char *user, *pass;
    bool ok;
};

static const struct check checks[] = {
    {"alice", "alice pw", true},
    {"alice", "alice pw ", false},
    {"alice", "alice p", false},
    {"alice", "", false},
    {"alice", "bob pw", false},
    {"Alice", "alice pw", false}, /* names are case-sensitive */
    {"bob", "bob pw", true},      /* yescrypt */
    {"bob", "bob pW", false},
    {"bob", "", false},
    {"bob", "alice pw", false},
    {"carol", "carol pw", true}, /* SHA-512 */
    {"carol", "carol pw\n", false},
    {"carol", "bob pw", false},
    {"dave", "bob pw", false}, /* unknown */
    {"", "alice pw", false},
    {"bo", "bob pw", false},
    {"bobb", "bob pw", false},
};

/* Every case, with and without a cache, and through the old form. */
static void test_checks(void **state)
{
    struct fixture *f = *state;
    struct authcache *cache;
    int missed = 0;
    assert_int_equal(authcache_new(&cache, 16), 0);
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        const struct check *c = &checks[i];
        bool a = auth_verify(&f->l, NULL, T0, c->user, c->pass);
        bool b = auth_verify(&f->l, cache, T0, c->user, c->pass);
        bool d = auth_verify(&f->l, cache, T0 + 1, c->user, c->pass);
        bool e = auth_verify(&f->l, NULL, 0, c->user, c->pass);
        if (a == c->ok && b == c->ok && d == c->ok && e == c->ok)
            continue;
        print_error("case %zu (%s): %d %d %d %d\n", i, c->user, a, b, d, e);
        missed++;
    }
    authcache_free(cache);
    assert_int_equal(missed, 0);
}

static void assert_counts(const struct authcache *c, uint64_t hits,
                          uint64_t computed)
{
    uint64_t h, n;
    authcache_counts(c, &h, &n);
    assert_int_equal(h, hits);
    assert_int_equal(n, computed);
}

/* A verified hash is served from the cache until it expires. */
static void test_cache_hit_and_expiry(void **state)
{
    struct fixture *f = *state;
    struct authcache *c;
    assert_int_equal(authcache_new(&c, 64), 0);
    assert_counts(c, 0, 0);
    assert_true(auth_verify(&f->l, c, T0, "bob", "bob pw"));
    assert_counts(c, 0, 1);
    assert_true(auth_verify(&f->l, c, T0 + 1000, "bob", "bob pw"));
    assert_counts(c, 1, 1);
    /* a wrong password is computed, and keeps the good entry */
    assert_false(auth_verify(&f->l, c, T0 + 2000, "bob", "bob pw2"));
    assert_counts(c, 1, 2);
    assert_true(auth_verify(&f->l, c, T0 + AUTHCACHE_TTL_MS - 1, "bob",
                            "bob pw"));
    assert_counts(c, 2, 2);
    /* expired: computed again, and cached from then on */
    assert_true(auth_verify(&f->l, c, T0 + AUTHCACHE_TTL_MS, "bob",
                            "bob pw"));
    assert_counts(c, 2, 3);
    assert_true(auth_verify(&f->l, c, T0 + 2 * AUTHCACHE_TTL_MS - 1, "bob",
                            "bob pw"));
    assert_counts(c, 3, 3);
    /* plain passwords never touch the cache */
    assert_true(auth_verify(&f->l, c, T0, "alice", "alice pw"));
    assert_false(auth_verify(&f->l, c, T0, "alice", "x"));
    assert_counts(c, 3, 3);
    /* an unknown user costs a hash too, and is never a hit */
    assert_false(auth_verify(&f->l, c, T0, "dave", "bob pw"));
    assert_counts(c, 3, 4);
    authcache_free(c);
}

/* The key is listener + user: another listener, same user, misses. */
static void test_cache_key(void **state)
{
    struct fixture *f = *state;
    struct conf_listener other = f->l;
    struct authcache *c;
    assert_int_equal(authcache_new(&c, 64), 0);
    assert_true(auth_verify(&f->l, c, T0, "bob", "bob pw"));
    assert_true(auth_verify(&other, c, T0, "bob", "bob pw"));
    assert_counts(c, 0, 2);
    assert_true(auth_verify(&f->l, c, T0, "bob", "bob pw"));
    assert_true(auth_verify(&other, c, T0, "bob", "bob pw"));
    assert_true(auth_verify(&f->l, c, T0, "carol", "carol pw"));
    assert_true(auth_verify(&f->l, c, T0, "carol", "carol pw"));
    assert_counts(c, 3, 3);
    authcache_free(c);
}

/* Regression: after a reload gives the same user (even at the same
 * listener address) a new hash, the old password must not pass from
 * the cache. */
static void test_cache_changed_hash(void **state)
{
    struct fixture *f = *state;
    char newhash[AUTH_HASH_MAX];
    struct authcache *c;
    assert_int_equal(authcache_new(&c, 64), 0);
    assert_true(auth_verify(&f->l, c, T0, "bob", "bob pw"));
    make_hash("$y$", "new pw", newhash, sizeof(newhash));
    f->users[1].password_hash = newhash;
    assert_false(auth_verify(&f->l, c, T0 + 1, "bob", "bob pw"));
    assert_true(auth_verify(&f->l, c, T0 + 2, "bob", "new pw"));
    assert_true(auth_verify(&f->l, c, T0 + 3, "bob", "new pw"));
    assert_counts(c, 1, 3);
    f->users[1].password_hash = f->yhash;
    authcache_free(c);
}

/* A one-entry cache holds the last success only. */
static void test_cache_eviction(void **state)
{
    struct fixture *f = *state;
    struct authcache *c;
    assert_int_equal(authcache_new(&c, 1), 0);
    assert_true(auth_verify(&f->l, c, T0, "bob", "bob pw"));
    assert_true(auth_verify(&f->l, c, T0, "bob", "bob pw"));
    assert_true(auth_verify(&f->l, c, T0, "carol", "carol pw"));
    assert_true(auth_verify(&f->l, c, T0, "bob", "bob pw"));
    assert_counts(c, 1, 3);
    authcache_free(c);
}

static void test_cache_new(void **state)
{
    (void)state;
    struct authcache *c = (struct authcache *)1;
    assert_int_equal(authcache_new(&c, 0), -EINVAL);
    assert_null(c);
    assert_int_equal(authcache_new(&c, AUTHCACHE_SIZE_MAX + 1), -EINVAL);
    assert_null(c);
    assert_int_equal(authcache_new(&c, AUTHCACHE_SIZE_MAX), 0);
    assert_non_null(c);
    authcache_free(c);
    authcache_free(NULL);
}

static void test_required(void **state)
{
    struct fixture *f = *state;
    struct conf_listener none = {0};
    assert_true(auth_required(&f->l));
    assert_false(auth_required(&none));
    assert_false(auth_verify(&none, NULL, T0, "", ""));
    assert_false(auth_verify(&none, NULL, T0, "alice", "alice pw"));
}

/* auth_hash_password's hash verifies, with a new salt each time. */
static void test_hash_password(void **state)
{
    (void)state;
    char h1[AUTH_HASH_MAX], h2[AUTH_HASH_MAX], small[20];
    char name[] = "eve", pass[] = "s3cret: \xe2\x82\xac";
    struct conf_user u = {name, NULL, h1};
    struct conf_listener l = {.users = &u, .n_users = 1};
    assert_int_equal(auth_hash_password(pass, h1, sizeof(h1)), 0);
    assert_int_equal(auth_hash_password(pass, h2, sizeof(h2)), 0);
    assert_memory_equal(h1, "$y$", 3);
    assert_int_not_equal(strcmp(h1, h2), 0);
    assert_null(strstr(h1, "s3cret"));
    assert_true(auth_verify(&l, NULL, T0, "eve", pass));
    assert_false(auth_verify(&l, NULL, T0, "eve", "s3cret: "));
    u.password_hash = h2;
    assert_true(auth_verify(&l, NULL, T0, "eve", pass));
    memset(small, 'x', sizeof(small));
    assert_int_equal(auth_hash_password(pass, small, sizeof(small)),
                     -ERANGE);
    assert_int_equal(small[0], 'x'); /* nothing half-written */
    assert_int_equal(auth_hash_password(pass, h1, strlen(h2)), -ERANGE);
    assert_int_equal(auth_hash_password(pass, h1, strlen(h2) + 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit_and_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_changed_hash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_eviction, setup,
                                        teardown),
        cmocka_unit_test(test_cache_new),
        cmocka_unit_test_setup_teardown(test_required, setup, teardown),
        cmocka_unit_test(test_hash_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
