/* auth: see auth.h. */
#include "policy/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

bool auth_required(const struct conf_listener *l) { return l->n_users > 0; }

static void digest(const char *s, unsigned char out[SHA256_DIGEST_LENGTH])
{
    SHA256((const unsigned char *)s, strlen(s), out);
}

bool auth_check(const struct conf_listener *l, const char *user,
                const char *pass)
{
    unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
    bool ok = false;
    digest(pass, got);
    /* Visit every user so the time does not tell which names exist. */
    for (unsigned i = 0; i < l->n_users; i++) {
        digest(l->users[i].password, want);
        bool pass_ok = CRYPTO_memcmp(want, got, sizeof(got)) == 0;
        ok |= pass_ok && strcmp(l->users[i].name, user) == 0;
    }
    return ok;
}
