/* confload: placing load errors, and the small checks both halves of the
 * loader use (see confload.h). */
#include "conf/confload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* err is one line: values echoed from the file may hold any byte. */
void confload_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int confload_vfail(const struct confload *ld, const char *path,
                   const char *key, const char *fmt, va_list ap)
{
    struct yamlpos_node nd = {0};
    char why[512];
    vsnprintf(why, sizeof(why), fmt, ap);
    if (ld->pos)
        yamlpos_find(ld->pos, path, key, &nd);
    if (key && nd.key_at.line)
        nd.at = nd.key_at;
    if (nd.at.line)
        confload_err(ld->err, ld->errlen, "%s:%lu:%lu: %s", ld->name,
                     nd.at.line, nd.at.col, why);
    else
        confload_err(ld->err, ld->errlen, "%s: %s", ld->name, why);
    return -EINVAL;
}

bool confload_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

bool confload_user_ok(const char *s)
{
    return s[0] != '\0' && !strchr(s, ':') && confload_printable(s);
}

void confload_free_secret(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

int confload_fail(const struct confload *ld, const char *path,
                  const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = confload_vfail(ld, path, key, fmt, ap);
    va_end(ap);
    return rc;
}
