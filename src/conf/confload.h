/* confload: what the two halves of the YAML loader share (internal to
 * src/conf/; nothing outside includes it).  conf.c loads the file and
 * converts the listeners and the rest; confrule.c converts egresses:
 * and rules:.  Both place an error the same way: "NAME:LINE:COL: reason"
 * at the node of a yamlpos path. */
#ifndef FERRY_CONFLOAD_H
#define FERRY_CONFLOAD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf/yamlpos.h"

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
/* Wipe and free a secret string; NULL is a no-op. */
void confload_free_secret(char *s);

#endif
