/* listenurl: the command-line form of a listener (-L), split here and
 * checked in conf_add_listener_url. */
#include "conf/listenurl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void free_secret(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

/* Percent-decode s[0..n) into *out (gives a string).  -EINVAL on a bad
 * escape or an escaped NUL, which would cut the string short. */
static int pct_decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1), *p = d;
    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int hi = 0, lo = 0;
        if (s[i] != '%') {
            *p++ = s[i];
            continue;
        }
        if (i + 2 < n) {
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
        }
        if (i + 2 >= n || hi < 0 || lo < 0 || hi + lo == 0) {
            explicit_bzero(d, n + 1); /* not terminated yet */
            free(d);
            return -EINVAL;
        }
        *p++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *p = '\0';
    *out = d;
    return 0;
}

static int split_userinfo(struct listenurl *u, const char *s, size_t n,
                          const char **why)
{
    const char *colon = memchr(s, ':', n);
    int rc;
    if (!colon) {
        *why = "give user:password@, not only a user";
        return -EINVAL;
    }
    rc = pct_decode(s, (size_t)(colon - s), &u->user);
    if (rc == 0)
        rc = pct_decode(colon + 1, n - (size_t)(colon + 1 - s), &u->pass);
    if (rc == -EINVAL)
        *why = "bad %-escape in the user or password";
    return rc;
}

int listenurl_parse(struct listenurl *u, const char *url, const char **why)
{
    const char *sep = strstr(url, "://"), *rest, *end, *at, *hp, *slash;
    memset(u, 0, sizeof(*u));
    if (!sep || (size_t)(sep - url) >= sizeof(u->scheme)) {
        *why = "no scheme (e.g. mixed://127.0.0.1:7890)";
        return -EINVAL;
    }
    memcpy(u->scheme, url, (size_t)(sep - url));
    rest = sep + 3;
    end = rest + strlen(rest);
    if (end > rest && end[-1] == '/')
        end--; /* "http://127.0.0.1:3128/" is still a plain address */
    at = memrchr(rest, '@', (size_t)(end - rest)); /* pass may hold '@' */
    hp = at ? at + 1 : rest;
    slash = memchr(hp, '/', (size_t)(end - hp));
    if (slash) {
        if ((size_t)(end - slash - 1) >= sizeof(u->path)) {
            *why = "the path is too long";
            return -EINVAL;
        }
        memcpy(u->path, slash + 1, (size_t)(end - slash - 1));
        end = slash;
    }
    if ((size_t)(end - hp) >= sizeof(u->hostport)) {
        *why = "the address is too long";
        return -EINVAL;
    }
    memcpy(u->hostport, hp, (size_t)(end - hp));
    snprintf(u->shown, sizeof(u->shown), "%s://%s%s%s%s", u->scheme,
             at ? "***@" : "", u->hostport, u->path[0] ? "/" : "",
             u->path);
    if (u->hostport[strcspn(u->hostport, "?#")] != '\0' ||
        u->path[strcspn(u->path, "/?#")] != '\0') {
        *why = "only scheme://[user:pass@]host:port is allowed";
        return -EINVAL;
    }
    return at ? split_userinfo(u, rest, (size_t)(at - rest), why) : 0;
}

void listenurl_fini(struct listenurl *u)
{
    free(u->user);
    free_secret(u->pass);
    u->user = u->pass = NULL;
}
