/* listenurl: splits a listener URL given on the command line,
 *
 *   scheme://[user:pass@]host:port[/[path]]
 *
 * (a forward listener's path is its target: forward://L:P/HOST:PORT)
 * and percent-decodes user and pass.  It knows neither the schemes nor
 * the address forms: conf.c checks those, as it does for YAML. */
#ifndef FERRY_LISTENURL_H
#define FERRY_LISTENURL_H

#include "core/addr.h"

struct listenurl {
    char scheme[16];
    char hostport[TARGET_HOST_MAX + 16];
    char path[TARGET_HOST_MAX + 16]; /* after "host:port/"; "" if none */
    char *user; /* owned, decoded; NULL when the URL has no user info */
    char *pass; /* owned, decoded; wiped on fini */
    /* The URL with "***" for the user info: safe to print.  Empty when
     * not even the scheme could be found. */
    char shown[2 * TARGET_HOST_MAX + 64];
};

/* Split url into *u.  0; -ENOMEM; -EINVAL with *why saying what is
 * wrong (never the password).  Call listenurl_fini in every case. */
int listenurl_parse(struct listenurl *u, const char *url, const char **why);
void listenurl_fini(struct listenurl *u);

#endif
