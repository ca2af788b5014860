/* confload: what the parts of the YAML loader share (internal to
 * src/conf/; nothing outside includes it).  conf.c loads the file and
 * converts the listeners and the rest; confrule.c converts egresses:
 * and rules:, conftun.c gateway: and agent:.  All place an error the
 * same way: "NAME:LINE:COL: reason" at the node of a yamlpos path. */
#ifndef FERRY_CONFLOAD_H
#define FERRY_CONFLOAD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/yamlpos.h"
#include "core/addr.h"

#define CONFLOAD_SECRET_MAX 255 /* SOCKS5 fields are one byte long */
#define CONFLOAD_ID_MAX 64 /* a tunnel id or group */
#define CONFLOAD_ID_CHARS                                                  \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* What a YAML load is checking, for placing its errors. */
struct confload {
    const char *name;          /* the file, as errors name it */
    const struct yamlpos *pos; /* the index of the text, or NULL */
    char *err;                 /* the caller's buffer, or NULL */
    size_t errlen;
};

/* Format one line into err (errlen bytes; control characters become
 * '?': values echoed from the file may hold any byte). */
void confload_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set ld->err to "NAME:LINE:COL: reason" at the node at path (at the
 * entry key of the mapping at path when key is given; at the nearest
 * ancestor when the node was left out), reason being fmt with ap, and
 * return -EINVAL. */
int confload_vfail(const struct confload *ld, const char *path,
                   const char *key, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* The same with the reason's arguments inline. */
int confload_fail(const struct confload *ld, const char *path,
                  const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* No control characters. */
bool confload_printable(const char *s);
/* A user name: non-empty, printable, no ':' (HTTP Basic splits there). */
bool confload_user_ok(const char *s);
/* A tunnel id or group: 1 to CONFLOAD_ID_MAX of [A-Za-z0-9._-]. */
bool confload_id_ok(const char *s);
/* A token or password: 1 to CONFLOAD_SECRET_MAX printable bytes. */
bool confload_secret_ok(const char *s);
/* Wipe and free a secret string; NULL is a no-op. */
void confload_free_secret(char *s);

/* A listen address: "IP:PORT", "[IPv6]:PORT" or ":PORT" (loopback).
 * NULL on success, or what is wrong. */
const char *confload_parse_listen(const char *s, struct addr *a);
/* Why h is not a crypt(3) hash that auth can verify, or NULL. */
const char *confload_hash_check(const char *h);
/* A flag at path (s NULL: keep *out): true, yes, on, false, no or off,
 * in any case.  0 or -EINVAL with ld's error set.  (libcyaml's own bool
 * takes any other text, even an empty value, for true.) */
int confload_bool(const struct confload *ld, const char *path,
                  const char *s, bool *out);
/* The duration s (NULL: keep *ms) at path into *ms; 0 or -EINVAL with
 * ld's error set. */
int confload_duration(const struct confload *ld, const char *path,
                      const char *s, uint32_t *ms);

#endif
